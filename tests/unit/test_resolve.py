"""kubectl_pullsecret.resolve: subjects, owners, secret states, scope selection, node
credentials, and the order in which the kubelet tries credentials.

Rules from ../shared/DOMAIN.md §2 (kubelet keyring, ServiceAccount admission) and §6
(OpenShift global pull secret as the node keyring).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from helpers_k8s import (
    NS,
    Obj,
    auth,
    b64,
    deployment_with_pods,
    dockercfg_secret,
    pod,
    pull_secret,
    raw_secret,
    run_doctor,
    sa,
    secret,
    snapshot,
    workload,
)

from kubectl_pullsecret.errors import UsageError
from kubectl_pullsecret.findings import ObjectRef
from kubectl_pullsecret.resolve import (
    Container,
    Resolver,
    Target,
    make_subject,
    node_credentials,
    read_secret,
    resolve_all,
    select,
    top_owner,
)
from kubectl_pullsecret.snapshot import Snapshot

QUAY = "quay.io/acme/web:1.2"


def ref(kind: str, name: str, ns: str | None = NS) -> ObjectRef:
    return ObjectRef(kind, ns, name)


def owned(obj: Obj, kind: str, name: str, controller: bool = True) -> Obj:
    obj["metadata"]["ownerReferences"] = [{"apiVersion": "v1", "kind": kind, "name": name, "controller": controller}]
    return obj


# --- make_subject ------------------------------------------------------------------

def test_containers_include_init_containers_first() -> None:
    obj = pod(image=[QUAY, "ghcr.io/acme/side:2"], init=["busybox:1.36"])
    obj["spec"]["containers"].append({"image": "nameless:1"})
    obj["spec"]["containers"].append({"name": "noimage"})
    s = make_subject(snapshot([obj]), "Pod", obj)
    assert s.containers == (
        Container("init0", "busybox:1.36", True),
        Container("web", QUAY, False),
        Container("c1", "ghcr.io/acme/side:2", False),
        Container("#2", "nameless:1", False),
        Container("noimage", "", False),
    )


@pytest.mark.parametrize(("spec", "expected"), [
    pytest.param({"serviceAccountName": "builder", "serviceAccount": "old"}, "builder", id="serviceAccountName-wins"),
    pytest.param({"serviceAccount": "legacy"}, "legacy", id="deprecated-serviceAccount"),
    pytest.param({}, "default", id="default"),
    pytest.param({"serviceAccountName": ""}, "default", id="empty-name"),
])
def test_service_account_name_fallback(spec: dict[str, str], expected: str) -> None:
    obj = pod()
    obj["spec"].update(spec)
    assert make_subject(snapshot([obj]), "Pod", obj).sa_name == expected


def test_cronjob_reads_the_job_template() -> None:
    cj = workload("CronJob", "nightly", "quay.io/acme/batch:3", pull=["vendor"], sa_name="batch")
    s = make_subject(snapshot([cj]), "CronJob", cj)
    assert (s.ref, s.sa_name, s.own_pull_secrets) == (ref("CronJob", "nightly"), "batch", ("vendor",))
    assert s.containers == (Container("web", "quay.io/acme/batch:3"),)
    assert (s.created, s.owner) == (False, None)


# ServiceAccount admission (DOMAIN.md §2): a pod that lists no pull secrets gets the
# SA's, once, at creation; an existing pod keeps exactly what it has.
ADMISSION = [
    pytest.param("Deployment", workload("Deployment", "web"), ("regcred", "other"), True, False, id="template-inherits"),
    pytest.param("Deployment", workload("Deployment", "web", pull=["own"]), ("own",), False, False, id="template-own"),
    pytest.param("Deployment", workload("Deployment", "web", pull=[]), ("regcred", "other"), True, False,
                 id="template-empty-list-inherits"),
    pytest.param("Pod", pod(), (), False, True, id="created-pod-without"),
    pytest.param("Pod", pod(pull=["own"]), ("own",), False, True, id="created-pod-own"),
    pytest.param("Pod", pod(created=None, uid="0d1f"), (), False, True, id="created-pod-by-uid"),
    pytest.param("Pod", pod(created=None), ("regcred", "other"), True, False, id="pod-manifest-not-created"),
    pytest.param("Pod", pod(created=None, pull=["own"]), ("own",), False, False, id="pod-manifest-own"),
    pytest.param("Deployment", workload("Deployment", "web", sa_name="nosuchsa"), (), False, False,
                 id="template-sa-absent"),
]


@pytest.mark.parametrize(("kind", "obj", "pulls", "from_sa", "created"), ADMISSION)
def test_admission_simulation(kind: str, obj: Obj, pulls: tuple[str, ...], from_sa: bool, created: bool) -> None:
    snap = snapshot([sa(pull=["regcred", "other"]), obj])
    s = make_subject(snap, kind, obj)
    assert (s.pull_secrets, s.pull_secrets_from_sa, s.created) == (pulls, from_sa, created)
    assert s.own_pull_secrets == tuple(r["name"] for r in s.spec.get("imagePullSecrets") or [])


def test_only_pods_get_an_owner() -> None:
    objs = deployment_with_pods("web", 1)
    snap = snapshot(objs)
    assert make_subject(snap, "Pod", objs[2]).owner == ref("Deployment", "web")
    assert make_subject(snap, "ReplicaSet", objs[1]).owner is None


# --- top_owner ---------------------------------------------------------------------

def _top(objs: list[Obj], index: int = -1) -> ObjectRef | None:
    obj = objs[index]
    return top_owner(snapshot(objs), obj["kind"], NS, obj)


TOP_OWNER = [
    pytest.param(deployment_with_pods("web", 1), ref("Deployment", "web"), id="pod-rs-deployment"),
    pytest.param(deployment_with_pods("web", 1, with_rs=False), ref("Deployment", "web"), id="rs-absent-pod-template-hash"),
    pytest.param(deployment_with_pods("web", 1)[1:], ref("Deployment", "web"), id="deployment-absent"),
    pytest.param([owned(pod(labels={"pod-template-hash": "abc12"}), "ReplicaSet", "web-abc12")],
                 ref("Deployment", "web"), id="only-the-pod"),
    pytest.param([owned(pod(), "ReplicaSet", "web-abc12")], ref("ReplicaSet", "web-abc12"), id="rs-absent-no-hash-label"),
    pytest.param([owned(pod(labels={"pod-template-hash": "zzz99"}), "ReplicaSet", "web-abc12")],
                 ref("ReplicaSet", "web-abc12"), id="rs-absent-hash-not-suffix"),
    pytest.param([workload("CronJob", "nightly"), workload("Job", "nightly-2890", owner=("CronJob", "nightly")),
                  owned(pod("nightly-2890-x"), "Job", "nightly-2890")], ref("CronJob", "nightly"), id="pod-job-cronjob"),
    pytest.param([workload("CronJob", "nightly"), workload("Job", "nightly-2890", owner=("CronJob", "nightly"))],
                 ref("CronJob", "nightly"), id="job-cronjob"),
    pytest.param([workload("Job", "once"), owned(pod("once-x"), "Job", "once")], ref("Job", "once"), id="pod-bare-job"),
    pytest.param([workload("DeploymentConfig", "gw"), workload("ReplicationController", "gw-1", owner=("DeploymentConfig", "gw")),
                  owned(pod("gw-1-x"), "ReplicationController", "gw-1")], ref("DeploymentConfig", "gw"), id="dc"),
    pytest.param([pod()], None, id="bare-pod"),
    pytest.param([owned(pod(), "ReplicaSet", "web-abc12", controller=False)], None, id="not-a-controller-reference"),
]


@pytest.mark.parametrize(("objs", "expected"), TOP_OWNER)
def test_top_owner(objs: list[Obj], expected: ObjectRef | None) -> None:
    assert _top(objs) == expected


def test_top_owner_survives_an_ownership_cycle() -> None:
    objs = [workload("ReplicaSet", "loop", owner=("ReplicaSet", "loop")), owned(pod(), "ReplicaSet", "loop")]
    assert _top(objs) == ref("ReplicaSet", "loop")


# --- read_secret -------------------------------------------------------------------

GOOD_DCJ = pull_secret("reg", {"quay.io": auth()})
FILLER = pull_secret("filler", {})

READ_SECRET = [
    pytest.param([GOOD_DCJ], "ok", ".dockerconfigjson", "", id="ok-dockerconfigjson"),
    pytest.param([dockercfg_secret("reg", {"quay.io": auth()})], "ok", ".dockercfg", "", id="ok-dockercfg"),
    pytest.param([secret("reg", type="kubernetes.io/dockerconfigjson", data={}) | {
        "stringData": {".dockerconfigjson": json.dumps({"auths": {"quay.io": auth()}})}}], "ok", ".dockerconfigjson", "",
                 id="ok-stringData"),
    pytest.param([FILLER], "missing", None, "", id="missing"),
    pytest.param([pull_secret("reg", {}, ns="elsewhere")], "absent-from-input", None, "", id="absent-from-input"),
    pytest.param([secret("reg", type="Opaque", data={".dockerconfigjson": GOOD_DCJ["data"][".dockerconfigjson"]})],
                 "wrong-type", None, "is of type Opaque", id="wrong-type-opaque"),
    pytest.param([secret("reg", type="kubernetes.io/basic-auth", data={"username": b64("u")})], "wrong-type", None,
                 "is of type kubernetes.io/basic-auth", id="wrong-type-basic-auth"),
    pytest.param([secret("reg", data={".dockercfg": b64("{}")})], "wrong-type", ".dockerconfigjson",
                 "its data key is .dockercfg", id="wrong-type-key-disagrees"),
    pytest.param([secret("reg", data={"config.json": b64("{}")})], "wrong-type", ".dockerconfigjson",
                 "has no .dockerconfigjson key", id="wrong-type-other-key"),
    pytest.param([raw_secret("reg", ".dockerconfigjson", json.dumps({"quay.io": auth()}))], "wrong-type",
                 ".dockerconfigjson", "has no `auths` object", id="wrong-type-no-auths"),
    pytest.param([pull_secret("reg", {"quay.io": {"auth": b64("nocolon")}})], "malformed", ".dockerconfigjson",
                 '"quay.io": `auth` must be base64 of username:password', id="malformed-auth"),
    pytest.param([raw_secret("reg", ".dockercfg", "{not json", type="kubernetes.io/dockercfg")], "malformed", ".dockercfg",
                 "not valid JSON", id="malformed-json"),
    pytest.param([secret("reg", no_data=True)], "unavailable", ".dockerconfigjson", "has no data in the input",
                 id="unavailable-no-data"),
    pytest.param([secret("reg", data={".dockerconfigjson": ""})], "unavailable", ".dockerconfigjson",
                 "absent, empty or redacted", id="unavailable-empty"),
    pytest.param([secret("reg", data={".dockerconfigjson": "<redacted>"})], "unavailable", ".dockerconfigjson",
                 "absent, empty or redacted", id="unavailable-redacted"),
]


@pytest.mark.parametrize(("objs", "status", "data_key", "problem"), READ_SECRET)
def test_read_secret(objs: list[Obj], status: str, data_key: str | None, problem: str) -> None:
    state = read_secret(snapshot(objs), NS, "reg")
    assert (state.status, state.data_key) == (status, data_key)
    assert problem in state.problem
    assert state.usable is (status == "ok")
    assert state.source_name == f"secret/{NS}/reg"
    if status == "ok":
        assert state.config is not None and [e.key for e in state.config.entries] == ["quay.io"]


def _online(*objs: Obj) -> Snapshot:
    return Snapshot(objects={"Secret": tuple(objs)}, offline=False, covered=frozenset({("Secret", NS)}))


@pytest.mark.parametrize(("obj", "problem"), [
    # Live, the data is what the kubelet sees: an empty value or no key is ignored, not unknown.
    pytest.param(secret("reg", data={".dockerconfigjson": ""}), "has an empty .dockerconfigjson value", id="empty-value"),
    pytest.param(secret("reg", no_data=True), "but has no .dockerconfigjson key", id="no-data"),
])
def test_read_secret_live_empty_is_ignored_not_unavailable(obj: Obj, problem: str) -> None:
    state = read_secret(_online(obj), NS, "reg")
    assert state.status == "wrong-type"
    assert problem in state.problem


def test_read_secret_live_absent_is_missing() -> None:
    assert read_secret(_online(), NS, "reg").status == "missing"


# --- pull_secrets_from_sa ----------------------------------------------------------

INJECTED = [
    pytest.param([workload("Deployment", "web")], 0, True, id="template-from-sa"),
    pytest.param([workload("Deployment", "web", pull=["regcred"])], 0, False, id="template-own"),
    pytest.param([pod()], 0, False, id="created-pod-none"),
    pytest.param(deployment_with_pods("web", 1, pod_pull=["regcred"]), 2, True, id="owner-template-lists-none"),
    pytest.param(deployment_with_pods("web", 1, pull=["regcred"]), 2, False, id="owner-template-lists-them"),
    pytest.param([pod(pull=["regcred"])], 0, True, id="no-owner-subset-of-sa"),
    pytest.param([pod(pull=["regcred", "vendor"])], 0, False, id="no-owner-not-subset"),
]


@pytest.mark.parametrize(("objs", "index", "expected"), INJECTED)
def test_pull_secrets_injected(objs: list[Obj], index: int, expected: bool) -> None:
    snap = snapshot([sa(pull=["regcred"]), *objs])
    obj = objs[index]
    assert make_subject(snap, obj["kind"], obj).pull_secrets_from_sa is expected


# --- select ------------------------------------------------------------------------

def _world() -> list[Obj]:
    return [
        sa(), sa("builder", pull=["regcred"]), pull_secret("regcred", {}),
        *deployment_with_pods("web", 2),                                              # covered by its pods
        workload("Deployment", "api", labels={"tier": "api"}),                       # no pods: by template
        workload("Deployment", "batch"),
        workload("ReplicaSet", "batch-6c5d4", owner=("Deployment", "batch")),       # child: through its owner
        workload("ReplicaSet", "lonely"),                                            # no owner: itself
        workload("CronJob", "nightly"),
        workload("Job", "nightly-2890", owner=("CronJob", "nightly")),
        workload("StatefulSet", "db"),
        pod("other-ns", ns="elsewhere"),
    ]


def _refs(scope: Any) -> list[tuple[str, str | None, str | None]]:
    return [(s.ref.namespace, s.ref.kind, s.ref.name) for s in scope.subjects]


def test_select_without_targets() -> None:
    scope = select(snapshot(_world()), [], None, None)
    assert _refs(scope) == [
        ("elsewhere", "Pod", "other-ns"),
        (NS, "CronJob", "nightly"),
        (NS, "Deployment", "api"),
        (NS, "Deployment", "batch"),
        (NS, "Pod", "web-5d8f7c9b4-p0"),
        (NS, "Pod", "web-5d8f7c9b4-p1"),
        (NS, "ReplicaSet", "lonely"),
        (NS, "StatefulSet", "db"),
    ]
    assert scope.service_accounts == (("elsewhere", "default"), (NS, "default"))
    assert scope.secrets == ()


def test_select_namespace_filter() -> None:
    scope = select(snapshot(_world()), [], ["elsewhere"], None)
    assert _refs(scope) == [("elsewhere", "Pod", "other-ns")]


@pytest.mark.parametrize(("selector", "expected"), [
    pytest.param("app=web", [(NS, "Pod", "web-5d8f7c9b4-p0"), (NS, "Pod", "web-5d8f7c9b4-p1")], id="pods"),
    pytest.param("tier=api", [(NS, "Deployment", "api")], id="workload-labels"),
    pytest.param("tier in (api,db),!app", [(NS, "Deployment", "api")], id="set-and-absence"),
    pytest.param("app=none", [], id="nothing"),
])
def test_select_label_selector(selector: str, expected: list[tuple[str, str, str]]) -> None:
    assert _refs(select(snapshot(_world()), [], [NS], selector)) == expected


def test_select_targets() -> None:
    snap = snapshot(_world())
    scope = select(snap, [Target.parse("deploy/web"), Target.parse("po/web-5d8f7c9b4-p1"), Target.parse("sa/builder"),
                          Target.parse("secret/regcred")], [NS], None)
    assert _refs(scope) == [(NS, "Deployment", "web"), (NS, "Pod", "web-5d8f7c9b4-p1")]
    assert scope.service_accounts == ((NS, "builder"), (NS, "default"))
    assert scope.secrets == ((NS, "regcred"),)


def test_select_secret_target_needs_the_secret() -> None:
    with pytest.raises(UsageError, match=f"secret/vendor not found in namespace {NS}"):
        select(snapshot(_world()), [Target("Secret", "vendor")], [NS], None)


@pytest.mark.parametrize(("target", "namespaces", "where"), [
    pytest.param("deployment/nope", [NS], f"namespace {NS}", id="one-namespace"),
    pytest.param("sa/nope", None, "the input", id="all-namespaces"),
    pytest.param("pod/other-ns", [NS], f"namespace {NS}", id="other-namespace"),
])
def test_select_target_not_found(target: str, namespaces: list[str] | None, where: str) -> None:
    kind_name = Target.parse(target)
    with pytest.raises(UsageError, match=f"{kind_name.kind.lower()}/{kind_name.name} not found in {where}"):
        select(snapshot(_world()), [kind_name], namespaces, None)


def test_select_target_in_every_namespace_of_the_input() -> None:
    objs = [pod("same"), pod("same", ns="elsewhere")]
    scope = select(snapshot(objs), [Target.parse("pod/same")], None, None)
    assert _refs(scope) == [("elsewhere", "Pod", "same"), (NS, "Pod", "same")]


@pytest.mark.parametrize(("image_sa", "pulls", "sas"), [
    pytest.param("builder", ("regcred",), ((NS, "builder"),), id="sa-with-secrets"),
    pytest.param("default", (), ((NS, "default"),), id="default-sa"),
    pytest.param("ghost", (), (), id="sa-not-in-input"),
])
def test_select_image_subject(image_sa: str, pulls: tuple[str, ...], sas: tuple[tuple[str, str], ...]) -> None:
    scope = select(snapshot(_world()), [], [NS], None, images=["quay.io/acme/tool:1"], image_sa=image_sa)
    [s] = scope.subjects
    assert s.ref == ObjectRef("Image", NS, "quay.io/acme/tool:1")
    assert s.containers == (Container("", "quay.io/acme/tool:1"),)
    assert (s.sa_name, s.pull_secrets, s.pull_secrets_from_sa, s.created) == (image_sa, pulls, bool(pulls), False)
    assert scope.service_accounts == sas


# --- node_credentials --------------------------------------------------------------

GLOBAL = pull_secret("pull-secret", {"cloud.openshift.com": auth("c"), "quay.io": auth("g")}, ns="openshift-config")


@pytest.mark.parametrize(("data", "fmt"), [
    pytest.param({"auths": {"quay.io": auth("f")}}, "dockerconfigjson", id="config.json"),
    pytest.param({"quay.io": auth("f")}, "dockercfg", id="dockercfg"),
    pytest.param({"auths": {"quay.io": auth("f")}, "credHelpers": {"gcr.io": "gcloud"}}, "dockerconfigjson",
                 id="config.json-with-helpers"),
])
def test_node_credentials_from_authfile(data: dict[str, Any], fmt: str) -> None:
    node = node_credentials(snapshot([GLOBAL]), ("/etc/kubelet/config.json", json.dumps(data).encode()))
    assert node.origin == "file:/etc/kubelet/config.json"
    [src] = node.sources
    assert (src.name, src.node, src.config.format) == ("file:/etc/kubelet/config.json", True, fmt)
    assert [(e.key, e.username) for e in src.config.entries] == [("quay.io", "f")]
    assert node.problem is None


def test_node_credentials_global_pull_secret() -> None:
    node = node_credentials(snapshot([GLOBAL]), None)
    assert node.origin == "global"
    [src] = node.sources
    assert (src.name, src.node) == ("global", True)
    assert [e.key for e in src.config.entries] == ["cloud.openshift.com", "quay.io"]


def test_node_credentials_none() -> None:
    node = node_credentials(snapshot([GOOD_DCJ]), None)
    assert (node.sources, node.origin, node.problem) == ((), None, None)


@pytest.mark.parametrize(("authfile", "problem"), [
    pytest.param(b'{"auths": {"quay.io": {"auth": "' + b64("nocolon-secret-value").encode() + b'"}}}',
                 '"quay.io": `auth` must be base64 of username:password', id="auth-without-colon"),
    pytest.param(b'{"auths": {"quay.io": ', "not valid JSON", id="truncated"),
    pytest.param(b'{"auths": ["quay.io"]}', "`auths` must be an object", id="auths-not-object"),
])
def test_node_credentials_malformed_authfile(authfile: bytes, problem: str) -> None:
    node = node_credentials(snapshot([]), ("/tmp/bad.json", authfile))
    assert node.sources == ()
    assert node.origin == "file:/tmp/bad.json"
    assert node.problem is not None and problem in node.problem
    assert "nocolon-secret-value" not in node.problem and b64("nocolon-secret-value") not in node.problem


def test_node_credentials_malformed_global_pull_secret() -> None:
    bad = pull_secret("pull-secret", {"quay.io": {"auth": "%%%"}}, ns="openshift-config")
    node = node_credentials(snapshot([bad]), None)
    assert (node.sources, node.origin) == ((), "global")
    assert node.problem is not None and "`auth` is not valid base64" in node.problem


# --- credential order --------------------------------------------------------------

def fp(user: str, password: str = "s3cret-pass") -> str:
    return hashlib.sha256(f"{user}:{password}".encode()).hexdigest()[:8]


def _creds(tmp_path: Path, objs: list[Obj], image: str, authfile: dict[str, Any] | None = None) -> list[tuple[str, str, str]]:
    options: dict[str, Any] = {}
    if authfile is not None:
        path = tmp_path / "config.json"
        path.write_text(json.dumps(authfile))
        options["authfile"] = str(path)
    report = run_doctor(tmp_path, objs, **options)
    [entry] = [i for i in report.images if i.image == image]
    for c in entry.credentials:
        assert c["fingerprint"] == fp(c["username"])
        assert set(c) == {"source", "key", "username", "fingerprint"}
    return [(c["source"].replace(str(tmp_path), "TMP"), c["key"], c["username"]) for c in entry.credentials]


def test_credential_order_pod_secrets_reverse_lexicographic_then_node(tmp_path: Path) -> None:
    objs = [sa(),
            pull_secret("a", {"quay.io": auth("a-host"), "ghcr.io": auth("a-gh")}),
            pull_secret("b", {"quay.io/acme": auth("b-ns"), "*.io": auth("b-wild")}),
            pull_secret("c", {"https://quay.io/v2/acme/web": auth("c-repo")}),
            pull_secret("d", {"https://quay.io": auth("d-host")}),
            pod(pull=["a", "b", "c", "d"])]
    got = _creds(tmp_path, objs, QUAY, authfile={"auths": {"quay.io": auth("node"), "quay.io/zzz": auth("node-zzz")}})
    assert got == [
        (f"secret/{NS}/c", "https://quay.io/v2/acme/web", "c-repo"),  # quay.io/acme/web
        (f"secret/{NS}/b", "quay.io/acme", "b-ns"),                  # quay.io/acme
        (f"secret/{NS}/a", "quay.io", "a-host"),                     # quay.io, in pull-secret order
        (f"secret/{NS}/d", "https://quay.io", "d-host"),
        (f"secret/{NS}/b", "*.io", "b-wild"),                        # '*' sorts below letters
        ("file:TMP/config.json", "quay.io", "node"),
    ]


def test_credential_order_follows_pull_secret_order_for_equal_keys(tmp_path: Path) -> None:
    objs = [sa(), pull_secret("a", {"quay.io": auth("a")}), pull_secret("d", {"https://quay.io/": auth("d")}),
            pod(pull=["d", "a"])]
    assert [u for _, _, u in _creds(tmp_path, objs, QUAY)] == ["d", "a"]


def test_global_pull_secret_is_the_node_keyring(tmp_path: Path) -> None:
    objs = [sa(), GLOBAL, pull_secret("a", {"quay.io": auth("a")}), pod(pull=["a"])]
    assert _creds(tmp_path, objs, QUAY) == [(f"secret/{NS}/a", "quay.io", "a"), ("global", "quay.io", "g")]


@pytest.mark.parametrize(("pod_auths", "node_auths", "expected"), [
    # Fallback to index.docker.io inside the pod keyring; the node keyring matches on its own.
    pytest.param({"https://index.docker.io/v1/": auth("p-index")}, {"docker.io": auth("n-docker")},
                 [("secret", "https://index.docker.io/v1/", "p-index"), ("file", "docker.io", "n-docker")],
                 id="pod-fallback-node-direct"),
    # A direct match in the pod keyring suppresses its own fallback, not the node's.
    pytest.param({"docker.io": auth("p-docker"), "index.docker.io": auth("p-index")}, {"index.docker.io": auth("n-index")},
                 [("secret", "docker.io", "p-docker"), ("file", "index.docker.io", "n-index")], id="pod-direct-node-fallback"),
    pytest.param({"quay.io": auth("p-quay")}, {"https://index.docker.io/v1/": auth("n-index")},
                 [("file", "https://index.docker.io/v1/", "n-index")], id="node-fallback-only"),
    pytest.param({"registry-1.docker.io": auth("p-r1")}, {}, [], id="registry-1-never-matches"),
])
def test_credential_order_docker_hub_fallback(tmp_path: Path, pod_auths: dict[str, Any], node_auths: dict[str, Any],
                                              expected: list[tuple[str, str, str]]) -> None:
    objs = [sa(), pull_secret("p", pod_auths), pod(image="nginx", pull=["p"])]
    got = _creds(tmp_path, objs, "nginx", authfile={"auths": node_auths})
    assert [(s.split("/", 1)[0].split(":", 1)[0], k, u) for s, k, u in got] == expected


def test_images_are_grouped_by_credentials(tmp_path: Path) -> None:
    objs = [sa(), pull_secret("a", {"quay.io": auth("a")}), pull_secret("b", {"quay.io": auth("b")}),
            pod("p1", pull=["a"]), pod("p2", pull=["a"]), pod("p3", pull=["b"])]
    report = run_doctor(tmp_path, objs)
    groups = [([u["name"] for u in i.used_by], [c["username"] for c in i.credentials]) for i in report.images]
    assert sorted(groups) == [(["p1", "p2"], ["a"]), (["p3"], ["b"])]
    assert all(i.reference == {"registry": "quay.io", "repository": "acme/web", "tag": "1.2", "digest": None}
               for i in report.images)


def test_resolver_keyring_error_empties_every_container() -> None:
    objs = [sa(), pull_secret("good", {"quay.io": auth()}), pull_secret("bad", {"x.io": {"auth": "!!"}}),
            pod(image=[QUAY, "nginx"], pull=["good", "bad"])]
    snap = snapshot(objs)
    resolver = Resolver(snap, node_credentials(snap, None))
    res = resolve_all(resolver, select(snap, [], None, None).subjects)
    assert [(r.container.name, r.keyring_error, r.credentials) for r in res] == [("web", True, ()), ("c1", True, ())]
    assert [s.status for s in res[0].secrets] == ["ok", "malformed"]
    assert [s.name for s in res[0].pod_sources] == [f"secret/{NS}/good"]


def test_resolver_reference_error() -> None:
    obj = pod(image="quay.io/Acme/web")
    snap = snapshot([obj])
    [res] = Resolver(snap, node_credentials(snap, None)).resolve(make_subject(snap, "Pod", obj))
    assert res.reference is None
    assert res.reference_error is not None and "must be lowercase" in res.reference_error
