/* test_log: log records (body, severity, context, attribute limits, the
 * value length limit on the body), the record pool (exhaustion, return,
 * reuse, arenas that never malloc, threads taking and returning slots), and
 * the syslog vocabulary (severity mapping of the data model's appendix B,
 * facility names). Depends on core/log.h and test.h. */
#include <pthread.h>
#include <stdlib.h>
#include <syslog.h>

#include "core/log.h"
#include "tests/unit/test.h"

static const struct attr_limits unlimited = {128, UINT32_MAX};

static void test_record(void) {
    struct span_context ctx = {.flags = TRACE_FLAG_SAMPLED};
    memset(ctx.trace_id, 0xab, 16);
    memset(ctx.span_id, 0xcd, 8);
    struct log_record *r =
        log_record_new(10, 20, SEVERITY_WARN, "WARN", "hello", 5, &ctx, &unlimited, 256);
    REQUIRE(r);
    CHECK_EQ_U64(r->time_ns, 10);
    CHECK_EQ_U64(r->observed_ns, 20);
    CHECK_EQ_INT(r->severity_number, SEVERITY_WARN);
    CHECK_STRN(r->severity_text.ptr, r->severity_text.len, "WARN");
    CHECK_EQ_INT(r->body.type, ATTR_STRING);
    CHECK_STRN(r->body.u.s.ptr, r->body.u.s.len, "hello");
    CHECK(r->has_context);
    CHECK_MEM(r->trace_id, ctx.trace_id, 16);
    CHECK_MEM(r->span_id, ctx.span_id, 8);
    CHECK_EQ_INT(r->flags, TRACE_FLAG_SAMPLED);
    CHECK(r->pool == NULL);
    CHECK_EQ_INT(log_record_set_str(r, "k", "v", 1), 0);
    CHECK_EQ_INT(log_record_set_int(r, "n", -5), 0);
    CHECK_EQ_INT(r->attrs.count, 2);
    const struct attr *n = attrs_find(&r->attrs, "n");
    CHECK(n && n->value.type == ATTR_INT && n->value.u.i == -5);
    /* Past the arena: the record grows with malloc'd chunks. */
    char big[2000];
    memset(big, 'x', sizeof big);
    CHECK_EQ_INT(log_record_set_str(r, "big", big, sizeof big), 0);
    CHECK_EQ_INT(r->attrs.count, 3);
    log_record_free(r);
    log_record_free(NULL);

    /* No context, no severity text, NULL body. */
    r = log_record_new(1, 1, 0, NULL, NULL, 0, NULL, &unlimited, 0);
    REQUIRE(r);
    CHECK(!r->has_context);
    CHECK_EQ_INT(r->severity_text.len, 0);
    CHECK_EQ_INT(r->body.u.s.len, 0);
    log_record_free(r);
}

/* OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT and _VALUE_LENGTH_LIMIT: the body
 * and string values are cut at a UTF-8 boundary; attributes past the count
 * are dropped and counted. */
static void test_limits(void) {
    const struct attr_limits lim = {2, 4};
    const char *body = "ab\xc3\xa9xyz"; /* "abé..." : é is 2 bytes at offset 2 */
    struct log_record *r =
        log_record_new(1, 1, SEVERITY_INFO, "INFO", body, strlen(body), NULL, &lim, 64);
    REQUIRE(r);
    CHECK_STRN(r->body.u.s.ptr, r->body.u.s.len, "ab\xc3\xa9");
    CHECK_EQ_INT(log_record_set_str(r, "a", "123456", 6), 0);
    CHECK_EQ_INT(log_record_set_str(r, "b", "x", 1), 0);
    CHECK(log_record_set_str(r, "c", "y", 1) < 0);
    CHECK_EQ_INT(r->attrs.count, 2);
    CHECK_EQ_INT(r->attrs.dropped, 1);
    const struct attr *a = attrs_find(&r->attrs, "a");
    CHECK(a && a->value.u.s.len == 4);
    log_record_free(r);
}

