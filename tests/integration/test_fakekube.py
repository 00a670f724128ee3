"""Fidelity of tests/fakekube: the real `kubernetes` client and the real `kubectl` against the fake API server."""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import urllib3
import yaml
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes import watch as k8s_watch
from kubernetes.client.exceptions import ApiException

from tests.fakekube import FakeKube, group, role_binding, standard_cluster_roles, user

REPO = Path(__file__).resolve().parents[2]
KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"
Obj = dict[str, Any]

needs_kubectl = pytest.mark.skipif(not Path(KUBECTL).exists(), reason="kubectl is not installed")


# -- objects ---------------------------------------------------------------------------------------------

def ns(name: str) -> Obj:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def pod(name: str, namespace: str, *, labels: Obj | None = None, phase: str = "Running", node: str = "node-1",
        sa: str = "default", waiting: str | None = None, pull_secrets: tuple[str, ...] = ()) -> Obj:
    state: Obj = {"waiting": {"reason": waiting}} if waiting else {"running": {"startedAt": "2024-01-01T00:00:00Z"}}
    spec: Obj = {"serviceAccountName": sa, "nodeName": node,
                 "containers": [{"name": "app", "image": f"quay.io/acme/{name}:1"}]}
    if pull_secrets:
        spec["imagePullSecrets"] = [{"name": s} for s in pull_secrets]
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "labels": labels or {}},
            "spec": spec,
            "status": {"phase": phase, "containerStatuses": [{"name": "app", "ready": waiting is None, "restartCount": 0,
                                                              "image": f"quay.io/acme/{name}:1", "imageID": "",
                                                              "state": state}]}}


def dockerconfig(host: str = "quay.io") -> str:
    doc = {"auths": {host: {"auth": base64.b64encode(b"user:pass").decode()}}}
    return base64.b64encode(json.dumps(doc).encode()).decode()


def secret(name: str, namespace: str, typ: str = "kubernetes.io/dockerconfigjson") -> Obj:
    data = {".dockerconfigjson": dockerconfig()} if typ == "kubernetes.io/dockerconfigjson" else {"k": "dg=="}
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": namespace}, "type": typ,
            "data": data}


def service_account(name: str, namespace: str, pull: tuple[str, ...] = (), mount: tuple[str, ...] = ()) -> Obj:
    obj: Obj = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": namespace}}
    if pull:
        obj["imagePullSecrets"] = [{"name": n} for n in pull]
    if mount:
        obj["secrets"] = [{"name": n} for n in mount]
    return obj


def cluster() -> list[Obj]:
    return [
        ns("shop"), ns("other"),
        pod("web-1", "shop", labels={"app": "web", "tier": "front"}, pull_secrets=("regcred",)),
        pod("web-2", "shop", labels={"app": "web", "tier": "front", "canary": "true"}, node="node-2"),
        pod("db-0", "shop", labels={"app": "db", "tier": "back"}, sa="db", waiting="ImagePullBackOff", phase="Pending"),
        pod("batch-1", "shop", labels={"app": "batch"}, phase="Succeeded"),
        pod("api-1", "other", labels={"app": "api", "tier": "front"}),
        service_account("default", "shop", pull=("regcred",)),
        service_account("db", "shop", pull=("a", "b"), mount=("a", "b")),
        service_account("default", "other"),
        secret("regcred", "shop"), secret("a", "shop"), secret("b", "shop"), secret("opaque", "shop", "Opaque"),
        secret("token", "other", "Opaque"),
        {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "db-0.1", "namespace": "shop"},
         "involvedObject": {"kind": "Pod", "name": "db-0", "namespace": "shop", "uid": "u-1"}, "reason": "Failed",
         "type": "Warning", "message": "Failed to pull image", "source": {"component": "kubelet"}},
        {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "web-1.1", "namespace": "shop"},
         "involvedObject": {"kind": "Pod", "name": "web-1", "namespace": "shop", "uid": "u-2"}, "reason": "Pulled",
         "type": "Normal", "message": "pulled"},
        *standard_cluster_roles(),
    ]


# -- fixtures --------------------------------------------------------------------------------------------

@pytest.fixture
def api() -> Iterator[FakeKube]:
    with FakeKube() as fake:
        fake.add_all(cluster())
        yield fake


@pytest.fixture
def kubeconfig(api: FakeKube, tmp_path: Path) -> Path:
    return api.kubeconfig(tmp_path / "kubeconfig", namespace="shop")


@pytest.fixture
def v1(kubeconfig: Path) -> Iterator[k8s.CoreV1Api]:
    api_client = k8s_config.new_client_from_config(config_file=str(kubeconfig))
    try:
        yield k8s.CoreV1Api(api_client)
    finally:
        api_client.close()


KubectlRun = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def kubectl(kubeconfig: Path, tmp_path: Path) -> KubectlRun:
    def run(*args: str, config: Path | None = None, check: bool = True,
            stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        cmd = [KUBECTL, "--kubeconfig", str(config or kubeconfig), "--cache-dir", str(tmp_path / "kcache"), *args]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, input=stdin,
                              env={**os.environ, "HOME": str(tmp_path)})
        if check:
            assert proc.returncode == 0, f"{' '.join(args)}: {proc.stderr}"
        return proc
    return run


def client_for(api: FakeKube, path: Path, name: str, token: str, groups: tuple[str, ...] = (),
               namespace: str | None = None) -> k8s.ApiClient:
    api.add_user(name, token, groups)
    return k8s_config.new_client_from_config(config_file=str(api.kubeconfig(path, user=name, namespace=namespace)))


def raw_get(v1: k8s.CoreV1Api, path: str, query: list[tuple[str, str]] | None = None) -> Obj:
    """GET through the client's transport (kubernetes 37 raw API: param_serialize + call_api)."""
    api_client = v1.api_client
    method, url, headers, body, post = api_client.param_serialize("GET", path, query_params=query or [],
                                                                   header_params={"Accept": "application/json"},
                                                                   auth_settings=["BearerToken"])
    response = api_client.call_api(method, url, headers, body, post)
    response.read()
    assert response.status == 200, response.data
    out: Obj = json.loads(response.data)
    return out


def request(api: FakeKube, method: str, path: str, body: bytes | None = None, *, token: str = "admin-token",
            content_type: str = "application/json", accept: str = "application/json") -> tuple[int, Obj | str]:
    """A plain urllib request, for what the typed client cannot send (bad bodies, odd content types)."""
    ctx = ssl.create_default_context(cafile=api.ca_file)
    req = urllib.request.Request(api.url + path, data=body, method=method,
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": content_type,
                                          "Accept": accept})
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=10) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode()


def names(items: list[Any]) -> list[str]:
    return [i["metadata"]["name"] if isinstance(i, dict) else i.metadata.name for i in items]


# -- kubectl ---------------------------------------------------------------------------------------------

