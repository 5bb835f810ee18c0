/* resolve: getaddrinfo with a deadline. The look-up runs on a thread of
 * its own (every signal blocked, inside the re-entry guard, so the
 * resolver's own sockets and files are never traced); the caller waits for
 * it until the deadline, then goes on without it: a resolver that never
 * answers cannot hold an export, or an exit, past its deadline. An
 * abandoned look-up finishes on its own (or ends with the process) and
 * frees what it holds. Never in a signal handler (it mallocs and starts a
 * thread). Depends on core/processor.h (threads), core/ids.h (clock). */
#ifndef OTELP_EXPORTERS_RESOLVE_H
#define OTELP_EXPORTERS_RESOLVE_H

#include <stdint.h>
#include <sys/socket.h>

/* Up to max addresses of host (a name) for TCP to port, into addrs and
 * lens. Returns how many (> 0), -ENONET (the name did not resolve, or
 * resolved to no address), -ETIMEDOUT (the deadline came first) or -ENOMEM. */
int resolve_deadline(const char *host, uint16_t port, struct sockaddr_storage *addrs,
                     socklen_t *lens, int max, uint64_t deadline)
    __attribute__((warn_unused_result));

#endif
