/* otelp.h: the otel-preload API for programs that add their own spans, log
 * records and metrics to the trace the shim (libotelpreload.so) builds
 * around them. Header only, C99 and C++: nothing to link.
 *
 * Each call goes through a table of functions. On first use (per
 * translation unit) the header looks for the shim's table among the loaded
 * objects (dl_iterate_phdr, which is in libc itself: no -ldl on any glibc);
 * without the shim, or with a shim of another major version, every call
 * goes to a static table of no-ops that costs a few nanoseconds. Defining
 * OTELP_DISABLE before including this header compiles every call out.
 * docs/API.md has the whole contract: ownership of strings, threads, fork,
 * signal handlers, versioning. Depends on libc. */
#ifndef OTELP_H
#define OTELP_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The table's major version: a shim whose table has another one is not
 * used. Functions are only ever appended within a major version; a table's
 * size says which it has (a program built against a newer header gets
 * no-ops for the functions an older shim lacks). */
#define OTELP_API_VERSION 1

/* ---- values ---- */

typedef struct otelp_span otelp_span;             /* opaque */
typedef struct otelp_instrument otelp_instrument; /* opaque */
typedef struct otelp_observer otelp_observer;     /* opaque */

enum otelp_attr_type {
    OTELP_ATTR_STRING = 1,
    OTELP_ATTR_BOOL,
    OTELP_ATTR_INT,
    OTELP_ATTR_DOUBLE,
    OTELP_ATTR_STRING_ARRAY,
    OTELP_ATTR_BOOL_ARRAY,
    OTELP_ATTR_INT_ARRAY,
    OTELP_ATTR_DOUBLE_ARRAY
};

/* One attribute. Keys and values are the caller's: each call copies what
 * it keeps before it returns. */
typedef struct otelp_attr {
    const char *key;
    int type;       /* enum otelp_attr_type */
    uint32_t count; /* arrays: the number of items */
    union {
        const char *s;
        int64_t i;
        double d;
        int b;
        const char *const *strings;
        const int64_t *ints;
        const double *doubles;
        const int *bools;
    } v;
} otelp_attr;

static inline otelp_attr otelp_attr_str(const char *key, const char *value) {
    otelp_attr a;
    memset(&a, 0, sizeof a);
    a.key = key;
    a.type = OTELP_ATTR_STRING;
    a.v.s = value;
    return a;
}
static inline otelp_attr otelp_attr_int(const char *key, int64_t value) {
    otelp_attr a;
    memset(&a, 0, sizeof a);
    a.key = key;
    a.type = OTELP_ATTR_INT;
    a.v.i = value;
    return a;
}
static inline otelp_attr otelp_attr_double(const char *key, double value) {
    otelp_attr a;
    memset(&a, 0, sizeof a);
    a.key = key;
    a.type = OTELP_ATTR_DOUBLE;
    a.v.d = value;
    return a;
}
static inline otelp_attr otelp_attr_bool(const char *key, int value) {
    otelp_attr a;
    memset(&a, 0, sizeof a);
    a.key = key;
    a.type = OTELP_ATTR_BOOL;
    a.v.b = value != 0;
    return a;
}
static inline otelp_attr otelp_attr_strs(const char *key, const char *const *items, size_t n) {
    otelp_attr a;
    memset(&a, 0, sizeof a);
    a.key = key;
    a.type = OTELP_ATTR_STRING_ARRAY;
    a.count = (uint32_t)n;
    a.v.strings = items;
    return a;
}
static inline otelp_attr otelp_attr_ints(const char *key, const int64_t *items, size_t n) {
    otelp_attr a;
    memset(&a, 0, sizeof a);
    a.key = key;
    a.type = OTELP_ATTR_INT_ARRAY;
    a.count = (uint32_t)n;
    a.v.ints = items;
    return a;
}
static inline otelp_attr otelp_attr_doubles(const char *key, const double *items, size_t n) {
    otelp_attr a;
    memset(&a, 0, sizeof a);
    a.key = key;
    a.type = OTELP_ATTR_DOUBLE_ARRAY;
    a.count = (uint32_t)n;
    a.v.doubles = items;
    return a;
}
static inline otelp_attr otelp_attr_bools(const char *key, const int *items, size_t n) {
    otelp_attr a;
    memset(&a, 0, sizeof a);
    a.key = key;
    a.type = OTELP_ATTR_BOOL_ARRAY;
    a.count = (uint32_t)n;
    a.v.bools = items;
    return a;
}

