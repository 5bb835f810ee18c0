/* test_stream: standard stream lines as log records, without LD_PRELOAD:
 * bytes handed to stream_write in arbitrary pieces come out as one record
 * per line (console exporter to a memfd), with log.iostream, the trace
 * context, CR LF, empty lines skipped, long lines in pieces cut between
 * characters, bytes that are not UTF-8 replaced, the value length limit, a
 * partial line at thread exit and at flush, streams not asked for ignored,
 * an empty pool (lines dropped, counted, the rest of the line skipped),
 * lines around the size a short line's record holds, and the rate limit.
 * Each scenario runs in a forked child (telemetry_init once per process).
 * Depends on core/stream.h, core/telemetry.h and test.h. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/diag.h"
#include "core/ids.h"
#include "core/stream.h"
#include "core/telemetry.h"
#include "tests/unit/test.h"

static int console_fd = -1;
static char *text;

/* Flushes the logs and returns what the console exporter wrote. */
static const char *console_text(void) {
    CHECK_EQ_INT(processor_force_flush(5000), 0);
    static char buf[1 << 20];
    ssize_t n = pread(console_fd, buf, sizeof buf - 1, 0);
    buf[n > 0 ? n : 0] = '\0';
    text = buf;
    return buf;
}

static int count(const char *hay, const char *needle) {
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* The shim's state for one scenario: console logs into a memfd, the
 * streams captured, and up to two more variables (NULL for none). */
static void init2(const char *streams, const char *extra, const char *extra2) {
    char streams_env[128];
    snprintf(streams_env, sizeof streams_env, "OTEL_PRELOAD_LOGS_STREAMS=%s", streams);
    char *envp[] = {"OTEL_TRACES_EXPORTER=none",
                    "OTEL_LOGS_EXPORTER=console",
                    streams_env,
                    (char *)extra,
                    extra ? (char *)extra2 : NULL,
                    NULL};
    processor_autostart = false;
    console_fd = memfd_create("console", MFD_CLOEXEC);
    diag_fd = console_fd;
    if (telemetry_init(envp, "unit") < 0) abort();
}

static void init(const char *streams, const char *extra) {
    init2(streams, extra, NULL);
}

static void put(int fd, const char *s) {
    stream_write(fd, s, strlen(s));
}

static void scenario_lines(void) {
    init("stdout,stderr", NULL);
    CHECK_EQ_INT(stream_capture, (1u << 1) | (1u << 2));
    put(1, "hel");
    put(1, "lo\nwor");
    put(2, "to stderr\r\n");
    put(1, "ld\n\n\r\n");
    put(3, "not a stream\n");
    put(1, "a\nb\nc");
    const char *t = console_text();
    CHECK(strstr(t, "\"body\":\"hello\",\"attributes\":{\"log.iostream\":\"stdout\"}") != NULL);
    CHECK(strstr(t, "\"body\":\"world\",\"attributes\":{\"log.iostream\":\"stdout\"}") != NULL);
    CHECK(strstr(t, "\"body\":\"to stderr\",\"attributes\":{\"log.iostream\":\"stderr\"}") != NULL);
    CHECK(strstr(t, "\"body\":\"a\"") != NULL);
    CHECK(strstr(t, "\"body\":\"b\"") != NULL);
    CHECK(strstr(t, "\"body\":\"c\"") == NULL); /* not ended yet */
    CHECK(strstr(t, "not a stream") == NULL);
    CHECK_EQ_INT(count(t, "\n"), 5);         /* empty lines make no record */
    CHECK(strstr(t, "\"traceId\"") == NULL); /* no span: no context */
    CHECK(strstr(t, "\"severityNumber\"") == NULL);
    stream_flush_thread();
    t = console_text();
    CHECK(strstr(t, "\"body\":\"c\"") != NULL);
}

/* The trace context of the thread, and lines of other threads. */
static void *thread_main(void *arg) {
    (void)arg;
    put(1, "from a thread\npartial at exit");
    return NULL;
}

static void scenario_context_and_threads(void) {
    init("stdout", NULL);
    CHECK_EQ_INT(stream_capture, 1u << 1);
    struct span *root =
        telemetry_span_start(str_cstr("root"), NULL, str_of("", 0), clock_now_ns(), 0);
    REQUIRE(root);
    telemetry_set_root_span(root);
    char tid[33], sid[17];
    hex_encode(root->ctx.trace_id, 16, tid);
    hex_encode(root->ctx.span_id, 8, sid);
    tid[32] = sid[16] = '\0';
    put(2, "stderr not asked for\n");
    put(1, "main line\n");
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, thread_main, NULL) == 0);
    pthread_join(t, NULL);
    const char *out = console_text();
    char want[128];
    snprintf(want, sizeof want, "\"traceId\":\"%s\",\"spanId\":\"%s\",\"flags\":1", tid, sid);
    CHECK_EQ_INT(count(out, want), 3);
    CHECK(strstr(out, "\"body\":\"from a thread\"") != NULL);
    CHECK(strstr(out, "\"body\":\"partial at exit\"") != NULL);
    CHECK(strstr(out, "stderr not asked for") == NULL);
    telemetry_set_root_span(NULL);
    telemetry_span_end(root, clock_now_ns());
}

