/* bench_store: the local store's ingest rate and query times (scripts/bench section s).
 * Depends on server/ (store, retrieve) and bench.h.
 *
 *   bench_store DB [SPANS] [TREE_SPANS]
 *
 * Builds a store of SPANS spans (default 1,000,000) of the process-tree
 * shape the shim sends (a root span per program with ~15 process.*
 * attributes, per-process resources, 16 of the names a build runs), written
 * in requests of 512 spans through store_write_traces (the receiver's path
 * after decoding), one trace per 2,000 spans plus one trace of TREE_SPANS
 * (default 10,000). Then times, median over 9 rounds:
 *   - an attribute-equality query (process.executable.name = "cc1"), latest
 *     100, through retrieve() as the CLI and the HTTP API run it (the filter
 *     grammar compiled to SQL, the adaptive plan, the rows as JSON);
 *   - a duration query (duration > 100ms), latest 100, the same way;
 *   - the TREE_SPANS-span trace fetched as a tree (retrieve_trace_tree);
 * and prints the process's peak RSS after them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "server/retrieve.h"
#include "tests/bench/bench_store.h"

#define BATCH 512

static const char *const NAMES[16] = {"make",     "sh",   "cc",      "cc1",  "as", "ld",
                                      "collect2", "ar",   "ranlib",  "cp",   "rm", "mkdir",
                                      "sed",      "grep", "install", "touch"};

static void dbl(struct otlp_value *v, double d) {
    v->type = OTLP_VALUE_DOUBLE;
    v->d = d;
}

/* The latest 100 spans that match a filter, as `otel-preload spans --where`
 * and GET /api/v1/spans get them (retrieve: the grammar compiled to SQL, the
 * adaptive plan), in JSON. */
