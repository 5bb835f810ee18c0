"""Every way out of a program ends and exports its root span, with the exit
code or the signal, and the program's own result is unchanged."""
import os
import pwd
import signal
import subprocess
import tempfile
import time
import unittest

from common import (EXIT_PATHS, Receiver, no_shells_under_tsan, no_threads_under_tsan, otlp_env,
                    preload_env, run, spans_named)


class ExitPaths(unittest.TestCase):
    def root_span(self, args, expect_rc, expect_out=b"", **env):
        with Receiver() as rcv:
            rc, out, err = run([EXIT_PATHS] + args, env=otlp_env(rcv, **env))
            self.assertEqual(rc, expect_rc)
            self.assertEqual(out, expect_out)
            self.assertEqual(err, b"")
            rcv.wait_requests(1, 10)
            spans = spans_named(rcv, "exit_paths")
            self.assertEqual(len(spans), 1, spans)
            return spans[0]

    def assert_code(self, span, code):
        self.assertEqual(span["attributes"]["process.exit.code"], code)
        if code == 0:
            self.assertNotEqual(span.get("status", {}).get("code"), 2)
        else:
            self.assertEqual(span["status"]["code"], 2)
            self.assertEqual(span["status"]["message"], "exit code %d" % code)

    def assert_signal(self, span, sig):
        a = span["attributes"]
        self.assertEqual(a["process.exit.signal"], sig)
        self.assertEqual(a["process.exit.code"], 128 + sig)
        self.assertEqual(span["status"]["code"], 2)
        self.assertIn("signal %d (%s)" % (sig, signal.Signals(sig).name), span["status"]["message"])

    def test_return_zero(self):
        self.assert_code(self.root_span(["return", "0"], 0), 0)

    def test_return_nonzero(self):
        self.assert_code(self.root_span(["return", "5"], 5), 5)

    def test_exit(self):
        self.assert_code(self.root_span(["exit", "3"], 3), 3)

    def test__exit(self):
        self.assert_code(self.root_span(["_exit", "4"], 4), 4)

    def test__Exit(self):
        self.assert_code(self.root_span(["_Exit", "6"], 6), 6)

    def test_quick_exit(self):
        self.assert_code(self.root_span(["quick_exit", "7"], 7), 7)

    @no_threads_under_tsan
    def test_exit_from_another_thread(self):
        self.assert_code(self.root_span(["thread-exit", "9"], 9), 9)

    def test_atexit_handlers_still_run(self):
        self.assert_code(self.root_span(["atexit-print", "0"], 0, b"atexit ran\n"), 0)

    def test_signals_terminate_as_without_shim(self):
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGPIPE,
                    signal.SIGUSR1, signal.SIGALRM):
            with self.subTest(sig=sig.name):
                self.assert_signal(self.root_span(["raise", str(int(sig))], -sig), sig)

    def test_kill(self):
        self.assert_signal(self.root_span(["kill", str(int(signal.SIGTERM))], -15), 15)

    def test_abort(self):
        self.assert_signal(self.root_span(["abort"], -signal.SIGABRT), signal.SIGABRT)

    def test_segv(self):
        self.assert_signal(self.root_span(["segv"], -signal.SIGSEGV), signal.SIGSEGV)

    def test_program_handler_wins(self):
        span = self.root_span(["own-handler", str(int(signal.SIGTERM))], 0, b"handled\n")
        self.assert_code(span, 0)
        self.assertNotIn("process.exit.signal", span["attributes"])

    def test_killed_from_outside(self):
        with Receiver() as rcv:
            env = preload_env(**otlp_env(rcv))
            p = subprocess.Popen([EXIT_PATHS, "sleep", "20000"], env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            # Bounded wait for the shim to catch SIGTERM (SigCgt): a sanitizer
            # runtime on a loaded machine takes far more than 0.1 s to start.
            for _ in range(1000):
                try:
                    with open("/proc/%d/status" % p.pid) as f:
                        cgt = [x for x in f.read().splitlines() if x.startswith("SigCgt:")]
                    if cgt and int(cgt[0].split()[1], 16) & (1 << (signal.SIGTERM - 1)):
                        break
                except OSError:
                    pass
                time.sleep(0.01)
            p.send_signal(signal.SIGTERM)
            out, err = p.communicate(timeout=30)
            self.assertEqual(p.returncode, -signal.SIGTERM)
            self.assertEqual((out, err), (b"", b""))
            rcv.wait_requests(1, 10)
            span = spans_named(rcv, "exit_paths")[0]
            self.assert_signal(span, signal.SIGTERM)
            self.assertEqual(span["attributes"]["process.pid"], p.pid)

    @no_shells_under_tsan
    def test_executable_as_proc_self_exe_says(self):
        """process.executable.* name the file the kernel runs, as the target
        of /proc/self/exe does, however it was started: by a symbolic link,
        by a relative name, or as a #! script (then the interpreter)."""
        real = os.path.realpath(EXIT_PATHS)
        with tempfile.TemporaryDirectory() as d:
            os.symlink(EXIT_PATHS, os.path.join(d, "link"))
            script = os.path.join(d, "script")
            with open(script, "w") as f:
                f.write("#!/bin/sh\nexit 0\n")
            os.chmod(script, 0o755)
            cases = [(["./link", "return", "0"], d, "link", real),
                     (["./exit_paths", "return", "0"], os.path.dirname(real), "exit_paths", real),
                     ([script], d, "sh", os.path.realpath("/bin/sh"))]
            for argv, cwd, name, path in cases:
                with self.subTest(argv=argv), Receiver() as rcv:
                    rc, _, _ = run(argv, env=otlp_env(rcv), cwd=cwd)
                    self.assertEqual(rc, 0)
                    rcv.wait_requests(1, 10)
                    (span,) = spans_named(rcv, name)
                    a = span["attributes"]
                    self.assertEqual(a["process.executable.path"], path)
                    self.assertEqual(a["process.executable.name"], os.path.basename(path))

    def test_process_attributes(self):
        span = self.root_span(["return", "0"], 0)
        a = span["attributes"]
        self.assertEqual(a["process.parent_pid"], os.getpid())
        self.assertGreater(a["process.pid"], 0)
        self.assertEqual(a["process.executable.name"], "exit_paths")
        self.assertEqual(a["process.executable.path"], os.path.realpath(EXIT_PATHS))
        self.assertEqual(a["process.command_args"], [EXIT_PATHS, "return", "0"])
        self.assertEqual(a["process.owner"], pwd.getpwuid(os.getuid()).pw_name)
        self.assertEqual(a["process.user.id"], os.getuid())
        for k in ("process.cpu.time.user", "process.cpu.time.system"):
            self.assertIsInstance(a[k], float)
            self.assertGreaterEqual(a[k], 0.0)
        self.assertGreater(a["process.memory.max_rss"], 0)
        for k in ("process.paging.faults.minor", "process.paging.faults.major",
                  "process.context_switches.voluntary", "process.context_switches.involuntary"):
            self.assertIsInstance(a[k], int)
            self.assertGreaterEqual(a[k], 0)
        self.assertGreater(a["process.paging.faults.minor"], 0)
        self.assertEqual(span["kind"], 1)  # SPAN_KIND_INTERNAL
        self.assertLessEqual(int(span["startTimeUnixNano"]), int(span["endTimeUnixNano"]))
        self.assertAlmostEqual(int(span["startTimeUnixNano"]) / 1e9, time.time(), delta=60)
        self.assertNotIn("parentSpanId", span)

    def test_dispositions_look_untouched(self):
        base = run([EXIT_PATHS, "dispositions"], preload=False)
        with Receiver() as rcv:
            rc, out, err = run([EXIT_PATHS, "dispositions"], env=otlp_env(rcv))
        self.assertEqual((rc, out, err), base)
        self.assertIn(b"15 default", out)
        self.assertIn(b"after default", out)

    def test_inherited_ignore_is_kept(self):
        # A signal ignored by the parent stays ignored: the shim leaves it.
        with Receiver() as rcv:
            env = preload_env(**otlp_env(rcv))
            p = subprocess.run([EXIT_PATHS, "raise", str(int(signal.SIGPIPE))], env=env,
                               capture_output=True, timeout=30,
                               preexec_fn=lambda: signal.signal(signal.SIGPIPE, signal.SIG_IGN))
            self.assertEqual(p.returncode, 2)  # raise returned; main fell through
            rcv.wait_requests(1, 10)
            self.assertNotIn("process.exit.signal", spans_named(rcv, "exit_paths")[0]["attributes"])


if __name__ == "__main__":
    unittest.main()
