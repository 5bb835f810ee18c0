/* store: the local SQLite store (schema: docs/STORE.md). Depends on libsqlite3, otlp_decode.h,
 * sbuf.h.
 *
 * Writing a request: one BEGIN IMMEDIATE transaction; per resource one row
 * (deduplicated by a hash of its attributes); per span an INSERT OR IGNORE
 * on (trace_id, span_id), and its attributes, events and links only when
 * the span was new, so a request received twice is stored once. Logs are
 * deduplicated by a hash of the whole record. Run counters are summed per
 * batch and updated once per run at the end of the transaction.
 */
#include "server/store.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "server/sbuf.h"

/* The attribute value indexes lead with the key and then the epoch, the
 * owner's row id >> 12 (4,096 spans, logs or resources): a batch's rows go
 * into the few pages of the newest epoch of each key instead of one random
 * page of the whole index per attribute (with (key_id, value), 300,000
 * spans wrote 26 KiB per span and ingest took 1.7 times the CPU). A lookup
 * seeks once per epoch, `epoch IN (SELECT epoch FROM span_epochs)`: the
 * epochs from the lowest row id's to the highest's (two index probes). */
#define EPOCHS(what, table, owner)                                                                 \
    "CREATE VIEW IF NOT EXISTS " what "_epochs AS WITH RECURSIVE e(epoch) AS (SELECT"              \
    " (SELECT min(" owner ") FROM " table ") >> 12 UNION ALL SELECT epoch + 1 FROM e"              \
    " WHERE epoch < (SELECT max(" owner ") FROM " table ") >> 12) SELECT epoch FROM e;"

/* (the macros between the literals would make clang-format reflow them all) */
// clang-format off
static const char SCHEMA[] =
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;"
    "CREATE TABLE IF NOT EXISTS runs (id INTEGER PRIMARY KEY, kind TEXT NOT NULL,"
    " trace_id TEXT UNIQUE, command TEXT, cwd TEXT, start_ns INTEGER NOT NULL, end_ns INTEGER,"
    " exit_code INTEGER, signal INTEGER, pinned INTEGER NOT NULL DEFAULT 0,"
    " bytes INTEGER NOT NULL DEFAULT 0, span_count INTEGER NOT NULL DEFAULT 0,"
    " log_count INTEGER NOT NULL DEFAULT 0, point_count INTEGER NOT NULL DEFAULT 0,"
    " process_count INTEGER NOT NULL DEFAULT 0, error_count INTEGER NOT NULL DEFAULT 0,"
    " crash_count INTEGER NOT NULL DEFAULT 0, root_name TEXT, service TEXT) STRICT;"
    "CREATE INDEX IF NOT EXISTS runs_start ON runs (start_ns);"
    "CREATE TABLE IF NOT EXISTS resources (id INTEGER PRIMARY KEY, run_id INTEGER,"
    " hash INTEGER NOT NULL, service_name TEXT, schema_url TEXT,"
    " dropped_attributes_count INTEGER NOT NULL DEFAULT 0) STRICT;"
    "CREATE INDEX IF NOT EXISTS resources_hash ON resources (hash);"
    "CREATE INDEX IF NOT EXISTS resources_run ON resources (run_id);"
    "CREATE TABLE IF NOT EXISTS attr_keys (id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE)"
    " STRICT;"
    "CREATE TABLE IF NOT EXISTS resource_kv (resource_id INTEGER NOT NULL,"
    " key_id INTEGER NOT NULL, type TEXT NOT NULL, value ANY,"
    " PRIMARY KEY (resource_id, key_id)) STRICT, WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS resource_kv_epoch ON resource_kv"
    " (key_id, resource_id >> 12, value);"
    "CREATE VIEW IF NOT EXISTS resource_attrs AS SELECT a.resource_id AS resource_id,"
    " k.key AS key, a.type AS type, a.value AS value, a.resource_id >> 12 AS epoch"
    " FROM resource_kv a JOIN attr_keys k ON k.id = a.key_id;"
    EPOCHS("resource", "resource_kv", "resource_id")
    "CREATE TABLE IF NOT EXISTS spans (id INTEGER PRIMARY KEY, run_id INTEGER,"
    " resource_id INTEGER NOT NULL, trace_id TEXT NOT NULL, span_id TEXT NOT NULL,"
    " parent_span_id TEXT, trace_state TEXT, flags INTEGER NOT NULL DEFAULT 0, name TEXT NOT NULL,"
    " kind INTEGER NOT NULL, start_ns INTEGER NOT NULL, end_ns INTEGER NOT NULL,"
    " duration_ns INTEGER NOT NULL, status_code INTEGER NOT NULL DEFAULT 0, status_message TEXT,"
    " service_name TEXT, pid INTEGER, ppid INTEGER, exit_code INTEGER, signal INTEGER,"
    " scope_name TEXT, scope_version TEXT, dropped_attributes_count INTEGER NOT NULL DEFAULT 0,"
    " dropped_events_count INTEGER NOT NULL DEFAULT 0,"
    " dropped_links_count INTEGER NOT NULL DEFAULT 0, UNIQUE (trace_id, span_id)) STRICT;"
    "CREATE INDEX IF NOT EXISTS spans_run ON spans (run_id);"
    "CREATE INDEX IF NOT EXISTS spans_parent ON spans (trace_id, parent_span_id);"
    "CREATE INDEX IF NOT EXISTS spans_start ON spans (start_ns);"
    "CREATE INDEX IF NOT EXISTS spans_duration ON spans (duration_ns);"
    "CREATE INDEX IF NOT EXISTS spans_name ON spans (name, start_ns);"
    "CREATE INDEX IF NOT EXISTS spans_service ON spans (service_name, start_ns);"
    "CREATE INDEX IF NOT EXISTS spans_resource ON spans (resource_id);"
    "CREATE TABLE IF NOT EXISTS span_kv (span_id INTEGER NOT NULL, key_id INTEGER NOT NULL,"
    " type TEXT NOT NULL, value ANY, PRIMARY KEY (span_id, key_id)) STRICT, WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS span_kv_epoch ON span_kv (key_id, span_id >> 12, value);"
    "CREATE VIEW IF NOT EXISTS span_attrs AS SELECT a.span_id AS span_id, k.key AS key,"
    " a.type AS type, a.value AS value, a.span_id >> 12 AS epoch FROM span_kv a"
    " JOIN attr_keys k ON k.id = a.key_id;"
    EPOCHS("span", "span_kv", "span_id")
    "CREATE TABLE IF NOT EXISTS span_events (span_id INTEGER NOT NULL, seq INTEGER NOT NULL,"
    " time_ns INTEGER NOT NULL, name TEXT NOT NULL, attrs TEXT NOT NULL,"
    " dropped_attributes_count INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (span_id, seq))"
    " STRICT, WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS span_links (span_id INTEGER NOT NULL, seq INTEGER NOT NULL,"
    " linked_trace_id TEXT NOT NULL, linked_span_id TEXT NOT NULL, trace_state TEXT,"
    " flags INTEGER NOT NULL DEFAULT 0, attrs TEXT NOT NULL,"
    " dropped_attributes_count INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (span_id, seq))"
    " STRICT, WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS logs (id INTEGER PRIMARY KEY, run_id INTEGER,"
    " resource_id INTEGER NOT NULL, time_ns INTEGER NOT NULL,"
    " observed_ns INTEGER NOT NULL DEFAULT 0, severity_number INTEGER NOT NULL DEFAULT 0,"
    " severity_text TEXT, body_type TEXT NOT NULL, body ANY, trace_id TEXT, span_id TEXT,"
    " flags INTEGER NOT NULL DEFAULT 0, event_name TEXT, service_name TEXT, pid INTEGER,"
    " scope_name TEXT, scope_version TEXT, dropped_attributes_count INTEGER NOT NULL DEFAULT 0,"
    " dedup INTEGER NOT NULL UNIQUE) STRICT;"
    "CREATE INDEX IF NOT EXISTS logs_run ON logs (run_id);"
    "CREATE INDEX IF NOT EXISTS logs_time ON logs (time_ns);"
    "CREATE INDEX IF NOT EXISTS logs_trace ON logs (trace_id, span_id);"
    "CREATE INDEX IF NOT EXISTS logs_severity ON logs (severity_number, time_ns);"
    "CREATE INDEX IF NOT EXISTS logs_resource ON logs (resource_id);"
    "CREATE TABLE IF NOT EXISTS log_kv (log_id INTEGER NOT NULL, key_id INTEGER NOT NULL,"
    " type TEXT NOT NULL, value ANY, PRIMARY KEY (log_id, key_id)) STRICT, WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS log_kv_epoch ON log_kv (key_id, log_id >> 12, value);"
    "CREATE VIEW IF NOT EXISTS log_attrs AS SELECT a.log_id AS log_id, k.key AS key,"
    " a.type AS type, a.value AS value, a.log_id >> 12 AS epoch FROM log_kv a"
    " JOIN attr_keys k ON k.id = a.key_id;"
    EPOCHS("log", "log_kv", "log_id")
    "CREATE TABLE IF NOT EXISTS metric_streams (id INTEGER PRIMARY KEY, run_id INTEGER,"
    " resource_id INTEGER NOT NULL, name TEXT NOT NULL, description TEXT, unit TEXT,"
    " type INTEGER NOT NULL, temporality INTEGER NOT NULL DEFAULT 0,"
    " monotonic INTEGER NOT NULL DEFAULT 0, service_name TEXT, scope_name TEXT,"
    " scope_version TEXT, attrs TEXT NOT NULL, hash INTEGER NOT NULL UNIQUE,"
    " first_ns INTEGER NOT NULL, last_ns INTEGER NOT NULL,"
    " point_count INTEGER NOT NULL DEFAULT 0) STRICT;"
    "CREATE INDEX IF NOT EXISTS metric_streams_name ON metric_streams (name);"
    "CREATE INDEX IF NOT EXISTS metric_streams_resource ON metric_streams (resource_id);"
    "CREATE INDEX IF NOT EXISTS metric_streams_run ON metric_streams (run_id);"
    "CREATE TABLE IF NOT EXISTS metric_stream_kv (stream_id INTEGER NOT NULL,"
    " key_id INTEGER NOT NULL, type TEXT NOT NULL, value ANY, PRIMARY KEY (stream_id, key_id))"
    " STRICT, WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS metric_stream_kv_value ON metric_stream_kv (key_id, value);"
    "CREATE VIEW IF NOT EXISTS metric_stream_attrs AS SELECT a.stream_id AS stream_id,"
    " k.key AS key, a.type AS type, a.value AS value FROM metric_stream_kv a"
    " JOIN attr_keys k ON k.id = a.key_id;"
    "CREATE TABLE IF NOT EXISTS metric_points (id INTEGER PRIMARY KEY,"
    " stream_id INTEGER NOT NULL, run_id INTEGER, resource_id INTEGER NOT NULL,"
    " name TEXT NOT NULL, unit TEXT, type INTEGER NOT NULL, service_name TEXT,"
    " start_ns INTEGER NOT NULL DEFAULT 0, time_ns INTEGER NOT NULL, value ANY, count INTEGER,"
    " sum REAL, min REAL, max REAL, bounds TEXT, buckets TEXT, quantiles TEXT, exemplars TEXT,"
    " flags INTEGER NOT NULL DEFAULT 0, UNIQUE (stream_id, time_ns, start_ns)) STRICT;"
    "CREATE INDEX IF NOT EXISTS metric_points_name ON metric_points (name, time_ns);"
    "CREATE INDEX IF NOT EXISTS metric_points_run ON metric_points (run_id);"
    "CREATE INDEX IF NOT EXISTS metric_points_time ON metric_points (time_ns);"
    "CREATE INDEX IF NOT EXISTS metric_points_resource ON metric_points (resource_id);"
    "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', '5');";
