"""End-to-end: ballastd with [[plugins]] tables (docs/plugins.md) starts and supervises them.

A real ballastd gets four filter plug-ins: the example filter (examples/plugins/python_filter.py),
one that crashes on every message, one that hangs in its handshake, and one whose executable does
not exist. The broker must become ready whatever they do (R5), log each plug-in's events with its
name and cause (plugin.ready, plugin.start_failed naming the path and the user,
plugin.handshake_failed, plugin.restarting, plugin.stderr), keep serving an unfiltered queue over
HTTP, and on SIGTERM stop every plug-in process (plugin.stopped) and exit 0 with none left.
A plug-in with cgroup_* keys runs in its own cgroup ballast-plugin-<name>, gone once it is stopped.

Filtering itself through HTTP and AMQP publishers is tested once the broker side is merged.
"""
import argparse
import os
import re
import sys
import tempfile
import unittest

import ballast_fixture as fx

ARGS = None
HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.dirname(os.path.dirname(HERE))
EXAMPLE = os.path.join(SOURCE_DIR, "examples", "plugins", "python_filter.py")
TEST_PLUGINS = os.path.join(HERE, "plugins")
MISSING = "/nonexistent/ballast-e2e/filter"

CONFIG = f"""
[[plugins]]
name = "example"
kind = "filter"
command = ["/usr/bin/python3", "{EXAMPLE}"]
queues = ["mail.in"]
policy = "reject"
ping_interval_ms = 200
options = {{ reject_word = "viagra" }}

[[plugins]]
name = "hang"
kind = "filter"
command = ["/usr/bin/python3", "{TEST_PLUGINS}/hang_in_handshake.py"]
queues = ["hang.q"]
handshake_timeout_ms = 300

[[plugins]]
name = "ghost"
kind = "filter"
command = ["{MISSING}"]
queues = ["ghost.q"]
policy = "bypass"
"""


def process_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone for our purposes only once reaped by ballastd: check its state.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ")[1][0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


class PluginsInBallastd(unittest.TestCase):
    def test_plugins_are_started_supervised_and_stopped_with_the_broker(self):
        with fx.TempDataDir() as data_dir, tempfile.TemporaryDirectory(prefix="ballast-e2e-conf-") as conf_dir:
            config = os.path.join(conf_dir, "ballast.toml")
            with open(config, "w") as out:
                out.write(CONFIG)
            daemon = fx.Daemon(ARGS.ballastd, data_dir, extra_args=["--config", config]).start()
            try:
                self.assertEqual(daemon.ready_fields.get("plugins"), "3", daemon.ready_fields)

                def logged(*fragments, count=1):
                    return sum(all(f in line for f in fragments) for line in list(daemon.log_lines)) >= count

                self.assertTrue(fx.wait_for(lambda: logged("event=plugin.ready", "plugin=example", "version=1.0.0"),
                                            timeout_s=20), "\n".join(daemon.log_lines))
                self.assertTrue(fx.wait_for(lambda: logged("event=plugin.stderr", "plugin=example", "ready for example"),
                                            timeout_s=10), "\n".join(daemon.log_lines))
                self.assertTrue(fx.wait_for(lambda: logged("event=plugin.start_failed", "plugin=ghost", MISSING,
                                                           "uid ", "code=PLUGIN_UNAVAILABLE"), timeout_s=10),
                                "\n".join(daemon.log_lines))
                self.assertTrue(fx.wait_for(lambda: logged("event=plugin.handshake_failed", "plugin=hang",
                                                           "handshake_timeout_ms = 300"), timeout_s=20),
                                "\n".join(daemon.log_lines))
                self.assertTrue(fx.wait_for(lambda: logged("event=plugin.restarting", "plugin=hang", count=2),
                                            timeout_s=20), "\n".join(daemon.log_lines))

                # The broker serves a queue no plug-in filters, whatever the plug-ins do.
                status, _ = fx.http("PUT", f"{daemon.url}/api/v1/queues/plain", {})
                self.assertIn(status, (200, 201))
                status, body = fx.http("POST", f"{daemon.url}/api/v1/queues/plain/messages",
                                       {"messages": [{"body": "hello"}]})
                self.assertEqual(status, 201, body)

                pids = {int(m.group(1)) for line in list(daemon.log_lines)
                        if "event=plugin.started" in line for m in [re.search(r"\bpid=(\d+)", line)] if m}
                self.assertTrue(pids)
            finally:
                daemon.stop()
            self.assertEqual(daemon.process.returncode, 0, "\n".join(daemon.log_lines[-30:]))
            for name in ("example", "hang", "ghost"):
                self.assertTrue(any("event=plugin.stopped" in line and f"plugin={name}" in line
                                    for line in daemon.log_lines), name)
            self.assertEqual([pid for pid in pids if process_alive(pid)], [])

    def test_a_plugin_with_cgroup_keys_runs_in_its_own_cgroup_removed_when_it_stops(self):
        # Real cgroups (root, a writable cgroup mount): without them the start fails and so does the test.
        name = f"e2e-cgroup-{os.getpid()}"
        config_text = f"""
[[plugins]]
name = "{name}"
kind = "filter"
command = ["/usr/bin/python3", "{EXAMPLE}"]
queues = ["mail.in"]
cgroup_pids_max = 16
cgroup_memory_max_bytes = 268435456
"""
        with fx.TempDataDir() as data_dir, tempfile.TemporaryDirectory(prefix="ballast-e2e-conf-") as conf_dir:
            config = os.path.join(conf_dir, "ballast.toml")
            with open(config, "w") as out:
                out.write(config_text)
            daemon = fx.Daemon(ARGS.ballastd, data_dir, extra_args=["--config", config]).start()
            try:
                self.assertTrue(fx.wait_for(lambda: any("event=plugin.ready" in line and f"plugin={name}" in line
                                                        for line in list(daemon.log_lines)), timeout_s=20),
                                "\n".join(daemon.log_lines))
                pid = next(int(m.group(1)) for line in list(daemon.log_lines)
                           if "event=plugin.started" in line for m in [re.search(r"\bpid=(\d+)", line)] if m)
                with open(f"/proc/{pid}/cgroup") as lines:
                    places = [line.strip().split(":", 2) for line in lines if line.strip()]
                directories = [path for _, controllers, path in places
                               if path.endswith(f"/ballast-plugin-{name}")
                               and (controllers in ("", "pids", "memory"))]
                self.assertGreaterEqual(len(directories), 1, places)
                mounts = [f"/sys/fs/cgroup{path}" if controllers == "" else f"/sys/fs/cgroup/{controllers}{path}"
                          for _, controllers, path in places if path.endswith(f"/ballast-plugin-{name}")]
                self.assertTrue(all(os.path.isdir(directory) for directory in mounts), mounts)
            finally:
                daemon.stop()
            self.assertEqual(daemon.process.returncode, 0, "\n".join(daemon.log_lines[-30:]))
            self.assertEqual([directory for directory in mounts if os.path.exists(directory)], [])


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--ballastd", required=True)
    ARGS, rest = parser.parse_known_args()
    unittest.main(argv=[sys.argv[0], *rest], verbosity=2)
