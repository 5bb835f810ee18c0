/* signals: death by signal ends and exports the root span, and the program
 * never sees that we were there.
 *
 * For each signal whose default action terminates the process and whose
 * disposition at start is SIG_DFL, we install a handler ("managed"). The
 * handler records the signal (a crash signal: the exception, crash.c), runs
 * the bounded final flush (unless the signal interrupted our own code),
 * restores SIG_DFL and dies as the program would have: a synchronous fault
 * returns to re-fault (same core dump, same crash site); any other signal
 * is sent again to the same thread with its original siginfo.
 *
 * The program's view is virtualised: sigaction/signal/sysv_signal/
 * bsd_signal/sigset report SIG_DFL where our handler sits. A program that
 * installs its own handler for a crash signal (SEGV, BUS, ILL, FPE, ABRT,
 * TRAP, SYS) keeps ours in front ("chained"): the crash is recorded first,
 * then the program's handler runs with its own mask and flags and decides
 * (returns to re-fault, _exits, siglongjmps out); sigaction answers with
 * the program's own action. For the other signals, a program's handler
 * (or SIG_IGN) replaces ours and we step aside; one that sets SIG_DFL again
 * gets ours back. Exec resets handlers, so children see the kernel's
 * defaults. Depends on core/, crash.c and process.c. */
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <pthread.h>
#include <string.h>
#include <ucontext.h>
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
/* Crash signals with the program's own handler behind ours: its action is
 * in program_acts[sig][program_slot[sig]] (written in the other slot, then
 * switched, so a handler on another thread reads a whole one). */
static _Atomic unsigned char chained[NSIG_MANAGED];
static struct sigaction program_acts[NSIG_MANAGED][2] OTELP_COLD;
static _Atomic unsigned char program_slot[NSIG_MANAGED];

/* Managed runtimes take faults as part of their work (the JVM's implicit
 * null checks and safepoint polls, .NET's and Mono's null references):
 * their handler runs before ours, and only a fault it does not resolve
 * reaches us as a crash (it then aborts, or puts the default back and
 * faults again). Known by the library the handler is in (CRASH.md). */
static _Atomic unsigned char runtime_first[NSIG_MANAGED];

static bool in_runtime(const struct sigaction *act) {
    static const char *const runtimes[] = {"libjvm.so",          "libj9vm",
                                           "libj9prt",           "libcoreclr.so",
                                           "libmonosgen-2.0.so", "libmono-2.0.so"};
    void *h = act->sa_flags & SA_SIGINFO ? (void *)act->sa_sigaction : (void *)act->sa_handler;
    Dl_info info;
    info.dli_fname = NULL; /* dladdr is weak: preload/abi_floor.h */
    if (h == (void *)SIG_IGN || !dladdr || !dladdr(h, &info) || !info.dli_fname) return false;
    const char *base = strrchr(info.dli_fname, '/');
    base = base ? base + 1 : info.dli_fname;
    for (size_t i = 0; i < sizeof runtimes / sizeof runtimes[0]; i++)
        if (!strncmp(base, runtimes[i], strlen(runtimes[i]))) return true;
    return false;
}

static void set_program_action(int sig, const struct sigaction *act) {
    atomic_store(&runtime_first[sig], in_runtime(act));
    unsigned next = !atomic_load(&program_slot[sig]);
    program_acts[sig][next] = *act;
    atomic_store(&program_slot[sig], (unsigned char)next);
    atomic_store(&chained[sig], 1);
}

static const struct sigaction *program_action(int sig) {
    return &program_acts[sig][atomic_load(&program_slot[sig])];
}

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

/* Sends sig again to this thread, with the original siginfo when the
 * kernel allows it (a kill-sent signal keeps its sender); it is blocked
 * until the handler returns, then the default action runs. */
static void reraise(int sig, const siginfo_t *info) {
    pid_t pid = getpid(), tid = (pid_t)syscall(SYS_gettid);
    if (!info || syscall(SYS_rt_tgsigqueueinfo, pid, tid, sig, info) != 0)
        syscall(SYS_tgkill, pid, tid, sig);
}

/* Runs the program's own handler as the kernel would have: its mask added
 * to the interrupted one, the signal blocked unless SA_NODEFER, reset to
 * the default first with SA_RESETHAND. */
static void call_program(int sig, siginfo_t *info, void *uctx) {
    struct sigaction pa = *program_action(sig);
    sigset_t mask;
    if (uctx)
        mask = ((ucontext_t *)uctx)->uc_sigmask;
    else
        sigemptyset(&mask);
    sigorset(&mask, &mask, &pa.sa_mask);
    if (!(pa.sa_flags & SA_NODEFER)) sigaddset(&mask, sig);
    if (pa.sa_flags & SA_RESETHAND) {
        atomic_store(&chained[sig], 0);
        atomic_store(&managed[sig], 1);
    }
    sigprocmask(SIG_SETMASK, &mask, NULL); /* per thread; no pthread_sigmask before 2.32 */
    if (pa.sa_flags & SA_SIGINFO)
        pa.sa_sigaction(sig, info, uctx);
    else if (pa.sa_handler != SIG_DFL && pa.sa_handler != SIG_IGN)
        pa.sa_handler(sig);
}

