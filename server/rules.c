/* rules: the alert rules file's parser and checks (docs/ALERTS.md). Depends on libyaml, query.
 *
 * The file is loaded as one YAML document (libyaml's document API keeps
 * every node's start mark, so each error names the line and column of the
 * value at fault). Unknown keys are errors, so a typo (`treshold`) never
 * silently drops a condition. */
#include "server/rules.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

struct ctx {
    yaml_document_t doc;
    struct rules_error *err;
};

static int fail(struct ctx *c, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(struct ctx *c, const yaml_node_t *n, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err->message, sizeof(c->err->message), fmt, ap);
    va_end(ap);
    c->err->line = n ? (int)n->start_mark.line + 1 : 0;
    c->err->column = n ? (int)n->start_mark.column + 1 : 0;
    return -EINVAL;
}

static yaml_node_t *node(struct ctx *c, int i) {
    return yaml_document_get_node(&c->doc, i);
}

static const char *scalar(const yaml_node_t *n) {
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static int want_scalar(struct ctx *c, const yaml_node_t *n, const char *key, const char **out) {
    *out = scalar(n);
    if (*out == NULL) return fail(c, n, "'%s' takes a single value, not a list or a map", key);
    return 0;
}

/* A key given twice in a map is an error (YAML's rule; libyaml keeps both):
 * its second value replaced the first, leaking what the first had made. */
static int once(struct ctx *c, const yaml_node_t *map, const yaml_node_pair_t *p, const char *k) {
    for (const yaml_node_pair_t *q = map->data.mapping.pairs.start; q < p; q++) {
        const char *qk = scalar(node(c, q->key));
        if (qk && strcmp(qk, k) == 0) return fail(c, node(c, p->key), "'%s' given twice", k);
    }
    return 0;
}

static int dup_str(struct ctx *c, const yaml_node_t *n, const char *s, char **out) {
    *out = strdup(s);
    return *out ? 0 : fail(c, n, "out of memory");
}

static int duration(struct ctx *c, const yaml_node_t *n, const char *key, int64_t *out) {
    const char *s;
    int rc = want_scalar(c, n, key, &s);
    if (rc != 0) return rc;
    if (strcmp(s, "0") == 0) {
        *out = 0;
        return 0;
    }
    if (query_parse_duration(s, out) != 0)
        return fail(c, n, "'%s' takes a duration (30s, 1m, 1h30m), not '%s'", key, s);
    return 0;
}

static int kv_map(struct ctx *c, const yaml_node_t *n, const char *key, struct rule_kv **out,
                  size_t *count) {
    if (n->type != YAML_MAPPING_NODE) return fail(c, n, "'%s' takes a map (key: value lines)", key);
    size_t cnt = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
    if (cnt > RULES_MAX_LABELS)
        return fail(c, n, "'%s': more than %d entries", key, RULES_MAX_LABELS);
    *out = calloc(cnt ? cnt : 1, sizeof(**out));
    if (*out == NULL) return fail(c, n, "out of memory");
    *count = 0;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = node(c, p->key), *v = node(c, p->value);
        const char *ks = scalar(k), *vs = scalar(v);
        if (ks == NULL || ks[0] == '\0') return fail(c, k, "'%s': keys are names", key);
        if (vs == NULL) return fail(c, v, "'%s.%s' takes a text value", key, ks);
        for (size_t i = 0; i < *count; i++)
            if (strcmp((*out)[i].key, ks) == 0) return fail(c, k, "'%s.%s' given twice", key, ks);
        struct rule_kv *e = &(*out)[(*count)++];
        if (dup_str(c, k, ks, &e->key) != 0 || dup_str(c, v, vs, &e->value) != 0) return -ENOMEM;
    }
    return 0;
}

static int parse_where(struct ctx *c, const yaml_node_t *n, struct rule *r) {
    const char *s;
    int rc = want_scalar(c, n, "where", &s);
    if (rc != 0) return rc;
    if ((rc = dup_str(c, n, s, &r->where)) != 0) return rc;
    struct query_error qe;
    if (query_parse(s, r->signal, &r->query, &qe) == 0) return 0;
    /* The column inside the filter, as a column of the file when the value
     * sits on one line (plain, or quoted: one more for the quote). */
    fail(c, n, "where: %s", qe.message);
    char *hint = strchr(c->err->message, '\x1f');
    if (hint) *hint = ' ';
    bool one_line = strchr(s, '\n') == NULL && n->start_mark.line == n->end_mark.line;
    yaml_scalar_style_t st = n->data.scalar.style;
    if (qe.column > 0 && one_line &&
        (st == YAML_PLAIN_SCALAR_STYLE || st == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
         st == YAML_DOUBLE_QUOTED_SCALAR_STYLE))
        c->err->column =
            (int)n->start_mark.column + qe.column + (st == YAML_PLAIN_SCALAR_STYLE ? 0 : 1);
    return -EINVAL;
}

