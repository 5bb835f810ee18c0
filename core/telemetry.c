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

struct telemetry telemetry;

/* The export side (telemetry.h); none: nothing is exported. */
static int no_open(enum signal_kind sig, const struct config *cfg) {
    (void)sig;
    (void)cfg;
    return 0;
}
static int no_export(enum signal_kind sig, void *const *records, size_t n, uint64_t deadline) {
    (void)sig;
    (void)records;
    (void)n;
    (void)deadline;
    return -ENOTSUP;
}
static const struct telemetry_exports no_exports = {.open = no_open, .export = no_export};
static const struct telemetry_exports *exports = &no_exports;
/* Exporters per signal (the export side's open), made once. */
static int n_exporters[SIGNAL_COUNT];
/* A dying process flushes from its signal handler: no malloc, no dladdr. */
static bool flushing_in_signal;

void telemetry_set_exports(const struct telemetry_exports *e) {
    exports = e ? e : &no_exports;
}

const struct telemetry_exports *telemetry_get_exports(void) {
    return exports;
}
static _Atomic uint64_t logs_dropped_no_memory, logs_truncated;
/* Recording spans that could not be made (no memory): never started, so
 * in no processor's count; reported with the spans' loss line. */
static _Atomic uint64_t spans_dropped_no_memory;
/* Self-observability (telemetry_sdk_metrics_register): log records made;
 * recording spans started and ended, counted per thread (span_counts). */
static _Atomic uint64_t logs_created;

/* Span counts per thread: a thread counts into a line of its own with a
 * plain load and store (a locked add was two of the six locked operations
 * a span start+end made, ~7 ns each); a collection sums the lines. Threads
 * past COUNT_SHARDS - 1 share the last line, with locked adds. A line is
 * never given to another thread: an ended thread's counts stay.
 * Spans started are counted by the semantic conventions' attributes (every
 * span, recording or not): otel.span.sampling_result (our samplers decide
 * sampled or not: RECORD_AND_SAMPLE or DROP, never RECORD_ONLY) and
 * otel.span.parent.origin (none, local, remote); ended ones only when
 * recording (otel.sdk.span.live). Seven counts: one 64-byte line. The first
 * thread's line is in the storage every process writes at start, not with
 * the others: a process that records nothing (OTEL_TRACES_EXPORTER=none)
 * still counts its root span, and must not fault a page in for it. */
enum { SAMPLED_RECORD, SAMPLED_DROP, N_SAMPLING };
enum { ORIGIN_NONE, ORIGIN_LOCAL, ORIGIN_REMOTE, N_ORIGIN };
#define COUNT_SHARDS 128
struct count_shard {
    _Alignas(64) _Atomic uint64_t started[N_SAMPLING][N_ORIGIN];
    _Atomic uint64_t ended;
};
static struct count_shard first_shard;
static struct count_shard count_shards[COUNT_SHARDS - 1] OTELP_COLD;
static _Atomic uint32_t count_shards_taken;
static _Thread_local struct count_shard *my_counts __attribute__((tls_model("initial-exec")));

static struct count_shard *shard_at(uint32_t i) {
    return i == 0 ? &first_shard : &count_shards[i - 1];
}

#define LAST_SHARD (&count_shards[COUNT_SHARDS - 2])

static struct count_shard *thread_counts(void) {
    struct count_shard *c = my_counts;
    if (__builtin_expect(c != NULL, 1)) return c;
    uint32_t i = atomic_fetch_add_explicit(&count_shards_taken, 1, memory_order_relaxed);
    c = shard_at(i < COUNT_SHARDS - 1 ? i : COUNT_SHARDS - 1);
    my_counts = c;
    return c;
}

static inline void count_one(struct count_shard *c, _Atomic uint64_t *n) {
    if (c != LAST_SHARD)
        atomic_store_explicit(n, atomic_load_explicit(n, memory_order_relaxed) + 1,
                              memory_order_relaxed);
    else
        atomic_fetch_add_explicit(n, 1, memory_order_relaxed);
}

