/* crash: what a fatal signal leaves on the trace, and the alternate stacks
 * the handler runs on. See docs/CRASH.md for what is recorded.
 *
 * Design. The handler (signals.c calls crash_capture) runs on the crashing
 * thread, on an alternate stack (crash_thread_start gives every thread the
 * shim sees start one, with a guard page; a stack the program installed is
 * kept). In the handler itself only async-signal-safe work happens: it
 * copies the signal (siginfo, the thread, the assertion if __assert_fail
 * ran) and formats the exception's type and message into static memory.
 * Everything else, unwinding with libunwind, symbol and build-id look-ups,
 * demangling a C++ exception, building and exporting the FATAL log record,
 * runs in a helper process: a copy of this one made with a raw clone (no
 * atfork handlers), in which the crashing thread is the only thread. In the
 * copy, malloc, dlopen and dl_iterate_phdr are allowed: a lock another
 * thread held at the crash is held for good there, and a bad pointer kills
 * only the copy, so the handler waits for it within the crash budget
 * (OTEL_PRELOAD_CRASH_TIMEOUT), kills it if it is late, and goes on with
 * what it wrote so far (the raw frames first). When no copy can be made
 * (seccomp, no memory), the handler walks the frame pointers itself with
 * checked reads (process_vm_readv): addresses only. The copy writes its
 * results into a shared mapping made at the crash; nothing is mapped
 * before a crash but the alternate stacks (untouched pages cost nothing).
 * Then the handler adds the exception to the crashing thread's span and
 * the root span, and signals.c flushes and dies as the program would have.
 *
 * Depends on core/, exporters/ (the copy exports the log record), libdl,
 * and at a crash only, libunwind (dlopen'd in the copy). */
#include <assert.h>
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#define UNW_LOCAL_ONLY
#include <libunwind.h>

#include "core/cold.h"
#include "core/exe.h"
#include "core/guard.h"
#include "core/ids.h"
#include "core/log.h"
#include "core/telemetry.h"
#include "exporters/exporter.h"
#include "hooks/hooks.h"
#include "preload/symbols.h"

#define CRASH_FRAMES 128
#define STACK_TEXT 24576

/* ---- alternate stacks ---- */

/* 256 KiB: the handler's own work (the exit flush encodes and sends from
 * it), and the copy's (dlopen, libunwind, the log export) runs on the same
 * stack. Reserved, not committed: a thread that never takes a signal
 * touches none of it. Stacks of ended threads are kept for new ones. */
#define ALT_SIZE (256 * 1024)
#define ALT_GUARD 4096
#define ALT_SPARES 16

static _Thread_local void *my_alt __attribute__((tls_model("initial-exec")));
static _Atomic(void *) alt_spares[ALT_SPARES];

