/* log: log records. See log.h. */
#include "core/log.h"

#include <stdlib.h>
#include <string.h>

struct log_record *log_record_new(uint64_t time_ns, uint64_t observed_ns, int severity_number,
                                  const char *severity_text, const char *body, size_t body_len,
                                  const struct span_context *ctx, const struct attr_limits *limits,
                                  size_t arena_size) {
    struct log_record *r = malloc(sizeof *r + arena_size);
    if (!r) return NULL;
    memset(r, 0, sizeof *r);
    arena_init(&r->arena, r + 1, arena_size);
    r->limits = limits;
    r->time_ns = time_ns;
    r->observed_ns = observed_ns;
    r->severity_number = (uint8_t)severity_number;
    if (severity_text &&
        arena_strdup(&r->arena, str_cstr(severity_text), UINT32_MAX, &r->severity_text) < 0)
        r->severity_text = str_of("", 0);
    r->body.type = ATTR_STRING;
    if (arena_strdup(&r->arena, str_of(body ? body : "", body ? body_len : 0), limits->value_length,
                     &r->body.u.s) < 0)
        r->body.u.s = str_of("", 0);
    if (ctx) {
        r->has_context = true;
        memcpy(r->trace_id, ctx->trace_id, 16);
        memcpy(r->span_id, ctx->span_id, 8);
        r->flags = ctx->flags;
    }
    return r;
}

void log_record_free(struct log_record *r) {
    if (!r) return;
    arena_release(&r->arena);
    free(r);
}

int log_record_set_attr(struct log_record *r, struct str key, const struct attr_value *value) {
    return attrs_put(&r->attrs, &r->arena, r->limits, key, value);
}

int log_record_set_str(struct log_record *r, const char *key, const char *value, size_t len) {
    struct attr_value v = {.type = ATTR_STRING, .u.s = str_of(value, len)};
    return log_record_set_attr(r, str_cstr(key), &v);
}

int log_record_set_int(struct log_record *r, const char *key, int64_t value) {
    struct attr_value v = {.type = ATTR_INT, .u.i = value};
    return log_record_set_attr(r, str_cstr(key), &v);
}
