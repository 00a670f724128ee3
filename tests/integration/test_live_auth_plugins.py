"""Authentication the `kubernetes` package provides, used for real: an exec credential
plugin (as `oc login` via a plugin, EKS/GKE/OIDC helpers do), and the in-cluster config
of a pod (service-account token, CA, KUBERNETES_SERVICE_HOST/PORT)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from kubernetes.config import incluster_config

from kubectl_pullsecret import kube
from kubectl_pullsecret.cli import main
from tests.fakekube import FakeKube

REPO = Path(__file__).resolve().parents[2]
POD = {"apiVersion": "v1", "kind": "Pod",
       "metadata": {"name": "web-1", "namespace": "shop", "uid": "u1", "creationTimestamp": "2026-11-01T10:00:00Z"},
       "spec": {"containers": [{"name": "web", "image": "quay.io/acme/web:1.2"}],
                "imagePullSecrets": [{"name": "regcred"}]}}


@pytest.fixture(scope="module")
def api():
    with FakeKube() as server:
        server.add_all([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}, POD])
        server.add_user("plugin-user", "token-from-plugin", ("system:masters",))
        server.add_user("system:serviceaccount:shop:doctor", "in-cluster-token", ("system:masters",))
        yield server


def _exec_kubeconfig(api: FakeKube, tmp_path: Path) -> Path:
    plugin = tmp_path / "credential-plugin"
    calls = tmp_path / "calls"
    plugin.write_text(f"""#!{sys.executable}
import json, sys
open({str(calls)!r}, "a").write("called\\n")
print(json.dumps({{"apiVersion": "client.authentication.k8s.io/v1beta1", "kind": "ExecCredential",
                  "status": {{"token": "token-from-plugin"}}}}))
""")
    plugin.chmod(plugin.stat().st_mode | stat.S_IEXEC)
    base = yaml.safe_load(api.kubeconfig(tmp_path / "base").read_text())
    base["users"] = [{"name": "via-plugin", "user": {"exec": {
        "apiVersion": "client.authentication.k8s.io/v1beta1", "command": str(plugin),
        "interactiveMode": "Never"}}}]
    base["contexts"] = [{"name": "fake", "context": {"cluster": "fakekube", "user": "via-plugin",
                                                     "namespace": "shop"}}]
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(base))
    return path


def test_exec_credential_plugin_supplies_the_token(api, tmp_path):
    kubeconfig = _exec_kubeconfig(api, tmp_path)
    api.clear_log()
    proc = subprocess.run([sys.executable, "-m", "kubectl_pullsecret", "doctor", "--kubeconfig", str(kubeconfig),
                           "--no-probe", "-o", "json", "-v", "9"], cwd=REPO, capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == 1, proc.stderr  # regcred is missing: an error finding
    report = json.loads(proc.stdout)
    assert {f["check"] for f in report["findings"]} >= {"pull-secret-missing"}
    assert (tmp_path / "calls").read_text().count("called") >= 1
    users = {r.user for r in api.requests}
    assert users == {"plugin-user"}
    assert "token-from-plugin" not in proc.stdout + proc.stderr


def test_in_cluster_config(api, tmp_path, monkeypatch, capsys):
    """In a pod: no kubeconfig, KUBERNETES_SERVICE_HOST/PORT, the mounted token, CA and
    namespace (the paths are the kubernetes package's constants, pointed at files here)."""
    sa = tmp_path / "serviceaccount"
    sa.mkdir()
    (sa / "token").write_text("in-cluster-token")
    (sa / "ca.crt").write_text(Path(api.ca_file).read_text())
    (sa / "namespace").write_text("shop")
    url = urlsplit(api.url)
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", url.hostname or "")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", str(url.port))
    monkeypatch.setattr(incluster_config, "SERVICE_TOKEN_FILENAME", str(sa / "token"))
    monkeypatch.setattr(incluster_config, "SERVICE_CERT_FILENAME", str(sa / "ca.crt"))
    monkeypatch.setattr(kube, "SA_NAMESPACE_FILE", str(sa / "namespace"))
    api.clear_log()
    rc = main(["doctor", "--no-probe", "-o", "json"])
    out = capsys.readouterr()
    assert rc == 1, out.err
    report = json.loads(out.out)
    # The namespace comes from the pod's namespace file (nothing else names shop).
    assert {f["object"]["namespace"] for f in report["findings"]} == {"shop"}
    assert "pull-secret-missing" in {f["check"] for f in report["findings"]}
    assert report["cluster"]["context"] is None and report["cluster"]["server"] == api.url
    assert {r.user for r in api.requests} == {"system:serviceaccount:shop:doctor"}


def test_in_cluster_without_a_token_is_exit_3(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "6443")
    monkeypatch.setattr(incluster_config, "SERVICE_TOKEN_FILENAME", str(tmp_path / "absent-token"))
    rc = main(["doctor", "--no-probe"])
    err = capsys.readouterr().err
    assert rc == 3
    assert err.count("\n") == 1 and "error:" in err and "Traceback" not in err


def test_kubeconfig_env_list_with_missing_members_is_skipped(api, tmp_path, monkeypatch, capsys):
    """KUBECONFIG=a:b where a does not exist: kubectl skips it, and so do we."""
    real = api.kubeconfig(tmp_path / "real", namespace="shop")
    monkeypatch.setenv("KUBECONFIG", os.pathsep.join([str(tmp_path / "absent"), str(real)]))
    rc = main(["doctor", "--no-probe", "-o", "json"])
    out = capsys.readouterr()
    assert rc == 1, out.err
    assert json.loads(out.out)["cluster"]["context"] == "fake"
