/* otlp_json: the OTLP JSON encoder. See otlp_json.h.
 *
 *   {"resourceSpans":[{"resource":{"attributes":[...],"droppedAttributesCount":N},
 *     "scopeSpans":[{"scope":{"name":..,"version":..},"spans":[{
 *       "traceId":hex,"spanId":hex,"traceState":..,"parentSpanId":hex,
 *       "flags":N,"name":..,"kind":N,"startTimeUnixNano":"..",
 *       "endTimeUnixNano":"..","attributes":[{"key":..,"value":{..}}],
 *       "droppedAttributesCount":N,"events":[{"timeUnixNano":"..","name":..,
 *       "attributes":[..],"droppedAttributesCount":N}],"droppedEventsCount":N,
 *       "status":{"message":..,"code":N}}]}]}]}
 *   {"resourceLogs":[{"resource":..,"scopeLogs":[{"scope":..,"logRecords":[{
 *       "timeUnixNano":"..","observedTimeUnixNano":"..","severityNumber":N,
 *       "severityText":..,"body":{..},"attributes":[..],
 *       "droppedAttributesCount":N,"flags":N,"traceId":hex,"spanId":hex,
 *       "eventName":..}]}]}]}
 * AnyValue: {"stringValue":..} {"boolValue":..} {"intValue":"N"}
 * {"doubleValue":N} (NaN and infinities as the strings "NaN", "Infinity",
 * "-Infinity") {"arrayValue":{"values":[..]}}. */
#include "exporters/otlp_json.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "core/metric.h"
#include "core/span.h"
#include "exporters/json.h"
#include "exporters/otlp_proto.h"

#define FLAG_HAS_IS_REMOTE 0x100u
#define FLAG_IS_REMOTE 0x200u

static void put_u64_string(struct buf *b, uint64_t v) {
    buf_putc(b, '"');
    buf_put_u64(b, v);
    buf_putc(b, '"');
}

static void put_double(struct buf *b, double d) {
    if (isnan(d)) {
        buf_puts(b, "\"NaN\"");
    } else if (isinf(d)) {
        buf_puts(b, d > 0 ? "\"Infinity\"" : "\"-Infinity\"");
    } else {
        char tmp[32];
        int n = snprintf(tmp, sizeof tmp, "%.17g", d);
        buf_append(b, tmp, n > 0 ? (size_t)n : 0);
    }
}

static void put_anyvalue(struct buf *b, const struct attr_value *v) {
    switch (v->type) {
    case ATTR_STRING:
        buf_puts(b, "{\"stringValue\":");
        json_string(b, v->u.s.ptr, v->u.s.len);
        break;
    case ATTR_BOOL:
        buf_puts(b, v->u.b ? "{\"boolValue\":true" : "{\"boolValue\":false");
        break;
    case ATTR_INT:
        buf_puts(b, "{\"intValue\":\"");
        buf_put_i64(b, v->u.i);
        buf_putc(b, '"');
        break;
    case ATTR_DOUBLE:
        buf_puts(b, "{\"doubleValue\":");
        put_double(b, v->u.d);
        break;
    case ATTR_STRING_ARRAY:
        buf_puts(b, "{\"arrayValue\":{\"values\":[");
        for (uint32_t i = 0; i < v->u.arr.count; i++) {
            buf_puts(b, i ? ",{\"stringValue\":" : "{\"stringValue\":");
            json_string(b, v->u.arr.items[i].ptr, v->u.arr.items[i].len);
            buf_putc(b, '}');
        }
        buf_puts(b, "]}");
        break;
    case ATTR_BOOL_ARRAY:
    case ATTR_INT_ARRAY:
    case ATTR_DOUBLE_ARRAY:
        buf_puts(b, "{\"arrayValue\":{\"values\":[");
        for (uint32_t i = 0; i < v->u.nums.count; i++) {
            struct attr_value item;
            if (v->type == ATTR_BOOL_ARRAY)
                item = (struct attr_value){.type = ATTR_BOOL,
                                           .u.b = ((const bool *)v->u.nums.items)[i]};
            else if (v->type == ATTR_INT_ARRAY)
                item = (struct attr_value){.type = ATTR_INT,
                                           .u.i = ((const int64_t *)v->u.nums.items)[i]};
            else
                item = (struct attr_value){.type = ATTR_DOUBLE,
                                           .u.d = ((const double *)v->u.nums.items)[i]};
            if (i) buf_putc(b, ',');
            put_anyvalue(b, &item);
        }
        buf_puts(b, "]}");
        break;
    }
    buf_putc(b, '}');
}

