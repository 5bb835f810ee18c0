/* api_example: a program that adds its own spans, events, links and log
 * records to its trace with include/otelp.h (docs/API.md shows it). It
 * prints the same lines and exits with the same status with the shim or
 * without it; under the shim its spans nest inside the process's root span
 * and become the parents of the thread and the program it starts.
 * Usage: api_example [child-program]   (default /bin/true) */
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <syslog.h>

#include "otelp.h"

extern char **environ;

static void *worker(void *arg) {
    int *items = arg;
    /* A span for this block, ended when the block is left (here by return). */
    OTELP_SPAN_SCOPE("worker.sum");
    int sum = 0;
    for (int i = 0; i < 3; i++)
        sum += items[i];
    otelp_span_set_attribute(otelp_span_current(), otelp_attr_int("work.sum", sum));
    items[3] = sum;
    return NULL;
}

static int run_child(const char *path) {
    pid_t pid;
    char *argv[] = {(char *)path, NULL};
    if (posix_spawn(&pid, path, NULL, NULL, argv, environ) != 0) return -1;
    int status;
    if (waitpid(pid, &status, 0) < 0) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Stands for a message that carries its sender's context over the
 * program's own protocol. */
struct message {
    char traceparent[OTELP_TRACEPARENT_SIZE];
    char tracestate[256];
    int payload;
};

static int handle(const struct message *m) {
    otelp_span_context sender;
    otelp_span *span;
    if (otelp_context_from_w3c(m->traceparent, m->tracestate, &sender) == 0)
        span =
            otelp_span_start_remote("message.handle", &sender, OTELP_SPAN_KIND_CONSUMER, NULL, 0);
    else
        span = otelp_span_start("message.handle", NULL, OTELP_SPAN_KIND_CONSUMER, NULL, 0);
    otelp_span_set_attribute(span, otelp_attr_int("message.payload", m->payload));
    otelp_span_end(span);
    return m->payload;
}

int main(int argc, char **argv) {
    const char *child = argc > 1 ? argv[1] : "/bin/true";
    const char *tags[] = {"alpha", "beta"};
    const int64_t sizes[] = {10, -20, 30};
    const double weights[] = {0.25, 1.5};
    const int flags[] = {1, 0, 1};
    otelp_attr attrs[] = {
        otelp_attr_str("job.name", "nightly"),         otelp_attr_int("job.items", 3),
        otelp_attr_double("job.ratio", 0.5),           otelp_attr_bool("job.dry_run", 0),
        otelp_attr_strs("job.tags", tags, 2),          otelp_attr_ints("job.sizes", sizes, 3),
        otelp_attr_doubles("job.weights", weights, 2), otelp_attr_bools("job.flags", flags, 3),
    };
    otelp_span *job =
        otelp_span_start("job", NULL, OTELP_SPAN_KIND_INTERNAL, attrs, OTELP_COUNT(attrs));
    otelp_scope scope = otelp_span_make_current(job);

    /* A thread started while "job" is current is its child. */
    int items[4] = {1, 2, 3, 0};
    pthread_t th;
    if (pthread_create(&th, NULL, worker, items) != 0) return 2;
    pthread_join(th, NULL);
    printf("sum %d\n", items[3]);

    otelp_attr stage[] = {otelp_attr_str("job.stage", "load")};
    otelp_span_add_event(job, "job.stage", stage, OTELP_COUNT(stage));

    /* A program started while "job" is current is its child too. */
    printf("child exit %d\n", run_child(child));

    /* Logging calls, the program's own and otelp_log, carry the job's context. */
    syslog(LOG_INFO, "job %s started", "nightly");
    otelp_attr log_attrs[] = {otelp_attr_int("job.items", 3)};
    otelp_log(OTELP_SEVERITY_WARN, "WARN", "job is slow", log_attrs, OTELP_COUNT(log_attrs));

    /* The context travels in a message, and comes back as a remote parent. */
    otelp_span_context ctx;
    struct message m = {"", "", 42};
    if (otelp_span_get_context(job, &ctx) == 0)
        otelp_context_to_w3c(&ctx, m.traceparent, m.tracestate, sizeof m.tracestate);
    printf("handled %d\n", handle(&m));

    /* A failure: an exception event, the status, and a link to a span of
     * another trace. */
    otelp_span *step = otelp_span_start("job.step", job, OTELP_SPAN_KIND_CLIENT, NULL, 0);
    otelp_span_record_exception(step, "IOError", "disk full", "at step (api_example.c)", NULL, 0);
    otelp_span_set_status(step, OTELP_STATUS_ERROR, "disk full");
    otelp_span_context other;
    if (otelp_context_from_w3c("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", NULL,
                               &other) == 0) {
        otelp_attr why[] = {otelp_attr_str("link.reason", "retry of")};
        otelp_span_add_link(step, &other, why, OTELP_COUNT(why));
    }
    otelp_span_end(step);

    /* Metrics: a counter and a histogram, exported with the process's resource. */
    otelp_instrument *done_items =
        otelp_counter("job.items.done", "{item}", "Items the job finished.");
    otelp_instrument *took = otelp_histogram("job.step.duration", "ms", NULL, NULL, 0);
    otelp_attr kind[] = {otelp_attr_str("job.name", "nightly")};
    otelp_add(done_items, 3, kind, OTELP_COUNT(kind));
    otelp_record(took, 12.5, kind, OTELP_COUNT(kind));

    otelp_scope_end(scope);
    otelp_span_end(job);
    printf("done\n");
    return 0;
}
