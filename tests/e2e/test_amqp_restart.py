#!/usr/bin/env python3
"""AMQP state survives a crash: exchanges, bindings, queue arguments and every confirmed
persistent message are there after kill -9 and a restart on the same data directory, and
messages that were delivered but not acked come back flagged redelivered. A second restart
after a clean stop (SIGTERM, which writes a checkpoint) proves the same from the checkpoint's
snapshot rather than from replaying the journal.

Usage: test_amqp_restart.py --ballastd PATH
"""
import argparse
import sys

import pika

import ballast_fixture as fx
from amqp_fixture import connect_daemon

MESSAGES = 500


def publish_and_leave_some_unacked(daemon):
    with connect_daemon(daemon) as connection:
        channel = connection.channel()
        channel.exchange_declare("orders", exchange_type="topic", durable=True)
        channel.queue_declare("eu-orders", durable=True, arguments={"x-max-length": 100000})
        channel.queue_bind("eu-orders", "orders", routing_key="order.eu.*")
        channel.confirm_delivery()
        for i in range(MESSAGES):
            channel.basic_publish("orders", "order.eu.fr", f"order {i}".encode(),
                                  pika.BasicProperties(delivery_mode=2, message_id=f"m{i}",
                                                       headers={"n": i}))
        print(f"published {MESSAGES} confirmed persistent messages through topic exchange 'orders'")
        method, _, body = channel.basic_get("eu-orders")  # delivered, never acked
        assert method is not None and body == b"order 0", (method, body)
        print("one message delivered and left unacked")


def check_everything_is_back(daemon, expect_redelivered_first):
    with connect_daemon(daemon) as connection:
        channel = connection.channel()
        declared = channel.queue_declare("eu-orders", durable=True, arguments={"x-max-length": 100000})
        assert declared.method.message_count == MESSAGES, declared.method.message_count
        channel.exchange_declare("orders", exchange_type="topic", durable=True, passive=True)
        channel.confirm_delivery()
        channel.basic_publish("orders", "order.eu.de", b"after restart", pika.BasicProperties(delivery_mode=2))
        bodies, first_redelivered = [], None
        for _ in range(MESSAGES + 1):
            method, properties, body = channel.basic_get("eu-orders", auto_ack=True)
            assert method is not None, f"only {len(bodies)} messages came back"
            if first_redelivered is None:
                first_redelivered = method.redelivered
            bodies.append(body)
        assert sorted(bodies[:MESSAGES], key=lambda b: int(b.split()[1])) == \
            [f"order {i}".encode() for i in range(MESSAGES)], "messages lost or altered"
        assert bodies[-1] == b"after restart", "the binding did not survive the restart"
        if expect_redelivered_first:
            assert first_redelivered, "the message delivered before the crash was not flagged redelivered"
        print(f"all {MESSAGES} messages back, the exchange and binding route, redelivered flag ok")
        # Leave the queue as it was for the next round.
        channel.queue_purge("eu-orders")
        for i in range(MESSAGES):
            channel.basic_publish("orders", "order.eu.fr", f"order {i}".encode(),
                                  pika.BasicProperties(delivery_mode=2))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--ballastd", required=True)
    args = parser.parse_args()
    with fx.TempDataDir() as data_dir:
        daemon = fx.Daemon(args.ballastd, data_dir).start()
        try:
            publish_and_leave_some_unacked(daemon)
            daemon.kill9()
            print("kill -9")
            daemon = fx.Daemon(args.ballastd, data_dir).start()
            check_everything_is_back(daemon, expect_redelivered_first=True)
            daemon.stop()
            print("clean stop (checkpoint written)")
            daemon = fx.Daemon(args.ballastd, data_dir).start()
            check_everything_is_back(daemon, expect_redelivered_first=False)
        except BaseException:
            sys.stderr.write("\n".join(daemon.log_lines[-40:]) + "\n")
            raise
        finally:
            daemon.stop()
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()
