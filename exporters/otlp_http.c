/* otlp_http: the OTLP/HTTP protobuf exporter: encode a batch, POST it to the
 * signal's endpoint with OTEL_EXPORTER_OTLP_*HEADERS, bounded by
 * OTEL_EXPORTER_OTLP_*TIMEOUT. 2xx is success; anything else loses the batch
 * (the reliability rules come with the exporters issue). Depends on http.h,
 * otlp_proto.h, exporter.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/diag.h"
#include "core/ids.h"
#include "exporters/exporter.h"
#include "core/processor.h"
#include "exporters/handoff.h"
#include "exporters/http.h"
#include "exporters/otlp_proto.h"

struct otlp_http {
    struct exporter base;
    struct http_client client;
    struct buf body;
    uint32_t timeout_ms;
    char *headers; /* "Name: value\r\n" lines */
    bool warned;
};

static int unhex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Percent-decodes [s, s+n) appending to out; drops CR/LF so no header
 * injection is possible. Returns false on a bad escape. */
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
        if (ch != '\r' && ch != '\n') buf_putc(out, ch);
    }
    return true;
}

/* OTEL_EXPORTER_OTLP_HEADERS "k=v,k2=v2" -> "k: v\r\nk2: v2\r\n". A
 * malformed member is skipped with a diagnostic naming the key only (values
 * are often tokens). */
char *otlp_http_header_block(const char *spec) {
    struct buf b = {.heap = true};
    buf_puts(&b, "User-Agent: OTel-OTLP-Exporter-C/" OTELP_VERSION " otel-preload\r\n");
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
            if (kb != ke)
                diag_warn("OTEL_EXPORTER_OTLP_HEADERS: member '%.*s' has no '=', skipped",
                          (int)(ke - kb), kb);
            continue;
        }
        const char *vb = eq + 1, *ve = end;
        while (vb < ve && *vb == ' ')
            vb++;
        while (ve > vb && ve[-1] == ' ')
            ve--;
        size_t mark = b.len;
        bool ok = decode_into(&b, kb, (size_t)(ke - kb));
        buf_puts(&b, ": ");
        ok = ok && decode_into(&b, vb, (size_t)(ve - vb));
        buf_puts(&b, "\r\n");
        if (!ok) {
            b.len = mark;
            diag_warn("OTEL_EXPORTER_OTLP_HEADERS: bad percent-encoding in header '%.*s', skipped",
                      (int)(ke - kb), kb);
        }
    }
    buf_putc(&b, '\0');
    if (b.failed) {
        buf_release(&b);
        return NULL;
    }
    return (char *)b.data;
}

/* The per-signal part: which request encodes the batch, and what the
 * records are called in diagnostics. */
static bool encode_batch(struct otlp_http *x, void *const *records, size_t n,
                         const struct attr_list *resource) {
    if (x->base.signal == SIGNAL_LOGS)
        return otlp_encode_logs(&x->body, resource, (struct log_record *const *)records, n);
    return otlp_encode_traces(&x->body, resource, (struct span *const *)records, n);
}

static const char *record_noun(const struct otlp_http *x) {
    return x->base.signal == SIGNAL_LOGS ? "log records" : "spans";
}

static int otlp_http_export(struct exporter *e, void *const *records, size_t n,
                            const struct attr_list *resource, uint64_t deadline) {
    struct otlp_http *x = (struct otlp_http *)e;
    uint64_t own = clock_mono_ns() + (uint64_t)x->timeout_ms * 1000000u;
    if (own < deadline) deadline = own;
    buf_reset(&x->body);
    if (!encode_batch(x, records, n, resource)) return -ENOMEM;
    /* The final flush of a process whose parent relays for it: hand over. */
    if (processor_exiting() &&
        handoff_send(x->base.signal, (uint32_t)n, x->body.data, x->body.len) == 0)
        return 0;
    struct http_response resp;
    int rc = http_post(&x->client, "application/x-protobuf", x->headers, x->body.data, x->body.len,
                       deadline, !exporter_in_signal, &resp);
    bool report = !exporter_in_signal && diag_enabled(DIAG_WARN);
    if (rc < 0) {
        if (report)
            diag_warn("export of %zu %s to %s failed: %s", n, record_noun(x),
                      x->client.url.authority, strerror(-rc));
        return rc;
    }
    if (resp.status < 200 || resp.status > 299) {
        if (report)
            diag_warn("export of %zu %s to %s rejected: HTTP %d", n, record_noun(x),
                      x->client.url.authority, resp.status);
        return -EIO;
    }
    return 0;
}

static void otlp_http_after_fork(struct exporter *e) {
    struct otlp_http *x = (struct otlp_http *)e;
    http_close(&x->client); /* the parent's connection: never write to it */
}

static const struct exporter_ops otlp_http_ops = {"otlp", otlp_http_export, otlp_http_after_fork};

struct exporter *otlp_http_exporter_new(enum signal_kind sig, const struct otlp_config *cfg) {
    if (sig != SIGNAL_TRACES && sig != SIGNAL_LOGS) return NULL;
    const char *noun = sig == SIGNAL_LOGS ? "logs" : "spans";
    struct http_url url;
    if (http_url_parse(cfg->endpoint, &url) < 0) {
        diag_warn("invalid OTLP endpoint '%s'; %s will not be exported", cfg->endpoint, noun);
        return NULL;
    }
    if (url.tls) {
        diag_warn("https endpoints need the TLS transport, which is not built yet; %s to %s "
                  "will not be exported",
                  noun, url.authority);
        return NULL;
    }
    struct otlp_http *x = calloc(1, sizeof *x);
    if (!x) return NULL;
    x->base.ops = &otlp_http_ops;
    x->base.signal = sig;
    x->timeout_ms = cfg->timeout_ms;
    x->headers = otlp_http_header_block(cfg->headers);
    http_client_init(&x->client, &url);
    return &x->base;
}
