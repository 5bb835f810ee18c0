/* alerts_load: paced OTLP/HTTP span load for scripts/bench section x (alert rules).
 *
 *     alerts_load PORT SPANS_PER_S SECONDS [MARKER]
 *
 * Posts SPANS_PER_S spans a second (every 50 ms, SPANS_PER_S / 20 spans in
 * requests of at most 500) to 127.0.0.1:PORT/v1/traces for SECONDS, up to 8
 * requests in flight (keep-alive connections; a slow answer does not hold
 * the pace back until all 8 wait): spans of a build's shape (16 program names, 9
 * string attributes of 20 characters and process.exit.code, durations 6-96 ms
 * ending now), each with a new span id, one trace a second. The protobuf
 * requests are encoded once; each tick only patches ids and times in place,
 * so the generator costs little of the machine the server runs on (its own
 * CPU is printed). With MARKER, one more request after the last tick carries
 * one span of that name, and the time it was sent is printed first
 * ("marker_sent_ns=N"). Then "result sent=N late_batches=M cpu_ms=C": the
 * spans the server accepted (HTTP 200), the ticks that started more than
 * 50 ms late (the generator did not keep its pace), its own user+system
 * CPU time. Exits 1 when the server answers anything but 200 or goes away.
 * Asserts nothing about timing. Depends on POSIX sockets only. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 500
#define TICK_NS 50000000LL
#define NAMES 16
#define INFLIGHT 8 /* requests in flight at most, one per connection */

static const char *const names[NAMES] = {"make",     "sh",   "cc",      "cc1",  "as", "ld",
                                         "collect2", "ar",   "ranlib",  "cp",   "rm", "mkdir",
                                         "sed",      "grep", "install", "touch"};

struct buf {
    uint8_t *p;
    size_t len, cap;
};

static void put(struct buf *b, const void *d, size_t n) {
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 256;
        b->p = realloc(b->p, b->cap);
        if (b->p == NULL) {
            perror("alerts_load");
            exit(1);
        }
    }
    memcpy(b->p + b->len, d, n);
    b->len += n;
}

