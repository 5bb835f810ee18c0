/* console: the console exporter. One JSON object per span, one line each,
 * written to stderr with write(2) (documented in docs/CONFIGURATION.md):
 *   {"name":..,"traceId":..,"spanId":..,"parentSpanId":..,"kind":"internal",
 *    "startTimeUnixNano":..,"endTimeUnixNano":..,"durationMs":..,
 *    "status":{"code":"ERROR","message":..},"attributes":{..},
 *    "events":[{"name":..,"timeUnixNano":..,"attributes":{..}}],
 *    "droppedAttributesCount":..,"droppedEventsCount":..,"resource":{..}}
 * and for logs one JSON object per log record (structured JSON logging):
 *   {"timeUnixNano":..,"observedTimeUnixNano":..,"severityNumber":17,
 *    "severityText":"ERROR","body":"..","attributes":{..},"traceId":..,
 *    "spanId":..,"flags":1,"droppedAttributesCount":..,"resource":{..}}
 * and for metrics one JSON object per metric (its points in it):
 *   {"name":..,"description":..,"unit":..,"type":"sum"|"gauge"|"histogram"|
 *    "exponential_histogram","temporality":"cumulative"|"delta",
 *    "monotonic":true,"scope":{"name":..,"version":..},"dataPoints":[
 *    {"attributes":{..},"startTimeUnixNano":..,"timeUnixNano":..,"value":N}
 *    | {..,"count":N,"sum":N,"min":N,"max":N,"bucketCounts":[..],
 *      "explicitBounds":[..]} | {..,"count":N,"sum":N,"min":N,"max":N,
 *      "scale":N,"zeroCount":N,"positive":{"offset":N,"bucketCounts":[..]},
 *      "negative":{..}}],"resource":{..}}
 * Depends on json.h, exporter.h, core/span.h, core/log.h, core/metric.h. */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/diag.h"
#include "core/fds.h"
#include "core/telemetry.h"
#include "core/log.h"
#include "core/metric.h"
#include "core/span.h"
#include "exporters/exporter.h"
#include "exporters/json.h"

struct console_exporter {
    struct exporter base;
    struct buf out;
};

static const char *const kind_names[] = {"unspecified", "internal", "server",
                                         "client",      "producer", "consumer"};
static const char *const status_names[] = {"UNSET", "OK", "ERROR"};

static void put_span(struct buf *b, const struct span *s, const struct attr_list *resource) {
    buf_puts(b, "{\"name\":");
    json_string(b, s->name.ptr, s->name.len);
    buf_puts(b, ",\"traceId\":");
    json_hex(b, s->ctx.trace_id, 16);
    buf_puts(b, ",\"spanId\":");
    json_hex(b, s->ctx.span_id, 8);
    if (s->has_parent) {
        buf_puts(b, ",\"parentSpanId\":");
        json_hex(b, s->parent_span_id, 8);
    }
    if (s->trace_state.len) {
        buf_puts(b, ",\"traceState\":");
        json_string(b, s->trace_state.ptr, s->trace_state.len);
    }
    buf_puts(b, ",\"kind\":\"");
    buf_puts(b, kind_names[s->kind < 6 ? s->kind : 0]);
    buf_puts(b, "\",\"startTimeUnixNano\":");
    buf_put_u64(b, s->start_ns);
    buf_puts(b, ",\"endTimeUnixNano\":");
    buf_put_u64(b, s->end_ns);
    struct attr_value ms = {.type = ATTR_DOUBLE,
                            .u.d = s->end_ns > s->start_ns ? (double)(s->end_ns - s->start_ns) / 1e6
                                                           : 0};
    buf_puts(b, ",\"durationMs\":");
    json_attr_value(b, &ms);
    buf_puts(b, ",\"status\":{\"code\":\"");
    buf_puts(b, status_names[s->status_code < 3 ? s->status_code : 0]);
    buf_putc(b, '"');
    if (s->status_message.len) {
        buf_puts(b, ",\"message\":");
        json_string(b, s->status_message.ptr, s->status_message.len);
    }
    buf_puts(b, "},\"attributes\":");
    json_attr_object(b, &s->attrs);
    buf_puts(b, ",\"events\":[");
    for (const struct span_event *e = s->events; e; e = e->next) {
        if (e != s->events) buf_putc(b, ',');
        buf_puts(b, "{\"name\":");
        json_string(b, e->name.ptr, e->name.len);
        buf_puts(b, ",\"timeUnixNano\":");
        buf_put_u64(b, e->time_ns);
        buf_puts(b, ",\"attributes\":");
        json_attr_object(b, &e->attrs);
        buf_putc(b, '}');
    }
    buf_putc(b, ']');
    if (s->links) {
        buf_puts(b, ",\"links\":[");
        for (const struct span_link *l = s->links; l; l = l->next) {
            buf_puts(b, l == s->links ? "{\"traceId\":" : ",{\"traceId\":");
            json_hex(b, l->ctx.trace_id, 16);
            buf_puts(b, ",\"spanId\":");
            json_hex(b, l->ctx.span_id, 8);
            buf_puts(b, ",\"attributes\":");
            json_attr_object(b, &l->attrs);
            buf_putc(b, '}');
        }
        buf_putc(b, ']');
    }
    if (s->attrs.dropped) {
        buf_puts(b, ",\"droppedAttributesCount\":");
        buf_put_u64(b, s->attrs.dropped);
    }
    if (s->dropped_events) {
        buf_puts(b, ",\"droppedEventsCount\":");
        buf_put_u64(b, s->dropped_events);
    }
    buf_puts(b, ",\"resource\":");
    json_attr_object(b, resource);
    buf_puts(b, "}\n");
}

