/* test_query: the filter grammar (server/query.c): precedence, units,
 * escapes, errors with their columns, limits, the in-memory matcher, and the
 * SQL it compiles to, run against an in-memory SQLite database with the
 * store's tables (docs/STORE.md): for every filter, the rows SQL returns are
 * the records the matcher accepts, and attribute filters use the (key,
 * value) indexes. Also the duration and time parsers. */
#include "server/query.h"
#include "test.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- helpers ---- */

static char fmt_buf[4096];

/* The canonical text of a filter, or "ERR: message" */
static const char *canon(const char *text, enum query_signal sig) {
    struct query *q;
    struct query_error err;
    if (query_parse(text, sig, &q, &err) != 0) {
        snprintf(fmt_buf, sizeof fmt_buf, "ERR: %s", err.message);
        return fmt_buf;
    }
    query_format(q, fmt_buf, sizeof fmt_buf);
    query_free(q);
    return fmt_buf;
}

static const char *error_of(const char *text, enum query_signal sig, int *column) {
    struct query *q = NULL;
    static struct query_error err;
    int rc = query_parse(text, sig, &q, &err);
    if (rc == 0) {
        query_free(q);
        *column = -1;
        return "(parsed)";
    }
    *column = err.column;
    return err.message;
}

/* ---- records for the matcher ---- */

struct attr {
    const char *key;
    enum query_type type;
    const char *s;
    int64_t i;
    double d;
};

struct rec {
    int id;
    const char *name, *service, *trace_id, *span_id, *parent, *status_message;
    int64_t duration;
    int status, kind;
    struct attr attrs[4];
    struct attr res[3];
};

static bool get_attr(const struct attr *list, size_t n, const char *key, size_t len,
                     struct query_value *out) {
    for (size_t i = 0; i < n && list[i].key; i++) {
        if (strlen(list[i].key) != len || memcmp(list[i].key, key, len)) continue;
        out->type = list[i].type;
        out->s = list[i].s, out->len = list[i].s ? strlen(list[i].s) : 0;
        out->i = list[i].i, out->d = list[i].d, out->b = list[i].i != 0;
        return true;
    }
    return false;
}

static bool str_out(const char *s, struct query_value *out) {
    if (!s) return false;
    out->type = QUERY_STR, out->s = s, out->len = strlen(s);
    return true;
}

static bool span_get(void *record, const struct query_field *f, struct query_value *out) {
    const struct rec *r = record;
    switch (f->id) {
    case QUERY_F_ATTR:
        if (f->scope == QUERY_SCOPE_RESOURCE) return get_attr(r->res, 3, f->key, f->key_len, out);
        return get_attr(r->attrs, 4, f->key, f->key_len, out);
    case QUERY_F_NAME:
        return str_out(r->name, out);
    case QUERY_F_SERVICE:
        return str_out(r->service, out);
    case QUERY_F_TRACE_ID:
        return str_out(r->trace_id, out);
    case QUERY_F_SPAN_ID:
        return str_out(r->span_id, out);
    case QUERY_F_PARENT_SPAN_ID:
        return str_out(r->parent, out);
    case QUERY_F_STATUS_MESSAGE:
        return str_out(r->status_message, out);
    case QUERY_F_DURATION:
        out->type = QUERY_INT, out->i = r->duration;
        return true;
    case QUERY_F_STATUS:
        out->type = QUERY_INT, out->i = r->status;
        return true;
    case QUERY_F_KIND:
        out->type = QUERY_INT, out->i = r->kind;
        return true;
    default:
        return false;
    }
}

#define S(k, v)                                                                                    \
    { k, QUERY_STR, v, 0, 0 }
#define I(k, v)                                                                                    \
    { k, QUERY_INT, NULL, v, 0 }
#define D(k, v)                                                                                    \
    { k, QUERY_DOUBLE, NULL, 0, v }
#define B(k, v)                                                                                    \
    { k, QUERY_BOOL, NULL, v, 0 }

static const struct rec recs[] = {
    {1,
     "cc1",
     "build",
     "4bf92f3577b34da6a3ce929d0e0e4736",
     "00f067aa0ba902b7",
     NULL,
     NULL,
     3000000000,
     0,
     1,
     {I("process.exit.code", 0), S("process.executable.name", "cc1")},
     {S("host.name", "a"), I("process.pid", 100)}},
    {2,
     "cc1",
     "build",
     "4bf92f3577b34da6a3ce929d0e0e4736",
     "00f067aa0ba902b8",
     "00f067aa0ba902b7",
     "exit code 1",
     50000000,
     2,
     1,
     {I("process.exit.code", 1), S("http.method", "GET")},
     {S("host.name", "b")}},
    {3,
     "ld",
     "link",
     "5bf92f3577b34da6a3ce929d0e0e4736",
     "10f067aa0ba902b7",
     NULL,
     NULL,
     150000000,
     1,
     2,
     {D("ratio", 0.5), B("cached", 1), S("http.method", "POST")},
     {S("host.name", "a")}},
    {4,
     "make",
     "build",
     "5bf92f3577b34da6a3ce929d0e0e4736",
     "20f067aa0ba902b7",
     NULL,
     NULL,
     0,
     0,
     3,
     {S("note", "line\none \"quoted\""), I("size", 2097152), S("num.text", "5")},
     {S("process.exit.code", "7")}},
    {5,
     "sh",
     NULL,
     "6bf92f3577b34da6a3ce929d0e0e4736",
     "30f067aa0ba902b7",
     NULL,
     NULL,
     100000000,
     2,
     1,
     {B("cached", 0), I("process.exit.code", 139), D("process.cpu.time", 2.5)},
     {{0}}},
};
#define NRECS (sizeof recs / sizeof recs[0])

/* ids of the records the filter matches, as "1,3" */
static const char *matches(const char *text) {
    static char out[300];
    struct query *q;
    struct query_error err;
    if (query_parse(text, QUERY_SPANS, &q, &err)) {
        snprintf(out, sizeof out, "ERR: %s", err.message);
        return out;
    }
    size_t n = 0;
    out[0] = 0;
    for (size_t i = 0; i < NRECS; i++)
        if (query_match(q, span_get, (void *)&recs[i]))
            n += (size_t)snprintf(out + n, sizeof out - n, "%s%d", n ? "," : "", recs[i].id);
    query_free(q);
    return out;
}

/* ---- tests ---- */

