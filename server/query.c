/* query: the filter grammar's lexer, recursive-descent parser, in-memory
 * matcher, canonical printer and SQL compiler (docs/QUERY.md).
 *
 * Design. A filter is parsed once, for one signal, into a tree of and/or/not
 * nodes over comparisons. Every literal is normalised at parse time against
 * the field it is compared with (enum names to numbers, units to
 * nanoseconds, seconds or bytes, regular expressions compiled), so matching
 * and compiling never fail. Comparisons are two-valued: a comparison on an
 * absent field or attribute is false (also for !=, !~, not in, not
 * contains); `not (...)` negates a whole expression, so it matches records
 * without the field. The SQL compiler keeps the same semantics (ifnull on
 * nullable columns under a negation; type guards on the ANY columns, since
 * SQLite orders numbers before text). All recursion is bounded by
 * QUERY_DEPTH_MAX (parser) and QUERY_NODES_MAX (the tree's size).
 * Depends on libc (POSIX regex) and SQLite. */
#include "server/query.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <regex.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* In a message, separates the text from a hint that follows "at column N". */
#define HINT "\x1f"

enum node_kind { N_AND, N_OR, N_NOT, N_CMP };
enum cmp_op { OP_EQ, OP_LT, OP_LE, OP_GT, OP_GE, OP_IN, OP_CONTAINS, OP_MATCH, OP_EXISTS };

struct node {
    enum node_kind kind;
    struct node *a, *b; /* and/or: both; not: a */
    struct query_field field;
    enum cmp_op op;
    bool negate; /* !=, !~, not in, not contains: present and not ... */
    struct query_value *vals;
    size_t nvals;
    regex_t *re;
};

struct block {
    struct block *next;
    max_align_t data[];
};

struct query {
    enum query_signal signal;
    struct node *root; /* NULL: matches everything */
    struct block *blocks;
    regex_t **regexes;
    size_t nregexes, cap_regexes;
    size_t nodes;
};

/* ---- allocation ---- */

static void *q_alloc(struct query *q, size_t size) {
    struct block *b = calloc(1, sizeof *b + size);
    if (!b) return NULL;
    b->next = q->blocks;
    q->blocks = b;
    return b->data;
}

void query_free(struct query *q) {
    if (!q) return;
    for (size_t i = 0; i < q->nregexes; i++) {
        regfree(q->regexes[i]);
        free(q->regexes[i]);
    }
    free(q->regexes);
    while (q->blocks) {
        struct block *next = q->blocks->next;
        free(q->blocks);
        q->blocks = next;
    }
    free(q);
}

enum query_signal query_signal_of(const struct query *q) {
    return q->signal;
}
bool query_is_empty(const struct query *q) {
    return q->root == NULL;
}

static bool node_uses(const struct node *n, enum query_field_id id) {
    if (n == NULL) return false;
    if (n->kind == N_CMP) return n->field.id == id;
    return node_uses(n->a, id) || node_uses(n->b, id);
}

bool query_uses_field(const struct query *q, enum query_field_id id) {
    return node_uses(q->root, id);
}

/* ---- names ---- */

static const char *const field_names[QUERY_F_COUNT] = {
    [QUERY_F_ATTR] = "attribute",
    [QUERY_F_NAME] = "name",
    [QUERY_F_DURATION] = "duration",
    [QUERY_F_STATUS] = "status",
    [QUERY_F_STATUS_MESSAGE] = "status.message",
    [QUERY_F_KIND] = "kind",
    [QUERY_F_SERVICE] = "service.name",
    [QUERY_F_TRACE_ID] = "trace_id",
    [QUERY_F_SPAN_ID] = "span_id",
    [QUERY_F_PARENT_SPAN_ID] = "parent_span_id",
    [QUERY_F_SEVERITY] = "severity",
    [QUERY_F_SEVERITY_TEXT] = "severity_text",
    [QUERY_F_BODY] = "body",
    [QUERY_F_VALUE] = "value",
    [QUERY_F_UNIT] = "unit",
    [QUERY_F_TYPE] = "type",
    [QUERY_F_EVENT_NAME] = "event_name",
};

const char *query_field_name(enum query_field_id id) {
    return (unsigned)id < QUERY_F_COUNT ? field_names[id] : "?";
}

/* Which fields each signal has (bit per field id). */
#define FB(f) (1u << (f))
static const unsigned signal_fields[3] = {
    [QUERY_SPANS] = FB(QUERY_F_NAME) | FB(QUERY_F_DURATION) | FB(QUERY_F_STATUS) |
                    FB(QUERY_F_STATUS_MESSAGE) | FB(QUERY_F_KIND) | FB(QUERY_F_SERVICE) |
                    FB(QUERY_F_TRACE_ID) | FB(QUERY_F_SPAN_ID) | FB(QUERY_F_PARENT_SPAN_ID),
    [QUERY_LOGS] = FB(QUERY_F_SEVERITY) | FB(QUERY_F_SEVERITY_TEXT) | FB(QUERY_F_BODY) |
                   FB(QUERY_F_SERVICE) | FB(QUERY_F_TRACE_ID) | FB(QUERY_F_SPAN_ID) |
                   FB(QUERY_F_EVENT_NAME),
    [QUERY_METRICS] = FB(QUERY_F_NAME) | FB(QUERY_F_VALUE) | FB(QUERY_F_UNIT) | FB(QUERY_F_TYPE) |
                      FB(QUERY_F_SERVICE),
};
static const char *const signal_names[3] = {"span", "log", "metric"};

enum field_class { FC_TEXT, FC_NUMBER, FC_ANY };
static enum field_class field_class(enum query_field_id id) {
    switch (id) {
    case QUERY_F_DURATION:
    case QUERY_F_STATUS:
    case QUERY_F_KIND:
    case QUERY_F_SEVERITY:
    case QUERY_F_VALUE:
    case QUERY_F_TYPE:
        return FC_NUMBER;
    case QUERY_F_ATTR:
    case QUERY_F_BODY:
        return FC_ANY;
    default:
        return FC_TEXT;
    }
}

static bool name_eq(const char *a, size_t n, const char *lit) {
    return strlen(lit) == n && strncasecmp(a, lit, n) == 0;
}

static int lookup(const char *name, size_t len, const char *const *names, int count) {
    for (int i = 0; i < count; i++)
        if (names[i] && name_eq(name, len, names[i])) return i;
    return -1;
}

int query_status_code(const char *name, size_t len) {
    static const char *const names[] = {"UNSET", "OK", "ERROR"};
    return lookup(name, len, names, 3);
}

int query_span_kind(const char *name, size_t len) {
    static const char *const names[] = {"UNSPECIFIED", "INTERNAL", "SERVER",
                                        "CLIENT",      "PRODUCER", "CONSUMER"};
    return lookup(name, len, names, 6);
}

int query_metric_type(const char *name, size_t len) {
    static const char *const names[] = {
        NULL, "GAUGE", "SUM", "HISTOGRAM", "EXPONENTIAL_HISTOGRAM", "SUMMARY"};
    return lookup(name, len, names, 6);
}

int query_severity_number(const char *name, size_t len) {
    static const char *const names[] = {"TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"};
    int extra = 0;
    if (len >= 2 && name[len - 1] >= '2' && name[len - 1] <= '4') {
        extra = name[len - 1] - '1';
        len--;
    }
    int i = lookup(name, len, names, 6);
    if (i < 0 && name_eq(name, len, "WARNING")) i = 3;
    return i < 0 ? -1 : i * 4 + 1 + extra;
}

/* ---- errors ---- */

static int column_of(const char *text, size_t off) {
    int col = 1;
    for (size_t i = 0; i < off && text[i]; i++)
        if (((unsigned char)text[i] & 0xC0) != 0x80) col++;
    return col;
}

