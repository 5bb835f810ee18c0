/* sbuf: a growable byte buffer with JSON and CSV text helpers. Depends on libc. */
#include "server/sbuf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool reserve(struct sbuf *b, size_t more) {
    if (b->failed) return false;
    if (b->sink != NULL && b->len > 0 && b->len + more >= SBUF_SINK_CHUNK && sbuf_flush(b) != 0)
        return false;
    if (b->cap - b->len > more) return true;
    size_t ncap = b->cap ? b->cap : 256;
    while (ncap - b->len <= more) {
        if (ncap > SIZE_MAX / 2) {
            b->failed = true;
            return false;
        }
        ncap *= 2;
    }
    char *p = realloc(b->data, ncap);
    if (p == NULL) {
        b->failed = true;
        return false;
    }
    b->data = p;
    b->cap = ncap;
    return true;
}

void sbuf_add(struct sbuf *b, const void *p, size_t n) {
    if (!reserve(b, n)) return;
    if (n > 0) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void sbuf_puts(struct sbuf *b, const char *s) {
    sbuf_add(b, s, strlen(s));
}

void sbuf_printf(struct sbuf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char small[256];
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof(small)) {
        sbuf_add(b, small, (size_t)n);
        return;
    }
    if (!reserve(b, (size_t)n + 1)) return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* Length of the valid UTF-8 sequence at p (1-4), or 0 when invalid. */
static size_t utf8_len(const unsigned char *p, size_t n) {
    unsigned char c = p[0];
    size_t len;
    uint32_t cp;
    if (c < 0x80) return 1;
    if ((c & 0xE0) == 0xC0)
        len = 2, cp = c & 0x1F;
    else if ((c & 0xF0) == 0xE0)
        len = 3, cp = c & 0x0F;
    else if ((c & 0xF8) == 0xF0)
        len = 4, cp = c & 0x07;
    else
        return 0;
    if (n < len) return 0;
    for (size_t k = 1; k < len; k++) {
        if ((p[k] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (p[k] & 0x3F);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

void sbuf_json_str(struct sbuf *b, const char *s, size_t n) {
    const unsigned char *p = (const unsigned char *)s;
    sbuf_add(b, "\"", 1);
    size_t i = 0;
    while (i < n) {
        unsigned char c = p[i];
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') { /* a run of plain ASCII at once */
            size_t j = i + 1;
            while (j < n && p[j] >= 0x20 && p[j] < 0x80 && p[j] != '"' && p[j] != '\\')
                j++;
            sbuf_add(b, p + i, j - i);
            i = j;
        } else if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            sbuf_add(b, esc, 2);
            i++;
        } else if (c < 0x20) {
            if (c == '\n')
                sbuf_add(b, "\\n", 2);
            else if (c == '\t')
                sbuf_add(b, "\\t", 2);
            else if (c == '\r')
                sbuf_add(b, "\\r", 2);
            else
                sbuf_printf(b, "\\u%04x", c);
            i++;
        } else {
            size_t l = utf8_len(p + i, n - i);
            if (l == 0) {
                sbuf_add(b, "\xEF\xBF\xBD", 3);
                i++;
            } else {
                sbuf_add(b, p + i, l);
                i += l;
            }
        }
    }
    sbuf_add(b, "\"", 1);
}

void sbuf_csv_field(struct sbuf *b, const char *s) {
    if (strpbrk(s, ",\"\r\n") == NULL) {
        sbuf_puts(b, s);
        return;
    }
    sbuf_add(b, "\"", 1);
    for (const char *p = s; *p; p++) {
        if (*p == '"') sbuf_add(b, "\"", 1);
        sbuf_add(b, p, 1);
    }
    sbuf_add(b, "\"", 1);
}

void sbuf_hex(struct sbuf *b, const uint8_t *p, size_t n) {
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        char h[2] = {digits[p[i] >> 4], digits[p[i] & 15]};
        sbuf_add(b, h, 2);
    }
}

const char *sbuf_cstr(struct sbuf *b) {
    return b->data != NULL && !b->failed ? b->data : "";
}

int sbuf_flush(struct sbuf *b) {
    if (b->sink == NULL) return 0;
    if (b->failed) return -EIO;
    if (b->len == 0) return 0;
    if (!b->sink(b->sink_ctx, b->data, b->len)) {
        b->failed = true;
        return -EIO;
    }
    b->len = 0;
    b->data[0] = '\0';
    return 0;
}

void sbuf_free(struct sbuf *b) {
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->failed = false;
}
