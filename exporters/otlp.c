/* otlp: the OTLP exporter: encode a batch (encoder.h), optionally gzip it,
 * hand it to a transport (transport.h), and apply the specification's
 * reliability rules (retry.h):
 *   - retryable outcomes are retried with exponential backoff and jitter,
 *     or after the server's Retry-After / RetryInfo delay; anything else is
 *     dropped at once;
 *   - an export with all its retries ends by its deadline: the earliest of
 *     OTEL_EXPORTER_OTLP_*TIMEOUT, the processor's export deadline and, once
 *     the process is exiting, the flush budget;
 *   - a delivered response's partial_success is decoded and its rejected
 *     count returned (never retried);
 *   - at exit without a worker thread, the encoded batch is first offered
 *     to exporter_handoff();
 *   - what cannot be delivered now goes to the spool (outbox.h): at exec
 *     at once (an exec never waits on the network); at exit when the
 *     collector cannot be reached at all (refused, no route, no network,
 *     no resolver); at any time when retries ran out of time. After a
 *     success, what the spool holds for the collector, of every signal,
 *     is sent: by the worker (at most every DRAIN_EVERY_NS), or once at
 *     exit when the directory is not empty, within the flush budget.
 * Header values (often tokens) never appear in diagnostics; a warning says
 * when credentials-looking headers would go over plaintext.
 * Depends on encoder.h, transport.h, retry.h, gzip.h, otlp_response.h,
 * core/processor.h (worker state, shutdown deadline). */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "core/diag.h"
#include "core/ids.h"
#include "core/pool.h"
#include "core/processor.h"
#include "core/telemetry.h"
#include "core/text.h"
#include "exporters/encoder.h"
#include "exporters/exporter.h"
#include "exporters/gzip.h"
#include "exporters/http.h"
#include "exporters/handoff.h"
#include "exporters/otlp_response.h"
#include "exporters/outbox.h"
#include "exporters/retry.h"
#include "exporters/transport.h"

#define RESPONSE_CAP 16384 /* bytes of a response body kept for partial_success */

struct otlp_exporter {
    struct exporter base;
    enum otlp_protocol protocol;
    const struct otlp_encoding *enc;
    struct transport *transport;
    struct buf body, zbody;
    struct gzip gz;
    bool gzip, grpc;
    uint32_t timeout_ms;
    const char *endpoint; /* as configured: the spool's key */
    uint64_t drained_ns;  /* when the spool was last drained */
    bool drained_at_exit;
    /* Every signal's configuration (the process's cfg->otlp), or NULL: a
     * drain after a success also sends what the spool holds for the other
     * signals at the same collector, through exporters of their own made
     * when first needed (peers; used by this exporter's thread only). */
    const struct otlp_config *all;
    struct otlp_exporter *peers[SIGNAL_COUNT];
    char where[96];                 /* for diagnostics: the endpoint's scheme and authority */
    uint8_t response[RESPONSE_CAP]; /* last: see otlp_alloc */
};

static int unhex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Percent-decodes [s, s+n) appending to out; drops CR and LF so no header
 * injection is possible, and NUL (%00), which ended the header block there:
 * the request's head then never ended, and every export timed out.
 * Returns false on a bad escape. */
static bool decode_into(struct buf *out, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (ch == '%') {
            int hi, lo;
            if (i + 2 >= n || (hi = unhex(s[i + 1])) < 0 || (lo = unhex(s[i + 2])) < 0)
                return false;
            ch = (char)(hi << 4 | lo);
            i += 2;
        }
        if (ch != '\r' && ch != '\n' && ch != '\0') buf_putc(out, ch);
    }
    return true;
}

/* Whether a header name looks like it carries credentials. */
static bool credential_name(const char *k, size_t n) {
    static const char *const words[] = {"auth", "token", "key", "secret", "cookie", "password"};
    char low[64];
    if (n >= sizeof low) n = sizeof low - 1;
    for (size_t i = 0; i < n; i++)
        low[i] = (char)(k[i] >= 'A' && k[i] <= 'Z' ? k[i] + 32 : k[i]);
    low[n] = '\0';
    for (size_t i = 0; i < sizeof words / sizeof *words; i++)
        if (strstr(low, words[i])) return true;
    return false;
}

