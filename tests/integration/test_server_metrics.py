"""Metrics on the local side: `otel-preload dash` receives /v1/metrics (protobuf, JSON, gzip)
and MetricsService/Export (gRPC), keeps every point type in the store (docs/STORE.md) and
answers `otel-preload metrics` and GET /api/v1/metrics, /api/v1/metric-names
(docs/API-HTTP.md). Assertions on HTTP answers, store rows and the CLI's output; the
official OpenTelemetry JS metrics SDK as an independent producer."""
import gzip
import json
import os
import struct
import subprocess
import unittest

from test_server import Dash, Env, fld, get, kv, post, sid, tid, varint


def dbl(num, v):
    return varint((num << 3) | 1) + struct.pack("<d", v)


def sfix64(num, v):
    return varint((num << 3) | 1) + struct.pack("<q", v)


def zigzag(n):
    return (n << 1) ^ (n >> 63)


def attrs(num, d):
    return b"".join(fld(num, 2, kv(k, v)) for k, v in (d or {}).items())


def exemplar(t, value, trace=b"", span=b"", fattrs=None):
    b = attrs(7, fattrs) + fld(2, 1, t)
    b += sfix64(6, value) if isinstance(value, int) else dbl(3, value)
    if trace:
        b += fld(5, 2, trace) + fld(4, 2, span)
    return b


def number_point(t, value, start=0, a=None, exemplars=()):
    b = attrs(7, a) + fld(2, 1, start) + fld(3, 1, t)
    b += sfix64(6, value) if isinstance(value, int) else dbl(4, value)
    for e in exemplars:
        b += fld(5, 2, e)
    return b


def histogram_point(t, count, total, bounds, counts, start=0, a=None, mn=None, mx=None):
    b = attrs(9, a) + fld(2, 1, start) + fld(3, 1, t) + fld(4, 1, count) + dbl(5, total)
    b += fld(6, 2, b"".join(struct.pack("<Q", c) for c in counts))
    b += fld(7, 2, b"".join(struct.pack("<d", x) for x in bounds))
    if mn is not None:
        b += dbl(11, mn) + dbl(12, mx)
    return b


def exp_point(t, count, total, scale, zero, offset, counts):
    pos = fld(1, 0, zigzag(offset)) + fld(2, 2, b"".join(varint(c) for c in counts))
    return (fld(2, 1, 0) + fld(3, 1, t) + fld(4, 1, count) + dbl(5, total) +
            fld(6, 0, zigzag(scale)) + fld(7, 1, zero) + fld(8, 2, pos) + dbl(14, 0.5))


def summary_point(t, count, total, quantiles):
    b = fld(3, 1, t) + fld(4, 1, count) + dbl(5, total)
    for q, v in quantiles:
        b += fld(6, 2, dbl(1, q) + dbl(2, v))
    return b


def metric(name, kind, points, unit="", desc="", temporality=2, monotonic=False):
    body = b"".join(fld(1, 2, p) for p in points)
    if kind in ("sum", "histogram", "exp_histogram"):
        body += fld(2, 0, temporality)
    if kind == "sum" and monotonic:
        body += fld(3, 0, 1)
    num = {"gauge": 5, "sum": 7, "histogram": 9, "exp_histogram": 10, "summary": 11}[kind]
    b = fld(1, 2, name)
    if desc:
        b += fld(2, 2, desc)
    if unit:
        b += fld(3, 2, unit)
    return b + fld(num, 2, body)


def metrics_request(metrics, resource=None, scope=("m-scope", "3.1")):
    res = attrs(1, resource or {"service.name": "m", "process.pid": 77})
    sm = fld(1, 2, fld(1, 2, scope[0]) + fld(2, 2, scope[1])) + b"".join(fld(2, 2, m)
                                                                         for m in metrics)
    return fld(1, 2, fld(1, 2, res) + fld(2, 2, sm))


S = 1_000_000_000
T0 = 1_796_000_000 * S


