/* test_sampler: should_sample for every built-in sampler, with no parent and
 * with sampled and unsampled parents (remote and local), and the ratio
 * sampler's edges and statistics over random trace ids. Depends on
 * core/sampler.h, core/ids.h and test.h. */
#include "core/ids.h"
#include "core/sampler.h"
#include "tests/unit/test.h"

static struct span_context parent(bool sampled, bool remote) {
    struct span_context c = {.flags = sampled ? TRACE_FLAG_SAMPLED : 0, .remote = remote};
    memset(c.trace_id, 0x11, 16);
    memset(c.span_id, 0x22, 8);
    return c;
}

static void test_root_spans(void) {
    uint8_t tid[16];
    memset(tid, 0xab, 16);
    CHECK(sampler_should_sample(SAMPLER_ALWAYS_ON, 1.0, NULL, tid));
    CHECK(!sampler_should_sample(SAMPLER_ALWAYS_OFF, 1.0, NULL, tid));
    CHECK(sampler_should_sample(SAMPLER_PARENTBASED_ALWAYS_ON, 1.0, NULL, tid));
    CHECK(!sampler_should_sample(SAMPLER_PARENTBASED_ALWAYS_OFF, 1.0, NULL, tid));
    CHECK(sampler_should_sample(SAMPLER_TRACEIDRATIO, 1.0, NULL, tid));
    CHECK(!sampler_should_sample(SAMPLER_TRACEIDRATIO, 0.0, NULL, tid));
    CHECK(sampler_should_sample(SAMPLER_PARENTBASED_TRACEIDRATIO, 1.0, NULL, tid));
    CHECK(!sampler_should_sample(SAMPLER_PARENTBASED_TRACEIDRATIO, 0.0, NULL, tid));
}

static void test_with_parents(void) {
    uint8_t tid[16];
    memset(tid, 0xab, 16);
    for (int remote = 0; remote < 2; remote++) {
        struct span_context yes = parent(true, remote), no = parent(false, remote);
        /* The non-parent-based samplers ignore the parent. */
        CHECK(sampler_should_sample(SAMPLER_ALWAYS_ON, 1.0, &no, tid));
        CHECK(!sampler_should_sample(SAMPLER_ALWAYS_OFF, 1.0, &yes, tid));
        CHECK(sampler_should_sample(SAMPLER_TRACEIDRATIO, 1.0, &no, tid));
        CHECK(!sampler_should_sample(SAMPLER_TRACEIDRATIO, 0.0, &yes, tid));
        /* The parent-based ones follow it, whatever their root rule. */
        for (int k = SAMPLER_PARENTBASED_ALWAYS_ON; k <= SAMPLER_PARENTBASED_TRACEIDRATIO; k++) {
            CHECK(sampler_should_sample((enum sampler_kind)k, 0.0, &yes, tid));
            CHECK(sampler_should_sample((enum sampler_kind)k, 1.0, &yes, tid));
            CHECK(!sampler_should_sample((enum sampler_kind)k, 0.0, &no, tid));
            CHECK(!sampler_should_sample((enum sampler_kind)k, 1.0, &no, tid));
        }
    }
}

/* The ratio decision depends on the trace id's last 8 bytes only. */
static void test_ratio_edges(void) {
    uint8_t low[16] = {0}, high[16];
    memset(high, 0xff, 16);
    low[15] = 1;
    CHECK(sampler_should_sample(SAMPLER_TRACEIDRATIO, 0.5, NULL, low));
    CHECK(!sampler_should_sample(SAMPLER_TRACEIDRATIO, 0.5, NULL, high));
    CHECK(sampler_should_sample(SAMPLER_TRACEIDRATIO, 1e-9, NULL, low));
    CHECK(!sampler_should_sample(SAMPLER_TRACEIDRATIO, 0.999999, NULL, high));
    CHECK(sampler_should_sample(SAMPLER_TRACEIDRATIO, 1.0, NULL, high));
    CHECK(!sampler_should_sample(SAMPLER_TRACEIDRATIO, 0.0, NULL, low));
    /* The first 8 bytes do not matter. */
    uint8_t a[16] = {0}, b[16];
    memset(b, 0xff, 8);
    memset(b + 8, 0, 8);
    a[12] = 0x70;
    b[12] = 0x70;
    for (int i = 1; i < 10; i++) {
        double r = i / 10.0;
        CHECK_EQ_INT(sampler_should_sample(SAMPLER_TRACEIDRATIO, r, NULL, a),
                     sampler_should_sample(SAMPLER_TRACEIDRATIO, r, NULL, b));
    }
    /* Monotone: sampled at ratio r means sampled at every larger ratio. */
    uint8_t t[16];
    for (int n = 0; n < 200; n++) {
        ids_new_trace_id(t);
        bool was = false;
        for (int i = 0; i <= 20; i++) {
            bool now = sampler_should_sample(SAMPLER_TRACEIDRATIO, i / 20.0, NULL, t);
            if (was) CHECK(now);
            was = now;
        }
        CHECK(was); /* ratio 1 */
    }
}

static void test_ratio_statistics(void) {
    const int n = 10000;
    int sampled[3] = {0};
    static const double ratios[3] = {0.0, 0.5, 1.0};
    for (int i = 0; i < n; i++) {
        uint8_t tid[16];
        ids_new_trace_id(tid);
        for (int r = 0; r < 3; r++) {
            sampled[r] += sampler_should_sample(SAMPLER_TRACEIDRATIO, ratios[r], NULL, tid);
            /* A root under parentbased_traceidratio decides the same way. */
            CHECK_EQ_INT(
                sampler_should_sample(SAMPLER_PARENTBASED_TRACEIDRATIO, ratios[r], NULL, tid),
                sampler_should_sample(SAMPLER_TRACEIDRATIO, ratios[r], NULL, tid));
        }
    }
    CHECK_EQ_INT(sampled[0], 0);
    CHECK(sampled[1] >= n * 4 / 10 && sampled[1] <= n * 6 / 10);
    CHECK_EQ_INT(sampled[2], n);
    if (sampled[1] < n * 4 / 10 || sampled[1] > n * 6 / 10)
        fprintf(stderr, "ratio 0.5 sampled %d of %d\n", sampled[1], n);
}

static void test_unknown_kind(void) {
    uint8_t tid[16] = {1};
    /* An out-of-range kind samples (fail open: keep telemetry). */
    CHECK(sampler_should_sample((enum sampler_kind)99, 0.0, NULL, tid));
}

int main(void) {
    RUN(test_root_spans);
    RUN(test_with_parents);
    RUN(test_ratio_edges);
    RUN(test_ratio_statistics);
    RUN(test_unknown_kind);
    return test_report("sampler");
}
