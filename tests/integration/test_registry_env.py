"""The integration environment itself behaves as documented (real docker-registry, token server, fakes)."""

from __future__ import annotations

import base64
import json
import socket
import ssl
import time
from typing import Any

import pytest
import requests

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
)
from tests.integration.registry_env import (
    ALICE,
    ALICE_REFRESH_TOKEN,
    BOB,
    DIGEST_KEYS,
    MANIFEST_V2,
    TOKEN_ISSUER,
    TOKEN_SERVICE,
    RegistryEnv,
    TokenLog,
    TokenRequest,
    TokenServer,
)

ACCEPT = {"Accept": MANIFEST_V2}


def claims(jwt: str) -> dict[str, Any]:
    payload = jwt.split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return decoded


def get_token(env: RegistryEnv, scope: str | None, auth: tuple[str, str] | None) -> requests.Response:
    params = {"service": TOKEN_SERVICE}
    if scope is not None:
        params["scope"] = scope
    return requests.get(env.token_realm, params=params, auth=auth, verify=env.ca_file, timeout=5)


def head_manifest(env: RegistryEnv, registry: str, repo: str, tag: str, token: str | None = None,
                  auth: tuple[str, str] | None = None) -> requests.Response:
    headers = dict(ACCEPT)
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return requests.head(f"{env.url(registry)}/v2/{repo}/manifests/{tag}", headers=headers, auth=auth,
                         verify=env.ca_file, timeout=5)


def test_every_image_was_pushed(registry_env: RegistryEnv) -> None:
    assert sorted(registry_env.digests) == sorted(DIGEST_KEYS)
    assert all(d.startswith("sha256:") for d in registry_env.digests.values())
    assert len(set(registry_env.digests.values())) == len(DIGEST_KEYS), "each pushed image is distinct"


def test_v2_answers_with_the_right_challenge(registry_env: RegistryEnv) -> None:
    env = registry_env
    basic = requests.get(f"{env.url('basic')}/v2/", verify=env.ca_file, timeout=5)
    assert basic.status_code == 401
    assert basic.headers["WWW-Authenticate"] == 'Basic realm="basic-realm"'
    token = requests.get(f"{env.url('token')}/v2/", verify=env.ca_file, timeout=5)
    assert token.status_code == 401
    assert token.headers["WWW-Authenticate"] == f'Bearer realm="{env.token_realm}",service="{TOKEN_SERVICE}"'
    assert env.token_realm.startswith("https://127.0.0.2:")
    opened = requests.get(f"{env.url('open')}/v2/", verify=env.ca_file, timeout=5)
    assert opened.status_code == 200


def test_alice_token_pulls_acme_web(registry_env: RegistryEnv, token_log: TokenLog) -> None:
    resp = get_token(registry_env, "repository:acme/web:pull", ALICE)
    assert resp.status_code == 200
    body = resp.json()
    assert body["token"] == body["access_token"] and body["expires_in"] == 300 and body["issued_at"]
    got = claims(body["token"])
    assert got["access"] == [{"type": "repository", "name": "acme/web", "actions": ["pull"]}]
    assert (got["iss"], got["aud"], got["sub"]) == (TOKEN_ISSUER, TOKEN_SERVICE, "alice")
    head = head_manifest(registry_env, "token", "acme/web", "1.0", token=body["token"])
    assert head.status_code == 200
    assert head.headers["Docker-Content-Digest"] == registry_env.digests["token/acme/web:1.0"]
    assert token_log.entries() == [TokenRequest(
        "GET", "/token", {"service": TOKEN_SERVICE, "scope": "repository:acme/web:pull"}, "alice", None, {},
        ("repository:acme/web:pull",), 200)]


def test_bob_is_a_valid_login_without_access_to_acme(registry_env: RegistryEnv) -> None:
    resp = get_token(registry_env, "repository:acme/web:pull", BOB)
    assert resp.status_code == 200
    assert claims(resp.json()["token"])["access"] == []
    head = head_manifest(registry_env, "token", "acme/web", "1.0", token=resp.json()["token"])
    assert head.status_code in (401, 403)
    assert 'error="insufficient_scope"' in head.headers["WWW-Authenticate"]
    own = get_token(registry_env, "repository:other/tool:pull", BOB).json()["token"]
    assert head_manifest(registry_env, "token", "other/tool", "2.0", token=own).headers["Docker-Content-Digest"] == \
        registry_env.digests["token/other/tool:2.0"]


def test_wrong_password_is_refused_by_the_token_server(registry_env: RegistryEnv, token_log: TokenLog) -> None:
    resp = get_token(registry_env, "repository:acme/web:pull", (ALICE[0], "wrong"))
    assert resp.status_code == 401
    assert resp.json() == {"details": "invalid username/password"}
    assert [(e.username, e.status) for e in token_log] == [("alice", 401)]


