/* faults: fault injection into the shim's own calls (issue 17 item 16),
 * for test_faults.py. Preloaded in front of the shim
 * (LD_PRELOAD="libfaults.so libotelpreload.so"), it interposes the calls
 * the shim makes to the C library and, for a call whose caller lies in the
 * shim's code, counts it and makes the N-th fail as the C library would.
 * The program's own calls pass through untouched.
 *
 *   OTELP_FAULT=NAME:N    the N-th call of NAME from the shim fails (in
 *                         each process: children count their own); NAME is
 *                         one of the families below
 *   OTELP_FAULT_SKIP=R   code of the shim's file not to count, as
 *                         "LO-HI,..." (hex addresses in the file, as nm
 *                         shows them): a coverage build's libgcov
 *   OTELP_FAULT_LOG=F     appends "PID NAME N" to file F when that call
 *                         is made, and " diag" for a write of the shim's
 *                         own diagnostics (a line "otel-preload: ...")
 *   OTELP_FAULT_COUNTS=F  counting mode: appends "PID NAME N" to file F at
 *                         every call counted (the largest N of a family is
 *                         how many such calls a process of the program
 *                         made: the sweep's bound)
 *
 * Families and how they fail: alloc (malloc, calloc, realloc,
 * aligned_alloc, posix_memalign, memalign: NULL/ENOMEM), open (open,
 * open64, openat, openat64: EMFILE), socket (socket, socketpair: EMFILE),
 * connect (ECONNREFUSED), mmap (mmap, mmap64: ENOMEM), thread
 * (pthread_create: EAGAIN), write (write, writev, send, sendto, sendmsg:
 * ENOSPC), clock (clock_gettime: EINVAL).
 *
 * Calls made on the shim's own threads (its export worker, its relay,
 * its resolver: the threads the shim starts through pthread_create) count
 * whoever makes them: the C library's allocations inside getaddrinfo,
 * dlopen or fopen, libcurl's and zlib's, all made on the shim's behalf.
 * On the program's threads, the calls made from the shim's code count, and
 * those the C library makes inside a function the shim's code called that
 * allocates or opens for it (the list below: fopen, strdup, dlopen,
 * getaddrinfo...). Not reachable from here: what the C library and the
 * loader do through their internal entry points (the stack mmap of
 * pthread_create, dlopen's mmap and open of a library, getaddrinfo's
 * socket), which no preloaded library can interpose.
 *
 * Allocations reach the C library through __libc_malloc and friends (no
 * dlsym inside malloc); the rest through dlsym(RTLD_NEXT), which is the
 * shim's hook where it has one. The shim's code is found once, from
 * /proc/self/maps read with system calls (no lock, no allocation). */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

/* The build hides symbols by default: these are the point. */
#pragma GCC visibility push(default)

void *__libc_malloc(size_t n);
void *__libc_calloc(size_t n, size_t size);
void *__libc_realloc(void *p, size_t n);
void *__libc_memalign(size_t align, size_t n);

enum family { F_ALLOC, F_OPEN, F_SOCKET, F_CONNECT, F_MMAP, F_THREAD, F_WRITE, F_CLOCK, NFAM };
static const char *const family_names[NFAM] = {"alloc", "open",   "socket", "connect",
                                               "mmap",  "thread", "write",  "clock"};

static _Atomic uint64_t calls[NFAM];
static int fail_family = -1;
static uint64_t fail_at;
static const char *fault_log, *count_log;
/* A thread the shim started: every call counts. */
static __thread bool shim_thread __attribute__((tls_model("initial-exec")));
/* Inside a C library call the shim's code made (fopen, strdup, dlopen,
 * getaddrinfo...): the calls it makes count. */
static __thread int on_behalf __attribute__((tls_model("initial-exec")));
/* Inside this library's own work (dlsym, the log): nothing counts. */
static __thread int in_faults __attribute__((tls_model("initial-exec")));
static _Atomic int config_state; /* 0 unread, 1 reading, 2 read */
static uintptr_t shim_lo, shim_hi, shim_base;
#define MAX_SKIP 256
static uintptr_t skip_lo[MAX_SKIP], skip_hi[MAX_SKIP];
static int nskip;

