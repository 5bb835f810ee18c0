/* text: ASCII helpers for the start-up path. libc's strncasecmp and
 * strcspn pull in their own code pages and tables (two page faults each in
 * a process that never used them: /bin/true); these loops touch nothing
 * but their arguments. Depends on nothing. */
#ifndef OTELP_CORE_TEXT_H
#define OTELP_CORE_TEXT_H

#include <stdbool.h>
#include <stddef.h>

static inline char text_lower(char c) {
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Whether the n bytes of a equal those of b, ignoring ASCII case (neither
 * may end before n). */
static inline bool text_ieq(const char *a, const char *b, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (text_lower(a[i]) != text_lower(b[i])) return false;
    return true;
}

/* Whether s starts with prefix. */
static inline bool text_prefix(const char *s, const char *prefix) {
    for (; *prefix; s++, prefix++)
        if (*s != *prefix) return false;
    return true;
}

/* Whether s starts with prefix, ignoring ASCII case. */
static inline bool text_iprefix(const char *s, const char *prefix) {
    for (; *prefix; s++, prefix++)
        if (!*s || text_lower(*s) != text_lower(*prefix)) return false;
    return true;
}

/* strcspn: the length of s's first run of bytes not in reject. */
static inline size_t text_cspn(const char *s, const char *reject) {
    size_t n = 0;
    for (; s[n]; n++)
        for (const char *r = reject; *r; r++)
            if (s[n] == *r) return n;
    return n;
}

#endif
