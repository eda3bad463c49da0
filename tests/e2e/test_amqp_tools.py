"""End-to-end: the rabbitmq-c command-line tools (Debian amqp-tools) against the broker.

Run:  /usr/bin/python3 tests/e2e/test_amqp_tools.py --ballastd build/src/ballastd
      /usr/bin/python3 tests/e2e/test_amqp_tools.py --server 127.0.0.1:25672 --rabbitmq

Tools: amqp-declare-queue, amqp-publish, amqp-get, amqp-consume, amqp-delete-queue, addressed both
with --server/--port and with --url amqp://guest:guest@127.0.0.1:PORT (no trailing slash: rabbitmq-c
reads "/" as the empty vhost). Properties the tools set are cross-checked with python3-pika.
Each check prints what it verified; the run ends with `N passed, N failed`; exit 1 on any failure.
"""
import argparse
import os
import queue as queue_mod
import subprocess
import sys
import threading
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import amqp_fixture  # noqa: E402

try:
    import pika
    import pika.exceptions
except ImportError as error:
    print(f"FAIL: python3-pika is not importable ({error}). Fix: apt-get install python3-pika")
    print("0 passed, 1 failed")
    sys.exit(1)

ARGS = None
BROKER = None
CHECKS = []
TOOL_TIMEOUT_S = 30
TOOLS = ["amqp-declare-queue", "amqp-publish", "amqp-get", "amqp-consume", "amqp-delete-queue"]


def check(fn):
    CHECKS.append(fn)
    return fn


def say(text):
    print(f"    - {text}", flush=True)


def uniq(prefix):
    return f"e2e.tools.{prefix}.{uuid.uuid4().hex[:10]}"


def server_args():
    return ["--server", BROKER.host, "--port", str(BROKER.port)]


def url_args():
    return ["--url", f"amqp://guest:guest@{BROKER.host}:{BROKER.port}"]


def tool(name, *args, input_text=None, expect_rc=0):
    result = subprocess.run([name, *args], input=input_text, capture_output=True, text=True,
                            timeout=TOOL_TIMEOUT_S)
    if expect_rc is not None and result.returncode != expect_rc:
        raise AssertionError(f"{name} {' '.join(args)} exited {result.returncode} (expected {expect_rc}); "
                             f"stdout={result.stdout!r} stderr={result.stderr!r}")
    return result


def pika_conn():
    return pika.BlockingConnection(pika.ConnectionParameters(
        host=BROKER.host, port=BROKER.port, credentials=pika.PlainCredentials("guest", "guest"),
        heartbeat=0, connection_attempts=1, socket_timeout=10, blocked_connection_timeout=30))


def eq(actual, expected, what):
    assert actual == expected, f"{what}: expected {expected!r}, got {actual!r}"


@check
def declare_durable_publish_persistent_get():
    q = uniq("durable")
    out = tool("amqp-declare-queue", *server_args(), "-d", "-q", q).stdout.strip()
    eq(out, q, "amqp-declare-queue prints the queue name")
    say(f"amqp-declare-queue -d -q {q} (--server/--port) prints the name")
    with pika_conn() as conn:
        ch = conn.channel()
        ch.queue_declare(q, durable=True)
        try:
            ch.queue_declare(q, durable=False)
            raise AssertionError("redeclaring the -d queue as non-durable should fail with 406")
        except pika.exceptions.ChannelClosedByBroker as error:
            eq(error.reply_code, 406, "reply code for non-durable redeclare")
        say("the queue is durable (pika redeclare durable=True ok, durable=False -> 406)")
    tool("amqp-publish", *server_args(), "-r", q, "-p", "-b", "hello from amqp-publish")
    out = tool("amqp-get", *server_args(), "-q", q).stdout
    eq(out, "hello from amqp-publish", "amqp-get output")
    say("amqp-publish -r -p -b then amqp-get prints the exact body")
    tool("amqp-publish", *url_args(), "-r", q, "-p", "-b", "with props", "-C", "text/x-e2e",
         "-E", "identity", "-t", "reply.here", "-H", "x-k: v1", "-H", "other: two words")
    with pika_conn() as conn:
        ch = conn.channel()
        method, props, body = ch.basic_get(q, auto_ack=True)
        assert method is not None, "message from amqp-publish --url missing"
        eq(body, b"with props", "body")
        eq((props.delivery_mode, props.content_type, props.content_encoding, props.reply_to),
           (2, "text/x-e2e", "identity", "reply.here"), "properties set by amqp-publish")
        eq(props.headers, {"x-k": "v1", "other": "two words"}, "headers from -H")
        say("amqp-publish --url -p -C -E -t -H: pika sees delivery_mode=2, content type/encoding, reply_to, headers")
        ch.queue_delete(q)


