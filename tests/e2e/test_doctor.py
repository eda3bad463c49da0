#!/usr/bin/env python3
"""Start-up checks and `ballast doctor`, end to end (docs/operations.md, "Start-up checks").

  - ballastd as nobody (setpriv) on a data directory it cannot write refuses to start, prints
    STORAGE_PERMISSION_DENIED naming the directory, the user and the mode, and exits 77;
  - several problems at once (a misspelt key, an unwritable directory, an HTTP port in use)
    are all reported in one run, the config class deciding the status (78);
  - `ballast doctor --data-dir DIR` as root: checklist and --json, all ok;
  - `ballast doctor --config FILE` with server.user = "nobody": the permission problem as a
    failing check (exit 6), --fix chowns the directory and says so, and a second run is all ok;
  - `ballast doctor --server URL` against a running ballastd: all ok; then, with the data
    directory made unwritable under it, the degraded storage as a failing check, a real pika
    publisher that was sent connection.blocked listed (peer, user, vhost, code), the refused
    HTTP publish counted, and the self-check's fault event listed; all clear again (the events
    stay) once the mode is restored;
  - a journal record damaged on disk: after a restart and a receive that meets it, the queue
    is listed as damaged (live.queues fails) in the checklist and in --json.
Needs root (chown, setpriv); without it the test fails, it never skips.

Usage: test_doctor.py --ballastd PATH --ballast PATH
"""
import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile

import pika

import ballast_fixture as fx
from test_journal_tools import damage_message

NOBODY = 65534
SETPRIV = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]


def require(condition, what):
    if not condition:
        raise AssertionError(what)


def run(command, timeout_s=60):
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, stdin=subprocess.DEVNULL)


def ballastd_refuses(binary, data_dir, extra=(), env=None):
    """Starts ballastd as nobody, expects it to exit before it is ready; returns (status, log)."""
    daemon = fx.Daemon(binary, data_dir, extra_args=extra, prefix=SETPRIV, env=env)
    daemon.start(expect_ready=False)
    try:
        status = daemon.wait_exit(timeout_s=60)
    finally:
        daemon.stop()
    return status, "\n".join(daemon.log_lines)


def check_unwritable_data_dir(binary, base):
    print("CHECK ballastd refuses an unwritable data directory", file=sys.stderr)
    data = os.path.join(base, "root-owned")
    os.mkdir(data, 0o755)
    status, log = ballastd_refuses(binary, data)
    require(status == 77, f"exit status {status}, expected 77 (permission):\n{log}")
    for text in ["STORAGE_PERMISSION_DENIED", data, "nobody", "uid 65534", "mode 0755", "fix="]:
        require(text in log, f"{text!r} missing from:\n{log}")
    for shortage in ["STORAGE_FULL", "DESCRIPTOR_LIMIT", "BROKER_MEMORY_LIMIT"]:
        require(shortage not in log, f"a permission problem reported as {shortage}:\n{log}")


def check_several_problems(binary, base):
    print("CHECK every problem is reported at once", file=sys.stderr)
    data = os.path.join(base, "root-owned-2")
    os.mkdir(data, 0o755)
    config = os.path.join(base, "bad.toml")
    with open(config, "w") as out:
        out.write('[storage]\nsync_mod = "always"\n')
    os.chmod(config, 0o644)
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    port = holder.getsockname()[1]
    try:
        status, log = ballastd_refuses(binary, data, extra=["--config", config, "--http-listen", f"127.0.0.1:{port}"])
    finally:
        holder.close()
    require(status == 78, f"exit status {status}, expected 78 (config first):\n{log}")
    for text in ["CONFIG_INVALID", "did you mean storage.sync_mode?", "STORAGE_PERMISSION_DENIED",
                 "LISTEN_FAILED", f"127.0.0.1:{port}", "in use"]:
        require(text in log, f"{text!r} missing from:\n{log}")


def doctor(ballast, *args, as_json=False):
    result = run([ballast, "doctor", *args, *(["--json"] if as_json else [])])
    if as_json:
        require(result.stdout.strip(), f"doctor --json printed nothing: {result.stderr}")
        return result.returncode, json.loads(result.stdout)
    return result.returncode, result.stdout + result.stderr


def failing(report):
    return [c for c in report["checks"] if c["status"] == "fail"]