// clang-format on

/* What the list of runs shows of a run's spans, kept on the run (schema 5) by each batch that
 * brings it spans (ST_RUN_COUNTS) rather than looked up per run at each read: the name of the
 * trace's earliest root span, and the service of the run's command (of a 'run', the launcher's
 * first child's; of a 'trace', its root's). Index lookups (spans_parent); a trace of many
 * roots costs one row per root and batch. */
#define RUN_ROOT_NAME_SQL                                                                          \
    "(SELECT s.name FROM spans s WHERE s.trace_id = runs.trace_id AND s.parent_span_id IS NULL"    \
    " ORDER BY s.start_ns + 0 LIMIT 1)"
#define RUN_SERVICE_SQL                                                                            \
    "(SELECT CASE WHEN runs.kind = 'run' THEN coalesce((SELECT c.service_name FROM spans c"        \
    " WHERE c.trace_id = p.trace_id AND c.parent_span_id = p.span_id LIMIT 1), p.service_name)"    \
    " ELSE p.service_name END FROM spans p WHERE p.trace_id = runs.trace_id AND"                   \
    " p.parent_span_id IS NULL LIMIT 1)"

/* Schema 4 had no root_name and service on runs: added, and filled from the spans. */
static const char MIGRATE_4[] =
    "ALTER TABLE runs ADD COLUMN root_name TEXT;"
    " ALTER TABLE runs ADD COLUMN service TEXT;"
    " UPDATE runs SET root_name = " RUN_ROOT_NAME_SQL ", service = " RUN_SERVICE_SQL ";";

/* Schema 1 had metric_points without stream_id and per-point attributes in
 * metric_point_attrs; no version of the server wrote either, so they go. */
static const char MIGRATE_1[] =
    "DROP TABLE IF EXISTS metric_point_attrs; DROP TABLE IF EXISTS metric_points;";

/* Schema 2 kept each attribute's key as text in the attribute tables
 * (span_attrs, ...); schema 3 keeps a key once, in attr_keys, and the rows
 * in *_kv tables by its id, the old names being views of the same columns.
 * The rows move over; the tables go (the views come with SCHEMA). */
static const char MIGRATE_2[] =
    /* a schema-1 store has no metric_stream_attrs */
    "CREATE TABLE IF NOT EXISTS metric_stream_attrs (stream_id INTEGER NOT NULL, key TEXT NOT NULL,"
    " type TEXT NOT NULL, value ANY);"
    "CREATE TABLE attr_keys (id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE) STRICT;"
    "INSERT OR IGNORE INTO attr_keys (key) SELECT key FROM resource_attrs UNION"
    " SELECT key FROM span_attrs UNION SELECT key FROM log_attrs UNION"
    " SELECT key FROM metric_stream_attrs;"
    "CREATE TABLE resource_kv (resource_id INTEGER NOT NULL, key_id INTEGER NOT NULL,"
    " type TEXT NOT NULL, value ANY, PRIMARY KEY (resource_id, key_id)) STRICT, WITHOUT ROWID;"
    "INSERT INTO resource_kv SELECT a.resource_id, k.id, a.type, a.value FROM resource_attrs a"
    " JOIN attr_keys k ON k.key = a.key;"
    "CREATE TABLE span_kv (span_id INTEGER NOT NULL, key_id INTEGER NOT NULL,"
    " type TEXT NOT NULL, value ANY, PRIMARY KEY (span_id, key_id)) STRICT, WITHOUT ROWID;"
    "INSERT INTO span_kv SELECT a.span_id, k.id, a.type, a.value FROM span_attrs a"
    " JOIN attr_keys k ON k.key = a.key;"
    "CREATE TABLE log_kv (log_id INTEGER NOT NULL, key_id INTEGER NOT NULL,"
    " type TEXT NOT NULL, value ANY, PRIMARY KEY (log_id, key_id)) STRICT, WITHOUT ROWID;"
    "INSERT INTO log_kv SELECT a.log_id, k.id, a.type, a.value FROM log_attrs a"
    " JOIN attr_keys k ON k.key = a.key;"
    "CREATE TABLE metric_stream_kv (stream_id INTEGER NOT NULL, key_id INTEGER NOT NULL,"
    " type TEXT NOT NULL, value ANY, PRIMARY KEY (stream_id, key_id)) STRICT, WITHOUT ROWID;"
    "INSERT INTO metric_stream_kv SELECT a.stream_id, k.id, a.type, a.value"
    " FROM metric_stream_attrs a JOIN attr_keys k ON k.key = a.key;"
    "DROP TABLE resource_attrs; DROP TABLE span_attrs; DROP TABLE log_attrs;"
    " DROP TABLE metric_stream_attrs;";

enum stmt_id {
    ST_RES_FIND,
    ST_RES_INSERT,
    ST_RES_ATTR,
    ST_RUN_FIND,
    ST_RUN_INSERT_TRACE,
    ST_SPAN_INSERT,
    ST_SPAN_ATTR,
    ST_EVENT,
    ST_LINK,
    ST_LOG_INSERT,
    ST_LOG_ATTR,
    ST_RUN_COUNTS,
    ST_STREAM_FIND,
    ST_STREAM_INSERT,
    ST_STREAM_ATTR,
    ST_STREAM_SEEN,
    ST_POINT_INSERT,
    ST_KEY_INSERT,
    ST_KEY_FIND,
    ST_COUNT
};

static const char *const STMT_SQL[ST_COUNT] = {
    [ST_RES_FIND] = "SELECT id, run_id FROM resources WHERE hash = ?1 ORDER BY id DESC LIMIT 1",
    [ST_RES_INSERT] = "INSERT INTO resources (run_id, hash, service_name, schema_url,"
                      " dropped_attributes_count) VALUES (?1, ?2, ?3, ?4, ?5)",
    [ST_RES_ATTR] = "INSERT OR REPLACE INTO resource_kv (resource_id, key_id, type, value)"
                    " VALUES (?1, ?2, ?3, ?4)",
    [ST_RUN_FIND] = "SELECT id FROM runs WHERE trace_id = ?1",
    [ST_RUN_INSERT_TRACE] = "INSERT INTO runs (kind, trace_id, start_ns, end_ns)"
                            " VALUES ('trace', ?1, ?2, ?3)",
    [ST_SPAN_INSERT] =
        "INSERT OR IGNORE INTO spans (run_id, resource_id, trace_id, span_id, parent_span_id,"
        " trace_state, flags, name, kind, start_ns, end_ns, duration_ns, status_code,"
        " status_message, service_name, pid, ppid, exit_code, signal, scope_name, scope_version,"
        " dropped_attributes_count, dropped_events_count, dropped_links_count) VALUES (?1, ?2,"
        " ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20,"
        " ?21, ?22, ?23, ?24)",
    [ST_SPAN_ATTR] = "INSERT OR REPLACE INTO span_kv (span_id, key_id, type, value)"
                     " VALUES (?1, ?2, ?3, ?4)",
    [ST_EVENT] = "INSERT INTO span_events (span_id, seq, time_ns, name, attrs,"
                 " dropped_attributes_count) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [ST_LINK] = "INSERT INTO span_links (span_id, seq, linked_trace_id, linked_span_id,"
                " trace_state, flags, attrs, dropped_attributes_count)"
                " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [ST_LOG_INSERT] =
        "INSERT OR IGNORE INTO logs (run_id, resource_id, time_ns, observed_ns, severity_number,"
        " severity_text, body_type, body, trace_id, span_id, flags, event_name, service_name, pid,"
        " scope_name, scope_version, dropped_attributes_count, dedup) VALUES (?1, ?2, ?3, ?4, ?5,"
        " ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
    [ST_LOG_ATTR] = "INSERT OR REPLACE INTO log_kv (log_id, key_id, type, value)"
                    " VALUES (?1, ?2, ?3, ?4)",
    [ST_RUN_COUNTS] =
        "UPDATE runs SET span_count = span_count + ?2, log_count = log_count + ?3,"
        " process_count = process_count + ?4, error_count = error_count + ?5,"
        " crash_count = crash_count + ?6, bytes = bytes + ?7, point_count = point_count + ?10,"
        " start_ns = CASE WHEN ?8 > 0 AND (kind = 'trace' OR start_ns = 0) AND ?8 < start_ns"
        "   THEN ?8 ELSE start_ns END,"
        " end_ns = CASE WHEN kind = 'trace' AND (end_ns IS NULL OR ?9 > end_ns) THEN ?9"
        "   ELSE end_ns END,"
        " root_name = CASE WHEN ?2 > 0 THEN " RUN_ROOT_NAME_SQL " ELSE root_name END,"
        " service = CASE WHEN ?2 > 0 THEN " RUN_SERVICE_SQL " ELSE service END WHERE id = ?1",
    [ST_STREAM_FIND] = "SELECT id FROM metric_streams WHERE hash = ?1",
    [ST_STREAM_INSERT] =
        "INSERT INTO metric_streams (run_id, resource_id, name, description, unit, type,"
        " temporality, monotonic, service_name, scope_name, scope_version, attrs, hash, first_ns,"
        " last_ns) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?14)",
    [ST_STREAM_ATTR] = "INSERT OR REPLACE INTO metric_stream_kv (stream_id, key_id, type, value)"
                       " VALUES (?1, ?2, ?3, ?4)",
    [ST_STREAM_SEEN] = "UPDATE metric_streams SET point_count = point_count + ?3,"
                       " first_ns = min(first_ns, ?2), last_ns = max(last_ns, ?4) WHERE id = ?1",
    [ST_POINT_INSERT] =
        "INSERT OR IGNORE INTO metric_points (stream_id, run_id, resource_id, name, unit, type,"
        " service_name, start_ns, time_ns, value, count, sum, min, max, bounds, buckets,"
        " quantiles, exemplars, flags) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11,"
        " ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)",
    [ST_KEY_INSERT] = "INSERT OR IGNORE INTO attr_keys (key) VALUES (?1)",
    [ST_KEY_FIND] = "SELECT id FROM attr_keys WHERE key = ?1",
};

/* Attribute keys by id, remembered across batches: a batch of the shim's
 * spans names the same few dozen keys thousands of times. Open addressing;
 * emptied when half full, and after a rollback (ids it gave out may be
 * gone with it). */
#define KEY_SLOTS 1024
struct key_slot {
    char *key;
    int64_t id;
};

struct store {
    sqlite3 *db;
    char *path;
    pthread_mutex_t lock;
    sqlite3_stmt *st[ST_COUNT];
    int64_t keep_runs, max_bytes;
    int64_t last_retain_ns;
    struct key_slot keys[KEY_SLOTS];
    size_t n_keys;
    store_listener listener[STORE_MAX_LISTENERS];
    void *listener_ctx[STORE_MAX_LISTENERS];
};

/* A metric stream within one batch: its id by hash, and the points stored
 * new (point_count, first_ns, last_ns are updated once, at the end). */
struct stream_delta {
    int64_t hash, id, points, first, last;
};

/* Per-run counters summed over one batch. */
struct run_delta {
    int64_t run_id;
    int64_t spans, logs, points, processes, errors, crashes, bytes, min_start, max_end;
};

struct batch {
    struct run_delta *runs;
    size_t n_runs, cap_runs;
    char last_trace[33];
    int64_t last_run;
    int64_t rejected;
    struct stream_delta *streams; /* metric streams seen in this batch */
    size_t n_streams, cap_streams;
    char msg[256];
};

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void set_msg(char *msg, size_t cap, const char *what, sqlite3 *db) {
    if (cap > 0) snprintf(msg, cap, "%s: %s", what, db ? sqlite3_errmsg(db) : "out of memory");
}

const char *store_default_path(const char *explicit_path, char *buf, size_t cap) {
    int n;
    const char *env = getenv("OTEL_PRELOAD_DB");
    const char *xdg = getenv("XDG_DATA_HOME");
    const char *home = getenv("HOME");
    if (explicit_path != NULL && explicit_path[0] != '\0')
        n = snprintf(buf, cap, "%s", explicit_path);
    else if (env != NULL && env[0] != '\0')
        n = snprintf(buf, cap, "%s", env);
    else if (xdg != NULL && xdg[0] == '/')
        n = snprintf(buf, cap, "%s/otel-preload/store.db", xdg);
    else if (home != NULL && home[0] == '/')
        n = snprintf(buf, cap, "%s/.local/share/otel-preload/store.db", home);
    else
        n = snprintf(buf, cap, "/tmp/otel-preload-%u/store.db", (unsigned)getuid());
    return n < 0 || (size_t)n >= cap ? NULL : buf;
}

/* mkdir -p of the directory part of path, mode 0700 for what it creates. */
static int make_parent_dirs(const char *path) {
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp)) return -ENAMETOOLONG;
    char *slash = strrchr(tmp, '/');
    if (slash == NULL || slash == tmp) return 0;
    *slash = '\0';
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(tmp, 0700) != 0 && errno != EEXIST) return -errno;
        *p = '/';
    }
    if (mkdir(tmp, 0700) != 0 && errno != EEXIST) return -errno;
    return 0;
}

