/* test_pool: the start-up reserve: what it gives is zeroed, 16-byte
 * aligned and never overlaps (4 threads allocating at once, also under
 * TSan); pool_free of it leaves it; once it is used up (or too small for a
 * request), pool_alloc is calloc and pool_free frees. Sanitizer builds have
 * no reserve: every call is calloc. Depends on core/pool.h, test.h. */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/pool.h"
#include "tests/unit/test.h"

#define THREADS 4
#define PER_THREAD 64
#define PIECE 40 /* 48 with alignment */

static unsigned char *pieces[THREADS][PER_THREAD];

static bool zeroed(const unsigned char *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i]) return false;
    return true;
}

static void *grab(void *arg) {
    unsigned char **mine = arg;
    for (int i = 0; i < PER_THREAD; i++) {
        mine[i] = pool_alloc(PIECE);
        if (mine[i]) memset(mine[i], (int)(i + 1), PIECE);
    }
    return NULL;
}

static int by_address(const void *a, const void *b) {
    uintptr_t x = (uintptr_t) * (unsigned char *const *)a,
              y = (uintptr_t) * (unsigned char *const *)b;
    return x < y ? -1 : x > y;
}

/* 4 threads x 64 pieces at once: each piece is zeroed when given, aligned,
 * and apart from every other (sorted, each ends before the next begins). */
static void test_concurrent(void) {
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        REQUIRE(pthread_create(&t[i], NULL, grab, pieces[i]) == 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    unsigned char *all[THREADS * PER_THREAD];
    for (int i = 0; i < THREADS; i++)
        for (int j = 0; j < PER_THREAD; j++) {
            REQUIRE(pieces[i][j]);
            CHECK_EQ_INT(pieces[i][j][PIECE - 1], j + 1); /* nobody wrote over it */
            CHECK_EQ_INT((uintptr_t)pieces[i][j] % 16, 0);
            all[i * PER_THREAD + j] = pieces[i][j];
        }
    qsort(all, THREADS * PER_THREAD, sizeof *all, by_address);
    int overlaps = 0;
    for (int i = 1; i < THREADS * PER_THREAD; i++)
        overlaps += all[i - 1] + PIECE > all[i];
    CHECK_EQ_INT(overlaps, 0);
    for (int i = 0; i < THREADS; i++)
        for (int j = 0; j < PER_THREAD; j++)
            pool_free(pieces[i][j]);
}

/* Until the reserve runs out, pieces are zeroed; past it, calloc: still
 * zeroed, and freed by pool_free (ASan would report a leak or a bad free
 * otherwise). A request bigger than the whole reserve is calloc at once. */
static void test_exhaustion(void) {
    void *big = pool_alloc(1u << 20);
    REQUIRE(big);
    CHECK(zeroed(big, 1u << 20));
    pool_free(big);
    unsigned char *p = NULL;
    for (int i = 0; i < 100; i++) { /* 100 x 1 KiB is past a 64 KiB reserve */
        p = pool_alloc(1024);
        REQUIRE(p);
        CHECK(zeroed(p, 1024));
        memset(p, 0xab, 1024);
        pool_free(p);
    }
    p = pool_alloc(0);
    pool_free(p);
    pool_free(NULL);
}

int main(void) {
    RUN(test_concurrent);
    RUN(test_exhaustion);
    return test_report("pool");
}
