/* notify: hands alert notifications to what operators already run (docs/ALERTS.md):
 * Alertmanager's v2 API, a webhook with Alertmanager's v4 webhook payload, a command
 * (`exec`), and the server's log. Depends on server/forward.h (HTTP POST), rules.h, sbuf.h.
 *
 * Each Alertmanager, webhook and exec target has its own worker thread and a
 * bounded queue (NOTIFY_QUEUE_MAX; when full the oldest notification is
 * dropped and counted). HTTP deliveries that fail are retried in order with
 * a doubling backoff from NOTIFY_BACKOFF_MIN_MS up to NOTIFY_BACKOFF_MAX_MS,
 * for as long as they stay in the queue, so a receiver that is briefly down
 * gets everything once it is back. URLs without a port go to port 80. A command
 * gets the alert as JSON on stdin and in ALERT_* environment variables (with
 * PATH, HOME, LANG, LC_ALL, TZ, TMPDIR of the server's, nothing else), and is killed (its process
 * group) when it runs longer than its timeout; it is not retried. The log target writes one line to
 * stderr, synchronously.
 */
#ifndef OTELP_SERVER_NOTIFY_H
#define OTELP_SERVER_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server/rules.h"

#define NOTIFY_QUEUE_MAX 1000
#define NOTIFY_BACKOFF_MIN_MS 250
#define NOTIFY_BACKOFF_MAX_MS 8000

/* One alert as notified. Strings are copied by notify_send. */
struct notify_alert {
    const char *status; /* "firing" | "resolved" */
    const char *rule;
    const char *fingerprint; /* 16 hex digits */
    const struct rule_kv *labels;
    size_t n_labels;
    const struct rule_kv *annotations;
    size_t n_annotations;
    int64_t starts_at_ns;
    int64_t ends_at_ns; /* 0: not resolved */
    double value;
    const char *trace_id; /* of the last record that made it true; "" when none */
    const char *span_id;
};

struct notify_stats {
    uint64_t sent, failed, dropped; /* failed: attempts that did not deliver */
    size_t queued;
    char last_error[160];
};

/* Which targets a notification goes to. */
#define NOTIFY_TO_ALERTMANAGER 1u
#define NOTIFY_TO_OTHERS 2u /* webhook, exec, log */

struct notify;

/* Starts one worker per Alertmanager, webhook and exec entry of r (kept by
 * reference: r must outlive the notify). NULL when out of memory. */
struct notify *notify_start(const struct rules *r);
void notify_send(struct notify *n, const struct notify_alert *a, unsigned to);
size_t notify_count(const struct notify *n);
/* Counters of the i-th entry of r->notifiers. */
void notify_get_stats(struct notify *n, size_t i, struct notify_stats *out);
/* Gives queued notifications up to wait_ms to go, then stops the workers. */
void notify_stop(struct notify *n, int wait_ms);

/* RFC 3339 UTC with milliseconds ("2026-12-07T05:00:00.250Z") into buf (32 bytes). */
const char *notify_time(int64_t ns, char *buf, size_t cap);

#endif
