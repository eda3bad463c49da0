#!/usr/bin/env python3
"""EIO from the disk under a loaded broker (faults issue, "A write or fsync fails with EIO").

A real ballastd, built with BALLAST_FAULT_INJECTION, runs on the fault layer with a plan file
(--fault-plan, docs/fault-injection.md) that this test rewrites to switch EIO on and off for
the journal's segment files. A publisher and a consumer run over HTTP, and a pika publisher in
confirm mode over AMQP, throughout. For EIO on fdatasync, then EIO on write:

  - publishes are refused with 503 STORAGE_IO_ERROR whose message names the segment file and
    whose fix is set (AMQP: basic.nack), and never answered 201 (basic.ack) for a message
    whose fsync failed;
  - /healthz reports STORAGE_IO_ERROR; ballastd does not exit; the consumer still receives
    what is stored (its acks are refused while the journal cannot write);
  - once the plan is emptied, publishing resumes without a restart within two self-check
    intervals (plus slack), with exactly one storage.write_recovered event.

At the end every message the publisher saw confirmed has been delivered, no refused message
was ever delivered (a failed commit is never resurrected), and none was delivered twice
without the redelivered flag; a restart then finds exactly the confirmed, unacknowledged ones.
Without a fault-injection build the test fails with the fix; it never skips.

Usage: test_storage_eio.py --ballastd PATH
"""
import argparse
import base64
import os
import sys
import threading
import time

import pika

import ballast_fixture as fx

SELF_CHECK_MS = 200
QUEUE = "jobs"
VISIBILITY_S = 3


def require(condition, what):
    if not condition:
        raise AssertionError(what)


class Traffic:
    """One publisher and one consumer over HTTP; records every answer."""

    def __init__(self, url, amqp_address=None):
        self.url = url
        self.amqp_address = amqp_address
        self.amqp_confirmed = 0
        self.amqp_nacked = 0
        self.amqp_errors = []
        self.confirmed = set()
        self.refused = {}  # id -> (status, body) of the publish that refused it
        self.refusals = []  # (status, body) in order
        self.confirm_times = []
        self.delivered = {}  # id -> deliveries without the redelivered flag
        self.received = 0
        self.acked = 0
        self.ack_refusals = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.consuming = threading.Event()
        self.consuming.set()
        self.serial = 0
        self.threads = [threading.Thread(target=self.publish, daemon=True),
                        threading.Thread(target=self.consume, daemon=True)]
        if amqp_address:
            self.threads.append(threading.Thread(target=self.publish_amqp, daemon=True))

    def start(self):
        for thread in self.threads:
            thread.start()

    def finish(self):
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=60)

    def publish(self):
        for _ in range(10 ** 6):
            if self.stop.is_set():
                return
            ids = [f"m{self.serial + i}" for i in range(20)]
            self.serial += len(ids)
            status, body = fx.http("POST", f"{self.url}/api/v1/queues/{QUEUE}/messages",
                                   {"messages": [{"body": f"body of {i}", "id": i} for i in ids]}, timeout_s=30)
            with self.lock:
                if status == 201:
                    self.confirmed.update(ids)
                    self.confirm_times.append(time.monotonic())
                else:
                    self.refusals.append((status, body))
                    for i in ids:
                        self.refused[i] = (status, body)
            if status != 201:
                self.stop.wait(0.02)  # a refused publisher backs off, as a client would

    def publish_amqp(self):
        """A pika publisher in confirm mode: basic.ack only after the fsync, basic.nack if refused."""
        try:
            host, _, port = self.amqp_address.rpartition(":")
            connection = pika.BlockingConnection(pika.ConnectionParameters(
                host=host, port=int(port), credentials=pika.PlainCredentials("guest", "guest"),
                connection_attempts=1, socket_timeout=10, blocked_connection_timeout=None))
            channel = connection.channel()
            channel.confirm_delivery()
            for serial in range(10 ** 6):
                if self.stop.is_set():
                    break
                message_id = f"a{serial}"
                try:
                    channel.basic_publish("", QUEUE, f"body of {message_id}".encode(),
                                          pika.BasicProperties(delivery_mode=2, message_id=message_id))
                    with self.lock:
                        self.confirmed.add(message_id)
                        self.amqp_confirmed += 1
                except pika.exceptions.NackError:
                    with self.lock:
                        self.refused[message_id] = ("basic.nack", None)
                        self.amqp_nacked += 1
                    self.stop.wait(0.02)
            connection.close()
        except Exception as error:  # reported by the test's checks, never swallowed
            with self.lock:
                self.amqp_errors.append(repr(error))

    def consume(self):
        for _ in range(10 ** 6):
            if self.stop.is_set():
                return
            if self.consuming.wait(timeout=0.1):
                self.receive_once(wait_seconds=1)

    def receive_once(self, wait_seconds):
        status, batch = fx.http("POST", f"{self.url}/api/v1/queues/{QUEUE}/receive",
                                {"max": 50, "wait_seconds": wait_seconds, "visibility_timeout_seconds": VISIBILITY_S},
                                timeout_s=30)
        require(status == 200, f"receive failed: {status} {batch}")
        messages = batch["messages"]
        if not messages:
            return 0
        with self.lock:
            self.received += len(messages)
            for message in messages:
                body = message["body"]
                if message["encoding"] == "base64":  # AMQP bodies are bytes
                    body = base64.b64decode(body).decode()
                require(body == f"body of {message['id']}", f"damaged body: {message}")
                count = self.delivered.setdefault(message["id"], 0)
                if not message["redelivered"]:
                    self.delivered[message["id"]] = count + 1
        status, answer = fx.http("POST", f"{self.url}/api/v1/queues/{QUEUE}/ack",
                                 {"receipts": [m["receipt"] for m in messages]}, timeout_s=30)
        with self.lock:
            if status == 200:
                self.acked += len(messages)
            else:  # refused while the journal cannot write; the lease expires and it comes back
                self.ack_refusals.append((status, answer))
        return len(messages)

    def first_confirm_after(self, moment):
        with self.lock:
            later = [t for t in self.confirm_times if t > moment]
        return min(later) if later else None


