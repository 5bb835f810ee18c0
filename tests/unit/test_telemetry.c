/* test_telemetry: the SDK facade end to end, without LD_PRELOAD: config ->
 * sampler -> span -> batch processor -> OTLP/HTTP exporter (to a loopback
 * server, bytes decoded with tests/lib's decoder) and console exporter (to a
 * memfd standing in for stderr). Covers upstream TRACEPARENT/TRACESTATE,
 * OTEL_EXPORTER_OTLP_*HEADERS, the resource, disabled and exporter-less
 * set-ups, samplers, export failures (HTTP 500, refused), unusable
 * endpoints, after_fork, loss reporting at shutdown and the in-signal flush;
 * and the logs pipeline: records stamped with the current context through
 * the batch log record processor to OTLP (/v1/logs) and console, the
 * log-as-span-event view and its switch, pooled records, loss reporting.
 * telemetry_init runs once per process, so each scenario runs in a forked
 * child. Depends on core/telemetry.h, exporters/exporter.h, server.h. */
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/diag.h"
#include "core/ids.h"
#include "core/telemetry.h"
#include "exporters/curl.h"
#include "exporters/exporter.h"
#include "tests/unit/server.h"
#include "tests/unit/test.h"
#ifdef OTELP_HAVE_OTLP_DECODE
#include "tests/lib/otlp_decode.h"
#endif

#define TID "0af7651916cd43dd8448eb211c80319c"
#define SID "b7ad6b7169203331"
#define TRACEPARENT "TRACEPARENT=00-" TID "-" SID "-01"
#define OK_EMPTY "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"

/* Diagnostics, captured. */
static int ndiag;
static char diags[8192];
static void capture(enum diag_level level, const char *line) {
    (void)level;
    ndiag++;
    size_t n = strlen(diags);
    snprintf(diags + n, sizeof diags - n, "%s\n", line);
}

/* The console exporter writes to diag_fd: a memfd here. */
static int console_fd = -1;
static void capture_console(void) {
    console_fd = memfd_create("console", MFD_CLOEXEC);
    if (console_fd >= 0) diag_fd = console_fd;
}
static const char *console_text(void) {
    static char text[65536];
    ssize_t n = pread(console_fd, text, sizeof text - 1, 0);
    text[n > 0 ? n : 0] = '\0';
    return text;
}

static char endpoint_env[128];
static const char *endpoint(uint16_t port) {
    snprintf(endpoint_env, sizeof endpoint_env,
             "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=http://127.0.0.1:%u/v1/traces", port);
    return endpoint_env;
}

static struct batch_stats span_stats(void) {
    struct batch_stats st = {0};
    if (telemetry.spans) batcher_stats(telemetry.spans, &st);
    return st;
}

static struct span *start(const char *name, const struct span_context *parent) {
    return telemetry_span_start(str_cstr(name), parent, str_of("", 0), clock_now_ns(), 512);
}

/* ---- scenarios, one process each ---- */

