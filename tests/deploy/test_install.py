"""otel-preload install/uninstall/status on a host, run in a private mount
namespace (CMake starts this file under `unshare -m`) with an overlay on
/etc, so the machine's own /etc/ld.so.preload is never touched: existing
entries kept (also without a final newline), the shim test-loaded first (a
broken one changes nothing), a fixed mode whatever the umask, idempotent, a
read-only /etc refused cleanly, rolled back when programs fail under the new
list; processes started from the list configured by the config file; a
set-user-ID program left alone; a systemd drop-in for one service."""
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

from common import SANITIZED, Receiver  # noqa: E402

BUILD = os.environ.get("OTELP_BUILD_DIR", "")
LIB = os.path.realpath(os.environ.get("OTELP_LIB", ""))
CLI = os.path.join(BUILD, "otel-preload")
LIST = "/etc/ld.so.preload"
LIBM = "/lib/x86_64-linux-gnu/libm.so.6"


def private_namespace():
    """Why /etc may not be touched here, or None when it may."""
    if os.geteuid() != 0:
        return "needs root (mounts in a private mount namespace)"
    outer = os.environ.get("OTELP_OUTER_MNT_NS")
    if not outer or os.readlink("/proc/self/ns/mnt") == outer:
        return "not in a private mount namespace (run through ctest: unshare -m)"
    return None


