/* otlp_proto: OTLP protobuf encoding (ExportTraceServiceRequest,
 * ExportLogsServiceRequest), written by hand from the OTLP field numbers.
 * Two passes: sizes first (each record's size computed once and kept), then
 * one forward write with exact length prefixes, into an mmap-backed buf (no
 * malloc). Depends on core/span.h, core/log.h and buf.h. */
#ifndef OTELP_EXPORTERS_OTLP_PROTO_H
#define OTELP_EXPORTERS_OTLP_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/attr.h"
#include "core/log.h"
#include "core/metric.h"
#include "core/span.h"
#include "exporters/buf.h"

#define OTELP_SCOPE_NAME "otel-preload"

/* Appends an ExportTraceServiceRequest with one ResourceSpans (resource)
 * and one ScopeSpans holding spans[0..n). Returns false on failure. */
bool otlp_encode_traces(struct buf *out, const struct attr_list *resource,
                        struct span *const *spans, size_t n) __attribute__((warn_unused_result));

/* Appends an ExportLogsServiceRequest with one ResourceLogs (resource) and
 * one ScopeLogs holding logs[0..n). Returns false on failure. */
bool otlp_encode_logs(struct buf *out, const struct attr_list *resource,
                      struct log_record *const *logs, size_t n) __attribute__((warn_unused_result));

/* Appends an ExportMetricsServiceRequest with one ResourceMetrics
 * (resource) and one ScopeMetrics per run of items of the same scope
 * (metrics_collect groups them). Returns false on failure. */
bool otlp_encode_metrics(struct buf *out, const struct attr_list *resource,
                         struct metric_data *const *items, size_t n)
    __attribute__((warn_unused_result));

/* Protobuf pieces for the hand-off relay (handoff.c). */
/* l's attributes as KeyValue fields numbered 1 (a Resource's attributes)
 * into out: the length, or 0 when they need more than cap bytes. */
size_t otlp_proto_attrs(uint8_t *out, size_t cap, const struct attr_list *l);
/* m (len bytes, cap available) is one Export*ServiceRequest of a single
 * Resource{Spans,Logs,Metrics} whose resource comes first, as our encoders
 * write it: attrs (n bytes of KeyValue fields) are added to that resource,
 * the lengths around it updated in place. Returns the new length, or len
 * when m is not so shaped or the result would not fit. */
size_t otlp_proto_add_resource_attrs(uint8_t *m, size_t len, size_t cap, const uint8_t *attrs,
                                     size_t n);
/* Appends src (len bytes: concatenated Export*ServiceRequest messages,
 * each of one Resource{Spans,Logs,Metrics}, as children hand them to a
 * relay) to out, with attrs (n bytes, none: 0) added to each one's
 * resource (otlp_proto_add_resource_attrs); a message not so shaped is
 * copied as it is. false when out cannot grow. */
bool otlp_proto_append_with_attrs(struct buf *out, const uint8_t *src, size_t len,
                                  const uint8_t *attrs, size_t n)
    __attribute__((warn_unused_result));
/* Reads a varint: its byte count, or 0 when malformed or cut short. */
size_t otlp_proto_varint(const uint8_t *p, size_t len, uint64_t *v);

#endif
