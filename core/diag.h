/* diag: self-diagnostics. Silent unless OTEL_LOG_LEVEL asks for them; lines go
 * to stderr (fd 2) with one write(2) each, prefixed "otel-preload: ". Never
 * used from a signal handler. Depends on libc only. */
#ifndef OTELP_CORE_DIAG_H
#define OTELP_CORE_DIAG_H

#include <stdbool.h>
#include <stddef.h>

enum diag_level { DIAG_NONE = 0, DIAG_ERROR, DIAG_WARN, DIAG_INFO, DIAG_DEBUG };

void diag_set_level(enum diag_level level);
enum diag_level diag_get_level(void);
/* Whether a line at level would go anywhere (skip costly arguments). */
bool diag_enabled(enum diag_level level);
/* Tests capture diagnostics instead of writing them to fd 2. */
void diag_set_sink(void (*sink)(enum diag_level level, const char *line));
/* The descriptor our own output (diagnostics, console exporter) goes to:
 * a private close-on-exec duplicate of fd 2 made by diag_keep_stderr() (at
 * a high number, core/fds.h), so a program that closes stderr in an atexit
 * handler (coreutils do) does not silence us at exit; -1 (nothing written)
 * when fd 2 was not open then: a program started with 2>&- may open a file
 * of its own as fd 2, and our lines must never land in it. */
extern int diag_fd;
void diag_keep_stderr(void);

void diag_log(enum diag_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define diag_error(...) diag_log(DIAG_ERROR, __VA_ARGS__)
#define diag_warn(...) diag_log(DIAG_WARN, __VA_ARGS__)
#define diag_info(...) diag_log(DIAG_INFO, __VA_ARGS__)
#define diag_debug(...) diag_log(DIAG_DEBUG, __VA_ARGS__)

#endif
