"""Packages: `cmake --install` lays out bin/otel-preload, lib/otel-preload/
(the shim and the deployment helper), the pkg-config file (relocatable) and
the documents, and the installed launcher runs a program under the installed
shim; `cpack` builds a .deb with that layout under /usr whose maintainer
scripts do nothing to /etc/ld.so.preload (it has none)."""
import os
import shutil
import subprocess
import tempfile
import unittest

BUILD = os.environ.get("OTELP_BUILD_DIR", "")
SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
SANITIZED = os.environ.get("OTELP_SANITIZE", "none") not in ("", "none")


def sh(*cmd, **kw):
    return subprocess.run(list(cmd), capture_output=True, timeout=300, stdin=subprocess.DEVNULL,
                          **kw)


class Package(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="otelp-pkg.")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_install_layout_and_launcher(self):
        prefix = os.path.join(self.tmp, "usr")
        p = sh("cmake", "--install", BUILD, "--prefix", prefix)
        self.assertEqual(p.returncode, 0, p.stderr)
        for f in ("bin/otel-preload", "lib/otel-preload/libotelpreload.so",
                  "lib/pkgconfig/otel-preload.pc",
                  "share/doc/otel-preload/DEPLOY.md"):
            self.assertTrue(os.path.isfile(os.path.join(prefix, f)), f)
        if os.path.isfile(os.path.join(SRC, "include", "otelp.h")):
            self.assertTrue(os.path.isfile(os.path.join(prefix, "include", "otelp.h")))
        env = dict(os.environ, PKG_CONFIG_PATH=os.path.join(prefix, "lib", "pkgconfig"))
        p = sh("pkg-config", "--variable=shim", "otel-preload", env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(os.path.realpath(p.stdout.decode().strip()),
                         os.path.realpath(os.path.join(prefix, "lib/otel-preload/libotelpreload.so")))
        if SANITIZED:
            return  # the installed shim needs its sanitizer runtime in front
        env = {"PATH": "/usr/bin:/bin", "HOME": self.tmp, "XDG_DATA_HOME": self.tmp}
        cmd = os.path.join(prefix, "bin", "otel-preload")
        p = sh(cmd, "run", "--", "sh", "-c", "echo $LD_PRELOAD; exit 3", env=env)
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertEqual(os.path.realpath(p.stdout.decode().split()[0]),
                         os.path.realpath(os.path.join(prefix, "lib/otel-preload/libotelpreload.so")))
        p = sh(cmd, "status", env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(b"instrumented processes:", p.stdout)

    def test_deb_has_the_layout_and_no_maintainer_scripts(self):
        if not shutil.which("cpack") or not shutil.which("dpkg-deb"):
            self.skipTest("cpack or dpkg-deb missing")
        out = os.path.join(self.tmp, "out")
        p = sh("cpack", "-G", "DEB", "-B", out, "--config", os.path.join(BUILD, "CPackConfig.cmake"))
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        (deb,) = [f for f in os.listdir(out) if f.endswith(".deb")]
        deb = os.path.join(out, deb)
        files = sh("dpkg-deb", "-c", deb).stdout.decode()
        for f in ("./usr/bin/otel-preload", "./usr/lib/otel-preload/libotelpreload.so",
                  "./usr/lib/pkgconfig/otel-preload.pc"):
            self.assertIn(f, files)
        self.assertNotIn("./etc/", files)
        control = os.path.join(self.tmp, "control")
        self.assertEqual(sh("dpkg-deb", "-e", deb, control).returncode, 0)
        scripts = sorted(os.listdir(control))
        for s in ("preinst", "postinst", "prerm", "postrm", "triggers"):
            self.assertNotIn(s, scripts)
        with open(os.path.join(control, "control")) as f:
            text = f.read()
        self.assertIn("Package: otel-preload", text)
        self.assertIn("Depends: libc6 (>= ", text)


if __name__ == "__main__":
    unittest.main()
