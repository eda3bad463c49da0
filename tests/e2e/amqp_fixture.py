"""An AMQP 0-9-1 broker for end-to-end tests: a real ballastd, or a server that is already running.

`Broker(ballastd=PATH)` starts ballastd on 127.0.0.1 with `--amqp-listen 127.0.0.1:0` in a temporary
data directory and learns both ports from the `event=server.ready` line on its stderr
(`http=127.0.0.1:PORT amqp=127.0.0.1:PORT`). `Broker(server="HOST:PORT")` uses a server that is
already running (for developing the tests against RabbitMQ); it starts and stops nothing.
Every process is stopped by its PID; every wait has a deadline.
"""
import argparse
import os
import shutil
import signal
import subprocess
import sys
import threading

import ballast_fixture as fx

READY_TIMEOUT_S = 30


class AmqpDaemon(fx.Daemon):
    """ballast_fixture.Daemon that also parses the `amqp=` field of the ready line."""

    def __init__(self, ballastd, data_dir, extra_args=()):
        super().__init__(ballastd, data_dir, ["--amqp-listen", "127.0.0.1:0", *extra_args])

    @property
    def amqp_address(self):
        """The first AMQP address of the ready line (several are comma-separated)."""
        addresses = self.ready_fields.get("amqp", "")
        return addresses.split(",")[0] if addresses and addresses != "off" else None

    def start(self, expect_ready=True):
        super().start(expect_ready)
        if expect_ready and self.amqp_address is None:
            self.stop()
            raise AssertionError("ballastd became ready without an amqp= address:\n"
                                 + "\n".join(self.log_lines[-30:]))
        return self


class Broker:
    """Context manager: `with Broker(ballastd=PATH) as b:` or `with Broker(server="127.0.0.1:25672") as b:`.

    Attributes after __enter__: host, port, user, password, url (amqp://guest:guest@host:port/),
    is_ballast (False for an external server), daemon (AmqpDaemon or None).
    """

    def __init__(self, ballastd=None, server=None, extra_args=(), user="guest", password="guest"):
        if (ballastd is None) == (server is None):
            raise ValueError("give exactly one of ballastd= or server=")
        self.ballastd = ballastd
        self.server = server
        self.extra_args = list(extra_args)
        self.user = user
        self.password = password
        self.daemon = None
        self._data = None
        self.host = None
        self.port = None

    @property
    def is_ballast(self):
        return self.ballastd is not None

    @property
    def url(self):
        return f"amqp://{self.user}:{self.password}@{self.host}:{self.port}/"

    def __enter__(self):
        if self.server is not None:
            host, _, port = self.server.rpartition(":")
            self.host, self.port = host or "127.0.0.1", int(port)
            return self
        if not os.path.exists(self.ballastd):
            raise AssertionError(f"ballastd not found at {self.ballastd}")
        self._data = fx.TempDataDir()
        data_dir = self._data.__enter__()
        try:
            self.daemon = AmqpDaemon(self.ballastd, data_dir, self.extra_args).start()
        except BaseException:
            self._data.__exit__(None, None, None)
            raise
        host, _, port = self.daemon.amqp_address.rpartition(":")
        self.host, self.port = host, int(port)
        return self

    def __exit__(self, *exc):
        if self.daemon is not None:
            self.daemon.stop()
            if exc and exc[0] is not None:
                sys.stderr.write("ballastd log tail:\n" + "\n".join(self.daemon.log_lines[-40:]) + "\n")
        if self._data is not None:
            self._data.__exit__(None, None, None)
        return False

    def log_tail(self, n=40):
        return "\n".join(self.daemon.log_lines[-n:]) if self.daemon else ""


def add_broker_args(parser):
    """--ballastd PATH | --server HOST:PORT, and --rabbitmq (skip Ballast-only assertions)."""
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--ballastd", help="path of ballastd to start")
    group.add_argument("--server", help="HOST:PORT of an AMQP server that is already running")
    parser.add_argument("--rabbitmq", action="store_true",
                        help="the server is RabbitMQ: skip Ballast-only assertions")
    return parser


def broker_from_args(args):
    return Broker(ballastd=args.ballastd, server=args.server)


def pika_connection(host, port):
    """A pika BlockingConnection as guest, with bounded timeouts."""
    import pika
    return pika.BlockingConnection(pika.ConnectionParameters(
        host=host, port=int(port), credentials=pika.PlainCredentials("guest", "guest"),
        connection_attempts=1, socket_timeout=10, blocked_connection_timeout=30))


def connect_daemon(daemon):
    """A pika connection to the first AMQP address of a ballast_fixture.Daemon's ready line."""
    host, _, port = daemon.ready_fields["amqp"].split(",")[0].rpartition(":")
    return pika_connection(host, port)


class Skip(Exception):
    """Raised by a check that does not apply (e.g. a Ballast-only check against RabbitMQ)."""


def run_checks(checks, broker, header=""):
    """Runs each check (a function without arguments) against `broker`, printing CHECK, then
    PASS / FAIL (with a short traceback, and the ballastd log if it died) / SKIP, and a summary.
    Returns the process exit status: 1 if any check failed."""
    import time
    import traceback
    passed, failed, skipped = [], [], []
    started = time.monotonic()
    print(f"broker: {broker.url}{header}", flush=True)
    for check in checks:
        name = check.__name__
        print(f"CHECK {name}", flush=True)
        t0 = time.monotonic()
        try:
            check()
        except Skip as why:
            skipped.append(name)
            print(f"SKIP {name}: {why}", flush=True)
        except Exception as error:  # report and keep going
            failed.append(name)
            print(f"FAIL {name}: {type(error).__name__}: {error}", flush=True)
            traceback.print_exc(limit=4, file=sys.stdout)
            if broker.daemon is not None and broker.daemon.process.poll() is not None:
                print("ballastd exited:\n" + broker.log_tail(), flush=True)
        else:
            passed.append(name)
            print(f"PASS {name} ({time.monotonic() - t0:.1f}s)", flush=True)
    print(f"total time {time.monotonic() - started:.1f}s")
    if failed:
        print("failed checks: " + ", ".join(failed))
    print(f"{len(passed)} passed, {len(failed)} failed, {len(skipped)} skipped")
    return 1 if failed else 0


def exit_with(main):
    """Runs a test's main() and exits with its status; an exception outside the checks (the
    broker did not start) is still a clear FAIL with a summary line."""
    try:
        sys.exit(main())
    except Exception as error:
        print(f"FAIL: {type(error).__name__}: {error}", flush=True)
        print("0 passed, 1 failed")
        sys.exit(1)


def require_tool(name):
    """Return the tool's path; a missing tool is a failure (under CI=true and everywhere else)."""
    path = shutil.which(name)
    if path is None:
        raise AssertionError(f"required tool '{name}' is not installed (CI={os.environ.get('CI', '')}). "
                             "Fix: scripts/install-deps")
    return path


def stop_pid(process, timeout_s=10):
    """Stop a subprocess.Popen by its PID: SIGTERM, then SIGKILL after a deadline."""
    if process is None or process.poll() is not None:
        return
    os.kill(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=timeout_s)


if __name__ == "__main__":
    # Smoke use: start ballastd and print its AMQP address until Enter.
    parser = add_broker_args(argparse.ArgumentParser())
    args = parser.parse_args()
    with broker_from_args(args) as broker:
        print(broker.url, flush=True)