/* The number of elements of an array (of attributes, of items). */
#define OTELP_COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* OTLP's span kinds and status codes. */
enum otelp_span_kind {
    OTELP_SPAN_KIND_INTERNAL = 1,
    OTELP_SPAN_KIND_SERVER,
    OTELP_SPAN_KIND_CLIENT,
    OTELP_SPAN_KIND_PRODUCER,
    OTELP_SPAN_KIND_CONSUMER
};
enum otelp_status { OTELP_STATUS_UNSET = 0, OTELP_STATUS_OK = 1, OTELP_STATUS_ERROR = 2 };

/* The log data model's severity numbers (the first of each range). */
enum otelp_severity {
    OTELP_SEVERITY_TRACE = 1,
    OTELP_SEVERITY_DEBUG = 5,
    OTELP_SEVERITY_INFO = 9,
    OTELP_SEVERITY_WARN = 13,
    OTELP_SEVERITY_ERROR = 17,
    OTELP_SEVERITY_FATAL = 21
};

#define OTELP_TRACE_FLAG_SAMPLED 0x01

/* A span context, by value. trace_state points to memory the context came
 * from (a span: valid until it ends; a parsed string: that string), or is
 * NULL. All-zero ids: no context. */
typedef struct otelp_span_context {
    uint8_t trace_id[16];
    uint8_t span_id[8];
    uint8_t trace_flags; /* OTELP_TRACE_FLAG_SAMPLED: the sampling decision */
    uint8_t is_remote;
    const char *trace_state;
} otelp_span_context;

#define OTELP_TRACEPARENT_SIZE 56 /* 55 characters and the NUL */

/* What otelp_span_make_current returns, for otelp_scope_end. */
typedef struct otelp_scope {
    void *prev, *span;
} otelp_scope;

/* Metric instrument kinds (otelp_instrument_new, otelp_observable_new). */
enum otelp_instrument_kind {
    OTELP_COUNTER = 1,
    OTELP_UP_DOWN_COUNTER,
    OTELP_GAUGE,
    OTELP_HISTOGRAM,
    OTELP_OBSERVABLE_COUNTER,
    OTELP_OBSERVABLE_UP_DOWN_COUNTER,
    OTELP_OBSERVABLE_GAUGE
};
/* Called at each collection of an observable instrument, on the shim's
 * thread: report values with otelp_observe. */
typedef void (*otelp_observe_fn)(otelp_observer *observer, void *arg);

/* ---- the table ---- */

/* The shim's table of functions. Append only within a major version. */
struct otelp_api {
    uint32_t version; /* OTELP_API_VERSION of the shim */
    uint32_t size;    /* sizeof(struct otelp_api) in the shim */
    /* spans */
    otelp_span *(*span_start)(const char *name, const otelp_span *parent,
                              const otelp_span_context *remote_parent, int kind,
                              const otelp_attr *attrs, size_t n);
    void (*span_end)(otelp_span *span);
    void (*span_set_attributes)(otelp_span *span, const otelp_attr *attrs, size_t n);
    void (*span_add_event)(otelp_span *span, const char *name, const otelp_attr *attrs, size_t n);
    void (*span_set_status)(otelp_span *span, int code, const char *description);
    void (*span_record_exception)(otelp_span *span, const char *type, const char *message,
                                  const char *stacktrace, const otelp_attr *attrs, size_t n);
    void (*span_add_link)(otelp_span *span, const otelp_span_context *target,
                          const otelp_attr *attrs, size_t n);
    void (*span_update_name)(otelp_span *span, const char *name);
    int (*span_is_recording)(const otelp_span *span);
    int (*span_get_context)(const otelp_span *span, otelp_span_context *out);
    otelp_span *(*span_current)(void);
    otelp_scope (*span_make_current)(otelp_span *span);
    void (*scope_end)(otelp_scope scope);
    int (*context_from_w3c)(const char *traceparent, const char *tracestate,
                            otelp_span_context *out);
    int (*context_to_w3c)(const otelp_span_context *ctx, char *traceparent, char *tracestate,
                          size_t tracestate_size);
    /* logs */
    void (*log_emit)(int severity, const char *severity_text, const char *body,
                     const otelp_attr *attrs, size_t n);
    /* metrics */
    otelp_instrument *(*instrument_new)(int kind, const char *name, const char *unit,
                                        const char *description, const double *boundaries,
                                        size_t n_boundaries);
    otelp_instrument *(*observable_new)(int kind, const char *name, const char *unit,
                                        const char *description, otelp_observe_fn callback,
                                        void *arg);
    void (*instrument_record)(otelp_instrument *instrument, double value, const otelp_attr *attrs,
                              size_t n);
    void (*observe)(otelp_observer *observer, double value, const otelp_attr *attrs, size_t n);
    void (*record_metric)(const char *name, double value, const otelp_attr *attrs, size_t n,
                          otelp_instrument **cache);
    /* whether the shim is active in this process (not disabled, not in
     * secure-execution mode) */
    int (*active)(void);
};

