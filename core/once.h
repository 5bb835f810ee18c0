/* once: lock-free run-once initialisation (the executable's path, the
 * resource, the logs pipeline). A state word goes 0 (not done) -> 1 (one
 * caller doing it) -> 2 (done). Whoever finds it being done waits a
 * bounded moment, yielding: no lock, since the caller may be a signal
 * handler or a fork child, and the bound only guards against the
 * unforeseen. A fork child resets a state its parent left at 1 to 0.
 * Depends on libc. */
#ifndef OTELP_CORE_ONCE_H
#define OTELP_CORE_ONCE_H

#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>

/* True for the one caller that is to do it. */
static inline bool once_claim(_Atomic int *state) {
    int expected = 0;
    return atomic_compare_exchange_strong(state, &expected, 1);
}

static inline void once_done(_Atomic int *state) {
    atomic_store_explicit(state, 2, memory_order_release);
}

static inline bool once_ready(_Atomic int *state) {
    return atomic_load_explicit(state, memory_order_acquire) == 2;
}

/* Whether it is done, after up to spins yields while another caller is
 * doing it. */
static inline bool once_wait(_Atomic int *state, int spins) {
    for (int i = 0; !once_ready(state) && i < spins; i++)
        sched_yield();
    return once_ready(state);
}

#endif
