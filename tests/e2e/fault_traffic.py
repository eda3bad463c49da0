"""Load for the fault tests: an HTTP publisher and consumer, an AMQP publisher in confirm mode,
and the checks every fault test makes (/healthz codes, zero loss, no silent duplicate).

HttpTraffic publishes batches with unique ids and counts a message as confirmed only on 201; it
receives with long polls and acks, recording which ids were delivered (and how often without
the redelivered flag). The consumer can be paused (`consuming.clear()`) so a backlog builds up.
Every loop is bounded in count and time; threads are joined with deadlines.
"""
import base64
import sys
import threading
import time

import ballast_fixture as fx


def require(condition, what):
    if not condition:
        raise AssertionError(what)


def health_codes(url):
    """The error codes /healthz lists as degraded."""
    status, health = fx.http("GET", f"{url}/healthz")
    require(status == 200, f"/healthz answered {status}")
    return [part["code"] for part in health.get("degraded", [])]


def health_parts(url):
    status, health = fx.http("GET", f"{url}/healthz")
    require(status == 200, f"/healthz answered {status}")
    return health.get("degraded", [])


def count_events(daemon_lines, event):
    return sum(f"event={event} " in line or line.endswith(f"event={event}") for line in daemon_lines)


class HttpTraffic:
    """One publisher and one consumer over HTTP on `queue`; records what was confirmed and delivered."""

    def __init__(self, url, queue, body_bytes=0, batch=20, prefix="m"):
        self.url = url
        self.queue = queue
        self.body_bytes = body_bytes
        self.batch = batch
        self.prefix = prefix
        self.confirmed = set()
        self.delivered = {}  # id -> times delivered without the redelivered flag
        self.refusals = []  # (status, error body) of refused publishes
        self.refusal_sent_times = []  # monotonic time each refused request was sent
        self.confirm_times = []  # monotonic time of each confirmed batch
        self.acked = 0
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.consuming = threading.Event()  # cleared: the consumer pauses, a backlog builds up
        self.consuming.set()
        self.publishing = threading.Event()  # cleared: the publisher pauses
        self.publishing.set()
        self.serial = 0
        self.threads = [threading.Thread(target=self.publish, daemon=True),
                        threading.Thread(target=self.consume, daemon=True)]

    def start(self):
        for thread in self.threads:
            thread.start()
        return self

    def finish(self):
        self.stop.set()
        self.publishing.set()
        for thread in self.threads:
            thread.join(timeout=60)

    def body(self, message_id):
        return message_id.ljust(self.body_bytes, ".") if self.body_bytes else message_id

    def publish(self):
        for _ in range(10 ** 6):
            if self.stop.is_set():
                return
            if not self.publishing.wait(timeout=0.1):
                continue
            ids = [f"{self.prefix}{self.serial + i}" for i in range(self.batch)]
            self.serial += len(ids)
            sent_at = time.monotonic()
            status, body = fx.http("POST", f"{self.url}/api/v1/queues/{self.queue}/messages",
                                   {"messages": [{"body": self.body(i), "id": i} for i in ids]}, timeout_s=30)
            with self.lock:
                if status == 201:
                    self.confirmed.update(ids)
                    self.confirm_times.append(time.monotonic())
                else:
                    self.refusals.append((status, body))
                    self.refusal_sent_times.append(sent_at)
            if status != 201:
                self.stop.wait(0.05)  # a refused publisher backs off, as a client would

    def consume(self):
        for _ in range(10 ** 6):
            if self.stop.is_set():
                return
            if self.consuming.wait(timeout=0.1):
                self.receive_once(wait_seconds=1)

    def receive_once(self, wait_seconds, max_messages=50):
        status, batch = fx.http("POST", f"{self.url}/api/v1/queues/{self.queue}/receive",
                                {"max": max_messages, "wait_seconds": wait_seconds,
                                 "visibility_timeout_seconds": 600}, timeout_s=30)
        require(status == 200, f"receive failed: {status} {batch}")
        messages = batch["messages"]
        if not messages:
            return 0
        with self.lock:
            for message in messages:
                body = message["body"]
                if message.get("encoding") == "base64":  # AMQP bodies are bytes
                    body = base64.b64decode(body).decode()
                require(body == self.body(message["id"]), f"message {message['id']} came back changed")
                if not message["redelivered"]:
                    self.delivered[message["id"]] = self.delivered.get(message["id"], 0) + 1
                else:
                    self.delivered.setdefault(message["id"], 0)
        status, answer = fx.http("POST", f"{self.url}/api/v1/queues/{self.queue}/ack",
                                 {"receipts": [m["receipt"] for m in messages]}, timeout_s=30)
        require(status == 200, f"ack failed: {status} {answer}")
        with self.lock:
            self.acked += len(messages)
        return len(messages)

    def first_confirm_after(self, moment):
        with self.lock:
            later = [t for t in self.confirm_times if t > moment]
        return min(later) if later else None

    def refusals_sent_after(self, moment):
        """The refusals of requests sent after `moment` (an answer to an earlier request may
        still arrive after it, carrying the state of before)."""
        with self.lock:
            return [r for r, sent in zip(self.refusals, self.refusal_sent_times) if sent > moment]

    def drain_and_verify(self, name, extra_confirmed=()):
        """Stops the load, receives what is left and checks zero loss and no silent duplicate.
        `extra_confirmed`: ids confirmed by other publishers (AMQP) into the same queue."""
        self.finish()
        for _ in range(100000):
            if self.receive_once(wait_seconds=0, max_messages=500) == 0:
                break
        confirmed = self.confirmed | set(extra_confirmed)
        lost = confirmed - set(self.delivered)
        twice = [i for i, n in self.delivered.items() if n > 1]
        print(f"{name}: {len(confirmed)} confirmed, {len(self.delivered)} delivered, {len(lost)} lost, "
              f"{len(twice)} delivered twice without the redelivered flag", file=sys.stderr)
        require(not lost, f"{name}: confirmed messages lost: {sorted(lost)[:10]}")
        require(not twice, f"{name}: delivered twice without the redelivered flag: {twice[:10]}")


