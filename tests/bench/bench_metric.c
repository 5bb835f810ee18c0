/* bench_metric: the metric record path in ns per measurement (core/metric.h,
 * no shim): a Counter add with 3 attributes on one thread (goal <= 30 ns),
 * the same with two threads adding to the same series at once (goal: no
 * worse per add than one thread; ns per add is each thread's own loop
 * time over its adds), and a Histogram record (explicit buckets, 3
 * attributes; goal <= 40 ns). Times are each thread's CPU time. A
 * collection runs between rounds, untimed, as the reader would. Exemplars
 * are off (no span: trace_based offers nothing), as for a program outside
 * a sampled span, except in the last row.
 *
 * Two more two-thread rows tell sharing from the machine: the same adds
 * with each thread on an instrument of its own (no memory in common: what
 * two busy threads cost each other on this machine, its host and its
 * other load), and two threads on one series that a stripe-per-thread
 * round robin would have put on the same stripe (a third thread takes a
 * stripe number between them). "same series / own instruments" near 1.0
 * is no sharing. And a counter add inside a sampled span (trace_based: the
 * measurement is offered to the exemplar reservoir).
 *
 * Usage: bench_metric [ROUNDS [ADDS_PER_ROUND]]   (defaults 21, 1000000)
 * Depends on otelp_core (core/metric.h). */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "core/metric.h"
#include "tests/bench/bench.h"

static struct metric_instrument *counter, *counter2, *histogram;
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

struct loop {
    struct metric_instrument *m;
    double ns;
    atomic_int started; /* its first add made (untimed) */
};

static void *add_loop(void *arg) {
    struct loop *l = arg;
    metric_record_int(l->m, 1, attrs, 3);
    atomic_store(&l->started, 1);
    uint64_t t0 = thread_ns();
    for (long i = 0; i < adds; i++)
        metric_record_int(l->m, 1, attrs, 3);
    l->ns = (double)(thread_ns() - t0) / (double)adds;
    return NULL;
}

static void *add_once(void *arg) {
    metric_record_int(arg, 1, attrs, 3);
    return NULL;
}

/* Two add loops at once (on m and m2); with a third thread recording once
 * between their starts when spacer. Returns the mean ns per add; *overlap
 * (if not NULL): the two loops' CPU time over the pair's wall time, 2.0
 * when they ran side by side all along, 1.0 when they took turns on one
 * CPU (a busy machine): only near 2 does the row say anything about
 * sharing. */
static double two_threads(struct metric_instrument *m, struct metric_instrument *m2, bool spacer,
                          double *overlap) {
    pthread_t t[3];
    uint64_t w0 = bench_now_ns();
    struct loop l[2] = {{m, 0, 0}, {m2, 0, 0}};
    pthread_create(&t[0], NULL, add_loop, &l[0]);
    if (spacer) {
        while (!atomic_load(&l[0].started))
            sched_yield();
        pthread_create(&t[2], NULL, add_once, m);
        pthread_join(t[2], NULL);
    }
    pthread_create(&t[1], NULL, add_loop, &l[1]);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    if (overlap) *overlap = (l[0].ns + l[1].ns) * (double)adds / (double)(bench_now_ns() - w0);
    return (l[0].ns + l[1].ns) / 2;
}

static struct span_context sampled = {.flags = TRACE_FLAG_SAMPLED, .trace_id = {1}, .span_id = {2}};
static bool in_span;

static bool span_context_of(struct span_context *out) {
    if (in_span) *out = sampled;
    return in_span;
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
    struct metric_options o = {.temporality = TEMPORALITY_DELTA,
                               .current_context = span_context_of};
    metrics_configure(&o);
    make_attrs();
    counter = metric_instrument_new(
        &(struct metric_desc){.name = "bench.counter", .kind = METRIC_COUNTER});
    histogram = metric_instrument_new(&(struct metric_desc){
        .name = "bench.histogram", .kind = METRIC_HISTOGRAM, .number = METRIC_DOUBLE});
    counter2 = metric_instrument_new(
        &(struct metric_desc){.name = "bench.counter2", .kind = METRIC_COUNTER});
    if (!counter || !counter2 || !histogram) {
        fprintf(stderr, "bench_metric: no instrument\n");
        return 1;
    }
    double one[rounds], two[rounds], par[rounds], own[rounds], spaced[rounds], hist[rounds],
        ex[rounds];
    for (long r = 0; r < rounds; r++) {
        struct loop l = {counter, 0, 0};
        add_loop(&l);
        one[r] = l.ns;
        collect();
        two[r] = two_threads(counter, counter, false, &par[r]);
        collect();
        own[r] = two_threads(counter, counter2, false, NULL);
        collect();
        spaced[r] = two_threads(counter, counter, true, NULL);
        collect();
        hist[r] = hist_round();
        collect();
        in_span = true;
        add_loop(&l);
        in_span = false;
        ex[r] = l.ns;
        collect();
    }
    bench_report("counter_add_3attrs_ns", one, (size_t)rounds);
    bench_report("counter_add_3attrs_2threads_ns", two, (size_t)rounds);
    bench_report("counter_add_2threads_overlap", par, (size_t)rounds);
    bench_report("counter_add_3attrs_2threads_own_instrument_ns", own, (size_t)rounds);
    bench_report("counter_add_3attrs_2threads_third_between_ns", spaced, (size_t)rounds);
    bench_report("histogram_record_3attrs_ns", hist, (size_t)rounds);
    bench_report("counter_add_3attrs_sampled_span_ns", ex, (size_t)rounds);
    if (metrics_dropped()) {
        fprintf(stderr, "bench_metric: %llu measurements dropped\n",
                (unsigned long long)metrics_dropped());
        metrics_reset();
        return 1;
    }
    metrics_reset(); /* LeakSanitizer: the series are the SDK's until reset */
    return 0;
}
