/* threads: one span per thread, child of the creating thread's current
 * span, with thread.id (kernel tid) and thread.name as the thread was named
 * by the time it ended.
 *
 * pthread_create builds the thread's span and runs the start routine
 * through a trampoline that starts the span (its start time and tid),
 * makes it the thread's current span and ends it when the routine
 * returns, calls pthread_exit or is cancelled (a cleanup handler). Live
 * thread spans sit in a fixed table of slots (claimed with one CAS, no
 * lock), which is how pthread_setname_np on another thread finds the span
 * and how the process's exit ends the spans of threads still running,
 * marked thread.cut_short. The exporter completes the span off the
 * thread's path: an unnamed thread's span is named after its start routine
 * (dladdr is too slow here), and thread.id and the thread.start and
 * thread.exit events are added.
 * Depends on core/ and process.c. */
#include <errno.h>
#include <link.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <linux/prctl.h>
#include <stdarg.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/cold.h"
#include "core/guard.h"
#include "core/ids.h"
#include "core/reader.h"
#include "core/telemetry.h"
#include "hooks/hooks.h"
#include "preload/symbols.h"

#define THREAD_SLOTS 4096
#define NAME_LEN 16

struct thread_slot {
    _Atomic(struct span *) span;
    pthread_t handle;
    _Atomic int named;
    char name[NAME_LEN];
};

static struct thread_slot slots[THREAD_SLOTS] OTELP_COLD;
/* The table (160 KiB of pages untouched until used) in 64 groups of 64
 * slots: a bit for each group a slot was ever claimed in. The exit path,
 * fork children and lookups look only there. Set once per group, it is
 * read, not written, per thread: a count of live slots here was an atomic
 * add on a line shared by all threads at each thread's start and end. */
#define GROUP (THREAD_SLOTS / 64)
static _Atomic uint64_t used_groups;
static _Thread_local int my_slot __attribute__((tls_model("initial-exec"))) = -1;
/* The thread's own span: at its end another span (otelp.h's) may be
 * current. */
static _Thread_local struct span *my_span __attribute__((tls_model("initial-exec")));

/* Names given to a thread before it claimed its slot (its creator names it
 * right after pthread_create). Each side publishes first and then looks at
 * the other's table (seq_cst), so one of them always sees the other. */
#define PENDING 16
static struct {
    _Atomic int used;
    _Atomic(pthread_t) handle;
    char name[NAME_LEN];
} pending[PENDING] OTELP_COLD; /* read only once pending_n says so */
/* Entries published (counted after, so a thread that reads 0 here claimed
 * its slot before the namer looked for it): most threads look no further. */
static _Atomic int pending_n;

static void remember_name(int slot, const char *name);

static void take_pending_name(int slot) {
    if (!atomic_load(&pending_n)) return;
    pthread_t self = pthread_self();
    for (int i = 0; i < PENDING; i++)
        if (atomic_load(&pending[i].used) == 2 &&
            pthread_equal(atomic_load(&pending[i].handle), self)) {
            remember_name(slot, pending[i].name);
            atomic_store(&pending[i].used, 0);
            atomic_fetch_sub(&pending_n, 1);
        }
}

static void add_pending_name(pthread_t th, const char *name) {
    for (int i = 0; i < PENDING; i++) {
        int free_ = 0;
        if (!atomic_compare_exchange_strong(&pending[i].used, &free_, 1)) continue;
        size_t n = strnlen(name, NAME_LEN - 1);
        memcpy(pending[i].name, name, n);
        pending[i].name[n] = '\0';
        atomic_store(&pending[i].handle, th);
        atomic_store(&pending[i].used, 2);
        atomic_fetch_add(&pending_n, 1);
        return;
    }
}

static int claim_slot(struct span *s, pid_t tid) {
    unsigned h = (unsigned)tid % THREAD_SLOTS;
    for (unsigned i = 0; i < THREAD_SLOTS; i++) {
        struct thread_slot *t = &slots[(h + i) % THREAD_SLOTS];
        struct span *none = NULL;
        if (atomic_load_explicit(&t->span, memory_order_relaxed) == NULL &&
            atomic_compare_exchange_strong(&t->span, &none, s)) {
            t->handle = pthread_self();
            /* A plain store: the CAS before it was the fence. */
            atomic_store_explicit(&t->named, 0, memory_order_relaxed);
            int slot = (int)((h + i) % THREAD_SLOTS);
            uint64_t bit = 1ull << (slot / GROUP);
            if (!(atomic_load_explicit(&used_groups, memory_order_relaxed) & bit))
                atomic_fetch_or(&used_groups, bit);
            take_pending_name(slot);
            return slot;
        }
    }
    return -1;
}

/* Ends s as the thread's span, with the name it was given (the exporter adds
 * the rest: span.thread_id). */
