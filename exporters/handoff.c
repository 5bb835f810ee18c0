/* handoff: children hand their exports to their parent's relay. See
 * handoff.h. */
#include "exporters/handoff.h"

#include <errno.h>
#include <linux/futex.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "core/cold.h"
#include "core/diag.h"
#include "core/fds.h"
#include "core/guard.h"
#include "core/ids.h"
#include "core/processor.h"
#include "exporters/buf.h"
#include "exporters/encoder.h"
#include "exporters/exporter.h"
#include "exporters/http.h"
#include "exporters/otlp_json.h"
#include "exporters/otlp_proto.h"
#include "exporters/outbox.h"
#include "core/resource.h"
#include "core/telemetry.h"

#define MAGIC 0x6f74706cu /* "otpl" */
#define MAX_MESSAGE (256u << 10)
#define FLUSH_BYTES (1u << 20)
#define BACKLOG 256

#define VERSION 4 /* in the socket name too: relays of other versions are never found */
/* header.signal of a message of counts (handoff_send_counts), not records */
#define COUNTS_MESSAGE 0xc0
#define COUNT_FIELDS (sizeof(struct relay_counts) / sizeof(uint64_t))

struct header {
    uint32_t magic;
    uint8_t version, signal;
    uint16_t host; /* bits of resource_host_keys the relay is to add */
    uint32_t count;
};

static bool enabled;
/* An earlier hand-off found no relay at our parent: counts are not sent. */
static _Atomic bool no_parent_relay;
static const struct config *config;
static uint64_t config_hash;
static uint32_t delay_ms, budget_ms;
static uint64_t born_ns; /* when this process started (a fork child: its first child) */
static const char *endpoints[SIGNAL_COUNT];
/* Forwarded by the relay's own HTTP client (plain http, http/protobuf, no
 * compression: the common case, no libcurl, no copy), else through an OTLP
 * exporter of the relay's own (forwarders: gRPC, https, gzip). */
static bool fast[SIGNAL_COUNT];
/* http/json: children hand over JSON requests, which do not concatenate:
 * the relay adds the host's attributes and merges them as text
 * (otlp_json.h) before its forwarder sends them. */
static bool json[SIGNAL_COUNT];
static struct exporter *forwarders[SIGNAL_COUNT];
static _Thread_local bool on_relay_thread __attribute__((tls_model("initial-exec")));
static bool url_ok[SIGNAL_COUNT]; /* a relay's: set when it starts */
static char *headers[SIGNAL_COUNT];
static const char *header_specs[SIGNAL_COUNT];

#define STR_(x) #x
#define STR(x) STR_(x)

static uint64_t fnv1a(uint64_t h, const char *s) {
    for (; s && *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return (h ^ 0xff) * 0x100000001b3ULL; /* field separator */
}

OTELP_FIRST void handoff_init(const struct config *cfg) {
    uint64_t h = fnv1a(0xcbf29ce484222325ULL, "v" STR(VERSION));
    enabled = cfg->handoff;
    config = cfg;
    /* A child hands off only to a relay that exports exactly as it would:
     * everything that shapes an export is in the socket's name. */
    for (int s = 0; s < SIGNAL_COUNT; s++) {
        const struct otlp_config *o = &cfg->otlp[s];
        char shape[4] = {(char)('a' + o->protocol), (char)('a' + o->compression),
                         (char)('a' + o->insecure), 0};
        h = fnv1a(h, o->endpoint);
        h = fnv1a(h, o->headers);
        h = fnv1a(h, shape);
        h = fnv1a(h, o->certificate);
        h = fnv1a(h, o->client_key);
        h = fnv1a(h, o->client_certificate);
        json[s] = o->protocol == OTLP_HTTP_JSON;
        endpoints[s] = o->endpoint;
        header_specs[s] = o->headers;
        fast[s] = o->protocol == OTLP_HTTP_PROTOBUF && o->compression == OTLP_COMPRESSION_NONE;
    }
    config_hash = h;
    born_ns = clock_mono_ns();
    delay_ms = cfg->bsp.schedule_delay_ms;
    budget_ms = cfg->shutdown_timeout_ms;
}

/* "\0otel-preload/<uid>/<pid>/<hash>" */
static char *put_decimal(char *p, uint64_t v) {
    char tmp[20];
    int n = 0;
    do
        tmp[n++] = (char)('0' + v % 10);
    while ((v /= 10));
    while (n)
        *p++ = tmp[--n];
    return p;
}

/* Formatted by hand (no snprintf: its code pages would be a child's only
 * use of them at exit); fits sun_path (1 + 13 + 10 + 1 + 10 + 1 + 16). */
static socklen_t socket_name(struct sockaddr_un *a, pid_t pid) {
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    char *p = a->sun_path + 1;
    memcpy(p, "otel-preload/", 13);
    p = put_decimal(p + 13, (unsigned)getuid());
    *p++ = '/';
    p = put_decimal(p, (uint64_t)pid);
    *p++ = '/';
    for (int shift = 60; shift >= 0; shift -= 4)
        *p++ = "0123456789abcdef"[(config_hash >> shift) & 0xf];
    return (socklen_t)(p - (char *)a);
}

/* Whether sig's endpoint is one a relay forwards to (plain http). Parsed
 * when used, not at start: most processes never hand off or relay. */
static bool url_usable(enum signal_kind sig, struct http_url *u) {
    return endpoints[sig] && http_url_parse(endpoints[sig], u) == 0 && !u->tls;
}

/* ---- child side ---- */

int handoff_connect(enum signal_kind sig) {
    if (!enabled || !endpoints[sig]) return -ENOTSUP;
    pid_t parent = getppid();
    if (parent <= 1) {
        atomic_store_explicit(&no_parent_relay, true, memory_order_relaxed);
        return -ENOENT;
    }
    /* Non-blocking: a busy parent (full backlog or buffer) must never hold
     * up our exit; we then export ourselves. */
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return -errno;
    /* High: a program started with stdout closed must not find our socket
     * as its fd 1 (core/fds.h). */
    if ((fd = fd_move_high(fd)) < 0) return fd;
    struct sockaddr_un a;
    socklen_t alen = socket_name(&a, parent);
    int rc = fd;
    struct ucred peer;
    socklen_t plen = sizeof peer;
    if (connect(fd, (struct sockaddr *)&a, alen) < 0) {
        rc = -errno;
        if (rc == -ECONNREFUSED || rc == -ENOENT) /* none listens */
            atomic_store_explicit(&no_parent_relay, true, memory_order_relaxed);
    } else if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &plen) < 0 || peer.pid != parent ||
               peer.uid != getuid())
        rc = -EPERM; /* not our parent's relay */
    if (rc < 0) close(fd);
    return rc;
}

