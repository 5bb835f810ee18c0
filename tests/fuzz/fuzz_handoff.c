/* fuzz_handoff: libFuzzer target for what a hand-off relay (exporters/handoff.c) does with the
 * bytes its children sent: the JSON scanner of http/json (exporters/otlp_json.c
 * otlp_json_merge, otlp_json_add_resource_attrs) and the protobuf splice
 * (exporters/otlp_proto.c otlp_proto_append_with_attrs, otlp_proto_add_resource_attrs),
 * checked against the receiver's strict decoders (server/otlp_decode.c, server/otlp_json.c)
 * as the oracle. The first byte is read as fuzz_otlp reads it (even: protobuf, odd: JSON; top
 * two bits: 0 and 3 metrics, 1 traces, 2 logs), so the two targets share seeds; the rest is
 * what the relay holds: children's requests, concatenated as they arrived.
 * Beyond "no crash, no leak, no undefined behaviour", whenever the input decodes as a request
 * of the signal with N spans, records or points and R resources:
 *   - JSON: merging it (one request, as the relay sends it), or it twice, succeeds when the
 *     scanner takes it and decodes to N (2N) in R (2R) resources; merging a merge changes
 *     nothing; adding the host's attributes, when the scanner takes it, decodes to N in R
 *     resources, each with the added attribute;
 *   - protobuf: adding the host's attributes (as the relay does, message by message) decodes
 *     to N in R resources, each whose resource the input had first (as our encoders write it)
 *     with the added attribute.
 * Built with clang -fsanitize=fuzzer by scripts/fuzz; run_corpus.c replays the checked-in
 * corpus (tests/fuzz/corpus/otlp and .../handoff) in every build without libFuzzer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exporters/buf.h"
#include "exporters/otlp_json.h"
#include "exporters/otlp_proto.h"
#include "server/otlp_decode.h"
#include "server/otlp_json.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

#define HOST_KEY "fuzz.host"
/* The host attribute as the relay adds it: KeyValue fields (protobuf), array members (JSON). */
static const uint8_t host_proto[] = {0x0a, 0x13, 0x0a, 0x09, 'f',  'u',  'z', 'z', '.', 'h', 'o',
                                     's',  't',  0x12, 0x06, 0x0a, 0x04, 'h', 'e', 'r', 'e'};
static const char host_json[] = "{\"key\":\"" HOST_KEY "\",\"value\":{\"stringValue\":\"here\"}}";

enum sig { SIG_METRICS, SIG_TRACES, SIG_LOGS };

/* What a request holds: items (spans, records, points) and resources, and how many of the
 * resources carry the host attribute (-1: it does not decode). */
struct shape {
    long items, resources, with_host;
};

static bool has_host(const struct otlp_resource *r) {
    for (size_t i = 0; i < r->attrs.count; i++) {
        const struct otlp_attr *a = &r->attrs.items[i];
        if (strcmp(a->key, HOST_KEY) == 0 && a->value.type == OTLP_VALUE_STRING &&
            strcmp(a->value.str, "here") == 0)
            return true;
    }
    return false;
}

static struct shape decode(enum sig sig, bool json, const void *p, size_t n) {
    struct shape s = {-1, 0, 0};
    char err[256] = "";
    if (sig == SIG_TRACES) {
        struct otlp_traces *t = json ? otlp_json_traces_decode(p, n, err, sizeof err)
                                     : otlp_traces_decode(p, n, err, sizeof err);
        if (!t) return s;
        s.items = (long)otlp_traces_span_count(t);
        s.resources = (long)t->n_resource_spans;
        for (size_t i = 0; i < t->n_resource_spans; i++)
            s.with_host += has_host(&t->resource_spans[i].resource);
        otlp_traces_free(t);
    } else if (sig == SIG_LOGS) {
        struct otlp_logs *l = json ? otlp_json_logs_decode(p, n, err, sizeof err)
                                   : otlp_logs_decode(p, n, err, sizeof err);
        if (!l) return s;
        s.items = (long)otlp_logs_record_count(l);
        s.resources = (long)l->n_resource_logs;
        for (size_t i = 0; i < l->n_resource_logs; i++)
            s.with_host += has_host(&l->resource_logs[i].resource);
        otlp_logs_free(l);
    } else {
        struct otlp_metrics *m = json ? otlp_json_metrics_decode(p, n, err, sizeof err)
                                      : otlp_metrics_decode(p, n, err, sizeof err);
        if (!m) return s;
        s.items = (long)otlp_metrics_point_count(m);
        s.resources = (long)m->n_resource_metrics;
        for (size_t i = 0; i < m->n_resource_metrics; i++)
            s.with_host += has_host(&m->resource_metrics[i].resource);
        otlp_metrics_free(m);
    }
    if (err[0] != '\0') abort(); /* a request that decodes leaves no message */
    return s;
}

