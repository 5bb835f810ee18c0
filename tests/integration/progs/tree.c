/* tree: starts children and threads every way the process-tree hooks
 * cover, as argv[1] says; prints what the tests compare. */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static void wait_for(pid_t pid) {
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
}

static void *idle(void *arg) {
    (void)arg;
    return NULL;
}

/* Kernel thread ids of the "threads" mode's four joined threads, printed
 * for the test to compare with the spans' thread.id. */
static pid_t joined_tids[4];

static void *named_by_setname(void *arg) {
    (void)arg;
    joined_tids[0] = (pid_t)syscall(SYS_gettid);
    pthread_setname_np(pthread_self(), "setname-th");
    return NULL;
}

static void *named_by_prctl(void *arg) {
    (void)arg;
    joined_tids[1] = (pid_t)syscall(SYS_gettid);
    prctl(PR_SET_NAME, "prctl-th", 0, 0, 0);
    return NULL;
}

static void *idle_noting_tid(void *arg) {
    (void)arg;
    joined_tids[2] = (pid_t)syscall(SYS_gettid);
    return NULL;
}

static void *exits_early(void *arg) {
    joined_tids[3] = (pid_t)syscall(SYS_gettid);
    pthread_exit(arg);
    return NULL;
}

static void *waits(void *barrier) {
    pthread_barrier_wait(barrier);
    return NULL;
}

static atomic_int forever_started;

static void *forever(void *arg) {
    atomic_store(&forever_started, 1);
    while (!arg)
        pause();
    return NULL;
}

static void *spinner(void *arg) {
    volatile int *stop = arg;
    while (!*stop) {
        pthread_t t;
        if (pthread_create(&t, NULL, idle, NULL) == 0) pthread_join(t, NULL);
    }
    return NULL;
}

/* reap-in-handler: children are reaped only by a SIGCHLD handler. */
static volatile sig_atomic_t reaped, reaped_ok;

static void on_chld(int sig) {
    (void)sig;
    int saved = errno, status;
    pid_t p;
    while ((p = waitpid(-1, &status, WNOHANG)) > 0) {
        reaped++;
        if (WIFEXITED(status) && WEXITSTATUS(status) == 3) reaped_ok++;
    }
    errno = saved;
}

