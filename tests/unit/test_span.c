/* test_span: span_new (root, child of a remote or local parent, name and
 * trace state copied), attributes through the span's limits, the event
 * limit and each event's attribute limit, status rules (OK is final, a
 * message only with ERROR, UNSET ignored), links (their limit, trace state
 * and attribute limit), numeric array attributes (copied), the writer lock
 * of otelp.h spans, non-recording spans, and recycled slots (a reused
 * slot's record holds nothing of its last span; a thread's stash of free
 * slots goes back when it ends). Depends on core/span.h and test.h. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/ids.h"
#include "core/span.h"
#include "tests/unit/test.h"

static const struct span_limits limits = {
    .attrs = {4, 8},
    .event_attrs = {2, 4},
    .events = 3,
    .link_attrs = {1, 8},
    .links = 2,
};

static const uint8_t tid[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

static struct span *root(const char *name, bool recording) {
    return span_new(str_cstr(name), NULL, tid, str_of("", 0), recording, 1000, &limits, 512);
}

static void test_root_span(void) {
    char name[] = "root span";
    struct span *s = span_new(str_cstr(name), NULL, tid, str_of("", 0), true, 1234, &limits, 256);
    REQUIRE(s);
    name[0] = 'X'; /* the name was copied */
    CHECK_STRN(s->name.ptr, s->name.len, "root span");
    CHECK_MEM(s->ctx.trace_id, tid, 16);
    CHECK(!id_is_zero(s->ctx.span_id, 8));
    CHECK(!s->has_parent);
    CHECK(!s->parent_remote);
    CHECK(s->recording);
    CHECK_EQ_INT(s->ctx.flags, TRACE_FLAG_SAMPLED);
    CHECK(!s->ctx.remote);
    CHECK_EQ_INT(s->kind, SPAN_KIND_INTERNAL);
    CHECK_EQ_INT(s->status_code, STATUS_UNSET);
    CHECK_EQ_U64(s->start_ns, 1234);
    CHECK_EQ_INT(s->trace_state.len, 0);
    CHECK(s->limits == &limits);
    span_free(s);
    span_free(NULL);
}

static void test_child_spans(void) {
    struct span_context parent = {.flags = TRACE_FLAG_SAMPLED, .remote = true};
    memset(parent.trace_id, 0xaa, 16);
    memset(parent.span_id, 0xbb, 8);
    char ts[] = "congo=t61rcWkgMzE";
    struct span *s = span_new(str_cstr("child"), &parent, tid, str_cstr(ts), true, 5, &limits, 0);
    REQUIRE(s);
    ts[0] = 'X';
    CHECK_MEM(s->ctx.trace_id, parent.trace_id, 16); /* the parent's trace */
    CHECK_MEM(s->parent_span_id, parent.span_id, 8);
    CHECK(memcmp(s->ctx.span_id, parent.span_id, 8) != 0);
    CHECK(s->has_parent);
    CHECK(s->parent_remote);
    CHECK_STRN(s->trace_state.ptr, s->trace_state.len, "congo=t61rcWkgMzE");
    span_free(s);

    parent.remote = false;
    s = span_new(str_cstr("local child"), &parent, NULL, str_of("", 0), true, 5, &limits, 64);
    REQUIRE(s);
    CHECK(s->has_parent);
    CHECK(!s->parent_remote);
    span_free(s);

    /* Span ids differ between spans. */
    struct span *a = root("a", true), *b = root("b", true);
    REQUIRE(a && b);
    CHECK(memcmp(a->ctx.span_id, b->ctx.span_id, 8) != 0);
    span_free(a);
    span_free(b);
}

static void test_trace_state_cut(void) {
    char ts[700];
    memset(ts, 'v', sizeof ts - 1);
    ts[sizeof ts - 1] = '\0';
    memcpy(ts, "k=", 2);
    struct span *s = span_new(str_cstr("t"), NULL, tid, str_cstr(ts), true, 0, &limits, 0);
    REQUIRE(s);
    CHECK_EQ_INT(s->trace_state.len, 512);
    span_free(s);
}

static void test_attributes(void) {
    struct span *s = root("attrs", true);
    REQUIRE(s);
    CHECK_EQ_INT(span_set_str(s, "s", "0123456789", 10), 0);
    CHECK_EQ_INT(span_set_int(s, "i", -7), 0);
    CHECK_EQ_INT(span_set_double(s, "d", 0.5), 0);
    CHECK_EQ_INT(span_set_bool(s, "b", false), 0);
    CHECK(span_set_int(s, "over", 1) < 0);    /* count limit 4 */
    CHECK_EQ_INT(span_set_int(s, "i", 8), 0); /* overwrite is fine */
    CHECK_EQ_INT(s->attrs.count, 4);
    CHECK_EQ_INT(s->attrs.dropped, 1);
    const struct attr *x = attrs_find(&s->attrs, "s");
    REQUIRE(x);
    CHECK_STRN(x->value.u.s.ptr, x->value.u.s.len, "01234567"); /* value length 8 */
    x = attrs_find(&s->attrs, "i");
    REQUIRE(x);
    CHECK_EQ_INT(x->value.u.i, 8);
    span_free(s);
}

