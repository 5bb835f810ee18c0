/* test_otlp_proto: the hand-written OTLP encoder, decoded back with the
 * strict nanopb decoder of tests/lib: every attribute type (negative and
 * extreme ints, doubles, string arrays), events with attributes, status,
 * parents (local and remote), trace state, kinds, dropped counts, flags
 * (0x100 always, 0x200 for a remote parent, the sampled bit), the resource
 * and scope, large values, appending after existing bytes, more spans than
 * the size cache (512), and an empty batch; the same for log records
 * (every LogRecord field, records without context or severity, batches past
 * the size cache, an empty batch). Depends on exporters/otlp_proto.h,
 * tests/lib/otlp_decode.h and test.h. */
#include <math.h>
#include <stdlib.h>

#include "core/ids.h"
#include "core/span.h"
#include "exporters/otlp_proto.h"
#include "tests/lib/otlp_decode.h"
#include "tests/unit/test.h"

static const struct span_limits limits = {{128, UINT32_MAX}, {128, UINT32_MAX}, 128};
static const struct attr_limits unlimited = {UINT32_MAX, UINT32_MAX};

static struct attr_list resource;
static struct arena resource_arena;
static char resource_mem[4096];

static void make_resource(void) {
    arena_init(&resource_arena, resource_mem, sizeof resource_mem);
    memset(&resource, 0, sizeof resource);
    (void)attrs_put_str(&resource, &resource_arena, &unlimited, "service.name", "svc", 3);
    (void)attrs_put_int(&resource, &resource_arena, &unlimited, "process.pid", 4242);
    resource.dropped = 3;
}

static struct otlp_traces *encode_decode(struct span *const *spans, size_t n, struct buf *b,
                                         size_t offset) {
    if (!otlp_encode_traces(b, &resource, spans, n)) return NULL;
    char err[256] = "";
    struct otlp_traces *t = otlp_traces_decode(b->data + offset, b->len - offset, err, sizeof err);
    if (!t) fprintf(stderr, "decode failed: %s\n", err);
    return t;
}

static const struct otlp_value *attr(const struct otlp_attrs *a, const char *key,
                                     enum otlp_value_type type) {
    const struct otlp_value *v = otlp_attrs_find(a, key);
    if (!v) fprintf(stderr, "attribute %s missing\n", key);
    if (v && v->type != type) fprintf(stderr, "attribute %s has type %d\n", key, v->type);
    return v && v->type == type ? v : NULL;
}

static struct span *full_span(void) {
    struct span_context parent = {.flags = TRACE_FLAG_SAMPLED, .remote = true};
    for (int i = 0; i < 16; i++)
        parent.trace_id[i] = (uint8_t)(0xa0 + i);
    for (int i = 0; i < 8; i++)
        parent.span_id[i] = (uint8_t)(0xb0 + i);
    struct span *s = span_new(str_cstr("full span \xc3\xa9"), &parent, NULL,
                              str_cstr("congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"), true,
                              1700000000123456789ull, &limits, 1024);
    if (!s) return NULL;
    s->end_ns = 1700000000987654321ull;
    s->kind = SPAN_KIND_CLIENT;
    (void)span_set_str(s, "str", "value", 5);
    (void)span_set_str(s, "empty", "", 0);
    (void)span_set_bool(s, "yes", true);
    (void)span_set_bool(s, "no", false);
    (void)span_set_int(s, "zero", 0);
    (void)span_set_int(s, "neg", -5);
    (void)span_set_int(s, "min", INT64_MIN);
    (void)span_set_int(s, "max", INT64_MAX);
    (void)span_set_double(s, "pi", 3.141592653589793);
    (void)span_set_double(s, "negzero", -0.0);
    (void)span_set_double(s, "huge", 1e300);
    struct str items[3] = {str_cstr("a"), str_cstr(""), str_cstr("ccc \xe2\x82\xac")};
    struct attr_value arr = {.type = ATTR_STRING_ARRAY, .u.arr = {items, 3}};
    (void)span_set_attr(s, str_cstr("arr"), &arr);
    struct attr_value none = {.type = ATTR_STRING_ARRAY, .u.arr = {NULL, 0}};
    (void)span_set_attr(s, str_cstr("arr.empty"), &none);
    s->attrs.dropped = 2;
    struct span_event *e = span_add_event(s, "exception", 1700000000500000000ull);
    struct attr_value v = {.type = ATTR_STRING, .u.s = str_cstr("boom")};
    (void)span_event_set_attr(s, e, str_cstr("exception.message"), &v);
    struct attr_value i = {.type = ATTR_INT, .u.i = 11};
    (void)span_event_set_attr(s, e, str_cstr("signal"), &i);
    e->attrs.dropped = 4;
    (void)span_add_event(s, "plain", 1700000000600000000ull);
    s->dropped_events = 7;
    span_set_status(s, STATUS_ERROR, "it failed");
    return s;
}

