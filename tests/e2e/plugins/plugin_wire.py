"""Protocol v1 framing for the misbehaving test plug-ins (docs/plugins.md, "Frames").

Each frame is a 4-byte big-endian length and that many bytes of UTF-8 JSON. Standard library only.
"""
import json
import struct
import sys

IN = sys.stdin.buffer
OUT = sys.stdout.buffer


def read_frame():
    """The next frame as a dict, or None at end of input."""
    header = IN.read(4)
    if len(header) < 4:
        return None
    (length,) = struct.unpack(">I", header)
    payload = IN.read(length)
    if len(payload) < length:
        return None
    return json.loads(payload)


def write_frame(frame):
    data = json.dumps(frame).encode("utf-8")
    OUT.write(struct.pack(">I", len(data)) + data)
    OUT.flush()


def handshake(version="test"):
    """Reads the broker's hello and answers it; returns the broker's hello."""
    hello = read_frame()
    if hello is None:
        sys.exit(0)
    write_frame({"type": "hello", "protocol": 1, "name": hello.get("name", "test"),
                 "version": version, "capabilities": [hello.get("kind", "filter")]})
    return hello


def serve(on_filter):
    """Answers pings and hands each filter (or trigger) frame to on_filter(frame, options) until EOF."""
    hello = handshake()
    options = hello.get("options", {})
    while True:
        frame = read_frame()
        if frame is None:
            return
        if frame["type"] == "ping":
            write_frame({"type": "pong", "id": frame["id"]})
        elif frame["type"] in ("filter", "trigger"):
            on_filter(frame, options)