OTELP_FIRST static void *alt_new(void) {
    for (int i = 0; i < ALT_SPARES; i++) {
        void *p = atomic_exchange_explicit(&alt_spares[i], NULL, memory_order_acquire);
        if (p) return p;
    }
    char *m = mmap(NULL, ALT_GUARD + ALT_SIZE, PROT_NONE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (m == MAP_FAILED) return NULL;
    if (mprotect(m + ALT_GUARD, ALT_SIZE, PROT_READ | PROT_WRITE) < 0) {
        munmap(m, ALT_GUARD + ALT_SIZE);
        return NULL;
    }
    return m + ALT_GUARD; /* the guard page lies below: stacks grow down */
}

static void alt_free(void *p) {
    for (int i = 0; i < ALT_SPARES; i++) {
        void *expected = NULL;
        if (atomic_compare_exchange_strong_explicit(&alt_spares[i], &expected, p,
                                                    memory_order_release, memory_order_relaxed))
            return;
    }
    munmap((char *)p - ALT_GUARD, ALT_GUARD + ALT_SIZE);
}

OTELP_FIRST void crash_thread_start(bool fresh) {
    stack_t old;
    /* A new thread has none; the main thread may have one already (the
     * program's, or another preloaded library's): kept. */
    if (!fresh && (sigaltstack(NULL, &old) < 0 || !(old.ss_flags & SS_DISABLE))) return;
    void *p = alt_new();
    if (!p) return;
    stack_t ss = {.ss_sp = p, .ss_size = ALT_SIZE, .ss_flags = 0};
    if (sigaltstack(&ss, NULL) < 0) {
        alt_free(p);
        return;
    }
    my_alt = p;
}

/* glibc's __libc_single_threaded (2.32; absent before and in musl), found
 * by name at start (the shim imports nothing above 2.17:
 * preload/abi_floor.h), never in the crash path. NULL: not there. */
static char *libc_single_threaded;

void crash_prepare(void) {
    libc_single_threaded = symbols_lookup("__libc_single_threaded");
}

void crash_thread_end(void) {
    void *p = my_alt;
    if (!p) return;
    my_alt = NULL;
    /* Off (ours, or one the program put in its place: the thread is
     * ending), so no signal can land on it once another thread has it. */
    stack_t ss = {.ss_sp = NULL, .ss_size = 0, .ss_flags = SS_DISABLE};
    if (sigaltstack(&ss, NULL) < 0) return;
    alt_free(p);
}

/* ---- assertions ---- */

static struct {
    _Atomic pid_t tid;
    const char *assertion, *file, *function;
    unsigned line;
} last_assert;

static pid_t gettid_raw(void) {
    return (pid_t)syscall(SYS_gettid);
}

/* musl declares the line an int (the musl flavour, preload/abi_floor.h). */
#if defined(__GLIBC__)
#define ASSERT_LINE unsigned int
#else
#define ASSERT_LINE int
#endif

HOOK_EXPORT void __assert_fail(const char *assertion, const char *file, ASSERT_LINE line,
                               const char *function) {
    if (preload_active) {
        last_assert.assertion = assertion;
        last_assert.file = file;
        last_assert.function = function;
        last_assert.line = line;
        atomic_store(&last_assert.tid, gettid_raw());
    }
    if (REAL(__assert_fail)) real___assert_fail(assertion, file, line, function);
    abort();
}

/* ---- async-signal-safe text ---- */

struct out {
    char *p;
    size_t len, cap;
};

static void put(struct out *o, const char *s) {
    for (; s && *s && o->len + 1 < o->cap; s++)
        o->p[o->len++] = *s;
    if (o->cap) o->p[o->len] = '\0';
}

static void put_u(struct out *o, unsigned long v, unsigned base, int width) {
    char d[24];
    int n = 0;
    do {
        d[n++] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v && n < 24);
    while (n < width && n < 24)
        d[n++] = '0';
    while (n && o->len + 1 < o->cap)
        o->p[o->len++] = d[--n];
    if (o->cap) o->p[o->len] = '\0';
}

static void put_hex(struct out *o, unsigned long v) {
    put(o, "0x");
    put_u(o, v, 16, 0);
}

static void put_i(struct out *o, long v) {
    if (v < 0) {
        put(o, "-");
        v = -v;
    }
    put_u(o, (unsigned long)v, 10, 0);
}

/* ---- the signal's words ---- */

struct code_name {
    int sig, code;
    const char *name, *what;
};

static const struct code_name codes[] = {
    {SIGSEGV, SEGV_MAPERR, "SEGV_MAPERR", "not mapped"},
    {SIGSEGV, SEGV_ACCERR, "SEGV_ACCERR", "invalid permissions"},
    {SIGBUS, BUS_ADRALN, "BUS_ADRALN", "misaligned"},
    {SIGBUS, BUS_ADRERR, "BUS_ADRERR", "nonexistent physical address"},
    {SIGBUS, BUS_OBJERR, "BUS_OBJERR", "object-specific hardware error"},
    {SIGILL, ILL_ILLOPC, "ILL_ILLOPC", "illegal opcode"},
    {SIGILL, ILL_ILLOPN, "ILL_ILLOPN", "illegal operand"},
    {SIGILL, ILL_ILLADR, "ILL_ILLADR", "illegal addressing mode"},
    {SIGILL, ILL_ILLTRP, "ILL_ILLTRP", "illegal trap"},
    {SIGILL, ILL_PRVOPC, "ILL_PRVOPC", "privileged opcode"},
    {SIGILL, ILL_PRVREG, "ILL_PRVREG", "privileged register"},
    {SIGILL, ILL_COPROC, "ILL_COPROC", "coprocessor error"},
    {SIGILL, ILL_BADSTK, "ILL_BADSTK", "internal stack error"},
    {SIGFPE, FPE_INTDIV, "FPE_INTDIV", "integer divide by zero"},
    {SIGFPE, FPE_INTOVF, "FPE_INTOVF", "integer overflow"},
    {SIGFPE, FPE_FLTDIV, "FPE_FLTDIV", "floating-point divide by zero"},
    {SIGFPE, FPE_FLTOVF, "FPE_FLTOVF", "floating-point overflow"},
    {SIGFPE, FPE_FLTUND, "FPE_FLTUND", "floating-point underflow"},
    {SIGFPE, FPE_FLTRES, "FPE_FLTRES", "floating-point inexact result"},
    {SIGFPE, FPE_FLTINV, "FPE_FLTINV", "invalid floating-point operation"},
    {SIGFPE, FPE_FLTSUB, "FPE_FLTSUB", "subscript out of range"},
    {SIGTRAP, TRAP_BRKPT, "TRAP_BRKPT", "breakpoint"},
    {SIGTRAP, TRAP_TRACE, "TRAP_TRACE", "trace trap"},
    {SIGSYS, 1 /* SYS_SECCOMP */, "SYS_SECCOMP", "system call refused by seccomp"},
    {0, SI_USER, "SI_USER", "sent by kill"},
    {0, SI_TKILL, "SI_TKILL", "sent by tkill"},
    {0, SI_QUEUE, "SI_QUEUE", "sent by sigqueue"},
    {0, SI_KERNEL, "SI_KERNEL", "sent by the kernel"},
    {0, SI_TIMER, "SI_TIMER", "sent by a timer"},
    {0, SI_MESGQ, "SI_MESGQ", "sent by a message queue"},
    {0, SI_ASYNCIO, "SI_ASYNCIO", "sent by asynchronous I/O"},
};

static const struct code_name *code_of(int sig, int code) {
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        if ((codes[i].sig == sig || (codes[i].sig == 0 && code <= 0) ||
             (codes[i].sig == 0 && code == SI_KERNEL)) &&
            codes[i].code == code)
            return &codes[i];
    return NULL;
}

static const char *sig_name(int sig) {
    switch (sig) {
    case SIGSEGV:
        return "SIGSEGV";
    case SIGBUS:
        return "SIGBUS";
    case SIGILL:
        return "SIGILL";
    case SIGFPE:
        return "SIGFPE";
    case SIGABRT:
        return "SIGABRT";
    case SIGTRAP:
        return "SIGTRAP";
    case SIGSYS:
        return "SIGSYS";
    default:
        return "signal";
    }
}

static const char *sig_text(int sig) {
    switch (sig) {
    case SIGSEGV:
        return "Segmentation fault";
    case SIGBUS:
        return "Bus error";
    case SIGILL:
        return "Illegal instruction";
    case SIGFPE:
        return "Floating point exception";
    case SIGABRT:
        return "Aborted";
    case SIGTRAP:
        return "Trace/breakpoint trap";
    case SIGSYS:
        return "Bad system call";
    default:
        return "Fatal signal";
    }
}

bool crash_signal(int sig) {
    return sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE || sig == SIGABRT ||
           sig == SIGTRAP || sig == SIGSYS;
}

/* ---- what the copy writes ---- */

struct shared {
    _Atomic int npcs;    /* raw frames written so far */
    _Atomic int symbols; /* 1: stack text is complete */
    _Atomic int done;    /* 1: the copy has finished (log exported or not) */
    uintptr_t pcs[CRASH_FRAMES];
    char unwinder[16];
    char type[256];     /* set by the copy for a C++ exception, else empty */
    char message[1024]; /* ditto */
    char stack[STACK_TEXT];
};

/* The crash being captured: one per process, the first to claim it. The
 * flags are read at every exit: kept out of the cold storage. */
static _Atomic pid_t crash_owner;   /* the tid that captured (or is capturing), 0 none */
static _Atomic int crash_capturing; /* 1 while it is */
static struct {
    int sig;
    siginfo_t info;
    ucontext_t *uc;
    pid_t tid;
    char thread_name[16];
    bool in_shim;
    uint64_t time_ns, deadline; /* deadline: monotonic ns, the end of the budget */
    char type[256], message[1024];
    struct span_context ctx;
    bool has_ctx;
    bool is_assert;
    struct shared *sh;
} crash OTELP_COLD;

/* Room for the exception events when a dying process may not malloc. */
static char room_root[2 * STACK_TEXT] OTELP_COLD, room_thread[2 * STACK_TEXT] OTELP_COLD;

void crash_after_fork_child(void) {
    /* A fork from a program's crash handler: the child has not crashed. */
    atomic_store(&crash_owner, 0);
    atomic_store(&crash_capturing, 0);
}

/* A program's handler that exits does so right after the capture; one
 * that recovered (siglongjmp) and exits much later is not dying of it. */
OTELP_FIRST uint64_t crash_deadline(void) {
    if (!atomic_load(&crash_owner)) return 0;
    uint64_t end = crash.deadline + (uint64_t)telemetry.cfg.crash_timeout_ms * 1000000u;
    return atomic_load(&crash_capturing) || clock_mono_ns() < end ? crash.deadline : 0;
}

static void describe(int sig, const siginfo_t *info, bool in_shim) {
    struct out t = {crash.type, 0, sizeof crash.type};
    struct out m = {crash.message, 0, sizeof crash.message};
    pid_t me = gettid_raw();
    if (sig == SIGABRT && atomic_load(&last_assert.tid) == me && last_assert.assertion) {
        crash.is_assert = true;
        put(&t, "assertion");
        put(&m, last_assert.file);
        put(&m, ":");
        put_u(&m, last_assert.line, 10, 0);
        put(&m, ": ");
        if (last_assert.function) {
            put(&m, last_assert.function);
            put(&m, ": ");
        }
        put(&m, "Assertion `");
        put(&m, last_assert.assertion);
        put(&m, "' failed.");
        return;
    }
    put(&t, sig_name(sig));
    put(&m, sig_text(sig));
    const struct code_name *c = info ? code_of(sig, info->si_code) : NULL;
    bool has_addr = info && info->si_code > 0 &&
                    (sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE);
    if (has_addr) {
        put(&m, sig == SIGSEGV || sig == SIGBUS ? ": address " : ": at ");
        put_hex(&m, (unsigned long)info->si_addr);
        if (c) {
            put(&m, " ");
            put(&m, c->what);
        }
    } else if (c && info && info->si_code <= 0) {
        put(&m, ": ");
        put(&m, c->what);
        put(&m, " from pid ");
        put_i(&m, info->si_pid);
    } else if (c) {
        put(&m, ": ");
        put(&m, c->what);
    }
    if (c) {
        put(&m, " (");
        put(&m, c->name);
        put(&m, ")");
    } else if (info) {
        put(&m, " (si_code ");
        put_i(&m, info->si_code);
        put(&m, ")");
    }
    if (in_shim) put(&m, " [in otel-preload]");
}

/* ---- unwinding ---- */

/* Reads n bytes at addr without faulting: false when not mapped. */
static bool peek(uintptr_t addr, void *out, size_t n) {
    struct iovec local = {out, n}, remote = {(void *)addr, n};
    return syscall(SYS_process_vm_readv, getpid(), &local, 1UL, &remote, 1UL, 0UL) == (long)n;
}

/* Frame pointers, from the signal's registers: for code built without
 * them it stops early. Safe anywhere (checked reads). */
static int unwind_fp(const ucontext_t *uc, uintptr_t *pcs, int max, _Atomic int *published) {
    int n = 0;
#if defined(__x86_64__)
    uintptr_t pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
    uintptr_t fp = (uintptr_t)uc->uc_mcontext.gregs[REG_RBP];
    pcs[n++] = pc;
    if (published) atomic_store(published, n);
    while (n < max && fp && !(fp & 7)) {
        uintptr_t pair[2];
        if (!peek(fp, pair, sizeof pair) || !pair[1]) break;
        pcs[n++] = pair[1];
        if (published) atomic_store(published, n);
        if (pair[0] <= fp) break; /* frames go up the stack */
        fp = pair[0];
    }
#elif defined(__aarch64__)
    uintptr_t pc = (uintptr_t)uc->uc_mcontext.pc;
    uintptr_t fp = (uintptr_t)uc->uc_mcontext.regs[29];
    pcs[n++] = pc;
    if (published) atomic_store(published, n);
    while (n < max && fp && !(fp & 7)) {
        uintptr_t pair[2];
        if (!peek(fp, pair, sizeof pair) || !pair[1]) break;
        pcs[n++] = pair[1];
        if (published) atomic_store(published, n);
        if (pair[0] <= fp) break;
        fp = pair[0];
    }
#else
    (void)uc;
    (void)pcs;
    (void)max;
    (void)published;
#endif
    return n;
}

#define XSTR(x) STR(x)
#define STR(x) #x

/* libunwind, loaded in the copy only (the shim has no load-time
 * dependency): DWARF CFI from the signal frame. Returns -1 when it cannot
 * be loaded. */
static int unwind_libunwind(ucontext_t *uc, uintptr_t *pcs, int max, _Atomic int *published) {
    void *h = dlopen("libunwind.so.8", RTLD_NOW | RTLD_LOCAL);
    if (!h) return -1;
    int (*init2)(unw_cursor_t *, unw_context_t *, int) = dlsym(h, XSTR(unw_init_local2));
    int (*step)(unw_cursor_t *) = dlsym(h, XSTR(unw_step));
    int (*get_reg)(unw_cursor_t *, unw_regnum_t, unw_word_t *) = dlsym(h, XSTR(unw_get_reg));
    if (!init2 || !step || !get_reg) return -1;
    unw_cursor_t cur;
    if (init2(&cur, (unw_context_t *)uc, UNW_INIT_SIGNAL_FRAME) < 0) return -1;
    int n = 0;
    do {
        unw_word_t ip = 0;
        if (get_reg(&cur, UNW_REG_IP, &ip) < 0 || !ip) break;
        pcs[n++] = (uintptr_t)ip;
        atomic_store(published, n);
    } while (n < max && step(&cur) > 0);
    return n;
}

/* ---- symbols (in the copy) ---- */

#define MODULES 512

struct module {
    uintptr_t bias;
    const ElfW(Phdr) * phdr;
    int phnum;
    char path[PATH_MAX];
    char build_id[41];
    /* .symtab of the file, mapped on first need (0: not tried). */
    int symtab_state;
    const char *map;
    size_t map_len;
    const ElfW(Sym) * syms;
    size_t nsyms;
    const char *strs;
    size_t strs_len;
};

static struct module *modules;
static int nmodules;

static void hex_of(const unsigned char *p, size_t n, char *out, size_t cap) {
    size_t k = 0;
    for (size_t i = 0; i < n && k + 2 < cap; i++) {
        out[k++] = "0123456789abcdef"[p[i] >> 4];
        out[k++] = "0123456789abcdef"[p[i] & 15];
    }
    out[k] = '\0';
}

static void find_build_id(struct module *m) {
    for (int i = 0; i < m->phnum; i++) {
        const ElfW(Phdr) *ph = &m->phdr[i];
        if (ph->p_type != PT_NOTE) continue;
        const char *p = (const char *)(m->bias + ph->p_vaddr), *end = p + ph->p_memsz;
        while (p + sizeof(ElfW(Nhdr)) <= end) {
            const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)p;
            const char *name = p + sizeof *nh;
            const unsigned char *desc = (const unsigned char *)name + ((nh->n_namesz + 3) & ~3u);
            if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 && !memcmp(name, "GNU", 4)) {
                hex_of(desc, nh->n_descsz, m->build_id, sizeof m->build_id);
                return;
            }
            p = (const char *)desc + ((nh->n_descsz + 3) & ~3u);
        }
    }
}

