/* test_http: http_url_parse cases, and http_post against a scripted
 * loopback server thread on 127.0.0.1:0: Content-Length, chunked and
 * until-close bodies, Connection: close, keep-alive reuse of one accepted
 * connection, the transparent retry when the server closed a kept-alive
 * connection (and no retry once a response started), 503 with Retry-After
 * in seconds and as an HTTP-date, 100 Continue, bodies over
 * HTTP_MAX_RESPONSE_BODY, malformed responses, a server that never answers
 * (-ETIMEDOUT within 200 ms), connection refused, "localhost", numeric names
 * through the resolver, and may_resolve=false. Every wait is bounded.
 * Depends on exporters/http.h and test.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>

#include "core/ids.h"
#include "exporters/http.h"
#include "tests/unit/server.h"
#include "tests/unit/test.h"

/* ---- URL parsing ---- */

static void check_url(const char *url, const char *host, unsigned port, const char *path,
                      const char *authority, bool tls) {
    struct http_url u;
    int rc = http_url_parse(url, &u);
    test_checks++;
    if (rc != 0) {
        TEST_FAIL_("'%s': rc %d", url, rc);
        return;
    }
    test_checks++;
    if (strcmp(u.host, host) || u.port != port || strcmp(u.path, path) ||
        strcmp(u.authority, authority) || u.tls != tls)
        TEST_FAIL_("'%s': host '%s' port %u path '%s' authority '%s' tls %d", url, u.host, u.port,
                   u.path, u.authority, u.tls);
}

static void test_url_parse(void) {
    check_url("http://localhost:4318/v1/traces", "localhost", 4318, "/v1/traces", "localhost:4318",
              false);
    check_url("https://collector.example.com/v1/traces", "collector.example.com", 443, "/v1/traces",
              "collector.example.com", true);
    check_url("HTTP://Host:1/", "Host", 1, "/", "Host:1", false);
    check_url("http://h", "h", 80, "/", "h", false);
    check_url("http://h/", "h", 80, "/", "h", false);
    check_url("http://h:65535/a/b", "h", 65535, "/a/b", "h:65535", false);
    check_url("http://h?x=1", "h", 80, "/?x=1", "h", false);
    check_url("http://h/p?x=1&y=2#frag", "h", 80, "/p?x=1&y=2", "h", false);
    check_url("http://h#frag", "h", 80, "/", "h", false);
    check_url("http://10.1.2.3:8080/v1/traces", "10.1.2.3", 8080, "/v1/traces", "10.1.2.3:8080",
              false);
    check_url("http://[::1]:4318/v1/traces", "::1", 4318, "/v1/traces", "[::1]:4318", false);
    check_url("http://[fe80::1%25eth0]/", "fe80::1%25eth0", 80, "/", "[fe80::1%25eth0]", false);
    check_url("https://[2001:db8::1]", "2001:db8::1", 443, "/", "[2001:db8::1]", true);
    check_url("http://h/p@q", "h", 80, "/p@q", "h", false); /* '@' in the path is fine */

    static const char *const bad[] = {
        "",
        "localhost:4318",
        "ftp://h/",
        "grpc://h:4317",
        "http:/h/",
        "http://",
        "http:///path",
        "http://:80/",
        "http://h:/",
        "http://h:0/",
        "http://h:65536/",
        "http://h:70000/",
        "http://h:99999999999999999999/",
        "http://h:12a/",
        "http://h:-1/",
        "http://user@h/",
        "http://user:pw@h:80/",
        "http://@h/",
        "http://[::1/",
        "http://[::1]x/",
        "http://[::1]:/",
        "http://[]/",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct http_url u;
        int rc = http_url_parse(bad[i], &u);
        test_checks++;
        if (rc != -EINVAL) TEST_FAIL_("'%s' parsed (rc %d, host '%s')", bad[i], rc, u.host);
    }
    /* Too long for the fixed buffers: rejected, not cut. */
    static char url[3000];
    struct http_url u;
    memcpy(url, "http://", 7);
    memset(url + 7, 'h', 300);
    url[307] = '\0';
    CHECK_EQ_INT(http_url_parse(url, &u), -EINVAL);
    memset(url + 7, 'h', 255);
    url[262] = '\0';
    CHECK_EQ_INT(http_url_parse(url, &u), 0); /* 255 fits */
    url[262] = '/';
    memset(url + 263, 'p', 1500);
    url[1763] = '\0';
    CHECK_EQ_INT(http_url_parse(url, &u), -EINVAL);
}

