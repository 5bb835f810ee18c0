/* outbox: this process's side of the spool. See outbox.h. */
#include "exporters/outbox.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/ids.h"

static struct spool base; /* the path and the cap; copied for each call */
static bool enabled;
static _Atomic uint64_t spooled_batches, spooled_records, evicted_batches, evicted_records,
    refused_batches, refused_records, drained_batches, drained_records;

void outbox_init(char *const *envp, uint64_t max_bytes) {
    char dir[sizeof base.path];
    enabled = max_bytes && spool_dir_default(dir, sizeof dir, envp) == 0 &&
              spool_init(&base, dir, max_bytes) == 0;
}

bool outbox_enabled(void) {
    return enabled;
}

const char *outbox_protocol_name(enum otlp_protocol p) {
    return p == OTLP_GRPC ? "grpc" : p == OTLP_HTTP_JSON ? "http/json" : "http/protobuf";
}

static const char *content_type_of(enum otlp_protocol p) {
    return p == OTLP_HTTP_JSON ? "application/json" : "application/x-protobuf";
}

/* Copies s into a header field; false when it does not fit. */
static bool set_field(char *dst, size_t cap, const char *s) {
    size_t n = strlen(s);
    if (n >= cap) return false;
    memcpy(dst, s, n + 1);
    return true;
}

int outbox_put(const struct outbox_batch *b) {
    struct spool_header h;
    memset(&h, 0, sizeof h);
    h.signal = (int)b->signal;
    h.records = b->records;
    int rc = -EINVAL;
    if (enabled && b->endpoint && set_field(h.endpoint, sizeof h.endpoint, b->endpoint) &&
        set_field(h.protocol, sizeof h.protocol, outbox_protocol_name(b->protocol)) &&
        set_field(h.content_type, sizeof h.content_type, content_type_of(b->protocol)) &&
        set_field(h.content_encoding, sizeof h.content_encoding, b->gzip ? "gzip" : "identity")) {
        struct spool sp = base;
        rc = spool_write(&sp, &h, b->body, b->len);
        if (rc == -ENOENT) /* a drainer removed the empty directory meanwhile */
            rc = spool_write(&sp, &h, b->body, b->len);
        atomic_fetch_add(&evicted_batches, sp.evicted_batches);
        atomic_fetch_add(&evicted_records, sp.evicted_records);
    }
    if (rc == 0) {
        atomic_fetch_add(&spooled_batches, 1);
        atomic_fetch_add(&spooled_records, b->records);
    } else {
        atomic_fetch_add(&refused_batches, 1);
        atomic_fetch_add(&refused_records, b->records);
    }
    return rc;
}

bool outbox_maybe_pending(void) {
    if (!enabled) return false;
    struct stat st; /* as a system call: glibc's stat is 2.33 (preload/abi_floor.h) */
    if (syscall(SYS_newfstatat, AT_FDCWD, base.path, &st, 0) < 0 || !S_ISDIR(st.st_mode))
        return false;
    /* tmpfs (XDG_RUNTIME_DIR, /dev/shm) sizes a directory by its entries:
     * 40 is "." and ".." alone. Elsewhere, a listing says. */
    return st.st_size != 40;
}

#define DRAIN_LIST 16  /* batch names per listing (on the stack: no malloc) */
#define DRAIN_PAGES 16 /* listings per drain: the oldest 256 batches looked at, at most */

