/* sampler: the spec's built-in samplers. See sampler.h. */
#include "core/cold.h"
#include "core/sampler.h"

#include <string.h>

/* TraceIdRatioBased: compare the trace id's last 8 bytes (big-endian, the
 * random part for W3C level 2 ids) with ratio * 2^64. */
static bool ratio_sample(double ratio, const uint8_t trace_id[16]) {
    if (ratio >= 1.0) return true;
    if (ratio <= 0.0) return false;
    uint64_t x = 0;
    for (int i = 8; i < 16; i++)
        x = x << 8 | trace_id[i];
    return (double)(x >> 11) < ratio * (double)(1ULL << 53);
}

OTELP_FIRST bool sampler_should_sample(enum sampler_kind kind, double ratio,
                                       const struct span_context *parent,
                                       const uint8_t trace_id[16]) {
    switch (kind) {
    case SAMPLER_ALWAYS_ON:
        return true;
    case SAMPLER_ALWAYS_OFF:
        return false;
    case SAMPLER_TRACEIDRATIO:
        return ratio_sample(ratio, trace_id);
    case SAMPLER_PARENTBASED_ALWAYS_ON:
    case SAMPLER_PARENTBASED_ALWAYS_OFF:
    case SAMPLER_PARENTBASED_TRACEIDRATIO:
        if (parent) return (parent->flags & TRACE_FLAG_SAMPLED) != 0;
        if (kind == SAMPLER_PARENTBASED_ALWAYS_ON) return true;
        if (kind == SAMPLER_PARENTBASED_ALWAYS_OFF) return false;
        return ratio_sample(ratio, trace_id);
    }
    return true;
}
