"""Interop: what the shim sends is decoded by the official OpenTelemetry
protobuf definitions (@opentelemetry/otlp-transformer 0.57.x generated
root, via tests/interop/decode.js) to exactly the values we meant, with no
field they do not know. (0.57.x predates Span.flags; decode.js reads that one
field with protobufjs's wire reader and reports any other unknown field.)"""
import unittest

import os

from common import EXIT_PATHS, PROGS, Receiver, otlp_env, run
from harness import NodeServer, have_node_modules, node_path

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


class Interop(unittest.TestCase):
    def test_official_definitions_decode_our_request(self):
        with Receiver() as rcv:
            rc, _, _ = run([EXIT_PATHS, "exit", "3", "ünï", ""],
                           env=otlp_env(rcv, TRACEPARENT=TRACEPARENT, TRACESTATE="k=v",
                                        OTEL_RESOURCE_ATTRIBUTES="team=a%2Cb"))
            self.assertEqual(rc, 3)
            rcv.wait_requests(1, 10)
            (req,) = rcv.decoded()
        self.assertEqual(req["signal"], "traces")
        self.assertNotIn("unknownFields", req)
        self.assertNotIn("error", req)
        (rs,) = req["body"]["resourceSpans"]
        self.assertNotIn("unknownFields", rs)
        (ss,) = rs["scopeSpans"]
        self.assertEqual(ss["scope"]["name"], "otel-preload")
        (span,) = ss["spans"]
        self.assertNotIn("unknownFields", span)
        self.assertEqual(span["traceId"], "4bf92f3577b34da6a3ce929d0e0e4736")
        self.assertEqual(span["parentSpanId"], "00f067aa0ba902b7")
        self.assertEqual(span["traceState"], "k=v")
        self.assertEqual(span["flags"], 0x301)
        self.assertEqual(span["status"], {"message": "exit code 3", "code": 2})
        attrs = {a["key"]: a["value"] for a in span["attributes"]}
        self.assertEqual(attrs["process.exit.code"], {"intValue": "3"})
        self.assertEqual(attrs["process.command_args"],
                         {"arrayValue": {"values": [{"stringValue": EXIT_PATHS},
                                                    {"stringValue": "exit"},
                                                    {"stringValue": "3"},
                                                    {"stringValue": "ünï"},
                                                    {"stringValue": ""}]}})
        self.assertIn("doubleValue", attrs["process.cpu.time.user"])
        res = {a["key"]: a["value"] for a in rs["resource"]["attributes"]}
        self.assertEqual(res["team"], {"stringValue": "a,b"})

    def test_official_definitions_decode_our_logs(self):
        # /v1/logs: every LogRecord field we send, decoded by the official
        # definitions to exactly our values, nothing unknown.
        with Receiver() as rcv:
            rc, _, _ = run([os.path.join(PROGS, "logging"), "err", "9"],
                           env=otlp_env(rcv, TRACEPARENT=TRACEPARENT, OTEL_TRACES_EXPORTER="none",
                                        OTEL_RESOURCE_ATTRIBUTES="team=a%2Cb"))
            self.assertEqual(rc, 9)
            rcv.wait_requests(1, 10)
            (req,) = rcv.decoded()
        self.assertEqual(req["signal"], "logs")
        self.assertEqual(req["path"], "/v1/logs")
        self.assertEqual(req["headers"]["content-type"], "application/x-protobuf")
        self.assertNotIn("unknownFields", req)
        self.assertNotIn("error", req)
        (rl,) = req["body"]["resourceLogs"]
        res = {a["key"]: a["value"] for a in rl["resource"]["attributes"]}
        self.assertEqual(res["team"], {"stringValue": "a,b"})
        self.assertEqual(res["service.name"], {"stringValue": "unknown_service:logging"})
        (sl,) = rl["scopeLogs"]
        self.assertEqual(sl["scope"]["name"], "otel-preload")
        (lr,) = sl["logRecords"]
        self.assertEqual(lr["severityNumber"], 17)
        self.assertEqual(lr["severityText"], "ERROR")
        self.assertEqual(lr["body"], {"stringValue": "fatal err"})
        self.assertEqual(lr["traceId"], "4bf92f3577b34da6a3ce929d0e0e4736")
        self.assertRegex(lr["spanId"], "^[0-9a-f]{16}$")
        self.assertNotEqual(lr["spanId"], "00f067aa0ba902b7")  # our root span, not the parent
        self.assertEqual(lr["flags"], 1)
        self.assertEqual(lr["timeUnixNano"], lr["observedTimeUnixNano"])
        self.assertGreater(int(lr["timeUnixNano"]), 1600000000 * 10**9)
        self.assertEqual({a["key"]: a["value"] for a in lr["attributes"]},
                         {"error.type": {"stringValue": "ENOENT"},
                          "errno.message": {"stringValue": "No such file or directory"},
                          "process.exit.code": {"intValue": "9"}})
        self.assertNotIn("eventName", lr)
        self.assertNotIn("droppedAttributesCount", lr)


    def test_every_transport_decodes_to_the_same_span(self):
        """http/protobuf, http/json and grpc (the official @grpc/grpc-js
        server), each plain and gzip: the official definitions decode the
        same span from each."""
        if node_path() is None or not have_node_modules():
            self.skipTest("node or tests/interop/node_modules missing")
        seen = {}
        for proto in ("http/protobuf", "http/json", "grpc"):
            for comp in ("none", "gzip"):
                server = NodeServer("grpc") if proto == "grpc" else Receiver()
                with server as srv:
                    rc, _, _ = run([EXIT_PATHS, "exit", "3", "ünï"],
                                   env={"OTEL_EXPORTER_OTLP_ENDPOINT": srv.endpoint,
                                        "OTEL_EXPORTER_OTLP_PROTOCOL": proto,
                                        "OTEL_EXPORTER_OTLP_COMPRESSION": comp,
                                        "TRACEPARENT": TRACEPARENT, "TRACESTATE": "k=v"})
                    self.assertEqual(rc, 3)
                    srv.wait_requests(1, 15)
                    (req,) = srv.decoded()
                self.assertNotIn("unknownFields", req, (proto, comp))
                (rs,) = req["body"]["resourceSpans"]
                (ss,) = rs["scopeSpans"]
                (span,) = ss["spans"]
                attrs = {a["key"]: a["value"] for a in span["attributes"]}
                for volatile in ("process.pid", "process.parent_pid", "process.cpu.time.user",
                                 "process.cpu.time.system", "process.memory.max_rss",
                                 "process.paging.faults.minor", "process.paging.faults.major",
                                 "process.context_switches.voluntary",
                                 "process.context_switches.involuntary"):
                    self.assertIn(volatile, attrs)
                    del attrs[volatile]
                view = {"traceId": span["traceId"], "parentSpanId": span["parentSpanId"],
                        "traceState": span["traceState"], "flags": span["flags"],
                        "kind": span["kind"], "name": span["name"], "status": span["status"],
                        "attributes": attrs, "scope": ss["scope"],
                        "resource": sorted(a["key"] for a in rs["resource"]["attributes"])}
                seen[(proto, comp)] = view
        first = seen[("http/protobuf", "none")]
        self.assertEqual(first["traceId"], "4bf92f3577b34da6a3ce929d0e0e4736")
        self.assertEqual(first["attributes"]["process.command_args"]["arrayValue"]["values"][3],
                         {"stringValue": "ünï"})
        for key, view in seen.items():
            self.assertEqual(view, first, key)


if __name__ == "__main__":
    unittest.main()
