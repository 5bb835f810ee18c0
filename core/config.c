/* config: OTEL_* parsing. See config.h.
 *
 * Precedence for the OTLP exporter settings: the signal-specific variable
 * (OTEL_EXPORTER_OTLP_TRACES_*) wins over the generic one. The generic
 * endpoint gets "/v1/<signal>" appended; a signal endpoint is used as given. */
#include "core/cold.h"
#include "core/config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/text.h"

OTELP_FIRST const char *env_lookup(char *const *envp, const char *name) {
    if (!envp) return NULL;
    /* A byte loop, not strncmp: ~100 look-ups at every process start, each
     * decided at the first byte after "OTEL_" or so. */
    for (char *const *e = envp; *e; e++) {
        const char *v = *e, *k = name;
        while (*k && *v == *k)
            v++, k++;
        if (!*k && *v == '=') return v[1] ? v + 1 : NULL;
    }
    return NULL;
}

int config_parse_bool(const char *s, bool *out) {
    if (text_iprefix(s, "true") && !s[4]) {
        *out = true;
        return 0;
    }
    if (text_iprefix(s, "false") && !s[5]) {
        *out = false;
        return 0;
    }
    return -EINVAL;
}

int config_parse_u32(const char *s, uint32_t *out) {
    while (*s == ' ' || *s == '\t')
        s++;
    if (*s < '0' || *s > '9') return -EINVAL;
    uint64_t v = 0;
    for (; *s >= '0' && *s <= '9'; s++) {
        v = v * 10 + (uint64_t)(*s - '0');
        if (v > UINT32_MAX) return -EINVAL;
    }
    while (*s == ' ' || *s == '\t')
        s++;
    if (*s) return -EINVAL;
    *out = (uint32_t)v;
    return 0;
}

int config_parse_ratio(const char *s, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || isnan(v) || v < 0.0 || v > 1.0) return -EINVAL;
    *out = v;
    return 0;
}

/* The value is quoted only in part: it may be long (every process of a
 * tree would print it) or hold something private. */
static void bad_value(const char *name, const char *value, const char *fallback) {
    size_t n = strlen(value);
    diag_warn("invalid value '%.40s%s' for %s, using %s", value, n > 40 ? "..." : "", name,
              fallback);
}

OTELP_FIRST static void get_bool(char *const *envp, const char *name, bool *out) {
    const char *s = env_lookup(envp, name);
    if (s && config_parse_bool(s, out) < 0) {
        bad_value(name, s, "false");
        *out = false;
    }
}

/* min: smallest value accepted (e.g. 1 for sizes where 0 makes no sense). */
OTELP_FIRST static void get_u32(char *const *envp, const char *name, uint32_t *out, uint32_t min) {
    const char *s = env_lookup(envp, name);
    uint32_t v;
    if (!s) return;
    if (config_parse_u32(s, &v) < 0 || v < min) {
        char def[16];
        int n = 0;
        for (uint32_t d = *out, p = 1000000000; p; p /= 10)
            if (d / p || n || p == 1) def[n++] = (char)('0' + (d / p) % 10);
        def[n] = '\0';
        bad_value(name, s, def);
        return;
    }
    *out = v;
}

struct name_value {
    const char *name;
    int value;
};

OTELP_FIRST static int lookup_name(const struct name_value *table, const char *s, size_t len) {
    for (; table->name; table++)
        if (strlen(table->name) == len && text_ieq(table->name, s, len)) return table->value;
    return -1;
}

/* Copies of the values we keep (a program may overwrite its environment:
 * setproctitle does). The usual few fit a small static area, so a process
 * start does not set up malloc for them (its first malloc costs a small
 * program ~10 us: brk calls and fresh heap pages); longer ones are
 * malloc'd. config_free_str tells them apart. */
static char kept[512];
static size_t kept_used;

