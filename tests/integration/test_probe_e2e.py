"""The pre-flight check end to end (real kubectl → plugin → real registry), and the
secret sweep over every output format for probe runs."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from subprocess import CompletedProcess

import pytest

from kubectl_pullsecret import redact
from tests.e2e.test_kubectl_plugin import kubectl  # noqa: F401 - the fixture
from tests.integration.fakeregistry import FakeRegistryFactory, Request, Response, bearer_challenge, registry_error
from tests.integration.probe_helpers import auth, authfile, doctor, pod_yaml, pull_secret_yaml, sa_yaml, write_dump
from tests.integration.registry_env import ALICE, Pki, RegistryEnv

FORMATS = ("table", "wide", "json", "yaml", "markdown")


def test_kubectl_runs_the_preflight_against_the_real_registry(
        kubectl: Callable[..., CompletedProcess[str]], registry_env: RegistryEnv, tmp_path: Path) -> None:  # noqa: F811
    good = authfile(tmp_path / "good.json", {registry_env.token: auth(*ALICE),
                                             registry_env.token_server: auth(*ALICE)})
    image = f"{registry_env.token}/acme/web:1.0"
    result = kubectl("pullsecret", "doctor", "--image", image, "--authfile", good,
                     "--registry-ca-file", registry_env.ca_file, "-o", "json")
    assert result.returncode == 0, result.stderr
    [img] = json.loads(result.stdout)["images"]
    assert img["probe"]["outcome"] == "ok" and img["probe"]["digest"] == registry_env.digests["token/acme/web:1.0"]
    bad = authfile(tmp_path / "bad.json", {registry_env.token: auth("alice", "typo-in-password")})
    result = kubectl("pullsecret", "doctor", "--image", image, "--authfile", bad, "--registry-ca-file",
                     registry_env.ca_file)
    assert result.returncode == 1
    assert "registry-credential-rejected" in result.stdout and "typo-in-password" not in result.stdout + result.stderr


SECRET_TOKEN = "issued-bearer-token-7f3e9a"
IDENTITY_TOKEN = "identity-token-c0ffee42"
PASSWORDS = ("first-password-91xk", "second-password-22qz")


@pytest.fixture
def leaky_pair(fake_registry: FakeRegistryFactory) -> tuple[str, str]:
    """A registry and token server that issue a known token and echo what they are sent
    back into their error messages (the worst case for a leak)."""
    token_server = fake_registry(lambda req: (
        Response.json(200, {"token": SECRET_TOKEN}) if "Basic " in (req.header("Authorization") or "")
        or req.method == "POST" else Response.json(401, {"details": f"echo {req.header('Authorization')}"})),
        host="127.0.0.3")

    def registry(req: Request) -> Response:
        if req.path == "/v2/":
            return Response(401, [bearer_challenge(f"{token_server.url}/token", "svc")])
        if "good" in req.path:
            return Response(200, [("Docker-Content-Digest", "sha256:" + "1" * 64)])
        return registry_error(403, "DENIED", f"you sent {req.header('Authorization')}")

    return fake_registry(registry).address, token_server.address


@pytest.mark.parametrize("scrubber", ["on", "off"])
def test_no_secret_in_any_output_of_a_probe_run(pki: Pki, tmp_path: Path, leaky_pair: tuple[str, str], scrubber: str,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Every format, at -v 9, with and without the output scrubber (the safety net):
    the messages themselves carry no secret, even from a registry that echoes them."""
    redact.clear()
    if scrubber == "off":
        monkeypatch.setattr(redact, "scrub", lambda text: text)
    host, _ = leaky_pair
    entries = {host: auth("alice", PASSWORDS[0])}
    stale = {host: auth("alice", PASSWORDS[1])}
    idt = {host: {"identitytoken": IDENTITY_TOKEN}}
    dump = write_dump(tmp_path / "d.yaml", sa_yaml(), pull_secret_yaml("a", entries), pull_secret_yaml("b", stale),
                      pull_secret_yaml("idt", idt),
                      pod_yaml("good", f"{host}/acme/good:1", ["b", "a"]), pod_yaml("bad", f"{host}/acme/bad:1", ["a"]))
    for fmt in FORMATS:
        for target in ([], ["secret/a", "secret/idt"]):
            run = doctor("-f", dump, "-n", "ns", *target, "--registry-ca-file", pki.ca_file, "-o", fmt, "-v", "9")
            text = run.out + run.err
            assert run.out, run.err
            for secret in (SECRET_TOKEN, IDENTITY_TOKEN, *PASSWORDS):
                assert secret not in text, (fmt, target, secret)
            for pw in PASSWORDS:  # nor the base64 `auth` value
                assert base64.b64encode(f"alice:{pw}".encode()).decode() not in text
    # The echoing registry did receive the token: the sweep tested something.
    run = doctor("-f", dump, "-n", "ns", "--registry-ca-file", pki.ca_file, "-o", "json")
    outcomes = {i["image"].split("/")[-1]: i["probe"]["outcome"] for i in run.doc["images"]}
    assert outcomes == {"good:1": "ok", "bad:1": "access-denied"}
