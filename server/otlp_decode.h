/* otlp_decode: strict decoder of OTLP export requests into heap structs, for the receiver and
 * tests. Depends on the nanopb-generated OTLP types (otlp_pb) and nanopb's pb_decode.h.
 *
 * Unit tests encode with the shim's encoder and decode the bytes back here.
 * The decoder is strict, so that an encoder bug shows up as a failure rather
 * than as a silently different value:
 *   - every known field must arrive with its declared wire type;
 *   - truncated input, over-long varints and 32-bit overflows fail;
 *   - trace ids must be 16 bytes, span ids 8 bytes (or absent);
 *   - strings must be valid UTF-8 (as the Go collector requires);
 *   - an AnyValue may hold at most one value;
 *   - nesting deeper than OTLP_DECODE_MAX_DEPTH messages fails.
 * Unknown fields are skipped as protobuf requires, but counted in
 * `unknown_fields` so a test can insist on none.
 *
 * Every string is heap-allocated and NUL-terminated (bytes values too, with
 * their length in `len`); absent strings are "" rather than NULL. Free a
 * whole request with otlp_traces_free / otlp_logs_free / otlp_metrics_free.
 */
#ifndef OTELP_SERVER_OTLP_DECODE_H
#define OTELP_SERVER_OTLP_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OTLP_DECODE_MAX_DEPTH 64

enum otlp_value_type {
    OTLP_VALUE_EMPTY = 0, /* AnyValue with no value set */
    OTLP_VALUE_STRING,
    OTLP_VALUE_BOOL,
    OTLP_VALUE_INT,
    OTLP_VALUE_DOUBLE,
    OTLP_VALUE_ARRAY,
    OTLP_VALUE_KVLIST,
    OTLP_VALUE_BYTES,
};

struct otlp_attr;

struct otlp_value {
    enum otlp_value_type type;
    char *str;  /* STRING, BYTES: NUL-terminated copy */
    size_t len; /* STRING, BYTES: length without the NUL */
    bool b;
    int64_t i;
    double d;
    struct otlp_value *items; /* ARRAY */
    size_t n_items;
    struct otlp_attr *kvs; /* KVLIST */
    size_t n_kvs;
};

struct otlp_attr {
    char *key;
    struct otlp_value value;
};

struct otlp_attrs {
    struct otlp_attr *items;
    size_t count;
};

struct otlp_scope {
    char *name;
    char *version;
    struct otlp_attrs attrs;
    uint32_t dropped_attributes_count;
};

struct otlp_resource {
    bool present; /* the resource field was on the wire */
    struct otlp_attrs attrs;
    uint32_t dropped_attributes_count;
};

struct otlp_event {
    uint64_t time_unix_nano;
    char *name;
    struct otlp_attrs attrs;
    uint32_t dropped_attributes_count;
};

struct otlp_link {
    uint8_t trace_id[16];
    uint8_t span_id[8];
    char *trace_state;
    struct otlp_attrs attrs;
    uint32_t dropped_attributes_count;
    uint32_t flags;
};

struct otlp_span {
    uint8_t trace_id[16];
    uint8_t span_id[8];
    uint8_t parent_span_id[8]; /* all zero: no parent */
    char *trace_state;
    uint32_t flags;
    char *name;
    int kind; /* SPAN_KIND_* number */
    uint64_t start_time_unix_nano;
    uint64_t end_time_unix_nano;
    struct otlp_attrs attrs;
    uint32_t dropped_attributes_count;
    struct otlp_event *events;
    size_t n_events;
    uint32_t dropped_events_count;
    struct otlp_link *links;
    size_t n_links;
    uint32_t dropped_links_count;
    bool has_status;
    int status_code; /* STATUS_CODE_* number */
    char *status_message;
};

struct otlp_scope_spans {
    bool has_scope;
    struct otlp_scope scope;
    char *schema_url;
    struct otlp_span *spans;
    size_t n_spans;
};

struct otlp_resource_spans {
    struct otlp_resource resource;
    char *schema_url;
    struct otlp_scope_spans *scope_spans;
    size_t n_scope_spans;
};

struct otlp_traces {
    struct otlp_resource_spans *resource_spans;
    size_t n_resource_spans;
    size_t unknown_fields; /* skipped fields of unknown number, anywhere */
};

struct otlp_log {
    uint64_t time_unix_nano;
    uint64_t observed_time_unix_nano;
    int severity_number;
    char *severity_text;
    bool has_body;
    struct otlp_value body;
    struct otlp_attrs attrs;
    uint32_t dropped_attributes_count;
    uint32_t flags;
    uint8_t trace_id[16];
    uint8_t span_id[8];
    char *event_name;
};

struct otlp_scope_logs {
    bool has_scope;
    struct otlp_scope scope;
    char *schema_url;
    struct otlp_log *logs;
    size_t n_logs;
};

struct otlp_resource_logs {
    struct otlp_resource resource;
    char *schema_url;
    struct otlp_scope_logs *scope_logs;
    size_t n_scope_logs;
};

struct otlp_logs {
    struct otlp_resource_logs *resource_logs;
    size_t n_resource_logs;
    size_t unknown_fields;
};

