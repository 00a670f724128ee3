"""A small scriptable HTTP(S) server for registry behaviour a real registry will not produce.

    def handler(req: Request) -> Reply:
        if req.path == "/v2/":
            return Response(401, [("WWW-Authenticate", 'Bearer realm="https://127.0.0.2:1/token"'),
                                  ("WWW-Authenticate", 'Basic realm="x"')])
        return Hang()

    with FakeRegistry(handler, cert_file=pki.server_cert, key_file=pki.server_key) as fake:
        requests.get(f"{fake.url}/v2/", verify=pki.ca_file)
        assert fake.requests[0].path == "/v2/"

The handler runs in the connection's thread, once per request; instead of a callable a single reply may be given
(answered to every request). Replies: ``Response`` (normal; headers are a list of (name, value) pairs sent in
order, so repeated headers stay separate lines), ``Raw`` (bytes written verbatim), ``Drip`` (bytes trickled out),
``Huge`` (a lazily generated large body), ``Hang`` (never answer), ``Close`` (close, or reset, the connection).
"""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import struct
import threading
import traceback
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from types import TracebackType
from typing import Any, Literal, Protocol

_MAX_HEAD = 64 * 1024


# --------------------------------------------------------------------------------------------------------------
# requests


@dataclass(frozen=True)
class Request:
    method: str
    target: str                          # the raw request-target, e.g. "/v2/acme/web/manifests/1.0?x=1"
    path: str                            # target without the query string
    query: dict[str, str]                # decoded query (last value wins)
    version: str                         # "HTTP/1.1"
    headers: tuple[tuple[str, str], ...]  # in arrival order, names as sent
    body: bytes
    connection: int                      # 1-based number of the TCP connection it came on (keep-alive reuse)
    client: tuple[str, int]

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive), or None."""
        values = self.header_all(name)
        return values[0] if values else None

    def header_all(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]


# --------------------------------------------------------------------------------------------------------------
# replies


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


@dataclass(frozen=True)
class Response:
    """A normal response. Content-Length is added when neither it nor Transfer-Encoding is among ``headers``
    (the body is not sent to a HEAD request). The connection is kept alive unless either side asks to close."""

    status: int = 200
    headers: Sequence[tuple[str, str]] = ()
    body: bytes | str = b""
    reason: str | None = None

    @staticmethod
    def json(status: int, payload: Any, headers: Sequence[tuple[str, str]] = ()) -> Response:
        return Response(status, [("Content-Type", "application/json"), *headers], json.dumps(payload).encode())

    def body_bytes(self) -> bytes:
        return self.body.encode() if isinstance(self.body, str) else self.body

    def head_bytes(self) -> bytes:
        lines = [f"HTTP/1.1 {self.status} {self.reason if self.reason is not None else _reason(self.status)}"]
        names = {k.lower() for k, _ in self.headers}
        lines += [f"{k}: {v}" for k, v in self.headers]
        if "content-length" not in names and "transfer-encoding" not in names:
            lines.append(f"Content-Length: {len(self.body_bytes())}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def to_bytes(self) -> bytes:
        return self.head_bytes() + self.body_bytes()


@dataclass(frozen=True)
class Raw:
    """Bytes written verbatim (malformed status lines or headers, ...); then the connection is closed."""

    data: bytes
    close: bool = True


@dataclass(frozen=True)
class Drip:
    """``data`` (bytes, or a Response rendered whole) sent ``step`` bytes every ``interval`` seconds, after the
    first ``immediate`` bytes at once (``headers_at_once=True`` with a Response: its head at once, body dripped).
    The connection is closed when done."""

    data: bytes | Response
    interval: float = 0.5
    step: int = 1
    immediate: int = 0
    headers_at_once: bool = False

    def plan(self) -> tuple[bytes, bytes]:
        """(sent at once, dripped)."""
        if isinstance(self.data, Response):
            raw = self.data.to_bytes()
            first = len(self.data.head_bytes()) if self.headers_at_once else self.immediate
        else:
            raw, first = self.data, self.immediate
        return raw[:first], raw[first:]


@dataclass(frozen=True)
class Huge:
    """A ``size``-byte body generated lazily: ``prefix`` then ``fill`` repeated. Content-Length is set unless
    ``chunked`` (then Transfer-Encoding: chunked). Stops quietly when the client goes away; then closes."""

    size: int = 200 * 1024 * 1024
    status: int = 200
    headers: Sequence[tuple[str, str]] = (("Content-Type", "application/json"),)
    chunked: bool = False
    prefix: bytes = b""
    fill: bytes = b"A"
    chunk_size: int = 64 * 1024


@dataclass(frozen=True)
class Hang:
    """Read the request and never answer (until the server stops, or for ``seconds``, then close)."""

    seconds: float | None = None


@dataclass(frozen=True)
class Close:
    """Close the connection at once without an answer; ``reset=True`` sends a TCP RST instead of a FIN."""

    reset: bool = False


Reply = Response | Raw | Drip | Huge | Hang | Close
Handler = Callable[[Request], Reply]


# --------------------------------------------------------------------------------------------------------------
# server


class _ClientGone(Exception):
    pass


class FakeRegistry:
    """A threaded HTTP(S) server on ``host`` and a free port (or ``port``). TLS when ``cert_file``/``key_file``
    are given, plain HTTP otherwise. Use as a context manager or call ``start()``/``stop()``."""

    def __init__(self, handler: Handler | Reply, *, host: str = "127.0.0.1", port: int = 0,
                 cert_file: str | None = None, key_file: str | None = None, start: bool = True) -> None:
        if callable(handler):
            self._handler: Handler = handler
        else:
            fixed: Reply = handler

            def always(_req: Request) -> Reply:
                return fixed

            self._handler = always
        self.host = host
        self._context: ssl.SSLContext | None = None
        if cert_file is not None:
            self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self._context.load_cert_chain(cert_file, key_file)
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((host, port))
        self._listener.listen(64)
        self._listener.settimeout(0.1)
        self.port: int = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._requests: list[Request] = []
        self._errors: list[str] = []
        self._conns: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._connections = 0
        self._accept_thread = threading.Thread(target=self._accept_loop, name=f"fake-registry-{self.port}", daemon=True)
        self._started = False
        if start:
            self.start()

    # -- public -------------------------------------------------------------------------------------------------

    @property
    def scheme(self) -> str:
        return "https" if self._context is not None else "http"

    @property
    def address(self) -> str:
        """"127.0.0.1:PORT"."""
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """"https://127.0.0.1:PORT" (or http)."""
        return f"{self.scheme}://{self.address}"

    @property
    def requests(self) -> list[Request]:
        """Every request read so far (a copy), in arrival order."""
        with self._lock:
            return list(self._requests)

    @property
    def errors(self) -> list[str]:
        """Tracebacks of handler exceptions (each such request was answered 500 with the traceback)."""
        with self._lock:
            return list(self._errors)

    @property
    def connections(self) -> int:
        """How many TCP connections were accepted."""
        with self._lock:
            return self._connections

    def reset(self) -> None:
        with self._lock:
            self._requests.clear()
            self._errors.clear()

    def start(self) -> FakeRegistry:
        if not self._started:
            self._started = True
            self._accept_thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting, wake every hang/drip, close every connection. Safe to call twice."""
        self._stop.set()
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._lock:
            conns = list(self._conns)
            threads = list(self._threads)
        for conn in conns:
            _abort(conn)
        if self._started:
            self._accept_thread.join(timeout=2)
        for thread in threads:
            thread.join(timeout=2)

    def __enter__(self) -> FakeRegistry:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # -- internals ----------------------------------------------------------------------------------------------

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, client = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(None)
            with self._lock:
                self._connections += 1
                number = self._connections
                self._conns.add(conn)
                thread = threading.Thread(target=self._serve, args=(conn, client, number), daemon=True,
                                          name=f"fake-registry-{self.port}-conn{number}")
                self._threads.append(thread)
            thread.start()

    def _serve(self, raw_conn: socket.socket, client: tuple[str, int], number: int) -> None:
        conn: socket.socket = raw_conn
        try:
            if self._context is not None:
                # wrap_socket detaches raw_conn's descriptor, so the TLS socket is registered *before* the
                # handshake: stop() can then shut down a connection whose client never says hello.
                conn = self._context.wrap_socket(raw_conn, server_side=True, do_handshake_on_connect=False)
                with self._lock:
                    self._conns.add(conn)
                if self._stop.is_set():
                    return
                conn.do_handshake()
            rfile = conn.makefile("rb")
            while not self._stop.is_set():
                req = _read_request(rfile, client, number)
                if req is None:
                    return
                with self._lock:
                    self._requests.append(req)
                try:
                    reply = self._handler(req)
                except Exception:  # noqa: BLE001 - the test sees it in .errors and in the 500 body
                    text = traceback.format_exc()
                    with self._lock:
                        self._errors.append(text)
                    reply = Response(500, [("Content-Type", "text/plain"), ("Connection", "close")], text)
                if not self._send(conn, req, reply):
                    return
        except (OSError, ssl.SSLError, _ClientGone, ValueError):
            return
        finally:
            _abort(conn)
            with self._lock:
                self._conns.discard(conn)
                self._conns.discard(raw_conn)

    def _send(self, conn: socket.socket, req: Request, reply: Reply) -> bool:
        """Write ``reply``; True if the connection may serve another request."""
        if isinstance(reply, Response):
            data = reply.head_bytes() if req.method == "HEAD" else reply.to_bytes()
            conn.sendall(data)
            wants_close = any(k.lower() == "connection" and v.lower() == "close" for k, v in reply.headers)
            return not wants_close and (req.header("Connection") or "").lower() != "close"
        if isinstance(reply, Raw):
            conn.sendall(reply.data)
            return not reply.close
        if isinstance(reply, Drip):
            first, rest = reply.plan()
            if first:
                conn.sendall(first)
            step = max(1, reply.step)
            for i in range(0, len(rest), step):
                if self._stop.wait(reply.interval):
                    return False
                conn.sendall(rest[i:i + step])
            return False
        if isinstance(reply, Huge):
            self._send_huge(conn, req, reply)
            return False
        if isinstance(reply, Hang):
            self._stop.wait(reply.seconds)
            return False
        if isinstance(reply, Close):
            if reply.reset:
                with contextlib.suppress(OSError):
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return False
        raise TypeError(f"handler returned {reply!r}, not a Reply")

    def _send_huge(self, conn: socket.socket, req: Request, reply: Huge) -> None:
        headers = list(reply.headers)
        headers.append(("Transfer-Encoding", "chunked") if reply.chunked else ("Content-Length", str(reply.size)))
        conn.sendall(Response(reply.status, headers).head_bytes())
        if req.method == "HEAD":
            return
        block = (reply.fill * (reply.chunk_size // max(1, len(reply.fill)) + 1))[:reply.chunk_size]
        sent = 0
        pending = reply.prefix[:reply.size]
        while sent < reply.size and not self._stop.is_set():
            if not pending:
                pending = block[:reply.size - sent]
            piece, pending = pending[:reply.chunk_size], pending[reply.chunk_size:]
            conn.sendall(b"%x\r\n%s\r\n" % (len(piece), piece) if reply.chunked else piece)
            sent += len(piece)
        if reply.chunked and sent >= reply.size:
            conn.sendall(b"0\r\n\r\n")


class FakeRegistryFactory(Protocol):
    """The ``fake_registry`` fixture: tls="ca" (session CA), "untrusted" (unrelated CA) or "none" (plain HTTP)."""

    def __call__(self, handler: Handler | Reply, *, host: str = ..., tls: Literal["ca", "untrusted", "none"] = ...,
                 port: int = ...) -> FakeRegistry: ...


def _abort(conn: socket.socket) -> None:
    with contextlib.suppress(OSError):
        conn.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        conn.close()


def _read_request(rfile: Any, client: tuple[str, int], number: int) -> Request | None:
    line = rfile.readline(_MAX_HEAD)
    while line in (b"\r\n", b"\n"):  # tolerate stray CRLF between keep-alive requests
        line = rfile.readline(_MAX_HEAD)
    if not line:
        return None
    parts = line.decode("latin-1").strip().split()
    if len(parts) != 3:
        raise _ClientGone(f"bad request line {line!r}")
    method, target, version = parts
    headers: list[tuple[str, str]] = []
    total = 0
    while True:
        hline = rfile.readline(_MAX_HEAD)
        total += len(hline)
        if not hline or total > _MAX_HEAD:
            raise _ClientGone("incomplete head")
        if hline in (b"\r\n", b"\n"):
            break
        name, _, value = hline.decode("latin-1").partition(":")
        headers.append((name.strip(), value.strip()))
    lower = {k.lower(): v for k, v in headers}
    body = b""
    if lower.get("transfer-encoding", "").lower() == "chunked":
        chunks = []
        while True:
            size = int(rfile.readline(_MAX_HEAD).split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while rfile.readline(_MAX_HEAD) not in (b"\r\n", b"\n", b""):
                    pass
                break
            chunks.append(rfile.read(size))
            rfile.readline(_MAX_HEAD)
        body = b"".join(chunks)
    elif lower.get("content-length"):
        body = rfile.read(int(lower["content-length"]))
    split = urllib.parse.urlsplit(target)
    return Request(method=method, target=target, path=split.path,
                   query=dict(urllib.parse.parse_qsl(split.query, keep_blank_values=True)), version=version,
                   headers=tuple(headers), body=body, connection=number, client=client)


def bearer_challenge(realm: str, service: str | None = None, scope: str | None = None,
                     error: str | None = None) -> tuple[str, str]:
    """('WWW-Authenticate', 'Bearer realm="...",service="...",scope="..."') as docker-registry writes it."""
    params = [("realm", realm), ("service", service), ("scope", scope), ("error", error)]
    return "WWW-Authenticate", "Bearer " + ",".join(f'{k}="{v}"' for k, v in params if v is not None)


def registry_error(status: int, code: str, message: str, headers: Sequence[tuple[str, str]] = ()) -> Response:
    """A registry-style error: {"errors":[{"code":..., "message":..., "detail":null}]}."""
    return Response.json(status, {"errors": [{"code": code, "message": message, "detail": None}]},
                         [("Docker-Distribution-Api-Version", "registry/2.0"), *headers])


__all__ = ["Close", "Drip", "FakeRegistry", "FakeRegistryFactory", "Handler", "Hang", "Huge", "Raw", "Reply", "Request",
           "Response", "bearer_challenge", "registry_error"]
