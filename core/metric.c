/* metric: instruments, series and aggregation. See metric.h.
 *
 * Layout. An instrument owns an open-addressing table of series (an
 * mmap'd array of pointers, twice the cardinality limit, so probing always
 * ends); slots only ever go from NULL to a series, never back, so a lookup
 * needs no lock and two threads making the same series meet on the same
 * probe sequence (the loser frees its copy). A series holds its attribute
 * set in canonical form (sorted by key, duplicates: the last wins), one
 * stripe per accumulator slot, and the collector's own state.
 *
 * Stripes. A measurement adds to the stripe of the CPU it runs on (the
 * number glibc's rseq area holds; without one, a stripe per thread taken
 * round robin): with as many stripes as CPUs, two threads on two cores
 * never write the same cache line. Nothing else shared is written on the
 * record path: the instrument and the series' heads are read-only there
 * (their written fields, for new series and the collector, sit on lines
 * of their own), the attribute set is found through a per-thread cache
 * (below) or the table, and the cardinality limit is a read once reached.
 * Sums are one atomic add (relaxed). Histograms take the stripe's
 * try-lock; a recorder that finds it taken (the collector, or a signal
 * handler interrupting its own thread) tries the next stripe, and drops
 * the measurement (counted) only when all are busy. Gauges store into one
 * slot per series (a gauge's last value is shared by nature).
 *
 * Collection. Stripes hold what happened since the last collection: the
 * collector swaps them to zero (sums) or copies and clears them under the
 * lock (histograms), and keeps the cumulative totals itself. So delta and
 * cumulative are the same code, and each measurement is in exactly one
 * collection. */
#include "core/metric.h"

#include <dlfcn.h>
#include <errno.h>
#include <math.h> /* macros only (isnan, INFINITY): no libm */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/cold.h"
#include "core/diag.h"
#include "core/ids.h"

#define CACHE_LINE 64
#define MAX_CALLBACKS 4
#define MAX_STRIPES 16

static const double default_bounds[] = {0,   5,   10,   25,   50,   75,   100,  250,
                                        500, 750, 1000, 2500, 5000, 7500, 10000};

enum agg { AGG_SUM, AGG_LAST, AGG_HIST, AGG_EXP };

/* ---- Exponential histogram state (one side: positive or negative). ---- */
struct exp_side {
    int32_t offset;
    uint32_t len; /* counts[0..len) are indexes offset..offset+len-1 */
    uint64_t counts[METRIC_EXP_MAX_SIZE];
};

/* A histogram's accumulation: explicit buckets follow the struct (nb
 * counts) or the exponential state is used. */
struct hist_acc {
    uint64_t count;
    double sum, min, max;
    int32_t scale;
    uint64_t zero_count;
    struct exp_side *pos, *neg; /* exponential only */
    uint64_t *buckets;          /* explicit only */
};

struct ex_slot {
    _Atomic uint32_t seen; /* measurements offered this interval (reservoir sampling) */
    bool has;
    struct metric_exemplar e;
};

/* A sum's stripe. */
struct sum_stripe {
    _Atomic uint64_t bits; /* int64 or double bits */
    _Atomic uint32_t ex_lock;
    struct ex_slot ex;
};

/* A histogram's stripe: the lock, the accumulation, the exemplar; the
 * explicit buckets or exponential sides follow in the same stripe. */
struct hist_stripe {
    _Atomic uint32_t lock;
    struct hist_acc acc;
    struct ex_slot ex;
};

struct series {
    /* The recorders' reads first (one cache line). */
    uint64_t hash;
    const struct metric_instrument *owner;
    const struct attr *attrs;
    char *stripes; /* stripes x stripe_size bytes, cache-line aligned */
    uint32_t nattrs;
    _Atomic uint32_t touched; /* a measurement since the last collection */
    _Atomic uint64_t gauge_bits;
    uint64_t start_ns; /* cumulative start; delta: the last collection */
    /* The collector's state. */
    union {
        int64_t i;
        double d;
    } total, obs;
    uint32_t obs_epoch;
    bool has_value;
    struct hist_acc *cum; /* cumulative histograms */
};

struct callback {
    void (*fn)(struct metric_observer *, void *);
    void *ctx;
};

struct metric_instrument {
    /* Read by every measurement, written only when made: the first cache
     * line (the struct is cache-line aligned). */
    _Atomic(struct series *) *table;
    uint32_t mask, limit;
    uint64_t serial; /* unique in the process (the threads' caches' key) */
    enum metric_kind kind;
    enum metric_number number;
    enum agg agg;
    uint32_t nbounds;
    double *bounds;
    size_t stripe_size;
    enum metric_temporality temporality;
    unsigned scope_id;
    char *name, *unit, *description, *scope, *scope_version;
    /* Written by new series and by the collector: lines of their own, so
     * the recorders' reads above never miss because of them. */
    _Alignas(CACHE_LINE) _Atomic uint32_t nseries;
    _Atomic(struct series *) overflow;
    struct callback callbacks[MAX_CALLBACKS];
    _Atomic uint32_t ncallbacks;
    uint64_t last_collect_ns;
};

struct metric_observer {
    struct metric_instrument *m;
};

/* What every measurement reads, alone on its cache line (aligned and
 * padded to one): no variable written elsewhere (a counter of another
 * module the linker put next to it) makes the recorders miss. Written only
 * by metrics_configure and at the first instrument. */
static struct {
    struct metric_options opts;
    uint32_t stripe_count; /* 0: decided at the first instrument */
    /* Where the running CPU's number is, from the thread pointer (glibc's
     * rseq area: the kernel rewrites it at every migration); 0: not known. */
    ptrdiff_t rseq_cpu_off;
} hot __attribute__((aligned(CACHE_LINE))) = {
    .opts = {.cardinality_limit = METRIC_DEFAULT_CARDINALITY}};
static struct metric_instrument *instruments[METRIC_MAX_INSTRUMENTS] OTELP_COLD;
static _Atomic uint32_t ninstruments;
static _Atomic int reg_lock;
static _Atomic uint32_t next_stripe;
static _Atomic uint64_t next_serial;
static _Atomic uint64_t dropped;
static uint64_t metrics_start_ns;
static uint32_t epoch = 1;
static _Thread_local uint32_t tls_stripe __attribute__((tls_model("initial-exec")));
static _Thread_local uint64_t tls_rng __attribute__((tls_model("initial-exec")));

static uint32_t round_pow2(uint32_t n) {
    uint32_t p = 1;
    while (p < n && p < MAX_STRIPES)
        p <<= 1;
    return p;
}

void metrics_configure(const struct metric_options *o) {
    hot.opts = *o;
    if (!hot.opts.cardinality_limit) hot.opts.cardinality_limit = METRIC_DEFAULT_CARDINALITY;
    if (hot.opts.cardinality_limit < 2) hot.opts.cardinality_limit = 2;
    if (hot.opts.cardinality_limit > (1u << 20)) hot.opts.cardinality_limit = 1u << 20;
    /* Without a count, the number of CPUs, read at the first instrument
     * (sysconf reads /sys: not at every process start). */
    if (!atomic_load(&ninstruments)) /* series made keep their stripes */
        hot.stripe_count = hot.opts.stripes ? round_pow2(hot.opts.stripes) : 0;
}

/* glibc 2.35 and later register every thread's rseq area and say where
 * it is (__rseq_offset from the thread pointer; __rseq_size 0: not
 * registered); its cpu_id (offset 4) is the CPU the thread runs on.
 * Looked up, not linked: the shim imports nothing newer than glibc 2.17,
 * and musl has none of it. */
static void rseq_find(void) {
    if (!dlsym) return; /* weak in the shim: glibc before 2.34 without libdl */
    const ptrdiff_t *off = dlsym(RTLD_DEFAULT, "__rseq_offset");
    const unsigned int *size = dlsym(RTLD_DEFAULT, "__rseq_size");
    if (off && size && *size >= 8 && *off + 4 != 0) hot.rseq_cpu_off = *off + 4;
}