static size_t body_len_(void) {
    size_t n;
    (void)srv_body(&n);
    return n;
}

static struct http_client client;

static void client_for(const char *host) {
    char url[128];
    struct http_url u;
    snprintf(url, sizeof url, "http://%s:%u/v1/traces", host, srv.port);
    if (http_url_parse(url, &u) == 0) http_client_init(&client, &u);
}

static int post(const char *body, uint64_t timeout_ms, struct http_response *resp) {
    memset(resp, 0x5a, sizeof *resp);
    static uint8_t captured[8];
    resp->body = captured;
    resp->body_cap = sizeof captured;
    return http_post(&client, "application/x-protobuf", "X-Test: 1\r\n", body, strlen(body),
                     clock_mono_ns() + timeout_ms * 1000000u, true, resp);
}

#define OK_EMPTY "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"

static void test_post_content_length(void) {
    const struct step steps[] = {
        {"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Other: y\r\n\r\nhello", 0, false}};
    REQUIRE(srv_start(steps, 1));
    client_for("127.0.0.1");
    struct http_response resp = {0};
    CHECK_EQ_INT(post("abcde", 5000, &resp), 0);
    CHECK_EQ_INT(resp.status, 200);
    CHECK_EQ_INT(resp.body_len, 5);
    CHECK_EQ_INT(resp.captured, 5);
    CHECK(!memcmp(resp.body, "hello", 5));
    CHECK_EQ_INT(resp.retry_after_s, -1);
    CHECK(client.fd >= 0); /* kept alive */
    /* What the server got. */
    CHECK(!strncmp(srv_head(), "POST /v1/traces HTTP/1.1\r\n", 26));
    char host[64];
    snprintf(host, sizeof host, "\r\nHost: 127.0.0.1:%u\r\n", srv.port);
    CHECK(strstr(srv_head(), host) != NULL);
    CHECK(strstr(srv_head(), "\r\nContent-Type: application/x-protobuf\r\n") != NULL);
    CHECK(strstr(srv_head(), "\r\nContent-Length: 5\r\n") != NULL);
    CHECK(strstr(srv_head(), "\r\nX-Test: 1\r\n\r\n") != NULL);
    CHECK_EQ_INT(body_len_(), 5);
    CHECK(!memcmp(srv_body(NULL), "abcde", 5));
    http_close(&client);
    CHECK_EQ_INT(client.fd, -1);
    http_close(&client);
    srv_stop();
}

static void test_post_chunked(void) {
    const struct step steps[] = {
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
         "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n",
         0, false},
        {"HTTP/1.1 202 Accepted\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n"
         "3\r\nabc\r\n0\r\nX-Trailer: t\r\n\r\n",
         0, false},
    };
    REQUIRE(srv_start(steps, 2));
    client_for("127.0.0.1");
    struct http_response resp = {0};
    CHECK_EQ_INT(post("x", 5000, &resp), 0);
    CHECK_EQ_INT(resp.status, 200);
    CHECK_EQ_INT(resp.body_len, 11);
    CHECK_EQ_INT(resp.captured, 8); /* the first 8 bytes, across chunks */
    CHECK(!memcmp(resp.body, "hello wo", 8));
    CHECK_EQ_INT(post("x", 5000, &resp), 0); /* the connection is still in sync */
    CHECK_EQ_INT(resp.status, 202);
    CHECK_EQ_INT(resp.body_len, 3);
    CHECK_EQ_INT(srv.accepts, 1);
    http_close(&client);
    srv_stop();
}

