"""A plain web server where a registry should be (the `python -m http.server` case), and
what -v 6 shows of the probes' HTTP traffic.

- Probe outcome not-a-registry is a failure like any other: it is reported
  (registry-unreachable: the registry API is not reachable at that address), for an
  image and for a secret entry, and doctor exits 1.
- At -v 6 every HTTP attempt is one DEBUG line (method, URL, status or error, time):
  failed ones (connection refused, TLS) and the https try before the plain-http
  fallback of an --insecure-registry included, as many lines as the summary counts."""

from __future__ import annotations

import functools
import http.server
import re
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.probe_helpers import Run, auth, authfile, doctor, pull_secret_yaml, write_dump
from tests.integration.registry_env import ALICE

HTTP_LINE = re.compile(r"^DEBUG kubectl_pullsecret\.registry: HTTP (GET|HEAD|POST) (\S+) -> (.+) \((\d+) ms\)$")
SUMMARY = re.compile(r"probed \d+ image chain\(s\) and \d+ login\(s\) with (\d+) HTTP request\(s\)")


class _WebServer(http.server.SimpleHTTPRequestHandler):
    """`python -m http.server`, closing a TLS hello at once (as a real web server rejects
    it at once; http.server itself would wait for a line end)."""

    def handle(self) -> None:
        try:
            first = self.connection.recv(1, socket.MSG_PEEK)
        except OSError:
            return
        if first == b"\x16":  # TLS handshake record
            return
        super().handle()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass


@pytest.fixture
def web_server(tmp_path: Path) -> Iterator[str]:
    """A plain-http static file server (its /v2/ is a 404 page): "127.0.0.1:PORT"."""
    root = tmp_path / "www"
    root.mkdir()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_WebServer, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, name="web-server", daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def free_port() -> int:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def http_lines(run: Run) -> list[tuple[str, str, str]]:
    """(method, URL, outcome) of every HTTP DEBUG line, checking that their number is the summary's."""
    lines = [(m.group(1), m.group(2), m.group(3)) for m in map(HTTP_LINE.match, run.err.splitlines()) if m]
    [counted] = [int(m.group(1)) for m in map(SUMMARY.search, run.err.splitlines()) if m]
    assert len(lines) == counted, run.err
    return lines


# --- not-a-registry is reported --------------------------------------------------------------------------


def test_an_image_on_a_web_server_is_reported(tmp_path: Path, web_server: str) -> None:
    path = authfile(tmp_path / "af.json", {web_server: auth(*ALICE)})
    args = ("--image", f"{web_server}/a/b:1", "--authfile", path, "--insecure-registry", web_server)
    run = doctor(*args, "-o", "json")
    probe = run.probe()
    assert probe["outcome"] == "not-a-registry" and probe["httpStatus"] == 404, probe
    [f] = run.checks()["registry-unreachable"]
    assert f["severity"] == "error" and f["image"] == f"{web_server}/a/b:1" and f["fix"] is None
    assert f["object"]["kind"] == "Image"
    message = f["message"]
    assert f"{web_server} answers HTTP but not the registry API: GET /v2/ returned 404 (text/html)" in message
    assert "registry API is not reachable" in message and "registry host and port" in message
    assert "this machine" in message and "the node" in message  # registry-unreachable's vantage note
    assert run.code == 1
    table = doctor(*args)
    assert table.code == 1 and "No problems found" not in table.out and "registry-unreachable" in table.out
    assert "no registry could be reached" not in table.err  # it answered: not the "offline" note


def test_a_secret_entry_for_a_web_server_is_reported(tmp_path: Path, web_server: str) -> None:
    dump = write_dump(tmp_path / "s.yaml", pull_secret_yaml("s", {web_server: auth(*ALICE)}))
    run = doctor("-f", dump, "-n", "ns", "secret/s", "--insecure-registry", web_server, "-o", "json")
    [login] = run.doc["logins"]
    assert login["outcome"] == "not-a-registry" and login["httpStatus"] == 404, login
    [f] = run.checks()["registry-unreachable"]
    assert f["severity"] == "error" and f["object"] == {"kind": "Secret", "namespace": "ns", "name": "s"}
    assert f["message"].startswith(f"Entry '{web_server}' of secret/ns/s (user alice"), f
    assert "GET /v2/ returned 404" in f["message"] and "the entry's key" in f["message"]
    assert "the node" in f["message"]
    assert run.code == 1


# --- every HTTP attempt is logged at -v 6 --------------------------------------------------------------------


@pytest.mark.parametrize("insecure", [False, True])
def test_refused_attempts_are_logged(tmp_path: Path, insecure: bool) -> None:
    host = f"127.0.0.1:{free_port()}"
    path = authfile(tmp_path / "af.json", {host: auth(*ALICE)})
    extra = ("--insecure-registry", host) if insecure else ()
    run = doctor("--image", f"{host}/a/b:1", "--authfile", path, "-o", "json", "-v", "6", *extra)
    assert run.probe()["outcome"] == "unreachable"
    lines = http_lines(run)
    schemes = ["https", "http"] if insecure else ["https"]
    assert [(m, u) for m, u, _ in lines] == [("GET", f"{s}://{host}/v2/") for s in schemes], run.err
    for _, _, outcome in lines:
        assert outcome.startswith("ConnectionError: ") and "refused" in outcome, outcome


def test_the_https_try_before_the_plain_http_fallback_is_logged(tmp_path: Path, web_server: str) -> None:
    path = authfile(tmp_path / "af.json", {web_server: auth(*ALICE)})
    run = doctor("--image", f"{web_server}/a/b:1", "--authfile", path, "--insecure-registry", web_server,
                 "-o", "json", "-v", "6")
    lines = http_lines(run)
    assert [(m, u) for m, u, _ in lines] == [("GET", f"https://{web_server}/v2/"), ("GET", f"http://{web_server}/v2/")]
    assert lines[0][2].startswith("SSLError: ") and lines[1][2] == "404", lines

