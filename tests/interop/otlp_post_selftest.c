/* otlp_post_selftest: encodes a known trace and log request with nanopb and POSTs them.
 * Depends on the nanopb-generated OTLP types (otlp_pb), pb_encode.h, and
 * tests/lib/otlp_decode.h to check its own bytes before sending them.
 *
 *   otlp_post_selftest --port N [--out DIR]
 *
 * Sends POST /v1/traces then POST /v1/logs over one keep-alive connection to
 * 127.0.0.1:N and exits 0 when both got 200. With --out, also writes the
 * bodies to DIR/traces.bin and DIR/logs.bin. decode_selftest.py checks what
 * the official decoders make of them; the expected values are below.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <pb_encode.h>

#include "opentelemetry/proto/collector/logs/v1/logs_service.pb.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"
#include "tests/lib/otlp_decode.h"

static const uint8_t TRACE_ID[16] = {0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6,
                                     0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36};
static const uint8_t SPAN_ID[8] = {0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7};
static const uint8_t PARENT_ID[8] = {0x53, 0x99, 0x5c, 0x3f, 0x42, 0xcd, 0x8a, 0xd8};
static const uint8_t LINK_SPAN_ID[8] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08};

/* ---- attribute specs and their encoders ---------------------------------- */

enum kind { K_STR, K_INT, K_BOOL, K_DOUBLE, K_STR_ARRAY };

struct attr {
    const char *key;
    enum kind kind;
    const char *s;
    int64_t i;
    bool b;
    double d;
    const char *const *arr;
    size_t n;
};

struct attr_list {
    const struct attr *items;
    size_t n;
};

static bool enc_str(pb_ostream_t *s, const pb_field_t *f, void *const *arg) {
    const char *str = *arg;
    return pb_encode_tag_for_field(s, f) &&
           pb_encode_string(s, (const pb_byte_t *)str, strlen(str));
}

static void set_str(pb_callback_t *cb, const char *str) {
    cb->funcs.encode = enc_str;
    cb->arg = (void *)str;
}

/* ArrayValue.values for a string array: arg is the struct attr. */
static bool enc_str_items(pb_ostream_t *s, const pb_field_t *f, void *const *arg) {
    const struct attr *a = *arg;
    for (size_t i = 0; i < a->n; i++) {
        opentelemetry_proto_common_v1_AnyValue v = opentelemetry_proto_common_v1_AnyValue_init_zero;
        set_str(&v.string_value, a->arr[i]);
        if (!pb_encode_tag_for_field(s, f) ||
            !pb_encode_submessage(s, opentelemetry_proto_common_v1_AnyValue_fields, &v))
            return false;
    }
    return true;
}

static bool enc_attrs(pb_ostream_t *s, const pb_field_t *f, void *const *arg) {
    const struct attr_list *l = *arg;
    for (size_t i = 0; i < l->n; i++) {
        const struct attr *a = &l->items[i];
        opentelemetry_proto_common_v1_KeyValue kv =
            opentelemetry_proto_common_v1_KeyValue_init_zero;
        set_str(&kv.key, a->key);
        kv.has_value = true;
        switch (a->kind) {
        case K_STR:
            set_str(&kv.value.string_value, a->s);
            break;
        case K_INT:
            kv.value.has_int_value = true;
            kv.value.int_value = a->i;
            break;
        case K_BOOL:
            kv.value.has_bool_value = true;
            kv.value.bool_value = a->b;
            break;
        case K_DOUBLE:
            kv.value.has_double_value = true;
            kv.value.double_value = a->d;
            break;
        case K_STR_ARRAY:
            kv.value.has_array_value = true;
            kv.value.array_value.values.funcs.encode = enc_str_items;
            kv.value.array_value.values.arg = (void *)a;
            break;
        }
        if (!pb_encode_tag_for_field(s, f) ||
            !pb_encode_submessage(s, opentelemetry_proto_common_v1_KeyValue_fields, &kv))
            return false;
    }
    return true;
}

static void set_attrs(pb_callback_t *cb, const struct attr_list *l) {
    cb->funcs.encode = enc_attrs;
    cb->arg = (void *)l;
}

/* Encodes one submessage (arg: the filled nanopb struct) for a repeated field. */
struct one {
    const pb_msgdesc_t *fields;
    const void *msg;
};

