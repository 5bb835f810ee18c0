/* grpcd: a small, bounded OTLP/gRPC server (HTTP/2 with trailers) on loopback.
 * Depends on libnghttp2, pthreads, zlib (through httpd.h's http_inflate).
 *
 * One thread per connection, at most GRPCD_MAX_CONNS; each request (one
 * unary call: one length-prefixed message, gzip when grpc-encoding says
 * so) up to HTTPD_MAX_BODY bytes is read whole, then the handler answers
 * with a gRPC status and, for status 0, a response message. The answer is
 * HEADERS (:status 200, application/grpc), DATA (the framed message), and
 * trailers (grpc-status, grpc-message).
 */
#ifndef OTELP_SERVER_GRPCD_H
#define OTELP_SERVER_GRPCD_H

#include <stddef.h>
#include <stdint.h>

#define GRPCD_MAX_CONNS 64
#define GRPCD_MAX_STREAMS 100

/* Handles one call: path (":path"), the message. Returns a gRPC status code
 * (0 OK, 3 INVALID_ARGUMENT, 12 UNIMPLEMENTED, 14 UNAVAILABLE); on 0 sets
 * *resp (malloc'ed or NULL) and *resp_len; otherwise msg says why. */
typedef int (*grpc_handler)(void *ctx, const char *path, const uint8_t *msg, size_t len,
                            uint8_t **resp, size_t *resp_len, char *err, size_t err_cap);

struct grpcd;

/* Listens on 127.0.0.1:port (0: any free port). NULL with errno on failure. */
struct grpcd *grpcd_start(int port, grpc_handler handler, void *ctx)
    __attribute__((warn_unused_result));
int grpcd_port(const struct grpcd *g);
void grpcd_stop(struct grpcd *g);

#endif
