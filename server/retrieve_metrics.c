/* retrieve_metrics: the metrics retriever (`otel-preload metrics`, GET /api/v1/metrics and
 * /api/v1/metric-names): the list of metric names, one metric's series with their points, and
 * aggregates over them (sum, avg, min, max, last, rate; per step). Depends on libsqlite3, sbuf.h,
 * retrieve.h and query.h (the filter grammar, when it is built).
 *
 * Raw points are read newest first up to the limit (so the limit keeps the
 * latest) and printed oldest first, grouped by series. Aggregates stream
 * over every point in the window ordered by series and time, so their
 * memory does not grow with the number of points: one accumulator per
 * (series, step bucket) at a time.
 */
#include "server/retrieve.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef OTELP_HAVE_QUERY
#include "server/query.h"
#endif

#define RM_DEFAULT_SERIES_LIMIT 10000 /* JSON series: raw points read by default */
#define RM_NAMES_LIMIT 10000

static const char *const TYPE_NAMES[] = {"none",      "gauge",         "sum",
                                         "histogram", "exp_histogram", "summary"};

static const char *type_name(int t) {
    return t >= 0 && t <= 5 ? TYPE_NAMES[t] : "none";
}

static const char *temporality_name(int t) {
    return t == 1 ? "delta" : t == 2 ? "cumulative" : NULL;
}

int retrieve_metric_agg(const char *name) {
    static const char *const names[] = {"", "sum", "avg", "min", "max", "last", "rate"};
    if (name == NULL || name[0] == '\0') return RETRIEVE_AGG_NONE;
    for (int i = 1; i < (int)(sizeof(names) / sizeof(names[0])); i++)
        if (strcmp(name, names[i]) == 0) return i;
    return -1;
}

static const char *agg_name(int agg) {
    static const char *const names[] = {"", "sum", "avg", "min", "max", "last", "rate"};
    return agg > 0 && agg <= 6 ? names[agg] : "";
}

/* A double as JSON: finite as a number (shortest exact form), else null. */
static void json_num(struct sbuf *b, double d) {
    if (!isfinite(d)) {
        sbuf_puts(b, "null");
        return;
    }
    char tmp[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*g", prec, d);
        if (strtod(tmp, NULL) == d) break;
    }
    sbuf_puts(b, tmp);
}

static void json_col(struct sbuf *b, sqlite3_stmt *st, int i) {
    switch (sqlite3_column_type(st, i)) {
    case SQLITE_INTEGER:
        sbuf_printf(b, "%lld", (long long)sqlite3_column_int64(st, i));
        break;
    case SQLITE_FLOAT:
        json_num(b, sqlite3_column_double(st, i));
        break;
    case SQLITE_TEXT:
        sbuf_json_str(b, (const char *)sqlite3_column_text(st, i),
                      (size_t)sqlite3_column_bytes(st, i));
        break;
    default:
        sbuf_puts(b, "null");
        break;
    }
}

/* A text column as a JSON string, NULL as "". */
static void json_text(struct sbuf *b, sqlite3_stmt *st, int i) {
    const char *t = (const char *)sqlite3_column_text(st, i);
    sbuf_json_str(b, t ? t : "", t ? (size_t)sqlite3_column_bytes(st, i) : 0);
}

/* A column's text for a table or CSV cell (numbers: %.6g in tables). */
static void cell(sqlite3_stmt *st, int i, bool exact, char *out, size_t cap) {
    out[0] = '\0';
    switch (sqlite3_column_type(st, i)) {
    case SQLITE_INTEGER:
        snprintf(out, cap, "%lld", (long long)sqlite3_column_int64(st, i));
        break;
    case SQLITE_FLOAT:
        snprintf(out, cap, exact ? "%.17g" : "%.6g", sqlite3_column_double(st, i));
        break;
    case SQLITE_TEXT:
        snprintf(out, cap, "%s", (const char *)sqlite3_column_text(st, i));
        break;
    default:
        break;
    }
}

static char *xstrdup(const char *s) {
    char *p = strdup(s ? s : "");
    return p;
}

/* ---- the filter shared by every query --------------------------------- */

/* Conditions on metric_points m: ?1 from, ?2 to, ?3 the run's trace, ?4
 * name, ?5 type, then the filter's named parameters. */
struct conds {
    struct sbuf sql;
    char trace[33];
#ifdef OTELP_HAVE_QUERY
    struct query *q;
    struct query_sql qs;
    bool have_q;
#endif
};

static void conds_free(struct conds *c) {
    sbuf_free(&c->sql);
#ifdef OTELP_HAVE_QUERY
    if (c->have_q) query_sql_free(&c->qs);
    query_free(c->q);
#endif
}

/* by_name: one metric's points (?4, ?5). in_series_order: the caller reads
 * them by stream and time (aggregates): go through the streams even
 * without a filter, so the index gives that order. */
