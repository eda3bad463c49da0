"""End-to-end: a Celery-style task queue on the broker with python3-kombu, surviving a worker kill -9.

Run:  /usr/bin/python3 tests/e2e/test_amqp_kombu.py --ballastd build/src/ballastd
      /usr/bin/python3 tests/e2e/test_amqp_kombu.py --server 127.0.0.1:25672 --rabbitmq

1. Publish 10,000 persistent JSON tasks (Celery-like headers) to a durable queue, the first 200 with
   publisher confirms, and wait until the queue reports all 10,000.
2. Start a worker subprocess (this file with --worker): prefetch 50; per task it appends
   "<task-id> <redelivered>" to a file, flushes, then acks.
3. When the file has >= 5,000 lines, SIGKILL the worker (by PID).
4. Start a second worker; it drains the rest and exits after 3 s idle.
5. Assert every task id was processed, every id processed more than once was redelivered
   (redelivered=True) on each later delivery, worker 1 never saw redelivered=True, and the queue is empty.
"""
import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import amqp_fixture  # noqa: E402

try:
    from kombu import Connection, Consumer, Exchange, Producer, Queue
except ImportError as error:  # a missing client library is a failure, never a silent skip
    print(f"FAIL: python3-kombu is not importable ({error}). Fix: apt-get install python3-kombu")
    print("0 passed, 1 failed")
    sys.exit(1)

TASKS = 10_000
CONFIRMED = 200
PREFETCH = 50
KILL_AT_LINES = 5_000
WORKER_IDLE_EXIT_S = 3
DEADLINE_S = 60


def task_queue(name):
    exchange = Exchange(name, type="direct", durable=True)
    return Queue(name, exchange, routing_key=name, durable=True)


def worker_main(url, queue_name, out_path, delay_s):
    """Consume tasks; record '<id> <redelivered>' per task (flushed), then ack. Exit after idle."""
    queue = task_queue(queue_name)
    with Connection(url, connect_timeout=10) as conn, open(out_path, "a", buffering=1) as out:
        channel = conn.channel()

        def on_task(body, message):
            task_id = message.headers.get("id") or body["id"]
            assert body["id"] == task_id, (body, message.headers)
            redelivered = bool(message.delivery_info.get("redelivered"))
            out.write(f"{task_id} {int(redelivered)}\n")
            out.flush()
            if delay_s:
                time.sleep(delay_s)  # simulated work per task
            message.ack()

        consumer = Consumer(channel, queues=[queue], callbacks=[on_task], accept=["json"])
        consumer.qos(prefetch_count=PREFETCH)
        consumer.consume()
        deadline = time.monotonic() + 120  # bounded even if the broker keeps feeding us
        while time.monotonic() < deadline:
            try:
                conn.drain_events(timeout=WORKER_IDLE_EXIT_S)
            except socket.timeout:
                return 0  # idle: the queue is drained
        return 0


def publish_tasks(producer, queue, ids, first_index):
    for i, task_id in enumerate(ids, first_index):
        producer.publish(
            {"id": task_id, "task": "tasks.add", "args": [i, i], "kwargs": {}},
            exchange=queue.exchange, routing_key=queue.routing_key, serializer="json",
            delivery_mode=2, headers={"id": task_id, "task": "tasks.add", "lang": "py"}, retry=False)


def count_lines(path):
    try:
        with open(path, "rb") as f:
            return sum(1 for _ in f)
    except FileNotFoundError:
        return 0


def wait_for(condition, timeout_s, what):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.01)
    if not condition():
        raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")


def start_worker(url, queue_name, out_path, delay_s):
    return subprocess.Popen(
        [sys.executable, os.path.abspath(__file__), "--worker", "--url", url, "--queue", queue_name,
         "--out", out_path, "--delay", str(delay_s)],
        stdin=subprocess.DEVNULL)


