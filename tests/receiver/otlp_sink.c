/* otlp_sink: fast OTLP/HTTP test receiver that saves every request to files.
 * Depends on POSIX sockets, pthreads and Linux signalfd; nothing of the shim.
 *
 * One thread per connection (detached, small stack); the main thread polls
 * the listening socket and a signalfd for SIGTERM/SIGINT. Each request is
 * read whole (Content-Length or chunked body), numbered with a global
 * sequence, saved as OUT/NNNNNN.bin (body) and OUT/NNNNNN.meta ("METHOD
 * PATH" then the request header lines), each written to a dot-temp name and
 * renamed, .bin before .meta: a .meta file means the request is complete.
 * Files are saved before the reply is sent, so a client that got its answer
 * can rely on them being there.
 *
 * Fault injection picks the reply from the request's sequence number:
 * --status-seq lists one action per request (a status code, "close",
 * "silent", or "reset": half a response head, then a TCP reset), the last
 * one repeating; --status/--close/--silent are the one-element forms.
 * --delay-ms, --retry-after and --response-body-bytes shape every reply;
 * --partial N makes 2xx replies carry an OTLP partial_success rejecting N
 * (protobuf, or JSON for a JSON request). Each .meta ends with
 * "x-received-ms: N" (ms on the monotonic clock when the request was
 * complete), for tests of retry timing. Tests must only ever bind and talk
 * to 127.0.0.1.
 *
 * Usage: otlp_sink [--port N] [--port-file FILE] (--out DIR | --count-only)
 *                  [--status CODE | --status-seq A,B,... | --close | --silent]
 *                  [--retry-after VALUE] [--delay-ms N] [--response-body-bytes N]
 *                  [--partial N]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define MAX_HEADER_BYTES (64 * 1024)
#define MAX_BODY_BYTES ((size_t)256 * 1024 * 1024)
#define MAX_SEQ_ACTIONS 64
#define IDLE_TIMEOUT_MS 60000
#define STOP_GRACE_MS 2000
#define THREAD_STACK_BYTES (256 * 1024)

enum action_kind { ACTION_REPLY, ACTION_CLOSE, ACTION_SILENT, ACTION_RESET };

struct action {
    enum action_kind kind;
    int status;
};

static struct config {
    int port;
    const char *port_file;
    const char *out_dir;
    bool count_only;
    struct action actions[MAX_SEQ_ACTIONS];
    size_t n_actions;
    const char *retry_after;
    long delay_ms;
    size_t response_body_bytes;
    long partial;
} cfg = {.actions = {{ACTION_REPLY, 200}}, .n_actions = 1};

static char *response_body; /* response_body_bytes of 'x' */
static atomic_ulong seq_counter;
static atomic_ulong bytes_total;
static atomic_int saving; /* requests between "fully read" and "files renamed" */

/* ---- small helpers ------------------------------------------------------ */

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "otlp_sink: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(2);
}

static bool parse_long(const char *s, long min, long max, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max) return false;
    *out = v;
    return true;
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
    }
}

static long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static bool send_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        p += w;
        n -= (size_t)w;
    }
    return true;
}

static bool write_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        p += w;
        n -= (size_t)w;
    }
    return true;
}

/* Writes data to dir/.name.tmp, then renames it to dir/name. */
static bool write_file_atomic(const char *dir, const char *name, const char *data, size_t len) {
    char tmp[PATH_MAX], final[PATH_MAX];
    if (snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name) >= (int)sizeof(tmp) ||
        snprintf(final, sizeof(final), "%s/%s", dir, name) >= (int)sizeof(final))
        return false;
    /* O_EXCL rather than O_TRUNC: ext4 flushes truncated files on close
     * (auto_da_alloc), which costs a millisecond per request. */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0 && errno == EEXIST && unlink(tmp) == 0)
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) return false;
    bool ok = write_all(fd, data, len);
    if (close(fd) != 0) ok = false;
    if (ok && rename(tmp, final) != 0) ok = false;
    if (!ok) unlink(tmp);
    return ok;
}