static void test_full_span(void) {
    make_resource();
    struct span *s = full_span();
    REQUIRE(s);
    struct buf b = {0};
    struct otlp_traces *t = encode_decode(&s, 1, &b, 0);
    REQUIRE(t);
    CHECK_EQ_INT(t->unknown_fields, 0);
    REQUIRE(t->n_resource_spans == 1);
    const struct otlp_resource_spans *rs = &t->resource_spans[0];
    CHECK(rs->resource.present);
    CHECK_EQ_INT(rs->resource.attrs.count, 2);
    CHECK_EQ_INT(rs->resource.dropped_attributes_count, 3);
    const struct otlp_value *v = attr(&rs->resource.attrs, "service.name", OTLP_VALUE_STRING);
    CHECK(v && !strcmp(v->str, "svc"));
    v = attr(&rs->resource.attrs, "process.pid", OTLP_VALUE_INT);
    CHECK(v && v->i == 4242);
    REQUIRE(rs->n_scope_spans == 1);
    const struct otlp_scope_spans *ss = &rs->scope_spans[0];
    CHECK(ss->has_scope);
    CHECK_STR(ss->scope.name, OTELP_SCOPE_NAME);
    CHECK_STR(ss->scope.version, OTELP_VERSION);
    REQUIRE(ss->n_spans == 1);
    const struct otlp_span *o = &ss->spans[0];

    CHECK_MEM(o->trace_id, s->ctx.trace_id, 16);
    CHECK_MEM(o->span_id, s->ctx.span_id, 8);
    CHECK_MEM(o->parent_span_id, s->parent_span_id, 8);
    CHECK_STR(o->trace_state, "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7");
    CHECK_STR(o->name, "full span \xc3\xa9");
    CHECK_EQ_INT(o->kind, SPAN_KIND_CLIENT);
    CHECK_EQ_U64(o->start_time_unix_nano, 1700000000123456789ull);
    CHECK_EQ_U64(o->end_time_unix_nano, 1700000000987654321ull);
    CHECK_EQ_INT(o->flags, 0x301); /* sampled, has-is-remote, is-remote */
    CHECK_EQ_INT(o->attrs.count, 13);
    CHECK_EQ_INT(o->dropped_attributes_count, 2);
    v = attr(&o->attrs, "str", OTLP_VALUE_STRING);
    CHECK(v && !strcmp(v->str, "value"));
    v = attr(&o->attrs, "empty", OTLP_VALUE_STRING);
    CHECK(v && v->len == 0);
    v = attr(&o->attrs, "yes", OTLP_VALUE_BOOL);
    CHECK(v && v->b);
    v = attr(&o->attrs, "no", OTLP_VALUE_BOOL);
    CHECK(v && !v->b);
    v = attr(&o->attrs, "zero", OTLP_VALUE_INT);
    CHECK(v && v->i == 0);
    v = attr(&o->attrs, "neg", OTLP_VALUE_INT);
    CHECK(v && v->i == -5);
    v = attr(&o->attrs, "min", OTLP_VALUE_INT);
    CHECK(v && v->i == INT64_MIN);
    v = attr(&o->attrs, "max", OTLP_VALUE_INT);
    CHECK(v && v->i == INT64_MAX);
    v = attr(&o->attrs, "pi", OTLP_VALUE_DOUBLE);
    CHECK(v && v->d == 3.141592653589793);
    v = attr(&o->attrs, "negzero", OTLP_VALUE_DOUBLE);
    CHECK(v && v->d == 0.0 && signbit(v->d));
    v = attr(&o->attrs, "huge", OTLP_VALUE_DOUBLE);
    CHECK(v && v->d == 1e300);
    v = attr(&o->attrs, "arr", OTLP_VALUE_ARRAY);
    CHECK(v && v->n_items == 3);
    if (v && v->n_items == 3) {
        CHECK(v->items[0].type == OTLP_VALUE_STRING && !strcmp(v->items[0].str, "a"));
        CHECK(v->items[1].type == OTLP_VALUE_STRING && v->items[1].len == 0);
        CHECK(v->items[2].type == OTLP_VALUE_STRING &&
              !strcmp(v->items[2].str, "ccc \xe2\x82\xac"));
    }
    v = attr(&o->attrs, "arr.empty", OTLP_VALUE_ARRAY);
    CHECK(v && v->n_items == 0);

    REQUIRE(o->n_events == 2);
    CHECK_STR(o->events[0].name, "exception");
    CHECK_EQ_U64(o->events[0].time_unix_nano, 1700000000500000000ull);
    CHECK_EQ_INT(o->events[0].attrs.count, 2);
    CHECK_EQ_INT(o->events[0].dropped_attributes_count, 4);
    v = attr(&o->events[0].attrs, "exception.message", OTLP_VALUE_STRING);
    CHECK(v && !strcmp(v->str, "boom"));
    v = attr(&o->events[0].attrs, "signal", OTLP_VALUE_INT);
    CHECK(v && v->i == 11);
    CHECK_STR(o->events[1].name, "plain");
    CHECK_EQ_INT(o->events[1].attrs.count, 0);
    CHECK_EQ_INT(o->events[1].dropped_attributes_count, 0);
    CHECK_EQ_INT(o->dropped_events_count, 7);
    CHECK_EQ_INT(o->n_links, 0);
    CHECK(o->has_status);
    CHECK_EQ_INT(o->status_code, STATUS_ERROR);
    CHECK_STR(o->status_message, "it failed");
    otlp_traces_free(t);
    buf_release(&b);
    span_free(s);
}

