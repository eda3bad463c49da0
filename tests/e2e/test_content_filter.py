"""End-to-end: the shipped content-filter plug-in (src/plugins/content_filter, docs/plugins.md
"content-filter") in a real ballastd, the anti-spam case. A message whose rules reach the reject
score is refused with PLUGIN_REJECTED naming the rules (HTTP 422; AMQP basic.nack under
confirms), one with a lower score is stored tagged with the score header, a clean one is stored
as published. A second copy of the plug-in with a broken rules file never becomes ready: the
broker logs its CONFIG_INVALID line (file, line, key) and its queue's publishers get
PLUGIN_UNAVAILABLE naming it, while the first queue goes on.
"""
import argparse
import base64
import os
import sys
import tempfile
import unittest

import pika

import ballast_fixture as fx

ARGS = None

RULES = r"""
reject_score = 5
tag_header = "x-spam-score"

[[rules]]
name = "pills"
body_regex = "v[i1]agra"
ignore_case = true
score = 5

[[rules]]
name = "bulk"
header = "precedence"
equals = "bulk"
score = 3
"""

BROKEN_RULES = """
reject_score = 5
[[rules]]
name = "typo"
body_regexp = "x"
"""


def plugin_table(name, queue, rules_file):
    return f"""
[[plugins]]
name = "{name}"
kind = "filter"
command = ["{ARGS.content_filter}"]
queues = ["{queue}"]
policy = "reject"
handshake_timeout_ms = 2000
max_memory_bytes = 0   # an AddressSanitizer build reserves terabytes of address space
options = {{ rules_file = "{rules_file}" }}
"""


class ContentFilter(unittest.TestCase):
    def test_rejects_tags_and_passes_and_a_broken_rules_file_is_named(self):
        with fx.TempDataDir() as data_dir, tempfile.TemporaryDirectory(prefix="ballast-e2e-conf-") as conf_dir:
            rules, broken = os.path.join(conf_dir, "rules.toml"), os.path.join(conf_dir, "broken.toml")
            with open(rules, "w") as out:
                out.write(RULES)
            with open(broken, "w") as out:
                out.write(BROKEN_RULES)
            config = os.path.join(conf_dir, "ballast.toml")
            with open(config, "w") as out:
                out.write(plugin_table("spam-filter", "mail.in", rules) + plugin_table("broken-filter", "mail.other", broken))
            daemon = fx.Daemon(ARGS.ballastd, data_dir, extra_args=["--config", config]).start()
            try:
                self.check(daemon, broken)
            finally:
                daemon.stop()
            self.assertEqual(daemon.process.returncode, 0)

    def check(self, daemon, broken):
        lines = lambda: list(daemon.log_lines)
        log = lambda: "\n".join(daemon.log_lines[-40:])
        for queue in ("mail.in", "mail.other"):
            status, _ = fx.http("PUT", f"{daemon.url}/api/v1/queues/{queue}", {})
            self.assertIn(status, (200, 201))
        self.assertTrue(fx.wait_for(lambda: any("event=plugin.ready" in line and "plugin=spam-filter" in line
                                                for line in lines()), timeout_s=20), log())
        url = f"{daemon.url}/api/v1/queues/mail.in/messages"

        status, body = fx.http("POST", url, {"body": "Cheap VIAGRA", "headers": {"precedence": "bulk"}})
        self.assertEqual(status, 422, body)
        self.assertEqual(body["error"]["code"], "PLUGIN_REJECTED")
        self.assertIn("score 8 reached reject_score 5 (pills +5, bulk +3)", body["error"]["message"])
        print(f"spam: HTTP 422 {body['error']['message']}")

        status, body = fx.http("POST", url, {"body": "weekly newsletter", "headers": {"precedence": "bulk"}})
        self.assertEqual(status, 201, body)
        status, body = fx.http("POST", url, {"body": "hello"})
        self.assertEqual(status, 201, body)

        host, port = daemon.ready_fields["amqp"].rsplit(":", 1)
        connection = pika.BlockingConnection(pika.ConnectionParameters(
            host=host, port=int(port), credentials=pika.PlainCredentials("guest", "guest"), connection_attempts=1))
        try:
            channel = connection.channel()
            channel.confirm_delivery()
            with self.assertRaises(pika.exceptions.NackError):
                channel.basic_publish("", "mail.in", b"v1agra for you", pika.BasicProperties(delivery_mode=2))
            channel.basic_publish("", "mail.in", b"over amqp", pika.BasicProperties(delivery_mode=2))
            print("spam over AMQP: basic.nack; a clean message: basic.ack")
        finally:
            connection.close()

        status, peeked = fx.http("GET", f"{daemon.url}/api/v1/queues/mail.in/messages?max=10")
        self.assertEqual(status, 200)
        body_of = lambda m: base64.b64decode(m["body"]).decode() if m.get("encoding") == "base64" else m["body"]
        stored = {body_of(m): m.get("headers", {}) for m in peeked["messages"]}
        self.assertEqual(sorted(stored), ["hello", "over amqp", "weekly newsletter"])
        self.assertEqual(stored["weekly newsletter"].get("x-spam-score"), "3 (bulk +3)")
        self.assertNotIn("x-spam-score", stored["hello"])
        print(f"tagged: x-spam-score = {stored['weekly newsletter']['x-spam-score']}; clean ones untouched")

        # The broken copy: its refusal is logged with the file and line, its queue refuses
        # publishes naming it, and it never became ready.
        self.assertTrue(fx.wait_for(lambda: any("plugin=broken-filter" in line and "CONFIG_INVALID" in line
                                                and f"{broken}:5" in line and "body_regexp" in line
                                                for line in lines()), timeout_s=20), log())
        status, body = fx.http("POST", f"{daemon.url}/api/v1/queues/mail.other/messages", {"body": "x"})
        self.assertEqual(status, 503, body)
        self.assertEqual(body["error"]["code"], "PLUGIN_UNAVAILABLE")
        self.assertIn('"broken-filter"', body["error"]["message"])
        self.assertFalse(any("event=plugin.ready" in line and "plugin=broken-filter" in line for line in lines()))
        status, body = fx.http("POST", url, {"body": "still served"})
        self.assertEqual(status, 201, body)
        print(f"broken rules file: logged as CONFIG_INVALID at {broken}:5 naming the key; its queue answers "
              "503 PLUGIN_UNAVAILABLE; mail.in still served")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--ballastd", required=True)
    parser.add_argument("--content-filter", required=True)
    ARGS, rest = parser.parse_known_args()
    unittest.main(argv=[sys.argv[0], *rest], verbosity=2)
