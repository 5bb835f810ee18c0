/* retrieve: the retrievers' queries and their table/JSON/CSV rendering. Depends on libsqlite3,
 * sbuf.h, query.h (the filter grammar, when it is built). */
#include "server/retrieve.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef OTELP_HAVE_QUERY
#include "server/query.h"
#endif

enum fmt { F_TEXT, F_INT, F_TIME, F_DUR, F_STATUS, F_KIND, F_SEV, F_SIGNAL, F_VALUE, F_JSONTEXT };

struct column {
    const char *key;    /* JSON/CSV name */
    const char *header; /* table header */
    const char *expr;   /* SQL */
    enum fmt fmt;
    bool in_table;
};

static const struct column SPAN_COLS[] = {
    {"start_ns", "START", "s.start_ns", F_TIME, true},
    {"duration_ns", "DURATION", "s.duration_ns", F_DUR, true},
    {"service_name", "SERVICE", "s.service_name", F_TEXT, true},
    {"name", "NAME", "s.name", F_TEXT, true},
    {"pid", "PID", "s.pid", F_INT, true},
    {"exit_code", "EXIT", "s.exit_code", F_INT, true},
    {"signal", "SIGNAL", "s.signal", F_SIGNAL, false},
    {"status_code", "STATUS", "s.status_code", F_STATUS, true},
    {"trace_id", "TRACE", "s.trace_id", F_TEXT, true},
    {"span_id", "SPAN", "s.span_id", F_TEXT, true},
    {"parent_span_id", "PARENT", "s.parent_span_id", F_TEXT, false},
    {"kind", "KIND", "s.kind", F_KIND, false},
    {"end_ns", "END", "s.end_ns", F_TIME, false},
    {"ppid", "PPID", "s.ppid", F_INT, false},
    {"status_message", "MESSAGE", "s.status_message", F_TEXT, false},
    {"run_id", "RUN", "s.run_id", F_INT, false},
    {"scope_name", "SCOPE", "s.scope_name", F_TEXT, false},
};

static const struct column LOG_COLS[] = {
    {"time_ns", "TIME", "l.time_ns", F_TIME, true},
    {"severity_number", "SEVERITY", "l.severity_number", F_SEV, true},
    {"service_name", "SERVICE", "l.service_name", F_TEXT, true},
    {"pid", "PID",
     "coalesce(l.pid, (SELECT pid FROM spans sp WHERE sp.trace_id = l.trace_id AND"
     " sp.span_id = l.span_id))",
     F_INT, true},
    {"body", "BODY", "l.body", F_VALUE, true},
    {"trace_id", "TRACE", "l.trace_id", F_TEXT, true},
    {"span_id", "SPAN", "l.span_id", F_TEXT, false},
    {"severity_text", "SEVERITY_TEXT", "l.severity_text", F_TEXT, false},
    {"event_name", "EVENT", "l.event_name", F_TEXT, false},
    {"observed_ns", "OBSERVED", "l.observed_ns", F_TIME, false},
    {"run_id", "RUN", "l.run_id", F_INT, false},
    {"scope_name", "SCOPE", "l.scope_name", F_TEXT, false},
};

static const struct column TRACE_COLS[] = {
    {"id", "RUN", "r.id", F_INT, true},
    {"start_ns", "START", "r.start_ns", F_TIME, true},
    {"duration_ns", "DURATION", "coalesce(r.end_ns, r.start_ns) - r.start_ns", F_DUR, true},
    {"command", "COMMAND",
     "coalesce(r.command, (SELECT name FROM spans WHERE trace_id = r.trace_id AND"
     " parent_span_id IS NULL ORDER BY start_ns LIMIT 1), '')",
     F_TEXT, true},
    {"span_count", "SPANS", "r.span_count", F_INT, true},
    {"process_count", "PROCS", "r.process_count", F_INT, true},
    {"error_count", "FAILED", "r.error_count", F_INT, true},
    {"crash_count", "CRASHED", "r.crash_count", F_INT, true},
    {"exit_code", "EXIT", "r.exit_code", F_INT, true},
    {"pinned", "PIN", "r.pinned", F_INT, true},
    {"trace_id", "TRACE", "r.trace_id", F_TEXT, true},
    {"kind", "KIND", "r.kind", F_TEXT, false},
    {"signal", "SIGNAL", "r.signal", F_SIGNAL, false},
    {"log_count", "LOGS", "r.log_count", F_INT, false},
    {"bytes", "BYTES", "r.bytes", F_INT, false},
    {"cwd", "CWD", "r.cwd", F_TEXT, false},
    {"end_ns", "END", "r.end_ns", F_TIME, false},
};

sqlite3 *retrieve_open(const char *path, char *err, size_t cap) {
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        snprintf(err, cap, "cannot open %s: %s", path, db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, 5000);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'schema_version'", -1, &st,
                           NULL) != SQLITE_OK) {
        snprintf(err, cap, "%s is not an otel-preload store: %s", path, sqlite3_errmsg(db));
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_finalize(st);
#ifdef OTELP_HAVE_QUERY
    query_register_regexp(db);
#endif
    return db;
}

void retrieve_duration(int64_t ns, char *out, size_t cap) {
    if (ns < 0) ns = 0;
    if (ns < 1000000)
        snprintf(out, cap, "%lld us", (long long)(ns / 1000));
    else if (ns < 10000000)
        snprintf(out, cap, "%.1f ms", (double)ns / 1e6);
    else if (ns < 1000000000)
        snprintf(out, cap, "%lld ms", (long long)(ns / 1000000));
    else if (ns < 600000000000LL)
        snprintf(out, cap, "%.2f s", (double)ns / 1e9);
    else
        snprintf(out, cap, "%lldm%02llds", (long long)(ns / 60000000000LL),
                 (long long)(ns / 1000000000 % 60));
}

int retrieve_parse_duration(const char *s, int64_t *ns) {
#ifdef OTELP_HAVE_QUERY
    return query_parse_duration(s, ns) < 0 ? -EINVAL : 0;
#else
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno != 0 || v < 0) return -EINVAL;
    static const struct {
        const char *unit;
        double mult;
    } units[] = {{"ns", 1},   {"us", 1e3},   {"ms", 1e6},    {"s", 1e9},
                 {"m", 60e9}, {"h", 3600e9}, {"d", 86400e9}, {"w", 604800e9}};
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
        if (strcmp(end, units[i].unit) == 0) {
            *ns = (int64_t)(v * units[i].mult);
            return 0;
        }
    return -EINVAL;
