/* exporter: the swappable exporters behind one small struct of function
 * pointers (otlp over HTTP, console, none), chosen by OTEL_*_EXPORTER at run
 * time. export() must not call malloc when in_signal is set (a dying process
 * flushing from its signal handler): encoders write into mmap-backed bufs.
 * Depends on core/config.h, core/span.h, core/log.h, core/resource.h. */
#ifndef OTELP_EXPORTERS_EXPORTER_H
#define OTELP_EXPORTERS_EXPORTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/attr.h"
#include "core/config.h"

struct exporter;

struct exporter_ops {
    const char *name;
    /* records are struct span * for SIGNAL_TRACES, struct log_record * for
     * SIGNAL_LOGS. Returns 0 when the batch
     * was delivered, negative errno when it was lost. */
    int (*export)(struct exporter *e, void *const *records, size_t n,
                  const struct attr_list *resource, uint64_t deadline_mono_ns);
    /* In a fork child: drop connections without sending anything. */
    void (*after_fork)(struct exporter *e);
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
struct exporter *otlp_http_exporter_new(enum signal_kind sig, const struct otlp_config *cfg);

/* "Name: value\r\n" lines for OTEL_EXPORTER_OTLP_*HEADERS (percent-decoded),
 * with our User-Agent; malloc'd. */
char *otlp_http_header_block(const char *spec);

/* Set while a dying process flushes from a signal handler. */
extern bool exporter_in_signal;

#endif