/* ---- the no-op table ---- */

static otelp_span *otelp__noop_span_start(const char *name, const otelp_span *parent,
                                          const otelp_span_context *remote, int kind,
                                          const otelp_attr *attrs, size_t n) {
    (void)name, (void)parent, (void)remote, (void)kind, (void)attrs, (void)n;
    return 0;
}
static void otelp__noop_span(otelp_span *span) {
    (void)span;
}
static void otelp__noop_span_attrs(otelp_span *span, const otelp_attr *attrs, size_t n) {
    (void)span, (void)attrs, (void)n;
}
static void otelp__noop_span_str_attrs(otelp_span *span, const char *name, const otelp_attr *attrs,
                                       size_t n) {
    (void)span, (void)name, (void)attrs, (void)n;
}
static void otelp__noop_span_status(otelp_span *span, int code, const char *description) {
    (void)span, (void)code, (void)description;
}
static void otelp__noop_span_exception(otelp_span *span, const char *type, const char *message,
                                       const char *stacktrace, const otelp_attr *attrs, size_t n) {
    (void)span, (void)type, (void)message, (void)stacktrace, (void)attrs, (void)n;
}
static void otelp__noop_span_link(otelp_span *span, const otelp_span_context *target,
                                  const otelp_attr *attrs, size_t n) {
    (void)span, (void)target, (void)attrs, (void)n;
}
static void otelp__noop_span_name(otelp_span *span, const char *name) {
    (void)span, (void)name;
}
static int otelp__noop_span_recording(const otelp_span *span) {
    (void)span;
    return 0;
}
static int otelp__noop_span_context(const otelp_span *span, otelp_span_context *out) {
    (void)span;
    if (out) memset(out, 0, sizeof *out);
    return -1;
}
static otelp_span *otelp__noop_span_current(void) {
    return 0;
}
static otelp_scope otelp__noop_make_current(otelp_span *span) {
    otelp_scope s;
    (void)span;
    s.prev = 0;
    s.span = 0;
    return s;
}
static void otelp__noop_scope_end(otelp_scope scope) {
    (void)scope;
}
static int otelp__noop_from_w3c(const char *traceparent, const char *tracestate,
                                otelp_span_context *out) {
    (void)traceparent, (void)tracestate;
    if (out) memset(out, 0, sizeof *out);
    return -1;
}
static int otelp__noop_to_w3c(const otelp_span_context *ctx, char *traceparent, char *tracestate,
                              size_t tracestate_size) {
    (void)ctx;
    if (traceparent) traceparent[0] = '\0';
    if (tracestate && tracestate_size) tracestate[0] = '\0';
    return -1;
}
static void otelp__noop_log(int severity, const char *severity_text, const char *body,
                            const otelp_attr *attrs, size_t n) {
    (void)severity, (void)severity_text, (void)body, (void)attrs, (void)n;
}
static otelp_instrument *otelp__noop_instrument(int kind, const char *name, const char *unit,
                                                const char *description, const double *boundaries,
                                                size_t n_boundaries) {
    (void)kind, (void)name, (void)unit, (void)description, (void)boundaries, (void)n_boundaries;
    return 0;
}
static otelp_instrument *otelp__noop_observable(int kind, const char *name, const char *unit,
                                                const char *description, otelp_observe_fn callback,
                                                void *arg) {
    (void)kind, (void)name, (void)unit, (void)description, (void)callback, (void)arg;
    return 0;
}
static void otelp__noop_record(otelp_instrument *instrument, double value, const otelp_attr *attrs,
                               size_t n) {
    (void)instrument, (void)value, (void)attrs, (void)n;
}
static void otelp__noop_observe(otelp_observer *observer, double value, const otelp_attr *attrs,
                                size_t n) {
    (void)observer, (void)value, (void)attrs, (void)n;
}
static void otelp__noop_record_metric(const char *name, double value, const otelp_attr *attrs,
                                      size_t n, otelp_instrument **cache) {
    (void)name, (void)value, (void)attrs, (void)n, (void)cache;
}
static int otelp__noop_active(void) {
    return 0;
}