/* getenv without the C library's locks, from /proc/self/environ. */
static size_t read_file(const char *path, char *buf, size_t cap) {
    int fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    size_t n = 0;
    while (n < cap - 1) {
        long r = syscall(SYS_read, fd, buf + n, cap - 1 - n);
        if (r <= 0) break;
        n += (size_t)r;
    }
    syscall(SYS_close, fd);
    buf[n] = '\0';
    return n;
}

static char environ_buf[65536];
static char maps_buf[262144];

static const char *env_value(const char *name, size_t total) {
    size_t len = strlen(name);
    for (size_t i = 0; i < total; i += strlen(environ_buf + i) + 1)
        if (!strncmp(environ_buf + i, name, len) && environ_buf[i + len] == '=')
            return environ_buf + i + len + 1;
    return NULL;
}

static void read_config(void) {
    size_t total = read_file("/proc/self/environ", environ_buf, sizeof environ_buf);
    const char *f = env_value("OTELP_FAULT", total);
    if (f) {
        const char *colon = strchr(f, ':');
        for (int i = 0; colon && i < NFAM; i++)
            if ((size_t)(colon - f) == strlen(family_names[i]) &&
                !strncmp(f, family_names[i], (size_t)(colon - f))) {
                fail_family = i;
                fail_at = strtoull(colon + 1, NULL, 10);
            }
    }
    fault_log = env_value("OTELP_FAULT_LOG", total);
    count_log = env_value("OTELP_FAULT_COUNTS", total);
    for (const char *r = env_value("OTELP_FAULT_SKIP", total); r && *r && nskip < MAX_SKIP;) {
        char *end;
        skip_lo[nskip] = strtoull(r, &end, 16);
        if (*end != '-') break;
        skip_hi[nskip++] = strtoull(end + 1, &end, 16);
        r = *end == ',' ? end + 1 : end;
    }
    /* The shim's executable mapping. */
    size_t n = read_file("/proc/self/maps", maps_buf, sizeof maps_buf);
    for (char *line = maps_buf; line < maps_buf + n;) {
        char *nl = memchr(line, '\n', (size_t)(maps_buf + n - line));
        if (nl) *nl = '\0';
        if (strstr(line, "libotelpreload")) {
            char *dash;
            uintptr_t lo = strtoull(line, &dash, 16), hi = strtoull(dash + 1, NULL, 16);
            if (strstr(line, " r-xp ")) {
                if (!shim_lo || lo < shim_lo) shim_lo = lo;
                if (hi > shim_hi) shim_hi = hi;
            }
            if (strstr(line, "p 00000000 ") && (!shim_base || lo < shim_base)) shim_base = lo;
        }
        if (!nl) break;
        line = nl + 1;
    }
}

static void configure(void) {
    int st = atomic_load(&config_state);
    if (st == 2) return;
    int expected = 0;
    if (atomic_compare_exchange_strong(&config_state, &expected, 1)) {
        read_config();
        atomic_store(&config_state, 2);
        return;
    }
    while (atomic_load(&config_state) != 2)
        ; /* another thread reads: a moment */
}

