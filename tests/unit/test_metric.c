/* test_metric: instruments and aggregation: sums (int, double) across
 * threads and stripes, attribute sets in any order, cumulative and delta
 * across collections, gauges, explicit-bucket histograms (the spec's
 * boundaries, min/max), exponential histograms (indexes, rescaling past
 * 160 buckets, merging), observable instruments, the cardinality limit's
 * overflow series, exemplars per filter, instrument identity, the
 * per-thread series cache, and 2
 * threads x 200k adds counted exactly (also run under TSan).
 * Depends on core/metric.h, test.h. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/ids.h"
#include "core/metric.h"
#include "tests/unit/test.h"

/* Collection times after every series' start. */
static uint64_t T0;

static struct span_context fake_ctx;
static bool fake_has;

static bool fake_context(struct span_context *out) {
    if (fake_has) *out = fake_ctx;
    return fake_has;
}

static void setup(enum metric_temporality_pref t, enum histogram_aggregation h, uint32_t limit) {
    metrics_reset();
    struct metric_options o = {.temporality = t,
                               .histogram = h,
                               .exemplars = EXEMPLAR_TRACE_BASED,
                               .cardinality_limit = limit,
                               .current_context = fake_context,
                               .stripes = 4};
    metrics_configure(&o);
    fake_has = false;
}

static struct attr sattr(const char *k, const char *v) {
    return (struct attr){str_cstr(k), {.type = ATTR_STRING, .u.s = str_cstr(v)}};
}

static struct attr iattr(const char *k, int64_t v) {
    return (struct attr){str_cstr(k), {.type = ATTR_INT, .u.i = v}};
}

static const struct metric_data *find(const struct metric_batch *b, const char *name) {
    for (size_t i = 0; i < b->n; i++)
        if (b->items[i]->name.len == strlen(name) &&
            !memcmp(b->items[i]->name.ptr, name, strlen(name)))
            return b->items[i];
    return NULL;
}

static const struct attr *point_attr(const struct metric_point *p, const char *key) {
    for (uint32_t i = 0; i < p->nattrs; i++)
        if (p->attrs[i].key.len == strlen(key) && !memcmp(p->attrs[i].key.ptr, key, strlen(key)))
            return &p->attrs[i];
    return NULL;
}

/* The point whose attribute key has string value v (or the only point). */
static const struct metric_point *point_with(const struct metric_data *d, const char *key,
                                             const char *v) {
    for (uint32_t i = 0; d && i < d->npoints; i++) {
        const struct attr *a = point_attr(&d->points[i], key);
        if (a && a->value.type == ATTR_STRING && a->value.u.s.len == strlen(v) &&
            !memcmp(a->value.u.s.ptr, v, strlen(v)))
            return &d->points[i];
    }
    return NULL;
}

static struct metric_instrument *make(const char *name, enum metric_kind k,
                                      enum metric_number num) {
    struct metric_desc d = {
        .name = name, .unit = "1", .description = "test", .kind = k, .number = num};
    return metric_instrument_new(&d);
}

static void test_counter_cumulative(void) {
    setup(TEMPORALITY_CUMULATIVE, HISTOGRAM_EXPLICIT, 0);
    struct metric_instrument *c = make("requests", METRIC_COUNTER, METRIC_INT);
    REQUIRE(c);
    struct attr a[3] = {sattr("http.method", "GET"), iattr("code", 200), sattr("route", "/x")};
    struct attr b[3] = {a[2], a[0], a[1]}; /* same set, other order */
    metric_record_int(c, 5, a, 3);
    metric_record_int(c, 7, b, 3);
    metric_record_int(c, -3, a, 3); /* a counter ignores negative values */
    metric_record_int(c, 1, NULL, 0);
    struct metric_batch batch;
    REQUIRE(metrics_collect(&batch, T0 + 1000) == 0);
    const struct metric_data *d = find(&batch, "requests");
    REQUIRE(d);
    CHECK_EQ_INT(d->type, METRIC_DATA_SUM);
    CHECK(d->monotonic);
    CHECK_EQ_INT(d->temporality, AGG_TEMPORALITY_CUMULATIVE);
    CHECK_EQ_INT(d->npoints, 2);
    const struct metric_point *p = point_with(d, "http.method", "GET");
    REQUIRE(p);
    CHECK_EQ_INT(p->value.i, 12);
    CHECK_EQ_INT(p->nattrs, 3);
    CHECK_STRN(p->attrs[0].key.ptr, p->attrs[0].key.len, "code"); /* canonical: sorted */
    CHECK_EQ_U64(p->time_ns, T0 + 1000);
    metric_batch_release(&batch);
    /* Cumulative: the total goes on, with the same start. */
    metric_record_int(c, 3, a, 3);
    REQUIRE(metrics_collect(&batch, T0 + 2000) == 0);
    d = find(&batch, "requests");
    REQUIRE(d);
    p = point_with(d, "http.method", "GET");
    REQUIRE(p);
    CHECK_EQ_INT(p->value.i, 15);
    CHECK_EQ_INT(d->npoints, 2); /* the untouched series still reported */
    metric_batch_release(&batch);
}

