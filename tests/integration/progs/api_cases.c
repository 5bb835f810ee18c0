/* api_cases: include/otelp.h calls for the tests (tests/integration/
 * test_api.py), one scenario per argument. Each prints what it did, the
 * same with the shim or without it.
 *   threads   two threads, each with its own span current, start spans and
 *             log: each thread's belong to its own span
 *   fork      a span current at fork: the child ends its copy (not
 *             exported twice) and starts one of its own
 *   scope     OTELP_SPAN_SCOPE left by return and goto, scopes ended out of
 *             order, a span ended while still current (exported when its
 *             scope ends), double ends, NULL handles, bad attributes
 *   calls     every call once on a span, for the attribute types
 *   dlopen    dlopen()s the library given as the next argument and calls
 *             its lib_work() inside a span
 *   version   the calls a shim table may lack (the old-table test) */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "otelp.h"

static pthread_barrier_t barrier;

static void *thread_main(void *arg) {
    const char *name = arg;
    otelp_attr who[] = {otelp_attr_str("thread.role", name)};
    otelp_span *mine = otelp_span_start(name, NULL, OTELP_SPAN_KIND_INTERNAL, who, 1);
    otelp_scope scope = otelp_span_make_current(mine);
    /* Both threads have their span current at the same time. */
    pthread_barrier_wait(&barrier);
    char child[64];
    snprintf(child, sizeof child, "%s.child", name);
    otelp_span *c = otelp_span_start(child, NULL, OTELP_SPAN_KIND_INTERNAL, NULL, 0);
    otelp_span_end(c);
    otelp_log(OTELP_SEVERITY_INFO, NULL, name, NULL, 0);
    pthread_barrier_wait(&barrier);
    otelp_scope_end(scope);
    otelp_span_end(mine);
    return NULL;
}

static int threads(void) {
    pthread_t a, b;
    pthread_barrier_init(&barrier, NULL, 2);
    if (pthread_create(&a, NULL, thread_main, "left") ||
        pthread_create(&b, NULL, thread_main, "right"))
        return 1;
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    puts("threads done");
    return 0;
}

static int fork_case(void) {
    otelp_span *s = otelp_span_start("fork.parent", NULL, OTELP_SPAN_KIND_INTERNAL, NULL, 0);
    otelp_scope scope = otelp_span_make_current(s);
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) return 1;
    if (pid == 0) {
        /* The child's copy of the parent's span: usable, never exported. */
        otelp_span_set_attribute(s, otelp_attr_int("in.child", 1));
        otelp_scope_end(scope);
        otelp_span_end(s);
        otelp_span *c = otelp_span_start("fork.child", NULL, OTELP_SPAN_KIND_INTERNAL, NULL, 0);
        otelp_span_end(c);
        puts("child done");
        return 0;
    }
    int status;
    waitpid(pid, &status, 0);
    otelp_scope_end(scope);
    otelp_span_end(s);
    printf("parent done, child %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return 0;
}

static int left_by_return(int x) {
    OTELP_SPAN_SCOPE("scope.return");
    if (x > 0) return x * 2;
    return 0;
}

static int left_by_goto(int x) {
    {
        OTELP_SPAN_SCOPE("scope.goto");
        otelp_span_set_attribute(otelp_span_current(), otelp_attr_int("x", x));
        if (x > 0) goto out;
        x = -1;
    }
out:
    return x;
}

static int scope_case(void) {
    printf("return %d\n", left_by_return(21));
    printf("goto %d\n", left_by_goto(5));
    /* Out of order: a's scope ends first; b's end restores the thread's
     * span as it was before a (nothing is left dangling). */
    otelp_span *a = otelp_span_start("scope.a", NULL, OTELP_SPAN_KIND_INTERNAL, NULL, 0);
    otelp_scope sa = otelp_span_make_current(a);
    otelp_span *b = otelp_span_start("scope.b", NULL, OTELP_SPAN_KIND_INTERNAL, NULL, 0);
    otelp_scope sb = otelp_span_make_current(b);
    otelp_scope_end(sa);
    otelp_span_end(a);
    otelp_scope_end(sb);
    otelp_span_end(b);
    /* Ended while current: a log record in the scope still belongs to it,
     * and it is exported when its scope ends. */
    otelp_span *early = otelp_span_start("scope.early", NULL, OTELP_SPAN_KIND_INTERNAL, NULL, 0);
    otelp_scope se = otelp_span_make_current(early);
    otelp_span_end(early);
    otelp_span_end(early); /* twice: ignored */
    otelp_log(OTELP_SEVERITY_INFO, NULL, "after early end", NULL, 0);
    otelp_scope_end(se);
    /* After all that, a new span's parent is the process's span again. */
    otelp_span *last = otelp_span_start("scope.last", NULL, OTELP_SPAN_KIND_INTERNAL, NULL, 0);
    otelp_span_end(last);
    /* NULL handles and bad values do nothing. */
    otelp_span_end(NULL);
    otelp_span_set_attribute(NULL, otelp_attr_int("x", 1));
    otelp_span_add_event(NULL, "e", NULL, 0);
    otelp_scope_end(otelp_span_make_current(NULL));
    otelp_span_context none;
    printf("bad traceparent %d\n", otelp_context_from_w3c("00-zz", NULL, &none));
    /* The shim's own span (the process's) takes attributes from its own
     * thread, and is never ended through the API. */
    otelp_span *root = otelp_span_current();
    otelp_span_set_attribute(root, otelp_attr_str("app.request_id", "r-17"));
    otelp_span_end(root);
    puts("scope done");
    return 0;
}

