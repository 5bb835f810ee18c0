/* httpd: a small, bounded HTTP/1.1 server on loopback. Depends on POSIX sockets, pthreads, zlib. */
#include "server/httpd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

struct httpd {
    int listen_fd;
    int port;
    http_handler handler;
    void *ctx;
    pthread_t acceptor;
    pthread_mutex_t lock;
    pthread_cond_t idle;
    int conns[HTTPD_MAX_CONNS]; /* -1: free slot */
    int n_conns;
    bool stopping;
    struct httpd_stats stats;
};

struct conn {
    struct httpd *h;
    int fd;
    int slot;
    bool peer_loopback;
    char *buf; /* bytes read and not yet consumed */
    size_t len, cap;
};

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool write_all(int fd, const void *p, size_t n) {
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

static const char *reason(int status) {
    switch (status) {
    case 200:
        return "OK";
    case 204:
        return "No Content";
    case 302:
        return "Found";
    case 304:
        return "Not Modified";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 400:
        return "Bad Request";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 411:
        return "Length Required";
    case 413:
        return "Content Too Large";
    case 415:
        return "Unsupported Media Type";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 503:
        return "Service Unavailable";
    default:
        return "Status";
    }
}

static bool send_response_h(int fd, int status, const char *ctype, const void *body, size_t len,
                            bool close_after, const char *extra) {
    char head[1024];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s%s\r\n",
                     status, reason(status), ctype[0] ? ctype : "text/plain", len,
                     close_after ? "Connection: close\r\n" : "", extra);
    if (n < 0 || (size_t)n >= sizeof(head)) return false;
    return write_all(fd, head, (size_t)n) && (len == 0 || write_all(fd, body, len));
}

static bool send_response(int fd, int status, const char *ctype, const void *body, size_t len,
                          bool close_after) {
    return send_response_h(fd, status, ctype, body, len, close_after, "");
}

struct http_stream {
    int fd;
    bool failed;
};

bool http_stream_write(struct http_stream *s, const void *p, size_t n) {
    if (s->failed) return false;
    const char *c = p;
    int64_t deadline = now_ms() + HTTPD_IDLE_MS;
    while (n > 0) {
        struct pollfd pfd = {.fd = s->fd, .events = POLLOUT};
        int64_t left = deadline - now_ms();
        int r = left > 0 ? poll(&pfd, 1, (int)left) : 0;
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0 || (pfd.revents & (POLLERR | POLLHUP))) {
            s->failed = true;
            return false;
        }
        ssize_t w = send(s->fd, c, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (w <= 0) {
            s->failed = true;
            return false;
        }
        c += w;
        n -= (size_t)w;
    }
    return true;
}

bool http_stream_closed(struct http_stream *s, int ms) {
    if (s->failed) return true;
    struct pollfd pfd = {.fd = s->fd, .events = POLLIN | POLLRDHUP};
    int r = poll(&pfd, 1, ms);
    if (r > 0) { /* a stream's peer has nothing to say: data or EOF both end it */
        s->failed = true;
        return true;
    }
    return false;
}

/* An error of the request itself: a google.rpc.Status { code = 1: 3
 * (INVALID_ARGUMENT); message = 2 }, as OTLP/HTTP wants for every 4xx. */
static void send_error(struct conn *c, int status, const char *msg) {
    atomic_fetch_add(&c->h->stats.bad_requests, 1);
    uint8_t body[256];
    size_t n = strlen(msg);
    if (n > 120) n = 120;
    body[0] = 0x08;
    body[1] = 3;
    body[2] = 0x12;
    body[3] = (uint8_t)n;
    memcpy(body + 4, msg, n);
    send_response(c->fd, status, "application/x-protobuf", body, n + 4, true);
}

/* Reads more bytes into c->buf (at most up to `limit` bytes held). Returns
 * >0 bytes read, 0 on EOF/timeout/error/limit. */
