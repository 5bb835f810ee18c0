"""Fault injection into the shim's own calls (issue 17 item 16, SAFETY.md 2):
libfaults.so (progs/faults.c), preloaded in front of the shim, makes the
N-th allocation, open, socket, connect, mmap, thread start, write or clock
read that the shim makes fail (in every process of the run), for N = 1, 2, ... until no
process makes an N-th such call. A pipeline, a threaded program that logs
and forks, a forking server and a logging program keep their exit code and
their stdout and stderr bytes, end within the bound, and never deliver a
span twice.

Every N up to 16, then every 4th up to 64, then every 16th (the whole
sweep, every N: OTELP_FAULT_EVERY_N=1). Skipped in sanitizer builds (the
fault library's allocator is the C library's, not the sanitizer's)."""
import collections
import os
import subprocess
import tempfile
import unittest

from common import PROGS, SANITIZED, Receiver, run, no_shells_under_tsan

FAULTS_LIB = os.path.join(PROGS, "libfaults.so")
FAMILIES = ["alloc", "open", "socket", "connect", "mmap", "thread", "write", "clock"]
PROGRAMS = {
    "pipeline": ["sh", "-c", "seq 1 3000 | sort -rn | head -n 3; echo end; ls /nonexistent"],
    "threads": [os.path.join(PROGS, "vg_threads"), "4"],
    "server": [os.path.join(PROGS, "fork_server"), "3"],
    "logging": [os.path.join(PROGS, "logging"), "errwarn"],
}
EVERY_N = os.environ.get("OTELP_FAULT_EVERY_N") == "1"
BOUND_S = 30  # a run's wall-clock bound (the default shutdown budget is 5 s)


def next_n(n):
    if EVERY_N or n < 16:
        return n + 1
    return n + 4 if n < 64 else n + 16


def skip_ranges(lib):
    """A coverage build's libgcov, linked into the shim: its calls are
    not the shim's (nm: LO-HI of each gcov function)."""
    try:
        out = subprocess.run(["nm", "-S", "--defined-only", lib], capture_output=True,
                             check=True, timeout=30).stdout.decode()
    except (OSError, subprocess.SubprocessError):
        return ""
    ranges = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[2] in "tT" and "gcov" in parts[3]:
            lo, size = int(parts[0], 16), int(parts[1], 16)
            ranges.append("%x-%x" % (lo, lo + size))
    return ",".join(ranges[:256])


@unittest.skipIf(SANITIZED, "the fault library's allocator is not the sanitizer's")
@no_shells_under_tsan
class Faults(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.skip = skip_ranges(os.environ["OTELP_LIB"])
        cls.reached = {}  # (program, family) -> the largest N a process reached

    def run_faulty(self, cmd, env, family, n, log):
        prefix = os.environ.get("OTELP_PRELOAD_PREFIX", "").strip()
        preload = " ".join(x for x in (prefix, FAULTS_LIB, os.environ["OTELP_LIB"]) if x)
        full = dict(env, OTELP_FAULT="%s:%d" % (family, n), OTELP_FAULT_LOG=log,
                    OTELP_FAULT_SKIP=self.skip, GCOV_ERROR_FILE="/dev/null")
        # env(1) sets LD_PRELOAD (the harness's run() would set its own).
        return run(["env", "LD_PRELOAD=" + preload] + cmd, env=full, preload=False,
                   timeout=BOUND_S)

    def sweep(self, name):
        cmd = PROGRAMS[name]
        base = run(cmd, preload=False)
        with tempfile.TemporaryDirectory() as d:
            for family in FAMILIES:
                # One receiver per sweep: span ids are random, so one seen
                # twice was sent twice.
                with Receiver() as rcv:
                    # A short schedule delay: the export thread (and a
                    # parent's relay thread) start in these short programs.
                    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": rcv.endpoint,
                           "OTEL_SERVICE_NAME": "faults", "OTEL_BSP_SCHEDULE_DELAY": "10",
                           "OTEL_BLRP_SCHEDULE_DELAY": "10"}
                    n = 1
                    while True:
                        log = os.path.join(d, "%s.%d" % (family, n))
                        got = self.run_faulty(cmd, env, family, n, log)
                        self.assertEqual(got, base, "%s, %s call %d failing" % (name, family, n))
                        if not os.path.exists(log):
                            break  # no process made an N-th such call
                        self.reached[(name, family)] = n
                        n = next_n(n)
                        if n > 4096:
                            self.fail("%s: over 4096 %s calls" % (name, family))
                    ids = collections.Counter(s["spanId"] for s in rcv.spans())
                    self.assertEqual([i for i, c in ids.items() if c > 1], [],
                                     "%s, %s calls failing: a span twice" % (name, family))
        # The shim was there to fail: every program allocates and opens.
        self.assertGreater(self.reached.get((name, "alloc"), 0), 0, name)

    def test_pipeline(self):
        self.sweep("pipeline")

    def test_threaded_program(self):
        self.sweep("threads")

    def test_forking_server(self):
        self.sweep("server")

    def test_logging_program(self):
        self.sweep("logging")

    @classmethod
    def tearDownClass(cls):
        for (name, family), n in sorted(cls.reached.items()):
            print("faults: %s: %s calls failed up to N=%d" % (name, family, n))


if __name__ == "__main__":
    unittest.main()
