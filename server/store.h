/* store: the local SQLite store of spans, logs and metric points (schema: docs/STORE.md).
 * Depends on libsqlite3 and server/otlp_decode.h (the decoded requests it stores).
 *
 * One `struct store` is one connection; writes are serialised by a mutex
 * inside it and by SQLite's locking between processes (BEGIN IMMEDIATE,
 * busy timeout). Each write call is one transaction. After each committed
 * batch the ingest listener (if set) gets the decoded records.
 */
#ifndef OTELP_SERVER_STORE_H
#define OTELP_SERVER_STORE_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "server/otlp_decode.h"

#define STORE_DEFAULT_KEEP_RUNS 100
#define STORE_DEFAULT_MAX_BYTES ((int64_t)1 << 30)
#define STORE_MAX_ATTRS 1024    /* per record; a record with more is refused */
#define STORE_MAX_BUCKETS 16384 /* per data point (bounds, counts, quantiles) */

enum store_signal { STORE_TRACES, STORE_LOGS, STORE_METRICS };

/* Called after each committed batch, on the writer's thread, with the
 * request as decoded (records refused or already stored included). */
typedef void (*store_listener)(void *ctx, enum store_signal signal, const void *request);

struct store;

/* The database path: explicit (--db), else $OTEL_PRELOAD_DB, else the XDG
 * data path (docs/STORE.md). Returns buf, or NULL when it does not fit. */
const char *store_default_path(const char *explicit_path, char *buf, size_t cap);

/* Opens (creating directory, file and schema as needed). Returns 0 or a
 * negative errno, with a message in err. */
int store_open(const char *path, struct store **out, char *err, size_t err_cap)
    __attribute__((warn_unused_result));
void store_close(struct store *s);
sqlite3 *store_db(struct store *s); /* for readers on the caller's thread */
const char *store_path(const struct store *s);

/* Retention limits (0 keeps the default). */
void store_set_limits(struct store *s, int64_t keep_runs, int64_t max_bytes);
/* The first listener (replaced); store_add_listener adds one more (the
 * live feed, the alert evaluator), at most STORE_MAX_LISTENERS in all:
 * 0 or -ENOSPC. Listeners run in the order added, under the store's lock:
 * they must be quick and must not call the store. */
#define STORE_MAX_LISTENERS 4
void store_set_listener(struct store *s, store_listener fn, void *ctx);
int store_add_listener(struct store *s, store_listener fn, void *ctx)
    __attribute__((warn_unused_result));
void store_remove_listener(struct store *s, store_listener fn, void *ctx);

/* Stores a request. *rejected gets the records refused (and msg why);
 * records stored before are kept once. Returns 0, or a negative errno when
 * the batch could not be stored at all (msg says why). */
int store_write_traces(struct store *s, const struct otlp_traces *req, int64_t *rejected, char *msg,
                       size_t msg_cap) __attribute__((warn_unused_result));
int store_write_logs(struct store *s, const struct otlp_logs *req, int64_t *rejected, char *msg,
                     size_t msg_cap) __attribute__((warn_unused_result));
/* Data points: one stream per metric, resource, scope and point attributes
 * (docs/STORE.md); a point already stored (same stream, time and start) is
 * kept once. */
int store_write_metrics(struct store *s, const struct otlp_metrics *req, int64_t *rejected,
                        char *msg, size_t msg_cap) __attribute__((warn_unused_result));

/* Runs (docs/STORE.md "Runs and retention"). */
int store_run_begin(struct store *s, const char *trace_id_hex, const char *command_json,
                    const char *cwd, int64_t start_ns, int64_t *run_id)
    __attribute__((warn_unused_result));
int store_run_end(struct store *s, int64_t run_id, int64_t end_ns, int exit_code, int signal)
    __attribute__((warn_unused_result));
int store_run_pin(struct store *s, int64_t run_id, int pinned) __attribute__((warn_unused_result));
/* Applies retention now (also done after writes, at most once a second).
 * Returns the number of runs deleted, or a negative errno. */
int store_retain(struct store *s);

#endif
