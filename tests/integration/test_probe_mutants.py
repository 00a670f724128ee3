"""Probe behaviours that hand-made mutants of the probe layer showed untested: the
credential chain's early stop, the caches' keys, error classes of the token server and of
login probes, redirects, --insecure-registry matching, body caps, and the checks that
read probe results. Each test names the behaviour it pins down."""

from __future__ import annotations

import functools
import threading
from pathlib import Path
from typing import Any

import pytest

from kubectl_pullsecret import probe as probing
from tests.integration.fakeregistry import FakeRegistryFactory, Request, Response, bearer_challenge, registry_error
from tests.integration.probe_helpers import Run, auth, authfile, doctor, pod_yaml, pull_secret_yaml, sa_yaml, write_dump
from tests.integration.registry_env import ALICE, Pki, RegistryEnv, TokenLog

DIGEST = "sha256:" + "ab" * 32
API = ("Docker-Distribution-Api-Version", "registry/2.0")
MANIFEST_OK = Response(200, [API, ("Docker-Content-Digest", DIGEST),
                             ("Content-Type", "application/vnd.docker.distribution.manifest.v2+json")])
OPEN_PING = Response(200, [API, ("Content-Type", "application/json")], b"{}")


def preflight(ca_file: str, tmp_path: Path, image: str, entries: dict[str, Any], *extra: str) -> Run:
    path = authfile(tmp_path / "config.json", entries)
    return doctor("--image", image, "--authfile", path, "--registry-ca-file", ca_file, "-o", "json", *extra)


def secret_login(ca_file: str, tmp_path: Path, entries: dict[str, Any], *extra: str) -> Run:
    dump = write_dump(tmp_path / "secret.yaml", pull_secret_yaml("s", entries))
    return doctor("-f", dump, "-n", "ns", "secret/s", "--registry-ca-file", ca_file, "-o", "json", *extra)


def logins(run: Run) -> dict[str, dict[str, Any]]:
    return {x["key"]: x for x in run.doc["logins"]}


def basic_registry(manifest: Any = MANIFEST_OK, v2_with_auth: Any = None) -> Any:
    """A Basic registry: /v2/ challenges; a manifest request without Authorization is refused."""
    def handler(req: Request) -> Any:
        if req.path == "/v2/":
            if req.header("Authorization") is not None and v2_with_auth is not None:
                return v2_with_auth
            return Response(401, [API, ("WWW-Authenticate", 'Basic realm="fake"')])
        if req.header("Authorization") is None:
            return registry_error(401, "UNAUTHORIZED", "authentication required")
        return manifest(req) if callable(manifest) else manifest
    return handler


def bearer_registry(token_url: str) -> Any:
    """A Bearer registry whose manifests answer any Bearer token."""
    def handler(req: Request) -> Response:
        if req.path == "/v2/":
            return Response(401, [API, bearer_challenge(token_url, "svc")])
        if (req.header("Authorization") or "").startswith("Bearer "):
            return MANIFEST_OK
        return registry_error(401, "UNAUTHORIZED", "authentication required")
    return handler


# --- the credential chain -------------------------------------------------------------------------------


def test_chain_stops_at_the_first_success(registry_env: RegistryEnv, tmp_path: Path) -> None:
    """The working credential first, a stale one after it: the kubelet never tries the
    stale one, so it is neither probed nor reported."""
    image = f"{registry_env.basic}/acme/web:1.0"
    dump = write_dump(tmp_path / "d.yaml", sa_yaml(),
                      pull_secret_yaml("good", {registry_env.basic: auth(*ALICE)}),
                      pull_secret_yaml("stale", {registry_env.basic: auth("alice", "old-password")}),
                      pod_yaml("web", image, ["good", "stale"]))
    run = doctor("-f", dump, "--registry-ca-file", registry_env.ca_file, "-o", "json")
    probe = run.probe()
    assert probe["outcome"] == "ok" and probe["credential"] == 0, probe
    assert "attempts" not in probe  # one attempt only
    assert "registry-credential-rejected" not in run.checks()
    assert run.code == 0


