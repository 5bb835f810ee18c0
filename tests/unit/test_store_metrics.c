/* test_store_metrics: metric data points in the local store (server/store.c) and the metrics
 * retriever (server/retrieve_metrics.c): every point type from OTLP/JSON, streams, points kept
 * once, exemplars, a resource's run adopted later, retention, the names list, series, aggregates
 * (sum, avg, min, max, last, rate, per step), and the decoders' strictness for metrics. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/otlp_json.h"
#include "server/retrieve.h"
#include "server/store.h"
#include "tests/unit/test.h"

static struct store *s;
static int metric_calls;
static size_t last_points;

static void listener(void *ctx, enum store_signal sig, const void *req) {
    (void)ctx;
    if (sig == STORE_METRICS) {
        metric_calls++;
        last_points = otlp_metrics_point_count(req);
    }
}

static int64_t count(const char *sql) {
    sqlite3_stmt *st;
    int64_t n = -1;
    if (sqlite3_prepare_v2(store_db(s), sql, -1, &st, NULL) != SQLITE_OK) return -1;
    if (sqlite3_step(st) == SQLITE_ROW) n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

static char text_buf[4096];
static const char *text(const char *sql) {
    sqlite3_stmt *st;
    text_buf[0] = '\0';
    if (sqlite3_prepare_v2(store_db(s), sql, -1, &st, NULL) != SQLITE_OK) return "(error)";
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0) != NULL)
        snprintf(text_buf, sizeof(text_buf), "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return text_buf;
}

static struct otlp_metrics *metrics_json(const char *t) {
    char err[256];
    struct otlp_metrics *m = otlp_json_metrics_decode(t, strlen(t), err, sizeof(err));
    if (m == NULL) fprintf(stderr, "decode: %s\n", err);
    return m;
}

static int write_json(const char *t, int64_t *rejected) {
    struct otlp_metrics *m = metrics_json(t);
    if (m == NULL) return -EINVAL;
    char msg[256];
    int rc = store_write_metrics(s, m, rejected, msg, sizeof(msg));
    otlp_metrics_free(m);
    return rc;
}

#define RES(pid)                                                                                   \
    "{\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":{\"stringValue\":"         \
    "\"svc\"}},{\"key\":\"process.pid\",\"value\":{\"intValue\":\"" pid "\"}}]},"

/* Every point type, with exemplars, a NaN and a bucket layout. */
static const char EVERY_TYPE[] = "{\"resourceMetrics\":[" RES(
    "42") "\"scopeMetrics\":[{\"scope\":{\"name\":\"sc\","
          "\"version\":\"1\"},\"metrics\":["
          "{\"name\":\"g\",\"unit\":\"1\",\"gauge\":{\"dataPoints\":["
          "{\"timeUnixNano\":\"1000000000\",\"asInt\":\"-3\",\"attributes\":[{\"key\":\"k\","
          "\"value\":{\"stringValue\":\"a\"}}]},"
          "{\"timeUnixNano\":\"1000000000\",\"asDouble\":\"NaN\",\"attributes\":[{\"key\":\"k\","
          "\"value\":{\"stringValue\":\"b\"}}]}]}},"
          "{\"name\":\"c\",\"description\":\"a counter\",\"unit\":\"s\",\"sum\":{"
          "\"aggregationTemporality\":2,\"isMonotonic\":true,\"dataPoints\":["
          "{\"startTimeUnixNano\":\"500000000\",\"timeUnixNano\":\"1000000000\",\"asDouble\":1.5,"
          "\"exemplars\":[{\"timeUnixNano\":\"900000000\",\"asDouble\":0.25,"
          "\"traceId\":\"0102030405060708090a0b0c0d0e0f10\",\"spanId\":\"0102030405060708\","
          "\"filteredAttributes\":[{\"key\":\"x\",\"value\":{\"intValue\":\"1\"}}]}]}]}},"
          "{\"name\":\"h\",\"histogram\":{\"aggregationTemporality\":\"AGGREGATION_TEMPORALITY_"
          "CUMULATIVE\",\"dataPoints\":[{\"timeUnixNano\":\"1000000000\",\"count\":\"4\",\"sum\":"
          "10,"
          "\"min\":1,\"max\":6,\"bucketCounts\":[\"1\",\"2\",\"1\"],\"explicitBounds\":[2,5]}]}},"
          "{\"name\":\"e\",\"exponentialHistogram\":{\"aggregationTemporality\":1,\"dataPoints\":["
          "{\"timeUnixNano\":\"1000000000\",\"count\":\"3\",\"sum\":3.5,\"scale\":2,\"zeroCount\":"
          "\"1\","
          "\"zeroThreshold\":0.001,\"positive\":{\"offset\":-1,\"bucketCounts\":[\"1\",\"0\",\"1\"]"
          "}}]}},"
          "{\"name\":\"q\",\"summary\":{\"dataPoints\":[{\"timeUnixNano\":\"1000000000\",\"count\":"
          "\"2\","
          "\"sum\":7,\"quantileValues\":[{\"quantile\":0.5,\"value\":3},{\"quantile\":1,"
          "\"value\":4}]}]}}"
          "]}]}]}";

