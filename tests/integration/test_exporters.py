"""Exporters: every OTLP transport, and the specification's reliability
rules, each driven by a fault-injecting receiver: tests/receiver/otlp_sink
(HTTP/1.1) and tests/interop/otlp_server.js (gRPC on @grpc/grpc-js, raw
HTTP/2, https). Every test checks the program's own result is untouched."""
import email.utils
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest

from common import EXIT_PATHS, PROGS, SANITIZED, Receiver, free_port, run
from harness import Certs, NodeServer, have_node_modules, node_path

SLACK = 4.0 if SANITIZED else 2.0  # seconds of start-up and exit cost allowed (loaded CI)


def loss(err):
    """The loss line at OTEL_LOG_LEVEL=info as a dict, or None."""
    m = re.search(rb"spans: exported (\d+), dropped (\d+) \(queue full\), (\d+) \(export failed\), "
                  rb"(\d+) \(rejected\), (\d+) \(shutdown\), spooled (\d+)", err)
    if not m:
        return None
    keys = ("exported", "queue_full", "export_failed", "rejected", "shutdown", "spooled")
    return dict(zip(keys, (int(x) for x in m.groups())))


def received_ms(req):
    return int(req["headers"]["x-received-ms"])


def run_exit3(env, timeout=30):
    """exit_paths exit 3 under the shim with env; returns (rc, out, err, seconds)."""
    t0 = time.monotonic()
    rc, out, err = run([EXIT_PATHS, "exit", "3"], env=env, timeout=timeout)
    return rc, out, err, time.monotonic() - t0


def need_node(test):
    if node_path() is None or not have_node_modules():
        test.skipTest("node or tests/interop/node_modules missing")


