/* hooks: what the hook families offer the preload layer and each other.
 * Depends on core/. */
#ifndef OTELP_HOOKS_HOOKS_H
#define OTELP_HOOKS_HOOKS_H

#include <stdbool.h>
#include <sys/types.h>

/* Marks an interposed libc name: visible, and listed in hooks.def and the
 * version script. */
#define HOOK_EXPORT __attribute__((visibility("default")))

/* process.c: the root span of this program image. */
void process_start(int argc, char **argv);
/* Records how the process is ending; the first call wins. */
void process_note_exit_code(int code);
void process_note_signal(int sig);
/* Ends the root span and runs the final bounded flush, once per process.
 * in_signal: from a fatal signal's handler (no malloc). */
void process_finish(bool in_signal);
void process_after_fork_child(void);
/* The pid this process image recorded (a vfork child shares our memory but
 * not our pid: hooks compare before touching state). */
extern pid_t process_pid;

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