@needs_kubectl
def test_kubectl_get_pods_prints_the_server_table(kubectl: KubectlRun, api: FakeKube) -> None:
    out = kubectl("get", "pods").stdout.splitlines()
    assert out[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    rows = {line.split()[0]: line.split() for line in out[1:]}
    assert sorted(rows) == ["batch-1", "db-0", "web-1", "web-2"]
    assert rows["db-0"][1:4] == ["0/1", "ImagePullBackOff", "0"]
    assert rows["web-1"][1:3] == ["1/1", "Running"]
    table_requests = [r for r in api.requests if r.path == "/api/v1/namespaces/shop/pods"]
    assert table_requests and "as=Table" in table_requests[0].accept

    wide = kubectl("get", "pods", "-A", "-o", "wide").stdout.splitlines()
    assert wide[0].split()[:2] == ["NAMESPACE", "NAME"] and "NODE" in wide[0]
    assert any(line.split()[:2] == ["other", "api-1"] for line in wide)


@needs_kubectl
def test_kubectl_json_equals_client_list_and_store(kubectl: KubectlRun, v1: k8s.CoreV1Api, api: FakeKube) -> None:
    via_kubectl = json.loads(kubectl("get", "pods", "-A", "-o", "json").stdout)["items"]
    typed = v1.list_pod_for_all_namespaces().items
    raw = raw_get(v1, "/api/v1/pods")
    stored = api.list_objects("Pod")
    assert names(via_kubectl) == names(typed) == names(raw["items"]) == names(stored) == [
        "api-1", "batch-1", "db-0", "web-1", "web-2"]  # sorted by namespace/name
    assert via_kubectl == stored  # kubectl puts kind/apiVersion back on each item
    # typed list items carry no kind/apiVersion, as from a real API server
    assert raw["kind"] == "PodList" and raw["apiVersion"] == "v1" and "kind" not in raw["items"][0]
    assert [p.metadata.uid for p in typed] == [p["metadata"]["uid"] for p in stored]
    assert int(raw["metadata"]["resourceVersion"]) >= max(int(p["metadata"]["resourceVersion"]) for p in stored)


@needs_kubectl
def test_kubectl_get_secret_yaml(kubectl: KubectlRun, api: FakeKube) -> None:
    doc = yaml.safe_load(kubectl("get", "secret", "regcred", "-o", "yaml").stdout)
    assert doc == api.get_object("Secret", "shop", "regcred")
    assert doc["kind"] == "Secret" and doc["type"] == "kubernetes.io/dockerconfigjson"
    missing = kubectl("get", "secret", "nope", check=False)
    assert missing.returncode == 1
    assert 'Error from server (NotFound): secrets "nope" not found' in missing.stderr


@needs_kubectl
def test_kubectl_apply_creates_then_updates(kubectl: KubectlRun, v1: k8s.CoreV1Api, api: FakeKube,
                                            tmp_path: Path) -> None:
    manifest = tmp_path / "app.yaml"
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "shop-web", "namespace": "shop"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "shop-web"}},
                 "template": {"metadata": {"labels": {"app": "shop-web"}},
                              "spec": {"containers": [{"name": "web", "image": "quay.io/acme/web:1"},
                                                      {"name": "sidecar", "image": "quay.io/acme/side:1"}],
                                       "imagePullSecrets": [{"name": "regcred"}]}}}}
    configmap = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}, "data": {"a": "1"}}
    manifest.write_text(yaml.safe_dump_all([deployment, configmap]))
    out = kubectl("apply", "-f", str(manifest)).stdout
    assert "deployment.apps/shop-web created" in out and "configmap/settings created" in out
    created = api.get_object("Deployment", "shop", "shop-web")
    assert created is not None and created["metadata"]["generation"] == 1
    assert "kubectl.kubernetes.io/last-applied-configuration" in created["metadata"]["annotations"]

    # someone else adds a pull secret; the re-apply changes an image and drops the sidecar
    apps = k8s.AppsV1Api(v1.api_client)
    apps.patch_namespaced_deployment("shop-web", "shop", {"spec": {"template": {"spec": {
        "imagePullSecrets": [{"name": "extra"}]}}}})
    template = deployment["spec"]["template"]["spec"]  # type: ignore[index]
    template["containers"] = [{"name": "web", "image": "quay.io/acme/web:2"}]
    configmap["data"] = {"a": "2", "b": "3"}
    manifest.write_text(yaml.safe_dump_all([deployment, configmap]))
    out = kubectl("apply", "-f", str(manifest)).stdout
    assert "deployment.apps/shop-web configured" in out and "configmap/settings configured" in out

    got = apps.read_namespaced_deployment("shop-web", "shop")
    assert [(c.name, c.image) for c in got.spec.template.spec.containers] == [("web", "quay.io/acme/web:2")]
    # the strategic merge patch merged imagePullSecrets by name: the concurrent addition survives
    assert sorted(s.name for s in got.spec.template.spec.image_pull_secrets) == ["extra", "regcred"]
    assert got.metadata.generation == 3
    assert v1.read_namespaced_config_map("settings", "shop").data == {"a": "2", "b": "3"}
    patches = [r for r in api.requests if r.method == "PATCH" and r.user == "admin" and "fieldManager" in r.query]
    assert {r.content_type for r in patches} == {"application/strategic-merge-patch+json"}

    rv = api.get_object("ConfigMap", "shop", "settings")["metadata"]["resourceVersion"]  # type: ignore[index]
    assert "configmap/settings unchanged" in kubectl("apply", "-f", str(manifest)).stdout
    assert api.get_object("ConfigMap", "shop", "settings")["metadata"]["resourceVersion"] == rv  # type: ignore[index]


