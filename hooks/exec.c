/* exec: every way to start a program, with OpenTelemetry's environment
 * carriers (TRACEPARENT, TRACESTATE, BAGGAGE) in a copy of the child's
 * environment pointing at the calling thread's current span. The program's
 * own environment is never written.
 *
 * The copy is built on the stack: in a vfork child, which runs in its
 * parent's memory, nothing may allocate or lock. An exec of this image
 * (not in a vfork child) first ends and exports what the image has
 * (process_before_exec); if the exec fails the image goes on. A target
 * that is not even executable (a shell trying each PATH entry) passes
 * straight through, with no work and no flush.
 *
 * glibc runs system() and popen() through internal calls that cannot be
 * interposed, so both are implemented here on the real posix_spawn, with
 * glibc's semantics (signals, pclose's wait status). Depends on core/ and
 * process.c. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/cold.h"
#include "core/carriers.h"
#include "core/guard.h"
#include "core/telemetry.h"
#include "hooks/hooks.h"
#include "preload/symbols.h"

#ifndef W_EXITCODE /* glibc's; musl has none */
#define W_EXITCODE(ret, sig) ((ret) << 8 | (sig))
#endif

extern char **environ;

enum exec_kind { EXEC_VE, EXEC_VPE, EXEC_FEXECVE, EXEC_VEAT };

struct exec_call {
    enum exec_kind kind;
    const char *path; /* file for EXEC_VPE */
    int fd, flags;
    char *const *argv;
};

static int real_exec(const struct exec_call *c, char *const *envp) {
    switch (c->kind) {
    case EXEC_VE:
        if (REAL(execve)) return real_execve(c->path, c->argv, envp);
        break;
    case EXEC_VPE:
        if (REAL(execvpe)) return real_execvpe(c->path, c->argv, envp);
        break;
    case EXEC_FEXECVE:
        if (REAL(fexecve)) return real_fexecve(c->fd, c->argv, envp);
        break;
    case EXEC_VEAT:
        if (REAL(execveat)) return real_execveat(c->fd, c->path, c->argv, envp, c->flags);
        break;
    }
    errno = ENOSYS;
    return -1;
}

/* Whether the exec can plausibly succeed: a target that is not an
 * executable file fails at once, so it gets no telemetry work. */
static bool looks_executable(const struct exec_call *c) {
    if (c->kind == EXEC_VE) return access(c->path, X_OK) == 0;
    if (c->kind != EXEC_VPE) return true;
    if (strchr(c->path, '/')) return access(c->path, X_OK) == 0;
    const char *path = getenv("PATH");
    if (!path) path = "/bin:/usr/bin";
    size_t flen = strlen(c->path);
    char candidate[PATH_MAX];
    for (const char *p = path;; p++) {
        const char *end = strchr(p, ':');
        size_t dlen = end ? (size_t)(end - p) : strlen(p);
        size_t at = dlen ? dlen : 1; /* an empty element is "." */
        if (at + flen + 2 <= sizeof candidate) {
            memcpy(candidate, dlen ? p : ".", at);
            candidate[at] = '/';
            memcpy(candidate + at + 1, c->path, flen + 1);
            if (access(candidate, X_OK) == 0) return true;
        }
        if (!end) return false;
        p = end;
    }
}

/* Whether s contains "otelpreload" (our file names: libotelpreload.so,
 * libotelpreload-musl.so), within n bytes. */
static bool names_us(const char *s, size_t n) {
    static const char word[] = "otelpreload";
    for (size_t i = 0; i + sizeof word - 1 <= n && s[i]; i++)
        if (!memcmp(s + i, word, sizeof word - 1)) return true;
    return false;
}

/* Whether the host preloads us in every program (/etc/ld.so.preload):
 * read once, with system calls and the stack only (a vfork child may ask). */
static _Atomic int host_wide; /* 0 unknown, 1 yes, 2 no */

static bool preloaded_host_wide(void) {
    int v = atomic_load_explicit(&host_wide, memory_order_relaxed);
    if (!v) {
        char buf[4096];
        ssize_t n = -1;
        int fd = open("/etc/ld.so.preload", O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            n = read(fd, buf, sizeof buf - 1);
            close(fd);
        }
        v = n > 0 && names_us(buf, (size_t)n) ? 1 : 2;
        atomic_store_explicit(&host_wide, v, memory_order_relaxed);
    }
    return v == 1;
}

