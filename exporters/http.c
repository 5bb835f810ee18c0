/* http: minimal HTTP/1.1 client. See http.h. */
#include "exporters/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "core/diag.h"
#include "core/fds.h"
#include "core/ids.h"
#include "core/text.h"
#include "exporters/resolve.h"
#include "exporters/retry.h"

/* Parses url into out; on failure *why names what is wrong, in words that
 * never quote the URL (it may hold a password). */
static int url_parse(const char *url, struct http_url *out, const char **why) {
#define BAD(text)                                                                                  \
    do {                                                                                           \
        *why = text;                                                                               \
        return -EINVAL;                                                                            \
    } while (0)
    memset(out, 0, sizeof *out);
    const char *p;
    if (text_iprefix(url, "http://")) {
        p = url + 7;
        out->port = 80;
    } else if (text_iprefix(url, "https://")) {
        p = url + 8;
        out->tls = true;
        out->port = 443;
    } else if (strstr(url, "://")) {
        BAD("its scheme is not supported (http:// or https://)");
    } else {
        BAD("it has no scheme (http:// or https://)");
    }
    const char *end = p + text_cspn(p, "/?#");
    /* user:password@ is refused, never used nor printed: credentials go
     * in OTEL_EXPORTER_OTLP_HEADERS (Authorization=Basic ...). */
    if (memchr(p, '@', (size_t)(end - p)))
        BAD("it holds user information (user:password@), which is not supported; put "
            "credentials in OTEL_EXPORTER_OTLP_HEADERS");
    const char *host = p, *host_end;
    const char *colon = NULL;
    if (*p == '[') { /* IPv6 literal */
        const char *rb = memchr(p, ']', (size_t)(end - p));
        if (!rb) BAD("its IPv6 address has no closing ']'");
        host = p + 1;
        host_end = rb;
        if (rb + 1 < end) {
            if (rb[1] != ':') BAD("something other than a port follows its IPv6 address");
            colon = rb + 1;
        }
    } else {
        colon = memchr(p, ':', (size_t)(end - p));
        host_end = colon ? colon : end;
    }
    size_t hlen = (size_t)(host_end - host);
    if (!hlen) BAD("its host is empty");
    if (hlen >= sizeof out->host) BAD("its host name is too long");
    memcpy(out->host, host, hlen);
    if (colon) {
        unsigned long port = 0;
        const char *d = colon + 1;
        if (d == end) BAD("its port is empty");
        for (; d < end; d++) {
            if (*d < '0' || *d > '9') BAD("its port is not a number");
            port = port * 10 + (unsigned long)(*d - '0');
            if (port > 65535) BAD("its port is above 65535");
        }
        if (!port) BAD("its port is 0");
        out->port = (uint16_t)port;
    }
    size_t alen = (size_t)(end - p);
    if (alen >= sizeof out->authority) BAD("its host and port are too long");
    memcpy(out->authority, p, alen);
    const char *path = *end == '/' ? end : "/";
    size_t plen = text_cspn(path, "#");
    if (plen >= sizeof out->path) BAD("its path is too long");
    memcpy(out->path, path, plen);
    if (*end == '?') { /* "http://h?x" : path is "/?x" */
        snprintf(out->path, sizeof out->path, "/%.*s", (int)strcspn(end, "#"), end);
    }
    return 0;
#undef BAD
}

int http_url_parse(const char *url, struct http_url *out) {
    const char *why;
    return url_parse(url, out, &why);
}

const char *http_url_problem(const char *url) {
    struct http_url u;
    const char *why = NULL;
    return url_parse(url, &u, &why) < 0 ? why : NULL;
}

void http_client_init(struct http_client *c, const struct http_url *url) {
    memset(c, 0, sizeof *c);
    c->url = *url;
    c->fd = -1;
}

void http_close(struct http_client *c) {
    fd_close(&c->fd);
}

static void add_addr(struct http_client *c, const void *sa, socklen_t len) {
    if (c->naddrs >= HTTP_MAX_ADDRS) return;
    memcpy(&c->addrs[c->naddrs], sa, len);
    c->addr_lens[c->naddrs++] = len;
}

