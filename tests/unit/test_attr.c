/* test_attr: the record arena (inline space, growth into malloc'd chunks,
 * no_malloc failures), attribute lists (count limit, overwrite, typed puts,
 * reserve) and the value length limit at UTF-8 boundaries for strings and
 * string arrays. Depends on core/attr.h and test.h. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/attr.h"
#include "tests/unit/test.h"

static const struct attr_limits unlimited = {UINT32_MAX, UINT32_MAX};

static void test_arena_inline_and_alignment(void) {
    _Alignas(16) char mem[256];
    struct arena a;
    arena_init(&a, mem, sizeof mem);
    char *p1 = arena_alloc(&a, 1);
    char *p2 = arena_alloc(&a, 9);
    char *p3 = arena_alloc(&a, 8);
    CHECK(p1 == mem);
    CHECK(p2 == mem + 8);  /* rounded up to 8 */
    CHECK(p3 == mem + 24); /* 9 -> 16 */
    CHECK(a.overflow == NULL);
    CHECK(arena_alloc(&a, 256 - 32) == mem + 32); /* exactly fills it */
    CHECK(a.overflow == NULL);
    arena_release(&a);
}

static void test_arena_growth(void) {
    char mem[64];
    struct arena a;
    arena_init(&a, mem, sizeof mem);
    CHECK(arena_alloc(&a, 48) == mem);
    char *big = arena_alloc(&a, 100); /* past the inline chunk */
    REQUIRE(big);
    CHECK(big < mem || big >= mem + sizeof mem);
    CHECK(a.overflow != NULL);
    memset(big, 'x', 100);
    /* Many more, some larger than a default chunk. */
    for (int i = 0; i < 200; i++) {
        size_t n = (size_t)(i % 7 == 0 ? 3000 : 40);
        char *p = arena_alloc(&a, n);
        REQUIRE(p);
        CHECK(((uintptr_t)p & 7) == 0);
        memset(p, i, n);
    }
    arena_release(&a); /* frees every chunk (ASan checks) */
    CHECK(a.overflow == NULL);
}

static void test_arena_no_malloc(void) {
    char mem[64];
    struct arena a;
    arena_init(&a, mem, sizeof mem);
    a.no_malloc = true;
    CHECK(arena_alloc(&a, 40) == mem);
    CHECK(arena_alloc(&a, 40) == NULL);
    CHECK(arena_alloc(&a, 24) == mem + 40);
    CHECK(arena_alloc(&a, 1) == NULL);
    CHECK(a.overflow == NULL);
    arena_release(&a);
}

static void test_utf8_truncate(void) {
    const char *s = "a\xc3\xa9"
                    "b\xe2\x82\xac"
                    "c\xf0\x9f\x98\x80"; /* a é b € c 😀: 1+2+1+3+1+4 = 12 bytes */
    CHECK_EQ_INT(utf8_truncate(s, 12, 100), 12);
    CHECK_EQ_INT(utf8_truncate(s, 12, 12), 12);
    CHECK_EQ_INT(utf8_truncate(s, 12, 0), 0);
    CHECK_EQ_INT(utf8_truncate(s, 12, 1), 1);
    CHECK_EQ_INT(utf8_truncate(s, 12, 2), 1); /* inside é */
    CHECK_EQ_INT(utf8_truncate(s, 12, 3), 3);
    CHECK_EQ_INT(utf8_truncate(s, 12, 4), 4);
    CHECK_EQ_INT(utf8_truncate(s, 12, 5), 4); /* inside € */
    CHECK_EQ_INT(utf8_truncate(s, 12, 6), 4);
    CHECK_EQ_INT(utf8_truncate(s, 12, 7), 7);
    CHECK_EQ_INT(utf8_truncate(s, 12, 9), 8); /* inside 😀 */
    CHECK_EQ_INT(utf8_truncate(s, 12, 10), 8);
    CHECK_EQ_INT(utf8_truncate(s, 12, 11), 8);
    CHECK_EQ_INT(utf8_truncate("hello", 5, 3), 3);
}