static const char user_agent[] =
    "User-Agent: OTel-OTLP-Exporter-C/" OTELP_VERSION " otel-preload\r\n";

/* Appends the header block for OTEL_EXPORTER_OTLP_HEADERS "k=v,k2=v2" to b:
 * the User-Agent line, then "k: v\r\nk2: v2\r\n", NUL-terminated. A
 * malformed member is skipped with a diagnostic naming the key only
 * (values are often tokens). *credentials: some header name looks like it
 * carries credentials. */
static void put_headers(struct buf *b, const char *spec, bool *credentials) {
    *credentials = false;
    buf_puts(b, user_agent);
    for (const char *p = spec; p && *p;) {
        const char *item = p;
        while (*p && *p != ',')
            p++;
        const char *end = p;
        if (*p) p++;
        const char *eq = memchr(item, '=', (size_t)(end - item));
        const char *kb = item, *ke = eq ? eq : end;
        while (kb < ke && *kb == ' ')
            kb++;
        while (ke > kb && ke[-1] == ' ')
            ke--;
        if (!eq || kb == ke) {
            /* Never quoted: "Authorization:Bearer TOKEN" (curl's style)
             * has no '=' and is all secret. */
            if (kb != ke)
                diag_warn("OTEL_EXPORTER_OTLP_HEADERS: a member has no '=' (the form is "
                          "name=value,name2=value2%s), skipped",
                          memchr(kb, ':', (size_t)(ke - kb)) ? ", not curl's 'Name: value'" : "");
            continue;
        }
        const char *vb = eq + 1, *ve = end;
        while (vb < ve && *vb == ' ')
            vb++;
        while (ve > vb && ve[-1] == ' ')
            ve--;
        size_t mark = b->len;
        bool ok = decode_into(b, kb, (size_t)(ke - kb));
        buf_puts(b, ": ");
        ok = ok && decode_into(b, vb, (size_t)(ve - vb));
        buf_puts(b, "\r\n");
        if (!ok) {
            b->len = mark;
            diag_warn("OTEL_EXPORTER_OTLP_HEADERS: bad percent-encoding in header '%.*s', skipped",
                      (int)(ke - kb), kb);
        } else if (credential_name(kb, (size_t)(ke - kb))) {
            *credentials = true;
        }
    }
    buf_putc(b, '\0');
}

char *otlp_http_header_block(const char *spec) {
    struct buf b = {.heap = true};
    bool credentials;
    put_headers(&b, spec, &credentials);
    if (b.failed) {
        buf_release(&b);
        return NULL;
    }
    return (char *)b.data;
}

/* Sleeps until t (monotonic), in slices, waking early when the process
 * starts exiting and the flush budget ends first. Returns false when the
 * deadline would be passed. */
static bool sleep_until(uint64_t t, uint64_t deadline) {
    for (;;) {
        uint64_t now = clock_mono_ns(), cap = processor_deadline();
        if (cap < deadline) deadline = cap;
        if (now >= deadline) return false;
        if (now >= t) return true;
        uint64_t left = t - now;
        if (left > 20000000u) left = 20000000u;
        struct timespec ts = {0, (long)left};
        nanosleep(&ts, NULL);
    }
}

#define DRAIN_EVERY_NS 1000000000ull /* the worker looks at the spool at most this often */
#define DRAIN_BATCHES 64             /* batches sent from the spool per look */
#define DRAIN_BATCHES_AT_EXIT 32     /* of every signal: a top process spools 2 or 3 */

/* Whether err says the collector cannot be reached at all now (not: it
 * answered badly): at exit or exec, such a batch is spooled at once. */
