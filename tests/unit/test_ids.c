/* test_ids: random ids are non-zero and unique, UUIDs are version 4, each
 * thread has its own generator (seeded by its creator, or not), a fork
 * child repeats its parent's sequence unless ids_after_fork() runs (then it
 * differs), the clocks move, and clock_fast_ns keeps to the real clock.
 * Depends on core/ids.h and test.h. */
#include <pthread.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/ids.h"
#include "tests/unit/test.h"

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void test_span_ids_unique(void) {
    enum { N = 100000 };
    uint64_t *ids = malloc(N * sizeof *ids);
    REQUIRE(ids);
    for (int i = 0; i < N; i++) {
        uint8_t id[8];
        ids_new_span_id(id);
        CHECK(!id_is_zero(id, 8));
        memcpy(&ids[i], id, 8);
    }
    qsort(ids, N, sizeof *ids, cmp_u64);
    int dups = 0;
    for (int i = 1; i < N; i++)
        dups += ids[i] == ids[i - 1];
    CHECK_EQ_INT(dups, 0);
    free(ids);
}

static int cmp_tid(const void *a, const void *b) {
    return memcmp(a, b, 16);
}

static void test_trace_ids_unique(void) {
    enum { N = 100000 };
    uint8_t(*ids)[16] = malloc(N * sizeof *ids);
    REQUIRE(ids);
    int zero_halves = 0;
    for (int i = 0; i < N; i++) {
        ids_new_trace_id(ids[i]);
        CHECK(!id_is_zero(ids[i], 16));
        zero_halves += id_is_zero(ids[i], 8) || id_is_zero(ids[i] + 8, 8);
    }
    CHECK_EQ_INT(zero_halves, 0); /* both halves random: a zero half is ~2^-64 */
    qsort(ids, N, sizeof *ids, cmp_tid);
    int dups = 0;
    for (int i = 1; i < N; i++)
        dups += !memcmp(ids[i], ids[i - 1], 16);
    CHECK_EQ_INT(dups, 0);
    free(ids);
}

/* Each bit of ids_random_u64 is set about half the time. */
static void test_bits_balanced(void) {
    int ones[64] = {0};
    const int n = 20000;
    for (int i = 0; i < n; i++) {
        uint64_t v = ids_random_u64();
        for (int b = 0; b < 64; b++)
            ones[b] += (int)((v >> b) & 1);
    }
    for (int b = 0; b < 64; b++) {
        test_checks++;
        if (ones[b] < n * 4 / 10 || ones[b] > n * 6 / 10)
            TEST_FAIL_("bit %d set %d times of %d", b, ones[b], n);
    }
}

