/* test_context: W3C traceparent parsing (valid, invalid, future versions)
 * and formatting round trips, tracestate validity, span_context_valid and
 * hex_encode. Depends on core/context.h and test.h. */
#include <errno.h>
#include <stdlib.h>

#include "core/context.h"
#include "tests/unit/test.h"

#define TID "0af7651916cd43dd8448eb211c80319c"
#define SID "b7ad6b7169203331"

static const uint8_t tid_bytes[16] = {0x0a, 0xf7, 0x65, 0x19, 0x16, 0xcd, 0x43, 0xdd,
                                      0x84, 0x48, 0xeb, 0x21, 0x1c, 0x80, 0x31, 0x9c};
static const uint8_t sid_bytes[8] = {0xb7, 0xad, 0x6b, 0x71, 0x69, 0x20, 0x33, 0x31};

static void test_parse_valid(void) {
    struct span_context c;
    REQUIRE(traceparent_parse("00-" TID "-" SID "-01", &c) == 0);
    CHECK_MEM(c.trace_id, tid_bytes, 16);
    CHECK_MEM(c.span_id, sid_bytes, 8);
    CHECK_EQ_INT(c.flags, TRACE_FLAG_SAMPLED);
    CHECK(c.remote);
    CHECK(span_context_valid(&c));

    CHECK_EQ_INT(traceparent_parse("00-" TID "-" SID "-00", &c), 0);
    CHECK_EQ_INT(c.flags, 0);
    /* Version 00 knows only the sampled bit; the others are ignored. */
    CHECK_EQ_INT(traceparent_parse("00-" TID "-" SID "-09", &c), 0);
    CHECK_EQ_INT(c.flags, TRACE_FLAG_SAMPLED);
    CHECK_EQ_INT(traceparent_parse("00-" TID "-" SID "-fe", &c), 0);
    CHECK_EQ_INT(c.flags, 0);
}

static void test_parse_future_versions(void) {
    struct span_context c;
    CHECK_EQ_INT(traceparent_parse("01-" TID "-" SID "-01", &c), 0);
    CHECK_MEM(c.trace_id, tid_bytes, 16);
    CHECK_EQ_INT(traceparent_parse("cc-" TID "-" SID "-01-what-the-future-will-be-like", &c), 0);
    CHECK_MEM(c.span_id, sid_bytes, 8);
    CHECK_EQ_INT(c.flags & TRACE_FLAG_SAMPLED, TRACE_FLAG_SAMPLED);
    /* A longer future value must continue with '-'. */
    CHECK_EQ_INT(traceparent_parse("01-" TID "-" SID "-01x", &c), -EINVAL);
    CHECK_EQ_INT(traceparent_parse("01-" TID "-" SID "-01.extra", &c), -EINVAL);
}

static void test_parse_invalid(void) {
    static const char *const bad[] = {
        "",
        "00",
        "ff-" TID "-" SID "-01",                          /* version ff is invalid */
        "00-0AF7651916CD43DD8448EB211C80319C-" SID "-01", /* upper-case trace id */
        "00-" TID "-B7AD6B7169203331-01",                 /* upper-case span id */
        "00-" TID "-" SID "-0A",                          /* upper-case flags */
        "0A-" TID "-" SID "-01",                          /* upper-case version */
        "00-00000000000000000000000000000000-" SID "-01", /* zero trace id */
        "00-" TID "-0000000000000000-01",                 /* zero span id */
        "00-" TID "-" SID "-01-",                         /* v00 is exactly 55 */
        "00-" TID "-" SID "-01-extra",                    /* v00 has no extra fields */
        "00-" TID "-" SID "-1",                           /* too short */
        "00-" TID "0-" SID "-01",                         /* trace id too long */
        "00-" TID "-" SID "0-1",                          /* span id too long */
        "00_" TID "-" SID "-01",                          /* bad separators */
        "00-" TID "_" SID "-01",
        "00-" TID "-" SID "_01",
        "00 " TID " " SID " 01",
        "00-" TID "-" SID "-0g", /* not hex */
        "0g-" TID "-" SID "-01",
        "00-0af7651916cd43dd8448eb211c80319x-" SID "-01",
        "00-" TID "-b7ad6b716920333z-01",
        " 00-" TID "-" SID "-01", /* leading space */
        "00-" TID "-" SID "-01 ", /* trailing space */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct span_context c;
        memset(&c, 0x5a, sizeof c);
        int rc = traceparent_parse(bad[i], &c);
        test_checks++;
        if (rc != -EINVAL) TEST_FAIL_("traceparent '%s' parsed (rc %d)", bad[i], rc);
        test_checks++;
        if (c.flags != 0x5a) TEST_FAIL_("traceparent '%s' wrote out", bad[i]);
    }
    struct span_context c;
    CHECK_EQ_INT(traceparent_parse(NULL, &c), -EINVAL);
}

