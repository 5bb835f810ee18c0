/* alerts: rule evaluation, alert states, persistence and the alerts API's JSON.
 * Depends on rules, query, store, notify, sbuf, httpd (query parameters), SQLite, pthreads.
 *
 * Design. One mutex guards the rules' in-memory alerts. The store's writer
 * thread (the ingest listener) matches each new span and log record
 * against the per-record rules of its signal and, on a match, finds or
 * creates the alert of the record's label set, notes the time, value and
 * record, and wakes the evaluator. The evaluator thread advances states
 * (Prometheus's rules: pending until the condition held for `for`, firing
 * until it stopped holding for `keep_firing_for`, then resolved), writes
 * what changed to the alert_* tables and hands notifications to notify.c.
 * It writes while holding the mutex: the listener runs after the store's
 * commit, holding no SQLite lock, so the two never wait on each other.
 * Aggregate rules (and per-record rules over metric points, which the store
 * does not pass to listeners) query the store without the mutex, then apply
 * their result under it. */
#include "server/alerts.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/httpd.h"
#include "server/notify.h"

enum astate { A_INACTIVE, A_PENDING, A_FIRING, A_RESOLVED };
static const char *const STATE_NAMES[] = {"inactive", "pending", "firing", "resolved"};

struct arecord {
    int64_t time_ns;
    char trace_id[33], span_id[17];
    char name[96];
    double value;
};

struct inst {
    uint64_t fp;
    char fp_hex[17];
    struct rule_kv *labels;
    size_t n_labels;
    struct rule_kv *ann;
    size_t n_ann;
    enum astate state;
    double value;
    int64_t active_at, fired_at, resolved_at, last_true, last_sent, last_am_sent;
    int64_t ann_at; /* when the annotations were last expanded */
    bool hit;       /* a matching record since the last evaluation */
    bool dirty;     /* value or records changed: persist */
    unsigned tell;  /* NOTIFY_TO_* to send once the pass's transaction committed */
    bool restored_records;
    struct arecord rec[ALERTS_RECORDS];
    size_t n_rec, rec_next;
};

struct rule_rt {
    const struct rule *r;
    struct inst **inst;
    size_t n, cap;
    bool error, error_saved;
    char errmsg[320];
    int64_t last_eval, next_eval;
    int64_t last_point_id; /* per-record metric rules: the last point looked at */
    bool health_dirty;
};