static void test_post_connection_close(void) {
    const struct step steps[] = {
        {"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", 0, true},
        {"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", 0, true}, /* 1.0: close */
        {"HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n", 0, false},
    };
    REQUIRE(srv_start(steps, 3));
    client_for("127.0.0.1");
    struct http_response resp = {0};
    CHECK_EQ_INT(post("x", 5000, &resp), 0);
    CHECK_EQ_INT(resp.status, 200);
    CHECK_EQ_INT(client.fd, -1); /* closed by us after the response */
    CHECK_EQ_INT(post("x", 5000, &resp), 0);
    CHECK_EQ_INT(client.fd, -1);
    CHECK_EQ_INT(post("x", 5000, &resp), 0);
    CHECK(client.fd >= 0);
    CHECK_EQ_INT(srv.accepts, 3);
    http_close(&client);
    srv_stop();
}

static void test_post_keep_alive_reuse(void) {
    const struct step steps[] = {
        {OK_EMPTY, 0, false}, {"HTTP/1.1 204 No Content\r\n\r\n", 0, false}, {OK_EMPTY, 0, false}};
    REQUIRE(srv_start(steps, 3));
    client_for("127.0.0.1");
    struct http_response resp = {0};
    CHECK_EQ_INT(post("one", 5000, &resp), 0);
    int fd = client.fd;
    CHECK(fd >= 0);
    CHECK_EQ_INT(post("two", 5000, &resp), 0);
    CHECK_EQ_INT(resp.status, 204);
    CHECK_EQ_INT(resp.body_len, 0);
    CHECK_EQ_INT(client.fd, fd);
    CHECK_EQ_INT(post("three", 5000, &resp), 0);
    CHECK_EQ_INT(srv.accepts, 1); /* one accepted connection served all three */
    CHECK_EQ_INT(srv.requests, 3);
    CHECK(!memcmp(srv_body(NULL), "three", 5));
    http_close(&client);
    srv_stop();
}

/* The server closes an idle kept-alive connection: the next post notices
 * and retries once on a fresh connection, invisibly to the caller. */
static void test_post_retry_after_server_close(void) {
    const struct step steps[] = {{OK_EMPTY, 0, true}, {OK_EMPTY, 0, false}};
    REQUIRE(srv_start(steps, 2));
    client_for("127.0.0.1");
    struct http_response resp = {0};
    CHECK_EQ_INT(post("one", 5000, &resp), 0);
    CHECK(client.fd >= 0); /* the response did not say close */
    REQUIRE(srv_wait_closed(1));
    CHECK_EQ_INT(post("two", 5000, &resp), 0);
    CHECK_EQ_INT(resp.status, 200);
    CHECK_EQ_INT(srv.accepts, 2);
    CHECK_EQ_INT(srv.requests, 2);
    CHECK(!memcmp(srv_body(NULL), "two", 3));
    http_close(&client);
    srv_stop();
}

/* No retry once part of a response arrived, nor on a fresh connection. */
static void test_post_no_retry(void) {
    const struct step steps[] = {{OK_EMPTY, 0, false}, {"HTTP/1.1 200 OK\r\nContent-Le", 0, true}};
    REQUIRE(srv_start(steps, 2));
    client_for("127.0.0.1");
    struct http_response resp = {0};
    CHECK_EQ_INT(post("one", 5000, &resp), 0);
    CHECK_EQ_INT(post("two", 5000, &resp), -ECONNRESET);
    CHECK_EQ_INT(srv.accepts, 1);
    CHECK_EQ_INT(client.fd, -1);
    http_close(&client);
    srv_stop();

    /* A fresh connection the server closes without a word. */
    static const struct step close_silently[] = {{"", 0, true}};
    REQUIRE(srv_start(close_silently, 1));
    client_for("127.0.0.1");
    CHECK_EQ_INT(post("x", 5000, &resp), -ECONNRESET);
    CHECK_EQ_INT(srv.accepts, 1);
    srv_stop();
}

