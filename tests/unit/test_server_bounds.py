"""The twin stays bounded whatever its clients do (issue #21, item 5): a client gone before its
answer is no error, a trickling client loses its connection at the request deadline, connections
past the limit get 503 without a thread, ``max_requests`` caps what the kernel records, and a
bind beyond loopback is warned about. Every client here talks to 127.0.0.1 only, and every wait
is bounded."""

from __future__ import annotations

import http.client
import json
import socket
import time
from collections.abc import Iterator

import pytest

from helmmodel import server

ADMIN_TOKEN = "bounds-admin-token-0123456789"
WAIT_S = 10.0


@pytest.fixture
def serving(request: pytest.FixtureRequest) -> Iterator[int]:
    """The demo kernel on one ephemeral loopback port, with *max_requests* if parametrized."""
    max_requests = getattr(request, "param", None)
    running = server.start(
        server.demo_kernel(ADMIN_TOKEN), "127.0.0.1", [0], max_requests=max_requests
    )
    try:
        yield running.ports[0]
    finally:
        running.stop()


def call(port: int) -> tuple[int, dict[str, object]]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=WAIT_S)
    try:
        body = json.dumps({"tool": "echo", "args": {"x": 1}})
        connection.request("POST", "/v1/tools/execute", body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def test_a_client_gone_before_its_answer_prints_nothing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The standard library prints a traceback page for each; the twin prints nothing, and one
    line for an error that is its own."""
    running = server.start(server.demo_kernel(ADMIN_TOKEN), "127.0.0.1", [0])
    try:
        (the_server,) = running.servers
        for gone in (ConnectionResetError(104, "reset"), BrokenPipeError(32, "pipe")):
            try:
                raise gone
            except OSError:
                the_server.handle_error(None, ("127.0.0.1", 1))
        assert "" == capsys.readouterr().err
        try:
            raise RuntimeError("a bug of the server's")
        except RuntimeError:
            the_server.handle_error(None, ("127.0.0.1", 1))
        err = capsys.readouterr().err
        assert "request from 127.0.0.1 failed: RuntimeError: a bug of the server's\n" in err
        assert 1 == err.count("\n") and "Traceback" not in err
    finally:
        running.stop()


def test_a_trickling_client_is_cut_off_at_the_deadline(
    monkeypatch: pytest.MonkeyPatch, serving: int
) -> None:
    """A byte every 0.2 s never trips the per-read timeout; the request deadline ends it."""
    monkeypatch.setattr(server, "REQUEST_DEADLINE_S", 1.0)
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", serving), timeout=WAIT_S) as client:
        client.sendall(b"GET /api/ops/status HTTP/1.1\r\n")
        cut = False
        for _ in range(int(WAIT_S / 0.2)):
            try:
                client.sendall(b"X")
                time.sleep(0.2)
            except OSError:
                cut = True
                break
            client.settimeout(0.01)
            try:
                cut = client.recv(1) == b""
            except TimeoutError:
                pass
            except OSError:
                cut = True
            client.settimeout(WAIT_S)
            if cut:
                break
    assert cut, "the server kept reading a trickling request"
    assert time.monotonic() - started < 1.0 + 3.0


def test_connections_past_the_limit_get_503_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(server, "CONNECTIONS_MAX", 2)
    running = server.start(server.demo_kernel(ADMIN_TOKEN), "127.0.0.1", [0])
    port = running.ports[0]
    idle = [socket.create_connection(("127.0.0.1", port), timeout=WAIT_S) for _ in range(2)]
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=WAIT_S) as third:
            answer = b""
            while chunk := third.recv(4096):
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
        assert b"more than 2 connections at once" in answer
    finally:
        for connection in idle:
            connection.close()
        running.stop()
    # The slots come back: once the idle ones are gone, a call is served.
    running = server.start(server.demo_kernel(ADMIN_TOKEN), "127.0.0.1", [0])
    try:
        assert 200 == call(running.ports[0])[0]
    finally:
        running.stop()


@pytest.mark.parametrize("serving", [3], indirect=True)
def test_max_requests_caps_what_the_kernel_serves(serving: int) -> None:
    statuses = [call(serving)[0] for _ in range(5)]
    assert [200, 200, 200, 503, 503] == statuses
    assert "serves 3 requests per start" in str(call(serving)[1]["detail"])


@pytest.mark.parametrize(
    ("host", "warned"),
    [("127.0.0.1", False), ("::1", False), ("localhost", False), ("127.0.0.2", False),
     ("0.0.0.0", True), ("::", True), ("192.168.1.5", True), ("example.org", True)],
)  # fmt: skip
def test_a_bind_beyond_loopback_is_warned_about(host: str, warned: bool) -> None:
    warning = server.exposure_warning(host)
    assert warned == (warning is not None)
    if warning is not None:
        assert f"listening on {host}, which other machines can reach" in warning


def test_serve_prints_the_warning_for_a_non_loopback_host(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The command itself, with the bind and the wait replaced (nothing listens beyond
    loopback in a test)."""
    from helmmodel import cli

    class Started:
        ports = (8080,)

        def stop(self) -> None:
            pass

    class Interrupted:
        def wait(self) -> None:
            raise KeyboardInterrupt

    monkeypatch.setattr(server, "start", lambda *args, **kwargs: Started())
    monkeypatch.setattr(cli.threading, "Event", Interrupted)
    assert 0 == cli.main(["serve", "--host", "0.0.0.0", "--admin-token", ADMIN_TOKEN])
    err = capsys.readouterr().err
    assert "helmmodel serve: warning: listening on 0.0.0.0" in err
