"""Transparency: real programs give byte-identical stdout, stderr and exit
status with and without the shim, while it exports every root span to a
live receiver (and with the collector down)."""
import os
import shutil
import tempfile
import unittest

from common import PROGS, SANITIZED, Receiver, no_shells_under_tsan, otlp_env, run, spans_named

PY = "/usr/bin/python3"

PROGRAMS = [
    ["sh", "-c", "ls / | wc -l"],
    ["sh", "-c", "echo out; echo err >&2; exit 3"],
    ["sh", "-c", "printf 'b\\na\\nb\\n' | sort | uniq -c"],
    ["sh", "-c", "yes | head -n 3"],
    ["sh", "-c", "echo data | gzip -c | gzip -dc"],
    ["sh", "-c", "kill -TERM $$"],
    ["sh", "-c", "trap 'echo trapped' TERM; kill -TERM $$; echo after"],
    ["sh", "-c", "(exit 7); echo sub=$?; false || echo no"],
    ["ls", "-l", "/etc/hostname", "/nonexistent"],
    ["cat", "/etc/os-release"],
    ["grep", "-c", "root", "/etc/passwd"],
    ["awk", "BEGIN { for (i = 0; i < 5; i++) s += i; print s; exit 4 }"],
    ["sed", "-n", "1p", "/etc/passwd"],
    ["date", "-u", "-d", "@0"],
    # execvp of a name of PATH_MAX - 2 bytes through an empty PATH element: the
    # shim's PATH search wrote a byte past its buffer (ASan builds see it)
    ["env", "PATH=:/usr/bin:/bin", "a" * 4094],
    # Children get the trace context carriers (by design); the rest is equal.
    ["env", "-u", "LD_PRELOAD", "sh", "-c",
     "env | grep -v -e '^_=' -e '^TRACEPARENT=' -e '^TRACESTATE=' -e '^BAGGAGE=' | sort"],
    [PY, "-c", "import sys, signal; print(sum(range(10**5)), signal.getsignal(signal.SIGTERM), "
               "signal.getsignal(signal.SIGPIPE)); sys.stderr.write('e\\n'); sys.exit(4)"],
    [PY, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGINT)"],
    [PY, "-c", "import subprocess; print(subprocess.run(['true']).returncode)"],
    ["perl", "-e", "print 'x' x 10, qq(\\n); warn qq(w\\n); exit 5"],
    ["perl", "-e", "$SIG{TERM} = sub { print qq(perl trapped\\n); exit 0 }; kill 'TERM', $$; sleep 1"],
]


def baseline(cmd, env=None):
    return run(cmd, env=env, preload=False, timeout=60)


@no_shells_under_tsan
class Transparency(unittest.TestCase):
    def check_all(self, extra_env):
        for cmd in PROGRAMS:
            if not shutil.which(cmd[0]):
                continue
            with self.subTest(cmd=" ".join(cmd)):
                want = baseline(cmd, extra_env)
                got = run(cmd, env=extra_env, timeout=60)
                self.assertEqual(got, want)

    def test_exporting_to_a_receiver(self):
        with Receiver() as rcv:
            self.check_all(otlp_env(rcv))
            # Every program (and each one it started) exported its root span.
            rcv.wait_requests(len(PROGRAMS), 20)
            names = {s["name"] for s in rcv.spans()}
            for want in ("sh", "ls", "cat", "grep", "awk", "sed", "date", "perl", "python3", "sort"):
                self.assertIn(want, names)

    def test_collector_down(self):
        s = __import__("socket").socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        self.check_all({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:%d" % port})

    def test_disabled(self):
        self.check_all({"OTEL_SDK_DISABLED": "true"})

    def test_descriptors(self):
        # A child inherits no descriptor of ours, and the program's own
        # descriptor numbers are untouched: the shim keeps its sockets at 900
        # and above, close-on-exec.
        cmd = ["sh", "-c", "ls /proc/self/fd; ls /proc/$$/fd"]
        keep = lambda out: b"".join(l + b"\n" for l in out.split(b"\n") if l and int(l) < 900)
        want = baseline(cmd)
        with Receiver() as rcv:
            got = run(cmd, env=otlp_env(rcv))
        self.assertEqual((got[0], keep(got[1]), got[2]), (want[0], keep(want[1]), want[2]))
        self.assertEqual(got[1].split(b"\n")[:4], want[1].split(b"\n")[:4])  # the child's

    @unittest.skipIf(SANITIZED, "a sanitizer runtime in LD_PRELOAD replaces the program's malloc")
    def test_heap_untouched_before_main(self):
        # A program's heap at main is what it is without the shim, exporting
        # traces and logs (to a receiver, headers configured) or not: the
        # shim's start-up objects come from its own reserve (core/pool.h).
        cmd = [os.path.join(PROGS, "heap_probe")]
        want = baseline(cmd)
        self.assertTrue(want[1].startswith(b"at main: arena 0 mmap 0\n"), want)
        with Receiver() as rcv:
            for extra in ({}, {"OTEL_LOGS_EXPORTER": "otlp"},
                          {"OTEL_EXPORTER_OTLP_HEADERS": "x-team=build,x-run=42"}):
                with self.subTest(env=extra):
                    self.assertEqual(run(cmd, env=otlp_env(rcv, **extra)), want)
            rcv.wait_requests(3, 20)
            self.assertEqual(len(spans_named(rcv, "heap_probe")), 3)

    def test_files_written_are_identical(self):
        with tempfile.TemporaryDirectory() as d:
            script = "seq 1 1000 > %s/a; sort -r %s/a | head -5 > %s/b; cat %s/b" % (d, d, d, d)
            want = baseline(["sh", "-c", script])
            with Receiver() as rcv:
                got = run(["sh", "-c", script], env=otlp_env(rcv))
            self.assertEqual(got, want)


if __name__ == "__main__":
    unittest.main()
