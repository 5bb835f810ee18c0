/* test_resource: OTEL_RESOURCE_ATTRIBUTES parsing (percent-decoding,
 * trimming, empty members, '=' in values, malformed values add nothing and
 * give one diagnostic), container ids from cgroup v1/v2 and mountinfo texts
 * (docker, containerd/kubepods, podman), host.arch, and resource_detect
 * against a fake root directory (host.id, os.description, container.id,
 * service.name precedence, telemetry.sdk.*). Depends on core/resource.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "core/diag.h"
#include "core/resource.h"
#include "tests/unit/test.h"

#define ID1 "4f2a1b3c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7a8"
#define ID2 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static int ndiag;
static void count_diag(enum diag_level level, const char *line) {
    (void)level, (void)line;
    ndiag++;
}

static _Alignas(16) char arena_mem[32768];

static void fresh(struct attr_list *l, struct arena *a) {
    memset(l, 0, sizeof *l);
    arena_init(a, arena_mem, sizeof arena_mem);
    a->no_malloc = true;
}

/* The string value of key in l, or NULL. */
static const char *str_attr(const struct attr_list *l, const char *key) {
    const struct attr *x = attrs_find(l, key);
    if (!x || x->value.type != ATTR_STRING) return NULL;
    return x->value.u.s.ptr; /* NUL-terminated by the arena copy */
}

static void test_parse_basic(void) {
    struct attr_list l;
    struct arena a;
    fresh(&l, &a);
    ndiag = 0;
    CHECK_EQ_INT(resource_parse_attributes(&l, &a, "a=b,c=d"), 0);
    CHECK_EQ_INT(l.count, 2);
    CHECK_STR(str_attr(&l, "a"), "b");
    CHECK_STR(str_attr(&l, "c"), "d");

    fresh(&l, &a);
    CHECK_EQ_INT(resource_parse_attributes(&l, &a, "  key = value with spaces ,\tk2=v2\t"), 0);
    CHECK_EQ_INT(l.count, 2);
    CHECK_STR(str_attr(&l, "key"), "value with spaces");
    CHECK_STR(str_attr(&l, "k2"), "v2");

    fresh(&l, &a);
    CHECK_EQ_INT(resource_parse_attributes(&l, &a, "k=hello%20world%2C%3d%25,my%2Ekey=v"), 0);
    CHECK_STR(str_attr(&l, "k"), "hello world,=%");
    CHECK_STR(str_attr(&l, "my.key"), "v");

    fresh(&l, &a);
    CHECK_EQ_INT(resource_parse_attributes(&l, &a, "url=http://x/?a=b&c=d"), 0);
    CHECK_STR(str_attr(&l, "url"), "http://x/?a=b&c=d");

    fresh(&l, &a);
    CHECK_EQ_INT(resource_parse_attributes(&l, &a, ",a=1,,b=2, ,"), 0);
    CHECK_EQ_INT(l.count, 2);
    CHECK_STR(str_attr(&l, "b"), "2");

    fresh(&l, &a);
    CHECK_EQ_INT(resource_parse_attributes(&l, &a, "empty=,a=1"), 0);
    CHECK_STR(str_attr(&l, "empty"), "");

    fresh(&l, &a);
    CHECK_EQ_INT(resource_parse_attributes(&l, &a, "a=1,a=2"), 0);
    CHECK_EQ_INT(l.count, 1);
    CHECK_STR(str_attr(&l, "a"), "2");

    fresh(&l, &a);
    CHECK_EQ_INT(resource_parse_attributes(&l, &a, ""), 0);
    CHECK_EQ_INT(resource_parse_attributes(&l, &a, NULL), 0);
    CHECK_EQ_INT(l.count, 0);
    CHECK_EQ_INT(ndiag, 0);
}

