/* bench_store.h: what the store benchmarks (bench_store, bench_store_metrics) share: decoded
 * OTLP values built in place, a fresh store without retention, a process's resource and scope,
 * the ingest line (rate, and per CPU second) and the peak RSS line.
 * Depends on server/store.h and bench.h. */
#ifndef OTELP_TESTS_BENCH_STORE_H
#define OTELP_TESTS_BENCH_STORE_H

#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "server/store.h"
#include "tests/bench/bench.h"

static inline void bench_str(struct otlp_value *v, const char *s) {
    v->type = OTLP_VALUE_STRING;
    v->str = (char *)s;
    v->len = strlen(s);
}

static inline void bench_num(struct otlp_value *v, int64_t i) {
    v->type = OTLP_VALUE_INT;
    v->i = i;
}

/* A new store at path (an old file removed), retention out of the way; exits 1 on failure. */
static inline struct store *bench_store_open(const char *prog, const char *path) {
    char err[512];
    struct store *st;
    unlink(path);
    if (store_open(path, &st, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s: %s\n", prog, err);
        exit(1);
    }
    store_set_limits(st, 1000000, (int64_t)1 << 40);
    return st;
}

/* A process's resource (service.name, service.instance.id first; the caller adds the rest)
 * and the shim's scope. */
static inline void bench_process(struct otlp_resource *res, struct otlp_attr *r, size_t n_attrs,
                                 const char *service, const char *uuid, struct otlp_scope *scope) {
    r[0].key = "service.name";
    bench_str(&r[0].value, service);
    r[1].key = "service.instance.id";
    bench_str(&r[1].value, uuid);
    res->present = true;
    res->attrs.items = r;
    res->attrs.count = n_attrs;
    scope->name = "otel-preload";
    scope->version = "0.1.0";
}

/* CPU seconds (user + system) of this process since `from`. */
static inline double bench_cpu_since(const struct rusage *from) {
    struct rusage now;
    getrusage(RUSAGE_SELF, &now);
    return (double)(now.ru_utime.tv_sec - from->ru_utime.tv_sec + now.ru_stime.tv_sec -
                    from->ru_stime.tv_sec) +
           (double)(now.ru_utime.tv_usec - from->ru_utime.tv_usec + now.ru_stime.tv_usec -
                    from->ru_stime.tv_usec) /
               1e6;
}

/* "result ingest_WHAT_per_s=... WHAT=n seconds=... per_cpu_s=..." (per CPU second too: on a
 * shared machine the wall rate measures the others). */
static inline void bench_ingest_result(const char *what, long n, uint64_t t0_ns,
                                       const struct rusage *ru0) {
    double secs = (double)(bench_now_ns() - t0_ns) / 1e9;
    double cpu = bench_cpu_since(ru0);
    printf("result ingest_%s_per_s=%.0f %s=%ld seconds=%.1f per_cpu_s=%.0f\n", what,
           (double)n / secs, what, n, secs, cpu > 0 ? (double)n / cpu : 0);
}

static inline void bench_peak_rss_result(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("result peak_rss_mib=%.1f\n", (double)ru.ru_maxrss / 1024.0);
}

#endif
