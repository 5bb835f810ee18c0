/* reader: the periodic metric reader. See reader.h.
 *
 * One collector at a time (metrics_collect's rule): the worker's periodic
 * run and the exit's last collection take the busy flag; the exit first
 * stops further runs, then waits (within the flush budget) for a run in
 * progress to end. */
#include "core/reader.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/diag.h"
#include "core/ids.h"
#include "core/metric.h"
#include "core/once.h"
#include "core/processor.h"
#include "core/procmetrics.h"
#include "core/telemetry.h"
#include "core/vg.h"

_Atomic uint64_t reader_wake_at = UINT64_MAX;

static const struct config *cfg;
static unsigned kinds; /* bit set of the configured metrics exporters */
/* Wall clock: the process start (or fork), taken from the first time the
 * process passes through (its root span's start): reading the clock here
 * would be a system call more at every start on machines without a vDSO
 * clock. 0: not yet. */
static _Atomic uint64_t born_ns;
static uint64_t interval_ns;
static _Atomic uint64_t next_mono; /* the next periodic run; 0: not computed */
static _Atomic int lived;          /* a pass through the shim found the first collection due */
static _Atomic int busy, stopped;
static _Atomic int exporters_state; /* once.h: made */
static int n_exporters;
static bool procs_made; /* process metrics and the SDK's counts registered */
static _Atomic uint64_t n_collections, n_exports, n_failures, n_points_exported, n_points_failed;

static uint64_t periodic_next(void) {
    uint64_t n = atomic_load(&next_mono);
    if (n) return n;
    uint64_t born = atomic_load(&born_ns);
    if (!born) return UINT64_MAX;
    uint64_t wall = clock_now_ns(), mono = clock_mono_ns(), due = born + interval_ns;
    n = mono + (due > wall ? due - wall : 0);
    atomic_store(&next_mono, n);
    return n;
}

static void periodic_run(void) {
    uint64_t now = clock_mono_ns();
    /* The next run one interval after this one's start (not its end). */
    atomic_store(&next_mono, now + interval_ns);
    reader_collect_export(now + (uint64_t)cfg->metric_timeout_ms * 1000000u);
}

void reader_init(const struct config *c) {
    cfg = c;
    kinds = c->exporters[SIGNAL_METRICS];
    n_exporters = 0;
    atomic_store(&exporters_state, 0);
    atomic_store(&busy, 0);
    atomic_store(&stopped, 0);
    procs_made = false;
    interval_ns = (uint64_t)c->metric_interval_ms * 1000000u;
    struct metric_options o = {
        .temporality = (enum metric_temporality_pref)c->metric_temporality,
        .histogram = (enum histogram_aggregation)c->metric_histogram,
        .exemplars = (enum exemplar_filter)c->metric_exemplars,
        .cardinality_limit = c->metric_cardinality,
        .current_context = telemetry_current_context,
    };
    metrics_configure(&o);
    atomic_store(&born_ns, 0);
    atomic_store(&next_mono, 0);
    atomic_store(&lived, 0);
    /* 0: the first pass through the shim records the birth. */
    atomic_store(&reader_wake_at, kinds ? 0 : UINT64_MAX);
    if (kinds) processor_set_periodic(periodic_next, periodic_run);
}

void reader_wake(uint64_t now_ns) {
    uint64_t born = 0;
    if (atomic_compare_exchange_strong(&born_ns, &born, now_ns)) {
        procmetrics_set_start(now_ns);
        atomic_store(&reader_wake_at, now_ns + interval_ns);
        return;
    }
    if (now_ns < born + interval_ns) return;
    atomic_store_explicit(&reader_wake_at, UINT64_MAX, memory_order_relaxed);
    atomic_store(&lived, 1);
    processor_start_worker();
}

void reader_instrument_made(void) {
    if (kinds) processor_start_worker();
}

void reader_process_started(bool service) {
    if (!kinds || !cfg || !atomic_load(&born_ns)) return;
    if (cfg->metric_worker == METRIC_WORKER_START ||
        (cfg->metric_worker == METRIC_WORKER_AUTO && service)) {
        /* The worker's periodic task runs the first collection one
         * interval after the birth, when the process has lived one. */
        processor_start_worker();
    }
}

static void make_exporters(void) {
    n_exporters = telemetry_get_exports()->open(SIGNAL_METRICS, cfg);
}

