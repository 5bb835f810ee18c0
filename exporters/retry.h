/* retry: the OTLP specification's retry rules as pure functions, so they are
 * unit-tested on a fake clock: which outcomes are retried (HTTP status, gRPC
 * code, transport errno), exponential backoff with jitter, Retry-After in
 * seconds or as an HTTP-date, and the rule that an export with its retries
 * never runs past its deadline. Depends on libc only.
 *
 * Rules (OTLP specification, "Failures" and "Retryable Response Codes"):
 *   HTTP 2xx: delivered. 429, 502, 503, 504: retryable (honouring
 *   Retry-After). Any other status: dropped, never retried.
 *   gRPC OK: delivered. CANCELLED, DEADLINE_EXCEEDED, ABORTED, OUT_OF_RANGE,
 *   UNAVAILABLE, DATA_LOSS: retryable; RESOURCE_EXHAUSTED only when the
 *   server sent RetryInfo (then its delay is honoured); the rest dropped.
 *   Transport errors: connection failures (refused, reset, unreachable,
 *   broken pipe) retryable; a response we refuse (too large, malformed,
 *   TLS verification failed) or out of memory: dropped.
 * Backoff: attempt k (0-based) waits min(initial * 2^k, max) scaled by a
 * random factor in [0.5, 1.5); a server's delay (Retry-After, RetryInfo)
 * replaces it. No retry starts when its wait would end past the deadline. */
#ifndef OTELP_EXPORTERS_RETRY_H
#define OTELP_EXPORTERS_RETRY_H

#include <stdbool.h>
#include <stdint.h>

enum retry_verdict { RETRY_DELIVERED = 0, RETRY_RETRYABLE, RETRY_DROP };

/* gRPC status codes (grpc/doc/statuscodes.md). */
enum grpc_code {
    GRPC_OK = 0,
    GRPC_CANCELLED = 1,
    GRPC_UNKNOWN = 2,
    GRPC_INVALID_ARGUMENT = 3,
    GRPC_DEADLINE_EXCEEDED = 4,
    GRPC_NOT_FOUND = 5,
    GRPC_ALREADY_EXISTS = 6,
    GRPC_PERMISSION_DENIED = 7,
    GRPC_RESOURCE_EXHAUSTED = 8,
    GRPC_FAILED_PRECONDITION = 9,
    GRPC_ABORTED = 10,
    GRPC_OUT_OF_RANGE = 11,
    GRPC_UNIMPLEMENTED = 12,
    GRPC_INTERNAL = 13,
    GRPC_UNAVAILABLE = 14,
    GRPC_DATA_LOSS = 15,
    GRPC_UNAUTHENTICATED = 16,
};

enum retry_verdict retry_http_status(int status);
enum retry_verdict retry_grpc_status(int code, bool has_retry_info);
/* err: a negative errno from a transport. */
enum retry_verdict retry_errno(int err);
/* What a transport's negative errno means for an export, in the words of
 * the layer it happened in (a name that does not resolve, TLS, a response
 * we refuse), for diagnostics; other values: strerror's text. Transports
 * return -ENONET for a failed name look-up (connect never does), -EPROTO
 * for a malformed response, -E2BIG for one too large, -EKEYREJECTED for a
 * TLS failure. */
const char *retry_error_text(int err);

struct retry_policy {
    uint64_t initial_ns, max_ns; /* first backoff, cap */
    unsigned max_attempts;       /* tries in all, the first included */
};
/* 100 ms doubling to 5 s, at most 8 tries; the deadline usually ends it
 * first (10 s per export, the flush budget at exit). */
extern const struct retry_policy retry_default_policy;

/* The backoff before retry number attempt+1 (attempt 0: after the first
 * try), rnd a uniformly random 64-bit value. Always > 0. */
uint64_t retry_backoff_ns(const struct retry_policy *p, unsigned attempt, uint64_t rnd);

/* Whether to try again after attempt (0-based) failed retryably, and how
 * long to wait first: server_delay_ns is the server's hint (Retry-After,
 * RetryInfo) or -1. Returns true with *wait_ns set, or false when the
 * attempts are used up or the wait would end at or past deadline (both on
 * the monotonic clock, now included). */
bool retry_next(const struct retry_policy *p, unsigned attempt, int64_t server_delay_ns,
                uint64_t now_ns, uint64_t deadline_ns, uint64_t rnd, uint64_t *wait_ns);

/* A Retry-After value (RFC 9110 10.2.3): delay-seconds or an IMF-fixdate,
 * relative to now_unix_s. Returns seconds (0 for a date in the past, capped
 * at one day), or -1 when it parses as neither. */
int64_t retry_after_parse(const char *value, int64_t now_unix_s);

#endif