int main(int argc, char **argv) {
    const char *how = argc > 1 ? argv[1] : "";
    char *true_argv[] = {"true", NULL};
    pid_t pid;
    if (!strcmp(how, "spawn")) {
        if (posix_spawnp(&pid, "true", NULL, NULL, true_argv, environ)) return 1;
        wait_for(pid);
    } else if (!strcmp(how, "spawn-fail")) {
        /* a file that is not executable, and a name PATH does not have */
        char *argv0[] = {"x", NULL};
        int a = posix_spawn(&pid, "/dev/null", NULL, NULL, argv0, environ);
        int b = posix_spawnp(&pid, "otelp-no-such-program", NULL, NULL, argv0, environ);
        printf("spawn=%d spawnp=%d\n", a, b);
    } else if (!strcmp(how, "system")) {
        printf("system=%d\n", system("exit 3"));
    } else if (!strcmp(how, "popen")) {
        FILE *f = popen("echo from-popen; exit 2", "r");
        char line[64] = "";
        if (!f || !fgets(line, sizeof line, f)) return 1;
        printf("%sstatus=%d\n", line, pclose(f));
    } else if (!strcmp(how, "reap-in-handler")) {
        /* Three children exit 3; the main thread only sleeps until the
         * handler has reaped them all (bounded). */
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_chld;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = SA_RESTART;
        sigaction(SIGCHLD, &sa, NULL);
        char *exit3_argv[] = {"sh", "-c", "exit 3", NULL};
        for (int i = 0; i < 3; i++)
            if (posix_spawnp(&pid, "sh", NULL, NULL, exit3_argv, environ)) return 1;
        for (int i = 0; i < 1000 && reaped < 3; i++) {
            struct timespec ts = {0, 10 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        printf("reaped=%d ok=%d\n", (int)reaped, (int)reaped_ok);
    } else if (!strcmp(how, "reuse-relay-fd")) {
        /* The program closes the shim's descriptors (high numbers) behind
         * the hooks' back (raw system calls, as closefrom and some runtimes
         * do: fcntl and close would see nothing there) and puts a
         * listening socket of its own on one of those numbers, with a
         * connection waiting; the shim's next drain (after the second
         * child) must leave that connection alone. */
        if (posix_spawnp(&pid, "true", NULL, NULL, true_argv, environ)) return 1;
        wait_for(pid);
        int taken = -1;
        for (int fd = 900; fd < 1024; fd++) {
            char path[64], link[64];
            snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
            ssize_t n = readlink(path, link, sizeof link - 1);
            if (n > 7 && !memcmp(link, "socket:", 7) && taken < 0) taken = fd;
        }
        if (taken < 0) {
            puts("no shim descriptor");
            return 0;
        }
        syscall(SYS_close, taken);
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        snprintf(a.sun_path + 1, sizeof a.sun_path - 1, "tree-test-%d", (int)getpid());
        socklen_t alen =
            (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(a.sun_path + 1));
        int l = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0);
        if (l < 0 || syscall(SYS_dup3, l, taken, 0) < 0 || /* aarch64 has no SYS_dup2 */
            bind(taken, (struct sockaddr *)&a, alen) < 0 || listen(taken, 4) < 0)
            return 1;
        int c = socket(AF_UNIX, SOCK_SEQPACKET, 0);
        if (c < 0 || connect(c, (struct sockaddr *)&a, alen) < 0) return 1;
        if (posix_spawnp(&pid, "true", NULL, NULL, true_argv, environ)) return 1;
        wait_for(pid);
        puts(accept(taken, NULL, NULL) >= 0 ? "connection kept" : "connection stolen");
    } else if (!strcmp(how, "fork-exec")) {
        if ((pid = fork()) == 0) {
            execvp("true", true_argv);
            _exit(127);
        }
        wait_for(pid);
    } else if (!strcmp(how, "vfork-exec")) {
        if ((pid = vfork()) == 0) {
            execve("/bin/true", true_argv, environ);
            _exit(127);
        }
        wait_for(pid);
    } else if (!strcmp(how, "vfork-close-all")) {
        /* What Python's subprocess does in its vfork child: every
         * descriptor above 2 closed (close_range, then close one by one,
         * as without close_range), SIGPIPE back to the default, then
         * exec. The parent's own (its telemetry's, its SIGPIPE ignored)
         * are unchanged by it: it still exports, and says SIG_IGN. */
        signal(SIGPIPE, SIG_IGN);
        if ((pid = vfork()) == 0) {
            close_range(3U, ~0U, 0);
            for (int fd = 3; fd < 1024; fd++)
                close(fd);
            signal(SIGPIPE, SIG_DFL);
            struct sigaction dfl;
            memset(&dfl, 0, sizeof dfl);
            dfl.sa_handler = SIG_DFL;
            sigaction(SIGSEGV, &dfl, NULL);
            execve("/bin/true", true_argv, environ);
            _exit(127);
        }
        wait_for(pid);
        struct sigaction now;
        sigaction(SIGPIPE, NULL, &now);
        printf("SIGPIPE %s\n", now.sa_handler == SIG_IGN ? "ignored" : "not ignored");
    } else if (!strcmp(how, "fexecve")) {
        if ((pid = fork()) == 0) {
            int fd = open("/bin/true", O_RDONLY | O_CLOEXEC);
            fexecve(fd, true_argv, environ);
            _exit(127);
        }
        wait_for(pid);
    } else if (!strcmp(how, "execveat")) {
        if ((pid = fork()) == 0) {
            int dir = open("/bin", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            execveat(dir, "true", true_argv, environ, 0);
            _exit(127);
        }
        wait_for(pid);
    } else if (!strcmp(how, "execl")) {
        if ((pid = fork()) == 0) {
            execl("/bin/sh", "sh", "-c", "exit 0", (char *)NULL);
            _exit(127);
        }
        wait_for(pid);
    } else if (!strcmp(how, "execle-env")) {
        /* the child's env: ours plus the carriers (it carries the shim:
         * a child that does not gets none) */
        char preload[4096];
        snprintf(preload, sizeof preload, "LD_PRELOAD=%s",
                 getenv("LD_PRELOAD") ? getenv("LD_PRELOAD") : "");
        char *env[] = {"MINE=1", preload, NULL};
        if ((pid = fork()) == 0) {
            execle("/usr/bin/env", "env", (char *)NULL, env);
            _exit(127);
        }
        wait_for(pid);
        printf("own TRACEPARENT=%s\n", getenv("TRACEPARENT") ? getenv("TRACEPARENT") : "(none)");
    } else if (!strcmp(how, "argv-rewritten")) {
        /* programs rewrite their argv (option parsers, setproctitle) */
        argv[1] = NULL;
        argv[0] = "renamed";
        if ((pid = fork()) == 0) exit(6);
        wait_for(pid);
    } else if (!strcmp(how, "fork-noexec")) {
        if ((pid = fork()) == 0) exit(3);
        wait_for(pid);
    } else if (!strcmp(how, "exec-self")) {
        execl("/bin/sh", "sh", "-c", "exit 4", (char *)NULL);
        return 1;
    } else if (!strcmp(how, "exec-fail")) {
        execl("/nonexistent/prog", "prog", (char *)NULL);
        int e1 = errno;
        execl("/etc/hostname", "hostname", (char *)NULL); /* exists, not executable */
        int e2 = errno;
        printf("errno=%d,%d\n", e1, e2);
        return 5;
    } else if (!strcmp(how, "many-threads") && argc > 2) {
        /* argv[2] threads alive at once (more than the shim's table of
         * live threads holds), then all of them end. */
        int n = atoi(argv[2]);
        pthread_t *t = calloc((size_t)n, sizeof *t);
        pthread_barrier_t all;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setstacksize(&attr, 256 << 10);
        pthread_barrier_init(&all, NULL, (unsigned)n + 1);
        int started = 0;
        while (t && started < n && pthread_create(&t[started], &attr, waits, &all) == 0)
            started++;
        if (started < n) return 1;
        pthread_barrier_wait(&all);
        for (int i = 0; i < n; i++)
            pthread_join(t[i], NULL);
        free(t);
    } else if (!strcmp(how, "threads")) {
        pthread_t t[4];
        pthread_create(&t[0], NULL, named_by_setname, NULL);
        pthread_create(&t[1], NULL, named_by_prctl, NULL);
        pthread_create(&t[2], NULL, idle_noting_tid, NULL);
        pthread_create(&t[3], NULL, exits_early, NULL);
        for (int i = 0; i < 4; i++)
            pthread_join(t[i], NULL);
        printf("tids=%d,%d,%d,%d\n", (int)joined_tids[0], (int)joined_tids[1], (int)joined_tids[2],
               (int)joined_tids[3]);
        fflush(stdout);
        pthread_t other;
        pthread_create(&other, NULL, forever, NULL);
        pthread_setname_np(other, "renamed-th");
        /* exit with `other` still running: its span is cut short. It must
         * have started (a loaded machine may not have run it yet): wait for
         * that, bounded at 5 s, then give the rename a moment. */
        struct timespec ts = {0, 1000000};
        for (int i = 0; i < 5000 && !atomic_load(&forever_started); i++)
            nanosleep(&ts, NULL);
        ts.tv_nsec = 20 * 1000000;
        nanosleep(&ts, NULL);
        exit(0);
    } else if (!strcmp(how, "fork-storm")) {
        /* forks while other threads create threads (their spans keep the
         * exporter busy): must never deadlock */
        int n = argc > 2 ? atoi(argv[2]) : 100;
        volatile int stop = 0;
        pthread_t spin[2];
        for (int i = 0; i < 2; i++)
            pthread_create(&spin[i], NULL, spinner, (void *)&stop);
        for (int i = 0; i < n; i++) {
            if ((pid = fork()) == 0) {
                pthread_t t;
                pthread_create(&t, NULL, idle, NULL);
                pthread_join(t, NULL);
                _exit(i % 2 ? 0 : 1);
            }
            wait_for(pid);
        }
        stop = 1;
        for (int i = 0; i < 2; i++)
            pthread_join(spin[i], NULL);
        printf("forked %d\n", n);
    } else {
        return 2;
    }
    return 0;
}
