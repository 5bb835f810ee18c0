"""otel-preload k8s inject against golden files: a Deployment (YAML; an
existing LD_PRELOAD kept after the shim, existing resource attributes kept
before the pod's, a musl container), a Pod (JSON in, JSON out; musl; no
sidecar); what it must refuse (LD_PRELOAD from valueFrom, a second
injection, not a workload), with nothing on stdout."""
import json
import os
import shutil
import stat
import subprocess
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
K8S = os.path.join(HERE, "k8s")
CLI = os.path.join(os.environ.get("OTELP_BUILD_DIR", ""), "otel-preload")
IMAGE = ["--image", "registry.example/otel-preload-init:0.1.0"]


def inject(args, data):
    p = subprocess.run([CLI, "k8s", "inject"] + args, input=data, capture_output=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def golden(name):
    with open(os.path.join(K8S, name), "rb") as f:
        return f.read()


class Inject(unittest.TestCase):
    def test_deployment_yaml(self):
        rc, out, err = inject(["--container", "worker=musl"] + IMAGE,
                              golden("deployment.in.yaml"))
        self.assertEqual((rc, err), (0, b""))
        self.assertEqual(out.decode(), golden("deployment.out.yaml").decode())

    def test_pod_json(self):
        rc, out, err = inject(["--libc", "musl", "--no-sidecar"] + IMAGE, golden("pod.in.json"))
        self.assertEqual((rc, err), (0, b""))
        self.assertEqual(out.decode(), golden("pod.out.json").decode())
        pod = json.loads(out)
        spec = pod["spec"]
        (main,) = spec["containers"]
        env = {e["name"]: e for e in main["env"]}
        self.assertEqual(env["LD_PRELOAD"]["value"], "/otel-preload/libotelpreload-musl.so")
        self.assertEqual(env["OTEL_SERVICE_NAME"]["value"], "tool")  # the container's own kept
        self.assertEqual(env["OTEL_EXPORTER_OTLP_ENDPOINT"]["value"], "http://localhost:4318")
        names = [e["name"] for e in main["env"]]
        self.assertLess(names.index("OTEL_PRELOAD_K8S_POD_NAME"),
                        names.index("OTEL_RESOURCE_ATTRIBUTES"))
        self.assertIn("k8s.container.name=main", env["OTEL_RESOURCE_ATTRIBUTES"]["value"])
        self.assertEqual(main["resources"]["limits"]["cpu"], 0.5)  # numbers stay numbers
        self.assertIn({"name": "otel-preload", "mountPath": "/otel-preload", "readOnly": True},
                      main["volumeMounts"])
        (init,) = spec["initContainers"]
        sc = init["securityContext"]
        self.assertTrue(sc["runAsNonRoot"])
        self.assertFalse(sc["allowPrivilegeEscalation"])
        self.assertEqual(sc["capabilities"]["drop"], ["ALL"])
        self.assertEqual(spec["volumes"], [{"name": "otel-preload",
                                            "emptyDir": {"sizeLimit": "64Mi"}}])

    def test_refuses_ld_preload_from_value_from(self):
        rc, out, err = inject([], golden("valuefrom.in.yaml"))
        self.assertEqual((rc, out), (1, b""))
        self.assertIn(b"LD_PRELOAD from valueFrom", err)

    def test_refuses_a_second_injection(self):
        rc, out, err = inject([], golden("deployment.out.yaml"))
        self.assertEqual((rc, out), (1, b""))
        self.assertIn(b"already injected", err)

    def test_refuses_what_is_not_a_workload(self):
        for data in (b"apiVersion: v1\nkind: Service\nmetadata: {name: x}\n", b"- 1\n- 2\n",
                     b"{not yaml: [", b""):
            rc, out, err = inject([], data)
            self.assertEqual((rc, out), (1, b""), data)
            self.assertTrue(err.startswith(b"otel-preload: k8s inject: "), err)

    def test_plain_manifest_is_the_golden_output(self):
        with open(os.path.join(HERE, "..", "..", "deploy", "k8s", "app.yaml"), "rb") as f:
            body = b"".join(l for l in f.readlines() if not l.startswith(b"#"))
        self.assertEqual(body, golden("deployment.out.yaml"))

    def test_bad_options(self):
        self.assertEqual(inject(["--libc", "bionic"], b"")[0], 2)
        self.assertEqual(inject(["--container", "x"], b"")[0], 2)


class Copier(unittest.TestCase):
    """The init image's static copier: every regular file, read-only."""

    def test_copies_read_only(self):
        copier = os.path.join(os.environ.get("OTELP_BUILD_DIR", ""), "otel-preload-copy")
        if not os.path.isfile(copier):
            self.skipTest("no musl-gcc: the static copier is not built")
        tmp = tempfile.mkdtemp(prefix="otelp-copy.")
        try:
            src, dst = os.path.join(tmp, "src"), os.path.join(tmp, "dst")
            os.mkdir(src)
            os.mkdir(dst)
            for name in ("libotelpreload.so", "libotelpreload-musl.so"):
                with open(os.path.join(src, name), "wb") as f:
                    f.write(name.encode() * 1000)
            os.symlink("/etc/passwd", os.path.join(src, "link"))
            p = subprocess.run([copier, dst, src], capture_output=True, timeout=60)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(sorted(os.listdir(dst)), ["libotelpreload-musl.so",
                                                       "libotelpreload.so"])
            for name in os.listdir(dst):
                self.assertEqual(stat.S_IMODE(os.stat(os.path.join(dst, name)).st_mode), 0o444)
                with open(os.path.join(dst, name), "rb") as f:
                    self.assertEqual(f.read(), name.encode() * 1000)
            self.assertEqual(subprocess.run([copier], capture_output=True).returncode, 2)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