static void note(const char *file, enum family f, uint64_t n, const char *detail) {
    if (!file) return;
    char line[128];
    int len = snprintf(line, sizeof line, "%d %s %llu%s\n", (int)syscall(SYS_getpid),
                       family_names[f], (unsigned long long)n, detail);
    int fd =
        (int)syscall(SYS_openat, AT_FDCWD, file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return;
    syscall(SYS_write, fd, line, (size_t)len);
    syscall(SYS_close, fd);
}

static bool from_shim(const void *caller) {
    uintptr_t at = (uintptr_t)caller;
    if (at < shim_lo || at >= shim_hi) return false;
    for (int i = 0; i < nskip; i++)
        if (at - shim_base >= skip_lo[i] && at - shim_base < skip_hi[i]) return false;
    return true;
}

/* True when this call, made from caller, is to fail; detail (a write of
 * the shim's diagnostics) goes into the log. */
static bool fault_detail(enum family f, const void *caller, const char *detail) {
    if (in_faults) return false;
    configure();
    if (!shim_thread && !on_behalf && !from_shim(caller)) return false;
    uint64_t n = atomic_fetch_add(&calls[f], 1) + 1;
    in_faults++;
    note(count_log, f, n, "");
    in_faults--;
    if ((int)f != fail_family || n != fail_at) return false;
    in_faults++;
    note(fault_log, f, n, detail);
    in_faults--;
    return true;
}

static bool fault(enum family f, const void *caller) {
    return fault_detail(f, caller, "");
}

static const char *write_detail(const void *buf, size_t n) {
    static const char diag[] = "otel-preload:";
    return n >= sizeof diag - 1 && !memcmp(buf, diag, sizeof diag - 1) ? " diag" : "";
}

#define CALLER __builtin_return_address(0)
/* dlsym may allocate: not a call to count. */
static void *next_symbol(const char *name) {
    in_faults++;
    void *p = dlsym(RTLD_NEXT, name);
    in_faults--;
    return p;
}
#define NEXT(name) ((__typeof__(&name))next_symbol(#name))

/* FAULTS_NO_ALLOC (libfaults_noalloc.so, for sanitizer builds, preloaded
 * in front of the sanitizer's runtime): the allocator stays the
 * sanitizer's, the alloc family is not injected. */
#ifndef FAULTS_NO_ALLOC
void *malloc(size_t n) {
    if (fault(F_ALLOC, CALLER)) return errno = ENOMEM, NULL;
    return __libc_malloc(n);
}

void *calloc(size_t n, size_t size) {
    if (fault(F_ALLOC, CALLER)) return errno = ENOMEM, NULL;
    return __libc_calloc(n, size);
}

void *realloc(void *p, size_t n) {
    if (fault(F_ALLOC, CALLER)) return errno = ENOMEM, NULL;
    return __libc_realloc(p, n);
}

void *aligned_alloc(size_t align, size_t n) {
    if (fault(F_ALLOC, CALLER)) return errno = ENOMEM, NULL;
    return __libc_memalign(align, n);
}

void *memalign(size_t align, size_t n) {
    if (fault(F_ALLOC, CALLER)) return errno = ENOMEM, NULL;
    return __libc_memalign(align, n);
}

int posix_memalign(void **out, size_t align, size_t n) {
    if (fault(F_ALLOC, CALLER)) return ENOMEM;
    void *p = __libc_memalign(align, n);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}
#endif

static int open_common(int dirfd, const char *path, int flags, mode_t mode, const void *caller) {
    if (fault(F_OPEN, caller)) return errno = EMFILE, -1;
    return (int)syscall(SYS_openat, dirfd, path, flags, mode);
}

#define OPEN_MODE(flags)                                                                           \
    mode_t mode = 0;                                                                               \
    if ((flags) & (O_CREAT | __O_TMPFILE)) {                                                       \
        va_list ap;                                                                                \
        va_start(ap, flags);                                                                       \
        mode = va_arg(ap, mode_t);                                                                 \
        va_end(ap);                                                                                \
    }

int open(const char *path, int flags, ...) {
    OPEN_MODE(flags);
    return open_common(AT_FDCWD, path, flags, mode, CALLER);
}

int open64(const char *path, int flags, ...) {
    OPEN_MODE(flags);
    return open_common(AT_FDCWD, path, flags, mode, CALLER);
}

int openat(int dirfd, const char *path, int flags, ...) {
    OPEN_MODE(flags);
    return open_common(dirfd, path, flags, mode, CALLER);
}

int openat64(int dirfd, const char *path, int flags, ...) {
    OPEN_MODE(flags);
    return open_common(dirfd, path, flags, mode, CALLER);
}

int socket(int domain, int type, int protocol) {
    if (fault(F_SOCKET, CALLER)) return errno = EMFILE, -1;
    return (int)syscall(SYS_socket, domain, type, protocol);
}

int socketpair(int domain, int type, int protocol, int sv[2]) {
    if (fault(F_SOCKET, CALLER)) return errno = EMFILE, -1;
    return (int)syscall(SYS_socketpair, domain, type, protocol, sv);
}

int connect(int fd, const struct sockaddr *addr, socklen_t len) {
    if (fault(F_CONNECT, CALLER)) return errno = ECONNREFUSED, -1;
    return NEXT(connect)(fd, addr, len);
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off) {
    if (fault(F_MMAP, CALLER)) return errno = ENOMEM, MAP_FAILED;
    return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
}

void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off) {
    if (fault(F_MMAP, CALLER)) return errno = ENOMEM, MAP_FAILED;
    return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
}