static size_t fill(struct conn *c, size_t limit) {
    if (c->len >= limit) return 0;
    if (c->cap - c->len < 4096 && c->cap < limit) {
        size_t ncap = c->cap ? c->cap * 2 : 16384;
        if (ncap > limit) ncap = limit;
        char *p = realloc(c->buf, ncap);
        if (p == NULL) return 0;
        c->buf = p;
        c->cap = ncap;
    }
    size_t room = c->cap - c->len;
    if (room == 0) return 0;
    int64_t deadline = now_ms() + HTTPD_IDLE_MS;
    for (;;) {
        struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
        int64_t left = deadline - now_ms();
        if (left <= 0) return 0;
        int r = poll(&pfd, 1, (int)left);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return 0;
        ssize_t got = recv(c->fd, c->buf + c->len, room, 0);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) return 0;
        c->len += (size_t)got;
        return (size_t)got;
    }
}

static void consume(struct conn *c, size_t n) {
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
}

static char *find_crlf2(char *p, size_t n) {
    for (size_t i = 0; i + 3 < n; i++)
        if (p[i] == '\r' && p[i + 1] == '\n' && p[i + 2] == '\r' && p[i + 3] == '\n') return p + i;
    return NULL;
}

static void copy_trim(char *dst, size_t cap, const char *src, size_t n) {
    while (n > 0 && (*src == ' ' || *src == '\t'))
        src++, n--;
    while (n > 0 && (src[n - 1] == ' ' || src[n - 1] == '\t' || src[n - 1] == '\r'))
        n--;
    if (n >= cap) n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

int http_inflate(const uint8_t *in, size_t n, uint8_t **out, size_t *out_len) {
    z_stream z;
    memset(&z, 0, sizeof(z));
    if (inflateInit2(&z, 15 + 32) != Z_OK) return -ENOMEM;
    size_t cap = n * 4 + 1024, len = 0;
    if (cap > HTTPD_MAX_INFLATED) cap = HTTPD_MAX_INFLATED;
    uint8_t *buf = malloc(cap);
    int rc = -ENOMEM;
    if (buf == NULL) goto done;
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)n;
    for (;;) {
        if (len == cap) {
            if (cap >= HTTPD_MAX_INFLATED) {
                rc = -EMSGSIZE;
                goto done;
            }
            size_t ncap = cap * 2 > HTTPD_MAX_INFLATED ? HTTPD_MAX_INFLATED : cap * 2;
            uint8_t *p = realloc(buf, ncap);
            if (p == NULL) goto done;
            buf = p;
            cap = ncap;
        }
        z.next_out = buf + len;
        z.avail_out = (uInt)(cap - len);
        int zr = inflate(&z, Z_NO_FLUSH);
        len = cap - z.avail_out;
        if (zr == Z_STREAM_END) break;
        if (zr != Z_OK && !(zr == Z_BUF_ERROR && z.avail_out == 0)) {
            rc = -EINVAL;
            goto done;
        }
        if (z.avail_in == 0 && z.avail_out > 0) { /* truncated stream */
            rc = -EINVAL;
            goto done;
        }
    }
    *out = buf;
    *out_len = len;
    buf = NULL;
    rc = 0;
done:
    free(buf);
    inflateEnd(&z);
    return rc;
}

