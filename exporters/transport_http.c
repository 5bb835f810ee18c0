/* transport_http: http:// endpoints over the plain-socket HTTP/1.1 client
 * (http.c): no libcurl, so a short-lived process exports without loading
 * it. Names other than IP literals and localhost are not resolved in a
 * signal handler. Depends on http.h, transport.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/diag.h"
#include "core/pool.h"
#include "exporters/http.h"
#include "exporters/transport.h"

struct transport_http {
    struct transport base;
    struct http_client client;
    const char *content_type;
    char *headers, *headers_gzip;
};

static int http_send(struct transport *t, const struct transport_request *req, uint64_t deadline,
                     struct transport_result *res) {
    struct transport_http *x = (struct transport_http *)t;
    struct http_response resp = {.body = res->body, .body_cap = res->body_cap};
    int rc = http_post(&x->client, x->content_type, req->gzip ? x->headers_gzip : x->headers,
                       req->body, req->len, deadline, !req->in_signal, &resp);
    if (rc < 0) return rc;
    res->http_status = resp.status;
    res->server_delay_ms = resp.retry_after_s >= 0 ? resp.retry_after_s * 1000 : -1;
    res->body_len = resp.captured;
    return 0;
}

static void http_after_fork(struct transport *t) {
    http_close(&((struct transport_http *)t)->client); /* the parent's connection */
}

static const struct transport_ops http_ops = {"http", http_send, http_after_fork, true};

struct transport *transport_http_new(const char *url, const char *content_type,
                                     const char *headers) {
    struct http_url u;
    if (http_url_parse(url, &u) < 0 || u.tls) return NULL;
    static const char gz[] = "Content-Encoding: gzip\r\n";
    size_t hl = strlen(headers ? headers : "");
    /* One piece, from the pool (no malloc at start): the struct, then the
     * headers, then the headers for a gzip'd body. */
    struct transport_http *x = pool_alloc(sizeof *x + hl + 1 + hl + sizeof gz);
    if (!x) return NULL;
    x->base.ops = &http_ops;
    x->content_type = content_type;
    x->headers = (char *)(x + 1);
    x->headers_gzip = x->headers + hl + 1;
    memcpy(x->headers, headers ? headers : "", hl); /* no snprintf at process start */
    x->headers[hl] = '\0';
    memcpy(x->headers_gzip, x->headers, hl);
    memcpy(x->headers_gzip + hl, gz, sizeof gz);
    http_client_init(&x->client, &u);
    return &x->base;
}
