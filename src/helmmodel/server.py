"""``helmmodel serve``: a real HTTP server over the kernel's request surface.

One threading server per port, all sharing one kernel (the facade is thread-safe). A body over
1 MiB is answered with 413 as soon as its announced ``Content-Length`` (or, for a chunked body, the
bytes read) passes the limit, before the rest is read; ``Expect: 100-continue`` gets the 413 in
place of the 100. After such an answer the connection closes with a short, bounded *lingering
close*: closing a socket that still has unread bytes makes TCP send a reset, which can destroy
the 413 before the client reads it.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import attrs

from helmmodel.kernel import Kernel
from helmmodel.kernel.api import BODY_BYTES_MAX, Response, announced_length, problem

ADMIN_PRINCIPAL = "admin"
READ_TIMEOUT_S = 10.0
LINGER_TIMEOUT_S = 1.0
LINGER_BYTES_MAX = 8 * BODY_BYTES_MAX
ECHO_SCHEMA = {
    "type": "object",
    "properties": {"x": {"type": "integer"}},
    "additionalProperties": False,
}


def demo_kernel(admin_token: str, tokens: Sequence[tuple[str, str]] = ()) -> Kernel:
    """The kernel ``serve`` exposes: tools echo, sum and fail, each allowed for everyone.

    *admin_token* is an admin's bearer token; *tokens* pairs further tokens with principals
    that are not admins.
    """
    kernel = Kernel()
    kernel.register_tool("echo", ECHO_SCHEMA)
    kernel.register_tool(
        "sum", {"type": "object", "additionalProperties": {"type": "integer"}}, behaviour="sum"
    )
    kernel.register_tool("fail", {"type": "object"}, behaviour="fail")
    for tool in ("echo", "sum", "fail"):
        kernel.put_rule(tool, {"id": f"{tool}-open", "logic": "AND", "leaves": []})
    kernel.add_token(admin_token, ADMIN_PRINCIPAL, frozenset({"admin"}))
    for token, principal in tokens:
        kernel.add_token(token, principal)
    return kernel


class _BodyTooLarge(Exception):
    pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = READ_TIMEOUT_S
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.access_log:
            super().log_message(format, *args)

    def _send(self, response: Response, *, close: bool = False) -> None:
        self.send_response(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":  # a HEAD answer carries the headers only
            self.wfile.write(response.body)
        self.wfile.flush()

    def _too_large(self, size: int) -> Response:
        return problem(413, f"the body is {size} bytes or more; at most {BODY_BYTES_MAX} accepted")

    def handle_expect_100(self) -> bool:
        length = announced_length({"content-length": self.headers.get("Content-Length", "")})
        if length is not None and length > BODY_BYTES_MAX:
            self._send(self._too_large(length), close=True)
            return False
        return super().handle_expect_100()

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        total = 0
        while True:
            size_line = self.rfile.readline(1024).split(b";", 1)[0].strip()
            size = int(size_line, 16)
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            total += size
            if total > BODY_BYTES_MAX:
                raise _BodyTooLarge(total)
            chunks.append(self.rfile.read(size))
            self.rfile.readline(1024)

    def _serve(self) -> None:
        length_header = self.headers.get("Content-Length")
        chunked = "chunked" in self.headers.get("Transfer-Encoding", "").lower()
        try:
            if chunked:
                body = self._read_chunked()
            elif length_header is not None:
                length = announced_length({"content-length": length_header})
                if length is None:
                    self._send(problem(400, "Content-Length is not a number"), close=True)
                    return
                if length > BODY_BYTES_MAX:
                    raise _BodyTooLarge(length)
                body = self.rfile.read(length)
            else:
                body = b""
        except _BodyTooLarge as exc:
            self._send(self._too_large(int(exc.args[0])), close=True)
            return
        except ValueError:
            self._send(problem(400, "the chunked body is malformed"), close=True)
            return
        headers = {name: value for name, value in self.headers.items()}
        self._send(self.server.kernel.handle(self.command, self.path, headers, body))

    def __getattr__(self, name: str) -> Any:
        # Every method, known or not, goes to the request surface, which answers 404 or 405.
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], kernel: Kernel, access_log: bool) -> None:
        self.kernel = kernel
        self.access_log = access_log
        super().__init__(address, _Handler)

    def shutdown_request(self, request: Any) -> None:
        # A bounded lingering close: see the module docstring.
        with contextlib.suppress(OSError):
            request.shutdown(socket.SHUT_WR)
            request.settimeout(LINGER_TIMEOUT_S)
            drained = 0
            while drained < LINGER_BYTES_MAX:
                data = request.recv(65536)
                if not data:
                    break
                drained += len(data)
        self.close_request(request)


@attrs.frozen(kw_only=True)
class RunningServers:
    """Servers started by :func:`start`: their ports, and how to stop them."""

    servers: list[_Server]
    threads: list[threading.Thread]

    @property
    def ports(self) -> list[int]:
        return [server.server_address[1] for server in self.servers]

    def stop(self) -> None:
        """Stop accepting, finish the serving loops, close the sockets."""
        for server in self.servers:
            server.shutdown()
        for server in self.servers:
            server.server_close()
        for thread in self.threads:
            thread.join(timeout=5)


def start(
    kernel: Kernel, host: str, ports: Sequence[int], *, access_log: bool = False
) -> RunningServers:
    """Listen on every port of *ports* (0 picks a free one), each in its own thread."""
    servers: list[_Server] = []
    try:
        for port in ports:
            servers.append(_Server((host, port), kernel, access_log))
    except OSError:
        for server in servers:
            server.server_close()
        raise
    threads = [
        threading.Thread(target=server.serve_forever, name=f"helmmodel-serve-{i}", daemon=True)
        for i, server in enumerate(servers)
    ]
    for thread in threads:
        thread.start()
    return RunningServers(servers=servers, threads=threads)
