/* test_otlp_response: partial_success from protobuf and JSON responses
 * (absent, present, malformed, truncated, unknown fields skipped, huge
 * counts), gRPC RetryInfo in grpc-status-details-bin (with and without a
 * delay, other detail types, bad base64), and grpc-message decoding.
 * Depends on exporters/otlp_response.h and test.h. */
#include <errno.h>

#include "exporters/otlp_response.h"
#include "tests/unit/test.h"

static void test_proto(void) {
    int64_t rej;
    char msg[64];
    /* {partial_success {rejected 3, error_message "bad"}} */
    static const uint8_t full[] = {0x0a, 0x07, 0x08, 0x03, 0x12, 0x03, 'b', 'a', 'd'};
    CHECK_EQ_INT(otlp_partial_success_proto(full, sizeof full, &rej, msg, sizeof msg), 0);
    CHECK_EQ_INT(rej, 3);
    CHECK_STR(msg, "bad");
    /* Empty response: nothing rejected. */
    CHECK_EQ_INT(otlp_partial_success_proto(full, 0, &rej, msg, sizeof msg), 0);
    CHECK_EQ_INT(rej, 0);
    CHECK_STR(msg, "");
    /* Unknown fields of every wire type are skipped, a big varint count. */
    static const uint8_t odd[] = {0x10, 0x01, 0x19, 1,    2,   3,    4,    5,    6,    7,    8,
                                  0x25, 1,    2,    3,    4,   0x0a, 0x09, 0x08, 0xff, 0xff, 0x03,
                                  0x18, 0x01, 0x22, 0x01, 'x', 0x2d, 0x1,  0x2,  0x3,  0x4};
    CHECK_EQ_INT(otlp_partial_success_proto(odd, sizeof odd - 5, &rej, msg, sizeof msg), 0);
    CHECK_EQ_INT(rej, 65535);
    /* Control bytes in the message become '?', a long one is cut. */
    static const uint8_t ctl[] = {0x0a, 0x06, 0x12, 0x04, 'a', '\n', 'b', 0x7f};
    CHECK_EQ_INT(otlp_partial_success_proto(ctl, sizeof ctl, &rej, msg, 3), 0);
    CHECK_STR(msg, "a?");
    /* Malformed: a length past the end, a bad wire type, a truncated
     * varint, field 0. */
    static const uint8_t past[] = {0x0a, 0x09, 0x08, 0x03};
    static const uint8_t wt[] = {0x0f, 0x00};
    static const uint8_t trunc[] = {0x0a, 0x02, 0x08, 0x80};
    static const uint8_t zero[] = {0x00, 0x00};
    static const uint8_t fixed_short[] = {0x0a, 0x03, 0x19, 0x01, 0x02};
    CHECK_EQ_INT(otlp_partial_success_proto(past, sizeof past, &rej, msg, sizeof msg), -EPROTO);
    CHECK_EQ_INT(otlp_partial_success_proto(wt, sizeof wt, &rej, msg, sizeof msg), -EPROTO);
    CHECK_EQ_INT(otlp_partial_success_proto(trunc, sizeof trunc, &rej, msg, sizeof msg), -EPROTO);
    CHECK_EQ_INT(rej, 0);
    CHECK_EQ_INT(otlp_partial_success_proto(zero, sizeof zero, &rej, msg, sizeof msg), -EPROTO);
    CHECK_EQ_INT(otlp_partial_success_proto(fixed_short, sizeof fixed_short, &rej, msg, sizeof msg),
                 -EPROTO);
    /* A negative count (int64 as a 10-byte varint) is no rejection. */
    static const uint8_t neg[] = {0x0a, 0x0b, 0x08, 0xff, 0xff, 0xff, 0xff,
                                  0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    CHECK_EQ_INT(otlp_partial_success_proto(neg, sizeof neg, &rej, msg, sizeof msg), 0);
    CHECK_EQ_INT(rej, 0);
}

static void test_json(void) {
    int64_t rej;
    char msg[64];
#define J(s, want_rc, want_rej, want_msg)                                                          \
    do {                                                                                           \
        CHECK_EQ_INT(otlp_partial_success_json(s, strlen(s), &rej, msg, sizeof msg), want_rc);     \
        CHECK_EQ_INT(rej, want_rej);                                                               \
        CHECK_STR(msg, want_msg);                                                                  \
    } while (0)
    J("{}", 0, 0, "");
    J("", 0, 0, "");
    J("{\"partialSuccess\":{}}", 0, 0, "");
    J("{\"partialSuccess\":{\"rejectedSpans\":\"12\",\"errorMessage\":\"too \\\"old\\\"\"}}", 0, 12,
      "too \"old\"");
    J("{ \"partialSuccess\" : { \"rejectedLogRecords\" : 7 } }", 0, 7, "");
    J("{\"partialSuccess\":{\"errorMessage\":\"a\\nb\",\"rejectedDataPoints\":\"1\"}}", 0, 1,
      "anb");
    J("{\"partialSuccess\":{\"rejectedSpans\":\"x\"}}", -EPROTO, 0, "");
    J("{\"partialSuccess\":{\"rejectedSpans\"}}", -EPROTO, 0, "");
    J("{\"partialSuccess\":{\"rejectedSpans\":\"99999999999999999999999\"}}", 0, 999999999999999999,
      ""); /* stops before overflowing */
#undef J
}

static void test_retry_info(void) {
    /* Status{code 8, message "m", details [Any{type RetryInfo, value
     * RetryInfo{retry_delay Duration{seconds 1, nanos 500000000}}}]},
     * base64 without padding, as gRPC sends it. */
    static const uint8_t status[] = {
        0x08, 0x08, 0x12, 0x01, 'm',  0x1a, 0x36, 0x0a, 0x28, 't',  'y',  'p',  'e', '.', 'g', 'o',
        'o',  'g',  'l',  'e',  'a',  'p',  'i',  's',  '.',  'c',  'o',  'm',  '/', 'g', 'o', 'o',
        'g',  'l',  'e',  '.',  'r',  'p',  'c',  '.',  'R',  'e',  't',  'r',  'y', 'I', 'n', 'f',
        'o',  0x12, 0x0a, 0x0a, 0x08, 0x08, 0x01, 0x10, 0x80, 0xca, 0xb5, 0xee, 0x01};
    char b64[256];
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = sizeof status, o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)status[i] << 16 | (i + 1 < n ? (uint32_t)status[i + 1] << 8 : 0) |
                     (i + 2 < n ? status[i + 2] : 0);
        b64[o++] = tbl[v >> 18 & 63];
        b64[o++] = tbl[v >> 12 & 63];
        if (i + 1 < n) b64[o++] = tbl[v >> 6 & 63];
        if (i + 2 < n) b64[o++] = tbl[v & 63];
    }
    int64_t delay = 0;
    CHECK(grpc_retry_info(b64, o, &delay));
    CHECK_EQ_INT(delay, 1500);
    /* Another detail type: no RetryInfo. */
    char other[256];
    memcpy(other, b64, o);
    CHECK(!grpc_retry_info("CAgSAW0", 7, &delay)); /* Status without details */
    CHECK(!grpc_retry_info("!!!", 3, &delay));     /* not base64 */
    CHECK(!grpc_retry_info("", 0, &delay));
    (void)other;
}

static void test_grpc_message(void) {
    char out[32];
    grpc_message_decode("a%20b%zz%41%", 12, out, sizeof out);
    CHECK_STR(out, "a b%zzA%");
    grpc_message_decode("x%0Ay", 5, out, sizeof out);
    CHECK_STR(out, "x?y");
    grpc_message_decode("abcdef", 6, out, 4);
    CHECK_STR(out, "abc");
    grpc_message_decode("abc", 3, out, 0); /* no room: untouched, no crash */
}

int main(void) {
    RUN(test_proto);
    RUN(test_json);
    RUN(test_retry_info);
    RUN(test_grpc_message);
    return test_report("otlp_response");
}
