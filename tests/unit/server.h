/* server.h: a scripted HTTP/1.1 server thread on 127.0.0.1:0 for the unit
 * tests of the HTTP client and the OTLP exporter. Each step reads one
 * request (head, then Content-Length bytes), then sends a canned response,
 * or nothing until the test stops the server; a step may close the
 * connection after it. Every wait is bounded (poll with a stop pipe and a
 * 10 s limit). The last request's head and body are kept; read them through
 * srv_head()/srv_body(), which order the reads after the server's writes.
 * Depends on libc and pthreads. */
#ifndef OTELP_TESTS_UNIT_SERVER_H
#define OTELP_TESTS_UNIT_SERVER_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SRV_UNUSED __attribute__((unused))

struct step {
    const char *resp; /* sent after one request is read; NULL: send nothing */
    size_t resp_len;  /* 0: strlen(resp) */
    bool close_after; /* close the connection after this step */
};

#define SRV_MAX_STEPS 8
#define SRV_BODY_CAP (1u << 20)

static struct server {
    int lfd, stop[2];
    uint16_t port;
    pthread_t thread;
    struct step steps[SRV_MAX_STEPS];
    int nsteps;
    _Atomic int accepts, requests, closed;
    char head[16384];        /* the last request's head */
    size_t body_len;         /* the last request's body length received */
    char body[SRV_BODY_CAP]; /* its first SRV_BODY_CAP bytes */
} srv;

/* Waits for fd to be readable, or for the stop pipe. Returns false on stop. */
static SRV_UNUSED bool srv_wait(int fd) {
    struct pollfd p[2] = {{.fd = fd, .events = POLLIN}, {.fd = srv.stop[0], .events = POLLIN}};
    for (;;) {
        int r = poll(p, 2, 10000);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0 || (p[1].revents & POLLIN)) return false;
        return true;
    }
}

/* Reads one request (head, then Content-Length bytes). Returns 1, 0 when
 * the client closed the connection before sending anything, -1 otherwise. */
static SRV_UNUSED int srv_read_request(int fd) {
    size_t len = 0;
    char *end = NULL;
    while (!end) {
        if (len == sizeof srv.head - 1 || !srv_wait(fd)) return -1;
        ssize_t n = recv(fd, srv.head + len, sizeof srv.head - 1 - len, 0);
        if (n <= 0) return n == 0 && len == 0 ? 0 : -1;
        len += (size_t)n;
        srv.head[len] = '\0';
        end = strstr(srv.head, "\r\n\r\n");
    }
    size_t head_len = (size_t)(end + 4 - srv.head);
    size_t want = 0;
    for (char *line = srv.head; line < end; line = strstr(line, "\r\n") + 2)
        if (!strncasecmp(line, "Content-Length:", 15)) want = strtoul(line + 15, NULL, 10);
    size_t got = len - head_len;
    memcpy(srv.body, srv.head + head_len, got);
    srv.head[head_len] = '\0';
    static char chunk[65536];
    while (got < want) {
        if (!srv_wait(fd)) return -1;
        ssize_t n = recv(fd, chunk, sizeof chunk, 0);
        if (n <= 0) return -1;
        if (got < SRV_BODY_CAP)
            memcpy(srv.body + got, chunk,
                   SRV_BODY_CAP - got < (size_t)n ? SRV_BODY_CAP - got : (size_t)n);
        got += (size_t)n;
    }
    srv.body_len = got;
    return 1;
}

static SRV_UNUSED void srv_send(int fd, const char *p, size_t n) {
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0) return;
        p += w;
        n -= (size_t)w;
    }
}

static SRV_UNUSED void *srv_main(void *arg) {
    (void)arg;
    int conn = -1;
    for (int i = 0; i < srv.nsteps; i++) {
        const struct step *s = &srv.steps[i];
        if (conn < 0) {
            if (!srv_wait(srv.lfd)) break;
            conn = accept4(srv.lfd, NULL, NULL, SOCK_CLOEXEC);
            if (conn < 0) break;
            srv.accepts++;
        }
        int rc = srv_read_request(conn);
        if (rc == 0) { /* the client dropped a kept-alive connection: take a new one */
            close(conn);
            conn = -1;
            i--;
            continue;
        }
        if (rc < 0) break;
        srv.requests++; /* publishes head and body to srv_head()/srv_body() */
        if (s->resp)
            srv_send(conn, s->resp, s->resp_len ? s->resp_len : strlen(s->resp));
        else
            (void)srv_wait(srv.stop[0]); /* never answer: until the test stops us */
        if (s->close_after) {
            close(conn);
            conn = -1;
            srv.closed++;
        }
    }
    (void)srv_wait(srv.stop[0]); /* keep the connection open until stopped */
    if (conn >= 0) close(conn);
    return NULL;
}

static SRV_UNUSED uint16_t listen_port(int fd) {
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &len);
    return ntohs(a.sin_port);
}

static SRV_UNUSED bool srv_start(const struct step *steps, int n) {
    memset(srv.steps, 0, sizeof srv.steps);
    memcpy(srv.steps, steps, (size_t)n * sizeof *steps);
    srv.nsteps = n;
    srv.accepts = srv.requests = srv.closed = 0;
    srv.body_len = 0;
    srv.head[0] = '\0';
    srv.lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (srv.lfd < 0 || bind(srv.lfd, (struct sockaddr *)&a, sizeof a) < 0 ||
        listen(srv.lfd, 8) < 0 || pipe2(srv.stop, O_CLOEXEC) < 0)
        return false;
    srv.port = listen_port(srv.lfd);
    return pthread_create(&srv.thread, NULL, srv_main, NULL) == 0;
}

static SRV_UNUSED void srv_stop(void) {
    ssize_t w = write(srv.stop[1], "x", 1);
    (void)w;
    pthread_join(srv.thread, NULL);
    close(srv.lfd);
    close(srv.stop[0]);
    close(srv.stop[1]);
}

/* The last request, once the client has its response. */
static SRV_UNUSED const char *srv_head(void) {
    (void)atomic_load(&srv.requests);
    return srv.head;
}
static SRV_UNUSED const char *srv_body(size_t *len) {
    (void)atomic_load(&srv.requests);
    if (len) *len = srv.body_len;
    return srv.body;
}

/* Waits (bounded, 5 s) until the server has closed n connections. */
static SRV_UNUSED bool srv_wait_closed(int n) {
    for (int i = 0; i < 5000 && srv.closed < n; i++) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    return srv.closed >= n;
}

#endif
