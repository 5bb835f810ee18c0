/* fork: fork and vfork. The fork child's own span is made by the atfork
 * handler (process_after_fork_child); here the parent records a
 * process.fork event with the child's pid on the forking thread's span.
 *
 * vfork cannot be wrapped by a C function: the child would return through
 * our stack frame, which the parent needs afterwards. On x86-64 the hook is
 * a few instructions that call a preparation function and then jump to the
 * real vfork, leaving no frame behind; elsewhere vfork is not interposed
 * (the exec hooks recognise a vfork child by its pid either way). A vfork
 * child allocates nothing and takes no lock before exec. Depends on
 * process.c. */
#include <sys/types.h>
#include <unistd.h>

#include "core/guard.h"
#include "exporters/handoff.h"
#include "hooks/hooks.h"
#include "preload/symbols.h"

HOOK_EXPORT pid_t fork(void) {
    if (!REAL(fork)) return -1;
    if (preload_active && !guard_active()) {
        guard_enter();
        relay_start(); /* the child may hand its spans to us */
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

#if defined(__x86_64__)
__attribute__((visibility("hidden"), used)) void *vfork_prepare(void);
void *vfork_prepare(void) {
    if (preload_active && !guard_active()) {
        guard_enter();
        process_before_fork(); /* the child will be a child of our span */
        relay_start();
        guard_leave();
    }
    void *real = (void *)REAL(vfork);
    return real ? real : (void *)REAL(fork);
}

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
