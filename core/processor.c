/* processor: batch processors and the worker. See processor.h.
 *
 * Synchronisation: queues are lock-free; the worker sleeps on a futex word
 * (wake_seq) that producers bump when a batch is due and flush requests bump
 * always. A flush request is a ticket (flush_req); the worker publishes the
 * last ticket it served in flush_done and wakes waiters on that word. No
 * mutex exists, so a fork can never inherit one held. */
#include "core/cold.h"
#include "core/processor.h"

#include <errno.h>
#include <sched.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "core/diag.h"
#include "core/guard.h"
#include "core/ids.h"
#include "core/pool.h"
#include "core/queue.h"

#define MAX_BATCHERS 4
#define EARLY 8

struct batcher {
    const char *name;
    struct batch_config cfg;
    struct batch_sink sink;
    _Atomic(struct queue *) q;
    /* Before the worker starts, the first records wait here instead: a
     * process that ends a span or two and exports them at exit (most
     * programs a shell or a build runs) never maps the queue (a system
     * call and two fresh pages). */
    _Atomic(void *) early[EARLY];
    _Atomic uint32_t early_n; /* taken up: they count against the queue's size */
    _Atomic uint64_t last_export_mono;
    _Atomic uint64_t exported, dropped_queue_full, dropped_export_failed, dropped_shutdown,
        dropped_rejected, spooled, handed_off;
    /* Records taken from the queue by an export that has not returned,
     * counted one by one as they are taken: whoever takes this count (the
     * export when it returns, or the final flush giving up on it) accounts
     * for them, never both. */
    _Atomic uint64_t in_flight;
    void **items; /* max_export_batch_size slots: one batch, one export */
};

int (*processor_thread_create)(pthread_t *, const pthread_attr_t *, void *(*)(void *),
                               void *) = pthread_create;
uint64_t (*processor_clock)(void) = clock_mono_ns;
bool processor_autostart = true;

static struct batcher *batchers[MAX_BATCHERS];
static _Atomic int nbatchers;

/* Worker state. */
static _Atomic int worker_state; /* 0 none, 1 starting/running, 2 failed */
static _Atomic int exiting;
static _Atomic uint32_t wake_seq;
static _Atomic uint32_t worker_sleeping;
/* A producer has posted a wake since the worker's last scan began: the
 * others need not (a wake is a system call; while the worker exports a
 * full batch, every push would otherwise make one). */
static _Atomic uint32_t wake_posted;
static _Atomic uint32_t flush_req, flush_done;
static _Atomic int in_signal_flush;
static _Atomic uint64_t shutdown_deadline = UINT64_MAX;
static _Thread_local bool on_worker __attribute__((tls_model("initial-exec")));

bool processor_on_worker(void) {
    return on_worker;
}

uint64_t processor_deadline(void) {
    return atomic_load_explicit(&shutdown_deadline, memory_order_relaxed);
}

static long futex(_Atomic uint32_t *word, int op, uint32_t val, const struct timespec *ts) {
    return syscall(SYS_futex, (uint32_t *)word, op, val, ts, NULL, 0);
}

static void futex_wait_until(_Atomic uint32_t *word, uint32_t seen, uint64_t deadline_mono) {
    uint64_t now = clock_mono_ns();
    if (deadline_mono != UINT64_MAX && now >= deadline_mono) return;
    struct timespec ts, *tsp = NULL;
    if (deadline_mono != UINT64_MAX) {
        uint64_t left = deadline_mono - now;
        ts.tv_sec = (time_t)(left / 1000000000u);
        ts.tv_nsec = (long)(left % 1000000000u);
        tsp = &ts;
    }
    futex(word, FUTEX_WAIT_PRIVATE, seen, tsp);
}

static void wake(_Atomic uint32_t *word) {
    atomic_fetch_add(word, 1);
    futex(word, FUTEX_WAKE_PRIVATE, 1 << 30, NULL);
}

