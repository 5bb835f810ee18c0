"""decode_selftest: proves receiver + decode.js + harness work, without the shim.

    OTELP_BUILD_DIR=build python3 tests/interop/decode_selftest.py build/tests/interop/otlp_post_selftest

otlp_post_selftest encodes a known trace and log request with nanopb and
POSTs them to otlp_sink; then the same trace bytes are sent gzip-compressed
and an OTLP/JSON body is sent as is. decode.js (the official protobufjs
decoders) must give back exactly the values the tool encoded. Exits 77 when
tests/interop/node_modules is missing.
"""

import gzip
import http.client
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
import harness  # noqa: E402

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN_ID = "00f067aa0ba902b7"
PARENT_ID = "53995c3f42cd8ad8"

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL: " + what)


def post(port, path, body, headers):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST", path, body=body, headers=headers)
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


def main():
    if len(sys.argv) != 2:
        print("usage: decode_selftest.py PATH/TO/otlp_post_selftest")
        return 2
    if not harness.have_node_modules():
        harness.skip(f"no node_modules in {harness.INTEROP_DIR} (run npm ci there)")
    tool = sys.argv[1]

    with harness.Receiver() as r:
        rc, out, err = harness.run([tool, "--port", str(r.port), "--out", str(r.tmp)],
                                   preload=False, timeout=30)
        check(rc == 0, f"otlp_post_selftest exited {rc}: {err.decode(errors='replace')}")
        r.wait_requests(2, timeout=10)
        traces_bin = (r.tmp / "traces.bin").read_bytes()
        status = post(r.port, "/v1/traces", gzip.compress(traces_bin),
                      {"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"})
        check(status == 200, f"gzip POST got {status}")
        json_body = {"resourceSpans": [{"scopeSpans": [{"spans": [{"name": "json-span"}]}]}]}
        status = post(r.port, "/v1/traces", json.dumps(json_body).encode(),
                      {"Content-Type": "application/json"})
        check(status == 200, f"JSON POST got {status}")
        r.wait_requests(4, timeout=10)

        raw = r.requests()
        check(raw[0]["body"] == traces_bin, "saved body differs from the bytes sent")
        check(raw[0]["headers"].get("user-agent") == "otlp_post_selftest", "headers not saved")

        items = r.decoded()
        check([i["seq"] for i in items] == [1, 2, 3, 4], f"seqs {[i['seq'] for i in items]}")
        check([i["signal"] for i in items] == ["traces", "logs", "traces", "traces"],
              "signals " + str([i["signal"] for i in items]))
        check(all(i["path"] in ("/v1/traces", "/v1/logs") for i in items), "paths")
        check(all("unknownFields" not in i for i in items), "unknown fields in our bytes")
        check(items[2]["body"] == items[0]["body"], "gzip body decodes differently")
        check(items[3]["body"] == json_body, "JSON body not passed through")
        check(items[1]["headers"]["content-type"] == "application/x-protobuf", "content-type")

        sp = items[0]["body"]["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
        check(sp["traceId"] == TRACE_ID, "traceId " + sp["traceId"])
        check(sp["spanId"] == SPAN_ID, "spanId " + sp["spanId"])
        check(sp["parentSpanId"] == PARENT_ID, "parentSpanId")
        check(sp["name"] == "selftest-span", "name")
        check(sp["kind"] == 2, "kind")
        check(sp["startTimeUnixNano"] == "1700000000000000000", "start time")
        check(sp["endTimeUnixNano"] == "1700000001000000000", "end time")
        check(sp["flags"] == 0x301, "flags (supplemented field 16)")
        check(sp["links"][0]["flags"] == 0x101, "link flags (supplemented field 6)")
        check(sp["links"][0]["spanId"] == "0102030405060708", "link spanId")
        check(sp["status"] == {"code": 2, "message": "boom"}, "status " + str(sp.get("status")))
        check(sp["droppedAttributesCount"] == 3, "dropped attributes")
        check("traceState" not in sp, "defaults filled in")

        spans = r.spans()
        check(len(spans) == 3, f"{len(spans)} spans")
        s = spans[0]
        check(s["resource"] == {"service.name": "decode-selftest", "process.pid": 4242},
              "resource " + str(s["resource"]))
        check(s["scope"] == {"name": "otel-preload-selftest", "version": "0.0.1"}, "scope")
        want = {
            "process.command_args": ["/bin/selftest", "--flag", "\u00e9t\u00e9"],
            "process.exit.code": 0,
            "negative": -5,
            "big": 2**63 - 1,
            "ok": False,
            "ratio": 1.5,
        }
        check(s["attributes"] == want, "attributes " + str(s["attributes"]))
        check(s["events"][0]["name"] == "exception", "event name")
        check(s["events"][0]["timeUnixNano"] == "1700000000500000000", "event time")
        check(s["events"][0]["attributes"] == {"exception.type": "SIGSEGV"}, "event attributes")

        logs = r.logs()
        check(len(logs) == 1, f"{len(logs)} logs")
        lg = logs[0]
        check(lg["body"] == "disk full", "log body")
        check(lg["severityNumber"] == 17 and lg["severityText"] == "ERROR", "severity")
        check(lg["traceId"] == TRACE_ID and lg["spanId"] == SPAN_ID, "log ids")
        check(lg["flags"] == 1, "log flags")
        check(lg["eventName"] == "selftest.event", "eventName (supplemented field 12)")
        check(lg["attributes"] == {"syslog.facility": "daemon"}, "log attributes")
        check(lg["timeUnixNano"] == "1700000000250000000", "log time")
        check(lg["observedTimeUnixNano"] == "1700000000260000000", "log observed time")

        # a body that is not OTLP: decode.js reports it and exits 1
        status = post(r.port, "/v1/traces", b"\x0a\x05\x01", {"Content-Type": "application/x-protobuf"})
        check(status == 200, f"bad-body POST got {status}")
        r.wait_requests(5, timeout=10)
        items = r.decoded(allow_errors=True)
        check("error" in items[4] and items[4]["seq"] == 5, "truncated body not reported")
        try:
            r.decoded()
            check(False, "decoded() did not raise on a decode error")
        except harness.DecodeError:
            pass

    print(f"decode_selftest: {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
