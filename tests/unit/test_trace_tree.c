/* test_trace_tree: one trace as a tree (server/retrieve.c retrieve_trace_tree, what
 * `otel-preload traces show` and GET /api/v1/traces/ID print): the exact table and JSON
 * text of a trace with the odd cases (children in start order, spans that start together
 * in the order they were read, a parent that is not there, a span its own parent, ids that
 * are not 16 lowercase hex digits, pids and exit codes past 32 bits, signals, ERROR without
 * an exit code, names that JSON escapes), a chain deeper than the rendering goes, and a big
 * trace written through a sink (server/sbuf.h) equal to the same trace held whole. Spans are
 * put into the store with SQL, as a store another version wrote could hold them. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/retrieve.h"
#include "server/store.h"
#include "tests/unit/test.h"

static struct store *s;
static sqlite3 *db; /* a reader, as the CLI and the HTTP API open one */

#define T1 "0c000000000000000000000000000001"
#define T2 "0c000000000000000000000000000002"
#define T3 "0c000000000000000000000000000003"

/* One span row; pid, exit and sig: "NULL" or a number. */
static void span(const char *trace, const char *id, const char *parent, const char *name,
                 long long start, long long dur, const char *pid, const char *exit_code,
                 const char *sig, int status) {
    char *sql = sqlite3_mprintf(
        "INSERT INTO spans (resource_id, trace_id, span_id, parent_span_id, name, kind, start_ns,"
        " end_ns, duration_ns, status_code, pid, exit_code, signal) VALUES (1, %Q, %Q, %Q, %Q, 1,"
        " %lld, %lld, %lld, %d, %s, %s, %s)",
        trace, id, parent, name, start, start + dur, dur, status, pid, exit_code, sig);
    char *err = NULL;
    int rc = sqlite3_exec(store_db(s), sql, NULL, NULL, &err);
    if (rc != SQLITE_OK) fprintf(stderr, "%s: %s\n", sql, err);
    CHECK(rc == SQLITE_OK);
    sqlite3_free(err);
    sqlite3_free(sql);
}

static const char T1_TABLE[] = "trace 0c000000000000000000000000000001, 13 spans\n"
                               "make  1.0 ms  pid 10\n"
                               "  cc  1.5 ms  pid 4294967396  exit 4294967297\n"
                               "  ld  2 us  pid 12  exit -1\n"
                               "  as  3 us  ERROR\n"
                               "    x\"y\\z\xc3\xa9  4 us\n"
                               "  cc1  12 ms  pid 11  killed by signal 9\n"
                               "  UPPER  5 us\n"
                               "    under-upper  6 us\n"
                               "  long-id  7 us\n"
                               "    under-long  8 us\n"
                               "orphan  9 us  pid 13\n"
                               "self  10 us\n"
                               "late  2.00 s  pid 14  exit 2\n";

static const char T1_JSON[] =
    "{\"trace_id\":\"0c000000000000000000000000000001\",\"span_count\":13,\"roots\":["
    "{\"span_id\":\"00000000000000a1\",\"name\":\"make\",\"start_ns\":100,\"duration_ns\":1000000,"
    "\"status_code\":0,\"pid\":10,\"exit_code\":0,\"children\":["
    "{\"span_id\":\"00000000000000b2\",\"name\":\"cc\",\"start_ns\":200,\"duration_ns\":1500000,"
    "\"status_code\":2,\"pid\":4294967396,\"exit_code\":4294967297,\"children\":[]},"
    "{\"span_id\":\"00000000000000b3\",\"name\":\"ld\",\"start_ns\":200,\"duration_ns\":2000,"
    "\"status_code\":0,\"pid\":12,\"exit_code\":-1,\"children\":[]},"
    "{\"span_id\":\"00000000000000b4\",\"name\":\"as\",\"start_ns\":250,\"duration_ns\":3000,"
    "\"status_code\":2,\"children\":["
    "{\"span_id\":\"00000000000000c2\",\"name\":\"x\\\"y\\\\z\xc3\xa9\",\"start_ns\":260,"
    "\"duration_ns\":4000,\"status_code\":0,\"children\":[]}]},"
    "{\"span_id\":\"00000000000000b1\",\"name\":\"cc1\",\"start_ns\":300,\"duration_ns\":12000000,"
    "\"status_code\":2,\"pid\":11,\"signal\":9,\"children\":[]},"
    "{\"span_id\":\"ABCDEF0123456789\",\"name\":\"UPPER\",\"start_ns\":400,\"duration_ns\":5000,"
    "\"status_code\":0,\"children\":["
    "{\"span_id\":\"00000000000000d1\",\"name\":\"under-upper\",\"start_ns\":410,"
    "\"duration_ns\":6000,\"status_code\":0,\"children\":[]}]},"
    "{\"span_id\":\"0123456789abcdef\",\"name\":\"long-id\",\"start_ns\":500,\"duration_ns\":7000,"
    "\"status_code\":0,\"children\":["
    "{\"span_id\":\"00000000000000d2\",\"name\":\"under-long\",\"start_ns\":510,"
    "\"duration_ns\":8000,\"status_code\":0,\"children\":[]}]}]},"
    "{\"span_id\":\"00000000000000e1\",\"name\":\"orphan\",\"start_ns\":600,\"duration_ns\":9000,"
    "\"status_code\":0,\"pid\":13,\"children\":[]},"
    "{\"span_id\":\"x1\",\"name\":\"self\",\"start_ns\":700,\"duration_ns\":10000,"
    "\"status_code\":0,\"children\":[]},"
    "{\"span_id\":\"00000000000000f1\",\"name\":\"late\",\"start_ns\":800,\"duration_ns\":"
    "2000000000,"
    "\"status_code\":2,\"pid\":14,\"exit_code\":2,\"children\":[]}]}\n";

