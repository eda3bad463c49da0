#!/usr/bin/python3
"""An example Ballast filter plug-in, protocol version 1 (docs/plugins.md). Standard library only.

Ballast starts this program, writes frames to its stdin and reads frames from its stdout; each
frame is a 4-byte big-endian length followed by that many bytes of UTF-8 JSON. Its stderr goes
to the broker's log (event plugin.stderr), so print diagnostics there, never to stdout.

What it does with each message, from the options of its [[plugins]] table:
  reject_word = "viagra"      reject a message whose body contains the word (case-insensitive)
  reroute_header = "x-route"  reroute a message with that header to the queue the header names
  tag = "checked"             add the header x-filter-tag = <tag> (a "modify" verdict)
Anything else is accepted as published.

Configuration:
  [[plugins]]
  name = "example-filter"
  kind = "filter"
  command = ["/usr/bin/python3", "/path/to/examples/plugins/python_filter.py"]
  queues = ["mail.in"]
  options = { reject_word = "viagra", reroute_header = "x-route" }
"""
import base64
import json
import struct
import sys

PROTOCOL = 1
VERSION = "1.0.0"


def read_frame(stream):
    """The next frame as a dict, or None when the broker closed our stdin (time to exit)."""
    header = stream.read(4)
    if len(header) < 4:
        return None
    (length,) = struct.unpack(">I", header)
    payload = stream.read(length)
    if len(payload) < length:
        return None
    return json.loads(payload)


def write_frame(stream, frame):
    data = json.dumps(frame).encode("utf-8")
    stream.write(struct.pack(">I", len(data)) + data)
    stream.flush()


def verdict(frame, options):
    """The verdict frame for one filter call."""
    call_id = frame["id"]
    message = frame["message"]
    body = base64.b64decode(message.get("body_base64", ""))
    headers = message.get("headers", {})
    word = options.get("reject_word", "")
    if word and word.lower().encode("utf-8") in body.lower():
        return {"type": "verdict", "id": call_id, "action": "reject",
                "reason": f"the body contains the word {word!r}"}
    route = headers.get(options.get("reroute_header", ""), "") if options.get("reroute_header") else ""
    if route:
        return {"type": "verdict", "id": call_id, "action": "reroute", "queue": route}
    if options.get("tag"):
        return {"type": "verdict", "id": call_id, "action": "modify",
                "headers": dict(headers, **{"x-filter-tag": options["tag"]})}
    return {"type": "verdict", "id": call_id, "action": "accept"}


def main():
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    hello = read_frame(stdin)
    if hello is None:
        return
    if hello.get("protocol") != PROTOCOL:
        print(f"python_filter: broker speaks protocol {hello.get('protocol')}, I speak {PROTOCOL}",
              file=sys.stderr)
    write_frame(stdout, {"type": "hello", "protocol": PROTOCOL, "name": "python_filter",
                         "version": VERSION, "capabilities": ["filter"]})
    options = hello.get("options", {})
    print(f"python_filter {VERSION} ready for {hello.get('name')} with options {options}",
          file=sys.stderr, flush=True)
    while True:
        frame = read_frame(stdin)
        if frame is None:
            return
        if frame["type"] == "ping":
            write_frame(stdout, {"type": "pong", "id": frame["id"]})
        elif frame["type"] == "filter":
            write_frame(stdout, verdict(frame, options))


if __name__ == "__main__":
    main()
