/* transport_curl: https:// endpoints (OTLP/HTTP protobuf or JSON over
 * HTTP/1.1 with TLS) through libcurl, loaded on first use (curl.h).
 * Depends on curl.h, transport.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    struct transport_curl *x = calloc(1, sizeof *x);
    if (!x) return NULL;
    x->base.ops = &curl_ops;
    size_t n = strlen(headers ? headers : "") + strlen(content_type) + 32;
    char *all = malloc(n);
    if (!all) {
        free(x);
        return NULL;
    }
    snprintf(all, n, "%sContent-Type: %s\r\n", headers ? headers : "", content_type);
    int rc = curl_conn_init(&x->conn, url, all, false, cfg);
    free(all);
    if (rc < 0) {
        free(x);
        return NULL;
    }
    curl_early();
    return &x->base;
}
