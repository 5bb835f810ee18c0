/* bench_log: the cost of a logging call, measured inside an uninstrumented
 * program that scripts/bench runs with and without the shim in LD_PRELOAD
 * (alternating, several rounds): the ratio of the two is what a program
 * pays for its logging calls under the shim.
 *
 * Usage: bench_log CALL [CALLS [WARMUP]]   (defaults 20000, 2000)
 *   CALL is syslog (syslog(LOG_INFO, ...), as many daemons call it; with no
 *   syslog daemon listening glibc tries to connect on every call) or warnx
 *   (to stderr, sent to /dev/null first).
 * The calls are timed after WARMUP untimed ones (the shim's first record
 * sets up its queue); prints "result log_<CALL>_ns=<wall ns per call>
 * thread_cpu_ns=<the calling thread's CPU time per call> process_cpu_ns=<all
 * threads' CPU time per call, the shim's export thread included> ..." and
 * whether /dev/log exists (a listening daemon changes the baseline). The
 * thread CPU time is what the call itself costs, undisturbed by other load
 * on the machine; the wall time is what the program waits.
 * Depends on libc. */
#include <err.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "tests/bench/bench.h"

static uint64_t cpu_ns(clockid_t clock) {
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void call(int is_syslog, long i) {
    if (is_syslog)
        syslog(LOG_INFO, "request %ld served in %d ms from %s", i, 42, "10.0.0.7");
    else
        warnx("request %ld served in %d ms from %s", i, 42, "10.0.0.7");
}

int main(int argc, char **argv) {
    if (argc < 2 || (strcmp(argv[1], "syslog") && strcmp(argv[1], "warnx"))) {
        fprintf(stderr, "usage: bench_log syslog|warnx [CALLS [WARMUP]]\n");
        return 2;
    }
    int is_syslog = !strcmp(argv[1], "syslog");
    long calls = bench_arg(argc, argv, 2, 20000);
    long warmup = argc > 3 ? bench_arg(argc, argv, 3, 2000) : 2000;
    if (!is_syslog) {
        int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
        if (fd < 0 || dup2(fd, STDERR_FILENO) < 0) return 1;
        close(fd);
    } else {
        openlog("bench_log", LOG_PID, LOG_DAEMON);
    }
    for (long i = 0; i < warmup; i++)
        call(is_syslog, i);
    uint64_t t0 = bench_now_ns(), c0 = cpu_ns(CLOCK_THREAD_CPUTIME_ID),
             p0 = cpu_ns(CLOCK_PROCESS_CPUTIME_ID);
    for (long i = 0; i < calls; i++)
        call(is_syslog, i);
    double ns = (double)(bench_now_ns() - t0) / (double)calls;
    double cpu = (double)(cpu_ns(CLOCK_THREAD_CPUTIME_ID) - c0) / (double)calls;
    double pcpu = (double)(cpu_ns(CLOCK_PROCESS_CPUTIME_ID) - p0) / (double)calls;
    struct stat st;
    printf("result log_%s_ns=%.1f thread_cpu_ns=%.1f process_cpu_ns=%.1f calls=%ld dev_log=%s\n",
           argv[1], ns, cpu, pcpu, calls, stat("/dev/log", &st) == 0 ? "present" : "absent");
    return 0;
}