int handoff_send_on(int fd, enum signal_kind sig, uint32_t count, const void *body, size_t len,
                    uint32_t host) {
    int rc = 0;
    if (len > MAX_MESSAGE) {
        rc = -EMSGSIZE;
    } else {
        struct header h = {MAGIC, VERSION, (uint8_t)sig, (uint16_t)host, count};
        struct iovec iov[2] = {{&h, sizeof h}, {(void *)body, len}};
        struct msghdr m = {.msg_iov = iov, .msg_iovlen = 2};
        /* Once sent it is the relay's: it refuses new connections before it
         * drains its backlog and closes (relay_main), so a message that got
         * in is never dropped, and no receipt (a wake-up of the parent and
         * one back, each costly) is needed. */
        ssize_t sent = sendmsg(fd, &m, MSG_NOSIGNAL);
        if (sent != (ssize_t)(sizeof h + len)) rc = sent < 0 ? -errno : -EIO;
    }
    close(fd);
    return rc;
}

int handoff_send(enum signal_kind sig, uint32_t count, const void *body, size_t len,
                 uint32_t host) {
    if (len > MAX_MESSAGE) return -EMSGSIZE;
    int fd = handoff_connect(sig);
    return fd < 0 ? fd : handoff_send_on(fd, sig, count, body, len, host);
}

int handoff_send_counts(const struct relay_counts counts[SIGNAL_COUNT]) {
    if (atomic_load_explicit(&no_parent_relay, memory_order_relaxed)) return -ENOENT;
    int fd = -ENOTSUP;
    for (int s = 0; s < SIGNAL_COUNT && fd == -ENOTSUP; s++) /* any signal's: one socket */
        fd = handoff_connect((enum signal_kind)s);
    if (fd < 0) return fd;
    uint64_t body[SIGNAL_COUNT][COUNT_FIELDS];
    memcpy(body, counts, sizeof body);
    return handoff_send_on(fd, (enum signal_kind)COUNTS_MESSAGE, 0, body, sizeof body, 0);
}

/* ---- parent side: the relay ---- */

/* 0 none; PASSIVE: listening, drained by the program's own calls (its
 * spawns, its waits for children), no thread; ACTIVE: the relay thread
 * serves; 2 stopped or failed. */
enum { RELAY_NONE, RELAY_PASSIVE, RELAY_STOPPED, RELAY_ACTIVE };
static _Atomic int relay_state;
static atomic_flag draining = ATOMIC_FLAG_INIT; /* one passive drainer at a time */
static int listen_fd = -1;
static struct sockaddr_un listen_name;
static socklen_t listen_name_len;
static _Atomic uint32_t relay_done;
static struct buf pending[SIGNAL_COUNT];
static uint64_t pending_records[SIGNAL_COUNT];
/* The host attributes (bits of resource_host_keys) every message in
 * pending[s] still lacks: see take_message. */
