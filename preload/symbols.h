/* symbols: pointers to the real libc functions behind our hooks, one per
 * entry of hooks.def, resolved lazily (safe before the constructor ran) or
 * all at once by symbols_resolve_all() from the constructor, so that signal
 * handlers never need the loader. Depends on libc and libdl. */
#ifndef OTELP_PRELOAD_SYMBOLS_H
#define OTELP_PRELOAD_SYMBOLS_H

#include <signal.h>

void *symbols_lookup(const char *name);
void symbols_resolve_all(void);

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