struct alerts {
    struct store *store;
    sqlite3 *db;  /* writes, under lock */
    sqlite3 *qdb; /* the SQL rules' queries, on the SQL thread, without the lock */
    struct rules *rules;
    struct rule_rt *rt;
    size_t n;
    bool any_record[3]; /* per-record rules per signal (spans, logs) */
    struct notify *notify;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool wake, stop;
    pthread_t thread, sql_thread;
    bool sql_started;
    pthread_cond_t sql_cond;
    int64_t last_flush;
};

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++) {
        h ^= c[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static void kvs_free(struct rule_kv *kv, size_t n) {
    for (size_t i = 0; kv && i < n; i++) {
        free(kv[i].key);
        free(kv[i].value);
    }
    free(kv);
}

static void inst_free(struct inst *in) {
    if (in == NULL) return;
    kvs_free(in->labels, in->n_labels);
    kvs_free(in->ann, in->n_ann);
    free(in);
}

/* ---- records: the query accessor over decoded OTLP ---------------------- */

struct rec {
    enum query_signal sig;
    const struct otlp_span *sp;
    const struct otlp_log *lg;
    const struct otlp_attrs *res;
    const char *service;
    char trace[33], span[17], parent[17];
    char body[64]; /* a non-text log body as text */
};

static bool value_out(const struct otlp_value *v, struct query_value *out) {
    switch (v->type) {
    case OTLP_VALUE_STRING:
        out->type = QUERY_STR, out->s = v->str, out->len = v->len;
        return true;
    case OTLP_VALUE_INT:
        out->type = QUERY_INT, out->i = v->i;
        return true;
    case OTLP_VALUE_BOOL:
        out->type = QUERY_INT, out->i = v->b;
        return true;
    case OTLP_VALUE_DOUBLE:
        out->type = QUERY_DOUBLE, out->d = v->d;
        return true;
    default:
        return false;
    }
}

static bool attr_out(const struct otlp_attrs *a, const char *key, size_t klen,
                     struct query_value *out) {
    if (a == NULL) return false;
    for (size_t i = 0; i < a->count; i++)
        if (strlen(a->items[i].key) == klen && memcmp(a->items[i].key, key, klen) == 0)
            return value_out(&a->items[i].value, out);
    return false;
}

static bool str_out(const char *s, struct query_value *out) {
    if (s == NULL) return false;
    out->type = QUERY_STR, out->s = s, out->len = strlen(s);
    return true;
}

static bool rec_get(void *record, const struct query_field *f, struct query_value *out) {
    struct rec *r = record;
    const struct otlp_attrs *own = r->sp ? &r->sp->attrs : r->lg ? &r->lg->attrs : NULL;
    switch (f->id) {
    case QUERY_F_ATTR:
        if (f->scope != QUERY_SCOPE_RESOURCE && attr_out(own, f->key, f->key_len, out)) return true;
        return f->scope != QUERY_SCOPE_RECORD && attr_out(r->res, f->key, f->key_len, out);
    case QUERY_F_SERVICE:
        return str_out(r->service, out);
    case QUERY_F_TRACE_ID:
        return r->trace[0] ? str_out(r->trace, out) : false;
    case QUERY_F_SPAN_ID:
        return r->span[0] ? str_out(r->span, out) : false;
    default:
        break;
    }
    if (r->sp) {
        const struct otlp_span *sp = r->sp;
        switch (f->id) {
        case QUERY_F_NAME:
            return str_out(sp->name, out);
        case QUERY_F_DURATION:
            out->type = QUERY_INT;
            out->i = sp->end_time_unix_nano > sp->start_time_unix_nano
                         ? (int64_t)(sp->end_time_unix_nano - sp->start_time_unix_nano)
                         : 0;
            return true;
        case QUERY_F_STATUS:
            out->type = QUERY_INT, out->i = sp->status_code;
            return true;
        case QUERY_F_STATUS_MESSAGE:
            return sp->status_message[0] ? str_out(sp->status_message, out) : false;
        case QUERY_F_KIND:
            out->type = QUERY_INT, out->i = sp->kind;
            return true;
        case QUERY_F_PARENT_SPAN_ID:
            return r->parent[0] ? str_out(r->parent, out) : false;
        default:
            return false;
        }
    }
    if (r->lg) {
        const struct otlp_log *lg = r->lg;
        switch (f->id) {
        case QUERY_F_SEVERITY:
            out->type = QUERY_INT, out->i = lg->severity_number;
            return true;
        case QUERY_F_SEVERITY_TEXT:
            return lg->severity_text[0] ? str_out(lg->severity_text, out) : false;
        case QUERY_F_EVENT_NAME:
            return lg->event_name[0] ? str_out(lg->event_name, out) : false;
        case QUERY_F_BODY:
            if (!lg->has_body) return false;
            if (lg->body.type == OTLP_VALUE_STRING) return value_out(&lg->body, out);
            if (lg->body.type == OTLP_VALUE_INT || lg->body.type == OTLP_VALUE_DOUBLE ||
                lg->body.type == OTLP_VALUE_BOOL)
                return value_out(&lg->body, out);
            return false;
        default:
            return false;
        }
    }
    return false;
}

/* A field or attribute by the name rules use ("duration", "service.name",
 * "attr.x", "resource.host.name", "process.exit.code"). */
static void field_by_name(enum query_signal sig, const char *name, struct query_field *f) {
    memset(f, 0, sizeof(*f));
    static const struct {
        const char *name;
        enum query_field_id id;
        int signals; /* bit per signal */
    } fields[] = {
        {"name", QUERY_F_NAME, 5},
        {"duration", QUERY_F_DURATION, 1},
        {"status", QUERY_F_STATUS, 1},
        {"status.message", QUERY_F_STATUS_MESSAGE, 1},
        {"kind", QUERY_F_KIND, 1},
        {"service.name", QUERY_F_SERVICE, 7},
        {"trace_id", QUERY_F_TRACE_ID, 3},
        {"span_id", QUERY_F_SPAN_ID, 3},
        {"parent_span_id", QUERY_F_PARENT_SPAN_ID, 1},
        {"severity", QUERY_F_SEVERITY, 2},
        {"severity_text", QUERY_F_SEVERITY_TEXT, 2},
        {"body", QUERY_F_BODY, 2},
        {"event_name", QUERY_F_EVENT_NAME, 2},
        {"value", QUERY_F_VALUE, 4},
        {"unit", QUERY_F_UNIT, 4},
        {"type", QUERY_F_TYPE, 4},
    };
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
        if ((fields[i].signals & (1 << sig)) && strcmp(fields[i].name, name) == 0) {
            f->id = fields[i].id;
            return;
        }
    f->id = QUERY_F_ATTR;
    f->scope = QUERY_SCOPE_ANY;
    if (strncmp(name, "attr.", 5) == 0)
        f->scope = QUERY_SCOPE_RECORD, name += 5;
    else if (strncmp(name, "attributes.", 11) == 0)
        f->scope = QUERY_SCOPE_RECORD, name += 11;
    else if (strncmp(name, "resource.", 9) == 0)
        f->scope = QUERY_SCOPE_RESOURCE, name += 9;
    f->key = name;
    f->key_len = strlen(name);
}

static void value_text(const struct query_value *v, struct sbuf *b) {
    switch (v->type) {
    case QUERY_STR:
        sbuf_add(b, v->s, v->len);
        break;
    case QUERY_INT:
        sbuf_printf(b, "%lld", (long long)v->i);
        break;
    case QUERY_DOUBLE:
        sbuf_printf(b, "%g", v->d);
        break;
    case QUERY_BOOL:
        sbuf_puts(b, v->b ? "true" : "false");
        break;
    default:
        break;
    }
}

static double value_num(const struct query_value *v, bool *ok) {
    *ok = true;
    if (v->type == QUERY_INT) return (double)v->i;
    if (v->type == QUERY_DOUBLE) return v->d;
    if (v->type == QUERY_BOOL) return v->b;
    *ok = false;
    return 0;
}

/* The rule's value of a record: a duration in seconds, else the field as a number. */
static double rec_value(const struct rule *r, struct rec *rc) {
    struct query_field f;
    field_by_name(r->signal, r->field, &f);
    struct query_value v = {0};
    bool ok;
    if (!rec_get(rc, &f, &v)) return 0;
    double d = value_num(&v, &ok);
    if (f.id == QUERY_F_DURATION) d /= 1e9;
    return ok ? d : 0;
}

/* ---- templates ------------------------------------------------------ */

typedef void (*tmpl_lookup)(void *ctx, const char *key, struct sbuf *out);

/* {{ .key }} replaced by lookup; the rest copied. */
static char *expand(const char *t, tmpl_lookup fn, void *ctx) {
    struct sbuf b = {0};
    const char *p = t;
    for (;;) {
        const char *o = strstr(p, "{{");
        if (o == NULL) break;
        const char *c = strstr(o + 2, "}}");
        if (c == NULL) break;
        sbuf_add(&b, p, (size_t)(o - p));
        const char *k = o + 2;
        while (k < c && (*k == ' ' || *k == '\t'))
            k++;
        const char *e = c;
        while (e > k && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if (k < e && *k == '.') k++;
        char key[128];
        size_t kl = (size_t)(e - k) < sizeof(key) - 1 ? (size_t)(e - k) : sizeof(key) - 1;
        memcpy(key, k, kl);
        key[kl] = '\0';
        fn(ctx, key, &b);
        p = c + 2;
    }
    sbuf_puts(&b, p);
    char *s = strdup(sbuf_cstr(&b));
    sbuf_free(&b);
    return s;
}

struct tctx {
    const struct rule *r;
    struct rec *rec; /* NULL for an aggregate */
    const struct rule_kv *labels;
    size_t n_labels;
    double value;
};

static const char *kv_get(const struct rule_kv *kv, size_t n, const char *key) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(kv[i].key, key) == 0) return kv[i].value;
    return NULL;
}

static void lookup(void *ctx, const char *key, struct sbuf *out) {
    struct tctx *t = ctx;
    if (strcmp(key, "value") == 0) {
        sbuf_printf(out, "%g", t->value);
        return;
    }
    if (strcmp(key, "alert") == 0 || strcmp(key, "alertname") == 0) {
        sbuf_puts(out, t->r->name);
        return;
    }
    if (strcmp(key, "threshold") == 0) {
        sbuf_printf(out, "%g", t->r->threshold);
        return;
    }
    if (strncmp(key, "labels.", 7) == 0) {
        const char *v = kv_get(t->labels, t->n_labels, key + 7);
        if (v) sbuf_puts(out, v);
        return;
    }
    const char *k = key;
    if (strncmp(k, "attributes.", 11) == 0) k = key + 11;
    if (strcmp(k, "service") == 0) k = "service.name";
    if (t->rec == NULL) { /* an aggregate: what its labels say */
        const char *v = kv_get(t->labels, t->n_labels, k);
        if (v == NULL && strcmp(k, "name") == 0) v = t->r->name;
        if (v) sbuf_puts(out, v);
        return;
    }
    struct query_field f;
    field_by_name(t->r->signal, k, &f);
    struct query_value v = {0};
    if (!rec_get(t->rec, &f, &v)) return;
    if (f.id == QUERY_F_DURATION)
        sbuf_printf(out, "%g", (double)v.i / 1e9);
    else
        value_text(&v, out);
}

static struct rule_kv *expand_all(const struct rule_kv *src, size_t n, struct tctx *t) {
    struct rule_kv *kv = calloc(n ? n : 1, sizeof(*kv));
    if (kv == NULL) return NULL;
    for (size_t i = 0; i < n; i++) {
        kv[i].key = strdup(src[i].key);
        kv[i].value = expand(src[i].value, lookup, t);
        if (kv[i].key == NULL || kv[i].value == NULL) {
            kvs_free(kv, i + 1);
            return NULL;
        }
    }
    return kv;
}

/* ---- label sets ----------------------------------------------------- */

static uint64_t fp_pair(uint64_t h, const char *k, const char *v) {
    h = fnv(h, k, strlen(k) + 1);
    return fnv(h, v, strlen(v) + 1);
}

/* The fingerprint of the label set make_labels builds. */
static uint64_t labels_fp(const struct rule *r, const char *const *group_vals) {
    uint64_t h = fp_pair(14695981039346656037ULL, "alertname", r->name);
    for (size_t i = 0; i < r->n_labels; i++)
        h = fp_pair(h, r->labels[i].key, r->labels[i].value);
    for (size_t i = 0; i < r->n_group_by; i++)
        h = fp_pair(h, r->group_by[i], group_vals && group_vals[i] ? group_vals[i] : "");
    return h;
}

/* alertname, the rule's labels, then group_by's values (absent: ""). */
static struct rule_kv *make_labels(const struct rule *r, const char *const *group_vals,
                                   size_t *n_out, uint64_t *fp) {
    size_t n = 1 + r->n_labels + r->n_group_by;
    struct rule_kv *kv = calloc(n, sizeof(*kv));
    if (kv == NULL) return NULL;
    size_t k = 0;
    kv[k].key = strdup("alertname");
    kv[k++].value = strdup(r->name);
    for (size_t i = 0; i < r->n_labels; i++) {
        kv[k].key = strdup(r->labels[i].key);
        kv[k++].value = strdup(r->labels[i].value);
    }
    for (size_t i = 0; i < r->n_group_by; i++) {
        kv[k].key = strdup(r->group_by[i]);
        kv[k++].value = strdup(group_vals[i] ? group_vals[i] : "");
    }
    for (size_t i = 0; i < k; i++)
        if (kv[i].key == NULL || kv[i].value == NULL) {
            kvs_free(kv, k);
            return NULL;
        }
    *n_out = k;
    *fp = labels_fp(r, group_vals);
    return kv;
}

static struct inst *find_inst(struct rule_rt *rt, uint64_t fp) {
    for (size_t i = 0; i < rt->n; i++)
        if (rt->inst[i]->fp == fp) return rt->inst[i];
    return NULL;
}

/* Takes labels. NULL when out of memory or at the cap (a rule error). */
static struct inst *add_inst(struct rule_rt *rt, struct rule_kv *labels, size_t n_labels,
                             uint64_t fp) {
    if (rt->n == ALERTS_MAX_INSTANCES) {
        if (!rt->error) {
            rt->error = true;
            rt->health_dirty = true;
            snprintf(rt->errmsg, sizeof(rt->errmsg),
                     "more than %d label sets: group_by makes too many alerts",
                     ALERTS_MAX_INSTANCES);
        }
        kvs_free(labels, n_labels);
        return NULL;
    }
    if (rt->n == rt->cap) {
        size_t nc = rt->cap ? rt->cap * 2 : 8;
        struct inst **ni = realloc(rt->inst, nc * sizeof(*ni));
        if (ni == NULL) {
            kvs_free(labels, n_labels);
            return NULL;
        }
        rt->inst = ni;
        rt->cap = nc;
    }
    struct inst *in = calloc(1, sizeof(*in));
    if (in == NULL) {
        kvs_free(labels, n_labels);
        return NULL;
    }
    in->fp = fp;
    snprintf(in->fp_hex, sizeof(in->fp_hex), "%016" PRIx64, fp);
    in->labels = labels;
    in->n_labels = n_labels;
    in->state = A_INACTIVE;
    rt->inst[rt->n++] = in;
    return in;
}

static void remove_inst(struct rule_rt *rt, size_t i) {
    inst_free(rt->inst[i]);
    rt->inst[i] = rt->inst[--rt->n];
}

static void add_record(struct inst *in, int64_t t, const char *trace, const char *span,
                       const char *name, double value) {
    struct arecord *ar = &in->rec[in->rec_next];
    in->rec_next = (in->rec_next + 1) % ALERTS_RECORDS;
    if (in->n_rec < ALERTS_RECORDS) in->n_rec++;
    ar->time_ns = t;
    snprintf(ar->trace_id, sizeof(ar->trace_id), "%s", trace ? trace : "");
    snprintf(ar->span_id, sizeof(ar->span_id), "%s", span ? span : "");
    snprintf(ar->name, sizeof(ar->name), "%s", name ? name : "");
    ar->value = value;
    in->dirty = true;
}

/* ---- the listener: per-record rules as records arrive ---------------- */

static void on_match(struct alerts *a, struct rule_rt *rt, struct rec *rc, int64_t now) {
    const struct rule *r = rt->r;
    struct sbuf gv[RULES_MAX_GROUP_BY];
    const char *vals[RULES_MAX_GROUP_BY];
    memset(gv, 0, sizeof(gv));
    for (size_t i = 0; i < r->n_group_by; i++) {
        struct query_field f;
        field_by_name(r->signal, r->group_by[i], &f);
        struct query_value v = {0};
        if (rec_get(rc, &f, &v)) value_text(&v, &gv[i]);
        vals[i] = sbuf_cstr(&gv[i]);
    }
    uint64_t fp = labels_fp(r, vals);
    struct inst *in = find_inst(rt, fp);
    if (in == NULL) {
        size_t nl;
        struct rule_kv *labels = make_labels(r, vals, &nl, &fp);
        if (labels != NULL) in = add_inst(rt, labels, nl, fp);
    }
    for (size_t i = 0; i < r->n_group_by; i++)
        sbuf_free(&gv[i]);
    if (in == NULL) return;
    /* A span delivered again (OTLP is at least once: a retry whose first
     * try got through, a spool drained later) is the same record: it does
     * not make a resolved alert fire again. */
    if (rc->sp && rc->span[0])
        for (size_t i = 0; i < in->n_rec; i++)
            if (strcmp(in->rec[i].span_id, rc->span) == 0 &&
                strcmp(in->rec[i].trace_id, rc->trace) == 0)
                return;
    double value = rec_value(r, rc);
    /* Annotations from the record: when the alert (re)starts, then at most
     * once a second (they cost allocations). */
    if (in->ann == NULL || in->state == A_INACTIVE || in->state == A_RESOLVED ||
        now - in->ann_at >= 1000000000) {
        struct tctx t = {
            .r = r, .rec = rc, .labels = in->labels, .n_labels = in->n_labels, .value = value};
        struct rule_kv *ann = expand_all(r->annotations, r->n_annotations, &t);
        if (ann != NULL) {
            kvs_free(in->ann, in->n_ann);
            in->ann = ann;
            in->n_ann = r->n_annotations;
            in->ann_at = now;
        }
    }
    in->value = value;
    in->last_true = now;
    in->hit = true;
    const char *name = rc->sp ? rc->sp->name : rc->lg ? rc->lg->event_name : "";
    if (rc->lg && !name[0] && rc->lg->has_body && rc->lg->body.type == OTLP_VALUE_STRING)
        name = rc->lg->body.str;
    add_record(in, now, rc->trace, rc->span, name, value);
    a->wake = true;
}

static const char *service_of(const struct otlp_attrs *res) {
    for (size_t i = 0; res && i < res->count; i++)
        if (strcmp(res->items[i].key, "service.name") == 0 &&
            res->items[i].value.type == OTLP_VALUE_STRING)
            return res->items[i].value.str;
    return NULL;
}

static bool zero(const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i]) return false;
    return true;
}

