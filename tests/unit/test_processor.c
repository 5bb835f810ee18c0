/* test_processor: the batch processor with a fake clock and a fake sink.
 * Without arguments (unit.processor): the scheduling rule at its edges,
 * batches of at most max_export_batch_size, queue-full and export-failure
 * accounting (every record freed once), synchronous force_flush, a worker
 * that cannot start, after_fork, shutdown with leftovers, and the batcher
 * table limit. With "worker" (unit.processor_worker): a real worker thread
 * started by a full batch, force_flush through it, wake-ups, the schedule
 * delay, and shutdown. Batchers live in a global table of four, so each group
 * runs in its own process. Depends on core/processor.h and test.h. */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <time.h>

#include "core/diag.h"
#include "core/guard.h"
#include "core/ids.h"
#include "core/processor.h"
#include "tests/unit/test.h"

#define MS 1000000ull

static uint64_t fake_now = 1000 * MS;
static uint64_t fake_clock(void) {
    return fake_now;
}

/* Counts everything; records are malloc'd ints, freed by free_record. */
struct fake_sink {
    _Atomic int exports, fail, frees;
    _Atomic int reject;  /* what export returns: records the collector rejected */
    _Atomic int slow_ms; /* export takes this long */
    _Atomic size_t records, max_n;
    _Atomic int wrong_thread_state; /* worker: signals not blocked or guard off */
    _Atomic int last_value;
};

static _Atomic int total_frees;