static uint16_t pending_host[SIGNAL_COUNT];
static struct buf incoming; /* a message that gets them on arrival */
static uint64_t first_pending_ns;
static struct http_client clients[SIGNAL_COUNT] OTELP_COLD;
/* What became of the children's records, per signal (read by the metric
 * reader on the worker thread: atomics). */
static struct { _Atomic uint64_t exported, lost, spooled, handed_up, received; } rel[SIGNAL_COUNT];
/* The counts children handed up (struct relay_counts, field by field). */
static _Atomic uint64_t reported[SIGNAL_COUNT][COUNT_FIELDS];

static void relay_count(_Atomic uint64_t *c, uint64_t n) {
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

/* A message of counts from a child (its header peeked, n bytes in all):
 * added to what the children reported. */
static void take_counts(int conn, ssize_t n) {
    struct header h;
    uint64_t body[SIGNAL_COUNT][COUNT_FIELDS];
    if (n != (ssize_t)(sizeof h + sizeof body)) return;
    struct iovec iov[2] = {{&h, sizeof h}, {body, sizeof body}};
    struct msghdr m = {.msg_iov = iov, .msg_iovlen = 2};
    if (recvmsg(conn, &m, 0) != n) return;
    for (int s = 0; s < SIGNAL_COUNT; s++)
        for (size_t i = 0; i < COUNT_FIELDS; i++)
            if (body[s][i]) relay_count(&reported[s][i], body[s][i]);
}

/* Whether listen_fd is still our socket: a program may close descriptors it
 * does not know (daemons close them all) and reuse the number. */
static bool still_ours(void) {
    struct sockaddr_un a;
    socklen_t len = sizeof a;
    int fd = fd_get(&listen_fd);
    return fd >= 0 && getsockname(fd, (struct sockaddr *)&a, &len) == 0 && len == listen_name_len &&
           !memcmp(&a, &listen_name, len);
}

/* Closes our socket if the number still holds it; forgets it anyway. */
static void listen_close(void) {
    if (still_ours())
        fd_close(&listen_fd);
    else
        __atomic_store_n(&listen_fd, -1, __ATOMIC_RELEASE);
}

/* Our resource's host attributes a child asked for (bits of
 * resource_host_keys), encoded into host_scratch: their length (0: none,
 * or too many to fit). The resource is detected on first use, with
 * read(2) and no malloc, so a signal handler may get here. */
static uint8_t host_scratch[4096] OTELP_COLD;
static struct buf host_json; /* for http/json: mmap'd */

static size_t host_attributes(int s, uint32_t bits) {
    const struct attr_list *res = telemetry_resource();
    struct attr items[RESOURCE_HOST_KEYS];
    struct attr_list l = {.items = items};
    for (int i = 0; i < RESOURCE_HOST_KEYS; i++) {
        const struct attr *a = (bits >> i & 1) ? attrs_find(res, resource_host_keys[i]) : NULL;
        if (a) items[l.count++] = *a;
    }
    if (!json[s]) return otlp_proto_attrs(host_scratch, sizeof host_scratch, &l);
    buf_reset(&host_json);
    otlp_json_attr_items(&host_json, &l);
    return host_json.failed ? 0 : host_json.len;
}

/* Appends the messages in src (len bytes: concatenated Export*ServiceRequest
 * messages, each of one Resource{Spans,Logs}, as children send them) to
 * out, with the n bytes of host_scratch (none: 0) added to each one's
 * resource. */
static bool append_with_host(int s, struct buf *out, const uint8_t *src, size_t len, size_t n) {
    if (json[s]) return otlp_json_add_resource_attrs(out, src, len, host_json.data, n);
    return otlp_proto_append_with_attrs(out, src, len, host_scratch, n);
}

/* Adds to every message in pending[s] the host attributes they lack. */
static bool add_host_to_pending(int s) {
    size_t n = pending_host[s] ? host_attributes(s, pending_host[s]) : 0;
    if (n) {
        /* Sized once (a message is at least 2 bytes and 1 record): growing
         * it message by message cost the top relay of a build two mremaps
         * on the build's last step. */
        uint64_t msgs = pending[s].len / 2 + 1;
        if (pending_records[s] < msgs) msgs = pending_records[s];
        struct buf out = {0};
        (void)buf_reserve(&out, pending[s].len + (size_t)msgs * (n + 16));
        if (!append_with_host(s, &out, pending[s].data, pending[s].len, n)) {
            buf_release(&out);
            return false;
        }
        buf_release(&pending[s]);
        pending[s] = out;
    }
    pending_host[s] = 0;
    return true;
}

/* http/json: the concatenated requests in pending[s] made one. */
static bool merge_json(int s) {
    struct buf out = {0};
    (void)buf_reserve(&out, pending[s].len + 32);
    if (!otlp_json_merge(&out, pending[s].data, pending[s].len)) {
        buf_release(&out);
        return false;
    }
    buf_release(&pending[s]);
    pending[s] = out;
    return true;
}

struct drain_ctx {
    int s;
    bool may_resolve;
};

/* Sends a spooled batch (outbox_send_fn) through the relay's client. */
static int relay_drain_send(void *ctx, const struct spool_header *h, const uint8_t *body,
                            uint64_t deadline) {
    struct drain_ctx *d = ctx;
    if (strcmp(h->content_encoding, "identity") != 0) return -ENOTSUP;
    struct http_response resp;
    memset(&resp, 0, sizeof resp);
    int rc = http_post(&clients[d->s], "application/x-protobuf", headers[d->s], body,
                       (size_t)h->length, deadline, d->may_resolve, &resp);
    return rc == 0 && resp.status >= 200 && resp.status < 300 ? 0 : -EIO;
}

/* The length of url's scheme and authority ("http://host:port"). */
static size_t collector_len(const char *url) {
    const char *p = strstr(url, "://");
    const char *host = p ? p + 3 : url;
    return (size_t)(host - url) + strcspn(host, "/?#");
}

/* After a successful forward on the relay's thread: what the spool holds
 * for the collector (at most every second), of every signal the relay
 * forwards itself to the same scheme and authority. */
static void relay_drain(enum signal_kind sig, uint64_t deadline, bool may_resolve) {
    static uint64_t last_ns;
    uint64_t now = clock_mono_ns();
    if (atomic_load(&relay_state) != RELAY_ACTIVE || (last_ns && now - last_ns < 1000000000u))
        return;
    last_ns = now;
    if (!outbox_maybe_pending()) return;
    struct outbox_route routes[SIGNAL_COUNT] = {{0}};
    struct drain_ctx d[SIGNAL_COUNT];
    size_t n = collector_len(endpoints[sig]);
    for (int s = 0; s < SIGNAL_COUNT; s++) {
        if (!fast[s] || !url_ok[s] || !endpoints[s] || collector_len(endpoints[s]) != n ||
            strncasecmp(endpoints[s], endpoints[sig], n) != 0)
            continue;
        d[s] = (struct drain_ctx){s, may_resolve};
        routes[s] =
            (struct outbox_route){endpoints[s], OTLP_HTTP_PROTOBUF, relay_drain_send, &d[s]};
    }
    uint64_t sent[SIGNAL_COUNT];
    if (!outbox_drain_routes(routes, 64, deadline, sent) || !diag_enabled(DIAG_INFO)) return;
    for (int s = 0; s < SIGNAL_COUNT; s++)
        if (sent[s]) /* as the exporter's drain says it */
            diag_info("spool: delivered %llu %s spooled earlier (relay)",
                      (unsigned long long)sent[s], otlp_record_names[s]);
}

/* pending[s] into the spool (its records counted spooled): whether it
 * went there. */
static bool spool_pending(int s) {
    struct outbox_batch ob = {(enum signal_kind)s, endpoints[s],   config->otlp[s].protocol,  false,
                              pending[s].data,     pending[s].len, (size_t)pending_records[s]};
    if (!outbox_enabled() || outbox_put(&ob) != 0) return false;
    relay_count(&rel[s].spooled, pending_records[s]);
    return true;
}

/* pending[s] emptied, its buffer kept for the next messages. */
static void pending_clear(int s) {
    buf_reset(&pending[s]);
    pending_records[s] = 0;
    pending_host[s] = 0;
}

/* Sends pending[s] through the relay's own OTLP exporter for s (made on
 * first use: gRPC and https load libcurl in the relay only), which
 * compresses, frames, retries and spools as the process's own would. */
static void forward(int s, uint64_t deadline) {
    const struct buf *b = &pending[s];
    uint64_t n = pending_records[s];
    if (!forwarders[s] && !exporter_in_signal)
        forwarders[s] = exporter_new(EXPORTER_OTLP, (enum signal_kind)s, config);
    struct exporter *e = forwarders[s];
    int rc = e && e->ops->send_encoded
                 ? e->ops->send_encoded(e, b->data, b->len, (size_t)n, deadline)
                 : -ENOTSUP;
    if (rc == -ENOTSUP) { /* no exporter here (a signal handler, no memory) */
        if (!spool_pending(s)) relay_count(&rel[s].lost, n);
    } else if (rc == BATCH_SPOOLED) {
        relay_count(&rel[s].spooled, n);
    } else if (rc >= 0) {
        uint64_t rejected = (uint64_t)rc < n ? (uint64_t)rc : n;
        relay_count(&rel[s].exported, n - rejected);
        relay_count(&rel[s].lost, rejected);
    } else {
        relay_count(&rel[s].lost, n);
    }
}

bool relay_thread(void) {
    return on_relay_thread;
}

/* pending[s] to the collector (or, at exec, the spool), its records
 * counted by what became of them. */
static void send_pending(int s, uint64_t deadline, bool may_resolve, bool upward) {
    if (atomic_load(&exporter_at_exec) && spool_pending(s)) return; /* never the network */
    if (!fast[s]) {
        forward(s, deadline);
        return;
    }
    struct http_response resp;
    int rc = http_post(&clients[s], "application/x-protobuf", headers[s], pending[s].data,
                       pending[s].len, deadline, may_resolve, &resp);
    if (rc == 0 && resp.status >= 200 && resp.status < 300) {
        relay_count(&rel[s].exported, pending_records[s]);
        if (!upward) relay_drain((enum signal_kind)s, deadline, may_resolve);
        return;
    }
    bool retryable = rc < 0 || resp.status == 429 || resp.status >= 500;
    if (!(retryable && spool_pending(s))) relay_count(&rel[s].lost, pending_records[s]);
}

/* Forwards what children handed over. upward (the last flush, at exit or
 * exec): first offered to our own parent's relay, as one message, so that
 * in a tree of short-lived relays (make, its compiler drivers, their
 * cc1 and as) only the top one talks to the collector. */
static void flush_pending(uint64_t deadline, bool may_resolve, bool upward) {
    for (int s = 0; s < SIGNAL_COUNT; s++) {
        struct buf *b = &pending[s];
        if (!b->len) continue;
        if (upward && pending_records[s] <= UINT32_MAX &&
            handoff_send((enum signal_kind)s, (uint32_t)pending_records[s], b->data, b->len,
                         pending_host[s]) == 0) {
            relay_count(&rel[s].handed_up, pending_records[s]);
        } else {
            (void)add_host_to_pending(s);  /* without them (out of memory) rather than not at all */
            if (json[s] && !merge_json(s)) /* not JSON we can read: cannot be sent as one */
                relay_count(&rel[s].lost, pending_records[s]);
            else
                send_pending(s, deadline, may_resolve, upward);
        }
        pending_clear(s);
    }
    first_pending_ns = 0;
}

/* Takes one message from a connection (already readable or about to be)
 * into its signal's pending buffer (straight, unless it gets the host
 * attributes on arrival): no malloc, so a dying process's signal handler
 * can drain too. */
static void take_message(int conn, int wait_ms) {
    struct ucred peer;
    socklen_t plen = sizeof peer;
    if (getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &peer, &plen) < 0 || peer.uid != getuid()) return;
    /* The header, and the whole length; a child between its connect and
     * its send gets a moment (most have sent: they exited). */
    struct header h;
    ssize_t n = recv(conn, &h, sizeof h, MSG_PEEK | MSG_TRUNC | MSG_DONTWAIT);
    if (n < 0 && errno == EAGAIN) {
        struct pollfd p = {conn, POLLIN, 0};
        if (poll(&p, 1, wait_ms) <= 0) return;
        n = recv(conn, &h, sizeof h, MSG_PEEK | MSG_TRUNC);
    }
    if (n < (ssize_t)sizeof h || n > (ssize_t)(sizeof h + MAX_MESSAGE)) return;
    if (h.magic == MAGIC && h.version == VERSION && h.signal == COUNTS_MESSAGE) {
        take_counts(conn, n);
        return;
    }
    if (h.magic != MAGIC || h.version != VERSION || h.signal >= SIGNAL_COUNT || !url_ok[h.signal])
        return;
    /* Messages that lack the same host attributes wait without them:
     * whoever sends them to the collector (the top of a tree of relays)
     * adds them, and only it detects the host. A message that lacks others
     * settles it: from then on, each gets them as it arrives. */
    int s = h.signal;
    struct buf *b = &pending[s];
    /* From here the child has counted the records as handed off: what
     * cannot be taken (no memory for it) is counted lost here. */
    if (b->len && h.host != pending_host[s] && !add_host_to_pending(s)) goto lost;
    if (!b->len) pending_host[s] = h.host;
    bool now = h.host != pending_host[s];
    struct buf *into = now ? &incoming : b;
    size_t body = (size_t)n - sizeof h;
    if (now) buf_reset(into);
    if (!buf_reserve(into, body)) goto lost;
    struct iovec iov[2] = {{&h, sizeof h}, {into->data + into->len, body}};
    struct msghdr m = {.msg_iov = iov, .msg_iovlen = 2};
    if (recvmsg(conn, &m, 0) != n) goto lost;
    if (!b->len && !first_pending_ns) first_pending_ns = clock_mono_ns();
    size_t had = b->len;
    if (!now) {
        b->len += body;
    } else if (!append_with_host(s, b, incoming.data, body, host_attributes(s, h.host))) {
        b->len = had; /* none of it: its records are counted lost */
        goto lost;
    }
    pending_records[s] += h.count;
    relay_count(&rel[s].received, h.count);
    return;
lost: /* received (its child processed them), and lost */
    relay_count(&rel[h.signal].received, h.count);
    relay_count(&rel[h.signal].lost, h.count);
}

