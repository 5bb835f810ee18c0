"""Shared setup for the integration tests: paths, and the root span of a
program run under the shim against a fresh test receiver."""
import os
import shutil
import socket
import urllib.request
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))

from harness import Receiver, run  # noqa: E402,F401

PROGS = os.environ.get("OTELP_PROGS", "")

# Each test file has its own spool under the build tree (CMakeLists.txt):
# what an earlier run left there is not this run's.
_SPOOL = os.environ.get("OTEL_PRELOAD_SPOOL_DIR", "")
if _SPOOL and os.sep + "spool" + os.sep in _SPOOL and PROGS and _SPOOL.startswith(PROGS):
    shutil.rmtree(_SPOOL, ignore_errors=True)
EXIT_PATHS = os.path.join(PROGS, "exit_paths")
SANITIZED = os.environ.get("OTELP_SANITIZE", "none") not in ("", "none")

# The TSan runtime, preloaded into uninstrumented programs, crashes shells
# here by itself (`LD_PRELOAD=libtsan.so sh -c 'ls | wc -l'` segfaults
# without the shim) and does not support fork in threaded programs: tests
# that run shells or fork storms are left to the other builds.
no_shells_under_tsan = unittest.skipIf(
    os.environ.get("OTELP_SANITIZE") == "thread",
    "the TSan runtime cannot be preloaded into shells (it crashes them without the shim too)")


def preload_env(**extra):
    """os.environ with the shim (behind a sanitizer runtime, in sanitizer
    builds) in LD_PRELOAD, plus extra."""
    prefix = os.environ.get("OTELP_PRELOAD_PREFIX", "").strip()
    env = dict(os.environ)
    env["LD_PRELOAD"] = (prefix + " " if prefix else "") + os.environ["OTELP_LIB"]
    env.update(extra)
    return env


def otlp_env(rcv, **extra):
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": rcv.endpoint}
    env.update(extra)
    return env


def spans_named(rcv, name):
    return [s for s in rcv.spans() if s["name"] == name]

# With the TSan runtime in front of the shim in LD_PRELOAD, TSan's
# pthread_create interceptor would start our trampoline before it has set
# the new thread up, so threads started from TSan's code pass through the
# shim untraced (hooks/threads.c): tests of thread spans are left to the
# other builds (the unit tests run our threads under TSan).
no_threads_under_tsan = unittest.skipIf(
    os.environ.get("OTELP_SANITIZE") == "thread",
    "threads started through TSan's pthread_create interceptor are not traced")


def free_port():
    """A loopback port nobody listens on (for refused connections)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# ---- the spool (docs/SPOOL.md) ----------------------------------------------


def batches(spool):
    """The complete batch files in spool: [(name, header dict, body)]."""
    out = []
    if not os.path.isdir(spool):
        return out
    for name in sorted(os.listdir(spool)):
        if name.startswith(".") or not name.endswith(".otlp"):
            continue
        with open(os.path.join(spool, name), "rb") as f:
            data = f.read()
        head, _, body = data.partition(b"\n\n")
        lines = head.decode().split("\n")
        assert lines[0] == "OTEL-PRELOAD-SPOOL 1", lines
        h = dict(line.split(": ", 1) for line in lines[1:])
        assert int(h["length"]) == len(body), (name, h)
        assert name.endswith("-%s-%s-%d.otlp" % (h["signal"], h["records"], len(data))), name
        out.append((name, h, body))
    return out


def decode_spooled(spool):
    """The spans in the spool's batches of spans, decoded by the test
    receiver (each body POSTed as it would have been): [span dict]. (A
    relay's metrics may be spooled too: docs/METRICS.md.)"""
    found = [b for b in batches(spool) if b[1]["signal"] == "traces"]
    with Receiver() as rcv:
        for _, h, body in found:
            req = urllib.request.Request(rcv.endpoint + "/v1/traces", data=body, method="POST")
            req.add_header("Content-Type", h["content-type"])
            if h["content-encoding"] != "identity":
                req.add_header("Content-Encoding", h["content-encoding"])
            urllib.request.urlopen(req, timeout=10).read()
        if found:
            rcv.wait_requests(len(found), 10)
        return rcv.spans() if found else []
