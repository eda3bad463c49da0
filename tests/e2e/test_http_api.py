"""End-to-end: a real ballastd on 127.0.0.1, driven by curl, urllib and the ballast CLI."""
import argparse
import os
import subprocess
import sys
import threading
import unittest

import ballast_fixture as fx

ARGS = None


class HttpApiEndToEnd(unittest.TestCase):
    def setUp(self):
        self.data = fx.TempDataDir()
        self.data_dir = self.data.__enter__()
        self.daemon = fx.Daemon(ARGS.ballastd, self.data_dir).start()

    def tearDown(self):
        self.daemon.stop()
        self.data.__exit__(None, None, None)

    def cli(self, *args, input_text=None):
        env = dict(os.environ, BALLAST_SERVER=self.daemon.url)
        return subprocess.run([ARGS.ballast, *args], input=input_text, capture_output=True, text=True,
                              timeout=120, env=env)

    def test_curl_and_cli_move_ten_thousand_messages(self):
        status, body = fx.curl("PUT", f"{self.daemon.url}/api/v1/queues/orders", {"max_length": 100000})
        self.assertEqual(status, 201, body)
        status, body = fx.curl("PUT", f"{self.daemon.url}/api/v1/queues/orders", {"max_length": 100000})
        self.assertEqual(status, 200, body)
        status, body = fx.curl("PUT", f"{self.daemon.url}/api/v1/queues/orders", {"max_length": 5})
        self.assertEqual(status, 409, body)
        self.assertEqual(body["error"]["code"], "QUEUE_EXISTS_DIFFERENT")
        self.assertIn("max_length", body["error"]["message"])

        lines = "".join(f"order-{i}\n" for i in range(10000))
        sent = self.cli("send", "orders", input_text=lines)
        self.assertEqual(sent.returncode, 0, sent.stderr)
        status, info = fx.curl("GET", f"{self.daemon.url}/api/v1/queues/orders")
        self.assertEqual(status, 200)
        self.assertEqual(info["messages"], 10000)

        seen = set()
        for _ in range(100):
            status, batch = fx.curl("POST", f"{self.daemon.url}/api/v1/queues/orders/receive", {"max": 1000})
            self.assertEqual(status, 200, batch)
            if not batch["messages"]:
                break
            receipts = [m["receipt"] for m in batch["messages"]]
            seen.update(m["body"] for m in batch["messages"])
            status, acked = fx.curl("POST", f"{self.daemon.url}/api/v1/queues/orders/ack", {"receipts": receipts})
            self.assertEqual(status, 200, acked)
        self.assertEqual(seen, {f"order-{i}" for i in range(10000)})
        status, info = fx.curl("GET", f"{self.daemon.url}/api/v1/queues/orders")
        self.assertEqual((info["messages"], info["in_flight"]), (0, 0))

        received = self.cli("receive", "orders", "--count", "1")
        self.assertEqual(received.returncode, 0, received.stderr)
        self.assertEqual(received.stdout.strip(), "")

    def test_cli_round_trip_and_errors(self):
        created = self.cli("queue", "create", "mail")
        self.assertEqual(created.returncode, 0, created.stderr)
        self.assertEqual(self.cli("send", "mail", "hello").returncode, 0)
        received = self.cli("receive", "mail")
        self.assertEqual(received.returncode, 0, received.stderr)
        self.assertEqual(received.stdout.strip(), "hello")
        missing = self.cli("send", "no-such-queue", "x")
        self.assertEqual(missing.returncode, 1)
        self.assertIn("QUEUE_NOT_FOUND", missing.stderr)
        unreachable = subprocess.run([ARGS.ballast, "--server", "http://127.0.0.1:9", "stats"],
                                     capture_output=True, text=True, timeout=60)
        self.assertEqual(unreachable.returncode, 3, unreachable.stderr)

    def test_errors_name_their_cause(self):
        status, body = fx.http("POST", f"{self.daemon.url}/api/v1/queues/ghost/messages", {"body": "x"})
        self.assertEqual(status, 404)
        self.assertEqual(body["error"]["code"], "QUEUE_NOT_FOUND")
        self.assertIn("ghost", body["error"]["message"])
        self.assertTrue(body["error"]["fix"])
        fx.http("PUT", f"{self.daemon.url}/api/v1/queues/jobs", {})
        status, body = fx.http("POST", f"{self.daemon.url}/api/v1/queues/jobs/ack", {"receipts": ["bogus"]})
        self.assertEqual(status, 400)
        self.assertEqual(body["error"]["code"], "RECEIPT_INVALID")
        self.assertIn("bogus", body["error"]["message"])
        status, body = fx.http("PUT", f"{self.daemon.url}/api/v1/queues/jobs2", {"max_lenght": 3})
        self.assertEqual(status, 400)
        self.assertIn("max_lenght", body["error"]["message"])
        status, health = fx.http("GET", f"{self.daemon.url}/healthz")
        self.assertEqual(status, 200)

    def test_second_daemon_on_the_same_directory_refuses_and_names_the_pid(self):
        second = fx.Daemon(ARGS.ballastd, self.data_dir)
        second.start(expect_ready=False)
        code = second.wait_exit()
        self.assertNotEqual(code, 0)
        log = "\n".join(second.log_lines)
        self.assertIn("DATA_DIR_LOCKED", log)
        self.assertIn(str(self.daemon.process.pid), log)


class KillNineDuringPublish(unittest.TestCase):
    def test_every_confirmed_publish_survives_kill9(self):
        with fx.TempDataDir() as data_dir:
            daemon = fx.Daemon(ARGS.ballastd, data_dir).start()
            try:
                fx.http("PUT", f"{daemon.url}/api/v1/queues/payments", {})
                confirmed = []
                lock = threading.Lock()
                stop = threading.Event()

                def publisher(worker):
                    for n in range(100000):
                        if stop.is_set():
                            return
                        body = {"body": f"w{worker}-{n}", "id": f"w{worker}-{n}"}
                        try:
                            status, answer = fx.http("POST", f"{daemon.url}/api/v1/queues/payments/messages", body,
                                                     timeout_s=5)
                        except OSError:
                            return
                        if status == 201:
                            with lock:
                                confirmed.append(answer["messages"][0]["id"])

                workers = [threading.Thread(target=publisher, args=(w,)) for w in range(4)]
                for worker in workers:
                    worker.start()
                self.assertTrue(fx.wait_for(lambda: len(confirmed) >= 2000, timeout_s=60))
                daemon.kill9()
                stop.set()
                for worker in workers:
                    worker.join(timeout=30)
            finally:
                daemon.kill9()
            restarted = fx.Daemon(ARGS.ballastd, data_dir).start()
            try:
                found = set()
                for _ in range(1000):
                    status, batch = fx.http("POST", f"{restarted.url}/api/v1/queues/payments/receive",
                                            {"max": 1000, "visibility_timeout_seconds": 600})
                    self.assertEqual(status, 200)
                    if not batch["messages"]:
                        break
                    for message in batch["messages"]:
                        self.assertNotIn(message["id"], found, "delivered twice")
                        found.add(message["id"])
                        self.assertTrue(message["redelivered"] in (True, False))
                lost = [i for i in confirmed if i not in found]
                print(f"kill -9 test: {len(confirmed)} confirmed publishes, {len(found)} recovered, "
                      f"{len(lost)} lost", file=sys.stderr)
                self.assertEqual(lost, [])
            finally:
                restarted.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--ballastd", required=True)
    parser.add_argument("--ballast", required=True)
    ARGS, rest = parser.parse_known_args()
    unittest.main(argv=[sys.argv[0], *rest], verbosity=2)
