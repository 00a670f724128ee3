"""Registry probes against the real Debian docker-registry (distribution 2.8): a Basic
(htpasswd) registry, a token registry whose token server is on another loopback address
(a real delegated-auth pair), and an open one. Every outcome the real registry can give."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.probe_helpers import (
    auth,
    authfile,
    doctor,
    pod_yaml,
    pull_secret_yaml,
    sa_yaml,
    write_dump,
)
from tests.integration.registry_env import ALICE, ALICE_REFRESH_TOKEN, BOB, RegistryEnv, TokenLog, TokenServer


def preflight(env: RegistryEnv, tmp_path: Path, image: str, entries: dict[str, dict[str, str]],
              *extra: str):  # type: ignore[no-untyped-def]
    path = authfile(tmp_path / "config.json", entries)
    return doctor("--image", image, "--authfile", path, "--registry-ca-file", env.ca_file, "-o", "json", *extra)


def test_basic_auth_ok(registry_env: RegistryEnv, tmp_path: Path) -> None:
    image = f"{registry_env.basic}/acme/web:1.0"
    run = preflight(registry_env, tmp_path, image, {registry_env.basic: auth(*ALICE)})
    probe = run.probe()
    assert probe["outcome"] == "ok", probe
    assert probe["digest"] == registry_env.digests["basic/acme/web:1.0"]
    assert probe["authServer"] == registry_env.basic
    assert probe["credential"] == 0 and probe["httpStatus"] == 200 and probe["vantage"] == "local"
    assert run.code == 0 and run.doc["findings"] == []


def test_token_auth_ok_reports_the_auth_server_and_the_unpaired_delegation(
        registry_env: RegistryEnv, tmp_path: Path, token_log: TokenLog) -> None:
    image = f"{registry_env.token}/acme/web:1.0"
    run = preflight(registry_env, tmp_path, image, {registry_env.token: auth(*ALICE)})
    probe = run.probe()
    assert probe["outcome"] == "ok", probe
    assert probe["digest"] == registry_env.digests["token/acme/web:1.0"]
    assert probe["authServer"] == registry_env.token_server  # 127.0.0.2:PORT: the realm's host
    # The token request: Basic credentials, the challenge's service, the pull scope.
    [req] = token_log.entries()
    assert req.method == "GET" and req.username == "alice"
    assert req.query["service"] == "token-registry" and req.scopes == ("repository:acme/web:pull",)
    found = run.checks()
    assert list(found) == ["delegated-auth-unpaired"]
    [f] = found["delegated-auth-unpaired"]
    assert f["severity"] == "warning" and registry_env.token_server in f["message"]
    assert f["fix"]["command"].startswith(f"kubectl pullsecret fix create 127-0-0-2-pull --docker-server "
                                          f"{registry_env.token_server} --docker-username alice")
    assert run.code == 0  # a warning


def test_delegation_paired_when_the_auth_host_has_an_entry(registry_env: RegistryEnv, tmp_path: Path) -> None:
    image = f"{registry_env.token}/acme/web:1.0"
    run = preflight(registry_env, tmp_path, image,
                    {registry_env.token: auth(*ALICE), registry_env.token_server: auth(*ALICE)})
    assert run.probe()["outcome"] == "ok"
    assert run.doc["findings"] == []


def test_wrong_password_at_the_token_server(registry_env: RegistryEnv, tmp_path: Path) -> None:
    run = preflight(registry_env, tmp_path, f"{registry_env.token}/acme/web:1.0",
                    {registry_env.token: auth("alice", "not-the-password")})
    probe = run.probe()
    assert probe["outcome"] == "credential-rejected"
    assert probe["authServer"] == registry_env.token_server and probe["httpStatus"] == 401
    assert "invalid username/password" in probe["detail"]
    found = run.checks()
    [rejected] = found["registry-credential-rejected"]
    assert rejected["severity"] == "error"
    assert "user alice" in rejected["message"] and "fingerprint" in rejected["message"]
    assert "token server" in rejected["message"] and registry_env.token_server in rejected["message"]
    # The exchange itself failed and there is no entry for the auth host: error.
    [unpaired] = found["delegated-auth-unpaired"]
    assert unpaired["severity"] == "error" and "token exchange" in unpaired["message"]
    assert run.code == 1


def test_wrong_password_at_a_basic_registry(registry_env: RegistryEnv, tmp_path: Path) -> None:
    run = preflight(registry_env, tmp_path, f"{registry_env.basic}/acme/web:1.0",
                    {registry_env.basic: auth("alice", "wrong")})
    probe = run.probe()
    assert probe["outcome"] == "credential-rejected" and probe["httpStatus"] == 401
    assert probe["authServer"] == registry_env.basic
    assert list(run.checks()) == ["registry-credential-rejected"]
    assert run.code == 1


def test_logged_in_but_not_authorised(registry_env: RegistryEnv, tmp_path: Path) -> None:
    run = preflight(registry_env, tmp_path, f"{registry_env.token}/acme/web:1.0", {registry_env.token: auth(*BOB)})
    probe = run.probe()
    assert probe["outcome"] == "access-denied", probe
    [f] = run.checks()["registry-access-denied"]
    assert f["severity"] == "error"
    assert 'does not distinguish "no permission" from "no such repository"' in f["message"]
    assert "bob" in f["message"]
    assert run.code == 1


@pytest.mark.parametrize(("image", "says"), [
    ("acme/web:9.9", "tag 9.9 does not exist"),
    ("acme/nope:1.0", "acme/nope"),
    ("acme/web@sha256:" + "0" * 64, "digest sha256:000"),
])
def test_manifest_unknown(registry_env: RegistryEnv, tmp_path: Path, image: str, says: str) -> None:
    run = preflight(registry_env, tmp_path, f"{registry_env.token}/{image}",
                    {registry_env.token: auth(*ALICE), registry_env.token_server: auth(*ALICE)})
    probe = run.probe()
    assert probe["outcome"] == "manifest-unknown", probe
    assert probe["httpStatus"] == 404 and says in probe["detail"]
    [f] = run.checks()["image-not-found"]
    assert "not a pull-secret problem" in f["message"]
    assert list(run.checks()) == ["image-not-found"]


def test_pull_by_digest_ok(registry_env: RegistryEnv, tmp_path: Path) -> None:
    digest = registry_env.digests["basic/acme/web:1.0"]
    run = preflight(registry_env, tmp_path, f"{registry_env.basic}/acme/web@{digest}",
                    {registry_env.basic: auth(*ALICE)})
    assert run.probe()["outcome"] == "ok" and run.probe()["digest"] == digest


@pytest.mark.parametrize("which", ["token", "basic"])
def test_anonymous_refused(registry_env: RegistryEnv, tmp_path: Path, which: str) -> None:
    host = getattr(registry_env, which)
    run = preflight(registry_env, tmp_path, f"{host}/acme/web:1.0", {})
    probe = run.probe()
    assert probe["outcome"] == "auth-required" and probe["credential"] is None
    found = run.checks()
    assert found["registry-auth-required"][0]["severity"] == "error"
    assert found["registry-auth-required"][0]["fix"]["command"].startswith("kubectl pullsecret fix create")
    assert found["no-matching-credential"][0]["severity"] == "error"
    assert run.code == 1


@pytest.mark.parametrize("image_of", [lambda e: f"{e.token}/public/hello:1.0", lambda e: f"{e.open}/acme/web:1.0"])
def test_anonymous_ok_makes_no_matching_credential_info(registry_env: RegistryEnv, tmp_path: Path, image_of) -> None:  # type: ignore[no-untyped-def]
    run = preflight(registry_env, tmp_path, image_of(registry_env), {})
    assert run.probe()["outcome"] == "ok" and run.probe()["credential"] is None
    [f] = run.checks()["no-matching-credential"]
    assert f["severity"] == "info" and "public" in f["message"]
    assert run.code == 0


def test_untrusted_without_the_ca_file(registry_env: RegistryEnv, tmp_path: Path) -> None:
    path = authfile(tmp_path / "c.json", {registry_env.basic: auth(*ALICE)})
    run = doctor("--image", f"{registry_env.basic}/acme/web:1.0", "--authfile", path, "-o", "json")
    assert run.probe()["outcome"] == "tls-error"
    [f] = run.checks()["registry-tls-untrusted"]
    assert "--registry-ca-file" in f["message"]
    assert f["fix"]["equivalent"][0].startswith("# on every node")  # not OpenShift: node runtime trust
    # --insecure-registry skips verification for that host only.
    run = doctor("--image", f"{registry_env.basic}/acme/web:1.0", "--authfile", path, "-o", "json",
                 "--insecure-registry", registry_env.basic)
    assert run.probe()["outcome"] == "ok"


def test_unreachable_port(registry_env: RegistryEnv, tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    run = preflight(registry_env, tmp_path, f"127.0.0.1:{port}/acme/web:1.0", {})
    probe = run.probe()
    assert probe["outcome"] == "unreachable" and "refused" in probe["detail"]
    [f] = run.checks()["registry-unreachable"]
    assert "the node" in f["message"] and "this machine" in f["message"]
    assert "no registry could be reached" in run.err


def test_token_server_down_is_an_exchange_failure(registry_env: RegistryEnv, tmp_path: Path,
                                                  token_control: TokenServer) -> None:
    token_control.fail_with(500)
    run = preflight(registry_env, tmp_path, f"{registry_env.token}/acme/web:1.0", {registry_env.token: auth(*ALICE)})
    probe = run.probe()
    assert probe["outcome"] == "unreachable" and "token server" in probe["detail"] and "500" in probe["detail"]
    assert probe["authServer"] == registry_env.token_server
    assert run.checks()["delegated-auth-unpaired"][0]["severity"] == "error"
    token_control.fail_by_closing()
    run = preflight(registry_env, tmp_path, f"{registry_env.token}/acme/web:1.0", {registry_env.token: auth(*ALICE)})
    assert run.probe()["outcome"] == "unreachable"
    assert "its token server could not be reached" in run.checks()["registry-unreachable"][0]["message"]


def test_kubelet_order_first_success_wins_and_stale_credentials_are_named(
        registry_env: RegistryEnv, tmp_path: Path) -> None:
    """Pod secret with a wrong password first, then the node file's working one: the
    kubelet moves on after the failure; the stale one is a warning."""
    image = f"{registry_env.basic}/acme/web:1.0"
    dump = write_dump(tmp_path / "dump.yaml", sa_yaml(),
                      pull_secret_yaml("stale", {registry_env.basic: auth("alice", "old-password")}),
                      pod_yaml("web", image, ["stale"]))
    node = authfile(tmp_path / "node.json", {registry_env.basic: auth(*ALICE)})
    run = doctor("-f", dump, "--authfile", node, "--registry-ca-file", registry_env.ca_file, "-o", "json")
    probe = run.probe()
    assert probe["outcome"] == "ok" and probe["credential"] == 1
    assert [(a["credential"], a["outcome"]) for a in probe["attempts"]] == [(0, "credential-rejected"), (1, "ok")]
    [f] = run.checks()["registry-credential-rejected"]
    assert f["severity"] == "warning" and "secret/ns/stale" in f["message"] and "#1" in f["message"]
    assert "oc set data secret/stale -n ns --from-file=.dockerconfigjson=config.json" in f["fix"]["equivalent"]
    assert run.code == 0


def test_shared_images_are_probed_once_and_tokens_reused(registry_env: RegistryEnv, tmp_path: Path,
                                                         token_log: TokenLog) -> None:
    """40 pods share 2 tags of one repository with one secret: one token request (same
    scope, same credential), whatever the number of pods."""
    entries = {registry_env.token: auth(*ALICE), registry_env.token_server: auth(*ALICE)}
    docs = [sa_yaml(), pull_secret_yaml("pull", entries)]
    docs += [pod_yaml(f"p{i}", f"{registry_env.token}/acme/web:{'1.0' if i % 2 else '9.9'}", ["pull"])
             for i in range(40)]
    run = doctor("-f", write_dump(tmp_path / "d.yaml", *docs), "--registry-ca-file", registry_env.ca_file,
                 "-o", "json", "-v", "1")
    outcomes = sorted(i["probe"]["outcome"] for i in run.doc["images"])
    assert outcomes == ["manifest-unknown", "ok"]
    assert len(token_log.entries()) == 1
    # ping + token + (HEAD) for 1.0 + (HEAD, GET) for 9.9: the log line counts them.
    assert "probed 2 image chain(s) and 0 login(s) with 5 HTTP request(s)" in run.err


def test_secret_target_logs_in_with_every_entry(registry_env: RegistryEnv, tmp_path: Path,
                                                token_log: TokenLog) -> None:
    entries = {
        registry_env.token: auth(*ALICE),
        registry_env.basic: auth("alice", "wrong"),
        "cloud.openshift.com": auth("telemetry", "x" * 12),
        "*.example.com": auth("wild", "y" * 12),
        f"https://{registry_env.open}/v1/": auth("anyone", "z" * 12),
    }
    dump = write_dump(tmp_path / "d.yaml", pull_secret_yaml("mixed", entries))
    run = doctor("-f", dump, "-n", "ns", "secret/mixed", "--registry-ca-file", registry_env.ca_file, "-o", "json")
    logins = {x["key"]: x for x in run.doc["logins"]}
    assert logins[registry_env.token]["outcome"] == "ok"
    assert logins[registry_env.token]["authServer"] == registry_env.token_server
    assert logins[registry_env.basic]["outcome"] == "credential-rejected"
    assert logins["cloud.openshift.com"]["outcome"] == "skipped" and "Telemetry" in logins["cloud.openshift.com"]["detail"]
    assert logins["*.example.com"]["outcome"] == "skipped" and "wildcard" in logins["*.example.com"]["detail"]
    assert logins[f"https://{registry_env.open}/v1/"]["outcome"] == "ok"
    assert "not checked" in logins[f"https://{registry_env.open}/v1/"]["detail"]
    # The login is a `docker login`: a token request with no scope.
    [req] = token_log.entries()
    assert req.username == "alice" and req.scopes == ()
    found = run.checks()
    [rejected] = found["registry-credential-rejected"]
    assert rejected["message"].startswith(f"Entry '{registry_env.basic}' of secret/ns/mixed (user alice, fingerprint "
                                          f"{logins[registry_env.basic]['fingerprint']}) was rejected")
    [unpaired] = found["delegated-auth-unpaired"]
    assert unpaired["object"] == {"kind": "Secret", "namespace": "ns", "name": "mixed"}
    assert f"oc registry login --registry={registry_env.token_server} --auth-basic=alice:PASSWORD --to=config.json" \
        in unpaired["fix"]["equivalent"]
    assert run.code == 1
    table = doctor("-f", dump, "-n", "ns", "secret/mixed", "--registry-ca-file", registry_env.ca_file)
    assert "Login with every entry of the secret(s):" in table.out
    assert "credential-rejected" in table.out


@pytest.mark.parametrize(("token", "outcome"), [(ALICE_REFRESH_TOKEN, "ok"), ("revoked-token-xyz", "credential-rejected")])
def test_identity_token_login_uses_oauth2(registry_env: RegistryEnv, tmp_path: Path, token_log: TokenLog,
                                          token: str, outcome: str) -> None:
    entries = {registry_env.token: {"identitytoken": token}, registry_env.token_server: auth(*ALICE)}
    dump = write_dump(tmp_path / "d.yaml", pull_secret_yaml("idt", entries))
    run = doctor("-f", dump, "-n", "ns", "secret/idt", "--registry-ca-file", registry_env.ca_file, "-o", "json")
    login = {x["key"]: x for x in run.doc["logins"]}[registry_env.token]
    assert login["outcome"] == outcome, login
    posts = [e for e in token_log.entries() if e.method == "POST"]
    assert [(p.grant_type, p.form.get("refresh_token"), p.form.get("service")) for p in posts] == [
        ("refresh_token", token, "token-registry")]
    assert token not in run.out and token not in run.err
