/* otlp_decode: strict decoder of OTLP export requests into heap structs, for tests.
 * Depends on the nanopb-generated OTLP types (otlp_pb) and nanopb's pb_decode.h.
 *
 * Two passes over the bytes:
 *  1. validate(): walks the wire format against the generated message
 *     descriptors, checking that each known field has its declared wire type,
 *     that lengths fit, and that nesting is bounded; counts unknown fields.
 *     nanopb does not check wire types of callback fields itself.
 *  2. pb_decode() with the generated types; every callback field is bound to
 *     a small struct on the stack of the function decoding its message, which
 *     says where the value goes. Arrays grow with realloc.
 * The first error message is kept in struct dctx; nanopb's own "callback
 * failed" from outer levels never replaces it.
 */
#include "server/otlp_decode.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pb_common.h>
#include <pb_decode.h>

#include "opentelemetry/proto/collector/logs/v1/logs_service.pb.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"

struct dctx {
    char err[256];
    size_t unknown;
};

static bool fail(struct dctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static bool fail(struct dctx *c, const char *fmt, ...) {
    if (c->err[0] == '\0') {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->err, sizeof(c->err), fmt, ap);
        va_end(ap);
    }
    return false;
}

static bool stream_failed(struct dctx *c, pb_istream_t *s, const char *what) {
    return fail(c, "%s: %s", what, PB_GET_ERROR(s));
}

/* ---- pass 1: wire-format validation ---------------------------------- */

/* Field iterators compute member addresses from a message pointer; the
 * validator never touches them, but gives them real storage to point into. */
static union {
    max_align_t align;
    unsigned char bytes[1024];
} scratch;

#define FITS_SCRATCH(type) _Static_assert(sizeof(type) <= sizeof(scratch), #type " too large")
FITS_SCRATCH(opentelemetry_proto_trace_v1_Span);
FITS_SCRATCH(opentelemetry_proto_trace_v1_ResourceSpans);
FITS_SCRATCH(opentelemetry_proto_trace_v1_ScopeSpans);
FITS_SCRATCH(opentelemetry_proto_trace_v1_Span_Event);
FITS_SCRATCH(opentelemetry_proto_trace_v1_Span_Link);
FITS_SCRATCH(opentelemetry_proto_logs_v1_LogRecord);
FITS_SCRATCH(opentelemetry_proto_logs_v1_ResourceLogs);
FITS_SCRATCH(opentelemetry_proto_logs_v1_ScopeLogs);
FITS_SCRATCH(opentelemetry_proto_common_v1_AnyValue);
FITS_SCRATCH(opentelemetry_proto_common_v1_KeyValue);
FITS_SCRATCH(opentelemetry_proto_common_v1_InstrumentationScope);
FITS_SCRATCH(opentelemetry_proto_resource_v1_Resource);
FITS_SCRATCH(opentelemetry_proto_metrics_v1_ResourceMetrics);
FITS_SCRATCH(opentelemetry_proto_metrics_v1_ScopeMetrics);
FITS_SCRATCH(opentelemetry_proto_metrics_v1_Metric);
FITS_SCRATCH(opentelemetry_proto_metrics_v1_NumberDataPoint);
FITS_SCRATCH(opentelemetry_proto_metrics_v1_HistogramDataPoint);
FITS_SCRATCH(opentelemetry_proto_metrics_v1_ExponentialHistogramDataPoint);
FITS_SCRATCH(opentelemetry_proto_metrics_v1_SummaryDataPoint);
FITS_SCRATCH(opentelemetry_proto_metrics_v1_Exemplar);

static pb_wire_type_t wire_type_of(pb_type_t type) {
    switch (PB_LTYPE(type)) {
    case PB_LTYPE_BOOL:
    case PB_LTYPE_VARINT:
    case PB_LTYPE_UVARINT:
    case PB_LTYPE_SVARINT:
        return PB_WT_VARINT;
    case PB_LTYPE_FIXED32:
        return PB_WT_32BIT;
    case PB_LTYPE_FIXED64:
        return PB_WT_64BIT;
    default:
        return PB_WT_STRING;
    }
}

static bool validate(struct dctx *c, pb_istream_t *s, const pb_msgdesc_t *desc, int depth) {
    if (depth > OTLP_DECODE_MAX_DEPTH)
        return fail(c, "messages nested deeper than %d", OTLP_DECODE_MAX_DEPTH);

    while (s->bytes_left > 0) {
        pb_wire_type_t wt;
        uint32_t tag;
        bool eof;
        if (!pb_decode_tag(s, &wt, &tag, &eof)) return stream_failed(c, s, "bad field tag");
        if (tag == 0) return fail(c, "field number 0 at depth %d", depth);

        pb_field_iter_t it;
        if (!pb_field_iter_begin(&it, desc, &scratch) || !pb_field_iter_find(&it, tag)) {
            c->unknown++;
            if (!pb_skip_field(s, wt)) return stream_failed(c, s, "bad unknown field");
            continue;
        }

        pb_wire_type_t want = wire_type_of(it.type);
        bool packed = PB_HTYPE(it.type) == PB_HTYPE_REPEATED &&
                      PB_LTYPE(it.type) <= PB_LTYPE_LAST_PACKABLE && wt == PB_WT_STRING;
        if (wt != want && !packed)
            return fail(c, "field %u at depth %d: wire type %d, expected %d", (unsigned)tag, depth,
                        (int)wt, (int)want);

        if (wt == PB_WT_VARINT) {
            uint64_t v;
            if (!pb_decode_varint(s, &v)) /* range checks: pb_decode, pass 2 */
                return stream_failed(c, s, "bad varint");
        } else if (wt == PB_WT_STRING && PB_LTYPE_IS_SUBMSG(it.type)) {
            pb_istream_t sub;
            if (!pb_make_string_substream(s, &sub))
                return stream_failed(c, s, "bad submessage length");
            if (!validate(c, &sub, it.submsg_desc, depth + 1)) return false;
            if (!pb_close_string_substream(s, &sub)) return stream_failed(c, s, "bad submessage");
        } else {
            if (!pb_skip_field(s, wt)) return stream_failed(c, s, "truncated field");
        }
    }
    return true;
}

/* ---- helpers for pass 2 ---------------------------------------------- */