/* ,"attributes":[...] and ,"droppedAttributesCount":N (each when non-empty),
 * lead: whether a comma goes first. */
static void put_attrs(struct buf *b, const struct attr_list *l, bool lead) {
    if (l->count) {
        buf_puts(b, lead ? ",\"attributes\":[" : "\"attributes\":[");
        otlp_json_attr_items(b, l);
        buf_putc(b, ']');
        lead = true;
    }
    if (l->dropped) {
        buf_puts(b, lead ? ",\"droppedAttributesCount\":" : "\"droppedAttributesCount\":");
        buf_put_u64(b, l->dropped);
    }
}

/* {"resource<Kind>":[{"resource":{..},"scope<Kind>":[{"scope":{..},"<items>":[ */
static void put_head(struct buf *b, const char *kind, const char *items,
                     const struct attr_list *resource) {
    buf_puts(b, "{\"resource");
    buf_puts(b, kind);
    buf_puts(b, "\":[{\"resource\":{");
    put_attrs(b, resource, false);
    buf_puts(b, "},\"scope");
    buf_puts(b, kind);
    buf_puts(b, "\":[{\"scope\":{\"name\":\"" OTELP_SCOPE_NAME "\",\"version\":\"" OTELP_VERSION
                "\"},\"");
    buf_puts(b, items);
    buf_puts(b, "\":[");
}

static void put_span(struct buf *b, const struct span *s) {
    buf_puts(b, "{\"traceId\":");
    json_hex(b, s->ctx.trace_id, 16);
    buf_puts(b, ",\"spanId\":");
    json_hex(b, s->ctx.span_id, 8);
    if (s->trace_state.len) {
        buf_puts(b, ",\"traceState\":");
        json_string(b, s->trace_state.ptr, s->trace_state.len);
    }
    if (s->has_parent) {
        buf_puts(b, ",\"parentSpanId\":");
        json_hex(b, s->parent_span_id, 8);
    }
    buf_puts(b, ",\"flags\":");
    buf_put_u64(b, s->ctx.flags | FLAG_HAS_IS_REMOTE | (s->parent_remote ? FLAG_IS_REMOTE : 0));
    buf_puts(b, ",\"name\":");
    json_string(b, s->name.ptr, s->name.len);
    buf_puts(b, ",\"kind\":");
    buf_put_u64(b, s->kind);
    buf_puts(b, ",\"startTimeUnixNano\":");
    put_u64_string(b, s->start_ns);
    buf_puts(b, ",\"endTimeUnixNano\":");
    put_u64_string(b, s->end_ns);
    put_attrs(b, &s->attrs, true);
    if (s->events) {
        buf_puts(b, ",\"events\":[");
        for (const struct span_event *e = s->events; e; e = e->next) {
            buf_puts(b, e == s->events ? "{\"timeUnixNano\":" : ",{\"timeUnixNano\":");
            put_u64_string(b, e->time_ns);
            buf_puts(b, ",\"name\":");
            json_string(b, e->name.ptr, e->name.len);
            put_attrs(b, &e->attrs, true);
            buf_putc(b, '}');
        }
        buf_putc(b, ']');
    }
    if (s->dropped_events) {
        buf_puts(b, ",\"droppedEventsCount\":");
        buf_put_u64(b, s->dropped_events);
    }
    if (s->links) {
        buf_puts(b, ",\"links\":[");
        for (const struct span_link *l = s->links; l; l = l->next) {
            buf_puts(b, l == s->links ? "{\"traceId\":" : ",{\"traceId\":");
            json_hex(b, l->ctx.trace_id, 16);
            buf_puts(b, ",\"spanId\":");
            json_hex(b, l->ctx.span_id, 8);
            if (l->trace_state.len) {
                buf_puts(b, ",\"traceState\":");
                json_string(b, l->trace_state.ptr, l->trace_state.len);
            }
            put_attrs(b, &l->attrs, true);
            buf_puts(b, ",\"flags\":");
            buf_put_u64(b,
                        l->ctx.flags | FLAG_HAS_IS_REMOTE | (l->ctx.remote ? FLAG_IS_REMOTE : 0));
            buf_putc(b, '}');
        }
        buf_putc(b, ']');
    }
    if (s->dropped_links) {
        buf_puts(b, ",\"droppedLinksCount\":");
        buf_put_u64(b, s->dropped_links);
    }
    if (s->status_code || s->status_message.len) {
        buf_puts(b, ",\"status\":{");
        if (s->status_message.len) {
            buf_puts(b, "\"message\":");
            json_string(b, s->status_message.ptr, s->status_message.len);
        }
        if (s->status_code) {
            buf_puts(b, s->status_message.len ? ",\"code\":" : "\"code\":");
            buf_put_u64(b, s->status_code);
        }
        buf_putc(b, '}');
    }
    buf_putc(b, '}');
}

