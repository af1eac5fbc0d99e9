"""Chaos scenario 6 (docs/kernel-spec.md section 10): malformed input at ``POST /v1/tools/execute``,
over a real socket.

Method: serve the demo kernel on two ephemeral ports (standing for 8080 and 9090) and send the
chaos page's curl commands to the tools port as curl would: malformed JSON gets 400, a payload of
about 2 MB gets 413 (with and without ``Expect: 100-continue``), args that fail the tool's schema
get a DENY ``SCHEMA_VIOLATION``; a 400 or 413 changes no state. The server is shared by the
module: each test compares the state digest before and after its own requests.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from helmmodel import server
from tests.scenarios.test_error_budget import Served, curl

ADMIN_TOKEN = "malformed-admin-token-0123456789"
EXECUTE = "/v1/tools/execute"
JSON_CONTENT = ("Content-Type", "application/json")
BODY_BYTES_MAX = 1_048_576


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    """The demo kernel on two ephemeral ports for the whole module, stopped after."""
    kernel = server.demo_kernel(ADMIN_TOKEN)
    running = server.start(kernel, "127.0.0.1", [0, 0])
    try:
        ops, tools = running.ports
        yield Served(kernel, ops, tools)
    finally:
        running.stop()


def oversized_payload() -> bytes:
    """The body of ``python3 -c "print('{\\"data\\":\\"' + 'A'*2000000 + '\\"}')" | curl -d @-``:
    print's output, less the newline that ``-d @-`` strips."""
    printed = '{"data":"' + "A" * 2000000 + '"}' + "\n"
    return printed.replace("\r", "").replace("\n", "").encode()


def test_oversized_payload_is_what_the_page_sends() -> None:
    """The payload is 2,000,011 bytes of JSON, over 1 MiB, with no trailing newline."""
    payload = oversized_payload()
    assert 2_000_011 == len(payload)
    assert payload.startswith(b'{"data":"AAAA')
    assert payload.endswith(b'AAAA"}')
    assert BODY_BYTES_MAX < len(payload)


def test_malformed_json_is_400_and_changes_nothing(served: Served) -> None:
    """``-d '{invalid json'`` gets a 400 problem and leaves the state digest unchanged."""
    before = served.kernel.state_digest()
    reply = curl(served.tools, "POST", EXECUTE, [JSON_CONTENT], b"{invalid json")
    assert 400 == reply.status
    assert "application/problem+json" == reply.headers["Content-Type"]
    assert 400 == reply.json()["status"]
    assert before == served.kernel.state_digest()


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b'{"tool":"echo"}', id="missing-args"),
        pytest.param(b'[{"tool":"echo","args":{}}]', id="array"),
        pytest.param(b'{"tool":"echo","args":{"x":1.5}}', id="float"),
        pytest.param(b'{"tool":"echo","args":{},"args":{}}', id="duplicate-keys"),
        pytest.param(b'{"tool":"echo","args":{"x":' + b"9" * 5000 + b"}}", id="huge-integer"),
    ],
)
def test_wrong_shape_is_400_and_changes_nothing(served: Served, body: bytes) -> None:
    """Valid-looking JSON of the wrong shape or outside the canonical subset gets 400."""
    before = served.kernel.state_digest()
    reply = curl(served.tools, "POST", EXECUTE, [JSON_CONTENT], body)
    assert 400 == reply.status
    assert "application/problem+json" == reply.headers["Content-Type"]
    assert before == served.kernel.state_digest()


def test_oversized_payload_with_expect_is_413_in_place_of_100(served: Served) -> None:
    """Sent as curl does (``Expect: 100-continue``), the 2 MB payload gets a 413 problem
    before any body byte is sent, and changes nothing."""
    before = served.kernel.state_digest()
    reply = curl(
        served.tools,
        "POST",
        EXECUTE,
        [JSON_CONTENT],
        oversized_payload(),
        expect_continue=True,
    )
    assert 413 == reply.status
    assert not reply.sent_body
    assert "application/problem+json" == reply.headers["Content-Type"]
    assert 413 == reply.json()["status"]
    assert before == served.kernel.state_digest()


def test_oversized_payload_without_expect_is_413(served: Served) -> None:
    """Sent whole without Expect, the 2 MB payload gets a 413 problem and changes nothing."""
    before = served.kernel.state_digest()
    reply = curl(served.tools, "POST", EXECUTE, [JSON_CONTENT], oversized_payload())
    assert reply.sent_body
    assert 413 == reply.status
    assert "application/problem+json" == reply.headers["Content-Type"]
    assert 413 == reply.json()["status"]
    assert before == served.kernel.state_digest()


def test_schema_invalid_call_is_denied_schema_violation(served: Served) -> None:
    """Args that fail echo's schema get 200 with a DENY SCHEMA_VIOLATION, nothing executed."""
    epoch = served.kernel.policy.epoch
    reply = curl(
        served.tools,
        "POST",
        EXECUTE,
        [JSON_CONTENT],
        b'{"tool":"echo","args":{"x":"not an int"}}',
    )
    assert 200 == reply.status
    body = reply.json()
    assert "DENY" == body["verdict"]
    assert "SCHEMA_VIOLATION" == body["reason_code"]
    assert body["intent_id"] is None
    assert "not_attempted" == body["execution"]["status"]
    assert epoch == served.kernel.policy.epoch
    assert 100 == served.kernel.error_budget.percent


def test_valid_call_is_executed(served: Served) -> None:
    """A valid call on the same port and in the same form is allowed and executed."""
    reply = curl(served.tools, "POST", EXECUTE, [JSON_CONTENT], b'{"tool":"echo","args":{"x":7}}')
    assert 200 == reply.status
    body = reply.json()
    assert "ALLOW" == body["verdict"]
    assert {"x": 7} == body["execution"]["output"]


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """Read one HTTP response (status, lower-cased headers, body) from *sock*."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"the connection closed after {data!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers["content-length"])
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"the connection closed after {len(body)} body bytes")
        body += chunk
    return int(status_line.split(" ")[1]), headers, body


def test_announced_oversize_gets_413_within_a_second(served: Served) -> None:
    """A request announcing 2,000,000 bytes and sending a few gets its 413 within 1 s, without
    the server waiting for the rest; the server keeps serving afterwards."""
    before = served.kernel.state_digest()
    request = (
        b"POST /v1/tools/execute HTTP/1.1\r\n"
        b"Host: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\n"
        b"Content-Length: 2000000\r\n"
        b"\r\n"
        b'{"data":"AAAA'
    )
    with socket.create_connection(("127.0.0.1", served.tools), timeout=1.0) as sock:
        sock.settimeout(1.0)
        started = time.monotonic()
        sock.sendall(request)
        status, headers, body = read_response(sock)
        elapsed_s = time.monotonic() - started
    assert 413 == status
    assert "application/problem+json" == headers["content-type"]
    assert b'"status":413' in body
    assert elapsed_s < 1.0
    assert before == served.kernel.state_digest()
    reply = curl(served.tools, "POST", EXECUTE, [JSON_CONTENT], b'{"tool":"echo","args":{}}')
    assert 200 == reply.status
