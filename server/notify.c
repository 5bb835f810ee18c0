/* notify: Alertmanager v2, webhook v4, exec and log notifications with bounded queues and
 * retries. Depends on forward (HTTP POST over a socket), rules, sbuf, pthreads, posix_spawn. */
#include "server/notify.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "server/forward.h"
#include "server/sbuf.h"

extern char **environ;

#define EXEC_ENV_MAX 16
#define EXEC_DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"

struct item {
    char *body;              /* the JSON sent (POST body, or the command's stdin) */
    char *env[EXEC_ENV_MAX]; /* exec: ALERT_*=... */
    char summary[200];       /* for the log */
};

struct worker {
    const struct notifier_conf *conf;
    const char *external_url;
    struct forward fwd;
    bool fwd_ok;
    pthread_t thread;
    bool started;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct item *q; /* ring of NOTIFY_QUEUE_MAX */
    size_t head, len;
    bool stop;
    int64_t stop_deadline_ms;
    struct notify_stats stats;
};

struct notify {
    const struct rules *rules;
    struct worker *w; /* one per rules->notifiers entry (log entries have no thread) */
    size_t n;
};

static int64_t mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *notify_time(int64_t ns, char *buf, size_t cap) {
    time_t s = (time_t)(ns / 1000000000);
    struct tm tm;
    gmtime_r(&s, &tm);
    /* modulo: each field's width is bounded (format-truncation in Release builds) */
    snprintf(buf, cap, "%04u-%02u-%02uT%02u:%02u:%02u.%03uZ",
             (unsigned)(tm.tm_year + 1900) % 10000u, (unsigned)(tm.tm_mon + 1) % 100u,
             (unsigned)tm.tm_mday % 100u, (unsigned)tm.tm_hour % 100u, (unsigned)tm.tm_min % 100u,
             (unsigned)tm.tm_sec % 100u, (unsigned)((ns / 1000000) % 1000));
    return buf;
}

static void json_kvs(struct sbuf *b, const struct rule_kv *kv, size_t n) {
    sbuf_puts(b, "{");
    for (size_t i = 0; i < n; i++) {
        if (i) sbuf_puts(b, ",");
        sbuf_json_str(b, kv[i].key, strlen(kv[i].key));
        sbuf_puts(b, ":");
        sbuf_json_str(b, kv[i].value, strlen(kv[i].value));
    }
    sbuf_puts(b, "}");
}

/* One alert as Alertmanager's API and webhook payload have it. */
static void json_alert(struct sbuf *b, const struct notify_alert *a, const char *external_url,
                       bool webhook) {
    char t[40];
    sbuf_puts(b, "{");
    if (webhook) {
        sbuf_puts(b, "\"status\":");
        sbuf_json_str(b, a->status, strlen(a->status));
        sbuf_puts(b, ",");
    }
    sbuf_puts(b, "\"labels\":");
    json_kvs(b, a->labels, a->n_labels);
    sbuf_puts(b, ",\"annotations\":");
    json_kvs(b, a->annotations, a->n_annotations);
    sbuf_printf(b, ",\"startsAt\":\"%s\"", notify_time(a->starts_at_ns, t, sizeof(t)));
    if (a->ends_at_ns > 0)
        sbuf_printf(b, ",\"endsAt\":\"%s\"", notify_time(a->ends_at_ns, t, sizeof(t)));
    else if (webhook)
        sbuf_puts(b, ",\"endsAt\":\"0001-01-01T00:00:00Z\"");
    sbuf_puts(b, ",\"generatorURL\":");
    struct sbuf g = {0};
    sbuf_printf(&g, "%s/api/v1/alerts?rule=%s", external_url, a->rule);
    if (a->trace_id && a->trace_id[0]) sbuf_printf(&g, "&trace=%s", a->trace_id);
    sbuf_json_str(b, sbuf_cstr(&g), g.len);
    sbuf_free(&g);
    if (webhook) sbuf_printf(b, ",\"fingerprint\":\"%s\"", a->fingerprint);
    sbuf_puts(b, "}");
}