static void test_every_type(void) {
    int64_t rejected = -1;
    store_set_listener(s, listener, NULL);
    REQUIRE(write_json(EVERY_TYPE, &rejected) == 0);
    CHECK(rejected == 0);
    CHECK(metric_calls == 1 && last_points == 6);
    REQUIRE(write_json(EVERY_TYPE, &rejected) == 0); /* again: kept once */
    CHECK(metric_calls == 2);
    store_set_listener(s, NULL, NULL);
    CHECK(count("SELECT count(*) FROM metric_points") == 6);
    CHECK(count("SELECT count(*) FROM metric_streams") == 6);
    CHECK(count("SELECT sum(point_count) FROM metric_streams") == 6);
    CHECK(count("SELECT count(*) FROM metric_stream_attrs") == 2);
    CHECK(count("SELECT value FROM metric_points WHERE name = 'g' AND value IS NOT NULL") == -3);
    CHECK(count("SELECT count(*) FROM metric_points WHERE name = 'g' AND value IS NULL") == 1);
    CHECK_STR(text("SELECT typeof(value) FROM metric_points WHERE name = 'c'"), "real");
    CHECK_STR(text("SELECT type || ',' || temporality || ',' || monotonic || ',' || unit || ','"
                   " || description || ',' || scope_name || ',' || service_name FROM"
                   " metric_streams WHERE name = 'c'"),
              "2,2,1,s,a counter,sc,svc");
    CHECK(count("SELECT start_ns FROM metric_points WHERE name = 'c'") == 500000000);
    CHECK_STR(text("SELECT exemplars FROM metric_points WHERE name = 'c'"),
              "[{\"time_ns\":900000000,\"value\":0.25,\"trace_id\":"
              "\"0102030405060708090a0b0c0d0e0f10\",\"span_id\":\"0102030405060708\","
              "\"attributes\":{\"x\":1}}]");
    CHECK_STR(text("SELECT count || ' ' || sum || ' ' || min || ' ' || max || ' ' || bounds ||"
                   " ' ' || buckets FROM metric_points WHERE name = 'h'"),
              "4 10.0 1.0 6.0 [2,5] [1,2,1]");
    CHECK_STR(text("SELECT buckets FROM metric_points WHERE name = 'e'"),
              "{\"scale\":2,\"zero_count\":1,\"zero_threshold\":0.001,\"positive\":{\"offset\":-1,"
              "\"bucket_counts\":[1,0,1]},\"negative\":{\"offset\":0,\"bucket_counts\":[]}}");
    CHECK(count("SELECT temporality FROM metric_streams WHERE name = 'e'") == 1);
    CHECK_STR(text("SELECT quantiles FROM metric_points WHERE name = 'q'"), "[[0.5,3],[1,4]]");
    CHECK(count("SELECT type FROM metric_points WHERE name = 'q'") == 5);
}

static int get(const struct retrieve_opts *o, struct sbuf *out) {
    char err[512] = "";
    out->len = 0;
    int rc = retrieve(store_db(s), o, out, err, sizeof(err));
    if (rc != 0) fprintf(stderr, "retrieve: %s\n", err);
    sbuf_cstr(out);
    return rc;
}

