/* test_queue: the bounded MPMC queue: FIFO order, exact capacity (powers of
 * two and not), empty pops, wrap-around over many laps, 4 producers x 50k
 * items with one consumer seeing every item exactly once, in each
 * producer's order, and queue_pop_n (batches in order, short and empty
 * ones, over laps; 2 producers and 2 batch consumers: each item once; also
 * run under TSan). Depends on core/queue.h, test.h. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/queue.h"
#include "tests/unit/test.h"

#define ITEM(n) ((void *)(uintptr_t)(n))

static void test_create(void) {
    CHECK(queue_new(0) == NULL);
    struct queue *q = queue_new(1);
    REQUIRE(q);
    CHECK_EQ_INT(queue_capacity(q), 1);
    CHECK(queue_pop(q) == NULL);
    CHECK(queue_push(q, ITEM(1)));
    CHECK(queue_pop(q) == ITEM(1));
    CHECK(queue_pop(q) == NULL);
    queue_free(q);
    queue_free(NULL);
}

/* Capacity 1 (OTEL_BSP_MAX_QUEUE_SIZE=1 is accepted): the second push must be
 * refused. If it is not, the cell's sequence is already one lap ahead and a
 * pop would spin for ever, so stop there. */
static void test_capacity_one(void) {
    struct queue *q = queue_new(1);
    REQUIRE(q);
    CHECK(queue_push(q, ITEM(1)));
    REQUIRE(!queue_push(q, ITEM(2)));
    CHECK(queue_pop(q) == ITEM(1));
    CHECK(queue_pop(q) == NULL);
    CHECK(queue_push(q, ITEM(3)));
    CHECK(!queue_push(q, ITEM(4)));
    CHECK(queue_pop(q) == ITEM(3));
    queue_free(q);
}

static void check_capacity(uint32_t cap) {
    struct queue *q = queue_new(cap);
    REQUIRE(q);
    CHECK_EQ_INT(queue_capacity(q), cap);
    CHECK(queue_pop(q) == NULL);
    CHECK_EQ_INT(queue_size(q), 0);
    for (uint32_t i = 1; i <= cap; i++) {
        test_checks++;
        if (!queue_push(q, ITEM(i))) TEST_FAIL_("capacity %u: push %u refused", cap, i);
    }
    CHECK_EQ_INT(queue_size(q), cap);
    CHECK(!queue_push(q, ITEM(999))); /* full: exactly cap items */
    CHECK(!queue_push(q, ITEM(999)));
    CHECK_EQ_INT(queue_size(q), cap);
    for (uint32_t i = 1; i <= cap; i++) {
        void *p = queue_pop(q);
        test_checks++;
        if (p != ITEM(i)) TEST_FAIL_("capacity %u: pop %u got %p", cap, i, p);
    }
    CHECK(queue_pop(q) == NULL);
    CHECK_EQ_INT(queue_size(q), 0);
    /* After draining it takes cap again. */
    for (uint32_t i = 1; i <= cap; i++)
        CHECK(queue_push(q, ITEM(i)));
    CHECK(!queue_push(q, ITEM(0x1000)));
    queue_free(q);
}

static void test_capacities(void) {
    static const uint32_t caps[] = {2, 3, 5, 7, 8, 100, 1000, 1024};
    for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++)
        check_capacity(caps[i]);
}

