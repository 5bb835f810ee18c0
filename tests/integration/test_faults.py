"""Fault injection into the shim's own calls (issue 17 item 16, SAFETY.md 2
and 6): libfaults.so (progs/faults.c), preloaded in front of the shim,
makes the N-th allocation, open, socket, connect, mmap, thread start, write
or clock read that the shim makes fail (in every process of the run): the
calls from the shim's code, those the C library makes inside the functions
the shim calls that allocate or open (fopen, strdup, vasprintf, dlopen,
getaddrinfo...), and on the shim's own threads every call, the C library's
and libcurl's included.

Each program first runs once in counting mode (OTELP_FAULT_COUNTS): how
many calls of each family a process of it makes is the sweep's bound; then
every N from 1 to that bound, for every family, runs with the N-th call
failing (the runs two at a time; a family whose last N was still reached
goes on, a few at a time, until one is not). A pipeline, a threaded
program that logs and forks, a forking server and a logging program must
keep their exit code and their stdout and stderr bytes and end within the
bound, and the loss counts must add up: the spans (and log records) the
receiver got, plus those the shim says it lost or spooled, are the ones
the program made (as many as in the counting run).

The shim's counts are read from its diagnostics (OTEL_LOG_LEVEL=info: each
process's "spans: exported ..., dropped ..., spooled ..., handed off ..."
line, each relay's per-signal line), the same counts its otel.sdk.* metrics
carry: these short processes live less than a metric interval, and
docs/METRICS.md says such a process reports its losses only there. The
shim's own lines ("otel-preload: ...") are taken out of stderr before it is
compared. Where the counts cannot add up, the test says which of two
reasons it is, and no other is accepted: the failed call was the write of
a process's own report (the count itself was lost), or the process the
fault hit reported nothing at all (the shim turned itself off there, fail
open). Even then nothing arrives twice and no more than the program made.

In the ASan+UBSan build the sweep is sampled (N = 1, 2, then every 8th:
a run costs ~0.7 s there; the full sweep is the coverage build's) and leaves out the allocation
family: libfaults_noalloc.so goes in front of the sanitizer's runtime, whose
allocator must stay the only one. Not in the TSan build (its runtime
cannot be preloaded into shells: no_shells_under_tsan)."""
import collections
import concurrent.futures
import os
import re
import subprocess
import tempfile
import unittest

from common import PROGS, SANITIZED, Receiver, run, no_shells_under_tsan
from harness import NodeServer, have_node_modules

ASAN = os.environ.get("OTELP_SANITIZE") == "address"
FAULTS_LIB = os.path.join(PROGS, "libfaults_noalloc.so" if ASAN else "libfaults.so")
FAMILIES = ["alloc", "open", "socket", "connect", "mmap", "thread", "write", "clock"]
if ASAN:
    FAMILIES.remove("alloc")
# tail, not head: a head that exits early kills sort by SIGPIPE at a moment
# that varies, and a process killed by a signal prints no loss line.
PROGRAMS = {
    "pipeline": ["sh", "-c", "seq 1 3000 | sort -rn | tail -n 3; echo end; ls /nonexistent"],
    "threads": [os.path.join(PROGS, "vg_threads"), "4"],
    "server": [os.path.join(PROGS, "fork_server"), "3"],
    "logging": [os.path.join(PROGS, "logging"), "errwarn"],
}
BOUND_S = 30  # a run's wall-clock bound (the default shutdown budget is 5 s)
PARALLEL = 2  # runs at a time (the CI machines have 2 cores)

BATCHER = re.compile(
    r"^otel-preload: info: .*\[(\d+)\]: (spans|logs): exported (\d+), dropped (\d+) \(queue "
    r"full\), (\d+) \(export failed\), (\d+) \(rejected\), (\d+) \(shutdown\), spooled (\d+), "
    r"handed off (\d+)$", re.M)
RELAY = re.compile(r"^otel-preload: info: relay\[(\d+)\]: (traces|logs|metrics): forwarded "
                   r"(\d+), spooled (\d+), lost (\d+)$", re.M)
NO_MEMORY = re.compile(
    r"^otel-preload: info: .*\[(\d+)\]: (spans|logs): dropped (\d+) \(no memory\)", re.M)
DELIVERED = re.compile(r"^otel-preload: info: spool: delivered (\d+) (spans|log records) ", re.M)


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


def record_key(r):
    """What tells a span, or a log record, from every other."""
    if r.get("spanId") and "name" in r:
        return r["spanId"]
    return (r.get("timeUnixNano"), r.get("observedTimeUnixNano"), repr(r.get("body")),
            r.get("spanId"), r["resource"].get("process.pid"))


def without_shim_lines(err):
    """stderr without the shim's own diagnostic lines (each one write)."""
    return b"".join(line for line in err.splitlines(keepends=True)
                    if not line.startswith(b"otel-preload: "))


