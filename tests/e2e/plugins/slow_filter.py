#!/usr/bin/python3
"""A plug-in that accepts every message, but only after options["delay_ms"] (default 2000) ms."""
import time

from plugin_wire import serve, write_frame


def slow_accept(frame, options):
    time.sleep(int(options.get("delay_ms", "2000")) / 1000.0)
    write_frame({"type": "verdict", "id": frame["id"], "action": "accept"})


serve(slow_accept)