static void scenario_end_to_end(void) {
    const struct step steps[] = {{OK_EMPTY, 0, false}, {OK_EMPTY, 0, false}};
    REQUIRE(srv_start(steps, 2));
    char *envp[] = {
        "OTEL_TRACES_EXPORTER=otlp,console",
        (char *)endpoint(srv.port),
        "OTEL_EXPORTER_OTLP_TRACES_HEADERS=api-key=secret%20value, x-tenant = a%2Cb ,novalue, "
        "=x,bad=%zz,",
        "OTEL_SERVICE_NAME=unit-svc",
        "OTEL_RESOURCE_ATTRIBUTES=deployment.environment=test",
        TRACEPARENT,
        "TRACESTATE=congo=t61rcWkgMzE",
        "OTEL_LOG_LEVEL=info",
        "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT=2",
        "OTEL_SPAN_EVENT_COUNT_LIMIT=1",
        NULL,
    };
    processor_autostart = false;
    capture_console();
    REQUIRE(telemetry_init(envp, "unit-exe") == 0);
    CHECK(telemetry.active);
    CHECK(telemetry.has_upstream);
    CHECK(telemetry.spans != NULL);
    CHECK_EQ_INT(ndiag, 3); /* the two bad header members, api-key over plain http */
    CHECK(strstr(diags, "credentials-looking headers") != NULL);
    CHECK(strstr(diags, "secret") == NULL);
    CHECK(strstr(diags, "has no '='") != NULL);
    CHECK(strstr(diags, "novalue") == NULL); /* a member without '=' may be all secret */
    CHECK(strstr(diags, "'bad'") != NULL);
    CHECK(strstr(diags, "%zz") == NULL); /* values are never shown */

    struct span *root = start("root", NULL);
    REQUIRE(root);
    CHECK(root->recording);
    CHECK(root->has_parent);
    CHECK(root->parent_remote);
    CHECK_STRN(root->trace_state.ptr, root->trace_state.len, "congo=t61rcWkgMzE");
    (void)span_set_int(root, "n", 1);
    (void)span_set_str(root, "s", "x\"y", 3);
    (void)span_set_bool(root, "dropped", true); /* over the limit of 2 */
    struct span_event *e = span_add_event(root, "evt", clock_now_ns());
    struct attr_value v = {.type = ATTR_DOUBLE, .u.d = 1.5};
    (void)span_event_set_attr(root, e, str_cstr("d"), &v);
    CHECK(span_add_event(root, "over", clock_now_ns()) == NULL);
    span_set_status(root, STATUS_ERROR, "bad");
    struct span *child = start("child", &root->ctx);
    REQUIRE(child);
    CHECK(!child->parent_remote);
    uint8_t root_id[8], child_id[8];
    memcpy(root_id, root->ctx.span_id, 8);
    memcpy(child_id, child->ctx.span_id, 8);
    telemetry_span_end(child, clock_now_ns());
    telemetry_span_end(root, clock_now_ns());
    CHECK_EQ_INT(processor_force_flush(5000), 0);
    CHECK_EQ_U64(span_stats().exported, 2);

    /* What the collector got. */
    const char *head = srv_head();
    CHECK(!strncmp(head, "POST /v1/traces HTTP/1.1\r\n", 26));
    CHECK(strstr(head, "\r\nContent-Type: application/x-protobuf\r\n") != NULL);
    CHECK(strstr(head, "\r\nUser-Agent: OTel-OTLP-Exporter-C/") != NULL);
    CHECK(strstr(head, "\r\napi-key: secret value\r\n") != NULL);
    CHECK(strstr(head, "\r\nx-tenant: a,b\r\n") != NULL);
    CHECK(strstr(head, "novalue") == NULL);
    CHECK(strstr(head, "\r\nbad") == NULL);
#ifdef OTELP_HAVE_OTLP_DECODE
    size_t len;
    const char *body = srv_body(&len);
    char err[256];
    struct otlp_traces *t = otlp_traces_decode(body, len, err, sizeof err);
    REQUIRE(t);
    CHECK_EQ_INT(otlp_traces_span_count(t), 2);
    const struct otlp_span *oc = otlp_traces_find_span(t, "child");
    const struct otlp_span *orr = otlp_traces_find_span(t, "root");
    REQUIRE(oc && orr);
    char hex[33];
    CHECK_STR(otlp_hex(orr->trace_id, 16, hex), TID);
    CHECK_STR(otlp_hex(orr->parent_span_id, 8, hex), SID);
    CHECK_EQ_INT(orr->flags, 0x301);
    CHECK_STR(orr->trace_state, "congo=t61rcWkgMzE");
    CHECK_EQ_INT(orr->attrs.count, 2);
    CHECK_EQ_INT(orr->dropped_attributes_count, 1);
    CHECK_EQ_INT(orr->n_events, 1);
    CHECK_EQ_INT(orr->dropped_events_count, 1);
    CHECK_EQ_INT(orr->status_code, STATUS_ERROR);
    CHECK_MEM(oc->parent_span_id, root_id, 8);
    CHECK_MEM(oc->span_id, child_id, 8);
    CHECK_EQ_INT(oc->flags, 0x101);
    const struct otlp_attrs *res = &t->resource_spans[0].resource.attrs;
    const struct otlp_value *rv = otlp_attrs_find(res, "service.name");
    CHECK(rv && !strcmp(rv->str, "unit-svc"));
    rv = otlp_attrs_find(res, "deployment.environment");
    CHECK(rv && !strcmp(rv->str, "test"));
    rv = otlp_attrs_find(res, "telemetry.sdk.name");
    CHECK(rv && !strcmp(rv->str, "otel-preload"));
    otlp_traces_free(t);
#endif

    /* What the console showed: one JSON object per line. */
    const char *text = console_text();
    const char *nl = strchr(text, '\n');
    CHECK(nl && strchr(nl + 1, '\n') && !strchr(nl + 1, '\n')[1]);
    CHECK(!strncmp(text, "{\"name\":\"child\",\"traceId\":\"" TID "\"", 27 + 32 + 1));
    CHECK(strstr(text, "\n{\"name\":\"root\",") != NULL);
    CHECK(strstr(text, "\"parentSpanId\":\"" SID "\"") != NULL);
    CHECK(strstr(text, "\"traceState\":\"congo=t61rcWkgMzE\"") != NULL);
    CHECK(strstr(text, "\"kind\":\"internal\"") != NULL);
    CHECK(strstr(text, "\"status\":{\"code\":\"ERROR\",\"message\":\"bad\"}") != NULL);
    CHECK(strstr(text, "\"status\":{\"code\":\"UNSET\"}") != NULL);
    CHECK(strstr(text, "\"attributes\":{\"n\":1,\"s\":\"x\\\"y\"}") != NULL);
    CHECK(strstr(text, "\"events\":[{\"name\":\"evt\",\"timeUnixNano\":") != NULL);
    CHECK(strstr(text, "\"attributes\":{\"d\":1.500000}}]") != NULL);
    CHECK(strstr(text, "\"droppedAttributesCount\":1,\"droppedEventsCount\":1") != NULL);
    CHECK(strstr(text, "\"resource\":{") != NULL);
    CHECK(strstr(text, "\"service.name\":\"unit-svc\"") != NULL);
    CHECK(strstr(text, "\"durationMs\":") != NULL);

    const struct attr_list *resource = telemetry_resource();
    CHECK(attrs_find(resource, "service.name") != NULL);
    CHECK(telemetry_resource() == resource); /* detected once */

    /* In a fork child the exporter drops the parent's connection. */
    CHECK_EQ_INT(srv.accepts, 1);
    telemetry_after_fork_child();
    struct span *late = start("after fork", NULL);
    REQUIRE(late);
    telemetry_span_end(late, clock_now_ns());
    CHECK_EQ_INT(processor_force_flush(5000), 0);
    CHECK_EQ_INT(srv.accepts, 2);
    CHECK_EQ_U64(span_stats().exported, 1); /* the stats restarted */

    /* Shutdown reports the loss accounting at info level. */
    ndiag = 0;
    diags[0] = '\0';
    telemetry_shutdown(false);
    CHECK(strstr(diags, "spans: exported 1, dropped 0 (queue full), 0 (export failed), 0 "
                        "(rejected), 0 (shutdown)") != NULL);
    srv_stop();
}

