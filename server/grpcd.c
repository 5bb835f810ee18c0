/* grpcd: a small, bounded OTLP/gRPC server on loopback. Depends on libnghttp2, pthreads, httpd.h
 * (inflate). */
#include "server/grpcd.h"

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

#include <nghttp2/nghttp2.h>

#include "server/httpd.h"

struct grpcd {
    int listen_fd, port;
    grpc_handler handler;
    void *ctx;
    pthread_t acceptor;
    pthread_mutex_t lock;
    pthread_cond_t idle;
    int conns[GRPCD_MAX_CONNS];
    int n_conns;
    bool stopping;
};

struct stream {
    char path[256];
    char encoding[32];
    char content_type[64];
    uint8_t *body;
    size_t len, cap;
    bool too_big;
    /* the answer */
    uint8_t *out;
    size_t out_len, out_off;
    int status;
    char message[256];
};

struct gconn {
    struct grpcd *g;
    int fd, slot;
    nghttp2_session *session;
};

static ssize_t send_cb(nghttp2_session *s, const uint8_t *data, size_t len, int flags, void *user) {
    (void)s, (void)flags;
    struct gconn *c = user;
    size_t done = 0;
    while (done < len) {
        ssize_t w = send(c->fd, data + done, len - done, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return NGHTTP2_ERR_CALLBACK_FAILURE;
        done += (size_t)w;
    }
    return (ssize_t)len;
}

static int begin_headers_cb(nghttp2_session *s, const nghttp2_frame *f, void *user) {
    (void)user;
    if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
    struct stream *st = calloc(1, sizeof(*st));
    if (st == NULL) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    nghttp2_session_set_stream_user_data(s, f->hd.stream_id, st);
    return 0;
}

static void copy_hdr(char *dst, size_t cap, const uint8_t *v, size_t n) {
    if (n >= cap) n = cap - 1;
    memcpy(dst, v, n);
    dst[n] = '\0';
}

static int header_cb(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name, size_t nlen,
                     const uint8_t *value, size_t vlen, uint8_t flags, void *user) {
    (void)flags, (void)user;
    struct stream *st = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
    if (st == NULL || f->hd.type != NGHTTP2_HEADERS) return 0;
    if (nlen == 5 && memcmp(name, ":path", 5) == 0)
        copy_hdr(st->path, sizeof(st->path), value, vlen);
    else if (nlen == 13 && memcmp(name, "grpc-encoding", 13) == 0)
        copy_hdr(st->encoding, sizeof(st->encoding), value, vlen);
    else if (nlen == 12 && memcmp(name, "content-type", 12) == 0)
        copy_hdr(st->content_type, sizeof(st->content_type), value, vlen);
    return 0;
}

static int data_cb(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *data, size_t len,
                   void *user) {
    (void)flags, (void)user;
    struct stream *st = nghttp2_session_get_stream_user_data(s, id);
    if (st == NULL || st->too_big) return 0;
    if (st->len + len > HTTPD_MAX_BODY + 5) {
        st->too_big = true;
        return 0;
    }
    if (st->len + len > st->cap) {
        size_t nc = st->cap ? st->cap : 16384;
        while (nc < st->len + len)
            nc *= 2;
        uint8_t *p = realloc(st->body, nc);
        if (p == NULL) {
            st->too_big = true;
            return 0;
        }
        st->body = p;
        st->cap = nc;
    }
    memcpy(st->body + st->len, data, len);
    st->len += len;
    return 0;
}

static ssize_t read_cb(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len, uint32_t *flags,
                       nghttp2_data_source *src, void *user) {
    (void)src, (void)user;
    struct stream *st = nghttp2_session_get_stream_user_data(s, id);
    if (st == NULL) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    size_t n = st->out_len - st->out_off;
    if (n > len) n = len;
    if (n > 0) memcpy(buf, st->out + st->out_off, n);
    st->out_off += n;
    if (st->out_off == st->out_len) {
        *flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
        char code[12];
        snprintf(code, sizeof(code), "%d", st->status);
        nghttp2_nv trailers[2] = {
            {(uint8_t *)"grpc-status", (uint8_t *)code, 11, strlen(code), NGHTTP2_NV_FLAG_NONE},
            {(uint8_t *)"grpc-message", (uint8_t *)st->message, 12, strlen(st->message),
             NGHTTP2_NV_FLAG_NONE},
        };
        nghttp2_submit_trailer(s, id, trailers, st->message[0] ? 2 : 1);
    }
    return (ssize_t)n;
}

/* grpc-message is percent-encoded: keep printable ASCII but '%'. */
static void set_message(struct stream *st, const char *msg) {
    size_t o = 0;
    for (const char *p = msg; *p && o + 4 < sizeof(st->message); p++) {
        unsigned char c = (unsigned char)*p;
        if (c >= 0x20 && c < 0x7f && c != '%')
            st->message[o++] = (char)c;
        else
            o += (size_t)snprintf(st->message + o, sizeof(st->message) - o, "%%%02X", c);
    }
    st->message[o] = '\0';
}

static void answer(struct gconn *c, int32_t id, struct stream *st) {
    uint8_t *resp = NULL;
    size_t resp_len = 0;
    char err[256] = "";
    if (st->too_big) {
        st->status = 8; /* RESOURCE_EXHAUSTED */
        snprintf(err, sizeof(err), "request larger than 32 MiB");
    } else if (strncmp(st->content_type, "application/grpc", 16) != 0) {
        st->status = 3;
        snprintf(err, sizeof(err), "content-type must be application/grpc");
    } else if (st->len < 5) {
        st->status = 3;
        snprintf(err, sizeof(err), "no gRPC message");
    } else {
        uint32_t mlen = (uint32_t)st->body[1] << 24 | (uint32_t)st->body[2] << 16 |
                        (uint32_t)st->body[3] << 8 | st->body[4];
        if ((size_t)mlen != st->len - 5) {
            st->status = 3;
            snprintf(err, sizeof(err), "the gRPC message length does not match the data");
        } else if (st->body[0] == 1) {
            uint8_t *plain = NULL;
            size_t plen = 0;
            if (strcasecmp(st->encoding, "gzip") != 0 && strcasecmp(st->encoding, "deflate") != 0) {
                st->status = 12;
                snprintf(err, sizeof(err), "unsupported grpc-encoding (gzip is)");
            } else if (http_inflate(st->body + 5, mlen, &plain, &plen) != 0) {
                st->status = 3;
                snprintf(err, sizeof(err), "corrupt gzip message");
            } else {
                st->status = c->g->handler(c->g->ctx, st->path, plain, plen, &resp, &resp_len, err,
                                           sizeof(err));
                free(plain);
            }
        } else {
            st->status = c->g->handler(c->g->ctx, st->path, st->body + 5, mlen, &resp, &resp_len,
                                       err, sizeof(err));
        }
    }
    set_message(st, err);
    if (st->status == 0) {
        st->out = malloc(resp_len + 5);
        if (st->out != NULL) {
            st->out[0] = 0;
            st->out[1] = (uint8_t)(resp_len >> 24);
            st->out[2] = (uint8_t)(resp_len >> 16);
            st->out[3] = (uint8_t)(resp_len >> 8);
            st->out[4] = (uint8_t)resp_len;
            if (resp_len) memcpy(st->out + 5, resp, resp_len);
            st->out_len = resp_len + 5;
        }
    }
    free(resp);
    nghttp2_nv hdrs[2] = {
        {(uint8_t *)":status", (uint8_t *)"200", 7, 3, NGHTTP2_NV_FLAG_NONE},
        {(uint8_t *)"content-type", (uint8_t *)"application/grpc", 12, 16, NGHTTP2_NV_FLAG_NONE},
    };
    nghttp2_data_provider prd = {.read_callback = read_cb};
    nghttp2_submit_response(c->session, id, hdrs, 2, &prd);
}

static int frame_recv_cb(nghttp2_session *s, const nghttp2_frame *f, void *user) {
    if ((f->hd.type == NGHTTP2_DATA || f->hd.type == NGHTTP2_HEADERS) &&
        (f->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
        struct stream *st = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
        if (st != NULL) answer(user, f->hd.stream_id, st);
    }
    return 0;
}

static int stream_close_cb(nghttp2_session *s, int32_t id, uint32_t code, void *user) {
    (void)code, (void)user;
    struct stream *st = nghttp2_session_get_stream_user_data(s, id);
    if (st != NULL) {
        nghttp2_session_set_stream_user_data(s, id, NULL);
        free(st->body);
        free(st->out);
        free(st);
    }
    return 0;
}

static void *conn_main(void *arg) {
    struct gconn *c = arg;
    nghttp2_session_callbacks *cbs;
    if (nghttp2_session_callbacks_new(&cbs) == 0) {
        nghttp2_session_callbacks_set_send_callback(cbs, send_cb);
        nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, begin_headers_cb);
        nghttp2_session_callbacks_set_on_header_callback(cbs, header_cb);
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, data_cb);
        nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, frame_recv_cb);
        nghttp2_session_callbacks_set_on_stream_close_callback(cbs, stream_close_cb);
        if (nghttp2_session_server_new(&c->session, cbs, c) == 0) {
            nghttp2_settings_entry iv[1] = {
                {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, GRPCD_MAX_STREAMS}};
            nghttp2_submit_settings(c->session, NGHTTP2_FLAG_NONE, iv, 1);
            uint8_t buf[16384];
            while (
                nghttp2_session_send(c->session) == 0 &&
                (nghttp2_session_want_read(c->session) || nghttp2_session_want_write(c->session))) {
                struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
                int r = poll(&pfd, 1, HTTPD_IDLE_MS);
                if (r < 0 && errno == EINTR) continue;
                if (r <= 0) break;
                ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
                if (n < 0 && errno == EINTR) continue;
                if (n <= 0) break;
                if (nghttp2_session_mem_recv(c->session, buf, (size_t)n) < 0) break;
            }
            nghttp2_session_del(c->session);
        }
        nghttp2_session_callbacks_del(cbs);
    }
    struct grpcd *g = c->g;
    pthread_mutex_lock(&g->lock);
    close(c->fd);
    g->conns[c->slot] = -1;
    g->n_conns--;
    pthread_cond_broadcast(&g->idle);
    pthread_mutex_unlock(&g->lock);
    free(c);
    return NULL;
}

