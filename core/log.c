/* log: log records. See log.h. */
#include "core/log.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* Free slots form a lock-free stack (Treiber) of slot indexes: top holds
 * index + 1 (0: empty) and, above it, a tag bumped by every change, so a
 * slot taken and given back between another thread's read and its
 * compare-and-swap cannot fool it (ABA). Slots are taken from the stack
 * first, then from the never-used tail (next_new), so only as many slots
 * are ever touched as were in use at once. */
struct log_pool {
    char *base;
    size_t slot_size;
    uint32_t slots;
    _Atomic uint32_t next_new;
    _Atomic uint64_t top;
    _Atomic uint32_t *next; /* per slot: the index + 1 below it on the stack */
};

static void fill(struct log_record *r, uint64_t time_ns, uint64_t observed_ns, int severity_number,
                 const char *severity_text, const char *body, size_t body_len,
                 const struct span_context *ctx, const struct attr_limits *limits) {
    r->limits = limits;
    r->time_ns = time_ns;
    r->observed_ns = observed_ns;
    r->severity_number = (uint8_t)severity_number;
    if (severity_text &&
        arena_strdup(&r->arena, str_cstr(severity_text), UINT32_MAX, &r->severity_text) < 0)
        r->severity_text = str_of("", 0);
    r->body.type = ATTR_STRING;
    if (arena_strdup(&r->arena, str_of(body ? body : "", body ? body_len : 0), limits->value_length,
                     &r->body.u.s) < 0)
        r->body.u.s = str_of("", 0);
    if (ctx) {
        r->has_context = true;
        memcpy(r->trace_id, ctx->trace_id, 16);
        memcpy(r->span_id, ctx->span_id, 8);
        r->flags = ctx->flags;
    }
}

struct log_record *log_record_new(uint64_t time_ns, uint64_t observed_ns, int severity_number,
                                  const char *severity_text, const char *body, size_t body_len,
                                  const struct span_context *ctx, const struct attr_limits *limits,
                                  size_t arena_size) {
    struct log_record *r = malloc(sizeof *r + arena_size);
    if (!r) return NULL;
    memset(r, 0, sizeof *r);
    arena_init(&r->arena, r + 1, arena_size);
    fill(r, time_ns, observed_ns, severity_number, severity_text, body, body_len, ctx, limits);
    return r;
}

struct log_record *log_record_new_pooled(struct log_pool *p, uint64_t time_ns, uint64_t observed_ns,
                                         int severity_number, const char *severity_text,
                                         const char *body, size_t body_len,
                                         const struct span_context *ctx,
                                         const struct attr_limits *limits) {
    struct log_record *r = log_pool_get(p);
    if (r)
        fill(r, time_ns, observed_ns, severity_number, severity_text, body, body_len, ctx, limits);
    return r;
}

size_t log_pool_room(const struct log_pool *p) {
    return p->slot_size - sizeof(struct log_record);
}

void log_record_add_attrs(struct log_record *r, const struct attr *attrs, uint32_t n) {
    uint32_t keep = n;
    if (r->attrs.count + keep > r->limits->count)
        keep = r->limits->count > r->attrs.count ? r->limits->count - r->attrs.count : 0;
    r->attrs.dropped += n - keep;
    if (!keep) return;
    if (!r->attrs.cap) { /* exactly what is needed, not the list's first 8 */
        r->attrs.items = arena_alloc(&r->arena, keep * sizeof *r->attrs.items);
        if (r->attrs.items) r->attrs.cap = keep;
    }
    if (attrs_reserve(&r->attrs, &r->arena, keep) < 0) {
        r->attrs.dropped += keep;
        return;
    }
    for (uint32_t i = 0; i < keep; i++) {
        struct attr *a = &r->attrs.items[r->attrs.count];
        a->key = attrs[i].key; /* static: see log.h */
        a->value = attrs[i].value;
        if (a->value.type == ATTR_STRING) {
            if (arena_strdup(&r->arena, attrs[i].value.u.s, r->limits->value_length,
                             &a->value.u.s) < 0) {
                r->attrs.dropped++;
                continue;
            }
        } else if (a->value.type >= ATTR_STRING_ARRAY) {
            r->attrs.dropped++; /* not made by our callers */
            continue;
        }
        r->attrs.count++;
        r->attrs.key_bits |= attr_key_bit(a->key);
    }
}

