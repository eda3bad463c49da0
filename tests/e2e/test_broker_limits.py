#!/usr/bin/env python3
"""The broker-wide limits under load, over HTTP and AMQP: limits.max_disk_bytes and
limits.max_memory_bytes (docs/operations.md, BROKER_DISK_LIMIT and BROKER_MEMORY_LIMIT).

For each limit, a real ballastd is loaded by an HTTP publisher and an AMQP publisher in confirm
mode while the consumer is paused, until the limit is reached. Then: HTTP publishes get the
exact status and code (507 BROKER_DISK_LIMIT, 503 BROKER_MEMORY_LIMIT) with the limit, the use
and the config key in the message; a new queue is refused likewise; the AMQP publisher gets
basic.nack and connection.blocked with the reason; /healthz lists the limit; one
broker.*_limit_reached event is logged. The consumer resumes and keeps acking at the limit;
once use falls under the limit publishing resumes without a restart (connection.unblocked, one
broker.*_limit_cleared event). At the end every confirmed message (HTTP and AMQP) has been
delivered, none twice without the redelivered flag.

The memory limit is set from the daemon's own resident set measured in a first run (printed),
plus room for part of the read cache; ASan's quarantine is kept small so freed bodies leave the
resident set as they would with the release allocator.

Usage: test_broker_limits.py --ballastd PATH
"""
import argparse
import os
import sys
import time

import amqp_fixture
import ballast_fixture as fx
from fault_traffic import AmqpConfirmPublisher, HttpTraffic, count_events, health_parts, require

MIB = 1 << 20
QUEUE = "bulk"
SEGMENT_BYTES = 1 * MIB
DISK_LIMIT = 8 * MIB
MEMORY_BODY_BYTES = 64 << 10
MEMORY_HEADROOM = 40 * MIB
READ_CACHE = 96 * MIB
# Freed memory goes back to the kernel at once, as with the release build's allocator
# (jemalloc) after its decay time; ASan otherwise keeps 256 MiB of freed blocks resident.
ASAN_OPTIONS = "quarantine_size_mb=0:thread_local_quarantine_size_kb=0:allocator_release_to_os_interval_ms=100"


def common_env(extra):
    env = {"BALLAST_STORAGE_SELF_CHECK_INTERVAL_MS": "200", "BALLAST_STORAGE_CHECKPOINT_INTERVAL_MS": "300",
           "BALLAST_STORAGE_RESERVE_BYTES": "0", "BALLAST_LIMITS_MAX_MESSAGE_BYTES": str(256 << 10),
           "ASAN_OPTIONS": ASAN_OPTIONS}
    env.update(extra)
    return env


