/* test_otlp_json: the OTLP JSON encoder, byte for byte: a span with every
 * field (parent, trace state, attributes of each type, events, dropped
 * counts, status), a minimal span, log records with and without trace
 * context, and the mapping's rules (hex ids, 64-bit integers as strings,
 * enums as integers, non-finite doubles as strings, invalid UTF-8 replaced).
 * Depends on exporters/otlp_json.h, core/span.h, core/log.h, test.h. */
#include <math.h>

#include "core/log.h"
#include "core/span.h"
#include "exporters/otlp_json.h"
#include "tests/unit/test.h"

static const struct span_limits limits = {{2, UINT32_MAX}, {128, UINT32_MAX}, 1};
static const struct attr_limits unl = {128, UINT32_MAX};

#define HEAD(kind, items)                                                                          \
    "{\"resource" kind "\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":{"  \
    "\"stringValue\":\"svc\"}}]},\"scope" kind "\":[{\"scope\":{\"name\":\"otel-preload\","        \
    "\"version\":\"" OTELP_VERSION "\"},\"" items "\":["
#define TAIL "]}]}]}"

static struct attr_list resource;

static void check_buf(struct buf *b, const char *want) {
    test_checks++;
    if (b->len != strlen(want) || memcmp(b->data, want, b->len))
        TEST_FAIL_("got\n%.*s\nwant\n%s", (int)b->len, (const char *)b->data, want);
}

static void test_spans(void) {
    struct span_context parent = {
        .trace_id = {0xab, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
        .span_id = {0xcd, 1, 2, 3, 4, 5, 6, 7},
        .flags = 1,
        .remote = true};
    struct span *s = span_new(str_cstr("full \"span\"\xff"), &parent, NULL, str_cstr("k=v"), true,
                              1700000000123456789ull, &limits, 1024);
    REQUIRE(s);
    s->ctx.flags = 1;
    memcpy(s->ctx.span_id, (uint8_t[]){0xee, 0, 0, 0, 0, 0, 0, 1}, 8);
    s->end_ns = 1700000000223456789ull;
    s->kind = SPAN_KIND_CLIENT;
    (void)span_set_int(s, "i", -5);
    (void)span_set_double(s, "d", NAN);
    (void)span_set_bool(s, "dropped", true);
    struct span_event *e = span_add_event(s, "ev", 42);
    struct attr_value inf = {.type = ATTR_DOUBLE, .u.d = -INFINITY};
    (void)span_event_set_attr(s, e, str_cstr("x"), &inf);
    CHECK(span_add_event(s, "over", 43) == NULL);
    span_set_status(s, STATUS_ERROR, "bad");
    struct span *m =
        span_new(str_cstr("min"), NULL, parent.trace_id, str_of("", 0), true, 5, &limits, 256);
    REQUIRE(m);
    memcpy(m->ctx.span_id, (uint8_t[]){0, 0, 0, 0, 0, 0, 0, 2}, 8);
    m->end_ns = 6;
    m->kind = SPAN_KIND_INTERNAL;
    void *recs[2] = {s, m};
    struct buf b = {0};
    REQUIRE(otlp_json_encode_traces(&b, &resource, recs, 2));
    check_buf(
        &b,
        HEAD(
            "Spans",
            "spans") "{\"traceId\":\"ab0102030405060708090a0b0c0d0e0f\",\"spanId\":"
                     "\"ee00000000000001\","
                     "\"traceState\":\"k=v\",\"parentSpanId\":\"cd01020304050607\",\"flags\":769,"
                     "\"name\":\"full \\\"span\\\"\\ufffd\",\"kind\":3,"
                     "\"startTimeUnixNano\":\"1700000000123456789\","
                     "\"endTimeUnixNano\":\"1700000000223456789\","
                     "\"attributes\":[{\"key\":\"i\",\"value\":{\"intValue\":\"-5\"}},"
                     "{\"key\":\"d\",\"value\":{\"doubleValue\":\"NaN\"}}],"
                     "\"droppedAttributesCount\":1,"
                     "\"events\":[{\"timeUnixNano\":\"42\",\"name\":\"ev\",\"attributes\":[{"
                     "\"key\":"
                     "\"x\",\"value\":{\"doubleValue\":\"-Infinity\"}}]}],\"droppedEventsCount\":1,"
                     "\"status\":{\"message\":\"bad\",\"code\":2}},"
                     "{\"traceId\":\"ab0102030405060708090a0b0c0d0e0f\",\"spanId\":"
                     "\"0000000000000002\","
                     "\"flags\":257,\"name\":\"min\",\"kind\":1,\"startTimeUnixNano\":\"5\","
                     "\"endTimeUnixNano\":\"6\"}" TAIL);
    span_free(s);
    span_free(m);
    buf_release(&b);
}

static void test_values(void) {
    struct span *s = span_new(str_cstr("v"), NULL, (uint8_t[16]){1}, str_of("", 0), true, 1,
                              &(struct span_limits){{8, UINT32_MAX}, {8, UINT32_MAX}, 1}, 1024);
    REQUIRE(s);
    memset(s->ctx.span_id, 0x11, 8);
    s->end_ns = 2;
    s->kind = 1;
    (void)span_set_double(s, "pi", 3.141592653589793);
    (void)span_set_double(s, "inf", INFINITY);
    (void)span_set_bool(s, "f", false);
    static const struct str items[] = {{"a", 1}, {"\n", 1}};
    struct attr_value arr = {.type = ATTR_STRING_ARRAY, .u.arr = {items, 2}};
    (void)span_set_attr(s, str_cstr("arr"), &arr);
    (void)span_set_int(s, "min", INT64_MIN);
    span_set_status(s, STATUS_OK, NULL);
    void *recs[1] = {s};
    struct buf b = {0};
    REQUIRE(otlp_json_encode_traces(&b, &resource, recs, 1));
    check_buf(&b,
              HEAD("Spans",
                   "spans") "{\"traceId\":\"01000000000000000000000000000000\",\"spanId\":"
                            "\"1111111111111111\","
                            "\"flags\":257,\"name\":\"v\",\"kind\":1,\"startTimeUnixNano\":\"1\","
                            "\"endTimeUnixNano\":\"2\",\"attributes\":["
                            "{\"key\":\"pi\",\"value\":{\"doubleValue\":3.1415926535897931}},"
                            "{\"key\":\"inf\",\"value\":{\"doubleValue\":\"Infinity\"}},"
                            "{\"key\":\"f\",\"value\":{\"boolValue\":false}},"
                            "{\"key\":\"arr\",\"value\":{\"arrayValue\":{\"values\":[{"
                            "\"stringValue\":\"a\"},"
                            "{\"stringValue\":\"\\n\"}]}}},"
                            "{\"key\":\"min\",\"value\":{\"intValue\":\"-9223372036854775808\"}}],"
                            "\"status\":{\"code\":1}}" TAIL);
    span_free(s);
    buf_release(&b);
}

static void test_logs(void) {
    struct span_context ctx = {.trace_id = {1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2},
                               .span_id = {3, 3, 3, 3, 3, 3, 3, 3},
                               .flags = 1};
    struct log_record *a =
        log_record_new(10, 11, SEVERITY_WARN, "WARN", "disk \"full\"", 11, &ctx, &unl, 512);
    REQUIRE(a);
    (void)log_record_set_int(a, "code", 28);
    (void)log_record_set_str(a, "path", "/var", 4);
    a->attrs.dropped = 2;
    a->event_name = str_cstr("fs.full");
    struct log_record *b = log_record_new(0, 12, 0, NULL, "plain", 5, NULL, &unl, 256);
    REQUIRE(b);
    void *recs[2] = {a, b};
    struct buf out = {0};
    REQUIRE(otlp_json_encode_logs(&out, &resource, recs, 2));
    check_buf(
        &out,
        HEAD("Logs",
             "logRecords") "{\"timeUnixNano\":\"10\",\"observedTimeUnixNano\":\"11\","
                           "\"severityNumber\":13,"
                           "\"severityText\":\"WARN\",\"body\":{\"stringValue\":\"disk "
                           "\\\"full\\\"\"},"
                           "\"attributes\":[{\"key\":\"code\",\"value\":{\"intValue\":\"28\"}},"
                           "{\"key\":\"path\",\"value\":{\"stringValue\":\"/var\"}}],"
                           "\"droppedAttributesCount\":2,\"flags\":1,"
                           "\"traceId\":\"01010101010101010202020202020202\",\"spanId\":"
                           "\"0303030303030303\","
                           "\"eventName\":\"fs.full\"},"
                           "{\"timeUnixNano\":\"0\",\"observedTimeUnixNano\":\"12\","
                           "\"body\":{\"stringValue\":\"plain\"}}" TAIL);
    log_record_free(a);
    log_record_free(b);
    buf_release(&out);
    /* No records: still a well-formed request. */
    struct buf empty = {0};
    REQUIRE(otlp_json_encode_logs(&empty, &resource, NULL, 0));
    check_buf(&empty, HEAD("Logs", "logRecords") TAIL);
    buf_release(&empty);
}

/* A relay's JSON: host attributes into every resource (with attributes,
 * without, without a resource at all; strings holding look-alike text),
 * then concatenated requests merged into one; malformed input refused. */
static void relay_case(const char *src, const char *attrs, const char *want_added,
                       const char *want_merged) {
    struct buf a = {0}, m = {0};
    bool ok = otlp_json_add_resource_attrs(&a, (const uint8_t *)src, strlen(src),
                                           (const uint8_t *)attrs, strlen(attrs));
    CHECK(ok);
    if (ok) check_buf(&a, want_added);
    CHECK(otlp_json_merge(&m, a.data, a.len));
    check_buf(&m, want_merged);
    buf_release(&a);
    buf_release(&m);
}

static void test_relay_merge(void) {
    const char *host = "{\"key\":\"host.name\",\"value\":{\"stringValue\":\"h\"}}";
    relay_case(
        "{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"a\",\"value\":{}}]},"
        "\"scopeSpans\":[]}]}"
        "{\"resourceSpans\":[{\"resource\":{},\"scopeSpans\":[{\"x\":\"{\\\"resource\\\":{\"}]}]}"
        " {\"resourceSpans\":[{\"scopeSpans\":[]},{\"resource\":{\"droppedAttributesCount\":1}}]}",
        host,
        "{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"host.name\",\"value\":{"
        "\"stringValue\":\"h\"}},{\"key\":\"a\",\"value\":{}}]},\"scopeSpans\":[]}]}"
        "{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"host.name\",\"value\":{"
        "\"stringValue\":\"h\"}}]},\"scopeSpans\":[{\"x\":\"{\\\"resource\\\":{\"}]}]}"
        "{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"host.name\",\"value\":{"
        "\"stringValue\":\"h\"}}]},\"scopeSpans\":[]},{\"resource\":{\"attributes\":[{\"key\":"
        "\"host.name\",\"value\":{\"stringValue\":\"h\"}}],\"droppedAttributesCount\":1}}]}",
        "{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"host.name\",\"value\":{"
        "\"stringValue\":\"h\"}},{\"key\":\"a\",\"value\":{}}]},\"scopeSpans\":[]},"
        "{\"resource\":{\"attributes\":[{\"key\":\"host.name\",\"value\":{"
        "\"stringValue\":\"h\"}}]},\"scopeSpans\":[{\"x\":\"{\\\"resource\\\":{\"}]},"
        "{\"resource\":{\"attributes\":[{\"key\":\"host.name\",\"value\":{"
        "\"stringValue\":\"h\"}}]},\"scopeSpans\":[]},{\"resource\":{\"attributes\":[{\"key\":"
        "\"host.name\",\"value\":{\"stringValue\":\"h\"}}],\"droppedAttributesCount\":1}}]}");
    /* No attributes to add: copied; an empty request merges to nothing. */
    relay_case("{\"resourceLogs\":[]}{\"resourceLogs\":[{\"resource\":{}}]}", "",
               "{\"resourceLogs\":[]}{\"resourceLogs\":[{\"resource\":{}}]}",
               "{\"resourceLogs\":[{\"resource\":{}}]}");
    /* What our encoder writes, twice, merges into one valid request. */
    struct buf one = {0}, two = {0}, m = {0};
    static const uint8_t tid[16] = {1};
    struct span *s = span_new(str_cstr("x"), NULL, tid, str_of("", 0), true, 1, &limits, 1024);
    REQUIRE(s);
    s->end_ns = 2;
    void *recs[1] = {s};
    CHECK(otlp_json_encode_traces(&one, &resource, recs, 1));
    buf_append(&two, one.data, one.len);
    buf_append(&two, one.data, one.len);
    CHECK(otlp_json_merge(&m, two.data, two.len));
    CHECK(m.len == 2 * one.len - strlen("{\"resourceSpans\":[") - strlen("]}") + 1);
    span_free(s);
    /* Not requests: refused. */
    const char *bad[] = {"",
                         "[",
                         "{\"resourceSpans\":[",
                         "{\"resourceSpans\":[{\"resource\":{]}",
                         "{\"resourceSpans\":[1]}",
                         "{\"resourceSpans\":[{}]} x",
                         "\"a"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct buf o = {0};
        CHECK(!otlp_json_merge(&o, (const uint8_t *)bad[i], strlen(bad[i])) || i == 4);
        buf_reset(&o);
        CHECK(!otlp_json_add_resource_attrs(&o, (const uint8_t *)bad[i], strlen(bad[i]),
                                            (const uint8_t *)host, strlen(host)));
        buf_release(&o);
    }
    buf_release(&one);
    buf_release(&two);
    buf_release(&m);
}

int main(void) {
    static char mem[1024];
    struct arena a;
    arena_init(&a, mem, sizeof mem);
    (void)attrs_put_str(&resource, &a, &unl, "service.name", "svc", 3);
    RUN(test_spans);
    RUN(test_values);
    RUN(test_logs);
    RUN(test_relay_merge);
    return test_report("otlp_json");
}
