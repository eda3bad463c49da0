"""End-to-end: `ballast journal verify` and `ballast journal salvage` on a real ballastd's data
directory, damaged with real file writes (docs/formats/journal.md for the layout parsed here)."""
import argparse
import os
import struct
import subprocess
import sys
import unittest

import ballast_fixture as fx

ARGS = None
SEGMENT_HEADER_BYTES = 64
RECORD_HEADER = struct.Struct("<IIHHIQ")  # crc, payload length, type, flags, generation, seq
MESSAGE_APPENDED = 4
QUEUES = {"orders": 20, "payments": 15}


def message_records(segment_path):
    """(offset, length, body) of every message-appended record in the segment, in file order."""
    with open(segment_path, "rb") as segment:
        data = segment.read()
    generation = struct.unpack_from("<I", data, 24)[0]
    offset, records = SEGMENT_HEADER_BYTES, []
    while offset + RECORD_HEADER.size <= len(data):
        crc, length, kind, _flags, record_generation, _seq = RECORD_HEADER.unpack_from(data, offset)
        if crc == 0 and length == 0 or record_generation != generation:
            break
        if kind == MESSAGE_APPENDED:
            payload = data[offset + RECORD_HEADER.size:offset + RECORD_HEADER.size + length]
            records.append((offset, RECORD_HEADER.size + length, payload))
        offset += RECORD_HEADER.size + length
    return records


def body_of(payload):
    """The body: the last str of a message-appended payload (u32 length + bytes)."""
    position = 8
    message_id_length = struct.unpack_from("<I", payload, position)[0]
    position += 4 + message_id_length + 1 + 1 + 4 + 8 + 8 + 8 + 1
    properties_length = struct.unpack_from("<I", payload, position)[0]
    position += 4 + properties_length
    body_length = struct.unpack_from("<I", payload, position)[0]
    return payload[position + 4:position + 4 + body_length].decode()


def damage_message(data_dir, body):
    """Flips the last byte of the record holding `body`; returns (segment name, record offset)."""
    journal = os.path.join(data_dir, "journal")
    for name in sorted(n for n in os.listdir(journal) if n.endswith(".seg")):
        path = os.path.join(journal, name)
        for offset, length, payload in message_records(path):
            if body_of(payload) == body:
                with open(path, "r+b") as segment:
                    segment.seek(offset + length - 1)
                    last = segment.read(1)
                    segment.seek(offset + length - 1)
                    segment.write(bytes([last[0] ^ 0xFF]))
                    segment.flush()
                    os.fsync(segment.fileno())
                return name, offset
    raise AssertionError(f"no record with body {body!r} in {journal}")


