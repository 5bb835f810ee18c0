/* sampler: should_sample for the spec's built-in samplers (always_on,
 * always_off, traceidratio and their parentbased forms). Depends on
 * context.h and config.h. */
#ifndef OTELP_CORE_SAMPLER_H
#define OTELP_CORE_SAMPLER_H

#include <stdbool.h>

#include "core/config.h"
#include "core/context.h"

/* parent may be NULL (a root span). Returns true to record and sample. */
bool sampler_should_sample(enum sampler_kind kind, double ratio, const struct span_context *parent,
                           const uint8_t trace_id[16]);

#endif