static int add_module(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    (void)data;
    if (nmodules >= MODULES) return 1;
    struct module *m = &modules[nmodules];
    memset(m, 0, sizeof *m);
    m->bias = info->dlpi_addr;
    m->phdr = info->dlpi_phdr;
    m->phnum = info->dlpi_phnum;
    const char *name = info->dlpi_name;
    if (!name || !*name) name = exe_path(false); /* the program itself */
    snprintf(m->path, sizeof m->path, "%s", name ? name : "");
    find_build_id(m);
    nmodules++;
    return 0;
}

/* The module holding pc, and the file offset of pc in it. */
static struct module *module_of(uintptr_t pc, uintptr_t *file_off) {
    for (int i = 0; i < nmodules; i++) {
        struct module *m = &modules[i];
        for (int k = 0; k < m->phnum; k++) {
            const ElfW(Phdr) *ph = &m->phdr[k];
            if (ph->p_type != PT_LOAD) continue;
            uintptr_t lo = m->bias + ph->p_vaddr;
            if (pc >= lo && pc < lo + ph->p_memsz) {
                *file_off = pc - lo + ph->p_offset;
                return m;
            }
        }
    }
    return NULL;
}

static void load_symtab(struct module *m) {
    m->symtab_state = 1;
    if (m->path[0] != '/') return;
    int fd = open(m->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    struct stat st;
    void *map = MAP_FAILED;
    /* The system call: glibc's fstat is 2.33 (preload/abi_floor.h). */
    if (syscall(SYS_fstat, fd, &st) == 0 && st.st_size > (off_t)sizeof(ElfW(Ehdr)))
        map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) return;
    const char *base = map;
    size_t len = (size_t)st.st_size;
    const ElfW(Ehdr) *eh = map;
    if (memcmp(eh->e_ident, ELFMAG, SELFMAG) || eh->e_shoff == 0 ||
        eh->e_shoff + (size_t)eh->e_shnum * sizeof(ElfW(Shdr)) > len) {
        munmap(map, len);
        return;
    }
    const ElfW(Shdr) *sh = (const ElfW(Shdr) *)(base + eh->e_shoff);
    for (int i = 0; i < eh->e_shnum; i++) {
        if (sh[i].sh_type != SHT_SYMTAB || sh[i].sh_link >= eh->e_shnum) continue;
        const ElfW(Shdr) *strsh = &sh[sh[i].sh_link];
        if (sh[i].sh_offset + sh[i].sh_size > len || strsh->sh_offset + strsh->sh_size > len) break;
        m->syms = (const ElfW(Sym) *)(base + sh[i].sh_offset);
        m->nsyms = sh[i].sh_size / sizeof(ElfW(Sym));
        m->strs = base + strsh->sh_offset;
        m->strs_len = strsh->sh_size;
        m->map = base;
        m->map_len = len;
        return;
    }
    munmap(map, len);
}