static void accept_all(int wait_ms) {
    /* A program that closed our descriptor may have reused its number for
     * a socket of its own: never accept from that. */
    if (!still_ours()) return;
    for (int i = 0; i < 4 * BACKLOG; i++) {
        int conn = accept4(fd_get(&listen_fd), NULL, NULL, SOCK_CLOEXEC);
        if (conn < 0) return;
        /* High at once, not after the message: while we read (up to
         * wait_ms), the program's other threads must not find the number
         * taken. A harness that closes its stdout and dups a saved copy
         * back expects 1 (GNU make's test driver, perl's open). In the
         * upper half of our numbers, apart from the export thread's sockets
         * (the lowest from the base): ThreadSanitizer, which does not see
         * our raw fcntl, took a number closed here and reused there for a
         * race. */
        if (fds_base() >= 0 && (conn = fd_move_above(conn, 16)) < 0) continue;
        take_message(conn, wait_ms);
        close(conn);
    }
}

static size_t pending_bytes(void) {
    size_t n = 0;
    for (int s = 0; s < SIGNAL_COUNT; s++)
        n += pending[s].len;
    return n;
}

/* The end: refuse new children first (shutdown for reading makes connect
 * fail, so they export themselves, while the backlog can still be
 * accepted), then take everything queued, then one last flush. */
