/* otlp_proto: hand-written OTLP protobuf encoder. See otlp_proto.h.
 *
 * Field numbers (opentelemetry/proto, v1):
 *   ExportTraceServiceRequest.resource_spans 1
 *   ResourceSpans: resource 1, scope_spans 2, schema_url 3
 *   Resource: attributes 1, dropped_attributes_count 2
 *   ScopeSpans: scope 1, spans 2, schema_url 3
 *   InstrumentationScope: name 1, version 2
 *   Span: trace_id 1, span_id 2, trace_state 3, parent_span_id 4, name 5,
 *         kind 6, start 7 (fixed64), end 8 (fixed64), attributes 9,
 *         dropped_attributes_count 10, events 11, dropped_events_count 12,
 *         status 15, flags 16 (fixed32)
 *   Span.Event: time 1 (fixed64), name 2, attributes 3, dropped 4
 *   Status: message 2, code 3
 *   KeyValue: key 1, value 2
 *   AnyValue: string 1, bool 2, int 3, double 4 (fixed64), array 5
 *   ArrayValue: values 1
 *   ExportLogsServiceRequest.resource_logs 1
 *   ResourceLogs: resource 1, scope_logs 2; ScopeLogs: scope 1, log_records 2
 *   LogRecord: time_unix_nano 1 (fixed64), severity_number 2, severity_text 3,
 *         body 5 (AnyValue), attributes 6, dropped_attributes_count 7,
 *         flags 8 (fixed32), trace_id 9, span_id 10,
 *         observed_time_unix_nano 11 (fixed64), event_name 12 */
#include "exporters/otlp_proto.h"

#include <string.h>

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 };

/* Span.flags bits for the parent's remoteness (OTLP 1.1). */
#define FLAG_HAS_IS_REMOTE 0x100u
#define FLAG_IS_REMOTE 0x200u