static void test_counter_delta(void) {
    setup(TEMPORALITY_DELTA, HISTOGRAM_EXPLICIT, 0);
    struct metric_instrument *c = make("bytes", METRIC_COUNTER, METRIC_DOUBLE);
    struct metric_instrument *u = make("queue", METRIC_UPDOWN_COUNTER, METRIC_INT);
    REQUIRE(c && u);
    struct attr a = sattr("k", "v");
    metric_record_double(c, 1.5, &a, 1);
    metric_record_double(c, 2.25, &a, 1);
    metric_record_int(u, 5, &a, 1);
    metric_record_int(u, -2, &a, 1);
    struct metric_batch batch;
    REQUIRE(metrics_collect(&batch, T0 + 1000) == 0);
    const struct metric_data *d = find(&batch, "bytes");
    REQUIRE(d && d->npoints == 1);
    CHECK_EQ_INT(d->temporality, AGG_TEMPORALITY_DELTA);
    CHECK_NEAR(d->points[0].value.d, 3.75, 1e-12);
    const struct metric_data *q = find(&batch, "queue");
    REQUIRE(q && q->npoints == 1);
    CHECK_EQ_INT(q->temporality, AGG_TEMPORALITY_CUMULATIVE); /* delta keeps updown cumulative */
    CHECK(!q->monotonic);
    CHECK_EQ_INT(q->points[0].value.i, 3);
    metric_batch_release(&batch);
    metric_record_double(c, 1, &a, 1);
    metric_record_int(u, -1, &a, 1);
    REQUIRE(metrics_collect(&batch, T0 + 2000) == 0);
    d = find(&batch, "bytes");
    REQUIRE(d && d->npoints == 1);
    CHECK_NEAR(d->points[0].value.d, 1, 1e-12);
    CHECK_EQ_U64(d->points[0].start_ns, T0 + 1000); /* delta: from the last collection */
    q = find(&batch, "queue");
    REQUIRE(q && q->npoints == 1);
    CHECK_EQ_INT(q->points[0].value.i, 2);
    metric_batch_release(&batch);
    /* Nothing recorded: a delta series has no point. */
    REQUIRE(metrics_collect(&batch, T0 + 3000) == 0);
    CHECK(find(&batch, "bytes") == NULL);
    CHECK(find(&batch, "queue") != NULL);
    metric_batch_release(&batch);
}

static void test_lowmemory(void) {
    setup(TEMPORALITY_LOWMEMORY, HISTOGRAM_EXPLICIT, 0);
    struct metric_instrument *c = make("c", METRIC_COUNTER, METRIC_INT);
    struct metric_instrument *oc = make("oc", METRIC_OBSERVABLE_COUNTER, METRIC_INT);
    struct metric_instrument *h = make("h", METRIC_HISTOGRAM, METRIC_DOUBLE);
    REQUIRE(c && oc && h);
    metric_record_int(c, 1, NULL, 0);
    metric_record_double(h, 1, NULL, 0);
    struct metric_batch batch;
    REQUIRE(metrics_collect(&batch, 1) == 0);
    CHECK_EQ_INT(find(&batch, "c")->temporality, AGG_TEMPORALITY_DELTA);
    CHECK_EQ_INT(find(&batch, "h")->temporality, AGG_TEMPORALITY_DELTA);
    metric_batch_release(&batch);
}

static void test_gauge(void) {
    setup(TEMPORALITY_CUMULATIVE, HISTOGRAM_EXPLICIT, 0);
    struct metric_instrument *g = make("temp", METRIC_GAUGE, METRIC_DOUBLE);
    REQUIRE(g);
    metric_record_double(g, 20.5, NULL, 0);
    metric_record_double(g, -3.25, NULL, 0);
    struct metric_batch batch;
    REQUIRE(metrics_collect(&batch, 1) == 0);
    const struct metric_data *d = find(&batch, "temp");
    REQUIRE(d && d->npoints == 1);
    CHECK_EQ_INT(d->type, METRIC_DATA_GAUGE);
    CHECK_NEAR(d->points[0].value.d, -3.25, 0);
    metric_batch_release(&batch);
}