static void match_record(struct alerts *a, struct rec *rc, int64_t now) {
    for (size_t i = 0; i < a->n; i++) {
        struct rule_rt *rt = &a->rt[i];
        if (rt->r->agg != RULE_RECORD || rt->r->signal != rc->sig) continue;
        if (query_match(rt->r->query, rec_get, rc)) on_match(a, rt, rc, now);
    }
}

void alerts_on_ingest(void *ctx, enum store_signal signal, const void *request) {
    struct alerts *a = ctx;
    if (signal == STORE_TRACES && !a->any_record[QUERY_SPANS]) return;
    if (signal == STORE_LOGS && !a->any_record[QUERY_LOGS]) return;
    int64_t now = now_ns();
    pthread_mutex_lock(&a->lock);
    if (signal == STORE_TRACES) {
        const struct otlp_traces *t = request;
        for (size_t r = 0; r < t->n_resource_spans; r++) {
            const struct otlp_resource_spans *rs = &t->resource_spans[r];
            const char *svc = service_of(&rs->resource.attrs);
            for (size_t k = 0; k < rs->n_scope_spans; k++)
                for (size_t j = 0; j < rs->scope_spans[k].n_spans; j++) {
                    const struct otlp_span *sp = &rs->scope_spans[k].spans[j];
                    struct rec rc = {
                        .sig = QUERY_SPANS, .sp = sp, .res = &rs->resource.attrs, .service = svc};
                    otlp_hex(sp->trace_id, 16, rc.trace);
                    otlp_hex(sp->span_id, 8, rc.span);
                    if (!zero(sp->parent_span_id, 8)) otlp_hex(sp->parent_span_id, 8, rc.parent);
                    match_record(a, &rc, now);
                }
        }
    } else if (signal == STORE_LOGS) {
        const struct otlp_logs *l = request;
        for (size_t r = 0; r < l->n_resource_logs; r++) {
            const struct otlp_resource_logs *rl = &l->resource_logs[r];
            const char *svc = service_of(&rl->resource.attrs);
            for (size_t k = 0; k < rl->n_scope_logs; k++)
                for (size_t j = 0; j < rl->scope_logs[k].n_logs; j++) {
                    const struct otlp_log *lg = &rl->scope_logs[k].logs[j];
                    struct rec rc = {
                        .sig = QUERY_LOGS, .lg = lg, .res = &rl->resource.attrs, .service = svc};
                    if (!zero(lg->trace_id, 16)) otlp_hex(lg->trace_id, 16, rc.trace);
                    if (!zero(lg->span_id, 8)) otlp_hex(lg->span_id, 8, rc.span);
                    match_record(a, &rc, now);
                }
        }
    }
    if (a->wake) pthread_cond_signal(&a->cond);
    pthread_mutex_unlock(&a->lock);
}

/* ---- persistence ---------------------------------------------------- */

static const char SCHEMA[] =
    "CREATE TABLE IF NOT EXISTS alert_meta (key TEXT PRIMARY KEY, value TEXT) STRICT;"
    "CREATE TABLE IF NOT EXISTS alert_rules (name TEXT PRIMARY KEY, seq INTEGER NOT NULL,"
    " spec TEXT NOT NULL, health TEXT NOT NULL DEFAULT 'ok', error TEXT, last_eval_ns INTEGER)"
    " STRICT;"
    "CREATE TABLE IF NOT EXISTS alert_state (rule TEXT NOT NULL, fingerprint TEXT NOT NULL,"
    " labels TEXT NOT NULL, annotations TEXT NOT NULL, state TEXT NOT NULL, value REAL,"
    " active_at_ns INTEGER, fired_at_ns INTEGER, resolved_at_ns INTEGER, last_true_ns INTEGER,"
    " last_sent_ns INTEGER, records TEXT, PRIMARY KEY (rule, fingerprint)) STRICT;"
    "CREATE TABLE IF NOT EXISTS alert_history (id INTEGER PRIMARY KEY, time_ns INTEGER NOT NULL,"
    " rule TEXT NOT NULL, fingerprint TEXT NOT NULL, labels TEXT NOT NULL,"
    " from_state TEXT NOT NULL, to_state TEXT NOT NULL, value REAL) STRICT;"
    "CREATE INDEX IF NOT EXISTS alert_history_rule ON alert_history (rule, time_ns);"
    "CREATE TABLE IF NOT EXISTS alert_notifiers (name TEXT PRIMARY KEY, kind TEXT NOT NULL,"
    " target TEXT, sent INTEGER NOT NULL DEFAULT 0, failed INTEGER NOT NULL DEFAULT 0,"
    " queued INTEGER NOT NULL DEFAULT 0, dropped INTEGER NOT NULL DEFAULT 0, last_error TEXT)"
    " STRICT;";

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

static void json_num(struct sbuf *b, double v) {
    if (isfinite(v))
        sbuf_printf(b, "%.17g", v);
    else
        sbuf_puts(b, "null");
}

static void rule_spec(struct sbuf *b, const struct rule *r) {
    sbuf_puts(b, "{\"group\":");
    sbuf_json_str(b, r->group, strlen(r->group));
    sbuf_printf(b, ",\"signal\":\"%s\",\"kind\":\"%s\",\"where\":", rules_signal_name(r->signal),
                r->agg == RULE_RECORD ? "record" : "aggregate");
    sbuf_json_str(b, r->where, strlen(r->where));
    if (r->agg == RULE_RECORD) {
        sbuf_puts(b, ",\"aggregate\":null,\"field\":");
        sbuf_json_str(b, r->field, strlen(r->field));
        sbuf_puts(b, ",\"op\":null,\"threshold\":null");
    } else {
        sbuf_printf(b, ",\"aggregate\":\"%s\",\"field\":", rules_agg_name(r->agg));
        if (r->agg == RULE_COUNT || r->agg == RULE_RATE)
            sbuf_puts(b, "null");
        else
            sbuf_json_str(b, r->field, strlen(r->field));
        sbuf_printf(b, ",\"op\":\"%s\",\"threshold\":", rules_op_name(r->op));
        json_num(b, r->threshold);
    }
    sbuf_printf(b,
                ",\"window_ns\":%lld,\"interval_ns\":%lld,\"for_ns\":%lld,"
                "\"keep_firing_for_ns\":%lld,\"group_by\":[",
                (long long)r->window_ns, (long long)r->interval_ns, (long long)r->for_ns,
                (long long)r->keep_firing_for_ns);
    for (size_t i = 0; i < r->n_group_by; i++) {
        if (i) sbuf_puts(b, ",");
        sbuf_json_str(b, r->group_by[i], strlen(r->group_by[i]));
    }
    sbuf_puts(b, "],\"labels\":");
    json_kvs(b, r->labels, r->n_labels);
    sbuf_puts(b, ",\"annotations\":");
    json_kvs(b, r->annotations, r->n_annotations);
    sbuf_puts(b, "}");
}

static int exec_sql(sqlite3 *db, const char *sql) {
    char *e = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &e);
    if (rc != SQLITE_OK && e) fprintf(stderr, "otel-preload: alerts: %s\n", e);
    sqlite3_free(e);
    return rc;
}

static void records_json(struct sbuf *b, const struct inst *in, enum query_signal sig) {
    sbuf_puts(b, "[");
    for (size_t k = 0; k < in->n_rec; k++) {
        const struct arecord *ar =
            &in->rec[(in->rec_next + ALERTS_RECORDS - 1 - k) % ALERTS_RECORDS];
        if (k) sbuf_puts(b, ",");
        sbuf_printf(b, "{\"time_ns\":%lld,\"signal\":\"%s\",\"trace_id\":", (long long)ar->time_ns,
                    rules_signal_name(sig));
        if (ar->trace_id[0])
            sbuf_printf(b, "\"%s\"", ar->trace_id);
        else
            sbuf_puts(b, "null");
        sbuf_puts(b, ",\"span_id\":");
        if (ar->span_id[0])
            sbuf_printf(b, "\"%s\"", ar->span_id);
        else
            sbuf_puts(b, "null");
        sbuf_puts(b, ",\"name\":");
        sbuf_json_str(b, ar->name, strlen(ar->name));
        sbuf_puts(b, ",\"value\":");
        json_num(b, ar->value);
        sbuf_puts(b, "}");
    }
    sbuf_puts(b, "]");
}

static void bind_opt(sqlite3_stmt *st, int i, int64_t v) {
    if (v > 0)
        sqlite3_bind_int64(st, i, v);
    else
        sqlite3_bind_null(st, i);
}

static void save_inst(struct alerts *a, const struct rule_rt *rt, struct inst *in) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(a->db,
                           "INSERT INTO alert_state (rule, fingerprint, labels, annotations, state,"
                           " value, active_at_ns, fired_at_ns, resolved_at_ns, last_true_ns,"
                           " last_sent_ns, records) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12)"
                           " ON CONFLICT (rule, fingerprint) DO UPDATE SET annotations = ?4,"
                           " state = ?5, value = ?6, active_at_ns = ?7, fired_at_ns = ?8,"
                           " resolved_at_ns = ?9, last_true_ns = ?10, last_sent_ns = ?11,"
                           " records = coalesce(?12, records)",
                           -1, &st, NULL) != SQLITE_OK)
        return;
    struct sbuf l = {0}, an = {0}, rec = {0};
    json_kvs(&l, in->labels, in->n_labels);
    json_kvs(&an, in->ann, in->n_ann);
    sqlite3_bind_text(st, 1, rt->r->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, in->fp_hex, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, sbuf_cstr(&l), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, sbuf_cstr(&an), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, STATE_NAMES[in->state], -1, SQLITE_STATIC);
    if (isfinite(in->value)) sqlite3_bind_double(st, 6, in->value);
    bind_opt(st, 7, in->active_at);
    bind_opt(st, 8, in->fired_at);
    bind_opt(st, 9, in->resolved_at);
    bind_opt(st, 10, in->last_true);
    bind_opt(st, 11, in->last_sent);
    if (in->n_rec > 0) {
        records_json(&rec, in, rt->r->signal);
        sqlite3_bind_text(st, 12, sbuf_cstr(&rec), -1, SQLITE_STATIC);
    }
    (void)sqlite3_step(st);
    sqlite3_finalize(st);
    sbuf_free(&l);
    sbuf_free(&an);
    sbuf_free(&rec);
    in->dirty = false;
}

