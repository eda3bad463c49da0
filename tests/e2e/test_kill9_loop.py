#!/usr/bin/env python3
"""kill -9 loop: many crashes at random moments under mixed load, one data directory throughout.

Each iteration starts ballastd on the data directory the previous crash left, checks the
invariants below, runs mixed load for a random 50-400 ms and then sends SIGKILL to the daemon's
PID. The load is HTTP publishers (single messages and all-or-nothing batches), an HTTP consumer
that receives and acks (and sometimes nacks with requeue or keeps the lease), an AMQP publisher in
confirm mode and an AMQP consumer with manual acks (plain, or in transactions that also publish),
on two queues so that both protocols publish to and consume from each other. Runs vary
storage.sync_mode and storage.checkpoint_interval_ms, and segments are small, so recovery replays
across segment rolls, checkpoints and reclaimed segments; one restart in five is itself killed at
a random moment (ready or still recovering) before the restart that is checked. A final clean stop
and restart is checked the same way. Sanitizer reports in the daemon's log fail the run.

The model keeps, for every message that is not yet known to be gone, its queue and how far its
publish and its settlement got. Bodies are derived from the id (`body_for`), so intact means equal.
  - publish answered (HTTP 201 / basic.ack)          -> confirmed: must be present after a restart
  - publish without an answer (killed mid-request)   -> maybe published: present or absent
  - ack answered 200 (HTTP), or AMQP acks whose transaction (with a publish) got commit-ok
                                                     -> settled: must never be seen again
  - ack without an answer, and every plain basic.ack -> maybe settled: present or absent
    (AMQP has no confirm for acks, so whether one reached the journal is learnt at the restart;
    a commit with acks alone is answered before they are durable, hence the publish in it)
After each restart every queue is read with peek (no leases after a restart, so peek sees every
message and changes nothing), and the check resolves every "maybe": present means it is there to
stay (and an unsettled live message from then on), absent means it is gone for good. Violations:
a confirmed unsettled message missing, any message present twice, a body not intact, a message
in the wrong queue, a settled or gone message back, an id never published, a message that was
delivered before and is not flagged redelivered. Delivery of a settled, gone or unknown id during
load is a violation too, and so is any error from the daemon before the kill.

The kill moments, load lengths, restart settings and worker seeds come from --seed (printed first
as `seed=S`); thread timing still differs between runs, so a seed repeats the schedule of kills,
not the exact interleaving.

Usage: test_kill9_loop.py --ballastd PATH [--iterations 50] [--seed S] [--max-seconds 170]
"""
import argparse
import base64
import binascii
import hashlib
import http.client
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import ballast_fixture as fx

try:
    import pika
    import pika.exceptions
except ImportError as error:
    print(f"FAIL: python3-pika is not importable ({error}). Fix: apt-get install python3-pika")
    sys.exit(1)

HTTP_QUEUE = "k9-http"  # consumed over HTTP
AMQP_QUEUE = "k9-amqp"  # consumed over AMQP
QUEUES = (HTTP_QUEUE, AMQP_QUEUE)
PEEK_MAX = 1000  # the API's most per peek: the load keeps every queue below this
BACKLOG_LIMIT = 400  # publishers pause while this many messages of a queue are still open
SEGMENT_BYTES = 1 << 20
MAX_MESSAGE_BYTES = 64 << 10
WORKER_START_TIMEOUT_S = 20
WORKER_JOIN_TIMEOUT_S = 20
CLIENT_TIMEOUT_S = 10
CLOSED_MEMORY_ITERATIONS = 50  # how long the reason a message was closed is kept for reports
FINAL_CHECK_RESERVE_S = 20  # time kept back from --max-seconds for the final clean restart
MAX_PRINTED_VIOLATIONS = 50
SANITIZER_MARKERS = "==ERROR: "  # the header of an AddressSanitizer or LeakSanitizer report
RECOVERY_KILL_CHANCE = 0.2  # share of restarts that are themselves killed at a random moment


def body_for(message_id):
    """The body of a message is a function of its id: id, a digest, and a filler of 0-700 bytes."""
    digest = hashlib.sha256(message_id.encode()).hexdigest()
    filler_bytes = int(digest[:4], 16) % 701
    return f"{message_id}|{digest[:16]}|" + (digest * 12)[:filler_bytes]


def http_body(message):
    """The body of a message as the HTTP API returns it: AMQP bodies are bytes, so base64."""
    if message.get("encoding") == "base64":
        try:
            return base64.b64decode(message.get("body", ""), validate=True).decode("utf-8", "replace")
        except (binascii.Error, ValueError):
            return None
    return message.get("body")