def test_anonymous_token_pulls_public_only(registry_env: RegistryEnv, token_log: TokenLog) -> None:
    public = get_token(registry_env, "repository:public/hello:pull", None)
    assert public.status_code == 200
    head = head_manifest(registry_env, "token", "public/hello", "1.0", token=public.json()["token"])
    assert head.status_code == 200
    assert head.headers["Docker-Content-Digest"] == registry_env.digests["token/public/hello:1.0"]
    private = get_token(registry_env, "repository:acme/web:pull", None)
    assert private.status_code == 200 and claims(private.json()["token"])["access"] == []
    assert head_manifest(registry_env, "token", "acme/web", "1.0", token=private.json()["token"]).status_code == 401
    assert [e.username for e in token_log] == [None, None]


def test_login_without_scope(registry_env: RegistryEnv) -> None:
    ok = get_token(registry_env, None, ALICE)
    assert ok.status_code == 200 and claims(ok.json()["token"])["access"] == []
    ping = requests.get(f"{registry_env.url('token')}/v2/", headers={"Authorization": f"Bearer {ok.json()['token']}"},
                        verify=registry_env.ca_file, timeout=5)
    assert ping.status_code == 200
    assert get_token(registry_env, None, (BOB[0], "nope")).status_code == 401


def test_oauth2_refresh_and_password_grants(registry_env: RegistryEnv, token_log: TokenLog) -> None:
    form = {"grant_type": "refresh_token", "refresh_token": ALICE_REFRESH_TOKEN, "service": TOKEN_SERVICE,
            "scope": "repository:acme/web:pull", "client_id": "tests"}
    resp = requests.post(registry_env.token_realm, data=form, verify=registry_env.ca_file, timeout=5)
    assert resp.status_code == 200 and resp.json()["expires_in"] == 300 and "token" not in resp.json()
    head = head_manifest(registry_env, "token", "acme/web", "1.0", token=resp.json()["access_token"])
    assert head.headers["Docker-Content-Digest"] == registry_env.digests["token/acme/web:1.0"]
    bad = requests.post(registry_env.token_realm, data={**form, "refresh_token": "stale"}, verify=registry_env.ca_file,
                        timeout=5)
    assert bad.status_code == 401 and bad.json() == {"error": "invalid_grant"}
    pw = requests.post(registry_env.token_realm, verify=registry_env.ca_file, timeout=5,
                       data={"grant_type": "password", "username": "alice", "password": ALICE[1],
                             "service": TOKEN_SERVICE, "scope": "repository:acme/web:pull", "client_id": "tests"})
    assert pw.status_code == 200 and claims(pw.json()["access_token"])["sub"] == "alice"
    assert [(e.method, e.grant_type, e.username, e.status) for e in token_log] == [
        ("POST", "refresh_token", None, 200), ("POST", "refresh_token", None, 401), ("POST", "password", "alice", 200)]


def test_basic_registry_accepts_alice_only(registry_env: RegistryEnv) -> None:
    ok = head_manifest(registry_env, "basic", "acme/web", "1.0", auth=ALICE)
    assert ok.status_code == 200
    assert ok.headers["Docker-Content-Digest"] == registry_env.digests["basic/acme/web:1.0"]
    assert head_manifest(registry_env, "basic", "acme/web", "1.0", auth=(ALICE[0], "wrong")).status_code == 401
    assert head_manifest(registry_env, "basic", "acme/web", "1.0", auth=BOB).status_code == 401


def test_open_registry_needs_no_credentials(registry_env: RegistryEnv) -> None:
    ok = head_manifest(registry_env, "open", "acme/web", "1.0")
    assert ok.status_code == 200
    assert ok.headers["Docker-Content-Digest"] == registry_env.digests["open/acme/web:1.0"]


def test_registry_rejects_tokens_it_should(registry_env: RegistryEnv) -> None:
    access = [{"type": "repository", "name": "acme/web", "actions": ["pull"]}]
    assert head_manifest(registry_env, "token", "acme/web", "1.0", token=registry_env.mint_token("x", access)).status_code == 200
    for bad in (registry_env.mint_token("x", access, lifetime=-120), registry_env.mint_token("x", access, issuer="other"),
                registry_env.mint_token("x", access, audience=[TOKEN_SERVICE])):
        head = head_manifest(registry_env, "token", "acme/web", "1.0", token=bad)
        assert head.status_code == 401 and 'error="invalid_token"' in head.headers["WWW-Authenticate"]


