/* demangle: readable names of mangled C++ symbols. See demangle.h.
 *
 * Grammar read (Itanium C++ ABI 5.1): _Z <encoding>; an encoding is a name
 * followed by parameter types (skipped); a name is a source name
 * (<length><identifier>), a nested name N [CV-qualifiers] <prefix>... E,
 * a local name Z <encoding> E <entity> [_ <discriminator>], or St <name>
 * (std::). Inside nested names: C1-C5/D0-D5 (constructors, destructors),
 * Ul...E_ (lambdas), Ut_ (unnamed types), I...E (template arguments,
 * shown as <...>) and S_/S<n>_ substitutions (shown as what they stand for
 * only when simple; otherwise the name is given up). */
#include "core/demangle.h"

#include <string.h>

struct out {
    char *p;
    size_t cap, len;
    bool full;
};

static void put(struct out *o, const char *s, size_t n) {
    if (o->len + n + 1 > o->cap) {
        o->full = true;
        n = o->len + 1 < o->cap ? o->cap - o->len - 1 : 0;
    }
    memcpy(o->p + o->len, s, n);
    o->len += n;
    o->p[o->len] = '\0';
}

static bool digit(char c) {
    return c >= '0' && c <= '9';
}

/* Skips a balanced I...E / Ul...E group starting after its opening letter:
 * nested groups open with I, N, Z, X, J, Ul, and close with E. Literals
 * (L...E) too. */
static const char *skip_group(const char *s) {
    int depth = 1;
    for (int n = 0; *s && n < 4096; n++) {
        if (digit(*s)) { /* a source name: its bytes may hold any letter */
            size_t len = 0;
            while (digit(*s) && len < 4096)
                len = len * 10 + (size_t)(*s++ - '0');
            if (strnlen(s, len) < len) return NULL;
            s += len;
            continue;
        }
        char c = *s++;
        if (c == 'I' || c == 'N' || c == 'Z' || c == 'X' || c == 'J' || c == 'L' || c == 'F')
            depth++;
        else if (c == 'E' && --depth == 0)
            return s;
    }
    return NULL;
}

/* One component of a nested name at s; appends it and returns what follows,
 * or NULL. */
static const char *component(const char *s, struct out *o, const char **last, size_t *last_len) {
    if (digit(*s)) {
        size_t len = 0;
        while (digit(*s) && len < 4096)
            len = len * 10 + (size_t)(*s++ - '0');
        if (!len || strnlen(s, len) < len) return NULL;
        put(o, s, len);
        *last = s;
        *last_len = len;
        return s + len;
    }
    if ((s[0] == 'C' && s[1] >= '1' && s[1] <= '5') ||
        (s[0] == 'D' && s[1] >= '0' && s[1] <= '5')) {
        if (!*last) return NULL;
        if (s[0] == 'D') put(o, "~", 1);
        put(o, *last, *last_len);
        return s + 2;
    }
    if (s[0] == 'U' && s[1] == 'l') {
        s = skip_group(s + 2);
        if (!s) return NULL;
        while (digit(*s))
            s++;
        if (*s != '_') return NULL;
        put(o, "{lambda}", 8);
        return s + 1;
    }
    if (s[0] == 'U' && s[1] == 't') {
        s += 2;
        while (digit(*s))
            s++;
        if (*s != '_') return NULL;
        put(o, "{unnamed}", 9);
        return s + 1;
    }
    return NULL;
}

static const char *name(const char *s, struct out *o);

static const char *nested(const char *s, struct out *o) {
    while (*s == 'r' || *s == 'V' || *s == 'K' || *s == 'R' || *s == 'O')
        s++;
    const char *last = NULL;
    size_t last_len = 0;
    bool first = true;
    if (s[0] == 'S' && s[1] == 't') {
        put(o, "std", 3);
        first = false;
        s += 2;
    }
    for (int n = 0; *s && *s != 'E' && n < 256; n++) {
        if (*s == 'I') { /* template arguments of what came before */
            s = skip_group(s + 1);
            if (!s) return NULL;
            put(o, "<...>", 5);
            continue;
        }
        if (*s == 'S' && (s[1] == '_' || digit(s[1]) || (s[1] >= 'A' && s[1] <= 'Z'))) return NULL;
        if (!first) put(o, "::", 2);
        first = false;
        s = component(s, o, &last, &last_len);
        if (!s) return NULL;
    }
    return *s == 'E' ? s + 1 : NULL;
}

static const char *name(const char *s, struct out *o) {
    if (*s == 'N') return nested(s + 1, o);
    if (*s == 'Z') { /* local: Z <encoding> E <entity> */
        s = name(s + 1, o);
        if (!s) return NULL;
        put(o, "()", 2); /* the enclosing entity is a function */
        /* the enclosing function's parameter types, up to the E */
        for (int depth = 0, n = 0; *s && n < 4096; n++) {
            if (digit(*s)) {
                size_t len = 0;
                while (digit(*s) && len < 4096)
                    len = len * 10 + (size_t)(*s++ - '0');
                if (strnlen(s, len) < len) return NULL;
                s += len;
                continue;
            }
            char c = *s++;
            if (c == 'I' || c == 'N' || c == 'X' || c == 'J' || c == 'L' || c == 'F')
                depth++;
            else if (c == 'E' && depth-- == 0)
                break;
            if (depth < -1) return NULL;
        }
        if (s[-1] != 'E') return NULL;
        if (*s == 's') { /* a string literal */
            put(o, "::{string}", 10);
            return s + 1;
        }
        put(o, "::", 2);
        const char *after = *s == 'N' ? nested(s + 1, o) : NULL;
        if (!after) {
            const char *last = NULL;
            size_t last_len = 0;
            after = component(s, o, &last, &last_len);
        }
        if (!after) return NULL;
        if (*after == '_') { /* discriminator */
            after++;
            while (digit(*after))
                after++;
            if (*after == '_') after++;
        }
        return after;
    }
    if (s[0] == 'S' && s[1] == 't') {
        put(o, "std::", 5);
        s += 2;
    }
    const char *last = NULL;
    size_t last_len = 0;
    s = component(s, o, &last, &last_len);
    if (s && *s == 'I') {
        s = skip_group(s + 1);
        if (s) put(o, "<...>", 5);
    }
    return s;
}

bool demangle_name(const char *sym, char *buf, size_t cap) {
    if (!sym || strncmp(sym, "_Z", 2) || cap < 2) return false;
    char tmp[256];
    struct out o = {tmp, sizeof tmp, 0, false};
    tmp[0] = '\0';
    const char *rest = name(sym + 2, &o);
    if (!rest || !o.len) return false;
    /* Parameter types follow a function's name; a variable has none. */
    if (*rest && *rest != '.') put(&o, "()", 2);
    size_t n = o.len < cap - 1 ? o.len : cap - 1;
    memcpy(buf, tmp, n);
    buf[n] = '\0';
    return true;
}
