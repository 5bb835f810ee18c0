"""Process trees and threads: one trace whose shape is the real process
tree. Every way of starting a program or thread lands in the parent's
trace, with carriers in the child's environment only, no redundant fork
spans, every parent present and no duplicate span ids."""
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest

from common import (PROGS, SANITIZED, Receiver, no_shells_under_tsan, no_threads_under_tsan,
                    otlp_env, preload_env, run)

TREE = os.path.join(PROGS, "tree")


def check_tree(test, spans):
    """One trace, unique span ids, every parent present (but the top)."""
    ids = [s["spanId"] for s in spans]
    test.assertEqual(len(ids), len(set(ids)), "duplicate span ids")
    test.assertEqual(len({s["traceId"] for s in spans}), 1, "more than one trace")
    by_id = {s["spanId"]: s for s in spans}
    tops = [s for s in spans if "parentSpanId" not in s]
    test.assertEqual(len(tops), 1, [s["name"] for s in tops])
    for s in spans:
        if "parentSpanId" in s:
            test.assertIn(s["parentSpanId"], by_id, "parent of %s missing" % s["name"])
    return by_id, tops[0]


def children(spans, parent):
    return [s for s in spans if s.get("parentSpanId") == parent["spanId"]]


def run_tree(test, *args, expect_rc=0, **env):
    with Receiver() as rcv:
        rc, out, err = run([TREE] + list(args), env=otlp_env(rcv, **env), timeout=120)
        test.assertEqual((rc, err), (expect_rc, b""))
        time.sleep(0.1)  # every process exported before it exited
        spans = rcv.spans()
    return out, spans


class StartingChildren(unittest.TestCase):
    def one_child(self, how, child_name):
        out, spans = run_tree(self, how)
        _, top = check_tree(self, spans)
        self.assertEqual(top["name"], "tree")
        (child,) = children(spans, top)
        self.assertEqual(child["name"], child_name)
        self.assertNotIn("process.forked", child["attributes"])
        events = [e["name"] for e in top["events"]]
        return out, top, child, events

    def test_failed_spawns_are_events_of_the_parent(self):
        out, spans = run_tree(self, "spawn-fail")
        self.assertEqual(out, b"spawn=13 spawnp=2\n")  # EACCES, ENOENT: no child ran
        _, top = check_tree(self, spans)
        self.assertEqual(children(spans, top), [])
        failed = [e["attributes"] for e in top["events"] if e["name"] == "process.spawn.failed"]
        self.assertEqual(failed, [{"error.code": 13, "process.executable.path": "/dev/null"},
                                  {"error.code": 2, "process.executable.name": "otelp-no-such-program"}])

    def test_posix_spawnp(self):
        _, top, child, events = self.one_child("spawn", "true")
        self.assertIn("process.spawn", events)
        ev = [e for e in top["events"] if e["name"] == "process.spawn"][0]
        self.assertEqual(ev["attributes"]["process.pid"], child["attributes"]["process.pid"])

    @no_shells_under_tsan
    def test_system(self):
        out, _, child, _ = self.one_child("system", "sh")
        self.assertEqual(out, b"system=768\n")  # exit 3, as glibc reports it
        self.assertEqual(child["attributes"]["process.exit.code"], 3)

    @no_shells_under_tsan
    def test_popen(self):
        out, _, child, _ = self.one_child("popen", "sh")
        self.assertEqual(out, b"from-popen\nstatus=512\n")
        self.assertEqual(child["attributes"]["process.exit.code"], 2)

    @no_shells_under_tsan
    def test_fork_execvp(self):
        _, top, child, events = self.one_child("fork-exec", "true")
        self.assertIn("process.fork", events)

    @no_shells_under_tsan
    def test_fexecve_and_execveat(self):
        # fexecve: the kernel knows the program as /dev/fd/N, so the shim
        # asks /proc/self/exe; execveat: a name relative to a directory
        for how in ("fexecve", "execveat"):
            with self.subTest(how=how):
                _, _, child, _ = self.one_child(how, "true")
                a = child["attributes"]
                self.assertEqual(a["process.executable.path"], os.path.realpath("/bin/true"))
                self.assertEqual(a["process.executable.name"], "true")

    @unittest.skipIf(os.environ.get("OTELP_SANITIZE") == "thread", "TSan turns vfork into fork")
    def test_vfork_execve(self):
        self.one_child("vfork-exec", "true")

    @unittest.skipIf(os.environ.get("OTELP_SANITIZE") == "thread", "TSan turns vfork into fork")
    def test_vfork_child_that_closes_everything(self):
        # The child closes every descriptor and resets signals in memory it
        # shares with the parent: the parent's telemetry and signal record
        # are its own still (the parent's span arrives, SIG_IGN reported).
        out, top, _, _ = self.one_child("vfork-close-all", "true")
        self.assertEqual(out, b"SIGPIPE ignored\n")
        self.assertEqual(top["attributes"]["process.exit.code"], 0)

    @unittest.skipIf(os.environ.get("OTELP_SANITIZE") == "thread",
                     "the TSan runtime is not preloaded into programs it did not build")
    @unittest.skipUnless(shutil.which("python3"), "no python3")
    def test_python_subprocess(self):
        # subprocess.run: a vfork child that closes every descriptor
        # (close_fds) and restores SIGPIPE before exec; the parent's span
        # and the child's, in one tree.
        code = "import subprocess; subprocess.run(['/bin/true'], check=True); print('ok')"
        with Receiver() as rcv:
            rc, out, err = run(["python3", "-c", code], env=otlp_env(rcv), timeout=120)
            self.assertEqual((rc, out, err), (0, b"ok\n", b""))
            time.sleep(0.1)
            spans = rcv.spans()
        _, top = check_tree(self, spans)
        self.assertEqual([s["name"] for s in children(spans, top)], ["true"])

    @no_shells_under_tsan
    def test_execl(self):
        self.one_child("execl", "sh")

    @no_shells_under_tsan
    def test_same_results_without_the_shim(self):
        for how in ("system", "popen", "execle-env", "exec-self", "exec-fail"):
            with self.subTest(how=how):
                base = run([TREE, how], preload=False)
                with Receiver() as rcv:
                    got = run([TREE, how], env=otlp_env(rcv))
                # the carriers, and the LD_PRELOAD the child is given
                strip = lambda b: re.sub(rb"(TRACEPARENT|LD_PRELOAD)=[^\n]*\n", b"", b)
                self.assertEqual((got[0], strip(got[1]), got[2]), (base[0], strip(base[1]), base[2]))


