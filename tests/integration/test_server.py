"""The local side: `otel-preload run` on the embedded default, `otel-preload dash`'s
receiver and store, the retrievers. Assertions on exit statuses, stderr, rows in
the SQLite store (docs/STORE.md) and HTTP answers."""
import gzip
import http.client
import json
import os
import signal
import sqlite3
import struct
import subprocess
import tempfile
import threading
import time
import unittest

from common import SANITIZED, no_shells_under_tsan  # noqa: F401

BUILD = os.environ.get("OTELP_BUILD_DIR", "")
OTEL_PRELOAD = os.path.join(BUILD, "otel-preload")


# ---- a minimal protobuf writer for OTLP requests (field numbers from the .proto files)

def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def fld(num, wt, payload):
    key = varint((num << 3) | wt)
    if wt == 0:
        return key + varint(payload)
    if wt == 1:
        return key + struct.pack("<Q", payload)
    if wt == 5:
        return key + struct.pack("<I", payload)
    if isinstance(payload, str):
        payload = payload.encode()
    return key + varint(len(payload)) + payload


def any_value(v):
    if isinstance(v, bool):
        return fld(2, 0, int(v))
    if isinstance(v, int):
        return fld(3, 0, v & 0xFFFFFFFFFFFFFFFF)
    if isinstance(v, float):
        return key_double(v)
    if isinstance(v, bytes):
        return fld(7, 2, v)
    return fld(1, 2, v)


def key_double(v):
    return varint((4 << 3) | 1) + struct.pack("<d", v)


def kv(k, v):
    return fld(1, 2, k) + fld(2, 2, any_value(v))


def span(trace_id, span_id, name, start, end, parent=b"", attrs=None, events=(), status=0):
    b = fld(1, 2, trace_id) + fld(2, 2, span_id)
    if parent:
        b += fld(4, 2, parent)
    b += fld(5, 2, name) + fld(6, 0, 1) + fld(7, 1, start) + fld(8, 1, end)
    for k, v in (attrs or {}).items():
        b += fld(9, 2, kv(k, v))
    for (t, n, ea) in events:
        ev = fld(1, 1, t) + fld(2, 2, n)
        for k, v in ea.items():
            ev += fld(3, 2, kv(k, v))
        b += fld(11, 2, ev)
    if status:
        b += fld(15, 2, fld(3, 0, status))
    return b


def traces_request(spans, resource=None):
    res = b"".join(fld(1, 2, kv(k, v)) for k, v in (resource or {"service.name": "t"}).items())
    scope = fld(1, 2, fld(1, 2, "test-scope") + fld(2, 2, "1.0"))
    ss = scope + b"".join(fld(2, 2, s) for s in spans)
    rs = fld(1, 2, res) + fld(2, 2, ss)
    return fld(1, 2, rs)


def logs_request(records, resource=None):
    res = b"".join(fld(1, 2, kv(k, v)) for k, v in (resource or {"service.name": "t"}).items())
    sl = b"".join(fld(2, 2, r) for r in records)
    rl = fld(1, 2, res) + fld(2, 2, sl)
    return fld(1, 2, rl)


def log_record(t, sev, body, trace_id=b"", span_id=b"", attrs=None):
    b = fld(1, 1, t) + fld(2, 0, sev) + fld(5, 2, any_value(body))
    for k, v in (attrs or {}).items():
        b += fld(6, 2, kv(k, v))
    if trace_id:
        b += fld(9, 2, trace_id) + fld(10, 2, span_id)
    return b


def tid(n):
    return n.to_bytes(16, "big")


def sid(n):
    return n.to_bytes(8, "big")


def post(port, path, body, ctype="application/x-protobuf", headers=None, timeout=10):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        h = {"Content-Type": ctype}
        h.update(headers or {})
        conn.request("POST", path, body=body, headers=h)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def get(port, path):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


