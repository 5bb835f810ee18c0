"""alerts_load: paced OTLP/HTTP span load for scripts/bench section x (alert rules).

    python3 alerts_load.py PORT SPANS_PER_S SECONDS [MARKER]

Posts SPANS_PER_S spans a second (requests of 500, every 50 ms) to
127.0.0.1:PORT/v1/traces for SECONDS, spans of a build's shape (16 program
names, 10 attributes, durations 1-100 ms, ending now), each with a new span
id. With MARKER, the last request also carries one span of that name, and
the script prints the time of that request. Prints "result sent=N
late_batches=M" (batches that went out more than 50 ms late: the load
generator did not keep its pace). Asserts nothing about timing.
Depends on tests/integration/test_server.py (the protobuf writer)."""
import http.client
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from test_server import span, tid, traces_request  # noqa: E402

NAMES = ["make", "sh", "cc", "cc1", "as", "ld", "collect2", "ar", "ranlib", "cp", "rm", "mkdir",
         "sed", "grep", "install", "touch"]
MARK = b"\xa5\x5a\xa5\x5a\xa5\x5a\xa5\x5a"
BATCH = 500


def main():
    port, rate, seconds = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    marker = sys.argv[4] if len(sys.argv) > 4 else None
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    per_tick = max(1, rate // 20)
    ticks = int(seconds * 20)
    seq = 1
    sent = late = 0
    t0 = time.monotonic()
    for k in range(ticks):
        due = t0 + k * 0.05
        now = time.monotonic()
        if now < due:
            time.sleep(due - now)
        elif now - due > 0.05:
            late += 1
        end = time.time_ns()
        tmpl = [span(tid(k // 20 + 1), MARK, NAMES[i], end - (i + 1) * 6_000_000, end,
                     attrs={"attr%d" % a: "abcdefghijklmnopqrst" for a in range(9)} |
                     {"process.exit.code": 0})
                for i in range(len(NAMES))]
        spans = []
        for j in range(0, per_tick, BATCH):
            chunk = []
            for i in range(j, min(per_tick, j + BATCH)):
                chunk.append(tmpl[i % len(NAMES)].replace(MARK, seq.to_bytes(8, "big")))
                seq += 1
            spans.append(chunk)
        if marker and k == ticks - 1:
            spans[-1].append(span(tid(999999), (seq).to_bytes(8, "big"), marker, end - 1000, end))
            seq += 1
            print("marker_sent_ns=%d" % time.time_ns())
        for chunk in spans:
            conn.request("POST", "/v1/traces", body=traces_request(chunk, {"service.name": "bench"}),
                         headers={"Content-Type": "application/x-protobuf"})
            r = conn.getresponse()
            r.read()
            if r.status != 200:
                print("bench: the server answered %d" % r.status, file=sys.stderr)
                sys.exit(1)
            sent += len(chunk)
    print("result sent=%d late_batches=%d" % (sent, late))


if __name__ == "__main__":
    main()