void log_record_free(struct log_record *r) {
    if (!r) return;
    if (r->pool) {
        struct log_pool *p = r->pool;
        arena_release(&r->arena);
        uint32_t k = (uint32_t)(((char *)r - p->base) / p->slot_size);
        uint64_t top = atomic_load_explicit(&p->top, memory_order_relaxed), next;
        do {
            atomic_store_explicit(&p->next[k], (uint32_t)top, memory_order_relaxed);
            next = ((top >> 32) + 1) << 32 | (k + 1);
        } while (!atomic_compare_exchange_weak_explicit(&p->top, &top, next, memory_order_release,
                                                        memory_order_relaxed));
        return;
    }
    arena_release(&r->arena);
    free(r);
}

/* One mapping holds the pool, its stack and its slots: nothing on the
 * program's heap (a pool lives as long as the process, and valgrind's
 * leak check would count a malloc'd one as the program's). */
static size_t pool_head(uint32_t slots) {
    return (sizeof(struct log_pool) + (size_t)slots * sizeof(uint32_t) + 63) & ~(size_t)63;
}

struct log_pool *log_pool_new(uint32_t slots, size_t slot_size) {
    if (!slots || slot_size < sizeof(struct log_record) + 64) return NULL;
    slot_size = (slot_size + 63) & ~(size_t)63;
    size_t head = pool_head(slots);
    char *m = mmap(NULL, head + (size_t)slots * slot_size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) return NULL;
    struct log_pool *p = (struct log_pool *)m;
    p->next = (_Atomic uint32_t *)(p + 1);
    p->base = m + head;
    p->slot_size = slot_size;
    p->slots = slots;
    return p;
}

void log_pool_free(struct log_pool *p) {
    if (!p) return;
    munmap(p, pool_head(p->slots) + (size_t)p->slots * p->slot_size);
}

static struct log_record *slot(struct log_pool *p, uint32_t k) {
    return (struct log_record *)(p->base + (size_t)k * p->slot_size);
}

struct log_record *log_pool_get(struct log_pool *p) {
    struct log_record *r = NULL;
    uint64_t top = atomic_load_explicit(&p->top, memory_order_acquire);
    while ((uint32_t)top) {
        uint32_t k = (uint32_t)top - 1;
        uint32_t below = atomic_load_explicit(&p->next[k], memory_order_relaxed);
        uint64_t next = ((top >> 32) + 1) << 32 | below;
        if (atomic_compare_exchange_weak_explicit(&p->top, &top, next, memory_order_acquire,
                                                  memory_order_acquire)) {
            r = slot(p, k);
            break;
        }
    }
    if (!r) {
        uint32_t k = atomic_load_explicit(&p->next_new, memory_order_relaxed);
        do {
            if (k >= p->slots) return NULL;
        } while (!atomic_compare_exchange_weak_explicit(
            &p->next_new, &k, k + 1, memory_order_relaxed, memory_order_relaxed));
        r = slot(p, k);
    }
    memset(r, 0, sizeof *r);
    arena_init(&r->arena, r + 1, p->slot_size - sizeof *r);
    r->arena.no_malloc = true;
    r->pool = p;
    return r;
}

int log_syslog_severity(int level, const char **text) {
    static const struct {
        uint8_t number;
        const char *text;
    } map[8] = {{SEVERITY_FATAL, "emerg"},    {SEVERITY_ERROR + 2, "alert"},
                {SEVERITY_ERROR + 1, "crit"}, {SEVERITY_ERROR, "err"},
                {SEVERITY_WARN, "warning"},   {SEVERITY_INFO + 1, "notice"},
                {SEVERITY_INFO, "info"},      {SEVERITY_DEBUG, "debug"}};
    level &= 7;
    if (text) *text = map[level].text;
    return map[level].number;
}

const char *log_syslog_facility_name(int code) {
    static const char *const names[24] = {
        "kern",   "user",   "mail",     "daemon", "auth",   "syslog", "lpr",    "news",
        "uucp",   "cron",   "authpriv", "ftp",    NULL,     NULL,     NULL,     NULL,
        "local0", "local1", "local2",   "local3", "local4", "local5", "local6", "local7"};
    return code >= 0 && code < 24 ? names[code] : NULL;
}

int log_record_set_attr(struct log_record *r, struct str key, const struct attr_value *value) {
    return attrs_put(&r->attrs, &r->arena, r->limits, key, value);
}

int log_record_set_str(struct log_record *r, const char *key, const char *value, size_t len) {
    struct attr_value v = {.type = ATTR_STRING, .u.s = str_of(value, len)};
    return log_record_set_attr(r, str_cstr(key), &v);
}

int log_record_set_int(struct log_record *r, const char *key, int64_t value) {
    struct attr_value v = {.type = ATTR_INT, .u.i = value};
    return log_record_set_attr(r, str_cstr(key), &v);
}