static void finish(uint64_t deadline, bool may_resolve) {
    if (still_ours()) shutdown(fd_get(&listen_fd), SHUT_RD);
    accept_all(20);
    listen_close();
    flush_pending(deadline, may_resolve, true);
}

/* What became of the children's records (OTEL_LOG_LEVEL=info): they count
 * them as handed off, this says forwarded, spooled or lost. */
static void report(void) {
    uint64_t relayed = 0, relay_lost = 0, relay_spooled = 0;
    for (int s = 0; s < SIGNAL_COUNT; s++) {
        relayed += atomic_load(&rel[s].exported) + atomic_load(&rel[s].handed_up);
        relay_lost += atomic_load(&rel[s].lost);
        relay_spooled += atomic_load(&rel[s].spooled);
    }
    if (relayed || relay_lost || relay_spooled)
        diag_info("relay: forwarded %llu records of child processes, spooled %llu, lost %llu",
                  (unsigned long long)relayed, (unsigned long long)relay_spooled,
                  (unsigned long long)relay_lost);
    /* Then per signal (a test adds up each signal's losses). */
    for (int s = 0; s < SIGNAL_COUNT; s++) {
        uint64_t fwd = atomic_load(&rel[s].exported) + atomic_load(&rel[s].handed_up);
        uint64_t lost = atomic_load(&rel[s].lost), spooled = atomic_load(&rel[s].spooled);
        if (fwd || lost || spooled)
            diag_info("relay[%d]: %s: forwarded %llu, spooled %llu, lost %llu", (int)getpid(),
                      otlp_signal_names[s], (unsigned long long)fwd, (unsigned long long)spooled,
                      (unsigned long long)lost);
    }
}

