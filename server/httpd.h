/* httpd: a small, bounded HTTP/1.1 server on loopback for the receiver and the API.
 * Depends on POSIX sockets, pthreads and zlib (gzip request bodies).
 *
 * One thread per connection, at most HTTPD_MAX_CONNS at once (more are
 * answered 503 and closed); keep-alive; each request read whole before the
 * handler runs: Content-Length or chunked body up to HTTPD_MAX_BODY bytes,
 * a gzip body inflated up to HTTPD_MAX_INFLATED. What breaks these bounds
 * is answered (400, 411, 413, 415 for an unknown Content-Encoding, 431) and
 * counted; the server goes on. A connection idle for HTTPD_IDLE_MS is
 * closed.
 */
#ifndef OTELP_SERVER_HTTPD_H
#define OTELP_SERVER_HTTPD_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTPD_MAX_CONNS 64
#define HTTPD_MAX_HEADER (64 * 1024)
#define HTTPD_MAX_BODY ((size_t)32 * 1024 * 1024)
#define HTTPD_MAX_INFLATED ((size_t)64 * 1024 * 1024)
#define HTTPD_IDLE_MS 30000

struct http_request {
    char method[16];
    char path[1024];  /* without the query string */
    char query[2048]; /* after '?', "" when none */
    char content_type[128];
    const uint8_t *body; /* inflated when it was gzip */
    size_t body_len;
    const uint8_t *raw_body; /* as received (still compressed) */
    size_t raw_len;
    char raw_encoding[64]; /* its Content-Encoding, "" for none */
    /* Headers the dashboard's checks need (server/web.h); "" when absent
     * (a value too long for its field is cut: compare whole values only). */
    char host[256];
    char origin[256];
    char authorization[512];
    char cookie[1024];
    char sec_fetch_site[32];
    bool peer_loopback; /* the client connected from a loopback address */
};

/* A streaming response (Server-Sent Events): written piece by piece by the
 * handler's stream function, on the connection's thread, after the head. */
struct http_stream;
typedef void (*http_stream_fn)(void *ctx, struct http_stream *s);
/* Writes n bytes (blocking, bounded by HTTPD_IDLE_MS). false once the peer is
 * gone or the server stops: the stream function should return. */
bool http_stream_write(struct http_stream *s, const void *p, size_t n);
/* Waits up to ms for the peer to close (or send): true when it is gone. */
bool http_stream_closed(struct http_stream *s, int ms);

struct http_response {
    int status;
    char content_type[64];
    uint8_t *body; /* malloc'ed by the handler, freed by httpd */
    size_t body_len;
    /* Extra header lines, each "Name: value\r\n" ("" for none). */
    char headers[512];
    /* When set, the head is sent without a Content-Length, then stream(ctx)
     * runs and the connection closes; body is ignored. stream always runs
     * (also when the head could not be sent) so it can free ctx. */
    http_stream_fn stream;
    void *stream_ctx;
};

/* Fills resp (status defaults to 200, empty body). Runs on the connection's
 * thread: handlers must be thread-safe. */
typedef void (*http_handler)(void *ctx, const struct http_request *req, struct http_response *resp);

struct httpd_stats {
    atomic_ulong requests;
    atomic_ulong bad_requests; /* answered 4xx by httpd itself */
    atomic_ulong refused_conns;
};

struct httpd;

/* Listens on 127.0.0.1:port (0: any free port) and serves in background
 * threads. Returns NULL with errno set when it cannot listen. */
struct httpd *httpd_start(int port, http_handler handler, void *ctx)
    __attribute__((warn_unused_result));
/* Listens on addr (an IPv4 or IPv6 literal, or "localhost"; NULL: 127.0.0.1). */
struct httpd *httpd_start_on(const char *addr, int port, http_handler handler, void *ctx)
    __attribute__((warn_unused_result));
/* Whether addr names a loopback address (127.0.0.0/8, ::1, "localhost"). */
bool http_addr_is_loopback(const char *addr);
int httpd_port(const struct httpd *h);
const struct httpd_stats *httpd_stats(const struct httpd *h);
/* Stops listening, closes every connection, waits for their threads. */
void httpd_stop(struct httpd *h);

/* Inflates a gzip (or zlib) body into *out (malloc'ed), at most
 * HTTPD_MAX_INFLATED bytes. 0, -EMSGSIZE past the cap, -EINVAL when corrupt. */
int http_inflate(const uint8_t *in, size_t n, uint8_t **out, size_t *out_len)
    __attribute__((warn_unused_result));

/* Helpers for handlers. */
void http_respond(struct http_response *resp, int status, const char *content_type,
                  const void *body, size_t len);
/* Value of `name` in a query string (URL-decoded into out); 0 when found,
 * -ENOENT when absent, -ENAMETOOLONG when it does not fit. */
int http_query_param(const char *query, const char *name, char *out, size_t cap);

#endif