@needs_kubectl
def test_kubectl_create_and_delete_secret(kubectl: KubectlRun, v1: k8s.CoreV1Api, api: FakeKube,
                                          tmp_path: Path) -> None:
    auth = tmp_path / "config.json"
    auth.write_text(json.dumps({"auths": {"registry.example.com": {"auth": "dTpw"}}}))
    out = kubectl("create", "secret", "generic", "pull", "--type=kubernetes.io/dockerconfigjson",
                  f"--from-file=.dockerconfigjson={auth}").stdout
    assert "secret/pull created" in out
    assert v1.read_namespaced_secret("pull", "shop").type == "kubernetes.io/dockerconfigjson"
    bad = kubectl("create", "secret", "generic", "broken", "--type=kubernetes.io/dockerconfigjson",
                  "--from-literal=x=y", check=False)
    assert bad.returncode == 1
    assert 'Secret "broken" is invalid: data[.dockerconfigjson]: Required value' in bad.stderr
    # typed kubectl commands send protobuf bodies; the fake decodes them
    out = kubectl("create", "secret", "docker-registry", "dr", "--docker-server=registry.example.com",
                  "--docker-username=u", "--docker-password=p").stdout
    assert "secret/dr created" in out
    made = v1.read_namespaced_secret("dr", "shop")
    auths = json.loads(base64.b64decode(made.data[".dockerconfigjson"]))["auths"]
    assert auths["registry.example.com"]["auth"] == base64.b64encode(b"u:p").decode()
    posts = [r for r in api.requests if r.method == "POST" and r.path == "/api/v1/namespaces/shop/secrets"]
    assert posts[-1].content_type == "application/vnd.kubernetes.protobuf" and posts[-1].status == 201
    kubectl("create", "rolebinding", "pullers", "--clusterrole=system:image-puller",
            "--group=system:serviceaccounts:other")
    binding = api.get_object("RoleBinding", "shop", "pullers")
    assert binding is not None and binding["subjects"] == [
        {"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "system:serviceaccounts:other"}]
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                  "name": "system:image-puller"}
    kubectl("patch", "serviceaccount", "default", "-p", '{"imagePullSecrets":[{"name":"dr"}]}')
    assert v1.read_namespaced_service_account("default", "shop").image_pull_secrets[0].name == "dr"
    assert 'secret "pull" deleted' in kubectl("delete", "secret", "pull").stdout
    with pytest.raises(ApiException) as err:
        v1.read_namespaced_secret("pull", "shop")
    assert err.value.status == 404


# -- paging and selectors --------------------------------------------------------------------------------

@needs_kubectl
def test_pagination_with_kubectl_and_client(kubectl: KubectlRun, v1: k8s.CoreV1Api, api: FakeKube) -> None:
    api.clear_log()
    out = json.loads(kubectl("get", "pods", "-A", "-o", "json", "--chunk-size=2").stdout)
    assert names(out["items"]) == ["api-1", "batch-1", "db-0", "web-1", "web-2"]
    pages = [r for r in api.requests if r.path == "/api/v1/pods"]
    assert len(pages) == 3 and [r.query.get("limit") for r in pages] == ["2", "2", "2"]
    assert "continue" not in pages[0].query and all("continue" in r.query for r in pages[1:])

    seen: list[str] = []
    token = None
    remaining: list[int | None] = []
    while True:
        page = v1.list_namespaced_pod("shop", limit=3, _continue=token)
        seen += names(page.items)
        remaining.append(page.metadata.remaining_item_count)
        token = page.metadata._continue
        if not token:
            break
    assert seen == ["batch-1", "db-0", "web-1", "web-2"]
    assert remaining == [1, None]
    # a selector with paging: continue tokens still work, but no remainingItemCount
    page = v1.list_pod_for_all_namespaces(limit=1, label_selector="tier=front")
    assert names(page.items) == ["api-1"] and page.metadata.remaining_item_count is None
    rest = v1.list_pod_for_all_namespaces(limit=5, label_selector="tier=front", _continue=page.metadata._continue)
    assert names(rest.items) == ["web-1", "web-2"] and not rest.metadata._continue
    with pytest.raises(ApiException) as err:
        v1.list_pod_for_all_namespaces(limit=1, _continue="garbage!")
    assert err.value.status == 400


@pytest.mark.parametrize(("selector", "expected"), [
    ("app=web", ["web-1", "web-2"]),
    ("app==web", ["web-1", "web-2"]),
    ("app!=web", ["batch-1", "db-0"]),
    ("tier in (front,back)", ["db-0", "web-1", "web-2"]),
    ("tier notin (front)", ["batch-1", "db-0"]),
    ("canary", ["web-2"]),
    ("!canary", ["batch-1", "db-0", "web-1"]),
    ("app=web,!canary", ["web-1"]),
    ("tier in (front),app notin (db,batch)", ["web-1", "web-2"]),
    ("", ["batch-1", "db-0", "web-1", "web-2"]),
])
def test_label_selectors(v1: k8s.CoreV1Api, selector: str, expected: list[str]) -> None:
    assert names(v1.list_namespaced_pod("shop", label_selector=selector).items) == expected


def test_bad_label_selector_is_400(v1: k8s.CoreV1Api) -> None:
    for bad in ("app in front", "app=(x", "=x", "a,,b"):
        with pytest.raises(ApiException) as err:
            v1.list_namespaced_pod("shop", label_selector=bad)
        assert err.value.status == 400, bad


def test_field_selectors(v1: k8s.CoreV1Api) -> None:
    def pods(selector: str) -> list[str]:
        return names(v1.list_pod_for_all_namespaces(field_selector=selector).items)

    assert pods("metadata.name=web-1") == ["web-1"]
    assert pods("metadata.namespace=other") == ["api-1"]
    assert pods("status.phase=Pending") == ["db-0"]
    assert pods("status.phase!=Running") == ["batch-1", "db-0"]
    assert pods("spec.nodeName=node-2") == ["web-2"]
    assert pods("spec.serviceAccountName=db,metadata.namespace=shop") == ["db-0"]
    assert names(v1.list_namespaced_secret("shop", field_selector="type=Opaque").items) == ["opaque"]
    events = v1.list_namespaced_event("shop", field_selector="involvedObject.kind=Pod,involvedObject.name=db-0")
    assert [(e.reason, e.type) for e in events.items] == [("Failed", "Warning")]
    assert names(v1.list_namespaced_event("shop", field_selector="reason=Pulled,type=Normal").items) == ["web-1.1"]
    with pytest.raises(ApiException) as err:
        v1.list_namespaced_pod("shop", field_selector="spec.containers.image=x")
    assert err.value.status == 400
    body = json.loads(err.value.body)
    assert body["reason"] == "BadRequest"
    assert body["message"] == ('Unable to find "/v1, Resource=pods" that match label selector "", field selector '
                               '"spec.containers.image=x": field label not supported: spec.containers.image')
    with pytest.raises(ApiException) as err:
        v1.list_namespaced_service_account("shop", field_selector="type=x")
    assert err.value.status == 400


@needs_kubectl
def test_kubectl_selectors(kubectl: KubectlRun) -> None:
    out = kubectl("get", "pods", "-l", "tier in (front,back),!canary", "-o", "name").stdout.split()
    assert out == ["pod/db-0", "pod/web-1"]
    out = kubectl("get", "pods", "-A", "--field-selector", "status.phase=Running", "-o", "name").stdout.split()
    assert out == ["pod/api-1", "pod/web-1", "pod/web-2"]


# -- writes ----------------------------------------------------------------------------------------------

def test_stale_update_is_409_conflict(v1: k8s.CoreV1Api, api: FakeKube) -> None:
    mine = v1.read_namespaced_service_account("db", "shop")
    theirs = v1.read_namespaced_service_account("db", "shop")
    theirs.metadata.labels = {"touched": "yes"}
    written = v1.replace_namespaced_service_account("db", "shop", theirs)
    assert int(written.metadata.resource_version) > int(mine.metadata.resource_version)
    mine.image_pull_secrets = [k8s.V1LocalObjectReference(name="c")]
    with pytest.raises(ApiException) as err:
        v1.replace_namespaced_service_account("db", "shop", mine)
    assert err.value.status == 409
    body = json.loads(err.value.body)
    assert body["reason"] == "Conflict"
    assert body["message"] == ('Operation cannot be fulfilled on serviceaccounts "db": the object has been modified; '
                               'please apply your changes to the latest version and try again')
    assert body["details"] == {"name": "db", "kind": "serviceaccounts"}
    stored = api.get_object("ServiceAccount", "shop", "db")
    assert stored is not None and stored["imagePullSecrets"] == [{"name": "a"}, {"name": "b"}]
    # a patch carrying a stale resourceVersion is a precondition, too
    with pytest.raises(ApiException) as err:
        v1.patch_namespaced_service_account("db", "shop", {"metadata": {"resourceVersion": mine.metadata.resource_version},
                                                           "imagePullSecrets": [{"name": "c"}]})
    assert err.value.status == 409
    # create of an existing name
    with pytest.raises(ApiException) as err:
        v1.create_namespaced_secret("shop", {"metadata": {"name": "regcred"}, "type": "Opaque"})
    assert err.value.status == 409 and json.loads(err.value.body)["reason"] == "AlreadyExists"
    assert json.loads(err.value.body)["message"] == 'secrets "regcred" already exists'


def test_service_account_pull_secrets_patch_replaces_like_upstream(v1: k8s.CoreV1Api, api: FakeKube) -> None:
    """ServiceAccount.imagePullSecrets has no merge key: a strategic merge patch replaces the list, while
    ServiceAccount.secrets (merge key name) and PodSpec.imagePullSecrets merge."""
    patched = v1.patch_namespaced_service_account("db", "shop", {"imagePullSecrets": [{"name": "c"}],
                                                                 "secrets": [{"name": "c"}]})
    assert [s.name for s in patched.image_pull_secrets] == ["c"]
    assert [s.name for s in patched.secrets] == ["a", "b", "c"]
    assert api.requests[-1].content_type == "application/strategic-merge-patch+json"
    # a merge patch replaces both lists
    merged = v1.patch_namespaced_service_account("db", "shop", {"secrets": [{"name": "d"}]},
                                                 _content_type="application/merge-patch+json")
    assert [s.name for s in merged.secrets] == ["d"]
    # strategic merge on a pod template's imagePullSecrets merges by name; $patch: delete removes one
    apps = k8s.AppsV1Api(v1.api_client)
    api.add({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "shop"},
             "spec": {"selector": {}, "template": {"spec": {"containers": [{"name": "a", "image": "x"}],
                                                            "imagePullSecrets": [{"name": "one"}, {"name": "two"}]}}}})
    apps.patch_namespaced_deployment("d", "shop", {"spec": {"template": {"spec": {
        "imagePullSecrets": [{"name": "three"}, {"name": "one", "$patch": "delete"}]}}}})
    got = api.get_object("Deployment", "shop", "d")
    assert got is not None and got["spec"]["template"]["spec"]["imagePullSecrets"] == [{"name": "two"}, {"name": "three"}]