/* Validity, replacement of bad bytes by U+FFFD (to another buffer and in
 * place), and cutting a buffer cut anywhere back to whole characters. */
static void test_utf8_sanitize(void) {
    CHECK(utf8_valid("", 0));
    CHECK(utf8_valid("a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 10));
    CHECK(!utf8_valid("\xff", 1));
    CHECK(!utf8_valid("\xc3", 1));             /* cut short */
    CHECK(!utf8_valid("\xc0\x80", 2));         /* overlong */
    CHECK(!utf8_valid("\xed\xa0\x80", 3));     /* a surrogate */
    CHECK(!utf8_valid("\xf4\x90\x80\x80", 4)); /* past U+10FFFF */

    const char *bad = "a\xff"
                      "b\xc3\xa9\xc3";
    CHECK_EQ_INT(utf8_sanitized_len(bad, 6), 1 + 3 + 1 + 2 + 3);
    char out[32];
    size_t n = utf8_sanitize(out, sizeof out, bad, 6);
    CHECK_EQ_INT(n, 10);
    CHECK_MEM(out,
              "a\xef\xbf\xbd"
              "b\xc3\xa9\xef\xbf\xbd",
              10);
    CHECK(utf8_valid(out, n));
    CHECK_EQ_INT(utf8_sanitize(out, 3, bad, 6), 1); /* U+FFFD does not fit in 2 */
    CHECK_EQ_INT(utf8_sanitize(out, 5, "abcdef", 6), 5);

    char buf[16] = "x\xff\xfey";
    n = utf8_sanitize_in_place(buf, 4, sizeof buf);
    CHECK_EQ_INT(n, 8);
    CHECK_MEM(buf, "x\xef\xbf\xbd\xef\xbf\xbdy", 8);
    /* Too little room: stops before a replacement that would overrun. */
    char tight[6] = "\xff\xff\xff\xff";
    n = utf8_sanitize_in_place(tight, 4, sizeof tight);
    CHECK(n <= sizeof tight && n % 3 == 0 && n > 0);
    CHECK(utf8_valid(tight, n));
    char valid[8] = "abc";
    CHECK_EQ_INT(utf8_sanitize_in_place(valid, 3, 3), 3);

    CHECK_EQ_INT(utf8_complete_prefix("abc", 3), 3);
    CHECK_EQ_INT(utf8_complete_prefix("a\xe2\x82", 3), 1);
    CHECK_EQ_INT(utf8_complete_prefix("a\xe2", 2), 1);
    CHECK_EQ_INT(utf8_complete_prefix("a\xe2\x82\xac", 4), 4);
    CHECK_EQ_INT(utf8_complete_prefix("a\xf0\x9f\x98", 4), 1);
    CHECK_EQ_INT(utf8_complete_prefix("\x80\x80", 2), 2); /* stray bytes stay */
    CHECK_EQ_INT(utf8_complete_prefix("", 0), 0);
}

static void test_str_helpers(void) {
    struct str s = str_cstr("abc");
    CHECK_STRN(s.ptr, s.len, "abc");
    s = str_cstr(NULL);
    CHECK_EQ_INT(s.len, 0);
    char mem[64];
    struct arena a;
    arena_init(&a, mem, sizeof mem);
    struct str out;
    CHECK_EQ_INT(arena_strdup(&a, str_of("", 0), UINT32_MAX, &out), 0);
    CHECK_EQ_INT(out.len, 0);
    CHECK_EQ_INT(out.ptr[0], '\0');
    char src[] = "copied";
    CHECK_EQ_INT(arena_strdup(&a, str_cstr(src), 4, &out), 0);
    src[0] = 'X';
    CHECK_STRN(out.ptr, out.len, "copi");
    CHECK_EQ_INT(out.ptr[4], '\0');
    arena_release(&a);
}

static void test_count_limit(void) {
    char mem[2048];
    struct arena a;
    arena_init(&a, mem, sizeof mem);
    struct attr_list l = {0};
    struct attr_limits lim = {3, UINT32_MAX};
    CHECK_EQ_INT(attrs_put_int(&l, &a, &lim, "a", 1), 0);
    CHECK_EQ_INT(attrs_put_int(&l, &a, &lim, "b", 2), 0);
    CHECK_EQ_INT(attrs_put_int(&l, &a, &lim, "c", 3), 0);
    CHECK_EQ_INT(attrs_put_int(&l, &a, &lim, "d", 4), -ENOSPC);
    CHECK_EQ_INT(attrs_put_str(&l, &a, &lim, "e", "x", 1), -ENOSPC);
    CHECK_EQ_INT(l.count, 3);
    CHECK_EQ_INT(l.dropped, 2);
    CHECK(attrs_find(&l, "d") == NULL);
    /* Overwriting an existing key at the limit is no drop. */
    CHECK_EQ_INT(attrs_put_int(&l, &a, &lim, "b", 20), 0);
    CHECK_EQ_INT(l.count, 3);
    CHECK_EQ_INT(l.dropped, 2);
    const struct attr *b = attrs_find(&l, "b");
    REQUIRE(b);
    CHECK_EQ_INT(b->value.type, ATTR_INT);
    CHECK_EQ_INT(b->value.u.i, 20);
    /* Overwrite may change the type. */
    CHECK_EQ_INT(attrs_put_str(&l, &a, &lim, "a", "now a string", 12), 0);
    const struct attr *at = attrs_find(&l, "a");
    REQUIRE(at);
    CHECK_EQ_INT(at->value.type, ATTR_STRING);
    CHECK_STRN(at->value.u.s.ptr, at->value.u.s.len, "now a string");
    CHECK_EQ_INT(l.count, 3);
    /* Order is insertion order. */
    CHECK_STRN(l.items[0].key.ptr, l.items[0].key.len, "a");
    CHECK_STRN(l.items[2].key.ptr, l.items[2].key.len, "c");

    struct attr_limits none = {0, UINT32_MAX};
    struct attr_list l0 = {0};
    CHECK_EQ_INT(attrs_put_bool(&l0, &a, &none, "x", true), -ENOSPC);
    CHECK_EQ_INT(l0.count, 0);
    CHECK_EQ_INT(l0.dropped, 1);
    arena_release(&a);
}

static void test_types_and_find(void) {
    char mem[1024];
    struct arena a;
    arena_init(&a, mem, sizeof mem);
    struct attr_list l = {0};
    char key[] = "key.str", val[] = "value";
    CHECK_EQ_INT(attrs_put_str(&l, &a, &unlimited, key, val, 5), 0);
    key[0] = 'X'; /* keys and values are copied */
    val[0] = 'X';
    CHECK_EQ_INT(attrs_put_int(&l, &a, &unlimited, "key.int", -42), 0);
    CHECK_EQ_INT(attrs_put_double(&l, &a, &unlimited, "key.double", 2.5), 0);
    CHECK_EQ_INT(attrs_put_bool(&l, &a, &unlimited, "key.bool", true), 0);
    const struct attr *x = attrs_find(&l, "key.str");
    REQUIRE(x);
    CHECK_STRN(x->value.u.s.ptr, x->value.u.s.len, "value");
    CHECK_EQ_INT(x->value.u.s.ptr[5], '\0');
    x = attrs_find(&l, "key.int");
    REQUIRE(x);
    CHECK_EQ_INT(x->value.u.i, -42);
    x = attrs_find(&l, "key.double");
    REQUIRE(x);
    CHECK_NEAR(x->value.u.d, 2.5, 0);
    x = attrs_find(&l, "key.bool");
    REQUIRE(x);
    CHECK(x->value.u.b);
    CHECK(attrs_find(&l, "key") == NULL);
    CHECK(attrs_find(&l, "key.strx") == NULL);
    /* Keys with an embedded prefix relation are distinct. */
    CHECK_EQ_INT(attrs_put_int(&l, &a, &unlimited, "key", 1), 0);
    CHECK_EQ_INT(l.count, 5);
    arena_release(&a);
}

/* Keys sharing a key bit (same length and last byte here) still replace
 * only themselves; a new key skips the search and is appended. Values of
 * every length class copy exactly (the short-copy paths: 0-3, 4-7, 8-16,
 * 17-32 bytes and longer). */
static void test_key_bits_and_copies(void) {
    char mem[4096];
    struct arena a;
    arena_init(&a, mem, sizeof mem);
    struct attr_list l = {0};
    CHECK_EQ_INT(attr_key_bit(str_cstr("ab.x")), attr_key_bit(str_cstr("cd.x")));
    CHECK_EQ_INT(attrs_put_int(&l, &a, &unlimited, "ab.x", 1), 0);
    CHECK_EQ_INT(attrs_put_int(&l, &a, &unlimited, "cd.x", 2), 0);
    CHECK_EQ_INT(attrs_put_int(&l, &a, &unlimited, "ab.x", 3), 0);
    CHECK_EQ_INT(attrs_put_int(&l, &a, &unlimited, "cd.x", 4), 0);
    CHECK_EQ_INT(l.count, 2);
    CHECK_EQ_INT(attrs_find(&l, "ab.x")->value.u.i, 3);
    CHECK_EQ_INT(attrs_find(&l, "cd.x")->value.u.i, 4);
    static const char text[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJ";
    for (size_t n = 0; n < sizeof text; n++) {
        char key[8] = {'v', (char)('A' + n / 26), (char)('a' + n % 26), 0};
        CHECK_EQ_INT(attrs_put_str(&l, &a, &unlimited, key, text, n), 0);
        const struct attr *x = attrs_find(&l, key);
        REQUIRE(x);
        CHECK_EQ_INT(x->value.u.s.len, n);
        CHECK(memcmp(x->value.u.s.ptr, text, n) == 0);
        CHECK_EQ_INT(x->value.u.s.ptr[n], '\0');
    }
    arena_release(&a);
}

static void test_value_length_limit(void) {
    char mem[2048];
    struct arena a;
    arena_init(&a, mem, sizeof mem);
    struct attr_list l = {0};
    struct attr_limits lim = {128, 5};
    CHECK_EQ_INT(attrs_put_str(&l, &a, &lim, "plain", "hello world", 11), 0);
    /* "abcd" + é: the cut at 5 falls inside é */
    CHECK_EQ_INT(attrs_put_str(&l, &a, &lim, "cut", "abcd\xc3\xa9z", 7), 0);
    CHECK_EQ_INT(attrs_put_str(&l, &a, &lim, "short", "ab", 2), 0);
    /* keys are never truncated */
    CHECK_EQ_INT(attrs_put_int(&l, &a, &lim, "a.very.long.key", 1), 0);
    const struct attr *x = attrs_find(&l, "plain");
    REQUIRE(x);
    CHECK_STRN(x->value.u.s.ptr, x->value.u.s.len, "hello");
    x = attrs_find(&l, "cut");
    REQUIRE(x);
    CHECK_STRN(x->value.u.s.ptr, x->value.u.s.len, "abcd");
    x = attrs_find(&l, "short");
    REQUIRE(x);
    CHECK_STRN(x->value.u.s.ptr, x->value.u.s.len, "ab");
    CHECK(attrs_find(&l, "a.very.long.key") != NULL);

    /* Every string of an array is cut. */
    struct str items[4] = {str_cstr("0123456789"), str_cstr("\xe2\x82\xac\xe2\x82\xac"),
                           str_cstr("ok"), str_cstr("")};
    struct attr_value v = {.type = ATTR_STRING_ARRAY, .u.arr = {items, 4}};
    CHECK_EQ_INT(attrs_put(&l, &a, &lim, str_cstr("arr"), &v), 0);
    items[2] = str_cstr("changed"); /* the array was copied */
    x = attrs_find(&l, "arr");
    REQUIRE(x);
    CHECK_EQ_INT(x->value.type, ATTR_STRING_ARRAY);
    REQUIRE(x->value.u.arr.count == 4);
    CHECK_STRN(x->value.u.arr.items[0].ptr, x->value.u.arr.items[0].len, "01234");
    CHECK_STRN(x->value.u.arr.items[1].ptr, x->value.u.arr.items[1].len, "\xe2\x82\xac");
    CHECK_STRN(x->value.u.arr.items[2].ptr, x->value.u.arr.items[2].len, "ok");
    CHECK_STRN(x->value.u.arr.items[3].ptr, x->value.u.arr.items[3].len, "");

    struct attr_value empty = {.type = ATTR_STRING_ARRAY, .u.arr = {NULL, 0}};
    CHECK_EQ_INT(attrs_put(&l, &a, &lim, str_cstr("empty"), &empty), 0);
    x = attrs_find(&l, "empty");
    REQUIRE(x);
    CHECK_EQ_INT(x->value.u.arr.count, 0);

    /* Limit 0: empty strings, still present. */
    struct attr_limits zero = {128, 0};
    CHECK_EQ_INT(attrs_put_str(&l, &a, &zero, "zero", "abc", 3), 0);
    x = attrs_find(&l, "zero");
    REQUIRE(x);
    CHECK_EQ_INT(x->value.u.s.len, 0);
    arena_release(&a);
}

static void test_list_growth_past_inline(void) {
    char mem[128]; /* far too small: the list and strings spill into chunks */
    struct arena a;
    arena_init(&a, mem, sizeof mem);
    struct attr_list l = {0};
    for (int i = 0; i < 300; i++) {
        char key[32], val[64];
        snprintf(key, sizeof key, "key.%d", i);
        int n = snprintf(val, sizeof val, "value number %d", i);
        REQUIRE(attrs_put_str(&l, &a, &unlimited, key, val, (size_t)n) == 0);
    }
    CHECK_EQ_INT(l.count, 300);
    CHECK_EQ_INT(l.dropped, 0);
    CHECK(l.cap >= 300);
    CHECK(a.overflow != NULL);
    for (int i = 0; i < 300; i += 37) {
        char key[32], val[64];
        snprintf(key, sizeof key, "key.%d", i);
        snprintf(val, sizeof val, "value number %d", i);
        const struct attr *x = attrs_find(&l, key);
        REQUIRE(x);
        CHECK_STRN(x->value.u.s.ptr, x->value.u.s.len, val);
    }
    arena_release(&a);
}

/* With no malloc allowed, whatever does not fit is dropped and counted, for
 * every arena size (which hits each allocation that can fail: the list, the
 * key, the value, an array and its strings). */
static void test_no_malloc_drops(void) {
    for (size_t size = 0; size <= 4096; size += 8) {
        _Alignas(16) char mem[4096];
        struct arena a;
        arena_init(&a, mem, size);
        a.no_malloc = true;
        struct attr_list l = {0};
        int attempts = 0;
        struct str items[3] = {str_cstr("first item"), str_cstr("second item"),
                               str_cstr("third item")};
        struct attr_value arr = {.type = ATTR_STRING_ARRAY, .u.arr = {items, 3}};
        for (int i = 0; i < 12; i++) {
            char key[16];
            snprintf(key, sizeof key, "k%d", i);
            int rc;
            if (i % 3 == 0)
                rc = attrs_put(&l, &a, &unlimited, str_cstr(key), &arr);
            else if (i % 3 == 1)
                rc = attrs_put_str(&l, &a, &unlimited, key, "a string value", 14);
            else
                rc = attrs_put_int(&l, &a, &unlimited, key, i);
            attempts++;
            test_checks++;
            if (rc != 0 && rc != -ENOMEM) TEST_FAIL_("size %zu: rc %d", size, rc);
        }
        test_checks++;
        if (l.count + l.dropped != (uint32_t)attempts)
            TEST_FAIL_("size %zu: %u kept + %u dropped != %d", size, l.count, l.dropped, attempts);
        CHECK(a.overflow == NULL);
        /* What was kept is intact. */
        for (uint32_t i = 0; i < l.count; i++) {
            const struct attr *x = &l.items[i];
            if (x->value.type == ATTR_STRING)
                CHECK_STRN(x->value.u.s.ptr, x->value.u.s.len, "a string value");
            if (x->value.type == ATTR_STRING_ARRAY) {
                CHECK_EQ_INT(x->value.u.arr.count, 3);
                CHECK_STRN(x->value.u.arr.items[2].ptr, x->value.u.arr.items[2].len, "third item");
            }
        }
        if (size == 0) CHECK_EQ_INT(l.dropped, 12);
        if (size == 4096) CHECK_EQ_INT(l.count, 12);
    }
}

/* A failed overwrite keeps the old value and is no drop. */
static void test_no_malloc_overwrite(void) {
    _Alignas(16) char mem[1024];
    struct arena a;
    arena_init(&a, mem, sizeof mem);
    a.no_malloc = true;
    struct attr_list l = {0};
    CHECK_EQ_INT(attrs_put_str(&l, &a, &unlimited, "k", "old", 3), 0);
    char big[1024];
    memset(big, 'n', sizeof big);
    CHECK_EQ_INT(attrs_put_str(&l, &a, &unlimited, "k", big, sizeof big), -ENOMEM);
    CHECK_EQ_INT(l.count, 1);
    CHECK_EQ_INT(l.dropped, 0);
    const struct attr *x = attrs_find(&l, "k");
    REQUIRE(x);
    CHECK_STRN(x->value.u.s.ptr, x->value.u.s.len, "old");
}

/* attrs_reserve makes later puts of scalars need no list growth. */
static void test_reserve(void) {
    _Alignas(16) char mem[1024];
    struct arena a;
    arena_init(&a, mem, sizeof mem);
    struct attr_list l = {0};
    CHECK_EQ_INT(attrs_reserve(&l, &a, 10), 0);
    CHECK(l.cap >= 10);
    uint32_t cap = l.cap;
    a.no_malloc = true;
    a.cur = a.end - 80; /* leave room for the ten keys only */
    for (int i = 0; i < 10; i++) {
        char key[4] = {'k', (char)('0' + i), 0};
        CHECK_EQ_INT(attrs_put_int(&l, &a, &unlimited, key, i), 0);
    }
    CHECK_EQ_INT(l.cap, cap);
    CHECK_EQ_INT(l.count, 10);
    /* Reserving more than fits fails cleanly. */
    CHECK_EQ_INT(attrs_reserve(&l, &a, 1000), -ENOMEM);
    CHECK_EQ_INT(l.count, 10);
    CHECK_EQ_INT(attrs_reserve(&l, &a, 0), 0);
}

int main(void) {
    RUN(test_arena_inline_and_alignment);
    RUN(test_arena_growth);
    RUN(test_arena_no_malloc);
    RUN(test_utf8_truncate);
    RUN(test_utf8_sanitize);
    RUN(test_str_helpers);
    RUN(test_count_limit);
    RUN(test_types_and_find);
    RUN(test_key_bits_and_copies);
    RUN(test_value_length_limit);
    RUN(test_list_growth_past_inline);
    RUN(test_no_malloc_drops);
    RUN(test_no_malloc_overwrite);
    RUN(test_reserve);
    return test_report("attr");
}