static int parse_threshold(struct ctx *c, const yaml_node_t *n, double *out) {
    const char *s;
    int rc = want_scalar(c, n, "threshold", &s);
    if (rc != 0) return rc;
    char *end;
    double v = strtod(s, &end);
    if (end != s && *end == '\0' && isfinite(v)) {
        *out = v;
        return 0;
    }
    int64_t ns;
    if (query_parse_duration(s, &ns) == 0) { /* durations are seconds, as OpenTelemetry's */
        *out = (double)ns / 1e9;
        return 0;
    }
    return fail(c, n, "'threshold' takes a number or a duration (30s), not '%s'", s);
}

static const char *const AGG_NAMES[] = {"record", "count", "rate", "sum",
                                        "avg",    "min",   "max",  "p95"};
static const char *const OP_NAMES[] = {">", ">=", "<", "<=", "==", "!="};

const char *rules_agg_name(enum rule_agg agg) {
    return (unsigned)agg < sizeof(AGG_NAMES) / sizeof(AGG_NAMES[0]) ? AGG_NAMES[agg] : "?";
}
const char *rules_op_name(enum rule_op op) {
    return (unsigned)op < sizeof(OP_NAMES) / sizeof(OP_NAMES[0]) ? OP_NAMES[op] : "?";
}
const char *rules_signal_name(enum query_signal s) {
    return s == QUERY_SPANS ? "spans" : s == QUERY_LOGS ? "logs" : "metrics";
}

bool rules_compare(enum rule_op op, double v, double t) {
    switch (op) {
    case RULE_GT:
        return v > t;
    case RULE_GE:
        return v >= t;
    case RULE_LT:
        return v < t;
    case RULE_LE:
        return v <= t;
    case RULE_EQ:
        return v == t;
    case RULE_NE:
        return v != t;
    }
    return false;
}

static bool valid_name(const char *s) {
    if (s[0] == '\0') return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '.' || *p == '-' || *p == ':'))
            return false;
    return true;
}