static void on_fatal(int sig, siginfo_t *info, void *uctx) {
    int saved_errno = errno;
    bool ours = preload_active && getpid() == process_pid; /* not a vfork child */
    bool crash = crash_signal(sig);
    enum crash_result got = CRASH_BEFORE;
    if (crash && atomic_load(&chained[sig]) && atomic_load(&runtime_first[sig])) {
        errno = saved_errno;
        call_program(sig, info, uctx); /* resumes the program elsewhere, or gives up */
        return;
    }
    if (ours && crash) got = crash_capture(sig, info, uctx);
    if (crash && got != CRASH_NESTED && atomic_load(&chained[sig])) {
        /* The program decides; its _exit or exit flushes (process.c). */
        errno = saved_errno;
        call_program(sig, info, uctx);
        return;
    }
    /* Inside our own code (state may be half-written), or a second fault
     * while capturing: no flush, just die. */
    if (ours && !guard_active() && got != CRASH_NESTED) {
        process_note_signal(sig);
        process_finish(true);
    }
    set_default(sig);
    atomic_store(&managed[sig], 0);
    bool fault = info && info->si_code > 0 &&
                 (sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE);
    if (!fault) reraise(sig, info);
    errno = saved_errno;
}

OTELP_FIRST void signals_install(void) {
    if (!REAL(sigaction)) return;
    crash_thread_start(false); /* the main thread's alternate stack */
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

void signals_after_fork_child(void) { /* handlers, managed[] and chained[] carry over */
    crash_after_fork_child();
}

static bool is_default(const struct sigaction *act) {
    return !(act->sa_flags & SA_SIGINFO) && act->sa_handler == SIG_DFL;
}

static void fake_default(struct sigaction *old) {
    memset(old, 0, sizeof *old);
    old->sa_handler = SIG_DFL;
}

/* What the program believes the disposition of sig is, while ours is in
 * the kernel. */
static void virtual_old(int sig, bool was, bool was_chained, const struct sigaction *kold,
                        struct sigaction *oldact) {
    if (!oldact) return;
    if (was_chained)
        *oldact = *program_action(sig);
    else if (was)
        fake_default(oldact);
    else
        *oldact = *kold;
}

HOOK_EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *oldact) {
    if (!REAL(sigaction)) {
        errno = ENOSYS;
        return -1;
    }
    if (!preload_active || sig <= 0 || sig >= NSIG_MANAGED || !is_fatal(sig))
        return real_sigaction(sig, act, oldact);
    bool was = atomic_load(&managed[sig]), was_chained = atomic_load(&chained[sig]);
    if (!act) {
        if (!was && !was_chained) return real_sigaction(sig, NULL, oldact);
        virtual_old(sig, was, was_chained, NULL, oldact);
        return 0;
    }
    struct sigaction kold;
    memset(&kold, 0, sizeof kold);
    if (process_in_vfork_child()) {
        /* A vfork child shares our memory but not our signal actions: what
         * it sets is its own until its exec, never the parent's record
         * (Python's subprocess resets SIGPIPE there: the parent's
         * sigaction then reported SIG_DFL for the SIG_IGN it had). */
        int rc = real_sigaction(sig, act, &kold);
        if (rc == 0) virtual_old(sig, was, was_chained, &kold, oldact);
        return rc;
    }
    if (is_default(act)) {
        /* The program wants the default: keep (or put back) ours. */
        struct sigaction ours;
        our_action(&ours);
        int rc = real_sigaction(sig, &ours, &kold);
        if (rc < 0) return rc;
        atomic_store(&chained[sig], 0);
        atomic_store(&managed[sig], 1);
        virtual_old(sig, was, was_chained, &kold, oldact);
        return 0;
    }
    if (crash_signal(sig) && (was || was_chained) && act->sa_handler != SIG_IGN) {
        /* A crash signal's handler: ours stays in front of it. */
        struct sigaction keep;
        virtual_old(sig, was, was_chained, &kold, &keep);
        set_program_action(sig, act);
        atomic_store(&managed[sig], 0);
        if (oldact) *oldact = keep;
        return 0;
    }
    int rc = real_sigaction(sig, act, &kold);
    if (rc < 0) return rc;
    atomic_store(&managed[sig], 0);
    atomic_store(&chained[sig], 0);
    virtual_old(sig, was, was_chained, &kold, oldact);
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
    bool was = atomic_load(&managed[sig]), was_chained = atomic_load(&chained[sig]);
    sighandler_t before = was_chained ? program_action(sig)->sa_handler : SIG_DFL;
    sighandler_t old = real(sig, handler);
    if (old == SIG_ERR) return old;
    if (process_in_vfork_child()) /* its own actions, not our record (see sigaction) */
        return was_chained ? before : was ? SIG_DFL : old;
    struct sigaction ours;
    our_action(&ours);
    if (handler == SIG_DFL) {
        if (REAL(sigaction) && real_sigaction(sig, &ours, NULL) == 0) {
            atomic_store(&chained[sig], 0);
            atomic_store(&managed[sig], 1);
        }
    } else if (crash_signal(sig) && (was || was_chained) && handler != SIG_IGN &&
               handler != SIG_HOLD) {
        /* Put ours back in front of what the real call installed (with
         * the flags it chose: SA_RESTART for signal(), and so on). */
        struct sigaction theirs;
        if (REAL(sigaction) && real_sigaction(sig, &ours, &theirs) == 0) {
            set_program_action(sig, &theirs);
            atomic_store(&managed[sig], 0);
        }
    } else {
        atomic_store(&managed[sig], 0);
        atomic_store(&chained[sig], 0);
    }
    return was_chained ? before : was ? SIG_DFL : old;
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