static int sink_export(void *ctx, void *const *records, size_t n, uint64_t deadline) {
    struct fake_sink *s = ctx;
    (void)deadline;
    s->exports++;
    s->records += n;
    if (n > s->max_n) s->max_n = n;
    for (size_t i = 0; i < n; i++)
        s->last_value = *(int *)records[i];
    if (s->slow_ms) {
        struct timespec ts = {s->slow_ms / 1000, (s->slow_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    return s->fail ? -EIO : s->reject;
}

static void sink_free(void *record) {
    struct fake_sink *s = *(struct fake_sink **)((int *)record + 2);
    s->frees++;
    total_frees++;
    free(record);
}

/* A record: an int value, and (at an aligned offset) its sink. */
static void *record(struct fake_sink *s, int value) {
    int *r = malloc(2 * sizeof(int) + sizeof(void *));
    if (!r) abort();
    r[0] = value;
    memcpy(r + 2, &s, sizeof s);
    return r;
}

static struct batcher *new_batcher(const char *name, struct fake_sink *s, uint32_t queue,
                                   uint32_t delay_ms, uint32_t batch) {
    struct batch_config cfg = {queue, delay_ms, batch, 1000};
    struct batch_sink sink = {sink_export, sink_free, s};
    return batcher_new(name, &cfg, &sink);
}

static struct batch_stats stats(struct batcher *b) {
    struct batch_stats st;
    batcher_stats(b, &st);
    return st;
}

/* ---- synchronous group: fake clock, no worker ---- */

static struct fake_sink sink_a, sink_b;
static struct batcher *a, *b;

static void test_due_edges(void) {
    uint64_t t0 = fake_now;
    /* Empty: never due, however long ago the last export was. */
    CHECK(!batcher_due(a, t0));
    CHECK(!batcher_due(a, t0 + 3600000 * MS));
    CHECK(batcher_on_end(a, record(&sink_a, 1)));
    CHECK(!batcher_due(a, t0));
    CHECK(!batcher_due(a, t0 + 999 * MS));
    CHECK(batcher_due(a, t0 + 1000 * MS)); /* delay elapsed, exactly */
    CHECK(batcher_due(a, t0 + 5000 * MS));
    CHECK(batcher_on_end(a, record(&sink_a, 2)));
    CHECK(!batcher_due(a, t0));
    CHECK(batcher_on_end(a, record(&sink_a, 3)));
    CHECK(batcher_due(a, t0)); /* a full batch (3) is due at once */
    CHECK_EQ_INT(batcher_export_batch(a, t0 + 10 * MS, UINT64_MAX), 3);
    CHECK_EQ_INT(sink_a.exports, 1);
    CHECK_EQ_INT(sink_a.records, 3);
    CHECK_EQ_INT(sink_a.last_value, 3); /* in order */
    CHECK_EQ_INT(sink_a.frees, 3);
    /* The export restarted the delay. */
    CHECK(batcher_on_end(a, record(&sink_a, 4)));
    CHECK(!batcher_due(a, t0 + 1009 * MS));
    CHECK(batcher_due(a, t0 + 1010 * MS));
    CHECK_EQ_INT(batcher_export_batch(a, t0 + 1010 * MS, UINT64_MAX), 1);
    CHECK(!batcher_due(a, t0 + 100000 * MS));
    CHECK_EQ_INT(batcher_export_batch(a, t0 + 1010 * MS, UINT64_MAX), 0);
    CHECK_EQ_INT(sink_a.exports, 2); /* an empty queue exports nothing */
    struct batch_stats st = stats(a);
    CHECK_EQ_U64(st.exported, 4);
    CHECK_EQ_U64(st.dropped_queue_full + st.dropped_export_failed + st.dropped_shutdown, 0);
    fake_now = t0 + 1010 * MS;
}

static void test_batch_size_and_queue_full(void) {
    int frees = sink_a.frees;
    for (int i = 0; i < 8; i++)
        CHECK(batcher_on_end(a, record(&sink_a, 100 + i)));
    /* The queue holds 8: the next two are dropped, counted and freed. */
    CHECK(!batcher_on_end(a, record(&sink_a, 200)));
    CHECK(!batcher_on_end(a, record(&sink_a, 201)));
    CHECK_EQ_U64(stats(a).dropped_queue_full, 2);
    CHECK_EQ_INT(sink_a.frees, frees + 2);
    sink_a.max_n = 0;
    CHECK_EQ_INT(batcher_export_batch(a, fake_now, UINT64_MAX), 3);
    CHECK_EQ_INT(batcher_export_batch(a, fake_now, UINT64_MAX), 3);
    CHECK_EQ_INT(batcher_export_batch(a, fake_now, UINT64_MAX), 2);
    CHECK_EQ_INT(batcher_export_batch(a, fake_now, UINT64_MAX), 0);
    CHECK(sink_a.max_n <= 3);
    CHECK_EQ_INT(sink_a.last_value, 107);
    CHECK_EQ_U64(stats(a).exported, 12);
    CHECK_EQ_INT(sink_a.frees, frees + 10);
}

/* A batch larger than the internal chunk still takes exactly the batch size
 * per call, and the sink never gets more than the batch size at once. */
static void test_large_batch(void) {
    for (int i = 0; i < 700; i++)
        CHECK(batcher_on_end(b, record(&sink_b, i)));
    CHECK(batcher_due(b, fake_now));
    CHECK_EQ_INT(batcher_export_batch(b, fake_now, UINT64_MAX), 300);
    CHECK(sink_b.max_n <= 300);
    CHECK_EQ_INT(sink_b.records, 300);
    CHECK_EQ_INT(batcher_export_batch(b, fake_now, UINT64_MAX), 300);
    CHECK(!batcher_due(b, fake_now)); /* 100 left, less than a batch */
    CHECK_EQ_INT(batcher_export_batch(b, fake_now, UINT64_MAX), 100);
    CHECK_EQ_INT(sink_b.last_value, 699);
    CHECK_EQ_INT(sink_b.frees, 700);
    CHECK_EQ_U64(stats(b).exported, 700);
}

static void test_export_failed(void) {
    struct batch_stats before = stats(a);
    int frees = sink_a.frees;
    sink_a.fail = 1;
    CHECK(batcher_on_end(a, record(&sink_a, 1)));
    CHECK(batcher_on_end(a, record(&sink_a, 2)));
    CHECK_EQ_INT(batcher_export_batch(a, fake_now, UINT64_MAX), 2);
    struct batch_stats st = stats(a);
    CHECK_EQ_U64(st.dropped_export_failed, before.dropped_export_failed + 2);
    CHECK_EQ_U64(st.exported, before.exported);
    CHECK_EQ_INT(sink_a.frees, frees + 2); /* freed all the same */
    sink_a.fail = 0;
}

/* partial_success: the rejected part of a delivered batch is counted apart,
 * never more than the batch. */
static void test_rejected(void) {
    struct batch_stats before = stats(a);
    sink_a.reject = 1;
    for (int i = 0; i < 3; i++)
        CHECK(batcher_on_end(a, record(&sink_a, i)));
    CHECK_EQ_INT(batcher_export_batch(a, fake_now, UINT64_MAX), 3);
    struct batch_stats st = stats(a);
    CHECK_EQ_U64(st.exported, before.exported + 2);
    CHECK_EQ_U64(st.dropped_rejected, before.dropped_rejected + 1);
    sink_a.reject = 10;
    for (int i = 0; i < 2; i++)
        CHECK(batcher_on_end(a, record(&sink_a, i)));
    CHECK_EQ_INT(batcher_export_batch(a, fake_now, UINT64_MAX), 2);
    st = stats(a);
    CHECK_EQ_U64(st.exported, before.exported + 2);
    CHECK_EQ_U64(st.dropped_rejected, before.dropped_rejected + 3);
    CHECK_EQ_U64(st.dropped_export_failed, before.dropped_export_failed);
    sink_a.reject = 0;
    CHECK_EQ_INT(processor_deadline(), UINT64_MAX); /* no shutdown yet */
    CHECK(!processor_on_worker());
}

static void test_force_flush_sync(void) {
    CHECK(!processor_worker_running());
    struct batch_stats sa = stats(a), sb = stats(b);
    for (int i = 0; i < 8; i++)
        CHECK(batcher_on_end(a, record(&sink_a, i)));
    for (int i = 0; i < 450; i++)
        CHECK(batcher_on_end(b, record(&sink_b, i)));
    CHECK_EQ_INT(processor_force_flush(5000), 0);
    CHECK_EQ_U64(stats(a).exported, sa.exported + 8);
    CHECK_EQ_U64(stats(b).exported, sb.exported + 450);
    CHECK(!batcher_due(a, fake_now + 3600000 * MS));
    CHECK(!batcher_due(b, fake_now + 3600000 * MS));
    CHECK_EQ_INT(processor_force_flush(0), 0); /* nothing queued: done at once */
}

static _Atomic int create_calls;
static int failing_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *),
                          void *arg) {
    (void)t, (void)attr, (void)fn, (void)arg;
    create_calls++;
    return EAGAIN;
}
/* Claims success but starts nothing: a worker that never answers. */
static int silent_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg) {
    (void)t, (void)attr, (void)fn, (void)arg;
    create_calls++;
    return 0;
}

