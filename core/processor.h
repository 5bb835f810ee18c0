/* processor: the batch processors (one per signal) and the one worker thread
 * that serves them all.
 *
 * on_end pushes a finished record into the signal's bounded queue; a full
 * queue drops and counts. The worker starts lazily, never from a
 * constructor: only when a queue holds a full batch, or a record has waited
 * the schedule delay, and not while the process is exiting. A process that
 * ends before it ever started exports in one bounded synchronous flush at
 * exit. The worker blocks all signals and runs inside the re-entry guard.
 *
 * Depends on queue.h, config.h, guard.h, ids.h (clock). */
#ifndef OTELP_CORE_PROCESSOR_H
#define OTELP_CORE_PROCESSOR_H

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/config.h"

/* Where batches go. export() gets up to max_export_batch_size records and a
 * deadline on the monotonic clock; it returns >= 0 when the batch was
 * delivered: the number of records the collector rejected (OTLP
 * partial_success, counted as dropped_rejected; the rest as exported), or
 * negative when the whole batch was lost (counted as dropped_export_failed),
 * or BATCH_SPOOLED when it could not be delivered now and is kept in the
 * spool, to be delivered later (counted as spooled), or BATCH_HANDED_OFF
 * when the parent's relay took it (counted as handed_off).
 * The processor frees the records afterwards with free_record. */
#define BATCH_SPOOLED (-EINPROGRESS)
/* Taken by the parent's relay, which exports it and counts the outcome. */
#define BATCH_HANDED_OFF (-EALREADY)

struct batch_sink {
    int (*export)(void *ctx, void *const *records, size_t n, uint64_t deadline_mono_ns);
    void (*free_record)(void *record);
    void *ctx;
};

/* Loss accounting, per processor: every record handed to batcher_on_end
 * ends in exactly one of these (records still queued or in an export while
 * the process runs are in none yet). */
struct batch_stats {
    uint64_t exported, dropped_queue_full, dropped_export_failed, dropped_shutdown,
        dropped_rejected;
    uint64_t spooled;    /* kept on disk, delivered later (exporters/outbox.h) */
    uint64_t handed_off; /* to the parent's relay (exporters/handoff.h) */
};

struct batcher;

struct batcher *batcher_new(const char *name, const struct batch_config *cfg,
                            const struct batch_sink *sink);
/* Hands a finished record over; never blocks. Returns false when it was
 * dropped (the record has been freed and counted). */
bool batcher_on_end(struct batcher *b, void *record);
/* Whether batcher_on_end would drop a record for a full queue now (a hint:
 * the worker may take some meanwhile), and n records dropped so without
 * being made (counted as queue full). */
bool batcher_full(struct batcher *b);
void batcher_count_dropped(struct batcher *b, uint64_t n);
void batcher_stats(const struct batcher *b, struct batch_stats *out);

/* Records waiting in the queue, records in an export that has not
 * returned, and the queue's capacity (self-observability). */
size_t batcher_queued(const struct batcher *b);
uint64_t batcher_in_flight(const struct batcher *b);
uint32_t batcher_capacity(const struct batcher *b);

/* The scheduling rule, on a given clock (exposed for fake-clock tests):
 * a batch is due when a full batch is queued, or when records are queued and
 * the schedule delay has passed since the last export. */
bool batcher_due(const struct batcher *b, uint64_t now_mono_ns);
/* Exports one batch (up to the batch size) now, in the calling thread.
 * Returns the number of records taken from the queue. */
size_t batcher_export_batch(struct batcher *b, uint64_t now_mono_ns, uint64_t deadline_mono_ns);

/* Exports everything queued in every processor, within timeout_ms: through
 * the worker when it runs, else in the calling thread. Returns 0, or
 * -ETIMEDOUT when records were left. */
int processor_force_flush(uint32_t timeout_ms);
/* The final flush: no new worker starts after this; what is not exported
 * within timeout_ms (still queued, or in an export that has not returned)
 * is counted as dropped_shutdown, and queued records are taken out (freed
 * unless in_signal) so that nothing counted is exported later.
 * in_signal: called from a signal handler of a dying process: no malloc,
 * no free, no locks. */
void processor_shutdown(uint32_t timeout_ms, bool in_signal);
/* In a fork child: forget the parent's queued records and worker. */
void processor_after_fork_child(void);
bool processor_worker_running(void);
/* True once the final flush has begun (processor_shutdown), or the
 * process said it is ending (processor_begin_exit: before its relay's last
 * forward, which then does not wait for an unreachable collector either). */
bool processor_exiting(void);
void processor_begin_exit(void);

/* Starts one of our own threads: detached, every signal blocked (so a
 * program's signals never land on it), through processor_thread_create.
 * Returns 0 or an error number. */
int processor_spawn_thread(void *(*fn)(void *), size_t stack_size);
/* The same, fn getting arg. */
int processor_spawn_thread_with(void *(*fn)(void *), void *arg, size_t stack_size);
/* Whether the calling thread is the export worker. */
bool processor_on_worker(void);
/* UINT64_MAX, or once shutdown began, the end of the flush budget
 * (monotonic ns): exporters end retries and waits by then. */
uint64_t processor_deadline(void);

/* A periodic task the worker runs besides the batches (the metric reader,
 * reader.h): next() returns the monotonic time of its next run (UINT64_MAX:
 * none), run() runs it on the worker. One task; set before the worker
 * starts. */
void processor_set_periodic(uint64_t (*next)(void), void (*run)(void));
/* Starts the worker now unless it runs, failed, or the process is exiting
 * (for a periodic task that is due; not in tests without autostart). */
void processor_start_worker(void);

/* Seams for the preload layer and tests. */
extern int (*processor_thread_create)(pthread_t *, const pthread_attr_t *, void *(*)(void *),
                                      void *);
extern uint64_t (*processor_clock)(void);
extern bool processor_autostart; /* false in tests that drive batches by hand */

#endif