/* The function symbol holding pc: .symtab when the file has one (static
 * functions too), else the dynamic symbols (dladdr). */
static const char *symbol_of(struct module *m, uintptr_t pc, uintptr_t *off) {
    if (m) {
        if (!m->symtab_state) load_symtab(m);
        uintptr_t v = pc - m->bias;
        for (size_t i = 0; i < m->nsyms; i++) {
            const ElfW(Sym) *s = &m->syms[i];
            if (ELF64_ST_TYPE(s->st_info) != STT_FUNC || !s->st_value || s->st_name >= m->strs_len)
                continue;
            if (v >= s->st_value && v < s->st_value + (s->st_size ? s->st_size : 1)) {
                *off = v - s->st_value;
                return m->strs + s->st_name;
            }
        }
    }
    Dl_info info;
    if (dladdr((void *)pc, &info) && info.dli_sname && info.dli_saddr) {
        *off = pc - (uintptr_t)info.dli_saddr;
        return info.dli_sname;
    }
    return NULL;
}

/* ---- C++ exceptions (in the copy) ---- */

/* The exception being handled on this thread (std::terminate runs with the
 * uncaught one "caught"): its type, demangled, and what() when it is a
 * std::exception. Everything through libstdc++'s own exported ABI, looked
 * up by name: a C program has none of it. */