static void test_events(void) {
    struct span *s = root("events", true);
    REQUIRE(s);
    struct span_event *e1 = span_add_event(s, "one", 10);
    struct span_event *e2 = span_add_event(s, "two", 20);
    struct span_event *e3 = span_add_event(s, "three", 30);
    REQUIRE(e1 && e2 && e3);
    CHECK(span_add_event(s, "four", 40) == NULL);
    CHECK(span_add_event(s, "five", 50) == NULL);
    CHECK_EQ_INT(s->event_count, 3);
    CHECK_EQ_INT(s->dropped_events, 2);
    CHECK(s->events == e1 && e1->next == e2 && e2->next == e3 && !e3->next);
    CHECK(s->events_tail == e3);
    CHECK_STRN(e2->name.ptr, e2->name.len, "two");
    CHECK_EQ_U64(e3->time_ns, 30);

    struct attr_value v = {.type = ATTR_STRING, .u.s = str_cstr("abcdefgh")};
    CHECK_EQ_INT(span_event_set_attr(s, e1, str_cstr("k1"), &v), 0);
    struct attr_value i = {.type = ATTR_INT, .u.i = 3};
    CHECK_EQ_INT(span_event_set_attr(s, e1, str_cstr("k2"), &i), 0);
    CHECK(span_event_set_attr(s, e1, str_cstr("k3"), &i) < 0); /* event attrs limit 2 */
    CHECK_EQ_INT(e1->attrs.count, 2);
    CHECK_EQ_INT(e1->attrs.dropped, 1);
    const struct attr *x = attrs_find(&e1->attrs, "k1");
    REQUIRE(x);
    CHECK_STRN(x->value.u.s.ptr, x->value.u.s.len, "abcd"); /* event value length 4 */
    CHECK_EQ_INT(e2->attrs.count, 0);
    /* A dropped event's attributes go nowhere, quietly. */
    CHECK_EQ_INT(span_event_set_attr(s, NULL, str_cstr("k"), &i), 0);
    span_free(s);
}

static void test_event_limit_zero(void) {
    struct span_limits none = limits;
    none.events = 0;
    struct span *s = span_new(str_cstr("x"), NULL, tid, str_of("", 0), true, 0, &none, 64);
    REQUIRE(s);
    CHECK(span_add_event(s, "e", 1) == NULL);
    CHECK_EQ_INT(s->dropped_events, 1);
    CHECK(s->events == NULL);
    span_free(s);
}

static void test_status(void) {
    struct span *s = root("status", true);
    REQUIRE(s);
    span_set_status(s, STATUS_ERROR, "boom");
    CHECK_EQ_INT(s->status_code, STATUS_ERROR);
    CHECK_STRN(s->status_message.ptr, s->status_message.len, "boom");
    span_set_status(s, STATUS_ERROR, "second");
    CHECK_STRN(s->status_message.ptr, s->status_message.len, "second");
    span_set_status(s, STATUS_OK, "ignored");
    CHECK_EQ_INT(s->status_code, STATUS_OK);
    CHECK_EQ_INT(s->status_message.len, 0); /* message only with ERROR */
    span_set_status(s, STATUS_ERROR, "too late");
    CHECK_EQ_INT(s->status_code, STATUS_OK); /* OK is final */
    CHECK_EQ_INT(s->status_message.len, 0);
    span_free(s);

    s = root("error without message", true);
    REQUIRE(s);
    span_set_status(s, STATUS_ERROR, NULL);
    CHECK_EQ_INT(s->status_code, STATUS_ERROR);
    CHECK_EQ_INT(s->status_message.len, 0);
    span_free(s);
}

/* Spec (trace API, Set Status): an attempt to set UNSET is ignored. */
static void test_status_unset_ignored(void) {
    struct span *s = root("unset", true);
    REQUIRE(s);
    span_set_status(s, STATUS_ERROR, "boom");
    span_set_status(s, STATUS_UNSET, NULL);
    CHECK_EQ_INT(s->status_code, STATUS_ERROR);
    CHECK_STRN(s->status_message.ptr, s->status_message.len, "boom");
    span_free(s);
}

