/* ids: per-thread xoshiro256** ids and clocks. See ids.h. */
#include "core/cold.h"
#include "core/ids.h"
#include "core/vg.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static atomic_uint fork_generation = 1;

struct rng {
    uint64_t s[4];
    unsigned generation;
};
static _Thread_local struct rng tls_rng __attribute__((tls_model("initial-exec")));

static inline uint64_t rotl(uint64_t x, int k) {
    return (x << k) | (x >> (64 - k));
}

static uint64_t splitmix(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* One random key per process (and fork generation), from getrandom(2);
 * a thread's generator is seeded from it and a counter, so that a new
 * thread costs no system call (a thread-creating program paid one
 * getrandom per thread: a third of the shim's system calls per thread).
 * Threads started through our pthread_create hook are seeded by their
 * creator instead (ids_seed_thread), without the shared counter. */
static _Atomic uint64_t process_key;
static atomic_uint key_generation;
static _Atomic uint64_t seeds_taken;

static uint64_t key_for(unsigned generation) {
    if (atomic_load_explicit(&key_generation, memory_order_acquire) == generation)
        return atomic_load_explicit(&process_key, memory_order_relaxed);
    uint64_t key;
    /* The system call, not glibc's getrandom (2.25): the shim loads on 2.17. */
    if (syscall(SYS_getrandom, &key, sizeof key, GRND_NONBLOCK) != (long)sizeof key) {
        /* No entropy yet (early boot): what differs between processes. */
        uint64_t x = clock_mono_ns() ^ ((uint64_t)getpid() << 32) ^ clock_now_ns();
        key = splitmix(&x);
    }
    /* Two threads racing here both seed from a random key: either is fine. */
    atomic_store_explicit(&process_key, key, memory_order_relaxed);
    atomic_store_explicit(&key_generation, generation, memory_order_release);
    return key;
}

static void rng_seed_from(struct rng *r, uint64_t x, unsigned generation) {
    uint64_t seed[4];
    for (int i = 0; i < 4; i++)
        seed[i] = splitmix(&x);
    memcpy(r->s, seed, sizeof seed);
    if (!(r->s[0] | r->s[1] | r->s[2] | r->s[3])) r->s[0] = 1;
    r->generation = generation;
}

/* ids_seed_thread's mark: the seed waits in s[0] until the first id (no
 * real generation: they count up from 1). */
static unsigned seed_waiting(unsigned generation) {
    return ~generation;
}

__attribute__((noinline)) static void rng_seed(struct rng *r, unsigned generation) {
    if (r->generation == seed_waiting(generation)) {
        rng_seed_from(r, r->s[0], generation);
        return;
    }
    uint64_t n = atomic_fetch_add_explicit(&seeds_taken, 1, memory_order_relaxed);
    rng_seed_from(r, key_for(generation) ^ n * 0xd1b54a32d192ed03ULL, generation);
}

uint64_t ids_thread_seed(void) {
    return ids_random_u64();
}

void ids_seed_thread(uint64_t seed) {
    /* Seeded at the first id: most threads make none. */
    tls_rng.s[0] = seed;
    tls_rng.generation = seed_waiting(atomic_load_explicit(&fork_generation, memory_order_relaxed));
}

/* The thread's next number (seeded first in a new thread or fork child). */
static inline uint64_t next_random(void) {
    struct rng *r = &tls_rng;
    unsigned generation = atomic_load_explicit(&fork_generation, memory_order_relaxed);
    if (r->generation != generation) rng_seed(r, generation);
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

OTELP_FIRST uint64_t ids_random_u64(void) {
    return next_random();
}

static void tsc_after_fork(void);

void ids_after_fork(void) {
    atomic_fetch_add_explicit(&fork_generation, 1, memory_order_relaxed);
    tsc_after_fork();
}

void ids_new_trace_id(uint8_t out[16]) {
    uint64_t a, b;
    do {
        a = ids_random_u64();
        b = ids_random_u64();
    } while (!(a | b));
    memcpy(out, &a, 8);
    memcpy(out + 8, &b, 8);
}

OTELP_FIRST void ids_new_span_id(uint8_t out[8]) {
    uint64_t a;
    do
        a = next_random();
    while (!a);
    memcpy(out, &a, 8);
}

void ids_uuid4(char out[37]) {
    uint8_t b[16];
    uint64_t a = ids_random_u64(), c = ids_random_u64();
    memcpy(b, &a, 8);
    memcpy(b + 8, &c, 8);
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
    static const char hex[] = "0123456789abcdef";
    char *p = out;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) *p++ = '-';
        *p++ = hex[b[i] >> 4];
        *p++ = hex[b[i] & 15];
    }
    *p = '\0';
}

/* A process's first clock reads go to the kernel: the vDSO's code and data
 * pages are mapped in only when first used, and those two page faults cost
 * a short-lived process more than a few system calls (on this project's
 * 2-core VMs a fault is ~15 us and a system call ~1.4 us; a /bin/true makes
 * 7 reads). After CLOCK_SYSCALLS reads the vDSO serves.
 * The count is approximate under races, which is all it needs to be (and
 * helgrind and drd are told so at the first read, before any thread of ours
 * runs). */
#define CLOCK_SYSCALLS 32
static atomic_uint clock_reads;

/* Both ways failed (a seccomp filter that denies the clock, say): a value
 * that moves on, so that every wait on it still ends. */
static _Atomic uint64_t clock_broken_ns;

static uint64_t clock_failed(void) {
    return atomic_fetch_add_explicit(&clock_broken_ns, 1000000u, memory_order_relaxed) + 1000000u;
}

OTELP_FIRST static uint64_t clock_read(clockid_t id) {
    struct timespec ts;
    unsigned n = atomic_load_explicit(&clock_reads, memory_order_relaxed);
    if (__builtin_expect(n < CLOCK_SYSCALLS, 0)) {
        if (!n) VG_BENIGN_RACE(&clock_reads, sizeof clock_reads);
        atomic_store_explicit(&clock_reads, n + 1, memory_order_relaxed);
        int saved_errno = errno;
        if (syscall(SYS_clock_gettime, id, &ts) != 0) { /* a seccomp filter, say */
            atomic_store_explicit(&clock_reads, CLOCK_SYSCALLS, memory_order_relaxed);
            int rc = clock_gettime(id, &ts);
            errno = saved_errno;
            if (rc != 0) return clock_failed();
        }
    } else if (__builtin_expect(clock_gettime(id, &ts) != 0, 0)) {
        /* Never a time from an unset timespec (it made a sent export look
         * timed out, and sent it twice). */
        int saved_errno = errno;
        long rc = syscall(SYS_clock_gettime, id, &ts);
        errno = saved_errno;
        if (rc != 0) return clock_failed();
    }
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

OTELP_FIRST uint64_t clock_now_ns(void) {
    return clock_read(CLOCK_REALTIME);
}

OTELP_FIRST uint64_t clock_mono_ns(void) {
    return clock_read(CLOCK_MONOTONIC);
}

#if defined(__x86_64__)
#include <cpuid.h>
#include <sys/prctl.h>
#include <x86intrin.h>

#define TSC_WINDOW_NS 1000000u  /* a thread reads the real clock once a millisecond */
#define RATE_MIN_NS 10000000u   /* the rate is measured over at least 10 ms */
#define RATE_MAX_NS 1000000000u /* and measured anew from the last second's start */
#define PAIR_TICKS 16384u       /* a clock read between two TSC reads further apart: preempted */

enum { TSC_UNKNOWN, TSC_USABLE, TSC_UNUSABLE };
static _Atomic int tsc_state;
/* Nanoseconds per tick << 32, 0 while unknown, and how many ticks make
 * TSC_WINDOW_NS at that rate (so that ticks * tsc_mult fits 64 bits). */
static _Atomic uint64_t tsc_mult, tsc_window;
/* Where the rate is measured from, under rate_lock (a try-lock: a thread
 * that finds it taken leaves the measurement to the holder). */
static _Atomic bool rate_lock;
static uint64_t rate_tsc, rate_ns;

/* The thread's last real read and the TSC then. */
struct tsc_anchor {
    uint64_t tsc, ns;
};
static _Thread_local struct tsc_anchor tsc_anchor __attribute__((tls_model("initial-exec")));

/* An invariant TSC (CPUID 0x80000007 EDX bit 8: constant rate, counts in
 * every C-state, what Linux calls nonstop_tsc) that this process may read
 * (rdtsc faults after prctl(PR_SET_TSC, PR_TSC_SIGSEGV)). */
static int tsc_probe(void) {
    unsigned a = 0, b = 0, c = 0, d = 0;
    int state = TSC_UNUSABLE, mode = 0;
    if (__get_cpuid(0x80000000u, &a, &b, &c, &d) && a >= 0x80000007u &&
        __get_cpuid(0x80000007u, &a, &b, &c, &d) && (d & (1u << 8))) {
        int saved_errno = errno;
        if (prctl(PR_GET_TSC, &mode, 0, 0, 0) == 0 && mode == PR_TSC_ENABLE) state = TSC_USABLE;
        errno = saved_errno;
    }
    int expected = TSC_UNKNOWN;
    if (!atomic_compare_exchange_strong(&tsc_state, &expected, state)) state = expected;
    return state;
}

/* The rate from the measurement's start to (tsc, ns), ns monotonic. A
 * rate more than 0.1% off the last one (the TSC's rate changed: a virtual
 * machine moved to another host) is not taken: the fast path waits until
 * a new measurement has its 10 ms. */
static void tsc_measure(uint64_t tsc, uint64_t ns) {
    if (atomic_exchange(&rate_lock, true)) return;
    if (!rate_ns || ns <= rate_ns || tsc <= rate_tsc) {
        rate_tsc = tsc;
        rate_ns = ns;
    } else if (ns - rate_ns >= RATE_MIN_NS) {
        uint64_t m = (uint64_t)(((unsigned __int128)(ns - rate_ns) << 32) / (tsc - rate_tsc));
        uint64_t old = atomic_load_explicit(&tsc_mult, memory_order_relaxed);
        /* A TSC between 100 MHz and 20 GHz, and no more than 0.1% off. */
        bool sane = m >= (1ull << 32) / 20 && m <= (10ull << 32);
        if (!sane || (old && (m > old + old / 1000 || m < old - old / 1000))) {
            atomic_store_explicit(&tsc_mult, 0, memory_order_relaxed);
            rate_tsc = tsc;
            rate_ns = ns;
        } else {
            atomic_store_explicit(&tsc_window, ((uint64_t)TSC_WINDOW_NS << 32) / m,
                                  memory_order_relaxed);
            atomic_store_explicit(&tsc_mult, m, memory_order_relaxed);
            if (ns - rate_ns >= RATE_MAX_NS) {
                rate_tsc = tsc;
                rate_ns = ns;
            }
        }
    }
    atomic_store(&rate_lock, false);
}

/* A real read, which becomes the thread's anchor; and a monotonic read
 * for the rate (CLOCK_MONOTONIC is never set: a measurement that spans a
 * step of the wall clock is still right). Out of line: inlined, its
 * registers made every fast read save and restore five of them. */
__attribute__((noinline)) static uint64_t tsc_anchor_read(void) {
    int state = atomic_load_explicit(&tsc_state, memory_order_relaxed);
    if (state == TSC_UNKNOWN) state = tsc_probe();
    if (state != TSC_USABLE) return clock_now_ns();
    uint64_t t0 = __rdtsc();
    uint64_t ns = clock_now_ns();
    uint64_t t1 = __rdtsc();
    uint64_t mono = clock_mono_ns();
    uint64_t t2 = __rdtsc();
    /* Preempted between the reads, or a clock failed (clock_failed's
     * values): not an anchor. */
    uint64_t broken = atomic_load_explicit(&clock_broken_ns, memory_order_relaxed);
    if (t1 - t0 > PAIR_TICKS || t2 - t1 > PAIR_TICKS || ns <= broken || mono <= broken) return ns;
    tsc_anchor = (struct tsc_anchor){t0 + (t1 - t0) / 2, ns};
    tsc_measure(t1 + (t2 - t1) / 2, mono);
    return ns;
}

/* A thread of the parent may have held the lock at the fork. */
static void tsc_after_fork(void) {
    atomic_store(&rate_lock, false);
}

uint64_t clock_fast_ns(void) {
    uint64_t mult = atomic_load_explicit(&tsc_mult, memory_order_relaxed);
    if (__builtin_expect(mult != 0, 1)) {
        uint64_t ticks = __rdtsc() - tsc_anchor.tsc;
        if (ticks < atomic_load_explicit(&tsc_window, memory_order_relaxed))
            return tsc_anchor.ns + ((ticks * mult) >> 32);
    }
    return tsc_anchor_read();
}
#else
static void tsc_after_fork(void) {}

uint64_t clock_fast_ns(void) {
    return clock_now_ns();
}
#endif