static int hexval(int ch) {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

/* Decodes a chunked body starting at c->buf[start]; on success the body is
 * compacted in place at c->buf + start, *body_len set and *end the offset of
 * the byte after the message. Returns 0, or an HTTP status on failure. */
static int read_chunked(struct conn *c, size_t start, size_t *body_len, size_t *end) {
    size_t in = start, out = start;
    for (;;) {
        char *nl;
        while ((nl = memchr(c->buf + in, '\n', c->len - in)) == NULL) {
            if (c->len - in > 64) return 400;
            if (fill(c, HTTPD_MAX_HEADER + HTTPD_MAX_BODY + 1024) == 0) return 400;
        }
        /* The size, in hex up to the line's end (an extension may follow). Not strtoull:
         * it skips leading white space, newlines included, so an empty line read the next
         * line's size, and it reads on past the bytes received (the buffer has no NUL). */
        size_t at = in, eol = (size_t)(nl - c->buf), sz = 0;
        while (at < eol && (c->buf[at] == ' ' || c->buf[at] == '\t'))
            at++;
        if (at == eol || hexval((unsigned char)c->buf[at]) < 0) return 400;
        for (; at < eol && hexval((unsigned char)c->buf[at]) >= 0; at++) {
            sz = sz * 16 + (size_t)hexval((unsigned char)c->buf[at]);
            if (sz > HTTPD_MAX_BODY) return 413;
        }
        in = eol + 1;
        if (sz == 0) { /* trailers: up to an empty line */
            for (;;) {
                while ((nl = memchr(c->buf + in, '\n', c->len - in)) == NULL) {
                    if (c->len - in > 4096) return 431;
                    if (fill(c, HTTPD_MAX_HEADER + HTTPD_MAX_BODY + 1024) == 0) return 400;
                }
                size_t line = (size_t)(nl - (c->buf + in));
                in = (size_t)(nl - c->buf) + 1;
                if (line == 0 || (line == 1 && c->buf[in - 2] == '\r')) break;
            }
            *body_len = out - start;
            *end = in;
            return 0;
        }
        if (sz > HTTPD_MAX_BODY || out - start + sz > HTTPD_MAX_BODY) return 413;
        while (c->len - in < sz + 2)
            if (fill(c, HTTPD_MAX_HEADER + HTTPD_MAX_BODY + 1024) == 0) return 400;
        memmove(c->buf + out, c->buf + in, sz);
        out += sz;
        in += sz;
        if (c->buf[in] == '\r') in++;
        if (c->buf[in] != '\n') return 400;
        in++;
    }
}

/* Serves one request. Returns false when the connection must close. */
static bool serve_one(struct conn *c) {
    char *hend;
    while ((hend = find_crlf2(c->buf, c->len)) == NULL) {
        if (c->len >= HTTPD_MAX_HEADER) {
            send_error(c, 431, "request head larger than 64 KiB");
            return false;
        }
        if (fill(c, HTTPD_MAX_HEADER) == 0) {
            if (c->len > 0) send_error(c, 400, "incomplete request head");
            return false;
        }
    }
    size_t head_len = (size_t)(hend - c->buf) + 4;
    struct http_request req;
    memset(&req, 0, sizeof(req));
    char encoding[64] = "", expect[64] = "", connection[64] = "";
    bool chunked = false, has_length = false;
    unsigned long long content_length = 0;

    /* request line */
    char *line = c->buf, *eol = memchr(line, '\n', head_len);
    char *sp1 = memchr(line, ' ', (size_t)(eol - line));
    char *sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1)) : NULL;
    if (sp1 == NULL || sp2 == NULL || (size_t)(sp1 - line) >= sizeof(req.method) ||
        strncmp(sp2 + 1, "HTTP/1.", 7) != 0) {
        send_error(c, 400, "malformed request line");
        return false;
    }
    memcpy(req.method, line, (size_t)(sp1 - line));
    char *target = sp1 + 1;
    size_t tlen = (size_t)(sp2 - target);
    char *q = memchr(target, '?', tlen);
    size_t plen = q ? (size_t)(q - target) : tlen;
    if (plen >= sizeof(req.path) || (q && tlen - plen - 1 >= sizeof(req.query))) {
        send_error(c, 400, "request target too long");
        return false;
    }
    memcpy(req.path, target, plen);
    if (q) memcpy(req.query, q + 1, tlen - plen - 1);

    /* headers */
    for (line = eol + 1; line < c->buf + head_len - 2; line = eol + 1) {
        eol = memchr(line, '\n', (size_t)(c->buf + head_len - line));
        if (eol == NULL) break;
        char *colon = memchr(line, ':', (size_t)(eol - line));
        if (colon == NULL) {
            send_error(c, 400, "malformed header line");
            return false;
        }
        size_t nlen = (size_t)(colon - line);
        const char *v = colon + 1;
        size_t vlen = (size_t)(eol - v);
#define IS(name) (nlen == sizeof(name) - 1 && strncasecmp(line, name, nlen) == 0)
        if (IS("content-type")) {
            copy_trim(req.content_type, sizeof(req.content_type), v, vlen);
        } else if (IS("content-encoding")) {
            copy_trim(encoding, sizeof(encoding), v, vlen);
        } else if (IS("expect")) {
            copy_trim(expect, sizeof(expect), v, vlen);
        } else if (IS("connection")) {
            copy_trim(connection, sizeof(connection), v, vlen);
        } else if (IS("transfer-encoding")) {
            char te[64];
            copy_trim(te, sizeof(te), v, vlen);
            if (strcasecmp(te, "chunked") != 0) {
                send_error(c, 501, "only chunked transfer coding is supported");
                return false;
            }
            chunked = true;
        } else if (IS("host")) {
            copy_trim(req.host, sizeof(req.host), v, vlen);
        } else if (IS("origin")) {
            copy_trim(req.origin, sizeof(req.origin), v, vlen);
        } else if (IS("authorization")) {
            copy_trim(req.authorization, sizeof(req.authorization), v, vlen);
        } else if (IS("cookie")) {
            copy_trim(req.cookie, sizeof(req.cookie), v, vlen);
        } else if (IS("sec-fetch-site")) {
            copy_trim(req.sec_fetch_site, sizeof(req.sec_fetch_site), v, vlen);
        } else if (IS("content-length")) {
            char num[32];
            copy_trim(num, sizeof(num), v, vlen);
            char *endp;
            errno = 0;
            content_length = strtoull(num, &endp, 10);
            if (num[0] == '\0' || *endp != '\0' || errno != 0) {
                send_error(c, 400, "bad Content-Length");
                return false;
            }
            has_length = true;
        }
#undef IS
    }
    /* a request without a length has no body; those that mean to send one must say so */
    bool bodyless = strcmp(req.method, "GET") == 0 || strcmp(req.method, "HEAD") == 0 ||
                    strcmp(req.method, "DELETE") == 0 || strcmp(req.method, "OPTIONS") == 0;
    if (!bodyless && !chunked && !has_length) {
        send_error(c, 411, "Content-Length required");
        return false;
    }
    if (has_length && content_length > HTTPD_MAX_BODY) {
        send_error(c, 413, "request body larger than 32 MiB");
        return false;
    }
    if (strcasecmp(expect, "100-continue") == 0) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        if (!write_all(c->fd, cont, sizeof(cont) - 1)) return false;
    }
    size_t body_len = 0, msg_end = head_len;
    if (chunked) {
        int st = read_chunked(c, head_len, &body_len, &msg_end);
        if (st != 0) {
            send_error(c, st, st == 413 ? "request body larger than 32 MiB" : "bad chunked body");
            return false;
        }
    } else if (has_length) {
        while (c->len - head_len < content_length)
            if (fill(c, head_len + (size_t)content_length) == 0) {
                send_error(c, 400, "request body shorter than its Content-Length");
                return false;
            }
        body_len = (size_t)content_length;
        msg_end = head_len + body_len;
    }
    uint8_t *inflated = NULL;
    req.body = (const uint8_t *)c->buf + head_len;
    req.body_len = body_len;
    req.raw_body = req.body;
    req.raw_len = body_len;
    if (strcasecmp(encoding, "identity") != 0)
        snprintf(req.raw_encoding, sizeof(req.raw_encoding), "%s", encoding);
    if (encoding[0] != '\0' && strcasecmp(encoding, "identity") != 0) {
        if (strcasecmp(encoding, "gzip") != 0 && strcasecmp(encoding, "deflate") != 0) {
            send_error(c, 415, "unsupported Content-Encoding (gzip and identity are)");
            return false;
        }
        size_t n = 0;
        int rc = http_inflate(req.body, body_len, &inflated, &n);
        if (rc != 0) {
            send_error(c, rc == -EMSGSIZE ? 413 : 400,
                       rc == -EMSGSIZE ? "inflated body larger than 64 MiB" : "corrupt gzip body");
            return false;
        }
        req.body = inflated;
        req.body_len = n;
    }

    req.peer_loopback = c->peer_loopback;
    atomic_fetch_add(&c->h->stats.requests, 1);
    struct http_response resp = {.status = 200};
    c->h->handler(c->h->ctx, &req, &resp);
    free(inflated);
    if (resp.stream != NULL) {
        char head[1024];
        int n =
            snprintf(head, sizeof(head),
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nCache-Control: no-store\r\n"
                     "Connection: close\r\n%s\r\n",
                     resp.status, reason(resp.status),
                     resp.content_type[0] ? resp.content_type : "text/event-stream", resp.headers);
        struct http_stream s = {.fd = c->fd};
        s.failed = n < 0 || (size_t)n >= sizeof(head) || !write_all(c->fd, head, (size_t)n);
        resp.stream(resp.stream_ctx, &s);
        free(resp.body);
        return false;
    }
    bool close_after = strcasecmp(connection, "close") == 0;
    bool ok = send_response_h(
        c->fd, resp.status, resp.content_type, strcmp(req.method, "HEAD") == 0 ? NULL : resp.body,
        strcmp(req.method, "HEAD") == 0 ? 0 : resp.body_len, close_after, resp.headers);
    free(resp.body);
    consume(c, msg_end);
    return ok && !close_after;
}