static void delete_inst_row(struct alerts *a, const char *rule, const char *fp) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(a->db, "DELETE FROM alert_state WHERE rule = ?1 AND fingerprint = ?2",
                           -1, &st, NULL) != SQLITE_OK)
        return;
    sqlite3_bind_text(st, 1, rule, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, fp, -1, SQLITE_STATIC);
    (void)sqlite3_step(st);
    sqlite3_finalize(st);
}

static void save_history(struct alerts *a, const struct rule_rt *rt, const struct inst *in,
                         enum astate from, int64_t t) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(a->db,
                           "INSERT INTO alert_history (time_ns, rule, fingerprint, labels,"
                           " from_state, to_state, value) VALUES (?1,?2,?3,?4,?5,?6,?7)",
                           -1, &st, NULL) != SQLITE_OK)
        return;
    struct sbuf l = {0};
    json_kvs(&l, in->labels, in->n_labels);
    sqlite3_bind_int64(st, 1, t);
    sqlite3_bind_text(st, 2, rt->r->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, in->fp_hex, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, sbuf_cstr(&l), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, STATE_NAMES[from], -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, STATE_NAMES[in->state], -1, SQLITE_STATIC);
    if (isfinite(in->value)) sqlite3_bind_double(st, 7, in->value);
    (void)sqlite3_step(st);
    sqlite3_finalize(st);
    sbuf_free(&l);
}

static void save_health(struct alerts *a, struct rule_rt *rt) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(a->db,
                           "UPDATE alert_rules SET health = ?2, error = ?3, last_eval_ns = ?4"
                           " WHERE name = ?1",
                           -1, &st, NULL) != SQLITE_OK)
        return;
    sqlite3_bind_text(st, 1, rt->r->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, rt->error ? "error" : "ok", -1, SQLITE_STATIC);
    if (rt->error) sqlite3_bind_text(st, 3, rt->errmsg, -1, SQLITE_STATIC);
    bind_opt(st, 4, rt->last_eval);
    (void)sqlite3_step(st);
    sqlite3_finalize(st);
    rt->health_dirty = false;
}

static void save_notifiers(struct alerts *a) {
    static const char *const kinds[] = {"log", "alertmanager", "webhook", "exec"};
    for (size_t i = 0; i < a->rules->n_notifiers; i++) {
        const struct notifier_conf *c = &a->rules->notifiers[i];
        struct notify_stats s;
        notify_get_stats(a->notify, i, &s);
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(
                a->db,
                "INSERT OR REPLACE INTO alert_notifiers (name, kind, target, sent,"
                " failed, queued, dropped, last_error) VALUES (?1,?2,?3,?4,?5,?6,?7,?8)",
                -1, &st, NULL) != SQLITE_OK)
            return;
        sqlite3_bind_text(st, 1, c->name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, kinds[c->kind], -1, SQLITE_STATIC);
        const char *target = c->url ? c->url : c->command ? c->command : "stderr";
        sqlite3_bind_text(st, 3, target, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, (int64_t)s.sent);
        sqlite3_bind_int64(st, 5, (int64_t)s.failed);
        sqlite3_bind_int64(st, 6, (int64_t)s.queued);
        sqlite3_bind_int64(st, 7, (int64_t)s.dropped);
        if (s.last_error[0]) sqlite3_bind_text(st, 8, s.last_error, -1, SQLITE_STATIC);
        (void)sqlite3_step(st);
        sqlite3_finalize(st);
    }
}

/* ---- state transitions ---------------------------------------------- */

static void send(struct alerts *a, const struct rule_rt *rt, struct inst *in, int64_t now,
                 unsigned to) {
    bool resolved = in->state == A_RESOLVED;
    const struct arecord *last =
        in->n_rec ? &in->rec[(in->rec_next + ALERTS_RECORDS - 1) % ALERTS_RECORDS] : NULL;
    struct notify_alert na = {
        .status = resolved ? "resolved" : "firing",
        .rule = rt->r->name,
        .fingerprint = in->fp_hex,
        .labels = in->labels,
        .n_labels = in->n_labels,
        .annotations = in->ann,
        .n_annotations = in->n_ann,
        .starts_at_ns = in->fired_at ? in->fired_at : now,
        .ends_at_ns = resolved ? in->resolved_at : 0,
        .value = in->value,
        .trace_id = last ? last->trace_id : "",
        .span_id = last ? last->span_id : "",
    };
    if (to & NOTIFY_TO_OTHERS) notify_send(a->notify, &na, NOTIFY_TO_OTHERS);
    if (to & NOTIFY_TO_ALERTMANAGER) {
        if (!resolved) na.ends_at_ns = now + 4 * ALERTS_AM_RESEND_NS; /* as Prometheus does */
        notify_send(a->notify, &na, NOTIFY_TO_ALERTMANAGER);
    }
}

/* Sends what the pass's steps decided, once its transaction committed: a
 * receiver that asks the API as soon as it is told sees the new state. */
static void send_told(struct alerts *a, const struct rule_rt *rt, int64_t now) {
    for (size_t i = 0; i < rt->n; i++) {
        struct inst *in = rt->inst[i];
        if (in->tell) send(a, rt, in, now, in->tell);
        in->tell = 0;
    }
}

/* Advances one alert given whether its condition holds now. Returns false
 * when the alert is gone (inactive again: removed). */
static bool step(struct alerts *a, struct rule_rt *rt, size_t idx, bool cond, int64_t now) {
    struct inst *in = rt->inst[idx];
    const struct rule *r = rt->r;
    enum astate from = in->state;
    switch (in->state) {
    case A_INACTIVE:
    case A_RESOLVED:
        if (!cond) break;
        in->active_at = now;
        in->resolved_at = 0;
        in->fired_at = 0;
        in->state = A_PENDING;
        __attribute__((fallthrough)); /* `for: 0` fires at once */
    case A_PENDING:
        if (!cond) {
            in->state = A_INACTIVE;
            break;
        }
        if (now - in->active_at >= r->for_ns) {
            in->state = A_FIRING;
            in->fired_at = now;
        }
        break;
    case A_FIRING:
        if (cond) break;
        if (r->keep_firing_for_ns > 0 && now - in->last_true < r->keep_firing_for_ns) break;
        in->state = A_RESOLVED;
        in->resolved_at = now;
        break;
    }
    if (in->state != from) {
        save_history(a, rt, in, from, now);
        if (in->state == A_INACTIVE) {
            delete_inst_row(a, r->name, in->fp_hex);
            remove_inst(rt, idx);
            return false;
        }
        if (in->state == A_FIRING || in->state == A_RESOLVED) {
            in->last_sent = in->last_am_sent = now;
            in->tell = NOTIFY_TO_OTHERS | NOTIFY_TO_ALERTMANAGER;
        }
        save_inst(a, rt, in);
    } else if (in->state == A_FIRING) {
        if (now - in->last_sent >= a->rules->repeat_interval_ns) {
            in->tell |= NOTIFY_TO_OTHERS;
            in->last_sent = now;
            in->dirty = true;
        }
        if (now - in->last_am_sent >= ALERTS_AM_RESEND_NS) {
            in->tell |= NOTIFY_TO_ALERTMANAGER;
            in->last_am_sent = now;
        }
    } else if (in->state == A_RESOLVED && now - in->resolved_at >= ALERTS_RESOLVED_KEEP_NS) {
        delete_inst_row(a, r->name, in->fp_hex);
        remove_inst(rt, idx);
        return false;
    } else if (in->state == A_INACTIVE && !cond) {
        remove_inst(rt, idx);
        return false;
    }
    return true;
}

/* Per-record rules: true while a match is at most `window` old. */
static void eval_records(struct alerts *a, struct rule_rt *rt, int64_t now) {
    for (size_t i = 0; i < rt->n;) {
        struct inst *in = rt->inst[i];
        bool cond = in->hit || (in->last_true > 0 && now - in->last_true <= rt->r->window_ns);
        in->hit = false;
        if (step(a, rt, i, cond, now)) i++;
    }
}

/* ---- aggregates and metric points: SQL over the store ----------------- */

struct group {
    uint64_t fp; /* of the label set */
    struct rule_kv *labels;
    size_t n_labels;
    int64_t count, n_num; /* records; those with a numeric value */
    double sum, min, max;
    double *vals; /* p95 */
    size_t n_vals, cap_vals;
    struct arecord rec[ALERTS_RECORDS];
    size_t n_rec, rec_next;
};

struct groups {
    struct group *g;
    size_t n, cap;
};

static void groups_free(struct groups *gs) {
    for (size_t i = 0; i < gs->n; i++) {
        kvs_free(gs->g[i].labels, gs->g[i].n_labels);
        free(gs->g[i].vals);
    }
    free(gs->g);
    memset(gs, 0, sizeof(*gs));
}

/* The group of these group_by values, created when new. NULL at the cap
 * (err says so) or out of memory. */
static struct group *group_of(struct groups *gs, const struct rule *r, const char *const *vals,
                              char *err, size_t cap) {
    uint64_t fp = labels_fp(r, vals);
    for (size_t i = 0; i < gs->n; i++)
        if (gs->g[i].fp == fp) return &gs->g[i];
    if (gs->n == ALERTS_MAX_INSTANCES) {
        snprintf(err, cap, "more than %d label sets: group_by makes too many alerts",
                 ALERTS_MAX_INSTANCES);
        return NULL;
    }
    if (gs->n == gs->cap) {
        size_t nc = gs->cap ? gs->cap * 2 : 4;
        struct group *ng = realloc(gs->g, nc * sizeof(*ng));
        if (ng == NULL) {
            snprintf(err, cap, "out of memory");
            return NULL;
        }
        gs->g = ng;
        gs->cap = nc;
    }
    struct group *g = &gs->g[gs->n];
    memset(g, 0, sizeof(*g));
    g->labels = make_labels(r, vals, &g->n_labels, &g->fp);
    if (g->labels == NULL) {
        snprintf(err, cap, "out of memory");
        return NULL;
    }
    g->min = INFINITY;
    g->max = -INFINITY;
    gs->n++;
    return g;
}

static void group_record(struct group *g, sqlite3_stmt *st, double v);

static const char *table_of(enum query_signal s) {
    return s == QUERY_SPANS ? "spans" : s == QUERY_LOGS ? "logs" : "metric_points";
}

