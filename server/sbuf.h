/* sbuf: a growable byte buffer with JSON and CSV text helpers, for the store and the retrievers.
 * Depends on libc. An allocation failure sets `failed` and later appends do nothing. */
#ifndef OTELP_SERVER_SBUF_H
#define OTELP_SERVER_SBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sbuf {
    char *data; /* NUL-terminated when len > 0 or after sbuf_cstr */
    size_t len, cap;
    bool failed;
    /* Optional: with a sink, the bytes held are handed to it (and the buffer
     * emptied) whenever an append would take it past SBUF_SINK_CHUNK, and by
     * sbuf_flush, so a long output is written as it is made and the buffer
     * stays small; a false return sets failed. Only for writers that append
     * (nothing goes back to bytes already added). */
    bool (*sink)(void *ctx, const void *p, size_t n);
    void *sink_ctx;
};

#define SBUF_SINK_CHUNK 65536

void sbuf_add(struct sbuf *b, const void *p, size_t n);
void sbuf_puts(struct sbuf *b, const char *s);
void sbuf_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A JSON string literal: escaped per RFC 8259; invalid UTF-8 becomes U+FFFD. */
void sbuf_json_str(struct sbuf *b, const char *s, size_t n);
/* A CSV field (RFC 4180 quoting when needed). */
void sbuf_csv_field(struct sbuf *b, const char *s);
/* Lowercase hex of n bytes. */
void sbuf_hex(struct sbuf *b, const uint8_t *p, size_t n);
const char *sbuf_cstr(struct sbuf *b); /* "" when empty or failed */
/* Hands what the buffer holds to its sink and empties it: 0, or -EIO when
 * the sink failed (or had failed before). Without a sink: 0, nothing done. */
int sbuf_flush(struct sbuf *b) __attribute__((warn_unused_result));
void sbuf_free(struct sbuf *b);

#endif
