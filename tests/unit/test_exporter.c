/* test_exporter: the OTLP exporter in process, against the scripted
 * loopback server (server.h): retries of retryable statuses and not of the
 * rest, Retry-After, partial_success as a rejected count, the export
 * timeout, gzip (inflated here with zlib and compared), JSON bodies, the
 * otlp_file exporter, the hand-off stub; the libcurl transports against the
 * same server over http:// (status, headers, Retry-After, body capture, the
 * 4 MiB limit, CLOEXEC sockets, after_fork, refusal in a signal handler,
 * refused connections), gRPC endpoint forms. Depends on exporters/ headers,
 * server.h, test.h; zlib for inflating. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
#include <zlib.h>

#include "core/ids.h"
#include "core/span.h"
#include "exporters/curl.h"
#include "exporters/encoder.h"
#include "exporters/exporter.h"
#include "exporters/gzip.h"
#include "exporters/transport.h"
#include "tests/unit/server.h"
#include "tests/unit/test.h"

/* Exporters and transports live as long as the process (nothing destroys
 * them); keeping them here keeps LeakSanitizer from calling them leaks. */
static void *kept[64];
static int nkept;
static void *keep(void *p) {
    if (p && nkept < 64) kept[nkept++] = p;
    return p;
}

static const struct span_limits limits = {{128, UINT32_MAX}, {128, UINT32_MAX}, 128};
static struct attr_list resource;

