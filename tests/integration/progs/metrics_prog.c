/* metrics_prog: a program using include/otelp.h's metric instruments, and
 * a long-running one for the process metrics and the SDK's own counts.
 *   metrics_prog instruments
 *       counter "requests" (3 attributes) += 1, 2, 3 (one series) and 10
 *       (another); up-down counter "queue.depth" +5 -2; gauge "temperature"
 *       = 21.5; histogram "latency" (ms) records 1, 7, 30, 700, 20000;
 *       observable gauge "observed" reports 42; then exits.
 *   metrics_prog run MS THREAD_EVERY_MS
 *       lives MS milliseconds: touches 8 MiB, writes 1 MiB to a temporary
 *       file (fsync), starts a short thread every THREAD_EVERY_MS; at the
 *       end prints its own /proc/self readings as "key value" lines (stdout).
 *       Also prints "threads_started N".
 *   metrics_prog idle MS
 *       one nanosleep of MS milliseconds (the shim sees no call), then exits.
 *   metrics_prog spans N
 *       starts and ends N spans "burst" (otelp.h), one after the other, as
 *       fast as it can (a small queue overflows), then exits.
 * Header only: nothing of ours is linked. */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "otelp.h"

static void observe(otelp_observer *o, void *arg) {
    (void)arg;
    otelp_observe(o, 42, NULL, 0);
}

static int instruments(void) {
    otelp_instrument *c = otelp_counter("requests", "{request}", "Requests served.");
    otelp_attr a[3] = {otelp_attr_str("http.request.method", "GET"),
                       otelp_attr_int("http.response.status_code", 200),
                       otelp_attr_bool("cached", 0)};
    otelp_add(c, 1, a, 3);
    otelp_add(c, 2, a, 3);
    otelp_attr b[3] = {a[2], a[1], a[0]}; /* the same set, another order */
    otelp_add(c, 3, b, 3);
    otelp_attr other[1] = {otelp_attr_str("http.request.method", "POST")};
    otelp_add(c, 10, other, 1);
    otelp_instrument *u = otelp_up_down_counter("queue.depth", "{item}", NULL);
    otelp_add(u, 5, NULL, 0);
    otelp_add(u, -2, NULL, 0);
    otelp_instrument *g = otelp_gauge("temperature", "Cel", NULL);
    otelp_record(g, 21.5, NULL, 0);
    otelp_instrument *h = otelp_histogram("latency", "ms", "Request latency.", NULL, 0);
    double v[] = {1, 7, 30, 700, 20000};
    for (int i = 0; i < 5; i++)
        otelp_record(h, v[i], NULL, 0);
    otelp_observable_new(OTELP_OBSERVABLE_GAUGE, "observed", NULL, NULL, observe, NULL);
    return 0;
}

static void *short_thread(void *arg) {
    return arg;
}

static long long status_field(const char *key) {
    char buf[4096];
    int fd = open("/proc/self/status", O_RDONLY);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
    if (fd >= 0) close(fd);
    if (n <= 0) return -1;
    buf[n] = '\0';
    char *p = strstr(buf, key);
    return p ? atoll(p + strlen(key)) : -1;
}

static int run(long ms, long every_ms) {
    size_t size = 8u << 20;
    char *mem = malloc(size);
    if (!mem) return 1;
    for (size_t i = 0; i < size; i += 4096)
        mem[i] = (char)i;
    char path[] = "/tmp/metrics_prog.XXXXXX";
    int fd = mkstemp(path);
    if (fd >= 0) {
        unlink(path);
        char block[65536];
        memset(block, 'x', sizeof block);
        for (int i = 0; i < 16; i++)
            if (write(fd, block, sizeof block) < 0) break;
        fsync(fd);
        close(fd);
    }
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    volatile unsigned long spin = 0;
    long started = 0;
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        long el = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
        if (el >= ms) break;
        pthread_t t;
        if (pthread_create(&t, NULL, short_thread, NULL) == 0) {
            pthread_join(t, NULL);
            started++;
        }
        for (int i = 0; i < 200000; i++) /* some CPU time */
            spin += (unsigned long)i;
        struct timespec d = {every_ms / 1000, (every_ms % 1000) * 1000000};
        nanosleep(&d, NULL);
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("threads %lld\n", status_field("Threads:"));
    printf("vm_bytes %lld\n", status_field("VmSize:") * 1024);
    printf("rss_bytes %lld\n", status_field("VmRSS:") * 1024);
    printf("cpu_user %.6f\n", (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6);
    printf("cpu_system %.6f\n", (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6);
    printf("minflt %ld\n", ru.ru_minflt);
    printf("threads_started %ld\n", started);
    fflush(stdout);
    (void)mem; /* kept to the end: the exit's last point sees it */
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 2 && !strcmp(argv[1], "instruments")) return instruments();
    if (argc >= 4 && !strcmp(argv[1], "run")) return run(atol(argv[2]), atol(argv[3]));
    if (argc >= 3 && !strcmp(argv[1], "spans")) {
        for (long i = atol(argv[2]); i > 0; i--)
            otelp_span_end(otelp_span_start("burst", NULL, OTELP_SPAN_KIND_INTERNAL, NULL, 0));
        return 0;
    }
    if (argc >= 3 && !strcmp(argv[1], "idle")) { /* one sleep: no call through the shim */
        long ms = atol(argv[2]);
        struct timespec d = {ms / 1000, (ms % 1000) * 1000000};
        nanosleep(&d, NULL);
        return 0;
    }
    fprintf(stderr, "usage: metrics_prog instruments | run MS THREAD_EVERY_MS\n");
    return 2;
}
