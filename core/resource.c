/* resource: resource detection. See resource.h. */
#include "core/resource.h"

#include "core/fds.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "core/cold.h"
#include "core/diag.h"
#include "core/ids.h"
#include "core/text.h"

static const struct attr_limits unlimited = {UINT32_MAX, UINT32_MAX};

const char *const resource_host_keys[RESOURCE_HOST_KEYS] = {
    "host.name",      "host.arch",  "host.id",      "os.type",
    "os.description", "os.version", "container.id", "host.ip"};

/* Writes a, b and c into out (cap bytes, cut to fit), NUL-terminated: no
 * snprintf, whose code pages a process that exports would otherwise fault
 * in just for this. */
static void join(char *out, size_t cap, const char *a, const char *b, const char *c) {
    const char *parts[3] = {a, b, c};
    size_t n = 0;
    for (int i = 0; i < 3; i++)
        for (const char *p = parts[i]; *p && n + 1 < cap; p++)
            out[n++] = *p;
    out[n] = '\0';
}

/* Reads up to cap-1 bytes of root+path into buf, NUL-terminated. */
static ssize_t read_file(const char *root, const char *path, char *buf, size_t cap) {
    char full[512];
    join(full, sizeof full, root, path, "");
    int fd = open(full, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -errno;
    size_t len = 0;
    while (len < cap - 1) {
        ssize_t n = read(fd, buf + len, cap - 1 - len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        len += (size_t)n;
    }
    close(fd);
    buf[len] = '\0';
    return (ssize_t)len;
}

static int unhex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Percent-decodes [s, s+len) into out (at least len bytes). Returns the
 * decoded length or -EINVAL. */
static int percent_decode(const char *s, size_t len, char *out) {
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '%') {
            int hi, lo;
            if (i + 2 >= len || (hi = unhex(s[i + 1])) < 0 || (lo = unhex(s[i + 2])) < 0)
                return -EINVAL;
            out[o++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    return (int)o;
}

static void trim(const char **b, const char **e) {
    while (*b < *e && (**b == ' ' || **b == '\t'))
        (*b)++;
    while (*e > *b && ((*e)[-1] == ' ' || (*e)[-1] == '\t'))
        (*e)--;
}

int resource_parse_attributes(struct attr_list *l, struct arena *a, const char *s) {
    if (!s) return 0;
    /* Two passes: validate everything first, so a malformed value adds
     * nothing. */
    for (int pass = 0; pass < 2; pass++) {
        const char *p = s;
        while (*p) {
            const char *item = p;
            while (*p && *p != ',')
                p++;
            const char *end = p;
            if (*p == ',') p++;
            const char *eq = memchr(item, '=', (size_t)(end - item));
            const char *kb = item, *ke = eq ? eq : end;
            trim(&kb, &ke);
            if (!eq || kb == ke) {
                if (kb == ke && !eq) continue; /* empty member, e.g. trailing comma */
                diag_warn("OTEL_RESOURCE_ATTRIBUTES is malformed near '%.*s', ignored",
                          (int)(end - item), item);
                return -EINVAL;
            }
            const char *vb = eq + 1, *ve = end;
            trim(&vb, &ve);
            char key[256], value[4096];
            size_t klen = (size_t)(ke - kb), vlen = (size_t)(ve - vb);
            if (klen >= sizeof key || vlen >= sizeof value) {
                diag_warn("OTEL_RESOURCE_ATTRIBUTES has an over-long member, ignored");
                return -EINVAL;
            }
            int kn = percent_decode(kb, klen, key), vn = percent_decode(vb, vlen, value);
            if (kn < 0 || vn < 0) {
                diag_warn("OTEL_RESOURCE_ATTRIBUTES has a bad percent-encoding near '%.*s', "
                          "ignored",
                          (int)(end - item), item);
                return -EINVAL;
            }
            if (pass == 1) {
                struct attr_value v = {.type = ATTR_STRING, .u.s = str_of(value, (size_t)vn)};
                (void)attrs_put(l, a, &unlimited, str_of(key, (size_t)kn), &v);
            }
        }
    }
    return 0;
}

const char *resource_host_arch(const char *m) {
    static const char *const map[][2] = {
        {"x86_64", "amd64"}, {"aarch64", "arm64"}, {"i386", "x86"},      {"i486", "x86"},
        {"i586", "x86"},     {"i686", "x86"},      {"armv7l", "arm32"},  {"armv6l", "arm32"},
        {"ppc", "ppc32"},    {"ppc64", "ppc64"},   {"ppc64le", "ppc64"}, {"s390x", "s390x"},
        {"ia64", "ia64"}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (!strcmp(m, map[i][0])) return map[i][1];
    return m;
}

static bool is_hex64(const char *p) {
    for (int i = 0; i < 64; i++)
        if (unhex(p[i]) < 0 || (p[i] >= 'A' && p[i] <= 'F')) return false;
    return true;
}

/* Finds a 64-hex run in [b, e) that is delimited by non-hex characters. */
static const char *find_id(const char *b, const char *e) {
    for (const char *p = b; p + 64 <= e; p++) {
        if (p > b && unhex(p[-1]) >= 0) continue;
        if (is_hex64(p) && (p + 64 == e || unhex(p[64]) < 0)) return p;
    }
    return NULL;
}

int resource_container_id(const char *cgroup, const char *mountinfo, char out[65]) {
    /* cgroup v1 ("12:pids:/docker/<id>") and v2 with a host cgroup namespace
     * ("0::/system.slice/docker-<id>.scope", kubepods paths): the id is the
     * last 64-hex component of a line. */
    for (const char *line = cgroup; line && *line;) {
        const char *end = strchr(line, '\n');
        if (!end) end = line + strlen(line);
        const char *found = NULL, *p = line, *id;
        while ((id = find_id(p, end))) {
            found = id;
            p = id + 64;
        }
        if (found) {
            memcpy(out, found, 64);
            out[64] = '\0';
            return 0;
        }
        line = *end ? end + 1 : end;
    }
    /* cgroup v2 with a private namespace shows "0::/": the container
     * runtime's bind mounts name the id (".../containers/<id>/hostname"). */
    for (const char *line = mountinfo; line && *line;) {
        const char *end = strchr(line, '\n');
        if (!end) end = line + strlen(line);
        /* ".../containers/<id>/..." (docker) or
         * ".../overlay-containers/<id>/userdata/..." (podman) */
        for (const char *c = line; (c = strstr(c, "containers/")) && c < end; c += 11) {
            const char *id = find_id(c + 11, end);
            if (id == c + 11) {
                memcpy(out, id, 64);
                out[64] = '\0';
                return 0;
            }
        }
        line = *end ? end + 1 : end;
    }
    return -ENOENT;
}

static void put_str(struct resource *r, const char *key, const char *value) {
    (void)attrs_put_str(&r->attrs, &r->arena, &unlimited, key, value, strlen(value));
}

/* The files read (machine-id, os-release, cgroup, mountinfo) go through
 * one static buffer, one after the other, not 16 KiB of stack: detection
 * runs once per process (under resource_state), possibly in a dying
 * process's signal handler on a small alternate stack, and each fresh
 * stack page is a page fault. */
static char scratch[8192] OTELP_COLD;

/* PRETTY_NAME="Debian GNU/Linux 12 (bookworm)" from os-release. */
static bool os_pretty_name(const char *root, char *out, size_t cap) {
    char *buf = scratch;
    if (read_file(root, "/etc/os-release", buf, sizeof scratch) <= 0 &&
        read_file(root, "/usr/lib/os-release", buf, sizeof scratch) <= 0)
        return false;
    for (char *line = buf; line && *line;) {
        char *end = strchr(line, '\n');
        if (end) *end = '\0';
        if (!strncmp(line, "PRETTY_NAME=", 12)) {
            char *v = line + 12;
            size_t n = strlen(v);
            if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0]) {
                v++;
                n -= 2;
            }
            if (n >= cap) n = cap - 1;
            memcpy(out, v, n);
            out[n] = '\0';
            return n > 0;
        }
        line = end ? end + 1 : NULL;
    }
    return false;
}

static size_t put_dec(char *o, unsigned v) {
    size_t n = 0;
    if (v >= 100) o[n++] = (char)('0' + v / 100);
    if (v >= 10) o[n++] = (char)('0' + v / 10 % 10);
    o[n++] = (char)('0' + v % 10);
    return n;
}

static size_t put_ipv4(char *o, const uint8_t b[4]) {
    size_t n = 0;
    for (int i = 0; i < 4; i++) {
        if (i) o[n++] = '.';
        n += put_dec(o + n, b[i]);
    }
    return n;
}

int resource_ip_text(int family, const void *addr, char out[RESOURCE_IP_LEN]) {
    const uint8_t *b = addr;
    size_t n = 0;
    if (family == AF_INET) {
        n = put_ipv4(out, b);
        out[n] = '\0';
        return (int)n;
    }
    if (family != AF_INET6) return -1;
    unsigned w[8];
    for (int i = 0; i < 8; i++)
        w[i] = (unsigned)b[2 * i] << 8 | b[2 * i + 1];
    /* The first longest run of zero groups, if two or more long. */
    int best = -1, best_len = 0;
    for (int i = 0; i < 8;) {
        if (w[i]) {
            i++;
            continue;
        }
        int j = i;
        while (j < 8 && !w[j])
            j++;
        if (j - i > best_len) {
            best = i;
            best_len = j - i;
        }
        i = j;
    }
    if (best_len < 2) best = -1;
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 8; i++) {
        if (best >= 0 && i >= best && i < best + best_len) {
            if (i == best) out[n++] = ':';
            continue;
        }
        if (i) out[n++] = ':';
        /* ::a.b.c.d and ::ffff:a.b.c.d */
        if (i == 6 && best == 0 && (best_len == 6 || (best_len == 5 && w[5] == 0xffff))) {
            n += put_ipv4(out + n, b + 12);
            out[n] = '\0';
            return (int)n;
        }
        bool lead = true;
        for (int s = 12; s >= 0; s -= 4) {
            unsigned d = (w[i] >> s) & 15;
            if (d || !lead || !s) {
                out[n++] = hex[d];
                lead = false;
            }
        }
    }
    if (best >= 0 && best + best_len == 8) out[n++] = ':';
    out[n] = '\0';
    return (int)n;
}

int resource_host_ips(char out[][RESOURCE_IP_LEN], int max) {
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0) return -errno;
    if (fds_base() >= 0 && (fd = fd_move_high(fd)) < 0) return fd; /* see core/fds.h */
    struct {
        struct nlmsghdr h;
        struct ifaddrmsg m;
    } req;
    memset(&req, 0, sizeof req);
    req.h.nlmsg_len = sizeof req;
    req.h.nlmsg_type = RTM_GETADDR;
    req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    req.h.nlmsg_seq = 1;
    req.m.ifa_family = AF_UNSPEC;
    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    int n = 0;
    if (sendto(fd, &req, sizeof req, 0, (struct sockaddr *)&kernel, sizeof kernel) !=
        (ssize_t)sizeof req) {
        n = -errno;
        close(fd);
        return n;
    }
    /* The kernel writes the dump as it is read: no read waits (MSG_DONTWAIT),
     * and a host with thousands of addresses stops at max. */
    bool done = false;
    for (int reads = 0; !done && reads < 64 && n < max; reads++) {
        ssize_t len = recv(fd, scratch, sizeof scratch, MSG_DONTWAIT);
        if (len <= 0) break;
        size_t left = (size_t)len;
        for (struct nlmsghdr *h = (struct nlmsghdr *)scratch; NLMSG_OK(h, left) && n < max;
             h = NLMSG_NEXT(h, left)) {
            if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR) {
                done = true;
                break;
            }
            if (h->nlmsg_type != RTM_NEWADDR) continue;
            const struct ifaddrmsg *m = NLMSG_DATA(h);
            /* Not loopback (host scope) nor link-local: global or site. */
            if (m->ifa_scope >= RT_SCOPE_LINK) continue;
            if (m->ifa_family != AF_INET && m->ifa_family != AF_INET6) continue;
            const void *addr = NULL;
            size_t alen = IFA_PAYLOAD(h);
            for (const struct rtattr *a = IFA_RTA(m); RTA_OK(a, alen); a = RTA_NEXT(a, alen)) {
                /* IPv4: the local address (on a point-to-point link
                 * IFA_ADDRESS is the peer's); IPv6 has only IFA_ADDRESS. */
                if (a->rta_type == IFA_LOCAL || (a->rta_type == IFA_ADDRESS && !addr))
                    addr = RTA_DATA(a);
            }
            if (addr && resource_ip_text(m->ifa_family, addr, out[n]) > 0) n++;
        }
    }
    close(fd);
    return n;
}

