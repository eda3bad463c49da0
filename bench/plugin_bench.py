#!/usr/bin/python3
"""Plug-in isolation benchmark (issue 5, rule R5): what a misbehaving filter plug-in costs the
queues it is NOT attached to.

For each case a fresh ballastd (release build, data on the real disk) serves two queues:
"filtered", whose filter plug-in is tests/e2e/plugins/moody_filter.py in one mode (policy hold),
and "plain", which has no filter. One HTTP client keeps publishing to "filtered" the whole time
while amqp_load drives the durable AMQP workload (1 producer with confirms, 1 consumer, 1 KiB
persistent messages) on "plain". The case "none" runs the same load with no plug-in configured;
every other case prints its "plain" throughput as a ratio to "none" from this same run.

Usage: bench/plugin_bench.py BUILD_DIR WORK_DIR [--messages N]
Prints a table and `plugin.<case>.*=` lines; exits 1 if a run failed or lost a message.
"""
import argparse
import os
import shutil
import subprocess
import sys
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))
from ballast_fixture import Daemon, http  # noqa: E402

MOODY = os.path.join(REPO, "tests", "e2e", "plugins", "moody_filter.py")
# moody_filter.py modes (see its docstring) and what they do to the filtered queue.
CASES = [
    ("none", None, "no plug-in configured"),
    ("ok", "ok", "a healthy filter answering every message"),
    ("crash", "crash", "exits on every message; restarted with back-off"),
    ("slow", "slow", "answers after 3 s, past its 200 ms deadline"),
    ("garbage", "garbage", "answers with bytes that are not a frame"),
    ("hang", "hang", "never completes its handshake"),
]


def config_for(work, mode):
    mode_file = os.path.join(work, "filter.mode")
    with open(mode_file, "w") as f:
        f.write(mode)
    config = os.path.join(work, "ballast.toml")
    with open(config, "w") as f:
        f.write(f"""
[[plugins]]
name = "moody"
kind = "filter"
command = ["/usr/bin/python3", "{MOODY}", "{mode_file}"]
queues = ["filtered"]
policy = "hold"
call_timeout_ms = 200
handshake_timeout_ms = 1000
ping_interval_ms = 500
circuit_open_ms = 2000
""")
    return config


class FilteredPublisher:
    """Publishes one message at a time to "filtered" over HTTP until stopped; counts answers."""

    def __init__(self, url):
        self.url = url
        self.answers = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        for serial in range(10 ** 7):
            if self.stop.is_set():
                return
            status, _ = http("POST", f"{self.url}/api/v1/queues/filtered/messages",
                             {"body": f"filtered {serial}"}, timeout_s=30)
            self.answers[status] = self.answers.get(status, 0) + 1

    def finish(self):
        self.stop.set()
        self.thread.join(60)


def stored_filtered(url):
    """Messages in "filtered" and in its held queue: hold must keep every answered publish."""
    total = 0
    for queue in ("filtered", "ballast.held.filtered"):
        status, answer = http("GET", f"{url}/api/v1/queues/{queue}")
        if status == 200:
            total += answer["messages"] + answer["in_flight"]
    return total


def amqp_load(load, address, case, messages):
    host, port = address.rsplit(":", 1)
    result = subprocess.run(
        [load, "--host", host, "--port", port, "--workload", f"plugin-{case}", "--queue", "plain",
         "--messages", str(messages), "--size", "1024", "--inflight", "1000", "--prefetch", "1000",
         "--timeout", "300"],
        capture_output=True, text=True, timeout=330)
    figures = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line and not line.startswith("#"))
    return result.returncode, figures, result.stderr


def run_case(build_dir, work, case, mode, messages):
    data_dir = os.path.join(work, f"plugin-bench-{case}")
    shutil.rmtree(data_dir, ignore_errors=True)
    os.makedirs(data_dir)
    extra = ["--config", config_for(work, mode)] if mode else []
    daemon = Daemon(os.path.join(build_dir, "src", "daemon", "ballastd"), data_dir, extra)
    daemon.start()
    try:
        url = f"http://{daemon.address}"
        status, answer = http("PUT", f"{url}/api/v1/queues/filtered", {})  # amqp_load declares "plain"
        if status != 201:
            raise RuntimeError(f"creating queue filtered: HTTP {status} {answer}")
        publisher = FilteredPublisher(url)
        publisher.thread.start()
        rc, figures, stderr = amqp_load(os.path.join(build_dir, "bench", "amqp_load"),
                                        daemon.ready_fields["amqp"], case, messages)
        publisher.finish()
        answered = publisher.answers.get(201, 0)
        kept = stored_filtered(url)
        return {"rc": rc, "figures": figures, "stderr": stderr, "answers": publisher.answers,
                "answered": answered, "kept": kept}
    finally:
        daemon.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("build_dir")
    parser.add_argument("work_dir")
    parser.add_argument("--messages", type=int, default=50000)
    args = parser.parse_args()
    build_dir = os.path.abspath(args.build_dir)
    failures = []
    rates = {}
    print(f"Plug-in isolation: durable AMQP load ({args.messages} x 1 KiB, confirms, 1 producer, 1 consumer) "
          f"on a queue WITHOUT a filter while another queue's filter misbehaves (policy hold)")
    print(f"{'case':<8} {'plain msgs/s':>12} {'ratio':>6} {'p99 us':>8}  filtered publishes (201 / other) kept  behaviour")
    for case, mode, what in CASES:
        result = run_case(build_dir, os.path.abspath(args.work_dir), case, mode, args.messages)
        figures = result["figures"]
        rate = float(figures.get("msgs_per_s", 0) or 0)
        rates[case] = rate
        missing = int(figures.get("messages", 0) or 0) - int(figures.get("unique", 0) or 0)
        if result["rc"] != 0 or rate == 0 or missing != 0:
            failures.append(f"{case}: amqp_load exit {result['rc']}, {missing} missing: {result['stderr'][-300:]}")
        if result["kept"] < result["answered"]:
            failures.append(f"{case}: {result['answered']} filtered publishes answered 201 but {result['kept']} kept")
        other = sum(n for status, n in result["answers"].items() if status != 201)
        ratio = rate / rates["none"] if rates.get("none") else 0
        print(f"{case:<8} {rate:>12.0f} {ratio:>6.2f} {figures.get('latency_p99_us', '-'):>8}  "
              f"{result['answered']:>6} / {other:<5} {result['kept']:>6}  {what}")
        print(f"plugin.{case}.plain_msgs_per_s={rate:.0f}")
        print(f"plugin.{case}.plain_ratio_to_none={ratio:.2f}")
        print(f"plugin.{case}.filtered_answered={result['answered']}")
        print(f"plugin.{case}.filtered_kept={result['kept']}")
    for failure in failures:
        print(f"FAILED {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
