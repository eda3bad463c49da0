#!/usr/bin/python3
"""A trigger plug-in answering by the message body (for src/plugins/trigger_worker_test.cc):
  ok...       done
  fail...     failed ("told to fail")
  retry...    retry ("told to retry"), always
  flaky-N...  retry until attempt N, then done
"""
import base64
import sys

from plugin_wire import handshake, read_frame, write_frame


def outcome(frame):
    body = base64.b64decode(frame["message"]["body_base64"]).decode()
    attempt = frame["attempt"]
    if body.startswith("ok"):
        return {"result": "done"}
    if body.startswith("fail"):
        return {"result": "failed", "reason": "told to fail"}
    if body.startswith("flaky-"):
        needed = int(body.split("-")[1])
        if attempt >= needed:
            return {"result": "done"}
    return {"result": "retry", "reason": f"told to retry (attempt {attempt})"}


handshake()
while True:
    frame = read_frame()
    if frame is None:
        sys.exit(0)
    if frame["type"] == "ping":
        write_frame({"type": "pong", "id": frame["id"]})
    elif frame["type"] == "trigger":
        write_frame({"type": "outcome", "id": frame["id"], **outcome(frame)})