/* Schema 3 indexed attribute values by (key_id, value), and its views had
 * no epoch: the indexes and views are made again (SCHEMA). */
static const char MIGRATE_3[] =
    "DROP INDEX IF EXISTS resource_kv_value; DROP INDEX IF EXISTS span_kv_value;"
    " DROP INDEX IF EXISTS log_kv_value; DROP VIEW IF EXISTS resource_attrs;"
    " DROP VIEW IF EXISTS span_attrs; DROP VIEW IF EXISTS log_attrs;";

/* Whether a one-value query is true (false also when it fails). */
static bool sql_true(sqlite3 *db, const char *sql) {
    sqlite3_stmt *st;
    bool yes = false;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) return false;
    if (sqlite3_step(st) == SQLITE_ROW) yes = sqlite3_column_int(st, 0) != 0;
    sqlite3_finalize(st);
    return yes;
}

/* A schema-3 store: span_kv_value exists. */
static bool needs_migration_3(sqlite3 *db) {
    return sql_true(db, "SELECT count(*) FROM sqlite_master WHERE name = 'span_kv_value' AND"
                        " type = 'index'");
}

/* A schema-2 store: the attribute tables are tables, not views of *_kv. */
static bool needs_migration_2(sqlite3 *db) {
    return sql_true(db, "SELECT count(*) FROM sqlite_master WHERE name = 'span_attrs' AND"
                        " type = 'table'");
}

/* A schema-4 (or older) store: runs exists without root_name. */
static bool needs_migration_4(sqlite3 *db) {
    return sql_true(db, "SELECT (SELECT count(*) FROM pragma_table_info('runs')) > 0 AND"
                        " (SELECT count(*) FROM pragma_table_info('runs') WHERE"
                        " name = 'root_name') = 0");
}

/* A schema-1 store: metric_points exists without stream_id. */
static bool needs_migration(sqlite3 *db) {
    return sql_true(db, "SELECT (SELECT count(*) FROM pragma_table_info('metric_points')) > 0 AND"
                        " (SELECT count(*) FROM pragma_table_info('metric_points') WHERE"
                        " name = 'stream_id') = 0");
}

/* The pragmas, the migration and the schema, in one write transaction.
 * -EBUSY when another connection holds a lock the busy handler does not
 * wait for. */
static int set_up(sqlite3 *db, const char *path, char *err, size_t err_cap) {
    static const struct {
        const char *what, *sql;
        bool (*needed)(sqlite3 *db); /* NULL: always */
        bool in_transaction;         /* a failure rolls back */
        bool slow;                   /* rebuilds indexes: minutes for a large store */
    } steps[] = {
        {"cannot open",
         "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
         " PRAGMA foreign_keys=OFF; PRAGMA cache_size=-32768;"
         /* a checkpoint every 64 MiB of WAL, not 4 MiB: the pages a batch
          * writes again and again (the newest epochs, the tables' ends) go
          * to the database file once per checkpoint (8% less CPU per span
          * in bench_store); the file shrinks back to 64 MiB after one */
         " PRAGMA wal_autocheckpoint=16384; PRAGMA journal_size_limit=67108864;"
         /* Debian builds SQLite to overwrite all deleted content with
          * zeros: retention and the schema-3 migration wrote every freed
          * page again; FAST zeroes only within pages written anyway */
         " PRAGMA secure_delete=FAST;",
         NULL, false},
        {"cannot open", "BEGIN IMMEDIATE", NULL, false},
        {"cannot upgrade the schema in", MIGRATE_1, needs_migration, true},
        {"cannot upgrade the schema in", MIGRATE_2, needs_migration_2, true, true},
        {"cannot upgrade the schema in", MIGRATE_3, needs_migration_3, true, true},
        {"cannot upgrade the schema in", MIGRATE_4, needs_migration_4, true},
        {"cannot create the schema in", SCHEMA, NULL, true},
        {"cannot create the schema in", "COMMIT", NULL, true},
    };
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        if (steps[i].needed && !steps[i].needed(db)) continue;
        /* once per store, and a user waiting minutes should know why (a
         * million-span store: 232 s at load 15 on the 2-core test VM) */
        if (steps[i].slow)
            fprintf(stderr,
                    "otel-preload: converting the store %s to the current schema (once;"
                    " minutes for a large store)\n",
                    path);
        char *emsg = NULL;
        int rc = sqlite3_exec(db, steps[i].sql, NULL, NULL, &emsg);
        if (rc == SQLITE_OK) continue;
        snprintf(err, err_cap, "%s %s: %s", steps[i].what, path, emsg ? emsg : "?");
        sqlite3_free(emsg);
        if (steps[i].in_transaction) sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return (rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED ? -EBUSY : -EIO;
    }
    return 0;
}

/* Debian's SQLite counts its memory under a global mutex on every
 * allocation (SQLITE_DEFAULT_MEMSTATUS): 6% of the CPU of a span's write.
 * Only possible before SQLite initialises; later it is a no-op. */
