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
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <sys/auxv.h>

#include "core/cold.h"
#include "core/guard.h"
#include "core/processor.h"
#include "core/telemetry.h"
#include "hooks/hooks.h"
#include "preload/symbols.h"

bool preload_active;
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

OTELP_FIRST __attribute__((constructor)) static void preload_init(int argc, char **argv,
                                                                  char **envp) {
    if (getauxval(AT_SECURE)) return;  /* inert: no environment, no files */
    if (!gnu_get_libc_version) return; /* not glibc: inert, arguments unread */
    guard_enter();
    if (telemetry_init(envp, base_name(argc > 0 ? argv[0] : NULL)) == 0) {
        preload_active = true;
        process_start(argc, argv);
        signals_install();
        streams_install();
        /* What pthread_atfork does, without its libc_nonshared.a reference
         * that musl cannot satisfy. */
        if (__register_atfork) __register_atfork(before_fork, NULL, after_fork_child, __dso_handle);
    }
    guard_leave();
}

OTELP_FIRST __attribute__((destructor)) static void preload_fini(void) {
    if (!preload_active) return;
    process_finish(false);
}
