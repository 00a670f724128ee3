"""Regression tests for bugs the mutation review found in the probe layer."""

from __future__ import annotations

from pathlib import Path

from kubectl_pullsecret.probe_model import Login
from kubectl_pullsecret.registry import Client, Settings
from tests.integration.fakeregistry import FakeRegistryFactory, Request, Response, bearer_challenge, registry_error
from tests.integration.probe_helpers import auth, authfile, doctor, pull_secret_yaml, write_dump
from tests.integration.registry_env import ALICE, Pki

API = ("Docker-Distribution-Api-Version", "registry/2.0")
DIGEST = "sha256:" + "4" * 64
MANIFEST_OK = Response(200, [API, ("Docker-Content-Digest", DIGEST)])


def preflight(pki: Pki, tmp_path: Path, host: str, password: str = ALICE[1], *extra: str):  # type: ignore[no-untyped-def]
    path = authfile(tmp_path / "c.json", {host: auth(ALICE[0], password)})
    return doctor("--image", f"{host}/acme/web:1.0", "--authfile", path, "--registry-ca-file", pki.ca_file,
                  "-o", "json", *extra)


def test_plain_http_realm_follows_the_registrys_insecure_declaration(pki: Pki, tmp_path: Path,
                                                                      fake_registry: FakeRegistryFactory) -> None:
    """The registry is declared insecure, its realm is plain http on another host: the
    credential is sent there (the declaration covers the registry's auth flow), and the
    realm's answer is what is reported. Undeclared, nothing is sent."""
    def tokens(req: Request) -> Response:
        if req.header("Authorization") == "Basic " + auth(*ALICE)["auth"]:
            return Response.json(200, {"token": "http-realm-token-1"})
        return Response.json(401, {"details": "bad credentials"})

    token_server = fake_registry(tokens, host="127.0.0.3", tls="none")

    def handler(req: Request) -> Response:
        if req.path == "/v2/":
            return Response(401, [API, bearer_challenge(f"{token_server.url}/token", "svc")])
        return MANIFEST_OK if req.header("Authorization") == "Bearer http-realm-token-1" else registry_error(
            401, "UNAUTHORIZED", "no")

    fake = fake_registry(handler)
    p = preflight(pki, tmp_path, fake.address).probe()
    assert p["outcome"] == "tls-error" and "not sent" in p["detail"], p
    assert token_server.requests == []
    p = preflight(pki, tmp_path, fake.address, ALICE[1], "--insecure-registry", fake.address).probe()
    assert p["outcome"] == "ok", p
    p = preflight(pki, tmp_path, fake.address, "wrong", "--insecure-registry", fake.address).probe()
    assert p["outcome"] == "credential-rejected" and "bad credentials" in p["detail"], p
    assert all(r.header("Authorization") for r in token_server.requests)


def _open_v2_private_repo(token_url: str | None) -> object:
    def handler(req: Request) -> Response:
        if req.path == "/v2/":
            return Response(200, [API], b"{}")
        got = req.header("Authorization") or ""
        if got == "Bearer repo-token-123456" or got == "Basic " + auth(*ALICE)["auth"]:
            return MANIFEST_OK
        challenge = (bearer_challenge(token_url, "svc", "repository:acme/web:pull") if token_url
                     else ("WWW-Authenticate", 'Basic realm="repo"'))
        return registry_error(401, "UNAUTHORIZED", "authentication required", [challenge])
    return handler


def test_open_v2_but_private_repository_follows_the_manifest_challenge(pki: Pki, tmp_path: Path,
                                                                       fake_registry: FakeRegistryFactory) -> None:
    def tokens(req: Request) -> Response:
        if req.header("Authorization") == "Basic " + auth(*ALICE)["auth"]:
            return Response.json(200, {"token": "repo-token-123456"})
        return Response.json(401, {"details": "invalid username/password"})

    token_server = fake_registry(tokens, host="127.0.0.3")
    fake = fake_registry(_open_v2_private_repo(f"{token_server.url}/token"))
    p = preflight(pki, tmp_path, fake.address).probe()
    assert p["outcome"] == "ok" and p["digest"] == DIGEST and p["authServer"] == token_server.address, p
    [req] = token_server.requests
    assert req.query["scope"] == "repository:acme/web:pull"
    run = preflight(pki, tmp_path, fake.address, "wrong-password")
    assert run.probe()["outcome"] == "credential-rejected"
    assert run.checks()["registry-credential-rejected"][0]["severity"] == "error"


