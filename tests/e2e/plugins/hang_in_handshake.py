#!/usr/bin/python3
"""A plug-in that reads the broker's hello and never answers it (tests: handshake deadline)."""
import sys
import time

from plugin_wire import read_frame

read_frame()
print("hang_in_handshake: got the hello, not answering", file=sys.stderr, flush=True)
for _ in range(3600):
    time.sleep(1)
