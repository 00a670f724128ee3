"""`doctor --from-nodes` end to end: the plugin creates probe pods on fakekube, whose
simulated kubelet (tests/fakekube/kubelet.py) runs each pod's command on this machine
with the pod's volumes mapped (the ConfigMap's probe.pyz, the job Secret, and the
node's "host" paths from a per-node directory), against the real docker-registry.

Nodes differ the way real nodes do: which CA they trust for the registry (certs.d),
what their /var/lib/kubelet/config.json holds (the global pull secret's rollout), and
whether the probe pod can start at all."""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.fakekube import FakeKube
from tests.fakekube.kubelet import SimKubelet
from tests.integration.live_helpers import (
    REPO,
    auth,
    b64,
    doctor,
    global_pull_secret,
    namespace,
    pull_secret,
    service_account,
)
from tests.integration.registry_env import ALICE, BOB, RegistryEnv

NS = "shop"
PROBE_NS = "kubectl-pullsecret-probe"
LABEL = "app.kubernetes.io/name=pullsecret-node-probe"
GLOBAL_PW = "global-quay-pw-77x"
STALE_PW = "stale-quay-pw-12z"


def _pod(name: str, node: str, image: str, pull: tuple[str, ...] = ("regcred",)) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": NS, "uid": f"uid-{name}",
                         "creationTimestamp": "2026-11-01T10:00:00Z"},
            "spec": {"serviceAccountName": "default", "nodeName": node,
                     "imagePullSecrets": [{"name": n} for n in pull],
                     "containers": [{"name": "web", "image": image}]},
            "status": {"phase": "Running"}}


def _global_auths(env: RegistryEnv, quay_pw: str = GLOBAL_PW) -> dict[str, Any]:
    # The node credentials: alice for the token registry (delegated auth on 127.0.0.2),
    # and a quay.io entry that only tells a stale node from a current one.
    return {"quay.io": auth("quay-bot", quay_pw), env.token: auth(*ALICE)}


def _node_root(tmp: Path, name: str, config: Mapping[str, Any] | None, cas: Mapping[str, str]) -> Path:
    """A node's filesystem: config.json (None: absent) and certs.d/<host>/ca.crt."""
    root = tmp / name
    (root / "etc" / "pki" / "ca-trust" / "extracted" / "pem").mkdir(parents=True)
    (root / "etc" / "pki" / "ca-trust" / "extracted" / "pem" / "tls-ca-bundle.pem").write_text("")
    # RHEL's compatibility link, relative as on the node.
    (root / "etc" / "pki" / "tls" / "certs").mkdir(parents=True)
    os.symlink("../../ca-trust/extracted/pem/tls-ca-bundle.pem", root / "etc/pki/tls/certs/ca-bundle.crt")
    if config is not None:
        (root / "var" / "lib" / "kubelet").mkdir(parents=True)
        (root / "var" / "lib" / "kubelet" / "config.json").write_text(json.dumps(config))
    for host, pem in cas.items():
        d = root / "etc" / "docker" / "certs.d" / host
        d.mkdir(parents=True)
        (d / "ca.crt").write_text(pem)
    return root


@pytest.fixture
def cluster(registry_env: RegistryEnv, tmp_path: Path) -> Iterator[tuple[FakeKube, SimKubelet, Path]]:
    """OpenShift on fakekube: pods web-a/b/c on node-a/b/c, all pulling from the basic
    registry with regcred (alice), and web-t pulling from the token registry with the
    node's credentials only.
    - node-a: trusts the test CA for the registries, config.json = the global pull secret;
    - node-b: trusts it too, but its config.json is the previous pull secret (rollout pending);
    - node-c: no CA for the basic registry (tls-error from there), config.json current."""
    env = registry_env
    ca = Path(env.ca_file).read_text()
    # No CA for the token server's own host: as with containers/image, the registry's certs.d
    # CA serves its whole auth flow (the token request to 127.0.0.2 included).
    everything = {env.basic: ca, env.token: ca}
    current = {"auths": _global_auths(env)}
    stale = {"auths": _global_auths(env, STALE_PW)}
    with FakeKube(openshift=True) as api:
        api.add_all([
            namespace(NS), service_account("default", NS),
            pull_secret("regcred", NS, {env.basic: auth(*ALICE)}),
            global_pull_secret(_global_auths(env)),
            _pod("web-a", "node-a", f"{env.basic}/acme/web:1.0"),
            _pod("web-b", "node-b", f"{env.basic}/acme/web:1.0"),
            _pod("web-c", "node-c", f"{env.basic}/acme/web:1.0"),
            _pod("web-t", "node-a", f"{env.token}/acme/web:1.0", pull=()),
        ])
        kubelet = _kubelet(api, tmp_path)
        kubelet.add_node("node-a", root=_node_root(tmp_path, "node-a", current, everything))
        kubelet.add_node("node-b", root=_node_root(tmp_path, "node-b", stale, everything))
        kubelet.add_node("node-c", root=_node_root(tmp_path, "node-c", current, {env.token: ca}))
        yield api, kubelet, api.kubeconfig(tmp_path / "kc", namespace=NS)