static void test_post_retry_after(void) {
    const struct step steps[] = {
        {"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 7\r\nContent-Length: 0\r\n\r\n", 0,
         false},
        {"HTTP/1.1 429 Too Many Requests\r\nRetry-After: Fri, 01 Jan 2100 00:00:00 GMT\r\n"
         "Content-Length: 0\r\n\r\n",
         0, false},
        {"HTTP/1.1 503 Service Unavailable\r\nretry-after: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
         "Content-Length: 0\r\n\r\n",
         0, false},
        {"HTTP/1.1 503 Service Unavailable\r\nRetry-After: soon\r\nContent-Length: 0\r\n\r\n", 0,
         false},
        {"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 99999999999999999999\r\n"
         "Content-Length: 0\r\n\r\n",
         0, false},
    };
    REQUIRE(srv_start(steps, 5));
    client_for("127.0.0.1");
    struct http_response resp = {0};
    CHECK_EQ_INT(post("x", 5000, &resp), 0);
    CHECK_EQ_INT(resp.status, 503);
    CHECK_EQ_INT(resp.retry_after_s, 7);
    CHECK_EQ_INT(post("x", 5000, &resp), 0);
    CHECK_EQ_INT(resp.status, 429);
    CHECK_EQ_INT(resp.retry_after_s, 86400); /* far in the future: capped at one day */
    CHECK_EQ_INT(post("x", 5000, &resp), 0);
    CHECK_EQ_INT(resp.retry_after_s, 0); /* a date in the past: now */
    CHECK_EQ_INT(post("x", 5000, &resp), 0);
    CHECK_EQ_INT(resp.retry_after_s, -1); /* unparsable: absent */
    CHECK_EQ_INT(post("x", 5000, &resp), 0);
    CHECK(resp.retry_after_s > 0); /* huge: capped, not overflowed */
    CHECK_EQ_INT(srv.accepts, 1);
    http_close(&client);
    srv_stop();
}