static void odd_cases(void) {
    /* read in an order unlike start order: the rows come by (trace, parent) */
    span(T1, "00000000000000f1", NULL, "late", 800, 2000000000, "14", "2", "NULL", 2);
    span(T1, "00000000000000b1", "00000000000000a1", "cc1", 300, 12000000, "11", "NULL", "9", 2);
    span(T1, "00000000000000b2", "00000000000000a1", "cc", 200, 1500000, "4294967396", "4294967297",
         "NULL", 2);
    span(T1, "00000000000000b3", "00000000000000a1", "ld", 200, 2000, "12", "-1", "NULL", 0);
    span(T1, "00000000000000b4", "00000000000000a1", "as", 250, 3000, "NULL", "NULL", "NULL", 2);
    span(T1, "00000000000000c2", "00000000000000b4", "x\"y\\z\xc3\xa9", 260, 4000, "NULL", "NULL",
         "NULL", 0);
    span(T1, "00000000000000a1", NULL, "make", 100, 1000000, "10", "0", "NULL", 0);
    span(T1, "ABCDEF0123456789", "00000000000000a1", "UPPER", 400, 5000, "NULL", "NULL", "NULL", 0);
    span(T1, "00000000000000d1", "ABCDEF0123456789", "under-upper", 410, 6000, "NULL", "NULL",
         "NULL", 0);
    /* an id past 16 characters is known by its first 16 */
    span(T1, "0123456789abcdef99", "00000000000000a1", "long-id", 500, 7000, "NULL", "NULL", "NULL",
         0);
    span(T1, "00000000000000d2", "0123456789abcdef", "under-long", 510, 8000, "NULL", "NULL",
         "NULL", 0);
    span(T1, "00000000000000e1", "0000000000000fff", "orphan", 600, 9000, "13", "NULL", "NULL", 0);
    span(T1, "x1", "x1", "self", 700, 10000, "NULL", "NULL", "NULL", 0);
    struct sbuf out = {0};
    char err[256];
    CHECK(retrieve_trace_tree(db, T1, RETRIEVE_TABLE, &out, err, sizeof(err)) == 0);
    CHECK_STR(sbuf_cstr(&out), T1_TABLE);
    sbuf_free(&out);
    CHECK(retrieve_trace_tree(db, T1, RETRIEVE_JSON, &out, err, sizeof(err)) == 0);
    CHECK_STR(sbuf_cstr(&out), T1_JSON);
    sbuf_free(&out);
    CHECK(retrieve_trace_tree(db, "0c0000000000000000000000000000ff", RETRIEVE_JSON, &out, err,
                              sizeof(err)) == -ENOENT);
}

/* A chain of 300: the rendering stops at depth 256. */
static void deep(void) {
    CHECK(sqlite3_exec(store_db(s), "BEGIN", NULL, NULL, NULL) == SQLITE_OK);
    for (int i = 0; i < 300; i++) {
        char id[17], parent[17];
        snprintf(id, sizeof(id), "%016x", i + 1);
        snprintf(parent, sizeof(parent), "%016x", i);
        span(T2, id, i ? parent : NULL, "d", 1000 + i, 1000, "NULL", "NULL", "NULL", 0);
    }
    CHECK(sqlite3_exec(store_db(s), "COMMIT", NULL, NULL, NULL) == SQLITE_OK);
    struct sbuf out = {0};
    char err[256];
    CHECK(retrieve_trace_tree(db, T2, RETRIEVE_TABLE, &out, err, sizeof(err)) == 0);
    const char *text = sbuf_cstr(&out);
    size_t lines = 0;
    for (const char *p = text; *p; p++)
        lines += *p == '\n';
    CHECK_EQ_INT(lines, 1 + 257 + 1); /* header, depths 0..256, the cut */
    /* indented 64 levels at most; the cut, at depth 257, is not indented */
    CHECK(strstr(text, "\n                                                                "
                       "                                                                "
                       "d  1 us\n  ...(deeper spans not shown)\n") != NULL);
    sbuf_free(&out);
    CHECK(retrieve_trace_tree(db, T2, RETRIEVE_JSON, &out, err, sizeof(err)) == 0);
    CHECK(strstr(sbuf_cstr(&out), "\"children\":[{\"truncated\":true}]}]}") != NULL);
    sbuf_free(&out);
}

