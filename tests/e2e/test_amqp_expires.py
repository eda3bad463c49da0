#!/usr/bin/env python3
"""x-expires: a queue unused for its expiry is deleted; one with a consumer is kept while the
consumer lasts, and expires after it leaves. Waits are deadlines, never bare sleeps.

Usage: test_amqp_expires.py --ballastd PATH
"""
import argparse
import sys
import time

import pika

import ballast_fixture as fx
from amqp_fixture import connect_daemon

EXPIRES_MS = 1500


def exists(connection, queue):
    channel = connection.channel()
    try:
        channel.queue_declare(queue, passive=True)
        channel.close()
        return True
    except pika.exceptions.ChannelClosedByBroker as error:
        assert error.reply_code == 404, error
        return False


def wait_until(condition, what, timeout_s=10):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout_s} s waiting for: {what}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--ballastd", required=True)
    args = parser.parse_args()
    with fx.TempDataDir() as data_dir:
        daemon = fx.Daemon(args.ballastd, data_dir).start()
        try:
            with connect_daemon(daemon) as connection:
                channel = connection.channel()
                channel.queue_declare("idle", arguments={"x-expires": EXPIRES_MS})
                channel.queue_declare("busy", arguments={"x-expires": EXPIRES_MS})
                tag = channel.basic_consume("busy", lambda *a: None)
                started = time.monotonic()
                wait_until(lambda: not exists(connection, "idle"), "the unused queue to expire")
                print(f"unused queue deleted after {time.monotonic() - started:.1f} s (x-expires {EXPIRES_MS} ms)")
                assert exists(connection, "busy"), "a queue with a consumer expired"
                print("queue with a consumer kept")
                channel.basic_cancel(tag)
                wait_until(lambda: not exists(connection, "busy"), "the queue to expire after its consumer left")
                print("it expired once its consumer left")
            assert any("event=amqp.queue_expired" in line for line in daemon.log_lines), "no amqp.queue_expired event"
        except BaseException:
            sys.stderr.write("\n".join(daemon.log_lines[-30:]) + "\n")
            raise
        finally:
            daemon.stop()
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()