static void test_histogram_explicit(void) {
    setup(TEMPORALITY_CUMULATIVE, HISTOGRAM_EXPLICIT, 0);
    struct metric_instrument *h = make("latency", METRIC_HISTOGRAM, METRIC_DOUBLE);
    REQUIRE(h);
    double vals[] = {0, 5, 5.0001, 10000, 10001, 42, -1};
    for (size_t i = 0; i < sizeof vals / sizeof *vals; i++)
        metric_record_double(h, vals[i], NULL, 0);
    metric_record_double(h, NAN, NULL, 0); /* ignored */
    metric_record_double(h, INFINITY, NULL, 0);
    struct metric_batch batch;
    REQUIRE(metrics_collect(&batch, 1) == 0);
    const struct metric_data *d = find(&batch, "latency");
    REQUIRE(d && d->npoints == 1);
    CHECK_EQ_INT(d->type, METRIC_DATA_HISTOGRAM);
    REQUIRE(d->nboundaries == 15);
    CHECK_NEAR(d->boundaries[0], 0, 0);
    CHECK_NEAR(d->boundaries[14], 10000, 0);
    const struct metric_point *p = &d->points[0];
    CHECK_EQ_U64(p->count, 7);
    CHECK_NEAR(p->sum, 0 + 5 + 5.0001 + 10000 + 10001 + 42 - 1, 1e-9);
    CHECK_NEAR(p->min, -1, 0);
    CHECK_NEAR(p->max, 10001, 0);
    /* (-inf,0] holds 0 and -1; (0,5] 5; (5,10] 5.0001; (25,50] 42;
     * (7500,10000] 10000; (10000,+inf) 10001. Upper bounds inclusive. */
    CHECK_EQ_U64(p->bucket_counts[0], 2);
    CHECK_EQ_U64(p->bucket_counts[1], 1);
    CHECK_EQ_U64(p->bucket_counts[2], 1);
    CHECK_EQ_U64(p->bucket_counts[4], 1);
    CHECK_EQ_U64(p->bucket_counts[14], 1);
    CHECK_EQ_U64(p->bucket_counts[15], 1);
    metric_batch_release(&batch);
    /* Custom boundaries from the instrument's advice. */
    double b[] = {1, 2};
    struct metric_desc dd = {.name = "small",
                             .kind = METRIC_HISTOGRAM,
                             .number = METRIC_INT,
                             .boundaries = b,
                             .nboundaries = 2};
    struct metric_instrument *s = metric_instrument_new(&dd);
    REQUIRE(s);
    metric_record_int(s, 2, NULL, 0);
    metric_record_int(s, 3, NULL, 0);
    metric_record_int(h, 1, NULL, 0);
    REQUIRE(metrics_collect(&batch, 2) == 0);
    d = find(&batch, "small");
    REQUIRE(d && d->nboundaries == 2 && d->npoints == 1);
    CHECK_EQ_U64(d->points[0].bucket_counts[1], 1);
    CHECK_EQ_U64(d->points[0].bucket_counts[2], 1);
    d = find(&batch, "latency");
    REQUIRE(d && d->npoints == 1);
    CHECK_EQ_U64(d->points[0].count, 8); /* cumulative */
    CHECK_NEAR(d->points[0].min, -1, 0);
    metric_batch_release(&batch);
}

static void test_histogram_delta_minmax(void) {
    setup(TEMPORALITY_DELTA, HISTOGRAM_EXPLICIT, 0);
    struct metric_instrument *h = make("d", METRIC_HISTOGRAM, METRIC_INT);
    REQUIRE(h);
    metric_record_int(h, 100, NULL, 0);
    metric_record_int(h, 1, NULL, 0);
    struct metric_batch batch;
    REQUIRE(metrics_collect(&batch, 1) == 0);
    CHECK_NEAR(find(&batch, "d")->points[0].min, 1, 0);
    metric_batch_release(&batch);
    metric_record_int(h, 50, NULL, 0);
    REQUIRE(metrics_collect(&batch, 2) == 0);
    const struct metric_point *p = &find(&batch, "d")->points[0];
    CHECK_EQ_U64(p->count, 1);
    CHECK_NEAR(p->min, 50, 0); /* this interval's */
    CHECK_NEAR(p->max, 50, 0);
    metric_batch_release(&batch);
}

