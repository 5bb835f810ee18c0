/* Unit tests for core/carriers: the environment copy children get. */
#include <string.h>

#include "core/carriers.h"
#include "tests/unit/test.h"

static const struct span_context ctx = {{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce,
                                         0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36},
                                        {0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7},
                                        1,
                                        false};

static void test_format(void) {
    struct carrier_strings cs;
    char *add[3];
    carriers_format(&ctx, "a=1", 3, "BAGGAGE=k=v", &cs, add);
    CHECK_STR(add[0], "TRACEPARENT=00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    CHECK_STR(add[1], "TRACESTATE=a=1");
    CHECK_STR(add[2], "BAGGAGE=k=v");
    carriers_format(&ctx, NULL, 0, NULL, &cs, add);
    CHECK(add[1] == NULL);
    CHECK(add[2] == NULL);
    char big[600];
    memset(big, 'x', sizeof big);
    carriers_format(&ctx, big, sizeof big, NULL, &cs, add); /* over 512: not carried */
    CHECK(add[1] == NULL);
}

static void test_apply_replaces_and_keeps(void) {
    char *env[] = {"PATH=/bin",   "TRACEPARENT=old",   "HOME=/root", "TRACESTATE=old",
                   "BAGGAGE=old", "TRACEPARENTX=keep", NULL};
    char *add[3] = {"TRACEPARENT=new", "TRACESTATE=new", NULL};
    char *out[16];
    CHECK_EQ_INT(carriers_env_count(env), 6);
    int n = carriers_apply(env, add, out, 16);
    CHECK_EQ_INT(n, 5);
    CHECK_STR(out[0], "PATH=/bin");
    CHECK_STR(out[1], "HOME=/root");
    CHECK_STR(out[2], "TRACEPARENTX=keep");
    CHECK_STR(out[3], "TRACEPARENT=new");
    CHECK_STR(out[4], "TRACESTATE=new");
    CHECK(out[5] == NULL);
    CHECK_STR(env[1], "TRACEPARENT=old"); /* the original is untouched */
}

static void test_apply_edges(void) {
    char *add[3] = {"TRACEPARENT=new", NULL, NULL};
    char *out[4];
    CHECK_EQ_INT(carriers_apply(NULL, add, out, 4), 1); /* no environment at all */
    CHECK_STR(out[0], "TRACEPARENT=new");
    CHECK(out[1] == NULL);
    CHECK_EQ_INT(carriers_env_count(NULL), 0);
    char *env[] = {"A=1", "B=2", "C=3", NULL};
    CHECK_EQ_INT(carriers_apply(env, add, out, 4), -1); /* too small */
    char *out2[7];
    CHECK_EQ_INT(carriers_apply(env, add, out2, carriers_env_count(env) + 4), 4);
}

int main(void) {
    RUN(test_format);
    RUN(test_apply_replaces_and_keeps);
    RUN(test_apply_edges);
    return test_report("carriers");
}