/* SQL for a field of t: a column, else the record's attribute, else the resource's. */
static void field_sql(enum query_signal sig, const char *name, int param, struct sbuf *b) {
    struct query_field f;
    field_by_name(sig, name, &f);
    const char *col = NULL;
    switch (f.id) {
    case QUERY_F_NAME:
        col = "t.name";
        break;
    case QUERY_F_DURATION:
        col = "(t.duration_ns / 1e9)";
        break;
    case QUERY_F_STATUS:
        col = "t.status_code";
        break;
    case QUERY_F_STATUS_MESSAGE:
        col = "t.status_message";
        break;
    case QUERY_F_KIND:
        col = "t.kind";
        break;
    case QUERY_F_SERVICE:
        col = "t.service_name";
        break;
    case QUERY_F_TRACE_ID:
        col = "t.trace_id";
        break;
    case QUERY_F_SPAN_ID:
        col = "t.span_id";
        break;
    case QUERY_F_PARENT_SPAN_ID:
        col = "t.parent_span_id";
        break;
    case QUERY_F_SEVERITY:
        col = "t.severity_number";
        break;
    case QUERY_F_SEVERITY_TEXT:
        col = "t.severity_text";
        break;
    case QUERY_F_BODY:
        col = "t.body";
        break;
    case QUERY_F_EVENT_NAME:
        col = "t.event_name";
        break;
    case QUERY_F_VALUE:
        col = "t.value";
        break;
    case QUERY_F_UNIT:
        col = "t.unit";
        break;
    case QUERY_F_TYPE:
        col = "t.type";
        break;
    default:
        break;
    }
    if (col) {
        sbuf_puts(b, col);
        return;
    }
    /* a point's attributes are its stream's (docs/STORE.md) */
    const char *own = sig == QUERY_SPANS  ? "span_attrs WHERE span_id = t.id"
                      : sig == QUERY_LOGS ? "log_attrs WHERE log_id = t.id"
                                          : "metric_stream_attrs WHERE stream_id = t.stream_id";
    const char *own_sql = f.scope == QUERY_SCOPE_RESOURCE ? "NULL" : NULL;
    sbuf_puts(b, "coalesce(");
    if (own_sql)
        sbuf_puts(b, own_sql);
    else
        sbuf_printf(b, "(SELECT value FROM %s AND key = :k%d)", own, param);
    sbuf_puts(b, ", ");
    if (f.scope == QUERY_SCOPE_RECORD)
        sbuf_puts(b, "NULL");
    else
        sbuf_printf(b,
                    "(SELECT value FROM resource_attrs WHERE resource_id = t.resource_id AND"
                    " key = :k%d)",
                    param);
    sbuf_puts(b, ")");
}

static const char *field_key(enum query_signal sig, const char *name) {
    struct query_field f;
    field_by_name(sig, name, &f);
    return f.id == QUERY_F_ATTR ? f.key : NULL;
}

enum sql_mode {
    SQL_NEW_POINTS, /* per-record metric rules: rows after :last, by id */
    SQL_ROWS,       /* every row of the window (p95) */
    SQL_GROUPED,    /* count, sum, min, max per label set, computed by SQLite */
    SQL_RECENT,     /* the window's last ALERTS_RECORDS rows */
};

/* Builds and prepares the rule's statement on the query connection.
 * SQL_NEW_POINTS, SQL_ROWS, SQL_RECENT: columns id, time, trace_id,
 * span_id, name, value, then the group_by values. SQL_GROUPED: the group_by
 * values, then count, sum, min, max and count of the numeric values. */
static int prepare_rule_sql(struct alerts *a, const struct rule *r, enum sql_mode mode,
                            sqlite3_stmt **out, struct query_sql *qs, char *err, size_t cap) {
    struct query_error qe;
    if (query_compile_sql(r->query, "t", qs, &qe) != 0) {
        snprintf(err, cap, "the filter does not compile to SQL: %s", qe.message);
        return -EINVAL;
    }
    const char *time_col = r->signal == QUERY_SPANS ? "t.start_ns" : "t.time_ns";
    struct sbuf b = {0};
    if (mode == SQL_GROUPED) {
        sbuf_puts(&b, "SELECT ");
        for (size_t i = 0; i < r->n_group_by; i++)
            sbuf_printf(&b, "g%zu, ", i);
        sbuf_puts(&b, "count(*), total(v), min(v), max(v), count(v) FROM (SELECT CASE WHEN"
                      " typeof(x) IN ('integer', 'real') THEN x END AS v");
        for (size_t i = 0; i < r->n_group_by; i++) {
            sbuf_puts(&b, ", ");
            field_sql(r->signal, r->group_by[i], (int)i + 1, &b);
            sbuf_printf(&b, " AS g%zu", i);
        }
        sbuf_puts(&b, " FROM (SELECT t.*, ");
        field_sql(r->signal, r->field, 0, &b);
        sbuf_puts(&b, " AS x");
    } else {
        sbuf_printf(&b, "SELECT t.id, %s, %s, %s, %s, ", time_col,
                    r->signal == QUERY_METRICS ? "NULL" : "t.trace_id",
                    r->signal == QUERY_METRICS ? "NULL" : "t.span_id",
                    r->signal == QUERY_LOGS ? "coalesce(t.event_name, t.body)" : "t.name");
        field_sql(r->signal, r->field, 0, &b);
        for (size_t i = 0; i < r->n_group_by; i++) {
            sbuf_puts(&b, ", ");
            field_sql(r->signal, r->group_by[i], (int)i + 1, &b);
        }
    }
    sbuf_printf(&b, " FROM %s t WHERE ", table_of(r->signal));
    if (mode == SQL_NEW_POINTS)
        sbuf_printf(&b, "t.id > :last");
    else
        sbuf_printf(&b, "%s > :from AND %s <= :to", time_col, time_col);
    if (qs->text && qs->text[0]) sbuf_printf(&b, " AND (%s)", qs->text);
    if (mode == SQL_GROUPED) {
        /* the inner t.* keeps t.id and t.resource_id for the attribute look-ups */
        sbuf_puts(&b, ") AS t)");
        if (r->n_group_by) {
            sbuf_puts(&b, " GROUP BY ");
            for (size_t i = 0; i < r->n_group_by; i++)
                sbuf_printf(&b, "%sg%zu", i ? ", " : "", i);
        }
        sbuf_printf(&b, " LIMIT %d", ALERTS_MAX_INSTANCES + 1);
    } else if (mode == SQL_RECENT) {
        sbuf_printf(&b, " ORDER BY %s DESC LIMIT %d", time_col, ALERTS_RECORDS);
    } else {
        sbuf_printf(&b, " ORDER BY %s LIMIT %d", mode == SQL_NEW_POINTS ? "t.id" : time_col,
                    ALERTS_SQL_ROWS + 1);
    }
    int rc = b.failed ? SQLITE_NOMEM : sqlite3_prepare_v2(a->qdb, sbuf_cstr(&b), -1, out, NULL);
    sbuf_free(&b);
    if (rc != SQLITE_OK) {
        snprintf(err, cap, "cannot prepare the rule's query: %s", sqlite3_errmsg(a->qdb));
        query_sql_free(qs);
        return -EIO;
    }
    rc = query_sql_bind(qs, *out, 0);
    for (size_t i = 0; rc == SQLITE_OK && i <= r->n_group_by; i++) {
        const char *k = field_key(r->signal, i == 0 ? r->field : r->group_by[i - 1]);
        char pn[16];
        snprintf(pn, sizeof(pn), ":k%zu", i);
        int idx = sqlite3_bind_parameter_index(*out, pn);
        if (k && idx > 0) rc = sqlite3_bind_text(*out, idx, k, -1, SQLITE_TRANSIENT);
    }
    if (rc != SQLITE_OK) {
        snprintf(err, cap, "cannot bind the rule's query: %s", sqlite3_errmsg(a->qdb));
        sqlite3_finalize(*out);
        query_sql_free(qs);
        return -EIO;
    }
    return 0;
}

static void col_text(sqlite3_stmt *st, int c, char *out, size_t cap) {
    const unsigned char *t = sqlite3_column_text(st, c);
    snprintf(out, cap, "%s", t ? (const char *)t : "");
}

static int cmp_double(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

static bool col_num(sqlite3_stmt *st, int c, double *v) {
    int t = sqlite3_column_type(st, c);
    *v = t == SQLITE_INTEGER || t == SQLITE_FLOAT ? sqlite3_column_double(st, c) : NAN;
    return !isnan(*v);
}

static void group_record(struct group *g, sqlite3_stmt *st, double v) {
    struct arecord *ar = &g->rec[g->rec_next];
    g->rec_next = (g->rec_next + 1) % ALERTS_RECORDS;
    if (g->n_rec < ALERTS_RECORDS) g->n_rec++;
    ar->time_ns = sqlite3_column_int64(st, 1);
    col_text(st, 2, ar->trace_id, sizeof(ar->trace_id));
    col_text(st, 3, ar->span_id, sizeof(ar->span_id));
    col_text(st, 4, ar->name, sizeof(ar->name));
    ar->value = v;
}

/* Runs one statement of the rule and folds its rows into gs. 0, or a
 * negative errno with err. */
static int run_sql(struct alerts *a, const struct rule *r, enum sql_mode mode, int64_t now,
                   int64_t *last_id, struct groups *gs, char *err, size_t cap) {
    sqlite3_stmt *st;
    struct query_sql qs = {0};
    int rc = prepare_rule_sql(a, r, mode, &st, &qs, err, cap);
    if (rc != 0) return rc;
    if (mode == SQL_NEW_POINTS) {
        sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, ":last"), *last_id);
    } else {
        sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, ":from"), now - r->window_ns);
        sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, ":to"), now);
    }
    int first_group = mode == SQL_GROUPED ? 0 : 6;
    size_t rows = 0;
    int s;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        if (++rows > ALERTS_SQL_ROWS) {
            snprintf(err, cap, "more than %d records in the window", ALERTS_SQL_ROWS);
            rc = -E2BIG;
            break;
        }
        char vbuf[RULES_MAX_GROUP_BY][128];
        const char *vals[RULES_MAX_GROUP_BY];
        for (size_t i = 0; i < r->n_group_by; i++) {
            col_text(st, first_group + (int)i, vbuf[i], sizeof(vbuf[i]));
            vals[i] = vbuf[i];
        }
        if (mode == SQL_RECENT) { /* records for the groups that exist */
            uint64_t fp = labels_fp(r, vals);
            for (size_t i = 0; i < gs->n; i++)
                if (gs->g[i].fp == fp) {
                    double v;
                    col_num(st, 5, &v);
                    group_record(&gs->g[i], st, v);
                }
            continue;
        }
        struct group *g = group_of(gs, r, vals, err, cap);
        if (g == NULL) {
            rc = -E2BIG;
            break;
        }
        if (mode == SQL_GROUPED) {
            int c = (int)r->n_group_by;
            double v;
            g->count += sqlite3_column_int64(st, c);
            g->sum += sqlite3_column_double(st, c + 1);
            if (col_num(st, c + 2, &v) && v < g->min) g->min = v;
            if (col_num(st, c + 3, &v) && v > g->max) g->max = v;
            g->n_num += sqlite3_column_int64(st, c + 4);
            continue;
        }
        int64_t id = sqlite3_column_int64(st, 0);
        if (id > *last_id) *last_id = id;
        g->count++;
        double v;
        if (col_num(st, 5, &v)) {
            g->n_num++;
            g->sum += v;
            if (v < g->min) g->min = v;
            if (v > g->max) g->max = v;
            if (r->agg == RULE_P95) {
                if (g->n_vals == g->cap_vals) {
                    size_t nc = g->cap_vals ? g->cap_vals * 2 : 16;
                    double *nv = realloc(g->vals, nc * sizeof(double));
                    if (nv == NULL) {
                        snprintf(err, cap, "out of memory");
                        rc = -ENOMEM;
                        break;
                    }
                    g->vals = nv;
                    g->cap_vals = nc;
                }
                g->vals[g->n_vals++] = v;
            }
        }
        group_record(g, st, v);
    }
    if (rc == 0 && s != SQLITE_DONE) {
        snprintf(err, cap, "the rule's query failed: %s", sqlite3_errmsg(a->qdb));
        rc = -EIO;
    }
    sqlite3_finalize(st);
    query_sql_free(&qs);
    return rc;
}

