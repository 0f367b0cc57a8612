"""The explorer speaking HTTP to a hostile client: whatever bytes arrive, one well-formed HTTP/1.1 answer.

Raw sockets, so that nothing normalizes the request: bad request lines, HTTP/0.9, repeated or foreign
`Host`s (in the header or in an absolute-form target), `HEAD`, oversized and repeated headers, bodies
where none belong, pipelining, non-ASCII bytes and a burst of garbage. The server under test waits 300 s
for a stalled client, so a reply that waits for more bytes fails here on the client's 30 s timeout.
"""

from __future__ import annotations

import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from gumbel_softmax.explorer.guard import PRODUCT, Limits
from tests.explorer.client import Response, exchange, get, port_of, responses, running_server

PATIENT = Limits(socket_timeout=300, request_deadline=300)


@pytest.fixture(scope="module")
def base():
    with running_server(PATIENT) as url:
        yield url


def request(
    base: str, target: str = "/api/info", method: str = "GET", headers: str = "", host: str | None = ""
) -> bytes:
    """One HTTP/1.1 request as bytes, closing the connection after it; ``host=None`` sends no ``Host``."""
    host = f"127.0.0.1:{port_of(base)}" if host == "" else host
    lines = [f"{method} {target} HTTP/1.1", *([f"Host: {host}"] if host is not None else []), "Connection: close"]
    return ("\r\n".join(lines) + "\r\n" + headers + "\r\n").encode()


def one(reply: bytes, head: bool = False) -> Response:
    """The only response in ``reply``, checked for what every answer carries."""
    (response,) = responses(reply, head_only=frozenset({0}) if head else frozenset())
    assert response.header("Server") == PRODUCT
    assert b"Python" not in reply and b"Traceback" not in reply
    return response


def refused(reply: bytes, status: int, parameter: str = "request", head: bool = False) -> Response:
    """``reply`` is one JSON error `status` naming ``parameter``, after which the server closes."""
    response = one(reply, head)
    assert response.status == status, response.status_line
    assert response.header("Content-Type") == "application/json"
    assert response.header("Connection") == "close"
    if not head:
        assert response.json()["parameter"] == parameter and response.json()["error"]
    return response


@pytest.mark.parametrize(
    "line, status",
    [
        (b"GET / HTTP/9.9", 505),
        (b"GET / HTTP/2.0", 505),
        (b"GET / HTTP/0.9", 505),  # the base class would answer it with a bare body
        (b"GET / HTTP/01.1", 400),
        (b"GET", 400),
        (b"\x00\xff garbage", 400),
        (bytes(range(1, 10)) + bytes(range(14, 256)), 400),
        (b"GET / HTTP/1.1 extra", 400),
        (b"GET / HTTP/1.x", 400),
        (b"GET / FTP/1.1", 400),
        (b"GET / http/1.1", 400),
        (b"", 400),
    ],
)
def test_a_bad_request_line_gets_a_status_line_and_headers(base, line, status):
    refused(exchange(base, line + b"\r\n\r\n"), status)


@pytest.mark.parametrize("line", [b"GET /", b"GET /api/info", b"POST /"])
def test_a_request_line_without_a_version_is_refused_at_once(base, line):
    # HTTP/0.9 has no headers, so nothing more will come: the answer cannot wait for them.
    response = refused(exchange(base, line + b"\r\n"), 400)
    assert "HTTP/0.9" in response.json()["error"]


def test_every_answer_names_the_product_and_no_python_version(base):
    for target, method in [("/", "GET"), ("/nope", "GET"), ("/api/sample", "GET"), ("/", "POST"), ("/", "HEAD")]:
        one(exchange(base, request(base, target, method)), head=method == "HEAD")
    assert get(base, "/")[1]["server"] == PRODUCT


def test_a_refused_connection_names_the_product_too():
    with running_server(Limits(connections=1, socket_timeout=300, request_deadline=300)) as base:
        with socket.create_connection(("127.0.0.1", port_of(base)), timeout=30):
            # The server accepts the idle connection in its own time; from then on another is refused.
            for _ in range(400):
                response = one(exchange(base, request(base)))
                if response.status == 503:
                    break
                time.sleep(0.025)
            assert response.status == 503 and response.header("Connection") == "close"


