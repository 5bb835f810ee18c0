/* preload: the shared object's entry. The constructor checks secure-execution
 * mode (AT_SECURE: setuid, file capabilities) first and then reads nothing,
 * opens nothing; otherwise it resolves the hooked symbols, reads OTEL_* from
 * the environment it was given, starts the root span and installs the
 * fatal-signal handlers. It starts no thread (the worker starts lazily).
 * The destructor (run by exit() after the program's atexit handlers) ends
 * the root span and flushes. A fork handler gives a child its own state.
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
    if (getauxval(AT_SECURE)) return; /* inert: no environment, no files */
    guard_enter();
    if (telemetry_init(envp, base_name(argc > 0 ? argv[0] : NULL)) == 0) {
        preload_active = true;
        process_start(argc, argv);
        signals_install();
        streams_install();
        pthread_atfork(before_fork, NULL, after_fork_child);
    }
    guard_leave();
}

OTELP_FIRST __attribute__((destructor)) static void preload_fini(void) {
    if (!preload_active) return;
    process_finish(false);
}