def test_json_patch_test_op_detects_a_concurrent_change(v1: k8s.CoreV1Api, api: FakeKube) -> None:
    sa = v1.read_namespaced_service_account("db", "shop")
    ops = [{"op": "test", "path": "/metadata/resourceVersion", "value": sa.metadata.resource_version},
           {"op": "test", "path": "/imagePullSecrets", "value": [{"name": "a"}, {"name": "b"}]},
           {"op": "add", "path": "/imagePullSecrets/-", "value": {"name": "c"}}]
    v1.patch_namespaced_service_account("db", "shop", [{"op": "add", "path": "/metadata/labels", "value": {"x": "y"}}])
    assert api.requests[-1].content_type == "application/json-patch+json"
    with pytest.raises(ApiException) as err:
        v1.patch_namespaced_service_account("db", "shop", ops)
    assert err.value.status == 422
    body = json.loads(err.value.body)
    assert body["reason"] == "Invalid"
    assert "testing value /metadata/resourceVersion failed" in json.dumps(body)
    fresh = v1.read_namespaced_service_account("db", "shop")
    ops[0]["value"] = fresh.metadata.resource_version
    done = v1.patch_namespaced_service_account("db", "shop", ops)
    assert [s.name for s in done.image_pull_secrets] == ["a", "b", "c"]
    with pytest.raises(ApiException) as err:
        v1.patch_namespaced_service_account("db", "shop", [{"op": "remove", "path": "/nope"}])
    assert err.value.status == 422


def test_server_side_apply_approximation(v1: k8s.CoreV1Api, api: FakeKube) -> None:
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa", "namespace": "shop"}, "data": {"a": "1"}}
    ssa = "application/apply-patch+yaml"
    made = v1.patch_namespaced_config_map("ssa", "shop", body, field_manager="me", _content_type=ssa)
    assert made.data == {"a": "1"} and api.requests[-1].status == 201
    body["data"] = {"a": "2"}
    assert v1.patch_namespaced_config_map("ssa", "shop", body, field_manager="me", _content_type=ssa).data == {"a": "2"}
    with pytest.raises(ApiException) as err:
        v1.patch_namespaced_config_map("ssa", "shop", body, _content_type=ssa)
    assert err.value.status == 422 and "fieldManager: Required value" in err.value.body
    with pytest.raises(ApiException) as err:
        v1.patch_namespaced_service_account("db", "shop", {"imagePullSecrets": [{"name": True}]})
    assert err.value.status == 400 and "cannot unmarshal bool into Go struct field" in err.value.body


def test_dry_run_validates_without_persisting(v1: k8s.CoreV1Api, api: FakeKube) -> None:
    made = v1.create_namespaced_secret("shop", {"metadata": {"name": "dry"}, "type": "kubernetes.io/dockerconfigjson",
                                                "stringData": {".dockerconfigjson": '{"auths":{}}'}}, dry_run="All")
    assert made.metadata.name == "dry" and made.data == {".dockerconfigjson": base64.b64encode(b'{"auths":{}}').decode()}
    assert api.get_object("Secret", "shop", "dry") is None
    with pytest.raises(ApiException) as err:
        v1.create_namespaced_secret("shop", {"metadata": {"name": "dry"}, "type": "kubernetes.io/dockerconfigjson",
                                             "stringData": {".dockerconfigjson": "{not json"}}, dry_run="All")
    assert err.value.status == 422
    assert json.loads(err.value.body)["details"]["causes"][0]["field"] == "data[.dockerconfigjson]"
    before = api.get_object("ServiceAccount", "shop", "db")
    v1.patch_namespaced_service_account("db", "shop", {"imagePullSecrets": []}, dry_run="All")
    assert api.get_object("ServiceAccount", "shop", "db") == before


