/* spool: batches on disk until they can be delivered. See spool.h and
 * docs/SPOOL.md (the format is a contract with the local server). */
#include "exporters/spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <linux/fs.h> /* RENAME_NOREPLACE */
#include <stdio.h>    /* renameat only: no stdio calls */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

/* renameat2, fstat and fstatat as system calls: glibc's wrappers are 2.28
 * and 2.33 (the shim loads on 2.17: preload/abi_floor.h); musl has no
 * renameat2. */
static int rename_noreplace(int olddir, const char *old, int newdir, const char *new_name) {
    return (int)syscall(SYS_renameat2, olddir, old, newdir, new_name, RENAME_NOREPLACE);
}

const char *const spool_signal_names[3] = {"traces", "logs", "metrics"};

static _Atomic uint32_t seq;

/* ---- small text helpers: no stdio (a signal handler may spool) ---- */

static char *put_str(char *p, char *end, const char *s) {
    while (*s && p < end)
        *p++ = *s++;
    return p;
}

static char *put_dec(char *p, char *end, uint64_t v, int width) {
    char tmp[20];
    int n = 0;
    do
        tmp[n++] = (char)('0' + v % 10);
    while ((v /= 10));
    while (n < width && n < 20)
        tmp[n++] = '0';
    while (n && p < end)
        *p++ = tmp[--n];
    return p;
}

/* Parses a decimal [s, s+n); false on anything else or overflow. */
static bool parse_dec(const char *s, size_t n, uint64_t *out) {
    if (!n || n > 20) return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10) return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

static bool copy_field(char *dst, size_t cap, const char *s, size_t n) {
    if (n >= cap) return false;
    memcpy(dst, s, n);
    dst[n] = '\0';
    return true;
}

/* ---- where ---- */

static const char *env_get(char *const *envp, const char *name) {
    size_t n = strlen(name);
    for (; envp && *envp; envp++)
        if (!strncmp(*envp, name, n) && (*envp)[n] == '=')
            return (*envp)[n + 1] ? *envp + n + 1 : NULL;
    return NULL;
}

int spool_dir_default(char *out, size_t cap, char *const *envp) {
    char *end = out + cap, *p = out;
    const char *own = env_get(envp, "OTEL_PRELOAD_SPOOL_DIR");
    const char *xdg = env_get(envp, "XDG_RUNTIME_DIR");
    if (own) {
        p = put_str(p, end, own);
    } else if (xdg && xdg[0] == '/') {
        p = put_str(p, end, xdg);
        p = put_str(p, end, "/otel-preload-spool");
    } else {
        p = put_str(p, end, "/tmp/otel-preload-");
        p = put_dec(p, end, (uint64_t)getuid(), 0);
    }
    if (p >= end) return -ENAMETOOLONG;
    *p = '\0';
    return 0;
}

int spool_init(struct spool *sp, const char *path, uint64_t max_bytes) {
    memset(sp, 0, sizeof *sp);
    size_t n = strlen(path);
    if (!n || n >= sizeof sp->path) return -ENAMETOOLONG;
    memcpy(sp->path, path, n + 1);
    sp->max_bytes = max_bytes;
    return 0;
}

/* The directory, opened and checked: a directory (not a symlink), ours,
 * not writable by others. create: make it (0700) when missing. */