/* room bytes (and a NUL) for a string that starts with s[0..n). */
OTELP_FIRST static char *keep_copy(const char *s, size_t n, size_t room) {
    char *p;
    if (room < sizeof kept - kept_used) {
        p = kept + kept_used;
        kept_used += room + 1;
    } else if (!(p = malloc(room + 1))) {
        return NULL;
    }
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

OTELP_FIRST static char *dup_or_null(const char *s) {
    size_t n = s ? strlen(s) : 0;
    return s ? keep_copy(s, n, n) : NULL;
}

void config_free_str(char *s) {
    if (s < kept || s >= kept + sizeof kept) free(s);
}

/* The spec's names, and the synonyms other SDKs and tools use: a level
 * someone knows from elsewhere works here too. */
static const struct name_value log_levels[] = {{"none", DIAG_NONE},      {"off", DIAG_NONE},
                                               {"silent", DIAG_NONE},    {"false", DIAG_NONE},
                                               {"0", DIAG_NONE},         {"error", DIAG_ERROR},
                                               {"err", DIAG_ERROR},      {"fatal", DIAG_ERROR},
                                               {"critical", DIAG_ERROR}, {"crit", DIAG_ERROR},
                                               {"1", DIAG_ERROR},        {"warn", DIAG_WARN},
                                               {"warning", DIAG_WARN},   {"2", DIAG_WARN},
                                               {"info", DIAG_INFO},      {"information", DIAG_INFO},
                                               {"notice", DIAG_INFO},    {"3", DIAG_INFO},
                                               {"debug", DIAG_DEBUG},    {"verbose", DIAG_DEBUG},
                                               {"trace", DIAG_DEBUG},    {"all", DIAG_DEBUG},
                                               {"true", DIAG_DEBUG},     {"4", DIAG_DEBUG},
                                               {"5", DIAG_DEBUG},        {NULL, 0}};

static const struct name_value samplers[] = {
    {"always_on", SAMPLER_ALWAYS_ON},
    {"always_off", SAMPLER_ALWAYS_OFF},
    {"traceidratio", SAMPLER_TRACEIDRATIO},
    {"parentbased_always_on", SAMPLER_PARENTBASED_ALWAYS_ON},
    {"parentbased_always_off", SAMPLER_PARENTBASED_ALWAYS_OFF},
    {"parentbased_traceidratio", SAMPLER_PARENTBASED_TRACEIDRATIO},
    {NULL, 0}};

static const struct name_value exporter_names[] = {{"otlp", EXPORTER_OTLP},
                                                   {"console", EXPORTER_CONSOLE},
                                                   {"otlp_file", EXPORTER_FILE},
                                                   {"none", EXPORTER_NONE},
                                                   {NULL, 0}};

static const struct name_value protocols[] = {{"http/protobuf", OTLP_HTTP_PROTOBUF},
                                              {"http/json", OTLP_HTTP_JSON},
                                              {"grpc", OTLP_GRPC},
                                              {NULL, 0}};

static const struct name_value compressions[] = {
    {"none", OTLP_COMPRESSION_NONE}, {"gzip", OTLP_COMPRESSION_GZIP}, {NULL, 0}};

/* In core/metric.h's order (enum metric_temporality_pref, enum
 * histogram_aggregation, enum exemplar_filter). */
static const struct name_value temporalities[] = {
    {"cumulative", 0}, {"delta", 1}, {"lowmemory", 2}, {NULL, 0}};
static const struct name_value histogram_aggs[] = {
    {"explicit_bucket_histogram", 0}, {"base2_exponential_bucket_histogram", 1}, {NULL, 0}};
static const struct name_value exemplar_filters[] = {
    {"trace_based", 0}, {"always_on", 1}, {"always_off", 2}, {NULL, 0}};
static const struct name_value metric_workers[] = {{"auto", METRIC_WORKER_AUTO},
                                                   {"start", METRIC_WORKER_START},
                                                   {"lazy", METRIC_WORKER_LAZY},
                                                   {NULL, 0}};

/* An enum variable: its value from table, else dflt (named dflt_text in
 * the one diagnostic). */
OTELP_FIRST static uint8_t get_choice(char *const *envp, const char *name,
                                      const struct name_value *table, const char *dflt_text) {
    const char *s = env_lookup(envp, name);
    if (!s) return 0;
    int v = lookup_name(table, s, strlen(s));
    if (v >= 0) return (uint8_t)v;
    bad_value(name, s, dflt_text);
    return 0;
}

static const char *const signal_lower[SIGNAL_COUNT] = {"traces", "logs", "metrics"};

/* OTEL_*_EXPORTER: a comma-separated list; "none" alone disables. */
/* A comma-separated list of names from table: the bit set of their values
 * (value v sets bit v; what: the word for an unknown name's diagnostic).
 * def when the variable is unset. */
OTELP_FIRST static unsigned parse_list(char *const *envp, const char *name,
                                       const struct name_value *table, const char *what,
                                       unsigned def) {
    const char *s = env_lookup(envp, name);
    if (!s) return def;
    unsigned set = 0;
    for (const char *p = s; *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *start = p;
        while (*p && *p != ',')
            p++;
        const char *end = p;
        while (end > start && end[-1] == ' ')
            end--;
        if (end == start) continue;
        int v = lookup_name(table, start, (size_t)(end - start));
        if (v < 0)
            diag_warn("unsupported %s '%.*s' in %s, ignored", what, (int)(end - start), start,
                      name);
        else
            set |= 1u << v;
    }
    return set;
}

/* OTEL_*_EXPORTER: a list; "none" (bit 0) selects nothing. */
OTELP_FIRST static unsigned parse_exporters(char *const *envp, const char *name, unsigned def) {
    return parse_list(envp, name, exporter_names, "exporter", def) & ~(1u << EXPORTER_NONE);
}

static const struct name_value stream_names[] = {
    {"none", 0}, {"stdout", 1}, {"stderr", 2}, {NULL, 0}};

/* OTEL_PRELOAD_LOGS_STREAMS: a list of stdout, stderr (or none): bits 1, 2. */
OTELP_FIRST static unsigned parse_streams(char *const *envp, const char *name) {
    return parse_list(envp, name, stream_names, "stream", 0) & ~1u;
}

/* The OTEL_EXPORTER_OTLP_<suffix> family, each also per signal. */
enum {
    OTLP_ENDPOINT,
    OTLP_HEADERS,
    OTLP_TIMEOUT,
    OTLP_PROTOCOL,
    OTLP_COMPRESSION,
    OTLP_CERTIFICATE,
    OTLP_CLIENT_KEY,
    OTLP_CLIENT_CERTIFICATE,
    OTLP_INSECURE,
    OTLP_FILE_PATH,
    OTLP_VARS
};

/* The signal-specific value, else the generic one. name (room for 64
 * bytes) gets the variable that gave it; *report is false for a generic
 * value an earlier signal has already reported on. */
/* Every variable of the family, generic and per signal, as literals: built
 * at compile time, not with snprintf at every process start. */
#define OTLP_FAMILY(S)                                                                             \
    {                                                                                              \
        "OTEL_EXPORTER_OTLP_" S "ENDPOINT", "OTEL_EXPORTER_OTLP_" S "HEADERS",                     \
            "OTEL_EXPORTER_OTLP_" S "TIMEOUT", "OTEL_EXPORTER_OTLP_" S "PROTOCOL",                 \
            "OTEL_EXPORTER_OTLP_" S "COMPRESSION", "OTEL_EXPORTER_OTLP_" S "CERTIFICATE",          \
            "OTEL_EXPORTER_OTLP_" S "CLIENT_KEY", "OTEL_EXPORTER_OTLP_" S "CLIENT_CERTIFICATE",    \
            "OTEL_EXPORTER_OTLP_" S "INSECURE", "OTEL_EXPORTER_OTLP_" S "FILE_PATH"                \
    }
static const char *const generic_names[OTLP_VARS] = OTLP_FAMILY("");
static const char *const signal_names[SIGNAL_COUNT][OTLP_VARS] = {
    OTLP_FAMILY("TRACES_"), OTLP_FAMILY("LOGS_"), OTLP_FAMILY("METRICS_")};

/* The signal-specific value, else the generic one. *name is the variable
 * that gave it; *report is false for a generic value an earlier signal has
 * already reported on. */
OTELP_FIRST static const char *signal_var(char *const *envp, enum signal_kind sig, int var,
                                          const char **name, bool *report) {
    *name = signal_names[sig][var];
    *report = true;
    const char *v = env_lookup(envp, *name);
    if (v) return v;
    *name = generic_names[var];
    *report = sig == SIGNAL_TRACES;
    return env_lookup(envp, *name);
}

OTELP_FIRST static char *signal_endpoint(char *const *envp, enum signal_kind sig,
                                         enum otlp_protocol proto) {
    const char *own = env_lookup(envp, signal_names[sig][OTLP_ENDPOINT]);
    if (own) return dup_or_null(own);
    const char *base = env_lookup(envp, "OTEL_EXPORTER_OTLP_ENDPOINT");
    if (proto == OTLP_GRPC) return dup_or_null(base ? base : "http://localhost:4317");
    if (!base) base = "http://localhost:4318";
    size_t n = strlen(base);
    while (n && base[n - 1] == '/')
        n--;
    /* Concatenated by hand: snprintf here was the one call into libc's
     * printf engine at every process start (its pages faulted in). */
    size_t sl = strlen(signal_lower[sig]);
    char *url = keep_copy(base, n, n + 4 + sl);
    if (url) {
        memcpy(url + n, "/v1/", 4);
        memcpy(url + n + 4, signal_lower[sig], sl + 1);
    }
    return url;
}

/* A signal variable naming one of table's values: the value, or dflt
 * (named dflt_text in the one diagnostic) when unset or unknown. */
OTELP_FIRST static int signal_choice(char *const *envp, enum signal_kind sig, int var,
                                     const struct name_value *table, int dflt,
                                     const char *dflt_text) {
    const char *name;
    bool report;
    const char *v = signal_var(envp, sig, var, &name, &report);
    if (!v) return dflt;
    int found = lookup_name(table, v, strlen(v));
    if (found >= 0) return found;
    if (report) bad_value(name, v, dflt_text);
    return dflt;
}

OTELP_FIRST static int load_otlp(struct otlp_config *o, char *const *envp, enum signal_kind sig) {
    const char *name = NULL;
    bool report;
    int rc = 0;
    o->protocol = (enum otlp_protocol)signal_choice(envp, sig, OTLP_PROTOCOL, protocols,
                                                    OTLP_HTTP_PROTOBUF, "http/protobuf");
    o->endpoint = signal_endpoint(envp, sig, o->protocol);
    if (!o->endpoint) rc = -ENOMEM;
    o->timeout_ms = 10000;
    const char *t = signal_var(envp, sig, OTLP_TIMEOUT, &name, &report);
    uint32_t v;
    if (t) {
        if (config_parse_u32(t, &v) == 0)
            o->timeout_ms = v;
        else if (report)
            bad_value(name, t, "10000");
    }
    o->compression = (enum otlp_compression)signal_choice(envp, sig, OTLP_COMPRESSION, compressions,
                                                          OTLP_COMPRESSION_NONE, "none");
    const char *ins = signal_var(envp, sig, OTLP_INSECURE, &name, &report);
    if (ins && config_parse_bool(ins, &o->insecure) < 0) {
        o->insecure = false;
        if (report) bad_value(name, ins, "false");
    }
    char **strs[] = {&o->headers, &o->certificate, &o->client_key, &o->client_certificate,
                     &o->file_path};
    static const int str_vars[] = {OTLP_HEADERS, OTLP_CERTIFICATE, OTLP_CLIENT_KEY,
                                   OTLP_CLIENT_CERTIFICATE, OTLP_FILE_PATH};
    for (size_t i = 0; i < sizeof str_vars / sizeof *str_vars; i++) {
        const char *s = signal_var(envp, sig, str_vars[i], &name, &report);
        *strs[i] = dup_or_null(s);
        if (s && !*strs[i]) rc = -ENOMEM;
    }
    return rc;
}

/* OTEL_BSP_* and OTEL_BLRP_*, in batch_config field order. */
static const char *const bsp_names[4] = {"OTEL_BSP_MAX_QUEUE_SIZE", "OTEL_BSP_SCHEDULE_DELAY",
                                         "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
                                         "OTEL_BSP_EXPORT_TIMEOUT"};
static const char *const blrp_names[4] = {"OTEL_BLRP_MAX_QUEUE_SIZE", "OTEL_BLRP_SCHEDULE_DELAY",
                                          "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE",
                                          "OTEL_BLRP_EXPORT_TIMEOUT"};

OTELP_FIRST static void load_batch(struct batch_config *b, char *const *envp,
                                   const char *const names[4], uint32_t delay_ms, uint32_t queue) {
    *b = (struct batch_config){queue, delay_ms, 512, 30000};
    get_u32(envp, names[0], &b->max_queue_size, 1);
    get_u32(envp, names[1], &b->schedule_delay_ms, 0);
    get_u32(envp, names[2], &b->max_export_batch_size, 1);
    get_u32(envp, names[3], &b->export_timeout_ms, 0);
    if (b->max_export_batch_size > b->max_queue_size) {
        diag_warn("%s %u is larger than the queue, using %u", names[2], b->max_export_batch_size,
                  b->max_queue_size);
        b->max_export_batch_size = b->max_queue_size;
    }
}

/* The entries that can matter to us, found in one pass over the
 * environment (a CI job's may hold hundreds of variables). */
#define MAX_OURS 255
OTELP_FIRST static int filter_env(char *const *envp, char **ours) {
    int n = 0;
    for (char *const *e = envp; e && *e; e++) {
        const char *v = *e;
        if (text_prefix(v, "OTEL_") || text_prefix(v, "TRACE") || text_prefix(v, "BAGGAGE=")) {
            if (n == MAX_OURS) return -1;
            ours[n++] = *e;
        }
    }
    ours[n] = NULL;
    return n;
}

OTELP_FIRST int config_load(struct config *c, char *const *all_env) {
    memset(c, 0, sizeof *c);
    int rc = 0;
    char *ours[MAX_OURS + 1];
    char *const *envp = filter_env(all_env, ours) < 0 ? all_env : ours;

    /* The log level first, so that everything after it can report. */
    c->log_level = DIAG_NONE;
    const char *lvl = env_lookup(envp, "OTEL_LOG_LEVEL");
    if (lvl) {
        while (*lvl == ' ')
            lvl++;
        size_t n = strlen(lvl);
        while (n && lvl[n - 1] == ' ')
            n--;
        int v = lookup_name(log_levels, lvl, n);
        if (v < 0) {
            /* Diagnostics are off (the level says nothing we know), so
             * the program's stderr hears nothing of it either. */
            c->log_level = DIAG_NONE;
        } else {
            c->log_level = (enum diag_level)v;
        }
    }
    diag_set_level(c->log_level);
    if (c->log_level != DIAG_NONE) diag_keep_stderr();

    get_bool(envp, "OTEL_SDK_DISABLED", &c->disabled);
    if (c->disabled) return 0; /* nothing else will be used */
    c->service_name = dup_or_null(env_lookup(envp, "OTEL_SERVICE_NAME"));
    c->resource_attributes = dup_or_null(env_lookup(envp, "OTEL_RESOURCE_ATTRIBUTES"));
    c->traceparent = dup_or_null(env_lookup(envp, "TRACEPARENT"));
    c->tracestate = dup_or_null(env_lookup(envp, "TRACESTATE"));
    c->baggage = dup_or_null(env_lookup(envp, "BAGGAGE"));

    static const char *const exporter_vars[SIGNAL_COUNT] = {
        "OTEL_TRACES_EXPORTER", "OTEL_LOGS_EXPORTER", "OTEL_METRICS_EXPORTER"};
    for (int s = 0; s < SIGNAL_COUNT; s++) {
        c->exporters[s] = parse_exporters(envp, exporter_vars[s], 1u << EXPORTER_OTLP);
        if (load_otlp(&c->otlp[s], envp, (enum signal_kind)s) < 0) rc = -ENOMEM;
    }

    load_batch(&c->bsp, envp, bsp_names, 5000, 2048);
    load_batch(&c->blrp, envp, blrp_names, 1000, 2048);

    c->sampler = SAMPLER_PARENTBASED_ALWAYS_ON;
    c->sampler_ratio = 1.0;
    const char *smp = env_lookup(envp, "OTEL_TRACES_SAMPLER");
    if (smp) {
        int v = lookup_name(samplers, smp, strlen(smp));
        if (v < 0)
            bad_value("OTEL_TRACES_SAMPLER", smp, "parentbased_always_on");
        else
            c->sampler = (enum sampler_kind)v;
    }
    const char *arg = env_lookup(envp, "OTEL_TRACES_SAMPLER_ARG");
    if (arg &&
        (c->sampler == SAMPLER_TRACEIDRATIO || c->sampler == SAMPLER_PARENTBASED_TRACEIDRATIO) &&
        config_parse_ratio(arg, &c->sampler_ratio) < 0)
        bad_value("OTEL_TRACES_SAMPLER_ARG", arg, "1.0");

    /* Limits: the general OTEL_ATTRIBUTE_* values are the defaults of the
     * model-specific ones. */
    struct attr_limits general = {128, UINT32_MAX};
    get_u32(envp, "OTEL_ATTRIBUTE_COUNT_LIMIT", &general.count, 0);
    get_u32(envp, "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", &general.value_length, 0);
    c->span_attrs = general;
    get_u32(envp, "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", &c->span_attrs.count, 0);
    get_u32(envp, "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", &c->span_attrs.value_length, 0);
    c->event_attrs = c->span_attrs;
    c->event_attrs.count = 128;
    get_u32(envp, "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT", &c->event_attrs.count, 0);
    c->log_attrs = general;
    get_u32(envp, "OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT", &c->log_attrs.count, 0);
    get_u32(envp, "OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT", &c->log_attrs.value_length, 0);
    c->span_event_count = 128;
    get_u32(envp, "OTEL_SPAN_EVENT_COUNT_LIMIT", &c->span_event_count, 0);
    c->link_attrs = c->event_attrs;
    c->link_attrs.count = 128;
    get_u32(envp, "OTEL_LINK_ATTRIBUTE_COUNT_LIMIT", &c->link_attrs.count, 0);
    c->span_link_count = 128;
    get_u32(envp, "OTEL_SPAN_LINK_COUNT_LIMIT", &c->span_link_count, 0);

    c->shutdown_timeout_ms = 2000;
    get_u32(envp, "OTEL_PRELOAD_SHUTDOWN_TIMEOUT", &c->shutdown_timeout_ms, 0);
    c->spool_max_bytes = 64u << 20; /* SPOOL_DEFAULT_MAX_BYTES */
    get_u32(envp, "OTEL_PRELOAD_SPOOL_MAX_BYTES", &c->spool_max_bytes, 0);

    c->crash_timeout_ms = 500;
    get_u32(envp, "OTEL_PRELOAD_CRASH_TIMEOUT", &c->crash_timeout_ms, 0);
    c->crash_span_events = true;
    const char *ce = env_lookup(envp, "OTEL_PRELOAD_CRASH_SPAN_EVENTS");
    if (ce && config_parse_bool(ce, &c->crash_span_events) < 0) {
        bad_value("OTEL_PRELOAD_CRASH_SPAN_EVENTS", ce, "true");
        c->crash_span_events = true;
    }

    c->log_span_events = true;
    const char *se = env_lookup(envp, "OTEL_PRELOAD_LOGS_SPAN_EVENTS");
    if (se && config_parse_bool(se, &c->log_span_events) < 0) {
        bad_value("OTEL_PRELOAD_LOGS_SPAN_EVENTS", se, "true");
        c->log_span_events = true;
    }
    c->handoff = true;
    const char *ho = env_lookup(envp, "OTEL_PRELOAD_HANDOFF");
    if (ho && config_parse_bool(ho, &c->handoff) < 0) {
        bad_value("OTEL_PRELOAD_HANDOFF", ho, "true");
        c->handoff = true;
    }
    c->log_streams = parse_streams(envp, "OTEL_PRELOAD_LOGS_STREAMS");
    c->log_streams_rate = 10000;
    get_u32(envp, "OTEL_PRELOAD_LOGS_STREAMS_RATE", &c->log_streams_rate, 0);

    c->metric_interval_ms = 60000;
    get_u32(envp, "OTEL_METRIC_EXPORT_INTERVAL", &c->metric_interval_ms, 1);
    c->metric_timeout_ms = 30000;
    get_u32(envp, "OTEL_METRIC_EXPORT_TIMEOUT", &c->metric_timeout_ms, 0);
    c->metric_temporality = get_choice(envp, "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
                                       temporalities, "cumulative");
    c->metric_histogram =
        get_choice(envp, "OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION", histogram_aggs,
                   "explicit_bucket_histogram");
    c->metric_exemplars =
        get_choice(envp, "OTEL_METRICS_EXEMPLAR_FILTER", exemplar_filters, "trace_based");
    c->metric_cardinality = 2000;
    get_u32(envp, "OTEL_PRELOAD_METRICS_CARDINALITY_LIMIT", &c->metric_cardinality, 2);
    c->process_metrics = true;
    const char *pm = env_lookup(envp, "OTEL_PRELOAD_PROCESS_METRICS");
    if (pm && config_parse_bool(pm, &c->process_metrics) < 0) {
        bad_value("OTEL_PRELOAD_PROCESS_METRICS", pm, "true");
        c->process_metrics = true;
    }
    c->metric_worker = get_choice(envp, "OTEL_PRELOAD_METRICS_WORKER", metric_workers, "auto");
    c->sdk_metrics = true;
    const char *sm = env_lookup(envp, "OTEL_PRELOAD_SDK_METRICS");
    if (sm && config_parse_bool(sm, &c->sdk_metrics) < 0) {
        bad_value("OTEL_PRELOAD_SDK_METRICS", sm, "true");
        c->sdk_metrics = true;
    }
    return rc;
}

void config_free(struct config *c) {
    config_free_str(c->service_name);
    config_free_str(c->resource_attributes);
    config_free_str(c->traceparent);
    config_free_str(c->tracestate);
    config_free_str(c->baggage);
    for (int s = 0; s < SIGNAL_COUNT; s++) {
        config_free_str(c->otlp[s].endpoint);
        config_free_str(c->otlp[s].headers);
        config_free_str(c->otlp[s].certificate);
        config_free_str(c->otlp[s].client_key);
        config_free_str(c->otlp[s].client_certificate);
        config_free_str(c->otlp[s].file_path);
    }
    memset(c, 0, sizeof *c);
}