@check
def get_empty_and_missing_queue():
    q = uniq("empty")
    tool("amqp-declare-queue", *url_args(), "-q", q)
    result = tool("amqp-get", *url_args(), "-q", q, expect_rc=None)
    eq((result.returncode, result.stdout), (2, ""), "amqp-get on an empty queue (exit code, stdout)")
    say("amqp-get on an empty queue exits 2 with no output (get-empty)")
    missing = uniq("missing")
    result = tool("amqp-get", *url_args(), "-q", missing, expect_rc=None)
    assert result.returncode != 0, "amqp-get on a missing queue should fail"
    assert "404" in result.stderr and "NOT_FOUND" in result.stderr, result.stderr
    say(f"amqp-get on a missing queue fails: {result.stderr.strip()!r}")
    out = tool("amqp-delete-queue", *url_args(), "-q", q).stdout.strip()
    eq(out, "0", "amqp-delete-queue prints the deleted message count")


@check
def line_buffered_publish_and_consume_count():
    q = uniq("lines")
    tool("amqp-declare-queue", *url_args(), "-q", q)
    lines = [f"line {i} {uuid.uuid4().hex[:6]}" for i in range(20)]
    tool("amqp-publish", *url_args(), "-r", q, "-l", input_text="".join(s + "\n" for s in lines))
    say("amqp-publish -l published 20 lines from stdin")
    result = tool("amqp-consume", *url_args(), "-q", q, "-c", "20", "-p", "5", "--", "sh", "-c", "cat; echo")
    got = [s for s in result.stdout.split("\n") if s]
    eq(got, lines, "amqp-consume -c 20 output (one command per message)")
    say("amqp-consume -c 20 -p 5 -- sh -c 'cat; echo' ran once per message, bodies in order")
    out = tool("amqp-delete-queue", *server_args(), "-q", q).stdout.strip()
    eq(out, "0", "messages left after consume (all acked)")
    say("amqp-delete-queue reports 0 messages left: every consumed message was acked")


@check
def consume_stops_at_count_and_leaves_rest():
    q = uniq("count")
    tool("amqp-declare-queue", *server_args(), "-d", "-q", q)
    for i in range(5):
        tool("amqp-publish", *server_args(), "-r", q, "-p", "-b", f"m{i}")
    result = tool("amqp-consume", *server_args(), "-q", q, "-c", "3", "--", "cat")
    eq(result.stdout, "m0m1m2", "amqp-consume -c 3 -- cat")
    say("amqp-consume -c 3 -- cat consumed exactly m0..m2")
    eq(tool("amqp-get", *server_args(), "-q", q).stdout, "m3", "next message")
    eq(tool("amqp-get", *server_args(), "-q", q).stdout, "m4", "last message")
    say("the remaining m3, m4 are still there for amqp-get")
    eq(tool("amqp-delete-queue", *server_args(), "-q", q, "--if-empty").stdout.strip(), "0", "delete if-empty")
    say("amqp-delete-queue --if-empty on the drained queue")


