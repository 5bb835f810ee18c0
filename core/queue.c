/* queue: bounded MPMC ring. See queue.h.
 *
 * Cell i holds a sequence number. A producer at position pos may write the
 * cell when seq == pos, then publishes with seq = pos + 1. A consumer at pos
 * may read when seq == pos + 1, then frees the cell for the producer one lap
 * later with seq = pos + capacity. Positions are 64-bit and never wrap in
 * practice; cells are indexed pos % capacity so any capacity works.
 * Sequence numbers count in half-steps (free 2*pos, published 2*pos+1), so
 * capacity 1 works too, and each cell stores its sequence minus 2*index:
 * zeroed memory from mmap is a valid empty queue, and a queue that only
 * ever holds one record touches one page. */
#include "core/queue.h"

#include <stdatomic.h>
#include <sys/mman.h>

/* The cells are mmap'd, which LeakSanitizer does not scan: tell it, or
 * whatever only a queue points to (recycled span slots) looks leaked. */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#define SCAN_ROOT(p, n) __lsan_register_root_region(p, n)
#define UNSCAN_ROOT(p, n) __lsan_unregister_root_region(p, n)
#else
#define SCAN_ROOT(p, n) ((void)0)
#define UNSCAN_ROOT(p, n) ((void)0)
#endif

struct cell {
    _Atomic uint64_t seq;
    void *item;
};

struct queue {
    _Alignas(64) _Atomic uint64_t head; /* next position to pop */
    _Alignas(64) _Atomic uint64_t tail; /* next position to push */
    _Alignas(64) uint32_t capacity;
    uint32_t mask; /* capacity - 1 when a power of two (the default sizes), else 0 */
    struct cell cells[];
};

/* pos % capacity; a power of two takes a mask instead of a division (a
 * 64-bit division was a fifth of a push). */
static inline uint64_t cell_index(const struct queue *q, uint64_t pos) {
    return q->mask ? pos & q->mask : pos % q->capacity;
}

/* The cell one line ahead of pos: the other side last wrote it, and
 * fetching it now spares the operation that reaches it the wait. */
static inline void prefetch_ahead(struct queue *q, uint64_t pos) {
    __builtin_prefetch(&q->cells[cell_index(q, pos + 64 / sizeof(struct cell))], 1, 3);
}

static size_t queue_bytes(uint32_t capacity) {
    return sizeof(struct queue) + (size_t)capacity * sizeof(struct cell);
}

struct queue *queue_new(uint32_t capacity) {
    if (!capacity) return NULL;
    void *p = mmap(NULL, queue_bytes(capacity), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                   -1, 0);
    if (p == MAP_FAILED) return NULL;
    struct queue *q = p;
    q->capacity = capacity;
    q->mask = capacity > 1 && !(capacity & (capacity - 1)) ? capacity - 1 : 0;
    SCAN_ROOT(p, queue_bytes(capacity));
    return q;
}

void queue_free(struct queue *q) {
    if (!q) return;
    UNSCAN_ROOT(q, queue_bytes(q->capacity));
    munmap(q, queue_bytes(q->capacity));
}

bool queue_push(struct queue *q, void *item) {
    uint64_t pos = atomic_load_explicit(&q->tail, memory_order_relaxed);
    for (;;) {
        uint64_t idx = cell_index(q, pos);
        struct cell *c = &q->cells[idx];
        uint64_t seq = atomic_load_explicit(&c->seq, memory_order_acquire) + 2 * idx;
        int64_t diff = (int64_t)(seq - 2 * pos);
        if (diff == 0) {
            if (atomic_compare_exchange_weak_explicit(&q->tail, &pos, pos + 1, memory_order_relaxed,
                                                      memory_order_relaxed)) {
                prefetch_ahead(q, pos);
                c->item = item;
                atomic_store_explicit(&c->seq, 2 * pos + 1 - 2 * idx, memory_order_release);
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
        uint64_t idx = cell_index(q, pos);
        struct cell *c = &q->cells[idx];
        uint64_t seq = atomic_load_explicit(&c->seq, memory_order_acquire) + 2 * idx;
        int64_t diff = (int64_t)(seq - (2 * pos + 1));
        if (diff == 0) {
            if (atomic_compare_exchange_weak_explicit(&q->head, &pos, pos + 1, memory_order_relaxed,
                                                      memory_order_relaxed)) {
                prefetch_ahead(q, pos);
                void *item = c->item;
                atomic_store_explicit(&c->seq, 2 * (pos + q->capacity) - 2 * idx,
                                      memory_order_release);
                return item;
            }
        } else if (diff < 0) {
            return NULL; /* empty */
        } else {
            pos = atomic_load_explicit(&q->head, memory_order_relaxed);
        }
    }
}

/* The positions head..head+k-1 whose cells are all published are claimed
 * with one compare-and-swap of head: only a consumer that moves head past
 * a cell changes it, so an unchanged head means they are still ours to
 * take. */
uint32_t queue_pop_n(struct queue *q, void **out, uint32_t n) {
    uint64_t pos = atomic_load_explicit(&q->head, memory_order_relaxed);
    for (;;) {
        uint32_t k = 0;
        int64_t diff = 0;
        for (; k < n; k++) {
            uint64_t idx = cell_index(q, pos + k);
            uint64_t seq = atomic_load_explicit(&q->cells[idx].seq, memory_order_acquire) + 2 * idx;
            diff = (int64_t)(seq - (2 * (pos + k) + 1));
            if (diff) break;
        }
        if (!k) {
            if (diff < 0) return 0; /* empty */
            pos = atomic_load_explicit(&q->head, memory_order_relaxed);
            continue;
        }
        if (atomic_compare_exchange_weak_explicit(&q->head, &pos, pos + k, memory_order_relaxed,
                                                  memory_order_relaxed)) {
            for (uint32_t i = 0; i < k; i++) {
                uint64_t idx = cell_index(q, pos + i);
                struct cell *c = &q->cells[idx];
                out[i] = c->item;
                atomic_store_explicit(&c->seq, 2 * (pos + i + q->capacity) - 2 * idx,
                                      memory_order_release);
            }
            prefetch_ahead(q, pos + k - 1);
            return k;
        }
    }
}

void *queue_peek(const struct queue *q, uint32_t ahead) {
    struct queue *m = (struct queue *)q;
    uint64_t pos = atomic_load_explicit(&m->head, memory_order_relaxed) + ahead;
    uint64_t idx = cell_index(q, pos);
    struct cell *c = &m->cells[idx];
    uint64_t seq = atomic_load_explicit(&c->seq, memory_order_acquire) + 2 * idx;
    return seq == 2 * pos + 1 ? __atomic_load_n(&c->item, __ATOMIC_RELAXED) : NULL;
}

size_t queue_size(const struct queue *q) {
    uint64_t tail = atomic_load_explicit(&((struct queue *)q)->tail, memory_order_relaxed);
    uint64_t head = atomic_load_explicit(&((struct queue *)q)->head, memory_order_relaxed);
    return tail > head ? (size_t)(tail - head) : 0;
}

uint32_t queue_capacity(const struct queue *q) {
    return q->capacity;
}
