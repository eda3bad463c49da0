#!/usr/bin/python3
"""Plug-ins changed at run time (issue 5, docs/plugins.md "Run-time changes"), with a real
ballastd, the `ballast` CLI and the HTTP API:

- `ballast plugin attach|detach|disable|enable` take effect at once, are stored in the journal
  and survive a restart; the file's attachments and the run-time ones combine as documented;
- bad requests (unknown plug-in, a broker queue, a second filter on a queue, a bad policy) get
  R1 errors and change nothing;
- `ballast plugin reload` 20 times under publish load on a filtered queue (policy reject) and an
  unfiltered one: every publish is answered 201 and filtered, nothing waits;
- a reload whose new process hangs in its handshake or exits before it keeps the old one serving
  and names the cause; watch = true reloads when the command's files change;
- the plug-ins' state is in /healthz, /api/v1/status and `ballast doctor --server`.
"""
import argparse
import base64
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

from ballast_fixture import Daemon, TempDataDir, http, wait_for

HERE = os.path.dirname(os.path.abspath(__file__))
MOODY = os.path.join(HERE, "plugins", "moody_filter.py")
RELOADS = 20


def config_text(mode_file, other_mode_file):
    return f"""
[[plugins]]
name = "moody"
kind = "filter"
command = ["/usr/bin/python3", "{MOODY}", "{mode_file}"]
queues = ["a"]
policy = "hold"
handshake_timeout_ms = 2000
ping_interval_ms = 500

[[plugins]]
name = "watched"
kind = "filter"
command = ["/usr/bin/python3", "{MOODY}", "{other_mode_file}"]
queues = ["w"]
watch = true
watch_interval_ms = 200
"""


class Runtime:
    def __init__(self, args, data_dir, work):
        self.args = args
        self.mode_file = os.path.join(work, "moody.mode")
        self.other_mode_file = os.path.join(work, "watched.mode")
        self.set_mode("ok")
        with open(self.other_mode_file, "w") as f:
            f.write("ok")
        config = os.path.join(work, "ballast.toml")
        with open(config, "w") as f:
            f.write(config_text(self.mode_file, self.other_mode_file))
        self.daemon = Daemon(args.ballastd, data_dir, ["--config", config])

    def set_mode(self, mode):
        with open(self.mode_file, "w") as f:
            f.write(mode)

    def cli(self, *words):
        result = subprocess.run([self.args.ballast, "--server", self.daemon.url, *words],
                                capture_output=True, text=True, timeout=60)
        return result.returncode, result.stdout, result.stderr

    def cli_json(self, *words):
        code, out, err = self.cli("--json", *words)
        assert code == 0, f"ballast {' '.join(words)} failed ({code}): {err}"
        return json.loads(out)

    def plugin(self, name):
        return self.cli_json("plugin", "show", name)

    def wait_ready(self, name, timeout_s=20):
        assert wait_for(lambda: self.plugin(name)["state"] == "ready", timeout_s=timeout_s, interval_s=0.1), \
            f"plug-in {name} not ready: {self.plugin(name)}"

    def publish(self, queue, body):
        return http("POST", f"{self.daemon.url}/api/v1/queues/{queue}/messages", {"body": body}, timeout_s=30)

    def bodies(self, queue):
        out = []
        for _ in range(100):
            status, answer = http("POST", f"{self.daemon.url}/api/v1/queues/{queue}/receive",
                                  {"max": 100, "wait_seconds": 0})
            assert status == 200, answer
            messages = answer["messages"]
            if not messages:
                return out
            for message in messages:
                body = message["body"]
                out.append(base64.b64decode(body).decode() if message.get("encoding") == "base64" else body)
            http("POST", f"{self.daemon.url}/api/v1/queues/{queue}/ack",
                 {"receipts": [m["receipt"] for m in messages]})
        raise AssertionError(f"queue {queue} did not drain within 100 receives")

    def log_has(self, *words):
        return any(all(word in line for word in words) for line in list(self.daemon.log_lines))


def attachments(view):
    return {a["queue"]: (a.get("policy"), a["source"]) for a in view["attachments"]}


