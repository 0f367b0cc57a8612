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
a bug gets a JSON 500, its traceback logged on the server only; whatever bytes
arrive get one well-formed HTTP/1.1 answer (see `ExplorerHandler`). The
`Limits` bound the open connections
(503 past them), the requests computing at once (each in bounded memory; 503
after waiting too long for a turn), and the time a client may take to send a
request (see `gumbel_softmax.explorer.guard`).
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import math
import re
import signal
import socket
import sys
import threading
import webbrowser
from email.message import Message
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, parse_qs, urlsplit

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
_TOKEN = frozenset(b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")  # RFC 9110 tchar


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
            return self.close_request(request)
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

    def shutdown_request(self, request: Any) -> None:
        """Close a served connection without a reset that could discard the last answer (`guard.close_gently`)."""
        guard.close_gently(request, self.limits.linger)
        self.close_request(request)

    def _closed(self) -> None:
        with self._lock:
            self.open_connections -= 1


class ExplorerHandler(BaseHTTPRequestHandler):
    """Routes `GET` and `HEAD` requests to the static files and the JSON API; everything else is a JSON error.

    It speaks HTTP/1.1 (persistent connections, pipelined requests answered in order) and refuses, each
    with a status line, headers and a short JSON body, what it will not parse: a malformed or
    version-less (HTTP/0.9) request line (400), a major version other than 1 (505), malformed header
    lines, a bad `Content-Length` or one with `Transfer-Encoding` (400), no or several `Host`s (400),
    a foreign host in `Host` or in an absolute-form target (403, DNS rebinding), an oversized request
    line (414) or headers (431), a request that stalls (408). It reads no request body: a request that
    carries one is answered and its connection closed. Every answer names the product only in `Server`.
    """

    server: ExplorerServer
    raw_requestline: bytes  # (set by the base class before `parse_request`)
    server_version = guard.PRODUCT
    sys_version = ""
    protocol_version = "HTTP/1.1"
    # The version errors are answered in when the request line names none (the base class would use
    # HTTP/0.9, which has no status line): this server speaks HTTP/1.1 only.
    default_request_version = "HTTP/1.1"

    def setup(self) -> None:
        self.timeout = self.server.limits.socket_timeout  # type: ignore[misc]
        super().setup()
        self.rfile.close()  # the plain reader: replaced by one with a deadline
        self.reader = guard.DeadlineReader(self.connection, self.timeout)
        self.rfile = self.lines = guard.RequestReader(self.reader)

    def version_string(self) -> str:
        return self.server_version

    def handle(self) -> None:
        try:
            super().handle()
        except ConnectionError:
            pass  # the client reset the connection: nobody to answer, nothing to log

    def handle_one_request(self) -> None:
        self.reader.start(self.server.limits.request_deadline)
        self.command, self.request_version = None, self.default_request_version  # type: ignore[assignment]
        self.requestline = ""  # (logged with the answer; a request that stalls in its first line has none)
        try:
            first = self.lines.peek(1)[:1]
        except TimeoutError:
            first = b""  # an idle connection: closed below, without an answer
        if first and first[0] not in _TOKEN:  # a method is a token: this is not HTTP (binary, TLS): say so at once
            self.requestline = repr(self.lines.peek(16)[:16])
            self.send_error(HTTPStatus.BAD_REQUEST, "not an HTTP request (a request starts with a method: GET)")
            return
        if first:
            super().handle_one_request()  # a read that times out ends it quietly
        else:
            self.close_connection = True
        if self.reader.expired and self.reader.received:  # part of a request came, then the client stalled
            self.send_error(HTTPStatus.REQUEST_TIMEOUT, "the request did not arrive in time")

    def parse_request(self) -> bool:
        """The base class's parsing, refusing at once what it would accept or wait on (see the class doc)."""
        words = self.raw_requestline.split()
        self.requestline = self.raw_requestline.decode("latin-1").rstrip("\r\n")
        if len(words) < 3:  # the base class would take `GET /` for HTTP/0.9 and wait for headers never sent
            why = "an HTTP/0.9 request line" if len(words) == 2 else "a malformed request line"
            self.send_error(HTTPStatus.BAD_REQUEST, f"{why}: send METHOD TARGET HTTP/1.1 (HTTP/0.9 is not supported)")
            return False
        version = re.fullmatch(rb"HTTP/([0-9])\.[0-9]", words[-1])  # RFC 9112 2.3: one digit each, case-sensitive
        if len(words) == 3 and version is None:
            self.send_error(
                HTTPStatus.BAD_REQUEST, f"bad HTTP version {words[-1][:20].decode('latin-1')!r}: send HTTP/1.1"
            )
            return False
        if version is not None and version[1] != b"1":  # the base class would answer HTTP/0.9 with a bare body
            self.send_error(HTTPStatus.HTTP_VERSION_NOT_SUPPORTED, "this server speaks HTTP/1.1 (and 1.0)")
            return False
        self.lines.left = self.server.limits.header_bytes
        try:
            if not super().parse_request():
                return False
        finally:
            self.lines.left = math.inf
        problem = _header_problem(self.headers)
        if problem is not None:
            self._refuse(HTTPStatus.BAD_REQUEST, BadRequest("request", problem))
            return False
        body = self.headers.get("Transfer-Encoding") is not None or int(self.headers.get("Content-Length", 0)) > 0
        if self.request_version != "HTTP/1.1" or body:  # HTTP/1.0: one request; a body: never read, so close
            self.close_connection = True
        return True

    def handle_expect_100(self) -> bool:
        return True  # no `100 Continue`: the body is never read (the request is answered, then the connection closed)

    def do_GET(self) -> None:
        try:
            self._get()
        except (ConnectionError, TimeoutError):
            pass  # the client went away; nothing to answer
        except Exception:  # the last line of defence: log it here, answer JSON, stay up
            _log.exception("explorer: internal error on %s %s", self.command, self.path[:200])
            self._json(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": "internal error", "parameter": None})

    do_HEAD = do_GET  # the same answer, whose body `_send` leaves out

    def _get(self) -> None:
        url = _target(self.path)
        if url is None:
            return self._refuse(
                HTTPStatus.BAD_REQUEST, BadRequest("request", "the request target must be a path or an http:// URL")
            )
        hosts = self.headers.get_all("Host") or []
        if len(hosts) != 1:
            why = "no Host header" if not hosts else f"{len(hosts)} Host headers; send one"
            return self._refuse(HTTPStatus.BAD_REQUEST, BadRequest("Host", why))
        host = url.netloc or hosts[0]  # RFC 9112 3.2.2: an absolute-form target's host replaces Host
        if not guard.host_allowed(host, self.server.host_names, self.server.server_port, self.server.any_literal):
            why = f"Host {host[:100]!r} is not this server; open the URL the server printed"
            return self._refuse(HTTPStatus.FORBIDDEN, BadRequest("Host", why))
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

    def _refuse(self, status: HTTPStatus, error: BadRequest, *extra: tuple[str, str]) -> None:
        """Answer `status` with `error` as JSON and close the connection (what follows cannot be trusted)."""
        self.close_connection = True
        self._json(status, {"error": error.message, "parameter": error.parameter}, *extra)

    def _json(self, status: HTTPStatus, body: dict[str, Any], *extra: tuple[str, str]) -> None:
        self._send(status, guard.json_bytes(body), "application/json", *extra)

    def _send(self, status: HTTPStatus, data: bytes, content_type: str, *extra: tuple[str, str]) -> None:
        """Send a complete answer; the body is left out for `HEAD` (its `Content-Length` is still the body's)."""
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Content-Security-Policy", _POLICY)
        for name, value in extra:
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Protocol-level errors (bad request line, unsupported method, header too long) as JSON too."""
        status = HTTPStatus(code)
        self.log_error("code %d, message %s", code, message)
        allow = (("Allow", "GET, HEAD"),) if status == HTTPStatus.NOT_IMPLEMENTED else ()
        why = message or status.phrase
        if explain is not None:  # (given by the base class only with something to add: "got more than ...")
            why = f"{why}: {explain}"
        try:
            self._refuse(status, BadRequest("request", why), *allow)
        except OSError:
            pass  # the client went away

    def log_message(self, format: str, *args: Any) -> None:
        if not self.server.quiet:
            super().log_message(format, *args)


def _target(target: str) -> SplitResult | None:
    """The request target split (`netloc` empty for a path), or `None` if it is neither a path nor an http URL."""
    try:
        url = urlsplit(target)
    except ValueError:  # e.g. an unclosed IPv6 bracket
        return None
    if target.startswith("/"):  # (the base class has already reduced a leading `//` to `/`)
        return url
    return url if url.scheme.lower() == "http" and url.netloc and url.hostname else None


def _header_problem(headers: Message) -> str | None:
    """What is wrong with a request's header section for this server, or `None`."""
    if headers.defects or headers.get_payload() or any("\n" in value for value in headers.values()):
        return "malformed header line (each must be `Name: value`, with no line folding)"
    lengths = {value.strip() for value in headers.get_all("Content-Length") or []}
    if len(lengths) > 1 or any(not re.fullmatch(r"[0-9]{1,15}", value) for value in lengths):
        return "bad Content-Length: give one, as a decimal number"
    codings = ",".join(headers.get_all("Transfer-Encoding") or [])
    if codings and lengths:
        return "both Content-Length and Transfer-Encoding: send one"
    if codings and codings.rsplit(",", 1)[-1].strip().lower() != "chunked":  # RFC 9112 6.1: no way to find the end
        return "Transfer-Encoding must end with chunked"
    return None


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
