/* test_otlp_decode: checks the strict test decoder on hand-built OTLP bytes.
 * Depends on tests/lib/otlp_decode.h only; bytes are written field by field
 * here, never by nanopb's encoder, so the two cannot share a mistake.
 */
#include "tests/lib/otlp_decode.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;
static int checks;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        checks++;                                                                                  \
        if (!(cond)) {                                                                             \
            failures++;                                                                            \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);               \
        }                                                                                          \
    } while (0)

/* ---- a tiny protobuf writer -------------------------------------------- */

struct wbuf {
    unsigned char b[8192];
    size_t n;
};

static void put_raw(struct wbuf *w, const void *p, size_t n) {
    if (w->n + n > sizeof(w->b)) {
        fprintf(stderr, "test buffer overflow\n");
        exit(2);
    }
    memcpy(w->b + w->n, p, n);
    w->n += n;
}

static void put_varint(struct wbuf *w, uint64_t v) {
    unsigned char c;
    do {
        c = (unsigned char)(v & 0x7F);
        v >>= 7;
        if (v != 0) c |= 0x80;
        put_raw(w, &c, 1);
    } while (v != 0);
}

static void put_tag(struct wbuf *w, unsigned field, unsigned wt) {
    put_varint(w, field << 3 | wt);
}

static void put_uint(struct wbuf *w, unsigned field, uint64_t v) {
    put_tag(w, field, 0);
    put_varint(w, v);
}

static void put_fixed32(struct wbuf *w, unsigned field, uint32_t v) {
    unsigned char b[4];
    for (int i = 0; i < 4; i++)
        b[i] = (unsigned char)(v >> (8 * i));
    put_tag(w, field, 5);
    put_raw(w, b, 4);
}

static void put_fixed64(struct wbuf *w, unsigned field, uint64_t v) {
    unsigned char b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(v >> (8 * i));
    put_tag(w, field, 1);
    put_raw(w, b, 8);
}

static void put_double(struct wbuf *w, unsigned field, double d) {
    uint64_t v;
    memcpy(&v, &d, sizeof(v));
    put_fixed64(w, field, v);
}

static void put_bytes(struct wbuf *w, unsigned field, const void *p, size_t n) {
    put_tag(w, field, 2);
    put_varint(w, n);
    put_raw(w, p, n);
}

static void put_str(struct wbuf *w, unsigned field, const char *s) {
    put_bytes(w, field, s, strlen(s));
}

static void put_msg(struct wbuf *w, unsigned field, const struct wbuf *m) {
    put_bytes(w, field, m->b, m->n);
}

/* KeyValue{key, value=AnyValue built by the caller} */
static void put_kv(struct wbuf *w, unsigned field, const char *key, const struct wbuf *any) {
    struct wbuf kv = {.n = 0};
    put_str(&kv, 1, key);
    if (any != NULL) put_msg(&kv, 2, any);
    put_msg(w, field, &kv);
}

static void put_kv_str(struct wbuf *w, unsigned field, const char *key, const char *val) {
    struct wbuf any = {.n = 0};
    put_str(&any, 1, val);
    put_kv(w, field, key, &any);
}

static const uint8_t TRACE_ID[16] = {0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6,
                                     0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36};
static const uint8_t SPAN_ID[8] = {0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7};
static const uint8_t PARENT_ID[8] = {0x53, 0x99, 0x5c, 0x3f, 0x42, 0xcd, 0x8a, 0xd8};

/* ---- tests ------------------------------------------------------------- */

/* resource_spans { scope_spans { spans { trace_id, span_id, name "s" } } } */
static const unsigned char TINY_TRACES[] = {
    0x0a, 0x23, 0x12, 0x21, 0x12, 0x1f, 0x0a, 0x10, 0x4b, 0xf9, 0x2f, 0x35, 0x77,
    0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36, 0x12, 0x08,
    0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7, 0x2a, 0x01, 0x73,
};