static int conds_build(sqlite3 *db, const struct retrieve_opts *o, bool by_name,
                       bool in_series_order, struct conds *c, char *err, size_t cap) {
    memset(c, 0, sizeof(*c));
    if (o->from_ns > 0) sbuf_puts(&c->sql, " AND m.time_ns >= ?1");
    if (o->to_ns > 0) sbuf_puts(&c->sql, " AND m.time_ns < ?2");
    if (o->trace_id != NULL && o->trace_id[0] != '\0') {
        int rc = retrieve_resolve_trace(db, o->trace_id, c->trace, err, cap);
        if (rc != 0) return rc == -ENOENT ? -EINVAL : rc;
        sbuf_puts(&c->sql, " AND m.run_id = (SELECT id FROM runs WHERE trace_id = ?3)");
    }
    bool where = o->where != NULL && o->where[0] != '\0';
    if (by_name && !where)
        sbuf_puts(&c->sql, in_series_order ? " AND m.stream_id IN (SELECT id FROM metric_streams"
                                             " WHERE name = ?4 AND type = ?5)"
                                           : " AND m.name = ?4 AND m.type = ?5");
    if (where) {
#ifdef OTELP_HAVE_QUERY
        struct query_error qe;
        /* Without `value`, a filter only looks at what a stream has (its
         * attributes, its resource's, name, unit, type, service): it picks
         * streams, and their points come through the (stream_id, time_ns)
         * index instead of a scan of every point of the name. */
        bool by_stream = false;
        int rc = query_parse(o->where, QUERY_METRICS, &c->q, &qe);
        if (rc == 0) {
            by_stream = by_name && !query_uses_field(c->q, QUERY_F_VALUE);
            rc = query_compile_sql(c->q, by_stream ? "s" : "m", &c->qs, &qe);
        }
        if (rc < 0) {
            char caret[600] = "";
            if (qe.column > 0) query_error_caret(o->where, &qe, caret, sizeof(caret));
            snprintf(err, cap, "%s%s%s", qe.message, caret[0] ? "\n" : "", caret);
            return -EINVAL;
        }
        c->have_q = true;
        if (by_stream)
            sbuf_printf(&c->sql,
                        " AND m.stream_id IN (SELECT s.stream_id FROM (SELECT id AS stream_id,"
                        " resource_id, name, unit, type, service_name FROM metric_streams WHERE"
                        " name = ?4 AND type = ?5) s WHERE (%s))",
                        c->qs.text);
        else if (by_name)
            sbuf_printf(&c->sql, " AND m.name = ?4 AND m.type = ?5 AND (%s)", c->qs.text);
        else
            sbuf_printf(&c->sql, " AND (%s)", c->qs.text);
#else
        snprintf(err, cap, "--where is not available in this build");
        return -EINVAL;
#endif
    }
    return c->sql.failed ? -ENOMEM : 0;
}