def test_pod_spec_is_immutable_and_secret_type_too(v1: k8s.CoreV1Api) -> None:
    with pytest.raises(ApiException) as err:
        v1.patch_namespaced_pod("web-2", "shop", {"spec": {"imagePullSecrets": [{"name": "regcred"}]}})
    assert err.value.status == 422
    assert "pod updates may not change fields other than" in json.loads(err.value.body)["message"]
    v1.patch_namespaced_pod("web-2", "shop", {"spec": {"containers": [{"name": "app", "image": "quay.io/acme/x:2"}]}})
    with pytest.raises(ApiException) as err:
        v1.patch_namespaced_secret("opaque", "shop", {"type": "kubernetes.io/dockercfg",
                                                      "data": {".dockercfg": base64.b64encode(b"{}").decode()}})
    assert err.value.status == 422 and "field is immutable" in json.loads(err.value.body)["message"]


def test_pod_creation_runs_service_account_admission(v1: k8s.CoreV1Api, api: FakeKube) -> None:
    body = {"metadata": {"generateName": "job-"}, "spec": {"serviceAccountName": "db",
                                                           "containers": [{"name": "c", "image": "x"}]}}
    made = v1.create_namespaced_pod("shop", body)
    assert made.metadata.name.startswith("job-") and len(made.metadata.name) == len("job-") + 5
    assert [s.name for s in made.spec.image_pull_secrets] == ["a", "b"]  # copied from the service account
    body["spec"]["serviceAccountName"] = "ghost"  # type: ignore[index]
    with pytest.raises(ApiException) as err:
        v1.create_namespaced_pod("shop", body)
    assert err.value.status == 403
    assert json.loads(err.value.body)["message"].endswith(
        'is forbidden: error looking up service account shop/ghost: serviceaccount "ghost" not found')
    v1.create_namespace({"metadata": {"name": "fresh"}})
    assert api.get_object("ServiceAccount", "fresh", "default") is not None
    assert api.get_object("Namespace", None, "fresh")["status"] == {"phase": "Active"}  # type: ignore[index]


def test_strategic_merge_directives() -> None:
    from tests.fakekube.patch import strategic_merge_patch

    deployment = {"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}},
                           "template": {"metadata": {"finalizers": ["a"]}, "spec": {
                               "containers": [{"name": "a", "image": "1", "env": [{"name": "X", "value": "1"}]},
                                              {"name": "b", "image": "1"}],
                               "volumes": [{"name": "v1"}, {"name": "v2"}]}}}}
    patched = strategic_merge_patch("Deployment", deployment, {"spec": {
        "strategy": {"$retainKeys": ["type"], "type": "Recreate"},
        "template": {"spec": {
            "$setElementOrder/containers": [{"name": "b"}, {"name": "a"}],
            "containers": [{"name": "a", "env": [{"name": "Y", "value": "2"}]}],
            "volumes": [{"name": "v1", "$patch": "delete"}]}}}})
    spec = patched["spec"]
    assert spec["strategy"] == {"type": "Recreate"}
    assert [c["name"] for c in spec["template"]["spec"]["containers"]] == ["b", "a"]
    assert spec["template"]["spec"]["containers"][1]["env"] == [{"name": "X", "value": "1"}, {"name": "Y", "value": "2"}]
    assert spec["template"]["spec"]["volumes"] == [{"name": "v2"}]
    assert deployment["spec"]["strategy"]["type"] == "RollingUpdate"  # type: ignore[index]  # input untouched
    replaced = strategic_merge_patch("Deployment", deployment, {"spec": {"template": {"spec": {
        "containers": [{"$patch": "replace"}, {"name": "only", "image": "2"}]}}}})
    assert replaced["spec"]["template"]["spec"]["containers"] == [{"name": "only", "image": "2"}]
    sa = {"secrets": [{"name": "a"}], "imagePullSecrets": [{"name": "a"}]}
    assert strategic_merge_patch("ServiceAccount", sa, {"imagePullSecrets": [{"name": "b"}], "secrets": [
        {"name": "b"}]}) == {"secrets": [{"name": "a"}, {"name": "b"}], "imagePullSecrets": [{"name": "b"}]}


# -- RBAC ------------------------------------------------------------------------------------------------

def _sar(api_client: k8s.ApiClient, user_name: str, groups: list[str], namespace: str) -> k8s.V1SubjectAccessReview:
    review = k8s.V1SubjectAccessReview(spec=k8s.V1SubjectAccessReviewSpec(
        user=user_name, groups=groups, resource_attributes=k8s.V1ResourceAttributes(
            namespace=namespace, verb="get", group="image.openshift.io", resource="imagestreams",
            subresource="layers", name="app")))
    return k8s.AuthorizationV1Api(api_client).create_subject_access_review(review)


def test_subject_access_review_from_image_puller_binding(v1: k8s.CoreV1Api, api: FakeKube) -> None:
    api.add(role_binding("system:image-pullers", "shop", "system:image-puller", [group("system:serviceaccounts:shop")]))
    rbac_api = k8s.RbacAuthorizationV1Api(v1.api_client)
    assert rbac_api.read_namespaced_role_binding("system:image-pullers", "shop").role_ref.name == "system:image-puller"
    assert api.requests[-1].path == "/apis/rbac.authorization.k8s.io/v1/namespaces/shop/rolebindings/system:image-pullers"
    builder = "system:serviceaccount:shop:builder"
    allowed = _sar(v1.api_client, builder, ["system:serviceaccounts", "system:serviceaccounts:shop",
                                            "system:authenticated"], "shop")
    assert allowed.status.allowed is True
    assert allowed.status.reason == ('RBAC: allowed by RoleBinding "system:image-pullers/shop" of ClusterRole '
                                     '"system:image-puller" to Group "system:serviceaccounts:shop"')
    outsider = "system:serviceaccount:other:default"
    denied = _sar(v1.api_client, outsider, ["system:serviceaccounts", "system:serviceaccounts:other",
                                            "system:authenticated"], "shop")
    assert denied.status.allowed is False and not denied.status.reason
    # granting cross-namespace pulls makes the same review pass
    api.add(role_binding("pull-from-shop", "shop", "system:image-puller", [group("system:serviceaccounts:other")]))
    assert _sar(v1.api_client, outsider, ["system:serviceaccounts:other"], "shop").status.allowed is True
    with pytest.raises(ApiException) as err:
        k8s.AuthorizationV1Api(v1.api_client).create_subject_access_review(
            k8s.V1SubjectAccessReview(spec=k8s.V1SubjectAccessReviewSpec(
                user="x", resource_attributes=k8s.V1ResourceAttributes(verb="get", resource="pods"),
                non_resource_attributes=k8s.V1NonResourceAttributes(path="/healthz", verb="get"))))
    assert err.value.status == 422


