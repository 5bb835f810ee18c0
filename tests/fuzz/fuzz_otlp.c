/* fuzz_otlp: libFuzzer target for the receiver's request decoders (server/otlp_decode.c
 * otlp_{traces,logs,metrics}_decode, server/otlp_json.c otlp_json_{traces,logs,metrics}_decode:
 * what the receiver calls for /v1/traces, /v1/logs and /v1/metrics, and the gRPC Export
 * calls) and the store behind them. The first byte picks the encoding (even: protobuf,
 * odd: JSON) and, by its top two bits, the signal (0 and 3: metrics, 1: traces, 2: logs);
 * the rest is an Export*ServiceRequest. Beyond "no crash, no leak, no undefined behaviour":
 *   - a request that decodes has every string set (never NULL), nested values included;
 *     the span and record counts agree with the look-ups by position;
 *   - it stores into an in-memory store without a store error; the spans or records it
 *     refuses are at most those it has; stored twice, no span or log row is new (both are
 *     kept once: a span by its ids, a record by its hash) when every log record has a time
 *     or an observed time (one with neither is stored at its arrival, which its hash holds).
 * Metrics, beyond the above:
 *   - a request that decodes has every string set (never NULL), a histogram's bucket
 *     counts are none or one more than its bounds, a point of a metric without
 *     data cannot be there, and the point count is the sum over the tree;
 *   - it stores into an in-memory store without a store error; the records it
 *     refuses are at most the points it has; stored twice, nothing is new
 *     (the second write refuses what the first refused, and adds no point)
 *     when every point has a time (one without, or past 2262, is stored at its arrival).
 * Built with clang -fsanitize=fuzzer by scripts/fuzz; run_corpus.c replays the
 * checked-in corpus (tests/fuzz/corpus/otlp) in every build without libFuzzer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/otlp_decode.h"
#include "server/otlp_json.h"
#include "server/store.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static void check_attrs(const struct otlp_attrs *a);

static void check_value(const struct otlp_value *v, int depth) {
    if (depth > OTLP_DECODE_MAX_DEPTH + 1) abort(); /* the decoders bound nesting */
    switch (v->type) {
    case OTLP_VALUE_STRING:
    case OTLP_VALUE_BYTES:
        /* a string may hold U+0000 (valid UTF-8): len, not strlen, is its length */
        if (v->str == NULL || v->str[v->len] != '\0') abort();
        break;
    case OTLP_VALUE_ARRAY:
        for (size_t i = 0; i < v->n_items; i++)
            check_value(&v->items[i], depth + 1);
        break;
    case OTLP_VALUE_KVLIST:
        for (size_t i = 0; i < v->n_kvs; i++) {
            if (v->kvs[i].key == NULL) abort();
            check_value(&v->kvs[i].value, depth + 1);
        }
        break;
    default:
        break;
    }
}

static void check_attrs(const struct otlp_attrs *a) {
    for (size_t i = 0; i < a->count; i++) {
        if (a->items[i].key == NULL) abort();
        check_value(&a->items[i].value, 1);
    }
}

static void check_scope(const struct otlp_scope *s, const char *schema_url) {
    if (schema_url == NULL || s->name == NULL || s->version == NULL) abort();
    check_attrs(&s->attrs);
}