def _kubelet(api: FakeKube, tmp: Path) -> SimKubelet:
    """The simulated kubelet, its pods' python3 isolated (-I: no site-packages): as in the
    probe image, the probe program must bring everything it imports."""
    kubelet = api.kubelet()
    python3 = tmp / "bin" / "python3"
    python3.parent.mkdir(exist_ok=True)
    python3.write_text(f'#!/bin/sh\nexec {sys.executable} -I "$@"\n')
    python3.chmod(0o755)
    kubelet.python = str(python3)
    return kubelet


def _leftovers(api: FakeKube) -> list[str]:
    out = []
    for kind in ("Pod", "Secret", "ConfigMap"):
        for obj in api.list_objects(kind):
            labels = obj["metadata"].get("labels") or {}
            if labels.get("app.kubernetes.io/managed-by") == "kubectl-pullsecret":
                out.append(f"{kind}/{obj['metadata']['namespace']}/{obj['metadata']['name']}")
    return out


def _json(run: Any) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(run.out)
    return doc


def test_fan_out_reports_each_node(cluster: tuple[FakeKube, SimKubelet, Path], registry_env: RegistryEnv) -> None:
    api, kubelet, kc = cluster
    run = doctor("--from-nodes", "--yes", "-o", "json", "--registry-ca-file", registry_env.ca_file,
                 kubeconfig=kc)
    assert run.code == 1, run.err
    doc = _json(run)
    # Every node ran its probe pod once; nothing is left behind, the namespace is gone.
    assert sorted(n for n, _ in kubelet.runs) == ["node-a", "node-b", "node-c"]
    assert _leftovers(api) == []
    assert api.get_object("Namespace", None, PROBE_NS) is None
    assert [(n["name"], n["status"]) for n in doc["nodes"]] == [("node-a", "ok"), ("node-b", "ok"),
                                                                 ("node-c", "ok")]
    basic = next(i for i in doc["images"] if i["image"].startswith(registry_env.basic))
    assert basic["probe"]["vantage"] == "local" and basic["probe"]["outcome"] == "ok"
    by_vantage = {p["vantage"]: p for p in basic["nodeProbes"]}
    assert sorted(by_vantage) == ["node/node-a", "node/node-b", "node/node-c"]
    assert by_vantage["node/node-a"]["outcome"] == "ok"
    assert by_vantage["node/node-a"]["digest"] == registry_env.digests["basic/acme/web:1.0"]
    assert by_vantage["node/node-a"]["credential"] == 0  # regcred's alice, as listed in credentials
    assert by_vantage["node/node-c"]["outcome"] == "tls-error"
    # The token registry: the node's own config.json credential (alice) through the token server.
    token = next(i for i in doc["images"] if i["image"].startswith(registry_env.token))
    assert [p["outcome"] for p in token["nodeProbes"]] == ["ok"]
    assert token["nodeProbes"][0]["authServer"] == registry_env.token_server
    # Findings name the node: TLS from node-c for the pod on node-c only.
    tls = [f for f in doc["findings"] if f["check"] == "registry-tls-untrusted"]
    assert [(f["object"]["name"], f["message"].split(":")[0]) for f in tls] == [("web-c", "From node node-c")]
    assert "node's own trust" in tls[0]["message"]
    stale = [f for f in doc["findings"] if f["check"] == "node-credentials-stale"]
    assert [(f["object"]["kind"], f["object"]["name"], f["severity"]) for f in stale] == [("Node", "node-b",
                                                                                             "warning")]
    assert "quay.io has another credential" in stale[0]["message"]
    for secret in (ALICE[1], GLOBAL_PW, STALE_PW, b64(f"{ALICE[0]}:{ALICE[1]}")):
        assert secret not in run.out and secret not in run.err
    # The privileges were stated before anything was created.
    assert "hostNetwork" in run.err and "/var/lib/kubelet/config.json" in run.err
    # The watch told the plugin when each pod ended: it never had to list them.
    polls = [r for r in api.requests if r.method == "GET" and r.path.endswith(f"/{PROBE_NS}/pods")
             and r.query.get("labelSelector", "").startswith("pullsecret.kubectl.io/run=")
             and r.query.get("watch") != "true"]
    assert polls == [] and run.elapsed < 15


