/* hooks/fds: the descriptor calls that may name a number the shim holds
 * (dup2, dup3, fcntl, close, close_range). Ours moves out of the way first
 * and the number is closed, then the real call runs: it does exactly what
 * it would without the shim (core/fds.h). A number below every one we hold
 * costs one comparison. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/fds.h"
#include "hooks/hooks.h"
#include "preload/symbols.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

/* dup2 without the C library's. aarch64 has no dup2 system call, only
 * dup3, which refuses equal numbers: dup2 then only checks oldfd. */
static int sys_dup2(int oldfd, int newfd) {
#ifdef SYS_dup2
    return (int)syscall(SYS_dup2, oldfd, newfd);
#else
    if (oldfd == newfd) return syscall(SYS_fcntl, oldfd, F_GETFD) < 0 ? -1 : newfd;
    return (int)syscall(SYS_dup3, oldfd, newfd, 0);
#endif
}

HOOK_EXPORT int dup2(int oldfd, int newfd) {
    fd_vacate(oldfd);
    fd_vacate(newfd);
    return REAL(dup2) ? real_dup2(oldfd, newfd) : sys_dup2(oldfd, newfd);
}

HOOK_EXPORT int dup3(int oldfd, int newfd, int flags) {
    fd_vacate(oldfd);
    fd_vacate(newfd);
    return REAL(dup3) ? real_dup3(oldfd, newfd, flags)
                      : (int)syscall(SYS_dup3, oldfd, newfd, flags);
}

HOOK_EXPORT int close(int fd) {
    fd_vacate(fd);
    return REAL(close) ? real_close(fd) : (int)syscall(SYS_close, fd);
}

HOOK_EXPORT int close_range(unsigned first, unsigned last, int flags) {
    /* Setting close-on-exec changes nothing of ours (already so). */
    if (!((unsigned)flags & CLOSE_RANGE_CLOEXEC)) fd_vacate_range(first, last);
    if (REAL(close_range)) return real_close_range(first, last, flags);
#ifdef SYS_close_range
    return (int)syscall(SYS_close_range, first, last, flags);
#else
    errno = ENOSYS;
    return -1;
#endif
}

/* fcntl's third argument is an int or a pointer, by command: passed on as
 * the machine word it came in (glibc's own fcntl does the same). */
static int fcntl_like(int (*real)(int, int, ...), int fd, int cmd, void *arg) {
    fd_vacate(fd);
    int r = real ? real(fd, cmd, arg) : (int)syscall(SYS_fcntl, fd, cmd, arg);
    if ((cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC) && r >= 0 && fd_displaced((int)(long)arg, r)) {
        /* One of ours sat where the program's copy belonged: it has moved,
         * ask again. */
        int saved = errno;
        syscall(SYS_close, r);
        errno = saved;
        r = real ? real(fd, cmd, arg) : (int)syscall(SYS_fcntl, fd, cmd, arg);
    }
    return r;
}

HOOK_EXPORT int fcntl(int fd, int cmd, ...) {
    va_list ap;
    va_start(ap, cmd);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    return fcntl_like(REAL(fcntl), fd, cmd, arg);
}

/* What programs built with _FILE_OFFSET_BITS=64 call (glibc 2.28). */
HOOK_EXPORT int fcntl64(int fd, int cmd, ...) {
    va_list ap;
    va_start(ap, cmd);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    return fcntl_like(REAL(fcntl64) ? REAL(fcntl64) : REAL(fcntl), fd, cmd, arg);
}
