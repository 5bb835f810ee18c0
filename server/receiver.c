/* receiver: the OTLP/HTTP receiver (traces, logs, metrics) and the read API's entry. Depends on
 * httpd, otlp_decode, store, api, web (the dashboard). */
#include "server/receiver.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server/api.h"
#include "server/forward.h"
#include "server/grpcd.h"
#include "server/httpd.h"
#include "server/otlp_json.h"
#include "server/sbuf.h"

struct receiver {
    struct store *store;
    struct httpd *httpd;
    struct grpcd *grpcd;
    struct web *web;        /* the dashboard, or NULL */
    struct forward forward; /* --tee: where requests go on to */
    bool forwarding;
    struct receiver_stats stats;
};

static void put_varint(struct sbuf *b, uint64_t v) {
    uint8_t tmp[10];
    size_t n = 0;
    do {
        tmp[n] = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v) tmp[n] |= 0x80;
        n++;
    } while (v);
    sbuf_add(b, tmp, n);
}

/* google.rpc.Status { int32 code = 1; string message = 2; } */
static void respond_status(struct http_response *resp, int http_status, int grpc_code,
                           const char *msg) {
    struct sbuf b = {0};
    sbuf_add(&b, "\x08", 1);
    put_varint(&b, (uint64_t)grpc_code);
    size_t n = strlen(msg);
    sbuf_add(&b, "\x12", 1);
    put_varint(&b, n);
    sbuf_add(&b, msg, n);
    http_respond(resp, b.failed ? 500 : http_status, "application/x-protobuf", b.data, b.len);
    sbuf_free(&b);
}

/* Export*ServiceResponse: partial_success = 1 { rejected = 1; error_message = 2 } */
static void respond_ok(struct http_response *resp, bool json, const char *what, int64_t rejected,
                       const char *msg) {
    struct sbuf b = {0};
    if (json) {
        if (rejected > 0) {
            sbuf_printf(&b, "{\"partialSuccess\":{\"rejected%s\":\"%lld\",\"errorMessage\":", what,
                        (long long)rejected);
            sbuf_json_str(&b, msg, strlen(msg));
            sbuf_puts(&b, "}}");
        } else {
            sbuf_puts(&b, "{}");
        }
    } else if (rejected > 0) {
        struct sbuf inner = {0};
        sbuf_add(&inner, "\x08", 1);
        put_varint(&inner, (uint64_t)rejected);
        sbuf_add(&inner, "\x12", 1);
        put_varint(&inner, strlen(msg));
        sbuf_puts(&inner, msg);
        sbuf_add(&b, "\x0a", 1);
        put_varint(&b, inner.len);
        sbuf_add(&b, inner.data, inner.len);
        sbuf_free(&inner);
    }
    http_respond(resp, b.failed ? 500 : 200, json ? "application/json" : "application/x-protobuf",
                 b.data, b.len);
    sbuf_free(&b);
}

static bool is_proto(const char *ct) {
    return strncasecmp(ct, "application/x-protobuf", 22) == 0 ||
           strncasecmp(ct, "application/protobuf", 20) == 0;
}

static void bad(struct receiver *r, struct http_response *resp, int status, const char *msg) {
    atomic_fetch_add(&r->stats.bad_requests, 1);
    respond_status(resp, status, 3 /* INVALID_ARGUMENT */, msg);
}

/* Decodes and stores one request. 0; -EINVAL: it does not decode (err
 * says why); -EIO: the store could not write it (err says why). */