bool otlp_json_encode_traces(struct buf *out, const struct attr_list *resource,
                             void *const *records, size_t n) {
    put_head(out, "Spans", "spans", resource);
    for (size_t i = 0; i < n; i++) {
        if (i) buf_putc(out, ',');
        put_span(out, records[i]);
    }
    buf_puts(out, "]}]}]}");
    return !out->failed;
}

static void put_log(struct buf *b, const struct log_record *r) {
    buf_puts(b, "{\"timeUnixNano\":");
    put_u64_string(b, r->time_ns);
    buf_puts(b, ",\"observedTimeUnixNano\":");
    put_u64_string(b, r->observed_ns);
    if (r->severity_number) {
        buf_puts(b, ",\"severityNumber\":");
        buf_put_u64(b, r->severity_number);
    }
    if (r->severity_text.len) {
        buf_puts(b, ",\"severityText\":");
        json_string(b, r->severity_text.ptr, r->severity_text.len);
    }
    buf_puts(b, ",\"body\":");
    put_anyvalue(b, &r->body);
    put_attrs(b, &r->attrs, true);
    if (r->has_context) {
        buf_puts(b, ",\"flags\":");
        buf_put_u64(b, r->flags);
        buf_puts(b, ",\"traceId\":");
        json_hex(b, r->trace_id, 16);
        buf_puts(b, ",\"spanId\":");
        json_hex(b, r->span_id, 8);
    }
    if (r->event_name.len) {
        buf_puts(b, ",\"eventName\":");
        json_string(b, r->event_name.ptr, r->event_name.len);
    }
    buf_putc(b, '}');
}

bool otlp_json_encode_logs(struct buf *out, const struct attr_list *resource, void *const *records,
                           size_t n) {
    put_head(out, "Logs", "logRecords", resource);
    for (size_t i = 0; i < n; i++) {
        if (i) buf_putc(out, ',');
        put_log(out, records[i]);
    }
    buf_puts(out, "]}]}]}");
    return !out->failed;
}

/* ---- metrics ----
 *   {"resourceMetrics":[{"resource":..,"scopeMetrics":[{"scope":{"name":..,
 *     "version":..},"metrics":[{"name":..,"description":..,"unit":..,
 *     "sum":{"dataPoints":[..],"aggregationTemporality":N,"isMonotonic":true}
 *     | "gauge":{"dataPoints":[..]} | "histogram":{..} | "exponentialHistogram":{..}}]}]}]}
 *   point: "attributes","startTimeUnixNano","timeUnixNano", "asInt":"N" |
 *     "asDouble":N, or "count","sum","bucketCounts":["N"],"explicitBounds",
 *     "min","max"; or "scale","zeroCount","positive":{"offset":N,
 *     "bucketCounts":["N"]},"negative"; "exemplars":[{"timeUnixNano",
 *     "asDouble"|"asInt","spanId","traceId"}] */

static void put_point_attrs(struct buf *b, const struct metric_point *p) {
    struct attr_list l = {(struct attr *)p->attrs, p->nattrs, p->nattrs, 0, 0};
    put_attrs(b, &l, true);
}

static void put_number(struct buf *b, const char *dkey, const char *ikey, bool dbl, double d,
                       int64_t i) {
    if (dbl) {
        buf_puts(b, dkey);
        put_double(b, d);
    } else {
        buf_puts(b, ikey);
        buf_putc(b, '"');
        buf_put_i64(b, i);
        buf_putc(b, '"');
    }
}

static void put_exemplars_json(struct buf *b, const struct metric_point *p, bool dbl) {
    if (!p->nexemplars) return;
    buf_puts(b, ",\"exemplars\":[");
    for (uint32_t i = 0; i < p->nexemplars; i++) {
        const struct metric_exemplar *e = &p->exemplars[i];
        buf_puts(b, i ? ",{\"timeUnixNano\":" : "{\"timeUnixNano\":");
        put_u64_string(b, e->time_ns);
        put_number(b, ",\"asDouble\":", ",\"asInt\":", dbl, e->value.d, e->value.i);
        bool ids = false;
        for (int k = 0; k < 16; k++)
            ids = ids || e->trace_id[k];
        if (ids) {
            buf_puts(b, ",\"spanId\":");
            json_hex(b, e->span_id, 8);
            buf_puts(b, ",\"traceId\":");
            json_hex(b, e->trace_id, 16);
        }
        buf_putc(b, '}');
    }
    buf_putc(b, ']');
}