static void test_retrieve_every_type(void) {
    struct sbuf out = {0};
    struct retrieve_opts o = {.what = RETRIEVE_METRICS, .format = RETRIEVE_JSON};
    REQUIRE(get(&o, &out) == 0);
    CHECK(strstr(out.data, "{\"name\":\"c\",\"description\":\"a counter\",\"unit\":\"s\","
                           "\"type\":\"sum\",\"temporality\":\"cumulative\",\"monotonic\":true,"
                           "\"series\":1,\"points\":1,") != NULL);
    CHECK(strstr(out.data, "\"name\":\"q\",\"description\":\"\",\"unit\":\"\",\"type\":"
                           "\"summary\",\"temporality\":null") != NULL);
    o.name = "g";
    REQUIRE(get(&o, &out) == 0);
    CHECK(strstr(out.data, "\"attributes\":{\"k\":\"a\"}") != NULL);
    CHECK(strstr(out.data, "\"points\":[[1000000000,-3]]") != NULL);
    CHECK(strstr(out.data, "\"points\":[[1000000000,null]]") != NULL);
    CHECK(strstr(out.data, "\"resource\":{\"process.pid\":42,\"service.name\":\"svc\"}") != NULL);
    CHECK(strstr(out.data, "\"scope\":{\"name\":\"sc\",\"version\":\"1\"}") != NULL);
    o.name = "c";
    REQUIRE(get(&o, &out) == 0);
    CHECK(strstr(out.data,
                 "\"points\":[[1000000000,1.5]],\"exemplars\":[{\"time_ns\":900000000,"
                 "\"value\":0.25,\"trace_id\":\"0102030405060708090a0b0c0d0e0f10\"") != NULL);
    o.name = "h";
    REQUIRE(get(&o, &out) == 0);
    CHECK(strstr(out.data,
                 "\"points\":[{\"time_ns\":1000000000,\"start_ns\":0,\"count\":4,"
                 "\"sum\":10,\"min\":1,\"max\":6,\"bounds\":[2,5],\"counts\":[1,2,1]}]") != NULL);
    o.name = "e";
    REQUIRE(get(&o, &out) == 0);
    CHECK(strstr(out.data, "\"type\":\"exp_histogram\",\"temporality\":\"delta\"") != NULL);
    CHECK(strstr(out.data, "\"count\":3,\"sum\":3.5,\"min\":null,\"max\":null,\"scale\":2,"
                           "\"zero_count\":1,\"zero_threshold\":0.001,\"positive\":{\"offset\":-1,"
                           "\"bucket_counts\":[1,0,1]}") != NULL);
    o.name = "q";
    REQUIRE(get(&o, &out) == 0);
    CHECK(strstr(out.data, "\"count\":2,\"sum\":7,\"quantiles\":[[0.5,3],[1,4]]") != NULL);
    /* the filter grammar: a point attribute (the stream's), a resource attribute */
    o.name = "g";
    o.where = "k = \"b\"";
    REQUIRE(get(&o, &out) == 0);
    CHECK(strstr(out.data, "{\"k\":\"b\"}") != NULL && strstr(out.data, "{\"k\":\"a\"}") == NULL);
    o.where = "resource.process.pid = 43";
    REQUIRE(get(&o, &out) == 0);
    CHECK(strstr(out.data, "\"series\":[]") != NULL);
    o.where = NULL;
    o.name = "nothing";
    char err[256];
    CHECK(retrieve(store_db(s), &o, &out, err, sizeof(err)) == -ENOENT);
    CHECK(strstr(err, "no metric 'nothing'") != NULL);
    sbuf_free(&out);
}

