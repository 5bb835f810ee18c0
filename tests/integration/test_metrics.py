"""Metrics (docs/METRICS.md): a program's otelp.h instruments exported at
exit and every OTEL_METRIC_EXPORT_INTERVAL, over every transport and
encoding (decoded by the official OpenTelemetry definitions, decode.js),
the process metrics of a long-running program compared with what it read
in /proc itself, and the SDK's own counts against what the test made
happen."""
import json
import os
import shutil
import tempfile
import time
import unittest

from common import PROGS, Receiver, free_port, otlp_env, run
from harness import NodeServer, have_node_modules, node_path

PROG = os.path.join(PROGS, "metrics_prog")
TSAN = os.environ.get("OTELP_SANITIZE") == "thread"
DELTA, CUMULATIVE = 1, 2


def settle(rcv, timeout=10.0):
    """Waits until the receiver's request count stops growing."""
    last, deadline = -1, time.monotonic() + timeout
    while time.monotonic() < deadline:
        n = rcv.request_count()
        if n == last and n > 0:
            return
        last = n
        time.sleep(0.15)


def by_name(metrics):
    out = {}
    for m in metrics:
        out.setdefault(m["name"], []).append(m)
    return out


def instruments_run(rcv, **env):
    rc, out, err = run([PROG, "instruments"], env=otlp_env(rcv, **env))
    settle(rcv)
    return rc, out, err, by_name(rcv.metrics())