#endif
}

int retrieve_parse_time(const char *s, int64_t now_ns, int64_t *ns) {
    int64_t d;
    if (retrieve_parse_duration(s, &d) == 0) {
        *ns = now_ns - d;
        return 0;
    }
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    const char *end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (end == NULL) end = strptime(s, "%Y-%m-%d %H:%M:%S", &tm);
    if (end != NULL && (*end == '\0' || strcmp(end, "Z") == 0)) {
        time_t t;
        if (*end == 'Z') {
            t = timegm(&tm);
        } else {
            tm.tm_isdst = -1;
            t = mktime(&tm);
        }
        if (t < 0 || t > INT64_MAX / 1000000000) return -EINVAL; /* before 1970, past 2262 */
        *ns = (int64_t)t * 1000000000;
        return 0;
    }
    char *e;
    errno = 0;
    long long secs = strtoll(s, &e, 10);
    /* seconds past 2262 overflowed the nanoseconds (undefined behaviour) */
    if (e != s && *e == '\0' && errno == 0 && secs >= 0 && secs <= INT64_MAX / 1000000000) {
        *ns = (int64_t)secs * 1000000000;
        return 0;
    }
    return -EINVAL;
}

/* ---- rendering ------------------------------------------------------- */

static void fmt_time(int64_t ns, char *out, size_t cap) {
    time_t t = (time_t)(ns / 1000000000);
    struct tm tm;
    localtime_r(&t, &tm);
    char b[32];
    strftime(b, sizeof(b), "%Y-%m-%d %H:%M:%S", &tm);
    snprintf(out, cap, "%s.%03lld", b, (long long)(ns / 1000000 % 1000));
}

static const char *status_name(int64_t c) {
    return c == 1 ? "OK" : c == 2 ? "ERROR" : "UNSET";
}

static const char *kind_name(int64_t k) {
    static const char *const n[] = {"UNSPECIFIED", "INTERNAL", "SERVER",
                                    "CLIENT",      "PRODUCER", "CONSUMER"};
    return k >= 0 && k <= 5 ? n[k] : "?";
}

static const char *severity_name(int64_t n) {
    static const char *const names[] = {"TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"};
    if (n < 1 || n > 24) return "UNSPECIFIED";
    return names[(n - 1) / 4];
}

/* Cell text for the table and CSV. */
static void cell_text(sqlite3_stmt *st, int i, enum fmt f, char *out, size_t cap) {
    int t = sqlite3_column_type(st, i);
    out[0] = '\0';
    if (t == SQLITE_NULL) return;
    int64_t v = sqlite3_column_int64(st, i);
    switch (f) {
    case F_TIME:
        fmt_time(v, out, cap);
        break;
    case F_DUR:
        retrieve_duration(v, out, cap);
        break;
    case F_STATUS:
        snprintf(out, cap, "%s", status_name(v));
        break;
    case F_KIND:
        snprintf(out, cap, "%s", kind_name(v));
        break;
    case F_SEV:
        snprintf(out, cap, "%s", severity_name(v));
        break;
    case F_INT:
    case F_SIGNAL:
        snprintf(out, cap, "%lld", (long long)v);
        break;
    default:
        if (t == SQLITE_FLOAT)
            snprintf(out, cap, "%.6g", sqlite3_column_double(st, i));
        else if (t == SQLITE_BLOB)
            snprintf(out, cap, "(%d bytes)", sqlite3_column_bytes(st, i));
        else
            snprintf(out, cap, "%s", (const char *)sqlite3_column_text(st, i));
        break;
    }
    for (char *p = out; *p; p++) /* one line per row */
        if (*p == '\n' || *p == '\r' || *p == '\t') *p = ' ';
}

static void json_column(struct sbuf *b, sqlite3_stmt *st, int i, enum fmt f) {
    int t = sqlite3_column_type(st, i);
    if (t == SQLITE_NULL) {
        sbuf_puts(b, "null");
    } else if (f == F_JSONTEXT) {
        sbuf_puts(b, (const char *)sqlite3_column_text(st, i));
    } else if (t == SQLITE_INTEGER) {
        sbuf_printf(b, "%lld", (long long)sqlite3_column_int64(st, i));
    } else if (t == SQLITE_FLOAT) {
        sbuf_printf(b, "%.17g", sqlite3_column_double(st, i));
    } else if (t == SQLITE_BLOB) {
        sbuf_add(b, "\"", 1);
        sbuf_hex(b, sqlite3_column_blob(st, i), (size_t)sqlite3_column_bytes(st, i));
        sbuf_add(b, "\"", 1);
    } else {
        sbuf_json_str(b, (const char *)sqlite3_column_text(st, i),
                      (size_t)sqlite3_column_bytes(st, i));
    }
}

/* {"key": value, ...} of an attribute table's rows for one owner. */
static int json_attr_rows(sqlite3 *db, struct sbuf *b, const char *sql, int64_t owner) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) return -EIO;
    sqlite3_bind_int64(st, 1, owner);
    sbuf_add(b, "{", 1);
    bool first = true;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (!first) sbuf_add(b, ",", 1);
        first = false;
        sbuf_json_str(b, (const char *)sqlite3_column_text(st, 0),
                      (size_t)sqlite3_column_bytes(st, 0));
        sbuf_add(b, ":", 1);
        const char *type = (const char *)sqlite3_column_text(st, 1);
        if (type != NULL && strchr("am", type[0]) != NULL)
            json_column(b, st, 2, F_JSONTEXT);
        else if (type != NULL && type[0] == 'b')
            sbuf_puts(b, sqlite3_column_int(st, 2) ? "true" : "false");
        else
            json_column(b, st, 2, F_TEXT);
    }
    sbuf_add(b, "}", 1);
    sqlite3_finalize(st);
    return 0;
}

