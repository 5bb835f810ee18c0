/* attr: attribute lists, limits and the record arena. See attr.h. */
#include "core/attr.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct arena_chunk {
    struct arena_chunk *next;
    max_align_t align[];
};

#define ALIGN 8u

void arena_init(struct arena *a, void *first, size_t size) {
    a->cur = first;
    a->end = (char *)first + size;
    a->overflow = NULL;
    a->no_malloc = false;
}

void *arena_alloc(struct arena *a, size_t size) {
    size = (size + ALIGN - 1) & ~(size_t)(ALIGN - 1);
    if ((size_t)(a->end - a->cur) >= size) {
        void *p = a->cur;
        a->cur += size;
        return p;
    }
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

struct str str_cstr(const char *s) {
    return str_of(s, s ? strlen(s) : 0);
}

size_t utf8_truncate(const char *s, size_t len, size_t limit) {
    if (len <= limit) return len;
    size_t n = limit;
    /* Step back over continuation bytes so a sequence is never split. */
    while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
        n--;
    return n;
}

int arena_strdup(struct arena *a, struct str in, uint32_t limit, struct str *out) {
    size_t len = utf8_truncate(in.ptr, in.len, limit);
    char *p = arena_alloc(a, len + 1);
    if (!p) return -ENOMEM;
    if (len) memcpy(p, in.ptr, len);
    p[len] = '\0';
    *out = str_of(p, len);
    return 0;
}

static int grow(struct attr_list *l, struct arena *a, uint32_t want) {
    if (want <= l->cap) return 0;
    uint32_t cap = l->cap ? l->cap * 2 : 8;
    if (cap < want) cap = want;
    struct attr *items = arena_alloc(a, cap * sizeof *items);
    if (!items) return -ENOMEM;
    if (l->count) memcpy(items, l->items, l->count * sizeof *items);
    l->items = items;
    l->cap = cap;
    return 0;
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

int attrs_put(struct attr_list *l, struct arena *a, const struct attr_limits *lim, struct str key,
              const struct attr_value *value) {
    struct attr *slot = NULL;
    /* Keys often share a prefix ("process.", "attr.key.0"): the length and
     * the last byte rule most of them out before memcmp. */
    for (uint32_t i = 0; i < l->count; i++)
        if (l->items[i].key.len == key.len &&
            (!key.len || l->items[i].key.ptr[key.len - 1] == key.ptr[key.len - 1]) &&
            !memcmp(l->items[i].key.ptr, key.ptr, key.len)) {
            slot = &l->items[i];
            break;
        }
    if (!slot) {
        if (l->count >= lim->count) {
            l->dropped++;
            return -ENOSPC;
        }
        if (grow(l, a, l->count + 1) < 0) {
            l->dropped++;
            return -ENOMEM;
        }
        slot = &l->items[l->count];
        if (arena_strdup(a, key, UINT32_MAX, &slot->key) < 0) {
            l->dropped++;
            return -ENOMEM;
        }
    }
    struct attr_value v = *value;
    int rc = 0;
    if (v.type == ATTR_STRING) {
        rc = arena_strdup(a, value->u.s, lim->value_length, &v.u.s);
    } else if (v.type == ATTR_STRING_ARRAY) {
        struct str *items = arena_alloc(a, (value->u.arr.count + 1) * sizeof *items);
        if (!items) rc = -ENOMEM;
        for (uint32_t i = 0; !rc && i < value->u.arr.count; i++)
            rc = arena_strdup(a, value->u.arr.items[i], lim->value_length, &items[i]);
        v.u.arr.items = items;
    }
    if (rc < 0) {
        if (slot == &l->items[l->count]) l->dropped++;
        return rc;
    }
    slot->value = v;
    if (slot == &l->items[l->count]) l->count++;
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
