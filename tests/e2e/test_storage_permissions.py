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
import time

import ballast_fixture as fx
from fault_traffic import HttpTraffic, health_codes, require

NOBODY = 65534
SELF_CHECK_MS = 200
QUEUE = "orders"


def run_fault(name, daemon, traffic, inject, remove, expected_texts):
    print(f"CHECK {name}", file=sys.stderr)
    recovered_before = sum("storage.self_check_recovered" in line for line in daemon.log_lines)
    # A backlog for the consumer to drain while the fault lasts.
    traffic.consuming.clear()
    acked_before = traffic.acked
    require(fx.wait_for(lambda: len(traffic.confirmed) >= acked_before + 1000, timeout_s=30),
            f"{name}: no backlog built up")
    injected_at = time.monotonic()
    inject()
    require(fx.wait_for(lambda: "STORAGE_PERMISSION_DENIED" in health_codes(daemon.url),
                        timeout_s=SELF_CHECK_MS / 1000 * 10),
            f"{name}: /healthz did not report STORAGE_PERMISSION_DENIED")
    require(fx.wait_for(lambda: traffic.refusals_sent_after(injected_at), timeout_s=10),
            f"{name}: no publish was refused")
    status, body = traffic.refusals_sent_after(injected_at)[0]
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
    # The log is read by another thread: on a loaded machine the line can come a little after
    # the publish it allowed.
    recoveries = lambda: sum("storage.self_check_recovered" in line for line in list(daemon.log_lines))
    fx.wait_for(lambda: recoveries() > recovered_before, timeout_s=5)
    recovered = recoveries()
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
        traffic = HttpTraffic(daemon.url, QUEUE)
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

        traffic.drain_and_verify("storage permissions")
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
