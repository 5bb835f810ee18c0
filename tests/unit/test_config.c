/* test_config: config_load's defaults, every OTEL_* variable it reads with
 * good and bad values (each bad value: its default and exactly one
 * diagnostic), the OTLP endpoint and precedence rules, exporter lists,
 * samplers, limits, and the parsing building blocks. Depends on
 * core/config.h and test.h. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>

#include "core/config.h"
#include "core/text.h"
#include "core/diag.h"
#include "tests/unit/test.h"

/* Captured diagnostics. */
static int ndiag;
static char last_diag[1024];

static void capture(enum diag_level level, const char *line) {
    (void)level;
    ndiag++;
    snprintf(last_diag, sizeof last_diag, "%s", line);
}

/* Loads a config from a NULL-terminated list of "NAME=value" strings,
 * counting the diagnostics it gives. */
static struct config load_env(char *const *envp) {
    struct config c;
    ndiag = 0;
    last_diag[0] = '\0';
    int rc = config_load(&c, envp);
    CHECK_EQ_INT(rc, 0);
    return c;
}

static struct config load1(const char *var) {
    char *envp[] = {(char *)var, NULL};
    return load_env(envp);
}

static struct config load2(const char *a, const char *b) {
    char *envp[] = {(char *)a, (char *)b, NULL};
    return load_env(envp);
}

static void test_defaults(void) {
    struct config c = load_env(NULL);
    CHECK_EQ_INT(ndiag, 0);
    CHECK(!c.disabled);
    CHECK_EQ_INT(c.log_level, DIAG_NONE);
    CHECK_STR(c.service_name, NULL);
    CHECK_STR(c.resource_attributes, NULL);
    CHECK_STR(c.traceparent, NULL);
    CHECK_STR(c.tracestate, NULL);
    CHECK_STR(c.baggage, NULL);
    for (int s = 0; s < SIGNAL_COUNT; s++) {
        CHECK_EQ_INT(c.exporters[s], 1u << EXPORTER_OTLP);
        CHECK_STR(c.otlp[s].headers, NULL);
        CHECK_EQ_INT(c.otlp[s].timeout_ms, 10000);
        CHECK_EQ_INT(c.otlp[s].protocol, OTLP_HTTP_PROTOBUF);
    }
    CHECK_STR(c.otlp[SIGNAL_TRACES].endpoint, "http://localhost:4318/v1/traces");
    CHECK_STR(c.otlp[SIGNAL_LOGS].endpoint, "http://localhost:4318/v1/logs");
    CHECK_STR(c.otlp[SIGNAL_METRICS].endpoint, "http://localhost:4318/v1/metrics");
    CHECK_EQ_INT(c.bsp.max_queue_size, 2048);
    CHECK_EQ_INT(c.bsp.schedule_delay_ms, 5000);
    CHECK_EQ_INT(c.bsp.max_export_batch_size, 512);
    CHECK_EQ_INT(c.bsp.export_timeout_ms, 30000);
    CHECK_EQ_INT(c.blrp.max_queue_size, 2048);
    CHECK_EQ_INT(c.blrp.schedule_delay_ms, 1000);
    CHECK_EQ_INT(c.blrp.max_export_batch_size, 512);
    CHECK_EQ_INT(c.blrp.export_timeout_ms, 30000);
    CHECK_EQ_INT(c.sampler, SAMPLER_PARENTBASED_ALWAYS_ON);
    CHECK_NEAR(c.sampler_ratio, 1.0, 0);
    CHECK_EQ_INT(c.span_attrs.count, 128);
    CHECK_EQ_U64(c.span_attrs.value_length, UINT32_MAX);
    CHECK_EQ_INT(c.event_attrs.count, 128);
    CHECK_EQ_U64(c.event_attrs.value_length, UINT32_MAX);
    CHECK_EQ_INT(c.log_attrs.count, 128);
    CHECK_EQ_U64(c.log_attrs.value_length, UINT32_MAX);
    CHECK_EQ_INT(c.span_event_count, 128);
    CHECK_EQ_INT(c.shutdown_timeout_ms, 2000);
    CHECK(c.log_span_events);
    CHECK_EQ_INT(c.log_streams, 0);
    config_free(&c);
    CHECK_STR(c.otlp[SIGNAL_TRACES].endpoint, NULL); /* config_free clears */

    /* An environment without any OTEL_ variable gives the same. */
    c = load2("PATH=/usr/bin", "HOME=/root");
    CHECK_EQ_INT(ndiag, 0);
    CHECK_EQ_INT(c.bsp.max_queue_size, 2048);
    config_free(&c);
}

static void test_env_lookup(void) {
    char *envp[] = {"OTEL_SERVICE_NAMEX=wrong", "OTEL_SERVICE=wrong",
                    "OTEL_SERVICE_NAME=svc",    "OTEL_EMPTY=",
                    "OTEL_SERVICE_NAME=second", NULL};
    CHECK_STR(env_lookup(envp, "OTEL_SERVICE_NAME"), "svc"); /* the first one wins */
    CHECK_STR(env_lookup(envp, "OTEL_EMPTY"), NULL);         /* empty means unset */
    CHECK_STR(env_lookup(envp, "OTEL_MISSING"), NULL);
    CHECK_STR(env_lookup(envp, "OTEL_SERVICE_NAM"), NULL);
    CHECK_STR(env_lookup(NULL, "OTEL_SERVICE_NAME"), NULL);
}

