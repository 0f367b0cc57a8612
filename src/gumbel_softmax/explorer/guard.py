"""What the explorer's server refuses: foreign `Host` headers, connections past a cap, trickling requests.

The explorer is a local tool, but a local web server is reachable from any web
page the user opens, and a machine has finitely many threads. Three guards:

- **DNS rebinding.** A page on `evil.example` can make its name resolve to
  127.0.0.1 and then read our answers as same-origin. Its requests still carry
  `Host: evil.example:8765`, so `host_allowed` accepts only the loopback
  names (`localhost`, `127.0.0.1`, `[::1]`) and the host the server was
  bound to, on the bound port. When bound to every interface (`0.0.0.0` or
  `::`) any IP literal is accepted too: a literal address involves no DNS,
  so it cannot be rebound, and it is how other machines reach such a server.
- **Open connections.** Each connection holds one thread; past
  `Limits.connections` a new one is answered 503 at once (`refuse`).
- **Slow clients.** A socket timeout bounds each read; `DeadlineReader`
  bounds the whole request too, so a client that sends one byte every few
  seconds cannot hold a thread for longer than `Limits.request_deadline`
  (it gets a 408). An idle kept-alive connection is closed after the socket
  timeout.
"""

from __future__ import annotations

import http.client
import io
import ipaddress
import json
import math
import re
import socket
import time
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Limits",
    "LOOPBACK_NAMES",
    "allowed_names",
    "host_allowed",
    "is_wildcard",
    "DeadlineReader",
    "RequestReader",
    "HeadersTooLarge",
    "json_bytes",
    "refuse",
    "close_gently",
    "PRODUCT",
]

PRODUCT = "gumbel-softmax-explorer"  # the `Server` header: the product only, never the Python version

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
_WILDCARDS = frozenset({"0.0.0.0", "::"})
# host, then an optional port: a name, an IPv4 address, or a bracketed IPv6 address; nothing else (no "@", no path).
_HOST = re.compile(r"(?:\[(?P<v6>[0-9a-f:.]+)\]|(?P<name>[a-z0-9.-]+))(?::(?P<port>[0-9]{1,5}))?")


@dataclass(frozen=True)
class Limits:
    """The explorer server's resource limits.

    Args:
        connections: connections open at once (one handler thread each); more get 503 at once.
        compute_slots: requests computing at once; more wait for a slot.
        compute_wait: seconds a request waits for a compute slot before it gets 503.
        socket_timeout: seconds a client may stall in one read or write before it is dropped.
        request_deadline: seconds to receive a whole request (request line and headers).
        header_bytes: the most bytes of header lines a request may send (431 past them).
        linger: seconds to read and drop what a client still sends once its connection is done
            (a body never read, the rest of an oversized request), so that closing does not reset
            the connection before the client has read the answer.
    """

    connections: int = 64  # above the 50 concurrent requests the tests send; each waiting thread is cheap
    compute_slots: int = 4  # 2-16 cores: 4 keeps the machine responsive
    # The largest request (K = 64, n = 100,000) took 1.6 s on a shared 2-core machine: 64 of them finish in ~50 s.
    compute_wait: float = 60.0
    socket_timeout: float = 10.0
    request_deadline: float = 20.0  # a real client sends its few hundred header bytes in milliseconds
    header_bytes: int = 65536  # the header section; browsers send well under 8 KiB
    linger: float = 1.0  # seconds to read what a client still sends after the last answer, before closing


def json_bytes(body: dict[str, Any]) -> bytes:
    """`body` as compact JSON (no `NaN`: JSON has none)."""
    return json.dumps(body, allow_nan=False, separators=(",", ":")).encode()


def allowed_names(requested: str, bound: str) -> frozenset[str]:
    """The host names a `Host` header may carry: loopback, the host asked for, the address bound."""
    return LOOPBACK_NAMES | {requested.strip("[]").lower(), bound.lower()}


