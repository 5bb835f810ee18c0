/* reader: the periodic metric reader. Every OTEL_METRIC_EXPORT_INTERVAL,
 * on the worker thread (processor.h's periodic task), it collects the
 * metrics SDK (core/metric.h) and hands the batch to the metrics exporters
 * (OTEL_METRICS_EXPORTER), each export within OTEL_METRIC_EXPORT_TIMEOUT;
 * at exit, one last collection in the exiting thread.
 *
 * A process reports only once it has lived one interval: the first
 * collection is due one interval after the start, and the process metrics
 * (procmetrics.h) and the SDK's own counts are registered then. A
 * short-lived program thus never starts a thread nor exports metrics,
 * unless it made instruments of its own (otelp.h), which are exported at
 * exit. No timer exists without a thread: the worker is started when the
 * program makes an instrument, or when the first collection is due and
 * the program passes through the shim (a span starts or ends, a log
 * record); it then stays. A service (reader_process_started) starts it
 * with the process, so an idle one still reports every interval.
 *
 * Depends on config.h, metric.h, processor.h, and the export side given
 * to telemetry.h (telemetry_set_exports). */
#ifndef OTELP_CORE_READER_H
#define OTELP_CORE_READER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/config.h"
#include "core/ids.h"

/* Configures the metrics SDK from cfg and arms the reader. No I/O, no
 * allocation: most processes never collect. */
void reader_init(const struct config *cfg);

/* Wall-clock ns at which the first collection is due while the worker does
 * not run (0: the birth is to be recorded; UINT64_MAX: nothing to do). */
extern _Atomic uint64_t reader_wake_at;
void reader_wake(uint64_t now_ns);
/* Called on paths that already read the clock (span start/end, logs): starts
 * the worker once the first collection is due. */
static inline void reader_poke(uint64_t now_ns) {
    if (__builtin_expect(now_ns >= atomic_load_explicit(&reader_wake_at, memory_order_relaxed), 0))
        reader_wake(now_ns);
}
/* The same from hooks that do not read the clock (pthread_create, fork,
 * wait): the clock only while the first collection is pending. May start
 * a thread: the caller keeps errno. */
static inline void reader_poke_now(void) {
    if (__builtin_expect(atomic_load_explicit(&reader_wake_at, memory_order_relaxed) != UINT64_MAX,
                         0))
        reader_poke(clock_now_ns());
}
/* The program made an instrument: the worker starts now (if a metrics
 * exporter is configured). */
void reader_instrument_made(void);
/* The process has started (its root span's start recorded its birth):
 * with OTEL_PRELOAD_METRICS_WORKER=start, or auto and service (the entry
 * layer's judgement: a parent that is init, PID 1), the worker starts now,
 * so that a program that never passes through the shim again (idle,
 * blocked in a system call) still reports its process metrics every
 * interval. Costs the process a thread, which sleeps until the first
 * collection. */
void reader_process_started(bool service);

/* One collection and export now, in the calling thread (the worker's
 * periodic task; tests). deadline: monotonic ns. */
void reader_collect_export(uint64_t deadline_mono_ns);
/* The last collection at exit, within the flush budget left
 * (processor_deadline()). Nothing in a signal handler. */
void reader_shutdown(bool in_signal);
void reader_after_fork_child(void);

/* What the reader did (tests, self-observability). */
struct reader_stats {
    uint64_t collections, exports, export_failures;
    /* Data points in the exports that succeeded (to the collector, or
     * handed to the parent's relay) and in those that failed. */
    uint64_t points_exported, points_failed;
};
void reader_stats(struct reader_stats *out);

#endif