@needs_kubectl
def test_view_user_in_one_namespace(api: FakeKube, tmp_path: Path, kubectl: KubectlRun) -> None:
    api.add(role_binding("alice-view", "shop", "view", [user("alice")]))
    alice = client_for(api, tmp_path / "alice", "alice", "alice-token")
    core = k8s.CoreV1Api(alice)
    try:
        assert names(core.list_namespaced_pod("shop").items) == ["batch-1", "db-0", "web-1", "web-2"]
        assert core.read_namespaced_service_account("db", "shop").metadata.name == "db"
        for call, message in [
            (lambda: core.list_namespaced_secret("shop"),
             'secrets is forbidden: User "alice" cannot list resource "secrets" in API group "" in the namespace "shop"'),
            (lambda: core.read_namespaced_secret("regcred", "shop"),
             'secrets "regcred" is forbidden: User "alice" cannot get resource "secrets" in API group "" in the '
             'namespace "shop"'),
            (lambda: core.list_namespaced_pod("other"),
             'pods is forbidden: User "alice" cannot list resource "pods" in API group "" in the namespace "other"'),
            (lambda: core.list_pod_for_all_namespaces(),
             'pods is forbidden: User "alice" cannot list resource "pods" in API group "" at the cluster scope'),
            (lambda: core.patch_namespaced_service_account("db", "shop", {"imagePullSecrets": []}),
             'serviceaccounts "db" is forbidden: User "alice" cannot patch resource "serviceaccounts" in API group "" '
             'in the namespace "shop"'),
        ]:
            with pytest.raises(ApiException) as err:
                call()
            body = json.loads(err.value.body)
            assert (err.value.status, body["reason"], body["message"]) == (403, "Forbidden", message)
        # SelfSubjectAccessReview answers for the caller
        review = k8s.AuthorizationV1Api(alice).create_self_subject_access_review(k8s.V1SelfSubjectAccessReview(
            spec=k8s.V1SelfSubjectAccessReviewSpec(resource_attributes=k8s.V1ResourceAttributes(
                namespace="shop", verb="list", resource="pods"))))
        assert review.status.allowed is True
    finally:
        alice.close()
    config = api.kubeconfig(tmp_path / "alice-kubeconfig", user="alice", namespace="shop")
    assert "web-1" in kubectl("get", "pods", config=config).stdout
    denied = kubectl("get", "pods", "-n", "other", config=config, check=False)
    assert denied.returncode == 1
    assert denied.stderr.strip() == ('Error from server (Forbidden): pods is forbidden: User "alice" cannot list '
                                     'resource "pods" in API group "" in the namespace "other"')
    can = kubectl("auth", "can-i", "get", "secrets", config=config, check=False)
    assert can.stdout.strip() == "no"


@needs_kubectl
def test_impersonation_and_rules_review(api: FakeKube, kubectl: KubectlRun, tmp_path: Path) -> None:
    api.add(role_binding("alice-view", "shop", "view", [user("alice")]))
    assert "web-1" in kubectl("get", "pods", "--as=alice").stdout
    denied = kubectl("get", "secrets", "--as=alice", check=False)
    assert denied.returncode == 1 and 'User "alice" cannot list resource "secrets"' in denied.stderr
    assert api.requests[-1].user == "alice"
    rules = kubectl("auth", "can-i", "--list", "--as=alice").stdout
    assert any(line.split()[:1] == ["pods"] and "[get list watch]" in line for line in rules.splitlines())
    assert not any(line.startswith("secrets ") for line in rules.splitlines())
    api.add_user("carol", "carol-token")
    carol = api.kubeconfig(tmp_path / "carol", user="carol")
    refused = kubectl("get", "pods", "--as=alice", config=carol, check=False)
    assert 'users "alice" is forbidden: User "carol" cannot impersonate resource "users" in API group "" at the ' \
           'cluster scope' in refused.stderr


def test_expired_continue_token_and_query_faults(v1: k8s.CoreV1Api, api: FakeKube) -> None:
    first = v1.list_pod_for_all_namespaces(limit=2)
    api.compact()
    with pytest.raises(ApiException) as err:
        v1.list_pod_for_all_namespaces(limit=2, _continue=first.metadata._continue)
    body = json.loads(err.value.body)
    assert err.value.status == 410 and body["reason"] == "Expired"
    assert body["message"].startswith("The provided continue parameter is too old")
    rest = v1.list_pod_for_all_namespaces(limit=10, _continue=body["metadata"]["continue"])
    assert names(first.items) + names(rest.items) == ["api-1", "batch-1", "db-0", "web-1", "web-2"]
    # faults can match query parameters: only the second page fails
    api.fault(path="/api/v1/pods$", query={"continue": "."}, status=500, times=1)
    page = v1.list_pod_for_all_namespaces(limit=2)
    with pytest.raises(ApiException) as err:
        v1.list_pod_for_all_namespaces(limit=2, _continue=page.metadata._continue)
    assert err.value.status == 500


def test_rolebinding_creation_needs_the_granted_permissions(api: FakeKube, tmp_path: Path) -> None:
    api.add(role_binding("bob-view", "shop", "view", [user("bob")]))
    api.add(role_binding("bob-rb", "shop", "admin", [user("bob")]))
    bob = client_for(api, tmp_path / "bob", "bob", "bob-token")
    rbac_api = k8s.RbacAuthorizationV1Api(bob)
    try:
        binding = role_binding("pullers", "shop", "system:image-puller", [group("system:serviceaccounts:other")])
        rbac_api.create_namespaced_role_binding("shop", binding)  # admin holds imagestreams/layers get
        with pytest.raises(ApiException) as err:
            rbac_api.create_namespaced_role_binding("shop", role_binding("root", "shop", "cluster-admin", [user("bob")]))
        assert err.value.status == 403 and "attempting to grant RBAC permissions not currently held" in err.value.body
    finally:
        bob.close()
    assert api.get_object("RoleBinding", "shop", "pullers") is not None
    assert api.get_object("RoleBinding", "shop", "root") is None


def test_unknown_token_is_401(api: FakeKube) -> None:
    status, body = request(api, "GET", "/api/v1/pods", token="wrong")
    assert status == 401 and isinstance(body, dict) and body["reason"] == "Unauthorized"
    assert api.requests[-1].user is None and api.requests[-1].status == 401


# -- faults ----------------------------------------------------------------------------------------------

def test_fault_429_with_retry_after(v1: k8s.CoreV1Api, api: FakeKube) -> None:
    # a POST is not retried by urllib3: the client sees the 429 and its Retry-After
    rule = api.fault(method="POST", path=r"/secrets$", status=429, retry_after=7, times=1)
    with pytest.raises(ApiException) as err:
        v1.create_namespaced_secret("shop", {"metadata": {"name": "new"}, "type": "Opaque"})
    assert err.value.status == 429 and err.value.headers["Retry-After"] == "7"
    body = json.loads(err.value.body)
    assert body["reason"] == "TooManyRequests" and body["details"] == {"retryAfterSeconds": 7}
    assert rule.hits == 1 and rule.exhausted
    assert v1.create_namespaced_secret("shop", {"metadata": {"name": "new"}, "type": "Opaque"}).metadata.name == "new"
    # urllib3 itself honours Retry-After on idempotent requests (429/503 with the header)
    api.fault(method="GET", path=r"/secrets$", status=429, retry_after=0, times=2)
    assert names(v1.list_namespaced_secret("shop").items) == ["a", "b", "new", "opaque", "regcred"]
    assert [r.status for r in api.requests if r.method == "GET" and r.path.endswith("/secrets")] == [429, 429, 200]
    # without the header there is no retry
    api.fault(method="GET", path=r"/secrets$", status=429, times=1)
    with pytest.raises(ApiException) as err:
        v1.list_namespaced_secret("shop")
    assert err.value.status == 429 and "Retry-After" not in err.value.headers


