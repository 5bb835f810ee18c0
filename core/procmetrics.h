/* procmetrics: the process metrics of the OpenTelemetry semantic
 * conventions (process.cpu.time, .cpu.utilization, .memory.usage,
 * .memory.virtual, .disk.io, .thread.count, .unix.file_descriptor.count,
 * .context_switches, .paging.faults, .uptime) as observable instruments
 * whose callbacks read /proc/self and getrusage, on the collecting thread
 * (the worker, or the exit's last collection), never on the program's
 * threads. Process identity is the resource's; the attributes are only the
 * conventions' enumerations (cpu.mode, disk.io.direction, ...).
 * Depends on metric.h and ids.h (clocks). */
#ifndef OTELP_CORE_PROCMETRICS_H
#define OTELP_CORE_PROCMETRICS_H

#include <stdbool.h>
#include <stdint.h>

/* Registers the instruments (once per process image; a fork child keeps
 * them). The uptime counts from procmetrics_set_start (wall clock; or the
 * first call). */
void procmetrics_register(void);
void procmetrics_set_start(uint64_t wall_ns);
/* In a fork child: its own CPU time from zero (then its start is set). */
void procmetrics_after_fork_child(void);

/* One reading, as the callbacks report it (exposed for tests). */
struct proc_sample {
    double cpu_user_s, cpu_system_s;
    int64_t rss_bytes, vm_bytes;
    int64_t read_bytes, write_bytes; /* -1: /proc/self/io unreadable */
    int64_t threads, fds;
    int64_t voluntary_cs, involuntary_cs;
    int64_t minor_faults, major_faults;
};
int procmetrics_sample(struct proc_sample *out);
/* The next callback reads anew (benchmarks). */
void procmetrics_invalidate(void);

#endif