static void test_precedence(void) {
    /* and binds tighter than or, not tighter than both; the canonical text
     * keeps only the parentheses the tree needs */
    CHECK_STR(canon("a = 1 or (b = 2 and c = 3)", QUERY_SPANS), "a = 1 or b = 2 and c = 3");
    CHECK_STR(canon("(a = 1 and b = 2) or c = 3", QUERY_SPANS), "a = 1 and b = 2 or c = 3");
    CHECK_STR(canon("(a = 1 or b = 2) and c = 3", QUERY_SPANS), "(a = 1 or b = 2) and c = 3");
    CHECK_STR(canon("a = 1 and (b = 2 or c = 3)", QUERY_SPANS), "a = 1 and (b = 2 or c = 3)");
    CHECK_STR(canon("((a = 1 and b = 2)) and c = 3", QUERY_SPANS), "a = 1 and b = 2 and c = 3");
    CHECK_STR(canon("a = 1 and (b = 2 and c = 3)", QUERY_SPANS), "a = 1 and (b = 2 and c = 3)");
    CHECK_STR(canon("(not a = 1) and b = 2", QUERY_SPANS), "not a = 1 and b = 2");
    CHECK_STR(canon("not (a = 1 and b = 2)", QUERY_SPANS), "not (a = 1 and b = 2)");
    CHECK_STR(canon("not not (a = 1)", QUERY_SPANS), "not not a = 1");
    CHECK_STR(canon("a = 1 || (b = 2 && !c = 3)", QUERY_SPANS), "a = 1 or b = 2 and not c = 3");
    CHECK_STR(canon("(a=1 AND b=2) Or c=3", QUERY_SPANS), "a = 1 and b = 2 or c = 3");
    CHECK_STR(canon("   ", QUERY_SPANS), "");
    CHECK_STR(canon("x in (1, \"a\", 2.5) and y not in (true)", QUERY_SPANS),
              "x in (1, \"a\", 2.5) and y not in (true)");
    CHECK_STR(canon("x contains \"a\" or x not contains 'b'", QUERY_SPANS),
              "x contains \"a\" or x not contains \"b\"");
    CHECK_STR(canon("x =~ \"^a.*\" and x !~ \"b\" and y exists", QUERY_SPANS),
              "x =~ \"^a.*\" and x !~ \"b\" and y exists");
    CHECK_STR(canon("x == 1 and y <> 2 and z != 3", QUERY_SPANS), "x = 1 and y != 2 and z != 3");
    /* the same by evaluation: records 3 (ld, OK) and 5 (sh, ERROR) */
    CHECK_STR(matches("name = \"sh\" or name = \"ld\" and status = OK"), "3,5");
    CHECK_STR(matches("(name = \"sh\" or name = \"ld\") and status = OK"), "3");
    CHECK_STR(matches("not name = \"sh\" and status = ERROR"), "2");
    CHECK_STR(matches("not (name = \"sh\" and status = ERROR)"), "1,2,3,4");
}

static void test_fields(void) {
    CHECK_STR(canon("name = \"cc1\" and duration > 2s and process.exit.code != 0", QUERY_SPANS),
              "name = \"cc1\" and duration > 2000000000ns and process.exit.code != 0");
    CHECK_STR(canon("status = ERROR and kind = server", QUERY_SPANS), "status = 2 and kind = 2");
    CHECK_STR(canon("status = \"ok\" or kind in (CLIENT, 'producer')", QUERY_SPANS),
              "status = 1 or kind in (3, 4)");
    CHECK_STR(canon("severity >= ERROR", QUERY_LOGS), "severity >= 17");
    CHECK_STR(canon("severity >= warn2 and severity < FATAL4", QUERY_LOGS),
              "severity >= 14 and severity < 24");
    CHECK_STR(canon("severity = WARNING", QUERY_LOGS), "severity = 13");
    CHECK_STR(canon("body contains \"disk\"", QUERY_LOGS), "body contains \"disk\"");
    CHECK_STR(canon("name = \"process.cpu.time\" and value > 1.5", QUERY_METRICS),
              "name = \"process.cpu.time\" and value > 1.5");
    CHECK_STR(canon("type = histogram", QUERY_METRICS), "type = 3");
    CHECK_STR(canon("service.name = \"etl\"", QUERY_LOGS), "service.name = \"etl\"");
    CHECK_STR(canon("trace_id = \"4BF92F3577B34DA6A3CE929D0E0E4736\"", QUERY_SPANS),
              "trace_id = \"4bf92f3577b34da6a3ce929d0e0e4736\"");
    /* scopes and quoted names */
    CHECK_STR(canon("resource.host.name = \"a\"", QUERY_SPANS), "resource.host.name = \"a\"");
    CHECK_STR(canon("attr.name = \"a\"", QUERY_SPANS), "attr.name = \"a\"");
    CHECK_STR(canon("attributes.x = 1", QUERY_SPANS), "attr.x = 1");
    CHECK_STR(canon("`name` = \"a\"", QUERY_SPANS), "`name` = \"a\"");
    CHECK_STR(canon("`my key` = 1 and resource.`odd key!` = 2", QUERY_SPANS),
              "`my key` = 1 and resource.`odd key!` = 2");
    CHECK_STR(canon("`resource.x` = 1", QUERY_SPANS), "`resource.x` = 1");
    CHECK_STR(canon("`and` exists", QUERY_SPANS), "`and` exists");
    CHECK_STR(canon("k8s.pod-name = \"x\"", QUERY_SPANS), "k8s.pod-name = \"x\"");
    /* a field of another signal is an error pointing at it */
    int col;
    CHECK_STR(error_of("name = \"a\" and severity > 3", QUERY_SPANS, &col),
              "'severity' is a log field, not a span field at column 16 (quote attribute names "
              "with backticks: `severity`)");
    CHECK_EQ_INT(col, 16);
    CHECK_STR(canon("`severity` > 3", QUERY_SPANS), "`severity` > 3");
}

static void test_units(void) {
    CHECK_STR(canon("duration > 100ms", QUERY_SPANS), "duration > 100000000ns");
    CHECK_STR(canon("duration >= 2s and duration < 1m", QUERY_SPANS),
              "duration >= 2000000000ns and duration < 60000000000ns");
    CHECK_STR(canon("duration > 1h", QUERY_SPANS), "duration > 3600000000000ns");
    CHECK_STR(canon("duration > 1.5s", QUERY_SPANS), "duration > 1500000000ns");
    CHECK_STR(canon("duration > 250us or duration > 3µs or duration > 7ns", QUERY_SPANS),
              "duration > 250000ns or duration > 3000ns or duration > 7ns");
    CHECK_STR(canon("duration > 0", QUERY_SPANS), "duration > 0ns");
    CHECK_STR(canon("process.cpu.time > 2s", QUERY_SPANS), "process.cpu.time > 2.0");
    CHECK_STR(canon("x > 100ms", QUERY_SPANS), "x > 0.10000000000000001");
    CHECK_STR(canon("size > 1MiB", QUERY_SPANS), "size > 1048576");
    CHECK_STR(canon("size > 1KB and size < 1.5KiB", QUERY_SPANS), "size > 1000 and size < 1536");
    CHECK_STR(canon("size >= 2GiB", QUERY_SPANS), "size >= 2147483648");
    CHECK_STR(canon("x = -3 or x = +4 or x = 1e3 or x = .5", QUERY_SPANS),
              "x = -3 or x = 4 or x = 1000.0 or x = 0.5");
    CHECK_STR(canon("x = 99999999999999999999", QUERY_SPANS), "x = 1e+20");
    int col;
    CHECK_STR(error_of("duration > 100", QUERY_SPANS, &col),
              "a duration needs a unit at column 12 (100ms, 2s, 1m; ns us ms s m h d)");
    CHECK_EQ_INT(col, 12);
    CHECK_STR(error_of("duration > 100mss", QUERY_SPANS, &col),
              "unknown unit 'mss' at column 15 (ns us ms s m h d for times; B KB MB GB KiB MiB GiB "
              "for sizes)");
    CHECK_EQ_INT(col, 15);
    CHECK_STR(error_of("duration > 1MiB", QUERY_SPANS, &col),
              "a duration needs a time unit, not 'MiB' at column 13 (ns us ms s m h d)");
    CHECK_STR(error_of("x > 1.2.3", QUERY_SPANS, &col), "'1.2.3' is not a number at column 5");
    CHECK_STR(error_of("duration > 9999999999h", QUERY_SPANS, &col),
              "duration out of range at column 12");
}

