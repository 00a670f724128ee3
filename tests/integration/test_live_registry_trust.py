"""OpenShift's own registry settings feed the probes, as they feed the nodes:
`image.config.openshift.io/cluster` additionalTrustedCA (a ConfigMap in openshift-config,
keys `host..port`) is trusted, and its insecureRegistries skip verification. Real
docker-registry behind a CA this machine does not trust; the cluster is fakekube."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from kubectl_pullsecret.cli import main
from tests.fakekube import FakeKube
from tests.integration.registry_env import ALICE, RegistryEnv

NS = "shop"


def _objects(env: RegistryEnv, image_config_spec: dict[str, Any], ca_pem: str | None) -> list[dict[str, Any]]:
    host = env.basic
    auth = base64.b64encode(f"{ALICE[0]}:{ALICE[1]}".encode()).decode()
    config = {"auths": {host: {"auth": auth}}}
    objs: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}},
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": NS}},
        {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockerconfigjson",
         "metadata": {"name": "regcred", "namespace": NS},
         "data": {".dockerconfigjson": base64.b64encode(json.dumps(config).encode()).decode()}},
        {"apiVersion": "v1", "kind": "Pod",
         "metadata": {"name": "web-1", "namespace": NS, "uid": "u1", "creationTimestamp": "2026-11-01T10:00:00Z"},
         "spec": {"containers": [{"name": "web", "image": f"{host}/acme/web:1.0"}],
                  "imagePullSecrets": [{"name": "regcred"}]}},
        {"apiVersion": "config.openshift.io/v1", "kind": "Image", "metadata": {"name": "cluster"},
         "spec": image_config_spec},
    ]
    if ca_pem is not None:
        objs.append({"apiVersion": "v1", "kind": "ConfigMap",
                     "metadata": {"name": "registry-cas", "namespace": "openshift-config"},
                     "data": {host.replace(":", ".."): ca_pem}})
    return objs


def _probe(env: RegistryEnv, tmp_path: Path, capsys: pytest.CaptureFixture[str], spec: dict[str, Any],
           ca_pem: str | None) -> dict[str, Any]:
    with FakeKube(openshift=True) as api:
        api.add_all(_objects(env, spec, ca_pem))
        kc = api.kubeconfig(tmp_path / "kc", namespace=NS)
        rc = main(["doctor", "--kubeconfig", str(kc), "-o", "json", "--probe-timeout", "5",
                   "--checks", "registry-tls-untrusted,registry-credential-rejected"])
    out = capsys.readouterr()
    assert rc in (0, 1), out.err
    [image] = json.loads(out.out)["images"]
    probe: dict[str, Any] = image["probe"]
    return probe


def test_untrusted_without_cluster_trust(registry_env: RegistryEnv, tmp_path: Path, capsys) -> None:
    probe = _probe(registry_env, tmp_path, capsys, {}, None)
    assert probe["outcome"] == "tls-error"


def test_additional_trusted_ca_is_trusted(registry_env: RegistryEnv, tmp_path: Path, capsys) -> None:
    ca = Path(registry_env.ca_file).read_text()
    probe = _probe(registry_env, tmp_path, capsys, {"additionalTrustedCA": {"name": "registry-cas"}}, ca)
    assert probe["outcome"] == "ok", probe
    assert probe["digest"] == registry_env.digests["basic/acme/web:1.0"]


def test_a_ca_for_another_registry_does_not_help(registry_env: RegistryEnv, tmp_path: Path, capsys) -> None:
    other = Path(registry_env.untrusted_ca_file).read_text()
    probe = _probe(registry_env, tmp_path, capsys, {"additionalTrustedCA": {"name": "registry-cas"}}, other)
    assert probe["outcome"] == "tls-error"


def test_insecure_registries_skip_verification(registry_env: RegistryEnv, tmp_path: Path, capsys) -> None:
    spec = {"registrySources": {"insecureRegistries": [registry_env.basic.split(":")[0]]}}
    probe = _probe(registry_env, tmp_path, capsys, spec, None)
    assert probe["outcome"] == "ok", probe


@pytest.mark.parametrize("spec, trusted", [({}, False), ({"additionalTrustedCA": {"name": "registry-cas"}}, True)],
                         ids=["no-cluster-trust", "additional-trusted-ca"])
def test_fix_create_verifies_with_what_the_nodes_trust(registry_env: RegistryEnv, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str], spec: dict[str, Any],
                                                       trusted: bool) -> None:
    """fix create logs in before writing, trusting what doctor's probes (and the nodes) trust:
    a registry whose CA only image.config's additionalTrustedCA names is verified, not refused."""
    ca = Path(registry_env.ca_file).read_text()
    with FakeKube(openshift=True) as api:
        api.add_all(_objects(registry_env, spec, ca))
        kc = api.kubeconfig(tmp_path / "kc", namespace=NS)
        config = tmp_path / "config.json"
        config.write_text(json.dumps({"auths": {registry_env.basic: {
            "auth": base64.b64encode(f"{ALICE[0]}:{ALICE[1]}".encode()).decode()}}}))
        rc = main(["fix", "create", "newcred", "--from-file", str(config), "--kubeconfig", str(kc),
                   "--probe-timeout", "5", "--backup-dir", str(tmp_path / "backups")])
        created = api.get_object("Secret", NS, "newcred")
    out = capsys.readouterr()
    if trusted:
        assert rc == 0, out
        assert f"verified: {registry_env.basic} (user {ALICE[0]}" in out.out
        assert created is not None
    else:
        assert rc == 1, out
        assert "could not be verified: tls-error" in out.err and "nothing was written" in out.err
        assert created is None
