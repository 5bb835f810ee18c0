/* otlp_proto: OTLP protobuf encoding (ExportTraceServiceRequest,
 * ExportLogsServiceRequest), written by hand from the OTLP field numbers.
 * Two passes: sizes first (each record's size computed once and kept), then
 * one forward write with exact length prefixes, into an mmap-backed buf (no
 * malloc). Depends on core/span.h, core/log.h and buf.h. */
#ifndef OTELP_EXPORTERS_OTLP_PROTO_H
#define OTELP_EXPORTERS_OTLP_PROTO_H

#include <stdbool.h>
#include <stddef.h>

#include "core/attr.h"
#include "core/log.h"
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

#endif