__attribute__((format(printf, 4, 5))) static int
set_error(struct query_error *err, const char *text, size_t off, const char *fmt, ...) {
    if (!err) return -EINVAL;
    char msg[sizeof err->message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (text) {
        err->column = column_of(text, off);
        /* A hint after HINT follows the place: "... at column 12 (hint)". */
        char *hint = strchr(msg, HINT[0]);
        if (hint) {
            *hint++ = 0;
            int n = snprintf(err->message, sizeof err->message, "%.140s at column %d (%.80s)", msg,
                             err->column, hint);
            (void)n;
        } else {
            int n = snprintf(err->message, sizeof err->message, "%.230s at column %d", msg,
                             err->column);
            (void)n;
        }
    } else {
        err->column = 0;
        char *hint = strchr(msg, HINT[0]);
        if (hint) *hint = ' ';
        snprintf(err->message, sizeof err->message, "%s", msg);
    }
    return -EINVAL;
}

size_t query_error_caret(const char *text, const struct query_error *err, char *buf, size_t size) {
    int col = err->column > 0 ? err->column : 1;
    size_t n = (size_t)snprintf(buf, size, "%s\n%*s^", text, col - 1, "");
    return n;
}

/* ---- lexer ---- */

enum tok {
    T_EOF,
    T_IDENT,  /* name, possibly dotted; str holds it (quoted parts decoded) */
    T_STRING, /* "..." or '...', decoded into str */
    T_NUMBER, /* raw text in [pos, pos+len) */
    T_LP,
    T_RP,
    T_COMMA,
    T_EQ,
    T_NE,
    T_LT,
    T_LE,
    T_GT,
    T_GE,
    T_MATCH,
    T_NMATCH,
    T_AND,
    T_OR,
    T_NOT,
    T_IN,
    T_CONTAINS,
    T_EXISTS,
    T_TRUE,
    T_FALSE,
};

struct token {
    enum tok t;
    size_t pos, len;
    char *str; /* T_IDENT, T_STRING: decoded, NUL-terminated, in q's blocks */
    size_t slen;
    bool quoted; /* T_IDENT: some part was in backticks */
    size_t dot;  /* T_IDENT: length of the unquoted prefix before the first '.', or slen */
};

struct parser {
    const char *text;
    size_t len, pos;
    struct token tok;
    struct query *q;
    struct query_error *err;
    char *scratch; /* decoded text of the current token: never longer than the source */
    int depth;
    int status; /* 0, or the first error */
};

static int fail(struct parser *p, size_t off, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(struct parser *p, size_t off, const char *fmt, ...) {
    if (p->status) return p->status;
    char msg[sizeof p->err->message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    p->status = set_error(p->err, p->text, off, "%s", msg);
    return p->status;
}

static int nomem(struct parser *p) {
    if (p->status) return p->status;
    if (p->err) {
        p->err->column = 0;
        snprintf(p->err->message, sizeof p->err->message, "out of memory");
    }
    return p->status = -ENOMEM;
}

static bool ident_start(int c) {
    return isalpha(c) || c == '_';
}
static bool ident_char(int c) {
    return isalnum(c) || c == '_' || c == '.' || c == '-';
}

static int hexval(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static size_t put_utf8(char *out, unsigned cp) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | cp >> 12);
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | cp >> 18);
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Decodes a quoted run starting at p->pos (the quote) and appends it to
 * out (which has room: decoded text is never longer than the source).
 * Escapes: \" \' \` \\ \n \t \r \0 \xHH (a byte) \uHHHH \U00HHHHHH (UTF-8). */
static int lex_quoted(struct parser *p, char *out, size_t *n) {
    char quote = p->text[p->pos];
    size_t start = p->pos++;
    for (;;) {
        if (p->pos >= p->len)
            return fail(p, start, "unterminated %s starting",
                        quote == '`' ? "quoted name" : "string");
        char c = p->text[p->pos];
        if (c == quote) {
            p->pos++;
            return 0;
        }
        if (c != '\\') {
            out[(*n)++] = c;
            p->pos++;
            continue;
        }
        size_t esc = p->pos;
        if (p->pos + 1 >= p->len) return fail(p, esc, "unterminated escape");
        char e = p->text[p->pos + 1];
        p->pos += 2;
        switch (e) {
        case '"':
        case '\'':
        case '`':
        case '\\':
            out[(*n)++] = e;
            break;
        case 'n':
            out[(*n)++] = '\n';
            break;
        case 't':
            out[(*n)++] = '\t';
            break;
        case 'r':
            out[(*n)++] = '\r';
            break;
        case '0':
            out[(*n)++] = '\0';
            break;
        case 'x': {
            int h = p->pos + 1 < p->len ? hexval(p->text[p->pos]) : -1;
            int l = h >= 0 ? hexval(p->text[p->pos + 1]) : -1;
            if (l < 0) return fail(p, esc, "\\x needs two hex digits");
            out[(*n)++] = (char)(h << 4 | l);
            p->pos += 2;
            break;
        }
        case 'u':
        case 'U': {
            size_t digits = e == 'u' ? 4 : 8;
            unsigned cp = 0;
            for (size_t i = 0; i < digits; i++) {
                int v = p->pos + i < p->len ? hexval(p->text[p->pos + i]) : -1;
                if (v < 0) return fail(p, esc, "\\%c needs %zu hex digits", e, digits);
                cp = cp << 4 | (unsigned)v;
            }
            if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
                return fail(p, esc, "\\%c%.*s is not a Unicode character", e, (int)digits,
                            p->text + p->pos);
            p->pos += digits;
            /* \u0000 etc. give at most 4 bytes from 6 or 10 source bytes. */
            *n += put_utf8(out + *n, cp);
            break;
        }
        default:
            if ((unsigned char)e < 0x20 || (unsigned char)e >= 0x7f)
                return fail(p, esc, "unknown escape");
            return fail(p, esc, "unknown escape '\\%c'" HINT "use \\\\ for a backslash", e);
        }
    }
}

/* Copies the decoded text of the current token out of the scratch buffer. */
static int keep(struct parser *p, size_t n) {
    char *out = q_alloc(p->q, n + 1);
    if (!out) return nomem(p);
    memcpy(out, p->scratch, n);
    out[n] = 0;
    p->tok.str = out, p->tok.slen = n;
    return 0;
}

static bool kw(const struct parser *p, const char *w) {
    return name_eq(p->text + p->tok.pos, p->tok.len, w);
}

static int next(struct parser *p) {
    const char *s = p->text;
    while (p->pos < p->len && isspace((unsigned char)s[p->pos]))
        p->pos++;
    struct token *t = &p->tok;
    memset(t, 0, sizeof *t);
    t->pos = p->pos;
    if (p->pos >= p->len) {
        t->t = T_EOF;
        return 0;
    }
    char c = s[p->pos], d = p->pos + 1 < p->len ? s[p->pos + 1] : 0;
    size_t two = 0;
    switch (c) {
    case '(':
        t->t = T_LP;
        break;
    case ')':
        t->t = T_RP;
        break;
    case ',':
        t->t = T_COMMA;
        break;
    case '=':
        t->t = d == '~' ? T_MATCH : T_EQ;
        two = d == '~' || d == '=';
        break;
    case '!':
        if (d == '=')
            t->t = T_NE, two = 1;
        else if (d == '~')
            t->t = T_NMATCH, two = 1;
        else
            t->t = T_NOT;
        break;
    case '<':
        if (d == '=')
            t->t = T_LE, two = 1;
        else if (d == '>')
            t->t = T_NE, two = 1;
        else
            t->t = T_LT;
        break;
    case '>':
        t->t = d == '=' ? T_GE : T_GT;
        two = d == '=';
        break;
    case '&':
        if (d != '&') return fail(p, p->pos, "unexpected '&'" HINT "write 'and' or '&&'");
        t->t = T_AND, two = 1;
        break;
    case '|':
        if (d != '|') return fail(p, p->pos, "unexpected '|'" HINT "write 'or' or '||'");
        t->t = T_OR, two = 1;
        break;
    default:
        break;
    }
    if (c == '(' || c == ')' || c == ',' || c == '=' || c == '!' || c == '<' || c == '>' ||
        c == '&' || c == '|') {
        p->pos += 1 + two;
        t->len = 1 + two;
        return 0;
    }
    if (c == '"' || c == '\'') {
        size_t n = 0;
        int rc = lex_quoted(p, p->scratch, &n);
        if (rc) return rc;
        t->t = T_STRING, t->len = p->pos - t->pos;
        return keep(p, n);
    }
    if (isdigit((unsigned char)c) ||
        ((c == '-' || c == '+' || c == '.') && (isdigit((unsigned char)d) || d == '.'))) {
        size_t i = p->pos + 1;
        while (i < p->len) {
            unsigned char ch = (unsigned char)s[i];
            /* digits, '.', an exponent's sign, and a unit's letters (µ too) */
            if (isalnum(ch) || ch == '.' || ch >= 0x80 ||
                ((ch == '+' || ch == '-') && (s[i - 1] == 'e' || s[i - 1] == 'E')))
                i++;
            else
                break;
        }
        t->t = T_NUMBER, t->len = i - p->pos;
        p->pos = i;
        return 0;
    }
    if (ident_start((unsigned char)c) || c == '`') {
        /* Unquoted runs and `quoted` parts, joined at a '.':
         * resource.`my key`, `odd key`.sub */
        char *out = p->scratch;
        size_t n = 0;
        t->dot = (size_t)-1;
        for (;;) {
            if (s[p->pos] == '`') {
                int rc = lex_quoted(p, out, &n);
                if (rc) return rc;
                t->quoted = true;
                if (p->pos < p->len && s[p->pos] == '.') continue;
                break;
            }
            while (p->pos < p->len && ident_char((unsigned char)s[p->pos])) {
                if (s[p->pos] == '.' && t->dot == (size_t)-1 && !t->quoted) t->dot = n;
                out[n++] = s[p->pos++];
            }
            if (p->pos < p->len && s[p->pos] == '`' && n > 0 && out[n - 1] == '.') continue;
            break;
        }
        if (t->dot == (size_t)-1) t->dot = n;
        t->len = p->pos - t->pos;
        t->t = T_IDENT;
        if (!t->quoted) {
            static const struct {
                const char *w;
                enum tok t;
            } kws[] = {{"and", T_AND},           {"or", T_OR},
                       {"not", T_NOT},           {"in", T_IN},
                       {"contains", T_CONTAINS}, {"exists", T_EXISTS},
                       {"true", T_TRUE},         {"false", T_FALSE}};
            for (size_t k = 0; k < sizeof kws / sizeof kws[0]; k++)
                if (kw(p, kws[k].w)) {
                    t->t = kws[k].t;
                    return 0;
                }
        }
        return keep(p, n);
    }
    if ((unsigned char)c >= 0x20 && (unsigned char)c < 0x7f)
        return fail(p, p->pos, "unexpected character '%c'", c);
    return fail(p, p->pos, "unexpected character (byte 0x%02x)", (unsigned char)c);
}

/* ---- parser ---- */

static const char *tok_desc(const struct parser *p, char *buf, size_t size) {
    switch (p->tok.t) {
    case T_EOF:
        return "the end";
    case T_STRING:
        return "a string";
    default: {
        size_t n = p->tok.len > 40 ? 40 : p->tok.len;
        snprintf(buf, size, "'%.*s'%s", (int)n, p->text + p->tok.pos, n < p->tok.len ? "..." : "");
        return buf;
    }
    }
}

static struct node *new_node(struct parser *p, enum node_kind kind, size_t pos) {
    if (++p->q->nodes > QUERY_NODES_MAX) {
        fail(p, pos, "too many comparisons (more than %d)", QUERY_NODES_MAX);
        return NULL;
    }
    struct node *n = q_alloc(p->q, sizeof *n);
    if (!n) {
        nomem(p);
        return NULL;
    }
    n->kind = kind;
    return n;
}

static struct node *parse_or(struct parser *p);

/* The field of a comparison, from the identifier token. */
static int parse_field(struct parser *p, struct query_field *f) {
    const struct token *t = &p->tok;
    memset(f, 0, sizeof *f);
    if (t->t != T_IDENT) {
        char buf[64];
        if (t->t == T_STRING)
            return fail(p, t->pos,
                        "expected a field or attribute name" HINT
                        "found a string; quote names with "
                        "backticks: `my key`");
        return fail(p, t->pos, "expected a field or attribute name" HINT "found %s",
                    tok_desc(p, buf, sizeof buf));
    }
    const char *name = t->str;
    size_t len = t->slen;
    if (!t->quoted) {
        for (int id = QUERY_F_NAME; id < QUERY_F_COUNT; id++) {
            if (strcmp(name, field_names[id]) != 0) continue;
            if (!(signal_fields[p->q->signal] & FB(id))) {
                const char *owner = "";
                for (int s = 0; s < 3; s++)
                    if (signal_fields[s] & FB(id)) {
                        owner = signal_names[s];
                        break;
                    }
                return fail(p, t->pos,
                            "'%s' is a %s field, not a %s field" HINT "quote attribute names "
                            "with backticks: `%s`",
                            name, owner, signal_names[p->q->signal], name);
            }
            f->id = (enum query_field_id)id;
            return 0;
        }
    }
    f->id = QUERY_F_ATTR;
    f->scope = QUERY_SCOPE_ANY;
    /* A prefix before the first unquoted '.' may name the scope. */
    if (t->dot < len) {
        if ((t->dot == 4 && !strncmp(name, "attr", 4)) ||
            (t->dot == 10 && !strncmp(name, "attributes", 10)))
            f->scope = QUERY_SCOPE_RECORD;
        else if (t->dot == 8 && !strncmp(name, "resource", 8))
            f->scope = QUERY_SCOPE_RESOURCE;
        if (f->scope != QUERY_SCOPE_ANY) {
            name += t->dot + 1;
            len -= t->dot + 1;
            if (len == 0)
                return fail(p, t->pos, "expected an attribute name after '%.*s'", (int)t->dot + 1,
                            t->str);
        }
    }
    if (len == 0) return fail(p, t->pos, "an attribute name cannot be empty");
    f->key = name;
    f->key_len = len;
    return 0;
}

static bool has_time_unit(const char *u, size_t n, double *scale_ns) {
    static const struct {
        const char *u;
        double ns;
    } units[] = {{"ns", 1},  {"us", 1e3}, {"\xc2\xb5s", 1e3}, {"ms", 1e6},
                 {"s", 1e9}, {"m", 60e9}, {"h", 3600e9},      {"d", 86400e9}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strlen(units[i].u) == n && !memcmp(units[i].u, u, n)) {
            *scale_ns = units[i].ns;
            return true;
        }
    return false;
}

static bool has_size_unit(const char *u, size_t n, double *scale) {
    static const struct {
        const char *u;
        double b;
    } units[] = {{"B", 1},           {"KB", 1e3},           {"MB", 1e6},
                 {"GB", 1e9},        {"TB", 1e12},          {"KiB", 1024.0},
                 {"MiB", 1048576.0}, {"GiB", 1073741824.0}, {"TiB", 1099511627776.0}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strlen(units[i].u) == n && !memcmp(units[i].u, u, n)) {
            *scale = units[i].b;
            return true;
        }
    return false;
}

/* Splits "12.5ms" into the number and the unit; false when the number part
 * is not a number. */
static bool split_number(const char *s, size_t len, double *num, bool *is_int, int64_t *ival,
                         size_t *unit_off) {
    char buf[64];
    size_t i = 0;
    if (i < len && (s[i] == '-' || s[i] == '+')) i++;
    size_t digits = 0;
    bool frac = false;
    while (i < len && (isdigit((unsigned char)s[i]) || s[i] == '.')) {
        if (s[i] == '.') {
            if (frac) return false;
            frac = true;
        } else {
            digits++;
        }
        i++;
    }
    if (!digits) return false;
    if (i + 1 < len && (s[i] == 'e' || s[i] == 'E') &&
        (isdigit((unsigned char)s[i + 1]) || ((s[i + 1] == '+' || s[i + 1] == '-') && i + 2 < len &&
                                              isdigit((unsigned char)s[i + 2])))) {
        frac = true;
        i += 2;
        while (i < len && isdigit((unsigned char)s[i]))
            i++;
    }
    if (i >= sizeof buf) return false;
    memcpy(buf, s, i);
    buf[i] = 0;
    *unit_off = i;
    *is_int = !frac;
    errno = 0;
    *num = strtod(buf, NULL);
    if (errno == ERANGE && fabs(*num) > 1) return false;
    if (!frac) {
        errno = 0;
        long long v = strtoll(buf, NULL, 10);
        if (errno == ERANGE) *is_int = false;
        *ival = v;
    }
    return isfinite(*num);
}

static int number_value(struct parser *p, const struct query_field *f, struct query_value *v) {
    const struct token *t = &p->tok;
    const char *s = p->text + t->pos;
    double num;
    bool is_int;
    int64_t ival = 0;
    size_t uoff;
    if (!split_number(s, t->len, &num, &is_int, &ival, &uoff))
        return fail(p, t->pos, "'%.*s' is not a number", (int)(t->len > 40 ? 40 : t->len), s);
    const char *unit = s + uoff;
    size_t ulen = t->len - uoff;
    double scale;
    if (ulen == 0) {
        if (f->id == QUERY_F_DURATION && num != 0)
            return fail(p, t->pos,
                        "a duration needs a unit" HINT "100ms, 2s, 1m; ns us ms s m h d");
        if (is_int) {
            v->type = QUERY_INT, v->i = ival;
        } else {
            v->type = QUERY_DOUBLE, v->d = num;
        }
        if (f->id == QUERY_F_DURATION) v->type = QUERY_INT, v->i = 0;
        return 0;
    }
    if (has_time_unit(unit, ulen, &scale)) {
        double ns = num * scale;
        if (f->id == QUERY_F_DURATION) {
            if (!(fabs(ns) < 9.2e18)) return fail(p, t->pos, "duration out of range");
            v->type = QUERY_INT, v->i = (int64_t)llround(ns);
        } else {
            /* OpenTelemetry's durations in attributes and metrics are seconds. */
            v->type = QUERY_DOUBLE, v->d = ns / 1e9;
        }
        return 0;
    }
    if (has_size_unit(unit, ulen, &scale)) {
        if (f->id == QUERY_F_DURATION)
            return fail(p, t->pos + uoff,
                        "a duration needs a time unit, not '%.*s'" HINT "ns us ms s m h d",
                        (int)ulen, unit);
        double b = num * scale;
        if (!(fabs(b) < 9.2e18)) return fail(p, t->pos, "size out of range");
        v->type = QUERY_INT, v->i = (int64_t)llround(b);
        return 0;
    }
    return fail(p, t->pos + uoff,
                "unknown unit '%.*s'" HINT
                "ns us ms s m h d for times; B KB MB GB KiB MiB GiB for sizes",
                (int)(ulen > 20 ? 20 : ulen), unit);
}

/* An enum field's name ("ERROR", "server") to its number; -1 if unknown. */
static int enum_value(enum query_field_id id, const char *name, size_t len) {
    switch (id) {
    case QUERY_F_STATUS:
        return query_status_code(name, len);
    case QUERY_F_KIND:
        return query_span_kind(name, len);
    case QUERY_F_SEVERITY:
        return query_severity_number(name, len);
    case QUERY_F_TYPE:
        return query_metric_type(name, len);
    default:
        return -1;
    }
}

static const char *enum_hint(enum query_field_id id) {
    switch (id) {
    case QUERY_F_STATUS:
        return "UNSET, OK, ERROR";
    case QUERY_F_KIND:
        return "INTERNAL, SERVER, CLIENT, PRODUCER, CONSUMER";
    case QUERY_F_SEVERITY:
        return "TRACE, DEBUG, INFO, WARN, ERROR, FATAL, or 1..24";
    case QUERY_F_TYPE:
        return "GAUGE, SUM, HISTOGRAM, EXPONENTIAL_HISTOGRAM, SUMMARY";
    default:
        return "";
    }
}

/* One literal, checked against the field and normalised. after: the
 * operator's text, for "expected a value after '='". */
static int parse_value(struct parser *p, const struct query_field *f, const char *after,
                       struct query_value *v) {
    const struct token *t = &p->tok;
    memset(v, 0, sizeof *v);
    bool is_enum = f->id == QUERY_F_STATUS || f->id == QUERY_F_KIND || f->id == QUERY_F_SEVERITY ||
                   f->id == QUERY_F_TYPE;
    enum field_class fc = field_class(f->id);
    switch (t->t) {
    case T_STRING:
    case T_IDENT: {
        const char *s = t->str;
        size_t n = t->slen;
        if (is_enum) {
            int e = enum_value(f->id, s, n);
            if (e < 0)
                return fail(p, t->pos, "unknown %s '%.*s'" HINT "%s", field_names[f->id],
                            (int)(n > 40 ? 40 : n), s, enum_hint(f->id));
            v->type = QUERY_INT, v->i = e;
            return 0;
        }
        if (t->t == T_IDENT)
            return fail(p, t->pos,
                        "expected a value after '%s'" HINT "found the name '%.*s'; quote text: "
                        "\"%.*s\"",
                        after, (int)(n > 40 ? 40 : n), s, (int)(n > 40 ? 40 : n), s);
        if (fc == FC_NUMBER) return fail(p, t->pos, "%s is a number, not text", field_names[f->id]);
        if (f->id == QUERY_F_TRACE_ID || f->id == QUERY_F_SPAN_ID ||
            f->id == QUERY_F_PARENT_SPAN_ID)
            for (size_t i = 0; i < n; i++)
                t->str[i] = (char)tolower((unsigned char)t->str[i]);
        v->type = QUERY_STR, v->s = s, v->len = n;
        return 0;
    }
    case T_NUMBER:
        if (fc == FC_TEXT)
            return fail(p, t->pos, "%s is text: quote the value (\"%.*s\")", field_names[f->id],
                        (int)(t->len > 40 ? 40 : t->len), p->text + t->pos);
        return number_value(p, f, v);
    case T_TRUE:
    case T_FALSE:
        if (fc != FC_ANY) return fail(p, t->pos, "%s cannot be true or false", field_names[f->id]);
        v->type = QUERY_BOOL, v->b = t->t == T_TRUE;
        return 0;
    default: {
        char buf[64];
        return fail(p, t->pos, "expected a value after '%s'" HINT "found %s", after,
                    tok_desc(p, buf, sizeof buf));
    }
    }
}

static int regex_compile(const char *pat, size_t len, regex_t **out, struct query_error *err);

static int add_regex(struct parser *p, regex_t *re) {
    struct query *q = p->q;
    if (q->nregexes == q->cap_regexes) {
        size_t cap = q->cap_regexes ? q->cap_regexes * 2 : 4;
        regex_t **r = realloc(q->regexes, cap * sizeof *r);
        if (!r) {
            regfree(re);
            free(re);
            return nomem(p);
        }
        q->regexes = r, q->cap_regexes = cap;
    }
    q->regexes[q->nregexes++] = re;
    return 0;
}

static struct node *parse_cmp(struct parser *p) {
    size_t start = p->tok.pos;
    struct node *n = new_node(p, N_CMP, start);
    if (!n) return NULL;
    if (parse_field(p, &n->field)) return NULL;
    char fname[48];
    snprintf(fname, sizeof fname, "%.*s", (int)(p->tok.len > 40 ? 40 : p->tok.len),
             p->text + p->tok.pos);
    if (next(p)) return NULL;
    size_t op_pos = p->tok.pos;
    char optext[16];
    snprintf(optext, sizeof optext, "%.*s", (int)(p->tok.len > 12 ? 12 : p->tok.len),
             p->text + p->tok.pos);
    bool not_kw = false;
    if (p->tok.t == T_NOT) {
        not_kw = true;
        if (next(p)) return NULL;
        if (p->tok.t != T_IN && p->tok.t != T_CONTAINS)
            return fail(p, p->tok.pos, "expected 'in' or 'contains' after 'not'"), NULL;
        snprintf(optext, sizeof optext, "not %.*s", (int)p->tok.len, p->text + p->tok.pos);
    }
    enum field_class fc = field_class(n->field.id);
    switch (p->tok.t) {
    case T_EQ:
        n->op = OP_EQ;
        break;
    case T_NE:
        n->op = OP_EQ, n->negate = true;
        break;
    case T_LT:
        n->op = OP_LT;
        break;
    case T_LE:
        n->op = OP_LE;
        break;
    case T_GT:
        n->op = OP_GT;
        break;
    case T_GE:
        n->op = OP_GE;
        break;
    case T_MATCH:
        n->op = OP_MATCH;
        break;
    case T_NMATCH:
        n->op = OP_MATCH, n->negate = true;
        break;
    case T_IN:
        n->op = OP_IN, n->negate = not_kw;
        break;
    case T_CONTAINS:
        n->op = OP_CONTAINS, n->negate = not_kw;
        break;
    case T_EXISTS:
        n->op = OP_EXISTS;
        break;
    default: {
        char buf[64];
        return fail(p, p->tok.pos,
                    "expected an operator after '%s'" HINT "found %s; one of = != < <= > >= =~ !~ "
                    "in contains exists",
                    fname, tok_desc(p, buf, sizeof buf)),
               NULL;
    }
    }
    if ((n->op == OP_MATCH || n->op == OP_CONTAINS) && fc == FC_NUMBER)
        return fail(p, op_pos, "'%s' needs text, and %s is a number", optext, fname), NULL;
    if (next(p)) return NULL;
    if (n->op == OP_EXISTS) return n;
    if (n->op == OP_IN) {
        if (p->tok.t != T_LP) return fail(p, p->tok.pos, "expected '(' after '%s'", optext), NULL;
        struct query_value tmp[QUERY_IN_MAX];
        size_t count = 0;
        if (next(p)) return NULL;
        for (;;) {
            if (count == QUERY_IN_MAX)
                return fail(p, p->tok.pos, "too many values in the list (more than %d)",
                            QUERY_IN_MAX),
                       NULL;
            if (parse_value(p, &n->field, count ? "," : "(", &tmp[count])) return NULL;
            count++;
            if (next(p)) return NULL;
            if (p->tok.t == T_RP) break;
            if (p->tok.t != T_COMMA)
                return fail(p, p->tok.pos, "expected ',' or ')' in the list after '%s'", optext),
                       NULL;
            if (next(p)) return NULL;
        }
        n->vals = q_alloc(p->q, count * sizeof *n->vals);
        if (!n->vals) return nomem(p), NULL;
        memcpy(n->vals, tmp, count * sizeof *n->vals);
        n->nvals = count;
        if (next(p)) return NULL;
        return n;
    }
    n->vals = q_alloc(p->q, sizeof *n->vals);
    if (!n->vals) return nomem(p), NULL;
    n->nvals = 1;
    size_t val_pos = p->tok.pos;
    if (parse_value(p, &n->field, optext, n->vals)) return NULL;
    struct query_value *v = n->vals;
    if (v->type == QUERY_BOOL && n->op != OP_EQ)
        return fail(p, val_pos, "'%s' cannot compare true or false", optext), NULL;
    if ((n->op == OP_MATCH || n->op == OP_CONTAINS) && v->type != QUERY_STR)
        return fail(p, val_pos, "'%s' needs a quoted string", optext), NULL;
    if (n->op == OP_MATCH) {
        struct query_error rerr;
        int rc = regex_compile(v->s, v->len, &n->re, &rerr);
        if (rc == -ENOMEM) return nomem(p), NULL;
        if (rc) return fail(p, val_pos, "%s", rerr.message), NULL;
        if (add_regex(p, n->re)) return NULL;
    }
    if (next(p)) return NULL;
    return n;
}

static struct node *parse_unary(struct parser *p) {
    if (++p->depth > QUERY_DEPTH_MAX)
        return fail(p, p->tok.pos, "too deeply nested (more than %d levels)", QUERY_DEPTH_MAX),
               NULL;
    struct node *r;
    if (p->tok.t == T_NOT) {
        size_t pos = p->tok.pos;
        if (next(p)) return NULL;
        struct node *a = parse_unary(p);
        if (!a) return NULL;
        r = new_node(p, N_NOT, pos);
        if (!r) return NULL;
        r->a = a;
    } else if (p->tok.t == T_LP) {
        size_t open = p->tok.pos;
        if (next(p)) return NULL;
        r = parse_or(p);
        if (!r) return NULL;
        if (p->tok.t != T_RP) {
            char buf[64];
            return fail(p, p->tok.pos, "expected ')'" HINT "found %s; the '(' is at column %d",
                        tok_desc(p, buf, sizeof buf), column_of(p->text, open)),
                   NULL;
        }
        if (next(p)) return NULL;
    } else {
        r = parse_cmp(p);
    }
    p->depth--;
    return r;
}

static struct node *parse_and(struct parser *p) {
    struct node *l = parse_unary(p);
    while (l && p->tok.t == T_AND) {
        size_t pos = p->tok.pos;
        if (next(p)) return NULL;
        struct node *r = parse_unary(p);
        if (!r) return NULL;
        struct node *n = new_node(p, N_AND, pos);
        if (!n) return NULL;
        n->a = l, n->b = r;
        l = n;
    }
    return l;
}

static struct node *parse_or(struct parser *p) {
    struct node *l = parse_and(p);
    while (l && p->tok.t == T_OR) {
        size_t pos = p->tok.pos;
        if (next(p)) return NULL;
        struct node *r = parse_and(p);
        if (!r) return NULL;
        struct node *n = new_node(p, N_OR, pos);
        if (!n) return NULL;
        n->a = l, n->b = r;
        l = n;
    }
    return l;
}

int query_parse(const char *text, enum query_signal signal, struct query **out,
                struct query_error *err) {
    *out = NULL;
    if (err) err->column = 0, err->message[0] = 0;
    if ((unsigned)signal > QUERY_METRICS) return set_error(err, NULL, 0, "unknown signal");
    size_t len = strlen(text);
    if (len > QUERY_TEXT_MAX)
        return set_error(err, NULL, 0, "filter too long (%zu bytes, at most %d)", len,
                         QUERY_TEXT_MAX);
    struct query *q = calloc(1, sizeof *q);
    if (!q) return set_error(err, NULL, 0, "out of memory"), -ENOMEM;
    q->signal = signal;
    struct query_error dummy;
    struct parser p = {.text = text, .len = len, .q = q, .err = err ? err : &dummy};
    p.scratch = malloc(len + 1);
    if (!p.scratch) {
        query_free(q);
        set_error(err, NULL, 0, "out of memory");
        return -ENOMEM;
    }
    if (next(&p) == 0) {
        if (p.tok.t != T_EOF) {
            q->root = parse_or(&p);
            if (q->root && p.tok.t != T_EOF) {
                char buf[64];
                fail(&p, p.tok.pos, "expected 'and', 'or' or the end" HINT "found %s",
                     tok_desc(&p, buf, sizeof buf));
            }
        }
    }
    free(p.scratch);
    if (p.status) {
        query_free(q);
        return p.status;
    }
    *out = q;
    return 0;
}

/* ---- regular expressions ---- */

/* Bounds what glibc's regcomp may build: no back-references (exponential
 * matching), no stacked repetitions (a++++ grows the automaton with each
 * +), bounded numbers of repetitions and of nested groups, and a bounded
 * size once the counted repetitions are expanded (each {m,n} copies the
 * atom or group before it; measured: 26 starred atoms repeated {180} take
 * glibc 260 MB, {36} 12 MB). */
static int regex_compile(const char *pat, size_t len, regex_t **out, struct query_error *err) {
    *out = NULL;
    if (len > QUERY_REGEX_MAX)
        return set_error(err, NULL, 0, "regular expression too long (%zu bytes, at most %d)", len,
                         QUERY_REGEX_MAX);
    if (memchr(pat, 0, len))
        return set_error(err, NULL, 0, "a regular expression cannot contain a NUL byte");
    /* An estimate of the automaton's size: an atom costs 1, a repetition 8,
     * and {m,n} multiplies the cost of the atom or group before it. */
    double cost[QUERY_REGEX_GROUPS + 2] = {0}, last = 0;
    int quantifiers = 0, depth = 0;
    bool after_quantifier = false;
    for (size_t i = 0; i < len; i++) {
        char c = pat[i];
        bool quantifier = c == '*' || c == '+' || c == '?' || c == '{';
        if (!quantifier) after_quantifier = false;
        if (c == '\\' && i + 1 < len) {
            if (isdigit((unsigned char)pat[i + 1]))
                return set_error(err, NULL, 0,
                                 "back-references (\\%c) are not supported in regular expressions",
                                 pat[i + 1]);
            i++;
            cost[depth] += last = 1;
        } else if (c == '[') {
            /* a bracket expression is one atom: skip to its ']' */
            size_t j = i + 1;
            if (j < len && pat[j] == '^') j++;
            if (j < len && pat[j] == ']') j++;
            while (j < len && pat[j] != ']') {
                if (pat[j] == '[' && j + 1 < len && strchr(":.=", pat[j + 1])) {
                    const char *close = NULL;
                    for (size_t k = j + 2; k + 1 < len; k++)
                        if (pat[k] == pat[j + 1] && pat[k + 1] == ']') {
                            close = pat + k + 1;
                            break;
                        }
                    if (close) j = (size_t)(close - pat);
                }
                j++;
            }
            i = j;
            cost[depth] += last = 1;
        } else if (c == '(') {
            if (++depth > QUERY_REGEX_GROUPS)
                return set_error(err, NULL, 0,
                                 "regular expression nests too deeply (more than %d groups)",
                                 QUERY_REGEX_GROUPS);
            cost[depth] = 0;
        } else if (c == ')' && depth > 0) {
            last = cost[depth] + 1;
            cost[--depth] += last;
        } else if (quantifier) {
            /* glibc builds a copy per stacked or counted repetition */
            if (after_quantifier)
                return set_error(err, NULL, 0,
                                 "a repetition cannot follow a repetition in a regular expression");
            if (++quantifiers > QUERY_REGEX_QUANTIFIERS)
                return set_error(err, NULL, 0,
                                 "regular expression has too many repetitions (more than %d)",
                                 QUERY_REGEX_QUANTIFIERS);
            after_quantifier = true;
            cost[depth] += 8;
            if (c == '{') {
                double bound = 0;
                size_t j = i + 1;
                while (j < len && (isdigit((unsigned char)pat[j]) || pat[j] == ',')) {
                    if (isdigit((unsigned char)pat[j])) {
                        double d = 0;
                        while (j < len && isdigit((unsigned char)pat[j]) && d < 1e9)
                            d = d * 10 + (pat[j++] - '0');
                        if (d > bound) bound = d;
                    } else {
                        j++;
                    }
                }
                if (j < len && pat[j] == '}') i = j;
                if (bound > 1) cost[depth] += last * (bound - 1);
            }
        } else {
            cost[depth] += last = 1;
        }
        if (cost[depth] > QUERY_REGEX_COST)
            return set_error(err, NULL, 0,
                             "regular expression too complex (its repetitions expand to more "
                             "than %d parts)",
                             QUERY_REGEX_COST);
    }
    for (int d = depth; d > 0; d--)
        cost[d - 1] += cost[d];
    if (cost[0] > QUERY_REGEX_COST)
        return set_error(err, NULL, 0,
                         "regular expression too complex (its repetitions expand to more than %d "
                         "parts)",
                         QUERY_REGEX_COST);
    char *z = malloc(len + 1);
    regex_t *re = calloc(1, sizeof *re);
    if (!z || !re) {
        free(z);
        free(re);
        set_error(err, NULL, 0, "out of memory");
        return -ENOMEM;
    }
    memcpy(z, pat, len);
    z[len] = 0;
    int rc = regcomp(re, z, REG_EXTENDED | REG_NOSUB);
    free(z);
    if (rc) {
        char msg[96];
        regerror(rc, re, msg, sizeof msg);
        free(re);
        return set_error(err, NULL, 0, "bad regular expression: %s", msg);
    }
    *out = re;
    return 0;
}

int query_regex_check(const char *pattern, size_t len, struct query_error *err) {
    regex_t *re;
    int rc = regex_compile(pattern, len, &re, err);
    if (rc) return rc;
    regfree(re);
    free(re);
    return 0;
}

static bool regex_search(const regex_t *re, const char *s, size_t len) {
    regmatch_t m[1] = {{.rm_so = 0, .rm_eo = (regoff_t)len}};
    return regexec(re, s ? s : "", 1, m, REG_STARTEND) == 0;
}

static void sql_regexp_free(void *p) {
    regfree(p);
    free(p);
}

static void sql_regexp(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
    (void)argc;
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL || sqlite3_value_type(argv[1]) == SQLITE_NULL)
        return; /* NULL */
    regex_t *re = sqlite3_get_auxdata(ctx, 0);
    if (!re) {
        const char *pat = (const char *)sqlite3_value_text(argv[0]);
        int plen = sqlite3_value_bytes(argv[0]);
        struct query_error err;
        int rc = regex_compile(pat ? pat : "", pat ? (size_t)plen : 0, &re, &err);
        if (rc == -ENOMEM) {
            sqlite3_result_error_nomem(ctx);
            return;
        }
        if (rc) {
            sqlite3_result_error(ctx, err.message, -1);
            return;
        }
        sqlite3_set_auxdata(ctx, 0, re, sql_regexp_free);
        re = sqlite3_get_auxdata(ctx, 0); /* SQLite may have freed it already */
        if (!re) {
            sqlite3_result_error_nomem(ctx);
            return;
        }
    }
    const char *s = (const char *)sqlite3_value_text(argv[1]);
    int n = sqlite3_value_bytes(argv[1]);
    sqlite3_result_int(ctx, regex_search(re, s, (size_t)n));
}

int query_register_regexp(struct sqlite3 *db) {
    return sqlite3_create_function(db, "regexp", 2,
                                   SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, NULL,
                                   sql_regexp, NULL, NULL);
}

/* ---- matching ---- */

static bool is_num(const struct query_value *v) {
    return v->type == QUERY_INT || v->type == QUERY_DOUBLE || v->type == QUERY_BOOL;
}

/* -1, 0, 1, or 2 when the two cannot be compared (text against a number:
 * SQLite never converts, so neither does the matcher). true and false are
 * 1 and 0, as the store keeps them. */
static int compare(const struct query_value *a, const struct query_value *b) {
    if (is_num(a) && is_num(b)) {
        if (a->type != QUERY_DOUBLE && b->type != QUERY_DOUBLE) {
            int64_t x = a->type == QUERY_BOOL ? a->b : a->i;
            int64_t y = b->type == QUERY_BOOL ? b->b : b->i;
            return x < y ? -1 : x > y;
        }
        double x = a->type == QUERY_DOUBLE ? a->d : (double)(a->type == QUERY_BOOL ? a->b : a->i);
        double y = b->type == QUERY_DOUBLE ? b->d : (double)(b->type == QUERY_BOOL ? b->b : b->i);
        if (isnan(x) || isnan(y)) return 2;
        return x < y ? -1 : x > y;
    }
    if (a->type == QUERY_STR && b->type == QUERY_STR) {
        size_t n = a->len < b->len ? a->len : b->len;
        int c = n ? memcmp(a->s, b->s, n) : 0;
        if (c) return c < 0 ? -1 : 1;
        return a->len < b->len ? -1 : a->len > b->len;
    }
    return 2;
}

static bool contains(const struct query_value *hay, const struct query_value *needle) {
    if (hay->type != QUERY_STR) return false;
    if (needle->len == 0) return true;
    if (needle->len > hay->len) return false;
    return memmem(hay->s, hay->len, needle->s, needle->len) != NULL;
}

static bool test_value(const struct node *n, const struct query_value *v) {
    switch (n->op) {
    case OP_EXISTS:
        return true;
    case OP_EQ:
        return compare(v, &n->vals[0]) == 0;
    case OP_LT:
        return compare(v, &n->vals[0]) == -1;
    case OP_LE: {
        int c = compare(v, &n->vals[0]);
        return c == -1 || c == 0;
    }
    case OP_GT:
        return compare(v, &n->vals[0]) == 1;
    case OP_GE: {
        int c = compare(v, &n->vals[0]);
        return c == 1 || c == 0;
    }
    case OP_IN:
        for (size_t i = 0; i < n->nvals; i++)
            if (compare(v, &n->vals[i]) == 0) return true;
        return false;
    case OP_CONTAINS:
        return contains(v, &n->vals[0]);
    case OP_MATCH:
        return v->type == QUERY_STR && regex_search(n->re, v->s, v->len);
    }
    return false;
}

/* Whether the negated form applies to this value's type at all (x != 5 is
 * false for a text x, as in SQL with the type guards). */
static bool same_class(const struct node *n, const struct query_value *v) {
    if (n->op == OP_CONTAINS || n->op == OP_MATCH) return v->type == QUERY_STR;
    if (n->op == OP_IN) return true;
    return is_num(v) == is_num(&n->vals[0]) && (is_num(v) || v->type == QUERY_STR);
}

static bool match_one(const struct node *n, const struct query_field *f, query_get_fn get,
                      void *record) {
    struct query_value v;
    memset(&v, 0, sizeof v);
    if (!get(record, f, &v) || v.type == QUERY_NONE) return false;
    if (!n->negate) return test_value(n, &v);
    if (n->op == OP_IN) {
        for (size_t i = 0; i < n->nvals; i++)
            if (compare(&v, &n->vals[i]) == 0) return false;
        return true;
    }
    return same_class(n, &v) && !test_value(n, &v);
}

static bool match_node(const struct node *n, query_get_fn get, void *record) {
    switch (n->kind) {
    case N_AND:
        return match_node(n->a, get, record) && match_node(n->b, get, record);
    case N_OR:
        return match_node(n->a, get, record) || match_node(n->b, get, record);
    case N_NOT:
        return !match_node(n->a, get, record);
    case N_CMP:
        if (n->field.id == QUERY_F_ATTR && n->field.scope == QUERY_SCOPE_ANY) {
            struct query_field f = n->field;
            f.scope = QUERY_SCOPE_RECORD;
            if (match_one(n, &f, get, record)) return true;
            f.scope = QUERY_SCOPE_RESOURCE;
            return match_one(n, &f, get, record);
        }
        return match_one(n, &n->field, get, record);
    }
    return false;
}

bool query_match(const struct query *q, query_get_fn get, void *record) {
    return !q->root || match_node(q->root, get, record);
}

/* ---- text buffer ---- */

struct sbuf {
    char *p;
    size_t len, cap;
    bool oom;
    bool counting; /* query_format: write into a caller's buffer, count the rest */
};

static void sb_add(struct sbuf *b, const char *s, size_t n) {
    if (b->counting) {
        if (b->len < b->cap) {
            size_t room = b->cap - b->len;
            memcpy(b->p + b->len, s, n < room ? n : room);
        }
        b->len += n;
        return;
    }
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 128;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p, b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

static void sb_str(struct sbuf *b, const char *s) {
    sb_add(b, s, strlen(s));
}

__attribute__((format(printf, 2, 3))) static void sb_fmt(struct sbuf *b, const char *fmt, ...) {
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0) sb_add(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* ---- canonical text ---- */

static void fmt_quoted(struct sbuf *b, const char *s, size_t n, char quote) {
    sb_add(b, &quote, 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == (unsigned char)quote || c == '\\') {
            char e[2] = {'\\', (char)c};
            sb_add(b, e, 2);
        } else if (c < 0x20 || c == 0x7f) {
            sb_fmt(b, "\\x%02x", c);
        } else {
            sb_add(b, (const char *)&c, 1);
        }
    }
    sb_add(b, &quote, 1);
}

static bool plain_key(const char *k, size_t n, enum query_signal signal) {
    if (n == 0 || !ident_start((unsigned char)k[0])) return false;
    for (size_t i = 0; i < n; i++)
        if (!ident_char((unsigned char)k[i])) return false;
    static const char *const words[] = {"and",      "or",     "not",  "in",
                                        "contains", "exists", "true", "false"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (name_eq(k, n, words[i])) return false;
    (void)signal; /* any signal's field names: a span filter's `severity` stays quoted */
    for (int id = QUERY_F_NAME; id < QUERY_F_COUNT; id++)
        if (strlen(field_names[id]) == n && !memcmp(field_names[id], k, n)) return false;
    const char *dot = memchr(k, '.', n);
    if (dot) {
        size_t pre = (size_t)(dot - k);
        if ((pre == 4 && !memcmp(k, "attr", 4)) || (pre == 10 && !memcmp(k, "attributes", 10)) ||
            (pre == 8 && !memcmp(k, "resource", 8)))
            return false;
    }
    return true;
}

static void fmt_field(struct sbuf *b, const struct query_field *f, enum query_signal signal) {
    if (f->id != QUERY_F_ATTR) {
        sb_str(b, field_names[f->id]);
        return;
    }
    if (f->scope == QUERY_SCOPE_RECORD) sb_str(b, "attr.");
    if (f->scope == QUERY_SCOPE_RESOURCE) sb_str(b, "resource.");
    bool plain = f->scope == QUERY_SCOPE_ANY ? plain_key(f->key, f->key_len, signal) : true;
    if (plain && f->scope != QUERY_SCOPE_ANY)
        for (size_t i = 0; i < f->key_len; i++)
            if (!ident_char((unsigned char)f->key[i])) plain = false;
    if (plain)
        sb_add(b, f->key, f->key_len);
    else
        fmt_quoted(b, f->key, f->key_len, '`');
}

static void fmt_value(struct sbuf *b, const struct query_value *v, const struct query_field *f) {
    switch (v->type) {
    case QUERY_STR:
        fmt_quoted(b, v->s, v->len, '"');
        break;
    case QUERY_INT:
        sb_fmt(b, "%lld%s", (long long)v->i, f->id == QUERY_F_DURATION ? "ns" : "");
        break;
    case QUERY_DOUBLE: {
        char tmp[40];
        snprintf(tmp, sizeof tmp, "%.17g", v->d);
        if (!strpbrk(tmp, ".e")) strcat(tmp, ".0");
        sb_str(b, tmp);
        break;
    }
    case QUERY_BOOL:
        sb_str(b, v->b ? "true" : "false");
        break;
    case QUERY_NONE:
        break;
    }
}

static const char *op_text(const struct node *n) {
    switch (n->op) {
    case OP_EQ:
        return n->negate ? "!=" : "=";
    case OP_LT:
        return "<";
    case OP_LE:
        return "<=";
    case OP_GT:
        return ">";
    case OP_GE:
        return ">=";
    case OP_IN:
        return n->negate ? "not in" : "in";
    case OP_CONTAINS:
        return n->negate ? "not contains" : "contains";
    case OP_MATCH:
        return n->negate ? "!~" : "=~";
    case OP_EXISTS:
        return "exists";
    }
    return "?";
}

/* Parentheses only where the tree needs them (and binds tighter than or,
 * both associate to the left), so the text nests no deeper than the
 * filter it came from. */
static void fmt_node(struct sbuf *b, const struct node *n, enum query_signal signal);

static void fmt_operand(struct sbuf *b, const struct node *n, enum query_signal signal,
                        bool parens) {
    if (parens) sb_str(b, "(");
    fmt_node(b, n, signal);
    if (parens) sb_str(b, ")");
}

static void fmt_node(struct sbuf *b, const struct node *n, enum query_signal signal) {
    switch (n->kind) {
    case N_AND:
        fmt_operand(b, n->a, signal, n->a->kind == N_OR);
        sb_str(b, " and ");
        fmt_operand(b, n->b, signal, n->b->kind == N_OR || n->b->kind == N_AND);
        return;
    case N_OR:
        fmt_node(b, n->a, signal);
        sb_str(b, " or ");
        fmt_operand(b, n->b, signal, n->b->kind == N_OR);
        return;
    case N_NOT:
        sb_str(b, "not ");
        fmt_operand(b, n->a, signal, n->a->kind == N_OR || n->a->kind == N_AND);
        return;
    case N_CMP:
        fmt_field(b, &n->field, signal);
        sb_str(b, " ");
        sb_str(b, op_text(n));
        if (n->op == OP_EXISTS) return;
        sb_str(b, " ");
        if (n->op == OP_IN) sb_str(b, "(");
        for (size_t i = 0; i < n->nvals; i++) {
            if (i) sb_str(b, ", ");
            fmt_value(b, &n->vals[i], &n->field);
        }
        if (n->op == OP_IN) sb_str(b, ")");
        return;
    }
}

size_t query_format(const struct query *q, char *buf, size_t size) {
    struct sbuf b = {.p = buf, .cap = size, .counting = true};
    if (q->root) fmt_node(&b, q->root, q->signal);
    if (size) buf[b.len < size ? b.len : size - 1] = 0;
    return b.len;
}

/* ---- SQL ---- */

struct table_map {
    const char *attrs, *owner; /* attribute table and its owner column */
    const char *epochs;        /* the view of its index's epochs, or NULL */
    const char *self;          /* the main table's column the owner column refers to */
    const char *columns[QUERY_F_COUNT];
    unsigned nullable; /* bit per field id */
};

static const struct table_map tables[3] = {
    [QUERY_SPANS] = {"span_attrs",
                     "span_id",
                     "span_epochs",
                     "id",
                     {[QUERY_F_NAME] = "name",
                      [QUERY_F_DURATION] = "duration_ns",
                      [QUERY_F_STATUS] = "status_code",
                      [QUERY_F_STATUS_MESSAGE] = "status_message",
                      [QUERY_F_KIND] = "kind",
                      [QUERY_F_SERVICE] = "service_name",
                      [QUERY_F_TRACE_ID] = "trace_id",
                      [QUERY_F_SPAN_ID] = "span_id",
                      [QUERY_F_PARENT_SPAN_ID] = "parent_span_id"},
                     FB(QUERY_F_STATUS_MESSAGE) | FB(QUERY_F_SERVICE) | FB(QUERY_F_PARENT_SPAN_ID)},
    [QUERY_LOGS] = {"log_attrs",
                    "log_id",
                    "log_epochs",
                    "id",
                    {[QUERY_F_SEVERITY] = "severity_number",
                     [QUERY_F_SEVERITY_TEXT] = "severity_text",
                     [QUERY_F_BODY] = "body",
                     [QUERY_F_SERVICE] = "service_name",
                     [QUERY_F_TRACE_ID] = "trace_id",
                     [QUERY_F_SPAN_ID] = "span_id",
                     [QUERY_F_EVENT_NAME] = "event_name"},
                    FB(QUERY_F_SEVERITY_TEXT) | FB(QUERY_F_BODY) | FB(QUERY_F_SERVICE) |
                        FB(QUERY_F_TRACE_ID) | FB(QUERY_F_SPAN_ID) | FB(QUERY_F_EVENT_NAME)},
    /* a point's attributes are its stream's (docs/STORE.md) */
    [QUERY_METRICS] = {"metric_stream_attrs",
                       "stream_id",
                       NULL,
                       "stream_id",
                       {[QUERY_F_NAME] = "name",
                        [QUERY_F_VALUE] = "value",
                        [QUERY_F_UNIT] = "unit",
                        [QUERY_F_TYPE] = "type",
                        [QUERY_F_SERVICE] = "service_name"},
                       FB(QUERY_F_VALUE) | FB(QUERY_F_UNIT) | FB(QUERY_F_SERVICE)},
};

struct sqlc {
    struct sbuf b;
    struct query_value *params;
    size_t nparams, cap;
    bool oom;
    const char *alias;
    const struct table_map *map;
};

static void param(struct sqlc *c, const struct query_value *v) {
    if (c->nparams == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 8;
        struct query_value *p = realloc(c->params, cap * sizeof *p);
        if (!p) {
            c->oom = true;
            return;
        }
        c->params = p, c->cap = cap;
    }
    c->params[c->nparams] = *v;
    if (v->type == QUERY_BOOL)
        c->params[c->nparams].type = QUERY_INT, c->params[c->nparams].i = v->b;
    c->nparams++;
    sb_fmt(&c->b, ":q%zu", c->nparams);
}

/* One comparison on the expression col (a column, or an attribute table's
 * value). any: the column holds values of any type (attributes, body,
 * metric value), so guard the type as the matcher does. */
static void sql_test(struct sqlc *c, const struct node *n, const char *col, bool any) {
    struct sbuf *b = &c->b;
    const struct query_value *v = n->vals;
    bool num = n->nvals && is_num(v);
    const char *guard_num = "typeof(%s) IN ('integer','real')";
    switch (n->op) {
    case OP_EXISTS:
        sb_fmt(b, "%s IS NOT NULL", col);
        return;
    case OP_EQ:
        sb_fmt(b, "%s %s ", col, n->negate ? "!=" : "=");
        param(c, v);
        if (n->negate && any) {
            sb_str(b, " AND ");
            if (num)
                sb_fmt(b, guard_num, col);
            else
                sb_fmt(b, "typeof(%s) = 'text'", col);
        }
        return;
    case OP_LT:
    case OP_LE:
        sb_fmt(b, "%s %s ", col, n->op == OP_LT ? "<" : "<=");
        param(c, v);
        /* numbers sort before text: keep a text bound from taking numbers */
        if (any && !num) sb_fmt(b, " AND %s >= ''", col);
        return;
    case OP_GT:
    case OP_GE:
        sb_fmt(b, "%s %s ", col, n->op == OP_GT ? ">" : ">=");
        param(c, v);
        /* text sorts after numbers, blobs after text */
        if (any) sb_fmt(b, num ? " AND %s < ''" : " AND %s < x''", col);
        return;
    case OP_IN:
        sb_fmt(b, "%s %s (", col, n->negate ? "NOT IN" : "IN");
        for (size_t i = 0; i < n->nvals; i++) {
            if (i) sb_str(b, ", ");
            param(c, &n->vals[i]);
        }
        sb_str(b, ")");
        return;
    case OP_CONTAINS:
        if (any) sb_fmt(b, "typeof(%s) = 'text' AND ", col);
        sb_fmt(b, "instr(%s, ", col);
        param(c, v);
        sb_str(b, n->negate ? ") = 0" : ") > 0");
        return;
    case OP_MATCH:
        if (any) sb_fmt(b, "typeof(%s) = 'text' AND ", col);
        sb_fmt(b, "%s%s REGEXP ", n->negate ? "NOT " : "", col);
        param(c, v);
        return;
    }
}

static void sql_attr(struct sqlc *c, const struct node *n, enum query_scope scope) {
    struct sbuf *b = &c->b;
    struct query_value key = {.type = QUERY_STR, .s = n->field.key, .len = n->field.key_len};
    const char *epochs = "resource_epochs";
    if (scope == QUERY_SCOPE_RECORD) {
        sb_fmt(b, "%s.%s IN (SELECT %s FROM %s WHERE key = ", c->alias, c->map->self, c->map->owner,
               c->map->attrs);
        epochs = c->map->epochs;
    } else {
        sb_fmt(b,
               "%s.resource_id IN (SELECT resource_id FROM resource_attrs WHERE key = ", c->alias);
    }
    param(c, &key);
    if (n->op != OP_EXISTS) {
        /* the value index is (key, epoch, value): one seek per epoch (docs/STORE.md) */
        if (epochs != NULL) sb_fmt(b, " AND epoch IN (SELECT epoch FROM %s)", epochs);
        sb_str(b, " AND ");
        sql_test(c, n, "value", true);
    }
    sb_str(b, ")");
}

static void sql_node(struct sqlc *c, const struct node *n, bool negated) {
    struct sbuf *b = &c->b;
    switch (n->kind) {
    case N_AND:
    case N_OR:
        sb_str(b, "(");
        sql_node(c, n->a, negated);
        sb_str(b, n->kind == N_AND ? " AND " : " OR ");
        sql_node(c, n->b, negated);
        sb_str(b, ")");
        return;
    case N_NOT:
        sb_str(b, "NOT (");
        sql_node(c, n->a, !negated);
        sb_str(b, ")");
        return;
    case N_CMP:
        break;
    }
    if (n->field.id == QUERY_F_ATTR) {
        if (n->field.scope == QUERY_SCOPE_ANY) {
            sb_str(b, "(");
            sql_attr(c, n, QUERY_SCOPE_RECORD);
            sb_str(b, " OR ");
            sql_attr(c, n, QUERY_SCOPE_RESOURCE);
            sb_str(b, ")");
        } else {
            sql_attr(c, n, n->field.scope);
        }
        return;
    }
    char col[96];
    snprintf(col, sizeof col, "%s.%s", c->alias, c->map->columns[n->field.id]);
    bool any = field_class(n->field.id) == FC_ANY;
    /* Under a negation a NULL would make NOT (...) NULL, not true: keep the
     * comparison two-valued there (absent: false). */
    bool wrap = negated && (c->map->nullable & FB(n->field.id)) && n->op != OP_EXISTS;
    sb_str(b, wrap ? "ifnull((" : "(");
    sql_test(c, n, col, any);
    sb_str(b, wrap ? "), 0)" : ")");
}

int query_compile_sql(const struct query *q, const char *alias, struct query_sql *out,
                      struct query_error *err) {
    memset(out, 0, sizeof *out);
    if (!alias || !*alias || strlen(alias) > 32 ||
        strspn(alias, "abcdefghijklmnopqrstuvwxyz"
                      "ABCDEFGHIJKLMNOPQRSTUVWXYZ_0123"
                      "456789") != strlen(alias))
        return set_error(err, NULL, 0, "bad table alias");
    struct sqlc c = {.alias = alias, .map = &tables[q->signal]};
    if (q->root)
        sql_node(&c, q->root, false);
    else
        sb_str(&c.b, "1");
    if (c.oom || c.b.oom) {
        free(c.b.p);
        free(c.params);
        if (err) err->column = 0, snprintf(err->message, sizeof err->message, "out of memory");
        return -ENOMEM;
    }
    out->text = c.b.p;
    out->params = c.params;
    out->nparams = c.nparams;
    return 0;
}

int query_sql_bind(const struct query_sql *sql, struct sqlite3_stmt *stmt, int first) {
    (void)first; /* the parameters are named: their index is whatever SQLite gave them */
    for (size_t i = 0; i < sql->nparams; i++) {
        const struct query_value *v = &sql->params[i];
        char name[32];
        snprintf(name, sizeof name, ":q%zu", i + 1);
        int idx = sqlite3_bind_parameter_index(stmt, name), rc = SQLITE_OK;
        if (idx == 0) return SQLITE_RANGE;
        switch (v->type) {
        case QUERY_STR:
            rc = sqlite3_bind_text(stmt, idx, v->s ? v->s : "", (int)v->len, SQLITE_STATIC);
            break;
        case QUERY_INT:
            rc = sqlite3_bind_int64(stmt, idx, v->i);
            break;
        case QUERY_BOOL:
            rc = sqlite3_bind_int(stmt, idx, v->b);
            break;
        case QUERY_DOUBLE:
            rc = sqlite3_bind_double(stmt, idx, v->d);
            break;
        case QUERY_NONE:
            rc = sqlite3_bind_null(stmt, idx);
            break;
        }
        if (rc != SQLITE_OK) return rc;
    }
    return SQLITE_OK;
}

void query_sql_free(struct query_sql *sql) {
    free(sql->text);
    free(sql->params);
    memset(sql, 0, sizeof *sql);
}

/* ---- durations and times ---- */

int query_parse_duration(const char *text, int64_t *ns) {
    const char *s = text;
    double total = 0;
    bool any = false;
    while (*s) {
        char num[32], *end;
        size_t span = strspn(s, "0123456789.");
        if (span == 0 || span >= sizeof num) return -EINVAL;
        memcpy(num, s, span);
        num[span] = 0;
        errno = 0;
        double v = strtod(num, &end);
        if (*end || errno == ERANGE) return -EINVAL;
        const char *u = s + span;
        size_t n = 0;
        while (u[n] && (isalpha((unsigned char)u[n]) || (unsigned char)u[n] >= 0x80))
            n++;
        double scale;
        if (!n || !has_time_unit(u, n, &scale)) return -EINVAL;
        total += v * scale;
        s = u + n;
        any = true;
    }
    if (!any) return -EINVAL;
    if (!(total < 9.2e18)) return -ERANGE;
    *ns = (int64_t)llround(total);
    return 0;
}

static bool digits(const char **s, int n, int *out) {
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*s)[i])) return false;
        v = v * 10 + ((*s)[i] - '0');
    }
    *s += n;
    *out = v;
    return true;
}

