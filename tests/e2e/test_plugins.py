#!/usr/bin/python3
"""Plug-ins cannot take the host down (issue 5, rule R5): a real ballastd with misbehaving filter
plug-ins (tests/e2e/plugins/moody_filter.py), publishers over HTTP and AMQP (pika).

Each filtered queue has its own plug-in process in its own mode: one that hangs in its
handshake (policy hold), one that crashes on every message (bypass), one slower than its
deadline (reject), one that writes garbage frames (hold). For each, under publish load: the
broker stays up, the unfiltered queue is served without waiting on any plug-in, the queue follows
its policy exactly, and events name the plug-in and the cause. Then the hung plug-in is mended:
every held message reaches its queue (hold loses nothing).
"""
import argparse
import os
import sys
import tempfile
import threading
import time

import pika

from ballast_fixture import Daemon, TempDataDir, http, wait_for

HERE = os.path.dirname(os.path.abspath(__file__))
MOODY = os.path.join(HERE, "plugins", "moody_filter.py")
PER_QUEUE = 40


def plugin_table(name, mode_file, queue, policy, call_timeout_ms=1000):
    return f"""
[[plugins]]
name = "{name}"
kind = "filter"
command = ["/usr/bin/python3", "{MOODY}", "{mode_file}"]
queues = ["{queue}"]
policy = "{policy}"
call_timeout_ms = {call_timeout_ms}
handshake_timeout_ms = 1000
ping_interval_ms = 500
circuit_open_ms = 2000
"""


class Scenario:
    def __init__(self, ballastd, data_dir, work):
        self.modes = {}
        tables = []
        for name, mode, queue, policy in [
            ("good", "ok", "mail", "reject"),
            ("hanger", "hang", "held", "hold"),
            ("crasher", "crash", "bypassed", "bypass"),
            ("sloth", "slow", "refused", "reject"),
            ("babbler", "garbage", "garbled", "hold"),
        ]:
            path = os.path.join(work, f"{name}.mode")
            with open(path, "w") as f:
                f.write(mode)
            self.modes[name] = path
            tables.append(plugin_table(name, path, queue, policy))
        config = os.path.join(work, "ballast.toml")
        with open(config, "w") as f:
            f.write("\n".join(tables))
        self.daemon = Daemon(ballastd, data_dir, ["--config", config])

    def set_mode(self, name, mode):
        with open(self.modes[name], "w") as f:
            f.write(mode)

    def log_has(self, *words):
        return any(all(word in line for word in words) for line in list(self.daemon.log_lines))


def publish(url, queue, body):
    return http("POST", f"{url}/api/v1/queues/{queue}/messages", {"body": body}, timeout_s=30)


def receive_all(url, queue, limit=500):
    messages = []
    for _ in range(limit):
        status, answer = http("POST", f"{url}/api/v1/queues/{queue}/receive",
                              {"max": 100, "wait_seconds": 0})
        assert status == 200, (status, answer)
        batch = answer["messages"]
        if not batch:
            return messages
        messages += batch
        status, _ = http("POST", f"{url}/api/v1/queues/{queue}/ack",
                         {"receipts": [m["receipt"] for m in batch]})
        assert status == 200
    raise AssertionError(f"queue {queue} did not drain")


def count(url, queue):
    status, answer = http("GET", f"{url}/api/v1/queues/{queue}")
    return answer["messages"] if status == 200 else None


def check_unfiltered_queue_never_waits(url):
    """A publish to the slow plug-in's queue is under way (3 s per answer, 1 s deadline): publishes
    to the unfiltered queue are answered before it is."""
    slow_answer = {}
    slow = threading.Thread(target=lambda: slow_answer.update(result=publish(url, "refused", "slow")))
    started = time.monotonic()
    slow.start()
    for i in range(PER_QUEUE):
        status, answer = publish(url, "plain", f"plain {i}")
        assert status == 201, (status, answer)
    plain_done = time.monotonic() - started
    slow.join(30)
    slow_done = time.monotonic() - started
    print(f"{PER_QUEUE} unfiltered publishes answered in {plain_done:.2f} s; "
          f"the slow-filtered one in {slow_done:.2f} s")
    assert plain_done < slow_done, "the unfiltered publishes waited for the slow plug-in"
    status, answer = slow_answer["result"]
    assert status == 503 and answer["error"]["code"] == "PLUGIN_UNAVAILABLE", (status, answer)
    assert "sloth" in answer["error"]["message"], answer
    assert count(url, "plain") == PER_QUEUE