static double retrieve_ms(sqlite3 *db, const char *where) {
    struct retrieve_opts o = {
        .what = RETRIEVE_SPANS, .format = RETRIEVE_JSON, .where = where, .limit = 100};
    struct sbuf out = {0};
    char err[512];
    uint64_t t0 = bench_now_ns();
    if (retrieve(db, &o, &out, err, sizeof(err)) != 0) {
        fprintf(stderr, "bench_store: %s: %s\n", where, err);
        exit(1);
    }
    double ms = (double)(bench_now_ns() - t0) / 1e6;
    if (out.len < 100) fprintf(stderr, "bench_store: no rows for %s\n", where);
    sbuf_free(&out);
    return ms;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: bench_store DB [SPANS] [TREE_SPANS]\n");
        return 2;
    }
    const char *path = argv[1];
    long total = bench_arg(argc, argv, 2, 1000000);
    long tree = bench_arg(argc, argv, 3, 10000);
    char err[512];
    struct store *st = bench_store_open("bench_store", path);

    /* One request: BATCH spans, one resource per span (a process each). */
    struct otlp_resource_spans *rs = calloc(BATCH, sizeof(*rs));
    struct otlp_scope_spans *ss = calloc(BATCH, sizeof(*ss));
    struct otlp_span *sp = calloc(BATCH, sizeof(*sp));
    struct otlp_attr *sattrs = calloc((size_t)BATCH * 15, sizeof(*sattrs));
    struct otlp_attr *rattrs = calloc((size_t)BATCH * 4, sizeof(*rattrs));
    char(*uuid)[40] = calloc(BATCH, 40);
    static const char *const keys[15] = {"process.pid",
                                         "process.parent_pid",
                                         "process.executable.name",
                                         "process.executable.path",
                                         "process.owner",
                                         "process.user.id",
                                         "process.exit.code",
                                         "process.cpu.time.user",
                                         "process.cpu.time.system",
                                         "process.memory.max_rss",
                                         "process.paging.faults.minor",
                                         "process.paging.faults.major",
                                         "process.context_switches.voluntary",
                                         "process.context_switches.involuntary",
                                         "process.command_args.first"};
    uint64_t now = (uint64_t)time(NULL) * 1000000000ULL;
    long written = 0, seq = 0;
    struct rusage ru0;
    getrusage(RUSAGE_SELF, &ru0);
    uint64_t t0 = bench_now_ns();
    while (written < total + tree) {
        int n = 0;
        for (; n < BATCH && written < total + tree; n++, seq++, written++) {
            int i = n;
            long trace_no = seq < tree ? 0 : 1 + (seq - tree) / 2000;
            long pos = seq < tree ? seq : (seq - tree) % 2000;
            struct otlp_span *s = &sp[i];
            memset(s, 0, sizeof(*s));
            uint64_t t = (uint64_t)trace_no + 1;
            for (int k = 0; k < 8; k++)
                s->trace_id[15 - k] = (uint8_t)(t >> (8 * k));
            s->trace_id[0] = 0x42;
            uint64_t id = (uint64_t)seq + 1;
            for (int k = 0; k < 8; k++)
                s->span_id[7 - k] = (uint8_t)(id >> (8 * k));
            if (pos > 0) { /* parent: a tree of fan-out 8 within the trace */
                uint64_t par = id - (uint64_t)pos + (uint64_t)((pos - 1) / 8);
                for (int k = 0; k < 8; k++)
                    s->parent_span_id[7 - k] = (uint8_t)(par >> (8 * k));
            }
            const char *name = NAMES[seq % 16];
            s->name = (char *)name;
            s->trace_state = "";
            s->status_message = "";
            s->kind = 1;
            s->start_time_unix_nano = now + (uint64_t)seq * 1000000;
            uint64_t dur = 1000000 + (uint64_t)(seq * 7919 % 200) * 1000000; /* 1-200 ms */
            s->end_time_unix_nano = s->start_time_unix_nano + dur;
            struct otlp_attr *a = &sattrs[i * 15];
            for (int k = 0; k < 15; k++)
                a[k].key = (char *)keys[k];
            bench_num(&a[0].value, 10000 + seq % 30000);
            bench_num(&a[1].value, 9999 + seq % 30000);
            bench_str(&a[2].value, name);
            bench_str(&a[3].value, "/usr/bin/x");
            bench_str(&a[4].value, "builder");
            bench_num(&a[5].value, 1000);
            bench_num(&a[6].value, seq % 97 == 0 ? 1 : 0);
            dbl(&a[7].value, 0.001 * (double)(seq % 100));
            dbl(&a[8].value, 0.0005 * (double)(seq % 100));
            bench_num(&a[9].value, 2000000 + seq % 1000);
            bench_num(&a[10].value, 100 + seq % 50);
            bench_num(&a[11].value, 0);
            bench_num(&a[12].value, seq % 5);
            bench_num(&a[13].value, seq % 3);
            bench_str(&a[14].value, name);
            s->attrs.items = a;
            s->attrs.count = 15;
            s->has_status = true;
            s->status_code = seq % 97 == 0 ? 2 : 0;
            snprintf(uuid[i], 40, "uuid-%ld", seq);
            struct otlp_attr *r = &rattrs[i * 4];
            bench_process(&rs[i].resource, r, 4, "build", uuid[i], &ss[i].scope);
            r[2].key = "host.name";
            bench_str(&r[2].value, "vm");
            r[3].key = "telemetry.sdk.name";
            bench_str(&r[3].value, "otel-preload");
            rs[i].schema_url = "";
            rs[i].scope_spans = &ss[i];
            rs[i].n_scope_spans = 1;
            ss[i].has_scope = true;
            ss[i].schema_url = "";
            ss[i].spans = s;
            ss[i].n_spans = 1;
        }
        struct otlp_traces req = {.resource_spans = rs, .n_resource_spans = (size_t)n};
        int64_t rej;
        if (store_write_traces(st, &req, &rej, err, sizeof(err)) != 0) {
            fprintf(stderr, "bench_store: %s\n", err);
            return 1;
        }
    }
    bench_ingest_result("spans", written, t0, &ru0);
    store_close(st);
    free(rs);
    free(ss);
    free(sp);
    free(sattrs);
    free(rattrs);
    free(uuid);

    sqlite3 *db = retrieve_open(path, err, sizeof(err));
    if (db == NULL) {
        fprintf(stderr, "bench_store: %s\n", err);
        return 1;
    }
    enum { ROUNDS = 9 };
    double attr[ROUNDS], durq[ROUNDS], treeq[ROUNDS];
    char trace_hex[40];
    snprintf(trace_hex, sizeof(trace_hex), "42%030x", 1);
    for (int r = 0; r < ROUNDS; r++) {
        attr[r] = retrieve_ms(db, "process.executable.name = \"cc1\"");
        durq[r] = retrieve_ms(db, "duration > 100ms");
        struct sbuf out = {0};
        uint64_t q0 = bench_now_ns();
        if (retrieve_trace_tree(db, trace_hex, RETRIEVE_TABLE, &out, err, sizeof(err)) != 0) {
            fprintf(stderr, "bench_store: tree: %s\n", err);
            return 1;
        }
        treeq[r] = (double)(bench_now_ns() - q0) / 1e6;
        sbuf_free(&out);
    }
    printf("result attr_eq_query_ms=%.1f\n", bench_median(attr, ROUNDS));
    printf("result duration_query_ms=%.1f\n", bench_median(durq, ROUNDS));
    printf("result tree_%ld_ms=%.1f\n", tree, bench_median(treeq, ROUNDS));
    sqlite3_close(db);
    bench_peak_rss_result();
    return 0;
}