class Carriers(unittest.TestCase):
    @no_shells_under_tsan
    def test_child_has_carriers_parent_does_not(self):
        tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        out, spans = run_tree(self, "execle-env", TRACEPARENT=tp, TRACESTATE="v=1",
                              BAGGAGE="user=alice")
        lines = out.decode().splitlines()
        self.assertIn("MINE=1", lines)  # the program's own envp is kept
        (top,) = [s for s in spans if s["name"] == "tree"]
        self.assertIn("TRACEPARENT=00-%s-%s-01" % (top["traceId"], top["spanId"]), lines)
        self.assertIn("TRACESTATE=v=1", lines)
        self.assertIn("BAGGAGE=user=alice", lines)
        self.assertEqual(len([l for l in lines if l.startswith("TRACEPARENT=")]), 1)
        # the program's own environment still says what it said
        self.assertIn("own TRACEPARENT=%s" % tp, lines)

    @no_shells_under_tsan
    def test_own_environment_unchanged(self):
        out, _ = run_tree(self, "execle-env")
        self.assertIn(b"own TRACEPARENT=(none)", out)


class ForkAndExec(unittest.TestCase):
    @no_shells_under_tsan
    def test_fork_without_exec_is_a_child_span(self):
        _, spans = run_tree(self, "fork-noexec")
        _, top = check_tree(self, spans)
        (child,) = children(spans, top)
        a = child["attributes"]
        self.assertTrue(a["process.forked"])
        self.assertEqual(a["process.exit.code"], 3)
        self.assertEqual(a["process.parent_pid"], top["attributes"]["process.pid"])
        self.assertNotEqual(a["process.pid"], top["attributes"]["process.pid"])

    def test_fork_after_the_program_rewrote_argv(self):
        _, spans = run_tree(self, "argv-rewritten")
        _, top = check_tree(self, spans)
        (child,) = children(spans, top)
        self.assertEqual(child["attributes"]["process.exit.code"], 6)
        # both carry the arguments as the program was started
        for s in (top, child):
            self.assertEqual(s["attributes"]["process.command_args"], [TREE, "argv-rewritten"])

    @no_shells_under_tsan
    def test_no_intermediate_fork_spans(self):
        with Receiver() as rcv:
            rc, out, _ = run(["sh", "-c", "ls / | wc -l"], env=otlp_env(rcv))
            self.assertEqual(rc, 0)
            time.sleep(0.1)
            spans = rcv.spans()
        _, top = check_tree(self, spans)
        self.assertEqual(top["name"], "sh")
        self.assertEqual(sorted(s["name"] for s in children(spans, top)), ["ls", "wc"])
        self.assertEqual(len(spans), 3)

    @no_shells_under_tsan
    def test_subshell_keeps_its_span_when_it_has_children(self):
        with Receiver() as rcv:
            run(["sh", "-c", "(ls / >/dev/null; exec true)"], env=otlp_env(rcv))
            time.sleep(0.1)
            spans = rcv.spans()
        check_tree(self, spans)
        names = sorted(s["name"] for s in spans)
        self.assertEqual(names, ["ls", "sh", "sh", "true"])

    @no_shells_under_tsan
    def test_exec_replaces_the_image(self):
        _, spans = run_tree(self, "exec-self", expect_rc=4)
        _, top = check_tree(self, spans)
        self.assertEqual(top["name"], "tree")
        self.assertIn("process.exec", [e["name"] for e in top["events"]])
        (child,) = children(spans, top)
        self.assertEqual(child["name"], "sh")
        self.assertEqual(child["attributes"]["process.exit.code"], 4)

    def test_failed_exec_leaves_telemetry_working(self):
        out, spans = run_tree(self, "exec-fail", expect_rc=5)
        self.assertTrue(out.startswith(b"errno="))
        by_id, top = check_tree(self, spans)
        last = [s for s in spans if s["attributes"].get("process.exit.code") == 5]
        self.assertEqual(len(last), 1)
        self.assertIn("process.exec.failed", [e["name"] for e in last[0]["events"]])

    @unittest.skipIf(os.environ.get("OTELP_SANITIZE") == "address",
                     "GCC 12's ASan allocator lock is not fork-safe: a child of a threaded "
                     "process can deadlock in malloc, with or without the shim")
    @no_shells_under_tsan
    def test_fork_storm_with_busy_threads_never_deadlocks(self):
        for delay in (None, 50):
            with self.subTest(receiver_delay_ms=delay):
                with Receiver(delay_ms=delay) as rcv:
                    rc, out, err = run([TREE, "fork-storm", "60"], timeout=120,
                                       env=otlp_env(rcv, OTEL_PRELOAD_SHUTDOWN_TIMEOUT="1000",
                                                    OTEL_BSP_SCHEDULE_DELAY="10"))
                self.assertEqual((rc, out, err), (0, b"forked 60\n", b""))