static double group_value(const struct rule *r, struct group *g) {
    switch (r->agg) {
    case RULE_RECORD:
        return g->n_rec ? g->rec[(g->rec_next + ALERTS_RECORDS - 1) % ALERTS_RECORDS].value : NAN;
    case RULE_COUNT:
        return (double)g->count;
    case RULE_RATE:
        return (double)g->count / ((double)r->window_ns / 1e9);
    case RULE_SUM:
        return g->sum;
    case RULE_AVG:
        return g->n_num ? g->sum / (double)g->n_num : NAN;
    case RULE_MIN:
        return g->n_num ? g->min : NAN;
    case RULE_MAX:
        return g->n_num ? g->max : NAN;
    case RULE_P95:
        if (g->n_vals == 0) return NAN;
        qsort(g->vals, g->n_vals, sizeof(double), cmp_double);
        size_t k = (size_t)ceil(0.95 * (double)g->n_vals);
        return g->vals[k ? k - 1 : 0];
    }
    return NAN;
}

/* Evaluates an aggregate rule, or a per-record metric rule (the points
 * stored since its last run): queries on the query connection without the
 * lock, then applies the result under it. */
static void eval_sql(struct alerts *a, struct rule_rt *rt, int64_t now) {
    const struct rule *r = rt->r;
    bool by_id = r->agg == RULE_RECORD;
    char err[300] = "";
    struct groups gs = {0};
    int64_t last_id = rt->last_point_id;
    int rc;
    if (by_id) {
        rc = run_sql(a, r, SQL_NEW_POINTS, now, &last_id, &gs, err, sizeof(err));
    } else {
        bool grouped = r->agg != RULE_P95;
        rc = run_sql(a, r, grouped ? SQL_GROUPED : SQL_ROWS, now, &last_id, &gs, err, sizeof(err));
        /* No group_by: one alert, evaluated also when nothing matched. */
        if (rc == 0 && r->n_group_by == 0 && gs.n == 0 &&
            group_of(&gs, r, NULL, err, sizeof(err)) == NULL)
            rc = -ENOMEM;
        if (rc == 0 && grouped)
            rc = run_sql(a, r, SQL_RECENT, now, &last_id, &gs, err, sizeof(err));
    }
    pthread_mutex_lock(&a->lock);
    bool was = rt->error;
    rt->error = rc != 0;
    if (rc != 0) snprintf(rt->errmsg, sizeof(rt->errmsg), "%s", err[0] ? err : strerror(-rc));
    if (rt->error != was || rc != 0) rt->health_dirty = true;
    rt->last_eval = now;
    if (rc == 0) {
        rt->last_point_id = last_id;
        exec_sql(a->db, "BEGIN IMMEDIATE");
        for (size_t i = 0; i < gs.n; i++) {
            struct group *g = &gs.g[i];
            double v = group_value(r, g);
            bool cond = by_id || (!isnan(v) && rules_compare(r->op, v, r->threshold));
            struct inst *in = find_inst(rt, g->fp);
            if (in == NULL && !cond) continue;
            if (in == NULL) {
                in = add_inst(rt, g->labels, g->n_labels, g->fp);
                g->labels = NULL;
                g->n_labels = 0;
                if (in == NULL) continue;
            }
            in->value = v;
            if (!cond) continue;
            in->last_true = now;
            in->hit = true;
            if (!by_id) in->n_rec = in->rec_next = 0; /* the records of this window */
            for (size_t k = 0; k < g->n_rec; k++) {
                /* oldest first, so that the newest ends up last in the ring */
                const struct arecord *ar =
                    &g->rec[(g->rec_next + ALERTS_RECORDS - g->n_rec + k) % ALERTS_RECORDS];
                add_record(in, ar->time_ns, ar->trace_id, ar->span_id, ar->name, ar->value);
            }
            struct tctx t = {.r = r, .labels = in->labels, .n_labels = in->n_labels, .value = v};
            struct rule_kv *ann = expand_all(r->annotations, r->n_annotations, &t);
            if (ann) {
                kvs_free(in->ann, in->n_ann);
                in->ann = ann;
                in->n_ann = r->n_annotations;
            }
        }
        /* Alerts whose group had no records this time: the condition is
         * false (per-record metric rules: while no match is `window` old). */
        if (by_id) {
            eval_records(a, rt, now);
        } else {
            for (size_t i = 0; i < rt->n;) {
                struct inst *in = rt->inst[i];
                bool cond = in->hit;
                in->hit = false;
                if (step(a, rt, i, cond, now)) i++;
            }
        }
        exec_sql(a->db, "COMMIT");
        send_told(a, rt, now);
    }
    if (rt->health_dirty) save_health(a, rt);
    pthread_mutex_unlock(&a->lock);
    groups_free(&gs);
}

/* ---- the evaluator threads ------------------------------------------ */

static void flush_dirty(struct alerts *a, int64_t now) {
    for (size_t i = 0; i < a->n; i++) {
        struct rule_rt *rt = &a->rt[i];
        for (size_t k = 0; k < rt->n; k++)
            if (rt->inst[k]->dirty) save_inst(a, rt, rt->inst[k]);
        if (rt->health_dirty) save_health(a, rt);
    }
    save_notifiers(a);
    a->last_flush = now;
}

static bool is_sql_rule(const struct rule *r) {
    return r->agg != RULE_RECORD || r->signal == QUERY_METRICS;
}

static void block_signals(void) {
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
}

static void wait_until(pthread_cond_t *c, pthread_mutex_t *m, int64_t ns) {
    struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000), .tv_nsec = (long)(ns % 1000000000)};
    pthread_cond_timedwait(c, m, &ts);
}

/* Per-record rules: woken by the listener, and once a second. */
static void *eval_main(void *arg) {
    struct alerts *a = arg;
    block_signals();
    int64_t last_prune = 0;
    pthread_mutex_lock(&a->lock);
    while (!a->stop) {
        if (!a->wake) wait_until(&a->cond, &a->lock, now_ns() + 1000000000);
        if (a->stop) break;
        a->wake = false;
        int64_t now = now_ns();
        exec_sql(a->db, "BEGIN IMMEDIATE");
        for (size_t i = 0; i < a->n; i++) {
            struct rule_rt *rt = &a->rt[i];
            if (is_sql_rule(rt->r)) continue;
            eval_records(a, rt, now);
            rt->last_eval = now;
        }
        if (now - a->last_flush >= 1000000000) flush_dirty(a, now);
        if (now - last_prune > 60 * (int64_t)1000000000) {
            char sql[160];
            snprintf(
                sql, sizeof(sql),
                "DELETE FROM alert_history WHERE id <= (SELECT max(id) FROM alert_history) - %d",
                ALERTS_HISTORY_MAX);
            exec_sql(a->db, sql);
            last_prune = now;
        }
        exec_sql(a->db, "COMMIT");
        for (size_t i = 0; i < a->n; i++)
            if (!is_sql_rule(a->rt[i].r)) send_told(a, &a->rt[i], now);
    }
    exec_sql(a->db, "BEGIN IMMEDIATE");
    flush_dirty(a, now_ns());
    exec_sql(a->db, "COMMIT");
    pthread_mutex_unlock(&a->lock);
    return NULL;
}

/* Aggregate rules and per-record metric rules: each every `interval`. */
static void *sql_main(void *arg) {
    struct alerts *a = arg;
    block_signals();
    pthread_mutex_lock(&a->lock);
    while (!a->stop) {
        int64_t now = now_ns(), next = now + 1000000000;
        for (size_t i = 0; i < a->n && !a->stop; i++) {
            struct rule_rt *rt = &a->rt[i];
            if (!is_sql_rule(rt->r)) continue;
            if (now >= rt->next_eval) {
                rt->next_eval = now + rt->r->interval_ns;
                pthread_mutex_unlock(&a->lock);
                eval_sql(a, rt, now);
                pthread_mutex_lock(&a->lock);
            }
            if (rt->next_eval < next) next = rt->next_eval;
        }
        if (!a->stop) wait_until(&a->sql_cond, &a->lock, next);
    }
    pthread_mutex_unlock(&a->lock);
    return NULL;
}

/* ---- start, restore, stop ------------------------------------------- */

static struct rule_kv *kvs_from_json(sqlite3 *db, const char *json, size_t *n) {
    *n = 0;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT key, value FROM json_each(?1)", -1, &st, NULL) != SQLITE_OK)
        return NULL;
    sqlite3_bind_text(st, 1, json, -1, SQLITE_STATIC);
    struct rule_kv *kv = calloc(RULES_MAX_LABELS + RULES_MAX_GROUP_BY + 1, sizeof(*kv));
    while (kv && *n < RULES_MAX_LABELS + RULES_MAX_GROUP_BY + 1 && sqlite3_step(st) == SQLITE_ROW) {
        const unsigned char *k = sqlite3_column_text(st, 0), *v = sqlite3_column_text(st, 1);
        kv[*n].key = strdup(k ? (const char *)k : "");
        kv[*n].value = strdup(v ? (const char *)v : "");
        (*n)++;
    }
    sqlite3_finalize(st);
    return kv;
}