struct start {
    void *(*fn)(void *);
    void *arg;
};

static void *shim_thread_start(void *p) {
    struct start s = *(struct start *)p;
    free(p);
    shim_thread = true;
    return s.fn(s.arg);
}

int pthread_create(pthread_t *th, const pthread_attr_t *attr, void *(*fn)(void *), void *arg) {
    const void *caller = CALLER;
    if (fault(F_THREAD, caller)) return EAGAIN;
    configure();
    if (!from_shim(caller) && !shim_thread) return NEXT(pthread_create)(th, attr, fn, arg);
    /* The shim's thread: marked from its start. */
    in_faults++;
#ifdef FAULTS_NO_ALLOC
    struct start *s = malloc(sizeof *s); /* the sanitizer's */
#else
    struct start *s = __libc_malloc(sizeof *s);
#endif
    in_faults--;
    if (!s) return EAGAIN;
    s->fn = fn;
    s->arg = arg;
    int rc = NEXT(pthread_create)(th, attr, shim_thread_start, s);
    if (rc) free(s);
    return rc;
}

ssize_t write(int fd, const void *buf, size_t n) {
    if (fault_detail(F_WRITE, CALLER, write_detail(buf, n))) return errno = ENOSPC, -1;
    return NEXT(write)(fd, buf, n);
}

ssize_t writev(int fd, const struct iovec *iov, int cnt) {
    const char *detail = cnt > 0 ? write_detail(iov[0].iov_base, iov[0].iov_len) : "";
    if (fault_detail(F_WRITE, CALLER, detail)) return errno = ENOSPC, -1;
    return NEXT(writev)(fd, iov, cnt);
}

ssize_t send(int fd, const void *buf, size_t n, int flags) {
    if (fault_detail(F_WRITE, CALLER, write_detail(buf, n))) return errno = ENOSPC, -1;
    return NEXT(send)(fd, buf, n, flags);
}

ssize_t sendto(int fd, const void *buf, size_t n, int flags, const struct sockaddr *to,
               socklen_t tolen) {
    if (fault(F_WRITE, CALLER)) return errno = ENOSPC, -1;
    return NEXT(sendto)(fd, buf, n, flags, to, tolen);
}

ssize_t sendmsg(int fd, const struct msghdr *m, int flags) {
    if (fault(F_WRITE, CALLER)) return errno = ENOSPC, -1;
    return NEXT(sendmsg)(fd, m, flags);
}

int clock_gettime(clockid_t id, struct timespec *ts) {
    if (fault(F_CLOCK, CALLER)) return errno = EINVAL, -1;
    return NEXT(clock_gettime)(id, ts);
}

/* C library functions the shim calls that allocate or open inside: what
 * they do on its behalf counts. */
#define BEHALF(ret, name, params, args)                                                            \
    ret name params {                                                                              \
        static __typeof__(&name) real;                                                             \
        if (!real) real = NEXT(name);                                                              \
        bool mine = !shim_thread && from_shim_configured(CALLER);                                  \
        on_behalf += mine;                                                                         \
        ret r = real args;                                                                         \
        on_behalf -= mine;                                                                         \
        return r;                                                                                  \
    }

static bool from_shim_configured(const void *caller) {
    if (in_faults) return false;
    configure();
    return from_shim(caller);
}

BEHALF(FILE *, fopen, (const char *path, const char *mode), (path, mode))
BEHALF(FILE *, fdopen, (int fd, const char *mode), (fd, mode))
BEHALF(size_t, fread, (void *p, size_t size, size_t n, FILE *f), (p, size, n, f))
BEHALF(DIR *, opendir, (const char *path), (path))
BEHALF(char *, strdup, (const char *s), (s))
BEHALF(char *, realpath, (const char *path, char *out), (path, out))
BEHALF(int, vasprintf, (char **out, const char *fmt, va_list ap), (out, fmt, ap))
BEHALF(void *, dlopen, (const char *file, int mode), (file, mode))
BEHALF(int, getaddrinfo,
       (const char *node, const char *service, const struct addrinfo *hints, struct addrinfo **res),
       (node, service, hints, res))
