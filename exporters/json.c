/* json: JSON text helpers. See json.h. */
#include "exporters/json.h"

#include <math.h>
#include <stdio.h>

#include "core/context.h"

void json_string(struct buf *b, const char *str, size_t len) {
    const unsigned char *s = (const unsigned char *)str;
    buf_putc(b, '"');
    for (size_t i = 0; i < len;) {
        unsigned char c = s[i];
        if (c == '"' || c == '\\') {
            buf_putc(b, '\\');
            buf_putc(b, (char)c);
            i++;
        } else if (c < 0x20) {
            static const char hex[] = "0123456789abcdef";
            char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            if (c == '\n')
                buf_puts(b, "\\n");
            else if (c == '\t')
                buf_puts(b, "\\t");
            else if (c == '\r')
                buf_puts(b, "\\r");
            else
                buf_append(b, esc, 6);
            i++;
        } else {
            size_t n = utf8_seq(s + i, len - i);
            if (n) {
                buf_append(b, s + i, n);
                i += n;
            } else {
                buf_puts(b, "\\ufffd");
                i++;
            }
        }
    }
    buf_putc(b, '"');
}

void json_hex(struct buf *b, const uint8_t *bytes, size_t len) {
    char tmp[64];
    buf_putc(b, '"');
    while (len) {
        size_t n = len > 32 ? 32 : len;
        hex_encode(bytes, n, tmp);
        buf_append(b, tmp, 2 * n);
        bytes += n;
        len -= n;
    }
    buf_putc(b, '"');
}

void json_attr_value(struct buf *b, const struct attr_value *v) {
    switch (v->type) {
    case ATTR_STRING:
        json_string(b, v->u.s.ptr, v->u.s.len);
        break;
    case ATTR_BOOL:
        buf_puts(b, v->u.b ? "true" : "false");
        break;
    case ATTR_INT:
        buf_put_i64(b, v->u.i);
        break;
    case ATTR_DOUBLE: {
        if (!isfinite(v->u.d)) {
            buf_puts(b, isnan(v->u.d) ? "\"NaN\"" : v->u.d > 0 ? "\"Infinity\"" : "\"-Infinity\"");
            break;
        }
        /* %.17g round-trips; snprintf of a double is fine off the hot path
         * but not async-signal-safe, so print microsecond precision by hand
         * for the values we produce (seconds of CPU time). */
        double d = v->u.d;
        if (d < 0) {
            buf_putc(b, '-');
            d = -d;
        }
        int exp10 = 0;
        while (d >= 1e15) { /* beyond exact microseconds: d.dddddde<exp> */
            d /= 10;
            exp10++;
        }
        if (exp10) {
            while (d >= 10) {
                d /= 10;
                exp10++;
            }
        }
        uint64_t whole = (uint64_t)d;
        uint64_t frac = (uint64_t)((d - (double)whole) * 1e6 + 0.5);
        if (frac >= 1000000) {
            whole++;
            frac -= 1000000;
        }
        buf_put_u64(b, whole);
        char f[8] = {'.'};
        for (int i = 6; i >= 1; i--, frac /= 10)
            f[i] = (char)('0' + frac % 10);
        buf_append(b, f, 7);
        if (exp10) {
            buf_putc(b, 'e');
            buf_put_u64(b, (uint64_t)exp10);
        }
        break;
    }
    case ATTR_STRING_ARRAY:
        buf_putc(b, '[');
        for (uint32_t i = 0; i < v->u.arr.count; i++) {
            if (i) buf_putc(b, ',');
            json_string(b, v->u.arr.items[i].ptr, v->u.arr.items[i].len);
        }
        buf_putc(b, ']');
        break;
    case ATTR_BOOL_ARRAY:
    case ATTR_INT_ARRAY:
    case ATTR_DOUBLE_ARRAY:
        buf_putc(b, '[');
        for (uint32_t i = 0; i < v->u.nums.count; i++) {
            struct attr_value item;
            if (v->type == ATTR_BOOL_ARRAY)
                item = (struct attr_value){.type = ATTR_BOOL,
                                           .u.b = ((const bool *)v->u.nums.items)[i]};
            else if (v->type == ATTR_INT_ARRAY)
                item = (struct attr_value){.type = ATTR_INT,
                                           .u.i = ((const int64_t *)v->u.nums.items)[i]};
            else
                item = (struct attr_value){.type = ATTR_DOUBLE,
                                           .u.d = ((const double *)v->u.nums.items)[i]};
            if (i) buf_putc(b, ',');
            json_attr_value(b, &item);
        }
        buf_putc(b, ']');
        break;
    }
}

void json_attr_object(struct buf *b, const struct attr_list *l) {
    buf_putc(b, '{');
    for (uint32_t i = 0; i < l->count; i++) {
        if (i) buf_putc(b, ',');
        json_string(b, l->items[i].key.ptr, l->items[i].key.len);
        buf_putc(b, ':');
        json_attr_value(b, &l->items[i].value);
    }
    buf_putc(b, '}');
}
