/* guard: the one re-entry guard. A thread-local depth counter (initial-exec
 * TLS, so touching it never allocates or calls into the loader). Hooks check
 * it before recording; our own work runs inside it; the exporter thread sets
 * it for good, so our sockets, DNS look-ups and library calls are never
 * traced. Depends on nothing. */
#ifndef OTELP_CORE_GUARD_H
#define OTELP_CORE_GUARD_H

extern _Thread_local unsigned guard_depth __attribute__((tls_model("initial-exec")));

static inline void guard_enter(void) {
    guard_depth++;
}
static inline void guard_leave(void) {
    guard_depth--;
}
static inline int guard_active(void) {
    return guard_depth != 0;
}

#endif
