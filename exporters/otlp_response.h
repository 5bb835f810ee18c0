/* otlp_response: what the exporter reads from a collector's answer:
 * partial_success in an Export*ServiceResponse (protobuf or JSON; the same
 * shape for every signal: field 1 { rejected count = 1, error_message = 2 }),
 * the gRPC RetryInfo detail in grpc-status-details-bin, and grpc-message's
 * percent-encoding. Tolerant decoders for untrusted input, bounded by the
 * input; no malloc. Depends on libc. */
#ifndef OTELP_EXPORTERS_OTLP_RESPONSE_H
#define OTELP_EXPORTERS_OTLP_RESPONSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Sets *rejected (0 when absent) and msg (NUL-terminated, possibly cut;
 * "" when absent). Returns 0, or -EPROTO when the bytes do not parse (then
 * *rejected is 0). */
int otlp_partial_success_proto(const uint8_t *p, size_t n, int64_t *rejected, char *msg,
                               size_t cap);
int otlp_partial_success_json(const char *p, size_t n, int64_t *rejected, char *msg, size_t cap);

/* grpc-status-details-bin (base64 google.rpc.Status): true when it holds a
 * google.rpc.RetryInfo, with its delay in *delay_ms (-1 when it has none). */
bool grpc_retry_info(const char *b64, size_t n, int64_t *delay_ms);

/* A gRPC response body: one length-prefixed message (flag byte 0, or 1
 * when compressed; a 4-byte big-endian length). Sets *msg and *len to the
 * message and returns 0; -EPROTO when the prefix lies (a length past the
 * body, bytes after the message, a flag other than 0 or 1, a body under 5
 * bytes), -ENOTSUP when the message is compressed (not decoded: *len 0). An
 * empty body is no message (0, *len 0). */
int grpc_message_frame(const uint8_t *p, size_t n, const uint8_t **msg, size_t *len);

/* grpc-status's value: a decimal code of at most 9 digits, else -1
 * (GRPC_UNKNOWN to the caller). */
int grpc_status_parse(const char *v);

/* grpc-message is percent-encoded; out gets it decoded and NUL-terminated
 * (control bytes replaced by '?'). */
void grpc_message_decode(const char *in, size_t n, char *out, size_t cap);

#endif