static void test_parse_malformed(void) {
    static const char *const bad[] = {
        "a=1,novalue,b=2", "=v", "a=1, =2", "k=%zz", "k=%4", "k=abc%", "%g1=v", "k=%2",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct attr_list l;
        struct arena a;
        fresh(&l, &a);
        ndiag = 0;
        int rc = resource_parse_attributes(&l, &a, bad[i]);
        test_checks++;
        if (rc != -EINVAL || l.count != 0 || ndiag != 1)
            TEST_FAIL_("'%s': rc %d, %u attributes, %d diagnostics", bad[i], rc, l.count, ndiag);
    }
    /* Over-long members. */
    char big[5000];
    memset(big, 'k', sizeof big);
    big[sizeof big - 1] = '\0';
    big[300] = '=';
    struct attr_list l;
    struct arena a;
    fresh(&l, &a);
    ndiag = 0;
    CHECK_EQ_INT(resource_parse_attributes(&l, &a, big), -EINVAL); /* key of 300 */
    CHECK_EQ_INT(ndiag, 1);
    big[300] = 'k';
    big[3] = '=';
    ndiag = 0;
    CHECK_EQ_INT(resource_parse_attributes(&l, &a, big), -EINVAL); /* value > 4095 */
    CHECK_EQ_INT(ndiag, 1);
    CHECK_EQ_INT(l.count, 0);
}

static void check_id(const char *what, const char *cgroup, const char *mountinfo,
                     const char *want) {
    char out[65] = "untouched";
    int rc = resource_container_id(cgroup, mountinfo, out);
    test_checks++;
    if (want && (rc != 0 || strcmp(out, want)))
        TEST_FAIL_("%s: rc %d, id '%s', want '%s'", what, rc, rc == 0 ? out : "", want);
    else if (!want && rc != -ENOENT)
        TEST_FAIL_("%s: rc %d, id '%s', want none", what, rc, out);
}

static void test_container_id(void) {
    check_id("cgroup v1 docker",
             "12:pids:/docker/" ID1 "\n11:memory:/docker/" ID1 "\n0::/system.slice/containerd\n",
             NULL, ID1);
    check_id("cgroup v1 kubepods",
             "11:memory:/kubepods/besteffort/pod5a8f3d2e-4f1b-4c6b-9d8e-1f2a3b4c5d6e/" ID2 "\n",
             NULL, ID2);
    check_id("cgroup v2 docker", "0::/system.slice/docker-" ID1 ".scope\n", NULL, ID1);
    check_id("cgroup v2 containerd",
             "0::/kubepods.slice/kubepods-burstable.slice/"
             "kubepods-burstable-pod5a8f3d2e_4f1b_4c6b_9d8e_1f2a3b4c5d6e.slice/"
             "cri-containerd-" ID2 ".scope\n",
             NULL, ID2);
    check_id("cgroup v2 podman",
             "0::/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" ID1 ".scope",
             NULL, ID1);
    check_id("cgroup v1 crio",
             "1:name=systemd:/kubepods/burstable/podabc/crio-" ID2 ".scope\n2:cpu:/\n", NULL, ID2);
    check_id("no trailing newline", "12:pids:/docker/" ID1, NULL, ID1);
    check_id("mountinfo docker", "0::/\n",
             "611 590 0:55 / / rw,relatime master:1 - overlay overlay rw\n"
             "628 611 254:1 /var/lib/docker/containers/" ID1
             "/resolv.conf /etc/resolv.conf rw,relatime - ext4 /dev/vda1 rw\n"
             "629 611 254:1 /var/lib/docker/containers/" ID1
             "/hostname /etc/hostname rw,relatime - ext4 /dev/vda1 rw\n",
             ID1);
    check_id("mountinfo docker-in-docker", NULL,
             "473 456 254:1 /docker/containers/" ID2
             "/hostname /etc/hostname rw,relatime - ext4 /dev/vda1 rw\n",
             ID2);
    /* cgroup wins over mountinfo */
    check_id("both", "0::/system.slice/docker-" ID1 ".scope\n",
             "1 2 3:4 /var/lib/docker/containers/" ID2 "/hostname /etc/hostname rw\n", ID1);

    check_id("none: v2 private namespace", "0::/\n",
             "611 590 0:55 / / rw,relatime - overlay overlay rw\n", NULL);
    check_id("none: systemd session", "0::/user.slice/user-1000.slice/session-2.scope\n", NULL,
             NULL);
    check_id("none: empty", "", "", NULL);
    check_id("none: NULL", NULL, NULL, NULL);
    char upper[] = "12:pids:/docker/" ID1;
    for (char *p = upper; *p; p++)
        if (*p >= 'a' && *p <= 'f') *p = (char)(*p - 'a' + 'A');
    check_id("none: upper-case hex", upper, NULL, NULL);
    check_id("none: 65 hex digits", "12:pids:/docker/" ID1 "a\n", NULL, NULL);
    char short_id[] = "12:pids:/docker/" ID1;
    short_id[strlen(short_id) - 1] = '\0';
    check_id("none: 63 hex digits", short_id, NULL, NULL);
    check_id("none: mountinfo id not after /containers/", NULL,
             "1 2 3:4 /var/lib/docker/volumes/" ID1 "/_data /data rw\n", NULL);
}