def run(broker, failures):
    url = broker.url
    queue_name = f"e2e.celery.{uuid.uuid4().hex[:10]}"
    queue = task_queue(queue_name)
    ids = [f"task-{i:05d}-{uuid.uuid4().hex[:8]}" for i in range(TASKS)]
    tmp = tempfile.mkdtemp(prefix="ballast-kombu-")
    out_path = os.path.join(tmp, "processed.txt")
    workers = []
    try:
        t0 = time.monotonic()
        # The first CONFIRMED tasks go through a confirm channel (each publish waits for the broker's
        # ack); the rest are published like Celery does by default, without confirms, and the test
        # then waits (with a deadline) until the queue holds them all.
        with Connection(url, transport_options={"confirm_publish": True}, connect_timeout=10) as conn:
            producer = Producer(conn.channel())
            queue(producer.channel).declare()
            publish_tasks(producer, queue, ids[:CONFIRMED], 0)
        with Connection(url, connect_timeout=10) as conn:
            producer = Producer(conn.channel())
            publish_tasks(producer, queue, ids[CONFIRMED:], CONFIRMED)
            channel = conn.channel()
            counts = []

            def all_enqueued():
                counts.append(queue(channel).queue_declare(passive=True))
                return counts[-1][1] >= TASKS
            try:
                wait_for(all_enqueued, DEADLINE_S, f"{TASKS} messages in the queue")
            except AssertionError as error:
                failures.append(f"{error}; last declare-ok: {counts[-1]}")
            _name, count, consumers = counts[-1]
        print(f"    - published {TASKS} persistent tasks ({CONFIRMED} with confirms) in "
              f"{time.monotonic() - t0:.1f}s; queue {queue_name} reports {count} messages, {consumers} consumers",
              flush=True)
        if count != TASKS:
            failures.append(f"queue should hold {TASKS} messages after publishing, has {count}")

        w1 = start_worker(url, queue_name, out_path, 0.0005)
        workers.append(w1)
        wait_for(lambda: count_lines(out_path) >= KILL_AT_LINES or w1.poll() is not None, DEADLINE_S,
                 f"worker 1 to process {KILL_AT_LINES} tasks")
        if w1.poll() is not None:
            raise AssertionError(f"worker 1 exited (code {w1.returncode}) before it was killed; "
                                 f"{count_lines(out_path)} lines")
        os.kill(w1.pid, signal.SIGKILL)
        w1.wait(timeout=10)
        killed_at = count_lines(out_path)
        print(f"    - SIGKILLed worker 1 (pid {w1.pid}) after {killed_at} processed lines", flush=True)
        if killed_at >= TASKS:
            failures.append(f"worker 1 processed everything ({killed_at}) before the kill; the kill tested nothing")

        w2 = start_worker(url, queue_name, out_path, 0)
        workers.append(w2)
        try:
            code = w2.wait(timeout=DEADLINE_S)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"worker 2 did not drain the queue within {DEADLINE_S}s")
        if code != 0:
            failures.append(f"worker 2 exited with code {code}")
        print(f"    - worker 2 (pid {w2.pid}) drained the queue and exited {code}", flush=True)

        lines = open(out_path).read().splitlines()
        seen = {}
        for n, line in enumerate(lines):
            task_id, redelivered = line.split()
            seen.setdefault(task_id, []).append((n, redelivered == "1"))
        missing = set(ids) - set(seen)
        unknown = set(seen) - set(ids)
        if missing:
            failures.append(f"{len(missing)} task ids never processed, e.g. {sorted(missing)[:5]}")
        if unknown:
            failures.append(f"{len(unknown)} unknown task ids processed, e.g. {sorted(unknown)[:5]}")
        dups = {t: d for t, d in seen.items() if len(d) > 1}
        bad_dups = [t for t, d in dups.items() if not all(r for _n, r in d[1:])]
        if bad_dups:
            failures.append(f"{len(bad_dups)} duplicates delivered again without redelivered=True, "
                            f"e.g. {[(t, dups[t]) for t in bad_dups[:3]]}")
        w1_redelivered = [line for line in lines[:killed_at] if line.endswith(" 1")]
        if w1_redelivered:
            failures.append(f"worker 1 saw redelivered=True on fresh tasks: {w1_redelivered[:3]}")
        redelivered_lines = sum(1 for line in lines[killed_at:] if line.endswith(" 1"))
        print(f"    - {len(lines)} lines, {len(seen)} distinct ids of {TASKS}; {len(dups)} processed twice, "
              f"all re-deliveries flagged redelivered={not bad_dups}; worker 2 saw {redelivered_lines} "
              f"redelivered tasks (1..{PREFETCH} expected)", flush=True)
        if redelivered_lines > PREFETCH:
            failures.append(f"worker 2 saw {redelivered_lines} redelivered tasks, more than the prefetch "
                            f"window {PREFETCH} that worker 1 could hold unacked")
        if redelivered_lines == 0:
            failures.append("worker 2 saw no redelivered task, but worker 1 held unacked deliveries when killed")

        with Connection(url, connect_timeout=10) as conn:
            channel = conn.channel()
            _name, count, consumers = queue(channel).queue_declare(passive=True)
            print(f"    - queue afterwards: {count} messages, {consumers} consumers", flush=True)
            if (count, consumers) != (0, 0):
                failures.append(f"queue should be empty and unconsumed at the end, has {count} messages, "
                                f"{consumers} consumers")
            queue(channel).delete()
    finally:
        for w in workers:
            amqp_fixture.stop_pid(w)
        try:
            os.remove(out_path)
        except FileNotFoundError:
            pass
        os.rmdir(tmp)


def main():
    if "--worker" in sys.argv:
        parser = argparse.ArgumentParser()
        parser.add_argument("--worker", action="store_true")
        parser.add_argument("--url", required=True)
        parser.add_argument("--queue", required=True)
        parser.add_argument("--out", required=True)
        parser.add_argument("--delay", type=float, default=0)
        args = parser.parse_args()
        return worker_main(args.url, args.queue, args.out, args.delay)

    parser = amqp_fixture.add_broker_args(argparse.ArgumentParser(description=__doc__))
    args = parser.parse_args()
    failures = []
    started = time.monotonic()
    print("CHECK kombu_celery_style_worker_survives_kill9", flush=True)
    with amqp_fixture.broker_from_args(args) as broker:
        print(f"broker: {broker.url}", flush=True)
        try:
            run(broker, failures)
        except Exception as error:
            failures.append(f"{type(error).__name__}: {error}")
    for failure in failures:
        print(f"FAIL: {failure}", flush=True)
    print(f"{'FAIL' if failures else 'PASS'} kombu_celery_style_worker_survives_kill9 "
          f"({time.monotonic() - started:.1f}s)")
    print(f"{0 if failures else 1} passed, {1 if failures else 0} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    amqp_fixture.exit_with(main)
