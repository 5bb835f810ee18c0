/* retrievers: `otel-preload traces|spans|logs|metrics`: the store from the shell. Depends on cli.h,
 * server/retrieve.h, server/store.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "server/retrieve.h"
#include "server/store.h"

struct spec {
    const char *name;
    enum retrieve_what what;
    const char *usage;
    const char *about;
};

static const struct spec SPANS = {
    "spans", RETRIEVE_SPANS,
    "otel-preload spans [--where FILTER] [--trace ID] [--since DUR | --from T --to T]"
    " [--limit N] [--format table|json|csv] [--db PATH]",
    "Spans in the local store, newest last (the latest --limit of them).\n"
    "Example: otel-preload spans --where 'name = \"cc1\" and duration > 100ms' --since 1h"};
static const struct spec LOGS = {
    "logs", RETRIEVE_LOGS,
    "otel-preload logs [--where FILTER] [--trace ID] [--since DUR | --from T --to T]"
    " [--limit N] [--format table|json|csv] [--db PATH]",
    "Log records in the local store.\nExample: otel-preload logs --where 'severity >= ERROR'"};
static const struct spec METRICS = {
    "metrics", RETRIEVE_METRICS,
    "otel-preload metrics [--name METRIC [--agg sum|avg|min|max|last|rate [--step DUR]]]"
    " [--where FILTER] [--trace ID] [--since DUR | --from T --to T] [--limit N]"
    " [--format table|json|csv] [--db PATH]",
    "Metrics in the local store. Without --name: the metric names with their type, unit,\n"
    "series and points. With --name: that metric's points, one series per set of\n"
    "attributes and process; --agg reduces each series to one value (or one per --step).\n"
    "Examples: otel-preload metrics\n"
    "          otel-preload metrics --name process.cpu.time --where 'cpu.mode = \"user\"'"
    " --since 1h\n"
    "          otel-preload metrics --name process.cpu.time --agg rate --step 10s"};
static const struct spec TRACES = {
    "traces", RETRIEVE_TRACES,
    "otel-preload traces [--since DUR | --from T --to T] [--limit N] [--format table|json|csv]"
    " [--db PATH]\n       otel-preload traces show ID [--format table|json]\n"
    "       otel-preload traces pin|unpin ID",
    "Runs (one `otel-preload run`, or one trace from elsewhere) with their summary;\n"
    "`show` prints one as a tree (ID: the run number, or a trace id or its first 8+ digits);\n"
    "`pin` keeps a run from retention."};

static void help(const struct spec *s) {
    printf("usage: %s\n\n%s\n\noptions:\n"
           "  --where FILTER   the filter grammar (docs/QUERY.md)\n"
           "  --trace ID       only this run or trace\n"
           "  --name METRIC    metrics: only this metric\n"
           "  --agg F          metrics: sum, avg, min, max, last or rate (per second) per series\n"
           "  --step DUR       metrics with --agg: one value per DUR (10s, 1m)\n"
           "  --since DUR      newer than DUR ago (30s, 10m, 1h, 2d)\n"
           "  --from T, --to T a time range (2026-12-07T05:00:00Z, local '2026-12-07 06:00:00',"
           " unix seconds, or a duration ago)\n"
           "  --limit N        at most N rows, the latest (default %d)\n"
           "  --format F       table (default), json or csv\n"
           "  --db PATH        the store (default: $OTEL_PRELOAD_DB, else"
           " ~/.local/share/otel-preload/store.db)\n",
           s->usage, s->about, RETRIEVE_DEFAULT_LIMIT);
}

static int parse_format(const char *v, enum retrieve_format *f) {
    if (strcmp(v, "table") == 0)
        *f = RETRIEVE_TABLE;
    else if (strcmp(v, "json") == 0)
        *f = RETRIEVE_JSON;
    else if (strcmp(v, "csv") == 0)
        *f = RETRIEVE_CSV;
    else
        return -1;
    return 0;
}

/* The retrievers' page cache (negative: KiB). */
#define CLI_CACHE_KIB "-256"

static bool write_stdout(void *ctx, const void *p, size_t n) {
    (void)ctx;
    return fwrite(p, 1, n, stdout) == n;
}