/* Podman's bind mounts put the id after "overlay-containers/", and the
 * mount root of a rootless container starts with "/containers/". */
static void test_container_id_podman_mountinfo(void) {
    check_id("mountinfo podman", "0::/\n",
             "1555 1546 0:32 /containers/overlay-containers/" ID1
             "/userdata/hostname /etc/hostname rw,nosuid,nodev,relatime - tmpfs tmpfs rw\n",
             ID1);
    check_id("mountinfo podman rootful", "0::/\n",
             "1 2 0:3 /var/lib/containers/storage/overlay-containers/" ID2
             "/userdata/hostname /etc/hostname rw - tmpfs tmpfs rw\n",
             ID2);
}

static void test_host_arch(void) {
    CHECK_STR(resource_host_arch("x86_64"), "amd64");
    CHECK_STR(resource_host_arch("aarch64"), "arm64");
    CHECK_STR(resource_host_arch("i386"), "x86");
    CHECK_STR(resource_host_arch("i686"), "x86");
    CHECK_STR(resource_host_arch("armv7l"), "arm32");
    CHECK_STR(resource_host_arch("ppc64le"), "ppc64");
    CHECK_STR(resource_host_arch("s390x"), "s390x");
    CHECK_STR(resource_host_arch("riscv64"), "riscv64"); /* unknown: as is */
    CHECK_STR(resource_host_arch(""), "");
}

/* ---- resource_detect on a fake root ---- */

static char root[256];

static void write_file(const char *rel, const char *text) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    for (char *p = path + strlen(root) + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(path, 0700);
            *p = '/';
        }
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return;
    ssize_t n = write(fd, text, strlen(text));
    (void)n;
    close(fd);
}

static void remove_file(const char *rel) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    unlink(path);
}

static void detect(struct resource *r, const struct config *cfg, const char *exe) {
    memset(r, 0, sizeof *r);
    arena_init(&r->arena, arena_mem, sizeof arena_mem);
    r->arena.no_malloc = true;
    resource_detect(r, cfg, exe, root);
}

static void test_detect_full(void) {
    write_file("etc/machine-id", "0123456789abcdef0123456789abcdef\n");
    write_file("etc/os-release", "NAME=\"Test OS\"\nVERSION_ID=1\nPRETTY_NAME=\"Test OS 1.0 "
                                 "(fake)\"\nID=test\n");
    write_file("proc/self/cgroup", "0::/system.slice/docker-" ID1 ".scope\n");
    struct config cfg = {0};
    struct resource r;
    detect(&r, &cfg, "myprog");
    const struct attr_list *l = &r.attrs;
    CHECK_STR(str_attr(l, "telemetry.sdk.name"), "otel-preload");
    CHECK_STR(str_attr(l, "telemetry.sdk.language"), "c");
    CHECK_STR(str_attr(l, "telemetry.sdk.version"), OTELP_VERSION);
    const char *uuid = str_attr(l, "service.instance.id");
    CHECK(uuid && strlen(uuid) == 36 && uuid[14] == '4');
    struct utsname u;
    REQUIRE(uname(&u) == 0);
    CHECK_STR(str_attr(l, "host.name"), u.nodename);
    CHECK_STR(str_attr(l, "host.arch"), resource_host_arch(u.machine));
    CHECK_STR(str_attr(l, "host.id"), "0123456789abcdef0123456789abcdef");
    CHECK_STR(str_attr(l, "os.type"), "linux");
    CHECK_STR(str_attr(l, "os.description"), "Test OS 1.0 (fake)");
    CHECK_STR(str_attr(l, "os.version"), u.release);
    CHECK_STR(str_attr(l, "container.id"), ID1);
    CHECK_STR(str_attr(l, "service.name"), "unknown_service:myprog");
    CHECK_EQ_INT(l->dropped, 0);
    CHECK(r.arena.overflow == NULL); /* no malloc */
}

