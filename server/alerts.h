/* alerts: the alert rule evaluator of the local server (docs/ALERTS.md).
 * Depends on rules.h (the rules file), query.h (matching and SQL), store.h (the ingest
 * listener and the database), notify.h (where notifications go), sbuf.h.
 *
 * Per rule and label set an alert is inactive, pending, firing or resolved.
 * Per-record rules are matched in memory against every span and log record
 * as the store commits it (the store's ingest listener), and their state
 * is advanced by the evaluator thread as soon as a record matched, and at
 * least once a second; per-record metric rules and aggregate rules run one
 * SQL statement against the store every group `interval`. State, the
 * records that made an alert true, the history of state changes and the
 * notifiers' counters are kept in the store's alert_* tables (docs/STORE.md)
 * on the evaluator's own connection, so they survive a restart and are
 * readable (alerts_json) without the server.
 */
#ifndef OTELP_SERVER_ALERTS_H
#define OTELP_SERVER_ALERTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "server/rules.h"
#include "server/sbuf.h"
#include "server/store.h"

#define ALERTS_MAX_INSTANCES 1000 /* label sets per rule; more are counted as a rule error */
#define ALERTS_RECORDS 10         /* records kept per alert */
#define ALERTS_HISTORY_MAX 10000  /* rows of alert_history */
#define ALERTS_RESOLVED_KEEP_NS ((int64_t)15 * 60 * 1000000000)
#define ALERTS_AM_RESEND_NS ((int64_t)60 * 1000000000) /* Alertmanager: resend firing alerts */
#define ALERTS_SQL_ROWS 200000 /* rows one aggregate evaluation reads at most */

struct alerts;

/* Creates the alert_* tables in the store's file, restores the state of
 * rules that still exist, and starts the evaluator and the notifiers.
 * Takes rules (freed by alerts_stop). 0, or a negative errno with err. */
int alerts_start(struct store *s, struct rules *rules, struct alerts **out, char *err, size_t cap)
    __attribute__((warn_unused_result));
/* Stops evaluating, gives queued notifications up to 2 s, frees. */
void alerts_stop(struct alerts *a);
/* The ingest listener (store_add_listener(s, alerts_on_ingest, a)). */
void alerts_on_ingest(void *alerts, enum store_signal signal, const void *request);

/* GET /api/v1/alerts: the JSON document (docs/API-HTTP.md) from the alert_*
 * tables of db. query: the request's query string (history=N, state=S,
 * rule=NAME). 0, or a negative errno with err. */
int alerts_json(sqlite3 *db, const char *query, struct sbuf *out, char *err, size_t cap);
/* `otel-preload alerts`: the same as a table for a terminal. */
int alerts_text(sqlite3 *db, int history, struct sbuf *out, char *err, size_t cap);

#endif