def cli(*args, env=None, umask=None):
    home = tempfile.gettempdir()
    full = {"PATH": "/usr/bin:/bin", "HOME": home, "XDG_DATA_HOME": home}
    full.update(env or {})
    pre = (lambda: os.umask(umask)) if umask is not None else None
    p = subprocess.run([CLI] + list(args), env=full, capture_output=True, timeout=60,
                       preexec_fn=pre, stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def read(path):
    with open(path, "rb") as f:
        return f.read()


@unittest.skipIf(SANITIZED, "the sanitizer runtime must come first, which the host's list cannot do")
class Install(unittest.TestCase):
    def setUp(self):
        why = private_namespace()
        if why:
            self.skipTest(why)
        # A tmpfs holding the overlay's upper layer: /etc reads through to
        # the real one, every write lands in the tmpfs and vanishes.
        self.tmp = tempfile.mkdtemp(prefix="otelp-etc.")
        subprocess.run(["mount", "-t", "tmpfs", "tmpfs", self.tmp], check=True)
        for d in ("upper", "work"):
            os.mkdir(os.path.join(self.tmp, d))
        opts = "lowerdir=/etc,upperdir=%s/upper,workdir=%s/work" % (self.tmp, self.tmp)
        subprocess.run(["mount", "-t", "overlay", "overlay", "-o", opts, "/etc"], check=True)
        if os.path.exists(LIST):
            os.unlink(LIST)  # in the overlay only

    def tearDown(self):
        subprocess.run(["umount", "-l", "/etc"])
        subprocess.run(["umount", "-l", self.tmp])
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_fresh_install_fixed_mode_and_configured(self):
        with Receiver() as rcv:
            rc, out, err = cli("install", "--lib", LIB, "--endpoint", rcv.endpoint,
                               "--exclude", "cat", umask=0o077)
            self.assertEqual((rc, err), (0, ""), out)
            self.assertEqual(read(LIST), (LIB + "\n").encode())
            self.assertEqual(stat.S_IMODE(os.stat(LIST).st_mode), 0o644)
            conf = "/etc/otel-preload/otel-preload.conf"
            self.assertEqual(stat.S_IMODE(os.stat(conf).st_mode), 0o644)
            # A process with no OTEL_* environment, started from the list.
            p = subprocess.run(["/bin/sh", "-c", "echo hi | cat; exit 3"], env={"PATH": "/bin"},
                               capture_output=True, timeout=60)
            self.assertEqual((p.returncode, p.stdout, p.stderr), (3, b"hi\n", b""))
            time.sleep(0.1)
            names = {s["name"] for s in rcv.spans()}
        self.assertEqual(names, {"sh"})  # the shell (and its fork for echo); cat excluded

    def test_existing_entries_kept_without_final_newline(self):
        with open(LIST, "w") as f:
            f.write("# local\n" + LIBM)
        rc, _, err = cli("install", "--lib", LIB)
        self.assertEqual((rc, err), (0, ""))
        self.assertEqual(read(LIST), ("# local\n%s\n%s\n" % (LIBM, LIB)).encode())
        rc, _, err = cli("uninstall")
        self.assertEqual((rc, err), (0, ""))
        self.assertEqual(read(LIST), ("# local\n%s\n" % LIBM).encode())

    def test_idempotent(self):
        self.assertEqual(cli("install", "--lib", LIB)[0], 0)
        first = read(LIST)
        rc, out, _ = cli("install", "--lib", LIB)
        self.assertEqual(rc, 0)
        self.assertIn("already", out)
        self.assertEqual(read(LIST), first)
        self.assertEqual(cli("uninstall")[0], 0)
        self.assertFalse(os.path.exists(LIST))  # it held only ours
        self.assertEqual(cli("uninstall")[0], 0)

    def test_broken_shim_changes_nothing(self):
        with open(LIST, "w") as f:
            f.write(LIBM + "\n")
        bad = os.path.join(self.tmp, "libotelpreload.so")
        with open(bad, "wb") as f:
            f.write(b"\x7fELF not really")
        rc, _, err = cli("install", "--lib", bad)
        self.assertEqual(rc, 1)
        self.assertIn("nothing changed", err)
        self.assertEqual(read(LIST), (LIBM + "\n").encode())

    def test_rolled_back_when_programs_fail_under_the_new_list(self):
        with open(LIST, "w") as f:
            f.write(LIBM)
        # Runs under LD_PRELOAD (the test load) but fails under the list.
        check = os.path.join(self.tmp, "check")
        with open(check, "w") as f:
            f.write('#!/bin/sh\n[ -n "$LD_PRELOAD" ]\n')
        os.chmod(check, 0o755)
        rc, _, err = cli("install", "--lib", LIB, "--check", check)
        self.assertEqual(rc, 1)
        self.assertIn("rolled back", err)
        self.assertEqual(read(LIST), LIBM.encode())

    def test_read_only_etc(self):
        subprocess.run(["mount", "-o", "remount,ro", "/etc"], check=True)
        rc, _, err = cli("install", "--lib", LIB)
        self.assertEqual(rc, 1)
        self.assertIn("Read-only file system", err)
        self.assertFalse(os.path.exists(LIST))

    def test_setuid_program_left_alone(self):
        prog = os.path.join(self.tmp, "whoami_suid")
        plain = os.path.join(self.tmp, "whoami_plain")
        shutil.copy("/usr/bin/id", prog)
        shutil.copy("/usr/bin/id", plain)
        os.chmod(prog, 0o4755)
        os.chmod(self.tmp, 0o755)
        with Receiver() as rcv:
            self.assertEqual(cli("install", "--lib", LIB, "--endpoint", rcv.endpoint)[0], 0)

            def nobody():
                os.setgid(65534)
                os.setuid(65534)
            for p in (prog, plain):
                r = subprocess.run([p, "-u"], env={}, capture_output=True, preexec_fn=nobody,
                                   timeout=60)
                self.assertEqual(r.stderr, b"")
            time.sleep(0.1)
            spans = rcv.spans()
        self.assertEqual([s["attributes"]["process.executable.path"] for s in spans], [plain])

    def test_status(self):
        self.assertEqual(cli("install", "--lib", LIB)[0], 0)
        rc, out, _ = cli("status")
        self.assertEqual(rc, 0)
        self.assertIn("host: %s in /etc/ld.so.preload (loads)" % LIB, out)
        self.assertIn("instrumented processes:", out)
        cli("uninstall")
        self.assertIn("host: not installed", cli("status")[1])

    def test_service_dropin(self):
        rc, out, err = cli("install", "--lib", LIB, "--service", "web", "--service-name", "shop",
                           umask=0o077)
        self.assertEqual((rc, err), (0, ""))
        path = "/etc/systemd/system/web.service.d/otel-preload.conf"
        text = read(path).decode()
        self.assertIn('[Service]\nEnvironment="LD_PRELOAD=%s"\n' % LIB, text)
        self.assertIn('Environment="OTEL_SERVICE_NAME=shop"', text)
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o644)
        self.assertFalse(os.path.exists(LIST))  # a service only, not the host
        self.assertIn("service: web.service", cli("status")[1])
        self.assertEqual(cli("uninstall", "--service", "web")[0], 0)
        self.assertFalse(os.path.exists(path))


if __name__ == "__main__":
    unittest.main()