/* Whether the process has lived one interval: then the process metrics and
 * the SDK's counts join (once). */
static void maybe_extras(uint64_t now_ns) {
    uint64_t born = atomic_load(&born_ns);
    if (procs_made || !born || now_ns < born + interval_ns) return;
    procs_made = true;
    if (cfg->process_metrics) procmetrics_register();
    if (cfg->sdk_metrics) telemetry_sdk_metrics_register();
}

static void collect_export(uint64_t deadline) {
    uint64_t now = clock_now_ns();
    maybe_extras(now);
    if (!metrics_any()) return;
    if (once_claim(&exporters_state)) {
        make_exporters();
        once_done(&exporters_state);
    }
    if (!n_exporters) return;
    struct metric_batch batch;
    if (metrics_collect(&batch, now) < 0) return;
    atomic_fetch_add(&n_collections, 1);
    if (batch.n) {
        /* Every exporter of the signal (the export side): the worst
         * outcome. Handed to the parent's relay: it exports them. */
        int rc = telemetry_get_exports()->export(SIGNAL_METRICS, (void *const *)batch.items,
                                                 batch.n, deadline);
        bool ok = rc >= 0 || rc == BATCH_HANDED_OFF;
        atomic_fetch_add(ok ? &n_exports : &n_failures, 1);
        uint64_t points = 0;
        for (size_t i = 0; i < batch.n; i++)
            points += batch.items[i]->npoints;
        atomic_fetch_add(ok ? &n_points_exported : &n_points_failed, points);
    }
    metric_batch_release(&batch);
}

void reader_collect_export(uint64_t deadline) {
    if (!kinds || atomic_load(&stopped) || atomic_exchange(&busy, 1)) return;
    collect_export(deadline);
    atomic_store(&busy, 0);
}

void reader_shutdown(bool in_signal) {
    if (!kinds || in_signal) return; /* collection allocates */
    /* Nothing to report (no instrument, and the process did not live an
     * interval: its root span's end, just before, would have found it
     * due): no clock read, no collection. */
    /* A relay that could not hand its tree's counts up reports them
     * itself, however short it lived (its series alone, then). */
    bool tree = cfg->sdk_metrics && telemetry_tree_due();
    if (!metrics_any() && !atomic_load(&lived) && !tree) return;
    atomic_store(&stopped, 1);
    uint64_t deadline = processor_deadline();
    /* A periodic run in progress on the worker: its end, within the budget. */
    while (atomic_exchange(&busy, 1)) {
        if (clock_mono_ns() >= deadline) return;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    maybe_extras(clock_now_ns());
    bool tree_only = false;
    if (tree && !procs_made) {
        tree_only = !metrics_any();
        procs_made = true;
        telemetry_sdk_tree_metrics_register();
    }
    uint64_t own = clock_mono_ns() + (uint64_t)cfg->metric_timeout_ms * 1000000u;
    collect_export(own < deadline ? own : deadline);
    /* Under valgrind only: the instruments made here for the last
     * collection go back (its leak check would count them as the
     * program's); elsewhere they stay, as every process's do. */
    if (tree_only && VG_RUNNING()) metrics_reset();
}

void reader_after_fork_child(void) {
    if (metrics_any()) metrics_after_fork_child();
    if (!kinds) return;
    atomic_store(&busy, 0);
    atomic_store(&stopped, 0);
    atomic_store(&n_collections, 0);
    atomic_store(&n_exports, 0);
    atomic_store(&n_failures, 0);
    atomic_store(&n_points_exported, 0);
    atomic_store(&n_points_failed, 0);
    procmetrics_after_fork_child();
    atomic_store(&born_ns, 0);
    atomic_store(&next_mono, 0);
    atomic_store(&lived, 0);
    atomic_store(&reader_wake_at, 0);
    /* Made exporters stay (the export side resets their connections). */
    if (!once_ready(&exporters_state)) atomic_store(&exporters_state, 0);
}

void reader_stats(struct reader_stats *out) {
    out->collections = atomic_load(&n_collections);
    out->exports = atomic_load(&n_exports);
    out->export_failures = atomic_load(&n_failures);
    out->points_exported = atomic_load(&n_points_exported);
    out->points_failed = atomic_load(&n_points_failed);
}
