/* logging: logs the way argv[1] says, for the integration tests of the
 * logging hooks. Built twice: plain, and with -O2 -D_FORTIFY_SOURCE=2
 * (logging_fortify), where syslog and printf become __syslog_chk and
 * __printf_chk.
 *   syslog-levels      openlog, one syslog per level, a facility in the
 *                      priority, a masked priority, vsyslog, closelog
 *   syslog-perror      syslog with LOG_PERROR (the message on stderr too)
 *   percent-m          syslog with %m after a failed call
 *   errwarn            warn, warnx, vwarn, vwarnx, error, error_at_line
 *                      (with error_one_per_line), a message over 8 KiB
 *   err N | errx N | verr N | error-exit N | error-at-line-exit N
 *                      ends with exit code N through that call
 *   threads N          N threads each log (syslog, warnx), then main does
 *   fork               a fork child logs, then the parent
 *   million N          N warnx lines with stderr sent to /dev/null first;
 *                      prints the wall time on stdout
 *   streams            printf, puts, fputs, fwrite, putchar, write, writev,
 *                      dprintf, perror on stdout and stderr; a partial line
 *                      at the end
 *   streams-million N  N printf lines to stdout
 *   percent-n          syslog with %n in a writable format (a fortified
 *                      build aborts, shim or not)
 *   errno              sets errno before each hooked call and prints what
 *                      errno is after it
 *   streams-signal N   N printf lines while a 1 ms timer's handler writes
 *                      "tick" lines with write(2)
 * Exits 0 unless told otherwise. */
#include <err.h>
#include <errno.h>
#include <error.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>

static void v_syslog(int pri, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsyslog(pri, fmt, ap);
    va_end(ap);
}

static void v_warn(int with_errno, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    if (with_errno)
        vwarn(fmt, ap);
    else
        vwarnx(fmt, ap);
    va_end(ap);
}

static void v_err(int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    verr(code, fmt, ap);
}

/* vfprintf to f, or vprintf when f is NULL. */
static void v_print(FILE *f, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    if (f)
        vfprintf(f, fmt, ap);
    else
        vprintf(fmt, ap);
    va_end(ap);
}

static void *thread_main(void *arg) {
    int i = (int)(long)arg;
    syslog(LOG_INFO, "thread %d syslog", i);
    warnx("thread %d warnx", i);
    return NULL;
}

static void on_alarm(int sig) {
    (void)sig;
    int saved = errno;
    static const char tick[] = "tick\n";
    if (write(STDOUT_FILENO, tick, sizeof tick - 1) < 0) _exit(3);
    errno = saved;
}

/* Each call runs with errno set to a marker; what errno is after it is
 * printed (to a buffer, written at the end, so printing does not disturb
 * it). */