def thread_count(pid):
    try:
        return len(os.listdir("/proc/%d/task" % pid))
    except FileNotFoundError:
        return None


def child_names(pid):
    """The executable names of pid's children (those still there)."""
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            kids = [int(p) for p in f.read().split()]
    except FileNotFoundError:
        return []
    names = []
    for kid in kids:
        try:
            names.append(os.path.basename(os.readlink("/proc/%d/exe" % kid)))
        except OSError:  # already gone
            pass
    return names


@no_shells_under_tsan
class Relay(unittest.TestCase):
    """A parent relays what its children hand it (exporters/handoff.h):
    passive, without a thread, while it is young; a thread once it has
    lived longer than the schedule delay."""

    def start_sh(self, rcv, script, **env):
        full = preload_env(**otlp_env(rcv, **env))
        return subprocess.Popen(["sh", "-c", script], env=full, stdin=subprocess.PIPE,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def test_short_lived_shell_starts_no_thread(self):
        with Receiver() as rcv:
            sh = self.start_sh(rcv, "/bin/true; /bin/true; sleep 2")
            try:
                # Bounded: until the shell runs its sleep (or ends).
                for _ in range(400):
                    if "sleep" in child_names(sh.pid) or sh.poll() is not None:
                        break
                    time.sleep(0.005)
                threads = thread_count(sh.pid)
            finally:
                err = sh.communicate(input=b"", timeout=60)[1]
            self.assertEqual((sh.returncode, err), (0, b""))
            self.assertEqual(threads, 1, "the shell started a thread for two children")
            names = sorted(s["name"] for s in rcv.spans())
        self.assertEqual(names, ["sh", "sleep", "true", "true"])

    def test_relayed_children_carry_the_host_attributes(self):
        # A child handing off leaves the host's attributes to its relay,
        # which adds its own (decoded here by the official definitions):
        # every span has the full resource, each its own
        # service.instance.id; a child that sets one of them itself keeps
        # its value, once.
        with Receiver() as rcv:
            sh = self.start_sh(rcv, "/bin/true; OTEL_RESOURCE_ATTRIBUTES=host.name=mine /bin/true; "
                                    'sh -c "/bin/true"')
            err = sh.communicate(input=b"", timeout=60)[1]
            self.assertEqual((sh.returncode, err), (0, b""))
            decoded = rcv.decoded()
            spans = rcv.spans(decoded)
        self.assertEqual(sorted(s["name"] for s in spans), ["sh", "sh", "true", "true", "true"])
        for rs in (rs for item in decoded for rs in item["body"].get("resourceSpans", [])):
            keys = [a["key"] for a in rs["resource"]["attributes"]]
            self.assertEqual(len(keys), len(set(keys)), keys)
        (top,) = [s for s in spans if s["attributes"]["process.parent_pid"] == os.getpid()]
        host_keys = [k for k in top["resource"] if k.startswith(("host.", "os.", "container."))]
        self.assertIn("host.name", host_keys)
        self.assertIn("os.type", host_keys)
        own = [s for s in spans if s["resource"]["host.name"] == "mine"]
        self.assertEqual([s["name"] for s in own], ["true"])
        for s in spans:
            want = dict((k, top["resource"][k]) for k in host_keys)
            if s in own:
                want["host.name"] = "mine"
            self.assertEqual(dict((k, s["resource"].get(k)) for k in host_keys), want, s["name"])
            exe = "true" if s["name"] == "true" else os.path.basename(os.path.realpath("/bin/sh"))
            self.assertEqual(s["resource"]["service.name"], "unknown_service:" + exe)
        ids = [s["resource"]["service.instance.id"] for s in spans]
        self.assertEqual(len(set(ids)), len(ids))

    def test_a_tree_of_relays_sends_through_its_top(self):
        # Each inner shell hands what its children sent to the outer one
        # at its exit; only the outer shell talks to the collector: its own
        # span, and everything relayed, one request each.
        with Receiver() as rcv:
            sh = self.start_sh(rcv, 'sh -c "/bin/true; /bin/true"; sh -c "/bin/true"')
            err = sh.communicate(input=b"", timeout=60)[1]
            self.assertEqual((sh.returncode, err), (0, b""))
            spans = rcv.spans()
            requests = [r["path"] for r in rcv.requests()]
        by_id, top = check_tree(self, spans)
        self.assertEqual(sorted(s["name"] for s in spans), ["sh", "sh", "sh", "true", "true", "true"])
        self.assertLessEqual(requests.count("/v1/traces"), 2, requests)
        # ... and its relay's tree counts, once (docs/METRICS.md).
        self.assertEqual(requests.count("/v1/metrics"), 1, requests)

    @unittest.skipUnless(shutil.which("strace"), "needs strace")
    def test_only_the_top_relay_detects_the_host(self):
        # Relays pass their children's records up with the host attributes
        # still to add: only the shell that sends to the collector reads
        # the host's files (machine-id among them), once; every span still
        # gets them.
        script = 'sh -c "/bin/true; /bin/true"; sh -c "sh -c /bin/true"'
        with Receiver() as rcv, tempfile.TemporaryDirectory() as d:
            env = preload_env(**otlp_env(rcv))
            preload = env.pop("LD_PRELOAD")
            trace = os.path.join(d, "strace.txt")
            p = subprocess.run(["strace", "-f", "-qq", "-e", "trace=openat", "-o", trace,
                                "-E", "LD_PRELOAD=" + preload, "sh", "-c", script],
                               env=env, capture_output=True, timeout=120)
            self.assertEqual((p.returncode, p.stderr), (0, b""))
            with open(trace) as f:
                readers = {line.split()[0] for line in f if "machine-id" in line}
            spans = rcv.spans()
        self.assertEqual(len(readers), 1, readers)
        self.assertEqual(len(spans), 7)
        host = spans[0]["resource"].get("host.name")
        self.assertTrue(host)
        self.assertEqual([s["resource"].get("host.name") for s in spans], [host] * 7)

    def test_a_reused_descriptor_number_is_not_ours(self):
        out, spans = run_tree(self, "reuse-relay-fd")
        self.assertEqual(out, b"connection kept\n")
        self.assertEqual(sorted(s["name"] for s in spans), ["tree", "true", "true"])

    def test_children_reaped_in_a_signal_handler(self):
        # The wait hook drains the relay inside the program's SIGCHLD
        # handler: statuses unchanged, every child's span delivered.
        out, spans = run_tree(self, "reap-in-handler")
        self.assertEqual(out, b"reaped=3 ok=3\n")
        _, top = check_tree(self, spans)
        kids = children(spans, top)
        self.assertEqual([k["name"] for k in kids], ["sh"] * 3)
        self.assertEqual([k["attributes"]["process.exit.code"] for k in kids], [3] * 3)
        # ... and each with the host attributes the relay added in the handler
        for k in kids:
            self.assertEqual(k["resource"].get("host.name"), top["resource"]["host.name"])
            self.assertEqual(k["resource"].get("os.type"), "linux")

    def test_long_lived_parent_forwards_on_schedule(self):
        # Older than the schedule delay when it starts its children, the
        # shell forwards their spans while it still runs.
        with Receiver() as rcv:
            # It waits on its standard input (read, a builtin) until we close it.
            sh = self.start_sh(rcv, "sleep 0.5; /bin/true; read x",
                               OTEL_BSP_SCHEDULE_DELAY="100")
            try:
                seen = []
                for _ in range(300):  # bounded: 15 s
                    seen = [s["name"] for s in rcv.spans()] if rcv.request_count() else []
                    if "true" in seen or sh.poll() is not None:
                        break
                    time.sleep(0.05)
                running = sh.poll() is None
            finally:
                err = sh.communicate(input=b"", timeout=60)[1]
            self.assertIn("true", seen)
            self.assertTrue(running, "the child's span came only at the parent's exit")
            self.assertEqual(err, b"")


class Threads(unittest.TestCase):
    @no_threads_under_tsan
    def test_thread_spans(self):
        out, spans = run_tree(self, "threads")
        _, top = check_tree(self, spans)
        threads = children(spans, top)
        by_name = {s["attributes"].get("thread.name"): s for s in threads}
        self.assertIn("setname-th", by_name)
        self.assertIn("prctl-th", by_name)
        self.assertIn("renamed-th", by_name)  # named by its creator, still running at exit
        self.assertTrue(by_name["renamed-th"]["attributes"]["thread.cut_short"])
        self.assertEqual(len(threads), 5)
        tids = {s["attributes"]["thread.id"] for s in threads}
        self.assertEqual(len(tids), 5)
        # thread.id is the kernel's id of the thread (the joined four print theirs)
        joined = {int(t) for t in out.decode().strip().removeprefix("tids=").split(",")}
        self.assertEqual(len(joined), 4)
        self.assertLessEqual(joined, tids)
        for s in threads:
            self.assertEqual(s["name"], s["attributes"]["thread.name"])
            self.assertEqual([e["name"] for e in s["events"]][-1], "thread.exit")
        unnamed = [s for s in threads if s["name"] not in ("setname-th", "prctl-th", "renamed-th")]
        self.assertEqual(len(unnamed), 2)
        if not SANITIZED:  # (a sanitizer's pthread_create wraps the start routine)
            for s in unnamed:
                self.assertRegex(s["name"], r"^tree\+0x[0-9a-f]+$")  # module+offset

    @no_threads_under_tsan
    def test_more_live_threads_than_the_table_holds(self):
        # The shim keeps 4096 live threads in a table (for names set from
        # other threads and for the cut at exit); threads past that are
        # still traced: every one of them is exported, ended normally.
        n = 4200
        _, spans = run_tree(self, "many-threads", str(n), OTEL_BSP_MAX_QUEUE_SIZE="8192")
        threads = [s for s in spans if "thread.id" in s["attributes"]]
        self.assertEqual(len(threads), n)
        self.assertEqual(len({s["attributes"]["thread.id"] for s in threads}), n)
        self.assertFalse([s for s in threads if "thread.cut_short" in s["attributes"]])
        for s in threads:
            self.assertEqual([e["name"] for e in s["events"]], ["thread.start", "thread.exit"])

    @no_threads_under_tsan
    def test_thread_spans_carry_the_trace_state(self):
        # The creator hands the parent context (trace state included) to
        # the new thread inside the span's own slot; the span is then built
        # over it.
        trace, parent = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
        state = "v=1," + ",".join("k%d=%s" % (i, "x" * 40) for i in range(10))
        _, spans = run_tree(self, "threads", TRACEPARENT="00-%s-%s-01" % (trace, parent),
                            TRACESTATE=state)
        threads = [s for s in spans if "thread.id" in s["attributes"]]
        self.assertEqual(len(threads), 5)
        for s in threads:
            self.assertEqual(s["traceId"], trace)
            self.assertEqual(s["traceState"], state)


@unittest.skipUnless(shutil.which("strace") and shutil.which("make") and shutil.which("cc"),
                     "needs strace, make and cc")
@no_shells_under_tsan
class RealBuild(unittest.TestCase):
    """make -j2 of a generated multi-file C project: one span per exec'd
    program, counted against strace's execve calls."""

    def make_project(self, d, n=12):
        for i in range(n):
            with open(os.path.join(d, "f%d.c" % i), "w") as f:
                f.write("int f%d(int x) { return x * %d; }\n" % (i, i + 1))
        with open(os.path.join(d, "main.c"), "w") as f:
            f.write("".join("int f%d(int);\n" % i for i in range(n)))
            f.write("int main(void) { return %s; }\n" % " + ".join("f%d(0)" % i for i in range(n)))
        objs = " ".join("f%d.o" % i for i in range(n)) + " main.o"
        with open(os.path.join(d, "Makefile"), "w") as f:
            f.write("prog: %s\n\tcc -o $@ %s\n\t@echo linked $@ | tr a-z A-Z > link.log\n"
                    "%%.o: %%.c\n\tcc -O0 -c $< -o $@\n"
                    "clean:\n\trm -f *.o prog link.log\n" % (objs, objs))

    def test_make_j2(self):
        with tempfile.TemporaryDirectory() as d:
            self.make_project(d)
            trace = os.path.join(d, "strace.txt")
            p = subprocess.run(["strace", "-f", "-qq", "-e", "trace=execve", "-o", trace,
                                "make", "-j2"], cwd=d, capture_output=True, timeout=300)
            self.assertEqual(p.returncode, 0, p.stderr)
            with open(trace) as f:
                execs = sum(1 for line in f if re.search(r"execve\(.*= 0$", line)
                            or re.search(r"execve resumed>.*= 0$", line))
            subprocess.run(["make", "clean"], cwd=d, capture_output=True, timeout=60)
            with Receiver() as rcv:
                rc, out, err = run(["make", "-j2"], cwd=d, env=otlp_env(rcv), timeout=300)
                self.assertEqual(rc, 0, err)
                time.sleep(0.2)
                spans = rcv.spans()
            _, top = check_tree(self, spans)
            self.assertEqual(top["name"], "make")
            images = [s for s in spans if not s["attributes"].get("process.forked")
                      and "thread.id" not in s["attributes"]]
            self.assertEqual(len(images), execs,
                             sorted(s["name"] for s in images))
            self.assertGreaterEqual(len([s for s in images if s["name"] == "cc"]), 13)


if __name__ == "__main__":
    unittest.main()
