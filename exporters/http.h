/* http: a small HTTP/1.1 client on plain sockets for http:// endpoints, so a
 * short-lived process exports without loading libcurl. Keep-alive, one
 * request at a time, every step bounded by a deadline on the monotonic clock,
 * sockets CLOEXEC and non-blocking, MSG_NOSIGNAL (never SIGPIPE), no malloc
 * (request head and response are read through stack buffers). Names other
 * than IP literals and "localhost" need getaddrinfo, which is only used when
 * the caller allows it (not in a signal handler). Depends on libc. */
#ifndef OTELP_EXPORTERS_HTTP_H
#define OTELP_EXPORTERS_HTTP_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct http_url {
    bool tls;
    char host[256];
    uint16_t port;
    char path[1024];     /* starts with '/' */
    char authority[300]; /* Host header value */
};

/* Parses http://host[:port]/path and https://... Returns 0 or -EINVAL. */
int http_url_parse(const char *url, struct http_url *out) __attribute__((warn_unused_result));

/* Whether s is an IPv4 address in dotted decimal, as inet_pton(AF_INET)
 * takes it (four parts of 0-255, no leading zeros); then *out is it.
 * Without inet_pton: its code page was a fault of every exporting process. */
bool http_ipv4_literal(const char *s, struct in_addr *out);
/* NULL when url parses; otherwise what is wrong with it, in words that
 * never quote it (user information is refused, never printed). */
const char *http_url_problem(const char *url);

#define HTTP_MAX_ADDRS 4

struct http_client {
    struct http_url url;
    int fd;
    struct sockaddr_storage addrs[HTTP_MAX_ADDRS];
    socklen_t addr_lens[HTTP_MAX_ADDRS];
    int naddrs;
};

struct http_response {
    int status;
    int64_t retry_after_s; /* -1 when absent */
    size_t body_len;
    /* Set by the caller: where the first body_cap bytes of the body go
     * (body_cap 0: nowhere); captured says how many did. */
    uint8_t *body;
    size_t body_cap, captured;
};

void http_client_init(struct http_client *c, const struct http_url *url);
/* POSTs body with extra_headers ("Name: value\r\n" lines, may be NULL).
 * resp->body and resp->body_cap are read (set them, or zero them); the rest
 * of resp is filled.
 * Returns 0 with resp filled, or a negative errno (-ETIMEDOUT, -ECONNREFUSED,
 * -EAGAIN when the name needs a resolver and may_resolve is false, ...). */
int http_post(struct http_client *c, const char *content_type, const char *extra_headers,
              const void *body, size_t len, uint64_t deadline_mono_ns, bool may_resolve,
              struct http_response *resp) __attribute__((warn_unused_result));
void http_close(struct http_client *c);
/* Reads one response (interim 1xx skipped) from *fd, as http_post does:
 * for the fuzz target and tests. Returns 0 or a negative errno. */
int http_read_response(const int *fd, uint64_t deadline_mono_ns, struct http_response *resp,
                       bool *keep) __attribute__((warn_unused_result));

#define HTTP_MAX_RESPONSE_BODY (4u << 20)
/* What a response may hold before it is refused (-EPROTO): interim (1xx)
 * responses before the final one, header (or trailer) lines in each. */
#define HTTP_MAX_INTERIM 8
#define HTTP_MAX_HEADER_LINES 128

#endif
