/* fds: the shim's descriptors, out of the program's way. See fds.h.
 *
 * Every system call here is made with syscall(2): the hooks of close and
 * fcntl (hooks/fds.c) call into this file, and our own calls must not come
 * back through them. */
#include "core/fds.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

static int *held[FDS_MAX];
static _Atomic int nheld;
static _Atomic int lowest = INT_MAX; /* no descriptor of ours below this */
static _Atomic int base_cache = -2;
static atomic_flag moving = ATOMIC_FLAG_INIT;
static bool (*in_vfork_child)(void);

void fds_set_vfork_check(bool (*check)(void)) {
    in_vfork_child = check;
}

static bool vforked(void) {
    return in_vfork_child != NULL && in_vfork_child();
}

/* In a vfork child: ours in [first, last] closed in the child's table. */
static void close_here(int first, int last) {
    int saved = errno;
    int n = atomic_load_explicit(&nheld, memory_order_acquire);
    for (int i = 0; i < n; i++) {
        int fd = fd_get(held[i]);
        if (fd >= first && fd <= last) syscall(SYS_close, fd);
    }
    errno = saved;
}

int fds_base(void) {
    int b = atomic_load_explicit(&base_cache, memory_order_relaxed);
    if (b != -2) return b;
    struct rlimit rl;
    long soft = 1024;
    if (syscall(SYS_getrlimit, RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 1024)
        soft = (long)rl.rlim_cur;
    b = (int)soft - 32;
    if (b < 10) b = -1;
    atomic_store_explicit(&base_cache, b, memory_order_relaxed);
    return b;
}

static int dup_high(int fd, int min) {
    long r = syscall(SYS_fcntl, fd, F_DUPFD_CLOEXEC, min);
    return r < 0 ? -errno : (int)r;
}

int fd_move_above(int fd, int offset) {
    if (fd < 0) return fd;
    int base = fds_base();
    if (base >= 0 && fd >= base + offset) return fd;
    int high = base < 0 ? -EMFILE : dup_high(fd, base + offset);
    syscall(SYS_close, fd);
    return high;
}

int fd_move_high(int fd) {
    return fd_move_above(fd, 0);
}

void fd_hold(int *where) {
    for (int i = 0; i < atomic_load(&nheld); i++)
        if (held[i] == where) return;
    while (atomic_flag_test_and_set_explicit(&moving, memory_order_acquire))
        sched_yield();
    int n = atomic_load(&nheld);
    if (n < FDS_MAX) {
        held[n] = where;
        atomic_store(&nheld, n + 1);
    }
    int base = fds_base();
    if (base >= 0 && base < atomic_load(&lowest)) atomic_store(&lowest, base);
    atomic_flag_clear_explicit(&moving, memory_order_release);
}

void fd_close(int *where) {
    int fd = __atomic_exchange_n(where, -1, __ATOMIC_ACQ_REL);
    if (fd >= 0) syscall(SYS_close, fd);
}

bool fd_is_ours(int fd) {
    if (fd < atomic_load_explicit(&lowest, memory_order_relaxed)) return false;
    int n = atomic_load_explicit(&nheld, memory_order_acquire);
    for (int i = 0; i < n; i++)
        if (fd_get(held[i]) == fd) return true;
    return false;
}

/* Moves every variable holding fd to a number >= min; gives it up when
 * none can be had. Called with the moving flag held. */
static void move_one(int fd, int min, bool close_old) {
    int n = atomic_load_explicit(&nheld, memory_order_acquire);
    for (int i = 0; i < n; i++) {
        if (fd_get(held[i]) != fd) continue;
        int to = dup_high(fd, min);
        /* Another thread of ours may be using fd right now: it finds the
         * new number the next time it looks (fd_get). */
        __atomic_store_n(held[i], to >= 0 ? to : -1, __ATOMIC_RELEASE);
    }
    if (close_old) syscall(SYS_close, fd);
}

void fd_vacate(int fd) {
    if (fd < 0 || !fd_is_ours(fd)) return;
    if (vforked()) {
        close_here(fd, fd);
        return;
    }
    int saved = errno;
    while (atomic_flag_test_and_set_explicit(&moving, memory_order_acquire))
        sched_yield();
    if (fd_is_ours(fd)) move_one(fd, fds_base(), true);
    atomic_flag_clear_explicit(&moving, memory_order_release);
    errno = saved;
}

void fd_vacate_range(unsigned first, unsigned last) {
    if (last < first) return;
    int n = atomic_load_explicit(&nheld, memory_order_acquire), any = 0;
    for (int i = 0; i < n && !any; i++) {
        int fd = fd_get(held[i]);
        any = fd >= 0 && (unsigned)fd >= first && (unsigned)fd <= last;
    }
    if (!any || vforked()) return; /* the program's close_range closes ours in the child */
    int saved = errno;
    while (atomic_flag_test_and_set_explicit(&moving, memory_order_acquire))
        sched_yield();
    n = atomic_load_explicit(&nheld, memory_order_acquire);
    for (int i = 0; i < n; i++) {
        int fd = fd_get(held[i]);
        if (fd < 0 || (unsigned)fd < first || (unsigned)fd > last) continue;
        int min = last >= (unsigned)INT_MAX - 1 ? -1 : (int)last + 1;
        if (min < fds_base()) min = fds_base();
        if (min < 0) {
            /* Nothing above the range: the program closes ours with
             * it; we forget the number, so no later call of ours uses it. */
            __atomic_store_n(held[i], -1, __ATOMIC_RELEASE);
            continue;
        }
        move_one(fd, min, false); /* the program's close_range closes fd */
    }
    atomic_flag_clear_explicit(&moving, memory_order_release);
    errno = saved;
}

bool fd_displaced(int min, int result) {
    if (result < 0 || result <= atomic_load_explicit(&lowest, memory_order_relaxed)) return false;
    int n = atomic_load_explicit(&nheld, memory_order_acquire);
    bool any = false;
    for (int i = 0; i < n; i++) {
        int fd = fd_get(held[i]);
        if (fd >= min && fd < result) {
            fd_vacate(fd);
            any = true;
        }
    }
    return any;
}
