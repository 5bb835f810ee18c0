"""Crash capture (docs/CRASH.md): every fatal signal leaves a FATAL
`exception` log record with the stack, and the exception on the crashing
thread's span and the root span; the program dies exactly as it would
without the shim, and its own handlers still decide. The records are
decoded by the official OpenTelemetry protobuf definitions
(tests/interop/decode.js)."""
import os
import re
import resource
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

from common import PROGS, Receiver, batches, free_port, no_threads_under_tsan, otlp_env, preload_env, run

CRASH = os.path.join(PROGS, "crash")
CRASH_CXX = os.path.join(PROGS, "crash_cxx")
SANITIZE = os.environ.get("OTELP_SANITIZE", "none")
LINE = re.compile(r"^#(\d+) 0x([0-9a-f]{16}) (\S+) \((.*)\+0x([0-9a-f]+)\)( build-id [0-9a-f]+)?$|"
                  r"^#(\d+) 0x([0-9a-f]{16}) (\S+) \(unmapped\)$")

def crash_logs(rcv, decoded=None):
    return [r for r in rcv.logs(decoded) if r.get("eventName") == "exception"]


def exception_events(span):
    return [e for e in span.get("events", []) if e["name"] == "exception"]


def frames(stack):
    out = []
    for line in stack.splitlines():
        m = LINE.match(line)
        assert m, "bad stack line %r" % line
        out.append(m.group(3) or m.group(9))
    return out


