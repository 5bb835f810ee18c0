/* carriers: OpenTelemetry's environment-variable carriers for child
 * processes. Builds a copy of an environment array with TRACEPARENT,
 * TRACESTATE and BAGGAGE replaced, into storage the caller provides (the
 * exec hooks use their stack: a vfork child shares our memory and must not
 * allocate). The original array is never written. Depends on context.h. */
#ifndef OTELP_CORE_CARRIERS_H
#define OTELP_CORE_CARRIERS_H

#include <stddef.h>

#include "core/context.h"

/* Environments larger than this are passed on unchanged (no carriers). */
#define CARRIERS_MAX_ENV 8192

/* "TRACEPARENT=<55>" and "TRACESTATE=<up to 512>", NUL-terminated. */
struct carrier_strings {
    char traceparent[12 + TRACEPARENT_LEN + 1];
    char tracestate[11 + 512 + 1];
};

/* Number of entries in envp (NULL counts as empty). */
size_t carriers_env_count(char *const *envp);

/* Fills strings for ctx and trace_state (may be NULL or empty: no
 * TRACESTATE). Returns the three entries to add in out[3] (NULL: none):
 * TRACEPARENT, TRACESTATE, and baggage (a ready "BAGGAGE=..." string or NULL). */
void carriers_format(const struct span_context *ctx, const char *trace_state, size_t ts_len,
                     const char *baggage, struct carrier_strings *strs, char *out[3]);

/* Writes into out (room for cap pointers) envp without its TRACEPARENT,
 * TRACESTATE and BAGGAGE entries, then the non-NULL entries of add[3], then
 * NULL. Returns the number of entries (without the NULL) or -1 when cap is
 * too small. cap = carriers_env_count(envp) + 4 always suffices. */
int carriers_apply(char *const *envp, char *const add[3], char **out, size_t cap);

#endif
