"""Interop: what the shim sends is decoded by the official OpenTelemetry
protobuf definitions (@opentelemetry/otlp-transformer 0.57.x generated
root, via tests/interop/decode.js) to exactly the values we meant, with no
field they do not know. (0.57.x predates Span.flags; decode.js reads that one
field with protobufjs's wire reader and reports any other unknown field.)"""
import unittest

from common import EXIT_PATHS, Receiver, otlp_env, run

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


if __name__ == "__main__":
    unittest.main()