def resident_bytes(pid):
    with open(f"/proc/{pid}/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def create_queue(url):
    status, body = fx.http("PUT", f"{url}/api/v1/queues/{QUEUE}", {})
    require(status in (200, 201), f"queue create: {status} {body}")


def run_limit(name, daemon, body_bytes, code, status_expected, expected_texts):
    """Loads `daemon` until `code`, checks every face of the refusal, drains and checks recovery."""
    print(f"CHECK {name}", file=sys.stderr)
    create_queue(daemon.url)
    traffic = HttpTraffic(daemon.url, QUEUE, body_bytes=body_bytes, batch=8)
    traffic.consuming.clear()
    amqp = AmqpConfirmPublisher(lambda: amqp_fixture.connect_daemon(daemon), QUEUE, body_bytes=body_bytes)
    traffic.start()
    amqp.start()
    try:
        require(fx.wait_for(lambda: traffic.refusals, timeout_s=120), f"{name}: no HTTP publish was refused")
        status, body = traffic.refusals[0]
        require(status == status_expected, f"{name}: refused with {status}, not {status_expected}: {body}")
        error = body["error"]
        require(error["code"] == code, f"{name}: wrong code {error}")
        for text in expected_texts:
            require(text in error["message"], f"{name}: {text!r} missing from {error['message']!r}")
        require("limits." in error["fix"], f"{name}: the fix names no config key: {error['fix']!r}")
        print(f"  {name}: HTTP {status} {error['code']}: {error['message']}", file=sys.stderr)
        traffic.publishing.clear()  # enough load: the limit is reached

        # Once the broker's tick has seen the limit (/healthz lists it), it holds until use is
        # back under the resume mark, whatever compaction does meanwhile.
        require(fx.wait_for(lambda: any(p["code"] == code and p["component"] == "limits"
                                        for p in health_parts(daemon.url)), timeout_s=5),
                f"{name}: /healthz does not list {code}: {health_parts(daemon.url)}")
        status, body = fx.http("PUT", f"{daemon.url}/api/v1/queues/another", {})
        require(status == status_expected and body["error"]["code"] == code,
                f"{name}: a new queue was not refused: {status} {body}")
        require(fx.wait_for(lambda: amqp.nacked > 0 and amqp.blocked_reasons(), timeout_s=20),
                f"{name}: the AMQP publisher got no nack and connection.blocked "
                f"(nacked {amqp.nacked}, events {amqp.events})")
        reason = amqp.blocked_reasons()[0]
        require(reason.startswith(code) and "Fix:" in reason, f"{name}: connection.blocked reason {reason!r}")
        require(count_events(daemon.log_lines, f"broker.{name}_limit_reached") == 1,
                f"{name}: expected one broker.{name}_limit_reached event")

        traffic.consuming.set()  # the consumer drains at the limit
        acked_before = traffic.acked
        require(fx.wait_for(lambda: traffic.acked >= acked_before + 20, timeout_s=20),
                f"{name}: the consumer could not drain at the limit")
        require(fx.wait_for(lambda: count_events(daemon.log_lines, f"broker.{name}_limit_cleared") >= 1,
                            timeout_s=60),
                f"{name}: the limit did not clear after draining")
        cleared_at = time.monotonic()
        require(count_events(daemon.log_lines, f"broker.{name}_limit_reached") == 1,
                f"{name}: the limit was reached more than once")
        require(fx.wait_for(lambda: not [p for p in health_parts(daemon.url) if p["code"] == code], timeout_s=5),
                f"{name}: /healthz still lists {code}")
        require(fx.wait_for(lambda: amqp.unblocked() >= 1, timeout_s=10), f"{name}: no connection.unblocked")
        traffic.publishing.set()
        require(fx.wait_for(lambda: traffic.first_confirm_after(cleared_at) is not None, timeout_s=10),
                f"{name}: HTTP publishing did not resume")
        confirmed_amqp = len(amqp.confirmed)
        require(fx.wait_for(lambda: len(amqp.confirmed) > confirmed_amqp, timeout_s=10),
                f"{name}: AMQP publishing did not resume")
        print(f"  {name}: cleared; HTTP and AMQP publishing resumed without a restart", file=sys.stderr)
    finally:
        amqp.finish()
    traffic.drain_and_verify(name, extra_confirmed=amqp.confirmed)
    require(daemon.process.poll() is None, f"{name}: ballastd exited")


def check_disk_limit(ballastd):
    with fx.TempDataDir() as data:
        daemon = amqp_fixture.AmqpDaemon(ballastd, data, ["--segment-size", str(SEGMENT_BYTES)])
        daemon.env.update(common_env({"BALLAST_LIMITS_MAX_DISK_BYTES": str(DISK_LIMIT)}))
        daemon.start()
        try:
            run_limit("disk", daemon, 16 << 10, "BROKER_DISK_LIMIT", 507,
                      [f"limits.max_disk_bytes = {DISK_LIMIT}", os.path.join(data, "journal"),
                       f"storage.segment_size = {SEGMENT_BYTES}"])
        except BaseException:
            sys.stderr.write("\n".join(daemon.log_lines[-40:]) + "\n")
            raise
        finally:
            daemon.stop()


def measure_baseline(ballastd):
    """The resident set of a ballastd that has created a queue and moved a few messages."""
    with fx.TempDataDir() as data:
        daemon = amqp_fixture.AmqpDaemon(ballastd, data)
        daemon.env.update(common_env({"BALLAST_STORAGE_READ_CACHE_BYTES": str(READ_CACHE)}))
        daemon.start()
        try:
            create_queue(daemon.url)
            traffic = HttpTraffic(daemon.url, QUEUE, body_bytes=MEMORY_BODY_BYTES, batch=8).start()
            require(fx.wait_for(lambda: traffic.acked >= 200, timeout_s=60), "warm-up traffic did not flow")
            traffic.drain_and_verify("memory warm-up")
            return resident_bytes(daemon.process.pid)
        finally:
            daemon.stop()


def check_memory_limit(ballastd):
    baseline = measure_baseline(ballastd)
    limit = max(baseline + MEMORY_HEADROOM, READ_CACHE + MIB)
    print(f"memory: baseline resident set {baseline} bytes; limits.max_memory_bytes = {limit}", file=sys.stderr)
    with fx.TempDataDir() as data:
        daemon = amqp_fixture.AmqpDaemon(ballastd, data)
        daemon.env.update(common_env({"BALLAST_STORAGE_READ_CACHE_BYTES": str(READ_CACHE),
                                      "BALLAST_LIMITS_MAX_MEMORY_BYTES": str(limit)}))
        daemon.start()
        try:
            run_limit("memory", daemon, MEMORY_BODY_BYTES, "BROKER_MEMORY_LIMIT", 503,
                      [f"limits.max_memory_bytes = {limit}", "resident set"])
        except BaseException:
            sys.stderr.write("\n".join(daemon.log_lines[-40:]) + "\n")
            raise
        finally:
            daemon.stop()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--ballastd", required=True)
    args = parser.parse_args()
    check_disk_limit(args.ballastd)
    check_memory_limit(args.ballastd)
    print("OK", file=sys.stderr)


if __name__ == "__main__":
    main()