uint64_t outbox_drain_routes(const struct outbox_route routes[SIGNAL_COUNT], size_t max_batches,
                             uint64_t deadline, uint64_t delivered[SIGNAL_COUNT]) {
    uint64_t got[SIGNAL_COUNT] = {0}, sum = 0;
    bool open[SIGNAL_COUNT];
    const char *proto[SIGNAL_COUNT];
    uint32_t key[SIGNAL_COUNT];
    int n_open = 0;
    for (int s = 0; s < SIGNAL_COUNT; s++) {
        open[s] = enabled && routes[s].endpoint && routes[s].send;
        proto[s] = outbox_protocol_name(routes[s].protocol);
        key[s] = open[s] ? spool_key(routes[s].endpoint, proto[s]) : 0;
        n_open += open[s];
    }
    struct spool_entry list[DRAIN_LIST];
    struct spool sp = base;
    size_t tried = 0;
    bool failed = false, found_empty = false;
    char after[SPOOL_NAME_MAX];
    for (int page = 0; page < DRAIN_PAGES && n_open && tried < max_batches; page++) {
        size_t n = 0, total = 0;
        if (spool_list_after(&sp, page ? after : NULL, list, DRAIN_LIST, &n, &total) != 0) {
            failed = true;
            break;
        }
        found_empty = page == 0 && total == 0;
        for (size_t i = 0; i < n && n_open && tried < max_batches; i++) {
            int s = list[i].signal;
            if (s < 0 || s >= SIGNAL_COUNT || !open[s] || clock_mono_ns() >= deadline) continue;
            const struct outbox_route *r = &routes[s];
            /* Another endpoint's batch is left alone without being
             * claimed: its name's key says so (a spool holding a down
             * collector's batches cost every process exporting elsewhere a
             * claim, a read of the whole body and a release per batch, then
             * an open and a read of its header); an earlier version's name
             * has no key: its header says. A key that matches is checked
             * against the header once claimed (below). */
            if (list[i].keyed && list[i].key != key[s]) continue;
            struct spool_header peek;
            if (!list[i].keyed && spool_peek(&sp, list[i].name, &peek) == 0 &&
                (strcmp(peek.endpoint, r->endpoint) != 0 || strcmp(peek.protocol, proto[s]) != 0))
                continue;
            char claimed[SPOOL_NAME_MAX + 32];
            if (spool_claim(&sp, list[i].name, claimed, sizeof claimed) != 0) continue; /* taken */
            struct spool_header h;
            uint8_t *body = NULL;
            int rc = spool_read(&sp, claimed, &h, &body);
            if (rc == -EBADMSG) { /* half a batch, or not ours: never sent */
                (void)spool_remove(&sp, claimed);
                continue;
            }
            if (rc == 0 && (h.signal != s || strcmp(h.endpoint, r->endpoint) != 0 ||
                            strcmp(h.protocol, proto[s]) != 0))
                rc = -ENOENT; /* for another endpoint: left to its own exporters */
            else if (rc == 0) {
                tried++;
                rc = r->send(r->ctx, &h, body, deadline);
                if (rc == 0) {
                    (void)spool_remove(&sp, claimed);
                    got[s] += h.records;
                    sum += h.records;
                    atomic_fetch_add(&drained_batches, 1);
                    atomic_fetch_add(&drained_records, h.records);
                } else { /* that signal's collector is away again: later */
                    open[s] = false;
                    n_open--;
                    failed = true;
                }
            }
            free(body);
            if (rc != 0) (void)spool_release(&sp, claimed);
        }
        if (n < DRAIN_LIST) break; /* that was the last page */
        memcpy(after, list[n - 1].name, sizeof after);
    }
    /* Emptied (by us, or found empty: a local server drained it): the
     * directory goes, so that the next processes' cheap check
     * (outbox_maybe_pending) is one failed stat, on any file system. A
     * directory holding anything (batches, claims, files not ours) stays. */
    if (sum || (!failed && found_empty)) (void)spool_prune(&sp);
    if (delivered) memcpy(delivered, got, sizeof got);
    return sum;
}

uint64_t outbox_drain(enum signal_kind sig, const char *endpoint, enum otlp_protocol protocol,
                      outbox_send_fn send, void *ctx, size_t max_batches, uint64_t deadline) {
    struct outbox_route routes[SIGNAL_COUNT] = {{0}};
    if ((unsigned)sig >= SIGNAL_COUNT) return 0;
    routes[sig] = (struct outbox_route){endpoint, protocol, send, ctx};
    return outbox_drain_routes(routes, max_batches, deadline, NULL);
}

void outbox_get_stats(struct outbox_stats *out) {
    out->spooled_batches = atomic_load(&spooled_batches);
    out->spooled_records = atomic_load(&spooled_records);
    out->evicted_batches = atomic_load(&evicted_batches);
    out->evicted_records = atomic_load(&evicted_records);
    out->refused_batches = atomic_load(&refused_batches);
    out->refused_records = atomic_load(&refused_records);
    out->drained_batches = atomic_load(&drained_batches);
    out->drained_records = atomic_load(&drained_records);
}

void outbox_after_fork_child(void) {
    atomic_store(&spooled_batches, 0);
    atomic_store(&spooled_records, 0);
    atomic_store(&evicted_batches, 0);
    atomic_store(&evicted_records, 0);
    atomic_store(&refused_batches, 0);
    atomic_store(&refused_records, 0);
    atomic_store(&drained_batches, 0);
    atomic_store(&drained_records, 0);
}
