/* fuzz_otlp: libFuzzer target for the receiver's metric decoders (server/otlp_decode.c
 * otlp_metrics_decode, server/otlp_json.c otlp_json_metrics_decode) and the store behind them.
 * The first byte picks the encoding (even: protobuf, odd: JSON), the rest is an
 * ExportMetricsServiceRequest. Beyond "no crash, no leak, no undefined behaviour":
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

static void check_attrs(const struct otlp_attrs *a) {
    for (size_t i = 0; i < a->count; i++)
        if (a->items[i].key == NULL) abort();
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

static int64_t stored_points(void) {
    sqlite3_stmt *st;
    int64_t n = -1;
    if (sqlite3_prepare_v2(store_db(store), "SELECT count(*) FROM metric_points", -1, &st, NULL) !=
        SQLITE_OK)
        abort();
    if (sqlite3_step(st) == SQLITE_ROW) n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
    if (size < 1) return 0;
    char err[256];
    if (store == NULL && store_open(":memory:", &store, err, sizeof err) != 0) {
        fprintf(stderr, "fuzz_otlp: %s\n", err);
        abort();
    }
    bool json = data[0] & 1;
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
