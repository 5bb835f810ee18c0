/* resource: the process's OpenTelemetry resource, detected once (lazily, at
 * the first export): service.name and service.instance.id, host.*, os.*,
 * container.id, telemetry.sdk.*, then OTEL_RESOURCE_ATTRIBUTES, with
 * OTEL_SERVICE_NAME winning for service.name. Detection reads a few files
 * with read(2) into stack buffers and never calls malloc once its static
 * arena is set up, so it is safe in a dying process's signal handler.
 * Depends on attr.h and config.h. */
#ifndef OTELP_CORE_RESOURCE_H
#define OTELP_CORE_RESOURCE_H

#include "core/attr.h"
#include "core/config.h"

#define TELEMETRY_SDK_NAME "otel-preload"
#define TELEMETRY_SDK_LANGUAGE "c"

/* The attributes that describe the host rather than the process (host.*,
 * including host.ip, os.*, container.id): the same for a whole process tree, so a hand-off
 * child leaves them to its relay (handoff.h), which adds its own. */
#define RESOURCE_HOST_KEYS 8
extern const char *const resource_host_keys[RESOURCE_HOST_KEYS];

struct resource {
    struct attr_list attrs;
    struct arena arena;
    const char *instance_id; /* service.instance.id; NULL: a new one */
    bool without_host;       /* leave out the host's attributes ... */
    uint32_t host_wanted; /* ... and set bit i for each resource_host_keys[i] not set otherwise */
};

/* Fills r (whose arena and options the caller has set up). exe_name is the
 * executable's base name for unknown_service:<name>. root is prefixed to
 * every file path read (tests point it at a fake tree; "" in production). */
void resource_detect(struct resource *r, const struct config *cfg, const char *exe_name,
                     const char *root);

/* Parses OTEL_RESOURCE_ATTRIBUTES ("k=v,k2=v2", values percent-encoded) into
 * l. Returns 0, or -EINVAL when the value is malformed: then nothing from it
 * is added (the spec: discard the whole value) and a diagnostic is given. */
int resource_parse_attributes(struct attr_list *l, struct arena *a, const char *s)
    __attribute__((warn_unused_result));

/* The 64-hex container id in a /proc/self/cgroup or /proc/self/mountinfo
 * text, or -ENOENT. out gets 64 characters and a NUL. */
int resource_container_id(const char *cgroup, const char *mountinfo, char out[65]);

/* host.ip: the addresses of the host's interfaces but loopback and
 * link-local ones (IPv4 and IPv6, as text), from one netlink RTM_GETADDR
 * dump read into the static scratch buffer (no malloc, unlike getifaddrs;
 * a few system calls, once per process tree: a hand-off child leaves it to
 * its relay). Returns how many it wrote into out (at most max), or a
 * negative errno. */
#define RESOURCE_IPS 8
#define RESOURCE_IP_LEN 46 /* INET6_ADDRSTRLEN */
int resource_host_ips(char out[][RESOURCE_IP_LEN], int max);

/* An IPv4 (family AF_INET, 4 bytes) or IPv6 (AF_INET6, 16 bytes) address
 * as text, exactly as glibc's inet_ntop writes it (IPv6: lower-case hex,
 * the first longest run of two or more zero groups as "::", IPv4-mapped
 * and IPv4-compatible addresses with a dotted tail), without inet_ntop:
 * it formats through sprintf, and those code pages were four page faults
 * of every process that detects its host. Returns the length, or -1 for
 * another family. */
int resource_ip_text(int family, const void *addr, char out[RESOURCE_IP_LEN]);

/* Maps uname's machine to semconv host.arch (x86_64 -> amd64, ...). */
const char *resource_host_arch(const char *machine);

#endif