static int ingest(struct receiver *r, enum store_signal sig, bool json, const uint8_t *body,
                  size_t len, int64_t *rejected, char *err, size_t cap) {
    char why[256] = "";
    int rc;
    *rejected = 0;
    if (sig == STORE_TRACES) {
        struct otlp_traces *t = json ? otlp_json_traces_decode(body, len, why, sizeof(why))
                                     : otlp_traces_decode(body, len, why, sizeof(why));
        if (t == NULL) {
            snprintf(err, cap, "cannot decode ExportTraceServiceRequest: %s", why);
            return -EINVAL;
        }
        rc = store_write_traces(r->store, t, rejected, err, cap);
        if (rc == 0)
            atomic_fetch_add(&r->stats.spans, otlp_traces_span_count(t) - (size_t)*rejected);
        otlp_traces_free(t);
    } else if (sig == STORE_LOGS) {
        struct otlp_logs *l = json ? otlp_json_logs_decode(body, len, why, sizeof(why))
                                   : otlp_logs_decode(body, len, why, sizeof(why));
        if (l == NULL) {
            snprintf(err, cap, "cannot decode ExportLogsServiceRequest: %s", why);
            return -EINVAL;
        }
        rc = store_write_logs(r->store, l, rejected, err, cap);
        if (rc == 0)
            atomic_fetch_add(&r->stats.logs, otlp_logs_record_count(l) - (size_t)*rejected);
        otlp_logs_free(l);
    } else {
        struct otlp_metrics *m = json ? otlp_json_metrics_decode(body, len, why, sizeof(why))
                                      : otlp_metrics_decode(body, len, why, sizeof(why));
        if (m == NULL) {
            snprintf(err, cap, "cannot decode ExportMetricsServiceRequest: %s", why);
            return -EINVAL;
        }
        rc = store_write_metrics(r->store, m, rejected, err, cap);
        if (rc == 0)
            atomic_fetch_add(&r->stats.points, otlp_metrics_point_count(m) - (size_t)*rejected);
        otlp_metrics_free(m);
    }
    if (rc != 0) {
        atomic_fetch_add(&r->stats.store_errors, 1);
        return -EIO;
    }
    atomic_fetch_add(&r->stats.rejected, (unsigned long)*rejected);
    return 0;
}

/* partial_success's counter name in OTLP/JSON, after "rejected". */
static const char *rejected_name(enum store_signal sig) {
    return sig == STORE_TRACES ? "Spans" : sig == STORE_LOGS ? "LogRecords" : "DataPoints";
}

static void handle_export(struct receiver *r, const struct http_request *req,
                          struct http_response *resp, enum store_signal sig) {
    if (strcmp(req->method, "POST") != 0) {
        bad(r, resp, 405, "use POST");
        return;
    }
    bool json = strncasecmp(req->content_type, "application/json", 16) == 0;
    if (!is_proto(req->content_type) && !json) {
        bad(r, resp, 415, "unsupported Content-Type: application/x-protobuf or application/json");
        return;
    }
    char msg[320] = "";
    int64_t rejected = 0;
    int rc = ingest(r, sig, json, req->body, req->body_len, &rejected, msg, sizeof(msg));
    if (rc == -EINVAL)
        bad(r, resp, 400, msg);
    else if (rc != 0)
        respond_status(resp, 503, 14 /* UNAVAILABLE */, msg);
    else
        respond_ok(resp, json, rejected_name(sig), rejected, msg);
    if (rc == 0 && r->forwarding) {
        /* the collector gets the request as the program sent it (compressed or not) */
        int st = forward_post(&r->forward, req->path, req->content_type,
                              req->raw_encoding[0] ? req->raw_encoding : NULL, req->raw_body,
                              req->raw_len);
        if (st != 200) atomic_fetch_add(&r->stats.forward_errors, 1);
    }
}

/* OTLP/gRPC: the same ingest behind the services' Export methods. */
static int handle_grpc(void *ctx, const char *path, const uint8_t *msg, size_t len, uint8_t **resp,
                       size_t *resp_len, char *err, size_t cap) {
    struct receiver *r = ctx;
    atomic_fetch_add(&r->stats.requests, 1);
    enum store_signal sig;
    if (strcmp(path, "/opentelemetry.proto.collector.trace.v1.TraceService/Export") == 0) {
        sig = STORE_TRACES;
    } else if (strcmp(path, "/opentelemetry.proto.collector.logs.v1.LogsService/Export") == 0) {
        sig = STORE_LOGS;
    } else if (strcmp(path, "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export") ==
               0) {
        sig = STORE_METRICS;
    } else {
        atomic_fetch_add(&r->stats.bad_requests, 1);
        snprintf(err, cap, "unknown method %s (traces, logs and metrics are served)", path);
        return 12; /* UNIMPLEMENTED */
    }
    int64_t rejected = 0;
    int rc = ingest(r, sig, false, msg, len, &rejected, err, cap);
    if (rc == -EINVAL) {
        atomic_fetch_add(&r->stats.bad_requests, 1);
        return 3; /* INVALID_ARGUMENT */
    }
    if (rc != 0) return 14; /* UNAVAILABLE */
    struct http_response tmp = {.status = 200};
    respond_ok(&tmp, false, rejected_name(sig), rejected, err);
    err[0] = '\0';
    *resp = tmp.body;
    *resp_len = tmp.body_len;
    return 0;
}