class Instruments(unittest.TestCase):
    def check_instruments(self, m, temporality=CUMULATIVE, exponential=False):
        (req,) = m["requests"]
        self.assertEqual(req["type"], "sum")
        self.assertEqual(req["unit"], "{request}")
        self.assertEqual(req["description"], "Requests served.")
        self.assertTrue(req["data"]["isMonotonic"])
        self.assertEqual(req["data"]["aggregationTemporality"], temporality)
        pts = {p["attributes"].get("http.request.method"): p for p in req["points"]}
        self.assertEqual(len(req["points"]), 2)
        self.assertEqual(pts["GET"]["attributes"], {"http.request.method": "GET",
                                                    "http.response.status_code": 200,
                                                    "cached": False})
        self.assertEqual(pts["GET"]["asDouble"], 6)
        self.assertEqual(pts["POST"]["asDouble"], 10)
        self.assertLessEqual(int(pts["GET"]["startTimeUnixNano"]),
                             int(pts["GET"]["timeUnixNano"]))
        self.assertEqual(req["scope"]["name"], "otel-preload")
        self.assertEqual(req["resource"]["service.name"], "unknown_service:metrics_prog")
        (q,) = m["queue.depth"]
        self.assertEqual(q["type"], "sum")
        self.assertFalse(q["data"].get("isMonotonic", False))
        self.assertEqual(q["points"][0]["asDouble"], 3)
        (g,) = m["temperature"]
        self.assertEqual(g["type"], "gauge")
        self.assertEqual(g["points"][0]["asDouble"], 21.5)
        (o,) = m["observed"]
        self.assertEqual(o["type"], "gauge")
        self.assertEqual(o["points"][0]["asDouble"], 42)
        (h,) = m["latency"]
        (p,) = h["points"]
        self.assertEqual(int(p["count"]), 5)
        self.assertEqual(p["sum"], 20738)
        self.assertEqual(p["min"], 1)
        self.assertEqual(p["max"], 20000)
        if exponential:
            self.assertEqual(h["type"], "exponentialHistogram")
            counts = [int(c) for c in p["positive"].get("bucketCounts", [])]
            self.assertEqual(sum(counts), 5)
            self.assertLessEqual(len(counts), 160)
            scale = p.get("scale", 0)
            # each value lies in its bucket (base^i, base^(i+1)]
            base = 2 ** (2 ** -scale)
            offset = p["positive"].get("offset", 0)
            for v in (1, 7, 30, 700, 20000):
                import math
                i = math.ceil(math.log(v, base)) - 1 - offset
                self.assertGreater(counts[i], 0, (v, i, counts, scale))
        else:
            self.assertEqual(h["type"], "histogram")
            self.assertEqual(h["data"]["aggregationTemporality"], temporality)
            self.assertEqual([float(b) for b in p["explicitBounds"]],
                             [0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500,
                              10000])
            self.assertEqual([int(c) for c in p["bucketCounts"]],
                             [0, 1, 1, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1])

    def test_protobuf_at_exit(self):
        with Receiver() as rcv:
            rc, out, err, m = instruments_run(rcv)
            self.assertEqual((rc, out, err), (0, b"", b""))
            self.check_instruments(m)
            paths = {r["path"] for r in rcv.requests()}
            self.assertIn("/v1/metrics", paths)
            # A short-lived program: no process metrics, no SDK counts.
            self.assertFalse([n for n in m if n.startswith(("process.", "otel.sdk."))])

    @unittest.skipUnless(have_node_modules() and node_path(), "no node_modules")
    def test_json_gzip_delta_exponential(self):
        with Receiver() as rcv:
            rc, _, _, m = instruments_run(
                rcv, OTEL_EXPORTER_OTLP_METRICS_PROTOCOL="http/json",
                OTEL_EXPORTER_OTLP_METRICS_COMPRESSION="gzip",
                OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE="delta",
                OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION=(
                    "base2_exponential_bucket_histogram"))
            self.assertEqual(rc, 0)
            self.check_instruments(m, temporality=DELTA, exponential=True)
            (r,) = [r for r in rcv.requests() if r["path"] == "/v1/metrics"]
            self.assertEqual(r["headers"].get("content-type"), "application/json")
            self.assertEqual(r["headers"].get("content-encoding"), "gzip")

    @unittest.skipUnless(have_node_modules() and node_path(), "no node_modules")
    def test_grpc(self):
        with NodeServer("grpc") as srv:
            rc, _, _ = run([PROG, "instruments"],
                           env={"OTEL_EXPORTER_OTLP_ENDPOINT": srv.endpoint,
                                "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL": "grpc",
                                "OTEL_TRACES_EXPORTER": "none"})
            settle(srv)
            self.assertEqual(rc, 0)
            self.check_instruments(by_name(srv.metrics()))

    def test_per_signal_endpoint_and_none(self):
        with Receiver() as rcv, Receiver() as other:
            env = otlp_env(other, OTEL_EXPORTER_OTLP_METRICS_ENDPOINT=rcv.endpoint + "/custom")
            rc, _, _ = run([PROG, "instruments"], env=env)
            settle(rcv)
            self.assertEqual(rc, 0)
            self.assertEqual([r["path"] for r in rcv.requests()], ["/custom"])
            self.assertNotIn("/v1/metrics", [r["path"] for r in other.requests()])
        with Receiver() as rcv:
            rc, _, _ = run([PROG, "instruments"],
                           env=otlp_env(rcv, OTEL_METRICS_EXPORTER="none"))
            settle(rcv)
            self.assertNotIn("/v1/metrics", [r["path"] for r in rcv.requests()])

    def test_console_and_file(self):
        rc, out, err = run([PROG, "instruments"],
                           env={"OTEL_METRICS_EXPORTER": "console", "OTEL_TRACES_EXPORTER": "none"})
        self.assertEqual((rc, out), (0, b""))
        lines = [json.loads(x) for x in err.decode().splitlines() if x.startswith("{")]
        self.assertTrue(lines, err)
        req = [x for x in lines if x["name"] == "requests"][0]
        self.assertEqual(req["type"], "sum")
        self.assertEqual(sorted(p["value"] for p in req["dataPoints"]), [6, 10])
        lat = [x for x in lines if x["name"] == "latency"][0]
        self.assertEqual(lat["dataPoints"][0]["count"], 5)
        with Receiver() as rcv:  # only for its temporary directory
            path = os.path.join(str(rcv.tmp), "metrics.jsonl")
            rc, _, _ = run([PROG, "instruments"],
                           env={"OTEL_METRICS_EXPORTER": "otlp_file",
                                "OTEL_EXPORTER_OTLP_METRICS_FILE_PATH": path,
                                "OTEL_TRACES_EXPORTER": "none"})
            self.assertEqual(rc, 0)
            with open(path) as f:
                (line,) = f.read().splitlines()
            body = json.loads(line)
            names = [m["name"] for m in body["resourceMetrics"][0]["scopeMetrics"][0]["metrics"]]
            self.assertIn("requests", names)