/* Under the registry lock, before the instrument is handed out. The rseq
 * look-up waits for the first instrument the program's threads record on
 * (the SDK's own and the process metrics are observable: a process with
 * only those never pays for it). */
static void stripes_decide(enum metric_kind kind) {
    static bool rseq_looked;
    if (!hot.stripe_count) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        hot.stripe_count = round_pow2(cpus > 0 ? (uint32_t)cpus : 1);
    }
    if (!rseq_looked && kind != METRIC_GAUGE && kind < METRIC_OBSERVABLE_COUNTER &&
        hot.stripe_count > 1) {
        rseq_looked = true;
        rseq_find();
    }
}

static void lock_registry(void) {
    int expected = 0;
    while (!atomic_compare_exchange_weak(&reg_lock, &expected, 1)) {
        expected = 0;
        sched_yield();
    }
}

static void unlock_registry(void) {
    atomic_store_explicit(&reg_lock, 0, memory_order_release);
}

/* ---- Hashing and attribute sets. ---- */

#define K1 0x9E3779B97F4A7C15ull
#define K2 0xC2B2AE3D27D4EB4Full
#define K3 0x165667B19E3779F9ull

/* The two halves of a 64 x 64 -> 128 bit product, folded: one multiply
 * mixes every input bit into every output bit (no serial chain of
 * shift-multiply rounds). */
static inline uint64_t fold_mul(uint64_t a, uint64_t b) {
    unsigned __int128 r = (unsigned __int128)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

static inline uint64_t load64(const char *p) {
    uint64_t w;
    memcpy(&w, p, 8);
    return w;
}

static inline uint64_t load32(const char *p) {
    uint32_t w;
    memcpy(&w, p, 4);
    return w;
}

/* n bytes at p (only those read) as two words: for n <= 16 the first and
 * last 8 (overlapping), 4 or bytes; hash_bytes and bytes_eq agree on them. */
static inline void head_tail(const char *p, size_t n, uint64_t *a, uint64_t *b) {
    if (n >= 8) {
        *a = load64(p);
        *b = load64(p + n - 8);
    } else if (n >= 4) {
        *a = load32(p);
        *b = load32(p + n - 4);
    } else if (n) {
        *a = (uint64_t)(unsigned char)p[0] << 16 | (uint64_t)(unsigned char)p[n / 2] << 8 |
             (unsigned char)p[n - 1];
        *b = 0;
    } else {
        *a = *b = 0;
    }
}

static inline uint64_t hash_bytes(const char *p, size_t n, uint64_t seed) {
    uint64_t a, b, h = seed ^ (n * K1);
    if (__builtin_expect(n > 16, 0)) {
        uint64_t h2 = h;
        while (n > 16) {
            h = fold_mul(load64(p) ^ K1, h ^ load64(p + 8));
            h2 += h;
            p += 16;
            n -= 16;
        }
        h ^= h2;
        /* the last 16 bytes (overlapping what came before) */
        p += n;
        n = 16;
        p -= 16;
    }
    head_tail(p, n, &a, &b);
    return fold_mul(a ^ K2 ^ h, b ^ K3);
}

/* Whether p and q hold the same n bytes: words, not a call to memcmp. */
static inline bool bytes_eq(const char *p, const char *q, size_t n) {
    if (n >= 8) {
        for (size_t i = 0; i + 8 < n; i += 8)
            if (load64(p + i) != load64(q + i)) return false;
        return load64(p + n - 8) == load64(q + n - 8);
    }
    uint64_t a, b, c, d;
    head_tail(p, n, &a, &b);
    head_tail(q, n, &c, &d);
    return a == c && b == d;
}

static uint64_t hash_value(const struct attr_value *v) {
    uint64_t h = (uint64_t)v->type * K1;
    switch (v->type) {
    case ATTR_STRING:
        return hash_bytes(v->u.s.ptr, v->u.s.len, h);
    case ATTR_BOOL:
        return fold_mul(h ^ (v->u.b ? 1 : 2), K2);
    case ATTR_INT:
        return fold_mul(h ^ (uint64_t)v->u.i, K2);
    case ATTR_DOUBLE: {
        uint64_t b;
        double d = v->u.d == 0 ? 0 : v->u.d; /* -0 == 0 */
        memcpy(&b, &d, 8);
        return fold_mul(h ^ b, K2);
    }
    case ATTR_STRING_ARRAY:
        for (uint32_t i = 0; i < v->u.arr.count; i++)
            h = hash_bytes(v->u.arr.items[i].ptr, v->u.arr.items[i].len, h + i);
        return h;
    case ATTR_BOOL_ARRAY: /* numeric arrays (otelp.h) never reach metrics: see hooks/api.c */
    case ATTR_INT_ARRAY:
    case ATTR_DOUBLE_ARRAY:
        return hash_bytes(v->u.nums.items, v->u.nums.count * attr_num_size(v->type), h);
    }
    return h;
}

/* Order-independent: the sum of each attribute's hash. */
static uint64_t hash_attrs(const struct attr *a, uint32_t n) {
    uint64_t h = n;
    for (uint32_t i = 0; i < n; i++)
        h += fold_mul(hash_bytes(a[i].key.ptr, a[i].key.len, K2), hash_value(&a[i].value) ^ K1);
    return fold_mul(h ^ K3, K1);
}

static inline bool str_eq(struct str a, struct str b) {
    return a.len == b.len && bytes_eq(a.ptr, b.ptr, a.len);
}

static bool value_eq(const struct attr_value *a, const struct attr_value *b) {
    if (a->type != b->type) return false;
    switch (a->type) {
    case ATTR_STRING:
        return str_eq(a->u.s, b->u.s);
    case ATTR_BOOL:
        return a->u.b == b->u.b;
    case ATTR_INT:
        return a->u.i == b->u.i;
    case ATTR_DOUBLE:
        return a->u.d == b->u.d;
    case ATTR_STRING_ARRAY:
        if (a->u.arr.count != b->u.arr.count) return false;
        for (uint32_t i = 0; i < a->u.arr.count; i++)
            if (!str_eq(a->u.arr.items[i], b->u.arr.items[i])) return false;
        return true;
    case ATTR_BOOL_ARRAY:
    case ATTR_INT_ARRAY:
    case ATTR_DOUBLE_ARRAY:
        return a->u.nums.count == b->u.nums.count &&
               !memcmp(a->u.nums.items, b->u.nums.items, a->u.nums.count * attr_num_size(a->type));
    }
    return false;
}

/* Whether the input set a (any order) equals the series' canonical set.
 * Each of the series' attributes matches one input at most, so an input
 * with a key twice never matches a series of as many attributes (the
 * per-thread cache compares without a hash; n <= 64 there). */
static inline bool attrs_match(const struct series *s, const struct attr *a, uint32_t n) {
    if (s->nattrs != n) return false;
    uint64_t used = 0;
    for (uint32_t i = 0; i < n; i++) {
        const struct attr *c = &s->attrs[i];
        uint32_t k = i;
        if (!str_eq(c->key, a[i].key)) {
            c = NULL;
            for (uint32_t j = 0; j < n; j++)
                if (str_eq(s->attrs[j].key, a[i].key)) {
                    c = &s->attrs[j];
                    k = j;
                    break;
                }
            if (!c) return false;
        }
        if (k < 64) {
            if (used >> k & 1) return false;
            used |= 1ull << k;
        }
        if (c->value.type == ATTR_STRING && a[i].value.type == ATTR_STRING) {
            if (!str_eq(c->value.u.s, a[i].value.u.s)) return false;
        } else if (!value_eq(&c->value, &a[i].value)) {
            return false;
        }
    }
    return true;
}

static int key_cmp(struct str a, struct str b) {
    uint32_t n = a.len < b.len ? a.len : b.len;
    int c = memcmp(a.ptr, b.ptr, n);
    return c ? c : (a.len < b.len ? -1 : a.len > b.len);
}

/* Sorts a copy of in (n items) into out by key, the last of equal keys
 * kept. Returns the count. */
static uint32_t canonical(const struct attr *in, uint32_t n, struct attr *out) {
    uint32_t m = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t j = 0;
        while (j < m && key_cmp(out[j].key, in[i].key) < 0)
            j++;
        if (j < m && key_cmp(out[j].key, in[i].key) == 0) {
            out[j] = in[i];
            continue;
        }
        memmove(&out[j + 1], &out[j], (m - j) * sizeof *out);
        out[j] = in[i];
        m++;
    }
    return m;
}

