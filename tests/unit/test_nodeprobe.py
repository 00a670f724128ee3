"""The node probe program's reading of a node (nodeprobe.py) and the plugin's side of
the exchange (nodes.py): what is read, how results are trusted, what the job holds."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from kubectl_pullsecret import dockerconfig, nodeprobe, nodes
from kubectl_pullsecret.checks.nodecreds import differences


def _write(root: Path, path: str, text: str) -> None:
    target = root / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)


def test_host_paths_resolve_symlinks_inside_the_root(tmp_path: Path) -> None:
    _write(tmp_path, "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", "bundle")
    (tmp_path / "etc/pki/tls/certs").mkdir(parents=True)
    # An absolute link means the node's /, which is the root here, never the pod's /.
    os.symlink("/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", tmp_path / "etc/pki/tls/certs/abs.crt")
    os.symlink("../../ca-trust/extracted/pem/tls-ca-bundle.pem", tmp_path / "etc/pki/tls/certs/rel.crt")
    host = nodeprobe.Host(str(tmp_path))
    assert host.read_bytes("/etc/pki/tls/certs/abs.crt") == b"bundle"
    assert host.read_bytes("/etc/pki/tls/certs/rel.crt") == b"bundle"
    os.symlink("/etc/passwd", tmp_path / "etc/escape")
    assert host.path("/etc/escape") == str(tmp_path / "etc/passwd")
    os.symlink("../../../../../../etc/hostname", tmp_path / "etc/dots")
    assert host.path("/etc/dots") == str(tmp_path / "etc/hostname")


def test_trust_reads_bundle_and_per_host_cas(tmp_path: Path) -> None:
    pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    _write(tmp_path, "/etc/ssl/certs/ca-certificates.crt", pem)
    _write(tmp_path, "/etc/containers/certs.d/reg.example:5000/ca.crt", pem)
    _write(tmp_path, "/etc/docker/certs.d/Other.Example/root.crt", pem)
    _write(tmp_path, "/etc/docker/certs.d/other.example/client.cert", "not a CA")
    _write(tmp_path, "/etc/containerd/certs.d/junk/ca.crt", "no certificate here")
    bundle, host_cas, info = nodeprobe.trust(nodeprobe.Host(str(tmp_path)))
    assert bundle == str(tmp_path / "etc/ssl/certs/ca-certificates.crt")
    assert [h for h, _ in host_cas] == ["other.example", "reg.example:5000"]
    assert info == {"caBundle": "/etc/ssl/certs/ca-certificates.crt",
                    "registryCAs": ["other.example", "reg.example:5000"]}


def test_no_bundle_means_no_trust(tmp_path: Path) -> None:
    """No readable bundle: the node's trust is unknown (not "trusts nothing"), and why is said."""
    bundle, host_cas, info = nodeprobe.trust(nodeprobe.Host(str(tmp_path)))
    assert bundle == "" and host_cas == () and info["caBundle"] is None
    assert all(p in info["caBundleReason"] for p in nodeprobe.CA_BUNDLES)
    # openSUSE: the bundle is a link into /var/lib/ca-certificates, which is not mounted.
    (tmp_path / "etc/ssl").mkdir(parents=True)
    os.symlink("/var/lib/ca-certificates/ca-bundle.pem", tmp_path / "etc/ssl/ca-bundle.pem")
    bundle, _, info = nodeprobe.trust(nodeprobe.Host(str(tmp_path)))
    assert bundle == "" and info["caBundle"] is None
    assert "/etc/ssl/ca-bundle.pem is a link to /var/lib/ca-certificates/ca-bundle.pem" in info["caBundleReason"]


@pytest.mark.parametrize(("files", "expected"), [
    ({"/etc/containers/registries.conf": '[[registry]]\nlocation = "reg.example:5000/team"\ninsecure = true\n'
                                         '[[registry]]\nlocation = "safe.example"\n'}, ["reg.example:5000"]),
    ({"/etc/containers/registries.conf": '[registries.insecure]\nregistries = ["old.example", "*.lab"]\n'},
     ["*.lab", "old.example"]),
    ({"/etc/containers/registries.conf.d/99-x.conf": '[[registry]]\nprefix = "p.example"\ninsecure = true\n',
      "/etc/containers/registries.conf.d/readme.txt": '[[registry]]\nprefix = "no.example"\ninsecure = true\n'},
     ["p.example"]),
    ({"/etc/containers/registries.conf": "this is [not toml"}, []),
    ({}, []),
])
def test_insecure_registries(tmp_path: Path, files: dict[str, str], expected: list[str]) -> None:
    for path, text in files.items():
        _write(tmp_path, path, text)
    assert nodeprobe.insecure_registries(nodeprobe.Host(str(tmp_path))) == expected