static void no_memstatus(void) {
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

int store_open(const char *path, struct store **out, char *err, size_t err_cap) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, no_memstatus);
    *out = NULL;
    int rc = make_parent_dirs(path);
    if (rc != 0) {
        snprintf(err, err_cap, "cannot create the directory of %s: %s", path, strerror(-rc));
        return rc;
    }
    struct store *s = calloc(1, sizeof(*s));
    if (s == NULL || (s->path = strdup(path)) == NULL) {
        free(s);
        snprintf(err, err_cap, "out of memory");
        return -ENOMEM;
    }
    pthread_mutex_init(&s->lock, NULL);
    s->keep_runs = STORE_DEFAULT_KEEP_RUNS;
    s->max_bytes = STORE_DEFAULT_MAX_BYTES;
    mode_t old = umask(077);
    int sr = sqlite3_open_v2(
        path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    umask(old);
    if (sr != SQLITE_OK) {
        snprintf(err, err_cap, "cannot open %s: %s", path,
                 s->db ? sqlite3_errmsg(s->db) : "out of memory");
        store_close(s);
        return -EIO;
    }
    sqlite3_busy_timeout(s->db, 5000);
    /* Switching a new database to WAL takes an exclusive lock without
     * calling the busy handler: two first opens at once (two `run`s on a
     * fresh store) get SQLITE_BUSY at once. Retried, bounded (~10 s). */
    int tries = 0;
    while ((rc = set_up(s->db, path, err, err_cap)) == -EBUSY && tries++ < 1000) {
        struct timespec pause = {0, 10 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    if (rc != 0) {
        store_close(s);
        return -EIO;
    }
    for (int i = 0; i < ST_COUNT; i++) {
        if (sqlite3_prepare_v3(s->db, STMT_SQL[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i],
                               NULL) != SQLITE_OK) {
            snprintf(err, err_cap, "cannot prepare statement %d: %s", i, sqlite3_errmsg(s->db));
            store_close(s);
            return -EIO;
        }
    }
    *out = s;
    return 0;
}

static void keys_forget(struct store *s) {
    for (size_t i = 0; i < KEY_SLOTS; i++) {
        free(s->keys[i].key);
        s->keys[i].key = NULL;
    }
    s->n_keys = 0;
}

void store_close(struct store *s) {
    if (s == NULL) return;
    keys_forget(s);
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(s->st[i]);
    sqlite3_close(s->db);
    pthread_mutex_destroy(&s->lock);
    free(s->path);
    free(s);
}

sqlite3 *store_db(struct store *s) {
    return s->db;
}
const char *store_path(const struct store *s) {
    return s->path;
}

void store_set_limits(struct store *s, int64_t keep_runs, int64_t max_bytes) {
    pthread_mutex_lock(&s->lock);
    if (keep_runs > 0) s->keep_runs = keep_runs;
    if (max_bytes > 0) s->max_bytes = max_bytes;
    pthread_mutex_unlock(&s->lock);
}

void store_set_listener(struct store *s, store_listener fn, void *ctx) {
    pthread_mutex_lock(&s->lock);
    s->listener[0] = fn;
    s->listener_ctx[0] = ctx;
    pthread_mutex_unlock(&s->lock);
}

int store_add_listener(struct store *s, store_listener fn, void *ctx) {
    int rc = -ENOSPC;
    pthread_mutex_lock(&s->lock);
    for (int i = 0; i < STORE_MAX_LISTENERS; i++)
        if (s->listener[i] == NULL) {
            s->listener[i] = fn;
            s->listener_ctx[i] = ctx;
            rc = 0;
            break;
        }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

void store_remove_listener(struct store *s, store_listener fn, void *ctx) {
    pthread_mutex_lock(&s->lock);
    for (int i = 0; i < STORE_MAX_LISTENERS; i++)
        if (s->listener[i] == fn && s->listener_ctx[i] == ctx) s->listener[i] = NULL;
    pthread_mutex_unlock(&s->lock);
}

/* ---- values ---------------------------------------------------------- */

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++) {
        h ^= c[i];
        h *= 1099511628211ULL;
    }
    return h;
}
#define FNV_INIT 14695981039346656037ULL

static uint64_t hash_value(uint64_t h, const struct otlp_value *v);

static uint64_t hash_attrs(uint64_t h, const struct otlp_attr *a, size_t n) {
    for (size_t i = 0; i < n; i++) {
        h = fnv(h, a[i].key, strlen(a[i].key) + 1);
        h = hash_value(h, &a[i].value);
    }
    return h;
}

static uint64_t hash_value(uint64_t h, const struct otlp_value *v) {
    int t = (int)v->type;
    h = fnv(h, &t, sizeof(t));
    switch (v->type) {
    case OTLP_VALUE_STRING:
    case OTLP_VALUE_BYTES:
        return fnv(h, v->str, v->len);
    case OTLP_VALUE_BOOL:
        return fnv(h, &v->b, sizeof(v->b));
    case OTLP_VALUE_INT:
        return fnv(h, &v->i, sizeof(v->i));
    case OTLP_VALUE_DOUBLE:
        return fnv(h, &v->d, sizeof(v->d));
    case OTLP_VALUE_ARRAY:
        for (size_t i = 0; i < v->n_items; i++)
            h = hash_value(h, &v->items[i]);
        return h;
    case OTLP_VALUE_KVLIST:
        return hash_attrs(h, v->kvs, v->n_kvs);
    default:
        return h;
    }
}

static void json_value(struct sbuf *b, const struct otlp_value *v);

static void json_attrs(struct sbuf *b, const struct otlp_attr *a, size_t n) {
    sbuf_add(b, "{", 1);
    for (size_t i = 0; i < n; i++) {
        if (i > 0) sbuf_add(b, ",", 1);
        sbuf_json_str(b, a[i].key, strlen(a[i].key));
        sbuf_add(b, ":", 1);
        json_value(b, &a[i].value);
    }
    sbuf_add(b, "}", 1);
}

static void json_value(struct sbuf *b, const struct otlp_value *v) {
    switch (v->type) {
    case OTLP_VALUE_STRING:
        sbuf_json_str(b, v->str, v->len);
        break;
    case OTLP_VALUE_BYTES: /* as OTLP/JSON would: hex here, readable and exact */
        sbuf_add(b, "\"", 1);
        sbuf_hex(b, (const uint8_t *)v->str, v->len);
        sbuf_add(b, "\"", 1);
        break;
    case OTLP_VALUE_BOOL:
        sbuf_puts(b, v->b ? "true" : "false");
        break;
    case OTLP_VALUE_INT:
        sbuf_printf(b, "%lld", (long long)v->i);
        break;
    case OTLP_VALUE_DOUBLE:
        if (v->d != v->d || v->d > 1.7976931348623157e308 || v->d < -1.7976931348623157e308)
            sbuf_printf(b, "\"%g\"", v->d); /* NaN, Infinity: JSON has no number for them */
        else
            sbuf_printf(b, "%.17g", v->d);
        break;
    case OTLP_VALUE_ARRAY:
        sbuf_add(b, "[", 1);
        for (size_t i = 0; i < v->n_items; i++) {
            if (i > 0) sbuf_add(b, ",", 1);
            json_value(b, &v->items[i]);
        }
        sbuf_add(b, "]", 1);
        break;
    case OTLP_VALUE_KVLIST:
        json_attrs(b, v->kvs, v->n_kvs);
        break;
    default:
        sbuf_puts(b, "null");
        break;
    }
}

static const char *type_code(enum otlp_value_type t) {
    switch (t) {
    case OTLP_VALUE_STRING:
        return "s";
    case OTLP_VALUE_BOOL:
        return "b";
    case OTLP_VALUE_INT:
        return "i";
    case OTLP_VALUE_DOUBLE:
        return "d";
    case OTLP_VALUE_BYTES:
        return "x";
    case OTLP_VALUE_ARRAY:
        return "a";
    case OTLP_VALUE_KVLIST:
        return "m";
    default:
        return "e";
    }
}

/* Binds v at index i (value column), its type code at i-1 when type_idx > 0. */
static int bind_value(sqlite3_stmt *st, int type_idx, int i, const struct otlp_value *v,
                      struct sbuf *tmp) {
    if (type_idx > 0) sqlite3_bind_text(st, type_idx, type_code(v->type), 1, SQLITE_STATIC);
    switch (v->type) {
    case OTLP_VALUE_STRING:
        return sqlite3_bind_text(st, i, v->str, (int)v->len, SQLITE_STATIC);
    case OTLP_VALUE_BYTES:
        return sqlite3_bind_blob(st, i, v->str, (int)v->len, SQLITE_STATIC);
    case OTLP_VALUE_BOOL:
        return sqlite3_bind_int(st, i, v->b ? 1 : 0);
    case OTLP_VALUE_INT:
        return sqlite3_bind_int64(st, i, v->i);
    case OTLP_VALUE_DOUBLE:
        return sqlite3_bind_double(st, i, v->d);
    case OTLP_VALUE_ARRAY:
    case OTLP_VALUE_KVLIST:
        tmp->len = 0;
        json_value(tmp, v);
        if (tmp->failed) return SQLITE_NOMEM;
        return sqlite3_bind_text(st, i, sbuf_cstr(tmp), (int)tmp->len, SQLITE_TRANSIENT);
    default:
        return sqlite3_bind_null(st, i);
    }
}

static size_t value_bytes(const struct otlp_value *v) {
    size_t n = 16 + v->len;
    for (size_t i = 0; i < v->n_items; i++)
        n += value_bytes(&v->items[i]);
    for (size_t i = 0; i < v->n_kvs; i++)
        n += strlen(v->kvs[i].key) + value_bytes(&v->kvs[i].value);
    return n;
}

static size_t attrs_bytes(const struct otlp_attrs *a) {
    size_t n = 0;
    for (size_t i = 0; i < a->count; i++)
        n += 24 + strlen(a->items[i].key) + value_bytes(&a->items[i].value);
    return n;
}

static bool is_zero(const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i]) return false;
    return true;
}

static void hex(char *out, const uint8_t *p, size_t n) {
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[p[i] >> 4];
        out[2 * i + 1] = d[p[i] & 15];
    }
    out[2 * n] = '\0';
}

static const struct otlp_value *find_attr(const struct otlp_attrs *a, const char *key) {
    for (size_t i = 0; i < a->count; i++)
        if (strcmp(a->items[i].key, key) == 0) return &a->items[i].value;
    return NULL;
}

static bool int_attr(const struct otlp_attrs *a, const struct otlp_attrs *fallback, const char *key,
                     int64_t *out) {
    const struct otlp_value *v = find_attr(a, key);
    if ((v == NULL || v->type != OTLP_VALUE_INT) && fallback != NULL) v = find_attr(fallback, key);
    if (v == NULL || v->type != OTLP_VALUE_INT) return false;
    *out = v->i;
    return true;
}

static int step_done(sqlite3_stmt *st) {
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : rc;
}

/* The id of an attribute key: remembered, found, or added to attr_keys. */
static int key_id(struct store *s, const char *key, int64_t *id) {
    size_t len = strlen(key);
    size_t h = (size_t)fnv(FNV_INIT, key, len) & (KEY_SLOTS - 1);
    for (; s->keys[h].key != NULL; h = (h + 1) & (KEY_SLOTS - 1))
        if (strcmp(s->keys[h].key, key) == 0) {
            *id = s->keys[h].id;
            return 0;
        }
    sqlite3_stmt *st = s->st[ST_KEY_INSERT];
    sqlite3_bind_text(st, 1, key, (int)len, SQLITE_STATIC);
    int rc = step_done(st);
    if (rc != 0) return rc;
    st = s->st[ST_KEY_FIND];
    sqlite3_bind_text(st, 1, key, (int)len, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite3_reset(st);
        return rc == SQLITE_DONE ? SQLITE_ERROR : rc;
    }
    *id = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    if (s->n_keys >= KEY_SLOTS / 2) {
        keys_forget(s);
        h = (size_t)fnv(FNV_INIT, key, len) & (KEY_SLOTS - 1);
    }
    if ((s->keys[h].key = strdup(key)) != NULL) {
        s->keys[h].id = *id;
        s->n_keys++;
    }
    return 0;
}

static int insert_attrs(struct store *s, enum stmt_id which, int64_t owner,
                        const struct otlp_attrs *a, struct sbuf *tmp) {
    sqlite3_stmt *st = s->st[which];
    for (size_t i = 0; i < a->count; i++) {
        int64_t kid = 0;
        int rc = key_id(s, a->items[i].key, &kid);
        if (rc != 0) return rc;
        sqlite3_bind_int64(st, 1, owner);
        sqlite3_bind_int64(st, 2, kid);
        if (bind_value(st, 3, 4, &a->items[i].value, tmp) != SQLITE_OK) {
            sqlite3_reset(st);
            return SQLITE_NOMEM;
        }
        if ((rc = step_done(st)) != 0) return rc;
    }
    return 0;
}

/* ---- runs within a batch --------------------------------------------- */

static struct run_delta *delta_for(struct batch *b, int64_t run_id) {
    for (size_t i = 0; i < b->n_runs; i++)
        if (b->runs[i].run_id == run_id) return &b->runs[i];
    if (b->n_runs == b->cap_runs) {
        size_t ncap = b->cap_runs ? b->cap_runs * 2 : 8;
        struct run_delta *p = realloc(b->runs, ncap * sizeof(*p));
        if (p == NULL) return NULL;
        b->runs = p;
        b->cap_runs = ncap;
    }
    struct run_delta *d = &b->runs[b->n_runs++];
    memset(d, 0, sizeof(*d));
    d->run_id = run_id;
    d->min_start = INT64_MAX;
    return d;
}

