/* log: the log record (OpenTelemetry log data model). Like a span, one
 * allocation holds the record and the first chunk of its arena, where the
 * body, severity text and attributes live. Written by the thread that emits
 * it, then handed to the logs processor; only the exporter reads it after.
 * Records may also come from a fixed pool (log_pool): preallocated slots
 * handed out and taken back without malloc, locks or blocking, for code that
 * may run in a signal handler (write(2) is async-signal-safe).
 * Also the syslog vocabulary of the data model: severity mapping (appendix
 * B) and facility names. Depends on attr.h and context.h. */
#ifndef OTELP_CORE_LOG_H
#define OTELP_CORE_LOG_H

#include <stdbool.h>
#include <stdint.h>

#include "core/attr.h"
#include "core/context.h"

/* Data model SeverityNumber ranges (the first of each). */
enum {
    SEVERITY_TRACE = 1,
    SEVERITY_DEBUG = 5,
    SEVERITY_INFO = 9,
    SEVERITY_WARN = 13,
    SEVERITY_ERROR = 17,
    SEVERITY_FATAL = 21
};

struct log_record {
    uint64_t time_ns, observed_ns;
    uint8_t severity_number;
    struct str severity_text;
    struct attr_value body; /* ATTR_STRING for the calls we hook */
    struct str event_name;
    struct attr_list attrs;
    bool has_context; /* trace_id/span_id/flags of the emitting thread */
    uint8_t trace_id[16], span_id[8], flags;
    const struct attr_limits *limits;
    struct log_pool *pool; /* the pool the record came from, or NULL (malloc'd) */
    struct arena arena;
};

/* A new record with a string body (copied, cut to the value length limit).
 * ctx: the emitting thread's context, or NULL. NULL when out of memory. */
struct log_record *log_record_new(uint64_t time_ns, uint64_t observed_ns, int severity_number,
                                  const char *severity_text, const char *body, size_t body_len,
                                  const struct span_context *ctx, const struct attr_limits *limits,
                                  size_t arena_size);
/* Like log_record_new, in a slot of p (whose arena never mallocs: size
 * the record with log_pool_room). NULL when the pool is empty. */
struct log_record *log_record_new_pooled(struct log_pool *p, uint64_t time_ns, uint64_t observed_ns,
                                         int severity_number, const char *severity_text,
                                         const char *body, size_t body_len,
                                         const struct span_context *ctx,
                                         const struct attr_limits *limits);
/* Appends n attributes in one go, for records built from known parts: the
 * keys must be distinct, not already set, and outlive the record (string
 * literals: they are not copied); string values are copied and cut to the
 * value length limit; past the count limit attributes are dropped and
 * counted. */
void log_record_add_attrs(struct log_record *r, const struct attr *attrs, uint32_t n);
/* Frees r, or gives a pooled record back to its pool. */
void log_record_free(struct log_record *r);
int log_record_set_attr(struct log_record *r, struct str key, const struct attr_value *value);
int log_record_set_str(struct log_record *r, const char *key, const char *value, size_t len);
int log_record_set_int(struct log_record *r, const char *key, int64_t value);

/* A pool of `slots` records of slot_size bytes each (record and arena),
 * reserved with mmap and touched only as slots are first used. Never freed
 * (records may still be queued anywhere). NULL when out of memory. */
struct log_pool *log_pool_new(uint32_t slots, size_t slot_size);
/* A zeroed record whose arena is the rest of its slot and never mallocs,
 * or NULL when every slot is in use. Lock-free, async-signal-safe. */
struct log_record *log_pool_get(struct log_pool *p);
/* Frees a pool none of whose records is in use any more (tests). */
void log_pool_free(struct log_pool *p);
/* Arena bytes in one of p's records. */
size_t log_pool_room(const struct log_pool *p);

/* Syslog level (LOG_EMERG..LOG_DEBUG, 0..7) to SeverityNumber as the data
 * model's appendix B maps it (Emergency FATAL, Alert ERROR3, Critical
 * ERROR2, Error ERROR, Warning WARN, Notice INFO2, Informational INFO, Debug
 * DEBUG); *text gets syslog's own name for the level ("emerg", "err", ...,
 * as in <syslog.h>'s prioritynames). */
int log_syslog_severity(int level, const char **text);
/* Syslog's name of a facility code (LOG_FAC(facility): 0 kern, 1 user, ...,
 * 16..23 local0..local7), or NULL for a code it has no name for. */
const char *log_syslog_facility_name(int code);

#endif