static const struct otelp_api otelp__noop_table = {
    OTELP_API_VERSION,        sizeof(struct otelp_api),   otelp__noop_span_start,
    otelp__noop_span,         otelp__noop_span_attrs,     otelp__noop_span_str_attrs,
    otelp__noop_span_status,  otelp__noop_span_exception, otelp__noop_span_link,
    otelp__noop_span_name,    otelp__noop_span_recording, otelp__noop_span_context,
    otelp__noop_span_current, otelp__noop_make_current,   otelp__noop_scope_end,
    otelp__noop_from_w3c,     otelp__noop_to_w3c,         otelp__noop_log,
    otelp__noop_instrument,   otelp__noop_observable,     otelp__noop_record,
    otelp__noop_observe,      otelp__noop_record_metric,  otelp__noop_active,
};

/* ---- finding the shim's table ---- */

#ifdef OTELP_DISABLE
/* Every call goes to the no-op table, which the compiler sees through:
 * no code is left (at -O1 and above). */
static inline const struct otelp_api *otelp__api(void) {
    return &otelp__noop_table;
}
#else
/* The shim carries an ELF note, in a PT_NOTE segment: name "otelp", type
 * OTELP_NOTE_TYPE, and as its descriptor the signed 64-bit distance from
 * the descriptor itself to its struct otelp_api. */
#define OTELP_NOTE_TYPE 0x4f544c50u /* "PLTO" */

struct otelp__phdr { /* the start of ElfW(Phdr), 64-bit */
    uint32_t p_type, p_flags;
    uint64_t p_offset, p_vaddr, p_paddr, p_filesz, p_memsz, p_align;
};
struct otelp__phdr_info { /* the start of struct dl_phdr_info */
    uintptr_t addr;
    const char *name;
    const struct otelp__phdr *phdr;
    uint16_t phnum;
};
/* libc's dl_iterate_phdr under a name of ours: <link.h> declares it only
 * with _GNU_SOURCE, and with its own types. */
extern int otelp__dl_iterate_phdr(int (*cb)(struct otelp__phdr_info *, size_t, void *),
                                  void *data) __asm__("dl_iterate_phdr");

static int otelp__find_note(struct otelp__phdr_info *info, size_t size, void *data) {
    (void)size;
    if (sizeof(void *) != 8) return 0;
    for (uint16_t i = 0; i < info->phnum; i++) {
        const struct otelp__phdr *ph = &info->phdr[i];
        if (ph->p_type != 4 /* PT_NOTE */) continue;
        const unsigned char *p = (const unsigned char *)(info->addr + ph->p_vaddr);
        const unsigned char *end = p + ph->p_memsz;
        while (p + 12 <= end) {
            uint32_t namesz, descsz, type;
            memcpy(&namesz, p, 4);
            memcpy(&descsz, p + 4, 4);
            memcpy(&type, p + 8, 4);
            const unsigned char *name = p + 12;
            const unsigned char *desc = name + ((namesz + 3u) & ~3u);
            if (desc + descsz > end || desc < name) break;
            if (type == OTELP_NOTE_TYPE && namesz == 6 && memcmp(name, "otelp", 6) == 0 &&
                descsz == 8) {
                int64_t off;
                memcpy(&off, desc, 8);
                *(const void **)data = (const void *)(desc + off);
                return 1;
            }
            p = desc + ((descsz + 3u) & ~3u);
        }
    }
    return 0;
}