static void *conn_main(void *arg) {
    struct conn *c = arg;
    while (serve_one(c)) {
    }
    struct httpd *h = c->h;
    pthread_mutex_lock(&h->lock);
    close(c->fd);
    h->conns[c->slot] = -1;
    h->n_conns--;
    pthread_cond_broadcast(&h->idle);
    pthread_mutex_unlock(&h->lock);
    free(c->buf);
    free(c);
    return NULL;
}

static bool sockaddr_is_loopback(const struct sockaddr_storage *ss) {
    if (ss->ss_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr) >> 24) == 127;
    if (ss->ss_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
        if (IN6_IS_ADDR_LOOPBACK(a)) return true;
        if (IN6_IS_ADDR_V4MAPPED(a)) return a->s6_addr[12] == 127;
    }
    return false;
}

static void *accept_main(void *arg) {
    struct httpd *h = arg;
    for (;;) {
        struct sockaddr_storage peer;
        socklen_t peer_len = sizeof(peer);
        int fd = accept4(h->listen_fd, (struct sockaddr *)&peer, &peer_len, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            pthread_mutex_lock(&h->lock);
            bool stop = h->stopping;
            pthread_mutex_unlock(&h->lock);
            if (stop) return NULL;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                usleep(10000);
                continue;
            }
            return NULL;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        pthread_mutex_lock(&h->lock);
        int slot = -1;
        if (!h->stopping)
            for (int i = 0; i < HTTPD_MAX_CONNS; i++)
                if (h->conns[i] < 0) {
                    slot = i;
                    break;
                }
        struct conn *c = slot >= 0 ? calloc(1, sizeof(*c)) : NULL;
        pthread_t t;
        pthread_attr_t attr;
        bool started = false;
        if (c != NULL) {
            c->h = h;
            c->fd = fd;
            c->slot = slot;
            c->peer_loopback = sockaddr_is_loopback(&peer);
            h->conns[slot] = fd;
            h->n_conns++;
            pthread_attr_init(&attr);
            pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
            pthread_attr_setstacksize(&attr, 256 * 1024);
            started = pthread_create(&t, &attr, conn_main, c) == 0;
            pthread_attr_destroy(&attr);
            if (!started) {
                h->conns[slot] = -1;
                h->n_conns--;
                free(c);
            }
        }
        pthread_mutex_unlock(&h->lock);
        if (!started) {
            atomic_fetch_add(&h->stats.refused_conns, 1);
            static const char busy[] = "too many connections";
            send_response(fd, 503, "text/plain", busy, sizeof(busy) - 1, true);
            close(fd);
        }
    }
}