def test_runtime_proxy_from_dropins(tmp_path: Path) -> None:
    from kubectl_pullsecret import redact

    _write(tmp_path, "/etc/systemd/system/crio.service.d/10-default-env.conf",
           '[Service]\nEnvironment=HTTP_PROXY=http://proxy:3128\n'
           'Environment="HTTPS_PROXY=http://user:proxy-pw-55@proxy:3128" "NO_PROXY=.svc,10.0.0.0/8"\n'
           'Environment=OTHER=x\n')
    found = nodeprobe.runtime_proxy(nodeprobe.Host(str(tmp_path)))
    assert found == {"HTTP_PROXY": "http://proxy:3128", "HTTPS_PROXY": "http://user:proxy-pw-55@proxy:3128",
                     "NO_PROXY": ".svc,10.0.0.0/8"}
    assert "proxy-pw-55" not in redact.scrub("via http://user:proxy-pw-55@proxy:3128")
    assert nodeprobe._shown_proxy(found["HTTPS_PROXY"]) == "http://proxy:3128"
    # OpenShift's MCO drop-in names a file; its values override Environment= ones.
    _write(tmp_path, "/etc/systemd/system/crio.service.d/10-mco-default-env.conf",
           "[Service]\nEnvironmentFile=/etc/mco/proxy.env\n")
    _write(tmp_path, "/etc/mco/proxy.env", '# written by the MCO\nHTTPS_PROXY="http://mco:mco-pw%2F77@corp:8080"\n'
                                           "NO_PROXY=.cluster.local,.svc\n")
    found = nodeprobe.runtime_proxy(nodeprobe.Host(str(tmp_path)))
    assert found == {"HTTP_PROXY": "http://proxy:3128", "HTTPS_PROXY": "http://mco:mco-pw%2F77@corp:8080",
                     "NO_PROXY": ".cluster.local,.svc"}
    # The password as written and as sent (percent-decoded) are both secrets.
    assert redact.scrub("mco-pw%2F77 mco-pw/77") == f"{redact.MASK} {redact.MASK}"


def _config(auths: dict[str, Any], indent: int | None = None) -> dockerconfig.DockerConfig:
    data = json.dumps({"auths": auths}, indent=indent)
    return dockerconfig.parse(data, "dockerconfigjson")


def _auth(user: str, pw: str) -> dict[str, str]:
    return {"auth": base64.b64encode(f"{user}:{pw}".encode()).decode()}


def test_content_digest_ignores_formatting_not_credentials() -> None:
    a = _config({"quay.io": _auth("u", "p1"), "r.example": _auth("v", "p2")})
    reordered = _config({"r.example": _auth("v", "p2"), "quay.io": {**_auth("u", "p1"), "email": "x@y"}}, indent=4)
    changed = _config({"quay.io": _auth("u", "p1-new"), "r.example": _auth("v", "p2")})
    assert dockerconfig.content_digest(a, "n1") == dockerconfig.content_digest(reordered, "n1")
    assert dockerconfig.content_digest(a, "n1") != dockerconfig.content_digest(changed, "n1")
    # Keyed: another run's nonce gives another digest (nothing to compare offline).
    assert dockerconfig.content_digest(a, "n1") != dockerconfig.content_digest(a, "n2")
    assert "p1" not in dockerconfig.content_digest(a, "n1")


def test_node_config_reports_fingerprints_not_secrets(tmp_path: Path) -> None:
    _write(tmp_path, nodeprobe.KUBELET_CONFIG, json.dumps({"auths": {"quay.io": _auth("bot", "node-pw-9")}}))
    info, source = nodeprobe.node_config(nodeprobe.Host(str(tmp_path)), "nonce")
    assert info["present"] and info["error"] is None and source is not None
    assert info["entries"] == [{"key": "quay.io", "fingerprint": dockerconfig.fingerprint("bot", "node-pw-9")}]
    assert "node-pw-9" not in json.dumps(info)
    _write(tmp_path, nodeprobe.KUBELET_CONFIG, '{"auths": {"quay.io": {"auth": "!!!"}}}')
    info, source = nodeprobe.node_config(nodeprobe.Host(str(tmp_path)), "nonce")
    assert info["error"] and source is None  # the kubelet ignores a file it cannot decode
    info, source = nodeprobe.node_config(nodeprobe.Host(str(tmp_path / "nowhere")), "nonce")
    assert info["present"] is False and source is None


def test_differences() -> None:
    assert differences({"a": "1", "b": "2", "c": "3"}, {"a": "1", "b": "9", "d": "4"}) == [
        "c is missing", "d is only on the node", "b has another credential (fingerprint 9 on the node, 2 expected)"]
    assert differences({"a": "1"}, {"a": "1"}) == []


def test_bundle_runs_on_a_bare_python(tmp_path: Path) -> None:
    """The zip needs no installed package: python -I (no site-packages, no user dirs)."""
    (tmp_path / "probe.pyz").write_bytes(nodes.bundle())
    job = {"version": 1, "nonce": "n", "timeout": 2, "sources": [],
           "images": [{"image": "127.0.0.1:9/x/y:1", "sources": []}], "nodes": {"n1": [0]}}
    (tmp_path / "job.json").write_text(json.dumps(job))
    run = subprocess.run([sys.executable, "-I", str(tmp_path / "probe.pyz"), "node-probe", "--job",
                          str(tmp_path / "job.json"), "--node", "n1", "--host", str(tmp_path / "root")],
                         capture_output=True, text=True, timeout=60, env={"PATH": os.environ["PATH"]})
    assert run.returncode == 0, run.stderr
    assert run.stderr == ""
    [line] = [ln for ln in run.stdout.splitlines() if ln.startswith(nodeprobe.MARKER)]
    doc = json.loads(line[len(nodeprobe.MARKER):])
    assert doc["images"][0]["attempts"][0]["outcome"] == "unreachable"
    assert doc["config"]["present"] is False
    names = set(__import__("zipfile").ZipFile(tmp_path / "probe.pyz").namelist())
    assert "kubectl_pullsecret/nodeprobe.py" in names and not any(n.startswith("kubectl_pullsecret/fixes/")
                                                                  for n in names)
    assert not any(n.startswith(("yaml/", "kubernetes/")) for n in names)


def test_broken_job_still_writes_one_result(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "job.json").write_text('{"version": 1, "nonce": "n"')
    assert nodeprobe.main(["--job", str(tmp_path / "job.json"), "--node", "n1", "--host", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    doc = json.loads(out.split(nodeprobe.MARKER, 1)[1])
    assert doc["node"] == "n1" and "JSONDecodeError" in doc["error"]
