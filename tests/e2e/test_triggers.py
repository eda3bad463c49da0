"""End-to-end: trigger plug-ins in a real ballastd (docs/plugins.md, "Triggers").

The shipped webhook-trigger plug-in points at an HTTP server on 127.0.0.1 (Python's http.server,
run by this test on a port the kernel picks). Proves:
  - every message stored in the attached queue is POSTed at least once, with its id and queue;
  - a 404 answer dead-letters the message at once with the URL and status; a 429 is retried;
  - while the server answers 503 the work is retried with a doubling back-off (plugin.trigger_retry
    events), and all of it is delivered once the server answers 200 again;
  - ballastd killed with SIGKILL while trigger work is pending: after a restart the pending work
    still runs (at-least-once);
  - a trigger plug-in that crashes on every message costs nothing to publishers, on its queue or
    any other; its work items end up in ballast.dead-letter with the reason, never dropped.
"""
import argparse
import http.server
import json
import os
import re
import sys
import tempfile
import threading
import time
import unittest

import ballast_fixture as fx

ARGS = None
HERE = os.path.dirname(os.path.abspath(__file__))
TEST_PLUGINS = os.path.join(HERE, "plugins")


class WebhookServer:
    """A real HTTP server on loopback recording every POST; answers `status` (200 or 503)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.posts = []  # (message id, queue, attempt, body, answered status)
        self.status = 200
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                with outer.lock:
                    status = outer.status
                    outer.posts.append((self.headers.get("X-Ballast-Message-Id"), self.headers.get("X-Ballast-Queue"),
                                        int(self.headers.get("X-Ballast-Attempt", "0")), body, status))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def set_status(self, status):
        with self.lock:
            self.status = status

    def delivered_ids(self):
        with self.lock:
            return {post[0] for post in self.posts if post[4] == 200}

    def attempts(self):
        with self.lock:
            return [post[2] for post in self.posts]


def config_text(webhook_url):
    return f"""
[[plugins]]
name = "hook"
kind = "trigger"
command = ["{ARGS.webhook}"]
queues = ["orders"]
call_timeout_ms = 3000
ping_interval_ms = 500
retry_initial_ms = 100
retry_max_ms = 800
max_attempts = 100
max_memory_bytes = 0   # an AddressSanitizer build reserves terabytes of address space
concurrency = 4
options = {{ url = "{webhook_url}", timeout_ms = "1000" }}

