"""Configuration: exporters, endpoints, headers, disabling, diagnostics only
when asked for, bad values replaced by defaults, and a bounded exit whatever
the collector does."""
import json
import os
import time
import unittest

from common import EXIT_PATHS, Receiver, free_port, otlp_env, run, spans_named


class Config(unittest.TestCase):
    def test_sdk_disabled_sends_nothing(self):
        with Receiver() as rcv:
            rc, out, err = run([EXIT_PATHS, "return", "3"],
                               env=otlp_env(rcv, OTEL_SDK_DISABLED="true", OTEL_LOG_LEVEL="debug"))
            self.assertEqual((rc, out, err), (3, b"", b""))
            time.sleep(0.05)
            self.assertEqual(rcv.spans(), [])

    def test_exporter_none_sends_nothing(self):
        with Receiver() as rcv:
            rc, out, err = run([EXIT_PATHS, "return", "0"],
                               env=otlp_env(rcv, OTEL_TRACES_EXPORTER="none"))
            self.assertEqual((rc, out, err), (0, b"", b""))
            time.sleep(0.05)
            self.assertEqual(rcv.spans(), [])

    def test_console_exporter(self):
        rc, out, err = run([EXIT_PATHS, "exit", "2"], env={"OTEL_TRACES_EXPORTER": "console"})
        self.assertEqual((rc, out), (2, b""))
        lines = err.decode().splitlines()
        self.assertEqual(len(lines), 1, lines)
        span = json.loads(lines[0])
        self.assertEqual(span["name"], "exit_paths")
        self.assertRegex(span["traceId"], "^[0-9a-f]{32}$")
        self.assertRegex(span["spanId"], "^[0-9a-f]{16}$")
        self.assertEqual(span["kind"], "internal")
        self.assertEqual(span["status"], {"code": "ERROR", "message": "exit code 2"})
        self.assertEqual(span["attributes"]["process.exit.code"], 2)
        self.assertEqual(span["resource"]["service.name"], "unknown_service:exit_paths")
        self.assertLessEqual(span["startTimeUnixNano"], span["endTimeUnixNano"])

    def test_console_survives_a_closed_stderr(self):
        # coreutils close stderr in an atexit handler; the span still shows.
        rc, out, err = run(["/bin/ls", "/"], env={"OTEL_TRACES_EXPORTER": "console"})
        self.assertEqual(rc, 0)
        self.assertEqual(json.loads(err.decode().splitlines()[-1])["name"], "ls")

    def test_console_and_otlp_together(self):
        with Receiver() as rcv:
            rc, _, err = run([EXIT_PATHS, "return", "0"],
                             env=otlp_env(rcv, OTEL_TRACES_EXPORTER="otlp, console"))
            self.assertEqual(rc, 0)
            rcv.wait_requests(1, 10)
            self.assertEqual(len(spans_named(rcv, "exit_paths")), 1)
            self.assertEqual(json.loads(err)["name"], "exit_paths")

    def test_headers_are_percent_decoded(self):
        with Receiver() as rcv:
            run([EXIT_PATHS, "return", "0"],
                env=otlp_env(rcv, OTEL_EXPORTER_OTLP_HEADERS="x-api-key=abc%20def, tenant=t1,"
                             "nul=a%00b,crlf=c%0d%0ad,after=1"))
            rcv.wait_requests(1, 10)
            (req,) = rcv.decoded()
            self.assertEqual(req["headers"]["x-api-key"], "abc def")
            self.assertEqual(req["headers"]["tenant"], "t1")
            # NUL, CR and LF are dropped: a NUL ended the header block, so the
            # request's head never ended (found by fuzz_parsers)
            self.assertEqual(req["headers"]["nul"], "ab")
            self.assertEqual(req["headers"]["crlf"], "cd")
            self.assertEqual(req["headers"]["after"], "1")
            self.assertEqual(req["headers"]["content-type"], "application/x-protobuf")
            self.assertEqual(req["path"], "/v1/traces")

    def test_signal_specific_variables_win(self):
        with Receiver() as rcv:
            env = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:%d" % free_port(),
                   "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": rcv.endpoint + "/custom/v1/traces",
                   "OTEL_EXPORTER_OTLP_HEADERS": "who=generic",
                   "OTEL_EXPORTER_OTLP_TRACES_HEADERS": "who=traces"}
            run([EXIT_PATHS, "return", "0"], env=env)
            rcv.wait_requests(1, 10)
            (req,) = rcv.decoded()
            self.assertEqual(req["path"], "/custom/v1/traces")
            self.assertEqual(req["headers"]["who"], "traces")

    def test_generic_endpoint_with_trailing_slash(self):
        with Receiver() as rcv:
            run([EXIT_PATHS, "return", "0"],
                env={"OTEL_EXPORTER_OTLP_ENDPOINT": rcv.endpoint + "/"})
            rcv.wait_requests(1, 10)
            self.assertEqual(rcv.decoded()[0]["path"], "/v1/traces")

    def test_localhost_endpoint(self):
        with Receiver() as rcv:
            port = rcv.endpoint.rsplit(":", 1)[1]
            run([EXIT_PATHS, "return", "0"],
                env={"OTEL_EXPORTER_OTLP_ENDPOINT": "http://localhost:" + port})
            rcv.wait_requests(1, 10)
            self.assertEqual(len(spans_named(rcv, "exit_paths")), 1)

    def test_bad_values_fall_back_silently_by_default(self):
        with Receiver() as rcv:
            env = otlp_env(rcv, OTEL_BSP_MAX_QUEUE_SIZE="lots", OTEL_BSP_SCHEDULE_DELAY="-5",
                           OTEL_TRACES_SAMPLER="sometimes", OTEL_SDK_DISABLED="maybe",
                           OTEL_EXPORTER_OTLP_TIMEOUT="soon")
            rc, out, err = run([EXIT_PATHS, "return", "0"], env=env)
            self.assertEqual((rc, out, err), (0, b"", b""))
            rcv.wait_requests(1, 10)
            self.assertEqual(len(spans_named(rcv, "exit_paths")), 1)

    def test_each_bad_value_gives_one_diagnostic_when_asked(self):
        with Receiver() as rcv:
            env = otlp_env(rcv, OTEL_LOG_LEVEL="warn", OTEL_BSP_MAX_QUEUE_SIZE="lots",
                           OTEL_TRACES_SAMPLER="sometimes")
            rc, _, err = run([EXIT_PATHS, "return", "0"], env=env)
            self.assertEqual(rc, 0)
            lines = err.decode().splitlines()
            self.assertEqual(len(lines), 2, lines)
            self.assertTrue(any("OTEL_BSP_MAX_QUEUE_SIZE" in l for l in lines))
            self.assertTrue(any("OTEL_TRACES_SAMPLER" in l for l in lines))
            self.assertTrue(all(l.startswith("otel-preload: warn: ") for l in lines))

    def test_invalid_log_level_is_silent(self):
        # Every process of a tree would print it: a level we do not know
        # leaves diagnostics off, and they say nothing (SAFETY.md 3).
        for level in ("loud", "x" * (100 << 10)):
            rc, _, err = run([EXIT_PATHS, "return", "0"],
                             env={"OTEL_LOG_LEVEL": level, "OTEL_TRACES_EXPORTER": "none"})
            self.assertEqual((rc, err), (0, b""))

    def test_log_level_synonyms(self):
        for level in ("verbose", "trace", "all", "4"):
            rc, _, err = run([EXIT_PATHS, "return", "0"],
                             env={"OTEL_LOG_LEVEL": level, "OTEL_TRACES_SAMPLER": "sometimes",
                                  "OTEL_TRACES_EXPORTER": "none"})
            self.assertEqual(rc, 0)
            self.assertIn(b"OTEL_TRACES_SAMPLER", err, level)
        rc, _, err = run([EXIT_PATHS, "return", "0"],
                         env={"OTEL_LOG_LEVEL": "0", "OTEL_TRACES_SAMPLER": "sometimes",
                              "OTEL_TRACES_EXPORTER": "none"})
        self.assertEqual((rc, err), (0, b""))

    def test_collector_down_changes_nothing(self):
        env = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:%d" % free_port()}
        for args, code in ((["return", "0"], 0), (["exit", "5"], 5)):
            rc, out, err = run([EXIT_PATHS] + args, env=env)
            self.assertEqual((rc, out, err), (code, b"", b""))

    def test_silent_collector_bounded_by_shutdown_budget(self):
        with Receiver(silent=True) as rcv:
            env = otlp_env(rcv, OTEL_PRELOAD_SHUTDOWN_TIMEOUT="300")
            # run()'s own timeout is the bound: a hang fails the test.
            rc, out, err = run([EXIT_PATHS, "exit", "4"], env=env, timeout=30)
            self.assertEqual((rc, out, err), (4, b"", b""))

    def test_rejecting_collector_changes_nothing(self):
        with Receiver(status=500) as rcv:
            rc, out, err = run([EXIT_PATHS, "return", "0"], env=otlp_env(rcv))
            self.assertEqual((rc, out, err), (0, b"", b""))

    def test_https_collector_down_is_silent(self):
        rc, out, err = run([EXIT_PATHS, "return", "0"],
                           env={"OTEL_EXPORTER_OTLP_ENDPOINT": "https://127.0.0.1:1"})
        self.assertEqual((rc, out, err), (0, b"", b""))


if __name__ == "__main__":
    unittest.main()