class Entry:
    __slots__ = ("queue", "publish", "settle", "delivered")

    def __init__(self, queue):
        self.queue = queue
        self.delivered = False  # given to a consumer at least once: after a crash, redelivered
        self.publish = "pending"  # pending -> confirmed | maybe
        self.settle = None  # None -> acking -> maybe (or closed as settled)


class Model:
    """Every message not known to be gone, with its queue and state. Thread-safe."""

    def __init__(self):
        self.lock = threading.Lock()
        self.open = {}  # id -> Entry
        self.closed = {}  # id -> (reason, iteration), kept for CLOSED_MEMORY_ITERATIONS
        self.open_per_queue = {queue: 0 for queue in QUEUES}
        self.iteration = 0
        self.violations = []
        self.totals = dict(confirmed=0, settled=0, maybe_published=0, maybe_settled=0,
                           maybe_published_kept=0, maybe_published_gone=0,
                           maybe_settled_back=0, maybe_settled_gone=0, refused=0)

    # --- load side -------------------------------------------------------------------------
    def violation(self, text):
        with self.lock:
            self.violations.append(f"iteration {self.iteration}: {text}")
            count = len(self.violations)
        if count <= MAX_PRINTED_VIOLATIONS:
            print(f"VIOLATION iteration {self.iteration}: {text}", flush=True)
        elif count == MAX_PRINTED_VIOLATIONS + 1:
            print("(more violations: only the count is printed from here on)", flush=True)

    def open_count(self, queue):
        with self.lock:
            return self.open_per_queue[queue]

    def publishing(self, ids, queue):
        with self.lock:
            for message_id in ids:
                self.open[message_id] = Entry(queue)
            self.open_per_queue[queue] += len(ids)

    def published(self, ids):
        with self.lock:
            for message_id in ids:
                entry = self.open.get(message_id)
                if entry is not None and entry.publish == "pending":
                    entry.publish = "confirmed"
                    self.totals["confirmed"] += 1

    def publish_unanswered(self, ids, refused=False):
        with self.lock:
            for message_id in ids:
                entry = self.open.get(message_id)
                if entry is not None and entry.publish == "pending":
                    entry.publish = "maybe"
                    self.totals["maybe_published"] += 1
                    self.totals["refused"] += int(refused)

    def delivered(self, message_id, queue, body, where):
        """A consumer got a message during load: it must be open, in its queue and intact."""
        with self.lock:
            entry = self.open.get(message_id)
            closed = self.closed.get(message_id)
        if entry is None:
            self.violation(f"{where} delivered {message_id!r} from {queue}, which is "
                           f"{describe_closed(message_id, closed)}")
            return False
        entry.delivered = True
        if entry.queue != queue:
            self.violation(f"{where} delivered {message_id!r} from {queue}, published to {entry.queue}")
        if body != body_for(message_id):
            self.violation(f"{where} delivered {message_id!r} with a body that is not intact "
                           f"({len(body or '')} bytes, expected {len(body_for(message_id))})")
        return True

    def acking(self, ids):
        with self.lock:
            for message_id in ids:
                entry = self.open.get(message_id)
                if entry is not None and entry.settle is None:
                    entry.settle = "acking"

    def ack_answered(self, ids, how="HTTP ack answered 200"):
        with self.lock:
            for message_id in ids:
                if message_id in self.open:
                    self._close(message_id, f"settled ({how})")
                    self.totals["settled"] += 1

    def ack_unanswered(self, ids):
        with self.lock:
            for message_id in ids:
                entry = self.open.get(message_id)
                if entry is not None and entry.settle in (None, "acking"):
                    entry.settle = "maybe"
                    self.totals["maybe_settled"] += 1

    def ack_refused(self, ids):
        """All receipts valid or nothing changes: a refused ack leaves the messages unsettled."""
        with self.lock:
            for message_id in ids:
                entry = self.open.get(message_id)
                if entry is not None and entry.settle == "acking":
                    entry.settle = None

    def _close(self, message_id, reason):
        entry = self.open.pop(message_id)
        self.open_per_queue[entry.queue] -= 1
        self.closed[message_id] = (reason, self.iteration)

    # --- after a kill ------------------------------------------------------------------------
    def crashed(self):
        """Whatever was still in flight when the daemon died has an unknown outcome."""
        with self.lock:
            for entry in self.open.values():
                if entry.publish == "pending":
                    entry.publish = "maybe"
                    self.totals["maybe_published"] += 1
                if entry.settle == "acking":
                    entry.settle = "maybe"
                    self.totals["maybe_settled"] += 1

    def check_recovered(self, seen, label):
        """`seen`: (queue, message) for every message in every queue after a restart. Resolves the
        maybes and returns (present, redelivered, stats); violations are recorded."""
        stats = dict(kept=0, gone=0, back=0, settled=0)
        first_queue = {}
        redelivered = 0
        for queue, message in seen:
            message_id = message.get("id")
            redelivered += int(bool(message.get("redelivered")))
            if message_id in first_queue:
                self.violation(f"{label}: {message_id!r} present twice (in {first_queue[message_id]} and {queue})")
                continue
            first_queue[message_id] = queue
            with self.lock:
                entry = self.open.get(message_id)
                closed = self.closed.get(message_id)
            if entry is None:
                self.violation(f"{label}: {message_id!r} in {queue} is {describe_closed(message_id, closed)}")
                continue
            if entry.queue != queue:
                self.violation(f"{label}: {message_id!r} in {queue}, published to {entry.queue}")
            if entry.delivered and not message.get("redelivered"):
                self.violation(f"{label}: {message_id!r} in {queue} was delivered before, but is not "
                               "flagged redelivered")
            body = http_body(message)
            if body != body_for(message_id):
                self.violation(f"{label}: {message_id!r} in {queue} is not intact: encoding "
                               f"{message.get('encoding')!r}, {len(body or '')} body bytes, "
                               f"expected {len(body_for(message_id))}")
            with self.lock:
                if entry.publish == "maybe":
                    entry.publish = "confirmed"  # recovered from the journal: here to stay
                    stats["kept"] += 1
                if entry.settle == "maybe":
                    entry.settle = None  # the ack did not land; its lease died with the process
                    stats["back"] += 1
        with self.lock:
            for message_id, entry in list(self.open.items()):
                if message_id in first_queue:
                    continue
                if entry.publish == "maybe":
                    self._close(message_id, "gone (publish unanswered, absent after a restart)")
                    stats["gone"] += 1
                elif entry.settle == "maybe":
                    self._close(message_id, "settled (ack unconfirmed, absent after a restart)")
                    stats["settled"] += 1
            missing = [(i, e) for i, e in self.open.items() if i not in first_queue
                       and e.publish == "confirmed" and e.settle is None]
            self.totals["maybe_published_kept"] += stats["kept"]
            self.totals["maybe_published_gone"] += stats["gone"]
            self.totals["maybe_settled_back"] += stats["back"]
            self.totals["maybe_settled_gone"] += stats["settled"]
        for message_id, entry in missing:
            self.violation(f"{label}: confirmed unsettled {message_id!r} missing from {entry.queue}")
        return len(first_queue), redelivered, stats

    def forget_old(self):
        with self.lock:
            horizon = self.iteration - CLOSED_MEMORY_ITERATIONS
            for message_id in [i for i, (_, it) in self.closed.items() if it < horizon]:
                del self.closed[message_id]


