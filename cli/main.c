/* main: the `otel-preload` command: a table of subcommands. Depends on cli.h.
 * To add a subcommand, add a row to COMMANDS (name, function, one line of help). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/install.h"
#include "cli/k8s.h"

static const struct {
    const char *name;
    int (*main)(int argc, char **argv);
    const char *help;
} COMMANDS[] = {
    {"run", cmd_run, "run a command under the shim; a summary of what it did at the end"},
    {"dash", cmd_dash, "receive OTLP and keep it in the local store (the dashboard's server)"},
    {"traces", cmd_traces, "list runs and traces; `traces show ID` prints one as a tree"},
    {"spans", cmd_spans, "query spans in the local store"},
    {"logs", cmd_logs, "query log records in the local store"},
    {"metrics", cmd_metrics, "query metric points in the local store"},
    {"alerts", cmd_alerts, "alert rules and their states; `alerts check FILE` checks a rules file"},
    {"status", cmd_status_all,
     "the store, the server, and where the shim is installed and running"},
    {"install", cmd_install, "put the shim in /etc/ld.so.preload, or a systemd service"},
    {"uninstall", cmd_uninstall, "take it out again"},
    {"k8s", cmd_k8s, "`k8s inject`: a Kubernetes workload rewritten to run under the shim"},
};
#define N_COMMANDS (sizeof(COMMANDS) / sizeof(COMMANDS[0]))

static void usage(FILE *f) {
    fprintf(f, "usage: otel-preload COMMAND [OPTIONS]\n\ncommands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(f, "  %-8s %s\n", COMMANDS[i].name, COMMANDS[i].help);
    fprintf(f, "\n`otel-preload COMMAND --help` describes each. Example:\n"
               "  otel-preload run -- make -j8\n");
}

void cli_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("otel-preload: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int cli_usage_error(const char *usage_line, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("otel-preload: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    fprintf(stderr, "usage: %s\n", usage_line);
    return CLI_USAGE;
}

bool cli_is_help(const char *arg) {
    return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0 || strcmp(arg, "help") == 0;
}

const char *cli_opt(int argc, char **argv, int *i, const char *name, bool *missing) {
    size_t n = strlen(name);
    const char *a = argv[*i];
    if (strncmp(a, name, n) != 0) return NULL;
    if (a[n] == '=') return a + n + 1;
    if (a[n] != '\0') return NULL;
    if (*i + 1 >= argc) {
        *missing = true;
        return NULL;
    }
    (*i)++;
    return argv[*i];
}

int64_t cli_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int cli_parse_size(const char *s, int64_t *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno != 0 || v <= 0) return -1;
    static const struct {
        const char *suffix;
        double mult;
    } units[] = {
        {"", 1},     {"B", 1},    {"KiB", 1024.0}, {"MiB", 1048576.0}, {"GiB", 1073741824.0},
        {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}};
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
        if (strcmp(end, units[i].suffix) == 0) {
            *out = (int64_t)(v * units[i].mult);
            return 0;
        }
    return -1;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    if (cli_is_help(argv[1])) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("otel-preload %s\n", OTELP_VERSION);
        return 0;
    }
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(argv[1], COMMANDS[i].name) == 0) return COMMANDS[i].main(argc - 1, argv + 1);
    cli_error("unknown command '%s'", argv[1]);
    usage(stderr);
    return CLI_USAGE;
}