class Plan:
    """The fault plan file; replaced atomically, and each change waited for in the log."""

    def __init__(self, path):
        self.path = path
        self.write("")

    def write(self, text):
        with open(self.path + ".tmp", "w") as out:
            out.write(text)
        os.rename(self.path + ".tmp", self.path)

    def apply(self, daemon, text, rules):
        loaded_before = self.loaded(daemon)
        self.write(text)
        require(fx.wait_for(lambda: self.loaded(daemon) > loaded_before, timeout_s=10),
                f"ballastd did not load the fault plan {text!r}")
        last = [line for line in daemon.log_lines if "event=fault_injection.plan_loaded" in line][-1]
        require(f"rules={rules}" in last, f"unexpected plan load: {last}")

    @staticmethod
    def loaded(daemon):
        return sum("event=fault_injection.plan_loaded" in line for line in daemon.log_lines)


def health_codes(url):
    status, health = fx.http("GET", f"{url}/healthz")
    require(status == 200, f"/healthz answered {status}")
    return [part["code"] for part in health.get("degraded", [])]


def count_events(daemon, name):
    return sum(f"event={name} " in line or line.endswith(f"event={name}") for line in daemon.log_lines)


def run_fault(name, rule, daemon, traffic, plan, journal_dir):
    print(f"CHECK {name}", file=sys.stderr)
    refusals_before = len(traffic.refusals)
    recovered_before = count_events(daemon, "storage.write_recovered")
    traffic.consuming.clear()  # a backlog for the consumer to drain during the fault
    confirmed_before = len(traffic.confirmed)
    require(fx.wait_for(lambda: len(traffic.confirmed) >= confirmed_before + 500, timeout_s=30),
            f"{name}: no backlog built up")
    plan.apply(daemon, rule + "\n", rules=1)
    require(fx.wait_for(lambda: len(traffic.refusals) > refusals_before, timeout_s=10),
            f"{name}: no publish was refused")
    status, body = traffic.refusals[refusals_before]
    require(status == 503, f"{name}: publish refused with {status}, not 503: {body}")
    error = body["error"]
    require(error["code"] == "STORAGE_IO_ERROR", f"{name}: wrong code {error}")
    require(journal_dir in error["message"] and ".seg" in error["message"],
            f"{name}: the segment file is not named in {error['message']!r}")
    require(error["fix"], f"{name}: no fix in {error}")
    require(fx.wait_for(lambda: "STORAGE_IO_ERROR" in health_codes(daemon.url), timeout_s=5),
            f"{name}: /healthz does not report STORAGE_IO_ERROR")
    received_before = traffic.received
    traffic.consuming.set()
    require(fx.wait_for(lambda: traffic.received >= received_before + 100, timeout_s=10),
            f"{name}: the consumer could not receive during the fault")
    require(daemon.process.poll() is None, f"{name}: ballastd exited")
    # The fault stays on for a few self-checks: the journal must not recover while it lasts.
    time.sleep(3 * SELF_CHECK_MS / 1000)  # a span the fault must outlast, not a wait for a condition
    confirmed_during = len(traffic.confirmed)
    require(count_events(daemon, "storage.write_recovered") == recovered_before,
            f"{name}: the journal claimed recovery while the fault lasted")
    plan.apply(daemon, "", rules=0)
    removed_at = time.monotonic()
    require(fx.wait_for(lambda: traffic.first_confirm_after(removed_at) is not None, timeout_s=10),
            f"{name}: publishing did not resume")
    took = traffic.first_confirm_after(removed_at) - removed_at
    print(f"  {name}: {len(traffic.refusals) - refusals_before} publishes refused, {confirmed_during} confirmed "
          f"so far; publishing resumed {took:.2f} s after the fault was removed", file=sys.stderr)
    require(took <= 2 * SELF_CHECK_MS / 1000 + 2.0, f"{name}: publishing resumed only after {took:.2f} s")
    require(fx.wait_for(lambda: not health_codes(daemon.url), timeout_s=5), f"{name}: /healthz still degraded")
    recovered = count_events(daemon, "storage.write_recovered")
    require(recovered == recovered_before + 1,
            f"{name}: {recovered - recovered_before} recovery events, expected exactly one")


