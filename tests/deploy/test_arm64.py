"""arm64: the shims cross-built for aarch64 (cmake/aarch64-linux-gnu.cmake,
Debian's gcc-aarch64-linux-gnu and aarch64-linux-musl-gcc) trace aarch64
programs run under qemu-user (qemu-aarch64-static) into the test receiver
on loopback: the root span with its arguments and exit code, a tree of
aarch64 programs started by posix_spawn, fork+exec and vfork+exec in one
trace, a thread's span, logging calls as log records, a crash; the output
bytes as without the shim. The glibc shim keeps the GLIBC_2.17 floor
(aarch64's oldest glibc).

In the native build this test configures and builds the cross tree first
(<build>/arm64: the shims and three programs only, a minute or two on two
cores, incremental afterwards); in a cross build tree (ctest there) it uses
that tree. binfmt_misc may not run aarch64 programs here, so the programs
start their aarch64 children through qemu (LIBC_PROBE_EXEC_VIA)."""
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

from common import SANITIZED, Receiver  # noqa: E402

BUILD = os.environ.get("OTELP_BUILD_DIR", "")
# Set in a cross build's own ctest: that tree, already built.
CROSS = os.environ.get("OTELP_ARM64_BUILD_DIR", "")
ARM64 = CROSS or os.path.join(BUILD, "arm64")
QEMU = shutil.which("qemu-aarch64-static") or shutil.which("qemu-aarch64")
LIB = os.path.join(ARM64, "libotelpreload.so")
MUSL_LIB = os.path.join(ARM64, "libotelpreload-musl.so")
PROBE = os.path.join(ARM64, "tests", "deploy", "libc_probe")
MUSL_PROBE = os.path.join(ARM64, "tests", "deploy", "libc_probe_musl")
CRASH = os.path.join(ARM64, "tests", "integration", "crash")
# What the native build's test builds of the cross tree.
TARGETS = ["otelpreload", "libc_probe", "crash"]
MUSL_TARGETS = ["otelpreload-musl", "deploy_musl_progs"]


def build_cross_tree():
    """Configures and builds the aarch64 tree (bounded); returns an error
    message, or None."""
    def step(cmd, timeout):
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                           stdin=subprocess.DEVNULL)
        if p.returncode != 0:
            return "%s failed:\n%s%s" % (" ".join(cmd), p.stdout[-3000:], p.stderr[-3000:])
        return None
    # Release without debug information: the quickest build the tests need
    # (the crash program has its own -g).
    err = step(["cmake", "-S", SOURCE, "-B", ARM64,
                "-DCMAKE_TOOLCHAIN_FILE=" + os.path.join(SOURCE, "cmake", "aarch64-linux-gnu.cmake"),
                "-DCMAKE_BUILD_TYPE=Release", "-DCMAKE_C_FLAGS_RELEASE=-O2",
                "-DOTELP_TEST_DIRS=integration"], 300)
    if err:
        return err
    targets = TARGETS + (MUSL_TARGETS if shutil.which("aarch64-linux-musl-gcc") else [])
    return step(["cmake", "--build", ARM64, "-j2", "--target"] + targets, 900)


def setUpModule():
    if SANITIZED and not CROSS:
        raise unittest.SkipTest("the cross build does not depend on the sanitizer: left to the other builds")
    if not QEMU:
        raise unittest.SkipTest("qemu-user-static not installed (scripts/setup --tests)")
    if not CROSS:
        if not shutil.which("aarch64-linux-gnu-gcc"):
            raise unittest.SkipTest("gcc-aarch64-linux-gnu not installed (scripts/setup --tests)")
        err = build_cross_tree()
        if err:
            raise AssertionError(err)