static void test_text_helpers(void) {
    CHECK(text_iprefix("HTTP://x", "http://"));
    CHECK(text_iprefix("http://", "http://"));
    CHECK(!text_iprefix("http:/", "http://"));
    CHECK(!text_iprefix("", "h"));
    CHECK(text_iprefix("anything", ""));
    CHECK(text_ieq("CoNsOlE", "console", 7));
    CHECK(!text_ieq("consolf", "console", 7));
    CHECK_EQ_INT(text_cspn("host:80/path", "/?#"), 7);
    CHECK_EQ_INT(text_cspn("host", "/?#"), 4);
    CHECK_EQ_INT(text_cspn("", "/"), 0);
    CHECK_EQ_INT(text_cspn("/x", "/"), 0);
}

static void test_parse_helpers(void) {
    bool b = false;
    CHECK_EQ_INT(config_parse_bool("true", &b), 0);
    CHECK(b);
    CHECK_EQ_INT(config_parse_bool("FALSE", &b), 0);
    CHECK(!b);
    CHECK_EQ_INT(config_parse_bool("TrUe", &b), 0);
    CHECK(b);
    CHECK_EQ_INT(config_parse_bool("yes", &b), -EINVAL);
    CHECK_EQ_INT(config_parse_bool("1", &b), -EINVAL);
    CHECK_EQ_INT(config_parse_bool("", &b), -EINVAL);
    CHECK_EQ_INT(config_parse_bool("true ", &b), -EINVAL);
    CHECK(b); /* left alone on failure */

    uint32_t v = 7;
    CHECK_EQ_INT(config_parse_u32("0", &v), 0);
    CHECK_EQ_INT(v, 0);
    CHECK_EQ_INT(config_parse_u32("4294967295", &v), 0);
    CHECK_EQ_U64(v, UINT32_MAX);
    CHECK_EQ_INT(config_parse_u32(" 12\t", &v), 0);
    CHECK_EQ_INT(v, 12);
    CHECK_EQ_INT(config_parse_u32("007", &v), 0);
    CHECK_EQ_INT(v, 7);
    v = 99;
    CHECK_EQ_INT(config_parse_u32("4294967296", &v), -EINVAL);
    CHECK_EQ_INT(config_parse_u32("99999999999999999999999", &v), -EINVAL);
    CHECK_EQ_INT(config_parse_u32("-1", &v), -EINVAL);
    CHECK_EQ_INT(config_parse_u32("+1", &v), -EINVAL);
    CHECK_EQ_INT(config_parse_u32("", &v), -EINVAL);
    CHECK_EQ_INT(config_parse_u32(" ", &v), -EINVAL);
    CHECK_EQ_INT(config_parse_u32("12x", &v), -EINVAL);
    CHECK_EQ_INT(config_parse_u32("1 2", &v), -EINVAL);
    CHECK_EQ_INT(config_parse_u32("0x10", &v), -EINVAL);
    CHECK_EQ_INT(config_parse_u32("1.5", &v), -EINVAL);
    CHECK_EQ_INT(v, 99);

    double d = 0.5;
    CHECK_EQ_INT(config_parse_ratio("0", &d), 0);
    CHECK_NEAR(d, 0.0, 0);
    CHECK_EQ_INT(config_parse_ratio("1", &d), 0);
    CHECK_NEAR(d, 1.0, 0);
    CHECK_EQ_INT(config_parse_ratio("0.25", &d), 0);
    CHECK_NEAR(d, 0.25, 0);
    CHECK_EQ_INT(config_parse_ratio("1.0001", &d), -EINVAL);
    CHECK_EQ_INT(config_parse_ratio("-0.1", &d), -EINVAL);
    CHECK_EQ_INT(config_parse_ratio("nan", &d), -EINVAL);
    CHECK_EQ_INT(config_parse_ratio("abc", &d), -EINVAL);
    CHECK_EQ_INT(config_parse_ratio("0.5x", &d), -EINVAL);
    CHECK_EQ_INT(config_parse_ratio("", &d), -EINVAL);
    CHECK_EQ_INT(config_parse_ratio("1e999", &d), -EINVAL);
    CHECK_NEAR(d, 0.25, 0);
}

/* Every numeric variable: where it lands, its default, a good value and
 * whether 0 is accepted. */
struct u32_var {
    const char *name;
    size_t offset;
    uint32_t def;
    const char *good;
    uint32_t good_value;
    bool zero_ok;
};

#define FIELD(m) offsetof(struct config, m)
static const struct u32_var u32_vars[] = {
    {"OTEL_BSP_MAX_QUEUE_SIZE", FIELD(bsp.max_queue_size), 2048, "4096", 4096, false},
    {"OTEL_BSP_SCHEDULE_DELAY", FIELD(bsp.schedule_delay_ms), 5000, "42", 42, true},
    {"OTEL_BSP_MAX_EXPORT_BATCH_SIZE", FIELD(bsp.max_export_batch_size), 512, "100", 100, false},
    {"OTEL_BSP_EXPORT_TIMEOUT", FIELD(bsp.export_timeout_ms), 30000, "42", 42, true},
    {"OTEL_BLRP_MAX_QUEUE_SIZE", FIELD(blrp.max_queue_size), 2048, "4096", 4096, false},
    {"OTEL_BLRP_SCHEDULE_DELAY", FIELD(blrp.schedule_delay_ms), 1000, "42", 42, true},
    {"OTEL_BLRP_MAX_EXPORT_BATCH_SIZE", FIELD(blrp.max_export_batch_size), 512, "100", 100, false},
    {"OTEL_BLRP_EXPORT_TIMEOUT", FIELD(blrp.export_timeout_ms), 30000, "42", 42, true},
    {"OTEL_ATTRIBUTE_COUNT_LIMIT", FIELD(span_attrs.count), 128, "42", 42, true},
    {"OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", FIELD(span_attrs.value_length), UINT32_MAX, "42", 42,
     true},
    {"OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", FIELD(span_attrs.count), 128, "42", 42, true},
    {"OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", FIELD(span_attrs.value_length), UINT32_MAX, "42", 42,
     true},
    {"OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT", FIELD(event_attrs.count), 128, "42", 42, true},
    {"OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT", FIELD(log_attrs.count), 128, "42", 42, true},
    {"OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT", FIELD(log_attrs.value_length), UINT32_MAX, "42",
     42, true},
    {"OTEL_SPAN_EVENT_COUNT_LIMIT", FIELD(span_event_count), 128, "42", 42, true},
    {"OTEL_PRELOAD_SHUTDOWN_TIMEOUT", FIELD(shutdown_timeout_ms), 2000, "42", 42, true},
};