static void scenario_disabled(void) {
    char *envp[] = {"OTEL_SDK_DISABLED=true", NULL};
    CHECK_EQ_INT(telemetry_init(envp, "x"), -ECANCELED);
    CHECK(!telemetry.active);
    CHECK(start("nothing", NULL) == NULL);
    telemetry_span_end(NULL, 0);
    telemetry_shutdown(false);
    telemetry_after_fork_child();
}

/* No exporter: nothing is recorded, but contexts (and the sampling
 * decision) still flow to children. */
static void scenario_no_exporter(void) {
    char *envp[] = {"OTEL_TRACES_EXPORTER=none", NULL};
    REQUIRE(telemetry_init(envp, "x") == 0);
    CHECK(telemetry.active);
    CHECK(telemetry.spans == NULL);
    struct span *s = start("ctx only", NULL);
    REQUIRE(s);
    CHECK(!s->recording);
    CHECK_EQ_INT(s->ctx.flags & TRACE_FLAG_SAMPLED, TRACE_FLAG_SAMPLED);
    CHECK(span_context_valid(&s->ctx));
    struct span *c = start("child", &s->ctx);
    REQUIRE(c);
    CHECK_MEM(c->ctx.trace_id, s->ctx.trace_id, 16);
    telemetry_span_end(c, 1);
    telemetry_span_end(s, 2);
    telemetry_shutdown(false);
}

