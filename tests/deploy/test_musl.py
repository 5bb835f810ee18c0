"""The musl flavour, libotelpreload-musl.so, in musl programs (musl-gcc):
the root span with its arguments and exit code, a tree of musl programs
started by posix_spawn, fork+exec and vfork+exec in one trace, a thread's
span, logging calls as log records; the output bytes as without it. In a
glibc program it stays inert."""
import os
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

from common import SANITIZED, Receiver  # noqa: E402

BUILD = os.environ.get("OTELP_BUILD_DIR", "")
MUSL_LIB = os.path.join(BUILD, "libotelpreload-musl.so")
PROBE = os.path.join(os.environ.get("OTELP_DEPLOY_PROGS", ""), "libc_probe_musl")


def run(cmd, env):
    """cmd with os.environ plus env (LD_PRELOAD as given, unlike the
    harness's run, which sets the glibc shim); (rc, stdout, stderr)."""
    full = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    full.update(env)
    p = subprocess.run(cmd, env=full, capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout, p.stderr


@unittest.skipIf(SANITIZED, "the musl flavour is not built with sanitizers (their runtimes are glibc's)")
class MuslFlavour(unittest.TestCase):
    def setUp(self):
        if not os.path.isfile(MUSL_LIB) or not os.path.isfile(PROBE):
            self.skipTest("musl-gcc not installed (scripts/setup installs musl-tools)")

    def run_musl(self, args, rcv, **env):
        full = {"LD_PRELOAD": MUSL_LIB, "OTEL_EXPORTER_OTLP_ENDPOINT": rcv.endpoint,
                "OTEL_SERVICE_NAME": "alpine-app"}
        full.update(env)
        return run([PROBE] + args, full)

    def test_tree_of_musl_programs(self):
        with Receiver() as rcv:
            rc, out, err = self.run_musl(["tree"], rcv)
            self.assertEqual((rc, out, err), (0, b"tree 15\n", b""))
            time.sleep(0.1)
            spans = rcv.spans()
        self.assertEqual(len({s["traceId"] for s in spans}), 1)
        (top,) = [s for s in spans if "parentSpanId" not in s]
        self.assertEqual(top["attributes"]["process.command_args"], [PROBE, "tree"])
        self.assertEqual(top["resource"]["service.name"], "alpine-app")
        events = [e["name"] for e in top["events"]]
        self.assertIn("process.spawn", events)
        self.assertIn("process.fork", events)
        leaves = sorted((s["attributes"]["process.command_args"][2],
                         s["attributes"]["process.exit.code"])
                        for s in spans if s.get("parentSpanId") == top["spanId"])
        self.assertEqual(leaves, [("4", 4), ("5", 5), ("6", 6)])

    def test_root_threads_and_logs(self):
        with Receiver() as rcv:
            plain = run([PROBE, "x"], {"OTEL_EXPORTER_OTLP_ENDPOINT": rcv.endpoint})
            rc, out, err = self.run_musl(["x"], rcv)
            time.sleep(0.1)
            spans = rcv.spans()
            logs = rcv.logs()
        self.assertEqual((rc, out, err), plain)  # same bytes, same exit code 3
        (top,) = [s for s in spans if s["name"] == "libc_probe_musl" and "parentSpanId" not in s]
        self.assertEqual(top["attributes"]["process.exit.code"], 3)
        self.assertEqual(top["status"]["code"], 2)
        threads = [s for s in spans if "thread.id" in s["attributes"]]
        self.assertEqual(len(threads), 1)
        self.assertEqual(threads[0]["parentSpanId"], top["spanId"])
        bodies = sorted(r["body"] for r in logs)
        self.assertIn("hello from libc_probe", bodies)
        self.assertIn("warnx 1", bodies)
        for r in logs:
            if r["body"] in ("hello from libc_probe", "warnx 1"):
                self.assertEqual(r["traceId"], top["traceId"])

    def test_inert_in_glibc_programs(self):
        script = "echo out; echo err >&2; /bin/true; exit 4"
        with Receiver() as rcv:
            env = {"OTEL_EXPORTER_OTLP_ENDPOINT": rcv.endpoint}
            plain = run(["sh", "-c", script], env)
            musl = run(["sh", "-c", script], dict(env, LD_PRELOAD=MUSL_LIB))
            time.sleep(0.1)
            spans = rcv.spans()
        self.assertEqual(plain, (4, b"out\n", b"err\n"))
        self.assertEqual(musl, plain)
        self.assertEqual(spans, [])


if __name__ == "__main__":
    unittest.main()