/* Many laps around small rings with varying fill levels. */
static void test_wrap_around(void) {
    static const uint32_t caps[] = {3, 4, 5};
    for (size_t c = 0; c < sizeof caps / sizeof caps[0]; c++) {
        uint32_t cap = caps[c];
        struct queue *q = queue_new(cap);
        REQUIRE(q);
        uintptr_t next_push = 1, next_pop = 1;
        unsigned seed = 7;
        for (int step = 0; step < 200000; step++) {
            seed = seed * 1103515245u + 12345u;
            if ((seed >> 16) & 1) {
                bool ok = queue_push(q, ITEM(next_push));
                bool should = next_push - next_pop < cap;
                test_checks++;
                if (ok != should) {
                    TEST_FAIL_("cap %u step %d: push %d, expected %d", cap, step, ok, should);
                    break;
                }
                if (ok) next_push++;
            } else {
                void *p = queue_pop(q);
                void *want = next_pop == next_push ? NULL : ITEM(next_pop);
                test_checks++;
                if (p != want) {
                    TEST_FAIL_("cap %u step %d: pop %p, expected %p", cap, step, p, want);
                    break;
                }
                if (p) next_pop++;
            }
        }
        CHECK(next_pop > 50000); /* many laps */
        queue_free(q);
    }
}

/* queue_pop_n: up to n in FIFO order, fewer when fewer wait, 0 when
 * empty; mixed with single pops and pushes over many laps of a ring whose
 * size is no power of two. */
static void test_pop_n(void) {
    struct queue *q = queue_new(5);
    REQUIRE(q);
    void *out[8];
    CHECK_EQ_INT(queue_pop_n(q, out, 8), 0);
    for (uintptr_t i = 1; i <= 5; i++)
        CHECK(queue_push(q, ITEM(i)));
    CHECK_EQ_INT(queue_pop_n(q, out, 2), 2);
    CHECK(out[0] == ITEM(1) && out[1] == ITEM(2));
    CHECK_EQ_INT(queue_size(q), 3);
    CHECK_EQ_INT(queue_pop_n(q, out, 8), 3);
    CHECK(out[0] == ITEM(3) && out[1] == ITEM(4) && out[2] == ITEM(5));
    CHECK_EQ_INT(queue_pop_n(q, out, 8), 0);
    CHECK(queue_pop(q) == NULL);
    uintptr_t next_push = 1, next_pop = 1;
    unsigned seed = 11;
    long bad = 0;
    for (int step = 0; step < 100000 && !bad; step++) {
        seed = seed * 1103515245u + 12345u;
        uint32_t r = (seed >> 16) % 4;
        if (r < 2) {
            if (queue_push(q, ITEM(next_push))) next_push++;
        } else {
            uint32_t want = r == 2 ? 1 : 1 + (seed >> 20) % 7;
            uint32_t waiting = (uint32_t)(next_push - next_pop);
            uint32_t n = queue_pop_n(q, out, want);
            bad += n != (waiting < want ? waiting : want);
            for (uint32_t i = 0; i < n; i++)
                bad += out[i] != ITEM(next_pop + i);
            next_pop += n;
        }
    }
    CHECK_EQ_INT(bad, 0);
    CHECK(next_pop > 20000); /* many laps */
    queue_free(q);
}

#define PRODUCERS 4
#define PER_PRODUCER 50000
#define SPIN_LIMIT 200000000L

static struct queue *mt_queue;
static _Atomic long mt_spin_exhausted;

static void *producer(void *arg) {
    uintptr_t id = (uintptr_t)arg;
    for (uintptr_t i = 0; i < PER_PRODUCER; i++) {
        void *item = ITEM((id << 24) | (i + 1));
        long spins = 0;
        while (!queue_push(mt_queue, item)) {
            if (++spins > SPIN_LIMIT) {
                mt_spin_exhausted++;
                return NULL;
            }
            if (spins % 64 == 0) sched_yield();
        }
    }
    return NULL;
}

