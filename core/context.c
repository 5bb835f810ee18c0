/* context: W3C trace context. See context.h. */
#include "core/cold.h"
#include "core/context.h"

#include <errno.h>
#include <string.h>

#include "core/ids.h"

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1; /* upper case is invalid in traceparent */
}

static int hex_decode(const char *s, uint8_t *out, size_t len) {
    for (size_t i = 0; i < len; i++) {
        int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
        if (hi < 0 || lo < 0) return -EINVAL;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

void hex_encode(const uint8_t *in, size_t len, char *out) {
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
}

OTELP_FIRST int traceparent_parse(const char *s, struct span_context *out) {
    if (!s) return -EINVAL;
    size_t len = strlen(s);
    uint8_t version;
    if (len < TRACEPARENT_LEN || hex_decode(s, &version, 1) < 0 || version == 0xff) return -EINVAL;
    /* Version 00 is exactly 55 characters; a later version may append
     * "-..." fields, which we ignore. */
    if (version == 0 ? len != TRACEPARENT_LEN : (len > TRACEPARENT_LEN && s[55] != '-'))
        return -EINVAL;
    if (s[2] != '-' || s[35] != '-' || s[52] != '-') return -EINVAL;
    struct span_context c = {.remote = true};
    if (hex_decode(s + 3, c.trace_id, 16) < 0 || hex_decode(s + 36, c.span_id, 8) < 0 ||
        hex_decode(s + 53, &c.flags, 1) < 0)
        return -EINVAL;
    if (id_is_zero(c.trace_id, 16) || id_is_zero(c.span_id, 8)) return -EINVAL;
    if (version == 0) c.flags &= TRACE_FLAG_SAMPLED;
    *out = c;
    return 0;
}

void traceparent_format(const struct span_context *c, char out[TRACEPARENT_LEN + 1]) {
    memcpy(out, "00-", 3);
    hex_encode(c->trace_id, 16, out + 3);
    out[35] = '-';
    hex_encode(c->span_id, 8, out + 36);
    out[52] = '-';
    hex_encode(&c->flags, 1, out + 53);
    out[55] = '\0';
}

bool span_context_valid(const struct span_context *c) {
    return !id_is_zero(c->trace_id, 16) && !id_is_zero(c->span_id, 8);
}

static bool key_char(char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '-' ||
           ch == '*' || ch == '/' || ch == '@';
}

bool tracestate_valid(const char *s) {
    if (!s || strlen(s) > 512) return false;
    int members = 0;
    const char *p = s;
    while (*p) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == ',') { /* empty list-members are allowed */
            p++;
            continue;
        }
        if (!*p) break;
        const char *key = p;
        while (key_char(*p))
            p++;
        if (p == key || p - key > 256 || *p != '=' ||
            !((*key >= 'a' && *key <= 'z') || (*key >= '0' && *key <= '9')))
            return false;
        p++;
        const char *value = p;
        while (*p && *p != ',')
            p++;
        const char *end = p;
        while (end > value && (end[-1] == ' ' || end[-1] == '\t'))
            end--;
        if (end == value || end - value > 256) return false;
        for (const char *v = value; v < end; v++)
            if (*v < 0x20 || *v > 0x7e || *v == '=') return false;
        if (++members > 32) return false;
    }
    return true;
}
