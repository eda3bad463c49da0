#!/usr/bin/env python3
"""Writes the seed corpus of the fuzz targets into tests/fuzz/corpus/<target>/.

Each seed is a small, valid input in the real format: journal segments and records
(docs/formats/journal.md), HTTP/1.1 requests of the API (docs/http-api.md), configuration files
(docs/configuration.md) and AMQP 0-9-1 client byte streams encoded from the spec in
src/protocol/amqp091/spec. The fuzz targets check the invariants on every seed, so a seed that
stops matching the format shows up in `ctest -R fuzz`. Deterministic: rerunning it rewrites
the same bytes. Usage: tests/fuzz/make_seeds.py [corpus-dir]
"""

import json
import pathlib
import struct
import sys

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parent.parent
SPEC = REPO / "src/protocol/amqp091/spec/amqp-rabbitmq-0.9.1.json"


def crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


# --- journal (little-endian; docs/formats/journal.md) ---------------------------------------

def u8(v): return struct.pack("<B", v)
def u16(v): return struct.pack("<H", v)
def u32(v): return struct.pack("<I", v)
def u64(v): return struct.pack("<Q", v)
def i64(v): return struct.pack("<q", v)
def lstr(s): s = s.encode() if isinstance(s, str) else s; return u32(len(s)) + s


def segment_header(segment_id, first_seq):
    head = b"BLSTSEG1" + u32(1) + u32(64) + u64(segment_id) + u32(segment_id & 0xFFFFFFFF) + u32(0) + u64(first_seq)
    head = head.ljust(60, b"\0")
    return head + u32(crc32c(head))


def record(rtype, seq, payload, generation=1, flags=0):
    covered = u32(len(payload)) + u16(rtype) + u16(flags) + u32(generation) + u64(seq) + payload
    return u32(crc32c(covered)) + covered


def settings(max_length=None, dead_letter_queue="ballast.dead-letter"):
    def opt(tag, value):
        return u16(tag) + (u8(0) if value is None else u8(1) + u64(value))
    out = u32(14)
    out += opt(1, max_length) + opt(2, None) + u16(3) + u8(1) + u64(0) + opt(4, 60) + opt(5, 5)
    out += u16(6) + u8(3) + lstr(dead_letter_queue) + u16(7) + u8(2) + u8(0)
    out += u16(8) + u8(1) + u64(0) + u16(9) + u8(1) + u64(30) + u16(10) + u8(3) + lstr("")
    out += opt(11, None) + u16(12) + u8(2) + u8(1) + u16(13) + u8(2) + u8(0) + opt(14, None)
    return out


def properties(headers=(), amqp=b""):
    out = lstr("application/json") + lstr("corr-1") + lstr("replies") + u8(0) + u32(len(headers))
    for name, value in headers:
        out += lstr(name) + lstr(value)
    return out + lstr(amqp) + lstr("amq.direct" if amqp else "") + lstr("jobs" if amqp else "")


def message(queue_id=1, body=b'{"job": 42}', props=None):
    props = properties([("x-tenant", "acme")]) if props is None else props
    return (u64(queue_id) + lstr("msg-1") + u8(0) + u8(0) + u32(0) + i64(1_800_000_000_000) + i64(0)
            + i64(0) + u8(1) + lstr(props) + lstr(body))


def exchanges():
    out = u8(1) + u32(2)
    out += lstr("amq.topic") + u8(3) + u8(1) + u32(1) + lstr("jobs") + lstr("jobs.#") + u32(0)
    out += lstr("routes") + u8(4) + u8(1) + u32(1) + lstr("jobs") + lstr("") + u32(2)
    out += lstr("x-match") + lstr("any") + lstr("tenant") + lstr("acme")
    return out


