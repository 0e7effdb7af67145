"""A small threaded HTTPS server shared by the Microsoft and splunkd stand-ins.

Why this file exists: both stand-ins need the same plumbing: loopback only, TLS with
the throwaway certificate, a thread per connection with the TLS handshake done in that
thread (so one stalled client cannot block accept), HTTP/1.1 keep-alive as ``requests``
uses it, bounded idle timeouts, and a ``stop()`` that really closes open keep-alive
connections. The stand-ins only implement ``handle(request) -> Response``.

Responses can also be *faults*: close without answering (TCP reset), send a body
shorter than its Content-Length then close (truncated), or sleep first (slow).
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import struct
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from socketserver import ThreadingMixIn
from typing import Any, Callable
from urllib.parse import parse_qsl, urlsplit

LOOPBACK = "127.0.0.1"


@dataclass
class Request:
    method: str
    host: str  # Host header without port, lower-case
    path: str  # percent-encoded path as sent
    query: str  # raw query string
    headers: dict[str, str]  # lower-case names
    body: bytes
    sni: str | None
    client: tuple[str, int]

    @property
    def params(self) -> dict[str, str]:
        """Query parameters (last one wins), decoded."""
        return dict(parse_qsl(self.query, keep_blank_values=True))

    @property
    def param_list(self) -> list[tuple[str, str]]:
        return parse_qsl(self.query, keep_blank_values=True)

    def form(self) -> list[tuple[str, str]]:
        return parse_qsl(self.body.decode("utf-8", "replace"), keep_blank_values=True)


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    # fault behaviours
    reset: bool = False  # close the TCP connection without any answer (RST)
    truncate_to: int | None = None  # send only this many body bytes, then close
    delay: float = 0.0  # sleep before answering
    parts: list[bytes] | None = None  # body given as parts (avoids one big join)

    def body_len(self) -> int:
        if self.parts is not None:
            return sum(len(p) for p in self.parts)
        return len(self.body)


Handler = Callable[[Request], Response]


class _TLSThreadingServer(ThreadingMixIn, HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, port: int, ctx: ssl.SSLContext | None, app: Handler, idle_timeout: float) -> None:
        self.ctx = ctx
        self.app = app
        self.idle_timeout = idle_timeout
        self.open_sockets: set[socket.socket] = set()
        self.sockets_lock = threading.Lock()
        super().__init__((LOOPBACK, port), _RequestHandler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        # Runs in the per-connection thread: do the TLS handshake here, not in accept().
        raw: socket.socket = request
        raw.settimeout(self.idle_timeout)
        try:
            tls = raw if self.ctx is None else self.ctx.wrap_socket(raw, server_side=True)
        except (OSError, ssl.SSLError):
            raw.close()
            return
        with self.sockets_lock:
            self.open_sockets.add(tls)
        try:
            _RequestHandler(tls, client_address, self)
        except (OSError, ssl.SSLError):
            pass  # client went away, or a "reset" fault
        finally:
            with self.sockets_lock:
                self.open_sockets.discard(tls)
            with contextlib.suppress(OSError):
                tls.close()

    def shutdown_request(self, request: Any) -> None:
        with contextlib.suppress(OSError):
            request.close()

    def handle_error(self, request: Any, client_address: Any) -> None:  # keep test output quiet
        pass


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _TLSThreadingServer
    server_version = "standin"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = self._read_chunked()
        else:
            body = self.rfile.read(length) if length else b""
        split = urlsplit(self.path)
        host = (self.headers.get("Host") or "").strip().lower()
        if host.startswith("["):
            host = host[: host.find("]") + 1]
        elif ":" in host:
            host = host.rsplit(":", 1)[0]
        req = Request(
            method=self.command,
            host=host,
            path=split.path,
            query=split.query,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            sni=getattr(self.connection, "standin_sni", None),
            client=self.client_address,
        )
        resp = self.server.app(req)
        if resp.delay:
            time.sleep(resp.delay)
        if resp.reset:
            # SO_LINGER 0 turns close() into a TCP RST: the client sees "connection reset".
            with contextlib.suppress(OSError):
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            raise ConnectionAbortedError("stand-in fault: reset")
        self.send_response(resp.status)
        names = {k.lower() for k, _ in resp.headers}
        for k, v in resp.headers:
            self.send_header(k, v)
        total = resp.body_len()
        if "content-length" not in names:
            self.send_header("Content-Length", str(total))
        client_wants_close = self.headers.get("Connection", "").lower() == "close"
        if resp.truncate_to is not None or client_wants_close:
            # Echo "Connection: close" as real servers do. splunklib's default handler
            # closes its connection before reading the body unless the response says
            # keep-alive or close; without this header the body would read as empty.
            if "connection" not in names:
                self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command == "HEAD":
            return
        if resp.truncate_to is not None:
            data = resp.body if resp.parts is None else b"".join(resp.parts)
            self.wfile.write(data[: resp.truncate_to])
            self.wfile.flush()
            return
        if resp.parts is not None:
            for part in resp.parts:
                self.wfile.write(part)
        else:
            self.wfile.write(resp.body)
        self.wfile.flush()

    def _read_chunked(self) -> bytes:
        out = bytearray()
        for _ in range(1_000_000):
            line = self.rfile.readline(65537)
            size = int(line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                self.rfile.readline(65537)
                break
            out += self.rfile.read(size)
            self.rfile.readline(65537)
        return bytes(out)

    do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = do_HEAD = _serve  # noqa: N815 (http.server's names)


class HttpsServer:
    """Run *app* on 127.0.0.1:*port* (0 = any free port) over TLS with cert/key files
    (plain HTTP when both are None, as Splunk Web's default)."""

    def __init__(
        self, app: Handler, certfile: str | None, keyfile: str | None, port: int = 0, idle_timeout: float = 30.0
    ):
        ctx: ssl.SSLContext | None = None
        if certfile is not None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.minimum_version = ssl.TLSVersion.TLSv1_2
            ctx.load_cert_chain(certfile, keyfile)

            def _sni(sslobj: Any, name: str | None, _ctx: ssl.SSLContext) -> None:
                with contextlib.suppress(AttributeError):
                    sslobj.standin_sni = name

            ctx.sni_callback = _sni
        self._server = _TLSThreadingServer(port, ctx, app, idle_timeout)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, name="standin-https", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()  # stop accepting
        # Wake handler threads parked on idle keep-alive connections before
        # server_close() joins them (ThreadingMixIn.block_on_close).
        with self._server.sockets_lock:
            open_now = list(self._server.open_sockets)
        for s in open_now:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