static void test_detect_fallbacks(void) {
    /* No /etc files: /usr/lib/os-release (single quotes), dbus machine-id,
     * and mountinfo for the container id. */
    remove_file("etc/machine-id");
    remove_file("etc/os-release");
    write_file("usr/lib/os-release", "PRETTY_NAME='Other OS'\n");
    write_file("var/lib/dbus/machine-id", "feedfacefeedfacefeedfacefeedface");
    write_file("proc/self/cgroup", "0::/\n");
    write_file("proc/self/mountinfo",
               "1 2 254:1 /var/lib/docker/containers/" ID2 "/hostname /etc/hostname rw\n");
    struct config cfg = {0};
    struct resource r;
    detect(&r, &cfg, NULL);
    CHECK_STR(str_attr(&r.attrs, "os.description"), "Other OS");
    CHECK_STR(str_attr(&r.attrs, "host.id"), "feedfacefeedfacefeedfacefeedface");
    CHECK_STR(str_attr(&r.attrs, "container.id"), ID2);
    CHECK_STR(str_attr(&r.attrs, "service.name"), "unknown_service:");

    /* os-release without PRETTY_NAME: the kernel's name and release. */
    write_file("usr/lib/os-release", "NAME=x\nID=x");
    remove_file("proc/self/mountinfo");
    remove_file("var/lib/dbus/machine-id");
    detect(&r, &cfg, "");
    struct utsname u;
    REQUIRE(uname(&u) == 0);
    char want[512];
    snprintf(want, sizeof want, "%s %s", u.sysname, u.release);
    CHECK_STR(str_attr(&r.attrs, "os.description"), want);
    CHECK(attrs_find(&r.attrs, "host.id") == NULL);
    CHECK(attrs_find(&r.attrs, "container.id") == NULL);
    CHECK_STR(str_attr(&r.attrs, "service.name"), "unknown_service:");

    /* An empty machine-id is no host.id. */
    write_file("etc/machine-id", "\n");
    detect(&r, &cfg, "x");
    CHECK(attrs_find(&r.attrs, "host.id") == NULL);
}

static void test_detect_service_name(void) {
    struct config cfg = {0};
    struct resource r;
    char attrs[] = "service.name=from-attributes,deployment.environment=prod,host.name=over";
    char name[] = "from-env";
    cfg.resource_attributes = attrs;
    detect(&r, &cfg, "exe");
    CHECK_STR(str_attr(&r.attrs, "service.name"), "from-attributes");
    CHECK_STR(str_attr(&r.attrs, "deployment.environment"), "prod");
    CHECK_STR(str_attr(&r.attrs, "host.name"), "over"); /* overrides detection */

    cfg.service_name = name;
    detect(&r, &cfg, "exe");
    CHECK_STR(str_attr(&r.attrs, "service.name"), "from-env");
    CHECK_STR(str_attr(&r.attrs, "deployment.environment"), "prod");

    /* Malformed attributes: none of them, one diagnostic, the default name. */
    char bad[] = "service.name=x,oops";
    cfg.service_name = NULL;
    cfg.resource_attributes = bad;
    ndiag = 0;
    detect(&r, &cfg, "exe");
    CHECK_EQ_INT(ndiag, 1);
    CHECK_STR(str_attr(&r.attrs, "service.name"), "unknown_service:exe");
}

static void test_detect_empty_root(void) {
    struct config cfg = {0};
    struct resource r;
    char saved[sizeof root];
    memcpy(saved, root, sizeof root);
    size_t n = strlen(root);
    if (n + sizeof "/does-not-exist" <= sizeof root) memcpy(root + n, "/does-not-exist", 16);
    detect(&r, &cfg, "exe");
    CHECK(attrs_find(&r.attrs, "host.id") == NULL);
    CHECK(attrs_find(&r.attrs, "container.id") == NULL);
    CHECK(attrs_find(&r.attrs, "os.description") != NULL);
    CHECK_STR(str_attr(&r.attrs, "service.name"), "unknown_service:exe");
    memcpy(root, saved, sizeof root);
}