[[plugins]]
name = "crasher"
kind = "trigger"
command = ["/usr/bin/python3", "{TEST_PLUGINS}/crash_on_message.py"]
queues = ["crashy"]
circuit_open_ms = 300
retry_initial_ms = 50
retry_max_ms = 100
max_attempts = 2
"""


def publish(daemon, queue, bodies):
    status, answer = fx.http("POST", f"{daemon.url}/api/v1/queues/{queue}/messages",
                             {"messages": [{"body": body} for body in bodies]})
    assert status == 201, (status, answer)
    return [message["id"] for message in answer["messages"]]


def queue_messages(daemon, queue):
    status, info = fx.http("GET", f"{daemon.url}/api/v1/queues/{queue}")
    if status == 404:
        return 0
    assert status == 200, (status, info)
    return info["messages"] + info["in_flight"] + info["delayed"]


class Triggers(unittest.TestCase):
    def setUp(self):
        self.data_dir = tempfile.mkdtemp(prefix="ballast-e2e-")
        self.conf_dir = tempfile.TemporaryDirectory(prefix="ballast-e2e-conf-")
        self.daemon = None

    def tearDown(self):
        if self.daemon:
            self.daemon.stop()
        self.conf_dir.cleanup()
        fx.TempDataDir.__exit__(type("D", (), {"path": self.data_dir})(), None)

    def start(self, webhook):
        config = os.path.join(self.conf_dir.name, "ballast.toml")
        with open(config, "w") as out:
            out.write(config_text(webhook.url))
        self.daemon = fx.Daemon(ARGS.ballastd, self.data_dir, extra_args=["--config", config]).start()
        for queue in ("orders", "crashy", "plain"):
            status, _ = fx.http("PUT", f"{self.daemon.url}/api/v1/queues/{queue}", {})
            self.assertIn(status, (200, 201))
        self.assertTrue(fx.wait_for(lambda: self.logged("event=plugin.ready", "plugin=hook"), timeout_s=20),
                        self.log())
        return self.daemon

    def log(self):
        return "\n".join(self.daemon.log_lines[-60:])

    def logged(self, *fragments):
        return [line for line in list(self.daemon.log_lines) if all(f in line for f in fragments)]

    def test_every_stored_message_is_posted_and_failures_are_retried_with_back_off(self):
        with WebhookServer() as webhook:
            daemon = self.start(webhook)
            ids = []
            for batch in range(5):
                ids += publish(daemon, "orders", [f"order {batch}-{i}" for i in range(10)])
            self.assertTrue(fx.wait_for(lambda: set(ids) <= webhook.delivered_ids(), timeout_s=30),
                            f"{len(set(ids) - webhook.delivered_ids())} not posted\n{self.log()}")
            with webhook.lock:
                bodies = {post[0]: post[3] for post in webhook.posts}
                self.assertTrue(all(post[1] == "orders" for post in webhook.posts))
            self.assertEqual(bodies[ids[0]], b"order 0-0")
            self.assertTrue(fx.wait_for(lambda: queue_messages(daemon, "ballast.trigger.hook") == 0, timeout_s=10))
            self.assertTrue(self.logged("event=plugin.trigger_done", "plugin=hook", "queue=orders"))

            # The server fails for a while: retried with a doubling back-off, visibly, then all delivered.
            webhook.set_status(503)
            failing = publish(daemon, "orders", [f"late {i}" for i in range(5)])
            self.assertTrue(fx.wait_for(lambda: max(webhook.attempts()) >= 4, timeout_s=30), self.log())
            retries = self.logged("event=plugin.trigger_retry", "plugin=hook", "answered HTTP 503")
            delays = {int(re.search(r"\bdelay_ms=(\d+)", line).group(1)) for line in retries}
            self.assertTrue({100, 200, 400} <= delays, delays)
            self.assertTrue(all(delay <= 800 for delay in delays), delays)
            # Publishes to the queue are confirmed as soon as stored, whatever the webhook does.
            started = time.monotonic()
            failing += publish(daemon, "orders", ["while failing"])
            self.assertLess(time.monotonic() - started, 2.0)
            webhook.set_status(200)
            self.assertTrue(fx.wait_for(lambda: set(failing) <= webhook.delivered_ids(), timeout_s=30), self.log())
            self.assertTrue(fx.wait_for(lambda: queue_messages(daemon, "ballast.trigger.hook") == 0, timeout_s=10))

    def test_a_client_error_is_dead_lettered_at_once_and_429_is_retried(self):
        with WebhookServer() as webhook:
            daemon = self.start(webhook)
            webhook.set_status(404)
            [refused] = publish(daemon, "orders", ["no such order"])

            def dead_letter():
                status, answer = fx.http("GET", f"{daemon.url}/api/v1/queues/ballast.dead-letter/messages?max=100")
                letters = answer["messages"] if status == 200 else []
                return [m for m in letters if m["id"] == refused]

            self.assertTrue(fx.wait_for(dead_letter, timeout_s=20), self.log())
            reason = dead_letter()[0]["headers"]["x-death-reason"]
            self.assertIn("failed on attempt 1", reason)
            self.assertIn(f"{webhook.url} answered HTTP 404", reason)
            self.assertEqual(webhook.attempts(), [1])
            webhook.set_status(429)
            [throttled] = publish(daemon, "orders", ["slow down"])
            self.assertTrue(fx.wait_for(lambda: len(webhook.attempts()) >= 3, timeout_s=20), self.log())
            webhook.set_status(200)
            self.assertTrue(fx.wait_for(lambda: throttled in webhook.delivered_ids(), timeout_s=20), self.log())
            self.assertTrue(self.logged("event=plugin.trigger_retry", "plugin=hook", "answered HTTP 429"))

    def test_pending_trigger_work_survives_a_kill9(self):
        with WebhookServer() as webhook:
            daemon = self.start(webhook)
            webhook.set_status(503)
            ids = publish(daemon, "orders", [f"pending {i}" for i in range(10)])
            self.assertTrue(fx.wait_for(lambda: len(webhook.attempts()) >= 3, timeout_s=20), self.log())
            daemon.kill9()
            self.assertFalse(set(ids) & webhook.delivered_ids())
            webhook.set_status(200)
            self.daemon = fx.Daemon(ARGS.ballastd, self.data_dir, extra_args=daemon.extra_args).start()
            self.assertTrue(fx.wait_for(lambda: set(ids) <= webhook.delivered_ids(), timeout_s=30),
                            f"{len(set(ids) - webhook.delivered_ids())} not posted after the restart\n{self.log()}")
            self.assertTrue(fx.wait_for(lambda: queue_messages(self.daemon, "ballast.trigger.hook") == 0,
                                        timeout_s=10))

    def test_a_trigger_that_crashes_on_every_message_costs_publishers_nothing(self):
        with WebhookServer() as webhook:
            daemon = self.start(webhook)
            slowest = 0.0
            crashy_ids = []
            for round_number in range(20):
                for queue in ("crashy", "plain"):
                    started = time.monotonic()
                    ids = publish(daemon, queue, [f"{queue} {round_number}"])
                    slowest = max(slowest, time.monotonic() - started)
                    if queue == "crashy":
                        crashy_ids += ids
            self.assertLess(slowest, 2.0)
            self.assertEqual(queue_messages(daemon, "crashy"), 20)
            self.assertEqual(queue_messages(daemon, "plain"), 20)
            self.assertTrue(fx.wait_for(lambda: self.logged("event=plugin.exited", "plugin=crasher"), timeout_s=20),
                            self.log())
            # Nothing dropped: every work item is dead-lettered with the reason after max_attempts = 2.

            def dead_lettered():
                status, answer = fx.http("GET", f"{daemon.url}/api/v1/queues/ballast.dead-letter/messages?max=100")
                if status != 200:
                    return set()
                return {m["id"] for m in answer["messages"]
                        if "gave up after 2 attempts" in m.get("headers", {}).get("x-death-reason", "")
                        and m["headers"].get("x-ballast-trigger-queue") == "crashy"}

            self.assertTrue(fx.wait_for(lambda: set(crashy_ids) <= dead_lettered(), timeout_s=90),
                            f"{len(set(crashy_ids) - dead_lettered())} not dead-lettered\n{self.log()}")
            self.assertTrue(self.logged("event=plugin.trigger_dead_lettered", "plugin=crasher", "queue=crashy"))
            # The other trigger and its queue were never affected.
            ids = publish(daemon, "orders", ["after the crashes"])
            self.assertTrue(fx.wait_for(lambda: set(ids) <= webhook.delivered_ids(), timeout_s=20), self.log())


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--ballastd", required=True)
    parser.add_argument("--webhook", required=True)
    ARGS, rest = parser.parse_known_args()
    unittest.main(argv=[sys.argv[0], *rest], verbosity=2)