/* A counter with two series over time; deltas; a gauge. */
static void test_aggregates(void) {
    int64_t rejected;
    char buf[8192];
    int n = snprintf(
        buf, sizeof(buf),
        "{\"resourceMetrics\":[" RES("7") "\"scopeMetrics\":[{"
                                          "\"metrics\":[{\"name\":\"req\",\"sum\":{"
                                          "\"aggregationTemporality\":2,\"isMonotonic\":true,"
                                          "\"dataPoints\":[");
    /* series a: 0 10 20 | reset | 5 15 at t = 10..50 s; series b: 100 at 10 s */
    static const int va[] = {0, 10, 20, 5, 15};
    for (int i = 0; i < 5; i++)
        n += snprintf(buf + n, sizeof(buf) - (size_t)n,
                      "%s{\"startTimeUnixNano\":\"%lld\",\"timeUnixNano\":\"%lld\",\"asInt\":%d,"
                      "\"attributes\":[{\"key\":\"s\",\"value\":{\"stringValue\":\"a\"}}]}",
                      i ? "," : "", i < 3 ? 1000000000LL : 35000000000LL,
                      (long long)(i + 1) * 10000000000LL, va[i]);
    n += snprintf(buf + n, sizeof(buf) - (size_t)n,
                  ",{\"startTimeUnixNano\":\"1000000000\",\"timeUnixNano\":\"10000000000\","
                  "\"asInt\":100,\"attributes\":[{\"key\":\"s\",\"value\":{\"stringValue\":"
                  "\"b\"}}]}]}},"
                  "{\"name\":\"jobs\",\"sum\":{\"aggregationTemporality\":1,\"isMonotonic\":true,"
                  "\"dataPoints\":[{\"startTimeUnixNano\":\"0\",\"timeUnixNano\":\"10000000000\","
                  "\"asInt\":4},{\"startTimeUnixNano\":\"10000000000\",\"timeUnixNano\":"
                  "\"20000000000\",\"asInt\":6}]}},"
                  "{\"name\":\"temp\",\"gauge\":{\"dataPoints\":[{\"timeUnixNano\":\"10000000000\","
                  "\"asDouble\":1},{\"timeUnixNano\":\"20000000000\",\"asDouble\":4},"
                  "{\"timeUnixNano\":\"30000000000\",\"asDouble\":2.5}]}}]}]}]}");
    REQUIRE(n < (int)sizeof(buf));
    REQUIRE(write_json(buf, &rejected) == 0);
    CHECK(rejected == 0);

    struct sbuf out = {0};
    struct retrieve_opts o = {.what = RETRIEVE_METRICS, .format = RETRIEVE_CSV, .name = "req"};
    static const struct {
        int agg;
        const char *a, *b;
    } cases[] = {
        {RETRIEVE_AGG_SUM, "50", "100"},
        {RETRIEVE_AGG_AVG, "10", "100"},
        {RETRIEVE_AGG_MIN, "0", "100"},
        {RETRIEVE_AGG_MAX, "20", "100"},
        {RETRIEVE_AGG_LAST, "15", "100"},
        /* increase 10 + 10 + 5 (reset: a new start) + 10 = 35 over 40 s; b: 100 since its start */
        {RETRIEVE_AGG_RATE, "0.875", "11.111111111111111"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        o.agg = cases[i].agg;
        REQUIRE(get(&o, &out) == 0);
        char line[256];
        snprintf(line, sizeof(line), "\"{\"\"s\"\":\"\"a\"\"}\",svc,7,%s\n", cases[i].a);
        CHECK(strstr(out.data, line) != NULL);
        snprintf(line, sizeof(line), "\"{\"\"s\"\":\"\"b\"\"}\",svc,7,%s\n", cases[i].b);
        CHECK(strstr(out.data, line) != NULL);
        if (strstr(out.data, line) == NULL) fprintf(stderr, "%s", out.data);
    }
    /* per 20 s step: rate of a's increase in [0,20) [20,40) [40,60) */
    o.agg = RETRIEVE_AGG_RATE;
    o.step_ns = 20000000000LL;
    o.format = RETRIEVE_JSON;
    o.where = "s = \"a\"";
    REQUIRE(get(&o, &out) == 0);
    CHECK(strstr(out.data, "\"agg\":\"rate\",\"step_ns\":20000000000") != NULL);
    CHECK(strstr(out.data, "\"points\":[[20000000000,1],[40000000000,0.75]]") != NULL);
    o.agg = RETRIEVE_AGG_MAX;
    REQUIRE(get(&o, &out) == 0);
    CHECK(strstr(out.data, "\"points\":[[0,0],[20000000000,20],[40000000000,15]]") != NULL);
    /* delta: the first point's interval is unknown (start 0): 6 over 10 s; a gauge's change:
     * 1.5 over 20 s */
    o.where = NULL;
    o.step_ns = 0;
    o.agg = RETRIEVE_AGG_RATE;
    o.name = "jobs";
    REQUIRE(get(&o, &out) == 0);
    CHECK(strstr(out.data, "\"points\":[[20000000000,0.6]]") != NULL);
    o.name = "temp";
    REQUIRE(get(&o, &out) == 0);
    CHECK(strstr(out.data, "\"points\":[[30000000000,0.075]]") != NULL);
    o.agg = RETRIEVE_AGG_AVG;
    REQUIRE(get(&o, &out) == 0);
    CHECK(strstr(out.data, "\"points\":[[30000000000,2.5]]") != NULL);
    /* a time window and the raw points' limit: the latest */
    o.agg = RETRIEVE_AGG_NONE;
    o.from_ns = 15000000000LL;
    REQUIRE(get(&o, &out) == 0);
    CHECK(strstr(out.data, "\"points\":[[20000000000,4],[30000000000,2.5]]") != NULL);
    o.from_ns = 0;
    o.limit = 1;
    REQUIRE(get(&o, &out) == 0);
    CHECK(strstr(out.data, "\"points\":[[30000000000,2.5]]") != NULL);
    /* a table for people */
    o.limit = 0;
    o.format = RETRIEVE_TABLE;
    o.name = "req";
    o.agg = RETRIEVE_AGG_LAST;
    REQUIRE(get(&o, &out) == 0);
    CHECK(strncmp(out.data, "LAST  SERIES  SERVICE  PID\n15    s=a     svc      7\n", 50) == 0);
    o.name = NULL;
    o.agg = 0;
    REQUIRE(get(&o, &out) == 0);
    CHECK(strncmp(out.data, "NAME", 4) == 0 &&
          strstr(out.data, "sum, cumulative, monotonic") != NULL);
    /* usage errors */
    char err[256];
    o.agg = RETRIEVE_AGG_SUM;
    CHECK(retrieve(store_db(s), &o, &out, err, sizeof(err)) == -EINVAL);
    o.name = "req";
    o.agg = 0;
    o.step_ns = 1;
    CHECK(retrieve(store_db(s), &o, &out, err, sizeof(err)) == -EINVAL);
    sbuf_free(&out);
}

static void test_refused_and_strict(void) {
    int64_t rejected = -1;
    /* a metric without a name, a histogram with 20000 buckets: refused, the rest stored */
    struct sbuf big = {0};
    sbuf_puts(&big, "{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{\"name\":\"\","
                    "\"gauge\":{\"dataPoints\":[{\"timeUnixNano\":\"5\",\"asInt\":1}]}},"
                    "{\"name\":\"big\",\"histogram\":{\"dataPoints\":[{\"timeUnixNano\":\"5\","
                    "\"bucketCounts\":[");
    for (int i = 0; i < 20000; i++)
        sbuf_puts(&big, i ? ",1" : "1");
    sbuf_puts(&big, "],\"explicitBounds\":[");
    for (int i = 0; i < 19999; i++)
        sbuf_printf(&big, "%s%d", i ? "," : "", i);
    sbuf_puts(&big, "]}]}},{\"name\":\"ok\",\"gauge\":{\"dataPoints\":[{\"timeUnixNano\":\"5\","
                    "\"asInt\":1}]}}]}]}]}");
    REQUIRE(write_json(sbuf_cstr(&big), &rejected) == 0);
    CHECK(rejected == 2);
    CHECK(count("SELECT count(*) FROM metric_points WHERE name IN ('big', '', 'ok')") == 1);
    sbuf_free(&big);

    static const char *const bad[] = {
        /* two kinds of data */
        "{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{\"name\":\"x\",\"gauge\":{},"
        "\"sum\":{}}]}]}]}",
        /* counts do not fit the bounds */
        "{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{\"name\":\"x\",\"histogram\":{"
        "\"dataPoints\":[{\"bucketCounts\":[1,2],\"explicitBounds\":[1,2]}]}}]}]}]}",
        /* two values */
        "{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{\"name\":\"x\",\"gauge\":{"
        "\"dataPoints\":[{\"asInt\":1,\"asDouble\":2}]}}]}]}]}",
        /* an exemplar's trace id */
        "{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{\"name\":\"x\",\"gauge\":{"
        "\"dataPoints\":[{\"asInt\":1,\"exemplars\":[{\"traceId\":\"0102\"}]}]}}]}]}]}",
        /* a negative count, an unknown temporality */
        "{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{\"name\":\"x\",\"histogram\":{"
        "\"dataPoints\":[{\"count\":\"-1\"}]}}]}]}]}",
        "{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{\"name\":\"x\",\"sum\":{"
        "\"aggregationTemporality\":\"SOMETIMES\"}}]}]}]}",
        "{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{\"name\":\"x\",\"sum\":{"
        "\"isMonotonic\":1}}]}]}]}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char err[256] = "";
        struct otlp_metrics *m = otlp_json_metrics_decode(bad[i], strlen(bad[i]), err, sizeof(err));
        CHECK(m == NULL);
        CHECK(err[0] != '\0');
        otlp_metrics_free(m);
    }
    /* protobuf: a Metric with both gauge (5) and sum (7); counts that do not fit; truncated */
    static const unsigned char two_kinds[] = {0x0a, 0x0b, 0x12, 0x09, 0x12, 0x07, 0x0a,
                                              0x01, 0x78, 0x2a, 0x00, 0x3a, 0x00};
    static const unsigned char misfit[] = {0x0a, 0x1d, 0x12, 0x1b, 0x12, 0x19, 0x0a, 0x01,
                                           0x78, 0x4a, 0x14, 0x0a, 0x12, 0x32, 0x10, 0x00,
                                           0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                           0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
    char err[256] = "";
    CHECK(otlp_metrics_decode(two_kinds, sizeof(two_kinds), err, sizeof(err)) == NULL);
    CHECK(strstr(err, "kinds of data") != NULL);
    CHECK(otlp_metrics_decode(two_kinds, sizeof(two_kinds) - 1, err, sizeof(err)) == NULL);
    CHECK(otlp_metrics_decode(misfit, sizeof(misfit), err, sizeof(err)) == NULL);
    CHECK(strstr(err, "2 bucket counts for 0 bounds") != NULL);
    /* an exponential histogram whose negative buckets are an empty packed field (valid
     * protobuf, found by fuzz_otlp): no bucket, not an error */
    static const unsigned char empty_packed[] = {
        0x0a, 0x1c, 0x12, 0x1a, 0x12, 0x18, 0x0a, 0x01, 0x65, 0x52, 0x13, 0x0a, 0x0f, 0x19, 0x00,
        0x20, 0x81, 0xde, 0x01, 0xe0, 0xee, 0x18, 0x4a, 0x04, 0x08, 0x00, 0x12, 0x00, 0x10, 0x02};
    struct otlp_metrics *m =
        otlp_metrics_decode(empty_packed, sizeof(empty_packed), err, sizeof(err));
    REQUIRE(m != NULL);
    const struct otlp_metric *e = otlp_metrics_find(m, "e");
    REQUIRE(e != NULL && e->n_points == 1);
    CHECK(e->type == OTLP_METRIC_EXP_HISTOGRAM);
    CHECK(e->points[0].negative.n_counts == 0 &&
          e->points[0].time_unix_nano == 1796619600000000000);
    otlp_metrics_free(m);
}

/* Metrics before the process's spans: the resource joins the run when they
 * arrive, and retention deletes its points with the run. */
static void test_run_adoption_and_retention(void) {
    int64_t rejected;
    REQUIRE(write_json("{\"resourceMetrics\":[" RES(
                           "99") "\"scopeMetrics\":[{\"metrics\":[{"
                                 "\"name\":\"early\",\"gauge\":{\"dataPoints\":[{\"timeUnixNano\":"
                                 "\"100\",\"asInt\":1}]}}]}]}]}",
                       &rejected) == 0);
    CHECK(count("SELECT count(*) FROM metric_points WHERE name = 'early' AND run_id IS NULL") == 1);
    const char *spans = "{\"resourceSpans\":[" RES(
        "99") "\"scopeSpans\":[{\"spans\":[{\"traceId\":"
              "\"0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f\",\"spanId\":\"0f0f0f0f0f0f0f0f\",\"name\":\"p\","
              "\"startTimeUnixNano\":\"50\",\"endTimeUnixNano\":\"150\"}]}]}]}";
    char err[256], msg[256];
    struct otlp_traces *t = otlp_json_traces_decode(spans, strlen(spans), err, sizeof(err));
    REQUIRE(t != NULL);
    CHECK(store_write_traces(s, t, &rejected, msg, sizeof(msg)) == 0);
    otlp_traces_free(t);
    int64_t run = count("SELECT id FROM runs WHERE trace_id = '0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f'");
    CHECK(run > 0);
    CHECK(count("SELECT count(*) FROM metric_points WHERE name = 'early' AND run_id IS NULL") == 0);
    char q[256];
    snprintf(q, sizeof(q),
             "SELECT count(*) FROM metric_streams WHERE name = 'early' AND run_id ="
             " %lld",
             (long long)run);
    CHECK(count(q) == 1);
    /* later points of that resource count on the run */
    REQUIRE(write_json("{\"resourceMetrics\":[" RES(
                           "99") "\"scopeMetrics\":[{\"metrics\":[{"
                                 "\"name\":\"early\",\"gauge\":{\"dataPoints\":[{\"timeUnixNano\":"
                                 "\"200\",\"asInt\":2}]}}]}]}]}",
                       &rejected) == 0);
    snprintf(q, sizeof(q), "SELECT point_count FROM runs WHERE id = %lld", (long long)run);
    CHECK(count(q) == 1);
    /* keep one run: the newer trace below; 'early' goes with its run */
    spans = "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":"
            "\"1f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f\",\"spanId\":\"1f0f0f0f0f0f0f0f\",\"name\":\"n\","
            "\"startTimeUnixNano\":\"999999999999\",\"endTimeUnixNano\":\"999999999999\"}]}]}]}";
    t = otlp_json_traces_decode(spans, strlen(spans), err, sizeof(err));
    REQUIRE(t != NULL);
    CHECK(store_write_traces(s, t, &rejected, msg, sizeof(msg)) == 0);
    otlp_traces_free(t);
    store_set_limits(s, 1, 0);
    CHECK(store_retain(s) > 0);
    CHECK(count("SELECT count(*) FROM runs") == 1);
    CHECK(count("SELECT count(*) FROM metric_points WHERE name = 'early'") == 0);
    CHECK(count("SELECT count(*) FROM metric_streams WHERE name = 'early'") == 0);
    CHECK(count("SELECT count(*) FROM metric_stream_attrs s WHERE NOT EXISTS (SELECT 1 FROM"
                " metric_streams WHERE id = s.stream_id)") == 0);
    CHECK(count("SELECT count(*) FROM metric_points p WHERE NOT EXISTS (SELECT 1 FROM"
                " metric_streams WHERE id = p.stream_id)") == 0);
}

/* A schema-1 store (empty metric tables of the old shape) opens as schema 3. */
static void test_upgrade(const char *path) {
    sqlite3 *db;
    REQUIRE(sqlite3_open(path, &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db,
                       "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;"
                       "INSERT INTO meta VALUES ('schema_version', '1');"
                       "CREATE TABLE metric_points (id INTEGER PRIMARY KEY, run_id INTEGER,"
                       " resource_id INTEGER NOT NULL, name TEXT NOT NULL, time_ns INTEGER NOT"
                       " NULL, dedup INTEGER NOT NULL UNIQUE) STRICT;"
                       "CREATE TABLE metric_point_attrs (point_id INTEGER NOT NULL, key TEXT NOT"
                       " NULL, type TEXT NOT NULL, value ANY, PRIMARY KEY (point_id, key)) STRICT,"
                       " WITHOUT ROWID;",
                       NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
    char err[256];
    struct store *old;
    REQUIRE(store_open(path, &old, err, sizeof(err)) == 0);
    struct store *keep = s;
    s = old;
    CHECK_STR(text("SELECT value FROM meta WHERE key = 'schema_version'"), "5");
    CHECK(count("SELECT count(*) FROM pragma_table_info('metric_points') WHERE name ="
                " 'stream_id'") == 1);
    CHECK(count("SELECT count(*) FROM sqlite_master WHERE name = 'metric_point_attrs'") == 0);
    s = keep;
    store_close(old);
}

int main(void) {
    char dir[] = "/tmp/otelp-store-metrics-XXXXXX";
    if (mkdtemp(dir) == NULL) return 1;
    char path[256], err[256];
    snprintf(path, sizeof(path), "%s/store.db", dir);
    if (store_open(path, &s, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    RUN(test_every_type);
    RUN(test_retrieve_every_type);
    RUN(test_aggregates);
    RUN(test_refused_and_strict);
    RUN(test_run_adoption_and_retention);
    store_close(s);
    char old[256];
    snprintf(old, sizeof(old), "%s/old.db", dir);
    test_current = "test_upgrade";
    test_upgrade(old);
    static const char *const files[] = {"store.db", "store.db-wal", "store.db-shm",
                                        "old.db",   "old.db-wal",   "old.db-shm"};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
        unlink(path);
    }
    rmdir(dir);
    return test_report("test_store_metrics");
}
