"""Defects real programs found (issue 17), each kept fixed by a real
program run under the shim: secrets and bad endpoints in diagnostics,
descriptors, carriers, a second copy of the shim, thread names."""
import os
import subprocess
import tempfile
import unittest

from common import EXIT_PATHS, SANITIZED, Receiver, no_shells_under_tsan, run, spans_named


class Diagnostics(unittest.TestCase):
    def test_bad_endpoints_get_one_clear_warning(self):
        cases = {
            "http://user:s3cr3t@127.0.0.1:4318": "user information",
            "http://127.0.0.1:0": "port is 0",
            "http://127.0.0.1:99999": "above 65535",
            "http://127.0.0.1:1x": "not a number",
            "http://:4318": "host is empty",
            "unix:///run/otel.sock": "scheme is not supported",
            "localhost:4318": "no scheme",
        }
        for url, words in cases.items():
            with self.subTest(url=url):
                rc, out, err = run([EXIT_PATHS, "exit", "3"],
                                   env={"OTEL_EXPORTER_OTLP_ENDPOINT": url,
                                        "OTEL_LOG_LEVEL": "warn"})
                self.assertEqual((rc, out), (3, b""))
                lines = err.decode().splitlines()
                self.assertEqual(len(lines), 1, lines)
                self.assertTrue(lines[0].startswith("otel-preload: warn: OTLP endpoint "), lines)
                self.assertIn(words, lines[0])
                self.assertNotIn("s3cr3t", lines[0])
                # Silent without diagnostics.
                self.assertEqual(run([EXIT_PATHS, "exit", "3"],
                                     env={"OTEL_EXPORTER_OTLP_ENDPOINT": url}), (3, b"", b""))

    def test_no_header_value_nor_password_in_any_diagnostic(self):
        env = {"OTEL_EXPORTER_OTLP_HEADERS": "Authorization:Bearer TOPSECRET,x-key=ALSOSECRET,"
                                             "bad=%zz%SECRET3",
               "OTEL_EXPORTER_OTLP_ENDPOINT": "https://user:PASSWORD@127.0.0.1:1",
               "OTEL_LOG_LEVEL": "debug", "OTEL_PRELOAD_SHUTDOWN_TIMEOUT": "300"}
        rc, out, err = run([EXIT_PATHS, "exit", "3"], env=env)
        self.assertEqual((rc, out), (3, b""))
        self.assertIn(b"has no '='", err)
        for secret in (b"TOPSECRET", b"ALSOSECRET", b"SECRET3", b"PASSWORD", b"Bearer"):
            self.assertNotIn(secret, err)
        self.assertIn(b"127.0.0.1", err)  # the host is named, not cut off

    def test_errors_in_the_words_of_their_layer(self):
        # TLS to a plaintext port, a name that does not resolve: said as
        # such, never as errno texts of other layers (issue 17 item 9).
        with Receiver() as rcv:
            cases = {rcv.endpoint.replace("http://", "https://"): b"TLS failed",
                     "http://no-such-host.invalid:4318": b"host name did not resolve"}
            for url, words in cases.items():
                with self.subTest(url=url):
                    rc, out, err = run([EXIT_PATHS, "exit", "3"],
                                       env={"OTEL_EXPORTER_OTLP_ENDPOINT": url,
                                            "OTEL_LOG_LEVEL": "warn",
                                            "OTEL_PRELOAD_SHUTDOWN_TIMEOUT": "3000",
                                            "OTEL_PRELOAD_SPOOL_MAX_BYTES": "0"}, timeout=60)
                    self.assertEqual((rc, out), (3, b""))
                    self.assertIn(words, err)
                    for wrong in (b"Key was rejected", b"No route to host",
                                  b"Argument list too long"):
                        self.assertNotIn(wrong, err)


