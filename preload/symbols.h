/* symbols: pointers to the real libc functions behind our hooks, one per
 * entry of hooks.def, resolved lazily on first use (safe before the
 * constructor ran). The one a signal handler needs, sigaction, is resolved
 * when the handlers are installed, so a handler never calls into dlsym.
 * Depends on libc and libdl. */
#ifndef OTELP_PRELOAD_SYMBOLS_H
#define OTELP_PRELOAD_SYMBOLS_H

#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <stdarg.h>
#include <sys/uio.h>

void *symbols_lookup(const char *name);
/* Tells helgrind and drd that the lazy resolution is no race (core/vg.h). */
void symbols_annotate(void);
/* The definition of name in the first loaded object that has one (the
 * program's global scope order), or NULL. */
void *symbols_first_definition(const char *name);

#define HOOK(ret, name, params)                                                                    \
    extern ret(*real_##name) params;                                                               \
    static inline __typeof__(real_##name) resolve_##name(void) {                                   \
        if (!real_##name) real_##name = (__typeof__(real_##name))symbols_lookup(#name);            \
        return real_##name;                                                                        \
    }
#include "preload/hooks.def"
#undef HOOK

/* REAL(name): the real function, resolving it on first use. May be NULL. */
#define REAL(name) resolve_##name()

#endif