static void *relay_main(void *arg) {
    (void)arg;
    guard_enter(); /* for good */
    on_relay_thread = true;
    prctl(PR_SET_NAME, "otel-relay", 0, 0, 0);
    /* relay_shutdown sets the state before it connects to wake us: checked
     * before every sleep, a wake-up consumed along with a child's message
     * is never slept through. */
    while (atomic_load(&relay_state) == RELAY_ACTIVE) {
        int timeout = -1;
        if (first_pending_ns) {
            uint64_t due = first_pending_ns + (uint64_t)delay_ms * 1000000u, now = clock_mono_ns();
            timeout = now >= due ? 0 : (int)((due - now) / 1000000u) + 1;
        }
        struct pollfd p = {fd_get(&listen_fd), POLLIN, 0};
        if (p.fd < 0) break; /* given up (the program closed its number and all above) */
        int r = poll(&p, 1, timeout);
        if (r < 0 && errno != EINTR) break;
        if (atomic_load(&relay_state) != RELAY_ACTIVE) break; /* shutdown */
        if (p.revents & (POLLERR)) break;                     /* the program closed our socket */
        if ((p.revents & POLLNVAL) && fd_get(&listen_fd) == p.fd) break; /* (not moved it) */
        if ((p.revents & POLLIN) && !still_ours()) break; /* ... and reused its number */
        if (p.revents & POLLIN) accept_all(100);
        uint64_t now = clock_mono_ns();
        if (pending_bytes() >= FLUSH_BYTES ||
            (first_pending_ns && now - first_pending_ns >= (uint64_t)delay_ms * 1000000u))
            flush_pending(now + (uint64_t)budget_ms * 1000000u * 5, true, false);
    }
    finish(clock_mono_ns() + (uint64_t)budget_ms * 1000000u, true);
    report();
    atomic_store(&relay_done, 1);
    syscall(SYS_futex, &relay_done, FUTEX_WAKE_PRIVATE, 1 << 30, NULL, NULL, 0);
    return NULL;
}