static const struct otelp_api *otelp__table;
static struct otelp_api otelp__merged; /* an older shim's table, completed with no-ops */
static int otelp__state;               /* 0 not looked up, 1 looking, 2 done */

/* Looks the shim's table up, once per translation unit. A thread that
 * comes by while another one looks waits for it (a few microseconds: a
 * walk over the loaded modules' notes), so that two threads' first calls
 * at once both reach the shim; the wait is bounded, and only a signal
 * handler interrupting the lookup on its own thread reaches the bound (it
 * then gets the no-op table for that call). */
static __attribute__((noinline, cold)) const struct otelp_api *otelp__resolve(void) {
    int expected = 0;
    if (!__atomic_compare_exchange_n(&otelp__state, &expected, 1, 0, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE)) {
        for (unsigned long i = 0; i < (1ul << 24); i++) {
            const struct otelp_api *t = __atomic_load_n(&otelp__table, __ATOMIC_ACQUIRE);
            if (t) return t;
        }
        return &otelp__noop_table;
    }
    const struct otelp_api *found = 0, *use = &otelp__noop_table;
    otelp__dl_iterate_phdr(otelp__find_note, &found);
    if (found && found->version == OTELP_API_VERSION && found->size >= 2 * sizeof(uint32_t)) {
        if (found->size >= sizeof(struct otelp_api)) {
            use = found;
        } else {
            memcpy(&otelp__merged, &otelp__noop_table, sizeof otelp__merged);
            memcpy(&otelp__merged, found, found->size);
            use = &otelp__merged;
        }
    }
    __atomic_store_n(&otelp__table, use, __ATOMIC_RELEASE);
    __atomic_store_n(&otelp__state, 2, __ATOMIC_RELEASE);
    return use;
}

static inline const struct otelp_api *otelp__api(void) {
    const struct otelp_api *t = __atomic_load_n(&otelp__table, __ATOMIC_ACQUIRE);
    if (__builtin_expect(t != 0, 1)) return t;
    return otelp__resolve();
}
#endif

/* ---- spans ---- */

/* Starts a span, child of parent, or when parent is NULL of the calling
 * thread's current span (the process's root span, its thread's span, or a
 * span made current). Returns NULL without the shim, which every call
 * takes as the no-op span. name and attrs are copied. */
static inline otelp_span *otelp_span_start(const char *name, const otelp_span *parent, int kind,
                                           const otelp_attr *attrs, size_t n) {
    return otelp__api()->span_start(name, parent, 0, kind, attrs, n);
}
/* The same with a parent from elsewhere (otelp_context_from_w3c). */
static inline otelp_span *otelp_span_start_remote(const char *name,
                                                  const otelp_span_context *parent, int kind,
                                                  const otelp_attr *attrs, size_t n) {
    return otelp__api()->span_start(name, 0, parent, kind, attrs, n);
}
/* Ends the span: it is exported once no scope has it current any more.
 * The handle must not be used after. */
static inline void otelp_span_end(otelp_span *span) {
    otelp__api()->span_end(span);
}
static inline void otelp_span_set_attributes(otelp_span *span, const otelp_attr *attrs, size_t n) {
    otelp__api()->span_set_attributes(span, attrs, n);
}
static inline void otelp_span_set_attribute(otelp_span *span, otelp_attr attr) {
    otelp__api()->span_set_attributes(span, &attr, 1);
}
static inline void otelp_span_add_event(otelp_span *span, const char *name, const otelp_attr *attrs,
                                        size_t n) {
    otelp__api()->span_add_event(span, name, attrs, n);
}
/* code: enum otelp_status; description kept with ERROR only. */
static inline void otelp_span_set_status(otelp_span *span, int code, const char *description) {
    otelp__api()->span_set_status(span, code, description);
}
/* An "exception" event (exception.type, exception.message,
 * exception.stacktrace; any may be NULL). Does not set the status. */
