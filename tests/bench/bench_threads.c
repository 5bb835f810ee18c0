/* bench_threads: thread creation cost, COUNT x (pthread_create +
 * pthread_join) of a trivial thread, one at a time, timed as a whole.
 * Under the shim every thread is a span (hooks/threads.c), so this is the
 * per-thread cost of the trampoline, the span and its export by the
 * worker; scripts/bench runs it with and without the shim, alternated.
 *
 * Prints "result threads_ms=<wall ms> cpu_ms=<user+system ms> count=N"
 * (the loop only: process start and exit are not in it) and the
 * per-thread wall time in microseconds.
 *
 * Usage: bench_threads [COUNT]   (default 20000)
 * Depends on libc and pthreads. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "tests/bench/bench.h"

static void *trivial(void *arg) {
    BENCH_KEEP(arg);
    return arg;
}

static double cpu_ms(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

int main(int argc, char **argv) {
    long count = bench_arg(argc, argv, 1, 20000);

    double c0 = cpu_ms();
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < count; i++) {
        pthread_t th;
        int rc = pthread_create(&th, NULL, trivial, (void *)i);
        if (rc != 0) {
            fprintf(stderr, "bench_threads: pthread_create #%ld: %s\n", i, strerror(rc));
            return 1;
        }
        void *ret;
        rc = pthread_join(th, &ret);
        if (rc != 0 || ret != (void *)i) {
            fprintf(stderr, "bench_threads: pthread_join #%ld: %s\n", i,
                    rc ? strerror(rc) : "wrong return value");
            return 1;
        }
    }
    uint64_t t1 = bench_now_ns();
    double c1 = cpu_ms();

    double ms = (double)(t1 - t0) / 1e6;
    printf("result threads_ms=%.2f cpu_ms=%.1f count=%ld\n", ms, c1 - c0, count);
    printf("threads: %.2f us per create+join\n", ms * 1e3 / (double)count);
    return 0;
}
