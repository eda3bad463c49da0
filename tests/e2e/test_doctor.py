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
    directory made unwritable under it, the degraded storage as a failing check.
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

import ballast_fixture as fx

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


def check_doctor_running(binary, ballast, data):
    print("CHECK ballast doctor --server", file=sys.stderr)
    daemon = fx.Daemon(binary, data, prefix=SETPRIV, env={"BALLAST_STORAGE_SELF_CHECK_INTERVAL_MS": "200"})
    daemon.start()
    try:
        status, report = doctor(ballast, "--server", daemon.url, as_json=True)
        require(status == 0 and report["mode"] == "running" and report["fail"] == 0, f"running: {report}")
        os.chmod(data, 0o555)

        def degraded():
            code, answer = doctor(ballast, "--server", daemon.url, as_json=True)
            return code == 6 and any(c["code"] == "STORAGE_PERMISSION_DENIED" for c in failing(answer))

        require(fx.wait_for(degraded, timeout_s=10), "doctor --server did not report the degraded storage")
        os.chmod(data, 0o755)
        require(fx.wait_for(lambda: doctor(ballast, "--server", daemon.url)[0] == 0, timeout_s=10),
                "doctor --server still failing after the fix")
        status, text = doctor(ballast, "--server", "http://127.0.0.1:9")
        require(status == 3, f"doctor against nothing exited {status}: {text}")
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
    finally:
        subprocess.run(["chmod", "-R", "u+rwX", base], check=False)
        shutil.rmtree(base, ignore_errors=True)
    print("OK", file=sys.stderr)


if __name__ == "__main__":
    main()
