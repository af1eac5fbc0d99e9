"""Chaos scenario 1 (docs/kernel-spec.md section 10): error budget exhaustion, over a real socket.

Method: serve the demo kernel on two ephemeral ports (standing for the chaos page's 8080 and
9090), send the chaos page's curl commands byte for byte as curl would (same method, path,
headers and body), and check the answers and the kernel's state: three injects from 100 reach
10, and the next generated-spec request gets 429 with ``X-Gate-Enforced: BudgetExhausted`` and
creates nothing.
"""

from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Iterator, Sequence
from typing import Any

import attrs
import pytest

from helmmodel import server
from helmmodel.kernel import Kernel

ADMIN_TOKEN = "chaos-admin-token-0123456789"
USER_TOKEN = "chaos-user-token-0123456789"
WORKSPACE = "ws-chaos"
INJECT = "/api/ops/chaos/inject"
STATUS = "/api/ops/status"
GENERATED_SPECS = f"/api/v1/workspaces/{WORKSPACE}/generated-specs"
CURL_USER_AGENT = "curl/8.5.0"
# curl waits this long for a 100 Continue before it sends the body anyway.
EXPECT_WAIT_S = 1.0
REPLY_TIMEOUT_S = 5.0


@attrs.frozen
class Reply:
    """What came back: status, headers, body, and whether the body was sent at all."""

    status: int
    headers: http.client.HTTPMessage
    body: bytes
    sent_body: bool

    def json(self) -> Any:
        return json.loads(self.body)


def _first_line_is_continue(sock: socket.socket) -> bool | None:
    """Peek at the server's first response line: True for a 100, False for a final status,
    None when nothing came within curl's wait."""
    sock.settimeout(EXPECT_WAIT_S)
    try:
        seen = b""
        while len(seen) < len(b"HTTP/1.1 100"):
            seen = sock.recv(64, socket.MSG_PEEK)
            if not seen:
                return False
    except TimeoutError:
        return None
    finally:
        sock.settimeout(REPLY_TIMEOUT_S)
    return seen.split(b" ", 2)[1] == b"100"


def curl(
    port: int,
    method: str,
    path: str,
    headers: Sequence[tuple[str, str]] = (),
    body: bytes | None = None,
    *,
    expect_continue: bool = False,
) -> Reply:
    """Send one request the way curl does: Host, User-Agent and Accept, the ``-H`` headers, and
    for ``-d`` a Content-Length; with *expect_continue*, send ``Expect: 100-continue`` and send
    the body only if the server asks for it (or stays silent for a second)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=REPLY_TIMEOUT_S)
    try:
        connection.putrequest(method, path, skip_accept_encoding=True)
        connection.putheader("User-Agent", CURL_USER_AGENT)
        connection.putheader("Accept", "*/*")
        for name, value in headers:
            connection.putheader(name, value)
        if body is not None:
            connection.putheader("Content-Length", str(len(body)))
            if expect_continue:
                connection.putheader("Expect", "100-continue")
        connection.endheaders()
        sent_body = False
        if body is not None:
            assert connection.sock is not None
            if not expect_continue or _first_line_is_continue(connection.sock) is not False:
                connection.send(body)
                sent_body = True
        response = connection.getresponse()
        return Reply(response.status, response.headers, response.read(), sent_body)
    finally:
        connection.close()


@attrs.frozen
class Served:
    """A kernel served on two ports: ``ops`` stands for 8080, ``tools`` for 9090."""

    kernel: Kernel
    ops: int
    tools: int


@pytest.fixture
def served() -> Iterator[Served]:
    """The demo kernel (admin token ``ADMIN_TOKEN``) on two ephemeral ports, stopped after."""
    kernel = server.demo_kernel(ADMIN_TOKEN, [(USER_TOKEN, "bob")])
    running = server.start(kernel, "127.0.0.1", [0, 0])
    try:
        ops, tools = running.ports
        yield Served(kernel, ops, tools)
    finally:
        running.stop()


def chaos_inject(port: int, token: str = ADMIN_TOKEN) -> Reply:
    """``curl -X POST http://localhost:8080/api/ops/chaos/inject -H "Authorization: Bearer $T"``"""
    return curl(port, "POST", INJECT, [("Authorization", f"Bearer {token}")])