/* A minimal root span: no parent, no trace state, no status, local. */
static void test_minimal_spans(void) {
    make_resource();
    uint8_t tid[16];
    memset(tid, 0x42, 16);
    struct span *spans[3];
    spans[0] = span_new(str_cstr("root"), NULL, tid, str_of("", 0), true, 1, &limits, 0);
    struct span_context local = {.flags = 0, .remote = false};
    memset(local.trace_id, 0x43, 16);
    memset(local.span_id, 0x44, 8);
    spans[1] = span_new(str_cstr("local child"), &local, NULL, str_of("", 0), true, 2, &limits, 0);
    spans[2] = span_new(str_cstr(""), NULL, tid, str_of("", 0), true, 3, &limits, 0);
    REQUIRE(spans[0] && spans[1] && spans[2]);
    spans[1]->ctx.flags = 0; /* recorded but not sampled */
    span_set_status(spans[2], STATUS_OK, NULL);
    for (int i = 0; i < 3; i++)
        spans[i]->end_ns = spans[i]->start_ns + 10;
    struct buf b = {0};
    struct otlp_traces *t = encode_decode(spans, 3, &b, 0);
    REQUIRE(t);
    CHECK_EQ_INT(t->unknown_fields, 0);
    REQUIRE(otlp_traces_span_count(t) == 3);
    const struct otlp_span *o = otlp_traces_span_at(t, 0);
    CHECK_STR(o->name, "root");
    CHECK_EQ_INT(o->flags, 0x101);
    CHECK(id_is_zero(o->parent_span_id, 8));
    CHECK_STR(o->trace_state, "");
    CHECK(!o->has_status);
    CHECK_EQ_INT(o->kind, SPAN_KIND_INTERNAL);
    CHECK_EQ_INT(o->attrs.count, 0);
    CHECK_EQ_INT(o->n_events, 0);
    CHECK_EQ_INT(o->dropped_attributes_count, 0);
    CHECK_EQ_INT(o->dropped_events_count, 0);
    o = otlp_traces_span_at(t, 1);
    CHECK_STR(o->name, "local child");
    CHECK_EQ_INT(o->flags, 0x100); /* has-is-remote, not remote, not sampled */
    CHECK_MEM(o->parent_span_id, local.span_id, 8);
    CHECK_MEM(o->trace_id, local.trace_id, 16);
    o = otlp_traces_span_at(t, 2);
    CHECK_STR(o->name, "");
    CHECK(o->has_status);
    CHECK_EQ_INT(o->status_code, STATUS_OK);
    CHECK_STR(o->status_message, "");
    CHECK_EQ_U64(o->end_time_unix_nano, 13);
    otlp_traces_free(t);
    buf_release(&b);
    for (int i = 0; i < 3; i++)
        span_free(spans[i]);
}

