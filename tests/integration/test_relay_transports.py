"""The hand-off for every transport (exporters/handoff.h): over gRPC,
https and with gzip, a shell's children hand their spans to its relay,
which exports them once, in the configured protocol: a tree makes a few
requests, not one per process. Each child counts its batch as handed off,
not exported; the relay counts what became of it."""
import json
import os
import re
import tempfile
import unittest

from common import PROGS, Receiver, no_shells_under_tsan, run
from harness import Certs, NodeServer, have_node_modules, node_path

CHILDREN = 12
LOGGING = os.path.join(PROGS, "logging")
TREE = ["sh", "-c", "i=0; while [ $i -lt %d ]; do /bin/true; i=$((i+1)); done; echo done" % CHILDREN]


def need_node(test):
    if node_path() is None or not have_node_modules():
        test.skipTest("node or tests/interop/node_modules missing")


@no_shells_under_tsan
class RelayTransports(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.certs = Certs(cls.tmp.name)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def tree(self, srv, **env):
        spool = os.path.join(self.tmp.name, "spool-%s" % self.id().rsplit(".", 1)[-1])
        env = dict(env, OTEL_EXPORTER_OTLP_ENDPOINT=srv.endpoint, OTEL_PRELOAD_SPOOL_DIR=spool)
        rc, out, err = run(TREE, env=env, timeout=60)
        self.assertEqual((rc, out, err), (0, b"done\n", b""))
        srv.wait_requests(1, 15)
        spans = srv.spans()
        names = sorted(s["name"] for s in spans)
        self.assertEqual(names, sorted(["sh"] + ["true"] * CHILDREN))
        # The relay's forward and the shell's own: not one per process.
        self.assertLessEqual(srv.request_count(), 3, srv.request_count())
        # The host's attributes, added by the relay, on every child's span.
        for s in spans:
            self.assertIn("host.name", s["resource"], s["name"])
        self.assertFalse(os.path.exists(spool) and os.listdir(spool))
        return spans

    def test_grpc(self):
        need_node(self)
        with NodeServer("grpc") as srv:
            self.tree(srv, OTEL_EXPORTER_OTLP_PROTOCOL="grpc")

    def test_grpc_gzip(self):
        need_node(self)
        with NodeServer("h2") as srv:
            self.tree(srv, OTEL_EXPORTER_OTLP_PROTOCOL="grpc", OTEL_EXPORTER_OTLP_COMPRESSION="gzip")
            for req in srv.requests():
                self.assertEqual(req["headers"]["grpc-encoding"], "gzip")

    def test_https(self):
        need_node(self)
        with NodeServer("https", tls=self.certs) as srv:
            self.tree(srv, OTEL_EXPORTER_OTLP_CERTIFICATE=str(self.certs.ca))

    def test_mutual_tls(self):
        need_node(self)
        with NodeServer("https", tls=self.certs, client_ca=True) as srv:
            self.tree(srv, OTEL_EXPORTER_OTLP_CERTIFICATE=str(self.certs.ca),
                      OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE=str(self.certs.client_cert),
                      OTEL_EXPORTER_OTLP_CLIENT_KEY=str(self.certs.client_key))

    def test_http_gzip(self):
        with Receiver() as rcv:
            self.tree(rcv, OTEL_EXPORTER_OTLP_COMPRESSION="gzip")
            for req in rcv.requests():
                self.assertEqual(req["headers"]["content-encoding"], "gzip")

    def test_http_json(self):
        """http/json: the children hand the relay JSON requests, which it
        merges into one (with the host's attributes in each resource) and
        POSTs as application/json; decoded by the official definitions."""
        need_node(self)
        with Receiver() as rcv:
            self.tree(rcv, OTEL_EXPORTER_OTLP_PROTOCOL="http/json")
            reqs = rcv.requests()
            for req in reqs:
                self.assertEqual(req["headers"]["content-type"], "application/json")
            reqs = [r for r in reqs if r["path"] == "/v1/traces"]  # not the relay's metrics
            # One request carries every child's resource, merged.
            self.assertEqual(max(len(json.loads(r["body"])["resourceSpans"]) for r in reqs),
                             CHILDREN)

    def test_http_json_logs(self):
        """The same for log records (a JSON request per signal)."""
        need_node(self)
        tree = ["sh", "-c", "i=0; while [ $i -lt 4 ]; do %s errx 0 2>/dev/null; "
                "i=$((i+1)); done; echo done" % LOGGING]
        with Receiver() as rcv:
            spool = os.path.join(self.tmp.name, "spool-json-logs")
            rc, out, err = run(tree, env={"OTEL_EXPORTER_OTLP_ENDPOINT": rcv.endpoint,
                                          "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json",
                                          "OTEL_PRELOAD_SPOOL_DIR": spool}, timeout=60)
            self.assertEqual((rc, out, err), (0, b"done\n", b""))
            rcv.wait_requests(1, 15)
            decoded = rcv.decoded()
            spans = rcv.spans(decoded)
            logs = rcv.logs(decoded)
            self.assertLessEqual(rcv.request_count(), 4, rcv.request_count())
        self.assertEqual(sorted(s["name"] for s in spans), ["logging"] * 4 + ["sh"])
        self.assertEqual([r["body"] for r in logs].count("fatal errx"), 4, logs)
        for r in logs:
            self.assertIn("host.name", r["resource"])

    def test_children_say_handed_off_and_the_relay_says_lost(self):
        """A collector that refuses the relay's forward (HTTP 400, not
        retryable): no child claims its span was exported."""
        with Receiver(status=400) as rcv:
            spool = os.path.join(self.tmp.name, "spool-lost")
            rc, out, err = run(TREE, env={"OTEL_EXPORTER_OTLP_ENDPOINT": rcv.endpoint,
                                          "OTEL_EXPORTER_OTLP_COMPRESSION": "gzip",
                                          "OTEL_PRELOAD_SPOOL_DIR": spool,
                                          "OTEL_LOG_LEVEL": "info"}, timeout=60)
            self.assertEqual((rc, out), (0, b"done\n"))
        text = err.decode()
        lines = re.findall(r"true\[\d+\]: spans: exported (\d+), .* spooled (\d+), handed off (\d+)",
                           text)
        self.assertEqual(len(lines), CHILDREN, text)
        self.assertEqual({tuple(map(int, x)) for x in lines}, {(0, 0, 1)})
        m = re.search(r"relay: forwarded (\d+) records of child processes, spooled (\d+), lost (\d+)",
                      text)
        self.assertIsNotNone(m, text)
        self.assertEqual(tuple(map(int, m.groups())), (0, 0, CHILDREN))


class Descriptors(unittest.TestCase):
    @unittest.skipIf(os.environ.get("OTELP_SANITIZE") == "thread",
                     "TSan reports the number 1 made by the relay's accept and then by the"
                     " program's dup as a race on the descriptor, which is what this test stages")
    def test_a_connection_being_read_never_holds_a_number_the_program_expects(self):
        """A harness closes its stdout and dups a saved copy back while the
        relay thread reads a child's connection (GNU make's test driver
        under perl sent its make's output to the terminal): the dup gets 1,
        as without the shim."""
        prog = os.path.join(PROGS, "fd_race")
        self.assertEqual(run([prog], preload=False), (0, b"relay absent, dup gave 1\n", b""))
        with Receiver() as rcv:
            rc, out, err = run([prog], env={"OTEL_EXPORTER_OTLP_ENDPOINT": rcv.endpoint,
                                            "OTEL_BSP_SCHEDULE_DELAY": "50"})
        self.assertEqual((rc, out, err), (0, b"relay found, dup gave 1\n", b""))


if __name__ == "__main__":
    unittest.main()