/* The addresses getifaddrs(3) lists, but loopback interfaces' and
 * link-local ones: what host.ip must hold (any order). */
static int expected_ips(char out[][RESOURCE_IP_LEN], int max) {
    struct ifaddrs *all;
    if (getifaddrs(&all) != 0) return -1;
    int n = 0;
    for (struct ifaddrs *i = all; i && n < max; i = i->ifa_next) {
        if (!i->ifa_addr || (i->ifa_flags & IFF_LOOPBACK)) continue;
        const void *a = NULL;
        if (i->ifa_addr->sa_family == AF_INET) {
            const struct in_addr *v4 = &((const struct sockaddr_in *)i->ifa_addr)->sin_addr;
            if ((ntohl(v4->s_addr) >> 16) == 0xa9fe) continue; /* 169.254/16 */
            a = v4;
        } else if (i->ifa_addr->sa_family == AF_INET6) {
            const struct in6_addr *v6 = &((const struct sockaddr_in6 *)i->ifa_addr)->sin6_addr;
            if (IN6_IS_ADDR_LINKLOCAL(v6) || IN6_IS_ADDR_LOOPBACK(v6)) continue;
            a = v6;
        } else {
            continue;
        }
        if (inet_ntop(i->ifa_addr->sa_family, a, out[n], RESOURCE_IP_LEN)) n++;
    }
    freeifaddrs(all);
    return n;
}

static bool listed(char list[][RESOURCE_IP_LEN], int n, const char *ip) {
    for (int i = 0; i < n; i++)
        if (!strcmp(list[i], ip)) return true;
    return false;
}

/* resource_ip_text writes what inet_ntop writes: crafted addresses (zero
 * runs everywhere, ties, mapped and compatible IPv4) and random ones with
 * many zero groups. */
static void check_ip_text(int family, const uint8_t *a) {
    char want[RESOURCE_IP_LEN], got[RESOURCE_IP_LEN];
    REQUIRE(inet_ntop(family, a, want, sizeof want) != NULL);
    int n = resource_ip_text(family, a, got);
    CHECK_STR(got, want);
    CHECK_EQ_INT(n, (int)strlen(want));
}

static void test_ip_text(void) {
    static const uint8_t v4[][4] = {{0, 0, 0, 0},     {127, 0, 0, 1},       {192, 0, 2, 255},
                                    {10, 100, 9, 99}, {255, 255, 255, 255}, {1, 20, 200, 0}};
    for (size_t i = 0; i < sizeof v4 / sizeof v4[0]; i++)
        check_ip_text(AF_INET, v4[i]);
    static const char *const v6[] = {"::",
                                     "::1",
                                     "1::",
                                     "fd00::2",
                                     "fe80::fc:ff:fe00:1",
                                     "2001:db8::1:0:0:1",
                                     "2001:db8:0:1:1:1:1:1",
                                     "2001:0:0:1::1",
                                     "1:0:0:2:0:0:0:3",
                                     "1:0:0:2:0:0:3:4",
                                     "::ffff:192.0.2.1",
                                     "::192.0.2.1",
                                     "::ffff:0:192.0.2.1",
                                     "0:0:0:0:0:1:0:0",
                                     "::fffe:1.2.3.4",
                                     "abcd:ef01:2345:6789:abcd:ef01:2345:6789",
                                     "::0.0.0.1",
                                     "::1:0:0:0",
                                     "1:2:3:4:5:6:7::",
                                     "0:1:0:1:0:1:0:1"};
    for (size_t i = 0; i < sizeof v6 / sizeof v6[0]; i++) {
        uint8_t a[16];
        REQUIRE(inet_pton(AF_INET6, v6[i], a) == 1);
        check_ip_text(AF_INET6, a);
    }
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    for (int round = 0; round < 20000; round++) {
        uint8_t a[16];
        for (int g = 0; g < 8; g++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            /* Most groups zero, some small, some full. */
            unsigned v = (x & 3)        ? 0
                         : (x >> 8 & 1) ? (unsigned)(x >> 16 & 0xff)
                                        : (unsigned)(x >> 24 & 0xffff);
            if ((x >> 40 & 15) == 0) v = 0xffff;
            a[2 * g] = (uint8_t)(v >> 8);
            a[2 * g + 1] = (uint8_t)v;
        }
        check_ip_text(AF_INET6, a);
        check_ip_text(AF_INET, a + 12);
    }
    char out[RESOURCE_IP_LEN];
    CHECK_EQ_INT(resource_ip_text(AF_UNIX, v4[0], out), -1);
}