def test_open_v2_but_private_repository_basic(pki: Pki, tmp_path: Path, fake_registry: FakeRegistryFactory) -> None:
    fake = fake_registry(_open_v2_private_repo(None))
    assert preflight(pki, tmp_path, fake.address).probe()["outcome"] == "ok"
    run = preflight(pki, tmp_path, fake.address, "wrong-password")
    assert run.probe()["outcome"] == "credential-rejected" and run.code == 1


def test_a_401_without_a_challenge_is_reported_even_with_a_credential(pki: Pki, tmp_path: Path,
                                                                      fake_registry: FakeRegistryFactory) -> None:
    fake = fake_registry(lambda req: Response(200, [API], b"{}") if req.path == "/v2/"
                         else registry_error(401, "UNAUTHORIZED", "go away"))
    run = preflight(pki, tmp_path, fake.address)
    p = run.probe()
    assert p["outcome"] == "auth-required" and p["credential"] == 0 and "without a Basic or Bearer" in p["detail"]
    [f] = run.checks()["registry-auth-required"]
    assert "could not be used" in f["message"] and run.code == 1


def test_secret_login_tls_failure_at_the_realm_names_the_realm_host(pki: Pki, tmp_path: Path,
                                                                    fake_registry: FakeRegistryFactory) -> None:
    token_server = fake_registry(Response.json(200, {"token": "t" * 20}), host="127.0.0.3", tls="untrusted")
    fake = fake_registry(Response(401, [API, bearer_challenge(f"{token_server.url}/token", "svc")]))
    dump = write_dump(tmp_path / "d.yaml", pull_secret_yaml("s", {fake.address: auth(*ALICE),
                                                                  token_server.address: auth(*ALICE)}))
    run = doctor("-f", dump, "-n", "ns", "secret/s", "--registry-ca-file", pki.ca_file, "-o", "json")
    findings = [f for f in run.checks()["registry-tls-untrusted"] if fake.address in f["message"].split(":")[0]
                or f"'{fake.address}'" in f["message"]]
    assert findings, run.doc["findings"]
    for f in findings:
        assert f"certs.d/{token_server.address}/ca.crt" in f["fix"]["equivalent"][0]


def test_token_realm_redirected_to_another_host_says_the_credential_was_withheld(
        pki: Pki, tmp_path: Path, fake_registry: FakeRegistryFactory) -> None:
    sso = fake_registry(lambda req: Response.json(401, {"details": "login required"}), host="127.0.0.3")
    realm = fake_registry(Response(307, [("Location", f"{sso.url}/auth/token")]), host="127.0.0.2")
    fake = fake_registry(Response(401, [API, bearer_challenge(f"{realm.url}/token", "svc")]))
    p = preflight(pki, tmp_path, fake.address).probe()
    assert p["outcome"] == "credential-rejected" and f"redirected to {sso.address}" in p["detail"], p
    assert "not forwarded" in p["detail"]
    assert [r.header("Authorization") is not None for r in realm.requests] == [True]
    assert [r.header("Authorization") for r in sso.requests] == [None]


IDENTITY_TOKEN = "refresh-identity-token-7f3a9c"


def _secret_login(pki: Pki, tmp_path: Path, host: str, entry: dict[str, str]):  # type: ignore[no-untyped-def]
    dump = write_dump(tmp_path / "s.yaml", pull_secret_yaml("s", {host: entry}))
    run = doctor("-f", dump, "-n", "ns", "secret/s", "--registry-ca-file", pki.ca_file, "-o", "json")
    [login] = [x for x in run.doc["logins"] if x["key"] == host]
    return login


def _oauth_server(req: Request) -> Response:
    """Issues a token to whoever sends the refresh token (the leak the redirect rule prevents)."""
    if IDENTITY_TOKEN.encode() in req.body:
        return Response.json(200, {"access_token": "stolen-with-the-refresh-token"})
    return Response.json(400, {"error": "invalid_request", "error_description": "refresh_token missing"})