def every_type():
    return metrics_request([
        metric("t.requests", "sum", [
            number_point(T0 + 10 * S, 5, start=T0, a={"route": "/a"},
                         exemplars=[exemplar(T0 + 9 * S, 1, tid(7), sid(8), {"user": "u1"})]),
            number_point(T0 + 20 * S, 9, start=T0, a={"route": "/a"}),
            number_point(T0 + 10 * S, 1, start=T0, a={"route": "/b"}),
        ], unit="{request}", desc="requests", monotonic=True),
        metric("t.temp", "gauge", [number_point(T0 + 10 * S, 21.5, a={"room": "a"})], unit="Cel"),
        metric("t.queue", "sum", [number_point(T0 + 10 * S, -3, start=T0)], temporality=2),
        metric("t.jobs", "sum", [number_point(T0 + 10 * S, 4, start=T0 + 5 * S)], temporality=1,
               monotonic=True),
        metric("t.latency", "histogram", [
            histogram_point(T0 + 10 * S, 4, 10.5, [1.0, 5.0], [1, 2, 1], start=T0, mn=0.5, mx=6.0)],
               unit="ms"),
        metric("t.size", "exp_histogram", [exp_point(T0 + 10 * S, 5, 9.0, 3, 1, -2, [1, 0, 3])],
               unit="By"),
        metric("t.summary", "summary", [summary_point(T0 + 10 * S, 3, 6.0, [(0.5, 2.0), (1.0, 3.0)])]),
    ])


def series_by_attrs(doc):
    return {json.dumps(s["attributes"], sort_keys=True): s for s in doc["series"]}