static void cxx_exception(struct shared *sh) {
    const void *(*cur_type)(void) = dlsym(RTLD_DEFAULT, "__cxa_current_exception_type");
    const void *ti = cur_type ? cur_type() : NULL;
    if (!ti) return;
    const char *mangled = ((const char *const *)ti)[1]; /* std::type_info::__name */
    if (mangled && *mangled == '*') mangled++;
    char *(*demangle)(const char *, char *, size_t *, int *) =
        dlsym(RTLD_DEFAULT, "__cxa_demangle");
    int status = -1;
    char *name = demangle && mangled ? demangle(mangled, NULL, NULL, &status) : NULL;
    snprintf(sh->type, sizeof sh->type, "%s", name ? name : mangled ? mangled : "C++ exception");
    /* std::current_exception() returns an exception_ptr (one pointer, the
     * thrown object) through a hidden result pointer. */
    void (*current)(void **) = dlsym(RTLD_DEFAULT, "_ZSt17current_exceptionv");
    const void *std_exception = dlsym(RTLD_DEFAULT, "_ZTISt9exception");
    void *obj = NULL;
    if (current) current(&obj);
    if (obj && std_exception) {
        /* catch_type->__do_catch(thrown_type, &obj, 1): the 5th virtual of
         * std::type_info in the Itanium C++ ABI as libstdc++ lays it out;
         * adjusts obj to the std::exception base when it is one. */
        bool (*do_catch)(const void *, const void *, void **, unsigned) = (*(
            bool (*const *const *)(const void *, const void *, void **, unsigned))std_exception)[4];
        if (do_catch(std_exception, ti, &obj, 1)) {
            const char *(*what)(const void *) =
                (*(const char *(*const *const *)(const void *))obj)[2];
            const char *w = what(obj);
            snprintf(sh->message, sizeof sh->message, "%s", w ? w : "");
        }
    }
    if (!sh->message[0]) snprintf(sh->message, sizeof sh->message, "uncaught exception");
}

