/* stream: standard stream lines as log records. See stream.h.
 *
 * A line being assembled is a pooled record whose arena starts with the
 * line buffer (STREAM_LINE_MAX bytes); the rest of the slot holds the
 * attribute list and the U+FFFD replacements of a line that is not UTF-8.
 * The thread's record pointers live in initial-exec TLS (no allocation to
 * touch them). A thread that ever held a line gets a pthread key value, so
 * the key's destructor emits what is left when the thread exits. */
#include "core/cold.h"
#include "core/stream.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#include "core/guard.h"
#include "core/ids.h"
#include "core/log.h"
#include "core/telemetry.h"

/* Room after the line: the attribute list grows to 8 slots at once, plus
 * the key and value strings. */
#define ATTR_ROOM (8 * sizeof(struct attr) + 64)
const size_t STREAM_LINE_MAX = STREAM_SLOT - sizeof(struct log_record) - ATTR_ROOM - 64;

unsigned stream_capture;
static struct log_pool *pool;
static pthread_key_t exit_key;
/* The rate: lines begun in the current one-second window (a fixed window,
 * per process; approximate under races, which is all it needs to be). */
static uint32_t rate_limit;
static _Atomic uint64_t window_start_ns;
static _Atomic uint32_t window_lines;

static _Thread_local struct log_record *tls_line[2] __attribute__((tls_model("initial-exec")));
/* The pool was empty when this line began: skip the rest of it. */
static _Thread_local bool tls_skipping[2] __attribute__((tls_model("initial-exec")));
static _Thread_local bool tls_registered __attribute__((tls_model("initial-exec")));

static const char *const stream_names[2] = {"stdout", "stderr"};

static void on_thread_exit(void *value) {
    (void)value;
    guard_enter();
    stream_flush_thread();
    guard_leave();
}

int stream_init(unsigned streams, uint32_t slots, uint32_t rate) {
    streams &= (1u << 1) | (1u << 2);
    if (!streams) return 0;
    rate_limit = rate;
    atomic_store(&window_start_ns, clock_mono_ns());
    atomic_store(&window_lines, 0);
    pool = log_pool_new(slots, STREAM_SLOT);
    if (!pool) return -ENOMEM;
    /* Weak (preload/abi_floor.h): without libpthread there is one thread. */
    if (pthread_key_create && pthread_key_create(&exit_key, on_thread_exit) != 0) return -ENOMEM;
    stream_capture = streams;
    return 0;
}

static struct log_record *begin_line(int idx) {
    struct log_record *r = log_pool_get(pool);
    if (!r) return NULL;
    char *buf = arena_alloc(&r->arena, STREAM_LINE_MAX);
    r->body = (struct attr_value){.type = ATTR_STRING, .u.s = str_of(buf, 0)};
    r->limits = &telemetry.cfg.log_attrs;
    tls_line[idx] = r;
    if (!tls_registered) {
        tls_registered = true;
        if (pthread_setspecific) pthread_setspecific(exit_key, (void *)1);
    }
    return r;
}

/* Ends the thread's line on stream idx: a record, unless it is empty. */
static void end_line(int idx) {
    struct log_record *r = tls_line[idx];
    tls_line[idx] = NULL;
    if (!r) return;
    char *buf = (char *)r->body.u.s.ptr;
    size_t len = r->body.u.s.len;
    if (len && buf[len - 1] == '\r') len--;
    if (!len) {
        log_record_free(r);
        return;
    }
    if (!utf8_valid(buf, len)) {
        size_t need = utf8_sanitized_len(buf, len);
        len = utf8_sanitize_in_place(buf, len, STREAM_LINE_MAX);
        if (len < need) telemetry_log_count_truncated();
    }
    len = utf8_truncate(buf, len, r->limits->value_length);
    r->body.u.s.len = (uint32_t)len;
    r->time_ns = r->observed_ns = clock_now_ns();
    struct span_context ctx;
    if (telemetry_current_context(&ctx)) {
        r->has_context = true;
        memcpy(r->trace_id, ctx.trace_id, 16);
        memcpy(r->span_id, ctx.span_id, 8);
        r->flags = ctx.flags;
    }
    (void)log_record_set_str(r, "log.iostream", stream_names[idx], 6);
    telemetry_log_push(r);
}

/* Newlines in [p, p + n): a loop the compiler vectorises (a chatty
 * program's buffers, skipped while the pool is empty, cost this and
 * nothing per line). */
static size_t count_newlines(const char *p, size_t n) {
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += p[i] == '\n';
    return c;
}

/* True when a new line may begin: within the rate, or a new window. */
static bool within_rate(void) {
    if (!rate_limit) return true;
    if (atomic_fetch_add_explicit(&window_lines, 1, memory_order_relaxed) < rate_limit) return true;
    uint64_t now = clock_mono_ns(),
             start = atomic_load_explicit(&window_start_ns, memory_order_relaxed);
    if (now - start < 1000000000u) return false;
    /* One thread opens the next window. */
    if (!atomic_compare_exchange_strong(&window_start_ns, &start, now)) return false;
    atomic_store_explicit(&window_lines, 1, memory_order_relaxed);
    return true;
}

void stream_write(int fd, const void *data, size_t n) {
    if (fd < 1 || fd > 2 || !(stream_capture & (1u << fd)) || !pool) return;
    int idx = fd - 1;
    const char *p = data, *end = p + n;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (tls_skipping[idx]) {
            if (!nl) return;
            tls_skipping[idx] = false;
            p = nl + 1;
            continue;
        }
        struct log_record *r = tls_line[idx];
        bool queue_full = !r && (!within_rate() || telemetry_log_queue_full());
        if (!r && (queue_full || !(r = begin_line(idx)))) {
            /* The queue is full (or the rate reached), or the pool empty:
             * neither empties within this buffer (records leave on the
             * export thread; the rate's window lasts a second), so every
             * line that starts in it is dropped, counted at once and
             * never made (a chatty program pays a scan of its buffer, not
             * a record per line); a line still open at its end is skipped
             * up to its newline in later writes. */
            size_t left = (size_t)(end - p), lines = count_newlines(p, left);
            bool open = p[left - 1] != '\n';
            if (queue_full)
                telemetry_log_count_queue_full(lines + (open ? 1 : 0));
            else
                telemetry_log_count_dropped_n(lines + (open ? 1 : 0));
            tls_skipping[idx] = open;
            return;
        }
        char *buf = (char *)r->body.u.s.ptr;
        size_t len = r->body.u.s.len;
        size_t take = (size_t)((nl ? nl : end) - p);
        bool full = take >= STREAM_LINE_MAX - len;
        if (full) take = STREAM_LINE_MAX - len;
        memcpy(buf + len, p, take);
        len += take;
        p += take;
        if (full) {
            /* A long line goes in pieces, cut between characters. */
            size_t keep = utf8_complete_prefix(buf, len);
            char tail[4];
            size_t carry = len - keep;
            memcpy(tail, buf + keep, carry);
            r->body.u.s.len = (uint32_t)keep;
            end_line(idx);
            if (carry && (r = begin_line(idx))) {
                memcpy((char *)r->body.u.s.ptr, tail, carry);
                r->body.u.s.len = (uint32_t)carry;
            }
            continue;
        }
        r->body.u.s.len = (uint32_t)len;
        if (nl == p) {
            p++; /* the newline */
            end_line(idx);
        }
    }
}

OTELP_FIRST void stream_flush_thread(void) {
    if (!stream_capture) return;
    end_line(0);
    end_line(1);
    tls_skipping[0] = tls_skipping[1] = false;
}
