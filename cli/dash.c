/* dash: `otel-preload dash` (the local server) and `otel-preload status`. Depends on cli.h,
 * server/. */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "server/alerts.h"
#include "server/drain.h"
#include "server/httpd.h"
#include "server/receiver.h"
#include "server/retrieve.h"
#include "server/runtime.h"
#include "server/store.h"

static const char DASH_USAGE[] =
    "otel-preload dash [--port N] [--grpc-port N] [--listen ADDR --token TOKEN] [--db PATH]"
    " [--keep-runs N] [--max-bytes SIZE] [--rules FILE]";

static void dash_help(void) {
    printf(
        "usage: %s\n\n"
        "Receives OTLP (HTTP: protobuf or JSON, gzip; gRPC) on 127.0.0.1, traces and logs, keeps "
        "it\n"
        "in the local store, serves the dashboard (http://127.0.0.1:PORT/, docs/DASHBOARD.md) and\n"
        "the read API (GET /api/v1/spans, ... docs/API-HTTP.md). `otel-preload run` sends to it\n"
        "while it runs. Stops on SIGINT or SIGTERM.\n\n"
        "options:\n"
        "  --port N          listen on this port (default 4318 when free, else any free port)\n"
        "  --listen ADDR     the address for HTTP (default 127.0.0.1); an address other than\n"
        "                    loopback needs --token\n"
        "  --token TOKEN     every page and API request needs it (Authorization: Bearer TOKEN,\n"
        "                    or open the page once as http://HOST:PORT/?token=TOKEN);\n"
        "                    default $OTEL_PRELOAD_DASH_TOKEN\n"
        "  --web DIR         the dashboard's files (default: found next to the command)\n"
        "  --db PATH         the store (default: $OTEL_PRELOAD_DB, else\n"
        "                    ~/.local/share/otel-preload/store.db)\n"
        "  --keep-runs N     keep at most N runs (default %d; $OTEL_PRELOAD_KEEP_RUNS)\n"
        "  --max-bytes SIZE  keep the store under SIZE (default 1GiB; $OTEL_PRELOAD_MAX_BYTES)\n"
        "  --rules FILE      evaluate these alert rules (docs/ALERTS.md; `otel-preload alerts`)\n",
        DASH_USAGE, STORE_DEFAULT_KEEP_RUNS);
}