def host_allowed(header: str | None, names: frozenset[str], port: int, any_literal: bool = False) -> bool:
    """Whether a request's `Host` header names this server (see the module docstring).

    Args:
        header: the `Host` header, or `None` when the request has none.
        names: the accepted host names, lower case, IPv6 without brackets (`allowed_names`).
        port: the bound port; a header without a port means 80.
        any_literal: also accept any IPv4 or bracketed IPv6 literal (for servers bound to every interface).

    Returns:
        `True` if the request may be answered.
    """
    match = _HOST.fullmatch((header or "").strip().lower())
    if match is None or int(match["port"] or 80) != port:
        return False
    host = match["v6"] or match["name"]
    if host in names:
        return True
    if not any_literal:
        return False
    try:
        ipaddress.ip_address(host)  # (an IPv6 literal can only have matched in brackets)
    except ValueError:
        return False
    return True


def is_wildcard(address: str) -> bool:
    """Whether `address` is the every-interface address (`0.0.0.0` or `::`)."""
    return address in _WILDCARDS


class DeadlineReader(io.RawIOBase):
    """A socket's incoming bytes that stop, with `TimeoutError`, once `deadline` has passed.

    Each read waits at most `min(timeout, time left)`; the socket's timeout is put
    back after it, so writes keep the plain per-call `timeout`. `start` begins a
    request: it sets the deadline and clears `received` (bytes read since) and
    `expired` (whether a read has timed out since), so that the server can tell a
    client that stalled mid-request (answered 408) from an idle one (closed).

    Args:
        sock: a connected socket.
        timeout: the per-read timeout in seconds.
    """

    def __init__(self, sock: socket.socket, timeout: float) -> None:
        super().__init__()
        self.sock = sock
        self.timeout = timeout
        self.deadline = math.inf  # a time.monotonic() value; set per request
        self.received = 0
        self.expired = False

    def start(self, seconds: float) -> None:
        """Begin a request that must arrive within `seconds`."""
        self.deadline = time.monotonic() + seconds
        self.received, self.expired = 0, False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        left = self.deadline - time.monotonic()
        try:
            if left <= 0:
                raise TimeoutError("the request took longer than its deadline to arrive")
            self.sock.settimeout(min(self.timeout, left))
            try:
                count = self.sock.recv_into(buffer)
            finally:
                self.sock.settimeout(self.timeout)
        except TimeoutError:
            self.expired = True
            raise
        self.received += count
        return count


class HeadersTooLarge(http.client.HTTPException):
    """A request's header section is longer than the server takes (the base handler answers 431)."""


class RequestReader(io.BufferedReader):
    """A `DeadlineReader`, buffered, whose `readline` also bounds a request's header section.

    While `left` is finite (the server sets it while it parses headers), each line read is counted
    against it, and passing zero raises `HeadersTooLarge`: without it a client could send 100 header
    lines of 64 KiB each (6.5 MB) on every connection.

    Args:
        raw: the socket's `DeadlineReader`.
    """

    def __init__(self, raw: DeadlineReader) -> None:
        super().__init__(raw)
        self.left: float = math.inf

    def readline(self, size: int | None = -1, /) -> bytes:
        line = super().readline(size)
        self.left -= len(line)
        if self.left < 0:
            raise HeadersTooLarge("the header section is too large")
        return line


def refuse(sock: socket.socket, body: dict[str, Any]) -> None:
    """Answer a connection we will not serve with `503` and `body` as JSON, without blocking for long.

    The socket is left half-closed and drained (`close_gently`); the caller closes it.
    """
    data = json_bytes(body)
    head = (
        f"HTTP/1.1 503 Service Unavailable\r\nServer: {PRODUCT}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(data)}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n"
    )
    try:
        sock.settimeout(1.0)  # a fresh socket's send buffer takes the few hundred bytes at once
        sock.sendall(head.encode() + data)
    except OSError:
        pass
    close_gently(sock, 0.2)


def close_gently(sock: socket.socket, seconds: float, limit: int = 1 << 20) -> None:
    """End our side of `sock` and read what the client still sends, for up to `seconds` or `limit` bytes.

    Closing a socket with unread bytes makes the kernel reset the connection, and a reset can discard
    our answer before the client reads it (a 414 or 431, an answer to a request that carried a body):
    so the client's leftover bytes are read and dropped until it closes too, within these bounds.
    """
    end = time.monotonic() + seconds
    try:
        sock.shutdown(socket.SHUT_WR)
        while limit > 0 and (left := end - time.monotonic()) > 0:
            sock.settimeout(left)
            chunk = sock.recv(min(limit, 65536))
            if not chunk:
                break
            limit -= len(chunk)
    except OSError:
        pass