/* Whether a program started with envp carries the shim: its LD_PRELOAD
 * names us, or the host preloads us everywhere. Only then does it get
 * carriers: a child the program gave a clean environment (env -i,
 * subprocess.run(env={})) and that is not traced sees exactly that
 * environment (SAFETY.md 1d). */
static bool carries_shim(char *const *envp) {
    for (size_t i = 0; envp && envp[i]; i++) {
        const char *e = envp[i];
        if (e[0] == 'L' && !strncmp(e, "LD_PRELOAD=", 11) && names_us(e + 11, strlen(e + 11)))
            return true;
    }
    return preloaded_host_wide();
}

/* Fills vec (cap entries) with envp plus the carriers for a child of the
 * calling thread. False: no context, a child without the shim, or it does
 * not fit (pass envp on). */
static bool add_carriers(char *const *envp, bool for_exec, char **vec, size_t cap,
                         struct carrier_strings *cs) {
    if (!carries_shim(envp)) return false;
    struct span_context ctx;
    const char *ts;
    size_t ts_len;
    if (!process_child_context(for_exec, &ctx, &ts, &ts_len)) return false;
    char *add[3];
    carriers_format(&ctx, ts, ts_len, telemetry_baggage_entry(), cs, add);
    return carriers_apply(envp, add, vec, cap) >= 0;
}

static int exec_with_carriers(const struct exec_call *c, char *const *envp) {
    int saved_errno = errno;
    /* A vfork child's exec costs us only the carriers, on its stack: no
     * need to ask first whether it can succeed (one system call less for
     * every command a shell runs). */
    bool vforked = preload_active && process_in_vfork_child();
    if (!preload_active || guard_active() || (!vforked && !looks_executable(c))) {
        errno = saved_errno;
        return real_exec(c, envp);
    }
    size_t n = carriers_env_count(envp);
    if (n > CARRIERS_MAX_ENV) {
        errno = saved_errno;
        return real_exec(c, envp);
    }
    char *vec[n + 4];
    struct carrier_strings cs;
    guard_enter();
    /* In a vfork child the exec'd program is a new process, a child of the
     * vforking thread's span, like a spawn. */
    char *const *env = add_carriers(envp, !vforked, vec, n + 4, &cs) ? vec : envp;
    if (!vforked) process_before_exec(c->path ? c->path : "");
    guard_leave();
    errno = saved_errno;
    int rc = real_exec(c, env);
    int err = errno;
    if (!vforked) {
        guard_enter();
        process_exec_failed(err);
        guard_leave();
    }
    errno = err;
    return rc;
}

HOOK_EXPORT int execve(const char *path, char *const argv[], char *const envp[]) {
    struct exec_call c = {EXEC_VE, path, -1, 0, argv};
    return exec_with_carriers(&c, envp);
}

HOOK_EXPORT int execv(const char *path, char *const argv[]) {
    struct exec_call c = {EXEC_VE, path, -1, 0, argv};
    return exec_with_carriers(&c, environ);
}

HOOK_EXPORT int execvpe(const char *file, char *const argv[], char *const envp[]) {
    struct exec_call c = {EXEC_VPE, file, -1, 0, argv};
    return exec_with_carriers(&c, envp);
}

HOOK_EXPORT int execvp(const char *file, char *const argv[]) {
    struct exec_call c = {EXEC_VPE, file, -1, 0, argv};
    return exec_with_carriers(&c, environ);
}

HOOK_EXPORT int fexecve(int fd, char *const argv[], char *const envp[]) {
    struct exec_call c = {EXEC_FEXECVE, NULL, fd, 0, argv};
    return exec_with_carriers(&c, envp);
}

HOOK_EXPORT int execveat(int dirfd, const char *path, char *const argv[], char *const envp[],
                         int flags) {
    struct exec_call c = {EXEC_VEAT, path, dirfd, flags, argv};
    return exec_with_carriers(&c, envp);
}

/* The execl family: gather the variadic arguments into an argv on the
 * stack (and execle's envp after the terminating NULL). glibc declares arg
 * nonnull, but programs do pass NULL: it is read through a volatile so the
 * check stays. */
