"""sink_selftest: checks otlp_sink's HTTP handling and fault injection.

    OTELP_BUILD_DIR=build python3 tests/receiver/sink_selftest.py

Talks to otlp_sink on 127.0.0.1 only, with raw sockets, through
tests/lib/harness.py. Needs no node and no shim. Prints the latency of 300
fresh connections (one request each) as a rough benchmark figure.
"""

import socket
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
import harness  # noqa: E402

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL: " + what)


receivers = []


def receiver(**options):
    """A harness.Receiver, remembered so main() can check its stderr."""
    r = harness.Receiver(**options)
    receivers.append(r)
    return r


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.settimeout(10)
    return s


def request(path, body, extra=b"", chunked=False):
    if chunked:
        head = (b"POST " + path + b" HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                + extra + b"\r\n")
        mid = len(body) // 2
        out = head
        for part in (body[:mid], body[mid:]):
            if part:
                out += b"%x;ext=1\r\n" % len(part) + part + b"\r\n"
        return out + b"0\r\nX-Trailer: t\r\n\r\n"
    return (b"POST " + path + b" HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n" % len(body)
            + extra + b"\r\n" + body)


_pending = {}  # socket -> bytes received past the last response


def read_response(s):
    """Returns (status, headers dict, body) or None if the peer closed.
    Bytes past the response stay buffered for the next call on s."""
    data = _pending.pop(s, b"")
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    n = int(headers.get("content-length", "0"))
    while len(rest) < n:
        chunk = s.recv(65536)
        if not chunk:
            break
        rest += chunk
    if len(rest) > n:
        _pending[s] = rest[n:]
    return status, headers, rest[:n]


def test_basic():
    with receiver() as r:
        s = connect(r.port)
        # two requests in one packet (pipelined), then a chunked one, same connection
        s.sendall(request(b"/v1/traces", b"abc", b"X-Test: One\r\n")
                  + request(b"/v1/logs", b""))
        r1 = read_response(s)
        r2 = read_response(s)
        s.sendall(request(b"/v1/metrics", b"hello chunked world", chunked=True))
        r3 = read_response(s)
        s.sendall(request(b"/v1/traces", b"x" * 200000, b"Expect: 100-continue\r\n"))
        r4 = read_response(s)
        s.close()
        check(r1 is not None and r1[0] == 200, f"first pipelined reply {r1}")
        check(r1 and r1[1].get("content-type") == "application/x-protobuf", "content-type")
        check(r1 and r1[1].get("content-length") == "0" and r1[2] == b"", "empty body")
        check(r2 is not None and r2[0] == 200, "second pipelined reply")
        check(r3 is not None and r3[0] == 200, "chunked reply")
        check(r4 is not None and r4[0] == 100, "100 Continue first")
        r.wait_requests(4, timeout=10)
        reqs = r.requests()
        check([q["seq"] for q in reqs] == [1, 2, 3, 4], "sequence")
        check(reqs[0]["method"] == "POST" and reqs[0]["path"] == "/v1/traces", "method/path")
        check(reqs[0]["body"] == b"abc" and reqs[1]["body"] == b"", "bodies")
        check(reqs[0]["headers"].get("x-test") == "One", "headers verbatim")
        meta = (r.out_dir / "000001.meta").read_text()
        check(meta.startswith("POST /v1/traces\nHost: x\n") and "X-Test: One\n" in meta,
              "meta format: " + repr(meta))
        check(reqs[2]["body"] == b"hello chunked world", "chunked body")
        check(reqs[3]["body"] == b"x" * 200000, "large body")
        check(not [n for n in r.out_dir.iterdir() if n.name.startswith(".")], "temp files left")

        # malformed requests get 400 and are not saved
        for bad in (b"GARBAGE\r\n\r\n",
                    b"POST /v1/traces HTTP/1.1\r\nContent-Length: x1\r\n\r\n",
                    b"POST /v1/traces HTTP/1.1\r\nContent-Length: 1\r\n"
                    b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                    b"POST /v1/traces HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"):
            s = connect(r.port)
            s.sendall(bad)
            resp = read_response(s)
            s.close()
            check(resp is not None and resp[0] == 400, f"400 for {bad!r}: {resp}")
        # Connection: close is honoured
        s = connect(r.port)
        s.sendall(request(b"/v1/traces", b"z", b"Connection: close\r\n"))
        resp = read_response(s)
        check(resp and resp[1].get("connection") == "close" and s.recv(1) == b"", "close")
        s.close()
        check(r.request_count() == 5, f"{r.request_count()} saved, wanted 5")
    check(r.returncode == 0, f"exit code {r.returncode} on SIGTERM")


def test_faults():
    with receiver(status_seq="503,429,close,200", retry_after="2",
                          response_body_bytes=7) as r:
        got = []
        for _ in range(5):
            s = connect(r.port)
            s.sendall(request(b"/v1/traces", b"q"))
            got.append(read_response(s))
            s.close()
        check(got[0] and got[0][0] == 503 and got[0][1].get("retry-after") == "2", "503")
        check(got[0] and got[0][2] == b"xxxxxxx", "7-byte body")
        check(got[1] and got[1][0] == 429 and got[1][1].get("retry-after") == "2", "429")
        check(got[2] is None, "close: no answer")
        check(got[3] and got[3][0] == 200 and "retry-after" not in got[3][1], "200, no Retry-After")
        check(got[4] and got[4][0] == 200, "last entry repeats")
        check(r.request_count() == 5, "all requests saved, answered or not")

    with receiver(status=500) as r:
        s = connect(r.port)
        s.sendall(request(b"/v1/logs", b"q"))
        resp = read_response(s)
        check(resp and resp[0] == 500, "--status")
        s.close()

    with receiver(silent=True) as r:
        s = connect(r.port)
        s.settimeout(0.3)
        s.sendall(request(b"/v1/logs", b"q"))
        try:
            data = s.recv(1)
            check(False, f"silent answered {data!r}")
        except socket.timeout:
            pass
        s.close()
        check(r.wait_requests(1, timeout=5) == 1, "silent saves the request")

    with receiver(delay_ms=200) as r:
        s = connect(r.port)
        t0 = time.monotonic()
        s.sendall(request(b"/v1/logs", b"q"))
        resp = read_response(s)
        dt = time.monotonic() - t0
        s.close()
        check(resp and resp[0] == 200 and dt >= 0.19, f"delay {dt:.3f}s")


def one_shot(port, body, lat, i):
    t0 = time.monotonic()
    s = connect(port)
    s.sendall(request(b"/v1/traces", body, b"Connection: close\r\n"))
    resp = read_response(s)
    s.close()
    lat[i] = time.monotonic() - t0 if resp and resp[0] == 200 else None


def test_concurrency():
    n = 300
    body = b"b" * 1000
    for count_only in (False, True):
        with receiver(count_only=count_only) as r:
            lat = [None] * n
            threads = [threading.Thread(target=one_shot, args=(r.port, body, lat, i))
                       for i in range(n)]
            t0 = time.monotonic()
            for t in threads:
                t.start()
            for t in threads:
                t.join(30)
            wall = time.monotonic() - t0
            ok = [x for x in lat if x is not None]
            check(len(ok) == n, f"{len(ok)} of {n} concurrent requests answered")
            if ok:
                ok.sort()
                mode = "count-only" if count_only else "files"
                print(f"{n} concurrent connections ({mode}): wall {wall * 1000:.0f} ms, "
                      f"median {ok[len(ok) // 2] * 1000:.2f} ms, "
                      f"p99 {ok[int(len(ok) * 0.99) - 1] * 1000:.2f} ms")
            if not count_only:
                check(r.wait_requests(n, timeout=10) == n, "all saved")
        if count_only:
            check(r.counts == {"requests": n, "bytes": n * len(body)}, f"counts {r.counts}")


def main():
    test_basic()
    test_faults()
    test_concurrency()
    for r in receivers:  # sanitizer reports land on stderr; exit codes stay 0
        check(r.stderr_text == "", "otlp_sink stderr: " + r.stderr_text[:2000])
    print(f"sink_selftest: {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
