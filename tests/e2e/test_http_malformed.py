"""End-to-end: malformed HTTP requests against a real ballastd (issue 4, "Bad input").

Oversized bodies and headers, lying or malformed Content-Length, bodies that never end, NUL
bytes, invalid UTF-8 and dot segments in the path, names over the maximum, wrong content types
and truncated JSON. Each gets its exact 4xx and a {"error": {"code", "message", "fix"}} naming
the offending thing (or, for a body that never arrives, a close within the configured
deadline), and afterwards ballastd still serves, the known-good queue is unchanged and the data
directory, the daemon's working directory and the parent of the data directory hold exactly the
names they held before: nothing named after a request, nothing outside the data directory.

Requests go over raw sockets, because urllib and curl would normalise them (dot segments,
NUL bytes, invalid UTF-8, a Content-Length that does not match the body).
"""
import argparse
import json
import os
import shutil
import socket
import sys
import tempfile
import time
import unittest
import urllib.parse

import ballast_fixture as fx

ARGS = None

MAX_REQUEST_BYTES = 65536  # limits.max_request_bytes for this daemon (the minimum is 1 KiB)
BODY_TIMEOUT_MS = 1000  # limits.http_body_timeout_ms
HEADER_TIMEOUT_MS = 2000  # limits.http_header_timeout_ms
HEADER_LIMIT_BYTES = 16384  # fixed in src/protocol/http/beast_http_server.cc
MAX_NAME_BYTES = 255  # the queue name limit (docs/operations.md, INVALID_ARGUMENT)
IO_TIMEOUT_S = 10  # one socket operation; every wait below is bounded by it or a deadline
# A name no other process would create: any file or directory carrying it came from a request.
MARKER = f"escape-{os.getpid()}-{int(time.monotonic() * 1000) % 100000}"


class RawResponse:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body)


