/* bench_procmetrics: what the periodic collection of the process metrics
 * costs the worker: a collection of the ten process.* instruments (the
 * /proc/self and getrusage reads) and its OTLP protobuf encoding, in
 * microseconds of the thread's CPU time, and the same per minute at the
 * default OTEL_METRIC_EXPORT_INTERVAL (one collection a minute) and at
 * 1 s (sixty). The send is the exporter's, measured by (g) for spans.
 *
 * Usage: bench_procmetrics [ROUNDS [COLLECTIONS_PER_ROUND]]   (defaults 21, 50)
 * Depends on otelp_core (core/metric.h, core/procmetrics.h, the encoder). */
#include <stdio.h>
#include <string.h>

#include "core/metric.h"
#include "core/procmetrics.h"
#include "exporters/buf.h"
#include "exporters/otlp_proto.h"
#include "tests/bench/bench.h"

static uint64_t thread_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv) {
    long rounds = bench_arg(argc, argv, 1, 21);
    long per = bench_arg(argc, argv, 2, 50);
    struct metric_options o = {0};
    metrics_configure(&o);
    procmetrics_register();
    struct attr res_items[1] = {
        {str_cstr("service.name"), {.type = ATTR_STRING, .u.s = str_cstr("bench")}}};
    struct attr_list resource = {res_items, 1, 1, 0, 0};
    struct buf out = {.heap = true};
    double us[rounds];
    size_t bytes = 0, points = 0;
    for (long r = 0; r < rounds; r++) {
        uint64_t t0 = thread_ns();
        for (long k = 0; k < per; k++) {
            procmetrics_invalidate(); /* each collection reads anew, as one a minute does */
            struct metric_batch b;
            if (metrics_collect(&b, (uint64_t)(r * per + k + 1)) != 0) return 1;
            buf_reset(&out);
            if (!otlp_encode_metrics(&out, &resource, b.items, b.n)) return 1;
            bytes = out.len;
            points = 0;
            for (size_t i = 0; i < b.n; i++)
                points += b.items[i]->npoints;
            metric_batch_release(&b);
        }
        us[r] = (double)(thread_ns() - t0) / (double)per / 1000.0;
    }
    bench_report("procmetrics_collect_encode_us", us, (size_t)rounds);
    double med = bench_median(us, (size_t)rounds);
    printf("result procmetrics_cpu_per_minute_default_ms=%.3f (one collection a minute)\n",
           med / 1000.0);
    printf("result procmetrics_cpu_per_minute_1s_ms=%.3f (sixty)\n", med * 60 / 1000.0);
    printf("result procmetrics_request_bytes=%zu points=%zu\n", bytes, points);
    buf_release(&out);
    metrics_reset();
    return 0;
}