static inline void otelp_span_record_exception(otelp_span *span, const char *type,
                                               const char *message, const char *stacktrace,
                                               const otelp_attr *attrs, size_t n) {
    otelp__api()->span_record_exception(span, type, message, stacktrace, attrs, n);
}
static inline void otelp_span_add_link(otelp_span *span, const otelp_span_context *target,
                                       const otelp_attr *attrs, size_t n) {
    otelp__api()->span_add_link(span, target, attrs, n);
}
static inline void otelp_span_update_name(otelp_span *span, const char *name) {
    otelp__api()->span_update_name(span, name);
}
/* Whether the span records (was sampled, and the shim exports spans). */
static inline int otelp_span_is_recording(const otelp_span *span) {
    return otelp__api()->span_is_recording(span);
}
/* The span's context (trace_flags: the sampling decision). Returns 0, or
 * -1 with an all-zero context. */
static inline int otelp_span_get_context(const otelp_span *span, otelp_span_context *out) {
    return otelp__api()->span_get_context(span, out);
}
/* The calling thread's current span (not to be ended: the caller did not
 * start it), or NULL. */
static inline otelp_span *otelp_span_current(void) {
    return otelp__api()->span_current();
}
/* Makes span the calling thread's current span until otelp_scope_end:
 * spans started without a parent, threads and processes started, and
 * logging calls made meanwhile on this thread belong to it. */
static inline otelp_scope otelp_span_make_current(otelp_span *span) {
    return otelp__api()->span_make_current(span);
}
/* Restores what was current before (scopes end in reverse order). */
static inline void otelp_scope_end(otelp_scope scope) {
    otelp__api()->scope_end(scope);
}
/* Parses a W3C traceparent (and tracestate, which may be NULL; an invalid
 * one is left out) into a remote context. Returns 0, or -1 for a
 * traceparent the W3C rules say to ignore. out->trace_state points into
 * tracestate. */
static inline int otelp_context_from_w3c(const char *traceparent, const char *tracestate,
                                         otelp_span_context *out) {
    return otelp__api()->context_from_w3c(traceparent, tracestate, out);
}
/* Formats ctx as a traceparent (OTELP_TRACEPARENT_SIZE bytes) and, when
 * tracestate is not NULL, its trace state (empty when none, or when it does
 * not fit tracestate_size). Returns 0, or -1 for no context. */
static inline int otelp_context_to_w3c(const otelp_span_context *ctx, char *traceparent,
                                       char *tracestate, size_t tracestate_size) {
    return otelp__api()->context_to_w3c(ctx, traceparent, tracestate, tracestate_size);
}
static inline int otelp_context_is_sampled(const otelp_span_context *ctx) {
    return (ctx->trace_flags & OTELP_TRACE_FLAG_SAMPLED) != 0;
}
/* Whether the shim is active in this process. */
static inline int otelp_active(void) {
    return otelp__api()->active();
}

/* OTELP_SPAN_SCOPE("name"): a span, current from here to the end of the
 * enclosing block, however it is left (return, goto, break; in C++ an
 * exception too). otelp_span_current() is the span meanwhile. */
typedef struct otelp_span_scope {
    otelp_span *span;
    otelp_scope scope;
} otelp_span_scope;

static inline otelp_span_scope otelp_span_scope_begin(const char *name) {
    otelp_span_scope s;
    s.span = otelp_span_start(name, 0, OTELP_SPAN_KIND_INTERNAL, 0, 0);
    s.scope = otelp_span_make_current(s.span);
    return s;
}
static inline void otelp_span_scope_end(otelp_span_scope *s) {
    otelp_scope_end(s->scope);
    otelp_span_end(s->span);
}

#define OTELP__CAT2(a, b) a##b
#define OTELP__CAT(a, b) OTELP__CAT2(a, b)
#ifdef __cplusplus
#define OTELP_SPAN_SCOPE(name) otelp::span_scope OTELP__CAT(otelp__scope_, __LINE__)(name)
#else
#define OTELP_SPAN_SCOPE(name)                                                                     \
    otelp_span_scope OTELP__CAT(otelp__scope_, __LINE__)                                           \
        __attribute__((cleanup(otelp_span_scope_end), unused)) = otelp_span_scope_begin(name)
