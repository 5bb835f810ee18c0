/* logging: the program's logging calls become OpenTelemetry log records
 * (and events on the calling thread's span), while the calls themselves do
 * exactly what they did.
 *
 *   openlog, closelog         remembered: ident, facility, options (the
 *                             ident pointer, as glibc keeps it)
 *   syslog, vsyslog,          severity from the level (data model appendix
 *   __syslog_chk,             B), severity text syslog's level name, body
 *   __vsyslog_chk             the formatted message (%m expanded), syslog.*
 *                             attributes; nothing when setlogmask masks it
 *   err, verr, errx, verrx    ERROR; the errno text (err, verr) as
 *   warn, vwarn, warnx, vwarnx  attributes; err* record the exit code
 *   error, error_at_line      ERROR; errnum's text, code.file.path and
 *                             code.line.number; nothing when
 *                             error_one_per_line suppresses the message
 *
 * Each hook saves errno first (err/warn append strerror(errno)), formats
 * the message once into a bounded stack buffer (MSG_CAP) as the real
 * function would (the fortified entry points with the same checks), emits
 * the record inside the re-entry guard, restores errno and calls the real
 * function with that message as "%s": the same bytes, formatted once, so
 * the call costs little more than it did. A message over MSG_CAP is cut
 * (and counted) in the record, and the real function gets the original
 * arguments instead (error() and error_at_line(), which have no va_list
 * variant, get it formatted again onto the heap, or with no memory there
 * into pages of its own: never cut on the program's stderr). glibc's err*
 * and error() call exit() internally, past our exit hook: the exit code is
 * noted here, and the destructor that exit() runs flushes spans and logs.
 *
 * Calls made inside the shim (the guard is set: our exporter thread, DNS
 * look-ups, libraries we call) pass straight through. Depends on core/ and
 * process.c. */
#undef _FORTIFY_SOURCE
#include <err.h>
#include <errno.h>
#if defined(__GLIBC__)
#include <error.h>
#include <gnu/libc-version.h>
#else
/* glibc's, interposed here only for glibc programs (the musl flavour
 * exports them, unused: a musl program has no error()). */
void error(int status, int errnum, const char *fmt, ...);
void error_at_line(int status, int errnum, const char *file, unsigned line, const char *fmt, ...);
#endif
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <syslog.h>
#include <unistd.h>

#include "core/guard.h"
#include "core/telemetry.h"
#include "hooks/hooks.h"
#include "preload/symbols.h"

/* Bytes of a formatted message kept (the record's body); longer messages
 * are cut (at a UTF-8 boundary) and counted. */
#define MSG_CAP 8192

void __syslog_chk(int pri, int flag, const char *fmt, ...);
void __vsyslog_chk(int pri, int flag, const char *fmt, va_list ap);

/* Newer than the shim's ABI floor (strerrorname_np: glibc 2.32) or fortified
 * (no _chk import: preload/abi_floor.h): looked up at run time, once. NULL
 * when the C library has none. */
static struct {
    _Atomic int state; /* 0 not looked up, 1 done */
    const char *(*strerrorname_np)(int);
    int (*vsnprintf_chk)(char *, size_t, int, size_t, const char *, va_list);
} late;

static void late_resolve(void) {
    if (atomic_load_explicit(&late.state, memory_order_acquire)) return;
    *(void **)&late.strerrorname_np = symbols_lookup("strerrorname_np");
    *(void **)&late.vsnprintf_chk = symbols_lookup("__vsnprintf_chk");
    atomic_store_explicit(&late.state, 1, memory_order_release);
}

/* ---- the common path ---- */

#define MAX_ATTRS 8

struct attrs {
    struct attr a[MAX_ATTRS];
    uint32_t n;
};

/* Keys are string literals (their length known at compile time). */
#define add_str(l, key, value) add_str_(l, str_of(key, sizeof(key) - 1), value)
#define add_int(l, key, value) add_int_(l, str_of(key, sizeof(key) - 1), value)

