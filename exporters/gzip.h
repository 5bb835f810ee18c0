/* gzip: gzip compression (OTEL_EXPORTER_OTLP_COMPRESSION=gzip) through
 * zlib, loaded with dlopen("libz.so.1") on first use instead of at load
 * time (the cost model: a program that does not compress never maps it).
 * zlib's allocations come from a per-compressor mmap arena, so once zlib is
 * loaded compression needs no malloc (a dying process's signal handler).
 * Depends on buf.h; zlib.h for types only. */
#ifndef OTELP_EXPORTERS_GZIP_H
#define OTELP_EXPORTERS_GZIP_H

#include <stdbool.h>
#include <stddef.h>

#include "exporters/buf.h"

struct gzip {
    void *arena; /* mmap'd lazily, GZIP_ARENA bytes */
    size_t used;
};

/* Whether compression can run now: zlib is loaded, or may_load and loading
 * it worked (never load from a signal handler). */
bool gzip_ready(bool may_load);
/* Appends the gzip member of in[0..n) to out. Returns 0, or -ENOMEM /
 * -EIO (then out is as it was). */
int gzip_compress(struct gzip *z, struct buf *out, const void *in, size_t n)
    __attribute__((warn_unused_result));
void gzip_release(struct gzip *z);

#endif