static bool unreachable(int err) {
    switch (-err) {
    case ECONNREFUSED:
    case EHOSTUNREACH:
    case ENETUNREACH:
    case ENETDOWN:
    case EADDRNOTAVAIL:
    case ENONET: /* the name did not resolve */
    case EAGAIN: /* the name needs a resolver, and none may run here */
        return true;
    default:
        return false;
    }
}

/* The request as the spool keeps it: gRPC's message frame left out. */
static int spool_request(struct otlp_exporter *x, const struct transport_request *req, size_t off,
                         size_t n) {
    struct outbox_batch b = {
        x->base.signal, x->endpoint, x->protocol, req->gzip, req->body + off, req->len - off, n};
    return outbox_put(&b);
}

static enum retry_verdict verdict(int rc, const struct transport_result *res) {
    return rc < 0                  ? retry_errno(rc)
           : res->grpc_status >= 0 ? retry_grpc_status(res->grpc_status, res->retry_info)
                                   : retry_http_status(res->http_status);
}

/* Sends a spooled batch (outbox_send_fn) through our transport, once. */
static int drain_send(void *ctx, const struct spool_header *h, const uint8_t *body,
                      uint64_t deadline) {
    struct otlp_exporter *x = ctx;
    bool gz = !strcmp(h->content_encoding, "gzip");
    size_t len = (size_t)h->length, off = x->grpc ? 5 : 0;
    uint8_t *framed = NULL;
    if (off) {
        if (len > UINT32_MAX || !(framed = malloc(len + off))) return -ENOMEM;
        framed[0] = gz ? 1 : 0;
        framed[1] = (uint8_t)(len >> 24);
        framed[2] = (uint8_t)(len >> 16);
        framed[3] = (uint8_t)(len >> 8);
        framed[4] = (uint8_t)len;
        memcpy(framed + off, body, len);
    }
    struct transport_request req = {framed ? framed : body, len + off, gz, false};
    struct transport_result res = {.grpc_status = -1,
                                   .server_delay_ms = -1,
                                   .body = x->response,
                                   .body_cap = sizeof x->response};
    int rc = x->transport->ops->send(x->transport, &req, deadline, &res);
    free(framed);
    return verdict(rc, &res) == RETRY_DELIVERED ? 0 : -EIO;
}

static void describe(char *out, size_t cap, const char *url);
static struct otlp_exporter *otlp_make(enum signal_kind sig, const struct otlp_config *cfg,
                                       const struct otlp_config *all);

struct peer_route {
    struct otlp_exporter *x;
    enum signal_kind sig;
};

/* Sends another signal's spooled batch (outbox_send_fn) through x's peer
 * for that signal, made on first use. */
static int peer_send(void *ctx, const struct spool_header *h, const uint8_t *body,
                     uint64_t deadline) {
    struct peer_route *r = ctx;
    struct otlp_exporter **p = &r->x->peers[r->sig];
    if (!*p) *p = otlp_make(r->sig, &r->x->all[r->sig], NULL);
    return *p ? drain_send(*p, h, body, deadline) : -ENOMEM;
}

/* After a success: what the spool holds for this collector, sent now: this
 * endpoint's batches of our signal, and the other signals' batches for
 * their configured endpoints when those are at the same collector (scheme
 * and authority): a process that exports spans only (most short ones)
 * delivers the metrics and logs that top processes spooled while the
 * collector was down. By the worker while the process runs (at most every
 * DRAIN_EVERY_NS), or once at exit (whichever thread flushes) when the
 * directory is not empty: a cheap stat in the common case. Never at exec,
 * never from the program's own threads while it runs, never in a signal
 * handler. */