/* ---- the copy ---- */

static void format_stack(struct shared *sh, int n) {
    size_t len = 0;
    for (int i = 0; i < n && len + 256 < sizeof sh->stack; i++) {
        uintptr_t pc = sh->pcs[i];
        /* A return address points after the call: look up the call. */
        uintptr_t look = i > 0 && pc ? pc - 1 : pc;
        uintptr_t foff = 0, soff = 0;
        struct module *m = module_of(look, &foff);
        const char *sym = symbol_of(m, look, &soff);
        if (i > 0) foff += 1, soff += 1; /* back to the address itself */
        int w = snprintf(sh->stack + len, sizeof sh->stack - len, "#%d 0x%016lx ", i,
                         (unsigned long)pc);
        if (w > 0) len += (size_t)w;
        if (sym)
            w = snprintf(sh->stack + len, sizeof sh->stack - len, "%s+0x%lx", sym,
                         (unsigned long)soff);
        else
            w = snprintf(sh->stack + len, sizeof sh->stack - len, "??");
        if (w > 0)
            len = len + (size_t)w < sizeof sh->stack ? len + (size_t)w : sizeof sh->stack - 1;
        if (m)
            w = snprintf(sh->stack + len, sizeof sh->stack - len, " (%s+0x%lx)%s%s\n", m->path,
                         (unsigned long)foff, m->build_id[0] ? " build-id " : "", m->build_id);
        else
            w = snprintf(sh->stack + len, sizeof sh->stack - len, " (unmapped)\n");
        if (w > 0)
            len = len + (size_t)w < sizeof sh->stack ? len + (size_t)w : sizeof sh->stack - 1;
    }
    sh->stack[len] = '\0';
}