/* ---- connection buffer -------------------------------------------------- */

struct conn {
    int fd;
    char *buf; /* received bytes not yet consumed: buf[pos, len) */
    size_t cap, len, pos;
};

/* Receives more bytes; false on EOF, error or idle timeout. */
static bool conn_fill(struct conn *c) {
    if (c->pos > 0 && c->pos == c->len) c->pos = c->len = 0;
    if (c->len == c->cap) {
        if (c->pos > 0) {
            memmove(c->buf, c->buf + c->pos, c->len - c->pos);
            c->len -= c->pos;
            c->pos = 0;
        } else {
            size_t ncap = c->cap * 2;
            char *nb = realloc(c->buf, ncap);
            if (nb == NULL) return false;
            c->buf = nb;
            c->cap = ncap;
        }
    }
    for (;;) {
        struct pollfd p = {c->fd, POLLIN, 0};
        int r = poll(&p, 1, IDLE_TIMEOUT_MS);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return false;
        ssize_t n = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        c->len += (size_t)n;
        return true;
    }
}

/* Finds the next line from pos; returns its length (without CRLF/LF) and
 * sets *next to the offset after its terminator, or -1 on EOF/too long. */
static long conn_line(struct conn *c, size_t *next, size_t max) {
    size_t scanned = c->pos;
    for (;;) {
        char *nl = memchr(c->buf + scanned, '\n', c->len - scanned);
        if (nl != NULL) {
            size_t end = (size_t)(nl - c->buf);
            *next = end + 1;
            if (end > c->pos && c->buf[end - 1] == '\r') end--;
            return (long)(end - c->pos);
        }
        if (c->len - c->pos > max) return -1;
        size_t off = c->len - c->pos;
        if (!conn_fill(c)) return -1;
        scanned = c->pos + off; /* conn_fill may have moved data to the front */
    }
}

/* ---- request parsing --------------------------------------------------- */

struct request {
    char *head; /* copy of the request line and header lines, '\n'-separated */
    size_t head_len;
    char method[16];
    char *target;
    bool http11;
    bool keep_alive;
    bool chunked;
    bool expect_continue;
    bool has_length;
    bool json;
    size_t content_length;
    char *body;
    size_t body_len, body_cap;
};

static void request_reset(struct request *r) {
    free(r->head);
    free(r->target);
    free(r->body);
    memset(r, 0, sizeof(*r));
}

static bool body_reserve(struct request *r, size_t need) {
    if (need <= r->body_cap) return true;
    size_t ncap = r->body_cap ? r->body_cap : 4096;
    while (ncap < need)
        ncap *= 2;
    char *nb = realloc(r->body, ncap);
    if (nb == NULL) return false;
    r->body = nb;
    r->body_cap = ncap;
    return true;
}

/* Copies n body bytes from the connection into the request body. */
static bool read_body_bytes(struct conn *c, struct request *r, size_t n) {
    if (r->body_len + n > MAX_BODY_BYTES || !body_reserve(r, r->body_len + n)) return false;
    while (n > 0) {
        if (c->pos == c->len && !conn_fill(c)) return false;
        size_t take = c->len - c->pos;
        if (take > n) take = n;
        memcpy(r->body + r->body_len, c->buf + c->pos, take);
        r->body_len += take;
        c->pos += take;
        n -= take;
    }
    return true;
}

static bool header_is(const char *line, size_t len, const char *name, const char **value,
                      size_t *value_len) {
    size_t n = strlen(name);
    if (len <= n || strncasecmp(line, name, n) != 0 || line[n] != ':') return false;
    size_t i = n + 1;
    while (i < len && (line[i] == ' ' || line[i] == '\t'))
        i++;
    size_t end = len;
    while (end > i && (line[end - 1] == ' ' || line[end - 1] == '\t'))
        end--;
    *value = line + i;
    *value_len = end - i;
    return true;
}

