"""End-to-end: the C++ example filter (examples/plugins/cpp_filter.cc, built on the plug-in client
library include/ballast/plugin.h) in a real ballastd: a body with the configured word is refused
with PLUGIN_REJECTED naming the filter's reason, a header reroutes, anything else is stored tagged.
"""
import argparse
import os
import sys
import tempfile
import unittest

import ballast_fixture as fx

ARGS = None


class CppExampleFilter(unittest.TestCase):
    def test_the_cpp_example_filter_rejects_reroutes_and_tags(self):
        with fx.TempDataDir() as data_dir, tempfile.TemporaryDirectory(prefix="ballast-e2e-conf-") as conf_dir:
            config = os.path.join(conf_dir, "ballast.toml")
            with open(config, "w") as out:
                out.write(f"""
[[plugins]]
name = "cpp-example"
kind = "filter"
command = ["{ARGS.example_filter}"]
queues = ["mail.in"]
policy = "reject"
max_memory_bytes = 0   # an AddressSanitizer build reserves terabytes of address space
options = {{ reject_word = "viagra", reroute_header = "x-route", tag = "checked" }}
""")
            daemon = fx.Daemon(ARGS.ballastd, data_dir, extra_args=["--config", config]).start()
            try:
                for queue in ("mail.in", "mail.spam"):
                    status, _ = fx.http("PUT", f"{daemon.url}/api/v1/queues/{queue}", {})
                    self.assertIn(status, (200, 201))
                log = lambda: "\n".join(daemon.log_lines[-40:])
                self.assertTrue(fx.wait_for(lambda: any("event=plugin.ready" in line and "plugin=cpp-example" in line
                                                        and "version=1.0.0" in line for line in list(daemon.log_lines)),
                                            timeout_s=20), log())
                url = f"{daemon.url}/api/v1/queues/mail.in/messages"
                status, body = fx.http("POST", url, {"body": "cheap viagra"})
                self.assertEqual(status, 422, body)
                self.assertEqual(body["error"]["code"], "PLUGIN_REJECTED")
                self.assertIn('the body contains "viagra"', body["error"]["message"])
                status, body = fx.http("POST", url, {"body": "to spam", "headers": {"x-route": "mail.spam"}})
                self.assertEqual(status, 201, body)
                status, body = fx.http("POST", url, {"body": "hello"})
                self.assertEqual(status, 201, body)
                status, peeked = fx.http("GET", f"{daemon.url}/api/v1/queues/mail.in/messages?max=10")
                self.assertEqual(status, 200)
                self.assertEqual([m["body"] for m in peeked["messages"]], ["hello"])
                self.assertEqual(peeked["messages"][0]["headers"].get("x-filter-tag"), "checked")
                status, peeked = fx.http("GET", f"{daemon.url}/api/v1/queues/mail.spam/messages?max=10")
                self.assertEqual([m["body"] for m in peeked["messages"]], ["to spam"])
            finally:
                daemon.stop()
            self.assertEqual(daemon.process.returncode, 0)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--ballastd", required=True)
    parser.add_argument("--example-filter", required=True)
    ARGS, rest = parser.parse_known_args()
    unittest.main(argv=[sys.argv[0], *rest], verbosity=2)
