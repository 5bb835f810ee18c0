/* otlp_response: partial_success, RetryInfo, grpc-message. See
 * otlp_response.h.
 *
 * Field numbers: Export{Trace,Logs,Metrics}ServiceResponse.partial_success 1;
 * Export*PartialSuccess: rejected_{spans,log_records,data_points} 1 (int64),
 * error_message 2. google.rpc.Status: code 1, message 2, details 3 (Any:
 * type_url 1, value 2). google.rpc.RetryInfo: retry_delay 1 (Duration:
 * seconds 1, nanos 2). */
#include "exporters/otlp_response.h"

#include <errno.h>
#include <string.h>

/* ---- a minimal protobuf reader ---- */

struct pb {
    const uint8_t *p, *end;
};

static bool pb_varint(struct pb *r, uint64_t *v) {
    *v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (r->p >= r->end) return false;
        uint8_t b = *r->p++;
        *v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) return true;
    }
    return false;
}

/* Reads a tag and, for length-delimited fields, the field's bounds. Skips
 * nothing. Returns false at the end or on malformed input (*bad set). */
static bool pb_next(struct pb *r, unsigned *field, unsigned *wt, struct pb *sub, bool *bad) {
    if (r->p >= r->end) return false;
    uint64_t tag;
    if (!pb_varint(r, &tag) || !(tag >> 3)) {
        *bad = true;
        return false;
    }
    *field = (unsigned)(tag >> 3);
    *wt = (unsigned)(tag & 7);
    if (*wt == 2) {
        uint64_t len;
        if (!pb_varint(r, &len) || len > (uint64_t)(r->end - r->p)) {
            *bad = true;
            return false;
        }
        sub->p = r->p;
        sub->end = r->p + len;
        r->p += len;
    }
    return true;
}

/* Skips a non-length-delimited value. */
static bool pb_skip(struct pb *r, unsigned wt) {
    uint64_t v;
    switch (wt) {
    case 0:
        return pb_varint(r, &v);
    case 1:
        if (r->end - r->p < 8) return false;
        r->p += 8;
        return true;
    case 5:
        if (r->end - r->p < 4) return false;
        r->p += 4;
        return true;
    case 2: /* already consumed by pb_next */
        return true;
    default:
        return false;
    }
}

static void copy_text(char *out, size_t cap, const uint8_t *p, size_t n) {
    if (!cap) return;
    if (n > cap - 1) n = cap - 1;
    for (size_t i = 0; i < n; i++)
        out[i] = p[i] < 0x20 || p[i] == 0x7f ? '?' : (char)p[i];
    out[n] = '\0';
}

int otlp_partial_success_proto(const uint8_t *p, size_t n, int64_t *rejected, char *msg,
                               size_t cap) {
    *rejected = 0;
    if (cap) msg[0] = '\0';
    struct pb r = {p, p + n}, sub, in;
    unsigned f, wt;
    bool bad = false;
    while (pb_next(&r, &f, &wt, &sub, &bad)) {
        if (f == 1 && wt == 2) {
            while (pb_next(&sub, &f, &wt, &in, &bad)) {
                uint64_t v;
                if (f == 1 && wt == 0) {
                    if (!pb_varint(&sub, &v)) bad = true;
                    *rejected = (int64_t)v;
                } else if (f == 2 && wt == 2) {
                    copy_text(msg, cap, in.p, (size_t)(in.end - in.p));
                } else if (!pb_skip(&sub, wt)) {
                    bad = true;
                }
                if (bad) break;
            }
        } else if (!pb_skip(&r, wt)) {
            bad = true;
        }
        if (bad) break;
    }
    if (bad) {
        *rejected = 0;
        return -EPROTO;
    }
    if (*rejected < 0) *rejected = 0;
    return 0;
}

/* ---- JSON: a scan for the few keys we need ---- */

static const char *find_key(const char *p, const char *end, const char *key) {
    size_t k = strlen(key);
    for (; p + k + 2 <= end; p++)
        if (*p == '"' && !memcmp(p + 1, key, k) && p[k + 1] == '"') return p + k + 2;
    return NULL;
}

static const char *skip_colon(const char *p, const char *end) {
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    if (p >= end || *p != ':') return NULL;
    p++;
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p < end ? p : NULL;
}

