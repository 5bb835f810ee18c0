/* fuzz_parsers: libFuzzer target for the shim's parsers of outside input.
 * The first byte picks the parser, the rest is its input:
 *   0 an HTTP response, as a collector sends it (status line, headers,
 *     chunked or sized bodies, 1xx), read through a socket pair
 *   1 an endpoint URL (http_url_parse, http_url_problem)
 *   2 a mangled C++ name (demangle_name)
 *   3 a Retry-After value
 *   4 an OTLP response body, protobuf and JSON (partial success)
 *   5 OTEL_* variables, one per line (config_load: every value parser,
 *     traceparent, tracestate, baggage, headers, resource attributes)
 *   6 a gRPC response: its body's message frame (grpc_message_frame: the
 *     length prefix), and the same bytes as the values of its trailers
 *     (grpc-status, grpc-message, grpc-status-details-bin's RetryInfo)
 *   7 an OTEL_EXPORTER_OTLP_HEADERS value (otlp_http_header_block: the
 *     header lines every OTLP request carries): lines "name: value\r\n",
 *     the User-Agent first, no CR or LF inside one, nothing after the NUL
 *     that ends the block but what the caller ignores
 * Beyond "no crash, no leak, no undefined behaviour": a response parsed
 * says a status from 200 to 999 and a body no longer than the limit; a URL
 * parses exactly when it has no problem. Built with clang
 * -fsanitize=fuzzer by scripts/fuzz; run_corpus.c replays the checked-in
 * corpus in every build without libFuzzer. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/config.h"
#include "core/demangle.h"
#include "core/ids.h"
#include "exporters/exporter.h"
#include "exporters/http.h"
#include "exporters/otlp_response.h"
#include "exporters/retry.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static char *text(const unsigned char *data, size_t size) {
    char *s = malloc(size + 1);
    if (!s) abort();
    memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

static void response(const unsigned char *data, size_t size) {
    if (size > 100000) return; /* fits a socket pair's buffer */
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) abort();
    int buf = 1 << 20;
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
    setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
    for (size_t off = 0; off < size;) {
        ssize_t n = write(sv[0], data + off, size - off);
        if (n <= 0) break;
        off += (size_t)n;
    }
    shutdown(sv[0], SHUT_WR);
    uint8_t body[256];
    struct http_response resp = {.body = body, .body_cap = sizeof body};
    bool keep;
    if (http_read_response(&sv[1], clock_mono_ns() + 1000000000u, &resp, &keep) == 0) {
        if (resp.status < 200 || resp.status > 999) abort();
        if (resp.body_len > HTTP_MAX_RESPONSE_BODY || resp.captured > sizeof body) abort();
    }
    close(sv[0]);
    close(sv[1]);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
    if (!size) return 0;
    unsigned which = data[0] % 8;
    data++, size--;
    char *s = text(data, size);
    switch (which) {
    case 0:
        response(data, size);
        break;
    case 1: {
        struct http_url u;
        bool ok = http_url_parse(s, &u) == 0;
        if (ok != (http_url_problem(s) == NULL)) abort();
        break;
    }
    case 2: {
        char out[96];
        if (demangle_name(s, out, sizeof out) && strlen(out) >= sizeof out) abort();
        break;
    }
    case 3:
        (void)retry_after_parse(s, 1800000000);
        break;
    case 4: {
        int64_t rejected;
        char msg[64];
        (void)otlp_partial_success_proto(data, size, &rejected, msg, sizeof msg);
        (void)otlp_partial_success_json(s, size, &rejected, msg, sizeof msg);
        break;
    }
    case 5: {
        char *envp[65];
        int n = 0;
        for (char *p = s, *line; n < 64 && (line = strsep(&p, "\n"));)
            if (*line) envp[n++] = line;
        envp[n] = NULL;
        struct config c;
        if (config_load(&c, envp) < 0) {
            /* out of memory: what was made is freed all the same */
        }
        config_free(&c);
        break;
    }
    case 6: {
        const uint8_t *msg;
        size_t len;
        int rc = grpc_message_frame(data, size, &msg, &len);
        if (rc == 0 && (msg < data || len > size || msg + len > data + size)) abort();
        if (rc < 0 && len) abort();
        int code = grpc_status_parse(s);
        if (code < -1) abort();
        char out[64];
        grpc_message_decode(s, size, out, sizeof out);
        if (strlen(out) >= sizeof out) abort();
        int64_t delay;
        if (grpc_retry_info(s, size, &delay) && delay < -1) abort();
        break;
    }
    case 7: {
        char *block = otlp_http_header_block(s);
        if (!block) abort(); /* only out of memory */
        if (strncmp(block, "User-Agent: ", 12) != 0) abort();
        for (const char *line = block; *line;) {
            const char *crlf = strstr(line, "\r\n");
            if (!crlf) abort(); /* a line cut short: by a NUL that was %00 */
            const char *colon = memchr(line, ':', (size_t)(crlf - line));
            if (!colon || memchr(line, '\n', (size_t)(crlf - line))) abort();
            line = crlf + 2;
        }
        free(block);
        break;
    }
    }
    free(s);
    return 0;
}