static void maybe_drain(struct otlp_exporter *x, uint64_t deadline) {
    if (!outbox_enabled() || atomic_load(&exporter_at_exec) || exporter_in_signal) return;
    uint64_t now = clock_mono_ns();
    size_t max;
    if (processor_exiting()) {
        if (x->drained_at_exit) return;
        x->drained_at_exit = true;
        max = DRAIN_BATCHES_AT_EXIT;
    } else if (processor_on_worker() || relay_thread()) {
        if (x->drained_ns && now - x->drained_ns < DRAIN_EVERY_NS) return;
        max = DRAIN_BATCHES;
    } else {
        return;
    }
    x->drained_ns = now;
    if (!outbox_maybe_pending()) return;
    enum signal_kind sig = x->base.signal;
    struct outbox_route routes[SIGNAL_COUNT] = {{0}};
    struct peer_route peer[SIGNAL_COUNT];
    routes[sig] = (struct outbox_route){x->endpoint, x->protocol, drain_send, x};
    for (int s = 0; s < SIGNAL_COUNT && x->all; s++) {
        const struct otlp_config *o = &x->all[s];
        char where[sizeof x->where];
        if (s == (int)sig || !o->endpoint) continue;
        describe(where, sizeof where, o->endpoint);
        if (strcasecmp(where, x->where) != 0) continue; /* another collector: not known up */
        peer[s] = (struct peer_route){x, (enum signal_kind)s};
        routes[s] = (struct outbox_route){o->endpoint, o->protocol, peer_send, &peer[s]};
    }
    uint64_t sent[SIGNAL_COUNT];
    if (!outbox_drain_routes(routes, max, deadline, sent) || !diag_enabled(DIAG_INFO)) return;
    for (int s = 0; s < SIGNAL_COUNT; s++)
        if (sent[s])
            diag_info("spool: delivered %llu %s spooled earlier to %s", (unsigned long long)sent[s],
                      otlp_record_names[s], x->where);
}

static int deliver(struct otlp_exporter *x, size_t n, uint64_t deadline, bool in_signal,
                   bool report);

static int otlp_export(struct exporter *e, void *const *records, size_t n,
                       const struct attr_list *resource, uint64_t deadline) {
    struct otlp_exporter *x = (struct otlp_exporter *)e;
    enum signal_kind sig = e->signal;
    uint64_t start = clock_mono_ns();
    uint64_t own = start + (uint64_t)x->timeout_ms * 1000000u;
    if (own < deadline) deadline = own;
    if (processor_deadline() < deadline) deadline = processor_deadline();
    bool in_signal = exporter_in_signal && !processor_on_worker();
    bool report = !exporter_in_signal && diag_enabled(DIAG_WARN);

    /* Exporting at exit without a worker: the parent's relay takes the
     * batch if there is one, under a resource without the host's
     * attributes (the relay adds its own). */
    if (x->transport->ops->network && !processor_worker_running()) {
        int relay = exporter_handoff_connect(sig, x->protocol);
        if (relay >= 0) {
            uint32_t host;
            const struct attr_list *local = telemetry_resource_local(&host);
            buf_reset(&x->body);
            int rc = x->enc->encode[sig](&x->body, local, records, n) && !x->body.failed
                         ? exporter_handoff_send(relay, sig, &x->body, n, host)
                         : (close(relay), -ENOMEM);
            if (rc == 0) return BATCH_HANDED_OFF;
        }
    }

    if (!resource) resource = telemetry_resource();
    buf_reset(&x->body);
    size_t off = x->grpc ? 5 : 0;
    if (off) buf_append(&x->body, "\0\0\0\0\0", off);
    if (!x->enc->encode[sig](&x->body, resource, records, n) || x->body.failed) return -ENOMEM;
    return deliver(x, n, deadline, in_signal, report);
}

/* Sends the request in x->body (gRPC: after 5 bytes kept for the message
 * frame) of n records: compressed if configured, then the spool at exec,
 * the transport with the retry rules, the spool for what could not be
 * delivered. */