struct batcher *batcher_new(const char *name, const struct batch_config *cfg,
                            const struct batch_sink *sink) {
    int i = atomic_load(&nbatchers);
    if (i >= MAX_BATCHERS) return NULL;
    struct batcher *b = pool_alloc(sizeof *b);
    if (!b) return NULL;
    b->items = pool_alloc(cfg->max_export_batch_size * sizeof *b->items); /* untouched until used */
    if (!b->items) {
        pool_free(b);
        return NULL;
    }
    b->name = name;
    b->cfg = *cfg;
    b->sink = *sink;
    atomic_store(&b->last_export_mono, processor_clock());
    batchers[i] = b;
    atomic_store(&nbatchers, i + 1);
    return b;
}

static struct queue *get_queue(struct batcher *b) {
    struct queue *q = atomic_load_explicit(&b->q, memory_order_acquire);
    if (q) return q;
    struct queue *fresh = queue_new(b->cfg.max_queue_size);
    if (!fresh) return NULL;
    if (!atomic_compare_exchange_strong(&b->q, &q, fresh)) {
        queue_free(fresh);
        return q;
    }
    return fresh;
}

/* How many records wait (a moment early, for one being put in a slot). */
static size_t waiting(struct batcher *b) {
    struct queue *q = atomic_load_explicit(&b->q, memory_order_acquire);
    return (q ? queue_size(q) : 0) + atomic_load_explicit(&b->early_n, memory_order_relaxed);
}

/* The next record waiting, early ones first, or NULL. */
static void *take(struct batcher *b) {
    /* Early slots only while some are taken up (not once the queue is in
     * use): an empty scan was a fifth of what taking a record cost. */
    for (int i = 0; i < EARLY && atomic_load_explicit(&b->early_n, memory_order_relaxed); i++)
        if (atomic_load_explicit(&b->early[i], memory_order_relaxed)) {
            void *r = atomic_exchange(&b->early[i], NULL);
            if (r) {
                atomic_fetch_sub(&b->early_n, 1);
                return r;
            }
        }
    struct queue *q = atomic_load_explicit(&b->q, memory_order_acquire);
    return q ? queue_pop(q) : NULL;
}

static bool put_early(struct batcher *b, void *record) {
    if (atomic_fetch_add(&b->early_n, 1) >= b->cfg.max_queue_size) {
        atomic_fetch_sub(&b->early_n, 1);
        return false;
    }
    for (int i = 0; i < EARLY; i++) {
        void *expected = NULL;
        if (atomic_compare_exchange_strong(&b->early[i], &expected, record)) return true;
    }
    atomic_fetch_sub(&b->early_n, 1);
    return false;
}

/* Into the queue, which holds max_queue_size records with the early ones. */
static bool put_queued(struct batcher *b, void *record) {
    struct queue *q = get_queue(b);
    uint32_t early = atomic_load_explicit(&b->early_n, memory_order_relaxed);
    if (!q || (early && queue_size(q) + early >= b->cfg.max_queue_size)) return false;
    return queue_push(q, record);
}

void batcher_stats(const struct batcher *b, struct batch_stats *out) {
    struct batcher *m = (struct batcher *)b;
    out->exported = atomic_load(&m->exported);
    out->dropped_queue_full = atomic_load(&m->dropped_queue_full);
    out->dropped_export_failed = atomic_load(&m->dropped_export_failed);
    out->dropped_shutdown = atomic_load(&m->dropped_shutdown);
    out->dropped_rejected = atomic_load(&m->dropped_rejected);
    out->spooled = atomic_load(&m->spooled);
    out->handed_off = atomic_load(&m->handed_off);
}

size_t batcher_queued(const struct batcher *b) {
    return waiting((struct batcher *)b);
}

uint64_t batcher_in_flight(const struct batcher *b) {
    return atomic_load(&((struct batcher *)b)->in_flight);
}

uint32_t batcher_capacity(const struct batcher *b) {
    return b->cfg.max_queue_size;
}

bool batcher_due(const struct batcher *b, uint64_t now) {
    size_t n = waiting((struct batcher *)b);
    if (!n) return false;
    if (n >= b->cfg.max_export_batch_size) return true;
    uint64_t last = atomic_load(&((struct batcher *)b)->last_export_mono);
    return now - last >= (uint64_t)b->cfg.schedule_delay_ms * 1000000u;
}

