/* buf: mmap-backed byte buffer. See buf.h. */
#include "exporters/buf.h"

#include <stdlib.h>
#include <sys/mman.h>

bool buf_reserve(struct buf *b, size_t n) {
    if (b->failed) return false;
    if (b->cap - b->len >= n) return true;
    size_t cap = b->cap ? b->cap : b->heap ? 256 : 65536;
    while (cap - b->len < n) {
        if (cap > SIZE_MAX / 2) {
            b->failed = true;
            return false;
        }
        cap *= 2;
    }
    void *p;
    if (b->heap) {
        p = realloc(b->data, cap);
        if (!p) p = MAP_FAILED;
    } else
        p = b->data ? mremap(b->data, b->cap, cap, MREMAP_MAYMOVE)
                    : mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        b->failed = true;
        return false;
    }
    b->data = p;
    b->cap = cap;
    return true;
}

void buf_release(struct buf *b) {
    if (b->data && b->heap)
        free(b->data);
    else if (b->data)
        munmap(b->data, b->cap);
    b->data = NULL;
    b->len = b->cap = 0;
    b->failed = false;
}

void buf_put_u64(struct buf *b, uint64_t v) {
    char tmp[20];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    if (!buf_reserve(b, (size_t)n)) return;
    while (n)
        b->data[b->len++] = (uint8_t)tmp[--n];
}

void buf_put_i64(struct buf *b, int64_t v) {
    if (v < 0) {
        buf_putc(b, '-');
        buf_put_u64(b, (uint64_t)0 - (uint64_t)v);
    } else {
        buf_put_u64(b, (uint64_t)v);
    }
}