/* severityText, traceId, spanId, flags and droppedAttributesCount appear
 * only when set; severityNumber 0 (unspecified) is left out. */
static void put_log(struct buf *b, const struct log_record *r, const struct attr_list *resource) {
    buf_puts(b, "{\"timeUnixNano\":");
    buf_put_u64(b, r->time_ns);
    buf_puts(b, ",\"observedTimeUnixNano\":");
    buf_put_u64(b, r->observed_ns);
    if (r->severity_number) {
        buf_puts(b, ",\"severityNumber\":");
        buf_put_u64(b, r->severity_number);
    }
    if (r->severity_text.len) {
        buf_puts(b, ",\"severityText\":");
        json_string(b, r->severity_text.ptr, r->severity_text.len);
    }
    if (r->event_name.len) {
        buf_puts(b, ",\"eventName\":");
        json_string(b, r->event_name.ptr, r->event_name.len);
    }
    buf_puts(b, ",\"body\":");
    json_attr_value(b, &r->body);
    buf_puts(b, ",\"attributes\":");
    json_attr_object(b, &r->attrs);
    if (r->has_context) {
        buf_puts(b, ",\"traceId\":");
        json_hex(b, r->trace_id, 16);
        buf_puts(b, ",\"spanId\":");
        json_hex(b, r->span_id, 8);
        buf_puts(b, ",\"flags\":");
        buf_put_u64(b, r->flags);
    }
    if (r->attrs.dropped) {
        buf_puts(b, ",\"droppedAttributesCount\":");
        buf_put_u64(b, r->attrs.dropped);
    }
    buf_puts(b, ",\"resource\":");
    json_attr_object(b, resource);
    buf_puts(b, "}\n");
}

static void put_num(struct buf *b, bool dbl, double d, int64_t i) {
    struct attr_value v = dbl ? (struct attr_value){.type = ATTR_DOUBLE, .u.d = d}
                              : (struct attr_value){.type = ATTR_INT, .u.i = i};
    json_attr_value(b, &v);
}

static void put_counts(struct buf *b, const uint64_t *c, uint32_t n) {
    buf_putc(b, '[');
    for (uint32_t i = 0; i < n; i++) {
        if (i) buf_putc(b, ',');
        buf_put_u64(b, c[i]);
    }
    buf_putc(b, ']');
}