/* Large values: multi-byte length prefixes at every level. */
static void test_large_values(void) {
    make_resource();
    struct span_limits big = {{1000, UINT32_MAX}, {1000, UINT32_MAX}, 1000};
    uint8_t tid[16] = {1};
    struct span *s = span_new(str_cstr("big"), NULL, tid, str_of("", 0), true, 1, &big, 0);
    REQUIRE(s);
    static char value[70000];
    memset(value, 'v', sizeof value);
    (void)span_set_str(s, "long", value, sizeof value); /* 3-byte length */
    for (int i = 0; i < 500; i++) {
        char key[32];
        snprintf(key, sizeof key, "k%d", i);
        (void)span_set_int(s, key, (int64_t)i * 1000003);
    }
    for (int i = 0; i < 300; i++) {
        struct span_event *e = span_add_event(s, "tick", (uint64_t)i);
        struct attr_value v = {.type = ATTR_STRING, .u.s = str_of(value, 200)};
        (void)span_event_set_attr(s, e, str_cstr("payload"), &v);
    }
    s->attrs.dropped = 300;    /* two-byte varint */
    s->dropped_events = 70000; /* three-byte varint */
    struct buf b = {0};
    struct otlp_traces *t = encode_decode(&s, 1, &b, 0);
    REQUIRE(t);
    const struct otlp_span *o = otlp_traces_span_at(t, 0);
    REQUIRE(o);
    CHECK_EQ_INT(o->attrs.count, 501);
    const struct otlp_value *v = attr(&o->attrs, "long", OTLP_VALUE_STRING);
    CHECK(v && v->len == sizeof value);
    v = attr(&o->attrs, "k499", OTLP_VALUE_INT);
    CHECK(v && v->i == 499 * 1000003LL);
    CHECK_EQ_INT(o->n_events, 300);
    CHECK_EQ_INT(o->dropped_attributes_count, 300);
    CHECK_EQ_INT(o->dropped_events_count, 70000);
    otlp_traces_free(t);
    buf_release(&b);
    span_free(s);
}

/* String attributes around the encoder's short form (key and value within
 * 120 bytes together: one-byte lengths throughout) and just past it, where
 * the KeyValue's length takes two bytes; empty keys and values too. */
static void test_short_string_boundary(void) {
    make_resource();
    uint8_t tid[16] = {1};
    struct span *s = span_new(str_cstr("edges"), NULL, tid, str_of("", 0), true, 1, &limits, 0);
    REQUIRE(s);
    static const size_t totals[] = {0, 1, 119, 120, 121, 122, 125, 126, 127, 128, 250};
    static char value[256];
    memset(value, 'v', sizeof value);
    char key[32];
    for (size_t i = 0; i < sizeof totals / sizeof *totals; i++) {
        int klen = snprintf(key, sizeof key, "k%zu", totals[i]);
        size_t vlen = totals[i] > (size_t)klen ? totals[i] - (size_t)klen : 0;
        (void)span_set_str(s, key, value, vlen);
    }
    (void)span_set_str(s, "", "empty key", 9);
    struct buf b = {0};
    struct otlp_traces *t = encode_decode(&s, 1, &b, 0);
    REQUIRE(t);
    const struct otlp_span *o = otlp_traces_span_at(t, 0);
    REQUIRE(o);
    CHECK_EQ_INT(o->attrs.count, sizeof totals / sizeof *totals + 1);
    for (size_t i = 0; i < sizeof totals / sizeof *totals; i++) {
        int klen = snprintf(key, sizeof key, "k%zu", totals[i]);
        size_t vlen = totals[i] > (size_t)klen ? totals[i] - (size_t)klen : 0;
        const struct otlp_value *v = attr(&o->attrs, key, OTLP_VALUE_STRING);
        CHECK(v && v->len == vlen && !memcmp(v->str, value, vlen));
    }
    const struct otlp_value *v = attr(&o->attrs, "", OTLP_VALUE_STRING);
    CHECK(v && v->len == 9 && !memcmp(v->str, "empty key", 9));
    otlp_traces_free(t);
    buf_release(&b);
    span_free(s);
}

