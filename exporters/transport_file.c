/* transport_file: OTLP JSON lines appended to a file (the OTLP file
 * exporter format: one Export*ServiceRequest in the JSON mapping per line),
 * for offline use. The file is opened O_APPEND | O_CLOEXEC on first use
 * (created 0600 when missing) and each request goes out in one writev, so
 * the processes of a pipeline can share one file without tearing lines on
 * local file systems. Depends on transport.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "core/diag.h"
#include "core/fds.h"
#include "exporters/transport.h"

struct transport_file {
    struct transport base;
    char *path;
    int fd;
};

static int file_send(struct transport *t, const struct transport_request *req, uint64_t deadline,
                     struct transport_result *res) {
    (void)deadline;
    struct transport_file *x = (struct transport_file *)t;
    if (fd_get(&x->fd) < 0) {
        int fd =
            fd_move_high(open(x->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600));
        if (fd < 0) {
            int err = fd == -1 ? errno : -fd;
            if (!req->in_signal)
                diag_warn("cannot open %s for the otlp_file exporter: %s", x->path, strerror(err));
            return -err;
        }
        __atomic_store_n(&x->fd, fd, __ATOMIC_RELEASE);
        fd_hold(&x->fd);
    }
    struct iovec iov[2] = {{(void *)req->body, req->len}, {"\n", 1}};
    size_t total = req->len + 1, done = 0;
    while (done < total) {
        int fd = fd_get(&x->fd);
        if (fd < 0) return -EBADF;
        ssize_t w = writev(fd, iov, 2);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return w < 0 ? -errno : -EIO;
        done += (size_t)w;
        /* A short write (disk full): finish the line from where it stopped. */
        for (int i = 0; i < 2; i++) {
            size_t take = (size_t)w < iov[i].iov_len ? (size_t)w : iov[i].iov_len;
            iov[i].iov_base = (char *)iov[i].iov_base + take;
            iov[i].iov_len -= take;
            w -= (ssize_t)take;
        }
    }
    res->http_status = 200; /* written */
    return 0;
}

static void file_after_fork(struct transport *t) {
    (void)t; /* an O_APPEND descriptor is safe to share with the parent */
}

static const struct transport_ops file_ops = {"file", file_send, file_after_fork, false};

struct transport *transport_file_new(const char *path) {
    struct transport_file *x = calloc(1, sizeof *x);
    if (!x) return NULL;
    x->base.ops = &file_ops;
    x->fd = -1;
    x->path = strdup(path);
    if (!x->path) {
        free(x);
        return NULL;
    }
    return &x->base;
}
