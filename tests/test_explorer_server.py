"""The explorer over HTTP: JSON 400s naming the parameter, no path traversal, 50 requests at once, Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from tests.explorer_client import get, running_server

from gumbel_softmax.explorer.server import STATIC


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
        "http://127.0.0.1/../../etc/passwd",
        "/static/..\\server.py",
        "/%5c..%5cserver.py",
    ],
)
def test_no_path_traversal(base, path):
    status, headers, body = get(base, path)
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


def test_a_garbled_request_does_not_take_the_server_down(base):
    port = int(base.rsplit(":", 1)[1])
    for junk in (b"\x00\xff garbage\r\n\r\n", b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n", b"GET\r\n\r\n"):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
            conn.sendall(junk)
            reply = b""
            while chunk := conn.recv(4096):
                reply += chunk
        # (A request line the server reads as HTTP/0.9 gets the JSON body without a status line, as 0.9 wants.)
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


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_stops_cleanly(signum):
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1] / "src"))
    process = subprocess.Popen(
        [sys.executable, "-m", "gumbel_softmax", "explore", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        line = process.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert match, line
        assert get(f"http://127.0.0.1:{match.group(1)}", "/api/info")[0] == 200
        process.send_signal(signum)
        out, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err
    assert "explorer stopped" in out
    assert "Traceback" not in err


def test_static_files_are_package_data():
    tomllib = pytest.importorskip("tomllib", reason="tomllib is in the standard library from Python 3.11")
    pyproject = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())
    globs = pyproject["tool"]["setuptools"]["package-data"]["gumbel_softmax.explorer"]
    shipped = {p for g in globs for p in STATIC.parent.glob(g)}
    assert {p for p in STATIC.iterdir() if p.is_file()} <= shipped
