/* pipeline: the export side of the shim's pipelines. See pipeline.h.
 *
 * Each signal's exporters are made once, when core first needs them (spans
 * at init, log records at the first record, metrics at the first
 * collection), and live as long as the process; only the thread exporting
 * that signal uses them, one export at a time. */
#include "preload/pipeline.h"

#include <stdio.h>
#include <string.h>

#include "core/diag.h"
#include "core/ids.h"
#include "core/metric.h"
#include "core/processor.h"
#include "core/telemetry.h"
#include "exporters/exporter.h"
#include "exporters/handoff.h"
#include "exporters/outbox.h"

static struct exporter *exporters[SIGNAL_COUNT][EXPORTER_MAX];
static int n_exporters[SIGNAL_COUNT];
static const struct config *config;

static void pipeline_init(const struct config *cfg, char *const *envp) {
    config = cfg;
    handoff_init(cfg);
    outbox_init(envp, cfg->spool_max_bytes);
}

static int pipeline_open(enum signal_kind sig, const struct config *cfg) {
    config = cfg;
    int n = 0;
    for (int k = 1; k <= EXPORTER_MAX && n < EXPORTER_MAX; k++) {
        if (!(cfg->exporters[sig] & (1u << k))) continue;
        struct exporter *e = exporter_new((enum exporter_kind)k, sig, cfg);
        if (e) exporters[sig][n++] = e;
    }
    n_exporters[sig] = n;
    return n;
}

static const char *type_of(const struct exporter *e) {
    return telemetry_component_type(e->ops->name, e->signal,
                                    config ? config->otlp[e->signal].protocol : OTLP_HTTP_PROTOBUF);
}

static const char *pipeline_component_type(enum signal_kind sig) {
    return n_exporters[sig] ? type_of(exporters[sig][0]) : NULL;
}

/* One observation of otel.sdk.exporter.operation.duration: the export's
 * wall time, with error.type when the batch was not delivered (handed to
 * the parent's relay counts as delivered: the relay exports it). */
static void record_duration(struct metric_instrument *dur, const struct exporter *e, int index,
                            uint64_t t0, int rc) {
    char name[80];
    const char *type = type_of(e);
    snprintf(name, sizeof name, "%s/%d", type, index);
    const char *why = rc == BATCH_SPOOLED ? "spooled" : "export_failed";
    struct attr a[3] = {
        {str_cstr("otel.component.type"), {.type = ATTR_STRING, .u.s = str_cstr(type)}},
        {str_cstr("otel.component.name"), {.type = ATTR_STRING, .u.s = str_cstr(name)}},
        {str_cstr("error.type"), {.type = ATTR_STRING, .u.s = str_cstr(why)}}};
    bool failed = rc < 0 && rc != BATCH_HANDED_OFF;
    metric_record_double(dur, (double)(clock_mono_ns() - t0) / 1e9, a, failed ? 3 : 2);
}

/* Hands a batch to every exporter of its signal: a negative errno when
 * one of them lost it, else the most records one of them had rejected. */
static int pipeline_export(enum signal_kind sig, void *const *records, size_t n,
                           uint64_t deadline) {
    int rc = 0, rejected = 0;
    for (int i = 0; i < n_exporters[sig]; i++) {
        struct exporter *e = exporters[sig][i];
        struct metric_instrument *dur = telemetry_export_duration();
        uint64_t t0 = dur ? clock_mono_ns() : 0;
        int r = e->ops->export(e, records, n, NULL, deadline);
        if (dur) record_duration(dur, e, i, t0, r);
        if (r == BATCH_SPOOLED || r == BATCH_HANDED_OFF) {
            if (rc == 0) rc = r; /* a loss elsewhere counts first */
        } else if (r < 0)
            rc = r;
        else if (r > rejected)
            rejected = r;
    }
    return rc < 0 ? rc : rejected;
}

static void pipeline_shutdown(uint32_t timeout_ms, bool in_signal) {
    if (in_signal) exporter_in_signal = true;
    relay_shutdown(timeout_ms, in_signal);
}

/* What was handed up already (after an exec that failed, the image goes
 * on: only what changed since goes up at its end). */
static struct relay_counts handed_up[SIGNAL_COUNT];

