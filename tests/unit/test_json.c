/* test_json: JSON strings (quotes, backslash, control characters, invalid
 * UTF-8 replaced by \ufffd, valid multi-byte sequences passed through), hex
 * ids, every attribute value type (doubles included), objects, and the
 * mmap-backed buf underneath (growth, numbers, failure state). Depends on
 * exporters/json.h, exporters/buf.h and test.h. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "exporters/buf.h"
#include "exporters/json.h"
#include "tests/unit/test.h"

static struct buf out;

/* out's text as a C string (valid until the next call). */
static const char *text(void) {
    static char s[4096];
    size_t n = out.len < sizeof s - 1 ? out.len : sizeof s - 1;
    memcpy(s, out.data, n);
    s[n] = '\0';
    return s;
}

static const char *string_json(const char *s, size_t len) {
    buf_reset(&out);
    json_string(&out, s, len);
    return text();
}

#define JS(lit) string_json(lit, sizeof lit - 1)

static void test_escaping(void) {
    CHECK_STR(JS(""), "\"\"");
    CHECK_STR(JS("plain text"), "\"plain text\"");
    CHECK_STR(JS("a\"b\\c"), "\"a\\\"b\\\\c\"");
    CHECK_STR(JS("\n\t\r"), "\"\\n\\t\\r\"");
    CHECK_STR(JS("\x01\x1f\b\f"), "\"\\u0001\\u001f\\u0008\\u000c\"");
    CHECK_STR(JS("a\0b"), "\"a\\u0000b\"");
    CHECK_STR(JS("/ \x7f"), "\"/ \x7f\""); /* '/' and DEL need no escape */
    /* The length given wins over a NUL. */
    CHECK_STR(string_json("abcdef", 3), "\"abc\"");
}

static void test_utf8(void) {
    /* valid: 2, 3 and 4 byte sequences, the largest code point */
    CHECK_STR(JS("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf"),
              "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf\"");
    CHECK_STR(JS("\xc2\x80\xe0\xa0\x80\xf0\x90\x80\x80"), /* smallest of each length */
              "\"\xc2\x80\xe0\xa0\x80\xf0\x90\x80\x80\"");
    /* invalid: one \ufffd per bad byte */
    CHECK_STR(JS("a\x80z"), "\"a\\ufffdz\"");                              /* lone continuation */
    CHECK_STR(JS("\xff\xfe"), "\"\\ufffd\\ufffd\"");                       /* never valid */
    CHECK_STR(JS("\xc0\x80"), "\"\\ufffd\\ufffd\"");                       /* overlong NUL */
    CHECK_STR(JS("\xe0\x80\xaf"), "\"\\ufffd\\ufffd\\ufffd\"");            /* overlong '/' */
    CHECK_STR(JS("\xed\xa0\x80"), "\"\\ufffd\\ufffd\\ufffd\"");            /* surrogate */
    CHECK_STR(JS("\xf4\x90\x80\x80"), "\"\\ufffd\\ufffd\\ufffd\\ufffd\""); /* > U+10FFFF */
    CHECK_STR(JS("\xf8\x88\x80\x80\x80"),
              "\"\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\""); /* 5-byte form */
    CHECK_STR(JS("x\xe2\x82"), "\"x\\ufffd\\ufffd\"");    /* truncated at the end */
    CHECK_STR(JS("\xe2\x82x"), "\"\\ufffd\\ufffdx\"");
    CHECK_STR(JS("\xc3(\xc3\xa9"), "\"\\ufffd(\xc3\xa9\""); /* bad continuation */
    /* A string cut in the middle of a sequence by its length. */
    CHECK_STR(string_json("\xc3\xa9", 1), "\"\\ufffd\"");
}

static void test_hex(void) {
    buf_reset(&out);
    json_hex(&out, NULL, 0);
    CHECK_STR(text(), "\"\"");
    uint8_t bytes[40];
    for (int i = 0; i < 40; i++)
        bytes[i] = (uint8_t)(i * 7);
    buf_reset(&out);
    json_hex(&out, bytes, 40); /* more than one 32-byte step */
    const char *t = text();
    CHECK_EQ_INT(strlen(t), 82);
    CHECK(!strncmp(t, "\"00070e151c23", 13));
    CHECK(!strcmp(t + 77, "0a11\"")); /* bytes 38, 39: 266 & 255, 273 & 255 */
}

static const char *value_json(const struct attr_value *v) {
    buf_reset(&out);
    json_attr_value(&out, v);
    return text();
}

static const char *double_json(double d) {
    struct attr_value v = {.type = ATTR_DOUBLE, .u.d = d};
    return value_json(&v);
}

static const char *int_json(int64_t i) {
    struct attr_value v = {.type = ATTR_INT, .u.i = i};
    return value_json(&v);
}