/* See http.h. */
bool http_ipv4_literal(const char *s, struct in_addr *out) {
    uint8_t b[4] = {0};
    int parts = 0;
    bool digit = false;
    for (; *s; s++) {
        if (*s >= '0' && *s <= '9') {
            if (!digit) {
                if (++parts > 4) return false;
                digit = true;
            } else if (b[parts - 1] == 0) {
                return false; /* a leading zero */
            }
            unsigned v = b[parts - 1] * 10u + (unsigned)(*s - '0');
            if (v > 255) return false;
            b[parts - 1] = (uint8_t)v;
        } else if (*s == '.' && digit && parts < 4) {
            digit = false;
        } else {
            return false;
        }
    }
    if (parts < 4) return false;
    memcpy(&out->s_addr, b, 4);
    return true;
}

/* strcasecmp(a, b) == 0 and strcasestr(s, needle) != NULL, for ASCII: no
 * libc case tables (each libc function a short process calls only for
 * this is a page of libc's code or data it faults in). */
static bool ieq(const char *a, const char *b) {
    return text_iprefix(a, b) && a[strlen(b)] == '\0';
}

static bool icontains(const char *s, const char *needle) {
    for (; *s; s++)
        if (text_iprefix(s, needle)) return true;
    return false;
}

static int resolve(struct http_client *c, bool may_resolve, uint64_t deadline) {
    if (c->naddrs) return 0;
    struct sockaddr_in v4 = {.sin_family = AF_INET, .sin_port = htons(c->url.port)};
    struct sockaddr_in6 v6 = {.sin6_family = AF_INET6, .sin6_port = htons(c->url.port)};
    if (http_ipv4_literal(c->url.host, &v4.sin_addr)) {
        add_addr(c, &v4, sizeof v4);
        return 0;
    }
    if (strchr(c->url.host, ':') && inet_pton(AF_INET6, c->url.host, &v6.sin6_addr) == 1) {
        add_addr(c, &v6, sizeof v6);
        return 0;
    }
    if (ieq(c->url.host, "localhost")) {
        v4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        add_addr(c, &v4, sizeof v4);
        v6.sin6_addr = in6addr_loopback;
        add_addr(c, &v6, sizeof v6);
        return 0;
    }
    if (!may_resolve) return -EAGAIN;
    /* Bounded by the deadline (resolve.h): a resolver that never answers
     * holds no export past it. */
    struct sockaddr_storage found[HTTP_MAX_ADDRS];
    socklen_t lens[HTTP_MAX_ADDRS];
    int n = resolve_deadline(c->url.host, c->url.port, found, lens, HTTP_MAX_ADDRS, deadline);
    for (int i = 0; i < n; i++)
        add_addr(c, &found[i], lens[i]);
    return n < 0 ? n : c->naddrs ? 0 : -ENONET;
}

/* Waits for events on fd until the deadline. Returns 0, or -ETIMEDOUT. */
static int wait_fd(int fd, short events, uint64_t deadline) {
    for (;;) {
        uint64_t now = clock_mono_ns();
        if (now >= deadline) return -ETIMEDOUT;
        uint64_t ms = (deadline - now + 999999) / 1000000;
        struct pollfd p = {.fd = fd, .events = events};
        int r = poll(&p, 1, ms > 60000 ? 60000 : (int)ms);
        if (r > 0) return 0;
        if (r < 0 && errno != EINTR) return -errno;
    }
}

static int connect_one(const struct sockaddr_storage *sa, socklen_t len, uint64_t deadline) {
    int fd = socket(sa->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return -errno;
    fd = fd_move_high(fd); /* keeps its O_NONBLOCK (a file status flag) */
    if (fd < 0) return fd;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (const struct sockaddr *)sa, len) < 0) {
        int err = errno;
        if (err != EINPROGRESS) {
            close(fd);
            return -err;
        }
        int rc = wait_fd(fd, POLLOUT, deadline);
        socklen_t elen = sizeof err;
        if (rc == 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) == 0 && err) rc = -err;
        if (rc < 0) {
            close(fd);
            return rc;
        }
    }
    return fd;
}