static void test_multi_producer(void) {
    mt_queue = queue_new(1024);
    REQUIRE(mt_queue);
    pthread_t t[PRODUCERS];
    for (uintptr_t i = 0; i < PRODUCERS; i++)
        REQUIRE(pthread_create(&t[i], NULL, producer, ITEM(i)) == 0);
    uint8_t *seen = calloc(PRODUCERS * PER_PRODUCER, 1);
    REQUIRE(seen);
    uintptr_t last[PRODUCERS] = {0};
    long received = 0, empty_polls = 0, dup = 0, order = 0, bad = 0;
    while (received < PRODUCERS * PER_PRODUCER && empty_polls < SPIN_LIMIT && !mt_spin_exhausted) {
        void *p = queue_pop(mt_queue);
        if (!p) {
            if (++empty_polls % 64 == 0) sched_yield();
            continue;
        }
        uintptr_t v = (uintptr_t)p, id = v >> 24, seq = v & 0xffffff;
        if (id >= PRODUCERS || seq == 0 || seq > PER_PRODUCER) {
            bad++;
            continue;
        }
        if (seen[id * PER_PRODUCER + seq - 1]++) dup++;
        if (seq <= last[id]) order++;
        last[id] = seq;
        received++;
    }
    for (int i = 0; i < PRODUCERS; i++)
        pthread_join(t[i], NULL);
    CHECK_EQ_INT(mt_spin_exhausted, 0);
    CHECK_EQ_INT(received, PRODUCERS * PER_PRODUCER);
    CHECK_EQ_INT(dup, 0);
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(order, 0); /* one consumer sees each producer's items in order */
    long missing = 0;
    for (long i = 0; i < PRODUCERS * PER_PRODUCER; i++)
        missing += !seen[i];
    CHECK_EQ_INT(missing, 0);
    CHECK(queue_pop(mt_queue) == NULL);
    free(seen);
    queue_free(mt_queue);
}

/* Two producers, two consumers taking batches of up to 16 (the span slot
 * stashes' way): every item exactly once. */
#define BATCH_ITEMS 40000
static _Atomic long batch_taken;
static uint8_t *batch_seen;
static _Atomic long batch_dup;

static void *batch_producer(void *arg) {
    uintptr_t id = (uintptr_t)arg;
    for (uintptr_t i = 0; i < BATCH_ITEMS; i++) {
        long spins = 0;
        while (!queue_push(mt_queue, ITEM(id * BATCH_ITEMS + i + 1)))
            if (++spins % 64 == 0) sched_yield();
    }
    return NULL;
}

static void *batch_consumer(void *arg) {
    (void)arg;
    void *out[16];
    long idle = 0;
    while (atomic_load(&batch_taken) < 2 * BATCH_ITEMS && idle < SPIN_LIMIT) {
        uint32_t n = queue_pop_n(mt_queue, out, 16);
        if (!n) {
            if (++idle % 64 == 0) sched_yield();
            continue;
        }
        for (uint32_t i = 0; i < n; i++) {
            uintptr_t v = (uintptr_t)out[i] - 1;
            if (v >= 2 * BATCH_ITEMS || __atomic_fetch_add(&batch_seen[v], 1, __ATOMIC_RELAXED))
                batch_dup++;
        }
        atomic_fetch_add(&batch_taken, n);
    }
    return NULL;
}

static void test_pop_n_threads(void) {
    mt_queue = queue_new(64);
    batch_seen = calloc(2 * BATCH_ITEMS, 1);
    REQUIRE(mt_queue && batch_seen);
    pthread_t t[4];
    for (uintptr_t i = 0; i < 2; i++) {
        REQUIRE(pthread_create(&t[i], NULL, batch_producer, ITEM(i)) == 0);
        REQUIRE(pthread_create(&t[2 + i], NULL, batch_consumer, NULL) == 0);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    CHECK_EQ_INT(atomic_load(&batch_taken), 2 * BATCH_ITEMS);
    CHECK_EQ_INT(atomic_load(&batch_dup), 0);
    long missing = 0;
    for (long i = 0; i < 2 * BATCH_ITEMS; i++)
        missing += !batch_seen[i];
    CHECK_EQ_INT(missing, 0);
    free(batch_seen);
    queue_free(mt_queue);
}

int main(void) {
    RUN(test_create);
    RUN(test_capacity_one);
    RUN(test_capacities);
    RUN(test_wrap_around);
    RUN(test_pop_n);
    RUN(test_multi_producer);
    RUN(test_pop_n_threads);
    return test_report("queue");
}
