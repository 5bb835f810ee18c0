"""The spool (docs/SPOOL.md): exit and exec never wait on an unreachable
collector; what could not be delivered is on disk, whole, and is delivered
later, exactly once, by the next process that exports to the same
endpoint. No timing asserts: a 60 s flush budget against a 20 s run
timeout is the bound (a process that waited for the collector would be
killed, and the test would fail)."""
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest

from common import (EXIT_PATHS, PROGS, Receiver, batches, decode_spooled, free_port,
                    no_shells_under_tsan, preload_env, run)

BOUND = 20  # seconds a run may take; the flush budget is three times that
PATIENT = {"OTEL_PRELOAD_SHUTDOWN_TIMEOUT": "60000", "OTEL_EXPORTER_OTLP_TIMEOUT": "60000"}


def loss(err):
    m = re.search(rb"spans: exported (\d+), dropped (\d+) \(queue full\), (\d+) \(export failed\), "
                  rb"(\d+) \(rejected\), (\d+) \(shutdown\), spooled (\d+)", err)
    if not m:
        return None
    keys = ("exported", "queue_full", "export_failed", "rejected", "shutdown", "spooled")
    return dict(zip(keys, (int(x) for x in m.groups())))


class Spool(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="otelp-spool-test.")
        self.spool = os.path.join(self.tmp, "spool")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def env(self, endpoint, **extra):
        env = dict(PATIENT, OTEL_PRELOAD_SPOOL_DIR=self.spool, OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
                   OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf")
        env.update({k: str(v) for k, v in extra.items()})
        return env

    def test_refused_connection_spools_at_once(self):
        down = f"http://127.0.0.1:{free_port()}"
        base = run([EXIT_PATHS, "exit", "3"], preload=False)
        self.assertEqual(run([EXIT_PATHS, "exit", "3"], env=self.env(down), timeout=BOUND), base)
        rc, out, err = run([EXIT_PATHS, "exit", "3"], env=self.env(down, OTEL_LOG_LEVEL="info"),
                           timeout=BOUND)
        self.assertEqual((rc, out), (3, b""))
        self.assertEqual(loss(err)["spooled"], 1, err)
        self.assertEqual(loss(err)["export_failed"], 0, err)
        self.assertIn(b"spooled, to be sent later", err)
        found = batches(self.spool)
        self.assertEqual(len(found), 2)
        for _, h, _ in found:
            self.assertEqual((h["signal"], h["endpoint"], h["protocol"], h["records"]),
                             ("traces", down + "/v1/traces", "http/protobuf", "1"))
        self.assertEqual(oct(os.stat(self.spool).st_mode & 0o777), "0o700")
        spans = decode_spooled(self.spool)
        self.assertEqual([s["name"] for s in spans], ["exit_paths"] * 2)
        self.assertEqual([s["attributes"]["process.exit.code"] for s in spans], [3, 3])

    @no_shells_under_tsan
    def test_no_network_spools_at_once(self):
        if run(["unshare", "-rn", "true"], preload=False)[0] != 0:
            self.skipTest("unshare -rn is not permitted here")
        down = f"http://127.0.0.1:{free_port()}"
        cmd = ["unshare", "-rn", "sh", "-c", f"/bin/echo hi; {EXIT_PATHS} exit 3"]
        rc, out, err = run(cmd, env=self.env(down), timeout=BOUND)
        self.assertEqual((rc, out, err), (3, b"hi\n", b""))
        names = sorted(s["name"] for s in decode_spooled(self.spool))
        self.assertEqual(names, ["echo", "exit_paths", "sh", "unshare"])

    @no_shells_under_tsan
    def test_exec_never_waits_for_a_silent_collector(self):
        with Receiver(silent=True) as silent:
            cmd = ["sh", "-c", f"exec env env {EXIT_PATHS} exit 3"]
            # The last image waits for its export (bounded by its timeout),
            # the images before it do not wait at all.
            rc, out, err = run(cmd, env=self.env(silent.endpoint, OTEL_EXPORTER_OTLP_TIMEOUT=2000),
                               timeout=BOUND)
            self.assertEqual((rc, out, err), (3, b"", b""))
        names = sorted(s["name"] for s in decode_spooled(self.spool))
        self.assertEqual(names, ["env", "env", "exit_paths", "sh"])

    @no_shells_under_tsan
    def test_delivered_later_exactly_once(self):
        with Receiver() as first:
            port = first.port
        down = f"http://127.0.0.1:{port}"
        tree = ["sh", "-c", f"/bin/echo a; /bin/echo b; exec {EXIT_PATHS} exit 3"]
        for _ in range(2):
            rc, out, err = run(tree, env=self.env(down), timeout=BOUND)
            self.assertEqual((rc, out, err), (3, b"a\nb\n", b""))
        spooled = sum(int(h["records"]) for _, h, _ in batches(self.spool))
        self.assertEqual(spooled, 8)  # sh, echo, echo, exit_paths, twice
        with Receiver(extra_args=["--port", str(port)]) as rcv:
            self.assertEqual(rcv.port, port)
            # Two programs at once: each spooled batch is claimed by one.
            env = self.env(down, OTEL_LOG_LEVEL="info")
            procs = [subprocess.Popen([EXIT_PATHS, "exit", "0"], env=preload_env(**env),
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                     for _ in range(2)]
            errs = [p.communicate(timeout=BOUND)[1] for p in procs]
            self.assertEqual([p.returncode for p in procs], [0, 0])
            for e in errs:
                self.assertEqual(loss(e)["exported"], 1, e)
            deadline = time.monotonic() + 10
            while batches(self.spool) and time.monotonic() < deadline:
                time.sleep(0.05)
            self.assertEqual(batches(self.spool), [])
            # Nothing left: the next one sends its own only.
            run([EXIT_PATHS, "exit", "0"], env=self.env(down), timeout=BOUND)
            rcv.wait_requests(1, 10)
            time.sleep(0.2)
            spans = rcv.spans()
        ids = [s["spanId"] for s in spans]
        self.assertEqual(len(ids), len(set(ids)), "a batch was sent twice")
        names = sorted(s["name"] for s in spans)
        self.assertEqual(names, sorted(["sh", "echo", "echo", "exit_paths"] * 2 +
                                       ["exit_paths"] * 3))

    @no_shells_under_tsan
    def test_every_signal_delivered_once(self):
        """A traced tree with the collector down spools spans, log records
        (a child's syslog lines, through the shell's relay) and metrics
        (the shell's tree counts). The next programs that reach the
        collector deliver all of it, whatever signal they export
        themselves: two at once, each batch once, to its own signal's
        path, and the spool is left empty."""
        with Receiver() as first:
            port = first.port
        down = f"http://127.0.0.1:{port}"
        logging = os.path.join(PROGS, "logging")
        tree = ["sh", "-c", f"/bin/true; {logging} syslog-levels; /bin/true"]
        rc, out, err = run(tree, env=self.env(down), timeout=BOUND)
        self.assertEqual((rc, out, err), (0, b"", b""))
        spooled = batches(self.spool)
        self.assertEqual({h["signal"] for _, h, _ in spooled}, {"traces", "logs", "metrics"})
        for _, h, _ in spooled:
            self.assertEqual(h["endpoint"], f"{down}/v1/{h['signal']}")
        with Receiver(extra_args=["--port", str(port)]) as rcv:
            self.assertEqual(rcv.port, port)
            env = preload_env(**self.env(down))
            procs = [subprocess.Popen([EXIT_PATHS, "exit", "0"], env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE) for _ in range(2)]
            outs = [p.communicate(timeout=BOUND) for p in procs]
            self.assertEqual([(p.returncode, o) for p, o in zip(procs, outs)],
                             [(0, (b"", b""))] * 2)
            self.assertEqual([name for name, _, _ in batches(self.spool)], [])
            # (emptied: a drainer removes the directory)
            self.assertEqual(os.listdir(self.spool) if os.path.exists(self.spool) else None, None)
            rcv.wait_requests(len(spooled) + 2, 10)
            received = rcv.requests()
            decoded = rcv.decoded()
        # Each spooled body arrived once, at its signal's path; besides
        # them, only the two programs' own spans.
        bodies = [(r["path"], r["body"]) for r in received]
        for _, h, body in spooled:
            self.assertEqual(bodies.count((f"/v1/{h['signal']}", body)), 1, h)
        self.assertEqual(len(bodies), len(spooled) + 2)
        # The same in decoded OTLP: every record, once.
        spans = rcv.spans(decoded)
        ids = [s["spanId"] for s in spans]
        self.assertEqual(len(ids), len(set(ids)), "a span was sent twice")
        self.assertEqual(sorted(s["name"] for s in spans),
                         sorted(["sh", "true", "true", "logging"] + ["exit_paths"] * 2))
        want = {sig: sum(int(h["records"]) for _, h, _ in spooled if h["signal"] == sig)
                for sig in ("logs", "metrics")}
        logs = rcv.logs(decoded)
        self.assertEqual(len(logs), want["logs"])
        self.assertEqual({lr["resource"]["service.name"] for lr in logs}, {"unknown_service:logging"})
        self.assertIn("level 0", [lr["body"] for lr in logs])
        metrics = rcv.metrics(decoded)  # (a batch of metrics counts its metric streams)
        self.assertEqual(len(metrics), want["metrics"])
        self.assertTrue(all(m["name"].startswith("otel.sdk.") for m in metrics), metrics)

    def test_half_written_and_corrupt_batches_are_never_sent(self):
        with Receiver() as first:
            port = first.port
        down = f"http://127.0.0.1:{port}"
        run([EXIT_PATHS, "exit", "3"], env=self.env(down), timeout=BOUND)
        self.assertEqual(len(batches(self.spool)), 1)
        good = batches(self.spool)[0][0]
        # A writer killed before its rename (pid 1 is never a writer that
        # is gone, so a dead-looking pid: the largest there may be).
        with open(os.path.join(self.spool, good), "rb") as f:
            data = f.read()
        with open(os.path.join(self.spool, ".tmp-4194303-0"), "wb") as f:
            f.write(data[:100])
        # A complete-looking name whose contents are cut short.
        bad = "00000000000000000001-4194303-0-traces-1-%d.otlp" % len(data)
        with open(os.path.join(self.spool, bad), "wb") as f:
            f.write(data[:-10])
        with Receiver(extra_args=["--port", str(port)]) as rcv:
            run([EXIT_PATHS, "exit", "0"], env=self.env(down), timeout=BOUND)
            rcv.wait_requests(2, 10)
            time.sleep(0.2)
            spans = rcv.spans()
        self.assertEqual(sorted(s["attributes"]["process.exit.code"] for s in spans), [0, 3])
        left = os.listdir(self.spool) if os.path.isdir(self.spool) else []
        self.assertEqual(left, [])

    @no_shells_under_tsan
    def test_black_hole_resolver_is_bounded(self):
        """A name server that never answers (a UDP socket nobody reads, in
        a private network and mount namespace, over /etc/resolv.conf with
        a 30 s timeout): the exit is bounded by the flush budget and the
        batch is in the spool."""
        if run(["unshare", "-rmn", "true"], preload=False)[0] != 0:
            self.skipTest("unshare -rmn is not permitted here")
        conf = os.path.join(self.tmp, "resolv.conf")
        with open(conf, "w") as f:
            f.write("nameserver 127.0.0.1\noptions timeout:30 attempts:1\n")
        ready = os.path.join(self.tmp, "ready")
        script = os.path.join(self.tmp, "black_hole.sh")
        with open(script, "w") as f:
            f.write(f"""ip link set lo up || exit 90
mount --bind {conf} /etc/resolv.conf || exit 91
python3 -c 'import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 53))
print("ready", flush=True)
time.sleep(30)' > {ready} &
hole=$!
i=0
while [ ! -s {ready} ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i + 1)); done
env LD_PRELOAD="$SHIM" "$@"
rc=$?
kill $hole
exit $rc
""")
        # The program's budget is 1 s, the resolver's timeout 30 s.
        endpoint = "http://collector.invalid:4318"
        env = self.env(endpoint, OTEL_PRELOAD_SHUTDOWN_TIMEOUT="1000", SHIM=preload_env()["LD_PRELOAD"])
        rc, out, err = run(["unshare", "-rmn", "sh", script, EXIT_PATHS, "exit", "3"], env=env,
                           preload=False, timeout=BOUND)
        self.assertEqual((rc, out, err), (3, b"", b""))
        found = batches(self.spool)
        self.assertEqual([h["endpoint"] for _, h, _ in found], [endpoint + "/v1/traces"])
        self.assertEqual([s["name"] for s in decode_spooled(self.spool)], ["exit_paths"])

    def exit_fault(self, rcv):
        """The one program, its collector misbehaving at its exit, a 1 s
        budget: exit code and output unchanged, the span in the spool."""
        base = run([EXIT_PATHS, "exit", "3"], preload=False)
        env = self.env(rcv.endpoint, OTEL_PRELOAD_SHUTDOWN_TIMEOUT=1000, OTEL_LOG_LEVEL="info")
        rc, out, err = run([EXIT_PATHS, "exit", "3"], env=env, timeout=BOUND)
        self.assertEqual((rc, out), base[:2])
        counts = loss(err)
        self.assertEqual((counts["exported"], counts["spooled"], counts["export_failed"],
                          counts["shutdown"]), (0, 1, 0, 0), err)
        self.assertIn(b"spooled, to be sent later", err)
        self.assertGreaterEqual(rcv.request_count(), 1)  # it was tried
        self.assertEqual([s["name"] for s in decode_spooled(self.spool)], ["exit_paths"])

    def test_resetting_collector_at_exit_spools(self):
        """Every request answered with half a response head, then a TCP
        reset: retried within the budget, then spooled, not lost."""
        with Receiver(status_seq="reset") as rcv:
            self.exit_fault(rcv)

    def test_slow_collector_at_exit_spools(self):
        """A collector that answers after 15 s (the budget is 1 s): the
        exit ends with the budget, the span spooled."""
        with Receiver(delay_ms=15000) as rcv:
            self.exit_fault(rcv)

    @no_shells_under_tsan
    def test_accounting_equality_multi_process(self):
        """exported + spooled + dropped = produced, on real counts, for a
        tree: a traced shell whose children hand off to its relay, and two
        programs under an untraced shell that export directly. The
        collector answers 200, then 400 (not retryable: dropped), then 503
        (retryable: spooled when the budget ends). Counted by the processes
        (their loss lines and the relay's) and for real: the spans decoded
        from the requests the collector answered 200 or 400, and from the
        spool."""
        shim = preload_env()["LD_PRELOAD"]
        direct = "env -u LD_PRELOAD sh -c 'LD_PRELOAD=\"$SHIM\" /bin/echo %s'"
        script = "; ".join(["/bin/echo a", direct % "b", direct % "c", "/bin/echo d",
                            f"{EXIT_PATHS} exit 3"])
        # sh, echo a, env, echo b, env, echo c, echo d, exit_paths
        produced = sorted(["sh", "echo", "env", "echo", "env", "echo", "echo", "exit_paths"])
        statuses = [200, 400, 503]
        with Receiver(status_seq=statuses) as rcv:
            env = self.env(rcv.endpoint, SHIM=shim, OTEL_LOG_LEVEL="info",
                           OTEL_PRELOAD_SHUTDOWN_TIMEOUT=1000, OTEL_EXPORTER_OTLP_TIMEOUT=1000)
            rc, out, err = run(["sh", "-c", script], env=env, timeout=BOUND)
            self.assertEqual((rc, out), (3, b"a\nb\nc\nd\n"), err)
            decoded = rcv.decoded()
        # Real counts: what the collector took (200), refused (400), and the spool.
        by_seq = sorted({item["seq"] for item in decoded})
        status_of = {seq: statuses[min(i, len(statuses) - 1)] for i, seq in enumerate(by_seq)}
        spans = rcv.spans(decoded)
        delivered = [s["name"] for s in spans if status_of[s["seq"]] == 200]
        refused = [s["name"] for s in spans if status_of[s["seq"]] == 400]
        spooled = [s["name"] for s in decode_spooled(self.spool)]
        self.assertEqual(sorted(delivered + refused + spooled), produced, (delivered, refused, spooled))
        self.assertEqual((delivered, refused), (["echo"], ["echo"]))
        # What the processes said: each line's counts add up to its own
        # spans, the relay's to what its children handed off, and the sums
        # to the real counts.
        text = err.decode()
        lines = [tuple(map(int, m)) for m in re.findall(
            r"spans: exported (\d+), dropped (\d+) \(queue full\), (\d+) \(export failed\), "
            r"(\d+) \(rejected\), (\d+) \(shutdown\), spooled (\d+), handed off (\d+)", text)]
        self.assertEqual(len(lines), len(produced), text)  # one per program image, exec or exit
        relay = re.findall(r"relay: forwarded (\d+) records of child processes, spooled (\d+), "
                           r"lost (\d+)", text)
        self.assertEqual(len(relay), 1, text)
        forwarded, relay_spooled, relay_lost = map(int, relay[0])
        exported = sum(x[0] for x in lines) + forwarded
        dropped = sum(sum(x[1:5]) for x in lines) + relay_lost
        spooled_said = sum(x[5] for x in lines) + relay_spooled
        handed = sum(x[6] for x in lines)
        self.assertEqual(handed, forwarded + relay_spooled + relay_lost, text)
        self.assertEqual((exported, dropped, spooled_said),
                         (len(delivered), len(refused), len(spooled)), text)
        self.assertEqual(exported + dropped + spooled_said, len(produced))

    def test_cap_holds(self):
        down = f"http://127.0.0.1:{free_port()}"
        run([EXIT_PATHS, "exit", "3"], env=self.env(down), timeout=BOUND)
        size = os.path.getsize(os.path.join(self.spool, batches(self.spool)[0][0]))
        cap = size * 2 + size // 2  # room for two
        for _ in range(4):
            rc, _, err = run([EXIT_PATHS, "exit", "3"],
                             env=self.env(down, OTEL_PRELOAD_SPOOL_MAX_BYTES=cap,
                                          OTEL_LOG_LEVEL="info"), timeout=BOUND)
            self.assertEqual(rc, 3)
            self.assertEqual(loss(err)["spooled"], 1, err)
        found = batches(self.spool)
        self.assertEqual(len(found), 2)
        self.assertLessEqual(sum(os.path.getsize(os.path.join(self.spool, n))
                                 for n, _, _ in found), cap)
        self.assertIn(b"evicted 1 batches (1 records)", err)

    def test_cap_zero_never_spools(self):
        down = f"http://127.0.0.1:{free_port()}"
        rc, _, err = run([EXIT_PATHS, "exit", "3"],
                         env=self.env(down, OTEL_PRELOAD_SPOOL_MAX_BYTES=0, OTEL_LOG_LEVEL="info",
                                      OTEL_PRELOAD_SHUTDOWN_TIMEOUT=300),
                         timeout=BOUND)
        self.assertEqual(rc, 3)
        self.assertEqual(loss(err)["export_failed"], 1, err)
        self.assertFalse(os.path.exists(self.spool))


if __name__ == "__main__":
    unittest.main()
