"""include/otelp.h: programs that add their own spans, events, links and log
records. Each program runs without the shim and under it: the same stdout,
stderr and exit status; under the shim what it sent is decoded by the
official OpenTelemetry definitions (decode.js) and its spans nest in the
process's trace like the automatic ones (parents of threads, of programs it
starts, of its logging calls). Also: a program built with AddressSanitizer,
one linked statically, one with every call compiled out, a library the
program dlopen()s, two threads with different current spans, fork, and the
version handshake with shims of other tables."""
import os
import time
import unittest

from common import PROGS, SANITIZED, Receiver, no_threads_under_tsan, otlp_env, run

EXAMPLE = os.path.join(PROGS, "api_example")
CASES = os.path.join(PROGS, "api_cases")
TSAN = os.environ.get("OTELP_SANITIZE") == "thread"

# Span kinds and status codes as OTLP numbers them.
INTERNAL, SERVER, CLIENT, CONSUMER = 1, 2, 3, 5


def collect(cmd, **env):
    """Runs cmd under the shim against a fresh receiver: (rc, out, err,
    spans, logs) once its exports arrived."""
    with Receiver() as rcv:
        rc, out, err = run(cmd, env=otlp_env(rcv, **env))
        last, deadline = -1, time.monotonic() + 10
        while time.monotonic() < deadline:
            n = rcv.request_count()
            if n == last and n > 0:
                break
            last = n
            time.sleep(0.1)
        decoded = rcv.decoded()
        collect.metrics = rcv.metrics(decoded)
        return rc, out, err, rcv.spans(decoded), rcv.logs(decoded)


def one(spans, name):
    found = [s for s in spans if s["name"] == name]
    if len(found) != 1:
        raise AssertionError(f"{len(found)} spans named {name!r} in {[s['name'] for s in spans]}")
    return found[0]


