"""Registry behaviour a real registry will not produce, from a scriptable fake: rate
limits, non-registries, challenges on two header lines, redirects to other hosts, and
hostile answers (huge, dripping, hanging, malformed). Each ends in a classified
outcome, in bounded time, with no traceback."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.integration.fakeregistry import (
    Close,
    Drip,
    FakeRegistryFactory,
    Hang,
    Huge,
    Raw,
    Request,
    Response,
    bearer_challenge,
    registry_error,
)
from tests.integration.probe_helpers import Run, auth, authfile, doctor
from tests.integration.registry_env import ALICE, Pki, RegistryEnv, TokenLog

DIGEST = "sha256:" + "ab" * 32
API = ("Docker-Distribution-Api-Version", "registry/2.0")
MANIFEST_OK = Response(200, [API, ("Docker-Content-Digest", DIGEST),
                             ("Content-Type", "application/vnd.docker.distribution.manifest.v2+json")])


def probe(pki: Pki, tmp_path: Path, host: str, *extra: str, entries: dict[str, Any] | None = None,
          image: str = "acme/web:1.0") -> Run:
    path = authfile(tmp_path / "config.json", {host: auth(*ALICE)} if entries is None else entries)
    return doctor("--image", f"{host}/{image}", "--authfile", path, "--registry-ca-file", pki.ca_file,
                  "-o", "json", *extra)


def basic_registry(manifest: Any = MANIFEST_OK) -> Any:
    def handler(req: Request) -> Any:
        if req.path == "/v2/":
            return Response(401, [API, ("WWW-Authenticate", 'Basic realm="fake"')])
        if req.header("Authorization") is None:
            return registry_error(401, "UNAUTHORIZED", "authentication required")
        return manifest(req) if callable(manifest) else manifest
    return handler


def test_rate_limited_429_with_retry_after(pki: Pki, tmp_path: Path, fake_registry: FakeRegistryFactory) -> None:
    fake = fake_registry(basic_registry(registry_error(429, "TOOMANYREQUESTS", "slow down",
                                                       [("Retry-After", "30")])))
    run = probe(pki, tmp_path, fake.address)
    p = run.probe()
    assert p["outcome"] == "rate-limited" and p["httpStatus"] == 429 and p["rateLimit"] == {"retryAfter": 30}
    [f] = run.checks()["registry-rate-limited"]
    assert f["severity"] == "warning" and "retry after 30s" in f["message"]


def test_ratelimit_remaining_zero_on_a_successful_answer(pki: Pki, tmp_path: Path,
                                                         fake_registry: FakeRegistryFactory) -> None:
    limited = Response(200, [*MANIFEST_OK.headers, ("ratelimit-limit", "100;w=21600"),
                             ("ratelimit-remaining", "0;w=21600")])
    fake = fake_registry(basic_registry(limited))
    run = probe(pki, tmp_path, fake.address)
    p = run.probe()
    assert p["outcome"] == "ok" and p["rateLimit"] == {"limit": 100, "remaining": 0, "windowSeconds": 21600}
    [f] = run.checks()["registry-rate-limited"]
    assert "0 of 100 pulls left" in f["message"]
    assert run.code == 0  # a warning


@pytest.mark.parametrize(("reply", "says"), [
    (Response(404, [("Content-Type", "text/html")], b"<html>nope</html>"),
     "answers HTTP but not the registry API: GET /v2/ returned 404 (text/html)"),
    (Response(200, [("Content-Type", "text/html")], b"<html>welcome</html>"),
     "answers HTTP but not the registry API: GET /v2/ returned 200 (text/html)"),
    (Response(401, [("WWW-Authenticate", 'Negotiate')]), "no Basic or Bearer challenge"),
])
def test_not_a_registry(pki: Pki, tmp_path: Path, fake_registry: FakeRegistryFactory, reply: Response,
                        says: str) -> None:
    """Something else answers at the registry's address: a failure, reported as the
    registry API not being reachable there (registry-unreachable, with what was seen)."""
    fake = fake_registry(reply)
    run = probe(pki, tmp_path, fake.address)
    p = run.probe()
    assert p["outcome"] == "not-a-registry" and says in p["detail"], p
    [f] = run.checks()["registry-unreachable"]
    assert f["severity"] == "error" and says in f["message"] and "registry host and port" in f["message"]
    assert "this machine" in f["message"] and run.code == 1


def test_two_www_authenticate_lines_bearer_preferred(pki: Pki, tmp_path: Path, fake_registry: FakeRegistryFactory,
                                                     registry_env: RegistryEnv, token_log: TokenLog) -> None:
    """Basic on one line, Bearer on the next (requests would join them): the Bearer
    challenge is followed to the real token server."""
    def handler(req: Request) -> Response:
        if req.path == "/v2/":
            return Response(401, [API, ("WWW-Authenticate", 'Basic realm="fake"'),
                                  bearer_challenge(registry_env.token_realm, "token-registry")])
        auth_header = req.header("Authorization") or ""
        return MANIFEST_OK if auth_header.startswith("Bearer ey") else registry_error(401, "UNAUTHORIZED", "no")

    fake = fake_registry(handler)
    run = probe(pki, tmp_path, fake.address, entries={fake.address: auth(*ALICE),
                                                     registry_env.token_server: auth(*ALICE)})
    p = run.probe()
    assert p["outcome"] == "ok" and p["authServer"] == registry_env.token_server, p
    [req] = token_log.entries()
    assert req.username == "alice" and req.scopes == ("repository:acme/web:pull",)


def test_service_omitted_when_the_challenge_has_none(pki: Pki, tmp_path: Path,
                                                     fake_registry: FakeRegistryFactory) -> None:
    token_server = fake_registry(Response.json(200, {"token": "tok-from-token-field-1234"}), host="127.0.0.3")

    def handler(req: Request) -> Response:
        if req.path == "/v2/":  # unquoted realm, as some registries send it
            return Response(401, [API, ("WWW-Authenticate", f"Bearer realm={token_server.url}/token")])
        ok = req.header("Authorization") == "Bearer tok-from-token-field-1234"
        return MANIFEST_OK if ok else registry_error(401, "UNAUTHORIZED", "no")

    fake = fake_registry(handler)
    run = probe(pki, tmp_path, fake.address)
    assert run.probe()["outcome"] == "ok"
    [req] = token_server.requests
    assert "service" not in req.query and req.query["scope"] == "repository:acme/web:pull"
    assert (req.header("Authorization") or "").startswith("Basic ")
    assert "tok-from-token-field-1234" not in run.out + run.err


def test_access_token_preferred_over_token(pki: Pki, tmp_path: Path, fake_registry: FakeRegistryFactory) -> None:
    token_server = fake_registry(Response.json(200, {"token": "old-style-token-aaaa",
                                                     "access_token": "oauth-token-bbbb", "expires_in": 60}),
                                 host="127.0.0.3")

    def handler(req: Request) -> Response:
        if req.path == "/v2/":
            return Response(401, [API, bearer_challenge(f"{token_server.url}/token", "svc")])
        ok = req.header("Authorization") == "Bearer oauth-token-bbbb"
        return MANIFEST_OK if ok else registry_error(401, "UNAUTHORIZED", "no")

    fake = fake_registry(handler)
    assert probe(pki, tmp_path, fake.address).probe()["outcome"] == "ok"


def test_authorization_dropped_on_a_cross_host_redirect(pki: Pki, tmp_path: Path,
                                                        fake_registry: FakeRegistryFactory) -> None:
    other = fake_registry(MANIFEST_OK, host="127.0.0.3")
    fake = fake_registry(basic_registry(Response(307, [("Location", f"{other.url}/v2/acme/web/manifests/1.0")])))
    run = probe(pki, tmp_path, fake.address)
    assert run.probe()["outcome"] == "ok"
    sent_to_registry = [r.header("Authorization") for r in fake.requests if "manifests" in r.path]
    assert sent_to_registry and all(h and h.startswith("Basic ") for h in sent_to_registry)
    assert [r.header("Authorization") for r in other.requests] == [None]


def test_credentials_never_sent_to_a_plain_http_realm(pki: Pki, tmp_path: Path,
                                                      fake_registry: FakeRegistryFactory) -> None:
    token_server = fake_registry(Response.json(200, {"token": "t" * 20}), host="127.0.0.3", tls="none")
    fake = fake_registry(Response(401, [API, bearer_challenge(f"{token_server.url}/token", "svc")]))
    p = probe(pki, tmp_path, fake.address).probe()
    assert p["outcome"] == "tls-error" and "plain http" in p["detail"] and "not sent" in p["detail"]
    assert token_server.requests == []
    # Declared insecure, it is used.
    run = probe(pki, tmp_path, fake.address, "--insecure-registry", token_server.address)
    assert [r.header("Authorization") is not None for r in token_server.requests] == [True]
    assert run.probe()["outcome"] != "tls-error"


def test_plain_http_registry(pki: Pki, tmp_path: Path, fake_registry: FakeRegistryFactory) -> None:
    fake = fake_registry(basic_registry(), tls="none")
    p = probe(pki, tmp_path, fake.address, "--probe-timeout", "2").probe()
    # Real servers (Go's, nginx) answer a TLS hello with 400 at once: "does not speak
    # TLS". This fake closes the connection, or waits for a line end that the hello's
    # random bytes may not contain: then the request times out. Each says what to do.
    assert p["outcome"] in ("tls-error", "unreachable") and "--insecure-registry" in p["detail"], p
    p = probe(pki, tmp_path, fake.address, "--insecure-registry", fake.address).probe()
    assert p["outcome"] == "ok", p


def test_untrusted_certificate(pki: Pki, tmp_path: Path, fake_registry: FakeRegistryFactory) -> None:
    fake = fake_registry(basic_registry(), tls="untrusted")
    p = probe(pki, tmp_path, fake.address).probe()
    assert p["outcome"] == "tls-error" and "not trusted" in p["detail"]


def test_malformed_token_response(pki: Pki, tmp_path: Path, fake_registry: FakeRegistryFactory) -> None:
    token_server = fake_registry(Response(200, [("Content-Type", "application/json")], b'{"token": '),
                                 host="127.0.0.3")
    fake = fake_registry(Response(401, [API, bearer_challenge(f"{token_server.url}/token", "svc")]))
    run = probe(pki, tmp_path, fake.address)
    p = run.probe()
    assert p["outcome"] == "not-a-registry" and "without a token" in p["detail"]
    [f] = run.checks()["registry-unreachable"]
    assert f["severity"] == "error" and "without a token" in f["message"] and "token realm" in f["message"]
    assert run.code == 1


def bounded(run_probe: Any) -> tuple[Run, float]:
    started = time.monotonic()
    run = run_probe()
    return run, time.monotonic() - started


@pytest.mark.parametrize(("name", "reply"), [
    ("drip-headers", Drip(b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 200 + b"\r\n\r\n", interval=0.05)),
    ("drip-body", Drip(Response(200, [API], b"{" + b" " * 400 + b"}"), interval=0.05, headers_at_once=True)),
    ("hang", Hang()),
])
def test_slow_answers_end_at_the_timeout(pki: Pki, tmp_path: Path, fake_registry: FakeRegistryFactory, name: str,
                                         reply: Any) -> None:
    """Each byte arrives well within the socket timeout, but the whole answer takes far
    longer than --probe-timeout: the watchdog ends it."""
    fake = fake_registry(reply)
    run, took = bounded(lambda: probe(pki, tmp_path, fake.address, "--probe-timeout", "1"))
    p = run.probe()
    assert p["outcome"] == "unreachable" and "within 1s" in p["detail"], p
    assert took < 4, took


@pytest.mark.parametrize("chunked", [False, True])
def test_huge_bodies_are_capped(pki: Pki, tmp_path: Path, fake_registry: FakeRegistryFactory, chunked: bool) -> None:
    """A 200 MB error body and a 200 MB token answer: read up to the cap, then classified."""
    huge_error = Huge(status=404, prefix=b'{"errors":[{"code":"MANIFEST_UNKNOWN","message":"' , chunked=chunked,
                      headers=(API, ("Content-Type", "application/json")))
    fake = fake_registry(basic_registry(huge_error))
    run, took = bounded(lambda: probe(pki, tmp_path, fake.address))
    p = run.probe()
    assert p["outcome"] == "manifest-unknown" and p["httpStatus"] == 404
    assert took < 5
    token_server = fake_registry(Huge(prefix=b'{"token":"', chunked=chunked), host="127.0.0.3")
    fake2 = fake_registry(Response(401, [API, bearer_challenge(f"{token_server.url}/token", "svc")]))
    run, took = bounded(lambda: probe(pki, tmp_path, fake2.address))
    assert run.probe()["outcome"] == "not-a-registry" and took < 5


@pytest.mark.parametrize("reply", [
    Raw(b"garbage that is not http\r\n\r\n"),
    Raw(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: nonsense\r\n\r\n{}"),
    Raw(b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer realm=\"unterminated\r\nContent-Length: 0\r\n\r\n"),
    Raw(b"HTTP/1.1 401 Unauthorized\r\n" + b"X-Junk: " + b"j" * 70000 + b"\r\n\r\n"),
    Close(),
    Close(reset=True),
])
def test_malformed_answers_are_classified(pki: Pki, tmp_path: Path, fake_registry: FakeRegistryFactory,
                                          reply: Any) -> None:
    fake = fake_registry(reply)
    run = probe(pki, tmp_path, fake.address)
    p = run.probe()
    assert p["outcome"] in ("unreachable", "not-a-registry"), p
    assert "Traceback" not in run.err and "internal error" not in run.err


def test_hostile_text_is_sanitised_and_secrets_scrubbed(pki: Pki, tmp_path: Path,
                                                        fake_registry: FakeRegistryFactory) -> None:
    """A registry that echoes the password and sends control characters and a novel in
    its error message: one bounded line, password masked."""
    message = f"bad login for alice:{ALICE[1]}\x1b[31m\r\nInjected: yes " + "x" * 5000
    fake = fake_registry(basic_registry(registry_error(403, "DENIED", message)))
    for fmt in ("json", "table", "yaml", "markdown", "wide"):
        run = probe(pki, tmp_path, fake.address, "-o", fmt, "-v", "9")
        assert ALICE[1] not in run.out + run.err
        assert "\x1b" not in run.out and "\r\nInjected" not in run.out
    p = probe(pki, tmp_path, fake.address).probe()
    assert p["outcome"] == "access-denied" and len(p["detail"]) < 400


def test_head_not_allowed_falls_back_to_get(pki: Pki, tmp_path: Path, fake_registry: FakeRegistryFactory) -> None:
    def manifest(req: Request) -> Response:
        if req.method == "HEAD":
            return Response(405, [API])
        return Response(200, [*MANIFEST_OK.headers], b"{}")

    fake = fake_registry(basic_registry(manifest))
    p = probe(pki, tmp_path, fake.address).probe()
    assert p["outcome"] == "ok" and p["digest"] == DIGEST
    assert [r.method for r in fake.requests if "manifests" in r.path] == ["HEAD", "GET"]
    assert all("application/vnd.oci.image.index.v1+json" in (r.header("Accept") or "")
               for r in fake.requests if "manifests" in r.path)


def test_digest_reference_compared(pki: Pki, tmp_path: Path, fake_registry: FakeRegistryFactory) -> None:
    fake = fake_registry(basic_registry())  # always answers DIGEST
    other = "sha256:" + "cd" * 32
    p = probe(pki, tmp_path, fake.address, image=f"acme/web@{other}").probe()
    assert p["outcome"] == "manifest-unknown" and "different digest" in p["detail"]
    p = probe(pki, tmp_path, fake.address, image=f"acme/web@{DIGEST}").probe()
    assert p["outcome"] == "ok"


def test_redirect_loop(pki: Pki, tmp_path: Path, fake_registry: FakeRegistryFactory) -> None:
    fake = fake_registry(basic_registry(Response(302, [("Location", "/v2/acme/web/manifests/1.0")])))
    p = probe(pki, tmp_path, fake.address).probe()
    assert p["outcome"] == "not-a-registry" and "redirects" in p["detail"]


def test_too_many_headers(pki: Pki, tmp_path: Path, fake_registry: FakeRegistryFactory) -> None:
    fake = fake_registry(Raw(b"HTTP/1.1 401 Unauthorized\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(300))
                             + b"\r\n"))
    run = probe(pki, tmp_path, fake.address)
    assert run.probe()["outcome"] in ("unreachable", "not-a-registry")
    assert "internal error" not in run.err


def test_a_resolver_that_never_answers_ends_at_the_timeout(pki: Pki, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """No DNS server that hangs can run here, so the resolver call itself is made to hang
    for one name (the only stand-in in these tests): the lookup is bounded like a request."""
    import socket
    import threading

    release = threading.Event()
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "dns-hangs.example":
            release.wait(30)
            raise socket.gaierror(-3, "Temporary failure in name resolution")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    try:
        run, took = bounded(lambda: probe(pki, tmp_path, "dns-hangs.example", "--probe-timeout", "1"))
        p = run.probe()
        assert p["outcome"] == "unreachable" and "DNS lookup of dns-hangs.example did not answer within 1s" in p["detail"]
        assert took < 4, took
    finally:
        release.set()
