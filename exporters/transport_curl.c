/* transport_curl: https:// endpoints (OTLP/HTTP protobuf or JSON over
 * HTTP/1.1 with TLS) through libcurl, loaded on first use (curl.h).
 * Depends on curl.h, transport.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/pool.h"
#include "exporters/curl.h"
#include "exporters/transport.h"

struct transport_curl {
    struct transport base;
    struct curl_conn conn;
};

static int curl_send(struct transport *t, const struct transport_request *req, uint64_t deadline,
                     struct transport_result *res) {
    struct transport_curl *x = (struct transport_curl *)t;
    /* "Expect:" turns off libcurl's 100-continue wait for larger bodies. */
    return curl_conn_post(&x->conn, req,
                          req->gzip ? "Expect:\r\nContent-Encoding: gzip\r\n" : "Expect:\r\n",
                          deadline, res);
}

static void curl_after_fork(struct transport *t) {
    curl_conn_after_fork(&((struct transport_curl *)t)->conn);
}

static const struct transport_ops curl_ops = {"curl-http", curl_send, curl_after_fork, true};

struct transport *transport_curl_new(const char *url, const char *content_type, const char *headers,
                                     const struct otlp_config *cfg) {
    /* From the pool, strings put together by hand: no malloc, no snprintf
     * at a process's start (core/pool.h). */
    struct transport_curl *x = pool_alloc(sizeof *x);
    char line[96];
    size_t n = strlen(content_type);
    if (!x || n > sizeof line - 17) {
        pool_free(x);
        return NULL;
    }
    x->base.ops = &curl_ops;
    memcpy(line, "Content-Type: ", 14);
    memcpy(line + 14, content_type, n);
    memcpy(line + 14 + n, "\r\n", 3);
    if (curl_conn_init(&x->conn, url, headers, line, false, cfg) < 0) {
        pool_free(x);
        return NULL;
    }
    curl_early();
    return &x->base;
}
