/* bench_metric: the metric record path in ns per measurement (core/metric.h,
 * no shim): a Counter add with 3 attributes on one thread (goal <= 30 ns),
 * the same with two threads adding to the same series at once (goal: no
 * worse per add than one thread; ns per add is each thread's own loop
 * time over its adds), and a Histogram record (explicit buckets, 3
 * attributes; goal <= 40 ns). Times are each thread's CPU time. A collection runs between rounds,
 * untimed, as the reader would. Exemplars are off (no span: trace_based offers nothing), as for a
 * program outside a sampled span.
 *
 * Usage: bench_metric [ROUNDS [ADDS_PER_ROUND]]   (defaults 21, 1000000)
 * Depends on otelp_core (core/metric.h). */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "core/metric.h"
#include "tests/bench/bench.h"

static struct metric_instrument *counter, *histogram;
static long adds;

static struct attr attrs[3];

static void make_attrs(void) {
    attrs[0] = (struct attr){str_cstr("http.request.method"), {.type = ATTR_STRING}};
    attrs[0].value.u.s = str_cstr("GET");
    attrs[1] = (struct attr){str_cstr("http.response.status_code"), {.type = ATTR_INT}};
    attrs[1].value.u.i = 200;
    attrs[2] = (struct attr){str_cstr("http.route"), {.type = ATTR_STRING}};
    attrs[2].value.u.s = str_cstr("/api/v1/items");
}

/* The calling thread's CPU time: on a machine other work loads, time the
 * thread spends descheduled is not the record path's. A contended cache
 * line shows here too (the core stalls). */
static uint64_t thread_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void *add_loop(void *arg) {
    double *ns = arg;
    uint64_t t0 = thread_ns();
    for (long i = 0; i < adds; i++)
        metric_record_int(counter, 1, attrs, 3);
    *ns = (double)(thread_ns() - t0) / (double)adds;
    return NULL;
}

static double hist_round(void) {
    uint64_t t0 = thread_ns();
    for (long i = 0; i < adds; i++)
        metric_record_double(histogram, (double)(i & 1023), attrs, 3);
    return (double)(thread_ns() - t0) / (double)adds;
}

static void collect(void) {
    struct metric_batch b;
    if (metrics_collect(&b, 1) == 0) metric_batch_release(&b);
}

int main(int argc, char **argv) {
    long rounds = bench_arg(argc, argv, 1, 21);
    adds = bench_arg(argc, argv, 2, 1000000);
    struct metric_options o = {.temporality = TEMPORALITY_DELTA};
    metrics_configure(&o);
    make_attrs();
    counter = metric_instrument_new(
        &(struct metric_desc){.name = "bench.counter", .kind = METRIC_COUNTER});
    histogram = metric_instrument_new(&(struct metric_desc){
        .name = "bench.histogram", .kind = METRIC_HISTOGRAM, .number = METRIC_DOUBLE});
    if (!counter || !histogram) {
        fprintf(stderr, "bench_metric: no instrument\n");
        return 1;
    }
    double one[rounds], two[rounds], hist[rounds];
    for (long r = 0; r < rounds; r++) {
        add_loop(&one[r]);
        collect();
        pthread_t t[2];
        double ns[2] = {0, 0};
        for (int i = 0; i < 2; i++)
            pthread_create(&t[i], NULL, add_loop, &ns[i]);
        for (int i = 0; i < 2; i++)
            pthread_join(t[i], NULL);
        two[r] = (ns[0] + ns[1]) / 2;
        collect();
        hist[r] = hist_round();
        collect();
    }
    bench_report("counter_add_3attrs_ns", one, (size_t)rounds);
    bench_report("counter_add_3attrs_2threads_ns", two, (size_t)rounds);
    bench_report("histogram_record_3attrs_ns", hist, (size_t)rounds);
    if (metrics_dropped()) {
        fprintf(stderr, "bench_metric: %llu measurements dropped\n",
                (unsigned long long)metrics_dropped());
        metrics_reset();
        return 1;
    }
    metrics_reset(); /* LeakSanitizer: the series are the SDK's until reset */
    return 0;
}