/* Decode an ExportTraceServiceRequest. Returns a request to free with
 * otlp_traces_free, or NULL with a message in err (if err_size > 0). */
struct otlp_traces *otlp_traces_decode(const void *buf, size_t len, char *err, size_t err_size)
    __attribute__((warn_unused_result));
void otlp_traces_free(struct otlp_traces *req);

/* Decode an ExportLogsServiceRequest, as above. */
struct otlp_logs *otlp_logs_decode(const void *buf, size_t len, char *err, size_t err_size)
    __attribute__((warn_unused_result));
void otlp_logs_free(struct otlp_logs *req);

/* ---- metrics ----------------------------------------------------------- */

enum otlp_metric_type {
    OTLP_METRIC_NONE = 0, /* a Metric with no data on the wire */
    OTLP_METRIC_GAUGE,
    OTLP_METRIC_SUM,
    OTLP_METRIC_HISTOGRAM,
    OTLP_METRIC_EXP_HISTOGRAM,
    OTLP_METRIC_SUMMARY,
};

struct otlp_exemplar {
    struct otlp_attrs attrs; /* filtered_attributes */
    uint64_t time_unix_nano;
    bool has_value;
    bool is_int; /* as_int, else as_double */
    int64_t as_int;
    double as_double;
    uint8_t trace_id[16]; /* all zero: absent */
    uint8_t span_id[8];
};

struct otlp_exp_buckets {
    int32_t offset;
    uint64_t *counts;
    size_t n_counts;
};

struct otlp_quantile {
    double quantile, value;
};

/* One data point of any type; the fields of other types stay zero. */
struct otlp_point {
    struct otlp_attrs attrs;
    uint64_t start_time_unix_nano;
    uint64_t time_unix_nano;
    uint32_t flags;
    /* gauge, sum */
    bool has_value;
    bool is_int;
    int64_t as_int;
    double as_double;
    /* histogram, exponential histogram, summary */
    uint64_t count;
    bool has_sum, has_min, has_max; /* summary: has_sum always */
    double sum, min, max;
    uint64_t *bucket_counts; /* histogram */
    size_t n_bucket_counts;
    double *explicit_bounds;
    size_t n_explicit_bounds;
    int32_t scale; /* exponential histogram */
    uint64_t zero_count;
    double zero_threshold;
    struct otlp_exp_buckets positive, negative;
    struct otlp_quantile *quantiles; /* summary */
    size_t n_quantiles;
    struct otlp_exemplar *exemplars;
    size_t n_exemplars;
};

struct otlp_metric {
    char *name;
    char *description;
    char *unit;
    enum otlp_metric_type type;
    int temporality; /* AGGREGATION_TEMPORALITY_*: 1 delta, 2 cumulative */
    bool monotonic;  /* sum only */
    struct otlp_point *points;
    size_t n_points;
    struct otlp_attrs metadata;
};

struct otlp_scope_metrics {
    bool has_scope;
    struct otlp_scope scope;
    char *schema_url;
    struct otlp_metric *metrics;
    size_t n_metrics;
};

struct otlp_resource_metrics {
    struct otlp_resource resource;
    char *schema_url;
    struct otlp_scope_metrics *scope_metrics;
    size_t n_scope_metrics;
};

struct otlp_metrics {
    struct otlp_resource_metrics *resource_metrics;
    size_t n_resource_metrics;
    size_t unknown_fields;
};

/* Decode an ExportMetricsServiceRequest, as above. A Metric may carry at
 * most one of gauge/sum/histogram/exponential_histogram/summary. */
struct otlp_metrics *otlp_metrics_decode(const void *buf, size_t len, char *err, size_t err_size)
    __attribute__((warn_unused_result));
void otlp_metrics_free(struct otlp_metrics *req);
/* Data points over all metrics. */
size_t otlp_metrics_point_count(const struct otlp_metrics *req);
/* The first metric named `name`, or NULL. */
const struct otlp_metric *otlp_metrics_find(const struct otlp_metrics *req, const char *name);
/* The lower-case name of a type: "gauge", "sum", "histogram", "exp_histogram", "summary". */
const char *otlp_metric_type_name(enum otlp_metric_type type);

/* Look-ups for tests. */
size_t otlp_traces_span_count(const struct otlp_traces *req);
/* The n-th span in wire order across all resources and scopes, or NULL. */
const struct otlp_span *otlp_traces_span_at(const struct otlp_traces *req, size_t n);
/* The first span named `name`, or NULL. */
const struct otlp_span *otlp_traces_find_span(const struct otlp_traces *req, const char *name);
size_t otlp_logs_record_count(const struct otlp_logs *req);
const struct otlp_log *otlp_logs_record_at(const struct otlp_logs *req, size_t n);
/* The first attribute with this key, or NULL. */
const struct otlp_value *otlp_attrs_find(const struct otlp_attrs *attrs, const char *key);
/* Lowercase hex of n bytes into out (2n+1 bytes). Returns out. */
char *otlp_hex(const uint8_t *bytes, size_t n, char *out);

#endif