def check_attach_detach_and_errors(rt):
    for queue in ("a", "b", "c", "w"):
        assert http("PUT", f"{rt.daemon.url}/api/v1/queues/{queue}", {})[0] in (200, 201)
    rt.wait_ready("moody")
    listed = rt.cli_json("plugin", "list")["plugins"]
    assert [p["name"] for p in listed] == ["moody", "watched"], listed
    code, out, _ = rt.cli("plugin", "list")
    assert code == 0 and "moody" in out and "a (hold)" in out, out
    assert attachments(rt.plugin("moody")) == {"a": ("hold", "config")}

    view = rt.cli_json("plugin", "attach", "moody", "--queue", "c", "--policy", "reject")
    assert attachments(view) == {"a": ("hold", "config"), "c": ("reject", "runtime")}, view
    assert rt.publish("c", "hello c")[0] == 201
    assert rt.bodies("c") == ["hello c [filtered]"]

    rt.cli_json("plugin", "detach", "moody", "--queue", "a")
    assert attachments(rt.plugin("moody")) == {"c": ("reject", "runtime")}
    assert rt.publish("a", "plain a")[0] == 201
    assert rt.bodies("a") == ["plain a"], "a detached queue is not filtered"
    assert rt.log_has("event=plugin.attached", "plugin=moody", "queue=c", "policy=reject")
    assert rt.log_has("event=plugin.detached", "plugin=moody", "queue=a")

    # Bad requests: R1 errors, nothing changes.
    code, _, err = rt.cli("plugin", "attach", "mody", "--queue", "x")
    assert code != 0 and "NOT_FOUND" in err and 'did you mean "moody"' in err, err
    code, _, err = rt.cli("plugin", "attach", "moody", "--queue", "ballast.dead-letter")
    assert code != 0 and "INVALID_ARGUMENT" in err and "broker's own" in err, err
    code, _, err = rt.cli("plugin", "attach", "watched", "--queue", "c")
    assert code != 0 and 'already has the filter "moody"' in err and "ballast plugin detach moody" in err, err
    code, _, err = rt.cli("plugin", "detach", "moody", "--queue", "never")
    assert code != 0 and "is not attached to queue" in err, err
    status, answer = http("POST", f"{rt.daemon.url}/api/v1/plugins/moody/attach", {"queue": "d", "policy": "drop"})
    assert status == 400 and "policy \"drop\"" in answer["error"]["message"], answer
    status, answer = http("POST", f"{rt.daemon.url}/api/v1/plugins/moody/attach", {"queue": 5})
    assert status == 400, answer
    assert attachments(rt.plugin("moody")) == {"c": ("reject", "runtime")}


def check_disable_enable_and_restart(rt):
    view = rt.cli_json("plugin", "disable", "moody")
    assert view["state"] == "disabled", view
    status, answer = rt.publish("c", "while disabled")
    assert status == 503 and answer["error"]["code"] == "PLUGIN_UNAVAILABLE", answer
    assert "moody" in answer["error"]["message"] and "disabled" in answer["error"]["message"], answer
    assert rt.log_has("event=plugin.disabled", "plugin=moody")

    # Everything changed at run time survives a restart.
    rt.daemon.stop()
    rt.daemon.start()
    view = rt.plugin("moody")
    assert view["state"] == "disabled", view
    assert attachments(view) == {"c": ("reject", "runtime")}, view
    assert rt.publish("a", "a after restart")[0] == 201
    assert rt.bodies("a") == ["a after restart"]

    rt.cli_json("plugin", "enable", "moody")
    rt.wait_ready("moody")
    assert rt.publish("c", "enabled again")[0] == 201
    assert rt.bodies("c") == ["enabled again [filtered]"]


