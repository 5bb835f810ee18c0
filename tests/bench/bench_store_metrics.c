/* bench_store_metrics: the local store's metric ingest rate and the metrics retriever's query
 * times (scripts/bench section n). Depends on server/ (store, retrieve) and bench.h.
 *
 *   bench_store_metrics DB [POINTS] [PROCESSES]
 *
 * Builds a store of POINTS data points (default 1,000,000) of the shape
 * long-lived processes under the shim report every export interval: per
 * process (its own resource) and interval, process.cpu.time (cumulative sum,
 * cpu.mode user/system), process.memory.usage and .virtual (gauges),
 * process.disk.io (direction read/write), process.context_switches (type
 * voluntary/involuntary), process.paging.faults, process.thread.count,
 * process.open_file_descriptor.count and one explicit-bucket histogram of 16
 * buckets: 13 points. PROCESSES (default 1,000) processes per interval, 50
 * processes per request (store_write_metrics, the receiver's path after
 * decoding), intervals of 10 s until POINTS are written. Then times, median
 * over 9 rounds, each through retrieve() as the CLI and the HTTP API call it:
 *   - the list of metric names (`otel-preload metrics`);
 *   - one series' latest 1,000 raw points, JSON (process.cpu.time where
 *     cpu.mode = "user" and process.pid = one process);
 *   - rate per 60 s step of every process.cpu.time series (a chart), JSON;
 *   - last value of every process.memory.usage series, table;
 * and prints the process's peak RSS after them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "server/retrieve.h"
#include "tests/bench/bench_store.h"

#define PER_REQUEST 50
#define METRICS 10
#define MAX_POINTS_PER_METRIC 2

struct def {
    const char *name, *unit, *key, *v0, *v1;
    enum otlp_metric_type type;
    bool is_int;
};

static const struct def DEFS[METRICS] = {
    {"process.cpu.time", "s", "cpu.mode", "user", "system", OTLP_METRIC_SUM, false},
    {"process.memory.usage", "By", NULL, NULL, NULL, OTLP_METRIC_GAUGE, true},
    {"process.memory.virtual", "By", NULL, NULL, NULL, OTLP_METRIC_GAUGE, true},
    {"process.disk.io", "By", "disk.io.direction", "read", "write", OTLP_METRIC_SUM, true},
    {"process.context_switches", "{count}", "process.context_switch_type", "voluntary",
     "involuntary", OTLP_METRIC_SUM, true},
    {"process.paging.faults", "{fault}", NULL, NULL, NULL, OTLP_METRIC_SUM, true},
    {"process.thread.count", "{thread}", NULL, NULL, NULL, OTLP_METRIC_GAUGE, true},
    {"process.open_file_descriptor.count", "{count}", NULL, NULL, NULL, OTLP_METRIC_GAUGE, true},
    {"otel.sdk.span.exported", "{span}", NULL, NULL, NULL, OTLP_METRIC_SUM, true},
    {"app.request.duration", "s", NULL, NULL, NULL, OTLP_METRIC_HISTOGRAM, false},
};

static double run_ms(sqlite3 *db, const struct retrieve_opts *o) {
    struct sbuf out = {0};
    char err[512];
    uint64_t t0 = bench_now_ns();
    if (retrieve(db, o, &out, err, sizeof(err)) != 0) {
        fprintf(stderr, "bench_store_metrics: %s\n", err);
        exit(1);
    }
    double ms = (double)(bench_now_ns() - t0) / 1e6;
    if (out.len < 10) fprintf(stderr, "bench_store_metrics: empty answer for %s\n", o->name);
    sbuf_free(&out);
    return ms;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: bench_store_metrics DB [POINTS] [PROCESSES]\n");
        return 2;
    }
    const char *path = argv[1];
    long total = bench_arg(argc, argv, 2, 1000000);
    long procs = bench_arg(argc, argv, 3, 1000);
    if (procs < PER_REQUEST) procs = PER_REQUEST;
    char err[512];
    struct store *st = bench_store_open("bench_store_metrics", path);

    struct otlp_resource_metrics *rm = calloc(PER_REQUEST, sizeof(*rm));
    struct otlp_scope_metrics *sm = calloc(PER_REQUEST, sizeof(*sm));
    struct otlp_metric *mt = calloc((size_t)PER_REQUEST * METRICS, sizeof(*mt));
    struct otlp_point *pt =
        calloc((size_t)PER_REQUEST * METRICS * MAX_POINTS_PER_METRIC, sizeof(*pt));
    struct otlp_attr *pattrs =
        calloc((size_t)PER_REQUEST * METRICS * MAX_POINTS_PER_METRIC, sizeof(*pattrs));
    struct otlp_attr *rattrs = calloc((size_t)PER_REQUEST * 3, sizeof(*rattrs));
    char(*uuid)[40] = calloc(PER_REQUEST, 40);
    static uint64_t counts[16];
    static double bounds[15];
    for (int i = 0; i < 15; i++)
        bounds[i] = 0.001 * (double)(1 << i);
    uint64_t start = (uint64_t)time(NULL) * 1000000000ULL - 86400ULL * 1000000000ULL;
    long written = 0;
    struct rusage ru0;
    getrusage(RUSAGE_SELF, &ru0);
    uint64_t t0 = bench_now_ns();
    for (long interval = 0; written < total; interval++) {
        uint64_t now = start + (uint64_t)interval * 10000000000ULL;
        for (long first = 0; first < procs && written < total; first += PER_REQUEST) {
            size_t np = 0;
            for (int i = 0; i < PER_REQUEST; i++) {
                long proc = first + i;
                struct otlp_attr *r = &rattrs[i * 3];
                snprintf(uuid[i], 40, "uuid-%ld", proc);
                bench_process(&rm[i].resource, r, 3, "daemon", uuid[i], &sm[i].scope);
                r[2].key = "process.pid";
                bench_num(&r[2].value, 1000 + proc);
                rm[i].schema_url = "";
                rm[i].scope_metrics = &sm[i];
                rm[i].n_scope_metrics = 1;
                sm[i].has_scope = true;
                sm[i].schema_url = "";
                sm[i].metrics = &mt[i * METRICS];
                sm[i].n_metrics = METRICS;
                for (int m = 0; m < METRICS; m++) {
                    const struct def *d = &DEFS[m];
                    struct otlp_metric *x = &mt[i * METRICS + m];
                    x->name = (char *)d->name;
                    x->description = "";
                    x->unit = (char *)d->unit;
                    x->type = d->type;
                    x->temporality = d->type == OTLP_METRIC_GAUGE ? 0 : 2;
                    x->monotonic = d->type == OTLP_METRIC_SUM;
                    x->points = &pt[(i * METRICS + m) * MAX_POINTS_PER_METRIC];
                    x->n_points = d->key ? 2 : 1;
                    for (size_t k = 0; k < x->n_points; k++) {
                        struct otlp_point *p = &x->points[k];
                        memset(p, 0, sizeof(*p));
                        p->start_time_unix_nano = start;
                        p->time_unix_nano = now;
                        if (d->key) {
                            struct otlp_attr *a =
                                &pattrs[(i * METRICS + m) * MAX_POINTS_PER_METRIC + k];
                            a->key = (char *)d->key;
                            bench_str(&a->value, k ? d->v1 : d->v0);
                            p->attrs.items = a;
                            p->attrs.count = 1;
                        }
                        if (d->type == OTLP_METRIC_HISTOGRAM) {
                            for (int b = 0; b < 16; b++)
                                counts[b] = (uint64_t)(interval * (b + 1));
                            p->count = (uint64_t)interval * 136;
                            p->has_sum = true;
                            p->sum = 0.5 * (double)interval;
                            p->bucket_counts = counts;
                            p->n_bucket_counts = 16;
                            p->explicit_bounds = bounds;
                            p->n_explicit_bounds = 15;
                        } else {
                            p->has_value = true;
                            p->is_int = d->is_int;
                            p->as_int = interval * 1000 + proc + (long)k;
                            p->as_double = 0.01 * (double)interval * (double)(k + 1);
                        }
                        np++;
                    }
                }
            }
            struct otlp_metrics req = {.resource_metrics = rm, .n_resource_metrics = PER_REQUEST};
            int64_t rej;
            if (store_write_metrics(st, &req, &rej, err, sizeof(err)) != 0 || rej != 0) {
                fprintf(stderr, "bench_store_metrics: %s\n", err);
                return 1;
            }
            written += (long)np;
        }
    }
    bench_ingest_result("points", written, t0, &ru0);
    store_close(st);

    sqlite3 *db = retrieve_open(path, err, sizeof(err));
    if (db == NULL) {
        fprintf(stderr, "bench_store_metrics: %s\n", err);
        return 1;
    }
    enum { ROUNDS = 9 };
    double names[ROUNDS], series[ROUNDS], rate[ROUNDS], last[ROUNDS];
    for (int r = 0; r < ROUNDS; r++) {
        struct retrieve_opts o = {.what = RETRIEVE_METRICS, .format = RETRIEVE_TABLE};
        names[r] = run_ms(db, &o);
        o = (struct retrieve_opts){.what = RETRIEVE_METRICS,
                                   .format = RETRIEVE_JSON,
                                   .name = "process.cpu.time",
                                   .where = "cpu.mode = \"user\" and process.pid = 1007",
                                   .limit = 1000};
        series[r] = run_ms(db, &o);
        o = (struct retrieve_opts){.what = RETRIEVE_METRICS,
                                   .format = RETRIEVE_JSON,
                                   .name = "process.cpu.time",
                                   .agg = RETRIEVE_AGG_RATE,
                                   .step_ns = 60000000000LL};
        rate[r] = run_ms(db, &o);
        o = (struct retrieve_opts){.what = RETRIEVE_METRICS,
                                   .format = RETRIEVE_TABLE,
                                   .name = "process.memory.usage",
                                   .agg = RETRIEVE_AGG_LAST};
        last[r] = run_ms(db, &o);
    }
    printf("result names_ms=%.1f\n", bench_median(names, ROUNDS));
    printf("result series_1000_ms=%.1f\n", bench_median(series, ROUNDS));
    long cpu_points = total / 13 * 2;
    printf("result rate_step_ms=%.1f points=%ld\n", bench_median(rate, ROUNDS), cpu_points);
    printf("result last_ms=%.1f\n", bench_median(last, ROUNDS));
    sqlite3_close(db);
    bench_peak_rss_result();
    free(rm);
    free(sm);
    free(mt);
    free(pt);
    free(pattrs);
    free(rattrs);
    free(uuid);
    return 0;
}
