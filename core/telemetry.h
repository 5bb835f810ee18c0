/* telemetry: the SDK facade the hooks call. Holds the configuration, span
 * limits, the lazily detected resource and the span and log batch
 * processors wired to the configured exporters; starts spans (sampler, ids,
 * parent) and ends them (hand-over to the processor); emits log records
 * (stamped with the calling thread's context, and also added as events to
 * its own current span); runs the final flush.
 * Depends on config, span, log, sampler, processor, resource; the export
 * side is given (telemetry_set_exports), core knows no exporter. */
#ifndef OTELP_CORE_TELEMETRY_H
#define OTELP_CORE_TELEMETRY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/config.h"
#include "core/log.h"
#include "core/processor.h"
#include "core/resource.h"
#include "core/span.h"

struct telemetry {
    bool active; /* false: inert (secure mode, disabled, init failed) */
    struct config cfg;
    struct span_limits span_limits;
    struct batcher *spans;
    bool logs_on;         /* a logs exporter is configured */
    struct batcher *logs; /* made by telemetry_logs(), at the first record */
    const char *exe_name;
    /* Upstream context from TRACEPARENT/TRACESTATE, if valid. */
    bool has_upstream;
    struct span_context upstream;
};

extern struct telemetry telemetry;

/* Reads the configuration from envp and wires the pipeline. Starts no
 * thread. Returns 0, or negative when telemetry stays off. */
int telemetry_init(char *const *envp, const char *exe_name) __attribute__((warn_unused_result));

/* A new span, child of parent (NULL: the upstream context if any, else a
 * new trace). Applies the sampler. NULL when inert or out of memory. A
 * span that will not record is made in mem (mem_size bytes) when it fits
 * (span_new_in): a process root that records nothing then needs no
 * malloc. */
struct span *telemetry_span_start_in(struct str name, const struct span_context *parent,
                                     struct str trace_state, uint64_t start_ns, size_t arena_size,
                                     void *mem, size_t mem_size);
/* The same, always allocated. */
static inline struct span *telemetry_span_start(struct str name, const struct span_context *parent,
                                                struct str trace_state, uint64_t start_ns,
                                                size_t arena_size) {
    return telemetry_span_start_in(name, parent, trace_state, start_ns, arena_size, NULL, 0);
}
/* Ends s at end_ns and hands it to the processor (a non-recording span is
 * just freed). */
void telemetry_span_end(struct span *s, uint64_t end_ns);

/* The calling thread's current span, which only this thread writes to (add
 * events here), or NULL: the thread has none, or the process is ending.
 * The main thread's is the process root span; threads and fork children
 * get theirs from the hooks. */
extern _Thread_local struct span *telemetry_tls_current __attribute__((tls_model("initial-exec")));
extern _Atomic int telemetry_root_state; /* 0 no root span yet, 1 live, 2 ended */
static inline struct span *telemetry_current_span(void) {
    return atomic_load_explicit(&telemetry_root_state, memory_order_acquire) == 2
               ? NULL
               : telemetry_tls_current;
}
void telemetry_set_current_span(struct span *s);
/* The context new work on this thread belongs to: the current span's, else
 * the process root span's (any thread may read it), else the upstream one.
 * Returns false when there is none (telemetry off, not sampled contexts
 * included: check flags). */
bool telemetry_current_context(struct span_context *out);
/* Records the process root span: its context for every thread, and the
 * calling thread's current span. NULL when it ends. */
void telemetry_set_root_span(struct span *root);

/* "BAGGAGE=<value>" from the environment we started with, for children;
 * NULL when there was none. */
const char *telemetry_baggage_entry(void);
/* What a logging call carried. Strings and attribute values point to the
 * caller's memory; telemetry_log_emit copies what it keeps, except the
 * attribute keys: distinct string literals (unless copy_keys). */
struct log_call {
    int severity_number;
    const char *severity_text; /* NULL: none */
    const char *body;
    size_t body_len;
    const struct attr *attrs;
    uint32_t nattrs;
    bool copy_keys; /* the keys are the caller's too (otelp.h): copied */
};

/* Whether logging calls are wanted at all: telemetry is on and there is a
 * logs exporter, or span events for logs. Cheap: hooks test it first. */
static inline bool telemetry_logs_wanted(void) {
    return telemetry.active && (telemetry.logs_on || telemetry.cfg.log_span_events);
}
/* The logs pipeline (exporters and batcher), made at the first call: most
 * processes never log, and making it cost every process start a few pages
 * and ~5K instructions. NULL when no logs exporter is configured or none
 * could be made. */
struct batcher *telemetry_logs(void);
/* Emits one log record now: timestamp and observed timestamp, the calling
 * thread's trace context, the resource (at export), through the batch log
 * record processor; and, when OTEL_PRELOAD_LOGS_SPAN_EVENTS allows, an
 * event "log" on the calling thread's own current span if it records. Call
 * inside the re-entry guard. Never blocks. */
void telemetry_log_emit(const struct log_call *c);
/* Hands a finished record (from log_record_new or a log_pool) to the logs
 * processor, or frees it when there is none. */
