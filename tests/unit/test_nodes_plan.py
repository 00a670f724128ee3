"""The plugin's side of --from-nodes (nodes.py), without a cluster: what each node's job
holds, how a node's answer is trusted and mapped, and the pod it runs in."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from kubectl_pullsecret import dockerconfig, nodes
from kubectl_pullsecret.resolve import Resolution, Resolver, node_credentials, resolve_all, select
from kubectl_pullsecret.snapshot import Snapshot


def _auth(user: str, pw: str) -> dict[str, str]:
    return {"auth": base64.b64encode(f"{user}:{pw}".encode()).decode()}


def _secret(name: str, ns: str, auths: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockerconfigjson",
            "metadata": {"name": name, "namespace": ns},
            "data": {".dockerconfigjson": base64.b64encode(json.dumps({"auths": auths}).encode()).decode()}}


def _pod(name: str, node: str, image: str, secrets: list[str], ns: str = "ns") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns},
            "spec": {"nodeName": node, "imagePullSecrets": [{"name": s} for s in secrets],
                     "containers": [{"name": "c", "image": image}]}}


def _resolutions(*objs: dict[str, Any], namespaces: list[str] | None = None) -> list[Resolution]:
    by_kind: dict[str, list[Any]] = {}
    for o in objs:
        by_kind.setdefault(o["kind"], []).append(o)
    snap = Snapshot(objects={k: tuple(v) for k, v in by_kind.items()}, offline=True)
    scope = select(snap, [], namespaces, None, [], "default")
    return resolve_all(Resolver(snap, node_credentials(snap, None)), scope.subjects)


GLOBAL = _secret("pull-secret", "openshift-config", {"reg.example": _auth("node", "node-pw-2")})


def _shipped(job: nodes.Job, node: str) -> dict[str, dict[str, Any]]:
    return {s["name"]: json.loads(base64.b64decode(s["data"]))["auths"] for s in job.per_node[node]["sources"]}


def test_each_node_gets_only_the_matched_entries_of_its_own_pods() -> None:
    resolutions = _resolutions(
        _secret("regcred", "ns", {"reg.example": _auth("alice", "pod-pw-1"), "other.example": _auth("o", "o-pw-3")}),
        _secret("teamcred", "team", {"team.example": _auth("t", "team-pw-4")}),
        GLOBAL,
        _pod("p1", "n1", "reg.example/app:1", ["regcred"]),
        _pod("p2", "n2", "reg.example/app:1", ["regcred"]),
        _pod("p3", "n2", "team.example/tool:2", ["teamcred"], ns="team"),
        namespaces=None)
    job = nodes.make_job([(r, [r.subject.spec["nodeName"]]) for r in resolutions], 5.0, "nonce")
    assert sorted(job.per_node) == ["n1", "n2"]
    assert _shipped(job, "n1") == {"secret/ns/regcred": {"reg.example": {"username": "alice", "password": "pod-pw-1"}}}
    assert sorted(_shipped(job, "n2")) == ["secret/ns/regcred", "secret/team/teamcred"]
    everything = json.dumps(job.per_node)
    assert "o-pw-3" not in everything  # an entry no probed image matches never travels
    assert "node-pw-2" not in everything  # the node's own credentials are the node's
    assert "team-pw-4" not in json.dumps(job.per_node["n1"])  # nor another node's pod's secret
    assert job.per_node["n1"]["images"] == [{"image": "reg.example/app:1", "sources": [0]}]
    assert job.per_node["n1"]["nodes"] == {"n1": [0]}
    assert job.sources == 2
    # Where each container's answer will be: (node, image id in that node's job).
    assert [job.assignments[id(r)] for r in resolutions] == [(("n1", 0),), (("n2", 0),), (("n2", 1),)]


def test_a_shipped_job_resolves_like_doctor_did() -> None:
    """The node builds its keyring from the shipped entries: the candidates it finds for the
    image are the pod-secret candidates doctor found, in the same order."""
    from kubectl_pullsecret import keyring, reference

    resolutions = _resolutions(
        _secret("a", "ns", {"reg.example": _auth("u1", "p1"), "reg.example/team": _auth("u2", "p2"),
                            "*.example": _auth("u3", "p3")}),
        _secret("b", "ns", {"reg.example/team/app": _auth("u4", "p4")}),
        _pod("p", "n1", "reg.example/team/app:1", ["a", "b"]), namespaces=None)
    [res] = resolutions
    job = nodes.make_job([(res, ["n1"])], 5.0, "nonce").per_node["n1"]
    sources = [keyring.Source(s["name"], dockerconfig.parse(base64.b64decode(s["data"]), "dockerconfigjson"))
               for s in job["sources"]]
    found = keyring.Keyring([sources[i] for i in job["images"][0]["sources"]]).lookup(
        reference.parse("reg.example/team/app:1").name)
    assert [(c.source, c.entry.key, c.entry.username) for c in found] == [
        (c.source, c.entry.key, c.entry.username) for c in res.credentials]


@pytest.mark.parametrize(("doc", "status"), [
    (None, "failed"), ([], "failed"), ({"version": 99}, "failed"), ({"version": True}, "failed"),
    ({"version": 1, "error": "boom"}, "failed"),
    ({"version": 1, "images": "x"}, "ok"),
    ({"version": 1, "images": [{"id": "0"}, 5, {"id": True}]}, "ok"),
])
def test_parse_result_shapes(doc: Any, status: str) -> None:
    result = nodes.parse_result("n", "p", 1, doc)
    assert result.status == status
    assert result.images == {}


def test_hostile_result_is_cleaned_and_cannot_crash(capsys: pytest.CaptureFixture[str]) -> None:
    [res] = _resolutions(_secret("a", "ns", {"reg.example": _auth("u", "p")}),
                         _pod("p", "n1", "reg.example/app:1", ["a"]), namespaces=None)
    doc = {"version": 1, "config": {"present": "yes", "digest": 5, "entries": 7},
           "trust": {"caBundle": "\x1b[31mred"},
           "images": [{"id": 0, "credentials": 5, "attempts": [
               {"outcome": "tls-error", "registry": "evil.example", "authServer": "x; rm -rf /",
                "detail": "line one\n\x1b]0;title\x07forged line", "credential": True},
               7, {"outcome": "pwned"}]},
               {"id": 1, "credentials": [{"key": 1}], "attempts": "nope"}]}
    node = nodes.parse_result("n1", "p", 1, doc)
    assert node.status == "ok"
    assert node.config == {"present": False, "digest": None, "error": None, "entries": []}
    assert node.trust == {"caBundle": " [31mred"}
    probe = nodes.to_probe(res, node, node.images[0])
    first, second = probe.attempts
    assert first.result.registry == "reg.example"  # what was asked, not what the node says
    assert first.result.auth_server is None
    assert "\n" not in first.result.detail and "\x1b" not in first.result.detail
    assert first.credential is None and first.node_entry is None
    assert second.result.outcome == "skipped" and "malformed" in second.result.detail
    assert nodes.to_probe(res, node, node.images[1]).outcome == "skipped"


def test_node_answer_maps_onto_the_reported_credentials() -> None:
    [res] = _resolutions(_secret("regcred", "ns", {"reg.example": _auth("alice", "pod-pw-1")}), GLOBAL,
                         _pod("p1", "n1", "reg.example/app:1", ["regcred"]), namespaces=None)
    assert [c.source for c in res.credentials] == ["secret/ns/regcred", "global"]
    node_fp = dockerconfig.fingerprint("node", "node-pw-2")
    item = {"credentials": [{"source": "secret/ns/regcred", "key": "reg.example",
                             "fingerprint": dockerconfig.fingerprint("alice", "pod-pw-1")},
                            {"source": "node", "key": "reg.example", "fingerprint": node_fp},
                            {"source": "node", "key": "reg.example", "fingerprint": "00000000"}],
            "attempts": [{"credential": 0, "outcome": "credential-rejected", "registry": "reg.example", "detail": "x"},
                         {"credential": 1, "outcome": "credential-rejected", "registry": "reg.example", "detail": "y"},
                         {"credential": 2, "outcome": "ok", "registry": "reg.example", "detail": "z"}]}
    node = nodes.parse_result("n1", "p", 1, {"version": 1, "images": [{"id": 0, **item}]})
    probe = nodes.to_probe(res, node, node.images[0])
    assert probe.vantage == "node/n1"
    assert [a.credential for a in probe.attempts] == [0, 1, None]
    assert probe.attempts[2].node_entry == ("reg.example", "00000000")
    assert not probe.anonymous
    assert probe.to_dict()["nodeCredential"] == {"key": "reg.example", "fingerprint": "00000000"}


def test_probe_pod_without_kubelet_config() -> None:
    full = nodes.pod_object("p", "ns", "run", "n1", "img", 60, "2026-01-01T00:00:00Z")
    bare = nodes.pod_object("p", "ns", "run", "n1", "img", 60, "2026-01-01T00:00:00Z", kubelet_config=False)
    assert [v["name"] for v in full["spec"]["volumes"]] == ["code", "job", "kubelet-config", "host-etc"]
    assert [v["name"] for v in bare["spec"]["volumes"]] == ["code", "job", "host-etc"]
    assert [m["name"] for m in bare["spec"]["containers"][0]["volumeMounts"]] == ["code", "job", "host-etc"]
    assert full["spec"]["volumes"][1] == {"name": "job", "secret": {"secretName": "p"}}  # the node's own job


def test_certifi_stub_names_a_readable_bundle(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """requests 2.32.0-2.32.4 load certifi.where() when imported: the stub must name a real
    bundle (the node's, passed by nodeprobe), never an empty file when one exists."""
    namespace: dict[str, Any] = {}
    exec(compile(nodes.CERTIFI_STUB, "certifi_stub", "exec"), namespace)  # noqa: S102 - the shipped source
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    monkeypatch.setenv("PULLSECRET_CA_BUNDLE", str(bundle))
    assert namespace["where"]() == str(bundle)
    monkeypatch.setenv("PULLSECRET_CA_BUNDLE", str(tmp_path / "missing.pem"))
    assert namespace["where"]() != str(tmp_path / "missing.pem")