/* Alertmanager's webhook payload, version 4, for one alert. */
static void json_webhook(struct sbuf *b, const struct notify_alert *a, const char *receiver,
                         const char *external_url) {
    sbuf_puts(b, "{\"receiver\":");
    sbuf_json_str(b, receiver, strlen(receiver));
    sbuf_puts(b, ",\"status\":");
    sbuf_json_str(b, a->status, strlen(a->status));
    sbuf_puts(b, ",\"alerts\":[");
    json_alert(b, a, external_url, true);
    sbuf_puts(b, "],\"groupLabels\":{\"alertname\":");
    sbuf_json_str(b, a->rule, strlen(a->rule));
    sbuf_puts(b, "},\"commonLabels\":");
    json_kvs(b, a->labels, a->n_labels);
    sbuf_puts(b, ",\"commonAnnotations\":");
    json_kvs(b, a->annotations, a->n_annotations);
    sbuf_puts(b, ",\"externalURL\":");
    sbuf_json_str(b, external_url, strlen(external_url));
    sbuf_puts(b, ",\"version\":\"4\",\"groupKey\":");
    struct sbuf k = {0};
    sbuf_printf(&k, "{}:{alertname=\"%s\"}", a->rule);
    sbuf_json_str(b, sbuf_cstr(&k), k.len);
    sbuf_free(&k);
    sbuf_printf(b, ",\"truncatedAlerts\":0,\"fingerprint\":\"%s\"}", a->fingerprint);
}

static const char *find_kv(const struct rule_kv *kv, size_t n, const char *key) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(kv[i].key, key) == 0) return kv[i].value;
    return "";
}

static char *env_var(const char *name, const char *value) {
    struct sbuf b = {0};
    sbuf_printf(&b, "%s=%s", name, value);
    char *s = b.failed ? NULL : strdup(sbuf_cstr(&b));
    sbuf_free(&b);
    return s;
}

static void item_free(struct item *it) {
    free(it->body);
    for (int i = 0; i < EXEC_ENV_MAX; i++)
        free(it->env[i]);
    memset(it, 0, sizeof(*it));
}

/* Runs the command with body on stdin; 0, or a negative errno with why. */
static int run_exec(const struct notifier_conf *c, struct item *it, char *why, size_t cap) {
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) != 0) {
        snprintf(why, cap, "pipe: %s", strerror(errno));
        return -errno;
    }
    /* A minimal environment, not the server's (its secrets stay with it): a few
     * variables of the server's passed on when set, PATH always, the alert's ALERT_*. */
    static const char *const pass[] = {"PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR"};
    char *envp[sizeof(pass) / sizeof(pass[0]) + EXEC_ENV_MAX + 1];
    size_t k = 0;
    for (size_t i = 0; i < sizeof(pass) / sizeof(pass[0]); i++) {
        size_t nl = strlen(pass[i]);
        for (char **e = environ; e && *e; e++)
            if (strncmp(*e, pass[i], nl) == 0 && (*e)[nl] == '=') {
                envp[k++] = *e;
                break;
            }
        if (i == 0 && k == 0) envp[k++] = "PATH=" EXEC_DEFAULT_PATH;
    }
    for (int i = 0; i < EXEC_ENV_MAX; i++)
        if (it->env[i]) envp[k++] = it->env[i];
    envp[k] = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pfd[0], 0);
    posix_spawnattr_init(&at);
    posix_spawnattr_setpgroup(&at, 0);
    sigset_t none, dfl;
    sigemptyset(&none);
    sigfillset(&dfl);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &dfl);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                      POSIX_SPAWN_SETSIGDEF);
    char *argv[] = {"/bin/sh", "-c", c->command, NULL};
    pid_t pid;
    int rc = posix_spawn(&pid, "/bin/sh", &fa, &at, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    close(pfd[0]);
    if (rc != 0) {
        close(pfd[1]);
        snprintf(why, cap, "cannot run /bin/sh: %s", strerror(rc));
        return -rc;
    }
    int64_t deadline = mono_ms() + c->timeout_ns / 1000000;
    /* stdin: written without blocking past the deadline */
    fcntl(pfd[1], F_SETFL, O_NONBLOCK);
    size_t off = 0, len = strlen(it->body);
    while (off < len && mono_ms() < deadline) {
        ssize_t w = write(pfd[1], it->body + off, len - off);
        if (w > 0) {
            off += (size_t)w;
        } else if (w < 0 && errno == EAGAIN) {
            struct pollfd p = {.fd = pfd[1], .events = POLLOUT};
            (void)poll(&p, 1, 50);
        } else if (w < 0 && errno == EINTR) {
        } else {
            break; /* the command does not read its stdin: fine */
        }
    }
    close(pfd[1]);
    int status = 0;
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) break;
        if (r < 0 && errno != EINTR) {
            snprintf(why, cap, "waitpid: %s", strerror(errno));
            return -ECHILD;
        }
        if (mono_ms() >= deadline) {
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
            }
            snprintf(why, cap, "'%s' ran longer than %lld ms: killed", c->command,
                     (long long)(c->timeout_ns / 1000000));
            return -ETIMEDOUT;
        }
        struct timespec ts = {0, 10 * 1000000};
        nanosleep(&ts, NULL);
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return 0;
    if (WIFEXITED(status))
        snprintf(why, cap, "'%s' exited with %d", c->command, WEXITSTATUS(status));
    else
        snprintf(why, cap, "'%s' died of signal %d", c->command, WTERMSIG(status));
    return -EIO;
}