class JournalToolsEndToEnd(unittest.TestCase):
    def setUp(self):
        self.data = fx.TempDataDir()
        self.data_dir = self.data.__enter__()
        self.daemons = []

    def tearDown(self):
        for daemon in self.daemons:
            daemon.stop()
        self.data.__exit__(None, None, None)

    def start_daemon(self):
        daemon = fx.Daemon(ARGS.ballastd, self.data_dir).start()
        self.daemons.append(daemon)
        return daemon

    def cli(self, *args):
        return subprocess.run([ARGS.ballast, *args], capture_output=True, text=True, timeout=300)

    def publish_all(self, daemon):
        for queue, count in QUEUES.items():
            status, body = fx.http("PUT", f"{daemon.url}/api/v1/queues/{queue}", {})
            self.assertEqual(status, 201, body)
            for n in range(count):
                status, body = fx.http("POST", f"{daemon.url}/api/v1/queues/{queue}/messages",
                                       {"body": f"{queue}-{n}", "id": f"{queue}-{n}"})
                self.assertEqual(status, 201, body)

    def receive_all(self, daemon, queue):
        bodies = []
        for _ in range(100):
            status, batch = fx.http("POST", f"{daemon.url}/api/v1/queues/{queue}/receive",
                                    {"max": 1000, "visibility_timeout_seconds": 600})
            self.assertEqual(status, 200, batch)
            if not batch["messages"]:
                return bodies
            bodies.extend(message["body"] for message in batch["messages"])
        raise AssertionError(f"queue {queue} did not drain")

    def verify_damage_and_salvage(self, damaged_body):
        segment, offset = damage_message(self.data_dir, damaged_body)
        with open(os.path.join(self.data_dir, "journal", segment), "rb") as damaged:
            damaged_bytes = damaged.read()

        verified = self.cli("journal", "verify", "--data-dir", self.data_dir)
        self.assertEqual(verified.returncode, 4, verified.stdout + verified.stderr)
        self.assertIn(f"STORAGE_CORRUPT: {self.data_dir}/journal/{segment} offset {offset} ", verified.stdout)
        self.assertIn("bad_crc", verified.stdout)
        self.assertIn("queues: orders", verified.stdout)
        self.assertIn("ballast journal salvage", verified.stdout)
        as_json = self.cli("journal", "verify", "--data-dir", self.data_dir, "--json")
        self.assertEqual(as_json.returncode, 4, as_json.stderr)
        self.assertIn(f'"offset":{offset}', as_json.stdout)

        salvaged = self.cli("journal", "salvage", "--data-dir", self.data_dir)
        self.assertEqual(salvaged.returncode, 0, salvaged.stdout + salvaged.stderr)
        self.assertIn("2 queues", salvaged.stdout)
        quarantine_root = os.path.join(self.data_dir, "quarantine")
        stamps = os.listdir(quarantine_root)
        self.assertEqual(len(stamps), 1, stamps)
        with open(os.path.join(quarantine_root, stamps[0], "journal", segment), "rb") as kept:
            self.assertEqual(kept.read(), damaged_bytes, "the quarantined segment is the damaged original")
        self.assertTrue(os.path.exists(os.path.join(quarantine_root, stamps[0], "superblock")))

        clean = self.cli("journal", "verify", "--data-dir", self.data_dir)
        self.assertEqual(clean.returncode, 0, clean.stdout + clean.stderr)

        daemon = self.start_daemon()
        for queue, count in QUEUES.items():
            expected = {f"{queue}-{n}" for n in range(count)} - {damaged_body}
            self.assertEqual(set(self.receive_all(daemon, queue)), expected, queue)

    def test_verify_refuses_while_ballastd_runs_naming_its_pid(self):
        daemon = self.start_daemon()
        self.publish_all(daemon)
        verified = self.cli("journal", "verify", "--data-dir", self.data_dir)
        self.assertEqual(verified.returncode, 5, verified.stdout + verified.stderr)
        self.assertIn("DATA_DIR_LOCKED", verified.stderr)
        self.assertIn(f"PID {daemon.process.pid}", verified.stderr)
        salvaged = self.cli("journal", "salvage", "--data-dir", self.data_dir)
        self.assertEqual(salvaged.returncode, 5, salvaged.stdout + salvaged.stderr)
        self.assertIn("DATA_DIR_LOCKED", salvaged.stderr)

    def test_clean_stop_then_damage_is_found_and_salvaged(self):
        daemon = self.start_daemon()
        self.publish_all(daemon)
        daemon.stop()
        self.assertEqual(daemon.process.returncode, 0)
        clean = self.cli("journal", "verify", "--data-dir", self.data_dir)
        self.assertEqual(clean.returncode, 0, clean.stdout + clean.stderr)
        self.assertIn("records", clean.stdout)
        self.verify_damage_and_salvage("orders-7")

    def test_kill9_then_damage_is_found_and_salvaged(self):
        daemon = self.start_daemon()
        self.publish_all(daemon)
        daemon.kill9()
        self.verify_damage_and_salvage("orders-3")

    def test_salvage_to_an_output_directory_leaves_the_original_untouched(self):
        daemon = self.start_daemon()
        self.publish_all(daemon)
        daemon.stop()
        segment, _ = damage_message(self.data_dir, "payments-2")
        before = sorted(os.listdir(self.data_dir))
        with open(os.path.join(self.data_dir, "journal", segment), "rb") as damaged:
            damaged_bytes = damaged.read()
        with fx.TempDataDir() as parent:
            output = os.path.join(parent, "salvaged")
            salvaged = self.cli("journal", "salvage", "--data-dir", self.data_dir, "--output", output, "--json")
            self.assertEqual(salvaged.returncode, 0, salvaged.stdout + salvaged.stderr)
            self.assertIn('"messages_copied":34', salvaged.stdout)
            self.assertEqual(sorted(os.listdir(self.data_dir)), before)
            with open(os.path.join(self.data_dir, "journal", segment), "rb") as original:
                self.assertEqual(original.read(), damaged_bytes)
            verified = self.cli("journal", "verify", "--data-dir", output)
            self.assertEqual(verified.returncode, 0, verified.stdout + verified.stderr)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--ballastd", required=True)
    parser.add_argument("--ballast", required=True)
    ARGS, rest = parser.parse_known_args()
    unittest.main(argv=[sys.argv[0], *rest], verbosity=2)