static bool valid_utf8(const unsigned char *p, size_t n) {
    size_t i = 0;
    while (i < n) {
        unsigned char b = p[i];
        size_t len;
        uint32_t cp;
        if (b < 0x80) {
            i++;
            continue;
        } else if ((b & 0xE0) == 0xC0) {
            len = 2;
            cp = b & 0x1F;
        } else if ((b & 0xF0) == 0xE0) {
            len = 3;
            cp = b & 0x0F;
        } else if ((b & 0xF8) == 0xF0) {
            len = 4;
            cp = b & 0x07;
        } else {
            return false;
        }
        if (n - i < len) return false;
        for (size_t k = 1; k < len; k++) {
            if ((p[i + k] & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (p[i + k] & 0x3F);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
            cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += len;
    }
    return true;
}

/* Reads the rest of the stream into a fresh NUL-terminated copy. */
static bool read_all(struct dctx *c, pb_istream_t *s, char **dst, size_t *len_out, bool utf8,
                     const char *what) {
    size_t n = s->bytes_left;
    char *p = malloc(n + 1);
    if (p == NULL) return fail(c, "out of memory");
    if (!pb_read(s, (pb_byte_t *)p, n)) {
        free(p);
        return stream_failed(c, s, what);
    }
    p[n] = '\0';
    if (utf8 && !valid_utf8((const unsigned char *)p, n)) {
        free(p);
        return fail(c, "%s: invalid UTF-8", what);
    }
    free(*dst); /* a repeated singular field: the last one wins */
    *dst = p;
    if (len_out != NULL) *len_out = n;
    return true;
}

static bool ensure_str(struct dctx *c, char **p) {
    if (*p != NULL) return true;
    *p = calloc(1, 1);
    return *p != NULL || fail(c, "out of memory");
}

static void *grow_array(struct dctx *c, void *old, size_t count, size_t elem) {
    void *p = realloc(old, (count + 1) * elem);
    if (p == NULL) {
        fail(c, "out of memory");
        return NULL;
    }
    memset((char *)p + count * elem, 0, elem);
    return p;
}

/* Appends a zeroed element to arr[count], pointing out at it; returns false
 * from the calling callback on failure. */
#define APPEND(c, arr, count, out)                                                                 \
    do {                                                                                           \
        void *np_ = grow_array((c), (arr), (count), sizeof *(arr));                                \
        if (np_ == NULL) return false;                                                             \
        (arr) = np_;                                                                               \
        (out) = &(arr)[(count)++];                                                                 \
    } while (0)

/* A callback's binding: which decode context, and where the value goes. */
struct bind {
    struct dctx *c;
    void *dst;
    const char *what;
};

#define BIND(cb, field, b)                                                                         \
    do {                                                                                           \
        (field).funcs.decode = (cb);                                                               \
        (field).arg = (b);                                                                         \
    } while (0)

static bool cb_string(pb_istream_t *s, const pb_field_t *f, void **arg) {
    (void)f;
    struct bind *b = *arg;
    return read_all(b->c, s, b->dst, NULL, true, b->what);
}

static bool cb_attr(pb_istream_t *s, const pb_field_t *f, void **arg);

/* ---- AnyValue --------------------------------------------------------- */

struct any_frame {
    struct dctx *c;
    struct otlp_value *v;
    unsigned seen; /* bit per AnyValue field number set by a callback */
};

static bool cb_any_str(pb_istream_t *s, const pb_field_t *f, void **arg) {
    struct any_frame *af = *arg;
    bool is_string = f->tag == opentelemetry_proto_common_v1_AnyValue_string_value_tag;
    af->seen |= 1u << f->tag;
    return read_all(af->c, s, &af->v->str, &af->v->len, is_string,
                    is_string ? "AnyValue.string_value" : "AnyValue.bytes_value");
}

static bool decode_any(struct dctx *c, pb_istream_t *s, struct otlp_value *v);

static bool cb_array_item(pb_istream_t *s, const pb_field_t *f, void **arg) {
    (void)f;
    struct any_frame *af = *arg;
    struct otlp_value *item;
    APPEND(af->c, af->v->items, af->v->n_items, item);
    return decode_any(af->c, s, item);
}

static bool cb_kvlist_item(pb_istream_t *s, const pb_field_t *f, void **arg) {
    struct any_frame *af = *arg;
    struct otlp_attrs list = {af->v->kvs, af->v->n_kvs};
    struct bind b = {af->c, &list, "KeyValueList"};
    void *pb = &b;
    bool ok = cb_attr(s, f, &pb);
    af->v->kvs = list.items;
    af->v->n_kvs = list.count;
    return ok;
}

static void any_bind(opentelemetry_proto_common_v1_AnyValue *m, struct any_frame *af) {
    BIND(cb_any_str, m->string_value, af);
    BIND(cb_any_str, m->bytes_value, af);
    BIND(cb_array_item, m->array_value.values, af);
    BIND(cb_kvlist_item, m->kvlist_value.values, af);
}

/* After pb_decode: at most one member may be present. */
static bool any_finish(struct any_frame *af, const opentelemetry_proto_common_v1_AnyValue *m) {
    struct otlp_value *v = af->v;
    int n = 0;
    v->type = OTLP_VALUE_EMPTY;
    if (af->seen & (1u << opentelemetry_proto_common_v1_AnyValue_string_value_tag)) {
        v->type = OTLP_VALUE_STRING;
        n++;
    }
    if (af->seen & (1u << opentelemetry_proto_common_v1_AnyValue_bytes_value_tag)) {
        v->type = OTLP_VALUE_BYTES;
        n++;
    }
    if (m->has_bool_value) {
        v->type = OTLP_VALUE_BOOL;
        v->b = m->bool_value;
        n++;
    }
    if (m->has_int_value) {
        v->type = OTLP_VALUE_INT;
        v->i = m->int_value;
        n++;
    }
    if (m->has_double_value) {
        v->type = OTLP_VALUE_DOUBLE;
        v->d = m->double_value;
        n++;
    }
    if (m->has_array_value) {
        v->type = OTLP_VALUE_ARRAY;
        n++;
    }
    if (m->has_kvlist_value) {
        v->type = OTLP_VALUE_KVLIST;
        n++;
    }
    if (n > 1) return fail(af->c, "AnyValue holds %d values", n);
    return true;
}

static bool decode_any(struct dctx *c, pb_istream_t *s, struct otlp_value *v) {
    opentelemetry_proto_common_v1_AnyValue m = opentelemetry_proto_common_v1_AnyValue_init_zero;
    struct any_frame af = {c, v, 0};
    any_bind(&m, &af);
    if (!pb_decode(s, opentelemetry_proto_common_v1_AnyValue_fields, &m))
        return stream_failed(c, s, "AnyValue");
    return any_finish(&af, &m);
}

/* ---- KeyValue lists ---------------------------------------------------- */

/* Appends one KeyValue to the struct otlp_attrs in the binding. */
static bool cb_attr(pb_istream_t *s, const pb_field_t *f, void **arg) {
    (void)f;
    struct bind *b = *arg;
    struct otlp_attrs *list = b->dst;
    struct otlp_attr *a;
    APPEND(b->c, list->items, list->count, a);

    opentelemetry_proto_common_v1_KeyValue m = opentelemetry_proto_common_v1_KeyValue_init_zero;
    struct bind key = {b->c, &a->key, "KeyValue.key"};
    struct any_frame af = {b->c, &a->value, 0};
    BIND(cb_string, m.key, &key);
    any_bind(&m.value, &af);
    if (!pb_decode(s, opentelemetry_proto_common_v1_KeyValue_fields, &m))
        return stream_failed(b->c, s, b->what);
    if (!ensure_str(b->c, &a->key)) return false;
    if (!m.has_value) {
        a->value.type = OTLP_VALUE_EMPTY;
        return true;
    }
    return any_finish(&af, &m.value);
}

/* ---- scope and resource ---------------------------------------------- */

struct scope_binds {
    struct bind name, version, attrs;
};

static void scope_bind(struct dctx *c, opentelemetry_proto_common_v1_InstrumentationScope *m,
                       struct otlp_scope *dst, struct scope_binds *b) {
    b->name = (struct bind){c, &dst->name, "InstrumentationScope.name"};
    b->version = (struct bind){c, &dst->version, "InstrumentationScope.version"};
    b->attrs = (struct bind){c, &dst->attrs, "InstrumentationScope.attributes"};
    BIND(cb_string, m->name, &b->name);
    BIND(cb_string, m->version, &b->version);
    BIND(cb_attr, m->attributes, &b->attrs);
}

static bool scope_finish(struct dctx *c,
                         const opentelemetry_proto_common_v1_InstrumentationScope *m,
                         struct otlp_scope *dst) {
    dst->dropped_attributes_count = m->dropped_attributes_count;
    return ensure_str(c, &dst->name) && ensure_str(c, &dst->version);
}

/* ---- traces ------------------------------------------------------------ */

static bool cb_event(pb_istream_t *s, const pb_field_t *f, void **arg) {
    (void)f;
    struct bind *b = *arg;
    struct otlp_span *sp = b->dst;
    struct otlp_event *ev;
    APPEND(b->c, sp->events, sp->n_events, ev);

    opentelemetry_proto_trace_v1_Span_Event m = opentelemetry_proto_trace_v1_Span_Event_init_zero;
    struct bind name = {b->c, &ev->name, "Event.name"};
    struct bind attrs = {b->c, &ev->attrs, "Event.attributes"};
    BIND(cb_string, m.name, &name);
    BIND(cb_attr, m.attributes, &attrs);
    if (!pb_decode(s, opentelemetry_proto_trace_v1_Span_Event_fields, &m))
        return stream_failed(b->c, s, "Span.Event");
    ev->time_unix_nano = m.time_unix_nano;
    ev->dropped_attributes_count = m.dropped_attributes_count;
    return ensure_str(b->c, &ev->name);
}

static bool cb_link(pb_istream_t *s, const pb_field_t *f, void **arg) {
    (void)f;
    struct bind *b = *arg;
    struct otlp_span *sp = b->dst;
    struct otlp_link *ln;
    APPEND(b->c, sp->links, sp->n_links, ln);

    opentelemetry_proto_trace_v1_Span_Link m = opentelemetry_proto_trace_v1_Span_Link_init_zero;
    struct bind ts = {b->c, &ln->trace_state, "Link.trace_state"};
    struct bind attrs = {b->c, &ln->attrs, "Link.attributes"};
    BIND(cb_string, m.trace_state, &ts);
    BIND(cb_attr, m.attributes, &attrs);
    if (!pb_decode(s, opentelemetry_proto_trace_v1_Span_Link_fields, &m))
        return stream_failed(b->c, s, "Span.Link");
    memcpy(ln->trace_id, m.trace_id, sizeof(ln->trace_id));
    memcpy(ln->span_id, m.span_id, sizeof(ln->span_id));
    ln->dropped_attributes_count = m.dropped_attributes_count;
    ln->flags = m.flags;
    return ensure_str(b->c, &ln->trace_state);
}

static bool cb_span(pb_istream_t *s, const pb_field_t *f, void **arg) {
    (void)f;
    struct bind *b = *arg;
    struct otlp_scope_spans *ss = b->dst;
    struct otlp_span *sp;
    APPEND(b->c, ss->spans, ss->n_spans, sp);

    opentelemetry_proto_trace_v1_Span m = opentelemetry_proto_trace_v1_Span_init_zero;
    struct bind ts = {b->c, &sp->trace_state, "Span.trace_state"};
    struct bind name = {b->c, &sp->name, "Span.name"};
    struct bind attrs = {b->c, &sp->attrs, "Span.attributes"};
    struct bind events = {b->c, sp, "Span.events"};
    struct bind links = {b->c, sp, "Span.links"};
    struct bind msg = {b->c, &sp->status_message, "Status.message"};
    BIND(cb_string, m.trace_state, &ts);
    BIND(cb_string, m.name, &name);
    BIND(cb_attr, m.attributes, &attrs);
    BIND(cb_event, m.events, &events);
    BIND(cb_link, m.links, &links);
    BIND(cb_string, m.status.message, &msg);
    if (!pb_decode(s, opentelemetry_proto_trace_v1_Span_fields, &m))
        return stream_failed(b->c, s, "Span");
    memcpy(sp->trace_id, m.trace_id, sizeof(sp->trace_id));
    memcpy(sp->span_id, m.span_id, sizeof(sp->span_id));
    memcpy(sp->parent_span_id, m.parent_span_id, sizeof(sp->parent_span_id));
    sp->flags = m.flags;
    sp->kind = (int)m.kind;
    sp->start_time_unix_nano = m.start_time_unix_nano;
    sp->end_time_unix_nano = m.end_time_unix_nano;
    sp->dropped_attributes_count = m.dropped_attributes_count;
    sp->dropped_events_count = m.dropped_events_count;
    sp->dropped_links_count = m.dropped_links_count;
    sp->has_status = m.has_status;
    sp->status_code = (int)m.status.code;
    return ensure_str(b->c, &sp->trace_state) && ensure_str(b->c, &sp->name) &&
           ensure_str(b->c, &sp->status_message);
}

static bool cb_scope_spans(pb_istream_t *s, const pb_field_t *f, void **arg) {
    (void)f;
    struct bind *b = *arg;
    struct otlp_resource_spans *rs = b->dst;
    struct otlp_scope_spans *ss;
    APPEND(b->c, rs->scope_spans, rs->n_scope_spans, ss);

    opentelemetry_proto_trace_v1_ScopeSpans m = opentelemetry_proto_trace_v1_ScopeSpans_init_zero;
    struct scope_binds sb;
    struct bind spans = {b->c, ss, "ScopeSpans.spans"};
    struct bind url = {b->c, &ss->schema_url, "ScopeSpans.schema_url"};
    scope_bind(b->c, &m.scope, &ss->scope, &sb);
    BIND(cb_span, m.spans, &spans);
    BIND(cb_string, m.schema_url, &url);
    if (!pb_decode(s, opentelemetry_proto_trace_v1_ScopeSpans_fields, &m))
        return stream_failed(b->c, s, "ScopeSpans");
    ss->has_scope = m.has_scope;
    return scope_finish(b->c, &m.scope, &ss->scope) && ensure_str(b->c, &ss->schema_url);
}

static bool cb_resource_spans(pb_istream_t *s, const pb_field_t *f, void **arg) {
    (void)f;
    struct bind *b = *arg;
    struct otlp_traces *req = b->dst;
    struct otlp_resource_spans *rs;
    APPEND(b->c, req->resource_spans, req->n_resource_spans, rs);

    opentelemetry_proto_trace_v1_ResourceSpans m =
        opentelemetry_proto_trace_v1_ResourceSpans_init_zero;
    struct bind attrs = {b->c, &rs->resource.attrs, "Resource.attributes"};
    struct bind scopes = {b->c, rs, "ResourceSpans.scope_spans"};
    struct bind url = {b->c, &rs->schema_url, "ResourceSpans.schema_url"};
    BIND(cb_attr, m.resource.attributes, &attrs);
    BIND(cb_scope_spans, m.scope_spans, &scopes);
    BIND(cb_string, m.schema_url, &url);
    if (!pb_decode(s, opentelemetry_proto_trace_v1_ResourceSpans_fields, &m))
        return stream_failed(b->c, s, "ResourceSpans");
    rs->resource.present = m.has_resource;
    rs->resource.dropped_attributes_count = m.resource.dropped_attributes_count;
    return ensure_str(b->c, &rs->schema_url);
}

static void set_err(char *err, size_t err_size, const char *msg) {
    if (err != NULL && err_size > 0) snprintf(err, err_size, "%s", msg);
}

struct otlp_traces *otlp_traces_decode(const void *buf, size_t len, char *err, size_t err_size) {
    struct dctx c = {{0}, 0};
    pb_istream_t s = pb_istream_from_buffer(buf, len);
    if (!validate(&c, &s, opentelemetry_proto_collector_trace_v1_ExportTraceServiceRequest_fields,
                  0)) {
        set_err(err, err_size, c.err);
        return NULL;
    }

    struct otlp_traces *req = calloc(1, sizeof(*req));
    if (req == NULL) {
        set_err(err, err_size, "out of memory");
        return NULL;
    }
    req->unknown_fields = c.unknown;
    opentelemetry_proto_collector_trace_v1_ExportTraceServiceRequest m =
        opentelemetry_proto_collector_trace_v1_ExportTraceServiceRequest_init_zero;
    struct bind rs = {&c, req, "ExportTraceServiceRequest.resource_spans"};
    BIND(cb_resource_spans, m.resource_spans, &rs);
    s = pb_istream_from_buffer(buf, len);
    if (!pb_decode(&s, opentelemetry_proto_collector_trace_v1_ExportTraceServiceRequest_fields,
                   &m)) {
        stream_failed(&c, &s, "ExportTraceServiceRequest");
        set_err(err, err_size, c.err);
        otlp_traces_free(req);
        return NULL;
    }
    return req;
}

/* ---- logs -------------------------------------------------------------- */

static bool cb_log(pb_istream_t *s, const pb_field_t *f, void **arg) {
    (void)f;
    struct bind *b = *arg;
    struct otlp_scope_logs *sl = b->dst;
    struct otlp_log *lr;
    APPEND(b->c, sl->logs, sl->n_logs, lr);

    opentelemetry_proto_logs_v1_LogRecord m = opentelemetry_proto_logs_v1_LogRecord_init_zero;
    struct bind sev = {b->c, &lr->severity_text, "LogRecord.severity_text"};
    struct bind attrs = {b->c, &lr->attrs, "LogRecord.attributes"};
    struct bind ev = {b->c, &lr->event_name, "LogRecord.event_name"};
    struct any_frame body = {b->c, &lr->body, 0};
    BIND(cb_string, m.severity_text, &sev);
    BIND(cb_attr, m.attributes, &attrs);
    BIND(cb_string, m.event_name, &ev);
    any_bind(&m.body, &body);
    if (!pb_decode(s, opentelemetry_proto_logs_v1_LogRecord_fields, &m))
        return stream_failed(b->c, s, "LogRecord");
    lr->time_unix_nano = m.time_unix_nano;
    lr->observed_time_unix_nano = m.observed_time_unix_nano;
    lr->severity_number = (int)m.severity_number;
    lr->dropped_attributes_count = m.dropped_attributes_count;
    lr->flags = m.flags;
    memcpy(lr->trace_id, m.trace_id, sizeof(lr->trace_id));
    memcpy(lr->span_id, m.span_id, sizeof(lr->span_id));
    lr->has_body = m.has_body;
    if (m.has_body && !any_finish(&body, &m.body)) return false;
    return ensure_str(b->c, &lr->severity_text) && ensure_str(b->c, &lr->event_name);
}

static bool cb_scope_logs(pb_istream_t *s, const pb_field_t *f, void **arg) {
    (void)f;
    struct bind *b = *arg;
    struct otlp_resource_logs *rl = b->dst;
    struct otlp_scope_logs *sl;
    APPEND(b->c, rl->scope_logs, rl->n_scope_logs, sl);

    opentelemetry_proto_logs_v1_ScopeLogs m = opentelemetry_proto_logs_v1_ScopeLogs_init_zero;
    struct scope_binds sb;
    struct bind logs = {b->c, sl, "ScopeLogs.log_records"};
    struct bind url = {b->c, &sl->schema_url, "ScopeLogs.schema_url"};
    scope_bind(b->c, &m.scope, &sl->scope, &sb);
    BIND(cb_log, m.log_records, &logs);
    BIND(cb_string, m.schema_url, &url);
    if (!pb_decode(s, opentelemetry_proto_logs_v1_ScopeLogs_fields, &m))
        return stream_failed(b->c, s, "ScopeLogs");
    sl->has_scope = m.has_scope;
    return scope_finish(b->c, &m.scope, &sl->scope) && ensure_str(b->c, &sl->schema_url);
}

static bool cb_resource_logs(pb_istream_t *s, const pb_field_t *f, void **arg) {
    (void)f;
    struct bind *b = *arg;
    struct otlp_logs *req = b->dst;
    struct otlp_resource_logs *rl;
    APPEND(b->c, req->resource_logs, req->n_resource_logs, rl);

    opentelemetry_proto_logs_v1_ResourceLogs m = opentelemetry_proto_logs_v1_ResourceLogs_init_zero;
    struct bind attrs = {b->c, &rl->resource.attrs, "Resource.attributes"};
    struct bind scopes = {b->c, rl, "ResourceLogs.scope_logs"};
    struct bind url = {b->c, &rl->schema_url, "ResourceLogs.schema_url"};
    BIND(cb_attr, m.resource.attributes, &attrs);
    BIND(cb_scope_logs, m.scope_logs, &scopes);
    BIND(cb_string, m.schema_url, &url);
    if (!pb_decode(s, opentelemetry_proto_logs_v1_ResourceLogs_fields, &m))
        return stream_failed(b->c, s, "ResourceLogs");
    rl->resource.present = m.has_resource;
    rl->resource.dropped_attributes_count = m.resource.dropped_attributes_count;
    return ensure_str(b->c, &rl->schema_url);
}

struct otlp_logs *otlp_logs_decode(const void *buf, size_t len, char *err, size_t err_size) {
    struct dctx c = {{0}, 0};
    pb_istream_t s = pb_istream_from_buffer(buf, len);
    if (!validate(&c, &s, opentelemetry_proto_collector_logs_v1_ExportLogsServiceRequest_fields,
                  0)) {
        set_err(err, err_size, c.err);
        return NULL;
    }

    struct otlp_logs *req = calloc(1, sizeof(*req));
    if (req == NULL) {
        set_err(err, err_size, "out of memory");
        return NULL;
    }
    req->unknown_fields = c.unknown;
    opentelemetry_proto_collector_logs_v1_ExportLogsServiceRequest m =
        opentelemetry_proto_collector_logs_v1_ExportLogsServiceRequest_init_zero;
    struct bind rl = {&c, req, "ExportLogsServiceRequest.resource_logs"};
    BIND(cb_resource_logs, m.resource_logs, &rl);
    s = pb_istream_from_buffer(buf, len);
    if (!pb_decode(&s, opentelemetry_proto_collector_logs_v1_ExportLogsServiceRequest_fields, &m)) {
        stream_failed(&c, &s, "ExportLogsServiceRequest");
        set_err(err, err_size, c.err);
        otlp_logs_free(req);
        return NULL;
    }
    return req;
}

/* ---- metrics ----------------------------------------------------------- */

/* A growing array of scalars: where the pointer and the count live. */
struct scalars {
    struct dctx *c;
    void **items;
    size_t *count;
    size_t elem;
    const char *what;
};

static bool push_scalar(struct scalars *sc, const void *v) {
    char *p = grow_array(sc->c, *sc->items, *sc->count, sc->elem);
    if (p == NULL) return false;
    memcpy(p + *sc->count * sc->elem, v, sc->elem);
    *sc->items = p;
    (*sc->count)++;
    return true;
}

/* repeated fixed64 (packed or not): nanopb calls once per element, and once
 * for an empty packed field (length 0), which holds no element. */
static bool cb_fixed64(pb_istream_t *s, const pb_field_t *f, void **arg) {
    (void)f;
    struct scalars *sc = *arg;
    uint64_t v;
    if (s->bytes_left == 0) return true;
    if (!pb_decode_fixed64(s, &v)) return stream_failed(sc->c, s, sc->what);
    return push_scalar(sc, &v);
}

/* repeated uint64 (varint, packed or not). */
static bool cb_uvarint(pb_istream_t *s, const pb_field_t *f, void **arg) {
    (void)f;
    struct scalars *sc = *arg;
    uint64_t v;
    if (s->bytes_left == 0) return true;
    if (!pb_decode_varint(s, &v)) return stream_failed(sc->c, s, sc->what);
    return push_scalar(sc, &v);
}

/* repeated double (fixed 64-bit). */
static bool cb_double(pb_istream_t *s, const pb_field_t *f, void **arg) {
    (void)f;
    struct scalars *sc = *arg;
    double v;
    if (s->bytes_left == 0) return true;
    if (!pb_decode_fixed64(s, &v)) return stream_failed(sc->c, s, sc->what);
    return push_scalar(sc, &v);
}

#define SCALARS(c, arr, count, what)                                                               \
    { (c), (void **)&(arr), &(count), sizeof(*(arr)), (what) }

static bool cb_exemplar(pb_istream_t *s, const pb_field_t *f, void **arg) {
    (void)f;
    struct bind *b = *arg;
    struct otlp_point *pt = b->dst;
    struct otlp_exemplar *ex;
    APPEND(b->c, pt->exemplars, pt->n_exemplars, ex);

    opentelemetry_proto_metrics_v1_Exemplar m = opentelemetry_proto_metrics_v1_Exemplar_init_zero;
    struct bind attrs = {b->c, &ex->attrs, "Exemplar.filtered_attributes"};
    BIND(cb_attr, m.filtered_attributes, &attrs);
    if (!pb_decode(s, opentelemetry_proto_metrics_v1_Exemplar_fields, &m))
        return stream_failed(b->c, s, "Exemplar");
    if (m.has_as_int && m.has_as_double) return fail(b->c, "Exemplar holds two values");
    ex->time_unix_nano = m.time_unix_nano;
    ex->has_value = m.has_as_int || m.has_as_double;
    ex->is_int = m.has_as_int;
    ex->as_int = m.as_int;
    ex->as_double = m.as_double;
    memcpy(ex->trace_id, m.trace_id, sizeof(ex->trace_id));
    memcpy(ex->span_id, m.span_id, sizeof(ex->span_id));
    return true;
}

/* Binds the fields every point type shares: attributes and exemplars. */
struct point_binds {
    struct bind attrs, exemplars;
};

static void point_bind(struct dctx *c, struct otlp_point *pt, struct point_binds *pb,
                       pb_callback_t *attrs, pb_callback_t *exemplars) {
    pb->attrs = (struct bind){c, &pt->attrs, "DataPoint.attributes"};
    pb->exemplars = (struct bind){c, pt, "DataPoint.exemplars"};
    BIND(cb_attr, *attrs, &pb->attrs);
    if (exemplars != NULL) BIND(cb_exemplar, *exemplars, &pb->exemplars);
}

static bool cb_number_point(pb_istream_t *s, const pb_field_t *f, void **arg) {
    (void)f;
    struct bind *b = *arg;
    struct otlp_metric *mt = b->dst;
    struct otlp_point *pt;
    APPEND(b->c, mt->points, mt->n_points, pt);

    opentelemetry_proto_metrics_v1_NumberDataPoint m =
        opentelemetry_proto_metrics_v1_NumberDataPoint_init_zero;
    struct point_binds pb;
    point_bind(b->c, pt, &pb, &m.attributes, &m.exemplars);
    if (!pb_decode(s, opentelemetry_proto_metrics_v1_NumberDataPoint_fields, &m))
        return stream_failed(b->c, s, "NumberDataPoint");
    if (m.has_as_int && m.has_as_double) return fail(b->c, "NumberDataPoint holds two values");
    pt->start_time_unix_nano = m.start_time_unix_nano;
    pt->time_unix_nano = m.time_unix_nano;
    pt->flags = m.flags;
    pt->has_value = m.has_as_int || m.has_as_double;
    pt->is_int = m.has_as_int;
    pt->as_int = m.as_int;
    pt->as_double = m.as_double;
    return true;
}

static bool cb_histogram_point(pb_istream_t *s, const pb_field_t *f, void **arg) {
    (void)f;
    struct bind *b = *arg;
    struct otlp_metric *mt = b->dst;
    struct otlp_point *pt;
    APPEND(b->c, mt->points, mt->n_points, pt);

    opentelemetry_proto_metrics_v1_HistogramDataPoint m =
        opentelemetry_proto_metrics_v1_HistogramDataPoint_init_zero;
    struct point_binds pb;
    struct scalars counts =
        SCALARS(b->c, pt->bucket_counts, pt->n_bucket_counts, "HistogramDataPoint.bucket_counts");
    struct scalars bounds = SCALARS(b->c, pt->explicit_bounds, pt->n_explicit_bounds,
                                    "HistogramDataPoint.explicit_bounds");
    point_bind(b->c, pt, &pb, &m.attributes, &m.exemplars);
    BIND(cb_fixed64, m.bucket_counts, &counts);
    BIND(cb_double, m.explicit_bounds, &bounds);
    if (!pb_decode(s, opentelemetry_proto_metrics_v1_HistogramDataPoint_fields, &m))
        return stream_failed(b->c, s, "HistogramDataPoint");
    if (pt->n_bucket_counts != 0 && pt->n_bucket_counts != pt->n_explicit_bounds + 1)
        return fail(b->c, "HistogramDataPoint: %zu bucket counts for %zu bounds",
                    pt->n_bucket_counts, pt->n_explicit_bounds);
    pt->start_time_unix_nano = m.start_time_unix_nano;
    pt->time_unix_nano = m.time_unix_nano;
    pt->flags = m.flags;
    pt->count = m.count;
    pt->has_sum = m.has_sum;
    pt->sum = m.sum;
    pt->has_min = m.has_min;
    pt->min = m.min;
    pt->has_max = m.has_max;
    pt->max = m.max;
    return true;
}

static bool cb_exp_point(pb_istream_t *s, const pb_field_t *f, void **arg) {
    (void)f;
    struct bind *b = *arg;
    struct otlp_metric *mt = b->dst;
    struct otlp_point *pt;
    APPEND(b->c, mt->points, mt->n_points, pt);

    opentelemetry_proto_metrics_v1_ExponentialHistogramDataPoint m =
        opentelemetry_proto_metrics_v1_ExponentialHistogramDataPoint_init_zero;
    struct point_binds pb;
    struct scalars pos = SCALARS(b->c, pt->positive.counts, pt->positive.n_counts,
                                 "ExponentialHistogramDataPoint.positive");
    struct scalars neg = SCALARS(b->c, pt->negative.counts, pt->negative.n_counts,
                                 "ExponentialHistogramDataPoint.negative");
    point_bind(b->c, pt, &pb, &m.attributes, &m.exemplars);
    BIND(cb_uvarint, m.positive.bucket_counts, &pos);
    BIND(cb_uvarint, m.negative.bucket_counts, &neg);
    if (!pb_decode(s, opentelemetry_proto_metrics_v1_ExponentialHistogramDataPoint_fields, &m))
        return stream_failed(b->c, s, "ExponentialHistogramDataPoint");
    pt->start_time_unix_nano = m.start_time_unix_nano;
    pt->time_unix_nano = m.time_unix_nano;
    pt->flags = m.flags;
    pt->count = m.count;
    pt->has_sum = m.has_sum;
    pt->sum = m.sum;
    pt->has_min = m.has_min;
    pt->min = m.min;
    pt->has_max = m.has_max;
    pt->max = m.max;
    pt->scale = m.scale;
    pt->zero_count = m.zero_count;
    pt->zero_threshold = m.zero_threshold;
    pt->positive.offset = m.positive.offset;
    pt->negative.offset = m.negative.offset;
    return true;
}

static bool cb_quantile(pb_istream_t *s, const pb_field_t *f, void **arg) {
    (void)f;
    struct bind *b = *arg;
    struct otlp_point *pt = b->dst;
    opentelemetry_proto_metrics_v1_SummaryDataPoint_ValueAtQuantile m =
        opentelemetry_proto_metrics_v1_SummaryDataPoint_ValueAtQuantile_init_zero;
    if (!pb_decode(s, opentelemetry_proto_metrics_v1_SummaryDataPoint_ValueAtQuantile_fields, &m))
        return stream_failed(b->c, s, "ValueAtQuantile");
    struct otlp_quantile *q;
    APPEND(b->c, pt->quantiles, pt->n_quantiles, q);
    q->quantile = m.quantile;
    q->value = m.value;
    return true;
}

static bool cb_summary_point(pb_istream_t *s, const pb_field_t *f, void **arg) {
    (void)f;
    struct bind *b = *arg;
    struct otlp_metric *mt = b->dst;
    struct otlp_point *pt;
    APPEND(b->c, mt->points, mt->n_points, pt);

    opentelemetry_proto_metrics_v1_SummaryDataPoint m =
        opentelemetry_proto_metrics_v1_SummaryDataPoint_init_zero;
    struct point_binds pb;
    struct bind qs = {b->c, pt, "SummaryDataPoint.quantile_values"};
    point_bind(b->c, pt, &pb, &m.attributes, NULL);
    BIND(cb_quantile, m.quantile_values, &qs);
    if (!pb_decode(s, opentelemetry_proto_metrics_v1_SummaryDataPoint_fields, &m))
        return stream_failed(b->c, s, "SummaryDataPoint");
    pt->start_time_unix_nano = m.start_time_unix_nano;
    pt->time_unix_nano = m.time_unix_nano;
    pt->flags = m.flags;
    pt->count = m.count;
    pt->has_sum = true;
    pt->sum = m.sum;
    return true;
}

static bool cb_metric(pb_istream_t *s, const pb_field_t *f, void **arg) {
    (void)f;
    struct bind *b = *arg;
    struct otlp_scope_metrics *sm = b->dst;
    struct otlp_metric *mt;
    APPEND(b->c, sm->metrics, sm->n_metrics, mt);

    opentelemetry_proto_metrics_v1_Metric m = opentelemetry_proto_metrics_v1_Metric_init_zero;
    struct bind name = {b->c, &mt->name, "Metric.name"};
    struct bind desc = {b->c, &mt->description, "Metric.description"};
    struct bind unit = {b->c, &mt->unit, "Metric.unit"};
    struct bind meta = {b->c, &mt->metadata, "Metric.metadata"};
    struct bind points = {b->c, mt, "Metric.data_points"};
    BIND(cb_string, m.name, &name);
    BIND(cb_string, m.description, &desc);
    BIND(cb_string, m.unit, &unit);
    BIND(cb_attr, m.metadata, &meta);
    BIND(cb_number_point, m.gauge.data_points, &points);
    BIND(cb_number_point, m.sum.data_points, &points);
    BIND(cb_histogram_point, m.histogram.data_points, &points);
    BIND(cb_exp_point, m.exponential_histogram.data_points, &points);
    BIND(cb_summary_point, m.summary.data_points, &points);
    if (!pb_decode(s, opentelemetry_proto_metrics_v1_Metric_fields, &m))
        return stream_failed(b->c, s, "Metric");
    int n = (int)m.has_gauge + (int)m.has_sum + (int)m.has_histogram +
            (int)m.has_exponential_histogram + (int)m.has_summary;
    if (n > 1) return fail(b->c, "Metric holds %d kinds of data", n);
    if (m.has_gauge) {
        mt->type = OTLP_METRIC_GAUGE;
    } else if (m.has_sum) {
        mt->type = OTLP_METRIC_SUM;
        mt->temporality = (int)m.sum.aggregation_temporality;
        mt->monotonic = m.sum.is_monotonic;
    } else if (m.has_histogram) {
        mt->type = OTLP_METRIC_HISTOGRAM;
        mt->temporality = (int)m.histogram.aggregation_temporality;
    } else if (m.has_exponential_histogram) {
        mt->type = OTLP_METRIC_EXP_HISTOGRAM;
        mt->temporality = (int)m.exponential_histogram.aggregation_temporality;
    } else if (m.has_summary) {
        mt->type = OTLP_METRIC_SUMMARY;
    }
    return ensure_str(b->c, &mt->name) && ensure_str(b->c, &mt->description) &&
           ensure_str(b->c, &mt->unit);
}

static bool cb_scope_metrics(pb_istream_t *s, const pb_field_t *f, void **arg) {
    (void)f;
    struct bind *b = *arg;
    struct otlp_resource_metrics *rm = b->dst;
    struct otlp_scope_metrics *sm;
    APPEND(b->c, rm->scope_metrics, rm->n_scope_metrics, sm);

    opentelemetry_proto_metrics_v1_ScopeMetrics m =
        opentelemetry_proto_metrics_v1_ScopeMetrics_init_zero;
    struct scope_binds sb;
    struct bind metrics = {b->c, sm, "ScopeMetrics.metrics"};
    struct bind url = {b->c, &sm->schema_url, "ScopeMetrics.schema_url"};
    scope_bind(b->c, &m.scope, &sm->scope, &sb);
    BIND(cb_metric, m.metrics, &metrics);
    BIND(cb_string, m.schema_url, &url);
    if (!pb_decode(s, opentelemetry_proto_metrics_v1_ScopeMetrics_fields, &m))
        return stream_failed(b->c, s, "ScopeMetrics");
    sm->has_scope = m.has_scope;
    return scope_finish(b->c, &m.scope, &sm->scope) && ensure_str(b->c, &sm->schema_url);
}

static bool cb_resource_metrics(pb_istream_t *s, const pb_field_t *f, void **arg) {
    (void)f;
    struct bind *b = *arg;
    struct otlp_metrics *req = b->dst;
    struct otlp_resource_metrics *rm;
    APPEND(b->c, req->resource_metrics, req->n_resource_metrics, rm);

    opentelemetry_proto_metrics_v1_ResourceMetrics m =
        opentelemetry_proto_metrics_v1_ResourceMetrics_init_zero;
    struct bind attrs = {b->c, &rm->resource.attrs, "Resource.attributes"};
    struct bind scopes = {b->c, rm, "ResourceMetrics.scope_metrics"};
    struct bind url = {b->c, &rm->schema_url, "ResourceMetrics.schema_url"};
    BIND(cb_attr, m.resource.attributes, &attrs);
    BIND(cb_scope_metrics, m.scope_metrics, &scopes);
    BIND(cb_string, m.schema_url, &url);
    if (!pb_decode(s, opentelemetry_proto_metrics_v1_ResourceMetrics_fields, &m))
        return stream_failed(b->c, s, "ResourceMetrics");
    rm->resource.present = m.has_resource;
    rm->resource.dropped_attributes_count = m.resource.dropped_attributes_count;
    return ensure_str(b->c, &rm->schema_url);
}

struct otlp_metrics *otlp_metrics_decode(const void *buf, size_t len, char *err, size_t err_size) {
    struct dctx c = {{0}, 0};
    pb_istream_t s = pb_istream_from_buffer(buf, len);
    if (!validate(&c, &s,
                  opentelemetry_proto_collector_metrics_v1_ExportMetricsServiceRequest_fields, 0)) {
        set_err(err, err_size, c.err);
        return NULL;
    }

    struct otlp_metrics *req = calloc(1, sizeof(*req));
    if (req == NULL) {
        set_err(err, err_size, "out of memory");
        return NULL;
    }
    req->unknown_fields = c.unknown;
    opentelemetry_proto_collector_metrics_v1_ExportMetricsServiceRequest m =
        opentelemetry_proto_collector_metrics_v1_ExportMetricsServiceRequest_init_zero;
    struct bind rm = {&c, req, "ExportMetricsServiceRequest.resource_metrics"};
    BIND(cb_resource_metrics, m.resource_metrics, &rm);
    s = pb_istream_from_buffer(buf, len);
    if (!pb_decode(&s, opentelemetry_proto_collector_metrics_v1_ExportMetricsServiceRequest_fields,
                   &m)) {
        stream_failed(&c, &s, "ExportMetricsServiceRequest");
        set_err(err, err_size, c.err);
        otlp_metrics_free(req);
        return NULL;
    }
    return req;
}

/* ---- freeing ----------------------------------------------------------- */

static void attrs_free(struct otlp_attr *items, size_t count);

static void value_free(struct otlp_value *v) {
    free(v->str);
    for (size_t i = 0; i < v->n_items; i++)
        value_free(&v->items[i]);
    free(v->items);
    attrs_free(v->kvs, v->n_kvs);
}

static void attrs_free(struct otlp_attr *items, size_t count) {
    for (size_t i = 0; i < count; i++) {
        free(items[i].key);
        value_free(&items[i].value);
    }
    free(items);
}

static void scope_free(struct otlp_scope *sc) {
    free(sc->name);
    free(sc->version);
    attrs_free(sc->attrs.items, sc->attrs.count);
}

static void span_free(struct otlp_span *sp) {
    free(sp->trace_state);
    free(sp->name);
    free(sp->status_message);
    attrs_free(sp->attrs.items, sp->attrs.count);
    for (size_t i = 0; i < sp->n_events; i++) {
        free(sp->events[i].name);
        attrs_free(sp->events[i].attrs.items, sp->events[i].attrs.count);
    }
    free(sp->events);
    for (size_t i = 0; i < sp->n_links; i++) {
        free(sp->links[i].trace_state);
        attrs_free(sp->links[i].attrs.items, sp->links[i].attrs.count);
    }
    free(sp->links);
}

void otlp_traces_free(struct otlp_traces *req) {
    if (req == NULL) return;
    for (size_t i = 0; i < req->n_resource_spans; i++) {
        struct otlp_resource_spans *rs = &req->resource_spans[i];
        attrs_free(rs->resource.attrs.items, rs->resource.attrs.count);
        free(rs->schema_url);
        for (size_t j = 0; j < rs->n_scope_spans; j++) {
            struct otlp_scope_spans *ss = &rs->scope_spans[j];
            scope_free(&ss->scope);
            free(ss->schema_url);
            for (size_t k = 0; k < ss->n_spans; k++)
                span_free(&ss->spans[k]);
            free(ss->spans);
        }
        free(rs->scope_spans);
    }
    free(req->resource_spans);
    free(req);
}

void otlp_logs_free(struct otlp_logs *req) {
    if (req == NULL) return;
    for (size_t i = 0; i < req->n_resource_logs; i++) {
        struct otlp_resource_logs *rl = &req->resource_logs[i];
        attrs_free(rl->resource.attrs.items, rl->resource.attrs.count);
        free(rl->schema_url);
        for (size_t j = 0; j < rl->n_scope_logs; j++) {
            struct otlp_scope_logs *sl = &rl->scope_logs[j];
            scope_free(&sl->scope);
            free(sl->schema_url);
            for (size_t k = 0; k < sl->n_logs; k++) {
                struct otlp_log *lr = &sl->logs[k];
                free(lr->severity_text);
                free(lr->event_name);
                value_free(&lr->body);
                attrs_free(lr->attrs.items, lr->attrs.count);
            }
            free(sl->logs);
        }
        free(rl->scope_logs);
    }
    free(req->resource_logs);
    free(req);
}

static void point_free(struct otlp_point *pt) {
    attrs_free(pt->attrs.items, pt->attrs.count);
    free(pt->bucket_counts);
    free(pt->explicit_bounds);
    free(pt->positive.counts);
    free(pt->negative.counts);
    free(pt->quantiles);
    for (size_t i = 0; i < pt->n_exemplars; i++)
        attrs_free(pt->exemplars[i].attrs.items, pt->exemplars[i].attrs.count);
    free(pt->exemplars);
}

void otlp_metrics_free(struct otlp_metrics *req) {
    if (req == NULL) return;
    for (size_t i = 0; i < req->n_resource_metrics; i++) {
        struct otlp_resource_metrics *rm = &req->resource_metrics[i];
        attrs_free(rm->resource.attrs.items, rm->resource.attrs.count);
        free(rm->schema_url);
        for (size_t j = 0; j < rm->n_scope_metrics; j++) {
            struct otlp_scope_metrics *sm = &rm->scope_metrics[j];
            scope_free(&sm->scope);
            free(sm->schema_url);
            for (size_t k = 0; k < sm->n_metrics; k++) {
                struct otlp_metric *mt = &sm->metrics[k];
                free(mt->name);
                free(mt->description);
                free(mt->unit);
                attrs_free(mt->metadata.items, mt->metadata.count);
                for (size_t p = 0; p < mt->n_points; p++)
                    point_free(&mt->points[p]);
                free(mt->points);
            }
            free(sm->metrics);
        }
        free(rm->scope_metrics);
    }
    free(req->resource_metrics);
    free(req);
}

/* ---- look-ups ---------------------------------------------------------- */

size_t otlp_traces_span_count(const struct otlp_traces *req) {
    size_t n = 0;
    for (size_t i = 0; i < req->n_resource_spans; i++)
        for (size_t j = 0; j < req->resource_spans[i].n_scope_spans; j++)
            n += req->resource_spans[i].scope_spans[j].n_spans;
    return n;
}

const struct otlp_span *otlp_traces_span_at(const struct otlp_traces *req, size_t n) {
    for (size_t i = 0; i < req->n_resource_spans; i++) {
        for (size_t j = 0; j < req->resource_spans[i].n_scope_spans; j++) {
            const struct otlp_scope_spans *ss = &req->resource_spans[i].scope_spans[j];
            if (n < ss->n_spans) return &ss->spans[n];
            n -= ss->n_spans;
        }
    }
    return NULL;
}

const struct otlp_span *otlp_traces_find_span(const struct otlp_traces *req, const char *name) {
    const struct otlp_span *sp;
    for (size_t n = 0; (sp = otlp_traces_span_at(req, n)) != NULL; n++)
        if (strcmp(sp->name, name) == 0) return sp;
    return NULL;
}

size_t otlp_logs_record_count(const struct otlp_logs *req) {
    size_t n = 0;
    for (size_t i = 0; i < req->n_resource_logs; i++)
        for (size_t j = 0; j < req->resource_logs[i].n_scope_logs; j++)
            n += req->resource_logs[i].scope_logs[j].n_logs;
    return n;
}

const struct otlp_log *otlp_logs_record_at(const struct otlp_logs *req, size_t n) {
    for (size_t i = 0; i < req->n_resource_logs; i++) {
        for (size_t j = 0; j < req->resource_logs[i].n_scope_logs; j++) {
            const struct otlp_scope_logs *sl = &req->resource_logs[i].scope_logs[j];
            if (n < sl->n_logs) return &sl->logs[n];
            n -= sl->n_logs;
        }
    }
    return NULL;
}

size_t otlp_metrics_point_count(const struct otlp_metrics *req) {
    size_t n = 0;
    for (size_t i = 0; i < req->n_resource_metrics; i++)
        for (size_t j = 0; j < req->resource_metrics[i].n_scope_metrics; j++)
            for (size_t k = 0; k < req->resource_metrics[i].scope_metrics[j].n_metrics; k++)
                n += req->resource_metrics[i].scope_metrics[j].metrics[k].n_points;
    return n;
}

const struct otlp_metric *otlp_metrics_find(const struct otlp_metrics *req, const char *name) {
    for (size_t i = 0; i < req->n_resource_metrics; i++)
        for (size_t j = 0; j < req->resource_metrics[i].n_scope_metrics; j++) {
            const struct otlp_scope_metrics *sm = &req->resource_metrics[i].scope_metrics[j];
            for (size_t k = 0; k < sm->n_metrics; k++)
                if (strcmp(sm->metrics[k].name, name) == 0) return &sm->metrics[k];
        }
    return NULL;
}

const char *otlp_metric_type_name(enum otlp_metric_type type) {
    static const char *const names[] = {"none",      "gauge",         "sum",
                                        "histogram", "exp_histogram", "summary"};
    return (unsigned)type < sizeof(names) / sizeof(names[0]) ? names[type] : "none";
}

const struct otlp_value *otlp_attrs_find(const struct otlp_attrs *attrs, const char *key) {
    for (size_t i = 0; i < attrs->count; i++)
        if (strcmp(attrs->items[i].key, key) == 0) return &attrs->items[i].value;
    return NULL;
}

char *otlp_hex(const uint8_t *bytes, size_t n, char *out) {
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 15];
    }
    out[2 * n] = '\0';
    return out;
}