static int conds_bind(const struct retrieve_opts *o, const struct conds *c, sqlite3_stmt *st,
                      int type) {
    if (o->from_ns > 0) sqlite3_bind_int64(st, 1, o->from_ns);
    if (o->to_ns > 0) sqlite3_bind_int64(st, 2, o->to_ns);
    if (c->trace[0]) sqlite3_bind_text(st, 3, c->trace, -1, SQLITE_TRANSIENT);
    if (type > 0) {
        sqlite3_bind_text(st, 4, o->name, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int(st, 5, type);
    }
#ifdef OTELP_HAVE_QUERY
    if (c->have_q && query_sql_bind(&c->qs, st, 6) != SQLITE_OK) return -EIO;
#endif
    return 0;
}

static int prepare(sqlite3 *db, struct sbuf *sql, sqlite3_stmt **st, char *err, size_t cap) {
    if (sql->failed) {
        snprintf(err, cap, "out of memory");
        return -ENOMEM;
    }
    if (sqlite3_prepare_v2(db, sbuf_cstr(sql), -1, st, NULL) != SQLITE_OK) {
        snprintf(err, cap, "query failed: %s", sqlite3_errmsg(db));
        return -EIO;
    }
    return 0;
}

/* ---- the list of names ------------------------------------------------ */

static int metric_names(sqlite3 *db, const struct retrieve_opts *o, struct sbuf *out, char *err,
                        size_t cap) {
    bool filtered = (o->where && o->where[0]) || (o->trace_id && o->trace_id[0]) ||
                    o->from_ns > 0 || o->to_ns > 0;
    struct conds c;
    int rc = conds_build(db, o, false, false, &c, err, cap);
    if (rc != 0) {
        conds_free(&c);
        return rc;
    }
    struct sbuf sql = {0};
    /* SQLite takes the bare columns from the row of max(): the latest stream's */
    if (filtered)
        sbuf_printf(&sql,
                    "SELECT s.name, max(m.time_ns), s.description, s.unit, s.type, s.temporality,"
                    " s.monotonic, count(DISTINCT m.stream_id), count(*), min(m.time_ns)"
                    " FROM metric_points m JOIN metric_streams s ON s.id = m.stream_id WHERE 1%s"
                    " GROUP BY s.name ORDER BY s.name LIMIT %lld",
                    sbuf_cstr(&c.sql), (long long)(o->limit > 0 ? o->limit : RM_NAMES_LIMIT));
    else
        sbuf_printf(&sql,
                    "SELECT name, max(last_ns), description, unit, type, temporality, monotonic,"
                    " count(*), sum(point_count), min(first_ns) FROM metric_streams"
                    " WHERE point_count > 0 GROUP BY name ORDER BY name LIMIT %lld",
                    (long long)(o->limit > 0 ? o->limit : RM_NAMES_LIMIT));
    sqlite3_stmt *st;
    rc = prepare(db, &sql, &st, err, cap);
    sbuf_free(&sql);
    if (rc == 0 && filtered && conds_bind(o, &c, st, 0) != 0) {
        snprintf(err, cap, "query failed: %s", sqlite3_errmsg(db));
        sqlite3_finalize(st);
        rc = -EIO;
    }
    if (rc != 0) {
        conds_free(&c);
        return rc;
    }
    static const char *const headers[] = {"NAME",   "TYPE", "UNIT",       "SERIES",
                                          "POINTS", "LAST", "DESCRIPTION"};
    char **cells = NULL;
    size_t rows = 0, capr = 0;
    if (o->format == RETRIEVE_JSON) sbuf_puts(out, "[");
    if (o->format == RETRIEVE_CSV)
        sbuf_puts(out, "name,type,unit,temporality,monotonic,series,points,first_ns,last_ns,"
                       "description\n");
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        int type = sqlite3_column_int(st, 4);
        const char *temp = temporality_name(sqlite3_column_int(st, 5));
        bool mono = sqlite3_column_int(st, 6) != 0;
        if (o->format == RETRIEVE_JSON) {
            sbuf_puts(out, rows ? ",\n{\"name\":" : "{\"name\":");
            json_text(out, st, 0);
            sbuf_puts(out, ",\"description\":");
            json_text(out, st, 2);
            sbuf_puts(out, ",\"unit\":");
            json_text(out, st, 3);
            sbuf_printf(out, ",\"type\":\"%s\",\"temporality\":", type_name(type));
            if (temp != NULL)
                sbuf_printf(out, "\"%s\"", temp);
            else
                sbuf_puts(out, "null");
            sbuf_printf(out,
                        ",\"monotonic\":%s,\"series\":%lld,\"points\":%lld,\"first_ns\":%lld,"
                        "\"last_ns\":%lld}",
                        mono ? "true" : "false", (long long)sqlite3_column_int64(st, 7),
                        (long long)sqlite3_column_int64(st, 8),
                        (long long)sqlite3_column_int64(st, 9),
                        (long long)sqlite3_column_int64(st, 1));
            rows++;
        } else if (o->format == RETRIEVE_CSV) {
            char v[1024];
            cell(st, 0, true, v, sizeof(v));
            sbuf_csv_field(out, v);
            sbuf_printf(out, ",%s,", type_name(type));
            cell(st, 3, true, v, sizeof(v));
            sbuf_csv_field(out, v);
            sbuf_printf(
                out, ",%s,%d,%lld,%lld,%lld,%lld,", temp ? temp : "", mono ? 1 : 0,
                (long long)sqlite3_column_int64(st, 7), (long long)sqlite3_column_int64(st, 8),
                (long long)sqlite3_column_int64(st, 9), (long long)sqlite3_column_int64(st, 1));
            cell(st, 2, true, v, sizeof(v));
            sbuf_csv_field(out, v);
            sbuf_add(out, "\n", 1);
            rows++;
        } else {
            if (rows == capr) {
                size_t nc = capr ? capr * 2 : 32;
                char **p = realloc(cells, nc * 7 * sizeof(char *));
                if (p == NULL) {
                    rc = -ENOMEM;
                    break;
                }
                cells = p;
                capr = nc;
            }
            char v[1024], t[64];
            char **row = cells + rows * 7;
            cell(st, 0, false, v, sizeof(v));
            row[0] = xstrdup(v);
            snprintf(t, sizeof(t), "%s%s%s%s", type_name(type), temp ? ", " : "", temp ? temp : "",
                     mono ? ", monotonic" : "");
            row[1] = xstrdup(t);
            cell(st, 3, false, v, sizeof(v));
            row[2] = xstrdup(v);
            snprintf(v, sizeof(v), "%lld", (long long)sqlite3_column_int64(st, 7));
            row[3] = xstrdup(v);
            snprintf(v, sizeof(v), "%lld", (long long)sqlite3_column_int64(st, 8));
            row[4] = xstrdup(v);
            retrieve_time_text(sqlite3_column_int64(st, 1), v, sizeof(v));
            row[5] = xstrdup(v);
            cell(st, 2, false, v, sizeof(v));
            row[6] = xstrdup(v);
            rows++;
        }
    }
    if (rc == 0 && step != SQLITE_DONE) {
        snprintf(err, cap, "query failed: %s", sqlite3_errmsg(db));
        rc = -EIO;
    }
    sqlite3_finalize(st);
    conds_free(&c);
    if (o->format == RETRIEVE_JSON) sbuf_puts(out, "]\n");
    if (o->format == RETRIEVE_TABLE) {
        if (rc == 0 && rows == 0)
            sbuf_puts(out, "no metrics in the store for this query\n");
        else if (rc == 0)
            retrieve_render_table(out, headers, cells, rows, 7);
        for (size_t i = 0; i < rows * 7; i++)
            free(cells[i]);
        free(cells);
    }
    return rc;
}

/* ---- series ------------------------------------------------------------ */

struct meta {
    int type, temporality;
    bool monotonic;
    char *description, *unit;
};

struct series {
    int64_t id;
    char *attrs_json; /* {"k":v,...} */
    char *attrs_text; /* k=v k=v */
    char *scope_name, *scope_version, *service;
    char *pid;
    int64_t resource_id;
    struct sbuf points;    /* JSON points, comma-separated */
    struct sbuf exemplars; /* JSON exemplar objects, comma-separated */
    size_t n_points;
};

struct series_set {
    sqlite3 *db;
    struct series *items;
    size_t n, cap;
    size_t *index; /* open addressing: 1 + position in items, 0 empty; 2 x cap slots */
    sqlite3_stmt *q_stream, *q_attrs, *q_resource; /* prepared once per retrieval */
};

static void series_set_free(struct series_set *ss) {
    for (size_t i = 0; i < ss->n; i++) {
        struct series *s = &ss->items[i];
        free(s->attrs_json);
        free(s->attrs_text);
        free(s->scope_name);
        free(s->scope_version);
        free(s->service);
        free(s->pid);
        sbuf_free(&s->points);
        sbuf_free(&s->exemplars);
    }
    free(ss->items);
    free(ss->index);
    sqlite3_finalize(ss->q_stream);
    sqlite3_finalize(ss->q_attrs);
    sqlite3_finalize(ss->q_resource);
}

