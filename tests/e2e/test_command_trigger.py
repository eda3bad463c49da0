"""End-to-end: the shipped command-trigger plug-in in a real ballastd (docs/plugins.md,
"command-trigger").

The command is a small Python script written by this test: it appends the body it got on stdin
and its BALLAST_* environment to a record file, one JSON line a run, and ends by the body:
"tempfail..." exits 75 on attempt 1 and 0 after, "bad..." writes a line to stderr and exits 3,
anything else exits 0. Proves:
  - every message published over HTTP runs the command once, with its body on stdin and its
    queue, id, attempt and headers in the environment;
  - exit 75 is retried (plugin.trigger_retry) and the next attempt is done;
  - exit 3 dead-letters the message into ballast.dead-letter with a reason naming the command,
    the status and the last stderr line (plugin.trigger_dead_lettered, code=PLUGIN_REJECTED);
  - an invalid option makes the plug-in refuse its hello with a CONFIG_INVALID line in the log.
"""
import argparse
import json
import os
import shutil
import sys
import tempfile
import unittest

import ballast_fixture as fx

ARGS = None

SCRIPT = r'''
import json, os, sys
body = sys.stdin.buffer.read().decode()
env = {key: value for key, value in os.environ.items() if key.startswith("BALLAST_")}
with open(sys.argv[1], "a") as record:
    record.write(json.dumps({"body": body, "env": env}) + "\n")
if body.startswith("tempfail") and env["BALLAST_ATTEMPT"] == "1":
    print("backend busy", file=sys.stderr)
    sys.exit(75)
if body.startswith("bad"):
    print("looking the customer up", file=sys.stderr)
    print("no such customer 42", file=sys.stderr)
    sys.exit(3)
'''


def config_text(command_json):
    return f"""
[[plugins]]
name = "runner"
kind = "trigger"
command = ["{ARGS.command_trigger}"]
queues = ["jobs"]
call_timeout_ms = 10000    # above timeout_ms x concurrency
ping_interval_ms = 500
retry_initial_ms = 100
retry_max_ms = 400
max_attempts = 5
concurrency = 2
max_memory_bytes = 0       # an AddressSanitizer build reserves terabytes of address space
options = {{ command = '{command_json}', timeout_ms = "3000" }}

[[plugins]]
name = "broken"
kind = "trigger"
command = ["{ARGS.command_trigger}"]
queues = ["other"]
circuit_open_ms = 300
max_memory_bytes = 0
options = {{ command = '["/no/such/program"]' }}
"""


def publish(daemon, queue, messages):
    status, answer = fx.http("POST", f"{daemon.url}/api/v1/queues/{queue}/messages", {"messages": messages})
    assert status == 201, (status, answer)
    return [message["id"] for message in answer["messages"]]


def dead_letters(daemon):
    status, answer = fx.http("GET", f"{daemon.url}/api/v1/queues/ballast.dead-letter/messages?max=100")
    return answer["messages"] if status == 200 else []


