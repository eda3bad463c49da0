"""End-to-end: the Node amqplib client (tests/e2e/node/amqplib_test.js) against the broker.

Run:  /usr/bin/python3 tests/e2e/test_amqp_node.py --ballastd build/src/ballastd
      /usr/bin/python3 tests/e2e/test_amqp_node.py --server 127.0.0.1:25672 --rabbitmq

Starts the broker via amqp_fixture and runs
`node tests/e2e/node/amqplib_test.js amqp://guest:guest@127.0.0.1:PORT/` (amqplib comes from
tests/e2e/node/node_modules). A missing node or amqplib is a failure. Exit 1 on failure.
"""
import argparse
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import amqp_fixture  # noqa: E402

NODE_DIR = os.path.join(HERE, "node")
SCRIPT = os.path.join(NODE_DIR, "amqplib_test.js")
TIMEOUT_S = 90


def main():
    parser = amqp_fixture.add_broker_args(argparse.ArgumentParser(description=__doc__))
    args = parser.parse_args()
    started = time.monotonic()
    print("CHECK node_amqplib", flush=True)
    try:
        node = amqp_fixture.require_tool("node")
        if not os.path.isdir(os.path.join(NODE_DIR, "node_modules", "amqplib")):
            raise AssertionError(f"amqplib is not installed in {NODE_DIR}/node_modules. "
                                 "Fix: scripts/install-deps (npm ci in tests/e2e/node)")
    except AssertionError as error:
        print(f"FAIL node_amqplib: {error}")
        print("0 passed, 1 failed")
        return 1
    failure = None
    with amqp_fixture.broker_from_args(args) as broker:
        url = f"amqp://guest:guest@{broker.host}:{broker.port}/"
        print(f"    - running: node {os.path.relpath(SCRIPT)} {url}", flush=True)
        proc = subprocess.Popen([node, SCRIPT, url], cwd=NODE_DIR, stdin=subprocess.DEVNULL)
        try:
            code = proc.wait(timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            code = None
            failure = f"node did not finish within {TIMEOUT_S}s"
        finally:
            amqp_fixture.stop_pid(proc)
        if failure is None and code != 0:
            failure = f"node exited with code {code}"
        if failure and broker.daemon is not None:
            print("ballastd log tail:\n" + broker.log_tail(), flush=True)
    if failure:
        print(f"FAIL node_amqplib: {failure} ({time.monotonic() - started:.1f}s)")
        print("0 passed, 1 failed")
        return 1
    print(f"PASS node_amqplib ({time.monotonic() - started:.1f}s)")
    print("1 passed, 0 failed")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as error:  # e.g. the broker did not start: still a clear FAIL and summary
        print(f"FAIL: {type(error).__name__}: {error}", flush=True)
        print("0 passed, 1 failed")
        sys.exit(1)
