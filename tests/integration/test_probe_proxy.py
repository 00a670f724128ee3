"""HTTPS_PROXY / NO_PROXY from the environment are honoured (and nothing else of the
environment's requests settings, such as ~/.netrc credentials)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.fakeregistry import FakeRegistryFactory, Request, Response
from tests.integration.probe_helpers import auth, authfile, doctor
from tests.integration.registry_env import ALICE, RegistryEnv


def test_https_proxy_is_used_and_no_proxy_bypasses_it(registry_env: RegistryEnv, tmp_path: Path,
                                                      fake_registry: FakeRegistryFactory,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    # A proxy that refuses every CONNECT: the probe must go through it, and say so.
    proxy = fake_registry(lambda req: Response(403, [], b"proxy says no"), host="127.0.0.3", tls="none")
    path = authfile(tmp_path / "c.json", {registry_env.basic: auth(*ALICE)})
    image = f"{registry_env.basic}/acme/web:1.0"
    for name in ("HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", f"http://{proxy.address}")
    run = doctor("--image", image, "--authfile", path, "--registry-ca-file", registry_env.ca_file, "-o", "json")
    probe = run.probe()
    assert probe["outcome"] == "unreachable" and "proxy" in probe["detail"], probe
    connects: list[Request] = [r for r in proxy.requests if r.method == "CONNECT"]
    assert connects and connects[0].target == registry_env.basic
    proxy.reset()
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    run = doctor("--image", image, "--authfile", path, "--registry-ca-file", registry_env.ca_file, "-o", "json")
    assert run.probe()["outcome"] == "ok"
    assert proxy.requests == []


def test_netrc_credentials_are_never_sent(registry_env: RegistryEnv, tmp_path: Path, fake_registry: FakeRegistryFactory,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """requests would add ~/.netrc credentials to a request without Authorization: the
    anonymous ping and anonymous probes must stay anonymous."""
    fake = fake_registry(lambda req: Response(200, [("Docker-Distribution-Api-Version", "registry/2.0"),
                                                    ("Docker-Content-Digest", "sha256:" + "9" * 64)], b"{}"))
    netrc = tmp_path / ".netrc"
    netrc.write_text("machine 127.0.0.1 login netrc-user password netrc-password-xyz\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    monkeypatch.setenv("HOME", str(tmp_path))
    path = authfile(tmp_path / "c.json", {})
    run = doctor("--image", f"{fake.address}/acme/web:1.0", "--authfile", path, "--registry-ca-file",
                 registry_env.ca_file, "-o", "json")
    assert run.probe()["outcome"] == "ok"
    assert fake.requests and all(r.header("Authorization") is None for r in fake.requests)