static struct span *make_span(const char *name) {
    uint8_t tid[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    struct span *s = span_new(str_cstr(name), NULL, tid, str_of("", 0), true, 1000, &limits, 512);
    if (s) {
        s->end_ns = 2000;
        (void)span_set_str(s, "k", "v", 1);
    }
    return s;
}

static struct otlp_config cfg_for(const char *url, enum otlp_protocol proto) {
    struct otlp_config c = {0};
    c.endpoint = (char *)url;
    c.timeout_ms = 5000;
    c.protocol = proto;
    return c;
}

static char url[128];
static const char *srv_url(const char *path) {
    snprintf(url, sizeof url, "http://127.0.0.1:%u%s", srv.port, path);
    return url;
}

#define OK_EMPTY "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
#define S503 "HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n"

static int export1(struct exporter *e, uint64_t timeout_ms) {
    struct span *s = make_span("one");
    void *rec[1] = {s};
    int rc = e->ops->export(e, rec, 1, &resource, clock_mono_ns() + timeout_ms * 1000000u);
    span_free(s);
    return rc;
}

static void test_retry_then_deliver(void) {
    const struct step steps[] = {
        {S503, 0, false},
        {"HTTP/1.1 429 Slow\r\nRetry-After: 1\r\nContent-Length: 0\r\n\r\n", 0, false},
        {OK_EMPTY, 0, false}};
    REQUIRE(srv_start(steps, 3));
    struct otlp_config c = cfg_for(srv_url("/v1/traces"), OTLP_HTTP_PROTOBUF);
    struct exporter *e = keep(otlp_exporter_new(SIGNAL_TRACES, &c));
    REQUIRE(e);
    uint64_t t0 = clock_mono_ns();
    CHECK_EQ_INT(export1(e, 5000), 0);
    uint64_t took = clock_mono_ns() - t0;
    CHECK_EQ_INT(srv.requests, 3);
    CHECK(took >= 1000000000u && took < 3000000000u); /* the Retry-After second */
    srv_stop();
}

static void test_not_retryable(void) {
    const struct step steps[] = {{"HTTP/1.1 400 Bad\r\nContent-Length: 3\r\n\r\nbad", 0, false},
                                 {OK_EMPTY, 0, false}};
    REQUIRE(srv_start(steps, 2));
    struct otlp_config c = cfg_for(srv_url("/v1/traces"), OTLP_HTTP_PROTOBUF);
    struct exporter *e = keep(otlp_exporter_new(SIGNAL_TRACES, &c));
    REQUIRE(e);
    CHECK_EQ_INT(export1(e, 5000), -EIO);
    CHECK_EQ_INT(srv.requests, 1);
    srv_stop();
}

static void test_deadline_ends_retries(void) {
    const struct step steps[] = {{S503, 0, false}, {S503, 0, false}, {S503, 0, false},
                                 {S503, 0, false}, {S503, 0, false}, {S503, 0, false},
                                 {S503, 0, false}, {S503, 0, false}};
    REQUIRE(srv_start(steps, 8));
    struct otlp_config c = cfg_for(srv_url("/v1/traces"), OTLP_HTTP_PROTOBUF);
    c.timeout_ms = 400;
    struct exporter *e = keep(otlp_exporter_new(SIGNAL_TRACES, &c));
    REQUIRE(e);
    uint64_t t0 = clock_mono_ns();
    CHECK_EQ_INT(export1(e, 60000), -EIO);
    uint64_t took = clock_mono_ns() - t0;
    CHECK(took < 450000000u);
    CHECK(srv.requests >= 2);
    srv_stop();
}

static void test_partial_success(void) {
    static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n"
                               "\x0a\x07\x08\x02\x12\x03"
                               "bad";
    const struct step steps[] = {{resp, sizeof resp - 1, false}};
    REQUIRE(srv_start(steps, 1));
    struct otlp_config c = cfg_for(srv_url("/v1/traces"), OTLP_HTTP_PROTOBUF);
    struct exporter *e = keep(otlp_exporter_new(SIGNAL_TRACES, &c));
    REQUIRE(e);
    struct span *s[3] = {make_span("a"), make_span("b"), make_span("c")};
    CHECK_EQ_INT(e->ops->export(e, (void *const *)s, 3, &resource, clock_mono_ns() + 5000000000u),
                 2);
    for (int i = 0; i < 3; i++)
        span_free(s[i]);
    srv_stop();
}

static void test_gzip_and_json(void) {
    const struct step steps[] = {{OK_EMPTY, 0, false}, {OK_EMPTY, 0, false}};
    REQUIRE(srv_start(steps, 2));
    struct otlp_config c = cfg_for(srv_url("/v1/traces"), OTLP_HTTP_JSON);
    c.compression = OTLP_COMPRESSION_GZIP;
    struct exporter *e = keep(otlp_exporter_new(SIGNAL_TRACES, &c));
    REQUIRE(e);
    struct span *s = make_span("zipped");
    void *rec[1] = {s};
    CHECK_EQ_INT(e->ops->export(e, rec, 1, &resource, clock_mono_ns() + 5000000000u), 0);
    CHECK(strstr(srv_head(), "\r\nContent-Encoding: gzip\r\n") != NULL);
    CHECK(strstr(srv_head(), "\r\nContent-Type: application/json\r\n") != NULL);
    size_t zlen;
    const char *z = srv_body(&zlen);
    static char plain[65536];
    uLongf plen = sizeof plain;
    z_stream zs = {0};
    REQUIRE(inflateInit2(&zs, 15 + 16) == Z_OK);
    zs.next_in = (Bytef *)z;
    zs.avail_in = (uInt)zlen;
    zs.next_out = (Bytef *)plain;
    zs.avail_out = (uInt)plen;
    CHECK_EQ_INT(inflate(&zs, Z_FINISH), Z_STREAM_END);
    plen = zs.total_out;
    inflateEnd(&zs);
    struct buf want = {0};
    REQUIRE(otlp_encoding_json.encode[SIGNAL_TRACES](&want, &resource, rec, 1));
    CHECK_EQ_INT(plen, want.len);
    CHECK(!memcmp(plain, want.data, want.len));
    CHECK(strstr(plain, "\"name\":\"zipped\"") != NULL);
    buf_release(&want);
    span_free(s);
    srv_stop();
    /* gzip_compress refuses nothing it can do; an empty input is fine. */
    struct gzip gz = {0};
    struct buf out = {0};
    REQUIRE(gzip_ready(true));
    CHECK_EQ_INT(gzip_compress(&gz, &out, "", 0), 0);
    CHECK(out.len >= 18); /* header and trailer */
    gzip_release(&gz);
    buf_release(&out);
}

static void test_file_exporter(void) {
    char path[] = "/tmp/otelp-test-file.XXXXXX";
    int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    close(fd);
    unlink(path);
    struct otlp_config c = cfg_for("unused", OTLP_HTTP_PROTOBUF);
    CHECK(otlp_file_exporter_new(SIGNAL_TRACES, &c) == NULL); /* no path */
    c.file_path = path;
    struct exporter *e = keep(otlp_file_exporter_new(SIGNAL_TRACES, &c));
    REQUIRE(e);
    CHECK_EQ_INT(export1(e, 1000), 0);
    CHECK_EQ_INT(export1(e, 1000), 0);
    e->ops->after_fork(e);
    char text[8192];
    fd = open(path, O_RDONLY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    ssize_t n = read(fd, text, sizeof text - 1);
    close(fd);
    REQUIRE(n > 0);
    text[n] = '\0';
    char *nl = strchr(text, '\n');
    REQUIRE(nl);
    CHECK(!strncmp(text, "{\"resourceSpans\":", 17));
    CHECK(!strncmp(nl + 1, "{\"resourceSpans\":", 17));
    CHECK(text[n - 1] == '\n' && strchr(nl + 1, '\n') == text + n - 1);
    unlink(path);
    /* An unwritable path: the export fails, counted by the caller. */
    c.file_path = "/nonexistent-dir/x.jsonl";
    e = keep(otlp_file_exporter_new(SIGNAL_TRACES, &c));
    REQUIRE(e);
    CHECK_EQ_INT(export1(e, 1000), -ENOENT);
}

static void test_handoff_without_a_relay(void) {
    /* No parent relays for this test process: the exporter sends itself;
     * and only protobuf is ever handed off. */
    CHECK(exporter_handoff_connect(SIGNAL_TRACES, OTLP_HTTP_PROTOBUF) < 0);
    CHECK_EQ_INT(exporter_handoff_connect(SIGNAL_TRACES, OTLP_HTTP_JSON), -ENOTSUP);
    CHECK(exporter_handoff_connect(SIGNAL_TRACES, OTLP_GRPC) < 0);
}

static void test_encodings_table(void) {
    CHECK(otlp_encoding_protobuf.encode[SIGNAL_TRACES] != NULL);
    CHECK(otlp_encoding_json.encode[SIGNAL_TRACES] != NULL);
    CHECK(otlp_encoding_json.encode[SIGNAL_LOGS] != NULL);
    CHECK_STR(otlp_encoding_json.content_type, "application/json");
    CHECK_STR(otlp_signal_names[SIGNAL_LOGS], "logs");
    CHECK(otlp_encoding_protobuf.encode[SIGNAL_METRICS] != NULL);
    CHECK(otlp_encoding_json.encode[SIGNAL_METRICS] != NULL);
    struct otlp_config c = cfg_for("ftp://x/", OTLP_HTTP_PROTOBUF);
    CHECK(otlp_exporter_new(SIGNAL_TRACES, &c) == NULL);
}

/* ---- the libcurl transports, over http:// to the scripted server ---- */

static struct transport_result result(uint8_t *body, size_t cap) {
    return (struct transport_result){
        .grpc_status = -1, .server_delay_ms = -1, .body = body, .body_cap = cap};
}

/* The server's last request is read only after the last exchange (the
 * scripted server reuses its buffers, and TSan cannot see that a socket
 * orders the next request after our reads). */
static void test_curl_http(void) {
    static char big[128];
    snprintf(big, sizeof big, "HTTP/1.1 200 OK\r\nContent-Length: %u\r\n\r\n",
             TRANSPORT_MAX_RESPONSE + 1);
    const struct step steps[] = {
        {"HTTP/1.1 503 Busy\r\nRetry-After: 3\r\nContent-Length: 0\r\n\r\n", 0, false},
        {"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:1/\r\nContent-Length: 0\r\n\r\n", 0,
         false},
        {big, 0, true},
        {"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhello", 0, false}};
    REQUIRE(srv_start(steps, 4));
    struct otlp_config c = cfg_for(srv_url("/v1/traces"), OTLP_HTTP_PROTOBUF);
    c.certificate = "/nonexistent-ca.pem"; /* unused over http:// */
    struct transport *t =
        transport_curl_new(srv_url("/v1/traces"), "application/x-protobuf", "X-Mine: 1\r\n", &c);
    REQUIRE(t);
    uint8_t body[4];
    struct transport_request req = {(const uint8_t *)"payload", 7, true, false};
    struct transport_result r = result(body, sizeof body);
    CHECK_EQ_INT(t->ops->send(t, &req, clock_mono_ns() + 5000000000u, &r), 0);
    CHECK_EQ_INT(r.http_status, 503);
    CHECK_EQ_INT(r.server_delay_ms, 3000);
    r = result(body, sizeof body); /* redirects are not followed */
    CHECK_EQ_INT(t->ops->send(t, &req, clock_mono_ns() + 5000000000u, &r), 0);
    CHECK_EQ_INT(r.http_status, 302);
    r = result(body, sizeof body);
    CHECK_EQ_INT(t->ops->send(t, &req, clock_mono_ns() + 5000000000u, &r), -E2BIG);
    r = result(body, sizeof body);
    CHECK_EQ_INT(t->ops->send(t, &req, clock_mono_ns() + 5000000000u, &r), 0);
    CHECK_EQ_INT(r.http_status, 200);
    CHECK_EQ_INT(r.body_len, 4); /* capped by the caller's buffer */
    CHECK(!memcmp(body, "hell", 4));
    CHECK_EQ_INT(srv.requests, 4);
    CHECK(strstr(srv_head(), "\r\nX-Mine: 1\r\n") != NULL);
    CHECK(strstr(srv_head(), "\r\nContent-Type: application/x-protobuf\r\n") != NULL);
    CHECK(strstr(srv_head(), "\r\nContent-Encoding: gzip\r\n") != NULL);
    CHECK(strstr(srv_head(), "Expect") == NULL);
    CHECK(!memcmp(srv_body(NULL), "payload", 7));
    /* Our socket is close-on-exec. */
    struct curl_conn *conn = (struct curl_conn *)((char *)t + sizeof(struct transport));
    int ours = -1;
    for (int i = 0; i < CURL_CONN_MAX_FDS; i++)
        if (conn->fds[i] >= 0) ours = conn->fds[i];
    REQUIRE(ours >= 0);
    CHECK(fcntl(ours, F_GETFD) & FD_CLOEXEC);
    /* In a signal handler: refused without touching libcurl. */
    req.in_signal = true;
    CHECK_EQ_INT(t->ops->send(t, &req, clock_mono_ns() + 5000000000u, &r), -EAGAIN);
    req.in_signal = false;
    /* A fork child forgets the connection without a word (and abandons the
     * handle, which we keep for LeakSanitizer). */
    keep(conn->easy);
    t->ops->after_fork(t);
    for (int i = 0; i < CURL_CONN_MAX_FDS; i++)
        CHECK_EQ_INT(conn->fds[i], -1);
    srv_stop();
    /* Nobody listens now: refused; a deadline already past: timed out. */
    r = result(body, sizeof body);
    CHECK_EQ_INT(t->ops->send(t, &req, clock_mono_ns() + 5000000000u, &r), -ECONNREFUSED);
    CHECK_EQ_INT(t->ops->send(t, &req, clock_mono_ns() - 1, &r), -ETIMEDOUT);
}

static void test_curl_silent_server(void) {
    const struct step steps[] = {{NULL, 0, false}};
    REQUIRE(srv_start(steps, 1));
    struct otlp_config c = cfg_for(srv_url("/v1/traces"), OTLP_HTTP_PROTOBUF);
    struct transport *t =
        keep(transport_curl_new(srv_url("/v1/traces"), "application/json", NULL, &c));
    REQUIRE(t);
    struct transport_request req = {(const uint8_t *)"{}", 2, false, false};
    struct transport_result r = result(NULL, 0);
    uint64_t t0 = clock_mono_ns();
    CHECK_EQ_INT(t->ops->send(t, &req, t0 + 300000000u, &r), -ETIMEDOUT);
    CHECK(clock_mono_ns() - t0 < 1000000000u);
    srv_stop();
}

static void test_grpc_endpoints(void) {
    struct otlp_config c = cfg_for("x", OTLP_GRPC);
    CHECK(transport_grpc_new(SIGNAL_TRACES, "ftp://h:1", NULL, &c) == NULL);
    CHECK(transport_grpc_new(SIGNAL_TRACES, "http://", NULL, &c) == NULL);
    CHECK(transport_grpc_new(SIGNAL_TRACES, "http://u@h:1", NULL, &c) == NULL);
    struct transport *t = keep(transport_grpc_new(SIGNAL_LOGS, "h:4317", NULL, &c));
    REQUIRE(t);
    struct curl_conn *conn = (struct curl_conn *)((char *)t + sizeof(struct transport));
    CHECK_STR(conn->url, "https://h:4317/opentelemetry.proto.collector.logs.v1.LogsService/Export");
    c.insecure = true;
    t = keep(transport_grpc_new(SIGNAL_METRICS, "h:4317/ignored", NULL, &c));
    REQUIRE(t);
    conn = (struct curl_conn *)((char *)t + sizeof(struct transport));
    CHECK_STR(conn->url,
              "http://h:4317/opentelemetry.proto.collector.metrics.v1.MetricsService/Export");
    /* An HTTP/1.1-only server: no gRPC. */
    const struct step steps[] = {{OK_EMPTY, 0, true}};
    REQUIRE(srv_start(steps, 1));
    t = keep(transport_grpc_new(SIGNAL_TRACES, srv_url(""), NULL, &c));
    REQUIRE(t);
    struct transport_request req = {(const uint8_t *)"\0\0\0\0\0", 5, false, false};
    struct transport_result r = result(NULL, 0);
    CHECK(t->ops->send(t, &req, clock_mono_ns() + 2000000000u, &r) < 0);
    srv_stop();
}

int main(void) {
    static char res_mem[4096];
    struct arena a;
    arena_init(&a, res_mem, sizeof res_mem);
    static const struct attr_limits unl = {128, UINT32_MAX};
    (void)attrs_put_str(&resource, &a, &unl, "service.name", "unit", 4);
    RUN(test_retry_then_deliver);
    RUN(test_not_retryable);
    RUN(test_deadline_ends_retries);
    RUN(test_partial_success);
    RUN(test_gzip_and_json);
    RUN(test_file_exporter);
    RUN(test_handoff_without_a_relay);
    RUN(test_encodings_table);
    RUN(test_curl_http);
    RUN(test_curl_silent_server);
    RUN(test_grpc_endpoints);
    return test_report("exporter");
}
