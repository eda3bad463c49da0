#!/usr/bin/env python3
"""The incident in the seeds, as a test: the permissions of the storage change under a running,
loaded broker. ballastd runs as the unprivileged user nobody (setpriv, no account created) on a
data directory in a 0755 temporary directory; a publisher and a consumer run over HTTP while
each fault is injected for real (chmod, chown, a POSIX ACL mask) and then removed:

  - the data directory, the journal directory and the current segment lose write permission;
  - the journal directory is given to another user;
  - the journal directory belongs to root and nobody writes through a named ACL entry, until
    the ACL mask takes write away.

For each: ballastd keeps running; within one self-check interval /healthz is degraded and a
publish gets 503 STORAGE_PERMISSION_DENIED naming the path, the user (nobody, uid 65534) and
the owner and mode (or the ACL); the consumer keeps draining; once the cause is removed
publishing resumes within two intervals, with one storage.self_check_recovered event. At the
end every confirmed message has been delivered, and none twice without the redelivered flag.
Needs root (chown, setpriv) and setfacl; without them it fails, it never skips.

Usage: test_storage_permissions.py --ballastd PATH
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import ballast_fixture as fx

NOBODY = 65534
SELF_CHECK_MS = 200
QUEUE = "orders"


def require(condition, what):
    if not condition:
        raise AssertionError(what)


class Traffic:
    """One publisher and one consumer over HTTP; records what was confirmed and delivered."""

    def __init__(self, url):
        self.url = url
        self.confirmed = set()
        self.delivered = {}  # id -> times delivered without the redelivered flag
        self.refusals = []  # error bodies of refused publishes
        self.confirm_times = []  # monotonic time of each confirmed batch
        self.acked = 0
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.consuming = threading.Event()  # cleared: the consumer pauses, a backlog builds up
        self.consuming.set()
        self.serial = 0
        self.threads = [threading.Thread(target=self.publish, daemon=True),
                        threading.Thread(target=self.consume, daemon=True)]

    def start(self):
        for thread in self.threads:
            thread.start()

    def finish(self):
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=60)

    def publish(self):
        for _ in range(10 ** 6):
            if self.stop.is_set():
                return
            ids = [f"m{self.serial + i}" for i in range(20)]
            self.serial += len(ids)
            status, body = fx.http("POST", f"{self.url}/api/v1/queues/{QUEUE}/messages",
                                   {"messages": [{"body": i, "id": i} for i in ids]}, timeout_s=30)
            with self.lock:
                if status == 201:
                    self.confirmed.update(ids)
                    self.confirm_times.append(time.monotonic())
                else:
                    self.refusals.append((status, body))
            if status != 201:
                self.stop.wait(0.05)  # a refused publisher backs off, as a client would

    def consume(self):
        for _ in range(10 ** 6):
            if self.stop.is_set():
                return
            if self.consuming.wait(timeout=0.1):
                self.receive_once(wait_seconds=1)

    def receive_once(self, wait_seconds):
        status, batch = fx.http("POST", f"{self.url}/api/v1/queues/{QUEUE}/receive",
                                {"max": 50, "wait_seconds": wait_seconds, "visibility_timeout_seconds": 600},
                                timeout_s=30)
        require(status == 200, f"receive failed: {status} {batch}")
        messages = batch["messages"]
        if not messages:
            return 0
        with self.lock:
            for message in messages:
                if not message["redelivered"]:
                    self.delivered[message["id"]] = self.delivered.get(message["id"], 0) + 1
                else:
                    self.delivered.setdefault(message["id"], 0)
        status, answer = fx.http("POST", f"{self.url}/api/v1/queues/{QUEUE}/ack",
                                 {"receipts": [m["receipt"] for m in messages]}, timeout_s=30)
        require(status == 200, f"ack failed: {status} {answer}")
        with self.lock:
            self.acked += len(messages)
        return len(messages)

    def first_confirm_after(self, moment):
        with self.lock:
            later = [t for t in self.confirm_times if t > moment]
        return min(later) if later else None

    def refusals_since(self, count):
        with self.lock:
            return self.refusals[count:]


def health_codes(url):
    status, health = fx.http("GET", f"{url}/healthz")
    require(status == 200, f"/healthz answered {status}")
    return [part["code"] for part in health.get("degraded", [])]


def run_fault(name, daemon, traffic, inject, remove, expected_texts):
    print(f"CHECK {name}", file=sys.stderr)
    refusals_before = len(traffic.refusals)
    recovered_before = sum("storage.self_check_recovered" in line for line in daemon.log_lines)
    # A backlog for the consumer to drain while the fault lasts.
    traffic.consuming.clear()
    acked_before = traffic.acked
    require(fx.wait_for(lambda: len(traffic.confirmed) >= acked_before + 1000, timeout_s=30),
            f"{name}: no backlog built up")
    inject()
    require(fx.wait_for(lambda: "STORAGE_PERMISSION_DENIED" in health_codes(daemon.url),
                        timeout_s=SELF_CHECK_MS / 1000 * 10),
            f"{name}: /healthz did not report STORAGE_PERMISSION_DENIED")
    require(fx.wait_for(lambda: traffic.refusals_since(refusals_before), timeout_s=10),
            f"{name}: no publish was refused")
    status, body = traffic.refusals_since(refusals_before)[0]
    require(status == 503, f"{name}: publish refused with {status}, not 503: {body}")
    error = body["error"]
    require(error["code"] == "STORAGE_PERMISSION_DENIED", f"{name}: wrong code {error}")
    for text in ["nobody", f"uid {NOBODY}", *expected_texts]:
        require(text in error["message"], f"{name}: {text!r} missing from {error['message']!r}")
    require(error["fix"], f"{name}: no fix in {error}")
    acked_before = traffic.acked
    traffic.consuming.set()
    require(fx.wait_for(lambda: traffic.acked >= acked_before + 100, timeout_s=10),
            f"{name}: the consumer stopped draining during the fault")
    require(daemon.process.poll() is None, f"{name}: ballastd exited")
    remove()
    removed_at = time.monotonic()
    require(fx.wait_for(lambda: traffic.first_confirm_after(removed_at) is not None, timeout_s=10),
            f"{name}: publishing did not resume")
    took = traffic.first_confirm_after(removed_at) - removed_at
    print(f"  {name}: publishing resumed {took:.2f} s after the fix", file=sys.stderr)
    # Two self-check intervals, plus the publisher's back-off and one commit; generous for a
    # loaded CI machine, and still far below a restart.
    require(took <= 2 * SELF_CHECK_MS / 1000 + 2.0, f"{name}: publishing resumed only after {took:.2f} s")
    require(fx.wait_for(lambda: not health_codes(daemon.url), timeout_s=5), f"{name}: /healthz still degraded")
    recovered = sum("storage.self_check_recovered" in line for line in daemon.log_lines)
    require(recovered == recovered_before + 1,
            f"{name}: {recovered - recovered_before} recovery events, expected exactly one")


def newest_segment(journal_dir):
    segments = sorted(n for n in os.listdir(journal_dir) if n.endswith(".seg"))
    require(segments, f"no segment in {journal_dir}")
    return os.path.join(journal_dir, segments[-1])


def setfacl(*args):
    subprocess.run(["setfacl", *args], check=True, capture_output=True, timeout=30)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--ballastd", required=True)
    args = parser.parse_args()
    require(os.geteuid() == 0, "this test needs root (chown, setpriv). Fix: run make test as root")
    for tool in ("setpriv", "setfacl"):
        require(shutil.which(tool), f"{tool} is not installed. Fix: scripts/install-deps")

    base = tempfile.mkdtemp(prefix="ballast-perm-")
    daemon = None
    try:
        os.chmod(base, 0o755)
        binary = os.path.join(base, "ballastd")
        shutil.copy(args.ballastd, binary)  # reachable by nobody wherever the build tree is
        data = os.path.join(base, "data")
        os.mkdir(data)
        os.chown(data, NOBODY, NOBODY)
        daemon = fx.Daemon(binary, data, prefix=["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}",
                                                 "--clear-groups"],
                           env={"BALLAST_STORAGE_SELF_CHECK_INTERVAL_MS": str(SELF_CHECK_MS)}).start()
        status, body = fx.http("PUT", f"{daemon.url}/api/v1/queues/{QUEUE}", {})
        require(status in (200, 201), f"queue create: {status} {body}")
        journal = os.path.join(data, "journal")
        traffic = Traffic(daemon.url)
        traffic.start()
        require(fx.wait_for(lambda: len(traffic.confirmed) >= 2000, timeout_s=30), "the publisher did not start")

        run_fault("chmod data directory", daemon, traffic,
                  lambda: os.chmod(data, 0o555), lambda: os.chmod(data, 0o755),
                  [data, "owned by nobody", "mode 0555"])
        run_fault("chmod journal directory", daemon, traffic,
                  lambda: os.chmod(journal, 0o555), lambda: os.chmod(journal, 0o755),
                  [journal, "mode 0555"])
        segment = newest_segment(journal)
        run_fault("chmod current segment", daemon, traffic,
                  lambda: os.chmod(segment, 0o444), lambda: os.chmod(segment, 0o644),
                  [segment, "mode 0444"])
        run_fault("chown journal directory", daemon, traffic,
                  lambda: os.chown(journal, 1, 1), lambda: os.chown(journal, NOBODY, NOBODY),
                  [journal, "owned by daemon"])
        # The broker is not the owner: it writes through a named-user ACL entry, until the mask
        # takes write away.
        os.chown(journal, 0, 0)
        setfacl("-m", f"u:{NOBODY}:rwx,m::rwx", journal)
        require(fx.wait_for(lambda: not health_codes(daemon.url), timeout_s=5), "ACL set-up is not writable")
        run_fault("ACL mask on journal directory", daemon, traffic,
                  lambda: setfacl("-m", "m::r-x", journal), lambda: setfacl("-m", "m::rwx", journal),
                  [journal, "owned by root", "user:nobody:rwx", "mask::r-x"])

        traffic.finish()
        for _ in range(10000):
            if traffic.receive_once(wait_seconds=0) == 0:
                break
        lost = traffic.confirmed - set(traffic.delivered)
        twice = [i for i, n in traffic.delivered.items() if n > 1]
        print(f"storage permissions: {len(traffic.confirmed)} confirmed, {len(traffic.delivered)} delivered, "
              f"{len(lost)} lost, {len(twice)} delivered twice without the redelivered flag", file=sys.stderr)
        require(not lost, f"confirmed messages lost: {sorted(lost)[:10]}")
        require(not twice, f"delivered twice without the redelivered flag: {twice[:10]}")
        require(daemon.process.poll() is None, "ballastd exited")
    except BaseException:
        if daemon:
            print(f"ballastd exit status: {daemon.process.poll()}; log (last 40 lines):\n" + "\n".join(daemon.log_lines[-40:]), file=sys.stderr)
        raise
    finally:
        if daemon:
            daemon.stop()
        subprocess.run(["chmod", "-R", "u+rwX", base], check=False)
        shutil.rmtree(base, ignore_errors=True)
    print("OK", file=sys.stderr)


if __name__ == "__main__":
    main()