int query_parse_time(const char *text, int64_t now_ns, int64_t *ns) {
    const char *s = text;
    if (!strcmp(s, "now")) {
        *ns = now_ns;
        return 0;
    }
    int64_t d;
    if (query_parse_duration(s, &d) == 0) {
        *ns = now_ns - d;
        return 0;
    }
    /* Unix seconds, with an optional fraction */
    if (*s && strspn(s, "0123456789.") == strlen(s) && strlen(s) >= 9 && !strchr(s, '-')) {
        char *end;
        errno = 0;
        double v = strtod(s, &end);
        if (*end || errno || !(v < 9e9)) return -EINVAL;
        *ns = (int64_t)llround(v * 1e9);
        return 0;
    }
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    int year, mon, day;
    if (!digits(&s, 4, &year) || *s++ != '-' || !digits(&s, 2, &mon) || *s++ != '-' ||
        !digits(&s, 2, &day))
        return -EINVAL;
    if (mon < 1 || mon > 12 || day < 1 || day > 31) return -EINVAL;
    tm.tm_year = year - 1900, tm.tm_mon = mon - 1, tm.tm_mday = day;
    int64_t frac_ns = 0;
    bool zone = false;
    long offset = 0;
    if (*s == 'T' || *s == 't' || *s == ' ') {
        s++;
        int h, m, sec = 0;
        if (!digits(&s, 2, &h) || *s++ != ':' || !digits(&s, 2, &m)) return -EINVAL;
        if (*s == ':') {
            s++;
            if (!digits(&s, 2, &sec)) return -EINVAL;
            if (*s == '.') {
                s++;
                int64_t scale = 100000000;
                if (!isdigit((unsigned char)*s)) return -EINVAL;
                while (isdigit((unsigned char)*s)) {
                    frac_ns += (*s - '0') * scale;
                    scale /= 10;
                    s++;
                }
            }
        }
        if (h > 23 || m > 59 || sec > 60) return -EINVAL;
        tm.tm_hour = h, tm.tm_min = m, tm.tm_sec = sec;
        if (*s == 'Z' || *s == 'z') {
            zone = true;
            s++;
        } else if (*s == '+' || *s == '-') {
            int sign = *s++ == '-' ? -1 : 1, oh, om;
            if (!digits(&s, 2, &oh) || *s++ != ':' || !digits(&s, 2, &om) || oh > 23 || om > 59)
                return -EINVAL;
            zone = true;
            offset = sign * (oh * 3600L + om * 60L);
        }
    }
    if (*s) return -EINVAL;
    time_t t;
    if (zone) {
        t = timegm(&tm);
        t -= offset;
    } else {
        tm.tm_isdst = -1;
        t = mktime(&tm);
    }
    if (t < 0 || t > 9000000000LL) return -EINVAL; /* before 1970, after 2255 */
    *ns = (int64_t)t * 1000000000 + frac_ns;
    return 0;
}