def test_oauth_form_is_not_reposted_to_another_host_on_a_307(pki: Pki, tmp_path: Path,
                                                             fake_registry: FakeRegistryFactory) -> None:
    """The identity token travels in the POST body: a 307/308 to another host keeps the
    method and body, so the body's credential is withheld there, as Authorization is."""
    sso = fake_registry(_oauth_server, host="127.0.0.3")
    realm = fake_registry(Response(307, [("Location", f"{sso.url}/oauth2/token")]), host="127.0.0.2")
    fake = fake_registry(Response(401, [API, bearer_challenge(f"{realm.url}/token", "svc")]))
    login = _secret_login(pki, tmp_path, fake.address, {"identitytoken": IDENTITY_TOKEN})
    assert [IDENTITY_TOKEN.encode() in r.body for r in realm.requests] == [True]
    assert [(r.method, IDENTITY_TOKEN.encode() in r.body) for r in sso.requests] == [("POST", False)]
    assert login["outcome"] == "credential-rejected", login
    assert f"redirected to {sso.address}" in login["detail"] and "not forwarded" in login["detail"], login


def test_oauth_post_answered_302_becomes_a_get_without_body(pki: Pki, tmp_path: Path,
                                                            fake_registry: FakeRegistryFactory) -> None:
    """301/302 turn a POST into a GET without body (RFC 9110 §15.4.2-3, Fetch): the form,
    refresh token included, is not re-posted to the redirect target."""
    sso = fake_registry(_oauth_server, host="127.0.0.3")
    realm = fake_registry(Response(302, [("Location", f"{sso.url}/oauth2/token")]), host="127.0.0.2")
    fake = fake_registry(Response(401, [API, bearer_challenge(f"{realm.url}/token", "svc")]))
    login = _secret_login(pki, tmp_path, fake.address, {"identitytoken": IDENTITY_TOKEN})
    assert [(r.method, r.body) for r in sso.requests] == [("GET", b"")]
    assert login["outcome"] == "credential-rejected" and f"redirected to {sso.address}" in login["detail"], login


def test_token_cache_keeps_registries_with_different_insecure_declarations_apart(
        pki: Pki, fake_registry: FakeRegistryFactory) -> None:
    """Two registries share a plain-http realm; only the first is declared insecure. The
    token fetched for the first is not handed to the second: for it the realm is still
    plain http and undeclared, so its credential is not sent."""
    token_server = fake_registry(Response.json(200, {"token": "shared-realm-token-1"}), host="127.0.0.3", tls="none")

    def handler(req: Request) -> Response:
        if req.path == "/v2/":
            return Response(401, [API, bearer_challenge(f"{token_server.url}/token", "svc")])
        return MANIFEST_OK if req.header("Authorization") == "Bearer shared-realm-token-1" else registry_error(
            401, "UNAUTHORIZED", "no")

    declared, undeclared = fake_registry(handler), fake_registry(handler)
    client = Client(Settings(insecure=frozenset({declared.address}), ca_file=pki.ca_file))
    login = Login(*ALICE)
    assert client.probe_image(declared.address, "acme/web", "1.0", login).outcome == "ok"
    second = client.probe_image(undeclared.address, "acme/web", "1.0", login)
    assert second.outcome == "tls-error" and "not sent" in second.detail, second
    assert len(token_server.requests) == 1


SHA512 = "sha512:" + "5" * 128


def test_a_sha512_digest_reference_is_reported_as_a_digest(pki: Pki, tmp_path: Path,
                                                            fake_registry: FakeRegistryFactory) -> None:
    """reference.parse accepts sha384/sha512 digests: they are pulled (and reported) by digest, not as tags."""
    def handler(req: Request) -> Response:
        if req.path == "/v2/":
            return Response(401, [API, ("WWW-Authenticate", 'Basic realm="fake"')])
        if req.path.endswith("/manifests/" + SHA512):
            return registry_error(404, "MANIFEST_UNKNOWN", "manifest unknown")
        return Response(200, [API, ("Docker-Content-Digest", DIGEST)])  # any other digest: a different one

    fake = fake_registry(handler)
    path = authfile(tmp_path / "c.json", {fake.address: auth(*ALICE)})
    p = doctor("--image", f"{fake.address}/acme/web@{SHA512}", "--authfile", path, "--registry-ca-file", pki.ca_file,
               "-o", "json").probe()
    assert p["outcome"] == "manifest-unknown", p
    assert p["detail"].startswith(f"digest {SHA512} does not exist in {fake.address}/acme/web"), p
    other = "sha384:" + "3" * 96
    p = doctor("--image", f"{fake.address}/acme/web@{other}", "--authfile", path, "--registry-ca-file", pki.ca_file,
               "-o", "json").probe()
    assert p["outcome"] == "manifest-unknown" and p["digest"] == DIGEST, p
    assert p["detail"] == f"{fake.address}/acme/web@{other}: the registry returned a different digest ({DIGEST})", p