static void varint(struct buf *b, uint64_t v) {
    uint8_t t[10];
    size_t n = 0;
    do {
        t[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    put(b, t, n);
}

static void tag(struct buf *b, unsigned field, unsigned wire) {
    varint(b, (uint64_t)field << 3 | wire);
}

/* A length-delimited field whose content is c. */
static void sub(struct buf *b, unsigned field, const struct buf *c) {
    tag(b, field, 2);
    varint(b, c->len);
    put(b, c->p, c->len);
}

static void str(struct buf *b, unsigned field, const char *s) {
    tag(b, field, 2);
    varint(b, strlen(s));
    put(b, s, strlen(s));
}

/* KeyValue{key, AnyValue{string_value | int_value}} as field 9 (Span) or 1 (Resource). */
static void attr(struct buf *b, unsigned field, const char *key, const char *sval, int64_t ival) {
    struct buf any = {0}, kv = {0};
    if (sval)
        str(&any, 1, sval);
    else {
        tag(&any, 3, 0);
        varint(&any, (uint64_t)ival);
    }
    str(&kv, 1, key);
    sub(&kv, 2, &any);
    sub(b, field, &kv);
    free(any.p);
    free(kv.p);
}

/* Where a span's patched fields sit in its request. */
struct slot {
    size_t trace, span, start, end;
    int64_t dur_ns;
};

/* One span; offsets relative to the span message's start. */
static void span_msg(struct buf *s, const char *name, int64_t dur_ns, struct slot *at) {
    static const uint8_t zero[16];
    tag(s, 1, 2);
    varint(s, 16);
    at->trace = s->len;
    put(s, zero, 16);
    tag(s, 2, 2);
    varint(s, 8);
    at->span = s->len;
    put(s, zero, 8);
    str(s, 5, name);
    tag(s, 6, 0);
    varint(s, 1); /* SPAN_KIND_INTERNAL */
    tag(s, 7, 1);
    at->start = s->len;
    put(s, zero, 8);
    tag(s, 8, 1);
    at->end = s->len;
    put(s, zero, 8);
    for (int a = 0; a < 9; a++) {
        char key[16];
        snprintf(key, sizeof(key), "attr%d", a);
        attr(s, 9, key, "abcdefghijklmnopqrst", 0);
    }
    attr(s, 9, "process.exit.code", NULL, 0);
    at->dur_ns = dur_ns;
}

/* A request of n spans (names cycling from name0) with each span's slot. */
static void request(struct buf *out, size_t n, size_t name0, const char *only_name,
                    struct slot *slots) {
    struct buf spans = {0}, res = {0}, scope = {0}, ss = {0}, rs = {0};
    for (size_t i = 0; i < n; i++) {
        struct buf one = {0};
        size_t k = (name0 + i) % NAMES;
        span_msg(&one, only_name ? only_name : names[k],
                 only_name ? 1000 : (int64_t)(k + 1) * 6000000, &slots[i]);
        tag(&spans, 2, 2);
        varint(&spans, one.len);
        size_t base = spans.len;
        slots[i].trace += base;
        slots[i].span += base;
        slots[i].start += base;
        slots[i].end += base;
        put(&spans, one.p, one.len);
        free(one.p);
    }
    attr(&res, 1, "service.name", "bench", 0);
    str(&scope, 1, "alerts_load");
    sub(&ss, 1, &scope);
    size_t ss_spans = ss.len;
    put(&ss, spans.p, spans.len);
    sub(&rs, 1, &res);
    tag(&rs, 2, 2);
    varint(&rs, ss.len);
    size_t rs_ss = rs.len;
    put(&rs, ss.p, ss.len);
    tag(out, 1, 2);
    varint(out, rs.len);
    size_t shift = out->len + rs_ss + ss_spans;
    put(out, rs.p, rs.len);
    for (size_t i = 0; i < n; i++) {
        slots[i].trace += shift;
        slots[i].span += shift;
        slots[i].start += shift;
        slots[i].end += shift;
    }
    free(spans.p);
    free(res.p);
    free(scope.p);
    free(ss.p);
    free(rs.p);
}

static void be64(uint8_t *p, uint64_t v) {
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static void le64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++, v >>= 8)
        p[i] = (uint8_t)v;
}

static int64_t clock_ns(clockid_t c) {
    struct timespec ts;
    clock_gettime(c, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Patches ids and times: span ids from *seq on, the trace of this second, ending at end_ns. */
static void patch(struct buf *req, const struct slot *slots, size_t n, uint64_t *seq,
                  uint64_t trace_no, int64_t end_ns) {
    for (size_t i = 0; i < n; i++) {
        uint8_t *p = req->p;
        memset(p + slots[i].trace, 0, 8);
        be64(p + slots[i].trace + 8, trace_no);
        be64(p + slots[i].span, (*seq)++);
        le64(p + slots[i].start, (uint64_t)(end_ns - slots[i].dur_ns));
        le64(p + slots[i].end, (uint64_t)end_ns);
    }
}

/* Sends one POST (blocking until the kernel has it all); 0 or -1. */
static int send_req(int fd, int port, const struct buf *body) {
    char head[256];
    int hn = snprintf(head, sizeof(head),
                      "POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                      "Content-Type: application/x-protobuf\r\nContent-Length: %zu\r\n\r\n",
                      port, body->len);
    const uint8_t *parts[2] = {(const uint8_t *)head, body->p};
    size_t sizes[2] = {(size_t)hn, body->len};
    for (int k = 0; k < 2; k++)
        for (size_t off = 0; off < sizes[k];) {
            ssize_t w = send(fd, parts[k] + off, sizes[k] - off, MSG_NOSIGNAL);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) return -1;
            off += (size_t)w;
        }
    return 0;
}

/* Reads one response: headers, then Content-Length bytes of body. Its status, or -1. */
static int read_resp(int fd) {
    char r[4096];
    size_t got = 0;
    char *eoh = NULL;
    while (eoh == NULL) {
        if (got == sizeof(r) - 1) return -1;
        ssize_t n = recv(fd, r + got, sizeof(r) - 1 - got, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        got += (size_t)n;
        r[got] = '\0';
        eoh = strstr(r, "\r\n\r\n");
    }
    int status = 0;
    if (sscanf(r, "HTTP/1.%*d %d", &status) != 1) return -1;
    size_t clen = 0;
    const char *cl = strcasestr(r, "\r\nContent-Length:");
    if (cl && cl < eoh) clen = strtoul(cl + 17, NULL, 10);
    size_t have = got - (size_t)(eoh + 4 - r);
    while (have < clen) {
        ssize_t n = recv(fd, r, sizeof(r), 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        have += (size_t)n;
    }
    return status;
}

/* A connection with at most one request in flight (HTTP/1.1 keep-alive). */
struct conn {
    int fd;
    bool busy;
    long spans; /* of the request in flight */
};

/* Waits up to timeout_ms (-1: no bound) for a busy connection to answer, reads that answer,
 * counts its spans into *sent when it is 200. Returns the connection now free; -1 when none
 * answered in time (or none is busy); -2 when the server answered otherwise or went away. */
static int reap(struct conn *conns, int timeout_ms, long *sent) {
    struct pollfd p[INFLIGHT];
    int idx[INFLIGHT], n = 0;
    for (int c = 0; c < INFLIGHT; c++)
        if (conns[c].busy) {
            p[n] = (struct pollfd){.fd = conns[c].fd, .events = POLLIN};
            idx[n++] = c;
        }
    if (n == 0) return -1;
    int r;
    while ((r = poll(p, (nfds_t)n, timeout_ms)) < 0 && errno == EINTR) {
    }
    if (r <= 0) return -1;
    for (int i = 0; i < n; i++)
        if (p[i].revents) {
            struct conn *c = &conns[idx[i]];
            int st = read_resp(c->fd);
            if (st != 200) {
                fprintf(stderr, "alerts_load: the server answered %d\n", st);
                return -2;
            }
            *sent += c->spans;
            c->busy = false;
            return idx[i];
        }
    return -1;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: alerts_load PORT SPANS_PER_S SECONDS [MARKER]\n");
        return 2;
    }
    int port = atoi(argv[1]);
    long rate = atol(argv[2]);
    double seconds = atof(argv[3]);
    const char *marker = argc > 4 ? argv[4] : NULL;
    long per_tick = rate / 20 > 0 ? rate / 20 : 1;
    long ticks = (long)(seconds * 20);
    /* the requests of one tick: full ones of BATCH, and the rest */
    size_t nreq = (size_t)((per_tick + BATCH - 1) / BATCH);
    struct buf *reqs = calloc(nreq, sizeof(*reqs));
    struct slot **slots = calloc(nreq, sizeof(*slots));
    size_t *counts = calloc(nreq, sizeof(*counts));
    if (reqs == NULL || slots == NULL || counts == NULL) return 1;
    for (size_t q = 0; q < nreq; q++) {
        long left = per_tick - (long)q * BATCH;
        counts[q] = (size_t)(left > BATCH ? BATCH : left);
        slots[q] = calloc(counts[q], sizeof(**slots));
        if (slots[q] == NULL) return 1;
        request(&reqs[q], counts[q], q * BATCH, NULL, slots[q]);
    }
    struct conn conns[INFLIGHT];
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int c = 0; c < INFLIGHT; c++) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
            perror("alerts_load: connect");
            return 1;
        }
        conns[c] = (struct conn){.fd = fd};
    }
    uint64_t seq = 1;
    long sent = 0, late = 0;
    int64_t t0 = clock_ns(CLOCK_MONOTONIC);
    for (long k = 0; k < ticks; k++) {
        int64_t due = t0 + k * TICK_NS, now = clock_ns(CLOCK_MONOTONIC);
        if (now < due) {
            struct timespec ts = {(time_t)((due - now) / 1000000000),
                                  (long)((due - now) % 1000000000)};
            while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
            }
        } else if (now - due > TICK_NS) {
            late++;
        }
        int64_t end = clock_ns(CLOCK_REALTIME);
        for (size_t q = 0; q < nreq; q++) {
            /* a connection with no request in flight: wait for one to answer when all have */
            int c = 0;
            while (c < INFLIGHT && conns[c].busy)
                c++;
            if (c == INFLIGHT && (c = reap(conns, -1, &sent)) < 0) return 1;
            patch(&reqs[q], slots[q], counts[q], &seq, (uint64_t)(k / 20 + 1), end);
            if (send_req(conns[c].fd, port, &reqs[q]) != 0) {
                fprintf(stderr, "alerts_load: the server went away\n");
                return 1;
            }
            conns[c].busy = true;
            conns[c].spans = (long)counts[q];
        }
        /* what has answered by now */
        int r;
        while ((r = reap(conns, 0, &sent)) >= 0) {
        }
        if (r == -2) return 1;
    }
    /* all answered before the marker goes */
    for (int c = 0; c < INFLIGHT; c++)
        while (conns[c].busy)
            if (reap(conns, -1, &sent) == -2) return 1;
    int fd = conns[0].fd;
    if (marker) {
        struct buf m = {0};
        struct slot s;
        request(&m, 1, 0, marker, &s);
        patch(&m, &s, 1, &seq, 999999, clock_ns(CLOCK_REALTIME));
        printf("marker_sent_ns=%lld\n", (long long)clock_ns(CLOCK_REALTIME));
        fflush(stdout);
        int st = send_req(fd, port, &m) == 0 ? read_resp(fd) : -1;
        if (st != 200) {
            fprintf(stderr, "alerts_load: the server answered %d\n", st);
            return 1;
        }
        sent++;
        free(m.p);
    }
    for (int c = 0; c < INFLIGHT; c++)
        close(conns[c].fd);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    long cpu_ms = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000L +
                  (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000L;
    printf("result sent=%ld late_batches=%ld cpu_ms=%ld\n", sent, late, cpu_ms);
    for (size_t q = 0; q < nreq; q++) {
        free(reqs[q].p);
        free(slots[q]);
    }
    free(reqs);
    free(slots);
    free(counts);
    return 0;
}