@no_shells_under_tsan
class Descriptors(unittest.TestCase):
    """The shim's descriptors never collide with the program's (SAFETY.md 4c)."""

    def run_both(self, script, env=None):
        """The script without and with the shim, in fresh directories: both
        (rc, out, err, files) tuples."""
        results = []
        for preload in (False, True):
            with tempfile.TemporaryDirectory() as d:
                rc, out, err = run(["bash", "-c", script], env=env, preload=preload, cwd=d)
                files = {n: open(os.path.join(d, n), "rb").read() for n in sorted(os.listdir(d))}
                results.append((rc, out, err, files))
        return results

    def test_scripts_fixed_numbers(self):
        # exec N> for flock and logging, at the numbers scripts use, after
        # a child made the shell a relay (its socket is one of ours); then
        # more children, whose spans must still arrive.
        script = ("/bin/true; exec 900>f900; echo data >&900; exec 992>f992; echo more >&992; "
                  "exec 200>lock; flock 200; echo locked >&200; "
                  "for n in 993 994 995 996 1000 1023; do eval \"exec $n>f$n\"; echo $n >&$n; done; "
                  "/bin/echo after; exec 900>&-; echo $? ")
        with Receiver() as rcv:
            base, got = self.run_both(script, env={"OTEL_EXPORTER_OTLP_ENDPOINT": rcv.endpoint})
            self.assertEqual(got, base)
            self.assertEqual(base[3]["f900"], b"data\n")
            self.assertEqual(base[3]["f1023"], b"1023\n")
            rcv.wait_requests(1, 10)
            names = sorted(s["name"] for s in rcv.spans())
            self.assertIn("echo", names)
            self.assertIn("true", names)

    def test_fcntl_dup_close_on_our_numbers(self):
        # Every call naming a number: as if nothing were open there.
        code = ("import fcntl, os\n"
                "os.system('/bin/true')\n"
                "for n in range(900, 1024):\n"
                "    try: fcntl.fcntl(n, fcntl.F_GETFD); print('open', n)\n"
                "    except OSError as e: pass\n"
                "r = os.open('/dev/null', os.O_RDONLY)\n"
                "print(fcntl.fcntl(r, fcntl.F_DUPFD, 992))\n"
                "print(os.dup2(r, 993), os.dup2(r, 994, inheritable=False))\n"
                "for n in range(995, 1024):\n"
                "    try: os.close(n); print('closed', n)\n"
                "    except OSError: pass\n"
                "os.closerange(3, 1024)\n"
                "os.system('/bin/true')\n"
                "print('end')\n")
        with Receiver() as rcv:
            env = {"OTEL_EXPORTER_OTLP_ENDPOINT": rcv.endpoint}
            base = run(["python3", "-c", code], env=env, preload=False)
            got = run(["python3", "-c", code], env=env)
            self.assertEqual(got, base)
            self.assertEqual(base[1], b"992\n993 994\nend\n")
            rcv.wait_requests(1, 10)
            self.assertGreaterEqual(len(spans_named(rcv, "true")), 1)

    def test_closed_stderr_then_a_data_file(self):
        # Started with 2>&-: the file it opens becomes fd 2, and must hold
        # only what the program wrote, with the console exporter and
        # diagnostics on.
        script = ("exec 2>&-; exec python3 -c \"import os; fd = os.open('data', "
                  "os.O_WRONLY | os.O_CREAT, 0o600); os.write(fd, b'%d\\n' % fd)\"")
        env = {"OTEL_TRACES_EXPORTER": "console", "OTEL_LOG_LEVEL": "debug",
               "OTEL_SERVICE_NAME": "x"}
        base, got = self.run_both(script, env=env)
        self.assertEqual(base[3], {"data": b"2\n"})
        self.assertEqual(got[3], base[3])
        self.assertEqual(got[0], base[0])

    def test_tiny_descriptor_limit_and_closed_stdout(self):
        # With ulimit -n 64 the relay socket must not become fd 1.
        script = ("ulimit -n 64; exec >&-; /bin/true; "
                  "readlink /proc/$$/fd/1 >&2 || echo closed >&2; /bin/true")
        base, got = self.run_both(script)
        self.assertEqual(base[:3], (0, b"", b"closed\n"))
        self.assertEqual(got, base)