static int ndiag;
static void count_diag(enum diag_level level, const char *line) {
    (void)level, (void)line;
    ndiag++;
}

/* A worker that cannot start: one attempt, one diagnostic, and exports
 * still happen synchronously. */
static void test_worker_start_fails(void) {
    processor_autostart = true;
    processor_thread_create = failing_create;
    diag_set_sink(count_diag);
    ndiag = 0;
    for (int i = 0; i < 3; i++) /* a full batch: due */
        CHECK(batcher_on_end(a, record(&sink_a, i)));
    CHECK_EQ_INT(create_calls, 1);
    CHECK_EQ_INT(ndiag, 1);
    CHECK(!processor_worker_running());
    for (int i = 0; i < 3; i++)
        CHECK(batcher_on_end(a, record(&sink_a, i)));
    CHECK_EQ_INT(create_calls, 1); /* not retried */
    uint64_t before = stats(a).exported;
    CHECK_EQ_INT(processor_force_flush(5000), 0);
    CHECK_EQ_U64(stats(a).exported, before + 6);
    diag_set_sink(NULL);
}

/* after_fork in a child: the parent's queued records are freed, not
 * exported, the stats start from zero, and a worker may start again. */
static void test_after_fork_child(void) {
    for (int i = 0; i < 2; i++)
        CHECK(batcher_on_end(a, record(&sink_a, i)));
    int frees = sink_a.frees, exports = sink_a.exports;
    processor_after_fork_child();
    CHECK_EQ_INT(sink_a.frees, frees + 2);
    CHECK_EQ_INT(sink_a.exports, exports);
    struct batch_stats st = stats(a);
    CHECK_EQ_U64(
        st.exported + st.dropped_queue_full + st.dropped_export_failed + st.dropped_shutdown, 0);
    CHECK(!batcher_due(a, fake_now + 3600000 * MS));

    /* The worker state was reset: the next full batch tries to start one. */
    processor_thread_create = silent_create;
    create_calls = 0;
    for (int i = 0; i < 3; i++)
        CHECK(batcher_on_end(a, record(&sink_a, i)));
    CHECK_EQ_INT(create_calls, 1);
    CHECK(processor_worker_running());
    /* A worker that never serves the flush: bounded, -ETIMEDOUT. */
    CHECK_EQ_INT(processor_force_flush(20), -ETIMEDOUT);
    processor_after_fork_child(); /* forget it again */
    CHECK(!processor_worker_running());
    processor_autostart = false;
    processor_thread_create = pthread_create;
}