static bool token_in(const char *v, size_t vlen, const char *token) {
    size_t tl = strlen(token);
    for (size_t i = 0; i + tl <= vlen; i++) {
        if (strncasecmp(v + i, token, tl) == 0 && (i == 0 || v[i - 1] == ',' || v[i - 1] == ' ') &&
            (i + tl == vlen || v[i + tl] == ',' || v[i + tl] == ' '))
            return true;
    }
    return false;
}

enum read_result { READ_OK, READ_EOF, READ_BAD, READ_TOO_LARGE };

/* Reads the request line and headers. */
static enum read_result read_head(struct conn *c, struct request *r) {
    size_t next;
    long len;
    /* tolerate empty lines before a request (RFC 9112 2.2) */
    do {
        if (c->pos == c->len && !conn_fill(c)) return READ_EOF;
        len = conn_line(c, &next, MAX_HEADER_BYTES);
        if (len < 0) return c->len > c->pos ? READ_BAD : READ_EOF;
        if (len == 0) c->pos = next;
    } while (len == 0);

    r->head = malloc(MAX_HEADER_BYTES + 2);
    if (r->head == NULL) return READ_BAD;

    /* request line: METHOD SP target SP HTTP/1.x */
    const char *line = c->buf + c->pos;
    const char *sp1 = memchr(line, ' ', (size_t)len);
    const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(line + len - sp1 - 1)) : NULL;
    if (sp1 == NULL || sp2 == NULL || sp1 == line || (size_t)(sp1 - line) >= sizeof(r->method) ||
        sp2 == sp1 + 1)
        return READ_BAD;
    size_t vlen = (size_t)(line + len - sp2 - 1);
    if (vlen == 8 && memcmp(sp2 + 1, "HTTP/1.1", 8) == 0)
        r->http11 = true;
    else if (!(vlen == 8 && memcmp(sp2 + 1, "HTTP/1.0", 8) == 0))
        return READ_BAD;
    memcpy(r->method, line, (size_t)(sp1 - line));
    r->target = strndup(sp1 + 1, (size_t)(sp2 - sp1 - 1));
    if (r->target == NULL) return READ_BAD;
    r->keep_alive = r->http11;
    r->head_len = (size_t)snprintf(r->head, MAX_HEADER_BYTES, "%s %s\n", r->method, r->target);
    c->pos = next;

    for (;;) {
        len = conn_line(c, &next, MAX_HEADER_BYTES);
        if (len < 0) return READ_BAD;
        line = c->buf + c->pos;
        if (len == 0) {
            c->pos = next;
            break;
        }
        if (r->head_len + (size_t)len + 1 > MAX_HEADER_BYTES) return READ_TOO_LARGE;
        memcpy(r->head + r->head_len, line, (size_t)len);
        r->head_len += (size_t)len;
        r->head[r->head_len++] = '\n';

        const char *v;
        size_t vl;
        if (header_is(line, (size_t)len, "Content-Length", &v, &vl)) {
            size_t n = 0;
            if (vl == 0 || vl > 12) return READ_BAD;
            for (size_t i = 0; i < vl; i++) {
                if (v[i] < '0' || v[i] > '9') return READ_BAD;
                n = n * 10 + (size_t)(v[i] - '0');
            }
            if (r->has_length && n != r->content_length) return READ_BAD;
            r->has_length = true;
            r->content_length = n;
        } else if (header_is(line, (size_t)len, "Transfer-Encoding", &v, &vl)) {
            if (!token_in(v, vl, "chunked"))
                return READ_BAD; /* no other coding makes sense for a receiver */
            r->chunked = true;
        } else if (header_is(line, (size_t)len, "Connection", &v, &vl)) {
            if (token_in(v, vl, "close"))
                r->keep_alive = false;
            else if (token_in(v, vl, "keep-alive"))
                r->keep_alive = true;
        } else if (header_is(line, (size_t)len, "Content-Type", &v, &vl)) {
            r->json = vl >= 16 && !strncasecmp(v, "application/json", 16);
        } else if (header_is(line, (size_t)len, "Expect", &v, &vl)) {
            r->expect_continue = vl == 12 && strncasecmp(v, "100-continue", 12) == 0;
        }
        c->pos = next;
    }
    r->head[r->head_len] = '\0';
    if (r->chunked && r->has_length) return READ_BAD; /* RFC 9112 6.3: a request smuggling signal */
    if (r->has_length && r->content_length > MAX_BODY_BYTES) return READ_TOO_LARGE;
    return READ_OK;
}

