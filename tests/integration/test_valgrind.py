"""valgrind's tools judge only the program (issue 17 item 5, SAFETY.md 2e):
memcheck with every leak kind an error, helgrind and drd give a leak-free,
race-free threaded program the same verdict (exit code, error summary) with
the shim as without it, with its spans exported to a real receiver.
Skipped in sanitizer builds (a sanitizer runtime and valgrind cannot share
a process) and where valgrind is not installed (scripts/setup installs it)."""
import os
import re
import shutil
import unittest

from common import PROGS, SANITIZED, Receiver, run

VALGRIND = shutil.which("valgrind")
PROG = os.path.join(PROGS, "vg_threads")
TOOLS = {
    "memcheck": ["--leak-check=full", "--show-leak-kinds=all", "--errors-for-leak-kinds=all"],
    "helgrind": [],
    "drd": [],
}


def summary(err):
    """valgrind's ERROR SUMMARY line counts, from its stderr."""
    m = re.search(rb"ERROR SUMMARY: (\d+) errors from (\d+) contexts", err)
    return m.groups() if m else None


@unittest.skipIf(SANITIZED, "a sanitizer runtime cannot run under valgrind")
@unittest.skipUnless(VALGRIND, "valgrind is not installed (scripts/setup installs it)")
class Valgrind(unittest.TestCase):
    def run_tool(self, tool, env, preload):
        cmd = [VALGRIND, "--tool=" + tool, "--error-exitcode=9"] + TOOLS[tool] + [PROG, "4"]
        # A tool's own verdict only: no gcov messages from a coverage build
        # (its profile files are written by the shim's destructor).
        return run(cmd, env=dict(env, GCOV_ERROR_FILE="/dev/null"), preload=preload,
                   timeout=120)

    def test_same_verdict_with_the_shim(self):
        for tool in TOOLS:
            with self.subTest(tool=tool), Receiver() as rcv:
                env = {"OTEL_EXPORTER_OTLP_ENDPOINT": rcv.endpoint, "OTEL_SERVICE_NAME": "vg"}
                base = self.run_tool(tool, env, preload=False)
                self.assertEqual(base[:2], (0, b"counter 10000 child 0\n"), base[2])
                self.assertEqual(summary(base[2]), (b"0", b"0"), base[2])
                rc, out, err = self.run_tool(tool, env, preload=True)
                self.assertEqual((rc, out), base[:2], err.decode(errors="replace"))
                self.assertEqual(summary(err), (b"0", b"0"), err.decode(errors="replace"))
                if tool == "memcheck":
                    self.assertIn(b"All heap blocks were freed -- no leaks are possible", err)
                # The shim was there: the program's spans (its threads
                # included) reached the receiver.
                rcv.wait_requests(1, 30)
                names = [s["name"] for s in rcv.spans()]
                self.assertIn("vg_threads", names)
                self.assertEqual(sum(n == "vg-worker" for n in names), 2, names)
                self.assertEqual(sum(n.startswith("vg_threads+") for n in names), 2, names)


if __name__ == "__main__":
    unittest.main()
