"""A pod, simulated with no Kubernetes and no registry (pod.sh, under
unshare mount/pid/net namespaces): the init container's copier fills a
tmpfs emptyDir, remounted read-only into the application's root (Debian
bullseye, glibc 2.31); the entrypoint's tree (a shell, busybox, a failing
shell, a musl program starting musl children under the musl flavour) is
exported to a collector stand-in on the pod's localhost:4318 as one trace,
every span with the k8s resource attributes."""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
sys.path.insert(0, HERE)

from common import SANITIZED, Receiver  # noqa: E402
import rootfs  # noqa: E402

BUILD = os.environ.get("OTELP_BUILD_DIR", "")
LD_MUSL = "/lib/ld-musl-x86_64.so.1"


@unittest.skipIf(SANITIZED, "sanitizer runtimes need the build machine's glibc")
class Pod(unittest.TestCase):
    def test_pod(self):
        need = {"shim": os.environ.get("OTELP_LIB", ""),
                "musl": os.path.join(BUILD, "libotelpreload-musl.so"),
                "copier": os.path.join(BUILD, "otel-preload-copy"),
                "sink": os.path.join(BUILD, "tests", "receiver", "otlp_sink"),
                "prog": os.path.join(os.environ.get("OTELP_DEPLOY_PROGS", ""), "libc_probe_musl")}
        for what, path in need.items():
            if not os.path.isfile(path):
                self.skipTest("%s not built (musl-gcc missing?)" % what)
        if not os.path.exists(LD_MUSL) or not shutil.which("unshare") or not shutil.which("ip"):
            self.skipTest("needs musl's loader, unshare and ip")
        try:
            root = rootfs.bullseye()
        except rootfs.Unavailable as e:
            self.skipTest(str(e))
        work = tempfile.mkdtemp(prefix="otelp-pod.")
        out = os.path.join(work, "out")
        os.mkdir(out)
        try:
            p = subprocess.run(
                ["unshare", "--mount", "--pid", "--net", "--fork", "bash",
                 os.path.join(HERE, "pod.sh"), root, work, need["shim"], need["musl"],
                 need["copier"], need["sink"], out, need["prog"], LD_MUSL],
                capture_output=True, timeout=120, stdin=subprocess.DEVNULL,
                env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(p.stdout, b"volume read-only\ntmp writable\ndash 3\ntree 15\n")
            self.assertEqual(p.stderr, b"")
            rcv = Receiver()
            rcv.out_dir = Path(out)
            spans = rcv.spans()
        finally:
            shutil.rmtree(work, ignore_errors=True)
        self.assertEqual(len({s["traceId"] for s in spans}), 1, [s["name"] for s in spans])
        by_id = {s["spanId"]: s for s in spans}
        (top,) = [s for s in spans if "parentSpanId" not in s]
        self.assertEqual(top["name"], "dash")
        for s in spans:
            r = s["resource"]
            self.assertEqual((r["k8s.pod.name"], r["k8s.namespace.name"], r["k8s.node.name"],
                              r["k8s.container.name"], r["host.ip"], r["service.name"]),
                             ("shop-7f9c5", "prod", "node-1", "web", "10.0.0.7", "shop"))
            if s is not top:
                self.assertIn(s["parentSpanId"], by_id)
        kids = {s["name"] for s in spans if s.get("parentSpanId") == top["spanId"]}
        self.assertTrue({"busybox", "dash", "musl_probe"} <= kids, kids)
        (musl,) = [s for s in spans if s["name"] == "musl_probe"]
        leaves = sorted(s["attributes"]["process.exit.code"] for s in spans
                        if s.get("parentSpanId") == musl["spanId"])
        self.assertEqual(leaves, [4, 5, 6])


if __name__ == "__main__":
    unittest.main()