int otlp_partial_success_json(const char *p, size_t n, int64_t *rejected, char *msg, size_t cap) {
    *rejected = 0;
    if (cap) msg[0] = '\0';
    const char *end = p + n;
    const char *ps = find_key(p, end, "partialSuccess");
    if (!ps) return 0;
    /* rejectedSpans, rejectedLogRecords, rejectedDataPoints: an int64,
     * as a string (the JSON mapping) or a number. */
    for (const char *q = ps; q + 10 < end; q++) {
        if (*q != '"' || memcmp(q + 1, "rejected", 8)) continue;
        const char *close = memchr(q + 1, '"', (size_t)(end - q - 1));
        if (!close) break;
        const char *v = skip_colon(close + 1, end);
        if (!v) return -EPROTO;
        if (*v == '"') v++;
        int64_t x = 0;
        const char *d = v;
        for (; d < end && *d >= '0' && *d <= '9' && x < INT64_MAX / 10; d++)
            x = x * 10 + (*d - '0');
        if (d == v) return -EPROTO;
        *rejected = x;
        break;
    }
    const char *em = find_key(ps, end, "errorMessage");
    const char *v = em ? skip_colon(em, end) : NULL;
    if (v && *v == '"' && cap) {
        size_t o = 0;
        for (v++; v < end && *v != '"' && o + 1 < cap; v++) {
            if (*v == '\\' && v + 1 < end) v++;
            msg[o++] = (unsigned char)*v < 0x20 ? '?' : *v;
        }
        msg[o] = '\0';
    }
    return 0;
}

/* ---- gRPC ---- */

static int b64val(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
}

#define RETRY_INFO_TYPE "type.googleapis.com/google.rpc.RetryInfo"

bool grpc_retry_info(const char *b64, size_t n, int64_t *delay_ms) {
    uint8_t bin[2048];
    size_t len = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64val(b64[i]);
        if (v < 0) {
            if (b64[i] == '=' || b64[i] == ' ') continue;
            return false;
        }
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (len == sizeof bin) return false;
            bin[len++] = (uint8_t)(acc >> bits);
        }
    }
    *delay_ms = -1;
    struct pb r = {bin, bin + len}, any, in, dur;
    unsigned f, wt;
    bool bad = false, found = false;
    while (pb_next(&r, &f, &wt, &any, &bad)) {
        if (f != 3 || wt != 2) {
            if (!pb_skip(&r, wt)) return false;
            continue;
        }
        struct pb value = {NULL, NULL};
        bool is_retry = false;
        while (pb_next(&any, &f, &wt, &in, &bad)) {
            if (f == 1 && wt == 2)
                is_retry = (size_t)(in.end - in.p) == strlen(RETRY_INFO_TYPE) &&
                           !memcmp(in.p, RETRY_INFO_TYPE, strlen(RETRY_INFO_TYPE));
            else if (f == 2 && wt == 2)
                value = in;
            else if (!pb_skip(&any, wt))
                return false;
        }
        if (!is_retry || bad) continue;
        found = true;
        while (value.p && pb_next(&value, &f, &wt, &dur, &bad)) {
            if (f != 1 || wt != 2) {
                if (!pb_skip(&value, wt)) return false;
                continue;
            }
            uint64_t secs = 0, nanos = 0, x;
            while (pb_next(&dur, &f, &wt, &in, &bad)) {
                if (wt != 0 || !pb_varint(&dur, &x)) {
                    if (wt == 0 || !pb_skip(&dur, wt)) return false;
                    continue;
                }
                if (f == 1) secs = x;
                if (f == 2) nanos = x;
            }
            if (secs > 86400) secs = 86400;
            *delay_ms = (int64_t)(secs * 1000 + (nanos % 1000000000u) / 1000000);
        }
    }
    return found && !bad;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

void grpc_message_decode(const char *in, size_t n, char *out, size_t cap) {
    if (!cap) return;
    size_t o = 0;
    for (size_t i = 0; i < n && o + 1 < cap; i++) {
        unsigned char c = (unsigned char)in[i];
        int hi, lo;
        if (c == '%' && i + 2 < n && (hi = hexval(in[i + 1])) >= 0 &&
            (lo = hexval(in[i + 2])) >= 0) {
            c = (unsigned char)(hi << 4 | lo);
            i += 2;
        }
        out[o++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    out[o] = '\0';
}

int grpc_message_frame(const uint8_t *p, size_t n, const uint8_t **msg, size_t *len) {
    *msg = p;
    *len = 0;
    if (!n) return 0;
    if (n < 5 || p[0] > 1) return -EPROTO;
    uint32_t l = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 | p[4];
    if (l != n - 5) return -EPROTO; /* past the body, or more after it */
    if (p[0] == 1) return -ENOTSUP;
    *msg = p + 5;
    *len = l;
    return 0;
}

int grpc_status_parse(const char *v) {
    int code = 0, digits = 0;
    for (; *v >= '0' && *v <= '9'; v++) {
        if (++digits > 9) return -1;
        code = code * 10 + (*v - '0');
    }
    while (*v == ' ' || *v == '\t')
        v++;
    return digits && !*v ? code : -1;
}
