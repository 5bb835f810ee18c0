/* config: the OTEL_* environment variables, parsed once per process image.
 * Spec rules: empty means unset; booleans are "true"/"false" (any case);
 * numbers and enums that do not parse fall back to their default with one
 * diagnostic. Reads a given environment array (tests pass their own), never
 * writes it. Depends on attr.h and diag.h. */
#ifndef OTELP_CORE_CONFIG_H
#define OTELP_CORE_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "core/attr.h"
#include "core/diag.h"

enum signal_kind { SIGNAL_TRACES = 0, SIGNAL_LOGS, SIGNAL_METRICS, SIGNAL_COUNT };

/* Exporters chosen by OTEL_{TRACES,LOGS,METRICS}_EXPORTER (a list). */
/* otlp_file: OTLP JSON lines to a file (the OTLP file format). */
enum exporter_kind {
    EXPORTER_NONE = 0,
    EXPORTER_OTLP = 1,
    EXPORTER_CONSOLE = 2,
    EXPORTER_FILE = 3
};
#define EXPORTER_MAX 3 /* bit set of exporter_kind values */

enum otlp_protocol { OTLP_HTTP_PROTOBUF = 0, OTLP_HTTP_JSON, OTLP_GRPC };
enum otlp_compression { OTLP_COMPRESSION_NONE = 0, OTLP_COMPRESSION_GZIP };

enum sampler_kind {
    SAMPLER_ALWAYS_ON = 0,
    SAMPLER_ALWAYS_OFF,
    SAMPLER_TRACEIDRATIO,
    SAMPLER_PARENTBASED_ALWAYS_ON,
    SAMPLER_PARENTBASED_ALWAYS_OFF,
    SAMPLER_PARENTBASED_TRACEIDRATIO,
};

/* OTEL_EXPORTER_OTLP_* for one signal: each value from the signal-specific
 * variable (OTEL_EXPORTER_OTLP_TRACES_*) if set, else the generic one. */
struct otlp_config {
    /* http/protobuf, http/json: full URL, signal path included. grpc: the URL as configured
     * (http://, https:// or scheme-less host:port), the service path is
     * the transport's business. */
    char *endpoint;
    char *headers;       /* raw "k=v,k2=v2" (percent-encoded), or NULL */
    uint32_t timeout_ms; /* per export, retries included */
    enum otlp_protocol protocol;
    enum otlp_compression compression;
    char *certificate;        /* PEM file of trusted CAs, or NULL (system store) */
    char *client_key;         /* PEM file, mTLS, or NULL */
    char *client_certificate; /* PEM file, mTLS, or NULL */
    bool insecure;            /* grpc without a scheme: plaintext; https: no verification */
    char *file_path;          /* OTEL_EXPORTER_OTLP_*FILE_PATH for the otlp_file exporter */
};

struct batch_config {
    uint32_t max_queue_size;
    uint32_t schedule_delay_ms;
    uint32_t max_export_batch_size;
    uint32_t export_timeout_ms;
};

/* When the export thread starts for the metric reader (reader.h). auto:
 * at the start of a service (a process whose parent is init, or PID 1:
 * what a service manager or a container runs), else when the program
 * passes through the shim once an interval has passed; start: at every
 * process's start; lazy: only when the program passes through. */
enum metric_worker { METRIC_WORKER_AUTO = 0, METRIC_WORKER_START, METRIC_WORKER_LAZY };

struct config {
    bool disabled;
    enum diag_level log_level;
    char *service_name;               /* OTEL_SERVICE_NAME, or NULL */
    char *resource_attributes;        /* OTEL_RESOURCE_ATTRIBUTES raw, or NULL */
    unsigned exporters[SIGNAL_COUNT]; /* bit set of 1 << exporter_kind */
    struct otlp_config otlp[SIGNAL_COUNT];
    struct batch_config bsp;  /* OTEL_BSP_* */
    struct batch_config blrp; /* OTEL_BLRP_* */
    enum sampler_kind sampler;
    double sampler_ratio;
    struct attr_limits span_attrs;  /* OTEL_SPAN_ATTRIBUTE_* */
    struct attr_limits event_attrs; /* OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT */
    struct attr_limits log_attrs;   /* OTEL_LOGRECORD_ATTRIBUTE_* */
    uint32_t span_event_count;      /* OTEL_SPAN_EVENT_COUNT_LIMIT */
    struct attr_limits link_attrs;  /* OTEL_LINK_ATTRIBUTE_COUNT_LIMIT */
    uint32_t span_link_count;       /* OTEL_SPAN_LINK_COUNT_LIMIT */
    bool handoff;                   /* OTEL_PRELOAD_HANDOFF: children hand exports to parents */
    uint32_t shutdown_timeout_ms;   /* OTEL_PRELOAD_SHUTDOWN_TIMEOUT: the flush budget at exit */
    uint32_t spool_max_bytes;  /* OTEL_PRELOAD_SPOOL_MAX_BYTES: 0 never spools (docs/SPOOL.md) */
    bool log_span_events;      /* OTEL_PRELOAD_LOGS_SPAN_EVENTS: records also as span events */
    uint32_t crash_timeout_ms; /* OTEL_PRELOAD_CRASH_TIMEOUT: capture and flush of a crash */
    bool crash_span_events;    /* OTEL_PRELOAD_CRASH_SPAN_EVENTS: exception events on spans */
    unsigned log_streams;      /* OTEL_PRELOAD_LOGS_STREAMS: bit set of 1 << fd (1, 2) */
    uint32_t log_streams_rate; /* OTEL_PRELOAD_LOGS_STREAMS_RATE: lines a second, 0 no limit */
    /* Metrics (docs/METRICS.md). The enums' values are core/metric.h's. */
    uint32_t metric_interval_ms; /* OTEL_METRIC_EXPORT_INTERVAL */
    uint32_t metric_timeout_ms;  /* OTEL_METRIC_EXPORT_TIMEOUT */
    uint8_t metric_temporality;  /* OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE */
    uint8_t metric_histogram;    /* OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION */
    uint8_t metric_exemplars;    /* OTEL_METRICS_EXEMPLAR_FILTER */
    uint32_t metric_cardinality; /* OTEL_PRELOAD_METRICS_CARDINALITY_LIMIT */
    bool process_metrics;        /* OTEL_PRELOAD_PROCESS_METRICS */
    bool sdk_metrics;            /* OTEL_PRELOAD_SDK_METRICS: the SDK's own counts */
    uint8_t metric_worker;       /* OTEL_PRELOAD_METRICS_WORKER: enum metric_worker */
    /* Upstream context: TRACEPARENT / TRACESTATE / BAGGAGE (raw or NULL). */
    char *traceparent, *tracestate, *baggage;
};

/* Parses envp (NULL-terminated "NAME=value" strings) into c. Never fails:
 * bad values become defaults, each reported once through diag_warn. Returns 0
 * or -ENOMEM (then c is filled with defaults as far as possible). */
int config_load(struct config *c, char *const *envp) __attribute__((warn_unused_result));
void config_free(struct config *c);
/* Frees one of c's strings (they may live in static storage). */
void config_free_str(char *s);

/* The value of NAME in envp, or NULL when unset or empty. */
const char *env_lookup(char *const *envp, const char *name);

/* Building blocks, exposed for unit tests. Each returns 0 on success or
 * -EINVAL (and leaves *out alone). */
int config_parse_bool(const char *s, bool *out);
int config_parse_u32(const char *s, uint32_t *out);
int config_parse_ratio(const char *s, double *out);

#endif