static void test_exp_index(void) {
    /* scale 0: buckets (2^i, 2^(i+1)]. */
    CHECK_EQ_INT(metric_exp_index(1, 0), -1);
    CHECK_EQ_INT(metric_exp_index(1.5, 0), 0);
    CHECK_EQ_INT(metric_exp_index(2, 0), 0);
    CHECK_EQ_INT(metric_exp_index(3, 0), 1);
    CHECK_EQ_INT(metric_exp_index(4, 0), 1);
    CHECK_EQ_INT(metric_exp_index(0.75, 0), -1);
    CHECK_EQ_INT(metric_exp_index(0.5, 0), -2);
    /* negative scale: 4 scale-0 buckets per bucket at -2. */
    CHECK_EQ_INT(metric_exp_index(1024, -2), 2); /* scale-0 index 9 */
    CHECK_EQ_INT(metric_exp_index(1025, -2), 2); /* index 10 */
    CHECK_EQ_INT(metric_exp_index(0.75, -2), -1);
    /* positive scale: base 2^(1/2). */
    CHECK_EQ_INT(metric_exp_index(1.2, 1), 0); /* (1, 1.414] */
    CHECK_EQ_INT(metric_exp_index(1.5, 1), 1); /* (1.414, 2] */
    CHECK_EQ_INT(metric_exp_index(2, 1), 1);
    CHECK_EQ_INT(metric_exp_index(2.5, 1), 2);
    CHECK_EQ_INT(metric_exp_index(8, 20), 3 * (1 << 20) - 1);
    /* at scale 20, 1.5 is in bucket ceil(log2(1.5) * 2^20) - 1 = 613377 */
    CHECK_EQ_INT(metric_exp_index(1.5, 20), 613377);
    CHECK_EQ_INT(metric_exp_index(0x1p-1074, 0), -1075); /* smallest subnormal */
    CHECK_EQ_INT(metric_exp_index(1.7976931348623157e308, 0), 1023);
}

static void test_histogram_exponential(void) {
    setup(TEMPORALITY_CUMULATIVE, HISTOGRAM_EXPONENTIAL, 0);
    struct metric_instrument *h = make("exp", METRIC_HISTOGRAM, METRIC_DOUBLE);
    REQUIRE(h);
    metric_record_double(h, 1.5, NULL, 0);
    struct metric_batch batch;
    REQUIRE(metrics_collect(&batch, 1) == 0);
    const struct metric_data *d = find(&batch, "exp");
    REQUIRE(d && d->npoints == 1);
    CHECK_EQ_INT(d->type, METRIC_DATA_EXP_HISTOGRAM);
    const struct metric_point *p = &d->points[0];
    CHECK_EQ_INT(p->scale, 20); /* one value: the max scale */
    CHECK_EQ_INT(p->positive.count, 1);
    CHECK_EQ_INT(p->positive.offset, 613377);
    metric_batch_release(&batch);
    /* 1..1e6 and 0 and negatives: must fit 160 buckets, so the scale
     * drops; every value still counted once, in the right bucket. */
    uint64_t n = 1;
    for (int i = 1; i <= 1000; i++, n++)
        metric_record_double(h, i * 1000.0, NULL, 0);
    metric_record_double(h, 0, NULL, 0);
    metric_record_double(h, -2, NULL, 0);
    metric_record_double(h, -2, NULL, 0);
    REQUIRE(metrics_collect(&batch, 2) == 0);
    p = &find(&batch, "exp")->points[0];
    CHECK_EQ_U64(p->count, n + 3);
    CHECK_EQ_U64(p->zero_count, 1);
    CHECK(p->scale < 20);
    CHECK(p->positive.count <= 160);
    uint64_t sum = 0;
    for (uint32_t i = 0; i < p->positive.count; i++)
        sum += p->positive.counts[i];
    CHECK_EQ_U64(sum, n);
    CHECK_EQ_INT(p->negative.count, 1);
    CHECK_EQ_U64(p->negative.counts[0], 2);
    CHECK_EQ_INT(p->negative.offset, metric_exp_index(2, p->scale));
    /* 1.5 is in the first bucket; 1e6 in the last. */
    CHECK_EQ_INT(p->positive.offset, metric_exp_index(1.5, p->scale));
    CHECK_EQ_INT(p->positive.offset + (int32_t)p->positive.count - 1,
                 metric_exp_index(1e6, p->scale));
    /* The scale is the largest at which 1.5..1e6 fits in 160 buckets. */
    CHECK(metric_exp_index(1e6, p->scale + 1) - metric_exp_index(1.5, p->scale + 1) + 1 > 160);
    CHECK_NEAR(p->min, -2, 0);
    CHECK_NEAR(p->max, 1e6, 0);
    metric_batch_release(&batch);
}

