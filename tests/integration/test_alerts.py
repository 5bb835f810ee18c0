"""Alert rules (docs/ALERTS.md): `otel-preload alerts check`, a real `otel-preload dash --rules`
evaluating per-record and aggregate rules over what real programs under the shim (and OTLP
requests) send it, the states in GET /api/v1/alerts and the store, and the notifications: a
webhook test receiver (Alertmanager's v4 payload), a real Alertmanager (Debian's
prometheus-alertmanager, on loopback), a command, the server's log."""
import http.server
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.request

from common import free_port, no_shells_under_tsan
from test_server import OTEL_PRELOAD, Dash, Env, get, log_record, logs_request, post, sid, span, tid, \
    traces_request

PROGS = os.environ.get("OTELP_PROGS", "")
ALERTMANAGER = shutil.which("prometheus-alertmanager") or "/usr/bin/prometheus-alertmanager"


def wait_for(what, fn, timeout=20.0):
    """fn() until it returns something true, within timeout seconds (a bound, not an assert)."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.05)


class Webhook:
    """A webhook receiver on loopback: keeps every JSON body; answers 500 while `failing`."""

    def __init__(self):
        self.bodies = []
        self.failing = 0
        self.lock = threading.Lock()
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                with outer.lock:
                    fail = outer.failing > 0
                    if fail:
                        outer.failing -= 1
                    else:
                        outer.bodies.append(json.loads(body))
                self.send_response(500 if fail else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = "http://127.0.0.1:%d/hook" % self.srv.server_address[1]
        self.thread = threading.Thread(target=self.srv.serve_forever, daemon=True)
        self.thread.start()

    def got(self, status, alertname=None):
        with self.lock:
            return [b for b in self.bodies if b["status"] == status and
                    (alertname is None or b["commonLabels"]["alertname"] == alertname)]

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


class Alertmanager:
    """Debian's prometheus-alertmanager on a loopback port, with a temporary config and storage."""

    def __init__(self, tmp, port, hook_url=None):
        """hook_url: Alertmanager's own webhook receiver, sent resolved alerts too."""
        self.port = port
        d = tempfile.mkdtemp(dir=tmp)
        cfg = os.path.join(d, "am.yml")
        with open(cfg, "w") as f:
            if hook_url:
                f.write("route:\n  receiver: hook\n  group_wait: 1s\n  group_interval: 1s\n"
                        "receivers:\n  - name: hook\n    webhook_configs:\n"
                        "      - {url: '%s', send_resolved: true}\n" % hook_url)
            else:
                f.write("route:\n  receiver: blackhole\n  group_wait: 1s\nreceivers:\n  - name: blackhole\n")
        self.proc = subprocess.Popen(
            [ALERTMANAGER, "--config.file=" + cfg, "--storage.path=" + os.path.join(d, "data"),
             "--web.listen-address=127.0.0.1:%d" % port, "--cluster.listen-address="],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for("alertmanager to answer", self.ready)

    def ready(self):
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/api/v2/status" % self.port, timeout=2):
                return True
        except OSError:
            if self.proc.poll() is not None:
                raise AssertionError("prometheus-alertmanager exited")
            return False

    def alerts(self):
        with urllib.request.urlopen("http://127.0.0.1:%d/api/v2/alerts" % self.port, timeout=5) as r:
            return json.loads(r.read())

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def api_alerts(port, query=""):
    st, body = get(port, "/api/v1/alerts" + query)
    assert st == 200, (st, body)
    return json.loads(body)


def rule_of(doc, name):
    return next(r for r in doc["rules"] if r["name"] == name)


def notifier_of(port, name):
    """The counters of the notifier of that name in GET /api/v1/alerts ({} until it is there)."""
    return {n["name"]: n for n in api_alerts(port)["notifiers"]}.get(name, {})


def fatal_rule(labels=""):
    """A rules file's head: group g (every 1 s) with the rule Fatal (any FATAL log record,
    firing for an hour, summary its body), then `labels` (YAML lines) and whatever follows."""
    return """\
groups:
  - name: g
    interval: 1s
    rules:
      - alert: Fatal
        signal: logs
        where: severity >= FATAL
        keep_firing_for: 1h
""" + labels + """\
        annotations: {summary: "{{ .body }}"}
"""


class AlertsTest(unittest.TestCase):
    def setUp(self):
        self.e = Env()
        self.dashes = []
        self.closers = []

    def tearDown(self):
        for d in self.dashes:
            d.stop()
        for c in self.closers:
            c()
        self.e.tmp.cleanup()

    def rules(self, text, name="rules.yaml"):
        path = os.path.join(self.e.tmp.name, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def check(self, text, name):
        """Writes a rules file; `otel-preload alerts check` on it: (path, rc, stdout, stderr)."""
        path = self.rules(text, name)
        rc, out, err = self.e.run(["alerts", "check", path])
        return path, rc, out, err

    def check_fails(self, text, name, message):
        """`alerts check` exits 2 and its stderr starts with path + message; returns the path."""
        path, rc, out, err = self.check(text, name)
        self.assertEqual(rc, 2)
        self.assertTrue(err.decode().startswith(path + message), err)
        return path

    def dash(self, rules):
        d = Dash(self.e, "--rules", rules)
        self.dashes.append(d)
        return d

    def stop(self, d):
        """Stops d; returns its exit status and what it wrote to stderr (its log)."""
        d.proc.send_signal(signal.SIGTERM)
        log = d.proc.stderr.read().decode()
        rc = d.stop()
        self.dashes.remove(d)
        return rc, log

    def post_fatal(self, d):
        """A FATAL log record "out of memory" to d (the Fatal rule of fatal_rule)."""
        st, _ = post(d.port, "/v1/logs", logs_request([log_record(time.time_ns(), 21, "out of memory")]))
        self.assertEqual(st, 200)

    def webhook(self):
        w = Webhook()
        self.closers.append(w.close)
        return w

    # ---- the rules file ----

    def test_check_reports_file_line_and_column(self):
        good, rc, out, err = self.check("""\
groups:
  - name: build
    rules:
      - alert: SlowCC1
        signal: spans
        where: name = "cc1" and duration > 30s
      - alert: ManyErrors
        signal: logs
        where: severity >= ERROR
        aggregate: count
        window: 1m
        op: ">"
        threshold: 10
notify:
  - kind: webhook
    url: http://127.0.0.1:9/hook
""", "good.yaml")
        self.assertEqual((rc, err), (0, b""))
        self.assertEqual(out.decode(), good + ": 2 rules (1 per-record, 1 aggregate), 1 notifiers: OK\n")
        # a filter error: the column inside the filter, counted on the file's line
        bad, rc, out, err = self.check("""\
groups:
  - name: build
    rules:
      - alert: SlowCC1
        signal: spans
        where: name = "cc1" and duration >
""", "bad.yaml")
        self.assertEqual(rc, 2)
        first = err.decode().splitlines()[0]
        self.assertTrue(first.startswith(bad + ":6:43: where: expected a value after '>' at column 28"), first)
        # a typo in a key, and YAML that does not parse
        self.check_fails("groups:\n  - name: g\n    rules:\n      - alert: A\n        signal: logs\n"
                         "        treshold: 3\n", "typo.yaml", ":6:9: unknown key 'treshold' in a rule")
        self.check_fails("groups:\n  - name: [x\n", "broken.yaml", ":3:1: not YAML")
        # a key given twice (its second value replaced the first, leaking it: fuzz_rules)
        self.check_fails("groups: []\nnotify:\n  - kind: log\nnotify:\n  - kind: log\n",
                         "twice.yaml", ":4:1: 'notify' given twice")
        self.check_fails("groups:\n  - name: g\n    rules:\n      - alert: A\n        signal: logs\n"
                         "        where: name = \"a\"\n        where: name = \"b\"\n", "twice2.yaml",
                         ":7:9: 'where' given twice")
        # a notifier URL: http:// only (no TLS in the notifier); the port may be left out (80)
        webhook = "groups: []\nnotify:\n  - kind: webhook\n    url: %s\n"
        self.check_fails(webhook % "https://hooks.example/x", "tls.yaml",
                         ":4:10: 'url' is an http:// URL (no TLS")
        _, rc, out, err = self.check(webhook % "http://hooks.example/x", "noport.yaml")
        self.assertEqual((rc, err), (0, b""))
        # the server refuses to start on a bad file, with the same message
        rc, out, err = self.e.run(["dash", "--port", "0", "--rules", bad])
        self.assertEqual(rc, 2)
        self.assertTrue(err.decode().startswith(bad + ":6:43: "), err)

    # ---- per-record rules ----

    @no_shells_under_tsan
    def test_failed_program_fires_at_once_notifies_and_resolves(self):
        hook = self.webhook()
        rules = self.rules("""\
groups:
  - name: programs
    interval: 1s
    rules:
      - alert: ProgramFailed
        signal: spans
        where: process.exit.code != 0
        window: 1s
        group_by: [name]
        labels: {severity: warning}
        annotations:
          summary: "{{ .name }} exited with {{ .attributes.process.exit.code }}"
notify:
  - kind: webhook
    url: %s
  - kind: log
""" % hook.url)
        d = self.dash(rules)
        rc, out, err = self.e.run(["run", "--quiet", "--", "sh", "-c", "true; exit 3"])
        self.assertEqual(rc, 3)
        fired = wait_for("the firing webhook", lambda: hook.got("firing"))
        p = fired[0]
        self.assertEqual(p["version"], "4")
        self.assertEqual(p["receiver"], "webhook-1")
        self.assertEqual(p["groupLabels"], {"alertname": "ProgramFailed"})
        a = p["alerts"][0]
        self.assertEqual(a["status"], "firing")
        self.assertEqual(a["labels"], {"alertname": "ProgramFailed", "severity": "warning", "name": "sh"})
        self.assertEqual(a["annotations"], {"summary": "sh exited with 3"})
        self.assertEqual(a["endsAt"], "0001-01-01T00:00:00Z")
        self.assertEqual(len(a["fingerprint"]), 16)
        # resolved once no failing program was seen for `window`
        res = wait_for("the resolved webhook", lambda: hook.got("resolved"))
        self.assertEqual(res[0]["alerts"][0]["fingerprint"], a["fingerprint"])
        self.assertNotEqual(res[0]["alerts"][0]["endsAt"], "0001-01-01T00:00:00Z")
        doc = api_alerts(d.port)
        r = rule_of(doc, "ProgramFailed")
        self.assertEqual((r["kind"], r["signal"], r["health"]), ("record", "spans", "ok"))
        self.assertEqual(r["alerts"][0]["state"], "resolved")
        rec = r["alerts"][0]["records"][0]
        self.assertEqual(rec["name"], "sh")
        spans = self.e.sql("SELECT trace_id, span_id FROM spans WHERE name = 'sh'")
        self.assertEqual((rec["trace_id"], rec["span_id"]), spans[0])
        self.assertEqual([(h["from"], h["to"]) for h in doc["history"]],
                         [("firing", "resolved"), ("inactive", "firing")])
        wait_for("the counters", lambda: [n for n in api_alerts(d.port)["notifiers"]
                                          if n["name"] == "webhook-1" and n["sent"] == 2])
        rc, log = self.stop(d)
        self.assertEqual(rc, 0)
        # the value of a per-record span rule is its duration in seconds
        self.assertRegex(log, r'otel-preload: alert FIRING ProgramFailed \{alertname="ProgramFailed", '
                         r'severity="warning", name="sh"\} value=[0-9.e-]+: sh exited with 3 \(trace ' +
                         spans[0][0] + r'\)\n')
        self.assertIn('otel-preload: alert RESOLVED ProgramFailed', log)

    def test_a_span_delivered_again_is_the_record_already_counted(self):
        """OTLP is at least once (a retry whose first try got through, a spool
        drained later): the same span again does not fire a resolved alert."""
        hook = self.webhook()
        rules = self.rules("""\
groups:
  - name: g
    interval: 1s
    rules:
      - alert: Failed
        signal: spans
        where: name = "job" or name = "marker"
        window: 1s
        group_by: [name]
notify:
  - kind: webhook
    url: %s
""" % hook.url)
        d = self.dash(rules)
        now = time.time_ns()
        job = traces_request([span(tid(9), sid(9), "job", now - 10**6, now)])
        self.assertEqual(post(d.port, "/v1/traces", job)[0], 200)
        fired = wait_for("the firing webhook", lambda: hook.got("firing"))
        wait_for("the resolved webhook", lambda: hook.got("resolved"))
        self.assertEqual(post(d.port, "/v1/traces", job)[0], 200)  # the same span again
        # a new span of another group: once it fired, the duplicate was looked at
        marker = traces_request([span(tid(10), sid(10), "marker", now, now + 1)])
        self.assertEqual(post(d.port, "/v1/traces", marker)[0], 200)
        wait_for("the marker firing", lambda: [a for a in rule_of(api_alerts(d.port), "Failed")["alerts"]
                                               if a["labels"].get("name") == "marker"
                                               and a["state"] == "firing"])
        job_alert = [a for a in rule_of(api_alerts(d.port), "Failed")["alerts"]
                     if a["labels"].get("name") == "job"]
        self.assertEqual([a["state"] for a in job_alert], ["resolved"])
        self.assertEqual(len(job_alert[0]["records"]), 1)
        firing_jobs = [p for p in hook.got("firing")
                       if any(a["labels"].get("name") == "job" for a in p["alerts"])]
        self.assertEqual(len(firing_jobs), 1, fired)

    def test_crash_fires_through_the_log_and_alerts_lists_it(self):
        hook = self.webhook()
        rules = self.rules("""\
groups:
  - name: crashes
    interval: 1s
    rules:
      - alert: Crash
        signal: spans
        where: process.exit.signal exists
        keep_firing_for: 1h
        annotations:
          summary: "{{ .name }} died of signal {{ .attributes.process.exit.signal }}"
notify:
  - kind: log
  - kind: webhook
    url: %s
repeat_interval: 1s
""" % hook.url)
        d = self.dash(rules)
        crash = os.path.join(PROGS, "crash")
        rc, out, err = self.e.run(["run", "--quiet", "--", crash, "segv"])
        self.assertEqual(rc, -signal.SIGSEGV)  # `run` dies the way its command died
        r = wait_for("the crash alert", lambda: [a for a in rule_of(api_alerts(d.port), "Crash")["alerts"]
                                                 if a["state"] == "firing"])
        self.assertEqual(r[0]["annotations"], {"summary": "crash died of signal 11"})
        rc, out, err = self.e.run(["alerts"])
        self.assertEqual(rc, 0)
        text = out.decode()
        self.assertIn("FIRING   Crash (spans, record): process.exit.signal exists", text)
        self.assertIn("crash died of signal 11", text)
        self.assertIn("inactive -> firing", text)
        # still firing: sent again every repeat_interval
        again = wait_for("a repeated notification", lambda: len(hook.got("firing")) >= 2 and hook.got("firing"))
        self.assertEqual(again[0]["alerts"][0]["fingerprint"], again[1]["alerts"][0]["fingerprint"])
        self.assertEqual(again[0]["alerts"][0]["startsAt"], again[1]["alerts"][0]["startsAt"])
        rc, log = self.stop(d)
        self.assertEqual(rc, 0)
        self.assertRegex(log, r'otel-preload: alert FIRING Crash \{alertname="Crash"\} value=[0-9.e-]+: '
                         r'crash died of signal 11 \(trace [0-9a-f]{32}\)')

    # ---- aggregates, `for`, errors ----

    def test_aggregate_holds_for_then_fires_and_resolves(self):
        hook = self.webhook()
        rules = self.rules("""\
groups:
  - name: logs
    interval: 1s
    rules:
      - alert: ErrorBurst
        signal: logs
        where: severity >= ERROR
        aggregate: count
        window: 3s
        op: ">="
        threshold: 3
        for: 1s
        group_by: [service.name]
        annotations:
          summary: "{{ .value }} errors from {{ .service.name }}"
notify:
  - kind: webhook
    url: %s
""" % hook.url)
        hook.failing = 2  # the receiver answers 500 twice: retried with backoff
        d = self.dash(rules)
        now = time.time_ns()
        recs = [log_record(now, 17, "disk full %d" % i, tid(7), sid(i + 1)) for i in range(3)]
        recs.append(log_record(now, 9, "fine"))
        st, _ = post(d.port, "/v1/logs", logs_request(recs, {"service.name": "etl"}))
        self.assertEqual(st, 200)
        states = []

        def seen():
            for a in rule_of(api_alerts(d.port), "ErrorBurst")["alerts"]:
                if not states or states[-1] != a["state"]:
                    states.append(a["state"])
            return "firing" in states
        wait_for("ErrorBurst firing", seen)
        self.assertEqual(states[0], "pending")  # held for `for` before firing
        p = wait_for("the firing webhook", lambda: hook.got("firing"))[0]
        self.assertEqual(p["commonLabels"], {"alertname": "ErrorBurst", "service.name": "etl"})
        self.assertEqual(p["commonAnnotations"], {"summary": "3 errors from etl"})
        wait_for("the resolved webhook", lambda: hook.got("resolved"))
        a = rule_of(api_alerts(d.port), "ErrorBurst")["alerts"][0]
        self.assertEqual(a["state"], "resolved")
        self.assertEqual(a["fired_at_ns"] - a["active_at_ns"] >= 1000000000, True)
        self.assertEqual(sorted(r["span_id"] for r in a["records"]),
                         ["0000000000000001", "0000000000000002", "0000000000000003"])
        hist = [(h["from"], h["to"]) for h in api_alerts(d.port, "?rule=ErrorBurst")["history"]]
        self.assertEqual(hist, [("firing", "resolved"), ("pending", "firing"), ("inactive", "pending")])
        n = wait_for("the counters", lambda: [n for n in api_alerts(d.port)["notifiers"] if n["sent"] == 2])[0]
        self.assertEqual((n["failed"], n["queued"], n["dropped"]), (2, 0, 0))
        self.assertEqual(n["last_error"], hook.url + " answered HTTP 500")
        self.assertEqual(len(hook.got("firing")), 1)  # delivered once, after the retries

    def test_metric_rules(self):
        rules = self.rules("""\
groups:
  - name: metrics
    interval: 1s
    rules:
      - alert: QueueBacklog
        signal: metrics
        where: name = "queue.depth"
        aggregate: max
        window: 1m
        threshold: 100
        group_by: [queue]
        annotations: {summary: "{{ .labels.queue }} holds {{ .value }}"}
      - alert: DiskErrors
        signal: metrics
        where: name = "disk.errors" and value > 0
        window: 1h  # firing until the test looks (QueueBacklog's wait can pass the 1s default)
""")
        d = self.dash(rules)
        now = time.time_ns()

        def gauge(name, value, attrs):
            return {"name": name, "unit": "1", "gauge": {"dataPoints": [
                {"timeUnixNano": str(now), "asInt": str(value),
                 "attributes": [{"key": k, "value": {"stringValue": v}} for k, v in attrs.items()]}]}}
        body = {"resourceMetrics": [{
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "worker"}}]},
            "scopeMetrics": [{"scope": {"name": "t"}, "metrics": [
                gauge("queue.depth", 120, {"queue": "jobs"}), gauge("queue.depth", 3, {"queue": "mail"}),
                gauge("disk.errors", 2, {"device": "sda"})]}]}]}
        st, resp = post(d.port, "/v1/metrics", json.dumps(body).encode(), ctype="application/json")
        self.assertEqual(st, 200, resp)

        def firing(rule):
            return [a for a in rule_of(api_alerts(d.port), rule)["alerts"] if a["state"] == "firing"]
        q = wait_for("QueueBacklog", lambda: firing("QueueBacklog"))
        self.assertEqual(len(q), 1)  # the mail queue is below the threshold
        self.assertEqual(q[0]["labels"], {"alertname": "QueueBacklog", "queue": "jobs"})
        self.assertEqual((q[0]["value"], q[0]["annotations"]), (120, {"summary": "jobs holds 120"}))
        self.assertEqual([(r["name"], r["value"], r["trace_id"]) for r in q[0]["records"]],
                         [("queue.depth", 120, None)])
        e = wait_for("DiskErrors", lambda: firing("DiskErrors"))
        self.assertEqual(e[0]["value"], 2)

    def test_rule_that_errors_is_shown_as_errored(self):
        rules = self.rules("""\
groups:
  - name: g
    interval: 1s
    rules:
      - alert: PerSpan
        signal: spans
        where: name = "x"
        group_by: [span_id]
""")
        d = self.dash(rules)
        spans = [span(tid(1), sid(i + 1), "x", 1000, 2000) for i in range(1001)]
        st, _ = post(d.port, "/v1/traces", traces_request(spans))
        self.assertEqual(st, 200)
        r = wait_for("the rule's error", lambda: [r for r in api_alerts(d.port)["rules"]
                                                  if r["health"] == "error"])[0]
        self.assertEqual(r["error"], "more than 1000 label sets: group_by makes too many alerts")
        rc, out, err = self.e.run(["alerts"])
        self.assertIn("ERROR    PerSpan", out.decode())

    # ---- state in the store ----

    def test_state_survives_a_restart(self):
        hook = self.webhook()
        rules = self.rules("""\
groups:
  - name: g
    interval: 1s
    rules:
      - alert: SlowQuery
        signal: spans
        where: name = "query" and duration > 2s
        keep_firing_for: 1h
notify:
  - kind: webhook
    url: %s
""" % hook.url)
        d = self.dash(rules)
        now = time.time_ns()
        st, _ = post(d.port, "/v1/traces", traces_request([span(tid(5), sid(5), "query", now - 3 * 10**9, now)]))
        self.assertEqual(st, 200)
        a = wait_for("firing", lambda: [a for a in rule_of(api_alerts(d.port), "SlowQuery")["alerts"]
                                        if a["state"] == "firing"])[0]
        self.assertEqual(a["value"], 3.0)
        self.assertEqual(self.stop(d)[0], 0)
        # the store keeps it while no server runs, and a new server goes on from it
        rc, out, err = self.e.run(["alerts", "--json"])
        self.assertEqual(json.loads(out)["rules"][0]["alerts"][0]["fired_at_ns"], a["fired_at_ns"])
        d = self.dash(rules)
        time.sleep(1.5)  # a few evaluations of the new server (no assertion on time)
        b = rule_of(api_alerts(d.port), "SlowQuery")["alerts"][0]
        self.assertEqual((b["state"], b["fired_at_ns"], b["fingerprint"]),
                         ("firing", a["fired_at_ns"], a["fingerprint"]))
        hist = api_alerts(d.port)["history"]
        self.assertEqual([(h["from"], h["to"]) for h in hist], [("inactive", "firing")])
        self.assertEqual(len(hook.got("firing")), 1)  # not notified again (repeat_interval: 4h)

    # ---- notifiers ----

    def test_alertmanager_down_then_up(self):
        if not os.path.exists(ALERTMANAGER):
            self.skipTest("prometheus-alertmanager is not installed (scripts/setup)")
        am_port = free_port()
        rules = self.rules(fatal_rule("        labels: {team: build}\n") + """\
      - alert: Brief
        signal: logs
        where: body contains "transient"
        window: 1s
notify:
  - kind: alertmanager
    url: http://127.0.0.1:%d
""" % am_port)
        d = self.dash(rules)
        self.post_fatal(d)

        def notifier():
            return notifier_of(d.port, "alertmanager-1")
        # Alertmanager down: the notification waits in the queue, retried
        wait_for("a failed delivery", lambda: notifier().get("failed", 0) >= 1)
        self.assertEqual(notifier()["queued"], 1)
        self.assertIn("Connection refused", notifier()["last_error"])
        hook = self.webhook()  # what Alertmanager itself notifies
        am = Alertmanager(self.e.tmp.name, am_port, hook.url)
        self.closers.append(am.stop)
        listed = wait_for("alertmanager to list the alert",
                          lambda: [a for a in am.alerts() if a["labels"].get("alertname") == "Fatal"])
        self.assertEqual(listed[0]["labels"], {"alertname": "Fatal", "team": "build"})
        self.assertEqual(listed[0]["annotations"], {"summary": "out of memory"})
        self.assertEqual(listed[0]["status"]["state"], "active")
        n = wait_for("the counters", lambda: notifier().get("sent") and notifier())
        self.assertEqual((n["sent"], n["queued"], n["dropped"]), (1, 0, 0))
        # an alert that fires and resolves: Alertmanager lists it, then takes it as resolved
        # (its API no longer lists it; its own receiver gets it with status resolved)
        st, _ = post(d.port, "/v1/logs", logs_request([log_record(time.time_ns(), 13, "transient glitch")]))
        self.assertEqual(st, 200)

        def brief():
            return [a for a in am.alerts() if a["labels"].get("alertname") == "Brief"]
        # (it may be resolved before this test sees Alertmanager list it as active)
        wait_for("Brief resolved in our API", lambda: [
            a for a in rule_of(api_alerts(d.port), "Brief")["alerts"] if a["state"] == "resolved"])
        wait_for("alertmanager to drop the resolved Brief", lambda: not brief())

        def notified(name, status):  # one group (no group_by): its alerts carry their own status
            with hook.lock:
                return [a for b in hook.bodies for a in b["alerts"]
                        if a["labels"]["alertname"] == name and a["status"] == status]
        got = wait_for("alertmanager's resolved notification", lambda: notified("Brief", "resolved"))
        self.assertEqual(got[0]["labels"], {"alertname": "Brief"})
        self.assertNotEqual(got[0]["endsAt"], "0001-01-01T00:00:00Z")
        self.assertEqual(notified("Fatal", "resolved"), [])  # still firing
        self.assertNotEqual(notified("Fatal", "firing"), [])
        self.assertEqual([a["labels"]["alertname"] for a in am.alerts()], ["Fatal"])
        n = wait_for("the counters", lambda: notifier().get("sent", 0) >= 3 and notifier())
        self.assertEqual((n["queued"], n["dropped"]), (0, 0))

    def test_full_queue_drops_the_oldest_counts_it_and_ingest_goes_on(self):
        hook = self.webhook()
        hook.failing = 10**9  # the receiver never takes anything: the queue fills
        rules = self.rules("""\
groups:
  - name: g
    interval: 1s
    rules:
      - alert: A
        signal: spans
        where: name =~ "^p"
        keep_firing_for: 1h
        group_by: [name]
      - alert: B
        signal: spans
        where: name =~ "^p"
        keep_firing_for: 1h
        group_by: [name]
notify:
  - kind: webhook
    url: %s
""" % hook.url)
        d = self.dash(rules)
        now = time.time_ns()
        spans = [span(tid(1), sid(i + 1), "p%d" % i, now - 1000, now) for i in range(600)]
        st, _ = post(d.port, "/v1/traces", traces_request(spans))
        self.assertEqual(st, 200)
        # 1,200 firing alerts for a queue of 1,000: the 200 oldest dropped, counted
        n = wait_for("the dropped count", lambda: [n for n in api_alerts(d.port)["notifiers"]
                                                   if n["dropped"] == 200])[0]
        self.assertEqual(n["queued"], 1000)
        self.assertEqual(n["sent"], 0)
        self.assertGreaterEqual(n["failed"], 1)
        # ingest is not held up by the stuck receiver
        st, _ = post(d.port, "/v1/traces", traces_request([span(tid(2), sid(1), "after", now, now + 1)]))
        self.assertEqual(st, 200)
        self.assertEqual(self.e.sql("SELECT count(*) FROM spans WHERE name = 'after'"), [(1,)])
        self.assertEqual(sum(len(r["alerts"]) for r in api_alerts(d.port)["rules"]), 1200)

    @no_shells_under_tsan
    def test_exec_gets_the_alert_and_a_slow_one_is_killed(self):
        out_file = os.path.join(self.e.tmp.name, "exec.json")
        rules = self.rules(fatal_rule() + """\
notify:
  - kind: exec
    name: record
    command: 'env > %s.env && cat > %s.tmp && echo "$ALERT_NAME $ALERT_STATUS $ALERT_SUMMARY" >> %s.tmp && mv %s.tmp %s'
  - kind: exec
    name: slow
    command: 'sleep 30'
    timeout: 500ms
""" % (out_file, out_file, out_file, out_file, out_file))
        # a secret in the server's environment does not reach the command
        d = Dash(self.e, "--rules", rules, extra={"OTELP_TEST_SECRET": "hunter2", "LANG": "C.UTF-8"})
        self.dashes.append(d)
        self.post_fatal(d)

        def notifier(name):
            return notifier_of(d.port, name)
        # the alert as JSON on stdin and in the environment
        wait_for("the command's output", lambda: os.path.exists(out_file))
        with open(out_file) as f:
            lines = f.read().splitlines()
        payload = json.loads(lines[0])
        self.assertEqual((payload["version"], payload["status"]), ("4", "firing"))
        self.assertEqual(payload["alerts"][0]["labels"], {"alertname": "Fatal"})
        self.assertEqual(lines[1], "Fatal firing out of memory")
        # its environment: the documented few of the server's, the alert's ALERT_*
        with open(out_file + ".env") as f:
            env = dict(line.split("=", 1) for line in f.read().splitlines() if "=" in line)
        self.assertEqual(sorted(k for k in env if not k.startswith("ALERT_")),
                         sorted(k for k in ["PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "PWD"]
                                if k in ("PATH", "LANG", "PWD") or k in os.environ))  # PWD: sh's own
        self.assertEqual((env["PATH"], env["LANG"]), (os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
                                                       "C.UTF-8"))
        self.assertEqual(sorted(k for k in env if k.startswith("ALERT_")),
                         ["ALERT_ANNOTATIONS", "ALERT_ENDS_AT", "ALERT_FINGERPRINT", "ALERT_LABELS",
                          "ALERT_NAME", "ALERT_SPAN_ID", "ALERT_STARTS_AT", "ALERT_STATUS", "ALERT_SUMMARY",
                          "ALERT_TRACE_ID", "ALERT_VALUE"])
        self.assertEqual((env["ALERT_LABELS"], env["ALERT_ENDS_AT"], env["ALERT_STARTS_AT"]),
                         ('{"alertname":"Fatal"}', "", payload["alerts"][0]["startsAt"]))
        # the slow command: killed at its bound, counted
        slow = wait_for("the slow command's end", lambda: notifier("slow").get("failed") and notifier("slow"))
        self.assertEqual(slow["sent"], 0)
        self.assertEqual(slow["last_error"], "'sleep 30' ran longer than 500 ms: killed")
        self.assertEqual(notifier("record")["sent"], 1)

if __name__ == "__main__":
    unittest.main()
