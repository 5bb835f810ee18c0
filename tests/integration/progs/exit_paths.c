/* exit_paths: ends the process the way argv[1] says, for the integration
 * tests of the root span. Prints nothing unless told to.
 *   return N | exit N | _exit N | _Exit N | quick_exit N | thread-exit N
 *   raise SIG | kill SIG | abort | segv | atexit-print N
 *   own-handler SIG   (installs a handler that exits 0, then raises SIG)
 *   dispositions      (prints the SIG_DFL/SIG_IGN view of a few signals)
 *   sleep MS          (waits to be killed) */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int code;

static void *exiter(void *arg) {
    (void)arg;
    exit(code);
}

static void on_signal(int sig) {
    (void)sig;
    static const char msg[] = "handled\n";
    if (write(STDOUT_FILENO, msg, sizeof msg - 1) < 0) _exit(99);
    _exit(0);
}

static void print_at_exit(void) {
    printf("atexit ran\n");
}

static const char *disposition(int sig) {
    struct sigaction sa;
    if (sigaction(sig, NULL, &sa) != 0) return "error";
    if (sa.sa_flags & SA_SIGINFO) return "siginfo-handler";
    if (sa.sa_handler == SIG_DFL) return "default";
    if (sa.sa_handler == SIG_IGN) return "ignore";
    return "handler";
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    const char *how = argv[1];
    int n = argc > 2 ? atoi(argv[2]) : 0;
    code = n;
    if (!strcmp(how, "return")) return n;
    if (!strcmp(how, "exit")) exit(n);
    if (!strcmp(how, "_exit")) _exit(n);
    if (!strcmp(how, "_Exit")) _Exit(n);
    if (!strcmp(how, "quick_exit")) quick_exit(n);
    if (!strcmp(how, "thread-exit")) {
        pthread_t t;
        pthread_create(&t, NULL, exiter, NULL);
        for (;;)
            pause();
    }
    if (!strcmp(how, "raise")) raise(n);
    if (!strcmp(how, "kill")) kill(getpid(), n);
    if (!strcmp(how, "abort")) abort();
    if (!strcmp(how, "segv")) {
        volatile int *p = NULL;
        return *p;
    }
    if (!strcmp(how, "atexit-print")) {
        atexit(print_at_exit);
        return n;
    }
    if (!strcmp(how, "own-handler")) {
        signal(n, on_signal);
        raise(n);
        return 3;
    }
    if (!strcmp(how, "dispositions")) {
        int sigs[] = {SIGTERM, SIGINT, SIGHUP, SIGPIPE, SIGSEGV, SIGUSR1, SIGCHLD};
        for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
            printf("%d %s\n", sigs[i], disposition(sigs[i]));
        /* set and restore: the program must see its own values back */
        struct sigaction sa = {0}, old;
        sa.sa_handler = on_signal;
        sigaction(SIGTERM, &sa, &old);
        printf("old-term %s\n", old.sa_handler == SIG_DFL ? "default" : "other");
        sa.sa_handler = SIG_DFL;
        sigaction(SIGTERM, &sa, &old);
        printf("old-term-2 %s\n", old.sa_handler == on_signal ? "own" : "other");
        printf("after %s\n", disposition(SIGTERM));
        void (*prev)(int) = signal(SIGINT, SIG_IGN);
        printf("signal-prev %s\n", prev == SIG_DFL ? "default" : "other");
        prev = signal(SIGINT, SIG_DFL);
        printf("signal-prev-2 %s\n", prev == SIG_IGN ? "ignore" : "other");
        return 0;
    }
    if (!strcmp(how, "sleep")) {
        struct timespec ts = {n / 1000, (long)(n % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        return 0;
    }
    return 2;
}