/* More spans than the size cache: the encoder recomputes sizes past 512. */
static void test_many_spans(void) {
    make_resource();
    enum { N = 1200 };
    struct span **spans = calloc(N, sizeof *spans);
    REQUIRE(spans);
    uint8_t tid[16] = {9};
    for (int i = 0; i < N; i++) {
        char name[32];
        snprintf(name, sizeof name, "span-%d", i);
        spans[i] =
            span_new(str_cstr(name), NULL, tid, str_of("", 0), true, (uint64_t)i, &limits, 256);
        REQUIRE(spans[i]);
        spans[i]->end_ns = (uint64_t)i + 1;
        for (int k = 0; k < i % 5; k++) { /* sizes vary span to span */
            char key[16];
            snprintf(key, sizeof key, "a%d", k);
            (void)span_set_str(spans[i], key, name, strlen(name));
        }
        if (i % 7 == 0) span_set_status(spans[i], STATUS_ERROR, name);
    }
    struct buf b = {0};
    struct otlp_traces *t = encode_decode(spans, N, &b, 0);
    REQUIRE(t);
    CHECK_EQ_INT(t->unknown_fields, 0);
    REQUIRE(otlp_traces_span_count(t) == N);
    int bad = 0;
    for (int i = 0; i < N; i++) {
        const struct otlp_span *o = otlp_traces_span_at(t, (size_t)i);
        char name[32];
        snprintf(name, sizeof name, "span-%d", i);
        if (strcmp(o->name, name) || o->attrs.count != (size_t)(i % 5) ||
            o->start_time_unix_nano != (uint64_t)i || o->has_status != (i % 7 == 0) ||
            memcmp(o->span_id, spans[i]->ctx.span_id, 8))
            bad++;
    }
    CHECK_EQ_INT(bad, 0);
    otlp_traces_free(t);
    buf_release(&b);
    for (int i = 0; i < N; i++)
        span_free(spans[i]);
    free(spans);
}

static void test_empty_batch(void) {
    make_resource();
    struct buf b = {0};
    struct otlp_traces *t = encode_decode(NULL, 0, &b, 0);
    REQUIRE(t);
    CHECK_EQ_INT(t->unknown_fields, 0);
    CHECK_EQ_INT(otlp_traces_span_count(t), 0);
    REQUIRE(t->n_resource_spans == 1);
    CHECK_EQ_INT(t->resource_spans[0].resource.attrs.count, 2);
    otlp_traces_free(t);
    buf_release(&b);

    /* An empty resource too. */
    struct attr_list none = {0};
    struct buf e = {0};
    REQUIRE(otlp_encode_traces(&e, &none, NULL, 0));
    char err[128];
    t = otlp_traces_decode(e.data, e.len, err, sizeof err);
    REQUIRE(t);
    CHECK_EQ_INT(t->resource_spans[0].resource.attrs.count, 0);
    CHECK_EQ_INT(t->resource_spans[0].resource.dropped_attributes_count, 0);
    otlp_traces_free(t);
    buf_release(&e);
}