def drain(traffic, deadline_s):
    """Receives and acks until the queue stays empty past the visibility timeout."""
    deadline = time.monotonic() + deadline_s
    empty_since = None
    while time.monotonic() < deadline:
        if traffic.receive_once(wait_seconds=1) > 0:
            empty_since = None
        elif empty_since is None:
            empty_since = time.monotonic()
        elif time.monotonic() - empty_since > VISIBILITY_S + 1:
            return
    raise AssertionError("the queue did not drain")


def start_daemon(ballastd, data, plan_path):
    daemon = fx.Daemon(ballastd, data, extra_args=["--fault-plan", plan_path],
                       env={"BALLAST_STORAGE_SELF_CHECK_INTERVAL_MS": str(SELF_CHECK_MS)})
    try:
        return daemon.start()
    except AssertionError as error:
        if any("--fault-plan" in line for line in daemon.log_lines):
            raise AssertionError(f"{ballastd} has no --fault-plan flag. Fix: build it with "
                                 "-DBALLAST_FAULT_INJECTION=ON (make build-test does)") from error
        raise


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--ballastd", required=True)
    args = parser.parse_args()
    daemon = None
    with fx.TempDataDir() as base:
        try:
            data = os.path.join(base, "data")
            plan_path = os.path.join(base, "fault-plan")
            plan = Plan(plan_path)
            daemon = start_daemon(args.ballastd, data, plan_path)
            require(fx.wait_for(lambda: Plan.loaded(daemon) >= 1, timeout_s=10), "the fault plan was not loaded")
            status, body = fx.http("PUT", f"{daemon.url}/api/v1/queues/{QUEUE}", {})
            require(status in (200, 201), f"queue create: {status} {body}")
            journal_dir = os.path.join(data, "journal")
            traffic = Traffic(daemon.url, daemon.ready_fields.get("amqp", "").split(",")[0])
            traffic.start()
            require(fx.wait_for(lambda: len(traffic.confirmed) >= 1000, timeout_s=30), "the publisher did not start")

            run_fault("EIO on fdatasync of segments", "sync *.seg EIO", daemon, traffic, plan, journal_dir)
            run_fault("EIO on write of segments", "write *.seg EIO", daemon, traffic, plan, journal_dir)

            traffic.finish()
            drain(traffic, deadline_s=60)
            lost = traffic.confirmed - set(traffic.delivered)
            resurrected = set(traffic.refused) & set(traffic.delivered)
            twice = [i for i, n in traffic.delivered.items() if n > 1]
            print(f"storage EIO: {len(traffic.confirmed)} confirmed ({traffic.amqp_confirmed} over AMQP), "
                  f"{len(traffic.refused)} refused ({traffic.amqp_nacked} basic.nack), "
                  f"{len(traffic.delivered)} delivered, {len(traffic.ack_refusals)} ack batches refused; "
                  f"{len(lost)} lost, {len(resurrected)} refused but delivered, {len(twice)} delivered twice "
                  f"without the redelivered flag", file=sys.stderr)
            require(traffic.refused, "no publish was refused")
            require(not traffic.amqp_errors, f"the AMQP publisher failed: {traffic.amqp_errors}")
            require(traffic.amqp_confirmed > 0 and traffic.amqp_nacked > 0,
                    f"AMQP confirms: {traffic.amqp_confirmed} acked, {traffic.amqp_nacked} nacked; expected both")
            require(not lost, f"confirmed messages lost: {sorted(lost)[:10]}")
            require(not resurrected, f"refused messages delivered: {sorted(resurrected)[:10]}")
            require(not twice, f"delivered twice without the redelivered flag: {twice[:10]}")
            require(daemon.process.poll() is None, "ballastd exited")
            # A restart replays the journal written across both faults: everything was acked, and
            # nothing refused or acknowledged comes back.
            daemon.stop()
            daemon = start_daemon(args.ballastd, data, plan_path)
            status, stats = fx.http("GET", f"{daemon.url}/api/v1/queues/{QUEUE}")
            require(status == 200, f"queue after restart: {status} {stats}")
            require(not health_codes(daemon.url), "degraded after the restart")
            after = Traffic(daemon.url)
            drain(after, deadline_s=30)
            require(not after.delivered, f"messages came back after a restart: {sorted(after.delivered)[:10]}")
        except BaseException:
            if daemon:
                print(f"ballastd exit status: {daemon.process.poll()}; log (last 40 lines):\n"
                      + "\n".join(daemon.log_lines[-40:]), file=sys.stderr)
            raise
        finally:
            if daemon:
                daemon.stop()
    print("OK", file=sys.stderr)


if __name__ == "__main__":
    main()
