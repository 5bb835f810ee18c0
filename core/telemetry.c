/* telemetry: the SDK facade. See telemetry.h. */
#include "core/telemetry.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/cold.h"
#include "core/demangle.h"
#include "core/diag.h"
#include "core/exe.h"
#include "core/ids.h"
#include "core/metric.h"
#include "core/once.h"
#include "core/reader.h"
#include "core/sampler.h"
#include "core/stream.h"
#include "core/vg.h"
#include "exporters/exporter.h"
#include "exporters/handoff.h"
#include "exporters/outbox.h"

struct telemetry telemetry;

static struct exporter *span_exporters[EXPORTER_MAX];
static int n_span_exporters;
static struct exporter *log_exporters[EXPORTER_MAX];
static int n_log_exporters;
static _Atomic uint64_t logs_dropped_no_memory, logs_truncated;
/* Self-observability (telemetry_sdk_metrics_register): log records made;
 * recording spans started and ended, counted per thread (span_counts). */
static _Atomic uint64_t logs_created;

/* Span counts per thread: a thread counts into a line of its own with a
 * plain load and store (a locked add was two of the six locked operations
 * a span start+end made, ~7 ns each); a collection sums the lines. Threads
 * past COUNT_SHARDS - 1 share the last line, with locked adds. A line is
 * never given to another thread: an ended thread's counts stay. */
#define COUNT_SHARDS 128
struct count_shard {
    _Alignas(64) _Atomic uint64_t started, ended;
};
static struct count_shard count_shards[COUNT_SHARDS] OTELP_COLD;
static _Atomic uint32_t count_shards_taken;
static _Thread_local struct count_shard *my_counts __attribute__((tls_model("initial-exec")));

static struct count_shard *thread_counts(void) {
    struct count_shard *c = my_counts;
    if (__builtin_expect(c != NULL, 1)) return c;
    uint32_t i = atomic_fetch_add_explicit(&count_shards_taken, 1, memory_order_relaxed);
    c = &count_shards[i < COUNT_SHARDS - 1 ? i : COUNT_SHARDS - 1];
    my_counts = c;
    return c;
}

static inline void count_one(struct count_shard *c, _Atomic uint64_t *n) {
    if (c != &count_shards[COUNT_SHARDS - 1])
        atomic_store_explicit(n, atomic_load_explicit(n, memory_order_relaxed) + 1,
                              memory_order_relaxed);
    else
        atomic_fetch_add_explicit(n, 1, memory_order_relaxed);
}

static void span_counts(uint64_t *started, uint64_t *ended) {
    uint64_t s = 0, e = 0;
    uint32_t n = atomic_load_explicit(&count_shards_taken, memory_order_relaxed);
    for (uint32_t i = 0; i < COUNT_SHARDS && i <= n; i++) {
        s += atomic_load_explicit(&count_shards[i].started, memory_order_relaxed);
        e += atomic_load_explicit(&count_shards[i].ended, memory_order_relaxed);
    }
    *started = s;
    *ended = e;
}
/* otel.sdk.exporter.operation.duration, once registered. */
static _Atomic(struct metric_instrument *) export_duration;

/* The resource lives in static storage: detection may happen in a dying
 * process's signal handler, where malloc is off limits. Two forms, each
 * detected when first needed: the full one, and the one a hand-off child
 * sends its relay, without the host's attributes (the relay adds its own,
 * which spares each child of a shell or a build reading the host's files
 * and its own /proc entries). Both carry the same service.instance.id. */
static struct resource_form {
    struct resource r;
    _Atomic int state; /* once.h: detected */
} full_form, local_form;
static char full_mem[32768] OTELP_COLD __attribute__((aligned(16)));
static char local_mem[8192] OTELP_COLD __attribute__((aligned(16)));
static char instance_id[37];
static _Atomic int instance_id_state; /* once.h: made */

static const struct resource *resource_of(struct resource_form *f, char *mem, size_t size,
                                          bool without_host) {
    if (once_claim(&f->state)) {
        if (once_claim(&instance_id_state)) {
            ids_uuid4(instance_id);
            once_done(&instance_id_state);
        }
        once_wait(&instance_id_state, 1000000);
        memset(&f->r, 0, sizeof f->r);
        arena_init(&f->r.arena, mem, size);
        f->r.arena.no_malloc = true;
        f->r.instance_id = instance_id;
        f->r.without_host = without_host;
        /* A relay may get here from a SIGCHLD handler (handoff.c, for the
         * host attributes a child asks for): only async-signal-safe calls
         * if the executable is still to be looked up (it was at start if
         * the process records spans). */
        const char *exe = exe_name(true);
        resource_detect(&f->r, &telemetry.cfg, exe ? exe : telemetry.exe_name, "");
        once_done(&f->state);
    }
    once_wait(&f->state, 1000000); /* another thread is detecting: it never blocks */
    return &f->r;
}

