/* test_store: the local store (server/store.c): the ingest listener, records received twice
 * kept once, runs by trace, retention by count with pinning, first opens at once, the OTLP/JSON
 * decoder's strictness. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "server/otlp_json.h"
#include "server/retrieve.h"
#include "server/store.h"
#include "tests/unit/test.h"

static struct store *s;
static int calls;
static size_t last_spans;

static void listener(void *ctx, enum store_signal sig, const void *req) {
    (void)ctx;
    calls++;
    if (sig == STORE_TRACES) last_spans = otlp_traces_span_count(req);
}

static int64_t count(const char *sql) {
    sqlite3_stmt *st;
    int64_t n = -1;
    if (sqlite3_prepare_v2(store_db(s), sql, -1, &st, NULL) != SQLITE_OK) return -1;
    if (sqlite3_step(st) == SQLITE_ROW) n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

static struct otlp_traces *traces_json(const char *text) {
    char err[256];
    struct otlp_traces *t = otlp_json_traces_decode(text, strlen(text), err, sizeof(err));
    if (t == NULL) fprintf(stderr, "decode: %s\n", err);
    return t;
}

static void test_listener_dedup_runs(void) {
    struct otlp_traces *t = traces_json(
        "{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\","
        "\"value\":{\"stringValue\":\"svc\"}}]},\"scopeSpans\":[{\"spans\":["
        "{\"traceId\":\"0102030405060708090a0b0c0d0e0f10\",\"spanId\":\"0102030405060708\","
        "\"name\":\"a\",\"kind\":1,\"startTimeUnixNano\":\"100\",\"endTimeUnixNano\":\"250\","
        "\"attributes\":[{\"key\":\"process.pid\",\"value\":{\"intValue\":\"42\"}}]},"
        "{\"traceId\":\"0102030405060708090a0b0c0d0e0f10\",\"spanId\":\"0102030405060709\","
        "\"parentSpanId\":\"0102030405060708\",\"name\":\"b\",\"startTimeUnixNano\":150,"
        "\"endTimeUnixNano\":200,\"status\":{\"code\":2,\"message\":\"bad\"}}]}]}]}");
    REQUIRE(t != NULL);
    store_set_listener(s, listener, NULL);
    int64_t rejected = -1;
    char msg[256];
    CHECK(store_write_traces(s, t, &rejected, msg, sizeof(msg)) == 0);
    CHECK(rejected == 0);
    CHECK(calls == 1 && last_spans == 2);
    CHECK(store_write_traces(s, t, &rejected, msg, sizeof(msg)) == 0); /* again: kept once */
    CHECK(calls == 2);
    CHECK(count("SELECT count(*) FROM spans") == 2);
    CHECK(count("SELECT count(*) FROM span_attrs") == 1);
    CHECK(count("SELECT pid FROM spans WHERE name = 'a'") == 42);
    CHECK(count("SELECT duration_ns FROM spans WHERE name = 'a'") == 150);
    CHECK(count("SELECT span_count FROM runs") == 2);
    CHECK(count("SELECT error_count FROM runs") == 1);
    CHECK(count("SELECT process_count FROM runs") == 1);
    CHECK(count("SELECT start_ns FROM runs") == 100);
    CHECK(count("SELECT end_ns FROM runs") == 250);
    otlp_traces_free(t);
    store_set_listener(s, NULL, NULL);
}

/* Times past 2262 (negative as signed counts): the duration is taken in the
 * unsigned times, clamped (end - start overflowed: found by fuzz_otlp). */