/* Shutdown with a zero budget: nothing can be exported, everything queued is
 * counted as dropped_shutdown. Afterwards no worker ever starts. */
static void test_shutdown_counts_leftovers(void) {
    for (int i = 0; i < 5; i++)
        CHECK(batcher_on_end(a, record(&sink_a, i)));
    for (int i = 0; i < 7; i++)
        CHECK(batcher_on_end(b, record(&sink_b, i)));
    uint64_t ea = stats(a).exported, eb = stats(b).exported;
    processor_shutdown(0, false);
    CHECK_EQ_U64(stats(a).dropped_shutdown, 5);
    CHECK_EQ_U64(stats(b).dropped_shutdown, 7);
    CHECK_EQ_U64(stats(a).exported, ea);
    CHECK_EQ_U64(stats(b).exported, eb);
    /* Exiting: a due batch starts no worker. */
    processor_autostart = true;
    processor_thread_create = silent_create;
    create_calls = 0;
    for (int i = 0; i < 3; i++)
        (void)batcher_on_end(a, record(&sink_a, i));
    CHECK_EQ_INT(create_calls, 0);
    CHECK(!processor_worker_running());
    processor_autostart = false;
    processor_thread_create = pthread_create;
    /* After the final flush nothing is exported any more: a fresh state
     * (as a fork child gets) frees what was queued since. */
    CHECK_EQ_INT(processor_force_flush(100), -ETIMEDOUT);
    processor_after_fork_child();
    CHECK_EQ_INT(processor_force_flush(100), 0);
}

static void test_batcher_table_limit(void) {
    static struct fake_sink spare;
    struct batcher *c = new_batcher("c", &spare, 4, 10, 2);
    struct batcher *d = new_batcher("d", &spare, 4, 10, 2);
    CHECK(c != NULL && d != NULL);
    CHECK(new_batcher("e", &spare, 4, 10, 2) == NULL); /* four at most */
    /* A batcher that never got a record has no queue yet. */
    CHECK(!batcher_due(c, fake_now + 3600000 * MS));
    CHECK_EQ_INT(batcher_export_batch(c, fake_now, UINT64_MAX), 0);
}

static int run_sync_group(void) {
    processor_autostart = false;
    processor_clock = fake_clock;
    a = new_batcher("a", &sink_a, 8, 1000, 3);
    b = new_batcher("b", &sink_b, 1000, 1000, 300);
    if (!a || !b) return 2;
    RUN(test_due_edges);
    RUN(test_batch_size_and_queue_full);
    RUN(test_large_batch);
    RUN(test_export_failed);
    RUN(test_rejected);
    RUN(test_force_flush_sync);
    RUN(test_worker_start_fails);
    RUN(test_after_fork_child);
    RUN(test_shutdown_counts_leftovers);
    RUN(test_batcher_table_limit);
    return test_report("processor");
}

/* ---- worker group: real clock, real thread ---- */

static struct fake_sink sink_w, sink_d;
static struct batcher *w, *d;

/* Runs in the worker: it must block all signals, run inside the guard and
 * under SCHED_BATCH (its wake-ups never preempt a program's thread). */