static void test_format_round_trip(void) {
    struct span_context c = {.flags = TRACE_FLAG_SAMPLED};
    memcpy(c.trace_id, tid_bytes, 16);
    memcpy(c.span_id, sid_bytes, 8);
    char out[TRACEPARENT_LEN + 1];
    memset(out, 'z', sizeof out);
    traceparent_format(&c, out);
    CHECK_STR(out, "00-" TID "-" SID "-01");
    CHECK_EQ_INT(strlen(out), TRACEPARENT_LEN);

    /* Many random contexts: format, parse, compare. */
    srand(12345);
    for (int n = 0; n < 1000; n++) {
        struct span_context a = {0}, b;
        for (int i = 0; i < 16; i++)
            a.trace_id[i] = (uint8_t)rand();
        for (int i = 0; i < 8; i++)
            a.span_id[i] = (uint8_t)rand();
        a.trace_id[n % 16] |= 1; /* never all zero */
        a.span_id[n % 8] |= 1;
        a.flags = (uint8_t)(n & 1);
        traceparent_format(&a, out);
        REQUIRE(traceparent_parse(out, &b) == 0);
        CHECK_MEM(a.trace_id, b.trace_id, 16);
        CHECK_MEM(a.span_id, b.span_id, 8);
        CHECK_EQ_INT(a.flags, b.flags);
    }
}

static void test_span_context_valid(void) {
    struct span_context c = {0};
    CHECK(!span_context_valid(&c));
    c.trace_id[15] = 1;
    CHECK(!span_context_valid(&c));
    c.span_id[0] = 1;
    CHECK(span_context_valid(&c));
    c.trace_id[15] = 0;
    CHECK(!span_context_valid(&c));
}

static void test_hex_encode(void) {
    char out[33] = {0};
    hex_encode(tid_bytes, 16, out);
    CHECK_STR(out, TID);
    const uint8_t edge[4] = {0x00, 0x0f, 0xf0, 0xff};
    char small[9] = {0};
    hex_encode(edge, 4, small);
    CHECK_STR(small, "000ff0ff");
}

/* n members "k<i>=v" joined by commas, in buf. */
static const char *members(char *buf, size_t cap, int n) {
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < n; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%sk%d=v", i ? "," : "", i);
    return buf;
}

static void test_tracestate(void) {
    char buf[2048];
    CHECK(tracestate_valid("congo=t61rcWkgMzE"));
    CHECK(tracestate_valid("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"));
    CHECK(tracestate_valid("rojo=00f067aa0ba902b7 , congo=t61rcWkgMzE"));
    CHECK(tracestate_valid("tenant1@vendor=x"));
    CHECK(tracestate_valid("a_b-c*d/e=value with spaces"));
    CHECK(tracestate_valid("a=1,,b=2")); /* empty list-members are allowed */
    CHECK(tracestate_valid(",a=1,"));
    CHECK(tracestate_valid("a=1, ,b=2"));
    CHECK(tracestate_valid(""));
    CHECK(tracestate_valid(members(buf, sizeof buf, 32)));
    CHECK(!tracestate_valid(members(buf, sizeof buf, 33)));

    CHECK(!tracestate_valid(NULL));
    CHECK(!tracestate_valid("Congo=x"));  /* upper-case key */
    CHECK(!tracestate_valid("_congo=x")); /* must start with a letter or digit */
    CHECK(!tracestate_valid("=x"));
    CHECK(!tracestate_valid("con go=x"));
    CHECK(!tracestate_valid("congo"));
    CHECK(!tracestate_valid("congo="));
    CHECK(!tracestate_valid("congo=  "));
    CHECK(!tracestate_valid("a=b=c"));
    CHECK(!tracestate_valid("a=\x01"));
    CHECK(!tracestate_valid("a=caf\xc3\xa9"));
    CHECK(!tracestate_valid("a=1,Bad=2"));

    /* 512 bytes is the limit. */
    memset(buf, 'x', sizeof buf);
    memcpy(buf, "k=", 2);
    buf[256 + 2] = '\0'; /* value of 256: the longest allowed */
    CHECK(tracestate_valid(buf));
    buf[257 + 2] = '\0'; /* 257 */
    buf[256 + 2] = 'x';
    CHECK(!tracestate_valid(buf));
    /* two members of 255 bytes each = 511 bytes */
    char two[1024];
    memset(two, 'y', sizeof two);
    memcpy(two, "a=", 2);
    two[255] = ',';
    memcpy(two + 256, "b=", 2);
    two[511] = '\0';
    CHECK(tracestate_valid(two));
    memcpy(two + 511, "9", 2); /* 512 */
    CHECK(tracestate_valid(two));
    memcpy(two + 512, "9", 2); /* 513 */
    CHECK(!tracestate_valid(two));
}

/* W3C: a key is at most 256 characters (simple-key: lcalpha and up to 255
 * more). */
static void test_tracestate_key_length(void) {
    char buf[400];
    memset(buf, 'k', sizeof buf);
    memcpy(buf + 256, "=v", 3);
    CHECK(tracestate_valid(buf)); /* a 256-character key */
    memset(buf, 'k', sizeof buf);
    memcpy(buf + 257, "=v", 3);
    CHECK(!tracestate_valid(buf)); /* 257 characters */
}

int main(void) {
    RUN(test_parse_valid);
    RUN(test_parse_future_versions);
    RUN(test_parse_invalid);
    RUN(test_format_round_trip);
    RUN(test_span_context_valid);
    RUN(test_hex_encode);
    RUN(test_tracestate);
    RUN(test_tracestate_key_length);
    return test_report("context");
}