/* The encoder appends: bytes already in the buffer stay. */
static void test_appends(void) {
    make_resource();
    struct span *s = full_span();
    REQUIRE(s);
    struct buf b = {0};
    buf_puts(&b, "prefix");
    struct otlp_traces *t = encode_decode(&s, 1, &b, 6);
    REQUIRE(t);
    CHECK(!memcmp(b.data, "prefix", 6));
    CHECK_EQ_INT(otlp_traces_span_count(t), 1);
    otlp_traces_free(t);
    /* A failed buffer fails the encoding. */
    b.failed = true;
    CHECK(!otlp_encode_traces(&b, &resource, &s, 1));
    buf_release(&b);
    span_free(s);
}

/* The relay's splice (handoff.c): attributes added to a request's
 * resource, the lengths around it rewritten; the result decodes with the
 * resource's own attributes, the added ones, and every span. */
static void test_add_resource_attrs(void) {
    make_resource();
    struct attr_list host = {0};
    char mem[2048];
    struct arena a;
    arena_init(&a, mem, sizeof mem);
    (void)attrs_put_str(&host, &a, &unlimited, "host.name", "box", 3);
    char big[300]; /* the lengths around the resource then need more bytes */
    memset(big, 'x', sizeof big);
    (void)attrs_put_str(&host, &a, &unlimited, "os.description", big, sizeof big);
    uint8_t attrs[1024];
    size_t n = otlp_proto_attrs(attrs, sizeof attrs, &host);
    REQUIRE(n > 300);
    CHECK_EQ_INT(otlp_proto_attrs(attrs, 10, &host), 0); /* does not fit */

    for (size_t spans = 1; spans <= 40; spans += 39) { /* short and long requests */
        struct span *s[40];
        for (size_t i = 0; i < spans; i++)
            REQUIRE(s[i] = full_span());
        struct buf b = {0};
        REQUIRE(otlp_encode_traces(&b, &resource, s, spans));
        size_t len = b.len, cap = len + n + 16;
        REQUIRE(buf_reserve(&b, cap));
        CHECK_EQ_INT(otlp_proto_add_resource_attrs(b.data, len, len + n - 1, attrs, n), len);
        size_t got = otlp_proto_add_resource_attrs(b.data, len, cap, attrs, n);
        CHECK(got > len + n && got <= cap);
        char err[256] = "";
        struct otlp_traces *t = otlp_traces_decode(b.data, got, err, sizeof err);
        REQUIRE(t);
        CHECK_EQ_INT(t->n_resource_spans, 1);
        const struct otlp_attrs *ra = &t->resource_spans[0].resource.attrs;
        CHECK_EQ_INT(ra->count, 4);
        CHECK(attr(ra, "service.name", OTLP_VALUE_STRING) != NULL);
        CHECK(attr(ra, "process.pid", OTLP_VALUE_INT) != NULL);
        const struct otlp_value *v = attr(ra, "host.name", OTLP_VALUE_STRING);
        CHECK(v && !strcmp(v->str, "box"));
        v = attr(ra, "os.description", OTLP_VALUE_STRING);
        CHECK(v && v->len == sizeof big);
        CHECK_EQ_INT(t->resource_spans[0].resource.dropped_attributes_count, 3);
        CHECK_EQ_INT(otlp_traces_span_count(t), spans);
        otlp_traces_free(t);
        buf_release(&b);
        for (size_t i = 0; i < spans; i++)
            span_free(s[i]);
    }
    /* Not one request shaped as ours: left as it is. */
    uint8_t junk[] = {0x0a, 0x05, 0x12, 0x03, 1, 2, 3};
    CHECK_EQ_INT(otlp_proto_add_resource_attrs(junk, sizeof junk, 64, attrs, n), sizeof junk);
    uint8_t cut[] = {0x0a, 0x80};
    CHECK_EQ_INT(otlp_proto_add_resource_attrs(cut, sizeof cut, 64, attrs, n), sizeof cut);
    uint64_t v;
    CHECK_EQ_INT(otlp_proto_varint((const uint8_t *)"\x96\x01", 2, &v), 2);
    CHECK_EQ_INT(v, 150);
}

/* ---- logs ---- */

static struct otlp_logs *encode_decode_logs(struct log_record *const *logs, size_t n,
                                            struct buf *b) {
    if (!otlp_encode_logs(b, &resource, logs, n)) return NULL;
    char err[256] = "";
    struct otlp_logs *l = otlp_logs_decode(b->data, b->len, err, sizeof err);
    if (!l) fprintf(stderr, "decode failed: %s\n", err);
    return l;
}