static enum read_result read_chunked(struct conn *c, struct request *r) {
    for (;;) {
        size_t next;
        long len = conn_line(c, &next, 1024);
        if (len <= 0) return READ_BAD;
        const char *line = c->buf + c->pos;
        size_t n = 0, i = 0;
        for (; i < (size_t)len; i++) {
            char ch = line[i];
            int d = ch >= '0' && ch <= '9'   ? ch - '0'
                    : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                    : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                             : -1;
            if (d < 0) break;
            if (n > MAX_BODY_BYTES) return READ_TOO_LARGE;
            n = n * 16 + (size_t)d;
        }
        if (i == 0 || (i < (size_t)len && line[i] != ';' && line[i] != ' ' && line[i] != '\t'))
            return READ_BAD;
        c->pos = next;
        if (n == 0) break;
        if (r->body_len + n > MAX_BODY_BYTES) return READ_TOO_LARGE;
        if (!read_body_bytes(c, r, n)) return READ_BAD;
        len = conn_line(c, &next, 16);
        if (len != 0) return READ_BAD;
        c->pos = next;
    }
    /* trailer section, ended by an empty line */
    for (;;) {
        size_t next;
        long len = conn_line(c, &next, MAX_HEADER_BYTES);
        if (len < 0) return READ_BAD;
        c->pos = next;
        if (len == 0) return READ_OK;
    }
}

/* ---- replies ---------------------------------------------------------- */

static const char *reason_phrase(int status) {
    switch (status) {
    case 200:
        return "OK";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 408:
        return "Request Timeout";
    case 413:
        return "Content Too Large";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return "Status";
    }
}

/* The OTLP partial_success answer (the same shape for every signal). */
static size_t partial_body(char *out, size_t cap, bool json) {
    if (json)
        return (size_t)snprintf(
            out, cap,
            "{\"partialSuccess\":{\"rejectedSpans\":\"%ld\","
            "\"rejectedLogRecords\":\"%ld\",\"errorMessage\":\"sink rejects\"}}",
            cfg.partial, cfg.partial);
    /* field 1 { rejected = 1 (varint), error_message = 2 } */
    uint8_t inner[32];
    size_t n = 0;
    inner[n++] = 0x08;
    for (uint64_t v = (uint64_t)cfg.partial;; v >>= 7) {
        inner[n++] = (uint8_t)(v < 0x80 ? v : (v & 0x7f) | 0x80);
        if (v < 0x80) break;
    }
    static const char msg[] = "sink rejects";
    inner[n++] = 0x12;
    inner[n++] = (uint8_t)(sizeof msg - 1);
    memcpy(inner + n, msg, sizeof msg - 1);
    n += sizeof msg - 1;
    if (cap < n + 2) return 0;
    out[0] = 0x0a;
    out[1] = (char)n;
    memcpy(out + 2, inner, n);
    return n + 2;
}