def check_doctor_offline(ballast, base):
    print("CHECK ballast doctor on a stopped broker", file=sys.stderr)
    data = os.path.join(base, "doctor-data")
    os.mkdir(data, 0o755)
    status, text = doctor(ballast, "--data-dir", data)
    require(status == 0, f"doctor exited {status}:\n{text}")
    for line in ["checking as user root (uid 0), the invoking user", "ok    data_dir.access", "lock", "memory",
                 "0 fail"]:
        require(line in text, f"{line!r} missing from:\n{text}")
    status, report = doctor(ballast, "--data-dir", data, as_json=True)
    require(status == 0 and report["fail"] == 0 and report["mode"] == "stopped", f"json: {report}")
    names = {c["name"] for c in report["checks"]}
    for name in ["config", "user", "data_dir.access", "data_dir.filesystem", "disk.free", "lock", "descriptors",
                 "memory", "ports.http", "ports.amqp"]:
        require(name in names, f"check {name} missing from {sorted(names)}")

    # As the broker's user (server.user): the root-owned directory is a permission problem.
    config = os.path.join(base, "nobody.toml")
    with open(config, "w") as out:
        out.write(f'[server]\nuser = "nobody"\nhttp_listen = "127.0.0.1:0"\n[amqp]\nlisten = "127.0.0.1:0"\n'
                  f'[storage]\ndata_dir = "{data}"\n')
    status, report = doctor(ballast, "--config", config, as_json=True)
    require(status == 6, f"doctor as nobody exited {status}: {report}")
    require(any("server.user" in line for line in report["context"]), f"context: {report['context']}")
    problems = failing(report)
    require(problems and all(c["class"] == "permission" for c in problems), f"failing checks: {problems}")
    require(any(data in c["message"] and "nobody" in c["message"] for c in problems), f"{problems}")

    # A fake cgroup tree with a limit below the read cache: a resource problem, said as such.
    cgroup = os.path.join(base, "cgroup")
    os.makedirs(os.path.join(cgroup, "memory"))
    for path in [os.path.join(cgroup, "memory.max"), os.path.join(cgroup, "memory", "memory.limit_in_bytes")]:
        with open(path, "w") as out:
            out.write("1048576\n")
    status, report = doctor(ballast, "--data-dir", data, "--cgroup-root", cgroup, as_json=True)
    memory = [c for c in report["checks"] if c["name"] == "memory"]
    require(status == 6 and memory and memory[0]["status"] == "fail" and memory[0]["class"] == "resource"
            and memory[0]["code"] == "BROKER_MEMORY_LIMIT" and "1048576" in memory[0]["message"],
            f"memory check: {memory}")

    print("CHECK ballast doctor --fix", file=sys.stderr)
    status, text = doctor(ballast, "--config", config, "--fix")
    require(status == 0, f"doctor --fix exited {status}:\n{text}")
    require(f"changed: chown nobody:" in text and data in text, f"no chown reported:\n{text}")
    require(os.stat(data).st_uid == NOBODY, "the data directory was not given to nobody")
    status, report = doctor(ballast, "--config", config, as_json=True)
    require(status == 0 and report["fail"] == 0, f"second doctor run not all ok: {failing(report)}")
    return data


def check_json_types(report):
    """The doctor JSON's types (the last review): counts are numbers, passed a boolean, and an
    absent class / code / fix is null, never ""."""
    for count in ("ok", "warn", "fail"):
        require(type(report[count]) is int, f"{count} is {report[count]!r}, not a number")
    require(type(report["passed"]) is bool and report["passed"] == (report["fail"] == 0), f"passed: {report}")
    for check in report["checks"]:
        if check["status"] == "ok":
            require(check["class"] is None and check["code"] is None and check["fix"] is None, f"ok line: {check}")
        else:
            require(isinstance(check["fix"], str) and check["fix"], f"{check['status']} line without a fix: {check}")


def check_by_name(report, name):
    return [c for c in report["checks"] if c["name"] == name]


def amqp_publisher(daemon):
    """A real pika publisher in confirm mode that records connection.blocked / unblocked."""
    host, _, port = daemon.ready_fields["amqp"].split(",")[0].rpartition(":")
    connection = pika.BlockingConnection(pika.ConnectionParameters(
        host=host, port=int(port), credentials=pika.PlainCredentials("guest", "guest"),
        connection_attempts=1, socket_timeout=10))
    notices = []
    connection.add_on_connection_blocked_callback(lambda _c, frame: notices.append(("blocked", frame.method.reason)))
    connection.add_on_connection_unblocked_callback(lambda _c, _frame: notices.append(("unblocked", "")))
    channel = connection.channel()
    channel.queue_declare("jobs", durable=True)
    channel.confirm_delivery()
    channel.basic_publish("", "jobs", b"before the fault", pika.BasicProperties(delivery_mode=2))
    return connection, notices


