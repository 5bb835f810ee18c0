/* test.h: the unit tests' harness, no framework. CHECK macros count checks,
 * print file:line, the expression and both values on failure, and carry on;
 * REQUIRE returns from the current test function when a later step would
 * crash. RUN names the test being run; test_report() prints a summary and is
 * main's return value (non-zero when anything failed). Each test executable
 * includes this once. Depends on libc. */
#ifndef OTELP_TESTS_UNIT_TEST_H
#define OTELP_TESTS_UNIT_TEST_H

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static unsigned test_checks, test_failures;
static const char *test_current = "";

#define TEST_FAIL_(fmt, ...)                                                                       \
    do {                                                                                           \
        test_failures++;                                                                           \
        fprintf(stderr, "%s:%d: %s: " fmt "\n", __FILE__, __LINE__, test_current, __VA_ARGS__);    \
    } while (0)

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        test_checks++;                                                                             \
        if (!(cond)) TEST_FAIL_("CHECK(%s) failed", #cond);                                        \
    } while (0)

/* Like CHECK, but leaves the calling (void) test function on failure. */
#define REQUIRE(cond)                                                                              \
    do {                                                                                           \
        test_checks++;                                                                             \
        if (!(cond)) {                                                                             \
            TEST_FAIL_("REQUIRE(%s) failed", #cond);                                               \
            return;                                                                                \
        }                                                                                          \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                                         \
    do {                                                                                           \
        long long chk_a_ = (long long)(a), chk_b_ = (long long)(b);                                \
        test_checks++;                                                                             \
        if (chk_a_ != chk_b_) TEST_FAIL_("%s == %s: %lld != %lld", #a, #b, chk_a_, chk_b_);        \
    } while (0)

#define CHECK_EQ_U64(a, b)                                                                         \
    do {                                                                                           \
        uint64_t chk_a_ = (uint64_t)(a), chk_b_ = (uint64_t)(b);                                   \
        test_checks++;                                                                             \
        if (chk_a_ != chk_b_)                                                                      \
            TEST_FAIL_("%s == %s: %" PRIu64 " != %" PRIu64, #a, #b, chk_a_, chk_b_);               \
    } while (0)

#define CHECK_NEAR(a, b, eps)                                                                      \
    do {                                                                                           \
        double chk_a_ = (double)(a), chk_b_ = (double)(b);                                         \
        test_checks++;                                                                             \
        if (!(fabs(chk_a_ - chk_b_) <= (eps)))                                                     \
            TEST_FAIL_("%s ~= %s: %.17g != %.17g", #a, #b, chk_a_, chk_b_);                        \
    } while (0)

/* Strings; NULL is printed as (null) and equals only NULL. */
#define CHECK_STR(a, b)                                                                            \
    do {                                                                                           \
        const char *chk_a_ = (a), *chk_b_ = (b);                                                   \
        test_checks++;                                                                             \
        if ((chk_a_ == NULL) != (chk_b_ == NULL) || (chk_a_ && strcmp(chk_a_, chk_b_)))            \
            TEST_FAIL_("%s == %s: \"%s\" != \"%s\"", #a, #b, chk_a_ ? chk_a_ : "(null)",           \
                       chk_b_ ? chk_b_ : "(null)");                                                \
    } while (0)

/* A counted string (pointer and length) against a C string. */
#define CHECK_STRN(ptr, len, b)                                                                    \
    do {                                                                                           \
        const char *chk_p_ = (ptr), *chk_b_ = (b);                                                 \
        size_t chk_n_ = (size_t)(len);                                                             \
        test_checks++;                                                                             \
        if (chk_n_ != strlen(chk_b_) || (chk_n_ && memcmp(chk_p_, chk_b_, chk_n_)))                \
            TEST_FAIL_("%s == %s: \"%.*s\" != \"%s\"", #ptr, #b, (int)chk_n_,                      \
                       chk_p_ ? chk_p_ : "", chk_b_);                                              \
    } while (0)

#define CHECK_MEM(a, b, n)                                                                         \
    do {                                                                                           \
        test_checks++;                                                                             \
        if (memcmp((a), (b), (n)))                                                                 \
            TEST_FAIL_("%s and %s differ in %zu bytes", #a, #b, (size_t)(n));                      \
    } while (0)

#define RUN(fn)                                                                                    \
    do {                                                                                           \
        test_current = #fn;                                                                        \
        fn();                                                                                      \
    } while (0)

static inline int test_report(const char *name) {
    fprintf(stderr, "%s: %u checks, %u failed\n", name, test_checks, test_failures);
    return test_failures ? 1 : 0;
}

#endif
