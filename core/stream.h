/* stream: lines the program writes to its standard output and error become
 * log records (attribute log.iostream = "stdout" / "stderr"), when
 * OTEL_PRELOAD_LOGS_STREAMS asks for them. Off by default.
 *
 * Each thread assembles its own lines, one per stream, directly in a record
 * taken from a fixed pool (log_pool; a short line's record moves to a
 * smaller slot of a second pool when it ends): no malloc, no lock, nothing
 * that blocks, so the write(2) hook may run it in a signal handler. A line ends
 * at '\n' (a '\r' before it is dropped) and becomes a record then, stamped
 * with the thread's trace context; a line longer than the slot holds is
 * emitted in pieces; empty lines are skipped; bytes that are not UTF-8 are
 * replaced by U+FFFD. A partial line is emitted when its thread exits, or
 * when the process ends on that thread. A line that finds the pool empty is
 * dropped and counted; so is a line past the rate (lines a second, for the
 * whole process), counted as a full queue's: a chatty program (yes | head)
 * made and exported a record per line as fast as the export thread took
 * them, 30x slower than without the shim. The bytes on the streams are never touched: callers
 * pass what was written.
 *
 * Depends on log.h, telemetry.h. */
#ifndef OTELP_CORE_STREAM_H
#define OTELP_CORE_STREAM_H

#include <stddef.h>
#include <stdint.h>

/* Bytes per pooled line; a line holds a little less (STREAM_LINE_MAX). */
#define STREAM_SLOT 4096
extern const size_t STREAM_LINE_MAX;
/* Bytes per pooled record of a short line, one of at most
 * STREAM_RECORD_LINE_MAX bytes. */
#define STREAM_RECORD_SLOT 512
extern const size_t STREAM_RECORD_LINE_MAX;

/* The streams captured: bit 1 << fd for fd 1 and 2; 0 when off. Hooks test
 * it before doing anything else. */
extern unsigned stream_capture;

/* Starts capturing the streams in `streams` (bits 1 << fd) into records
 * for the logs processor, with pools of `slots` lines and as many records
 * of short lines, at most `rate`
 * lines a second (0: no limit). Returns 0, or -ENOMEM (capture stays
 * off). */
int stream_init(unsigned streams, uint32_t slots, uint32_t rate)
    __attribute__((warn_unused_result));
/* n bytes that were written to fd (1 or 2). Call inside the re-entry guard. */
void stream_write(int fd, const void *data, size_t n);
/* Emits the calling thread's partial lines. */
void stream_flush_thread(void);

#endif