def journal_seeds():
    created = u64(1) + lstr("/") + lstr("jobs") + settings(max_length=1000)
    appended = message()
    settled = u64(1) + u64(7) + u8(1)
    returned = u64(1) + u64(7) + u32(2)
    moved = u64(7) + message(queue_id=2)
    changed = u64(1) + settings(dead_letter_queue="jobs.dead")
    seg = segment_header(1, 1)
    group = (record(1, 1, created) + record(4, 2, appended, flags=2) + record(4, 3, message(body=b"x"))
             + record(5, 4, settled) + record(6, 5, returned))
    amqp_props = bytes([0x80, 0x00]) + bytes([16]) + b"application/json"
    return {
        "segment_queue_lifecycle": seg + group,
        "segment_torn_tail": seg + group + record(7, 6, moved)[:-5],
        "segment_zero_tail": seg + record(1, 1, created) + b"\0" * 96,
        "segment_seq_gap": seg + record(1, 1, created) + record(3, 9, u64(1)),
        "record_queue_created": record(1, 1, created),
        "record_queue_changed": record(2, 1, changed),
        "record_queue_deleted": record(3, 1, u64(1)),
        "record_message_appended": record(4, 1, appended),
        "record_message_amqp": record(4, 1, message(props=properties(amqp=amqp_props))),
        "record_message_settled": record(5, 1, settled),
        "record_message_returned": record(6, 1, returned),
        "record_message_moved": record(7, 1, moved),
        "record_exchanges_changed": record(9, 1, exchanges()),
        "record_unknown_ignorable": record(200, 1, b"future", flags=1),
    }


# --- HTTP ------------------------------------------------------------------------------------