def test_a_login_shared_by_two_chains_is_probed_once(pki: Pki, tmp_path: Path,
                                                     fake_registry: FakeRegistryFactory) -> None:
    """Two pods pull the same image with different credential lists that share a login:
    that (image, login) attempt is made once for the run."""
    good = auth("alice", "good-password-1")
    fake = fake_registry(basic_registry(lambda req: MANIFEST_OK if req.header("Authorization") == f"Basic {good['auth']}"
                                        else registry_error(401, "UNAUTHORIZED", "bad credentials")))
    image = f"{fake.address}/acme/web:1.0"
    dump = write_dump(tmp_path / "d.yaml", sa_yaml(),
                      pull_secret_yaml("good", {fake.address: good}),
                      pull_secret_yaml("stale", {fake.address: auth("alice", "old-password-2")}),
                      pod_yaml("one", image, ["good"]), pod_yaml("two", image, ["stale", "good"]))
    run = doctor("-f", dump, "--registry-ca-file", pki.ca_file, "-o", "json")
    assert sorted(i["probe"]["outcome"] for i in run.doc["images"]) == ["ok", "ok"]
    with_good = [r for r in fake.requests if "manifests" in r.path and r.header("Authorization") == f"Basic {good['auth']}"]
    assert [r.method for r in with_good] == ["HEAD"]


