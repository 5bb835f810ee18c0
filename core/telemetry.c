/* telemetry: the SDK facade. See telemetry.h. */
#include "core/telemetry.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/diag.h"
#include "core/ids.h"
#include "core/sampler.h"
#include "exporters/exporter.h"

struct telemetry telemetry;

static struct exporter *span_exporters[EXPORTER_MAX];
static int n_span_exporters;

/* The resource lives in static storage: detection may happen in a dying
 * process's signal handler, where malloc is off limits. */
static char resource_mem[32768] __attribute__((aligned(16)));
static struct resource resource;
static _Atomic int resource_state; /* 0 none, 1 detecting, 2 ready */

const struct attr_list *telemetry_resource(void) {
    int expected = 0;
    if (atomic_compare_exchange_strong(&resource_state, &expected, 1)) {
        arena_init(&resource.arena, resource_mem, sizeof resource_mem);
        resource.arena.no_malloc = true;
        resource_detect(&resource, &telemetry.cfg, telemetry.exe_name, "");
        atomic_store(&resource_state, 2);
    }
    /* Another thread detecting: wait for it (it never blocks). */
    while (atomic_load(&resource_state) != 2)
        ;
    return &resource.attrs;
}

static int export_spans(void *ctx, void *const *records, size_t n, uint64_t deadline) {
    (void)ctx;
    const struct attr_list *res = telemetry_resource();
    int rc = 0, rejected = 0;
    for (int i = 0; i < n_span_exporters; i++) {
        int r = span_exporters[i]->ops->export(span_exporters[i], records, n, res, deadline);
        if (r < 0)
            rc = r;
        else if (r > rejected)
            rejected = r;
    }
    return rc < 0 ? rc : rejected;
}

static void free_span(void *record) {
    span_free(record);
}

static _Thread_local struct span *tls_current __attribute__((tls_model("initial-exec")));
static struct span_context root_ctx;
static _Atomic int root_state; /* 0 none, 1 live, 2 ended */

struct span *telemetry_current_span(void) {
    return atomic_load_explicit(&root_state, memory_order_acquire) == 2 ? NULL : tls_current;
}

void telemetry_set_current_span(struct span *s) {
    tls_current = s;
}

void telemetry_set_root_span(struct span *root) {
    if (root) {
        root_ctx = root->ctx;
        tls_current = root;
        atomic_store_explicit(&root_state, 1, memory_order_release);
    } else {
        atomic_store_explicit(&root_state, 2, memory_order_release);
        tls_current = NULL;
    }
}

bool telemetry_current_context(struct span_context *out) {
    struct span *s = telemetry_current_span();
    if (s) {
        *out = s->ctx;
        return true;
    }
    if (atomic_load_explicit(&root_state, memory_order_acquire) != 0) {
        *out = root_ctx;
        return true;
    }
    if (telemetry.has_upstream) {
        *out = telemetry.upstream;
        return true;
    }
    return false;
}

int telemetry_init(char *const *envp, const char *exe_name) {
    struct telemetry *t = &telemetry;
    memset(t, 0, sizeof *t);
    n_span_exporters = 0;
    t->exe_name = exe_name;
    if (config_load(&t->cfg, envp) < 0) return -ENOMEM;
    if (t->cfg.disabled) return -ECANCELED;
    t->span_limits =
        (struct span_limits){t->cfg.span_attrs, t->cfg.event_attrs, t->cfg.span_event_count};
    if (t->cfg.traceparent) {
        if (traceparent_parse(t->cfg.traceparent, &t->upstream) == 0)
            t->has_upstream = true;
        else
            diag_warn("ignoring invalid TRACEPARENT '%s'", t->cfg.traceparent);
    }
    if (t->cfg.tracestate && (!t->has_upstream || !tracestate_valid(t->cfg.tracestate))) {
        if (t->has_upstream) diag_warn("ignoring invalid TRACESTATE");
        free(t->cfg.tracestate);
        t->cfg.tracestate = NULL;
    }
    for (int k = 1; k <= EXPORTER_MAX; k++) {
        if (!(t->cfg.exporters[SIGNAL_TRACES] & (1u << k))) continue;
        struct exporter *e = exporter_new((enum exporter_kind)k, SIGNAL_TRACES, &t->cfg);
        if (e) span_exporters[n_span_exporters++] = e;
    }
    if (n_span_exporters) {
        span_set_slot_cache(t->cfg.bsp.max_queue_size);
        struct batch_sink sink = {export_spans, free_span, NULL};
        t->spans = batcher_new("spans", &t->cfg.bsp, &sink);
    }
    t->active = true;
    return 0;
}

struct span *telemetry_span_start(struct str name, const struct span_context *parent,
                                  struct str trace_state, uint64_t start_ns, size_t arena_size) {
    struct telemetry *t = &telemetry;
    if (!t->active) return NULL;
    if (!parent && t->has_upstream) {
        parent = &t->upstream;
        if (!trace_state.len && t->cfg.tracestate) trace_state = str_cstr(t->cfg.tracestate);
    }
    uint8_t trace_id[16];
    if (parent)
        memcpy(trace_id, parent->trace_id, 16);
    else
        ids_new_trace_id(trace_id);
    bool sampled = sampler_should_sample(t->cfg.sampler, t->cfg.sampler_ratio, parent, trace_id);
    /* Without an exporter nothing is recorded, but contexts still flow. */
    bool recording = sampled && t->spans;
    struct span *s = span_new(name, parent, trace_id, trace_state, recording, start_ns,
                              &t->span_limits, arena_size);
    if (s && sampled) s->ctx.flags |= TRACE_FLAG_SAMPLED;
    return s;
}

void telemetry_span_end(struct span *s, uint64_t end_ns) {
    if (!s) return;
    s->end_ns = end_ns;
    if (!s->recording || !telemetry.spans) {
        span_free(s);
        return;
    }
    batcher_on_end(telemetry.spans, s);
}

static void report_loss(void) {
    if (!telemetry.spans || diag_get_level() < DIAG_INFO) return;
    struct batch_stats st;
    batcher_stats(telemetry.spans, &st);
    diag_info("spans: exported %llu, dropped %llu (queue full), %llu (export failed), "
              "%llu (rejected), %llu (shutdown)",
              (unsigned long long)st.exported, (unsigned long long)st.dropped_queue_full,
              (unsigned long long)st.dropped_export_failed, (unsigned long long)st.dropped_rejected,
              (unsigned long long)st.dropped_shutdown);
}

void telemetry_shutdown(bool in_signal) {
    if (!telemetry.active) return;
    if (in_signal) exporter_in_signal = true;
    processor_shutdown(telemetry.cfg.shutdown_timeout_ms, in_signal);
    if (!in_signal) report_loss();
}

void telemetry_after_fork_child(void) {
    ids_after_fork();
    if (!telemetry.active) return;
    processor_after_fork_child();
    for (int i = 0; i < n_span_exporters; i++)
        span_exporters[i]->ops->after_fork(span_exporters[i]);
}