def describe_closed(message_id, closed):
    if closed is not None:
        return f"{closed[0]} in iteration {closed[1]}"
    if message_id and message_id.startswith("k") and "." in message_id:
        return "closed long ago (settled, or gone after an unanswered publish)"
    return "an id this test never published"


class Stop:
    """Load control shared by the workers of one iteration."""

    def __init__(self):
        self.killing = threading.Event()  # set just before SIGKILL: errors after it are expected
        self.stopped = threading.Event()  # set after the daemon is dead: workers leave their loops
        self.started = threading.Semaphore(0)
        self.stats = dict(http_published=0, http_acked=0, http_nacked=0, http_deliveries=0,
                          amqp_published=0, amqp_acked=0, amqp_deliveries=0)
        self.lock = threading.Lock()

    def count(self, key, n=1):
        with self.lock:
            self.stats[key] += n


INTERRUPTED = threading.Event()  # SIGTERM: the run is being stopped from outside


def interrupted(signum, frame):
    INTERRUPTED.set()
    sys.exit(128 + signum)


def client_error(model, stop, where, error):
    """A transport error: expected once the kill is under way, a violation before it."""
    if not stop.killing.is_set() and not INTERRUPTED.is_set():
        model.violation(f"{where}: {type(error).__name__}: {error} while the daemon was running")


