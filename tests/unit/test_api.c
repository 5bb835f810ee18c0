/* test_api: hooks/api.c (the shim's otelp.h table) linked into a test
 * program with the core, called through include/otelp.h itself (the
 * header finds the table's note in this executable): spans written from
 * several threads at once (the TSan build checks the span lock), scopes
 * holding an ended span until they end, the no-op paths, and the metric
 * instruments (recorded into the metrics SDK, read back by its
 * collection). The preload
 * layer's few symbols api.c uses are stubbed here.
 * Depends on hooks/api.c, core/ and test.h. */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "core/ids.h"
#include "core/metric.h"
#include "core/processor.h"
#include "core/telemetry.h"
#include "hooks/hooks.h"
#include "otelp.h"
#include "tests/unit/test.h"

/* ---- what the preload layer would provide ---- */
bool preload_active;
pid_t process_pid;

bool process_child_context(bool for_exec, struct span_context *ctx, const char **ts,
                           size_t *ts_len) {
    (void)for_exec;
    *ts = NULL;
    *ts_len = 0;
    return telemetry_current_context(ctx);
}

struct span *process_root_span(void) {
    return NULL; /* no process root span here */
}

static struct span *as_span(otelp_span *s) {
    return (struct span *)s;
}

#define WRITERS 4
#define ROUNDS 300

/* Counted by the writers (CHECK is for the main thread only). */
static _Atomic int not_current;

static void *writer(void *arg) {
    otelp_span *s = arg;
    for (int i = 0; i < ROUNDS; i++) {
        otelp_attr a[] = {otelp_attr_int("n", i), otelp_attr_str("who", "writer")};
        otelp_span_set_attributes(s, a, 2);
        otelp_span_add_event(s, "tick", a, 1);
        otelp_scope sc = otelp_span_make_current(s);
        if (otelp_span_current() != s) atomic_fetch_add(&not_current, 1);
        otelp_scope_end(sc);
    }
    return NULL;
}

static void test_threads_write_one_span(void) {
    otelp_span *s = otelp_span_start("shared", NULL, OTELP_SPAN_KIND_INTERNAL, NULL, 0);
    REQUIRE(s);
    pthread_t th[WRITERS];
    for (int i = 0; i < WRITERS; i++)
        REQUIRE(pthread_create(&th[i], NULL, writer, s) == 0);
    for (int i = 0; i < WRITERS; i++)
        pthread_join(th[i], NULL);
    CHECK_EQ_INT(atomic_load(&not_current), 0);
    struct span *sp = as_span(s);
    CHECK_EQ_INT(sp->attrs.count, 2);
    /* Every event was added or counted as dropped past the limit (128). */
    CHECK_EQ_INT(sp->event_count + sp->dropped_events, WRITERS * ROUNDS);
    CHECK_EQ_INT(atomic_load(&sp->api_refs), 0);
    otelp_span_end(s);
}

static void test_scope_keeps_an_ended_span(void) {
    otelp_span *outer = otelp_span_current(); /* the thread's own: none here */
    otelp_span *s = otelp_span_start("held", NULL, OTELP_SPAN_KIND_INTERNAL, NULL, 0);
    REQUIRE(s);
    otelp_scope sc = otelp_span_make_current(s);
    otelp_span_end(s);
    /* Ended but current: not handed over yet, still the thread's span. */
    CHECK_EQ_INT(atomic_load(&as_span(s)->api_refs), API_ENDED | 1);
    CHECK(otelp_span_current() == s);
    otelp_span *child = otelp_span_start("child", NULL, OTELP_SPAN_KIND_INTERNAL, NULL, 0);
    REQUIRE(child);
    CHECK_MEM(as_span(child)->parent_span_id, as_span(s)->ctx.span_id, 8);
    otelp_span_end(child);
    otelp_scope_end(sc); /* hands it over */
    CHECK(otelp_span_current() == outer);
}

static void test_no_ops(void) {
    otelp_span_end(NULL);
    otelp_span_set_attribute(NULL, otelp_attr_int("x", 1));
    CHECK_EQ_INT(otelp_span_is_recording(NULL), 0);
    otelp_span_context c;
    CHECK_EQ_INT(otelp_span_get_context(NULL, &c), -1);
    CHECK_EQ_INT(otelp_context_to_w3c(&c, NULL, NULL, 0), -1);
    otelp_scope sc = otelp_span_make_current(NULL);
    CHECK(sc.span == NULL);
    otelp_scope_end(sc);
    /* Inactive (secure mode, disabled): nothing is started. */
    preload_active = false;
    CHECK(otelp_span_start("off", NULL, OTELP_SPAN_KIND_INTERNAL, NULL, 0) == NULL);
    CHECK_EQ_INT(otelp_active(), 0);
    preload_active = true;
    CHECK_EQ_INT(otelp_active(), 1);
}

/* ---- metrics ---- */