static int deliver(struct otlp_exporter *x, size_t n, uint64_t deadline, bool in_signal,
                   bool report) {
    size_t off = x->grpc ? 5 : 0;
    const char *what = otlp_record_names[x->base.signal];
    const uint8_t *payload = x->body.data + off;
    size_t payload_len = x->body.len - off;

    struct transport_request req = {x->body.data, x->body.len, false, in_signal};
    /* An exec never waits on the network: the spool takes the batch, as it
     * is (no compression to load or run either). */
    bool at_exec = atomic_load(&exporter_at_exec);
    bool hurry = at_exec || processor_exiting();
    if (at_exec && x->transport->ops->network && outbox_enabled() &&
        spool_request(x, &req, off, n) == 0)
        return BATCH_SPOOLED;
    if (x->gzip && gzip_ready(!in_signal)) {
        buf_reset(&x->zbody);
        if (off) buf_append(&x->zbody, "\0\0\0\0\0", off);
        if (!x->zbody.failed && gzip_compress(&x->gz, &x->zbody, payload, payload_len) == 0) {
            req.body = x->zbody.data;
            req.len = x->zbody.len;
            req.gzip = true;
        }
    }
    if (off) { /* the gRPC message frame: compressed flag, big-endian length */
        uint8_t *f = (uint8_t *)req.body;
        uint32_t len = (uint32_t)(req.len - off);
        f[0] = req.gzip ? 1 : 0;
        f[1] = (uint8_t)(len >> 24);
        f[2] = (uint8_t)(len >> 16);
        f[3] = (uint8_t)(len >> 8);
        f[4] = (uint8_t)len;
    }

    for (unsigned attempt = 0;; attempt++) {
        struct transport_result res = {.grpc_status = -1,
                                       .server_delay_ms = -1,
                                       .body = x->response,
                                       .body_cap = sizeof x->response};
        int rc = x->transport->ops->send(x->transport, &req, deadline, &res);
        enum retry_verdict v = verdict(rc, &res);
        if (v == RETRY_DELIVERED) {
            int64_t rejected = 0;
            char msg[160];
            const uint8_t *rb = res.body;
            size_t rl = res.body_len;
            /* A gRPC response's message frame: a lying prefix, or a
             * compressed message, is no partial_success. */
            if (x->grpc && grpc_message_frame(res.body, res.body_len, &rb, &rl) < 0) rl = 0;
            if (rl && x->protocol == OTLP_HTTP_JSON)
                (void)otlp_partial_success_json((const char *)rb, rl, &rejected, msg, sizeof msg);
            else if (rl)
                (void)otlp_partial_success_proto(rb, rl, &rejected, msg, sizeof msg);
            else
                msg[0] = '\0';
            if ((rejected || msg[0]) && report)
                diag_warn("%s accepted %zu %s but rejected %lld: %s", x->where, n, what,
                          (long long)rejected, msg[0] ? msg : "(no message)");
            if (rejected > (int64_t)n) rejected = (int64_t)n;
            if (!in_signal && x->transport->ops->network) maybe_drain(x, deadline);
            return (int)rejected;
        }
        uint64_t now = clock_mono_ns(), wait = 0;
        int64_t server = res.server_delay_ms >= 0 ? res.server_delay_ms * 1000000 : -1;
        /* At exit, a collector that cannot be reached at all is not waited
         * for: the spool takes the batch now. */
        bool now_or_never = hurry && rc < 0 && unreachable(rc);
        bool again = !now_or_never && v == RETRY_RETRYABLE &&
                     retry_next(&retry_default_policy, attempt, server, now, deadline,
                                in_signal ? now : ids_random_u64(), &wait) &&
                     sleep_until(now + wait, deadline);
        if (!again) {
            bool spooled = (v == RETRY_RETRYABLE || rc == -EAGAIN) && x->transport->ops->network &&
                           spool_request(x, &req, off, n) == 0;
            if (report) {
                char why[200];
                if (rc < 0)
                    snprintf(why, sizeof why, "%s%s%s", retry_error_text(rc),
                             res.message[0] ? ": " : "", res.message);
                else if (res.grpc_status >= 0)
                    snprintf(why, sizeof why, "gRPC status %d%s%s", res.grpc_status,
                             res.message[0] ? ": " : "", res.message);
                else
                    snprintf(why, sizeof why, "HTTP %d", res.http_status);
                diag_warn("export of %zu %s to %s failed after %u %s: %s%s", n, what, x->where,
                          attempt + 1, attempt ? "tries" : "try", why,
                          spooled                ? "; spooled, to be sent later"
                          : now_or_never         ? " (not spooled)"
                          : v == RETRY_RETRYABLE ? " (retryable, out of time)"
                                                 : " (not retryable)");
            }
            if (spooled) return BATCH_SPOOLED;
            return rc < 0 ? rc : -EIO;
        }
        if (!exporter_in_signal && diag_enabled(DIAG_DEBUG))
            diag_debug("export to %s: retrying in %llu ms", x->where,
                       (unsigned long long)(wait / 1000000u));
    }
}