static void *worker_main(void *arg);

static uint64_t (*periodic_next)(void);
static void (*periodic_run)(void);

void processor_set_periodic(uint64_t (*next)(void), void (*run)(void)) {
    periodic_run = run;
    periodic_next = next;
}

int processor_spawn_thread(void *(*fn)(void *), size_t stack_size) {
    return processor_spawn_thread_with(fn, NULL, stack_size);
}

int processor_spawn_thread_with(void *(*fn)(void *), void *arg, size_t stack_size) {
    sigset_t all, old;
    sigfillset(&all);
    /* sigprocmask is per thread on Linux (and in glibc before 2.32, libc has
     * no pthread_sigmask: preload/abi_floor.h). */
    sigprocmask(SIG_SETMASK, &all, &old); /* the new thread inherits the mask */
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_attr_setstacksize) pthread_attr_setstacksize(&attr, stack_size);
    pthread_t t;
    /* Inside the guard: our pthread_create hook (which the call may reach,
     * started from a program's thread) must not make a span of our own
     * thread. */
    guard_enter();
    int rc = processor_thread_create(&t, &attr, fn, arg);
    guard_leave();
    pthread_attr_destroy(&attr);
    sigprocmask(SIG_SETMASK, &old, NULL);
    return rc;
}

static void worker_start(void) {
    int expected = 0;
    if (!atomic_compare_exchange_strong(&worker_state, &expected, 1)) return;
    int rc = processor_spawn_thread(worker_main, 256 * 1024);
    if (rc) {
        atomic_store(&worker_state, 2); /* exports happen at exit instead */
        diag_warn("cannot start the export thread (%s); exporting at exit only", strerror(rc));
    }
}

void processor_start_worker(void) {
    if (processor_autostart && !atomic_load(&exiting) && atomic_load(&worker_state) == 0)
        worker_start();
}

bool processor_worker_running(void) {
    return atomic_load(&worker_state) == 1;
}

void processor_begin_exit(void) {
    atomic_store(&exiting, 1);
}

bool processor_exiting(void) {
    return atomic_load(&exiting) != 0;
}

bool batcher_on_end(struct batcher *b, void *record) {
    int state = atomic_load_explicit(&worker_state, memory_order_relaxed);
    bool early = state != 1 && !atomic_load_explicit(&b->q, memory_order_relaxed);
    if (!(early && put_early(b, record)) && !put_queued(b, record)) {
        atomic_fetch_add_explicit(&b->dropped_queue_full, 1, memory_order_relaxed);
        b->sink.free_record(record);
        return false;
    }
    if (!processor_autostart || atomic_load_explicit(&exiting, memory_order_relaxed)) return true;
    if (state == 1) {
        /* The queue's size reads the head the worker writes: only when the
         * worker may need waking. */
        if (atomic_load(&worker_sleeping) &&
            !atomic_load_explicit(&wake_posted, memory_order_relaxed)) {
            size_t n = waiting(b);
            if ((n >= b->cfg.max_export_batch_size || n == 1) && !atomic_exchange(&wake_posted, 1))
                wake(&wake_seq);
        }
    } else if (state == 0 && batcher_due(b, processor_clock())) {
        worker_start();
    }
    return true;
}

bool batcher_full(struct batcher *b) {
    return waiting(b) >= b->cfg.max_queue_size;
}

void batcher_count_dropped(struct batcher *b, uint64_t n) {
    atomic_fetch_add_explicit(&b->dropped_queue_full, n, memory_order_relaxed);
}

/* Exports one batch. Only one thread at a time exports a given batcher:
 * the worker while it runs, else the thread flushing at exit. */