def test_probes_interleave_registries(pki: Pki, tmp_path: Path, fake_registry: FakeRegistryFactory,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """With one pool slot, the images are probed registry by registry in turn (round
    robin), not all of one registry first."""
    order: list[str] = []
    lock = threading.Lock()

    def open_registry(name: str) -> Any:
        def handler(req: Request) -> Response:
            if req.path == "/v2/":
                return OPEN_PING
            with lock:
                order.append(f"{name}:{req.path.split('/manifests/')[0].removeprefix('/v2/')}")
            return MANIFEST_OK
        return handler

    a = fake_registry(open_registry("a"))
    b = fake_registry(open_registry("b"), host="127.0.0.3")
    monkeypatch.setattr(probing, "Prober", functools.partial(probing.Prober, pool_size=1))
    dump = write_dump(tmp_path / "d.yaml", sa_yaml(), pod_yaml("p1", f"{a.address}/acme/x:1", []),
                      pod_yaml("p2", f"{a.address}/acme/y:1", []), pod_yaml("p3", f"{b.address}/acme/z:1", []))
    run = doctor("-f", dump, "--registry-ca-file", pki.ca_file, "-o", "json")
    assert [i["probe"]["outcome"] for i in run.doc["images"]] == ["ok", "ok", "ok"]
    assert order == ["a:acme/x", "b:acme/z", "a:acme/y"]


# --- the token cache --------------------------------------------------------------------------------------


def test_tokens_are_per_scope(registry_env: RegistryEnv, tmp_path: Path, token_log: TokenLog) -> None:
    """One credential, two repositories: a token per repository scope (a token for one
    repository does not open another)."""
    entries = {registry_env.token: auth(*ALICE), registry_env.token_server: auth(*ALICE)}
    dump = write_dump(tmp_path / "d.yaml", sa_yaml(), pull_secret_yaml("pull", entries),
                      pod_yaml("web", f"{registry_env.token}/acme/web:1.0", ["pull"]),
                      pod_yaml("hello", f"{registry_env.token}/public/hello:1.0", ["pull"]))
    run = doctor("-f", dump, "--registry-ca-file", registry_env.ca_file, "-o", "json")
    assert [i["probe"]["outcome"] for i in run.doc["images"]] == ["ok", "ok"], run.doc["images"]
    assert sorted(s for e in token_log.entries() for s in e.scopes) == ["repository:acme/web:pull",
                                                                        "repository:public/hello:pull"]


def test_tokens_are_per_credential(registry_env: RegistryEnv, tmp_path: Path, token_log: TokenLog) -> None:
    """A rejected token request for a stale password is not reused for the next
    credential of the chain: the working one gets its own token and the pull succeeds."""
    image = f"{registry_env.token}/acme/web:1.0"
    dump = write_dump(tmp_path / "d.yaml", sa_yaml(),
                      pull_secret_yaml("stale", {registry_env.token: auth("alice", "old-password")}),
                      pod_yaml("web", image, ["stale"]))
    node = authfile(tmp_path / "node.json", {registry_env.token: auth(*ALICE), registry_env.token_server: auth(*ALICE)})
    run = doctor("-f", dump, "--authfile", node, "--registry-ca-file", registry_env.ca_file, "-o", "json")
    probe = run.probe()
    assert probe["outcome"] == "ok" and probe["credential"] == 1, probe
    assert [(a["credential"], a["outcome"]) for a in probe["attempts"]] == [(0, "credential-rejected"), (1, "ok")]
    assert [(e.username, e.status) for e in token_log.entries()] == [("alice", 401), ("alice", 200)]


# --- token server answers ---------------------------------------------------------------------------------


def test_token_server_refusing_anonymous_is_auth_required(pki: Pki, tmp_path: Path,
                                                          fake_registry: FakeRegistryFactory) -> None:
    token_server = fake_registry(lambda req: Response.json(200, {"token": "t" * 24}) if req.header("Authorization")
                                 else Response.json(401, {"details": "anonymous access disabled"}), host="127.0.0.3")
    fake = fake_registry(bearer_registry(f"{token_server.url}/token"))
    run = preflight(pki.ca_file, tmp_path, f"{fake.address}/acme/web:1.0", {})
    probe = run.probe()
    assert probe["outcome"] == "auth-required" and probe["credential"] is None, probe
    assert "refused an anonymous token" in probe["detail"]
    found = run.checks()
    assert found["registry-auth-required"][0]["severity"] == "error"
    assert "registry-credential-rejected" not in found


def test_identity_token_refused_with_400_is_credential_rejected(pki: Pki, tmp_path: Path,
                                                                fake_registry: FakeRegistryFactory) -> None:
    """OAuth2 servers answer an expired refresh token with 400 invalid_grant (RFC 6749 §5.2)."""
    token_server = fake_registry(Response.json(400, {"error": "invalid_grant", "error_description": "refresh token expired"}),
                                 host="127.0.0.3")
    fake = fake_registry(bearer_registry(f"{token_server.url}/token"))
    run = secret_login(pki.ca_file, tmp_path, {fake.address: {"identitytoken": "expired-identity-token-1"}})
    login = logins(run)[fake.address]
    assert login["outcome"] == "credential-rejected" and "identity token" in login["detail"], login
    assert [r.method for r in token_server.requests] == ["POST"]
    [f] = run.checks()["registry-credential-rejected"]
    assert f["object"] == {"kind": "Secret", "namespace": "ns", "name": "s"}


def test_token_server_429_is_rate_limited(pki: Pki, tmp_path: Path, fake_registry: FakeRegistryFactory) -> None:
    token_server = fake_registry(Response.json(429, {"details": "too many requests"}, [("Retry-After", "60")]),
                                 host="127.0.0.3")
    fake = fake_registry(bearer_registry(f"{token_server.url}/token"))
    run = preflight(pki.ca_file, tmp_path, f"{fake.address}/acme/web:1.0", {fake.address: auth(*ALICE)})
    probe = run.probe()
    assert probe["outcome"] == "rate-limited" and probe["httpStatus"] == 429, probe
    assert probe["rateLimit"] == {"retryAfter": 60}
    [f] = run.checks()["registry-rate-limited"]
    assert "retry after 60s" in f["message"]


def test_token_bodies_are_capped(pki: Pki, tmp_path: Path, fake_registry: FakeRegistryFactory) -> None:
    """A token answer beyond the body cap is cut, not read whole: it no longer parses."""
    token_server = fake_registry(Response.json(200, {"token": "x" * (300 * 1024)}), host="127.0.0.3")
    fake = fake_registry(bearer_registry(f"{token_server.url}/token"))
    probe = preflight(pki.ca_file, tmp_path, f"{fake.address}/acme/web:1.0", {fake.address: auth(*ALICE)}).probe()
    assert probe["outcome"] == "not-a-registry" and "without a token" in probe["detail"], probe


def test_303_from_the_token_realm_turns_the_post_into_a_get(pki: Pki, tmp_path: Path,
                                                            fake_registry: FakeRegistryFactory) -> None:
    def token_handler(req: Request) -> Response:
        if req.method == "POST" and req.path == "/token":
            return Response(303, [("Location", "/issued")])
        if req.method == "GET" and req.path == "/issued":
            return Response.json(200, {"access_token": "issued-after-303-token"})
        return Response(405)

    token_server = fake_registry(token_handler, host="127.0.0.3")
    fake = fake_registry(bearer_registry(f"{token_server.url}/token"))
    run = secret_login(pki.ca_file, tmp_path, {fake.address: {"identitytoken": "refresh-token-303"}})
    assert logins(run)[fake.address]["outcome"] == "ok", logins(run)
    assert [(r.method, r.path, r.body) for r in token_server.requests][1] == ("GET", "/issued", b"")


# --- classification ----------------------------------------------------------------------------------


def test_name_unknown_says_the_repository_does_not_exist(pki: Pki, tmp_path: Path,
                                                         fake_registry: FakeRegistryFactory) -> None:
    """Registries that tell an unknown repository from an unknown tag (NAME_UNKNOWN,
    distribution api.md) get the repository named, not the tag."""
    fake = fake_registry(basic_registry(registry_error(404, "NAME_UNKNOWN", "repository name not known to registry")))
    run = preflight(pki.ca_file, tmp_path, f"{fake.address}/acme/nope:1.0", {fake.address: auth(*ALICE)})
    probe = run.probe()
    assert probe["outcome"] == "manifest-unknown", probe
    assert probe["detail"].startswith(f"repository acme/nope does not exist on {fake.address}"), probe


def test_manifest_server_error_is_unreachable(pki: Pki, tmp_path: Path, fake_registry: FakeRegistryFactory) -> None:
    fake = fake_registry(basic_registry(registry_error(503, "UNAVAILABLE", "backend storage down")))
    run = preflight(pki.ca_file, tmp_path, f"{fake.address}/acme/web:1.0", {fake.address: auth(*ALICE)})
    probe = run.probe()
    assert probe["outcome"] == "unreachable" and probe["httpStatus"] == 503, probe
    [f] = run.checks()["registry-unreachable"]
    assert "failed the manifest request" in f["message"]


def test_manifest_answer_outside_the_api_is_reported(pki: Pki, tmp_path: Path,
                                                    fake_registry: FakeRegistryFactory) -> None:
    """/v2/ is a registry, the manifest request gets an answer no registry gives."""
    fake = fake_registry(basic_registry(Response(418, [("Content-Type", "text/plain")], b"teapot")))
    run = preflight(pki.ca_file, tmp_path, f"{fake.address}/acme/web:1.0", {fake.address: auth(*ALICE)})
    probe = run.probe()
    assert probe["outcome"] == "not-a-registry" and probe["httpStatus"] == 418, probe
    [f] = run.checks()["registry-unreachable"]
    assert f["severity"] == "error" and "answered a manifest request with HTTP 418" in f["message"]
    assert "answers /v2/ as a registry" in f["message"] and run.code == 1


def test_one_pull_left_is_not_rate_limited(pki: Pki, tmp_path: Path, fake_registry: FakeRegistryFactory) -> None:
    limited = Response(200, [*MANIFEST_OK.headers, ("ratelimit-limit", "100;w=21600"),
                             ("ratelimit-remaining", "1;w=21600")])
    fake = fake_registry(basic_registry(limited))
    run = preflight(pki.ca_file, tmp_path, f"{fake.address}/acme/web:1.0", {fake.address: auth(*ALICE)})
    probe = run.probe()
    assert probe["outcome"] == "ok" and probe["rateLimit"]["remaining"] == 1
    assert "registry-rate-limited" not in run.checks()


# --- login probes (secret targets) -----------------------------------------------------------------------


def test_basic_login_refused_with_403_is_credential_rejected(pki: Pki, tmp_path: Path,
                                                             fake_registry: FakeRegistryFactory) -> None:
    fake = fake_registry(basic_registry(v2_with_auth=registry_error(403, "DENIED", "account locked")))
    run = secret_login(pki.ca_file, tmp_path, {fake.address: auth(*ALICE)})
    login = logins(run)[fake.address]
    assert login["outcome"] == "credential-rejected" and login["httpStatus"] == 403, login
    assert "registry-credential-rejected" in run.checks()


def test_identity_token_login_at_a_basic_registry_is_skipped(registry_env: RegistryEnv, tmp_path: Path) -> None:
    run = secret_login(registry_env.ca_file, tmp_path, {registry_env.basic: {"identitytoken": "idt-for-basic-9"}})
    login = logins(run)[registry_env.basic]
    assert login["outcome"] == "skipped" and "identity token cannot be used" in login["detail"], login
    assert "registry-credential-rejected" not in run.checks()


def test_secret_login_delegation_paired_by_the_secrets_own_entry(registry_env: RegistryEnv, tmp_path: Path) -> None:
    run = secret_login(registry_env.ca_file, tmp_path, {registry_env.token: auth(*ALICE),
                                                        registry_env.token_server: auth(*ALICE)})
    assert logins(run)[registry_env.token]["outcome"] == "ok"
    assert "delegated-auth-unpaired" not in run.checks()


# --- transport --------------------------------------------------------------------------------------------


def test_redirect_to_plain_http_is_not_followed(pki: Pki, tmp_path: Path, fake_registry: FakeRegistryFactory) -> None:
    other = fake_registry(MANIFEST_OK, host="127.0.0.3", tls="none")
    fake = fake_registry(basic_registry(Response(307, [("Location", f"{other.url}/v2/acme/web/manifests/1.0")])))
    probe = preflight(pki.ca_file, tmp_path, f"{fake.address}/acme/web:1.0", {fake.address: auth(*ALICE)}).probe()
    assert probe["outcome"] == "tls-error" and "redirected to plain http" in probe["detail"], probe
    assert other.requests == []


@pytest.mark.parametrize("flag", ["127.0.0.1", "{address}"])
def test_insecure_registry_without_a_port_covers_every_port(pki: Pki, tmp_path: Path,
                                                            fake_registry: FakeRegistryFactory, flag: str) -> None:
    fake = fake_registry(basic_registry(), tls="none")
    probe = preflight(pki.ca_file, tmp_path, f"{fake.address}/acme/web:1.0", {fake.address: auth(*ALICE)},
                      "--insecure-registry", flag.format(address=fake.address)).probe()
    assert probe["outcome"] == "ok", probe


def test_insecure_registry_is_case_insensitive(pki: Pki, tmp_path: Path, fake_registry: FakeRegistryFactory) -> None:
    fake = fake_registry(basic_registry(), tls="none")
    host = f"localhost:{fake.port}"
    probe = preflight(pki.ca_file, tmp_path, f"{host}/acme/web:1.0", {host: auth(*ALICE)},
                      "--insecure-registry", host.upper()).probe()
    assert probe["outcome"] == "ok", probe


def test_tls_fix_names_the_token_realm_host(pki: Pki, tmp_path: Path, fake_registry: FakeRegistryFactory) -> None:
    """The registry is trusted, its token realm is not: the CA to install is the realm's."""
    token_server = fake_registry(Response.json(200, {"token": "t" * 24}), host="127.0.0.3", tls="untrusted")
    fake = fake_registry(bearer_registry(f"{token_server.url}/token"))
    run = preflight(pki.ca_file, tmp_path, f"{fake.address}/acme/web:1.0", {fake.address: auth(*ALICE)})
    assert run.probe()["outcome"] == "tls-error"
    [f] = run.checks()["registry-tls-untrusted"]
    fix = " ".join(f["fix"]["equivalent"])
    assert f"certs.d/{token_server.address}/ca.crt" in fix and f"certs.d/{fake.address}/" not in fix


# --- checks and notes that read probe results -------------------------------------------------------------


def test_anonymous_missing_tag_on_an_open_registry_is_a_public_image(registry_env: RegistryEnv, tmp_path: Path) -> None:
    """Anonymous access worked (the tag is missing, not the credential): no-matching-credential is info."""
    run = preflight(registry_env.ca_file, tmp_path, f"{registry_env.open}/acme/web:9.9", {})
    assert run.probe()["outcome"] == "manifest-unknown"
    found = run.checks()
    [f] = found["no-matching-credential"]
    assert f["severity"] == "info" and "public" in f["message"]
    assert "image-not-found" in found


def test_no_matching_credential_for_an_unprobed_image_says_not_probed(tmp_path: Path) -> None:
    image = "registry.team.svc:5000/acme/web:1"
    dump = write_dump(tmp_path / "d.yaml", sa_yaml(), pod_yaml("web", image, []))
    run = doctor("-f", dump, "-o", "json")
    assert run.probe()["outcome"] == "skipped"
    [f] = run.checks()["no-matching-credential"]
    assert f["severity"] == "warning"
    assert "not checked: not probed:" in f["message"] and "could not tell" not in f["message"]


def test_unreachable_note_only_when_nothing_was_reached(registry_env: RegistryEnv, tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dump = write_dump(tmp_path / "d.yaml", sa_yaml(), pod_yaml("up", f"{registry_env.open}/acme/web:1.0", []),
                      pod_yaml("down", f"127.0.0.1:{port}/acme/web:1.0", []))
    run = doctor("-f", dump, "--registry-ca-file", registry_env.ca_file, "-o", "json")
    assert sorted(i["probe"]["outcome"] for i in run.doc["images"]) == ["ok", "unreachable"]
    assert "no registry could be reached" not in run.err
