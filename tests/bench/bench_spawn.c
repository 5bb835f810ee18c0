/* bench_spawn: per-process cost of the shim, measured without a shell.
 * Spawns PROGRAM (posix_spawn, waited with wait4) PROCS times per variant,
 * the variants interleaved process by process (A B C A B C ...) so machine
 * noise hits all alike, and prints per variant the median and the 90th
 * percentile wall time per process and the median user+system CPU time
 * (wait4's rusage), in microseconds, and the median minor page faults.
 *
 * Usage: bench_spawn PROCS PROGRAM VARIANT...
 *   VARIANT is "NAME [VAR=value ...]": the name, then variables added to
 *   (or replacing in) this process's environment for that variant.
 * Prints "result spawn_<NAME>_us=<median> ..." lines.
 * Depends on libc. */
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "tests/bench/bench.h"

extern char **environ;

#define MAX_VARIANTS 8
#define MAX_ENV 512

struct variant {
    char name[64];
    char *env[MAX_ENV];
    double *wall, *cpu, *faults;
};

/* environ with the variant's assignments replacing same-named entries. */
static int build_env(struct variant *v, char *spec) {
    char *save = NULL, *tok = strtok_r(spec, " ", &save);
    size_t len = tok ? strlen(tok) : 0;
    if (!len || len >= sizeof v->name) return -1;
    memcpy(v->name, tok, len + 1);
    char *extra[64];
    int nx = 0;
    while ((tok = strtok_r(NULL, " ", &save)) && nx < 64)
        if (strchr(tok, '=')) extra[nx++] = tok;
    int n = 0;
    for (char **e = environ; *e && n < MAX_ENV - 65; e++) {
        size_t klen = strcspn(*e, "=");
        int replaced = 0;
        for (int i = 0; i < nx; i++)
            if (!strncmp(*e, extra[i], klen) && extra[i][klen] == '=') replaced = 1;
        if (!replaced) v->env[n++] = *e;
    }
    for (int i = 0; i < nx; i++)
        v->env[n++] = extra[i];
    v->env[n] = NULL;
    return 0;
}

static double percentile(double *s, size_t n, double p) {
    bench_median(s, n); /* sorts */
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return s[i];
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: bench_spawn PROCS PROGRAM 'NAME [VAR=value ...]'...\n");
        return 2;
    }
    long procs = bench_arg(argc, argv, 1, 100);
    char *prog = argv[2];
    int nv = argc - 3;
    if (nv > MAX_VARIANTS) return 2;
    static struct variant vs[MAX_VARIANTS];
    for (int i = 0; i < nv; i++) {
        if (build_env(&vs[i], argv[3 + i]) < 0) return 2;
        vs[i].wall = calloc((size_t)procs, sizeof(double));
        vs[i].cpu = calloc((size_t)procs, sizeof(double));
        vs[i].faults = calloc((size_t)procs, sizeof(double));
        if (!vs[i].wall || !vs[i].cpu || !vs[i].faults) return 1;
    }
    char *child_argv[] = {prog, NULL};
    for (long k = -5; k < procs; k++) { /* 5 warm-up rounds */
        for (int i = 0; i < nv; i++) {
            pid_t pid;
            uint64_t t0 = bench_now_ns();
            int rc = posix_spawn(&pid, prog, NULL, NULL, child_argv, vs[i].env);
            if (rc) {
                fprintf(stderr, "bench_spawn: %s: %s\n", prog, strerror(rc));
                return 1;
            }
            int status;
            struct rusage ru;
            while (wait4(pid, &status, 0, &ru) < 0)
                if (errno != EINTR) return 1;
            uint64_t t1 = bench_now_ns();
            if (!WIFEXITED(status) || WEXITSTATUS(status)) {
                fprintf(stderr, "bench_spawn: %s (%s) failed: status %d\n", prog, vs[i].name,
                        status);
                return 1;
            }
            if (k < 0) continue;
            vs[i].wall[k] = (double)(t1 - t0) / 1000.0;
            vs[i].cpu[k] = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
                           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
            vs[i].faults[k] = (double)ru.ru_minflt;
        }
    }
    for (int i = 0; i < nv; i++) {
        double med = bench_median(vs[i].wall, (size_t)procs);
        double p90 = percentile(vs[i].wall, (size_t)procs, 0.9);
        double cpu = bench_median(vs[i].cpu, (size_t)procs);
        double faults = bench_median(vs[i].faults, (size_t)procs);
        printf("result spawn_%s_us=%.1f p90=%.1f cpu=%.1f faults=%.0f procs=%ld\n", vs[i].name, med,
               p90, cpu, faults, procs);
        free(vs[i].wall);
        free(vs[i].cpu);
        free(vs[i].faults);
    }
    return 0;
}