static void test_tiny(void) {
    char err[256];
    struct otlp_traces *t = otlp_traces_decode(TINY_TRACES, sizeof(TINY_TRACES), err, sizeof(err));
    CHECK(t != NULL);
    if (t == NULL) {
        fprintf(stderr, "tiny: %s\n", err);
        return;
    }
    CHECK(t->n_resource_spans == 1);
    CHECK(!t->resource_spans[0].resource.present);
    CHECK(otlp_traces_span_count(t) == 1);
    const struct otlp_span *sp = otlp_traces_span_at(t, 0);
    char hex[33];
    CHECK(strcmp(otlp_hex(sp->trace_id, 16, hex), "4bf92f3577b34da6a3ce929d0e0e4736") == 0);
    CHECK(strcmp(otlp_hex(sp->span_id, 8, hex), "00f067aa0ba902b7") == 0);
    CHECK(strcmp(otlp_hex(sp->parent_span_id, 8, hex), "0000000000000000") == 0);
    CHECK(strcmp(sp->name, "s") == 0);
    CHECK(strcmp(sp->trace_state, "") == 0);
    CHECK(sp->kind == 0 && sp->flags == 0 && !sp->has_status);
    CHECK(otlp_traces_find_span(t, "s") == sp);
    CHECK(otlp_traces_find_span(t, "x") == NULL);
    CHECK(t->unknown_fields == 0);
    otlp_traces_free(t);

    /* every truncation fails */
    for (size_t n = 1; n < sizeof(TINY_TRACES); n++) {
        t = otlp_traces_decode(TINY_TRACES, n, err, sizeof(err));
        CHECK(t == NULL);
        otlp_traces_free(t);
    }

    /* an empty request is valid and empty */
    t = otlp_traces_decode("", 0, err, sizeof(err));
    CHECK(t != NULL && t->n_resource_spans == 0);
    otlp_traces_free(t);
}

static struct wbuf rich_span(void) {
    struct wbuf sp = {.n = 0}, any = {.n = 0}, arr = {.n = 0}, kvl = {.n = 0}, ev = {.n = 0},
                ln = {.n = 0}, st = {.n = 0};
    put_bytes(&sp, 1, TRACE_ID, 16);
    put_bytes(&sp, 2, SPAN_ID, 8);
    put_str(&sp, 3, "k=v");
    put_bytes(&sp, 4, PARENT_ID, 8);
    put_str(&sp, 5, "rich \xc3\xa9");
    put_uint(&sp, 6, 2);
    put_fixed64(&sp, 7, 1700000000000000001ull);
    put_fixed64(&sp, 8, 1700000000123456789ull);

    put_kv_str(&sp, 9, "str", "hello");
    any.n = 0;
    put_uint(&any, 2, 0); /* bool false, present */
    put_kv(&sp, 9, "bool", &any);
    any.n = 0;
    put_uint(&any, 3, (uint64_t)-5); /* int64 -5: ten-byte varint */
    put_kv(&sp, 9, "int", &any);
    any.n = 0;
    put_uint(&any, 3, 0);
    put_kv(&sp, 9, "zero", &any);
    any.n = 0;
    put_double(&any, 4, 1.5);
    put_kv(&sp, 9, "double", &any);
    /* array ["a", "b", 7] */
    struct wbuf item = {.n = 0};
    put_str(&item, 1, "a");
    put_msg(&arr, 1, &item);
    item.n = 0;
    put_str(&item, 1, "b");
    put_msg(&arr, 1, &item);
    item.n = 0;
    put_uint(&item, 3, 7);
    put_msg(&arr, 1, &item);
    any.n = 0;
    put_msg(&any, 5, &arr);
    put_kv(&sp, 9, "array", &any);
    /* kvlist {inner: "v"} */
    put_kv_str(&kvl, 1, "inner", "v");
    any.n = 0;
    put_msg(&any, 6, &kvl);
    put_kv(&sp, 9, "kvlist", &any);
    any.n = 0;
    put_bytes(&any, 7, "\x00\xff", 2);
    put_kv(&sp, 9, "bytes", &any);
    put_kv(&sp, 9, "novalue", NULL);
    any.n = 0;
    put_msg(&any, 5, &(struct wbuf){.n = 0}); /* empty array */
    put_kv(&sp, 9, "emptyarray", &any);