static void test_non_recording(void) {
    struct span *s =
        span_new(str_cstr("quiet"), NULL, tid, str_cstr("k=v"), false, 0, &limits, 128);
    REQUIRE(s);
    CHECK(!s->recording);
    CHECK_EQ_INT(s->ctx.flags, 0);
    CHECK_EQ_INT(s->name.len, 0);
    CHECK_STRN(s->trace_state.ptr, s->trace_state.len, "k=v"); /* context still flows */
    CHECK_EQ_INT(span_set_int(s, "i", 1), 0);
    CHECK_EQ_INT(span_set_str(s, "s", "x", 1), 0);
    CHECK_EQ_INT(s->attrs.count, 0);
    CHECK_EQ_INT(s->attrs.dropped, 0);
    CHECK(span_add_event(s, "e", 1) == NULL);
    CHECK_EQ_INT(s->dropped_events, 0);
    span_set_status(s, STATUS_ERROR, "x");
    CHECK_EQ_INT(s->status_code, STATUS_UNSET);
    span_free(s);
}

/* A span with no inline arena keeps everything in malloc'd chunks. */
static void test_spill(void) {
    struct span_limits big = {{200, UINT32_MAX}, {200, UINT32_MAX}, 200};
    struct span *s = span_new(str_cstr("spill"), NULL, tid, str_of("", 0), true, 0, &big, 0);
    REQUIRE(s);
    for (int i = 0; i < 150; i++) {
        char key[32];
        snprintf(key, sizeof key, "attribute.%d", i);
        CHECK_EQ_INT(span_set_str(s, key, "some value that takes room", 26), 0);
        struct span_event *e = span_add_event(s, "e", (uint64_t)i);
        REQUIRE(e);
        struct attr_value v = {.type = ATTR_INT, .u.i = i};
        CHECK_EQ_INT(span_event_set_attr(s, e, str_cstr("n"), &v), 0);
    }
    CHECK_EQ_INT(s->attrs.count, 150);
    CHECK_EQ_INT(s->event_count, 150);
    span_set_status(s, STATUS_ERROR, "a message in a chunk");
    CHECK_STRN(s->status_message.ptr, s->status_message.len, "a message in a chunk");
    span_free(s);
}

static void test_links(void) {
    struct span *s = root("links", true);
    REQUIRE(s);
    struct span_context target = {.trace_id = {9}, .span_id = {8}, .flags = 1, .remote = true};
    char ts[] = "k=v";
    struct span_link *l = span_add_link(s, &target, str_cstr(ts));
    REQUIRE(l);
    ts[0] = 'X'; /* copied */
    CHECK_STRN(l->trace_state.ptr, l->trace_state.len, "k=v");
    CHECK_MEM(l->ctx.span_id, target.span_id, 8);
    struct attr_value v = {.type = ATTR_INT, .u.i = 1};
    CHECK_EQ_INT(span_link_set_attr(s, l, str_cstr("a"), &v), 0);
    CHECK(span_link_set_attr(s, l, str_cstr("b"), &v) < 0); /* one attribute per link */
    CHECK_EQ_INT(l->attrs.count, 1);
    CHECK_EQ_INT(l->attrs.dropped, 1);
    CHECK(span_add_link(s, &target, str_of("", 0)));
    CHECK(!span_add_link(s, &target, str_of("", 0))); /* two links per span */
    CHECK_EQ_INT(s->link_count, 2);
    CHECK_EQ_INT(s->dropped_links, 1);
    CHECK(s->links->next == s->links_tail);
    span_free(s);
    struct span *quiet = root("quiet", false);
    REQUIRE(quiet);
    CHECK(!span_add_link(quiet, &target, str_of("", 0)));
    span_free(quiet);
}

static void test_numeric_arrays(void) {
    struct span *s = root("arrays", true);
    REQUIRE(s);
    int64_t ints[] = {1, -2, 3};
    double doubles[] = {0.5};
    bool bools[] = {true, false};
    struct attr_value v = {.type = ATTR_INT_ARRAY, .u.nums = {ints, 3}};
    CHECK_EQ_INT(span_set_attr(s, str_cstr("i"), &v), 0);
    v = (struct attr_value){.type = ATTR_DOUBLE_ARRAY, .u.nums = {doubles, 1}};
    CHECK_EQ_INT(span_set_attr(s, str_cstr("d"), &v), 0);
    v = (struct attr_value){.type = ATTR_BOOL_ARRAY, .u.nums = {bools, 2}};
    CHECK_EQ_INT(span_set_attr(s, str_cstr("b"), &v), 0);
    ints[0] = 99; /* copied */
    const struct attr *a = attrs_find(&s->attrs, "i");
    REQUIRE(a);
    CHECK_EQ_INT(a->value.type, ATTR_INT_ARRAY);
    CHECK_EQ_INT(a->value.u.nums.count, 3);
    CHECK_EQ_INT(((const int64_t *)a->value.u.nums.items)[0], 1);
    CHECK_EQ_INT(((const int64_t *)a->value.u.nums.items)[1], -2);
    a = attrs_find(&s->attrs, "b");
    REQUIRE(a);
    CHECK(!((const bool *)a->value.u.nums.items)[1]);
    span_free(s);
}