class TestMetricsStore(unittest.TestCase):
    def setUp(self):
        self.e = Env()
        self.d = Dash(self.e)

    def tearDown(self):
        self.d.stop()
        self.e.tmp.cleanup()

    def api(self, path):
        st, out = get(self.d.port, path)
        self.assertEqual(st, 200, out)
        return json.loads(out)

    def test_every_point_type_protobuf_gzip_and_json(self):
        body = every_type()
        self.assertEqual(post(self.d.port, "/v1/metrics", body), (200, b""))
        # the same request again, gzip-compressed (a retry): kept once
        st, _ = post(self.d.port, "/v1/metrics", gzip.compress(body),
                     headers={"Content-Encoding": "gzip"})
        self.assertEqual(st, 200)
        self.assertEqual(self.e.sql("SELECT count(*) FROM metric_points"), [(9,)])
        self.assertEqual(self.e.sql("SELECT count(*) FROM metric_streams"), [(8,)])

        names = self.api("/api/v1/metric-names")
        self.assertEqual([n["name"] for n in names],
                         ["t.jobs", "t.latency", "t.queue", "t.requests", "t.size", "t.summary",
                          "t.temp"])
        by = {n["name"]: n for n in names}
        self.assertEqual(by["t.requests"], {
            "name": "t.requests", "description": "requests", "unit": "{request}", "type": "sum",
            "temporality": "cumulative", "monotonic": True, "series": 2, "points": 3,
            "first_ns": T0 + 10 * S, "last_ns": T0 + 20 * S})
        self.assertEqual((by["t.jobs"]["temporality"], by["t.queue"]["monotonic"],
                          by["t.temp"]["type"], by["t.size"]["type"], by["t.summary"]["type"]),
                         ("delta", False, "gauge", "exp_histogram", "summary"))
        # /api/v1/metrics without a name is the same list
        self.assertEqual(self.api("/api/v1/metrics"), names)

        doc = self.api("/api/v1/metrics?name=t.requests")
        self.assertEqual((doc["name"], doc["unit"], doc["type"], doc["agg"]),
                         ("t.requests", "{request}", "sum", None))
        ser = series_by_attrs(doc)
        a = ser['{"route": "/a"}']
        self.assertEqual(a["points"], [[T0 + 10 * S, 5], [T0 + 20 * S, 9]])
        self.assertEqual(a["resource"], {"service.name": "m", "process.pid": 77})
        self.assertEqual(a["scope"], {"name": "m-scope", "version": "3.1"})
        self.assertEqual(a["exemplars"], [{"time_ns": T0 + 9 * S, "value": 1,
                                           "trace_id": tid(7).hex(), "span_id": sid(8).hex(),
                                           "attributes": {"user": "u1"}}])
        self.assertEqual(ser['{"route": "/b"}']["points"], [[T0 + 10 * S, 1]])
        self.assertEqual(self.api("/api/v1/metrics?name=t.temp")["series"][0]["points"],
                         [[T0 + 10 * S, 21.5]])
        h = self.api("/api/v1/metrics?name=t.latency")["series"][0]["points"][0]
        self.assertEqual(h, {"time_ns": T0 + 10 * S, "start_ns": T0, "count": 4, "sum": 10.5,
                             "min": 0.5, "max": 6.0, "bounds": [1.0, 5.0], "counts": [1, 2, 1]})
        x = self.api("/api/v1/metrics?name=t.size")["series"][0]["points"][0]
        self.assertEqual((x["count"], x["sum"], x["scale"], x["zero_count"], x["zero_threshold"],
                          x["positive"]), (5, 9.0, 3, 1, 0.5, {"offset": -2,
                                                                "bucket_counts": [1, 0, 3]}))
        q = self.api("/api/v1/metrics?name=t.summary")["series"][0]["points"][0]
        self.assertEqual((q["count"], q["sum"], q["quantiles"]), (3, 6.0, [[0.5, 2.0], [1.0, 3.0]]))

        # filters, windows and aggregates over HTTP
        doc = self.api('/api/v1/metrics?name=t.requests&where=route%20%3D%20%22%2Fb%22')
        self.assertEqual([s["attributes"] for s in doc["series"]], [{"route": "/b"}])
        doc = self.api("/api/v1/metrics?name=t.requests&agg=rate&where=route%3D%22%2Fa%22")
        self.assertEqual(doc["series"][0]["points"], [[T0 + 20 * S, 0.4]])
        doc = self.api("/api/v1/metrics?name=t.requests&agg=max&step=10s"
                       "&where=route%3D%22%2Fa%22")
        self.assertEqual((doc["agg"], doc["step_ns"], doc["series"][0]["points"]),
                         ("max", 10 * S, [[T0 + 10 * S, 5], [T0 + 20 * S, 9]]))
        self.assertEqual(get(self.d.port, "/api/v1/metrics?name=t.requests&agg=median")[0], 400)
        self.assertEqual(get(self.d.port, "/api/v1/metrics?name=nothing")[0], 404)

        # OTLP/JSON: the same shapes decode the same way
        js = {"resourceMetrics": [{"resource": {"attributes": [
            {"key": "service.name", "value": {"stringValue": "j"}}]},
            "scopeMetrics": [{"metrics": [{"name": "t.json", "unit": "1", "sum": {
                "aggregationTemporality": 2, "isMonotonic": True, "dataPoints": [
                    {"timeUnixNano": str(T0 + S), "startTimeUnixNano": str(T0), "asInt": "12",
                     "attributes": [{"key": "k", "value": {"boolValue": True}}],
                     "exemplars": [{"timeUnixNano": str(T0), "asDouble": 0.5,
                                    "traceId": tid(3).hex(), "spanId": sid(4).hex()}]}]}}]}]}]}
        st, resp = post(self.d.port, "/v1/metrics", json.dumps(js).encode(), "application/json")
        self.assertEqual((st, resp), (200, b"{}"))
        s = self.api("/api/v1/metrics?name=t.json")["series"][0]
        self.assertEqual((s["attributes"], s["points"], s["exemplars"][0]["trace_id"]),
                         ({"k": True}, [[T0 + S, 12]], tid(3).hex()))

        # the CLI
        rc, out, err = self.e.run(["metrics"])
        self.assertEqual(rc, 0, err)
        lines = out.decode().splitlines()
        self.assertTrue(lines[0].startswith("NAME "))
        self.assertIn("sum, cumulative, monotonic", out.decode())
        self.assertEqual(len(lines), 1 + 8)
        rc, out, err = self.e.run(["metrics", "--name", "t.requests", "--where",
                                   'route = "/a"', "--agg", "last", "--format", "csv"])
        self.assertEqual(rc, 0, err)
        self.assertEqual(out.decode().splitlines(), [
            "time_ns,series,attributes,service_name,pid,last",
            '%d,1,"{""route"":""/a""}",m,77,9' % (T0 + 20 * S)])
        rc, out, err = self.e.run(["metrics", "--name", "t.latency", "--format", "json"])
        self.assertEqual(json.loads(out)["series"][0]["points"][0]["counts"], [1, 2, 1])
        rc, _, err = self.e.run(["metrics", "--name", "t.requests", "--agg", "median"])
        self.assertEqual(rc, 2)
        self.assertIn(b"--agg is sum, avg, min, max, last or rate", err)
        rc, _, err = self.e.run(["metrics", "--agg", "sum"])
        self.assertEqual(rc, 2)
        self.assertIn(b"--agg and --step need --name", err)
        rc, _, err = self.e.run(["metrics", "--name", "nope"])
        self.assertEqual(rc, 1)
        self.assertIn(b"no metric 'nope'", err)

    def test_bad_metric_requests_are_answered_and_counted(self):
        good = metrics_request([metric("ok", "gauge", [number_point(T0, 1)])])
        two_kinds = metrics_request([fld(1, 2, "x") + fld(5, 2, b"") + fld(7, 2, b"")])
        misfit = metrics_request([metric("x", "histogram", [
            histogram_point(T0, 1, 1.0, [1.0, 2.0], [1, 0])])])
        cases = [
            ("truncated", good[:-2], "application/x-protobuf", 400),
            ("two kinds of data", two_kinds, "application/x-protobuf", 400),
            ("buckets do not fit the bounds", misfit, "application/x-protobuf", 400),
            ("bad JSON", b'{"resourceMetrics": [{"scopeMetrics": [{"metrics": [{"gauge": 1}]}]}]}',
             "application/json", 400),
            ("wrong content type", good, "text/plain", 415),
        ]
        for name, body, ctype, want in cases:
            st, resp = post(self.d.port, "/v1/metrics", body, ctype)
            self.assertEqual(st, want, name)
            self.assertEqual(resp[:3], b"\x08\x03\x12", name)  # google.rpc.Status, code 3
            self.assertEqual(post(self.d.port, "/v1/metrics", good)[0], 200, name)
        self.assertEqual(self.e.sql("SELECT name FROM metric_points"), [("ok",)])
        # refused points come back as partial success: a metric without a name
        body = metrics_request([metric("", "gauge", [number_point(T0, 1), number_point(T0 + 1, 2)]),
                                metric("fine", "gauge", [number_point(T0, 3)])])
        st, resp = post(self.d.port, "/v1/metrics", body)
        self.assertEqual(st, 200)
        # ExportMetricsServiceResponse.partial_success {rejected_data_points: 2, error_message}
        self.assertEqual(resp[:4], b"\x0a" + bytes([len(resp) - 2]) + b"\x08\x02")
        self.assertIn(b"without a name", resp)
        js = {"resourceMetrics": [{"scopeMetrics": [{"metrics": [
            {"name": "", "gauge": {"dataPoints": [{"asInt": "1", "timeUnixNano": "5"}]}}]}]}]}
        st, resp = post(self.d.port, "/v1/metrics", json.dumps(js).encode(), "application/json")
        self.assertEqual(st, 200)
        self.assertEqual(json.loads(resp)["partialSuccess"]["rejectedDataPoints"], "1")