size_t batcher_export_batch(struct batcher *b, uint64_t now, uint64_t deadline) {
    atomic_store(&b->last_export_mono, now);
    size_t n = 0;
    /* Once the shutdown budget has run out, the final flush counts what is
     * left: take nothing more (it would be counted after the report). */
    bool ending = atomic_load_explicit(&exiting, memory_order_acquire);
    while (n < b->cfg.max_export_batch_size) {
        if (ending && clock_mono_ns() >= atomic_load(&shutdown_deadline)) break;
        void *r = take(b);
        if (!r) break;
        b->items[n++] = r;
        atomic_fetch_add(&b->in_flight, 1);
    }
    if (!n) return 0;
    int rc = b->sink.export(b->sink.ctx, b->items, n, deadline);
    uint64_t mine = atomic_exchange(&b->in_flight, 0);
    if (mine) {
        if (rc == BATCH_SPOOLED) {
            atomic_fetch_add(&b->spooled, mine);
        } else if (rc == BATCH_HANDED_OFF) {
            atomic_fetch_add(&b->handed_off, mine);
        } else if (rc < 0) {
            atomic_fetch_add(&b->dropped_export_failed, mine);
        } else { /* rc: how many the collector rejected (partial_success) */
            uint64_t rejected = (uint64_t)rc < mine ? (uint64_t)rc : mine;
            atomic_fetch_add(&b->exported, mine - rejected);
            if (rejected) atomic_fetch_add(&b->dropped_rejected, rejected);
        }
    }
    if (!atomic_load(&in_signal_flush))
        for (size_t i = 0; i < n; i++)
            b->sink.free_record(b->items[i]);
    return n;
}

static uint64_t export_deadline(const struct batcher *b, uint64_t now, uint64_t limit) {
    uint64_t d = now + (uint64_t)b->cfg.export_timeout_ms * 1000000u;
    return d < limit ? d : limit;
}

/* Exports everything queued (each batch within its export timeout and the
 * overall deadline). Returns true when all queues were emptied. */
static bool drain_all(uint64_t deadline) {
    int n = atomic_load(&nbatchers);
    bool empty = true;
    for (int i = 0; i < n; i++) {
        struct batcher *b = batchers[i];
        while (waiting(b)) {
            uint64_t now = clock_mono_ns();
            if (now >= deadline) break;
            if (!batcher_export_batch(b, processor_clock(), export_deadline(b, now, deadline)))
                break;
        }
        if (waiting(b)) empty = false;
    }
    return empty;
}

static void *worker_main(void *arg) {
    (void)arg;
    guard_enter(); /* for good: nothing this thread does is traced */
    on_worker = true;
    prctl(PR_SET_NAME, "otel-preload", 0, 0, 0);
    /* SCHED_BATCH: the same share of the CPU, but a wake-up never
     * preempts a program's thread: woken by a program thread that ended
     * a batch's worth of spans, the export waits for that thread's time
     * slice (or another core) instead of taking its core at once (the
     * program's span start+end rounds in bench_api: ~10 ns a span less in
     * wall time at load 9, alternated). The system call (musl's wrapper
     * does nothing) sets the calling thread's policy; a refusal changes
     * nothing. */
    struct sched_param param = {0};
    (void)syscall(SYS_sched_setscheduler, 0, SCHED_BATCH, &param);
    for (;;) {
        atomic_store(&worker_sleeping, 1); /* before the scan: a later push wakes us */
        uint32_t seen = atomic_load(&wake_seq);
        /* After seen: a wake posted from now on changes wake_seq past it, and
         * a push that saw a wake posted before this is visible to the scan. */
        atomic_store(&wake_posted, 0);
        uint32_t req = atomic_load(&flush_req);
        if (req != atomic_load(&flush_done)) {
            drain_all(UINT64_MAX);
            atomic_store(&flush_done, req);
            futex(&flush_done, FUTEX_WAKE_PRIVATE, 1 << 30, NULL);
            continue;
        }
        uint64_t now = processor_clock();
        uint64_t next = UINT64_MAX;
        int n = atomic_load(&nbatchers);
        bool worked = false;
        for (int i = 0; i < n; i++) {
            struct batcher *b = batchers[i];
            if (batcher_due(b, now)) {
                batcher_export_batch(b, now, export_deadline(b, clock_mono_ns(), UINT64_MAX));
                worked = true;
            }
            if (waiting(b)) {
                uint64_t at = atomic_load(&b->last_export_mono) +
                              (uint64_t)b->cfg.schedule_delay_ms * 1000000u;
                if (at < next) next = at;
            }
        }
        uint64_t periodic = UINT64_MAX;
        if (periodic_next && !atomic_load(&exiting)) {
            periodic = periodic_next();
            if (periodic <= clock_mono_ns()) {
                periodic_run();
                worked = true;
            }
        }
        if (worked) continue;
        /* processor_clock may be a fake clock; sleep on the real one. */
        uint64_t deadline = next == UINT64_MAX ? UINT64_MAX : clock_mono_ns() + (next - now);
        if (periodic < deadline) deadline = periodic;
        if (atomic_load(&wake_seq) == seen && atomic_load(&flush_req) == atomic_load(&flush_done))
            futex_wait_until(&wake_seq, seen, deadline);
        atomic_store(&worker_sleeping, 0);
    }
    return NULL;
}