static void finish_thread_span(struct span *s, struct thread_slot *t, bool cut_short) {
    uint64_t now = clock_now_ns();
    if (t && atomic_load(&t->named)) {
        char name[NAME_LEN];
        memcpy(name, t->name, NAME_LEN);
        name[NAME_LEN - 1] = '\0';
        struct str copy;
        if (arena_strdup(&s->arena, str_cstr(name), UINT32_MAX, &copy) == 0) {
            s->name = copy;
            s->symbolize = NULL; /* named: not after its routine */
        }
    }
    if (cut_short) span_set_bool(s, "thread.cut_short", true);
    telemetry_span_end(s, now);
}

static void thread_end(void *arg) {
    (void)arg;
    crash_thread_end();
    int slot = my_slot;
    my_slot = -1;
    struct span *s = telemetry_current_span() ? my_span : NULL;
    my_span = NULL;
    telemetry_set_current_span(NULL);
    if (!s) return;
    /* No slot: the table was full when the thread started. */
    struct thread_slot *t = slot < 0 ? NULL : &slots[slot];
    /* The process's exit may have taken the span already. */
    struct span *expected = s;
    if (t && !atomic_compare_exchange_strong(&t->span, &expected, NULL)) return;
    guard_enter();
    finish_thread_span(s, t, false);
    guard_leave();
}

/* The calling thread's kernel tid without a system call: glibc's
 * pthread_getcpuclockid computes the thread's CPU clock id from the tid it
 * keeps, in the kernel's encoding (~tid << 3 | CPUCLOCK_PERTHREAD_MASK 4 |
 * CPUCLOCK_SCHED 2). */
static pid_t thread_tid(void) {
    clockid_t c;
    if (pthread_getcpuclockid && pthread_getcpuclockid(pthread_self(), &c) == 0 && (c & 7) == 6)
        return (pid_t)(~(unsigned)c >> 3);
    return (pid_t)syscall(SYS_gettid);
}

/* The new thread's span was built by its creator: the thread adds what
 * only it knows (its start time and tid) into the span's first line, which
 * also holds its start routine, argument and seed. */
static void *trampoline(void *p) {
    struct span *s = p;
    void *(*fn)(void *) = (void *(*)(void *))s->symbolize;
    void *arg = s->thread_arg;
    guard_enter();
    ids_seed_thread(s->thread_seed);
    s->start_ns = clock_now_ns();
    pid_t tid = thread_tid();
    s->thread_id = tid;
    telemetry_set_current_span(s);
    my_span = s;
    my_slot = claim_slot(s, tid); /* -1, table full: still traced, not cut short at exit */
    crash_thread_start(true);     /* a stack overflow here is caught too */
    guard_leave();
    void *ret;
#if defined(__GLIBC__)
    if (!__pthread_register_cancel) {
        /* glibc before 2.34 whose libpthread came after the shim was bound
         * (preload/abi_floor.h): no cancellation handler, pthread_exit is
         * still seen by its hook. */
        ret = fn(arg);
        thread_end(NULL);
        return ret;
    }
#endif
    pthread_cleanup_push(thread_end, NULL);
    ret = fn(arg);
    pthread_cleanup_pop(1);
    return ret;
}

/* The TSan runtime loaded ahead of us (the TSan build of our test suite
 * preloads it first) starts threads through this hook: its own background
 * thread (in the fork child of a single-threaded parent, among other
 * places) and, from its interceptor, the program's. It has not set such a
 * thread up when our trampoline would run in it, which crashes it. So
 * threads started from TSan's code pass straight through, untraced (ASan's
 * interceptor, which also forwards to us, is fine with the trampoline).
 * Where TSan's code lies is found once, at the first thread a process
 * starts. */
static struct {
    _Atomic int state; /* 0 unknown, 1 looking, 2 known */
    uintptr_t lo, hi;  /* TSan's runtime: [lo, hi), empty when not loaded */
} tsan;

static int find_tsan(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    (void)data;
    const char *base = strrchr(info->dlpi_name, '/');
    base = base ? base + 1 : info->dlpi_name;
    if (strncmp(base, "libtsan", 7) && strncmp(base, "libclang_rt.tsan", 16)) return 0;
    uintptr_t lo = UINTPTR_MAX, hi = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD) continue;
        uintptr_t a = info->dlpi_addr + ph->p_vaddr;
        if (a < lo) lo = a;
        if (a + ph->p_memsz > hi) hi = a + ph->p_memsz;
    }
    tsan.lo = lo;
    tsan.hi = hi;
    return 1; /* found: stop */
}

static bool from_tsan(uintptr_t caller) {
    if (atomic_load_explicit(&tsan.state, memory_order_acquire) != 2) {
        int expected = 0;
        if (!atomic_compare_exchange_strong(&tsan.state, &expected, 1)) return false;
        dl_iterate_phdr(find_tsan, NULL);
        atomic_store_explicit(&tsan.state, 2, memory_order_release);
    }
    return caller >= tsan.lo && caller < tsan.hi;
}