const struct attr_list *telemetry_resource(void) {
    return &resource_of(&full_form, full_mem, sizeof full_mem, false)->attrs;
}

const struct attr_list *telemetry_resource_local(uint32_t *host_wanted) {
    const struct resource *r = resource_of(&local_form, local_mem, sizeof local_mem, true);
    *host_wanted = r->host_wanted;
    return &r->attrs;
}

static char *baggage_entry;

const char *telemetry_baggage_entry(void) {
    return baggage_entry;
}

/* Unnamed threads' spans are named after their start routine: the exact
 * dynamic symbol, else module+offset. A program starts its threads on few
 * routines, so their names are kept for the process's life, and a span's
 * name points at its routine's (no copy into every span's arena, no
 * strlen). Past THREAD_NAMES routines, names are made per span and copied.
 * Only the thread exporting spans calls this (one at a time). */
#define THREAD_NAMES 64
struct thread_name {
    void *pc;
    uint32_t len;
    char name[96];
};
static struct thread_name thread_names[THREAD_NAMES] OTELP_COLD;
static unsigned n_thread_names, last_thread_name;

static const struct thread_name *thread_name_of(void *pc, struct thread_name *spare) {
    unsigned n = n_thread_names, i = last_thread_name;
    if (i < n && thread_names[i].pc == pc) return &thread_names[i];
    for (i = 0; i < n; i++)
        if (thread_names[i].pc == pc) {
            last_thread_name = i;
            return &thread_names[i];
        }
    struct thread_name *t = n < THREAD_NAMES ? &thread_names[n] : spare;
    Dl_info info;
    info.dli_fname = NULL; /* dladdr is weak: preload/abi_floor.h */
    if (dladdr && dladdr(pc, &info) && info.dli_sname && info.dli_saddr == pc) {
        /* A C++ routine's mangled symbol, readable (node's worker threads:
         * node::WorkerThreadsTaskRunner::...::{lambda}::_FUN()). */
        if (!demangle_name(info.dli_sname, t->name, sizeof t->name))
            snprintf(t->name, sizeof t->name, "%s", info.dli_sname);
    } else if (info.dli_fname) {
        const char *base = strrchr(info.dli_fname, '/');
        snprintf(t->name, sizeof t->name, "%s+0x%lx", base ? base + 1 : info.dli_fname,
                 (unsigned long)((char *)pc - (char *)info.dli_fbase));
    } else {
        snprintf(t->name, sizeof t->name, "thread");
    }
    t->pc = pc;
    t->len = (uint32_t)strlen(t->name);
    if (t != spare) {
        n_thread_names = n + 1;
        last_thread_name = n;
    }
    return t;
}

/* Completes threads' spans (span.thread_id) before their export: what
 * their threads left out of their own, short, path. */
static void complete_thread_spans(void *const *records, size_t n) {
    struct thread_name spare;
    for (size_t i = 0; i < n; i++) {
        struct span *s = records[i];
        if (!s->thread_id) continue;
        if (exporter_in_signal) s->arena.no_malloc = true;
        s->reserved_events = 0;
        span_add_first_event(s, "thread.start", s->start_ns);
        span_add_event(s, "thread.exit", s->end_ns);
        span_set_int(s, "thread.id", s->thread_id);
        s->thread_id = 0;
        /* An unnamed thread is named after its routine. dladdr is not
         * async-signal-safe: a fatal signal's flush leaves it "thread". */
        if (s->symbolize && !exporter_in_signal) {
            const struct thread_name *t = thread_name_of(s->symbolize, &spare);
            struct str name = str_of(t->name, t->len);
            if (t != &spare)
                s->name = name; /* kept for the process's life */
            else if (arena_strdup(&s->arena, name, UINT32_MAX, &name) == 0)
                s->name = name;
            s->symbolize = NULL;
        }
        if (!s->symbolize) span_set_str(s, "thread.name", s->name.ptr, s->name.len);
    }
}

/* otel.component.type of an exporter, as the semantic conventions name
 * the OTLP ones. */
static const char *exporter_type(const struct exporter *e) {
    static const char *const otlp[SIGNAL_COUNT][3] = {
        {"otlp_http_span_exporter", "otlp_http_json_span_exporter", "otlp_grpc_span_exporter"},
        {"otlp_http_log_exporter", "otlp_http_json_log_exporter", "otlp_grpc_log_exporter"},
        {"otlp_http_metric_exporter", "otlp_http_json_metric_exporter",
         "otlp_grpc_metric_exporter"}};
    static const char *const console[SIGNAL_COUNT] = {
        "console_span_exporter", "console_log_exporter", "console_metric_exporter"};
    if (strcmp(e->ops->name, "otlp") != 0) return console[e->signal];
    unsigned p = telemetry.cfg.otlp[e->signal].protocol;
    return otlp[e->signal][p < 3 ? p : 0];
}