static size_t check_traces(const struct otlp_traces *t) {
    size_t spans = 0;
    for (size_t i = 0; i < t->n_resource_spans; i++) {
        const struct otlp_resource_spans *rs = &t->resource_spans[i];
        if (rs->schema_url == NULL) abort();
        check_attrs(&rs->resource.attrs);
        for (size_t j = 0; j < rs->n_scope_spans; j++) {
            const struct otlp_scope_spans *ss = &rs->scope_spans[j];
            check_scope(&ss->scope, ss->schema_url);
            for (size_t k = 0; k < ss->n_spans; k++) {
                const struct otlp_span *sp = &ss->spans[k];
                if (sp->name == NULL || sp->trace_state == NULL || sp->status_message == NULL)
                    abort();
                check_attrs(&sp->attrs);
                for (size_t e = 0; e < sp->n_events; e++) {
                    if (sp->events[e].name == NULL) abort();
                    check_attrs(&sp->events[e].attrs);
                }
                for (size_t l = 0; l < sp->n_links; l++) {
                    if (sp->links[l].trace_state == NULL) abort();
                    check_attrs(&sp->links[l].attrs);
                }
                if (otlp_traces_span_at(t, spans) != sp) abort();
                spans++;
            }
        }
    }
    if (spans != otlp_traces_span_count(t) || otlp_traces_span_at(t, spans) != NULL) abort();
    return spans;
}

static size_t check_logs(const struct otlp_logs *l, bool *untimed) {
    size_t records = 0;
    for (size_t i = 0; i < l->n_resource_logs; i++) {
        const struct otlp_resource_logs *rl = &l->resource_logs[i];
        if (rl->schema_url == NULL) abort();
        check_attrs(&rl->resource.attrs);
        for (size_t j = 0; j < rl->n_scope_logs; j++) {
            const struct otlp_scope_logs *sl = &rl->scope_logs[j];
            check_scope(&sl->scope, sl->schema_url);
            for (size_t k = 0; k < sl->n_logs; k++) {
                const struct otlp_log *r = &sl->logs[k];
                if (r->severity_text == NULL || r->event_name == NULL) abort();
                if (r->has_body) check_value(&r->body, 1);
                if (r->time_unix_nano == 0 && r->observed_time_unix_nano == 0) *untimed = true;
                check_attrs(&r->attrs);
                if (otlp_logs_record_at(l, records) != r) abort();
                records++;
            }
        }
    }
    if (records != otlp_logs_record_count(l) || otlp_logs_record_at(l, records) != NULL) abort();
    return records;
}

static size_t check(const struct otlp_metrics *m, bool *untimed) {
    size_t points = 0;
    for (size_t i = 0; i < m->n_resource_metrics; i++) {
        const struct otlp_resource_metrics *rm = &m->resource_metrics[i];
        if (rm->schema_url == NULL) abort();
        check_attrs(&rm->resource.attrs);
        for (size_t j = 0; j < rm->n_scope_metrics; j++) {
            const struct otlp_scope_metrics *sm = &rm->scope_metrics[j];
            if (sm->schema_url == NULL || sm->scope.name == NULL || sm->scope.version == NULL)
                abort();
            for (size_t k = 0; k < sm->n_metrics; k++) {
                const struct otlp_metric *mt = &sm->metrics[k];
                if (mt->name == NULL || mt->description == NULL || mt->unit == NULL) abort();
                if (mt->type == OTLP_METRIC_NONE && mt->n_points > 0) abort();
                for (size_t p = 0; p < mt->n_points; p++) {
                    const struct otlp_point *pt = &mt->points[p];
                    check_attrs(&pt->attrs);
                    if ((int64_t)pt->time_unix_nano <= 0) *untimed = true; /* 0 or past 2262 */
                    if (pt->n_bucket_counts != 0 &&
                        pt->n_bucket_counts != pt->n_explicit_bounds + 1)
                        abort();
                    for (size_t e = 0; e < pt->n_exemplars; e++)
                        check_attrs(&pt->exemplars[e].attrs);
                }
                points += mt->n_points;
            }
        }
    }
    if (points != otlp_metrics_point_count(m)) abort();
    return points;
}

static struct store *store;