static void put_u64_array(struct buf *b, const uint64_t *v, uint32_t n) {
    buf_putc(b, '[');
    for (uint32_t i = 0; i < n; i++) {
        if (i) buf_putc(b, ',');
        put_u64_string(b, v[i]);
    }
    buf_putc(b, ']');
}

static void put_exp_buckets(struct buf *b, const char *key, const struct exp_buckets *x) {
    /* Default values left out (the JSON mapping's rule). */
    buf_puts(b, key);
    buf_putc(b, '{');
    if (x->offset) {
        buf_puts(b, "\"offset\":");
        buf_put_i64(b, x->offset);
    }
    if (x->count) {
        buf_puts(b, x->offset ? ",\"bucketCounts\":" : "\"bucketCounts\":");
        put_u64_array(b, x->counts, x->count);
    }
    buf_putc(b, '}');
}

static void put_metric_point(struct buf *b, const struct metric_data *d,
                             const struct metric_point *p) {
    bool dbl = d->number == METRIC_DOUBLE;
    buf_puts(b, "{\"startTimeUnixNano\":");
    put_u64_string(b, p->start_ns);
    buf_puts(b, ",\"timeUnixNano\":");
    put_u64_string(b, p->time_ns);
    put_point_attrs(b, p);
    if (d->type == METRIC_DATA_SUM || d->type == METRIC_DATA_GAUGE) {
        put_number(b, ",\"asDouble\":", ",\"asInt\":", dbl, p->value.d, p->value.i);
    } else {
        if (p->count) {
            buf_puts(b, ",\"count\":");
            put_u64_string(b, p->count);
        }
        buf_puts(b, ",\"sum\":");
        put_double(b, p->sum);
        if (p->count) {
            buf_puts(b, ",\"min\":");
            put_double(b, p->min);
            buf_puts(b, ",\"max\":");
            put_double(b, p->max);
        }
        if (d->type == METRIC_DATA_HISTOGRAM) {
            buf_puts(b, ",\"bucketCounts\":");
            put_u64_array(b, p->bucket_counts, d->nboundaries + 1);
            buf_puts(b, ",\"explicitBounds\":[");
            for (uint32_t i = 0; i < d->nboundaries; i++) {
                if (i) buf_putc(b, ',');
                put_double(b, d->boundaries[i]);
            }
            buf_putc(b, ']');
        } else {
            if (p->scale) {
                buf_puts(b, ",\"scale\":");
                buf_put_i64(b, p->scale);
            }
            if (p->zero_count) {
                buf_puts(b, ",\"zeroCount\":");
                put_u64_string(b, p->zero_count);
            }
            put_exp_buckets(b, ",\"positive\":", &p->positive);
            put_exp_buckets(b, ",\"negative\":", &p->negative);
        }
    }
    put_exemplars_json(b, p, dbl);
    buf_putc(b, '}');
}

static void put_metric_json(struct buf *b, const struct metric_data *d) {
    static const char *const keys[] = {[METRIC_DATA_SUM] = "sum",
                                       [METRIC_DATA_GAUGE] = "gauge",
                                       [METRIC_DATA_HISTOGRAM] = "histogram",
                                       [METRIC_DATA_EXP_HISTOGRAM] = "exponentialHistogram"};
    buf_puts(b, "{\"name\":");
    json_string(b, d->name.ptr, d->name.len);
    if (d->description.len) {
        buf_puts(b, ",\"description\":");
        json_string(b, d->description.ptr, d->description.len);
    }
    if (d->unit.len) {
        buf_puts(b, ",\"unit\":");
        json_string(b, d->unit.ptr, d->unit.len);
    }
    buf_puts(b, ",\"");
    buf_puts(b, keys[d->type]);
    buf_puts(b, "\":{\"dataPoints\":[");
    for (uint32_t i = 0; i < d->npoints; i++) {
        if (i) buf_putc(b, ',');
        put_metric_point(b, d, &d->points[i]);
    }
    buf_putc(b, ']');
    if (d->type != METRIC_DATA_GAUGE) {
        buf_puts(b, ",\"aggregationTemporality\":");
        buf_put_u64(b, d->temporality);
    }
    if (d->type == METRIC_DATA_SUM && d->monotonic) buf_puts(b, ",\"isMonotonic\":true");
    buf_puts(b, "}}");
}

