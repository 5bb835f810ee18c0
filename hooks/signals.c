/* signals: death by signal ends and exports the root span, and the program
 * never sees that we were there.
 *
 * For each signal whose default action terminates the process and whose
 * disposition at start is SIG_DFL, we install a handler ("managed"). The
 * handler records the signal, runs the bounded final flush (unless the
 * signal interrupted our own code), restores SIG_DFL and re-raises, so the
 * process dies exactly as it would have: same signal, same core dump. A
 * synchronous fault (SIGSEGV from a bad access) simply returns to re-fault.
 *
 * The program's view is virtualised: sigaction/signal/sysv_signal/
 * bsd_signal/sigset report SIG_DFL where our handler sits; a program that
 * installs its own handler (or SIG_IGN) replaces ours and we step aside; one
 * that sets SIG_DFL again gets ours back. Exec resets handlers, so children
 * see the kernel's defaults. Depends on core/ and process.c. */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/cold.h"
#include "core/guard.h"
#include "hooks/hooks.h"
#include "preload/symbols.h"

/* Signals whose default action terminates the process (signal(7)), except
 * SIGKILL/SIGSTOP (uncatchable) and the real-time range (libraries use it). */
static const int fatal_signals[] = {SIGHUP,  SIGINT,  SIGQUIT,   SIGILL,  SIGTRAP, SIGABRT,
                                    SIGBUS,  SIGFPE,  SIGUSR1,   SIGSEGV, SIGUSR2, SIGPIPE,
                                    SIGALRM, SIGTERM, SIGSTKFLT, SIGXCPU, SIGXFSZ, SIGVTALRM,
                                    SIGPROF, SIGIO,   SIGPWR,    SIGSYS};

#define NSIG_MANAGED 65
static _Atomic unsigned char managed[NSIG_MANAGED];

static bool is_fatal(int sig) {
    for (size_t i = 0; i < sizeof fatal_signals / sizeof fatal_signals[0]; i++)
        if (fatal_signals[i] == sig) return true;
    return false;
}

static void on_fatal(int sig, siginfo_t *info, void *uctx);

static void our_action(struct sigaction *sa) {
    memset(sa, 0, sizeof *sa);
    sa->sa_sigaction = on_fatal;
    sa->sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
    sigfillset(&sa->sa_mask);
}

static void set_default(int sig) {
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    if (real_sigaction) real_sigaction(sig, &dfl, NULL);
}

static void on_fatal(int sig, siginfo_t *info, void *uctx) {
    (void)uctx;
    int saved_errno = errno;
    /* In a vfork child, or inside our own code (state may be half-written):
     * record nothing, just die. */
    if (!guard_active() && getpid() == process_pid) {
        process_note_signal(sig);
        process_finish(true);
    }
    set_default(sig);
    atomic_store(&managed[sig], 0);
    bool fault =
        info && info->si_code > 0 &&
        (sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE || sig == SIGTRAP);
    if (!fault) {
        /* Deliver it again to this thread; it is blocked until we return. */
        syscall(SYS_tgkill, getpid(), (pid_t)syscall(SYS_gettid), sig);
    }
    errno = saved_errno;
}

OTELP_FIRST void signals_install(void) {
    if (!REAL(sigaction)) return;
    struct sigaction ours, old;
    our_action(&ours);
    for (size_t i = 0; i < sizeof fatal_signals / sizeof fatal_signals[0]; i++) {
        int sig = fatal_signals[i];
        if (real_sigaction(sig, &ours, &old) < 0) continue;
        if (!(old.sa_flags & SA_SIGINFO) && old.sa_handler == SIG_DFL)
            atomic_store(&managed[sig], 1);
        else
            real_sigaction(sig, &old, NULL); /* ignored or handled: leave it */
    }
}

void signals_after_fork_child(void) { /* handlers and managed[] carry over */
}

static bool is_default(const struct sigaction *act) {
    return !(act->sa_flags & SA_SIGINFO) && act->sa_handler == SIG_DFL;
}

static void fake_default(struct sigaction *old) {
    memset(old, 0, sizeof *old);
    old->sa_handler = SIG_DFL;
}

HOOK_EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *oldact) {
    if (!REAL(sigaction)) {
        errno = ENOSYS;
        return -1;
    }
    if (!preload_active || sig <= 0 || sig >= NSIG_MANAGED || !is_fatal(sig))
        return real_sigaction(sig, act, oldact);
    bool was = atomic_load(&managed[sig]);
    if (!act) {
        if (!was) return real_sigaction(sig, NULL, oldact);
        if (oldact) fake_default(oldact);
        return 0;
    }
    if (is_default(act)) {
        /* The program wants the default: keep (or put back) ours. */
        struct sigaction ours, kold;
        our_action(&ours);
        int rc = real_sigaction(sig, &ours, &kold);
        if (rc < 0) return rc;
        atomic_store(&managed[sig], 1);
        if (oldact) {
            if (was)
                fake_default(oldact);
            else
                *oldact = kold;
        }
        return 0;
    }
    struct sigaction kold;
    int rc = real_sigaction(sig, act, &kold);
    if (rc < 0) return rc;
    atomic_store(&managed[sig], 0);
    if (oldact) {
        if (was)
            fake_default(oldact);
        else
            *oldact = kold;
    }
    return 0;
}

/* signal()-style calls: let the real function do its own semantics, then
 * fix up what it says and put our handler back where SIG_DFL was asked. */
static sighandler_t signal_like(sighandler_t (*real)(int, sighandler_t), int sig,
                                sighandler_t handler) {
    if (!real) {
        errno = ENOSYS;
        return SIG_ERR;
    }
    if (!preload_active || sig <= 0 || sig >= NSIG_MANAGED || !is_fatal(sig))
        return real(sig, handler);
    bool was = atomic_load(&managed[sig]);
    sighandler_t old = real(sig, handler);
    if (old == SIG_ERR) return old;
    if (handler == SIG_DFL) {
        struct sigaction ours;
        our_action(&ours);
        if (REAL(sigaction) && real_sigaction(sig, &ours, NULL) == 0)
            atomic_store(&managed[sig], 1);
    } else {
        atomic_store(&managed[sig], 0);
    }
    return was ? SIG_DFL : old;
}

HOOK_EXPORT sighandler_t signal(int sig, sighandler_t h) {
    return signal_like(REAL(signal), sig, h);
}
HOOK_EXPORT sighandler_t sysv_signal(int sig, sighandler_t h) {
    return signal_like(REAL(sysv_signal), sig, h);
}
HOOK_EXPORT sighandler_t bsd_signal(int sig, sighandler_t h) {
    return signal_like(REAL(bsd_signal), sig, h);
}
HOOK_EXPORT sighandler_t sigset(int sig, sighandler_t h) {
    /* SIG_HOLD blocks the signal and leaves the disposition alone. */
    if (h == SIG_HOLD) return REAL(sigset) ? real_sigset(sig, h) : SIG_ERR;
    return signal_like(REAL(sigset), sig, h);
}
