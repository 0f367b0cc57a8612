"""Start the interactive explorer: a local web page that shows Gumbel-Softmax at work.

``gumbel-softmax explore`` serves the page and its JSON API (see
:mod:`gumbel_softmax.explorer.api`) from the standard library's
``ThreadingHTTPServer`` on http://127.0.0.1:8765/ and prints the URL; Ctrl-C
stops it. The page computes nothing random itself: every sample comes from the
server, i.e. from this library. SIGTERM stops it the same way.

Safety: it binds to 127.0.0.1 unless ``--host`` says otherwise; it serves only
the files of its own ``static/`` folder, looked up by exact name (no path is
ever joined from the request, so ``..`` cannot escape); every API parameter is
checked and a bad one gets HTTP 400 with ``{"error": ..., "parameter": ...}``;
at most :data:`COMPUTE_SLOTS` requests compute at once, each in bounded memory;
a client that stalls is dropped after :data:`SOCKET_TIMEOUT` seconds.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import webbrowser
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from gumbel_softmax.explorer.api import ROUTES
from gumbel_softmax.explorer.params import MAX_QUERY, BadRequest

__all__ = ["make_server", "serve", "STATIC", "COMPUTE_SLOTS", "SOCKET_TIMEOUT", "add_arguments", "run"]

STATIC = Path(__file__).resolve().parent / "static"
COMPUTE_SLOTS = 4  # concurrent computations; more requests wait their turn (2-16 cores: 4 keeps it responsive)
SOCKET_TIMEOUT = 10.0  # seconds a client may stall mid-request before it is dropped
MAX_FIELDS = 16  # query fields per request; no endpoint takes more than 5

_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css"}
_TYPES |= {".png": "image/png", ".svg": "image/svg+xml", ".ico": "image/x-icon"}
# The page loads nothing from elsewhere: no CDN, no external fonts; the browser enforces it too.
_POLICY = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'"


def _static_files() -> dict[str, Path]:
    """URL path -> file, for the files shipped in ``static/`` (read once; requests only look names up)."""
    files = {f"/static/{p.name}": p for p in STATIC.iterdir() if p.is_file() and p.suffix in _TYPES}
    files["/"] = STATIC / "index.html"
    return files


class ExplorerHandler(BaseHTTPRequestHandler):
    """Routes ``GET`` requests to the static files and the JSON API; everything else is a JSON error."""

    server_version = "gumbel-softmax-explorer"
    timeout = SOCKET_TIMEOUT
    files: dict[str, Path] = {}
    slots = threading.BoundedSemaphore(COMPUTE_SLOTS)  # make_server gives each server its own
    quiet = True

    def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
        try:
            self._get()
        except (ConnectionError, TimeoutError):
            pass  # the client went away; nothing to answer
        except Exception as error:  # noqa: BLE001 - the last line of defence: log it, answer JSON, stay up
            self.log_error("internal error on %s: %r", self.path[:200], error)
            self._json(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": "internal error", "parameter": None})

    def _get(self) -> None:
        url = urlsplit(self.path)
        if len(url.query) > MAX_QUERY:
            return self._bad(BadRequest("request", f"query string of {len(url.query)} bytes; the limit is {MAX_QUERY}"))
        route = ROUTES.get(url.path)
        if route is not None:
            try:
                query = parse_qs(url.query, keep_blank_values=True, errors="strict", max_num_fields=MAX_FIELDS)
                with self.slots:
                    body = route(query)
            except BadRequest as error:
                return self._bad(error)
            except ValueError:  # parse_qs: too many fields or bad percent-encoding
                return self._bad(BadRequest("request", f"malformed query string (at most {MAX_FIELDS} fields, UTF-8)"))
            return self._json(HTTPStatus.OK, body)
        path = self.files.get(url.path)
        if path is None:
            return self._json(HTTPStatus.NOT_FOUND, {"error": "not found", "parameter": "path"})
        self._send(HTTPStatus.OK, path.read_bytes(), _TYPES[path.suffix])

    def _bad(self, error: BadRequest) -> None:
        self._json(HTTPStatus.BAD_REQUEST, {"error": error.message, "parameter": error.parameter})

    def _json(self, status: HTTPStatus, body: dict[str, Any]) -> None:
        data = json.dumps(body, allow_nan=False, separators=(",", ":")).encode()
        self._send(status, data, "application/json")

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

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the standard library's name)
        if not self.quiet:
            super().log_message(format, *args)


def make_server(host: str = "127.0.0.1", port: int = 8765, quiet: bool = True) -> ThreadingHTTPServer:
    """A bound, not yet running explorer server (``port=0`` picks a free port: see ``server_address``).

    **Arguments:**
        host: the interface to bind; 127.0.0.1 keeps it to this machine.
        port: the TCP port, or 0 for any free one.
        quiet: if ``False``, log every request to stderr.

    **Returns:** a ``ThreadingHTTPServer``; call ``serve_forever()`` (blocking) and ``server_close()``.
    """
    slots = threading.BoundedSemaphore(COMPUTE_SLOTS)
    handler = type("Handler", (ExplorerHandler,), {"files": _static_files(), "quiet": quiet, "slots": slots})
    return ThreadingHTTPServer((host, port), handler)


def serve(host: str = "127.0.0.1", port: int = 8765, open_browser: bool = False, quiet: bool = True) -> int:
    """Run the explorer until Ctrl-C; print the URL first. Returns the exit status (0)."""
    server = make_server(host, port, quiet)
    bound_host, bound_port = server.server_address[:2]
    url = f"http://{'127.0.0.1' if bound_host == '0.0.0.0' else bound_host}:{bound_port}/"
    print(f"Gumbel-Softmax explorer at {url}  (Ctrl-C stops it)", flush=True)
    if host not in ("127.0.0.1", "localhost", "::1"):
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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=8765, help="TCP port (default 8765; 0 picks a free one)")
    parser.add_argument("--open", action="store_true", help="open the page in the default web browser")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")


def run(args: argparse.Namespace) -> int:
    return serve(args.host, args.port, open_browser=args.open, quiet=not args.verbose)
