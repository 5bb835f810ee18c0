/* buf: a growable byte buffer backed by mmap/mremap, so that encoding and
 * sending work without malloc (a dying process's signal handler included).
 * A failed growth sets failed and later writes are ignored. Depends on libc. */
#ifndef OTELP_EXPORTERS_BUF_H
#define OTELP_EXPORTERS_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct buf {
    uint8_t *data;
    size_t len, cap;
    bool failed;
    bool heap; /* grow with realloc instead of mmap (not signal-safe) */
};

/* Makes room for n more bytes. Returns false (and sets failed) on failure. */
bool buf_reserve(struct buf *b, size_t n);
void buf_release(struct buf *b);
static inline void buf_reset(struct buf *b) {
    b->len = 0;
    b->failed = false;
}
static inline void buf_append(struct buf *b, const void *p, size_t n) {
    if (n && buf_reserve(b, n)) {
        memcpy(b->data + b->len, p, n);
        b->len += n;
    }
}
static inline void buf_putc(struct buf *b, char c) {
    if (buf_reserve(b, 1)) b->data[b->len++] = (uint8_t)c;
}
static inline void buf_puts(struct buf *b, const char *s) {
    buf_append(b, s, strlen(s));
}
void buf_put_u64(struct buf *b, uint64_t v);
void buf_put_i64(struct buf *b, int64_t v);

#endif
