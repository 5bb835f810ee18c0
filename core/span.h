/* span: the span record. One allocation holds the record and the first chunk
 * of its arena; attributes, events and strings live in the arena, so a span
 * is freed with one free() in the common case. A span is written by the
 * thread that owns it until it ends (a thread's span: built by its creator,
 * then owned by the thread); after that only the exporter completes and
 * reads it.
 * Depends on attr.h and context.h. */
#ifndef OTELP_CORE_SPAN_H
#define OTELP_CORE_SPAN_H

#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/attr.h"
#include "core/context.h"

/* OTLP's Span.SpanKind and Status.StatusCode values. */
enum {
    SPAN_KIND_INTERNAL = 1,
    SPAN_KIND_SERVER,
    SPAN_KIND_CLIENT,
    SPAN_KIND_PRODUCER,
    SPAN_KIND_CONSUMER
};
enum { STATUS_UNSET = 0, STATUS_OK = 1, STATUS_ERROR = 2 };

struct span_limits {
    struct attr_limits attrs, event_attrs;
    uint32_t events;
    struct attr_limits link_attrs;
    uint32_t links;
};

struct span_event {
    struct span_event *next;
    uint64_t time_ns;
    struct str name;
    struct attr_list attrs;
};

/* A link to another span's context (added through otelp.h). */
struct span_link {
    struct span_link *next;
    struct span_context ctx;
    struct str trace_state;
    struct attr_list attrs;
};

struct span {
    /* First, in one cache line (slots are line-aligned): what a thread's
     * span carries from the thread's creator, which builds the span, to the
     * thread, and what the thread writes into it. So the new thread touches
     * one line of its span, not the lines the export thread last read.
     *
     * A thread's start routine and its argument, and the seed of its id
     * generator (ids_thread_seed). The exporter names an unnamed thread's
     * span after the routine's symbol (dladdr is too slow for the thread's
     * own exit). */
    void *symbolize, *thread_arg;
    uint64_t thread_seed;
    uint64_t start_ns, end_ns;
    /* A thread's span: its kernel tid. The exporter adds what follows from
     * it (thread.id, the thread.start and thread.exit events), off the
     * thread's own path. */
    int32_t thread_id;
    /* Events the exporter will add: span_add_event keeps room for them
     * within the limit. */
    uint8_t reserved_events;
    bool recording, slot;
    bool pinned;   /* never freed (a process root span: other threads may hold it) */
    bool in_place; /* made by span_new_in: its memory is not ours to free */
    bool has_parent, parent_remote;
    uint8_t kind, status_code;
    struct span_context ctx;
    uint8_t parent_span_id[8];
    struct str name, trace_state, status_message;
    struct attr_list attrs;
    struct span_event *events, *events_tail;
    uint32_t event_count, dropped_events;
    struct span_link *links, *links_tail;
    uint32_t link_count, dropped_links;
    const struct span_limits *limits;
    /* Spans started through otelp.h (hooks/api.c), which any thread may
     * write: api_lock is the try-lock their writers take (the calling
     * thread's hooks too, when such a span is current); api_refs counts the
     * scopes that have it current, with API_ENDED set once it ended (it is
     * handed to the processor when both hold); api_pid is the process that
     * started it (a fork child's copy is never exported). */
    bool api;
    _Atomic bool api_lock;
    _Atomic uint32_t api_refs;
    int32_t api_pid;
    struct arena arena;
};

#define API_ENDED 0x80000000u
#define API_ENDING 0x40000000u /* ended, its end time not yet written (hooks/api.c) */

/* Takes s's writer lock when s is an otelp.h span (other spans have one
 * writer): false when it stays busy (a signal handler interrupted its
 * holder on this thread, or a writer is stuck), and the change is dropped.
 * Bounded: never a deadlock. */
static inline bool span_lock(struct span *s) {
    if (!s->api) return true;
    for (int i = 0; i < 4096; i++) {
        /* Sequentially consistent: see hooks/api.c, api_span_end. */
        if (!atomic_exchange(&s->api_lock, true)) return true;
        if (i >= 64) sched_yield();
    }
    return false;
}
static inline void span_unlock(struct span *s) {
    if (s->api) atomic_store_explicit(&s->api_lock, false, memory_order_release);
}

/* Spans whose record fits SPAN_SLOT bytes live in fixed-size slots that are
 * recycled through a bounded free queue instead of going back to malloc
 * (which trims freed heap and faults it back in: 4x the cost of the span).
 * A freed slot's record is zeroed by the thread that frees it (mostly the
 * export thread); a thread that starts spans takes free slots 16 at a time
 * into a stash of its own, which goes back to the free queue when the
 * thread ends. */
#define SPAN_SLOT 1024
/* How many free slots are kept (default 1024; the SDK sets it to the span
 * queue's size, the most spans that can be waiting at once). Set before the
 * first span is freed. */
void span_set_slot_cache(uint32_t slots);
/* Frees the cached free slots (at exit, after the last export): the free
 * queue's and the calling thread's stash. */
void span_release_slot_cache(void);
/* How many free slots the free queue holds now (not the stashes). */
size_t span_cached_slots(void);

/* A new span. parent NULL makes a root span with trace_id; otherwise the
 * parent's trace id is used. recording false makes a context-only span
 * (not sampled). arena_size: bytes reserved inline for attributes and
 * strings. Returns NULL when out of memory. */
struct span *span_new(struct str name, const struct span_context *parent,
                      const uint8_t trace_id[16], struct str trace_state, bool recording,
                      uint64_t start_ns, const struct span_limits *limits, size_t arena_size);
/* As span_new, in mem (size bytes, at least a struct span; the rest is the
 * arena) instead of allocated: span_free leaves mem alone. */
struct span *span_new_in(void *mem, size_t size, struct str name, const struct span_context *parent,
                         const uint8_t trace_id[16], struct str trace_state, bool recording,
                         uint64_t start_ns, const struct span_limits *limits);
void span_free(struct span *s);

int span_set_str(struct span *s, const char *key, const char *value, size_t len);
int span_set_int(struct span *s, const char *key, int64_t value);
int span_set_double(struct span *s, const char *key, double value);
int span_set_bool(struct span *s, const char *key, bool value);
int span_set_attr(struct span *s, struct str key, const struct attr_value *value);
/* Adds an event; returns its attribute list (NULL when dropped) so the
 * caller can attach attributes with attrs_put(..., &s->arena, &limits). */
struct span_event *span_add_event(struct span *s, const char *name, uint64_t time_ns);
/* As span_add_event, ahead of the events already there. */
struct span_event *span_add_first_event(struct span *s, const char *name, uint64_t time_ns);
int span_event_set_attr(struct span *s, struct span_event *e, struct str key,
                        const struct attr_value *value);
void span_set_status(struct span *s, int code, const char *message);
/* Adds a link to ctx (its trace state copied); NULL when dropped (the
 * link limit, no memory: counted) or the span does not record. */
struct span_link *span_add_link(struct span *s, const struct span_context *ctx,
                                struct str trace_state);
int span_link_set_attr(struct span *s, struct span_link *l, struct str key,
                       const struct attr_value *value);

#endif