/* The run of a trace: found, or created as kind 'trace'. */
static int run_of_trace(struct store *s, struct batch *b, const char *trace_hex, int64_t start,
                        int64_t end, int64_t *run_id) {
    if (strcmp(b->last_trace, trace_hex) == 0) {
        *run_id = b->last_run;
        return 0;
    }
    sqlite3_stmt *st = s->st[ST_RUN_FIND];
    sqlite3_bind_text(st, 1, trace_hex, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *run_id = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
    } else {
        sqlite3_reset(st);
        if (rc != SQLITE_DONE) return rc;
        st = s->st[ST_RUN_INSERT_TRACE];
        sqlite3_bind_text(st, 1, trace_hex, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, start);
        sqlite3_bind_int64(st, 3, end);
        if ((rc = step_done(st)) != 0) return rc;
        *run_id = sqlite3_last_insert_rowid(s->db);
    }
    memcpy(b->last_trace, trace_hex, 33);
    b->last_run = *run_id;
    return 0;
}

static int exec_bind(struct store *s, const char *sql, int64_t a, int64_t b, int64_t c);

static int resource_row(struct store *s, const struct otlp_resource *r, const char *schema_url,
                        int64_t run_id, int64_t *res_id, int64_t *res_run, const char **service,
                        struct sbuf *tmp) {
    uint64_t h = hash_attrs(FNV_INIT, r->attrs.items, r->attrs.count);
    h = fnv(h, schema_url, strlen(schema_url));
    int64_t hv = (int64_t)(h & 0x7fffffffffffffffULL);
    const struct otlp_value *sv = find_attr(&r->attrs, "service.name");
    *service = sv != NULL && sv->type == OTLP_VALUE_STRING ? sv->str : NULL;
    sqlite3_stmt *st = s->st[ST_RES_FIND];
    sqlite3_bind_int64(st, 1, hv);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *res_id = sqlite3_column_int64(st, 0);
        *res_run = sqlite3_column_type(st, 1) == SQLITE_NULL ? 0 : sqlite3_column_int64(st, 1);
        sqlite3_reset(st);
        if (*res_run == 0 && run_id > 0) {
            /* A resource first seen run-less (metrics come before the
             * process's spans): it joins the run now, with its rows. */
            static const char *const adopt[] = {
                "UPDATE resources SET run_id = ?2 WHERE id = ?1 AND run_id IS NULL",
                "UPDATE metric_streams SET run_id = ?2 WHERE resource_id = ?1 AND run_id IS NULL",
                "UPDATE metric_points SET run_id = ?2 WHERE resource_id = ?1 AND run_id IS NULL",
                "UPDATE logs SET run_id = ?2 WHERE resource_id = ?1 AND run_id IS NULL",
            };
            for (size_t i = 0; i < sizeof(adopt) / sizeof(adopt[0]); i++)
                if (exec_bind(s, adopt[i], *res_id, run_id, 0) != 0) return SQLITE_ERROR;
            *res_run = run_id;
        }
        return 0;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) return rc;
    st = s->st[ST_RES_INSERT];
    if (run_id > 0) sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_int64(st, 2, hv);
    if (*service) sqlite3_bind_text(st, 3, *service, -1, SQLITE_STATIC);
    if (schema_url[0]) sqlite3_bind_text(st, 4, schema_url, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, r->dropped_attributes_count);
    if ((rc = step_done(st)) != 0) return rc;
    *res_id = sqlite3_last_insert_rowid(s->db);
    *res_run = run_id;
    return insert_attrs(s, ST_RES_ATTR, *res_id, &r->attrs, tmp);
}

static int begin(struct store *s) {
    return sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
}

static int finish(struct store *s, struct batch *b, int rc) {
    if (rc == 0) {
        sqlite3_stmt *st = s->st[ST_RUN_COUNTS];
        for (size_t i = 0; i < b->n_runs && rc == 0; i++) {
            struct run_delta *d = &b->runs[i];
            sqlite3_bind_int64(st, 1, d->run_id);
            sqlite3_bind_int64(st, 2, d->spans);
            sqlite3_bind_int64(st, 3, d->logs);
            sqlite3_bind_int64(st, 4, d->processes);
            sqlite3_bind_int64(st, 5, d->errors);
            sqlite3_bind_int64(st, 6, d->crashes);
            sqlite3_bind_int64(st, 7, d->bytes);
            sqlite3_bind_int64(st, 8, d->min_start == INT64_MAX ? 0 : d->min_start);
            sqlite3_bind_int64(st, 9, d->max_end);
            sqlite3_bind_int64(st, 10, d->points);
            rc = step_done(st);
        }
        st = s->st[ST_STREAM_SEEN];
        for (size_t i = 0; i < b->n_streams && rc == 0; i++) {
            struct stream_delta *d = &b->streams[i];
            if (d->points == 0) continue;
            sqlite3_bind_int64(st, 1, d->id);
            sqlite3_bind_int64(st, 2, d->first);
            sqlite3_bind_int64(st, 3, d->points);
            sqlite3_bind_int64(st, 4, d->last);
            rc = step_done(st);
        }
    }
    if (rc == 0) rc = sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
    if (rc != 0) {
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        keys_forget(s); /* keys added in the batch went with it */
    }
    free(b->runs);
    free(b->streams);
    return rc;
}

static void refuse(struct batch *b, const char *why) {
    b->rejected++;
    if (b->msg[0] == '\0') snprintf(b->msg, sizeof(b->msg), "%s", why);
}

/* ---- traces ---------------------------------------------------------- */

static int store_span(struct store *s, struct batch *b, const struct otlp_span *sp,
                      const struct otlp_scope_spans *ss, const struct otlp_resource *res,
                      const char *service, int64_t res_id, struct sbuf *tmp) {
    if (is_zero(sp->trace_id, 16) || is_zero(sp->span_id, 8)) {
        refuse(b, "a span without a trace_id or span_id");
        return 0;
    }
    if (sp->attrs.count > STORE_MAX_ATTRS) {
        refuse(b, "a span with more than 1024 attributes");
        return 0;
    }
    char trace[33], span[17], parent[17];
    hex(trace, sp->trace_id, 16);
    hex(span, sp->span_id, 8);
    hex(parent, sp->parent_span_id, 8);
    int64_t start = (int64_t)sp->start_time_unix_nano, end = (int64_t)sp->end_time_unix_nano;
    int64_t run_id;
    int rc = run_of_trace(s, b, trace, start, end, &run_id);
    if (rc != 0) return rc;

    sqlite3_stmt *st = s->st[ST_SPAN_INSERT];
    sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_int64(st, 2, res_id);
    sqlite3_bind_text(st, 3, trace, 32, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, span, 16, SQLITE_STATIC);
    if (!is_zero(sp->parent_span_id, 8)) sqlite3_bind_text(st, 5, parent, 16, SQLITE_STATIC);
    if (sp->trace_state[0]) sqlite3_bind_text(st, 6, sp->trace_state, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 7, sp->flags);
    sqlite3_bind_text(st, 8, sp->name, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 9, sp->kind);
    sqlite3_bind_int64(st, 10, start);
    sqlite3_bind_int64(st, 11, end);
    /* in the unsigned times: a start past 2262 (negative as a signed count) made
     * end - start overflow (undefined behaviour) */
    uint64_t dur = sp->end_time_unix_nano >= sp->start_time_unix_nano
                       ? sp->end_time_unix_nano - sp->start_time_unix_nano
                       : 0;
    sqlite3_bind_int64(st, 12, dur > INT64_MAX ? INT64_MAX : (int64_t)dur);
    sqlite3_bind_int(st, 13, sp->status_code);
    if (sp->status_message[0]) sqlite3_bind_text(st, 14, sp->status_message, -1, SQLITE_STATIC);
    if (service) sqlite3_bind_text(st, 15, service, -1, SQLITE_STATIC);
    int64_t v;
    bool has_pid = int_attr(&sp->attrs, &res->attrs, "process.pid", &v);
    if (has_pid) sqlite3_bind_int64(st, 16, v);
    if (int_attr(&sp->attrs, &res->attrs, "process.parent_pid", &v)) sqlite3_bind_int64(st, 17, v);
    if (int_attr(&sp->attrs, NULL, "process.exit.code", &v)) sqlite3_bind_int64(st, 18, v);
    bool crashed = int_attr(&sp->attrs, NULL, "process.exit.signal", &v);
    if (crashed) sqlite3_bind_int64(st, 19, v);
    if (ss->has_scope && ss->scope.name[0])
        sqlite3_bind_text(st, 20, ss->scope.name, -1, SQLITE_STATIC);
    if (ss->has_scope && ss->scope.version[0])
        sqlite3_bind_text(st, 21, ss->scope.version, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 22, sp->dropped_attributes_count);
    sqlite3_bind_int64(st, 23, sp->dropped_events_count);
    sqlite3_bind_int64(st, 24, sp->dropped_links_count);
    if ((rc = step_done(st)) != 0) return rc;
    if (sqlite3_changes(s->db) == 0) return 0; /* stored before */
    int64_t row = sqlite3_last_insert_rowid(s->db);

    if ((rc = insert_attrs(s, ST_SPAN_ATTR, row, &sp->attrs, tmp)) != 0) return rc;
    size_t bytes = 200 + strlen(sp->name) + attrs_bytes(&sp->attrs);
    for (size_t i = 0; i < sp->n_events; i++) {
        const struct otlp_event *e = &sp->events[i];
        tmp->len = 0;
        json_attrs(tmp, e->attrs.items, e->attrs.count);
        if (tmp->failed) return SQLITE_NOMEM;
        st = s->st[ST_EVENT];
        sqlite3_bind_int64(st, 1, row);
        sqlite3_bind_int64(st, 2, (int64_t)i);
        sqlite3_bind_int64(st, 3, (int64_t)e->time_unix_nano);
        sqlite3_bind_text(st, 4, e->name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, sbuf_cstr(tmp), (int)tmp->len, SQLITE_STATIC);
        sqlite3_bind_int64(st, 6, e->dropped_attributes_count);
        if ((rc = step_done(st)) != 0) return rc;
        bytes += 40 + strlen(e->name) + tmp->len;
    }
    for (size_t i = 0; i < sp->n_links; i++) {
        const struct otlp_link *l = &sp->links[i];
        char lt[33], ls[17];
        hex(lt, l->trace_id, 16);
        hex(ls, l->span_id, 8);
        tmp->len = 0;
        json_attrs(tmp, l->attrs.items, l->attrs.count);
        if (tmp->failed) return SQLITE_NOMEM;
        st = s->st[ST_LINK];
        sqlite3_bind_int64(st, 1, row);
        sqlite3_bind_int64(st, 2, (int64_t)i);
        sqlite3_bind_text(st, 3, lt, 32, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, ls, 16, SQLITE_STATIC);
        if (l->trace_state[0]) sqlite3_bind_text(st, 5, l->trace_state, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 6, l->flags);
        sqlite3_bind_text(st, 7, sbuf_cstr(tmp), (int)tmp->len, SQLITE_STATIC);
        sqlite3_bind_int64(st, 8, l->dropped_attributes_count);
        if ((rc = step_done(st)) != 0) return rc;
        bytes += 80 + tmp->len;
    }
    struct run_delta *d = delta_for(b, run_id);
    if (d == NULL) return SQLITE_NOMEM;
    d->spans++;
    d->bytes += (int64_t)bytes;
    if (has_pid && find_attr(&sp->attrs, "process.pid") != NULL) d->processes++;
    if (sp->status_code == 2) d->errors++;
    if (crashed) d->crashes++;
    if (start > 0 && start < d->min_start) d->min_start = start;
    if (end > d->max_end) d->max_end = end;
    return 0;
}

