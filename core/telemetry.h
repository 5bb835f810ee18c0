/* telemetry: the SDK facade the hooks call. Holds the configuration, span
 * limits, the lazily detected resource and the span batch processor wired
 * to the configured exporters; starts spans (sampler, ids, parent) and ends
 * them (hand-over to the processor); runs the final flush.
 * Depends on config, span, sampler, processor, resource, exporters. */
#ifndef OTELP_CORE_TELEMETRY_H
#define OTELP_CORE_TELEMETRY_H

#include <stdbool.h>
#include <stdint.h>

#include "core/config.h"
#include "core/processor.h"
#include "core/resource.h"
#include "core/span.h"

struct telemetry {
    bool active; /* false: inert (secure mode, disabled, init failed) */
    struct config cfg;
    struct span_limits span_limits;
    struct batcher *spans;
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
 * new trace). Applies the sampler. NULL when inert or out of memory. */
struct span *telemetry_span_start(struct str name, const struct span_context *parent,
                                  struct str trace_state, uint64_t start_ns, size_t arena_size);
/* Ends s at end_ns and hands it to the processor (a non-recording span is
 * just freed). */
void telemetry_span_end(struct span *s, uint64_t end_ns);

/* The calling thread's current span, which only this thread writes to (add
 * events here), or NULL: the thread has none, or the process is ending.
 * The main thread's is the process root span; threads and fork children
 * get theirs from the hooks. */
struct span *telemetry_current_span(void);
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

/* The resource, detected on first use. */
const struct attr_list *telemetry_resource(void);

/* The final flush within OTEL_PRELOAD_SHUTDOWN_TIMEOUT. */
void telemetry_shutdown(bool in_signal);
void telemetry_after_fork_child(void);

#endif