static int ensure_connected(struct http_client *c, uint64_t deadline, bool may_resolve) {
    if (fd_get(&c->fd) >= 0) return 0;
    int rc = resolve(c, may_resolve, deadline);
    if (rc < 0) return rc;
    for (int i = 0; i < c->naddrs; i++) {
        rc = connect_one(&c->addrs[i], c->addr_lens[i], deadline);
        if (rc >= 0) {
            __atomic_store_n(&c->fd, rc, __ATOMIC_RELEASE);
            fd_hold(&c->fd);
            return 0;
        }
        if (rc == -ETIMEDOUT) break;
    }
    return rc;
}

/* fdp: the client's descriptor, read at every step (it moves when the
 * program names its number: core/fds.h). */
static int send_all(const int *fdp, struct iovec *iov, int n, uint64_t deadline) {
    while (n > 0) {
        struct msghdr m = {.msg_iov = iov, .msg_iovlen = (size_t)n};
        int fd = fd_get(fdp);
        if (fd < 0) return -EBADF;
        ssize_t w = sendmsg(fd, &m, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) return -errno;
            int rc = wait_fd(fd, POLLOUT, deadline);
            if (rc < 0) return rc;
            continue;
        }
        size_t done = (size_t)w;
        while (n > 0 && done >= iov->iov_len) {
            done -= iov->iov_len;
            iov++;
            n--;
        }
        if (n > 0) {
            iov->iov_base = (char *)iov->iov_base + done;
            iov->iov_len -= done;
        }
    }
    return 0;
}

/* Response reading state. */
struct reader {
    const int *fd; /* the client's, read at every step */
    uint64_t deadline;
    char buf[8192];
    size_t start, end;
    bool any; /* received at least one byte */
};

/* The answer cannot be there right after we sent: wait first, then read
 * (saves a recv that fails with EAGAIN). */

static int fill(struct reader *r) {
    if (r->start > 0 && r->start == r->end) r->start = r->end = 0;
    if (r->end == sizeof r->buf) {
        if (!r->start) return -E2BIG;
        memmove(r->buf, r->buf + r->start, r->end - r->start);
        r->end -= r->start;
        r->start = 0;
    }
    if (!r->any) {
        int rc = wait_fd(fd_get(r->fd), POLLIN, r->deadline);
        if (rc < 0) return rc;
    }
    for (;;) {
        int fd = fd_get(r->fd);
        if (fd < 0) return -EBADF;
        ssize_t n = recv(fd, r->buf + r->end, sizeof r->buf - r->end, 0);
        if (n > 0) {
            r->end += (size_t)n;
            r->any = true;
            return 0;
        }
        if (n == 0) return -ECONNRESET;
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) return -errno;
        int rc = wait_fd(fd, POLLIN, r->deadline);
        if (rc < 0) return rc;
    }
}

/* Next CRLF-terminated line (CR LF stripped, NUL-terminated in place). */
static int read_line(struct reader *r, char **line) {
    for (;;) {
        char *nl = memchr(r->buf + r->start, '\n', r->end - r->start);
        if (nl) {
            *line = r->buf + r->start;
            *nl = '\0';
            if (nl > *line && nl[-1] == '\r') nl[-1] = '\0';
            r->start = (size_t)(nl - r->buf) + 1;
            return 0;
        }
        int rc = fill(r);
        if (rc < 0) return rc;
    }
}

/* Copies what fits of [p, p+n) into the caller's body buffer. */
static void capture(struct http_response *resp, const char *p, size_t n) {
    size_t room = resp->body_cap - resp->captured;
    if (n > room) n = room;
    if (!n) return;
    memcpy(resp->body + resp->captured, p, n);
    resp->captured += n;
}

/* Consumes n body bytes, capturing what fits. */
static int discard(struct reader *r, uint64_t n, struct http_response *resp) {
    while (n) {
        if (r->start == r->end) {
            int rc = fill(r);
            if (rc < 0) return rc;
        }
        size_t have = r->end - r->start;
        size_t take = have < n ? have : (size_t)n;
        capture(resp, r->buf + r->start, take);
        r->start += take;
        n -= take;
    }
    return 0;
}