bool http_addr_is_loopback(const char *addr) {
    if (addr == NULL || strcmp(addr, "localhost") == 0) return true;
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, addr, &a4) == 1) return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, addr, &a6) == 1) return IN6_IS_ADDR_LOOPBACK(&a6);
    return false;
}

struct httpd *httpd_start(int port, http_handler handler, void *ctx) {
    return httpd_start_on(NULL, port, handler, ctx);
}

struct httpd *httpd_start_on(const char *addr, int port, http_handler handler, void *ctx) {
    struct sockaddr_storage ss;
    socklen_t ss_len;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    if (addr == NULL || strcmp(addr, "localhost") == 0) addr = "127.0.0.1";
    if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        ss_len = sizeof(*s4);
    } else if (inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        ss_len = sizeof(*s6);
    } else {
        errno = EINVAL;
        return NULL;
    }
    struct httpd *h = calloc(1, sizeof(*h));
    if (h == NULL) return NULL;
    h->handler = handler;
    h->ctx = ctx;
    for (int i = 0; i < HTTPD_MAX_CONNS; i++)
        h->conns[i] = -1;
    pthread_mutex_init(&h->lock, NULL);
    pthread_cond_init(&h->idle, NULL);
    h->listen_fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (h->listen_fd < 0) goto fail;
    int one = 1;
    setsockopt(h->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(h->listen_fd, (struct sockaddr *)&ss, ss_len) != 0 || listen(h->listen_fd, 128) != 0)
        goto fail;
    socklen_t sl = sizeof(ss);
    if (getsockname(h->listen_fd, (struct sockaddr *)&ss, &sl) != 0) goto fail;
    h->port = ntohs(ss.ss_family == AF_INET ? s4->sin_port : s6->sin6_port);
    if ((errno = pthread_create(&h->acceptor, NULL, accept_main, h)) != 0) goto fail;
    return h;
