/* metric: the OpenTelemetry metrics SDK's instruments and aggregation,
 * without any I/O. Instruments (Counter, UpDownCounter, Gauge, Histogram and
 * the observable Counter, UpDownCounter and Gauge) are made by name and
 * live for the process's life; a measurement goes to the series of its
 * attribute set (order does not matter), made at its first measurement, up
 * to the cardinality limit, past which it goes to the one series with
 * otel.metric.overflow=true (exactly one series per measurement, never
 * two). metrics_collect() (the reader, on the worker) runs the callbacks
 * and turns every series into a data point under the configured
 * temporality.
 *
 * The record path takes no shared lock: every series has one accumulator
 * per stripe, a thread adds to its own stripe (atomics on a cache line no
 * other thread of this CPU count writes; histograms behind a per-stripe
 * try-lock, never waited on), and the collection merges the stripes.
 * Recording is async-signal-safe once the series exists; a new series
 * calls malloc.
 *
 * Depends on attr.h, context.h (exemplars' ids), ids.h (clock). */
#ifndef OTELP_CORE_METRIC_H
#define OTELP_CORE_METRIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/attr.h"
#include "core/context.h"

enum metric_kind {
    METRIC_COUNTER = 0,
    METRIC_UPDOWN_COUNTER,
    METRIC_GAUGE,
    METRIC_HISTOGRAM,
    METRIC_OBSERVABLE_COUNTER,
    METRIC_OBSERVABLE_UPDOWN_COUNTER,
    METRIC_OBSERVABLE_GAUGE,
};

/* The measurements' number type: OTLP's as_int or as_double. */
enum metric_number { METRIC_INT = 0, METRIC_DOUBLE };

/* OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE. */
enum metric_temporality_pref {
    TEMPORALITY_CUMULATIVE = 0,
    TEMPORALITY_DELTA,
    TEMPORALITY_LOWMEMORY
};
/* OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION. */
enum histogram_aggregation { HISTOGRAM_EXPLICIT = 0, HISTOGRAM_EXPONENTIAL };
/* OTEL_METRICS_EXEMPLAR_FILTER. */
enum exemplar_filter { EXEMPLAR_TRACE_BASED = 0, EXEMPLAR_ALWAYS_ON, EXEMPLAR_ALWAYS_OFF };

#define METRIC_DEFAULT_CARDINALITY 2000
#define METRIC_MAX_INSTRUMENTS 256
#define METRIC_EXP_MAX_SIZE 160
#define METRIC_EXP_MAX_SCALE 20

struct metric_options {
    enum metric_temporality_pref temporality;
    enum histogram_aggregation histogram;
    enum exemplar_filter exemplars;
    uint32_t cardinality_limit; /* series per instrument, the overflow one included; 0: 2000 */
    /* The calling thread's span context for exemplars (NULL: none). */
    bool (*current_context)(struct span_context *out);
    /* Stripes per series (0: from the number of CPUs); a power of two. */
    uint32_t stripes;
};

/* Applies options; instruments made before keep working. Call before the
 * first measurement (telemetry_init; tests, between scenarios, after
 * metrics_reset). */
void metrics_configure(const struct metric_options *o);
/* Forgets every instrument and series (tests; not thread-safe). */
void metrics_reset(void);
/* In a fork child: every series starts again from nothing, and the start
 * time is now; instruments (the program's handles) stay valid. */
void metrics_after_fork_child(void);

struct metric_desc {
    const char *name; /* the spec's instrument name syntax, at most 255 characters */
    const char *unit; /* NULL: none */
    const char *description;
    enum metric_kind kind;
    enum metric_number number;
    const char *scope; /* instrumentation scope; NULL: "otel-preload" */
    const char *scope_version;
    /* Histograms: explicit bucket boundaries (advice), increasing; NULL:
     * the spec's defaults 0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000,
     * 2500, 5000, 7500, 10000. Copied. */
    const double *boundaries;
    uint32_t nboundaries;
};

struct metric_instrument;

/* The instrument named d->name in d->scope, made at the first call. A
 * second call with the same name (case-insensitive), scope and kind
 * returns the same instrument; a different kind or number type under the
 * same name, an invalid name or too many instruments: NULL with a
 * diagnostic. Thread-safe; not async-signal-safe. */
