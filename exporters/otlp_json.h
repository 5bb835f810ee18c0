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

#endif