def test_client_go_retries_honour_retry_after(kubeconfig: Path, api: FakeKube) -> None:
    api_client = k8s_config.new_client_from_config(config_file=str(kubeconfig))
    api_client.configuration.client_go_retries = True
    api_client.rest_client = type(api_client.rest_client)(api_client.configuration)
    api.fault(path=r"/pods$", status=429, retry_after=0, times=2)
    try:
        assert len(k8s.CoreV1Api(api_client).list_namespaced_pod("shop").items) == 4
    finally:
        api_client.close()
    assert [r.status for r in api.requests if r.path.endswith("/pods")] == [429, 429, 200]


def test_fault_500_and_custom_body(v1: k8s.CoreV1Api, api: FakeKube) -> None:
    api.fault(path="serviceaccounts/db$", status=500, times=1)
    with pytest.raises(ApiException) as err:
        v1.read_namespaced_service_account("db", "shop")
    assert err.value.status == 500 and json.loads(err.value.body)["reason"] == "InternalError"
    api.fault(path="serviceaccounts/db$", status=503, body="upstream connect error", times=1)
    with pytest.raises(ApiException) as err:
        v1.read_namespaced_service_account("db", "shop")
    assert err.value.status == 503 and err.value.body == "upstream connect error"
    assert v1.read_namespaced_service_account("db", "shop").metadata.name == "db"


def test_fault_delay_and_timeout(v1: k8s.CoreV1Api, api: FakeKube) -> None:
    api.fault(path="/namespaces/shop/pods$", delay=0.3, times=1)
    started = time.perf_counter()
    assert len(v1.list_namespaced_pod("shop").items) == 4
    assert time.perf_counter() - started >= 0.3
    assert api.requests[-1].elapsed >= 0.3
    # urllib3 retries a GET after a read timeout: a slow server stays slow
    api.fault(path="/namespaces/shop/pods$", delay=0.5)
    with pytest.raises(urllib3.exceptions.MaxRetryError) as err:
        v1.list_namespaced_pod("shop", _request_timeout=0.1)
    assert isinstance(err.value.reason, urllib3.exceptions.ReadTimeoutError)
    api.clear_faults()


def test_fault_connection_reset(v1: k8s.CoreV1Api, api: FakeKube, kubeconfig: Path) -> None:
    # urllib3 retries an idempotent GET after a reset (3 times by default): one reset is invisible
    api.fault(path="serviceaccounts$", reset=True, times=1)
    assert len(v1.list_namespaced_service_account("shop").items) == 2
    assert [r.status for r in api.requests if r.path.endswith("serviceaccounts")] == [0, 200]
    # with retries off, the client sees the reset
    api_client = k8s_config.new_client_from_config(config_file=str(kubeconfig))
    api_client.configuration.retries = False
    api_client.rest_client = type(api_client.rest_client)(api_client.configuration)
    api.fault(path="serviceaccounts$", reset=True, times=1)
    try:
        with pytest.raises(urllib3.exceptions.ProtocolError):
            k8s.CoreV1Api(api_client).list_namespaced_service_account("shop")
    finally:
        api_client.close()


@needs_kubectl
def test_forbid_gives_the_real_403(v1: k8s.CoreV1Api, api: FakeKube, kubectl: KubectlRun) -> None:
    api.forbid("secrets", namespace="shop")
    with pytest.raises(ApiException) as err:
        v1.list_namespaced_secret("shop")
    assert err.value.status == 403
    assert json.loads(err.value.body)["message"] == ('secrets is forbidden: User "admin" cannot list resource '
                                                     '"secrets" in API group "" in the namespace "shop"')
    assert names(v1.list_namespaced_secret("other").items) == ["token"]
    assert len(v1.list_namespaced_pod("shop").items) == 4
    api.forbid("pods", verb="list")
    denied = kubectl("get", "pods", "-A", check=False)
    assert 'pods is forbidden: User "admin" cannot list resource "pods" in API group "" at the cluster scope' \
        in denied.stderr
    assert v1.read_namespaced_pod("web-1", "shop").metadata.name == "web-1"
    api.clear_faults()
    assert len(v1.list_namespaced_secret("shop").items) == 4


def test_request_log(v1: k8s.CoreV1Api, api: FakeKube) -> None:
    api.clear_log()
    v1.list_namespaced_pod("shop", label_selector="app=web", limit=10)
    v1.read_namespaced_pod("web-1", "shop")
    with pytest.raises(ApiException):
        v1.read_namespaced_pod("gone", "shop")
    log = api.requests
    assert [(r.method, r.path, r.status, r.user) for r in log] == [
        ("GET", "/api/v1/namespaces/shop/pods", 200, "admin"),
        ("GET", "/api/v1/namespaces/shop/pods/web-1", 200, "admin"),
        ("GET", "/api/v1/namespaces/shop/pods/gone", 404, "admin")]
    assert log[0].query == {"labelSelector": "app=web", "limit": "10"}
    assert all(r.elapsed >= 0 for r in log)
    api.clear_log()
    assert api.requests == []


# -- robustness, discovery, watch ------------------------------------------------------------------------

def test_bad_requests_get_status_answers(api: FakeKube) -> None:
    cases = [
        ("POST", "/api/v1/namespaces/shop/secrets", b"{not json", "application/json", 400),
        ("POST", "/api/v1/namespaces/shop/secrets", b"[1,2]", "application/json", 400),
        ("POST", "/api/v1/namespaces/shop/secrets", b'{"metadata":{"name":"x","namespace":"other"}}',
         "application/json", 400),
        ("POST", "/api/v1/namespaces/shop/secrets", b'{"metadata":{"name":"x"},"data":{"k":"%%%"}}',
         "application/json", 400),
        ("PATCH", "/api/v1/namespaces/shop/secrets/a", b"{}", "text/plain", 415),
        ("PATCH", "/apis/apps/v1/namespaces/shop/deployments/none", b"{}", "application/merge-patch+json", 404),
        ("PATCH", "/api/v1/namespaces/shop/serviceaccounts/db", b'{"op":"add"}', "application/json-patch+json", 400),
        ("PUT", "/api/v1/namespaces/shop/secrets", b"{}", "application/json", 405),
        ("POST", "/api/v1/namespaces/shop/secrets/a", b"{}", "application/json", 405),
        ("GET", "/api/v1/namespaces/shop/widgets", None, "application/json", 404),
        ("GET", "/apis/nope.example.com/v1/things", None, "application/json", 404),
        ("GET", "/api/v1/pods/web-1", None, "application/json", 404),
        ("POST", "/api/v1/namespaces/shop/secrets", b'{"metadata":{"name":"Bad_Name"}}', "application/json", 422),
        ("POST", "/api/v1/namespaces/shop/secrets", b'{"metadata":{"name":"x","resourceVersion":"5"}}',
         "application/json", 500),
        ("DELETE", "/api/v1/namespaces/shop/secrets/a", b'{"preconditions":{"uid":"other"}}', "application/json", 409),
    ]
    for method, path, body, ctype, expected in cases:
        status, answer = request(api, method, path, body, content_type=ctype)
        assert status == expected, (method, path, answer)
        assert isinstance(answer, dict) and answer["kind"] == "Status" and answer["code"] == expected, answer
    assert request(api, "GET", "/api/v1/namespaces/shop/secrets/a")[0] == 200


