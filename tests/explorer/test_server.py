"""The explorer over HTTP: JSON 400s naming the parameter, no path traversal, 50 requests at once, Ctrl-C."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from gumbel_softmax.explorer.api import ROUTES
from gumbel_softmax.explorer.guard import Limits
from gumbel_softmax.explorer.server import STATIC
from tests.explorer.client import get, running_server


@pytest.fixture(scope="module")
def base():
    with running_server() as url:
        yield url


def test_page_and_static_files(base):
    status, headers, body = get(base, "/")
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert b"/static/app.js" in body and b"/static/style.css" in body
    for name, kind in [("app.js", "text/javascript"), ("style.css", "text/css"), ("index.html", "text/html")]:
        status, headers, body = get(base, f"/static/{name}")
        assert status == 200 and headers["content-type"].startswith(kind)
        assert body == (STATIC / name).read_bytes()
    assert "default-src 'self'" in headers["content-security-policy"]


def test_page_loads_nothing_from_elsewhere():
    # No CDN, no external fonts: the only absolute URL in our files is the SVG namespace name (never fetched).
    for path in STATIC.iterdir():
        urls = set(re.findall(r"(?:https?:)?//[\w.-]+\.[a-z]{2,}[^\s\"'`)]*", path.read_text()))
        assert urls <= {"http://www.w3.org/2000/svg"}, (path.name, urls)
        assert "@import" not in path.read_text()


@pytest.mark.parametrize(
    "path",
    [
        "/static/../server.py",
        "/static/..%2fserver.py",
        "/static/%2e%2e/api.py",
        "/static/%2e%2e%2fapi.py",
        "/../../../../etc/passwd",
        "/static/../../../../../../etc/passwd",
        "//etc/passwd",
        "/static//etc/passwd",
        "/etc/passwd",
        "/static/",
        "/static",
        "/static/index.html/..",
        "/static/./app.js",
        "/static/APP.JS",
        "/static/app.js%00.png",
        "/server.py",
        "/api.py",
        "/explorer/server.py",
        "/index.html",
        "http://127.0.0.1:{port}/../../etc/passwd",
        "/static/..\\server.py",
        "/%5c..%5cserver.py",
    ],
)
def test_no_path_traversal(base, path):
    status, _, body = get(base, path.replace("{port}", base.rsplit(":", 1)[1]))
    assert status == 404, (path, status)
    assert body == {"error": "not found", "parameter": "path"}


def test_api_answers_json(base):
    status, headers, body = get(base, "/api/sample?logits=0,1.5,-inf&tau=0.5&n=20&noise=normal&seed=3")
    assert status == 200 and headers["content-type"] == "application/json"
    assert body["logits"] == [0.0, 1.5, None]  # -inf is sent as null: JSON has no infinity
    assert body["noise"] == "normal" and body["seed"] == 3 and len(body["samples"]["soft"]) == 20
    assert get(base, "/api/info")[0] == 200


@pytest.mark.parametrize(
    "path, parameter",
    [
        ("/api/sample", "logits"),
        ("/api/sample?logits=0", "logits"),
        ("/api/sample?logits=" + ",".join(["0"] * 65), "logits"),
        ("/api/sample?logits=0,NaN", "logits"),
        ("/api/sample?logits=0,%2Binf", "logits"),
        ("/api/sample?logits=-inf,-inf", "logits"),
        ("/api/sample?logits=0,1&tau=0", "tau"),
        ("/api/sample?logits=0,1&tau=11", "tau"),
        ("/api/sample?logits=0,1&tau=nan", "tau"),
        ("/api/sample?logits=0,1&n=100001", "n"),
        ("/api/sample?logits=0,1&n=0", "n"),
        ("/api/sample?logits=0,1&n=ten", "n"),
        ("/api/sample?logits=0,1&noise=laplace", "noise"),
        ("/api/sample?logits=0,1&seed=x", "seed"),
        ("/api/sample?logits=0,1&tau=1&tau=2", "tau"),
        ("/api/sample?logits=0,1&bogus=1", "bogus"),
        ("/api/sample?logits=0,1&" + "x" * 5000, "request"),  # request size
        ("/api/sample?" + "&".join(f"a{i}=1" for i in range(40)), "request"),  # too many fields
        ("/api/sample?logits=%ff%fe", "request"),  # not UTF-8
        ("/api/density?logits=0,1", "logits"),
        ("/api/info?x=1", "x"),
    ],
)
def test_bad_requests_are_json_400s_naming_the_parameter(base, path, parameter):
    status, headers, body = get(base, path)
    assert status == 400 and headers["content-type"] == "application/json"
    assert body["parameter"] == parameter and body["error"]
    assert "Traceback" not in str(body)


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_other_methods_are_json_errors(base, method):
    status, headers, body = get(base, "/api/info", method=method)
    assert status == 501 and body["parameter"] == "request"
    assert headers["allow"] == "GET, HEAD"


def test_a_garbled_request_does_not_take_the_server_down(base):
    port = int(base.rsplit(":", 1)[1])
    for junk in (b"\x00\xff garbage\r\n\r\n", b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n", b"GET\r\n\r\n"):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
            conn.sendall(junk)
            reply = b""
            while chunk := conn.recv(4096):
                reply += chunk
        assert reply.startswith((b"HTTP/1.1 400 ", b"HTTP/1.1 414 ")), reply[:100]  # a status line, then headers
        assert b'"parameter":"request"' in reply and b"Traceback" not in reply
    # A client that connects and says nothing holds one thread only until the socket timeout.
    idle = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        assert get(base, "/api/info")[0] == 200
    finally:
        idle.close()


def test_fifty_concurrent_requests_all_succeed(base):
    barrier = threading.Barrier(50)

    def one(i):
        barrier.wait(timeout=30)
        return get(base, f"/api/sample?logits=0,1,2,{i / 10}&tau=0.5&n=2000&seed={i}")

    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(one, range(50)))
    assert [status for status, _, _ in results] == [200] * 50
    assert [body["seed"] for _, _, body in results] == list(range(50))
    assert all(sum(body["summary"]["counts"]) == 2000 for _, _, body in results)


def explore(*args: str) -> subprocess.Popen:
    """``gumbel-softmax explore ARGS`` in a child process, its output as text."""
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2] / "src"))
    command = [sys.executable, "-m", "gumbel_softmax", "explore", *args]
    # As from a terminal: a test runner started in the background (CI, `cmd &`) passes SIGINT on as
    # ignored, and Python then installs no KeyboardInterrupt handler, so Ctrl-C could not be tested.
    return subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # noqa: PLW1509 (no threads yet)
    )


def serve_and_stop(args: tuple[str, ...], url_pattern: str, signum: int = signal.SIGTERM) -> tuple[str, str]:
    """Start the CLI, check that the URL it prints answers /api/info, stop it with ``signum``; (stdout, stderr)."""
    process = explore(*args)
    try:
        line = process.stdout.readline()
        match = re.search(url_pattern, line)
        assert match, (line, process.stderr.read() if process.poll() is not None else "")
        assert get(match.group(1), "/api/info")[0] == 200
        process.send_signal(signum)
        out, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err
    assert "explorer stopped" in out
    assert "Traceback" not in err
    return line + out, err


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_stops_cleanly(signum):
    serve_and_stop(("--port", "0"), r"(http://127\.0\.0\.1:\d+)/", signum)


def ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not ipv6_loopback(), reason="this machine has no IPv6 loopback")
def test_ipv6_loopback_host():
    _, err = serve_and_stop(("--host", "::1", "--port", "0"), r"(http://\[::1\]:\d+)/")
    assert "warning" not in err  # ::1 is this machine only


def test_a_busy_port_is_one_line_and_exit_status_2():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        process = explore("--port", str(taken.getsockname()[1]))
        out, err = process.communicate(timeout=60)
    assert process.returncode == 2, (out, err)
    assert out == "" and len(err.splitlines()) == 1, err
    assert "cannot listen on 127.0.0.1 port" in err and "Traceback" not in err


def test_an_unresolvable_host_is_one_line_and_exit_status_2():
    process = explore("--host", "no-such-host.invalid", "--port", "0")  # .invalid never resolves (RFC 2606)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 2 and len(err.splitlines()) == 1 and "no-such-host.invalid" in err, err


def test_a_library_bug_is_a_json_500_logged_only_on_the_server(base, monkeypatch, caplog):
    def broken(query):
        raise ValueError("a bug in the library, not in the request")

    monkeypatch.setitem(ROUTES, "/api/info", broken)
    with caplog.at_level(logging.ERROR, logger="gumbel_softmax.explorer.server"):
        status, headers, body = get(base, "/api/info")
    assert status == 500 and headers["content-type"] == "application/json"
    assert body == {"error": "internal error", "parameter": None}  # not a 400, and nothing of the traceback
    logged = [r for r in caplog.records if r.exc_info is not None]
    assert len(logged) == 1 and "a bug in the library" in str(logged[0].exc_info[1])


@pytest.mark.parametrize(
    "host, status",
    [
        ("evil.example:{port}", 403),  # DNS rebinding: a foreign name resolved to 127.0.0.1
        ("evil.example", 403),
        ("localhost.evil.example:{port}", 403),
        ("127.0.0.1.evil.example:{port}", 403),
        ("evil.example@127.0.0.1:{port}", 403),
        ("127.0.0.1:{other}", 403),  # another port
        ("127.0.0.1", 403),  # port 80
        ("192.168.1.5:{port}", 403),  # an address this server was not bound to
        ("", 403),
        (None, 400),  # no Host header at all
        ("127.0.0.1:{port}", 200),
        ("localhost:{port}", 200),
        ("LocalHost:{port}", 200),
        ("[::1]:{port}", 200),
    ],
)
def test_only_requests_for_this_host_are_answered(base, host, status):
    port = int(base.rsplit(":", 1)[1])
    header = None if host is None else host.format(port=port, other=port + 1)
    for path in ("/api/info", "/"):
        got, headers, body = get(base, path, headers={"Host": header})
        assert got == status, (host, path)
        if status != 200:
            assert headers["content-type"] == "application/json" and body["parameter"] == "Host"


def poll(base: str, path: str, want: int) -> dict:
    """GET ``path`` until it answers ``want`` (200 or 503 only meanwhile), for up to ~10 s; return that body."""
    for _ in range(400):
        status, _, body = get(base, path)
        assert status in (200, 503), status
        if status == want:
            return body
        time.sleep(0.025)
    raise AssertionError(f"{path} never answered {want}")


def test_connections_past_the_cap_get_a_503_at_once():
    with running_server(Limits(connections=3)) as base:
        port = int(base.rsplit(":", 1)[1])
        idle = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(3)]
        try:
            # The server accepts the three idle connections in its own time; from then on a fourth is refused.
            assert "3 connections are open" in poll(base, "/api/info", 503)["error"]
        finally:
            for conn in idle:
                conn.close()
        poll(base, "/api/info", 200)  # closed connections free their places


def test_a_request_that_waits_too_long_for_a_compute_slot_gets_a_503(monkeypatch):
    inside, release = threading.Event(), threading.Event()

    def slow(query):
        inside.set()
        assert release.wait(timeout=30)
        return {"done": True}

    monkeypatch.setitem(ROUTES, "/api/info", slow)
    with running_server(Limits(compute_slots=1, compute_wait=0.2)) as base, ThreadPoolExecutor(1) as pool:
        first = pool.submit(get, base, "/api/info")
        assert inside.wait(timeout=30)  # the only slot is taken
        status, _, body = get(base, "/api/info")
        assert status == 503 and "no compute slot within 0.2 s" in body["error"]
        release.set()
        assert first.result(timeout=30)[:3:2] == (200, {"done": True})


def test_a_trickling_client_is_dropped_at_the_request_deadline():
    # One header byte every 0.1 s never trips the 10 s socket timeout, but the request deadline (1 s) ends it:
    # the client gets a 408 and the connection is closed.
    with running_server(Limits(request_deadline=1.0)) as base:
        port = int(base.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
            conn.sendall(f"GET /api/info HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-Slow: ".encode())
            for _ in range(150):  # 15 s of trickling at most
                readable, _, _ = select.select([conn], [], [], 0.1)
                if readable:
                    break
                conn.sendall(b"x")
            reply = b""
            with contextlib.suppress(ConnectionResetError):
                while chunk := conn.recv(4096):
                    reply += chunk
        assert reply.startswith(b"HTTP/1.1 408 Request Timeout\r\n"), reply[:100]
        assert b"\r\nConnection: close\r\n" in reply
        assert get(base, "/api/info")[0] == 200


def test_static_files_are_package_data():
    tomllib = pytest.importorskip("tomllib", reason="tomllib is in the standard library from Python 3.11")
    pyproject = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())
    globs = pyproject["tool"]["setuptools"]["package-data"]["gumbel_softmax.explorer"]
    shipped = {p for g in globs for p in STATIC.parent.glob(g)}
    assert {p for p in STATIC.iterdir() if p.is_file()} <= shipped
