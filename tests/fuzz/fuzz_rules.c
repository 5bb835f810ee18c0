/* fuzz_rules: libFuzzer target for the alert rules file (server/rules.c: YAML through libyaml,
 * each rule's `where` through the filter grammar), which `otel-preload dash --rules` and
 * `otel-preload alerts check` read. The input is the file. Beyond "no crash, no leak, no
 * undefined behaviour": a file that parses has every rule named, with its filter compiled and
 * its counts within the bounds of rules.h, and every notifier named; one that does not says
 * why, at a line and column that are not negative.
 * Built with clang -fsanitize=fuzzer by scripts/fuzz; run_corpus.c replays the checked-in
 * corpus in every build without libFuzzer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/rules.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
    struct rules *r = NULL;
    struct rules_error err;
    memset(&err, 0, sizeof err);
    if (rules_parse((const char *)data, size, "fuzz.yaml", &r, &err) != 0) {
        if (r != NULL || err.message[0] == '\0' || err.line < 0 || err.column < 0) abort();
        if (!memchr(err.message, '\0', sizeof err.message)) abort();
        return 0;
    }
    if (r == NULL || r->n_rules > RULES_MAX || r->n_notifiers > RULES_MAX_NOTIFIERS ||
        r->external_url == NULL)
        abort();
    for (size_t i = 0; i < r->n_rules; i++) {
        const struct rule *u = &r->rules[i];
        if (u->name == NULL || u->group == NULL || u->where == NULL || u->query == NULL ||
            u->field == NULL || u->n_group_by > RULES_MAX_GROUP_BY ||
            u->n_labels > RULES_MAX_LABELS || u->n_annotations > RULES_MAX_LABELS)
            abort();
        for (size_t j = 0; j < u->n_group_by; j++)
            if (u->group_by[j] == NULL) abort();
        for (size_t j = 0; j < u->n_labels; j++)
            if (u->labels[j].key == NULL || u->labels[j].value == NULL) abort();
        for (size_t j = 0; j < u->n_annotations; j++)
            if (u->annotations[j].key == NULL || u->annotations[j].value == NULL) abort();
    }
    for (size_t i = 0; i < r->n_notifiers; i++)
        if (r->notifiers[i].name == NULL) abort();
    rules_free(r);
    return 0;
}