/* Listening starts passive: no thread. Called with the drain lock held. */
static void listen_start(void) {
    if (!born_ns) born_ns = clock_mono_ns(); /* a fork child: its first child */
    struct sockaddr_un a;
    socklen_t alen = socket_name(&a, getpid());
    int fd = fd_move_high(socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, alen) < 0 || listen(fd, BACKLOG) < 0) {
        if (fd >= 0) close(fd);
        atomic_store(&relay_state, RELAY_STOPPED);
        return;
    }
    __atomic_store_n(&listen_fd, fd, __ATOMIC_RELEASE);
    fd_hold(&listen_fd);
    listen_name = a;
    listen_name_len = alen;
    for (int s = 0; s < SIGNAL_COUNT; s++) {
        struct http_url u = {0};
        url_ok[s] = endpoints[s] != NULL;
        if (fast[s] && !url_usable((enum signal_kind)s, &u)) fast[s] = false; /* https */
        if (!fast[s]) continue;
        http_client_init(&clients[s], &u);
        if (!headers[s]) headers[s] = otlp_http_header_block(header_specs[s]);
    }
    atomic_store(&relay_state, RELAY_PASSIVE);
}

/* A passive relay hands over to a thread once forwarding is due (a batch's
 * worth of bytes, or the oldest record waited the schedule delay) or the
 * process has lived longer than the schedule delay: short-lived shells and
 * builds never start one (DESIGN.md), long-lived parents get their
 * children's records forwarded on schedule. Called with the drain lock. */
static void maybe_activate(void) {
    uint64_t now = clock_mono_ns(), delay = (uint64_t)delay_ms * 1000000u;
    bool due =
        pending_bytes() >= FLUSH_BYTES || (first_pending_ns && now - first_pending_ns >= delay);
    if (!due && now - born_ns < delay) return;
    int expected = RELAY_PASSIVE;
    if (!atomic_compare_exchange_strong(&relay_state, &expected, RELAY_ACTIVE)) return;
    if (processor_spawn_thread(relay_main, 128 * 1024) != 0)
        atomic_store(&relay_state, RELAY_PASSIVE); /* stay passive: drained at exit */
}

/* Takes what children sent; activate: may start the relay thread (not
 * from relay_poll, which a SIGCHLD handler may reach: no thread is started
 * there, only system calls and the mmap'd buffers are used). */
static void drain(bool activate) {
    if (atomic_load_explicit(&relay_state, memory_order_relaxed) != RELAY_PASSIVE) return;
    if (atomic_flag_test_and_set_explicit(&draining, memory_order_acquire)) return;
    if (atomic_load(&relay_state) == RELAY_PASSIVE) {
        accept_all(10); /* a child between its connect and its send: a moment */
        if (activate) maybe_activate();
    }
    atomic_flag_clear_explicit(&draining, memory_order_release);
}

void relay_poll(void) {
    drain(false);
}

void relay_start(void) {
    if (!enabled) return;
    if (atomic_load_explicit(&relay_state, memory_order_relaxed) == RELAY_NONE &&
        !atomic_flag_test_and_set_explicit(&draining, memory_order_acquire)) {
        if (atomic_load(&relay_state) == RELAY_NONE) listen_start();
        atomic_flag_clear_explicit(&draining, memory_order_release);
    }
    drain(true);
}

/* Once the relay has finished for good: its header blocks go back to the C
 * library (valgrind's leak check would count them as the program's). */
static void release_headers(void) {
    for (int s = 0; s < SIGNAL_COUNT; s++) {
        free(headers[s]);
        headers[s] = NULL;
    }
}