@no_shells_under_tsan
class Carriers(unittest.TestCase):
    """Carriers only for children that carry the shim (SAFETY.md 1d)."""

    def test_clean_environments_stay_clean(self):
        env = {"OTEL_TRACES_EXPORTER": "none"}
        for cmd in (["env", "-i", "sh", "-c", "env"],
                    ["python3", "-c", "import subprocess; print(subprocess.run(['env'], env={}, "
                     "capture_output=True).stdout)"],
                    ["env", "-i", "X=1", "/usr/bin/env"]):
            with self.subTest(cmd=cmd[:2]):
                base = run(cmd, env=env, preload=False)
                got = run(cmd, env=env)
                self.assertEqual(got, base)
                self.assertNotIn(b"TRACEPARENT", got[1])

    def test_a_child_that_carries_the_shim_gets_them(self):
        rc, out, _ = run(["sh", "-c", "env"], env={"OTEL_TRACES_EXPORTER": "none"})
        self.assertEqual(rc, 0)
        self.assertIn(b"TRACEPARENT=00-", out)


@no_shells_under_tsan
class TwoCopies(unittest.TestCase):
    def test_a_second_copy_stands_aside(self):
        # The same shim from two paths (a user's LD_PRELOAD and the
        # host's): one span per program, one trace.
        lib = os.environ["OTELP_LIB"]
        prefix = os.environ.get("OTELP_PRELOAD_PREFIX", "").strip()
        with tempfile.TemporaryDirectory() as d:
            copy = os.path.join(d, "libotelpreload.so")
            with open(lib, "rb") as src, open(copy, "wb") as dst:
                dst.write(src.read())
            for order in ((lib, copy), (copy, lib)):
                with Receiver() as rcv:
                    preload = " ".join(([prefix] if prefix else []) + list(order))
                    rc, out, err = run(["env", "LD_PRELOAD=" + preload, "sh", "-c",
                                        "/bin/true; echo hi"],
                                       env={"OTEL_EXPORTER_OTLP_ENDPOINT": rcv.endpoint},
                                       preload=False)
                    self.assertEqual((rc, out, err), (0, b"hi\n", b""))
                    rcv.wait_requests(1, 10)
                    spans = rcv.spans()
                    self.assertEqual(sorted(s["name"] for s in spans), ["sh", "true"], order)
                    self.assertEqual(len({s["traceId"] for s in spans}), 1)

class ThreadNames(unittest.TestCase):
    @unittest.skipIf(SANITIZED, "a sanitizer's pthread_create starts threads on its own routine")
    def test_cxx_routines_are_demangled(self):
        prog = os.path.join(os.environ["OTELP_PROGS"], "threads_cxx")
        if not os.path.exists(prog):
            self.skipTest("no C++ compiler")
        with Receiver() as rcv:
            rc, out, err = run([prog], env={"OTEL_EXPORTER_OTLP_ENDPOINT": rcv.endpoint})
            self.assertEqual((rc, out, err), (0, b"done\n", b""))
            rcv.wait_requests(1, 10)
            names = sorted(s["name"] for s in rcv.spans() if s["name"] != "threads_cxx")
            self.assertEqual(names, ["work::Runner::loop()",
                                     "work::Runner::start()::{lambda}::_FUN()"])


@no_shells_under_tsan
class StreamCapture(unittest.TestCase):
    def test_chatty_program_bytes_and_counts(self):
        # yes | head -c 5M with stdout captured: the bytes unchanged, and
        # every line of head's accounted (exported, or dropped with a
        # reason: a full queue's lines are counted without being made).
        import re
        script = "yes | head -c 5M | md5sum"
        base = run(["sh", "-c", script], preload=False)
        with Receiver(silent=True) as rcv:
            rc, out, err = run(["sh", "-c", script],
                               env={"OTEL_EXPORTER_OTLP_ENDPOINT": rcv.endpoint,
                                    "OTEL_PRELOAD_LOGS_STREAMS": "stdout",
                                    "OTEL_PRELOAD_SHUTDOWN_TIMEOUT": "200",
                                    "OTEL_LOG_LEVEL": "info"}, timeout=120)
        self.assertEqual((rc, out), base[:2])
        m = re.search(rb"head\[\d+\]: logs: exported (\d+), dropped (\d+) \(queue full\), "
                      rb"(\d+) \(export failed\), (\d+) \(rejected\), (\d+) \(shutdown\)", err)
        self.assertIsNotNone(m, err)
        total = sum(int(x) for x in m.groups())
        nomem = re.search(rb"head\[\d+\]: logs: exported.*\n.*logs: dropped (\d+) \(no memory\)",
                          err)
        total += int(nomem.group(1)) if nomem else 0
        self.assertEqual(total, (5 << 20) // 2, err)


if __name__ == "__main__":
    unittest.main()
