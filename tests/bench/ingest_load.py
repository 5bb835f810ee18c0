"""ingest_load: OTLP/HTTP span load as fast as the server takes it, for scripts/bench section o.

    python3 ingest_load.py PORT SPANS [BATCH] [CONNECTIONS]

Encodes SPANS spans (protobuf, default batches of 512 per request) of the
process-tree shape the shim sends, as bench_store builds them: one resource
per span (a process: service.name, service.instance.id, host.name,
telemetry.sdk.name), 15 process.* attributes, 16 program names, traces of
2,000 spans in a tree of fan-out 8, every span id new. The encoding is done
before the clock starts. Then POSTs every request to
127.0.0.1:PORT/v1/traces over CONNECTIONS (default 2) keep-alive
connections at once, each waiting for its answer before the next, and
prints "result sent=N requests=R seconds=S" (from the first request out to
the last answer in). Any answer but 200 with an empty partial success fails
the script. Asserts nothing about timing.
Depends on tests/integration/test_server.py (the protobuf writer)."""
import http.client
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from test_server import fld, kv  # noqa: E402

NAMES = ["make", "sh", "cc", "cc1", "as", "ld", "collect2", "ar", "ranlib", "cp", "rm", "mkdir",
         "sed", "grep", "install", "touch"]
SCOPE = fld(1, 2, fld(1, 2, "otel-preload") + fld(2, 2, "0.1.0"))
# the attribute values that do not change from span to span, encoded once
FIXED = {"path": fld(9, 2, kv("process.executable.path", "/usr/bin/x")),
         "owner": fld(9, 2, kv("process.owner", "builder")),
         "uid": fld(9, 2, kv("process.user.id", 1000)),
         "major": fld(9, 2, kv("process.paging.faults.major", 0))}
RES_FIXED = fld(1, 2, kv("service.name", "build")) + fld(1, 2, kv("host.name", "vm")) + \
    fld(1, 2, kv("telemetry.sdk.name", "otel-preload"))


def one(seq, now):
    """The ResourceSpans of span number seq: its process and its one span."""
    trace_no, pos = 1 + seq // 2000, seq % 2000
    trace_id = b"\x43" + trace_no.to_bytes(15, "big")
    span_id = (seq + 1).to_bytes(8, "big")
    name = NAMES[seq % 16]
    start = now + seq * 1000
    end = start + 1_000_000 + (seq * 7919 % 200) * 1_000_000
    b = fld(1, 2, trace_id) + fld(2, 2, span_id)
    if pos > 0:
        b += fld(4, 2, (seq + 1 - pos + (pos - 1) // 8).to_bytes(8, "big"))
    b += fld(5, 2, name) + fld(6, 0, 1) + fld(7, 1, start) + fld(8, 1, end)
    b += fld(9, 2, kv("process.pid", 10000 + seq % 30000))
    b += fld(9, 2, kv("process.parent_pid", 9999 + seq % 30000))
    b += fld(9, 2, kv("process.executable.name", name)) + FIXED["path"] + FIXED["owner"]
    b += FIXED["uid"] + fld(9, 2, kv("process.exit.code", 1 if seq % 97 == 0 else 0))
    b += fld(9, 2, kv("process.cpu.time.user", 0.001 * (seq % 100)))
    b += fld(9, 2, kv("process.cpu.time.system", 0.0005 * (seq % 100)))
    b += fld(9, 2, kv("process.memory.max_rss", 2000000 + seq % 1000))
    b += fld(9, 2, kv("process.paging.faults.minor", 100 + seq % 50)) + FIXED["major"]
    b += fld(9, 2, kv("process.context_switches.voluntary", seq % 5))
    b += fld(9, 2, kv("process.context_switches.involuntary", seq % 3))
    b += fld(9, 2, kv("process.command_args.first", name))
    if seq % 97 == 0:
        b += fld(15, 2, fld(3, 0, 2))
    res = RES_FIXED + fld(1, 2, kv("service.instance.id", "uuid-%d" % seq))
    return fld(1, 2, fld(1, 2, res) + fld(2, 2, SCOPE + fld(2, 2, b)))


def main():
    port, total = int(sys.argv[1]), int(sys.argv[2])
    batch = int(sys.argv[3]) if len(sys.argv) > 3 else 512
    conns = int(sys.argv[4]) if len(sys.argv) > 4 else 2
    now = time.time_ns() - 3_600_000_000_000
    bodies = [b"".join(one(s, now) for s in range(first, min(first + batch, total)))
              for first in range(0, total, batch)]
    errors = []
    lock = threading.Lock()
    todo = list(reversed(bodies))

    def sender():
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        while True:
            with lock:
                if not todo or errors:
                    break
                body = todo.pop()
            c.request("POST", "/v1/traces", body, {"Content-Type": "application/x-protobuf"})
            r = c.getresponse()
            answer = r.read()
            if r.status != 200 or answer:
                with lock:
                    errors.append("%d %r" % (r.status, answer[:200]))
        c.close()

    threads = [threading.Thread(target=sender) for _ in range(conns)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    secs = time.monotonic() - t0
    if errors:
        sys.exit("ingest_load: " + errors[0])
    print("result sent=%d requests=%d seconds=%.3f" % (total, len(bodies), secs))


if __name__ == "__main__":
    main()