class AmqpConfirmPublisher:
    """A pika publisher in confirm mode on its own connection and thread: counts confirmed ids
    and nacks, and records connection.blocked / unblocked with their reason text."""

    def __init__(self, connect, queue, body_bytes=0, prefix="a"):
        self.connect = connect  # () -> pika.BlockingConnection
        self.queue = queue
        self.body_bytes = body_bytes
        self.prefix = prefix
        self.confirmed = set()
        self.nacked = 0
        self.events = []  # ("blocked", reason) / ("unblocked", "")
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.error = None
        self.thread = threading.Thread(target=self.run, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def finish(self):
        self.stop.set()
        self.thread.join(timeout=60)
        require(not self.thread.is_alive(), "the AMQP publisher did not stop")
        require(self.error is None, f"the AMQP publisher failed: {self.error!r}")

    def blocked_reasons(self):
        with self.lock:
            return [reason for kind, reason in self.events if kind == "blocked"]

    def unblocked(self):
        with self.lock:
            return sum(kind == "unblocked" for kind, _ in self.events)

    def run(self):
        import pika
        try:
            connection = self.connect()
            connection.add_on_connection_blocked_callback(
                lambda _c, frame: self._event("blocked", frame.method.reason))
            connection.add_on_connection_unblocked_callback(lambda _c, _frame: self._event("unblocked", ""))
            channel = connection.channel()
            channel.confirm_delivery()
            for serial in range(10 ** 6):
                if self.stop.is_set():
                    break
                message_id = f"{self.prefix}{serial}"
                body = message_id.ljust(self.body_bytes, ".") if self.body_bytes else message_id
                try:
                    channel.basic_publish("", self.queue, body.encode(),
                                          pika.BasicProperties(delivery_mode=2, message_id=message_id))
                    with self.lock:
                        self.confirmed.add(message_id)
                    connection.process_data_events(0)  # dispatches blocked / unblocked
                except pika.exceptions.NackError:
                    with self.lock:
                        self.nacked += 1
                    connection.process_data_events(0.05)  # back off; take blocked/unblocked in
            connection.close()
        except Exception as error:  # reported by finish()
            self.error = error

    def _event(self, kind, reason):
        with self.lock:
            self.events.append((kind, reason))