class Crash(unittest.TestCase):
    def crash(self, args, prog=CRASH, expect=None, rcv_args=None, requests=2, **env):
        """Runs prog args with and without the shim: same status, output
        (pids aside); returns (returncode, stdout, stderr, logs, spans,
        seconds)."""
        base = run([prog] + args, preload=False)
        # The default budget (500 ms) is test_collector_down_is_bounded's:
        # here a loaded machine (a sanitizer build at load 40) must not turn
        # the spans' request into a spooled batch the receiver never gets.
        env.setdefault("OTEL_PRELOAD_CRASH_TIMEOUT", "5000")
        with Receiver(**(rcv_args or {})) as rcv:
            start = time.monotonic()
            rc, out, err = run([prog] + args, env=otlp_env(rcv, **env))
            took = time.monotonic() - start
            pids = re.compile(rb"pid \d+")
            self.assertEqual((rc, pids.sub(b"pid", out), err), (base[0], pids.sub(b"pid", base[1]), base[2]))
            if expect is not None:
                self.assertEqual(rc, expect)
            rcv.wait_requests(requests, 10)
            # The log record and the spans travel on two connections: wait
            # (bounded) for the record too.
            for _ in range(20):
                decoded = rcv.decoded()
                logs = crash_logs(rcv, decoded)
                if logs:
                    break
                time.sleep(0.25)
            return rc, out, err, logs, rcv.spans(decoded), took

    def one_record(self, logs):
        self.assertEqual(len(logs), 1, logs)
        r = logs[0]
        self.assertEqual(r["severityNumber"], 21)
        self.assertEqual(r["severityText"], "FATAL")
        return r["attributes"]

    def root(self, spans, name="crash"):
        (root,) = [s for s in spans if s["name"] == name]
        return root

    def test_every_signal(self):
        cases = [("segv", signal.SIGSEGV, r"^Segmentation fault: address 0x0 not mapped \(SEGV_MAPERR\)$"),
                 ("bus", signal.SIGBUS, r"^Bus error: address 0x[0-9a-f]+ .*\(BUS_ADRERR\)$"),
                 ("ill", signal.SIGILL, r"^Illegal instruction: at 0x[0-9a-f]+ .*\(ILL_\w+\)$"),
                 ("fpe", signal.SIGFPE, r"^Floating point exception: at 0x[0-9a-f]+ integer divide by zero \(FPE_INTDIV\)$"),
                 ("abort", signal.SIGABRT, r"^Aborted: sent by tkill from pid \d+ \(SI_TKILL\)$"),
                 ("trap", signal.SIGTRAP, r"^Trace/breakpoint trap: .*\(SI_KERNEL\)$"),
                 ("sys", signal.SIGSYS, r"^Bad system call: sent by tkill .*\(SI_TKILL\)$"),
                 ("kill-segv", signal.SIGSEGV, r"^Segmentation fault: sent by kill from pid \d+ \(SI_USER\)$")]
        for mode, sig, message in cases:
            with self.subTest(mode=mode):
                _, _, _, logs, spans, _ = self.crash([mode], expect=-sig)
                a = self.one_record(logs)
                self.assertEqual(a["exception.type"], sig.name)
                self.assertRegex(a["exception.message"], message)
                self.assertEqual(logs[0]["body"], a["exception.message"])
                self.assertEqual(a["signal.number"], int(sig))
                self.assertEqual(a["thread.name"], "crash")
                self.assertIn("crash_here", [n.split("+")[0] for n in frames(a["exception.stacktrace"])])
                root = self.root(spans)
                self.assertEqual(root["status"]["code"], 2)
                self.assertEqual(root["attributes"]["process.exit.signal"], int(sig))
                self.assertEqual(a["thread.id"], root["attributes"]["process.pid"])
                self.assertEqual(logs[0]["traceId"], root["traceId"])
                self.assertEqual(logs[0]["spanId"], root["spanId"])
                (ev,) = exception_events(root)
                for k in ("exception.type", "exception.message", "exception.stacktrace"):
                    self.assertEqual(ev["attributes"][k], a[k])
                if sig in (signal.SIGSEGV, signal.SIGBUS) and mode != "kill-segv":
                    self.assertRegex(a["signal.fault.address"], r"^0x[0-9a-f]+$")

    def test_frames_name_the_program_functions_in_order(self):
        _, _, _, logs, _, _ = self.crash(["segv"], expect=-signal.SIGSEGV)
        a = self.one_record(logs)
        self.assertEqual(a["exception.unwinder"], "libunwind")
        lines = a["exception.stacktrace"].splitlines()
        names = frames(a["exception.stacktrace"])
        self.assertEqual([n.split("+")[0] for n in names[:4]], ["crash_here", "level2", "level1", "main"])
        self.assertEqual([int(LINE.match(x).group(1)) for x in lines], list(range(len(lines))))
        # Offline: the module's file offset and build-id are enough.
        m = LINE.match(lines[0])
        self.assertEqual(os.path.realpath(m.group(4)), os.path.realpath(CRASH))
        out = subprocess.run(["readelf", "-n", CRASH], capture_output=True, text=True).stdout
        build_id = re.search(r"Build ID: ([0-9a-f]+)", out).group(1)
        self.assertEqual(m.group(6), " build-id " + build_id)
        sym = subprocess.run(["addr2line", "-f", "-e", CRASH, "0x" + m.group(5)],
                             capture_output=True, text=True).stdout.split()
        self.assertEqual(sym[0], "crash_here")
        self.assertIn("crash.c:", sym[1])

    @no_threads_under_tsan
    def test_crash_on_a_thread(self):
        for mode in ("thread-segv", "thread-overflow"):
            with self.subTest(mode=mode):
                _, _, _, logs, spans, _ = self.crash([mode], expect=-signal.SIGSEGV)
                a = self.one_record(logs)
                (th,) = [s for s in spans if s["name"] == "thread"]
                self.assertEqual(a["thread.id"], th["attributes"]["thread.id"])
                self.assertEqual(logs[0]["spanId"], th["spanId"])
                self.assertEqual(th["status"]["code"], 2)
                self.assertEqual(th["status"]["message"], a["exception.message"])
                self.assertEqual(len(exception_events(th)), 1)
                self.assertEqual(len(exception_events(self.root(spans))), 1)
                names = frames(a["exception.stacktrace"])
                if mode == "thread-segv":
                    self.assertEqual([n.split("+")[0] for n in names[:4]],
                                     ["crash_here", "level2", "level1", "thread_main"])
                else:
                    self.assertTrue(all(n.startswith("recurse+") for n in names), names[:5])

    def test_stack_overflow_on_main(self):
        _, _, _, logs, _, _ = self.crash(["overflow"], expect=-signal.SIGSEGV)
        names = frames(self.one_record(logs)["exception.stacktrace"])
        self.assertEqual(len(names), 128)
        self.assertTrue(all(n.startswith("recurse+") for n in names), names[:5])

    @unittest.skipIf(SANITIZE != "none", "sanitizer runtimes replace malloc: no glibc heap lock to hold")
    def test_crash_inside_malloc_with_the_heap_lock_held(self):
        _, _, _, logs, spans, took = self.crash(["malloc"], expect=-signal.SIGSEGV)
        names = frames(self.one_record(logs)["exception.stacktrace"])
        self.assertTrue(names[0].startswith("faulting_write+"), names)
        self.assertEqual(len(exception_events(self.root(spans))), 1)

    @no_threads_under_tsan
    def test_crash_while_the_worker_exports(self):
        # The collector takes 400 ms per request; the worker is sending
        # thread spans when the program crashes.
        _, _, _, logs, spans, took = self.crash(
            ["busy-segv"], expect=-signal.SIGSEGV, rcv_args={"delay_ms": 400},
            OTEL_BSP_SCHEDULE_DELAY="10",
            OTEL_PRELOAD_CRASH_TIMEOUT="2000")
        self.one_record(logs)
        self.assertEqual(len(exception_events(self.root(spans))), 1)

    def test_collector_down_is_bounded(self):
        for how, env in (("refused", {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:%d" % free_port()}),
                         ("silent", None)):
            with self.subTest(collector=how):
                base = run([CRASH, "segv"], preload=False)
                spool = tempfile.mkdtemp(prefix="otelp-crash-spool.")
                with Receiver(silent=True) as rcv:
                    e = env or otlp_env(rcv)
                    e["OTEL_PRELOAD_CRASH_TIMEOUT"] = "400"
                    e["OTEL_PRELOAD_SPOOL_DIR"] = os.path.join(spool, "s")
                    start = time.monotonic()
                    got = run([CRASH, "segv"], env=e)
                    took = time.monotonic() - start
                self.assertEqual(got, base)
                # The crash budget bounds the capture and the flush.
                self.assertLess(took, 3.0)
                found = batches(os.path.join(spool, "s"))
                shutil.rmtree(spool, ignore_errors=True)
                if how == "silent":
                    continue  # what is still in an export when the budget ends is lost
                # A collector that is down: the spool (docs/SPOOL.md) has the
                # FATAL record and the root span, to be delivered later.
                records = {}
                for _, h, _ in found:
                    records[h["signal"]] = records.get(h["signal"], 0) + int(h["records"])
                self.assertGreaterEqual(records.get("traces", 0), 1, found)
                self.assertGreaterEqual(records.get("logs", 0), 1, found)

    def test_own_handler_exits(self):
        rc, out, _, logs, spans, _ = self.crash(["handler-exit"], expect=3)
        self.assertEqual(out, b"handled\n")
        self.assertEqual(self.one_record(logs)["exception.type"], "SIGSEGV")
        root = self.root(spans)
        self.assertEqual(root["attributes"]["process.exit.code"], 3)
        self.assertEqual(len(exception_events(root)), 1)

    def test_own_handler_siglongjmps_out(self):
        rc, out, _, logs, spans, _ = self.crash(["handler-longjmp"], expect=0)
        self.assertEqual(out, b"recovered\n")
        self.one_record(logs)
        root = self.root(spans)
        self.assertEqual(root["attributes"]["process.exit.code"], 0)
        self.assertEqual(len(exception_events(root)), 1)

    def test_own_handler_returns_to_refault(self):
        rc, out, _, logs, spans, _ = self.crash(["handler-refault"], expect=-signal.SIGSEGV)
        self.assertEqual(out, b"handled\n")
        self.one_record(logs)  # once, though the program faulted twice
        root = self.root(spans)
        self.assertEqual(root["attributes"]["process.exit.signal"], signal.SIGSEGV)
        self.assertEqual(len(exception_events(root)), 1)

    @unittest.skipIf(SANITIZE == "thread", "TSan installs its own wrapper as the program's handler: "
                     "the runtime's library cannot be seen behind it")
    def test_managed_runtime_resolves_its_own_faults(self):
        # A handler in a library named libjvm.so goes first: the faults it
        # resumes from are no crash (no record, no exception event).
        lib = os.path.join(PROGS, "libjvm.so")
        rc, out, _, logs, spans, _ = self.crash(["runtime", lib, "50"], expect=0, requests=1)
        self.assertEqual(out, b"resumed 50\n")
        self.assertEqual(logs, [])
        root = self.root(spans)
        self.assertEqual(exception_events(root), [])
        self.assertEqual(root["attributes"]["process.exit.code"], 0)

    def test_managed_runtime_gives_up(self):
        # The fault it does not resolve (the default put back, the fault
        # again) is a crash: recorded once, the same death.
        lib = os.path.join(PROGS, "libjvm.so")
        _, out, _, logs, spans, _ = self.crash(["runtime", lib, "5", "crash"],
                                               expect=-signal.SIGSEGV)
        self.assertEqual(out, b"resumed 5\n")
        self.assertEqual(self.one_record(logs)["exception.type"], "SIGSEGV")
        self.assertEqual(len(exception_events(self.root(spans))), 1)

    def test_double_fault_in_own_handler(self):
        # The program's handler faults: the kernel kills as without the
        # shim; the record made before the handler ran is out.
        _, _, _, logs, _, _ = self.crash(["handler-fault"], expect=-signal.SIGSEGV, requests=1)
        self.one_record(logs)

    def test_kill_sent_siginfo_reaches_own_handler(self):
        _, out, _, logs, _, _ = self.crash(["siginfo"], expect=0)
        self.assertRegex(out, rb"^code 0 pid \d+\n$")
        self.assertEqual(self.one_record(logs)["signal.code"], 0)

    def test_assert(self):
        _, _, err, logs, spans, _ = self.crash(["assert"], expect=-signal.SIGABRT)
        self.assertIn(b"Assertion `zero == 1", err)
        a = self.one_record(logs)
        self.assertEqual(a["exception.type"], "assertion")
        self.assertRegex(a["exception.message"],
                         r"crash\.c:\d+: crash_here: Assertion `zero == 1 && \"the answer\"' failed\.$")
        self.assertTrue(a["code.file.path"].endswith("crash.c"))
        self.assertGreater(a["code.line.number"], 0)
        self.assertEqual(a["code.function.name"], "crash_here")
        self.assertEqual(exception_events(self.root(spans))[0]["attributes"]["exception.type"],
                         "assertion")

    def test_uncaught_cxx_exception(self):
        if not os.path.exists(CRASH_CXX):
            self.skipTest("no C++ compiler at build time")
        for arg, typ, msg in (("std", "std::out_of_range", "index 7 past the end"),
                              ("own", "not_std", "uncaught exception")):
            with self.subTest(arg=arg):
                _, _, err, logs, spans, _ = self.crash([arg], prog=CRASH_CXX, expect=-signal.SIGABRT)
                a = self.one_record(logs)
                self.assertEqual((a["exception.type"], a["exception.message"]), (typ, msg))
                self.assertIn("throw_it", " ".join(frames(a["exception.stacktrace"])))
                root = self.root(spans, "crash_cxx")
                self.assertEqual(exception_events(root)[0]["attributes"]["exception.type"], typ)

    def test_span_events_can_be_switched_off(self):
        _, _, _, logs, spans, _ = self.crash(["segv"], expect=-signal.SIGSEGV,
                                             OTEL_PRELOAD_CRASH_SPAN_EVENTS="false")
        self.one_record(logs)
        self.assertEqual(exception_events(self.root(spans)), [])

    def core_site(self, preload, d):
        """Runs crash segv in d with core dumps on; the top frames gdb shows
        in the core."""
        def limits():
            resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        env = preload_env() if preload else {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
        with Receiver() as rcv:
            env.update(otlp_env(rcv))
            p = subprocess.run([CRASH, "segv"], cwd=d, env=env, preexec_fn=limits,
                               capture_output=True, timeout=60)
        self.assertEqual(p.returncode, -signal.SIGSEGV)
        cores = [f for f in os.listdir(d) if f.startswith("core")]
        if not cores:
            self.skipTest("no core file was written (core dumps off here)")
        bt = subprocess.run(["gdb", "-batch", "-nx", "-ex", "bt 4", CRASH, os.path.join(d, cores[0])],
                            capture_output=True, text=True, timeout=120).stdout
        return re.findall(r"^#\d+\s+(?:0x[0-9a-f]+ in )?(\w+)", bt, re.M), bt

    @unittest.skipIf(SANITIZE != "none", "sanitizer runtimes turn core dumps off")
    def test_core_dump_and_crash_site_unchanged(self):
        with open("/proc/sys/kernel/core_pattern") as f:
            pattern = f.read().strip()
        if pattern.startswith("|") or "/" in pattern:
            self.skipTest("core_pattern %r is not a file in the working directory" % pattern)
        if not shutil.which("gdb"):
            self.skipTest("no gdb")
        with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
            plain, _ = self.core_site(False, a)
            shim, bt = self.core_site(True, b)
        self.assertEqual(shim[0], "crash_here", bt)
        self.assertEqual(shim, plain)

    def test_pid_1_in_a_pid_namespace_ends_too(self):
        if not shutil.which("unshare") or subprocess.run(["unshare", "-pf", "true"]).returncode:
            self.skipTest("cannot make a PID namespace here")
        for mode in ("segv", "abort", "kill-segv"):
            with self.subTest(mode=mode):
                base = run(["unshare", "-pf", CRASH, mode], preload=False, timeout=60)
                with Receiver() as rcv:
                    got = run(["unshare", "-pf", "env", "LD_PRELOAD=" + preload_env()["LD_PRELOAD"],
                               CRASH, mode], env=otlp_env(rcv), preload=False, timeout=60)
                self.assertEqual(got, base)


if __name__ == "__main__":
    unittest.main()