static int calls(void) {
    otelp_attr bad[] = {otelp_attr_str(NULL, "no key"), otelp_attr_str("k", NULL),
                        otelp_attr_int("good", 7)};
    bad[1].type = 99;
    otelp_span *s = otelp_span_start("calls", NULL, OTELP_SPAN_KIND_SERVER, bad, 3);
    otelp_span_update_name(s, "calls.renamed");
    otelp_span_set_status(s, OTELP_STATUS_OK, "ignored with OK");
    otelp_span_set_status(s, OTELP_STATUS_ERROR, "too late: OK is final");
    otelp_span_context ctx;
    char tp[OTELP_TRACEPARENT_SIZE], ts[64];
    int rc = otelp_span_get_context(s, &ctx);
    otelp_context_to_w3c(&ctx, tp, ts, sizeof ts);
    /* Print only what does not depend on the shim being there. */
    (void)rc;
    otelp_span_context remote;
    if (otelp_context_from_w3c("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
                               "vendor=abc,other=1", &remote) == 0) {
        otelp_span *r =
            otelp_span_start_remote("calls.remote", &remote, OTELP_SPAN_KIND_SERVER, NULL, 0);
        /* The parent was not sampled: neither is this one. */
        printf("remote recording %d\n", otelp_span_is_recording(r));
        otelp_span_context rc2;
        otelp_span_get_context(r, &rc2);
        printf("remote sampled %d\n", otelp_context_is_sampled(&rc2));
        char rtp[OTELP_TRACEPARENT_SIZE], rts[64];
        otelp_context_to_w3c(&rc2, rtp, rts, sizeof rts);
        printf("remote tracestate '%s'\n", rts);
        otelp_span_end(r);
    } else {
        puts("remote recording 0\nremote sampled 0\nremote tracestate 'vendor=abc,other=1'");
    }
    otelp_span_end(s);
    return 0;
}

static int dlopen_case(const char *lib) {
    void *h = dlopen(lib, RTLD_NOW);
    if (!h) {
        fprintf(stderr, "dlopen: %s\n", dlerror());
        return 1;
    }
    int (*work)(int) = (int (*)(int))dlsym(h, "lib_work");
    if (!work) return 1;
    printf("lib_work %d\n", work(4));
    dlclose(h);
    return 0;
}

static int version_case(void) {
    otelp_span *s = otelp_span_start("version", NULL, OTELP_SPAN_KIND_INTERNAL, NULL, 0);
    otelp_span_add_event(s, "event", NULL, 0);
    otelp_span_set_status(s, OTELP_STATUS_ERROR, "x");
    otelp_log(OTELP_SEVERITY_INFO, NULL, "log", NULL, 0);
    otelp_record_metric("version.count", 1, NULL, 0);
    otelp_span_end(s);
    puts("version done");
    return 0;
}

int main(int argc, char **argv) {
    const char *what = argc > 1 ? argv[1] : "";
    if (!strcmp(what, "threads")) return threads();
    if (!strcmp(what, "fork")) return fork_case();
    if (!strcmp(what, "scope")) return scope_case();
    if (!strcmp(what, "calls")) return calls();
    if (!strcmp(what, "dlopen") && argc > 2) return dlopen_case(argv[2]);
    if (!strcmp(what, "version")) return version_case();
    fprintf(stderr, "usage: api_cases threads|fork|scope|calls|dlopen LIB|version\n");
    return 2;
}