def read_response(sock, deadline):
    """Reads one HTTP response; returns a RawResponse, or None when the server closed first."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = recv_before(sock, deadline)
        if not chunk:
            if data:
                raise AssertionError(f"connection closed inside a response header: {data!r}")
            return None
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = recv_before(sock, deadline)
        if not chunk:
            raise AssertionError(f"connection closed inside a response body: {rest!r}")
        rest += chunk
    return RawResponse(status, headers, rest[:length])


def recv_before(sock, deadline):
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise AssertionError("no answer from ballastd before the deadline")
    sock.settimeout(remaining)
    try:
        return sock.recv(65536)
    except ConnectionResetError:
        return b""


def send_tolerant(sock, data):
    """Sends what the server will take: it may answer and stop reading before the end."""
    try:
        sock.sendall(data)
    except (BrokenPipeError, ConnectionResetError):
        pass


def request_bytes(method, target, body=b"", content_type="application/json", extra_headers=(),
                  content_length=True):
    head = [f"{method} ".encode() + target + b" HTTP/1.1", b"Host: 127.0.0.1", b"Connection: close"]
    if content_type is not None:
        head.append(b"Content-Type: " + content_type.encode())
    if content_length:
        head.append(b"Content-Length: " + str(len(body or b"")).encode())
    head.extend(extra_headers)
    return b"\r\n".join(head) + b"\r\n\r\n" + (body or b"")


def tree(root):
    """Every path under `root`, relative, directories marked with a trailing slash: names, not contents."""
    names = set()
    for directory, subdirectories, files in os.walk(root):
        relative = os.path.relpath(directory, root)
        for name in subdirectories:
            names.add(os.path.normpath(os.path.join(relative, name)) + "/")
        for name in files:
            names.add(os.path.normpath(os.path.join(relative, name)))
    return names


class MalformedHttpRequests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # parent/data is the data directory, parent/cwd the daemon's working directory: a
        # traversal out of either lands in parent, whose whole tree is compared.
        cls.parent = tempfile.mkdtemp(prefix="ballast-e2e-malformed-")
        cls.data_dir = os.path.join(cls.parent, "data")
        cls.work_dir = os.path.join(cls.parent, "cwd")
        os.mkdir(cls.work_dir)
        env = {
            "BALLAST_LIMITS_MAX_REQUEST_BYTES": str(MAX_REQUEST_BYTES),
            "BALLAST_LIMITS_HTTP_BODY_TIMEOUT_MS": str(BODY_TIMEOUT_MS),
            "BALLAST_LIMITS_HTTP_HEADER_TIMEOUT_MS": str(HEADER_TIMEOUT_MS),
            # No periodic probe file or checkpoint rewrite while the tree is compared.
            "BALLAST_STORAGE_SELF_CHECK_INTERVAL_MS": "3600000",
            "BALLAST_STORAGE_CHECKPOINT_INTERVAL_MS": "3600000",
        }
        cls.daemon = fx.Daemon(ARGS.ballastd, cls.data_dir, env=env)
        previous = os.getcwd()
        os.chdir(cls.work_dir)  # the daemon inherits it
        try:
            cls.daemon.start()
        finally:
            os.chdir(previous)
        host, _, port = cls.daemon.address.rpartition(":")
        cls.host, cls.port = host, int(port)
        cls.after_start = tree(cls.parent)
        status, body = fx.http("PUT", f"{cls.daemon.url}/api/v1/queues/good", {})
        assert status == 201, body
        status, body = fx.http("POST", f"{cls.daemon.url}/api/v1/queues/good/messages", {"body": "known"})
        assert status == 201, body
        cls.baseline = tree(cls.parent)
        cls.tmp_entries = set(os.listdir(os.path.dirname(cls.parent)))

    @classmethod
    def tearDownClass(cls):
        cls.daemon.stop()
        shutil.rmtree(cls.parent, ignore_errors=True)

    def tearDown(self):
        extra = self.queue_names() - {"good"}
        for name in extra:  # so that one failure does not fail every later test too
            target = b"/api/v1/queues/" + urllib.parse.quote(name, safe="").encode()
            self.exchange(request_bytes("DELETE", target, None, content_type=None, content_length=False))
        self.assertEqual(extra, set(), "queues created by refused requests")
        self.assert_unharmed()

    # --- helpers -------------------------------------------------------------------------

    def connect(self):
        return socket.create_connection((self.host, self.port), timeout=IO_TIMEOUT_S)

    def exchange(self, raw):
        """Sends `raw` on a fresh connection and reads one response (None: closed unanswered)."""
        with self.connect() as sock:
            send_tolerant(sock, raw)
            return read_response(sock, time.monotonic() + IO_TIMEOUT_S)

    def assert_error(self, response, status, code, *named):
        self.assertIsNotNone(response, "ballastd closed the connection without an answer")
        self.assertEqual(response.status, status, response.body)
        self.assertEqual(response.headers.get("content-type"), "application/json")
        error = response.json()["error"]
        self.assertEqual(set(error), {"code", "message", "fix"}, error)
        self.assertEqual(error["code"], code, error)
        self.assertTrue(error["fix"].strip(), error)
        for text in named:
            self.assertIn(text, error["message"], error)
        return error

    def assert_closed_unanswered_within(self, sock, limit_ms):
        """The server closes `sock` without an answer once its deadline (`limit_ms`) passes."""
        started = time.monotonic()
        answer = b""
        deadline = started + limit_ms / 1000 + IO_TIMEOUT_S
        while True:
            chunk = recv_before(sock, deadline)
            if not chunk:
                break
            answer += chunk
        elapsed_ms = (time.monotonic() - started) * 1000
        self.assertEqual(answer, b"")
        self.assertGreaterEqual(elapsed_ms, limit_ms * 0.8, "closed before the deadline")
        self.assertLess(elapsed_ms, limit_ms + 5000, "not closed within the deadline")

    def queue_names(self):
        status, body = fx.http("GET", f"{self.daemon.url}/api/v1/queues")
        self.assertEqual(status, 200, body)
        return {queue["name"] for queue in body["queues"]}

    def assert_unharmed(self):
        self.assertIsNone(self.daemon.process.poll(), "ballastd exited:\n" + "\n".join(self.daemon.log_lines[-30:]))
        status, health = fx.http("GET", f"{self.daemon.url}/healthz", timeout_s=IO_TIMEOUT_S)
        self.assertEqual((status, health["status"]), (200, "ok"), health)
        status, info = fx.http("GET", f"{self.daemon.url}/api/v1/queues/good", timeout_s=IO_TIMEOUT_S)
        self.assertEqual(status, 200, info)
        self.assertEqual((info["messages"], info["in_flight"], info["delayed"]), (1, 0, 0), info)
        self.assertEqual(self.queue_names(), {"good"})
        now = tree(self.parent)
        self.assertEqual(now - self.baseline, set(), "files or directories appeared")
        self.assertEqual(self.baseline - now, set(), "files or directories disappeared")
        self.assertEqual([n for n in now if MARKER in n], [])
        appeared = {n for n in set(os.listdir(os.path.dirname(self.parent))) - self.tmp_entries if MARKER in n}
        self.assertEqual(appeared, set(), "created next to the test directory")
        for escaped in (os.path.join(self.data_dir, "..", "..", MARKER), os.path.join(self.work_dir, "..", MARKER),
                        os.path.join("/", MARKER)):
            self.assertFalse(os.path.lexists(os.path.normpath(escaped)), escaped)

    # --- oversize ------------------------------------------------------------------------

    def test_body_over_max_request_bytes_is_413_naming_the_limit_and_its_key(self):
        body = json.dumps({"body": "x" * (MAX_REQUEST_BYTES + 1)}).encode()
        response = self.exchange(request_bytes("POST", b"/api/v1/queues/good/messages", body))
        self.assert_error(response, 413, "REQUEST_TOO_LARGE", str(MAX_REQUEST_BYTES), "limits.max_request_bytes")

    def test_declared_content_length_over_the_limit_is_refused_before_the_body(self):
        raw = request_bytes("POST", b"/api/v1/queues/good/messages", b"", content_length=False,
                            extra_headers=[b"Content-Length: 1000000000"])
        response = self.exchange(raw)  # the body is never sent: the answer must not wait for it
        self.assert_error(response, 413, "REQUEST_TOO_LARGE", str(MAX_REQUEST_BYTES), "limits.max_request_bytes")

    def test_chunked_body_over_the_limit_is_413(self):
        chunk = b"x" * 8192
        chunks = b"".join(b"%x\r\n" % len(chunk) + chunk + b"\r\n" for _ in range(MAX_REQUEST_BYTES // 8192 + 2))
        raw = request_bytes("POST", b"/api/v1/queues/good/messages", b"", content_length=False,
                            extra_headers=[b"Transfer-Encoding: chunked"]) + chunks + b"0\r\n\r\n"
        response = self.exchange(raw)
        self.assert_error(response, 413, "REQUEST_TOO_LARGE", str(MAX_REQUEST_BYTES), "limits.max_request_bytes")

    def test_header_over_the_limit_is_413_naming_the_limit(self):
        raw = request_bytes("GET", b"/healthz", content_type=None, content_length=False,
                            extra_headers=[b"X-Padding: " + b"p" * (HEADER_LIMIT_BYTES + 1)])
        self.assert_error(self.exchange(raw), 413, "REQUEST_TOO_LARGE", str(HEADER_LIMIT_BYTES))

    def test_path_over_the_header_limit_is_413(self):
        raw = request_bytes("PUT", b"/api/v1/queues/" + MARKER.encode() + b"n" * HEADER_LIMIT_BYTES, b"{}")
        self.assert_error(self.exchange(raw), 413, "REQUEST_TOO_LARGE", str(HEADER_LIMIT_BYTES))

    # --- names -----------------------------------------------------------------------------

    def test_name_over_the_maximum_is_400_naming_its_length(self):
        name = MARKER + "n" * (MAX_NAME_BYTES + 1 - len(MARKER))
        response = self.exchange(request_bytes("PUT", b"/api/v1/queues/" + name.encode(), b"{}"))
        error = self.assert_error(response, 400, "INVALID_ARGUMENT", name, f"{MAX_NAME_BYTES + 1} bytes")
        self.assertIn(str(MAX_NAME_BYTES), error["fix"])

    def test_raw_nul_byte_in_the_path_is_400(self):
        raw = request_bytes("PUT", b"/api/v1/queues/" + MARKER.encode() + b"\x00x", b"{}")
        self.assert_error(self.exchange(raw), 400, "INVALID_ARGUMENT", "malformed")

    def test_percent_encoded_nul_in_a_name_is_400_naming_the_name(self):
        raw = request_bytes("PUT", b"/api/v1/queues/" + MARKER.encode() + b"%00x", b"{}")
        self.assert_error(self.exchange(raw), 400, "INVALID_ARGUMENT", MARKER + "\x00x", "control character")

    def test_raw_invalid_utf8_in_a_name_is_400(self):
        raw = request_bytes("PUT", b"/api/v1/queues/" + MARKER.encode() + b"\xff\xfe", b"{}")
        self.assert_error(self.exchange(raw), 400, "INVALID_ARGUMENT", MARKER, "not valid UTF-8")

    def test_percent_encoded_invalid_utf8_in_a_name_is_400(self):
        raw = request_bytes("PUT", b"/api/v1/queues/" + MARKER.encode() + b"%C3%28", b"{}")
        self.assert_error(self.exchange(raw), 400, "INVALID_ARGUMENT", MARKER, "not valid UTF-8")

    def test_malformed_percent_escape_is_400_naming_the_segment(self):
        for target in (b"/api/v1/queues/" + MARKER.encode() + b"%zz", b"/api/v1/queues/" + MARKER.encode() + b"%4"):
            with self.subTest(target=target):
                response = self.exchange(request_bytes("PUT", target, b"{}"))
                self.assert_error(response, 400, "INVALID_ARGUMENT", "%-escape", MARKER)

    def test_dot_segments_are_400_not_names(self):
        for target in (b"/api/v1/queues/../../" + MARKER.encode(),
                       b"/api/v1/queues/%2e%2e/%2E%2E/" + MARKER.encode(),
                       b"/api/v1/queues/..",
                       b"/api/v1/queues/.",
                       b"/api/v1/vhosts/../queues/" + MARKER.encode(),
                       b"/api/v1/queues/good/../messages"):
            with self.subTest(target=target):
                response = self.exchange(request_bytes("PUT", target, b"{}"))
                self.assert_error(response, 400, "INVALID_ARGUMENT", "dot segment", target.decode())
        response = self.exchange(request_bytes("GET", b"/../../etc/passwd", None, content_type=None,
                                               content_length=False))
        self.assert_error(response, 400, "INVALID_ARGUMENT", "dot segment", "/../../etc/passwd")

    def test_encoded_slashes_make_one_literal_name_never_a_path(self):
        # %2e%2e%2f inside a segment is not a dot segment: "../../<marker>" is one queue name
        # (1-255 bytes of UTF-8, docs/operations.md), which is never used as a file name.
        target = b"/api/v1/queues/%2e%2e%2f%2E%2E%2f" + MARKER.encode()
        created = self.exchange(request_bytes("PUT", target, b"{}"))
        self.assertEqual(created.status, 201, created.body)
        self.assertEqual(created.json()["name"], "../../" + MARKER)
        self.assertEqual(self.queue_names(), {"good", "../../" + MARKER})
        self.assertEqual(tree(self.parent), self.baseline)
        deleted = self.exchange(request_bytes("DELETE", target, None, content_type=None, content_length=False))
        self.assertEqual((deleted.status, deleted.json()), (200, {"deleted": "../../" + MARKER}))

    # --- routes ------------------------------------------------------------------------------

    def test_unknown_routes_are_404_naming_the_path(self):
        for method, target in (("GET", b"/api/v1/nothing"), ("POST", b"/api/v1/queues/good/" + MARKER.encode()),
                               ("GET", b"/api/v2/queues"), ("PUT", b"/api/v1/queues/good/messages/extra/more")):
            with self.subTest(target=target):
                response = self.exchange(request_bytes(method, target, b"{}"))
                self.assert_error(response, 404, "NOT_FOUND", target.decode())

    # --- malformed HTTP ----------------------------------------------------------------------

    def test_malformed_content_length_is_400(self):
        for value in (b"-1", b"abc", b"5, 7", b"99999999999999999999999"):
            with self.subTest(content_length=value):
                raw = request_bytes("POST", b"/api/v1/queues/good/messages", b'{"body":"x"}', content_length=False,
                                    extra_headers=[b"Content-Length: " + value])
                self.assert_error(self.exchange(raw), 400, "INVALID_ARGUMENT", "malformed", "Content-Length")

    def test_conflicting_or_unknown_transfer_encoding_is_400(self):
        body = b'5\r\n{"bod\r\n0\r\n\r\n'
        for headers, named in (([b"Transfer-Encoding: chunked", b"Content-Length: 5"], ["malformed"]),
                               ([b"Transfer-Encoding: gzip"], ["Transfer-Encoding", '"gzip"'])):
            with self.subTest(headers=headers):
                raw = request_bytes("POST", b"/api/v1/queues/good/messages", content_length=False,
                                    extra_headers=headers) + body
                self.assert_error(self.exchange(raw), 400, "INVALID_ARGUMENT", *named)

    def test_garbage_request_line_is_400(self):
        for raw in (b"GARBAGE\r\n\r\n", b"GET /healthz HTTP/9.Z\r\n\r\n", b"GET /healthz HTTP/1.1\nHost: x\n\n"):
            with self.subTest(raw=raw):
                self.assert_error(self.exchange(raw), 400, "INVALID_ARGUMENT", "malformed")

    def test_content_length_shorter_than_the_body_is_400_for_the_cut_json(self):
        raw = request_bytes("POST", b"/api/v1/queues/good/messages", b'{"body":"x"}', content_length=False,
                            extra_headers=[b"Content-Length: 5"])
        self.assert_error(self.exchange(raw), 400, "INVALID_ARGUMENT", "not valid JSON")

    def test_content_length_longer_than_the_body_closes_after_the_body_deadline(self):
        raw = request_bytes("POST", b"/api/v1/queues/good/messages", b'{"body":"x"}', content_length=False,
                            extra_headers=[b"Content-Length: 100"])
        with self.connect() as sock:
            sock.sendall(raw)
            self.assert_closed_unanswered_within(sock, BODY_TIMEOUT_MS)

    def test_chunked_body_that_never_ends_closes_after_the_body_deadline(self):
        raw = request_bytes("POST", b"/api/v1/queues/good/messages", b"", content_length=False,
                            extra_headers=[b"Transfer-Encoding: chunked"]) + b'5\r\n{"bod\r\n'
        with self.connect() as sock:
            sock.sendall(raw)
            self.assert_closed_unanswered_within(sock, BODY_TIMEOUT_MS)

    def test_header_that_never_ends_closes_after_the_header_deadline(self):
        with self.connect() as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            self.assert_closed_unanswered_within(sock, HEADER_TIMEOUT_MS)

    # --- bodies --------------------------------------------------------------------------------

    def test_bodies_not_labelled_json_are_415(self):
        for content_type, body in (("application/x-www-form-urlencoded", b"body=hello"),
                                   ("text/plain", b"hello"),
                                   ("multipart/form-data; boundary=b",
                                    b'--b\r\nContent-Disposition: form-data; name="body"\r\n\r\nhello\r\n--b--\r\n'),
                                   ("application/octet-stream", b"\x00\x01\x02")):
            with self.subTest(content_type=content_type):
                raw = request_bytes("POST", b"/api/v1/queues/good/messages", body, content_type=content_type)
                error = self.assert_error(self.exchange(raw), 415, "UNSUPPORTED_MEDIA_TYPE", content_type)
                self.assertIn("application/json", error["fix"])
        # A valid JSON body labelled otherwise (a form a web page could post) is refused too.
        for content_type in ("text/plain", None):
            with self.subTest(content_type=content_type):
                raw = request_bytes("PUT", b"/api/v1/queues/" + MARKER.encode(), b'{"max_length": 5}',
                                    content_type=content_type)
                self.assert_error(self.exchange(raw), 415, "UNSUPPORTED_MEDIA_TYPE", "Content-Type")

    def test_truncated_json_is_400_and_publishes_nothing(self):
        for body in (b'{"body": "hel', b'{"messages": [{"body": "a"}, {"body": "b"', b"{", b'{"body": "x"'):
            with self.subTest(body=body):
                raw = request_bytes("POST", b"/api/v1/queues/good/messages", body)
                self.assert_error(self.exchange(raw), 400, "INVALID_ARGUMENT", "not valid JSON")
        raw = request_bytes("PUT", b"/api/v1/queues/" + MARKER.encode(), b'{"max_length": 5')
        self.assert_error(self.exchange(raw), 400, "INVALID_ARGUMENT", "not valid JSON")

    def test_invalid_utf8_in_a_json_body_is_400(self):
        raw = request_bytes("POST", b"/api/v1/queues/good/messages", b'{"body": "\xff\xfe"}')
        self.assert_error(self.exchange(raw), 400, "INVALID_ARGUMENT", "not valid JSON")

    def test_json_that_is_not_an_object_is_400(self):
        for body in (b"[]", b'"body"', b"null", b"42"):
            with self.subTest(body=body):
                raw = request_bytes("POST", b"/api/v1/queues/good/messages", body)
                self.assert_error(self.exchange(raw), 400, "INVALID_ARGUMENT", "not an object")

    def test_a_bad_request_leaves_a_keep_alive_neighbour_serving(self):
        # A refusal closes only its own connection; another one open at the same time still works.
        with self.connect() as neighbour:
            keep_alive = b"GET /api/v1/queues/good HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
            neighbour.sendall(keep_alive)
            self.assertEqual(read_response(neighbour, time.monotonic() + IO_TIMEOUT_S).status, 200)
            self.assert_error(self.exchange(b"GET /api/v1/queues/\x00 HTTP/1.1\r\n\r\n"), 400, "INVALID_ARGUMENT")
            neighbour.sendall(keep_alive)
            answer = read_response(neighbour, time.monotonic() + IO_TIMEOUT_S)
            self.assertEqual((answer.status, answer.json()["messages"]), (200, 1))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--ballastd", required=True)
    ARGS, rest = parser.parse_known_args()
    unittest.main(argv=[sys.argv[0], *rest], verbosity=2)