static bool str_same(struct str a, struct str b) {
    return a.len == b.len && !memcmp(a.ptr, b.ptr, a.len);
}

bool otlp_json_encode_metrics(struct buf *out, const struct attr_list *resource,
                              void *const *records, size_t n) {
    struct metric_data *const *items = (struct metric_data *const *)records;
    buf_puts(out, "{\"resourceMetrics\":[{\"resource\":{");
    put_attrs(out, resource, false);
    buf_puts(out, "},\"scopeMetrics\":[");
    for (size_t i = 0; i < n;) {
        if (i) buf_putc(out, ',');
        buf_puts(out, "{\"scope\":{\"name\":");
        json_string(out, items[i]->scope.ptr, items[i]->scope.len);
        if (items[i]->scope_version.len) {
            buf_puts(out, ",\"version\":");
            json_string(out, items[i]->scope_version.ptr, items[i]->scope_version.len);
        }
        buf_puts(out, "},\"metrics\":[");
        size_t j = i;
        for (; j < n && str_same(items[j]->scope, items[i]->scope) &&
               str_same(items[j]->scope_version, items[i]->scope_version);
             j++) {
            if (j > i) buf_putc(out, ',');
            put_metric_json(out, items[j]);
        }
        buf_puts(out, "]}");
        i = j;
    }
    buf_puts(out, "]}]}");
    return !out->failed;
}

/* ---- requests handed to a relay (handoff.c) ----
 * A small scanner over JSON text: enough to find the members of the
 * requests our encoder writes (and that a relay passes up, concatenated),
 * tolerant of whitespace, never trusting a length. */

struct scan {
    const uint8_t *p, *end;
};

static void skip_ws(struct scan *s) {
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\n' || *s->p == '\r' || *s->p == '\t'))
        s->p++;
}

static bool expect(struct scan *s, char c) {
    skip_ws(s);
    if (s->p >= s->end || *s->p != (uint8_t)c) return false;
    s->p++;
    return true;
}

/* Past one string (at its opening quote). */
static bool skip_string(struct scan *s) {
    if (s->p >= s->end || *s->p != '"') return false;
    for (s->p++; s->p < s->end; s->p++) {
        if (*s->p == '\\')
            s->p++;
        else if (*s->p == '"')
            return s->p++, true;
    }
    return false;
}

/* Past one value: strings skipped whole, brackets counted (bounded by the
 * text, not by a depth limit: nothing recurses). */
static bool skip_value(struct scan *s) {
    skip_ws(s);
    if (s->p >= s->end) return false;
    if (*s->p == '"') return skip_string(s);
    if (*s->p != '{' && *s->p != '[') {
        while (s->p < s->end && !strchr(",]} \n\r\t", *s->p))
            s->p++;
        return true;
    }
    size_t depth = 0;
    while (s->p < s->end) {
        uint8_t c = *s->p;
        if (c == '"') {
            if (!skip_string(s)) return false;
            continue;
        }
        s->p++;
        if (c == '{' || c == '[')
            depth++;
        else if ((c == '}' || c == ']') && --depth == 0)
            return true;
    }
    return false;
}

/* In an object (after its '{'): the value of member key, left at its
 * first byte; false when absent (s left at the closing '}'). */
static bool find_member(struct scan *s, const char *key) {
    size_t klen = strlen(key);
    for (bool first = true;; first = false) {
        skip_ws(s);
        if (s->p < s->end && *s->p == '}') return false;
        if (!first && !expect(s, ',')) return false;
        skip_ws(s);
        const uint8_t *k = s->p;
        if (!skip_string(s)) return false;
        bool match = (size_t)(s->p - k) == klen + 2 && !memcmp(k + 1, key, klen);
        if (!expect(s, ':')) return false;
        skip_ws(s);
        if (match) return true;
        if (!skip_value(s)) return false;
    }
}

/* One request {"resource<Kind>":[E,...]}: *key is the member's name
 * (quotes included), [*items, *items_end) the array's contents. */