static void handle(void *ctx, const struct http_request *req, struct http_response *resp) {
    struct receiver *r = ctx;
    atomic_fetch_add(&r->stats.requests, 1);
    if (r->web != NULL) {
        if (!web_admit(r->web, req, resp)) return;
        if (web_handle(r->web, req, resp)) return;
    }
    if (strcmp(req->path, "/v1/traces") == 0) {
        handle_export(r, req, resp, STORE_TRACES);
    } else if (strcmp(req->path, "/v1/logs") == 0) {
        handle_export(r, req, resp, STORE_LOGS);
    } else if (strcmp(req->path, "/v1/metrics") == 0) {
        handle_export(r, req, resp, STORE_METRICS);
    } else if (strncmp(req->path, "/api/", 5) == 0) {
        api_handle(store_path(r->store), req, resp);
    } else {
        bad(r, resp, 404, "unknown path: OTLP is served at /v1/traces, /v1/logs and /v1/metrics");
    }
}

struct receiver *receiver_start(struct store *store, int port) {
    return receiver_start_on(store, NULL, port, NULL);
}

struct receiver *receiver_start_on(struct store *store, const char *addr, int port,
                                   const struct web_options *web) {
    struct receiver *r = calloc(1, sizeof(*r));
    if (r == NULL) return NULL;
    r->store = store;
    if (web != NULL && (r->web = web_new(store_path(store), web)) == NULL) {
        int e = errno;
        free(r);
        errno = e;
        return NULL;
    }
    r->httpd = httpd_start_on(addr, port, handle, r);
    if (r->httpd == NULL) {
        int e = errno;
        web_free(r->web);
        free(r);
        errno = e;
        return NULL;
    }
    return r;
}

int receiver_port(const struct receiver *r) {
    return httpd_port(r->httpd);
}

int receiver_set_forward(struct receiver *r, const char *url, char *err, size_t cap) {
    int rc = forward_init(&r->forward, url, err, cap);
    r->forwarding = rc == 0;
    return rc;
}

int receiver_start_grpc(struct receiver *r, int port) {
    r->grpcd = grpcd_start(port, handle_grpc, r);
    return r->grpcd != NULL ? 0 : -errno;
}

int receiver_grpc_port(const struct receiver *r) {
    return r->grpcd ? grpcd_port(r->grpcd) : 0;
}

void receiver_get_stats(const struct receiver *r, struct receiver_stats *out) {
    const struct httpd_stats *h = httpd_stats(r->httpd);
    atomic_init(&out->requests, atomic_load(&r->stats.requests) + atomic_load(&h->bad_requests));
    atomic_init(&out->bad_requests,
                atomic_load(&r->stats.bad_requests) + atomic_load(&h->bad_requests));
    atomic_init(&out->spans, atomic_load(&r->stats.spans));
    atomic_init(&out->logs, atomic_load(&r->stats.logs));
    atomic_init(&out->points, atomic_load(&r->stats.points));
    atomic_init(&out->rejected, atomic_load(&r->stats.rejected));
    atomic_init(&out->store_errors, atomic_load(&r->stats.store_errors));
    atomic_init(&out->forward_errors, atomic_load(&r->stats.forward_errors));
}

void receiver_stop(struct receiver *r) {
    if (r == NULL) return;
    grpcd_stop(r->grpcd);
    web_stop(r->web); /* ends the live streams, which httpd_stop waits for */
    httpd_stop(r->httpd);
    web_free(r->web);
    free(r);
}
