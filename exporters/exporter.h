/* exporter: the swappable exporters behind one small struct of function
 * pointers (otlp, otlp_file, console, none), chosen by OTEL_*_EXPORTER at
 * run time. export() must not call malloc when in_signal is set (a dying
 * process flushing from its signal handler): encoders write into
 * mmap-backed bufs. The OTLP exporter (otlp.c) is one encoder (encoder.h)
 * times one transport (transport.h), with the retry rules of retry.h.
 * Depends on core/config.h, core/attr.h, buf.h. */
#ifndef OTELP_EXPORTERS_EXPORTER_H
#define OTELP_EXPORTERS_EXPORTER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/attr.h"
#include "core/config.h"
#include "exporters/buf.h"

struct exporter;

struct exporter_ops {
    const char *name;
    /* records are struct span * for SIGNAL_TRACES, struct log_record * for
     * SIGNAL_LOGS. Returns >= 0 when the batch was delivered: the number of
     * records the collector rejected (OTLP partial_success; 0 normally),
     * or a negative errno when the whole batch was lost. */
    int (*export)(struct exporter *e, void *const *records, size_t n,
                  const struct attr_list *resource, uint64_t deadline_mono_ns);
    /* (resource NULL: telemetry_resource(), fetched when needed.) */
    /* In a fork child: drop connections without sending anything. */
    void (*after_fork)(struct exporter *e);
    /* Optional (NULL: cannot): sends body, an encoded protobuf request of n
     * records (as children hand them to a relay), the way export() sends
     * its own (compression, gRPC framing, retries, the spool). Returns as
     * export() does (BATCH_SPOOLED included). */
    int (*send_encoded)(struct exporter *e, const void *body, size_t len, size_t n,
                        uint64_t deadline_mono_ns);
};

struct exporter {
    const struct exporter_ops *ops;
    enum signal_kind signal;
};

/* A new exporter of the given kind for sig, or NULL (out of memory, or the
 * kind cannot serve the signal yet; a diagnostic says which). */
struct exporter *exporter_new(enum exporter_kind kind, enum signal_kind sig,
                              const struct config *cfg);

struct exporter *console_exporter_new(enum signal_kind sig);
/* OTLP over the configured protocol (http/protobuf, http/json, grpc). */
struct exporter *otlp_exporter_new(enum signal_kind sig, const struct otlp_config *cfg);
/* The same for sig of the process's configuration cfg (kept: it lives as
 * long as the process): after a success it drains the spool of every
 * signal's batches for the same collector, not only sig's (docs/SPOOL.md). */
struct exporter *otlp_exporter_new_all(enum signal_kind sig, const struct config *cfg);
/* OTLP JSON lines appended to cfg->file_path (the otlp_file exporter). */
struct exporter *otlp_file_exporter_new(enum signal_kind sig, const struct otlp_config *cfg);

/* The hand-off seam, for network exporters before any network transport
 * when the process exports synchronously at exit (no worker thread).
 * exporter_handoff_connect: a connection to the parent's relay, or a
 * negative errno (-ENOENT: nobody; -ENOTSUP: no hand-off configured; the
 * exporter sends the batch itself). Then
 * exporter_handoff_send: body, the encoded request (protobuf, or JSON for
 * http/json; without gRPC framing or compression) under
 * telemetry_resource_local(&host); 0 when
 * the relay took the batch (counted as handed off: the relay exports it,
 * in the configured protocol, and counts what became of it). handoff.c. */
int exporter_handoff_connect(enum signal_kind sig, enum otlp_protocol proto);
int exporter_handoff_send(int conn, enum signal_kind sig, const struct buf *body, size_t count,
                          uint32_t host);

/* "Name: value\r\n" lines for OTEL_EXPORTER_OTLP_*HEADERS (percent-decoded),
 * with our User-Agent; malloc'd. */
char *otlp_http_header_block(const char *spec);

/* Set while a dying process flushes from a signal handler. */
extern bool exporter_in_signal;
/* Set while the image about to be replaced by exec flushes: network
 * exporters hand off or spool (outbox.h), they never wait on the network. */
extern _Atomic bool exporter_at_exec;

#endif