struct obs_state {
    int64_t total;
    double temp;
    int calls;
};

static void observe_cb(struct metric_observer *o, void *ctx) {
    struct obs_state *s = ctx;
    s->calls++;
    struct attr a = sattr("cpu.mode", "user");
    metric_observe_int(o, s->total, &a, 1);
}

static void observe_gauge(struct metric_observer *o, void *ctx) {
    struct obs_state *s = ctx;
    metric_observe_double(o, s->temp, NULL, 0);
}

static void test_observable(void) {
    setup(TEMPORALITY_DELTA, HISTOGRAM_EXPLICIT, 0);
    struct obs_state st = {100, 1.5, 0};
    struct metric_instrument *oc = make("cpu", METRIC_OBSERVABLE_COUNTER, METRIC_INT);
    struct metric_instrument *og = make("g", METRIC_OBSERVABLE_GAUGE, METRIC_DOUBLE);
    struct metric_instrument *c = make("sync", METRIC_COUNTER, METRIC_INT);
    REQUIRE(oc && og && c);
    CHECK(metric_add_callback(oc, observe_cb, &st) == 0);
    CHECK(metric_add_callback(og, observe_gauge, &st) == 0);
    CHECK(metric_add_callback(c, observe_cb, &st) == -EINVAL);
    metric_record_int(oc, 5, NULL, 0); /* ignored: observable */
    struct metric_batch batch;
    REQUIRE(metrics_collect(&batch, 1) == 0);
    CHECK_EQ_INT(st.calls, 1);
    const struct metric_data *d = find(&batch, "cpu");
    REQUIRE(d && d->npoints == 1);
    CHECK(d->monotonic);
    CHECK_EQ_INT(d->temporality, AGG_TEMPORALITY_DELTA);
    CHECK_EQ_INT(d->points[0].value.i, 100);
    d = find(&batch, "g");
    REQUIRE(d && d->npoints == 1);
    CHECK_NEAR(d->points[0].value.d, 1.5, 0);
    metric_batch_release(&batch);
    st.total = 130;
    st.temp = 2;
    REQUIRE(metrics_collect(&batch, 2) == 0);
    d = find(&batch, "cpu");
    REQUIRE(d && d->npoints == 1);
    CHECK_EQ_INT(d->points[0].value.i, 30); /* the delta of two observations */
    metric_batch_release(&batch);
}

static void test_overflow(void) {
    setup(TEMPORALITY_CUMULATIVE, HISTOGRAM_EXPLICIT, 4);
    struct metric_instrument *c = make("card", METRIC_COUNTER, METRIC_INT);
    REQUIRE(c);
    /* 4 = 3 attribute sets + the overflow series. */
    for (int64_t i = 0; i < 10; i++) {
        struct attr a = iattr("i", i);
        metric_record_int(c, 1, &a, 1);
        metric_record_int(c, 1, &a, 1);
    }
    struct metric_batch batch;
    REQUIRE(metrics_collect(&batch, 1) == 0);
    const struct metric_data *d = find(&batch, "card");
    REQUIRE(d);
    CHECK_EQ_INT(d->npoints, 4);
    int64_t total = 0, overflow = 0;
    for (uint32_t i = 0; i < d->npoints; i++) {
        total += d->points[i].value.i;
        const struct attr *o = point_attr(&d->points[i], "otel.metric.overflow");
        if (o) {
            CHECK(o->value.type == ATTR_BOOL && o->value.u.b);
            overflow = d->points[i].value.i;
        }
    }
    CHECK_EQ_INT(total, 20); /* never double counted */
    CHECK_EQ_INT(overflow, 14);
    metric_batch_release(&batch);
}