static int worker_sink_export(void *ctx, void *const *records, size_t n, uint64_t deadline) {
    struct fake_sink *s = ctx;
    sigset_t set;
    pthread_sigmask(SIG_BLOCK, NULL, &set);
    char name[17] = "";
    prctl(PR_GET_NAME, name, 0, 0, 0);
    if (!sigismember(&set, SIGINT) || !sigismember(&set, SIGTERM) || !guard_active() ||
        strcmp(name, "otel-preload") || sched_getscheduler(0) != SCHED_BATCH)
        s->wrong_thread_state++;
    return sink_export(ctx, records, n, deadline);
}

static struct batcher *new_worker_batcher(const char *name, struct fake_sink *s, uint32_t delay) {
    struct batch_config cfg = {64, delay, 8, 1000};
    struct batch_sink sink = {worker_sink_export, sink_free, s};
    return batcher_new(name, &cfg, &sink);
}

static void sleep_ms(long ms) {
    struct timespec ts = {0, ms * 1000000L};
    nanosleep(&ts, NULL);
}

static void test_worker_starts_on_full_batch(void) {
    CHECK(!processor_worker_running());
    for (int i = 0; i < 7; i++)
        CHECK(batcher_on_end(w, record(&sink_w, i)));
    CHECK(!processor_worker_running()); /* not due yet: no thread */
    CHECK(batcher_on_end(w, record(&sink_w, 7)));
    CHECK(processor_worker_running());
    CHECK_EQ_INT(processor_force_flush(10000), 0);
    CHECK_EQ_U64(stats(w).exported, 8);
    CHECK_EQ_INT(sink_w.frees, 8);
    CHECK_EQ_INT(sink_w.last_value, 7);
}

static void test_worker_flushes_partial_batches(void) {
    for (int i = 0; i < 5; i++)
        CHECK(batcher_on_end(w, record(&sink_w, 100 + i)));
    CHECK_EQ_INT(processor_force_flush(10000), 0);
    CHECK_EQ_U64(stats(w).exported, 13);
    CHECK_EQ_INT(sink_w.last_value, 104);
    /* Many full batches in a row wake the sleeping worker; a flush then
     * delivers whatever is left. */
    int pushed = 0;
    for (int round = 0; round < 20; round++) {
        for (int i = 0; i < 8; i++)
            pushed += batcher_on_end(w, record(&sink_w, 1000 + round * 8 + i));
        sleep_ms(1);
    }
    CHECK_EQ_INT(processor_force_flush(10000), 0);
    struct batch_stats st = stats(w);
    CHECK_EQ_U64(st.exported, 13 + (uint64_t)pushed);
    CHECK_EQ_U64(st.exported + st.dropped_queue_full, 13 + 160);
    CHECK_EQ_INT(sink_w.frees, 13 + 160);
    CHECK(sink_w.max_n <= 8);
    CHECK_EQ_INT(sink_w.wrong_thread_state, 0);
}

/* A record waits at most the schedule delay: the worker exports it without
 * a flush, also when it was asleep with nothing queued anywhere (the state
 * after a flush). Waits up to 3 s for a 20 ms delay (no timing assertion). */
static void test_worker_schedule_delay(void) {
    sleep_ms(20); /* let the worker go back to sleep after the last flush */
    CHECK(batcher_on_end(d, record(&sink_d, 42)));
    for (int i = 0; i < 3000 && stats(d).exported < 1; i++)
        sleep_ms(1);
    CHECK_EQ_U64(stats(d).exported, 1);
    CHECK_EQ_INT(sink_d.last_value, 42);
    CHECK_EQ_INT(sink_d.wrong_thread_state, 0);
}

/* A batch the worker is still exporting when the final flush gives up is
 * counted as dropped_shutdown, and not counted again when the export
 * returns late. */
static struct fake_sink sink_s;
static struct batcher *s_blocked;
static _Atomic int blocked_entered, blocked_release, blocked_returned;
static int blocking_export(void *ctx, void *const *records, size_t n, uint64_t deadline) {
    atomic_store(&blocked_entered, 1);
    for (int i = 0; i < 5000 && !atomic_load(&blocked_release); i++)
        sleep_ms(1);
    int rc = sink_export(ctx, records, n, deadline);
    atomic_store(&blocked_returned, 1);
    return rc;
}