static void test_times_past_2262(void) {
    struct otlp_traces *t = traces_json(
        "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":["
        "{\"traceId\":\"1102030405060708090a0b0c0d0e0f10\",\"spanId\":\"1102030405060708\","
        "\"name\":\"late_start\",\"startTimeUnixNano\":\"10923372036854775808\","
        "\"endTimeUnixNano\":\"1700000001000000000\"},"
        "{\"traceId\":\"1102030405060708090a0b0c0d0e0f10\",\"spanId\":\"1102030405060709\","
        "\"name\":\"late_end\",\"startTimeUnixNano\":\"1\","
        "\"endTimeUnixNano\":\"18446744073709551615\"}]}]}]}");
    REQUIRE(t != NULL);
    int64_t rejected = -1;
    char msg[256];
    CHECK(store_write_traces(s, t, &rejected, msg, sizeof(msg)) == 0);
    CHECK(count("SELECT duration_ns FROM spans WHERE name = 'late_start'") == 0);
    CHECK(count("SELECT duration_ns FROM spans WHERE name = 'late_end'") == INT64_MAX);
    otlp_traces_free(t);
}

static void test_json_strict(void) {
    static const char *const bad[] = {
        "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":\"01\"}]}]}]}",
        "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"startTimeUnixNano\":\"-5\"}]}]}]}",
        "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"name\":7}]}]}]}",
        "{\"resourceSpans\":[",
        "{\"resourceSpans\":[]} trailing",
        "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"name\":\"\\ud800\"}]}]}]}",
        "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"name\":\"\xff\"}]}]}]}",
        "[]",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char err[256] = "";
        struct otlp_traces *t = otlp_json_traces_decode(bad[i], strlen(bad[i]), err, sizeof(err));
        CHECK(t == NULL);
        CHECK(err[0] != '\0');
        otlp_traces_free(t);
    }
    /* deep nesting is refused, not a stack overflow */
    char deep[4096];
    size_t n = 0;
    n += (size_t)snprintf(deep, sizeof(deep),
                          "{\"resourceSpans\":[{\"resource\":{\"attributes\":"
                          "[{\"key\":\"k\",\"value\":");
    for (int i = 0; i < 100; i++)
        n += (size_t)snprintf(deep + n, sizeof(deep) - n, "{\"arrayValue\":{\"values\":[");
    for (int i = 0; i < 100; i++)
        n += (size_t)snprintf(deep + n, sizeof(deep) - n, "]}}");
    snprintf(deep + n, sizeof(deep) - n, "}]}}]}");
    char err[256] = "";
    struct otlp_traces *t = otlp_json_traces_decode(deep, strlen(deep), err, sizeof(err));
    CHECK(t == NULL);
    otlp_traces_free(t);
}

static void test_retention(void) {
    char msg[256];
    for (int i = 1; i <= 6; i++) {
        char text[512];
        snprintf(text, sizeof(text),
                 "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":"
                 "\"ff%030d\",\"spanId\":\"00000000000000%02d\",\"name\":\"r%d\","
                 "\"startTimeUnixNano\":\"%d000\",\"endTimeUnixNano\":\"%d001\"}]}]}]}",
                 i, i, i, i, i);
        struct otlp_traces *t = traces_json(text);
        REQUIRE(t != NULL);
        int64_t rejected;
        CHECK(store_write_traces(s, t, &rejected, msg, sizeof(msg)) == 0);
        otlp_traces_free(t);
    }
    int64_t oldest = count("SELECT id FROM runs ORDER BY start_ns LIMIT 1");
    CHECK(store_run_pin(s, oldest, 1) == 0);
    CHECK(store_run_pin(s, 999999, 1) == -ENOENT);
    store_set_limits(s, 3, 0);
    CHECK(store_retain(s) == 4); /* 7 runs, 3 kept: the pinned one and the 2 newest */
    CHECK(count("SELECT count(*) FROM runs") == 3);
    CHECK(count("SELECT count(*) FROM runs WHERE id = (SELECT min(id) FROM runs) AND pinned = 1") ==
          1);
    CHECK(count("SELECT count(*) FROM spans WHERE name IN ('r5', 'r6')") == 2);
    CHECK(count("SELECT count(*) FROM span_attrs WHERE span_id NOT IN (SELECT id FROM spans)") ==
          0);
    CHECK(count("SELECT count(*) FROM resources WHERE id NOT IN (SELECT resource_id FROM spans)") ==
          0);
}

/* Sixteen processes open a store that does not exist yet, at once (two `otel-preload run`s on a
 * fresh store): each opens it and records its run. */
static void test_first_opens_at_once(const char *dir) {
    char path[256];
    snprintf(path, sizeof(path), "%s/race.db", dir);
    pid_t pids[16];
    int gate[2]; /* closed by the parent once all are waiting: they start together */
    REQUIRE(pipe(gate) == 0);
    for (int k = 0; k < 16; k++) {
        pids[k] = fork();
        if (pids[k] == 0) {
            struct store *mine;
            char err[256], trace[33], c;
            int64_t id;
            close(gate[1]);
            if (read(gate[0], &c, 1) != 0) _exit(3);
            snprintf(trace, sizeof(trace), "%032x", k + 1);
            if (store_open(path, &mine, err, sizeof(err)) != 0) {
                fprintf(stderr, "child %d: %s\n", k, err);
                _exit(1);
            }
            int rc = store_run_begin(mine, trace, "[]", "/", 1, &id);
            store_close(mine);
            _exit(rc == 0 ? 0 : 2);
        }
    }
    close(gate[0]);
    usleep(50 * 1000);
    close(gate[1]);
    for (int k = 0; k < 16; k++) {
        int status = -1;
        CHECK(pids[k] > 0 && waitpid(pids[k], &status, 0) == pids[k]);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    struct store *check;
    char err[256];
    REQUIRE(store_open(path, &check, err, sizeof(err)) == 0);
    struct store *saved = s;
    s = check;
    CHECK(count("SELECT count(*) FROM runs") == 16);
    s = saved;
    store_close(check);
}

/* The latest spans with an attribute, whichever plan answers: a rare value (read by id and
 * sorted), a common one (past the first plan's budget: the time index walked newest first).
 * Start times run against the row order, so a plan that kept row order would show. */
static void test_latest_by_attribute(const char *path) {
    enum { N = 12000 };
    struct store *st;
    char err[256], msg[256];
    REQUIRE(store_open(path, &st, err, sizeof(err)) == 0);
    struct otlp_span *sp = calloc(N, sizeof(*sp));
    struct otlp_attr *a = calloc((size_t)N * 2, sizeof(*a));
    REQUIRE(sp != NULL && a != NULL);
    for (int i = 0; i < N; i++) {
        sp[i].trace_id[0] = 0x51;
        sp[i].trace_id[15] = (uint8_t)(1 + i / 2000);
        sp[i].span_id[6] = (uint8_t)((i + 1) >> 8);
        sp[i].span_id[7] = (uint8_t)(i + 1);
        sp[i].name = "x";
        sp[i].trace_state = sp[i].status_message = "";
        sp[i].start_time_unix_nano = 1000000000ull * (uint64_t)(N - i); /* newest first */
        sp[i].end_time_unix_nano = sp[i].start_time_unix_nano + 1000;
        a[2 * i].key = "kind.of";
        a[2 * i].value = (struct otlp_value){.type = OTLP_VALUE_STRING, .str = "common", .len = 6};
        a[2 * i + 1].key = "rare";
        a[2 * i + 1].value = (struct otlp_value){.type = OTLP_VALUE_INT, .i = i % 1000};
        sp[i].attrs.items = &a[2 * i];
        sp[i].attrs.count = 2;
    }
    struct otlp_scope_spans ss = {
        .scope = {.name = "", .version = ""}, .schema_url = "", .spans = sp, .n_spans = N};
    struct otlp_resource_spans rs = {.schema_url = "", .scope_spans = &ss, .n_scope_spans = 1};
    struct otlp_traces req = {.resource_spans = &rs, .n_resource_spans = 1};
    int64_t rejected;
    CHECK(store_write_traces(st, &req, &rejected, msg, sizeof(msg)) == 0 && rejected == 0);
    store_close(st);
    free(sp);
    free(a);
    sqlite3 *db = retrieve_open(path, err, sizeof(err));
    REQUIRE(db != NULL);
    /* common: the spans written first are the latest; the last of 3 rows is the newest */
    struct retrieve_opts o = {.what = RETRIEVE_SPANS,
                              .format = RETRIEVE_CSV,
                              .where = "kind.of = \"common\"",
                              .limit = 3};
    struct sbuf out = {0};
    CHECK(retrieve(db, &o, &out, err, sizeof(err)) == 0);
    CHECK(out.data != NULL && strstr(out.data, ",0000000000000003,") != NULL &&
          strstr(out.data, ",0000000000000001,") != NULL &&
          strstr(out.data, ",0000000000000004,") == NULL);
    CHECK(out.data != NULL &&
          strstr(out.data, ",0000000000000003,") < strstr(out.data, ",0000000000000001,"));
    sbuf_free(&out);
    /* rare: rare = 5 is spans 6, 1006, ... 11006; the latest two are 6 and 1006 */
    o.where = "rare = 5";
    o.limit = 2;
    CHECK(retrieve(db, &o, &out, err, sizeof(err)) == 0);
    CHECK(out.data != NULL && strstr(out.data, ",0000000000000006,") != NULL &&
          strstr(out.data, ",00000000000003ee,") != NULL &&
          strstr(out.data, ",00000000000007d6,") == NULL);
    sbuf_free(&out);
    sqlite3_close(db);
}

/* A schema-2 store (attribute keys as text in the attribute tables) opens as schema 4: its
 * rows move to the *_kv tables, keys once in attr_keys, and read the same through the views. */
static void test_upgrade_2(const char *path) {
    sqlite3 *db;
    REQUIRE(sqlite3_open(path, &db) == SQLITE_OK);
    CHECK(
        sqlite3_exec(
            db,
            "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;"
            "INSERT INTO meta VALUES ('schema_version', '2');"
            "CREATE TABLE resource_attrs (resource_id INTEGER NOT NULL, key TEXT NOT NULL,"
            " type TEXT NOT NULL, value ANY, PRIMARY KEY (resource_id, key)) STRICT, WITHOUT ROWID;"
            "CREATE INDEX resource_attrs_kv ON resource_attrs (key, value);"
            "CREATE TABLE span_attrs (span_id INTEGER NOT NULL, key TEXT NOT NULL,"
            " type TEXT NOT NULL, value ANY, PRIMARY KEY (span_id, key)) STRICT, WITHOUT ROWID;"
            "CREATE INDEX span_attrs_kv ON span_attrs (key, value);"
            "CREATE TABLE log_attrs (log_id INTEGER NOT NULL, key TEXT NOT NULL,"
            " type TEXT NOT NULL, value ANY, PRIMARY KEY (log_id, key)) STRICT, WITHOUT ROWID;"
            "CREATE TABLE metric_stream_attrs (stream_id INTEGER NOT NULL, key TEXT NOT NULL,"
            " type TEXT NOT NULL, value ANY, PRIMARY KEY (stream_id, key)) STRICT, WITHOUT ROWID;"
            "INSERT INTO resource_attrs VALUES (1, 'service.name', 's', 'svc');"
            "INSERT INTO span_attrs VALUES (1, 'process.pid', 'i', 42), (1, 'b', 'b', 1),"
            " (2, 'process.pid', 'i', 43), (2, 'x', 'd', 2.5);"
            "INSERT INTO log_attrs VALUES (7, 'code.lineno', 'i', 3);"
            "INSERT INTO metric_stream_attrs VALUES (9, 'cpu.mode', 's', 'user');",
            NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
    char err[256];
    struct store *old;
    REQUIRE(store_open(path, &old, err, sizeof(err)) == 0);
    struct store *keep = s;
    s = old;
    CHECK(count("SELECT value FROM meta WHERE key = 'schema_version'") == 5);
    CHECK(count("SELECT count(*) FROM sqlite_master WHERE type = 'view' AND name IN"
                " ('span_attrs', 'resource_attrs', 'log_attrs', 'metric_stream_attrs')") == 4);
    CHECK(count("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name IN"
                " ('span_kv_epoch', 'resource_kv_epoch', 'log_kv_epoch')") == 3);
    CHECK(count("SELECT count(*) FROM attr_keys") == 6);
    CHECK(count("SELECT count(*) FROM span_kv") == 4);
    CHECK(count("SELECT group_concat(span_id || key || type || value, ' ') = '1bb1 1process.pidi42'"
                " FROM (SELECT * FROM span_attrs WHERE span_id = 1 ORDER BY key)") == 1);
    CHECK(count("SELECT span_id FROM span_attrs WHERE key = 'process.pid' AND value = 43") == 2);
    CHECK(count("SELECT typeof(value) = 'real' AND value = 2.5 FROM span_attrs WHERE key = 'x'") ==
          1);
    CHECK(count("SELECT resource_id FROM resource_attrs WHERE key = 'service.name' AND"
                " value = 'svc'") == 1);
    CHECK(count("SELECT value FROM log_attrs WHERE log_id = 7 AND key = 'code.lineno'") == 3);
    CHECK(count("SELECT stream_id FROM metric_stream_attrs WHERE value = 'user'") == 9);
    s = keep;
    store_close(old);
}

/* A schema-3 store (values indexed by (key_id, value), views without an
 * epoch) opens as schema 4: the same rows, found through the epoch index. */
static void test_upgrade_3(const char *path) {
    char err[256];
    struct store *st;
    REQUIRE(store_open(path, &st, err, sizeof(err)) == 0);
    store_close(st);
    sqlite3 *db;
    REQUIRE(sqlite3_open(path, &db) == SQLITE_OK);
    CHECK(
        sqlite3_exec(
            db,
            "DROP VIEW span_attrs; DROP VIEW resource_attrs; DROP VIEW log_attrs;"
            "DROP VIEW span_epochs; DROP VIEW resource_epochs; DROP VIEW log_epochs;"
            "DROP INDEX span_kv_epoch; DROP INDEX resource_kv_epoch; DROP INDEX log_kv_epoch;"
            "CREATE INDEX span_kv_value ON span_kv (key_id, value);"
            "CREATE INDEX resource_kv_value ON resource_kv (key_id, value);"
            "CREATE INDEX log_kv_value ON log_kv (key_id, value);"
            "CREATE VIEW span_attrs AS SELECT a.span_id AS span_id, k.key AS key,"
            " a.type AS type, a.value AS value FROM span_kv a JOIN attr_keys k ON k.id ="
            " a.key_id;"
            "UPDATE meta SET value = '3' WHERE key = 'schema_version';"
            "INSERT INTO attr_keys (id, key) VALUES (1, 'process.pid');"
            "INSERT INTO span_kv VALUES (5000, 1, 'i', 42), (9000, 1, 'i', 42), (9001, 1, 'i', 7);",
            NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
    REQUIRE(store_open(path, &st, err, sizeof(err)) == 0);
    struct store *keep = s;
    s = st;
    CHECK(count("SELECT value FROM meta WHERE key = 'schema_version'") == 5);
    CHECK(count("SELECT count(*) FROM sqlite_master WHERE name IN ('span_kv_value',"
                " 'resource_kv_value', 'log_kv_value')") == 0);
    CHECK(count("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name IN"
                " ('span_kv_epoch', 'resource_kv_epoch', 'log_kv_epoch')") == 3);
    /* epochs 1 (ids 4096-8191) and 2 (8192-12287) */
    CHECK(count("SELECT group_concat(epoch) = '1,2' FROM span_epochs") == 1);
    CHECK(count("SELECT group_concat(span_id) = '5000,9000' FROM (SELECT span_id FROM span_attrs"
                " WHERE key = 'process.pid' AND epoch IN (SELECT epoch FROM span_epochs) AND"
                " value = 42 ORDER BY span_id)") == 1);
    CHECK(count("SELECT epoch FROM resource_epochs") == 0); /* no resources: one NULL epoch */
    s = keep;
    store_close(st);
}

int main(void) {
    char dir[] = "/tmp/test_store.XXXXXX";
    if (mkdtemp(dir) == NULL) return 1;
    char path[256], err[256];
    snprintf(path, sizeof(path), "%s/sub/store.db", dir);
    CHECK(store_open(path, &s, err, sizeof(err)) == 0);
    if (s != NULL) {
        RUN(test_listener_dedup_runs);
        RUN(test_retention);
        RUN(test_times_past_2262);
        store_close(s);
    }
    RUN(test_json_strict);
    test_first_opens_at_once(dir);
    snprintf(path, sizeof(path), "%s/v2.db", dir);
    test_upgrade_2(path);
    snprintf(path, sizeof(path), "%s/v3.db", dir);
    test_upgrade_3(path);
    snprintf(path, sizeof(path), "%s/latest.db", dir);
    test_latest_by_attribute(path);
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0) return 1;
    return test_report("test_store");
}