/* host.ip: a string array, as the conventions have it. */
static void detect_host_ip(struct resource *r) {
    char text[RESOURCE_IPS][RESOURCE_IP_LEN];
    int n = resource_host_ips(text, RESOURCE_IPS);
    if (n <= 0) return;
    struct str items[RESOURCE_IPS];
    for (int i = 0; i < n; i++)
        items[i] = (struct str){text[i], (uint32_t)strlen(text[i])};
    struct attr_value v = {.type = ATTR_STRING_ARRAY, .u.arr = {items, (uint32_t)n}};
    (void)attrs_put(&r->attrs, &r->arena, &unlimited, (struct str){"host.ip", 7}, &v);
}

static void detect_host(struct resource *r, const char *root) {
    char *buf = scratch;
    struct utsname u;
    bool have_uname = syscall(SYS_uname, &u) == 0; /* (a page of libc's code less) */
    if (have_uname) {
        put_str(r, "host.name", u.nodename);
        put_str(r, "host.arch", resource_host_arch(u.machine));
    }
    if (read_file(root, "/etc/machine-id", buf, sizeof scratch) > 0 ||
        read_file(root, "/var/lib/dbus/machine-id", buf, sizeof scratch) > 0) {
        buf[text_cspn(buf, " \t\r\n")] = '\0';
        if (buf[0]) put_str(r, "host.id", buf);
    }
    put_str(r, "os.type", "linux");
    char pretty[256];
    if (os_pretty_name(root, pretty, sizeof pretty)) {
        put_str(r, "os.description", pretty);
    } else if (have_uname) {
        join(pretty, sizeof pretty, u.sysname, " ", u.release);
        put_str(r, "os.description", pretty);
    }
    if (have_uname) put_str(r, "os.version", u.release);

    char id[65];
    char *cgroup = scratch; /* then mountinfo, once the cgroup file is checked */
    ssize_t n = read_file(root, "/proc/self/cgroup", cgroup, 4096);
    if (n < 0) cgroup[0] = '\0';
    if (resource_container_id(cgroup, NULL, id) == 0) {
        put_str(r, "container.id", id);
    } else if (!strcmp(cgroup, "0::/\n") &&
               read_file(root, "/proc/self/mountinfo", buf, sizeof scratch) > 0 &&
               resource_container_id(NULL, buf, id) == 0) {
        /* Only a private cgroup namespace hides the id from the cgroup
         * file; mountinfo is costly for the kernel to produce, so it is
         * read only then. */
        put_str(r, "container.id", id);
    }
    detect_host_ip(r);
}