class HttpClient:
    """One keep-alive HTTP/1.1 connection. Raises OSError / HTTPException on transport errors."""

    def __init__(self, address):
        host, _, port = address.rpartition(":")
        self.connection = http.client.HTTPConnection(host, int(port), timeout=CLIENT_TIMEOUT_S)

    def request(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if data is not None else {}
        self.connection.request(method, path, body=data, headers=headers)
        response = self.connection.getresponse()
        text = response.read()
        return response.status, (json.loads(text) if text else None)

    def close(self):
        self.connection.close()


TRANSPORT_ERRORS = (OSError, http.client.HTTPException, ValueError)


def new_ids(prefix, counter, n):
    ids = [f"{prefix}.{counter[0] + k}" for k in range(n)]
    counter[0] += n
    return ids


def pick_queue(model, stop, rng):
    """A queue with fewer than BACKLOG_LIMIT open messages, waiting while there is none;
    None once the iteration is over."""
    for _ in range(2000):
        if stop.stopped.is_set() or stop.killing.is_set():
            return None
        below_limit = [queue for queue in QUEUES if model.open_count(queue) < BACKLOG_LIMIT]
        if below_limit:
            return rng.choice(below_limit)
        stop.stopped.wait(0.005)
    return None


def http_publisher(model, stop, address, prefix, seed):
    rng = random.Random(seed)
    counter = [0]
    client = HttpClient(address)
    stop.started.release()
    try:
        while not stop.stopped.is_set():
            queue = pick_queue(model, stop, rng)
            if queue is None:
                return
            ids = new_ids(prefix, counter, rng.choice((1, 1, 1, 3, 10, 40)))
            messages = [{"id": i, "body": body_for(i)} for i in ids]
            model.publishing(ids, queue)
            request = messages[0] if len(ids) == 1 and rng.random() < 0.5 else {"messages": messages}
            try:
                status, answer = client.request("POST", f"/api/v1/queues/{queue}/messages", request)
            except TRANSPORT_ERRORS as error:
                model.publish_unanswered(ids)
                client_error(model, stop, f"HTTP publish {ids[0]}..", error)
                return
            if status == 201 and [m["id"] for m in answer["messages"]] == ids:
                model.published(ids)
                stop.count("http_published", len(ids))
            else:
                model.publish_unanswered(ids, refused=True)
                model.violation(f"HTTP publish of {ids[0]}.. ({len(ids)}) to {queue} answered {status} {answer}")
    finally:
        client.close()


def http_consumer(model, stop, address, seed):
    rng = random.Random(seed)
    client = HttpClient(address)
    path = f"/api/v1/queues/{HTTP_QUEUE}"
    stop.started.release()
    try:
        while not stop.stopped.is_set():
            request = {"max": rng.choice((1, 5, 20, 100)), "wait_seconds": rng.choice((0, 0, 1)),
                       "visibility_timeout_seconds": 60}
            try:
                status, answer = client.request("POST", f"{path}/receive", request)
            except TRANSPORT_ERRORS as error:
                client_error(model, stop, "HTTP receive", error)
                return
            if status != 200:
                model.violation(f"HTTP receive answered {status} {answer}")
                return
            ack, nack = [], []
            for message in answer["messages"]:
                stop.count("http_deliveries")
                if not model.delivered(message["id"], HTTP_QUEUE, http_body(message), "HTTP receive"):
                    continue
                roll = rng.random()
                (ack if roll < 0.85 else nack if roll < 0.95 else []).append(message)
            if ack and not settle_over_http(model, stop, client, path, ack, "ack"):
                return
            if nack and not settle_over_http(model, stop, client, path, nack, "nack"):
                return
    finally:
        client.close()


def settle_over_http(model, stop, client, path, messages, verb):
    """Acks (or nacks with requeue) `messages`; False when the connection is gone."""
    ids = [m["id"] for m in messages]
    request = {"receipts": [m["receipt"] for m in messages]}
    if verb == "ack":
        model.acking(ids)
    else:
        request["requeue"] = True  # the message stays open either way
    try:
        status, answer = client.request("POST", f"{path}/{verb}", request)
    except TRANSPORT_ERRORS as error:
        if verb == "ack":
            model.ack_unanswered(ids)
        client_error(model, stop, f"HTTP {verb} {ids[0]}..", error)
        return False
    if status != 200:
        if verb == "ack":
            model.ack_refused(ids)
        model.violation(f"HTTP {verb} of {ids} answered {status} {answer}")
        return True
    if verb == "ack":
        model.ack_answered(ids)
        stop.count("http_acked", len(ids))
    else:
        stop.count("http_nacked", len(ids))
    return True


def pika_connect(amqp_address):
    host, _, port = amqp_address.rpartition(":")
    return pika.BlockingConnection(pika.ConnectionParameters(
        host=host, port=int(port), credentials=pika.PlainCredentials("guest", "guest"),
        connection_attempts=1, socket_timeout=CLIENT_TIMEOUT_S, blocked_connection_timeout=30,
        heartbeat=0))


def amqp_publisher(model, stop, amqp_address, prefix, seed):
    rng = random.Random(seed)
    counter = [0]
    try:
        connection = pika_connect(amqp_address)
        channel = connection.channel()
        channel.confirm_delivery()
    except (pika.exceptions.AMQPError, OSError) as error:
        stop.started.release()
        client_error(model, stop, "AMQP publisher connect", error)
        return
    stop.started.release()
    try:
        while not stop.stopped.is_set():
            queue = pick_queue(model, stop, rng)
            if queue is None:
                return
            ids = new_ids(prefix, counter, 1)
            model.publishing(ids, queue)
            properties = pika.BasicProperties(message_id=ids[0], delivery_mode=rng.choice((1, 2)),
                                              content_type="text/plain")
            try:
                channel.basic_publish("", queue, body_for(ids[0]).encode(), properties, mandatory=True)
            except (pika.exceptions.NackError, pika.exceptions.UnroutableError) as error:
                model.publish_unanswered(ids, refused=True)
                model.violation(f"AMQP publish of {ids[0]} to {queue} refused: {error!r}")
                continue
            except (pika.exceptions.AMQPError, OSError) as error:
                model.publish_unanswered(ids)
                client_error(model, stop, f"AMQP publish {ids[0]}", error)
                return
            model.published(ids)
            stop.count("amqp_published")
    finally:
        close_quietly(connection)


def amqp_consumer(model, stop, amqp_address, prefix, seed, transactional):
    """Manual acks. Plain: basic.ack has no answer, so an ack is "maybe settled" until the next
    restart shows whether it landed. Transactional: each batch of acks is committed together with
    a publish (tx.commit-ok comes only once that publish is durable), so commit-ok settles them."""
    rng = random.Random(seed)
    counter = [0]
    try:
        connection = pika_connect(amqp_address)
        channel = connection.channel()
        prefetch = rng.choice((1, 10, 50, 200))
        channel.basic_qos(prefetch_count=prefetch)
        if transactional:
            channel.tx_select()
        deliveries = channel.consume(AMQP_QUEUE, auto_ack=False, inactivity_timeout=0.02)
    except (pika.exceptions.AMQPError, OSError) as error:
        stop.started.release()
        client_error(model, stop, "AMQP consumer connect", error)
        return
    stop.started.release()
    unacked = []  # (delivery tag, id) since the last ack
    nacks_to_commit = False  # in a transaction, nacks too wait for tx.commit
    try:
        for method, properties, body in deliveries:
            if stop.stopped.is_set():
                return
            if method is not None:
                stop.count("amqp_deliveries")
                message_id = properties.message_id
                known = model.delivered(message_id, AMQP_QUEUE, body.decode("utf-8", "replace"), "AMQP consumer")
                if rng.random() < 0.05 and known:
                    channel.basic_nack(method.delivery_tag, multiple=False, requeue=True)
                    nacks_to_commit = transactional
                else:
                    unacked.append((method.delivery_tag, message_id))
            # Idle, or holding the whole prefetch: settle now, or no more deliveries would come.
            must_settle = method is None or len(unacked) + nacks_to_commit >= prefetch
            if not (unacked or nacks_to_commit) or not (must_settle or rng.random() < 0.6):
                continue
            ids = [i for _, i in unacked]
            if transactional:
                model.acking(ids)
                commit_acks_with_publish(model, stop, channel, unacked[-1][0] if unacked else None, ids,
                                         new_ids(prefix, counter, 1), rng.choice(QUEUES))
                nacks_to_commit = False
            else:
                model.acking(ids)
                # basic.ack has no answer: whether it reached the journal is learnt at the restart.
                model.ack_unanswered(ids)
                channel.basic_ack(unacked[-1][0], multiple=True)
            stop.count("amqp_acked", len(ids))
            unacked = []
    except (pika.exceptions.AMQPError, OSError) as error:
        client_error(model, stop, "AMQP consumer", error)
    finally:
        close_quietly(connection)


def commit_acks_with_publish(model, stop, channel, last_tag, ids, published, queue):
    """One transaction: the nacks before it, ack up to `last_tag` (None: no ack) and publish
    `published` to `queue`. A transport error is raised after the outcome is recorded as unknown."""
    model.publishing(published, queue)
    try:
        if last_tag is not None:
            channel.basic_ack(last_tag, multiple=True)
        channel.basic_publish("", queue, body_for(published[0]).encode(),
                              pika.BasicProperties(message_id=published[0], delivery_mode=2))
        channel.tx_commit()
    except (pika.exceptions.AMQPError, OSError):
        model.ack_unanswered(ids)
        model.publish_unanswered(published)
        raise
    model.published(published)
    model.ack_answered(ids, "AMQP tx.commit-ok of its ack and a publish")
    stop.count("amqp_published")


def close_quietly(connection):
    """Closing a connection to a daemon that was just killed fails; that is expected here."""
    try:
        if connection.is_open:
            connection.close()
    except (pika.exceptions.AMQPError, OSError):
        pass


# --- one daemon run --------------------------------------------------------------------------
def start_daemon(args, data_dir, settings, expect_ready=True):
    env = {"BALLAST_LIMITS_MAX_MESSAGE_BYTES": str(MAX_MESSAGE_BYTES),
           "BALLAST_STORAGE_RESERVE_BYTES": str(1 << 20),
           "BALLAST_STORAGE_CHECKPOINT_INTERVAL_MS": str(settings["checkpoint_ms"])}
    extra = ["--segment-size", str(SEGMENT_BYTES), "--sync-mode", settings["sync_mode"]]
    return fx.Daemon(args.ballastd, data_dir, extra_args=extra, env=env).start(expect_ready)


def read_all_queues(model, daemon, label):
    """Peeks every queue; returns [(queue, message)]. Queues the test did not create must be
    empty or absent (a dead letter would be a message that left its queue)."""
    seen = []
    status, listing = fx.http("GET", f"{daemon.url}/api/v1/queues")
    if status != 200:
        model.violation(f"{label}: GET /api/v1/queues answered {status} {listing}")
        return seen
    by_name = {q["name"]: q for q in listing["queues"]}
    for name in QUEUES:
        if name not in by_name:
            model.violation(f"{label}: queue {name} missing after the restart")
    for name, info in by_name.items():
        if name not in QUEUES and info["messages"] + info["in_flight"] + info["delayed"] == 0:
            continue
        if info["in_flight"] or info["delayed"]:
            model.violation(f"{label}: queue {name} has in_flight={info['in_flight']} "
                            f"delayed={info['delayed']} right after a restart")
        if info["messages"] > PEEK_MAX:
            model.violation(f"{label}: queue {name} holds {info['messages']} messages, more than one "
                            f"peek shows ({PEEK_MAX}): the check is incomplete")
        status, answer = fx.http("GET", f"{daemon.url}/api/v1/queues/{name}/messages?max={PEEK_MAX}")
        if status != 200:
            model.violation(f"{label}: peek {name} answered {status} {answer}")
            continue
        if len(answer["messages"]) != min(info["messages"], PEEK_MAX):
            model.violation(f"{label}: queue {name} reports {info['messages']} ready messages, peek "
                            f"shows {len(answer['messages'])}")
        seen += [(name, message) for message in answer["messages"]]
    return seen


def run_load(model, daemon, rng, iteration, load_ms):
    """Starts the workers, waits `load_ms`, kills the daemon by PID and joins the workers."""
    stop = Stop()
    amqp_address = daemon.ready_fields["amqp"].split(",")[0]
    workers = []
    for w in range(rng.choice((1, 2, 2))):
        workers.append((http_publisher, (model, stop, daemon.address, f"k{iteration}.h{w}", rng.getrandbits(32))))
    workers.append((http_consumer, (model, stop, daemon.address, rng.getrandbits(32))))
    workers.append((amqp_publisher, (model, stop, amqp_address, f"k{iteration}.a0", rng.getrandbits(32))))
    transactional = rng.random() < 0.5
    workers.append((amqp_consumer, (model, stop, amqp_address, f"k{iteration}.c0", rng.getrandbits(32),
                                    transactional)))
    threads = [threading.Thread(target=target, args=worker_args, daemon=True) for target, worker_args in workers]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + WORKER_START_TIMEOUT_S
    for _ in threads:
        if not stop.started.acquire(timeout=max(0.0, deadline - time.monotonic())):
            model.violation("a load worker did not start within its deadline")
            break
    stop.stopped.wait(load_ms / 1000)  # the random moment of the kill
    stop.killing.set()
    daemon.kill9()
    stop.stopped.set()
    for thread in threads:
        thread.join(timeout=WORKER_JOIN_TIMEOUT_S)
        if thread.is_alive():
            model.violation(f"load worker {thread.name} still running {WORKER_JOIN_TIMEOUT_S}s after the kill")
    model.crashed()
    return dict(stop.stats, consumer="tx" if transactional else "plain")


def kill_during_recovery(args, model, data_dir, settings, delay_s):
    """Starts ballastd on the crashed data directory and kills it `delay_s` later, ready or not:
    a crash while recovering (truncating a torn tail, writing a checkpoint) must lose nothing
    either. Returns the log of that short run."""
    daemon = start_daemon(args, data_dir, settings, expect_ready=False)
    try:
        daemon.process.wait(timeout=delay_s)
        model.violation(f"ballastd exited by itself with status {daemon.process.returncode} while "
                        "recovering:\n  " + "\n  ".join(daemon.log_lines[-20:]))
    except subprocess.TimeoutExpired:
        pass
    daemon.kill9()
    return daemon.log_lines


def check_sanitizers(model, log_lines, label):
    """AddressSanitizer stops the daemon; UndefinedBehaviorSanitizer only reports: both fail."""
    reports = [line for line in log_lines if SANITIZER_MARKERS in line or "runtime error:" in line]
    if reports:
        model.violation(f"{label}: sanitizer report in the ballastd log:\n  " + "\n  ".join(reports[:10]))


def restart_and_check(args, model, data_dir, settings, label, previous_log):
    check_sanitizers(model, previous_log, f"{label} (the run before)")
    t0 = time.monotonic()
    daemon = start_daemon(args, data_dir, settings)
    start_s = time.monotonic() - t0
    before = len(model.violations)
    seen = read_all_queues(model, daemon, label)
    present, redelivered, stats = model.check_recovered(seen, label)
    if len(model.violations) > before:
        print("ballastd log before the kill (tail):\n  " + "\n  ".join(previous_log[-15:]))
        print("ballastd log of the restart:\n  " + "\n  ".join(daemon.log_lines[:40]), flush=True)
    recovery = " ".join(f for line in daemon.log_lines if "event=broker.recovered" in line
                        for f in line.split() if f.startswith(("records_replayed=", "clean_stop=", "problems=")))
    warnings = [line for line in daemon.log_lines if "level=warn" in line or "level=error" in line]
    for line in warnings[:3]:  # e.g. storage.torn_tail: expected after a kill mid-write, shown for the record
        print(f"  {label}, ballastd log: {line}", flush=True)
    return daemon, start_s, present, redelivered, stats, recovery, len(warnings)


def iteration_settings(rng, sync_modes):
    return {"sync_mode": rng.choice(sync_modes), "checkpoint_ms": rng.choice((100, 300, 1000, 30000))}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ballastd", required=True)
    parser.add_argument("--iterations", type=int, default=50)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--max-seconds", type=float, default=170,
                        help="global bound; fewer iterations than asked for by then is a failure")
    parser.add_argument("--sync-modes", default="always,interval",
                        help="storage.sync_mode values the restarts choose from")
    parser.add_argument("--keep-data", action="store_true", help="keep the data directory even on success")
    args = parser.parse_args()
    # A SIGTERM (ctest, Ctrl-C from make) still runs the `finally` below that stops the daemon.
    signal.signal(signal.SIGTERM, interrupted)
    seed = args.seed if args.seed is not None else random.SystemRandom().getrandbits(32)
    print(f"seed={seed}", flush=True)
    if not os.path.exists(args.ballastd):
        print(f"FAIL: ballastd not found at {args.ballastd}")
        return 1
    rng = random.Random(seed)
    sync_modes = args.sync_modes.split(",")
    started = time.monotonic()
    model = Model()
    data_dir = tempfile.mkdtemp(prefix="ballast-kill9-")
    daemon = None
    done = 0
    aborted = False
    try:
        settings = iteration_settings(rng, sync_modes)
        daemon = start_daemon(args, data_dir, settings)
        for queue in QUEUES:
            status, answer = fx.http("PUT", f"{daemon.url}/api/v1/queues/{queue}", {})
            if status != 201:
                print(f"FAIL: creating queue {queue} answered {status} {answer}")
                return 1
        for iteration in range(1, args.iterations + 1):
            elapsed = time.monotonic() - started
            if elapsed > args.max_seconds - FINAL_CHECK_RESERVE_S:
                print(f"time bound: {elapsed:.0f}s of --max-seconds {args.max_seconds:.0f} used after "
                      f"{done} of {args.iterations} iterations", flush=True)
                break
            model.iteration = iteration
            load_ms = rng.randint(50, 400)
            totals_before = dict(model.totals)
            load = run_load(model, daemon, rng, iteration, load_ms)
            previous_log = daemon.log_lines
            killed_settings = settings
            settings = iteration_settings(rng, sync_modes)
            recovery_kill = ""
            if rng.random() < RECOVERY_KILL_CHANCE:
                delay_s = rng.uniform(0.0, 0.25)
                recovery_kill = f" recovery_kill={delay_s * 1000:.0f}ms"
                previous_log = previous_log[-15:] + ["-- kill -9 during recovery --"] + kill_during_recovery(
                    args, model, data_dir, settings, delay_s)
            label = f"restart after kill {iteration}"
            daemon, start_s, present, redelivered, stats, recovery, warnings = restart_and_check(
                args, model, data_dir, settings, label, previous_log)
            done = iteration
            delta = {k: model.totals[k] - totals_before[k] for k in model.totals}
            print(f"iter {iteration}/{args.iterations} load={load_ms}ms "
                  f"deliveries http={load['http_deliveries']} amqp={load['amqp_deliveries']} "
                  f"+confirmed={delta['confirmed']} +settled={delta['settled']} "
                  f"maybe_pub={delta['maybe_published']} maybe_settled={delta['maybe_settled']} | "
                  f"sync={killed_settings['sync_mode']} ckpt={killed_settings['checkpoint_ms']}ms "
                  f"consumer={load['consumer']}{recovery_kill} | "
                  f"restart ready_in={start_s:.2f}s {recovery} warn_lines={warnings} | present={present} "
                  f"redelivered={redelivered} maybe_pub kept={stats['kept']} gone={stats['gone']} "
                  f"maybe_settled back={stats['back']} settled={stats['settled']} | "
                  f"violations={len(model.violations)}", flush=True)
            model.forget_old()
        # A clean stop writes a checkpoint; the same invariants hold after it, with nothing maybe.
        daemon.stop()
        previous_log = daemon.log_lines
        daemon, start_s, present, redelivered, stats, recovery, _ = restart_and_check(
            args, model, data_dir, settings, "restart after a clean stop", previous_log)
        if stats != dict(kept=0, gone=0, back=0, settled=0):
            model.violation(f"restart after a clean stop resolved maybes again: {stats}")
        _, stats_answer = fx.http("GET", f"{daemon.url}/api/v1/stats")
        print(f"clean restart: ready_in={start_s:.2f}s {recovery} present={present} "
              f"journal_bytes={(stats_answer or {}).get('journal_bytes')} "
              f"journal_segments={(stats_answer or {}).get('journal_segments')}", flush=True)
    except AssertionError as error:  # ballastd did not become ready: the message has its log tail
        model.violation(str(error))
        aborted = True
    finally:
        if daemon is not None:
            daemon.stop()
            check_sanitizers(model, daemon.log_lines, "the last run (clean stop)")
    totals = model.totals
    elapsed = time.monotonic() - started
    print(f"summary: seed={seed} iterations={done} confirmed={totals['confirmed']} settled={totals['settled']} "
          f"maybe_published={totals['maybe_published']} (kept {totals['maybe_published_kept']}, gone "
          f"{totals['maybe_published_gone']}) maybe_settled={totals['maybe_settled']} (back "
          f"{totals['maybe_settled_back']}, settled {totals['maybe_settled_gone']}) open_at_end={len(model.open)} "
          f"violations={len(model.violations)} time={elapsed:.1f}s", flush=True)
    failed = bool(model.violations) or done < args.iterations
    if model.violations:
        print(f"first violations of {len(model.violations)}:\n  "
              + "\n  ".join(model.violations[:MAX_PRINTED_VIOLATIONS]))
    if done < args.iterations:
        why = "the daemon did not start" if aborted else f"the time bound --max-seconds {args.max_seconds:.0f}"
        print(f"FAIL: only {done} of {args.iterations} iterations: {why}")
    if failed or args.keep_data:
        print(f"data directory kept at {data_dir}; repeat the schedule with --seed {seed}")
    else:
        shutil.rmtree(data_dir, ignore_errors=True)
    print("FAIL" if failed else "PASS", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