int cmd_dash(int argc, char **argv) {
    const char *db_opt = NULL, *rules_path = NULL, *listen_addr = NULL, *web_dir = NULL;
    const char *token = getenv("OTEL_PRELOAD_DASH_TOKEN");
    int port = -1, grpc_port = -1;
    int64_t keep = 0, max_bytes = 0;
    const char *ek = getenv("OTEL_PRELOAD_KEEP_RUNS"), *eb = getenv("OTEL_PRELOAD_MAX_BYTES");
    if (ek && ek[0]) keep = strtoll(ek, NULL, 10);
    if (eb && eb[0] && cli_parse_size(eb, &max_bytes) != 0) {
        cli_error("OTEL_PRELOAD_MAX_BYTES: '%s' is not a size; using the default", eb);
        max_bytes = 0;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        bool missing = false;
        if (cli_is_help(a)) {
            dash_help();
            return 0;
        }
        if ((v = cli_opt(argc, argv, &i, "--db", &missing)) != NULL)
            db_opt = v;
        else if ((v = cli_opt(argc, argv, &i, "--listen", &missing)) != NULL)
            listen_addr = v;
        else if ((v = cli_opt(argc, argv, &i, "--token", &missing)) != NULL)
            token = v;
        else if ((v = cli_opt(argc, argv, &i, "--web", &missing)) != NULL)
            web_dir = v;
        else if ((v = cli_opt(argc, argv, &i, "--rules", &missing)) != NULL)
            rules_path = v;
        else if ((v = cli_opt(argc, argv, &i, "--port", &missing)) != NULL) {
            char *end;
            long p = strtol(v, &end, 10);
            if (*end != '\0' || p < 0 || p > 65535)
                return cli_usage_error(DASH_USAGE, "--port takes 0-65535, not '%s'", v);
            port = (int)p;
        } else if ((v = cli_opt(argc, argv, &i, "--grpc-port", &missing)) != NULL) {
            char *end;
            long p = strtol(v, &end, 10);
            if (*end != '\0' || p < 0 || p > 65535)
                return cli_usage_error(DASH_USAGE, "--grpc-port takes 0-65535, not '%s'", v);
            grpc_port = (int)p;
        } else if ((v = cli_opt(argc, argv, &i, "--keep-runs", &missing)) != NULL) {
            char *end;
            keep = strtoll(v, &end, 10);
            if (*end != '\0' || keep <= 0)
                return cli_usage_error(DASH_USAGE, "--keep-runs takes a positive number");
        } else if ((v = cli_opt(argc, argv, &i, "--max-bytes", &missing)) != NULL) {
            if (cli_parse_size(v, &max_bytes) != 0)
                return cli_usage_error(DASH_USAGE, "--max-bytes takes a size (500MiB, 2GiB)");
        } else if (missing) {
            return cli_usage_error(DASH_USAGE, "%s needs a value", a);
        } else {
            return cli_usage_error(DASH_USAGE, "unknown argument '%s'", a);
        }
    }
    if (token != NULL && token[0] == '\0') token = NULL;
    if (listen_addr != NULL && !http_addr_is_loopback(listen_addr)) {
        struct in6_addr probe;
        if (inet_pton(AF_INET, listen_addr, &probe) != 1 &&
            inet_pton(AF_INET6, listen_addr, &probe) != 1)
            return cli_usage_error(DASH_USAGE,
                                   "--listen takes an IPv4 or IPv6 address (0.0.0.0, ::,"
                                   " 192.168.1.5), not '%s'",
                                   listen_addr);
        if (token == NULL) {
            cli_error("refusing to listen on %s without a token: anyone who reaches it could read"
                      " the store; give --token TOKEN (or $OTEL_PRELOAD_DASH_TOKEN)",
                      listen_addr);
            return CLI_USAGE;
        }
    }
    if (token != NULL && strlen(token) > 200)
        return cli_usage_error(DASH_USAGE, "--token: at most 200 characters");
    char path[4096], err[512];
    if (store_default_path(db_opt, path, sizeof(path)) == NULL) {
        cli_error("the store's path is too long");
        return CLI_USAGE;
    }
    struct rules *rules = NULL;
    if (rules_path != NULL && cli_rules_load(rules_path, &rules) != 0) return CLI_USAGE;
    struct store *st;
    if (store_open(path, &st, err, sizeof(err)) != 0) {
        cli_error("%s", err);
        rules_free(rules);
        return 1;
    }
    store_set_limits(st, keep, max_bytes);
    struct alerts *alerts = NULL;
    if (rules != NULL) {
        size_t n_rules = rules->n_rules;
        if (alerts_start(st, rules, &alerts, err, sizeof(err)) != 0) { /* takes rules */
            cli_error("%s", err);
            store_close(st);
            return 1;
        }
        if (store_add_listener(st, alerts_on_ingest, alerts) != 0) {
            cli_error("too many store listeners: alert rules are not evaluated");
            alerts_stop(alerts);
            store_close(st);
            return 1;
        }
        fprintf(stderr, "otel-preload: %zu alert rules from %s\n", n_rules, rules_path);
    }
    (void)store_retain(st);
    /* What processes spooled while no collector answered (docs/SPOOL.md). */
    struct drain_result dr;
    int drc = drain_spool(st, 100000, &dr);
    if (drc != 0) cli_error("the spool could not be read: %s", strerror(-drc));
    if (dr.batches > 0 || dr.corrupt > 0)
        fprintf(stderr,
                "otel-preload: took in %zu spooled batches (%zu records); %zu corrupt removed\n",
                dr.batches, dr.records, dr.corrupt);
    /* Signals: wait for them synchronously, blocked in every thread. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    struct web_options web = {
        .asset_dir = web_dir, .token = token, .loopback = http_addr_is_loopback(listen_addr)};
    struct receiver *r = receiver_start_on(st, listen_addr, port < 0 ? 4318 : port, &web);
    if (r == NULL && port < 0) r = receiver_start_on(st, listen_addr, 0, &web);
    if (r == NULL) {
        cli_error("cannot listen on %s:%d: %s", listen_addr ? listen_addr : "127.0.0.1",
                  port < 0 ? 4318 : port, strerror(errno));
        if (alerts) store_remove_listener(st, alerts_on_ingest, alerts);
        alerts_stop(alerts);
        store_close(st);
        return 1;
    }
    int grc = receiver_start_grpc(r, grpc_port < 0 ? 4317 : grpc_port);
    if (grc != 0 && grpc_port < 0) grc = receiver_start_grpc(r, 0);
    if (grc != 0)
        cli_error("cannot listen for OTLP/gRPC on 127.0.0.1:%d: %s (HTTP only)",
                  grpc_port < 0 ? 4317 : grpc_port, strerror(-grc));
    struct runtime_info info = {
        .pid = getpid(), .http_port = receiver_port(r), .grpc_port = receiver_grpc_port(r)};
    snprintf(info.db, sizeof(info.db), "%s", path);
    if (runtime_write(&info) != 0)
        cli_error("cannot write the runtime file: `otel-preload run` will not find this server");
    fprintf(stderr,
            "otel-preload: receiving OTLP on http://127.0.0.1:%d (gRPC: port %d), store %s\n",
            receiver_port(r), receiver_grpc_port(r), path);
    char assets[4096];
    if (web_dir == NULL && web_find_assets(assets, sizeof(assets)) == NULL)
        cli_error("the dashboard's files are not installed: the API works, the pages do not");
    const char *shown =
        listen_addr == NULL || strcmp(listen_addr, "0.0.0.0") == 0 || strcmp(listen_addr, "::") == 0
            ? "127.0.0.1"
            : listen_addr;
    bool v6 = strchr(shown, ':') != NULL;
    fprintf(stderr, "otel-preload: dashboard at http://%s%s%s:%d/%s%s\n", v6 ? "[" : "", shown,
            v6 ? "]" : "", receiver_port(r), token ? "?token=" : "", token ? token : "");
    int sig = 0;
    while (sigwait(&set, &sig) != 0) {
    }
    runtime_remove();
    receiver_stop(r);
    if (alerts) store_remove_listener(st, alerts_on_ingest, alerts);
    alerts_stop(alerts);
    store_close(st);
    fprintf(stderr, "otel-preload: stopped (%s)\n", strsignal(sig));
    return 0;
}

static const char STATUS_USAGE[] = "otel-preload status [--db PATH]";

int cmd_status(int argc, char **argv) {
    const char *db_opt = NULL;
    for (int i = 1; i < argc; i++) {
        const char *v;
        bool missing = false;
        if (cli_is_help(argv[i])) {
            printf("usage: %s\n\nWhere the store is, what it holds, and whether an `otel-preload"
                   " dash` is running.\n",
                   STATUS_USAGE);
            return 0;
        }
        if ((v = cli_opt(argc, argv, &i, "--db", &missing)) != NULL)
            db_opt = v;
        else if (missing)
            return cli_usage_error(STATUS_USAGE, "--db needs a value");
        else
            return cli_usage_error(STATUS_USAGE, "unknown argument '%s'", argv[i]);
    }
    char path[4096], err[512];
    if (store_default_path(db_opt, path, sizeof(path)) == NULL) return 1;
    struct runtime_info rt;
    if (runtime_find(&rt) == 0)
        printf("server: running, pid %d, http://127.0.0.1:%d, store %s\n", (int)rt.pid,
               rt.http_port, rt.db);
    else
        printf("server: not running (`otel-preload dash` starts it)\n");
    struct stat sb;
    if (stat(path, &sb) != 0) {
        printf("store: %s (not created yet)\n", path);
        return 0;
    }
    sqlite3 *db = retrieve_open(path, err, sizeof(err));
    if (db == NULL) {
        cli_error("%s", err);
        return 1;
    }
    static const char *const what[] = {"runs", "spans", "logs", "metric_points"};
    printf("store: %s, %.1f MiB\n", path, (double)sb.st_size / 1048576.0);
    for (int i = 0; i < 4; i++) {
        char sql[64];
        snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", what[i]);
        sqlite3_stmt *q;
        long long n = -1;
        if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK) {
            if (sqlite3_step(q) == SQLITE_ROW) n = sqlite3_column_int64(q, 0);
            sqlite3_finalize(q);
        }
        printf("  %-14s %lld\n", what[i], n);
    }
    sqlite3_close(db);
    return 0;
}