static void json_span_extras(sqlite3 *db, struct sbuf *b, int64_t id, int64_t res) {
    sbuf_puts(b, ",\"attributes\":");
    json_attr_rows(db, b, "SELECT key, type, value FROM span_attrs WHERE span_id = ?1 ORDER BY key",
                   id);
    sbuf_puts(b, ",\"resource\":");
    json_attr_rows(db, b,
                   "SELECT key, type, value FROM resource_attrs WHERE resource_id = ?1"
                   " ORDER BY key",
                   res);
    sqlite3_stmt *st;
    sbuf_puts(b, ",\"events\":[");
    if (sqlite3_prepare_v2(db,
                           "SELECT time_ns, name, attrs FROM span_events WHERE span_id = ?1"
                           " ORDER BY seq",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, id);
        for (int n = 0; sqlite3_step(st) == SQLITE_ROW; n++) {
            sbuf_printf(b, "%s{\"time_ns\":%lld,\"name\":", n ? "," : "",
                        (long long)sqlite3_column_int64(st, 0));
            json_column(b, st, 1, F_TEXT);
            sbuf_puts(b, ",\"attributes\":");
            json_column(b, st, 2, F_JSONTEXT);
            sbuf_puts(b, "}");
        }
        sqlite3_finalize(st);
    }
    sbuf_puts(b, "],\"links\":[");
    if (sqlite3_prepare_v2(db,
                           "SELECT linked_trace_id, linked_span_id, attrs FROM span_links"
                           " WHERE span_id = ?1 ORDER BY seq",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, id);
        for (int n = 0; sqlite3_step(st) == SQLITE_ROW; n++) {
            sbuf_printf(b, "%s{\"trace_id\":", n ? "," : "");
            json_column(b, st, 0, F_TEXT);
            sbuf_puts(b, ",\"span_id\":");
            json_column(b, st, 1, F_TEXT);
            sbuf_puts(b, ",\"attributes\":");
            json_column(b, st, 2, F_JSONTEXT);
            sbuf_puts(b, "}");
        }
        sqlite3_finalize(st);
    }
    sbuf_puts(b, "]");
}

struct table {
    char **cells; /* rows x cols */
    size_t rows, cols, cap;
};

static int table_add(struct table *t, char **row) {
    if (t->rows == t->cap) {
        size_t ncap = t->cap ? t->cap * 2 : 64;
        char **p = realloc(t->cells, ncap * t->cols * sizeof(char *));
        if (p == NULL) return -ENOMEM;
        t->cells = p;
        t->cap = ncap;
    }
    memcpy(t->cells + t->rows * t->cols, row, t->cols * sizeof(char *));
    t->rows++;
    return 0;
}

/* Display width of UTF-8 text (code points). */
static size_t width(const char *s) {
    size_t w = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80) w++;
    return w;
}

static void render_table(struct sbuf *out, const char *const *headers, struct table *t,
                         size_t max_last) {
    size_t w[32] = {0};
    for (size_t c = 0; c < t->cols; c++)
        w[c] = width(headers[c]);
    for (size_t r = 0; r < t->rows; r++)
        for (size_t c = 0; c < t->cols; c++) {
            size_t x = width(t->cells[r * t->cols + c]);
            if (x > w[c]) w[c] = x;
        }
    for (int pass = -1; pass < (int)t->rows; pass++) {
        for (size_t c = 0; c < t->cols; c++) {
            const char *s = pass < 0 ? headers[c] : t->cells[(size_t)pass * t->cols + c];
            bool last = c + 1 == t->cols;
            size_t x = width(s);
            if (last && x > max_last && max_last > 0) {
                sbuf_add(out, s, max_last);
                sbuf_puts(out, "...");
            } else {
                sbuf_puts(out, s);
            }
            if (!last)
                for (size_t k = x; k < w[c] + 2; k++)
                    sbuf_add(out, " ", 1);
        }
        sbuf_add(out, "\n", 1);
    }
}

static void table_free(struct table *t) {
    for (size_t i = 0; i < t->rows * t->cols; i++)
        free(t->cells[i]);
    free(t->cells);
}

int retrieve_resolve_trace(sqlite3 *db, const char *id, char trace_id[33], char *err, size_t cap) {
    size_t n = strlen(id);
    bool digits = n > 0 && n < 8, hexs = n >= 8 && n <= 32;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)id[i])) digits = false;
        if (!isxdigit((unsigned char)id[i])) hexs = false;
    }
    sqlite3_stmt *st;
    if (digits) {
        if (sqlite3_prepare_v2(db, "SELECT trace_id FROM runs WHERE id = ?1", -1, &st, NULL) !=
            SQLITE_OK)
            return -EIO;
        sqlite3_bind_int64(st, 1, strtoll(id, NULL, 10));
    } else if (hexs) {
        /* Two traces at most, each found by one seek: a DISTINCT over the
         * range would read every span of the traces in it. */
        if (sqlite3_prepare_v2(db,
                               "SELECT trace_id FROM runs WHERE trace_id >= ?1 AND trace_id < ?2"
                               " UNION SELECT * FROM (SELECT trace_id FROM spans WHERE"
                               " trace_id >= ?1 AND trace_id < ?2 ORDER BY trace_id LIMIT 1)"
                               " UNION SELECT * FROM (SELECT trace_id FROM spans WHERE"
                               " trace_id > (SELECT min(trace_id) FROM spans WHERE trace_id >= ?1"
                               " AND trace_id < ?2) AND trace_id < ?2 ORDER BY trace_id LIMIT 1)"
                               " LIMIT 2",
                               -1, &st, NULL) != SQLITE_OK)
            return -EIO;
        char lo[33], hi[34];
        for (size_t i = 0; i <= n; i++)
            lo[i] = (char)tolower((unsigned char)id[i]);
        snprintf(hi, sizeof(hi), "%s~", lo);
        sqlite3_bind_text(st, 1, lo, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, hi, -1, SQLITE_TRANSIENT);
    } else {
        snprintf(err, cap,
                 "'%s' is neither a run number nor a trace id (8 to 32 hex digits); see"
                 " `otel-preload traces`",
                 id);
        return -EINVAL;
    }
    int rc = -ENOENT, found = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *t = (const char *)sqlite3_column_text(st, 0);
        if (t == NULL) continue;
        if (++found == 1) snprintf(trace_id, 33, "%s", t);
    }
    sqlite3_finalize(st);
    if (found == 1) rc = 0;
    if (found == 0) snprintf(err, cap, "no run or trace '%s' in the store", id);
    if (found > 1) {
        snprintf(err, cap, "'%s' matches more than one trace: give more digits", id);
        rc = -EINVAL;
    }
    return rc;
}