static enum astate state_of(const char *s) {
    for (int i = 0; i < 4; i++)
        if (strcmp(STATE_NAMES[i], s) == 0) return (enum astate)i;
    return A_INACTIVE;
}

static void restore(struct alerts *a) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(a->db,
                           "SELECT rule, fingerprint, labels, annotations, state, value,"
                           " active_at_ns, fired_at_ns, resolved_at_ns, last_true_ns, last_sent_ns"
                           " FROM alert_state",
                           -1, &st, NULL) != SQLITE_OK)
        return;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *rule = (const char *)sqlite3_column_text(st, 0);
        struct rule_rt *rt = NULL;
        for (size_t i = 0; rule && i < a->n; i++)
            if (strcmp(a->rt[i].r->name, rule) == 0) rt = &a->rt[i];
        if (rt == NULL) continue;
        size_t nl, na;
        struct rule_kv *labels =
            kvs_from_json(a->db, (const char *)sqlite3_column_text(st, 2), &nl);
        if (labels == NULL) continue;
        uint64_t fp = strtoull((const char *)sqlite3_column_text(st, 1), NULL, 16);
        struct inst *in = add_inst(rt, labels, nl, fp);
        if (in == NULL) continue;
        in->ann = kvs_from_json(a->db, (const char *)sqlite3_column_text(st, 3), &na);
        in->n_ann = in->ann ? na : 0;
        in->state = state_of((const char *)sqlite3_column_text(st, 4));
        in->value = sqlite3_column_type(st, 5) == SQLITE_NULL ? NAN : sqlite3_column_double(st, 5);
        in->active_at = sqlite3_column_int64(st, 6);
        in->fired_at = sqlite3_column_int64(st, 7);
        in->resolved_at = sqlite3_column_int64(st, 8);
        in->last_true = sqlite3_column_int64(st, 9);
        in->last_sent = sqlite3_column_int64(st, 10);
    }
    sqlite3_finalize(st);
    /* alerts of rules no longer in the file */
    exec_sql(a->db, "DELETE FROM alert_state WHERE rule NOT IN (SELECT name FROM alert_rules)");
}

/* Frees a and what it holds (its rules too) once its threads are gone or never started. */
static void alerts_free(struct alerts *a) {
    for (size_t i = 0; i < a->n; i++) {
        for (size_t k = 0; k < a->rt[i].n; k++)
            inst_free(a->rt[i].inst[k]);
        free(a->rt[i].inst);
    }
    sqlite3_close(a->db);
    sqlite3_close(a->qdb);
    pthread_mutex_destroy(&a->lock);
    pthread_cond_destroy(&a->cond);
    pthread_cond_destroy(&a->sql_cond);
    free(a->rt);
    rules_free(a->rules);
    free(a);
}

int alerts_start(struct store *s, struct rules *rules, struct alerts **out, char *err, size_t cap) {
    *out = NULL;
    struct alerts *a = calloc(1, sizeof(*a));
    if (a == NULL ||
        (a->rt = calloc(rules->n_rules ? rules->n_rules : 1, sizeof(*a->rt))) == NULL) {
        free(a);
        snprintf(err, cap, "out of memory");
        return -ENOMEM;
    }
    a->store = s;
    a->rules = rules;
    a->n = rules->n_rules;
    pthread_mutex_init(&a->lock, NULL);
    pthread_cond_init(&a->cond, NULL);
    pthread_cond_init(&a->sql_cond, NULL);
    if (sqlite3_open_v2(store_path(s), &a->qdb, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) !=
            SQLITE_OK ||
        query_register_regexp(a->qdb) != SQLITE_OK) {
        snprintf(err, cap, "alerts: cannot open %s: %s", store_path(s),
                 a->qdb ? sqlite3_errmsg(a->qdb) : "out of memory");
        goto fail;
    }
    sqlite3_busy_timeout(a->qdb, 5000);
    if (sqlite3_open_v2(store_path(s), &a->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        snprintf(err, cap, "alerts: cannot open %s: %s", store_path(s),
                 a->db ? sqlite3_errmsg(a->db) : "out of memory");
        goto fail;
    }
    sqlite3_busy_timeout(a->db, 5000);
    if (query_register_regexp(a->db) != SQLITE_OK ||
        exec_sql(a->db, "BEGIN IMMEDIATE") != SQLITE_OK || exec_sql(a->db, SCHEMA) != SQLITE_OK) {
        snprintf(err, cap, "alerts: cannot create the alert tables: %s", sqlite3_errmsg(a->db));
        exec_sql(a->db, "ROLLBACK");
        goto fail;
    }
    exec_sql(a->db, "DELETE FROM alert_rules");
    exec_sql(a->db, "DELETE FROM alert_notifiers");
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(a->db, "INSERT INTO alert_rules (name, seq, spec) VALUES (?1, ?2, ?3)",
                           -1, &st, NULL) != SQLITE_OK) {
        snprintf(err, cap, "alerts: %s", sqlite3_errmsg(a->db));
        exec_sql(a->db, "ROLLBACK");
        goto fail;
    }
    for (size_t i = 0; i < a->n; i++) {
        struct rule_rt *rt = &a->rt[i];
        rt->r = &rules->rules[i];
        if (rt->r->agg == RULE_RECORD && rt->r->signal != QUERY_METRICS)
            a->any_record[rt->r->signal] = true;
        struct sbuf b = {0};
        rule_spec(&b, rt->r);
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, rt->r->name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, (int64_t)i);
        sqlite3_bind_text(st, 3, sbuf_cstr(&b), -1, SQLITE_TRANSIENT);
        (void)sqlite3_step(st);
        sbuf_free(&b);
    }
    sqlite3_finalize(st);
    /* Per-record metric rules start from the points already stored. */
    int64_t max_point = 0;
    if (sqlite3_prepare_v2(a->db, "SELECT coalesce(max(id), 0) FROM metric_points", -1, &st,
                           NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW) max_point = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    for (size_t i = 0; i < a->n; i++)
        a->rt[i].last_point_id = max_point;
    sqlite3_stmt *meta;
    if (sqlite3_prepare_v2(
            a->db, "INSERT OR REPLACE INTO alert_meta (key, value) VALUES ('rules_file', ?1)", -1,
            &meta, NULL) == SQLITE_OK) {
        sqlite3_bind_text(meta, 1, rules->path, -1, SQLITE_STATIC);
        (void)sqlite3_step(meta);
        sqlite3_finalize(meta);
    }
    restore(a);
    if (exec_sql(a->db, "COMMIT") != SQLITE_OK) {
        snprintf(err, cap, "alerts: cannot write the alert tables: %s", sqlite3_errmsg(a->db));
        goto fail;
    }
    a->notify = notify_start(rules);
    if (a->notify == NULL) {
        snprintf(err, cap, "out of memory");
        goto fail;
    }
    if (pthread_create(&a->thread, NULL, eval_main, a) != 0) {
        snprintf(err, cap, "alerts: cannot start the evaluator thread");
        notify_stop(a->notify, 0);
        goto fail;
    }
    a->sql_started = pthread_create(&a->sql_thread, NULL, sql_main, a) == 0;
    if (!a->sql_started)
        fprintf(stderr, "otel-preload: alerts: aggregate rules are not evaluated"
                        " (cannot start a thread)\n");
    *out = a;
    return 0;
fail:
    alerts_free(a); /* a->rules is rules */
    return -EIO;
}

void alerts_stop(struct alerts *a) {
    if (a == NULL) return;
    pthread_mutex_lock(&a->lock);
    a->stop = true;
    pthread_cond_signal(&a->cond);
    pthread_cond_signal(&a->sql_cond);
    pthread_mutex_unlock(&a->lock);
    pthread_join(a->thread, NULL);
    if (a->sql_started) pthread_join(a->sql_thread, NULL);
    notify_stop(a->notify, 2000);
    alerts_free(a);
}

/* ---- reading: the API's JSON and the terminal's table ----------------- */

static bool has_tables(sqlite3 *db) {
    sqlite3_stmt *st;
    bool yes = false;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE name = 'alert_rules'", -1, &st,
                           NULL) == SQLITE_OK) {
        yes = sqlite3_step(st) == SQLITE_ROW;
        sqlite3_finalize(st);
    }
    return yes;
}

static void raw_or_null(struct sbuf *b, sqlite3_stmt *st, int c) {
    const unsigned char *t = sqlite3_column_text(st, c);
    sbuf_puts(b, t ? (const char *)t : "null");
}

static void int_or_null(struct sbuf *b, sqlite3_stmt *st, int c) {
    if (sqlite3_column_type(st, c) == SQLITE_NULL)
        sbuf_puts(b, "null");
    else
        sbuf_printf(b, "%lld", (long long)sqlite3_column_int64(st, c));
}

static void str_or_null(struct sbuf *b, sqlite3_stmt *st, int c) {
    const unsigned char *t = sqlite3_column_text(st, c);
    if (t)
        sbuf_json_str(b, (const char *)t, strlen((const char *)t));
    else
        sbuf_puts(b, "null");
}

/* A JSON member's value from column c: 's' a string, 'i' an integer, 'j' JSON text as it
 * is, 'd' a number; SQL NULL is null. */
struct json_col {
    const char *key;
    char type;
};

static void json_col_value(struct sbuf *b, sqlite3_stmt *st, int c, char type) {
    if (type == 's')
        str_or_null(b, st, c);
    else if (type == 'i')
        int_or_null(b, st, c);
    else if (type == 'j')
        raw_or_null(b, st, c);
    else if (sqlite3_column_type(st, c) == SQLITE_NULL)
        sbuf_puts(b, "null");
    else
        json_num(b, sqlite3_column_double(st, c));
}

/* The members "key":value of n columns of the current row from column first on, a comma
 * before each (before the first too when comma_first). */
static void json_cols(struct sbuf *b, sqlite3_stmt *st, int first, const struct json_col *cols,
                      size_t n, bool comma_first) {
    for (size_t i = 0; i < n; i++) {
        sbuf_printf(b, "%s\"%s\":", i || comma_first ? "," : "", cols[i].key);
        json_col_value(b, st, first + (int)i, cols[i].type);
    }
}

static int state_rank(const char *s) {
    return strcmp(s, "firing") == 0 ? 3 : strcmp(s, "pending") == 0 ? 2 : 0;
}

