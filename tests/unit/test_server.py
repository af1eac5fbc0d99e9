"""``helmmodel serve`` and the HTTP server (docs/kernel-spec.md section 9): the command as a
process, its admin token, Ctrl-C, concurrent requests, and bad arguments."""

from __future__ import annotations

import http.client
import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from helmmodel import server
from helmmodel.cli import ADMIN_TOKEN_ENV, main
from helmmodel.concurrency.programs import chain_problems, graph_problems

ADMIN_TOKEN = "serve-admin-token-0123456789"
LISTENING = re.compile(r"listening on http://127\.0\.0\.1:(\d+)$")
GENERATED = re.compile(r"admin token \(generated, shown once\): (\S+)$")
STARTUP_TIMEOUT_S = 15.0
EXIT_TIMEOUT_S = 5.0
THREADS = 16
CALLS = 200


def request(
    port: int, method: str, path: str, body: Any = None, token: str | None = None
) -> tuple[int, Any]:
    """One request to 127.0.0.1:*port*; return the status and the decoded JSON body."""
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    data = None if body is None else json.dumps(body).encode()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request(method, path, data, headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


class ServeProcess:
    """``python -m helmmodel serve`` on two ephemeral ports, its stdout read line by line."""

    def __init__(self, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "helmmodel", "serve", "--port", "0", "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            # A parent that ignores SIGINT (a background job) would pass that on, and Ctrl-C
            # would never reach the server: restore the default before exec.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.stdout: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def next_line(self) -> str:
        """The next stdout line; fails if the process ends or stays silent too long."""
        line = self.lines.get(timeout=STARTUP_TIMEOUT_S)
        assert line is not None, f"serve ended early: {self.stdout}, {self.stderr()}"
        self.stdout.append(line)
        return line

    def ports(self) -> list[int]:
        """Read stdout until two 'listening on' lines appeared; return their ports."""
        ports: list[int] = []
        while len(ports) < 2:
            match = LISTENING.search(self.next_line())
            if match is not None:
                ports.append(int(match[1]))
        return ports

    def interrupt(self) -> int:
        """Send SIGINT, wait for the exit, read the rest of stdout; return the exit status."""
        self.process.send_signal(signal.SIGINT)
        status = self.process.wait(timeout=EXIT_TIMEOUT_S)
        self.reader.join(timeout=EXIT_TIMEOUT_S)
        while (line := self.lines.get(timeout=EXIT_TIMEOUT_S)) is not None:
            self.stdout.append(line)
        return status

    def stderr(self) -> str:
        if self.process.poll() is None or self.process.stderr is None:
            return ""
        return self.process.stderr.read()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=EXIT_TIMEOUT_S)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


def serve_env(admin_token: str | None) -> dict[str, str]:
    """This environment, with the admin token variable set to *admin_token* or removed."""
    env = {name: value for name, value in os.environ.items() if name != ADMIN_TOKEN_ENV}
    if admin_token is not None:
        env[ADMIN_TOKEN_ENV] = admin_token
    return env


@pytest.fixture
def serve_process() -> Iterator[list[ServeProcess]]:
    """Processes a test starts; any still running at the end are killed."""
    started: list[ServeProcess] = []
    yield started
    for process in started:
        process.kill()


def check_serving(ports: list[int], admin_token: str) -> None:
    """One request to each port: an admin inject on the first, a governed call on the second."""
    status, body = request(ports[0], "POST", "/api/ops/chaos/inject", token=admin_token)
    assert 200 == status
    assert 70 == body["new_budget"]
    status, body = request(ports[1], "POST", "/v1/tools/execute", {"tool": "echo", "args": {}})
    assert 200 == status
    assert "ALLOW" == body["verdict"]


def test_serve_with_token_from_environment(serve_process: list[ServeProcess]) -> None:
    """serve takes the admin token from the environment, listens on two ports, and on SIGINT
    prints 'stopping' and exits 0 within 5 s."""
    process = ServeProcess(serve_env(ADMIN_TOKEN))
    serve_process.append(process)
    ports = process.ports()
    assert 2 == len(set(ports))
    check_serving(ports, ADMIN_TOKEN)
    assert 0 == process.interrupt()
    assert "stopping" in process.stdout
    assert not any("generated" in line for line in process.stdout)


def test_serve_without_token_prints_a_generated_one_once(serve_process: list[ServeProcess]) -> None:
    """Without a token, serve prints a generated admin token once, and that token is an admin's;
    SIGINT stops it with status 0."""
    process = ServeProcess(serve_env(None))
    serve_process.append(process)
    ports = process.ports()
    tokens = [m[1] for line in process.stdout if (m := GENERATED.search(line)) is not None]
    assert 1 == len(tokens)
    token = tokens[0]
    assert 16 <= len(token) <= 256
    check_serving(ports, token)
    assert 0 == process.interrupt()
    assert "stopping" in process.stdout
    assert 1 == sum(line.count(token) for line in process.stdout)


def test_concurrent_calls_are_safe() -> None:
    """200 governed calls from 16 threads over both ports all answer 200 ALLOW, executed once
    each, and every receipt chain and the ProofGraph verify."""
    kernel = server.demo_kernel(ADMIN_TOKEN)
    running = server.start(kernel, "127.0.0.1", [0, 0])
    answers: dict[int, tuple[int, Any]] = {}
    errors: list[BaseException] = []
    barrier = threading.Barrier(THREADS)

    def worker(thread: int) -> None:
        port = running.ports[thread % 2]
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            barrier.wait(timeout=10)
            for i in range(thread, CALLS, THREADS):
                body = {"tool": "echo", "args": {"x": i}, "context": {"session_id": f"s-{i % 4}"}}
                connection.request(
                    "POST",
                    "/v1/tools/execute",
                    json.dumps(body).encode(),
                    {"Content-Type": "application/json"},
                )
                response = connection.getresponse()
                answers[i] = (response.status, json.loads(response.read()))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(THREADS)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    finally:
        running.stop()
    assert [] == errors
    assert list(range(CALLS)) == sorted(answers)
    for i, (status, body) in answers.items():
        assert 200 == status
        assert "ALLOW" == body["verdict"]
        assert "executed" == body["execution"]["status"]
        assert {"x": i} == body["execution"]["output"]
    assert CALLS == len({body["decision_id"] for _, body in answers.values()})
    assert CALLS == len({body["execution"]["receipt_id"] for _, body in answers.values()})
    assert {f"s-{n}" for n in range(4)} == set(kernel.chains.chains)
    assert CALLS == sum(len(chain) for chain in kernel.chains.chains.values())
    assert [] == chain_problems(kernel) + graph_problems(kernel)
    assert 3 * CALLS == len(kernel.graph.nodes)


@pytest.mark.parametrize(
    ("argv", "bad_value"),
    [
        (["serve", "--port", "70000"], "70000"),
        (["serve", "--port", "-1"], "-1"),
        (["serve", "--port", "abc"], "abc"),
        (["serve", "--token", "nope"], "nope"),
    ],
)
def test_bad_arguments_exit_2_naming_the_value(
    capsys: pytest.CaptureFixture[str], argv: list[str], bad_value: str
) -> None:
    """A bad port or token pair exits with status 2 and names the bad value on stderr."""
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert 2 == exited.value.code
    captured = capsys.readouterr()
    assert bad_value in captured.err
    assert "" == captured.out


@pytest.fixture(scope="module")
def demo_ports() -> Iterator[list[int]]:
    """The demo kernel served on one ephemeral port for the module, stopped after."""
    running = server.start(server.demo_kernel(ADMIN_TOKEN), "127.0.0.1", [0])
    try:
        yield running.ports
    finally:
        running.stop()


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/v1/tools/execute", 405),
        ("POST", "/api/ops/status", 405),
        ("HEAD", "/v1/tools/execute", 405),
        ("TRACE", "/v1/tools/execute", 405),
        ("HEAD", "/nowhere", 404),
        ("TRACE", "/nowhere", 404),
    ],
)
def test_every_method_gets_a_problem_from_the_surface(
    demo_ports: list[int], method: str, path: str, status: int
) -> None:
    """Over the wire, any method on a known path it does not take is a 405 problem with Allow,
    and on an unknown path a 404 problem, whatever the method."""
    connection = http.client.HTTPConnection("127.0.0.1", demo_ports[0], timeout=5)
    try:
        connection.request(method, path)
        response = connection.getresponse()
        response.read()
    finally:
        connection.close()
    assert status == response.status
    assert "application/problem+json" == response.getheader("Content-Type")
    if status == 405:
        expected = "GET" if path == "/api/ops/status" else "POST"
        assert expected == response.getheader("Allow")


def test_chunked_body_over_one_mebibyte_is_413_at_once(demo_ports: list[int]) -> None:
    """A chunked body whose first chunk announces 2 MiB gets a 413 problem within 1 s, without
    the server waiting for the chunk's bytes."""
    request = (
        b"POST /v1/tools/execute HTTP/1.1\r\n"
        b"Host: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n"
        b"\r\n"
        b"200000\r\n"
        b'{"data":"AAAA'
    )
    with socket.create_connection(("127.0.0.1", demo_ports[0]), timeout=1.0) as sock:
        started = time.monotonic()
        sock.sendall(request)
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(65536)
            assert chunk, f"the connection closed after {head!r}"
            head += chunk
        elapsed_s = time.monotonic() - started
    assert head.startswith(b"HTTP/1.1 413 ")
    assert b"content-type: application/problem+json" in head.lower()
    assert elapsed_s < 1.0