def http(method, target, body=None, extra=""):
    head = f"{method} {target} HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n{extra}"
    if body is None:
        return (head + "\r\n").encode()
    data = body.encode()
    return (head + f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n").encode() + data


def chunked(method, target, body):
    data = body.encode()
    head = (f"{method} {target} HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n"
            "Content-Type: application/json\r\n\r\n").encode()
    return head + b"%x\r\n" % len(data) + data + b"\r\n0\r\n\r\n"


def http_seeds():
    q = "/api/v1/queues/jobs"
    settings_json = json.dumps({"max_length": 1000, "overflow": "drop-head", "message_ttl_seconds": 60,
                                "delivery_limit": 5, "dead_letter_queue": "jobs.dead",
                                "dedup_window_seconds": 60, "default_visibility_timeout_seconds": 30})
    publish = json.dumps({"messages": [
        {"body": "hello", "headers": {"tenant": "acme"}, "content_type": "text/plain", "priority": 3,
         "id": "m-1", "correlation_id": "c-1", "reply_to": "answers"},
        {"body": "aGVsbG8=", "encoding": "base64", "delay_seconds": 5, "ttl_seconds": 60}]})
    return {
        "healthz": http("GET", "/healthz"),
        "readyz": http("GET", "/readyz"),
        "stats": http("GET", "/api/v1/stats"),
        "list_queues": http("GET", "/api/v1/queues"),
        "create_queue": http("PUT", q, settings_json),
        "create_publish_peek": http("PUT", q, "{}") + http("POST", q + "/messages", '{"body": "hello"}')
        + http("GET", q + "/messages?max=5"),
        "publish_batch": http("PUT", q, "") + http("POST", q + "/messages", publish),
        "receive_ack": http("PUT", q, "") + http("POST", q + "/messages", '{"body": "x"}')
        + http("POST", q + "/receive", '{"max": 5, "visibility_timeout_seconds": 10}')
        + http("POST", q + "/ack", '{"receipts": ["r-1"]}'),
        "nack_extend": http("POST", q + "/nack", '{"receipts": ["r-1"], "requeue": false}')
        + http("POST", q + "/extend", '{"receipts": ["r-1"], "visibility_timeout_seconds": 60}'),
        "long_poll": http("POST", q + "/receive", '{"max": 1, "wait_seconds": 20}'),
        "purge_delete": http("POST", q + "/purge") + http("DELETE", q) + http("GET", q),
        "vhost_queue": http("PUT", "/api/v1/vhosts/staging/queues/jobs", "{}")
        + http("GET", "/api/v1/vhosts/staging/queues"),
        "percent_escapes": http("PUT", "/api/v1/vhosts/%2F/queues/a%20b%C3%A9", "{}")
        + http("GET", "/api/v1/queues/bad%zz"),
        "chunked_publish": chunked("POST", q + "/messages", '{"body": "chunked"}'),
        "bad_json": http("PUT", q, '{"max_length": "many", "unknown": 1}'),
        "wrong_method": http("PATCH", q) + http("GET", "/api/v2/nothing"),
        "keep_alive_close": http("GET", "/healthz", extra="Connection: close\r\n"),
    }


# --- configuration ---------------------------------------------------------------------------

CONFIG_FULL = """\
# Every section and key of ballastd's configuration file.
[server]
http_listen = "127.0.0.1:8080"
insecure_remote = false
http_threads = 2
log_level = "info"

[storage]
data_dir = "/var/lib/ballast"
segment_size = 67108864
sync_mode = "interval"
sync_interval_ms = 200
reserve_bytes = 67108864
checkpoint_interval_ms = 30000
read_cache_bytes = 67108864

[limits]
max_message_bytes = 16777216
max_request_bytes = 33554432
http_header_timeout_ms = 10000
http_body_timeout_ms = 30000
max_long_polls = 1024

[amqp]
listen = "127.0.0.1:5672,[::1]:5672"
heartbeat_seconds = 60
frame_max = 131072
channel_max = 2047
publish_timeout_ms = 30000
"""


def config_seeds():
    return {
        "full.toml": CONFIG_FULL,
        "minimal.toml": '[storage]\ndata_dir = "./var/ballast"\n',
        "empty.toml": "",
        "amqp_off.toml": '[amqp]\nlisten = ""\n',
        "unknown_key.toml": "[storage]\nsegment_sise = 1048576\n[srever]\nhttp_threads = 1\n",
        "wrong_types.toml": '[server]\nhttp_threads = "two"\ninsecure_remote = 1\n[amqp]\nframe_max = 1.5\n',
        "out_of_range.toml": "[storage]\nsegment_size = 1024\n[limits]\nmax_message_bytes = 0\n",
        "inconsistent.toml": "[storage]\nsegment_size = 1048576\n[limits]\nmax_message_bytes = 1048576\n",
        "syntax_error.toml": "[storage\ndata_dir = /tmp\n",
        "dotted_and_inline.toml": 'storage.data_dir = "/srv"\nserver = { log_level = "debug" }\n',
        "arrays_and_dates.toml": "[limits]\nmax_long_polls = [1, 2]\nwhen = 1979-05-27T07:32:00Z\n",
    }


# --- AMQP 0-9-1 (big-endian; generic encoder over the spec) ---------------------------------

class Amqp:
    def __init__(self):
        spec = json.loads(SPEC.read_text())
        self.domains = dict((name, kind) for name, kind in spec["domains"])
        self.methods = {}
        for cls in spec["classes"]:
            for method in cls["methods"]:
                self.methods[f'{cls["name"]}.{method["name"]}'] = (cls["id"], method["id"], method["arguments"])

    def kind(self, argument):
        return argument.get("type") or self.domains[argument["domain"]]

    def method(self, name, **values):
        class_id, method_id, arguments = self.methods[name]
        out = struct.pack(">HH", class_id, method_id)
        bits, nbits = 0, 0
        for argument in arguments:
            key = argument["name"].replace("-", "_")
            value = values.get(key, argument.get("default-value"))
            kind = self.kind(argument)
            if kind == "bit":
                bits |= (1 << nbits) if value else 0
                nbits += 1
                continue
            if nbits:
                out += struct.pack(">B", bits)
                bits, nbits = 0, 0
            out += self.field(kind, value)
        if nbits:
            out += struct.pack(">B", bits)
        return out

    @staticmethod
    def field(kind, value):
        if kind == "octet": return struct.pack(">B", value or 0)
        if kind == "short": return struct.pack(">H", value or 0)
        if kind == "long": return struct.pack(">I", value or 0)
        if kind in ("longlong", "timestamp"): return struct.pack(">Q", value or 0)
        if kind == "shortstr":
            data = (value or "").encode()
            return struct.pack(">B", len(data)) + data
        if kind == "longstr":
            data = value if isinstance(value, bytes) else (value or "").encode()
            return struct.pack(">I", len(data)) + data
        if kind == "table":
            data = value or b""
            return struct.pack(">I", len(data)) + data
        raise ValueError(kind)


def frame(ftype, channel, payload):
    return struct.pack(">BHI", ftype, channel, len(payload)) + payload + b"\xce"


def table(entries):
    out = b""
    for key, kind, value in entries:
        out += struct.pack(">B", len(key)) + key.encode() + kind.encode()
        if kind == "S": out += struct.pack(">I", len(value)) + value.encode()
        elif kind == "t": out += struct.pack(">B", 1 if value else 0)
        elif kind == "I": out += struct.pack(">i", value)
        elif kind == "l": out += struct.pack(">q", value)
        elif kind == "F": out += struct.pack(">I", len(value)) + value
        elif kind == "A": out += struct.pack(">I", len(value)) + value
        elif kind == "d": out += struct.pack(">d", value)
        elif kind == "T": out += struct.pack(">Q", value)
        elif kind == "V": pass
    return out


def amqp_seeds():
    a = Amqp()
    m = lambda channel, name, **values: frame(1, channel, a.method(name, **values))

    def content(channel, body, props=b"\x00\x00"):
        header = struct.pack(">HHQ", 60, 0, len(body)) + props
        return frame(2, channel, header) + frame(3, channel, body)

    client = table([("product", "S", "fuzz-seed"),
                    ("capabilities", "F", table([("publisher_confirms", "t", True),
                                                 ("consumer_cancel_notify", "t", True),
                                                 ("connection.blocked", "t", True)]))])
    handshake = (b"AMQP\x00\x00\x09\x01"
                 + m(0, "connection.start-ok", client_properties=client, mechanism="PLAIN",
                     response=b"\0guest\0guest", locale="en_US")
                 + m(0, "connection.tune-ok", channel_max=2047, frame_max=131072, heartbeat=60)
                 + m(0, "connection.open", virtual_host="/"))
    opened = handshake + m(1, "channel.open")
    props = (struct.pack(">H", 0x8000 | 0x2000 | 0x1000 | 0x0800 | 0x0100 | 0x0080)
             + Amqp.field("shortstr", "text/plain") + Amqp.field("table", table([("tenant", "S", "acme"),
                                                                                  ("attempt", "I", 1)]))
             + struct.pack(">BB", 2, 5) + Amqp.field("shortstr", "60000") + Amqp.field("shortstr", "m-1"))
    declare = m(1, "queue.declare", queue="jobs", durable=True,
                arguments=table([("x-max-length", "I", 100), ("x-dead-letter-exchange", "S", ""),
                                 ("x-message-ttl", "l", 60000)]))
    close = m(1, "channel.close", reply_code=200, reply_text="bye") + m(0, "connection.close", reply_code=200,
                                                                         reply_text="bye")
    return {
        "protocol_header_only": b"AMQP\x00\x00\x09\x01",
        "bad_protocol_header": b"AMQP\x01\x01\x00\x09",
        "handshake": handshake + m(0, "connection.close", reply_code=200, reply_text="bye"),
        "handshake_amqplain": b"AMQP\x00\x00\x09\x01"
        + m(0, "connection.start-ok", client_properties=b"", mechanism="AMQPLAIN",
            response=table([("LOGIN", "S", "guest"), ("PASSWORD", "S", "guest")]))
        + m(0, "connection.tune-ok", channel_max=0, frame_max=4096, heartbeat=0)
        + m(0, "connection.open", virtual_host="/"),
        "publish_confirm": opened + m(1, "confirm.select") + declare
        + m(1, "basic.publish", exchange="", routing_key="jobs", mandatory=True) + content(1, b'{"job": 1}', props)
        + close,
        "publish_multi_frame_body": opened + declare + m(1, "basic.publish", routing_key="jobs")
        + frame(2, 1, struct.pack(">HHQ", 60, 0, 10) + b"\x00\x00") + frame(3, 1, b"hello") + frame(3, 1, b"world"),
        "get_ack": opened + declare + m(1, "basic.publish", routing_key="jobs") + content(1, b"x")
        + m(1, "basic.get", queue="jobs") + m(1, "basic.ack", delivery_tag=1) + close,
        "consume_cancel": opened + declare + m(1, "basic.qos", prefetch_count=10)
        + m(1, "basic.consume", queue="jobs", consumer_tag="c1")
        + m(1, "basic.publish", routing_key="jobs") + content(1, b"y")
        + m(1, "basic.nack", delivery_tag=1, requeue=True) + m(1, "basic.cancel", consumer_tag="c1") + close,
        "exchange_bind_route": opened + m(1, "exchange.declare", exchange="events", type="topic", durable=True)
        + declare + m(1, "queue.bind", queue="jobs", exchange="events", routing_key="job.#")
        + m(1, "basic.publish", exchange="events", routing_key="job.created") + content(1, b"z")
        + m(1, "queue.unbind", queue="jobs", exchange="events", routing_key="job.#")
        + m(1, "exchange.delete", exchange="events") + close,
        "headers_exchange": opened + declare
        + m(1, "queue.bind", queue="jobs", exchange="amq.headers",
            arguments=table([("x-match", "S", "any"), ("tenant", "S", "acme")]))
        + m(1, "basic.publish", exchange="amq.headers") + content(1, b"h", props),
        "tx_commit": opened + declare + m(1, "tx.select")
        + m(1, "basic.publish", routing_key="jobs") + content(1, b"t")
        + m(1, "tx.commit") + m(1, "basic.get", queue="jobs", no_ack=True) + m(1, "tx.rollback") + close,
        "exclusive_purge_delete": opened
        + m(1, "queue.declare", queue="", exclusive=True, auto_delete=True)
        + m(1, "queue.declare", queue="jobs", passive=True)
        + m(1, "queue.purge", queue="jobs") + m(1, "queue.delete", queue="jobs", if_unused=True) + close,
        "heartbeat_flow_recover": opened + frame(8, 0, b"") + m(1, "channel.flow", active=False)
        + m(1, "basic.recover", requeue=True) + m(2, "channel.open") + m(2, "basic.reject", delivery_tag=9),
        "channel_error_then_more": opened + m(1, "basic.ack", delivery_tag=99) + m(1, "channel.close-ok")
        + m(1, "basic.get", queue="missing"),
        "frame_too_large": handshake + struct.pack(">BHI", 1, 1, 1 << 20) + b"\0" * 16,
        "content_without_publish": opened + content(1, b"orphan"),
    }


def main():
    corpus = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "corpus"
    targets = {
        "fuzz_journal_record": journal_seeds(),
        "fuzz_http_request": http_seeds(),
        "fuzz_config": config_seeds(),
        "fuzz_amqp_frame": amqp_seeds(),
    }
    for target, seeds in targets.items():
        directory = corpus / target
        directory.mkdir(parents=True, exist_ok=True)
        for name, data in seeds.items():
            (directory / name).write_bytes(data.encode() if isinstance(data, str) else data)
        print(f"{target}: {len(seeds)} seeds in {directory}")


if __name__ == "__main__":
    main()