static void *accept_main(void *arg) {
    struct grpcd *g = arg;
    for (;;) {
        int fd = accept4(g->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            pthread_mutex_lock(&g->lock);
            bool stop = g->stopping;
            pthread_mutex_unlock(&g->lock);
            if (stop) return NULL;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                usleep(10000);
                continue;
            }
            return NULL;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        pthread_mutex_lock(&g->lock);
        int slot = -1;
        if (!g->stopping)
            for (int i = 0; i < GRPCD_MAX_CONNS; i++)
                if (g->conns[i] < 0) {
                    slot = i;
                    break;
                }
        struct gconn *c = slot >= 0 ? calloc(1, sizeof(*c)) : NULL;
        bool started = false;
        if (c != NULL) {
            c->g = g;
            c->fd = fd;
            c->slot = slot;
            g->conns[slot] = fd;
            g->n_conns++;
            pthread_t t;
            pthread_attr_t attr;
            pthread_attr_init(&attr);
            pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
            pthread_attr_setstacksize(&attr, 512 * 1024);
            started = pthread_create(&t, &attr, conn_main, c) == 0;
            pthread_attr_destroy(&attr);
            if (!started) {
                g->conns[slot] = -1;
                g->n_conns--;
                free(c);
            }
        }
        pthread_mutex_unlock(&g->lock);
        if (!started) close(fd);
    }
}