static void same(struct shape got, long items, long resources) {
    if (got.items != items || got.resources != resources) {
        fprintf(stderr, "fuzz_handoff: %ld items in %ld resources, expected %ld in %ld\n",
                got.items, got.resources, items, resources);
        abort();
    }
}

static void json_relay(enum sig sig, const uint8_t *data, size_t size) {
    struct shape in = decode(sig, true, data, size);
    struct buf merged = {.heap = true}, again = {.heap = true}, twice = {.heap = true};
    struct buf hosted = {.heap = true}, plain = {.heap = true}, two = {.heap = true};
    if (otlp_json_merge(&merged, data, size)) {
        if (in.items >= 0) same(decode(sig, true, merged.data, merged.len), in.items, in.resources);
        /* a merge is one request: merging it again gives the same bytes */
        if (!otlp_json_merge(&again, merged.data, merged.len) || again.len != merged.len ||
            memcmp(again.data, merged.data, merged.len) != 0)
            abort();
        buf_append(&two, data, size);
        buf_append(&two, data, size);
        if (in.items >= 0) {
            if (!otlp_json_merge(&twice, two.data, two.len)) abort();
            same(decode(sig, true, twice.data, twice.len), 2 * in.items, 2 * in.resources);
        } else if (!otlp_json_merge(&twice, two.data, two.len)) {
            /* not JSON the scanner reads twice over: the relay counts it lost */
        }
    }
    if (otlp_json_add_resource_attrs(&hosted, data, size, (const uint8_t *)host_json,
                                     strlen(host_json)) &&
        in.items >= 0) {
        struct shape h = decode(sig, true, hosted.data, hosted.len);
        same(h, in.items, in.resources);
        if (h.with_host != h.resources) abort();
    }
    /* nothing to add: the requests copied as they are */
    if (otlp_json_add_resource_attrs(&plain, data, size, NULL, 0) && in.items >= 0)
        same(decode(sig, true, plain.data, plain.len), in.items, in.resources);
    buf_release(&merged), buf_release(&again), buf_release(&twice);
    buf_release(&hosted), buf_release(&plain), buf_release(&two);
}

/* Resources whose ResourceX message starts with its resource, as each top-level field 1 of
 * the input is split off (otlp_proto_append_with_attrs). */
static long resources_first(const uint8_t *p, size_t len) {
    long n = 0;
    for (size_t at = 0; at < len;) {
        uint64_t body, l2;
        size_t hl = p[at] == 0x0a ? otlp_proto_varint(p + at + 1, len - at - 1, &body) : 0;
        if (!hl || body > len - at - 1 - hl) break;
        const uint8_t *m = p + at + 1 + hl;
        if (body >= 2 && m[0] == 0x0a && otlp_proto_varint(m + 1, (size_t)body - 1, &l2)) n++;
        at += 1 + hl + (size_t)body;
    }
    return n;
}

static void proto_relay(enum sig sig, const uint8_t *data, size_t size) {
    struct shape in = decode(sig, false, data, size);
    struct buf out = {.heap = true}, plain = {.heap = true};
    if (!otlp_proto_append_with_attrs(&out, data, size, host_proto, sizeof host_proto)) abort();
    if (!otlp_proto_append_with_attrs(&plain, data, size, NULL, 0)) abort();
    if (plain.len != size || (size && memcmp(plain.data, data, size) != 0)) abort();
    if (in.items >= 0) {
        struct shape h = decode(sig, false, out.data, out.len);
        same(h, in.items, in.resources);
        if (h.with_host < resources_first(data, size)) abort();
    }
    buf_release(&out), buf_release(&plain);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
    if (size < 1) return 0;
    enum sig sig = (data[0] >> 6) == 1 ? SIG_TRACES : (data[0] >> 6) == 2 ? SIG_LOGS : SIG_METRICS;
    if (data[0] & 1)
        json_relay(sig, data + 1, size - 1);
    else
        proto_relay(sig, data + 1, size - 1);
    return 0;
}