def test_probe_pod_shape(cluster: tuple[FakeKube, SimKubelet, Path]) -> None:
    """What is created: a ConfigMap (the program), a Secret (the job), one pod per node,
    privileged the documented way and no more."""
    api, kubelet, kc = cluster
    seen: dict[str, dict[str, Any]] = {}

    def capture() -> None:  # just before the plugin deletes them
        for kind in ("Pod", "ConfigMap", "Secret"):
            for obj in api.list_objects(kind, PROBE_NS):
                seen.setdefault(kind, obj)

    api.before("DELETE", rf"/api/v1/namespaces/{PROBE_NS}/pods/.*", capture)
    run = doctor("--from-nodes", "--yes", "--node", "node-a", "-o", "json", kubeconfig=kc)
    assert run.code in (0, 1), run.err
    posts = [r.path.rsplit("/", 1)[-1] for r in api.requests if r.method == "POST"]
    assert posts == ["namespaces", "configmaps", "secrets", "pods"]
    pod = seen["Pod"]
    spec = pod["spec"]
    assert spec["nodeName"] == "node-a" and spec["hostNetwork"] is True and spec["dnsPolicy"] == "Default"
    assert spec["tolerations"] == [{"operator": "Exists"}] and spec["restartPolicy"] == "Never"
    assert spec["automountServiceAccountToken"] is False
    [container] = spec["containers"]
    assert all(m["readOnly"] for m in container["volumeMounts"])
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    host_paths = sorted(v["hostPath"]["path"] for v in spec["volumes"] if "hostPath" in v)
    assert host_paths == ["/etc", "/var/lib/kubelet/config.json"]
    assert pod["metadata"]["labels"]["app.kubernetes.io/name"] == "pullsecret-node-probe"
    # The program travels in the ConfigMap, the credentials only in the Secret.
    assert set(seen["ConfigMap"]["binaryData"]) == {"probe.pyz"}
    assert ALICE[1].encode() not in json.dumps(seen["ConfigMap"]).encode()
    job = json.loads(base64.b64decode(seen["Secret"]["data"]["job.json"]))
    assert [s["name"] for s in job["sources"]] == [f"secret/{NS}/regcred"]
    assert GLOBAL_PW not in json.dumps(job)  # the node's own credentials are the node's
    assert _leftovers(api) == []


def test_node_that_never_starts_times_out(registry_env: RegistryEnv, tmp_path: Path) -> None:
    """node-x cannot pull the probe image (fails fast, says so); node-y has no config.json, so
    the hostPath mount fails and the pod never starts (the timeout, with the mount event)."""
    with FakeKube(openshift=True) as api:
        api.add_all([namespace(NS), service_account("default", NS), global_pull_secret(),
                     pull_secret("regcred", NS, {registry_env.basic: auth(*ALICE)}),
                     _pod("web-x", "node-x", f"{registry_env.basic}/acme/web:1.0"),
                     _pod("web-y", "node-y", f"{registry_env.basic}/acme/web:1.0")])
        kubelet = _kubelet(api, tmp_path)
        kubelet.add_node("node-x", root=_node_root(tmp_path, "node-x", {"auths": {}}, {}),
                         stuck_reason="ImagePullBackOff")
        kubelet.add_node("node-y", root=_node_root(tmp_path, "node-y", None, {}))
        kc = api.kubeconfig(tmp_path / "kc", namespace=NS)
        started = time.monotonic()
        run = doctor("--from-nodes", "--yes", "--node-timeout", "4", "-o", "json", kubeconfig=kc)
        elapsed = time.monotonic() - started
        doc = _json(run)
        nodes = {n["name"]: n for n in doc["nodes"]}
        assert nodes["node-x"]["status"] == "failed"
        assert "ImagePullBackOff" in nodes["node-x"]["detail"] and "--probe-image" in nodes["node-x"]["detail"]
        assert nodes["node-y"]["status"] == "timeout"
        assert "--node-timeout 4s" in nodes["node-y"]["detail"] and "FailedMount" in nodes["node-y"]["detail"]
        assert elapsed < 60
        # Those pods' images fall back to this machine's probe; the node entries say why not.
        [image] = doc["images"]
        assert {p["vantage"]: p["outcome"] for p in image["nodeProbes"]} == {"node/node-x": "skipped",
                                                                           "node/node-y": "skipped"}
        assert _leftovers(api) == []
        assert kubelet.running() == []


