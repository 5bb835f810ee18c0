/* encoder: the OTLP encodings (protobuf, JSON) x signals as one table, so
 * that serving a new signal is one entry. An entry appends one
 * Export<Signal>ServiceRequest holding records[0..n) under resource, into
 * an mmap-backed buf (no malloc: usable from a signal handler), and returns
 * false on failure. A NULL entry: that encoding does not serve the signal
 * (yet). Depends on buf.h, core/config.h, core/attr.h. */
#ifndef OTELP_EXPORTERS_ENCODER_H
#define OTELP_EXPORTERS_ENCODER_H

#include <stdbool.h>
#include <stddef.h>

#include "core/attr.h"
#include "core/config.h"
#include "exporters/buf.h"

struct otlp_encoding {
    const char *name;
    const char *content_type;
    bool (*encode[SIGNAL_COUNT])(struct buf *out, const struct attr_list *resource,
                                 void *const *records, size_t n);
};

extern const struct otlp_encoding otlp_encoding_protobuf, otlp_encoding_json;

/* The lower-case signal name ("traces", "logs", "metrics") and what its
 * records are called in diagnostics ("spans", "log records", ...). */
extern const char *const otlp_signal_names[SIGNAL_COUNT];
extern const char *const otlp_record_names[SIGNAL_COUNT];

#endif
