/* query: the one filter grammar of the local side (docs/QUERY.md), used by
 * the retrievers, the HTTP API, the dashboard's search box and alert rules.
 * Parses a filter text into an AST for one signal (spans, logs, metrics),
 * matches the AST against one in-memory record through an accessor callback,
 * and compiles it to an SQL WHERE fragment with bound parameters against the
 * store's schema (docs/STORE.md). Also the duration and time parsers behind
 * --since/--from/--to, and the REGEXP function SQLite lacks.
 * Errors are values: a message that ends "at column N" (1-based, counted in
 * characters) and the column, for a caret under the text.
 * Depends on libc (POSIX regex) and SQLite (query_sql_bind, query_register_regexp). */
#ifndef OTELP_SERVER_QUERY_H
#define OTELP_SERVER_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sqlite3;
struct sqlite3_stmt;

enum query_signal { QUERY_SPANS, QUERY_LOGS, QUERY_METRICS };

/* Limits: longer texts, deeper nesting, more comparisons or longer in-lists
 * are errors, so a filter from the network costs bounded time and memory. */
#define QUERY_TEXT_MAX 16384
#define QUERY_DEPTH_MAX 64
#define QUERY_NODES_MAX 1024
#define QUERY_IN_MAX 256
#define QUERY_REGEX_MAX 512        /* bytes of one pattern */
#define QUERY_REGEX_COST 4000      /* atoms once {m,n} are expanded (a repetition: 8) */
#define QUERY_REGEX_QUANTIFIERS 32 /* * + ? {m,n} in one pattern */
#define QUERY_REGEX_GROUPS 8       /* nested ( ) */

/* What a comparison looks at. QUERY_F_ATTR is an attribute by key; the
 * others are the records' own fields. */
enum query_field_id {
    QUERY_F_ATTR,
    QUERY_F_NAME,           /* span name; metric name */
    QUERY_F_DURATION,       /* span: end - start, nanoseconds (int) */
    QUERY_F_STATUS,         /* span status code: 0 unset, 1 ok, 2 error (int) */
    QUERY_F_STATUS_MESSAGE, /* span status message */
    QUERY_F_KIND,           /* span kind, OTLP numbering: 1 internal .. 5 consumer (int) */
    QUERY_F_SERVICE,        /* the resource's service.name */
    QUERY_F_TRACE_ID,       /* 32 lowercase hex digits */
    QUERY_F_SPAN_ID,        /* 16 lowercase hex digits */
    QUERY_F_PARENT_SPAN_ID, /* span: 16 lowercase hex digits, absent for a root */
    QUERY_F_SEVERITY,       /* log severity number, 1..24 (int) */
    QUERY_F_SEVERITY_TEXT,  /* log severity text */
    QUERY_F_BODY,           /* log body, as text */
    QUERY_F_VALUE,          /* metric point value (int or double) */
    QUERY_F_UNIT,           /* metric unit */
    QUERY_F_TYPE,       /* metric type: 1 gauge, 2 sum, 3 histogram, 4 exp. histogram, 5 summary */
    QUERY_F_EVENT_NAME, /* log event name */
    QUERY_F_COUNT
};

/* Where an attribute is looked up: the record's own attributes (span, log
 * record, metric point) or its resource's; ANY means either. */
enum query_scope { QUERY_SCOPE_ANY, QUERY_SCOPE_RECORD, QUERY_SCOPE_RESOURCE };

struct query_field {
    enum query_field_id id;
    enum query_scope scope; /* QUERY_F_ATTR only */
    const char *key;        /* QUERY_F_ATTR: the attribute key, NUL-terminated */
    size_t key_len;
};

enum query_type { QUERY_NONE, QUERY_STR, QUERY_INT, QUERY_DOUBLE, QUERY_BOOL };

/* A plain value: what a literal holds, and what the accessor returns. */
struct query_value {
    enum query_type type;
    bool b;
    int64_t i;
    double d;
    const char *s; /* QUERY_STR: not necessarily NUL-terminated */
    size_t len;
};

struct query_error {
    int column; /* 1-based, in characters of the text; 0 when not about a place */
    char message[256];
};

struct query; /* opaque: a parsed filter */

/* Parses text (NUL-terminated) as a filter for signal. An empty or blank
 * text is a filter that matches everything. Returns 0 and *out, or -EINVAL
 * (-ENOMEM) and *err. */
