/* queue: a bounded multi-producer multi-consumer queue of pointers (the
 * sequence-numbered ring design: each cell carries a ticket, producers and
 * consumers claim positions with one compare-and-swap). Never blocks, never
 * allocates after creation; a full queue refuses the push and the caller
 * counts the drop. Depends on libc atomics. */
#ifndef OTELP_CORE_QUEUE_H
#define OTELP_CORE_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct queue;

struct queue *queue_new(uint32_t capacity);
void queue_free(struct queue *q);
/* False when full. */
bool queue_push(struct queue *q, void *item) __attribute__((warn_unused_result));
/* NULL when empty (or when the next item is still being published). */
void *queue_pop(struct queue *q);
/* Up to n items into out (oldest first) with one atomic operation: those
 * waiting in a row from the head. Returns how many (0: as queue_pop's
 * NULL). */
uint32_t queue_pop_n(struct queue *q, void **out, uint32_t n);
/* The item the next pop would return (ahead 0; 1: the pop after it...),
 * without taking it, or NULL: a hint only (another thread may take it at
 * once), never to be dereferenced; for prefetching. */
void *queue_peek(const struct queue *q, uint32_t ahead);
/* Approximate number of items. */
size_t queue_size(const struct queue *q);
uint32_t queue_capacity(const struct queue *q);

#endif
