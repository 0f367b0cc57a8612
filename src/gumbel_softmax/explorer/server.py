"""Start the interactive explorer: a local web page that shows Gumbel-Softmax at work.

`gumbel-softmax explore` serves the page and its JSON API (see
`gumbel_softmax.explorer.api`) from the standard library's
`ThreadingHTTPServer` on http://127.0.0.1:8765/ and prints the URL; Ctrl-C
stops it. The page computes nothing random itself: every sample comes from the
server, i.e. from this library. SIGTERM stops it the same way. `--host` may
name an IPv4 or IPv6 address or a host name; a port already in use, or a host
that does not resolve, is one line on stderr and exit status 2.

Safety: it binds to 127.0.0.1 unless `--host` says otherwise; it serves only
the files of its own `static/` folder, looked up by exact name (no path is
ever joined from the request, so `..` cannot escape); every API parameter is
checked and a bad one gets HTTP 400 with `{"error": ..., "parameter": ...}`;
a request whose `Host` header names another host gets 403 (DNS rebinding);
a bug gets a JSON 500, its traceback logged on the server only. The
`Limits` bound the open connections
(503 past them), the requests computing at once (each in bounded memory; 503
after waiting too long for a turn), and the time a client may take to send a
request (see `gumbel_softmax.explorer.guard`).
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import signal
import socket
import sys
import threading
import time
import webbrowser
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BufferedReader
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from gumbel_softmax.explorer import guard
from gumbel_softmax.explorer.api import ROUTES
from gumbel_softmax.explorer.guard import Limits
from gumbel_softmax.explorer.params import MAX_QUERY, BadRequest

__all__ = ["make_server", "serve", "ExplorerServer", "Limits", "STATIC", "run"]

STATIC = Path(__file__).resolve().parent / "static"
MAX_FIELDS = 16  # query fields per request; no endpoint takes more than 5

_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css"}
_TYPES |= {".png": "image/png", ".svg": "image/svg+xml", ".ico": "image/x-icon"}
# The page loads nothing from elsewhere: no CDN, no external fonts; the browser enforces it too.
_POLICY = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'"
_log = logging.getLogger(__name__)


def _static_files() -> dict[str, Path]:
    """URL path -> file, for the files shipped in `static/` (read once; requests only look names up)."""
    files = {f"/static/{p.name}": p for p in STATIC.iterdir() if p.is_file() and p.suffix in _TYPES}
    files["/"] = STATIC / "index.html"
    return files


class ExplorerServer(ThreadingHTTPServer):
    """A `ThreadingHTTPServer` with the explorer's limits: at most `limits.connections` handler threads.

    Args:
        host: the host to bind, as the user gave it (kept for the `Host` check).
        address: `(address, port)` to bind; `family`: its address family (IPv4 or IPv6).
        limits: the `Limits`.
        quiet: if `False`, log every request to stderr.
    """

    def __init__(self, host: str, address: tuple[str, int], family: int, limits: Limits, quiet: bool) -> None:
        self.address_family = family
        self.request_queue_size = limits.connections  # the listen backlog: a burst waits to be accepted
        self.limits, self.quiet, self.files = limits, quiet, _static_files()
        self.slots = threading.BoundedSemaphore(limits.compute_slots)
        self.open_connections = 0
        self._lock = threading.Lock()
        super().__init__(address, ExplorerHandler)
        bound = str(self.server_address[0])
        self.host_names = guard.allowed_names(host, bound)
        self.any_literal = guard.is_wildcard(bound)

    def process_request(self, request: Any, client_address: Any) -> None:
        """Serve on a new thread if fewer than `limits.connections` are open, else answer 503 now."""
        with self._lock:
            full = self.open_connections >= self.limits.connections
            self.open_connections += not full
        if full:
            body = {"error": f"busy: {self.limits.connections} connections are open; try again", "parameter": None}
            guard.refuse(request, body)
            return self.shutdown_request(request)
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._closed()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._closed()

    def _closed(self) -> None:
        with self._lock:
            self.open_connections -= 1


class ExplorerHandler(BaseHTTPRequestHandler):
    """Routes `GET` requests to the static files and the JSON API; everything else is a JSON error."""

    server: ExplorerServer
    server_version = "gumbel-softmax-explorer"

    def setup(self) -> None:
        self.timeout = self.server.limits.socket_timeout  # type: ignore[misc]
        super().setup()
        self.rfile.close()  # the plain reader: replaced by one with a deadline
        self.reader = guard.DeadlineReader(self.connection, self.timeout)
        self.rfile = BufferedReader(self.reader)

    def handle_one_request(self) -> None:
        self.reader.deadline = time.monotonic() + self.server.limits.request_deadline
        super().handle_one_request()

    def do_GET(self) -> None:
        try:
            self._get()
        except (ConnectionError, TimeoutError):
            pass  # the client went away; nothing to answer
        except Exception:  # the last line of defence: log it here, answer JSON, stay up
            _log.exception("explorer: internal error on GET %s", self.path[:200])
            self._json(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": "internal error", "parameter": None})

    def _get(self) -> None:
        host = self.headers.get("Host")
        if not guard.host_allowed(host, self.server.host_names, self.server.server_port, self.server.any_literal):
            status = HTTPStatus.BAD_REQUEST if host is None else HTTPStatus.FORBIDDEN
            why = "no Host header" if host is None else f"Host {host[:100]!r} is not this server"
            return self._json(status, {"error": f"{why}; open the URL the server printed", "parameter": "Host"})
        url = urlsplit(self.path)
        if len(url.query) > MAX_QUERY:
            return self._bad(BadRequest("request", f"query string of {len(url.query)} bytes; the limit is {MAX_QUERY}"))
        route = ROUTES.get(url.path)
        if route is not None:
            try:
                query = parse_qs(url.query, keep_blank_values=True, errors="strict", max_num_fields=MAX_FIELDS)
            except ValueError:  # too many fields or bad percent-encoding
                return self._bad(BadRequest("request", f"malformed query string (at most {MAX_FIELDS} fields, UTF-8)"))
            return self._compute(route, query)
        path = self.server.files.get(url.path)
        if path is None:
            return self._json(HTTPStatus.NOT_FOUND, {"error": "not found", "parameter": "path"})
        self._send(HTTPStatus.OK, path.read_bytes(), _TYPES[path.suffix])

    def _compute(self, route: Any, query: dict[str, list[str]]) -> None:
        """Run `route` in one of the compute slots; 503 if none frees up within `limits.compute_wait`."""
        wait = self.server.limits.compute_wait
        if not self.server.slots.acquire(timeout=wait):
            return self._json(
                HTTPStatus.SERVICE_UNAVAILABLE, {"error": f"busy: no compute slot within {wait:g} s", "parameter": None}
            )
        try:
            body = route(query)
        except BadRequest as error:
            return self._bad(error)
        finally:
            self.server.slots.release()
        self._json(HTTPStatus.OK, body)

    def _bad(self, error: BadRequest) -> None:
        self._json(HTTPStatus.BAD_REQUEST, {"error": error.message, "parameter": error.parameter})

    def _json(self, status: HTTPStatus, body: dict[str, Any]) -> None:
        self._send(status, guard.json_bytes(body), "application/json")

    def _send(self, status: HTTPStatus, data: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Content-Security-Policy", _POLICY)
        self.end_headers()
        self.wfile.write(data)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Protocol-level errors (bad request line, unsupported method, header too long) as JSON too."""
        self.close_connection = True
        try:
            self._json(HTTPStatus(code), {"error": message or HTTPStatus(code).phrase, "parameter": "request"})
        except (ConnectionError, TimeoutError):
            pass

    def log_message(self, format: str, *args: Any) -> None:
        if not self.server.quiet:
            super().log_message(format, *args)