static void add_str_(struct attrs *l, struct str key, const char *value) {
    if (value && l->n < MAX_ATTRS)
        l->a[l->n++] = (struct attr){key, {.type = ATTR_STRING, .u.s = str_cstr(value)}};
}

static void add_int_(struct attrs *l, struct str key, int64_t value) {
    if (l->n < MAX_ATTRS) l->a[l->n++] = (struct attr){key, {.type = ATTR_INT, .u.i = value}};
}

/* error.type (the errno name, stable semantic convention) and
 * errno.message (its text, as the call prints it). */
static void add_errno(struct attrs *l, int errnum, char *buf, size_t cap) {
    late_resolve();
    const char *name = late.strerrorname_np ? late.strerrorname_np(errnum) : NULL;
    if (name) {
        add_str(l, "error.type", name);
    } else {
        snprintf(buf, cap, "%d", errnum);
        add_str(l, "error.type", buf);
    }
    add_str(l, "errno.message", strerror(errnum));
}

/* Formats fmt with a copy of ap into buf as the real function would (flag
 * >= 0: with the _FORTIFY_SOURCE checks of that level). *len: the bytes
 * kept, cut at a UTF-8 boundary (and counted) past MSG_CAP. Returns true
 * when buf holds the whole message. errno must be the caller's, for %m. */
static bool format_message(char *buf, int flag, const char *fmt, va_list ap, size_t *len) {
    va_list copy;
    va_copy(copy, ap);
    late_resolve();
    int n = flag >= 0 && late.vsnprintf_chk
                ? late.vsnprintf_chk(buf, MSG_CAP, flag, MSG_CAP, fmt, copy)
                : vsnprintf(buf, MSG_CAP, fmt, copy);
    va_end(copy);
    if (n < 0) {
        buf[0] = '\0';
        *len = 0;
        return false;
    }
    if ((size_t)n < MSG_CAP) {
        *len = (size_t)n;
        return true;
    }
    telemetry_log_count_truncated();
    *len = utf8_truncate(buf, MSG_CAP - 1, MSG_CAP - 1);
    return false;
}

static void emit(int severity, const char *text, const char *body, size_t len,
                 const struct attrs *l) {
    struct log_call c = {severity, text, body, len, l->a, l->n};
    guard_enter();
    telemetry_log_emit(&c);
    guard_leave();
}

/* Logging calls may record: telemetry wants logs and this is not our own
 * code. (No pid check on this hot path: a vfork child may only exec or
 * _exit, never log.) */
static bool may_log(void) {
    return preload_active && !guard_active() && telemetry_logs_wanted();
}

/* For the calls that end the process: also not a vfork child sharing our
 * memory, whose exit code is not ours. */
static bool may_note_exit(void) {
    return preload_active && !guard_active() && getpid() == process_pid;
}

/* ---- syslog ---- */

static _Atomic(const char *) syslog_ident; /* NULL: the program's short name */
static _Atomic int syslog_facility = LOG_USER;
static _Atomic int syslog_options;

/* glibc up to 2.36 takes facility 0 from openlog as LOG_KERN; later
 * versions keep the previous facility. */
static bool openlog_keeps_facility_0(void) {
    static _Atomic int newer = -1;
    int v = atomic_load_explicit(&newer, memory_order_relaxed);
    if (v < 0) {
        v = gnu_get_libc_version && strverscmp(gnu_get_libc_version(), "2.37") >= 0;
        atomic_store_explicit(&newer, v, memory_order_relaxed);
    }
    return v;
}

HOOK_EXPORT void openlog(const char *ident, int option, int facility) {
    /* What glibc's openlog remembers, by its rules. */
    if (ident) atomic_store_explicit(&syslog_ident, ident, memory_order_relaxed);
    atomic_store_explicit(&syslog_options, option, memory_order_relaxed);
    if (!(facility & ~LOG_FACMASK) && (facility || !openlog_keeps_facility_0()))
        atomic_store_explicit(&syslog_facility, facility, memory_order_relaxed);
    if (REAL(openlog)) real_openlog(ident, option, facility);
}

