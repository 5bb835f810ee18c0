"""Context in: TRACEPARENT/TRACESTATE make the root span a child in that
trace; invalid values are ignored; the sampler honours the sampled flag."""
import time
import unittest

from common import EXIT_PATHS, Receiver, otlp_env, run, spans_named

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"


def run_once(**env):
    with Receiver() as rcv:
        rc, out, err = run([EXIT_PATHS, "return", "0"], env=otlp_env(rcv, **env))
        assert (rc, out, err) == (0, b"", b""), (rc, out, err)
        # The program exports before it exits, so what was sent has arrived.
        time.sleep(0.05)
        return spans_named(rcv, "exit_paths")


class Context(unittest.TestCase):
    def test_no_parent_makes_a_new_trace(self):
        (span,) = run_once()
        self.assertNotIn("parentSpanId", span)
        self.assertRegex(span["traceId"], "^[0-9a-f]{32}$")
        self.assertNotEqual(span["traceId"], "0" * 32)
        self.assertEqual(span["flags"] & 0x300, 0x100)  # has-is-remote, not remote
        self.assertEqual(span["flags"] & 0xff, 1)

    def test_traceparent_makes_a_child(self):
        (span,) = run_once(TRACEPARENT="00-%s-%s-01" % (TRACE, PARENT),
                           TRACESTATE="vendor=abc,other=x")
        self.assertEqual(span["traceId"], TRACE)
        self.assertEqual(span["parentSpanId"], PARENT)
        self.assertNotEqual(span["spanId"], PARENT)
        self.assertEqual(span["traceState"], "vendor=abc,other=x")
        self.assertEqual(span["flags"] & 0x300, 0x300)  # parent is remote

    def test_unsampled_parent_records_nothing(self):
        self.assertEqual(run_once(TRACEPARENT="00-%s-%s-00" % (TRACE, PARENT)), [])

    def test_invalid_traceparents_are_ignored(self):
        for bad in ("00-%s-%s-0" % (TRACE, PARENT),           # short
                    "ff-%s-%s-01" % (TRACE, PARENT),          # version ff
                    "00-%s-%s-01" % ("0" * 32, PARENT),       # zero trace id
                    "00-%s-%s-01" % (TRACE, "0" * 16),        # zero span id
                    "00-%s-%s-01" % (TRACE.upper(), PARENT),  # upper case
                    "garbage"):
            with self.subTest(bad=bad):
                (span,) = run_once(TRACEPARENT=bad, TRACESTATE="vendor=abc")
                self.assertNotEqual(span["traceId"], TRACE)
                self.assertNotIn("parentSpanId", span)
                self.assertNotIn("traceState", span)

    def test_invalid_tracestate_is_dropped(self):
        (span,) = run_once(TRACEPARENT="00-%s-%s-01" % (TRACE, PARENT), TRACESTATE="=bad")
        self.assertEqual(span["traceId"], TRACE)
        self.assertFalse(span.get("traceState"))

    def test_samplers(self):
        self.assertEqual(run_once(OTEL_TRACES_SAMPLER="always_off"), [])
        self.assertEqual(run_once(OTEL_TRACES_SAMPLER="parentbased_always_off"), [])
        self.assertEqual(run_once(OTEL_TRACES_SAMPLER="traceidratio",
                                  OTEL_TRACES_SAMPLER_ARG="0"), [])
        self.assertEqual(len(run_once(OTEL_TRACES_SAMPLER="traceidratio",
                                      OTEL_TRACES_SAMPLER_ARG="1")), 1)
        # always_on ignores an unsampled parent
        self.assertEqual(len(run_once(OTEL_TRACES_SAMPLER="always_on",
                                      TRACEPARENT="00-%s-%s-00" % (TRACE, PARENT))), 1)


if __name__ == "__main__":
    unittest.main()
