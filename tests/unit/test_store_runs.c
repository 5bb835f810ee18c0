/* test_store_runs: what the list of runs shows of a run's spans is kept on the run
 * (server/store.c, schema 5): runs.root_name (the trace's earliest root span's name) and
 * runs.service (of a 'run' the launcher's first child's service, of a 'trace' its root's),
 * set by each batch that brings the run spans, whatever order its spans come in; and filled
 * in when a schema-4 store is opened. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/otlp_json.h"
#include "server/store.h"
#include "tests/unit/test.h"

static struct store *s;

static char *text(const char *sql) {
    static char out[256];
    sqlite3_stmt *st;
    snprintf(out, sizeof(out), "(error)");
    if (sqlite3_prepare_v2(store_db(s), sql, -1, &st, NULL) != SQLITE_OK) return out;
    if (sqlite3_step(st) == SQLITE_ROW)
        snprintf(out, sizeof(out), "%s",
                 sqlite3_column_type(st, 0) == SQLITE_NULL
                     ? "(null)"
                     : (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return out;
}

/* One batch: spans "NAME:SPAN:PARENT:START" (PARENT "-" for a root) of one service. */
static void write(const char *trace, const char *service, const char *const *spans, size_t n) {
    char json[4096];
    int len = snprintf(json, sizeof(json),
                       "{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":"
                       "\"service.name\",\"value\":{\"stringValue\":\"%s\"}}]},"
                       "\"scopeSpans\":[{\"spans\":[",
                       service);
    for (size_t i = 0; i < n; i++) {
        char name[32], sid[17], parent[17];
        long long start;
        REQUIRE(sscanf(spans[i], "%31[^:]:%16[^:]:%16[^:]:%lld", name, sid, parent, &start) == 4);
        len += snprintf(json + len, sizeof(json) - (size_t)len,
                        "%s{\"traceId\":\"%s\",\"spanId\":\"%s\",%s%s%s\"name\":\"%s\","
                        "\"startTimeUnixNano\":\"%lld\",\"endTimeUnixNano\":\"%lld\"}",
                        i ? "," : "", trace, sid, strcmp(parent, "-") ? "\"parentSpanId\":\"" : "",
                        strcmp(parent, "-") ? parent : "", strcmp(parent, "-") ? "\"," : "", name,
                        start, start + 100);
    }
    snprintf(json + len, sizeof(json) - (size_t)len, "]}]}]}");
    char err[256];
    struct otlp_traces *t = otlp_json_traces_decode(json, strlen(json), err, sizeof(err));
    REQUIRE(t != NULL);
    int64_t rejected = -1;
    CHECK(store_write_traces(s, t, &rejected, err, sizeof(err)) == 0);
    CHECK(rejected == 0);
    otlp_traces_free(t);
}

#define TRACE_A "0a000000000000000000000000000001"
#define TRACE_B "0b000000000000000000000000000001"

static void test_trace_kind(void) {
    /* children first: no root yet */
    const char *kids[] = {"cc:0000000000000002:0000000000000001:200"};
    write(TRACE_A, "child-svc", kids, 1);
    CHECK_STR(text("SELECT root_name FROM runs WHERE trace_id = '" TRACE_A "'"), "(null)");
    CHECK_STR(text("SELECT service FROM runs WHERE trace_id = '" TRACE_A "'"), "(null)");
    /* the root comes last (a process tree's top ends last) */
    const char *root[] = {"make:0000000000000001:-:100"};
    write(TRACE_A, "builder", root, 1);
    CHECK_STR(text("SELECT root_name FROM runs WHERE trace_id = '" TRACE_A "'"), "make");
    CHECK_STR(text("SELECT service FROM runs WHERE trace_id = '" TRACE_A "'"), "builder");
    /* a later, earlier-starting root names the run */
    const char *early[] = {"early:0000000000000009:-:50"};
    write(TRACE_A, "other", early, 1);
    CHECK_STR(text("SELECT root_name FROM runs WHERE trace_id = '" TRACE_A "'"), "early");
}

static void test_run_kind(void) {
    int64_t run = 0;
    REQUIRE(store_run_begin(s, TRACE_B, "[\"sh\",\"-c\",\"true\"]", "/", 10, &run) == 0);
    const char *kid[] = {"sh:0000000000000002:0000000000000001:20"};
    write(TRACE_B, "the-command", kid, 1);
    const char *launcher[] = {"otel-preload:0000000000000001:-:10"};
    write(TRACE_B, "otel-preload", launcher, 1);
    CHECK_STR(text("SELECT root_name FROM runs WHERE trace_id = '" TRACE_B "'"), "otel-preload");
    CHECK_STR(text("SELECT service FROM runs WHERE trace_id = '" TRACE_B "'"), "the-command");
    CHECK_STR(text("SELECT command FROM runs WHERE trace_id = '" TRACE_B "'"),
              "[\"sh\",\"-c\",\"true\"]");
}

/* A schema-4 store (runs without the two columns) is upgraded and filled in on open. */
static void test_upgrade_4(const char *path) {
    sqlite3 *db;
    REQUIRE(sqlite3_open(path, &db) == SQLITE_OK);
    CHECK(
        sqlite3_exec(db,
                     "ALTER TABLE runs DROP COLUMN root_name; ALTER TABLE runs DROP COLUMN service;"
                     " UPDATE meta SET value = '4' WHERE key = 'schema_version';",
                     NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
    char err[256];
    REQUIRE(store_open(path, &s, err, sizeof(err)) == 0);
    CHECK_STR(text("SELECT value FROM meta WHERE key = 'schema_version'"), "5");
    CHECK_STR(text("SELECT root_name || ' ' || service FROM runs WHERE trace_id = '" TRACE_A "'"),
              "early builder");
    CHECK_STR(text("SELECT root_name || ' ' || service FROM runs WHERE trace_id = '" TRACE_B "'"),
              "otel-preload the-command");
    store_close(s);
    s = NULL;
}

int main(void) {
    char dir[] = "/tmp/test_store_runs.XXXXXX";
    if (mkdtemp(dir) == NULL) return 1;
    char path[256], err[256], cmd[300];
    snprintf(path, sizeof(path), "%s/store.db", dir);
    CHECK(store_open(path, &s, err, sizeof(err)) == 0);
    if (s != NULL) {
        RUN(test_trace_kind);
        RUN(test_run_kind);
        store_close(s);
        s = NULL;
        test_upgrade_4(path);
    }
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return test_report("store_runs");
}