OTELP_FIRST void relay_shutdown(uint32_t timeout_ms, bool in_signal) {
    int state = atomic_load(&relay_state);
    if (state != RELAY_PASSIVE && state != RELAY_ACTIVE) return;
    uint64_t deadline = clock_mono_ns() + (uint64_t)timeout_ms * 1000000u;
    if (state == RELAY_PASSIVE) {
        /* Another thread may be draining: it finishes in a moment. */
        while (atomic_flag_test_and_set_explicit(&draining, memory_order_acquire)) {
            if (clock_mono_ns() >= deadline) return;
            sched_yield();
        }
        int expected = RELAY_PASSIVE;
        if (atomic_compare_exchange_strong(&relay_state, &expected, RELAY_STOPPED)) {
            finish(deadline, !in_signal); /* on this thread: there is no other */
            if (!in_signal) {
                report();
                release_headers();
            }
        }
        atomic_flag_clear_explicit(&draining, memory_order_release);
    }
    int expected = RELAY_ACTIVE;
    if (!atomic_compare_exchange_strong(&relay_state, &expected, RELAY_STOPPED)) return;
    /* Wake the relay by connecting to it: it then sees the state, drains
     * its backlog and flushes. Without a socket or a connection (no
     * descriptor left, no memory), by shutting its socket for reading,
     * which wakes its poll too (what finish() does first anyway): never
     * leave it asleep with children's records it has not sent nor
     * counted. */
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd >= 0 && fds_base() >= 0) fd = fd_move_high(fd);
    int rc = fd < 0 ? -1 : connect(fd, (struct sockaddr *)&listen_name, listen_name_len);
    if (fd >= 0) close(fd);
    if (rc < 0) {
        if (!still_ours()) return; /* the program took the number: not ours to shut */
        shutdown(fd_get(&listen_fd), SHUT_RD);
    }
    while (!atomic_load(&relay_done)) {
        uint64_t now = clock_mono_ns();
        if (now >= deadline) break;
        uint64_t left = deadline - now;
        struct timespec ts = {(time_t)(left / 1000000000u), (long)(left % 1000000000u)};
        syscall(SYS_futex, &relay_done, FUTEX_WAIT_PRIVATE, 0, &ts, NULL, 0);
    }
    if (atomic_load(&relay_done) && !in_signal) release_headers();
}

void relay_after_fork_child(void) {
    int st = atomic_load(&relay_state);
    if (st == RELAY_PASSIVE || st == RELAY_ACTIVE) {
        listen_close(); /* the parent's socket: not ours to serve */
        for (int s = 0; s < SIGNAL_COUNT; s++) {
            buf_release(&pending[s]);
            pending_records[s] = 0;
            pending_host[s] = 0;
            http_close(&clients[s]);
            if (forwarders[s]) forwarders[s]->ops->after_fork(forwarders[s]);
        }
        buf_release(&incoming);
        first_pending_ns = 0;
    }
    atomic_store(&relay_state, RELAY_NONE);
    atomic_flag_clear(&draining); /* a parent thread may have held it */
    atomic_store(&relay_done, 0);
    for (int s = 0; s < SIGNAL_COUNT; s++) {
        atomic_store(&rel[s].exported, 0);
        atomic_store(&rel[s].lost, 0);
        atomic_store(&rel[s].spooled, 0);
        atomic_store(&rel[s].handed_up, 0);
        atomic_store(&rel[s].received, 0);
        for (size_t i = 0; i < COUNT_FIELDS; i++)
            atomic_store(&reported[s][i], 0);
    }
    atomic_store(&no_parent_relay, false); /* another parent */
    born_ns = 0; /* set when it first starts a child: no clock call in an atfork handler */
}

void relay_get_stats(enum signal_kind sig, struct relay_stats *out) {
    memset(out, 0, sizeof *out);
    /* Never a relay: nothing counted (and no page of ours touched). */
    if (atomic_load_explicit(&relay_state, memory_order_relaxed) == RELAY_NONE) return;
    uint64_t r[COUNT_FIELDS];
    for (size_t i = 0; i < COUNT_FIELDS; i++)
        r[i] = atomic_load_explicit(&reported[sig][i], memory_order_relaxed);
    memcpy(&out->reported, r, sizeof r);
    out->received = atomic_load_explicit(&rel[sig].received, memory_order_relaxed);
    out->exported = atomic_load_explicit(&rel[sig].exported, memory_order_relaxed);
    out->failed = atomic_load_explicit(&rel[sig].lost, memory_order_relaxed);
    out->spooled = atomic_load_explicit(&rel[sig].spooled, memory_order_relaxed);
    out->handed_up = atomic_load_explicit(&rel[sig].handed_up, memory_order_relaxed);
}

int exporter_handoff_connect(enum signal_kind sig, enum otlp_protocol proto) {
    (void)proto; /* every protocol: the socket's name says which */
    return handoff_connect(sig);
}

int exporter_handoff_send(int conn, enum signal_kind sig, const struct buf *body, size_t count,
                          uint32_t host) {
    return handoff_send_on(conn, sig, (uint32_t)count, body->data, body->len, host);
}
