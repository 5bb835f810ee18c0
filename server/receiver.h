/* receiver: the OTLP/HTTP receiver (traces, logs, metrics) writing into the store, plus the HTTP
 * API. Depends on httpd.h, otlp_decode.h, store.h and api.h.
 *
 * POST /v1/traces, /v1/logs and /v1/metrics take protobuf or JSON bodies (gzip too). A body that
 * does not decode is answered 400 with a google.rpc.Status (protobuf) and
 * counted; records refused by the store come back as partial_success;
 * a store that cannot write answers 503 (the client retries). GET /api/v1/...
 * is the read API (server/api.h, under /api/v1). Everything else is 404/405.
 */
#ifndef OTELP_SERVER_RECEIVER_H
#define OTELP_SERVER_RECEIVER_H

#include <stdatomic.h>

#include "server/store.h"
#include "server/web.h"

struct receiver_stats {
    atomic_ulong requests;
    atomic_ulong bad_requests; /* 4xx, including those httpd answered itself */
    atomic_ulong spans, logs;  /* records received (stored or already there) */
    atomic_ulong points;       /* metric data points, likewise */
    atomic_ulong rejected;     /* records refused: partial success */
    atomic_ulong store_errors;
    atomic_ulong forward_errors; /* --tee: requests the collector did not take (200) */
};

struct receiver;

/* Serves on 127.0.0.1:port (0: any free port). Returns NULL with errno set. */
struct receiver *receiver_start(struct store *store, int port) __attribute__((warn_unused_result));
/* Serves on addr:port (addr as httpd_start_on), with the dashboard (server/web.h) when web
 * is not NULL: its checks on every request, its pages and API paths. */
struct receiver *receiver_start_on(struct store *store, const char *addr, int port,
                                   const struct web_options *web)
    __attribute__((warn_unused_result));
int receiver_port(const struct receiver *r);
/* Also serves OTLP/gRPC (server/grpcd.h) on 127.0.0.1:port (0: any free
 * port). 0 or a negative errno. */
int receiver_start_grpc(struct receiver *r, int port) __attribute__((warn_unused_result));
int receiver_grpc_port(const struct receiver *r); /* 0: not serving gRPC */
/* Also sends every OTLP/HTTP request on to the collector at url (http://),
 * after storing it (`otel-preload run --tee`). 0 or -EINVAL (err says why). */
int receiver_set_forward(struct receiver *r, const char *url, char *err, size_t cap)
    __attribute__((warn_unused_result));
void receiver_get_stats(const struct receiver *r, struct receiver_stats *out);
void receiver_stop(struct receiver *r);

#endif