static bool enc_one(pb_ostream_t *s, const pb_field_t *f, void *const *arg) {
    const struct one *o = *arg;
    return pb_encode_tag_for_field(s, f) && pb_encode_submessage(s, o->fields, o->msg);
}

static void set_one(pb_callback_t *cb, const struct one *o) {
    cb->funcs.encode = enc_one;
    cb->arg = (void *)o;
}

/* ---- the two requests ----------------------------------------------------- */

static const char *const ARGS[] = {"/bin/selftest", "--flag", "\xc3\xa9t\xc3\xa9"};
static const struct attr RESOURCE_ATTRS[] = {
    {.key = "service.name", .kind = K_STR, .s = "decode-selftest"},
    {.key = "process.pid", .kind = K_INT, .i = 4242},
};
static const struct attr SPAN_ATTRS[] = {
    {.key = "process.command_args", .kind = K_STR_ARRAY, .arr = ARGS, .n = 3},
    {.key = "process.exit.code", .kind = K_INT, .i = 0},
    {.key = "negative", .kind = K_INT, .i = -5},
    {.key = "big", .kind = K_INT, .i = INT64_MAX},
    {.key = "ok", .kind = K_BOOL, .b = false},
    {.key = "ratio", .kind = K_DOUBLE, .d = 1.5},
};
static const struct attr EVENT_ATTRS[] = {
    {.key = "exception.type", .kind = K_STR, .s = "SIGSEGV"},
};
static const struct attr LOG_ATTRS[] = {
    {.key = "syslog.facility", .kind = K_STR, .s = "daemon"},
};
static const struct attr_list resource_attrs = {RESOURCE_ATTRS, 2};
static const struct attr_list span_attrs = {SPAN_ATTRS, 6};
static const struct attr_list event_attrs = {EVENT_ATTRS, 1};
static const struct attr_list log_attrs = {LOG_ATTRS, 1};

static bool encode_traces(pb_ostream_t *out) {
    opentelemetry_proto_trace_v1_Span_Event ev = opentelemetry_proto_trace_v1_Span_Event_init_zero;
    ev.time_unix_nano = 1700000000500000000ull;
    set_str(&ev.name, "exception");
    set_attrs(&ev.attributes, &event_attrs);
    struct one ev1 = {opentelemetry_proto_trace_v1_Span_Event_fields, &ev};

    opentelemetry_proto_trace_v1_Span_Link ln = opentelemetry_proto_trace_v1_Span_Link_init_zero;
    memcpy(ln.trace_id, TRACE_ID, 16);
    memcpy(ln.span_id, LINK_SPAN_ID, 8);
    ln.flags = 0x101;
    struct one ln1 = {opentelemetry_proto_trace_v1_Span_Link_fields, &ln};

    opentelemetry_proto_trace_v1_Span sp = opentelemetry_proto_trace_v1_Span_init_zero;
    memcpy(sp.trace_id, TRACE_ID, 16);
    memcpy(sp.span_id, SPAN_ID, 8);
    memcpy(sp.parent_span_id, PARENT_ID, 8);
    set_str(&sp.name, "selftest-span");
    sp.kind = opentelemetry_proto_trace_v1_Span_SpanKind_SPAN_KIND_SERVER;
    sp.start_time_unix_nano = 1700000000000000000ull;
    sp.end_time_unix_nano = 1700000001000000000ull;
    set_attrs(&sp.attributes, &span_attrs);
    set_one(&sp.events, &ev1);
    set_one(&sp.links, &ln1);
    sp.dropped_attributes_count = 3;
    sp.has_status = true;
    sp.status.code = opentelemetry_proto_trace_v1_Status_StatusCode_STATUS_CODE_ERROR;
    set_str(&sp.status.message, "boom");
    sp.flags = 0x301; /* sampled, has-is-remote, is-remote */
    struct one sp1 = {opentelemetry_proto_trace_v1_Span_fields, &sp};

    opentelemetry_proto_trace_v1_ScopeSpans ss = opentelemetry_proto_trace_v1_ScopeSpans_init_zero;
    ss.has_scope = true;
    set_str(&ss.scope.name, "otel-preload-selftest");
    set_str(&ss.scope.version, "0.0.1");
    set_one(&ss.spans, &sp1);
    struct one ss1 = {opentelemetry_proto_trace_v1_ScopeSpans_fields, &ss};

    opentelemetry_proto_trace_v1_ResourceSpans rs =
        opentelemetry_proto_trace_v1_ResourceSpans_init_zero;
    rs.has_resource = true;
    set_attrs(&rs.resource.attributes, &resource_attrs);
    set_one(&rs.scope_spans, &ss1);
    struct one rs1 = {opentelemetry_proto_trace_v1_ResourceSpans_fields, &rs};

    opentelemetry_proto_collector_trace_v1_ExportTraceServiceRequest req =
        opentelemetry_proto_collector_trace_v1_ExportTraceServiceRequest_init_zero;
    set_one(&req.resource_spans, &rs1);
    return pb_encode(out, opentelemetry_proto_collector_trace_v1_ExportTraceServiceRequest_fields,
                     &req);
}

