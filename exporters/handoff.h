/* handoff: short-lived children hand their export to their parent.
 *
 * A process that starts children (fork, vfork, spawn, system, popen)
 * listens on an abstract Unix socket named after its uid, its pid and a
 * hash of its export configuration: its "relay". A child
 * that exports synchronously at exit (no worker thread: the common case in
 * shells and builds) first tries its parent's socket: one connect and one
 * send of the request it encoded, instead of a TCP connection and an HTTP
 * round trip. The relay forwards what it received as one POST per signal:
 * concatenated ExportTraceServiceRequest messages are one valid request
 * (protobuf's merge rule), so nothing is decoded. A child leaves the
 * host's attributes to the relay; relays pass them up still missing, and
 * the one that sends to the collector adds them (docs/ATTRIBUTES.md), so
 * only the top of a tree of relays reads the host's files. Both ends check
 * the peer (same uid; the listener must be our parent), and anything
 * unexpected falls back to the child exporting directly. Every protocol is
 * handed off (children hand over protobuf, or JSON for http/json, whose
 * requests the relay merges as text: otlp_json.h): a relay forwards
 * plain-http http/protobuf with its own client, anything else (gRPC,
 * https, gzip, mutual TLS, http/json) through an OTLP exporter of its own,
 * so libcurl is loaded in the relay only, once per tree.
 *
 * The relay starts passive, without a thread: the process's own calls
 * drain its backlog (each spawn, and each wait that reaps a child, which
 * sent before it exited), so a shell or a build wakes no thread per child
 * and starts none. It starts a thread to serve and forward once it holds a
 * batch's worth of bytes, once the oldest record has waited the schedule
 * delay, or when the process has lived longer than the schedule delay
 * (checked when it starts a child).
 * Passive or not, it forwards what it holds before its process execs and
 * at its exit, within the shutdown budget: to its own parent's relay when
 * there is one (a tree of relays sends through its top), else to the
 * collector. A passive parent that neither
 * spawns nor reaps nor ends holds what its children sent until it does.
 * Depends on http.h, buf.h, core/config.h. */
#ifndef OTELP_EXPORTERS_HANDOFF_H
#define OTELP_EXPORTERS_HANDOFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"

/* Sets up the configuration both ends use (called once at init). */
void handoff_init(const struct config *cfg);

/* Child side, async-signal-safe. handoff_connect: a connection to the
 * parent's relay for sig (the peer checked), or a negative errno (then
 * export directly). handoff_send_on: sends body (an encoded export request
 * of count records; host: bits of resource_host_keys its resource leaves
 * to the relay, which adds its own: see core/resource.h) and closes fd; 0
 * on success. handoff_send: both. */
int handoff_connect(enum signal_kind sig);
int handoff_send_on(int fd, enum signal_kind sig, uint32_t count, const void *body, size_t len,
                    uint32_t host);
int handoff_send(enum signal_kind sig, uint32_t count, const void *body, size_t len, uint32_t host);

/* Parent side: makes sure this process listens for its children (cheap
 * after the first call) and drains what they sent. Call before starting a
 * child. */
void relay_start(void);
/* Drains what children sent, when the relay is passive (one atomic load
 * otherwise). Call after reaping a child. Async-signal-safe (programs reap
 * in SIGCHLD handlers): it starts no thread, the next relay_start may. */
void relay_poll(void);
/* Forwards everything received and stops listening (the process is ending
 * or exec'ing), within timeout_ms. in_signal: from a dying process's signal
 * handler. */
void relay_shutdown(uint32_t timeout_ms, bool in_signal);
/* In a fork child: the parent's relay is not ours. */
void relay_after_fork_child(void);
/* A process's counts of sig's records beyond those it handed off (which
 * a relay counts as it receives them): processed by itself (handed to its
 * own exporters), dropped by its processor (queue_full, shutdown), and
 * what its exporters made of them. A process hands them to its parent's
 * relay at its end (and at exec), with those of the processes below it,
 * so that the top of a tree of relays has the tree's counts. */
struct relay_counts {
    uint64_t processed, queue_full, shutdown, exported, failed, rejected, spooled;
};
/* Child side: sends counts (one per signal) to the parent's relay, as
 * handoff_send does. -ENOENT at once when an earlier hand-off found no
 * relay there. Async-signal-safe. */
int handoff_send_counts(const struct relay_counts counts[SIGNAL_COUNT]);
/* What the relay did with its children's records of sig (cumulative, since
 * the process started or forked): exported to the collector, failed (lost,
 * rejected), spooled, or handed up to its own parent's relay (which counts
 * them in turn: the top of a tree of relays has the tree's counts);
 * received: records its children handed it; reported: the sums of the
 * counts its children handed up (handoff_send_counts). */
struct relay_stats {
    uint64_t exported, failed, spooled, handed_up, received;
    struct relay_counts reported;
};
void relay_get_stats(enum signal_kind sig, struct relay_stats *out);
/* Whether the calling thread is the relay's. */
bool relay_thread(void);

#endif