@pytest.mark.parametrize("second", ["{host}", "evil.example"])
def test_two_host_headers_are_refused(base, second):
    host = f"127.0.0.1:{port_of(base)}"
    for target in ("/api/info", "/"):
        reply = exchange(base, request(base, target, headers=f"Host: {second.format(host=host)}\r\n"))
        assert "2 Host headers" in refused(reply, 400, "Host").json()["error"]


@pytest.mark.parametrize(
    "target, host, status",
    [
        ("http://evil.example:{port}/api/info", "", 403),  # the Host header is right, the target is not
        ("http://evil.example/api/info", "", 403),
        ("http://evil@127.0.0.1:{port}/api/info", "", 403),
        ("http://127.0.0.1:{other}/api/info", "", 403),
        ("http://127.0.0.1/api/info", "", 403),
        ("http://127.0.0.1:{port}/api/info", "evil.example", 200),  # RFC 9112 3.2.2: the target's host wins
        ("HTTP://localhost:{port}/api/info", "", 200),
        ("http://[::1]:{port}/api/info", "", 200),
        ("http://127.0.0.1:{port}/api/info", None, 400),  # an HTTP/1.1 request must still carry Host
        ("https://127.0.0.1:{port}/api/info", "", 400),  # this server speaks plain http
        ("http://[::1/api/info", "", 400),
        ("http:///api/info", "", 400),
        ("api/info", "", 400),  # neither a path nor an absolute URL
        ("*", "", 400),
    ],
)
def test_the_host_of_an_absolute_form_target_is_checked(base, target, host, status):
    port = port_of(base)
    reply = exchange(base, request(base, target.format(port=port, other=port + 1), host=host))
    if status == 200:
        assert one(reply).json()["version"]
    else:
        refused(reply, status, "Host" if status == 403 or host is None else "request")


@pytest.mark.parametrize(
    "target", ["/", "/static/app.js", "/api/info", "/api/sample?logits=0,1&seed=1", "/nope", "/api/sample"]
)
def test_head_answers_the_headers_of_get_without_a_body(base, target):
    got = one(exchange(base, request(base, target)))
    head = one(exchange(base, request(base, target, "HEAD")), head=True)
    assert head.status == got.status and head.body == b""
    assert head.header("Content-Length") == str(len(got.body))
    assert head.header("Content-Type") == got.header("Content-Type")


def test_an_error_to_head_has_no_body(base):
    refused(exchange(base, request(base, "/", "HEAD", headers="Host: evil.example\r\n")), 400, head=True)
    refused(exchange(base, request(base, "/", "HEAD", host="evil.example")), 403, head=True)


@pytest.mark.parametrize(
    "headers, status",
    [
        ("X-Big: " + "a" * 70_000 + "\r\n", 431),
        ("".join(f"X-{i}: {i}\r\n" for i in range(101)), 431),
        ("no colon here\r\n", 400),  # the base class would drop this line and every header after it
        ("X-Space : 1\r\n", 400),
        ("X-Fold: a\r\n b\r\n", 400),  # obsolete line folding
        (" X-Continues-Host: 1\r\n", 400),
        ("Content-Length: abc\r\n", 400),
        ("Content-Length: -1\r\n", 400),
        ("Content-Length: 1e3\r\n", 400),
        ("Content-Length: 0\r\nContent-Length: 5\r\n", 400),
        ("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", 400),
        ("Transfer-Encoding: gzip\r\n", 400),  # RFC 9112 6.1: the body's end cannot be found
        ("Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n", 400),
    ],
)
def test_bad_headers_get_a_status_line(base, headers, status):
    refused(exchange(base, request(base, headers=headers)), status)


def test_a_request_line_past_64_kib_is_a_414(base):
    refused(exchange(base, request(base, "/" + "a" * 70_000)), 414)


@pytest.mark.parametrize(
    "framing",
    ["Content-Length: {n}\r\n\r\n{smuggled}", "Transfer-Encoding: chunked\r\n\r\n{n:x}\r\n{smuggled}\r\n0\r\n\r\n"],
)
def test_a_body_is_never_read_as_the_next_request(base, framing):
    # GET has no body, and the server reads none: it answers and closes, so no body can pass for a request.
    smuggled = "GET /nope HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    head = f"GET /api/info HTTP/1.1\r\nHost: 127.0.0.1:{port_of(base)}\r\n"
    response = one(exchange(base, (head + framing.format(n=len(smuggled), smuggled=smuggled)).encode()))
    assert response.status == 200 and response.header("Connection") == "close"


