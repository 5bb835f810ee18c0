/* otlp_json: OTLP JSON encoding (the OTLP/HTTP JSON mapping of the
 * protobuf messages): lowerCamelCase field names, trace and span ids as
 * hex strings, enums as integers, 64-bit integers as decimal strings,
 * default values omitted. Used by OTEL_EXPORTER_OTLP_PROTOCOL=http/json and
 * the otlp_file exporter (one request per line). Writes into an
 * mmap-backed buf. Depends on buf.h, json.h, core/span.h, core/log.h. */
#ifndef OTELP_EXPORTERS_OTLP_JSON_H
#define OTELP_EXPORTERS_OTLP_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/attr.h"
#include "exporters/buf.h"

/* An ExportTraceServiceRequest of records (struct span *). */
bool otlp_json_encode_traces(struct buf *out, const struct attr_list *resource,
                             void *const *records, size_t n) __attribute__((warn_unused_result));
/* An ExportLogsServiceRequest of records (struct log_record *). */
bool otlp_json_encode_logs(struct buf *out, const struct attr_list *resource, void *const *records,
                           size_t n) __attribute__((warn_unused_result));

/* An ExportMetricsServiceRequest of records (struct metric_data *, grouped
 * by scope as metrics_collect makes them). */
bool otlp_json_encode_metrics(struct buf *out, const struct attr_list *resource,
                              void *const *records, size_t n) __attribute__((warn_unused_result));

/* The members of an attributes array, {"key":..,"value":{..}},...
 * (no brackets). */
void otlp_json_attr_items(struct buf *out, const struct attr_list *l);

/* For a relay (handoff.c), whose children hand it JSON requests as they
 * would have POSTed them, concatenated as they arrive:
 * otlp_json_add_resource_attrs appends src (len bytes of concatenated
 * Export*ServiceRequest objects) to out with attrs (n bytes of
 * otlp_json_attr_items) added to every resource's attributes;
 * otlp_json_merge appends the one request holding all their
 * Resource{Spans,Logs,Metrics} (JSON requests do not concatenate as
 * protobuf's do). Both return false when src is not such a sequence. */
bool otlp_json_add_resource_attrs(struct buf *out, const uint8_t *src, size_t len,
                                  const uint8_t *attrs, size_t n)
    __attribute__((warn_unused_result));
bool otlp_json_merge(struct buf *out, const uint8_t *src, size_t len)
    __attribute__((warn_unused_result));

#endif
