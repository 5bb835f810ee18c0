/* cli: the `otel-preload` command's subcommands and the helpers they share.
 * Each subcommand is `int cmd_X(int argc, char **argv)` (argv[0] is its name) returning the
 * process's exit status; cli/main.c holds the dispatch table. */
#ifndef OTELP_CLI_CLI_H
#define OTELP_CLI_CLI_H

#include <stdbool.h>
#include <stdint.h>

#define CLI_USAGE 2 /* exit status for a usage error */

int cmd_run(int argc, char **argv);
int cmd_dash(int argc, char **argv);
int cmd_traces(int argc, char **argv);
int cmd_spans(int argc, char **argv);
int cmd_logs(int argc, char **argv);
int cmd_metrics(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_alerts(int argc, char **argv);

struct rules;
/* Loads a rules file (cli/alerts.c); errors go to stderr as file:line:column. 0 or -errno. */
int cli_rules_load(const char *path, struct rules **out);

/* "otel-preload: " + message on stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A usage error: the message, then "usage: ..." and a pointer to --help. Returns CLI_USAGE. */
int cli_usage_error(const char *usage, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool cli_is_help(const char *arg);
/* Option value parsing: "--opt VALUE" or "--opt=VALUE". Returns the value
 * and advances *i, or NULL when argv[*i] is not this option. Sets *missing
 * when the option has no value. */
const char *cli_opt(int argc, char **argv, int *i, const char *name, bool *missing);
int64_t cli_now_ns(void);
/* Parses a size "1GiB", "500MiB", "1000000". Returns 0 or -1. */
int cli_parse_size(const char *s, int64_t *out);

/* Prints the run's summary (cli/summary.c) to stderr, as text or JSON. */
int summary_print(const char *db_path, int64_t run_id, bool json);

#endif
