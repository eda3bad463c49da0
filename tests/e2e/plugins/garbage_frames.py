#!/usr/bin/python3
"""A plug-in that handshakes, then answers a filter call with bytes that are not a frame.

options["garbage"]: "json" (a frame whose payload is not JSON, the default) or "length" (a length
over the 64 MiB cap).
"""
import struct

from plugin_wire import OUT, serve


def garbage(frame, options):
    if options.get("garbage", "json") == "length":
        OUT.write(struct.pack(">I", 0xFFFFFFF0) + b"\x00garbage")
    else:
        payload = b"\xff\xfeNOT JSON {"
        OUT.write(struct.pack(">I", len(payload)) + payload)
    OUT.flush()


serve(garbage)