/* Every loop over what the peer sends is bounded (a collector must never
 * crash or hang the program): at most HTTP_MAX_INTERIM 1xx responses, at
 * most HTTP_MAX_HEADER_LINES header or trailer lines per response, lines of
 * at most the reader's buffer, a body of at most HTTP_MAX_RESPONSE_BODY, and
 * the deadline over all of it. */
/* What sscanf's %d and strtoll (base 10) take: white space, a sign,
 * digits; false without a digit or on overflow. Hand-written: the scanf and
 * strtol code pages were page faults of every exporting process. */
static bool is_space(char c) {
    return c == ' ' || (c >= '\t' && c <= '\r');
}

static bool scan_int64(const char **s, int64_t *out) {
    const char *p = *s;
    while (is_space(*p))
        p++;
    bool neg = *p == '-';
    if (*p == '-' || *p == '+') p++;
    if (*p < '0' || *p > '9') return false;
    uint64_t v = 0;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (v > (UINT64_MAX - 9) / 10) return false;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    if (v > (uint64_t)INT64_MAX) return false;
    *out = neg ? -(int64_t)v : (int64_t)v;
    *s = p;
    return true;
}

static bool scan_int(const char **s, int *out) {
    int64_t v;
    if (!scan_int64(s, &v) || v > INT_MAX || v < INT_MIN) return false;
    *out = (int)v;
    return true;
}

static int read_head(struct reader *r, struct http_response *resp, bool *keep, int *status_out,
                     int64_t *length, bool *chunked) {
    char *line;
    int rc = read_line(r, &line);
    if (rc < 0) return rc;
    int minor = 0, status = 0;
    const char *p = line + 7;
    if (!text_prefix(line, "HTTP/1.") || !scan_int(&p, &minor) || !scan_int(&p, &status) ||
        status < 100 || status > 999)
        return -EPROTO;
    *keep = minor >= 1;
    *length = -1;
    *chunked = false;
    *status_out = status;
    resp->retry_after_s = -1;
    for (int lines = 0;; lines++) {
        if (lines >= HTTP_MAX_HEADER_LINES) return -EPROTO;
        rc = read_line(r, &line);
        if (rc < 0) return rc;
        if (!*line) break;
        char *colon = strchr(line, ':');
        if (!colon) continue;
        *colon = '\0';
        char *v = colon + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        if (ieq(line, "content-length")) {
            const char *digits = v;
            int64_t n;
            if (!scan_int64(&digits, &n) || n < 0) return -EPROTO;
            *length = n;
        } else if (ieq(line, "transfer-encoding")) {
            *chunked = icontains(v, "chunked");
        } else if (ieq(line, "connection")) {
            if (icontains(v, "close"))
                *keep = false;
            else if (icontains(v, "keep-alive"))
                *keep = true;
        } else if (ieq(line, "retry-after")) {
            resp->retry_after_s = retry_after_parse(v, (int64_t)(clock_now_ns() / 1000000000u));
        }
    }
    return 0;
}

/* Reads status, headers and (discarding it) the body. keep: the connection
 * may be reused. */