static void export_log(struct shared *sh) {
    unsigned kinds = telemetry.cfg.exporters[SIGNAL_LOGS];
    if (!telemetry.active || !kinds) return;
    const char *type = sh->type[0] ? sh->type : crash.type;
    const char *message = sh->message[0] ? sh->message : crash.message;
    size_t room = strlen(sh->stack) + strlen(type) + 2 * strlen(message) + 4096;
    struct log_record *r = log_record_new(
        crash.time_ns, crash.time_ns, SEVERITY_FATAL, "FATAL", message, strlen(message),
        crash.has_ctx ? &crash.ctx : NULL, &telemetry.cfg.log_attrs, room);
    if (!r) return;
    r->event_name = str_cstr("exception");
    (void)log_record_set_str(r, "exception.type", type, strlen(type));
    (void)log_record_set_str(r, "exception.message", message, strlen(message));
    (void)log_record_set_str(r, "exception.stacktrace", sh->stack, strlen(sh->stack));
    (void)log_record_set_int(r, "thread.id", crash.tid);
    (void)log_record_set_str(r, "thread.name", crash.thread_name, strlen(crash.thread_name));
    if (!crash.is_assert && !sh->type[0]) {
        (void)log_record_set_int(r, "signal.number", crash.sig);
        (void)log_record_set_int(r, "signal.code", crash.info.si_code);
        if (crash.info.si_code > 0 && (crash.sig == SIGSEGV || crash.sig == SIGBUS ||
                                       crash.sig == SIGILL || crash.sig == SIGFPE)) {
            char a[24];
            snprintf(a, sizeof a, "0x%lx", (unsigned long)crash.info.si_addr);
            (void)log_record_set_str(r, "signal.fault.address", a, strlen(a));
        }
    }
    if (crash.is_assert) {
        (void)log_record_set_str(r, "code.file.path", last_assert.file, strlen(last_assert.file));
        (void)log_record_set_int(r, "code.line.number", last_assert.line);
        if (last_assert.function)
            (void)log_record_set_str(r, "code.function.name", last_assert.function,
                                     strlen(last_assert.function));
    }
    (void)log_record_set_str(r, "exception.unwinder", sh->unwinder, strlen(sh->unwinder));
    void *records[1] = {r};
    for (int k = 1; k <= EXPORTER_MAX; k++) {
        if (!(kinds & (1u << k))) continue;
        struct exporter *e = exporter_new((enum exporter_kind)k, SIGNAL_LOGS, &telemetry.cfg);
        if (e) (void)e->ops->export(e, records, 1, NULL, crash.deadline);
    }
}