class CommandTrigger(unittest.TestCase):
    def setUp(self):
        self.data_dir = tempfile.mkdtemp(prefix="ballast-e2e-")
        self.work_dir = tempfile.TemporaryDirectory(prefix="ballast-e2e-command-")
        self.record = os.path.join(self.work_dir.name, "runs.jsonl")
        script = os.path.join(self.work_dir.name, "on_job.py")
        with open(script, "w") as out:
            out.write(SCRIPT)
        config = os.path.join(self.work_dir.name, "ballast.toml")
        with open(config, "w") as out:
            out.write(config_text(json.dumps(["/usr/bin/python3", script, self.record])))
        self.daemon = fx.Daemon(ARGS.ballastd, self.data_dir, extra_args=["--config", config]).start()
        for queue in ("jobs", "other"):
            status, _ = fx.http("PUT", f"{self.daemon.url}/api/v1/queues/{queue}", {})
            self.assertIn(status, (200, 201))
        self.assertTrue(fx.wait_for(lambda: self.daemon.logged("event=plugin.ready", "plugin=runner"), timeout_s=20),
                        self.daemon.log_tail())

    def tearDown(self):
        self.daemon.stop()
        self.work_dir.cleanup()
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def runs(self):
        if not os.path.exists(self.record):
            return []
        with open(self.record) as record:
            return [json.loads(line) for line in record if line.endswith("\n")]

    def runs_of(self, message_id):
        return [run for run in self.runs() if run["env"].get("BALLAST_MESSAGE_ID") == message_id]

    def test_every_message_runs_the_command_with_its_body_and_metadata(self):
        count = 20
        ids = publish(self.daemon, "jobs",
                      [{"body": f"job {i}", "headers": {"x-order-id": str(i)}} for i in range(count)])
        self.assertTrue(fx.wait_for(lambda: {run["env"].get("BALLAST_MESSAGE_ID") for run in self.runs()} >= set(ids),
                                    timeout_s=60),
                        f"{len(self.runs())} of {count} ran\n{self.daemon.log_tail()}")
        for i, message_id in enumerate(ids):
            run = self.runs_of(message_id)[0]
            self.assertEqual(run["body"], f"job {i}")
            self.assertEqual(run["env"]["BALLAST_QUEUE"], "jobs")
            self.assertEqual(run["env"]["BALLAST_VHOST"], "/")
            self.assertEqual(run["env"]["BALLAST_ATTEMPT"], "1")
            self.assertEqual(run["env"]["BALLAST_HEADER_X_ORDER_ID"], str(i))
            self.assertNotIn("BALLAST_ROUTING_KEY", run["env"])  # published over HTTP
        self.assertTrue(fx.wait_for(lambda: len(self.daemon.logged("event=plugin.trigger_done", "plugin=runner")) >= count,
                                    timeout_s=10), self.daemon.log_tail())

    def test_exit_75_is_retried_and_exit_3_is_dead_lettered_with_the_reason(self):
        tempfail, bad = publish(self.daemon, "jobs", [{"body": "tempfail once"}, {"body": "bad customer"}])
        self.assertTrue(fx.wait_for(lambda: len(self.runs_of(tempfail)) >= 2, timeout_s=30), self.daemon.log_tail())
        self.assertEqual([run["env"]["BALLAST_ATTEMPT"] for run in self.runs_of(tempfail)], ["1", "2"])
        self.assertTrue(self.daemon.logged("event=plugin.trigger_retry", "plugin=runner", "EX_TEMPFAIL", "backend busy"),
                        self.daemon.log_tail())
        self.assertTrue(fx.wait_for(lambda: self.daemon.logged("event=plugin.trigger_done", "plugin=runner",
                                                        f"message_id={tempfail}"), timeout_s=10), self.daemon.log_tail())

        def dead():
            return [m for m in dead_letters(self.daemon) if m.get("headers", {}).get("x-ballast-trigger-queue") == "jobs"]

        self.assertTrue(fx.wait_for(lambda: dead(), timeout_s=30), self.daemon.log_tail())
        [letter] = dead()
        self.assertEqual(letter["id"], bad)
        self.assertEqual(letter["body"], "bad customer")
        reason = letter["headers"]["x-death-reason"]
        self.assertIn("trigger plug-in \"runner\" failed on attempt 1", reason)
        self.assertIn("exited with status 3; its last stderr line: no such customer 42", reason)
        self.assertIn("/usr/bin/python3", reason)
        self.assertEqual(len(self.runs_of(bad)), 1)  # failed is never retried
        self.assertTrue(self.daemon.logged("event=plugin.trigger_dead_lettered", "plugin=runner",
                                           f"message_id={bad}", "code=PLUGIN_REJECTED"), self.daemon.log_tail())
        # The command's stderr reached the broker's log.
        self.assertTrue(self.daemon.logged("event=plugin.stderr", "plugin=runner", "looking the customer up"), self.daemon.log_tail())

    def test_an_invalid_option_refuses_the_hello_with_the_fix(self):
        self.assertTrue(fx.wait_for(lambda: self.daemon.logged("plugin=broken", "CONFIG_INVALID", "/no/such/program",
                                                        "not an executable file"), timeout_s=20), self.daemon.log_tail())
        self.assertFalse(self.daemon.logged("event=plugin.ready", "plugin=broken"))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--ballastd", required=True)
    parser.add_argument("--command-trigger", required=True)
    ARGS, rest = parser.parse_known_args()
    unittest.main(argv=[sys.argv[0], *rest], verbosity=2)
