#!/usr/bin/env python3
"""Queue limits under load, over HTTP and AMQP (docs/operations.md, QUEUE_LIMIT_REACHED):

  - max_length with reject-publish, loaded by an HTTP publisher and an AMQP publisher in confirm
    mode while the consumer is paused: HTTP 429 QUEUE_LIMIT_REACHED naming the queue, the
    vhost, the limit and max_length; AMQP basic.nack (never a silent drop); consuming frees
    room and both publishers resume; zero loss, no silent duplicate;
  - max_bytes with reject-publish: 429 naming max_bytes and the limit; one ack makes room;
  - drop-head: the oldest messages are dead-lettered with x-death-reason max_length and their
    queue, never dropped silently;
  - an AMQP queue declared with x-max-length and x-overflow = reject-publish: the publish past
    the limit is nacked, and one basic.get + ack makes room.

Usage: test_queue_limits.py --ballastd PATH
"""
import argparse
import sys
import time

import pika

import amqp_fixture
import ballast_fixture as fx
from fault_traffic import AmqpConfirmPublisher, HttpTraffic, require

MAX_LENGTH = 200


def put_queue(url, name, settings):
    status, body = fx.curl("PUT", f"{url}/api/v1/queues/{name}", settings)
    require(status in (200, 201), f"queue {name}: {status} {body}")


def check_max_length_under_load(daemon):
    queue = "capped"
    put_queue(daemon.url, queue, {"max_length": MAX_LENGTH, "overflow": "reject-publish"})
    traffic = HttpTraffic(daemon.url, queue, batch=10)
    traffic.consuming.clear()
    amqp = AmqpConfirmPublisher(lambda: amqp_fixture.connect_daemon(daemon), queue)
    traffic.start()
    amqp.start()
    try:
        require(fx.wait_for(lambda: traffic.refusals and amqp.nacked > 0, timeout_s=30),
                f"max_length: no refusal (HTTP {len(traffic.refusals)}, AMQP nacks {amqp.nacked})")
        status, body = traffic.refusals[0]
        require(status == 429, f"max_length: refused with {status}, not 429: {body}")
        error = body["error"]
        require(error["code"] == "QUEUE_LIMIT_REACHED", f"max_length: wrong code {error}")
        for text in [f'queue "{queue}"', 'vhost "/"', f"limit {MAX_LENGTH}", "max_length", "reject-publish"]:
            require(text in error["message"], f"max_length: {text!r} missing from {error['message']!r}")
        require("max_length" in error["fix"], f"max_length: the fix names no setting: {error['fix']!r}")
        print(f"  HTTP 429 QUEUE_LIMIT_REACHED: {error['message']}", file=sys.stderr)
        status, info = fx.http("GET", f"{daemon.url}/api/v1/queues/{queue}")
        require(info["messages"] == MAX_LENGTH, f"max_length: the queue holds {info['messages']}")
        # A queue limit blocks no connection: only that queue refuses.
        require(not amqp.blocked_reasons(), f"max_length: connection.blocked for a queue limit: {amqp.events}")

        resumed_from = time.monotonic()
        traffic.consuming.set()
        require(fx.wait_for(lambda: traffic.first_confirm_after(resumed_from) is not None, timeout_s=10),
                "max_length: HTTP publishing did not resume once the consumer made room")
        confirmed_amqp = len(amqp.confirmed)
        require(fx.wait_for(lambda: len(amqp.confirmed) > confirmed_amqp, timeout_s=10),
                "max_length: AMQP publishing did not resume once the consumer made room")
    finally:
        amqp.finish()
    traffic.drain_and_verify("max_length", extra_confirmed=amqp.confirmed)


