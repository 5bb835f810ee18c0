/* test_sbuf: server/sbuf.c's JSON string literal: plain text copied in runs, quotes,
 * backslashes and control characters escaped, UTF-8 kept, invalid bytes as U+FFFD. */
#include <string.h>

#include "server/sbuf.h"
#include "tests/unit/test.h"

static void check_json(const char *in, size_t n, const char *want) {
    struct sbuf b = {0};
    sbuf_json_str(&b, in, n);
    CHECK_STR(sbuf_cstr(&b), want);
    sbuf_free(&b);
}

static void test_json_str(void) {
    check_json("", 0, "\"\"");
    check_json("make -j8", 8, "\"make -j8\"");
    check_json("a\"b\\c", 5, "\"a\\\"b\\\\c\"");
    check_json("x\ny\tz\r\x01", 7, "\"x\\ny\\tz\\r\\u0001\"");
    check_json("<b>caf\xc3\xa9</b>", 12, "\"<b>caf\xc3\xa9</b>\"");
    check_json("ok\xff\xc3", 4, "\"ok\xEF\xBF\xBD\xEF\xBF\xBD\"");
    check_json("a\0b", 3, "\"a\\u0000b\"");
    /* a long plain run after an escape, and one ending the text */
    char long_in[300], long_want[400];
    memset(long_in, 'q', sizeof(long_in));
    long_in[0] = '"';
    long_want[0] = '"';
    long_want[1] = '\\';
    long_want[2] = '"';
    memset(long_want + 3, 'q', sizeof(long_in) - 1);
    long_want[3 + sizeof(long_in) - 1] = '"';
    long_want[4 + sizeof(long_in) - 1] = '\0';
    check_json(long_in, sizeof(long_in), long_want);
}

int main(void) {
    RUN(test_json_str);
    return test_report("sbuf");
}
