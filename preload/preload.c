/* preload: the shared object's entry. The constructor checks secure-execution
 * mode (AT_SECURE: setuid, file capabilities) first and then reads nothing,
 * opens nothing; otherwise it resolves the hooked symbols, reads OTEL_* from
 * the environment it was given, starts the root span and installs the
 * fatal-signal handlers. It starts no thread (the worker starts lazily).
 * The destructor (run by exit() after the program's atexit handlers) ends
 * the root span and flushes. A fork handler gives a child its own state.
 * In a program of another C library (musl), where glibc's names are missing
 * (preload/abi_floor.h), the constructor does nothing: its arguments are
 * glibc's extension and are read only on glibc, which passes them.
 * Depends on core/ and hooks/. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "core/cold.h"
#include "core/config.h"
#include "core/diag.h"
#include "core/guard.h"
#include "core/hostconf.h"
#include "core/scope.h"
#include "core/processor.h"
#include "core/telemetry.h"
#include "hooks/hooks.h"
#include "preload/pipeline.h"
#include "preload/symbols.h"

bool preload_active;
extern char **environ;
extern void *__dso_handle __attribute__((visibility("hidden")));

static void before_fork(void) {
    if (!preload_active || guard_active()) return;
    guard_enter();
    process_before_fork();
    guard_leave();
}

static void after_fork_child(void) {
    if (!preload_active) return;
    guard_enter();
    telemetry_after_fork_child();
    threads_after_fork_child();
    process_after_fork_child();
    signals_after_fork_child();
    guard_leave();
}

static const char *base_name(const char *path) {
    const char *slash = path ? strrchr(path, '/') : NULL;
    return slash ? slash + 1 : path ? path : "";
}

/* Whether this program is to be instrumented: OTEL_PRELOAD_INCLUDE and
 * _EXCLUDE, and the config file's rules (scope.h). Excluded: the shim stays
 * inert, and the program's children judge for themselves. */
__attribute__((noinline)) static bool exe_in_scope(const struct scope_rules *r, int argc,
                                                   char **argv) {
    char path[4096];
    ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
    path[n > 0 ? n : 0] = '\0';
    return scope_allows(r, path, argc, argv);
}

/* (The path's 4 KiB of stack only when there are rules: a fresh stack
 * page is a page fault.) */
static bool in_scope(const struct hostconf *hc, char *const *envp, int argc, char **argv) {
    struct scope_rules r = {{env_lookup(envp, "OTEL_PRELOAD_INCLUDE"), hc->include},
                            {env_lookup(envp, "OTEL_PRELOAD_EXCLUDE"), hc->exclude}};
    return !scope_has_rules(&r) || exe_in_scope(&r, argc, argv);
}

OTELP_FIRST __attribute__((constructor)) static void preload_init(int argc, char **argv,
                                                                  char **envp) {
    if (getauxval(AT_SECURE)) return; /* inert: no environment, no files */
#if defined(__GLIBC__)
    if (!gnu_get_libc_version) return; /* not glibc: inert, arguments unread */
#else
    /* The musl flavour, linked without a libc of its own (DT_NEEDED): in a
     * glibc program its imports bind to glibc, and it stays inert. */
    if (gnu_get_libc_version) return;
    /* musl passes constructors nothing; the __libc_start_main hook
     * (process.c), which runs first, kept them. */
    argc = process_start_argc;
    argv = process_start_argv;
    envp = environ;
#endif
    /* Two copies of the shim (a user's LD_PRELOAD and /etc/ld.so.preload,
     * two paths): only the one the program's calls reach first, the first
     * in the global scope, works; the other stands aside, inert, its hooks
     * passing calls through (they are its REAL functions). */
    if (symbols_first_definition("otelp_api") != api_table_self()) return;
    symbols_annotate();
    guard_enter();
    /* The host's config file (for processes started from /etc/ld.so.preload,
     * which get no OTEL_* environment): its OTEL_* lines after the
     * environment's, which win. */
    const char *conf = env_lookup(envp, "OTEL_PRELOAD_CONFIG");
    struct hostconf hc;
    int conf_err = hostconf_load(conf ? conf : HOSTCONF_PATH, &hc);
    char **env = hostconf_merge_env(&hc, envp);
    if (!env) env = envp;
    if (!in_scope(&hc, env, argc, argv)) {
        guard_leave();
        return;
    }
    pipeline_install(); /* the export side: core knows no exporter */
    if (telemetry_init(env, base_name(argc > 0 ? argv[0] : NULL)) == 0) {
        if (conf_err)
            diag_warn("ignoring %s: %s", conf ? conf : HOSTCONF_PATH,
                      conf_err == -EPERM    ? "not owned by root, or group- or world-writable"
                      : conf_err == -ELOOP  ? "a symbolic link"
                      : conf_err == -EINVAL ? "not a regular file"
                                            : "cannot be read");
        preload_active = true;
        process_start(argc, argv);
        signals_install();
        crash_prepare();
        streams_install();
#if defined(__GLIBC__)
        /* What pthread_atfork does, without its libc_nonshared.a reference
         * that musl cannot satisfy. */
        if (__register_atfork) __register_atfork(before_fork, NULL, after_fork_child, __dso_handle);
#else
        pthread_atfork(before_fork, NULL, after_fork_child);
#endif
    }
    guard_leave();
}

OTELP_FIRST __attribute__((destructor)) static void preload_fini(void) {
    if (!preload_active) return;
    process_finish(false);
}