static uint32_t u32_at(const struct config *c, size_t offset) {
    uint32_t v;
    memcpy(&v, (const char *)c + offset, sizeof v);
    return v;
}

static void check_u32_value(const struct u32_var *var, const char *value, bool valid,
                            uint32_t expect) {
    char env[128];
    snprintf(env, sizeof env, "%s=%s", var->name, value);
    struct config c = load1(env);
    uint32_t got = u32_at(&c, var->offset);
    if (got != expect || ndiag != (valid ? 0 : 1))
        TEST_FAIL_("%s: got %u with %d diagnostics, want %u with %d", env, got, ndiag, expect,
                   valid ? 0 : 1);
    test_checks++;
    if (!valid && !strstr(last_diag, var->name))
        TEST_FAIL_("%s: diagnostic does not name the variable: %s", env, last_diag);
    config_free(&c);
}

static void test_u32_variables(void) {
    static const char *const bad[] = {"abc", "-1", "4294967296", "12abc", "1.5", " ", "0x10"};
    for (size_t i = 0; i < sizeof u32_vars / sizeof u32_vars[0]; i++) {
        const struct u32_var *v = &u32_vars[i];
        check_u32_value(v, v->good, true, v->good_value);
        char spaced[32];
        snprintf(spaced, sizeof spaced, " %s ", v->good);
        check_u32_value(v, spaced, true, v->good_value);
        check_u32_value(v, "", true, v->def); /* empty = unset, no diagnostic */
        for (size_t j = 0; j < sizeof bad / sizeof bad[0]; j++)
            check_u32_value(v, bad[j], false, v->def);
        if (v->zero_ok)
            check_u32_value(v, "0", true, 0);
        else
            check_u32_value(v, "0", false, v->def);
    }
}

static void test_bool_variable(void) {
    struct config c = load1("OTEL_SDK_DISABLED=TRUE");
    CHECK(c.disabled);
    CHECK_EQ_INT(ndiag, 0);
    config_free(&c);
    c = load1("OTEL_SDK_DISABLED=true");
    CHECK(c.disabled);
    config_free(&c);
    c = load1("OTEL_SDK_DISABLED=false");
    CHECK(!c.disabled);
    CHECK_EQ_INT(ndiag, 0);
    config_free(&c);
    c = load1("OTEL_SDK_DISABLED=yes");
    CHECK(!c.disabled);
    CHECK_EQ_INT(ndiag, 1);
    CHECK(strstr(last_diag, "OTEL_SDK_DISABLED") != NULL);
    config_free(&c);
    c = load1("OTEL_SDK_DISABLED=1");
    CHECK(!c.disabled);
    CHECK_EQ_INT(ndiag, 1);
    config_free(&c);
    c = load1("OTEL_SDK_DISABLED=");
    CHECK(!c.disabled);
    CHECK_EQ_INT(ndiag, 0);
    config_free(&c);
}

static void test_log_level(void) {
    static const struct {
        const char *value;
        enum diag_level level;
    } cases[] = {{"none", DIAG_NONE},   {"off", DIAG_NONE},      {"error", DIAG_ERROR},
                 {"warn", DIAG_WARN},   {"WARNING", DIAG_WARN},  {"info", DIAG_INFO},
                 {"Debug", DIAG_DEBUG}, {"verbose", DIAG_DEBUG}, {"trace", DIAG_DEBUG},
                 {"ALL", DIAG_DEBUG},   {"0", DIAG_NONE},        {"1", DIAG_ERROR},
                 {"2", DIAG_WARN},      {"3", DIAG_INFO},        {"4", DIAG_DEBUG},
                 {"fatal", DIAG_ERROR}, {" info ", DIAG_INFO},   {"silent", DIAG_NONE}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char env[64];
        snprintf(env, sizeof env, "OTEL_LOG_LEVEL=%s", cases[i].value);
        struct config c = load1(env);
        CHECK_EQ_INT(c.log_level, cases[i].level);
        CHECK_EQ_INT(diag_get_level(), cases[i].level);
        CHECK_EQ_INT(ndiag, 0);
        config_free(&c);
    }
    /* A level we do not know: diagnostics stay off, and so say nothing. */
    struct config c = load1("OTEL_LOG_LEVEL=loud");
    CHECK_EQ_INT(c.log_level, DIAG_NONE);
    CHECK_EQ_INT(diag_get_level(), DIAG_NONE);
    config_free(&c);
    c = load1("OTEL_LOG_LEVEL=");
    CHECK_EQ_INT(c.log_level, DIAG_NONE);
    CHECK_EQ_INT(ndiag, 0);
    config_free(&c);
    diag_set_level(DIAG_NONE);
}

