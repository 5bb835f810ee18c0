/* fake_jvm: built as libjvm.so, a managed runtime's fault handling as the
 * shim sees it: a SIGSEGV handler in a library of that name that resumes
 * the program (the JVM's implicit null checks do this thousands of times
 * a second), or, when it has nowhere to resume, puts the default back and
 * returns to fault again (a real crash). test_crash.py's runtime cases. */
#include <setjmp.h>
#include <signal.h>
#include <string.h>

__attribute__((visibility("default")))
sigjmp_buf *runtime_resume; /* where a fault resumes; NULL: it is a crash */

static void on_fault(int sig, siginfo_t *info, void *uc) {
    (void)info;
    (void)uc;
    if (runtime_resume) siglongjmp(*runtime_resume, 1);
    signal(sig, SIG_DFL);
}

__attribute__((visibility("default"))) void runtime_install(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, NULL);
}
