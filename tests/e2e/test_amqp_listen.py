#!/usr/bin/env python3
"""ballastd listens for AMQP on several addresses, IPv4 and IPv6 loopback (--amqp-listen twice),
as clients that dial localhost over ::1 expect: a message published through 127.0.0.1 is read
through [::1]. A machine without IPv6 loopback fails this test (it never skips).

Usage: test_amqp_listen.py --ballastd PATH
"""
import argparse
import sys

import ballast_fixture as fx
from amqp_fixture import pika_connection


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--ballastd", required=True)
    args = parser.parse_args()
    with fx.TempDataDir() as data_dir:
        daemon = fx.Daemon(args.ballastd, data_dir,
                           ["--amqp-listen", "127.0.0.1:0", "--amqp-listen", "[::1]:0"]).start()
        try:
            addresses = daemon.ready_fields.get("amqp", "").split(",")
            print("server.ready amqp =", addresses)
            assert len(addresses) == 2, f"expected two AMQP addresses, got {addresses}"
            v4_host, _, v4_port = addresses[0].rpartition(":")
            v6_host, _, v6_port = addresses[1].rpartition(":")
            assert v4_host == "127.0.0.1", addresses
            assert v6_host == "[::1]", addresses
            with pika_connection("127.0.0.1", v4_port) as publisher:
                channel = publisher.channel()
                channel.queue_declare("dual-stack", durable=True)
                channel.confirm_delivery()
                channel.basic_publish("", "dual-stack", b"over IPv4")
            print("published through 127.0.0.1")
            with pika_connection("::1", v6_port) as consumer:
                method, _, body = consumer.channel().basic_get("dual-stack", auto_ack=True)
                assert method is not None and body == b"over IPv4", (method, body)
            print("received through [::1]")
        except BaseException:
            sys.stderr.write("\n".join(daemon.log_lines[-30:]) + "\n")
            raise
        finally:
            daemon.stop()
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()