/* Long lines go in pieces of STREAM_LINE_MAX bytes, never splitting a
 * character; bytes that are not UTF-8 become U+FFFD; the value length
 * limit cuts the body. */
static void scenario_long_and_bad_bytes(void) {
    init("stdout", NULL);
    size_t n = STREAM_LINE_MAX + 100;
    char *line = malloc(n + 1);
    REQUIRE(line);
    memset(line, 'a', n);
    /* A 3-byte character across the STREAM_LINE_MAX boundary. */
    memcpy(line + STREAM_LINE_MAX - 1, "\xe2\x82\xac", 3);
    line[n] = '\n';
    for (size_t i = 0; i <= n; i += 1000) /* in pieces */
        stream_write(1, line + i, n + 1 - i < 1000 ? n + 1 - i : 1000);
    put(1, "bad \xff\xfe bytes\n");
    const char *t = console_text();
    /* The first piece stops before the euro sign; the second starts with it. */
    CHECK(strstr(t, "aaa\",\"attributes\"") != NULL);
    CHECK(strstr(t, "\"body\":\"\xe2\x82\xac"
                    "aaa") != NULL);
    CHECK(strstr(t, "\"body\":\"bad \xef\xbf\xbd\xef\xbf\xbd bytes\"") != NULL);
    free(line);
}

static void scenario_value_length_limit(void) {
    init("stdout", "OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT=4");
    put(1, "abcdefgh\nx\xc3\xa9yz\n");
    const char *t = console_text();
    CHECK(strstr(t, "\"body\":\"abcd\"") != NULL);
    CHECK(strstr(t, "\"body\":\"x\xc3\xa9y\"") != NULL);
}

/* An empty pool: the line is dropped and counted, and its rest skipped,
 * never half a line. Two slots of each size: two short lines' records in
 * the record pool, then two in the line pool (their own line slots). */
static void scenario_pool_empty(void) {
    init("none", "OTEL_LOG_LEVEL=info");
    diag_set_sink(NULL);
    CHECK_EQ_INT(stream_capture, 0);
    put(1, "off\n");
    REQUIRE(stream_init(1u << 1, 2, 0) == 0);
    put(1, "one\ntwo\nthree\nfour\nfi");
    put(1, "ve\nsix\n"); /* every slot is queued: five and six are lost */
    const char *t = console_text();
    CHECK(strstr(t, "\"body\":\"one\"") != NULL);
    CHECK(strstr(t, "\"body\":\"two\"") != NULL);
    CHECK(strstr(t, "\"body\":\"three\"") != NULL);
    CHECK(strstr(t, "\"body\":\"four\"") != NULL);
    CHECK(strstr(t, "\"body\":\"ve\"") == NULL);
    CHECK(strstr(t, "\"body\":\"fi") == NULL);
    CHECK(strstr(t, "\"body\":\"six\"") == NULL);
    CHECK(strstr(t, "\"body\":\"off\"") == NULL);
    put(1, "seven\n"); /* exported slots came back */
    t = console_text();
    CHECK(strstr(t, "\"body\":\"seven\"") != NULL);
    telemetry_shutdown(false);
    t = console_text();
    CHECK(strstr(t, "logs: dropped 2 (no memory)") != NULL);
}

/* Lines around the size a record slot holds (STREAM_RECORD_LINE_MAX): each
 * whole, in one write or split across writes, with CR LF, and a short line
 * of bytes that are not UTF-8 whose replacements outgrow it. */