struct grpcd *grpcd_start(int port, grpc_handler handler, void *ctx) {
    struct grpcd *g = calloc(1, sizeof(*g));
    if (g == NULL) return NULL;
    g->handler = handler;
    g->ctx = ctx;
    for (int i = 0; i < GRPCD_MAX_CONNS; i++)
        g->conns[i] = -1;
    pthread_mutex_init(&g->lock, NULL);
    pthread_cond_init(&g->idle, NULL);
    g->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (g->listen_fd < 0) goto fail;
    int one = 1;
    setsockopt(g->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(g->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        listen(g->listen_fd, 128) != 0)
        goto fail;
    socklen_t sl = sizeof(sa);
    if (getsockname(g->listen_fd, (struct sockaddr *)&sa, &sl) != 0) goto fail;
    g->port = ntohs(sa.sin_port);
    if ((errno = pthread_create(&g->acceptor, NULL, accept_main, g)) != 0) goto fail;
    return g;
fail:;
    int e = errno;
    if (g->listen_fd >= 0) close(g->listen_fd);
    pthread_mutex_destroy(&g->lock);
    pthread_cond_destroy(&g->idle);
    free(g);
    errno = e;
    return NULL;
}

int grpcd_port(const struct grpcd *g) {
    return g->port;
}

void grpcd_stop(struct grpcd *g) {
    if (g == NULL) return;
    pthread_mutex_lock(&g->lock);
    g->stopping = true;
    pthread_mutex_unlock(&g->lock);
    shutdown(g->listen_fd, SHUT_RDWR);
    pthread_join(g->acceptor, NULL);
    close(g->listen_fd);
    pthread_mutex_lock(&g->lock);
    for (int i = 0; i < GRPCD_MAX_CONNS; i++)
        if (g->conns[i] >= 0) shutdown(g->conns[i], SHUT_RDWR);
    while (g->n_conns > 0)
        pthread_cond_wait(&g->idle, &g->lock);
    pthread_mutex_unlock(&g->lock);
    pthread_mutex_destroy(&g->lock);
    pthread_cond_destroy(&g->idle);
    free(g);
}