class Transports(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="otelp-certs.")
        cls.certs = Certs(cls.tmp)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def export_ok(self, server, env, expect_rc=3):
        for f in os.listdir(server.out_dir):  # what earlier runs left
            os.unlink(os.path.join(server.out_dir, f))
        rc, out, err, _ = run_exit3(dict(env, OTEL_LOG_LEVEL="info"))
        self.assertEqual((rc, out), (expect_rc, b""))
        server.wait_requests(1, 15)
        decoded = server.decoded()
        spans = server.spans(decoded)
        self.assertEqual([s["name"] for s in spans], ["exit_paths"])
        self.assertEqual(spans[0]["attributes"]["process.exit.code"], 3)
        self.assertEqual(loss(err)["exported"], 1, err)
        return decoded, err

    def test_http_json(self):
        with Receiver() as rcv:
            (req,), _ = self.export_ok(rcv, {"OTEL_EXPORTER_OTLP_ENDPOINT": rcv.endpoint,
                                             "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"})
            self.assertEqual(req["headers"]["content-type"], "application/json")
            self.assertEqual(req["path"], "/v1/traces")
            raw = rcv.requests()[0]["body"]
            self.assertTrue(raw.startswith(b'{"resourceSpans":[{"resource":{"attributes":['))

    def test_http_protobuf_gzip(self):
        with Receiver() as rcv:
            (req,), _ = self.export_ok(rcv, {"OTEL_EXPORTER_OTLP_ENDPOINT": rcv.endpoint,
                                             "OTEL_EXPORTER_OTLP_COMPRESSION": "gzip"})
            self.assertEqual(req["headers"]["content-encoding"], "gzip")
            self.assertEqual(rcv.requests()[0]["body"][:2], b"\x1f\x8b")

    def test_signal_specific_protocol_wins(self):
        with Receiver() as rcv:
            (req,), _ = self.export_ok(rcv, {"OTEL_EXPORTER_OTLP_ENDPOINT": rcv.endpoint,
                                             "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
                                             "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/json"})
            self.assertEqual(req["headers"]["content-type"], "application/json")

    def test_grpc_h2c_official_server(self):
        need_node(self)
        with NodeServer("grpc") as srv:
            (req,), _ = self.export_ok(srv, {"OTEL_EXPORTER_OTLP_ENDPOINT": srv.endpoint,
                                             "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
                                             "OTEL_EXPORTER_OTLP_HEADERS": "x-tenant=t1",
                                             "OTEL_EXPORTER_OTLP_TIMEOUT": "4000"})
            self.assertEqual(req["path"],
                             "/opentelemetry.proto.collector.trace.v1.TraceService/Export")
            self.assertEqual(req["headers"]["x-tenant"], "t1")
            # grpc-timeout reached the server: its deadline is within ours.
            self.assertLessEqual(int(req["headers"]["x-deadline-left-ms"]), 4000)

    def test_grpc_gzip_framing(self):
        need_node(self)
        with NodeServer("h2") as srv:
            (req,), _ = self.export_ok(srv, {"OTEL_EXPORTER_OTLP_ENDPOINT": srv.endpoint,
                                             "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
                                             "OTEL_EXPORTER_OTLP_COMPRESSION": "gzip",
                                             "OTEL_EXPORTER_OTLP_TIMEOUT": "3000"})
            self.assertEqual(req["headers"]["content-type"], "application/grpc")
            self.assertEqual(req["headers"]["te"], "trailers")
            self.assertEqual(req["headers"]["grpc-encoding"], "gzip")
            self.assertRegex(req["headers"]["grpc-timeout"], r"^\d{1,8}m$")
            self.assertLessEqual(int(req["headers"]["grpc-timeout"][:-1]), 3000)
            raw = srv.requests()[0]["body"]
            self.assertEqual(raw[0], 1)  # the compressed flag
            self.assertEqual(int.from_bytes(raw[1:5], "big"), len(raw) - 5)
        # The official server takes the compressed message too.
        with NodeServer("grpc") as srv:
            self.export_ok(srv, {"OTEL_EXPORTER_OTLP_ENDPOINT": srv.endpoint,
                                 "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
                                 "OTEL_EXPORTER_OTLP_COMPRESSION": "gzip"})

    def test_grpc_tls_and_scheme_less(self):
        need_node(self)
        with NodeServer("grpc", tls=self.certs) as srv:
            self.export_ok(srv, {"OTEL_EXPORTER_OTLP_ENDPOINT": srv.endpoint,
                                 "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
                                 "OTEL_EXPORTER_OTLP_CERTIFICATE": str(self.certs.ca)})
            # host:port without a scheme: TLS unless INSECURE says otherwise.
            self.export_ok(srv, {"OTEL_EXPORTER_OTLP_ENDPOINT": f"127.0.0.1:{srv.port}",
                                 "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
                                 "OTEL_EXPORTER_OTLP_CERTIFICATE": str(self.certs.ca)})
        with NodeServer("grpc") as srv:
            self.export_ok(srv, {"OTEL_EXPORTER_OTLP_ENDPOINT": f"127.0.0.1:{srv.port}",
                                 "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
                                 "OTEL_EXPORTER_OTLP_INSECURE": "true"})

    def test_https_json_and_protobuf(self):
        need_node(self)
        with NodeServer("https", tls=self.certs) as srv:
            for proto in ("http/json", "http/protobuf"):
                self.export_ok(srv, {"OTEL_EXPORTER_OTLP_ENDPOINT": srv.endpoint,
                                     "OTEL_EXPORTER_OTLP_PROTOCOL": proto,
                                     "OTEL_EXPORTER_OTLP_COMPRESSION": "gzip",
                                     "OTEL_EXPORTER_OTLP_CERTIFICATE": str(self.certs.ca)})
                self.assertEqual(srv.requests()[-1]["headers"]["content-encoding"], "gzip")

    def test_mutual_tls(self):
        need_node(self)
        with NodeServer("https", tls=self.certs, client_ca=True) as srv:
            env = {"OTEL_EXPORTER_OTLP_ENDPOINT": srv.endpoint,
                   "OTEL_EXPORTER_OTLP_CERTIFICATE": str(self.certs.ca), "OTEL_LOG_LEVEL": "info"}
            # Not spooled (a cap of 0), or the next run would send it.
            rc, out, err, _ = run_exit3(dict(env, OTEL_PRELOAD_SPOOL_MAX_BYTES="0"))
            self.assertEqual((rc, out), (3, b""))
            self.assertEqual(loss(err)["export_failed"], 1, err)
            self.assertEqual(srv.request_count(), 0)
            self.export_ok(srv, dict(env, OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE=str(
                self.certs.client_cert), OTEL_EXPORTER_OTLP_CLIENT_KEY=str(self.certs.client_key)))

    def test_tls_verification_on_no_fallback(self):
        need_node(self)
        for mode, extra in (("https", {}), ("grpc", {"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"})):
            with NodeServer(mode, tls=self.certs) as srv:
                env = dict(extra, OTEL_EXPORTER_OTLP_ENDPOINT=srv.endpoint, OTEL_LOG_LEVEL="info",
                           OTEL_EXPORTER_OTLP_CERTIFICATE=str(self.certs.other_ca))
                rc, out, err, took = run_exit3(env)
                self.assertEqual((rc, out), (3, b""))
                self.assertEqual(loss(err)["export_failed"], 1, err)
                self.assertLess(took, 2 + SLACK)  # not retried: TLS does not fix itself
                self.assertEqual(srv.request_count(), 0)
                # No CA given: the system store does not know ours either.
                rc, _, err, _ = run_exit3(dict(env, OTEL_EXPORTER_OTLP_CERTIFICATE=None))
                self.assertEqual(loss(err)["export_failed"], 1, err)
                # Only an explicit INSECURE=true turns verification off.
                self.export_ok(srv, dict(env, OTEL_EXPORTER_OTLP_CERTIFICATE=None,
                                         OTEL_EXPORTER_OTLP_INSECURE="true"))

    def test_libcurl_loaded_only_when_needed(self):
        need_node(self)
        with Receiver() as rcv:
            env = {"OTEL_EXPORTER_OTLP_ENDPOINT": rcv.endpoint, "LD_DEBUG": "files"}
            rc, _, err = run([EXIT_PATHS, "exit", "0"], env=env)
            rcv.wait_requests(1, 10)
            self.assertNotIn(b"libcurl", err)
            self.assertNotIn(b"libz.so", err)
            rc, _, err = run([EXIT_PATHS, "exit", "0"],
                             env=dict(env, OTEL_EXPORTER_OTLP_COMPRESSION="gzip"))
            self.assertIn(b"file=libz.so.1", err)
            self.assertNotIn(b"libcurl", err)
        with NodeServer("grpc") as srv:
            rc, _, err = run([EXIT_PATHS, "exit", "0"],
                             env={"OTEL_EXPORTER_OTLP_ENDPOINT": srv.endpoint,
                                  "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "LD_DEBUG": "files"})
            self.assertIn(b"file=libcurl.so.4", err)

    def test_program_with_its_own_libcurl(self):
        need_node(self)
        prog = os.path.join(PROGS, "curl_user")
        if not os.path.exists(prog):
            self.skipTest("curl_user not built")
        with NodeServer("https", tls=self.certs) as srv:
            url = srv.endpoint + "/program"
            base = run([prog, url, str(self.certs.ca)], preload=False)
            self.assertEqual(base[0], 0, base)
            env = {"OTEL_EXPORTER_OTLP_ENDPOINT": srv.endpoint,
                   "OTEL_EXPORTER_OTLP_CERTIFICATE": str(self.certs.ca), "OTEL_LOG_LEVEL": "info"}
            rc, out, err = run([prog, url, str(self.certs.ca)], env=env)
            self.assertEqual((rc, out), (base[0], base[1]))
            self.assertEqual(loss(err)["exported"], 1, err)
            paths = [r["path"] for r in srv.requests()]
            # Two requests of its own without the shim, two with, then our export.
            self.assertEqual(paths, ["/program"] * 4 + ["/v1/traces"])


class Reliability(unittest.TestCase):
    def env(self, rcv, **extra):
        e = {"OTEL_EXPORTER_OTLP_ENDPOINT": rcv.endpoint, "OTEL_LOG_LEVEL": "info"}
        e.update({k: str(v) for k, v in extra.items()})
        return e

    def test_retryable_statuses_are_retried(self):
        for status in (429, 502, 503, 504):
            with Receiver(status_seq=f"{status},200") as rcv:
                rc, out, err, _ = run_exit3(self.env(rcv))
                self.assertEqual((rc, out), (3, b""))
                self.assertEqual(rcv.request_count(), 2, status)
                self.assertEqual(loss(err)["exported"], 1, (status, err))

    def test_other_statuses_are_dropped_without_retry(self):
        for status in (400, 401, 403, 404, 413, 500, 501, 307):
            with Receiver(status=status, retry_after="0") as rcv:
                rc, out, err, _ = run_exit3(self.env(rcv))
                self.assertEqual((rc, out), (3, b""))
                time.sleep(0.05)
                self.assertEqual(rcv.request_count(), 1, status)
                self.assertEqual(loss(err)["export_failed"], 1, (status, err))
                self.assertIn(b"(not retryable)", err)

    def test_backoff_grows_with_jitter(self):
        with Receiver(status_seq="503,503,503,200") as rcv:
            rc, _, err, _ = run_exit3(self.env(rcv))
            self.assertEqual(rc, 3)
            reqs = rcv.requests()
            self.assertEqual(len(reqs), 4)
            t = [received_ms(r) for r in reqs]
            gaps = [b - a for a, b in zip(t, t[1:])]
            # 100 ms doubling, times [0.5, 1.5): [50,150), [100,300), [200,600)
            self.assertGreaterEqual(gaps[0], 45, gaps)
            self.assertGreaterEqual(gaps[2], 195, gaps)
            self.assertGreater(gaps[2], gaps[0], gaps)
            self.assertEqual(loss(err)["exported"], 1)

    def test_retry_after_seconds(self):
        with Receiver(status_seq="503,200", retry_after="1") as rcv:
            rc, _, err, _ = run_exit3(self.env(rcv, OTEL_PRELOAD_SHUTDOWN_TIMEOUT=5000))
            reqs = rcv.requests()
            self.assertEqual(len(reqs), 2)
            self.assertGreaterEqual(received_ms(reqs[1]) - received_ms(reqs[0]), 990)
            self.assertEqual(loss(err)["exported"], 1)

    def test_retry_after_http_date(self):
        when = email.utils.formatdate(time.time() + 2, usegmt=True)
        with Receiver(status_seq="429,200", retry_after=when) as rcv:
            rc, _, err, _ = run_exit3(self.env(rcv, OTEL_PRELOAD_SHUTDOWN_TIMEOUT=6000))
            reqs = rcv.requests()
            self.assertEqual(len(reqs), 2)
            self.assertGreaterEqual(received_ms(reqs[1]) - received_ms(reqs[0]), 900)
            self.assertEqual(loss(err)["exported"], 1)

    def test_retry_after_beyond_the_budget_gives_up_at_once(self):
        with Receiver(status=503, retry_after="30") as rcv:
            rc, out, err, took = run_exit3(self.env(rcv, OTEL_PRELOAD_SHUTDOWN_TIMEOUT=2000,
                                                    OTEL_PRELOAD_SPOOL_MAX_BYTES=0))
            self.assertEqual((rc, out), (3, b""))
            self.assertLess(took, 1 + SLACK)
            self.assertEqual(rcv.request_count(), 1)
            self.assertEqual(loss(err)["export_failed"], 1)

    def test_connection_failures_are_retried(self):
        for action in ("reset", "close"):
            with Receiver(status_seq=f"{action},200") as rcv:
                rc, out, err, _ = run_exit3(self.env(rcv))
                self.assertEqual((rc, out), (3, b""))
                self.assertEqual(rcv.request_count(), 2, action)
                self.assertEqual(loss(err)["exported"], 1, (action, err))

    def test_oversized_response_is_rejected(self):
        with Receiver(response_body_bytes=(4 << 20) + 1) as rcv:
            rc, out, err, _ = run_exit3(self.env(rcv))
            self.assertEqual((rc, out), (3, b""))
            self.assertEqual(rcv.request_count(), 1)
            self.assertEqual(loss(err)["export_failed"], 1, err)
        with Receiver(response_body_bytes=4 << 20) as rcv:  # 4 MiB exactly: fine
            rc, _, err, _ = run_exit3(self.env(rcv))
            self.assertEqual(loss(err)["exported"], 1, err)

    def test_partial_success_is_counted_not_retried(self):
        for proto in ("http/protobuf", "http/json"):
            with Receiver(partial=1) as rcv:
                rc, out, err, _ = run_exit3(self.env(rcv, OTEL_EXPORTER_OTLP_PROTOCOL=proto))
                self.assertEqual((rc, out), (3, b""))
                time.sleep(0.05)
                self.assertEqual(rcv.request_count(), 1)
                self.assertEqual(loss(err)["rejected"], 1, err)
                self.assertEqual(loss(err)["exported"], 0, err)
                self.assertIn(b"sink rejects", err)

    def test_export_timeout_bounds_an_export_and_its_retries(self):
        with Receiver(silent=True) as rcv:
            rc, out, err, took = run_exit3(self.env(rcv, OTEL_EXPORTER_OTLP_TIMEOUT=300,
                                                    OTEL_PRELOAD_SHUTDOWN_TIMEOUT=10000))
            self.assertEqual((rc, out), (3, b""))
            self.assertLess(took, 0.3 + SLACK)
            self.assertEqual(loss(err)["spooled"], 1, err)  # retryable, out of time
        with Receiver(status=503) as rcv:
            rc, out, err, took = run_exit3(self.env(rcv, OTEL_EXPORTER_OTLP_TIMEOUT=700,
                                                    OTEL_PRELOAD_SHUTDOWN_TIMEOUT=10000))
            self.assertLess(took, 0.7 + SLACK)
            self.assertGreaterEqual(rcv.request_count(), 3)
            self.assertEqual(loss(err)["spooled"], 1, err)

    def test_flush_budget_bounds_exit(self):
        down = {"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{free_port()}"}
        with Receiver(silent=True) as silent:
            for env in (down, {"OTEL_EXPORTER_OTLP_ENDPOINT": silent.endpoint}):
                base = run([EXIT_PATHS, "exit", "3"], preload=False)
                rc, out, err, took = run_exit3(dict(env, OTEL_PRELOAD_SHUTDOWN_TIMEOUT="500"))
                self.assertEqual((rc, out, err), base)
                self.assertLess(took, 0.5 + SLACK)
                rc, _, err, _ = run_exit3(dict(env, OTEL_PRELOAD_SHUTDOWN_TIMEOUT="500",
                                               OTEL_LOG_LEVEL="info",
                                               OTEL_PRELOAD_SPOOL_MAX_BYTES="0"))
                self.assertEqual(loss(err)["export_failed"], 1, err)


class GrpcReliability(unittest.TestCase):
    def setUp(self):
        need_node(self)

    def run_grpc(self, srv, **extra):
        env = {"OTEL_EXPORTER_OTLP_ENDPOINT": srv.endpoint, "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
               "OTEL_LOG_LEVEL": "info"}
        env.update({k: str(v) for k, v in extra.items()})
        rc, out, err, took = run_exit3(env)
        self.assertEqual((rc, out), (3, b""))
        return err, took

    def test_retryable_codes(self):
        for code in (1, 4, 10, 11, 14, 15):
            with NodeServer("h2", status_seq=f"{code},0") as srv:
                err, _ = self.run_grpc(srv)
                self.assertEqual(srv.request_count(), 2, code)
                self.assertEqual(loss(err)["exported"], 1, (code, err))

    def test_other_codes_are_dropped(self):
        for code in (2, 3, 5, 7, 8, 9, 12, 13, 16):
            with NodeServer("h2", status_seq=str(code), message="no, 100% not") as srv:
                err, _ = self.run_grpc(srv)
                time.sleep(0.05)
                self.assertEqual(srv.request_count(), 1, code)
                self.assertEqual(loss(err)["export_failed"], 1, (code, err))
                self.assertIn(f"gRPC status {code}: no, 100% not".encode(), err)

    def test_resource_exhausted_only_with_retry_info(self):
        with NodeServer("grpc", status_seq="8,0", retry_info_ms=400) as srv:
            err, _ = self.run_grpc(srv)
            reqs = srv.requests()
            self.assertEqual(len(reqs), 2)
            self.assertGreaterEqual(received_ms(reqs[1]) - received_ms(reqs[0]), 390)
            self.assertEqual(loss(err)["exported"], 1, err)

    def test_trailers_only_and_partial_success(self):
        with NodeServer("h2", trailers_only=True) as srv:
            err, _ = self.run_grpc(srv)
            self.assertEqual(loss(err)["exported"], 1, err)
        with NodeServer("grpc", partial=1) as srv:
            err, _ = self.run_grpc(srv)
            self.assertEqual(srv.request_count(), 1)
            self.assertEqual(loss(err)["rejected"], 1, err)

    def test_silent_and_reset_and_oversized(self):
        with NodeServer("h2", status_seq="silent") as srv:
            err, took = self.run_grpc(srv, OTEL_EXPORTER_OTLP_TIMEOUT=400,
                                      OTEL_PRELOAD_SPOOL_MAX_BYTES=0)
            self.assertLess(took, 0.4 + SLACK)
            self.assertEqual(loss(err)["export_failed"], 1, err)
        with NodeServer("h2", status_seq="reset,0") as srv:
            err, _ = self.run_grpc(srv)
            self.assertEqual(srv.request_count(), 2)
            self.assertEqual(loss(err)["exported"], 1, err)
        with NodeServer("h2", response_body_bytes=(4 << 20) + 1) as srv:
            err, _ = self.run_grpc(srv)
            self.assertEqual(srv.request_count(), 1)
            self.assertEqual(loss(err)["export_failed"], 1, err)


class Security(unittest.TestCase):
    TOKEN = "s3cr3t-t0k3n-value"

    def test_header_values_never_in_diagnostics(self):
        headers = f"authorization=Bearer%20{self.TOKEN},x-api-key={self.TOKEN},bad=%zz{self.TOKEN}"
        with Receiver(status_seq="503,400") as rcv:
            for level in ("debug",):
                _, _, err = run([EXIT_PATHS, "exit", "0"],
                                env={"OTEL_EXPORTER_OTLP_ENDPOINT": rcv.endpoint,
                                     "OTEL_EXPORTER_OTLP_HEADERS": headers,
                                     "OTEL_LOG_LEVEL": level})
                self.assertNotIn(self.TOKEN.encode(), err)
                self.assertIn(b"not retryable", err)
            self.assertEqual(rcv.requests()[0]["headers"]["authorization"], "Bearer " + self.TOKEN)

    def test_auth_headers_over_plain_http_warn(self):
        with Receiver() as rcv:
            _, _, err = run([EXIT_PATHS, "exit", "0"],
                            env={"OTEL_EXPORTER_OTLP_ENDPOINT": rcv.endpoint,
                                 "OTEL_EXPORTER_OTLP_HEADERS": "Authorization=x",
                                 "OTEL_LOG_LEVEL": "warn"})
            self.assertIn(b"unencrypted", err)
            _, _, err = run([EXIT_PATHS, "exit", "0"],
                            env={"OTEL_EXPORTER_OTLP_ENDPOINT": rcv.endpoint,
                                 "OTEL_EXPORTER_OTLP_HEADERS": "x-tenant=x",
                                 "OTEL_LOG_LEVEL": "warn"})
            self.assertEqual(err, b"")
            # And silent by default.
            _, _, err = run([EXIT_PATHS, "exit", "0"],
                            env={"OTEL_EXPORTER_OTLP_ENDPOINT": rcv.endpoint,
                                 "OTEL_EXPORTER_OTLP_HEADERS": "Authorization=x"})
            self.assertEqual(err, b"")


class FileExporter(unittest.TestCase):
    def test_json_lines_from_a_pipeline(self):
        tmp = tempfile.mkdtemp(prefix="otelp-file.")
        try:
            path = os.path.join(tmp, "traces.jsonl")
            rc, out, err = run(["/bin/sh", "-c", f"{EXIT_PATHS} exit 0 | cat; exit 2"],
                               env={"OTEL_TRACES_EXPORTER": "otlp_file",
                                    "OTEL_EXPORTER_OTLP_TRACES_FILE_PATH": path})
            self.assertEqual((rc, out, err), (2, b"", b""))
            with open(path, "rb") as f:
                lines = f.read().splitlines()
            self.assertEqual(len(lines), 3)  # sh, exit_paths, cat: one request each
            self.assertEqual(os.stat(path).st_mode & 0o777, 0o600)
            # Each line is an OTLP JSON request the official types accept.
            rcv = Receiver()
            rcv.out_dir = tmp
            for i, line in enumerate(lines, 1):
                with open(os.path.join(tmp, "%06d.bin" % i), "wb") as f:
                    f.write(line)
                with open(os.path.join(tmp, "%06d.meta" % i), "w") as f:
                    f.write("POST /v1/traces\ncontent-type: application/json\n")
            names = sorted(s["name"] for s in rcv.spans())
            self.assertEqual(names, ["cat", "exit_paths", "sh"])
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def test_no_path_no_file_one_warning(self):
        rc, out, err = run([EXIT_PATHS, "exit", "0"],
                           env={"OTEL_TRACES_EXPORTER": "otlp_file", "OTEL_LOG_LEVEL": "warn"})
        self.assertEqual((rc, out), (0, b""))
        self.assertEqual(len(err.splitlines()), 1, err)
        self.assertIn(b"FILE_PATH", err)


if __name__ == "__main__":
    unittest.main()
