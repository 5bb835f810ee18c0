/* bench_encode: OTLP protobuf encoding cost per span (goal <= 250 ns).
 *
 * Builds SETS batches of 512 spans the way a hook does (span_new, then four
 * string attributes with span_set_str), each a child span with a realistic
 * name, then encodes batches of 512 with otlp_encode_traces into one reused
 * mmap-backed buf, cycling through the sets so the records are not all hot
 * in cache. The resource is the real one (resource_detect with default
 * configuration), encoded once per batch as the exporter does.
 * Prints "result encode_ns_per_span=..." (median over rounds) and, for
 * information, the cost of building a span (span_new + 4 x span_set_str +
 * span_free) and the encoded bytes per span.
 *
 * Usage: bench_encode [ROUNDS [BATCHES_PER_ROUND]]   (defaults 21, 64)
 * Depends on otelp_core (core/span.h, core/resource.h, exporters/otlp_proto.h). */
#include <stdio.h>
#include <string.h>

#include "core/config.h"
#include "core/resource.h"
#include "core/span.h"
#include "exporters/buf.h"
#include "exporters/otlp_proto.h"
#include "tests/bench/bench.h"

#define BATCH 512
#define SETS 8 /* 4096 spans, about 2 MB of records: more than L2 */
/* Bytes reserved inline per span: room for the attribute array (8 slots)
 * and the strings, so building a span is one malloc. */
#define ARENA 512

static const struct span_limits limits = {{128, UINT32_MAX}, {128, UINT32_MAX}, 128};

static struct span *make_span(const struct span_context *parent, int i) {
    static const char *const methods[] = {"GET", "POST", "PUT", "DELETE"};
    char url[96], thread[32];
    int ulen = snprintf(url, sizeof url, "http://127.0.0.1:8080/api/v1/items/%d?expand=owner", i);
    int tlen = snprintf(thread, sizeof thread, "worker-%d", i % 16);
    struct span *s =
        span_new(str_cstr("HTTP GET /api/v1/items"), parent, parent->trace_id, str_of("", 0), true,
                 1700000000000000000ULL + (uint64_t)i * 1000, &limits, ARENA);
    if (!s) return NULL;
    const char *m = methods[i % 4];
    span_set_str(s, "http.request.method", m, strlen(m));
    span_set_str(s, "url.full", url, (size_t)ulen);
    span_set_str(s, "thread.name", thread, (size_t)tlen);
    span_set_str(s, "code.function", "handle_request", 14);
    s->end_ns = s->start_ns + 123456;
    return s;
}

int main(int argc, char **argv) {
    long rounds = bench_arg(argc, argv, 1, 21);
    long batches = bench_arg(argc, argv, 2, 64);

    struct config cfg;
    char *env[] = {NULL};
    if (config_load(&cfg, env) < 0) return 1;
    static char res_mem[32768] __attribute__((aligned(16)));
    struct resource res = {0};
    arena_init(&res.arena, res_mem, sizeof res_mem);
    res.arena.no_malloc = true;
    resource_detect(&res, &cfg, "bench_encode", "");

    struct span_context parent = {
        .trace_id = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
        .span_id = {1, 2, 3, 4, 5, 6, 7, 8},
        .flags = TRACE_FLAG_SAMPLED};
    static struct span *spans[SETS * BATCH];
    for (int i = 0; i < SETS * BATCH; i++)
        if (!(spans[i] = make_span(&parent, i))) return 1;

    struct buf out = {0};
    /* Warm-up: grows the buf to its final size, faults its pages in. */
    for (int set = 0; set < SETS; set++) {
        buf_reset(&out);
        if (!otlp_encode_traces(&out, &res.attrs, spans + set * BATCH, BATCH)) return 1;
    }
    size_t batch_bytes = out.len;

    double *enc = calloc((size_t)rounds, sizeof *enc);
    double *build = calloc((size_t)rounds, sizeof *build);
    if (!enc || !build) return 1;
    for (long r = 0; r < rounds; r++) {
        uint64_t t0 = bench_now_ns();
        for (long b = 0; b < batches; b++) {
            buf_reset(&out);
            if (!otlp_encode_traces(&out, &res.attrs, spans + (b % SETS) * BATCH, BATCH)) return 1;
            BENCH_KEEP(out.data);
        }
        uint64_t t1 = bench_now_ns();
        enc[r] = (double)(t1 - t0) / (double)(batches * BATCH);

        /* For information: what a hook pays to build such a span. */
        static struct span *tmp[BATCH];
        t0 = bench_now_ns();
        for (int i = 0; i < BATCH; i++)
            tmp[i] = make_span(&parent, i);
        for (int i = 0; i < BATCH; i++)
            span_free(tmp[i]);
        t1 = bench_now_ns();
        build[r] = (double)(t1 - t0) / BATCH;
    }
    printf("encode: %d spans per batch, 4 string attributes each, %u resource attributes, "
           "%.1f bytes per span on the wire\n",
           BATCH, res.attrs.count, (double)batch_bytes / BATCH);
    bench_report("encode_ns_per_span", enc, (size_t)rounds);
    bench_report("build_ns_per_span", build, (size_t)rounds);

    for (int i = 0; i < SETS * BATCH; i++)
        span_free(spans[i]);
    buf_release(&out);
    config_free(&cfg);
    free(enc);
    free(build);
    return 0;
}