static void test_post_continue(void) {
    const struct step steps[] = {
        {"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 0, false},
    };
    REQUIRE(srv_start(steps, 1));
    client_for("127.0.0.1");
    struct http_response resp = {0};
    CHECK_EQ_INT(post("x", 5000, &resp), 0);
    CHECK_EQ_INT(resp.status, 200);
    CHECK(client.fd >= 0);
    http_close(&client);
    srv_stop();
}

/* No length and no chunking: the body runs until the server closes, and all
 * of it counts (also the part that came with the head). */
static void test_post_until_close(void) {
    const struct step steps[] = {{"HTTP/1.1 200 OK\r\n\r\nbody until close", 0, true}};
    REQUIRE(srv_start(steps, 1));
    client_for("127.0.0.1");
    struct http_response resp = {0};
    CHECK_EQ_INT(post("x", 5000, &resp), 0);
    CHECK_EQ_INT(resp.status, 200);
    CHECK_EQ_INT(client.fd, -1);
    CHECK_EQ_INT(resp.body_len, 16);
    srv_stop();
}

static void test_post_too_big(void) {
    static char big_len[128];
    snprintf(big_len, sizeof big_len, "HTTP/1.1 200 OK\r\nContent-Length: %u\r\n\r\n",
             HTTP_MAX_RESPONSE_BODY + 1);
    const struct step steps[] = {{big_len, 0, true},
                                 {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                  "500000\r\n",
                                  0, true}};
    REQUIRE(srv_start(steps, 2));
    client_for("127.0.0.1");
    struct http_response resp = {0};
    CHECK_EQ_INT(post("x", 5000, &resp), -E2BIG);
    CHECK_EQ_INT(client.fd, -1);
    CHECK_EQ_INT(post("x", 5000, &resp), -E2BIG);
    srv_stop();

    /* A header line longer than the reader's buffer. */
    static char long_head[12000];
    snprintf(long_head, sizeof long_head, "HTTP/1.1 200 OK\r\nX-Long: ");
    size_t n = strlen(long_head);
    memset(long_head + n, 'a', 10000);
    memcpy(long_head + n + 10000, "\r\n\r\n", 5);
    const struct step steps2[] = {{long_head, 0, true}};
    REQUIRE(srv_start(steps2, 1));
    client_for("127.0.0.1");
    CHECK_EQ_INT(post("x", 5000, &resp), -E2BIG);
    srv_stop();

    /* A request head that does not fit is refused before connecting. */
    static char headers[9000];
    memset(headers, 'h', sizeof headers - 1);
    CHECK_EQ_INT(http_post(&client, "text/plain", headers, "x", 1, clock_mono_ns() + 1000000000u,
                           true, &resp),
                 -E2BIG);
}

static void test_post_malformed(void) {
    const struct step steps[] = {{"garbage\r\n\r\n", 0, true},
                                 {"HTTP/1.1 99 Too Low\r\n\r\n", 0, true},
                                 {"HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n", 0, true}};
    REQUIRE(srv_start(steps, 3));
    client_for("127.0.0.1");
    struct http_response resp = {0};
    CHECK_EQ_INT(post("x", 5000, &resp), -EPROTO);
    CHECK_EQ_INT(client.fd, -1);
    CHECK_EQ_INT(post("x", 5000, &resp), -EPROTO);
    CHECK_EQ_INT(post("x", 5000, &resp), -EPROTO);
    CHECK_EQ_INT(srv.accepts, 3);
    srv_stop();
}

/* The status line and Content-Length as sscanf's %d and strtoll read
 * them: white space and a sign are taken; no digit, trailing junk in the
 * version, a status out of range or an overflowing length are not. */
static void test_post_status_line(void) {
    const struct step steps[] = {
        {"HTTP/1.1  201 Created\r\nContent-Length:  +2\r\n\r\nok", 0, false},
        {"HTTP/1.1 2000 OK\r\n\r\n", 0, true},
        {"HTTP/1.x 200 OK\r\n\r\n", 0, true},
        {"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n", 0, true},
        {"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", 0, true}};
    REQUIRE(srv_start(steps, 5));
    client_for("127.0.0.1");
    struct http_response resp = {0};
    CHECK_EQ_INT(post("x", 5000, &resp), 0);
    CHECK_EQ_INT(resp.status, 201);
    CHECK_EQ_INT(resp.body_len, 2);
    http_close(&client);
    for (int i = 0; i < 4; i++)
        CHECK_EQ_INT(post("x", 5000, &resp), -EPROTO);
    CHECK_EQ_INT(srv.accepts, 5);
    srv_stop();
}

/* http_ipv4_literal takes what inet_pton(AF_INET) takes, nothing else. */
static void test_ipv4_literal(void) {
    static const char *const cases[] = {
        "127.0.0.1", "0.0.0.0",  "255.255.255.255", "1.2.3.4",   "10.0.0.10", "256.1.1.1",
        "1.2.3",     "1.2.3.4.", "1.2.3.4.5",       ".1.2.3",    "1..2.3",    "01.2.3.4",
        "1.2.3.00",  "1.2.3.0",  "1.2.3.400",       "1.2.3.4x",  "",          "localhost",
        "::1",       "1.2.3.-4", " 1.2.3.4",        "999.1.1.1", "0.0.0.09",  "100.200.250.25"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct in_addr want = {0}, got = {0};
        int w = inet_pton(AF_INET, cases[i], &want);
        bool g = http_ipv4_literal(cases[i], &got);
        CHECK_EQ_INT(g, w == 1);
        if (g && w == 1) CHECK_EQ_INT(got.s_addr, want.s_addr);
    }
}

static void test_post_large_body(void) {
    const struct step steps[] = {{OK_EMPTY, 0, false}};
    REQUIRE(srv_start(steps, 1));
    client_for("127.0.0.1");
    size_t n = 8u << 20; /* far more than a socket buffer: partial sends */
    char *body = malloc(n);
    REQUIRE(body);
    memset(body, 'b', n);
    memcpy(body, "start", 5);
    struct http_response resp = {0};
    CHECK_EQ_INT(http_post(&client, "application/x-protobuf", NULL, body, n,
                           clock_mono_ns() + 20000000000u, true, &resp),
                 0);
    CHECK_EQ_INT(resp.status, 200);
    CHECK_EQ_INT(body_len_(), n);
    CHECK(!memcmp(srv_body(NULL), "startbbb", 8));
    CHECK(strstr(srv_head(), "\r\nContent-Length: 8388608\r\n") != NULL);
    free(body);
    http_close(&client);
    srv_stop();
}

static void test_post_empty_body(void) {
    const struct step steps[] = {{OK_EMPTY, 0, false}};
    REQUIRE(srv_start(steps, 1));
    client_for("127.0.0.1");
    struct http_response resp = {0};
    CHECK_EQ_INT(http_post(&client, "application/json", NULL, NULL, 0,
                           clock_mono_ns() + 5000000000u, true, &resp),
                 0);
    CHECK(strstr(srv_head(), "\r\nContent-Length: 0\r\n") != NULL);
    CHECK_EQ_INT(body_len_(), 0);
    http_close(&client);
    srv_stop();
}

/* The server reads the request and never answers: -ETIMEDOUT at the
 * deadline (200 ms), and the connection is dropped. */
static void test_post_timeout(void) {
    const struct step steps[] = {{NULL, 0, false}};
    REQUIRE(srv_start(steps, 1));
    client_for("127.0.0.1");
    struct http_response resp = {0};
    CHECK_EQ_INT(post("x", 200, &resp), -ETIMEDOUT);
    CHECK_EQ_INT(client.fd, -1);
    CHECK_EQ_INT(srv.accepts, 1);
    srv_stop();
}

static void test_post_refused(void) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    REQUIRE(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0);
    uint16_t port = listen_port(fd);
    close(fd); /* nobody listens there now */
    char url[64];
    struct http_url u;
    snprintf(url, sizeof url, "http://127.0.0.1:%u/v1/traces", port);
    REQUIRE(http_url_parse(url, &u) == 0);
    http_client_init(&client, &u);
    struct http_response resp = {0};
    CHECK_EQ_INT(post("x", 2000, &resp), -ECONNREFUSED);
    CHECK_EQ_INT(client.fd, -1);
}