static void scenario_record_sizes(void) {
    init("stdout", NULL);
    size_t sizes[] = {1, STREAM_RECORD_LINE_MAX - 1, STREAM_RECORD_LINE_MAX,
                      STREAM_RECORD_LINE_MAX + 1, 2 * STREAM_RECORD_LINE_MAX};
    size_t n = sizeof sizes / sizeof *sizes;
    char *line = malloc(2 * STREAM_RECORD_LINE_MAX + 3);
    REQUIRE(line);
    for (size_t i = 0; i < n; i++) {
        memset(line, 'a' + (int)i, sizes[i]);
        const char *eol = i % 2 ? "\r\n" : "\n";
        memcpy(line + sizes[i], eol, strlen(eol) + 1);
        size_t len = strlen(line);
        stream_write(1, line, len / 3); /* split across three writes */
        stream_write(1, line + len / 3, len / 3);
        stream_write(1, line + 2 * (len / 3), len - 2 * (len / 3));
        stream_write(1, line, len); /* and whole */
    }
    memset(line, 0xff, STREAM_RECORD_LINE_MAX);
    line[STREAM_RECORD_LINE_MAX] = '\n';
    stream_write(1, line, STREAM_RECORD_LINE_MAX + 1);
    const char *t = console_text();
    CHECK_EQ_INT(count(t, "\"body\":"), 2 * (int)n + 1);
    static const char tail[] = "\",\"attributes\":{\"log.iostream\":\"stdout\"}";
    char *want = malloc(3 * STREAM_RECORD_LINE_MAX + 16 + sizeof tail);
    REQUIRE(want);
    for (size_t i = 0; i < n; i++) {
        int k = snprintf(want, 16, "\"body\":\"");
        memset(want + k, 'a' + (int)i, sizes[i]);
        memcpy(want + k + sizes[i], tail, sizeof tail);
        CHECK_EQ_INT(count(t, want), 2);
    }
    int k = snprintf(want, 16, "\"body\":\"");
    for (size_t i = 0; i < STREAM_RECORD_LINE_MAX; i++, k += 3)
        memcpy(want + k, "\xef\xbf\xbd", 3);
    memcpy(want + k, tail, sizeof tail);
    CHECK_EQ_INT(count(t, want), 1);
    free(want);
    free(line);
}

/* OTEL_PRELOAD_LOGS_STREAMS_RATE: lines past it within a second are
 * dropped, counted as a full queue's, whole lines, and never made. */
static void scenario_rate(void) {
    init2("stdout", "OTEL_PRELOAD_LOGS_STREAMS_RATE=3", "OTEL_LOG_LEVEL=info");
    diag_set_sink(NULL);
    put(1, "one\ntwo\nthree\nfour\nfi");
    put(1, "ve\nsix\n");
    const char *t = console_text();
    CHECK_EQ_INT(count(t, "\"body\":"), 3);
    CHECK(strstr(t, "\"body\":\"three\"") != NULL);
    CHECK(strstr(t, "\"body\":\"four\"") == NULL);
    CHECK(strstr(t, "\"body\":\"ve\"") == NULL);
    telemetry_shutdown(false);
    t = console_text();
    CHECK(strstr(t, "logs: exported 3, dropped 3 (queue full)") != NULL);
}

static void run_child(const char *name, void (*fn)(void)) {
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        TEST_FAIL_("fork for %s: %s", name, strerror(errno));
        return;
    }
    if (pid == 0) {
        test_current = name;
        test_failures = test_checks = 0;
        fn();
        exit(test_failures ? 1 : 0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    test_checks++;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        TEST_FAIL_("%s failed (wait status %#x)", name, status);
}

/* Lines past the rate are counted without being made: every newline of
 * buffers of every length around the counting's 16- and 64-byte blocks
 * (and one past a lane's 255), at every alignment, counted once. */
static void scenario_count_skipped(void) {
    init2("stdout", "OTEL_PRELOAD_LOGS_STREAMS_RATE=1", "OTEL_LOG_LEVEL=info");
    diag_set_sink(NULL);
    put(1, "made\n");
    enum { MAX = 100003 };
    char *buf = malloc(MAX + 64);
    REQUIRE(buf);
    size_t lens[] = {1,    15,   16,   17,   63,    64,  65,   127,
                     1024, 4031, 4032, 4033, 16400, MAX, 8000, 4100};
    unsigned seed = 1;
    long want = 0;
    for (size_t i = 0; i < sizeof lens / sizeof *lens; i++)
        for (size_t off = 0; off < 3; off++) {
            char *b = buf + off * 7;
            for (size_t k = 0; k < lens[i]; k++) {
                seed = seed * 1103515245u + 12345u;
                /* runs of newlines (more than a lane holds) and sparse ones */
                b[k] = (i % 3 == 0 && k < 5000) || (seed >> 16) % 5 == 0 ? '\n' : 'x';
            }
            b[lens[i] - 1] = '\n';
            for (size_t k = 0; k < lens[i]; k++)
                want += b[k] == '\n';
            stream_write(1, b, lens[i]);
        }
    free(buf);
    const char *t = console_text();
    CHECK_EQ_INT(count(t, "\"body\":"), 1);
    telemetry_shutdown(false);
    t = console_text();
    char line[96];
    snprintf(line, sizeof line, "logs: exported 1, dropped %ld (queue full)", want);
    CHECK(strstr(t, line) != NULL);
}

int main(void) {
    run_child("lines", scenario_lines);
    run_child("context_and_threads", scenario_context_and_threads);
    run_child("long_and_bad_bytes", scenario_long_and_bad_bytes);
    run_child("value_length_limit", scenario_value_length_limit);
    run_child("pool_empty", scenario_pool_empty);
    run_child("record_sizes", scenario_record_sizes);
    run_child("rate", scenario_rate);
    run_child("count_skipped", scenario_count_skipped);
    return test_report("stream");
}