/* An encoded request in this exporter's encoding (protobuf, or JSON for
 * http/json: as children hand them to a relay) of n records, sent as this
 * exporter sends its own: compressed, framed, with the retry rules and the
 * spool. For a relay forwarding its children's. */
static int otlp_send_encoded(struct exporter *e, const void *body, size_t len, size_t n,
                             uint64_t deadline) {
    struct otlp_exporter *x = (struct otlp_exporter *)e;
    uint64_t own = clock_mono_ns() + (uint64_t)x->timeout_ms * 1000000u;
    if (own < deadline) deadline = own;
    if (processor_deadline() < deadline) deadline = processor_deadline();
    buf_reset(&x->body);
    if (x->grpc) buf_append(&x->body, "\0\0\0\0\0", 5);
    buf_append(&x->body, body, len);
    if (x->body.failed) return -ENOMEM;
    return deliver(x, n, deadline, exporter_in_signal && !processor_on_worker(),
                   !exporter_in_signal && diag_enabled(DIAG_WARN));
}

static void otlp_after_fork(struct exporter *e) {
    struct otlp_exporter *x = (struct otlp_exporter *)e;
    x->transport->ops->after_fork(x->transport);
    for (int s = 0; s < SIGNAL_COUNT; s++)
        if (x->peers[s]) otlp_after_fork(&x->peers[s]->base);
}

static const struct exporter_ops otlp_ops = {"otlp", otlp_export, otlp_after_fork,
                                             otlp_send_encoded};

/* "scheme://authority" of url, for diagnostics (no path, no userinfo). */
static void describe(char *out, size_t cap, const char *url) {
    const char *p = strstr(url, "://");
    const char *host = p ? p + 3 : url;
    size_t scheme = (size_t)(host - url), alen = text_cspn(host, "/?#");
    const char *at = NULL; /* the last '@' of the authority: user information before it */
    for (const char *q = host; q < host + alen; q++)
        if (*q == '@') at = q;
    if (at) {
        alen -= (size_t)(at + 1 - host);
        host = at + 1;
    }
    if (scheme >= cap) scheme = cap - 1;
    if (alen >= cap - scheme) alen = cap - scheme - 1;
    memcpy(out, url, scheme); /* no snprintf at start */
    memcpy(out + scheme, host, alen);
    out[scheme + alen] = '\0';
}

/* One warning per bad endpoint and problem, not one per signal. */
static void warn_endpoint(const char *where, const char *problem) {
    static char warned[sizeof((struct otlp_exporter *)0)->where];
    static const char *warned_problem;
    if (warned_problem == problem && !strcmp(warned, where)) return;
    warned_problem = problem;
    snprintf(warned, sizeof warned, "%s", where);
    diag_warn("OTLP endpoint %s cannot be used: %s; nothing will be exported to it", where,
              problem);
}

static struct otlp_exporter *otlp_alloc(enum signal_kind sig, const struct otlp_config *cfg,
                                        const struct otlp_encoding *enc) {
    if (!enc->encode[sig]) {
        diag_warn("the %s encoding does not serve %s yet; they will not be exported", enc->name,
                  otlp_record_names[sig]);
        return NULL;
    }
    /* From the pool: zeroed, and its pages, the response buffer's (16 KiB,
     * last) among them, cost a page fault each only once touched. */
    struct otlp_exporter *x = pool_alloc(sizeof *x);
    if (!x) return NULL;
    x->base.ops = &otlp_ops;
    x->base.signal = sig;
    x->enc = enc;
    x->protocol = cfg->protocol;
    x->timeout_ms = cfg->timeout_ms;
    x->endpoint = cfg->endpoint;
    return x;
}

