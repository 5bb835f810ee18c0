/* stream: standard stream lines as log records. See stream.h.
 *
 * A line being assembled is a record of the line pool whose arena starts
 * with the line buffer (STREAM_LINE_MAX bytes); the rest of the slot holds
 * the attribute and the U+FFFD replacements of a line that is not UTF-8.
 * A line that ends short enough is copied into a record of the record pool
 * (STREAM_RECORD_SLOT bytes) and its line slot goes back on top of its
 * pool's stack, to be the next line's: the records that wait in the queue
 * take an eighth of a page each, not a page. Pool memory is touched only as
 * it is first used, and a first touch is a page fault (~15 us on the VMs we
 * measure on): with 4 KiB records, a chatty program filling the queue
 * faulted once per record, most of what capture cost it. Longer lines keep
 * their line slot as their record. A short line whole within one write
 * (most lines) goes into its record straight, without a line slot.
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

/* Room after the line (once the 8-slot attribute list attrs_put made, and
 * the key and value strings; kept so that long lines are cut where they
 * were). */
#define ATTR_ROOM (8 * sizeof(struct attr) + 64)
const size_t STREAM_LINE_MAX = STREAM_SLOT - sizeof(struct log_record) - ATTR_ROOM - 64;
/* Room in a record slot after the line: the attribute (one item, its
 * value's copy) and the arena's rounding of the three allocations. */
#define RECORD_ROOM (sizeof(struct attr) + 3 * 8 + 8)
const size_t STREAM_RECORD_LINE_MAX = STREAM_RECORD_SLOT - sizeof(struct log_record) - RECORD_ROOM;
_Static_assert(STREAM_RECORD_SLOT > sizeof(struct log_record) + RECORD_ROOM + 64,
               "a record slot holds a line of some length");

unsigned stream_capture;
static struct log_pool *pool;        /* lines being assembled, long lines */
static struct log_pool *record_pool; /* records of short lines */
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
    record_pool = log_pool_new(slots, STREAM_RECORD_SLOT);
    if (!pool || !record_pool) return -ENOMEM;
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

/* Makes the record of a line, len bytes at buf (len > 0, UTF-8, cut to
 * the value length limit): in a slot of the record pool when it fits one,
 * else in `line`, the line slot that holds buf (which goes back to its pool
 * in the first case). False, and nothing made, when there is neither. */
static bool emit(int idx, struct log_record *line, const char *buf, size_t len) {
    struct log_record *r = len <= STREAM_RECORD_LINE_MAX ? log_pool_get(record_pool) : NULL;
    if (r) {
        /* Arena room is reserved for this: neither allocation fails. */
        char *body = arena_alloc(&r->arena, len);
        memcpy(body, buf, len);
        buf = body;
        r->limits = &telemetry.cfg.log_attrs;
        if (line) log_record_free(line); /* on top of the line pool: the next line's */
    } else if (!(r = line)) {
        return false;
    }
    r->body = (struct attr_value){.type = ATTR_STRING, .u.s = str_of(buf, len)};
    r->time_ns = r->observed_ns = clock_now_ns();
    struct span_context ctx;
    if (telemetry_current_context(&ctx)) {
        r->has_context = true;
        memcpy(r->trace_id, ctx.trace_id, 16);
        memcpy(r->span_id, ctx.span_id, 8);
        r->flags = ctx.flags;
    }
    /* One item, exactly (attrs_put's first list has 8); the key is static. */
    const struct attr iostream = {
        .key = {.ptr = "log.iostream", .len = 12},
        .value = {.type = ATTR_STRING, .u.s = {.ptr = stream_names[idx], .len = 6}}};
    log_record_add_attrs(r, &iostream, 1);
    telemetry_log_push(r);
    return true;
}

/* A line whole within one write, len bytes at s before its newline, and no
 * line open: when it is short and UTF-8 (most lines), its record is made
 * straight from the caller's bytes, no line slot taken. True when done
 * (an empty line makes nothing); false: take the line path. */
static bool whole_line(int idx, const char *s, size_t len) {
    if (len && s[len - 1] == '\r') len--;
    if (!len) return true;
    if (len > STREAM_RECORD_LINE_MAX || !utf8_valid(s, len)) return false;
    return emit(idx, NULL, s, utf8_truncate(s, len, telemetry.cfg.log_attrs.value_length));
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
    (void)emit(idx, r, buf, len);
}

/* Newlines in [p, p + n): what a chatty program's buffers, skipped while
 * the queue is full or the rate reached, cost (nothing per line). 64 bytes
 * at a time, counted in byte lanes (a compare gives -1 per newline, at most
 * 4 per lane a block) and summed every 63 blocks (and the 16-byte rest),
 * before a lane can wrap;
 * the compiler's own vectorisation of a byte loop with a size_t count
 * widened every byte to 64 bits, 4x slower. */
typedef unsigned char bytes16 __attribute__((vector_size(16)));

static size_t lanes_sum(bytes16 acc) {
    uint64_t half[2];
    memcpy(half, &acc, sizeof half);
    size_t c = 0;
    for (int i = 0; i < 2; i++) {
        uint64_t w = (half[i] & 0x00ff00ff00ff00ffu) + ((half[i] >> 8) & 0x00ff00ff00ff00ffu);
        c += (size_t)((w * 0x0001000100010001u) >> 48); /* four 16-bit lanes, each <= 510 */
    }
    return c;
}

static inline bytes16 newlines16(const char *p, bytes16 nl) {
    bytes16 v;
    memcpy(&v, p, sizeof v);
    return (bytes16)(v == nl); /* 0xff per newline */
}

static size_t count_newlines(const char *p, size_t n) {
    const bytes16 nl = {'\n', '\n', '\n', '\n', '\n', '\n', '\n', '\n',
                        '\n', '\n', '\n', '\n', '\n', '\n', '\n', '\n'};
    size_t c = 0;
    while (n >= 16) {
        bytes16 acc = {0};
        size_t blocks = n / 64 < 63 ? n / 64 : 63;
        n -= blocks * 64;
        for (; blocks; blocks--, p += 64)
            acc -= newlines16(p, nl) + newlines16(p + 16, nl) + newlines16(p + 32, nl) +
                   newlines16(p + 48, nl);
        if (n < 64) /* the last blocks: at most 3 more a lane */
            for (; n >= 16; n -= 16, p += 16)
                acc -= newlines16(p, nl);
        c += lanes_sum(acc);
    }
    for (; n; n--)
        c += *p++ == '\n';
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
        if (!r && !queue_full && nl && whole_line(idx, p, (size_t)(nl - p))) {
            p = nl + 1;
            continue;
        }
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