static void put_metric(struct buf *b, const struct metric_data *d,
                       const struct attr_list *resource) {
    static const char *const types[] = {"sum", "gauge", "histogram", "exponential_histogram"};
    bool dbl = d->number == METRIC_DOUBLE;
    buf_puts(b, "{\"name\":");
    json_string(b, d->name.ptr, d->name.len);
    buf_puts(b, ",\"description\":");
    json_string(b, d->description.ptr, d->description.len);
    buf_puts(b, ",\"unit\":");
    json_string(b, d->unit.ptr, d->unit.len);
    buf_puts(b, ",\"type\":\"");
    buf_puts(b, types[d->type]);
    buf_putc(b, '"');
    if (d->type != METRIC_DATA_GAUGE)
        buf_puts(b, d->temporality == AGG_TEMPORALITY_DELTA ? ",\"temporality\":\"delta\""
                                                            : ",\"temporality\":\"cumulative\"");
    if (d->type == METRIC_DATA_SUM)
        buf_puts(b, d->monotonic ? ",\"monotonic\":true" : ",\"monotonic\":false");
    buf_puts(b, ",\"scope\":{\"name\":");
    json_string(b, d->scope.ptr, d->scope.len);
    buf_puts(b, ",\"version\":");
    json_string(b, d->scope_version.ptr, d->scope_version.len);
    buf_puts(b, "},\"dataPoints\":[");
    for (uint32_t i = 0; i < d->npoints; i++) {
        const struct metric_point *p = &d->points[i];
        struct attr_list l = {(struct attr *)p->attrs, p->nattrs, p->nattrs, 0, 0};
        buf_puts(b, i ? ",{\"attributes\":" : "{\"attributes\":");
        json_attr_object(b, &l);
        buf_puts(b, ",\"startTimeUnixNano\":");
        buf_put_u64(b, p->start_ns);
        buf_puts(b, ",\"timeUnixNano\":");
        buf_put_u64(b, p->time_ns);
        if (d->type == METRIC_DATA_SUM || d->type == METRIC_DATA_GAUGE) {
            buf_puts(b, ",\"value\":");
            put_num(b, dbl, p->value.d, p->value.i);
        } else {
            buf_puts(b, ",\"count\":");
            buf_put_u64(b, p->count);
            buf_puts(b, ",\"sum\":");
            put_num(b, true, p->sum, 0);
            buf_puts(b, ",\"min\":");
            put_num(b, true, p->min, 0);
            buf_puts(b, ",\"max\":");
            put_num(b, true, p->max, 0);
            if (d->type == METRIC_DATA_HISTOGRAM) {
                buf_puts(b, ",\"bucketCounts\":");
                put_counts(b, p->bucket_counts, d->nboundaries + 1);
                buf_puts(b, ",\"explicitBounds\":[");
                for (uint32_t k = 0; k < d->nboundaries; k++) {
                    if (k) buf_putc(b, ',');
                    put_num(b, true, d->boundaries[k], 0);
                }
                buf_putc(b, ']');
            } else {
                buf_puts(b, ",\"scale\":");
                buf_put_i64(b, p->scale);
                buf_puts(b, ",\"zeroCount\":");
                buf_put_u64(b, p->zero_count);
                buf_puts(b, ",\"positive\":{\"offset\":");
                buf_put_i64(b, p->positive.offset);
                buf_puts(b, ",\"bucketCounts\":");
                put_counts(b, p->positive.counts, p->positive.count);
                buf_puts(b, "},\"negative\":{\"offset\":");
                buf_put_i64(b, p->negative.offset);
                buf_puts(b, ",\"bucketCounts\":");
                put_counts(b, p->negative.counts, p->negative.count);
                buf_putc(b, '}');
            }
        }
        buf_putc(b, '}');
    }
    buf_puts(b, "],\"resource\":");
    json_attr_object(b, resource);
    buf_puts(b, "}\n");
}

static int console_export(struct exporter *e, void *const *records, size_t n,
                          const struct attr_list *resource, uint64_t deadline) {
    (void)deadline;
    struct console_exporter *c = (struct console_exporter *)e;
    if (!resource) resource = telemetry_resource();
    buf_reset(&c->out);
    for (size_t i = 0; i < n; i++) {
        if (e->signal == SIGNAL_LOGS)
            put_log(&c->out, records[i], resource);
        else if (e->signal == SIGNAL_METRICS)
            put_metric(&c->out, records[i], resource);
        else
            put_span(&c->out, records[i], resource);
    }
    if (c->out.failed) return -ENOMEM;
    for (size_t off = 0; off < c->out.len;) {
        int fd = fd_get(&diag_fd); /* -1: stderr was closed when we started */
        if (fd < 0) return -EBADF;
        ssize_t w = write(fd, c->out.data + off, c->out.len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -EIO;
        off += (size_t)w;
    }
    return 0;
}

static void console_after_fork(struct exporter *e) {
    (void)e;
}

static const struct exporter_ops console_ops = {"console", console_export, console_after_fork};

struct exporter *console_exporter_new(enum signal_kind sig) {
    struct console_exporter *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->base.ops = &console_ops;
    c->base.signal = sig;
    diag_keep_stderr();
    return &c->base;
}