static int parse_rule(struct ctx *c, const yaml_node_t *n, const char *group, int64_t interval,
                      struct rule *r) {
    if (n->type != YAML_MAPPING_NODE) return fail(c, n, "a rule is a map (alert:, signal:, ...)");
    r->group = strdup(group);
    if (r->group == NULL) return fail(c, n, "out of memory");
    r->interval_ns = interval;
    r->window_ns = -1;
    r->op = RULE_GT;
    r->line = (int)n->start_mark.line + 1;
    /* signal first: `where` is parsed for it. */
    const yaml_node_t *where = NULL, *op = NULL, *thr = NULL, *agg = NULL, *sig = NULL;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        const char *k = scalar(node(c, p->key));
        if (k && strcmp(k, "signal") == 0) sig = node(c, p->value);
    }
    if (sig == NULL) return fail(c, n, "a rule needs 'signal: spans|logs|metrics'");
    const char *ss;
    int rc = want_scalar(c, sig, "signal", &ss);
    if (rc != 0) return rc;
    if (strcmp(ss, "spans") == 0)
        r->signal = QUERY_SPANS;
    else if (strcmp(ss, "logs") == 0)
        r->signal = QUERY_LOGS;
    else if (strcmp(ss, "metrics") == 0)
        r->signal = QUERY_METRICS;
    else
        return fail(c, sig, "'signal' is spans, logs or metrics, not '%s'", ss);
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *kn = node(c, p->key), *v = node(c, p->value);
        const char *k = scalar(kn), *s;
        if (k == NULL) return fail(c, kn, "keys of a rule are names");
        if ((rc = once(c, n, p, k)) != 0) return rc;
        if (strcmp(k, "alert") == 0) {
            if ((rc = want_scalar(c, v, k, &s)) != 0) return rc;
            if (!valid_name(s))
                return fail(c, v, "'alert' is a name of letters, digits, _ . - :, not '%s'", s);
            if ((rc = dup_str(c, v, s, &r->name)) != 0) return rc;
        } else if (strcmp(k, "signal") == 0) {
        } else if (strcmp(k, "where") == 0 || strcmp(k, "expr") == 0) {
            where = v;
        } else if (strcmp(k, "aggregate") == 0) {
            agg = v;
        } else if (strcmp(k, "field") == 0) {
            if ((rc = want_scalar(c, v, k, &s)) != 0) return rc;
            if (!valid_name(s)) return fail(c, v, "'field' is a field or attribute name");
            if ((rc = dup_str(c, v, s, &r->field)) != 0) return rc;
        } else if (strcmp(k, "window") == 0) {
            if ((rc = duration(c, v, k, &r->window_ns)) != 0) return rc;
        } else if (strcmp(k, "op") == 0) {
            op = v;
        } else if (strcmp(k, "threshold") == 0) {
            thr = v;
            if ((rc = parse_threshold(c, v, &r->threshold)) != 0) return rc;
        } else if (strcmp(k, "for") == 0) {
            if ((rc = duration(c, v, k, &r->for_ns)) != 0) return rc;
        } else if (strcmp(k, "keep_firing_for") == 0) {
            if ((rc = duration(c, v, k, &r->keep_firing_for_ns)) != 0) return rc;
        } else if (strcmp(k, "labels") == 0) {
            if ((rc = kv_map(c, v, k, &r->labels, &r->n_labels)) != 0) return rc;
        } else if (strcmp(k, "annotations") == 0) {
            if ((rc = kv_map(c, v, k, &r->annotations, &r->n_annotations)) != 0) return rc;
        } else if (strcmp(k, "group_by") == 0) {
            if (v->type != YAML_SEQUENCE_NODE)
                return fail(c, v, "'group_by' takes a list of fields");
            for (yaml_node_item_t *it = v->data.sequence.items.start;
                 it < v->data.sequence.items.top; it++) {
                yaml_node_t *e = node(c, *it);
                if ((rc = want_scalar(c, e, k, &s)) != 0) return rc;
                if (!valid_name(s)) return fail(c, e, "'group_by' takes field or attribute names");
                if (r->n_group_by == RULES_MAX_GROUP_BY)
                    return fail(c, e, "'group_by': at most %d fields", RULES_MAX_GROUP_BY);
                if ((rc = dup_str(c, e, s, &r->group_by[r->n_group_by])) != 0) return rc;
                r->n_group_by++;
            }
        } else {
            return fail(c, kn,
                        "unknown key '%s' in a rule (alert, signal, where, aggregate, field, "
                        "window, op, threshold, for, keep_firing_for, group_by, labels, "
                        "annotations)",
                        k);
        }
    }
    if (r->name == NULL) return fail(c, n, "a rule needs 'alert: NAME'");
    if (where != NULL) {
        if ((rc = parse_where(c, where, r)) != 0) return rc;
    } else {
        if ((rc = dup_str(c, n, "", &r->where)) != 0) return rc;
        struct query_error qe;
        if (query_parse("", r->signal, &r->query, &qe) != 0) return fail(c, n, "out of memory");
    }
    r->agg = RULE_RECORD;
    if (agg != NULL) {
        if ((rc = want_scalar(c, agg, "aggregate", &ss)) != 0) return rc;
        size_t i;
        for (i = 1; i < sizeof(AGG_NAMES) / sizeof(AGG_NAMES[0]); i++)
            if (strcmp(ss, AGG_NAMES[i]) == 0) break;
        if (i == sizeof(AGG_NAMES) / sizeof(AGG_NAMES[0]))
            return fail(c, agg, "'aggregate' is count, rate, sum, avg, min, max or p95, not '%s'",
                        ss);
        r->agg = (enum rule_agg)i;
    }
    if (op != NULL) {
        if ((rc = want_scalar(c, op, "op", &ss)) != 0) return rc;
        size_t i;
        for (i = 0; i < sizeof(OP_NAMES) / sizeof(OP_NAMES[0]); i++)
            if (strcmp(ss, OP_NAMES[i]) == 0) break;
        if (strcmp(ss, "=") == 0) i = RULE_EQ;
        if (i == sizeof(OP_NAMES) / sizeof(OP_NAMES[0]))
            return fail(c, op, "'op' is one of > >= < <= == !=, not '%s'", ss);
        r->op = (enum rule_op)i;
    }
    if (r->agg == RULE_RECORD) {
        if (thr != NULL || op != NULL)
            return fail(c, thr ? thr : op,
                        "'threshold' and 'op' need 'aggregate' (a per-record rule's condition is "
                        "its 'where')");
        if (r->window_ns < 0) r->window_ns = interval; /* how long a match keeps it true */
    } else {
        if (thr == NULL) return fail(c, agg, "'aggregate' needs a 'threshold'");
        if (r->window_ns < 0) r->window_ns = 60 * (int64_t)1000000000;
        if (r->window_ns == 0) return fail(c, agg, "an aggregate needs a 'window' longer than 0");
    }
    if (r->field == NULL) {
        const char *def = r->signal == QUERY_SPANS  ? "duration"
                          : r->signal == QUERY_LOGS ? "severity"
                                                    : "value";
        if ((rc = dup_str(c, n, def, &r->field)) != 0) return rc;
    } else if (r->agg == RULE_COUNT || r->agg == RULE_RATE) {
        return fail(c, n, "'field' has no use with aggregate: %s", AGG_NAMES[r->agg]);
    }
    return 0;
}

