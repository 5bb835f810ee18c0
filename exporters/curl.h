/* curl: libcurl for the transports that need it (https, gRPC), loaded with
 * dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL) on first use, never at load
 * time (DESIGN.md's cost model: linking it makes every process start 6x
 * slower). Holds the function pointers, and one connection type both curl
 * transports use: a reused easy handle set up for host safety:
 *   CURLOPT_NOSIGNAL (no alarm-based timeouts; the resolver is libcurl's
 *   threaded one, and signals are blocked around each transfer so its
 *   helper thread never takes one of the program's); sockets opened
 *   SOCK_CLOEXEC through CURLOPT_OPENSOCKETFUNCTION and remembered, so a
 *   fork child drops them without a word to the peer; no redirects; http and
 *   https only; a response over 4 MiB aborts the transfer; TLS verification
 *   on unless OTEL_EXPORTER_OTLP_*INSECURE says otherwise, never a fallback.
 * Not RTLD_DEEPBIND: the sanitizers refuse it and it would bypass a
 * program's malloc interposer. A program that uses libcurl itself shares
 * the one libcurl.so.4 (reference-counted global init, separate handles);
 * other libcurl/OpenSSL versions have other sonames and versioned symbols.
 * OpenSSL registers its cleanup with atexit when first initialised, and at
 * exit that would run before our final flush (a destructor): so we are
 * first to initialise it, with OPENSSL_INIT_NO_ATEXIT, either when we load
 * it, or (for a program linked with OpenSSL) from the constructor through
 * curl_early(). Should OpenSSL be cleaned up anyway (a program calling
 * OPENSSL_cleanup itself), exports fail with -ESHUTDOWN, counted, instead
 * of touching it. libcurl is never used from a signal handler.
 * Depends on transport.h, core/config.h; curl/curl.h for types only. */
#ifndef OTELP_EXPORTERS_CURL_H
#define OTELP_EXPORTERS_CURL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "exporters/transport.h"

/* Loads libcurl once (never from a signal handler). Returns 0 or -ENOSYS
 * (with one diagnostic). */
int curl_load(void);
/* At set-up (the constructor), for a configuration that uses libcurl:
 * initialises an already loaded OpenSSL without its atexit cleanup. Loads
 * nothing. */
void curl_early(void);
/* Whether libcurl is loaded in this process (by us). */
bool curl_loaded(void);

#define CURL_CONN_MAX_FDS 8

struct curl_conn {
    void *easy; /* CURL *, created on first use */
    char *url;
    char *headers; /* "Name: value\r\n" lines */
    bool grpc;
    bool insecure;
    char *ca, *cert, *key;
    int fds[CURL_CONN_MAX_FDS]; /* our open sockets, -1 free */
    /* Per-transfer state for the callbacks. */
    struct transport_result *res;
    size_t total;
    bool too_big, got_header;
    char errbuf[256];
};

/* Fills c (copies the strings, headers followed by more_headers, into
 * pool memory: core/pool.h). Returns 0 or -ENOMEM. */
int curl_conn_init(struct curl_conn *c, const char *url, const char *headers,
                   const char *more_headers, bool grpc, const struct otlp_config *cfg)
    __attribute__((warn_unused_result));
/* a, b and c (each may be NULL) one after the other, in pool memory; NULL
 * when out of memory. */
char *curl_concat(const char *a, const char *b, const char *c);
/* One transfer: POST body with the base headers plus extra (lines, may be
 * NULL). Returns 0 with res filled (HTTP status, gRPC status and message
 * from headers or trailers, Retry-After, RetryInfo, body prefix), or a
 * negative errno. */
int curl_conn_post(struct curl_conn *c, const struct transport_request *req, const char *extra,
                   uint64_t deadline, struct transport_result *res)
    __attribute__((warn_unused_result));
/* In a fork child: close our sockets, abandon the handle (never reused). */
void curl_conn_after_fork(struct curl_conn *c);

#endif