static bool encode_logs(pb_ostream_t *out) {
    opentelemetry_proto_logs_v1_LogRecord lr = opentelemetry_proto_logs_v1_LogRecord_init_zero;
    lr.time_unix_nano = 1700000000250000000ull;
    lr.observed_time_unix_nano = 1700000000260000000ull;
    lr.severity_number = opentelemetry_proto_logs_v1_SeverityNumber_SEVERITY_NUMBER_ERROR;
    set_str(&lr.severity_text, "ERROR");
    lr.has_body = true;
    set_str(&lr.body.string_value, "disk full");
    set_attrs(&lr.attributes, &log_attrs);
    lr.flags = 1;
    memcpy(lr.trace_id, TRACE_ID, 16);
    memcpy(lr.span_id, SPAN_ID, 8);
    set_str(&lr.event_name, "selftest.event");
    struct one lr1 = {opentelemetry_proto_logs_v1_LogRecord_fields, &lr};

    opentelemetry_proto_logs_v1_ScopeLogs sl = opentelemetry_proto_logs_v1_ScopeLogs_init_zero;
    sl.has_scope = true;
    set_str(&sl.scope.name, "otel-preload-selftest");
    set_one(&sl.log_records, &lr1);
    struct one sl1 = {opentelemetry_proto_logs_v1_ScopeLogs_fields, &sl};

    opentelemetry_proto_logs_v1_ResourceLogs rl =
        opentelemetry_proto_logs_v1_ResourceLogs_init_zero;
    rl.has_resource = true;
    set_attrs(&rl.resource.attributes, &resource_attrs);
    set_one(&rl.scope_logs, &sl1);
    struct one rl1 = {opentelemetry_proto_logs_v1_ResourceLogs_fields, &rl};

    opentelemetry_proto_collector_logs_v1_ExportLogsServiceRequest req =
        opentelemetry_proto_collector_logs_v1_ExportLogsServiceRequest_init_zero;
    set_one(&req.resource_logs, &rl1);
    return pb_encode(out, opentelemetry_proto_collector_logs_v1_ExportLogsServiceRequest_fields,
                     &req);
}

/* ---- self-check with the strict decoder ----------------------------------- */

static bool check_traces(const uint8_t *buf, size_t len) {
    char err[256];
    struct otlp_traces *t = otlp_traces_decode(buf, len, err, sizeof(err));
    if (t == NULL) {
        fprintf(stderr, "otlp_post_selftest: own traces do not decode: %s\n", err);
        return false;
    }
    const struct otlp_span *sp = otlp_traces_find_span(t, "selftest-span");
    const struct otlp_value *args = sp ? otlp_attrs_find(&sp->attrs, "process.command_args") : NULL;
    bool ok = sp != NULL && t->unknown_fields == 0 && memcmp(sp->trace_id, TRACE_ID, 16) == 0 &&
              sp->flags == 0x301 && args != NULL && args->type == OTLP_VALUE_ARRAY &&
              args->n_items == 3 && sp->n_events == 1 && sp->n_links == 1;
    if (!ok) fprintf(stderr, "otlp_post_selftest: own traces decode to other values\n");
    otlp_traces_free(t);
    return ok;
}