def check_max_bytes(daemon):
    queue = "capped-bytes"
    put_queue(daemon.url, queue, {"max_bytes": 10000})
    for i in range(10):
        status, body = fx.http("POST", f"{daemon.url}/api/v1/queues/{queue}/messages", {"body": "b" * 1000})
        require(status == 201, f"max_bytes: publish {i}: {status} {body}")
    status, body = fx.http("POST", f"{daemon.url}/api/v1/queues/{queue}/messages", {"body": "b" * 1000})
    require(status == 429 and body["error"]["code"] == "QUEUE_LIMIT_REACHED", f"max_bytes: {status} {body}")
    for text in [f'queue "{queue}"', "10000 bytes", "limit 10000", "max_bytes"]:
        require(text in body["error"]["message"], f"max_bytes: {text!r} missing from {body['error']['message']!r}")
    status, batch = fx.http("POST", f"{daemon.url}/api/v1/queues/{queue}/receive", {"max": 1})
    require(status == 200 and len(batch["messages"]) == 1, f"max_bytes: receive: {status} {batch}")
    status, body = fx.http("POST", f"{daemon.url}/api/v1/queues/{queue}/ack",
                           {"receipts": [batch["messages"][0]["receipt"]]})
    require(status == 200, f"max_bytes: ack: {status} {body}")
    status, body = fx.http("POST", f"{daemon.url}/api/v1/queues/{queue}/messages", {"body": "b" * 1000})
    require(status == 201, f"max_bytes: publishing did not resume after an ack: {status} {body}")


def check_drop_head_dead_letters(daemon):
    queue, dead = "rolling", "rolling-dead"
    put_queue(daemon.url, queue, {"max_length": 5, "overflow": "drop-head", "dead_letter_queue": dead})
    for i in range(8):
        status, body = fx.http("POST", f"{daemon.url}/api/v1/queues/{queue}/messages", {"body": f"r{i}", "id": f"r{i}"})
        require(status == 201, f"drop-head: publish r{i}: {status} {body}")
    status, kept = fx.http("POST", f"{daemon.url}/api/v1/queues/{queue}/receive", {"max": 100})
    require([m["body"] for m in kept["messages"]] == [f"r{i}" for i in range(3, 8)],
            f"drop-head: the queue kept {[m['body'] for m in kept['messages']]}")
    status, dropped = fx.http("POST", f"{daemon.url}/api/v1/queues/{dead}/receive", {"max": 100})
    require(status == 200, f"drop-head: receive from {dead}: {status} {dropped}")
    require([m["body"] for m in dropped["messages"]] == ["r0", "r1", "r2"],
            f"drop-head: dead-lettered {[m['body'] for m in dropped['messages']]}")
    for message in dropped["messages"]:
        headers = message["headers"]
        require(headers.get("x-death-reason") == "max_length" and headers.get("x-death-queue") == queue,
                f"drop-head: dead letter without its reason: {headers}")


def check_amqp_declared_limit(daemon):
    connection = amqp_fixture.connect_daemon(daemon)
    try:
        channel = connection.channel()
        channel.queue_declare("amqp-capped", durable=True,
                              arguments={"x-max-length": 3, "x-overflow": "reject-publish"})
        channel.confirm_delivery()
        for i in range(3):
            channel.basic_publish("", "amqp-capped", f"c{i}".encode(), pika.BasicProperties(delivery_mode=2))
        try:
            channel.basic_publish("", "amqp-capped", b"c3", pika.BasicProperties(delivery_mode=2))
            raise AssertionError("amqp: the publish past x-max-length was confirmed")
        except pika.exceptions.NackError:
            pass
        method, _, body = channel.basic_get("amqp-capped")
        require(body == b"c0", f"amqp: basic.get returned {body!r}")
        channel.basic_ack(method.delivery_tag)
        channel.basic_publish("", "amqp-capped", b"c4", pika.BasicProperties(delivery_mode=2))
        count = channel.queue_declare("amqp-capped", passive=True).method.message_count
        require(count == 3, f"amqp: {count} messages after one was consumed and one published")
    finally:
        connection.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--ballastd", required=True)
    args = parser.parse_args()
    with fx.TempDataDir() as data:
        daemon = amqp_fixture.AmqpDaemon(args.ballastd, data).start()
        try:
            for check in (check_max_length_under_load, check_max_bytes, check_drop_head_dead_letters,
                          check_amqp_declared_limit):
                print(f"CHECK {check.__name__}", file=sys.stderr)
                check(daemon)
            require(daemon.process.poll() is None, "ballastd exited")
        except BaseException:
            sys.stderr.write("\n".join(daemon.log_lines[-40:]) + "\n")
            raise
        finally:
            daemon.stop()
    print("OK", file=sys.stderr)


if __name__ == "__main__":
    main()
