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
 * whole request with otlp_traces_free / otlp_logs_free.
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