@pytest.mark.parametrize("partial", [b"GET /api/in", b"GET / HTTP/1.1\r\nX-A: 1"])
def test_a_request_that_stalls_gets_a_408(partial):
    # Stalled in the first request line, or in its headers: 408 once the (short) socket timeout passes.
    with running_server(Limits(socket_timeout=0.5, request_deadline=300)) as base:
        refused(exchange(base, partial), 408)


def test_an_idle_connection_is_closed_without_an_answer():
    with running_server(Limits(socket_timeout=0.5, request_deadline=300)) as base:
        assert exchange(base, b"") == b""


@pytest.mark.parametrize("data", [b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", bytes(range(128, 256))])
def test_bytes_that_cannot_start_a_request_are_refused_without_waiting_for_a_line(base, data):
    # A TLS handshake, binary: no method starts like this, so the answer comes without an end of line.
    assert "not an HTTP request" in refused(exchange(base, data), 400).json()["error"]


def test_a_header_section_past_the_limit_is_a_431():
    with running_server(Limits(header_bytes=1000, socket_timeout=300, request_deadline=300)) as base:
        refused(exchange(base, request(base, headers="".join(f"X-{i}: {'a' * 90}\r\n" for i in range(12)))), 431)
        assert one(exchange(base, request(base, headers="X-Small: 1\r\n"))).status == 200


def test_expect_100_continue_gets_the_final_answer_only(base):
    # The server reads no body, so it never asks for one: one 200, then the connection is closed.
    response = one(exchange(base, request(base, headers="Expect: 100-continue\r\nContent-Length: 5\r\n")))
    assert response.status == 200 and response.header("Connection") == "close"


def test_pipelined_requests_are_answered_in_order(base):
    host = f"Host: 127.0.0.1:{port_of(base)}\r\n"
    targets = ["/api/info", "/nope", "/api/sample?logits=0,1&seed=1", "/static/style.css"]
    data = "".join(f"GET {t} HTTP/1.1\r\n{host}\r\n" for t in targets[:-1])
    data += f"HEAD {targets[-1]} HTTP/1.1\r\n{host}Connection: close\r\n\r\n"
    answers = responses(exchange(base, data.encode()), head_only=frozenset({3}))
    assert [r.status for r in answers] == [200, 404, 200, 200]
    assert answers[2].json()["seed"] == 1 and answers[3].body == b""
    assert [r.headers.get("connection") for r in answers] == [None, None, None, ["close"]]


def test_an_http_1_0_request_is_answered_and_closed(base):
    data = f"GET /api/info HTTP/1.0\r\nHost: 127.0.0.1:{port_of(base)}\r\nConnection: keep-alive\r\n\r\n"
    assert one(exchange(base, data.encode())).header("Connection") == "close"


@pytest.mark.parametrize(
    "data, status",
    [
        ("GET /\u00e9t\u00e9 HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n".encode(), 404),
        (b"GET /\xff\xfe HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n", 404),
        ("G\u00c9T / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n".encode(), 501),
        ("GET / HTTP/1.1\r\nHost: l\u00f3calhost:{port}\r\n".encode(), 403),
        (b"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-Bytes: \xff\x00\xfe\r\n", 200),
        (b"GET /%zz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n", 404),
        (b"GET /static/% HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n", 404),
        (b"GET /api/sample?logits=%zz,1 HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n", 400),
        (b"GET /api/sample?logits=%C0%AF HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n", 400),
    ],
)
def test_odd_bytes_get_a_clean_answer(base, data, status):
    data = data.replace(b"{port}", str(port_of(base)).encode()) + b"Connection: close\r\n\r\n"
    response = one(exchange(base, data, half_close=True))
    assert response.status == status


def test_a_burst_of_fifty_garbled_requests(base):
    junk = [b"GET / HTTP/9.9", b"GET", b"\x00\xff", b"GET /", b"BREW / HTTP/1.1"]
    barrier = threading.Barrier(50)

    def send(i: int) -> int:
        barrier.wait(timeout=30)
        return one(exchange(base, junk[i % len(junk)] + b"\r\n\r\n")).status

    with ThreadPoolExecutor(max_workers=50) as pool:
        statuses = list(pool.map(send, range(50)))
    assert statuses == [505, 400, 400, 400, 501] * 10
    assert get(base, "/api/info")[0] == 200