def accounted(err):
    """What the shim's diagnostics say became of the records: per signal
    ("spans", "logs"), {"lost": N, "spooled": N}, and the pids that
    reported."""
    text = err.decode(errors="replace")
    out = {sig: collections.Counter() for sig in ("spans", "logs")}
    pids = set()
    for m in BATCHER.finditer(text):
        pid, sig = int(m.group(1)), m.group(2)
        _exported, queue_full, failed, rejected, shutdown, spooled, _handed = map(
            int, m.groups()[2:])
        pids.add(pid)
        out[sig]["lost"] += queue_full + failed + rejected + shutdown
        out[sig]["spooled"] += spooled
    for m in RELAY.finditer(text):
        sig = {"traces": "spans", "logs": "logs"}.get(m.group(2))
        if sig:
            out[sig]["lost"] += int(m.group(5))
            out[sig]["spooled"] += int(m.group(4))
    for m in NO_MEMORY.finditer(text):
        out[m.group(2)]["lost"] += int(m.group(3))
    for m in DELIVERED.finditer(text):
        sig = "spans" if m.group(2) == "spans" else "logs"
        out[sig]["spooled"] -= int(m.group(1))  # spooled, then delivered: received
    return out, pids


@unittest.skipIf(SANITIZED and not ASAN, "only the coverage and ASan builds")
@no_shells_under_tsan
class Faults(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.skip = skip_ranges(os.environ["OTELP_LIB"])
        cls.summary = []

    def run_faulty(self, cmd, env):
        # In front of the sanitizer's runtime (ASAN_OPTIONS has
        # verify_asan_link_order=0), so the shim's calls reach it first.
        prefix = os.environ.get("OTELP_PRELOAD_PREFIX", "").strip()
        preload = " ".join(x for x in (FAULTS_LIB, prefix, os.environ["OTELP_LIB"]) if x)
        full = dict(env, OTELP_FAULT_SKIP=self.skip, GCOV_ERROR_FILE="/dev/null",
                    OTEL_LOG_LEVEL="info")
        # env(1) sets LD_PRELOAD (the harness's run() would set its own).
        rc, out, err = run(["env", "LD_PRELOAD=" + preload] + cmd, env=full, preload=False,
                           timeout=BOUND_S)
        return (rc, out, without_shim_lines(err)), err

    def env_for(self, rcv, d, case, extra=None):
        # A short schedule delay: the export thread (and a parent's relay
        # thread) start in these short programs. Each run its own service
        # name (its spans told apart in the one receiver) and spool.
        return {"OTEL_EXPORTER_OTLP_ENDPOINT": rcv.endpoint, "OTEL_SERVICE_NAME": case,
                "OTEL_BSP_SCHEDULE_DELAY": "10", "OTEL_BLRP_SCHEDULE_DELAY": "10",
                "OTEL_PRELOAD_SPOOL_DIR": os.path.join(d, "spool-" + case), **(extra or {})}

    def sweep(self, name, server=Receiver, extra=None, sample=None, title=None, known=None,
              resends=False):
        """extra: more variables for every run; sample(n, bound): whether
        to run N (all of them by default; sampled in the ASan build);
        known: a stderr line a library the shim loads may add (SAFETY.md
        names it), taken out and counted; resends: a failure after a
        request went out is allowed its two outcomes (SAFETY.md): libcurl
        sends it again (records received twice: counted once, and
        counted), or the answer is not read (delivered, yet counted lost:
        counted)."""
        cmd = PROGRAMS[name]
        base = run(cmd, preload=False)
        if sample is None and ASAN:
            sample = lambda n, bound: n <= 2 or n % 8 == 1  # noqa: E731
        with tempfile.TemporaryDirectory() as d, server() as rcv:
            # Counting mode: how many calls of each family, and what the
            # program makes when nothing fails.
            counts_file = os.path.join(d, "counts")
            got, err = self.run_faulty(cmd, dict(self.env_for(rcv, d, "count", extra),
                                                 OTELP_FAULT_COUNTS=counts_file))
            self.assertEqual(got, base, "%s, counting run" % name)
            bound = collections.Counter()
            with open(counts_file) as f:
                for line in f:
                    _pid, family, n = line.split()[:3]
                    bound[family] = max(bound[family], int(n))
            errs = {"count": err}
            # Every N to the count (at least 1: a family the counting run
            # never called is tried once); a run that still reached its N
            # (the counts vary a little from run to run: threads, timing)
            # extends its family by a few more, until one is not reached.
            cases = [(family, n) for family in FAMILIES
                     for n in range(1, max(bound[family], 1) + 1)
                     if sample is None or sample(n, bound[family])]

            def one(case):
                family, n = case
                label = "%s-%d" % case
                log = os.path.join(d, "log-" + label)
                env = dict(self.env_for(rcv, d, label, extra), OTELP_FAULT="%s:%d" % case,
                           OTELP_FAULT_LOG=log)
                got, err = self.run_faulty(cmd, env)
                faulted = []
                if os.path.exists(log):
                    with open(log) as f:
                        faulted = [line.split() for line in f]
                return case, got, err, faulted

            results = []
            known_lines = collections.Counter()
            with concurrent.futures.ThreadPoolExecutor(PARALLEL) as pool:
                while cases:
                    last = {}
                    for case, got, err, faulted in pool.map(one, cases):
                        if known and known.search(got[2]):
                            got = (got[0], got[1], known.sub(b"", got[2]))
                            known_lines[case[0]] += 1
                        self.assertEqual(got, base, "%s, %s call %d failing" % ((name,) + case))
                        results.append((case, err, faulted))
                        last[case[0]] = (case[1], bool(faulted))
                    cases = [(family, n + k) for family, (n, reached) in sorted(last.items())
                             if reached and sample is None for k in range(1, 5)]
                    self.assertLess(max([n for _, n in cases], default=0), 8192,
                                    "%s: no end to the calls" % name)
                    for family, n in cases:
                        bound[family] = max(bound[family], n)
            decoded = rcv.decoded()
            spans, logs = rcv.spans(decoded), rcv.logs(decoded)

        by_case = {sig: collections.defaultdict(list) for sig in ("spans", "logs")}
        for sig, records in (("spans", spans), ("logs", logs)):
            for r in records:
                by_case[sig][r["resource"].get("service.name")].append(r)
        made = {sig: len(by_case[sig]["count"]) for sig in by_case}
        counts, _ = accounted(errs["count"])
        for sig in made:
            self.assertEqual(counts[sig]["lost"] + counts[sig]["spooled"], 0, (name, sig))
        self.assertGreater(made["spans"], 0, name)

        unavailable = collections.Counter()
        resent, after_send = collections.Counter(), collections.Counter()
        for (family, n), err, faulted in results:
            label = "%s-%d" % (family, n)
            what = "%s, %s call %d failing" % (name, family, n)
            counts, reported = accounted(err)
            hit = {int(f[0]) for f in faulted}
            why = None
            if any(f[3:] == ["diag"] for f in faulted):
                why = "the failed write was a process's own report"
            elif hit - reported:
                why = "the process the fault hit reported nothing (the shim was off there)"
            for sig in made:
                got = by_case[sig].get(label, [])
                ids = collections.Counter(record_key(r) for r in got)
                twice = [i for i, c in ids.items() if c > 1]
                if resends and twice:
                    resent[family] += len(twice)
                    got = list(ids)
                else:
                    self.assertEqual(twice, [], "%s: a record twice (%s)" % (what, sig))
                total = len(got) + counts[sig]["lost"] + counts[sig]["spooled"]
                self.assertLessEqual(len(got), made[sig], "%s: more %s than made" % (what, sig))
                if resends and total > made[sig]:
                    # Delivered, yet counted lost: the failure came after
                    # the request went out (its answer was not read).
                    after_send[family] += total - made[sig]
                    continue
                if total != made[sig]:
                    self.assertIsNotNone(
                        why, "%s: %s: %d received + %d lost + %d spooled, not the %d made"
                        % (what, sig, len(got), counts[sig]["lost"], counts[sig]["spooled"],
                           made[sig]))
                    self.assertLess(total, made[sig], "%s: %s: more than made" % (what, sig))
                    unavailable[why] += 1
        self.summary.append("faults: %s: %d runs (swept to N: %s); counts unavailable: %s" % (
            title or name, len(results), ", ".join("%s %d" % (f, bound[f]) for f in FAMILIES),
            dict(unavailable) or "none")
            + ("; the known stderr line: %s" % dict(known_lines) if known else "")
            + ("; records libcurl sent twice: %s, delivered but counted lost: %s"
               % (dict(resent) or "none", dict(after_send) or "none") if resends else ""))
        # The shim was there to fail: every program allocates and opens.
        if not ASAN:
            self.assertGreater(bound["alloc"], 0, name)
        self.assertGreater(bound["open"], 0, name)

    def test_pipeline(self):
        self.sweep("pipeline")

    def test_threaded_program(self):
        self.sweep("threads")

    def test_forking_server(self):
        self.sweep("server")

    def test_logging_program(self):
        self.sweep("logging")

    @unittest.skipIf(ASAN, "the coverage build's")
    def test_libcurl_transport(self):
        """gRPC: the relay and the export thread export through libcurl
        (dlopen'd), whose own allocations, sockets and writes on the
        shim's threads fail too (~1,700 allocations for this program).
        Sampled: every N to 8, then 12 more spread to the count
        (OTELP_FAULT_FULL=1: every N, a few minutes)."""
        if not have_node_modules():
            self.skipTest("no node_modules in tests/interop")
        full = os.environ.get("OTELP_FAULT_FULL") == "1"
        self.sweep("threads", server=lambda: NodeServer("grpc"),
                   extra={"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
                   sample=None if full else lambda n, bound: n <= 8 or n % max(1, bound // 12) == 0,
                   title="threads over gRPC (libcurl)",
                   known=re.compile(rb"^Error in GnuTLS initialization: [^\n]*\n", re.M),
                   resends=True)

    @classmethod
    def tearDownClass(cls):
        for line in cls.summary:
            print(line)


if __name__ == "__main__":
    unittest.main()
