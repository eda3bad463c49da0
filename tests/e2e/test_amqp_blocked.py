#!/usr/bin/env python3
"""connection.blocked / unblocked on a full disk, with a real file system: ballastd runs on a
small tmpfs mounted in a private mount namespace (unshare -m, so a crashed test leaves no mount
behind); another process fills it. Publishers in confirm mode get basic.nack for what cannot be
stored and connection.blocked with the STORAGE_FULL reason; once space is freed the broker
restores its reserve, sends connection.unblocked and takes publishes again. Needs root (mount);
without it the test fails, it never skips.

Usage: test_amqp_blocked.py --ballastd PATH
"""
import argparse
import shutil
import sys
import tempfile
import time

import pika

from tmpfs_daemon import TmpfsDaemon, require_root_and_tools

BODY = b"x" * 65536
SEGMENT_BYTES = 1 << 20


def wait_until(condition, what, timeout_s):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout_s} s waiting for: {what}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--ballastd", required=True)
    args = parser.parse_args()
    require_root_and_tools()
    root = tempfile.mkdtemp(prefix="ballast-blocked-")
    daemon = TmpfsDaemon(args.ballastd, root, "24m", ["--segment-size", str(SEGMENT_BYTES)],
                         env={"BALLAST_STORAGE_RESERVE_BYTES": str(4 << 20),
                              "BALLAST_LIMITS_MAX_MESSAGE_BYTES": str(256 << 10)}).start()
    try:
        host, _, port = daemon.amqp_address.rpartition(":")
        events = []
        connection = pika.BlockingConnection(pika.ConnectionParameters(
            host=host, port=int(port), credentials=pika.PlainCredentials("guest", "guest"),
            connection_attempts=1, socket_timeout=10))
        connection.add_on_connection_blocked_callback(lambda _c, frame: events.append(("blocked", frame.method.reason)))
        connection.add_on_connection_unblocked_callback(lambda _c, frame: events.append(("unblocked", "")))
        channel = connection.channel()
        channel.queue_declare("uploads", durable=True)
        channel.confirm_delivery()
        filled = daemon.in_namespace("dd", "if=/dev/zero", f"of={root}/filler", "bs=1M", "count=64")
        print("filled the tmpfs:", filled.stderr.strip().splitlines()[-1] if filled.stderr else "")
        confirmed, nacked = 0, 0
        for _ in range(200):
            try:
                channel.basic_publish("", "uploads", BODY, pika.BasicProperties(delivery_mode=2))
                confirmed += 1
            except pika.exceptions.NackError:
                nacked += 1
                break
        print(f"publishes confirmed before the disk was full: {confirmed}, then nacked: {nacked}")
        assert nacked == 1, "no publish was refused although the disk is full"
        wait_until(lambda: (connection.process_data_events(0.1) or True) and any(e[0] == "blocked" for e in events),
                   "connection.blocked", 10)
        reason = next(e[1] for e in events if e[0] == "blocked")
        print("connection.blocked:", reason)
        assert reason.startswith("STORAGE_FULL"), reason
        assert "Fix:" in reason, reason
        removed = daemon.in_namespace("rm", "-f", f"{root}/filler")
        assert removed.returncode == 0, removed.stderr
        wait_until(lambda: (connection.process_data_events(0.1) or True) and any(e[0] == "unblocked" for e in events),
                   "connection.unblocked after space was freed", 15)
        print("connection.unblocked")
        channel.basic_publish("", "uploads", BODY, pika.BasicProperties(delivery_mode=2))
        print("publishing works again")
        count = channel.queue_declare("uploads", passive=True).method.message_count
        assert count == confirmed + 1, f"{count} messages stored, {confirmed + 1} confirmed"
        print(f"every confirmed message is stored ({count})")
        connection.close()
    except BaseException:
        sys.stderr.write("\n".join(daemon.log_lines[-40:]) + "\n")
        raise
    finally:
        daemon.stop()
        shutil.rmtree(root, ignore_errors=True)
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()
