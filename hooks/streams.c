/* streams: what the program writes to its standard output and error, as
 * log records, when OTEL_PRELOAD_LOGS_STREAMS asks (core/stream.c does the
 * line assembly). Off by default; then every hook here is one test of a
 * global and a call of the real function.
 *
 * glibc's stdio writes its buffers with internal calls no preload can
 * interpose, so two levels are hooked: write(2)/writev(2) on descriptors 1
 * and 2, and the stdio calls that programs (and libstdc++'s synced
 * iostreams) make on a FILE whose descriptor is 1 or 2: the printf family
 * (and the _FORTIFY_SOURCE __*_chk forms), puts, fputs, fwrite, fputc,
 * putc, putchar (and their _unlocked forms) and perror. The text is
 * captured at the call, after the real function returned, from what the
 * call was given (the printf family: formatted once more, into a stack
 * buffer, or the heap for a text over FMT_CAP); a failed call captures
 * nothing. The bytes on the streams are the real
 * functions' own, untouched.
 *
 * Not captured: stdio macros that write into the FILE buffer inline
 * (putc_unlocked and friends when a program is compiled with optimisation),
 * wide-character output (fwprintf, putwc, ...), output glibc writes by
 * itself (err/warn/error/syslog's LOG_PERROR: those are log records
 * already; assert, psignal), other descriptors that point at the same file
 * (dup(1)), and pwrite/sendfile/splice/io_uring. Text given to stdio and
 * never flushed (a process that _exit()s) is captured all the same.
 * Depends on core/stream.h and preload/symbols.h. */
#undef _FORTIFY_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "core/cold.h"
#include "core/guard.h"
#include "core/stream.h"
#include "core/telemetry.h"
#include "hooks/hooks.h"
#include "preload/symbols.h"

/* Optimised builds get some of these as macros from <bits/stdio.h>. */
#undef fwrite_unlocked
#undef fputc_unlocked
#undef putc_unlocked
#undef putchar_unlocked
#undef putc
#undef putchar

int __printf_chk(int flag, const char *fmt, ...);
int __vprintf_chk(int flag, const char *fmt, va_list ap);
int __fprintf_chk(FILE *f, int flag, const char *fmt, ...);
int __vfprintf_chk(FILE *f, int flag, const char *fmt, va_list ap);
int __dprintf_chk(int fd, int flag, const char *fmt, ...);
int __vdprintf_chk(int fd, int flag, const char *fmt, va_list ap);

/* Bytes of a printf-family call's text formatted on the stack. */
#define FMT_CAP 4096

/* fd when writes to it are captured now, else -1. */
static int captured_fd(int fd) {
    if (fd < 1 || fd > 2 || !(stream_capture & (1u << fd)) || !preload_active || guard_active())
        return -1;
    return fd;
}

static int captured_file(FILE *f) {
    if (!stream_capture || !f) return -1;
    int saved_errno = errno;
    int fd = fileno(f); /* sets errno for streams without a descriptor */
    errno = saved_errno;
    return captured_fd(fd);
}

static void capture(int fd, const void *data, size_t n) {
    int saved_errno = errno;
    guard_enter();
    stream_write(fd, data, n);
    guard_leave();
    errno = saved_errno;
}

/* A printf-family call's text, formatted once more for capture: on the
 * stack when it fits FMT_CAP, else on the heap (the printf family is no
 * async-signal-safe path). */
struct fmt_text {
    char buf[FMT_CAP];
    char *heap;
    const char *text;
    int n;
};

static void preformat(struct fmt_text *t, const char *fmt, va_list ap) {
    va_list copy;
    va_copy(copy, ap);
    t->n = vsnprintf(t->buf, FMT_CAP, fmt, copy);
    va_end(copy);
    t->text = t->buf;
    t->heap = NULL;
    if (t->n < FMT_CAP) return;
    t->heap = malloc((size_t)t->n + 1);
    if (t->heap) {
        va_copy(copy, ap);
        t->n = vsnprintf(t->heap, (size_t)t->n + 1, fmt, copy);
        va_end(copy);
        t->text = t->heap;
    } else {
        t->n = FMT_CAP - 1;
        guard_enter();
        telemetry_log_count_truncated();
        guard_leave();
    }
}

