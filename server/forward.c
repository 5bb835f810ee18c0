/* forward: a received OTLP/HTTP request sent on to a collector. Depends on POSIX sockets. */
#include "server/forward.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int forward_init(struct forward *f, const char *url, char *err, size_t cap) {
    return forward_init_port(f, url, "4318", err, cap);
}

int forward_init_port(struct forward *f, const char *url, const char *default_port, char *err,
                      size_t cap) {
    memset(f, 0, sizeof(*f));
    if (strncmp(url, "http://", 7) != 0) {
        snprintf(err, cap, "--tee sends to http:// collectors only, not '%s'", url);
        return -EINVAL;
    }
    const char *h = url + 7, *slash = strchr(h, '/');
    size_t hl = slash ? (size_t)(slash - h) : strlen(h);
    const char *colon = memchr(h, ':', hl);
    size_t hostlen = colon ? (size_t)(colon - h) : hl;
    if (hostlen == 0 || hostlen >= sizeof(f->host)) {
        snprintf(err, cap, "no host in '%s'", url);
        return -EINVAL;
    }
    memcpy(f->host, h, hostlen);
    if (colon) {
        size_t pl = hl - hostlen - 1;
        if (pl == 0 || pl >= sizeof(f->port)) {
            snprintf(err, cap, "bad port in '%s'", url);
            return -EINVAL;
        }
        memcpy(f->port, colon + 1, pl);
    } else {
        snprintf(f->port, sizeof(f->port), "%s", default_port);
    }
    snprintf(f->base, sizeof(f->base), "%s", slash ? slash : "");
    size_t bl = strlen(f->base);
    if (bl > 0 && f->base[bl - 1] == '/') f->base[bl - 1] = '\0';
    return 0;
}

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int wait_fd(int fd, short ev, int64_t deadline) {
    for (;;) {
        int64_t left = deadline - now_ms();
        if (left <= 0) return -ETIMEDOUT;
        struct pollfd p = {.fd = fd, .events = ev};
        int r = poll(&p, 1, (int)left);
        if (r > 0) return 0;
        if (r < 0 && errno != EINTR) return -errno;
    }
}

int forward_post(const struct forward *f, const char *path, const char *content_type,
                 const char *content_encoding, const uint8_t *body, size_t len) {
    int64_t deadline = now_ms() + FORWARD_TIMEOUT_MS;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai = NULL;
    if (getaddrinfo(f->host, f->port, &hints, &ai) != 0 || ai == NULL) return -EHOSTUNREACH;
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int rc = fd < 0 ? -errno : 0;
    if (rc == 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        rc = errno == EINPROGRESS ? wait_fd(fd, POLLOUT, deadline) : -errno;
        int soerr = 0;
        socklen_t sl = sizeof(soerr);
        if (rc == 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr != 0)
            rc = -soerr;
    }
    freeaddrinfo(ai);
    char head[1024];
    int hn = snprintf(
        head, sizeof(head),
        "POST %s%s HTTP/1.1\r\nHost: %s:%s\r\nContent-Type: %s\r\n%s%s%s"
        "Content-Length: %zu\r\nConnection: close\r\n\r\n",
        f->base, path, f->host, f->port, content_type, content_encoding ? "Content-Encoding: " : "",
        content_encoding ? content_encoding : "", content_encoding ? "\r\n" : "", len);
    if (rc == 0 && (hn < 0 || (size_t)hn >= sizeof(head))) rc = -ENAMETOOLONG;
    const uint8_t *parts[2] = {(const uint8_t *)head, body};
    size_t sizes[2] = {rc == 0 ? (size_t)hn : 0, len};
    for (int k = 0; rc == 0 && k < 2; k++) {
        size_t off = 0;
        while (rc == 0 && off < sizes[k]) {
            ssize_t w = send(fd, parts[k] + off, sizes[k] - off, MSG_NOSIGNAL);
            if (w > 0)
                off += (size_t)w;
            else if (w < 0 && (errno == EAGAIN || errno == EINTR))
                rc = wait_fd(fd, POLLOUT, deadline);
            else
                rc = -EPIPE;
        }
    }
    char resp[64];
    size_t got = 0;
    while (rc == 0 && got < 12) {
        ssize_t r = recv(fd, resp + got, sizeof(resp) - 1 - got, 0);
        if (r > 0)
            got += (size_t)r;
        else if (r < 0 && (errno == EAGAIN || errno == EINTR))
            rc = wait_fd(fd, POLLIN, deadline);
        else
            rc = -ECONNRESET;
    }
    if (fd >= 0) close(fd);
    if (rc != 0) return rc;
    resp[got] = '\0';
    int status = 0;
    if (sscanf(resp, "HTTP/1.%*d %d", &status) != 1) return -EPROTO;
    return status;
}