class Env:
    """A temporary store and runtime directory."""

    def __init__(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="otelp-server-")
        self.db = os.path.join(self.tmp.name, "store.db")
        self.rt = os.path.join(self.tmp.name, "rt")
        os.mkdir(self.rt, 0o700)

    def env(self, **extra):
        e = dict(os.environ)
        e.pop("LD_PRELOAD", None)
        for k in list(e):
            if k.startswith("OTEL_") or k == "TRACEPARENT":
                del e[k]
        prefix = os.environ.get("OTELP_PRELOAD_PREFIX", "").strip()
        if prefix:
            e["LD_PRELOAD"] = prefix
        e["OTEL_PRELOAD_LIB"] = os.environ["OTELP_LIB"]
        e["OTEL_PRELOAD_DB"] = self.db
        e["XDG_RUNTIME_DIR"] = self.rt
        e.update({k: str(v) for k, v in extra.items()})
        return e

    def sql(self, q, *args):
        con = sqlite3.connect(self.db, timeout=10)
        try:
            return con.execute(q, args).fetchall()
        finally:
            con.close()

    def run(self, args, timeout=60, **extra):
        p = subprocess.run([OTEL_PRELOAD] + args, env=self.env(**extra), stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
        return p.returncode, p.stdout, p.stderr


class Dash:
    def __init__(self, env, *args, extra=None):
        self.env = env
        self.proc = subprocess.Popen([OTEL_PRELOAD, "dash", "--port", "0", "--grpc-port", "0"] +
                                     list(args),
                                     env=env.env(**(extra or {})), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.port = None
        deadline = time.monotonic() + 20
        rtfile = os.path.join(env.rt, "otel-preload", "server")
        while time.monotonic() < deadline:
            if os.path.exists(rtfile):
                with open(rtfile) as f:
                    parts = f.read().split()
                if len(parts) >= 4 and int(parts[0]) == self.proc.pid:
                    self.port = int(parts[1])
                    self.grpc_port = int(parts[2])
                    return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise AssertionError("otel-preload dash did not start: %r" % self.proc.stderr.read())

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=20)
        self.proc.stderr.close()
        return self.proc.returncode


class TestRun(unittest.TestCase):
    def setUp(self):
        self.e = Env()

    def tearDown(self):
        self.e.tmp.cleanup()

    @no_shells_under_tsan
    def test_exit_code_output_summary_and_store(self):
        rc, out, err = self.e.run(["run", "--", "sh", "-c", "echo out; ls / >/dev/null; exit 3"])
        self.assertEqual(rc, 3)
        self.assertEqual(out, b"out\n")
        text = err.decode()
        self.assertIn("otel-preload: run 1: exit 3", text)
        self.assertIn("otel-preload traces show 1", text)
        self.assertIn("  sh  ", text)
        runs = self.e.sql("SELECT kind, exit_code, signal, end_ns > start_ns, trace_id FROM runs")
        self.assertEqual(len(runs), 1)
        self.assertEqual(runs[0][:4], ("run", 3, None, 1))
        trace = runs[0][4]
        rows = self.e.sql("SELECT name, pid, exit_code FROM spans WHERE trace_id = ? AND pid IS NOT"
                          " NULL ORDER BY start_ns", trace)
        names = [r[0] for r in rows]
        self.assertEqual(names[0], "sh")
        self.assertIn("ls", names)
        self.assertEqual(rows[0][2], 3)
        # every span of the run is in the run's trace, under the launcher's own span
        roots = self.e.sql("SELECT name FROM spans WHERE parent_span_id IS NULL")
        self.assertEqual(roots, [("otel-preload run sh",)])
        # attributes copied into columns are also in span_attrs
        pid = self.e.sql("SELECT value FROM span_attrs a JOIN spans s ON s.id = a.span_id"
                         " WHERE s.name = 'sh' AND a.key = 'process.pid'")
        self.assertEqual(pid[0][0], rows[0][1])

    def test_quiet_and_json(self):
        rc, out, err = self.e.run(["run", "--quiet", "--", OTEL_PRELOAD, "--version"])
        self.assertEqual(rc, 0)
        self.assertEqual(err, b"")
        self.assertTrue(out.startswith(b"otel-preload "))
        rc, out, err = self.e.run(["run", "--json", "--", OTEL_PRELOAD, "bogus-command"])
        self.assertEqual(rc, 2)
        summary = json.loads(err.decode().strip().splitlines()[-1])
        self.assertEqual(summary["exit_code"], 2)
        self.assertEqual(summary["run"], 2)
        self.assertEqual(summary["command"], [OTEL_PRELOAD, "bogus-command"])

    def test_tee_sends_to_the_collector_and_keeps_locally(self):
        import harness
        if not harness.node_path() or not harness.have_node_modules():
            self.skipTest("node or tests/interop/node_modules missing (scripts/setup)")
        with harness.Receiver() as r:
            rc, out, err = self.e.run(["run", "--tee", "--endpoint", r.endpoint, "--", "/bin/true"])
            self.assertEqual(rc, 0, err)
            self.assertIn(b"otel-preload: run 1: exit 0", err)
            r.wait_requests(1, timeout=20)
            self.assertIn("true", [s["name"] for s in r.spans()])
        self.assertIn(("true",), self.e.sql("SELECT name FROM spans"))
        rc, out, err = self.e.run(["run", "--tee", "--", "/bin/true"])
        self.assertEqual(rc, 2)
        self.assertIn(b"--tee needs a collector", err)

    def test_exec_failure(self):
        rc, out, err = self.e.run(["run", "--quiet", "--", "/nonexistent/program"])
        self.assertEqual(rc, 127)
        self.assertIn(b"cannot run /nonexistent/program", err)

    @no_shells_under_tsan
    def test_death_by_signal_is_the_launchers(self):
        rc, out, err = self.e.run(["run", "--", "sh", "-c", "kill -USR1 $$"])
        self.assertEqual(rc, -signal.SIGUSR1)
        self.assertIn("killed by signal 10 (USR1)", err.decode())
        self.assertEqual(self.e.sql("SELECT signal FROM runs"), [(10,)])

    def test_sigterm_reaches_the_command(self):
        p = subprocess.Popen([OTEL_PRELOAD, "run", "--quiet", "--", "sleep", "60"],
                             env=self.e.env(), stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and not self.e.sql_ok_runs():
                time.sleep(0.05)
            time.sleep(0.3)
            p.send_signal(signal.SIGTERM)
            rc = p.wait(timeout=20)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=20)
            p.stderr.close()
        self.assertEqual(rc, -signal.SIGTERM)
        self.assertEqual(self.e.sql("SELECT signal FROM runs"), [(signal.SIGTERM,)])

    def test_usage_errors_say_what_to_type(self):
        for args, want in ((["run"], b"otel-preload run -- make -j8"),
                           (["spans", "--limit", "x"], b"--limit takes a positive number"),
                           (["spans", "--since", "yesterday"], b"--since takes a duration"),
                           (["traces", "show"], b"show needs a run number or trace id"),
                           (["frobnicate"], b"unknown command 'frobnicate'")):
            rc, out, err = self.e.run(args)
            self.assertEqual(rc, 2, args)
            self.assertIn(want, err, args)
        for cmd in ("run", "dash", "traces", "spans", "logs", "metrics", "status"):
            rc, out, err = self.e.run([cmd, "--help"])
            self.assertEqual(rc, 0, cmd)
            self.assertIn(b"usage: otel-preload " + cmd.encode(), out)

    @no_shells_under_tsan
    def test_two_runs_at_once_share_the_store(self):
        script = "for i in 1 2 3 4 5 6 7 8; do ls / >/dev/null; done"
        procs = [subprocess.Popen([OTEL_PRELOAD, "run", "--quiet", "--", "sh", "-c", script],
                                  env=self.e.env(), stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                 for _ in range(2)]
        errs = b""
        for p in procs:
            self.assertEqual(p.wait(timeout=120), 0, p.stderr.read())
            errs += p.stderr.read()
            p.stderr.close()
        runs = self.e.sql("SELECT id, trace_id, span_count FROM runs ORDER BY id")
        self.assertEqual(len(runs), 2, errs)
        for run_id, trace, count in runs:
            n = self.e.sql("SELECT count(*), count(DISTINCT span_id) FROM spans WHERE trace_id = ?",
                           trace)[0]
            self.assertEqual(n[0], n[1])
            self.assertEqual(n[0], count)
            self.assertEqual(self.e.sql("SELECT count(*) FROM spans WHERE trace_id = ? AND name"
                                        " = 'ls'", trace), [(8,)])
        self.assertEqual(self.e.sql("PRAGMA integrity_check"), [("ok",)])

    @no_shells_under_tsan
    def test_retrievers(self):
        rc, _, err = self.e.run(["run", "--quiet", "--", "sh", "-c", "ls /nonexistent-x; true"])
        self.assertEqual(rc, 0, err)
        rc, out, err = self.e.run(["traces"])
        self.assertEqual(rc, 0, err)
        self.assertIn(b"sh", out)
        rc, out, err = self.e.run(["traces", "show", "1"])
        self.assertEqual(rc, 0, err)
        lines = out.decode().splitlines()
        self.assertTrue(lines[1].startswith("otel-preload run sh"))
        self.assertTrue(lines[2].startswith("  sh  "))
        self.assertTrue(any(line.startswith("    ls  ") and "exit 2" in line for line in lines))
        rc, out, err = self.e.run(["spans", "--trace", "1", "--format", "json"])
        self.assertEqual(rc, 0, err)
        spans = json.loads(out)
        ls = [s for s in spans if s["name"] == "ls"][0]
        self.assertEqual(ls["exit_code"], 2)
        self.assertEqual(ls["attributes"]["process.exit.code"], 2)
        self.assertEqual(ls["attributes"]["process.command_args"], ["ls", "/nonexistent-x"])
        self.assertIn("service.instance.id", ls["resource"])
        rc, out, err = self.e.run(["logs", "--trace", "1", "--format", "csv"])
        self.assertEqual(rc, 0, err)
        self.assertIn(b"nonexistent-x", out)
        rc, out, err = self.e.run(["spans", "--since", "1h", "--limit", "1", "--format", "json"])
        self.assertEqual(len(json.loads(out)), 1)
        rc, out, err = self.e.run(["spans", "--to", "1000"])
        self.assertEqual(rc, 0, err)
        self.assertEqual(out.decode().count("\n"), 1)  # the header only
        # --where: the filter grammar (server/query.c), when this build has it
        rc, out, err = self.e.run(["spans", "--where", 'name = "ls" and duration > 0ms',
                                   "--format", "json"])
        if b"not available yet" in err:
            self.assertEqual(rc, 2)
            return
        self.assertEqual(rc, 0, err)
        self.assertEqual({s["name"] for s in json.loads(out)}, {"ls"})
        rc, out, err = self.e.run(["spans", "--trace", "1", "--where", "process.exit.code != 0",
                                   "--format", "json"])
        self.assertEqual(rc, 0, err)
        self.assertIn("ls", {s["name"] for s in json.loads(out)})
        rc, out, err = self.e.run(["logs", "--where", "severity >= ERROR", "--format", "csv"])
        self.assertIn(b"nonexistent-x", out)
        rc, out, err = self.e.run(["spans", "--where", 'nme = "ls" and'])
        self.assertEqual(rc, 2)
        self.assertIn(b"column 15", err)


# Env.sql_ok_runs: whether the run was recorded yet (the launcher started the command).
def _sql_ok_runs(self):
    if not os.path.exists(self.db):
        return False
    try:
        return bool(self.sql("SELECT 1 FROM runs"))
    except sqlite3.Error:
        return False


Env.sql_ok_runs = _sql_ok_runs


class TestDash(unittest.TestCase):
    def setUp(self):
        self.e = Env()

    def tearDown(self):
        self.e.tmp.cleanup()

    def test_receives_stores_and_answers(self):
        d = Dash(self.e)
        try:
            body = traces_request([
                span(tid(1), sid(1), "root", 1000, 5000, attrs={"http.method": "GET", "n": 7,
                                                                 "ok": True, "r": 1.5},
                     events=[(2000, "ev", {"k": "v"})]),
                span(tid(1), sid(2), "child", 2000, 3000, parent=sid(1), status=2),
            ], resource={"service.name": "svc", "process.pid": 42})
            st, resp = post(d.port, "/v1/traces", body)
            self.assertEqual((st, resp), (200, b""))
            # received twice (a retry, a spool replayed): kept once
            self.assertEqual(post(d.port, "/v1/traces", body)[0], 200)
            # gzip
            body2 = traces_request([span(tid(2), sid(3), "zipped", 1000, 2000)])
            st, _ = post(d.port, "/v1/traces", gzip.compress(body2),
                         headers={"Content-Encoding": "gzip"})
            self.assertEqual(st, 200)
            logs = logs_request([log_record(1500, 17, "it failed", tid(1), sid(2), {"a": 1})],
                                resource={"service.name": "svc"})
            self.assertEqual(post(d.port, "/v1/logs", logs)[0], 200)
            rows = self.e.sql("SELECT name, duration_ns, status_code, service_name, pid,"
                              " parent_span_id FROM spans ORDER BY id")
            self.assertEqual(rows, [("root", 4000, 0, "svc", 42, None),
                                    ("child", 1000, 2, "svc", 42, "0000000000000001"),
                                    ("zipped", 1000, 0, "t", None, None)])
            attrs = dict((k, (t, v)) for k, t, v in self.e.sql(
                "SELECT key, type, value FROM span_attrs WHERE span_id = 1"))
            self.assertEqual(attrs, {"http.method": ("s", "GET"), "n": ("i", 7), "ok": ("b", 1),
                                     "r": ("d", 1.5)})
            self.assertEqual(self.e.sql("SELECT seq, time_ns, name, attrs FROM span_events"),
                             [(0, 2000, "ev", '{"k":"v"}')])
            self.assertEqual(self.e.sql("SELECT severity_number, body, trace_id, span_id FROM logs"),
                             [(17, "it failed", tid(1).hex(), sid(2).hex())])
            self.assertEqual(self.e.sql("SELECT kind, span_count, log_count FROM runs ORDER BY id"),
                             [("trace", 2, 1), ("trace", 1, 0)])
            # the same over HTTP
            st, out = get(d.port, "/api/v1/spans?trace=" + tid(1).hex() + "&limit=10")
            self.assertEqual(st, 200)
            self.assertEqual(sorted(s["name"] for s in json.loads(out)), ["child", "root"])
            st, out = get(d.port, "/api/v1/traces/" + tid(1).hex())
            self.assertEqual(st, 200)
            tree = json.loads(out)
            self.assertEqual(tree["roots"][0]["name"], "root")
            self.assertEqual(tree["roots"][0]["children"][0]["name"], "child")
            self.assertEqual(get(d.port, "/api/v1/nothing")[0], 404)
            self.assertEqual(get(d.port, "/api/v1/spans?since=yesterday")[0], 400)
            # seconds or a date past 2262 overflowed the nanoseconds (found by fuzz_query)
            self.assertEqual(get(d.port, "/api/v1/spans?since=99999999999999999")[0], 400)
            self.assertEqual(get(d.port, "/api/v1/spans?to=9999-12-31T23:59:59Z")[0], 400)
            self.assertEqual(get(d.port, "/api/v1/spans?from=9223372036")[0], 200)
        finally:
            self.assertEqual(d.stop(), 0)
        self.assertFalse(os.path.exists(os.path.join(self.e.rt, "otel-preload", "server")))

    def test_partial_success(self):
        d = Dash(self.e)
        try:
            body = traces_request([span(tid(3), sid(1), "good", 1, 2),
                                   span(bytes(16), sid(2), "no trace id", 1, 2)])
            st, resp = post(d.port, "/v1/traces", body)
            self.assertEqual(st, 200)
            # ExportTraceServiceResponse.partial_success {rejected_spans: 1, error_message}
            self.assertEqual(resp[:4], b"\x0a" + bytes([len(resp) - 2]) + b"\x08\x01")
            self.assertIn(b"without a trace_id", resp)
            self.assertEqual(self.e.sql("SELECT name FROM spans"), [("good",)])
        finally:
            d.stop()

    def test_bad_requests_are_answered_and_counted_while_good_ones_flow(self):
        d = Dash(self.e)
        good = traces_request([span(tid(9), sid(1), "good", 1, 2)])
        nested = any_value("x")
        for _ in range(80):
            nested = fld(5, 2, fld(1, 2, nested))  # AnyValue{array_value{values: [..]}}
        deep = traces_request([span(tid(9), sid(2), "deep", 1, 2) + fld(9, 2, fld(1, 2, "k") +
                                                                       fld(2, 2, nested))])
        bad_utf8 = traces_request([span(tid(9), sid(3), b"\xff\xfe".decode("latin-1"), 1, 2)])
        bad_utf8 = bad_utf8.replace("ÿþ".encode(), b"\xff\xfe")
        cases = [
            ("truncated", lambda: post(d.port, "/v1/traces", good[:-3]), 400),
            ("garbage", lambda: post(d.port, "/v1/traces", b"\xff" * 50), 400),
            ("wrong content type", lambda: post(d.port, "/v1/traces", good, "text/plain"), 415),
            ("deep nesting", lambda: post(d.port, "/v1/traces", deep), 400),
            ("invalid UTF-8", lambda: post(d.port, "/v1/traces", bad_utf8), 400),
            ("bad gzip", lambda: post(d.port, "/v1/traces", b"\x1f\x8b\x08garbage",
                                      headers={"Content-Encoding": "gzip"}), 400),
            ("unknown encoding", lambda: post(d.port, "/v1/traces", good,
                                              headers={"Content-Encoding": "br"}), 415),
            ("unknown path", lambda: post(d.port, "/v2/nothing", good), 404),
            # an empty chunk-size line is no size (it once read the next line's, as strtoull
            # skips newlines: this body was an empty request, answered 200)
            ("empty chunk size", lambda: self.chunked(d.port, b"\r\n0\r\n\r\n"), 400),
            ("chunk size not hex", lambda: self.chunked(d.port, b"x\r\n0\r\n\r\n"), 400),
            ("oversized", lambda: self.oversized(d.port), 413),
            ("bad logs", lambda: post(d.port, "/v1/logs", b"\x0a\x05\x0a"), 400),
            ("bad JSON", lambda: post(d.port, "/v1/traces", b'{"resourceSpans": [', "application/json"),
             400),
            ("JSON id", lambda: post(d.port, "/v1/traces", b'{"resourceSpans": [{"scopeSpans": [{'
                                     b'"spans": [{"traceId": "xyz", "name": "a"}]}]}]}',
                                     "application/json"), 400),
        ]
        try:
            for name, send, want in cases:
                st, resp = send()
                self.assertEqual(st, want, name)
                # a google.rpc.Status: code 3 (INVALID_ARGUMENT), then a message
                self.assertEqual(resp[:3], b"\x08\x03\x12", name)
                self.assertGreater(len(resp), 10, name)
                self.assertEqual(post(d.port, "/v1/traces", good)[0], 200, name)
            self.assertEqual(self.e.sql("SELECT name FROM spans"), [("good",)])
        finally:
            d.stop()

    def chunked(self, port, raw):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            conn.putrequest("POST", "/v1/traces")
            conn.putheader("Content-Type", "application/x-protobuf")
            conn.putheader("Transfer-Encoding", "chunked")
            conn.endheaders(message_body=raw)
            r = conn.getresponse()
            return r.status, r.read()
        finally:
            conn.close()

    def oversized(self, port):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            conn.putrequest("POST", "/v1/traces")
            conn.putheader("Content-Type", "application/x-protobuf")
            conn.putheader("Content-Length", str(64 * 1024 * 1024))
            conn.endheaders()
            r = conn.getresponse()
            return r.status, r.read()
        finally:
            conn.close()

    def test_retention_by_count_and_bytes_keeps_pinned(self):
        d = Dash(self.e, "--keep-runs", "3")
        try:
            for i in range(1, 6):
                body = traces_request([span(tid(100 + i), sid(1), "r%d" % i, i * 1000, i * 1000 + 5)])
                self.assertEqual(post(d.port, "/v1/traces", body)[0], 200)
                if i == 1:
                    rc, out, err = self.e.run(["traces", "pin", tid(101).hex()])
                    self.assertEqual(rc, 0, err)
            time.sleep(1.1)  # retention runs at most once a second
            body = traces_request([span(tid(106), sid(1), "r6", 6000, 6005)])
            self.assertEqual(post(d.port, "/v1/traces", body)[0], 200)
            names = [r[0] for r in self.e.sql(
                "SELECT s.name FROM runs r JOIN spans s ON s.run_id = r.id ORDER BY r.start_ns")]
            self.assertEqual(names, ["r1", "r5", "r6"])  # r1 pinned; the oldest others went
            self.assertEqual(self.e.sql("SELECT count(*) FROM span_attrs WHERE span_id NOT IN"
                                        " (SELECT id FROM spans)"), [(0,)])
        finally:
            d.stop()
        d = Dash(self.e, "--max-bytes", "1")
        try:
            time.sleep(1.1)
            body = traces_request([span(tid(107), sid(1), "r7", 7000, 7005)])
            self.assertEqual(post(d.port, "/v1/traces", body)[0], 200)
            names = [r[0] for r in self.e.sql("SELECT name FROM spans ORDER BY start_ns")]
            self.assertEqual(names, ["r1"])  # only the pinned run stays under a 1-byte cap
        finally:
            d.stop()

    def test_ingests_every_shim_transport(self):
        d = Dash(self.e)
        cases = [("http/protobuf", "none"), ("http/protobuf", "gzip"), ("http/json", "none"),
                 ("http/json", "gzip"), ("grpc", "none"), ("grpc", "gzip")]
        try:
            for proto, comp in cases:
                svc = "svc-%s-%s" % (proto.replace("/", "-"), comp)
                port = d.grpc_port if proto == "grpc" else d.port
                env = self.e.env(OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:%d" % port,
                                 OTEL_EXPORTER_OTLP_PROTOCOL=proto,
                                 OTEL_EXPORTER_OTLP_COMPRESSION=comp, OTEL_SERVICE_NAME=svc)
                prefix = os.environ.get("OTELP_PRELOAD_PREFIX", "").strip()
                env["LD_PRELOAD"] = (prefix + " " if prefix else "") + os.environ["OTELP_LIB"]
                p = subprocess.run(["/bin/true"], env=env, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
                self.assertEqual(p.returncode, 0, p.stderr)
                rows = self.e.sql("SELECT name, pid, exit_code FROM spans WHERE service_name = ?",
                                  svc)
                self.assertEqual(len(rows), 1, (proto, comp))
                self.assertEqual((rows[0][0], rows[0][2]), ("true", 0))
                self.assertIsNotNone(rows[0][1])
        finally:
            d.stop()

    def test_drains_the_spool_at_start(self):
        spool = os.path.join(self.e.tmp.name, "spool")
        os.mkdir(spool, 0o700)

        def batch(seq, signal_name, body, encoding="identity", records=1, corrupt=False):
            if encoding == "gzip":
                body = gzip.compress(body)
            head = ("OTEL-PRELOAD-SPOOL 1\nsignal: %s\nendpoint: http://localhost:4318/v1/%s\n"
                    "protocol: http/protobuf\ncontent-type: application/x-protobuf\n"
                    "content-encoding: %s\nrecords: %d\nlength: %d\n\n"
                    % (signal_name, signal_name, encoding, records,
                       len(body) + (5 if corrupt else 0))).encode()
            data = head + body
            name = "%020d-%d-%d-%s-%d-%d.otlp" % (time.time_ns(), 4242, seq, signal_name, records,
                                                 len(data))
            with open(os.path.join(spool, name), "wb") as f:
                f.write(data)

        batch(1, "traces", traces_request([span(tid(77), sid(1), "spooled", 1, 2)]))
        batch(2, "traces", traces_request([span(tid(77), sid(2), "zipped", 2, 3)]), "gzip")
        batch(3, "logs", logs_request([log_record(5, 9, "spooled log", tid(77), sid(1))]))
        batch(4, "traces", b"\x0a\x03abc", corrupt=True)
        d = Dash(self.e, extra={"OTEL_PRELOAD_SPOOL_DIR": spool})
        try:
            self.assertEqual(sorted(r[0] for r in self.e.sql("SELECT name FROM spans")),
                             ["spooled", "zipped"])
            self.assertEqual(self.e.sql("SELECT body FROM logs"), [("spooled log",)])
            self.assertEqual(os.listdir(spool), [])  # stored ones and the corrupt one are gone
        finally:
            d.stop()

    @no_shells_under_tsan
    def test_run_sends_to_a_running_dash(self):
        d = Dash(self.e)
        try:
            env = {"OTEL_PRELOAD_DB": os.path.join(self.e.tmp.name, "unused.db")}
            rc, out, err = self.e.run(["run", "--", "sh", "-c", "ls / >/dev/null"], **env)
            self.assertEqual(rc, 0, err)
            self.assertIn(b"otel-preload: run 1: exit 0", err)
            self.assertFalse(os.path.exists(env["OTEL_PRELOAD_DB"]))
            names = {r[0] for r in self.e.sql("SELECT name FROM spans")}
            self.assertTrue({"sh", "ls", "otel-preload run sh"} <= names, names)
        finally:
            d.stop()

    def test_killed_mid_write_loses_at_most_the_batch_in_flight(self):
        d = Dash(self.e)
        acked = []
        stop = threading.Event()

        def writer(k):
            n = 0
            while not stop.is_set() and n < 10000:
                spans = [span(tid(1000 + k * 100000 + n), sid(j + 1), "s%d" % j, 1, 2,
                              attrs={"a": j}) for j in range(50)]
                try:
                    st, _ = post(d.port, "/v1/traces", traces_request(spans), timeout=5)
                except OSError:
                    return
                if st == 200:
                    acked.append(1000 + k * 100000 + n)
                n += 1

        threads = [threading.Thread(target=writer, args=(k,)) for k in range(2)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 30
        while len(acked) < 20 and time.monotonic() < deadline:
            time.sleep(0.05)
        d.stop(signal.SIGKILL)
        stop.set()
        for t in threads:
            t.join(timeout=30)
        self.assertGreaterEqual(len(acked), 20)
        self.assertEqual(self.e.sql("PRAGMA integrity_check"), [("ok",)])
        for t in acked:
            self.assertEqual(self.e.sql("SELECT count(*) FROM spans WHERE trace_id = ?",
                                        t.to_bytes(16, "big").hex()), [(50,)])
        total, distinct = self.e.sql("SELECT count(*), count(DISTINCT trace_id || span_id)"
                                     " FROM spans")[0]
        self.assertEqual(total, distinct)
        self.assertEqual(total % 50, 0)  # whole batches only
        # and the store opens cleanly for a new server
        d = Dash(self.e)
        try:
            self.assertEqual(post(d.port, "/v1/traces",
                                  traces_request([span(tid(5), sid(5), "after", 1, 2)]))[0], 200)
        finally:
            d.stop()


class TestInterop(unittest.TestCase):
    """What the official OpenTelemetry JS SDK sends (its own protobuf
    serializer) comes back from the store equal: ids, times, kinds, status,
    attributes of every type, events, links, resource, log records."""

    def test_js_sdk_spans_and_logs_protobuf(self):
        self.js_sdk("proto")

    def test_js_sdk_spans_and_logs_json(self):
        self.js_sdk("json")

    def test_js_sdk_spans_and_logs_grpc(self):
        self.js_sdk("grpc")

    def js_sdk(self, mode):
        import harness
        if not harness.node_path() or not harness.have_node_modules():
            self.skipTest("node or tests/interop/node_modules missing (scripts/setup)")
        e = Env()
        d = Dash(e)
        try:
            p = subprocess.run([harness.node_path(), str(harness.INTEROP_DIR / "js_producer.js"),
                                str(d.grpc_port if mode == "grpc" else d.port), mode],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               timeout=60)
            self.assertEqual(p.returncode, 0, p.stderr)
            sent = json.loads(p.stdout)
            if mode == "grpc":
                self.assertEqual(sent["bad_code"], 3)  # INVALID_ARGUMENT, and the server goes on
            st, out = get(d.port, "/api/v1/spans?limit=100")
            self.assertEqual(st, 200)
            got = {s["span_id"]: s for s in json.loads(out)}
            self.assertEqual(len(got), len(sent["spans"]))
            for s in sent["spans"]:
                g = got[s["span_id"]]
                for k in ("trace_id", "parent_span_id", "name", "kind", "status_code"):
                    self.assertEqual(g[k], s[k], k)
                self.assertEqual(g["start_ns"], int(s["start_ns"]))
                self.assertEqual(g["end_ns"], int(s["end_ns"]))
                self.assertEqual(g["attributes"], s["attributes"])
                self.assertEqual([(x["name"], x["time_ns"], x["attributes"]) for x in g["events"]],
                                 [(x["name"], int(x["time_ns"]), x["attributes"])
                                  for x in s["events"]])
                self.assertEqual(g["links"], s["links"])
                self.assertEqual(g["resource"]["service.name"], "js-producer")
                self.assertEqual(g["resource"]["deployment.environment"], "test")
            st, out = get(d.port, "/api/v1/logs")
            logs = json.loads(out)
            self.assertEqual(len(logs), 1)
            self.assertEqual(logs[0]["time_ns"], int(sent["logs"][0]["time_ns"]))
            for k in ("severity_number", "body", "trace_id", "span_id"):
                self.assertEqual(logs[0][k], sent["logs"][0][k], k)
            self.assertEqual(logs[0]["attributes"], sent["logs"][0]["attributes"])
        finally:
            d.stop()
            e.tmp.cleanup()


if __name__ == "__main__":
    unittest.main()
