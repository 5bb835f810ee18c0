"""Scoping: OTEL_PRELOAD_INCLUDE/EXCLUDE by executable and by arguments, and
the host's config file (its OTEL_* lines under the environment's, its
include/exclude lines; refused when group- or world-writable, a symbolic
link or not root's). An excluded program is untouched, its children judged
on their own."""
import os
import shutil
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

from common import Receiver, no_shells_under_tsan, run  # noqa: E402

SCRIPT = "echo out; /bin/true; sh -c 'exit 4'; echo $?"


def traced(env_extra, script=SCRIPT):
    with Receiver() as rcv:
        env = {"OTEL_EXPORTER_OTLP_ENDPOINT": rcv.endpoint}
        env.update(env_extra)
        for k, v in list(env.items()):
            if v == "{endpoint}":
                env[k] = rcv.endpoint
        rc, out, err = run(["sh", "-c", script], env=env)
        time.sleep(0.1)
        return (rc, out, err), rcv.spans()


def args_of(spans):
    return sorted(tuple(s["attributes"]["process.command_args"]) for s in spans)


def sorted_args(*args):
    return sorted(tuple(a) for a in args)


@no_shells_under_tsan
class FromTheEnvironment(unittest.TestCase):
    def test_exclude_by_name_children_on_their_own(self):
        result, spans = traced({"OTEL_PRELOAD_EXCLUDE": "sh"})
        self.assertEqual(result, (0, b"out\n4\n", b""))
        self.assertEqual(args_of(spans), [("/bin/true",)])
        self.assertNotIn("parentSpanId", spans[0])  # its excluded parent gave no context

    def test_exclude_by_path(self):
        result, spans = traced({"OTEL_PRELOAD_EXCLUDE": "/usr/bin/*,/bin/*"})
        self.assertEqual(result, (0, b"out\n4\n", b""))
        self.assertEqual(spans, [])

    def test_exclude_by_arguments(self):
        result, spans = traced({"OTEL_PRELOAD_EXCLUDE": "sh -c exit*"})
        self.assertEqual(result, (0, b"out\n4\n", b""))
        self.assertEqual(args_of(spans), sorted_args(("/bin/true",), ("sh", "-c", SCRIPT)))

    def test_include_only_matching(self):
        result, spans = traced({"OTEL_PRELOAD_INCLUDE": "* -c exit *"})
        self.assertEqual(result, (0, b"out\n4\n", b""))
        self.assertEqual(args_of(spans), [("sh", "-c", "exit 4")])

    def test_exclude_wins_over_include(self):
        _, spans = traced({"OTEL_PRELOAD_INCLUDE": "sh,true", "OTEL_PRELOAD_EXCLUDE": "true"})
        self.assertEqual(args_of(spans), sorted_args(("sh", "-c", "exit 4"), ("sh", "-c", SCRIPT)))


@no_shells_under_tsan
class FromTheConfigFile(unittest.TestCase):
    def setUp(self):
        if os.geteuid() != 0:
            self.skipTest("the config file must be owned by root")
        self.dir = tempfile.mkdtemp(prefix="otelp-conf.")
        self.conf = os.path.join(self.dir, "otel-preload.conf")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def write(self, text, mode=0o644):
        with open(self.conf, "w") as f:
            f.write(text)
        os.chmod(self.conf, mode)

    def run_with_file(self, text_of, mode=0o644, path=None, **env):
        with Receiver() as rcv:
            self.write(text_of(rcv.endpoint), mode)
            full = {"OTEL_PRELOAD_CONFIG": path or self.conf, "OTEL_EXPORTER_OTLP_ENDPOINT": None}
            full.update(env)
            result = run(["sh", "-c", SCRIPT], env=full)
            time.sleep(0.1)
            return result, rcv.spans()

    def test_file_configures_processes_without_environment(self):
        result, spans = self.run_with_file(
            lambda ep: "# from install\nOTEL_EXPORTER_OTLP_ENDPOINT = %s\n"
                       "OTEL_SERVICE_NAME=hostwide\nOTEL_RESOURCE_ATTRIBUTES=deployment.environment=test\n"
                       "exclude = true\n" % ep)
        self.assertEqual(result, (0, b"out\n4\n", b""))
        self.assertEqual(args_of(spans), sorted_args(("sh", "-c", "exit 4"), ("sh", "-c", SCRIPT)))
        for s in spans:
            self.assertEqual(s["resource"]["service.name"], "hostwide")
            self.assertEqual(s["resource"]["deployment.environment"], "test")

    def test_environment_wins(self):
        _, spans = self.run_with_file(
            lambda ep: "OTEL_EXPORTER_OTLP_ENDPOINT=%s\nOTEL_SERVICE_NAME=hostwide\n" % ep,
            OTEL_SERVICE_NAME="mine")
        self.assertEqual(len(spans), 3)
        self.assertEqual({s["resource"]["service.name"] for s in spans}, {"mine"})

    def refused(self, mode=0o644, path=None):
        result, spans = self.run_with_file(
            lambda ep: "OTEL_EXPORTER_OTLP_ENDPOINT=%s\n" % ep, mode=mode, path=path,
            OTEL_LOG_LEVEL="warn", OTEL_PRELOAD_SHUTDOWN_TIMEOUT="100")
        self.assertEqual(result[:2], (0, b"out\n4\n"))
        self.assertEqual(spans, [])  # the file's endpoint was not used
        self.assertIn(b"otel-preload: warn: ignoring", result[2])
        return result[2]

    def test_group_writable_refused(self):
        self.assertIn(b"group- or world-writable", self.refused(mode=0o664))

    def test_world_writable_refused(self):
        self.refused(mode=0o646)

    def test_symlink_refused(self):
        link = os.path.join(self.dir, "link.conf")
        os.symlink(self.conf, link)
        self.assertIn(b"symbolic link", self.refused(path=link))

    def test_not_roots_refused(self):
        self.write("x")
        os.chown(self.conf, 65534, 65534)
        result = run(["sh", "-c", SCRIPT],
                     env={"OTEL_PRELOAD_CONFIG": self.conf, "OTEL_LOG_LEVEL": "warn",
                          "OTEL_TRACES_EXPORTER": "none"})
        self.assertEqual(result[:2], (0, b"out\n4\n"))
        self.assertIn(b"not owned by root", result[2])

    def test_silent_by_default(self):
        result, _ = self.run_with_file(lambda ep: "OTEL_SERVICE_NAME=x\n", mode=0o666)
        self.assertEqual(result, (0, b"out\n4\n", b""))


if __name__ == "__main__":
    unittest.main()
