#!/usr/bin/python3
"""A plug-in that handshakes, answers pings, and exits with status 3 on every filter or trigger call."""
import sys

from plugin_wire import serve


def crash(frame, options):
    print(f"crash_on_message: crashing on call {frame['id']}", file=sys.stderr, flush=True)
    sys.exit(3)


serve(crash)
