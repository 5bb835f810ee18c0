/* encoder: the table of OTLP encoders. See encoder.h. */
#include "exporters/encoder.h"

#include "core/log.h"
#include "core/span.h"
#include "exporters/otlp_json.h"
#include "exporters/otlp_proto.h"

const char *const otlp_signal_names[SIGNAL_COUNT] = {"traces", "logs", "metrics"};
const char *const otlp_record_names[SIGNAL_COUNT] = {"spans", "log records", "metrics"};

static bool proto_traces(struct buf *out, const struct attr_list *resource, void *const *records,
                         size_t n) {
    return otlp_encode_traces(out, resource, (struct span *const *)records, n);
}

static bool proto_logs(struct buf *out, const struct attr_list *resource, void *const *records,
                       size_t n) {
    return otlp_encode_logs(out, resource, (struct log_record *const *)records, n);
}

static bool proto_metrics(struct buf *out, const struct attr_list *resource, void *const *records,
                          size_t n) {
    return otlp_encode_metrics(out, resource, (struct metric_data *const *)records, n);
}

const struct otlp_encoding otlp_encoding_protobuf = {
    "protobuf", "application/x-protobuf", {proto_traces, proto_logs, proto_metrics}};

const struct otlp_encoding otlp_encoding_json = {
    "json",
    "application/json",
    {otlp_json_encode_traces, otlp_json_encode_logs, otlp_json_encode_metrics}};