#endif

/* ---- logs ---- */

/* A log record on the calling thread's current context. severity: enum
 * otelp_severity (1..24); severity_text may be NULL. */
static inline void otelp_log(int severity, const char *severity_text, const char *body,
                             const otelp_attr *attrs, size_t n) {
    otelp__api()->log_emit(severity, severity_text, body, attrs, n);
}

/* ---- metrics ---- */

/* A synchronous instrument (OTELP_COUNTER, OTELP_UP_DOWN_COUNTER,
 * OTELP_GAUGE, OTELP_HISTOGRAM; boundaries: a histogram's explicit bucket
 * boundaries, or NULL for the default ones). The same name gives the same
 * instrument. Valid for the process's life. */
static inline otelp_instrument *otelp_instrument_new(int kind, const char *name, const char *unit,
                                                     const char *description,
                                                     const double *boundaries,
                                                     size_t n_boundaries) {
    return otelp__api()->instrument_new(kind, name, unit, description, boundaries, n_boundaries);
}
static inline otelp_instrument *otelp_counter(const char *name, const char *unit,
                                              const char *description) {
    return otelp_instrument_new(OTELP_COUNTER, name, unit, description, 0, 0);
}
static inline otelp_instrument *otelp_up_down_counter(const char *name, const char *unit,
                                                      const char *description) {
    return otelp_instrument_new(OTELP_UP_DOWN_COUNTER, name, unit, description, 0, 0);
}
static inline otelp_instrument *otelp_gauge(const char *name, const char *unit,
                                            const char *description) {
    return otelp_instrument_new(OTELP_GAUGE, name, unit, description, 0, 0);
}
static inline otelp_instrument *otelp_histogram(const char *name, const char *unit,
                                                const char *description, const double *boundaries,
                                                size_t n_boundaries) {
    return otelp_instrument_new(OTELP_HISTOGRAM, name, unit, description, boundaries, n_boundaries);
}
/* An observable instrument (OTELP_OBSERVABLE_*): callback runs at each
 * collection. */
static inline otelp_instrument *otelp_observable_new(int kind, const char *name, const char *unit,
                                                     const char *description,
                                                     otelp_observe_fn callback, void *arg) {
    return otelp__api()->observable_new(kind, name, unit, description, callback, arg);
}
/* Adds value (counters) or records it (gauge, histogram). */
static inline void otelp_record(otelp_instrument *instrument, double value, const otelp_attr *attrs,
                                size_t n) {
    otelp__api()->instrument_record(instrument, value, attrs, n);
}
static inline void otelp_add(otelp_instrument *instrument, double value, const otelp_attr *attrs,
                             size_t n) {
    otelp__api()->instrument_record(instrument, value, attrs, n);
}
/* Reports one value from an observable instrument's callback. */
static inline void otelp_observe(otelp_observer *observer, double value, const otelp_attr *attrs,
                                 size_t n) {
    otelp__api()->observe(observer, value, attrs, n);
}
/* One-off use: adds value to the counter called name (made on first use),
 * looked up once per call site. */
#define otelp_record_metric(name, value, attrs, n)                                                 \
    do {                                                                                           \
        static otelp_instrument *otelp__cache;                                                     \
        otelp__api()->record_metric((name), (value), (attrs), (n), &otelp__cache);                 \
    } while (0)

#ifdef __cplusplus
} /* extern "C" */

namespace otelp {
/* OTELP_SPAN_SCOPE in C++: the scope ends in the destructor. */
class span_scope {
  public:
    explicit span_scope(const char *name) : s_(otelp_span_scope_begin(name)) {}
    ~span_scope() { otelp_span_scope_end(&s_); }
    otelp_span *span() const { return s_.span; }
    span_scope(const span_scope &) = delete;
    span_scope &operator=(const span_scope &) = delete;

  private:
    otelp_span_scope s_;
};
} // namespace otelp
#endif

#endif