HOOK_EXPORT void closelog(void) {
    /* glibc forgets the ident; facility and options stay. */
    atomic_store_explicit(&syslog_ident, NULL, memory_order_relaxed);
    if (REAL(closelog)) real_closelog();
}

/* Whether syslog would log pri at all (setlogmask). glibc drops unknown
 * bits (and says so through syslog itself). */
static bool syslog_logs(int pri) {
    pri &= LOG_PRIMASK | LOG_FACMASK;
    return LOG_MASK(LOG_PRI(pri)) & setlogmask(0);
}

static void syslog_record(int pri, const char *body, size_t len) {
    pri &= LOG_PRIMASK | LOG_FACMASK;
    int facility = pri & LOG_FACMASK;
    if (!facility) facility = atomic_load_explicit(&syslog_facility, memory_order_relaxed);
    const char *ident = atomic_load_explicit(&syslog_ident, memory_order_relaxed);
    if (!ident) ident = program_invocation_short_name;
    const char *text;
    int severity = log_syslog_severity(LOG_PRI(pri), &text);
    struct attrs l = {.n = 0};
    add_str(&l, "syslog.ident", ident);
    add_int(&l, "syslog.facility.code", LOG_FAC(facility));
    add_str(&l, "syslog.facility.name", log_syslog_facility_name(LOG_FAC(facility)));
    if (atomic_load_explicit(&syslog_options, memory_order_relaxed) & LOG_PID)
        add_int(&l, "syslog.procid", process_pid);
    emit(severity, text, body, len, &l);
}

/* Whether a fortified call's format has what the fortify checks look at
 * (%n, positional arguments): then the real function gets the original
 * arguments too, to make its own checks (a sanitizer runtime may stand in
 * for the __vsnprintf_chk that made ours). */
static bool fortify_sensitive(const char *fmt) {
    for (const char *p = fmt; (p = strchr(p, '%')) != NULL;) {
        p++;
        while (*p && strchr("#0- +'I*.$123456789hlLqjzt", *p)) {
            if (*p == '$') return true;
            p++;
        }
        if (*p == 'n') return true;
        if (*p) p++;
    }
    return false;
}

/* The common part of vsyslog and __vsyslog_chk (flag < 0: not fortified).
 * Returns true when the real function was called here (with the message
 * formatted once, as "%s"). */
static bool syslog_common(int pri, int flag, const char *fmt, va_list ap) {
    int saved_errno = errno;
    if (!may_log() || !syslog_logs(pri)) return false;
    errno = saved_errno;
    char body[MSG_CAP];
    size_t len;
    bool whole = format_message(body, flag, fmt, ap, &len);
    syslog_record(pri, body, len);
    errno = saved_errno;
    if (!whole) return false;
    if (flag < 0 && REAL(syslog)) {
        real_syslog(pri, "%s", body);
        return true;
    }
    if (flag > 0 && fortify_sensitive(fmt)) return false;
    if (flag >= 0 && REAL(__syslog_chk)) {
        real___syslog_chk(pri, flag, "%s", body);
        return true;
    }
    return false;
}

HOOK_EXPORT void vsyslog(int pri, const char *fmt, va_list ap) {
    if (syslog_common(pri, -1, fmt, ap)) return;
    if (REAL(vsyslog)) real_vsyslog(pri, fmt, ap);
}

HOOK_EXPORT void syslog(int pri, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsyslog(pri, fmt, ap);
    va_end(ap);
}

/* What -D_FORTIFY_SOURCE builds call. flag asks for the format checks:
 * our formatting makes them too (a check that fails aborts here, as the
 * real function would have). */
HOOK_EXPORT void __vsyslog_chk(int pri, int flag, const char *fmt, va_list ap) {
    if (syslog_common(pri, flag < 0 ? 0 : flag, fmt, ap)) return;
    if (REAL(__vsyslog_chk)) real___vsyslog_chk(pri, flag, fmt, ap);
}

HOOK_EXPORT void __syslog_chk(int pri, int flag, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    __vsyslog_chk(pri, flag, fmt, ap);
    va_end(ap);
}