static void scenario_samplers(void) {
    char *envp[] = {"OTEL_TRACES_EXPORTER=console", "OTEL_TRACES_SAMPLER=parentbased_always_off",
                    NULL};
    processor_autostart = false;
    capture_console();
    REQUIRE(telemetry_init(envp, "x") == 0);
    struct span *s = start("root", NULL);
    REQUIRE(s);
    CHECK(!s->recording);
    CHECK_EQ_INT(s->ctx.flags, 0);
    struct span_context sampled = {.flags = TRACE_FLAG_SAMPLED, .remote = true};
    memset(sampled.trace_id, 1, 16);
    memset(sampled.span_id, 2, 8);
    struct span *c = start("sampled parent", &sampled);
    REQUIRE(c);
    CHECK(c->recording);
    CHECK_EQ_INT(c->ctx.flags, TRACE_FLAG_SAMPLED);
    telemetry_span_end(s, 1);
    telemetry_span_end(c, 2);
    CHECK_EQ_INT(processor_force_flush(5000), 0);
    CHECK_EQ_U64(span_stats().exported, 1);
    CHECK(strstr(console_text(), "\"name\":\"sampled parent\"") != NULL);
    CHECK(strstr(console_text(), "\"name\":\"root\"") == NULL);
}

static void scenario_bad_upstream(void) {
    char *envp[] = {"OTEL_TRACES_EXPORTER=none", "TRACEPARENT=00-nonsense",
                    "TRACESTATE=congo=t61rcWkgMzE", NULL};
    REQUIRE(telemetry_init(envp, "x") == 0);
    CHECK(!telemetry.has_upstream);
    CHECK(telemetry.cfg.tracestate == NULL); /* no state without a parent */
    CHECK_EQ_INT(ndiag, 1);
    CHECK(strstr(diags, "TRACEPARENT") != NULL);
    struct span *s = start("new trace", NULL);
    REQUIRE(s);
    CHECK(!s->has_parent);
    CHECK_EQ_INT(s->trace_state.len, 0);
    telemetry_span_end(s, 1);
}

static void scenario_bad_tracestate(void) {
    char *envp[] = {"OTEL_TRACES_EXPORTER=none", TRACEPARENT, "TRACESTATE=Bad Key=1", NULL};
    REQUIRE(telemetry_init(envp, "x") == 0);
    CHECK(telemetry.has_upstream);
    CHECK(telemetry.cfg.tracestate == NULL);
    CHECK_EQ_INT(ndiag, 1);
    CHECK(strstr(diags, "TRACESTATE") != NULL);
    struct span *s = start("child of upstream", NULL);
    REQUIRE(s);
    CHECK(s->has_parent);
    CHECK_EQ_INT(s->trace_state.len, 0);
    /* An explicit trace state wins over the upstream one. */
    struct span *t = telemetry_span_start(str_cstr("own state"), NULL, str_cstr("a=b"), 1, 0);
    REQUIRE(t);
    CHECK_STRN(t->trace_state.ptr, t->trace_state.len, "a=b");
    telemetry_span_end(t, 2);
    telemetry_span_end(s, 2);
}

/* HTTP 500 loses the batch at once (not retryable; counted, reported); a
 * refused connection is retried until the export timeout, then lost. */
static void scenario_export_failures(void) {
    const struct step steps[] = {
        {"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", 0,
         true}};
    REQUIRE(srv_start(steps, 1));
    /* Without a spool (a cap of 0): what cannot be delivered is lost. */
    char *envp[] = {(char *)endpoint(srv.port), "OTEL_EXPORTER_OTLP_TIMEOUT=300",
                    "OTEL_PRELOAD_SPOOL_MAX_BYTES=0", NULL};
    processor_autostart = false;
    REQUIRE(telemetry_init(envp, "x") == 0);
    struct span *s = start("lost", NULL);
    REQUIRE(s);
    telemetry_span_end(s, 1);
    CHECK_EQ_INT(processor_force_flush(5000), 0);
    struct batch_stats st = span_stats();
    CHECK_EQ_U64(st.exported, 0);
    CHECK_EQ_U64(st.dropped_export_failed, 1);
    CHECK(strstr(diags, "failed after 1 try: HTTP 500 (not retryable)") != NULL);
    srv_stop(); /* nobody listens any more */
    s = start("lost too", NULL);
    REQUIRE(s);
    telemetry_span_end(s, 1);
    uint64_t t0 = clock_mono_ns();
    CHECK_EQ_INT(processor_force_flush(5000), 0);
    uint64_t took = clock_mono_ns() - t0;
    /* retried (the first backoff is 50 to 150 ms), within the 300 ms timeout */
    CHECK(took >= 45000000u && took < 1000000000u);
    CHECK_EQ_U64(span_stats().dropped_export_failed, 2);
    CHECK(strstr(diags, "tries: Connection refused (retryable, out of time)") != NULL);
}

/* An https endpoint makes an exporter without loading libcurl (that waits
 * for the first export); endpoints the OTLP exporter cannot use: a
 * diagnostic, no exporter, no recording. */