/* The first plan's budget, in SQLite virtual machine steps (thousands), the
 * cost of reading some 5,000 records by id; deterministic, unlike time. */
#define RETRIEVE_SET_BUDGET 100
struct budget {
    int left;
};

static int over_budget(void *arg) {
    struct budget *b = arg;
    return --b->left < 0;
}

int retrieve(sqlite3 *db, const struct retrieve_opts *o, struct sbuf *out, char *err, size_t cap) {
    if (o->what == RETRIEVE_METRICS) return retrieve_metrics(db, o, out, err, cap);
    const struct column *cols;
    size_t ncols;
    const char *from, *alias, *time_col, *order;
    int qkind = 0;
    switch (o->what) {
    case RETRIEVE_SPANS:
        cols = SPAN_COLS, ncols = sizeof(SPAN_COLS) / sizeof(SPAN_COLS[0]);
        from = "spans s", alias = "s", time_col = "s.start_ns",
        order = "s.start_ns DESC, s.id DESC";
        break;
    case RETRIEVE_LOGS:
        cols = LOG_COLS, ncols = sizeof(LOG_COLS) / sizeof(LOG_COLS[0]);
        from = "logs l", alias = "l", time_col = "l.time_ns", order = "l.time_ns DESC, l.id DESC";
        qkind = 1;
        break;
    default:
        cols = TRACE_COLS, ncols = sizeof(TRACE_COLS) / sizeof(TRACE_COLS[0]);
        from = "runs r", alias = "r", time_col = "r.start_ns", order = "r.start_ns DESC, r.id DESC";
        qkind = -1;
        break;
    }
    (void)qkind;
    int64_t limit = o->limit > 0 ? o->limit : RETRIEVE_DEFAULT_LIMIT;
    if (limit > RETRIEVE_MAX_LIMIT) limit = RETRIEVE_MAX_LIMIT;

    struct sbuf sql = {0};
    sbuf_puts(&sql, "SELECT ");
    for (size_t i = 0; i < ncols; i++)
        sbuf_printf(&sql, "%s%s", i ? ", " : "", cols[i].expr);
    if (o->what == RETRIEVE_SPANS) sbuf_puts(&sql, ", s.id, s.resource_id");
    if (o->what == RETRIEVE_LOGS) sbuf_puts(&sql, ", l.id, l.resource_id");
    sbuf_printf(&sql, " FROM %s WHERE 1", from);
    if (o->from_ns > 0) sbuf_printf(&sql, " AND %s >= ?1", time_col);
    if (o->to_ns > 0) sbuf_printf(&sql, " AND %s < ?2", time_col);
    char trace[33] = "";
    if (o->trace_id != NULL && o->trace_id[0] != '\0') {
        int rc = retrieve_resolve_trace(db, o->trace_id, trace, err, cap);
        if (rc != 0) {
            sbuf_free(&sql);
            return rc == -ENOENT ? -EINVAL : rc;
        }
        sbuf_printf(&sql, " AND %s.trace_id = ?3", alias);
    }
    int last_param = o->from_ns > 0 ? 1 : 0; /* the highest ?N before the filter's "?"s */
    if (o->to_ns > 0) last_param = 2;
    if (trace[0]) last_param = 3;
    if (o->name != NULL && o->name[0] != '\0') {
        sbuf_printf(&sql, " AND %s.name = ?4", alias);
        last_param = 4;
    }
    if (o->after_id > 0 && o->what != RETRIEVE_TRACES) {
        sbuf_printf(&sql, " AND %s.id > ?5", alias);
        last_param = 5;
    }
#ifdef OTELP_HAVE_QUERY
    struct query *q = NULL;
    struct query_sql qs;
    bool have_q = false;
    memset(&qs, 0, sizeof(qs));
#else
    (void)last_param;
#endif
    if (o->where != NULL && o->where[0] != '\0') {
#ifdef OTELP_HAVE_QUERY
        struct query_error qe;
        if (qkind < 0) {
            snprintf(err, cap, "--where filters spans, logs and metrics, not the list of runs");
            sbuf_free(&sql);
            return -EINVAL;
        }
        enum query_signal sig = qkind == 0 ? QUERY_SPANS : QUERY_LOGS;
        if (query_parse(o->where, sig, &q, &qe) < 0 || query_compile_sql(q, alias, &qs, &qe) < 0) {
            char caret[600] = "";
            if (qe.column > 0) query_error_caret(o->where, &qe, caret, sizeof(caret));
            snprintf(err, cap, "%s%s%s", qe.message, caret[0] ? "\n" : "", caret);
            query_free(q);
            sbuf_free(&sql);
            return -EINVAL;
        }
        have_q = true;
        sbuf_printf(&sql, " AND (%s)", qs.text);
#else
        snprintf(err, cap,
                 "--where is not available yet: the filter grammar (docs/QUERY.md) is not in"
                 " this build; use --name, --trace, --since/--from/--to");
        sbuf_free(&sql);
        return -EINVAL;
#endif
    }
    sbuf_printf(&sql, " ORDER BY %s LIMIT %lld", order, (long long)limit);
    /* A filter on attributes is a set of ids (s.id IN (SELECT ...)): SQLite
     * fetches every record of the set, then sorts them by time, which is
     * quick for a rare value and slow for a common one (100,000 matches:
     * 100,000 rows read for 100 kept). Walking the time index newest first
     * and testing each id against the set is the other way round. The first
     * plan runs with a budget; past it, the second (docs/QUERY.md). */
    int attempt = 0;
    const char *by_time = o->what == RETRIEVE_SPANS  ? "spans s INDEXED BY spans_start"
                          : o->what == RETRIEVE_LOGS ? "logs l INDEXED BY logs_time"
                                                     : NULL;
    bool adaptive = by_time != NULL && !trace[0] && o->after_id <= 0;
#ifdef OTELP_HAVE_QUERY
    adaptive = adaptive && have_q && strstr(qs.text, " IN (SELECT ") != NULL;
#else
    adaptive = false;
#endif
    struct sbuf sql2 = {0};
    if (adaptive) { /* the same text, the table named with its time index */
        char plain[64];
        snprintf(plain, sizeof(plain), " FROM %s WHERE 1", from);
        const char *at = strstr(sbuf_cstr(&sql), plain);
        sbuf_add(&sql2, sql.data, (size_t)(at - sql.data));
        sbuf_printf(&sql2, " FROM %s WHERE 1%s", by_time, at + strlen(plain));
    }
    sqlite3_stmt *st;
    int rc = 0;
    struct budget budget = {.left = RETRIEVE_SET_BUDGET};
again:
    if (sql.failed || sql2.failed ||
        sqlite3_prepare_v2(db, sbuf_cstr(attempt == 0 ? &sql : &sql2), -1, &st, NULL) !=
            SQLITE_OK) {
        snprintf(err, cap, "query failed: %s", sqlite3_errmsg(db));
        sbuf_free(&sql);
        sbuf_free(&sql2);
#ifdef OTELP_HAVE_QUERY
        if (have_q) query_sql_free(&qs);
        query_free(q);
#endif
        return -EIO;
    }
    if (adaptive && attempt == 0) sqlite3_progress_handler(db, 1000, over_budget, &budget);
    if (o->from_ns > 0) sqlite3_bind_int64(st, 1, o->from_ns);
    if (o->to_ns > 0) sqlite3_bind_int64(st, 2, o->to_ns);
    if (trace[0]) sqlite3_bind_text(st, 3, trace, -1, SQLITE_TRANSIENT);
    if (o->name != NULL && o->name[0] != '\0')
        sqlite3_bind_text(st, 4, o->name, -1, SQLITE_TRANSIENT);
    if (o->after_id > 0 && o->what != RETRIEVE_TRACES) sqlite3_bind_int64(st, 5, o->after_id);
#ifdef OTELP_HAVE_QUERY
    /* SQLite numbers an anonymous "?" one past the highest number before it */
    if (have_q) query_sql_bind(&qs, st, last_param + 1);
#endif

    /* Rows come newest first (so the limit keeps the latest); print oldest first. */
    struct sbuf *rows = NULL;
    size_t nrows = 0, caprows = 0;
    struct table t = {.cols = 0};
    const char *headers[32];
    size_t tcols = 0;
    for (size_t i = 0; i < ncols; i++)
        if (cols[i].in_table) headers[tcols++] = cols[i].header;
    t.cols = tcols;
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (o->format == RETRIEVE_TABLE) {
            char *row[32];
            size_t k = 0;
            for (size_t i = 0; i < ncols; i++) {
                if (!cols[i].in_table) continue;
                char cell[512];
                cell_text(st, (int)i, cols[i].fmt, cell, sizeof(cell));
                row[k++] = strdup(cell);
            }
            if (table_add(&t, row) != 0) {
                rc = -ENOMEM;
                break;
            }
            continue;
        }
        if (nrows == caprows) {
            size_t nc = caprows ? caprows * 2 : 64;
            struct sbuf *p = realloc(rows, nc * sizeof(*p));
            if (p == NULL) {
                rc = -ENOMEM;
                break;
            }
            rows = p;
            caprows = nc;
        }
        struct sbuf *b = &rows[nrows++];
        memset(b, 0, sizeof(*b));
        if (o->format == RETRIEVE_CSV) {
            for (size_t i = 0; i < ncols; i++) {
                char cell[4096];
                if (cols[i].fmt == F_TIME || cols[i].fmt == F_DUR || cols[i].fmt == F_STATUS ||
                    cols[i].fmt == F_KIND || cols[i].fmt == F_SEV) {
                    /* raw numbers in CSV: what pandas wants */
                    if (sqlite3_column_type(st, (int)i) == SQLITE_NULL)
                        cell[0] = '\0';
                    else
                        snprintf(cell, sizeof(cell), "%lld",
                                 (long long)sqlite3_column_int64(st, (int)i));
                } else {
                    cell_text(st, (int)i, cols[i].fmt, cell, sizeof(cell));
                }
                if (i) sbuf_add(b, ",", 1);
                sbuf_csv_field(b, cell);
            }
            sbuf_add(b, "\n", 1);
        } else {
            sbuf_add(b, "{", 1);
            for (size_t i = 0; i < ncols; i++) {
                sbuf_printf(b, "%s\"%s\":", i ? "," : "", cols[i].key);
                json_column(b, st, (int)i, cols[i].fmt);
            }
            int64_t id = sqlite3_column_int64(st, (int)ncols);
            int64_t res = sqlite3_column_int64(st, (int)ncols + 1);
            if (o->what != RETRIEVE_TRACES) sbuf_printf(b, ",\"id\":%lld", (long long)id);
            if (o->what == RETRIEVE_SPANS) json_span_extras(db, b, id, res);
            if (o->what == RETRIEVE_LOGS) {
                sbuf_puts(b, ",\"attributes\":");
                json_attr_rows(db, b,
                               "SELECT key, type, value FROM log_attrs WHERE log_id = ?1"
                               " ORDER BY key",
                               id);
                sbuf_puts(b, ",\"resource\":");
                json_attr_rows(db, b,
                               "SELECT key, type, value FROM resource_attrs WHERE"
                               " resource_id = ?1 ORDER BY key",
                               res);
            }
            sbuf_add(b, "}", 1);
        }
    }
    if (adaptive && attempt == 0) {
        sqlite3_progress_handler(db, 0, NULL, NULL);
        if (step == SQLITE_INTERRUPT) { /* over budget: the other plan, from the start */
            sqlite3_finalize(st);
            for (size_t r = 0; r < nrows; r++)
                sbuf_free(&rows[r]);
            free(rows);
            table_free(&t);
            attempt = 1;
            goto again;
        }
    }
    sbuf_free(&sql);
    sbuf_free(&sql2);
    if (rc == 0 && step != SQLITE_DONE) {
        snprintf(err, cap, "query failed: %s", sqlite3_errmsg(db));
        rc = -EIO;
    }
    sqlite3_finalize(st);