static int read_response(struct reader *r, struct http_response *resp, bool *keep) {
    char *line;
    int rc, status = 0;
    int64_t length = -1;
    bool chunked = false;
    for (int interim = 0;; interim++) { /* 1xx (100-continue, 103): skipped */
        if (interim > HTTP_MAX_INTERIM) return -EPROTO;
        if ((rc = read_head(r, resp, keep, &status, &length, &chunked)) < 0) return rc;
        if (status >= 200) break;
    }
    resp->status = status;
    resp->body_len = 0;
    resp->captured = 0;
    if (chunked) {
        for (;;) {
            rc = read_line(r, &line);
            if (rc < 0) return rc;
            char *end;
            errno = 0;
            uint64_t n = strtoull(line, &end, 16);
            if (end == line || errno || (*end && *end != ';' && *end != ' ')) return -EPROTO;
            if (!n) break;
            if (n > HTTP_MAX_RESPONSE_BODY - resp->body_len) return -E2BIG;
            resp->body_len += n;
            if ((rc = discard(r, n, resp)) < 0) return rc;
            if ((rc = read_line(r, &line)) < 0) return rc; /* the chunk's CRLF */
        }
        for (int lines = 0;; lines++) { /* trailers */
            if (lines >= HTTP_MAX_HEADER_LINES) return -EPROTO;
            if ((rc = read_line(r, &line)) < 0) return rc;
            if (!*line) break;
        }
    } else if (length >= 0) {
        if ((uint64_t)length > HTTP_MAX_RESPONSE_BODY) return -E2BIG;
        resp->body_len = (size_t)length;
        if ((rc = discard(r, (uint64_t)length, resp)) < 0) return rc;
    } else if (status != 204 && status != 304) {
        *keep = false; /* body until close */
        for (;;) {
            resp->body_len += r->end - r->start;
            if (resp->body_len > HTTP_MAX_RESPONSE_BODY) return -E2BIG;
            capture(resp, r->buf + r->start, r->end - r->start);
            r->start = r->end;
            rc = fill(r);
            if (rc == -ECONNRESET) break;
            if (rc < 0) return rc;
        }
    }
    return 0;
}

int http_read_response(const int *fd, uint64_t deadline, struct http_response *resp, bool *keep) {
    struct reader r = {.fd = fd, .deadline = deadline};
    *keep = false;
    return read_response(&r, resp, keep);
}

/* n in decimal (no snprintf: see scan_int64). */
static const char *decimal(char out[24], size_t n) {
    char *p = out + 23;
    *p = '\0';
    do {
        *--p = (char)('0' + n % 10);
        n /= 10;
    } while (n);
    return p;
}

/* Writes the request head into out (cap bytes; at most cap - 1 used, as
 * snprintf's limit was). Returns its length, or -E2BIG. */
static ssize_t request_head(char *out, size_t cap, const struct http_client *c,
                            const char *content_type, const char *extra_headers, size_t len) {
    char digits[24];
    const char *parts[] = {"POST ",
                           c->url.path,
                           " HTTP/1.1\r\nHost: ",
                           c->url.authority,
                           "\r\nContent-Type: ",
                           content_type,
                           "\r\nContent-Length: ",
                           decimal(digits, len),
                           "\r\n",
                           extra_headers ? extra_headers : "",
                           "\r\n"};
    size_t hlen = 0;
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        size_t n = strlen(parts[i]);
        if (n >= cap - hlen) return -E2BIG;
        memcpy(out + hlen, parts[i], n);
        hlen += n;
    }
    return (ssize_t)hlen;
}

int http_post(struct http_client *c, const char *content_type, const char *extra_headers,
              const void *body, size_t len, uint64_t deadline, bool may_resolve,
              struct http_response *resp) {
    /* The head is written into the response reader's buffer, sent, and
     * then read over: one 8 KiB buffer on the stack, not two (each fresh
     * stack page is a page fault of a short process). */
    struct reader rd;
    for (int attempt = 0; attempt < 2; attempt++) {
        ssize_t hlen = request_head(rd.buf, sizeof rd.buf, c, content_type, extra_headers, len);
        if (hlen < 0) return (int)hlen;
        bool reused = fd_get(&c->fd) >= 0;
        int rc = ensure_connected(c, deadline, may_resolve);
        if (rc < 0) return rc;
        struct iovec iov[2] = {{rd.buf, (size_t)hlen}, {(void *)body, len}};
        rc = send_all(&c->fd, iov, len ? 2 : 1, deadline);
        struct reader *r = NULL;
        if (rc == 0) {
            r = &rd;
            r->fd = &c->fd;
            r->deadline = deadline;
            r->start = r->end = 0;
            r->any = false;
            bool keep = false;
            rc = read_response(r, resp, &keep);
            if (rc == 0) {
                if (!keep) http_close(c);
                return 0;
            }
        }
        http_close(c);
        /* A kept-alive connection the server closed meanwhile: retry once
         * on a fresh one, but only if nothing of a response arrived. */
        if (!reused || rc == -ETIMEDOUT || (r && r->any)) return rc;
    }
    return -ECONNRESET;
}
