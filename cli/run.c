/* run: `otel-preload run -- CMD`: run a command under the shim. Depends on cli.h and server/.
 *
 * With a collector configured (--endpoint, OTEL_EXPORTER_OTLP_*ENDPOINT,
 * OTEL_TRACES_EXPORTER) or --console, the launcher sets LD_PRELOAD and the
 * variables and execs the command: nothing of ours stays in between. With
 * --tee and a collector, it runs as below, and its receiver sends every
 * request on to the collector unchanged (server/forward.h).
 *
 * Otherwise (the embedded default) the telemetry goes to the local store:
 * to a running `otel-preload dash` found through the runtime file, else to
 * a receiver this process serves on a free loopback port for the command's
 * life. The launcher makes the command's trace (TRACEPARENT: a new trace, or
 * a child of the one in the environment), records the run, forks and execs
 * the command, waits, stores its own root span, and prints the summary.
 * While it waits it ignores SIGINT and SIGQUIT (the terminal sends them to
 * the command too, as to any foreground job) and passes SIGTERM, SIGHUP,
 * SIGUSR1, SIGUSR2 and SIGWINCH on to the command. It exits with the
 * command's status; a command killed by a signal makes it die of the same
 * signal (without a core file of its own).
 */
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "server/drain.h"
#include "server/receiver.h"
#include "server/runtime.h"
#include "server/sbuf.h"
#include "server/store.h"

static const char USAGE[] =
    "otel-preload run [--endpoint URL [--tee]] [--service NAME] [--console] [--quiet] [--json]"
    " [--db PATH] -- COMMAND [ARGS...]";

static void help(void) {
    printf(
        "usage: %s\n\n"
        "Runs COMMAND with the otel-preload shim (LD_PRELOAD), so that it and every program\n"
        "it starts become one trace, with their logs.\n\n"
        "With no collector configured, the telemetry goes to the local store (a running\n"
        "`otel-preload dash`, else a receiver of this command's own) and a summary is\n"
        "printed on stderr when COMMAND ends: the process tree, slowest and failed\n"
        "programs, crashes, error logs, and how to look further.\n\n"
        "options:\n"
        "  --endpoint URL   export to this OTLP collector instead (no local store, no summary)\n"
        "  --tee            with a collector (--endpoint, OTEL_EXPORTER_OTLP_ENDPOINT, http://):\n"
        "                   keep it locally and show the summary too\n"
        "  --service NAME   OTEL_SERVICE_NAME for the command\n"
        "  --console        print spans and logs as JSON on stderr (the console exporter)\n"
        "  --quiet          no summary\n"
        "  --json           the summary as one JSON object on stderr\n"
        "  --db PATH        the store (default: $OTEL_PRELOAD_DB, else\n"
        "                   ~/.local/share/otel-preload/store.db)\n\n"
        "The exit status is COMMAND's; a COMMAND killed by a signal kills otel-preload\n"
        "with the same signal.\n",
        USAGE);
}

static const char *find_lib(char *buf, size_t cap) {
    const char *env = getenv("OTEL_PRELOAD_LIB");
    if (env != NULL && env[0] != '\0') return env;
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0) return NULL;
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (slash == NULL) return NULL;
    *slash = '\0';
    static const char *const rel[] = {"/libotelpreload.so",
                                      "/../lib/otel-preload/libotelpreload.so"};
    for (size_t i = 0; i < 2; i++) {
        size_t sl = strlen(self), rl = strlen(rel[i]);
        if (sl + rl + 1 > cap) continue;
        memcpy(buf, self, sl);
        memcpy(buf + sl, rel[i], rl + 1);
        if (access(buf, R_OK) == 0) return buf;
    }
    return NULL;
}

static bool env_set(const char *name) {
    const char *v = getenv(name);
    return v != NULL && v[0] != '\0';
}

static void hex(char *out, const uint8_t *p, size_t n) {
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[p[i] >> 4];
        out[2 * i + 1] = d[p[i] & 15];
    }
    out[2 * n] = '\0';
}

static void random_bytes(uint8_t *p, size_t n) {
    for (;;) {
        if (getrandom(p, n, 0) == (ssize_t)n) break;
        if (errno != EINTR) break;
    }
    bool zero = true;
    for (size_t i = 0; i < n; i++)
        zero = zero && p[i] == 0;
    if (zero) p[0] = 1;
}