#ifdef OTELP_HAVE_QUERY
    if (have_q) query_sql_free(&qs);
    query_free(q);
#endif
    if (rc == 0) {
        if (o->format == RETRIEVE_TABLE) {
            /* reverse rows into chronological order */
            for (size_t a = 0, z = t.rows ? t.rows - 1 : 0; a < z; a++, z--)
                for (size_t c = 0; c < t.cols; c++) {
                    char *tmp = t.cells[a * t.cols + c];
                    t.cells[a * t.cols + c] = t.cells[z * t.cols + c];
                    t.cells[z * t.cols + c] = tmp;
                }
            render_table(out, headers, &t, 0);
        } else if (o->format == RETRIEVE_CSV) {
            for (size_t i = 0; i < ncols; i++) {
                if (i) sbuf_add(out, ",", 1);
                sbuf_puts(out, cols[i].key);
            }
            sbuf_add(out, "\n", 1);
            for (size_t r = nrows; r-- > 0;)
                sbuf_add(out, rows[r].data, rows[r].len);
        } else {
            sbuf_puts(out, "[");
            for (size_t r = nrows; r-- > 0;) {
                sbuf_add(out, rows[r].data, rows[r].len);
                if (r) sbuf_puts(out, ",\n");
            }
            sbuf_puts(out, "]\n");
        }
    }
    for (size_t r = 0; r < nrows; r++)
        sbuf_free(&rows[r]);
    free(rows);
    table_free(&t);
    if (rc == 0 && out->failed) rc = -ENOMEM;
    return rc;
}

