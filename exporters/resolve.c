/* resolve: getaddrinfo with a deadline. See resolve.h. */
#include "exporters/resolve.h"

#include <errno.h>
#include <linux/futex.h>
#include <netdb.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "core/guard.h"
#include "core/ids.h"
#include "core/processor.h"

#define MAX_ADDRS 8

/* One look-up, shared by the caller and the thread: whoever lets go last
 * frees it. */
struct job {
    _Atomic int refs;
    _Atomic uint32_t done;
    int rc, n;
    char host[256], port[8];
    struct sockaddr_storage addrs[MAX_ADDRS];
    socklen_t lens[MAX_ADDRS];
};

static void release(struct job *j) {
    if (atomic_fetch_sub(&j->refs, 1) == 1) free(j);
}

/* The look-up itself, on the calling thread. */
static void look_up(struct job *j) {
    /* No AI_ADDRCONFIG: it hides IPv4 answers on hosts with only loopback. */
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    j->rc = -ENONET; /* retry.h: the name did not resolve */
    if (getaddrinfo(j->host, j->port, &hints, &res) != 0 || !res) return;
    for (struct addrinfo *ai = res; ai && j->n < MAX_ADDRS; ai = ai->ai_next) {
        if (ai->ai_addrlen > sizeof j->addrs[0]) continue;
        memcpy(&j->addrs[j->n], ai->ai_addr, ai->ai_addrlen);
        j->lens[j->n++] = ai->ai_addrlen;
    }
    freeaddrinfo(res);
    if (j->n) j->rc = 0;
}

static void *resolver_main(void *arg) {
    struct job *j = arg;
    guard_enter(); /* for good: the resolver's sockets are ours */
    look_up(j);
    atomic_store(&j->done, 1);
    syscall(SYS_futex, &j->done, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
    release(j);
    return NULL;
}

static int copy_out(const struct job *j, struct sockaddr_storage *addrs, socklen_t *lens, int max) {
    if (j->rc < 0) return j->rc;
    int n = j->n < max ? j->n : max;
    for (int i = 0; i < n; i++) {
        addrs[i] = j->addrs[i];
        lens[i] = j->lens[i];
    }
    return n;
}

int resolve_deadline(const char *host, uint16_t port, struct sockaddr_storage *addrs,
                     socklen_t *lens, int max, uint64_t deadline) {
    struct job *j = calloc(1, sizeof *j);
    if (!j) return -ENOMEM;
    size_t hl = strlen(host);
    if (hl >= sizeof j->host) {
        free(j);
        return -ENONET;
    }
    memcpy(j->host, host, hl + 1);
    snprintf(j->port, sizeof j->port, "%u", port);
    atomic_store(&j->refs, 2);
    if (processor_spawn_thread_with(resolver_main, j, 128 * 1024) != 0) {
        look_up(j); /* no thread: as before, on this one */
        int rc = copy_out(j, addrs, lens, max);
        free(j);
        return rc;
    }
    int rc = -ETIMEDOUT;
    for (;;) {
        if (atomic_load(&j->done)) {
            rc = copy_out(j, addrs, lens, max);
            break;
        }
        uint64_t now = clock_mono_ns();
        if (now >= deadline) break;
        uint64_t left = deadline - now;
        struct timespec ts = {(time_t)(left / 1000000000u), (long)(left % 1000000000u)};
        syscall(SYS_futex, &j->done, FUTEX_WAIT_PRIVATE, 0, &ts, NULL, 0);
    }
    release(j);
    return rc;
}
