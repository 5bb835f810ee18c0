/* drain: the local server takes in the spool at start (docs/SPOOL.md "Draining").
 * Depends on exporters/spool.h (the spool's one implementation), otlp_decode.h and store.h. */
#ifndef OTELP_SERVER_DRAIN_H
#define OTELP_SERVER_DRAIN_H

#include <stddef.h>

#include "server/store.h"

struct drain_result {
    size_t batches, records; /* stored */
    size_t corrupt;          /* removed: did not parse or decode */
    size_t skipped;          /* left for another drainer (OTLP/JSON, metrics) */
};

/* Stores every batch of the user's spool (every endpoint), oldest first, at
 * most `max` batches. A batch is removed once stored; one that fails to
 * store is released and the drain stops. 0 or a negative errno. */
int drain_spool(struct store *st, size_t max, struct drain_result *out)
    __attribute__((warn_unused_result));

#endif