static char errno_log[4096];
static size_t errno_len;
static void note_errno(const char *what) {
    int e = errno;
    errno_len +=
        (size_t)snprintf(errno_log + errno_len, sizeof errno_log - errno_len, "%s %d\n", what, e);
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    const char *how = argv[1];
    int n = argc > 2 ? atoi(argv[2]) : 0;

    if (!strcmp(how, "syslog-levels")) {
        openlog("lg-ident", LOG_PID, LOG_LOCAL2);
        for (int level = LOG_EMERG; level <= LOG_DEBUG; level++)
            syslog(level, "level %d", level);
        syslog(LOG_MAIL | LOG_INFO, "mail facility");
        setlogmask(LOG_UPTO(LOG_ERR));
        syslog(LOG_INFO, "masked");
        setlogmask(LOG_UPTO(LOG_DEBUG));
        v_syslog(LOG_WARNING, "via %s", "vsyslog");
        closelog();
        syslog(LOG_NOTICE, "after closelog");
        return 0;
    }
    if (!strcmp(how, "syslog-perror")) {
        openlog("lg", LOG_PERROR, LOG_USER);
        syslog(LOG_ERR, "to stderr %s", "too");
        v_syslog(LOG_INFO, "and %d more", 1);
        return 0;
    }
    if (!strcmp(how, "percent-m")) {
        if (open("/nonexistent/file", O_RDONLY) < 0) syslog(LOG_ERR, "open failed: %m");
        return 0;
    }
    if (!strcmp(how, "errwarn")) {
        errno = ENOENT;
        warn("warn %s", "one");
        warnx("warnx %d", 2);
        errno = EACCES;
        v_warn(1, "vwarn %s", "three");
        v_warn(0, "vwarnx %s", "four");
        errno = EPERM;
        warn(NULL);
        error(0, EIO, "error %s", "five");
        error(0, 0, "error without errno");
        error_one_per_line = 1;
        error_at_line(0, ENOSPC, "file.c", 42, "at line %d", 42);
        error_at_line(0, ENOSPC, "file.c", 42, "suppressed repeat");
        error_at_line(0, 0, "file.c", 43, "next line");
        char *big = malloc(9000);
        if (!big) return 3;
        memset(big, 'x', 8999);
        big[8999] = '\0';
        warnx("big %s", big);
        error(0, 0, "big error %s", big);
        free(big);
        fflush(stdout);
        return 0;
    }
    if (!strcmp(how, "err")) {
        errno = ENOENT;
        err(n, "fatal %s", "err");
    }
    if (!strcmp(how, "errx")) errx(n, "fatal %s", "errx");
    if (!strcmp(how, "verr")) {
        errno = EBADF;
        v_err(n, "fatal %s", "verr");
    }
    if (!strcmp(how, "error-exit")) error(n, EIO, "fatal %s", "error");
    if (!strcmp(how, "error-at-line-exit")) error_at_line(n, 0, "main.c", 7, "fatal at line");
    if (!strcmp(how, "threads")) {
        pthread_t t[64];
        if (n > 64) n = 64;
        for (int i = 0; i < n; i++)
            pthread_create(&t[i], NULL, thread_main, (void *)(long)i);
        for (int i = 0; i < n; i++)
            pthread_join(t[i], NULL);
        syslog(LOG_INFO, "main syslog");
        return 0;
    }
    if (!strcmp(how, "fork")) {
        pid_t pid = fork();
        if (pid == 0) {
            syslog(LOG_INFO, "from the child");
            exit(0);
        }
        int status;
        waitpid(pid, &status, 0);
        syslog(LOG_INFO, "from the parent");
        return 0;
    }
    if (!strcmp(how, "million")) {
        int fd = open("/dev/null", O_WRONLY);
        if (fd < 0 || dup2(fd, 2) < 0) return 3;
        double t0 = now_ms();
        for (int i = 0; i < n; i++)
            warnx("line %d of the million", i);
        printf("elapsed_ms=%.1f\n", now_ms() - t0);
        return 0;
    }
    if (!strcmp(how, "streams")) {
        printf("printf %d\n", 1);
        puts("puts");
        fputs("fputs to ", stderr);
        fputs("stderr\n", stderr);
        fwrite("fwrite\n", 1, 7, stdout);
        putchar('c');
        putchar('\n');
        fflush(stdout);
        if (write(1, "write ", 6) < 0 || write(1, "in two\n", 7) < 0) return 3;
        struct iovec iov[2] = {{"writev ", 7}, {"line\n", 5}};
        if (writev(2, iov, 2) < 0) return 3;
        dprintf(1, "dprintf %s\n", "line");
        errno = ENOENT;
        perror("perror");
        fprintf(stdout, "fprintf %d\n", 2);
        v_print(stderr, "vfprintf %d\n", 3);
        v_print(NULL, "vprintf %d\n", 4);
        const char *volatile dyn = "fputs dynamic\n"; /* not turned into fwrite */
        fputs(dyn, stdout);
        fputs_unlocked(dyn, stdout);
        fwrite_unlocked(dyn, 1, strlen(dyn), stdout);
        fputc('f', stdout);
        putc('\n', stdout);
        putchar_unlocked('u');
        fputc_unlocked('\n', stdout);
        char *big = malloc(6000);
        if (!big) return 3;
        memset(big, 'y', 5999);
        big[5999] = '\0';
        printf("%s\n", big); /* more than a printf capture keeps: cut */
        free(big);
        printf("partial at exit");
        return 0;
    }
    if (!strcmp(how, "percent-n")) {
        char fmt[] = "count%n";
        int count = 0;
        syslog(LOG_ERR, fmt, &count);
        printf("count=%d\n", count);
        return 0;
    }
    if (!strcmp(how, "errno")) {
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull < 0 || dup2(devnull, 2) < 0) return 3;
        errno = EDOM;
        syslog(LOG_INFO, "x");
        note_errno("syslog");
        errno = EDOM;
        syslog(LOG_INFO, "failed: %m");
        note_errno("syslog-m");
        errno = EDOM;
        warnx("x");
        note_errno("warnx");
        errno = EDOM;
        warn("x");
        note_errno("warn");
        errno = EDOM;
        error(0, EIO, "x");
        note_errno("error");
        errno = EDOM;
        openlog("x", 0, LOG_USER);
        note_errno("openlog");
        errno = EDOM;
        printf("x\n");
        note_errno("printf");
        errno = EDOM;
        fputs("x\n", stdout);
        note_errno("fputs");
        errno = EDOM;
        if (write(devnull, "x\n", 2) < 0) return 3;
        note_errno("write");
        errno = EDOM;
        if (write(-1, "x", 1) >= 0) return 3; /* EBADF from the real call */
        note_errno("write-ebadf");
        errno = EDOM;
        perror("x");
        note_errno("perror");
        fflush(stdout);
        if (write(STDOUT_FILENO, errno_log, errno_len) < 0) return 3;
        return 0;
    }
    if (!strcmp(how, "streams-signal")) {
        signal(SIGALRM, on_alarm);
        struct itimerval it = {{0, 1000}, {0, 1000}};
        setitimer(ITIMER_REAL, &it, NULL);
        for (int i = 0; i < n; i++)
            printf("main line %d\n", i);
        struct itimerval off = {{0, 0}, {0, 0}};
        setitimer(ITIMER_REAL, &off, NULL);
        return 0;
    }
    if (!strcmp(how, "streams-million")) {
        for (int i = 0; i < n; i++)
            printf("stdout line %d\n", i);
        return 0;
    }
    return 2;
}