/* ---- err, warn ---- */

/* Records an err/warn call: body/len the formatted message (fmt NULL: the
 * call prints only the errno text, which becomes the body). with_errno:
 * the call appends strerror(errnum). exit_code: -1, or what err* exits
 * with. */
static void errwarn_record(int severity, const char *text, bool with_errno, int errnum,
                           int exit_code, const char *fmt, const char *body, size_t len) {
    char num[16];
    struct attrs l = {.n = 0};
    if (with_errno) {
        add_errno(&l, errnum, num, sizeof num);
        if (!fmt) {
            body = strerror(errnum);
            len = strlen(body);
        }
    }
    if (exit_code >= 0) add_int(&l, "process.exit.code", exit_code & 0xff);
    emit(severity, text, body, len, &l);
}

/* Formats and records one err/warn call; returns true when body holds the
 * whole message for the real function as "%s". */
static bool errwarn_common(int severity, const char *text, bool with_errno, int exit_code,
                           const char *fmt, va_list ap, char *body) {
    int saved_errno = errno;
    size_t len = 0;
    body[0] = '\0';
    bool whole = fmt && format_message(body, -1, fmt, ap, &len);
    errwarn_record(severity, text, with_errno, saved_errno, exit_code, fmt, body, len);
    errno = saved_errno;
    return whole;
}

HOOK_EXPORT void verr(int eval, const char *fmt, va_list ap) {
    char body[MSG_CAP];
    bool whole = false;
    if (may_note_exit()) {
        process_note_exit_code(eval);
        if (telemetry_logs_wanted())
            whole = errwarn_common(SEVERITY_ERROR, "ERROR", true, eval, fmt, ap, body);
    }
    if (whole && REAL(err)) real_err(eval, "%s", body);
    if (REAL(verr)) real_verr(eval, fmt, ap);
    exit(eval); /* not reached with glibc */
}

HOOK_EXPORT void verrx(int eval, const char *fmt, va_list ap) {
    char body[MSG_CAP];
    bool whole = false;
    if (may_note_exit()) {
        process_note_exit_code(eval);
        if (telemetry_logs_wanted())
            whole = errwarn_common(SEVERITY_ERROR, "ERROR", false, eval, fmt, ap, body);
    }
    if (whole && REAL(errx)) real_errx(eval, "%s", body);
    if (REAL(verrx)) real_verrx(eval, fmt, ap);
    exit(eval);
}

HOOK_EXPORT void err(int eval, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    verr(eval, fmt, ap);
}

HOOK_EXPORT void errx(int eval, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    verrx(eval, fmt, ap);
}

HOOK_EXPORT void vwarn(const char *fmt, va_list ap) {
    char body[MSG_CAP];
    if (may_log() && errwarn_common(SEVERITY_WARN, "WARN", true, -1, fmt, ap, body) && REAL(warn)) {
        real_warn("%s", body);
        return;
    }
    if (REAL(vwarn)) real_vwarn(fmt, ap);
}

HOOK_EXPORT void vwarnx(const char *fmt, va_list ap) {
    char body[MSG_CAP];
    if (may_log() && errwarn_common(SEVERITY_WARN, "WARN", false, -1, fmt, ap, body) &&
        REAL(warnx)) {
        real_warnx("%s", body);
        return;
    }
    if (REAL(vwarnx)) real_vwarnx(fmt, ap);
}

HOOK_EXPORT void warn(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vwarn(fmt, ap);
    va_end(ap);
}

HOOK_EXPORT void warnx(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vwarnx(fmt, ap);
    va_end(ap);
}

/* ---- error, error_at_line ---- */

/* A message too long for the stack buffer: on the heap, or, with no
 * memory there, in pages of its own: the program's error() prints it
 * whole either way (only with neither is it cut to the buffer). */
struct big_message {
    char *heap;
    void *map;
    size_t map_len;
    bool cut; /* the record's body is cut to the buffer */
};

