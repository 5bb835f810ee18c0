/* carriers: environment-variable carriers for children. See carriers.h. */
#include "core/carriers.h"

#include <string.h>

size_t carriers_env_count(char *const *envp) {
    size_t n = 0;
    while (envp && envp[n])
        n++;
    return n;
}

void carriers_format(const struct span_context *ctx, const char *trace_state, size_t ts_len,
                     const char *baggage, struct carrier_strings *strs, char *out[3]) {
    memcpy(strs->traceparent, "TRACEPARENT=", 12);
    traceparent_format(ctx, strs->traceparent + 12);
    out[0] = strs->traceparent;
    out[1] = NULL;
    if (trace_state && ts_len && ts_len <= 512) {
        memcpy(strs->tracestate, "TRACESTATE=", 11);
        memcpy(strs->tracestate + 11, trace_state, ts_len);
        strs->tracestate[11 + ts_len] = '\0';
        out[1] = strs->tracestate;
    }
    out[2] = (char *)baggage;
}

static int is_carrier(const char *e) {
    return (e[0] == 'T' && (!strncmp(e, "TRACEPARENT=", 12) || !strncmp(e, "TRACESTATE=", 11))) ||
           (e[0] == 'B' && !strncmp(e, "BAGGAGE=", 8));
}

int carriers_apply(char *const *envp, char *const add[3], char **out, size_t cap) {
    size_t n = 0;
    for (size_t i = 0; envp && envp[i]; i++) {
        if (is_carrier(envp[i])) continue;
        if (n + 1 >= cap) return -1;
        out[n++] = envp[i];
    }
    for (int i = 0; i < 3; i++) {
        if (!add[i]) continue;
        if (n + 1 >= cap) return -1;
        out[n++] = add[i];
    }
    out[n] = NULL;
    return (int)n;
}
