/* forward: sends a received OTLP/HTTP request on, unchanged, to a collector (`otel-preload run
 * --tee`). Depends on POSIX sockets. http:// only, one blocking POST per request within
 * FORWARD_TIMEOUT_MS. */
#ifndef OTELP_SERVER_FORWARD_H
#define OTELP_SERVER_FORWARD_H

#include <stddef.h>
#include <stdint.h>

#define FORWARD_TIMEOUT_MS 5000

struct forward {
    char host[256];
    char port[8];
    char base[512]; /* path prefix before /v1/... ("" for none) */
};

/* Parses "http://host[:port][/prefix]". 0, or -EINVAL with a message. */
int forward_init(struct forward *f, const char *url, char *err, size_t cap)
    __attribute__((warn_unused_result));
/* The same with another port for a URL without one (a notifier's http:// URL: "80"). */
int forward_init_port(struct forward *f, const char *url, const char *default_port, char *err,
                      size_t cap) __attribute__((warn_unused_result));
/* POSTs body to base + path. Returns the HTTP status, or a negative errno. */
int forward_post(const struct forward *f, const char *path, const char *content_type,
                 const char *content_encoding, const uint8_t *body, size_t len);

#endif
