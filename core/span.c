/* span: span records. See span.h. */
#include "core/cold.h"
#include "core/span.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/guard.h"
#include "core/ids.h"
#include "core/pool.h"
#include "core/queue.h"

#include <stdatomic.h>

static _Atomic(struct queue *) free_slots;
static uint32_t slot_cache_size = 1024;
/* PREFETCHW is there (set before free_slots is published): a slot's lines
 * are fetched for writing in one step, not read first and then owned. */
static bool prefetch_write;

#if defined(__x86_64__)
#include <cpuid.h>

static bool has_prefetchw(void) {
    unsigned a, b, c, d;
    return __get_cpuid(0x80000001u, &a, &b, &c, &d) && (c & (1u << 8)); /* PRFCHW */
}

/* The lines of a slot's record (and its first arena line: the name). */
static inline void prefetch_record(const char *p) {
    if (prefetch_write) {
#pragma GCC unroll 8
        for (size_t off = 0; off < sizeof(struct span) + 64; off += 64)
            __asm__("prefetchw %0" : : "m"(*(p + off)));
    } else {
#pragma GCC unroll 8
        for (size_t off = 0; off < sizeof(struct span) + 64; off += 64)
            __builtin_prefetch(p + off, 1, 3);
    }
}
#else
static bool has_prefetchw(void) {
    return false;
}

static inline void prefetch_record(const char *p) {
#pragma GCC unroll 8
    for (size_t off = 0; off < sizeof(struct span) + 64; off += 64)
        __builtin_prefetch(p + off, 1, 3);
}
#endif

void span_set_slot_cache(uint32_t slots) {
    slot_cache_size = slots ? slots : 1;
}

/* Zeroes a span record with 16-byte stores. GCC makes memset of this size
 * a rep stos, whose start-up cost here made an otelp.h span start+end ~13
 * ns dearer (bench_api under the shim, in CPU time, alternated builds). */
static inline void span_zero(struct span *s) {
    typedef uint64_t block __attribute__((vector_size(16), aligned(1), may_alias));
    block *b = (block *)(void *)s;
    /* An empty asm per store: GCC would make the loop a memset again. */
    for (size_t i = 0; i < sizeof *s / sizeof *b; i++) {
        b[i] = (block){0, 0};
        __asm__("" : : "r"(b + i) : "memory");
    }
    if (sizeof *s % sizeof *b)
        memset((char *)s + sizeof *s - sizeof *s % sizeof *b, 0, sizeof *s % sizeof *b);
}

/* Sets up s, whose arena_size bytes after it are its arena (zeroed: s's
 * record is all zeroes already, as a cached slot's is). */
static inline __attribute__((always_inline)) struct span *
span_setup(struct span *s, bool zeroed, size_t arena_size, struct str name,
           const struct span_context *parent, const uint8_t trace_id[16], struct str trace_state,
           bool recording, uint64_t start_ns, const struct span_limits *limits) {
    if (!zeroed) span_zero(s);
    arena_init(&s->arena, s + 1, arena_size);
    s->limits = limits;
    s->recording = recording;
    s->kind = SPAN_KIND_INTERNAL;
    s->start_ns = start_ns;
    if (parent) {
        memcpy(s->ctx.trace_id, parent->trace_id, 16);
        memcpy(s->parent_span_id, parent->span_id, 8);
        s->has_parent = true;
        s->parent_remote = parent->remote;
    } else {
        memcpy(s->ctx.trace_id, trace_id, 16);
    }
    ids_new_span_id(s->ctx.span_id);
    s->ctx.flags = recording ? TRACE_FLAG_SAMPLED : 0;
    /* The trace state travels with the context, recorded or not. */
    if (trace_state.len && arena_strdup(&s->arena, trace_state, 512, &s->trace_state) < 0)
        s->trace_state = str_of("", 0);
    if (recording && arena_strdup(&s->arena, name, UINT32_MAX, &s->name) < 0)
        s->name = str_of("", 0);
    return s;
}

/* A thread's stash of free slots, taken from the free slots STASH at a
 * time with one atomic operation (a pop each was one per span), used in
 * the free slots' order (slots[next] to slots[n - 1]). busy: the thread is
 * in slot_take (a signal handler that starts a span meanwhile takes from
 * the free slots). The stash goes back to the free slots when the thread
 * ends (stash_key's destructor) and at span_release_slot_cache. */
#define STASH 16
struct slot_stash {
    uint32_t next, n;
    bool busy, registered;
    void *slots[STASH];
};
static _Thread_local struct slot_stash stash __attribute__((tls_model("initial-exec")));
static pthread_key_t stash_key;
static bool stash_key_made;

