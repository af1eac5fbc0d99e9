"""``helmmodel serve``: a real HTTP server over the kernel's request surface.

One threading server per port, all sharing one kernel (the facade is thread-safe). A body over
1 MiB is answered with 413 as soon as its announced ``Content-Length`` (or, for a chunked body, the
bytes read) passes the limit, before the rest is read; ``Expect: 100-continue`` gets the 413 in
place of the 100. After such an answer the connection closes with a short, bounded *lingering
close*: closing a socket that still has unread bytes makes TCP send a reset, which can destroy
the 413 before the client reads it.

The server is bounded whatever its clients do: at most ``CONNECTIONS_MAX`` connections are served
at once (one more is answered 503 at once, without a thread); each request must arrive within
``REQUEST_DEADLINE_S`` (one watchdog thread shuts the socket of a client that trickles past it,
since a per-read timeout alone lets a byte every few seconds hold a thread for ever); with
``max_requests`` the kernel serves that many requests and then answers 503, so its records stop
growing (it keeps every decision, receipt and proof node: about 6 KB a governed call, measured
by ``benchmarks/bench_twin_memory.py``). A client that goes away before its answer is no error
of the server's: it is dropped without a traceback.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import attrs

from helmmodel import __version__
from helmmodel.errors import InvalidInput
from helmmodel.kernel import Kernel, KernelConfig
from helmmodel.kernel.api import BODY_BYTES_MAX, Response, announced_length, problem
from helmmodel.kernel.helm_api import (
    DEFAULT_PRINCIPAL,
    DEFAULT_TENANT,
    HelmSurface,
    ReleaseConfig,
)
from helmmodel.kernel.semantics import CHAOS_PAGE, HELM_AI_KERNEL, HELM_AI_KERNEL_COMMIT

ADMIN_PRINCIPAL = "admin"
READ_TIMEOUT_S = 10.0
LINGER_TIMEOUT_S = 1.0
LINGER_BYTES_MAX = 8 * BODY_BYTES_MAX
CONNECTIONS_MAX = 64
REQUEST_DEADLINE_S = 30.0
WATCHDOG_EVERY_S = 0.5
ECHO_SCHEMA = {
    "type": "object",
    "properties": {"x": {"type": "integer"}},
    "additionalProperties": False,
}


def _raw(response: Response) -> bytes:
    """*response* as the bytes of a closing HTTP/1.1 answer, for sending without a handler."""
    head = [f"HTTP/1.1 {response.status} {HTTPStatus(response.status).phrase}"]
    head += [f"{name}: {value}" for name, value in response.headers]
    head += [f"Content-Length: {len(response.body)}", "Connection: close", "", ""]
    return "\r\n".join(head).encode("latin-1") + response.body


class _RequestCount:
    """The requests the kernel served, shared by every port: at most *limit* of them."""

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self._served = 0
        self._lock = threading.Lock()

    def take(self) -> bool:
        """Count one more request; False once *limit* were served."""
        with self._lock:
            if self.limit is not None and self._served >= self.limit:
                return False
            self._served += 1
            return True


def exposure_warning(host: str) -> str | None:
    """What to say when *host* is reachable from beyond this machine (None for loopback)."""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name other than localhost: it may resolve anywhere
        loopback = False
    if loopback:
        return None
    return (
        f"listening on {host}, which other machines can reach; the twin's tool calls need no "
        "token, so anyone who can connect can run them"
    )


def wall_clock_ms() -> int:
    """Milliseconds since 1970 by this machine's clock: the release's API runs on wall time
    (fence commands carry real times), which the kernel never reads itself."""
    return time.time_ns() // 1_000_000


def release_config(
    *,
    admin_key: str | None = None,
    service_key: str | None = None,
    tenant_id: str = DEFAULT_TENANT,
    principal_id: str = DEFAULT_PRINCIPAL,
    workspace_id: str | None = None,
    fence_audience: str | None = None,
    fence_keys: Mapping[str, bytes] | None = None,
) -> ReleaseConfig:
    """The release API's configuration for ``serve``: its auth, its fence, the wall clock, and
    this twin as its version (helmmodel's version, and the release commit it follows)."""
    return ReleaseConfig(
        admin_key=admin_key,
        service_key=service_key,
        tenant_id=tenant_id,
        principal_id=principal_id,
        workspace_id=workspace_id,
        fence_audience=fence_audience,
        fence_keys=dict(fence_keys or {}),
        clock=wall_clock_ms,
        version=f"helmmodel-{__version__}",
        commit=HELM_AI_KERNEL_COMMIT,
    )


def demo_kernel(
    admin_token: str,
    tokens: Sequence[tuple[str, str]] = (),
    *,
    semantics: str = CHAOS_PAGE,
    release: ReleaseConfig | None = None,
) -> Kernel:
    """The kernel ``serve`` exposes: tools echo, sum and fail, each allowed for everyone.

    *admin_token* is an admin's bearer token; *tokens* pairs further tokens with principals
    that are not admins. Under the ``helm-ai-kernel`` *semantics* the kernel also answers the
    release's API, with the auth *release* gives (the release's defaults without it).
    """
    if release is not None and semantics != HELM_AI_KERNEL:
        raise InvalidInput(f"the release API's auth needs --semantics {HELM_AI_KERNEL}")
    kernel = Kernel(KernelConfig(semantics=semantics))
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
    if semantics == HELM_AI_KERNEL:
        kernel.surface.attach_release(HelmSurface(kernel, release or release_config()))
    return kernel


class _BodyTooLarge(Exception):
    pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = READ_TIMEOUT_S
    # The headers and the body go out in two writes; with Nagle's algorithm on, the second
    # waits for the client's delayed ACK of the first, 40 ms on every keep-alive answer.
    disable_nagle_algorithm = True
    server: _Server

    def handle_one_request(self) -> None:
        # Each request, keep-alive ones included, gets the whole deadline from its first read.
        self.server.watchdog.arm(self.connection, time.monotonic() + REQUEST_DEADLINE_S)
        try:
            super().handle_one_request()
        finally:
            self.server.watchdog.disarm(self.connection)

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
        if not self.server.requests.take():
            limit = self.server.requests.limit
            self._send(problem(503, f"this twin serves {limit} requests per start; restart it"))
            return
        self._send(self.server.kernel.handle(self.command, self.path, headers, body))

    def __getattr__(self, name: str) -> Any:
        # Every method, known or not, goes to the request surface, which answers 404 or 405.
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)


