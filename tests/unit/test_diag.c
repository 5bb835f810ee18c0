/* test_diag: self-diagnostics: silent by default, one line per message on
 * diag_fd with the "otel-preload: <level>: " prefix, levels filter, long
 * lines are cut, errno is preserved, a sink captures instead. Depends on
 * core/diag.h and test.h. */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "core/diag.h"
#include "tests/unit/test.h"

static int pipe_fds[2];

/* Everything written to the pipe so far (non-blocking read). */
static size_t drain(char *out, size_t cap) {
    size_t len = 0;
    for (;;) {
        ssize_t n = read(pipe_fds[0], out + len, cap - 1 - len);
        if (n <= 0) break;
        len += (size_t)n;
    }
    out[len] = '\0';
    return len;
}

static void test_silent_by_default(void) {
    char got[4096];
    diag_set_level(DIAG_NONE);
    diag_error("nobody hears this");
    CHECK_EQ_INT(drain(got, sizeof got), 0);
}

static void test_levels(void) {
    char got[4096];
    diag_set_level(DIAG_WARN);
    CHECK_EQ_INT(diag_get_level(), DIAG_WARN);
    diag_error("e %d", 1);
    diag_warn("w %s", "two");
    diag_info("i");
    diag_debug("d");
    drain(got, sizeof got);
    CHECK_STR(got, "otel-preload: error: e 1\notel-preload: warn: w two\n");
    diag_set_level(DIAG_DEBUG);
    diag_debug("d");
    drain(got, sizeof got);
    CHECK_STR(got, "otel-preload: debug: d\n");
}

static void test_long_line_cut(void) {
    char big[3000], got[4096];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    diag_set_level(DIAG_WARN);
    diag_warn("%s", big);
    size_t n = drain(got, sizeof got);
    CHECK(n > 900 && n <= 1024);
    CHECK_EQ_INT(got[n - 1], '\n');
    CHECK(!strncmp(got, "otel-preload: warn: xxx", 23));
    CHECK(memchr(got, '\n', n) == got + n - 1); /* one line */
}

static void test_errno_preserved(void) {
    char got[256];
    diag_set_level(DIAG_WARN);
    errno = EPIPE;
    diag_warn("x");
    CHECK_EQ_INT(errno, EPIPE);
    drain(got, sizeof got);
}

static int sink_calls;
static char sink_line[2048];
static enum diag_level sink_level;
static void sink(enum diag_level level, const char *line) {
    sink_calls++;
    sink_level = level;
    snprintf(sink_line, sizeof sink_line, "%s", line);
}

static void test_sink(void) {
    char got[256];
    diag_set_level(DIAG_NONE);
    diag_set_sink(sink);
    diag_debug("captured %d", 7); /* a sink sees every level */
    CHECK_EQ_INT(sink_calls, 1);
    CHECK_EQ_INT(sink_level, DIAG_DEBUG);
    CHECK_STR(sink_line, "otel-preload: debug: captured 7");
    CHECK_EQ_INT(drain(got, sizeof got), 0);
    diag_set_sink(NULL);
}

static void test_keep_stderr(void) {
    int saved = diag_fd;
    diag_fd = STDERR_FILENO;
    diag_keep_stderr();
    CHECK(diag_fd >= 900);
    CHECK(fcntl(diag_fd, F_GETFD) & FD_CLOEXEC);
    int kept = diag_fd;
    diag_keep_stderr(); /* once only */
    CHECK_EQ_INT(diag_fd, kept);
    close(kept);
    diag_fd = saved;
}

int main(void) {
    if (pipe2(pipe_fds, O_NONBLOCK | O_CLOEXEC) < 0) return 2;
    diag_fd = pipe_fds[1];
    RUN(test_silent_by_default);
    RUN(test_levels);
    RUN(test_long_line_cut);
    RUN(test_errno_preserved);
    RUN(test_sink);
    RUN(test_keep_stderr);
    return test_report("diag");
}