static bool is_lower_hex(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static void test_uuid4(void) {
    char prev[37] = "";
    for (int n = 0; n < 1000; n++) {
        char u[37];
        memset(u, 'Z', sizeof u);
        ids_uuid4(u);
        CHECK_EQ_INT(strlen(u), 36);
        for (int i = 0; i < 36; i++) {
            test_checks++;
            if (i == 8 || i == 13 || i == 18 || i == 23) {
                if (u[i] != '-') TEST_FAIL_("uuid %s: no '-' at %d", u, i);
            } else if (!is_lower_hex(u[i])) {
                TEST_FAIL_("uuid %s: not lower-case hex at %d", u, i);
            }
        }
        CHECK_EQ_INT(u[14], '4');             /* version 4 */
        CHECK(strchr("89ab", u[19]) != NULL); /* RFC 4122 variant */
        CHECK(strcmp(u, prev) != 0);
        memcpy(prev, u, sizeof u);
    }
}

static void *thread_first_values(void *arg) {
    uint64_t *out = arg;
    for (int i = 0; i < 4; i++)
        out[i] = ids_random_u64();
    return NULL;
}

static void test_threads_differ(void) {
    uint64_t a[4], b[4];
    pthread_t t1, t2;
    REQUIRE(pthread_create(&t1, NULL, thread_first_values, a) == 0);
    REQUIRE(pthread_create(&t2, NULL, thread_first_values, b) == 0);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    CHECK(memcmp(a, b, sizeof a) != 0);
}

/* A thread seeded by its creator (ids_thread_seed -> ids_seed_thread):
 * the seed alone decides its sequence, different seeds give different
 * ones, and a fork still reseeds it. */
static void test_creator_seed(void) {
    uint64_t seed = ids_thread_seed(), other = ids_thread_seed();
    CHECK(seed != other);
    uint64_t a[4], b[4], c[4];
    ids_seed_thread(seed);
    thread_first_values(a);
    ids_seed_thread(other);
    thread_first_values(b);
    ids_seed_thread(seed);
    thread_first_values(c);
    CHECK(memcmp(a, b, sizeof a) != 0);
    CHECK(memcmp(a, c, sizeof a) == 0);
    ids_seed_thread(seed);
    ids_after_fork();
    thread_first_values(c);
    CHECK(memcmp(a, c, sizeof a) != 0);
}

/* Forks; the child optionally calls ids_after_fork, then both draw 8
 * values. Returns true when the sequences were equal. */
static bool fork_sequences_equal(bool after_fork, bool *ok) {
    enum { K = 8 };
    int p[2];
    *ok = false;
    (void)ids_random_u64(); /* the parent's generator is seeded before the fork */
    if (pipe(p) < 0) return false;
    pid_t pid = fork();
    if (pid < 0) return false;
    if (pid == 0) {
        if (after_fork) ids_after_fork();
        uint64_t v[K];
        for (int i = 0; i < K; i++)
            v[i] = ids_random_u64();
        ssize_t w = write(p[1], v, sizeof v);
        _exit(w == (ssize_t)sizeof v ? 0 : 1);
    }
    close(p[1]);
    uint64_t mine[K], theirs[K];
    for (int i = 0; i < K; i++)
        mine[i] = ids_random_u64();
    size_t got = 0;
    while (got < sizeof theirs) {
        ssize_t n = read(p[0], (char *)theirs + got, sizeof theirs - got);
        if (n <= 0) break;
        got += (size_t)n;
    }
    close(p[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    *ok = got == sizeof theirs && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    return !memcmp(mine, theirs, sizeof mine);
}

static void test_fork(void) {
    bool ok;
    /* Without the fork hook a child repeats the parent: the reason it exists. */
    bool same = fork_sequences_equal(false, &ok);
    REQUIRE(ok);
    CHECK(same);
    same = fork_sequences_equal(true, &ok);
    REQUIRE(ok);
    CHECK(!same);
}

static void test_clocks(void) {
    uint64_t now = clock_now_ns();
    CHECK(now > 1577836800ull * 1000000000ull); /* after 2020-01-01 */
    uint64_t prev = clock_mono_ns();
    for (int i = 0; i < 1000; i++) {
        uint64_t t = clock_mono_ns();
        CHECK(t >= prev);
        prev = t;
    }
}

/* clock_fast_ns stays within 50 us of the real clock (its error is the
 * TSC rate's over a millisecond: tens of ns), bracketed by real reads,
 * before its rate is known (the first 10 ms: real reads) and after, across
 * its once-a-millisecond real reads, and in a fork child. */
static void check_fast_clock(int ms) {
    const uint64_t slack = 50000;
    uint64_t start = clock_mono_ns(), bad = 0, n = 0;
    while (clock_mono_ns() - start < (uint64_t)ms * 1000000u && n < 100000000u) {
        uint64_t r0 = clock_now_ns();
        uint64_t f = clock_fast_ns();
        uint64_t r1 = clock_now_ns();
        if (f + slack < r0 || f > r1 + slack) bad++;
        n++;
    }
    CHECK(n > 0);
    CHECK_EQ_INT(bad, 0);
}

static void test_fast_clock(void) {
    check_fast_clock(40);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        ids_after_fork();
        uint64_t r0 = clock_now_ns(), f = clock_fast_ns(), r1 = clock_now_ns();
        _exit(f + 50000 >= r0 && f <= r1 + 50000 ? 0 : 1);
    }
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void test_id_is_zero(void) {
    uint8_t id[8] = {0};
    CHECK(id_is_zero(id, 8));
    id[7] = 1;
    CHECK(!id_is_zero(id, 8));
    CHECK(id_is_zero(id, 7));
}

int main(void) {
    RUN(test_span_ids_unique);
    RUN(test_trace_ids_unique);
    RUN(test_bits_balanced);
    RUN(test_uuid4);
    RUN(test_threads_differ);
    RUN(test_creator_seed);
    RUN(test_fork);
    RUN(test_clocks);
    RUN(test_fast_clock);
    RUN(test_id_is_zero);
    return test_report("ids");
}
