/* bench_export: the whole pipeline in one process, into a loopback OTLP/HTTP
 * receiver (scripts/bench starts tests/receiver/otlp_sink --count-only):
 * spans of the OpenTelemetry specification's SDK benchmark shape (10
 * attributes, 20-character string values) are started, filled and ended
 * by the calling thread, queued, batched, encoded and sent by the export
 * worker over our HTTP/1.1 client (http/protobuf, the default).
 *
 *   throughput: one core does all of it, for SECONDS: the thread makes a
 *     batch of spans, then exports it itself (no worker thread yet:
 *     processor_force_flush exports synchronously, the path a process takes
 *     at exit), so no time goes to waking and waiting; the result is
 *     exported spans per CPU second of that thread: "spans per second per
 *     core" (goal >= 1,000,000). The receiver runs in its own process.
 *   paced: 10,000 spans per second for SECONDS with the default batch
 *     settings; the export worker's own CPU time (from its schedstat) as a
 *     share of one core (goal <= 1%).
 * Prints "result NAME=VALUE ..." lines; asserts nothing about timing, exits
 * non-zero when spans were lost or the receiver could not be reached.
 *
 * Usage: bench_export ENDPOINT [SECONDS_THROUGHPUT [SECONDS_PACED [allow-loss]]]
 *        (defaults 3 and 3; ENDPOINT like http://127.0.0.1:4318; allow-loss:
 *        exit 0 even when spans were dropped: the smoke test's mode)
 * Depends on otelp_core (core/telemetry.h). */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/ids.h"
#include "core/telemetry.h"
#include "tests/bench/bench.h"

static const char *const keys[10] = {"attr0", "attr1", "attr2", "attr3", "attr4",
                                     "attr5", "attr6", "attr7", "attr8", "attr9"};
static const char value[] = "abcdefghijklmnopqrst"; /* 20 characters */

static uint64_t cpu_ns(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The export worker's CPU time (ns) from /proc/self/task/TID/schedstat. */
static uint64_t worker_cpu_ns(void) {
    DIR *d = opendir("/proc/self/task");
    if (!d) return 0;
    uint64_t ns = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        char path[300], comm[32] = "";
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        if (!fgets(comm, sizeof comm, f)) comm[0] = '\0';
        fclose(f);
        if (strncmp(comm, "otel-preload", 12)) continue;
        snprintf(path, sizeof path, "/proc/self/task/%s/schedstat", e->d_name);
        f = fopen(path, "r");
        unsigned long long v = 0;
        if (f && fscanf(f, "%llu", &v) == 1) ns = v;
        if (f) fclose(f);
    }
    closedir(d);
    return ns;
}

static struct batch_stats stats(void) {
    struct batch_stats st = {0};
    batcher_stats(telemetry.spans, &st);
    return st;
}

/* Room for the 10 attributes and their strings inline, within the span
 * slot (SPAN_SLOT), with the attribute array reserved at its final size as
 * instrumentation that knows its attributes does: one recycled slot per
 * span, no malloc. */
#define ARENA (SPAN_SLOT - sizeof(struct span))

static void one_span(void) {
    struct span *s =
        telemetry_span_start(str_cstr("bench span"), NULL, str_of("", 0), clock_now_ns(), ARENA);
    if (!s) return;
    (void)attrs_reserve(&s->attrs, &s->arena, 10);
    for (int k = 0; k < 10; k++)
        (void)span_set_str(s, keys[k], value, 20);
    telemetry_span_end(s, clock_now_ns());
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: bench_export ENDPOINT [SECONDS_THROUGHPUT [SECONDS_PACED "
                        "[allow-loss]]]\n");
        return 2;
    }
    long secs_t = bench_arg(argc, argv, 2, 3), secs_p = bench_arg(argc, argv, 3, 3);
    char endpoint[256];
    snprintf(endpoint, sizeof endpoint, "OTEL_EXPORTER_OTLP_ENDPOINT=%s", argv[1]);
    char *envp[] = {endpoint, "OTEL_SERVICE_NAME=bench", NULL};
    if (telemetry_init(envp, "bench_export") < 0 || !telemetry.spans) return 1;

    /* Throughput: batches made and exported by this one thread. */
    processor_autostart = false;
    const uint32_t batch = telemetry.cfg.bsp.max_export_batch_size;
    uint64_t produced = 0;
    uint64_t w0 = bench_now_ns(), c0 = cpu_ns(CLOCK_PROCESS_CPUTIME_ID);
    uint64_t end = w0 + (uint64_t)secs_t * 1000000000ull;
    while (bench_now_ns() < end) {
        for (uint32_t i = 0; i < batch; i++)
            one_span();
        produced += batch;
        if (processor_force_flush(30000) < 0) return 1;
    }
    if (processor_force_flush(30000) < 0) return 1;
    uint64_t w1 = bench_now_ns(), c1 = cpu_ns(CLOCK_PROCESS_CPUTIME_ID);
    struct batch_stats st = stats();
    double cpu_s = (double)(c1 - c0) / 1e9, wall_s = (double)(w1 - w0) / 1e9;
    printf("result spans_per_cpu_second=%.0f exported=%llu cpu_s=%.3f\n",
           (double)st.exported / cpu_s, (unsigned long long)st.exported, cpu_s);
    printf("result spans_per_wall_second=%.0f wall_s=%.3f\n", (double)st.exported / wall_s, wall_s);
    printf("result cpu_ns_per_span=%.0f (making, queueing, encoding, sending)\n",
           cpu_s * 1e9 / (double)st.exported);
    bool lost = st.exported != produced;

    /* Paced: 10,000 spans per second, the worker's CPU share. */
    processor_autostart = true;
    uint64_t before = st.exported;
    uint64_t wc0 = worker_cpu_ns(), p0 = bench_now_ns();
    uint64_t n = 0, total = (uint64_t)secs_p * 10000;
    while (n < total) {
        uint64_t due = p0 + n * 100000ull; /* one span per 100 us */
        uint64_t now = bench_now_ns();
        if (now < due) {
            struct timespec ts = {0, (long)(due - now)};
            nanosleep(&ts, NULL);
            continue;
        }
        one_span();
        n++;
    }
    uint64_t p1 = bench_now_ns();
    uint64_t wc1 = worker_cpu_ns();
    if (processor_force_flush(30000) < 0) return 1;
    st = stats();
    double share = (double)(wc1 - wc0) / (double)(p1 - p0) * 100.0;
    printf("result exporter_cpu_percent_at_10k=%.3f spans=%llu seconds=%.2f\n", share,
           (unsigned long long)n, (double)(p1 - p0) / 1e9);
    lost |= st.exported - before != n;
    if (lost)
        fprintf(stderr, "bench_export: spans were lost: exported %llu, failed %llu, full %llu\n",
                (unsigned long long)st.exported, (unsigned long long)st.dropped_export_failed,
                (unsigned long long)st.dropped_queue_full);
    bool allow_loss = argc > 4 && !strcmp(argv[4], "allow-loss");
    return lost && !allow_loss ? 1 : 0;
}
