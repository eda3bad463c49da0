"""End-to-end: AMQP 0-9-1 semantics checked with a real client library (python3-pika).

Run:  /usr/bin/python3 tests/e2e/test_amqp_pika.py --ballastd build/src/ballastd
      /usr/bin/python3 tests/e2e/test_amqp_pika.py --server 127.0.0.1:25672 --rabbitmq   (develop vs RabbitMQ)
      add `--only NAME[,NAME]` to run a subset of checks.

Every check uses its own connection and its own uniquely named queues/exchanges, so one failure
does not cascade. Each check prints what it verified; the run ends with `N passed, N failed` and
exits 1 if any check failed. Ballast-only assertions are skipped with --rabbitmq.
"""
import argparse
import datetime
import decimal
import os
import re
import socket
import struct
import sys
import threading
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import amqp_fixture  # noqa: E402

try:
    import pika
    import pika.exceptions
except ImportError as error:  # a missing client library is a failure, never a silent skip
    print(f"FAIL: python3-pika is not importable ({error}). Fix: apt-get install python3-pika")
    print("0 passed, 1 failed")
    sys.exit(1)

ARGS = None
BROKER = None
CHECKS = []
DEADLINE_S = 10  # every wait for a condition is bounded by this


Skip = amqp_fixture.Skip  # raised by a Ballast-only check when the server is RabbitMQ


def check(fn):
    CHECKS.append(fn)
    return fn


def say(text):
    print(f"    - {text}", flush=True)


def uniq(prefix):
    return f"e2e.{prefix}.{uuid.uuid4().hex[:10]}"


def ballast_only():
    return not ARGS.rabbitmq


def connect(heartbeat=None, user="guest", password="guest", port=None):
    params = pika.ConnectionParameters(
        host=BROKER.host, port=port or BROKER.port, virtual_host="/",
        credentials=pika.PlainCredentials(user, password),
        heartbeat=heartbeat if heartbeat is not None else 0,
        blocked_connection_timeout=30, socket_timeout=10, stack_timeout=15,
        connection_attempts=1)
    return pika.BlockingConnection(params)