def run(cmd, env):
    """cmd under qemu with os.environ plus env (no LD_PRELOAD unless
    given); (rc, stdout, stderr)."""
    full = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "QEMU_LD_PREFIX")}
    full["LIBC_PROBE_EXEC_VIA"] = QEMU
    full.update(env)
    p = subprocess.run([QEMU] + cmd, env=full, capture_output=True, timeout=120,
                       stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout, p.stderr


# The probe's "x" run starts /bin/sh (this machine's, x86-64): its loader
# reports the aarch64 shim in LD_PRELOAD on stderr, and ignores it.
LOADER_NOISE = re.compile(rb"^ERROR: ld\.so: object .* from LD_PRELOAD cannot be preloaded.*\n", re.M)


class Arm64(unittest.TestCase):
    def tree(self, lib, probe):
        with Receiver() as rcv:
            rc, out, err = run([probe, "tree"], {"LD_PRELOAD": lib, "OTEL_SERVICE_NAME": "arm-app",
                                                 "OTEL_EXPORTER_OTLP_ENDPOINT": rcv.endpoint})
            self.assertEqual((rc, out, err), (0, b"tree 15\n", b""))
            time.sleep(0.2)
            spans = rcv.spans()
        # (on failure: which spans went into which trace)
        self.assertEqual(len({s["traceId"] for s in spans}), 1,
                         sorted((s["traceId"], s["name"], s.get("parentSpanId", "")) for s in spans))
        (top,) = [s for s in spans if "parentSpanId" not in s]
        self.assertEqual(top["attributes"]["process.command_args"], [probe, "tree"])
        self.assertEqual(top["resource"]["service.name"], "arm-app")
        self.assertEqual(top["resource"]["host.arch"], "arm64")
        events = [e["name"] for e in top["events"]]
        self.assertIn("process.spawn", events)
        self.assertIn("process.fork", events)
        leaves = sorted((s["attributes"]["process.command_args"][1:],
                         s["attributes"]["process.exit.code"])
                        for s in spans if s.get("parentSpanId") == top["spanId"])
        self.assertEqual(leaves, [(["leaf", "4"], 4), (["leaf", "5"], 5), (["leaf", "6"], 6)])
        for s in spans:
            self.assertEqual(s["resource"]["host.arch"], "arm64")

    def root_threads_and_logs(self, lib, probe):
        name = os.path.basename(probe)
        with Receiver() as rcv:
            env = {"OTEL_EXPORTER_OTLP_ENDPOINT": rcv.endpoint}
            plain = run([probe, "x"], env)
            rc, out, err = run([probe, "x"], dict(env, LD_PRELOAD=lib))
            time.sleep(0.2)
            spans = rcv.spans()
            logs = rcv.logs()
        self.assertEqual((rc, out, LOADER_NOISE.sub(b"", err)), plain)  # same bytes, exit code 3
        self.assertEqual(rc, 3)
        (top,) = [s for s in spans if s["name"] == name and "parentSpanId" not in s]
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

    def test_abi_floor(self):
        p = subprocess.run(["sh", os.path.join(HERE, "check_abi.sh"), LIB], capture_output=True,
                           text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        out = subprocess.run(["readelf", "-h", LIB], capture_output=True, text=True).stdout
        self.assertRegex(out, r"Machine:\s+AArch64")

    def test_glibc_tree(self):
        self.tree(LIB, PROBE)

    def test_glibc_root_threads_and_logs(self):
        self.root_threads_and_logs(LIB, PROBE)

    def test_glibc_crash(self):
        # qemu-user refuses the crash handler's copy process (a clone with
        # no exit signal: EINVAL) and has no process_vm_readv (ENOSYS): the
        # handler's own fallback records the exception on the span, with
        # the faulting address as the only frame, and no log record
        # (docs/DEPLOY.md). The program dies the same.
        with Receiver() as rcv:
            plain = run([CRASH, "segv"], {})
            rc, out, err = run([CRASH, "segv"], {"LD_PRELOAD": LIB,
                                                 "OTEL_EXPORTER_OTLP_ENDPOINT": rcv.endpoint})
            self.assertEqual((rc, out, err), plain)
            self.assertEqual(rc, -signal.SIGSEGV)
            rcv.wait_requests(1, 10)
            spans = rcv.spans()
        (root,) = [s for s in spans if s["name"] == "crash"]
        self.assertEqual(root["attributes"]["process.exit.signal"], int(signal.SIGSEGV))
        self.assertEqual(root["status"]["code"], 2)
        (ev,) = [e for e in root["events"] if e["name"] == "exception"]
        self.assertEqual(ev["attributes"]["exception.type"], "SIGSEGV")
        self.assertEqual(ev["attributes"]["exception.message"],
                         "Segmentation fault: address 0x0 not mapped (SEGV_MAPERR)")
        self.assertRegex(ev["attributes"]["exception.stacktrace"], r"^#0 0x[0-9a-f]{16} ")

    def musl(self):
        if not os.path.isfile(MUSL_LIB) or not os.path.isfile(MUSL_PROBE):
            self.skipTest("musl-dev:arm64 not installed (scripts/setup --tests)")

    def test_musl_tree(self):
        self.musl()
        self.tree(MUSL_LIB, MUSL_PROBE)

    def test_musl_root_threads_and_logs(self):
        self.musl()
        self.root_threads_and_logs(MUSL_LIB, MUSL_PROBE)


if __name__ == "__main__":
    unittest.main()