static bool parse_hex(const char *s, uint8_t *out, size_t n) {
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(s + 2 * i, "%2x", &v) != 1) return false;
        out[i] = (uint8_t)v;
    }
    return true;
}

static volatile sig_atomic_t child_pid;

static void forward(int sig) {
    if (child_pid > 0) kill((pid_t)child_pid, sig);
}

static int64_t cpu_time_ns(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_CHILDREN, &ru) != 0) return 0;
    return ((int64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000 +
           ((int64_t)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000;
}

/* Stores the launcher's own span: the root of the run's trace. */
static void store_root_span(struct store *st, const uint8_t trace[16], const uint8_t span[8],
                            const uint8_t *parent, const char *name, int64_t start, int64_t end,
                            int code, int sig, int64_t cpu_ns) {
    struct otlp_attr res_attr[2] = {
        {.key = "service.name",
         .value = {.type = OTLP_VALUE_STRING, .str = "otel-preload", .len = 12}},
        {.key = "telemetry.sdk.name",
         .value = {.type = OTLP_VALUE_STRING, .str = "otel-preload", .len = 12}},
    };
    struct otlp_attr span_attrs[3] = {
        {.key = "otel_preload.run.exit_code", .value = {.type = OTLP_VALUE_INT, .i = code}},
        {.key = "otel_preload.run.signal", .value = {.type = OTLP_VALUE_INT, .i = sig}},
        {.key = "otel_preload.run.cpu_time",
         .value = {.type = OTLP_VALUE_DOUBLE, .d = (double)cpu_ns / 1e9}},
    };
    char msg[64] = "";
    if (sig > 0)
        snprintf(msg, sizeof(msg), "killed by signal %d", sig);
    else if (code != 0)
        snprintf(msg, sizeof(msg), "exit code %d", code);
    struct otlp_span sp = {
        .trace_state = "",
        .name = (char *)name,
        .kind = 1,
        .start_time_unix_nano = (uint64_t)start,
        .end_time_unix_nano = (uint64_t)end,
        .attrs = {.items = span_attrs, .count = 3},
        .has_status = true,
        .status_code = sig > 0 || code != 0 ? 2 : 0,
        .status_message = msg,
    };
    memcpy(sp.trace_id, trace, 16);
    memcpy(sp.span_id, span, 8);
    if (parent != NULL) memcpy(sp.parent_span_id, parent, 8);
    struct otlp_scope_spans ss = {
        .has_scope = true,
        .scope = {.name = "otel-preload", .version = OTELP_VERSION},
        .schema_url = "",
        .spans = &sp,
        .n_spans = 1,
    };
    struct otlp_resource_spans rs = {
        .resource = {.present = true, .attrs = {.items = res_attr, .count = 2}},
        .schema_url = "",
        .scope_spans = &ss,
        .n_scope_spans = 1,
    };
    struct otlp_traces req = {.resource_spans = &rs, .n_resource_spans = 1};
    int64_t rejected;
    char err[256];
    if (store_write_traces(st, &req, &rejected, err, sizeof(err)) != 0)
        cli_error("cannot store the run's span: %s", err);
}

int cmd_run(int argc, char **argv) {
    const char *endpoint = NULL, *service = NULL, *db_opt = NULL;
    bool console = false, quiet = false, json = false, tee = false;
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i], *v;
        bool missing = false;
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        if (cli_is_help(a)) {
            help();
            return 0;
        }
        if ((v = cli_opt(argc, argv, &i, "--endpoint", &missing)) != NULL)
            endpoint = v;
        else if ((v = cli_opt(argc, argv, &i, "--service", &missing)) != NULL)
            service = v;
        else if ((v = cli_opt(argc, argv, &i, "--db", &missing)) != NULL)
            db_opt = v;
        else if (strcmp(a, "--console") == 0)
            console = true;
        else if (strcmp(a, "--quiet") == 0 || strcmp(a, "-q") == 0)
            quiet = true;
        else if (strcmp(a, "--json") == 0)
            json = true;
        else if (strcmp(a, "--tee") == 0)
            tee = true;
        else if (missing)
            return cli_usage_error(USAGE, "%s needs a value", a);
        else if (a[0] == '-')
            return cli_usage_error(USAGE, "unknown option '%s'", a);
        else
            break; /* the command, without "--" */
    }
    if (i >= argc)
        return cli_usage_error(USAGE, "no command to run: put it after --, e.g."
                                      " `otel-preload run -- make -j8`");
    char **cmd = argv + i;

    char libbuf[PATH_MAX];
    const char *lib = find_lib(libbuf, sizeof(libbuf));
    if (lib == NULL) {
        cli_error("cannot find libotelpreload.so next to this program (set OTEL_PRELOAD_LIB)");
        return CLI_USAGE;
    }
    char preload[PATH_MAX * 2];
    const char *old = getenv("LD_PRELOAD");
    snprintf(preload, sizeof(preload), "%s%s%s", lib, old && old[0] ? " " : "", old ? old : "");
    setenv("LD_PRELOAD", preload, 1);
    if (service != NULL) setenv("OTEL_SERVICE_NAME", service, 1);
    if (endpoint != NULL) setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint, 1);

    bool collector = env_set("OTEL_EXPORTER_OTLP_ENDPOINT") ||
                     env_set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") ||
                     env_set("OTEL_TRACES_EXPORTER");
    char collector_url[1024] = "";
    if (tee) {
        const char *u = getenv("OTEL_EXPORTER_OTLP_ENDPOINT");
        if (u == NULL || u[0] == '\0')
            return cli_usage_error(USAGE, "--tee needs a collector: --endpoint URL (or"
                                          " OTEL_EXPORTER_OTLP_ENDPOINT)");
        snprintf(collector_url, sizeof(collector_url), "%s", u);
        if (console) return cli_usage_error(USAGE, "--tee and --console do not go together");
    }
    if (console || (collector && !tee)) {
        if (console) {
            setenv("OTEL_TRACES_EXPORTER", "console", 1);
            setenv("OTEL_LOGS_EXPORTER", "console", 1);
        }
        execvp(cmd[0], cmd);
        int e = errno;
        cli_error("cannot run %s: %s", cmd[0], strerror(e));
        return e == ENOENT ? 127 : 126;
    }

    /* The embedded default: the local store. The receiver's threads share
     * the main malloc arena, which store_open has already faulted in,
     * instead of each starting one of its own on fresh pages: ~50 page
     * faults fewer in a 300-process run (a fault costs 11-15 us on a VM). */
    mallopt(M_ARENA_MAX, 1);
    char dbbuf[4096];
    struct runtime_info rt;
    bool use_dash = db_opt == NULL && !tee && runtime_find(&rt) == 0;
    const char *db_path = use_dash ? rt.db : store_default_path(db_opt, dbbuf, sizeof(dbbuf));
    if (db_path == NULL) {
        cli_error("the store's path is too long");
        return CLI_USAGE;
    }
    struct store *st = NULL;
    char err[512];
    if (store_open(db_path, &st, err, sizeof(err)) != 0) {
        cli_error("%s; running the command without telemetry", err);
        unsetenv("LD_PRELOAD");
        if (old) setenv("LD_PRELOAD", old, 1);
        execvp(cmd[0], cmd);
        cli_error("cannot run %s: %s", cmd[0], strerror(errno));
        return 127;
    }
    struct receiver *rcv = NULL;
    int port = use_dash ? rt.http_port : 0;
    if (!use_dash) {
        /* The spool, quietly and bounded: the command waits for this. */
        struct drain_result dr;
        if (drain_spool(st, 100, &dr) != 0) { /* unreadable: left for the next drainer */
        }
        rcv = receiver_start(st, 0);
        if (rcv == NULL) {
            cli_error("cannot listen on loopback: %s", strerror(errno));
            store_close(st);
            return 1;
        }
        port = receiver_port(rcv);
        if (tee && receiver_set_forward(rcv, collector_url, err, sizeof(err)) != 0) {
            receiver_stop(rcv);
            store_close(st);
            return cli_usage_error(USAGE, "%s", err);
        }
    }
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
    setenv("OTEL_EXPORTER_OTLP_ENDPOINT", url, 1);
    setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf", 1);
    if (!env_set("OTEL_LOGS_EXPORTER")) setenv("OTEL_LOGS_EXPORTER", "otlp", 1);
    if (!env_set("OTEL_METRICS_EXPORTER")) setenv("OTEL_METRICS_EXPORTER", "otlp", 1);

    /* The run's trace: a child of TRACEPARENT when there is one. */
    uint8_t trace[16], span[8], parent[8];
    bool has_parent = false;
    const char *tp = getenv("TRACEPARENT");
    if (tp != NULL && strlen(tp) >= 55 && tp[2] == '-' && tp[35] == '-' &&
        parse_hex(tp + 3, trace, 16) && parse_hex(tp + 36, parent, 8))
        has_parent = true;
    else
        random_bytes(trace, 16);
    random_bytes(span, 8);
    char trace_hex[33], span_hex[17], tpbuf[64];
    hex(trace_hex, trace, 16);
    hex(span_hex, span, 8);
    snprintf(tpbuf, sizeof(tpbuf), "00-%s-%s-01", trace_hex, span_hex);
    setenv("TRACEPARENT", tpbuf, 1);

    struct sbuf cmdjson = {0};
    sbuf_add(&cmdjson, "[", 1);
    for (char **a = cmd; *a; a++) {
        if (a != cmd) sbuf_add(&cmdjson, ",", 1);
        sbuf_json_str(&cmdjson, *a, strlen(*a));
    }
    sbuf_add(&cmdjson, "]", 1);
    char cwd[PATH_MAX];
    if (getcwd(cwd, sizeof(cwd)) == NULL) cwd[0] = '\0';
    int64_t start = cli_now_ns(), run_id = 0;
    if (store_run_begin(st, trace_hex, sbuf_cstr(&cmdjson), cwd, start, &run_id) != 0)
        cli_error("cannot record the run in %s", db_path);
    sbuf_free(&cmdjson);

    /* While the command runs: ignore the terminal's signals, pass the others on. */
    struct sigaction ign = {.sa_handler = SIG_IGN}, fwd = {.sa_handler = forward}, old_int,
                     old_quit;
    sigemptyset(&fwd.sa_mask);
    sigaction(SIGINT, &ign, &old_int);
    sigaction(SIGQUIT, &ign, &old_quit);
    static const int forwarded[] = {SIGTERM, SIGHUP, SIGUSR1, SIGUSR2, SIGWINCH};
    struct sigaction old_fwd[5];
    for (int k = 0; k < 5; k++)
        sigaction(forwarded[k], &fwd, &old_fwd[k]);

    pid_t pid = fork();
    if (pid == 0) {
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGQUIT, &old_quit, NULL);
        for (int k = 0; k < 5; k++)
            sigaction(forwarded[k], &old_fwd[k], NULL);
        execvp(cmd[0], cmd);
        int e = errno;
        fprintf(stderr, "otel-preload: cannot run %s: %s\n", cmd[0], strerror(e));
        _exit(e == ENOENT ? 127 : 126);
    }
    int status = 0, code = 0, sig = 0;
    if (pid < 0) {
        cli_error("cannot start %s: %s", cmd[0], strerror(errno));
        code = 126;
    } else {
        child_pid = pid;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        child_pid = 0;
        if (WIFSIGNALED(status))
            sig = WTERMSIG(status);
        else
            code = WEXITSTATUS(status);
    }
    int64_t end = cli_now_ns();
    const char *base = strrchr(cmd[0], '/');
    base = base ? base + 1 : cmd[0];
    char name[256];
    snprintf(name, sizeof(name), "otel-preload run %s", base);
    store_root_span(st, trace, span, has_parent ? parent : NULL, name, start, end, code, sig,
                    cpu_time_ns());
    if (run_id > 0 && store_run_end(st, run_id, end, code, sig) != 0)
        cli_error("cannot record the run's end in %s", db_path);
    receiver_stop(rcv);
    store_close(st);
    if (!quiet && run_id > 0) summary_print(db_path, run_id, json);

    if (sig > 0) {
        struct sigaction dfl = {.sa_handler = SIG_DFL};
        sigemptyset(&dfl.sa_mask);
        sigaction(sig, &dfl, NULL);
        struct rlimit nocore = {0, 0};
        setrlimit(RLIMIT_CORE, &nocore);
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, sig);
        sigprocmask(SIG_UNBLOCK, &set, NULL);
        raise(sig);
        return 128 + sig;
    }
    return code;
}
