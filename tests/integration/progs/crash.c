/* crash: dies the way argv[1] says, for the crash capture tests. Built with
 * symbols, optimised, without frame pointers (libunwind must do the work):
 * every crash happens in crash_here(), called from level2() <- level1() <-
 * main (or <- thread_main on a thread). Prints nothing unless told to.
 *   segv | bus | ill | fpe | abort | trap | sys | kill-segv
 *   thread-segv | overflow | thread-overflow | assert | malloc
 *   handler-exit | handler-longjmp | handler-refault | handler-fault
 *   siginfo (prints si_code and si_pid of a SIGSEGV sent by kill to a
 *            handler the program installs after the shim's)
 *   busy-segv (ends spans for the worker to export, then crashes)
 *   runtime LIB N [crash] (a managed runtime's handler, LIB = libjvm.so of
 *            fake_jvm.c, resumes N faults; then, with "crash", one it does
 *            not resolve) */
#undef NDEBUG /* `assert` must fail also in a release build (-DNDEBUG) */
#include <assert.h>
#include <fcntl.h>
#include <malloc.h>
#include <dlfcn.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static const char *mode;
static volatile int zero;
static sigjmp_buf recover;

static void say(const char *s) {
    if (write(STDOUT_FILENO, s, strlen(s)) < 0) _exit(98);
}

static __attribute__((noinline)) int recurse(int n) {
    volatile char pad[512];
    pad[0] = (char)n;
    if (n < 0) return 0; /* never: the recursion overflows the stack */
    return recurse(n + 1) + pad[0];
}

static void *idle(void *arg) {
    return arg;
}

static ssize_t faulting_write(void *cookie, const char *buf, size_t n) {
    (void)cookie;
    (void)buf;
    *(volatile int *)(long)zero = 7;
    return (ssize_t)n;
}

static __attribute__((noinline)) void crash_here(void) {
    if (!strcmp(mode, "segv") || !strcmp(mode, "thread-segv") || !strncmp(mode, "handler", 7) ||
        !strcmp(mode, "busy-segv") || !strcmp(mode, "runtime")) {
        *(volatile int *)(long)zero = 42;
    } else if (!strcmp(mode, "bus")) {
        char path[] = "/tmp/otelp-crash-bus-XXXXXX";
        int fd = mkstemp(path);
        unlink(path);
        volatile char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        p[0] = 1; /* past the end of an empty file */
    } else if (!strcmp(mode, "ill")) {
#if defined(__aarch64__)
        __asm__ volatile("udf #0");
#else
        __asm__ volatile("ud2");
#endif
    } else if (!strcmp(mode, "fpe")) {
        volatile int x = 7 / zero;
        (void)x;
    } else if (!strcmp(mode, "abort")) {
        abort();
    } else if (!strcmp(mode, "trap")) {
#if defined(__aarch64__)
        __asm__ volatile("brk #0");
#else
        __asm__ volatile("int3");
#endif
    } else if (!strcmp(mode, "sys")) {
        raise(SIGSYS);
    } else if (!strcmp(mode, "kill-segv")) {
        kill(getpid(), SIGSEGV);
        sleep(1); /* PID 1 of a namespace ignores it, and goes on */
    } else if (!strcmp(mode, "overflow") || !strcmp(mode, "thread-overflow")) {
        recurse(zero);
    } else if (!strcmp(mode, "assert")) {
        assert(zero == 1 && "the answer");
    } else if (!strcmp(mode, "malloc")) {
        /* malloc_stats() prints to stderr while it holds the heap lock: a
         * stream whose write faults crashes with the lock held. */
        pthread_t t; /* no longer single-threaded: malloc locks */
        pthread_create(&t, NULL, idle, NULL);
        pthread_join(t, NULL);
        cookie_io_functions_t io = {.write = faulting_write};
        FILE *f = fopencookie(NULL, "w", io);
        setvbuf(f, NULL, _IONBF, 0);
        stderr = f;
        malloc_stats();
    }
}

static __attribute__((noinline)) void level2(void) {
    crash_here();
    __asm__ volatile("");
}

static __attribute__((noinline)) void level1(void) {
    level2();
    __asm__ volatile("");
}

static void *thread_main(void *arg) {
    (void)arg;
    level1();
    return NULL;
}

static void on_segv(int sig, siginfo_t *info, void *uc) {
    (void)uc;
    if (!strcmp(mode, "handler-exit")) {
        say("handled\n");
        _exit(3);
    } else if (!strcmp(mode, "handler-longjmp")) {
        siglongjmp(recover, 1);
    } else if (!strcmp(mode, "handler-refault")) {
        say("handled\n");
        signal(sig, SIG_DFL); /* return: the fault happens again, with the default */
    } else if (!strcmp(mode, "handler-fault")) {
        *(volatile int *)(long)zero = 1; /* a fault in the handler: the kernel kills */
    } else if (!strcmp(mode, "siginfo")) {
        char buf[96];
        snprintf(buf, sizeof buf, "code %d pid %d\n", info->si_code, (int)info->si_pid);
        say(buf);
        _exit(0);
    }
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    mode = argv[1];
    if (!strncmp(mode, "handler", 7) || !strcmp(mode, "siginfo")) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = on_segv;
        sa.sa_flags = SA_SIGINFO;
        sigaction(SIGSEGV, &sa, NULL);
        struct sigaction back;
        sigaction(SIGSEGV, NULL, &back);
        if (back.sa_sigaction != on_segv || !(back.sa_flags & SA_SIGINFO)) say("not ours\n");
    }
    if (!strcmp(mode, "runtime") && argc > 3) {
        /* A managed runtime (argv[2], fake_jvm.c) resumes argv[3] faults;
         * with argv[4] "crash" the next one is a crash. */
        void *lib = dlopen(argv[2], RTLD_NOW);
        void (*install)(void) = lib ? (void (*)(void))dlsym(lib, "runtime_install") : NULL;
        sigjmp_buf **resume = lib ? (sigjmp_buf **)dlsym(lib, "runtime_resume") : NULL;
        if (!install || !resume) return 2;
        install();
        static sigjmp_buf at;
        static volatile int resumed;
        int n = atoi(argv[3]);
        *resume = &at;
        sigsetjmp(at, 1);
        if (resumed < n) {
            resumed++;
            crash_here();
        }
        char buf[32];
        snprintf(buf, sizeof buf, "resumed %d\n", resumed);
        say(buf);
        if (argc > 4 && !strcmp(argv[4], "crash")) {
            *resume = NULL;
            crash_here();
        }
        return 0;
    }
    if (!strcmp(mode, "siginfo")) {
        kill(getpid(), SIGSEGV);
        return 1;
    }
    if (!strcmp(mode, "handler-longjmp")) {
        if (sigsetjmp(recover, 1)) {
            say("recovered\n");
            return 0;
        }
    }
    if (!strcmp(mode, "busy-segv")) {
        /* Thread spans ended for the worker to export (small batches, a
         * short delay), then a crash while it is busy. */
        for (int i = 0; i < 8; i++) {
            pthread_t t;
            pthread_create(&t, NULL, idle, NULL);
            pthread_join(t, NULL);
        }
        struct timespec ts = {0, 150 * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (!strncmp(mode, "thread-", 7)) {
        pthread_t t;
        pthread_attr_t a;
        pthread_attr_init(&a);
        pthread_attr_setstacksize(&a, 256 * 1024);
        pthread_create(&t, &a, thread_main, NULL);
        pthread_join(t, NULL);
        return 1;
    }
    level1();
    return 1;
}