static bool request_parts(struct scan *s, struct scan *key, struct scan *items) {
    if (!expect(s, '{')) return false;
    skip_ws(s);
    key->p = s->p;
    if (!skip_string(s)) return false;
    key->end = s->p;
    if (!expect(s, ':')) return false;
    skip_ws(s);
    const uint8_t *a = s->p;
    if (a >= s->end || *a != '[' || !skip_value(s)) return false;
    items->p = a + 1;
    items->end = s->p - 1; /* the ']' */
    return expect(s, '}');
}

bool otlp_json_merge(struct buf *out, const uint8_t *src, size_t len) {
    struct scan s = {src, src + len};
    bool any = false, first_key = true;
    for (skip_ws(&s); s.p < s.end; skip_ws(&s)) {
        struct scan key, items;
        if (!request_parts(&s, &key, &items)) return false;
        if (first_key) {
            buf_putc(out, '{');
            buf_append(out, key.p, (size_t)(key.end - key.p));
            buf_puts(out, ":[");
            first_key = false;
        }
        skip_ws(&items);
        if (items.p == items.end) continue;
        if (any) buf_putc(out, ',');
        buf_append(out, items.p, (size_t)(items.end - items.p));
        any = true;
    }
    if (first_key) return false;
    buf_puts(out, "]}");
    return !out->failed;
}

/* One Resource<Kind> object e, copied to out with attrs added to its
 * resource's attributes. */
static void add_to_resource(struct buf *out, struct scan e, const uint8_t *attrs, size_t n) {
    const uint8_t *start = e.p;
    struct scan r = {e.p + 1, e.end}; /* after the element's '{' */
    if (!find_member(&r, "resource") || r.p >= r.end || *r.p != '{') {
        buf_puts(out, "{\"resource\":{\"attributes\":[");
        buf_append(out, attrs, n);
        buf_puts(out, "]}");
        struct scan rest = {e.p + 1, e.end};
        skip_ws(&rest);
        if (rest.p < rest.end && *rest.p != '}') buf_putc(out, ',');
        buf_append(out, e.p + 1, (size_t)(e.end - e.p - 1));
        return;
    }
    const uint8_t *res = r.p; /* the resource's '{' */
    struct scan a = {res + 1, e.end};
    if (find_member(&a, "attributes") && a.p < a.end && *a.p == '[') {
        buf_append(out, start, (size_t)(a.p + 1 - start));
        buf_append(out, attrs, n);
        struct scan rest = {a.p + 1, e.end};
        skip_ws(&rest);
        if (rest.p < rest.end && *rest.p != ']') buf_putc(out, ',');
        buf_append(out, a.p + 1, (size_t)(e.end - a.p - 1));
    } else {
        buf_append(out, start, (size_t)(res + 1 - start));
        buf_puts(out, "\"attributes\":[");
        buf_append(out, attrs, n);
        buf_putc(out, ']');
        struct scan rest = {res + 1, e.end};
        skip_ws(&rest);
        if (rest.p < rest.end && *rest.p != '}') buf_putc(out, ',');
        buf_append(out, res + 1, (size_t)(e.end - res - 1));
    }
}

bool otlp_json_add_resource_attrs(struct buf *out, const uint8_t *src, size_t len,
                                  const uint8_t *attrs, size_t n) {
    struct scan s = {src, src + len};
    bool any = false;
    for (skip_ws(&s); s.p < s.end; skip_ws(&s), any = true) {
        struct scan key, items;
        if (!request_parts(&s, &key, &items)) return false;
        buf_putc(out, '{');
        buf_append(out, key.p, (size_t)(key.end - key.p));
        buf_puts(out, ":[");
        for (bool first = true;; first = false) {
            skip_ws(&items);
            if (items.p >= items.end) break;
            if (!first && !expect(&items, ',')) return false;
            skip_ws(&items);
            struct scan e = {items.p, items.end};
            if (!skip_value(&items) || *e.p != '{') return false;
            e.end = items.p;
            if (!first) buf_putc(out, ',');
            if (n)
                add_to_resource(out, e, attrs, n);
            else
                buf_append(out, e.p, (size_t)(e.end - e.p));
        }
        buf_puts(out, "]}");
    }
    return any && !out->failed;
}

void otlp_json_attr_items(struct buf *out, const struct attr_list *l) {
    for (uint32_t i = 0; i < l->count; i++) {
        buf_puts(out, i ? ",{\"key\":" : "{\"key\":");
        json_string(out, l->items[i].key.ptr, l->items[i].key.len);
        buf_puts(out, ",\"value\":");
        put_anyvalue(out, &l->items[i].value);
        buf_putc(out, '}');
    }
}