HOOK_EXPORT int pthread_create(pthread_t *thread, const pthread_attr_t *attr, void *(*fn)(void *),
                               void *arg) {
    if (!REAL(pthread_create)) return EAGAIN;
    if (preload_active && !guard_active()) {
        int e = errno;
        reader_poke_now(); /* a due metric collection starts the worker */
        errno = e;
    }
    if (!preload_active || guard_active() || !telemetry.spans ||
        from_tsan((uintptr_t)__builtin_return_address(0)))
        return real_pthread_create(thread, attr, fn, arg);
    int saved_errno = errno;
    /* The creator builds the thread's span, so the new thread touches
     * only the span's first line: its start routine, argument and seed in,
     * its start time and tid out (a line last written on another core costs
     * a transfer, and the program waits on the new thread's path). No
     * thread calls malloc or free for it either: a thread that calls free()
     * makes glibc set up (and at its exit tear down) a malloc cache for it,
     * which costs more than the rest of what we do per thread. */
    struct span_context parent;
    const char *state;
    size_t state_len;
    bool has_parent = process_child_context(false, &parent, &state, &state_len);
    struct span *s =
        telemetry_span_start(str_of("thread", 6), has_parent ? &parent : NULL,
                             has_parent ? str_of(state, state_len) : str_of("", 0), 0, 0);
    errno = saved_errno;
    if (!s) return real_pthread_create(thread, attr, fn, arg);
    s->symbolize = (void *)fn;
    s->thread_arg = arg;
    s->thread_seed = ids_thread_seed();
    s->reserved_events = 2; /* thread.start and thread.exit */
    int rc = real_pthread_create(thread, attr, trampoline, s);
    if (rc) span_free(s);
    errno = saved_errno;
    return rc;
}

HOOK_EXPORT void pthread_exit(void *ret) {
    /* The trampoline's cleanup handler ends the span. */
    REAL(pthread_exit)(ret);
    __builtin_unreachable();
}

static void remember_name(int slot, const char *name) {
    if (slot < 0 || !name) return;
    struct thread_slot *t = &slots[slot];
    size_t n = strnlen(name, NAME_LEN - 1);
    memcpy(t->name, name, n);
    t->name[n] = '\0';
    atomic_store(&t->named, 1);
}

/* Calls fn on each slot of the groups ever used; stops at a nonzero result. */
static int each_used_slot(int (*fn)(int slot, void *arg), void *arg) {
    uint64_t used = atomic_load(&used_groups);
    for (int g = 0; used; g++, used >>= 1)
        for (int i = g * GROUP; (used & 1) && i < (g + 1) * GROUP; i++) {
            int r = fn(i, arg);
            if (r) return r;
        }
    return 0;
}

static int is_handle(int slot, void *th) {
    return atomic_load_explicit(&slots[slot].span, memory_order_relaxed) &&
                   pthread_equal(slots[slot].handle, *(pthread_t *)th)
               ? slot + 1
               : 0;
}

static int slot_of(pthread_t th) {
    if (pthread_equal(th, pthread_self())) return my_slot;
    return each_used_slot(is_handle, &th) - 1;
}

HOOK_EXPORT int pthread_setname_np(pthread_t th, const char *name) {
    if (!REAL(pthread_setname_np)) return ENOSYS;
    int rc = real_pthread_setname_np(th, name);
    if (rc == 0 && preload_active && !guard_active()) {
        int saved_errno = errno;
        int slot = slot_of(th);
        if (slot < 0 && !pthread_equal(th, pthread_self())) {
            add_pending_name(th, name); /* the thread has not claimed a slot yet */
            slot = slot_of(th);
        }
        remember_name(slot, name);
        errno = saved_errno;
    }
    return rc;
}

/* glibc declares prctl variadic; it reads four unsigned longs. */
HOOK_EXPORT int prctl(int option, ...) {
    va_list ap;
    va_start(ap, option);
    unsigned long a2 = va_arg(ap, unsigned long), a3 = va_arg(ap, unsigned long);
    unsigned long a4 = va_arg(ap, unsigned long), a5 = va_arg(ap, unsigned long);
    va_end(ap);
    int rc = REAL(prctl) ? real_prctl(option, a2, a3, a4, a5)
                         : (int)syscall(SYS_prctl, option, a2, a3, a4, a5);
    /* (a vfork child names itself, not the parent's thread whose memory it borrows) */
    if (rc == 0 && option == PR_SET_NAME && preload_active && !guard_active() &&
        !process_in_vfork_child())
        remember_name(my_slot, (const char *)a2);
    return rc;
}

static int cut_short(int slot, void *in_signal) {
    struct span *s = atomic_load_explicit(&slots[slot].span, memory_order_acquire);
    if (!s || !atomic_compare_exchange_strong(&slots[slot].span, &s, NULL)) return 0;
    if (*(bool *)in_signal) s->arena.no_malloc = true;
    finish_thread_span(s, &slots[slot], true);
    return 0;
}

OTELP_FIRST void threads_cut_short(bool in_signal) {
    each_used_slot(cut_short, &in_signal);
}

static int forget(int slot, void *unused) {
    (void)unused;
    atomic_store_explicit(&slots[slot].span, NULL, memory_order_relaxed);
    return 0;
}

void threads_after_fork_child(void) {
    /* Only the forking thread goes on in the child, and it has a new root
     * span: the parent's thread spans are not ours to end. */
    each_used_slot(forget, NULL);
    atomic_store(&used_groups, 0);
    my_slot = -1;
    my_span = NULL;
}