PROCESS_METRICS = {
    # name: (type, unit, monotonic or None, attribute key and values or None)
    "process.cpu.time": ("sum", "s", True, ("cpu.mode", {"user", "system"})),
    "process.cpu.utilization": ("gauge", "1", None, ("cpu.mode", {"user", "system"})),
    "process.memory.usage": ("sum", "By", False, None),
    "process.memory.virtual": ("sum", "By", False, None),
    "process.disk.io": ("sum", "By", True, ("disk.io.direction", {"read", "write"})),
    "process.thread.count": ("sum", "{thread}", False, None),
    "process.unix.file_descriptor.count": ("sum", "{file_descriptor}", False, None),
    "process.context_switches": ("sum", "{context_switch}", True,
                                 ("process.context_switch.type", {"voluntary", "involuntary"})),
    "process.paging.faults": ("sum", "{fault}", True,
                              ("process.paging.fault_type", {"major", "minor"})),
    "process.uptime": ("gauge", "s", None, None),
}


def value(p):
    return float(p["asDouble"]) if "asDouble" in p else int(p["asInt"])


class ProcessMetrics(unittest.TestCase):
    def test_every_interval_and_agree_with_proc(self):
        with Receiver() as rcv:
            rc, out, err = run([PROG, "run", "1500", "40"],
                               env=otlp_env(rcv, OTEL_METRIC_EXPORT_INTERVAL="300",
                                            OTEL_TRACES_EXPORTER="none"))
            settle(rcv)
            self.assertEqual((rc, err), (0, b""))
            own = dict(line.split() for line in out.decode().splitlines())
            metrics = rcv.metrics()
        names = by_name(metrics)
        for name, (typ, unit, mono, attr) in PROCESS_METRICS.items():
            self.assertIn(name, names)
            for m in names[name]:
                self.assertEqual((m["type"], m["unit"]), (typ, unit), name)
                if mono is not None:
                    self.assertEqual(m["data"].get("isMonotonic", False), mono, name)
                    self.assertEqual(m["data"]["aggregationTemporality"], CUMULATIVE)
                for p in m["points"]:
                    if attr is None:
                        self.assertEqual(p["attributes"], {}, name)
                    else:
                        self.assertEqual(set(p["attributes"]), {attr[0]}, name)
                        self.assertIn(p["attributes"][attr[0]], attr[1], name)
        # One export per interval after the first (lived 1.5 s at 300 ms:
        # 4 periodic ones and the one at exit; fewer on a loaded machine,
        # but at least one before the exit), never one before the process
        # lived an interval. The process lives longer than the program's
        # own 1.5 s (its start and exit; much longer under ASan): at most
        # one export per interval of its uptime, and the exit's.
        cpu = sorted(names["process.cpu.time"], key=lambda m: m["seq"])
        self.assertGreaterEqual(len(cpu), 2)
        lived = max(value(m["points"][0]) for m in names["process.uptime"])
        self.assertLessEqual(len(cpu), int(lived / 0.3) + 1)
        first = min(names["process.uptime"], key=lambda m: m["seq"])
        self.assertGreaterEqual(value(first["points"][0]), 0.25)
        # Monotonic, and the last point agrees with what the program read.
        user = [value(p) for m in cpu for p in m["points"] if p["attributes"]["cpu.mode"] == "user"]
        self.assertEqual(user, sorted(user))
        self.assertLessEqual(user[-1], float(own["cpu_user"]) + 0.05)
        self.assertGreater(user[-1], 0)
        last = {n: sorted(ms, key=lambda m: m["seq"])[-1] for n, ms in names.items()}
        threads = value(last["process.thread.count"]["points"][0])
        if TSAN:  # the TSan runtime starts a background thread of its own, lazily
            self.assertLessEqual(abs(threads - int(own["threads"])), 1)
        else:
            self.assertEqual(threads, int(own["threads"]))
        vm = value(last["process.memory.virtual"]["points"][0])
        self.assertLess(abs(vm - int(own["vm_bytes"])), 0.1 * int(own["vm_bytes"]))
        rss = value(last["process.memory.usage"]["points"][0])
        self.assertGreater(rss, 8 << 20)  # the 8 MiB it touched
        self.assertLess(abs(rss - int(own["rss_bytes"])), 0.25 * int(own["rss_bytes"]))
        faults = {p["attributes"]["process.paging.fault_type"]: value(p)
                  for p in last["process.paging.faults"]["points"]}
        self.assertGreaterEqual(faults["minor"], int(own["minflt"]) * 0.9)
        io = {p["attributes"]["disk.io.direction"]: value(p)
              for p in last["process.disk.io"]["points"]}
        if "write" in io:
            self.assertGreaterEqual(io["write"], 0)
        up = value(last["process.uptime"]["points"][0])
        self.assertGreater(up, 1.4)
        self.assertLess(up, 30)

    def idle_exports(self, worker):
        with Receiver() as rcv:
            rc, _, err = run([PROG, "idle", "2000"],
                             env=otlp_env(rcv, OTEL_METRIC_EXPORT_INTERVAL="300",
                                          OTEL_TRACES_EXPORTER="none",
                                          OTEL_PRELOAD_METRICS_WORKER=worker))
            settle(rcv)
            self.assertEqual((rc, err), (0, b""))
            return [m for m in rcv.metrics() if m["name"] == "process.uptime"]

    def test_idle_program_reports_every_interval(self):
        # A program that sleeps 2 s and makes no call through the shim: with
        # the worker started with the process, its metrics come every
        # interval (300 ms), while it sleeps; when the worker waits for a
        # call (lazy), only at its exit (the first at an uptime of 2 s).
        ups = sorted(value(m["points"][0]) for m in self.idle_exports("start"))
        self.assertGreaterEqual(len(ups), 2)
        self.assertGreaterEqual(ups[0], 0.25)
        self.assertLess(ups[0], 1.5)
        ups = sorted(value(m["points"][0]) for m in self.idle_exports("lazy"))
        self.assertGreaterEqual(ups[0], 1.9)

    def test_short_lived_reports_nothing(self):
        with Receiver() as rcv:
            rc, _, _ = run([PROG, "run", "50", "10"],
                           env=otlp_env(rcv, OTEL_METRIC_EXPORT_INTERVAL="5000"))
            settle(rcv)
            self.assertEqual(rc, 0)
            self.assertNotIn("/v1/metrics", [r["path"] for r in rcv.requests()])


