#!/usr/bin/python3
"""A filter plug-in for tests whose behaviour is read from a file at every start.

Usage: moody_filter.py MODE_FILE. The file holds one word:
  ok       answer every call: reject a body starting with "reject", reroute one starting with
           "spam" to queue "spam", append " [filtered]" to the body of the rest
  hang     never answer the handshake
  crash    handshake, then exit with status 3 on the first message
  slow     handshake and pings fine, but answer each message after 3 s
  garbage  handshake, then answer the first message with bytes that are not a frame
  exit     read the hello, then exit with status 4 without answering it
Standard library only, protocol version 1 (docs/plugins.md).
"""
import base64
import json
import struct
import sys
import threading
import time


def read_frame(stream):
    header = stream.read(4)
    if len(header) < 4:
        return None
    (length,) = struct.unpack(">I", header)
    return json.loads(stream.read(length))


write_lock = threading.Lock()


def write_frame(obj):
    data = json.dumps(obj).encode()
    with write_lock:
        sys.stdout.buffer.write(struct.pack(">I", len(data)) + data)
        sys.stdout.buffer.flush()


def verdict(call):
    body = base64.b64decode(call["message"]["body_base64"])
    if body.startswith(b"reject"):
        return {"type": "verdict", "id": call["id"], "action": "reject", "reason": "the body starts with reject"}
    if body.startswith(b"spam"):
        return {"type": "verdict", "id": call["id"], "action": "reroute", "queue": "spam"}
    return {"type": "verdict", "id": call["id"], "action": "modify",
            "body_base64": base64.b64encode(body + b" [filtered]").decode()}


def main():
    with open(sys.argv[1]) as f:
        mode = f.read().strip()
    print(f"moody_filter starting in mode {mode}", file=sys.stderr, flush=True)
    stdin = sys.stdin.buffer
    if read_frame(stdin) is None:
        return 1
    if mode == "hang":
        time.sleep(3600)
        return 0
    if mode == "exit":
        print("moody_filter exiting before its hello on purpose", file=sys.stderr, flush=True)
        return 4
    write_frame({"type": "hello", "protocol": 1, "name": "moody", "version": "1.0", "capabilities": ["filter"]})
    while True:
        frame = read_frame(stdin)
        if frame is None:
            return 0
        if frame["type"] == "ping":
            write_frame({"type": "pong", "id": frame["id"]})
        elif frame["type"] == "filter":
            if mode == "crash":
                print("moody_filter crashing on purpose", file=sys.stderr, flush=True)
                return 3
            if mode == "garbage":
                sys.stdout.buffer.write(b"\xff\xff\xff\xffnot a frame")
                sys.stdout.buffer.flush()
                time.sleep(3600)
            if mode == "slow":
                threading.Timer(3.0, write_frame, args=(verdict(frame),)).start()
                continue
            write_frame(verdict(frame))


if __name__ == "__main__":
    sys.exit(main())