static void test_full_log(void) {
    make_resource();
    struct span_context ctx = {.flags = TRACE_FLAG_SAMPLED};
    for (int i = 0; i < 16; i++)
        ctx.trace_id[i] = (uint8_t)(0x10 + i);
    for (int i = 0; i < 8; i++)
        ctx.span_id[i] = (uint8_t)(0x20 + i);
    const struct attr_limits lim = {4, UINT32_MAX};
    const char *body = "disk \xc3\xa9 full: 93%";
    struct log_record *r = log_record_new(1700000000123456789ull, 1700000000223456789ull, 18,
                                          "crit", body, strlen(body), &ctx, &lim, 512);
    REQUIRE(r);
    (void)log_record_set_str(r, "syslog.ident", "etl", 3);
    (void)log_record_set_int(r, "syslog.facility.code", 16);
    (void)log_record_set_int(r, "neg", INT64_MIN);
    struct attr_value d = {.type = ATTR_DOUBLE, .u.d = -0.25};
    (void)log_record_set_attr(r, str_cstr("d"), &d);
    (void)log_record_set_str(r, "over", "limit", 5); /* dropped: count limit 4 */
    r->event_name = str_cstr("app.disk.full");

    struct buf b = {0};
    struct otlp_logs *l = encode_decode_logs(&r, 1, &b);
    REQUIRE(l);
    CHECK_EQ_INT(l->unknown_fields, 0);
    REQUIRE(l->n_resource_logs == 1);
    const struct otlp_resource_logs *rl = &l->resource_logs[0];
    CHECK_EQ_INT(rl->resource.attrs.count, 2);
    CHECK_EQ_INT(rl->resource.dropped_attributes_count, 3);
    REQUIRE(rl->n_scope_logs == 1);
    CHECK_STR(rl->scope_logs[0].scope.name, OTELP_SCOPE_NAME);
    CHECK_STR(rl->scope_logs[0].scope.version, OTELP_VERSION);
    REQUIRE(otlp_logs_record_count(l) == 1);
    const struct otlp_log *o = otlp_logs_record_at(l, 0);
    CHECK_EQ_U64(o->time_unix_nano, 1700000000123456789ull);
    CHECK_EQ_U64(o->observed_time_unix_nano, 1700000000223456789ull);
    CHECK_EQ_INT(o->severity_number, 18);
    CHECK_STR(o->severity_text, "crit");
    CHECK(o->has_body);
    CHECK_EQ_INT(o->body.type, OTLP_VALUE_STRING);
    CHECK_STR(o->body.str, body);
    CHECK_EQ_INT(o->attrs.count, 4);
    CHECK_EQ_INT(o->dropped_attributes_count, 1);
    const struct otlp_value *v = attr(&o->attrs, "syslog.ident", OTLP_VALUE_STRING);
    CHECK(v && !strcmp(v->str, "etl"));
    v = attr(&o->attrs, "neg", OTLP_VALUE_INT);
    CHECK(v && v->i == INT64_MIN);
    v = attr(&o->attrs, "d", OTLP_VALUE_DOUBLE);
    CHECK(v && v->d == -0.25);
    CHECK_MEM(o->trace_id, ctx.trace_id, 16);
    CHECK_MEM(o->span_id, ctx.span_id, 8);
    CHECK_EQ_INT(o->flags, TRACE_FLAG_SAMPLED);
    CHECK_STR(o->event_name, "app.disk.full");
    otlp_logs_free(l);
    buf_release(&b);
    log_record_free(r);
}

/* No context (no ids, no flags), severity unspecified, empty body; a
 * context that is not sampled (ids, flags 0). */