static const struct metric_data *find(const struct metric_batch *b, const char *name) {
    for (size_t i = 0; i < b->n; i++)
        if (b->items[i]->name.len == strlen(name) &&
            !memcmp(b->items[i]->name.ptr, name, strlen(name)))
            return b->items[i];
    return NULL;
}

static void observe_queue(otelp_observer *obs, void *arg) {
    int *depth = arg;
    otelp_attr a[] = {otelp_attr_str("queue", "jobs")};
    otelp_observe(obs, *depth, a, 1);
}

static void record_twice(void) {
    for (int i = 0; i < 2; i++)
        otelp_record_metric("api.one_off", 2.5, NULL, 0); /* one call site: one look-up */
}

static void test_metrics(void) {
    otelp_instrument *c = otelp_counter("api.requests", "1", "requests handled");
    otelp_instrument *u = otelp_up_down_counter("api.inflight", "1", NULL);
    otelp_instrument *g = otelp_gauge("api.temperature", "Cel", NULL);
    const double bounds[] = {1, 10};
    otelp_instrument *h = otelp_histogram("api.latency", "ms", NULL, bounds, 2);
    int depth = 7;
    otelp_instrument *o = otelp_observable_new(OTELP_OBSERVABLE_GAUGE, "api.queue.depth", "1", NULL,
                                               observe_queue, &depth);
    REQUIRE(c && u && g && h && o);
    CHECK(otelp_counter("api.requests", "1", NULL) == c); /* the same name: the same one */
    CHECK(otelp_observable_new(OTELP_COUNTER, "x", NULL, NULL, observe_queue, NULL) == NULL);
    CHECK(otelp_instrument_new(OTELP_OBSERVABLE_GAUGE, "y", NULL, NULL, NULL, 0) == NULL);
    otelp_attr get[] = {otelp_attr_str("method", "GET"), otelp_attr_strs("dropped", NULL, 0)};
    otelp_add(c, 1, get, 2);
    otelp_add(c, 2, get, 1);
    otelp_add(u, 3, NULL, 0);
    otelp_add(u, -1, NULL, 0);
    otelp_record(g, 21.5, NULL, 0);
    otelp_record(h, 0.5, NULL, 0);
    otelp_record(h, 5, NULL, 0);
    otelp_record(h, 50, NULL, 0);
    record_twice();
    otelp_record(NULL, 1, NULL, 0);
    struct metric_batch b;
    REQUIRE(metrics_collect(&b, clock_now_ns()) == 0);
    const struct metric_data *d = find(&b, "api.requests");
    REQUIRE(d && d->npoints == 1);
    CHECK_EQ_INT(d->type, METRIC_DATA_SUM);
    CHECK(d->monotonic);
    CHECK_NEAR(d->points[0].value.d, 3, 0);
    CHECK_EQ_INT(d->points[0].nattrs, 1); /* the array attribute is not taken */
    d = find(&b, "api.inflight");
    REQUIRE(d && d->npoints == 1);
    CHECK(!d->monotonic);
    CHECK_NEAR(d->points[0].value.d, 2, 0);
    d = find(&b, "api.temperature");
    REQUIRE(d && d->npoints == 1);
    CHECK_EQ_INT(d->type, METRIC_DATA_GAUGE);
    CHECK_NEAR(d->points[0].value.d, 21.5, 0);
    d = find(&b, "api.latency");
    REQUIRE(d && d->npoints == 1);
    CHECK_EQ_INT(d->type, METRIC_DATA_HISTOGRAM);
    CHECK_EQ_INT(d->nboundaries, 2);
    CHECK_EQ_U64(d->points[0].count, 3);
    CHECK_EQ_U64(d->points[0].bucket_counts[0], 1);
    CHECK_EQ_U64(d->points[0].bucket_counts[1], 1);
    CHECK_EQ_U64(d->points[0].bucket_counts[2], 1);
    d = find(&b, "api.queue.depth");
    REQUIRE(d && d->npoints == 1);
    CHECK_NEAR(d->points[0].value.d, 7, 0);
    d = find(&b, "api.one_off");
    REQUIRE(d && d->npoints == 1);
    CHECK_NEAR(d->points[0].value.d, 5, 0);
    metric_batch_release(&b);
    metrics_reset(); /* the series are freed (and no leak reported) */
}

static void init(void) {
    char *envp[] = {"OTEL_TRACES_EXPORTER=otlp", "OTEL_LOGS_EXPORTER=none",
                    "OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:9", NULL};
    processor_autostart = false; /* nothing is exported: spans stay queued */
    REQUIRE(telemetry_init(envp, "test_api") == 0);
    preload_active = true;
    process_pid = getpid();
}

int main(void) {
    init();
    RUN(test_threads_write_one_span);
    RUN(test_scope_keeps_an_ended_span);
    RUN(test_no_ops);
    RUN(test_metrics);
    return test_report("api");
}