class _Watchdog:
    """One thread for all connections: shuts the socket of a request past its deadline, so the
    read blocking its handler thread ends at once."""

    def __init__(self) -> None:
        self._deadlines: dict[socket.socket, float] = {}
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="helmmodel-watchdog", daemon=True)
        self._thread.start()

    def arm(self, connection: socket.socket, deadline: float) -> None:
        with self._lock:
            self._deadlines[connection] = deadline

    def disarm(self, connection: socket.socket) -> None:
        with self._lock:
            self._deadlines.pop(connection, None)

    def _watch(self) -> None:
        while not self._stopped.wait(WATCHDOG_EVERY_S):
            now = time.monotonic()
            with self._lock:
                late = [c for c, deadline in self._deadlines.items() if deadline <= now]
                for connection in late:
                    del self._deadlines[connection]
            for connection in late:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=5)


# A client that closes, resets or stalls its connection ends its own request; the server says
# nothing about it (the standard library prints a traceback for each).
_CLIENT_GONE = (ConnectionError, TimeoutError)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        kernel: Kernel,
        access_log: bool,
        requests: _RequestCount,
    ) -> None:
        self.kernel = kernel
        self.access_log = access_log
        self.requests = requests
        self._slots = threading.BoundedSemaphore(CONNECTIONS_MAX)
        self._busy = _raw(problem(503, f"more than {CONNECTIONS_MAX} connections at once"))
        self.watchdog = _Watchdog()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            with contextlib.suppress(OSError):
                request.sendall(self._busy)
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, _CLIENT_GONE):
            return
        # Anything else is the server's own fault: one line, not the standard library's page.
        print(
            f"helmmodel serve: request from {client_address[0]} failed: "
            f"{type(error).__name__}: {error}",
            file=sys.stderr,
        )

    def server_close(self) -> None:
        super().server_close()
        self.watchdog.stop()

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
    kernel: Kernel,
    host: str,
    ports: Sequence[int],
    *,
    access_log: bool = False,
    max_requests: int | None = None,
) -> RunningServers:
    """Listen on every port of *ports* (0 picks a free one), each in its own thread; with
    *max_requests*, the ports together serve that many requests to the kernel, then answer
    503."""
    servers: list[_Server] = []
    requests = _RequestCount(max_requests)
    try:
        for port in ports:
            servers.append(_Server((host, port), kernel, access_log, requests))
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