static void test_strings(void) {
    char *envp[] = {"OTEL_SERVICE_NAME=checkout",
                    "OTEL_RESOURCE_ATTRIBUTES=a=b,c=d",
                    "TRACEPARENT=00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
                    "TRACESTATE=congo=t61rcWkgMzE",
                    "BAGGAGE=userId=alice",
                    NULL};
    struct config c = load_env(envp);
    CHECK_EQ_INT(ndiag, 0);
    CHECK_STR(c.service_name, "checkout");
    CHECK_STR(c.resource_attributes, "a=b,c=d");
    CHECK_STR(c.traceparent, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    CHECK_STR(c.tracestate, "congo=t61rcWkgMzE");
    CHECK_STR(c.baggage, "userId=alice");
    /* config keeps copies, never pointers into the environment */
    CHECK(c.service_name != envp[0] + strlen("OTEL_SERVICE_NAME="));
    config_free(&c);
    c = load1("OTEL_SERVICE_NAME=");
    CHECK_STR(c.service_name, NULL);
    config_free(&c);
}

static void test_endpoints(void) {
    struct config c = load1("OTEL_EXPORTER_OTLP_ENDPOINT=http://collector:4318");
    CHECK_STR(c.otlp[SIGNAL_TRACES].endpoint, "http://collector:4318/v1/traces");
    CHECK_STR(c.otlp[SIGNAL_LOGS].endpoint, "http://collector:4318/v1/logs");
    CHECK_STR(c.otlp[SIGNAL_METRICS].endpoint, "http://collector:4318/v1/metrics");
    CHECK_EQ_INT(ndiag, 0);
    config_free(&c);

    c = load1("OTEL_EXPORTER_OTLP_ENDPOINT=http://collector:4318/");
    CHECK_STR(c.otlp[SIGNAL_TRACES].endpoint, "http://collector:4318/v1/traces");
    config_free(&c);

    c = load1("OTEL_EXPORTER_OTLP_ENDPOINT=http://collector:4318/base/");
    CHECK_STR(c.otlp[SIGNAL_TRACES].endpoint, "http://collector:4318/base/v1/traces");
    config_free(&c);

    /* A signal endpoint is used exactly as given, and only for its signal. */
    c = load2("OTEL_EXPORTER_OTLP_ENDPOINT=http://generic:4318",
              "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=http://traces:9999/custom/path/");
    CHECK_STR(c.otlp[SIGNAL_TRACES].endpoint, "http://traces:9999/custom/path/");
    CHECK_STR(c.otlp[SIGNAL_LOGS].endpoint, "http://generic:4318/v1/logs");
    config_free(&c);

    c = load1("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT=http://logs:1");
    CHECK_STR(c.otlp[SIGNAL_TRACES].endpoint, "http://localhost:4318/v1/traces");
    CHECK_STR(c.otlp[SIGNAL_LOGS].endpoint, "http://logs:1");
    config_free(&c);

    c = load1("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT=http://metrics:2/m");
    CHECK_STR(c.otlp[SIGNAL_METRICS].endpoint, "http://metrics:2/m");
    config_free(&c);

    /* Empty is unset. */
    c = load1("OTEL_EXPORTER_OTLP_ENDPOINT=");
    CHECK_STR(c.otlp[SIGNAL_TRACES].endpoint, "http://localhost:4318/v1/traces");
    config_free(&c);
    c = load1("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=");
    CHECK_STR(c.otlp[SIGNAL_TRACES].endpoint, "http://localhost:4318/v1/traces");
    config_free(&c);
}

static void test_headers_timeout_precedence(void) {
    char *envp[] = {"OTEL_EXPORTER_OTLP_HEADERS=api-key=generic",
                    "OTEL_EXPORTER_OTLP_TRACES_HEADERS=api-key=traces,x=1",
                    "OTEL_EXPORTER_OTLP_TIMEOUT=5000",
                    "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT=7000",
                    "OTEL_EXPORTER_OTLP_LOGS_TIMEOUT=0",
                    NULL};
    struct config c = load_env(envp);
    CHECK_EQ_INT(ndiag, 0);
    CHECK_STR(c.otlp[SIGNAL_TRACES].headers, "api-key=traces,x=1");
    CHECK_STR(c.otlp[SIGNAL_LOGS].headers, "api-key=generic");
    CHECK_STR(c.otlp[SIGNAL_METRICS].headers, "api-key=generic");
    CHECK_EQ_INT(c.otlp[SIGNAL_TRACES].timeout_ms, 7000);
    CHECK_EQ_INT(c.otlp[SIGNAL_LOGS].timeout_ms, 0);
    CHECK_EQ_INT(c.otlp[SIGNAL_METRICS].timeout_ms, 5000);
    config_free(&c);
}

/* A bad signal-specific timeout: its default and one diagnostic naming it. */
static void test_timeout_bad_signal(void) {
    struct config c = load1("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT=soon");
    CHECK_EQ_INT(c.otlp[SIGNAL_TRACES].timeout_ms, 10000);
    CHECK_EQ_INT(ndiag, 1);
    CHECK(strstr(last_diag, "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT") != NULL);
    config_free(&c);
    c = load1("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT=-5");
    CHECK_EQ_INT(c.otlp[SIGNAL_TRACES].timeout_ms, 10000);
    CHECK_EQ_INT(ndiag, 1);
    config_free(&c);
}

/* A bad generic timeout is one bad value: one diagnostic, not one per
 * signal. */
static void test_timeout_bad_generic_one_diagnostic(void) {
    struct config c = load1("OTEL_EXPORTER_OTLP_TIMEOUT=soon");
    for (int s = 0; s < SIGNAL_COUNT; s++)
        CHECK_EQ_INT(c.otlp[s].timeout_ms, 10000);
    CHECK_EQ_INT(ndiag, 1);
    config_free(&c);
}

static void test_protocol(void) {
    struct config c = load1("OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf");
    CHECK_EQ_INT(ndiag, 0);
    CHECK_EQ_INT(c.otlp[SIGNAL_TRACES].protocol, OTLP_HTTP_PROTOBUF);
    config_free(&c);
    c = load1("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=carrier-pigeon");
    CHECK_EQ_INT(c.otlp[SIGNAL_TRACES].protocol, OTLP_HTTP_PROTOBUF);
    CHECK_EQ_INT(ndiag, 1);
    CHECK(strstr(last_diag, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") != NULL);
    config_free(&c);
    /* grpc: the default endpoint is port 4317, and no /v1/<signal> is
     * appended to a generic endpoint (the service path is gRPC's). */
    c = load1("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=grpc");
    CHECK_EQ_INT(ndiag, 0);
    CHECK_EQ_INT(c.otlp[SIGNAL_TRACES].protocol, OTLP_GRPC);
    CHECK_EQ_INT(c.otlp[SIGNAL_LOGS].protocol, OTLP_HTTP_PROTOBUF);
    CHECK_STR(c.otlp[SIGNAL_TRACES].endpoint, "http://localhost:4317");
    CHECK_STR(c.otlp[SIGNAL_LOGS].endpoint, "http://localhost:4318/v1/logs");
    config_free(&c);
    c = load2("OTEL_EXPORTER_OTLP_PROTOCOL=grpc", "OTEL_EXPORTER_OTLP_ENDPOINT=collector:4317");
    CHECK_STR(c.otlp[SIGNAL_METRICS].endpoint, "collector:4317");
    config_free(&c);
    c = load2("OTEL_EXPORTER_OTLP_PROTOCOL=grpc", "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL=http/json");
    CHECK_EQ_INT(c.otlp[SIGNAL_TRACES].protocol, OTLP_GRPC);
    CHECK_EQ_INT(c.otlp[SIGNAL_LOGS].protocol, OTLP_HTTP_JSON);
    CHECK_STR(c.otlp[SIGNAL_LOGS].endpoint, "http://localhost:4318/v1/logs");
    config_free(&c);
}

/* Compression, TLS files, insecure, file path: generic and per signal, the
 * signal-specific one winning; bad values one diagnostic each. */
static void test_transport_options(void) {
    struct config c = load_env(NULL);
    for (int s = 0; s < SIGNAL_COUNT; s++) {
        CHECK_EQ_INT(c.otlp[s].compression, OTLP_COMPRESSION_NONE);
        CHECK_STR(c.otlp[s].certificate, NULL);
        CHECK_STR(c.otlp[s].client_key, NULL);
        CHECK_STR(c.otlp[s].client_certificate, NULL);
        CHECK_STR(c.otlp[s].file_path, NULL);
        CHECK(!c.otlp[s].insecure);
    }
    config_free(&c);
    char *envp[] = {"OTEL_EXPORTER_OTLP_COMPRESSION=gzip",
                    "OTEL_EXPORTER_OTLP_LOGS_COMPRESSION=none",
                    "OTEL_EXPORTER_OTLP_CERTIFICATE=/ca.pem",
                    "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE=/traces-ca.pem",
                    "OTEL_EXPORTER_OTLP_CLIENT_KEY=/key.pem",
                    "OTEL_EXPORTER_OTLP_METRICS_CLIENT_KEY=/mkey.pem",
                    "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE=/cert.pem",
                    "OTEL_EXPORTER_OTLP_LOGS_CLIENT_CERTIFICATE=/lcert.pem",
                    "OTEL_EXPORTER_OTLP_INSECURE=TRUE",
                    "OTEL_EXPORTER_OTLP_TRACES_INSECURE=false",
                    "OTEL_EXPORTER_OTLP_FILE_PATH=/tmp/all.jsonl",
                    "OTEL_EXPORTER_OTLP_LOGS_FILE_PATH=/tmp/logs.jsonl",
                    NULL};
    c = load_env(envp);
    CHECK_EQ_INT(ndiag, 0);
    CHECK_EQ_INT(c.otlp[SIGNAL_TRACES].compression, OTLP_COMPRESSION_GZIP);
    CHECK_EQ_INT(c.otlp[SIGNAL_LOGS].compression, OTLP_COMPRESSION_NONE);
    CHECK_EQ_INT(c.otlp[SIGNAL_METRICS].compression, OTLP_COMPRESSION_GZIP);
    CHECK_STR(c.otlp[SIGNAL_TRACES].certificate, "/traces-ca.pem");
    CHECK_STR(c.otlp[SIGNAL_LOGS].certificate, "/ca.pem");
    CHECK_STR(c.otlp[SIGNAL_TRACES].client_key, "/key.pem");
    CHECK_STR(c.otlp[SIGNAL_METRICS].client_key, "/mkey.pem");
    CHECK_STR(c.otlp[SIGNAL_TRACES].client_certificate, "/cert.pem");
    CHECK_STR(c.otlp[SIGNAL_LOGS].client_certificate, "/lcert.pem");
    CHECK(!c.otlp[SIGNAL_TRACES].insecure);
    CHECK(c.otlp[SIGNAL_LOGS].insecure);
    CHECK(c.otlp[SIGNAL_METRICS].insecure);
    CHECK_STR(c.otlp[SIGNAL_TRACES].file_path, "/tmp/all.jsonl");
    CHECK_STR(c.otlp[SIGNAL_LOGS].file_path, "/tmp/logs.jsonl");
    config_free(&c);
    /* Bad values: the default, one diagnostic for a generic variable. */
    c = load2("OTEL_EXPORTER_OTLP_COMPRESSION=brotli", "OTEL_EXPORTER_OTLP_INSECURE=yes");
    CHECK_EQ_INT(ndiag, 2);
    for (int s = 0; s < SIGNAL_COUNT; s++) {
        CHECK_EQ_INT(c.otlp[s].compression, OTLP_COMPRESSION_NONE);
        CHECK(!c.otlp[s].insecure);
    }
    config_free(&c);
    c = load1("OTEL_EXPORTER_OTLP_LOGS_COMPRESSION=zstd");
    CHECK_EQ_INT(ndiag, 1);
    CHECK(strstr(last_diag, "OTEL_EXPORTER_OTLP_LOGS_COMPRESSION") != NULL);
    config_free(&c);
    c = load1("OTEL_TRACES_EXPORTER=otlp_file,console");
    CHECK_EQ_INT(c.exporters[SIGNAL_TRACES], (1u << EXPORTER_FILE) | (1u << EXPORTER_CONSOLE));
    config_free(&c);
}

static void test_protocol_bad_generic_one_diagnostic(void) {
    struct config c = load1("OTEL_EXPORTER_OTLP_PROTOCOL=carrier-pigeon");
    for (int s = 0; s < SIGNAL_COUNT; s++)
        CHECK_EQ_INT(c.otlp[s].protocol, OTLP_HTTP_PROTOBUF);
    CHECK_EQ_INT(ndiag, 1);
    config_free(&c);
}

static void test_exporters(void) {
    const unsigned otlp = 1u << EXPORTER_OTLP, console = 1u << EXPORTER_CONSOLE;
    struct config c = load1("OTEL_TRACES_EXPORTER=otlp,console");
    CHECK_EQ_INT(c.exporters[SIGNAL_TRACES], otlp | console);
    CHECK_EQ_INT(c.exporters[SIGNAL_LOGS], otlp);
    CHECK_EQ_INT(ndiag, 0);
    config_free(&c);
    c = load1("OTEL_TRACES_EXPORTER= console , OTLP ,");
    CHECK_EQ_INT(c.exporters[SIGNAL_TRACES], otlp | console);
    CHECK_EQ_INT(ndiag, 0);
    config_free(&c);
    c = load1("OTEL_TRACES_EXPORTER=console");
    CHECK_EQ_INT(c.exporters[SIGNAL_TRACES], console);
    config_free(&c);
    c = load1("OTEL_TRACES_EXPORTER=none");
    CHECK_EQ_INT(c.exporters[SIGNAL_TRACES], 0);
    CHECK_EQ_INT(ndiag, 0);
    config_free(&c);
    c = load1("OTEL_TRACES_EXPORTER=zipkin");
    CHECK_EQ_INT(c.exporters[SIGNAL_TRACES], 0);
    CHECK_EQ_INT(ndiag, 1);
    CHECK(strstr(last_diag, "zipkin") != NULL);
    config_free(&c);
    c = load1("OTEL_TRACES_EXPORTER=otlp,zipkin");
    CHECK_EQ_INT(c.exporters[SIGNAL_TRACES], otlp);
    CHECK_EQ_INT(ndiag, 1);
    config_free(&c);
    c = load1("OTEL_TRACES_EXPORTER=");
    CHECK_EQ_INT(c.exporters[SIGNAL_TRACES], otlp);
    config_free(&c);
    c = load1("OTEL_TRACES_EXPORTER=,");
    CHECK_EQ_INT(c.exporters[SIGNAL_TRACES], 0);
    CHECK_EQ_INT(ndiag, 0);
    config_free(&c);
    c = load2("OTEL_LOGS_EXPORTER=console", "OTEL_METRICS_EXPORTER=none");
    CHECK_EQ_INT(c.exporters[SIGNAL_TRACES], otlp);
    CHECK_EQ_INT(c.exporters[SIGNAL_LOGS], console);
    CHECK_EQ_INT(c.exporters[SIGNAL_METRICS], 0);
    config_free(&c);
}

static void test_samplers(void) {
    static const struct {
        const char *name;
        enum sampler_kind kind;
    } cases[] = {{"always_on", SAMPLER_ALWAYS_ON},
                 {"always_off", SAMPLER_ALWAYS_OFF},
                 {"traceidratio", SAMPLER_TRACEIDRATIO},
                 {"parentbased_always_on", SAMPLER_PARENTBASED_ALWAYS_ON},
                 {"parentbased_always_off", SAMPLER_PARENTBASED_ALWAYS_OFF},
                 {"parentbased_traceidratio", SAMPLER_PARENTBASED_TRACEIDRATIO},
                 {"TraceIdRatio", SAMPLER_TRACEIDRATIO}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char env[64];
        snprintf(env, sizeof env, "OTEL_TRACES_SAMPLER=%s", cases[i].name);
        struct config c = load1(env);
        CHECK_EQ_INT(c.sampler, cases[i].kind);
        CHECK_NEAR(c.sampler_ratio, 1.0, 0);
        CHECK_EQ_INT(ndiag, 0);
        config_free(&c);
    }
    struct config c = load1("OTEL_TRACES_SAMPLER=jaeger_remote");
    CHECK_EQ_INT(c.sampler, SAMPLER_PARENTBASED_ALWAYS_ON);
    CHECK_EQ_INT(ndiag, 1);
    CHECK(strstr(last_diag, "OTEL_TRACES_SAMPLER") != NULL);
    config_free(&c);

    c = load2("OTEL_TRACES_SAMPLER=traceidratio", "OTEL_TRACES_SAMPLER_ARG=0.25");
    CHECK_EQ_INT(c.sampler, SAMPLER_TRACEIDRATIO);
    CHECK_NEAR(c.sampler_ratio, 0.25, 0);
    CHECK_EQ_INT(ndiag, 0);
    config_free(&c);
    c = load2("OTEL_TRACES_SAMPLER=parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG=0");
    CHECK_EQ_INT(c.sampler, SAMPLER_PARENTBASED_TRACEIDRATIO);
    CHECK_NEAR(c.sampler_ratio, 0.0, 0);
    config_free(&c);
    static const char *const bad_args[] = {
        "OTEL_TRACES_SAMPLER_ARG=2", "OTEL_TRACES_SAMPLER_ARG=-1", "OTEL_TRACES_SAMPLER_ARG=half",
        "OTEL_TRACES_SAMPLER_ARG=nan"};
    for (size_t i = 0; i < sizeof bad_args / sizeof bad_args[0]; i++) {
        c = load2("OTEL_TRACES_SAMPLER=traceidratio", bad_args[i]);
        CHECK_NEAR(c.sampler_ratio, 1.0, 0);
        CHECK_EQ_INT(ndiag, 1);
        CHECK(strstr(last_diag, "OTEL_TRACES_SAMPLER_ARG") != NULL);
        config_free(&c);
    }
    /* The argument only matters to ratio samplers. */
    c = load2("OTEL_TRACES_SAMPLER=always_on", "OTEL_TRACES_SAMPLER_ARG=half");
    CHECK_EQ_INT(ndiag, 0);
    CHECK_NEAR(c.sampler_ratio, 1.0, 0);
    config_free(&c);
    c = load2("OTEL_TRACES_SAMPLER=traceidratio", "OTEL_TRACES_SAMPLER_ARG=");
    CHECK_EQ_INT(ndiag, 0);
    CHECK_NEAR(c.sampler_ratio, 1.0, 0);
    config_free(&c);
}

static void test_limits(void) {
    struct config c =
        load2("OTEL_ATTRIBUTE_COUNT_LIMIT=10", "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT=20");
    CHECK_EQ_INT(c.span_attrs.count, 10);
    CHECK_EQ_INT(c.span_attrs.value_length, 20);
    CHECK_EQ_INT(c.log_attrs.count, 10);
    CHECK_EQ_INT(c.log_attrs.value_length, 20);
    CHECK_EQ_INT(c.event_attrs.value_length, 20);
    config_free(&c);

    char *envp[] = {"OTEL_ATTRIBUTE_COUNT_LIMIT=10",
                    "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT=20",
                    "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT=30",
                    "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT=40",
                    "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT=5",
                    "OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT=50",
                    "OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT=60",
                    "OTEL_SPAN_EVENT_COUNT_LIMIT=3",
                    NULL};
    c = load_env(envp);
    CHECK_EQ_INT(ndiag, 0);
    CHECK_EQ_INT(c.span_attrs.count, 30);
    CHECK_EQ_INT(c.span_attrs.value_length, 40);
    CHECK_EQ_INT(c.event_attrs.count, 5);
    CHECK_EQ_INT(c.event_attrs.value_length, 40);
    CHECK_EQ_INT(c.log_attrs.count, 50);
    CHECK_EQ_INT(c.log_attrs.value_length, 60);
    CHECK_EQ_INT(c.span_event_count, 3);
    config_free(&c);
}

static void test_batch_clamp(void) {
    struct config c = load1("OTEL_BSP_MAX_QUEUE_SIZE=100");
    CHECK_EQ_INT(c.bsp.max_queue_size, 100);
    CHECK_EQ_INT(c.bsp.max_export_batch_size, 100);
    CHECK_EQ_INT(ndiag, 1);
    CHECK(strstr(last_diag, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE") != NULL);
    CHECK_EQ_INT(c.blrp.max_export_batch_size, 512);
    config_free(&c);
    c = load2("OTEL_BLRP_MAX_QUEUE_SIZE=8", "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE=9");
    CHECK_EQ_INT(c.blrp.max_queue_size, 8);
    CHECK_EQ_INT(c.blrp.max_export_batch_size, 8);
    CHECK_EQ_INT(ndiag, 1);
    config_free(&c);
    c = load2("OTEL_BSP_MAX_QUEUE_SIZE=8", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE=8");
    CHECK_EQ_INT(c.bsp.max_export_batch_size, 8);
    CHECK_EQ_INT(ndiag, 0);
    config_free(&c);
}

/* OTEL_PRELOAD_LOGS_SPAN_EVENTS (boolean, default true) and
 * OTEL_PRELOAD_LOGS_STREAMS (a list of stdout, stderr; bits 1 << fd). */
static void test_log_options(void) {
    struct config c = load1("OTEL_PRELOAD_LOGS_SPAN_EVENTS=false");
    CHECK(!c.log_span_events);
    CHECK_EQ_INT(ndiag, 0);
    config_free(&c);
    c = load1("OTEL_PRELOAD_LOGS_SPAN_EVENTS=TRUE");
    CHECK(c.log_span_events);
    config_free(&c);
    c = load1("OTEL_PRELOAD_LOGS_SPAN_EVENTS=off");
    CHECK(c.log_span_events);
    CHECK_EQ_INT(ndiag, 1);
    CHECK(strstr(last_diag, "OTEL_PRELOAD_LOGS_SPAN_EVENTS") != NULL);
    config_free(&c);

    c = load1("OTEL_PRELOAD_LOGS_STREAMS=stdout");
    CHECK_EQ_INT(c.log_streams, 1u << 1);
    config_free(&c);
    c = load1("OTEL_PRELOAD_LOGS_STREAMS= stderr , STDOUT,");
    CHECK_EQ_INT(c.log_streams, (1u << 1) | (1u << 2));
    CHECK_EQ_INT(ndiag, 0);
    config_free(&c);
    c = load1("OTEL_PRELOAD_LOGS_STREAMS=none");
    CHECK_EQ_INT(c.log_streams, 0);
    config_free(&c);
    c = load1("OTEL_PRELOAD_LOGS_STREAMS=stdin,stderr");
    CHECK_EQ_INT(c.log_streams, 1u << 2);
    CHECK_EQ_INT(ndiag, 1);
    CHECK(strstr(last_diag, "'stdin'") != NULL);
    config_free(&c);
}

/* Metrics: defaults, the enumerations (core/metric.h's values), bad
 * values (one diagnostic, the default). */
static void test_metric_options(void) {
    struct config c = load1("OTEL_SERVICE_NAME=x");
    CHECK_EQ_INT(c.metric_interval_ms, 60000);
    CHECK_EQ_INT(c.metric_timeout_ms, 30000);
    CHECK_EQ_INT(c.metric_temporality, 0);
    CHECK_EQ_INT(c.metric_histogram, 0);
    CHECK_EQ_INT(c.metric_exemplars, 0);
    CHECK_EQ_INT(c.metric_cardinality, 2000);
    CHECK(c.process_metrics);
    CHECK(c.sdk_metrics);
    CHECK_EQ_INT(c.metric_worker, METRIC_WORKER_AUTO);
    CHECK_EQ_INT(c.exporters[SIGNAL_METRICS], 1u << EXPORTER_OTLP);
    config_free(&c);
    char *envp[] = {"OTEL_METRIC_EXPORT_INTERVAL=250",
                    "OTEL_METRIC_EXPORT_TIMEOUT=100",
                    "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE=LowMemory",
                    "OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION="
                    "base2_exponential_bucket_histogram",
                    "OTEL_METRICS_EXEMPLAR_FILTER=always_off",
                    "OTEL_PRELOAD_METRICS_CARDINALITY_LIMIT=10",
                    "OTEL_PRELOAD_PROCESS_METRICS=false",
                    "OTEL_PRELOAD_SDK_METRICS=false",
                    "OTEL_PRELOAD_METRICS_WORKER=start",
                    "OTEL_METRICS_EXPORTER=console,otlp_file",
                    NULL};
    c = load_env(envp);
    CHECK_EQ_INT(ndiag, 0);
    CHECK_EQ_INT(c.metric_interval_ms, 250);
    CHECK_EQ_INT(c.metric_timeout_ms, 100);
    CHECK_EQ_INT(c.metric_temporality, 2);
    CHECK_EQ_INT(c.metric_histogram, 1);
    CHECK_EQ_INT(c.metric_exemplars, 2);
    CHECK_EQ_INT(c.metric_cardinality, 10);
    CHECK(!c.process_metrics);
    CHECK(!c.sdk_metrics);
    CHECK_EQ_INT(c.metric_worker, METRIC_WORKER_START);
    CHECK_EQ_INT(c.exporters[SIGNAL_METRICS], (1u << EXPORTER_CONSOLE) | (1u << EXPORTER_FILE));
    config_free(&c);
    char *bad[] = {"OTEL_METRIC_EXPORT_INTERVAL=0",
                   "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE=x",
                   "OTEL_METRICS_EXEMPLAR_FILTER=sometimes",
                   "OTEL_PRELOAD_METRICS_CARDINALITY_LIMIT=1",
                   "OTEL_PRELOAD_METRICS_WORKER=eager",
                   NULL};
    c = load_env(bad);
    CHECK_EQ_INT(ndiag, 5);
    CHECK_EQ_INT(c.metric_worker, METRIC_WORKER_AUTO);
    CHECK_EQ_INT(c.metric_interval_ms, 60000);
    CHECK_EQ_INT(c.metric_temporality, 0);
    CHECK_EQ_INT(c.metric_exemplars, 0);
    CHECK_EQ_INT(c.metric_cardinality, 2000);
    config_free(&c);
}

/* Several bad values at once: one diagnostic each. */
static void test_many_bad_values(void) {
    char *envp[] = {"OTEL_SDK_DISABLED=maybe", "OTEL_BSP_SCHEDULE_DELAY=soon",
                    "OTEL_SPAN_EVENT_COUNT_LIMIT=-3", "OTEL_TRACES_SAMPLER=sometimes", NULL};
    struct config c = load_env(envp);
    CHECK_EQ_INT(ndiag, 4);
    CHECK(!c.disabled);
    CHECK_EQ_INT(c.bsp.schedule_delay_ms, 5000);
    CHECK_EQ_INT(c.span_event_count, 128);
    CHECK_EQ_INT(c.sampler, SAMPLER_PARENTBASED_ALWAYS_ON);
    config_free(&c);
}

int main(void) {
    diag_set_sink(capture);
    RUN(test_defaults);
    RUN(test_env_lookup);
    RUN(test_text_helpers);
    RUN(test_parse_helpers);
    RUN(test_u32_variables);
    RUN(test_bool_variable);
    RUN(test_log_level);
    RUN(test_strings);
    RUN(test_endpoints);
    RUN(test_headers_timeout_precedence);
    RUN(test_timeout_bad_signal);
    RUN(test_timeout_bad_generic_one_diagnostic);
    RUN(test_protocol);
    RUN(test_protocol_bad_generic_one_diagnostic);
    RUN(test_transport_options);
    RUN(test_exporters);
    RUN(test_samplers);
    RUN(test_limits);
    RUN(test_metric_options);
    RUN(test_batch_clamp);
    RUN(test_log_options);
    RUN(test_many_bad_values);
    return test_report("config");
}
