"""A hostile collector: whatever a peer sends, the traced program keeps its
exit code and its bytes, never crashes and never hangs (docs/SAFETY.md 4d).
Each case answers the shim's OTLP/HTTP request with one kind of bad
response; the program is run under the shim against it and compared with a
run without the shim. The loss line (OTEL_LOG_LEVEL=info) must count the
span as failed, not exported."""
import re
import socket
import threading
import unittest

from common import EXIT_PATHS, run
from harness import NodeServer, have_node_modules, node_path

# The endless cases send until the client goes away, bounded here too.
ENDLESS_BYTES = 64 << 20


def read_request(conn):
    """Reads one HTTP request (head and Content-Length body); False if the
    client went away first."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return False
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    m = re.search(rb"(?i)content-length:\s*(\d+)", head)
    need = int(m.group(1)) if m else 0
    while len(body) < need:
        chunk = conn.recv(65536)
        if not chunk:
            return False
        body += chunk
    return True


def send_endless(conn, unit):
    sent = 0
    block = unit * max(1, 65536 // len(unit))
    try:
        while sent < ENDLESS_BYTES:
            conn.sendall(block)
            sent += len(block)
    except OSError:
        pass


def endless_1xx(conn):
    send_endless(conn, b"HTTP/1.1 100 Continue\r\n\r\n")


def endless_headers(conn):
    conn.sendall(b"HTTP/1.1 200 OK\r\n")
    send_endless(conn, b"X-Filler: aaaaaaaaaaaaaaaa\r\n")


def endless_line(conn):
    conn.sendall(b"HTTP/1.1 200 OK\r\nX-Long: ")
    send_endless(conn, b"a" * 1024)


def endless_body(conn):
    conn.sendall(b"HTTP/1.1 200 OK\r\n\r\n")
    send_endless(conn, b"b" * 1024)


def endless_chunks(conn):
    conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    send_endless(conn, b"1\r\nx\r\n")


def endless_trailers(conn):
    conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n")
    send_endless(conn, b"X-Trailer: t\r\n")


def lying_length(conn):
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\nshort")


def huge_length(conn):
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n")


def huge_chunk(conn):
    conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                 b"ffffffffffffffffff\r\nx\r\n0\r\n\r\n")


def bad_chunk(conn):
    conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n\r\n")


def garbage(conn):
    conn.sendall(bytes(range(256)) * 64)


def http09(conn):
    conn.sendall(b"<html>hello</html>\n")


def redirect(conn):
    conn.sendall(b"HTTP/1.1 307 Temporary Redirect\r\nLocation: http://127.0.0.1:1/\r\n"
                 b"Content-Length: 0\r\n\r\n")


def tls_alert(conn):
    # A TLS server's answer to a plaintext request: an alert record.
    conn.sendall(b"\x15\x03\x03\x00\x02\x02\x46")


def drip_head(conn):
    # Drip-fed: one byte at a time, then a reset before the end.
    for b in b"HTTP/1.1 200 OK\r\nContent-Len":
        try:
            conn.sendall(bytes([b]))
        except OSError:
            return


def reset_now(conn):
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")


CASES = [endless_1xx, endless_headers, endless_line, endless_body, endless_chunks,
         endless_trailers, lying_length, huge_length, huge_chunk, bad_chunk, garbage, http09,
         redirect, tls_alert, drip_head, reset_now]


class Hostile:
    """A loopback server answering every request with respond(conn)."""

    def __init__(self, respond):
        self.respond = respond
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.endpoint = "http://127.0.0.1:%d" % self.sock.getsockname()[1]
        self.stop = False
        self.requests = 0
        self.thread = threading.Thread(target=self.serve, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop = True
        self.thread.join(10)
        self.sock.close()

    def serve(self):
        while not self.stop:
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                try:
                    if read_request(conn):
                        self.requests += 1
                        self.respond(conn)
                except OSError:
                    pass


def counts(err):
    m = re.search(rb"spans: exported (\d+), dropped \d+ \(queue full\), (\d+) \(export failed\)",
                  err)
    return (int(m.group(1)), int(m.group(2))) if m else None


class HostileCollector(unittest.TestCase):
    def test_every_case_keeps_the_program_and_ends(self):
        base = run([EXIT_PATHS, "exit", "3"], preload=False)
        for case in CASES:
            with self.subTest(case=case.__name__), Hostile(case) as h:
                # No spool (a cap of 0): what fails is counted as failed.
                env = {"OTEL_EXPORTER_OTLP_ENDPOINT": h.endpoint,
                       "OTEL_PRELOAD_SHUTDOWN_TIMEOUT": "1500",
                       "OTEL_EXPORTER_OTLP_TIMEOUT": "1500",
                       "OTEL_PRELOAD_SPOOL_MAX_BYTES": "0"}
                got = run([EXIT_PATHS, "exit", "3"], env=env, timeout=60)
                self.assertEqual(got, base)
                rc, out, err = run([EXIT_PATHS, "exit", "3"],
                                   env=dict(env, OTEL_LOG_LEVEL="info"), timeout=60)
                self.assertEqual((rc, out), base[:2])
                self.assertGreaterEqual(h.requests, 1)
                c = counts(err)
                self.assertIsNotNone(c, err)
                exported, failed = c
                self.assertEqual(exported, 0, err)
                self.assertGreaterEqual(failed, 1, err)
                self.assertNotIn(b"Argument list too long", err)

    def test_endless_1xx_in_a_long_lived_program(self):
        # The export thread's path (the exit flush's is the test above).
        with Hostile(endless_1xx) as h:
            env = {"OTEL_EXPORTER_OTLP_ENDPOINT": h.endpoint, "OTEL_BSP_SCHEDULE_DELAY": "50",
                   "OTEL_PRELOAD_SHUTDOWN_TIMEOUT": "1000"}
            rc, out, err = run(["sh", "-c", "for i in 1 2 3 4 5 6; do sleep 0.1; echo $i; done"],
                               env=env, timeout=60)
            self.assertEqual((rc, out, err), (0, b"1\n2\n3\n4\n5\n6\n", b""))


# gRPC (tests/interop/otlp_server.js, raw HTTP/2): what each hostile answer
# must come to. Lying frames carry grpc-status 0: the export is delivered,
# only its partial_success cannot be read; a status that is missing or no
# number is UNKNOWN, which is not retried.
GRPC_CASES = {
    "frame-too-long": "exported", "frame-too-short": "exported",
    "frame-compressed": "exported", "frame-garbage": "exported", "frame-cut": "exported",
    "no-trailers": "export_failed", "status-huge": "export_failed",
    "status-text": "export_failed", "reset": "export_failed",
}


class HostileGrpcCollector(unittest.TestCase):
    def test_every_case_keeps_the_program_and_ends(self):
        if node_path() is None or not have_node_modules():
            self.skipTest("node or tests/interop/node_modules missing (scripts/setup)")
        base = run([EXIT_PATHS, "exit", "3"], preload=False)
        for case, outcome in GRPC_CASES.items():
            with self.subTest(case=case), NodeServer("h2", status_seq=case) as srv:
                env = {"OTEL_EXPORTER_OTLP_ENDPOINT": srv.endpoint,
                       "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
                       "OTEL_PRELOAD_SHUTDOWN_TIMEOUT": "1500",
                       "OTEL_EXPORTER_OTLP_TIMEOUT": "1500",
                       "OTEL_PRELOAD_SPOOL_MAX_BYTES": "0", "OTEL_LOG_LEVEL": "info"}
                rc, out, err = run([EXIT_PATHS, "exit", "3"], env=env, timeout=60)
                self.assertEqual((rc, out), base[:2])
                m = re.search(rb"spans: exported (\d+), dropped \d+ \(queue full\), "
                              rb"(\d+) \(export failed\)", err)
                self.assertIsNotNone(m, err)
                got = {"exported": int(m.group(1)), "export_failed": int(m.group(2))}
                self.assertEqual(got[outcome], 1, err)
                self.assertEqual(sum(got.values()), 1, err)
                self.assertGreaterEqual(srv.request_count(), 1)


if __name__ == "__main__":
    unittest.main()