def test_interrupted_run_leaves_nothing(registry_env: RegistryEnv, tmp_path: Path) -> None:
    with FakeKube(openshift=True) as api:
        api.add_all([namespace(NS), service_account("default", NS), global_pull_secret(),
                     pull_secret("regcred", NS, {registry_env.basic: auth(*ALICE)})]
                    + [_pod(f"web-{i}", f"node-{i}", f"{registry_env.basic}/acme/web:1.0") for i in range(4)])
        kubelet = _kubelet(api, tmp_path)
        for i in range(4):
            kubelet.add_node(f"node-{i}", root=_node_root(tmp_path, f"node-{i}", {"auths": {}}, {}),
                             start_delay=30)
        kc = api.kubeconfig(tmp_path / "kc", namespace=NS)
        proc = subprocess.Popen([sys.executable, "-m", "kubectl_pullsecret", "doctor", "--from-nodes", "--yes",
                                 "--max-parallel", "2", "--kubeconfig", str(kc), "-o", "json"], cwd=REPO,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(api.list_objects("Pod", PROBE_NS)) < 2:
            time.sleep(0.1)
        assert len(api.list_objects("Pod", PROBE_NS)) == 2
        # Each delete takes a while: a second Ctrl-C lands in the middle of the cleanup.
        api.fault("DELETE", rf"/api/v1/namespaces/{PROBE_NS}/.*", delay=0.4)
        proc.send_signal(signal.SIGINT)
        while time.monotonic() < deadline and not any(r.method == "DELETE" for r in api.requests):
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 130, err
        assert "Traceback" not in err
        assert _leftovers(api) == []
        assert api.get_object("Namespace", None, PROBE_NS) is None
        assert kubelet.running() == []


def _earlier_run(api: FakeKube, run: str, expires: str) -> None:
    """What another run of the plugin put in the probe namespace: the namespace (labelled as
    ours) and its ConfigMap, to be deleted by that run before `expires`."""
    if api.get_object("Namespace", None, PROBE_NS) is None:
        api.add({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": PROBE_NS, "labels": {
            "app.kubernetes.io/managed-by": "kubectl-pullsecret"}}})
    labels = {"app.kubernetes.io/name": "pullsecret-node-probe", "app.kubernetes.io/managed-by": "kubectl-pullsecret",
              "pullsecret.kubectl.io/run": run}
    api.add({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
        "name": f"pullsecret-probe-{run}", "namespace": PROBE_NS, "labels": labels,
        "annotations": {"pullsecret.kubectl.io/expires": expires}}, "data": {}})


def test_leftovers_of_an_earlier_run_are_cleaned(cluster: tuple[FakeKube, SimKubelet, Path]) -> None:
    api, kubelet, kc = cluster
    _earlier_run(api, "expired", "2026-01-01T00:00:00Z")
    _earlier_run(api, "live", "2099-01-01T00:00:00Z")
    run = doctor("--from-nodes", "--yes", "--node", "node-a", "-o", "json", kubeconfig=kc)
    assert run.code in (0, 1), run.err
    deleted = [r.path for r in api.requests if r.method == "DELETE" and "/configmaps/" in r.path]
    assert any(p.endswith("/pullsecret-probe-expired") for p in deleted)
    assert not any(p.endswith("/pullsecret-probe-live") for p in deleted)


