/* symbols: lazy dlsym(RTLD_NEXT) resolution of hooked symbols. See symbols.h. */
#include "core/cold.h"
#include "preload/symbols.h"

#include <dlfcn.h>

#include "core/guard.h"

#define HOOK(ret, name, params) ret(*real_##name) params;
#include "preload/hooks.def"
#undef HOOK

OTELP_FIRST void *symbols_lookup(const char *name) {
    /* dlsym may allocate (dlerror state): keep it out of our hooks' view. */
    guard_enter();
    void *p = dlsym(RTLD_NEXT, name);
    guard_leave();
    return p;
}