/* ---- one trace as a tree --------------------------------------------- */

/* A trace of 10,000 spans is read, linked and rendered in a few
 * milliseconds; what a short-lived CLI pays for most on a VM is the fresh
 * pages it touches (an anonymous page fault costs 10-15 us there). So the
 * nodes are small (ids as numbers, names interned once in an arena, links as
 * 32-bit indexes), sorting moves 32-bit indexes rather than nodes, and the
 * caller may give `out` a sink so that the rendering is written out as it
 * goes instead of held whole. */

/* The flags of a node. */
enum {
    N_PID = 1,          /* has a pid */
    N_EXIT = 2,         /* has an exit code */
    N_SIG = 4,          /* has a signal */
    N_PARENT = 8,       /* has a parent span id */
    N_SPAN_TEXT = 16,   /* span: an arena offset (see tree_id) */
    N_PARENT_TEXT = 32, /* parent: the same */
    N_PID_WIDE = 64,    /* pid: an index into tree.wide (a value past 32 bits) */
    N_EXIT_WIDE = 128,  /* exit_code: the same */
    N_SIG_WIDE = 256,   /* sig: the same */
};

struct node { /* 64 bytes */
    int64_t start, dur;
    uint64_t span, parent;              /* the ids as numbers, or with N_*_TEXT arena offsets */
    uint32_t name;                      /* arena offset */
    uint32_t first_child, next_sibling; /* index+1, 0: none */
    int32_t pid, exit_code, sig;        /* with N_*_WIDE: index into tree.wide */
    int32_t status;
    uint16_t flags;
};

struct tree {
    struct node *n;
    uint32_t count;
    struct sbuf arena; /* NUL-terminated strings */
    uint32_t *names;   /* name interning: arena offset+1 per slot */
    size_t names_cap, names_used;
    int64_t *wide; /* the rare pid, exit code or signal past 32 bits */
    size_t wide_count, wide_cap;
    bool failed;
};

static uint64_t hash_bytes(const char *s, size_t len) {
    uint64_t h = 14695981039346656037ULL;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    return h;
}

static uint32_t arena_put(struct tree *t, const char *s, size_t len) {
    size_t off = t->arena.len;
    if (off > UINT32_MAX - len - 1) {
        t->failed = true;
        return 0;
    }
    sbuf_add(&t->arena, s, len);
    sbuf_add(&t->arena, "", 1);
    if (t->arena.failed) t->failed = true;
    return (uint32_t)off;
}

static const char *arena_str(const struct tree *t, uint64_t off) {
    return t->failed ? "?" : t->arena.data + off;
}

/* The arena offset of name s (stored once per distinct name). */
static uint32_t intern(struct tree *t, const char *s) {
    size_t len = strlen(s);
    if (t->names_used * 2 >= t->names_cap) {
        size_t ncap = t->names_cap ? t->names_cap * 2 : 64;
        uint32_t *p = calloc(ncap, sizeof(*p));
        if (p == NULL) {
            t->failed = true;
            return 0;
        }
        for (size_t i = 0; i < t->names_cap; i++) {
            if (t->names[i] == 0) continue;
            const char *e = t->arena.data + t->names[i] - 1;
            size_t h = hash_bytes(e, strlen(e)) & (ncap - 1);
            while (p[h] != 0)
                h = (h + 1) & (ncap - 1);
            p[h] = t->names[i];
        }
        free(t->names);
        t->names = p;
        t->names_cap = ncap;
    }
    size_t h = hash_bytes(s, len) & (t->names_cap - 1);
    for (; t->names[h] != 0; h = (h + 1) & (t->names_cap - 1)) {
        const char *e = t->arena.data + t->names[h] - 1;
        if (strncmp(e, s, len) == 0 && e[len] == '\0') return t->names[h] - 1;
    }
    uint32_t off = arena_put(t, s, len);
    if (t->failed) return 0;
    t->names[h] = off + 1;
    t->names_used++;
    return off;
}