static void test_api_lock(void) {
    struct span *s = root("locked", true);
    REQUIRE(s);
    CHECK(span_lock(s)); /* not an otelp.h span: no lock at all */
    CHECK(span_lock(s));
    s->api = true;
    CHECK(span_lock(s));
    CHECK(!span_lock(s)); /* held: bounded, then gives up */
    span_unlock(s);
    CHECK(span_lock(s));
    span_unlock(s);
    span_free(s);
}

/* A span freed with everything set: the span that reuses its slot starts
 * clean (the record is zeroed when freed, not when taken). */
static void test_slot_reused_clean(void) {
    struct span *s = root("dirty", true);
    REQUIRE(s);
    CHECK_EQ_INT(span_set_int(s, "k", 1), 0);
    REQUIRE(span_add_event(s, "e", 5));
    span_set_status(s, STATUS_ERROR, "bad");
    struct span_context ctx = {.trace_id = {9}, .span_id = {9}};
    REQUIRE(span_add_link(s, &ctx, str_of("", 0)));
    s->api = true;
    s->api_refs = API_ENDED;
    s->api_pid = 77;
    s->end_ns = 99;
    s->symbolize = s;
    s->thread_id = 5;
    span_free(s);
    /* Every span below is held, so each takes another slot: s's comes up
     * within the free queue's size and a stash. */
    enum { MAX = 1024 + 64 };
    struct span **held = calloc(MAX, sizeof *held);
    REQUIRE(held);
    struct span *again = NULL;
    int n = 0;
    while (n < MAX && !again) {
        struct span *t = root("clean", true);
        REQUIRE(t);
        held[n++] = t;
        if (t == s) again = t;
    }
    REQUIRE(again);
    CHECK_STR(again->name.ptr, "clean");
    CHECK_EQ_INT(again->attrs.count, 0);
    CHECK(again->events == NULL && again->events_tail == NULL);
    CHECK_EQ_INT(again->event_count, 0);
    CHECK(again->links == NULL && again->links_tail == NULL);
    CHECK_EQ_INT(again->link_count, 0);
    CHECK_EQ_INT(again->status_code, STATUS_UNSET);
    CHECK_EQ_INT(again->status_message.len, 0);
    CHECK(!again->api);
    CHECK_EQ_INT(atomic_load(&again->api_refs), 0);
    CHECK_EQ_INT(again->api_pid, 0);
    CHECK_EQ_INT((long)again->end_ns, 0);
    CHECK(again->symbolize == NULL);
    CHECK_EQ_INT(again->thread_id, 0);
    CHECK_EQ_INT((long)again->start_ns, 1000);
    CHECK(again->slot && again->recording);
    for (int i = 0; i < n; i++)
        span_free(held[i]);
    free(held);
}

static size_t cached_in_thread;

static void *one_span_thread(void *arg) {
    (void)arg;
    struct span *s = root("in a thread", true);
    if (s) span_free(s);
    cached_in_thread = span_cached_slots();
    return NULL;
}

/* A thread takes 16 free slots at once; when it ends, those it did not use
 * go back to the free queue. */
static void test_stash_returned_at_thread_exit(void) {
    struct span *made[40];
    for (int i = 0; i < 40; i++)
        REQUIRE(made[i] = root("filler", true));
    for (int i = 0; i < 40; i++)
        span_free(made[i]);
    size_t before = span_cached_slots();
    REQUIRE(before >= 40);
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, one_span_thread, NULL) == 0);
    pthread_join(t, NULL);
    CHECK_EQ_INT(cached_in_thread, before - 15); /* 16 taken, the one used freed */
    CHECK_EQ_INT(span_cached_slots(), before);
}

int main(void) {
    RUN(test_root_span);
    RUN(test_child_spans);
    RUN(test_trace_state_cut);
    RUN(test_attributes);
    RUN(test_events);
    RUN(test_event_limit_zero);
    RUN(test_status);
    RUN(test_status_unset_ignored);
    RUN(test_non_recording);
    RUN(test_spill);
    RUN(test_links);
    RUN(test_numeric_arrays);
    RUN(test_api_lock);
    RUN(test_slot_reused_clean);
    RUN(test_stash_returned_at_thread_exit);
    return test_report("span");
}
