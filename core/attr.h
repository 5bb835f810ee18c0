/* attr: attribute values, attribute lists with the spec's limits, and the
 * bump arena records keep their strings in. A record is one allocation whose
 * tail is the arena's first chunk; an arena may be told never to call malloc
 * (a dying process in a signal handler), and then allocations past the
 * reserved space fail and the attribute is dropped and counted.
 * Depends on libc. */
#ifndef OTELP_CORE_ATTR_H
#define OTELP_CORE_ATTR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct arena_chunk;
struct arena {
    char *cur, *end;
    struct arena_chunk *overflow; /* malloc'd chunks, freed with the arena */
    bool no_malloc;
};

static inline void arena_init(struct arena *a, void *first, size_t size) {
    a->cur = first;
    a->end = (char *)first + size;
    a->overflow = NULL;
    a->no_malloc = false;
}
void *arena_alloc(struct arena *a, size_t size);
void arena_release(struct arena *a);

enum attr_type {
    ATTR_STRING = 1,
    ATTR_BOOL,
    ATTR_INT,
    ATTR_DOUBLE,
    ATTR_STRING_ARRAY,
    /* Arrays of bool, int64_t or double (u.nums), from otelp.h. */
    ATTR_BOOL_ARRAY,
    ATTR_INT_ARRAY,
    ATTR_DOUBLE_ARRAY
};

struct str {
    const char *ptr;
    uint32_t len;
};

struct attr_value {
    enum attr_type type;
    union {
        struct str s;
        bool b;
        int64_t i;
        double d;
        struct {
            const struct str *items;
            uint32_t count;
        } arr;
        struct {
            const void *items; /* bool, int64_t or double, by type */
            uint32_t count;
        } nums;
    } u;
};

struct attr {
    struct str key;
    struct attr_value value;
};

struct attr_list {
    struct attr *items;
    uint32_t count, cap, dropped;
    /* One bit per key present (attr_key_bit): a key whose bit is clear is
     * new, and attrs_put skips its duplicate search. Whoever appends to
     * items directly sets the bit too. */
    uint32_t key_bits;
};

/* The key's bit in attr_list.key_bits, from its length and last byte
 * ("attr0".."attr9", "process.pid"/"process.owner" differ there). */
static inline uint32_t attr_key_bit(struct str key) {
    unsigned last = key.len ? (unsigned char)key.ptr[key.len - 1] : 0;
    return 1u << ((key.len * 7u + last) & 31u);
}

/* Limits from OTEL_ATTRIBUTE_* / OTEL_SPAN_* / OTEL_LOGRECORD_* variables. */
struct attr_limits {
    uint32_t count;        /* attributes per list */
    uint32_t value_length; /* bytes per string value; UINT32_MAX = unlimited */
};

/* memcpy for the short strings attributes are made of (keys, 20-byte
 * values): two overlapping word moves instead of a call into libc's
 * size-dispatching memcpy, which cost ~40 instructions a string on the span
 * and encode paths (a fifth of an exported span's instructions). */
static inline void copy_short(void *dst, const void *src, size_t n) {
    char *d = dst;
    const char *s = src;
    if (n >= 8 && n <= 16) {
        uint64_t a, b;
        memcpy(&a, s, 8);
        memcpy(&b, s + n - 8, 8);
        memcpy(d, &a, 8);
        memcpy(d + n - 8, &b, 8);
    } else if (n > 16 && n <= 32) {
        uint64_t a[2], b[2];
        memcpy(a, s, 16);
        memcpy(b, s + n - 16, 16);
        memcpy(d, a, 16);
        memcpy(d + n - 16, b, 16);
    } else if (n >= 4 && n < 8) {
        uint32_t a, b;
        memcpy(&a, s, 4);
        memcpy(&b, s + n - 4, 4);
        memcpy(d, &a, 4);
        memcpy(d + n - 4, &b, 4);
    } else if (n < 4) {
        for (size_t i = 0; i < n; i++)
            d[i] = s[i];
    } else {
        memcpy(d, s, n);
    }
}

/* The size of one item of a numeric array type (0 for other types). */
static inline size_t attr_num_size(enum attr_type t) {
    return t == ATTR_BOOL_ARRAY     ? sizeof(bool)
           : t == ATTR_INT_ARRAY    ? 8
           : t == ATTR_DOUBLE_ARRAY ? 8
                                    : 0;
}

static inline struct str str_of(const char *s, size_t len) {
    return (struct str){s, (uint32_t)len};
}
static inline struct str str_cstr(const char *s) {
    return str_of(s, s ? strlen(s) : 0);
}
/* Copies in (cut to limit bytes at a UTF-8 boundary, NUL-terminated) into the
 * arena. Returns 0 or -ENOMEM. */
int arena_strdup(struct arena *a, struct str in, uint32_t limit, struct str *out);

/* Sets key to value, replacing an existing key. Strings (key and values) are
 * copied into the arena, truncated to the value length limit at a UTF-8
 * boundary. A new key past the count limit, or no memory, drops it and counts
 * it in dropped. Returns 0 or -ENOMEM/-ENOSPC. */
int attrs_put(struct attr_list *l, struct arena *a, const struct attr_limits *lim, struct str key,
              const struct attr_value *value);
int attrs_put_str(struct attr_list *l, struct arena *a, const struct attr_limits *lim,
                  const char *key, const char *value, size_t len);
int attrs_put_int(struct attr_list *l, struct arena *a, const struct attr_limits *lim,
                  const char *key, int64_t value);
int attrs_put_double(struct attr_list *l, struct arena *a, const struct attr_limits *lim,
                     const char *key, double value);
int attrs_put_bool(struct attr_list *l, struct arena *a, const struct attr_limits *lim,
                   const char *key, bool value);
const struct attr *attrs_find(const struct attr_list *l, const char *key);
/* Reserves room for n more attributes without growing later (signal-safe
 * adds). */
int attrs_reserve(struct attr_list *l, struct arena *a, uint32_t n);

/* Length of s cut to at most limit bytes without splitting a UTF-8 sequence. */
size_t utf8_truncate(const char *s, size_t len, size_t limit);
/* Length of the valid UTF-8 sequence at s (at most left bytes), or 0. */
size_t utf8_seq(const unsigned char *s, size_t left);
/* Whether s is valid UTF-8 (OTLP strings must be: a collector rejects the
 * whole request otherwise). */
bool utf8_valid(const char *s, size_t len);
/* Copies s into dst (cap bytes) with every byte that does not begin a valid
 * UTF-8 sequence replaced by U+FFFD; stops before a character that would
 * not fit. Returns the bytes written. */
size_t utf8_sanitize(char *dst, size_t cap, const char *s, size_t len);
/* The bytes utf8_sanitize needs for all of s. */
size_t utf8_sanitized_len(const char *s, size_t len);
/* utf8_sanitize within buf itself (len bytes held, cap bytes of room),
 * without a second buffer; stops early when the replacements do not fit.
 * Returns the new length. */
size_t utf8_sanitize_in_place(char *buf, size_t len, size_t cap);
/* The length of the longest prefix of s that does not end inside a UTF-8
 * sequence (s may have been cut anywhere). */
size_t utf8_complete_prefix(const char *s, size_t len);

#endif