/* The sums over the threads' lines. */
struct span_totals {
    uint64_t started[N_SAMPLING][N_ORIGIN], ended;
};

static void span_counts(struct span_totals *t) {
    memset(t, 0, sizeof *t);
    uint32_t n = atomic_load_explicit(&count_shards_taken, memory_order_relaxed);
    for (uint32_t i = 0; i < COUNT_SHARDS && i <= n; i++) {
        struct count_shard *c = shard_at(i);
        for (int s = 0; s < N_SAMPLING; s++)
            for (int o = 0; o < N_ORIGIN; o++)
                t->started[s][o] += atomic_load_explicit(&c->started[s][o], memory_order_relaxed);
        t->ended += atomic_load_explicit(&c->ended, memory_order_relaxed);
    }
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
        if (flushing_in_signal) s->arena.no_malloc = true;
        s->reserved_events = 0;
        span_add_first_event(s, "thread.start", s->start_ns);
        span_add_event(s, "thread.exit", s->end_ns);
        span_set_int(s, "thread.id", s->thread_id);
        s->thread_id = 0;
        /* An unnamed thread is named after its routine. dladdr is not
         * async-signal-safe: a fatal signal's flush leaves it "thread". */
        if (s->symbolize && !flushing_in_signal) {
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

const char *telemetry_component_type(const char *kind, enum signal_kind sig,
                                     enum otlp_protocol protocol) {
    static const char *const otlp[SIGNAL_COUNT][3] = {
        {"otlp_http_span_exporter", "otlp_http_json_span_exporter", "otlp_grpc_span_exporter"},
        {"otlp_http_log_exporter", "otlp_http_json_log_exporter", "otlp_grpc_log_exporter"},
        {"otlp_http_metric_exporter", "otlp_http_json_metric_exporter",
         "otlp_grpc_metric_exporter"}};
    static const char *const console[SIGNAL_COUNT] = {
        "console_span_exporter", "console_log_exporter", "console_metric_exporter"};
    if (sig >= SIGNAL_COUNT) return "unknown";
    if (strcmp(kind, "otlp") != 0) return console[sig];
    return otlp[sig][(unsigned)protocol < 3 ? protocol : 0];
}

struct metric_instrument *telemetry_export_duration(void) {
    return atomic_load_explicit(&export_duration, memory_order_acquire);
}

static int export_spans(void *ctx, void *const *records, size_t n, uint64_t deadline) {
    (void)ctx;
    complete_thread_spans(records, n);
    return exports->export(SIGNAL_TRACES, records, n, deadline);
}

static void free_span(void *record) {
    span_free(record);
}

static int export_logs(void *ctx, void *const *records, size_t n, uint64_t deadline) {
    (void)ctx;
    return exports->export(SIGNAL_LOGS, records, n, deadline);
}

static void free_log(void *record) {
    log_record_free(record);
}

_Thread_local struct span *telemetry_tls_current __attribute__((tls_model("initial-exec")));
static struct span_context root_ctx;
_Atomic int telemetry_root_state; /* 0 none, 1 live, 2 ended */

void telemetry_set_current_span(struct span *s) {
    telemetry_tls_current = s;
}

OTELP_FIRST void telemetry_set_root_span(struct span *root) {
    if (root) {
        root_ctx = root->ctx;
        telemetry_tls_current = root;
        atomic_store_explicit(&telemetry_root_state, 1, memory_order_release);
    } else {
        atomic_store_explicit(&telemetry_root_state, 2, memory_order_release);
        telemetry_tls_current = NULL;
    }
}

bool telemetry_current_context(struct span_context *out) {
    struct span *s = telemetry_current_span();
    if (s) {
        *out = s->ctx;
        return true;
    }
    if (atomic_load_explicit(&telemetry_root_state, memory_order_acquire) != 0) {
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
    n_exporters[SIGNAL_LOGS] = exports->open(SIGNAL_LOGS, &t->cfg);
    if (n_exporters[SIGNAL_LOGS] > 0) {
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
    memset(n_exporters, 0, sizeof n_exporters);
    flushing_in_signal = false;
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
    n_exporters[SIGNAL_TRACES] = exports->open(SIGNAL_TRACES, &t->cfg);
    if (exports->init) exports->init(&t->cfg, envp);
    if (n_exporters[SIGNAL_TRACES] > 0) {
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
    if (!s && recording)
        atomic_fetch_add_explicit(&spans_dropped_no_memory, 1, memory_order_relaxed);
    if (s) {
        if (sampled) s->ctx.flags |= TRACE_FLAG_SAMPLED;
        struct count_shard *c = thread_counts();
        /* No branch: ORIGIN_LOCAL + 1 is ORIGIN_REMOTE, SAMPLED_DROP is 1. */
        int origin = parent ? ORIGIN_LOCAL + (int)parent->remote : ORIGIN_NONE;
        count_one(c, &c->started[!sampled][origin]);
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

/* The conventions count every record submitted in otel.sdk.log.created,
 * those dropped before they were made included (no memory, a full queue
 * that stream capture found before making the line's record). */
void telemetry_log_count_dropped(void) {
    telemetry_log_count_dropped_n(1);
}

void telemetry_log_count_dropped_n(uint64_t n) {
    atomic_fetch_add_explicit(&logs_dropped_no_memory, n, memory_order_relaxed);
    atomic_fetch_add_explicit(&logs_created, n, memory_order_relaxed);
}

void telemetry_log_count_truncated(void) {
    atomic_fetch_add_explicit(&logs_truncated, 1, memory_order_relaxed);
}

bool telemetry_log_queue_full(void) {
    struct batcher *logs = telemetry_logs();
    return logs && batcher_full(logs);
}

void telemetry_log_count_queue_full(uint64_t n) {
    atomic_fetch_add_explicit(&logs_created, n, memory_order_relaxed);
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
    if (exports->report) exports->report();
    if (telemetry.spans) {
        report_batcher("spans", telemetry.spans);
        uint64_t no_memory = atomic_load(&spans_dropped_no_memory);
        if (no_memory)
            diag_info("%s[%d]: spans: dropped %llu (no memory)",
                      telemetry.exe_name ? telemetry.exe_name : "", (int)getpid(),
                      (unsigned long long)no_memory);
    }
    if (once_ready(&logs_state) && telemetry.logs) {
        report_batcher("logs", telemetry.logs);
        diag_info("%s[%d]: logs: dropped %llu (no memory), %llu bodies truncated",
                  telemetry.exe_name ? telemetry.exe_name : "", (int)getpid(),
                  (unsigned long long)atomic_load(&logs_dropped_no_memory),
                  (unsigned long long)atomic_load(&logs_truncated));
    }
}

static struct batcher *batcher_of(enum signal_kind sig);

/* The relay's tree series is this process's to report (telemetry_shutdown). */
static bool tree_due;

bool telemetry_tree_due(void) {
    return tree_due;
}

static bool hand_up_counts(void) {
    if (!exports->hand_up) return true;
    struct telemetry_tree_stats own[SIGNAL_COUNT];
    memset(own, 0, sizeof own);
    for (int sig = 0; sig < SIGNAL_COUNT; sig++) {
        struct batcher *b = batcher_of((enum signal_kind)sig);
        if (!b) continue;
        struct batch_stats st;
        batcher_stats(b, &st);
        own[sig] = (struct telemetry_tree_stats){
            .exported = st.exported,
            .failed = st.dropped_export_failed,
            .spooled = st.spooled,
            .rejected = st.dropped_rejected,
            .processed = st.exported + st.dropped_export_failed + st.dropped_rejected + st.spooled +
                         batcher_in_flight(b),
            .queue_full = st.dropped_queue_full,
            .shutdown = st.dropped_shutdown,
        };
    }
    return exports->hand_up(own);
}

void telemetry_hand_up(void) {
    if (telemetry.active) (void)hand_up_counts();
}

static bool tree_has_counts(void) {
    struct telemetry_tree_stats ts;
    for (int sig = 0; sig < SIGNAL_COUNT; sig++)
        if (exports->tree_stats && exports->tree_stats((enum signal_kind)sig, &ts)) return true;
    return false;
}

OTELP_FIRST void telemetry_shutdown(bool in_signal) {
    if (!telemetry.active) return;
    if (in_signal) flushing_in_signal = true;
    stream_flush_thread();
    /* One budget for both: what children handed us, then our own. */
    uint64_t start = clock_mono_ns();
    processor_begin_exit();
    if (exports->shutdown) exports->shutdown(telemetry.cfg.shutdown_timeout_ms, in_signal);
    uint64_t spent_ms = (clock_mono_ns() - start) / 1000000u;
    uint32_t left = spent_ms >= telemetry.cfg.shutdown_timeout_ms
                        ? 0
                        : telemetry.cfg.shutdown_timeout_ms - (uint32_t)spent_ms;
    processor_shutdown(left, in_signal);
    /* The counts are final: to the parent's relay, or reported here. */
    tree_due = !hand_up_counts() && tree_has_counts();
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
    if (exports->after_fork_child) exports->after_fork_child();
    atomic_store(&logs_dropped_no_memory, 0);
    atomic_store(&logs_truncated, 0);
    atomic_store(&spans_dropped_no_memory, 0);
    uint32_t taken = atomic_load_explicit(&count_shards_taken, memory_order_relaxed);
    for (uint32_t i = 0; i < COUNT_SHARDS && i <= taken; i++) {
        struct count_shard *c = shard_at(i);
        for (int sr = 0; sr < N_SAMPLING; sr++)
            for (int o = 0; o < N_ORIGIN; o++)
                atomic_store(&c->started[sr][o], 0);
        atomic_store(&c->ended, 0);
    }
    atomic_store(&logs_created, 0);
    tree_due = false;
}

/* ---- The SDK's own metrics (semantic conventions, otel.sdk.*). ----
 * Observable instruments over the processors' and this file's counts,
 * read at each collection; one histogram of export durations that the
 * export side records (telemetry_export_duration). Components are named
 * <type>/0 (one of each per process).
 *
 * The conventions' rules: a record is processed (no error.type) once the
 * processor hands it to the exporter, whatever the export's outcome;
 * processed with an error.type when the processor dropped it (queue_full;
 * shutdown: still queued when the exit's flush budget ran out). The
 * exporter's counts say what became of the handed records: exported (to
 * the collector, or to the parent's relay, which exports it and counts it
 * as its tree's), export_failed, rejected (OTLP partial success), spooled
 * (kept on disk, delivered later). A relay adds its process tree's series:
 * what it exported for the processes below it (tree_stats). */

enum sdk_what {
    SDK_SPAN_STARTED,
    SDK_SPAN_LIVE,
    SDK_LOG_CREATED,
    SDK_PROCESSED,
    SDK_QUEUE_SIZE,
    SDK_QUEUE_CAPACITY,
    SDK_EXPORTED,
    SDK_INFLIGHT,
    SDK_POINTS_EXPORTED,
};

struct sdk_cb {
    enum sdk_what what;
    enum signal_kind sig;
};

static struct batcher *batcher_of(enum signal_kind sig) {
    if (sig == SIGNAL_TRACES) return telemetry.spans;
    if (sig == SIGNAL_LOGS) return once_ready(&logs_state) ? telemetry.logs : NULL;
    return NULL;
}

#define SDK_ATTR(k, v)                                                                             \
    (struct attr) {                                                                                \
        str_cstr(k), {                                                                             \
            .type = ATTR_STRING, .u.s = str_cstr(v)                                                \
        }                                                                                          \
    }

/* One point per non-zero count (the first always): error.type NULL is
 * none. a holds the component's type and name, and room for error.type. */
static void observe_counts(struct metric_observer *o, struct attr a[3], const uint64_t *n,
                           const char *const *why, int count) {
    for (int i = 0; i < count; i++) {
        if (i && !n[i]) continue;
        if (why[i]) a[2].value.u.s = str_cstr(why[i]);
        metric_observe_int(o, (int64_t)n[i], a, why[i] ? 3 : 2);
    }
}

/* The relay's series: what its process tree processed (what), or what
 * became of the tree's records (exported). */
static void observe_tree(struct metric_observer *o, enum signal_kind sig, enum sdk_what what) {
    struct telemetry_tree_stats ts;
    if (!exports->tree_stats || !exports->tree_stats(sig, &ts)) return;
    struct attr a[3] = {SDK_ATTR("otel.component.type", "otel_preload_relay"),
                        SDK_ATTR("otel.component.name", "otel_preload_relay/0"),
                        SDK_ATTR("error.type", "")};
    if (what == SDK_PROCESSED) {
        static const char *const why[] = {NULL, "queue_full", "shutdown"};
        uint64_t n[] = {ts.processed, ts.queue_full, ts.shutdown};
        observe_counts(o, a, n, why, 3);
        return;
    }
    static const char *const why[] = {NULL, "export_failed", "rejected", "spooled"};
    uint64_t n[] = {ts.exported, ts.failed, ts.rejected, ts.spooled};
    observe_counts(o, a, n, why, 4);
}

/* The relay's tree series alone (telemetry_sdk_tree_metrics_register). */
static void sdk_observe_tree(struct metric_observer *o, void *ctx) {
    const struct sdk_cb *c = ctx;
    observe_tree(o, c->sig, c->what == SDK_POINTS_EXPORTED ? SDK_EXPORTED : c->what);
}

static void sdk_observe(struct metric_observer *o, void *ctx) {
    const struct sdk_cb *c = ctx;
    if (c->what == SDK_SPAN_STARTED || c->what == SDK_SPAN_LIVE) {
        static const char *const sampling[N_SAMPLING] = {"RECORD_AND_SAMPLE", "DROP"};
        static const char *const origins[N_ORIGIN] = {"none", "local", "remote"};
        struct span_totals t;
        span_counts(&t);
        struct attr a[2] = {SDK_ATTR("otel.span.sampling_result", ""),
                            SDK_ATTR("otel.span.parent.origin", "")};
        if (c->what == SDK_SPAN_LIVE) {
            /* Recording spans only: sampled ones, when spans record at all
             * (not without a span exporter). */
            uint64_t rec = 0;
            for (int i = 0; i < N_ORIGIN; i++)
                rec += t.started[SAMPLED_RECORD][i];
            a[0].value.u.s = str_cstr(sampling[SAMPLED_RECORD]);
            metric_observe_int(o, telemetry.spans ? (int64_t)(rec - t.ended) : 0, a, 1);
            return;
        }
        /* One point per combination seen (RECORD_AND_SAMPLE with no
         * parent always: the first point of a process that started none). */
        for (int sr = 0; sr < N_SAMPLING; sr++)
            for (int i = 0; i < N_ORIGIN; i++) {
                if (!t.started[sr][i] && (sr || i)) continue;
                a[0].value.u.s = str_cstr(sampling[sr]);
                a[1].value.u.s = str_cstr(origins[i]);
                metric_observe_int(o, (int64_t)t.started[sr][i], a, 2);
            }
        return;
    }
    if (c->what == SDK_LOG_CREATED) {
        metric_observe_int(o, (int64_t)atomic_load(&logs_created), NULL, 0);
        return;
    }
    const char *etype = exports->component_type ? exports->component_type(c->sig) : NULL;
    char ename[80];
    snprintf(ename, sizeof ename, "%s/0", etype ? etype : "none");
    struct attr exp[3] = {SDK_ATTR("otel.component.type", etype ? etype : "none"),
                          SDK_ATTR("otel.component.name", ename), SDK_ATTR("error.type", "")};
    if (c->what == SDK_POINTS_EXPORTED) {
        struct reader_stats rs;
        reader_stats(&rs);
        static const char *const why[] = {NULL, "export_failed"};
        uint64_t n[] = {rs.points_exported, rs.points_failed};
        if (etype) observe_counts(o, exp, n, why, 2);
        observe_tree(o, SIGNAL_METRICS, SDK_EXPORTED);
        return;
    }
    if (c->what == SDK_PROCESSED || c->what == SDK_EXPORTED) observe_tree(o, c->sig, c->what);
    struct batcher *b = batcher_of(c->sig);
    if (!b) return;
    bool spans = c->sig == SIGNAL_TRACES;
    const char *ptype = spans ? "batching_span_processor" : "batching_log_processor";
    const char *pname = spans ? "batching_span_processor/0" : "batching_log_processor/0";
    struct attr proc[3] = {SDK_ATTR("otel.component.type", ptype),
                           SDK_ATTR("otel.component.name", pname), SDK_ATTR("error.type", "")};
    struct batch_stats st;
    batcher_stats(b, &st);
    uint64_t in_flight = batcher_in_flight(b);
    switch (c->what) {
    case SDK_PROCESSED: {
        static const char *const why[] = {NULL, "queue_full", "shutdown"};
        uint64_t n[] = {st.exported + st.dropped_export_failed + st.dropped_rejected + st.spooled +
                            st.handed_off + in_flight,
                        st.dropped_queue_full, st.dropped_shutdown};
        observe_counts(o, proc, n, why, 3);
        break;
    }
    case SDK_QUEUE_SIZE:
        metric_observe_int(o, (int64_t)batcher_queued(b), proc, 2);
        break;
    case SDK_QUEUE_CAPACITY:
        metric_observe_int(o, (int64_t)batcher_capacity(b), proc, 2);
        break;
    case SDK_EXPORTED: {
        static const char *const why[] = {NULL, "export_failed", "rejected", "spooled"};
        uint64_t n[] = {st.exported + st.handed_off, st.dropped_export_failed, st.dropped_rejected,
                        st.spooled};
        if (etype) observe_counts(o, exp, n, why, 4);
        break;
    }
    case SDK_INFLIGHT:
        if (etype) metric_observe_int(o, (int64_t)in_flight, exp, 2);
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
    {"otel.sdk.exporter.metric_data_point.exported",
     "{data_point}",
     "The number of metric data points for which the export has finished, either successful or "
     "failed.",
     METRIC_OBSERVABLE_COUNTER,
     {SDK_POINTS_EXPORTED, SIGNAL_METRICS}},
};

static void sdk_register(const struct sdk_def *d, void (*cb)(struct metric_observer *, void *)) {
    struct metric_desc md = {.name = d->name,
                             .unit = d->unit,
                             .description = d->description,
                             .kind = d->kind,
                             .number = METRIC_INT};
    struct metric_instrument *m = metric_instrument_new(&md);
    if (m) (void)metric_add_callback(m, cb, (void *)&d->cb);
}

void telemetry_sdk_tree_metrics_register(void) {
    for (size_t i = 0; i < sizeof sdk_defs / sizeof *sdk_defs; i++) {
        enum sdk_what w = sdk_defs[i].cb.what;
        if (w == SDK_PROCESSED || w == SDK_EXPORTED || w == SDK_POINTS_EXPORTED)
            sdk_register(&sdk_defs[i], sdk_observe_tree);
    }
}

void telemetry_sdk_metrics_register(void) {
    for (size_t i = 0; i < sizeof sdk_defs / sizeof *sdk_defs; i++)
        sdk_register(&sdk_defs[i], sdk_observe);
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