static int parse_notifier(struct ctx *c, const yaml_node_t *n, size_t idx,
                          struct notifier_conf *nc) {
    if (n->type != YAML_MAPPING_NODE)
        return fail(c, n, "a notify entry is a map (kind: alertmanager|webhook|exec|log, ...)");
    const yaml_node_t *kind = NULL;
    nc->timeout_ns = RULES_DEFAULT_EXEC_TIMEOUT_NS;
    int rc;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *kn = node(c, p->key), *v = node(c, p->value);
        const char *k = scalar(kn), *s;
        if (k == NULL) return fail(c, kn, "keys of a notify entry are names");
        if ((rc = once(c, n, p, k)) != 0) return rc;
        if (strcmp(k, "kind") == 0) {
            kind = v;
        } else if (strcmp(k, "name") == 0 || strcmp(k, "url") == 0 || strcmp(k, "command") == 0) {
            if ((rc = want_scalar(c, v, k, &s)) != 0) return rc;
            char **dst = k[0] == 'n' ? &nc->name : k[0] == 'u' ? &nc->url : &nc->command;
            if ((rc = dup_str(c, v, s, dst)) != 0) return rc;
            if (k[0] == 'u' && strncmp(s, "http://", 7) != 0)
                return fail(c, v,
                            "'url' is an http:// URL (no TLS: put a local proxy before an https:// "
                            "receiver), not '%s'",
                            s);
        } else if (strcmp(k, "timeout") == 0) {
            if ((rc = duration(c, v, k, &nc->timeout_ns)) != 0) return rc;
            if (nc->timeout_ns <= 0) return fail(c, v, "'timeout' is longer than 0");
        } else {
            return fail(
                c, kn, "unknown key '%s' in a notify entry (kind, name, url, command, timeout)", k);
        }
    }
    const char *ks;
    if (kind == NULL) return fail(c, n, "a notify entry needs 'kind'");
    if ((rc = want_scalar(c, kind, "kind", &ks)) != 0) return rc;
    if (strcmp(ks, "alertmanager") == 0)
        nc->kind = NOTIFIER_ALERTMANAGER;
    else if (strcmp(ks, "webhook") == 0)
        nc->kind = NOTIFIER_WEBHOOK;
    else if (strcmp(ks, "exec") == 0)
        nc->kind = NOTIFIER_EXEC;
    else if (strcmp(ks, "log") == 0)
        nc->kind = NOTIFIER_LOG;
    else
        return fail(c, kind, "'kind' is alertmanager, webhook, exec or log, not '%s'", ks);
    if ((nc->kind == NOTIFIER_ALERTMANAGER || nc->kind == NOTIFIER_WEBHOOK) && nc->url == NULL)
        return fail(c, n, "a %s needs 'url'", ks);
    if (nc->kind == NOTIFIER_EXEC && nc->command == NULL)
        return fail(c, n, "an exec needs 'command'");
    if (nc->name == NULL) {
        char nm[64];
        snprintf(nm, sizeof(nm), "%s-%zu", ks, idx + 1);
        if ((rc = dup_str(c, n, nm, &nc->name)) != 0) return rc;
    }
    return 0;
}