static void test_strings(void) {
    struct query *q;
    struct query_error err;
    CHECK_STR(canon("x = \"a\\\"b\\\\c\\n\\t\\x41\\u00e9\\U0001F600'\"", QUERY_SPANS),
              "x = \"a\\\"b\\\\c\\x0a\\x09A\xc3\xa9\xf0\x9f\x98\x80'\"");
    CHECK_STR(canon("x = 'it\\'s' and y = \"\"", QUERY_SPANS), "x = \"it's\" and y = \"\"");
    CHECK_STR(canon("x = \"caf\xc3\xa9\"", QUERY_SPANS), "x = \"caf\xc3\xa9\"");
    /* \0 makes a string with a NUL byte, kept by length */
    REQUIRE(query_parse("note = \"a\\0b\"", QUERY_SPANS, &q, &err) == 0);
    CHECK_EQ_INT(query_format(q, NULL, 0), strlen("note = \"a\\x00b\""));
    query_free(q);
    int col;
    CHECK_STR(error_of("x = \"abc", QUERY_SPANS, &col), "unterminated string starting at column 5");
    CHECK_STR(error_of("x = \"a\\qb\"", QUERY_SPANS, &col),
              "unknown escape '\\q' at column 7 (use \\\\ for a backslash)");
    CHECK_EQ_INT(col, 7);
    CHECK_STR(error_of("x = \"\\x4\"", QUERY_SPANS, &col), "\\x needs two hex digits at column 6");
    CHECK_STR(error_of("x = \"\\ud800\"", QUERY_SPANS, &col),
              "\\ud800 is not a Unicode character at column 6");
    CHECK_STR(error_of("`abc = 1", QUERY_SPANS, &col),
              "unterminated quoted name starting at column 1");
}

static void test_errors(void) {
    int col;
    /* the example of docs/QUERY.md */
    CHECK_STR(error_of("name = \"cc1\" and duration >", QUERY_SPANS, &col),
              "expected a value after '>' at column 28 (found the end)");
    CHECK_EQ_INT(col, 28);
    CHECK_STR(error_of("name = and x = 1", QUERY_SPANS, &col),
              "expected a value after '=' at column 8 (found 'and')");
    CHECK_STR(error_of("name = cc1", QUERY_SPANS, &col),
              "expected a value after '=' at column 8 (found the name 'cc1'; quote text: \"cc1\")");
    CHECK_STR(error_of("name == 5", QUERY_SPANS, &col),
              "name is text: quote the value (\"5\") at column 9");
    CHECK_STR(error_of("status = 'bad'", QUERY_SPANS, &col),
              "unknown status 'bad' at column 10 (UNSET, OK, ERROR)");
    CHECK_STR(error_of("duration = \"1s\"", QUERY_SPANS, &col),
              "duration is a number, not text at column 12");
    CHECK_STR(error_of("name \"cc1\"", QUERY_SPANS, &col),
              "expected an operator after 'name' at column 6 (found a string; one of = != < <= > "
              ">= =~ !~ in contains exists)");
    CHECK_STR(error_of("(name = \"a\"", QUERY_SPANS, &col),
              "expected ')' at column 12 (found the end; the '(' is at column 1)");
    CHECK_STR(error_of("name = \"a\" x = 1", QUERY_SPANS, &col),
              "expected 'and', 'or' or the end at column 12 (found 'x')");
    CHECK_STR(error_of("name = \"a\" and", QUERY_SPANS, &col),
              "expected a field or attribute name at column 15 (found the end)");
    CHECK_STR(error_of("\"x\" = 1", QUERY_SPANS, &col),
              "expected a field or attribute name at column 1 (found a string; quote names with "
              "backticks: `my key`)");
    CHECK_STR(error_of("x = 1 & y = 2", QUERY_SPANS, &col),
              "unexpected '&' at column 7 (write 'and' or '&&')");
    CHECK_STR(error_of("x = 1 ; y = 2", QUERY_SPANS, &col), "unexpected character ';' at column 7");
    CHECK_STR(error_of("x in 1", QUERY_SPANS, &col), "expected '(' after 'in' at column 6");
    CHECK_STR(error_of("x in (1 2)", QUERY_SPANS, &col),
              "expected ',' or ')' in the list after 'in' at column 9");
    CHECK_STR(error_of("x not = 1", QUERY_SPANS, &col),
              "expected 'in' or 'contains' after 'not' at column 7");
    CHECK_STR(error_of("duration contains \"1\"", QUERY_SPANS, &col),
              "'contains' needs text, and duration is a number at column 10");
    CHECK_STR(error_of("x contains 5", QUERY_SPANS, &col),
              "'contains' needs a quoted string at column 12");
    CHECK_STR(error_of("x > true", QUERY_SPANS, &col),
              "'>' cannot compare true or false at column 5");
    CHECK_STR(error_of("resource. = 1", QUERY_SPANS, &col),
              "expected an attribute name after 'resource.' at column 1");
    /* columns count characters, not bytes */
    CHECK_STR(error_of("x = \"\xc3\xa9\xc3\xa9\" and", QUERY_SPANS, &col),
              "expected a field or attribute name at column 13 (found the end)");
    /* the caret */
    char buf[128];
    struct query_error err = {.column = 5};
    query_error_caret("ab = ", &err, buf, sizeof buf);
    CHECK_STR(buf, "ab = \n    ^");
}