static void pipeline_after_fork_child(void) {
    memset(handed_up, 0, sizeof handed_up);
    relay_after_fork_child();
    outbox_after_fork_child();
    for (int s = 0; s < SIGNAL_COUNT; s++)
        for (int i = 0; i < n_exporters[s]; i++)
            exporters[s][i]->ops->after_fork(exporters[s][i]);
}

static void pipeline_report(void) {
    struct outbox_stats o;
    outbox_get_stats(&o);
    if (o.spooled_batches || o.evicted_batches || o.refused_batches || o.drained_batches)
        diag_info("spool: wrote %llu batches (%llu records), evicted %llu batches (%llu records), "
                  "refused %llu batches (%llu records), delivered %llu batches (%llu records)",
                  (unsigned long long)o.spooled_batches, (unsigned long long)o.spooled_records,
                  (unsigned long long)o.evicted_batches, (unsigned long long)o.evicted_records,
                  (unsigned long long)o.refused_batches, (unsigned long long)o.refused_records,
                  (unsigned long long)o.drained_batches, (unsigned long long)o.drained_records);
}

/* A relay's tree: the records its children handed it (processed by
 * them) and what it made of them, with the counts they handed up. */
static bool pipeline_tree_stats(enum signal_kind sig, struct telemetry_tree_stats *out) {
    struct relay_stats r;
    relay_get_stats(sig, &r);
    const struct relay_counts *c = &r.reported;
    *out = (struct telemetry_tree_stats){
        .processed = r.received + c->processed,
        .queue_full = c->queue_full,
        .shutdown = c->shutdown,
        .exported = r.exported + c->exported,
        .failed = r.failed + c->failed,
        .rejected = c->rejected,
        .spooled = r.spooled + c->spooled,
    };
    return out->processed || out->queue_full || out->shutdown || out->exported || out->failed ||
           out->rejected || out->spooled;
}

/* Hands to the parent's relay this process's counts and its tree's, what
 * it did not hand off as records (the relay counts those as it receives
 * them); the records this process's relay forwarded itself count as
 * processed below. Only what changed since the last time; nothing at all
 * in the common case (everything handed off, nothing dropped). */
static bool pipeline_hand_up(const struct telemetry_tree_stats own[SIGNAL_COUNT]) {
    struct relay_counts now[SIGNAL_COUNT], delta[SIGNAL_COUNT];
    bool any = false;
    for (int s = 0; s < SIGNAL_COUNT; s++) {
        struct relay_stats r;
        relay_get_stats((enum signal_kind)s, &r);
        const struct telemetry_tree_stats *o = &own[s];
        const struct relay_counts *c = &r.reported;
        now[s] = (struct relay_counts){
            .processed = o->processed + c->processed + r.exported + r.failed + r.spooled,
            .queue_full = o->queue_full + c->queue_full,
            .shutdown = o->shutdown + c->shutdown,
            .exported = o->exported + c->exported + r.exported,
            .failed = o->failed + c->failed + r.failed,
            .rejected = o->rejected + c->rejected,
            .spooled = o->spooled + c->spooled + r.spooled,
        };
        const uint64_t *a = (const uint64_t *)&now[s], *b = (const uint64_t *)&handed_up[s];
        uint64_t *d = (uint64_t *)&delta[s];
        for (size_t i = 0; i < sizeof now[s] / sizeof *a; i++) {
            d[i] = a[i] - b[i];
            any |= d[i] != 0;
        }
    }
    if (!any) return true;
    if (handoff_send_counts(delta) != 0) return false;
    memcpy(handed_up, now, sizeof handed_up);
    return true;
}

static const struct telemetry_exports pipeline = {
    .init = pipeline_init,
    .open = pipeline_open,
    .export = pipeline_export,
    .component_type = pipeline_component_type,
    .shutdown = pipeline_shutdown,
    .after_fork_child = pipeline_after_fork_child,
    .report = pipeline_report,
    .tree_stats = pipeline_tree_stats,
    .hand_up = pipeline_hand_up,
};

void pipeline_install(void) {
    telemetry_set_exports(&pipeline);
}

#if defined(OTELP_PIPELINE_AUTO_INSTALL)
__attribute__((constructor)) static void pipeline_auto_install(void) {
    pipeline_install();
}
#endif
