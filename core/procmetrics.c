/* procmetrics: process metrics from /proc/self and getrusage. See
 * procmetrics.h.
 *
 * The callbacks of one collection share one reading: the first callback
 * takes it, the others find it fresh (taken within the last 50 ms). Files
 * are read with open/read/close into a stack buffer (no stdio: the
 * program may have replaced its FILE functions). */
#include "core/procmetrics.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "core/ids.h"
#include "core/metric.h"

static uint64_t start_wall;
static bool registered;
static struct proc_sample last;
static uint64_t last_mono;
static bool last_ok;
/* process.cpu.utilization: the cpu time and the clock at the previous
 * collection. */
static double prev_cpu[2];
static uint64_t prev_util_wall;

void procmetrics_set_start(uint64_t wall_ns) {
    start_wall = wall_ns;
}

void procmetrics_after_fork_child(void) {
    start_wall = 0;
    prev_cpu[0] = prev_cpu[1] = 0;
    prev_util_wall = 0;
    last_ok = false;
}

static ssize_t read_file(const char *path, char *buf, size_t cap) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    size_t n = 0;
    while (n + 1 < cap) {
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        n += (size_t)r;
    }
    close(fd);
    buf[n] = '\0';
    return (ssize_t)n;
}

static int64_t parse_i64(const char **p) {
    const char *s = *p;
    while (*s == ' ' || *s == '\t')
        s++;
    int64_t v = 0;
    while (*s >= '0' && *s <= '9')
        v = v * 10 + (*s++ - '0');
    *p = s;
    return v;
}

/* The value after "key" at a line start in text (/proc/self/io), or -1. */
static int64_t field_after(const char *text, const char *key) {
    size_t kl = strlen(key);
    for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
        if (!strncmp(l, key, kl)) {
            const char *p = l + kl;
            return parse_i64(&p);
        }
    return -1;
}

static int64_t count_fds(void) {
    DIR *d = opendir("/proc/self/fd");
    if (!d) return -1;
    int64_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n - 1; /* the directory's own descriptor */
}

int procmetrics_sample(struct proc_sample *s) {
    memset(s, 0, sizeof *s);
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) < 0) return -errno;
    s->cpu_user_s = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
    s->cpu_system_s = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    s->voluntary_cs = ru.ru_nvcsw;
    s->involuntary_cs = ru.ru_nivcsw;
    s->minor_faults = ru.ru_minflt;
    s->major_faults = ru.ru_majflt;
    char buf[1024];
    long page = sysconf(_SC_PAGESIZE);
    if (read_file("/proc/self/statm", buf, sizeof buf) > 0) {
        const char *p = buf;
        s->vm_bytes = parse_i64(&p) * page;
        s->rss_bytes = parse_i64(&p) * page;
    }
    /* /proc/self/stat: "pid (comm) state ..." with num_threads the 20th
     * field; comm may hold spaces and parentheses: after the last ')'. */
    if (read_file("/proc/self/stat", buf, sizeof buf) > 0) {
        const char *p = strrchr(buf, ')');
        int field = 2;
        while (p && *p && field < 20) {
            if (*p++ == ' ') field++;
        }
        if (p) s->threads = parse_i64(&p);
    }
    s->read_bytes = s->write_bytes = -1;
    if (read_file("/proc/self/io", buf, sizeof buf) > 0) {
        s->read_bytes = field_after(buf, "read_bytes:");
        s->write_bytes = field_after(buf, "write_bytes:");
    }
    s->fds = count_fds();
    return 0;
}

void procmetrics_invalidate(void) {
    last_ok = false;
}

static const struct proc_sample *sample(void) {
    uint64_t now = clock_mono_ns();
    if (!last_ok || now - last_mono > 50000000u) {
        last_ok = procmetrics_sample(&last) == 0;
        last_mono = now;
    }
    return last_ok ? &last : NULL;
}

#define ATTR_S(k, v)                                                                               \
    {                                                                                              \
        {k, sizeof k - 1}, {                                                                       \
            .type = ATTR_STRING, .u.s = { v, sizeof v - 1 }                                        \
        }                                                                                          \
    }

static const struct attr cpu_user = ATTR_S("cpu.mode", "user");
static const struct attr cpu_system = ATTR_S("cpu.mode", "system");
static const struct attr io_read = ATTR_S("disk.io.direction", "read");
static const struct attr io_write = ATTR_S("disk.io.direction", "write");
static const struct attr cs_vol = ATTR_S("process.context_switch.type", "voluntary");
static const struct attr cs_invol = ATTR_S("process.context_switch.type", "involuntary");
static const struct attr pf_major = ATTR_S("process.paging.fault_type", "major");
static const struct attr pf_minor = ATTR_S("process.paging.fault_type", "minor");

enum which {
    CPU_TIME,
    CPU_UTIL,
    MEM_USAGE,
    MEM_VIRTUAL,
    DISK_IO,
    THREADS,
    FDS,
    CSWITCHES,
    FAULTS,
    UPTIME,
    NWHICH
};