static void test_post_localhost(void) {
    const struct step steps[] = {{OK_EMPTY, 0, false}};
    REQUIRE(srv_start(steps, 1));
    client_for("localhost"); /* no resolver needed: 127.0.0.1 first, then ::1 */
    struct http_response resp = {0};
    CHECK_EQ_INT(
        http_post(&client, "text/plain", NULL, "x", 1, clock_mono_ns() + 5000000000u, false, &resp),
        0);
    CHECK_EQ_INT(resp.status, 200);
    char host[64];
    snprintf(host, sizeof host, "\r\nHost: localhost:%u\r\n", srv.port);
    CHECK(strstr(srv_head(), host) != NULL);
    http_close(&client);
    srv_stop();
}

/* "127.1" is no IP literal for inet_pton, so it goes through getaddrinfo,
 * which reads it as a number (no DNS query). */
static void test_post_resolver(void) {
    const struct step steps[] = {{OK_EMPTY, 0, false}};
    REQUIRE(srv_start(steps, 1));
    client_for("127.1");
    struct http_response resp = {0};
    CHECK_EQ_INT(
        http_post(&client, "text/plain", NULL, "x", 1, clock_mono_ns() + 5000000000u, false, &resp),
        -EAGAIN);
    CHECK_EQ_INT(srv.accepts, 0);
    CHECK_EQ_INT(
        http_post(&client, "text/plain", NULL, "x", 1, clock_mono_ns() + 5000000000u, true, &resp),
        0);
    CHECK_EQ_INT(srv.accepts, 1);
    http_close(&client);
    srv_stop();
}

static void test_may_resolve_false(void) {
    struct http_url u;
    REQUIRE(http_url_parse("http://collector.example:4318/v1/traces", &u) == 0);
    http_client_init(&client, &u);
    struct http_response resp = {0};
    CHECK_EQ_INT(
        http_post(&client, "text/plain", NULL, "x", 1, clock_mono_ns() + 1000000000u, false, &resp),
        -EAGAIN);
    CHECK_EQ_INT(client.fd, -1);
    CHECK_EQ_INT(client.naddrs, 0);
}

int main(void) {
    RUN(test_url_parse);
    RUN(test_post_content_length);
    RUN(test_post_chunked);
    RUN(test_post_connection_close);
    RUN(test_post_keep_alive_reuse);
    RUN(test_post_retry_after_server_close);
    RUN(test_post_no_retry);
    RUN(test_post_retry_after);
    RUN(test_post_continue);
    RUN(test_post_until_close);
    RUN(test_post_too_big);
    RUN(test_post_malformed);
    RUN(test_post_status_line);
    RUN(test_ipv4_literal);
    RUN(test_post_large_body);
    RUN(test_post_empty_body);
    RUN(test_post_timeout);
    RUN(test_post_refused);
    RUN(test_post_localhost);
    RUN(test_post_resolver);
    RUN(test_may_resolve_false);
    return test_report("http");
}