    put_uint(&sp, 10, 3);
    put_fixed64(&ev, 1, 1700000000000000500ull);
    put_str(&ev, 2, "exception");
    put_kv_str(&ev, 3, "exception.type", "SIGSEGV");
    put_uint(&ev, 4, 1);
    put_msg(&sp, 11, &ev);
    put_uint(&sp, 12, 4);
    put_bytes(&ln, 1, TRACE_ID, 16);
    put_bytes(&ln, 2, PARENT_ID, 8);
    put_str(&ln, 3, "a=b");
    put_kv_str(&ln, 4, "link.attr", "x");
    put_uint(&ln, 5, 6);
    put_fixed32(&ln, 6, 0x101);
    put_msg(&sp, 13, &ln);
    put_uint(&sp, 14, 5);
    put_str(&st, 2, "boom");
    put_uint(&st, 3, 2);
    put_msg(&sp, 15, &st);
    put_fixed32(&sp, 16, 0x301);
    put_uint(&sp, 99, 1); /* unknown field: skipped, counted */
    return sp;
}

static void test_rich_traces(void) {
    struct wbuf req = {.n = 0}, rs = {.n = 0}, res = {.n = 0}, ss = {.n = 0}, scope = {.n = 0};
    struct wbuf sp = rich_span();
    put_kv_str(&res, 1, "service.name", "svc");
    put_uint(&res, 2, 2);
    put_str(&scope, 1, "otel-preload");
    put_str(&scope, 2, "0.1.0");
    put_msg(&ss, 1, &scope);
    put_msg(&ss, 2, &sp);
    put_msg(&ss, 2, &sp);
    put_str(&ss, 3, "https://opentelemetry.io/schemas/1.26.0");
    put_msg(&rs, 1, &res);
    put_msg(&rs, 2, &ss);
    put_msg(&req, 1, &rs);

    char err[256] = "";
    struct otlp_traces *t = otlp_traces_decode(req.b, req.n, err, sizeof(err));
    CHECK(t != NULL);
    if (t == NULL) {
        fprintf(stderr, "rich: %s\n", err);
        return;
    }
    CHECK(t->unknown_fields == 2);
    const struct otlp_resource_spans *r = &t->resource_spans[0];
    CHECK(r->resource.present && r->resource.dropped_attributes_count == 2);
    const struct otlp_value *v = otlp_attrs_find(&r->resource.attrs, "service.name");
    CHECK(v != NULL && v->type == OTLP_VALUE_STRING && strcmp(v->str, "svc") == 0);
    CHECK(r->n_scope_spans == 1);
    const struct otlp_scope_spans *s = &r->scope_spans[0];
    CHECK(s->has_scope && strcmp(s->scope.name, "otel-preload") == 0);
    CHECK(strcmp(s->scope.version, "0.1.0") == 0);
    CHECK(strcmp(s->schema_url, "https://opentelemetry.io/schemas/1.26.0") == 0);
    CHECK(s->n_spans == 2 && otlp_traces_span_count(t) == 2);

    const struct otlp_span *p = otlp_traces_span_at(t, 1);
    char hex[33];
    CHECK(strcmp(otlp_hex(p->parent_span_id, 8, hex), "53995c3f42cd8ad8") == 0);
    CHECK(strcmp(p->name, "rich \xc3\xa9") == 0 && strcmp(p->trace_state, "k=v") == 0);
    CHECK(p->kind == 2 && p->flags == 0x301);
    CHECK(p->start_time_unix_nano == 1700000000000000001ull);
    CHECK(p->end_time_unix_nano == 1700000000123456789ull);
    CHECK(p->attrs.count == 10);
    CHECK(p->dropped_attributes_count == 3 && p->dropped_events_count == 4 &&
          p->dropped_links_count == 5);

    v = otlp_attrs_find(&p->attrs, "str");
    CHECK(v && v->type == OTLP_VALUE_STRING && v->len == 5 && strcmp(v->str, "hello") == 0);
    v = otlp_attrs_find(&p->attrs, "bool");
    CHECK(v && v->type == OTLP_VALUE_BOOL && v->b == false);
    v = otlp_attrs_find(&p->attrs, "int");
    CHECK(v && v->type == OTLP_VALUE_INT && v->i == -5);
    v = otlp_attrs_find(&p->attrs, "zero");
    CHECK(v && v->type == OTLP_VALUE_INT && v->i == 0);
    v = otlp_attrs_find(&p->attrs, "double");
    CHECK(v && v->type == OTLP_VALUE_DOUBLE && v->d == 1.5);
    v = otlp_attrs_find(&p->attrs, "array");
    CHECK(v && v->type == OTLP_VALUE_ARRAY && v->n_items == 3);
    if (v && v->n_items == 3) {
        CHECK(v->items[0].type == OTLP_VALUE_STRING && strcmp(v->items[0].str, "a") == 0);
        CHECK(v->items[1].type == OTLP_VALUE_STRING && strcmp(v->items[1].str, "b") == 0);
        CHECK(v->items[2].type == OTLP_VALUE_INT && v->items[2].i == 7);
    }
    v = otlp_attrs_find(&p->attrs, "kvlist");
    CHECK(v && v->type == OTLP_VALUE_KVLIST && v->n_kvs == 1);
    if (v && v->n_kvs == 1)
        CHECK(strcmp(v->kvs[0].key, "inner") == 0 && strcmp(v->kvs[0].value.str, "v") == 0);
    v = otlp_attrs_find(&p->attrs, "bytes");
    CHECK(v && v->type == OTLP_VALUE_BYTES && v->len == 2 && (unsigned char)v->str[1] == 0xff);
    v = otlp_attrs_find(&p->attrs, "novalue");
    CHECK(v && v->type == OTLP_VALUE_EMPTY);
    v = otlp_attrs_find(&p->attrs, "emptyarray");
    CHECK(v && v->type == OTLP_VALUE_ARRAY && v->n_items == 0);

    CHECK(p->n_events == 1);
    if (p->n_events == 1) {
        CHECK(p->events[0].time_unix_nano == 1700000000000000500ull);
        CHECK(strcmp(p->events[0].name, "exception") == 0);
        v = otlp_attrs_find(&p->events[0].attrs, "exception.type");
        CHECK(v && strcmp(v->str, "SIGSEGV") == 0);
        CHECK(p->events[0].dropped_attributes_count == 1);
    }
    CHECK(p->n_links == 1);
    if (p->n_links == 1) {
        CHECK(memcmp(p->links[0].trace_id, TRACE_ID, 16) == 0);
        CHECK(memcmp(p->links[0].span_id, PARENT_ID, 8) == 0);
        CHECK(strcmp(p->links[0].trace_state, "a=b") == 0);
        CHECK(p->links[0].flags == 0x101 && p->links[0].dropped_attributes_count == 6);
        CHECK(p->links[0].attrs.count == 1);
    }
    CHECK(p->has_status && p->status_code == 2 && strcmp(p->status_message, "boom") == 0);
    otlp_traces_free(t);
}

