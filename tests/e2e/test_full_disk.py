#!/usr/bin/env python3
"""A full disk under load, with a real file system: ballastd runs on a 64 MiB tmpfs in its own
mount namespace (tmpfs_daemon.py: nothing is left mounted if the test dies), an HTTP publisher,
an AMQP publisher in confirm mode and an HTTP consumer run, and another process (dd) fills the
tmpfs.

Expected (docs/architecture.md, "A full disk"): the journal gives up its reserve
(storage.reserve_bytes) for the next segment; HTTP publishes get 507 STORAGE_FULL naming the
data directory, the free bytes and storage.reserve_bytes; the AMQP publisher gets basic.nack
and connection.blocked with that text, never a silent drop; /healthz lists STORAGE_FULL; the
consumer keeps draining and acking on the reserve; ballastd does not exit. Once the filler is
removed, publishing resumes within two self-check intervals (plus the publisher's back-off)
without a restart, with exactly one storage.reserve_restored event and connection.unblocked.
Every confirmed message is delivered, none twice without the redelivered flag. Needs root
(mount); without it the test fails, it never skips.

Usage: test_full_disk.py --ballastd PATH
"""
import argparse
import shutil
import sys
import tempfile
import time

import amqp_fixture
import ballast_fixture as fx
from fault_traffic import AmqpConfirmPublisher, HttpTraffic, count_events, health_codes, require
from tmpfs_daemon import TmpfsDaemon, require_root_and_tools

QUEUE = "uploads"
SELF_CHECK_MS = 200
RESERVE_BYTES = 4 << 20
BODY_BYTES = 16 << 10