def check_live_while_degraded(ballast, daemon, connection, notices):
    def blocked_and_listed():
        connection.process_data_events(0)
        code, answer = doctor(ballast, "--server", daemon.url, as_json=True)
        listed = answer["live"]["blocked_publishers"]
        return (code == 6 and any(c["code"] == "STORAGE_PERMISSION_DENIED" for c in failing(answer))
                and any(n[0] == "blocked" for n in notices) and listed
                and answer["live"]["http_publish_refusals"]["last_minute"] >= 1)

    require(fx.wait_for(blocked_and_listed, timeout_s=15),
            f"doctor --server did not list the blocked publisher and the HTTP refusal; notices {notices}")
    reason = next(n[1] for n in notices if n[0] == "blocked")
    require(reason.startswith("STORAGE_PERMISSION_DENIED"), f"connection.blocked reason: {reason}")
    status, report = doctor(ballast, "--server", daemon.url, as_json=True)
    check_json_types(report)
    require(report["passed"] is False, f"passed while degraded: {report}")
    blocked = report["live"]["blocked_publishers"]
    require(len(blocked) == 1, f"blocked publishers: {blocked}")
    entry = blocked[0]
    require(entry["protocol"] == "amqp" and entry["user"] == "guest" and entry["vhost"] == "/"
            and entry["peer"].startswith("127.0.0.1:") and entry["code"] == "STORAGE_PERMISSION_DENIED"
            and entry["reason"] == reason and type(entry["blocked_seconds"]) is int
            and type(entry["connection_id"]) is int and entry["since"].endswith("Z"), f"blocked entry: {entry}")
    refusals = report["live"]["http_publish_refusals"]
    require(type(refusals["last_minute"]) is int and refusals["last_code"] == "STORAGE_PERMISSION_DENIED",
            f"http refusals: {refusals}")
    publishers = check_by_name(report, "live.publishers")
    require(publishers and publishers[0]["status"] == "warn"
            and publishers[0]["code"] == "STORAGE_PERMISSION_DENIED"
            and f"guest@{entry['peer']}" in publishers[0]["message"], f"live.publishers: {publishers}")
    events = report["live"]["recent_events"]
    faults = [e for e in events if e["event"] == "storage.self_check_failed"]
    require(faults and faults[0]["level"] == "error" and faults[0]["fields"]["code"] == "STORAGE_PERMISSION_DENIED",
            f"no storage.self_check_failed among the recent events: {events}")
    times = [e["time"] for e in events]
    require(times == sorted(times, reverse=True), f"recent events not newest first: {times}")
    require(type(report["live"]["recent_events_total"]) is int and report["live"]["serving"] is True,
            f"live: {report['live']}")
    status, text = doctor(ballast, "--server", daemon.url)
    for line in ["FAIL  live.storage", "warn  live.publishers", f"guest@{entry['peer']}",
                 "warn  live.events", "recent warn and error events, newest first",
                 "error storage.self_check_failed code=STORAGE_PERMISSION_DENIED", "fix: "]:
        require(line in text, f"{line!r} missing from:\n{text}")


