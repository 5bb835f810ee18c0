/* bench_api: include/otelp.h calls as a program makes them, in ns per call:
 * a span start+end (no attributes, parent: the current span) and a counter
 * add. scripts/bench (i) runs it without the shim (the no-op table, goal
 * <= 5 ns), under the shim exporting to a loopback receiver (goal <= 100
 * ns), and as bench_api_disabled, built with OTELP_DISABLE (goal 0: the
 * loop is all that is left).
 *
 * A round is SPANS spans; between rounds, untimed, the program sleeps 20
 * ms so the shim's export thread drains the queue as it would between a
 * real program's bursts (every end is then a queue push, not a drop).
 * The span rounds are also timed in the thread's CPU time (the calls'
 * cost without the time a busy machine's other processes took).
 * Usage: bench_api [ROUNDS [SPANS]]   (defaults 21, 1000)
 * Depends on include/otelp.h only: nothing of ours is linked. */
#include <time.h>

#include "otelp.h"
#include "tests/bench/bench.h"

/* The calling thread's CPU time: what the calls cost it, without the time
 * other processes of a busy machine took the core (wall time has both). */
static uint64_t thread_cpu_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void pause_ms(long ms) {
    struct timespec ts = {0, ms * 1000000L};
    nanosleep(&ts, NULL);
}

int main(int argc, char **argv) {
    long rounds = bench_arg(argc, argv, 1, 21), n = bench_arg(argc, argv, 2, 1000);
    double *span_ns = calloc((size_t)rounds, sizeof *span_ns);
    double *add_ns = calloc((size_t)rounds, sizeof *add_ns);
    double *span_cpu_ns = calloc((size_t)rounds, sizeof *span_cpu_ns);
    if (!span_ns || !add_ns || !span_cpu_ns) return 1;
    otelp_instrument *counter = otelp_counter("bench.adds", "1", "adds of bench_api");
    otelp_attr attrs[] = {otelp_attr_str("bench.kind", "add")};
    otelp_span_end(otelp_span_start("warm-up", NULL, OTELP_SPAN_KIND_INTERNAL, NULL, 0));
    for (long r = 0; r < rounds; r++) {
        pause_ms(20);
        uint64_t c0 = thread_cpu_ns(), t0 = bench_now_ns();
        for (long i = 0; i < n; i++) {
            otelp_span *s = otelp_span_start("bench.span", NULL, OTELP_SPAN_KIND_INTERNAL, NULL, 0);
            otelp_span_end(s);
            BENCH_KEEP(s);
        }
        uint64_t t1 = bench_now_ns(), c1 = thread_cpu_ns();
        /* timed from its own clock read: the thread CPU read above is a
         * system call (1.5 ns per add of 1000 when it was inside) */
        uint64_t t2 = bench_now_ns();
        for (long i = 0; i < n; i++) {
            otelp_add(counter, 1, attrs, 1);
            BENCH_KEEP(i);
        }
        uint64_t t3 = bench_now_ns();
        span_ns[r] = (double)(t1 - t0) / (double)n;
        add_ns[r] = (double)(t3 - t2) / (double)n;
        span_cpu_ns[r] = (double)(c1 - c0) / (double)n;
    }
    printf("shim %s\n", otelp_active() ? "active" : "absent");
    bench_report("api_span_start_end_ns", span_ns, (size_t)rounds);
    bench_report("api_counter_add_ns", add_ns, (size_t)rounds);
    bench_report("api_span_start_end_cpu_ns", span_cpu_ns, (size_t)rounds);
    free(span_cpu_ns);
    free(span_ns);
    free(add_ns);
    return 0;
}
