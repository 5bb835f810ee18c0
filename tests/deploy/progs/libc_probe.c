/* libc_probe: exercises every family of calls the shim interposes (stdio,
 * threads, fork, vfork, posix_spawn, system, popen, signals, syslog, err)
 * and prints what each did, for comparing a run with the shim against one
 * without. Built with musl-gcc (tests/deploy) and, for the musl flavour,
 * traced. Exits 3. `libc_probe tree` starts itself three ways (posix_spawn,
 * fork+exec, vfork+exec) as `libc_probe leaf N`, which exits N: a tree of
 * musl programs only. */
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

static int tree(void) {
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) return 1;
    self[n] = '\0';
    int st = 0, sum = 0;
    pid_t p;
    char *spawned[] = {"libc_probe", "leaf", "4", NULL};
    if (posix_spawn(&p, self, NULL, NULL, spawned, environ) == 0) waitpid(p, &st, 0);
    sum += WEXITSTATUS(st);
    p = fork();
    if (p == 0) {
        execl(self, "libc_probe", "leaf", "5", (char *)0);
        _exit(127);
    }
    waitpid(p, &st, 0);
    sum += WEXITSTATUS(st);
    p = vfork();
    if (p == 0) {
        execl(self, "libc_probe", "leaf", "6", (char *)0);
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