static void telemetry_export_duration(struct metric_instrument *dur, const struct exporter *e,
                                      int index, uint64_t t0, int rc) {
    char name[80];
    snprintf(name, sizeof name, "%s/%d", exporter_type(e), index);
    struct attr a[3] = {
        {str_cstr("otel.component.type"), {.type = ATTR_STRING, .u.s = str_cstr(exporter_type(e))}},
        {str_cstr("otel.component.name"), {.type = ATTR_STRING, .u.s = str_cstr(name)}},
        {str_cstr("error.type"), {.type = ATTR_STRING, .u.s = str_cstr("export_failed")}}};
    /* Handed to a relay: not a failure (the relay exports it). */
    bool failed = rc < 0 && rc != BATCH_HANDED_OFF;
    metric_record_double(dur, (double)(clock_mono_ns() - t0) / 1e9, a, failed ? 3 : 2);
}

/* Hands a batch to every exporter of its signal: a negative errno when
 * one of them lost it, else the most records one of them had rejected. */
static int export_all(struct exporter *const *exporters, int n_exporters, void *const *records,
                      size_t n, uint64_t deadline) {
    int rc = 0, rejected = 0;
    for (int i = 0; i < n_exporters; i++) {
        struct metric_instrument *dur =
            atomic_load_explicit(&export_duration, memory_order_acquire);
        uint64_t t0 = dur ? clock_mono_ns() : 0;
        int r = exporters[i]->ops->export(exporters[i], records, n, NULL, deadline);
        if (dur) telemetry_export_duration(dur, exporters[i], i, t0, r);
        if (r == BATCH_SPOOLED || r == BATCH_HANDED_OFF) {
            if (rc == 0) rc = r; /* a loss elsewhere counts first */
        } else if (r < 0)
            rc = r;
        else if (r > rejected)
            rejected = r;
    }
    return rc < 0 ? rc : rejected;
}

static int export_spans(void *ctx, void *const *records, size_t n, uint64_t deadline) {
    (void)ctx;
    complete_thread_spans(records, n);
    return export_all(span_exporters, n_span_exporters, records, n, deadline);
}

static void free_span(void *record) {
    span_free(record);
}

static int export_logs(void *ctx, void *const *records, size_t n, uint64_t deadline) {
    (void)ctx;
    return export_all(log_exporters, n_log_exporters, records, n, deadline);
}