def make_server(
    host: str = "127.0.0.1", port: int = 8765, quiet: bool = True, limits: Limits | None = None
) -> ExplorerServer:
    """A bound, not yet running explorer server (`port=0` picks a free port: see `server_address`).

    Args:
        host: the interface to bind: an IPv4 or IPv6 address or a name (the first address it
            resolves to is used); 127.0.0.1 keeps it to this machine.
        port: the TCP port, or 0 for any free one.
        quiet: if `False`, log every request to stderr.
        limits: the resource limits (`Limits`).

    Returns:
        an `ExplorerServer`; call `serve_forever()` (blocking) and `server_close()`.

    **Raises:** `OSError` if the host does not resolve (`socket.gaierror`) or the port cannot be bound.
    """
    family, _, _, _, sockaddr = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    return ExplorerServer(host, (str(sockaddr[0]), port), family, limits or Limits(), quiet)


def url_of(server: ExplorerServer) -> str:
    """The URL to open for `server`: a loopback address when it listens on every interface."""
    bound = str(server.server_address[0])
    address = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(bound, bound)
    return f"http://{f'[{address}]' if ':' in address else address}:{server.server_port}/"


def serve(host: str = "127.0.0.1", port: int = 8765, open_browser: bool = False, quiet: bool = True) -> int:
    """Run the explorer until Ctrl-C; print the URL first. Returns the exit status: 0, or 2 if it cannot listen."""
    try:
        server = make_server(host, port, quiet)
    except OSError as error:
        print(f"error: cannot listen on {host} port {port}: {error.strerror or error}", file=sys.stderr, flush=True)
        return 2
    url = url_of(server)
    print(f"Gumbel-Softmax explorer at {url}  (Ctrl-C stops it)", flush=True)
    if not ipaddress.ip_address(str(server.server_address[0])).is_loopback:
        print(f"warning: listening on {host}: other machines can reach this server", file=sys.stderr, flush=True)
    if open_browser:
        threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()
    previous = _stop_on_sigterm()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    print("explorer stopped", flush=True)
    return 0


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _stop_on_sigterm() -> Any:
    """Make SIGTERM stop the server like Ctrl-C (from the main thread only); return the old handler."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, _interrupt)


def run(args: argparse.Namespace) -> int:
    """`gumbel-softmax explore`: serve until stopped (options: `gumbel_softmax.explorer.options`)."""
    return serve(args.host, args.port, open_browser=args.open, quiet=not args.verbose)
