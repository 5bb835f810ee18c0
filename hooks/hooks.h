/* hooks: what the hook families offer the preload layer and each other.
 * Depends on core/. */
#ifndef OTELP_HOOKS_HOOKS_H
#define OTELP_HOOKS_HOOKS_H

#include <stdbool.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/context.h"

/* Marks an interposed libc name: visible, and listed in hooks.def and the
 * version script. */
#define HOOK_EXPORT __attribute__((visibility("default")))

/* api.c: this copy's otelp_api table (not the one the program's scope
 * binds otelp_api to, which may be another copy's). */
const void *api_table_self(void);

/* process.c: the root span of this program image. */
/* The program's arguments as the __libc_start_main hook saw them (the musl
 * flavour's constructor gets none of its own); 0 and NULL before. */
extern int process_start_argc;
extern char **process_start_argv;
void process_start(int argc, char **argv);
/* Records how the process is ending; the first call wins. */
void process_note_exit_code(int code);
void process_note_signal(int sig);
/* Ends the root span and runs the final bounded flush, once per process.
 * in_signal: from a fatal signal's handler (no malloc). */
void process_finish(bool in_signal);
void process_after_fork_child(void);
void process_before_fork(void);
/* The context a child process (or thread) of the calling thread gets, with
 * its trace state. for_exec: this image is being replaced (a fork child's
 * own span is skipped then, see process.c). False when there is none. */
bool process_child_context(bool for_exec, struct span_context *ctx, const char **ts,
                           size_t *ts_len);
/* Around a real exec of this image (not in a vfork child): ends and exports
 * what the image has; on failure, continues it. */
void process_before_exec(const char *target);
void process_exec_failed(int err);
/* A vfork child runs in its parent's memory: it must not allocate or lock. */
bool process_in_vfork_child(void);

/* fork.c: before this process starts a child (fork, vfork, spawn, system,
 * popen): its relay listens (the child may hand its spans to it) and the
 * wait family is resolved. */
void child_coming(void);
/* Adds an event with one int attribute to the calling thread's span. */
void process_add_event_int(const char *event, const char *key, int64_t value);
/* A posix_spawn that failed (the program could not be run: no child is
 * left to have a span): an event "process.spawn.failed" on the current
 * span, with error.code and the program as given. */
void process_spawn_failed(const char *file, int err);

/* threads.c: thread spans. */
/* Ends every thread span still running (the process is ending), marked as
 * cut short. */
void threads_cut_short(bool in_signal);
void threads_after_fork_child(void);
/* The pid this process image recorded (a vfork child shares our memory but
 * not our pid: hooks compare before touching state). */
extern pid_t process_pid;

/* The process root span, or NULL (ended, or none). */
struct span *process_root_span(void);

/* crash.c: what a crash leaves on the trace (docs/CRASH.md). */
/* Whether sig is a crash signal: SEGV, BUS, ILL, FPE, ABRT, TRAP, SYS. */
bool crash_signal(int sig);
/* Looks up what the crash path may use but the shim does not import (at
 * start, from the constructor). */
void crash_prepare(void);
/* From the fatal-signal handler: records the crash (the FATAL log record,
 * the exception on the thread's span and the root span) within the crash
 * budget, once per process. CRASH_BEFORE: a crash was captured earlier
 * (the program's handler went on); CRASH_NESTED: a fault while capturing,
 * or another thread's capture that did not end the process in time: go
 * straight to the original behaviour. */
enum crash_result { CRASH_CAPTURED, CRASH_BEFORE, CRASH_NESTED };
enum crash_result crash_capture(int sig, siginfo_t *info, void *uctx);
/* The end of the crash budget (monotonic ns) while a crash is being
 * captured or was just captured (the program's handler is exiting): the
 * exit flush then stays async-signal-safe and within it. Else 0. */
uint64_t crash_deadline(void);
/* An alternate signal stack with a guard page for the calling thread
 * (fresh: a thread just started, which has none). crash_thread_end gives
 * it back as the thread ends. */
void crash_thread_start(bool fresh);
void crash_thread_end(void);
void crash_after_fork_child(void);

/* signals.c: fatal-signal capture and disposition virtualisation. */
void signals_install(void);
void signals_after_fork_child(void);

/* streams.c: standard stream capture (core/stream.c does the work), set
 * up after telemetry_init. */
void streams_install(void);

/* Set by the constructor: false in secure-execution mode, when disabled, or
 * before initialisation; every hook passes straight through then. */
extern bool preload_active;

#endif