/* What the call printed: written is what the real call returned. */
static void capture_formatted(int fd, struct fmt_text *t, int written) {
    if (written > 0 && t->n > 0) capture(fd, t->text, (size_t)(t->n < written ? t->n : written));
    free(t->heap);
}

OTELP_FIRST void streams_install(void) {
    /* Resolved now, so that a program whose first write(2) is in a signal
     * handler (the async-signal-safe way to print there) never runs dlsym
     * in it. */
    (void)REAL(write);
    (void)REAL(writev);
}

/* ---- system calls ---- */

HOOK_EXPORT ssize_t write(int fd, const void *buf, size_t n) {
    ssize_t r = REAL(write) ? real_write(fd, buf, n) : syscall(SYS_write, fd, buf, n);
    if (r > 0 && captured_fd(fd) > 0) capture(fd, buf, (size_t)r);
    return r;
}

HOOK_EXPORT ssize_t writev(int fd, const struct iovec *iov, int cnt) {
    ssize_t r = REAL(writev) ? real_writev(fd, iov, cnt) : syscall(SYS_writev, fd, iov, cnt);
    if (r > 0 && captured_fd(fd) > 0) {
        size_t left = (size_t)r;
        for (int i = 0; i < cnt && left; i++) {
            size_t n = iov[i].iov_len < left ? iov[i].iov_len : left;
            capture(fd, iov[i].iov_base, n);
            left -= n;
        }
    }
    return r;
}

/* ---- the printf family ---- */

HOOK_EXPORT int vfprintf(FILE *f, const char *fmt, va_list ap) {
    int fd = captured_file(f);
    if (fd < 0) return REAL(vfprintf)(f, fmt, ap);
    struct fmt_text t;
    preformat(&t, fmt, ap);
    int r = REAL(vfprintf)(f, fmt, ap);
    capture_formatted(fd, &t, r);
    return r;
}

HOOK_EXPORT int fprintf(FILE *f, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int r = vfprintf(f, fmt, ap);
    va_end(ap);
    return r;
}

HOOK_EXPORT int vprintf(const char *fmt, va_list ap) {
    int fd = captured_file(stdout);
    if (fd < 0) return REAL(vprintf)(fmt, ap);
    struct fmt_text t;
    preformat(&t, fmt, ap);
    int r = REAL(vprintf)(fmt, ap);
    capture_formatted(fd, &t, r);
    return r;
}

HOOK_EXPORT int printf(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int r = vprintf(fmt, ap);
    va_end(ap);
    return r;
}

HOOK_EXPORT int vdprintf(int fd, const char *fmt, va_list ap) {
    if (captured_fd(fd) < 0) return REAL(vdprintf)(fd, fmt, ap);
    struct fmt_text t;
    preformat(&t, fmt, ap);
    int r = REAL(vdprintf)(fd, fmt, ap);
    capture_formatted(fd, &t, r);
    return r;
}

HOOK_EXPORT int dprintf(int fd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int r = vdprintf(fd, fmt, ap);
    va_end(ap);
    return r;
}

/* The fortified forms: flag asks for format checks, which the real
 * functions do (our own formatting never aborts). */
HOOK_EXPORT int __vfprintf_chk(FILE *f, int flag, const char *fmt, va_list ap) {
    int fd = captured_file(f);
    if (fd < 0) return REAL(__vfprintf_chk)(f, flag, fmt, ap);
    struct fmt_text t;
    preformat(&t, fmt, ap);
    int r = REAL(__vfprintf_chk)(f, flag, fmt, ap);
    capture_formatted(fd, &t, r);
    return r;
}

HOOK_EXPORT int __fprintf_chk(FILE *f, int flag, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int r = __vfprintf_chk(f, flag, fmt, ap);
    va_end(ap);
    return r;
}

HOOK_EXPORT int __vprintf_chk(int flag, const char *fmt, va_list ap) {
    int fd = captured_file(stdout);
    if (fd < 0) return REAL(__vprintf_chk)(flag, fmt, ap);
    struct fmt_text t;
    preformat(&t, fmt, ap);
    int r = REAL(__vprintf_chk)(flag, fmt, ap);
    capture_formatted(fd, &t, r);
    return r;
}