def check_full_disk(daemon, traffic, amqp):
    filler = f"{daemon.root}/filler"
    data_dir = daemon.data_dir
    traffic.consuming.clear()  # a backlog for the consumer to drain on the reserve
    require(fx.wait_for(lambda: len(traffic.confirmed) >= 300 and amqp.confirmed, timeout_s=60),
            "the publishers did not start")
    filled = daemon.in_namespace("dd", "if=/dev/zero", f"of={filler}", "bs=1M")
    require("No space left on device" in filled.stderr, f"dd did not fill the tmpfs: {filled.stderr}")
    print("filled the tmpfs:", filled.stderr.strip().splitlines()[-1], file=sys.stderr)

    require(fx.wait_for(lambda: traffic.refusals, timeout_s=60), "no HTTP publish was refused on a full disk")
    status, body = traffic.refusals[0]
    require(status == 507, f"refused with {status}, not 507: {body}")
    error = body["error"]
    require(error["code"] == "STORAGE_FULL", f"wrong code {error}")
    # Whichever sees the full disk first says so: the storage self-check (its probe file in the
    # data directory) or the journal giving up its reserve for a new segment.
    for text in [data_dir, "bytes free of"]:
        require(text in error["message"], f"{text!r} missing from {error['message']!r}")
    require(".self-check" in error["message"] or f"storage.reserve_bytes = {RESERVE_BYTES}" in error["message"],
            f"neither the self-check probe nor the reserve is named: {error['message']!r}")
    require("free space" in error["fix"], f"the fix does not say to free space: {error['fix']!r}")
    print(f"  HTTP 507 STORAGE_FULL: {error['message']}", file=sys.stderr)
    require(fx.wait_for(lambda: "STORAGE_FULL" in health_codes(daemon.url), timeout_s=5),
            "/healthz does not list STORAGE_FULL")
    require(fx.wait_for(lambda: amqp.nacked > 0 and amqp.blocked_reasons(), timeout_s=20),
            f"the AMQP publisher got no nack and connection.blocked (nacked {amqp.nacked}, events {amqp.events})")
    reason = amqp.blocked_reasons()[0]
    require(reason.startswith("STORAGE_FULL") and data_dir in reason and "Fix:" in reason,
            f"connection.blocked reason {reason!r}")

    acked_before = traffic.acked
    traffic.consuming.set()
    require(fx.wait_for(lambda: traffic.acked >= acked_before + 200, timeout_s=20),
            "the consumer could not drain and ack on the reserve")
    require(daemon.process.poll() is None, "ballastd exited on a full disk")
    removed = daemon.in_namespace("rm", "-f", filler)
    require(removed.returncode == 0, f"rm failed: {removed.stderr}")
    removed_at = time.monotonic()
    require(fx.wait_for(lambda: traffic.first_confirm_after(removed_at) is not None, timeout_s=10),
            "publishing did not resume after the filler was removed")
    took = traffic.first_confirm_after(removed_at) - removed_at
    print(f"  publishing resumed {took:.2f} s after space was freed", file=sys.stderr)
    # Two self-check intervals, plus the publisher's back-off and one commit: generous for a
    # loaded CI machine, and still far below a restart.
    require(took <= 2 * SELF_CHECK_MS / 1000 + 2.0, f"publishing resumed only after {took:.2f} s")
    require(fx.wait_for(lambda: not health_codes(daemon.url), timeout_s=5), "/healthz still degraded")
    require(fx.wait_for(lambda: amqp.unblocked() >= 1, timeout_s=10), "no connection.unblocked")
    confirmed_amqp = len(amqp.confirmed)
    require(fx.wait_for(lambda: len(amqp.confirmed) > confirmed_amqp, timeout_s=10), "AMQP publishing did not resume")
    # Exactly one recovery event for each fault event: the self-check's probe file and the
    # journal's reserve each report a full disk once and its end once (the self-check may pass
    # again while the disk is still full, once the journal has given up its reserve).
    pairs = (("storage.self_check_failed", "storage.self_check_recovered"),
             ("storage.reserve_in_use", "storage.reserve_restored"))

    def counts():
        return {event: count_events(daemon.log_lines, event) for pair in pairs for event in pair}

    require(fx.wait_for(lambda: all(counts()[f] == counts()[r] for f, r in pairs), timeout_s=5),
            f"fault and recovery events do not pair up: {counts()}")
    print(f"  events: {counts()}", file=sys.stderr)
    require(any(counts()[f] for f, _ in pairs), "no storage.self_check_failed or storage.reserve_in_use event")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--ballastd", required=True)
    args = parser.parse_args()
    require_root_and_tools()
    root = tempfile.mkdtemp(prefix="ballast-full-disk-")
    daemon = TmpfsDaemon(args.ballastd, root, "64m", ["--segment-size", str(1 << 20)],
                         env={"BALLAST_STORAGE_RESERVE_BYTES": str(RESERVE_BYTES),
                              "BALLAST_STORAGE_SELF_CHECK_INTERVAL_MS": str(SELF_CHECK_MS),
                              "BALLAST_STORAGE_CHECKPOINT_INTERVAL_MS": "500",
                              "BALLAST_LIMITS_MAX_MESSAGE_BYTES": str(256 << 10)})
    amqp = None
    try:
        daemon.start()
        status, body = fx.http("PUT", f"{daemon.url}/api/v1/queues/{QUEUE}", {})
        require(status in (200, 201), f"queue create: {status} {body}")
        host, _, port = daemon.amqp_address.rpartition(":")
        traffic = HttpTraffic(daemon.url, QUEUE, body_bytes=BODY_BYTES, batch=8).start()
        amqp = AmqpConfirmPublisher(lambda: amqp_fixture.pika_connection(host, port), QUEUE,
                                    body_bytes=BODY_BYTES).start()
        check_full_disk(daemon, traffic, amqp)
        amqp.finish()
        traffic.drain_and_verify("full disk", extra_confirmed=amqp.confirmed)
        require(daemon.process.poll() is None, "ballastd exited")
    except BaseException:
        if amqp is not None:
            amqp.stop.set()
        print(f"ballastd exit status: {daemon.process and daemon.process.poll()}; log (last 40 lines):\n"
              + "\n".join(daemon.log_lines[-40:]), file=sys.stderr)
        raise
    finally:
        daemon.stop()
        shutil.rmtree(root, ignore_errors=True)
    print("OK", file=sys.stderr)


if __name__ == "__main__":
    main()