static char *col_dup(sqlite3_stmt *st, int i) {
    const char *t = (const char *)sqlite3_column_text(st, i);
    return xstrdup(t);
}

static size_t slot_of(int64_t id, size_t slots) {
    return (size_t)((uint64_t)id * 0x9E3779B97F4A7C15ULL >> 17) & (slots - 1);
}

/* Grows items (and rebuilds the index) to hold one more. */
static bool series_grow(struct series_set *ss) {
    if (ss->n < ss->cap) return true;
    size_t nc = ss->cap ? ss->cap * 2 : 64;
    struct series *p = realloc(ss->items, nc * sizeof(*p));
    if (p == NULL) return false;
    ss->items = p;
    size_t *ix = calloc(2 * nc, sizeof(*ix));
    if (ix == NULL) return false;
    ss->cap = nc;
    free(ss->index);
    ss->index = ix;
    for (size_t i = 0; i < ss->n; i++) {
        size_t k = slot_of(ss->items[i].id, 2 * nc);
        while (ix[k])
            k = (k + 1) & (2 * nc - 1);
        ix[k] = i + 1;
    }
    return true;
}

/* The series with this stream id, loaded on first use. */
static struct series *series_get(sqlite3 *db, struct series_set *ss, int64_t id) {
    if (ss->index != NULL) {
        for (size_t k = slot_of(id, 2 * ss->cap); ss->index[k]; k = (k + 1) & (2 * ss->cap - 1))
            if (ss->items[ss->index[k] - 1].id == id) return &ss->items[ss->index[k] - 1];
    }
    if (!series_grow(ss)) return NULL;
    size_t k = slot_of(id, 2 * ss->cap);
    while (ss->index[k])
        k = (k + 1) & (2 * ss->cap - 1);
    ss->index[k] = ss->n + 1;
    struct series *s = &ss->items[ss->n++];
    memset(s, 0, sizeof(*s));
    s->id = id;
    ss->db = db;
    if (ss->q_stream == NULL &&
        sqlite3_prepare_v2(db,
                           "SELECT attrs, scope_name, scope_version, service_name, resource_id,"
                           " (SELECT value FROM resource_attrs WHERE resource_id = s.resource_id"
                           " AND key = 'process.pid') FROM metric_streams s WHERE id = ?1",
                           -1, &ss->q_stream, NULL) != SQLITE_OK)
        ss->q_stream = NULL;
    sqlite3_stmt *st = ss->q_stream;
    if (st != NULL) {
        sqlite3_bind_int64(st, 1, id);
        if (sqlite3_step(st) == SQLITE_ROW) {
            s->attrs_json = col_dup(st, 0);
            s->scope_name = col_dup(st, 1);
            s->scope_version = col_dup(st, 2);
            s->service = col_dup(st, 3);
            s->resource_id = sqlite3_column_int64(st, 4);
            s->pid = col_dup(st, 5);
        }
        sqlite3_reset(st);
    }
    struct sbuf t = {0};
    if (ss->q_attrs == NULL &&
        sqlite3_prepare_v2(db,
                           "SELECT key, value FROM metric_stream_attrs WHERE stream_id = ?1"
                           " ORDER BY key",
                           -1, &ss->q_attrs, NULL) != SQLITE_OK)
        ss->q_attrs = NULL;
    st = ss->q_attrs;
    if (st != NULL) {
        sqlite3_bind_int64(st, 1, id);
        for (int n = 0; sqlite3_step(st) == SQLITE_ROW; n++) {
            char v[256];
            cell(st, 1, false, v, sizeof(v));
            sbuf_printf(&t, "%s%s=%s", n ? " " : "", (const char *)sqlite3_column_text(st, 0), v);
        }
        sqlite3_reset(st);
    }
    s->attrs_text = xstrdup(sbuf_cstr(&t));
    sbuf_free(&t);
    if (s->attrs_json == NULL || s->attrs_json[0] == '\0') {
        free(s->attrs_json);
        s->attrs_json = xstrdup("{}");
    }
    if (s->attrs_text == NULL || s->attrs_json == NULL || s->scope_name == NULL ||
        s->scope_version == NULL || s->service == NULL || s->pid == NULL)
        return NULL;
    return s;
}

/* A resource's attributes as a JSON object, with a statement kept across series. */
static void json_resource(struct series_set *ss, struct sbuf *out, int64_t resource_id) {
    if (ss->q_resource == NULL &&
        sqlite3_prepare_v2(ss->db,
                           "SELECT key, type, value FROM resource_attrs WHERE resource_id = ?1"
                           " ORDER BY key",
                           -1, &ss->q_resource, NULL) != SQLITE_OK) {
        ss->q_resource = NULL;
        sbuf_puts(out, "{}");
        return;
    }
    sqlite3_stmt *st = ss->q_resource;
    sqlite3_bind_int64(st, 1, resource_id);
    sbuf_add(out, "{", 1);
    for (int n = 0; sqlite3_step(st) == SQLITE_ROW; n++) {
        if (n) sbuf_add(out, ",", 1);
        sbuf_json_str(out, (const char *)sqlite3_column_text(st, 0),
                      (size_t)sqlite3_column_bytes(st, 0));
        sbuf_add(out, ":", 1);
        const char *type = (const char *)sqlite3_column_text(st, 1);
        if (type != NULL && (type[0] == 'a' || type[0] == 'm'))
            sbuf_puts(out, (const char *)sqlite3_column_text(st, 2));
        else if (type != NULL && type[0] == 'b')
            sbuf_puts(out, sqlite3_column_int(st, 2) ? "true" : "false");
        else
            json_col(out, st, 2);
    }
    sbuf_add(out, "}", 1);
    sqlite3_reset(st);
}

