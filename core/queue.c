/* queue: bounded MPMC ring. See queue.h.
 *
 * Cell i holds a sequence number. A producer at position pos may write the
 * cell when seq == pos, then publishes with seq = pos + 1. A consumer at pos
 * may read when seq == pos + 1, then frees the cell for the producer one lap
 * later with seq = pos + capacity. Positions are 64-bit and never wrap in
 * practice; cells are indexed pos % capacity so any capacity works. */
#include "core/queue.h"

#include <stdatomic.h>
#include <stdlib.h>

struct cell {
    _Atomic uint64_t seq;
    void *item;
};

struct queue {
    _Alignas(64) _Atomic uint64_t head; /* next position to pop */
    _Alignas(64) _Atomic uint64_t tail; /* next position to push */
    _Alignas(64) uint32_t capacity;
    struct cell cells[];
};

struct queue *queue_new(uint32_t capacity) {
    if (!capacity) return NULL;
    struct queue *q = malloc(sizeof *q + (size_t)capacity * sizeof(struct cell));
    if (!q) return NULL;
    atomic_init(&q->head, 0);
    atomic_init(&q->tail, 0);
    q->capacity = capacity;
    for (uint32_t i = 0; i < capacity; i++) {
        atomic_init(&q->cells[i].seq, 2 * (uint64_t)i);
        q->cells[i].item = NULL;
    }
    return q;
}

void queue_free(struct queue *q) {
    free(q);
}

bool queue_push(struct queue *q, void *item) {
    uint64_t pos = atomic_load_explicit(&q->tail, memory_order_relaxed);
    for (;;) {
        struct cell *c = &q->cells[pos % q->capacity];
        uint64_t seq = atomic_load_explicit(&c->seq, memory_order_acquire);
        int64_t diff = (int64_t)(seq - 2 * pos);
        if (diff == 0) {
            if (atomic_compare_exchange_weak_explicit(&q->tail, &pos, pos + 1, memory_order_relaxed,
                                                      memory_order_relaxed)) {
                c->item = item;
                atomic_store_explicit(&c->seq, 2 * pos + 1, memory_order_release);
                return true;
            }
        } else if (diff < 0) {
            return false; /* full */
        } else {
            pos = atomic_load_explicit(&q->tail, memory_order_relaxed);
        }
    }
}

void *queue_pop(struct queue *q) {
    uint64_t pos = atomic_load_explicit(&q->head, memory_order_relaxed);
    for (;;) {
        struct cell *c = &q->cells[pos % q->capacity];
        uint64_t seq = atomic_load_explicit(&c->seq, memory_order_acquire);
        int64_t diff = (int64_t)(seq - (2 * pos + 1));
        if (diff == 0) {
            if (atomic_compare_exchange_weak_explicit(&q->head, &pos, pos + 1, memory_order_relaxed,
                                                      memory_order_relaxed)) {
                void *item = c->item;
                atomic_store_explicit(&c->seq, 2 * (pos + q->capacity), memory_order_release);
                return item;
            }
        } else if (diff < 0) {
            return NULL; /* empty */
        } else {
            pos = atomic_load_explicit(&q->head, memory_order_relaxed);
        }
    }
}

size_t queue_size(const struct queue *q) {
    uint64_t tail = atomic_load_explicit(&((struct queue *)q)->tail, memory_order_relaxed);
    uint64_t head = atomic_load_explicit(&((struct queue *)q)->head, memory_order_relaxed);
    return tail > head ? (size_t)(tail - head) : 0;
}

uint32_t queue_capacity(const struct queue *q) {
    return q->capacity;
}
