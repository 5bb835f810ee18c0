/* test_retry: the OTLP retry rules on a fake clock: every HTTP status class,
 * every gRPC code (RESOURCE_EXHAUSTED with and without RetryInfo), transport
 * errnos, backoff growth, cap and jitter bounds, a server's delay replacing
 * the backoff, the deadline and attempt limits, and Retry-After as seconds
 * and as an HTTP-date (past, future, malformed, huge). Depends on
 * exporters/retry.h and test.h. */
#include <errno.h>

#include "exporters/retry.h"
#include "tests/unit/test.h"

static void test_http_status(void) {
    for (int s = 100; s < 600; s++) {
        enum retry_verdict want = s >= 200 && s < 300                              ? RETRY_DELIVERED
                                  : (s == 429 || s == 502 || s == 503 || s == 504) ? RETRY_RETRYABLE
                                                                                   : RETRY_DROP;
        test_checks++;
        if (retry_http_status(s) != want) TEST_FAIL_("status %d", s);
    }
    CHECK_EQ_INT(retry_http_status(0), RETRY_DROP);
}

static void test_grpc_status(void) {
    static const int retryable[] = {1, 4, 10, 11, 14, 15};
    for (int c = 0; c <= 16; c++) {
        bool r = false;
        for (size_t i = 0; i < sizeof retryable / sizeof *retryable; i++)
            r |= retryable[i] == c;
        enum retry_verdict want = c == 0 ? RETRY_DELIVERED : r ? RETRY_RETRYABLE : RETRY_DROP;
        test_checks++;
        if (retry_grpc_status(c, false) != want) TEST_FAIL_("code %d", c);
        if (c != GRPC_RESOURCE_EXHAUSTED && retry_grpc_status(c, true) != want)
            TEST_FAIL_("code %d with RetryInfo", c);
    }
    CHECK_EQ_INT(retry_grpc_status(GRPC_RESOURCE_EXHAUSTED, false), RETRY_DROP);
    CHECK_EQ_INT(retry_grpc_status(GRPC_RESOURCE_EXHAUSTED, true), RETRY_RETRYABLE);
    CHECK_EQ_INT(retry_grpc_status(99, true), RETRY_DROP);
}

static void test_errno(void) {
    CHECK_EQ_INT(retry_errno(-ECONNREFUSED), RETRY_RETRYABLE);
    CHECK_EQ_INT(retry_errno(-ECONNRESET), RETRY_RETRYABLE);
    CHECK_EQ_INT(retry_errno(-EPIPE), RETRY_RETRYABLE);
    CHECK_EQ_INT(retry_errno(-EHOSTUNREACH), RETRY_RETRYABLE);
    CHECK_EQ_INT(retry_errno(-ENETUNREACH), RETRY_RETRYABLE);
    CHECK_EQ_INT(retry_errno(-ETIMEDOUT), RETRY_RETRYABLE);
    CHECK_EQ_INT(retry_errno(-E2BIG), RETRY_DROP);
    CHECK_EQ_INT(retry_errno(-EPROTO), RETRY_DROP);
    CHECK_EQ_INT(retry_errno(-ENOMEM), RETRY_DROP);
    CHECK_EQ_INT(retry_errno(-EAGAIN), RETRY_DROP);
}

#define MS 1000000ull

static void test_backoff(void) {
    const struct retry_policy p = {100 * MS, 1000 * MS, 10};
    /* rnd 0: half the base; rnd max: just under 1.5 x base. */
    CHECK_EQ_U64(retry_backoff_ns(&p, 0, 0), 50 * MS);
    CHECK_EQ_U64(retry_backoff_ns(&p, 1, 0), 100 * MS);
    CHECK_EQ_U64(retry_backoff_ns(&p, 2, 0), 200 * MS);
    CHECK_EQ_U64(retry_backoff_ns(&p, 3, 0), 400 * MS);
    CHECK_EQ_U64(retry_backoff_ns(&p, 4, 0), 500 * MS); /* capped at 1 s */
    CHECK_EQ_U64(retry_backoff_ns(&p, 60, 0), 500 * MS);
    CHECK_EQ_U64(retry_backoff_ns(&p, 1000, 0), 500 * MS); /* no overflow */
    uint64_t top = retry_backoff_ns(&p, 0, UINT64_MAX);
    CHECK(top < 150 * MS && top > 149 * MS);
    CHECK_EQ_U64(retry_backoff_ns(&p, 0, 1ull << 63), 100 * MS); /* the middle */
    /* Jitter spreads: many draws, all in [0.5, 1.5) x base, not all equal. */
    uint64_t x = 88172645463325252ull, lo = UINT64_MAX, hi = 0;
    for (int i = 0; i < 1000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        uint64_t w = retry_backoff_ns(&p, 2, x);
        lo = w < lo ? w : lo;
        hi = w > hi ? w : hi;
    }
    CHECK(lo >= 200 * MS && hi < 600 * MS && hi - lo > 300 * MS); /* base 400 ms */
    const struct retry_policy zero = {0, 0, 3};
    CHECK(retry_backoff_ns(&zero, 0, 0) > 0);
}