METRICS_PROG = os.path.join(os.environ.get("OTELP_PROGS", ""), "metrics_prog")


class TestShimMetrics(unittest.TestCase):
    """The shim's metrics (a program's otelp.h instruments, exported at exit; the process
    metrics of a program that lives longer than the export interval) reach the store over
    every transport, and through `otel-preload run`."""

    def setUp(self):
        self.e = Env()

    def tearDown(self):
        self.e.tmp.cleanup()

    def check(self, port, svc, delta=False, exponential=False):
        def api(q):
            st, out = get(port, "/api/v1/metrics?name=%s&where=service.name%%3D%%22%s%%22" % (q, svc))
            self.assertEqual(st, 200, (svc, q, out))
            return json.loads(out)
        req = api("requests")
        self.assertEqual((req["type"], req["unit"], req["monotonic"], req["temporality"]),
                         ("sum", "{request}", True, "delta" if delta else "cumulative"), svc)
        vals = {s["attributes"]["http.request.method"]: s["points"][-1][1] for s in req["series"]}
        self.assertEqual(vals, {"GET": 6, "POST": 10}, svc)
        self.assertEqual(req["series"][0]["scope"]["name"], "otel-preload")
        self.assertEqual(api("temperature")["series"][0]["points"][-1][1], 21.5)
        self.assertEqual(api("queue.depth")["monotonic"], False)
        lat = api("latency")
        self.assertEqual(lat["type"], "exp_histogram" if exponential else "histogram", svc)
        p = lat["series"][0]["points"][-1]
        self.assertEqual((p["count"], p["sum"], p["min"], p["max"]), (5, 20738, 1, 20000), svc)

    def test_every_transport(self):
        d = Dash(self.e)
        cases = [("http/protobuf", "none", False), ("http/protobuf", "gzip", True),
                 ("http/json", "gzip", False), ("grpc", "none", False), ("grpc", "gzip", True)]
        try:
            for proto, comp, delta in cases:
                svc = "m-%s-%s" % (proto.replace("/", "-"), comp)
                env = self.e.env(OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:%d" % (
                                     d.grpc_port if proto == "grpc" else d.port),
                                 OTEL_EXPORTER_OTLP_PROTOCOL=proto,
                                 OTEL_EXPORTER_OTLP_COMPRESSION=comp, OTEL_SERVICE_NAME=svc)
                if delta:
                    env["OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE"] = "delta"
                    env["OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION"] = (
                        "base2_exponential_bucket_histogram")
                prefix = os.environ.get("OTELP_PRELOAD_PREFIX", "").strip()
                env["LD_PRELOAD"] = (prefix + " " if prefix else "") + os.environ["OTELP_LIB"]
                p = subprocess.run([METRICS_PROG, "instruments"], env=env,
                                   stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, timeout=60)
                self.assertEqual(p.returncode, 0, p.stderr)
                self.check(d.port, svc, delta=delta, exponential=delta)
        finally:
            d.stop()

    def test_run_keeps_the_commands_metrics(self):
        rc, _, err = self.e.run(["run", "--", METRICS_PROG, "instruments"])
        self.assertEqual(rc, 0, err)
        self.assertIn(b"otel-preload metrics --trace 1", err)
        run = self.e.sql("SELECT id FROM runs WHERE kind = 'run'")[0][0]
        self.assertEqual(self.e.sql("SELECT count(*) FROM metric_points WHERE run_id = ? AND"
                                    " name = 'requests'", run), [(2,)])
        rc, out, err = self.e.run(["metrics", "--trace", str(run), "--name", "requests",
                                   "--agg", "last", "--format", "json"])
        self.assertEqual(rc, 0, err)
        self.assertEqual(sorted(s["points"][0][1] for s in json.loads(out)["series"]), [6, 10])
        # a program that lives past the export interval reports its process metrics
        rc, _, err = self.e.run(["run", "--", METRICS_PROG, "run", "700", "0"],
                                OTEL_METRIC_EXPORT_INTERVAL="200")
        self.assertEqual(rc, 0, err)
        rc, out, err = self.e.run(["metrics", "--trace", "2", "--format", "json"])
        self.assertEqual(rc, 0, err)
        names = {m["name"] for m in json.loads(out)}
        self.assertIn("process.cpu.time", names)
        rc, out, err = self.e.run(["metrics", "--trace", "2", "--name", "process.cpu.time",
                                   "--agg", "rate"])
        self.assertEqual(rc, 0, err)
        self.assertTrue(out.startswith(b"RATE "), out)