static void notify(struct store *s, enum store_signal sig, const void *req) {
    for (int i = 0; i < STORE_MAX_LISTENERS; i++)
        if (s->listener[i] != NULL) s->listener[i](s->listener_ctx[i], sig, req);
}

static void maybe_retain(struct store *s);

int store_write_traces(struct store *s, const struct otlp_traces *req, int64_t *rejected, char *msg,
                       size_t msg_cap) {
    struct batch b;
    memset(&b, 0, sizeof(b));
    struct sbuf tmp = {0};
    pthread_mutex_lock(&s->lock);
    int rc = begin(s);
    for (size_t r = 0; rc == 0 && r < req->n_resource_spans; r++) {
        const struct otlp_resource_spans *rs = &req->resource_spans[r];
        if (rs->resource.attrs.count > STORE_MAX_ATTRS) {
            for (size_t k = 0; k < rs->n_scope_spans; k++)
                for (size_t j = 0; j < rs->scope_spans[k].n_spans; j++)
                    refuse(&b, "a resource with more than 1024 attributes");
            continue;
        }
        int64_t res_id = 0, res_run = 0, first_run = 0;
        const char *service = NULL;
        /* The resource's run: the run of its first span's trace. */
        for (size_t k = 0; k < rs->n_scope_spans && first_run == 0 && rc == 0; k++)
            for (size_t j = 0; j < rs->scope_spans[k].n_spans; j++) {
                const struct otlp_span *sp = &rs->scope_spans[k].spans[j];
                if (is_zero(sp->trace_id, 16)) continue;
                char trace[33];
                hex(trace, sp->trace_id, 16);
                rc = run_of_trace(s, &b, trace, (int64_t)sp->start_time_unix_nano,
                                  (int64_t)sp->end_time_unix_nano, &first_run);
                break;
            }
        if (rc == 0)
            rc = resource_row(s, &rs->resource, rs->schema_url, first_run, &res_id, &res_run,
                              &service, &tmp);
        for (size_t k = 0; rc == 0 && k < rs->n_scope_spans; k++) {
            const struct otlp_scope_spans *ss = &rs->scope_spans[k];
            for (size_t j = 0; rc == 0 && j < ss->n_spans; j++)
                rc = store_span(s, &b, &ss->spans[j], ss, &rs->resource, service, res_id, &tmp);
        }
    }
    rc = finish(s, &b, rc);
    if (rc != 0)
        set_msg(msg, msg_cap, "cannot store the spans", s->db);
    else if (msg_cap > 0)
        snprintf(msg, msg_cap, "%s", b.msg);
    *rejected = b.rejected;
    if (rc == 0) {
        maybe_retain(s);
        notify(s, STORE_TRACES, req);
    }
    pthread_mutex_unlock(&s->lock);
    sbuf_free(&tmp);
    return rc == 0 ? 0 : -EIO;
}

/* ---- logs ------------------------------------------------------------ */

static int store_log(struct store *s, struct batch *b, const struct otlp_log *lr,
                     const struct otlp_scope_logs *sl, uint64_t res_hash, const char *service,
                     int64_t res_id, int64_t res_run, int64_t res_pid, struct sbuf *tmp) {
    if (lr->attrs.count > STORE_MAX_ATTRS) {
        refuse(b, "a log record with more than 1024 attributes");
        return 0;
    }
    int64_t t = (int64_t)(lr->time_unix_nano ? lr->time_unix_nano : lr->observed_time_unix_nano);
    if (t == 0) t = now_ns();
    int64_t run_id = res_run;
    char trace[33], span[17];
    bool has_trace = !is_zero(lr->trace_id, 16);
    int rc;
    if (has_trace) {
        hex(trace, lr->trace_id, 16);
        if ((rc = run_of_trace(s, b, trace, t, t, &run_id)) != 0) return rc;
    }
    uint64_t h = fnv(res_hash, &t, sizeof(t));
    h = fnv(h, &lr->observed_time_unix_nano, sizeof(lr->observed_time_unix_nano));
    h = fnv(h, &lr->severity_number, sizeof(lr->severity_number));
    h = fnv(h, lr->severity_text, strlen(lr->severity_text) + 1);
    h = hash_value(h, &lr->body);
    h = fnv(h, lr->trace_id, 16);
    h = fnv(h, lr->span_id, 8);
    h = fnv(h, lr->event_name, strlen(lr->event_name) + 1);
    h = hash_attrs(h, lr->attrs.items, lr->attrs.count);

    sqlite3_stmt *st = s->st[ST_LOG_INSERT];
    if (run_id > 0) sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_int64(st, 2, res_id);
    sqlite3_bind_int64(st, 3, t);
    sqlite3_bind_int64(st, 4, (int64_t)lr->observed_time_unix_nano);
    sqlite3_bind_int(st, 5, lr->severity_number);
    if (lr->severity_text[0]) sqlite3_bind_text(st, 6, lr->severity_text, -1, SQLITE_STATIC);
    if (lr->has_body) {
        if (bind_value(st, 7, 8, &lr->body, tmp) != SQLITE_OK) {
            sqlite3_reset(st);
            return SQLITE_NOMEM;
        }
    } else {
        sqlite3_bind_text(st, 7, "e", 1, SQLITE_STATIC);
    }
    if (has_trace) sqlite3_bind_text(st, 9, trace, 32, SQLITE_STATIC);
    if (!is_zero(lr->span_id, 8)) {
        hex(span, lr->span_id, 8);
        sqlite3_bind_text(st, 10, span, 16, SQLITE_STATIC);
    }
    sqlite3_bind_int64(st, 11, lr->flags);
    if (lr->event_name[0]) sqlite3_bind_text(st, 12, lr->event_name, -1, SQLITE_STATIC);
    if (service) sqlite3_bind_text(st, 13, service, -1, SQLITE_STATIC);
    int64_t pid = res_pid;
    if (pid > 0 || int_attr(&lr->attrs, NULL, "process.pid", &pid)) sqlite3_bind_int64(st, 14, pid);
    if (sl->has_scope && sl->scope.name[0])
        sqlite3_bind_text(st, 15, sl->scope.name, -1, SQLITE_STATIC);
    if (sl->has_scope && sl->scope.version[0])
        sqlite3_bind_text(st, 16, sl->scope.version, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 17, lr->dropped_attributes_count);
    sqlite3_bind_int64(st, 18, (int64_t)(h & 0x7fffffffffffffffULL));
    if ((rc = step_done(st)) != 0) return rc;
    if (sqlite3_changes(s->db) == 0) return 0;
    int64_t row = sqlite3_last_insert_rowid(s->db);
    if ((rc = insert_attrs(s, ST_LOG_ATTR, row, &lr->attrs, tmp)) != 0) return rc;
    if (run_id > 0) {
        struct run_delta *d = delta_for(b, run_id);
        if (d == NULL) return SQLITE_NOMEM;
        d->logs++;
        d->bytes += (int64_t)(160 + value_bytes(&lr->body) + attrs_bytes(&lr->attrs));
    }
    return 0;
}

int store_write_logs(struct store *s, const struct otlp_logs *req, int64_t *rejected, char *msg,
                     size_t msg_cap) {
    struct batch b;
    memset(&b, 0, sizeof(b));
    struct sbuf tmp = {0};
    pthread_mutex_lock(&s->lock);
    int rc = begin(s);
    for (size_t r = 0; rc == 0 && r < req->n_resource_logs; r++) {
        const struct otlp_resource_logs *rl = &req->resource_logs[r];
        if (rl->resource.attrs.count > STORE_MAX_ATTRS) {
            for (size_t k = 0; k < rl->n_scope_logs; k++)
                for (size_t j = 0; j < rl->scope_logs[k].n_logs; j++)
                    refuse(&b, "a resource with more than 1024 attributes");
            continue;
        }
        int64_t first_run = 0, res_id = 0, res_run = 0, res_pid = 0;
        const char *service = NULL;
        for (size_t k = 0; k < rl->n_scope_logs && first_run == 0 && rc == 0; k++)
            for (size_t j = 0; j < rl->scope_logs[k].n_logs; j++) {
                const struct otlp_log *lr = &rl->scope_logs[k].logs[j];
                if (is_zero(lr->trace_id, 16)) continue;
                char trace[33];
                hex(trace, lr->trace_id, 16);
                int64_t t = (int64_t)lr->time_unix_nano;
                rc = run_of_trace(s, &b, trace, t, t, &first_run);
                break;
            }
        if (rc == 0)
            rc = resource_row(s, &rl->resource, rl->schema_url, first_run, &res_id, &res_run,
                              &service, &tmp);
        int_attr(&rl->resource.attrs, NULL, "process.pid", &res_pid);
        uint64_t res_hash = fnv(FNV_INIT, &res_id, sizeof(res_id));
        for (size_t k = 0; rc == 0 && k < rl->n_scope_logs; k++) {
            const struct otlp_scope_logs *sl = &rl->scope_logs[k];
            for (size_t j = 0; rc == 0 && j < sl->n_logs; j++)
                rc = store_log(s, &b, &sl->logs[j], sl, res_hash, service, res_id, res_run, res_pid,
                               &tmp);
        }
    }
    rc = finish(s, &b, rc);
    if (rc != 0)
        set_msg(msg, msg_cap, "cannot store the log records", s->db);
    else if (msg_cap > 0)
        snprintf(msg, msg_cap, "%s", b.msg);
    *rejected = b.rejected;
    if (rc == 0) {
        maybe_retain(s);
        notify(s, STORE_LOGS, req);
    }
    pthread_mutex_unlock(&s->lock);
    sbuf_free(&tmp);
    return rc == 0 ? 0 : -EIO;
}

/* ---- metrics --------------------------------------------------------- */

/* A double in JSON: finite numbers as numbers, others as OTLP/JSON's strings. */
static void json_double(struct sbuf *b, double d) {
    if (d != d)
        sbuf_puts(b, "\"NaN\"");
    else if (d > 1.7976931348623157e308)
        sbuf_puts(b, "\"Infinity\"");
    else if (d < -1.7976931348623157e308)
        sbuf_puts(b, "\"-Infinity\"");
    else
        sbuf_printf(b, "%.17g", d);
}