static void test_logs(void) {
    struct wbuf req = {.n = 0}, rl = {.n = 0}, res = {.n = 0}, sl = {.n = 0}, scope = {.n = 0},
                lr = {.n = 0}, body = {.n = 0};
    put_kv_str(&res, 1, "service.name", "svc");
    put_str(&scope, 1, "syslog");
    put_fixed64(&lr, 1, 1700000000000000001ull);
    put_uint(&lr, 2, 17);
    put_str(&lr, 3, "ERROR");
    put_str(&body, 1, "disk full");
    put_msg(&lr, 5, &body);
    put_kv_str(&lr, 6, "syslog.facility", "daemon");
    put_uint(&lr, 7, 1);
    put_fixed32(&lr, 8, 1);
    put_bytes(&lr, 9, TRACE_ID, 16);
    put_bytes(&lr, 10, SPAN_ID, 8);
    put_fixed64(&lr, 11, 1700000000000000002ull);
    put_str(&lr, 12, "process.crash");
    put_msg(&sl, 1, &scope);
    put_msg(&sl, 2, &lr);
    put_msg(&rl, 1, &res);
    put_msg(&rl, 2, &sl);
    put_msg(&req, 1, &rl);

    char err[256] = "";
    struct otlp_logs *l = otlp_logs_decode(req.b, req.n, err, sizeof(err));
    CHECK(l != NULL);
    if (l == NULL) {
        fprintf(stderr, "logs: %s\n", err);
        return;
    }
    CHECK(otlp_logs_record_count(l) == 1 && l->unknown_fields == 0);
    const struct otlp_log *r = otlp_logs_record_at(l, 0);
    CHECK(r->time_unix_nano == 1700000000000000001ull);
    CHECK(r->observed_time_unix_nano == 1700000000000000002ull);
    CHECK(r->severity_number == 17 && strcmp(r->severity_text, "ERROR") == 0);
    CHECK(r->has_body && r->body.type == OTLP_VALUE_STRING &&
          strcmp(r->body.str, "disk full") == 0);
    CHECK(r->dropped_attributes_count == 1 && r->flags == 1);
    CHECK(memcmp(r->trace_id, TRACE_ID, 16) == 0 && memcmp(r->span_id, SPAN_ID, 8) == 0);
    CHECK(strcmp(r->event_name, "process.crash") == 0);
    const struct otlp_value *v = otlp_attrs_find(&r->attrs, "syslog.facility");
    CHECK(v && strcmp(v->str, "daemon") == 0);
    CHECK(strcmp(l->resource_logs[0].scope_logs[0].scope.name, "syslog") == 0);
    CHECK(otlp_logs_record_at(l, 1) == NULL);
    otlp_logs_free(l);

    /* a traces request is not a logs request: field 2 of ResourceLogs is
     * ScopeLogs, whose field 2 is a LogRecord; the tiny span's fields clash */
    l = otlp_logs_decode(TINY_TRACES, sizeof(TINY_TRACES), err, sizeof(err));
    CHECK(l == NULL);
    otlp_logs_free(l);
}