static int dir_open(const struct spool *sp, bool create) {
    int fd = open(sp->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT && create) {
        if (mkdir(sp->path, 0700) < 0 && errno != EEXIST) return -errno;
        fd = open(sp->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    if (fd < 0) return errno == ELOOP || errno == ENOTDIR ? -EPERM : -errno;
    struct stat st;
    if (syscall(SYS_fstat, fd, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
        (st.st_mode & 022)) {
        close(fd);
        return -EPERM;
    }
    return fd;
}

/* ---- names ---- */

struct name_parts {
    uint64_t time, pid, seq, records, bytes;
    int signal;
    bool keyed; /* a <key> field (older writers: none) */
    uint32_t key;
};

uint32_t spool_key(const char *endpoint, const char *protocol) {
    uint32_t h = 0x811c9dc5u; /* FNV-1a */
    for (const char *s = protocol && *protocol ? protocol : "http/protobuf"; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x01000193u;
    h = (h ^ '\n') * 0x01000193u;
    for (const char *s = endpoint; s && *s; s++)
        h = (h ^ (unsigned char)*s) * 0x01000193u;
    return h;
}

static bool parse_hex32(const char *s, size_t n, uint32_t *out) {
    if (n != 8) return false;
    uint32_t v = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0) return false;
        v = v << 4 | (uint32_t)d;
    }
    *out = v;
    return true;
}

/* "<time20>-<pid>-<seq>-<key>-<signal>-<records>-<bytes>.otlp", or without
 * "<key>-" (written by earlier versions). */
static bool parse_name(const char *name, struct name_parts *np) {
    const char *f[7];
    size_t fl[7];
    const char *p = name;
    size_t len = strlen(name);
    if (len < 5 || strcmp(name + len - 5, ".otlp") || len >= SPOOL_NAME_MAX) return false;
    const char *end = name + len - 5;
    int nf = 0;
    for (; nf < 7; nf++) {
        const char *q = p;
        while (q < end && *q != '-')
            q++;
        f[nf] = p;
        fl[nf] = (size_t)(q - p);
        p = q + 1;
        if (q >= end) break;
    }
    if (nf != 5 && nf != 6) return false; /* the index of the last field */
    np->keyed = nf == 6;
    if (np->keyed) {
        if (!parse_hex32(f[3], fl[3], &np->key)) return false;
        for (int i = 3; i < 6; i++) {
            f[i] = f[i + 1];
            fl[i] = fl[i + 1];
        }
    } else {
        np->key = 0;
    }
    np->signal = -1;
    for (int s = 0; s < 3; s++)
        if (fl[3] == strlen(spool_signal_names[s]) && !memcmp(f[3], spool_signal_names[s], fl[3]))
            np->signal = s;
    return fl[0] == 20 && np->signal >= 0 && parse_dec(f[0], fl[0], &np->time) &&
           parse_dec(f[1], fl[1], &np->pid) && parse_dec(f[2], fl[2], &np->seq) &&
           parse_dec(f[4], fl[4], &np->records) && parse_dec(f[5], fl[5], &np->bytes);
}

/* getdents64 straight into a stack buffer: no malloc (opendir's). */
struct dirent64_ {
    uint64_t ino;
    int64_t off;
    unsigned short reclen;
    unsigned char type;
    char name[];
};

/* Calls fn for each entry of dirfd; stops when fn returns non-zero. */
static int each_entry(int dirfd, int (*fn)(int dirfd, const char *name, void *ctx), void *ctx) {
    char buf[8192] __attribute__((aligned(8)));
    if (lseek(dirfd, 0, SEEK_SET) < 0) return -errno;
    for (;;) {
        long n = syscall(SYS_getdents64, dirfd, buf, sizeof buf);
        if (n < 0) return -errno;
        if (n == 0) return 0;
        for (long at = 0; at < n;) {
            struct dirent64_ *d = (struct dirent64_ *)(buf + at);
            at += d->reclen;
            if (d->name[0] == '.' && (!d->name[1] || (d->name[1] == '.' && !d->name[2]))) continue;
            int r = fn(dirfd, d->name, ctx);
            if (r) return r > 0 ? 0 : r;
        }
    }
}

/* ---- the cap ---- */

/* Evicting goes down to the cap less a 64th, so that a spool kept full (a
 * collector away for long) is scanned once per 64th of the cap written (1
 * MiB of the default), not at every write. */
#define CAP_LOW(max) ((max) - (max) / 64)
/* The oldest batches one scan finds: a round of eviction. A 64th of the cap
 * in small batches takes a few rounds; the usual case, one. */
#define EVICT_PER_SCAN 64

struct usage {
    uint64_t bytes;
    size_t n; /* the n oldest, oldest first */
    struct {
        char name[SPOOL_NAME_MAX];
        uint64_t bytes, records;
    } old[EVICT_PER_SCAN];
};

static int add_usage(int dirfd, const char *name, void *ctx) {
    (void)dirfd;
    struct usage *u = ctx;
    struct name_parts np;
    if (name[0] == '.' || !parse_name(name, &np)) return 0;
    u->bytes += np.bytes;
    size_t at = u->n;
    while (at > 0 && strcmp(name, u->old[at - 1].name) < 0)
        at--;
    if (at == EVICT_PER_SCAN) return 0;
    size_t keep = u->n < EVICT_PER_SCAN ? u->n : EVICT_PER_SCAN - 1;
    memmove(&u->old[at + 1], &u->old[at], (keep - at) * sizeof u->old[0]);
    memcpy(u->old[at].name, name, strlen(name) + 1);
    u->old[at].bytes = np.bytes;
    u->old[at].records = np.records;
    if (u->n < EVICT_PER_SCAN) u->n++;
    return 0;
}

/* Scans the directory, removes the oldest batches while the sum is over the
 * cap (down to CAP_LOW), and says the sum left. */
static int enforce_cap_in(struct spool *sp, int dirfd, uint64_t *left) {
    for (int round = 0; round < 4096; round++) { /* bounded: each round evicts */
        struct usage u;
        u.bytes = 0;
        u.n = 0;
        int rc = each_entry(dirfd, add_usage, &u);
        if (rc < 0) return rc;
        *left = u.bytes;
        if (u.bytes <= sp->max_bytes || !u.n) return 0;
        for (size_t i = 0; i<u.n && * left> CAP_LOW(sp->max_bytes); i++) {
            if (unlinkat(dirfd, u.old[i].name, 0) == 0) {
                sp->evicted_batches++;
                sp->evicted_records += u.old[i].records;
            } else if (errno != ENOENT) {
                return -errno;
            }
            *left -= u.old[i].bytes; /* gone, by us or by a drainer */
        }
        if (*left <= CAP_LOW(sp->max_bytes)) return 0;
    }
    return 0;
}

/* The usage file, ".usage": its size in bytes is at least the sum of the
 * batches' <bytes> in KiB. A writer appends its batch's KiB after the
 * rename (O_APPEND: concurrent writers add up), and scans the directory
 * only when the file says the cap is reached, or is missing; the scan
 * truncates it to the sum found. Drainers leave it alone (it stays an upper
 * bound). So a write costs a few system calls, not a scan of every batch. */
#define USAGE_FILE ".usage"
#define KIB(b) (((b) + 1023) / 1024)

static void usage_add(int fd, uint64_t kib) {
    static const char fill[1024];
    while (kib > 0) {
        size_t n = kib < sizeof fill ? (size_t)kib : sizeof fill;
        ssize_t w = write(fd, fill, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return;
        kib -= (uint64_t)w;
    }
}

static void after_write(struct spool *sp, int dirfd, uint64_t written) {
    int fd = openat(dirfd, USAGE_FILE, O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC);
    bool scan = true;
    if (fd >= 0) {
        struct stat st;
        usage_add(fd, KIB(written));
        scan = syscall(SYS_fstat, fd, &st) < 0 || !S_ISREG(st.st_mode) ||
               (uint64_t)st.st_size * 1024 > sp->max_bytes;
    } else if (errno == ENOENT) {
        fd = openat(dirfd, USAGE_FILE, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    }
    uint64_t left = 0;
    if (scan && enforce_cap_in(sp, dirfd, &left) == 0 && fd >= 0)
        (void)ftruncate(fd, (off_t)KIB(left));
    if (fd >= 0) close(fd);
}

int spool_prune(struct spool *sp) {
    int fd = dir_open(sp, false);
    if (fd < 0) return fd == -ENOENT ? 0 : fd;
    (void)unlinkat(fd, USAGE_FILE, 0); /* the next writer counts afresh */
    close(fd);
    return rmdir(sp->path) == 0 ? 0 : -errno;
}

/* ---- writing ---- */

static char *put_line(char *p, char *end, const char *name, const char *value) {
    p = put_str(p, end, name);
    p = put_str(p, end, ": ");
    p = put_str(p, end, value);
    return put_str(p, end, "\n");
}

static bool clean_value(const char *s) {
    for (; *s; s++)
        if (*s == '\n' || *s == '\r') return false;
    return true;
}

int spool_write(struct spool *sp, const struct spool_header *h, const void *body, size_t len) {
    if (!sp->max_bytes) {
        sp->refused++;
        return -ENOSPC;
    }
    if (h->signal < 0 || h->signal > 2 || !clean_value(h->endpoint) || !clean_value(h->protocol) ||
        !clean_value(h->content_type) || !clean_value(h->content_encoding)) {
        sp->refused++;
        return -EINVAL;
    }
    char head[SPOOL_HEADER_MAX];
    char *end = head + sizeof head, *p = head;
    p = put_str(p, end, SPOOL_MAGIC "\n");
    p = put_line(p, end, "signal", spool_signal_names[h->signal]);
    p = put_line(p, end, "endpoint", h->endpoint);
    p = put_line(p, end, "protocol", h->protocol[0] ? h->protocol : "http/protobuf");
    p = put_line(p, end, "content-type",
                 h->content_type[0] ? h->content_type : "application/x-protobuf");
    p = put_line(p, end, "content-encoding",
                 h->content_encoding[0] ? h->content_encoding : "identity");
    p = put_str(p, end, "records: ");
    p = put_dec(p, end, h->records, 0);
    p = put_str(p, end, "\nlength: ");
    p = put_dec(p, end, len, 0);
    p = put_str(p, end, "\n\n");
    if (p >= end) {
        sp->refused++;
        return -ENAMETOOLONG;
    }
    size_t hlen = (size_t)(p - head);
    uint64_t total = hlen + (uint64_t)len;
    if (total > sp->max_bytes) {
        sp->refused++;
        return -EFBIG;
    }
    int dirfd = dir_open(sp, true);
    if (dirfd < 0) {
        sp->refused++;
        return dirfd;
    }
    uint64_t pid = (uint64_t)getpid();
    uint32_t n = atomic_fetch_add(&seq, 1);
    char tmp[64], name[SPOOL_NAME_MAX];
    char *t = put_str(tmp, tmp + sizeof tmp, ".tmp-");
    t = put_dec(t, tmp + sizeof tmp, pid, 0);
    *t++ = '-';
    t = put_dec(t, tmp + sizeof tmp, n, 0);
    *t = '\0';
    struct timespec now = {0, 0}; /* a failed read: the name's other parts still differ */
    (void)clock_gettime(CLOCK_REALTIME, &now);
    char *q = name, *qe = name + sizeof name - 1;
    q = put_dec(q, qe, (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec, 20);
    q = put_str(q, qe, "-");
    q = put_dec(q, qe, pid, 0);
    q = put_str(q, qe, "-");
    q = put_dec(q, qe, n, 0);
    q = put_str(q, qe, "-");
    uint32_t key = spool_key(h->endpoint, h->protocol);
    for (int shift = 28; shift >= 0 && q < qe; shift -= 4)
        *q++ = "0123456789abcdef"[(key >> shift) & 0xf];
    q = put_str(q, qe, "-");
    q = put_str(q, qe, spool_signal_names[h->signal]);
    q = put_str(q, qe, "-");
    q = put_dec(q, qe, h->records, 0);
    q = put_str(q, qe, "-");
    q = put_dec(q, qe, total, 0);
    q = put_str(q, qe, ".otlp");
    *q = '\0';

    int rc = 0;
    int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = -errno;
    } else {
        size_t done = 0;
        while (done < total) {
            /* writev resumes where a short write stopped */
            struct iovec v[2];
            int cnt = 0;
            if (done < hlen) v[cnt++] = (struct iovec){head + done, hlen - done};
            size_t boff = done > hlen ? done - hlen : 0;
            if (len > boff) v[cnt++] = (struct iovec){(char *)body + boff, len - boff};
            ssize_t w = writev(fd, v, cnt);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) {
                rc = w < 0 ? -errno : -EIO;
                break;
            }
            done += (size_t)w;
        }
        if (close(fd) < 0 && !rc) rc = -errno;
        if (!rc && renameat(dirfd, tmp, dirfd, name) < 0) rc = -errno;
        if (rc) unlinkat(dirfd, tmp, 0);
    }
    if (!rc) {
        sp->written_batches++;
        sp->written_records += h->records;
        after_write(sp, dirfd, total);
    } else {
        sp->refused++;
    }
    close(dirfd);
    return rc;
}

/* ---- draining ---- */

/* ".claim-<pid>-..." / ".tmp-<pid>-...": the pid, or 0. */
static uint64_t owner_pid(const char *name, const char *prefix) {
    size_t pl = strlen(prefix);
    if (strncmp(name, prefix, pl)) return 0;
    const char *p = name + pl, *q = p;
    while (*q >= '0' && *q <= '9')
        q++;
    uint64_t pid;
    return *q == '-' && parse_dec(p, (size_t)(q - p), &pid) ? pid : 0;
}

static bool stale(int dirfd, const char *name, uint64_t pid) {
    bool dead = pid > 0 && pid < (1u << 30) && kill((pid_t)pid, 0) < 0 && errno == ESRCH;
    if (dead) return true;
    struct stat st;
    struct timespec now = {0, 0}; /* a failed read: nothing is stale */
    (void)clock_gettime(CLOCK_REALTIME, &now);
    return syscall(SYS_newfstatat, dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
           st.st_ctim.tv_sec + SPOOL_STALE_SECONDS < now.tv_sec;
}

struct listing {
    struct spool_entry *out;
    size_t max, n, total;
    const char *after; /* only names past it (NULL: all) */
};

static int list_one(int dirfd, const char *name, void *ctx) {
    struct listing *l = ctx;
    uint64_t pid;
    if ((pid = owner_pid(name, ".claim-")) != 0) {
        if (pid != (uint64_t)getpid() && stale(dirfd, name, pid)) {
            const char *orig = strchr(name + 7, '-') + 1;
            (void)rename_noreplace(dirfd, name, dirfd, orig); /* listed next time */
        }
        return 0;
    }
    if ((pid = owner_pid(name, ".tmp-")) != 0) {
        if (pid != (uint64_t)getpid() && stale(dirfd, name, pid)) (void)unlinkat(dirfd, name, 0);
        return 0;
    }
    struct name_parts np;
    if (name[0] == '.' || !parse_name(name, &np)) return 0;
    l->total++;
    if (l->after && strcmp(name, l->after) <= 0) return 0;
    /* Keep the max oldest, sorted: insertion. */
    size_t i = l->n;
    if (i == l->max) {
        if (!l->max || strcmp(name, l->out[l->max - 1].name) >= 0) return 0;
        i--;
    } else {
        l->n++;
    }
    while (i > 0 && strcmp(name, l->out[i - 1].name) < 0) {
        l->out[i] = l->out[i - 1];
        i--;
    }
    struct spool_entry *e = &l->out[i];
    memcpy(e->name, name, strlen(name) + 1);
    e->signal = np.signal;
    e->keyed = np.keyed;
    e->key = np.key;
    e->records = np.records;
    e->bytes = np.bytes;
    return 0;
}

int spool_list(struct spool *sp, struct spool_entry *out, size_t max, size_t *n, size_t *total) {
    return spool_list_after(sp, NULL, out, max, n, total);
}

int spool_list_after(struct spool *sp, const char *after, struct spool_entry *out, size_t max,
                     size_t *n, size_t *total) {
    *n = 0;
    if (total) *total = 0;
    int fd = dir_open(sp, false);
    if (fd < 0) return fd == -ENOENT ? 0 : fd;
    struct listing l = {out, max, 0, 0, after};
    int rc = each_entry(fd, list_one, &l);
    close(fd);
    *n = l.n;
    if (total) *total = l.total;
    return rc;
}

int spool_claim(struct spool *sp, const char *name, char *claimed, size_t cap) {
    struct name_parts np;
    if (name[0] == '.' || strchr(name, '/') || !parse_name(name, &np)) return -EINVAL;
    char *end = claimed + cap, *p = claimed;
    p = put_str(p, end, ".claim-");
    p = put_dec(p, end, (uint64_t)getpid(), 0);
    p = put_str(p, end, "-");
    p = put_str(p, end, name);
    if (p >= end) return -ENAMETOOLONG;
    *p = '\0';
    int fd = dir_open(sp, false);
    if (fd < 0) return fd;
    int rc = rename_noreplace(fd, name, fd, claimed) < 0 ? -errno : 0;
    close(fd);
    return rc;
}

int spool_parse_header(const char *text, size_t len, struct spool_header *h, size_t *header_len) {
    memset(h, 0, sizeof *h);
    h->signal = -1;
    size_t ml = strlen(SPOOL_MAGIC);
    if (len < ml + 1 || memcmp(text, SPOOL_MAGIC, ml) || text[ml] != '\n') return -EBADMSG;
    bool have_length = false, have_endpoint = false;
    for (size_t at = ml + 1; at < len;) {
        const char *line = text + at;
        const char *nl = memchr(line, '\n', len - at);
        if (!nl) return -EBADMSG;
        size_t ll = (size_t)(nl - line);
        at += ll + 1;
        if (ll == 0) {
            *header_len = at;
            return h->signal >= 0 && have_length && have_endpoint ? 0 : -EBADMSG;
        }
        const char *colon = memchr(line, ':', ll);
        if (!colon || colon + 1 >= nl || colon[1] != ' ') return -EBADMSG;
        size_t kl = (size_t)(colon - line);
        const char *v = colon + 2;
        size_t vl = (size_t)(nl - v);
#define KEY(k) (kl == sizeof k - 1 && !memcmp(line, k, kl))
        if (KEY("signal")) {
            for (int s = 0; s < 3; s++)
                if (vl == strlen(spool_signal_names[s]) && !memcmp(v, spool_signal_names[s], vl))
                    h->signal = s;
            if (h->signal < 0) return -EBADMSG;
        } else if (KEY("endpoint")) {
            if (!copy_field(h->endpoint, sizeof h->endpoint, v, vl)) return -EBADMSG;
            have_endpoint = true;
        } else if (KEY("protocol")) {
            if (!copy_field(h->protocol, sizeof h->protocol, v, vl)) return -EBADMSG;
        } else if (KEY("content-type")) {
            if (!copy_field(h->content_type, sizeof h->content_type, v, vl)) return -EBADMSG;
        } else if (KEY("content-encoding")) {
            if (!copy_field(h->content_encoding, sizeof h->content_encoding, v, vl))
                return -EBADMSG;
        } else if (KEY("records")) {
            if (!parse_dec(v, vl, &h->records)) return -EBADMSG;
        } else if (KEY("length")) {
            if (!parse_dec(v, vl, &h->length)) return -EBADMSG;
            have_length = true;
        }
#undef KEY
    }
    return -EBADMSG;
}

/* Opens name and reads its header: the open descriptor (the caller
 * closes it) with the header's length in *hl, -EBADMSG for a corrupt
 * file, or another negative errno. */
static int open_batch(struct spool *sp, const char *name, struct spool_header *h, size_t *hl) {
    int dirfd = dir_open(sp, false);
    if (dirfd < 0) return dirfd;
    int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    close(dirfd);
    if (fd < 0) return -errno;
    struct stat st;
    char head[SPOOL_HEADER_MAX];
    ssize_t got = syscall(SYS_fstat, fd, &st) == 0 && S_ISREG(st.st_mode)
                      ? pread(fd, head, sizeof head, 0)
                      : -1;
    if (got > 0 && spool_parse_header(head, (size_t)got, h, hl) == 0 &&
        (uint64_t)st.st_size == *hl + h->length && h->length <= SIZE_MAX - 1)
        return fd;
    close(fd);
    return -EBADMSG;
}

int spool_peek(struct spool *sp, const char *name, struct spool_header *h) {
    size_t hl;
    int fd = open_batch(sp, name, h, &hl);
    if (fd < 0) return fd;
    close(fd);
    return 0;
}

int spool_read(struct spool *sp, const char *claimed, struct spool_header *h, uint8_t **body) {
    *body = NULL;
    size_t hl;
    int fd = open_batch(sp, claimed, h, &hl);
    if (fd < 0) return fd;
    int rc = -ENOMEM;
    uint8_t *b = malloc(h->length ? (size_t)h->length : 1);
    if (b) {
        size_t done = 0;
        while (done < h->length) {
            ssize_t r = pread(fd, b + done, (size_t)h->length - done, (off_t)(hl + done));
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) break;
            done += (size_t)r;
        }
        if (done == h->length) {
            *body = b;
            rc = 0;
        } else {
            free(b);
            rc = -EBADMSG;
        }
    }
    close(fd);
    return rc;
}

int spool_remove(struct spool *sp, const char *claimed) {
    int fd = dir_open(sp, false);
    if (fd < 0) return fd;
    int rc = unlinkat(fd, claimed, 0) < 0 ? -errno : 0;
    close(fd);
    return rc;
}

int spool_release(struct spool *sp, const char *claimed) {
    if (!owner_pid(claimed, ".claim-")) return -EINVAL;
    const char *orig = strchr(claimed + 7, '-');
    if (!orig) return -EINVAL;
    int fd = dir_open(sp, false);
    if (fd < 0) return fd;
    int rc = rename_noreplace(fd, claimed, fd, orig + 1) < 0 ? -errno : 0;
    close(fd);
    return rc;
}
