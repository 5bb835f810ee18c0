/* api: the shim's side of include/otelp.h: the table of functions the
 * header finds through an ELF note (the one otelp_* name the shim exports
 * is the table itself, otelp_api).
 *
 * A span started here is an ordinary span of the process (core/span.h,
 * started and ended through core/telemetry.c), child of the calling
 * thread's current span unless told otherwise; made current, it is what
 * the hooks see as the thread's span: the parent of threads, spawned and
 * exec'd programs, and the context of logging calls.
 *
 * Any thread may call any function on any span: writers take the span's
 * try-lock (span_lock, bounded: a signal handler that interrupts a writer
 * on its own thread loses its change, it never waits forever). A span
 * made current is referenced by its scope: its end hands it to the
 * processor only once no scope has it current, so a thread's current span
 * is never freed under it. Spans the shim made itself (the process's root,
 * a thread's span) are changed only by the thread whose span they are, and
 * never ended here. After a fork, the child's copies of the parent's spans
 * are never exported (the parent exports them): ending one frees it.
 * Metric instruments are the metrics SDK's (core/metric.h).
 * Depends on core/ and process.c. */
#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/cold.h"
#include "core/context.h"
#include "core/guard.h"
#include "core/ids.h"
#include "core/metric.h"
#include "core/reader.h"
#include "core/telemetry.h"
#include "hooks/hooks.h"
#include "include/otelp.h"

#define ARRAY_MAX 128 /* items of an array attribute kept */

/* Where array items are converted to (string arrays, bool arrays). */
struct scratch {
    struct str strs[ARRAY_MAX];
    bool bools[ARRAY_MAX];
};

/* The attribute's value as the core's (arrays cut to ARRAY_MAX items,
 * converted into sc when needed). False for a type or value we do not
 * take. */
static bool to_value(const otelp_attr *a, struct attr_value *v, struct scratch *sc) {
    uint32_t n = a->count < ARRAY_MAX ? a->count : ARRAY_MAX;
    switch (a->type) {
    case OTELP_ATTR_STRING:
        if (!a->v.s) return false;
        *v = (struct attr_value){.type = ATTR_STRING, .u.s = str_cstr(a->v.s)};
        return true;
    case OTELP_ATTR_BOOL:
        *v = (struct attr_value){.type = ATTR_BOOL, .u.b = a->v.b != 0};
        return true;
    case OTELP_ATTR_INT:
        *v = (struct attr_value){.type = ATTR_INT, .u.i = a->v.i};
        return true;
    case OTELP_ATTR_DOUBLE:
        *v = (struct attr_value){.type = ATTR_DOUBLE, .u.d = a->v.d};
        return true;
    case OTELP_ATTR_STRING_ARRAY:
        if (n && !a->v.strings) return false;
        for (uint32_t i = 0; i < n; i++)
            sc->strs[i] = str_cstr(a->v.strings[i] ? a->v.strings[i] : "");
        *v = (struct attr_value){.type = ATTR_STRING_ARRAY, .u.arr = {sc->strs, n}};
        return true;
    case OTELP_ATTR_BOOL_ARRAY:
        if (n && !a->v.bools) return false;
        for (uint32_t i = 0; i < n; i++)
            sc->bools[i] = a->v.bools[i] != 0;
        *v = (struct attr_value){.type = ATTR_BOOL_ARRAY, .u.nums = {sc->bools, n}};
        return true;
    case OTELP_ATTR_INT_ARRAY:
        if (n && !a->v.ints) return false;
        *v = (struct attr_value){.type = ATTR_INT_ARRAY, .u.nums = {a->v.ints, n}};
        return true;
    case OTELP_ATTR_DOUBLE_ARRAY:
        if (n && !a->v.doubles) return false;
        *v = (struct attr_value){.type = ATTR_DOUBLE_ARRAY, .u.nums = {a->v.doubles, n}};
        return true;
    default:
        return false;
    }
}

typedef int (*put_fn)(void *target, struct str key, const struct attr_value *v);

/* Puts each valid attribute through put; the rest count as dropped. */
static void put_attrs(const otelp_attr *attrs, size_t n, put_fn put, void *target,
                      uint32_t *dropped) {
    struct scratch sc;
    for (size_t i = 0; attrs && i < n; i++) {
        struct attr_value v;
        if (!attrs[i].key || !to_value(&attrs[i], &v, &sc)) {
            if (dropped) (*dropped)++;
            continue;
        }
        (void)put(target, str_cstr(attrs[i].key), &v);
    }
}

