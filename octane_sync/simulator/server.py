"""The HTTP/1.1 server: parses requests, applies injected faults, writes responses, logs.

Stdlib `ThreadingHTTPServer` with keep-alive, because it gives direct control over the
socket: a dropped connection and a truncated body are real, not mocked.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

from octane_sync.simulator import api, control
from octane_sync.simulator.faults import UNAVAILABLE_HTML, Fault
from octane_sync.simulator.protocol import Request, Response, error_response, parse_cookies

if TYPE_CHECKING:
    from octane_sync.simulator.core import OctaneSimulator

log = logging.getLogger("octane_sync.simulator")
CONTROL_PREFIX = "/__sim__/"


class SimulatorServer(ThreadingHTTPServer):
    """Serves one OctaneSimulator; remembers open connections so `close_all` can end them."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], sim: OctaneSimulator) -> None:
        self.sim = sim
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request, client_address) -> None:  # type: ignore[override]
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request) -> None:  # type: ignore[override]
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request, client_address) -> None:  # type: ignore[override]
        """A client that hung up mid-response (a timeout, a test ending) is not news."""
        log.debug("connection from %s ended abruptly", client_address, exc_info=True)

    def close_all(self) -> None:
        """End every kept-alive connection, so handler threads finish and clients see EOF."""
        with self._open_lock:
            sockets = list(self._open)
        for sock in sockets:
            with contextlib.suppress(OSError):  # already closed by the peer
                sock.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as two writes: no 40 ms stall
    server_version = "octane-simulator/1.0"
    sys_version = ""
    server: SimulatorServer

    def log_message(self, format: str, *args: object) -> None:
        log.debug("%s - %s", self.address_string(), format % args)

    def version_string(self) -> str:
        return self.server_version

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The `Date` header, from the simulated clock (clients derive `until` from it)."""
        return formatdate(self.server.sim.clock.now(), usegmt=True)

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def _handle(self, method: str) -> None:
        sim = self.server.sim
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        request = Request(
            method=method,
            path=parts.path,
            params=parse_qs(parts.query, keep_blank_values=True),
            headers=self.headers,
            cookies=parse_cookies(self.headers.get("Cookie")),
            body=self.rfile.read(length) if length else b"",
        )
        if parts.path.startswith(CONTROL_PREFIX):
            self._send(_safely(control.handle, sim, request))
            return
        fault = sim.faults.take(parts.path)
        if fault is not None and fault.kind == "drop":
            sim.log_request(request, 0)
            self.close_connection = True
            return
        if fault is not None and fault.kind == "slow":
            time.sleep(float(fault.options.get("delay", 1.0)))
        response = fault_response(fault)
        if response is None:
            response = _safely(api.handle, sim, request)
        sim.log_request(request, response.status)
        self._send(response, fault if fault is not None and fault.kind == "truncate" else None)

    def _send(self, response: Response, truncate: Fault | None = None) -> None:
        body = response.body
        declared = len(body)
        if truncate is not None:
            body = body[: len(body) // 2]
            if truncate.options.get("keep_length"):
                self.close_connection = True
            else:
                declared = len(body)
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(declared))
        for name, value in response.headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


def fault_response(fault: Fault | None) -> Response | None:
    """The canned answer of a fault that replaces the response, or None."""
    if fault is None:
        return None
    if fault.kind == "rate_limit":
        retry_after = str(fault.options.get("retry_after", 1))
        return error_response(
            429, "TOO_MANY_REQUESTS", "Too many requests.", headers=[("Retry-After", retry_after)]
        )
    if fault.kind == "unavailable":
        return Response(503, UNAVAILABLE_HTML, "text/html; charset=iso-8859-1")
    if fault.kind == "server_error":
        return error_response(500, "platform.general_error", "Internal server error (simulated).")
    return None


def _safely(route, sim: OctaneSimulator, request: Request) -> Response:
    """Any bug answers a 500 with an Octane body instead of killing the connection."""
    try:
        return route(sim, request)
    except Exception:
        log.exception("simulator route failed: %s %s", request.method, request.path)
        return error_response(500, "platform.general_error", "Internal server error.")
