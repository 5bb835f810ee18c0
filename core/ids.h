/* ids: random trace and span ids and the wall clock. Ids come from a
 * per-thread xoshiro256** generator seeded from getrandom(2); a fork bumps a
 * generation so a child never repeats its parent's sequence. Depends on libc. */
#ifndef OTELP_CORE_IDS_H
#define OTELP_CORE_IDS_H

#include <stdbool.h>
#include <stdint.h>

/* Fills out with a random non-zero trace id (16 bytes) or span id (8 bytes). */
void ids_new_trace_id(uint8_t out[16]);
void ids_new_span_id(uint8_t out[8]);
uint64_t ids_random_u64(void);
/* A random RFC 4122 version 4 UUID, formatted (36 characters + NUL). */
void ids_uuid4(char out[37]);
/* A seed for a thread about to be started, from the calling thread's
 * generator; the new thread passes it to ids_seed_thread before its first
 * id. So a thread-creating program's new threads seed without a shared
 * counter (one contended atomic and a cache line moved between cores per
 * thread). The generator is seeded from it at the thread's first id (a
 * fork in between reseeds it as usual). */
uint64_t ids_thread_seed(void);
void ids_seed_thread(uint64_t seed);
/* Call in a fork child: every thread's generator reseeds before next use. */
void ids_after_fork(void);

/* Nanoseconds since the Unix epoch (CLOCK_REALTIME) and a monotonic clock. */
uint64_t clock_now_ns(void);
uint64_t clock_mono_ns(void);
/* clock_now_ns for a hot path (otelp.h span starts and ends): on x86-64
 * with an invariant TSC, the calling thread's last clock_now_ns moved on by
 * the TSC ticks since, at the rate measured over at least 10 ms (a TSC read
 * costs half a vDSO clock read). A thread reads the real clock again at
 * least once a millisecond, and whenever the rate is not known yet, so
 * the two clocks differ by the rate's error over that millisecond (tens of
 * ns), never by a clock step. Not monotonic across those reads: a caller
 * that needs end >= start clamps. Elsewhere, and where the TSC does not
 * count at a constant rate or is not readable (PR_SET_TSC), it is
 * clock_now_ns. */
uint64_t clock_fast_ns(void);

static inline bool id_is_zero(const uint8_t *id, int len) {
    for (int i = 0; i < len; i++)
        if (id[i]) return false;
    return true;
}

#endif
