/* transport: how an encoded OTLP request reaches a collector, behind one
 * small struct of function pointers, one file each:
 *   transport_http.c  http:// over our own HTTP/1.1 client (no libcurl)
 *   transport_curl.c  https:// (HTTP/1.1 over TLS) through libcurl, loaded
 *                     with dlopen on first use
 *   transport_grpc.c  OTLP/gRPC (unary Export over HTTP/2, h2c or TLS)
 *                     through libcurl
 *   transport_file.c  OTLP JSON lines appended to a file
 * A transport sends once: retries, backoff and deadlines are the
 * exporter's (otlp.c), classification is retry.c's.
 * Depends on core/config.h. */
#ifndef OTELP_EXPORTERS_TRANSPORT_H
#define OTELP_EXPORTERS_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"

struct transport;

struct transport_request {
    const uint8_t *body; /* for gRPC: the 5-byte message frame included */
    size_t len;
    bool gzip; /* body (gRPC: the message) is gzip-compressed */
    /* In a signal handler on this very thread: no malloc, no locks, no
     * resolver, no dlopen. */
    bool in_signal;
};

struct transport_result {
    int http_status;         /* 0: none received */
    int grpc_status;         /* -1: not gRPC, or no grpc-status seen */
    bool retry_info;         /* a gRPC google.rpc.RetryInfo detail came */
    int64_t server_delay_ms; /* Retry-After or RetryInfo; -1 none */
    uint8_t *body;           /* the caller's buffer for the response body */
    size_t body_cap, body_len;
    char message[160]; /* grpc-message (percent-decoded), for diagnostics */
};

struct transport_ops {
    const char *name;
    /* Returns 0 when a response came (res says which), or a negative errno
     * (connection refused, -ETIMEDOUT at the deadline, -E2BIG for a
     * response over 4 MiB, -EAGAIN when the transport cannot run here, ...).
     * deadline: monotonic ns. */
    int (*send)(struct transport *t, const struct transport_request *req, uint64_t deadline,
                struct transport_result *res);
    /* In a fork child: forget connections without writing to them. */
    void (*after_fork)(struct transport *t);
    /* true: the data goes over a network (the hand-off seam applies). */
    bool network;
};

struct transport {
    const struct transport_ops *ops;
};

/* Constructors. url: the full URL (grpc: as configured). headers:
 * "Name: value\r\n" lines added to every request (User-Agent and the
 * user's headers). content_type: of the body. Each returns NULL with a
 * diagnostic when it cannot serve the configuration. */
struct transport *transport_http_new(const char *url, const char *content_type,
                                     const char *headers);
struct transport *transport_curl_new(const char *url, const char *content_type, const char *headers,
                                     const struct otlp_config *cfg);
struct transport *transport_grpc_new(enum signal_kind sig, const char *url, const char *headers,
                                     const struct otlp_config *cfg);
struct transport *transport_file_new(const char *path);

#define TRANSPORT_MAX_RESPONSE (4u << 20) /* larger responses are refused */

#endif