static bool send_reply(int fd, int status, bool keep_alive, size_t body_bytes, bool json) {
    char head[512];
    char partial[128];
    const char *body = response_body;
    bool no_body = status == 204 || status == 304 || status < 200;
    if (cfg.partial && status >= 200 && status < 300 && !no_body) {
        body_bytes = partial_body(partial, sizeof partial, json);
        body = partial;
    }
    int n =
        snprintf(head, sizeof(head), "HTTP/1.1 %d %s\r\nContent-Type: application/x-protobuf\r\n",
                 status, reason_phrase(status));
    if (!no_body)
        n += snprintf(head + n, sizeof(head) - (size_t)n, "Content-Length: %zu\r\n", body_bytes);
    if (cfg.retry_after != NULL && (status < 200 || status >= 300))
        n += snprintf(head + n, sizeof(head) - (size_t)n, "Retry-After: %s\r\n", cfg.retry_after);
    if (!keep_alive) n += snprintf(head + n, sizeof(head) - (size_t)n, "Connection: close\r\n");
    n += snprintf(head + n, sizeof(head) - (size_t)n, "\r\n");
    if (n >= (int)sizeof(head)) return false;

    struct iovec iov[2] = {{head, (size_t)n}, {(char *)body, no_body ? 0 : body_bytes}};
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = 2};
    size_t total = iov[0].iov_len + iov[1].iov_len;
    ssize_t w;
    do {
        w = sendmsg(fd, &msg, MSG_NOSIGNAL);
    } while (w < 0 && errno == EINTR);
    if (w < 0) return false;
    if ((size_t)w == total) return true;
    /* partial write: finish the rest piecewise */
    size_t done = (size_t)w;
    if (done < iov[0].iov_len) {
        if (!send_all(fd, head + done, iov[0].iov_len - done)) return false;
        done = iov[0].iov_len;
    }
    return send_all(fd, body + (done - iov[0].iov_len), total - done);
}

static bool save_request(unsigned long seq, struct request *r) {
    char name[64];
    char stamp[64];
    int sn = snprintf(stamp, sizeof stamp, "x-received-ms: %ld\n", now_ms());
    if (r->head_len + (size_t)sn < MAX_HEADER_BYTES) {
        memcpy(r->head + r->head_len, stamp, (size_t)sn);
        r->head_len += (size_t)sn;
    }
    snprintf(name, sizeof(name), "%06lu.bin", seq);
    if (!write_file_atomic(cfg.out_dir, name, r->body ? r->body : "", r->body_len)) return false;
    snprintf(name, sizeof(name), "%06lu.meta", seq);
    return write_file_atomic(cfg.out_dir, name, r->head, r->head_len);
}

static struct action action_for(unsigned long seq) {
    size_t i = seq - 1 < cfg.n_actions ? seq - 1 : cfg.n_actions - 1;
    return cfg.actions[i];
}