static void scenario_unusable_endpoints(void) {
    char *envp[] = {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=https://collector:4318/v1/traces", NULL};
    REQUIRE(telemetry_init(envp, "x") == 0);
    CHECK(telemetry.spans != NULL);
    CHECK(!curl_loaded());
    struct config cfg;
    char *bad[] = {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=ftp://collector/", NULL};
    REQUIRE(config_load(&cfg, bad) == 0);
    ndiag = 0;
    CHECK(exporter_new(EXPORTER_OTLP, SIGNAL_TRACES, &cfg) == NULL);
    CHECK_EQ_INT(ndiag, 1);
    CHECK(strstr(diags, "cannot be used: its scheme is not supported") != NULL);
    /* "none" has no exporter. */
    CHECK(exporter_new(EXPORTER_NONE, SIGNAL_TRACES, &cfg) == NULL);
    CHECK(exporter_new(EXPORTER_NONE, SIGNAL_METRICS, &cfg) == NULL);
    config_free(&cfg);
}

/* A dying process flushes from its signal handler: no malloc, no free (the
 * records stay allocated; this test frees them), no resolver. */
static void scenario_in_signal_shutdown(void) {
    const struct step steps[] = {{OK_EMPTY, 0, false}};
    REQUIRE(srv_start(steps, 1));
    char *envp[] = {(char *)endpoint(srv.port), NULL};
    processor_autostart = false;
    REQUIRE(telemetry_init(envp, "x") == 0);
    (void)telemetry_resource(); /* detected before, as the preload layer does */
    struct span *s = start("crashing", NULL);
    REQUIRE(s);
    span_set_status(s, STATUS_ERROR, "SIGSEGV");
    telemetry_span_end(s, 1);
    telemetry_shutdown(true);
    CHECK(exporter_in_signal);
    CHECK_EQ_U64(span_stats().exported, 1);
    CHECK_EQ_U64(span_stats().dropped_shutdown, 0);
#ifdef OTELP_HAVE_OTLP_DECODE
    size_t len;
    const char *body = srv_body(&len);
    struct otlp_traces *t = otlp_traces_decode(body, len, NULL, 0);
    REQUIRE(t);
    const struct otlp_span *o = otlp_traces_find_span(t, "crashing");
    CHECK(o && o->status_code == STATUS_ERROR);
    otlp_traces_free(t);
#endif
    span_free(s); /* the in-signal flush did not */
    srv_stop();
}

/* ---- logs ---- */

static struct batch_stats log_stats(void) {
    struct batch_stats st = {0};
    if (telemetry.logs) batcher_stats(telemetry.logs, &st);
    return st;
}

static void emit_warning(const char *body) {
    struct attr attrs[2] = {
        {str_cstr("syslog.ident"), {.type = ATTR_STRING, .u.s = str_cstr("unit")}},
        {str_cstr("syslog.facility.code"), {.type = ATTR_INT, .u.i = 3}}};
    struct log_call c = {SEVERITY_WARN, "warning", body, strlen(body), attrs, 2};
    telemetry_log_emit(&c);
}

static void scenario_logs(void) {
    const struct step steps[] = {{OK_EMPTY, 0, false}, {OK_EMPTY, 0, false}};
    REQUIRE(srv_start(steps, 2));
    char logs_endpoint[128];
    snprintf(logs_endpoint, sizeof logs_endpoint,
             "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT=http://127.0.0.1:%u/v1/logs", srv.port);
    char *envp[] = {"OTEL_TRACES_EXPORTER=console",
                    "OTEL_LOGS_EXPORTER=otlp,console",
                    logs_endpoint,
                    "OTEL_SERVICE_NAME=unit-logs",
                    "OTEL_LOG_LEVEL=info",
                    "OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT=1",
                    "OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT=5",
                    NULL};
    processor_autostart = false;
    capture_console();
    REQUIRE(telemetry_init(envp, "unit-exe") == 0);
    CHECK(telemetry_logs_wanted());
    REQUIRE(telemetry_logs() != NULL);

    /* Before any span: no context at all. */
    emit_warning("no span");
    struct span *root = start("root", NULL);
    REQUIRE(root);
    telemetry_set_root_span(root);
    emit_warning("disk full");
    CHECK_EQ_INT(root->event_count, 1);
    /* A pooled record goes the same way and back to its pool. */
    struct log_pool *pool = log_pool_new(1, 1024);
    REQUIRE(pool);
    struct log_record *pr = log_pool_get(pool);
    REQUIRE(pr);
    pr->limits = &telemetry.cfg.log_attrs;
    pr->body = (struct attr_value){.type = ATTR_STRING, .u.s = str_cstr("pooled")};
    telemetry_log_push(pr);
    CHECK(log_pool_get(pool) == NULL); /* queued */
    CHECK_EQ_INT(processor_force_flush(5000), 0);
    CHECK_EQ_U64(log_stats().exported, 3);
    CHECK((pr = log_pool_get(pool)) != NULL); /* back after the export */
    log_record_free(pr);
    log_pool_free(pool);

    const char *head = srv_head();
    CHECK(!strncmp(head, "POST /v1/logs HTTP/1.1\r\n", 24));
#ifdef OTELP_HAVE_OTLP_DECODE
    size_t len;
    const char *body = srv_body(&len);
    char err[256];
    struct otlp_logs *l = otlp_logs_decode(body, len, err, sizeof err);
    REQUIRE(l);
    CHECK_EQ_INT(l->unknown_fields, 0);
    REQUIRE(otlp_logs_record_count(l) == 3);
    const struct otlp_log *o = otlp_logs_record_at(l, 0);
    uint8_t zero[16] = {0};
    CHECK_MEM(o->trace_id, zero, 16);
    CHECK_STR(o->body.str, "no sp"); /* the value length limit */
    o = otlp_logs_record_at(l, 1);
    CHECK_EQ_INT(o->severity_number, SEVERITY_WARN);
    CHECK_STR(o->severity_text, "warning");
    CHECK_STR(o->body.str, "disk ");
    CHECK_MEM(o->trace_id, root->ctx.trace_id, 16);
    CHECK_MEM(o->span_id, root->ctx.span_id, 8);
    CHECK_EQ_INT(o->flags, TRACE_FLAG_SAMPLED);
    CHECK(o->time_unix_nano > 0 && o->time_unix_nano == o->observed_time_unix_nano);
    CHECK_EQ_INT(o->attrs.count, 1); /* the count limit */
    CHECK_EQ_INT(o->dropped_attributes_count, 1);
    const struct otlp_value *v = otlp_attrs_find(&o->attrs, "syslog.ident");
    CHECK(v && !strcmp(v->str, "unit"));
    const struct otlp_value *rv =
        otlp_attrs_find(&l->resource_logs[0].resource.attrs, "service.name");
    CHECK(rv && !strcmp(rv->str, "unit-logs"));
    CHECK_STR(otlp_logs_record_at(l, 2)->body.str, "pooled"); /* filled by its maker */
    otlp_logs_free(l);
#endif

    /* The console: one JSON object per record. */
    const char *text = console_text();
    CHECK(strstr(text, "{\"timeUnixNano\":") == text);
    CHECK(strstr(text, "\"severityNumber\":13,\"severityText\":\"warning\",\"body\":\"disk \","
                       "\"attributes\":{\"syslog.ident\":\"unit\"},\"traceId\":\"") != NULL);
    CHECK(strstr(text, "\"flags\":1,\"droppedAttributesCount\":1,\"resource\":{") != NULL);
    CHECK(strstr(text, "\"body\":\"no sp\",\"attributes\":{\"syslog.ident\":\"unit\"},"
                       "\"droppedAttributesCount\":1,\"resource\"") != NULL);
    CHECK(strstr(text, "\"body\":\"pooled\",\"attributes\":{},\"resource\"") != NULL);

    /* The span event: the record's fields and attributes. */
    telemetry_span_end(root, clock_now_ns());
    CHECK_EQ_INT(processor_force_flush(5000), 0);
    text = console_text();
    CHECK(strstr(text, "\"events\":[{\"name\":\"log\",\"timeUnixNano\":") != NULL);
    CHECK(strstr(text, "\"attributes\":{\"log.record.severity_number\":13,"
                       "\"log.record.severity_text\":\"warning\",\"log.record.body\":\"disk "
                       "full\",\"syslog.ident\":\"unit\",\"syslog.facility.code\":3}}]") != NULL);

    /* Loss that the processor cannot see, reported at exit. */
    telemetry_log_count_dropped();
    telemetry_log_count_truncated();
    telemetry_log_count_truncated();
    ndiag = 0;
    diags[0] = '\0';
    telemetry_shutdown(false);
    CHECK(strstr(diags, "logs: exported 3, dropped 0 (queue full), 0 (export failed), 0 "
                        "(rejected), 0 (shutdown)") != NULL);
    CHECK(strstr(diags, "logs: dropped 1 (no memory), 2 bodies truncated") != NULL);

    /* A fork child starts its counts afresh and reconnects. */
    telemetry_after_fork_child();
    emit_warning("child");
    CHECK_EQ_INT(processor_force_flush(5000), 0);
    CHECK_EQ_U64(log_stats().exported, 1);
    CHECK_EQ_INT(srv.accepts, 2);
    srv_stop();
}

/* No logs exporter: records are not made, but span events still are;
 * with the switch off too, logging calls are not wanted at all. */
static void scenario_logs_span_events_only(void) {
    char *envp[] = {"OTEL_TRACES_EXPORTER=console", "OTEL_LOGS_EXPORTER=none", NULL};
    processor_autostart = false;
    capture_console();
    REQUIRE(telemetry_init(envp, "x") == 0);
    CHECK(telemetry_logs() == NULL);
    CHECK(telemetry_logs_wanted());
    struct span *root = start("root", NULL);
    REQUIRE(root);
    emit_warning("not current yet"); /* no current span: nothing */
    CHECK_EQ_INT(root->event_count, 0);
    telemetry_set_root_span(root);
    emit_warning("event only");
    CHECK_EQ_INT(root->event_count, 1);
    telemetry_log_push(log_record_new(1, 1, 9, NULL, "x", 1, NULL, &telemetry.cfg.log_attrs, 0));
    telemetry_set_root_span(NULL);
    telemetry_span_end(root, clock_now_ns());
    CHECK_EQ_INT(processor_force_flush(5000), 0);
    CHECK(strstr(console_text(), "\"log.record.body\":\"event only\"") != NULL);
}

static void scenario_logs_off(void) {
    char *envp[] = {"OTEL_LOGS_EXPORTER=none", "OTEL_PRELOAD_LOGS_SPAN_EVENTS=false",
                    "OTEL_TRACES_EXPORTER=none", NULL};
    REQUIRE(telemetry_init(envp, "x") == 0);
    CHECK(!telemetry_logs_wanted());
    config_free(&telemetry.cfg);
    char *envp2[] = {"OTEL_PRELOAD_LOGS_SPAN_EVENTS=false", "OTEL_TRACES_EXPORTER=none",
                     "OTEL_LOGS_EXPORTER=console", NULL};
    REQUIRE(telemetry_init(envp2, "x") == 0);
    CHECK(telemetry_logs() != NULL);
    CHECK(telemetry_logs_wanted());
}

/* Unnamed threads' spans are named after their start routine
 * (span.symbolize) when exported: module+offset for an address inside a
 * function. Names are kept for 64 routines; past that each span gets a
 * copy. 70 routines, the first one twice: every span is named right. */
static void scenario_thread_names(void) {
    char *envp[] = {"OTEL_TRACES_EXPORTER=console", NULL};
    processor_autostart = false;
    capture_console();
    REQUIRE(telemetry_init(envp, "x") == 0);
    enum { ROUTINES = 70 };
    Dl_info info;
    REQUIRE(dladdr((void *)scenario_thread_names, &info) && info.dli_fname);
    const char *module =
        strrchr(info.dli_fname, '/') ? strrchr(info.dli_fname, '/') + 1 : info.dli_fname;
    for (int i = 0; i <= ROUTINES; i++) {
        struct span *s = start("thread", NULL);
        REQUIRE(s);
        s->symbolize = (char *)scenario_thread_names + 1 + (i % ROUTINES);
        s->thread_id = 1000 + i;
        telemetry_span_end(s, clock_now_ns());
    }
    CHECK_EQ_INT(processor_force_flush(5000), 0);
    CHECK_EQ_U64(span_stats().exported, ROUTINES + 1);
    const char *text = console_text();
    for (int i = 0; i < ROUTINES; i++) {
        char want[256];
        unsigned long off =
            (unsigned long)((char *)scenario_thread_names + 1 + i - (char *)info.dli_fbase);
        snprintf(want, sizeof want, "{\"name\":\"%s+0x%lx\"", module, off);
        const char *at = strstr(text, want);
        test_checks++;
        if (!at) TEST_FAIL_("no span named %s", want + 9);
        snprintf(want, sizeof want, "\"thread.name\":\"%s+0x%lx\"", module, off);
        CHECK(at && strstr(at, want) && strstr(at, want) < strchr(at, '\n'));
        if (i == 0) CHECK(at && strstr(at + 1, want) != NULL); /* the repeat */
    }
}

/* A thread's span (span.thread_id) gets thread.id and its thread.start
 * (first, at the start time) and thread.exit (last, at the end time)
 * events from the exporter; the events the thread adds meanwhile leave
 * room for them within OTEL_SPAN_EVENT_COUNT_LIMIT. Limit 4: two of the
 * thread's five events are kept. Limit 1: thread.start alone. */
/* Exports, to the console, a thread's span (tid 4242, from 1000 to 9000)
 * in which the thread added `own` events (at 2000, 2001, ...) under the
 * event limit `limit` (an OTEL_SPAN_EVENT_COUNT_LIMIT setting). */
static const char *thread_span_text(char *limit, int own) {
    char *envp[] = {"OTEL_TRACES_EXPORTER=console", limit, NULL};
    processor_autostart = false;
    capture_console();
    int rc = telemetry_init(envp, "x");
    CHECK_EQ_INT(rc, 0);
    struct span *s =
        rc ? NULL : telemetry_span_start(str_cstr("worker"), NULL, str_of("", 0), 1000, 512);
    CHECK(s != NULL);
    if (!s) return "";
    s->thread_id = 4242;
    s->reserved_events = 2;
    const char *names[] = {"e1", "e2", "e3", "e4", "e5"};
    for (int i = 0; i < own && i < 5; i++)
        span_add_event(s, names[i], 2000 + (uint64_t)i);
    telemetry_span_end(s, 9000);
    CHECK_EQ_INT(processor_force_flush(5000), 0);
    return console_text();
}

static void scenario_thread_facts(void) {
    const char *text = thread_span_text("OTEL_SPAN_EVENT_COUNT_LIMIT=4", 5);
    CHECK(strstr(text, "\"thread.id\":4242") != NULL);
    CHECK(strstr(text, "\"events\":[{\"name\":\"thread.start\",\"timeUnixNano\":1000,"
                       "\"attributes\":{}},{\"name\":\"e1\",\"timeUnixNano\":2000,"
                       "\"attributes\":{}},{\"name\":\"e2\",\"timeUnixNano\":2001,"
                       "\"attributes\":{}},{\"name\":\"thread.exit\",\"timeUnixNano\":9000,"
                       "\"attributes\":{}}]") != NULL);
    CHECK(strstr(text, "\"droppedEventsCount\":3") != NULL);
}

static void scenario_thread_facts_limit_1(void) {
    const char *text = thread_span_text("OTEL_SPAN_EVENT_COUNT_LIMIT=1", 1);
    CHECK(strstr(text, "\"events\":[{\"name\":\"thread.start\",\"timeUnixNano\":1000,"
                       "\"attributes\":{}}]") != NULL);
    CHECK(strstr(text, "\"droppedEventsCount\":2") != NULL);
}

/* Runs fn in a child process (a fresh telemetry) and counts its result. */
static void run_child(const char *name, void (*fn)(void)) {
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        TEST_FAIL_("fork for %s: %s", name, strerror(errno));
        return;
    }
    if (pid == 0) {
        test_current = name;
        test_failures = test_checks = 0;
        diag_set_sink(capture);
        fn();
        exit(test_failures ? 1 : 0); /* exit, not _exit: coverage data is written */
    }
    int status = 0;
    waitpid(pid, &status, 0);
    test_checks++;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        TEST_FAIL_("%s failed (wait status %#x)", name, status);
}

int main(void) {
    run_child("end_to_end", scenario_end_to_end);
    run_child("disabled", scenario_disabled);
    run_child("no_exporter", scenario_no_exporter);
    run_child("samplers", scenario_samplers);
    run_child("bad_upstream", scenario_bad_upstream);
    run_child("bad_tracestate", scenario_bad_tracestate);
    run_child("export_failures", scenario_export_failures);
    run_child("unusable_endpoints", scenario_unusable_endpoints);
    run_child("in_signal_shutdown", scenario_in_signal_shutdown);
    run_child("logs", scenario_logs);
    run_child("logs_span_events_only", scenario_logs_span_events_only);
    run_child("logs_off", scenario_logs_off);
    run_child("thread_names", scenario_thread_names);
    run_child("thread_facts", scenario_thread_facts);
    run_child("thread_facts_limit_1", scenario_thread_facts_limit_1);
    return test_report("telemetry");
}
