/* bench_span: the span hot path, telemetry_span_start + telemetry_span_end,
 * in ns per span (goal <= 150 ns).
 *
 * A real pipeline: telemetry_init with OTEL_TRACES_EXPORTER=otlp pointing at
 * an unused loopback port (bound by us, never listening),
 * processor_autostart=false so no worker starts and nothing is exported
 * while we measure, and OTEL_BSP_MAX_QUEUE_SIZE as big as one round, so
 * every end is a successful queue push (never a drop). Between
 * rounds, untimed, processor_force_flush drains the queue (the exports fail
 * with ECONNREFUSED and the records are freed), as the worker would. The
 * export timeout is 1 ms so the drain does not sleep in retry backoff: a
 * round that starts after a long sleep runs on cold caches and measured
 * 200-270 ns here instead of 60-75 ns.
 * Timestamps are taken once per round: the timed loop is start + end only.
 * For information it also measures a root span (new trace id), a span with
 * four string attributes, and one clock_now_ns() call, which a hook adds.
 *
 * A round is 2048 spans by default, the default OTEL_BSP_MAX_QUEUE_SIZE:
 * the most a process can have pending. The drain frees the records, glibc
 * trims its heap top back to the kernel, and the next round faults fresh
 * pages in, as a real process does after each export; the page faults per
 * 1000 spans are printed. The plain child span is then measured once more
 * with M_TRIM_THRESHOLD raised (warm heap: no faults) to show what the
 * SDK code itself costs apart from the allocator.
 *
 * Usage: bench_span [ROUNDS [SPANS_PER_ROUND]]   (defaults 21, 2048)
 * Depends on otelp_core (core/telemetry.h, core/processor.h). */
#include <arpa/inet.h>
#include <malloc.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "core/ids.h"
#include "core/processor.h"
#include "core/telemetry.h"
#include "tests/bench/bench.h"

/* Bytes reserved inline per span: room for the attribute array (8 slots)
 * and a few short strings, so four attributes need no second malloc. */
#define ARENA 512

enum variant { CHILD, ROOT, CHILD_4_ATTRS };

static long minor_faults(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_minflt;
}

static long faults; /* minor page faults inside the timed loops */

static double run_round(enum variant v, long n, const struct span_context *parent) {
    struct str name = str_cstr("pthread_create");
    uint64_t ts = clock_now_ns();
    long f0 = minor_faults();
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < n; i++) {
        struct span *s =
            telemetry_span_start(name, v == ROOT ? NULL : parent, str_of("", 0), ts, ARENA);
        if (v == CHILD_4_ATTRS) {
            span_set_str(s, "thread.name", "worker-7", 8);
            span_set_str(s, "code.function", "handle_request", 14);
            span_set_str(s, "process.executable.name", "bench_span", 10);
            span_set_str(s, "url.full", "http://127.0.0.1:8080/api/v1/items/42", 37);
        }
        telemetry_span_end(s, ts);
    }
    uint64_t t1 = bench_now_ns();
    faults += minor_faults() - f0;
    if (processor_force_flush(10000) < 0) {
        fprintf(stderr, "bench_span: the queue did not drain\n");
        exit(1);
    }
    return (double)(t1 - t0) / (double)n;
}

int main(int argc, char **argv) {
    long rounds = bench_arg(argc, argv, 1, 21);
    long n = bench_arg(argc, argv, 2, 2048);

    /* An unused endpoint: a loopback port we hold bound but never listen on,
     * so every connect is refused at once. */
    int hold = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    if (hold < 0 || bind(hold, (struct sockaddr *)&sa, sizeof sa) < 0 ||
        getsockname(hold, (struct sockaddr *)&sa, &sl) < 0) {
        perror("bench_span: reserving a loopback port");
        return 1;
    }
    char endpoint[64], queue[64];
    snprintf(endpoint, sizeof endpoint, "OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:%u",
             ntohs(sa.sin_port));
    snprintf(queue, sizeof queue, "OTEL_BSP_MAX_QUEUE_SIZE=%ld", n);
    /* Nothing spooled: the refused exports are not what is measured. */
    char *env[] = {"OTEL_TRACES_EXPORTER=otlp",      endpoint,
                   "OTEL_EXPORTER_OTLP_TIMEOUT=1",   queue,
                   "OTEL_PRELOAD_SPOOL_MAX_BYTES=0", NULL};
    processor_autostart = false;
    if (telemetry_init(env, "bench_span") < 0 || !telemetry.spans) {
        fprintf(stderr, "bench_span: telemetry_init failed\n");
        return 1;
    }
    struct span_context parent = {
        .trace_id = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
        .span_id = {1, 2, 3, 4, 5, 6, 7, 8},
        .flags = TRACE_FLAG_SAMPLED};

    static const struct {
        enum variant v;
        const char *name;
    } variants[] = {{CHILD, "span_start_end_ns"},
                    {ROOT, "root_span_start_end_ns"},
                    {CHILD_4_ATTRS, "span_4_attrs_start_end_ns"}};
    double *samples = calloc((size_t)rounds, sizeof *samples);
    if (!samples) return 1;
    for (size_t k = 0; k < sizeof variants / sizeof variants[0]; k++) {
        run_round(variants[k].v, n, &parent); /* warm-up */
        faults = 0;
        for (long r = 0; r < rounds; r++)
            samples[r] = run_round(variants[k].v, n, &parent);
        bench_report(variants[k].name, samples, (size_t)rounds);
        printf("  %s: %.1f minor page faults per 1000 spans\n", variants[k].name,
               1000.0 * (double)faults / (double)(rounds * n));
    }

    /* Once more with a heap that is never trimmed. */
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
    run_round(CHILD, n, &parent);
    faults = 0;
    for (long r = 0; r < rounds; r++)
        samples[r] = run_round(CHILD, n, &parent);
    bench_report("span_start_end_warm_heap_ns", samples, (size_t)rounds);
    printf("  span_start_end_warm_heap_ns: %.1f minor page faults per 1000 spans\n",
           1000.0 * (double)faults / (double)(rounds * n));

    /* The clock read a hook adds per start and per end. */
    for (long r = 0; r < rounds; r++) {
        uint64_t t0 = bench_now_ns();
        for (long i = 0; i < n; i++)
            BENCH_KEEP(clock_now_ns());
        samples[r] = (double)(bench_now_ns() - t0) / (double)n;
    }
    bench_report("clock_now_ns", samples, (size_t)rounds);

    struct batch_stats st;
    batcher_stats(telemetry.spans, &st);
    printf("queue: %llu dropped (queue full) of %llu ended spans\n",
           (unsigned long long)st.dropped_queue_full,
           (unsigned long long)(st.exported + st.dropped_export_failed + st.dropped_queue_full));
    free(samples);
    return st.dropped_queue_full ? 1 : 0;
}
