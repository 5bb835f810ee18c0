/* bench: timing helpers shared by the benchmark programs (monotonic clock,
 * median of per-round samples, the "result NAME=VALUE" lines scripts/bench
 * parses). Benchmarks print numbers; they never assert on them.
 * Depends on libc. */
#ifndef OTELP_TESTS_BENCH_H
#define OTELP_TESTS_BENCH_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static inline uint64_t bench_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int bench_cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Sorts v in place; returns the median. */
static inline double bench_median(double *v, size_t n) {
    qsort(v, n, sizeof *v, bench_cmp_double);
    if (!n) return 0;
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* One line per measured quantity: median over rounds, and the best round. */
static inline void bench_report(const char *name, double *samples, size_t n) {
    double med = bench_median(samples, n);
    printf("result %s=%.1f min=%.1f max=%.1f rounds=%zu\n", name, med, samples[0], samples[n - 1],
           n);
}

/* A positive integer argument, or def when absent; exits 2 on garbage. */
static inline long bench_arg(int argc, char **argv, int i, long def) {
    if (argc <= i) return def;
    char *end;
    long v = strtol(argv[i], &end, 10);
    if (*end || v <= 0) {
        fprintf(stderr, "bad argument '%s': a positive integer is needed\n", argv[i]);
        exit(2);
    }
    return v;
}

/* Keeps the compiler from optimising a value away. */
#define BENCH_KEEP(x) __asm__ volatile("" : : "g"(x) : "memory")

#endif
