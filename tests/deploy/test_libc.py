"""The shim on C libraries other than the build machine's: it loads on an
older glibc (a Debian bullseye root, glibc 2.31, where libdl and libpthread
are separate libraries the program may not load) and exports the tree there;
preloaded into a musl program, it leaves the program exactly as it was."""
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
sys.path.insert(0, HERE)

from common import SANITIZED, Receiver, run  # noqa: E402
import rootfs  # noqa: E402

LIB = os.environ.get("OTELP_LIB", "")
PROGS = os.environ.get("OTELP_DEPLOY_PROGS", "")

# The sanitizer runtimes preloaded in front of the shim need the build
# machine's glibc; they cannot load into bullseye or musl programs at all.
not_sanitized = unittest.skipIf(SANITIZED, "sanitizer runtimes need the build machine's glibc")


def run_in_root(root, cmd, env, timeout=60):
    """cmd (a list) in a chroot into root with exactly env; (rc, out, err).
    A coverage build's shim writes its counts under GCOV_PREFIX there (the
    build tree's paths do not exist in the root), in the test's own
    directory (an older build's counts would not match)."""
    if "LD_PRELOAD" in env:
        env = dict(env, GCOV_PREFIX=os.path.dirname(env["LD_PRELOAD"]) + "/gcov")

    def enter():
        os.chroot(root)
        os.chdir("/")
    p = subprocess.run(cmd, env=env, preexec_fn=enter, stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


@not_sanitized
class OlderGlibc(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        try:
            cls.root = rootfs.bullseye()
        except rootfs.Unavailable as e:
            raise unittest.SkipTest(str(e))
        cls.dir = tempfile.mkdtemp(prefix="otelp-", dir=os.path.join(cls.root, "tmp"))
        shutil.copy(LIB, os.path.join(cls.dir, "libotelpreload.so"))
        cls.lib = "/tmp/%s/libotelpreload.so" % os.path.basename(cls.dir)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def test_the_root_is_older_glibc(self):
        self.assertEqual(rootfs.libc_version(self.root), "2.31")

    def test_tree_exported_from_bullseye(self):
        script = 'echo start; dash -c "exit 3"; busybox true; echo end'
        with Receiver() as rcv:
            env = {"PATH": "/usr/bin:/bin", "LD_PRELOAD": self.lib,
                   "OTEL_EXPORTER_OTLP_ENDPOINT": rcv.endpoint, "OTEL_SERVICE_NAME": "old"}
            rc, out, err = run_in_root(self.root, ["/bin/dash", "-c", script], env)
            self.assertEqual((rc, out, err), (0, b"start\nend\n", b""))
            time.sleep(0.1)
            spans = rcv.spans()
        names = sorted(s["name"] for s in spans)
        self.assertEqual(names, ["busybox", "dash", "dash"])
        self.assertEqual(len({s["traceId"] for s in spans}), 1)
        (top,) = [s for s in spans if "parentSpanId" not in s]
        self.assertEqual(top["attributes"]["process.command_args"], ["/bin/dash", "-c", script])
        kids = [s for s in spans if s.get("parentSpanId") == top["spanId"]]
        self.assertEqual(len(kids), 2)
        (failed,) = [s for s in kids if s["name"] == "dash"]
        self.assertEqual(failed["attributes"]["process.exit.code"], 3)
        self.assertEqual(failed["status"]["code"], 2)  # ERROR

    def test_same_bytes_as_without(self):
        script = 'echo out; echo err >&2; dash -c "exit 5"; exit $?'
        base = {"PATH": "/usr/bin:/bin", "OTEL_TRACES_EXPORTER": "none"}
        plain = run_in_root(self.root, ["/bin/dash", "-c", script], base)
        traced = run_in_root(self.root, ["/bin/dash", "-c", script],
                             dict(base, LD_PRELOAD=self.lib))
        self.assertEqual(plain, (5, b"out\n", b"err\n"))
        self.assertEqual(traced, plain)


@not_sanitized
class OtherLibc(unittest.TestCase):
    """A musl program (musl-gcc) with the glibc shim in LD_PRELOAD."""

    def setUp(self):
        self.probe = os.path.join(PROGS, "libc_probe_musl")
        if not os.path.isfile(self.probe):
            self.skipTest("musl-gcc not installed (scripts/setup installs musl-tools)")

    def test_musl_program_untouched(self):
        with Receiver() as rcv:
            env = {"OTEL_EXPORTER_OTLP_ENDPOINT": rcv.endpoint}
            plain = run([self.probe, "a", "b"], env=env, preload=False)
            traced = run([self.probe, "a", "b"], env=env, preload=True)
            time.sleep(0.1)
            spans = rcv.spans()
        self.assertEqual(plain[0], 3)
        self.assertIn(b"vfork 6\nspawn 4\nsystem 5\npopen\n", plain[1])
        self.assertEqual(traced, plain)
        # The musl program itself is not traced; its glibc children (/bin/sh)
        # are, each on its own.
        self.assertNotIn("libc_probe_musl", [s["name"] for s in spans])
        self.assertIn("sh", [s["name"] for s in spans])

    def test_loader_reports_nothing(self):
        # A missing import would make musl's loader refuse the shim (exit
        # 127, "Error relocating"); LD_PRELOAD alone, no other variable.
        rc, out, err = run([self.probe], env={"OTEL_TRACES_EXPORTER": "none"}, preload=True)
        self.assertEqual(rc, 3)
        self.assertNotIn(b"relocating", err)
        self.assertTrue(err.endswith(b"warnx 1\nstderr line\n"), err)


if __name__ == "__main__":
    unittest.main()