static void observe(struct metric_observer *o, void *ctx) {
    const struct proc_sample *s = sample();
    enum which w = (enum which)(uintptr_t)ctx;
    if (!s && w != UPTIME) return;
    switch (w) {
    case CPU_TIME:
        metric_observe_double(o, s->cpu_user_s, &cpu_user, 1);
        metric_observe_double(o, s->cpu_system_s, &cpu_system, 1);
        break;
    case CPU_UTIL: {
        uint64_t now = clock_now_ns();
        uint64_t from = prev_util_wall ? prev_util_wall : start_wall;
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        double wall = (double)(now - from) / 1e9 * (double)(cpus > 0 ? cpus : 1);
        if (wall > 0) {
            metric_observe_double(o, (s->cpu_user_s - prev_cpu[0]) / wall, &cpu_user, 1);
            metric_observe_double(o, (s->cpu_system_s - prev_cpu[1]) / wall, &cpu_system, 1);
        }
        prev_cpu[0] = s->cpu_user_s;
        prev_cpu[1] = s->cpu_system_s;
        prev_util_wall = now;
        break;
    }
    case MEM_USAGE:
        metric_observe_int(o, s->rss_bytes, NULL, 0);
        break;
    case MEM_VIRTUAL:
        metric_observe_int(o, s->vm_bytes, NULL, 0);
        break;
    case DISK_IO:
        if (s->read_bytes >= 0) metric_observe_int(o, s->read_bytes, &io_read, 1);
        if (s->write_bytes >= 0) metric_observe_int(o, s->write_bytes, &io_write, 1);
        break;
    case THREADS:
        metric_observe_int(o, s->threads, NULL, 0);
        break;
    case FDS:
        if (s->fds >= 0) metric_observe_int(o, s->fds, NULL, 0);
        break;
    case CSWITCHES:
        metric_observe_int(o, s->voluntary_cs, &cs_vol, 1);
        metric_observe_int(o, s->involuntary_cs, &cs_invol, 1);
        break;
    case FAULTS:
        metric_observe_int(o, s->major_faults, &pf_major, 1);
        metric_observe_int(o, s->minor_faults, &pf_minor, 1);
        break;
    case UPTIME:
        metric_observe_double(o, (double)(clock_now_ns() - start_wall) / 1e9, NULL, 0);
        break;
    case NWHICH:
        break;
    }
}

static const struct {
    const char *name, *unit, *description;
    enum metric_kind kind;
    enum metric_number number;
} defs[NWHICH] = {
    [CPU_TIME] = {"process.cpu.time", "s", "Total CPU seconds broken down by different CPU modes.",
                  METRIC_OBSERVABLE_COUNTER, METRIC_DOUBLE},
    [CPU_UTIL] = {"process.cpu.utilization", "1",
                  "Difference in process.cpu.time since the last measurement, divided by the "
                  "elapsed time and number of CPUs available to the process.",
                  METRIC_OBSERVABLE_GAUGE, METRIC_DOUBLE},
    [MEM_USAGE] = {"process.memory.usage", "By", "The amount of physical memory in use.",
                   METRIC_OBSERVABLE_UPDOWN_COUNTER, METRIC_INT},
    [MEM_VIRTUAL] = {"process.memory.virtual", "By", "The amount of committed virtual memory.",
                     METRIC_OBSERVABLE_UPDOWN_COUNTER, METRIC_INT},
    [DISK_IO] = {"process.disk.io", "By", "Disk bytes transferred.", METRIC_OBSERVABLE_COUNTER,
                 METRIC_INT},
    [THREADS] = {"process.thread.count", "{thread}", "Process threads count.",
                 METRIC_OBSERVABLE_UPDOWN_COUNTER, METRIC_INT},
    [FDS] = {"process.unix.file_descriptor.count", "{file_descriptor}",
             "Number of unix file descriptors in use by the process.",
             METRIC_OBSERVABLE_UPDOWN_COUNTER, METRIC_INT},
    [CSWITCHES] = {"process.context_switches", "{context_switch}",
                   "Number of times the process has been context switched.",
                   METRIC_OBSERVABLE_COUNTER, METRIC_INT},
    [FAULTS] = {"process.paging.faults", "{fault}", "Number of page faults the process has made.",
                METRIC_OBSERVABLE_COUNTER, METRIC_INT},
    [UPTIME] = {"process.uptime", "s", "The time the process has been running.",
                METRIC_OBSERVABLE_GAUGE, METRIC_DOUBLE},
};

void procmetrics_register(void) {
    if (registered) return;
    registered = true;
    if (!start_wall) start_wall = clock_now_ns();
    for (int i = 0; i < NWHICH; i++) {
        struct metric_desc d = {.name = defs[i].name,
                                .unit = defs[i].unit,
                                .description = defs[i].description,
                                .kind = defs[i].kind,
                                .number = defs[i].number};
        struct metric_instrument *m = metric_instrument_new(&d);
        if (m) (void)metric_add_callback(m, observe, (void *)(uintptr_t)i);
    }
}