static void test_regex(void) {
    int col;
    CHECK_STR(matches("name =~ \"^c+\""), "1,2");
    CHECK_STR(matches("name =~ \"c\" and name !~ \"^cc\""), "");
    CHECK_STR(matches("name !~ \"^c\""), "3,4,5");
    CHECK_STR(matches("http.method =~ \"P|G\""), "2,3");
    CHECK_STR(error_of("x =~ \"(a\"", QUERY_SPANS, &col),
              "bad regular expression: Unmatched ( or \\( at column 6");
    CHECK_STR(error_of("x =~ \"(a{100}){100}\"", QUERY_SPANS, &col),
              "regular expression too complex (its repetitions expand to more than 4000 parts) at "
              "column 6");
    CHECK_STR(error_of("x =~ \"3++\"", QUERY_SPANS, &col),
              "a repetition cannot follow a repetition in a regular expression at column 6");
    CHECK_STR(error_of("x =~ \"((((((((((a))))))))))\"", QUERY_SPANS, &col),
              "regular expression nests too deeply (more than 8 groups) at column 6");
    CHECK(
        strstr(error_of("x =~ \"a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*"
                        "\"",
                        QUERY_SPANS, &col),
               "too many repetitions (more than 32)") != NULL);
    CHECK_STR(error_of("x =~ \"(a)\\\\1\"", QUERY_SPANS, &col),
              "back-references (\\1) are not supported in regular expressions at column 6");
    CHECK_STR(error_of("duration =~ \"1\"", QUERY_SPANS, &col),
              "'=~' needs text, and duration is a number at column 10");
    char big[QUERY_REGEX_MAX + 20];
    memset(big, 'a', sizeof big);
    memcpy(big, "x =~ \"", 6);
    big[sizeof big - 2] = '"', big[sizeof big - 1] = 0;
    CHECK_STR(error_of(big, QUERY_SPANS, &col),
              "regular expression too long (524 bytes, at most 512) at column 6");
    struct query_error err;
    static const char *const fine[] = {
        "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
        "^([0-9]{1,3}\\.){3}[0-9]{1,3}$",
        "[[:alpha:]]{1000}",
        "(GET|POST) /api/v[0-9]+/.*",
        "[]a{}]{3}x*[^]]",
    };
    for (size_t i = 0; i < sizeof fine / sizeof fine[0]; i++)
        CHECK_EQ_INT(query_regex_check(fine[i], strlen(fine[i]), &err), 0);
    static const char *const bad[] = {
        "(a*b*c*d*e*f*g*h*i*j*k*l*m*n*o*p*q*r*s*t*u*v*w*x*y*z*){180}",
        "((a{10}){10}){41}",
        "[a-z]{4001}",
        "a{1,}{2}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_EQ_INT(query_regex_check(bad[i], strlen(bad[i]), &err), -EINVAL);
}

static void test_matcher(void) {
    CHECK_STR(matches(""), "1,2,3,4,5");
    CHECK_STR(matches("name = \"cc1\""), "1,2");
    CHECK_STR(matches("name = \"cc1\" and duration > 100ms"), "1");
    CHECK_STR(matches("duration >= 100ms"), "1,3,5");
    CHECK_STR(matches("status = ERROR"), "2,5");
    CHECK_STR(matches("kind in (SERVER, CLIENT)"), "3,4");
    CHECK_STR(matches("process.exit.code != 0"), "2,5");
    /* "7" is text in the resource of 4: not a number, not != 0 */
    CHECK_STR(matches("not process.exit.code = 0"), "2,3,4,5");
    CHECK_STR(matches("process.exit.code = \"7\""), "4");
    CHECK_STR(matches("resource.process.exit.code exists"), "4");
    CHECK_STR(matches("attr.process.exit.code exists"), "1,2,5");
    CHECK_STR(matches("process.exit.code exists"), "1,2,4,5");
    CHECK_STR(matches("host.name = \"a\""), "1,3");
    CHECK_STR(matches("attr.host.name = \"a\""), "");
    CHECK_STR(matches("resource.process.pid = 100"), "1");
    CHECK_STR(matches("service.name = \"build\""), "1,2,4");
    CHECK_STR(matches("service.name != \"build\""), "3");
    CHECK_STR(matches("not service.name = \"build\""), "3,5");
    CHECK_STR(matches("parent_span_id exists"), "2");
    CHECK_STR(matches("not parent_span_id exists"), "1,3,4,5");
    CHECK_STR(matches("trace_id = \"5BF92F3577B34DA6A3CE929D0E0E4736\""), "3,4");
    CHECK_STR(matches("trace_id contains \"4bf\""), "1,2");
    CHECK_STR(matches("status.message contains \"code\""), "2");
    CHECK_STR(matches("cached = true"), "3");
    CHECK_STR(matches("cached = 1"), "3");
    CHECK_STR(matches("cached != true"), "5");
    CHECK_STR(matches("ratio < 1 and ratio > 0.25"), "3");
    CHECK_STR(matches("ratio = 0.5"), "3");
    CHECK_STR(matches("size > 1MiB"), "4");
    CHECK_STR(matches("size > 1MiB and size <= 2MiB"), "4");
    CHECK_STR(matches("num.text = 5"), "");
    CHECK_STR(matches("num.text = \"5\""), "4");
    CHECK_STR(matches("num.text > 4"), "");
    CHECK_STR(matches("num.text > \"4\""), "4");
    CHECK_STR(matches("process.cpu.time > 2s"), "5");
    CHECK_STR(matches("note contains \"one \\\"quoted\""), "4");
    CHECK_STR(matches("note contains \"line\\n\""), "4");
    CHECK_STR(matches("note not contains \"zzz\""), "4");
    CHECK_STR(matches("http.method in (\"GET\", \"PUT\")"), "2");
    CHECK_STR(matches("http.method not in (\"GET\", \"PUT\")"), "3");
    CHECK_STR(matches("not http.method in (\"GET\", \"PUT\")"), "1,3,4,5");
    CHECK_STR(matches("name > \"d\""), "3,4,5");
    CHECK_STR(matches("(name = \"ld\" or name = \"sh\") and not status = ERROR"), "3");
    CHECK_STR(matches("name = \"ld\" or name = \"sh\" and status = OK"), "3");
}

/* ---- SQL against the store's tables ---- */

static const char schema[] =
    "CREATE TABLE resources (id INTEGER PRIMARY KEY, run_id INTEGER, hash INTEGER NOT NULL,"
    " service_name TEXT, schema_url TEXT, dropped_attributes_count INTEGER NOT NULL DEFAULT 0)"
    " STRICT;"
    "CREATE TABLE resource_attrs (resource_id INTEGER NOT NULL, key TEXT NOT NULL, type TEXT NOT"
    " NULL, value ANY, epoch INTEGER AS (resource_id >> 12), PRIMARY KEY (resource_id, key)) "
    "STRICT,"
    " WITHOUT ROWID;"
    "CREATE INDEX resource_attrs_kv ON resource_attrs (key, epoch, value);"
    "CREATE VIEW resource_epochs AS WITH RECURSIVE e(epoch) AS (SELECT (SELECT min(resource_id) "
    "FROM"
    " resource_attrs) >> 12 UNION ALL SELECT epoch + 1 FROM e WHERE epoch < (SELECT "
    "max(resource_id) FROM"
    " resource_attrs) >> 12) SELECT epoch FROM e;"
    "CREATE TABLE spans (id INTEGER PRIMARY KEY, run_id INTEGER, resource_id INTEGER NOT NULL,"
    " trace_id TEXT NOT NULL, span_id TEXT NOT NULL, parent_span_id TEXT, trace_state TEXT,"
    " flags INTEGER NOT NULL DEFAULT 0, name TEXT NOT NULL, kind INTEGER NOT NULL, start_ns"
    " INTEGER NOT NULL, end_ns INTEGER NOT NULL, duration_ns INTEGER NOT NULL, status_code"
    " INTEGER NOT NULL DEFAULT 0, status_message TEXT, service_name TEXT, pid INTEGER, ppid"
    " INTEGER, exit_code INTEGER, signal INTEGER, UNIQUE (trace_id, span_id)) STRICT;"
    "CREATE INDEX spans_parent ON spans (trace_id, parent_span_id);"
    "CREATE INDEX spans_start ON spans (start_ns);"
    "CREATE INDEX spans_duration ON spans (duration_ns);"
    "CREATE INDEX spans_name ON spans (name, start_ns);"
    "CREATE INDEX spans_service ON spans (service_name, start_ns);"
    "CREATE INDEX spans_resource ON spans (resource_id);"
    "CREATE TABLE span_attrs (span_id INTEGER NOT NULL, key TEXT NOT NULL, type TEXT NOT NULL,"
    " value ANY, epoch INTEGER AS (span_id >> 12), PRIMARY KEY (span_id, key)) STRICT,"
    " WITHOUT ROWID;"
    "CREATE INDEX span_attrs_kv ON span_attrs (key, epoch, value);"
    "CREATE VIEW span_epochs AS WITH RECURSIVE e(epoch) AS (SELECT (SELECT min(span_id) FROM"
    " span_attrs) >> 12 UNION ALL SELECT epoch + 1 FROM e WHERE epoch < (SELECT max(span_id) FROM"
    " span_attrs) >> 12) SELECT epoch FROM e;"
    "CREATE TABLE logs (id INTEGER PRIMARY KEY, run_id INTEGER, resource_id INTEGER NOT NULL,"
    " time_ns INTEGER NOT NULL, severity_number INTEGER NOT NULL DEFAULT 0, severity_text TEXT,"
    " body_type TEXT NOT NULL, body ANY, trace_id TEXT, span_id TEXT, event_name TEXT,"
    " service_name TEXT) STRICT;"
    "CREATE INDEX logs_resource ON logs (resource_id);"
    "CREATE TABLE log_attrs (log_id INTEGER NOT NULL, key TEXT NOT NULL, type TEXT NOT NULL,"
    " value ANY, epoch INTEGER AS (log_id >> 12), PRIMARY KEY (log_id, key)) STRICT,"
    " WITHOUT ROWID;"
    "CREATE INDEX log_attrs_kv ON log_attrs (key, epoch, value);"
    "CREATE VIEW log_epochs AS WITH RECURSIVE e(epoch) AS (SELECT (SELECT min(log_id) FROM"
    " log_attrs) >> 12 UNION ALL SELECT epoch + 1 FROM e WHERE epoch < (SELECT max(log_id) FROM"
    " log_attrs) >> 12) SELECT epoch FROM e;"
    "CREATE TABLE metric_points (id INTEGER PRIMARY KEY, stream_id INTEGER NOT NULL,"
    " resource_id INTEGER NOT NULL, name TEXT NOT NULL, unit TEXT, type INTEGER NOT NULL,"
    " service_name TEXT, time_ns INTEGER NOT NULL, value ANY) STRICT;"
    "CREATE INDEX metric_points_resource ON metric_points (resource_id);"
    "CREATE TABLE metric_stream_attrs (stream_id INTEGER NOT NULL, key TEXT NOT NULL, type TEXT"
    " NOT NULL, value ANY, PRIMARY KEY (stream_id, key)) STRICT, WITHOUT ROWID;"
    "CREATE INDEX metric_stream_attrs_kv ON metric_stream_attrs (key, value);";

static void bind_attr(sqlite3_stmt *st, const struct attr *a) {
    sqlite3_bind_text(st, 2, a->key, -1, SQLITE_STATIC);
    switch (a->type) {
    case QUERY_STR:
        sqlite3_bind_text(st, 3, "s", 1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, a->s, -1, SQLITE_STATIC);
        break;
    case QUERY_INT:
        sqlite3_bind_text(st, 3, "i", 1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, a->i);
        break;
    case QUERY_BOOL:
        sqlite3_bind_text(st, 3, "b", 1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, a->i);
        break;
    default:
        sqlite3_bind_text(st, 3, "d", 1, SQLITE_STATIC);
        sqlite3_bind_double(st, 4, a->d);
        break;
    }
}

static sqlite3 *span_db(void) {
    sqlite3 *db;
    if (sqlite3_open(":memory:", &db) != SQLITE_OK) return NULL;
    if (sqlite3_exec(db, schema, NULL, NULL, NULL) != SQLITE_OK ||
        query_register_regexp(db) != SQLITE_OK) {
        fprintf(stderr, "schema: %s\n", sqlite3_errmsg(db));
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_stmt *sp, *sa, *ra;
    sqlite3_prepare_v2(
        db,
        "INSERT INTO spans (id, resource_id, trace_id, span_id, parent_span_id, name,"
        " kind, start_ns, end_ns, duration_ns, status_code, status_message,"
        " service_name) VALUES (?,?,?,?,?,?,?,0,?,?,?,?,?)",
        -1, &sp, NULL);
    sqlite3_prepare_v2(db, "INSERT INTO span_attrs VALUES (?,?,?,?)", -1, &sa, NULL);
    sqlite3_prepare_v2(db, "INSERT INTO resource_attrs VALUES (?,?,?,?)", -1, &ra, NULL);
    for (size_t i = 0; i < NRECS; i++) {
        const struct rec *r = &recs[i];
        sqlite3_bind_int(sp, 1, r->id);
        sqlite3_bind_int(sp, 2, r->id * 10);
        sqlite3_bind_text(sp, 3, r->trace_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(sp, 4, r->span_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(sp, 5, r->parent, -1, SQLITE_STATIC);
        sqlite3_bind_text(sp, 6, r->name, -1, SQLITE_STATIC);
        sqlite3_bind_int(sp, 7, r->kind);
        sqlite3_bind_int64(sp, 8, r->duration);
        sqlite3_bind_int64(sp, 9, r->duration);
        sqlite3_bind_int(sp, 10, r->status);
        sqlite3_bind_text(sp, 11, r->status_message, -1, SQLITE_STATIC);
        sqlite3_bind_text(sp, 12, r->service, -1, SQLITE_STATIC);
        if (sqlite3_step(sp) != SQLITE_DONE) fprintf(stderr, "insert: %s\n", sqlite3_errmsg(db));
        sqlite3_reset(sp);
        for (size_t k = 0; k < 4 && r->attrs[k].key; k++) {
            sqlite3_bind_int(sa, 1, r->id);
            bind_attr(sa, &r->attrs[k]);
            sqlite3_step(sa);
            sqlite3_reset(sa);
        }
        for (size_t k = 0; k < 3 && r->res[k].key; k++) {
            sqlite3_bind_int(ra, 1, r->id * 10);
            bind_attr(ra, &r->res[k]);
            sqlite3_step(ra);
            sqlite3_reset(ra);
        }
    }
    sqlite3_finalize(sp);
    sqlite3_finalize(sa);
    sqlite3_finalize(ra);
    return db;
}

/* ids SQL returns for the filter, as "1,3"; plan: whether the plan scans
 * the spans table (no index) */
static const char *sql_matches(sqlite3 *db, const char *text, bool *full_scan) {
    static char out[300];
    struct query *q;
    struct query_error err;
    if (query_parse(text, QUERY_SPANS, &q, &err)) {
        snprintf(out, sizeof out, "ERR: %s", err.message);
        return out;
    }
    struct query_sql sql;
    if (query_compile_sql(q, "s", &sql, &err)) {
        query_free(q);
        return "compile failed";
    }
    char stmt_text[8192];
    sqlite3_stmt *st;
    /* the caller's own parameters around the fragment, numbered and not */
    snprintf(stmt_text, sizeof stmt_text,
             "SELECT s.id FROM spans s WHERE ?3 IS NULL AND (%s) AND ? IS NULL%s", sql.text,
             full_scan ? "" : " ORDER BY s.id");
    if (sqlite3_prepare_v2(db, stmt_text, -1, &st, NULL) != SQLITE_OK) {
        snprintf(out, sizeof out, "SQL error: %s in %s", sqlite3_errmsg(db), sql.text);
        query_sql_free(&sql);
        query_free(q);
        return out;
    }
    CHECK_EQ_INT(query_sql_bind(&sql, st, 1), SQLITE_OK);
    size_t n = 0;
    out[0] = 0;
    while (sqlite3_step(st) == SQLITE_ROW)
        n += (size_t)snprintf(out + n, sizeof out - n, "%s%d", n ? "," : "",
                              sqlite3_column_int(st, 0));
    sqlite3_finalize(st);
    if (full_scan) {
        char plan_text[8300];
        snprintf(plan_text, sizeof plan_text, "EXPLAIN QUERY PLAN %s", stmt_text);
        *full_scan = false;
        if (sqlite3_prepare_v2(db, plan_text, -1, &st, NULL) == SQLITE_OK) {
            query_sql_bind(&sql, st, 1);
            while (sqlite3_step(st) == SQLITE_ROW) {
                const char *detail = (const char *)sqlite3_column_text(st, 3);
                /* the epochs' recursive CTE steps over its own rows, no table */
                if (detail && !strncmp(detail, "SCAN ", 5) && strcmp(detail, "SCAN e") != 0 &&
                    strcmp(detail, "SCAN CONSTANT ROW") != 0)
                    *full_scan = true;
            }
            sqlite3_finalize(st);
        }
    }
    query_sql_free(&sql);
    query_free(q);
    return out;
}

static const char *const sql_filters[] = {
    "",
    "name = \"cc1\"",
    "name = \"cc1\" and duration > 100ms",
    "duration >= 100ms",
    "status = ERROR",
    "kind in (SERVER, CLIENT)",
    "kind not in (SERVER, CLIENT)",
    "process.exit.code != 0",
    "not process.exit.code = 0",
    "process.exit.code = \"7\"",
    "resource.process.exit.code exists",
    "attr.process.exit.code exists",
    "process.exit.code exists",
    "not process.exit.code exists",
    "host.name = \"a\"",
    "attr.host.name = \"a\"",
    "resource.process.pid = 100",
    "service.name = \"build\"",
    "service.name != \"build\"",
    "not service.name = \"build\"",
    "not (service.name = \"build\" or name = \"x\")",
    "not not service.name = \"build\"",
    "parent_span_id exists",
    "not parent_span_id exists",
    "not parent_span_id = \"00f067aa0ba902b7\"",
    "status.message contains \"code\"",
    "not status.message contains \"code\"",
    "not status.message =~ \"c.de\"",
    "trace_id = \"5BF92F3577B34DA6A3CE929D0E0E4736\"",
    "trace_id contains \"4bf\"",
    "cached = true",
    "cached = 1",
    "cached != true",
    "ratio < 1 and ratio > 0.25",
    "ratio = 0.5",
    "ratio >= 0.5",
    "ratio <= 0.5",
    "size > 1MiB",
    "size > 1MiB and size <= 2MiB",
    "num.text = 5",
    "num.text = \"5\"",
    "num.text > 4",
    "num.text < 4",
    "num.text > \"4\"",
    "num.text < \"6\"",
    "num.text != \"6\"",
    "num.text != 6",
    "process.cpu.time > 2s",
    "note contains \"one \\\"quoted\"",
    "note contains \"line\\n\"",
    "note not contains \"zzz\"",
    "note !~ \"zzz\"",
    "http.method =~ \"P|G\"",
    "http.method in (\"GET\", \"PUT\")",
    "http.method not in (\"GET\", \"PUT\")",
    "not http.method in (\"GET\", \"PUT\")",
    "name > \"d\"",
    "name <= \"cc1\"",
    "name =~ \"^c+\"",
    "name !~ \"^c\"",
    "(name = \"ld\" or name = \"sh\") and not status = ERROR",
    "name = \"ld\" or name = \"sh\" and status = OK",
    "`process.exit.code` > 100 or resource.host.name = \"b\"",
};

static void test_sql_equals_matcher(void) {
    sqlite3 *db = span_db();
    REQUIRE(db != NULL);
    for (size_t i = 0; i < sizeof sql_filters / sizeof sql_filters[0]; i++) {
        char want[300];
        snprintf(want, sizeof want, "%s", matches(sql_filters[i]));
        const char *got = sql_matches(db, sql_filters[i], NULL);
        if (strcmp(want, got)) {
            test_checks++;
            TEST_FAIL_("filter %s: matcher %s, SQL %s", sql_filters[i], want, got);
        } else {
            test_checks++;
        }
    }
    sqlite3_close(db);
}

static void test_sql_shape(void) {
    struct query *q;
    struct query_error err;
    struct query_sql sql;
    REQUIRE(query_parse("name = \"x'; DROP TABLE spans; --\" and http.method = \"GET\"",
                        QUERY_SPANS, &q, &err) == 0);
    REQUIRE(query_compile_sql(q, "s", &sql, &err) == 0);
    /* values are parameters, never pasted */
    CHECK_STR(sql.text,
              "((s.name = :q1) AND (s.id IN (SELECT span_id FROM span_attrs WHERE key = :q2 "
              "AND epoch IN (SELECT epoch FROM span_epochs) AND value = :q3) OR s.resource_id IN "
              "(SELECT resource_id FROM "
              "resource_attrs WHERE key = :q4 AND epoch IN (SELECT epoch FROM resource_epochs) AND "
              "value = :q5)))");
    CHECK_EQ_INT(sql.nparams, 5);
    CHECK_STRN(sql.params[0].s, sql.params[0].len, "x'; DROP TABLE spans; --");
    CHECK_STRN(sql.params[1].s, sql.params[1].len, "http.method");
    query_sql_free(&sql);
    CHECK_EQ_INT(query_compile_sql(q, "s; drop", &sql, &err), -EINVAL);
    query_free(q);

    REQUIRE(query_parse("severity >= ERROR and body contains \"disk\" and code.function = \"f\"",
                        QUERY_LOGS, &q, &err) == 0);
    REQUIRE(query_compile_sql(q, "l", &sql, &err) == 0);
    CHECK_STR(
        sql.text,
        "(((l.severity_number >= :q1) AND (typeof(l.body) = 'text' AND instr(l.body, "
        ":q2) > 0)) AND (l.id IN (SELECT log_id FROM log_attrs WHERE key = :q3 AND epoch IN "
        "(SELECT epoch FROM log_epochs) AND "
        "value = :q4) OR l.resource_id IN (SELECT resource_id FROM resource_attrs "
        "WHERE key = :q5 AND epoch IN (SELECT epoch FROM resource_epochs) AND value = :q6)))");
    query_sql_free(&sql);
    query_free(q);

    REQUIRE(query_parse("name = \"process.cpu.time\" and value > 1.5 and resource.host.name = "
                        "\"a\"",
                        QUERY_METRICS, &q, &err) == 0);
    REQUIRE(query_compile_sql(q, "m", &sql, &err) == 0);
    CHECK_STR(sql.text, "(((m.name = :q1) AND (m.value > :q2)) AND m.resource_id IN "
                        "(SELECT resource_id FROM resource_attrs WHERE key = :q3 AND epoch IN "
                        "(SELECT epoch FROM resource_epochs) AND value = :q4))");
    query_sql_free(&sql);
    query_free(q);

    /* a point's attributes are its stream's */
    REQUIRE(query_parse("cpu.mode = \"user\"", QUERY_METRICS, &q, &err) == 0);
    REQUIRE(query_compile_sql(q, "m", &sql, &err) == 0);
    CHECK_STR(sql.text,
              "(m.stream_id IN (SELECT stream_id FROM metric_stream_attrs WHERE key = :q1 AND "
              "value = :q2) OR m.resource_id IN (SELECT resource_id FROM resource_attrs WHERE "
              "key = :q3 AND epoch IN (SELECT epoch FROM resource_epochs) AND value = :q4))");
    query_sql_free(&sql);
    query_free(q);

    REQUIRE(query_parse("", QUERY_SPANS, &q, &err) == 0);
    REQUIRE(query_compile_sql(q, "s", &sql, &err) == 0);
    CHECK_STR(sql.text, "1");
    CHECK_EQ_INT(sql.nparams, 0);
    query_sql_free(&sql);
    query_free(q);
}

/* Attribute filters seek the (key, value) indexes: no full scan of spans
 * or of the attribute tables, also with many rows. */
static void test_sql_plans(void) {
    sqlite3 *db = span_db();
    REQUIRE(db != NULL);
    static const char *const indexed[] = {
        "http.method = \"GET\"",
        "process.exit.code != 0",
        "resource.host.name = \"a\"",
        "size > 1MiB",
        "http.method in (\"GET\", \"PUT\")",
        "http.method = \"GET\" and duration > 1s",
        "http.method = \"GET\" or host.name = \"x\"",
        "name = \"cc1\"",
        "duration > 2s",
        "trace_id = \"4bf92f3577b34da6a3ce929d0e0e4736\"",
    };
    for (size_t i = 0; i < sizeof indexed / sizeof indexed[0]; i++) {
        bool scan = true;
        sql_matches(db, indexed[i], &scan);
        if (scan) TEST_FAIL_("filter %s scans a table", indexed[i]);
        test_checks++;
    }
    bool scan = false;
    sql_matches(db, "not name = \"x\"", &scan);
    CHECK(scan); /* the check itself sees scans */
    sqlite3_close(db);
}

static void test_regexp_function(void) {
    sqlite3 *db;
    REQUIRE(sqlite3_open(":memory:", &db) == SQLITE_OK);
    REQUIRE(query_register_regexp(db) == SQLITE_OK);
    sqlite3_stmt *st;
    REQUIRE(sqlite3_prepare_v2(db,
                               "SELECT 'abc' REGEXP 'b.', 'abc' REGEXP '^b', NULL REGEXP 'a', 12 "
                               "REGEXP '^1'",
                               -1, &st, NULL) == SQLITE_OK);
    REQUIRE(sqlite3_step(st) == SQLITE_ROW);
    CHECK_EQ_INT(sqlite3_column_int(st, 0), 1);
    CHECK_EQ_INT(sqlite3_column_int(st, 1), 0);
    CHECK_EQ_INT(sqlite3_column_type(st, 2), SQLITE_NULL);
    CHECK_EQ_INT(sqlite3_column_int(st, 3), 1);
    sqlite3_finalize(st);
    /* a bad or oversized pattern is an SQL error, not a crash */
    REQUIRE(sqlite3_prepare_v2(db, "SELECT 'a' REGEXP '(('", -1, &st, NULL) == SQLITE_OK);
    CHECK_EQ_INT(sqlite3_step(st), SQLITE_ERROR);
    sqlite3_finalize(st);
    REQUIRE(sqlite3_prepare_v2(db, "SELECT 'a' REGEXP printf('%.600c', 'a')", -1, &st, NULL) ==
            SQLITE_OK);
    CHECK_EQ_INT(sqlite3_step(st), SQLITE_ERROR);
    CHECK(strstr(sqlite3_errmsg(db), "too long") != NULL);
    sqlite3_finalize(st);
    sqlite3_close(db);
}

static void test_limits(void) {
    int col;
    static char text[QUERY_TEXT_MAX + 16];
    /* nesting */
    size_t n = 0;
    for (int i = 0; i < QUERY_DEPTH_MAX + 1; i++)
        text[n++] = '(';
    memcpy(text + n, "x = 1", 5);
    n += 5;
    for (int i = 0; i < QUERY_DEPTH_MAX + 1; i++)
        text[n++] = ')';
    text[n] = 0;
    CHECK_STR(error_of(text, QUERY_SPANS, &col),
              "too deeply nested (more than 64 levels) at column 65");
    /* not not not ... */
    n = 0;
    for (int i = 0; i < 100; i++)
        n += (size_t)snprintf(text + n, sizeof text - n, "not ");
    snprintf(text + n, sizeof text - n, "x = 1");
    CHECK_STR(error_of(text, QUERY_SPANS, &col),
              "too deeply nested (more than 64 levels) at column 257");
    /* many comparisons */
    n = 0;
    for (int i = 0; i < 600; i++)
        n += (size_t)snprintf(text + n, sizeof text - n, "%sx = %d", i ? " or " : "", i);
    CHECK(strstr(error_of(text, QUERY_SPANS, &col), "too many comparisons (more than 1024) at ") !=
          NULL);
    /* the whole text */
    memset(text, ' ', QUERY_TEXT_MAX + 1);
    text[QUERY_TEXT_MAX + 1] = 0;
    CHECK_STR(error_of(text, QUERY_SPANS, &col), "filter too long (16385 bytes, at most 16384)");
    CHECK_EQ_INT(col, 0);
    /* in lists */
    n = (size_t)snprintf(text, sizeof text, "x in (");
    for (int i = 0; i < QUERY_IN_MAX + 1; i++)
        n += (size_t)snprintf(text + n, sizeof text - n, "%s%d", i ? "," : "", i);
    snprintf(text + n, sizeof text - n, ")");
    CHECK(strstr(error_of(text, QUERY_SPANS, &col), "too many values in the list") != NULL);
}

static void test_roundtrip(void) {
    static const char *const texts[] = {
        "name = \"a\\\\b\" and `we\\`ird` != 1.5e-300 or not (x !~ \"q\" and y exists)",
        "resource.`a b`.c in (1, -2, \"\\x01\", false) or duration <= 1.25ms",
        "severity > WARN3 and body =~ \"x+\" and `severity` = 1",
        "value >= -0.0 and type = SUMMARY and unit = \"By\"",
    };
    static const enum query_signal sigs[] = {QUERY_SPANS, QUERY_SPANS, QUERY_LOGS, QUERY_METRICS};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        char first[4096];
        snprintf(first, sizeof first, "%s", canon(texts[i], sigs[i]));
        CHECK(strncmp(first, "ERR", 3) != 0);
        CHECK_STR(canon(first, sigs[i]), first);
    }
}

static void test_durations(void) {
    int64_t ns = -1;
    CHECK_EQ_INT(query_parse_duration("100ms", &ns), 0);
    CHECK_EQ_INT(ns, 100000000);
    CHECK_EQ_INT(query_parse_duration("1h30m", &ns), 0);
    CHECK_EQ_INT(ns, 5400000000000LL);
    CHECK_EQ_INT(query_parse_duration("1.5s", &ns), 0);
    CHECK_EQ_INT(ns, 1500000000);
    CHECK_EQ_INT(query_parse_duration("7d", &ns), 0);
    CHECK_EQ_INT(ns, 604800000000000LL);
    CHECK_EQ_INT(query_parse_duration("2us", &ns), 0);
    CHECK_EQ_INT(ns, 2000);
    CHECK_EQ_INT(query_parse_duration("", &ns), -EINVAL);
    CHECK_EQ_INT(query_parse_duration("10", &ns), -EINVAL);
    CHECK_EQ_INT(query_parse_duration("-1h", &ns), -EINVAL);
    CHECK_EQ_INT(query_parse_duration("1x", &ns), -EINVAL);
    CHECK_EQ_INT(query_parse_duration("0x10s", &ns), -EINVAL);
    CHECK_EQ_INT(query_parse_duration("1h ", &ns), -EINVAL);
    CHECK_EQ_INT(query_parse_duration("999999999h", &ns), -ERANGE);
}

static void test_times(void) {
    const int64_t now = 1765000000LL * 1000000000LL;
    int64_t ns = 0;
    CHECK_EQ_INT(query_parse_time("now", now, &ns), 0);
    CHECK_EQ_INT(ns, now);
    CHECK_EQ_INT(query_parse_time("1h", now, &ns), 0);
    CHECK_EQ_INT(ns, now - 3600000000000LL);
    CHECK_EQ_INT(query_parse_time("2026-12-07T05:00:00Z", now, &ns), 0);
    CHECK_EQ_INT(ns, 1796619600LL * 1000000000LL);
    CHECK_EQ_INT(query_parse_time("2026-12-07 06:00:00.25+01:00", now, &ns), 0);
    CHECK_EQ_INT(ns, 1796619600LL * 1000000000LL + 250000000);
    CHECK_EQ_INT(query_parse_time("2026-12-07T04:30-00:30", now, &ns), 0);
    CHECK_EQ_INT(ns, 1796619600LL * 1000000000LL);
    CHECK_EQ_INT(query_parse_time("1796619600", now, &ns), 0);
    CHECK_EQ_INT(ns, 1796619600LL * 1000000000LL);
    CHECK_EQ_INT(query_parse_time("1796619600.5", now, &ns), 0);
    CHECK_EQ_INT(ns, 1796619600LL * 1000000000LL + 500000000);
    /* local time without a zone */
    setenv("TZ", "UTC", 1);
    CHECK_EQ_INT(query_parse_time("2026-12-07", now, &ns), 0);
    CHECK_EQ_INT(ns, 1796601600LL * 1000000000LL);
    setenv("TZ", "Europe/Paris", 1);
    tzset();
    CHECK_EQ_INT(query_parse_time("2026-12-07T06:00", now, &ns), 0);
    CHECK_EQ_INT(ns, 1796619600LL * 1000000000LL);
    unsetenv("TZ");
    tzset();
    CHECK_EQ_INT(query_parse_time("2026-13-07", now, &ns), -EINVAL);
    CHECK_EQ_INT(query_parse_time("2026-12-07T25:00Z", now, &ns), -EINVAL);
    CHECK_EQ_INT(query_parse_time("yesterday", now, &ns), -EINVAL);
    CHECK_EQ_INT(query_parse_time("2026-12-07Tx", now, &ns), -EINVAL);
    CHECK_EQ_INT(query_parse_time("", now, &ns), -EINVAL);
}

static void test_names(void) {
    CHECK_EQ_INT(query_status_code("error", 5), 2);
    CHECK_EQ_INT(query_span_kind("Consumer", 8), 5);
    CHECK_EQ_INT(query_severity_number("FATAL4", 6), 24);
    CHECK_EQ_INT(query_severity_number("TRACE", 5), 1);
    CHECK_EQ_INT(query_severity_number("INFO5", 5), -1);
    CHECK_EQ_INT(query_metric_type("exponential_histogram", 21), 4);
    CHECK_EQ_INT(query_metric_type("x", 1), -1);
    CHECK_STR(query_field_name(QUERY_F_SERVICE), "service.name");
}

int main(void) {
    RUN(test_precedence);
    RUN(test_fields);
    RUN(test_units);
    RUN(test_strings);
    RUN(test_errors);
    RUN(test_regex);
    RUN(test_matcher);
    RUN(test_sql_equals_matcher);
    RUN(test_sql_shape);
    RUN(test_sql_plans);
    RUN(test_regexp_function);
    RUN(test_limits);
    RUN(test_roundtrip);
    RUN(test_durations);
    RUN(test_times);
    RUN(test_names);
    return test_report("test_query");
}
