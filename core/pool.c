/* pool: see pool.h. */
#include "core/pool.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/cold.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define RESERVE 0
#else
#define RESERVE                                                                                    \
    (128u << 10) /* three exporters (~17 KiB each) and what else a process makes once              \
                  */
#endif

static _Alignas(64) unsigned char reserve[RESERVE + 1] OTELP_COLD;
static _Atomic size_t used;

void *pool_alloc(size_t n) {
    size_t need = (n + 15) & ~(size_t)15;
    size_t at = atomic_load_explicit(&used, memory_order_relaxed);
    while (need >= n && need <= RESERVE - at)
        if (atomic_compare_exchange_weak_explicit(&used, &at, at + need, memory_order_relaxed,
                                                  memory_order_relaxed))
            return reserve + at;
    return calloc(1, n);
}

void pool_free(void *p) {
    if ((uintptr_t)p - (uintptr_t)reserve >= sizeof reserve) free(p);
}