def wait_for_consumer(q, timeout_s=TOOL_TIMEOUT_S):
    """Poll (bounded) until queue q exists with one consumer; the tool binds before it consumes."""
    deadline = time.monotonic() + timeout_s
    with pika_conn() as conn:
        while time.monotonic() < deadline:
            ch = conn.channel()
            try:
                if ch.queue_declare(q, passive=True).method.consumer_count >= 1:
                    ch.close()
                    return
                ch.close()
            except pika.exceptions.ChannelClosedByBroker as error:
                if error.reply_code != 404:
                    raise
            conn.process_data_events(time_limit=0.05)
    raise AssertionError(f"amqp-consume did not start consuming {q} within {timeout_s}s")


@check
def consume_binds_to_exchange():
    q = uniq("bound")
    key = uniq("key")
    # With -e, amqp-consume declares the queue itself (auto-delete), binds it, then consumes.
    proc = subprocess.Popen(["amqp-consume", *url_args(), "-q", q, "-e", "amq.direct", "-r", key, "-c", "2",
                             "--", "sh", "-c", "cat; echo"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = queue_mod.Queue()
    reader = threading.Thread(target=lambda: [lines.put(s) for s in proc.stdout], daemon=True)
    reader.start()
    try:
        wait_for_consumer(q)
        say("amqp-consume -q Q -e amq.direct -r KEY declared Q and is consuming")
        for body in ("one", "two"):
            tool("amqp-publish", *url_args(), "-e", "amq.direct", "-r", key, "-b", body)
            eq(lines.get(timeout=TOOL_TIMEOUT_S).strip(), body, "message routed through the binding")
        rc = proc.wait(timeout=TOOL_TIMEOUT_S)
        eq(rc, 0, "amqp-consume exit code")
        say("amqp-publish -e amq.direct -r KEY reached it through the binding twice; -c 2 exited 0")
    finally:
        amqp_fixture.stop_pid(proc)
        reader.join(timeout=5)
    with pika_conn() as conn:
        ch = conn.channel()

        def gone():
            nonlocal ch
            try:
                ch.queue_declare(q, passive=True)
                return False
            except pika.exceptions.ChannelClosedByBroker:
                ch = conn.channel()
                return True
        deadline = time.monotonic() + TOOL_TIMEOUT_S
        while not gone():
            assert time.monotonic() < deadline, f"auto-delete queue {q} still exists after its consumer left"
            conn.process_data_events(time_limit=0.05)
    say("its auto-delete queue is gone after amqp-consume exited")


@check
def server_named_queue_and_delete_counts():
    name = tool("amqp-declare-queue", *server_args(), "-q", "").stdout.strip()
    assert name, "amqp-declare-queue -q '' should print the server-generated name"
    say(f"amqp-declare-queue -q '' -> server-named {name!r}")
    for i in range(3):
        tool("amqp-publish", *server_args(), "-r", name, "-b", f"x{i}")
    eq(tool("amqp-delete-queue", *server_args(), "-q", name).stdout.strip(), "3", "deleted message count")
    say("amqp-delete-queue on it prints 3 (the message count)")
    result = tool("amqp-get", *server_args(), "-q", name, expect_rc=None)
    assert result.returncode != 0 and "404" in result.stderr, result
    say("after delete, amqp-get -> 404")


@check
def wrong_password_refused():
    result = tool("amqp-get", "--server", BROKER.host, "--port", str(BROKER.port), "--username", "guest",
                  "--password", "not-the-password", "-q", "whatever", expect_rc=None)
    assert result.returncode != 0, "a wrong password must be refused"
    assert "403" in result.stderr or "ACCESS_REFUSED" in result.stderr or "login" in result.stderr.lower(), \
        result.stderr
    say(f"wrong password refused: {result.stderr.strip()[:120]!r}")


def main():
    global ARGS, BROKER
    parser = amqp_fixture.add_broker_args(argparse.ArgumentParser(description=__doc__))
    ARGS = parser.parse_args()
    try:
        for name in TOOLS:
            amqp_fixture.require_tool(name)
    except AssertionError as error:
        print(f"FAIL: {error}")
        print("0 passed, 1 failed")
        return 1
    with amqp_fixture.broker_from_args(ARGS) as broker:
        BROKER = broker
        return amqp_fixture.run_checks(CHECKS, broker)


if __name__ == "__main__":
    amqp_fixture.exit_with(main)
