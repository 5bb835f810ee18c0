/* otlp_json: decoder of OTLP/JSON export requests (the protobuf JSON mapping with OTLP's rules:
 * hex trace and span ids, lowerCamelCase names, enums as numbers) into the same heap structs as
 * otlp_decode.h, freed with otlp_traces_free / otlp_logs_free /
 * otlp_metrics_free. Depends on otlp_decode.h.
 *
 * Strict like the protobuf decoder: invalid JSON, invalid UTF-8, nesting
 * deeper than OTLP_DECODE_MAX_DEPTH, ids that are not 32/16 hex digits,
 * numbers out of range, or a field of the wrong JSON type fail with a
 * message. Unknown fields are skipped. snake_case field names are accepted
 * too (as the protobuf JSON mapping requires of parsers).
 */
#ifndef OTELP_SERVER_OTLP_JSON_H
#define OTELP_SERVER_OTLP_JSON_H

#include <stddef.h>

#include "server/otlp_decode.h"

struct otlp_traces *otlp_json_traces_decode(const void *buf, size_t len, char *err, size_t err_size)
    __attribute__((warn_unused_result));
struct otlp_logs *otlp_json_logs_decode(const void *buf, size_t len, char *err, size_t err_size)
    __attribute__((warn_unused_result));

struct otlp_metrics *otlp_json_metrics_decode(const void *buf, size_t len, char *err,
                                              size_t err_size) __attribute__((warn_unused_result));

#endif