def check_good_filter(url):
    status, answer = publish(url, "mail", "hello")
    assert status == 201, (status, answer)
    status, answer = publish(url, "mail", "reject me")
    assert status == 422 and answer["error"]["code"] == "PLUGIN_REJECTED", (status, answer)
    assert "good" in answer["error"]["message"] and "starts with reject" in answer["error"]["message"], answer
    status, answer = publish(url, "mail", "spam offer")
    assert status == 201, (status, answer)
    bodies = [m["body"] for m in receive_all(url, "mail")]
    assert bodies == ["hello [filtered]"], bodies
    assert [m["body"] for m in receive_all(url, "spam")] == ["spam offer"]
    print("a healthy filter accepts, rewrites, rejects (422 PLUGIN_REJECTED) and reroutes")


def check_policies(scenario, url):
    for i in range(PER_QUEUE):
        for queue in ("held", "bypassed", "garbled"):
            status, answer = publish(url, queue, f"{queue} {i}")
            assert status == 201, (queue, status, answer)
        status, answer = publish(url, "refused", f"refused {i}")
        assert status == 503 and answer["error"]["code"] == "PLUGIN_UNAVAILABLE", (status, answer)
    assert count(url, "held") == 0 and count(url, "ballast.held.held") == PER_QUEUE
    assert count(url, "garbled") == 0 and count(url, "ballast.held.garbled") == PER_QUEUE
    assert count(url, "refused") == 0
    bypassed = receive_all(url, "bypassed")
    assert len(bypassed) == PER_QUEUE, len(bypassed)
    for message in bypassed:
        assert message["headers"]["x-ballast-filter-bypassed"].startswith("crasher: "), message
    print(f"hold stored {PER_QUEUE} in ballast.held.held and ballast.held.garbled; bypass tagged "
          f"{PER_QUEUE}; reject refused {PER_QUEUE} with PLUGIN_UNAVAILABLE")
    for words in [("plugin.handshake_failed", "hanger"), ("plugin.exited", "crasher"),
                  ("plugin.slow", "sloth"), ("plugin.protocol_error", "babbler"),
                  ("plugin.stderr", "crasher", "crashing on purpose")]:
        assert wait_for(lambda: scenario.log_has(*words), 15), f"no event with {words}"
    print("events name each plug-in and its cause")


def check_amqp(url, amqp_address):
    host, _, port = amqp_address.rpartition(":")
    connection = pika.BlockingConnection(pika.ConnectionParameters(host=host, port=int(port)))
    channel = connection.channel()
    channel.confirm_delivery()
    channel.basic_publish("", "mail", b"over amqp", pika.BasicProperties(delivery_mode=2, headers={"k": "v"}))
    try:
        channel.basic_publish("", "mail", b"reject over amqp", pika.BasicProperties(delivery_mode=2))
        raise AssertionError("a rejected AMQP publish was confirmed")
    except pika.exceptions.NackError:
        pass
    method, properties, body = channel.basic_get("mail", auto_ack=True)
    assert body == b"over amqp [filtered]", body
    assert properties.headers == {"k": "v"}, properties.headers
    connection.close()
    print("AMQP: a filtered publish is confirmed after its verdict; a rejected one is nacked")


def check_hold_loses_nothing(scenario, url):
    scenario.set_mode("hanger", "ok")
    assert wait_for(lambda: count(url, "held") == PER_QUEUE, 60), (count(url, "held"), count(url, "ballast.held.held"))
    assert count(url, "ballast.held.held") == 0
    bodies = sorted(m["body"] for m in receive_all(url, "held"))
    assert bodies == sorted(f"held {i} [filtered]" for i in range(PER_QUEUE)), bodies[:5]
    print(f"the mended plug-in filtered all {PER_QUEUE} held messages into their queue")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--ballastd", required=True)
    args = parser.parse_args()
    with TempDataDir() as data_dir, tempfile.TemporaryDirectory(prefix="ballast-plugins-") as work:
        scenario = Scenario(args.ballastd, data_dir, work)
        daemon = scenario.daemon.start()
        try:
            url = daemon.url
            for queue in ("mail", "spam", "held", "bypassed", "refused", "garbled", "plain"):
                status, answer = http("PUT", f"{url}/api/v1/queues/{queue}", {})
                assert status in (200, 201), (status, answer)
            assert wait_for(lambda: scenario.log_has("plugin.ready", "good"), 20), "the healthy plug-in never got ready"
            check_good_filter(url)
            check_unfiltered_queue_never_waits(url)
            check_policies(scenario, url)
            check_amqp(url, daemon.ready_fields["amqp"])
            check_hold_loses_nothing(scenario, url)
            status, health = http("GET", f"{url}/healthz")
            assert status == 200, (status, health)
            assert daemon.process.poll() is None, "ballastd exited"
        except BaseException:
            sys.stderr.write("\n".join(daemon.log_lines[-60:]) + "\n")
            raise
        finally:
            daemon.stop()
    print("6 passed, 0 failed")


if __name__ == "__main__":
    main()