static _Noreturn void copy_main(struct shared *sh) {
    /* Only this thread exists here. Any signal ends the copy at once: our
     * handlers (inherited) must not run in it. */
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (int s = 1; s < 32; s++)
        if (s != SIGKILL && s != SIGSTOP && real_sigaction) real_sigaction(s, &dfl, NULL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    /* It is single-threaded, and glibc may say so: malloc then takes no
     * lock, so a heap lock another thread (or the crash) left held does
     * not stop it. */
    if (libc_single_threaded) *libc_single_threaded = 1;
    guard_enter();
    int n = unwind_libunwind(crash.uc, sh->pcs, CRASH_FRAMES, &sh->npcs);
    if (n > 0) {
        memcpy(sh->unwinder, "libunwind", 10);
    } else {
        n = unwind_fp(crash.uc, sh->pcs, CRASH_FRAMES, &sh->npcs);
        memcpy(sh->unwinder, "frame-pointer", 14);
    }
    atomic_store(&sh->npcs, n);
    if (crash.sig == SIGABRT && !crash.is_assert) cxx_exception(sh);
    modules = calloc(MODULES, sizeof *modules);
    if (modules) dl_iterate_phdr(add_module, NULL);
    format_stack(sh, n);
    atomic_store(&sh->symbols, 1);
    export_log(sh);
    atomic_store(&sh->done, 1);
    syscall(SYS_exit_group, 0);
    __builtin_unreachable();
}

/* ---- in the handler ---- */

static void sleep_ms(long ms) {
    struct timespec ts = {0, ms * 1000000L};
    syscall(SYS_nanosleep, &ts, NULL);
}

/* Runs the copy and waits for it until the deadline. */
static void run_copy(struct shared *sh) {
    long pid = syscall(SYS_clone, 0UL /* no exit signal: no SIGCHLD for the program */, 0UL, 0UL,
                       0UL, 0UL);
    if (pid == 0) copy_main(sh);
    if (pid < 0) return;
    int status;
    for (;;) {
        if (atomic_load(&sh->done)) break;
        long w = syscall(SYS_wait4, pid, &status, WNOHANG | __WALL, NULL);
        if (w == pid) return; /* gone (done, or died trying) */
        if (clock_mono_ns() >= crash.deadline) break;
        sleep_ms(1);
    }
    syscall(SYS_kill, pid, SIGKILL);
    syscall(SYS_wait4, pid, &status, __WALL, NULL);
}

/* Formats raw frames when the copy could not name them. */
static void raw_stack(struct shared *sh, int n) {
    struct out o = {sh->stack, 0, sizeof sh->stack};
    for (int i = 0; i < n; i++) {
        put(&o, "#");
        put_u(&o, (unsigned long)i, 10, 0);
        put(&o, " 0x");
        put_u(&o, sh->pcs[i], 16, 16);
        put(&o, " ??\n");
    }
}

static void capture(int sig, siginfo_t *info, void *uctx, pid_t me);

static void add_exception(struct span *s, char *room, size_t room_size, const char *type,
                          const char *message, const char *stack, bool set_status) {
    if (!s || !s->recording) return;
    /* Room that never mallocs, whatever the span had left. */
    s->arena.cur = room;
    s->arena.end = room + room_size;
    if (set_status) span_set_status(s, STATUS_ERROR, message);
    if (!telemetry.cfg.crash_span_events) return;
    struct span_event *e = span_add_event(s, "exception", crash.time_ns);
    if (!e) return;
    struct attr_value v = {.type = ATTR_STRING, .u.s = str_cstr(type)};
    (void)span_event_set_attr(s, e, str_cstr("exception.type"), &v);
    v.u.s = str_cstr(message);
    (void)span_event_set_attr(s, e, str_cstr("exception.message"), &v);
    v.u.s = str_cstr(stack);
    (void)span_event_set_attr(s, e, str_cstr("exception.stacktrace"), &v);
    v = (struct attr_value){.type = ATTR_INT, .u.i = crash.tid};
    (void)span_event_set_attr(s, e, str_cstr("thread.id"), &v);
}

enum crash_result crash_capture(int sig, siginfo_t *info, void *uctx) {
    pid_t me = gettid_raw();
    pid_t none = 0;
    if (!atomic_compare_exchange_strong(&crash_owner, &none, me)) {
        if (!atomic_load(&crash_capturing)) return CRASH_BEFORE;
        if (none == me) return CRASH_NESTED; /* a fault while capturing: no more */
        /* Another thread is capturing: it ends the process. Wait for it,
         * bounded, then go on to the original behaviour. */
        uint64_t until = clock_mono_ns() + (uint64_t)telemetry.cfg.crash_timeout_ms * 1000000u +
                         (uint64_t)telemetry.cfg.shutdown_timeout_ms * 1000000u;
        while (atomic_load(&crash_capturing) && clock_mono_ns() < until)
            sleep_ms(5);
        return CRASH_NESTED;
    }
    atomic_store(&crash_capturing, 1);
    capture(sig, info, uctx, me);
    atomic_store(&crash_capturing, 0);
    return CRASH_CAPTURED;
}

static void capture(int sig, siginfo_t *info, void *uctx, pid_t me) {
    uint64_t start = clock_mono_ns();
    crash.deadline = start + (uint64_t)telemetry.cfg.crash_timeout_ms * 1000000u;
    crash.time_ns = clock_now_ns();
    crash.sig = sig;
    if (info) crash.info = *info;
    crash.uc = uctx;
    crash.tid = me;
    crash.in_shim = guard_active();
    if (prctl(PR_GET_NAME, crash.thread_name) < 0) crash.thread_name[0] = '\0';
    crash.has_ctx = telemetry_current_context(&crash.ctx);
    describe(sig, info, crash.in_shim);

    /* Three quarters of the budget for the copy; the rest, at least, for
     * the span flush that follows. */
    struct shared *sh =
        mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED) return;
    crash.sh = sh;
    uint64_t copy_deadline = start + (uint64_t)telemetry.cfg.crash_timeout_ms * 750000u;
    uint64_t full = crash.deadline;
    crash.deadline = copy_deadline;
    run_copy(sh);
    crash.deadline = full;
    if (!atomic_load(&sh->symbols)) {
        int n = atomic_load(&sh->npcs);
        if (n <= 0) {
            n = unwind_fp(uctx, sh->pcs, CRASH_FRAMES, NULL);
            memcpy(sh->unwinder, "frame-pointer", 14);
        }
        raw_stack(sh, n);
    }
    if (crash.in_shim) return; /* our own state may be half-written */
    const char *type = sh->type[0] ? sh->type : crash.type;
    const char *message = sh->message[0] ? sh->message : crash.message;
    struct span *cur = telemetry_current_span();
    struct span *root = process_root_span();
    add_exception(cur, room_thread, sizeof room_thread, type, message, sh->stack, cur != root);
    if (root && root != cur)
        add_exception(root, room_root, sizeof room_root, type, message, sh->stack, false);
}
