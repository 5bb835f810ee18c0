/* context: span contexts, the W3C traceparent/tracestate formats, and each
 * thread's current span. The current span is a thread-local pointer (a span
 * is owned by the code that started it; ending a span that is current pops
 * it). Depends on libc. */
#ifndef OTELP_CORE_CONTEXT_H
#define OTELP_CORE_CONTEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TRACE_FLAG_SAMPLED 0x01

struct span_context {
    uint8_t trace_id[16];
    uint8_t span_id[8];
    uint8_t flags;
    bool remote;
};

#define TRACEPARENT_LEN 55

/* Parses a W3C traceparent. Returns 0, or -EINVAL for anything the spec says
 * to ignore (bad version, all-zero ids, upper-case hex, wrong length). */
int traceparent_parse(const char *s, struct span_context *out) __attribute__((warn_unused_result));
/* Writes "00-<trace>-<span>-<flags>" and a NUL into out. */
void traceparent_format(const struct span_context *c, char out[TRACEPARENT_LEN + 1]);
/* True when s is a tracestate the spec lets us carry on (at most 32
 * list-members of key=value, 512 bytes). */
bool tracestate_valid(const char *s);

bool span_context_valid(const struct span_context *c);

void hex_encode(const uint8_t *in, size_t len, char *out);

#endif