static int put_span(void *target, struct str key, const struct attr_value *v) {
    return span_set_attr(target, key, v);
}

struct event_target {
    struct span *s;
    struct span_event *e;
};

static int put_event(void *target, struct str key, const struct attr_value *v) {
    struct event_target *t = target;
    return span_event_set_attr(t->s, t->e, key, v);
}

struct link_target {
    struct span *s;
    struct span_link *l;
};

static int put_link(void *target, struct str key, const struct attr_value *v) {
    struct link_target *t = target;
    return span_link_set_attr(t->s, t->l, key, v);
}

/* Whether API calls may do anything in this process now. */
static bool api_on(void) {
    return preload_active && !guard_active();
}

/* Locks s for a change: an otelp.h span of this process not yet ended, or
 * the calling thread's own span. */
static bool begin_change(struct span *s) {
    if (!s || !api_on()) return false;
    if (!s->api) return s == telemetry_current_span() && s->recording;
    if (s->api_pid != process_pid || !span_lock(s)) return false;
    if (atomic_load(&s->api_refs) & API_ENDED) { /* api_span_end: after the lock */
        span_unlock(s);
        return false;
    }
    return true;
}

static void end_change(struct span *s) {
    span_unlock(s);
}

static otelp_span *api_span_start(const char *name, const otelp_span *parent_span,
                                  const otelp_span_context *remote, int kind,
                                  const otelp_attr *attrs, size_t n) {
    if (!api_on() || !telemetry.active) return NULL;
    guard_enter();
    struct span_context ctx, *parent = NULL;
    struct str ts = str_of("", 0);
    const struct span *ps = (const struct span *)parent_span;
    if (remote) {
        memcpy(ctx.trace_id, remote->trace_id, 16);
        memcpy(ctx.span_id, remote->span_id, 8);
        ctx.flags = remote->trace_flags & TRACE_FLAG_SAMPLED;
        ctx.remote = true;
        if (span_context_valid(&ctx)) {
            parent = &ctx;
            if (remote->trace_state && tracestate_valid(remote->trace_state))
                ts = str_cstr(remote->trace_state);
        }
    } else if (ps) {
        ctx = ps->ctx;
        parent = &ctx;
        ts = ps->trace_state;
    } else {
        /* The calling thread's current span (an otelp.h span made current,
         * a thread's span, the process's root: then a fork child's root
         * is kept as a parent). */
        const char *state;
        size_t state_len;
        if (process_child_context(false, &ctx, &state, &state_len)) {
            parent = &ctx;
            ts = str_of(state ? state : "", state ? state_len : 0);
        }
    }
    struct span *s =
        telemetry_span_start(str_cstr(name ? name : ""), parent, ts, clock_fast_ns(), 0);
    if (s) {
        s->api = true;
        s->api_pid = process_pid;
        if (kind >= SPAN_KIND_INTERNAL && kind <= SPAN_KIND_CONSUMER) s->kind = (uint8_t)kind;
        if (n && s->recording) put_attrs(attrs, n, put_span, s, &s->attrs.dropped);
    }
    guard_leave();
    return (otelp_span *)s;
}

/* The writer that holds s's lock (it began before the end) is done:
 * bounded, as span_lock (a writer stuck, or interrupted by the signal
 * handler that ends the span: the end matters more). */
static void wait_unlocked(struct span *s) {
    for (int i = 0; i < 4096 && atomic_load(&s->api_lock); i++)
        if (i >= 64) sched_yield();
}

/* Hands an ended span over (or frees a fork child's copy). */
static void finish(struct span *s) {
    if (s->api_pid != process_pid || !preload_active)
        span_free(s);
    else
        telemetry_span_end(s, s->end_ns);
}

/* One atomic operation: API_ENDED claims the end (a second end, from any
 * thread, sees it and does nothing). A writer takes the lock and then
 * looks for API_ENDED, the end sets API_ENDED and then looks at the lock
 * (both sequentially consistent): either the writer sees the end and
 * leaves the span alone, or the end sees the writer and waits for it. A
 * span still current somewhere (a scope's reference) is ended with
 * API_ENDING too, so that the last scope cannot hand it over before its
 * end time is written; the end then drops API_ENDING and hands it over
 * itself if that scope has gone meanwhile. */