/* Reads and discards until the peer closes (for "silent"). */
static void drain_until_close(int fd) {
    char tmp[4096];
    for (;;) {
        ssize_t n = recv(fd, tmp, sizeof(tmp), 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
    }
}

static void *conn_main(void *arg) {
    struct conn c = {.fd = (int)(intptr_t)arg, .cap = 16384};
    struct request r;
    memset(&r, 0, sizeof(r));
    c.buf = malloc(c.cap);
    if (c.buf == NULL) goto out;

    for (;;) {
        request_reset(&r);
        enum read_result rr = read_head(&c, &r);
        if (rr == READ_EOF) break;
        if (rr == READ_OK && r.expect_continue && r.http11) {
            static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
            if (!send_all(c.fd, cont, sizeof(cont) - 1)) break;
        }
        if (rr == READ_OK) {
            if (r.chunked)
                rr = read_chunked(&c, &r);
            else if (r.has_length && !read_body_bytes(&c, &r, r.content_length))
                rr = READ_BAD;
        }
        if (rr != READ_OK) {
            send_reply(c.fd, rr == READ_TOO_LARGE ? 413 : 400, false, 0, false);
            break;
        }

        atomic_fetch_add(&saving, 1);
        unsigned long seq = atomic_fetch_add(&seq_counter, 1) + 1;
        atomic_fetch_add(&bytes_total, r.body_len);
        bool saved = cfg.count_only || save_request(seq, &r);
        atomic_fetch_sub(&saving, 1);
        if (!saved) {
            fprintf(stderr, "otlp_sink: cannot save request %lu in %s: %s\n", seq, cfg.out_dir,
                    strerror(errno));
            send_reply(c.fd, 500, false, 0, false);
            break;
        }

        struct action act = action_for(seq);
        if (cfg.delay_ms > 0) sleep_ms(cfg.delay_ms);
        if (act.kind == ACTION_CLOSE) break;
        if (act.kind == ACTION_RESET) {
            static const char half[] = "HTTP/1.1 200 OK\r\nContent-Le";
            send_all(c.fd, half, sizeof half - 1);
            struct linger lg = {1, 0}; /* close with RST */
            setsockopt(c.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
            break;
        }
        if (act.kind == ACTION_SILENT) {
            drain_until_close(c.fd);
            break;
        }
        if (!send_reply(c.fd, act.status, r.keep_alive, cfg.response_body_bytes, r.json) ||
            !r.keep_alive)
            break;
    }
out:
    request_reset(&r);
    free(c.buf);
    close(c.fd);
    return NULL;
}

/* ---- main --------------------------------------------------------------- */

static void parse_action_list(const char *list) {
    char *copy = strdup(list);
    if (copy == NULL) die("out of memory");
    cfg.n_actions = 0;
    char *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
        if (cfg.n_actions == MAX_SEQ_ACTIONS)
            die("--status-seq: more than 64 entries in '%s'", list);
        struct action *a = &cfg.actions[cfg.n_actions++];
        long code;
        if (strcmp(tok, "close") == 0) {
            *a = (struct action){ACTION_CLOSE, 0};
        } else if (strcmp(tok, "silent") == 0) {
            *a = (struct action){ACTION_SILENT, 0};
        } else if (strcmp(tok, "reset") == 0) {
            *a = (struct action){ACTION_RESET, 0};
        } else if (parse_long(tok, 100, 599, &code)) {
            *a = (struct action){ACTION_REPLY, (int)code};
        } else {
            die("--status-seq: bad entry in '%s' (want codes 100-599, close, silent or reset)",
                list);
        }
    }
    if (cfg.n_actions == 0) die("--status-seq: empty list '%s'", list);
    free(copy);
}

static void usage(void) {
    fprintf(stderr,
            "usage: otlp_sink [--port N] [--port-file FILE] (--out DIR | --count-only)\n"
            "                 [--status CODE | --status-seq A,B,... | --close | --silent]\n"
            "                 [--retry-after VALUE] [--delay-ms N] [--response-body-bytes N]\n"
            "                 [--partial N]\n"
            "  --status-seq entries: a status code, 'close', 'silent' or 'reset'; the last "
            "repeats\n");
    exit(2);
}

static void parse_args(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        long n;
        bool takes_value = true;
        if (strcmp(a, "--count-only") == 0) {
            cfg.count_only = true;
            takes_value = false;
        } else if (strcmp(a, "--close") == 0) {
            parse_action_list("close");
            takes_value = false;
        } else if (strcmp(a, "--silent") == 0) {
            parse_action_list("silent");
            takes_value = false;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage();
        } else if (v == NULL) {
            die("missing value for %s", a);
        } else if (strcmp(a, "--port") == 0) {
            if (!parse_long(v, 0, 65535, &n)) die("bad --port '%s'", v);
            cfg.port = (int)n;
        } else if (strcmp(a, "--port-file") == 0) {
            cfg.port_file = v;
        } else if (strcmp(a, "--out") == 0) {
            cfg.out_dir = v;
        } else if (strcmp(a, "--status") == 0) {
            if (!parse_long(v, 100, 599, &n)) die("bad --status '%s'", v);
            parse_action_list(v);
        } else if (strcmp(a, "--status-seq") == 0) {
            parse_action_list(v);
        } else if (strcmp(a, "--retry-after") == 0) {
            if (strpbrk(v, "\r\n") != NULL) die("bad --retry-after '%s'", v);
            cfg.retry_after = v;
        } else if (strcmp(a, "--delay-ms") == 0) {
            if (!parse_long(v, 0, 3600L * 1000, &n)) die("bad --delay-ms '%s'", v);
            cfg.delay_ms = n;
        } else if (strcmp(a, "--partial") == 0) {
            if (!parse_long(v, 0, 1000000000L, &n)) die("bad --partial '%s'", v);
            cfg.partial = n;
        } else if (strcmp(a, "--response-body-bytes") == 0) {
            if (!parse_long(v, 0, 64L * 1024 * 1024, &n)) die("bad --response-body-bytes '%s'", v);
            cfg.response_body_bytes = (size_t)n;
        } else {
            die("unknown option %s (try --help)", a);
        }
        if (takes_value) i++;
    }
    if (!cfg.count_only && cfg.out_dir == NULL) die("--out DIR or --count-only is required");
}

