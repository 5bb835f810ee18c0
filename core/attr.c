/* attr: attribute lists, limits and the record arena. See attr.h. */
#include "core/cold.h"
#include "core/attr.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct arena_chunk {
    struct arena_chunk *next;
    max_align_t align[];
};

#define ALIGN 8u

/* arena_alloc past the reserved space (size aligned): a malloc'd chunk. */
static __attribute__((noinline)) void *alloc_chunk(struct arena *a, size_t size) {
    if (a->no_malloc) return NULL;
    size_t chunk = size > 1024 ? size : 1024;
    struct arena_chunk *c = malloc(sizeof *c + chunk);
    if (!c) return NULL;
    c->next = a->overflow;
    a->overflow = c;
    a->cur = (char *)c->align + size;
    a->end = (char *)c->align + chunk;
    return c->align;
}

void *arena_alloc(struct arena *a, size_t size) {
    size = (size + ALIGN - 1) & ~(size_t)(ALIGN - 1);
    if ((size_t)(a->end - a->cur) < size) return alloc_chunk(a, size);
    void *p = a->cur;
    a->cur += size;
    return p;
}

void arena_release(struct arena *a) {
    struct arena_chunk *c = a->overflow;
    while (c) {
        struct arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    a->overflow = NULL;
    a->cur = a->end = NULL;
}

size_t utf8_truncate(const char *s, size_t len, size_t limit) {
    if (len <= limit) return len;
    size_t n = limit;
    /* Step back over continuation bytes so a sequence is never split. */
    while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
        n--;
    return n;
}

size_t utf8_seq(const unsigned char *s, size_t left) {
    unsigned c = s[0];
    size_t n;
    uint32_t min;
    if (c < 0x80) return 1;
    if ((c & 0xe0) == 0xc0)
        n = 2, min = 0x80;
    else if ((c & 0xf0) == 0xe0)
        n = 3, min = 0x800;
    else if ((c & 0xf8) == 0xf0)
        n = 4, min = 0x10000;
    else
        return 0;
    if (n > left) return 0;
    uint32_t cp = c & (0x7fu >> n);
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    return n;
}

bool utf8_valid(const char *str, size_t len) {
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    /* ASCII, eight bytes at a time. */
    for (uint64_t w; i + 8 <= len; i += 8) {
        memcpy(&w, s + i, 8);
        if (w & 0x8080808080808080ull) break;
    }
    while (i < len) {
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        size_t n = utf8_seq(s + i, len - i);
        if (!n) return false;
        i += n;
    }
    return true;
}

size_t utf8_sanitized_len(const char *str, size_t len) {
    const unsigned char *s = (const unsigned char *)str;
    size_t out = 0;
    for (size_t i = 0; i < len;) {
        size_t n = utf8_seq(s + i, len - i);
        out += n ? n : 3;
        i += n ? n : 1;
    }
    return out;
}

size_t utf8_sanitize(char *dst, size_t cap, const char *str, size_t len) {
    static const char replacement[3] = {(char)0xef, (char)0xbf, (char)0xbd};
    const unsigned char *s = (const unsigned char *)str;
    size_t out = 0;
    for (size_t i = 0; i < len;) {
        size_t n = utf8_seq(s + i, len - i);
        const char *from = n ? (const char *)s + i : replacement;
        size_t w = n ? n : 3;
        if (out + w > cap) break;
        memcpy(dst + out, from, w);
        out += w;
        i += n ? n : 1;
    }
    return out;
}

size_t utf8_sanitize_in_place(char *buf, size_t len, size_t cap) {
    static const char replacement[3] = {(char)0xef, (char)0xbf, (char)0xbd};
    /* Move the bytes to the end of the room and rewrite them forward: the
     * writer never passes the reader. */
    size_t rd = cap - len, wr = 0;
    memmove(buf + rd, buf, len);
    while (rd < cap) {
        size_t n = utf8_seq((const unsigned char *)buf + rd, cap - rd);
        if (n) {
            memmove(buf + wr, buf + rd, n);
            wr += n;
            rd += n;
        } else {
            if (wr + 3 > rd + 1) break;
            memcpy(buf + wr, replacement, 3);
            wr += 3;
            rd++;
        }
    }
    return wr;
}

size_t utf8_complete_prefix(const char *str, size_t len) {
    const unsigned char *s = (const unsigned char *)str;
    size_t i = len;
    while (i > 0 && len - i < 3 && (s[i - 1] & 0xc0) == 0x80)
        i--;
    if (i == 0 || s[i - 1] < 0xc0) return len; /* ends on ASCII or stray bytes */
    unsigned c = s[i - 1];
    size_t need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
    return len - (i - 1) < need ? i - 1 : len;
}

/* arena_strdup's body, inlined into attrs_put: two copies an attribute. */
static inline __attribute__((always_inline)) int strdup_in(struct arena *a, struct str in,
                                                           uint32_t limit, struct str *out) {
    size_t len = utf8_truncate(in.ptr, in.len, limit);
    char *p = arena_alloc(a, len + 1);
    if (!p) return -ENOMEM;
    copy_short(p, in.ptr, len);
    p[len] = '\0';
    *out = str_of(p, len);
    return 0;
}

int arena_strdup(struct arena *a, struct str in, uint32_t limit, struct str *out) {
    return strdup_in(a, in, limit, out);
}

static int grow_to(struct attr_list *l, struct arena *a, uint32_t want) {
    uint32_t cap = l->cap ? l->cap * 2 : 8;
    if (cap < want) cap = want;
    struct attr *items = arena_alloc(a, cap * sizeof *items);
    if (!items) return -ENOMEM;
    if (l->count) memcpy(items, l->items, l->count * sizeof *items);
    l->items = items;
    l->cap = cap;
    return 0;
}

static inline int grow(struct attr_list *l, struct arena *a, uint32_t want) {
    return want <= l->cap ? 0 : grow_to(l, a, want);
}

int attrs_reserve(struct attr_list *l, struct arena *a, uint32_t n) {
    return grow(l, a, l->count + n);
}

const struct attr *attrs_find(const struct attr_list *l, const char *key) {
    size_t klen = strlen(key);
    for (uint32_t i = 0; i < l->count; i++)
        if (l->items[i].key.len == klen && !memcmp(l->items[i].key.ptr, key, klen))
            return &l->items[i];
    return NULL;
}

/* The attribute with key, or NULL. Keys often share a prefix ("process.",
 * "attr.key.0"): the length and the last byte rule most out before memcmp. */
static struct attr *find(const struct attr_list *l, struct str key) {
    for (uint32_t i = 0; i < l->count; i++) {
        struct attr *at = &l->items[i];
        if (at->key.len == key.len &&
            (!key.len || at->key.ptr[key.len - 1] == key.ptr[key.len - 1]) &&
            !memcmp(at->key.ptr, key.ptr, key.len))
            return at;
    }
    return NULL;
}

/* A numeric array value's copy into the arena. */
static int copy_nums(struct arena *a, struct attr_value *v) {
    size_t size = (size_t)v->u.nums.count * attr_num_size(v->type);
    void *items = arena_alloc(a, size ? size : 1);
    if (!items) return -ENOMEM;
    if (size) memcpy(items, v->u.nums.items, size);
    v->u.nums.items = items;
    return 0;
}

/* A string array value's copy into the arena. */
static int copy_array(struct arena *a, const struct attr_limits *lim, struct attr_value *v) {
    struct str *items = arena_alloc(a, (v->u.arr.count + 1) * sizeof *items);
    if (!items) return -ENOMEM;
    for (uint32_t i = 0; i < v->u.arr.count; i++)
        if (strdup_in(a, v->u.arr.items[i], lim->value_length, &items[i]) < 0) return -ENOMEM;
    v->u.arr.items = items;
    return 0;
}

/* attrs_put's general case: an existing key, a full list, other types
 * (apart, so that the common case needs no stack frame). */
static __attribute__((noinline)) int put(struct attr_list *l, struct arena *a,
                                         const struct attr_limits *lim, struct str key,
                                         uint32_t bit, const struct attr_value *value) {
    struct attr *slot = l->key_bits & bit ? find(l, key) : NULL;
    bool fresh = !slot;
    if (fresh) {
        int rc = l->count >= lim->count ? -ENOSPC : grow(l, a, l->count + 1);
        if (!rc) {
            slot = &l->items[l->count];
            rc = strdup_in(a, key, UINT32_MAX, &slot->key);
        }
        if (rc < 0) {
            l->dropped++;
            return rc;
        }
    }
    struct attr_value v = *value;
    int rc = v.type == ATTR_STRING         ? strdup_in(a, value->u.s, lim->value_length, &v.u.s)
             : v.type == ATTR_STRING_ARRAY ? copy_array(a, lim, &v)
             : attr_num_size(v.type)       ? copy_nums(a, &v)
                                           : 0;
    if (rc < 0) {
        if (fresh) l->dropped++;
        return rc;
    }
    slot->value = v;
    if (fresh) {
        l->count++;
        l->key_bits |= bit;
    }
    return 0;
}

int attrs_put(struct attr_list *l, struct arena *a, const struct attr_limits *lim, struct str key,
              const struct attr_value *value) {
    uint32_t bit = attr_key_bit(key);
    if (value->type != ATTR_STRING || l->key_bits & bit || l->count >= lim->count ||
        l->count >= l->cap)
        return put(l, a, lim, key, bit, value);
    /* A new string key with room in the list (most calls): straight into
     * its place. */
    struct attr *slot = &l->items[l->count];
    if (strdup_in(a, key, UINT32_MAX, &slot->key) < 0 ||
        strdup_in(a, value->u.s, lim->value_length, &slot->value.u.s) < 0) {
        l->dropped++;
        return -ENOMEM;
    }
    slot->value.type = ATTR_STRING;
    l->count++;
    l->key_bits |= bit;
    return 0;
}

int attrs_put_str(struct attr_list *l, struct arena *a, const struct attr_limits *lim,
                  const char *key, const char *value, size_t len) {
    struct attr_value v = {.type = ATTR_STRING, .u.s = str_of(value, len)};
    return attrs_put(l, a, lim, str_cstr(key), &v);
}

int attrs_put_int(struct attr_list *l, struct arena *a, const struct attr_limits *lim,
                  const char *key, int64_t value) {
    struct attr_value v = {.type = ATTR_INT, .u.i = value};
    return attrs_put(l, a, lim, str_cstr(key), &v);
}

int attrs_put_double(struct attr_list *l, struct arena *a, const struct attr_limits *lim,
                     const char *key, double value) {
    struct attr_value v = {.type = ATTR_DOUBLE, .u.d = value};
    return attrs_put(l, a, lim, str_cstr(key), &v);
}

int attrs_put_bool(struct attr_list *l, struct arena *a, const struct attr_limits *lim,
                   const char *key, bool value) {
    struct attr_value v = {.type = ATTR_BOOL, .u.b = value};
    return attrs_put(l, a, lim, str_cstr(key), &v);
}