struct metric_instrument *metric_instrument_new(const struct metric_desc *d);

/* One measurement with attrs[0..n) (keys and string values are copied when
 * a series is made). Counter: add (negative and NaN values ignored);
 * UpDownCounter: add; Gauge: set; Histogram: record (NaN and infinities
 * ignored). Observable instruments: ignored (use metric_observe_*). NULL
 * m: nothing. */
void metric_record_int(struct metric_instrument *m, int64_t v, const struct attr *attrs,
                       uint32_t n);
void metric_record_double(struct metric_instrument *m, double v, const struct attr *attrs,
                          uint32_t n);

/* Observable instruments: cb runs on every collection (on the worker) and
 * reports values through metric_observe_*. At most 4 callbacks per
 * instrument. Returns 0, -EINVAL (not observable) or -ENOSPC. */
struct metric_observer;
int metric_add_callback(struct metric_instrument *m,
                        void (*cb)(struct metric_observer *obs, void *ctx), void *ctx);
/* Observable Counter/UpDownCounter: the total so far (cumulative); Gauge:
 * the current value. Only inside a callback of that instrument. */
void metric_observe_int(struct metric_observer *obs, int64_t v, const struct attr *attrs,
                        uint32_t n);
void metric_observe_double(struct metric_observer *obs, double v, const struct attr *attrs,
                           uint32_t n);

/* ---- Collected data: plain structs for encoders. ---- */

enum metric_data_type {
    METRIC_DATA_SUM = 0,
    METRIC_DATA_GAUGE,
    METRIC_DATA_HISTOGRAM,
    METRIC_DATA_EXP_HISTOGRAM
};
/* OTLP AggregationTemporality's values. */
enum metric_temporality { AGG_TEMPORALITY_DELTA = 1, AGG_TEMPORALITY_CUMULATIVE = 2 };

struct metric_exemplar {
    uint64_t time_ns;
    union {
        int64_t i;
        double d;
    } value;
    uint8_t trace_id[16];
    uint8_t span_id[8];
};

struct exp_buckets {
    int32_t offset;
    uint32_t count; /* counts[0..count) */
    const uint64_t *counts;
};

struct metric_point {
    const struct attr *attrs;
    uint32_t nattrs;
    uint64_t start_ns, time_ns;
    union {
        int64_t i;
        double d;
    } value; /* sum, gauge */
    /* histograms */
    uint64_t count;
    double sum, min, max;
    const uint64_t *bucket_counts; /* explicit: nboundaries + 1 */
    int32_t scale;                 /* exponential */
    uint64_t zero_count;
    struct exp_buckets positive, negative;
    const struct metric_exemplar *exemplars;
    uint32_t nexemplars;
};

struct metric_data {
    struct str name, unit, description, scope, scope_version;
    enum metric_data_type type;
    enum metric_number number;
    enum metric_temporality temporality; /* sums and histograms */
    bool monotonic;                      /* sums */
    const double *boundaries;            /* explicit histogram */
    uint32_t nboundaries;
    struct metric_point *points;
    uint32_t npoints;
};

/* What one collection produced: metrics with at least one point, grouped
 * by scope (same scope: adjacent). Owned by the batch until
 * metric_batch_release. */
struct metric_batch {
    struct metric_data **items;
    size_t n;
    struct arena arena;
};

/* Runs the callbacks and collects every instrument at now_ns (wall
 * clock). One collector at a time (the worker, or the exit flush). Returns
 * 0 or -ENOMEM (then the batch is empty and measurements are kept for the
 * next collection as far as possible). */
int metrics_collect(struct metric_batch *out, uint64_t now_ns) __attribute__((warn_unused_result));
void metric_batch_release(struct metric_batch *b);

/* Whether any instrument exists (a process that never made one pays
 * nothing at collection). */
bool metrics_any(void);

/* Loss inside the SDK: measurements dropped (no memory for a new series,
 * every stripe busy in a signal handler). */
uint64_t metrics_dropped(void);

/* The exponential histogram's bucket index of v > 0 at scale (exposed for
 * tests). */
int32_t metric_exp_index(double v, int32_t scale);

#endif