static size_t value_bytes(const struct attr_value *v) {
    if (v->type == ATTR_STRING) return v->u.s.len + 1;
    if (v->type != ATTR_STRING_ARRAY) return 0;
    size_t b = v->u.arr.count * sizeof(struct str) + 8;
    for (uint32_t i = 0; i < v->u.arr.count; i++)
        b += v->u.arr.items[i].len + 1;
    return b;
}

static char *copy_str(char **cur, struct str in, struct str *out) {
    char *p = *cur;
    memcpy(p, in.ptr, in.len);
    p[in.len] = '\0';
    *out = str_of(p, in.len);
    *cur = p + in.len + 1;
    return p;
}

/* ---- Series. ---- */

static size_t align_up(size_t n, size_t a) {
    return (n + a - 1) & ~(a - 1);
}

static void hist_layout(struct hist_acc *acc, char *extra, enum agg agg) {
    if (agg == AGG_EXP) {
        acc->pos = (struct exp_side *)extra;
        acc->neg = acc->pos + 1;
        acc->scale = METRIC_EXP_MAX_SCALE;
    } else {
        acc->buckets = (uint64_t *)extra;
    }
}

static size_t hist_extra(const struct metric_instrument *m) {
    return m->agg == AGG_EXP ? 2 * sizeof(struct exp_side) : (m->nbounds + 1) * sizeof(uint64_t);
}

static void hist_clear(struct hist_acc *a, const struct metric_instrument *m) {
    a->count = 0;
    a->sum = 0;
    a->min = INFINITY;
    a->max = -INFINITY;
    a->zero_count = 0;
    if (m->agg == AGG_EXP) {
        a->scale = METRIC_EXP_MAX_SCALE;
        a->pos->len = a->neg->len = 0;
        a->pos->offset = a->neg->offset = 0;
    } else {
        memset(a->buckets, 0, (m->nbounds + 1) * sizeof(uint64_t));
    }
}

static void *stripe_at(const struct metric_instrument *m, const struct series *s, uint32_t i) {
    return s->stripes + (size_t)i * m->stripe_size;
}

static void series_init_stripes(struct metric_instrument *m, struct series *s) {
    for (uint32_t i = 0; i < hot.stripe_count; i++) {
        char *p = stripe_at(m, s, i);
        memset(p, 0, m->stripe_size);
        if (m->agg == AGG_HIST || m->agg == AGG_EXP) {
            struct hist_stripe *h = (struct hist_stripe *)p;
            hist_layout(&h->acc, p + align_up(sizeof *h, 8), m->agg);
            hist_clear(&h->acc, m);
        }
    }
}

/* A new series for the canonical set c (n), strings copied. */
static struct series *series_new(struct metric_instrument *m, const struct attr *c, uint32_t n,
                                 uint64_t hash) {
    size_t strings = 0;
    for (uint32_t i = 0; i < n; i++)
        strings += c[i].key.len + 1 + value_bytes(&c[i].value);
    size_t head = align_up(sizeof(struct series), CACHE_LINE);
    size_t stripes = m->stripe_size * (m->agg == AGG_LAST ? 0 : hot.stripe_count);
    size_t attrs_off = head + stripes;
    size_t size = align_up(attrs_off + n * sizeof(struct attr) + strings, CACHE_LINE);
    char *mem = aligned_alloc(CACHE_LINE, size);
    if (!mem) return NULL;
    struct series *s = (struct series *)mem;
    memset(s, 0, sizeof *s);
    s->hash = hash;
    s->owner = m;
    s->stripes = mem + head;
    struct attr *a = (struct attr *)(mem + attrs_off);
    char *cur = (char *)(a + n);
    for (uint32_t i = 0; i < n; i++) {
        a[i] = c[i];
        copy_str(&cur, c[i].key, &a[i].key);
        if (c[i].value.type == ATTR_STRING) {
            copy_str(&cur, c[i].value.u.s, &a[i].value.u.s);
        } else if (c[i].value.type == ATTR_STRING_ARRAY) {
            cur = (char *)align_up((uintptr_t)cur, 8);
            struct str *items = (struct str *)cur;
            cur += c[i].value.u.arr.count * sizeof(struct str);
            for (uint32_t j = 0; j < c[i].value.u.arr.count; j++)
                copy_str(&cur, c[i].value.u.arr.items[j], &items[j]);
            a[i].value.u.arr.items = items;
        }
    }
    s->attrs = a;
    s->nattrs = n;
    s->start_ns = clock_now_ns();
    if (m->agg != AGG_LAST) series_init_stripes(m, s);
    return s;
}

static void series_free(struct series *s) {
    if (!s) return;
    free(s->cum);
    free(s);
}

static struct series *overflow_series(struct metric_instrument *m) {
    struct series *s = atomic_load_explicit(&m->overflow, memory_order_acquire);
    if (s) return s;
    struct attr a = {str_of("otel.metric.overflow", 20), {.type = ATTR_BOOL, .u.b = true}};
    struct series *fresh = series_new(m, &a, 1, hash_attrs(&a, 1));
    if (!fresh) return NULL;
    if (!atomic_compare_exchange_strong(&m->overflow, &s, fresh)) {
        series_free(fresh);
        return s;
    }
    return fresh;
}

static struct series *probe(struct metric_instrument *m, uint64_t h, const struct attr *a,
                            uint32_t n, uint32_t *slot) {
    uint32_t i = (uint32_t)h & m->mask;
    for (;;) {
        struct series *s = atomic_load_explicit(&m->table[i], memory_order_acquire);
        if (!s) {
            *slot = i;
            return NULL;
        }
        if (s->hash == h && attrs_match(s, a, n)) return s;
        i = (i + 1) & m->mask;
    }
}

/* The slow path: canonical form, a second look, then a new series (or the
 * overflow series past the limit). */
static __attribute__((noinline)) struct series *series_make(struct metric_instrument *m,
                                                            const struct attr *attrs, uint32_t n) {
    struct attr small[16] = {0}; /* (GCC -O2 sees the sort read it) */
    struct attr *c = n <= 16 ? small : malloc(n * sizeof *c);
    if (!c) return NULL;
    uint32_t cn = canonical(attrs, n, c);
    uint64_t h = hash_attrs(c, cn);
    uint32_t slot;
    struct series *s = probe(m, h, c, cn, &slot);
    if (s) goto out;
    /* Past the limit, a look (no write to the shared line) is enough. */
    if (atomic_load_explicit(&m->nseries, memory_order_relaxed) >= m->limit - 1) {
        s = overflow_series(m);
        goto out;
    }
    if (atomic_fetch_add(&m->nseries, 1) >= m->limit - 1) {
        atomic_fetch_sub(&m->nseries, 1);
        s = overflow_series(m);
        goto out;
    }
    struct series *fresh = series_new(m, c, cn, h);
    if (!fresh) {
        atomic_fetch_sub(&m->nseries, 1);
        goto out;
    }
    for (;;) {
        struct series *expected = NULL;
        if (atomic_compare_exchange_strong(&m->table[slot], &expected, fresh)) {
            s = fresh;
            break;
        }
        if (expected->hash == h && attrs_match(expected, c, cn)) {
            /* Another thread made it first. */
            atomic_fetch_sub(&m->nseries, 1);
            series_free(fresh);
            s = expected;
            break;
        }
        s = probe(m, h, c, cn, &slot);
        if (s) {
            atomic_fetch_sub(&m->nseries, 1);
            series_free(fresh);
            break;
        }
    }
out:
    if (c != small) free(c);
    return s;
}

