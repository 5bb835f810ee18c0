/* outbox: this process's side of the spool (spool.h, docs/SPOOL.md).
 * An export that cannot be delivered now (at exit or exec: a refused
 * connection, no network, no route, a resolver that does not answer; at
 * any time: retries that ran out of time) is put in the spool instead of
 * dropped; after a success to a collector, what the spool holds for it is
 * drained, of every signal the drainer has a route for (claimed by
 * rename, sent, then removed). Signal-generic: the exporter says what the body is.
 * outbox_put calls no malloc and no stdio (a dying process's signal
 * handler may spool); outbox_drain mallocs (never in a signal handler).
 * Depends on spool.h, core/config.h. */
#ifndef OTELP_EXPORTERS_OUTBOX_H
#define OTELP_EXPORTERS_OUTBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "exporters/spool.h"

/* The spool directory from envp (OTEL_PRELOAD_SPOOL_DIR, ...) and the cap
 * (0: never spool). Touches nothing on disk. */
void outbox_init(char *const *envp, uint64_t max_bytes);
/* Whether outbox_put may succeed (a directory, a non-zero cap). */
bool outbox_enabled(void);

/* What a batch is: the fields of its spool header (spool.h). */
struct outbox_batch {
    enum signal_kind signal;
    const char *endpoint; /* as configured (docs/SPOOL.md) */
    enum otlp_protocol protocol;
    bool gzip;        /* body is gzip-compressed */
    const void *body; /* the request as POSTed (gRPC: without the frame) */
    size_t len, records;
};

/* Writes one batch to the spool. 0, or a negative errno (counted as
 * refused: the caller counts the records as dropped). */
int outbox_put(const struct outbox_batch *b) __attribute__((warn_unused_result));

/* Sends one spooled batch (h: its header; body: h->length bytes) through
 * the drainer's own transport; 0 when delivered. */
typedef int (*outbox_send_fn)(void *ctx, const struct spool_header *h, const uint8_t *body,
                              uint64_t deadline);

/* Drains up to max_batches spooled batches for (sig, endpoint, protocol),
 * oldest first, through send, until the deadline or the first failure (the
 * batch is given back). Returns how many records were delivered. Not in a
 * signal handler. */
uint64_t outbox_drain(enum signal_kind sig, const char *endpoint, enum otlp_protocol protocol,
                      outbox_send_fn send, void *ctx, size_t max_batches, uint64_t deadline);

/* One signal's way out for outbox_drain_routes: its batches for endpoint
 * and protocol (as their headers say) go through send. endpoint or send
 * NULL: that signal's batches are left alone. */
struct outbox_route {
    const char *endpoint;
    enum otlp_protocol protocol;
    outbox_send_fn send;
    void *ctx;
};

/* outbox_drain for every signal with a route at once (an exporter that
 * reached its collector drains what the spool holds for it of every
 * signal, in one pass over the directory): up to max_batches in all,
 * oldest first, until the deadline; a failed send gives its batch back
 * and ends that signal's drain, the others go on. delivered (may be NULL):
 * the records delivered per signal. Returns their sum. */
uint64_t outbox_drain_routes(const struct outbox_route routes[SIGNAL_COUNT], size_t max_batches,
                             uint64_t deadline, uint64_t delivered[SIGNAL_COUNT]);

/* A cheap check: whether the spool directory may hold batches (it exists,
 * and on a file system that tells, holds entries). */
bool outbox_maybe_pending(void);

struct outbox_stats {
    uint64_t spooled_batches, spooled_records;
    uint64_t evicted_batches, evicted_records; /* removed to hold the cap */
    uint64_t refused_batches, refused_records; /* could not be spooled: dropped */
    uint64_t drained_batches, drained_records; /* sent from the spool by this process */
};
void outbox_get_stats(struct outbox_stats *out);

/* The protocol's name as docs/SPOOL.md writes it. */
const char *outbox_protocol_name(enum otlp_protocol p);

/* In a fork child: counts start again. */
void outbox_after_fork_child(void);

#endif
