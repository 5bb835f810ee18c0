/* fork: fork and vfork. The fork child's own span is made by the atfork
 * handler (process_after_fork_child); here the parent records a
 * process.fork event with the child's pid on the forking thread's span.
 *
 * vfork cannot be wrapped by a C function: the child would return through
 * our stack frame, which the parent needs afterwards. On x86-64 and aarch64
 * the hook is a few instructions that call a preparation function and then
 * jump to the real vfork with the caller's return address in place (on the
 * stack, in the link register), leaving no frame behind; elsewhere vfork is
 * not interposed (the exec hooks recognise a vfork child by its pid either
 * way, so its program is still a child of the vforking thread's span). A
 * vfork child allocates nothing and takes no lock before exec.
 *
 * The wait family: a reaped child sent what it had before it exited, so a
 * passive relay (handoff.h) drains its backlog then, on the caller's
 * thread, instead of a relay thread waking for every child. Depends on
 * process.c, handoff.h. */
#include <errno.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/guard.h"
#include "core/reader.h"
#include "exporters/handoff.h"
#include "hooks/hooks.h"
#include "preload/symbols.h"

void child_coming(void) {
    relay_start(); /* the child may hand its spans to us */
    /* Resolved now (once), so that a SIGCHLD handler's first waitpid never
     * runs dlsym. */
    (void)REAL(wait);
    (void)REAL(waitpid);
    (void)REAL(wait3);
    (void)REAL(wait4);
    (void)REAL(waitid);
}

HOOK_EXPORT pid_t fork(void) {
    if (!REAL(fork)) return -1;
    if (preload_active && !guard_active()) {
        guard_enter();
        int e = errno;
        reader_poke_now(); /* a due metric collection starts the worker */
        errno = e;
        child_coming();
        guard_leave();
    }
    pid_t pid = real_fork();
    if (pid > 0 && preload_active && !guard_active()) {
        guard_enter();
        process_add_event_int("process.fork", "process.pid", pid);
        guard_leave();
    }
    return pid;
}

#if defined(__x86_64__) || defined(__aarch64__)
__attribute__((visibility("hidden"), used)) void *vfork_prepare(void);
void *vfork_prepare(void) {
    if (preload_active && !guard_active()) {
        guard_enter();
        process_before_fork(); /* the child will be a child of our span */
        child_coming();
        guard_leave();
    }
    void *real = (void *)REAL(vfork);
    return real ? real : (void *)REAL(fork);
}
#endif

#if defined(__x86_64__)
__asm__(".text\n"
        ".globl vfork\n"
        ".type vfork, @function\n"
        "vfork:\n"
        "    endbr64\n"
        "    sub $8, %rsp\n"
        "    call vfork_prepare\n"
        "    add $8, %rsp\n"
        "    jmp *%rax\n"
        ".size vfork, .-vfork\n");
#endif
#if defined(__aarch64__)
/* x30 (the caller's return address) and x29 are kept on the stack only
 * around the call, before the vfork: the real vfork returns through x30
 * without touching the stack the child and the parent share. "hint 34" is
 * BTI C, a no-op where branch protection is off. */
__asm__(".text\n"
        ".globl vfork\n"
        ".type vfork, %function\n"
        ".p2align 2\n"
        "vfork:\n"
        "    hint 34\n"
        "    stp x29, x30, [sp, #-16]!\n"
        "    mov x29, sp\n"
        "    bl vfork_prepare\n"
        "    ldp x29, x30, [sp], #16\n"
        "    mov x16, x0\n"
        "    br x16\n"
        ".size vfork, .-vfork\n");
#endif

/* After a wait: when it reaped (or, WNOWAIT, found) an ended child, the
 * relay takes what that child sent. Returns r. */
static pid_t reaped(pid_t r) {
    if (r <= 0 || !preload_active || guard_active() || process_in_vfork_child()) return r;
    int saved_errno = errno;
    guard_enter();
    relay_poll();
    reader_poke_now();
    guard_leave();
    errno = saved_errno;
    return r;
}

HOOK_EXPORT pid_t wait4(pid_t pid, int *status, int options, struct rusage *ru) {
    if (!REAL(wait4)) {
        errno = ENOSYS;
        return -1;
    }
    return reaped(real_wait4(pid, status, options, ru));
}

HOOK_EXPORT pid_t waitpid(pid_t pid, int *status, int options) {
    return REAL(waitpid) ? reaped(real_waitpid(pid, status, options))
                         : wait4(pid, status, options, NULL);
}

HOOK_EXPORT pid_t wait(int *status) {
    return REAL(wait) ? reaped(real_wait(status)) : wait4(-1, status, 0, NULL);
}

HOOK_EXPORT pid_t wait3(int *status, int options, struct rusage *ru) {
    return REAL(wait3) ? reaped(real_wait3(status, options, ru)) : wait4(-1, status, options, ru);
}

HOOK_EXPORT int waitid(idtype_t type, id_t id, siginfo_t *info, int options) {
    if (!REAL(waitid)) {
        errno = ENOSYS;
        return -1;
    }
    int r = real_waitid(type, id, info, options);
    if (r == 0 && info) reaped(info->si_pid);
    return r;
}