def check_doctor_running(binary, ballast, data):
    print("CHECK ballast doctor --server", file=sys.stderr)
    daemon = fx.Daemon(binary, data, prefix=SETPRIV, env={"BALLAST_STORAGE_SELF_CHECK_INTERVAL_MS": "200"})
    daemon.start()
    connection = None
    try:
        status, report = doctor(ballast, "--server", daemon.url, as_json=True)
        require(status == 0 and report["mode"] == "running" and report["fail"] == 0, f"running: {report}")
        check_json_types(report)
        for name in ["live.health", "live.queues", "live.publishers", "live.events", "live.stats"]:
            require(check_by_name(report, name), f"check {name} missing: {report['checks']}")
        require(check_by_name(report, "live.publishers")[0]["status"] == "ok", f"{report['checks']}")
        require(report["live"]["blocked_publishers"] == [] and report["live"]["damaged_queues"] == [],
                f"live: {report['live']}")
        connection, notices = amqp_publisher(daemon)

        print("CHECK doctor --server while the data directory is unwritable", file=sys.stderr)
        os.chmod(data, 0o555)
        require(fx.wait_for(lambda: fx.http("POST", f"{daemon.url}/api/v1/queues/jobs/messages",
                                             {"body": "refused"})[0] >= 500, timeout_s=10),
                "an HTTP publish was not refused while the data directory is unwritable")
        check_live_while_degraded(ballast, daemon, connection, notices)

        print("CHECK doctor --server after the fix", file=sys.stderr)
        os.chmod(data, 0o755)

        def cleared():
            connection.process_data_events(0)
            code, answer = doctor(ballast, "--server", daemon.url, as_json=True)
            return code == 0 and answer["live"]["blocked_publishers"] == [] and any(
                n[0] == "unblocked" for n in notices)

        require(fx.wait_for(cleared, timeout_s=15), f"doctor --server still failing after the fix; {notices}")
        status, report = doctor(ballast, "--server", daemon.url, as_json=True)
        check_json_types(report)
        require(check_by_name(report, "live.events")[0]["status"] == "warn", "the fault's events are gone")
        connection.close()
        connection = None
        status, text = doctor(ballast, "--server", "http://127.0.0.1:9")
        require(status == 3, f"doctor against nothing exited {status}: {text}")
    finally:
        if connection is not None and connection.is_open:
            connection.close()
        daemon.stop()


def check_doctor_damaged_queue(binary, ballast, base):
    print("CHECK doctor --server names a queue whose journal record is damaged", file=sys.stderr)
    data = os.path.join(base, "damaged-data")
    os.mkdir(data, 0o755)
    daemon = fx.Daemon(binary, data).start()
    try:
        require(fx.http("PUT", f"{daemon.url}/api/v1/queues/orders", {})[0] == 201, "queue not created")
        for n in range(3):
            status, body = fx.http("POST", f"{daemon.url}/api/v1/queues/orders/messages", {"body": f"order-{n}"})
            require(status == 201, f"publish: {status} {body}")
    finally:
        daemon.stop()
    damage_message(data, "order-1")
    daemon = fx.Daemon(binary, data).start()
    try:
        status, batch = fx.http("POST", f"{daemon.url}/api/v1/queues/orders/receive",
                                {"max": 10, "visibility_timeout_seconds": 600})
        require(status == 200, f"receive: {status} {batch}")
        bodies = sorted(m["body"] for m in batch["messages"])
        require(bodies == ["order-0", "order-2"], f"received {bodies}: the damaged order-1 should be dropped")

        def damaged():
            code, answer = doctor(ballast, "--server", daemon.url, as_json=True)
            return code == 6 and answer["live"]["damaged_queues"]

        require(fx.wait_for(damaged, timeout_s=10), "doctor --server did not list the damaged queue")
        status, report = doctor(ballast, "--server", daemon.url, as_json=True)
        check_json_types(report)
        queue = report["live"]["damaged_queues"][0]
        require(queue["name"] == "orders" and queue["vhost"] == "/" and queue["code"] == "STORAGE_CORRUPT"
                and queue["unreadable_messages"] == 1, f"damaged queue: {queue}")
        queues = check_by_name(report, "live.queues")
        require(queues and queues[0]["status"] == "fail" and "queue \"orders\"" in queues[0]["message"]
                and "journal salvage" in queues[0]["fix"], f"live.queues: {queues}")
        status, text = doctor(ballast, "--server", daemon.url)
        require("FAIL  live.queues" in text and "broker.message_unreadable" in text, text)
    finally:
        daemon.stop()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--ballastd", required=True)
    parser.add_argument("--ballast", required=True)
    args = parser.parse_args()
    require(os.geteuid() == 0, "this test needs root (chown, setpriv). Fix: run make test as root")
    require(shutil.which("setpriv"), "setpriv is not installed. Fix: scripts/install-deps")
    base = tempfile.mkdtemp(prefix="ballast-doctor-")
    try:
        os.chmod(base, 0o755)
        binary = os.path.join(base, "ballastd")
        shutil.copy(args.ballastd, binary)  # reachable by nobody wherever the build tree is
        check_unwritable_data_dir(binary, base)
        check_several_problems(binary, base)
        data = check_doctor_offline(args.ballast, base)
        check_doctor_running(binary, args.ballast, data)
        check_doctor_damaged_queue(binary, args.ballast, base)
    finally:
        subprocess.run(["chmod", "-R", "u+rwX", base], check=False)
        shutil.rmtree(base, ignore_errors=True)
    print("OK", file=sys.stderr)


if __name__ == "__main__":
    main()
