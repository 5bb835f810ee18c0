"""The dashboard's server side (server/web.c, docs/DASHBOARD.md) without a browser: its API
paths (runs, flat trace rows, span detail, views), the live feed (Server-Sent Events) and the
request checks (token, Host, cross-origin writes, --listen). Assertions on HTTP answers and
the events' bytes; the browser side is tests/browser."""
import http.client
import json
import os
import socket
import subprocess
import time
import unittest

from test_server import (OTEL_PRELOAD, Dash, Env, log_record, logs_request, post, sid, span, tid,
                         traces_request)

NOW = time.time_ns()


def request(port, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, dict((k.lower(), v) for k, v in r.getheaders()), r.read()
    finally:
        conn.close()


def get_json(port, path, headers=None):
    st, _, body = request(port, "GET", path, headers=headers)
    assert st == 200, (path, st, body)
    return json.loads(body)


def a_trace(port, n=1, fail_child=True):
    """A root with two children (the second failed, with a log record); returns the trace id."""
    t = tid(0x5000 + n)
    spans = [span(t, sid(1), "root", NOW, NOW + 50_000_000),
             span(t, sid(2), "child1", NOW + 1_000_000, NOW + 9_000_000, parent=sid(1),
                  attrs={"note": "<b>as text</b>"}),
             span(t, sid(3), "child2", NOW + 10_000_000, NOW + 40_000_000, parent=sid(1),
                  status=2 if fail_child else 0)]
    st, _ = post(port, "/v1/traces", traces_request(spans))
    assert st == 200
    st, _ = post(port, "/v1/logs",
                 logs_request([log_record(NOW + 11_000_000, 17, "child2 failed", t, sid(3))]))
    assert st == 200
    return t.hex()


class Base(unittest.TestCase):
    args = ()

    def setUp(self):
        self.env = Env()
        self.d = Dash(self.env, *self.args)

    def tearDown(self):
        self.assertEqual(self.d.stop(), 0)
        self.env.tmp.cleanup()


class TestApi(Base):
    def test_runs_flat_and_span_detail(self):
        trace = a_trace(self.d.port)
        runs = get_json(self.d.port, "/api/v1/runs")
        self.assertEqual(len(runs), 1)
        r = runs[0]
        self.assertEqual((r["trace_id"], r["span_count"], r["error_count"], r["log_count"]),
                         (trace, 3, 1, 1))
        self.assertEqual(r["command"], "root")
        # the filter takes the span grammar: runs having such a span
        self.assertEqual(len(get_json(self.d.port, '/api/v1/runs?where=name%20%3D%20%22child2%22')), 1)
        self.assertEqual(get_json(self.d.port, '/api/v1/runs?where=name%20%3D%20%22nope%22'), [])
        st, _, body = request(self.d.port, "GET", "/api/v1/runs?where=name%20%3D")
        self.assertEqual(st, 400)
        self.assertIn("column", json.loads(body)["error"])
        for s in ("time", "duration", "failures", "processes"):
            self.assertEqual(len(get_json(self.d.port, "/api/v1/runs?sort=" + s)), 1)
        self.assertEqual(request(self.d.port, "GET", "/api/v1/runs?sort=size")[0], 400)
        self.assertEqual(len(get_json(self.d.port, "/api/v1/runs?ids=%d,999" % r["id"])), 1)
        self.assertEqual(request(self.d.port, "GET", "/api/v1/runs?ids=1;drop")[0], 400)

        flat = get_json(self.d.port, "/api/v1/traces/%s/flat" % trace)
        self.assertEqual(flat["trace_id"], trace)
        self.assertEqual(flat["run_id"], r["id"])
        self.assertFalse(flat["more"])
        cols = flat["columns"]
        rows = {flat["names"][x[cols.index("name")]]: dict(zip(cols, x)) for x in flat["spans"]}
        self.assertEqual(set(rows), {"root", "child1", "child2"})
        self.assertIsNone(rows["root"]["parent_span_id"])
        self.assertEqual(rows["child1"]["parent_span_id"], sid(1).hex())
        self.assertEqual(rows["child2"]["status"], 2)
        self.assertEqual((rows["child2"]["has_logs"], rows["child1"]["has_logs"]), (1, 0))
        self.assertEqual(rows["child2"]["duration_ns"], 30_000_000)
        self.assertEqual(rows["child2"]["start_us"], (NOW + 10_000_000) // 1000)
        # by run number too; past the last id: nothing
        self.assertEqual(len(get_json(self.d.port, "/api/v1/traces/%d/flat" % r["id"])["spans"]), 3)
        after = get_json(self.d.port, "/api/v1/traces/%s/flat?after=%d" % (trace, flat["max_id"]))
        self.assertEqual(after["spans"], [])
        two = get_json(self.d.port, "/api/v1/traces/%s/flat?limit=2" % trace)
        self.assertEqual((len(two["spans"]), two["more"]), (2, True))

        d = get_json(self.d.port, "/api/v1/traces/%s/spans/%s" % (trace, sid(3).hex()))
        self.assertEqual(d["span"]["name"], "child2")
        self.assertEqual([l["body"] for l in d["logs"]], ["child2 failed"])
        d = get_json(self.d.port, "/api/v1/traces/%s/spans/%s" % (trace, sid(2).hex()))
        self.assertEqual(d["span"]["attributes"]["note"], "<b>as text</b>")
        self.assertEqual(d["logs"], [])
        self.assertEqual(request(self.d.port, "GET", "/api/v1/traces/%s/spans/%s" % (trace, sid(9).hex()))[0], 404)
        self.assertEqual(request(self.d.port, "GET", "/api/v1/traces/%s/spans/xyz" % trace)[0], 400)
        self.assertEqual(request(self.d.port, "GET", "/api/v1/traces/%s/flat" % ("f" * 32))[0], 404)
        # the retrievers' rows carry their id, and `after` pages past it
        logs = get_json(self.d.port, "/api/v1/logs")
        self.assertEqual(get_json(self.d.port, "/api/v1/logs?after=%d" % logs[-1]["id"]), [])

    def test_views(self):
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        st, _, body = request(self.d.port, "POST", "/api/v1/views", "metric=process.cpu.time&chart=line", form)
        self.assertEqual(st, 201, body)
        v = json.loads(body)
        st, _, _ = request(self.d.port, "POST", "/api/v1/views?metric=queue%20depth&chart=heatmap")
        self.assertEqual(st, 201)
        views = get_json(self.d.port, "/api/v1/views")
        self.assertEqual([(x["metric"], x["chart"]) for x in views],
                         [("process.cpu.time", "line"), ("queue depth", "heatmap")])
        self.assertEqual(self.env.sql("SELECT metric, chart FROM views ORDER BY id"),
                         [("process.cpu.time", "line"), ("queue depth", "heatmap")])
        self.assertEqual(request(self.d.port, "POST", "/api/v1/views", "metric=x&chart=pie", form)[0], 400)
        self.assertEqual(request(self.d.port, "POST", "/api/v1/views", "chart=line", form)[0], 400)
        self.assertEqual(request(self.d.port, "DELETE", "/api/v1/views/%d" % v["id"])[0], 204)
        self.assertEqual(request(self.d.port, "DELETE", "/api/v1/views/%d" % v["id"])[0], 404)
        self.assertEqual(request(self.d.port, "DELETE", "/api/v1/views/abc")[0], 400)
        self.assertEqual(len(get_json(self.d.port, "/api/v1/views")), 1)

    def test_pages(self):
        st, h, body = request(self.d.port, "GET", "/")
        if st == 404:
            self.skipTest("the dashboard's files are not built")
        self.assertEqual(st, 200)
        self.assertTrue(h["content-type"].startswith("text/html"))
        self.assertIn("default-src 'self'", h["content-security-policy"])
        self.assertEqual(h["x-content-type-options"], "nosniff")
        self.assertIn(b'<script type="module" src="app.js">', body)
        st, h, _ = request(self.d.port, "GET", "/app.js")
        self.assertEqual((st, h["content-type"].split(";")[0]), (200, "text/javascript"))
        # only the listed files: nothing else of the disk
        for p in ("/../CMakeCache.txt", "/web/index.html", "/CMakeLists.txt", "/%2e%2e/otel-preload"):
            self.assertEqual(request(self.d.port, "GET", p)[0], 404, p)

    def test_live_feed(self):
        s = socket.create_connection(("127.0.0.1", self.d.port), timeout=10)
        try:
            s.sendall(b"GET /api/v1/live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            got = b""
            deadline = time.monotonic() + 20
            while b"event: hello" not in got and time.monotonic() < deadline:
                got += s.recv(65536)
            self.assertIn(b"Content-Type: text/event-stream", got)
            trace = a_trace(self.d.port)
            while not (b"event: spans" in got and b"event: runs" in got and b"event: logs" in got) \
                    and time.monotonic() < deadline:
                got += s.recv(65536)
        finally:
            s.close()
        events = {}
        for block in got.split(b"\r\n\r\n", 1)[1].split(b"\n\n"):
            lines = dict(l.split(b": ", 1) for l in block.split(b"\n") if b": " in l)
            if b"event" in lines:
                events.setdefault(lines[b"event"].decode(), []).append(json.loads(lines[b"data"]))
        spans = [t for e in events["spans"] for t in e["traces"]]
        self.assertEqual(sum(t["n"] for t in spans if t["trace_id"] == trace), 3)
        runs = [r for e in events["runs"] for r in e["runs"]]
        self.assertEqual(runs[-1]["trace_id"], trace)
        self.assertEqual(sum(e["n"] for e in events["logs"]), 1)
        self.assertEqual(events["logs"][-1]["max_id"], self.env.sql("SELECT max(id) FROM logs")[0][0])

    def test_checks_without_a_token(self):
        # DNS rebinding: a loopback server answers loopback names only
        st, _, _ = request(self.d.port, "GET", "/api/v1/runs", headers={"Host": "evil.example"})
        self.assertEqual(st, 403)
        for host in ("localhost:%d" % self.d.port, "127.0.0.1:%d" % self.d.port, "[::1]:%d" % self.d.port):
            self.assertEqual(request(self.d.port, "GET", "/api/v1/runs", headers={"Host": host})[0], 200, host)
        # writes from another origin, OTLP included
        for h in ({"Origin": "http://evil.example"}, {"Sec-Fetch-Site": "cross-site"}, {"Origin": "null"}):
            st, _, _ = request(self.d.port, "POST", "/api/v1/views?metric=x&chart=line", headers=h)
            self.assertEqual(st, 403, h)
            st, _ = post(self.d.port, "/v1/traces", traces_request([]), headers=h)
            self.assertEqual(st, 403, h)
        same = {"Origin": "http://127.0.0.1:%d" % self.d.port, "Sec-Fetch-Site": "same-origin"}
        self.assertEqual(request(self.d.port, "POST", "/api/v1/views?metric=x&chart=line", headers=same)[0], 201)
        self.assertEqual(self.env.sql("SELECT metric FROM views"), [("x",)])


class TestToken(Base):
    args = ("--token", "t0k3n")

    def test_every_request_needs_it_but_local_otlp(self):
        self.assertEqual(request(self.d.port, "GET", "/api/v1/runs")[0], 401)
        self.assertEqual(request(self.d.port, "GET", "/api/v1/spans")[0], 401)
        self.assertEqual(request(self.d.port, "GET", "/")[0], 401)
        bad = {"Authorization": "Bearer t0k3", "Cookie": "otelp_token=t0k3n0"}
        self.assertEqual(request(self.d.port, "GET", "/api/v1/runs", headers=bad)[0], 401)
        good = {"Authorization": "Bearer t0k3n"}
        self.assertEqual(request(self.d.port, "GET", "/api/v1/runs", headers=good)[0], 200)
        self.assertEqual(request(self.d.port, "GET", "/api/v1/runs", headers={"Cookie": "a=b; otelp_token=t0k3n"})[0], 200)
        st, h, _ = request(self.d.port, "GET", "/?token=t0k3n")
        self.assertEqual(st, 302)
        self.assertEqual(h["location"], "/")
        self.assertIn("otelp_token=t0k3n", h["set-cookie"])
        self.assertIn("HttpOnly", h["set-cookie"])
        self.assertEqual(request(self.d.port, "GET", "/?token=wrong")[0], 401)
        # OTLP from this machine: no token needed
        a_trace(self.d.port)
        self.assertEqual(len(get_json(self.d.port, "/api/v1/runs", headers=good)), 1)


class TestListen(unittest.TestCase):
    def test_beyond_loopback_needs_a_token(self):
        env = Env()
        e = env.env()
        e.pop("OTEL_PRELOAD_DASH_TOKEN", None)
        for addr in ("0.0.0.0", "::", "192.0.2.7"):
            p = subprocess.run([OTEL_PRELOAD, "dash", "--listen", addr, "--port", "0"], env=e,
                               stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
            self.assertEqual(p.returncode, 2, addr)
            self.assertIn(b"refusing to listen on " + addr.encode() + b" without a token", p.stderr)
        p = subprocess.run([OTEL_PRELOAD, "dash", "--listen", "not-an-address", "--port", "0"], env=e,
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
        self.assertEqual(p.returncode, 2)
        self.assertIn(b"--listen takes an IPv4 or IPv6 address", p.stderr)
        env.tmp.cleanup()

    def test_loopback_addresses_need_none(self):
        env = Env()
        d = Dash(env, "--listen", "127.0.0.1")
        try:
            self.assertEqual(request(d.port, "GET", "/api/v1/runs")[0], 200)
        finally:
            self.assertEqual(d.stop(), 0)
            env.tmp.cleanup()


if __name__ == "__main__":
    unittest.main()