static void json_counts(struct sbuf *b, const uint64_t *c, size_t n) {
    sbuf_add(b, "[", 1);
    for (size_t i = 0; i < n; i++)
        sbuf_printf(b, "%s%llu", i ? "," : "", (unsigned long long)c[i]);
    sbuf_add(b, "]", 1);
}

static void json_exp_buckets(struct sbuf *b, const struct otlp_exp_buckets *eb) {
    sbuf_printf(b, "{\"offset\":%d,\"bucket_counts\":", (int)eb->offset);
    json_counts(b, eb->counts, eb->n_counts);
    sbuf_add(b, "}", 1);
}

static void json_exemplars(struct sbuf *b, const struct otlp_point *pt) {
    sbuf_add(b, "[", 1);
    for (size_t i = 0; i < pt->n_exemplars; i++) {
        const struct otlp_exemplar *ex = &pt->exemplars[i];
        char id[33];
        sbuf_printf(b, "%s{\"time_ns\":%lld,\"value\":", i ? "," : "",
                    (long long)ex->time_unix_nano);
        if (!ex->has_value)
            sbuf_puts(b, "null");
        else if (ex->is_int)
            sbuf_printf(b, "%lld", (long long)ex->as_int);
        else
            json_double(b, ex->as_double);
        sbuf_puts(b, ",\"trace_id\":");
        if (is_zero(ex->trace_id, 16)) {
            sbuf_puts(b, "null");
        } else {
            hex(id, ex->trace_id, 16);
            sbuf_printf(b, "\"%s\"", id);
        }
        sbuf_puts(b, ",\"span_id\":");
        if (is_zero(ex->span_id, 8)) {
            sbuf_puts(b, "null");
        } else {
            hex(id, ex->span_id, 8);
            sbuf_printf(b, "\"%s\"", id);
        }
        sbuf_puts(b, ",\"attributes\":");
        json_attrs(b, ex->attrs.items, ex->attrs.count);
        sbuf_add(b, "}", 1);
    }
    sbuf_add(b, "]", 1);
}

/* Binds a JSON text built by fn into column i (copied). */
#define BIND_JSON(st, i, tmp, expr)                                                                \
    do {                                                                                           \
        (tmp)->len = 0;                                                                            \
        expr;                                                                                      \
        if ((tmp)->failed) return SQLITE_NOMEM;                                                    \
        sqlite3_bind_text((st), (i), sbuf_cstr(tmp), (int)(tmp)->len, SQLITE_TRANSIENT);           \
        bytes += (tmp)->len;                                                                       \
    } while (0)

/* What a metric and its scope and resource share across its points. */
struct metric_ctx {
    const struct otlp_metric *mt;
    const struct otlp_scope_metrics *sm;
    const char *service;
    int64_t res_id, res_run;
};

/* The stream of a point: seen before in this batch, found by hash, or
 * created with its attributes. */
static int stream_of(struct store *s, struct batch *b, const struct metric_ctx *mc,
                     const struct otlp_point *pt, int64_t t, struct stream_delta **d,
                     struct sbuf *tmp) {
    const struct otlp_metric *mt = mc->mt;
    uint64_t h = fnv(FNV_INIT, &mc->res_id, sizeof(mc->res_id));
    const char *scope_name = mc->sm->has_scope ? mc->sm->scope.name : "";
    const char *scope_version = mc->sm->has_scope ? mc->sm->scope.version : "";
    int type = (int)mt->type, mono = mt->monotonic ? 1 : 0;
    h = fnv(h, scope_name, strlen(scope_name) + 1);
    h = fnv(h, scope_version, strlen(scope_version) + 1);
    h = fnv(h, mt->name, strlen(mt->name) + 1);
    h = fnv(h, mt->unit, strlen(mt->unit) + 1);
    h = fnv(h, &type, sizeof(type));
    h = fnv(h, &mt->temporality, sizeof(mt->temporality));
    h = fnv(h, &mono, sizeof(mono));
    h = hash_attrs(h, pt->attrs.items, pt->attrs.count);
    int64_t hv = (int64_t)(h & 0x7fffffffffffffffULL);
    for (size_t i = b->n_streams; i-- > 0;)
        if (b->streams[i].hash == hv) {
            *d = &b->streams[i];
            return 0;
        }
    if (b->n_streams == b->cap_streams) {
        size_t nc = b->cap_streams ? b->cap_streams * 2 : 64;
        struct stream_delta *p = realloc(b->streams, nc * sizeof(*p));
        if (p == NULL) return SQLITE_NOMEM;
        b->streams = p;
        b->cap_streams = nc;
    }
    struct stream_delta *sd = &b->streams[b->n_streams];
    memset(sd, 0, sizeof(*sd));
    sd->hash = hv;
    sd->first = INT64_MAX;
    int64_t *stream_id = &sd->id;

    sqlite3_stmt *st = s->st[ST_STREAM_FIND];
    sqlite3_bind_int64(st, 1, hv);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *stream_id = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
        *d = &b->streams[b->n_streams++];
        return 0;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) return rc;
    st = s->st[ST_STREAM_INSERT];
    if (mc->res_run > 0) sqlite3_bind_int64(st, 1, mc->res_run);
    sqlite3_bind_int64(st, 2, mc->res_id);
    sqlite3_bind_text(st, 3, mt->name, -1, SQLITE_STATIC);
    if (mt->description[0]) sqlite3_bind_text(st, 4, mt->description, -1, SQLITE_STATIC);
    if (mt->unit[0]) sqlite3_bind_text(st, 5, mt->unit, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 6, type);
    sqlite3_bind_int(st, 7, mt->temporality);
    sqlite3_bind_int(st, 8, mono);
    if (mc->service) sqlite3_bind_text(st, 9, mc->service, -1, SQLITE_STATIC);
    if (scope_name[0]) sqlite3_bind_text(st, 10, scope_name, -1, SQLITE_STATIC);
    if (scope_version[0]) sqlite3_bind_text(st, 11, scope_version, -1, SQLITE_STATIC);
    tmp->len = 0;
    json_attrs(tmp, pt->attrs.items, pt->attrs.count);
    if (tmp->failed) {
        sqlite3_reset(st);
        return SQLITE_NOMEM;
    }
    sqlite3_bind_text(st, 12, sbuf_cstr(tmp), (int)tmp->len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 13, hv);
    sqlite3_bind_int64(st, 14, t);
    if ((rc = step_done(st)) != 0) return rc;
    *stream_id = sqlite3_last_insert_rowid(s->db);
    *d = &b->streams[b->n_streams++];
    return insert_attrs(s, ST_STREAM_ATTR, *stream_id, &pt->attrs, tmp);
}

static size_t point_buckets(const struct otlp_point *pt) {
    return pt->n_bucket_counts + pt->n_explicit_bounds + pt->positive.n_counts +
           pt->negative.n_counts + pt->n_quantiles;
}

static int store_point(struct store *s, struct batch *b, const struct metric_ctx *mc,
                       const struct otlp_point *pt, struct sbuf *tmp) {
    const struct otlp_metric *mt = mc->mt;
    if (pt->attrs.count > STORE_MAX_ATTRS) {
        refuse(b, "a data point with more than 1024 attributes");
        return 0;
    }
    if (point_buckets(pt) > STORE_MAX_BUCKETS) {
        refuse(b, "a data point with more than 16384 buckets");
        return 0;
    }
    if (pt->n_exemplars > STORE_MAX_ATTRS) {
        refuse(b, "a data point with more than 1024 exemplars");
        return 0;
    }
    int64_t t = (int64_t)pt->time_unix_nano;
    if (t <= 0) t = now_ns();
    struct stream_delta *sd = NULL;
    int rc = stream_of(s, b, mc, pt, t, &sd, tmp);
    if (rc != 0) return rc;
    int64_t stream_id = sd->id;

    size_t bytes = 120 + strlen(mt->name);
    sqlite3_stmt *st = s->st[ST_POINT_INSERT];
    sqlite3_bind_int64(st, 1, stream_id);
    if (mc->res_run > 0) sqlite3_bind_int64(st, 2, mc->res_run);
    sqlite3_bind_int64(st, 3, mc->res_id);
    sqlite3_bind_text(st, 4, mt->name, -1, SQLITE_STATIC);
    if (mt->unit[0]) sqlite3_bind_text(st, 5, mt->unit, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 6, (int)mt->type);
    if (mc->service) sqlite3_bind_text(st, 7, mc->service, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 8, (int64_t)pt->start_time_unix_nano);
    sqlite3_bind_int64(st, 9, t);
    switch (mt->type) {
    case OTLP_METRIC_GAUGE:
    case OTLP_METRIC_SUM:
        if (pt->has_value && pt->is_int)
            sqlite3_bind_int64(st, 10, pt->as_int);
        else if (pt->has_value && pt->as_double == pt->as_double) /* NaN: NULL */
            sqlite3_bind_double(st, 10, pt->as_double);
        break;
    case OTLP_METRIC_HISTOGRAM:
        BIND_JSON(st, 15, tmp, {
            sbuf_add(tmp, "[", 1);
            for (size_t i = 0; i < pt->n_explicit_bounds; i++) {
                if (i) sbuf_add(tmp, ",", 1);
                json_double(tmp, pt->explicit_bounds[i]);
            }
            sbuf_add(tmp, "]", 1);
        });
        BIND_JSON(st, 16, tmp, json_counts(tmp, pt->bucket_counts, pt->n_bucket_counts));
        break;
    case OTLP_METRIC_EXP_HISTOGRAM:
        BIND_JSON(st, 16, tmp, {
            sbuf_printf(tmp,
                        "{\"scale\":%d,\"zero_count\":%llu,\"zero_threshold\":", (int)pt->scale,
                        (unsigned long long)pt->zero_count);
            json_double(tmp, pt->zero_threshold);
            sbuf_puts(tmp, ",\"positive\":");
            json_exp_buckets(tmp, &pt->positive);
            sbuf_puts(tmp, ",\"negative\":");
            json_exp_buckets(tmp, &pt->negative);
            sbuf_add(tmp, "}", 1);
        });
        break;
    case OTLP_METRIC_SUMMARY:
        BIND_JSON(st, 17, tmp, {
            sbuf_add(tmp, "[", 1);
            for (size_t i = 0; i < pt->n_quantiles; i++) {
                sbuf_puts(tmp, i ? ",[" : "[");
                json_double(tmp, pt->quantiles[i].quantile);
                sbuf_add(tmp, ",", 1);
                json_double(tmp, pt->quantiles[i].value);
                sbuf_add(tmp, "]", 1);
            }
            sbuf_add(tmp, "]", 1);
        });
        break;
    default:
        break;
    }
    if (mt->type >= OTLP_METRIC_HISTOGRAM) {
        sqlite3_bind_int64(st, 11, (int64_t)pt->count);
        if (pt->has_sum && pt->sum == pt->sum) sqlite3_bind_double(st, 12, pt->sum);
        if (pt->has_min && pt->min == pt->min) sqlite3_bind_double(st, 13, pt->min);
        if (pt->has_max && pt->max == pt->max) sqlite3_bind_double(st, 14, pt->max);
    }
    if (pt->n_exemplars > 0) BIND_JSON(st, 18, tmp, json_exemplars(tmp, pt));
    sqlite3_bind_int64(st, 19, pt->flags);
    if ((rc = step_done(st)) != 0) return rc;
    if (sqlite3_changes(s->db) == 0) return 0; /* stored before */
    sd->points++;
    if (t < sd->first) sd->first = t;
    if (t > sd->last) sd->last = t;
    if (mc->res_run > 0) {
        struct run_delta *d = delta_for(b, mc->res_run);
        if (d == NULL) return SQLITE_NOMEM;
        d->points++;
        d->bytes += (int64_t)bytes;
    }
    return 0;
}