static void test_exemplars(void) {
    setup(TEMPORALITY_DELTA, HISTOGRAM_EXPLICIT, 0);
    struct metric_instrument *c = make("ex", METRIC_COUNTER, METRIC_INT);
    struct metric_instrument *h = make("exh", METRIC_HISTOGRAM, METRIC_DOUBLE);
    REQUIRE(c && h);
    metric_record_int(c, 1, NULL, 0); /* no span: no exemplar */
    memset(&fake_ctx, 0, sizeof fake_ctx);
    fake_ctx.trace_id[0] = 0xab;
    fake_ctx.span_id[7] = 0xcd;
    fake_has = true; /* a span, not sampled */
    metric_record_int(c, 2, NULL, 0);
    struct metric_batch batch;
    REQUIRE(metrics_collect(&batch, 1) == 0);
    CHECK_EQ_INT(find(&batch, "ex")->points[0].nexemplars, 0);
    metric_batch_release(&batch);
    fake_ctx.flags = TRACE_FLAG_SAMPLED;
    metric_record_int(c, 7, NULL, 0);
    metric_record_double(h, 3.5, NULL, 0);
    REQUIRE(metrics_collect(&batch, 2) == 0);
    const struct metric_point *p = &find(&batch, "ex")->points[0];
    REQUIRE(p->nexemplars == 1);
    CHECK_EQ_INT(p->exemplars[0].value.i, 7);
    CHECK_EQ_INT(p->exemplars[0].trace_id[0], 0xab);
    CHECK_EQ_INT(p->exemplars[0].span_id[7], 0xcd);
    CHECK(p->exemplars[0].time_ns > 0);
    p = &find(&batch, "exh")->points[0];
    REQUIRE(p->nexemplars == 1);
    CHECK_NEAR(p->exemplars[0].value.d, 3.5, 0);
    metric_batch_release(&batch);
    /* always_off: none, even in a sampled span. */
    struct metric_options o = {.exemplars = EXEMPLAR_ALWAYS_OFF,
                               .current_context = fake_context,
                               .temporality = TEMPORALITY_DELTA};
    metrics_configure(&o);
    metric_record_int(c, 1, NULL, 0);
    REQUIRE(metrics_collect(&batch, 3) == 0);
    CHECK_EQ_INT(find(&batch, "ex")->points[0].nexemplars, 0);
    metric_batch_release(&batch);
    /* always_on: even without a span (no ids). */
    o.exemplars = EXEMPLAR_ALWAYS_ON;
    metrics_configure(&o);
    fake_has = false;
    metric_record_int(c, 4, NULL, 0);
    REQUIRE(metrics_collect(&batch, 4) == 0);
    p = &find(&batch, "ex")->points[0];
    REQUIRE(p->nexemplars == 1);
    CHECK_EQ_INT(p->exemplars[0].value.i, 4);
    CHECK_EQ_INT(p->exemplars[0].trace_id[0], 0);
    metric_batch_release(&batch);
}

static void test_identity(void) {
    setup(TEMPORALITY_CUMULATIVE, HISTOGRAM_EXPLICIT, 0);
    struct metric_instrument *a = make("same.name", METRIC_COUNTER, METRIC_INT);
    CHECK(a && make("SAME.name", METRIC_COUNTER, METRIC_INT) == a);
    CHECK(make("same.name", METRIC_GAUGE, METRIC_INT) == NULL);
    CHECK(make("1bad", METRIC_COUNTER, METRIC_INT) == NULL);
    CHECK(make("bad name", METRIC_COUNTER, METRIC_INT) == NULL);
    CHECK(make("", METRIC_COUNTER, METRIC_INT) == NULL);
    struct metric_desc d = {.name = "same.name", .kind = METRIC_COUNTER, .scope = "mine"};
    struct metric_instrument *b = metric_instrument_new(&d);
    CHECK(b && b != a);
    metric_record_int(a, 1, NULL, 0);
    metric_record_int(b, 2, NULL, 0);
    metric_record_int(NULL, 2, NULL, 0);
    struct metric_batch batch;
    REQUIRE(metrics_collect(&batch, 1) == 0);
    REQUIRE(batch.n == 2);
    CHECK_STRN(batch.items[0]->scope.ptr, batch.items[0]->scope.len, "otel-preload");
    CHECK_STRN(batch.items[1]->scope.ptr, batch.items[1]->scope.len, "mine");
    metric_batch_release(&batch);
    CHECK(metrics_any());
    metrics_reset();
    CHECK(!metrics_any());
    REQUIRE(metrics_collect(&batch, 1) == 0);
    CHECK_EQ_INT(batch.n, 0);
    metric_batch_release(&batch);
}

#define ADDS 200000
static struct metric_instrument *shared_c, *shared_h;