def wait_until(condition, conn=None, timeout_s=DEADLINE_S, what="condition"):
    """Poll `condition` until true, pumping the connection's I/O; bounded by a deadline."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        if conn is not None:
            conn.process_data_events(time_limit=0.05)
        else:
            time.sleep(0.05)
    if condition():
        return True
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")


def expect_channel_close(fn, code):
    """Run fn, which must make the broker close the channel with `code`; return the exception."""
    try:
        fn()
    except pika.exceptions.ChannelClosedByBroker as error:
        assert error.reply_code == code, f"expected reply code {code}, got {error.reply_code} {error.reply_text!r}"
        return error
    raise AssertionError(f"expected the broker to close the channel with {code}, but the call succeeded")


def get_all(ch, queue, limit=1000):
    """basic_get with auto-ack until the queue is empty (bounded); return the bodies as str."""
    bodies = []
    for _ in range(limit):
        method, _props, body = ch.basic_get(queue, auto_ack=True)
        if method is None:
            return bodies
        bodies.append(body.decode())
    raise AssertionError(f"queue {queue} still not empty after {limit} gets")


def publish(ch, body, routing_key, exchange="", properties=None, mandatory=False):
    ch.basic_publish(exchange=exchange, routing_key=routing_key, body=body,
                     properties=properties, mandatory=mandatory)


def eq(actual, expected, what):
    assert actual == expected, f"{what}: expected {expected!r}, got {actual!r}"


def check_reply_text(error, amqp_name, name):
    """Reply text starts with the AMQP name and ' - '; for Ballast, an upper-case CODE follows."""
    text = error.reply_text
    assert text.startswith(amqp_name + " - "), f"reply text should start with {amqp_name!r} + ' - ': {text!r}"
    assert name in text, f"reply text should name {name!r}: {text!r}"
    say(f"reply text {text!r} starts with '{amqp_name} - ' and names {name!r}")
    if ballast_only():
        assert re.match(rf"^{amqp_name} - [A-Z][A-Z0-9_]*: ", text), \
            f"Ballast reply text should be '{amqp_name} - CODE: ...': {text!r}"
        say("Ballast: an upper-case CODE follows the AMQP name")


def get_eventually(ch, conn, queue, what):
    """basic_get (auto-ack) until a message arrives; dead-lettering may be asynchronous."""
    got = []

    def arrived():
        got.append(ch.basic_get(queue, auto_ack=True))
        return got[-1][0] is not None
    wait_until(arrived, conn, what=what)
    return got[-1]


def find_dead_letter(conn, queue, marker, limit=10000):
    """Find the message whose body is `marker` in `queue`, ack it and return (method, props, body).

    Each attempt scans the queue with basic_get (no auto-ack) on a fresh channel; the other messages
    stay unacked and go back when that channel closes. Attempts repeat until a deadline, since
    dead-lettering may be asynchronous."""
    found = []

    def scan():
        ch = conn.channel()
        try:
            for _ in range(limit):
                method, props, body = ch.basic_get(queue, auto_ack=False)
                if method is None:
                    return False
                if body.decode(errors="replace") == marker:
                    ch.basic_ack(method.delivery_tag)
                    found.append((method, props, body))
                    return True
            return False
        finally:
            ch.close()
    wait_until(scan, conn, what=f"message {marker!r} in {queue}")
    return found[0]


def check_x_death(props, queue, reason, exchange, routing_keys):
    headers = props.headers or {}
    assert "x-death" in headers, f"dead letter has no x-death header; headers={headers!r}"
    deaths = headers["x-death"]
    assert isinstance(deaths, list) and deaths, f"x-death should be a non-empty array: {deaths!r}"
    first = deaths[0]
    eq(first.get("queue"), queue, "x-death[0].queue")
    eq(first.get("reason"), reason, "x-death[0].reason")
    eq(first.get("count"), 1, "x-death[0].count")
    eq(first.get("exchange"), exchange, "x-death[0].exchange")
    eq(first.get("routing-keys"), routing_keys, "x-death[0].routing-keys")
    assert isinstance(first.get("time"), datetime.datetime), f"x-death[0].time should be a timestamp: {first!r}"
    eq(headers.get("x-first-death-queue"), queue, "x-first-death-queue")
    eq(headers.get("x-first-death-reason"), reason, "x-first-death-reason")
    eq(headers.get("x-first-death-exchange"), exchange, "x-first-death-exchange")
    say(f"x-death = {deaths!r}")


# --------------------------------------------------------------------------------------------
# A byte-recording TCP proxy on 127.0.0.1, to compare content-header frames byte for byte.
# --------------------------------------------------------------------------------------------
class FrameTap:
    """Forwards one client connection to the broker and records every frame in both directions."""

    def __init__(self, host, port):
        self.target = (host, port)
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(1)
        self.listener.settimeout(DEADLINE_S)
        self.port = self.listener.getsockname()[1]
        self.frames = {"c2s": [], "s2c": []}  # lists of (type, channel, payload)
        self.threads = []
        self.sockets = []
        self.accepter = threading.Thread(target=self._accept, daemon=True)
        self.accepter.start()

    def _accept(self):
        try:
            client, _ = self.listener.accept()
        except OSError:
            return
        server = socket.create_connection(self.target, timeout=DEADLINE_S)
        client.settimeout(None)
        server.settimeout(None)
        self.sockets = [client, server]
        for src, dst, key, skip in ((client, server, "c2s", 8), (server, client, "s2c", 0)):
            thread = threading.Thread(target=self._pump, args=(src, dst, key, skip), daemon=True)
            thread.start()
            self.threads.append(thread)

    def _pump(self, src, dst, key, skip):
        buffer = b""
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                data = b""
            if not data:
                try:
                    dst.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                return
            try:
                dst.sendall(data)
            except OSError:
                return
            buffer += data
            if skip and len(buffer) >= skip:  # the 8-byte protocol header from the client
                buffer, skip = buffer[skip:], 0
            while not skip and len(buffer) >= 7:
                ftype, channel, size = struct.unpack(">BHI", buffer[:7])
                if len(buffer) < 7 + size + 1:
                    break
                self.frames[key].append((ftype, channel, buffer[7:7 + size]))
                buffer = buffer[7 + size + 1:]

    def header_frames(self, key):
        return [payload for ftype, _ch, payload in self.frames[key] if ftype == 2]

    def close(self):
        for sock in [self.listener, *self.sockets]:
            try:
                sock.close()
            except OSError:
                pass
        for thread in [self.accepter, *self.threads]:
            thread.join(timeout=5)


# --------------------------------------------------------------------------------------------
# The checks.
# --------------------------------------------------------------------------------------------
@check
def default_user_guest_and_bad_password():
    with connect() as conn:
        assert conn.is_open
        say("guest/guest opens a connection")
    try:
        bad = connect(password="wrong-" + uuid.uuid4().hex[:6])
    except (pika.exceptions.ProbableAuthenticationError, pika.exceptions.AuthenticationError,
            pika.exceptions.ConnectionClosedByBroker, pika.exceptions.AMQPConnectionError) as error:
        say(f"a wrong password is refused ({type(error).__name__})")
        return
    bad.close()
    raise AssertionError("a wrong password was accepted")


@check
def publish_with_confirms():
    q = uniq("confirm")
    with connect() as conn:
        ch = conn.channel()
        ch.confirm_delivery()
        ch.queue_declare(q)
        for i in range(20):
            publish(ch, f"m{i}", q)  # raises NackError/UnroutableError on failure
        say("20 confirmed publishes returned without raising")
        eq(ch.queue_declare(q, passive=True).method.message_count, 20, "declare-ok message_count")
        say("declare-ok (passive) reports message_count=20")
        eq(get_all(ch, q), [f"m{i}" for i in range(20)], "bodies in order")
        say("basic_get returns the 20 bodies in publish order")
        try:
            publish(ch, "x", uniq("nonexistent-rk"), mandatory=True)
            raise AssertionError("mandatory publish to nowhere under confirms did not raise")
        except pika.exceptions.UnroutableError as error:
            eq(len(error.messages), 1, "returned messages")
            eq(error.messages[0].method.reply_code, 312, "basic.return reply code")
            say("mandatory unroutable publish under confirms raises UnroutableError (312 NO_ROUTE)")
        ch.queue_delete(q)
        ch2 = conn.channel()
        ch2.confirm_delivery()
        expect_channel_close(lambda: publish(ch2, "x", "rk", exchange=uniq("no-such-exchange")), 404)
        say("publish to a missing exchange closes the channel with 404 NOT_FOUND")


@check
def basic_get_and_get_empty():
    q = uniq("get")
    with connect() as conn:
        ch = conn.channel()
        ch.confirm_delivery()
        ch.queue_declare(q)
        method, props, body = ch.basic_get(q)
        assert method is None and body is None, "get on an empty queue should be get-empty"
        say("basic_get on an empty queue -> get-empty (None)")
        publish(ch, "a", q)
        publish(ch, "b", q)
        method, props, body = ch.basic_get(q, auto_ack=False)
        eq(body, b"a", "first body")
        eq(method.message_count, 1, "get-ok message_count (messages remaining)")
        eq(method.redelivered, False, "redelivered")
        eq(method.exchange, "", "get-ok exchange")
        eq(method.routing_key, q, "get-ok routing key")
        say("get-ok carries body 'a', message_count=1, redelivered=False, exchange='', routing_key=queue")
        ch.basic_ack(method.delivery_tag)
        method, props, body = ch.basic_get(q, auto_ack=True)
        eq(body, b"b", "second body")
        eq(method.message_count, 0, "get-ok message_count")
        assert ch.basic_get(q)[0] is None
        say("auto-ack get of 'b' then get-empty")
        ch.queue_delete(q)


@check
def consume_with_prefetch():
    q = uniq("prefetch")
    with connect() as conn:
        ch = conn.channel()
        ch.confirm_delivery()
        ch.queue_declare(q)
        for i in range(10):
            publish(ch, f"p{i}", q)
        ch.basic_qos(prefetch_count=3)
        got = []
        ch.basic_consume(q, lambda c, m, p, b: got.append((m.delivery_tag, b.decode())), auto_ack=False)
        wait_until(lambda: len(got) >= 3, conn, what="3 deliveries")
        conn.process_data_events(time_limit=0.5)  # observe: no 4th delivery while 3 are unacked
        eq(len(got), 3, "deliveries with prefetch 3 and none acked")
        say("prefetch_count=3: exactly 3 unacked deliveries")
        ch.basic_ack(got[0][0])
        wait_until(lambda: len(got) >= 4, conn, what="a 4th delivery after one ack")
        conn.process_data_events(time_limit=0.3)
        eq(len(got), 4, "deliveries after acking one")
        say("acking one lets exactly one more through")
        for _ in range(10):
            if len(got) >= 10:
                break
            ch.basic_ack(got[-1][0], multiple=True)
            target = min(10, len(got) + 3)
            wait_until(lambda: len(got) >= target, conn, what=f"{target} deliveries")
        eq([b for _t, b in got], [f"p{i}" for i in range(10)], "consumed bodies in order")
        ch.basic_ack(got[-1][0], multiple=True)
        say("ack multiple drains all 10 in order")
        ch.close()
        ch = conn.channel()
        eq(ch.queue_declare(q, passive=True).method.message_count, 0, "message_count after acking all")
        say("queue empty after all acked")
        ch.queue_delete(q)


@check
def ack_nack_reject():
    q = uniq("acks")
    with connect() as conn:
        ch = conn.channel()
        ch.confirm_delivery()
        ch.queue_declare(q)
        for body in ("r1", "r2", "n1", "n2"):
            publish(ch, body, q)
        m1 = ch.basic_get(q)[0]
        ch.basic_reject(m1.delivery_tag, requeue=True)
        m, _p, b = ch.basic_get(q)
        eq(b, b"r1", "requeued message goes back to the head")
        eq(m.redelivered, True, "redelivered after reject(requeue=True)")
        say("reject requeue=True: message back at the head with redelivered=True")
        ch.basic_reject(m.delivery_tag, requeue=False)
        m, _p, b = ch.basic_get(q)
        eq(b, b"r2", "after reject(requeue=False) the next message")
        say("reject requeue=False: message gone (next get returns r2)")
        m3, _p, b3 = ch.basic_get(q)
        eq(b3, b"n1", "third body")
        # nack multiple with requeue: r2 and n1 come back, both redelivered
        ch.basic_nack(m3.delivery_tag, multiple=True, requeue=True)
        bodies = []
        for _ in range(3):
            m, _p, b = ch.basic_get(q)
            eq(m.redelivered, b.decode() != "n2", f"redelivered flag of {b!r}")
            bodies.append((m.delivery_tag, b.decode()))
        eq(sorted(b for _t, b in bodies), ["n1", "n2", "r2"], "bodies after nack multiple requeue")
        say("nack multiple requeue=True returns both unacked messages with redelivered=True")
        ch.basic_nack(bodies[-1][0], multiple=True, requeue=False)
        assert ch.basic_get(q)[0] is None, "queue should be empty after nack requeue=False"
        say("nack multiple requeue=False drops them: queue empty")
        expect_channel_close(lambda: (ch.basic_ack(999999), ch.queue_declare(q, passive=True)), 406)
        say("ack of an unknown delivery tag closes the channel with 406 PRECONDITION_FAILED")
        ch = conn.channel()
        ch.queue_delete(q)


@check
def exchange_direct():
    x, q1, q2 = uniq("x.direct"), uniq("d1"), uniq("d2")
    with connect() as conn:
        ch = conn.channel()
        ch.confirm_delivery()
        ch.exchange_declare(x, exchange_type="direct")
        ch.exchange_declare(x, exchange_type="direct", passive=True)
        for q in (q1, q2):
            ch.queue_declare(q)
        ch.queue_bind(q1, x, routing_key="red")
        ch.queue_bind(q2, x, routing_key="green")
        ch.queue_bind(q2, x, routing_key="red")
        publish(ch, "r", "red", exchange=x)
        publish(ch, "g", "green", exchange=x)
        publish(ch, "b", "blue", exchange=x)
        eq(get_all(ch, q1), ["r"], "q1 (red)")
        eq(get_all(ch, q2), ["r", "g"], "q2 (green, red)")
        say("direct: 'red' to both bound queues, 'green' to one, 'blue' to none")
        ch.queue_unbind(q2, x, routing_key="red")
        publish(ch, "r2", "red", exchange=x)
        eq(get_all(ch, q1), ["r2"], "q1 after unbind of q2")
        eq(get_all(ch, q2), [], "q2 after unbind")
        say("after queue_unbind(q2, red), 'red' reaches only q1")
        ch.queue_declare(q1, passive=True)
        # default exchange routes by queue name
        publish(ch, "dflt", q1)
        eq(get_all(ch, q1), ["dflt"], "default exchange by queue name")
        say("default exchange routes by queue name")
        for q in (q1, q2):
            ch.queue_delete(q)
        ch.exchange_delete(x)
        expect_channel_close(lambda: ch.exchange_declare(x, passive=True), 404)
        say("deleted exchange: passive declare -> 404")


@check
def exchange_fanout():
    x, qs = uniq("x.fanout"), [uniq(f"f{i}") for i in range(3)]
    with connect() as conn:
        ch = conn.channel()
        ch.confirm_delivery()
        ch.exchange_declare(x, exchange_type="fanout")
        for q in qs:
            ch.queue_declare(q)
            ch.queue_bind(q, x, routing_key="ignored-" + q[-3:])
        publish(ch, "all", "anything", exchange=x)
        for q in qs:
            eq(get_all(ch, q), ["all"], f"fanout to {q}")
        say("fanout: one publish reaches all 3 bound queues regardless of routing key")
        ch.queue_unbind(qs[0], x, routing_key="ignored-" + qs[0][-3:])
        publish(ch, "two", "", exchange=x)
        eq([get_all(ch, q) for q in qs], [[], ["two"], ["two"]], "fanout after unbind")
        say("after unbind, fanout reaches the remaining 2")
        for q in qs:
            ch.queue_delete(q)
        ch.exchange_delete(x)


@check
def exchange_topic():
    x = uniq("x.topic")
    patterns = {"star": "stock.*.nyse", "hash": "stock.#", "hashmid": "*.#.eu", "exact": "stock.usd.nyse",
                "all": "#"}
    qs = {k: uniq("t" + k) for k in patterns}
    keys = ["stock.usd.nyse", "stock.eur.nyse", "stock", "stock.usd.nyse.extra", "fx.eu", "fx.a.b.eu",
            "bond.usd"]
    expected = {
        "star": ["stock.usd.nyse", "stock.eur.nyse"],
        "hash": ["stock.usd.nyse", "stock.eur.nyse", "stock", "stock.usd.nyse.extra"],
        "hashmid": ["fx.eu", "fx.a.b.eu"],
        "exact": ["stock.usd.nyse"],
        "all": keys,
    }
    with connect() as conn:
        ch = conn.channel()
        ch.confirm_delivery()
        ch.exchange_declare(x, exchange_type="topic")
        for k, q in qs.items():
            ch.queue_declare(q)
            ch.queue_bind(q, x, routing_key=patterns[k])
        for key in keys:
            publish(ch, key, key, exchange=x)
        for k, q in qs.items():
            eq(get_all(ch, q), expected[k], f"topic binding {patterns[k]!r}")
            say(f"topic {patterns[k]!r} matched {expected[k]}")
        ch.queue_unbind(qs["hash"], x, routing_key=patterns["hash"])
        publish(ch, "stock.x.nyse", "stock.x.nyse", exchange=x)
        eq(get_all(ch, qs["hash"]), [], "after unbind of stock.#")
        eq(get_all(ch, qs["star"]), ["stock.x.nyse"], "star still bound")
        say("after unbinding 'stock.#' that queue gets nothing; 'stock.*.nyse' still matches")
        for q in qs.values():
            ch.queue_delete(q)
        ch.exchange_delete(x)


@check
def exchange_headers():
    x, q_all, q_any = uniq("x.headers"), uniq("hall"), uniq("hany")
    with connect() as conn:
        ch = conn.channel()
        ch.confirm_delivery()
        ch.exchange_declare(x, exchange_type="headers")
        ch.queue_declare(q_all)
        ch.queue_declare(q_any)
        ch.queue_bind(q_all, x, arguments={"x-match": "all", "format": "pdf", "type": "report"})
        ch.queue_bind(q_any, x, arguments={"x-match": "any", "format": "pdf", "type": "log"})
        cases = [
            ("both", {"format": "pdf", "type": "report"}),
            ("fmt", {"format": "pdf"}),
            ("log", {"type": "log"}),
            ("none", {"format": "zip", "type": "other"}),
            ("extra", {"format": "pdf", "type": "report", "size": 5}),
            ("noheaders", None),
        ]
        for body, headers in cases:
            publish(ch, body, "rk-ignored", exchange=x, properties=pika.BasicProperties(headers=headers))
        eq(get_all(ch, q_all), ["both", "extra"], "x-match=all")
        eq(get_all(ch, q_any), ["both", "fmt", "log", "extra"], "x-match=any")
        say("headers x-match=all matched ['both','extra']; x-match=any matched ['both','fmt','log','extra']")
        ch.queue_unbind(q_all, x, arguments={"x-match": "all", "format": "pdf", "type": "report"})
        publish(ch, "both2", "", exchange=x, properties=pika.BasicProperties(headers={"format": "pdf", "type": "report"}))
        eq(get_all(ch, q_all), [], "x-match=all after unbind")
        eq(get_all(ch, q_any), ["both2"], "x-match=any still bound")
        say("after unbind (same arguments) the all-queue gets nothing")
        ch.queue_delete(q_all)
        ch.queue_delete(q_any)
        ch.exchange_delete(x)


@check
def queue_declare_variants():
    q = uniq("qd")
    with connect() as conn:
        ch = conn.channel()
        ch.confirm_delivery()
        ok = ch.queue_declare(q, durable=True)
        eq((ok.method.queue, ok.method.message_count, ok.method.consumer_count), (q, 0, 0), "declare-ok")
        for i in range(3):
            publish(ch, f"m{i}", q)
        ch.basic_consume(q, lambda *a: None, auto_ack=False)
        ok = ch.queue_declare(q, durable=True)
        eq(ok.method.consumer_count, 1, "declare-ok consumer_count with one consumer")
        say(f"declare-ok: queue={q}, consumer_count=1 (message_count={ok.method.message_count})")
        ch.close()
        ch = conn.channel()
        # pika's close() cancels the consumer first; deliveries of a poll still out then go back
        # to the queue before close-ok, so the passive declare right after it counts all three.
        ok = ch.queue_declare(q, passive=True)
        eq((ok.method.message_count, ok.method.consumer_count), (3, 0), "passive declare-ok after consumer gone")
        say("passive declare-ok: message_count=3 consumer_count=0 after the consuming channel closed")
        # server-named
        ok = ch.queue_declare("", exclusive=True)
        name = ok.method.queue
        assert name, "server-named queue must have a name"
        ch.queue_declare(name, passive=True)
        say(f"server-named queue: {name!r}")
        ch.queue_delete(q)

    # exclusive: other connection gets 405 RESOURCE_LOCKED; queue gone when owner closes
    qx = uniq("excl")
    owner = connect()
    other = connect()
    try:
        och = owner.channel()
        och.queue_declare(qx, exclusive=True)
        xch = other.channel()
        expect_channel_close(lambda: xch.queue_declare(qx, passive=True), 405)
        say("exclusive queue: another connection's passive declare -> 405 RESOURCE_LOCKED")
        xch = other.channel()
        expect_channel_close(lambda: xch.basic_get(qx), 405)
        say("exclusive queue: another connection's basic_get -> 405 RESOURCE_LOCKED")
        owner.close()
        xch = other.channel()

        def gone():
            nonlocal xch
            try:
                xch.queue_declare(qx, passive=True)
                return False
            except pika.exceptions.ChannelClosedByBroker as error:
                assert error.reply_code == 404, error
                xch = other.channel()
                return True
        wait_until(gone, what="exclusive queue deleted after owner closed")
        say("exclusive queue deleted when its connection closes (passive -> 404)")
    finally:
        if owner.is_open:
            owner.close()
        other.close()

    # auto-delete: deleted when its last consumer cancels
    qa = uniq("autodel")
    with connect() as conn:
        ch = conn.channel()
        ch.queue_declare(qa, auto_delete=True)
        ch.queue_declare(qa, passive=True)
        say("auto-delete queue exists before it ever had a consumer")
        tag = ch.basic_consume(qa, lambda *a: None)
        ch.basic_cancel(tag)
        pch = conn.channel()

        def gone_ad():
            nonlocal pch
            try:
                pch.queue_declare(qa, passive=True)
                return False
            except pika.exceptions.ChannelClosedByBroker as error:
                assert error.reply_code == 404, error
                pch = conn.channel()
                return True
        wait_until(gone_ad, conn, what="auto-delete queue deleted after last consumer cancel")
        say("auto-delete queue deleted after its last consumer cancelled")


@check
def purge_and_delete():
    q = uniq("purge")
    with connect() as conn:
        ch = conn.channel()
        ch.confirm_delivery()
        ch.queue_declare(q)
        for i in range(7):
            publish(ch, f"m{i}", q)
        ok = ch.queue_purge(q)
        eq(ok.method.message_count, 7, "purge-ok message_count")
        eq(ch.queue_declare(q, passive=True).method.message_count, 0, "after purge")
        say("purge-ok message_count=7; queue then empty")
        publish(ch, "keep", q)
        expect_channel_close(lambda: ch.queue_delete(q, if_empty=True), 406)
        say("delete if_empty on a non-empty queue -> 406 PRECONDITION_FAILED")
        ch = conn.channel()
        ch.queue_declare(q, passive=True)
        say("queue still exists after the refused delete")
        ch.basic_consume(q, lambda *a: None, auto_ack=False)
        ch2 = conn.channel()
        expect_channel_close(lambda: ch2.queue_delete(q, if_unused=True), 406)
        say("delete if_unused on a queue with a consumer -> 406 PRECONDITION_FAILED")
        ch.close()
        ch = conn.channel()
        publish(ch, "two", q)
        ok = ch.queue_delete(q, if_unused=True)
        eq(ok.method.message_count, 2, "delete-ok message_count")
        say("delete (if_unused, now unused) -> delete-ok message_count=2")
        expect_channel_close(lambda: ch.queue_declare(q, passive=True), 404)
        say("deleted queue: passive declare -> 404")


@check
def dead_letter_exchange():
    dlx, dlq, q = uniq("dlx"), uniq("dlq"), uniq("work")
    with connect() as conn:
        ch = conn.channel()
        ch.confirm_delivery()
        ch.exchange_declare(dlx, exchange_type="direct")
        ch.queue_declare(dlq)
        ch.queue_bind(dlq, dlx, routing_key="dead")
        ch.queue_declare(q, arguments={"x-dead-letter-exchange": dlx, "x-dead-letter-routing-key": "dead"})
        publish(ch, "bad", q, properties=pika.BasicProperties(headers={"app": "e2e"}, message_id="m-1"))
        m = ch.basic_get(q)[0]
        ch.basic_reject(m.delivery_tag, requeue=False)
        dm, props, body = get_eventually(ch, conn, dlq, "the dead letter in the DLX-bound queue")
        eq(body, b"bad", "dead letter body")
        eq(dm.exchange, dlx, "dead letter delivered via exchange")
        eq(dm.routing_key, "dead", "dead letter routing key (x-dead-letter-routing-key)")
        eq(props.message_id, "m-1", "message_id kept")
        eq(props.headers.get("app"), "e2e", "original header kept")
        say(f"reject requeue=False -> '{dlq}' via exchange {dlx!r} with routing key 'dead'")
        check_x_death(props, queue=q, reason="rejected", exchange="", routing_keys=[q])
        assert ch.basic_get(q)[0] is None, "source queue should be empty"
        # nack also dead-letters
        publish(ch, "bad2", q)
        m = ch.basic_get(q)[0]
        ch.basic_nack(m.delivery_tag, requeue=False)
        dm, props, body = get_eventually(ch, conn, dlq, "the nacked message dead-lettered")
        eq(body, b"bad2", "nacked dead letter body")
        say("nack requeue=False dead-letters too")
        # expired by queue TTL dead-letters with reason 'expired'
        qt = uniq("ttl-dl")
        ch.queue_declare(qt, arguments={"x-message-ttl": 100, "x-dead-letter-exchange": dlx,
                                        "x-dead-letter-routing-key": "dead"})
        publish(ch, "late", qt)
        dm, props, body = get_eventually(ch, conn, dlq, "the expired message dead-lettered")
        eq(body, b"late", "expired dead letter body")
        check_x_death(props, queue=qt, reason="expired", exchange="", routing_keys=[qt])
        say("queue TTL expiry dead-letters with reason 'expired'")
        for name in (q, qt, dlq):
            ch.queue_delete(name)
        ch.exchange_delete(dlx)


@check
def per_queue_ttl_and_per_message_expiration():
    q = uniq("ttl")
    with connect() as conn:
        ch = conn.channel()
        ch.confirm_delivery()
        # x-message-ttl is exact to the millisecond: a 300 ms TTL expires no sooner than 300 ms
        # after the publish began and before a whole second (what rounding up to seconds gave).
        ttl_s = 0.3
        ch.queue_declare(q, arguments={"x-message-ttl": int(ttl_s * 1000)})
        published_at = time.monotonic()
        publish(ch, "short", q)  # confirm mode: returns once the message is durable
        gone_at = None
        for _ in range(1000):  # bounded by the 1 s deadline below as well
            count = ch.queue_declare(q, passive=True).method.message_count
            now = time.monotonic()
            if count == 0:
                gone_at = now
                break
            if now - published_at >= 1.0:
                break
            conn.process_data_events(time_limit=0.01)
        assert gone_at is not None, "x-message-ttl=300 message still queued 1 s after the publish began"
        elapsed = gone_at - published_at
        assert ttl_s <= elapsed < 1.0, f"x-message-ttl=300 message gone after {elapsed * 1000:.0f} ms"
        assert ch.basic_get(q)[0] is None
        say(f"x-message-ttl=300: message gone {elapsed * 1000:.0f} ms after the publish began (300 <= t < 1000)")
        q2 = uniq("exp")
        ch.queue_declare(q2)
        publish(ch, "expires", q2, properties=pika.BasicProperties(expiration="150"))
        publish(ch, "stays", q2)
        wait_until(lambda: ch.queue_declare(q2, passive=True).method.message_count == 1, conn,
                   what="message with expiration=150 to expire")
        eq(get_all(ch, q2), ["stays"], "remaining message")
        say("per-message expiration='150' expires that message only; the other stays")
        q3 = uniq("exp0")
        ch.queue_declare(q3)
        publish(ch, "long", q3, properties=pika.BasicProperties(expiration="60000"))
        m, props, body = ch.basic_get(q3, auto_ack=True)
        eq(body, b"long", "unexpired message")
        say(f"an unexpired message keeps expiration property: {props.expiration!r}")
        for name in (q, q2, q3):
            ch.queue_delete(name)


@check
def priorities():
    q = uniq("prio")
    with connect() as conn:
        ch = conn.channel()
        ch.confirm_delivery()
        ch.queue_declare(q, arguments={"x-max-priority": 10})
        sent = [("a1", 1), ("b0", None), ("c9", 9), ("d5", 5), ("e9", 9), ("f1", 1), ("g5", 5)]
        for body, prio in sent:
            publish(ch, body, q, properties=pika.BasicProperties(priority=prio))
        got = get_all(ch, q)
        eq(got, ["c9", "e9", "d5", "g5", "a1", "f1", "b0"], "priority order")
        say(f"x-max-priority=10: delivered highest first, FIFO within a priority: {got}")
        ch.queue_delete(q)


@check
def max_length_reject_publish_and_drop_head():
    q = uniq("maxlen-reject")
    with connect() as conn:
        ch = conn.channel()
        ch.confirm_delivery()
        ch.queue_declare(q, arguments={"x-max-length": 2, "x-overflow": "reject-publish"})
        publish(ch, "1", q)
        publish(ch, "2", q)
        try:
            publish(ch, "3", q)
            raise AssertionError("3rd publish to a full reject-publish queue was confirmed")
        except pika.exceptions.NackError:
            say("x-max-length=2 x-overflow=reject-publish: 3rd publish is nacked (NackError)")
        eq(get_all(ch, q), ["1", "2"], "queue keeps the first two")
        publish(ch, "4", q)
        eq(get_all(ch, q), ["4"], "after draining, publish accepted again")
        say("after draining, publishing is accepted again")
        q2 = uniq("maxlen-drop")
        ch.queue_declare(q2, arguments={"x-max-length": 2, "x-overflow": "drop-head"})
        for body in ("1", "2", "3", "4"):
            publish(ch, body, q2)
        eq(ch.queue_declare(q2, passive=True).method.message_count, 2, "length capped")
        eq(get_all(ch, q2), ["3", "4"], "drop-head keeps the newest")
        say("x-max-length=2 x-overflow=drop-head: all confirmed, oldest dropped, ['3','4'] remain")
        ch.queue_delete(q)
        ch.queue_delete(q2)


@check
def mandatory_return():
    x = uniq("x.ret")
    with connect() as conn:
        ch = conn.channel()
        ch.exchange_declare(x, exchange_type="direct")
        returned = []
        ch.add_on_return_callback(lambda c, m, p, b: returned.append((m, p, b)))
        publish(ch, "lost", "nobody-home", exchange=x, mandatory=True,
                properties=pika.BasicProperties(message_id="ret-1"))
        wait_until(lambda: returned, conn, what="basic.return")
        m, p, b = returned[0]
        eq((m.reply_code, m.reply_text, m.exchange, m.routing_key, b, p.message_id),
           (312, "NO_ROUTE", x, "nobody-home", b"lost", "ret-1"), "basic.return")
        say("mandatory publish to nowhere -> basic.return 312 NO_ROUTE with exchange, routing key, body, props")
        publish(ch, "dropped", "nobody-home", exchange=x, mandatory=False)
        conn.process_data_events(time_limit=0.3)
        eq(len(returned), 1, "non-mandatory unroutable is silently dropped")
        say("non-mandatory unroutable publish is dropped without a return")
        ch.exchange_delete(x)


@check
def content_properties_byte_identical():
    q = uniq("props")
    tap = FrameTap(BROKER.host, BROKER.port)
    try:
        conn = connect(port=tap.port)
        try:
            ch = conn.channel()
            ch.confirm_delivery()
            ch.queue_declare(q)
            ts = datetime.datetime(2024, 5, 6, 7, 8, 9)
            headers = {
                "str": "text ünïcode",
                "int": 42, "neg": -7, "big": 2 ** 40, "zero": 0,
                "t": True, "f": False,
                "bytes": b"\x00\x01\xfe\xff",
                "dec": decimal.Decimal("3.14"),
                "negdec": decimal.Decimal("-0.005"),
                "ts": ts,
                "void": None,
                "arr": [1, "two", True, [3, "nested"], {"k": "v"}, decimal.Decimal("1.5"), ts, b"\x07"],
                "nested": {"a": {"b": {"c": [1, 2, {"d": False}]}}, "e": -123456789012},
                "empty_table": {}, "empty_arr": [],
            }
            props = pika.BasicProperties(
                content_type="application/x-e2e", content_encoding="gzip", headers=headers,
                delivery_mode=2, priority=7, correlation_id="corr-" + q, reply_to="reply." + q,
                expiration="600000", message_id="msg-" + q, timestamp=1700000000, type="e2e.type",
                user_id="guest", app_id="ballast-e2e")
            body = bytes(range(256)) * 4
            publish(ch, body, q, properties=props)
            m, got, got_body = ch.basic_get(q, auto_ack=True)
            eq(got_body, body, "body bytes")
            for field in ("content_type", "content_encoding", "delivery_mode", "priority", "correlation_id",
                          "reply_to", "expiration", "message_id", "timestamp", "type", "user_id", "app_id"):
                eq(getattr(got, field), getattr(props, field), f"property {field}")
            # pika 1.2 decodes a 64-bit 'l' field as unsigned; the frame comparison below checks the bytes.
            expected_decoded = dict(headers, nested=dict(headers["nested"], e=-123456789012 % 2 ** 64))
            eq(got.headers, expected_decoded, "headers table (decoded)")
            say("all 14 basic properties and the nested headers table round-trip with equal values")
            # user_id not equal to the connection's user is refused
            expect_channel_close(lambda: publish(ch, "x", q, properties=pika.BasicProperties(user_id="mallory")),
                                 406)
            say("user_id != connection user -> 406 PRECONDITION_FAILED")
        finally:
            if conn.is_open:
                conn.close()
        sent = tap.header_frames("c2s")
        recv = tap.header_frames("s2c")
        assert sent and recv, f"tap saw header frames: sent={len(sent)} received={len(recv)}"
        eq(recv[0], sent[0], "content header frame payload (server->client vs client->server)")
        say(f"content header frame ({len(sent[0])} bytes: class, weight, size, flags, properties) is byte-identical")
    finally:
        tap.close()
        with connect() as conn:
            conn.channel().queue_delete(q)


@check
def redelivered_after_channel_close():
    q = uniq("redeliver")
    with connect() as conn:
        ch = conn.channel()
        ch.confirm_delivery()
        ch.queue_declare(q)
        for i in range(4):
            publish(ch, f"m{i}", q)
        ch.basic_qos(prefetch_count=2)
        got = []
        ch.basic_consume(q, lambda c, m, p, b: got.append((m.redelivered, b.decode())), auto_ack=False)
        wait_until(lambda: len(got) >= 2, conn, what="2 deliveries")
        eq(got, [(False, "m0"), (False, "m1")], "first deliveries")
        ch.close()
        say("consumed m0,m1 unacked, then closed the channel")
        ch = conn.channel()
        seen = []
        for _ in range(4):
            m, _p, b = ch.basic_get(q, auto_ack=True)
            seen.append((m.redelivered, b.decode()))
        eq(seen, [(True, "m0"), (True, "m1"), (False, "m2"), (False, "m3")], "after channel close")
        say("m0,m1 come back first with redelivered=True; m2,m3 redelivered=False")
        ch.queue_delete(q)


@check
def server_cancels_consumer_when_queue_deleted():
    q = uniq("cancelme")
    with connect() as conn:
        ch = conn.channel()
        ch.queue_declare(q)
        cancelled = []
        ch.add_on_cancel_callback(lambda frame: cancelled.append(frame))
        tag = ch.basic_consume(q, lambda *a: None)
        other = conn.channel()
        other.queue_delete(q)
        wait_until(lambda: cancelled, conn, what="server-sent basic.cancel")
        eq(cancelled[0].method.consumer_tag, tag, "cancelled consumer tag")
        say(f"deleting the queue from another channel -> server basic.cancel for consumer {tag!r}")
        assert ch.is_open, "the consuming channel stays open"
        ch.queue_declare(uniq("after-cancel"), exclusive=True)
        say("the consumer's channel stays open and usable")


@check
def heartbeats():
    with connect(heartbeat=2) as conn:
        eq(conn._impl.params.heartbeat, 2, "negotiated heartbeat")
        checker = conn._impl._heartbeat_checker
        assert checker is not None, "no heartbeat checker: heartbeats not negotiated"
        say("heartbeat=2 negotiated")
        deadline = time.monotonic() + 5.5
        for _ in range(1000):
            if time.monotonic() >= deadline:
                break
            conn.process_data_events(time_limit=0.25)
        assert conn.is_open, "connection closed while idle with heartbeats"
        received = checker._heartbeat_frames_received
        assert received >= 1, f"no heartbeat frames received from the server in 5.5 s (got {received})"
        say(f"idle 5.5 s with process_data_events: still open; {received} server heartbeats received")
        ch = conn.channel()
        q = ch.queue_declare("", exclusive=True).method.queue
        say(f"connection usable after idling (declared {q})")


@check
def channel_errors_close_only_the_channel():
    q = uniq("chanerr")
    missing = uniq("missing")
    with connect() as conn:
        ch = conn.channel()
        ch.confirm_delivery()
        ch.queue_declare(q, arguments={"x-message-ttl": 1000})
        publish(ch, "survivor", q)
        ch_bad = conn.channel()
        err = expect_channel_close(lambda: ch_bad.queue_declare(q, arguments={"x-message-ttl": 2000}), 406)
        say("redeclare with different x-message-ttl -> 406 PRECONDITION_FAILED")
        check_reply_text(err, "PRECONDITION_FAILED", q)
        assert not ch_bad.is_open, "the failing channel is closed"
        assert ch.is_open and conn.is_open, "the other channel and the connection stay open"
        ch_bad2 = conn.channel()
        err = expect_channel_close(lambda: ch_bad2.queue_declare(q, durable=True), 406)
        say("redeclare with different durable flag -> 406")
        ch_bad3 = conn.channel()
        err = expect_channel_close(lambda: ch_bad3.queue_declare(missing, passive=True), 404)
        say("passive declare of a missing queue -> 404 NOT_FOUND")
        check_reply_text(err, "NOT_FOUND", missing)
        ch_bad4 = conn.channel()
        expect_channel_close(lambda: ch_bad4.basic_get(missing), 404)
        say("basic_get on a missing queue -> 404")
        ch_bad5 = conn.channel()
        expect_channel_close(lambda: ch_bad5.queue_bind(q, uniq("nox"), routing_key="k"), 404)
        say("bind to a missing exchange -> 404")
        ch_bad6 = conn.channel()
        expect_channel_close(lambda: ch_bad6.exchange_declare("amq.direct", exchange_type="fanout"), 406)
        say("redeclare amq.direct as fanout -> 406")
        assert conn.is_open and ch.is_open, "connection and first channel still open"
        eq(get_all(ch, q), ["survivor"], "message on the healthy channel")
        publish(ch, "again", q)
        eq(get_all(ch, q), ["again"], "publish/get after channel errors")
        say("after 6 channel errors, the connection and the first channel still publish and get")
        ch.queue_delete(q)


@check
def ballast_default_dead_letter_queue():
    if not ballast_only():
        raise Skip("Ballast-only (ballast.dead-letter); skipped with --rabbitmq")
    q = uniq("nodlx")
    marker = "dl-" + uuid.uuid4().hex
    with connect() as conn:
        ch = conn.channel()
        ch.confirm_delivery()
        ch.queue_declare(q)
        publish(ch, marker, q)
        m = ch.basic_get(q)[0]
        ch.basic_reject(m.delivery_tag, requeue=False)
        ch.queue_declare("ballast.dead-letter", passive=True)
        say("queue 'ballast.dead-letter' exists (passive declare)")
        _m, props, _b = find_dead_letter(conn, "ballast.dead-letter", marker)
        say("a message rejected without requeue on a queue with no DLX lands in ballast.dead-letter")
        deaths = (props.headers or {}).get("x-death")
        assert deaths and deaths[0].get("queue") == q and deaths[0].get("reason") == "rejected", \
            f"x-death should name queue {q} with reason rejected: {props.headers!r}"
        say(f"with x-death {deaths!r}")
        ch.queue_delete(q)


@check
def ballast_delivery_limit():
    if not ballast_only():
        raise Skip("Ballast-only (x-delivery-limit on a classic queue); skipped with --rabbitmq")
    q = uniq("dlimit")
    marker = "limit-" + uuid.uuid4().hex
    with connect() as conn:
        ch = conn.channel()
        ch.confirm_delivery()
        ch.queue_declare(q, arguments={"x-delivery-limit": 2})
        publish(ch, marker, q)
        for attempt in (1, 2):
            m, _p, b = ch.basic_get(q)
            assert m is not None, f"delivery {attempt} missing"
            eq(b.decode(), marker, f"delivery {attempt}")
            ch.basic_reject(m.delivery_tag, requeue=True)
        say("x-delivery-limit=2: delivered and rejected with requeue twice")
        assert ch.basic_get(q)[0] is None, "after 2 deliveries the message must leave the queue"
        say("third get -> get-empty")
        find_dead_letter(conn, "ballast.dead-letter", marker)
        say("the message is in ballast.dead-letter")
        ch.queue_delete(q)


def main():
    global ARGS, BROKER
    parser = amqp_fixture.add_broker_args(argparse.ArgumentParser(description=__doc__))
    parser.add_argument("--only", help="comma-separated check names")
    ARGS = parser.parse_args()
    selected = CHECKS
    if ARGS.only:
        names = set(ARGS.only.split(","))
        selected = [c for c in CHECKS if c.__name__ in names]
        unknown = names - {c.__name__ for c in CHECKS}
        if unknown:
            print(f"unknown checks: {sorted(unknown)}")
            return 2
    with amqp_fixture.broker_from_args(ARGS) as broker:
        BROKER = broker
        kind = "ballastd" if broker.is_ballast else "external server"
        return amqp_fixture.run_checks(selected, broker, f" ({kind}; rabbitmq mode={ARGS.rabbitmq})")


if __name__ == "__main__":
    amqp_fixture.exit_with(main)
