"""Defects real programs found (issue 17), each kept fixed by a real
program run under the shim: secrets and bad endpoints in diagnostics,
descriptors, carriers, a second copy of the shim, thread names."""
import os
import subprocess
import tempfile
import unittest

from common import EXIT_PATHS, Receiver, run, spans_named


class Diagnostics(unittest.TestCase):
    def test_bad_endpoints_get_one_clear_warning(self):
        cases = {
            "http://user:s3cr3t@127.0.0.1:4318": "user information",
            "http://127.0.0.1:0": "port is 0",
            "http://127.0.0.1:99999": "above 65535",
            "http://127.0.0.1:1x": "not a number",
            "http://:4318": "host is empty",
            "unix:///run/otel.sock": "scheme is not supported",
            "localhost:4318": "no scheme",
        }
        for url, words in cases.items():
            with self.subTest(url=url):
                rc, out, err = run([EXIT_PATHS, "exit", "3"],
                                   env={"OTEL_EXPORTER_OTLP_ENDPOINT": url,
                                        "OTEL_LOG_LEVEL": "warn"})
                self.assertEqual((rc, out), (3, b""))
                lines = err.decode().splitlines()
                self.assertEqual(len(lines), 1, lines)
                self.assertTrue(lines[0].startswith("otel-preload: warn: OTLP endpoint "), lines)
                self.assertIn(words, lines[0])
                self.assertNotIn("s3cr3t", lines[0])
                # Silent without diagnostics.
                self.assertEqual(run([EXIT_PATHS, "exit", "3"],
                                     env={"OTEL_EXPORTER_OTLP_ENDPOINT": url}), (3, b"", b""))

    def test_no_header_value_nor_password_in_any_diagnostic(self):
        env = {"OTEL_EXPORTER_OTLP_HEADERS": "Authorization:Bearer TOPSECRET,x-key=ALSOSECRET,"
                                             "bad=%zz%SECRET3",
               "OTEL_EXPORTER_OTLP_ENDPOINT": "https://user:PASSWORD@127.0.0.1:1",
               "OTEL_LOG_LEVEL": "debug", "OTEL_PRELOAD_SHUTDOWN_TIMEOUT": "300"}
        rc, out, err = run([EXIT_PATHS, "exit", "3"], env=env)
        self.assertEqual((rc, out), (3, b""))
        self.assertIn(b"has no '='", err)
        for secret in (b"TOPSECRET", b"ALSOSECRET", b"SECRET3", b"PASSWORD", b"Bearer"):
            self.assertNotIn(secret, err)
        self.assertIn(b"127.0.0.1", err)  # the host is named, not cut off


if __name__ == "__main__":
    unittest.main()
