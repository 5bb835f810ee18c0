/* alerts: `otel-preload alerts` (rules and their states, from the store) and `otel-preload alerts
 * check FILE` (the rules file's errors as file:line:column). Depends on cli.h, server/alerts.h,
 * server/rules.h, server/retrieve.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "server/alerts.h"
#include "server/retrieve.h"
#include "server/rules.h"
#include "server/store.h"

static const char ALERTS_USAGE[] =
    "otel-preload alerts [--db PATH] [--json] [--history N] | otel-preload alerts check FILE";

/* Prints the error as file:line:column: message, and the line with a caret. */
static void print_rules_error(const char *path, const struct rules_error *e) {
    if (e->line > 0)
        fprintf(stderr, "%s:%d:%d: %s\n", path, e->line, e->column, e->message);
    else
        fprintf(stderr, "%s: %s\n", path, e->message);
    if (e->line <= 0) return;
    FILE *f = fopen(path, "re");
    if (f == NULL) return;
    char line[1024];
    int n = 0;
    while (fgets(line, sizeof(line), f) != NULL)
        if (++n == e->line) {
            line[strcspn(line, "\n")] = '\0';
            fprintf(stderr, "%s\n%*s^\n", line, e->column > 0 ? e->column - 1 : 0, "");
            break;
        }
    fclose(f);
}

int cli_rules_load(const char *path, struct rules **out) {
    struct rules_error e;
    int rc = rules_load(path, out, &e);
    if (rc != 0) print_rules_error(path, &e);
    return rc;
}

static int alerts_check(int argc, char **argv) {
    if (argc != 2) return cli_usage_error(ALERTS_USAGE, "`alerts check` takes one rules file");
    struct rules *r;
    if (cli_rules_load(argv[1], &r) != 0) return CLI_USAGE;
    size_t per_record = 0;
    for (size_t i = 0; i < r->n_rules; i++)
        per_record += r->rules[i].agg == RULE_RECORD;
    printf("%s: %zu rules (%zu per-record, %zu aggregate), %zu notifiers: OK\n", argv[1],
           r->n_rules, per_record, r->n_rules - per_record, r->n_notifiers);
    rules_free(r);
    return 0;
}

int cmd_alerts(int argc, char **argv) {
    if (argc >= 2 && strcmp(argv[1], "check") == 0) return alerts_check(argc - 1, argv + 1);
    const char *db_opt = NULL;
    bool json = false;
    int history = 10;
    for (int i = 1; i < argc; i++) {
        const char *v;
        bool missing = false;
        if (cli_is_help(argv[i])) {
            printf("usage: %s\n\n"
                   "Lists the alert rules of the store's server (`otel-preload dash --rules "
                   "FILE`),\n"
                   "their state per label set, the records that made them fire, and the last\n"
                   "state changes. `check FILE` checks a rules file (docs/ALERTS.md): exit 0 when\n"
                   "it is good, 2 with file:line:column of the first error.\n",
                   ALERTS_USAGE);
            return 0;
        }
        if ((v = cli_opt(argc, argv, &i, "--db", &missing)) != NULL) {
            db_opt = v;
        } else if ((v = cli_opt(argc, argv, &i, "--history", &missing)) != NULL) {
            char *end;
            long h = strtol(v, &end, 10);
            if (*end != '\0' || h < 0 || h > 100000)
                return cli_usage_error(ALERTS_USAGE, "--history takes a number");
            history = (int)h;
        } else if (strcmp(argv[i], "--json") == 0) {
            json = true;
        } else if (missing) {
            return cli_usage_error(ALERTS_USAGE, "%s needs a value", argv[i]);
        } else {
            return cli_usage_error(ALERTS_USAGE, "unknown argument '%s'", argv[i]);
        }
    }
    char path[4096], err[512];
    if (store_default_path(db_opt, path, sizeof(path)) == NULL) return CLI_USAGE;
    struct stat sb;
    if (stat(path, &sb) != 0) {
        printf("no alert rules (no store at %s)\n", path);
        return 0;
    }
    sqlite3 *db = retrieve_open(path, err, sizeof(err));
    if (db == NULL) {
        cli_error("%s", err);
        return 1;
    }
    struct sbuf out = {0};
    char q[32];
    snprintf(q, sizeof(q), "history=%d", history);
    int rc = json ? alerts_json(db, q, &out, err, sizeof(err))
                  : alerts_text(db, history, &out, err, sizeof(err));
    sqlite3_close(db);
    if (rc != 0) {
        cli_error("%s", err);
        sbuf_free(&out);
        return 1;
    }
    fwrite(out.data ? out.data : "", 1, out.len, stdout);
    sbuf_free(&out);
    return 0;
}
