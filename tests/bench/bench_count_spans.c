/* bench_count_spans: what a receiver got, in spans. Reads the requests an
 * otlp_sink --out DIR saved (NNNNNN.meta + NNNNNN.bin), decodes every
 * /v1/traces body and prints the totals and the most frequent span names,
 * so scripts/bench can say how many spans a workload produces.
 *
 * Prints "result spans=N requests=R trace_requests=T bytes=B" then up to
 * TOP lines "name COUNT NAME". Exits 1 when a body does not decode.
 *
 * Usage: bench_count_spans DIR [TOP]   (default TOP 8)
 * Depends on tests/lib/otlp_decode.h. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/bench/bench.h"
#include "tests/lib/otlp_decode.h"

#define MAX_NAMES 256

struct name_count {
    char name[64];
    size_t count;
};

static struct name_count names[MAX_NAMES];
static size_t n_names, other_names;

static void count_name(const char *name) {
    for (size_t i = 0; i < n_names; i++)
        if (!strncmp(names[i].name, name, sizeof names[i].name - 1)) {
            names[i].count++;
            return;
        }
    if (n_names == MAX_NAMES) {
        other_names++;
        return;
    }
    snprintf(names[n_names].name, sizeof names[n_names].name, "%s", name);
    names[n_names++].count = 1;
}

static int by_count(const void *a, const void *b) {
    const struct name_count *x = a, *y = b;
    return (y->count > x->count) - (y->count < x->count);
}

/* The whole file in a malloc'ed buffer with a NUL after it, or NULL. */
static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 65536, n = 0;
    char *data = malloc(cap);
    while (data) {
        n += fread(data + n, 1, cap - 1 - n, f);
        if (n < cap - 1) break;
        char *bigger = realloc(data, cap * 2);
        if (!bigger) {
            free(data);
            data = NULL;
            break;
        }
        data = bigger;
        cap *= 2;
    }
    int err = ferror(f);
    fclose(f);
    if (err || !data) {
        free(data);
        return NULL;
    }
    data[n] = '\0';
    *len = n;
    return data;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: bench_count_spans DIR [TOP]\n");
        return 2;
    }
    const char *dir = argv[1];
    long top = bench_arg(argc, argv, 2, 8);
    DIR *d = opendir(dir);
    if (!d) {
        perror(dir);
        return 1;
    }
    size_t requests = 0, trace_requests = 0, spans = 0, bytes = 0;
    struct dirent *e;
    char path[4096];
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (e->d_name[0] == '.' || len < 6 || strcmp(e->d_name + len - 5, ".meta")) continue;
        requests++;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        size_t mlen;
        char *meta = slurp(path, &mlen);
        if (!meta) {
            perror(path);
            return 1;
        }
        meta[strcspn(meta, "\n")] = '\0'; /* "METHOD PATH" */
        bool traces = strstr(meta, "/v1/traces") != NULL;
        free(meta);
        snprintf(path, sizeof path, "%s/%.*s.bin", dir, (int)(len - 5), e->d_name);
        size_t blen;
        char *body = slurp(path, &blen);
        if (!body) {
            perror(path);
            return 1;
        }
        bytes += blen;
        if (traces) {
            char err[256];
            struct otlp_traces *req = otlp_traces_decode(body, blen, err, sizeof err);
            if (!req) {
                fprintf(stderr, "bench_count_spans: %s: %s\n", path, err);
                return 1;
            }
            trace_requests++;
            size_t n = otlp_traces_span_count(req);
            spans += n;
            for (size_t i = 0; i < n; i++)
                count_name(otlp_traces_span_at(req, i)->name);
            otlp_traces_free(req);
        }
        free(body);
    }
    closedir(d);
    printf("result spans=%zu requests=%zu trace_requests=%zu bytes=%zu\n", spans, requests,
           trace_requests, bytes);
    qsort(names, n_names, sizeof *names, by_count);
    for (size_t i = 0; i < n_names && (long)i < top; i++)
        printf("name %zu %s\n", names[i].count, names[i].name);
    if (other_names) printf("name %zu (more names)\n", other_names);
    return 0;
}