int store_write_metrics(struct store *s, const struct otlp_metrics *req, int64_t *rejected,
                        char *msg, size_t msg_cap) {
    struct batch b;
    memset(&b, 0, sizeof(b));
    struct sbuf tmp = {0};
    pthread_mutex_lock(&s->lock);
    int rc = begin(s);
    for (size_t r = 0; rc == 0 && r < req->n_resource_metrics; r++) {
        const struct otlp_resource_metrics *rm = &req->resource_metrics[r];
        if (rm->resource.attrs.count > STORE_MAX_ATTRS) {
            for (size_t k = 0; k < rm->n_scope_metrics; k++)
                for (size_t j = 0; j < rm->scope_metrics[k].n_metrics; j++)
                    for (size_t p = 0; p < rm->scope_metrics[k].metrics[j].n_points; p++)
                        refuse(&b, "a resource with more than 1024 attributes");
            continue;
        }
        struct metric_ctx mc = {0};
        rc = resource_row(s, &rm->resource, rm->schema_url, 0, &mc.res_id, &mc.res_run, &mc.service,
                          &tmp);
        for (size_t k = 0; rc == 0 && k < rm->n_scope_metrics; k++) {
            mc.sm = &rm->scope_metrics[k];
            for (size_t j = 0; rc == 0 && j < mc.sm->n_metrics; j++) {
                mc.mt = &mc.sm->metrics[j];
                if (mc.mt->name[0] == '\0' || mc.mt->type == OTLP_METRIC_NONE) {
                    for (size_t p = 0; p < mc.mt->n_points; p++)
                        refuse(&b, "a metric without a name or without data");
                    continue;
                }
                for (size_t p = 0; rc == 0 && p < mc.mt->n_points; p++)
                    rc = store_point(s, &b, &mc, &mc.mt->points[p], &tmp);
            }
        }
    }
    rc = finish(s, &b, rc);
    if (rc != 0)
        set_msg(msg, msg_cap, "cannot store the data points", s->db);
    else if (msg_cap > 0)
        snprintf(msg, msg_cap, "%s", b.msg);
    *rejected = b.rejected;
    if (rc == 0) {
        maybe_retain(s);
        notify(s, STORE_METRICS, req);
    }
    pthread_mutex_unlock(&s->lock);
    sbuf_free(&tmp);
    return rc == 0 ? 0 : -EIO;
}

/* ---- runs ------------------------------------------------------------ */

static int exec_bind(struct store *s, const char *sql, int64_t a, int64_t b, int64_t c) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) return -EIO;
    int n = sqlite3_bind_parameter_count(st);
    if (n >= 1) sqlite3_bind_int64(st, 1, a);
    if (n >= 2) sqlite3_bind_int64(st, 2, b);
    if (n >= 3) sqlite3_bind_int64(st, 3, c);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : -EIO;
}

int store_run_begin(struct store *s, const char *trace_id_hex, const char *command_json,
                    const char *cwd, int64_t start_ns, int64_t *run_id) {
    pthread_mutex_lock(&s->lock);
    sqlite3_stmt *st;
    int rc = -EIO;
    if (sqlite3_prepare_v2(s->db,
                           "INSERT INTO runs (kind, trace_id, command, cwd, start_ns)"
                           " VALUES ('run', ?1, ?2, ?3, ?4)",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, trace_id_hex, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, command_json, -1, SQLITE_STATIC);
        if (cwd) sqlite3_bind_text(st, 3, cwd, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, start_ns);
        if (sqlite3_step(st) == SQLITE_DONE) {
            *run_id = sqlite3_last_insert_rowid(s->db);
            rc = 0;
        }
        sqlite3_finalize(st);
    }
    if (rc == 0) maybe_retain(s);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

int store_run_end(struct store *s, int64_t run_id, int64_t end_ns, int exit_code, int signal) {
    pthread_mutex_lock(&s->lock);
    int rc = exec_bind(s,
                       signal > 0 ? "UPDATE runs SET end_ns = ?2, signal = ?3 WHERE id = ?1"
                                  : "UPDATE runs SET end_ns = ?2, exit_code = ?3 WHERE id = ?1",
                       run_id, end_ns, signal > 0 ? signal : exit_code);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

int store_run_pin(struct store *s, int64_t run_id, int pinned) {
    pthread_mutex_lock(&s->lock);
    int rc = exec_bind(s, "UPDATE runs SET pinned = ?2 WHERE id = ?1", run_id, pinned ? 1 : 0, 0);
    if (rc == 0 && sqlite3_changes(s->db) == 0) rc = -ENOENT;
    pthread_mutex_unlock(&s->lock);
    return rc;
}

/* ---- retention ------------------------------------------------------- */

static int delete_run(struct store *s, int64_t run_id) {
    static const char *const sql[] = {
        "DELETE FROM span_kv WHERE span_id IN (SELECT id FROM spans WHERE run_id = ?1)",
        "DELETE FROM span_events WHERE span_id IN (SELECT id FROM spans WHERE run_id = ?1)",
        "DELETE FROM span_links WHERE span_id IN (SELECT id FROM spans WHERE run_id = ?1)",
        "DELETE FROM spans WHERE run_id = ?1",
        "DELETE FROM log_kv WHERE log_id IN (SELECT id FROM logs WHERE run_id = ?1)",
        "DELETE FROM logs WHERE run_id = ?1",
        "DELETE FROM metric_points WHERE run_id = ?1",
        "DELETE FROM metric_stream_kv WHERE stream_id IN (SELECT id FROM metric_streams m"
        " WHERE m.run_id = ?1 AND NOT EXISTS (SELECT 1 FROM metric_points WHERE stream_id ="
        " m.id))",
        "DELETE FROM metric_streams AS m WHERE m.run_id = ?1 AND NOT EXISTS (SELECT 1 FROM"
        " metric_points WHERE stream_id = m.id)",
        "DELETE FROM resource_kv WHERE resource_id IN (SELECT id FROM resources r WHERE"
        " r.run_id = ?1 AND NOT EXISTS (SELECT 1 FROM spans WHERE resource_id = r.id) AND NOT"
        " EXISTS (SELECT 1 FROM logs WHERE resource_id = r.id) AND NOT EXISTS (SELECT 1 FROM"
        " metric_points WHERE resource_id = r.id) AND NOT EXISTS (SELECT 1 FROM metric_streams "
        "WHERE"
        " resource_id = r.id))",
        "DELETE FROM resources AS r WHERE r.run_id = ?1 AND NOT EXISTS (SELECT 1 FROM spans"
        " WHERE resource_id = r.id) AND NOT EXISTS (SELECT 1 FROM logs WHERE resource_id ="
        " r.id) AND NOT EXISTS (SELECT 1 FROM metric_points WHERE resource_id = r.id) AND NOT "
        "EXISTS"
        " (SELECT 1 FROM metric_streams WHERE resource_id = r.id)",
        "DELETE FROM runs WHERE id = ?1",
    };
    for (size_t i = 0; i < sizeof(sql) / sizeof(sql[0]); i++)
        if (exec_bind(s, sql[i], run_id, 0, 0) != 0) return -EIO;
    return 0;
}

static int64_t query_int(struct store *s, const char *sql) {
    sqlite3_stmt *st;
    int64_t v = -1;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) return -1;
    if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static int64_t used_bytes(struct store *s) {
    int64_t pages = query_int(s, "PRAGMA page_count");
    int64_t freep = query_int(s, "PRAGMA freelist_count");
    int64_t size = query_int(s, "PRAGMA page_size");
    return pages < 0 || freep < 0 || size < 0 ? 0 : (pages - freep) * size;
}

/* Deletes the oldest unpinned run while over a limit. Lock held. */
static int retain_locked(struct store *s) {
    int deleted = 0;
    for (int guard = 0; guard < 100000; guard++) {
        int64_t runs = query_int(s, "SELECT count(*) FROM runs");
        bool over = runs > s->keep_runs || used_bytes(s) > s->max_bytes;
        if (!over) break;
        int64_t victim = query_int(s, "SELECT id FROM runs WHERE pinned = 0 ORDER BY start_ns,"
                                      " id LIMIT 1");
        if (victim < 0) break;
        if (begin(s) != SQLITE_OK) return deleted > 0 ? deleted : -EIO;
        int rc = delete_run(s, victim);
        if (rc == 0) {
            /* run-less rows older than the oldest run kept */
            int64_t oldest = query_int(s, "SELECT coalesce(min(start_ns), 0) FROM runs");
            if (oldest > 0) {
                exec_bind(s,
                          "DELETE FROM log_kv WHERE log_id IN (SELECT id FROM logs WHERE"
                          " run_id IS NULL AND time_ns < ?1)",
                          oldest, 0, 0);
                exec_bind(s, "DELETE FROM logs WHERE run_id IS NULL AND time_ns < ?1", oldest, 0,
                          0);
                exec_bind(s, "DELETE FROM metric_points WHERE run_id IS NULL AND time_ns < ?1",
                          oldest, 0, 0);
                exec_bind(s,
                          "DELETE FROM metric_stream_kv WHERE stream_id IN (SELECT id FROM"
                          " metric_streams m WHERE m.run_id IS NULL AND m.last_ns < ?1 AND NOT"
                          " EXISTS (SELECT 1 FROM metric_points WHERE stream_id = m.id))",
                          oldest, 0, 0);
                exec_bind(s,
                          "DELETE FROM metric_streams AS m WHERE m.run_id IS NULL AND"
                          " m.last_ns < ?1 AND NOT EXISTS (SELECT 1 FROM metric_points WHERE"
                          " stream_id = m.id)",
                          oldest, 0, 0);
            }
        }
        if (rc != 0 || sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
            sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
            return deleted > 0 ? deleted : -EIO;
        }
        deleted++;
    }
    return deleted;
}

static void maybe_retain(struct store *s) {
    int64_t now = now_ns();
    if (now - s->last_retain_ns < 1000000000) return;
    s->last_retain_ns = now;
    (void)retain_locked(s);
}

int store_retain(struct store *s) {
    pthread_mutex_lock(&s->lock);
    int rc = retain_locked(s);
    s->last_retain_ns = now_ns();
    pthread_mutex_unlock(&s->lock);
    return rc;
}