def last_points(metrics, name):
    last = sorted([m for m in metrics if m["name"] == name], key=lambda m: m["seq"])
    return last[-1]["points"] if last else []


def started_by(metrics):
    """otel.sdk.span.started's last points: {(sampling_result, parent.origin): n}
    (not the zero point a process that started no span reports)."""
    return {(p["attributes"]["otel.span.sampling_result"],
             p["attributes"]["otel.span.parent.origin"]): value(p)
            for p in last_points(metrics, "otel.sdk.span.started") if value(p)}


def relay_points(metrics, name):
    """Every point of the otel_preload_relay series of name, in all requests."""
    return [p for m in metrics if m["name"] == name for p in m["points"]
            if p["attributes"].get("otel.component.type") == "otel_preload_relay"]


class SdkMetrics(unittest.TestCase):
    def sdk_points(self, metrics, name):
        pts = last_points(metrics, name)
        if name == "otel.sdk.span.started":
            return {None: sum(started_by(metrics).values())}, pts
        return {p["attributes"].get("error.type"): value(p) for p in pts
                if p["attributes"].get("otel.component.type") != "otel_preload_relay"}, pts

    @unittest.skipIf(TSAN, "threads started through TSan's interceptor are not traced")
    def test_export_failed_counts(self):
        # Spans go to a port nobody listens on; the metrics to the receiver.
        with Receiver() as rcv:
            rc, out, _ = run([PROG, "run", "700", "20"],
                             env={"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT":
                                  rcv.endpoint + "/v1/metrics",
                                  "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT":
                                  f"http://127.0.0.1:{free_port()}/v1/traces",
                                  "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "200",
                                  "OTEL_METRIC_EXPORT_INTERVAL": "300",
                                  "OTEL_PRELOAD_PROCESS_METRICS": "false",
                                  # no spool: the refused spans fail
                                  "OTEL_PRELOAD_SPOOL_MAX_BYTES": "0"})
            settle(rcv)
            self.assertEqual(rc, 0)
            metrics = rcv.metrics()
        names = {m["name"] for m in metrics}
        self.assertFalse([n for n in names if n.startswith("process.")])
        started, _ = self.sdk_points(metrics, "otel.sdk.span.started")
        processed, pts = self.sdk_points(metrics, "otel.sdk.processor.span.processed")
        for p in pts:
            self.assertEqual(p["attributes"]["otel.component.type"], "batching_span_processor")
            self.assertEqual(p["attributes"]["otel.component.name"], "batching_span_processor/0")
        # The conventions: a span handed to the exporter is processed (no
        # error.type) whatever the export's outcome; the exporter's count
        # says it failed. Nothing reached the refused port.
        self.assertNotIn("export_failed", processed)
        self.assertGreater(processed.get(None, 0), 0)
        self.assertEqual(sum(processed.values()), started[None])
        exported, _ = self.sdk_points(metrics, "otel.sdk.exporter.span.exported")
        self.assertEqual(exported.get(None), 0)
        self.assertEqual(exported.get("export_failed"), processed[None])
        cap, _ = self.sdk_points(metrics, "otel.sdk.processor.span.queue.capacity")
        self.assertEqual(cap[None], 2048)
        durations = [m for m in metrics if m["name"] == "otel.sdk.exporter.operation.duration"]
        self.assertTrue(durations)
        pts = {p["attributes"]["otel.component.type"]: p for m in durations for p in m["points"]}
        p = pts["otlp_http_span_exporter"]
        self.assertEqual(p["attributes"]["error.type"], "export_failed")
        # The metrics' own exports are timed too (they reached the receiver),
        # and their data points counted.
        p = pts["otlp_http_metric_exporter"]
        self.assertNotIn("error.type", p["attributes"])
        self.assertEqual(p["attributes"]["otel.component.name"], "otlp_http_metric_exporter/0")
        points, _ = self.sdk_points(metrics, "otel.sdk.exporter.metric_data_point.exported")
        self.assertGreater(points[None], 0)
        self.assertNotIn("export_failed", points)

    @unittest.skipIf(TSAN, "shells are not traced under TSan")
    def test_spooled_spans_are_processed(self):
        # The collector for spans is down and the spool takes them: they
        # are processed, and the exporter says spooled, not lost.
        spool = tempfile.mkdtemp()
        try:
            with Receiver() as rcv:
                rc, _, _ = run([PROG, "run", "700", "20"],
                               env={"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT":
                                    rcv.endpoint + "/v1/metrics",
                                    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT":
                                    f"http://127.0.0.1:{free_port()}/v1/traces",
                                    "OTEL_METRIC_EXPORT_INTERVAL": "300",
                                    "OTEL_PRELOAD_PROCESS_METRICS": "false",
                                    "OTEL_PRELOAD_SPOOL_DIR": spool})
                settle(rcv)
                self.assertEqual(rc, 0)
                metrics = rcv.metrics()
        finally:
            shutil.rmtree(spool, ignore_errors=True)
        started, _ = self.sdk_points(metrics, "otel.sdk.span.started")
        processed, _ = self.sdk_points(metrics, "otel.sdk.processor.span.processed")
        exported, _ = self.sdk_points(metrics, "otel.sdk.exporter.span.exported")
        self.assertGreater(exported.get("spooled", 0), 0)
        self.assertNotIn("export_failed", exported)
        self.assertEqual(sum(exported.values()), processed[None])
        self.assertEqual(sum(processed.values()), started[None])

    @unittest.skipIf(TSAN, "shells are not traced under TSan")
    def test_relay_reports_its_tree(self):
        # A shell that lives an interval relays what its children hand it:
        # its otel_preload_relay series counts their spans (one each).
        with Receiver() as rcv:
            rc, _, err = run(["sh", "-c", "/bin/true; /bin/true; /bin/true; sleep 0.8; :"],
                             env=otlp_env(rcv, OTEL_METRIC_EXPORT_INTERVAL="300",
                                          OTEL_PRELOAD_PROCESS_METRICS="false"))
            settle(rcv)
            self.assertEqual((rc, err), (0, b""))
            metrics = rcv.metrics()  # only sh relays
        relay = [p for m in metrics if m["name"] == "otel.sdk.exporter.span.exported"
                 for p in m["points"]
                 if p["attributes"]["otel.component.type"] == "otel_preload_relay"]
        self.assertTrue(relay, [m["name"] for m in metrics])
        last = relay[-1]
        self.assertEqual(last["attributes"]["otel.component.name"], "otel_preload_relay/0")
        self.assertNotIn("error.type", last["attributes"])
        # The three true and the sleep (which may hand off after the last
        # collection but one).
        self.assertIn(value(last), (3, 4))

    @unittest.skipIf(TSAN, "threads started through TSan's interceptor are not traced")
    def test_queue_full_counts(self):
        # A queue of 2 spans and a collector that takes 150 ms per request:
        # a thread span every few ms overflows the queue.
        with Receiver() as rcv, Receiver(delay_ms=150) as slow:
            rc, _, _ = run([PROG, "run", "700", "5"],
                           env=otlp_env(slow, OTEL_EXPORTER_OTLP_METRICS_ENDPOINT=(
                               rcv.endpoint + "/v1/metrics"),
                               OTEL_BSP_MAX_QUEUE_SIZE="2",
                               OTEL_METRIC_EXPORT_INTERVAL="300",
                               OTEL_PRELOAD_PROCESS_METRICS="false"))
            settle(rcv)
            settle(slow)
            self.assertEqual(rc, 0)
            metrics, spans = rcv.metrics(), slow.spans()
        started, _ = self.sdk_points(metrics, "otel.sdk.span.started")
        processed, _ = self.sdk_points(metrics, "otel.sdk.processor.span.processed")
        self.assertEqual(processed[None], len(spans))
        self.assertGreater(processed["queue_full"], 0)
        self.assertEqual(processed[None] + processed["queue_full"] +
                         processed.get("shutdown", 0), started[None])


    @unittest.skipIf(TSAN, "threads started through TSan's interceptor are not traced")
    def test_span_started_by_sampling_result_and_parent_origin(self):
        # The semantic conventions' attributes: a root span whose parent
        # came in TRACEPARENT (remote), thread spans under it (local); a
        # parent that was not sampled makes every span DROP, which is
        # counted too (all spans, recording or not). live: recording ones.
        trace = "4bf92f3577b34da6a3ce929d0e0e4736"
        for flags, result in (("01", "RECORD_AND_SAMPLE"), ("00", "DROP")):
            with self.subTest(result=result), Receiver() as rcv:
                rc, out, _ = run([PROG, "run", "700", "20"],
                                 env=otlp_env(rcv, TRACEPARENT=f"00-{trace}-00f067aa0ba902b7-{flags}",
                                              OTEL_METRIC_EXPORT_INTERVAL="300",
                                              OTEL_PRELOAD_PROCESS_METRICS="false"))
                settle(rcv)
                self.assertEqual(rc, 0)
                threads = int(dict(line.split() for line in out.decode().splitlines())
                              ["threads_started"])
                metrics, spans = rcv.metrics(), rcv.spans()
            self.assertGreater(threads, 0)
            self.assertEqual(started_by(metrics), {(result, "remote"): 1, (result, "local"): threads})
            live = last_points(metrics, "otel.sdk.span.live")
            self.assertEqual([(p["attributes"], value(p)) for p in live],
                             [({"otel.span.sampling_result": "RECORD_AND_SAMPLE"}, 0)])
            self.assertEqual(len(spans), threads + 1 if flags == "01" else 0)
        # No parent at all: the root span's origin is none.
        with Receiver() as rcv:
            rc, _, _ = run([PROG, "run", "400", "50"],
                           env=otlp_env(rcv, OTEL_METRIC_EXPORT_INTERVAL="300",
                                        OTEL_PRELOAD_PROCESS_METRICS="false"))
            settle(rcv)
            self.assertEqual(rc, 0)
            started = started_by(rcv.metrics())
        self.assertEqual(started[("RECORD_AND_SAMPLE", "none")], 1)
        self.assertNotIn(("RECORD_AND_SAMPLE", "remote"), started)

    @unittest.skipIf(TSAN, "shells are not traced under TSan")
    def test_short_lived_relay_reports_its_tree_once(self):
        # A shell that ends within the interval: its relay's series alone,
        # once, from the last collection at its exit (the children handed
        # it their spans: processed by them, exported by the relay).
        with Receiver() as rcv:
            rc, _, err = run(["sh", "-c", "for i in 1 2 3; do /bin/true; done"],
                             env=otlp_env(rcv, OTEL_METRICS_EXPORTER="otlp"))
            settle(rcv)
            self.assertEqual((rc, err), (0, b""))
            metrics = rcv.metrics()
            paths = [r["path"] for r in rcv.requests()]
        self.assertEqual(paths.count("/v1/metrics"), 1, paths)
        self.assertEqual({m["name"] for m in metrics},
                         {"otel.sdk.processor.span.processed", "otel.sdk.exporter.span.exported"})
        for name in ("otel.sdk.processor.span.processed", "otel.sdk.exporter.span.exported"):
            pts = relay_points(metrics, name)
            self.assertEqual([(p["attributes"], value(p)) for p in pts],
                             [({"otel.component.type": "otel_preload_relay",
                                "otel.component.name": "otel_preload_relay/0"}, 3)], name)

    @unittest.skipIf(TSAN, "shells are not traced under TSan")
    def test_relay_sums_its_childrens_drops(self):
        # Children with a queue of 4 spans each start 3000 spans as fast as
        # they can: their processors drop most (queue_full). The shell's
        # relay reports the tree: what the children processed (what the
        # receiver got: their exports succeeded) and dropped.
        n, children = 3000, 2
        with Receiver() as rcv:
            rc, _, err = run(["sh", "-c", f"{PROG} spans {n}; {PROG} spans {n}"],
                             env=otlp_env(rcv, OTEL_BSP_MAX_QUEUE_SIZE="4",
                                          OTEL_BSP_MAX_EXPORT_BATCH_SIZE="4"))
            settle(rcv)
            self.assertEqual((rc, err), (0, b""))
            metrics, spans = rcv.metrics(), rcv.spans()
        got = len([s for s in spans if s["name"] in ("burst", "metrics_prog")])
        started = children * (n + 1)  # and each child's root span
        processed = {p["attributes"].get("error.type"): value(p)
                     for p in relay_points(metrics, "otel.sdk.processor.span.processed")}
        self.assertGreater(processed.get("queue_full", 0), 0, processed)
        self.assertEqual(processed[None], got)
        self.assertEqual(processed["queue_full"] + processed.get("shutdown", 0), started - got)
        exported = {p["attributes"].get("error.type"): value(p)
                    for p in relay_points(metrics, "otel.sdk.exporter.span.exported")}
        self.assertEqual(exported, {None: got})


if __name__ == "__main__":
    unittest.main()