static int deliver(struct worker *w, struct item *it, char *why, size_t cap) {
    if (w->conf->kind == NOTIFIER_EXEC) return run_exec(w->conf, it, why, cap);
    if (!w->fwd_ok) {
        snprintf(why, cap, "bad url %s", w->conf->url);
        return -EINVAL;
    }
    const char *path = w->conf->kind == NOTIFIER_ALERTMANAGER ? "/api/v2/alerts"
                       : w->fwd.base[0]                       ? ""
                                                              : "/";
    int st = forward_post(&w->fwd, path, "application/json", NULL, (const uint8_t *)it->body,
                          strlen(it->body));
    if (st >= 200 && st < 300) return 0;
    if (st < 0)
        snprintf(why, cap, "%s: %s", w->conf->url, strerror(-st));
    else
        snprintf(why, cap, "%s answered HTTP %d", w->conf->url, st);
    return st < 0 ? st : -EIO;
}

static void *worker_main(void *arg) {
    struct worker *w = arg;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    int64_t backoff = 0, next_try = 0;
    pthread_mutex_lock(&w->lock);
    for (;;) {
        int64_t now = mono_ms();
        if (w->stop && (w->len == 0 || now >= w->stop_deadline_ms)) break;
        if (w->len == 0 || now < next_try) {
            int64_t until = w->len == 0 ? now + 1000 : next_try;
            if (w->stop && until > w->stop_deadline_ms) until = w->stop_deadline_ms;
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            int64_t ms = until - now;
            if (ms < 1) ms = 1;
            ts.tv_sec += ms / 1000;
            ts.tv_nsec += (ms % 1000) * 1000000;
            if (ts.tv_nsec >= 1000000000) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000;
            }
            pthread_cond_timedwait(&w->cond, &w->lock, &ts);
            continue;
        }
        /* Deliver the head without the lock; it stays in the queue until done. */
        struct item it = w->q[w->head];
        memset(&w->q[w->head], 0, sizeof(it));
        size_t slot = w->head;
        pthread_mutex_unlock(&w->lock);
        char why[160] = "";
        int rc = deliver(w, &it, why, sizeof(why));
        pthread_mutex_lock(&w->lock);
        if (rc == 0 || w->conf->kind == NOTIFIER_EXEC) {
            if (rc == 0)
                w->stats.sent++;
            else {
                w->stats.failed++;
                snprintf(w->stats.last_error, sizeof(w->stats.last_error), "%s", why);
                fprintf(stderr, "otel-preload: alert notification to %s failed: %s\n",
                        w->conf->name, why);
            }
            item_free(&it);
            /* the head may have been dropped (queue full) while we delivered */
            if (w->len > 0 && w->head == slot && w->q[slot].body == NULL) {
                w->head = (w->head + 1) % NOTIFY_QUEUE_MAX;
                w->len--;
            }
            backoff = 0;
            next_try = 0;
        } else {
            w->stats.failed++;
            snprintf(w->stats.last_error, sizeof(w->stats.last_error), "%s", why);
            if (w->len > 0 && w->head == slot && w->q[slot].body == NULL)
                w->q[slot] = it; /* put back, try again later */
            else
                item_free(&it);
            backoff = backoff == 0 ? NOTIFY_BACKOFF_MIN_MS : backoff * 2;
            if (backoff > NOTIFY_BACKOFF_MAX_MS) backoff = NOTIFY_BACKOFF_MAX_MS;
            next_try = mono_ms() + backoff;
        }
    }
    /* whatever is left after the stop deadline is dropped, counted */
    while (w->len > 0) {
        item_free(&w->q[w->head]);
        w->head = (w->head + 1) % NOTIFY_QUEUE_MAX;
        w->len--;
        w->stats.dropped++;
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

struct notify *notify_start(const struct rules *r) {
    struct notify *n = calloc(1, sizeof(*n));
    if (n == NULL) return NULL;
    n->rules = r;
    n->n = r->n_notifiers;
    n->w = calloc(n->n ? n->n : 1, sizeof(*n->w));
    if (n->w == NULL) {
        free(n);
        return NULL;
    }
    for (size_t i = 0; i < n->n; i++) {
        struct worker *w = &n->w[i];
        w->conf = &r->notifiers[i];
        w->external_url = r->external_url ? r->external_url : "";
        pthread_mutex_init(&w->lock, NULL);
        pthread_cond_init(&w->cond, NULL);
        if (w->conf->kind == NOTIFIER_LOG) continue;
        if (w->conf->url) {
            char err[160];
            w->fwd_ok = forward_init_port(&w->fwd, w->conf->url, "80", err, sizeof(err)) == 0;
        }
        w->q = calloc(NOTIFY_QUEUE_MAX, sizeof(*w->q));
        if (w->q == NULL) continue;
        w->started = pthread_create(&w->thread, NULL, worker_main, w) == 0;
    }
    return n;
}

size_t notify_count(const struct notify *n) {
    return n ? n->n : 0;
}

static void log_line(const struct notify_alert *a) {
    struct sbuf b = {0};
    sbuf_printf(&b, "otel-preload: alert %s %s",
                strcmp(a->status, "firing") == 0 ? "FIRING" : "RESOLVED", a->rule);
    sbuf_puts(&b, " {");
    for (size_t i = 0; i < a->n_labels; i++)
        sbuf_printf(&b, "%s%s=\"%s\"", i ? ", " : "", a->labels[i].key, a->labels[i].value);
    sbuf_printf(&b, "} value=%g", a->value);
    const char *summary = find_kv(a->annotations, a->n_annotations, "summary");
    if (summary[0]) sbuf_printf(&b, ": %s", summary);
    if (a->trace_id && a->trace_id[0]) sbuf_printf(&b, " (trace %s)", a->trace_id);
    sbuf_puts(&b, "\n");
    fputs(sbuf_cstr(&b), stderr);
    sbuf_free(&b);
}

void notify_send(struct notify *n, const struct notify_alert *a, unsigned to) {
    if (n == NULL) return;
    for (size_t i = 0; i < n->n; i++) {
        struct worker *w = &n->w[i];
        enum notifier_kind k = w->conf->kind;
        bool am = k == NOTIFIER_ALERTMANAGER;
        if (!(to & (am ? NOTIFY_TO_ALERTMANAGER : NOTIFY_TO_OTHERS))) continue;
        if (k == NOTIFIER_LOG) {
            log_line(a);
            pthread_mutex_lock(&w->lock);
            w->stats.sent++;
            pthread_mutex_unlock(&w->lock);
            continue;
        }
        if (!w->started) continue;
        struct item it;
        memset(&it, 0, sizeof(it));
        struct sbuf b = {0};
        if (am) {
            sbuf_puts(&b, "[");
            json_alert(&b, a, w->external_url, false);
            sbuf_puts(&b, "]");
        } else {
            json_webhook(&b, a, w->conf->name, w->external_url);
            if (k == NOTIFIER_EXEC) sbuf_puts(&b, "\n");
        }
        it.body = b.failed ? NULL : strdup(sbuf_cstr(&b));
        sbuf_free(&b);
        if (it.body == NULL) continue;
        if (k == NOTIFIER_EXEC) {
            struct sbuf lb = {0}, ab = {0};
            json_kvs(&lb, a->labels, a->n_labels);
            json_kvs(&ab, a->annotations, a->n_annotations);
            char val[64];
            snprintf(val, sizeof(val), "%g", a->value);
            int e = 0;
            it.env[e++] = env_var("ALERT_NAME", a->rule);
            it.env[e++] = env_var("ALERT_STATUS", a->status);
            it.env[e++] = env_var("ALERT_FINGERPRINT", a->fingerprint);
            it.env[e++] = env_var("ALERT_VALUE", val);
            it.env[e++] = env_var("ALERT_LABELS", sbuf_cstr(&lb));
            it.env[e++] = env_var("ALERT_ANNOTATIONS", sbuf_cstr(&ab));
            it.env[e++] =
                env_var("ALERT_SUMMARY", find_kv(a->annotations, a->n_annotations, "summary"));
            it.env[e++] = env_var("ALERT_TRACE_ID", a->trace_id ? a->trace_id : "");
            it.env[e++] = env_var("ALERT_SPAN_ID", a->span_id ? a->span_id : "");
            char t[40];
            it.env[e++] = env_var("ALERT_STARTS_AT", notify_time(a->starts_at_ns, t, sizeof(t)));
            it.env[e++] = env_var(
                "ALERT_ENDS_AT", a->ends_at_ns > 0 ? notify_time(a->ends_at_ns, t, sizeof(t)) : "");
            sbuf_free(&lb);
            sbuf_free(&ab);
        }
        pthread_mutex_lock(&w->lock);
        if (w->len == NOTIFY_QUEUE_MAX) {
            /* full: the oldest goes (unless it is being delivered right now) */
            item_free(&w->q[w->head]);
            w->head = (w->head + 1) % NOTIFY_QUEUE_MAX;
            w->len--;
            w->stats.dropped++;
        }
        w->q[(w->head + w->len) % NOTIFY_QUEUE_MAX] = it;
        w->len++;
        pthread_cond_signal(&w->cond);
        pthread_mutex_unlock(&w->lock);
    }
}

void notify_get_stats(struct notify *n, size_t i, struct notify_stats *out) {
    memset(out, 0, sizeof(*out));
    if (n == NULL || i >= n->n) return;
    struct worker *w = &n->w[i];
    pthread_mutex_lock(&w->lock);
    *out = w->stats;
    out->queued = w->len;
    pthread_mutex_unlock(&w->lock);
}

void notify_stop(struct notify *n, int wait_ms) {
    if (n == NULL) return;
    int64_t deadline = mono_ms() + wait_ms;
    for (size_t i = 0; i < n->n; i++) {
        struct worker *w = &n->w[i];
        pthread_mutex_lock(&w->lock);
        w->stop = true;
        w->stop_deadline_ms = deadline;
        pthread_cond_signal(&w->cond);
        pthread_mutex_unlock(&w->lock);
    }
    for (size_t i = 0; i < n->n; i++) {
        struct worker *w = &n->w[i];
        if (w->started) pthread_join(w->thread, NULL);
        free(w->q);
        pthread_mutex_destroy(&w->lock);
        pthread_cond_destroy(&w->cond);
    }
    free(n->w);
    free(n);
}
