"""harness: runs otlp_sink and programs under the preload for integration tests.

Standard library only; runs on Debian's /usr/bin/python3 and on Python 3.11.

Locations (environment):
  OTELP_BUILD_DIR  build tree (default: <repo>/build); otlp_sink is
                   <build>/tests/receiver/otlp_sink
  OTELP_LIB        the shim (default: <build>/libotelpreload.so)
  OTELP_SINK       otlp_sink binary, overriding the build-tree one
  OTELP_NODE       node binary (default: node on PATH)
  OTELP_KEEP_TMP   if set, receivers keep their temp dirs (path on stderr)
  OTELP_TMPDIR     where receivers make temp dirs (default: /dev/shm if
                   writable, else the system temp dir; on this project's
                   ext4 a file costs ~0.5 ms, on tmpfs ~0.02 ms)
decode.js and its node_modules live in <repo>/tests/interop.

    with harness.Receiver(status_seq="503,200") as r:
        rc, out, err = harness.run(["/bin/true"], env=r.otel_env())
        r.wait_requests(1, timeout=10)
        for span in r.spans():
            print(span["name"], span["attributes"], span["resource"])

Every wait is bounded; processes are ended by their own pid only.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
INTEROP_DIR = REPO_ROOT / "tests" / "interop"
DECODE_JS = INTEROP_DIR / "decode.js"
SKIP = 77  # CTest SKIP_RETURN_CODE used by our tests


def build_dir():
    """The build tree: $OTELP_BUILD_DIR or <repo>/build."""
    return Path(os.environ.get("OTELP_BUILD_DIR") or (REPO_ROOT / "build"))


def sink_path():
    return Path(os.environ.get("OTELP_SINK") or (build_dir() / "tests" / "receiver" / "otlp_sink"))


def lib_path():
    """The shim: $OTELP_LIB or <build>/libotelpreload.so."""
    return Path(os.environ.get("OTELP_LIB") or (build_dir() / "libotelpreload.so"))


def node_path():
    return os.environ.get("OTELP_NODE") or shutil.which("node")


def tmp_base():
    """Directory for receivers' temp dirs: $OTELP_TMPDIR, /dev/shm, or None
    (the system default)."""
    env = os.environ.get("OTELP_TMPDIR")
    if env:
        return env
    if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK | os.X_OK):
        return "/dev/shm"
    return None


def have_node_modules():
    """True when tests/interop/node_modules holds the official decoders."""
    return (INTEROP_DIR / "node_modules" / "@opentelemetry" / "otlp-transformer").is_dir()


def skip(reason):
    """Ends a test script as skipped (exit code 77)."""
    print("SKIP: " + reason)
    sys.stdout.flush()
    sys.exit(SKIP)


class DecodeError(Exception):
    """decode.js could not decode some request (or failed to run)."""


def _wait_pid(proc, timeout):
    """Waits for proc; on timeout sends SIGKILL to its pid and waits again."""
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.kill(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        return proc.wait(timeout=10)


# ---- OTLP JSON (decode.js output) to Python values ---------------------------


def any_value(v):
    """An AnyValue as decoded by decode.js -> a plain Python value."""
    if not v:
        return None
    if "stringValue" in v:
        return v["stringValue"]
    if "boolValue" in v:
        return v["boolValue"]
    if "intValue" in v:
        return int(v["intValue"])
    if "doubleValue" in v:
        return float(v["doubleValue"])  # "NaN"/"Infinity" strings too
    if "arrayValue" in v:
        return [any_value(x) for x in v["arrayValue"].get("values", [])]
    if "kvlistValue" in v:
        return attrs_dict(v["kvlistValue"].get("values", []))
    if "bytesValue" in v:
        return bytes.fromhex(v["bytesValue"])
    return None


def attrs_dict(kvs):
    """A list of KeyValue -> {key: python value} (a repeated key: the last wins)."""
    return {kv.get("key", ""): any_value(kv.get("value")) for kv in (kvs or [])}


def _with_attrs(obj):
    out = dict(obj)
    out["attributes"] = attrs_dict(obj.get("attributes"))
    return out


# ---- the receiver -------------------------------------------------------------



def _start_and_wait(server, cmd, port_file, what):
    """Starts cmd for a server object (Receiver, NodeServer: .tmp,
    .start_timeout, .stop(), .stderr_text) and waits, bounded, for the port
    it writes into port_file. Returns the server with .port set."""
    server._stdout = open(server.tmp / "stdout", "wb")
    server._stderr = open(server.tmp / "stderr", "wb")
    server.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=server._stdout,
                                   stderr=server._stderr, close_fds=True)
    deadline = time.monotonic() + server.start_timeout
    while time.monotonic() < deadline:
        if port_file.exists():
            text = port_file.read_text().strip()
            if text:
                server.port = int(text)
                return server
        if server.proc.poll() is not None:
            break
        time.sleep(0.01)
    server.stop()
    raise RuntimeError(f"{what} did not start: {server.stderr_text.strip()}")

class Receiver:
    """otlp_sink on 127.0.0.1 with a temporary out dir; a context manager.

    Fault options map to otlp_sink flags: status=503, status_seq="503,close,200",
    retry_after="1", delay_ms=100, silent=True, close=True,
    response_body_bytes=N, count_only=True, partial=N (partial_success
    rejecting N); status_seq entries may be "close", "silent" or "reset";
    extra_args adds raw flags.
    """

    def __init__(self, status=None, status_seq=None, retry_after=None, delay_ms=None,
                 silent=False, close=False, response_body_bytes=None, count_only=False,
                 extra_args=(), start_timeout=10.0, partial=None):
        self.args = []
        if partial is not None:
            self.args += ["--partial", str(int(partial))]
        if status is not None:
            self.args += ["--status", str(status)]
        if status_seq is not None:
            if not isinstance(status_seq, str):
                status_seq = ",".join(str(s) for s in status_seq)
            self.args += ["--status-seq", status_seq]
        if retry_after is not None:
            self.args += ["--retry-after", str(retry_after)]
        if delay_ms is not None:
            self.args += ["--delay-ms", str(int(delay_ms))]
        if silent:
            self.args.append("--silent")
        if close:
            self.args.append("--close")
        if response_body_bytes is not None:
            self.args += ["--response-body-bytes", str(int(response_body_bytes))]
        if count_only:
            self.args.append("--count-only")
        self.args += list(extra_args)
        self.count_only = count_only
        self.start_timeout = start_timeout
        self.proc = None
        self.tmp = None
        self.port = None
        self.returncode = None
        self.counts = None  # {"requests": N, "bytes": M} after stop() in count-only mode
        self.stderr_text = ""

    # lifecycle

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def start(self):
        sink = sink_path()
        if not sink.is_file():
            raise FileNotFoundError(f"otlp_sink not built: {sink} (set OTELP_BUILD_DIR)")
        self.tmp = Path(tempfile.mkdtemp(prefix="otlp_sink.", dir=tmp_base()))
        self.out_dir = self.tmp / "out"
        self.out_dir.mkdir()
        port_file = self.tmp / "port"
        cmd = [str(sink), "--port", "0", "--port-file", str(port_file)]
        if not self.count_only:
            cmd += ["--out", str(self.out_dir)]
        cmd += self.args
        return _start_and_wait(self, cmd, port_file, "otlp_sink")

    def stop(self):
        """SIGTERM to our pid, bounded wait (then SIGKILL); idempotent."""
        if self.proc is not None and self.returncode is None:
            if self.proc.poll() is None:
                try:
                    os.kill(self.proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
            self.returncode = _wait_pid(self.proc, 5.0)
            self._stdout.close()
            self._stderr.close()
            out = (self.tmp / "stdout").read_text(errors="replace")
            self.stderr_text = (self.tmp / "stderr").read_text(errors="replace")
            for line in out.splitlines():
                if line.startswith("requests="):
                    parts = dict(p.split("=", 1) for p in line.split())
                    self.counts = {k: int(v) for k, v in parts.items()}
        if self.tmp is not None and self.tmp.exists():
            if os.environ.get("OTELP_KEEP_TMP"):
                print(f"harness: kept {self.tmp}", file=sys.stderr)
            else:
                shutil.rmtree(self.tmp, ignore_errors=True)
        return self.returncode

    # addresses

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self.port}"

    def otel_env(self, **extra):
        """Environment for a program to export here over OTLP/HTTP protobuf."""
        env = {
            "OTEL_EXPORTER_OTLP_ENDPOINT": self.endpoint,
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        }
        env.update({k: str(v) for k, v in extra.items()})
        return env

    # what arrived

    def request_count(self):
        """Complete requests saved so far (.meta files are renamed last)."""
        return sum(1 for n in os.listdir(self.out_dir) if n.endswith(".meta") and n[0] != ".")

    def wait_requests(self, n, timeout=10.0):
        """Waits until at least n requests were saved; returns the count.
        Raises TimeoutError after timeout seconds."""
        deadline = time.monotonic() + timeout
        while True:
            got = self.request_count()
            if got >= n:
                return got
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{got} of {n} requests after {timeout}s")
            if self.proc.poll() is not None:
                raise RuntimeError(f"otlp_sink exited: {self.proc.returncode}")
            time.sleep(0.01)

    def requests(self):
        """Raw requests without node: [{seq, method, path, headers, body}]."""
        out = []
        names = sorted((n for n in os.listdir(self.out_dir)
                        if n.endswith(".meta") and n[0] != "."), key=lambda n: int(n[:-5]))
        for name in names:
            stem = name[:-5]
            lines = (self.out_dir / name).read_text(errors="replace").split("\n")
            method, _, path = lines[0].partition(" ")
            headers = {}
            for line in lines[1:]:
                k, sep, v = line.partition(":")
                if sep:
                    k = k.strip().lower()
                    v = v.strip()
                    headers[k] = headers[k] + ", " + v if k in headers else v
            body = (self.out_dir / (stem + ".bin")).read_bytes()
            out.append({"seq": int(stem), "method": method, "path": path,
                        "headers": headers, "body": body})
        return out

    def decoded(self, allow_errors=False, timeout=60.0):
        """Runs decode.js once over the out dir; returns its lines as dicts.
        Raises DecodeError if a request failed to decode (unless allow_errors)."""
        node = node_path()
        if node is None:
            raise DecodeError("node not found (set OTELP_NODE)")
        if not have_node_modules():
            raise DecodeError(f"no node_modules in {INTEROP_DIR}: run npm ci there")
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            proc = subprocess.Popen([node, str(DECODE_JS), str(self.out_dir)],
                                    stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                    close_fds=True)
            rc = _wait_pid(proc, timeout)
            out.seek(0)
            err.seek(0)
            text = out.read().decode("utf-8")
            errtext = err.read().decode("utf-8", "replace")
        if rc not in (0, 1):
            raise DecodeError(f"decode.js exited {rc}: {errtext.strip()}")
        items = [json.loads(line) for line in text.splitlines() if line.strip()]
        errors = [i for i in items if "error" in i]
        if errors and not allow_errors:
            raise DecodeError("; ".join(f"seq {e['seq']}: {e['error']}" for e in errors))
        return items

    def spans(self, decoded=None):
        """All spans, flattened. Each is the decoded span dict with
        "attributes" as {key: value} (also in its events and links), plus
        "resource" ({key: value}), "scope" (the scope dict) and "seq"."""
        result = []
        for item in decoded if decoded is not None else self.decoded():
            if item.get("signal") != "traces":
                continue
            for rs in item["body"].get("resourceSpans", []):
                resource = attrs_dict(rs.get("resource", {}).get("attributes"))
                for ss in rs.get("scopeSpans", []):
                    for sp in ss.get("spans", []):
                        d = _with_attrs(sp)
                        d["events"] = [_with_attrs(e) for e in sp.get("events", [])]
                        d["links"] = [_with_attrs(ln) for ln in sp.get("links", [])]
                        d["resource"] = resource
                        d["scope"] = ss.get("scope", {})
                        d["seq"] = item["seq"]
                        result.append(d)
        return result

    def logs(self, decoded=None):
        """All log records, flattened like spans(); "body" is a Python value."""
        result = []
        for item in decoded if decoded is not None else self.decoded():
            if item.get("signal") != "logs":
                continue
            for rl in item["body"].get("resourceLogs", []):
                resource = attrs_dict(rl.get("resource", {}).get("attributes"))
                for sl in rl.get("scopeLogs", []):
                    for lr in sl.get("logRecords", []):
                        d = _with_attrs(lr)
                        d["body"] = any_value(lr.get("body"))
                        d["resource"] = resource
                        d["scope"] = sl.get("scope", {})
                        d["seq"] = item["seq"]
                        result.append(d)
        return result


    def metrics(self, decoded=None):
        """All metrics, flattened like spans(): each the decoded Metric dict
        plus "type" (sum, gauge, histogram, exponentialHistogram), "points"
        (its data points, "attributes" as {key: value}), "resource", "scope"
        and "seq"."""
        result = []
        for item in decoded if decoded is not None else self.decoded():
            if item.get("signal") != "metrics":
                continue
            for rm in item["body"].get("resourceMetrics", []):
                resource = attrs_dict(rm.get("resource", {}).get("attributes"))
                for sm in rm.get("scopeMetrics", []):
                    for m in sm.get("metrics", []):
                        d = dict(m)
                        for t in ("sum", "gauge", "histogram", "exponentialHistogram", "summary"):
                            if t in m:
                                d["type"] = t
                                d["data"] = m[t]
                                d["points"] = [_with_attrs(p) for p in m[t].get("dataPoints", [])]
                        d["resource"] = resource
                        d["scope"] = sm.get("scope", {})
                        d["seq"] = item["seq"]
                        result.append(d)
        return result


class NodeServer(Receiver):
    """tests/interop/otlp_server.js (mode "grpc": @grpc/grpc-js with the
    official definitions; "h2": raw HTTP/2 answering like gRPC; "https":
    HTTP/1.1 over TLS), saving requests like otlp_sink, so requests(),
    decoded(), spans() and logs() work the same. tls: a Certs for TLS;
    client_ca: demand a client certificate. status_seq: gRPC codes (grpc,
    h2) or HTTP statuses (https), or "silent"/"reset". Needs node and
    tests/interop/node_modules (callers skip without them)."""

    def __init__(self, mode, tls=None, client_ca=False, status_seq=None, message=None,
                 retry_info_ms=None, retry_after=None, partial=None, trailers_only=False,
                 response_body_bytes=None, delay_ms=None, start_timeout=20.0):
        super().__init__(start_timeout=start_timeout)
        self.mode = mode
        self.tls = tls
        a = ["--mode", mode]
        if tls is not None:
            a += ["--cert", str(tls.server_cert), "--key", str(tls.server_key)]
            if client_ca:
                a += ["--client-ca", str(tls.ca)]
        if status_seq is not None:
            if not isinstance(status_seq, str):
                status_seq = ",".join(str(s) for s in status_seq)
            a += ["--status-seq", status_seq]
        if message is not None:
            a += ["--message", message]
        if retry_info_ms is not None:
            a += ["--retry-info-ms", str(int(retry_info_ms))]
        if retry_after is not None:
            a += ["--retry-after", str(retry_after)]
        if partial is not None:
            a += ["--partial", str(int(partial))]
        if trailers_only:
            a.append("--trailers-only")
        if response_body_bytes is not None:
            a += ["--response-body-bytes", str(int(response_body_bytes))]
        if delay_ms is not None:
            a += ["--delay-ms", str(int(delay_ms))]
        self.args = a

    def start(self):
        node = node_path()
        if node is None or not have_node_modules():
            raise FileNotFoundError("node or tests/interop/node_modules missing")
        self.tmp = Path(tempfile.mkdtemp(prefix="otlp_server.", dir=tmp_base()))
        self.out_dir = self.tmp / "out"
        self.out_dir.mkdir()
        port_file = self.tmp / "port"
        cmd = [node, str(INTEROP_DIR / "otlp_server.js"), "--port-file", str(port_file),
               "--out", str(self.out_dir)] + self.args
        return _start_and_wait(self, cmd, port_file, "otlp_server.js")

    @property
    def endpoint(self):
        scheme = "https" if self.tls is not None else "http"
        return f"{scheme}://127.0.0.1:{self.port}"


class Certs:
    """A throw-away CA, a server certificate for 127.0.0.1 and localhost,
    and a client certificate, made with the openssl command in dir."""

    def __init__(self, directory):
        d = Path(directory)
        self.dir = d
        self.ca, self.ca_key = d / "ca.pem", d / "ca.key"
        self.server_cert, self.server_key = d / "server.pem", d / "server.key"
        self.client_cert, self.client_key = d / "client.pem", d / "client.key"
        self.other_ca = d / "other-ca.pem"
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]

        def sh(*args):
            subprocess.run(["openssl"] + list(args), check=True, stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=30)

        sh("req", "-x509", *ec, "-keyout", str(self.ca_key), "-out", str(self.ca), "-days", "2",
           "-subj", "/CN=otel-preload test CA")
        sh("req", "-x509", *ec, "-keyout", str(d / "other-ca.key"), "-out", str(self.other_ca),
           "-days", "2", "-subj", "/CN=some other CA")
        for name, ext in (("server", "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                                     "extendedKeyUsage=serverAuth"),
                          ("client", "extendedKeyUsage=clientAuth")):
            (d / f"{name}.ext").write_text(ext + "\n")
            sh("req", *ec, "-keyout", str(d / f"{name}.key"), "-out", str(d / f"{name}.csr"),
               "-subj", f"/CN={name}")
            sh("x509", "-req", "-in", str(d / f"{name}.csr"), "-CA", str(self.ca), "-CAkey",
               str(self.ca_key), "-CAcreateserial", "-out", str(d / f"{name}.pem"), "-days", "2",
               "-extfile", str(d / f"{name}.ext"))


# ---- running programs -----------------------------------------------------------


def run(cmd, env=None, preload=True, timeout=30.0, input=None, cwd=None):
    """Runs cmd (a list) and returns (returncode, stdout bytes, stderr bytes).

    env: variables added to (or, with value None, removed from) a copy of
    os.environ. preload: sets LD_PRELOAD to the built shim (OTELP_LIB).
    Output goes through temporary files, so a grandchild that keeps the
    program's stdout open cannot hang the harness. On timeout the program's
    own pid gets SIGKILL and subprocess.TimeoutExpired is raised.
    """
    full_env = dict(os.environ)
    for k, v in (env or {}).items():
        if v is None:
            full_env.pop(k, None)
        else:
            full_env[k] = str(v)
    if preload:
        lib = lib_path()
        if not lib.is_file():
            raise FileNotFoundError(f"shim not built: {lib} (set OTELP_LIB or OTELP_BUILD_DIR)")
        # Sanitizer builds: the sanitizer runtime must come first.
        prefix = os.environ.get("OTELP_PRELOAD_PREFIX", "").strip()
        full_env["LD_PRELOAD"] = (prefix + " " if prefix else "") + str(lib)
    else:
        full_env.pop("LD_PRELOAD", None)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        stdin = subprocess.PIPE if input is not None else subprocess.DEVNULL
        proc = subprocess.Popen([str(c) for c in cmd], env=full_env, cwd=cwd, stdin=stdin,
                                stdout=out, stderr=err, close_fds=True)
        timed_out = False
        try:
            if input is not None:
                try:
                    proc.stdin.write(input)
                except BrokenPipeError:
                    pass
                proc.stdin.close()
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            rc = _wait_pid(proc, 0)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if timed_out:
        raise subprocess.TimeoutExpired(cmd, timeout, output=stdout, stderr=stderr)
    return rc, stdout, stderr