#define COLLECT_ARGS(arg, last, argv, envp_out)                                                    \
    size_t argc_ = 0;                                                                              \
    const char *volatile first_ = (arg);                                                           \
    va_list ap_;                                                                                   \
    va_start(ap_, last);                                                                           \
    if (first_)                                                                                    \
        for (argc_ = 1; va_arg(ap_, char *); argc_++)                                              \
            ;                                                                                      \
    va_end(ap_);                                                                                   \
    char *argv[argc_ + 1];                                                                         \
    va_start(ap_, last);                                                                           \
    argv[0] = (char *)first_;                                                                      \
    for (size_t i_ = 1; i_ <= argc_; i_++)                                                         \
        argv[i_] = va_arg(ap_, char *);                                                            \
    argv[argc_] = NULL;                                                                            \
    envp_out = va_arg(ap_, char *const *);                                                         \
    va_end(ap_)

HOOK_EXPORT int execl(const char *path, const char *arg, ...) {
    char *const *unused;
    COLLECT_ARGS(arg, arg, argv, unused);
    (void)unused;
    struct exec_call c = {EXEC_VE, path, -1, 0, argv};
    return exec_with_carriers(&c, environ);
}

HOOK_EXPORT int execlp(const char *file, const char *arg, ...) {
    char *const *unused;
    COLLECT_ARGS(arg, arg, argv, unused);
    (void)unused;
    struct exec_call c = {EXEC_VPE, file, -1, 0, argv};
    return exec_with_carriers(&c, environ);
}

HOOK_EXPORT int execle(const char *path, const char *arg, ...) {
    char *const *envp;
    COLLECT_ARGS(arg, arg, argv, envp);
    struct exec_call c = {EXEC_VE, path, -1, 0, argv};
    return exec_with_carriers(&c, envp);
}

/* ---- spawn ---- */

typedef int (*spawn_fn)(pid_t *, const char *, const posix_spawn_file_actions_t *,
                        const posix_spawnattr_t *, char *const[], char *const[]);

static int spawn_with_carriers(spawn_fn real, pid_t *pid, const char *path,
                               const posix_spawn_file_actions_t *fa, const posix_spawnattr_t *attr,
                               char *const argv[], char *const envp[]) {
    if (!real) return ENOSYS;
    int saved_errno = errno;
    size_t n = carriers_env_count(envp);
    if (!preload_active || guard_active() || n > CARRIERS_MAX_ENV)
        return real(pid, path, fa, attr, argv, envp);
    char *vec[n + 4];
    struct carrier_strings cs;
    guard_enter();
    char *const *env = add_carriers(envp, false, vec, n + 4, &cs) ? vec : envp;
    if (!process_in_vfork_child()) child_coming();
    guard_leave();
    pid_t child = 0;
    int rc = real(&child, path, fa, attr, argv, env);
    if (pid) *pid = child;
    if (!process_in_vfork_child()) {
        guard_enter();
        if (rc == 0)
            process_add_event_int("process.spawn", "process.pid", child);
        else
            process_spawn_failed(path, rc);
        guard_leave();
    }
    errno = saved_errno;
    return rc;
}

HOOK_EXPORT int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
                            const posix_spawnattr_t *attr, char *const argv[], char *const envp[]) {
    return spawn_with_carriers(REAL(posix_spawn), pid, path, fa, attr, argv, envp);
}

HOOK_EXPORT int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
                             const posix_spawnattr_t *attr, char *const argv[],
                             char *const envp[]) {
    return spawn_with_carriers(REAL(posix_spawnp), pid, file, fa, attr, argv, envp);
}

static int wait_child(pid_t pid) {
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return -1;
    return status;
}

/* system(3), as glibc does it, with the carriers: /bin/sh -c cmd, SIGCHLD
 * blocked and SIGINT/SIGQUIT ignored while waiting, their dispositions reset
 * in the child unless the program ignores them. */