struct exporter *otlp_exporter_new(enum signal_kind sig, const struct otlp_config *cfg) {
    struct otlp_exporter *x = otlp_make(sig, cfg, NULL);
    return x ? &x->base : NULL;
}

struct exporter *otlp_exporter_new_all(enum signal_kind sig, const struct config *cfg) {
    struct otlp_exporter *x = otlp_make(sig, &cfg->otlp[sig], cfg->otlp);
    return x ? &x->base : NULL;
}

static struct otlp_exporter *otlp_make(enum signal_kind sig, const struct otlp_config *cfg,
                                       const struct otlp_config *all) {
    const struct otlp_encoding *enc =
        cfg->protocol == OTLP_HTTP_JSON ? &otlp_encoding_json : &otlp_encoding_protobuf;
    struct otlp_exporter *x = otlp_alloc(sig, cfg, enc);
    if (!x) return NULL;
    /* Without OTEL_EXPORTER_OTLP_HEADERS (usual) the block is the
     * User-Agent line alone; with it, it is made in mmap'd memory, given
     * back below: the program's heap stays as it was (pool.h). */
    bool credentials = false;
    struct buf block = {0};
    const char *headers = user_agent;
    if (cfg->headers && *cfg->headers) {
        put_headers(&block, cfg->headers, &credentials);
        if (block.failed) {
            buf_release(&block);
            pool_free(x);
            return NULL;
        }
        headers = (const char *)block.data;
    }
    const char *url = cfg->endpoint;
    describe(x->where, sizeof x->where, url);
    bool plaintext;
    if (cfg->protocol == OTLP_GRPC) {
        x->grpc = true;
        x->transport = transport_grpc_new(sig, url, headers, cfg);
        plaintext = text_iprefix(url, "http://") || (!strstr(url, "://") && cfg->insecure);
    } else {
        plaintext = text_iprefix(url, "http://");
        const char *problem = http_url_problem(url);
        if (problem)
            warn_endpoint(x->where, problem);
        else if (plaintext)
            x->transport = transport_http_new(url, enc->content_type, headers);
        else
            x->transport = transport_curl_new(url, enc->content_type, headers, cfg);
    }
    buf_release(&block);
    if (!x->transport) {
        pool_free(x);
        return NULL;
    }
    if (credentials && plaintext)
        diag_warn("OTEL_EXPORTER_OTLP_HEADERS holds credentials-looking headers that go to %s "
                  "unencrypted; use https",
                  x->where);
    x->gzip = cfg->compression == OTLP_COMPRESSION_GZIP;
    x->all = all;
    return x;
}

struct exporter *otlp_file_exporter_new(enum signal_kind sig, const struct otlp_config *cfg) {
    if (!cfg->file_path) {
        diag_warn("the otlp_file exporter needs OTEL_EXPORTER_OTLP_%s_FILE_PATH (or "
                  "OTEL_EXPORTER_OTLP_FILE_PATH); %s will not be written",
                  sig == SIGNAL_TRACES ? "TRACES"
                  : sig == SIGNAL_LOGS ? "LOGS"
                                       : "METRICS",
                  otlp_record_names[sig]);
        return NULL;
    }
    struct otlp_exporter *x = otlp_alloc(sig, cfg, &otlp_encoding_json);
    if (!x) return NULL;
    x->protocol = OTLP_HTTP_JSON;
    x->transport = transport_file_new(cfg->file_path);
    if (!x->transport) {
        pool_free(x);
        return NULL;
    }
    snprintf(x->where, sizeof x->where, "file %s", cfg->file_path);
    return &x->base;
}
