/* otlp_json: OTLP/JSON export requests into otlp_decode.h's structs. Depends on libc,
 * otlp_decode.h. */
#include "server/otlp_json.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- a small JSON tree ------------------------------------------------ */

enum jtype { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

struct jnode {
    enum jtype t;
    char *s; /* J_STR: decoded; J_NUM: its text */
    size_t len;
    bool b;
    struct jnode *items; /* J_ARR, J_OBJ (values) */
    char **keys;         /* J_OBJ */
    size_t n;
};

struct parser {
    const char *p, *end;
    char err[200];
    int depth;
};

static bool perr(struct parser *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool perr(struct parser *ps, const char *fmt, ...) {
    if (ps->err[0] == '\0') {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(ps->err, sizeof(ps->err), fmt, ap);
        va_end(ap);
    }
    return false;
}

static void jfree(struct jnode *j) {
    free(j->s);
    for (size_t i = 0; i < j->n; i++) {
        jfree(&j->items[i]);
        if (j->keys) free(j->keys[i]);
    }
    free(j->items);
    free(j->keys);
}

static void skip_ws(struct parser *ps) {
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

static int hexv(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static bool put_utf8(char *out, size_t *o, uint32_t cp) {
    if (cp < 0x80)
        out[(*o)++] = (char)cp;
    else if (cp < 0x800) {
        out[(*o)++] = (char)(0xC0 | (cp >> 6));
        out[(*o)++] = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out[(*o)++] = (char)(0xE0 | (cp >> 12));
        out[(*o)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[(*o)++] = (char)(0x80 | (cp & 0x3F));
    } else {
        out[(*o)++] = (char)(0xF0 | (cp >> 18));
        out[(*o)++] = (char)(0x80 | ((cp >> 12) & 0x3F));
        out[(*o)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[(*o)++] = (char)(0x80 | (cp & 0x3F));
    }
    return true;
}

/* Length of a valid UTF-8 sequence at p, 0 if invalid. */
static size_t utf8_seq(const unsigned char *p, size_t n) {
    unsigned char c = p[0];
    size_t len;
    uint32_t cp;
    if (c < 0x80) return 1;
    if ((c & 0xE0) == 0xC0)
        len = 2, cp = c & 0x1F;
    else if ((c & 0xF0) == 0xE0)
        len = 3, cp = c & 0x0F;
    else if ((c & 0xF8) == 0xF0)
        len = 4, cp = c & 0x07;
    else
        return 0;
    if (n < len) return 0;
    for (size_t k = 1; k < len; k++) {
        if ((p[k] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (p[k] & 0x3F);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

static bool parse_u4(struct parser *ps, uint32_t *v) {
    if (ps->end - ps->p < 4) return perr(ps, "truncated \\u escape");
    *v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexv(ps->p[i]);
        if (h < 0) return perr(ps, "bad \\u escape");
        *v = *v * 16 + (uint32_t)h;
    }
    ps->p += 4;
    return true;
}

static bool parse_string(struct parser *ps, char **out, size_t *out_len) {
    ps->p++; /* the quote */
    const char *start = ps->p;
    size_t cap = 0;
    for (const char *q = ps->p; q < ps->end && *q != '"'; q++) {
        cap++;
        if (*q == '\\' && q + 1 < ps->end) q++, cap++;
    }
    char *buf = malloc(cap * 2 + 8);
    if (buf == NULL) return perr(ps, "out of memory");
    size_t o = 0;
    (void)start;
    while (ps->p < ps->end && *ps->p != '"') {
        unsigned char c = (unsigned char)*ps->p;
        if (c < 0x20) {
            free(buf);
            return perr(ps, "control character in a string");
        }
        if (c == '\\') {
            ps->p++;
            if (ps->p >= ps->end) break;
            char e = *ps->p++;
            switch (e) {
            case '"':
                buf[o++] = '"';
                break;
            case '\\':
                buf[o++] = '\\';
                break;
            case '/':
                buf[o++] = '/';
                break;
            case 'b':
                buf[o++] = '\b';
                break;
            case 'f':
                buf[o++] = '\f';
                break;
            case 'n':
                buf[o++] = '\n';
                break;
            case 'r':
                buf[o++] = '\r';
                break;
            case 't':
                buf[o++] = '\t';
                break;
            case 'u': {
                uint32_t cp;
                if (!parse_u4(ps, &cp)) {
                    free(buf);
                    return false;
                }
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    uint32_t lo;
                    if (ps->end - ps->p < 6 || ps->p[0] != '\\' || ps->p[1] != 'u') {
                        free(buf);
                        return perr(ps, "unpaired surrogate in a string");
                    }
                    ps->p += 2;
                    if (!parse_u4(ps, &lo) || lo < 0xDC00 || lo > 0xDFFF) {
                        free(buf);
                        return perr(ps, "unpaired surrogate in a string");
                    }
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                    free(buf);
                    return perr(ps, "unpaired surrogate in a string");
                }
                put_utf8(buf, &o, cp);
                break;
            }
            default:
                free(buf);
                return perr(ps, "bad escape \\%c", e);
            }
            continue;
        }
        size_t l = utf8_seq((const unsigned char *)ps->p, (size_t)(ps->end - ps->p));
        if (l == 0) {
            free(buf);
            return perr(ps, "invalid UTF-8 in a string");
        }
        memcpy(buf + o, ps->p, l);
        o += l;
        ps->p += l;
    }
    if (ps->p >= ps->end) {
        free(buf);
        return perr(ps, "unterminated string");
    }
    ps->p++;
    buf[o] = '\0';
    *out = buf;
    *out_len = o;
    return true;
}

static bool parse_value(struct parser *ps, struct jnode *j);

static bool parse_container(struct parser *ps, struct jnode *j, bool obj) {
    if (++ps->depth > OTLP_DECODE_MAX_DEPTH * 2)
        return perr(ps, "JSON nested deeper than %d", OTLP_DECODE_MAX_DEPTH * 2);
    j->t = obj ? J_OBJ : J_ARR;
    ps->p++;
    size_t cap = 0;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == (obj ? '}' : ']')) {
        ps->p++;
        ps->depth--;
        return true;
    }
    for (;;) {
        if (j->n == cap) {
            size_t nc = cap ? cap * 2 : 4;
            struct jnode *ni = realloc(j->items, nc * sizeof(*ni));
            if (ni == NULL) return perr(ps, "out of memory");
            j->items = ni;
            if (obj) {
                char **nk = realloc(j->keys, nc * sizeof(*nk));
                if (nk == NULL) return perr(ps, "out of memory");
                j->keys = nk;
            }
            cap = nc;
        }
        struct jnode *it = &j->items[j->n];
        memset(it, 0, sizeof(*it));
        skip_ws(ps);
        if (obj) {
            size_t kl;
            if (ps->p >= ps->end || *ps->p != '"') return perr(ps, "expected a key");
            if (!parse_string(ps, &j->keys[j->n], &kl)) return false;
            j->n++;
            skip_ws(ps);
            if (ps->p >= ps->end || *ps->p != ':') return perr(ps, "expected ':'");
            ps->p++;
        } else {
            j->n++;
        }
        if (!parse_value(ps, it)) return false;
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->end && *ps->p == (obj ? '}' : ']')) {
            ps->p++;
            ps->depth--;
            return true;
        }
        return perr(ps, "expected ',' or '%c'", obj ? '}' : ']');
    }
}

static bool parse_value(struct parser *ps, struct jnode *j) {
    skip_ws(ps);
    if (ps->p >= ps->end) return perr(ps, "unexpected end of JSON");
    char c = *ps->p;
    if (c == '{') return parse_container(ps, j, true);
    if (c == '[') return parse_container(ps, j, false);
    if (c == '"') {
        j->t = J_STR;
        return parse_string(ps, &j->s, &j->len);
    }
    static const struct {
        const char *word;
        enum jtype t;
        bool b;
    } words[] = {{"true", J_BOOL, true}, {"false", J_BOOL, false}, {"null", J_NULL, false}};
    for (size_t i = 0; i < 3; i++) {
        size_t l = strlen(words[i].word);
        if ((size_t)(ps->end - ps->p) >= l && memcmp(ps->p, words[i].word, l) == 0) {
            j->t = words[i].t;
            j->b = words[i].b;
            ps->p += l;
            return true;
        }
    }
    const char *s = ps->p;
    while (ps->p < ps->end && strchr("+-0123456789.eE", *ps->p) != NULL)
        ps->p++;
    if (ps->p == s) return perr(ps, "unexpected character '%c'", c);
    j->t = J_NUM;
    j->len = (size_t)(ps->p - s);
    j->s = malloc(j->len + 1);
    if (j->s == NULL) return perr(ps, "out of memory");
    memcpy(j->s, s, j->len);
    j->s[j->len] = '\0';
    return true;
}

/* ---- mapping ---------------------------------------------------------- */

struct mctx {
    char err[200];
};

static bool merr(struct mctx *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool merr(struct mctx *m, const char *fmt, ...) {
    if (m->err[0] == '\0') {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(m->err, sizeof(m->err), fmt, ap);
        va_end(ap);
    }
    return false;
}

/* The member `camel` (or its snake_case spelling) of an object, or NULL. */
static const struct jnode *member(const struct jnode *o, const char *camel, const char *snake) {
    if (o == NULL || o->t != J_OBJ) return NULL;
    for (size_t i = 0; i < o->n; i++)
        if (strcmp(o->keys[i], camel) == 0 || (snake && strcmp(o->keys[i], snake) == 0))
            return o->items[i].t == J_NULL ? NULL : &o->items[i];
    return NULL;
}

static char *dupstr(const struct jnode *j) {
    char *s = strdup(j && j->t == J_STR ? j->s : "");
    return s;
}

static bool get_str(struct mctx *m, const struct jnode *o, const char *camel, const char *snake,
                    char **out) {
    const struct jnode *j = member(o, camel, snake);
    if (j != NULL && j->t != J_STR) return merr(m, "%s: not a string", camel);
    *out = dupstr(j);
    return *out != NULL || merr(m, "out of memory");
}

/* An integer: a JSON number or a string of one (int64 in the JSON mapping). */
static bool get_u64(struct mctx *m, const struct jnode *o, const char *camel, const char *snake,
                    uint64_t *out, bool is_signed) {
    const struct jnode *j = member(o, camel, snake);
    *out = 0;
    if (j == NULL) return true;
    if (j->t != J_NUM && j->t != J_STR) return merr(m, "%s: not a number", camel);
    char *end;
    errno = 0;
    if (is_signed) {
        long long v = strtoll(j->s, &end, 10);
        *out = (uint64_t)v;
    } else {
        if (j->s[0] == '-') return merr(m, "%s: negative", camel);
        *out = strtoull(j->s, &end, 10);
    }
    if (errno != 0 || *end != '\0' || end == j->s)
        return merr(m, "%s: '%s' is not an integer", camel, j->s);
    return true;
}

static bool get_int(struct mctx *m, const struct jnode *o, const char *camel, const char *snake,
                    int *out) {
    uint64_t v;
    if (!get_u64(m, o, camel, snake, &v, true)) return false;
    if ((int64_t)v < INT32_MIN || (int64_t)v > INT32_MAX) return merr(m, "%s: out of range", camel);
    *out = (int)(int64_t)v;
    return true;
}

static bool get_id(struct mctx *m, const struct jnode *o, const char *camel, const char *snake,
                   uint8_t *out, size_t n) {
    const struct jnode *j = member(o, camel, snake);
    memset(out, 0, n);
    if (j == NULL || (j->t == J_STR && j->len == 0)) return true;
    if (j->t != J_STR || j->len != 2 * n)
        return merr(m, "%s: expected %zu hex digits", camel, 2 * n);
    for (size_t i = 0; i < n; i++) {
        int hi = hexv(j->s[2 * i]), lo = hexv(j->s[2 * i + 1]);
        if (hi < 0 || lo < 0) return merr(m, "%s: not hex", camel);
        out[i] = (uint8_t)(hi * 16 + lo);
    }
    return true;
}

static int b64v(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
}

static bool map_attrs(struct mctx *m, const struct jnode *arr, struct otlp_attrs *out, int depth);

static bool map_any(struct mctx *m, const struct jnode *o, struct otlp_value *v, int depth) {
    memset(v, 0, sizeof(*v));
    if (depth > OTLP_DECODE_MAX_DEPTH)
        return merr(m, "values nested deeper than %d", OTLP_DECODE_MAX_DEPTH);
    if (o == NULL) return true;
    if (o->t != J_OBJ) return merr(m, "an AnyValue is not an object");
    const struct jnode *j;
    if ((j = member(o, "stringValue", "string_value")) != NULL) {
        if (j->t != J_STR) return merr(m, "stringValue: not a string");
        v->type = OTLP_VALUE_STRING;
        v->len = j->len;
        v->str = malloc(j->len + 1);
        if (v->str == NULL) return merr(m, "out of memory");
        memcpy(v->str, j->s, j->len + 1);
    } else if ((j = member(o, "boolValue", "bool_value")) != NULL) {
        if (j->t != J_BOOL) return merr(m, "boolValue: not a boolean");
        v->type = OTLP_VALUE_BOOL;
        v->b = j->b;
    } else if (member(o, "intValue", "int_value") != NULL) {
        uint64_t u;
        if (!get_u64(m, o, "intValue", "int_value", &u, true)) return false;
        v->type = OTLP_VALUE_INT;
        v->i = (int64_t)u;
    } else if ((j = member(o, "doubleValue", "double_value")) != NULL) {
        v->type = OTLP_VALUE_DOUBLE;
        if (j->t == J_STR && strcmp(j->s, "NaN") == 0)
            v->d = NAN;
        else if (j->t == J_STR && strcmp(j->s, "Infinity") == 0)
            v->d = INFINITY;
        else if (j->t == J_STR && strcmp(j->s, "-Infinity") == 0)
            v->d = -INFINITY;
        else {
            char *end;
            if (j->t != J_NUM && j->t != J_STR) return merr(m, "doubleValue: not a number");
            v->d = strtod(j->s, &end);
            if (*end != '\0') return merr(m, "doubleValue: '%s' is not a number", j->s);
        }
    } else if ((j = member(o, "arrayValue", "array_value")) != NULL) {
        const struct jnode *vals = member(j, "values", NULL);
        v->type = OTLP_VALUE_ARRAY;
        if (vals == NULL) return true;
        if (vals->t != J_ARR) return merr(m, "arrayValue.values: not an array");
        v->items = calloc(vals->n ? vals->n : 1, sizeof(*v->items));
        if (v->items == NULL) return merr(m, "out of memory");
        for (size_t i = 0; i < vals->n; i++) {
            v->n_items++;
            if (!map_any(m, &vals->items[i], &v->items[i], depth + 1)) return false;
        }
    } else if ((j = member(o, "kvlistValue", "kvlist_value")) != NULL) {
        v->type = OTLP_VALUE_KVLIST;
        struct otlp_attrs a = {0};
        bool ok = map_attrs(m, member(j, "values", NULL), &a, depth + 1);
        v->kvs = a.items;
        v->n_kvs = a.count;
        if (!ok) return false;
    } else if ((j = member(o, "bytesValue", "bytes_value")) != NULL) {
        if (j->t != J_STR) return merr(m, "bytesValue: not a string");
        v->type = OTLP_VALUE_BYTES;
        v->str = malloc(j->len + 1);
        if (v->str == NULL) return merr(m, "out of memory");
        uint32_t acc = 0;
        int bits = 0;
        size_t o2 = 0;
        for (size_t i = 0; i < j->len; i++) {
            if (j->s[i] == '=') break;
            int d = b64v(j->s[i]);
            if (d < 0) return merr(m, "bytesValue: not base64");
            acc = (acc << 6) | (uint32_t)d;
            bits += 6;
            if (bits >= 8) {
                bits -= 8;
                v->str[o2++] = (char)((acc >> bits) & 0xFF);
            }
        }
        v->str[o2] = '\0';
        v->len = o2;
    }
    return true;
}

static bool map_attrs(struct mctx *m, const struct jnode *arr, struct otlp_attrs *out, int depth) {
    out->items = NULL;
    out->count = 0;
    if (arr == NULL) return true;
    if (arr->t != J_ARR) return merr(m, "attributes: not an array");
    out->items = calloc(arr->n ? arr->n : 1, sizeof(*out->items));
    if (out->items == NULL) return merr(m, "out of memory");
    for (size_t i = 0; i < arr->n; i++) {
        const struct jnode *kv = &arr->items[i];
        struct otlp_attr *a = &out->items[out->count++];
        if (kv->t != J_OBJ) return merr(m, "an attribute is not an object");
        if (!get_str(m, kv, "key", NULL, &a->key)) return false;
        if (!map_any(m, member(kv, "value", NULL), &a->value, depth + 1)) return false;
    }
    return true;
}

static bool map_scope(struct mctx *m, const struct jnode *o, bool *has, struct otlp_scope *sc) {
    const struct jnode *j = member(o, "scope", NULL);
    *has = j != NULL;
    uint64_t d;
    return get_str(m, j, "name", NULL, &sc->name) && get_str(m, j, "version", NULL, &sc->version) &&
           map_attrs(m, member(j, "attributes", NULL), &sc->attrs, 0) &&
           get_u64(m, j, "droppedAttributesCount", "dropped_attributes_count", &d, false) &&
           ((sc->dropped_attributes_count = (uint32_t)d), true);
}

static bool map_resource(struct mctx *m, const struct jnode *o, struct otlp_resource *r) {
    const struct jnode *j = member(o, "resource", NULL);
    r->present = j != NULL;
    uint64_t d;
    return map_attrs(m, member(j, "attributes", NULL), &r->attrs, 0) &&
           get_u64(m, j, "droppedAttributesCount", "dropped_attributes_count", &d, false) &&
           ((r->dropped_attributes_count = (uint32_t)d), true);
}

/* A JSON array member as (items, n); absent: n = 0. */
static bool array_of(struct mctx *m, const struct jnode *o, const char *camel, const char *snake,
                     const struct jnode **items, size_t *n) {
    const struct jnode *j = member(o, camel, snake);
    *items = NULL;
    *n = 0;
    if (j == NULL) return true;
    if (j->t != J_ARR) return merr(m, "%s: not an array", camel);
    *items = j->items;
    *n = j->n;
    return true;
}

static bool map_span(struct mctx *m, const struct jnode *o, struct otlp_span *s) {
    uint64_t d;
    if (o->t != J_OBJ) return merr(m, "a span is not an object");
    if (!get_id(m, o, "traceId", "trace_id", s->trace_id, 16) ||
        !get_id(m, o, "spanId", "span_id", s->span_id, 8) ||
        !get_id(m, o, "parentSpanId", "parent_span_id", s->parent_span_id, 8) ||
        !get_str(m, o, "traceState", "trace_state", &s->trace_state) ||
        !get_str(m, o, "name", NULL, &s->name) || !get_int(m, o, "kind", NULL, &s->kind) ||
        !get_u64(m, o, "startTimeUnixNano", "start_time_unix_nano", &s->start_time_unix_nano,
                 false) ||
        !get_u64(m, o, "endTimeUnixNano", "end_time_unix_nano", &s->end_time_unix_nano, false) ||
        !map_attrs(m, member(o, "attributes", NULL), &s->attrs, 0))
        return false;
    if (!get_u64(m, o, "flags", NULL, &d, false)) return false;
    s->flags = (uint32_t)d;
    if (!get_u64(m, o, "droppedAttributesCount", "dropped_attributes_count", &d, false))
        return false;
    s->dropped_attributes_count = (uint32_t)d;
    if (!get_u64(m, o, "droppedEventsCount", "dropped_events_count", &d, false)) return false;
    s->dropped_events_count = (uint32_t)d;
    if (!get_u64(m, o, "droppedLinksCount", "dropped_links_count", &d, false)) return false;
    s->dropped_links_count = (uint32_t)d;
    const struct jnode *st = member(o, "status", NULL);
    s->has_status = st != NULL;
    if (!get_str(m, st, "message", NULL, &s->status_message) ||
        !get_int(m, st, "code", NULL, &s->status_code))
        return false;
    const struct jnode *items;
    size_t n;
    if (!array_of(m, o, "events", NULL, &items, &n)) return false;
    s->events = calloc(n ? n : 1, sizeof(*s->events));
    if (s->events == NULL) return merr(m, "out of memory");
    for (size_t i = 0; i < n; i++) {
        struct otlp_event *e = &s->events[s->n_events++];
        if (!get_u64(m, &items[i], "timeUnixNano", "time_unix_nano", &e->time_unix_nano, false) ||
            !get_str(m, &items[i], "name", NULL, &e->name) ||
            !map_attrs(m, member(&items[i], "attributes", NULL), &e->attrs, 0))
            return false;
    }
    if (!array_of(m, o, "links", NULL, &items, &n)) return false;
    s->links = calloc(n ? n : 1, sizeof(*s->links));
    if (s->links == NULL) return merr(m, "out of memory");
    for (size_t i = 0; i < n; i++) {
        struct otlp_link *l = &s->links[s->n_links++];
        if (!get_id(m, &items[i], "traceId", "trace_id", l->trace_id, 16) ||
            !get_id(m, &items[i], "spanId", "span_id", l->span_id, 8) ||
            !get_str(m, &items[i], "traceState", "trace_state", &l->trace_state) ||
            !map_attrs(m, member(&items[i], "attributes", NULL), &l->attrs, 0))
            return false;
    }
    return true;
}

static bool parse_root(const void *buf, size_t len, struct jnode *root, char *err, size_t cap) {
    struct parser ps = {.p = buf, .end = (const char *)buf + len};
    memset(root, 0, sizeof(*root));
    bool ok = parse_value(&ps, root);
    if (ok) {
        skip_ws(&ps);
        if (ps.p != ps.end) ok = perr(&ps, "text after the JSON value");
    }
    if (ok && root->t != J_OBJ) ok = perr(&ps, "the request is not a JSON object");
    if (!ok) {
        snprintf(err, cap, "invalid JSON at byte %zu: %s", (size_t)(ps.p - (const char *)buf),
                 ps.err);
        jfree(root);
    }
    return ok;
}

struct otlp_traces *otlp_json_traces_decode(const void *buf, size_t len, char *err,
                                            size_t err_size) {
    struct jnode root;
    if (!parse_root(buf, len, &root, err, err_size)) return NULL;
    struct mctx m = {{0}};
    struct otlp_traces *req = calloc(1, sizeof(*req));
    const struct jnode *rss;
    size_t nrs;
    bool ok = req != NULL && array_of(&m, &root, "resourceSpans", "resource_spans", &rss, &nrs);
    if (ok && (req->resource_spans = calloc(nrs ? nrs : 1, sizeof(*req->resource_spans))) == NULL)
        ok = merr(&m, "out of memory");
    for (size_t i = 0; ok && i < nrs; i++) {
        struct otlp_resource_spans *rs = &req->resource_spans[req->n_resource_spans++];
        const struct jnode *sss;
        size_t nss;
        ok = map_resource(&m, &rss[i], &rs->resource) &&
             get_str(&m, &rss[i], "schemaUrl", "schema_url", &rs->schema_url) &&
             array_of(&m, &rss[i], "scopeSpans", "scope_spans", &sss, &nss);
        if (ok && (rs->scope_spans = calloc(nss ? nss : 1, sizeof(*rs->scope_spans))) == NULL)
            ok = merr(&m, "out of memory");
        for (size_t k = 0; ok && k < nss; k++) {
            struct otlp_scope_spans *ss = &rs->scope_spans[rs->n_scope_spans++];
            const struct jnode *sp;
            size_t nsp;
            ok = map_scope(&m, &sss[k], &ss->has_scope, &ss->scope) &&
                 get_str(&m, &sss[k], "schemaUrl", "schema_url", &ss->schema_url) &&
                 array_of(&m, &sss[k], "spans", NULL, &sp, &nsp);
            if (ok && (ss->spans = calloc(nsp ? nsp : 1, sizeof(*ss->spans))) == NULL)
                ok = merr(&m, "out of memory");
            for (size_t j = 0; ok && j < nsp; j++)
                ok = map_span(&m, &sp[j], &ss->spans[ss->n_spans++]);
        }
    }
    jfree(&root);
    if (!ok) {
        snprintf(err, err_size, "%s", m.err[0] ? m.err : "out of memory");
        otlp_traces_free(req);
        return NULL;
    }
    return req;
}

static bool map_log(struct mctx *m, const struct jnode *o, struct otlp_log *l) {
    uint64_t d;
    if (o->t != J_OBJ) return merr(m, "a log record is not an object");
    const struct jnode *body = member(o, "body", NULL);
    l->has_body = body != NULL;
    if (!get_u64(m, o, "timeUnixNano", "time_unix_nano", &l->time_unix_nano, false) ||
        !get_u64(m, o, "observedTimeUnixNano", "observed_time_unix_nano",
                 &l->observed_time_unix_nano, false) ||
        !get_int(m, o, "severityNumber", "severity_number", &l->severity_number) ||
        !get_str(m, o, "severityText", "severity_text", &l->severity_text) ||
        !map_any(m, body, &l->body, 0) ||
        !map_attrs(m, member(o, "attributes", NULL), &l->attrs, 0) ||
        !get_id(m, o, "traceId", "trace_id", l->trace_id, 16) ||
        !get_id(m, o, "spanId", "span_id", l->span_id, 8) ||
        !get_str(m, o, "eventName", "event_name", &l->event_name))
        return false;
    if (!get_u64(m, o, "flags", NULL, &d, false)) return false;
    l->flags = (uint32_t)d;
    if (!get_u64(m, o, "droppedAttributesCount", "dropped_attributes_count", &d, false))
        return false;
    l->dropped_attributes_count = (uint32_t)d;
    return true;
}

struct otlp_logs *otlp_json_logs_decode(const void *buf, size_t len, char *err, size_t err_size) {
    struct jnode root;
    if (!parse_root(buf, len, &root, err, err_size)) return NULL;
    struct mctx m = {{0}};
    struct otlp_logs *req = calloc(1, sizeof(*req));
    const struct jnode *rls;
    size_t nrl;
    bool ok = req != NULL && array_of(&m, &root, "resourceLogs", "resource_logs", &rls, &nrl);
    if (ok && (req->resource_logs = calloc(nrl ? nrl : 1, sizeof(*req->resource_logs))) == NULL)
        ok = merr(&m, "out of memory");
    for (size_t i = 0; ok && i < nrl; i++) {
        struct otlp_resource_logs *rl = &req->resource_logs[req->n_resource_logs++];
        const struct jnode *sls;
        size_t nsl;
        ok = map_resource(&m, &rls[i], &rl->resource) &&
             get_str(&m, &rls[i], "schemaUrl", "schema_url", &rl->schema_url) &&
             array_of(&m, &rls[i], "scopeLogs", "scope_logs", &sls, &nsl);
        if (ok && (rl->scope_logs = calloc(nsl ? nsl : 1, sizeof(*rl->scope_logs))) == NULL)
            ok = merr(&m, "out of memory");
        for (size_t k = 0; ok && k < nsl; k++) {
            struct otlp_scope_logs *sl = &rl->scope_logs[rl->n_scope_logs++];
            const struct jnode *lr;
            size_t nlr;
            ok = map_scope(&m, &sls[k], &sl->has_scope, &sl->scope) &&
                 get_str(&m, &sls[k], "schemaUrl", "schema_url", &sl->schema_url) &&
                 array_of(&m, &sls[k], "logRecords", "log_records", &lr, &nlr);
            if (ok && (sl->logs = calloc(nlr ? nlr : 1, sizeof(*sl->logs))) == NULL)
                ok = merr(&m, "out of memory");
            for (size_t j = 0; ok && j < nlr; j++)
                ok = map_log(&m, &lr[j], &sl->logs[sl->n_logs++]);
        }
    }
    jfree(&root);
    if (!ok) {
        snprintf(err, err_size, "%s", m.err[0] ? m.err : "out of memory");
        otlp_logs_free(req);
        return NULL;
    }
    return req;
}

/* ---- metrics ---------------------------------------------------------- */

/* A double: a JSON number, or the strings "NaN", "Infinity", "-Infinity". */
static bool json_double(struct mctx *m, const struct jnode *j, const char *what, double *out) {
    if (j->t == J_STR && strcmp(j->s, "NaN") == 0) {
        *out = NAN;
        return true;
    }
    if (j->t == J_STR && strcmp(j->s, "Infinity") == 0) {
        *out = INFINITY;
        return true;
    }
    if (j->t == J_STR && strcmp(j->s, "-Infinity") == 0) {
        *out = -INFINITY;
        return true;
    }
    if (j->t != J_NUM && j->t != J_STR) return merr(m, "%s: not a number", what);
    char *end;
    *out = strtod(j->s, &end);
    if (*end != '\0' || end == j->s) return merr(m, "%s: '%s' is not a number", what, j->s);
    return true;
}

/* An optional double member: *has says whether it was there. */
static bool get_double(struct mctx *m, const struct jnode *o, const char *camel, const char *snake,
                       bool *has, double *out) {
    const struct jnode *j = member(o, camel, snake);
    *out = 0;
    if (has) *has = j != NULL;
    return j == NULL || json_double(m, j, camel, out);
}

/* An array of integers (numbers or strings) or doubles into a fresh C array
 * (on failure none: *out NULL, *n 0). */
static bool get_numbers(struct mctx *m, const struct jnode *o, const char *camel, const char *snake,
                        bool doubles, void **out, size_t *n) {
    const struct jnode *items;
    size_t cnt;
    *out = NULL;
    *n = 0;
    if (!array_of(m, o, camel, snake, &items, &cnt)) return false;
    if (cnt == 0) return true;
    void *arr = calloc(cnt, 8);
    if (arr == NULL) return merr(m, "out of memory");
    bool ok = true;
    for (size_t i = 0; i < cnt && ok; i++) {
        if (doubles) {
            ok = json_double(m, &items[i], camel, &((double *)arr)[i]);
        } else {
            const struct jnode *j = &items[i];
            char *end;
            if ((j->t != J_NUM && j->t != J_STR) || j->s[0] == '-') {
                ok = merr(m, "%s: not a count", camel);
                break;
            }
            errno = 0;
            ((uint64_t *)arr)[i] = strtoull(j->s, &end, 10);
            if (errno != 0 || *end != '\0' || end == j->s)
                ok = merr(m, "%s: '%s' is not an integer", camel, j->s);
        }
    }
    if (!ok) {
        free(arr);
        return false;
    }
    *out = arr;
    *n = cnt;
    return true;
}

/* An enum: its number, or its name from names[] (index = number). */
static bool get_enum(struct mctx *m, const struct jnode *o, const char *camel, const char *snake,
                     const char *const *names, int nnames, int *out) {
    const struct jnode *j = member(o, camel, snake);
    if (j != NULL && j->t == J_STR && j->len > 0 && (j->s[0] < '0' || j->s[0] > '9')) {
        for (int i = 0; i < nnames; i++)
            if (strcmp(j->s, names[i]) == 0) {
                *out = i;
                return true;
            }
        return merr(m, "%s: unknown value '%s'", camel, j->s);
    }
    return get_int(m, o, camel, snake, out);
}

/* A number point's or exemplar's value: asInt (string or number) or asDouble. */
static bool get_point_value(struct mctx *m, const struct jnode *o, bool *has, bool *is_int,
                            int64_t *i, double *d) {
    const struct jnode *ji = member(o, "asInt", "as_int");
    const struct jnode *jd = member(o, "asDouble", "as_double");
    if (ji != NULL && jd != NULL) return merr(m, "a point holds asInt and asDouble");
    *has = ji != NULL || jd != NULL;
    *is_int = ji != NULL;
    if (ji != NULL) {
        uint64_t u;
        if (!get_u64(m, o, "asInt", "as_int", &u, true)) return false;
        *i = (int64_t)u;
    }
    return jd == NULL || json_double(m, jd, "asDouble", d);
}

static bool map_exemplars(struct mctx *m, const struct jnode *o, struct otlp_point *pt) {
    const struct jnode *items;
    size_t n;
    if (!array_of(m, o, "exemplars", NULL, &items, &n)) return false;
    if (n == 0) return true;
    pt->exemplars = calloc(n, sizeof(*pt->exemplars));
    if (pt->exemplars == NULL) return merr(m, "out of memory");
    for (size_t i = 0; i < n; i++) {
        struct otlp_exemplar *ex = &pt->exemplars[pt->n_exemplars++];
        if (items[i].t != J_OBJ) return merr(m, "an exemplar is not an object");
        if (!map_attrs(m, member(&items[i], "filteredAttributes", "filtered_attributes"),
                       &ex->attrs, 0) ||
            !get_u64(m, &items[i], "timeUnixNano", "time_unix_nano", &ex->time_unix_nano, false) ||
            !get_point_value(m, &items[i], &ex->has_value, &ex->is_int, &ex->as_int,
                             &ex->as_double) ||
            !get_id(m, &items[i], "traceId", "trace_id", ex->trace_id, 16) ||
            !get_id(m, &items[i], "spanId", "span_id", ex->span_id, 8))
            return false;
    }
    return true;
}

static bool map_buckets(struct mctx *m, const struct jnode *o, const char *name,
                        struct otlp_exp_buckets *b) {
    const struct jnode *j = member(o, name, NULL);
    if (j == NULL) return true;
    if (j->t != J_OBJ) return merr(m, "%s: not an object", name);
    if (!get_int(m, j, "offset", NULL, &b->offset)) return false;
    void *counts;
    if (!get_numbers(m, j, "bucketCounts", "bucket_counts", false, &counts, &b->n_counts))
        return false;
    b->counts = counts;
    return true;
}

static bool map_point(struct mctx *m, const struct jnode *o, enum otlp_metric_type type,
                      struct otlp_point *pt) {
    uint64_t d;
    if (o->t != J_OBJ) return merr(m, "a data point is not an object");
    if (!map_attrs(m, member(o, "attributes", NULL), &pt->attrs, 0) ||
        !get_u64(m, o, "startTimeUnixNano", "start_time_unix_nano", &pt->start_time_unix_nano,
                 false) ||
        !get_u64(m, o, "timeUnixNano", "time_unix_nano", &pt->time_unix_nano, false) ||
        !get_u64(m, o, "flags", NULL, &d, false))
        return false;
    pt->flags = (uint32_t)d;
    switch (type) {
    case OTLP_METRIC_GAUGE:
    case OTLP_METRIC_SUM:
        return get_point_value(m, o, &pt->has_value, &pt->is_int, &pt->as_int, &pt->as_double) &&
               map_exemplars(m, o, pt);
    case OTLP_METRIC_HISTOGRAM: {
        void *counts, *bounds;
        if (!get_u64(m, o, "count", NULL, &pt->count, false) ||
            !get_double(m, o, "sum", NULL, &pt->has_sum, &pt->sum) ||
            !get_double(m, o, "min", NULL, &pt->has_min, &pt->min) ||
            !get_double(m, o, "max", NULL, &pt->has_max, &pt->max) ||
            !get_numbers(m, o, "bucketCounts", "bucket_counts", false, &counts,
                         &pt->n_bucket_counts))
            return false;
        pt->bucket_counts = counts;
        if (!get_numbers(m, o, "explicitBounds", "explicit_bounds", true, &bounds,
                         &pt->n_explicit_bounds))
            return false;
        pt->explicit_bounds = bounds;
        if (pt->n_bucket_counts != 0 && pt->n_bucket_counts != pt->n_explicit_bounds + 1)
            return merr(m, "histogram point: %zu bucket counts for %zu bounds", pt->n_bucket_counts,
                        pt->n_explicit_bounds);
        return map_exemplars(m, o, pt);
    }
    case OTLP_METRIC_EXP_HISTOGRAM:
        return get_u64(m, o, "count", NULL, &pt->count, false) &&
               get_double(m, o, "sum", NULL, &pt->has_sum, &pt->sum) &&
               get_double(m, o, "min", NULL, &pt->has_min, &pt->min) &&
               get_double(m, o, "max", NULL, &pt->has_max, &pt->max) &&
               get_int(m, o, "scale", NULL, &pt->scale) &&
               get_u64(m, o, "zeroCount", "zero_count", &pt->zero_count, false) &&
               get_double(m, o, "zeroThreshold", "zero_threshold", NULL, &pt->zero_threshold) &&
               map_buckets(m, o, "positive", &pt->positive) &&
               map_buckets(m, o, "negative", &pt->negative) && map_exemplars(m, o, pt);
    case OTLP_METRIC_SUMMARY: {
        const struct jnode *items;
        size_t n;
        pt->has_sum = true;
        if (!get_u64(m, o, "count", NULL, &pt->count, false) ||
            !get_double(m, o, "sum", NULL, NULL, &pt->sum) ||
            !array_of(m, o, "quantileValues", "quantile_values", &items, &n))
            return false;
        if (n == 0) return true;
        pt->quantiles = calloc(n, sizeof(*pt->quantiles));
        if (pt->quantiles == NULL) return merr(m, "out of memory");
        for (size_t i = 0; i < n; i++, pt->n_quantiles++)
            if (!get_double(m, &items[i], "quantile", NULL, NULL, &pt->quantiles[i].quantile) ||
                !get_double(m, &items[i], "value", NULL, NULL, &pt->quantiles[i].value))
                return false;
        return true;
    }
    default:
        return true;
    }
}

static bool map_metric(struct mctx *m, const struct jnode *o, struct otlp_metric *mt) {
    static const char *const temporalities[] = {"AGGREGATION_TEMPORALITY_UNSPECIFIED",
                                                "AGGREGATION_TEMPORALITY_DELTA",
                                                "AGGREGATION_TEMPORALITY_CUMULATIVE"};
    static const struct {
        const char *camel, *snake;
        enum otlp_metric_type type;
    } kinds[] = {{"gauge", NULL, OTLP_METRIC_GAUGE},
                 {"sum", NULL, OTLP_METRIC_SUM},
                 {"histogram", NULL, OTLP_METRIC_HISTOGRAM},
                 {"exponentialHistogram", "exponential_histogram", OTLP_METRIC_EXP_HISTOGRAM},
                 {"summary", NULL, OTLP_METRIC_SUMMARY}};
    if (o->t != J_OBJ) return merr(m, "a metric is not an object");
    if (!get_str(m, o, "name", NULL, &mt->name) ||
        !get_str(m, o, "description", NULL, &mt->description) ||
        !get_str(m, o, "unit", NULL, &mt->unit) ||
        !map_attrs(m, member(o, "metadata", NULL), &mt->metadata, 0))
        return false;
    const struct jnode *data = NULL;
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        const struct jnode *j = member(o, kinds[i].camel, kinds[i].snake);
        if (j == NULL) continue;
        if (data != NULL) return merr(m, "metric %s holds two kinds of data", mt->name);
        if (j->t != J_OBJ) return merr(m, "%s: not an object", kinds[i].camel);
        data = j;
        mt->type = kinds[i].type;
    }
    if (data == NULL) return true;
    if (mt->type != OTLP_METRIC_GAUGE && mt->type != OTLP_METRIC_SUMMARY &&
        !get_enum(m, data, "aggregationTemporality", "aggregation_temporality", temporalities, 3,
                  &mt->temporality))
        return false;
    const struct jnode *mono = member(data, "isMonotonic", "is_monotonic");
    if (mono != NULL && mono->t != J_BOOL) return merr(m, "isMonotonic: not a boolean");
    mt->monotonic = mt->type == OTLP_METRIC_SUM && mono != NULL && mono->b;
    const struct jnode *items;
    size_t n;
    if (!array_of(m, data, "dataPoints", "data_points", &items, &n)) return false;
    if (n == 0) return true;
    mt->points = calloc(n, sizeof(*mt->points));
    if (mt->points == NULL) return merr(m, "out of memory");
    for (size_t i = 0; i < n; i++)
        if (!map_point(m, &items[i], mt->type, &mt->points[mt->n_points++])) return false;
    return true;
}

struct otlp_metrics *otlp_json_metrics_decode(const void *buf, size_t len, char *err,
                                              size_t err_size) {
    struct jnode root;
    if (!parse_root(buf, len, &root, err, err_size)) return NULL;
    struct mctx m = {{0}};
    struct otlp_metrics *req = calloc(1, sizeof(*req));
    const struct jnode *rms;
    size_t nrm;
    bool ok = req != NULL && array_of(&m, &root, "resourceMetrics", "resource_metrics", &rms, &nrm);
    if (ok &&
        (req->resource_metrics = calloc(nrm ? nrm : 1, sizeof(*req->resource_metrics))) == NULL)
        ok = merr(&m, "out of memory");
    for (size_t i = 0; ok && i < nrm; i++) {
        struct otlp_resource_metrics *rm = &req->resource_metrics[req->n_resource_metrics++];
        const struct jnode *sms;
        size_t nsm;
        ok = map_resource(&m, &rms[i], &rm->resource) &&
             get_str(&m, &rms[i], "schemaUrl", "schema_url", &rm->schema_url) &&
             array_of(&m, &rms[i], "scopeMetrics", "scope_metrics", &sms, &nsm);
        if (ok && (rm->scope_metrics = calloc(nsm ? nsm : 1, sizeof(*rm->scope_metrics))) == NULL)
            ok = merr(&m, "out of memory");
        for (size_t k = 0; ok && k < nsm; k++) {
            struct otlp_scope_metrics *sm = &rm->scope_metrics[rm->n_scope_metrics++];
            const struct jnode *mts;
            size_t nmt;
            ok = map_scope(&m, &sms[k], &sm->has_scope, &sm->scope) &&
                 get_str(&m, &sms[k], "schemaUrl", "schema_url", &sm->schema_url) &&
                 array_of(&m, &sms[k], "metrics", NULL, &mts, &nmt);
            if (ok && (sm->metrics = calloc(nmt ? nmt : 1, sizeof(*sm->metrics))) == NULL)
                ok = merr(&m, "out of memory");
            for (size_t j = 0; ok && j < nmt; j++)
                ok = map_metric(&m, &mts[j], &sm->metrics[sm->n_metrics++]);
        }
    }
    jfree(&root);
    if (!ok) {
        snprintf(err, err_size, "%s", m.err[0] ? m.err : "out of memory");
        otlp_metrics_free(req);
        return NULL;
    }
    return req;
}