static int hexval(char c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* An id of exactly 16 lowercase hex digits (what the store writes) is kept
 * as its value; anything else as its text (its first 16 characters) in the
 * arena, and *text is set. */
static uint64_t tree_id(struct tree *t, const char *s, bool *text) {
    if (s == NULL) s = "";
    size_t len = strnlen(s, 16);
    *text = false;
    if (len == 16) {
        uint64_t v = 0;
        size_t i = 0;
        for (; i < 16; i++) {
            int d = hexval(s[i]);
            if (d < 0) break;
            v = v << 4 | (uint64_t)d;
        }
        if (i == 16) return v;
    }
    *text = true;
    return arena_put(t, s, len);
}

static bool tree_id_eq(const struct tree *t, uint64_t a, bool a_text, uint64_t b, bool b_text) {
    if (a_text != b_text) return false;
    if (!a_text) return a == b;
    return strcmp(arena_str(t, a), arena_str(t, b)) == 0;
}

static uint64_t tree_id_hash(const struct tree *t, uint64_t a, bool text) {
    if (!text) return (a ^ (a >> 29)) * 0xbf58476d1ce4e5b9ULL;
    const char *s = arena_str(t, a);
    return hash_bytes(s, strlen(s));
}

/* v as 32 bits, or (flag set) as an index into t->wide. */
static int32_t narrow(struct tree *t, int64_t v, uint16_t *flags, uint16_t flag) {
    if (v >= INT32_MIN && v <= INT32_MAX) return (int32_t)v;
    if (t->wide_count == t->wide_cap) {
        size_t c2 = t->wide_cap ? t->wide_cap * 2 : 8;
        int64_t *p = c2 < INT32_MAX ? realloc(t->wide, c2 * sizeof(*p)) : NULL;
        if (p == NULL) {
            t->failed = true;
            return 0;
        }
        t->wide = p;
        t->wide_cap = c2;
    }
    t->wide[t->wide_count] = v;
    *flags |= flag;
    return (int32_t)t->wide_count++;
}

static long long widen(const struct tree *t, int32_t v, uint16_t flags, uint16_t flag) {
    return flags & flag ? (long long)t->wide[v] : (long long)v;
}

/* prefix and v in decimal (sbuf_printf's "%s%lld", without its parsing). */
static void add_int(struct sbuf *out, const char *prefix, long long v) {
    char d[24], *p = d + sizeof(d);
    unsigned long long u = v < 0 ? 0 - (unsigned long long)v : (unsigned long long)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    if (v < 0) *--p = '-';
    sbuf_puts(out, prefix);
    sbuf_add(out, p, (size_t)(d + sizeof(d) - p));
}

static void render_node(struct sbuf *out, const struct tree *t, uint32_t i, int depth, bool json) {
    const struct node *x = &t->n[i];
    if (depth > 256) { /* bounded recursion: a deeper tree is cut here */
        sbuf_puts(out, json ? "{\"truncated\":true}" : "  ...(deeper spans not shown)\n");
        return;
    }
    const char *name = arena_str(t, x->name);
    uint16_t f = x->flags;
    if (json) {
        sbuf_puts(out, "{\"span_id\":\"");
        if (f & N_SPAN_TEXT)
            sbuf_puts(out, arena_str(t, x->span));
        else {
            char h[16];
            for (int k = 0; k < 16; k++)
                h[k] = "0123456789abcdef"[x->span >> (60 - 4 * k) & 15];
            sbuf_add(out, h, 16);
        }
        sbuf_puts(out, "\",\"name\":");
        sbuf_json_str(out, name, strlen(name));
        add_int(out, ",\"start_ns\":", x->start);
        add_int(out, ",\"duration_ns\":", x->dur);
        add_int(out, ",\"status_code\":", x->status);
        if (f & N_PID) add_int(out, ",\"pid\":", widen(t, x->pid, f, N_PID_WIDE));
        if (f & N_EXIT) add_int(out, ",\"exit_code\":", widen(t, x->exit_code, f, N_EXIT_WIDE));
        if (f & N_SIG) sbuf_printf(out, ",\"signal\":%lld", widen(t, x->sig, f, N_SIG_WIDE));
        sbuf_puts(out, ",\"children\":[");
        bool first = true;
        for (uint32_t c = x->first_child; c != 0; c = t->n[c - 1].next_sibling) {
            if (!first) sbuf_add(out, ",", 1);
            first = false;
            render_node(out, t, c - 1, depth + 1, json);
        }
        sbuf_puts(out, "]}");
        return;
    }
    static const char indent[] = "                                                                "
                                 "                                                                ";
    char d[32];
    retrieve_duration(x->dur, d, sizeof(d));
    sbuf_add(out, indent, (size_t)(depth < 64 ? depth : 64) * 2);
    sbuf_puts(out, name);
    sbuf_add(out, "  ", 2);
    sbuf_puts(out, d);
    if (f & N_PID) add_int(out, "  pid ", widen(t, x->pid, f, N_PID_WIDE));
    long long code = f & N_EXIT ? widen(t, x->exit_code, f, N_EXIT_WIDE) : 0;
    if (f & N_SIG)
        sbuf_printf(out, "  killed by signal %lld", widen(t, x->sig, f, N_SIG_WIDE));
    else if (code != 0)
        sbuf_printf(out, "  exit %lld", code);
    if (x->status == 2 && !(f & (N_EXIT | N_SIG))) sbuf_puts(out, "  ERROR");
    sbuf_add(out, "\n", 1);
    for (uint32_t c = x->first_child; c != 0; c = t->n[c - 1].next_sibling)
        render_node(out, t, c - 1, depth + 1, json);
}

/* Sorts the node indexes a[0..count) by start time, stably (spans that
 * start together stay in the order they were read, as the stable sort of
 * whole nodes this replaces kept them): a bottom-up merge sort; tmp holds
 * count more. Returns the sorted array (a or tmp). */
static uint32_t *sort_by_start(uint32_t *a, uint32_t *tmp, size_t count, const struct node *n) {
    for (size_t w = 1; w < count; w *= 2) {
        for (size_t lo = 0; lo < count; lo += 2 * w) {
            size_t mid = lo + w < count ? lo + w : count;
            size_t hi = lo + 2 * w < count ? lo + 2 * w : count, i = lo, j = mid, k = lo;
            if (mid < hi && n[a[mid - 1]].start > n[a[mid]].start) {
                while (i < mid && j < hi)
                    tmp[k++] = n[a[j]].start < n[a[i]].start ? a[j++] : a[i++];
            }
            while (i < mid)
                tmp[k++] = a[i++];
            while (j < hi)
                tmp[k++] = a[j++];
        }
        uint32_t *swap = a;
        a = tmp;
        tmp = swap;
    }
    return a;
}

static void tree_free(struct tree *t) {
    free(t->n);
    free(t->names);
    free(t->wide);
    sbuf_free(&t->arena);
}

/* Reads the trace's spans into t->n, in the order the store returns them. */
static int tree_read(sqlite3 *db, const char *trace, struct tree *t, char *err, size_t cap) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db,
                           "SELECT span_id, parent_span_id, name, start_ns, duration_ns, pid,"
                           " exit_code, signal, status_code FROM spans WHERE trace_id = ?1",
                           -1, &st, NULL) != SQLITE_OK) {
        snprintf(err, cap, "query failed: %s", sqlite3_errmsg(db));
        return -EIO;
    }
    sqlite3_bind_text(st, 1, trace, -1, SQLITE_STATIC);
    size_t ncap = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (t->count == ncap) {
            size_t c2 = ncap ? ncap * 2 : 256;
            struct node *p = c2 < UINT32_MAX ? realloc(t->n, c2 * sizeof(*p)) : NULL;
            if (p == NULL) break; /* the spans read so far */
            t->n = p;
            ncap = c2;
        }
        struct node *x = &t->n[t->count++];
        memset(x, 0, sizeof(*x));
        bool text;
        x->span = tree_id(t, (const char *)sqlite3_column_text(st, 0), &text);
        if (text) x->flags |= N_SPAN_TEXT;
        const char *parent = (const char *)sqlite3_column_text(st, 1);
        if (parent != NULL && parent[0] != '\0') {
            x->flags |= N_PARENT;
            x->parent = tree_id(t, parent, &text);
            if (text) x->flags |= N_PARENT_TEXT;
        }
        const char *name = (const char *)sqlite3_column_text(st, 2);
        x->name = intern(t, name != NULL ? name : "?");
        x->start = sqlite3_column_int64(st, 3);
        x->dur = sqlite3_column_int64(st, 4);
        if (sqlite3_column_type(st, 5) != SQLITE_NULL) {
            x->flags |= N_PID;
            x->pid = narrow(t, sqlite3_column_int64(st, 5), &x->flags, N_PID_WIDE);
        }
        if (sqlite3_column_type(st, 6) != SQLITE_NULL) {
            x->flags |= N_EXIT;
            x->exit_code = narrow(t, sqlite3_column_int64(st, 6), &x->flags, N_EXIT_WIDE);
        }
        if (sqlite3_column_type(st, 7) != SQLITE_NULL) {
            x->flags |= N_SIG;
            x->sig = narrow(t, sqlite3_column_int64(st, 7), &x->flags, N_SIG_WIDE);
        }
        x->status = sqlite3_column_int(st, 8);
    }
    sqlite3_finalize(st);
    if (t->failed) {
        snprintf(err, cap, "out of memory");
        return -ENOMEM;
    }
    return 0;
}

