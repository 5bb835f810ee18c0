/* retrieve: the retrievers' queries (spans, logs, metrics, traces, one trace as a tree), rendered
 * as a table, JSON or CSV. Shared by the CLI (cli/) and the HTTP API (server/api.c).
 * Depends on libsqlite3 (a read connection the caller opened) and sbuf.h.
 */
#ifndef OTELP_SERVER_RETRIEVE_H
#define OTELP_SERVER_RETRIEVE_H

#include <stdint.h>

#include <sqlite3.h>

#include "server/sbuf.h"

enum retrieve_what { RETRIEVE_SPANS, RETRIEVE_LOGS, RETRIEVE_METRICS, RETRIEVE_TRACES };
enum retrieve_format { RETRIEVE_TABLE, RETRIEVE_JSON, RETRIEVE_CSV };

#define RETRIEVE_DEFAULT_LIMIT 100
#define RETRIEVE_MAX_LIMIT 1000000

struct retrieve_opts {
    enum retrieve_what what;
    enum retrieve_format format;
    const char *where;      /* filter text (docs/QUERY.md), NULL or "" for none */
    const char *name;       /* metrics: the metric's name; NULL for all */
    const char *trace_id;   /* spans/logs: only this trace (hex, or a run id) */
    int64_t from_ns, to_ns; /* 0: open */
    int64_t limit;          /* 0: RETRIEVE_DEFAULT_LIMIT */
    int64_t after_id;       /* spans/logs/metrics: only rows stored after this row id (the
                             * "id" of JSON rows); 0: all */
    int agg;                /* metrics: RETRIEVE_AGG_*, 0 for the points themselves */
    int64_t step_ns;        /* metrics with agg: one value per step (0: per series) */
};

/* Metric aggregates (docs/API-HTTP.md): per series, or per step of it. */
enum retrieve_agg {
    RETRIEVE_AGG_NONE,
    RETRIEVE_AGG_SUM,
    RETRIEVE_AGG_AVG,
    RETRIEVE_AGG_MIN,
    RETRIEVE_AGG_MAX,
    RETRIEVE_AGG_LAST,
    RETRIEVE_AGG_RATE,
};
/* "sum", "avg", "min", "max", "last", "rate" -> RETRIEVE_AGG_*; NULL or "" -> NONE; else -1. */
int retrieve_metric_agg(const char *name);

/* Opens the database read-only (WAL readers never block the writer).
 * Returns NULL with a message in err. */
sqlite3 *retrieve_open(const char *path, char *err, size_t cap);

/* Appends the result to out. Returns 0, or -EINVAL with a message for the
 * user in err (a bad filter, a bad option), -EIO for a database error. */
int retrieve(sqlite3 *db, const struct retrieve_opts *o, struct sbuf *out, char *err, size_t cap)
    __attribute__((warn_unused_result));

/* One trace as a tree: `id` is a run id, a trace id or an unambiguous
 * prefix of one (8+ hex digits). Table: indented names with durations,
 * pids and exit codes; JSON: nested {"span":..,"children":[..]}. */
int retrieve_trace_tree(sqlite3 *db, const char *id, enum retrieve_format format, struct sbuf *out,
                        char *err, size_t cap) __attribute__((warn_unused_result));

/* Metrics (server/retrieve_metrics.c; retrieve() calls it for RETRIEVE_METRICS):
 * without o->name the metric names with their type, unit and counts; with
 * it that metric's series (JSON: docs/API-HTTP.md), raw or aggregated. */
int retrieve_metrics(sqlite3 *db, const struct retrieve_opts *o, struct sbuf *out, char *err,
                     size_t cap) __attribute__((warn_unused_result));

/* Helpers shared by the retrievers. */
void retrieve_time_text(int64_t ns, char *out, size_t cap); /* local "2026-12-07 05:00:00.123" */
/* {"key": value, ...} of an attribute table's rows (sql: key, type, value; ?1 the owner). */
int retrieve_json_attrs(sqlite3 *db, struct sbuf *b, const char *sql, int64_t owner);
/* Columns padded to their widest cell; cells: rows x cols strings. */
void retrieve_render_table(struct sbuf *out, const char *const *headers, char **cells, size_t rows,
                           size_t cols);

/* Resolves a run id or trace id (prefix) to the trace id (33 bytes). */
int retrieve_resolve_trace(sqlite3 *db, const char *id, char trace_id[33], char *err, size_t cap);

/* "41 ms", "1.20 s", "350 us". */
void retrieve_duration(int64_t ns, char *out, size_t cap);
/* "1h", "30m", "2s", "100ms" -> ns. Returns 0 or -EINVAL. */
int retrieve_parse_duration(const char *s, int64_t *ns);
/* "2026-12-07T05:00:00Z", "2026-12-07 05:00:00" (local), unix seconds, or a
 * duration meaning "that long ago" -> ns since the epoch. */
int retrieve_parse_time(const char *s, int64_t now_ns, int64_t *ns);

#endif