static void api_span_end(otelp_span *span) {
    struct span *s = (struct span *)span;
    if (!s || !s->api) return;
    uint64_t now = clock_fast_ns();
    uint32_t old = atomic_load_explicit(&s->api_refs, memory_order_relaxed);
    do {
        if (old & API_ENDED) return; /* ended twice */
    } while (!atomic_compare_exchange_weak(&s->api_refs, &old,
                                           old | API_ENDED | (old ? API_ENDING : 0)));
    s->end_ns = now >= s->start_ns ? now : s->start_ns; /* clock_fast_ns: not monotonic */
    if (old && atomic_fetch_and(&s->api_refs, ~API_ENDING) != (API_ENDED | API_ENDING))
        return; /* the last scope hands it over */
    wait_unlocked(s);
    guard_enter();
    finish(s);
    guard_leave();
}

static void api_set_attributes(otelp_span *span, const otelp_attr *attrs, size_t n) {
    struct span *s = (struct span *)span;
    if (!begin_change(s)) return;
    if (s->recording) put_attrs(attrs, n, put_span, s, &s->attrs.dropped);
    end_change(s);
}

static void add_event(struct span *s, const char *name, const otelp_attr *attrs, size_t n,
                      const struct attr *extra, uint32_t n_extra) {
    struct span_event *e = span_add_event(s, "", clock_now_ns());
    if (!e) return;
    if (arena_strdup(&s->arena, str_cstr(name ? name : ""), UINT32_MAX, &e->name) < 0)
        e->name = str_of("", 0);
    for (uint32_t i = 0; i < n_extra; i++)
        (void)span_event_set_attr(s, e, extra[i].key, &extra[i].value);
    struct event_target t = {s, e};
    put_attrs(attrs, n, put_event, &t, &e->attrs.dropped);
}

static void api_add_event(otelp_span *span, const char *name, const otelp_attr *attrs, size_t n) {
    struct span *s = (struct span *)span;
    if (!begin_change(s)) return;
    if (s->recording) add_event(s, name, attrs, n, NULL, 0);
    end_change(s);
}

static void api_set_status(otelp_span *span, int code, const char *description) {
    struct span *s = (struct span *)span;
    if (code < OTELP_STATUS_UNSET || code > OTELP_STATUS_ERROR || !begin_change(s)) return;
    span_set_status(s, code, description);
    end_change(s);
}

/* The exception semantic conventions: an event named "exception" with
 * exception.type, exception.message and exception.stacktrace. */
static void api_record_exception(otelp_span *span, const char *type, const char *message,
                                 const char *stacktrace, const otelp_attr *attrs, size_t n) {
    struct span *s = (struct span *)span;
    if (!begin_change(s)) return;
    if (s->recording) {
        struct attr extra[3];
        uint32_t k = 0;
        if (type)
            extra[k++] = (struct attr){str_cstr("exception.type"),
                                       {.type = ATTR_STRING, .u.s = str_cstr(type)}};
        if (message)
            extra[k++] = (struct attr){str_cstr("exception.message"),
                                       {.type = ATTR_STRING, .u.s = str_cstr(message)}};
        if (stacktrace)
            extra[k++] = (struct attr){str_cstr("exception.stacktrace"),
                                       {.type = ATTR_STRING, .u.s = str_cstr(stacktrace)}};
        add_event(s, "exception", attrs, n, extra, k);
    }
    end_change(s);
}

static void api_add_link(otelp_span *span, const otelp_span_context *target,
                         const otelp_attr *attrs, size_t n) {
    struct span *s = (struct span *)span;
    if (!target || !begin_change(s)) return;
    if (s->recording) {
        struct span_context c;
        memcpy(c.trace_id, target->trace_id, 16);
        memcpy(c.span_id, target->span_id, 8);
        c.flags = target->trace_flags;
        c.remote = target->is_remote != 0;
        struct str ts = target->trace_state && tracestate_valid(target->trace_state)
                            ? str_cstr(target->trace_state)
                            : str_of("", 0);
        struct span_link *l = span_context_valid(&c) ? span_add_link(s, &c, ts) : NULL;
        if (l) {
            struct link_target t = {s, l};
            put_attrs(attrs, n, put_link, &t, &l->attrs.dropped);
        }
    }
    end_change(s);
}