static void test_next_bounded_by_deadline(void) {
    const struct retry_policy p = {100 * MS, 5000 * MS, 5};
    uint64_t now = 1000 * MS, wait = 0;
    /* Plenty of time: the backoff. */
    CHECK(retry_next(&p, 0, -1, now, now + 10000 * MS, 0, &wait));
    CHECK_EQ_U64(wait, 50 * MS);
    /* A server delay replaces it, also a shorter one, also zero. */
    CHECK(retry_next(&p, 0, 2000 * MS, now, now + 10000 * MS, 0, &wait));
    CHECK_EQ_U64(wait, 2000 * MS);
    CHECK(retry_next(&p, 3, 1 * MS, now, now + 10000 * MS, 0, &wait));
    CHECK_EQ_U64(wait, 1 * MS);
    CHECK(retry_next(&p, 0, 0, now, now + 10000 * MS, 0, &wait));
    CHECK_EQ_U64(wait, 0);
    /* A wait that would end at or past the deadline: give up now. */
    CHECK(!retry_next(&p, 0, 2000 * MS, now, now + 2000 * MS, 0, &wait));
    CHECK(!retry_next(&p, 0, 30000 * MS, now, now + 10000 * MS, 0, &wait));
    CHECK(!retry_next(&p, 0, -1, now, now + 50 * MS, 0, &wait));
    CHECK(!retry_next(&p, 0, -1, now, now, 0, &wait));
    CHECK(!retry_next(&p, 0, -1, now + 1, now, 0, &wait));
    /* The attempt limit: attempts 0..3 may retry, the 5th try is the last. */
    CHECK(retry_next(&p, 3, -1, now, UINT64_MAX, 0, &wait));
    CHECK(!retry_next(&p, 4, -1, now, UINT64_MAX, 0, &wait));
}

/* A simulated export against a server that always says 503: on a fake
 * clock, every try and wait together stay within the deadline. */
static void test_simulated_export_stays_in_deadline(void) {
    const struct retry_policy *p = &retry_default_policy;
    for (uint64_t budget = 0; budget <= 12000 * MS; budget += 250 * MS) {
        uint64_t now = 5000 * MS, deadline = now + budget, rnd = 12345;
        unsigned attempt = 0;
        uint64_t wait;
        for (;; attempt++) {
            now += 3 * MS; /* the try itself */
            rnd = rnd * 6364136223846793005ull + 1442695040888963407ull;
            if (!retry_next(p, attempt, -1, now, deadline, rnd, &wait)) break;
            now += wait;
        }
        test_checks++;
        if (now > deadline + 3 * MS || attempt >= p->max_attempts)
            TEST_FAIL_("budget %llu ms: ended at +%llu ms after %u tries",
                       (unsigned long long)(budget / MS),
                       (unsigned long long)((now - (deadline - budget)) / MS), attempt + 1);
    }
}

static void test_retry_after(void) {
    const int64_t now = 784111777; /* Sun, 06 Nov 1994 08:49:37 GMT */
    CHECK_EQ_INT(retry_after_parse("0", now), 0);
    CHECK_EQ_INT(retry_after_parse("7", now), 7);
    CHECK_EQ_INT(retry_after_parse(" 120 ", now), 120);
    CHECK_EQ_INT(retry_after_parse("99999999999999999999999", now), 86400);
    CHECK_EQ_INT(retry_after_parse("Sun, 06 Nov 1994 08:49:37 GMT", now), 0);
    CHECK_EQ_INT(retry_after_parse("Sun, 06 Nov 1994 08:49:47 GMT", now), 10);
    CHECK_EQ_INT(retry_after_parse("Mon, 07 Nov 1994 08:49:36 GMT", now), 86399);
    CHECK_EQ_INT(retry_after_parse("Sat, 05 Nov 1994 08:49:37 GMT", now), 0); /* past */
    CHECK_EQ_INT(retry_after_parse("Fri, 01 Jan 2100 00:00:00 GMT", now), 86400);
    CHECK_EQ_INT(retry_after_parse("Thu, 29 Feb 2024 12:00:00 GMT", 1709208000 - 60), 60);
    CHECK_EQ_INT(retry_after_parse("Thu, 01 Jan 1970 00:00:05 GMT", 0), 5);
    static const char *const bad[] = {"",
                                      "soon",
                                      "-5",
                                      "5s",
                                      "1.5",
                                      "Sun, 06 Nov 1994 08:49:37",
                                      "Sun, 06 Xyz 1994 08:49:37 GMT",
                                      "Sun, 6 Nov 1994 08:49:37 GMT",
                                      "Sun, 06 Nov 1994 25:49:37 GMT",
                                      "Sunday, 06-Nov-94 08:49:37 GMT"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        test_checks++;
        if (retry_after_parse(bad[i], now) != -1) TEST_FAIL_("'%s' parsed", bad[i]);
    }
}

int main(void) {
    RUN(test_http_status);
    RUN(test_grpc_status);
    RUN(test_errno);
    RUN(test_backoff);
    RUN(test_next_bounded_by_deadline);
    RUN(test_simulated_export_stays_in_deadline);
    RUN(test_retry_after);
    return test_report("retry");
}