/* The thread's last series of an instrument, in a few slots by the
 * instrument's serial: a measurement with the same attributes as the
 * thread's last one on that instrument (the common case: a call site
 * records the same set again and again) compares them with the series and
 * skips the hash and the table. Thread-local, so nothing shared is
 * written. An entry is written serial 0 first and its serial last, and a
 * hit checks the series' owner too: a signal handler recording between
 * those stores leaves at worst a miss, never another instrument's series.
 * Serials are never reused, so an entry of an instrument metrics_reset
 * freed never matches (its series is not even read). */
#define THREAD_CACHE 8
struct cache_entry {
    uint64_t serial;
    struct series *s;
};
static _Thread_local struct cache_entry tls_cache[THREAD_CACHE]
    __attribute__((tls_model("initial-exec")));

static inline void cache_put(struct cache_entry *e, const struct metric_instrument *m,
                             struct series *s) {
    e->serial = 0;
    atomic_signal_fence(memory_order_seq_cst);
    e->s = s;
    atomic_signal_fence(memory_order_seq_cst);
    e->serial = m->serial;
}

static inline struct series *series_of(struct metric_instrument *m, const struct attr *attrs,
                                       uint32_t n) {
    struct cache_entry *e = &tls_cache[m->serial & (THREAD_CACHE - 1)];
    if (e->serial == m->serial && n <= 64) {
        atomic_signal_fence(memory_order_seq_cst);
        struct series *s = e->s;
        if (s->owner == m && attrs_match(s, attrs, n)) return s;
    }
    uint64_t h = hash_attrs(attrs, n);
    uint32_t i = (uint32_t)h & m->mask;
    struct series *s;
    for (;;) {
        s = atomic_load_explicit(&m->table[i], memory_order_acquire);
        if (!s) break;
        if (s->hash == h && attrs_match(s, attrs, n)) goto found;
        i = (i + 1) & m->mask;
    }
    s = series_make(m, attrs, n);
    /* The overflow series stands for many sets: not remembered for one. */
    if (!s || s == atomic_load_explicit(&m->overflow, memory_order_relaxed)) return s;
found:
    cache_put(e, m, s);
    return s;
}

/* ---- Instruments. ---- */

static bool name_valid(const char *s) {
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 255) return false;
    if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z'))) return false;
    for (size_t i = 1; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-' || c == '/'))
            return false;
    }
    return true;
}

static bool same(const char *a, const char *b) {
    return strcmp(a ? a : "", b ? b : "") == 0;
}

static enum metric_temporality temporality_of(enum metric_kind k) {
    bool monotonic_delta = k == METRIC_COUNTER || k == METRIC_HISTOGRAM;
    switch (hot.opts.temporality) {
    case TEMPORALITY_DELTA:
        return monotonic_delta || k == METRIC_OBSERVABLE_COUNTER ? AGG_TEMPORALITY_DELTA
                                                                 : AGG_TEMPORALITY_CUMULATIVE;
    case TEMPORALITY_LOWMEMORY:
        return monotonic_delta ? AGG_TEMPORALITY_DELTA : AGG_TEMPORALITY_CUMULATIVE;
    default:
        return AGG_TEMPORALITY_CUMULATIVE;
    }
}

static char *dup_opt(const char *s) {
    return s ? strdup(s) : NULL;
}

static void instrument_free(struct metric_instrument *m) {
    if (!m) return;
    if (m->table) {
        for (uint32_t i = 0; i <= m->mask; i++)
            series_free(atomic_load(&m->table[i]));
        munmap(m->table, (m->mask + 1) * sizeof *m->table);
    }
    series_free(atomic_load(&m->overflow));
    free(m->name);
    free(m->unit);
    free(m->description);
    free(m->scope);
    free(m->scope_version);
    free(m->bounds);
    free(m);
}