static void api_update_name(otelp_span *span, const char *name) {
    struct span *s = (struct span *)span;
    if (!name || !begin_change(s)) return;
    struct str copy;
    if (s->recording && arena_strdup(&s->arena, str_cstr(name), UINT32_MAX, &copy) == 0)
        s->name = copy;
    end_change(s);
}

static int api_is_recording(const otelp_span *span) {
    const struct span *s = (const struct span *)span;
    return s && s->recording;
}

static void to_public(const struct span_context *c, const struct str *ts, otelp_span_context *out) {
    memcpy(out->trace_id, c->trace_id, 16);
    memcpy(out->span_id, c->span_id, 8);
    out->trace_flags = c->flags;
    out->is_remote = c->remote;
    out->trace_state = ts && ts->len ? ts->ptr : NULL;
}

static int api_get_context(const otelp_span *span, otelp_span_context *out) {
    const struct span *s = (const struct span *)span;
    if (!out) return -1;
    if (!s) {
        memset(out, 0, sizeof *out);
        return -1;
    }
    to_public(&s->ctx, &s->trace_state, out);
    return 0;
}

static otelp_span *api_span_current(void) {
    return preload_active ? (otelp_span *)telemetry_current_span() : NULL;
}

/* The thread's own span (its thread span, or the process's root span),
 * seen under its first scope: what a scope restores instead of a span
 * that has ended meanwhile. */
static _Thread_local struct span *base_span __attribute__((tls_model("initial-exec")));

static void release(struct span *s) {
    if (!s || !s->api) return;
    if (atomic_fetch_sub(&s->api_refs, 1) == (API_ENDED | 1)) {
        wait_unlocked(s);
        guard_enter();
        finish(s);
        guard_leave();
    }
}

/* An otelp.h span stays valid while it is a thread's current span: the
 * thread's current-span slot holds a reference on it, and a scope holds
 * the one the slot had on the span it replaced, until it gives it back. */
static otelp_scope api_make_current(otelp_span *span) {
    struct span *s = (struct span *)span;
    otelp_scope scope = {NULL, NULL};
    if (!s || !s->api || !api_on() || s->api_pid != process_pid) return scope;
    struct span *prev = telemetry_current_span();
    if (!prev || !prev->api) base_span = prev;
    atomic_fetch_add(&s->api_refs, 1);
    telemetry_set_current_span(s);
    scope.prev = prev;
    scope.span = s;
    return scope;
}

static void api_scope_end(otelp_scope scope) {
    struct span *s = scope.span, *prev = scope.prev;
    if (!s) return;
    /* A scope of the parent process, ended in a fork child: the child has
     * its own current span, and prev may be the parent's root span, which
     * the child does not have. */
    if (s->api_pid != process_pid) return;
    if (telemetry_current_span() != s) {
        /* Ended out of order (a later scope is still open), or in a fork
         * child, or at exit: the current span stays. */
        release(prev);
        return;
    }
    /* A previous span that has ended meanwhile (its own scope was left
     * out of order) is not made current again: the thread's own is. */
    if (prev && prev->api && (atomic_load(&prev->api_refs) & API_ENDED)) {
        release(prev);
        prev = base_span;
    }
    telemetry_set_current_span(prev);
    release(s);
}

static int api_from_w3c(const char *traceparent, const char *tracestate, otelp_span_context *out) {
    if (!out) return -1;
    memset(out, 0, sizeof *out);
    struct span_context c;
    if (traceparent_parse(traceparent, &c) < 0) return -1;
    struct str ts =
        tracestate && tracestate_valid(tracestate) ? str_cstr(tracestate) : str_of("", 0);
    to_public(&c, &ts, out);
    return 0;
}

static int api_to_w3c(const otelp_span_context *ctx, char *traceparent, char *tracestate,
                      size_t tracestate_size) {
    if (tracestate && tracestate_size) tracestate[0] = '\0';
    if (traceparent) traceparent[0] = '\0';
    if (!ctx || !traceparent) return -1;
    struct span_context c;
    memcpy(c.trace_id, ctx->trace_id, 16);
    memcpy(c.span_id, ctx->span_id, 8);
    c.flags = ctx->trace_flags;
    if (!span_context_valid(&c)) return -1;
    traceparent_format(&c, traceparent);
    if (tracestate && ctx->trace_state) {
        size_t len = strlen(ctx->trace_state);
        if (len < tracestate_size) memcpy(tracestate, ctx->trace_state, len + 1);
    }
    return 0;
}