/* Asks the worker for a flush and waits until the deadline. */
static bool worker_flush(uint64_t deadline) {
    uint32_t ticket = atomic_fetch_add(&flush_req, 1) + 1;
    wake(&wake_seq);
    for (;;) {
        uint32_t done = atomic_load(&flush_done);
        if ((int32_t)(done - ticket) >= 0) return true;
        if (clock_mono_ns() >= deadline) return false;
        futex_wait_until(&flush_done, done, deadline);
    }
}

OTELP_FIRST int processor_force_flush(uint32_t timeout_ms) {
    uint64_t deadline = clock_mono_ns() + (uint64_t)timeout_ms * 1000000u;
    if (processor_worker_running()) return worker_flush(deadline) ? 0 : -ETIMEDOUT;
    return drain_all(deadline) ? 0 : -ETIMEDOUT;
}

OTELP_FIRST void processor_shutdown(uint32_t timeout_ms, bool in_signal) {
    atomic_store(&exiting, 1);
    if (in_signal) atomic_store(&in_signal_flush, 1);
    atomic_store(&shutdown_deadline, clock_mono_ns() + (uint64_t)timeout_ms * 1000000u);
    processor_force_flush(timeout_ms);
    /* Whatever is left is lost: a batch the worker is still exporting, and
     * what is queued (taken out, so that it is not exported after being
     * counted). */
    int n = atomic_load(&nbatchers);
    for (int i = 0; i < n; i++) {
        struct batcher *b = batchers[i];
        uint64_t lost = atomic_exchange(&b->in_flight, 0);
        void *r;
        while ((r = take(b))) {
            lost++;
            if (!in_signal) b->sink.free_record(r);
        }
        /* A pop the worker made just before it saw the deadline. */
        lost += atomic_exchange(&b->in_flight, 0);
        atomic_fetch_add(&b->dropped_shutdown, lost);
    }
}

void processor_after_fork_child(void) {
    atomic_store(&worker_state, 0);
    atomic_store(&exiting, 0);
    atomic_store(&shutdown_deadline, UINT64_MAX);
    atomic_store(&worker_sleeping, 0);
    atomic_store(&wake_posted, 0);
    atomic_store(&flush_req, 0);
    atomic_store(&flush_done, 0);
    int n = atomic_load(&nbatchers);
    uint64_t now = processor_clock();
    for (int i = 0; i < n; i++) {
        struct batcher *b = batchers[i];
        void *r;
        while ((r = take(b)))
            b->sink.free_record(r); /* the parent exports these, not us */
        atomic_store(&b->last_export_mono, now);
        atomic_store(&b->exported, 0);
        atomic_store(&b->dropped_queue_full, 0);
        atomic_store(&b->dropped_export_failed, 0);
        atomic_store(&b->dropped_shutdown, 0);
        atomic_store(&b->in_flight, 0);
        atomic_store(&b->dropped_rejected, 0);
        atomic_store(&b->spooled, 0);
        atomic_store(&b->handed_off, 0);
    }
}