static size_t seq_len(const yaml_node_t *n) {
    return (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
}

static int parse_root(struct ctx *c, struct rules *out) {
    yaml_node_t *root = yaml_document_get_root_node(&c->doc);
    if (root == NULL) return fail(c, NULL, "the file is empty (it needs 'groups:')");
    if (root->type != YAML_MAPPING_NODE) return fail(c, root, "the file is a map with 'groups:'");
    out->repeat_interval_ns = RULES_DEFAULT_REPEAT_NS;
    const yaml_node_t *groups = NULL;
    int rc;
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
         p++) {
        yaml_node_t *kn = node(c, p->key), *v = node(c, p->value);
        const char *k = scalar(kn), *s;
        if (k == NULL) return fail(c, kn, "top-level keys are names");
        if ((rc = once(c, root, p, k)) != 0) return rc;
        if (strcmp(k, "groups") == 0) {
            if (v->type != YAML_SEQUENCE_NODE) return fail(c, v, "'groups' takes a list");
            groups = v;
        } else if (strcmp(k, "repeat_interval") == 0) {
            if ((rc = duration(c, v, k, &out->repeat_interval_ns)) != 0) return rc;
            if (out->repeat_interval_ns <= 0)
                return fail(c, v, "'repeat_interval' is longer than 0");
        } else if (strcmp(k, "external_url") == 0) {
            if ((rc = want_scalar(c, v, k, &s)) != 0) return rc;
            if ((rc = dup_str(c, v, s, &out->external_url)) != 0) return rc;
        } else if (strcmp(k, "notify") == 0) {
            if (v->type != YAML_SEQUENCE_NODE) return fail(c, v, "'notify' takes a list");
            size_t cnt = seq_len(v);
            if (cnt > RULES_MAX_NOTIFIERS)
                return fail(c, v, "'notify': at most %d entries", RULES_MAX_NOTIFIERS);
            out->notifiers = calloc(cnt ? cnt : 1, sizeof(*out->notifiers));
            if (out->notifiers == NULL) return fail(c, v, "out of memory");
            for (size_t i = 0; i < cnt; i++) {
                out->n_notifiers = i + 1;
                rc = parse_notifier(c, node(c, v->data.sequence.items.start[i]), i,
                                    &out->notifiers[i]);
                if (rc != 0) return rc;
            }
        } else {
            return fail(
                c, kn, "unknown top-level key '%s' (groups, notify, repeat_interval, external_url)",
                k);
        }
    }
    if (out->external_url == NULL && (rc = dup_str(c, root, "", &out->external_url)) != 0)
        return rc;
    if (groups == NULL) return fail(c, root, "the file needs 'groups:'");
    size_t total = 0;
    for (yaml_node_item_t *g = groups->data.sequence.items.start;
         g < groups->data.sequence.items.top; g++) {
        yaml_node_t *gn = node(c, *g);
        if (gn->type != YAML_MAPPING_NODE) return fail(c, gn, "a group is a map (name:, rules:)");
        for (yaml_node_pair_t *p = gn->data.mapping.pairs.start; p < gn->data.mapping.pairs.top;
             p++) {
            const char *k = scalar(node(c, p->key));
            yaml_node_t *v = node(c, p->value);
            if (k && strcmp(k, "rules") == 0) {
                if (v->type != YAML_SEQUENCE_NODE) return fail(c, v, "'rules' takes a list");
                total += seq_len(v);
            }
        }
    }
    if (total > RULES_MAX) return fail(c, groups, "more than %d rules", RULES_MAX);
    out->rules = calloc(total ? total : 1, sizeof(*out->rules));
    if (out->rules == NULL) return fail(c, groups, "out of memory");
    for (yaml_node_item_t *g = groups->data.sequence.items.start;
         g < groups->data.sequence.items.top; g++) {
        yaml_node_t *gn = node(c, *g);
        const char *gname = NULL;
        int64_t interval = RULES_DEFAULT_INTERVAL_NS;
        const yaml_node_t *rl = NULL;
        for (yaml_node_pair_t *p = gn->data.mapping.pairs.start; p < gn->data.mapping.pairs.top;
             p++) {
            yaml_node_t *kn = node(c, p->key), *v = node(c, p->value);
            const char *k = scalar(kn);
            if (k == NULL) return fail(c, kn, "keys of a group are names");
            if ((rc = once(c, gn, p, k)) != 0) return rc;
            if (strcmp(k, "name") == 0) {
                if ((rc = want_scalar(c, v, k, &gname)) != 0) return rc;
            } else if (strcmp(k, "interval") == 0) {
                if ((rc = duration(c, v, k, &interval)) != 0) return rc;
                if (interval < 1000000000) return fail(c, v, "'interval' is at least 1s");
            } else if (strcmp(k, "rules") == 0) {
                rl = v;
            } else {
                return fail(c, kn, "unknown key '%s' in a group (name, interval, rules)", k);
            }
        }
        if (gname == NULL) return fail(c, gn, "a group needs 'name'");
        if (rl == NULL) return fail(c, gn, "a group needs 'rules'");
        for (yaml_node_item_t *it = rl->data.sequence.items.start; it < rl->data.sequence.items.top;
             it++) {
            struct rule *r = &out->rules[out->n_rules++];
            yaml_node_t *rn = node(c, *it);
            if ((rc = parse_rule(c, rn, gname, interval, r)) != 0) return rc;
            for (size_t i = 0; i + 1 < out->n_rules; i++)
                if (strcmp(out->rules[i].name, r->name) == 0)
                    return fail(c, rn, "alert '%s' is defined twice (first at line %d)", r->name,
                                out->rules[i].line);
        }
    }
    return 0;
}