static void *adder(void *arg) {
    struct attr a[3] = {sattr("a", "1"), sattr("b", "2"), iattr("c", (intptr_t)arg)};
    for (int i = 0; i < ADDS; i++) {
        metric_record_int(shared_c, 1, a, 3);
        metric_record_double(shared_h, i % 100, a, 3);
    }
    return NULL;
}

static int64_t hist_seen;

static void *collector(void *arg) {
    int64_t *sum = arg;
    for (int i = 0; i < 50; i++) {
        struct metric_batch batch;
        if (metrics_collect(&batch, (uint64_t)i + 10) != 0) continue;
        for (size_t j = 0; j < batch.n; j++)
            if (batch.items[j]->type == METRIC_DATA_SUM)
                for (uint32_t k = 0; k < batch.items[j]->npoints; k++)
                    *sum += batch.items[j]->points[k].value.i;
            else
                for (uint32_t k = 0; k < batch.items[j]->npoints; k++)
                    hist_seen += (int64_t)batch.items[j]->points[k].count;
        metric_batch_release(&batch);
    }
    return NULL;
}

/* The value of the point whose attribute key has string value v, or -1. */
static int64_t value_with(const struct metric_data *d, const char *key, const char *v) {
    const struct metric_point *p = point_with(d, key, v);
    return p ? p->value.i : -1;
}

/* The per-thread cache of the last series: a buffer reused with other
 * contents (same pointer, same length), instruments sharing a cache slot
 * (serials 8 apart), values that differ in their first or last byte at
 * every length the hash and the comparison read differently, a key given
 * twice, and an instrument made after metrics_reset where a freed one
 * was. */
static void test_thread_cache(void) {
    setup(TEMPORALITY_DELTA, HISTOGRAM_EXPLICIT, 0);
    struct metric_instrument *m[10];
    char name[16];
    for (int i = 0; i < 10; i++) {
        snprintf(name, sizeof name, "tc%d", i);
        m[i] = make(name, METRIC_COUNTER, METRIC_INT);
        REQUIRE(m[i]);
    }
    char buf[4] = "v0";
    struct attr a[2] = {iattr("n", 1),
                        {str_cstr("k"), {.type = ATTR_STRING, .u.s = str_of(buf, 2)}}};
    for (int r = 0; r < 30; r++)
        for (int i = 0; i < 10; i++) {
            buf[1] = (char)('0' + r % 3);
            metric_record_int(m[i], i + 1, a, 2);
            metric_record_int(m[i], i + 1, a, 2); /* the cached series again */
        }
    a[0].value.u.i = 2; /* same keys, another int */
    buf[1] = '9';
    metric_record_int(m[0], 100, a, 2);
    struct metric_batch batch;
    REQUIRE(metrics_collect(&batch, T0) == 0);
    for (int i = 0; i < 10; i++) {
        snprintf(name, sizeof name, "tc%d", i);
        const struct metric_data *d = find(&batch, name);
        REQUIRE(d);
        CHECK_EQ_INT(d->npoints, i == 0 ? 4 : 3);
        CHECK_EQ_INT(value_with(d, "k", "v0") + value_with(d, "k", "v1") + value_with(d, "k", "v2"),
                     60 * (i + 1));
    }
    CHECK_EQ_INT(value_with(find(&batch, "tc0"), "k", "v9"), 100);
    metric_batch_release(&batch);

    /* Lengths 0..40: "xx..xa", "xx..xb", "ax..xx", "bx..xx" are 4 series
     * each (one for length 0, two for length 1). */
    struct metric_instrument *c = make("lengths", METRIC_COUNTER, METRIC_INT);
    REQUIRE(c);
    char v[4][41];
    int expect = 0;
    for (int len = 0; len <= 40; len++) {
        for (int k = 0; k < 4; k++) {
            memset(v[k], 'x', (size_t)len);
            v[k][len] = '\0';
            if (len) v[k][k < 2 ? len - 1 : 0] = k % 2 ? 'b' : 'a';
        }
        for (int rep = 0; rep < 2; rep++)
            for (int k = 0; k < 4; k++) {
                struct attr x = {str_cstr("s"),
                                 {.type = ATTR_STRING, .u.s = str_of(v[k], (size_t)len)}};
                metric_record_int(c, 1, &x, 1);
            }
        expect += len == 0 ? 1 : len == 1 ? 2 : 4;
    }
    REQUIRE(metrics_collect(&batch, T0 + 1) == 0);
    const struct metric_data *d = find(&batch, "lengths");
    REQUIRE(d);
    CHECK_EQ_INT(d->npoints, expect);
    int64_t total = 0;
    for (uint32_t i = 0; i < d->npoints; i++)
        total += d->points[i].value.i;
    CHECK_EQ_INT(total, 41 * 8);
    CHECK_EQ_INT(value_with(d, "s", "xxxxxxxxxxxxxxxxxa"), 2 * (1 + 0));
    CHECK_EQ_INT(value_with(d, "s", "xxxxxxxxxxxxxxxxxxa"), 2);
    CHECK_EQ_INT(value_with(d, "s", ""), 8);
    metric_batch_release(&batch);

    /* A set with a key twice after a set of as many attributes: the
     * cached series (compared without a hash) is not it. */
    struct metric_instrument *dup = make("dups", METRIC_COUNTER, METRIC_INT);
    REQUIRE(dup);
    struct attr three[3] = {iattr("a", 1), iattr("b", 2), iattr("c", 3)};
    struct attr twice[3] = {iattr("a", 1), iattr("a", 1), iattr("b", 2)};
    metric_record_int(dup, 1, three, 3);
    metric_record_int(dup, 10, twice, 3);
    REQUIRE(metrics_collect(&batch, T0 + 2) == 0);
    d = find(&batch, "dups");
    REQUIRE(d);
    CHECK_EQ_INT(d->npoints, 2);
    for (uint32_t i = 0; i < d->npoints; i++)
        CHECK_EQ_INT(d->points[i].value.i, d->points[i].nattrs == 3 ? 1 : 10);
    metric_batch_release(&batch);

    /* After a reset, the thread's entry for the freed instrument never
     * matches the new one (LeakSanitizer/ASan: nothing freed is read). */
    metric_record_int(m[3], 1, a, 2);
    setup(TEMPORALITY_DELTA, HISTOGRAM_EXPLICIT, 0);
    struct metric_instrument *again = make("tc3", METRIC_COUNTER, METRIC_INT);
    REQUIRE(again);
    metric_record_int(again, 7, a, 2);
    REQUIRE(metrics_collect(&batch, T0 + 3) == 0);
    d = find(&batch, "tc3");
    REQUIRE(d && d->npoints == 1);
    CHECK_EQ_INT(d->points[0].value.i, 7);
    metric_batch_release(&batch);
}