fail:;
    int e = errno;
    if (h->listen_fd >= 0) close(h->listen_fd);
    pthread_mutex_destroy(&h->lock);
    pthread_cond_destroy(&h->idle);
    free(h);
    errno = e;
    return NULL;
}

int httpd_port(const struct httpd *h) {
    return h->port;
}

const struct httpd_stats *httpd_stats(const struct httpd *h) {
    return &h->stats;
}

void httpd_stop(struct httpd *h) {
    if (h == NULL) return;
    pthread_mutex_lock(&h->lock);
    h->stopping = true;
    pthread_mutex_unlock(&h->lock);
    shutdown(h->listen_fd, SHUT_RDWR);
    pthread_join(h->acceptor, NULL);
    close(h->listen_fd);
    pthread_mutex_lock(&h->lock);
    for (int i = 0; i < HTTPD_MAX_CONNS; i++)
        if (h->conns[i] >= 0) shutdown(h->conns[i], SHUT_RDWR);
    while (h->n_conns > 0)
        pthread_cond_wait(&h->idle, &h->lock);
    pthread_mutex_unlock(&h->lock);
    pthread_mutex_destroy(&h->lock);
    pthread_cond_destroy(&h->idle);
    free(h);
}

void http_respond(struct http_response *resp, int status, const char *content_type,
                  const void *body, size_t len) {
    resp->status = status;
    snprintf(resp->content_type, sizeof(resp->content_type), "%s", content_type);
    free(resp->body);
    resp->body = NULL;
    resp->body_len = 0;
    if (len > 0) {
        resp->body = malloc(len);
        if (resp->body == NULL) {
            resp->status = 500;
            return;
        }
        memcpy(resp->body, body, len);
        resp->body_len = len;
    }
}

int http_query_param(const char *query, const char *name, char *out, size_t cap) {
    size_t nlen = strlen(name);
    const char *p = query;
    while (p != NULL && *p != '\0') {
        const char *amp = strchr(p, '&');
        const char *end = amp ? amp : p + strlen(p);
        if ((size_t)(end - p) > nlen && strncmp(p, name, nlen) == 0 && p[nlen] == '=') {
            size_t o = 0;
            for (const char *s = p + nlen + 1; s < end; s++) {
                int ch = (unsigned char)*s;
                if (ch == '+') {
                    ch = ' ';
                } else if (ch == '%' && end - s >= 3 && hexval(s[1]) >= 0 && hexval(s[2]) >= 0) {
                    ch = hexval(s[1]) * 16 + hexval(s[2]);
                    s += 2;
                }
                if (o + 1 >= cap) return -ENAMETOOLONG;
                out[o++] = (char)ch;
            }
            out[o] = '\0';
            return 0;
        }
        if (end - p == (ptrdiff_t)nlen && strncmp(p, name, nlen) == 0) {
            if (cap < 1) return -ENAMETOOLONG;
            out[0] = '\0';
            return 0;
        }
        p = amp ? amp + 1 : NULL;
    }
    return -ENOENT;
}