def test_token_server_failure_switches(registry_env: RegistryEnv, token_control: TokenServer, token_log: TokenLog) -> None:
    with token_control.failing(503):
        assert get_token(registry_env, "repository:acme/web:pull", ALICE).status_code == 503
    token_control.fail_by_closing()
    with pytest.raises(requests.ConnectionError):
        get_token(registry_env, "repository:acme/web:pull", ALICE)
    token_control.recover()
    assert get_token(registry_env, "repository:acme/web:pull", ALICE).status_code == 200
    assert [e.status for e in token_log] == [503, 0, 200]


def test_untrusted_certificate_fails_verification(registry_env: RegistryEnv, fake_registry: FakeRegistryFactory) -> None:
    fake = fake_registry(Response(200, [], b"{}"), tls="untrusted")
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"{fake.url}/v2/", verify=registry_env.ca_file, timeout=5)
    assert requests.get(f"{fake.url}/v2/", verify=registry_env.untrusted_ca_file, timeout=5).status_code == 200
    ctx = ssl.create_default_context(cafile=registry_env.ca_file)
    with socket.create_connection((fake.host, fake.port), timeout=5) as sock, pytest.raises(ssl.SSLCertVerificationError):
        ctx.wrap_socket(sock, server_hostname=fake.host)


def test_fake_sends_repeated_headers_as_separate_lines(registry_env: RegistryEnv,
                                                       fake_registry: FakeRegistryFactory) -> None:
    challenges = [bearer_challenge("https://127.0.0.2:1/token", "svc"), ("WWW-Authenticate", 'Basic realm="r"')]

    def handler(req: Request) -> Response:
        return Response(401, challenges) if req.path == "/v2/" else Response(404)

    fake = fake_registry(handler, host="127.0.0.3")
    resp = requests.get(f"{fake.url}/v2/", verify=registry_env.ca_file, timeout=5, headers={"X-Probe": "1"})
    assert resp.raw.headers.getlist("WWW-Authenticate") == [v for _, v in challenges]
    assert fake.url.startswith("https://127.0.0.3:")
    assert [(r.method, r.path, r.header("x-probe")) for r in fake.requests] == [("GET", "/v2/", "1")]


def test_fake_plain_http_and_raw_bytes(fake_registry: FakeRegistryFactory) -> None:
    fake = fake_registry(Raw(b"HTTP/1.1 200 OK\r\nX-Broken header without colon\r\nContent-Length: 2\r\n\r\nok"), tls="none")
    with socket.create_connection((fake.host, fake.port), timeout=5) as sock:
        sock.sendall(b"GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        while chunk := sock.recv(4096):
            data += chunk
    assert data == b"HTTP/1.1 200 OK\r\nX-Broken header without colon\r\nContent-Length: 2\r\n\r\nok"


def test_fake_drip(registry_env: RegistryEnv, fake_registry: FakeRegistryFactory) -> None:
    fake = fake_registry(Drip(Response(200, [], b"abcd"), interval=0.15, headers_at_once=True))
    start = time.monotonic()
    resp = requests.get(f"{fake.url}/v2/", verify=registry_env.ca_file, timeout=5)
    assert resp.content == b"abcd" and time.monotonic() - start >= 0.5
    resp = requests.get(f"{fake.url}/v2/", verify=registry_env.ca_file, timeout=(5, 0.05), stream=True)
    with pytest.raises(requests.exceptions.ConnectionError):  # urllib3's ReadTimeoutError while reading the body
        resp.content  # noqa: B018


def test_fake_hang_and_stop_while_hanging(registry_env: RegistryEnv, fake_registry: FakeRegistryFactory) -> None:
    fake = fake_registry(Hang())
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.get(f"{fake.url}/v2/", verify=registry_env.ca_file, timeout=(5, 0.3))
    assert [r.path for r in fake.requests] == ["/v2/"]
    with socket.create_connection((fake.host, fake.port), timeout=5):
        deadline = time.monotonic() + 5  # let the server accept it and block in the TLS handshake first
        while fake.connections < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.2)
        start = time.monotonic()
        fake.stop()
        assert time.monotonic() - start < 2


def test_fake_huge_and_close(registry_env: RegistryEnv, fake_registry: FakeRegistryFactory) -> None:
    fake = fake_registry(lambda req: Huge(chunked=req.path.endswith("chunked")) if req.path != "/close" else Close())
    for path, header, value in (("/v2/", "Content-Length", str(200 * 1024 * 1024)),
                                ("/v2/chunked", "Transfer-Encoding", "chunked")):
        with requests.get(f"{fake.url}{path}", verify=registry_env.ca_file, timeout=5, stream=True) as resp:
            assert resp.headers[header] == value
            assert len(resp.raw.read(1024 * 1024)) == 1024 * 1024
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{fake.url}/close", verify=registry_env.ca_file, timeout=5)
    start = time.monotonic()
    fake.stop()
    assert time.monotonic() - start < 2