static void test_worker_shutdown_with_batch_in_flight(void) {
    for (int i = 0; i < 8; i++)
        CHECK(batcher_on_end(s_blocked, record(&sink_s, i)));
    for (int i = 0; i < 5000 && !atomic_load(&blocked_entered); i++)
        sleep_ms(1);
    REQUIRE(atomic_load(&blocked_entered));
    CHECK(batcher_on_end(s_blocked, record(&sink_s, 8))); /* queued behind it */
    processor_shutdown(50, false);
    struct batch_stats st = stats(s_blocked);
    CHECK_EQ_U64(st.dropped_shutdown, 9);
    CHECK_EQ_U64(st.exported, 0);
    atomic_store(&blocked_release, 1);
    for (int i = 0; i < 5000 && !atomic_load(&blocked_returned); i++)
        sleep_ms(1);
    sleep_ms(20);
    st = stats(s_blocked);
    CHECK_EQ_U64(st.exported + st.dropped_export_failed, 0);
    CHECK_EQ_U64(st.dropped_shutdown, 9);
}

static void test_worker_shutdown(void) {
    for (int i = 0; i < 5; i++)
        CHECK(batcher_on_end(w, record(&sink_w, i)));
    uint64_t before = stats(w).exported;
    processor_shutdown(10000, false);
    CHECK_EQ_U64(stats(w).exported, before + 5);
    CHECK_EQ_U64(stats(w).dropped_shutdown, 0);
    CHECK_EQ_U64(stats(d).dropped_shutdown, 0);
}

static int run_worker_group(void) {
    processor_autostart = true;
    w = new_worker_batcher("w", &sink_w, 60000);
    d = new_worker_batcher("d", &sink_d, 20);
    struct batch_config cfg = {64, 60000, 8, 1000};
    struct batch_sink blocking = {blocking_export, sink_free, &sink_s};
    s_blocked = batcher_new("s", &cfg, &blocking);
    if (!w || !d || !s_blocked) return 2;
    RUN(test_worker_starts_on_full_batch);
    RUN(test_worker_flushes_partial_batches);
    RUN(test_worker_schedule_delay);
    RUN(test_worker_shutdown_with_batch_in_flight);
    RUN(test_worker_shutdown);
    return test_report("processor_worker");
}

/* ---- an export still running when the flush budget ends ---- */

/* The worker is inside a slow export when shutdown's budget ends: its
 * records are counted once, as dropped at shutdown, and not again when the
 * export returns later. */
static int run_inflight(void) {
    static struct fake_sink slow;
    processor_autostart = true;
    struct batch_config cfg = {64, 60000, 1, 1000};
    struct batch_sink sink = {sink_export, sink_free, &slow};
    struct batcher *x = batcher_new("slow", &cfg, &sink);
    if (!x) return 2;
    slow.slow_ms = 600;
    test_current = "inflight";
    CHECK(batcher_on_end(x, record(&slow, 1)));
    for (int i = 0; i < 2000 && !slow.exports; i++)
        sleep_ms(1);
    CHECK_EQ_INT(slow.exports, 1);
    uint64_t t0 = clock_mono_ns();
    processor_shutdown(50, false);
    CHECK(clock_mono_ns() - t0 < 400 * MS);
    CHECK(processor_deadline() <= t0 + 50 * MS + MS);
    struct batch_stats st = stats(x);
    CHECK_EQ_U64(st.dropped_shutdown, 1);
    CHECK_EQ_U64(st.exported, 0);
    for (int i = 0; i < 3000 && !slow.frees; i++)
        sleep_ms(1);
    st = stats(x);
    CHECK_EQ_U64(st.exported, 0);
    CHECK_EQ_U64(st.dropped_shutdown, 1);
    return test_report("processor_inflight");
}

int main(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "worker")) return run_worker_group();
    if (argc > 1 && !strcmp(argv[1], "inflight")) return run_inflight();
    return run_sync_group();
}