static void test_minimal_logs(void) {
    make_resource();
    const struct attr_limits lim = {128, UINT32_MAX};
    struct span_context unsampled = {.flags = 0};
    memset(unsampled.trace_id, 7, 16);
    memset(unsampled.span_id, 8, 8);
    struct log_record *r[2] = {log_record_new(5, 6, 0, NULL, "", 0, NULL, &lim, 0),
                               log_record_new(7, 8, 9, "INFO", "x", 1, &unsampled, &lim, 0)};
    REQUIRE(r[0] && r[1]);
    struct buf b = {0};
    struct otlp_logs *l = encode_decode_logs(r, 2, &b);
    REQUIRE(l);
    CHECK_EQ_INT(l->unknown_fields, 0);
    REQUIRE(otlp_logs_record_count(l) == 2);
    const struct otlp_log *o = otlp_logs_record_at(l, 0);
    CHECK_EQ_U64(o->time_unix_nano, 5);
    CHECK_EQ_U64(o->observed_time_unix_nano, 6);
    CHECK_EQ_INT(o->severity_number, 0);
    CHECK_STR(o->severity_text, "");
    CHECK(o->has_body);
    CHECK_EQ_INT(o->body.type, OTLP_VALUE_STRING);
    CHECK_STR(o->body.str, "");
    CHECK_EQ_INT(o->attrs.count, 0);
    uint8_t zero[16] = {0};
    CHECK_MEM(o->trace_id, zero, 16);
    CHECK_MEM(o->span_id, zero, 8);
    CHECK_EQ_INT(o->flags, 0);
    CHECK_STR(o->event_name, "");
    o = otlp_logs_record_at(l, 1);
    CHECK_MEM(o->trace_id, unsampled.trace_id, 16);
    CHECK_MEM(o->span_id, unsampled.span_id, 8);
    CHECK_EQ_INT(o->flags, 0);
    CHECK_STR(o->body.str, "x");
    otlp_logs_free(l);
    buf_release(&b);
    log_record_free(r[0]);
    log_record_free(r[1]);

    /* An empty batch, and a failed buffer. */
    struct buf e = {0};
    l = encode_decode_logs(NULL, 0, &e);
    REQUIRE(l);
    CHECK_EQ_INT(otlp_logs_record_count(l), 0);
    otlp_logs_free(l);
    e.failed = true;
    CHECK(!otlp_encode_logs(&e, &resource, NULL, 0));
    buf_release(&e);
}

/* More records than the size cache. */
static void test_many_logs(void) {
    make_resource();
    enum { N = 1100 };
    const struct attr_limits lim = {128, UINT32_MAX};
    struct log_record **r = calloc(N, sizeof *r);
    REQUIRE(r);
    for (int i = 0; i < N; i++) {
        char msg[32];
        int len = snprintf(msg, sizeof msg, "line %d", i);
        r[i] = log_record_new((uint64_t)i, (uint64_t)i, 1 + i % 24, NULL, msg, (size_t)len, NULL,
                              &lim, 128);
        REQUIRE(r[i]);
        for (int k = 0; k < i % 4; k++)
            (void)log_record_set_int(r[i], k ? "b" : "a", k);
    }
    struct buf b = {0};
    struct otlp_logs *l = encode_decode_logs(r, N, &b);
    REQUIRE(l);
    REQUIRE(otlp_logs_record_count(l) == N);
    int bad = 0;
    for (int i = 0; i < N; i++) {
        const struct otlp_log *o = otlp_logs_record_at(l, (size_t)i);
        char msg[32];
        snprintf(msg, sizeof msg, "line %d", i);
        if (strcmp(o->body.str, msg) || o->time_unix_nano != (uint64_t)i ||
            o->severity_number != 1 + i % 24 || o->attrs.count != (size_t)(i % 4 > 1 ? 2 : i % 4))
            bad++;
    }
    CHECK_EQ_INT(bad, 0);
    otlp_logs_free(l);
    buf_release(&b);
    for (int i = 0; i < N; i++)
        log_record_free(r[i]);
    free(r);
}

int main(void) {
    RUN(test_full_span);
    RUN(test_minimal_spans);
    RUN(test_large_values);
    RUN(test_short_string_boundary);
    RUN(test_many_spans);
    RUN(test_empty_batch);
    RUN(test_appends);
    RUN(test_add_resource_attrs);
    RUN(test_full_log);
    RUN(test_minimal_logs);
    RUN(test_many_logs);
    return test_report("otlp_proto");
}
