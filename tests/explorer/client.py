"""A running explorer server for tests, a tiny HTTP client that returns (status, headers, JSON or bytes),
and a raw one that sends any bytes and splits what comes back into responses."""

from __future__ import annotations

import contextlib
import http.client
import json
import re
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from gumbel_softmax.explorer import make_server
from gumbel_softmax.explorer.guard import Limits


@contextlib.contextmanager
def running_server(limits: Limits | None = None) -> Iterator[str]:
    """Serve the explorer on a free port of 127.0.0.1 in a thread; yield its base URL; stop it after."""
    server = make_server("127.0.0.1", 0, limits=limits)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def get(
    base: str, path: str, method: str = "GET", headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], Any]:
    """Send ``path`` exactly as given (no normalization); decode the body as JSON when it says it is JSON.

    The ``Host`` header is the server's ``host:port`` (as a browser sends it, even when ``path`` is an absolute
    URL) unless ``headers`` gives another; ``headers={"Host": None}`` sends none.
    """
    authority = base.removeprefix("http://")
    host, port = authority.rsplit(":", 1)
    connection = http.client.HTTPConnection(host.strip("[]"), int(port), timeout=60)
    try:
        connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        for name, value in ({"Host": authority} | (headers or {})).items():
            if value is not None:
                connection.putheader(name, value)
        connection.endheaders()
        response = connection.getresponse()
        data = response.read()
        headers = {k.lower(): v for k, v in response.getheaders()}
    finally:
        connection.close()
    body = json.loads(data) if headers.get("content-type") == "application/json" else data
    return response.status, headers, body


def port_of(base: str) -> int:
    """The port of a base URL such as ``http://127.0.0.1:8765``."""
    return int(base.rsplit(":", 1)[1])


def exchange(base: str, data: bytes, half_close: bool = False, timeout: float = 30) -> bytes:
    """Send raw ``data`` on a new connection and return every byte the server sends until it closes.

    With ``half_close`` the client then shuts its sending side (the server sees the end of the request
    stream); without it the connection stays open, so a server that waits for more bytes makes this fail
    with ``TimeoutError`` after ``timeout`` seconds. A reset after the server's last byte ends the reply.
    """
    with socket.create_connection(("127.0.0.1", port_of(base)), timeout=timeout) as conn:
        conn.sendall(data)
        if half_close:
            conn.shutdown(socket.SHUT_WR)
        reply = b""
        try:
            while chunk := conn.recv(65536):
                reply += chunk
        except ConnectionResetError:
            pass
    return reply


@dataclass
class Response:
    """One HTTP response read from raw bytes: status line, headers (lower-case names, each a list), body."""

    status_line: str
    headers: dict[str, list[str]]
    body: bytes

    @property
    def status(self) -> int:
        return int(self.status_line.split()[1])

    def header(self, name: str) -> str:
        """The one value of header ``name`` (it must appear exactly once)."""
        (value,) = self.headers[name.lower()]
        return value

    def json(self) -> Any:
        return json.loads(self.body)


def responses(reply: bytes, head_only: frozenset[int] = frozenset()) -> list[Response]:
    """Split a server's raw ``reply`` into its responses (each framed by its ``Content-Length``).

    ``head_only`` holds the positions of responses to ``HEAD`` requests: they have the headers of a body
    but none. Fails if the bytes are not a sequence of well-formed HTTP/1.1 responses.
    """
    out = []
    while reply:
        head, separator, rest = reply.partition(b"\r\n\r\n")
        assert separator, f"no end of headers in {reply[:200]!r}"
        status_line, *lines = head.decode("latin-1").split("\r\n")
        assert re.fullmatch(r"HTTP/1\.1 [1-5][0-9]{2} [A-Za-z -]+", status_line), status_line
        headers: dict[str, list[str]] = {}
        for line in lines:
            name, colon, value = line.partition(":")
            assert colon and name == name.strip(), line
            headers.setdefault(name.lower(), []).append(value.strip())
        length = 0 if len(out) in head_only else int(headers["content-length"][0])
        assert len(rest) >= length, (status_line, len(rest), length)
        out.append(Response(status_line, headers, rest[:length]))
        reply = rest[length:]
    return out