void telemetry_log_push(struct log_record *r);
/* Loss the logs processor cannot see: a record that could not be allocated
 * (no memory, pool empty), a body cut to fit a buffer. Reported with the
 * processor's counts at exit. */
void telemetry_log_count_dropped(void);
/* n records dropped at once (stream capture skipping a full buffer). */
void telemetry_log_count_dropped_n(uint64_t n);
/* Whether the logs queue is full now (a record made now would be dropped),
 * and n records dropped for it without being made. */
bool telemetry_log_queue_full(void);
void telemetry_log_count_queue_full(uint64_t n);
void telemetry_log_count_truncated(void);

/* The resource, detected on first use. */
const struct attr_list *telemetry_resource(void);
/* The resource without the host's attributes, for a relay to add its own
 * (handoff.h); *host_wanted: the bits of resource_host_keys to add. */
const struct attr_list *telemetry_resource_local(uint32_t *host_wanted);

/* ---- The export side, given by the shim's entry layer ----
 * Core builds each signal's pipeline the same way (the span and log batch
 * processors, the metric reader) and hands every batch to exports->export;
 * it knows no exporter. Which exporters a signal has, the hand-off to a
 * parent's relay and the spool belong to the entry layer
 * (preload/pipeline.c). Without one (core alone, in tests) no signal is
 * exported, and spans do not record. Set before telemetry_init. */
struct telemetry_tree_stats {
    /* Records a relay exported for the processes below it, by outcome. */
    uint64_t exported, failed, spooled;
    /* ... rejected by the collector (partial success); and what the
     * processes below processed (handed to an exporter, theirs or this
     * relay) and their processors dropped (queue_full, shutdown). */
    uint64_t rejected, processed, queue_full, shutdown;
};
struct telemetry_exports {
    /* At telemetry_init, once the configuration is read. */
    void (*init)(const struct config *cfg, char *const *envp);
    /* Makes sig's exporters (traces at init, logs at the first record,
     * metrics at the first collection); returns how many there are. */
    int (*open)(enum signal_kind sig, const struct config *cfg);
    /* Hands a batch of sig's records to each of its exporters; returns as
     * batch_sink.export does (processor.h). */
    int (*export)(enum signal_kind sig, void *const *records, size_t n, uint64_t deadline_mono_ns);
    /* otel.component.type of sig's first exporter; NULL when it has none. */
    const char *(*component_type)(enum signal_kind sig);
    /* The process ends (or execs): what it holds for others, within
     * timeout_ms. in_signal: from a dying process's signal handler. */
    void (*shutdown)(uint32_t timeout_ms, bool in_signal);
    void (*after_fork_child)(void);
    /* Diagnostics of loss at exit (the spool's counts). */
    void (*report)(void);
    /* What this process exported for its process tree (a relay), for sig;
     * false when it relayed nothing. */
    bool (*tree_stats)(enum signal_kind sig, struct telemetry_tree_stats *out);
    /* The process ends or execs: hands its own counts (own[sig]: what its
     * processors processed and dropped, and its exporters' outcomes, apart
     * from the records it handed off) and its tree's to its parent's relay,
     * whose tree they are then. True when they went there, or there was
     * nothing new; false when this process keeps them (it reports its tree
     * itself). Async-signal-safe. */
    bool (*hand_up)(const struct telemetry_tree_stats own[SIGNAL_COUNT]);
};
void telemetry_set_exports(const struct telemetry_exports *e);
const struct telemetry_exports *telemetry_get_exports(void);
/* otel.sdk.exporter.operation.duration once the SDK's metrics are
 * registered, else NULL: the export side records each export in it. */
struct metric_instrument *telemetry_export_duration(void);
/* otel.component.type of an exporter, as the semantic conventions name the
 * OTLP ones: kind is an exporter's name ("otlp", "console", "otlp_file"). */
const char *telemetry_component_type(const char *kind, enum signal_kind sig,
                                     enum otlp_protocol protocol);

/* The SDK's own metrics (otel.sdk.*: spans and log records started,
 * processed, queued, exported; export durations), registered by the
 * metric reader once the process has lived one export interval. */
void telemetry_sdk_metrics_register(void);
/* The relay's tree series alone (the last collection of a relay that did
 * not live an interval), and whether there is one to report: the process
 * relayed for children and could not hand the counts up (set at exit). */
void telemetry_sdk_tree_metrics_register(void);
bool telemetry_tree_due(void);
/* An image about to be replaced by exec hands its counts up
 * (telemetry_exports.hand_up). */
void telemetry_hand_up(void);

/* The final flush within OTEL_PRELOAD_SHUTDOWN_TIMEOUT. */
void telemetry_shutdown(bool in_signal);
/* The loss lines at OTEL_LOG_LEVEL=info (what became of the records:
 * exported, dropped with a reason, spooled, handed off): at exit, and from
 * an image about to be replaced by exec, whose counts would otherwise go
 * with it. */
void telemetry_report_loss(void);
void telemetry_after_fork_child(void);

#endif