def test_pods_forbidden_is_permission_denied(cluster: tuple[FakeKube, SimKubelet, Path],
                                             registry_env: RegistryEnv) -> None:
    api, kubelet, kc = cluster
    api.forbid("pods", PROBE_NS, "create")
    run = doctor("--from-nodes", "--yes", "-o", "json", "--registry-ca-file", registry_env.ca_file,
                 kubeconfig=kc)
    doc = _json(run)
    denied = [f for f in doc["findings"] if f["check"] == "permission-denied"]
    assert len(denied) == 1 and "Node probes (--from-nodes) were not run" in denied[0]["message"]
    assert denied[0]["object"] == {"kind": "Pod", "namespace": PROBE_NS, "name": None}
    assert kubelet.runs == []
    assert _leftovers(api) == []
    assert api.get_object("Namespace", None, PROBE_NS) is None
    assert {n["status"] for n in doc["nodes"]} == {"not-run"}
    # This machine's probes still ran and decide the registry checks.
    assert all(i["probe"]["vantage"] == "local" for i in doc["images"])


def test_no_terminal_needs_yes(cluster: tuple[FakeKube, SimKubelet, Path]) -> None:
    api, kubelet, kc = cluster
    api.clear_log()
    run = doctor("--from-nodes", kubeconfig=kc)
    assert run.code == 2
    assert "--yes" in run.err and "Traceback" not in run.err
    assert api.requests == []  # refused before anything was read


@pytest.mark.parametrize(("args", "needle"), [
    (["--node", "n1"], "only with --from-nodes"),
    (["--from-nodes", "--yes", "--no-probe"], "drop --no-probe"),
    (["--from-nodes", "--yes", "--node", "a", "--node-selector", "x=y"], "one or the other"),
    (["--from-nodes", "--yes", "--max-parallel", "0"], "between 1 and 100"),
])
def test_usage_errors(args: list[str], needle: str) -> None:
    run = doctor(*args)
    assert run.code == 2 and needle in run.err, run.err


def test_offline_from_nodes_is_a_usage_error() -> None:
    run = doctor("-f", "examples/shop", "--from-nodes", "--yes")
    assert run.code == 2 and "--from-nodes" in run.err


def test_node_selection(cluster: tuple[FakeKube, SimKubelet, Path]) -> None:
    api, kubelet, kc = cluster
    run = doctor("--from-nodes", "--yes", "--node", "node-b", "--node", "nowhere", "-o", "json", kubeconfig=kc)
    doc = _json(run)
    assert {n["name"]: n["status"] for n in doc["nodes"]} == {"node-b": "ok", "nowhere": "not-run"}
    assert [n for n, _ in kubelet.runs] == ["node-b"]
    # An explicit node probes every image in scope.
    assert all([p["vantage"] for p in i["nodeProbes"]] == ["node/node-b"] for i in doc["images"])


def test_through_real_kubectl(cluster: tuple[FakeKube, SimKubelet, Path], tmp_path: Path) -> None:
    from tests.integration.live_helpers import kubectl

    api, kubelet, kc = cluster
    if shutil.which("kubectl") is None:
        pytest.fail("kubectl is required")
    run = kubectl(tmp_path, "pullsecret", "doctor", "--kubeconfig", str(kc), "--from-nodes", "--yes",
                  "--node", "node-a", "-o", "yaml")
    assert run.code in (0, 1), run.err
    assert "vantage: node/node-a" in run.out
    assert _leftovers(api) == []
    assert BOB[1] not in run.out


def test_refused_watch_falls_back_to_polling(cluster: tuple[FakeKube, SimKubelet, Path]) -> None:
    """A watch the API refuses (or a proxy that drops streams) must not turn every probe into a timeout."""
    api, kubelet, kc = cluster
    api.forbid("pods", PROBE_NS, "watch")
    run = doctor("--from-nodes", "--yes", "--node", "node-a", "--node-timeout", "60", "-o", "json", kubeconfig=kc)
    doc = _json(run)
    assert [(n["name"], n["status"]) for n in doc["nodes"]] == [("node-a", "ok")], run.err
    lists = [r for r in api.requests if r.method == "GET" and r.path.endswith(f"/{PROBE_NS}/pods")
             and r.query.get("labelSelector", "").startswith("pullsecret.kubectl.io/run=")
             and r.query.get("watch") != "true"]
    assert lists  # it polled
    assert _leftovers(api) == []


NODE_ONLY_PW = "node-only-pw-31vv"
LEAKY_TOKEN = "node-issued-token-55aa"


