/* transport_grpc: OTLP/gRPC, the unary Export call of
 * /opentelemetry.proto.collector.<signal>.v1.<Signal>Service/Export over
 * HTTP/2 through libcurl (curl.h): h2c with prior knowledge for http://,
 * TLS with ALPN h2 for https://; a scheme-less endpoint (host:port) uses
 * TLS unless OTEL_EXPORTER_OTLP_*INSECURE=true. The body is one
 * length-prefixed message (the exporter frames it); grpc-timeout carries
 * the time left; grpc-encoding: gzip marks a compressed message. The outcome
 * is grpc-status (headers of a trailers-only response, or trailers), with
 * grpc-message and a RetryInfo detail; a response without grpc-status maps
 * its HTTP status the way gRPC does (429, 502, 503, 504: UNAVAILABLE).
 * Depends on curl.h, transport.h, retry.h (codes). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/diag.h"
#include "exporters/http.h"
#include "core/ids.h"
#include "core/pool.h"
#include "exporters/curl.h"
#include "exporters/retry.h"
#include "exporters/transport.h"

struct transport_grpc {
    struct transport base;
    struct curl_conn conn;
};

/* gRPC's mapping of HTTP statuses for responses without grpc-status. */
static int grpc_from_http(int status) {
    switch (status) {
    case 400:
        return GRPC_INTERNAL;
    case 401:
        return GRPC_UNAUTHENTICATED;
    case 403:
        return GRPC_PERMISSION_DENIED;
    case 404:
        return GRPC_UNIMPLEMENTED;
    case 429:
    case 502:
    case 503:
    case 504:
        return GRPC_UNAVAILABLE;
    default:
        return GRPC_UNKNOWN;
    }
}

static int grpc_send(struct transport *t, const struct transport_request *req, uint64_t deadline,
                     struct transport_result *res) {
    struct transport_grpc *x = (struct transport_grpc *)t;
    uint64_t now = clock_mono_ns();
    uint64_t ms = now < deadline ? (deadline - now) / 1000000u : 0;
    if (ms > 99999999) ms = 99999999; /* grpc-timeout: at most 8 digits */
    char extra[128];
    snprintf(extra, sizeof extra, "grpc-timeout: %llum\r\n%s", (unsigned long long)(ms ? ms : 1),
             req->gzip ? "grpc-encoding: gzip\r\n" : "");
    int rc = curl_conn_post(&x->conn, req, extra, deadline, res);
    if (rc < 0) return rc;
    if (res->grpc_status < 0)
        res->grpc_status =
            res->http_status == 200 ? GRPC_UNKNOWN : grpc_from_http(res->http_status);
    if (res->grpc_status == GRPC_UNKNOWN && !res->message[0] && res->http_status != 200)
        snprintf(res->message, sizeof res->message, "HTTP %d", res->http_status);
    return 0;
}

static void grpc_after_fork(struct transport *t) {
    curl_conn_after_fork(&((struct transport_grpc *)t)->conn);
}

static const struct transport_ops grpc_ops = {"curl-grpc", grpc_send, grpc_after_fork, true};

static const char *const services[SIGNAL_COUNT] = {
    "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
    "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
    "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"};

struct transport *transport_grpc_new(enum signal_kind sig, const char *endpoint,
                                     const char *headers, const struct otlp_config *cfg) {
    const char *scheme, *rest;
    if (!strncasecmp(endpoint, "http://", 7)) {
        scheme = "http://";
        rest = endpoint + 7;
    } else if (!strncasecmp(endpoint, "https://", 8)) {
        scheme = "https://";
        rest = endpoint + 8;
    } else if (!strstr(endpoint, "://")) {
        scheme = cfg->insecure ? "http://" : "https://";
        rest = endpoint;
    } else {
        diag_warn("OTLP/gRPC endpoint cannot be used: its scheme is not supported (http://, "
                  "https://, or host:port); %s will not be exported",
                  sig == SIGNAL_TRACES ? "spans" : "records");
        return NULL;
    }
    size_t alen = strcspn(rest, "/?#");
    /* Put together by hand, like the rest of a process's start: no
     * snprintf, no malloc (their pages cost a short process more than
     * their work). */
    char url[512];
    const char *problem = NULL;
    size_t sl = strlen(scheme), vl = strlen(services[sig]);
    if (sl + alen + vl >= sizeof url) {
        problem = "it is too long";
    } else {
        memcpy(url, scheme, sl);
        memcpy(url + sl, rest, alen);
        memcpy(url + sl + alen, services[sig], vl + 1);
        problem = http_url_problem(url);
    }
    if (problem) { /* never quoted: it may hold a password */
        diag_warn("OTLP/gRPC endpoint cannot be used: %s; %s will not be exported", problem,
                  sig == SIGNAL_TRACES ? "spans" : "records");
        return NULL;
    }
    struct transport_grpc *x = pool_alloc(sizeof *x);
    if (!x) return NULL;
    x->base.ops = &grpc_ops;
    if (curl_conn_init(&x->conn, url, headers, "Content-Type: application/grpc\r\nTE: trailers\r\n",
                       true, cfg) < 0) {
        pool_free(x);
        return NULL;
    }
    curl_early();
    if (!strcmp(scheme, "http://") && cfg->certificate)
        diag_warn("OTEL_EXPORTER_OTLP_CERTIFICATE is set but the gRPC endpoint is plaintext");
    return &x->base;
}