static struct metric_instrument *instrument_make(const struct metric_desc *d) {
    stripes_decide(d->kind);
    struct metric_instrument *m =
        aligned_alloc(CACHE_LINE, align_up(sizeof(struct metric_instrument), CACHE_LINE));
    if (!m) return NULL;
    memset(m, 0, sizeof *m);
    m->serial = atomic_fetch_add(&next_serial, 1) + 1;
    m->kind = d->kind;
    m->number = d->number;
    m->name = strdup(d->name);
    m->unit = dup_opt(d->unit);
    m->description = dup_opt(d->description);
    m->scope = strdup(d->scope ? d->scope : "otel-preload");
    m->scope_version =
        dup_opt(d->scope_version ? d->scope_version : (d->scope ? NULL : OTELP_VERSION));
    m->temporality = temporality_of(d->kind);
    switch (d->kind) {
    case METRIC_GAUGE:
    case METRIC_OBSERVABLE_GAUGE:
        m->agg = AGG_LAST;
        break;
    case METRIC_HISTOGRAM:
        m->agg = hot.opts.histogram == HISTOGRAM_EXPONENTIAL ? AGG_EXP : AGG_HIST;
        break;
    default:
        m->agg = AGG_SUM;
    }
    if (m->agg == AGG_HIST) {
        const double *b = d->boundaries ? d->boundaries : default_bounds;
        uint32_t nb = d->boundaries ? d->nboundaries
                                    : (uint32_t)(sizeof default_bounds / sizeof *default_bounds);
        for (uint32_t i = 1; i < nb; i++)
            if (!(b[i] > b[i - 1])) {
                diag_warn("histogram %s: boundaries not increasing, using the defaults", d->name);
                b = default_bounds;
                nb = (uint32_t)(sizeof default_bounds / sizeof *default_bounds);
                break;
            }
        m->bounds = malloc((nb ? nb : 1) * sizeof(double));
        if (m->bounds) memcpy(m->bounds, b, nb * sizeof(double));
        m->nbounds = nb;
    }
    if (m->agg == AGG_SUM)
        m->stripe_size = align_up(sizeof(struct sum_stripe), CACHE_LINE);
    else if (m->agg != AGG_LAST)
        m->stripe_size =
            align_up(align_up(sizeof(struct hist_stripe), 8) + hist_extra(m), CACHE_LINE);
    m->limit = hot.opts.cardinality_limit;
    uint32_t slots = 4;
    while (slots < 2 * m->limit)
        slots <<= 1;
    m->mask = slots - 1;
    void *t = mmap(NULL, slots * sizeof *m->table, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    m->table = t == MAP_FAILED ? NULL : t;
    if (!m->name || !m->scope || !m->table || (m->agg == AGG_HIST && !m->bounds) ||
        (d->unit && !m->unit) || (d->description && !m->description)) {
        instrument_free(m);
        return NULL;
    }
    return m;
}

struct metric_instrument *metric_instrument_new(const struct metric_desc *d) {
    if (!d || !name_valid(d->name)) {
        diag_warn("metric instrument name '%s' is not valid", d && d->name ? d->name : "");
        return NULL;
    }
    if (!metrics_start_ns) metrics_start_ns = clock_now_ns();
    lock_registry();
    struct metric_instrument *m = NULL;
    uint32_t n = atomic_load(&ninstruments);
    const char *scope = d->scope ? d->scope : "otel-preload";
    unsigned scope_id = n;
    for (uint32_t i = 0; i < n; i++) {
        struct metric_instrument *o = instruments[i];
        if (!same(o->scope, scope)) continue;
        if (scope_id == n) scope_id = o->scope_id;
        if (strcasecmp(o->name, d->name) != 0) continue;
        if (o->kind == d->kind && o->number == d->number) {
            m = o;
        } else {
            diag_warn("metric instrument '%s' already exists with another kind", d->name);
        }
        unlock_registry();
        return m;
    }
    if (n >= METRIC_MAX_INSTRUMENTS) {
        unlock_registry();
        diag_warn("too many metric instruments: '%s' not made", d->name);
        return NULL;
    }
    m = instrument_make(d);
    if (m) {
        m->scope_id = scope_id;
        instruments[n] = m;
        atomic_store_explicit(&ninstruments, n + 1, memory_order_release);
    }
    unlock_registry();
    return m;
}

bool metrics_any(void) {
    return atomic_load_explicit(&ninstruments, memory_order_acquire) != 0;
}

uint64_t metrics_dropped(void) {
    return atomic_load(&dropped);
}

int metric_add_callback(struct metric_instrument *m,
                        void (*cb)(struct metric_observer *obs, void *ctx), void *ctx) {
    if (!m || !cb || m->kind < METRIC_OBSERVABLE_COUNTER) return -EINVAL;
    lock_registry();
    uint32_t n = atomic_load(&m->ncallbacks);
    if (n >= MAX_CALLBACKS) {
        unlock_registry();
        return -ENOSPC;
    }
    m->callbacks[n] = (struct callback){cb, ctx};
    atomic_store_explicit(&m->ncallbacks, n + 1, memory_order_release);
    unlock_registry();
    return 0;
}

/* ---- Recording. ---- */

static inline const char *thread_pointer(void) {
#if defined(__x86_64__)
    const char *tp;
    __asm__("mov %%fs:0, %0" : "=r"(tp));
    return tp;
#else
    return __builtin_thread_pointer();
#endif
}

/* The stripe of the CPU the thread runs on (per-CPU accumulation: two
 * threads on two CPUs never write one cache line), read from the rseq
 * area; without one, a stripe per thread, round robin. A thread that
 * migrates between the read and the add shares a stripe for one add:
 * the add is atomic, so that costs time, never a count. */
static inline uint32_t my_stripe(void) {
    if (__builtin_expect(hot.rseq_cpu_off != 0, 1)) {
        uint32_t cpu = *(const volatile uint32_t *)(thread_pointer() + hot.rseq_cpu_off);
        if (__builtin_expect(cpu < 0x80000000u, 1)) return cpu & (hot.stripe_count - 1);
    }
    uint32_t s = tls_stripe;
    if (__builtin_expect(!s, 0)) {
        s = atomic_fetch_add_explicit(&next_stripe, 1, memory_order_relaxed) + 1;
        tls_stripe = s;
    }
    return (s - 1) & (hot.stripe_count - 1);
}

static inline uint64_t next_random(void) {
    uint64_t x = tls_rng;
    if (__builtin_expect(!x, 0)) x = ids_random_u64() | 1;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    tls_rng = x;
    return x;
}

/* A one-slot reservoir's draw: the n-th measurement offered in an
 * interval replaces the kept one with probability 1/n (multiply and shift,
 * not a division). Counted with a load and a store, not a locked add, and
 * before any lock: most offers end here. Two recorders racing on one
 * count (a migration, a signal handler) only skew the odds a little. */
static inline bool offer_draw(struct ex_slot *x) {
    uint32_t n = atomic_load_explicit(&x->seen, memory_order_relaxed) + 1;
    atomic_store_explicit(&x->seen, n, memory_order_relaxed);
    return n == 1 || ((next_random() >> 32) * n) >> 32 == 0;
}

/* Keeps a measurement that won the draw (the caller holds the slot's
 * lock). */
static void offer_keep(struct ex_slot *x, const struct span_context *ctx, int64_t iv, double dv,
                       bool is_double) {
    x->has = true;
    x->e.time_ns = clock_now_ns();
    if (is_double)
        x->e.value.d = dv;
    else
        x->e.value.i = iv;
    if (ctx) {
        memcpy(x->e.trace_id, ctx->trace_id, 16);
        memcpy(x->e.span_id, ctx->span_id, 8);
    } else {
        memset(x->e.trace_id, 0, 16);
        memset(x->e.span_id, 0, 8);
    }
}

/* Whether the measurement is offered to the reservoir (the filter), and
 * the context it carries. */
static inline bool exemplar_wanted(struct span_context *ctx, bool *has_ctx) {
    *has_ctx = false;
    if (hot.opts.exemplars == EXEMPLAR_ALWAYS_OFF) return false;
    if (hot.opts.current_context && hot.opts.current_context(ctx)) *has_ctx = true;
    if (hot.opts.exemplars == EXEMPLAR_ALWAYS_ON) return true;
    return *has_ctx && (ctx->flags & TRACE_FLAG_SAMPLED);
}

static inline void touch(struct series *s) {
    if (!atomic_load_explicit(&s->touched, memory_order_relaxed))
        atomic_store_explicit(&s->touched, 1, memory_order_relaxed);
}

static void hist_record(struct hist_acc *a, const struct metric_instrument *m, double v);

static void measure(struct metric_instrument *m, int64_t iv, double dv, const struct attr *attrs,
                    uint32_t n) {
    bool is_double = m->number == METRIC_DOUBLE;
    struct series *s = series_of(m, attrs, n);
    if (!s) {
        atomic_fetch_add_explicit(&dropped, 1, memory_order_relaxed);
        return;
    }
    if (m->agg == AGG_LAST) {
        uint64_t bits;
        if (is_double)
            memcpy(&bits, &dv, 8);
        else
            bits = (uint64_t)iv;
        atomic_store_explicit(&s->gauge_bits, bits, memory_order_relaxed);
        atomic_store_explicit(&s->touched, 1, memory_order_release);
        return;
    }
    uint32_t st = my_stripe();
    struct span_context ctx;
    bool has_ctx;
    if (m->agg == AGG_SUM) {
        struct sum_stripe *p = stripe_at(m, s, st);
        if (is_double) {
            uint64_t old = atomic_load_explicit(&p->bits, memory_order_relaxed), nbits;
            do {
                double d;
                memcpy(&d, &old, 8);
                d += dv;
                memcpy(&nbits, &d, 8);
            } while (!atomic_compare_exchange_weak_explicit(
                &p->bits, &old, nbits, memory_order_relaxed, memory_order_relaxed));
        } else {
            atomic_fetch_add_explicit(&p->bits, (uint64_t)iv, memory_order_relaxed);
        }
        touch(s);
        if (__builtin_expect(exemplar_wanted(&ctx, &has_ctx), 0) && offer_draw(&p->ex)) {
            if (!atomic_exchange_explicit(&p->ex_lock, 1, memory_order_acquire)) {
                /* (seen 0: a collection came between: the draw was for
                 * the interval it closed) */
                if (atomic_load_explicit(&p->ex.seen, memory_order_relaxed))
                    offer_keep(&p->ex, has_ctx ? &ctx : NULL, iv, dv, is_double);
                atomic_store_explicit(&p->ex_lock, 0, memory_order_release);
            }
        }
        return;
    }
    double v = is_double ? dv : (double)iv;
    for (uint32_t k = 0; k < hot.stripe_count; k++) {
        struct hist_stripe *p = stripe_at(m, s, (st + k) & (hot.stripe_count - 1));
        if (atomic_exchange_explicit(&p->lock, 1, memory_order_acquire)) continue;
        hist_record(&p->acc, m, v);
        if (__builtin_expect(exemplar_wanted(&ctx, &has_ctx), 0) && offer_draw(&p->ex))
            offer_keep(&p->ex, has_ctx ? &ctx : NULL, iv, dv, is_double);
        atomic_store_explicit(&p->lock, 0, memory_order_release);
        touch(s);
        return;
    }
    atomic_fetch_add_explicit(&dropped, 1, memory_order_relaxed);
}

static bool keep(const struct metric_instrument *m, int64_t *iv, double *dv, bool from_double) {
    if (from_double) {
        if (isnan(*dv)) return false;
        if (m->agg == AGG_HIST || m->agg == AGG_EXP) {
            if (isinf(*dv)) return false;
        }
        if (m->number == METRIC_INT) *iv = (int64_t)*dv;
    } else {
        *dv = (double)*iv;
    }
    if (m->kind == METRIC_COUNTER && (m->number == METRIC_INT ? *iv < 0 : *dv < 0)) return false;
    return m->kind <= METRIC_HISTOGRAM;
}

void metric_record_int(struct metric_instrument *m, int64_t v, const struct attr *attrs,
                       uint32_t n) {
    double d = 0;
    if (m && keep(m, &v, &d, false)) measure(m, v, d, attrs, n);
}

void metric_record_double(struct metric_instrument *m, double v, const struct attr *attrs,
                          uint32_t n) {
    int64_t i = 0;
    if (m && keep(m, &i, &v, true)) measure(m, i, v, attrs, n);
}

/* ---- Histogram aggregation. ---- */

/* v (> 0, finite) = m * 2^e with m in [1, 2); *exact: v is a power of two.
 * Bits, not frexp/log2: the shim does not load libm (a mapping more in
 * every process). */
static double decompose(double v, int32_t *e, bool *exact) {
    uint64_t b;
    memcpy(&b, &v, 8);
    int32_t be = (int32_t)((b >> 52) & 0x7ff);
    int32_t adj = 0;
    if (be == 0) { /* subnormal: scale into the normal range */
        v *= 0x1p64;
        memcpy(&b, &v, 8);
        be = (int32_t)((b >> 52) & 0x7ff);
        adj = 64;
    }
    uint64_t mant = b & ((1ull << 52) - 1);
    *exact = mant == 0;
    *e = be - 1023 - adj;
    uint64_t mb = mant | (1023ull << 52);
    double m;
    memcpy(&m, &mb, 8);
    return m;
}

/* log2(m) for m in [1, 2): ln(m) = 2 atanh((m-1)/(m+1)), with m brought
 * into [sqrt(1/2), sqrt(2)) so the series converges fast (z^2 < 0.03). */
static double log2_mant(double m, int32_t *e) {
    if (m > 1.4142135623730951) {
        m *= 0.5;
        (*e)++;
    }
    double z = (m - 1) / (m + 1), z2 = z * z, term = z, sum = 0;
    for (int k = 1; k <= 25; k += 2) {
        sum += term / k;
        term *= z2;
    }
    return 2 * sum * 1.4426950408889634; /* 1 / ln 2 */
}

int32_t metric_exp_index(double v, int32_t scale) {
    int32_t e;
    bool exact;
    double m = decompose(v, &e, &exact);
    /* Buckets are (base^i, base^(i+1)]: an exact power of two is the upper
     * bound of the bucket below. */
    if (scale <= 0) return (exact ? e - 1 : e) >> -scale;
    if (exact) return (int32_t)(((int64_t)e << scale) - 1);
    double l = log2_mant(m, &e);
    double x = ((double)e + l) * (double)(1u << scale);
    int64_t f = (int64_t)x;
    if ((double)f > x) f--;
    return (int32_t)((double)f == x ? f - 1 : f);
}

static int32_t floor_shift(int32_t i, int s) {
    return s >= 31 ? (i < 0 ? -1 : 0) : i >> s;
}

/* Coarsens side by s scale steps. */
static void side_downscale(struct exp_side *x, int s) {
    if (!x->len || s <= 0) return;
    int32_t lo = floor_shift(x->offset, s);
    uint64_t tmp[METRIC_EXP_MAX_SIZE] = {0};
    uint32_t len = 0;
    for (uint32_t i = 0; i < x->len; i++) {
        uint32_t j = (uint32_t)(floor_shift(x->offset + (int32_t)i, s) - lo);
        tmp[j] += x->counts[i];
        if (j + 1 > len) len = j + 1;
    }
    memcpy(x->counts, tmp, len * sizeof *tmp);
    x->offset = lo;
    x->len = len;
}

/* The scale steps needed for indexes lo..hi to fit in the window. */
static int shift_needed(int32_t lo, int32_t hi) {
    int s = 0;
    while ((int64_t)floor_shift(hi, s) - floor_shift(lo, s) + 1 > METRIC_EXP_MAX_SIZE)
        s++;
    return s;
}

static void exp_downscale(struct hist_acc *a, int s) {
    if (s <= 0) return;
    side_downscale(a->pos, s);
    side_downscale(a->neg, s);
    a->scale -= s;
}

/* The extra scale steps side x needs to take index idx (at its scale). */
static int side_need(const struct exp_side *x, int32_t idx) {
    if (!x->len) return 0;
    int32_t lo = x->offset < idx ? x->offset : idx;
    int32_t hi = x->offset + (int32_t)x->len - 1;
    if (idx > hi) hi = idx;
    return shift_needed(lo, hi);
}

/* Adds c to index idx (which fits, see side_need). */
static void side_add(struct exp_side *x, int32_t idx, uint64_t c) {
    if (!x->len) {
        x->offset = idx;
        x->len = 1;
        x->counts[0] = c;
        return;
    }
    if (idx < x->offset) {
        uint32_t d = (uint32_t)(x->offset - idx);
        memmove(x->counts + d, x->counts, x->len * sizeof *x->counts);
        memset(x->counts, 0, d * sizeof *x->counts);
        x->offset = idx;
        x->len += d;
    } else if (idx >= x->offset + (int32_t)x->len) {
        uint32_t end = (uint32_t)(idx - x->offset) + 1;
        memset(x->counts + x->len, 0, (end - x->len) * sizeof *x->counts);
        x->len = end;
    }
    x->counts[idx - x->offset] += c;
}

static void hist_record(struct hist_acc *a, const struct metric_instrument *m, double v) {
    a->count++;
    a->sum += v;
    if (v < a->min) a->min = v;
    if (v > a->max) a->max = v;
    if (m->agg == AGG_HIST) {
        uint32_t lo = 0, hi = m->nbounds; /* first bound >= v */
        while (lo < hi) {
            uint32_t mid = (lo + hi) / 2;
            if (v <= m->bounds[mid])
                hi = mid;
            else
                lo = mid + 1;
        }
        a->buckets[lo]++;
        return;
    }
    if (v == 0) {
        a->zero_count++;
        return;
    }
    struct exp_side *x = v > 0 ? a->pos : a->neg;
    int32_t idx = metric_exp_index(v > 0 ? v : -v, a->scale);
    int s = side_need(x, idx);
    if (s) {
        exp_downscale(a, s);
        idx = floor_shift(idx, s);
    }
    side_add(x, idx, 1);
}

/* dst += src (src may be changed: brought to a common scale). */
static void hist_merge(struct hist_acc *dst, struct hist_acc *src,
                       const struct metric_instrument *m) {
    if (!src->count) return;
    dst->count += src->count;
    dst->sum += src->sum;
    if (src->min < dst->min) dst->min = src->min;
    if (src->max > dst->max) dst->max = src->max;
    if (m->agg == AGG_HIST) {
        for (uint32_t i = 0; i <= m->nbounds; i++)
            dst->buckets[i] += src->buckets[i];
        return;
    }
    dst->zero_count += src->zero_count;
    int32_t scale = dst->scale < src->scale ? dst->scale : src->scale;
    exp_downscale(dst, dst->scale - scale);
    exp_downscale(src, src->scale - scale);
    int s = 0;
    struct exp_side *dsides[2] = {dst->pos, dst->neg}, *ssides[2] = {src->pos, src->neg};
    for (int k = 0; k < 2; k++) {
        struct exp_side *d = dsides[k], *x = ssides[k];
        if (!x->len || !d->len) continue;
        int32_t lo = d->offset < x->offset ? d->offset : x->offset;
        int32_t dh = d->offset + (int32_t)d->len - 1, xh = x->offset + (int32_t)x->len - 1;
        int need = shift_needed(lo, dh > xh ? dh : xh);
        if (need > s) s = need;
    }
    exp_downscale(dst, s);
    exp_downscale(src, s);
    for (int k = 0; k < 2; k++)
        for (uint32_t i = 0; i < ssides[k]->len; i++)
            if (ssides[k]->counts[i])
                side_add(dsides[k], ssides[k]->offset + (int32_t)i, ssides[k]->counts[i]);
}

/* ---- Observable callbacks. ---- */

static void observe(struct metric_observer *o, int64_t iv, double dv, const struct attr *attrs,
                    uint32_t n) {
    struct metric_instrument *m = o ? o->m : NULL;
    if (!m) return;
    if (isnan(dv)) return;
    struct series *s = series_of(m, attrs, n);
    if (!s) {
        atomic_fetch_add_explicit(&dropped, 1, memory_order_relaxed);
        return;
    }
    bool first = s->obs_epoch != epoch;
    bool overflow = s == atomic_load(&m->overflow);
    if (m->number == METRIC_DOUBLE) {
        s->obs.d = overflow && !first && m->agg == AGG_SUM ? s->obs.d + dv : dv;
    } else {
        s->obs.i = overflow && !first && m->agg == AGG_SUM ? s->obs.i + iv : iv;
    }
    s->obs_epoch = epoch;
}

void metric_observe_int(struct metric_observer *obs, int64_t v, const struct attr *attrs,
                        uint32_t n) {
    observe(obs, v, (double)v, attrs, n);
}

void metric_observe_double(struct metric_observer *obs, double v, const struct attr *attrs,
                           uint32_t n) {
    observe(obs, isnan(v) || isinf(v) ? 0 : (int64_t)v, v, attrs, n);
}

/* ---- Collection. ---- */

struct collector {
    struct arena *arena;
    uint64_t now;
    struct metric_point *points;
    uint32_t npoints, cap;
    bool failed;
};

static struct metric_point *new_point(struct collector *c, const struct series *s) {
    if (c->npoints == c->cap) {
        uint32_t cap = c->cap ? c->cap * 2 : 16;
        struct metric_point *p = realloc(c->points, cap * sizeof *p);
        if (!p) {
            c->failed = true;
            return NULL;
        }
        c->points = p;
        c->cap = cap;
    }
    struct metric_point *p = &c->points[c->npoints++];
    memset(p, 0, sizeof *p);
    p->attrs = s->attrs;
    p->nattrs = s->nattrs;
    p->time_ns = c->now;
    return p;
}

static void take_exemplar(struct collector *c, struct metric_point *p, struct ex_slot *x) {
    if (!x->has) {
        atomic_store_explicit(&x->seen, 0, memory_order_relaxed);
        return;
    }
    struct metric_exemplar *e =
        arena_alloc(c->arena, (p->nexemplars + 1) * sizeof(struct metric_exemplar));
    if (e) {
        if (p->nexemplars) memcpy(e, p->exemplars, p->nexemplars * sizeof *e);
        e[p->nexemplars++] = x->e;
        p->exemplars = e;
    }
    x->has = false;
    atomic_store_explicit(&x->seen, 0, memory_order_relaxed);
}

static uint64_t start_of(const struct metric_instrument *m, const struct series *s) {
    if (m->temporality == AGG_TEMPORALITY_DELTA)
        return m->last_collect_ns > s->start_ns ? m->last_collect_ns : s->start_ns;
    return s->start_ns;
}

static void collect_sum(struct collector *c, struct metric_instrument *m, struct series *s) {
    bool is_double = m->number == METRIC_DOUBLE;
    bool touched = atomic_exchange(&s->touched, 0);
    int64_t iv = 0;
    double dv = 0;
    for (uint32_t i = 0; i < hot.stripe_count; i++) {
        struct sum_stripe *p = stripe_at(m, s, i);
        uint64_t b = atomic_exchange_explicit(&p->bits, 0, memory_order_relaxed);
        double d;
        memcpy(&d, &b, 8);
        if (is_double)
            dv += d;
        else
            iv += (int64_t)b;
    }
    if (is_double)
        s->total.d += dv;
    else
        s->total.i += iv;
    if (touched) s->has_value = true;
    bool delta = m->temporality == AGG_TEMPORALITY_DELTA;
    if (delta ? !touched : !s->has_value) return;
    struct metric_point *p = new_point(c, s);
    if (!p) return;
    p->start_ns = start_of(m, s);
    if (is_double)
        p->value.d = delta ? dv : s->total.d;
    else
        p->value.i = delta ? iv : s->total.i;
    for (uint32_t i = 0; i < hot.stripe_count; i++) {
        struct sum_stripe *st = stripe_at(m, s, i);
        if (atomic_exchange_explicit(&st->ex_lock, 1, memory_order_acquire)) continue;
        take_exemplar(c, p, &st->ex);
        atomic_store_explicit(&st->ex_lock, 0, memory_order_release);
    }
}

static void collect_observed(struct collector *c, struct metric_instrument *m, struct series *s) {
    if (s->obs_epoch != epoch) return;
    if (s->start_ns > c->now) s->start_ns = c->now; /* made by this collection's callback */
    struct metric_point *p = new_point(c, s);
    if (!p) return;
    bool is_double = m->number == METRIC_DOUBLE;
    if (m->agg == AGG_LAST) {
        p->value.i = s->obs.i; /* the union's bits: int or double alike */
        p->start_ns = s->start_ns;
        return;
    }
    if (m->temporality == AGG_TEMPORALITY_DELTA) {
        p->start_ns = start_of(m, s);
        if (is_double)
            p->value.d = s->obs.d - (s->has_value ? s->total.d : 0);
        else
            p->value.i = s->obs.i - (s->has_value ? s->total.i : 0);
    } else {
        p->start_ns = s->start_ns;
        p->value.i = s->obs.i;
    }
    s->total = s->obs;
    s->has_value = true;
}

static void collect_gauge(struct collector *c, struct metric_instrument *m, struct series *s) {
    bool touched = atomic_exchange_explicit(&s->touched, 0, memory_order_acquire);
    if (touched) s->has_value = true;
    if (m->temporality == AGG_TEMPORALITY_DELTA ? !touched : !s->has_value) return;
    struct metric_point *p = new_point(c, s);
    if (!p) return;
    uint64_t b = atomic_load_explicit(&s->gauge_bits, memory_order_relaxed);
    if (m->number == METRIC_DOUBLE)
        memcpy(&p->value.d, &b, 8);
    else
        p->value.i = (int64_t)b;
    p->start_ns = start_of(m, s);
}

/* A histogram accumulation with its own storage, from malloc or the arena. */
static struct hist_acc *hist_new(const struct metric_instrument *m, struct arena *a) {
    size_t size = align_up(sizeof(struct hist_acc), 8) + hist_extra(m);
    char *mem = a ? arena_alloc(a, size) : malloc(size);
    if (!mem) return NULL;
    struct hist_acc *h = (struct hist_acc *)mem;
    memset(h, 0, sizeof *h);
    hist_layout(h, mem + align_up(sizeof *h, 8), m->agg);
    hist_clear(h, m);
    return h;
}

static void spin_lock(_Atomic uint32_t *l) {
    for (unsigned i = 0; atomic_exchange_explicit(l, 1, memory_order_acquire); i++)
        if (i > 64) sched_yield();
}

static void export_exp_side(struct collector *c, struct exp_buckets *out,
                            const struct exp_side *x) {
    out->offset = x->offset;
    out->count = x->len;
    if (!x->len) return;
    uint64_t *counts = arena_alloc(c->arena, x->len * sizeof *counts);
    if (!counts) {
        c->failed = true;
        out->count = 0;
        return;
    }
    memcpy(counts, x->counts, x->len * sizeof *counts);
    out->counts = counts;
}

static void collect_hist(struct collector *c, struct metric_instrument *m, struct series *s) {
    bool touched = atomic_exchange(&s->touched, 0);
    bool delta = m->temporality == AGG_TEMPORALITY_DELTA;
    struct hist_acc *d = hist_new(m, c->arena);
    if (!d) {
        c->failed = true;
        return;
    }
    /* Stripes' snapshots, taken and cleared under their locks. */
    struct metric_exemplar ex[MAX_STRIPES];
    uint32_t nex = 0;
    for (uint32_t i = 0; i < hot.stripe_count; i++) {
        struct hist_stripe *p = stripe_at(m, s, i);
        spin_lock(&p->lock);
        if (p->acc.count) {
            hist_merge(d, &p->acc, m);
            hist_clear(&p->acc, m);
        }
        if (p->ex.has) ex[nex++] = p->ex.e;
        p->ex.has = false;
        atomic_store_explicit(&p->ex.seen, 0, memory_order_relaxed);
        atomic_store_explicit(&p->lock, 0, memory_order_release);
    }
    const struct hist_acc *out = d;
    if (!delta) {
        if (!s->cum) s->cum = hist_new(m, NULL);
        if (!s->cum) {
            c->failed = true;
            return;
        }
        hist_merge(s->cum, d, m);
        out = s->cum;
        if (touched) s->has_value = true;
        if (!s->has_value) return;
    } else if (!touched && !d->count) {
        return;
    }
    struct metric_point *p = new_point(c, s);
    if (!p) return;
    p->start_ns = start_of(m, s);
    p->count = out->count;
    p->sum = out->sum;
    p->min = out->count ? out->min : 0;
    p->max = out->count ? out->max : 0;
    if (m->agg == AGG_HIST) {
        uint64_t *b = arena_alloc(c->arena, (m->nbounds + 1) * sizeof *b);
        if (!b) {
            c->failed = true;
            c->npoints--;
            return;
        }
        memcpy(b, out->buckets, (m->nbounds + 1) * sizeof *b);
        p->bucket_counts = b;
    } else {
        p->scale = out->scale;
        p->zero_count = out->zero_count;
        export_exp_side(c, &p->positive, out->pos);
        export_exp_side(c, &p->negative, out->neg);
    }
    if (nex) {
        struct metric_exemplar *e = arena_alloc(c->arena, nex * sizeof *e);
        if (e) {
            memcpy(e, ex, nex * sizeof *e);
            p->exemplars = e;
            p->nexemplars = nex;
        }
    }
}

static void collect_series(struct collector *c, struct metric_instrument *m, struct series *s) {
    if (m->kind >= METRIC_OBSERVABLE_COUNTER)
        collect_observed(c, m, s);
    else if (m->agg == AGG_SUM)
        collect_sum(c, m, s);
    else if (m->agg == AGG_LAST)
        collect_gauge(c, m, s);
    else
        collect_hist(c, m, s);
}

static struct str str_opt(const char *s) {
    return s ? str_cstr(s) : str_of("", 0);
}

static struct metric_data *collect_instrument(struct collector *c, struct metric_instrument *m) {
    uint32_t ncb = atomic_load_explicit(&m->ncallbacks, memory_order_acquire);
    struct metric_observer obs = {m};
    for (uint32_t i = 0; i < ncb; i++)
        m->callbacks[i].fn(&obs, m->callbacks[i].ctx);
    c->npoints = 0;
    for (uint32_t i = 0; i <= m->mask; i++) {
        struct series *s = atomic_load_explicit(&m->table[i], memory_order_acquire);
        if (s) collect_series(c, m, s);
    }
    struct series *o = atomic_load_explicit(&m->overflow, memory_order_acquire);
    if (o) collect_series(c, m, o);
    m->last_collect_ns = c->now;
    if (!c->npoints) return NULL;
    struct metric_data *d = arena_alloc(c->arena, sizeof *d);
    struct metric_point *pts = arena_alloc(c->arena, c->npoints * sizeof *pts);
    if (!d || !pts) {
        c->failed = true;
        return NULL;
    }
    memcpy(pts, c->points, c->npoints * sizeof *pts);
    memset(d, 0, sizeof *d);
    d->name = str_cstr(m->name);
    d->unit = str_opt(m->unit);
    d->description = str_opt(m->description);
    d->scope = str_cstr(m->scope);
    d->scope_version = str_opt(m->scope_version);
    d->number = m->number;
    d->temporality = m->temporality;
    d->points = pts;
    d->npoints = c->npoints;
    switch (m->agg) {
    case AGG_SUM:
        d->type = METRIC_DATA_SUM;
        d->monotonic = m->kind == METRIC_COUNTER || m->kind == METRIC_OBSERVABLE_COUNTER;
        break;
    case AGG_LAST:
        d->type = METRIC_DATA_GAUGE;
        break;
    case AGG_HIST:
        d->type = METRIC_DATA_HISTOGRAM;
        d->boundaries = m->bounds;
        d->nboundaries = m->nbounds;
        break;
    case AGG_EXP:
        d->type = METRIC_DATA_EXP_HISTOGRAM;
        break;
    }
    return d;
}

int metrics_collect(struct metric_batch *out, uint64_t now_ns) {
    memset(out, 0, sizeof *out);
    arena_init(&out->arena, NULL, 0);
    uint32_t n = atomic_load_explicit(&ninstruments, memory_order_acquire);
    if (!n) return 0;
    out->items = malloc(n * sizeof *out->items);
    if (!out->items) return -ENOMEM;
    struct collector c = {.arena = &out->arena, .now = now_ns};
    epoch++;
    if (!epoch) epoch = 1;
    /* Grouped by scope: instruments of the first scope first. */
    unsigned done_scopes[METRIC_MAX_INSTRUMENTS];
    uint32_t nscopes = 0;
    for (uint32_t i = 0; i < n; i++) {
        unsigned sid = instruments[i]->scope_id;
        bool seen = false;
        for (uint32_t k = 0; k < nscopes && !seen; k++)
            seen = done_scopes[k] == sid;
        if (seen) continue;
        done_scopes[nscopes++] = sid;
        for (uint32_t j = i; j < n; j++) {
            if (instruments[j]->scope_id != sid) continue;
            struct metric_data *d = collect_instrument(&c, instruments[j]);
            if (d) out->items[out->n++] = d;
        }
    }
    free(c.points);
    if (c.failed && !out->n) {
        metric_batch_release(out);
        return -ENOMEM;
    }
    return 0;
}

void metric_batch_release(struct metric_batch *b) {
    free(b->items);
    arena_release(&b->arena);
    b->items = NULL;
    b->n = 0;
}

void metrics_reset(void) {
    uint32_t n = atomic_load(&ninstruments);
    for (uint32_t i = 0; i < n; i++) {
        instrument_free(instruments[i]);
        instruments[i] = NULL;
    }
    atomic_store(&ninstruments, 0);
    atomic_store(&dropped, 0);
    atomic_store(&reg_lock, 0);
    metrics_start_ns = 0;
}

void metrics_after_fork_child(void) {
    atomic_store(&reg_lock, 0);
    atomic_store(&dropped, 0);
    uint64_t now = clock_now_ns();
    metrics_start_ns = now;
    uint32_t n = atomic_load(&ninstruments);
    for (uint32_t i = 0; i < n; i++) {
        struct metric_instrument *m = instruments[i];
        m->last_collect_ns = 0;
        for (uint32_t j = 0; j <= m->mask + 1; j++) {
            struct series *s = j <= m->mask ? atomic_load(&m->table[j]) : atomic_load(&m->overflow);
            if (!s) continue;
            atomic_store(&s->touched, 0);
            s->start_ns = now;
            s->has_value = false;
            s->total.i = 0;
            s->obs_epoch = 0;
            if (s->cum) hist_clear(s->cum, m);
            if (m->agg != AGG_LAST) series_init_stripes(m, s);
        }
    }
}