static void big_message_free(struct big_message *b) {
    free(b->heap);
    if (b->map) munmap(b->map, b->map_len);
}

/* The message error() prints, formatted from fmt/ap (the caller's copy):
 * in buf when it fits, else in *big (freed by the caller with
 * big_message_free). *len: the bytes kept for the record (at most
 * MSG_CAP - 1). */
static const char *error_message(char *buf, const char *fmt, va_list ap, struct big_message *big,
                                 size_t *len) {
    va_list again, third;
    va_copy(again, ap);
    va_copy(third, ap);
    int n = vsnprintf(buf, MSG_CAP, fmt, ap);
    *big = (struct big_message){0};
    *len = n < 0 ? 0 : (size_t)n;
    const char *msg = buf;
    if (n < 0) {
        buf[0] = '\0';
    } else if ((size_t)n >= MSG_CAP) {
        big->cut = true;
        *len = utf8_truncate(buf, MSG_CAP - 1, MSG_CAP - 1);
        if (vasprintf(&big->heap, fmt, again) >= 0) {
            msg = big->heap;
        } else {
            big->heap = NULL;
            size_t page = 4096, want = ((size_t)n + page) & ~(page - 1);
            void *m = mmap(NULL, want, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (m != MAP_FAILED) {
                big->map = m;
                big->map_len = want;
                (void)vsnprintf(m, (size_t)n + 1, fmt, third);
                msg = m;
            }
        }
    }
    va_end(third);
    va_end(again);
    return msg;
}

/* at_line: error_at_line's file (may be NULL) and line. */
static void error_record(int status, int errnum, bool at_line, const char *file, unsigned line,
                         const char *body, size_t len, bool cut) {
    if (status && may_note_exit()) process_note_exit_code(status);
    if (!may_log()) return;
    if (cut) telemetry_log_count_truncated();
    char num[16];
    struct attrs l = {.n = 0};
    if (errnum) add_errno(&l, errnum, num, sizeof num);
    if (at_line) {
        add_str(&l, "code.file.path", file);
        add_int(&l, "code.line.number", line);
    }
    if (status) add_int(&l, "process.exit.code", status & 0xff);
    emit(SEVERITY_ERROR, "ERROR", body, len, &l);
}

HOOK_EXPORT void error(int status, int errnum, const char *fmt, ...) {
    int saved_errno = errno;
    char buf[MSG_CAP];
    struct big_message big;
    size_t len;
    va_list ap;
    va_start(ap, fmt);
    const char *msg = error_message(buf, fmt, ap, &big, &len);
    va_end(ap);
    error_record(status, errnum, false, NULL, 0, buf, len, big.cut);
    errno = saved_errno;
    if (REAL(error))
        real_error(status, errnum, "%s", msg);
    else if (status)
        exit(status);
    big_message_free(&big);
    errno = saved_errno;
}

HOOK_EXPORT void error_at_line(int status, int errnum, const char *file, unsigned line,
                               const char *fmt, ...) {
    int saved_errno = errno;
    /* glibc prints nothing (and does not exit) for a repeat of the previous
     * file and line when error_one_per_line is set: keep the same state. */
    static const char *old_file;
    static unsigned old_line;
    bool repeat = false;
    if (&error_one_per_line && error_one_per_line) { /* weak: glibc only */
        repeat = old_line == line &&
                 (file == old_file || (old_file && file && strcmp(old_file, file) == 0));
        if (!repeat) {
            old_file = file;
            old_line = line;
        }
    }
    char buf[MSG_CAP];
    struct big_message big = {0};
    size_t len = 0;
    const char *msg = "";
    if (!repeat) {
        va_list ap;
        va_start(ap, fmt);
        msg = error_message(buf, fmt, ap, &big, &len);
        va_end(ap);
        error_record(status, errnum, true, file, line, buf, len, big.cut);
    }
    errno = saved_errno;
    if (REAL(error_at_line))
        real_error_at_line(status, errnum, file, line, "%s", msg);
    else if (status && !repeat)
        exit(status);
    big_message_free(&big);
    errno = saved_errno;
}