/* Wraps a span's bytes into a whole request. */
static struct wbuf wrap_span(const struct wbuf *sp) {
    struct wbuf req = {.n = 0}, rs = {.n = 0}, ss = {.n = 0};
    put_msg(&ss, 2, sp);
    put_msg(&rs, 2, &ss);
    put_msg(&req, 1, &rs);
    return req;
}

static void expect_span_fails(const char *what, const struct wbuf *sp, const char *msg_part) {
    struct wbuf req = wrap_span(sp);
    char err[256] = "";
    struct otlp_traces *t = otlp_traces_decode(req.b, req.n, err, sizeof(err));
    checks++;
    if (t != NULL) {
        failures++;
        fprintf(stderr, "malformed '%s' was accepted\n", what);
        otlp_traces_free(t);
    } else if (msg_part != NULL && strstr(err, msg_part) == NULL) {
        failures++;
        fprintf(stderr, "malformed '%s': error '%s' lacks '%s'\n", what, err, msg_part);
    }
}

static void test_malformed(void) {
    struct wbuf sp, any, kv;

    sp = (struct wbuf){.n = 0};
    put_uint(&sp, 5, 1); /* name as a varint */
    expect_span_fails("name with wire type 0", &sp, "wire type");

    sp = (struct wbuf){.n = 0};
    put_bytes(&sp, 1, TRACE_ID, 15);
    expect_span_fails("15-byte trace id", &sp, NULL);

    sp = (struct wbuf){.n = 0};
    put_bytes(&sp, 2, TRACE_ID, 9);
    expect_span_fails("9-byte span id", &sp, NULL);

    sp = (struct wbuf){.n = 0};
    put_str(&sp, 5, "bad \xc3(");
    expect_span_fails("invalid UTF-8 name", &sp, "UTF-8");

    sp = (struct wbuf){.n = 0};
    put_str(&sp, 5, "\xed\xa0\x80"); /* a UTF-16 surrogate */
    expect_span_fails("surrogate in name", &sp, "UTF-8");

    sp = (struct wbuf){.n = 0};
    put_uint(&sp, 10, 0x100000000ull);
    expect_span_fails("uint32 overflow", &sp, NULL);

    sp = (struct wbuf){.n = 0};
    put_tag(&sp, 12, 0);
    put_raw(&sp, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 11);
    expect_span_fails("11-byte varint", &sp, NULL);

    sp = (struct wbuf){.n = 0};
    put_tag(&sp, 50, 3); /* group start: not supported by OTLP */
    put_tag(&sp, 50, 4);
    expect_span_fails("group", &sp, NULL);

    sp = (struct wbuf){.n = 0};
    put_raw(&sp, "\x00\x00", 2);
    expect_span_fails("zero tag", &sp, NULL);

    sp = (struct wbuf){.n = 0};
    put_fixed32(&sp, 7, 1); /* start time as fixed32 */
    expect_span_fails("start time wire type 5", &sp, "wire type");

    /* AnyValue with an int followed by a string: two values */
    any = (struct wbuf){.n = 0};
    put_uint(&any, 3, 5);
    put_str(&any, 1, "A");
    sp = (struct wbuf){.n = 0};
    put_kv(&sp, 9, "two", &any);
    expect_span_fails("AnyValue int+string", &sp, "values");

    any = (struct wbuf){.n = 0};
    put_str(&any, 1, "A");
    put_uint(&any, 2, 1);
    sp = (struct wbuf){.n = 0};
    put_kv(&sp, 9, "two", &any);
    expect_span_fails("AnyValue string+bool", &sp, "values");

    /* invalid UTF-8 in a nested attribute key */
    kv = (struct wbuf){.n = 0};
    put_str(&kv, 1, "\xff");
    sp = (struct wbuf){.n = 0};
    put_msg(&sp, 9, &kv);
    expect_span_fails("invalid UTF-8 key", &sp, "UTF-8");

    /* a length running past its parent */
    sp = (struct wbuf){.n = 0};
    put_tag(&sp, 5, 2);
    put_varint(&sp, 100);
    put_raw(&sp, "abc", 3);
    expect_span_fails("length past end", &sp, NULL);

    /* arrays nested 100 deep */
    struct wbuf *lvl = calloc(2, sizeof(struct wbuf));
    if (lvl == NULL) exit(2);
    put_uint(&lvl[0], 3, 1);
    for (int i = 0; i < 100; i++) {
        struct wbuf arr = {.n = 0};
        put_msg(&arr, 1, &lvl[i % 2]);
        lvl[(i + 1) % 2].n = 0;
        put_msg(&lvl[(i + 1) % 2], 5, &arr);
    }
    sp = (struct wbuf){.n = 0};
    put_kv(&sp, 9, "deep", &lvl[0]);
    expect_span_fails("nesting 100 deep", &sp, "deeper");
    free(lvl);
}

int main(void) {
    test_tiny();
    test_rich_traces();
    test_logs();
    test_malformed();
    printf("test_otlp_decode: %d checks, %d failed\n", checks, failures);
    return failures == 0 ? 0 : 1;
}
