/* fuzz_httpd: libFuzzer target for the local server's HTTP/1.1 request reader (server/httpd.c:
 * the request line, headers, Content-Length and chunked bodies with their trailers, gzip
 * bodies, Expect, keep-alive), which every local process can reach: the receiver's, the API's
 * and the dashboard's port. The input is what a client sends on one connection: one server
 * (httpd_start on a loopback port, as the receiver runs it) gets it over TCP, then the
 * client's end of the write; the harness reads the server's answer to the end. The same
 * bytes go to http_inflate (a request body) and, as a query string, to http_query_param
 * (the API's and the dashboard's parameters). Beyond "no crash, no leak, no undefined
 * behaviour": the server closes the connection within 10 s of the input's end (every loop
 * over a peer's bytes is bounded); every answer starts with an HTTP/1.1 status line; a
 * request the handler sees has its fields NUL-terminated within their arrays and a body
 * within the bounds of httpd.h; a parameter found fits its buffer.
 * Built with clang -fsanitize=fuzzer by scripts/fuzz; run_corpus.c replays the checked-in
 * corpus in every build without libFuzzer. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "server/httpd.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

#define TERMINATED(field) (memchr((field), '\0', sizeof(field)) != NULL)

static void param(const char *query, const char *name) {
    char out[32];
    int rc = http_query_param(query, name, out, sizeof out);
    if (rc == 0 && strlen(out) >= sizeof out) abort();
    if (rc != 0 && rc != -ENOENT && rc != -ENAMETOOLONG) abort();
}

/* Checks what httpd made of a request, and answers with its body. */
static void handler(void *ctx, const struct http_request *req, struct http_response *resp) {
    (void)ctx;
    if (!TERMINATED(req->method) || !TERMINATED(req->path) || !TERMINATED(req->query) ||
        !TERMINATED(req->content_type) || !TERMINATED(req->raw_encoding) ||
        !TERMINATED(req->host) || !TERMINATED(req->origin) || !TERMINATED(req->authorization) ||
        !TERMINATED(req->cookie) || !TERMINATED(req->sec_fetch_site))
        abort();
    if (req->raw_len > HTTPD_MAX_BODY || req->body_len > HTTPD_MAX_INFLATED) abort();
    if (req->raw_encoding[0] == '\0' &&
        (req->body != req->raw_body || req->body_len != req->raw_len))
        abort();
    param(req->query, "where");
    param(req->query, "a");
    volatile uint8_t sum = 0; /* every byte of the body is there to read */
    for (size_t i = 0; i < req->body_len; i++)
        sum += req->body[i];
    http_respond(resp, 200, "application/octet-stream", req->body, req->body_len);
}

static struct httpd *server;

static uint64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void exchange(const unsigned char *data, size_t size) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) abort();
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)httpd_port(server))};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) abort();
    /* the server may answer (and close) before it read everything: sent as far as it takes */
    for (size_t off = 0; off < size;) {
        ssize_t n = send(fd, data + off, size - off, MSG_NOSIGNAL);
        if (n <= 0) break;
        off += (size_t)n;
    }
    shutdown(fd, SHUT_WR);
    char buf[65536];
    size_t got = 0;
    char head[9] = "";
    uint64_t deadline = now_ms() + 10000;
    for (;;) {
        uint64_t now = now_ms();
        if (now >= deadline) {
            fprintf(stderr, "fuzz_httpd: the server did not close within 10 s\n");
            abort();
        }
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, (int)(deadline - now)) <= 0) continue;
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        for (ssize_t i = 0; i < n && got < 8; i++)
            head[got++] = buf[i];
        if (got < 8) continue;
        got = 9; /* seen */
    }
    if (got && strncmp(head, "HTTP/1.1", 8) != 0) abort();
    close(fd);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
    if (server == NULL && (server = httpd_start(0, handler, NULL)) == NULL) {
        perror("fuzz_httpd: httpd_start");
        abort();
    }
    exchange(data, size);
    uint8_t *out = NULL;
    size_t n = 0;
    if (http_inflate(data, size, &out, &n) == 0 && n > HTTPD_MAX_INFLATED) abort();
    free(out);
    char *q = malloc(size + 1);
    if (!q) abort();
    memcpy(q, data, size);
    q[size] = '\0';
    param(q, "where");
    param(q, "");
    free(q);
    return 0;
}