struct collected {
    struct sbuf all;
    int calls;
    size_t biggest;
    bool fail;
};

static bool collect(void *ctx, const void *p, size_t n) {
    struct collected *c = ctx;
    c->calls++;
    if (n > c->biggest) c->biggest = n;
    if (c->fail) return false;
    sbuf_add(&c->all, p, n);
    return true;
}

/* 5,000 spans, three levels: written through a sink as it is rendered, the
 * same bytes as held whole, from a buffer that stays small. */
static void sink(void) {
    CHECK(sqlite3_exec(store_db(s), "BEGIN", NULL, NULL, NULL) == SQLITE_OK);
    for (int i = 0; i < 5000; i++) {
        char id[17], parent[17], pid[16];
        snprintf(id, sizeof(id), "%016x", 0x100000 + i);
        snprintf(parent, sizeof(parent), "%016x", 0x100000 + (i < 50 ? 0 : i % 50));
        snprintf(pid, sizeof(pid), "%d", 5000 + i);
        span(T3, id, i ? parent : NULL, i % 3 ? "cc1" : "as", 1000 + (i * 7919) % 5000, 1000 * i,
             pid, "0", "NULL", 0);
    }
    CHECK(sqlite3_exec(store_db(s), "COMMIT", NULL, NULL, NULL) == SQLITE_OK);
    struct sbuf none = {0};
    char why[256];
    CHECK(retrieve_trace_tree(db, "0c0000000000000000000000000000", RETRIEVE_JSON, &none, why,
                              sizeof(why)) == -EINVAL); /* three traces start so */
    CHECK(none.len == 0);
    for (int json = 0; json < 2; json++) {
        enum retrieve_format f = json ? RETRIEVE_JSON : RETRIEVE_TABLE;
        struct sbuf whole = {0};
        char err[256];
        CHECK(retrieve_trace_tree(db, T3, f, &whole, err, sizeof(err)) == 0);
        CHECK(whole.len > SBUF_SINK_CHUNK);
        struct collected c = {0};
        struct sbuf out = {.sink = collect, .sink_ctx = &c};
        CHECK(retrieve_trace_tree(db, T3, f, &out, err, sizeof(err)) == 0);
        CHECK(sbuf_flush(&out) == 0);
        CHECK(out.len == 0);
        CHECK(out.cap <= 2 * SBUF_SINK_CHUNK);
        CHECK(c.calls >= 2);
        CHECK(c.biggest < SBUF_SINK_CHUNK);
        CHECK(c.all.len == whole.len && memcmp(c.all.data, whole.data, whole.len) == 0);
        sbuf_free(&out);
        sbuf_free(&c.all);
        /* a sink that fails: the call says so, nothing more is written */
        struct collected bad = {.fail = true};
        struct sbuf out2 = {.sink = collect, .sink_ctx = &bad};
        CHECK(retrieve_trace_tree(db, T3, f, &out2, err, sizeof(err)) == -ENOMEM);
        CHECK(out2.failed);
        CHECK_EQ_INT(bad.calls, 1);
        CHECK(sbuf_flush(&out2) == -EIO);
        sbuf_free(&out2);
        sbuf_free(&whole);
    }
}

int main(void) {
    char dir[] = "/tmp/test_trace_tree.XXXXXX";
    if (mkdtemp(dir) == NULL) return 1;
    char path[256], err[256];
    snprintf(path, sizeof(path), "%s/store.db", dir);
    if (store_open(path, &s, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    db = retrieve_open(path, err, sizeof(err));
    if (db == NULL) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    RUN(odd_cases);
    RUN(deep);
    RUN(sink);
    sqlite3_close(db);
    store_close(s);
    if (getenv("TEST_TRACE_TREE_KEEP") == NULL) {
        char f[300];
        static const char *const suffix[] = {"", "-wal", "-shm"};
        for (int i = 0; i < 3; i++) {
            snprintf(f, sizeof(f), "%s%s", path, suffix[i]);
            unlink(f);
        }
        rmdir(dir);
    } else {
        printf("kept %s\n", path);
    }
    return test_report("trace_tree");
}