static void test_values(void) {
    struct attr_value s = {.type = ATTR_STRING, .u.s = str_cstr("q\"")};
    CHECK_STR(value_json(&s), "\"q\\\"\"");
    struct attr_value b = {.type = ATTR_BOOL, .u.b = true};
    CHECK_STR(value_json(&b), "true");
    b.u.b = false;
    CHECK_STR(value_json(&b), "false");
    CHECK_STR(int_json(0), "0");
    CHECK_STR(int_json(-1), "-1");
    CHECK_STR(int_json(1234567890123), "1234567890123");
    CHECK_STR(int_json(INT64_MAX), "9223372036854775807");
    CHECK_STR(int_json(INT64_MIN), "-9223372036854775808");
    struct str items[3] = {str_cstr("a"), str_cstr("b\"c"), str_cstr("")};
    struct attr_value arr = {.type = ATTR_STRING_ARRAY, .u.arr = {items, 3}};
    CHECK_STR(value_json(&arr), "[\"a\",\"b\\\"c\",\"\"]");
    arr.u.arr.count = 0;
    CHECK_STR(value_json(&arr), "[]");
}

static void test_doubles(void) {
    CHECK_STR(double_json(0.0), "0.000000");
    CHECK_STR(double_json(1.5), "1.500000");
    CHECK_STR(double_json(-2.25), "-2.250000");
    CHECK_STR(double_json(0.0000005), "0.000001"); /* rounded to microseconds */
    CHECK_STR(double_json(0.9999999), "1.000000"); /* carry into the whole part */
    CHECK_STR(double_json(123456.654321), "123456.654321");
    CHECK_STR(double_json(NAN), "\"NaN\"");
    CHECK_STR(double_json(INFINITY), "\"Infinity\"");
    CHECK_STR(double_json(-INFINITY), "\"-Infinity\"");
}

/* Doubles beyond 2^64 must still print as (roughly) their value. */
static void test_large_doubles(void) {
    static const double values[] = {1e19, 1e20, -3e25, 1.7976931348623157e308};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        const char *t = double_json(values[i]);
        char *end;
        double back = strtod(t, &end);
        test_checks++;
        if (*end || !(fabs(back - values[i]) <= fabs(values[i]) * 1e-6))
            TEST_FAIL_("%g printed as %s", values[i], t);
    }
}

static void test_object(void) {
    char mem[1024];
    struct arena a;
    arena_init(&a, mem, sizeof mem);
    struct attr_list l = {0};
    struct attr_limits lim = {16, UINT32_MAX};
    buf_reset(&out);
    json_attr_object(&out, &l);
    CHECK_STR(text(), "{}");
    CHECK_EQ_INT(attrs_put_int(&l, &a, &lim, "n", 7), 0);
    CHECK_EQ_INT(attrs_put_str(&l, &a, &lim, "k\"ey", "v", 1), 0);
    CHECK_EQ_INT(attrs_put_bool(&l, &a, &lim, "b", true), 0);
    buf_reset(&out);
    json_attr_object(&out, &l);
    CHECK_STR(text(), "{\"n\":7,\"k\\\"ey\":\"v\",\"b\":true}");
}

static void test_buf(void) {
    struct buf b = {0};
    buf_put_u64(&b, 0);
    buf_putc(&b, ' ');
    buf_put_u64(&b, UINT64_MAX);
    buf_putc(&b, ' ');
    buf_put_i64(&b, -5);
    buf_append(&b, "", 0);
    CHECK_EQ_INT(b.len, strlen("0 18446744073709551615 -5"));
    CHECK(!memcmp(b.data, "0 18446744073709551615 -5", b.len));
    /* Growth well past the first 64 KiB mapping keeps the contents. */
    char chunk[1000];
    memset(chunk, 'z', sizeof chunk);
    for (int i = 0; i < 300; i++)
        buf_append(&b, chunk, sizeof chunk);
    CHECK_EQ_INT(b.len, 25 + 300000);
    CHECK(b.cap >= b.len);
    CHECK(!memcmp(b.data, "0 1844", 6));
    CHECK_EQ_INT(b.data[b.len - 1], 'z');
    CHECK(!b.failed);
    /* An impossible reservation fails, and later writes are ignored. */
    CHECK(!buf_reserve(&b, SIZE_MAX >> 1));
    CHECK(b.failed);
    size_t len = b.len;
    buf_puts(&b, "ignored");
    buf_put_u64(&b, 42);
    CHECK_EQ_INT(b.len, len);
    buf_reset(&b); /* clears the failure */
    CHECK(!b.failed);
    CHECK_EQ_INT(b.len, 0);
    buf_puts(&b, "again");
    CHECK_EQ_INT(b.len, 5);
    buf_release(&b);
    CHECK(b.data == NULL);
    buf_release(&b);

    /* A long JSON string grows the buffer too. */
    struct buf big = {0};
    char *s = malloc(200000);
    REQUIRE(s);
    memset(s, '"', 200000);
    json_string(&big, s, 200000);
    CHECK_EQ_INT(big.len, 400002);
    free(s);
    buf_release(&big);
}

int main(void) {
    RUN(test_escaping);
    RUN(test_utf8);
    RUN(test_hex);
    RUN(test_values);
    RUN(test_doubles);
    RUN(test_large_doubles);
    RUN(test_object);
    RUN(test_buf);
    buf_release(&out);
    return test_report("json");
}