void resource_detect(struct resource *r, const struct config *cfg, const char *exe_name,
                     const char *root) {
    char *buf = scratch;
    put_str(r, "telemetry.sdk.name", TELEMETRY_SDK_NAME);
    put_str(r, "telemetry.sdk.language", TELEMETRY_SDK_LANGUAGE);
    put_str(r, "telemetry.sdk.version", OTELP_VERSION);
    char uuid[37];
    if (!r->instance_id) ids_uuid4(uuid);
    put_str(r, "service.instance.id", r->instance_id ? r->instance_id : uuid);
    if (!r->without_host) detect_host(r, root);

    /* OTEL_RESOURCE_ATTRIBUTES overrides detected values; OTEL_SERVICE_NAME
     * overrides it for service.name. */
    if (cfg->resource_attributes &&
        resource_parse_attributes(&r->attrs, &r->arena, cfg->resource_attributes) < 0) {
        /* Malformed: already reported, and nothing of it was added. */
    }
    if (cfg->service_name) {
        put_str(r, "service.name", cfg->service_name);
    } else if (!attrs_find(&r->attrs, "service.name")) {
        join(buf, sizeof scratch, "unknown_service:", exe_name ? exe_name : "", "");
        put_str(r, "service.name", buf);
    }
    r->host_wanted = 0;
    for (int i = 0; r->without_host && i < RESOURCE_HOST_KEYS; i++)
        if (!attrs_find(&r->attrs, resource_host_keys[i])) r->host_wanted |= 1u << i;
}