class TestMetricsInterop(unittest.TestCase):
    """What the official OpenTelemetry JS metrics SDK sends (counters, up-down counters,
    gauges, observable gauges, histograms, exponential histograms; cumulative and delta),
    serialized by its otlp-transformer as its OTLP exporters do, comes back from the
    store equal."""

    def test_js_sdk_metrics_protobuf(self):
        self.js_sdk("proto")

    def test_js_sdk_metrics_json(self):
        self.js_sdk("json")

    def test_js_sdk_metrics_grpc(self):
        self.js_sdk("grpc")

    def js_sdk(self, mode):
        import harness
        if not harness.node_path() or not harness.have_node_modules():
            self.skipTest("node or tests/interop/node_modules missing (scripts/setup)")
        e = Env()
        d = Dash(e)
        try:
            p = subprocess.run([harness.node_path(), str(harness.INTEROP_DIR / "js_metrics.js"),
                                str(d.grpc_port if mode == "grpc" else d.port), mode],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
            self.assertEqual(p.returncode, 0, p.stderr)
            sent = json.loads(p.stdout)
            if mode == "grpc":
                self.assertEqual(sent["bad_code"], 3)  # INVALID_ARGUMENT, and the server goes on
            kinds = set()
            npoints = 0
            for m in sent["metrics"]:
                kinds.add((m["type"], m["temporality"]))
                st, out = get(d.port, "/api/v1/metrics?name=" + m["name"])
                self.assertEqual(st, 200, out)
                doc = json.loads(out)
                for k in ("unit", "description", "type", "temporality", "monotonic"):
                    self.assertEqual(doc[k], m[k], (m["name"], k))
                ser = series_by_attrs(doc)
                for pt in m["points"]:
                    npoints += 1
                    s = ser[json.dumps(pt["attributes"], sort_keys=True)]
                    self.assertEqual(s["resource"]["service.name"], "js-metrics")
                    self.assertEqual(s["resource"]["process.pid"], 4242)
                    self.assertEqual(s["scope"]["name"], m["scope"])
                    t = int(pt["time_ns"])
                    if m["type"] in ("gauge", "sum"):
                        self.assertIn([t, pt["value"]], s["points"], m["name"])
                        got = [v for (tt, v) in s["points"] if tt == t][0]
                        self.assertIsInstance(got, int if m["is_int"] else (int, float))
                        continue
                    got = [g for g in s["points"] if g["time_ns"] == t]
                    self.assertEqual(len(got), 1, m["name"])
                    g = got[0]
                    self.assertEqual(g["start_ns"], int(pt["start_ns"]))
                    for k in ("count", "sum", "min", "max"):
                        self.assertEqual(g[k], pt[k], (m["name"], k))
                    if m["type"] == "histogram":
                        self.assertEqual((g["bounds"], g["counts"]), (pt["bounds"], pt["counts"]))
                    else:
                        self.assertEqual((g["scale"], g["zero_count"]),
                                         (pt["scale"], pt["zero_count"]))
                        for side in ("positive", "negative"):
                            self.assertEqual(g[side]["bucket_counts"], pt[side]["bucketCounts"])
                            if pt[side]["bucketCounts"]:
                                self.assertEqual(g[side]["offset"], pt[side]["offset"])
            self.assertEqual(kinds, {("sum", "cumulative"), ("sum", "delta"), ("gauge", None),
                                     ("histogram", "cumulative"),
                                     ("exp_histogram", "cumulative")})
            self.assertEqual(e.sql("SELECT count(*) FROM metric_points")[0][0], npoints)
        finally:
            d.stop()
            e.tmp.cleanup()


if __name__ == "__main__":
    unittest.main()
