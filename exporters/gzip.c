/* gzip: zlib through dlopen, allocations from an mmap arena. See gzip.h. */
#include "exporters/gzip.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <zlib.h>

#include "core/diag.h"

/* deflate with windowBits 15 and memLevel 8 needs about 268 KiB. */
#define GZIP_ARENA (512u * 1024)

static struct {
    int (*init2)(z_streamp, int, int, int, int, int, const char *, int);
    int (*deflate)(z_streamp, int);
    int (*end)(z_streamp);
    uLong (*bound)(z_streamp, uLong);
} zl;
static _Atomic int state; /* 0 not tried, 1 loaded, 2 failed */
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void load(void) {
    /* dlopen is weak: glibc before 2.34 has it only with libdl loaded. */
    void *h = dlopen ? dlopen("libz.so.1", RTLD_NOW | RTLD_LOCAL) : NULL;
    if (h) {
        *(void **)&zl.init2 = dlsym(h, "deflateInit2_");
        *(void **)&zl.deflate = dlsym(h, "deflate");
        *(void **)&zl.end = dlsym(h, "deflateEnd");
        *(void **)&zl.bound = dlsym(h, "deflateBound");
    }
    if (h && zl.init2 && zl.deflate && zl.end && zl.bound) {
        atomic_store(&state, 1);
    } else {
        atomic_store(&state, 2);
        diag_warn("gzip compression needs zlib (libz.so.1), which cannot be loaded; "
                  "sending uncompressed");
    }
}

bool gzip_ready(bool may_load) {
    int s = atomic_load(&state);
    if (s == 0 && may_load) {
        if (pthread_once)
            pthread_once(&once, load);
        else
            load(); /* glibc before 2.34 without libpthread: one thread */
        s = atomic_load(&state);
    }
    return s == 1;
}

static voidpf arena_alloc(voidpf opaque, uInt items, uInt size) {
    struct gzip *z = opaque;
    size_t n = ((size_t)items * size + 15) & ~(size_t)15;
    if (n > GZIP_ARENA - z->used) return Z_NULL;
    void *p = (char *)z->arena + z->used;
    z->used += n;
    return p;
}

static void arena_free(voidpf opaque, voidpf p) {
    (void)opaque;
    (void)p; /* the arena is reset per compression */
}

int gzip_compress(struct gzip *z, struct buf *out, const void *in, size_t n) {
    if (atomic_load(&state) != 1) return -EIO;
    if (!z->arena) {
        void *p =
            mmap(NULL, GZIP_ARENA, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) return -ENOMEM;
        z->arena = p;
    }
    z->used = 0;
    /* The window and the hash table sized to the input: deflate's state is
     * 2^(wb+2) + 2^(ml+9) bytes, its hash table zeroed at every start, and
     * a window larger than the input finds nothing more. A process's own
     * batch at exit (a span or two, its metrics: 1-2 KiB) then touches a
     * few pages of the arena, not 70 (each a page fault, per exporter). */
    int wb = 9;
    while (wb < 15 && ((size_t)1 << wb) < n)
        wb++;
    int ml = wb - 7 < 1 ? 1 : wb - 7;
    z_stream s = {.zalloc = arena_alloc, .zfree = arena_free, .opaque = z};
    if (zl.init2(&s, Z_DEFAULT_COMPRESSION, Z_DEFLATED, wb + 16, ml, Z_DEFAULT_STRATEGY,
                 ZLIB_VERSION, (int)sizeof s) != Z_OK)
        return -ENOMEM;
    size_t mark = out->len;
    size_t need = zl.bound(&s, (uLong)n) + 64;
    int rc = -ENOMEM;
    if (buf_reserve(out, need)) {
        s.next_in = (Bytef *)in;
        s.avail_in = (uInt)n;
        s.next_out = out->data + out->len;
        s.avail_out = (uInt)need;
        if (zl.deflate(&s, Z_FINISH) == Z_STREAM_END) {
            out->len += s.total_out;
            rc = 0;
        } else {
            rc = -EIO;
        }
    }
    zl.end(&s);
    if (rc < 0) {
        out->len = mark;
        out->failed = false;
    }
    return rc;
}

void gzip_release(struct gzip *z) {
    if (z->arena) munmap(z->arena, GZIP_ARENA);
    z->arena = NULL;
}