class Api(unittest.TestCase):
    def same_as_without(self, cmd, **env):
        """Runs cmd without and with the shim: same bytes, same status.
        Returns what the shim run sent."""
        base = run(cmd, preload=False)
        rc, out, err, spans, logs = collect(cmd, **env)
        self.assertEqual((rc, out, err), base)
        return rc, out, spans, logs

    def test_example_nests_in_the_process_trace(self):
        rc, out, spans, logs = self.same_as_without([EXAMPLE])
        self.assertEqual(rc, 0)
        self.assertEqual(out, b"sum 6\nchild exit 0\nhandled 42\ndone\n")
        root = one(spans, "api_example")
        job = one(spans, "job")
        # The program's instruments, decoded by the official definitions (decode.js).
        metrics = {m["name"]: m for m in collect.metrics}
        done, took = metrics["job.items.done"], metrics["job.step.duration"]
        self.assertEqual((done["type"], done["unit"]), ("sum", "{item}"))
        self.assertEqual([(p["asDouble"], p["attributes"]) for p in done["points"]],
                         [(3, {"job.name": "nightly"})])
        self.assertEqual(took["type"], "histogram")
        self.assertEqual([(int(p["count"]), p["sum"]) for p in took["points"]], [(1, 12.5)])
        self.assertEqual(done["resource"]["service.name"], root["resource"]["service.name"])
        self.assertEqual(job["parentSpanId"], root["spanId"])
        self.assertEqual({s["traceId"] for s in spans}, {root["traceId"]})
        self.assertEqual(job["kind"], INTERNAL)
        self.assertEqual(job["attributes"], {
            "job.name": "nightly", "job.items": 3, "job.ratio": 0.5, "job.dry_run": False,
            "job.tags": ["alpha", "beta"], "job.sizes": [10, -20, 30],
            "job.weights": [0.25, 1.5], "job.flags": [True, False, True]})
        self.assertLessEqual(int(root["startTimeUnixNano"]), int(job["startTimeUnixNano"]))
        self.assertLessEqual(int(job["endTimeUnixNano"]), int(root["endTimeUnixNano"]))
        stage = [e for e in job["events"] if e["name"] == "job.stage"]
        self.assertEqual(stage[0]["attributes"], {"job.stage": "load"})
        # The program started while "job" was current is its child.
        child = one(spans, "true")
        self.assertEqual(child["parentSpanId"], job["spanId"])
        # So is the thread (its span), and the thread's own scope span.
        worker = one(spans, "worker.sum")
        self.assertEqual(worker["attributes"], {"work.sum": 6})
        if not TSAN:  # threads started through TSan's interceptor are not traced
            thread = [s for s in spans if s["spanId"] == worker["parentSpanId"]][0]
            self.assertIn("thread.id", thread["attributes"])
            self.assertEqual(thread["parentSpanId"], job["spanId"])
        # The context went out as a traceparent and came back as a remote parent.
        handled = one(spans, "message.handle")
        self.assertEqual(handled["parentSpanId"], job["spanId"])
        self.assertEqual(handled["kind"], CONSUMER)
        self.assertEqual(handled["flags"] & 0x300, 0x300)  # the parent is remote
        # An exception (its semantic conventions), the status, a link.
        step = one(spans, "job.step")
        self.assertEqual(step["parentSpanId"], job["spanId"])
        self.assertEqual(step["kind"], CLIENT)
        self.assertEqual(step["status"], {"code": 2, "message": "disk full"})
        (exc,) = step["events"]
        self.assertEqual(exc["name"], "exception")
        self.assertEqual(exc["attributes"], {"exception.type": "IOError",
                                             "exception.message": "disk full",
                                             "exception.stacktrace": "at step (api_example.c)"})
        (link,) = step["links"]
        self.assertEqual(link["traceId"], "0af7651916cd43dd8448eb211c80319c")
        self.assertEqual(link["spanId"], "b7ad6b7169203331")
        self.assertEqual(link["attributes"], {"link.reason": "retry of"})
        # The program's syslog call and its otelp_log record carry the job's context.
        self.assertEqual(len(logs), 2)
        for lr in logs:
            self.assertEqual((lr["traceId"], lr["spanId"]), (job["traceId"], job["spanId"]))
        warn = [lr for lr in logs if lr["body"] == "job is slow"][0]
        self.assertEqual(warn["severityNumber"], 13)
        self.assertEqual(warn["severityText"], "WARN")
        self.assertEqual(warn["attributes"], {"job.items": 3})

    def test_example_over_otlp_json(self):
        # The same through the JSON encoder: typed arrays and links survive
        # the official types' fromObject/toObject.
        rc, _, _, spans, _ = collect([EXAMPLE], OTEL_EXPORTER_OTLP_PROTOCOL="http/json")
        self.assertEqual(rc, 0)
        job = one(spans, "job")
        self.assertEqual(job["attributes"]["job.sizes"], [10, -20, 30])
        self.assertEqual(job["attributes"]["job.weights"], [0.25, 1.5])
        self.assertEqual(job["attributes"]["job.flags"], [True, False, True])
        (link,) = one(spans, "job.step")["links"]
        self.assertEqual(link["spanId"], "b7ad6b7169203331")
        self.assertEqual(link["attributes"], {"link.reason": "retry of"})

    @unittest.skipUnless(os.path.exists(os.path.join(PROGS, "api_example_cpp")), "no C++ compiler")
    def test_cpp_example(self):
        rc, out, spans, logs = self.same_as_without([os.path.join(PROGS, "api_example_cpp")])
        self.assertEqual(rc, 0)
        self.assertEqual(out, b"skipped x\ntotal 42\n")
        root = one(spans, "api_example_cpp")
        run_ = one(spans, "cpp.run")
        self.assertEqual(run_["parentSpanId"], root["spanId"])
        # Three parse scopes, one of them left by an exception: all ended.
        parses = [s for s in spans if s["name"] == "parse"]
        self.assertEqual(len(parses), 3)
        self.assertEqual({s["parentSpanId"] for s in parses}, {run_["spanId"]})
        self.assertEqual(sorted(s["attributes"]["parse.input"] for s in parses), ["12", "30", "x"])
        (exc,) = [e for e in run_["events"] if e["name"] == "exception"]
        self.assertEqual(exc["attributes"]["exception.type"], "std::invalid_argument")
        workers = [s for s in spans if s["name"] == "cpp.worker"]
        self.assertEqual(sorted(s["attributes"]["worker.index"] for s in workers), [0, 1])
        (lr,) = logs
        self.assertEqual(lr["spanId"], run_["spanId"])

    @no_threads_under_tsan
    def test_two_threads_with_different_current_spans(self):
        rc, out, spans, logs = self.same_as_without([CASES, "threads"])
        self.assertEqual((rc, out), (0, b"threads done\n"))
        for side in ("left", "right"):
            mine = one(spans, side)
            self.assertEqual(one(spans, side + ".child")["parentSpanId"], mine["spanId"])
            (lr,) = [lr for lr in logs if lr["body"] == side]
            self.assertEqual(lr["spanId"], mine["spanId"])
            # The thread's span is its parent.
            thread = [s for s in spans if s["spanId"] == mine["parentSpanId"]][0]
            self.assertIn("thread.id", thread["attributes"])

    @unittest.skipIf(TSAN, "the TSan runtime does not support fork in threaded programs")
    def test_fork(self):
        rc, out, spans, _ = self.same_as_without([CASES, "fork"])
        self.assertEqual((rc, out), (0, b"child done\nparent done, child 0\n"))
        parent = one(spans, "fork.parent")  # once: the child's copy is not exported
        self.assertNotIn("in.child", parent["attributes"])
        child = one(spans, "fork.child")
        child_root = [s for s in spans if s["spanId"] == child["parentSpanId"]][0]
        self.assertTrue(child_root["attributes"]["process.forked"])
        self.assertEqual(child_root["parentSpanId"], parent["spanId"])

    def test_scopes(self):
        rc, out, spans, logs = self.same_as_without([CASES, "scope"])
        self.assertEqual(rc, 0)
        self.assertEqual(out, b"return 42\ngoto 5\nbad traceparent -1\nscope done\n")
        root = one(spans, "api_cases")
        self.assertEqual(root["attributes"]["app.request_id"], "r-17")
        for name in ("scope.return", "scope.goto", "scope.a", "scope.early", "scope.last"):
            self.assertEqual(one(spans, name)["parentSpanId"], root["spanId"], name)
        self.assertEqual(one(spans, "scope.goto")["attributes"], {"x": 5})
        self.assertEqual(one(spans, "scope.b")["parentSpanId"], one(spans, "scope.a")["spanId"])
        (lr,) = logs
        self.assertEqual(lr["spanId"], one(spans, "scope.early")["spanId"])
        self.assertEqual(len(spans), 7)

    def test_calls(self):
        rc, out, spans, _ = self.same_as_without([CASES, "calls"])
        self.assertEqual(rc, 0)
        self.assertEqual(out, b"remote recording 0\nremote sampled 0\n"
                              b"remote tracestate 'vendor=abc,other=1'\n")
        s = one(spans, "calls.renamed")
        self.assertEqual(s["kind"], SERVER)
        self.assertEqual(s["attributes"], {"good": 7})
        self.assertEqual(s["droppedAttributesCount"], 2)
        self.assertEqual(s["status"], {"code": 1})
        # The remote child of an unsampled parent was not recorded.
        self.assertEqual([x for x in spans if x["name"] == "calls.remote"], [])

    def test_dlopened_library(self):
        lib = os.path.join(PROGS, "libapi_lib.so")
        rc, out, spans, _ = self.same_as_without([CASES, "dlopen", lib])
        self.assertEqual((rc, out), (0, b"lib_work 16\n"))
        self.assertEqual(one(spans, "lib.work")["parentSpanId"], one(spans, "api_cases")["spanId"])
        self.assertEqual(one(spans, "lib.work")["attributes"], {"lib.n": 4})

    def test_compiled_out(self):
        rc, out, spans, _ = self.same_as_without([os.path.join(PROGS, "api_example_disabled")])
        self.assertEqual(out, b"sum 6\nchild exit 0\nhandled 42\ndone\n")
        self.assertEqual([s for s in spans if s["name"] in ("job", "job.step", "worker.sum")], [])
        one(spans, "api_example_disabled")  # the shim still traces the process

    def test_static_program(self):
        # LD_PRELOAD does nothing to a static program: its calls go to the
        # no-op table, and its output is the same.
        rc, out, spans, _ = self.same_as_without([os.path.join(PROGS, "api_example_static")])
        self.assertEqual(out, b"sum 6\nchild exit 0\nhandled 42\ndone\n")
        self.assertEqual([s for s in spans if s["name"] != "true"], [])

    @unittest.skipIf(TSAN, "an ASan program cannot run with the TSan runtime preloaded")
    def test_asan_program(self):
        prog = os.path.join(PROGS, "api_example_asan")
        # ASan wants its runtime first among the libraries: the preloaded
        # shim comes before it, so its order check is off (as for any
        # preloaded library); leak checks stay on without the shim.
        base = run([prog], preload=False, env={"ASAN_OPTIONS": "detect_leaks=1"})
        rc, out, err, spans, _ = collect(
            [prog], ASAN_OPTIONS="verify_asan_link_order=0:detect_leaks=0")
        self.assertEqual((rc, out, err), base)
        self.assertEqual(one(spans, "job")["parentSpanId"], one(spans, "api_example_asan")["spanId"])

    def test_version_handshake(self):
        # An older shim whose table has only span_start and span_end: those
        # two reach it, every later function is a no-op.
        old = os.path.join(PROGS, "libapi_fake_old.so")
        v2 = os.path.join(PROGS, "libapi_fake_v2.so")
        for lib, expect in ((old, b"fake start version\nfake end 0x1\n"), (v2, b"")):
            rc, out, err = run(["env", "LD_PRELOAD=" + lib, CASES, "version"], preload=False)
            self.assertEqual((rc, out, err), (0, b"version done\n", expect), lib)

    def test_pkg_config(self):
        # Installed (the "api" component: the header and otelp.pc), the
        # example builds with `pkg-config --cflags otelp` and nothing to
        # link but libc's threads, and runs under the shim.
        import shutil
        import subprocess
        import tempfile
        if not shutil.which("pkg-config"):
            self.skipTest("no pkg-config")
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run(["cmake", "--install", os.environ["OTELP_BUILD_DIR"], "--prefix", tmp,
                            "--component", "api"], check=True, capture_output=True, timeout=60)
            env = dict(os.environ, PKG_CONFIG_PATH=os.path.join(tmp, "share", "pkgconfig"))
            cflags = subprocess.run(["pkg-config", "--cflags", "otelp"], env=env, check=True,
                                    capture_output=True, text=True, timeout=30).stdout.split()
            self.assertEqual(cflags, ["-I" + os.path.join(tmp, "share", "pkgconfig", "..", "..",
                                                          "include")])
            prog = os.path.join(tmp, "example")
            src = os.path.join(os.environ["OTELP_SOURCE_DIR"], "tests", "integration", "progs",
                               "api_example.c")
            subprocess.run(["cc", "-std=c99", "-D_POSIX_C_SOURCE=200809L", "-Wall", "-Wextra",
                            "-Werror", *cflags, src, "-o", prog, "-pthread"], check=True,
                           capture_output=True, timeout=120)
            rc, out, spans, _ = self.same_as_without([prog])
            self.assertEqual(out, b"sum 6\nchild exit 0\nhandled 42\ndone\n")
            self.assertEqual(one(spans, "job")["parentSpanId"], one(spans, "example")["spanId"])

    def test_header_is_strict_c99_and_cxx(self):
        # Every compiler here takes the header with every warning on:
        # C99 -Wpedantic, C++11.
        import shutil
        import subprocess
        import tempfile
        progs = os.path.join(os.environ["OTELP_SOURCE_DIR"], "tests", "integration", "progs")
        include = os.path.join(os.environ["OTELP_SOURCE_DIR"], "include")
        builds = [(cc, ["-std=c99", "-D_POSIX_C_SOURCE=200809L", "-Wpedantic"], "api_example.c")
                  for cc in ("gcc", "clang")]
        builds += [(cxx, ["-std=c++11", "-Wpedantic"], "api_example.cpp") for cxx in ("g++", "clang++")]
        ran = 0
        with tempfile.TemporaryDirectory() as tmp:
            for cc, flags, src in builds:
                if not shutil.which(cc):
                    continue
                r = subprocess.run([cc, *flags, "-Wall", "-Wextra", "-Werror", "-I" + include, "-c",
                                    os.path.join(progs, src), "-o", os.path.join(tmp, "o.o")],
                                   capture_output=True, text=True, timeout=120)
                self.assertEqual(r.returncode, 0, f"{cc}: {r.stderr}")
                ran += 1
        self.assertGreater(ran, 0)

    def test_exports_only_the_table(self):
        # The note points at the exported table: readelf sees one otelp note.
        lib = os.environ["OTELP_LIB"]
        rc, out, _ = run(["readelf", "-nW", lib], preload=False)
        self.assertEqual(rc, 0)
        self.assertEqual(out.count(b"otelp "), 1)


if __name__ == "__main__":
    unittest.main()