HOOK_EXPORT int __printf_chk(int flag, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int r = __vprintf_chk(flag, fmt, ap);
    va_end(ap);
    return r;
}

HOOK_EXPORT int __vdprintf_chk(int fd, int flag, const char *fmt, va_list ap) {
    if (captured_fd(fd) < 0) return REAL(__vdprintf_chk)(fd, flag, fmt, ap);
    struct fmt_text t;
    preformat(&t, fmt, ap);
    int r = REAL(__vdprintf_chk)(fd, flag, fmt, ap);
    capture_formatted(fd, &t, r);
    return r;
}

HOOK_EXPORT int __dprintf_chk(int fd, int flag, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int r = __vdprintf_chk(fd, flag, fmt, ap);
    va_end(ap);
    return r;
}

/* ---- strings and characters ---- */

HOOK_EXPORT int puts(const char *s) {
    int r = REAL(puts)(s);
    int fd;
    if (r >= 0 && (fd = captured_file(stdout)) > 0) {
        capture(fd, s, strlen(s));
        capture(fd, "\n", 1);
    }
    return r;
}

static int fputs_like(int (*real)(const char *, FILE *), const char *s, FILE *f) {
    int r = real(s, f);
    int fd;
    if (r >= 0 && (fd = captured_file(f)) > 0) capture(fd, s, strlen(s));
    return r;
}

HOOK_EXPORT int fputs(const char *s, FILE *f) {
    return fputs_like(REAL(fputs), s, f);
}
HOOK_EXPORT int fputs_unlocked(const char *s, FILE *f) {
    return fputs_like(REAL(fputs_unlocked), s, f);
}

static size_t fwrite_like(size_t (*real)(const void *, size_t, size_t, FILE *), const void *p,
                          size_t size, size_t n, FILE *f) {
    size_t r = real(p, size, n, f);
    int fd;
    if (r && size && (fd = captured_file(f)) > 0) capture(fd, p, r * size);
    return r;
}

HOOK_EXPORT size_t fwrite(const void *p, size_t size, size_t n, FILE *f) {
    return fwrite_like(REAL(fwrite), p, size, n, f);
}
HOOK_EXPORT size_t fwrite_unlocked(const void *p, size_t size, size_t n, FILE *f) {
    return fwrite_like(REAL(fwrite_unlocked), p, size, n, f);
}

static int putc_like(int (*real)(int, FILE *), int c, FILE *f) {
    int r = real(c, f);
    int fd;
    if (r != EOF && (fd = captured_file(f)) > 0) {
        char ch = (char)c;
        capture(fd, &ch, 1);
    }
    return r;
}

HOOK_EXPORT int fputc(int c, FILE *f) {
    return putc_like(REAL(fputc), c, f);
}
HOOK_EXPORT int putc(int c, FILE *f) {
    return putc_like(REAL(putc), c, f);
}
HOOK_EXPORT int fputc_unlocked(int c, FILE *f) {
    return putc_like(REAL(fputc_unlocked), c, f);
}
HOOK_EXPORT int putc_unlocked(int c, FILE *f) {
    return putc_like(REAL(putc_unlocked), c, f);
}

static int putchar_like(int (*real)(int), int c) {
    int r = real(c);
    int fd;
    if (r != EOF && (fd = captured_file(stdout)) > 0) {
        char ch = (char)c;
        capture(fd, &ch, 1);
    }
    return r;
}

HOOK_EXPORT int putchar(int c) {
    return putchar_like(REAL(putchar), c);
}
HOOK_EXPORT int putchar_unlocked(int c) {
    return putchar_like(REAL(putchar_unlocked), c);
}

/* perror writes "s: <errno text>\n" (or just the text) to stderr by
 * itself: capture that line. */
HOOK_EXPORT void perror(const char *s) {
    int errnum = errno;
    REAL(perror)(s);
    int fd = captured_file(stderr);
    if (fd > 0) {
        int after = errno;
        const char *msg = strerror(errnum);
        if (s && *s) {
            capture(fd, s, strlen(s));
            capture(fd, ": ", 2);
        }
        capture(fd, msg, strlen(msg));
        capture(fd, "\n", 1);
        errno = after;
    }
}