static inline size_t vsize(uint64_t v) {
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

/* Size of a length-delimited field with a one-byte tag. */
static inline size_t lfield(size_t len) {
    return 1 + vsize(len) + len;
}

/* An ArrayValue of numbers (each an AnyValue of one field). */
static size_t nums_size(const struct attr_value *v) {
    size_t n = 0;
    for (uint32_t i = 0; i < v->u.nums.count; i++) {
        if (v->type == ATTR_BOOL_ARRAY)
            n += lfield(2);
        else if (v->type == ATTR_DOUBLE_ARRAY)
            n += lfield(9);
        else
            n += lfield(1 + vsize((uint64_t)((const int64_t *)v->u.nums.items)[i]));
    }
    return n;
}

static inline __attribute__((always_inline)) size_t anyvalue_size(const struct attr_value *v) {
    switch (v->type) {
    case ATTR_STRING:
        return lfield(v->u.s.len);
    case ATTR_BOOL:
        return 2;
    case ATTR_INT:
        return 1 + vsize((uint64_t)v->u.i);
    case ATTR_DOUBLE:
        return 9;
    case ATTR_STRING_ARRAY: {
        size_t arr = 0;
        for (uint32_t i = 0; i < v->u.arr.count; i++)
            arr += lfield(lfield(v->u.arr.items[i].len));
        return lfield(arr);
    }
    case ATTR_BOOL_ARRAY:
    case ATTR_INT_ARRAY:
    case ATTR_DOUBLE_ARRAY:
        return lfield(nums_size(v));
    }
    return 0;
}

static inline size_t keyvalue_size(const struct attr *a) {
    return lfield(a->key.len) + lfield(anyvalue_size(&a->value));
}

/* A string attribute whose key and value together take at most 120 bytes
 * (most do): every length in its KeyValue is one byte, so its size and
 * bytes come without the general varint and size arithmetic. */
static inline bool short_string(const struct attr *a) {
    return a->value.type == ATTR_STRING && (size_t)a->key.len + a->value.u.s.len <= 120;
}

static size_t attrs_size(const struct attr_list *l) {
    size_t n = 0;
    for (uint32_t i = 0; i < l->count; i++) {
        const struct attr *a = &l->items[i];
        n += short_string(a) ? (size_t)a->key.len + a->value.u.s.len + 8 : lfield(keyvalue_size(a));
    }
    return n;
}

static size_t status_size(const struct span *s) {
    size_t n = 0;
    if (s->status_message.len) n += lfield(s->status_message.len);
    if (s->status_code) n += 2;
    return n;
}

static size_t event_size(const struct span_event *e) {
    size_t n = 9 + lfield(e->name.len) + attrs_size(&e->attrs);
    if (e->attrs.dropped) n += 1 + vsize(e->attrs.dropped);
    return n;
}

static size_t link_size(const struct span_link *l) {
    size_t n = lfield(16) + lfield(8) + 5 + attrs_size(&l->attrs);
    if (l->trace_state.len) n += lfield(l->trace_state.len);
    if (l->attrs.dropped) n += 1 + vsize(l->attrs.dropped);
    return n;
}

static size_t span_size(const struct span *s) {
    size_t n = lfield(16) + lfield(8);
    if (s->trace_state.len) n += lfield(s->trace_state.len);
    if (s->has_parent) n += lfield(8);
    n += lfield(s->name.len);
    n += 2;     /* kind */
    n += 9 + 9; /* start, end */
    n += attrs_size(&s->attrs);
    if (s->attrs.dropped) n += 1 + vsize(s->attrs.dropped);
    for (const struct span_event *e = s->events; e; e = e->next)
        n += lfield(event_size(e));
    if (s->dropped_events) n += 1 + vsize(s->dropped_events);
    for (const struct span_link *l = s->links; l; l = l->next)
        n += lfield(link_size(l));
    if (s->dropped_links) n += 1 + vsize(s->dropped_links);
    size_t st = status_size(s);
    if (st) n += lfield(st);
    n += 2 + 4; /* flags: tag 16 takes two bytes */
    return n;
}

/* The write pass. All sizes were reserved up front, so these never fail. */
struct w {
    uint8_t *p;
};

/* The leaves write through a local pointer: a byte stored through w->p may
 * alias w->p itself, so the compiler would reload and store it back at
 * every byte (an eighth of the encoder's instructions). */
static inline void put_varint(struct w *w, uint64_t v) {
    uint8_t *p = w->p;
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    w->p = p;
}

static inline void put_tag(struct w *w, unsigned field, unsigned wt) {
    put_varint(w, (uint64_t)field << 3 | wt);
}

static inline void put_fixed64(struct w *w, unsigned field, uint64_t v) {
    put_tag(w, field, WT_I64);
    uint8_t *p = w->p;
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
    w->p = p + 8;
}

static inline void put_bytes(struct w *w, unsigned field, const void *data, size_t len) {
    put_tag(w, field, WT_LEN);
    put_varint(w, len);
    copy_short(w->p, data, len);
    w->p += len;
}

static inline void put_len(struct w *w, unsigned field, size_t len) {
    put_tag(w, field, WT_LEN);
    put_varint(w, len);
}

static void put_nums(struct w *w, const struct attr_value *v);

static inline __attribute__((always_inline)) void put_anyvalue(struct w *w,
                                                               const struct attr_value *v) {
    switch (v->type) {
    case ATTR_STRING:
        put_bytes(w, 1, v->u.s.ptr, v->u.s.len);
        break;
    case ATTR_BOOL:
        put_tag(w, 2, WT_VARINT);
        *w->p++ = v->u.b ? 1 : 0;
        break;
    case ATTR_INT:
        put_tag(w, 3, WT_VARINT);
        put_varint(w, (uint64_t)v->u.i);
        break;
    case ATTR_DOUBLE: {
        uint64_t bits;
        memcpy(&bits, &v->u.d, 8);
        put_fixed64(w, 4, bits);
        break;
    }
    case ATTR_STRING_ARRAY: {
        size_t arr = 0;
        for (uint32_t i = 0; i < v->u.arr.count; i++)
            arr += lfield(lfield(v->u.arr.items[i].len));
        put_len(w, 5, arr);
        for (uint32_t i = 0; i < v->u.arr.count; i++) {
            put_len(w, 1, lfield(v->u.arr.items[i].len));
            put_bytes(w, 1, v->u.arr.items[i].ptr, v->u.arr.items[i].len);
        }
        break;
    }
    case ATTR_BOOL_ARRAY:
    case ATTR_INT_ARRAY:
    case ATTR_DOUBLE_ARRAY:
        put_nums(w, v);
        break;
    }
}

static void put_nums(struct w *w, const struct attr_value *v) {
    put_len(w, 5, nums_size(v));
    for (uint32_t i = 0; i < v->u.nums.count; i++) {
        if (v->type == ATTR_BOOL_ARRAY) {
            put_len(w, 1, 2);
            put_tag(w, 2, WT_VARINT);
            *w->p++ = ((const bool *)v->u.nums.items)[i] ? 1 : 0;
        } else if (v->type == ATTR_DOUBLE_ARRAY) {
            uint64_t bits;
            memcpy(&bits, (const double *)v->u.nums.items + i, 8);
            put_len(w, 1, 9);
            put_fixed64(w, 4, bits);
        } else {
            uint64_t x = (uint64_t)((const int64_t *)v->u.nums.items)[i];
            put_len(w, 1, 1 + vsize(x));
            put_tag(w, 3, WT_VARINT);
            put_varint(w, x);
        }
    }
}

/* field: the attribute list's field number, below 16 (a one-byte tag). */
static void put_attrs(struct w *w, unsigned field, const struct attr_list *l) {
    for (uint32_t i = 0; i < l->count; i++) {
        const struct attr *a = &l->items[i];
        if (short_string(a)) {
            /* tag, KeyValue length, key (tag, length, bytes), value (tag,
             * AnyValue length, string tag, length, bytes) */
            uint8_t *p = w->p;
            size_t kl = a->key.len, vl = a->value.u.s.len;
            p[0] = (uint8_t)(field << 3 | WT_LEN);
            p[1] = (uint8_t)(kl + vl + 6);
            p[2] = 1 << 3 | WT_LEN;
            p[3] = (uint8_t)kl;
            copy_short(p + 4, a->key.ptr, kl);
            p += 4 + kl;
            p[0] = 2 << 3 | WT_LEN;
            p[1] = (uint8_t)(vl + 2);
            p[2] = 1 << 3 | WT_LEN;
            p[3] = (uint8_t)vl;
            copy_short(p + 4, a->value.u.s.ptr, vl);
            w->p = p + 4 + vl;
            continue;
        }
        size_t av = anyvalue_size(&a->value); /* once: keyvalue_size would redo it */
        put_len(w, field, lfield(a->key.len) + lfield(av));
        put_bytes(w, 1, a->key.ptr, a->key.len);
        put_len(w, 2, av);
        put_anyvalue(w, &a->value);
    }
}

size_t otlp_proto_attrs(uint8_t *out, size_t cap, const struct attr_list *l) {
    size_t n = attrs_size(l);
    if (n > cap) return 0;
    struct w w = {out};
    put_attrs(&w, 1, l);
    return n;
}

size_t otlp_proto_add_resource_attrs(uint8_t *m, size_t len, size_t cap, const uint8_t *attrs,
                                     size_t n) {
    /* m: 0x0a L1 [ 0x0a L2 [resource] rest ] */
    uint64_t l1, l2;
    size_t h1, h2;
    if (!n || len < 2 || m[0] != 0x0a || !(h1 = otlp_proto_varint(m + 1, len - 1, &l1)) ||
        1 + h1 + l1 != len || 1 + h1 >= len || m[1 + h1] != 0x0a ||
        !(h2 = otlp_proto_varint(m + 2 + h1, len - 2 - h1, &l2)) || l2 > len - 2 - h1 - h2)
        return len;
    const uint8_t *resource = m + 2 + h1 + h2, *rest = resource + l2;
    size_t rest_len = len - (size_t)(rest - m);
    size_t nl2 = l2 + n, nl1 = 1 + vsize(nl2) + nl2 + rest_len;
    size_t total = 1 + vsize(nl1) + nl1;
    if (total > cap) return len;
    size_t at = 1 + vsize(nl1) + 1 + vsize(nl2); /* where the resource goes */
    memmove(m + at + nl2, rest, rest_len);       /* the furthest move first: all move right */
    memmove(m + at, resource, l2);
    memcpy(m + at + l2, attrs, n);
    struct w w = {m};
    put_len(&w, 1, nl1);
    put_len(&w, 1, nl2);
    return total;
}

bool otlp_proto_append_with_attrs(struct buf *out, const uint8_t *src, size_t len,
                                  const uint8_t *attrs, size_t n) {
    for (size_t at = 0; at < len;) {
        uint64_t body;
        size_t hl = src[at] == 0x0a ? otlp_proto_varint(src + at + 1, len - at - 1, &body) : 0;
        size_t m = hl && body <= len - at - 1 - hl ? 1 + hl + (size_t)body : len - at;
        size_t room = m + n + 16; /* the lengths around the resource may grow */
        if (!buf_reserve(out, room)) return false;
        memcpy(out->data + out->len, src + at, m);
        out->len += otlp_proto_add_resource_attrs(out->data + out->len, m, room, attrs, n);
        at += m;
    }
    return true;
}

size_t otlp_proto_varint(const uint8_t *p, size_t len, uint64_t *v) {
    *v = 0;
    for (size_t i = 0; i < len && i < 10; i++) {
        *v |= (uint64_t)(p[i] & 0x7f) << (7 * i);
        if (!(p[i] & 0x80)) return i + 1;
    }
    return 0;
}

static void put_span(struct w *w, const struct span *s) {
    put_bytes(w, 1, s->ctx.trace_id, 16);
    put_bytes(w, 2, s->ctx.span_id, 8);
    if (s->trace_state.len) put_bytes(w, 3, s->trace_state.ptr, s->trace_state.len);
    if (s->has_parent) put_bytes(w, 4, s->parent_span_id, 8);
    put_bytes(w, 5, s->name.ptr, s->name.len);
    put_tag(w, 6, WT_VARINT);
    *w->p++ = s->kind;
    put_fixed64(w, 7, s->start_ns);
    put_fixed64(w, 8, s->end_ns);
    put_attrs(w, 9, &s->attrs);
    if (s->attrs.dropped) {
        put_tag(w, 10, WT_VARINT);
        put_varint(w, s->attrs.dropped);
    }
    for (const struct span_event *e = s->events; e; e = e->next) {
        put_len(w, 11, event_size(e));
        put_fixed64(w, 1, e->time_ns);
        put_bytes(w, 2, e->name.ptr, e->name.len);
        put_attrs(w, 3, &e->attrs);
        if (e->attrs.dropped) {
            put_tag(w, 4, WT_VARINT);
            put_varint(w, e->attrs.dropped);
        }
    }
    if (s->dropped_events) {
        put_tag(w, 12, WT_VARINT);
        put_varint(w, s->dropped_events);
    }
    for (const struct span_link *l = s->links; l; l = l->next) {
        put_len(w, 13, link_size(l));
        put_bytes(w, 1, l->ctx.trace_id, 16);
        put_bytes(w, 2, l->ctx.span_id, 8);
        if (l->trace_state.len) put_bytes(w, 3, l->trace_state.ptr, l->trace_state.len);
        put_attrs(w, 4, &l->attrs);
        if (l->attrs.dropped) {
            put_tag(w, 5, WT_VARINT);
            put_varint(w, l->attrs.dropped);
        }
        uint32_t lf = l->ctx.flags | FLAG_HAS_IS_REMOTE | (l->ctx.remote ? FLAG_IS_REMOTE : 0);
        put_tag(w, 6, WT_I32);
        for (int i = 0; i < 4; i++)
            *w->p++ = (uint8_t)(lf >> (8 * i));
    }
    if (s->dropped_links) {
        put_tag(w, 14, WT_VARINT);
        put_varint(w, s->dropped_links);
    }
    size_t st = status_size(s);
    if (st) {
        put_len(w, 15, st);
        if (s->status_message.len) put_bytes(w, 2, s->status_message.ptr, s->status_message.len);
        if (s->status_code) {
            put_tag(w, 3, WT_VARINT);
            *w->p++ = s->status_code;
        }
    }
    uint32_t flags = s->ctx.flags | FLAG_HAS_IS_REMOTE | (s->parent_remote ? FLAG_IS_REMOTE : 0);
    put_tag(w, 16, WT_I32);
    for (int i = 0; i < 4; i++)
        *w->p++ = (uint8_t)(flags >> (8 * i));
}

#define SIZE_CACHE 512

/* Asks for a span's memory ahead of its encoding: spans were written by
 * other threads, often on another core, a batch's time ago, so nearly every
 * line of one is a cache miss. Its record and arena are one block (the
 * arena's strings and attribute array follow the record): the lines up to
 * where the arena is filled, at most a slot's. */
static inline void prefetch_span(const struct span *s) {
    const char *p = (const char *)s, *end = s->arena.cur;
    if (!end || end < p || end > p + SPAN_SLOT) end = p + sizeof *s;
    for (; p < end; p += 64)
        __builtin_prefetch(p);
}

bool otlp_encode_traces(struct buf *out, const struct attr_list *resource,
                        struct span *const *spans, size_t n) {
    /* Sizing pass. The first SIZE_CACHE span sizes are kept for the write. */
    uint32_t cache[SIZE_CACHE];
    size_t spans_total = 0;
    for (size_t i = 0; i < n; i++) {
        if (i + 4 < n) __builtin_prefetch(spans[i + 4]);
        if (i + 2 < n) prefetch_span(spans[i + 2]);
        size_t sz = span_size(spans[i]);
        if (i < SIZE_CACHE) cache[i] = (uint32_t)sz;
        spans_total += lfield(sz);
    }
    size_t scope = lfield(strlen(OTELP_SCOPE_NAME)) + lfield(strlen(OTELP_VERSION));
    size_t scope_spans = lfield(scope) + spans_total;
    size_t res = attrs_size(resource);
    if (resource->dropped) res += 1 + vsize(resource->dropped);
    size_t resource_spans = lfield(res) + lfield(scope_spans);
    size_t total = lfield(resource_spans);
    if (!buf_reserve(out, total)) return false;

    struct w w = {out->data + out->len};
    put_len(&w, 1, resource_spans);
    put_len(&w, 1, res);
    put_attrs(&w, 1, resource);
    if (resource->dropped) {
        put_tag(&w, 2, WT_VARINT);
        put_varint(&w, resource->dropped);
    }
    put_len(&w, 2, scope_spans);
    put_len(&w, 1, scope);
    put_bytes(&w, 1, OTELP_SCOPE_NAME, strlen(OTELP_SCOPE_NAME));
    put_bytes(&w, 2, OTELP_VERSION, strlen(OTELP_VERSION));
    for (size_t i = 0; i < n; i++) {
        put_len(&w, 2, i < SIZE_CACHE ? cache[i] : span_size(spans[i]));
        put_span(&w, spans[i]);
    }
    out->len += total;
    return (size_t)(w.p - out->data) == out->len;
}

/* ---- logs ---- */

static size_t log_size(const struct log_record *r) {
    size_t n = 9 + 9; /* time, observed time */
    if (r->severity_number) n += 1 + vsize(r->severity_number);
    if (r->severity_text.len) n += lfield(r->severity_text.len);
    n += lfield(anyvalue_size(&r->body));
    n += attrs_size(&r->attrs);
    if (r->attrs.dropped) n += 1 + vsize(r->attrs.dropped);
    if (r->has_context) {
        if (r->flags) n += 1 + 4;
        n += lfield(16) + lfield(8);
    }
    if (r->event_name.len) n += lfield(r->event_name.len);
    return n;
}

static void put_log(struct w *w, const struct log_record *r) {
    put_fixed64(w, 1, r->time_ns);
    if (r->severity_number) {
        put_tag(w, 2, WT_VARINT);
        put_varint(w, r->severity_number);
    }
    if (r->severity_text.len) put_bytes(w, 3, r->severity_text.ptr, r->severity_text.len);
    put_len(w, 5, anyvalue_size(&r->body));
    put_anyvalue(w, &r->body);
    put_attrs(w, 6, &r->attrs);
    if (r->attrs.dropped) {
        put_tag(w, 7, WT_VARINT);
        put_varint(w, r->attrs.dropped);
    }
    if (r->has_context) {
        if (r->flags) { /* LogRecordFlags: the W3C trace flags in the low byte */
            put_tag(w, 8, WT_I32);
            *w->p++ = r->flags;
            for (int i = 1; i < 4; i++)
                *w->p++ = 0;
        }
        put_bytes(w, 9, r->trace_id, 16);
        put_bytes(w, 10, r->span_id, 8);
    }
    put_fixed64(w, 11, r->observed_ns);
    if (r->event_name.len) put_bytes(w, 12, r->event_name.ptr, r->event_name.len);
}

bool otlp_encode_logs(struct buf *out, const struct attr_list *resource,
                      struct log_record *const *logs, size_t n) {
    uint32_t cache[SIZE_CACHE];
    size_t logs_total = 0;
    for (size_t i = 0; i < n; i++) {
        size_t sz = log_size(logs[i]);
        if (i < SIZE_CACHE) cache[i] = (uint32_t)sz;
        logs_total += lfield(sz);
    }
    size_t scope = lfield(strlen(OTELP_SCOPE_NAME)) + lfield(strlen(OTELP_VERSION));
    size_t scope_logs = lfield(scope) + logs_total;
    size_t res = attrs_size(resource);
    if (resource->dropped) res += 1 + vsize(resource->dropped);
    size_t resource_logs = lfield(res) + lfield(scope_logs);
    size_t total = lfield(resource_logs);
    if (!buf_reserve(out, total)) return false;

    struct w w = {out->data + out->len};
    put_len(&w, 1, resource_logs);
    put_len(&w, 1, res);
    put_attrs(&w, 1, resource);
    if (resource->dropped) {
        put_tag(&w, 2, WT_VARINT);
        put_varint(&w, resource->dropped);
    }
    put_len(&w, 2, scope_logs);
    put_len(&w, 1, scope);
    put_bytes(&w, 1, OTELP_SCOPE_NAME, strlen(OTELP_SCOPE_NAME));
    put_bytes(&w, 2, OTELP_VERSION, strlen(OTELP_VERSION));
    for (size_t i = 0; i < n; i++) {
        put_len(&w, 2, i < SIZE_CACHE ? cache[i] : log_size(logs[i]));
        put_log(&w, logs[i]);
    }
    out->len += total;
    return (size_t)(w.p - out->data) == out->len;
}

/* ---- metrics ----
 *   ExportMetricsServiceRequest.resource_metrics 1
 *   ResourceMetrics: resource 1, scope_metrics 2; ScopeMetrics: scope 1, metrics 2
 *   Metric: name 1, description 2, unit 3, gauge 5, sum 7, histogram 9,
 *         exponential_histogram 10
 *   Gauge: data_points 1; Sum: data_points 1, aggregation_temporality 2,
 *         is_monotonic 3; Histogram, ExponentialHistogram: data_points 1,
 *         aggregation_temporality 2
 *   NumberDataPoint: attributes 7, start 2 (fixed64), time 3 (fixed64),
 *         as_double 4, as_int 6 (sfixed64), exemplars 5
 *   HistogramDataPoint: attributes 9, start 2, time 3, count 4 (fixed64),
 *         sum 5 (double), bucket_counts 6 (packed fixed64), explicit_bounds 7
 *         (packed double), exemplars 8, min 11, max 12
 *   ExponentialHistogramDataPoint: attributes 1, start 2, time 3, count 4,
 *         sum 5, scale 6 (sint32), zero_count 7 (fixed64), positive 8,
 *         negative 9, exemplars 11, min 12, max 13
 *   Buckets: offset 1 (sint32), bucket_counts 2 (packed varint)
 *   Exemplar: time 2 (fixed64), as_double 3, as_int 6 (sfixed64),
 *         span_id 4, trace_id 5 */

static struct attr_list point_attrs(const struct metric_point *p) {
    return (struct attr_list){(struct attr *)p->attrs, p->nattrs, p->nattrs, 0, 0};
}

static inline uint32_t zigzag32(int32_t v) {
    return ((uint32_t)v << 1) ^ (uint32_t)(v >> 31);
}

static bool has_ids(const struct metric_exemplar *e) {
    for (int i = 0; i < 16; i++)
        if (e->trace_id[i]) return true;
    return false;
}

static size_t exemplar_size(const struct metric_exemplar *e) {
    return 9 + 9 + (has_ids(e) ? lfield(8) + lfield(16) : 0);
}

static size_t exemplars_size(const struct metric_point *p) {
    size_t n = 0;
    for (uint32_t i = 0; i < p->nexemplars; i++)
        n += lfield(exemplar_size(&p->exemplars[i]));
    return n;
}

static size_t buckets_size(const struct exp_buckets *b) {
    size_t c = 0;
    for (uint32_t i = 0; i < b->count; i++)
        c += vsize(b->counts[i]);
    size_t n = b->offset ? 1 + vsize(zigzag32(b->offset)) : 0;
    return n + (c ? lfield(c) : 0);
}

static size_t point_size(const struct metric_data *d, const struct metric_point *p) {
    struct attr_list l = point_attrs(p);
    size_t n = attrs_size(&l) + 9 + 9 + exemplars_size(p);
    switch (d->type) {
    case METRIC_DATA_SUM:
    case METRIC_DATA_GAUGE:
        return n + 9;
    case METRIC_DATA_HISTOGRAM:
        n += 9 + 9 + lfield(8 * ((size_t)d->nboundaries + 1));
        if (d->nboundaries) n += lfield(8 * (size_t)d->nboundaries);
        return n + (p->count ? 18 : 0);
    case METRIC_DATA_EXP_HISTOGRAM:
        n += 9 + 9 + 9 + (p->scale ? 1 + vsize(zigzag32(p->scale)) : 0);
        n += lfield(buckets_size(&p->positive)) + lfield(buckets_size(&p->negative));
        return n + (p->count ? 18 : 0);
    }
    return n;
}

static size_t data_size(const struct metric_data *d) {
    size_t n = 0;
    for (uint32_t i = 0; i < d->npoints; i++)
        n += lfield(point_size(d, &d->points[i]));
    if (d->type != METRIC_DATA_GAUGE) n += 2; /* temporality */
    if (d->type == METRIC_DATA_SUM && d->monotonic) n += 2;
    return n;
}

static size_t metric_size(const struct metric_data *d) {
    size_t n = lfield(d->name.len) + lfield(data_size(d));
    if (d->description.len) n += lfield(d->description.len);
    if (d->unit.len) n += lfield(d->unit.len);
    return n;
}

static size_t mscope_size(const struct metric_data *d) {
    size_t n = lfield(d->scope.len);
    if (d->scope_version.len) n += lfield(d->scope_version.len);
    return n;
}

static bool same_scope(const struct metric_data *a, const struct metric_data *b) {
    return a->scope.len == b->scope.len && !memcmp(a->scope.ptr, b->scope.ptr, a->scope.len) &&
           a->scope_version.len == b->scope_version.len &&
           !memcmp(a->scope_version.ptr, b->scope_version.ptr, a->scope_version.len);
}

/* The metrics of one scope: items[i..*end). */
static size_t scope_metrics_size(struct metric_data *const *items, size_t n, size_t i,
                                 size_t *end) {
    size_t total = lfield(mscope_size(items[i]));
    size_t j = i;
    for (; j < n && same_scope(items[i], items[j]); j++)
        total += lfield(metric_size(items[j]));
    *end = j;
    return total;
}

static void put_double_field(struct w *w, unsigned field, double v) {
    uint64_t bits;
    memcpy(&bits, &v, 8);
    put_fixed64(w, field, bits);
}

static void put_raw64(struct w *w, uint64_t v) {
    for (int i = 0; i < 8; i++)
        *w->p++ = (uint8_t)(v >> (8 * i));
}

static void put_exemplars(struct w *w, unsigned field, const struct metric_point *p, bool dbl) {
    for (uint32_t i = 0; i < p->nexemplars; i++) {
        const struct metric_exemplar *e = &p->exemplars[i];
        put_len(w, field, exemplar_size(e));
        put_fixed64(w, 2, e->time_ns);
        if (dbl)
            put_double_field(w, 3, e->value.d);
        else
            put_fixed64(w, 6, (uint64_t)e->value.i);
        if (has_ids(e)) {
            put_bytes(w, 4, e->span_id, 8);
            put_bytes(w, 5, e->trace_id, 16);
        }
    }
}

static void put_buckets(struct w *w, unsigned field, const struct exp_buckets *b) {
    put_len(w, field, buckets_size(b));
    if (b->offset) {
        put_tag(w, 1, WT_VARINT);
        put_varint(w, zigzag32(b->offset));
    }
    size_t c = 0;
    for (uint32_t i = 0; i < b->count; i++)
        c += vsize(b->counts[i]);
    if (!c) return;
    put_len(w, 2, c);
    for (uint32_t i = 0; i < b->count; i++)
        put_varint(w, b->counts[i]);
}

static void put_point(struct w *w, const struct metric_data *d, const struct metric_point *p) {
    struct attr_list l = point_attrs(p);
    bool dbl = d->number == METRIC_DOUBLE;
    switch (d->type) {
    case METRIC_DATA_SUM:
    case METRIC_DATA_GAUGE:
        put_fixed64(w, 2, p->start_ns);
        put_fixed64(w, 3, p->time_ns);
        if (dbl)
            put_double_field(w, 4, p->value.d);
        else
            put_fixed64(w, 6, (uint64_t)p->value.i);
        put_exemplars(w, 5, p, dbl);
        put_attrs(w, 7, &l);
        return;
    case METRIC_DATA_HISTOGRAM:
        put_fixed64(w, 2, p->start_ns);
        put_fixed64(w, 3, p->time_ns);
        put_fixed64(w, 4, p->count);
        put_double_field(w, 5, p->sum);
        put_len(w, 6, 8 * ((size_t)d->nboundaries + 1));
        for (uint32_t i = 0; i <= d->nboundaries; i++)
            put_raw64(w, p->bucket_counts[i]);
        if (d->nboundaries) {
            put_len(w, 7, 8 * (size_t)d->nboundaries);
            for (uint32_t i = 0; i < d->nboundaries; i++) {
                uint64_t bits;
                memcpy(&bits, &d->boundaries[i], 8);
                put_raw64(w, bits);
            }
        }
        put_exemplars(w, 8, p, dbl);
        put_attrs(w, 9, &l);
        if (p->count) {
            put_double_field(w, 11, p->min);
            put_double_field(w, 12, p->max);
        }
        return;
    case METRIC_DATA_EXP_HISTOGRAM:
        put_attrs(w, 1, &l);
        put_fixed64(w, 2, p->start_ns);
        put_fixed64(w, 3, p->time_ns);
        put_fixed64(w, 4, p->count);
        put_double_field(w, 5, p->sum);
        if (p->scale) {
            put_tag(w, 6, WT_VARINT);
            put_varint(w, zigzag32(p->scale));
        }
        put_fixed64(w, 7, p->zero_count);
        put_buckets(w, 8, &p->positive);
        put_buckets(w, 9, &p->negative);
        put_exemplars(w, 11, p, dbl);
        if (p->count) {
            put_double_field(w, 12, p->min);
            put_double_field(w, 13, p->max);
        }
        return;
    }
}

static void put_metric(struct w *w, const struct metric_data *d) {
    put_bytes(w, 1, d->name.ptr, d->name.len);
    if (d->description.len) put_bytes(w, 2, d->description.ptr, d->description.len);
    if (d->unit.len) put_bytes(w, 3, d->unit.ptr, d->unit.len);
    static const unsigned fields[] = {[METRIC_DATA_SUM] = 7,
                                      [METRIC_DATA_GAUGE] = 5,
                                      [METRIC_DATA_HISTOGRAM] = 9,
                                      [METRIC_DATA_EXP_HISTOGRAM] = 10};
    put_len(w, fields[d->type], data_size(d));
    for (uint32_t i = 0; i < d->npoints; i++) {
        put_len(w, 1, point_size(d, &d->points[i]));
        put_point(w, d, &d->points[i]);
    }
    if (d->type != METRIC_DATA_GAUGE) {
        put_tag(w, 2, WT_VARINT);
        *w->p++ = (uint8_t)d->temporality;
    }
    if (d->type == METRIC_DATA_SUM && d->monotonic) {
        put_tag(w, 3, WT_VARINT);
        *w->p++ = 1;
    }
}

bool otlp_encode_metrics(struct buf *out, const struct attr_list *resource,
                         struct metric_data *const *items, size_t n) {
    size_t scopes = 0;
    for (size_t i = 0, end; i < n; i = end)
        scopes += lfield(scope_metrics_size(items, n, i, &end));
    size_t res = attrs_size(resource);
    if (resource->dropped) res += 1 + vsize(resource->dropped);
    size_t resource_metrics = lfield(res) + scopes;
    size_t total = lfield(resource_metrics);
    if (!buf_reserve(out, total)) return false;

    struct w w = {out->data + out->len};
    put_len(&w, 1, resource_metrics);
    put_len(&w, 1, res);
    put_attrs(&w, 1, resource);
    if (resource->dropped) {
        put_tag(&w, 2, WT_VARINT);
        put_varint(&w, resource->dropped);
    }
    for (size_t i = 0, end; i < n; i = end) {
        put_len(&w, 2, scope_metrics_size(items, n, i, &end));
        put_len(&w, 1, mscope_size(items[i]));
        put_bytes(&w, 1, items[i]->scope.ptr, items[i]->scope.len);
        if (items[i]->scope_version.len)
            put_bytes(&w, 2, items[i]->scope_version.ptr, items[i]->scope_version.len);
        for (size_t j = i; j < end; j++) {
            put_len(&w, 2, metric_size(items[j]));
            put_metric(&w, items[j]);
        }
    }
    out->len += total;
    return (size_t)(w.p - out->data) == out->len;
}