static void write_port_file(int port) {
    char tmp[PATH_MAX], text[16];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", cfg.port_file, (int)getpid()) >= (int)sizeof(tmp))
        die("port file path too long: %s", cfg.port_file);
    int len = snprintf(text, sizeof(text), "%d\n", port);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || !write_all(fd, text, (size_t)len) || close(fd) != 0 ||
        rename(tmp, cfg.port_file) != 0)
        die("cannot write port file %s", cfg.port_file);
}

int main(int argc, char **argv) {
    parse_args(argc, argv);

    if (cfg.response_body_bytes > 0) {
        response_body = malloc(cfg.response_body_bytes);
        if (response_body == NULL) die("out of memory");
        memset(response_body, 'x', cfg.response_body_bytes);
    }
    if (cfg.out_dir != NULL && !cfg.count_only) {
        struct stat st;
        if (stat(cfg.out_dir, &st) != 0 || !S_ISDIR(st.st_mode))
            die("--out %s is not a directory", cfg.out_dir);
    }

    /* Signals: SIGTERM/SIGINT arrive through a signalfd in this thread only;
     * connection threads inherit the blocked mask. SIGPIPE is ignored. */
    signal(SIGPIPE, SIG_IGN);
    sigset_t stop_set;
    sigemptyset(&stop_set);
    sigaddset(&stop_set, SIGTERM);
    sigaddset(&stop_set, SIGINT);
    if (pthread_sigmask(SIG_BLOCK, &stop_set, NULL) != 0) die("cannot block signals");
    int sfd = signalfd(-1, &stop_set, SFD_CLOEXEC);
    if (sfd < 0) die("signalfd: %s", strerror(errno));

    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (lfd < 0) die("socket: %s", strerror(errno));
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)cfg.port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) != 0)
        die("bind 127.0.0.1: %s", strerror(errno));
    if (listen(lfd, 4096) != 0) die("listen: %s", strerror(errno));
    socklen_t alen = sizeof(addr);
    if (getsockname(lfd, (struct sockaddr *)&addr, &alen) != 0)
        die("getsockname: %s", strerror(errno));
    if (cfg.port_file != NULL) write_port_file(ntohs(addr.sin_port));

    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, THREAD_STACK_BYTES);

    for (;;) {
        struct pollfd p[2] = {{lfd, POLLIN, 0}, {sfd, POLLIN, 0}};
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR) continue;
            die("poll: %s", strerror(errno));
        }
        if (p[1].revents & POLLIN) break;
        if (p[0].revents & POLLIN) {
            int cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
            if (cfd < 0) continue; /* ECONNABORTED, EMFILE...: keep serving */
            setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
            pthread_t t;
            if (pthread_create(&t, &attr, conn_main, (void *)(intptr_t)cfd) != 0) close(cfd);
        }
    }

    /* Stop: no new connections; let requests being saved finish (bounded). */
    close(lfd);
    long deadline = now_ms() + STOP_GRACE_MS;
    while (atomic_load(&saving) > 0 && now_ms() < deadline)
        sleep_ms(2);
    if (cfg.count_only)
        printf("requests=%lu bytes=%lu\n", atomic_load(&seq_counter), atomic_load(&bytes_total));
    fflush(stdout);
    _exit(0);
}