def test_discovery_documents(api: FakeKube) -> None:
    status, doc = request(api, "GET", "/api/v1")
    assert status == 200 and isinstance(doc, dict)
    pods = next(r for r in doc["resources"] if r["name"] == "pods")
    assert pods["namespaced"] is True and pods["kind"] == "Pod" and "po" in pods["shortNames"]
    assert "list" in pods["verbs"] and any(r["name"] == "pods/status" for r in doc["resources"])
    status, groups = request(api, "GET", "/apis")
    assert isinstance(groups, dict)
    assert {"apps", "batch", "rbac.authorization.k8s.io", "authorization.k8s.io", "events.k8s.io"} <= {
        g["name"] for g in groups["groups"]}
    assert not any(g["name"].endswith("openshift.io") for g in groups["groups"])
    status, agg = request(api, "GET", "/apis", accept="application/json;g=apidiscovery.k8s.io;v=v2;"
                                                       "as=APIGroupDiscoveryList,application/json")
    assert isinstance(agg, dict) and agg["kind"] == "APIGroupDiscoveryList"
    status, version = request(api, "GET", "/version")
    assert isinstance(version, dict) and version["minor"] == "32"


@needs_kubectl
def test_openshift_groups_only_when_asked(tmp_path: Path) -> None:
    dc = {"apiVersion": "apps.openshift.io/v1", "kind": "DeploymentConfig", "metadata": {"name": "legacy",
                                                                                         "namespace": "shop"},
          "spec": {"template": {"spec": {"containers": [{"name": "a", "image": "x"}]}}}}
    image = {"apiVersion": "config.openshift.io/v1", "kind": "Image", "metadata": {"name": "cluster"},
             "status": {"internalRegistryHostname": "image-registry.openshift-image-registry.svc:5000"}}
    cache = tmp_path / "cache"
    with FakeKube(openshift=True) as ocp:
        ocp.add_all([dc, image])
        config = ocp.kubeconfig(tmp_path / "ocp", namespace="shop")
        out = subprocess.run([KUBECTL, "--kubeconfig", str(config), "--cache-dir", str(cache), "get", "dc,images",
                              "-A", "-o", "name"], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        assert out.stdout.split() == ["deploymentconfig.apps.openshift.io/legacy", "image.config.openshift.io/cluster"]
        raw = json.loads(subprocess.run([KUBECTL, "--kubeconfig", str(config), "--cache-dir", str(cache), "get",
                                         "--raw", "/apis/config.openshift.io/v1/images"],
                                        capture_output=True, text=True, timeout=60).stdout)
        assert raw["items"][0]["kind"] == "Image"  # CRD lists keep kind/apiVersion on items
    with FakeKube() as plain:
        config = plain.kubeconfig(tmp_path / "plain")
        out = subprocess.run([KUBECTL, "--kubeconfig", str(config), "--cache-dir", str(cache), "get", "dc"],
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 1 and 'the server doesn\'t have a resource type "dc"' in out.stderr


def test_events_k8s_io_view_has_null_event_time(v1: k8s.CoreV1Api) -> None:
    doc = raw_get(v1, "/apis/events.k8s.io/v1/namespaces/shop/events")
    first = doc["items"][0]
    assert doc["kind"] == "EventList" and doc["apiVersion"] == "events.k8s.io/v1"
    assert first["eventTime"] is None and first["regarding"]["name"] == "db-0" and first["note"] == "Failed to pull image"
    assert first["deprecatedSource"] == {"component": "kubelet"}


def test_watch_streams_changes(v1: k8s.CoreV1Api, api: FakeKube) -> None:
    rv = v1.list_namespaced_service_account("shop").metadata.resource_version

    def change() -> None:
        time.sleep(0.2)
        api.add(service_account("late", "shop"))

    threading.Thread(target=change, daemon=True).start()
    seen = []
    for event in k8s_watch.Watch().stream(v1.list_namespaced_service_account, "shop", resource_version=rv,
                                          timeout_seconds=2):
        seen.append((event["type"], event["object"].metadata.name))
        break
    assert seen == [("ADDED", "late")]


# -- CLI ------------------------------------------------------------------------------------------------

@needs_kubectl
def test_cli_serves_a_loaded_file(tmp_path: Path) -> None:
    objects = tmp_path / "objects.json"
    objects.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": [
        ns("shop"), pod("web-1", "shop"), pod("web-2", "shop"), secret("regcred", "shop")]}))
    config = tmp_path / "kubeconfig"
    proc = subprocess.Popen([sys.executable, "-m", "tests.fakekube", "--load", str(objects), "--kubeconfig", str(config)],
                            cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("ready https://127.0.0.1:"), line
        url = line.split()[1]
        out = subprocess.run([KUBECTL, "--kubeconfig", str(config), "--cache-dir", str(tmp_path / "c"), "get", "pods",
                              "-A", "-o", "json"], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        assert names(json.loads(out.stdout)["items"]) == ["web-1", "web-2"]
        host, port = url.removeprefix("https://").split(":")
        ctx = ssl.create_default_context(cafile=str(_ca_from(config)))
        with socket.create_connection((host, int(port)), timeout=5) as sock, \
                ctx.wrap_socket(sock, server_hostname=host) as tls:
            tls.sendall(b"GET /fakekube/requests HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            answer = b""
            while chunk := tls.recv(65536):
                answer += chunk
        summary = json.loads(answer.split(b"\r\n\r\n", 1)[1])
        assert summary["requests"]["GET /api/v1/pods"] == 1
    finally:
        assert proc.stdin is not None
        proc.stdin.close()  # closing stdin stops the server
        proc.wait(timeout=20)
    assert proc.stderr is not None
    err = proc.stderr.read()
    proc.stderr.close()
    proc.stdout.close()
    assert proc.returncode == 0
    final = json.loads(err.strip().splitlines()[-1])
    assert final["count"] >= 2 and final["requests"]["GET /api/v1/pods"] == 1


def _ca_from(config: Path) -> Path:
    doc = yaml.safe_load(config.read_text())
    ca = config.with_suffix(".ca")
    ca.write_bytes(base64.b64decode(doc["clusters"][0]["cluster"]["certificate-authority-data"]))
    return ca
