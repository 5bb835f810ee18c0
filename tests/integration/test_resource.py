"""The resource: detected attributes, service.name rules and
OTEL_RESOURCE_ATTRIBUTES parsing per the specification."""
import os
import platform
import json
import re
import shutil
import socket
import subprocess
import unittest

from common import EXIT_PATHS, Receiver, otlp_env, run, spans_named


def resource_of(**env):
    with Receiver() as rcv:
        rc, out, err = run([EXIT_PATHS, "return", "0"], env=otlp_env(rcv, **env))
        assert rc == 0, (rc, out, err)
        rcv.wait_requests(1, 10)
        return spans_named(rcv, "exit_paths")[0]["resource"], err


class Resource(unittest.TestCase):
    def test_detected(self):
        r, _ = resource_of()
        self.assertEqual(r["service.name"], "unknown_service:exit_paths")
        self.assertRegex(r["service.instance.id"],
                         r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
        self.assertEqual(r["host.name"], socket.gethostname())
        arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
        self.assertEqual(r["host.arch"], arch)
        if os.path.exists("/etc/machine-id"):
            with open("/etc/machine-id") as f:
                self.assertEqual(r["host.id"], f.read().strip())
        self.assertEqual(r["os.type"], "linux")
        self.assertTrue(r["os.description"])
        self.assertEqual(r["os.version"], platform.release())
        self.assertEqual(r["telemetry.sdk.name"], "otel-preload")
        self.assertEqual(r["telemetry.sdk.language"], "c")
        self.assertRegex(r["telemetry.sdk.version"], r"^\d+\.\d+\.\d+")
        with open("/proc/self/cgroup") as f:
            in_container = re.search(r"[0-9a-f]{64}", f.read())
        if not in_container:
            self.assertNotIn("container.id", r)

    def test_host_ip(self):
        # `ip -j addr`'s global and site scope addresses (not loopback's
        # host scope, not link-local): in the root span's resource, and in
        # a shell's child's, which its relay adds (the child detects none).
        ip = shutil.which("ip")
        if not ip:
            self.skipTest("no ip command (iproute2)")
        links = json.loads(subprocess.run([ip, "-j", "addr"], capture_output=True,
                                          check=True).stdout)
        want = sorted(a["local"] for link in links for a in link.get("addr_info", [])
                      if a.get("scope") in ("global", "site") and a.get("family") in ("inet", "inet6"))
        r, _ = resource_of()
        if not want:
            self.assertNotIn("host.ip", r)
            return
        self.assertEqual(sorted(r["host.ip"]), want[:8])
        with Receiver() as rcv:
            rc, _, _ = run(["sh", "-c", EXIT_PATHS + " return 0; exit 0"], env=otlp_env(rcv))
            self.assertEqual(rc, 0)
            rcv.wait_requests(1, 10)
            spans = rcv.spans()
        self.assertEqual(sorted(s["name"] for s in spans), ["exit_paths", "sh"])
        for s in spans:
            self.assertEqual(sorted(s["resource"]["host.ip"]), want[:8], s["name"])

    def test_instance_id_differs_per_process(self):
        a, _ = resource_of()
        b, _ = resource_of()
        self.assertNotEqual(a["service.instance.id"], b["service.instance.id"])

    def test_service_name_variable_wins(self):
        r, _ = resource_of(OTEL_SERVICE_NAME="etl",
                           OTEL_RESOURCE_ATTRIBUTES="service.name=other,team=data")
        self.assertEqual(r["service.name"], "etl")
        self.assertEqual(r["team"], "data")

    def test_service_name_from_resource_attributes(self):
        r, _ = resource_of(OTEL_RESOURCE_ATTRIBUTES="service.name=from-attrs")
        self.assertEqual(r["service.name"], "from-attrs")

    def test_percent_decoding_and_trimming(self):
        r, _ = resource_of(OTEL_RESOURCE_ATTRIBUTES=" deployment.environment = a%20b ,"
                                                    "team=x%2Cy,url=http://h/p?q%3D1,,")
        self.assertEqual(r["deployment.environment"], "a b")
        self.assertEqual(r["team"], "x,y")
        self.assertEqual(r["url"], "http://h/p?q=1")

    def test_resource_attributes_override_detected(self):
        r, _ = resource_of(OTEL_RESOURCE_ATTRIBUTES="host.name=overridden")
        self.assertEqual(r["host.name"], "overridden")

    def test_malformed_value_is_discarded_with_one_diagnostic(self):
        r, err = resource_of(OTEL_RESOURCE_ATTRIBUTES="a=1,broken,c=%zz",
                             OTEL_LOG_LEVEL="warn")
        self.assertNotIn("a", r)
        self.assertNotIn("c", r)
        self.assertEqual(r["service.name"], "unknown_service:exit_paths")
        lines = err.decode().splitlines()
        self.assertEqual(len(lines), 1, lines)
        self.assertIn("OTEL_RESOURCE_ATTRIBUTES", lines[0])

    def test_malformed_value_is_silent_by_default(self):
        _, err = resource_of(OTEL_RESOURCE_ATTRIBUTES="broken")
        self.assertEqual(err, b"")


if __name__ == "__main__":
    unittest.main()