static int series_cmp(const void *a, const void *b) {
    const struct series *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

static int load_meta(sqlite3 *db, const char *name, struct meta *m, char *err, size_t cap) {
    sqlite3_stmt *st;
    memset(m, 0, sizeof(*m));
    if (sqlite3_prepare_v2(db,
                           "SELECT type, temporality, monotonic, description, unit FROM"
                           " metric_streams WHERE name = ?1 ORDER BY last_ns DESC LIMIT 1",
                           -1, &st, NULL) != SQLITE_OK) {
        snprintf(err, cap, "query failed: %s", sqlite3_errmsg(db));
        return -EIO;
    }
    sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
    int rc = -ENOENT;
    if (sqlite3_step(st) == SQLITE_ROW) {
        m->type = sqlite3_column_int(st, 0);
        m->temporality = sqlite3_column_int(st, 1);
        m->monotonic = sqlite3_column_int(st, 2) != 0;
        m->description = col_dup(st, 3);
        m->unit = col_dup(st, 4);
        rc = 0;
    } else {
        snprintf(err, cap, "no metric '%s' in the store (`otel-preload metrics` lists them)", name);
    }
    sqlite3_finalize(st);
    return rc;
}

static void meta_free(struct meta *m) {
    free(m->description);
    free(m->unit);
}

/* Columns of the point queries. */
enum {
    C_STREAM,
    C_TIME,
    C_START,
    C_VALUE,
    C_COUNT,
    C_SUM,
    C_MIN,
    C_MAX,
    C_BOUNDS,
    C_BUCKETS,
    C_QUANTILES,
    C_EXEMPLARS
};
#define POINT_COLS                                                                                 \
    "m.stream_id, m.time_ns, m.start_ns, m.value, m.count, m.sum, m.min, m.max, m.bounds,"         \
    " m.buckets, m.quantiles, m.exemplars"

/* The exemplar objects of a row, appended to the series' list. */
static void add_exemplars(struct series *s, sqlite3_stmt *st) {
    const char *ex = (const char *)sqlite3_column_text(st, C_EXEMPLARS);
    size_t n = ex ? strlen(ex) : 0;
    if (n < 3 || ex[0] != '[' || ex[n - 1] != ']') return;
    if (s->exemplars.len) sbuf_add(&s->exemplars, ",", 1);
    sbuf_add(&s->exemplars, ex + 1, n - 2);
}

/* One raw point as JSON: [t, v] for numbers, an object for the others. */
static void json_point(struct sbuf *b, sqlite3_stmt *st, int type) {
    if (type == 1 || type == 2) {
        sbuf_printf(b, "[%lld,", (long long)sqlite3_column_int64(st, C_TIME));
        json_col(b, st, C_VALUE);
        sbuf_add(b, "]", 1);
        return;
    }
    sbuf_printf(b, "{\"time_ns\":%lld,\"start_ns\":%lld,\"count\":%lld,\"sum\":",
                (long long)sqlite3_column_int64(st, C_TIME),
                (long long)sqlite3_column_int64(st, C_START),
                (long long)sqlite3_column_int64(st, C_COUNT));
    json_col(b, st, C_SUM);
    if (type == 3 || type == 4) {
        sbuf_puts(b, ",\"min\":");
        json_col(b, st, C_MIN);
        sbuf_puts(b, ",\"max\":");
        json_col(b, st, C_MAX);
    }
    const char *t;
    if (type == 3) {
        t = (const char *)sqlite3_column_text(st, C_BOUNDS);
        sbuf_printf(b, ",\"bounds\":%s", t ? t : "[]");
        t = (const char *)sqlite3_column_text(st, C_BUCKETS);
        sbuf_printf(b, ",\"counts\":%s", t ? t : "[]");
    } else if (type == 4) {
        /* the stored object's members: scale, zero_count, zero_threshold, positive, negative */
        t = (const char *)sqlite3_column_text(st, C_BUCKETS);
        size_t n = t ? strlen(t) : 0;
        if (n > 2 && t[0] == '{' && t[n - 1] == '}') {
            sbuf_add(b, ",", 1);
            sbuf_add(b, t + 1, n - 2);
        }
    } else if (type == 5) {
        t = (const char *)sqlite3_column_text(st, C_QUANTILES);
        sbuf_printf(b, ",\"quantiles\":%s", t ? t : "[]");
    }
    sbuf_add(b, "}", 1);
}

/* Prepares a points query (sql, freed) and binds its conditions; on failure c is freed. */
static int prepare_points(sqlite3 *db, const struct retrieve_opts *o, const struct meta *m,
                          struct conds *c, struct sbuf *sql, sqlite3_stmt **st, char *err,
                          size_t cap) {
    int rc = prepare(db, sql, st, err, cap);
    sbuf_free(sql);
    if (rc == 0 && conds_bind(o, c, *st, m->type) != 0) {
        snprintf(err, cap, "query failed: %s", sqlite3_errmsg(db));
        sqlite3_finalize(*st);
        rc = -EIO;
    }
    if (rc != 0) conds_free(c);
    return rc;
}

/* The rows of a table being built: ncols cells a row. */
struct cells {
    char **cells;
    size_t rows, cap, ncols;
};

/* The next row's cells, or NULL when out of memory. */
static char **cells_row(struct cells *t) {
    if (t->rows == t->cap) {
        size_t nc = t->cap ? t->cap * 2 : 64;
        char **p = realloc(t->cells, nc * t->ncols * sizeof(char *));
        if (p == NULL) return NULL;
        t->cells = p;
        t->cap = nc;
    }
    return t->cells + t->rows++ * t->ncols;
}

static void cells_free(struct cells *t) {
    for (size_t i = 0; i < t->rows * t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
}

/* A series' CSV columns after the time: id, attributes, service, pid. */
static void csv_series(struct sbuf *out, const struct series *s) {
    sbuf_printf(out, "%lld,", (long long)s->id);
    sbuf_csv_field(out, s->attrs_json);
    sbuf_add(out, ",", 1);
    sbuf_csv_field(out, s->service);
    sbuf_printf(out, ",%s", s->pid);
}

static void json_series_head(struct sbuf *out, const char *name, const struct meta *m, int agg,
                             int64_t step_ns) {
    sbuf_puts(out, "{\"name\":");
    sbuf_json_str(out, name, strlen(name));
    sbuf_puts(out, ",\"description\":");
    sbuf_json_str(out, m->description, strlen(m->description));
    sbuf_puts(out, ",\"unit\":");
    sbuf_json_str(out, m->unit, strlen(m->unit));
    const char *temp = temporality_name(m->temporality);
    sbuf_printf(out, ",\"type\":\"%s\",\"temporality\":", type_name(m->type));
    if (temp)
        sbuf_printf(out, "\"%s\"", temp);
    else
        sbuf_puts(out, "null");
    sbuf_printf(out, ",\"monotonic\":%s,\"agg\":", m->monotonic ? "true" : "false");
    if (agg > 0)
        sbuf_printf(out, "\"%s\"", agg_name(agg));
    else
        sbuf_puts(out, "null");
    if (step_ns > 0)
        sbuf_printf(out, ",\"step_ns\":%lld", (long long)step_ns);
    else
        sbuf_puts(out, ",\"step_ns\":null");
    sbuf_puts(out, ",\"series\":[");
}

static void json_series(sqlite3 *db, struct sbuf *out, struct series_set *ss) {
    ss->db = db;
    if (ss->n > 1) qsort(ss->items, ss->n, sizeof(ss->items[0]), series_cmp);
    for (size_t i = 0; i < ss->n; i++) {
        struct series *s = &ss->items[i];
        sbuf_printf(out, "%s\n{\"id\":%lld,\"attributes\":%s,\"resource\":", i ? "," : "",
                    (long long)s->id, s->attrs_json);
        json_resource(ss, out, s->resource_id);
        sbuf_puts(out, ",\"scope\":{\"name\":");
        sbuf_json_str(out, s->scope_name, strlen(s->scope_name));
        sbuf_puts(out, ",\"version\":");
        sbuf_json_str(out, s->scope_version, strlen(s->scope_version));
        sbuf_puts(out, "},\"points\":[");
        sbuf_add(out, s->points.data ? s->points.data : "", s->points.len);
        sbuf_puts(out, "],\"exemplars\":[");
        sbuf_add(out, s->exemplars.data ? s->exemplars.data : "", s->exemplars.len);
        sbuf_puts(out, "]}");
    }
    sbuf_puts(out, "]}\n");
}

/* After the rows of a points query: the JSON document or the table, then the
 * table's cells and the series freed. */
static void points_done(sqlite3 *db, const struct retrieve_opts *o, const struct meta *m, int agg,
                        struct series_set *ss, struct cells *t, const char *const *headers,
                        struct sbuf *out, int rc) {
    if (rc == 0 && o->format == RETRIEVE_JSON) {
        json_series_head(out, o->name, m, agg, o->step_ns);
        json_series(db, out, ss);
    } else if (rc == 0 && o->format == RETRIEVE_TABLE) {
        if (t->rows == 0)
            sbuf_printf(out, "no points of %s for this query\n", o->name);
        else
            retrieve_render_table(out, headers, t->cells, t->rows, t->ncols);
    }
    cells_free(t);
    series_set_free(ss);
}

static int raw_points(sqlite3 *db, const struct retrieve_opts *o, const struct meta *m,
                      struct sbuf *out, char *err, size_t cap) {
    struct conds c;
    int rc = conds_build(db, o, true, false, &c, err, cap);
    if (rc != 0) {
        conds_free(&c);
        return rc;
    }
    int64_t limit = o->limit > 0                 ? o->limit
                    : o->format == RETRIEVE_JSON ? RM_DEFAULT_SERIES_LIMIT
                                                 : RETRIEVE_DEFAULT_LIMIT;
    if (limit > RETRIEVE_MAX_LIMIT) limit = RETRIEVE_MAX_LIMIT;
    /* the newest `limit` points, then oldest first */
    struct sbuf sql = {0};
    sbuf_printf(&sql,
                "SELECT * FROM (SELECT " POINT_COLS ", m.id FROM metric_points m WHERE 1%s"
                " ORDER BY m.time_ns DESC, m.id DESC LIMIT %lld) ORDER BY 2, 13",
                sbuf_cstr(&c.sql), (long long)limit);
    sqlite3_stmt *st;
    rc = prepare_points(db, o, m, &c, &sql, &st, err, cap);
    if (rc != 0) return rc;
    struct series_set ss = {0};
    bool number = m->type == 1 || m->type == 2;
    static const char *const hnum[] = {"TIME", "VALUE", "SERIES", "SERVICE", "PID"};
    static const char *const hhist[] = {"TIME", "COUNT",  "SUM",     "MIN",
                                        "MAX",  "SERIES", "SERVICE", "PID"};
    struct cells t = {.ncols = number ? 5 : 8};
    if (o->format == RETRIEVE_CSV)
        sbuf_puts(out, "time_ns,start_ns,series,attributes,service_name,pid,value,count,sum,min,"
                       "max,bounds,buckets,quantiles\n");
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        struct series *s = series_get(db, &ss, sqlite3_column_int64(st, C_STREAM));
        if (s == NULL) {
            rc = -ENOMEM;
            break;
        }
        if (o->format == RETRIEVE_JSON) {
            if (s->n_points++) sbuf_add(&s->points, ",", 1);
            json_point(&s->points, st, m->type);
            add_exemplars(s, st);
        } else if (o->format == RETRIEVE_CSV) {
            char v[4096];
            sbuf_printf(out, "%lld,%lld,", (long long)sqlite3_column_int64(st, C_TIME),
                        (long long)sqlite3_column_int64(st, C_START));
            csv_series(out, s);
            for (int i = C_VALUE; i <= C_QUANTILES; i++) {
                cell(st, i, true, v, sizeof(v));
                sbuf_add(out, ",", 1);
                sbuf_csv_field(out, v);
            }
            sbuf_add(out, "\n", 1);
        } else {
            char **row = cells_row(&t), v[256];
            if (row == NULL) {
                rc = -ENOMEM;
                break;
            }
            size_t k = 0;
            retrieve_time_text(sqlite3_column_int64(st, C_TIME), v, sizeof(v));
            row[k++] = xstrdup(v);
            if (number) {
                cell(st, C_VALUE, false, v, sizeof(v));
                row[k++] = xstrdup(v);
            } else {
                for (int i = C_COUNT; i <= C_MAX; i++) {
                    cell(st, i, false, v, sizeof(v));
                    row[k++] = xstrdup(v);
                }
            }
            row[k++] = xstrdup(s->attrs_text);
            row[k++] = xstrdup(s->service);
            row[k++] = xstrdup(s->pid);
        }
    }
    if (rc == 0 && step != SQLITE_DONE) {
        snprintf(err, cap, "query failed: %s", sqlite3_errmsg(db));
        rc = -EIO;
    }
    sqlite3_finalize(st);
    conds_free(&c);
    points_done(db, o, m, RETRIEVE_AGG_NONE, &ss, &t, number ? hnum : hhist, out, rc);
    return rc;
}

/* ---- aggregates -------------------------------------------------------- */

struct acc {
    int64_t bucket; /* step-aligned start, or 0 without a step */
    int64_t n;
    double sum, min, max, last;
    int64_t t_first, t_last, start_first;
    double v_first;
    double incr; /* rate: the increase seen within the bucket */
    bool have_incr;
};

/* What rate needs from the point before, across buckets of one series. */
struct prev {
    bool have;
    int64_t t, start;
    double v;
};

static void acc_reset(struct acc *a, int64_t bucket) {
    memset(a, 0, sizeof(*a));
    a->bucket = bucket;
}

/* The bucket's value, or NAN when it has none. */
static double acc_value(const struct acc *a, int agg, const struct meta *m, int64_t step_ns) {
    if (a->n == 0) return NAN;
    switch (agg) {
    case RETRIEVE_AGG_SUM:
        return a->sum;
    case RETRIEVE_AGG_AVG:
        return a->sum / (double)a->n;
    case RETRIEVE_AGG_MIN:
        return a->min;
    case RETRIEVE_AGG_MAX:
        return a->max;
    case RETRIEVE_AGG_LAST:
        return a->last;
    default:
        break;
    }
    /* rate, per second */
    if (m->temporality == 1) { /* delta: the total over the time covered */
        if (step_ns > 0) return a->sum / ((double)step_ns / 1e9);
        if (a->start_first > 0 && a->t_last > a->start_first)
            return a->sum / ((double)(a->t_last - a->start_first) / 1e9);
        /* the first point's interval is unknown: count from its end */
        return a->t_last > a->t_first
                   ? (a->sum - a->v_first) / ((double)(a->t_last - a->t_first) / 1e9)
                   : NAN;
    }
    if (step_ns > 0) return a->have_incr ? a->incr / ((double)step_ns / 1e9) : NAN;
    if (a->n >= 2 && a->t_last > a->t_first)
        return a->incr / ((double)(a->t_last - a->t_first) / 1e9);
    if (a->n == 1 && m->temporality == 2 && a->start_first > 0 && a->t_last > a->start_first)
        return a->last / ((double)(a->t_last - a->start_first) / 1e9); /* since its start */
    return NAN;
}

static void acc_add(struct acc *a, struct prev *p, const struct meta *m, int64_t t, int64_t start,
                    double v) {
    if (a->n == 0) {
        a->min = a->max = v;
        a->t_first = t;
        a->start_first = start;
        a->v_first = v;
    }
    a->n++;
    a->sum += v;
    if (v < a->min) a->min = v;
    if (v > a->max) a->max = v;
    a->last = v;
    a->t_last = t;
    if (p->have) {
        /* monotonic cumulative series restart at 0: a drop or a new start is a reset */
        bool resets = m->temporality == 2 && (m->monotonic || m->type >= 3);
        double d = v - p->v;
        if (resets && (d < 0 || (start != p->start && start > 0))) d = v;
        a->incr += d;
        a->have_incr = true;
    }
    p->have = true;
    p->t = t;
    p->start = start;
    p->v = v;
}

static void emit_bucket(struct sbuf *out, const struct retrieve_opts *o, struct series *s,
                        const struct acc *a, int agg, const struct meta *m, struct cells *cells,
                        int *rc) {
    double v = acc_value(a, agg, m, o->step_ns);
    if (isnan(v)) return;
    int64_t t = o->step_ns > 0 ? a->bucket : a->t_last;
    if (o->format == RETRIEVE_JSON) {
        if (s->n_points++) sbuf_add(&s->points, ",", 1);
        sbuf_printf(&s->points, "[%lld,", (long long)t);
        json_num(&s->points, v);
        sbuf_add(&s->points, "]", 1);
    } else if (o->format == RETRIEVE_CSV) {
        sbuf_printf(out, "%lld,", (long long)t);
        csv_series(out, s);
        sbuf_printf(out, ",%.17g\n", v);
    } else {
        char **row = cells_row(cells), b[256];
        if (row == NULL) {
            *rc = -ENOMEM;
            return;
        }
        size_t k = 0;
        if (o->step_ns > 0) {
            retrieve_time_text(t, b, sizeof(b));
            row[k++] = xstrdup(b);
        }
        snprintf(b, sizeof(b), "%.6g", v);
        row[k++] = xstrdup(b);
        row[k++] = xstrdup(s->attrs_text);
        row[k++] = xstrdup(s->service);
        row[k++] = xstrdup(s->pid);
    }
}

static int aggregate(sqlite3 *db, const struct retrieve_opts *o, const struct meta *m, int agg,
                     struct sbuf *out, char *err, size_t cap) {
    struct conds c;
    int rc = conds_build(db, o, true, true, &c, err, cap);
    if (rc != 0) {
        conds_free(&c);
        return rc;
    }
    struct sbuf sql = {0};
    sbuf_printf(&sql,
                "SELECT " POINT_COLS " FROM metric_points m WHERE 1%s"
                " ORDER BY m.stream_id, m.time_ns, m.id",
                sbuf_cstr(&c.sql));
    sqlite3_stmt *st;
    rc = prepare_points(db, o, m, &c, &sql, &st, err, cap);
    if (rc != 0) return rc;
    struct series_set ss = {0};
    struct series *cur = NULL;
    struct acc a;
    struct prev p = {0};
    bool number = m->type == 1 || m->type == 2;
    struct cells tab = {.ncols = o->step_ns > 0 ? 5 : 4};
    char head[32];
    snprintf(head, sizeof(head), "%s", agg_name(agg));
    for (char *q = head; *q; q++)
        *q = (char)(*q - ('a' <= *q && *q <= 'z' ? 32 : 0));
    const char *headers[] = {"TIME", head, "SERIES", "SERVICE", "PID"};
    if (o->format == RETRIEVE_CSV)
        sbuf_printf(out, "time_ns,series,attributes,service_name,pid,%s\n", agg_name(agg));
    int step;
    acc_reset(&a, 0);
    while ((step = sqlite3_step(st)) == SQLITE_ROW && rc == 0) {
        int64_t id = sqlite3_column_int64(st, C_STREAM);
        int64_t t = sqlite3_column_int64(st, C_TIME);
        int64_t start = sqlite3_column_int64(st, C_START);
        double v;
        if (number) {
            if (sqlite3_column_type(st, C_VALUE) == SQLITE_NULL) continue;
            v = sqlite3_column_double(st, C_VALUE);
        } else {
            int64_t n = sqlite3_column_int64(st, C_COUNT);
            if (agg == RETRIEVE_AGG_RATE)
                v = (double)n; /* observations */
            else if (n > 0 && sqlite3_column_type(st, C_SUM) != SQLITE_NULL)
                v = sqlite3_column_double(st, C_SUM) / (double)n; /* the mean */
            else
                continue;
        }
        int64_t bucket = o->step_ns > 0 ? t - (t % o->step_ns) : 0;
        if (cur == NULL || cur->id != id) {
            if (cur != NULL) emit_bucket(out, o, cur, &a, agg, m, &tab, &rc);
            cur = series_get(db, &ss, id);
            if (cur == NULL) {
                rc = -ENOMEM;
                break;
            }
            acc_reset(&a, bucket);
            memset(&p, 0, sizeof(p));
        } else if (bucket != a.bucket) {
            emit_bucket(out, o, cur, &a, agg, m, &tab, &rc);
            acc_reset(&a, bucket);
        }
        acc_add(&a, &p, m, t, start, v);
        if (o->format == RETRIEVE_JSON) add_exemplars(cur, st);
    }
    if (rc == 0 && cur != NULL) emit_bucket(out, o, cur, &a, agg, m, &tab, &rc);
    if (rc == 0 && step != SQLITE_DONE && step != SQLITE_ROW) {
        snprintf(err, cap, "query failed: %s", sqlite3_errmsg(db));
        rc = -EIO;
    }
    sqlite3_finalize(st);
    conds_free(&c);
    points_done(db, o, m, agg, &ss, &tab, o->step_ns > 0 ? headers : headers + 1, out, rc);
    return rc;
}

int retrieve_metrics(sqlite3 *db, const struct retrieve_opts *o, struct sbuf *out, char *err,
                     size_t cap) {
    if (o->name == NULL || o->name[0] == '\0') {
        if (o->agg > 0 || o->step_ns > 0) {
            snprintf(err, cap, "--agg and --step need --name (one metric)");
            return -EINVAL;
        }
        return metric_names(db, o, out, err, cap);
    }
    if (o->agg < 0 || o->agg > RETRIEVE_AGG_RATE) {
        snprintf(err, cap, "--agg: sum, avg, min, max, last or rate");
        return -EINVAL;
    }
    if (o->step_ns < 0 || (o->step_ns > 0 && o->agg == RETRIEVE_AGG_NONE)) {
        snprintf(err, cap, "--step needs --agg (sum, avg, min, max, last or rate)");
        return -EINVAL;
    }
    struct meta m;
    int rc = load_meta(db, o->name, &m, err, cap);
    if (rc != 0) return rc;
    rc = o->agg > 0 ? aggregate(db, o, &m, o->agg, out, err, cap)
                    : raw_points(db, o, &m, out, err, cap);
    meta_free(&m);
    return rc;
}
