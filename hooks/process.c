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

#include "core/guard.h"
#include "core/ids.h"
#include "core/telemetry.h"
#include "hooks/hooks.h"
#include "preload/symbols.h"

pid_t process_pid;

static struct span *root;
static _Atomic int finished;
static _Atomic int exit_code = -1; /* -1 unknown */
static _Atomic int exit_signal;
static char exe_path[4096];
static const char *exe_base = "";

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

void process_start(int argc, char **argv) {
    process_pid = getpid();
    ssize_t n = readlink("/proc/self/exe", exe_path, sizeof exe_path - 1);
    exe_path[n > 0 ? n : 0] = '\0';
    exe_base = base_name(exe_path);
    if (*exe_base) telemetry.exe_name = exe_base;
    const char *name = argc > 0 && argv[0] && *argv[0] ? base_name(argv[0]) : exe_base;

    size_t args_len = 0;
    for (int i = 0; i < argc; i++)
        args_len += strlen(argv[i]) + 1 + 2 * sizeof(struct str);
    size_t arena =
        1024 + args_len + 2 * (size_t)n + EXIT_ARENA + (EXIT_ATTRS + 12) * sizeof(struct attr);
    root = telemetry_span_start(str_cstr(name), NULL, str_of("", 0), clock_now_ns(), arena);
    if (!root) return;
    root->pinned = true;
    telemetry_set_root_span(root);
    if (!root->recording) return;

    span_set_int(root, "process.pid", process_pid);
    span_set_int(root, "process.parent_pid", getppid());
    span_set_str(root, "process.executable.name", exe_base, strlen(exe_base));
    span_set_str(root, "process.executable.path", exe_path, strlen(exe_path));
    if (argc > 0) {
        struct str stack_args[64];
        struct str *args = argc <= 64 ? stack_args : malloc((size_t)argc * sizeof *args);
        if (args) {
            for (int i = 0; i < argc; i++)
                args[i] = str_cstr(argv[i]);
            struct attr_value v = {.type = ATTR_STRING_ARRAY, .u.arr = {args, (uint32_t)argc}};
            span_set_attr(root, str_cstr("process.command_args"), &v);
            if (args != stack_args) free(args);
        }
    }
    uid_t uid = getuid();
    char user[256];
    if (passwd_name(uid, user, sizeof user))
        span_set_str(root, "process.owner", user, strlen(user));
    span_set_int(root, "process.user.id", uid);
    (void)attrs_reserve(&root->attrs, &root->arena, EXIT_ATTRS);
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

static void add_exit_attributes(struct span *s) {
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

void process_finish(bool in_signal) {
    if (!preload_active || getpid() != process_pid) return;
    if (atomic_exchange(&finished, 1)) return;
    guard_enter();
    struct span *s = root;
    root = NULL;
    telemetry_set_root_span(NULL);
    if (s && s->recording) {
        if (in_signal) s->arena.no_malloc = true;
        add_exit_attributes(s);
    }
    telemetry_span_end(s, clock_now_ns());
    telemetry_shutdown(in_signal);
    guard_leave();
}

void process_after_fork_child(void) {
    /* A fork child is a new process: it gets its own span, child of the
     * forking process's root span, and a fresh finish. (Process trees come
     * with the next issue; this keeps ids unique and pids right.) */
    struct span *parent = root;
    process_pid = getpid();
    atomic_store(&finished, 0);
    atomic_store(&exit_code, -1);
    atomic_store(&exit_signal, 0);
    root = NULL;
    if (!parent) return;
    struct span_context ctx = parent->ctx;
    root = telemetry_span_start(parent->name, &ctx, parent->trace_state, clock_now_ns(),
                                1024 + EXIT_ARENA + (EXIT_ATTRS + 8) * sizeof(struct attr));
    parent->pinned = false;
    span_free(parent); /* our copy of the parent's record */
    if (!root) return;
    root->pinned = true;
    telemetry_set_root_span(root);
    if (!root->recording) return;
    span_set_int(root, "process.pid", process_pid);
    span_set_int(root, "process.parent_pid", getppid());
    span_set_str(root, "process.executable.name", exe_base, strlen(exe_base));
    span_set_str(root, "process.executable.path", exe_path, strlen(exe_path));
    (void)attrs_reserve(&root->attrs, &root->arena, EXIT_ATTRS);
}

/* ---- hooks ---- */

/* True when this call may record: active, not our own code, and not a vfork
 * child (which shares this memory but has its own pid). */
static bool may_record(void) {
    return preload_active && !guard_active() && getpid() == process_pid;
}

static int wrapped_main(int argc, char **argv, char **envp) {
    int rc = program_main(argc, argv, envp);
    if (may_record()) process_note_exit_code(rc);
    return rc;
}

HOOK_EXPORT int __libc_start_main(int (*main)(int, char **, char **), int argc, char **argv,
                                  void (*init)(void), void (*fini)(void), void (*rtld_fini)(void),
                                  void *stack_end) {
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