int query_parse(const char *text, enum query_signal signal, struct query **out,
                struct query_error *err) __attribute__((warn_unused_result));
void query_free(struct query *q);
enum query_signal query_signal_of(const struct query *q);
bool query_is_empty(const struct query *q);
/* Whether a comparison of q looks at field id (QUERY_F_ATTR: any attribute). */
bool query_uses_field(const struct query *q, enum query_field_id id);

/* The canonical text of q (parentheses only where needed, values
 * normalised: units to numbers, names to enum numbers), which parses back
 * to the same query. Returns the length it needs (like
 * snprintf); buf may be NULL when size is 0. */
size_t query_format(const struct query *q, char *buf, size_t size);

/* Two lines for a terminal: the text, then a caret under err->column. */
size_t query_error_caret(const char *text, const struct query_error *err, char *buf, size_t size);

/* The accessor: fills *out with field's value for record and returns true,
 * or returns false when the record has no such field or attribute. Strings
 * stay owned by the record. Status, kind and severity are ints in OTLP's
 * numbering; trace and span ids lowercase hex; duration nanoseconds. */
typedef bool (*query_get_fn)(void *record, const struct query_field *field,
                             struct query_value *out);

/* Whether record matches q (an empty query matches every record). */
bool query_match(const struct query *q, query_get_fn get, void *record);

/* The SQL form: a WHERE fragment (no "WHERE") in which each value is a
 * named parameter, :q1 .. :qN, bound by query_sql_bind by name, so the
 * statement may use ?1-style or anonymous parameters of its own around it.
 * The fragment refers to the signal's main table by alias (docs/STORE.md
 * gives the tables). params point into q: keep q until the statement is
 * done. */
struct query_sql {
    char *text;
    struct query_value *params;
    size_t nparams;
};

int query_compile_sql(const struct query *q, const char *alias, struct query_sql *out,
                      struct query_error *err) __attribute__((warn_unused_result));
/* Binds the params to stmt by name (:q1 ..). first is not used (the names
 * fix the places). Returns SQLITE_OK, SQLITE_RANGE when stmt lacks one of
 * the names, or the first SQLite error. */
int query_sql_bind(const struct query_sql *sql, struct sqlite3_stmt *stmt, int first);
void query_sql_free(struct query_sql *sql);

/* Registers regexp(pattern, text) (SQLite's REGEXP operator) on db: POSIX
 * extended syntax, unanchored, patterns bounded as above; the compiled
 * pattern is cached per statement. Returns SQLITE_OK or an SQLite error. */
int query_register_regexp(struct sqlite3 *db);

/* Checks a POSIX extended regular expression against the limits above and
 * compiles it. Returns 0, or -EINVAL with a message in err (column 0). */
int query_regex_check(const char *pattern, size_t len, struct query_error *err)
    __attribute__((warn_unused_result));

/* "100ms", "2s", "1m", "1h30m", "1.5h", "7d" -> nanoseconds (>= 0).
 * Units: ns us µs ms s m h d. Returns 0 or -EINVAL (-ERANGE on overflow). */
int query_parse_duration(const char *text, int64_t *ns) __attribute__((warn_unused_result));

/* A point in time for --from/--to, in Unix nanoseconds: "now"; a duration
 * ("1h": that long before now); Unix seconds ("1733550000", "1733550000.5");
 * RFC 3339 ("2026-12-07T05:00:00Z", "2026-12-07 05:00:00.25+01:00",
 * "2026-12-07T05:00"); a date ("2026-12-07", midnight). Without a zone the
 * time is local. Returns 0 or -EINVAL. */
int query_parse_time(const char *text, int64_t now_ns, int64_t *ns)
    __attribute__((warn_unused_result));

/* Names and numbers for the enums the grammar knows (case-insensitive):
 * status UNSET/OK/ERROR, kind INTERNAL/SERVER/CLIENT/PRODUCER/CONSUMER,
 * severity TRACE..FATAL with an optional 2..4 suffix (WARN or WARNING),
 * metric type GAUGE/SUM/HISTOGRAM/EXPONENTIAL_HISTOGRAM/SUMMARY.
 * Return the number, or -1 for an unknown name. */
int query_status_code(const char *name, size_t len);
int query_span_kind(const char *name, size_t len);
int query_severity_number(const char *name, size_t len);

int query_metric_type(const char *name, size_t len);

/* The field's name in the grammar ("duration", "service.name"). */
const char *query_field_name(enum query_field_id id);

#endif