def check_reloads_under_load(rt):
    stop = threading.Event()
    results = {"c": [], "b": []}
    lock = threading.Lock()

    def publisher(queue):
        n = 0
        while not stop.is_set() and n < 5000:
            body = f"{queue}-{n}"
            status, answer = rt.publish(queue, body)
            with lock:
                results[queue].append((body, status, answer))
            n += 1

    threads = [threading.Thread(target=publisher, args=(q,)) for q in ("c", "b")]
    for thread in threads:
        thread.start()
    pids = {rt.plugin("moody")["pid"]}
    try:
        for i in range(RELOADS):
            view = rt.cli_json("plugin", "reload", "moody")
            assert view["state"] == "ready", view
            pids.add(view["pid"])
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
    assert len(pids) == RELOADS + 1, f"each reload runs a new process: {sorted(pids)}"
    assert rt.plugin("moody")["reloads"] >= RELOADS
    for queue in ("c", "b"):
        failed = [(body, status, answer) for body, status, answer in results[queue] if status != 201]
        assert not failed, f"{len(failed)} publishes to {queue} failed during reloads, first: {failed[0]}"
    expected_c = {f"{body} [filtered]" for body, _, _ in results["c"]}
    assert set(rt.bodies("c")) == expected_c, "every publish to c during reloads stored once and filtered"
    assert set(rt.bodies("b")) == {body for body, _, _ in results["b"]}
    print(f"{RELOADS} reloads under load: {len(results['c'])} filtered and {len(results['b'])} unfiltered "
          "publishes, all 201")


def check_failed_reloads_keep_the_old_one(rt):
    serving = rt.plugin("moody")["pid"]
    for mode, cause in [("hang", "did not answer the hello within handshake_timeout_ms = 2000 ms"),
                        ("exit", "exited with status 4 before its hello")]:
        rt.set_mode(mode)
        code, _, err = rt.cli("plugin", "reload", "moody")
        assert code != 0 and "PLUGIN_UNAVAILABLE" in err and cause in err, err
        assert f"the running process {serving} keeps serving" in err, err
        view = rt.plugin("moody")
        assert view["state"] == "ready" and view["pid"] == serving, view
        assert rt.publish("c", f"after failed {mode}")[0] == 201
        assert rt.bodies("c") == [f"after failed {mode} [filtered]"]
        assert rt.log_has("event=plugin.reload_failed", "plugin=moody", cause.split(" ")[0])
    rt.set_mode("ok")


def check_watch(rt):
    rt.wait_ready("watched")
    before = rt.plugin("watched")["pid"]
    with open(rt.other_mode_file, "w") as f:
        f.write("ok\n")  # a change of a file in its command: reloaded once it is stable
    assert wait_for(lambda: rt.plugin("watched")["pid"] not in (0, before) and rt.plugin("watched")["state"] == "ready",
                    timeout_s=20, interval_s=0.1), rt.plugin("watched")
    assert rt.log_has("event=plugin.reloading", "plugin=watched", "changed on disk")
    assert rt.log_has("event=plugin.reloaded", "plugin=watched", f"old_pid={before}")


def check_status_surfaces(rt):
    status, health = http("GET", f"{rt.daemon.url}/healthz")
    assert status == 200 and {p["name"]: p["state"] for p in health["plugins"]} == \
        {"moody": "ready", "watched": "ready"}, health
    status, live = http("GET", f"{rt.daemon.url}/api/v1/status")
    assert status == 200 and [p["name"] for p in live["plugins"]] == ["moody", "watched"], live
    rt.cli_json("plugin", "disable", "watched")
    code, out, err = rt.cli("doctor")
    assert "live.plugins.moody" in out and "live.plugins.watched" in out, out + err
    assert "disabled" in out and "ballast plugin enable watched" in out, out
    rt.cli_json("plugin", "enable", "watched")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--ballastd", required=True)
    parser.add_argument("--ballast", required=True)
    args = parser.parse_args()
    with TempDataDir() as data_dir, tempfile.TemporaryDirectory(prefix="ballast-plugins-rt-") as work:
        rt = Runtime(args, data_dir, work)
        rt.daemon.start()
        try:
            for check in (check_attach_detach_and_errors, check_disable_enable_and_restart,
                          check_reloads_under_load, check_failed_reloads_keep_the_old_one, check_watch,
                          check_status_surfaces):
                started = time.monotonic()
                check(rt)
                print(f"ok {check.__name__} ({time.monotonic() - started:.1f} s)")
        except BaseException:
            print("\n".join(rt.daemon.log_lines[-60:]), file=sys.stderr)
            raise
        finally:
            rt.daemon.stop()
    print("e2e_plugins_runtime: all checks passed")


if __name__ == "__main__":
    main()