static void api_log_emit(int severity, const char *severity_text, const char *body,
                         const otelp_attr *attrs, size_t n) {
    if (!api_on() || !telemetry_logs_wanted()) return;
    guard_enter();
    struct attr list[32];
    struct scratch sc;
    uint32_t k = 0;
    /* Array items may live in sc: one array attribute of those per record. */
    bool scratch_used = false;
    for (size_t i = 0; attrs && i < n && k < 32; i++) {
        bool scratch =
            attrs[i].type == OTELP_ATTR_STRING_ARRAY || attrs[i].type == OTELP_ATTR_BOOL_ARRAY;
        if (!attrs[i].key || (scratch && scratch_used)) continue;
        if (!to_value(&attrs[i], &list[k].value, &sc)) continue;
        scratch_used |= scratch;
        list[k++].key = str_cstr(attrs[i].key);
    }
    if (severity < 1 || severity > 24) severity = 0;
    struct log_call c = {severity, severity_text, body ? body : "", body ? strlen(body) : 0, list,
                         k,        true};
    telemetry_log_emit(&c);
    guard_leave();
}

/* Metrics: the program's instruments are the metrics SDK's (core/metric.h),
 * measured as doubles. Attributes of metrics: strings, bools, ints and
 * doubles (arrays are dropped). */
#define METRIC_ATTRS 32

static uint32_t metric_attrs(const otelp_attr *attrs, size_t n, struct attr *out) {
    uint32_t k = 0;
    for (size_t i = 0; attrs && i < n && k < METRIC_ATTRS; i++) {
        if (!attrs[i].key || attrs[i].type >= OTELP_ATTR_STRING_ARRAY) continue;
        if (!to_value(&attrs[i], &out[k].value, NULL)) continue;
        out[k++].key = str_cstr(attrs[i].key);
    }
    return k;
}

static const enum metric_kind kinds[] = {
    [OTELP_COUNTER] = METRIC_COUNTER,
    [OTELP_UP_DOWN_COUNTER] = METRIC_UPDOWN_COUNTER,
    [OTELP_GAUGE] = METRIC_GAUGE,
    [OTELP_HISTOGRAM] = METRIC_HISTOGRAM,
    [OTELP_OBSERVABLE_COUNTER] = METRIC_OBSERVABLE_COUNTER,
    [OTELP_OBSERVABLE_UP_DOWN_COUNTER] = METRIC_OBSERVABLE_UPDOWN_COUNTER,
    [OTELP_OBSERVABLE_GAUGE] = METRIC_OBSERVABLE_GAUGE,
};

static struct metric_instrument *make_instrument(int kind, const char *name, const char *unit,
                                                 const char *description, const double *boundaries,
                                                 size_t n_boundaries) {
    if (kind < OTELP_COUNTER || kind > OTELP_OBSERVABLE_GAUGE || !name || !api_on()) return NULL;
    struct metric_desc d = {
        .name = name,
        .unit = unit,
        .description = description,
        .kind = kinds[kind],
        .number = METRIC_DOUBLE,
        .boundaries = kind == OTELP_HISTOGRAM ? boundaries : NULL,
        .nboundaries = kind == OTELP_HISTOGRAM && boundaries ? (uint32_t)n_boundaries : 0,
    };
    guard_enter();
    struct metric_instrument *m = metric_instrument_new(&d);
    if (m) reader_instrument_made(); /* the reader's worker, from now on */
    guard_leave();
    return m;
}

static otelp_instrument *api_instrument_new(int kind, const char *name, const char *unit,
                                            const char *description, const double *boundaries,
                                            size_t n_boundaries) {
    if (kind >= OTELP_OBSERVABLE_COUNTER) return NULL;
    return (otelp_instrument *)make_instrument(kind, name, unit, description, boundaries,
                                               n_boundaries);
}

/* An observable instrument's callback as the program gave it. */
struct observe_call {
    otelp_observe_fn fn;
    void *arg;
};