static int run_retriever(const struct spec *s, int argc, char **argv) {
    struct retrieve_opts o = {.what = s->what, .format = RETRIEVE_TABLE};
    const char *db_opt = NULL, *show = NULL, *pin = NULL;
    int pin_value = 0;
    int64_t now = cli_now_ns();
    int i = 1;
    if (s->what == RETRIEVE_TRACES && argc > 1 &&
        (strcmp(argv[1], "show") == 0 || strcmp(argv[1], "pin") == 0 ||
         strcmp(argv[1], "unpin") == 0)) {
        if (argc < 3 || argv[2][0] == '-')
            return cli_usage_error(s->usage, "%s needs a run number or trace id", argv[1]);
        if (strcmp(argv[1], "show") == 0)
            show = argv[2];
        else {
            pin = argv[2];
            pin_value = strcmp(argv[1], "pin") == 0;
        }
        i = 3;
    }
    for (; i < argc; i++) {
        const char *a = argv[i], *v;
        bool missing = false;
        if (cli_is_help(a)) {
            help(s);
            return 0;
        }
        if ((v = cli_opt(argc, argv, &i, "--where", &missing)) != NULL)
            o.where = v;
        else if ((v = cli_opt(argc, argv, &i, "--trace", &missing)) != NULL)
            o.trace_id = v;
        else if ((v = cli_opt(argc, argv, &i, "--name", &missing)) != NULL)
            o.name = v;
        else if ((v = cli_opt(argc, argv, &i, "--agg", &missing)) != NULL) {
            o.agg = retrieve_metric_agg(v);
            if (o.agg <= 0)
                return cli_usage_error(s->usage,
                                       "--agg is sum, avg, min, max, last or rate, not '%s'", v);
        } else if ((v = cli_opt(argc, argv, &i, "--step", &missing)) != NULL) {
            if (retrieve_parse_duration(v, &o.step_ns) != 0 || o.step_ns <= 0)
                return cli_usage_error(s->usage, "--step takes a duration (10s, 1m), not '%s'", v);
        } else if ((v = cli_opt(argc, argv, &i, "--db", &missing)) != NULL)
            db_opt = v;
        else if ((v = cli_opt(argc, argv, &i, "--format", &missing)) != NULL) {
            if (parse_format(v, &o.format) != 0)
                return cli_usage_error(s->usage, "--format is table, json or csv, not '%s'", v);
        } else if ((v = cli_opt(argc, argv, &i, "--limit", &missing)) != NULL) {
            char *end;
            o.limit = strtoll(v, &end, 10);
            if (*end != '\0' || o.limit <= 0)
                return cli_usage_error(s->usage, "--limit takes a positive number, not '%s'", v);
        } else if ((v = cli_opt(argc, argv, &i, "--since", &missing)) != NULL) {
            int64_t d;
            if (retrieve_parse_duration(v, &d) != 0)
                return cli_usage_error(s->usage,
                                       "--since takes a duration (30s, 10m, 1h, 2d),"
                                       " not '%s'",
                                       v);
            o.from_ns = now - d;
        } else if ((v = cli_opt(argc, argv, &i, "--from", &missing)) != NULL ||
                   (v = cli_opt(argc, argv, &i, "--to", &missing)) != NULL) {
            int64_t t;
            bool from = strncmp(a, "--from", 6) == 0;
            if (retrieve_parse_time(v, now, &t) != 0)
                return cli_usage_error(s->usage,
                                       "%s takes a time (2026-12-07T05:00:00Z, '2026-12-07"
                                       " 06:00:00', unix seconds) or a duration ago, not '%s'",
                                       from ? "--from" : "--to", v);
            if (from)
                o.from_ns = t;
            else
                o.to_ns = t;
        } else if (missing) {
            return cli_usage_error(s->usage, "%s needs a value", a);
        } else {
            return cli_usage_error(s->usage, "unknown argument '%s' (see otel-preload %s --help)",
                                   a, s->name);
        }
    }
    if (o.name != NULL && s->what != RETRIEVE_METRICS)
        return cli_usage_error(s->usage, "--name is for metrics; for %s use --where 'name = ...'",
                               s->name);
    if ((o.agg > 0 || o.step_ns > 0) && s->what != RETRIEVE_METRICS)
        return cli_usage_error(s->usage, "--agg and --step are for metrics");
    if ((o.agg > 0 || o.step_ns > 0) && o.name == NULL)
        return cli_usage_error(s->usage, "--agg and --step need --name METRIC");
    if (o.step_ns > 0 && o.agg == 0)
        return cli_usage_error(s->usage, "--step needs --agg (sum, avg, min, max, last, rate)");
    char path[4096], err[512];
    if (store_default_path(db_opt, path, sizeof(path)) == NULL) {
        cli_error("the store's path is too long");
        return CLI_USAGE;
    }
    if (pin != NULL) {
        struct store *st;
        if (store_open(path, &st, err, sizeof(err)) != 0) {
            cli_error("%s", err);
            return 1;
        }
        char trace[33];
        sqlite3 *db = store_db(st);
        int rc = retrieve_resolve_trace(db, pin, trace, err, sizeof(err));
        int64_t run = -1;
        if (rc == 0) {
            sqlite3_stmt *q;
            if (sqlite3_prepare_v2(db, "SELECT id FROM runs WHERE trace_id = ?1", -1, &q, NULL) ==
                SQLITE_OK) {
                sqlite3_bind_text(q, 1, trace, -1, SQLITE_STATIC);
                if (sqlite3_step(q) == SQLITE_ROW) run = sqlite3_column_int64(q, 0);
                sqlite3_finalize(q);
            }
            rc = run > 0 ? store_run_pin(st, run, pin_value) : -ENOENT;
            if (rc != 0) snprintf(err, sizeof(err), "no run for '%s'", pin);
        }
        store_close(st);
        if (rc != 0) {
            cli_error("%s", err);
            return 1;
        }
        fprintf(stderr, "run %lld %s\n", (long long)run, pin_value ? "pinned" : "unpinned");
        return 0;
    }
    if (access(path, R_OK) != 0) {
        cli_error("no store at %s yet: `otel-preload run -- COMMAND` makes one", path);
        return 1;
    }
    sqlite3 *db = retrieve_open(path, err, sizeof(err));
    if (db == NULL) {
        cli_error("%s", err);
        return 1;
    }
    /* A process that reads once and exits: a small page cache that it
     * reuses. SQLite's default (2 MB) is 500 fresh heap pages for a query
     * that reads 2 MB of the store, each a page fault (10-15 us on a VM),
     * more than reading the page again would cost (a mapping of the file,
     * PRAGMA mmap_size, faulted more still). */
    sqlite3_exec(db, "PRAGMA cache_size = " CLI_CACHE_KIB, NULL, NULL, NULL);
    struct sbuf out = {0};
    /* A tree is written as it is rendered: it is complete once its spans
     * are read, so nothing after the first byte can fail but the writing. */
    if (show) out.sink = write_stdout;
    int rc = show ? retrieve_trace_tree(db, show, o.format, &out, err, sizeof(err))
                  : retrieve(db, &o, &out, err, sizeof(err));
    if (rc == 0) rc = sbuf_flush(&out);
    sqlite3_close(db);
    if (show && ferror(stdout)) { /* as a failed fflush below */
        sbuf_free(&out);
        return 1;
    }
    if (rc != 0) {
        sbuf_free(&out);
        if (rc == -EINVAL) return cli_usage_error(s->usage, "%s", err);
        cli_error("%s", err);
        return 1;
    }
    fwrite(out.data ? out.data : "", 1, out.len, stdout);
    sbuf_free(&out);
    return fflush(stdout) == 0 ? 0 : 1;
}

int cmd_spans(int argc, char **argv) {
    return run_retriever(&SPANS, argc, argv);
}
int cmd_logs(int argc, char **argv) {
    return run_retriever(&LOGS, argc, argv);
}
int cmd_metrics(int argc, char **argv) {
    return run_retriever(&METRICS, argc, argv);
}
int cmd_traces(int argc, char **argv) {
    return run_retriever(&TRACES, argc, argv);
}
