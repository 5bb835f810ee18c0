/* process: process entry and exit, and the program image's root span.
 *
 * __libc_start_main is interposed to wrap main, so a return from main gives
 * the exit code; exit() is interposed for the same; the flush itself runs
 * in our destructor, after the program's atexit handlers, so the root span
 * covers the whole life. _exit, _Exit and quick_exit skip destructors, so
 * they flush before the real call. Fatal signals come through signals.c.
 * Every path meets in process_finish(), which runs once per process, in the
 * process that owns this memory (a vfork child shares it, so it checks the
 * pid first), and is bounded by the shutdown budget.
 *
 * Attributes (semantic conventions; the resource usage names are ours and
 * documented in docs/ATTRIBUTES.md): process.pid, process.parent_pid,
 * process.executable.name, process.executable.path, process.command_args,
 * process.owner, process.user.id; at exit process.exit.code,
 * process.exit.signal, process.cpu.time.user/.system (s),
 * process.memory.max_rss (bytes), process.paging.faults.minor/.major,
 * process.context_switches.voluntary/.involuntary. Depends on core/. */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/cold.h"
#include "core/exe.h"
#include "core/fds.h"
#include "core/guard.h"
#include "core/ids.h"
#include "core/processor.h"
#include "core/stream.h"
#include "exporters/exporter.h"
#include "exporters/handoff.h"
#include "core/reader.h"
#include "core/telemetry.h"
#include "hooks/hooks.h"
#include "preload/symbols.h"

pid_t process_pid;

static struct span *root;
static _Atomic int finished;
static _Atomic int exit_code = -1; /* -1 unknown */
static _Atomic int exit_signal;

static int (*program_main)(int, char **, char **);

/* Room reserved in the root span for what is added at exit, so a signal
 * handler never needs malloc. */
#define EXIT_ATTRS 16
#define EXIT_ARENA 2048