static void free_log(void *record) {
    log_record_free(record);
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

OTELP_FIRST void telemetry_set_root_span(struct span *root) {
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

static _Atomic int logs_state; /* once.h: made */

static void make_logs(void) {
    struct telemetry *t = &telemetry;
    for (int k = 1; k <= EXPORTER_MAX; k++) {
        if (!(t->cfg.exporters[SIGNAL_LOGS] & (1u << k))) continue;
        struct exporter *e = exporter_new((enum exporter_kind)k, SIGNAL_LOGS, &t->cfg);
        if (e) log_exporters[n_log_exporters++] = e;
    }
    if (n_log_exporters) {
        struct batch_sink sink = {export_logs, free_log, NULL};
        t->logs = batcher_new("logs", &t->cfg.blrp, &sink);
    }
}

struct batcher *telemetry_logs(void) {
    if (once_ready(&logs_state)) return telemetry.logs;
    if (!telemetry.logs_on) return NULL;
    if (once_claim(&logs_state)) {
        make_logs();
        once_done(&logs_state);
        return telemetry.logs;
    }
    /* Another thread is making it: no I/O, a moment. */
    return once_wait(&logs_state, 100000) ? telemetry.logs : NULL;
}

OTELP_FIRST int telemetry_init(char *const *envp, const char *exe_name) {
    struct telemetry *t = &telemetry;
    memset(t, 0, sizeof *t);
    n_span_exporters = n_log_exporters = 0;
    t->exe_name = exe_name;
    if (config_load(&t->cfg, envp) < 0) return -ENOMEM;
    if (t->cfg.disabled) return -ECANCELED;
    reader_init(&t->cfg);
    t->span_limits =
        (struct span_limits){t->cfg.span_attrs, t->cfg.event_attrs, t->cfg.span_event_count,
                             t->cfg.link_attrs, t->cfg.span_link_count};
    if (t->cfg.traceparent) {
        if (traceparent_parse(t->cfg.traceparent, &t->upstream) == 0)
            t->has_upstream = true;
        else
            diag_warn("ignoring invalid TRACEPARENT '%s'", t->cfg.traceparent);
    }
    if (t->cfg.baggage) {
        size_t len = strlen(t->cfg.baggage);
        baggage_entry = malloc(len + 9);
        if (baggage_entry) {
            memcpy(baggage_entry, "BAGGAGE=", 8);
            memcpy(baggage_entry + 8, t->cfg.baggage, len + 1);
        }
    }
    if (t->cfg.tracestate && (!t->has_upstream || !tracestate_valid(t->cfg.tracestate))) {
        if (t->has_upstream) diag_warn("ignoring invalid TRACESTATE");
        config_free_str(t->cfg.tracestate);
        t->cfg.tracestate = NULL;
    }
    for (int k = 1; k <= EXPORTER_MAX; k++) {
        if (!(t->cfg.exporters[SIGNAL_TRACES] & (1u << k))) continue;
        struct exporter *e = exporter_new((enum exporter_kind)k, SIGNAL_TRACES, &t->cfg);
        if (e) span_exporters[n_span_exporters++] = e;
    }
    handoff_init(&t->cfg);
    outbox_init(envp, t->cfg.spool_max_bytes);
    if (n_span_exporters) {
        span_set_slot_cache(t->cfg.bsp.max_queue_size);
        struct batch_sink sink = {export_spans, free_span, NULL};
        t->spans = batcher_new("spans", &t->cfg.bsp, &sink);
    }
    atomic_store(&logs_state, 0);
    t->logs_on = t->cfg.exporters[SIGNAL_LOGS] != 0;
    /* Stream lines wait in the queue, in a batch being exported, or are
     * being assembled (a few per thread): a pool that size rarely runs dry
     * before the queue is full. Capture needs the pipeline from the start
     * (a write in a signal handler must not make it). */
    if (t->logs_on && t->cfg.log_streams && telemetry_logs() &&
        stream_init(t->cfg.log_streams,
                    t->cfg.blrp.max_queue_size + t->cfg.blrp.max_export_batch_size + 64,
                    t->cfg.log_streams_rate) < 0)
        diag_warn("cannot capture the standard streams: out of memory");
    t->active = true;
    return 0;
}

struct span *telemetry_span_start(struct str name, const struct span_context *parent,
                                  struct str trace_state, uint64_t start_ns, size_t arena_size) {
    return telemetry_span_start_in(name, parent, trace_state, start_ns, arena_size, NULL, 0);
}

OTELP_FIRST struct span *telemetry_span_start_in(struct str name, const struct span_context *parent,
                                                 struct str trace_state, uint64_t start_ns,
                                                 size_t arena_size, void *mem, size_t mem_size) {
    struct telemetry *t = &telemetry;
    if (!t->active) return NULL;
    reader_poke(start_ns);
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
    struct span *s = !recording && mem && mem_size >= sizeof(struct span) + trace_state.len + 16
                         ? span_new_in(mem, mem_size, name, parent, trace_id, trace_state, false,
                                       start_ns, &t->span_limits)
                         : span_new(name, parent, trace_id, trace_state, recording, start_ns,
                                    &t->span_limits, arena_size);
    if (s && sampled) s->ctx.flags |= TRACE_FLAG_SAMPLED;
    if (s && recording) {
        struct count_shard *c = thread_counts();
        count_one(c, &c->started);
    }
    return s;
}

OTELP_FIRST void telemetry_span_end(struct span *s, uint64_t end_ns) {
    if (!s) return;
    s->end_ns = end_ns;
    reader_poke(end_ns);
    if (!s->recording || !telemetry.spans) {
        span_free(s);
        return;
    }
    struct count_shard *c = thread_counts();
    count_one(c, &c->ended);
    batcher_on_end(telemetry.spans, s);
}

static size_t align8(size_t n) {
    return (n + 7) & ~(size_t)7;
}

/* Arena bytes for copies of v (strings as arena_strdup makes them). */
static size_t value_room(const struct attr_value *v) {
    if (v->type == ATTR_STRING) return align8(v->u.s.len + 1);
    if (attr_num_size(v->type)) return align8(v->u.nums.count * attr_num_size(v->type) + 1);
    if (v->type != ATTR_STRING_ARRAY) return 0;
    size_t n = align8(v->u.arr.count * sizeof(struct str));
    for (uint32_t i = 0; i < v->u.arr.count; i++)
        n += align8(v->u.arr.items[i].len + 1);
    return n;
}

void telemetry_log_count_dropped(void) {
    atomic_fetch_add_explicit(&logs_dropped_no_memory, 1, memory_order_relaxed);
}

void telemetry_log_count_dropped_n(uint64_t n) {
    atomic_fetch_add_explicit(&logs_dropped_no_memory, n, memory_order_relaxed);
}

void telemetry_log_count_truncated(void) {
    atomic_fetch_add_explicit(&logs_truncated, 1, memory_order_relaxed);
}

bool telemetry_log_queue_full(void) {
    struct batcher *logs = telemetry_logs();
    return logs && batcher_full(logs);
}

void telemetry_log_count_queue_full(uint64_t n) {
    struct batcher *logs = telemetry_logs();
    if (logs) batcher_count_dropped(logs, n);
}

void telemetry_log_push(struct log_record *r) {
    atomic_fetch_add_explicit(&logs_created, 1, memory_order_relaxed);
    struct batcher *logs = telemetry_logs();
    if (logs)
        batcher_on_end(logs, r);
    else
        log_record_free(r);
}

/* Records of logging calls come from a pool of small slots (made on first
 * use), recycled when exported: no malloc and free in different threads
 * for each call. A record too big for a slot, or an empty pool, takes the
 * malloc path. */
#define LOG_SLOT 1024
static _Atomic(struct log_pool *) call_pool;

static struct log_pool *get_call_pool(void) {
    struct log_pool *p = atomic_load_explicit(&call_pool, memory_order_acquire);
    if (p) return p;
    const struct batch_config *b = &telemetry.cfg.blrp;
    struct log_pool *fresh =
        log_pool_new(b->max_queue_size + b->max_export_batch_size + 64, LOG_SLOT);
    if (!fresh) return NULL;
    if (!atomic_compare_exchange_strong(&call_pool, &p, fresh)) return p; /* never freed */
    return fresh;
}

static void log_to_record(const struct log_call *c, uint64_t now, const struct span_context *ctx) {
    /* Room for the body, severity text, the attribute array and the
     * string values. */
    size_t room = align8(c->body_len + 1) + c->nattrs * sizeof(struct attr);
    if (c->severity_text) room += align8(strlen(c->severity_text) + 1);
    for (uint32_t i = 0; i < c->nattrs; i++)
        room +=
            value_room(&c->attrs[i].value) + (c->copy_keys ? align8(c->attrs[i].key.len + 1) : 0);
    const struct attr_limits *lim = &telemetry.cfg.log_attrs;
    struct log_pool *pool = get_call_pool();
    struct log_record *r = NULL;
    if (pool && room <= log_pool_room(pool))
        r = log_record_new_pooled(pool, now, now, c->severity_number, c->severity_text, c->body,
                                  c->body_len, ctx, lim);
    if (!r)
        r = log_record_new(now, now, c->severity_number, c->severity_text, c->body, c->body_len,
                           ctx, lim, room);
    if (!r) {
        telemetry_log_count_dropped();
        return;
    }
    if (!c->copy_keys)
        log_record_add_attrs(r, c->attrs, c->nattrs);
    else if (attrs_reserve(&r->attrs, &r->arena, c->nattrs) < 0)
        r->attrs.dropped += c->nattrs;
    else
        for (uint32_t i = 0; i < c->nattrs; i++)
            (void)log_record_set_attr(r, c->attrs[i].key, &c->attrs[i].value);
    atomic_fetch_add_explicit(&logs_created, 1, memory_order_relaxed);
    batcher_on_end(telemetry.logs, r); /* made: see telemetry_log_emit */
}

/* The log-as-span-event view: an event "log" carrying the record's fields
 * as attributes (named after the OTLP LogRecord fields, as the
 * OpenTelemetry Java contrib event bridge does), then its attributes. */
static void log_to_span_event(const struct log_call *c, uint64_t now) {
    struct span *s = telemetry_current_span();
    if (!s || !s->recording || !span_lock(s)) return;
    struct span_event *e = span_add_event(s, "log", now);
    if (!e) {
        span_unlock(s);
        return;
    }
    struct attr_value v = {.type = ATTR_INT, .u.i = c->severity_number};
    (void)span_event_set_attr(s, e, str_cstr("log.record.severity_number"), &v);
    if (c->severity_text) {
        v = (struct attr_value){.type = ATTR_STRING, .u.s = str_cstr(c->severity_text)};
        (void)span_event_set_attr(s, e, str_cstr("log.record.severity_text"), &v);
    }
    v = (struct attr_value){.type = ATTR_STRING, .u.s = str_of(c->body, c->body_len)};
    (void)span_event_set_attr(s, e, str_cstr("log.record.body"), &v);
    for (uint32_t i = 0; i < c->nattrs; i++)
        (void)span_event_set_attr(s, e, c->attrs[i].key, &c->attrs[i].value);
    span_unlock(s);
}

void telemetry_log_emit(const struct log_call *call) {
    if (!telemetry.active) return;
    uint64_t now = clock_now_ns();
    reader_poke(now);
    /* A body that is not UTF-8 (Latin-1 text, binary) gets U+FFFD for each
     * bad byte: OTLP strings must be UTF-8. */
    struct log_call c = *call;
    char *fixed = NULL;
    if (!utf8_valid(c.body, c.body_len)) {
        size_t need = utf8_sanitized_len(c.body, c.body_len);
        fixed = malloc(need);
        if (!fixed) {
            telemetry_log_count_dropped();
            return;
        }
        c.body_len = utf8_sanitize(fixed, need, c.body, c.body_len);
        c.body = fixed;
    }
    if (telemetry_logs()) {
        struct span_context ctx;
        bool has_ctx = telemetry_current_context(&ctx);
        log_to_record(&c, now, has_ctx ? &ctx : NULL);
    }
    if (telemetry.cfg.log_span_events) log_to_span_event(&c, now);
    free(fixed);
}

static void report_batcher(const char *what, const struct batcher *b) {
    struct batch_stats st;
    batcher_stats(b, &st);
    diag_info("%s[%d]: %s: exported %llu, dropped %llu (queue full), %llu (export failed), "
              "%llu (rejected), %llu (shutdown), spooled %llu, handed off %llu",
              telemetry.exe_name ? telemetry.exe_name : "", (int)getpid(), what,
              (unsigned long long)st.exported, (unsigned long long)st.dropped_queue_full,
              (unsigned long long)st.dropped_export_failed, (unsigned long long)st.dropped_rejected,
              (unsigned long long)st.dropped_shutdown, (unsigned long long)st.spooled,
              (unsigned long long)st.handed_off);
}

void telemetry_report_loss(void) {
    if (diag_get_level() < DIAG_INFO) return;
    struct outbox_stats o;
    outbox_get_stats(&o);
    if (o.spooled_batches || o.evicted_batches || o.refused_batches || o.drained_batches)
        diag_info("spool: wrote %llu batches (%llu records), evicted %llu batches (%llu records), "
                  "refused %llu batches (%llu records), delivered %llu batches (%llu records)",
                  (unsigned long long)o.spooled_batches, (unsigned long long)o.spooled_records,
                  (unsigned long long)o.evicted_batches, (unsigned long long)o.evicted_records,
                  (unsigned long long)o.refused_batches, (unsigned long long)o.refused_records,
                  (unsigned long long)o.drained_batches, (unsigned long long)o.drained_records);
    if (telemetry.spans) report_batcher("spans", telemetry.spans);
    if (once_ready(&logs_state) && telemetry.logs) {
        report_batcher("logs", telemetry.logs);
        diag_info("logs: dropped %llu (no memory), %llu bodies truncated",
                  (unsigned long long)atomic_load(&logs_dropped_no_memory),
                  (unsigned long long)atomic_load(&logs_truncated));
    }
}

OTELP_FIRST void telemetry_shutdown(bool in_signal) {
    if (!telemetry.active) return;
    if (in_signal) exporter_in_signal = true;
    stream_flush_thread();
    /* One budget for both: what children handed us, then our own. */
    uint64_t start = clock_mono_ns();
    processor_begin_exit();
    relay_shutdown(telemetry.cfg.shutdown_timeout_ms, in_signal);
    uint64_t spent_ms = (clock_mono_ns() - start) / 1000000u;
    uint32_t left = spent_ms >= telemetry.cfg.shutdown_timeout_ms
                        ? 0
                        : telemetry.cfg.shutdown_timeout_ms - (uint32_t)spent_ms;
    processor_shutdown(left, in_signal);
    reader_shutdown(in_signal); /* the last metrics, in what is left of the budget */
    if (in_signal) return;
    telemetry_report_loss();
    /* Under valgrind only: its leak check would count the cached free
     * slots as the program's, and it reports (rather than suffers) a
     * thread still reading its ended span after this. Elsewhere they stay
     * cached: a late reader finds valid memory. */
    if (VG_RUNNING()) span_release_slot_cache();
}

void telemetry_after_fork_child(void) {
    ids_after_fork();
    exe_after_fork_child();
    /* A new process: its own resource (service.instance.id), detected anew;
     * also, a parent thread may have been detecting at the fork. */
    atomic_store(&full_form.state, 0);
    atomic_store(&local_form.state, 0);
    atomic_store(&instance_id_state, 0);
    /* A parent thread was making the logs pipeline: made anew if needed. */
    if (atomic_load(&logs_state) == 1) atomic_store(&logs_state, 0);
    if (!telemetry.active) return;
    reader_after_fork_child();
    processor_after_fork_child();
    relay_after_fork_child();
    outbox_after_fork_child();
    for (int i = 0; i < n_span_exporters; i++)
        span_exporters[i]->ops->after_fork(span_exporters[i]);
    for (int i = 0; i < n_log_exporters; i++)
        log_exporters[i]->ops->after_fork(log_exporters[i]);
    atomic_store(&logs_dropped_no_memory, 0);
    atomic_store(&logs_truncated, 0);
    for (uint32_t i = 0; i < COUNT_SHARDS; i++) {
        atomic_store(&count_shards[i].started, 0);
        atomic_store(&count_shards[i].ended, 0);
    }
    atomic_store(&logs_created, 0);
}

/* ---- The SDK's own metrics (semantic conventions, otel.sdk.*). ----
 * Observable instruments over the processors' and this file's counts,
 * read at each collection; one histogram of export durations recorded by
 * export_all. Components are named <type>/0 (one of each per process). */

enum sdk_what {
    SDK_SPAN_STARTED,
    SDK_SPAN_LIVE,
    SDK_LOG_CREATED,
    SDK_PROCESSED,
    SDK_QUEUE_SIZE,
    SDK_QUEUE_CAPACITY,
    SDK_EXPORTED,
    SDK_INFLIGHT,
};

struct sdk_cb {
    enum sdk_what what;
    enum signal_kind sig; /* SIGNAL_TRACES or SIGNAL_LOGS */
};

static struct batcher *batcher_of(enum signal_kind sig) {
    if (sig == SIGNAL_TRACES) return telemetry.spans;
    return once_ready(&logs_state) ? telemetry.logs : NULL;
}

#define SDK_ATTR(k, v)                                                                             \
    (struct attr) {                                                                                \
        str_cstr(k), {                                                                             \
            .type = ATTR_STRING, .u.s = str_cstr(v)                                                \
        }                                                                                          \
    }

static void sdk_observe(struct metric_observer *o, void *ctx) {
    const struct sdk_cb *c = ctx;
    bool spans = c->sig == SIGNAL_TRACES;
    if (c->what == SDK_SPAN_STARTED) {
        uint64_t started, ended;
        span_counts(&started, &ended);
        metric_observe_int(o, (int64_t)started, NULL, 0);
        return;
    }
    if (c->what == SDK_SPAN_LIVE) {
        uint64_t started, ended;
        span_counts(&started, &ended);
        metric_observe_int(o, (int64_t)(started - ended), NULL, 0);
        return;
    }
    if (c->what == SDK_LOG_CREATED) {
        metric_observe_int(o, (int64_t)atomic_load(&logs_created), NULL, 0);
        return;
    }
    struct batcher *b = batcher_of(c->sig);
    if (!b) return;
    const char *ptype = spans ? "batching_span_processor" : "batching_log_processor";
    const char *pname = spans ? "batching_span_processor/0" : "batching_log_processor/0";
    struct exporter *const *ex = spans ? span_exporters : log_exporters;
    int nex = spans ? n_span_exporters : n_log_exporters;
    const char *etype = nex ? exporter_type(ex[0]) : "none";
    char ename[80];
    snprintf(ename, sizeof ename, "%s/0", etype);
    struct attr proc[3] = {SDK_ATTR("otel.component.type", ptype),
                           SDK_ATTR("otel.component.name", pname), SDK_ATTR("error.type", "")};
    struct attr exp[3] = {SDK_ATTR("otel.component.type", etype),
                          SDK_ATTR("otel.component.name", ename), SDK_ATTR("error.type", "")};
    struct batch_stats st;
    batcher_stats(b, &st);
    switch (c->what) {
    case SDK_PROCESSED: {
        metric_observe_int(o, (int64_t)st.exported, proc, 2);
        static const char *const why[] = {"queue_full", "export_failed", "rejected", "shutdown"};
        uint64_t n[] = {st.dropped_queue_full, st.dropped_export_failed, st.dropped_rejected,
                        st.dropped_shutdown};
        for (int i = 0; i < 4; i++) {
            if (!n[i]) continue;
            proc[2].value.u.s = str_cstr(why[i]);
            metric_observe_int(o, (int64_t)n[i], proc, 3);
        }
        break;
    }
    case SDK_QUEUE_SIZE:
        metric_observe_int(o, (int64_t)batcher_queued(b), proc, 2);
        break;
    case SDK_QUEUE_CAPACITY:
        metric_observe_int(o, (int64_t)batcher_capacity(b), proc, 2);
        break;
    case SDK_EXPORTED:
        if (!nex) break;
        metric_observe_int(o, (int64_t)st.exported, exp, 2);
        if (st.dropped_export_failed) {
            exp[2].value.u.s = str_cstr("export_failed");
            metric_observe_int(o, (int64_t)st.dropped_export_failed, exp, 3);
        }
        if (st.dropped_rejected) {
            exp[2].value.u.s = str_cstr("rejected");
            metric_observe_int(o, (int64_t)st.dropped_rejected, exp, 3);
        }
        break;
    case SDK_INFLIGHT:
        if (nex) metric_observe_int(o, (int64_t)batcher_in_flight(b), exp, 2);
        break;
    default:
        break;
    }
}

static const struct sdk_def {
    const char *name, *unit, *description;
    enum metric_kind kind;
    struct sdk_cb cb;
} sdk_defs[] = {
    {"otel.sdk.span.started",
     "{span}",
     "The number of created spans.",
     METRIC_OBSERVABLE_COUNTER,
     {SDK_SPAN_STARTED, SIGNAL_TRACES}},
    {"otel.sdk.span.live",
     "{span}",
     "The number of created spans that have not ended yet.",
     METRIC_OBSERVABLE_UPDOWN_COUNTER,
     {SDK_SPAN_LIVE, SIGNAL_TRACES}},
    {"otel.sdk.processor.span.processed",
     "{span}",
     "The number of spans for which the processing has finished, either successful or failed.",
     METRIC_OBSERVABLE_COUNTER,
     {SDK_PROCESSED, SIGNAL_TRACES}},
    {"otel.sdk.processor.span.queue.size",
     "{span}",
     "The number of spans in the queue of a given instance of an SDK span processor.",
     METRIC_OBSERVABLE_UPDOWN_COUNTER,
     {SDK_QUEUE_SIZE, SIGNAL_TRACES}},
    {"otel.sdk.processor.span.queue.capacity",
     "{span}",
     "The maximum number of spans the queue of a given instance of an SDK span processor can "
     "hold.",
     METRIC_OBSERVABLE_UPDOWN_COUNTER,
     {SDK_QUEUE_CAPACITY, SIGNAL_TRACES}},
    {"otel.sdk.exporter.span.exported",
     "{span}",
     "The number of spans for which the export has finished, either successful or failed.",
     METRIC_OBSERVABLE_COUNTER,
     {SDK_EXPORTED, SIGNAL_TRACES}},
    {"otel.sdk.exporter.span.inflight",
     "{span}",
     "The number of spans which were passed to the exporter, but that have not been exported "
     "yet (neither successful, nor failed).",
     METRIC_OBSERVABLE_UPDOWN_COUNTER,
     {SDK_INFLIGHT, SIGNAL_TRACES}},
    {"otel.sdk.log.created",
     "{log_record}",
     "The number of logs submitted to enabled SDK Loggers.",
     METRIC_OBSERVABLE_COUNTER,
     {SDK_LOG_CREATED, SIGNAL_LOGS}},
    {"otel.sdk.processor.log.processed",
     "{log_record}",
     "The number of log records for which the processing has finished, either successful or "
     "failed.",
     METRIC_OBSERVABLE_COUNTER,
     {SDK_PROCESSED, SIGNAL_LOGS}},
    {"otel.sdk.processor.log.queue.size",
     "{log_record}",
     "The number of log records in the queue of a given instance of an SDK log processor.",
     METRIC_OBSERVABLE_UPDOWN_COUNTER,
     {SDK_QUEUE_SIZE, SIGNAL_LOGS}},
    {"otel.sdk.processor.log.queue.capacity",
     "{log_record}",
     "The maximum number of log records the queue of a given instance of an SDK log processor "
     "can hold.",
     METRIC_OBSERVABLE_UPDOWN_COUNTER,
     {SDK_QUEUE_CAPACITY, SIGNAL_LOGS}},
    {"otel.sdk.exporter.log.exported",
     "{log_record}",
     "The number of log records for which the export has finished, either successful or failed.",
     METRIC_OBSERVABLE_COUNTER,
     {SDK_EXPORTED, SIGNAL_LOGS}},
    {"otel.sdk.exporter.log.inflight",
     "{log_record}",
     "The number of log records which were passed to the exporter, but that have not been "
     "exported yet (neither successful, nor failed).",
     METRIC_OBSERVABLE_UPDOWN_COUNTER,
     {SDK_INFLIGHT, SIGNAL_LOGS}},
};

void telemetry_sdk_metrics_register(void) {
    for (size_t i = 0; i < sizeof sdk_defs / sizeof *sdk_defs; i++) {
        const struct sdk_def *d = &sdk_defs[i];
        struct metric_desc md = {.name = d->name,
                                 .unit = d->unit,
                                 .description = d->description,
                                 .kind = d->kind,
                                 .number = METRIC_INT};
        struct metric_instrument *m = metric_instrument_new(&md);
        if (m) (void)metric_add_callback(m, sdk_observe, (void *)&d->cb);
    }
    static const double bounds[] = {0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25,
                                    0.5,   0.75, 1,     2.5,  5,     7.5, 10};
    struct metric_desc hd = {.name = "otel.sdk.exporter.operation.duration",
                             .unit = "s",
                             .description =
                                 "The duration of exporting a batch of telemetry records.",
                             .kind = METRIC_HISTOGRAM,
                             .number = METRIC_DOUBLE,
                             .boundaries = bounds,
                             .nboundaries = sizeof bounds / sizeof *bounds};
    atomic_store_explicit(&export_duration, metric_instrument_new(&hd), memory_order_release);
}
