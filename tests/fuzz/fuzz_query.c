/* fuzz_query: libFuzzer target for the filter grammar (server/query.c).
 * The first byte picks the signal, the rest is the filter text. Checks,
 * beyond "no crash, no leak, no undefined behaviour": a filter that parses
 * prints a canonical text that parses back to the same text; it compiles to
 * SQL with one named parameter per value; it matches a record without
 * failing. The duration and time parsers get the same text, and so do
 * the retrievers' (server/retrieve.c: the CLI's --since/--from/--to and
 * the API's since, from, to and step parameters).
 * Built with clang -fsanitize=fuzzer by scripts/fuzz; run_corpus.c replays
 * the checked-in corpus in every build without libFuzzer. */
#include "server/query.h"
#include "server/retrieve.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static bool get(void *record, const struct query_field *f, struct query_value *out) {
    (void)record;
    switch (f->id) {
    case QUERY_F_ATTR:
        if (f->key_len % 3 == 0) return false;
        if (f->key_len % 3 == 1) {
            out->type = QUERY_STR, out->s = f->key, out->len = f->key_len;
        } else {
            out->type = f->scope == QUERY_SCOPE_RESOURCE ? QUERY_DOUBLE : QUERY_INT;
            out->i = (int64_t)f->key_len, out->d = 0.5 * (double)f->key_len;
        }
        return true;
    case QUERY_F_DURATION:
    case QUERY_F_STATUS:
    case QUERY_F_KIND:
    case QUERY_F_SEVERITY:
    case QUERY_F_TYPE:
        out->type = QUERY_INT, out->i = 2;
        return true;
    case QUERY_F_VALUE:
        out->type = QUERY_DOUBLE, out->d = 2.5;
        return true;
    case QUERY_F_PARENT_SPAN_ID:
        return false;
    default:
        out->type = QUERY_STR, out->s = "cc1", out->len = 3;
        return true;
    }
}

static size_t count_placeholders(const char *sql) {
    size_t n = 0;
    bool in_string = false;
    for (const char *p = sql; *p; p++) {
        if (*p == '\'') in_string = !in_string;
        if (*p == ':' && p[1] == 'q' && !in_string) n++;
    }
    return n;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
    if (size < 1 || size > QUERY_TEXT_MAX + 2) return 0;
    enum query_signal sig = (enum query_signal)(data[0] % 3);
    char *text = malloc(size);
    if (!text) return 0;
    memcpy(text, data + 1, size - 1);
    text[size - 1] = 0;

    int64_t ns;
    (void)!query_parse_duration(text, &ns);
    (void)!query_parse_time(text, 1765000000000000000LL, &ns);
    (void)!retrieve_parse_duration(text, &ns);
    (void)!retrieve_parse_time(text, 1765000000000000000LL, &ns);

    struct query *q;
    struct query_error err;
    if (query_parse(text, sig, &q, &err) != 0) {
        if (err.column < 0 || !err.message[0]) abort();
        free(text);
        return 0;
    }
    size_t need = query_format(q, NULL, 0);
    char *canon = malloc(need + 1);
    if (!canon) abort();
    if (query_format(q, canon, need + 1) != need) abort();
    struct query *again;
    if (query_parse(canon, sig, &again, &err) != 0) {
        fprintf(stderr, "canonical text does not parse: %s\n%s\n", canon, err.message);
        abort();
    }
    char *canon2 = malloc(need + 1);
    if (!canon2) abort();
    if (query_format(again, canon2, need + 1) != need || strcmp(canon, canon2)) {
        fprintf(stderr, "canonical text changes:\n%s\n%s\n", canon, canon2);
        abort();
    }
    if (query_match(q, get, NULL) != query_match(again, get, NULL)) abort();
    struct query_sql sql;
    if (query_compile_sql(q, "s", &sql, &err) == 0) {
        if (count_placeholders(sql.text) != sql.nparams) {
            fprintf(stderr, "placeholders: %s\n", sql.text);
            abort();
        }
        query_sql_free(&sql);
    }
    query_free(again);
    query_free(q);
    free(canon);
    free(canon2);
    free(text);
    return 0;
}
