/* libc_probe: exercises every family of calls the shim interposes (stdio,
 * threads, fork, vfork, posix_spawn, system, popen, signals, syslog, err)
 * and prints what each did, for comparing a run with the shim against one
 * without. Built with musl-gcc (tests/deploy) and, for the musl flavour,
 * traced. Exits 3. `libc_probe tree` starts itself three ways (posix_spawn,
 * fork+exec, vfork+exec) as `libc_probe leaf N`, which exits N: a tree of
 * musl programs only. With LIBC_PROBE_EXEC_VIA=PROGRAM in the environment
 * it starts `PROGRAM self leaf N` instead: an emulator (qemu-aarch64-static)
 * where binfmt_misc does not run the target's programs. Built for glibc
 * and musl on aarch64 too (tests/deploy/test_arm64.py). */
#include <err.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

extern char **environ;

static void *thread_main(void *arg) {
    printf("thread %s\n", (const char *)arg);
    return arg;
}

/* Starts self (through via, when given) as `libc_probe leaf N`. */
static void leaf_argv(char **av, const char *via, char *self, char *n) {
    int i = 0;
    if (via) av[i++] = (char *)via;
    av[i++] = via ? self : "libc_probe";
    av[i++] = "leaf";
    av[i++] = n;
    av[i] = NULL;
}

static int tree(void) {
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) return 1;
    self[n] = '\0';
    const char *via = getenv("LIBC_PROBE_EXEC_VIA");
    const char *path = via ? via : self;
    char *av[6];
    int st = 0;
    volatile int sum = 0; /* kept across vfork */
    pid_t p;
    leaf_argv(av, via, self, "4");
    if (posix_spawn(&p, path, NULL, NULL, av, environ) == 0) waitpid(p, &st, 0);
    sum += WEXITSTATUS(st);
    leaf_argv(av, via, self, "5");
    p = fork();
    if (p == 0) {
        execv(path, av);
        _exit(127);
    }
    waitpid(p, &st, 0);
    sum += WEXITSTATUS(st);
    leaf_argv(av, via, self, "6");
    p = vfork();
    if (p == 0) {
        execv(path, av);
        _exit(127);
    }
    waitpid(p, &st, 0);
    sum += WEXITSTATUS(st);
    printf("tree %d\n", sum);
    return 0;
}

int main(int argc, char **argv) {
    if (argc > 2 && strcmp(argv[1], "leaf") == 0) return (int)strtol(argv[2], NULL, 10);
    if (argc > 1 && strcmp(argv[1], "tree") == 0) return tree();
    printf("argc=%d last=%s\n", argc, argv[argc - 1]);
    fputs("fputs\n", stdout);
    fwrite("fwrite\n", 1, 7, stdout);
    puts("puts");
    fflush(stdout);
    pthread_t t;
    if (pthread_create(&t, NULL, thread_main, "one") == 0) pthread_join(t, NULL);
    int st = 0;
    pid_t p = fork();
    if (p == 0) _exit(7);
    waitpid(p, &st, 0);
    printf("fork %d\n", WEXITSTATUS(st));
    p = vfork();
    if (p == 0) {
        execl("/bin/sh", "sh", "-c", "exit 6", (char *)0);
        _exit(9);
    }
    waitpid(p, &st, 0);
    printf("vfork %d\n", WEXITSTATUS(st));
    char *av[] = {"sh", "-c", "exit 4", NULL};
    if (posix_spawn(&p, "/bin/sh", NULL, NULL, av, environ) == 0) waitpid(p, &st, 0);
    printf("spawn %d\n", WEXITSTATUS(st));
    printf("system %d\n", WEXITSTATUS(system("exit 5")));
    FILE *f = popen("echo popen", "r");
    char line[64] = "";
    if (f) {
        if (!fgets(line, sizeof line, f)) line[0] = '\0';
        pclose(f);
    }
    printf("%s", line);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGUSR1, &sa, NULL);
    signal(SIGUSR2, SIG_IGN);
    struct sigaction now;
    sigaction(SIGUSR1, NULL, &now);
    printf("usr1 ignored %d\n", now.sa_handler == SIG_IGN);
    openlog("libc_probe", LOG_NDELAY, LOG_USER);
    syslog(LOG_INFO, "hello from %s", "libc_probe");
    closelog();
    warnx("warnx %d", 1);
    fprintf(stderr, "stderr line\n");
    return 3;
}