int rules_parse(const char *text, size_t len, const char *path, struct rules **out,
                struct rules_error *err) {
    *out = NULL;
    memset(err, 0, sizeof(*err));
    struct rules *r = calloc(1, sizeof(*r));
    if (r == NULL || (r->path = strdup(path)) == NULL) {
        free(r);
        snprintf(err->message, sizeof(err->message), "out of memory");
        return -ENOMEM;
    }
    struct ctx c = {.err = err};
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) {
        rules_free(r);
        snprintf(err->message, sizeof(err->message), "out of memory");
        return -ENOMEM;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    int rc = 0;
    if (!yaml_parser_load(&parser, &c.doc)) {
        snprintf(err->message, sizeof(err->message), "not YAML: %s%s%s",
                 parser.problem ? parser.problem : "?", parser.context ? " " : "",
                 parser.context ? parser.context : "");
        err->line = (int)parser.problem_mark.line + 1;
        err->column = (int)parser.problem_mark.column + 1;
        yaml_parser_delete(&parser);
        rules_free(r);
        return -EINVAL;
    }
    rc = parse_root(&c, r);
    yaml_document_delete(&c.doc);
    yaml_parser_delete(&parser);
    if (rc != 0) {
        rules_free(r);
        return rc;
    }
    *out = r;
    return 0;
}

int rules_load(const char *path, struct rules **out, struct rules_error *err) {
    *out = NULL;
    memset(err, 0, sizeof(*err));
    FILE *f = fopen(path, "re");
    if (f == NULL) {
        int e = errno;
        snprintf(err->message, sizeof(err->message), "cannot open: %s", strerror(e));
        return -e;
    }
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (cap - len < 4096) {
            if (cap > ((size_t)4 << 20)) {
                free(buf);
                fclose(f);
                snprintf(err->message, sizeof(err->message), "larger than 4 MiB");
                return -EFBIG;
            }
            char *nb = realloc(buf, cap = cap * 2 + 8192);
            if (nb == NULL) {
                free(buf);
                fclose(f);
                snprintf(err->message, sizeof(err->message), "out of memory");
                return -ENOMEM;
            }
            buf = nb;
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0) break;
    }
    fclose(f);
    int rc = rules_parse(buf ? buf : "", len, path, out, err);
    free(buf);
    return rc;
}

static void free_kvs(struct rule_kv *kv, size_t n) {
    for (size_t i = 0; kv && i < n; i++) {
        free(kv[i].key);
        free(kv[i].value);
    }
    free(kv);
}

void rules_free(struct rules *r) {
    if (r == NULL) return;
    for (size_t i = 0; i < r->n_rules; i++) {
        struct rule *x = &r->rules[i];
        free(x->name);
        free(x->group);
        free(x->where);
        query_free(x->query);
        free(x->field);
        for (size_t g = 0; g < x->n_group_by; g++)
            free(x->group_by[g]);
        free_kvs(x->labels, x->n_labels);
        free_kvs(x->annotations, x->n_annotations);
    }
    free(r->rules);
    for (size_t i = 0; i < r->n_notifiers; i++) {
        free(r->notifiers[i].name);
        free(r->notifiers[i].url);
        free(r->notifiers[i].command);
    }
    free(r->notifiers);
    free(r->external_url);
    free(r->path);
    free(r);
}