#define OBSERVE_CALLS 256
static struct observe_call observe_calls[OBSERVE_CALLS] OTELP_COLD;
static _Atomic unsigned n_observe_calls;

static void run_callback(struct metric_observer *obs, void *ctx) {
    struct observe_call *c = ctx;
    c->fn((otelp_observer *)obs, c->arg);
}

static otelp_instrument *api_observable_new(int kind, const char *name, const char *unit,
                                            const char *description, otelp_observe_fn callback,
                                            void *arg) {
    if (kind < OTELP_OBSERVABLE_COUNTER || !callback) return NULL;
    struct metric_instrument *m = make_instrument(kind, name, unit, description, NULL, 0);
    if (!m) return NULL;
    /* Kept for the process's life, like the instrument: static slots. */
    unsigned i = atomic_fetch_add(&n_observe_calls, 1);
    if (i >= OBSERVE_CALLS) return (otelp_instrument *)m; /* no room: never called */
    observe_calls[i] = (struct observe_call){callback, arg};
    (void)metric_add_callback(m, run_callback, &observe_calls[i]);
    return (otelp_instrument *)m;
}

static void api_instrument_record(otelp_instrument *instrument, double value,
                                  const otelp_attr *attrs, size_t n) {
    if (!instrument || !api_on()) return;
    struct attr list[METRIC_ATTRS];
    uint32_t k = metric_attrs(attrs, n, list);
    guard_enter();
    metric_record_double((struct metric_instrument *)instrument, value, list, k);
    guard_leave();
}

/* Called from a callback, on the shim's thread (inside its guard). */
static void api_observe(otelp_observer *observer, double value, const otelp_attr *attrs, size_t n) {
    if (!observer) return;
    struct attr list[METRIC_ATTRS];
    uint32_t k = metric_attrs(attrs, n, list);
    metric_observe_double((struct metric_observer *)observer, value, list, k);
}

static void api_record_metric(const char *name, double value, const otelp_attr *attrs, size_t n,
                              otelp_instrument **cache) {
    if (!cache || !api_on()) return;
    otelp_instrument *m = __atomic_load_n(cache, __ATOMIC_ACQUIRE);
    if (!m) {
        m = api_instrument_new(OTELP_COUNTER, name, NULL, NULL, NULL, 0);
        if (!m) return;
        __atomic_store_n(cache, m, __ATOMIC_RELEASE);
    }
    api_instrument_record(m, value, attrs, n);
}

static int api_active(void) {
    return preload_active;
}

static const struct otelp_api table __attribute__((used)) = {
    .version = OTELP_API_VERSION,
    .size = sizeof(struct otelp_api),
    .span_start = api_span_start,
    .span_end = api_span_end,
    .span_set_attributes = api_set_attributes,
    .span_add_event = api_add_event,
    .span_set_status = api_set_status,
    .span_record_exception = api_record_exception,
    .span_add_link = api_add_link,
    .span_update_name = api_update_name,
    .span_is_recording = api_is_recording,
    .span_get_context = api_get_context,
    .span_current = api_span_current,
    .span_make_current = api_make_current,
    .scope_end = api_scope_end,
    .context_from_w3c = api_from_w3c,
    .context_to_w3c = api_to_w3c,
    .log_emit = api_log_emit,
    .instrument_new = api_instrument_new,
    .observable_new = api_observable_new,
    .instrument_record = api_instrument_record,
    .observe = api_observe,
    .record_metric = api_record_metric,
    .active = api_active,
};

/* The one exported name: the table, for dlsym users. */
extern const struct otelp_api otelp_api __attribute__((alias("table"), visibility("default")));

const void *api_table_self(void) {
    return &table; /* this copy's, whichever copy the program's scope finds first */
}

/* The note otelp.h looks for: its descriptor is the distance from itself
 * to the table (a link-time constant: no relocation at load). */
__asm__(".pushsection .note.otelp,\"a\",%note\n"
        ".balign 4\n"
        ".long 6\n"          /* namesz: "otelp" and its NUL */
        ".long 8\n"          /* descsz */
        ".long 0x4f544c50\n" /* OTELP_NOTE_TYPE */
        ".asciz \"otelp\"\n"
        ".balign 4\n"
        "1: .quad table - 1b\n"
        ".popsection\n");
