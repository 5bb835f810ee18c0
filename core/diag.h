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
 * fd 2, or a private close-on-exec duplicate of it made by
 * diag_keep_stderr(), so a program that closes stderr in an atexit handler
 * (coreutils do) does not silence us at exit. */
extern int diag_fd;
void diag_keep_stderr(void);

/* Moves a descriptor the shim keeps to 900 or above, close-on-exec, so the
 * program's own descriptor numbers are what they would be without us.
 * Returns the new fd (the old one is closed), or fd unchanged on failure. */
#define OTELP_FD_BASE 900
int fd_move_high(int fd);
void diag_log(enum diag_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define diag_error(...) diag_log(DIAG_ERROR, __VA_ARGS__)
#define diag_warn(...) diag_log(DIAG_WARN, __VA_ARGS__)
#define diag_info(...) diag_log(DIAG_INFO, __VA_ARGS__)
#define diag_debug(...) diag_log(DIAG_DEBUG, __VA_ARGS__)

#endif