/* The thread ends: its stash (records zeroed) goes back. */
static void on_thread_exit(void *value) {
    (void)value;
    struct queue *q = atomic_load_explicit(&free_slots, memory_order_acquire);
    if (!q || stash.busy) return;
    guard_enter();
    stash.busy = true;
    while (stash.next < stash.n) {
        void *slot = stash.slots[stash.next++];
        if (!queue_push(q, slot)) free(slot);
    }
    stash.busy = false;
    guard_leave();
}

/* Fills the empty stash; false when there is no free slot. */
static bool stash_fill(struct queue *q) {
    uint32_t n = queue_pop_n(q, stash.slots, STASH);
    stash.next = 0;
    stash.n = n;
    /* Weak (preload/abi_floor.h): without libpthread there is one thread. */
    if (n && !stash.registered && stash_key_made && pthread_setspecific) {
        stash.registered = true;
        (void)pthread_setspecific(stash_key, (void *)1);
    }
    return n != 0;
}

/* A slot from the thread's stash or the free slots, its record zeroed by
 * slot_put (*zeroed), else a new one (line-aligned: struct span's first
 * line is one line). The free slots were last written by the export
 * thread, on another core: the header lines of the slot two takes ahead
 * are prefetched for writing now, so that a span does not wait for them
 * (the wait was most of what a span cost a program whose spans are
 * exported; one ahead was ~8 ns a span dearer in bench_api, alternated
 * builds). */
static void *slot_take(bool *zeroed) {
    struct queue *q = atomic_load_explicit(&free_slots, memory_order_acquire);
    void *slot = NULL;
    if (q && !stash.busy) {
        stash.busy = true;
        __asm__ volatile("" ::: "memory"); /* busy is set before the stash is touched */
        if (stash.next < stash.n || stash_fill(q)) {
            slot = stash.slots[stash.next++];
            /* Two takes ahead: in the stash, or the next fill's. */
            uint32_t ahead = stash.next + 1;
            const char *p = ahead < stash.n ? stash.slots[ahead] : queue_peek(q, ahead - stash.n);
            if (p) prefetch_record(p);
        }
        __asm__ volatile("" ::: "memory");
        stash.busy = false;
    } else if (q) {
        slot = queue_pop(q);
    }
    *zeroed = slot != NULL;
    return slot ? slot : aligned_alloc(64, SPAN_SLOT);
}

struct span *span_new(struct str name, const struct span_context *parent,
                      const uint8_t trace_id[16], struct str trace_state, bool recording,
                      uint64_t start_ns, const struct span_limits *limits, size_t arena_size) {
    bool slot = sizeof(struct span) + arena_size <= SPAN_SLOT, zeroed = false;
    struct span *s = NULL;
    if (slot) {
        s = slot_take(&zeroed);
        arena_size = SPAN_SLOT - sizeof *s;
    } else {
        s = pool_alloc(sizeof *s + arena_size); /* a root span: pool.h */
    }
    if (!s) return NULL;
    span_setup(s, zeroed, arena_size, name, parent, trace_id, trace_state, recording, start_ns,
               limits);
    s->slot = slot;
    return s;
}

OTELP_FIRST struct span *span_new_in(void *mem, size_t size, struct str name,
                                     const struct span_context *parent, const uint8_t trace_id[16],
                                     struct str trace_state, bool recording, uint64_t start_ns,
                                     const struct span_limits *limits) {
    struct span *s = span_setup(mem, false, size - sizeof(struct span), name, parent, trace_id,
                                trace_state, recording, start_ns, limits);
    s->in_place = true;
    return s;
}

static struct queue *slot_cache(void) {
    struct queue *q = atomic_load_explicit(&free_slots, memory_order_acquire);
    if (q) return q;
    struct queue *fresh = queue_new(slot_cache_size);
    if (!fresh) return NULL;
    prefetch_write = has_prefetchw();
    if (!stash_key_made && pthread_key_create)
        stash_key_made = pthread_key_create(&stash_key, on_thread_exit) == 0;
    if (!atomic_compare_exchange_strong(&free_slots, &q, fresh)) {
        queue_free(fresh);
        return q;
    }
    return fresh;
}

/* A cached slot's record is zeroed here, by the thread that frees it
 * (mostly the export thread), not by the one that takes it for a new span:
 * that is a program's thread. */
static void slot_put(struct span *slot) {
    struct queue *q = slot_cache();
    if (!q) {
        free(slot);
        return;
    }
    span_zero(slot);
    if (!queue_push(q, slot)) free(slot);
}

/* The free slots go back to the C library (at exit under valgrind: what
 * the shim kept would otherwise be "still reachable", which
 * --show-leak-kinds=all counts as the program's leak). A slot freed after
 * this (a thread still running) is cached again, as before. */