static const char *base_name(const char *p) {
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

/* The user name for uid from /etc/passwd (no NSS: cheap, signal-safe,
 * never loads a module). Returns false when not found there. */
static bool passwd_name(uid_t uid, char *out, size_t cap) {
    int fd = open("/etc/passwd", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    char buf[4096];
    size_t have = 0;
    bool found = false;
    for (;;) {
        ssize_t n = read(fd, buf + have, sizeof buf - have);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0 && !have) break;
        have += n > 0 ? (size_t)n : 0;
        char *line = buf, *end;
        while ((end = memchr(line, '\n', have - (size_t)(line - buf))) || n <= 0) {
            if (!end) end = buf + have;
            /* name:passwd:uid:... */
            char *c1 = memchr(line, ':', (size_t)(end - line));
            char *c2 = c1 ? memchr(c1 + 1, ':', (size_t)(end - c1 - 1)) : NULL;
            if (c2) {
                unsigned long v = 0;
                char *d = c2 + 1;
                for (; d < end && *d >= '0' && *d <= '9'; d++)
                    v = v * 10 + (unsigned long)(*d - '0');
                if (d < end && *d == ':' && d > c2 + 1 && v == uid && (size_t)(c1 - line) < cap) {
                    memcpy(out, line, (size_t)(c1 - line));
                    out[c1 - line] = '\0';
                    found = true;
                    goto done;
                }
            }
            line = end + 1;
            if (end == buf + have) break;
        }
        if (n <= 0) break;
        size_t rest = have - (size_t)(line - buf);
        if (rest == sizeof buf) rest = 0; /* an absurd line: skip it */
        memmove(buf, line, rest);
        have = rest;
    }
done:
    close(fd);
    return found;
}

/* The parent's pid, read once per process (fork children read theirs). */
static pid_t cached_ppid;

static pid_t parent_pid(void) {
    if (!cached_ppid) cached_ppid = getppid();
    return cached_ppid;
}

/* Starts a root span for this process image (name; parent NULL: the
 * upstream context or a new trace) with the process attributes, and makes
 * it the root: current for the calling thread, context for the others. */
/* args: process.command_args (a string array), or NULL. from: the span of
 * this process's previous image or of the forking parent (same uid): its
 * owner is copied instead of reading /etc/passwd again, or NULL. */
/* The first image's root, when it records nothing (a context for children
 * only): no malloc for a process that records no spans. */
static char first_root[sizeof(struct span) + 512 + 32] __attribute__((aligned(16)));

OTELP_FIRST static void start_root(struct str name, const struct span_context *parent,
                                   struct str trace_state, const struct attr_value *args,
                                   const struct span *from, uint64_t start_ns, bool first) {
    size_t args_len = 0;
    for (uint32_t i = 0; args && i < args->u.arr.count; i++)
        args_len += args->u.arr.items[i].len + 1 + 2 * sizeof(struct str);
    /* Only a recording span shows the executable: looked up only then. */
    const char *path = telemetry.spans ? exe_path(false) : "";
    size_t arena =
        1024 + args_len + 2 * strlen(path) + EXIT_ARENA + (EXIT_ATTRS + 12) * sizeof(struct attr);
    root = telemetry_span_start_in(name, parent, trace_state, start_ns, arena,
                                   first ? first_root : NULL, sizeof first_root);
    if (!root) return;
    root->pinned = true;
    telemetry_set_root_span(root);
    if (!root->recording) return;

    span_set_int(root, "process.pid", process_pid);
    span_set_int(root, "process.parent_pid", parent_pid());
    const char *exe = exe_name(false);
    span_set_str(root, "process.executable.name", exe ? exe : "", exe ? strlen(exe) : 0);
    span_set_str(root, "process.executable.path", path, strlen(path));
    if (args) span_set_attr(root, str_cstr("process.command_args"), args);
    uid_t uid = getuid();
    const struct attr *owner = from ? attrs_find(&from->attrs, "process.owner") : NULL;
    char user[256];
    if (owner)
        span_set_attr(root, owner->key, &owner->value);
    else if (!from && passwd_name(uid, user, sizeof user))
        span_set_str(root, "process.owner", user, strlen(user));
    span_set_int(root, "process.user.id", uid);
    span_add_event(root, "process.start", start_ns);
    (void)attrs_reserve(&root->attrs, &root->arena, EXIT_ATTRS);
}

/* process.command_args of a span (to carry into the next root span). */
static const struct attr_value *command_args_of(const struct span *s) {
    const struct attr *a = s ? attrs_find(&s->attrs, "process.command_args") : NULL;
    return a && a->value.type == ATTR_STRING_ARRAY ? &a->value : NULL;
}

OTELP_FIRST void process_start(int argc, char **argv) {
    process_pid = getpid();
    fds_set_vfork_check(process_in_vfork_child);
    exe_init(argc, argv);
    const char *name = argc > 0 && argv[0] && *argv[0] ? base_name(argv[0]) : exe_name(false);
    /* argv is read here only, while it is what the kernel gave us: programs
     * rewrite theirs (option parsers, setproctitle). Fork children and
     * continuations copy the arguments from the span before them. */
    struct str stack_args[64];
    struct str *args = argc <= 64 ? stack_args : malloc((size_t)argc * sizeof *args);
    uint32_t nargs = 0;
    for (int i = 0; args && i < argc && argv[i]; i++)
        args[nargs++] = str_cstr(argv[i]);
    struct attr_value v = {.type = ATTR_STRING_ARRAY, .u.arr = {args, nargs}};
    start_root(str_cstr(name ? name : ""), NULL, str_of("", 0), args && nargs ? &v : NULL, NULL,
               clock_now_ns(), true);
    if (args != stack_args) free(args);
    /* A service (started by init or a service manager, or a container's
     * first process) may sit idle for hours: its metrics must not wait for
     * it to pass through the shim (OTEL_PRELOAD_METRICS_WORKER=auto). */
    if (telemetry.cfg.metric_worker == METRIC_WORKER_START ||
        (telemetry.cfg.metric_worker == METRIC_WORKER_AUTO &&
         telemetry.cfg.exporters[SIGNAL_METRICS] && (process_pid == 1 || parent_pid() == 1)))
        reader_process_started(true);
}

/* ---- fork children and exec ----
 *
 * A fork child gets its own root span, child of the forking thread's
 * current span. Most fork children exec at once (shells, make): then that
 * span would only sit between the parent and the new program, so it is
 * discarded and the new program becomes the child of the forking thread's
 * span. Only if something already took the fork child's span as its parent
 * (a child process, a thread) is it kept and exported, so no parent is ever
 * missing from the trace. */
static bool fork_child;      /* this image is a fork child that has not exec'd */
static bool root_referenced; /* something took the root span as its parent */
static struct span_context fork_parent;
static bool has_fork_parent;
static char fork_parent_ts[513] OTELP_COLD;
static size_t fork_parent_ts_len;

bool process_in_vfork_child(void) {
    return preload_active && getpid() != process_pid;
}

bool process_child_context(bool for_exec, struct span_context *ctx, const char **ts,
                           size_t *ts_len) {
    struct span *cur = telemetry_current_span();
    bool at_root = !cur || cur == root;
    if (for_exec && fork_child && !root_referenced && at_root && has_fork_parent) {
        *ctx = fork_parent;
        *ts = fork_parent_ts;
        *ts_len = fork_parent_ts_len;
        return true;
    }
    if (!telemetry_current_context(ctx)) return false;
    struct span *from = cur ? cur : root;
    *ts = from ? from->trace_state.ptr : NULL;
    *ts_len = from ? from->trace_state.len : 0;
    if (fork_child && at_root) root_referenced = true;
    return true;
}

void process_before_fork(void) {
    struct span_context ctx;
    const char *ts;
    size_t len;
    (void)process_child_context(false, &ctx, &ts, &len); /* marks our span referenced */
}

void process_after_fork_child(void) {
    cached_ppid = 0; /* ours is the forking process now */
    struct span *parent = root;
    struct span_context ctx;
    const char *ts;
    size_t ts_len;
    /* The forking thread's span, as this thread (the only one left) saw it. */
    has_fork_parent = telemetry_current_context(&ctx);
    struct span *cur = telemetry_current_span();
    struct span *from = cur ? cur : parent;
    ts = from ? from->trace_state.ptr : NULL;
    ts_len = from ? from->trace_state.len : 0;
    process_pid = getpid();
    atomic_store(&finished, 0);
    atomic_store(&exit_code, -1);
    atomic_store(&exit_signal, 0);
    root = NULL;
    fork_child = true;
    root_referenced = false;
    if (has_fork_parent) {
        fork_parent = ctx;
        fork_parent_ts_len = ts_len <= 512 ? ts_len : 0;
        if (fork_parent_ts_len) memcpy(fork_parent_ts, ts, fork_parent_ts_len);
        fork_parent_ts[fork_parent_ts_len] = '\0';
    }
    const char *exe = parent ? NULL : exe_name(false);
    struct str name = parent ? parent->name : str_cstr(exe ? exe : "");
    char name_copy[256];
    size_t nlen = name.len < sizeof name_copy ? name.len : sizeof name_copy - 1;
    memcpy(name_copy, name.ptr ? name.ptr : "", nlen);
    name_copy[nlen] = '\0';
    start_root(str_of(name_copy, nlen), has_fork_parent ? &fork_parent : NULL,
               str_of(fork_parent_ts, fork_parent_ts_len), command_args_of(parent), parent,
               clock_now_ns(), false);
    if (parent) {
        parent->pinned = false;
        span_free(parent); /* our copy of the parent's record */
    }
    if (root) span_set_bool(root, "process.forked", true);
}

/* What exec_prepare decided, for exec_failed. */
static bool exec_ended_root;

void process_before_exec(const char *target) {
    exec_ended_root = false;
    stream_flush_thread(); /* a partial stream line becomes a record now */
    /* Handed off or spooled: no exec waits on the network (otlp.c). */
    atomic_store(&exporter_at_exec, true);
    relay_shutdown(telemetry.cfg.shutdown_timeout_ms, false); /* its thread dies at exec */
    if (fork_child && !root_referenced) {
        /* The fork span is discarded (see above); send what else is
         * queued, if anything. */
        processor_force_flush(telemetry.cfg.shutdown_timeout_ms);
        atomic_store(&exporter_at_exec, false);
        telemetry_report_loss();
        return;
    }
    struct span *s = root;
    if (s) {
        uint64_t now = clock_now_ns();
        struct span_event *e = span_add_event(s, "process.exec", now);
        if (e) {
            struct attr_value v = {.type = ATTR_STRING, .u.s = str_cstr(target)};
            span_event_set_attr(s, e, str_cstr("process.executable.path"), &v);
        }
        telemetry_span_end(s, now);
        exec_ended_root = true;
    }
    processor_force_flush(telemetry.cfg.shutdown_timeout_ms);
    atomic_store(&exporter_at_exec, false);
    telemetry_hand_up();     /* this image's counts, to the parent's relay */
    telemetry_report_loss(); /* this image's counts: they go with it */
}

void process_exec_failed(int err) {
    if (!exec_ended_root || !root) return;
    /* The old image goes on: continue it in a new span, child of the one
     * that ended at the exec. */
    struct span *old = root;
    struct span_context ctx = old->ctx;
    char name[256];
    size_t nlen = old->name.len < sizeof name ? old->name.len : sizeof name - 1;
    memcpy(name, old->name.ptr ? old->name.ptr : "", nlen);
    name[nlen] = '\0';
    uint64_t now = clock_now_ns();
    start_root(str_of(name, nlen), &ctx, old->trace_state, command_args_of(old), old, now, false);
    if (root) {
        struct span_event *e = span_add_event(root, "process.exec.failed", now);
        if (e) {
            struct attr_value v = {.type = ATTR_INT, .u.i = err};
            span_event_set_attr(root, e, str_cstr("error.code"), &v);
        }
    }
}

/* An event on the current span with an int attribute and, when key2 is
 * not NULL, a string one. */
static void add_event(const char *event, const char *key, int64_t value, const char *key2,
                      const char *value2) {
    struct span *cur = telemetry_current_span();
    if (!cur || !span_lock(cur)) return;
    struct span_event *e = span_add_event(cur, event, clock_now_ns());
    if (e) {
        struct attr_value v = {.type = ATTR_INT, .u.i = value};
        span_event_set_attr(cur, e, str_cstr(key), &v);
        if (key2) {
            v = (struct attr_value){.type = ATTR_STRING, .u.s = str_cstr(value2)};
            span_event_set_attr(cur, e, str_cstr(key2), &v);
        }
    }
    span_unlock(cur);
}

void process_add_event_int(const char *event, const char *key, int64_t value) {
    add_event(event, key, value, NULL, NULL);
}

void process_spawn_failed(const char *file, int err) {
    /* a name posix_spawnp looks up in PATH, or a path */
    const char *what = !file               ? NULL
                       : strchr(file, '/') ? "process.executable.path"
                                           : "process.executable.name";
    add_event("process.spawn.failed", "error.code", err, what, file);
}

void process_note_exit_code(int code) {
    int unknown = -1;
    atomic_compare_exchange_strong(&exit_code, &unknown, code & 0xff);
}

void process_note_signal(int sig) {
    int none = 0;
    atomic_compare_exchange_strong(&exit_signal, &none, sig);
}

static const char *signal_name(int sig) {
    static const char *const names[] = {
        [SIGHUP] = "SIGHUP",       [SIGINT] = "SIGINT",   [SIGQUIT] = "SIGQUIT",
        [SIGILL] = "SIGILL",       [SIGTRAP] = "SIGTRAP", [SIGABRT] = "SIGABRT",
        [SIGBUS] = "SIGBUS",       [SIGFPE] = "SIGFPE",   [SIGKILL] = "SIGKILL",
        [SIGUSR1] = "SIGUSR1",     [SIGSEGV] = "SIGSEGV", [SIGUSR2] = "SIGUSR2",
        [SIGPIPE] = "SIGPIPE",     [SIGALRM] = "SIGALRM", [SIGTERM] = "SIGTERM",
        [SIGSTKFLT] = "SIGSTKFLT", [SIGXCPU] = "SIGXCPU", [SIGXFSZ] = "SIGXFSZ",
        [SIGVTALRM] = "SIGVTALRM", [SIGPROF] = "SIGPROF", [SIGIO] = "SIGIO",
        [SIGPWR] = "SIGPWR",       [SIGSYS] = "SIGSYS"};
    if (sig > 0 && sig < (int)(sizeof names / sizeof names[0]) && names[sig]) return names[sig];
    return "signal";
}

/* Async-signal-safe formatting of "<prefix><number><suffix>". */
static void format_status(char *out, size_t cap, const char *prefix, int num, const char *suffix) {
    size_t n = 0;
    for (const char *p = prefix; *p && n + 1 < cap; p++)
        out[n++] = *p;
    char digits[12];
    int d = 0;
    unsigned v = (unsigned)num;
    do {
        digits[d++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (d && n + 1 < cap)
        out[n++] = digits[--d];
    for (const char *p = suffix; *p && n + 1 < cap; p++)
        out[n++] = *p;
    out[n] = '\0';
}

static double timeval_s(struct timeval tv) {
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

OTELP_FIRST static void add_exit_attributes(struct span *s) {
    int sig = atomic_load(&exit_signal), code = atomic_load(&exit_code);
    char msg[96];
    if (sig) {
        span_set_int(s, "process.exit.code", 128 + sig);
        span_set_int(s, "process.exit.signal", sig);
        format_status(msg, sizeof msg, "killed by signal ", sig, " (");
        size_t len = strlen(msg), nl = strlen(signal_name(sig));
        if (len + nl + 2 < sizeof msg) {
            memcpy(msg + len, signal_name(sig), nl);
            memcpy(msg + len + nl, ")", 2);
        }
        span_set_status(s, STATUS_ERROR, msg);
    } else if (code >= 0) {
        span_set_int(s, "process.exit.code", code);
        if (code != 0) {
            format_status(msg, sizeof msg, "exit code ", code, "");
            span_set_status(s, STATUS_ERROR, msg);
        }
    }
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0) {
        span_set_double(s, "process.cpu.time.user", timeval_s(ru.ru_utime));
        span_set_double(s, "process.cpu.time.system", timeval_s(ru.ru_stime));
        span_set_int(s, "process.memory.max_rss", (int64_t)ru.ru_maxrss * 1024);
        span_set_int(s, "process.paging.faults.minor", ru.ru_minflt);
        span_set_int(s, "process.paging.faults.major", ru.ru_majflt);
        span_set_int(s, "process.context_switches.voluntary", ru.ru_nvcsw);
        span_set_int(s, "process.context_switches.involuntary", ru.ru_nivcsw);
    }
}

struct span *process_root_span(void) {
    return root;
}

OTELP_FIRST void process_finish(bool in_signal) {
    if (!preload_active || getpid() != process_pid) return;
    if (atomic_exchange(&finished, 1)) return;
    guard_enter();
    uint64_t crash_end = crash_deadline();
    if (crash_end) {
        /* After a crash (the program's own handler may be exiting): no
         * malloc, and what is left of the crash budget, at least a tenth. */
        in_signal = true;
        uint64_t now = clock_mono_ns(), floor = telemetry.cfg.crash_timeout_ms / 10;
        uint64_t left = crash_end > now ? (crash_end - now) / 1000000u : 0;
        if (left < floor) left = floor;
        if (left < telemetry.cfg.shutdown_timeout_ms)
            telemetry.cfg.shutdown_timeout_ms = (uint32_t)left;
    }
    struct span *s = root;
    root = NULL;
    telemetry_set_root_span(NULL);
    threads_cut_short(in_signal);
    if (s && s->recording) {
        if (in_signal) s->arena.no_malloc = true;
        add_exit_attributes(s);
        span_add_event(s, "process.exit", clock_now_ns());
    }
    telemetry_span_end(s, clock_now_ns());
    telemetry_shutdown(in_signal);
    guard_leave();
}

/* ---- hooks ---- */

/* True when this call may record: active, not our own code, and not a vfork
 * child (which shares this memory but has its own pid). */
static bool may_record(void) {
    return preload_active && !guard_active() && getpid() == process_pid;
}

int process_start_argc;
char **process_start_argv;

OTELP_FIRST static int wrapped_main(int argc, char **argv, char **envp) {
    int rc = program_main(argc, argv, envp);
    if (may_record()) process_note_exit_code(rc);
    return rc;
}

OTELP_FIRST HOOK_EXPORT int __libc_start_main(int (*main)(int, char **, char **), int argc,
                                              char **argv, void (*init)(void), void (*fini)(void),
                                              void (*rtld_fini)(void), void *stack_end) {
#if defined(__GLIBC__)
    if (!gnu_get_libc_version) /* another C library (musl: before our constructor) */
        return REAL(__libc_start_main)(main, argc, argv, init, fini, rtld_fini, stack_end);
#else
    if (gnu_get_libc_version) /* the musl flavour in a glibc program: inert */
        return REAL(__libc_start_main)(main, argc, argv, init, fini, rtld_fini, stack_end);
    /* musl runs constructors after this, with no arguments; they are kept
     * here for preload.c. */
    process_start_argc = argc;
    process_start_argv = argv;
#endif
    program_main = main;
    return REAL(__libc_start_main)(wrapped_main, argc, argv, init, fini, rtld_fini, stack_end);
}

HOOK_EXPORT void exit(int code) {
    if (may_record()) process_note_exit_code(code);
    REAL(exit)(code);
    __builtin_unreachable();
}

static _Noreturn void exit_now(void (*real)(int), int code) {
    if (may_record()) {
        process_note_exit_code(code);
        process_finish(false);
    }
    if (real) real(code);
    syscall(SYS_exit_group, code);
    __builtin_unreachable();
}

HOOK_EXPORT void _exit(int code) {
    exit_now(REAL(_exit), code);
}
HOOK_EXPORT void _Exit(int code) {
    exit_now(REAL(_Exit), code);
}
HOOK_EXPORT void quick_exit(int code) {
    /* quick_exit runs at_quick_exit handlers and then _exit internally, so
     * no destructor runs: flush first. */
    if (may_record()) {
        process_note_exit_code(code);
        process_finish(false);
    }
    REAL(quick_exit)(code);
    __builtin_unreachable();
}