HOOK_EXPORT int system(const char *cmd) {
    if (!cmd || !preload_active || guard_active() || !REAL(posix_spawn) || !REAL(sigaction))
        return REAL(system) ? real_system(cmd) : -1;
    int saved_errno = errno;
    struct sigaction ign, old_int, old_quit;
    memset(&ign, 0, sizeof ign);
    ign.sa_handler = SIG_IGN;
    sigemptyset(&ign.sa_mask);
    sigset_t chld, old_mask;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, &old_mask);
    /* The program's view of the dispositions (ours count as default). */
    struct sigaction view_int, view_quit;
    sigaction(SIGINT, NULL, &view_int);
    sigaction(SIGQUIT, NULL, &view_quit);
    real_sigaction(SIGINT, &ign, &old_int);
    real_sigaction(SIGQUIT, &ign, &old_quit);

    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t reset;
    sigemptyset(&reset);
    if (!(view_int.sa_flags & SA_SIGINFO) && view_int.sa_handler != SIG_IGN)
        sigaddset(&reset, SIGINT);
    if (!(view_quit.sa_flags & SA_SIGINFO) && view_quit.sa_handler != SIG_IGN)
        sigaddset(&reset, SIGQUIT);
    posix_spawnattr_setsigdefault(&attr, &reset);
    posix_spawnattr_setsigmask(&attr, &old_mask);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
    char *argv[] = {"sh", "-c", (char *)cmd, NULL};
    pid_t pid;
    int rc = spawn_with_carriers(real_posix_spawn, &pid, "/bin/sh", NULL, &attr, argv, environ);
    posix_spawnattr_destroy(&attr);
    int status = rc == 0 ? wait_child(pid) : W_EXITCODE(127, 0);

    real_sigaction(SIGINT, &old_int, NULL);
    real_sigaction(SIGQUIT, &old_quit, NULL);
    sigprocmask(SIG_SETMASK, &old_mask, NULL);
    errno = status == -1 ? errno : saved_errno;
    return status;
}

/* popen streams we opened, for pclose (a fixed table, claimed with CAS). */
#define POPEN_SLOTS 256
static struct {
    _Atomic(FILE *) fp;
    pid_t pid;
    int fd;
} popens[POPEN_SLOTS] OTELP_COLD;

HOOK_EXPORT FILE *popen(const char *cmd, const char *mode) {
    if (!preload_active || guard_active() || !REAL(posix_spawn) || !mode ||
        (mode[0] != 'r' && mode[0] != 'w'))
        return REAL(popen) ? real_popen(cmd, mode) : NULL;
    int saved_errno = errno;
    bool reading = mode[0] == 'r', cloexec = strchr(mode, 'e') != NULL;
    int slot = -1;
    for (int i = 0; i < POPEN_SLOTS && slot < 0; i++) {
        FILE *none = NULL;
        if (atomic_compare_exchange_strong(&popens[i].fp, &none, (FILE *)1)) slot = i;
    }
    if (slot < 0) return REAL(popen) ? real_popen(cmd, mode) : NULL;

    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0) {
        atomic_store(&popens[slot].fp, NULL);
        return NULL;
    }
    int child_end = reading ? fds[1] : fds[0], parent_end = reading ? fds[0] : fds[1];
    int target = reading ? STDOUT_FILENO : STDIN_FILENO;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    /* dup2 onto the target clears close-on-exec, even onto itself. */
    posix_spawn_file_actions_adddup2(&fa, child_end, target);
    /* POSIX: streams of earlier popen calls are closed in the child. */
    for (int i = 0; i < POPEN_SLOTS; i++) {
        FILE *fp = atomic_load(&popens[i].fp);
        if (i != slot && fp && fp != (FILE *)1 && popens[i].fd != target)
            posix_spawn_file_actions_addclose(&fa, popens[i].fd);
    }
    char *argv[] = {"sh", "-c", (char *)cmd, NULL};
    pid_t pid;
    int rc = spawn_with_carriers(real_posix_spawn, &pid, "/bin/sh", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(child_end);
    FILE *fp = NULL;
    if (rc == 0) {
        if (!cloexec) fcntl(parent_end, F_SETFD, 0);
        fp = fdopen(parent_end, reading ? "r" : "w");
    }
    if (!fp) {
        int err = rc ? rc : errno;
        close(parent_end);
        if (rc == 0) wait_child(pid);
        atomic_store(&popens[slot].fp, NULL);
        errno = err;
        return NULL;
    }
    popens[slot].pid = pid;
    popens[slot].fd = parent_end;
    atomic_store(&popens[slot].fp, fp);
    errno = saved_errno;
    return fp;
}

HOOK_EXPORT int pclose(FILE *fp) {
    for (int i = 0; fp && i < POPEN_SLOTS; i++) {
        if (atomic_load(&popens[i].fp) != fp) continue;
        pid_t pid = popens[i].pid;
        fclose(fp);
        atomic_store(&popens[i].fp, NULL);
        return wait_child(pid);
    }
    if (!REAL(pclose)) {
        errno = EINVAL;
        return -1;
    }
    return real_pclose(fp);
}
