/* rules: the alert rules file (docs/ALERTS.md): YAML rule groups, parsed and checked.
 * Depends on libyaml and server/query.h (each rule's `where` is a filter of the one grammar).
 *
 * A file holds `groups` of rules (Prometheus's shape) and the `notify`
 * list (where notifications go). Every error names the file, line and
 * column (1-based) of the offending value; a filter that does not parse
 * gives the column inside the filter, counted from the start of the line
 * when the value is on one line.
 */
#ifndef OTELP_SERVER_RULES_H
#define OTELP_SERVER_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server/query.h"

#define RULES_MAX 1000         /* rules in one file */
#define RULES_MAX_LABELS 64    /* labels or annotations of one rule */
#define RULES_MAX_GROUP_BY 8   /* group_by fields */
#define RULES_MAX_NOTIFIERS 16 /* entries of `notify` */
#define RULES_DEFAULT_INTERVAL_NS ((int64_t)15 * 1000000000)
#define RULES_DEFAULT_REPEAT_NS ((int64_t)4 * 3600 * 1000000000)
#define RULES_DEFAULT_EXEC_TIMEOUT_NS ((int64_t)10 * 1000000000)

/* RULE_RECORD: every record that matches `where` makes the condition true
 * (for `window` after it arrived). The others aggregate the matching
 * records of the last `window` and compare with `threshold`. */
enum rule_agg {
    RULE_RECORD,
    RULE_COUNT,
    RULE_RATE,
    RULE_SUM,
    RULE_AVG,
    RULE_MIN,
    RULE_MAX,
    RULE_P95
};
enum rule_op { RULE_GT, RULE_GE, RULE_LT, RULE_LE, RULE_EQ, RULE_NE };

struct rule_kv {
    char *key;
    char *value;
};

struct rule {
    char *name;  /* `alert` */
    char *group; /* the group's name */
    int line;    /* where `alert` is, 1-based */
    enum query_signal signal;
    char *where; /* as written ("" matches every record) */
    struct query *query;
    enum rule_agg agg;
    char *field; /* what `value` is: "duration", "value", "severity" or an attribute key */
    int64_t window_ns;
    enum rule_op op;
    double threshold;
    int64_t for_ns, keep_firing_for_ns;
    int64_t interval_ns; /* the group's evaluation interval */
    char *group_by[RULES_MAX_GROUP_BY];
    size_t n_group_by;
    struct rule_kv *labels;
    size_t n_labels;
    struct rule_kv *annotations;
    size_t n_annotations;
};

enum notifier_kind { NOTIFIER_LOG, NOTIFIER_ALERTMANAGER, NOTIFIER_WEBHOOK, NOTIFIER_EXEC };

struct notifier_conf {
    enum notifier_kind kind;
    char *name;    /* `name`, else kind-N */
    char *url;     /* alertmanager: base URL; webhook: the URL POSTed to */
    char *command; /* exec: run by /bin/sh -c */
    int64_t timeout_ns;
};

struct rules {
    char *path;
    struct rule *rules;
    size_t n_rules;
    struct notifier_conf *notifiers;
    size_t n_notifiers;
    int64_t repeat_interval_ns;
    char *external_url; /* generatorURL prefix in notifications ("" when unset) */
};

struct rules_error {
    int line, column; /* 1-based; 0 when not about a place */
    char message[512];
};

/* Parses the rules file at path. 0 and *out, or -EINVAL (-ENOENT, -ENOMEM)
 * and *err. */
int rules_load(const char *path, struct rules **out, struct rules_error *err)
    __attribute__((warn_unused_result));
/* The same from text in memory; path is only for messages. */
int rules_parse(const char *text, size_t len, const char *path, struct rules **out,
                struct rules_error *err) __attribute__((warn_unused_result));
void rules_free(struct rules *r);

const char *rules_agg_name(enum rule_agg agg);
const char *rules_op_name(enum rule_op op);
const char *rules_signal_name(enum query_signal s);
bool rules_compare(enum rule_op op, double value, double threshold);

#endif