static bool check_logs(const uint8_t *buf, size_t len) {
    char err[256];
    struct otlp_logs *l = otlp_logs_decode(buf, len, err, sizeof(err));
    if (l == NULL) {
        fprintf(stderr, "otlp_post_selftest: own logs do not decode: %s\n", err);
        return false;
    }
    const struct otlp_log *r = otlp_logs_record_at(l, 0);
    bool ok = r != NULL && strcmp(r->event_name, "selftest.event") == 0 &&
              r->body.type == OTLP_VALUE_STRING && strcmp(r->body.str, "disk full") == 0;
    if (!ok) fprintf(stderr, "otlp_post_selftest: own logs decode to other values\n");
    otlp_logs_free(l);
    return ok;
}

/* ---- HTTP ----------------------------------------------------------------- */

static bool send_all(int fd, const void *p, size_t n) {
    const char *c = p;
    while (n > 0) {
        ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        c += w;
        n -= (size_t)w;
    }
    return true;
}

/* POSTs body to path; returns the status code, or -1. Skips the reply body. */
static int post(int fd, int port, const char *path, const uint8_t *body, size_t len) {
    char head[512];
    int n = snprintf(head, sizeof(head),
                     "POST %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                     "Content-Type: application/x-protobuf\r\nContent-Length: %zu\r\n"
                     "User-Agent: otlp_post_selftest\r\n\r\n",
                     path, port, len);
    if (!send_all(fd, head, (size_t)n) || !send_all(fd, body, len)) return -1;

    char resp[4096];
    size_t got = 0;
    char *end = NULL;
    while (end == NULL) {
        if (got == sizeof(resp) - 1) return -1;
        ssize_t r = recv(fd, resp + got, sizeof(resp) - 1 - got, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        got += (size_t)r;
        resp[got] = '\0';
        end = strstr(resp, "\r\n\r\n");
    }
    int status;
    if (sscanf(resp, "HTTP/1.1 %d", &status) != 1) return -1;
    size_t clen = 0;
    const char *cl = strcasestr(resp, "\r\nContent-Length:");
    if (cl != NULL && cl < end) clen = strtoul(cl + 17, NULL, 10);
    size_t have = got - (size_t)(end + 4 - resp);
    while (have < clen) {
        char skip[4096];
        ssize_t r = recv(fd, skip, sizeof(skip), 0);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        have += (size_t)r;
    }
    return status;
}

static bool write_file(const char *dir, const char *name, const uint8_t *buf, size_t len) {
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL) return false;
    bool ok = fwrite(buf, 1, len, f) == len;
    return fclose(f) == 0 && ok;
}

int main(int argc, char **argv) {
    int port = 0;
    const char *out_dir = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--port") == 0) {
            char *end;
            long v = strtol(argv[i + 1], &end, 10);
            port = *end == '\0' && v > 0 && v <= 65535 ? (int)v : 0;
        } else if (strcmp(argv[i], "--out") == 0)
            out_dir = argv[i + 1];
    }
    if (port == 0) {
        fprintf(stderr, "usage: otlp_post_selftest --port N [--out DIR]\n");
        return 2;
    }

    static uint8_t traces[16384], logs[16384];
    pb_ostream_t ts = pb_ostream_from_buffer(traces, sizeof(traces));
    pb_ostream_t ls = pb_ostream_from_buffer(logs, sizeof(logs));
    if (!encode_traces(&ts) || !encode_logs(&ls)) {
        fprintf(stderr, "otlp_post_selftest: encode: %s / %s\n", PB_GET_ERROR(&ts),
                PB_GET_ERROR(&ls));
        return 1;
    }
    if (!check_traces(traces, ts.bytes_written) || !check_logs(logs, ls.bytes_written)) return 1;
    if (out_dir != NULL && (!write_file(out_dir, "traces.bin", traces, ts.bytes_written) ||
                            !write_file(out_dir, "logs.bin", logs, ls.bytes_written))) {
        fprintf(stderr, "otlp_post_selftest: cannot write to %s\n", out_dir);
        return 1;
    }

    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
        fprintf(stderr, "otlp_post_selftest: connect 127.0.0.1:%d: %s\n", port, strerror(errno));
        return 1;
    }
    int st1 = post(fd, port, "/v1/traces", traces, ts.bytes_written);
    int st2 = post(fd, port, "/v1/logs", logs, ls.bytes_written);
    close(fd);
    if (st1 != 200 || st2 != 200) {
        fprintf(stderr, "otlp_post_selftest: statuses %d and %d, wanted 200\n", st1, st2);
        return 1;
    }
    return 0;
}