void span_release_slot_cache(void) {
    struct queue *q = atomic_load_explicit(&free_slots, memory_order_acquire);
    if (!q) return;
    if (!stash.busy)
        while (stash.next < stash.n)
            free(stash.slots[stash.next++]);
    for (void *slot; (slot = queue_pop(q)) != NULL;)
        free(slot);
}

size_t span_cached_slots(void) {
    struct queue *q = atomic_load_explicit(&free_slots, memory_order_acquire);
    return q ? queue_size(q) : 0;
}

OTELP_FIRST void span_free(struct span *s) {
    if (!s || s->pinned) return;
    arena_release(&s->arena);
    if (s->in_place) return;
    if (s->slot)
        slot_put(s);
    else
        pool_free(s);
}

int span_set_attr(struct span *s, struct str key, const struct attr_value *value) {
    if (!s->recording) return 0;
    return attrs_put(&s->attrs, &s->arena, &s->limits->attrs, key, value);
}

int span_set_str(struct span *s, const char *key, const char *value, size_t len) {
    struct attr_value v = {.type = ATTR_STRING, .u.s = str_of(value, len)};
    return span_set_attr(s, str_cstr(key), &v);
}

int span_set_int(struct span *s, const char *key, int64_t value) {
    struct attr_value v = {.type = ATTR_INT, .u.i = value};
    return span_set_attr(s, str_cstr(key), &v);
}

int span_set_double(struct span *s, const char *key, double value) {
    struct attr_value v = {.type = ATTR_DOUBLE, .u.d = value};
    return span_set_attr(s, str_cstr(key), &v);
}

int span_set_bool(struct span *s, const char *key, bool value) {
    struct attr_value v = {.type = ATTR_BOOL, .u.b = value};
    return span_set_attr(s, str_cstr(key), &v);
}

static struct span_event *add_event(struct span *s, const char *name, uint64_t time_ns,
                                    bool first) {
    if (!s->recording) return NULL;
    if (s->event_count + s->reserved_events >= s->limits->events) {
        s->dropped_events++;
        return NULL;
    }
    struct span_event *e = arena_alloc(&s->arena, sizeof *e);
    if (!e) {
        s->dropped_events++;
        return NULL;
    }
    memset(e, 0, sizeof *e);
    e->time_ns = time_ns;
    e->name = str_cstr(name); /* event names are literals */
    if (first) {
        e->next = s->events;
        s->events = e;
        if (!s->events_tail) s->events_tail = e;
    } else {
        if (s->events_tail)
            s->events_tail->next = e;
        else
            s->events = e;
        s->events_tail = e;
    }
    s->event_count++;
    return e;
}

struct span_event *span_add_event(struct span *s, const char *name, uint64_t time_ns) {
    return add_event(s, name, time_ns, false);
}

struct span_event *span_add_first_event(struct span *s, const char *name, uint64_t time_ns) {
    return add_event(s, name, time_ns, true);
}

int span_event_set_attr(struct span *s, struct span_event *e, struct str key,
                        const struct attr_value *value) {
    if (!e) return 0;
    return attrs_put(&e->attrs, &s->arena, &s->limits->event_attrs, key, value);
}

void span_set_status(struct span *s, int code, const char *message) {
    if (!s->recording) return;
    /* Spec: OK is final; setting UNSET is ignored; description only with ERROR. */
    if (s->status_code == STATUS_OK || code == STATUS_UNSET) return;
    s->status_code = (uint8_t)code;
    s->status_message = str_of("", 0);
    if (code == STATUS_ERROR && message) {
        size_t len = strlen(message);
        char *p = arena_alloc(&s->arena, len + 1);
        if (p) {
            memcpy(p, message, len + 1);
            s->status_message = str_of(p, len);
        }
    }
}

struct span_link *span_add_link(struct span *s, const struct span_context *ctx,
                                struct str trace_state) {
    if (!s->recording) return NULL;
    struct span_link *l =
        s->link_count < s->limits->links ? arena_alloc(&s->arena, sizeof *l) : NULL;
    if (!l) {
        s->dropped_links++;
        return NULL;
    }
    memset(l, 0, sizeof *l);
    l->ctx = *ctx;
    if (trace_state.len && arena_strdup(&s->arena, trace_state, 512, &l->trace_state) < 0)
        l->trace_state = str_of("", 0);
    if (s->links_tail)
        s->links_tail->next = l;
    else
        s->links = l;
    s->links_tail = l;
    s->link_count++;
    return l;
}

int span_link_set_attr(struct span *s, struct span_link *l, struct str key,
                       const struct attr_value *value) {
    if (!l) return 0;
    return attrs_put(&l->attrs, &s->arena, &s->limits->link_attrs, key, value);
}
