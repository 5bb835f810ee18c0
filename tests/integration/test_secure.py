"""Secure-execution mode: a set-user-ID program linked with the shim, run
by an unprivileged user, gets AT_SECURE and the shim stays inert: it reads
no OTEL_* variable, writes nothing, sends nothing. The same binary without
the set-user-ID bit does export (so the test can see the difference)."""
import os
import shutil
import subprocess
import tempfile
import time
import unittest

from common import PROGS, SANITIZED, Receiver, otlp_env

PROBE = os.path.join(PROGS, "secure_probe")


@unittest.skipUnless(os.geteuid() == 0 and shutil.which("setpriv"), "needs root and setpriv")
@unittest.skipIf(SANITIZED, "a set-user-ID program cannot load a sanitizer runtime first")
class Secure(unittest.TestCase):
    def run_as_nobody(self, path, env):
        cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", path]
        full = {"PATH": "/usr/bin:/bin", **env, "OTEL_LOG_LEVEL": "debug"}
        p = subprocess.run(cmd, env=full, capture_output=True, timeout=60)
        return p.returncode, p.stdout, p.stderr

    def test_setuid_program_is_left_alone(self):
        with tempfile.TemporaryDirectory() as d:
            os.chmod(d, 0o755)
            plain = os.path.join(d, "plain_probe")
            setuid = os.path.join(d, "setuid_probe")
            shutil.copy(PROBE, plain)
            shutil.copy(PROBE, setuid)
            os.chmod(plain, 0o755)
            os.chown(setuid, 0, 0)
            os.chmod(setuid, 0o4755)
            with Receiver() as rcv:
                rc, out, err = self.run_as_nobody(setuid, otlp_env(rcv))
                self.assertEqual((rc, err), (0, b""))
                self.assertEqual(out, b"secure=1\n")
                time.sleep(0.05)
                self.assertEqual(rcv.spans(), [])
            with Receiver() as rcv:
                rc, out, err = self.run_as_nobody(plain, otlp_env(rcv))
                self.assertEqual((rc, out), (0, b"secure=0\n"))
                self.assertIn(b"otel-preload", err)  # debug diagnostics flow when not secure
                rcv.wait_requests(1, 10)
                self.assertEqual([s["name"] for s in rcv.spans()], ["plain_probe"])


if __name__ == "__main__":
    unittest.main()