int alerts_json(sqlite3 *db, const char *query, struct sbuf *out, char *err, size_t cap) {
    char hist[32] = "", want_state[32] = "", want_rule[256] = "";
    long history = 100;
    if (query && http_query_param(query, "history", hist, sizeof(hist)) == 0) {
        char *end;
        history = strtol(hist, &end, 10);
        if (*end != '\0' || history < 0) {
            snprintf(err, cap, "history: a number of state changes (0 or more)");
            return -EINVAL;
        }
    }
    if (query) http_query_param(query, "state", want_state, sizeof(want_state));
    if (query) http_query_param(query, "rule", want_rule, sizeof(want_rule));
    if (!has_tables(db)) {
        sbuf_puts(out, "{\"rules_file\":null,\"rules\":[],\"history\":[],\"notifiers\":[]}\n");
        return 0;
    }
    sqlite3_stmt *st, *as;
    sbuf_puts(out, "{\"rules_file\":");
    if (sqlite3_prepare_v2(db, "SELECT value FROM alert_meta WHERE key = 'rules_file'", -1, &st,
                           NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW)
            str_or_null(out, st, 0);
        else
            sbuf_puts(out, "null");
        sqlite3_finalize(st);
    } else {
        sbuf_puts(out, "null");
    }
    sbuf_puts(out, ",\"rules\":[");
    if (sqlite3_prepare_v2(db,
                           "SELECT name, spec, health, error, last_eval_ns FROM alert_rules"
                           " WHERE ?1 = '' OR name = ?1 ORDER BY seq",
                           -1, &st, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db,
                           "SELECT fingerprint, labels, annotations, state, value, active_at_ns,"
                           " fired_at_ns, resolved_at_ns, last_true_ns, records FROM alert_state"
                           " WHERE rule = ?1 AND (?2 = '' OR state = ?2) ORDER BY fired_at_ns DESC,"
                           " active_at_ns DESC",
                           -1, &as, NULL) != SQLITE_OK) {
        snprintf(err, cap, "cannot read the alert tables: %s", sqlite3_errmsg(db));
        return -EIO;
    }
    sqlite3_bind_text(st, 1, want_rule, -1, SQLITE_STATIC);
    int n = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (n++) sbuf_puts(out, ",");
        static const struct json_col name_col[] = {{"name", 's'}},
                                     rule_cols[] = {
                                         {"health", 's'}, {"error", 's'}, {"last_eval_ns", 'i'}};
        sbuf_puts(out, "{");
        json_cols(out, st, 0, name_col, 1, false);
        /* the spec's members, inline */
        const char *spec = (const char *)sqlite3_column_text(st, 1);
        size_t sl = spec ? strlen(spec) : 0;
        if (sl > 2) {
            sbuf_puts(out, ",");
            sbuf_add(out, spec + 1, sl - 2);
        }
        json_cols(out, st, 2, rule_cols, 3, true);
        sqlite3_reset(as);
        sqlite3_bind_text(as, 1, (const char *)sqlite3_column_text(st, 0), -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(as, 2, want_state, -1, SQLITE_STATIC);
        struct sbuf al = {0};
        int worst = 0, k = 0;
        while (sqlite3_step(as) == SQLITE_ROW) {
            const char *state = (const char *)sqlite3_column_text(as, 3);
            if (state_rank(state) > worst) worst = state_rank(state);
            if (k++) sbuf_puts(&al, ",");
            static const struct json_col alert_cols[] = {
                {"fingerprint", 's'}, {"labels", 'j'},         {"annotations", 'j'},
                {"state", 's'},       {"value", 'd'},          {"active_at_ns", 'i'},
                {"fired_at_ns", 'i'}, {"resolved_at_ns", 'i'}, {"last_true_ns", 'i'}};
            sbuf_puts(&al, "{");
            json_cols(&al, as, 0, alert_cols, 9, false);
            sbuf_puts(&al, ",\"records\":");
            const unsigned char *recs = sqlite3_column_text(as, 9);
            sbuf_puts(&al, recs ? (const char *)recs : "[]");
            sbuf_puts(&al, "}");
        }
        sbuf_printf(out, ",\"state\":\"%s\",\"alerts\":[",
                    worst == 3   ? "firing"
                    : worst == 2 ? "pending"
                                 : "inactive");
        sbuf_add(out, al.data, al.len);
        sbuf_puts(out, "]}");
        sbuf_free(&al);
    }
    sqlite3_finalize(as);
    sqlite3_finalize(st);
    sbuf_puts(out, "],\"history\":[");
    if (sqlite3_prepare_v2(db,
                           "SELECT time_ns, rule, fingerprint, labels, from_state, to_state, value"
                           " FROM alert_history WHERE ?2 = '' OR rule = ?2 ORDER BY id DESC"
                           " LIMIT ?1",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, history);
        sqlite3_bind_text(st, 2, want_rule, -1, SQLITE_STATIC);
        n = 0;
        while (sqlite3_step(st) == SQLITE_ROW) {
            if (n++) sbuf_puts(out, ",");
            static const struct json_col hist_cols[] = {
                {"time_ns", 'i'}, {"rule", 's'}, {"fingerprint", 's'}, {"labels", 'j'},
                {"from", 's'},    {"to", 's'},   {"value", 'd'}};
            sbuf_puts(out, "{");
            json_cols(out, st, 0, hist_cols, 7, false);
            sbuf_puts(out, "}");
        }
        sqlite3_finalize(st);
    }
    sbuf_puts(out, "],\"notifiers\":[");
    if (sqlite3_prepare_v2(db,
                           "SELECT name, kind, target, sent, failed, queued, dropped, last_error"
                           " FROM alert_notifiers ORDER BY name",
                           -1, &st, NULL) == SQLITE_OK) {
        n = 0;
        while (sqlite3_step(st) == SQLITE_ROW) {
            if (n++) sbuf_puts(out, ",");
            static const struct json_col notifier_cols[] = {
                {"name", 's'},   {"kind", 's'},   {"target", 's'},  {"sent", 'i'},
                {"failed", 'i'}, {"queued", 'i'}, {"dropped", 'i'}, {"last_error", 's'}};
            sbuf_puts(out, "{");
            json_cols(out, st, 0, notifier_cols, 8, false);
            sbuf_puts(out, "}");
        }
        sqlite3_finalize(st);
    }
    sbuf_puts(out, "]}\n");
    if (out->failed) {
        snprintf(err, cap, "out of memory");
        return -ENOMEM;
    }
    return 0;
}

static void fmt_age(char *buf, size_t cap, int64_t ns, int64_t now) {
    if (ns <= 0) {
        snprintf(buf, cap, "-");
        return;
    }
    int64_t s = (now - ns) / 1000000000;
    if (s < 120)
        snprintf(buf, cap, "%llds ago", (long long)s);
    else if (s < 7200)
        snprintf(buf, cap, "%lldm ago", (long long)(s / 60));
    else
        snprintf(buf, cap, "%lldh ago", (long long)(s / 3600));
}

int alerts_text(sqlite3 *db, int history, struct sbuf *out, char *err, size_t cap) {
    if (!has_tables(db)) {
        sbuf_puts(out, "no alert rules (start `otel-preload dash --rules FILE`)\n");
        return 0;
    }
    int64_t now = now_ns();
    sqlite3_stmt *st, *as;
    if (sqlite3_prepare_v2(
            db,
            "SELECT name, json_extract(spec, '$.signal'), json_extract(spec, '$.kind'),"
            " json_extract(spec, '$.where'), health, error FROM alert_rules ORDER BY seq",
            -1, &st, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(
            db,
            "SELECT state, labels, value, coalesce(resolved_at_ns, fired_at_ns,"
            " active_at_ns), json_extract(annotations, '$.summary'),"
            " json_extract(records, '$[0].trace_id') FROM alert_state WHERE rule = ?1"
            " ORDER BY state",
            -1, &as, NULL) != SQLITE_OK) {
        snprintf(err, cap, "cannot read the alert tables: %s", sqlite3_errmsg(db));
        return -EIO;
    }
    int n = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        n++;
        const char *name = (const char *)sqlite3_column_text(st, 0);
        const char *health = (const char *)sqlite3_column_text(st, 4);
        sqlite3_reset(as);
        sqlite3_bind_text(as, 1, name, -1, SQLITE_TRANSIENT);
        struct sbuf rows = {0};
        int worst = 0;
        while (sqlite3_step(as) == SQLITE_ROW) {
            const char *state = (const char *)sqlite3_column_text(as, 0);
            if (state_rank(state) > worst) worst = state_rank(state);
            char age[32];
            fmt_age(age, sizeof(age), sqlite3_column_int64(as, 3), now);
            const unsigned char *sum = sqlite3_column_text(as, 4), *tr = sqlite3_column_text(as, 5);
            sbuf_printf(&rows, "    %-9s %s value=%g since %s%s%s%s%s\n", state,
                        (const char *)sqlite3_column_text(as, 1), sqlite3_column_double(as, 2), age,
                        sum ? ": " : "", sum ? (const char *)sum : "", tr ? " trace " : "",
                        tr ? (const char *)tr : "");
        }
        const char *state = worst == 3 ? "FIRING" : worst == 2 ? "PENDING" : "inactive";
        if (health && strcmp(health, "ok") != 0) state = "ERROR";
        sbuf_printf(
            out, "%-8s %s (%s, %s): %s\n", state, name, (const char *)sqlite3_column_text(st, 1),
            (const char *)sqlite3_column_text(st, 2), (const char *)sqlite3_column_text(st, 3));
        if (health && strcmp(health, "ok") != 0)
            sbuf_printf(out, "    error: %s\n", (const char *)sqlite3_column_text(st, 5));
        sbuf_add(out, rows.data, rows.len);
        sbuf_free(&rows);
    }
    sqlite3_finalize(as);
    sqlite3_finalize(st);
    if (n == 0) sbuf_puts(out, "no alert rules\n");
    if (history > 0 &&
        sqlite3_prepare_v2(db,
                           "SELECT time_ns, rule, labels, from_state, to_state, value FROM"
                           " alert_history ORDER BY id DESC LIMIT ?1",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_int(st, 1, history);
        bool first = true;
        while (sqlite3_step(st) == SQLITE_ROW) {
            if (first) sbuf_puts(out, "\nhistory (newest first):\n");
            first = false;
            char t[40];
            sbuf_printf(out, "  %s %s %s: %s -> %s value=%g\n",
                        notify_time(sqlite3_column_int64(st, 0), t, sizeof(t)),
                        (const char *)sqlite3_column_text(st, 1),
                        (const char *)sqlite3_column_text(st, 2),
                        (const char *)sqlite3_column_text(st, 3),
                        (const char *)sqlite3_column_text(st, 4), sqlite3_column_double(st, 5));
        }
        sqlite3_finalize(st);
    }
    return out->failed ? -ENOMEM : 0;
}