static void test_pool(void) {
    CHECK(log_pool_new(0, 1024) == NULL);
    CHECK(log_pool_new(4, 16) == NULL);
    struct log_pool *p = log_pool_new(3, 1024);
    REQUIRE(p);
    struct log_record *r[4];
    for (int i = 0; i < 3; i++) {
        r[i] = log_pool_get(p);
        REQUIRE(r[i]);
        CHECK(r[i]->pool == p);
        CHECK(r[i]->arena.no_malloc);
        CHECK_EQ_INT(r[i]->attrs.count, 0);
    }
    CHECK(r[0] != r[1] && r[1] != r[2] && r[0] != r[2]);
    CHECK(log_pool_get(p) == NULL); /* all in use */

    /* The arena is the rest of the slot and never mallocs. */
    r[0]->limits = &unlimited;
    char *line = arena_alloc(&r[0]->arena, 300);
    CHECK(line != NULL);
    CHECK(arena_alloc(&r[0]->arena, 700) == NULL);
    CHECK_EQ_INT(log_record_set_str(r[0], "log.iostream", "stdout", 6), 0);
    char big[400];
    memset(big, 'y', sizeof big);
    CHECK(log_record_set_str(r[0], "big", big, sizeof big) < 0);
    CHECK_EQ_INT(r[0]->attrs.dropped, 1);

    /* Given back, a slot is handed out again, reset. */
    struct log_record *first = r[0];
    log_record_free(r[0]);
    r[3] = log_pool_get(p);
    CHECK(r[3] == first);
    CHECK_EQ_INT(r[3]->attrs.count, 0);
    CHECK_EQ_INT(r[3]->attrs.dropped, 0);
    CHECK(log_pool_get(p) == NULL);
    for (int i = 1; i < 4; i++)
        log_record_free(r[i]);
    for (int i = 0; i < 3; i++)
        CHECK((r[i] = log_pool_get(p)) != NULL);
    for (int i = 0; i < 3; i++)
        log_record_free(r[i]);
    log_pool_free(p);
    log_pool_free(NULL);
}

/* Threads take and give back slots concurrently; every slot stays
 * accounted for (run under TSan in the sanitizer build). */
#define POOL_THREADS 4
#define POOL_ROUNDS 20000
static struct log_pool *shared_pool;
static void *pool_worker(void *arg) {
    (void)arg;
    unsigned got = 0;
    for (int i = 0; i < POOL_ROUNDS; i++) {
        struct log_record *a = log_pool_get(shared_pool);
        struct log_record *b = log_pool_get(shared_pool);
        if (a) {
            a->severity_number = 9;
            got++;
            log_record_free(a);
        }
        if (b) log_record_free(b);
    }
    return (void *)(uintptr_t)got;
}

static void test_pool_threads(void) {
    shared_pool = log_pool_new(6, 256);
    REQUIRE(shared_pool);
    pthread_t t[POOL_THREADS];
    for (int i = 0; i < POOL_THREADS; i++)
        REQUIRE(pthread_create(&t[i], NULL, pool_worker, NULL) == 0);
    unsigned total = 0;
    for (int i = 0; i < POOL_THREADS; i++) {
        void *v;
        pthread_join(t[i], &v);
        total += (unsigned)(uintptr_t)v;
    }
    CHECK(total > 0);
    struct log_record *all[6];
    for (int i = 0; i < 6; i++)
        CHECK((all[i] = log_pool_get(shared_pool)) != NULL);
    CHECK(log_pool_get(shared_pool) == NULL);
    for (int i = 0; i < 6; i++)
        log_record_free(all[i]);
    log_pool_free(shared_pool);
}

static void test_syslog_vocabulary(void) {
    static const struct {
        int level, number;
        const char *text;
    } want[] = {{LOG_EMERG, 21, "emerg"}, {LOG_ALERT, 19, "alert"},     {LOG_CRIT, 18, "crit"},
                {LOG_ERR, 17, "err"},     {LOG_WARNING, 13, "warning"}, {LOG_NOTICE, 10, "notice"},
                {LOG_INFO, 9, "info"},    {LOG_DEBUG, 5, "debug"}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const char *text = NULL;
        CHECK_EQ_INT(log_syslog_severity(want[i].level, &text), want[i].number);
        CHECK_STR(text, want[i].text);
    }
    /* Only the level bits count; text may be NULL. */
    CHECK_EQ_INT(log_syslog_severity(LOG_LOCAL0 | LOG_ERR, NULL), SEVERITY_ERROR);

    CHECK_STR(log_syslog_facility_name(LOG_FAC(LOG_KERN)), "kern");
    CHECK_STR(log_syslog_facility_name(LOG_FAC(LOG_USER)), "user");
    CHECK_STR(log_syslog_facility_name(LOG_FAC(LOG_DAEMON)), "daemon");
    CHECK_STR(log_syslog_facility_name(LOG_FAC(LOG_AUTHPRIV)), "authpriv");
    CHECK_STR(log_syslog_facility_name(LOG_FAC(LOG_FTP)), "ftp");
    CHECK_STR(log_syslog_facility_name(LOG_FAC(LOG_LOCAL0)), "local0");
    CHECK_STR(log_syslog_facility_name(LOG_FAC(LOG_LOCAL7)), "local7");
    CHECK_STR(log_syslog_facility_name(12), NULL);
    CHECK_STR(log_syslog_facility_name(-1), NULL);
    CHECK_STR(log_syslog_facility_name(24), NULL);
}

int main(void) {
    RUN(test_record);
    RUN(test_limits);
    RUN(test_pool);
    RUN(test_pool_threads);
    RUN(test_syslog_vocabulary);
    return test_report("log");
}
