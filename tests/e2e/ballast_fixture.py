"""Starts and stops a real ballastd for end-to-end tests.

Every daemon binds 127.0.0.1 on a port the kernel picks (port 0) and a temporary data
directory; the test learns the real address from the `server.ready` event on stderr. Every
process started here is stopped by its PID. Waits are bounded by deadlines, never bare sleeps.
"""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request

READY_TIMEOUT_S = 30


class Daemon:
    def __init__(self, ballastd, data_dir, extra_args=(), prefix=(), env=None):
        """`prefix` runs ballastd through another command (setpriv, to drop root); `env` adds
        environment variables (BALLAST_* configuration)."""
        self.ballastd = ballastd
        self.data_dir = data_dir
        self.extra_args = list(extra_args)
        self.prefix = list(prefix)
        self.env = dict(os.environ, **(env or {}))
        self.process = None
        self.address = None
        self.ready_fields = {}  # key=value fields of the server.ready line (http=, amqp=, ...)
        self.log_lines = []
        self._reader = None

    def start(self, expect_ready=True):
        # A restart learns its new address from its own server.ready line.
        self.address = None
        self.ready_fields = {}
        self.process = subprocess.Popen(
            [*self.prefix, self.ballastd, "--data-dir", self.data_dir,
             # HTTP and AMQP on ports the kernel picks, unless the test asks for its own listeners.
             *([] if "--http-listen" in self.extra_args else ["--http-listen", "127.0.0.1:0"]),
             *([] if "--amqp-listen" in self.extra_args else ["--amqp-listen", "127.0.0.1:0"]),
             *self.extra_args],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=self.env)
        ready = threading.Event()

        def read():
            for line in self.process.stdout:
                self.log_lines.append(line.rstrip("\n"))
                if "event=server.ready" in line and self.address is None:
                    for field in line.split():
                        key, _, value = field.partition("=")
                        self.ready_fields[key] = value
                    self.address = self.ready_fields.get("http")
                    ready.set()
            ready.set()

        self._reader = threading.Thread(target=read, daemon=True)
        self._reader.start()
        if expect_ready:
            if not ready.wait(READY_TIMEOUT_S) or self.address is None:
                self.stop()
                raise AssertionError("ballastd did not become ready:\n" + "\n".join(self.log_lines[-30:]))
        return self

    @property
    def url(self):
        return f"http://{self.address}"

    def logged(self, *fragments):
        """The log lines so far that contain every fragment."""
        return [line for line in list(self.log_lines) if all(fragment in line for fragment in fragments)]

    def log_tail(self, count=60):
        return "\n".join(self.log_lines[-count:])

    def wait_exit(self, timeout_s=30):
        code = self.process.wait(timeout=timeout_s)
        self._reader.join(timeout=5)
        return code

    def kill9(self):
        if self.process and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
        if self._reader:
            self._reader.join(timeout=5)

    def stop(self):
        if self.process and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=30)
        if self._reader:
            self._reader.join(timeout=5)


class TempDataDir:
    def __enter__(self):
        self.path = tempfile.mkdtemp(prefix="ballast-e2e-")
        return self.path

    def __exit__(self, *exc):
        shutil.rmtree(self.path, ignore_errors=True)


def http(method, url, body=None, timeout_s=30):
    """One HTTP request with urllib; returns (status, parsed JSON or None)."""
    data = None
    headers = {}
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            text = response.read()
            return response.status, (json.loads(text) if text else None)
    except urllib.error.HTTPError as error:
        text = error.read()
        try:
            return error.code, json.loads(text)
        except ValueError:
            return error.code, None


def curl(method, url, body=None):
    """One request with the real curl binary; returns (status, parsed JSON or None)."""
    if shutil.which("curl") is None:
        raise AssertionError("curl is not installed. Fix: scripts/install-deps")
    command = ["curl", "-sS", "-X", method, "-o", "-", "-w", "\n%{http_code}", url]
    if body is not None:
        command += ["-H", "Content-Type: application/json", "--data-binary", json.dumps(body)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)
    text, _, status = result.stdout.rpartition("\n")
    return int(status), (json.loads(text) if text.strip() else None)


def wait_for(condition, timeout_s=10, interval_s=0.02):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval_s)
    return condition()