static void test_host_ips(void) {
    char want[RESOURCE_IPS][RESOURCE_IP_LEN], got[RESOURCE_IPS][RESOURCE_IP_LEN];
    int nwant = expected_ips(want, RESOURCE_IPS);
    int ngot = resource_host_ips(got, RESOURCE_IPS);
    REQUIRE(nwant >= 0);
    CHECK_EQ_INT(ngot, nwant);
    for (int i = 0; i < ngot; i++) {
        CHECK(listed(want, nwant, got[i]));
        CHECK(strcmp(got[i], "127.0.0.1") && strcmp(got[i], "::1"));
    }
    /* Bounded by max. */
    CHECK(resource_host_ips(got, 1) == (nwant > 0 ? 1 : 0));

    /* In the resource: a string array of the same addresses, from the
     * static arena (no malloc). */
    struct config cfg = {0};
    struct resource r;
    detect(&r, &cfg, "exe");
    const struct attr *a = attrs_find(&r.attrs, "host.ip");
    if (nwant == 0) {
        CHECK(a == NULL);
        return;
    }
    REQUIRE(a != NULL);
    CHECK_EQ_INT(a->value.type, ATTR_STRING_ARRAY);
    CHECK_EQ_INT(a->value.u.arr.count, nwant);
    for (uint32_t i = 0; i < a->value.u.arr.count; i++) {
        char ip[RESOURCE_IP_LEN] = "";
        struct str s = a->value.u.arr.items[i];
        REQUIRE(s.len < sizeof ip);
        memcpy(ip, s.ptr, s.len);
        CHECK(listed(want, nwant, ip));
    }
    CHECK(r.arena.overflow == NULL);

    /* A hand-off child leaves it to its relay, and says so. */
    struct resource child;
    memset(&child, 0, sizeof child);
    static char child_mem[16384];
    arena_init(&child.arena, child_mem, sizeof child_mem);
    child.arena.no_malloc = true;
    child.without_host = true;
    resource_detect(&child, &cfg, "exe", root);
    CHECK(attrs_find(&child.attrs, "host.ip") == NULL);
    CHECK_STR(resource_host_keys[7], "host.ip");
    CHECK(child.host_wanted & (1u << 7));

    /* OTEL_RESOURCE_ATTRIBUTES wins (a string, as the environment gives). */
    cfg.resource_attributes = "host.ip=10.1.2.3";
    detect(&r, &cfg, "exe");
    CHECK_STR(str_attr(&r.attrs, "host.ip"), "10.1.2.3");
}

static void remove_tree(void) {
    static const char *const files[] = {"etc/machine-id",
                                        "etc/os-release",
                                        "usr/lib/os-release",
                                        "proc/self/cgroup",
                                        "proc/self/mountinfo",
                                        "var/lib/dbus/machine-id",
                                        "var/lib/dbus",
                                        "var/lib",
                                        "var",
                                        "proc/self",
                                        "proc",
                                        "usr/lib",
                                        "usr",
                                        "etc",
                                        ""};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", root, files[i]);
        if (unlink(path) < 0) rmdir(path);
    }
}

int main(void) {
    diag_set_sink(count_diag);
    const char *tmp = getenv("TMPDIR");
    snprintf(root, sizeof root, "%s/otelp-resource-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(root)) return 2;
    RUN(test_parse_basic);
    RUN(test_parse_malformed);
    RUN(test_container_id);
    RUN(test_container_id_podman_mountinfo);
    RUN(test_host_arch);
    RUN(test_detect_full);
    RUN(test_detect_fallbacks);
    RUN(test_detect_service_name);
    RUN(test_detect_empty_root);
    RUN(test_ip_text);
    RUN(test_host_ips);
    remove_tree();
    return test_report("resource");
}