def generated_spec(port: int) -> Reply:
    """The chaos page's generated-spec request: ``-d '{"goal":"test"}'``, JSON content type."""
    return curl(
        port,
        "POST",
        GENERATED_SPECS,
        [("Content-Type", "application/json")],
        b'{"goal":"test"}',
    )


def ops_status(port: int) -> Any:
    """``curl http://localhost:8080/api/ops/status``, its JSON body (the status is checked)."""
    reply = curl(port, "GET", STATUS)
    assert 200 == reply.status
    return reply.json()


def test_three_injects_reach_10_and_the_next_generated_spec_gets_429(served: Served) -> None:
    """Three injects answer 70, 40 (DEGRADED) and 10; the status shows both gates; the next
    generated-spec request gets a 429 problem with the gate headers and changes nothing."""
    expected = [(70, "HEALTHY"), (40, "DEGRADED"), (10, "DEGRADED")]
    for budget, state in expected:
        reply = chaos_inject(served.ops)
        assert 200 == reply.status
        assert "application/json" == reply.headers["Content-Type"]
        assert {
            "status": "chaos_injected",
            "new_budget": budget,
            "system_state": state,
        } == reply.json()
    assert {
        "error_budget": 10,
        "system_state": "DEGRADED",
        "active_gates": ["BLOCK_BUILDER", "BLOCK_PROMOTION"],
    } == ops_status(served.ops)
    before = served.kernel.state_digest()
    reply = generated_spec(served.ops)
    assert 429 == reply.status
    assert "BudgetExhausted" == reply.headers["X-Gate-Enforced"]
    assert "60" == reply.headers["Retry-After"]
    assert "application/problem+json" == reply.headers["Content-Type"]
    assert 429 == reply.json()["status"]
    assert {} == served.kernel.error_budget.specs
    assert [] == served.kernel.error_budget.promotions
    assert before == served.kernel.state_digest()


def test_generated_spec_before_exhaustion_is_created(served: Served) -> None:
    """After two injects (40, no gate) the same request is served: 201 and one spec."""
    for _ in range(2):
        assert 200 == chaos_inject(served.ops).status
    assert [] == ops_status(served.ops)["active_gates"]
    reply = generated_spec(served.ops)
    assert 201 == reply.status
    body = reply.json()
    assert WORKSPACE == body["workspace_id"]
    assert "test" == body["goal"]
    assert [body["id"]] == list(served.kernel.error_budget.specs)


def test_every_port_serves_every_endpoint(served: Served) -> None:
    """The chaos page's requests work on either port: injects on both ports add up, and both
    ports answer the gate with 429."""
    new_budgets = [chaos_inject(port).json()["new_budget"] for port in (served.tools, served.ops)]
    assert [70, 40] == new_budgets
    assert 10 == chaos_inject(served.tools).json()["new_budget"]
    assert 429 == generated_spec(served.ops).status
    assert 429 == generated_spec(served.tools).status
    assert {} == served.kernel.error_budget.specs


def test_only_the_admin_token_burns(served: Served) -> None:
    """Inject without a token or with an unknown one gets 401, with a non-admin token 403; none
    of them changes anything."""
    before = served.kernel.state_digest()
    refusals = [
        curl(served.ops, "POST", INJECT),
        chaos_inject(served.ops, "not-the-admin-token-000"),
        chaos_inject(served.ops, USER_TOKEN),
    ]
    assert [401, 401, 403] == [reply.status for reply in refusals]
    for reply in refusals:
        assert "application/problem+json" == reply.headers["Content-Type"]
    assert 100 == ops_status(served.ops)["error_budget"]
    assert before == served.kernel.state_digest()
