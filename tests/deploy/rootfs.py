"""A Debian bullseye (glibc 2.31) root file system for the deployment tests,
made once with mmdebstrap (or debootstrap) from the Debian mirror and kept in
a cache outside the build tree: $OTELP_ROOTFS_CACHE or
/var/cache/otel-preload-test. Only the C library, dash and busybox are
unpacked (mmdebstrap's extract variant: no maintainer scripts, ~11 s and
~40 MB the first time). Several test runs may ask at once: a lock file
serialises the making, and the tree appears under its final name only when
complete."""
import fcntl
import os
import platform
import shutil
import subprocess
import tempfile

CACHE = os.environ.get("OTELP_ROOTFS_CACHE") or "/var/cache/otel-preload-test"
MIRROR = os.environ.get("OTELP_DEBIAN_MIRROR") or "http://deb.debian.org/debian"
PACKAGES = ["libc6", "libgcc-s1", "libcrypt1", "dash", "busybox"]
ARCH = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())


class Unavailable(Exception):
    """Why no root file system can be had here (the test skips with it)."""


def bullseye():
    """The path of the cached bullseye root, making it the first time."""
    if os.geteuid() != 0:
        raise Unavailable("making and entering a root file system (chroot) needs root")
    root = os.path.join(CACHE, "bullseye-" + ARCH)
    if os.path.exists(os.path.join(root, ".complete")):
        return root
    os.makedirs(CACHE, exist_ok=True)
    with open(os.path.join(CACHE, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.exists(os.path.join(root, ".complete")):
            return root
        tmp = tempfile.mkdtemp(prefix=".bullseye-", dir=CACHE)
        try:
            _make(tmp)
            with open(os.path.join(tmp, ".complete"), "w") as f:
                f.write(" ".join(PACKAGES) + "\n")
            if os.path.exists(root):
                shutil.rmtree(root)
            os.rename(tmp, root)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return root


def _make(target):
    mm = shutil.which("mmdebstrap")
    if mm:
        cmd = [mm, "--quiet", "--mode=root", "--variant=extract", "--arch=" + ARCH,
               "--include=" + ",".join(PACKAGES), "bullseye", target, MIRROR]
    elif shutil.which("debootstrap"):
        cmd = ["debootstrap", "--variant=minbase", "--arch=" + ARCH,
               "--include=" + ",".join(PACKAGES), "bullseye", target, MIRROR]
    else:
        raise Unavailable("neither mmdebstrap nor debootstrap is installed (scripts/setup)")
    try:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=600)
    except subprocess.TimeoutExpired:
        raise Unavailable("making the bullseye root took over 10 minutes (mirror slow?)")
    if p.returncode != 0:
        tail = (p.stderr or p.stdout).decode(errors="replace").strip().splitlines()[-3:]
        raise Unavailable("cannot make a bullseye root from %s (mirror unreachable?): %s"
                          % (MIRROR, " / ".join(tail)))
    if not os.path.exists(os.path.join(target, "bin", "sh")):
        os.symlink("dash", os.path.join(target, "bin", "sh"))


def libc_version(root):
    """glibc's version in root, from its loader's file name (ld-2.31.so)."""
    libdir = os.path.join(root, "lib", {"amd64": "x86_64", "arm64": "aarch64"}[ARCH] + "-linux-gnu")
    for name in os.listdir(libdir):
        if name.startswith("ld-2.") and name.endswith(".so"):
            return name[3:-3]
    return None