static int64_t count_rows(const char *sql) {
    sqlite3_stmt *st;
    int64_t n = -1;
    if (sqlite3_prepare_v2(store_db(store), sql, -1, &st, NULL) != SQLITE_OK) abort();
    if (sqlite3_step(st) == SQLITE_ROW) n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

static int64_t stored_points(void) {
    return count_rows("SELECT count(*) FROM metric_points");
}

/* A request of spans or log records: checked, stored twice. */
static void traces(const unsigned char *data, size_t size, bool json) {
    char err[256] = "", msg[256];
    struct otlp_traces *t = json ? otlp_json_traces_decode(data, size, err, sizeof err)
                                 : otlp_traces_decode(data, size, err, sizeof err);
    if (t == NULL) {
        if (err[0] == '\0') abort(); /* a refusal says why */
        return;
    }
    size_t spans = check_traces(t);
    int64_t rejected = 0, again = 0;
    if (store_write_traces(store, t, &rejected, msg, sizeof msg) != 0) {
        fprintf(stderr, "fuzz_otlp: store: %s\n", msg);
        abort();
    }
    if (rejected < 0 || (size_t)rejected > spans) abort();
    int64_t before = count_rows("SELECT count(*) FROM spans");
    if (store_write_traces(store, t, &again, msg, sizeof msg) != 0 ||
        count_rows("SELECT count(*) FROM spans") != before)
        abort();
    otlp_traces_free(t);
}

static void logs(const unsigned char *data, size_t size, bool json) {
    char err[256] = "", msg[256];
    struct otlp_logs *l = json ? otlp_json_logs_decode(data, size, err, sizeof err)
                               : otlp_logs_decode(data, size, err, sizeof err);
    if (l == NULL) {
        if (err[0] == '\0') abort();
        return;
    }
    bool untimed = false; /* a record without a time is stored at the time it arrives */
    size_t records = check_logs(l, &untimed);
    int64_t rejected = 0, again = 0;
    if (store_write_logs(store, l, &rejected, msg, sizeof msg) != 0) {
        fprintf(stderr, "fuzz_otlp: store: %s\n", msg);
        abort();
    }
    if (rejected < 0 || (size_t)rejected > records) abort();
    int64_t before = count_rows("SELECT count(*) FROM logs");
    if (store_write_logs(store, l, &again, msg, sizeof msg) != 0 ||
        (!untimed && count_rows("SELECT count(*) FROM logs") != before))
        abort();
    otlp_logs_free(l);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
    if (size < 1) return 0;
    char err[256];
    /* A fresh store every 4,096 inputs, with no retention: its evictions (by run count and
     * bytes, once enough inputs have added up) changed the row counts between the two writes
     * (a false alarm after 811,516 runs). */
    static unsigned inputs;
    if (store != NULL && ++inputs % 4096 == 0) {
        store_close(store);
        store = NULL;
    }
    if (store == NULL) {
        if (store_open(":memory:", &store, err, sizeof err) != 0) {
            fprintf(stderr, "fuzz_otlp: %s\n", err);
            abort();
        }
        store_set_limits(store, INT64_MAX, INT64_MAX);
    }
    bool json = data[0] & 1;
    switch (data[0] >> 6) {
    case 1:
        traces(data + 1, size - 1, json);
        return 0;
    case 2:
        logs(data + 1, size - 1, json);
        return 0;
    }
    struct otlp_metrics *m = json ? otlp_json_metrics_decode(data + 1, size - 1, err, sizeof err)
                                  : otlp_metrics_decode(data + 1, size - 1, err, sizeof err);
    if (m == NULL) {
        if (err[0] == '\0') abort(); /* a refusal says why */
        return 0;
    }
    bool untimed = false; /* a point without a time is stored at the time it arrives */
    size_t points = check(m, &untimed);
    int64_t rejected = 0, again = 0;
    char msg[256];
    if (store_write_metrics(store, m, &rejected, msg, sizeof msg) != 0) {
        fprintf(stderr, "fuzz_otlp: store: %s\n", msg);
        abort();
    }
    if (rejected < 0 || (size_t)rejected > points) abort();
    int64_t before = stored_points();
    if (!untimed) {
        if (store_write_metrics(store, m, &again, msg, sizeof msg) != 0 || again != rejected ||
            stored_points() != before)
            abort();
    }
    otlp_metrics_free(m);
    return 0;
}