/* Links each node to its parent (children in start order); returns the
 * first root + 1 (the roots are linked as siblings), or 0 when t has no
 * nodes. -ENOMEM as a negative value. */
static int64_t tree_link(struct tree *t) {
    uint32_t count = t->count;
    struct node *n = t->n;
    /* the nodes in start order, as indexes */
    uint32_t *order_mem = malloc(((size_t)count * 2 + 1) * sizeof(*order_mem));
    /* span id -> index+1: open addressing, twice the size */
    size_t hcap = 16;
    while (hcap < (size_t)count * 2)
        hcap *= 2;
    uint32_t *slots = calloc(hcap, sizeof(*slots));
    if (order_mem == NULL || slots == NULL) {
        free(order_mem);
        free(slots);
        return -ENOMEM;
    }
    for (uint32_t i = 0; i < count; i++)
        order_mem[i] = i;
    const uint32_t *order = sort_by_start(order_mem, order_mem + count, count, n);
    /* in start order: of spans with the same id, the first is found */
    for (uint32_t k = 0; k < count; k++) {
        uint32_t i = order[k];
        size_t h = tree_id_hash(t, n[i].span, n[i].flags & N_SPAN_TEXT) & (hcap - 1);
        while (slots[h] != 0)
            h = (h + 1) & (hcap - 1);
        slots[h] = i + 1;
    }
    /* children in start order: link from the last to the first; the roots
     * the same way, as the children of a node that is not there */
    uint32_t first_root = 0;
    for (uint32_t k = count; k-- > 0;) {
        uint32_t i = order[k], parent = 0;
        if (n[i].flags & N_PARENT) {
            bool text = n[i].flags & N_PARENT_TEXT;
            size_t h = tree_id_hash(t, n[i].parent, text) & (hcap - 1);
            for (; slots[h] != 0; h = (h + 1) & (hcap - 1)) {
                const struct node *c = &n[slots[h] - 1];
                if (tree_id_eq(t, c->span, c->flags & N_SPAN_TEXT, n[i].parent, text)) {
                    parent = slots[h];
                    break;
                }
            }
        }
        if (parent != 0 && parent != i + 1) {
            n[i].next_sibling = n[parent - 1].first_child;
            n[parent - 1].first_child = i + 1;
        } else {
            n[i].next_sibling = first_root;
            first_root = i + 1;
        }
    }
    free(slots);
    free(order_mem);
    return first_root;
}

int retrieve_trace_tree(sqlite3 *db, const char *id, enum retrieve_format format, struct sbuf *out,
                        char *err, size_t cap) {
    char trace[33];
    int rc = retrieve_resolve_trace(db, id, trace, err, cap);
    if (rc != 0) return rc;
    struct tree t = {0};
    rc = tree_read(db, trace, &t, err, cap);
    int64_t first_root = rc == 0 ? tree_link(&t) : 0;
    if (rc != 0 || first_root < 0) {
        tree_free(&t);
        if (rc == 0) snprintf(err, cap, "out of memory");
        return rc != 0 ? rc : -ENOMEM;
    }
    bool json = format == RETRIEVE_JSON;
    if (json)
        sbuf_printf(out, "{\"trace_id\":\"%s\",\"span_count\":%u,\"roots\":[", trace, t.count);
    else
        sbuf_printf(out, "trace %s, %u spans\n", trace, t.count);
    for (uint32_t r = (uint32_t)first_root; r != 0; r = t.n[r - 1].next_sibling) {
        render_node(out, &t, r - 1, 0, json);
        if (json && t.n[r - 1].next_sibling != 0) sbuf_add(out, ",", 1);
    }
    if (json) sbuf_puts(out, "]}\n");
    tree_free(&t);
    if (out->failed) {
        snprintf(err, cap, "out of memory, or the output could not be written");
        return -ENOMEM;
    }
    return 0;
}

void retrieve_time_text(int64_t ns, char *out, size_t cap) {
    fmt_time(ns, out, cap);
}

int retrieve_json_attrs(sqlite3 *db, struct sbuf *b, const char *sql, int64_t owner) {
    return json_attr_rows(db, b, sql, owner);
}

void retrieve_render_table(struct sbuf *out, const char *const *headers, char **cells, size_t rows,
                           size_t cols) {
    struct table t = {.cells = cells, .rows = rows, .cols = cols, .cap = rows};
    render_table(out, headers, &t, 0);
}
