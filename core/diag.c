/* diag: self-diagnostics on stderr, only when asked for. See diag.h. */
#include "core/cold.h"
#include "core/diag.h"
#include "core/fds.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

static enum diag_level current_level = DIAG_NONE;
int diag_fd = STDERR_FILENO;

void diag_keep_stderr(void) {
    if (diag_fd != STDERR_FILENO) return;
    /* High, so it does not take a number the program expects to get. */
    int base = fds_base();
    int fd = base < 0 ? -1 : fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, base);
    diag_fd = fd >= 0 ? fd : -1;
    fd_hold(&diag_fd);
}
static void (*current_sink)(enum diag_level, const char *);

OTELP_FIRST void diag_set_level(enum diag_level level) {
    current_level = level;
}
OTELP_FIRST enum diag_level diag_get_level(void) {
    return current_level;
}
void diag_set_sink(void (*sink)(enum diag_level, const char *)) {
    current_sink = sink;
}

static const char *const level_names[] = {"none", "error", "warn", "info", "debug"};

bool diag_enabled(enum diag_level level) {
    return level <= current_level || current_sink;
}

void diag_log(enum diag_level level, const char *fmt, ...) {
    if (!diag_enabled(level)) return;
    int saved_errno = errno;
    char line[1024];
    int head = snprintf(line, sizeof line, "otel-preload: %s: ", level_names[level]);
    va_list ap;
    va_start(ap, fmt);
    int body = vsnprintf(line + head, sizeof line - (size_t)head - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)head + (body < 0 ? 0 : (size_t)body);
    if (len > sizeof line - 2) len = sizeof line - 2;
    if (current_sink) {
        line[len] = '\0';
        current_sink(level, line);
    } else {
        line[len++] = '\n';
        for (size_t off = 0; off < len;) {
            int fd = fd_get(&diag_fd);
            if (fd < 0) break;
            ssize_t n = write(fd, line + off, len - off);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;
            off += (size_t)n;
        }
    }
    errno = saved_errno;
}