@pytest.mark.parametrize("scrubber", ["on", "off"])
def test_no_secret_in_any_output_from_nodes(registry_env: RegistryEnv, fake_registry: Any, pki: Any,
                                            tmp_path: Path, scrubber: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every format at -v 9, with this process's output scrubber on and off: no pod-secret
    password, no node-only credential, no token, not even from a registry that echoes what
    it is sent back into its errors (probed from the node)."""
    from tests.integration.fakeregistry import Request, Response, bearer_challenge, registry_error
    from tests.integration.live_helpers import doctor_in_process

    def registry(req: Request) -> Response:
        if req.path == "/v2/":
            return Response(401, [bearer_challenge(f"{token.url}/token", "svc")])
        return registry_error(403, "DENIED", f"you sent {req.header('Authorization')}")

    token = fake_registry(lambda req: Response.json(200, {"token": LEAKY_TOKEN}), host="127.0.0.3")
    leaky = fake_registry(registry).address
    ca = Path(pki.ca_file).read_text()
    with FakeKube(openshift=True) as api:
        api.add_all([namespace(NS), service_account("default", NS), global_pull_secret(_global_auths(registry_env)),
                     pull_secret("regcred", NS, {leaky: auth(*ALICE)}),
                     _pod("web-l", "node-l", f"{leaky}/acme/web:1.0")])
        kubelet = _kubelet(api, tmp_path)
        node_config = {"auths": {leaky: auth("nodeuser", NODE_ONLY_PW), "quay.io": auth("bot", NODE_ONLY_PW)}}
        kubelet.add_node("node-l", root=_node_root(tmp_path, "node-l", node_config,
                                                    {leaky: ca}))
        kc = api.kubeconfig(tmp_path / "kc", namespace=NS)
        from kubectl_pullsecret import redact

        redact.clear()
        if scrubber == "off":
            monkeypatch.setattr(redact, "scrub", lambda text: text)
        for fmt in ("table", "wide", "json", "yaml", "markdown"):
            run = doctor_in_process("--from-nodes", "--yes", "-o", fmt, "-v", "9", kubeconfig=kc)
            text = run.out + run.err
            assert "node-l" in run.out, run.err
            for secret in (ALICE[1], NODE_ONLY_PW, LEAKY_TOKEN, GLOBAL_PW, b64(f"{ALICE[0]}:{ALICE[1]}"),
                           b64(f"nodeuser:{NODE_ONLY_PW}")):
                assert secret not in text, (fmt, secret)
        # The sweep tested something: the node reached the registry with the pod's credential
        # first, then its own (both refused: access-denied), and the node's own credential shows
        # up by fingerprint only.
        run = doctor_in_process("--from-nodes", "--yes", "-o", "json", kubeconfig=kc)
        [image] = json.loads(run.out)["images"]
        [probe] = image["nodeProbes"]
        assert probe["outcome"] == "access-denied", probe
        assert [a["outcome"] for a in probe["attempts"]] == ["access-denied", "access-denied"]
        assert probe["nodeCredential"]["key"] == leaky
        assert _leftovers(api) == []


def _on_a_terminal(kc: Path, answer: bytes, output: str = "json") -> tuple[int, Any, str]:
    """doctor --from-nodes with stdin and stderr on a pseudo-terminal (stdout a pipe, -o json):
    it states what it will create, asks, and is answered `answer`."""
    master, slave = os.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "kubectl_pullsecret", "doctor", "--from-nodes", "--node", "node-a",
                             "--kubeconfig", str(kc), "-o", output], cwd=REPO, stdin=slave, stderr=slave,
                            stdout=subprocess.PIPE)
    os.close(slave)
    seen = b""
    deadline = time.monotonic() + 60
    try:
        while b"[y/N]" not in seen and time.monotonic() < deadline:
            seen += os.read(master, 4096)
        os.write(master, answer)
        out, _ = proc.communicate(timeout=60)
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    finally:
        os.close(master)
    return proc.returncode, json.loads(out) if output == "json" else out.decode(), seen.decode(errors="replace")


def test_terminal_progress_line(cluster: tuple[FakeKube, SimKubelet, Path]) -> None:
    """With a human format on a terminal, the node phase has a progress line (erased at the
    end); -o json has none (test_terminal_confirmation)."""
    api, kubelet, kc = cluster
    code, out, err = _on_a_terminal(kc, b"y\n", output="table")
    states = [s for s in err.split("\r\x1b[K") if s]
    assert "probing from the nodes: 1/1 done, 0 running" in states, states
    assert err.endswith("\r\x1b[K") and "Probes from the nodes" in out
    assert _leftovers(api) == []


def test_terminal_confirmation(cluster: tuple[FakeKube, SimKubelet, Path]) -> None:
    api, kubelet, kc = cluster
    code, doc, err = _on_a_terminal(kc, b"n\n")
    assert "hostNetwork" in err and "Create them? [y/N]" in err
    assert "\x1b[K" not in err  # -o json: no progress line
    assert not [r for r in api.requests if r.method == "POST"]  # declined: nothing was created
    assert kubelet.runs == []
    assert [(n["name"], n["status"], n["detail"]) for n in doc["nodes"]] == [("node-a", "not-run",
                                                                              "declined at the prompt")]
    code, doc, err = _on_a_terminal(kc, b"y\n")
    assert [(n["name"], n["status"]) for n in doc["nodes"]] == [("node-a", "ok")]
    assert [n for n, _ in kubelet.runs] == ["node-a"]
    assert _leftovers(api) == []


def test_namespace_in_use_by_another_run_stays(cluster: tuple[FakeKube, SimKubelet, Path]) -> None:
    """A colleague's run uses the same probe namespace: ours cleans up its own objects only."""
    api, kubelet, kc = cluster
    _earlier_run(api, "theirs", "2099-01-01T00:00:00Z")
    # As in a namespace created a moment ago, its "default" service account comes late: the
    # first pod is refused by admission, the retry gets through.
    calls: list[int] = []

    def service_account_controller() -> None:
        calls.append(1)
        if len(calls) == 2:
            api.add(service_account("default", PROBE_NS))

    api.before("POST", rf"/api/v1/namespaces/{PROBE_NS}/pods", service_account_controller, times=2)
    run = doctor("--from-nodes", "--yes", "--node", "node-a", "-o", "json", kubeconfig=kc)
    assert [n["status"] for n in _json(run)["nodes"]] == ["ok"], run.err
    refused = [r for r in api.requests if r.method == "POST" and r.path.endswith("/pods") and r.status == 403]
    assert len(refused) == 1
    assert api.get_object("Namespace", None, PROBE_NS) is not None
    assert [c["metadata"]["name"] for c in api.list_objects("ConfigMap", PROBE_NS)] == ["pullsecret-probe-theirs"]
    assert api.list_objects("Pod", PROBE_NS) == []


def test_node_without_kubelet_config_is_probed_without_it(registry_env: RegistryEnv, tmp_path: Path) -> None:
    """A node with no /var/lib/kubelet/config.json: the hostPath mount fails (FailedMount), the
    plugin reads the pod's events once and starts a pod without that mount, so the node's
    probes still run (with the pod's secrets only, as that kubelet does); on OpenShift the
    missing file is itself stale node credentials."""
    ca = Path(registry_env.ca_file).read_text()
    with FakeKube(openshift=True) as api:
        api.add_all([namespace(NS), service_account("default", NS), global_pull_secret(_global_auths(registry_env)),
                     pull_secret("regcred", NS, {registry_env.basic: auth(*ALICE)}),
                     _pod("web-y", "node-y", f"{registry_env.basic}/acme/web:1.0")])
        kubelet = _kubelet(api, tmp_path)
        kubelet.add_node("node-y", root=_node_root(tmp_path, "node-y", None, {registry_env.basic: ca}))
        kc = api.kubeconfig(tmp_path / "kc", namespace=NS)
        run = doctor("--from-nodes", "--yes", "--node-timeout", "60", "-o", "json", kubeconfig=kc)
        doc = _json(run)
        [node] = doc["nodes"]
        assert node["status"] == "ok", node
        assert node["kubeletConfig"]["present"] is False
        assert node["pod"].endswith("-n")  # the second pod, without the mount
        [image] = doc["images"]
        assert [p["outcome"] for p in image["nodeProbes"]] == ["ok"]
        stale = [f for f in doc["findings"] if f["check"] == "node-credentials-stale"]
        assert len(stale) == 1 and "has no /var/lib/kubelet/config.json" in stale[0]["message"]
        event_reads = [r for r in api.requests if r.path.endswith(f"/{PROBE_NS}/events")]
        assert len(event_reads) == 1
        assert [n for n, _ in kubelet.runs] == ["node-y", "node-y"]
        assert _leftovers(api) == []


def test_probe_image_without_python(cluster: tuple[FakeKube, SimKubelet, Path], tmp_path: Path) -> None:
    """--probe-image names an image with no python3: the node fails with a hint, nothing hangs."""
    api, kubelet, kc = cluster
    kubelet.python = str(tmp_path / "no-python-here" / "python3")
    run = doctor("--from-nodes", "--yes", "--node", "node-a", "--probe-image", "registry.example/tools:1", "-o",
                 "json", kubeconfig=kc)
    [node] = _json(run)["nodes"]
    assert node["status"] == "failed", node
    assert "--probe-image" in node["detail"], node["detail"]
    assert _leftovers(api) == []


def test_each_node_gets_only_its_own_credentials(registry_env: RegistryEnv, tmp_path: Path) -> None:
    """Node X's kubelet must not receive pull secrets of pods that run elsewhere, nor entries
    for registries its images do not use: one Secret per node, holding the matched entries."""
    ca = Path(registry_env.ca_file).read_text()
    with FakeKube(openshift=True) as api:
        api.add_all([namespace(NS), service_account("default", NS), global_pull_secret(_global_auths(registry_env)),
                     pull_secret("regcred", NS, {registry_env.basic: auth(*ALICE),
                                                 "unrelated.example": auth("u", "unrelated-pw-4")}),
                     pull_secret("othercred", NS, {registry_env.open: auth("bob", "other-pw-8")}),
                     _pod("web-1", "node-1", f"{registry_env.basic}/acme/web:1.0"),
                     _pod("web-2", "node-2", f"{registry_env.open}/acme/web:1.0", pull=("othercred",))])
        kubelet = _kubelet(api, tmp_path)
        for n in ("node-1", "node-2"):
            kubelet.add_node(n, root=_node_root(tmp_path, n, {"auths": {}}, {registry_env.basic: ca,
                                                                           registry_env.open: ca}))
        kc = api.kubeconfig(tmp_path / "kc", namespace=NS)
        jobs: dict[str, dict[str, Any]] = {}

        def capture() -> None:
            for secret in api.list_objects("Secret", PROBE_NS):
                job = json.loads(base64.b64decode(secret["data"]["job.json"]))
                jobs[next(iter(job["nodes"]))] = job

        api.before("DELETE", rf"/api/v1/namespaces/{PROBE_NS}/pods/.*", capture, times=2)
        run = doctor("--from-nodes", "--yes", "-o", "json", kubeconfig=kc)
        assert [n["status"] for n in _json(run)["nodes"]] == ["ok", "ok"], run.err
        assert sorted(jobs) == ["node-1", "node-2"]
        shipped = {node: {s["name"]: json.loads(base64.b64decode(s["data"]))["auths"] for s in job["sources"]}
                   for node, job in jobs.items()}
        assert {n: {src: sorted(a) for src, a in srcs.items()} for n, srcs in shipped.items()} == {
            "node-1": {f"secret/{NS}/regcred": [registry_env.basic]},
            "node-2": {f"secret/{NS}/othercred": [registry_env.open]}}
        assert "unrelated-pw-4" not in json.dumps(jobs)
        assert _leftovers(api) == []


def test_waits_for_a_namespace_being_deleted(cluster: tuple[FakeKube, SimKubelet, Path]) -> None:
    """The probe namespace of the previous run is still Terminating (a real cluster takes a
    while): the plugin waits for it to go, then makes it again."""
    api, kubelet, kc = cluster
    api.add({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": PROBE_NS, "labels": {
        "app.kubernetes.io/managed-by": "kubectl-pullsecret"}}, "status": {"phase": "Terminating"}})
    gets: list[int] = []

    def namespace_controller() -> None:
        gets.append(1)
        if len(gets) == 2:  # gone after the plugin's first re-check
            api.remove("Namespace", None, PROBE_NS)

    api.before("GET", rf"/api/v1/namespaces/{PROBE_NS}$", namespace_controller, times=2)
    run = doctor("--from-nodes", "--yes", "--node", "node-a", "-o", "json", kubeconfig=kc)
    assert [n["status"] for n in _json(run)["nodes"]] == ["ok"], run.err
    assert "being deleted" in run.err
    assert api.get_object("Namespace", None, PROBE_NS) is None
    assert _leftovers(api) == []