/* Two threads adding to the same series while a collector takes deltas:
 * every add is in exactly one collection. Inside a sampled span, so the
 * exemplar reservoirs are offered to while the collector empties them
 * (TSan). */
static void test_concurrent(void) {
    setup(TEMPORALITY_DELTA, HISTOGRAM_EXPLICIT, 0);
    fake_ctx = (struct span_context){.trace_id = {7}, .span_id = {8}, .flags = TRACE_FLAG_SAMPLED};
    fake_has = true;
    shared_c = make("conc", METRIC_COUNTER, METRIC_INT);
    shared_h = make("conch", METRIC_HISTOGRAM, METRIC_DOUBLE);
    REQUIRE(shared_c && shared_h);
    pthread_t t[3];
    int64_t seen = 0;
    pthread_create(&t[0], NULL, adder, (void *)(intptr_t)1);
    pthread_create(&t[1], NULL, adder, (void *)(intptr_t)1);
    pthread_create(&t[2], NULL, collector, &seen);
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    struct metric_batch batch;
    REQUIRE(metrics_collect(&batch, 100) == 0);
    const struct metric_data *d = find(&batch, "conc");
    if (d) seen += d->points[0].value.i;
    d = find(&batch, "conch");
    if (d) hist_seen += (int64_t)d->points[0].count;
    CHECK_EQ_INT(seen, 2 * ADDS);
    CHECK_EQ_INT(hist_seen, 2 * ADDS);
    metric_batch_release(&batch);
    CHECK_EQ_U64(metrics_dropped(), 0);
}

int main(void) {
    T0 = clock_now_ns() + 10000000000u;
    RUN(test_counter_cumulative);
    RUN(test_counter_delta);
    RUN(test_lowmemory);
    RUN(test_gauge);
    RUN(test_histogram_explicit);
    RUN(test_histogram_delta_minmax);
    RUN(test_exp_index);
    RUN(test_histogram_exponential);
    RUN(test_observable);
    RUN(test_overflow);
    RUN(test_exemplars);
    RUN(test_identity);
    RUN(test_thread_cache);
    RUN(test_concurrent);
    metrics_reset();
    return test_report("test_metric");
}
