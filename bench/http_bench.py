#!/usr/bin/python3
"""End-to-end HTTP benchmark: a real ballastd on 127.0.0.1 (data on the real disk), driven by
keep-alive HTTP clients. Measures publish throughput (single messages and batches of 100,
sync mode `always`) and receive + ack throughput. Prints figures and `http.*=` lines.

Usage: bench/http_bench.py BALLASTD DATA_DIR [--seconds N] [--clients N]
"""
import argparse
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time


def start(ballastd, data_dir):
    process = subprocess.Popen([ballastd, "--data-dir", data_dir, "--http-listen", "127.0.0.1:0"],
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    found = {}
    ready = threading.Event()

    def read():
        for line in process.stdout:
            if "event=server.ready" in line and "address" not in found:
                found["address"] = next(f.split("=", 1)[1] for f in line.split() if f.startswith("http="))
                ready.set()
        ready.set()

    threading.Thread(target=read, daemon=True).start()
    if not ready.wait(30) or "address" not in found:
        process.kill()
        raise SystemExit("http_bench: ballastd did not log server.ready within 30 s")
    return process, found["address"]


class Client:
    def __init__(self, address):
        host, port = address.rsplit(":", 1)
        self.connection = http.client.HTTPConnection(host, int(port), timeout=60)

    def call(self, method, path, body):
        self.connection.request(method, path, body=json.dumps(body), headers={"Content-Type": "application/json"})
        response = self.connection.getresponse()
        data = response.read()
        if response.status >= 300:
            raise RuntimeError(f"{method} {path}: {response.status} {data[:200]!r}")
        return json.loads(data) if data else None


def run_clients(address, clients, seconds, work):
    counts = [0] * clients
    stop = time.monotonic() + seconds

    def loop(index):
        client = Client(address)
        while time.monotonic() < stop:
            counts[index] += work(client)

    threads = [threading.Thread(target=loop, args=(i,)) for i in range(clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) / (time.monotonic() - started)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("ballastd")
    parser.add_argument("data_dir")
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    data_dir = os.path.join(args.data_dir, "http-bench")
    shutil.rmtree(data_dir, ignore_errors=True)
    os.makedirs(data_dir)
    process, address = start(args.ballastd, data_dir)
    try:
        setup = Client(address)
        setup.call("PUT", "/api/v1/queues/bench", {})
        body = "x" * 1024
        single = run_clients(address, args.clients, args.seconds,
                             lambda c: len(c.call("POST", "/api/v1/queues/bench/messages", {"body": body})["messages"]))
        batch = {"messages": [{"body": body}] * 100}
        batched = run_clients(address, args.clients, args.seconds,
                              lambda c: len(c.call("POST", "/api/v1/queues/bench/messages", batch)["messages"]))

        def consume(client):
            got = client.call("POST", "/api/v1/queues/bench/receive", {"max": 100})["messages"]
            if got:
                client.call("POST", "/api/v1/queues/bench/ack", {"receipts": [m["receipt"] for m in got]})
            return len(got)

        consumed = run_clients(address, args.clients, args.seconds, consume)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
        shutil.rmtree(data_dir, ignore_errors=True)
    print(f"http: {args.clients} keep-alive clients, 1 KiB bodies, sync mode always")
    print(f"  publish, 1 message per request     {single:10.0f} messages/s")
    print(f"  publish, 100 messages per request  {batched:10.0f} messages/s")
    print(f"  receive 100 + ack                  {consumed:10.0f} messages/s")
    print(f"http.publish_single_per_second={single:.0f}")
    print(f"http.publish_batch100_per_second={batched:.0f}")
    print(f"http.receive_ack_per_second={consumed:.0f}")


if __name__ == "__main__":
    sys.exit(main())
