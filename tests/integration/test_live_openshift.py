"""The OpenShift checks against a live (fake) OpenShift cluster: SubjectAccessReviews, the
cluster-scoped configuration (ClusterVersion, ClusterOperator, image.config, MachineConfigPools,
mirror sets), the global pull secret as the nodes' credentials, and what a plain Kubernetes
cluster is spared.

These tests run doctor many times against changing cluster state, so they run it in-process
(`doctor_in_process`); test_live_parity.py runs the same OpenShift reads as a subprocess."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from tests.fakekube import FakeKube, role_binding, service_account
from tests.integration.live_helpers import (
    DOCKERCFG,
    INTERNAL,
    OPENSHIFT_PATH_MARKERS,
    SAR_PATH,
    Obj,
    Run,
    auth,
    b64,
    cluster_version,
    doctor,
    doctor_in_process,
    event,
    fake_kube,
    global_pull_secret,
    image_config,
    image_pullers,
    machine_config_pool,
    mirror_set,
    namespace,
    pod,
    pull_secret,
    registry_operator,
)
from tests.integration.live_helpers import (
    service_account as sa_obj,
)

DIGEST = "sha256:" + "3f" * 32
OPENSHIFT_CHECKS = ("sa-not-provisioned", "internal-registry-disabled", "cross-project-pull-denied",
                    "global-pull-secret-invalid", "global-pull-secret-telemetry-missing",
                    "global-pull-secret-rollout-pending", "mirror-credential-missing", "registry-blocked")


def dockercfg_secret(sa: str, ns: str, *, filled: bool = True, bound: bool = True, suffix: str = "x7k2p") -> Obj:
    """`<sa>-dockercfg-<5>` as openshift-controller-manager makes it (4.16+: bound token)."""
    annotations = {"openshift.io/internal-registry-auth-token.service-account": sa,
                   "kubernetes.io/service-account.name": sa}
    if bound:
        annotations["openshift.io/internal-registry-auth-token.binding"] = "bound"
    content = {INTERNAL: auth("<token>", f"jwt-of-{ns}-{sa}")} if filled else {}
    return {"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": f"{sa}-dockercfg-{suffix}", "namespace": ns, "annotations": annotations},
            "type": DOCKERCFG, "data": {".dockercfg": b64(json.dumps(content))}}


def provisioned_sa(name: str, ns: str, suffix: str = "x7k2p") -> list[Obj]:
    secret = f"{name}-dockercfg-{suffix}"
    return [sa_obj(name, ns, pull=[secret], mount=[secret],
                   annotations={"openshift.io/internal-registry-pull-secret-ref": secret}),
            dockercfg_secret(name, ns, suffix=suffix)]


def base_cluster(namespaces: Sequence[str] = ("a", "b"), *, gps: Obj | None = None, pullers: bool = True) -> list[Obj]:
    """A healthy OpenShift 4.18: provisioned default SAs, system:image-pullers bindings, the global
    pull secret, ImageRegistry enabled, pools rolled out."""
    objs: list[Obj] = []
    for ns in namespaces:
        objs += [namespace(ns), *provisioned_sa("default", ns)]
        if pullers:
            objs.append(image_pullers(ns))
    objs += [gps if gps is not None else global_pull_secret(), cluster_version(), registry_operator(removed=False),
             image_config(),
             machine_config_pool("master", rendered="rendered-master-1", at="rendered-master-1"),
             machine_config_pool("worker", rendered="rendered-worker-1", at="rendered-worker-1")]
    return objs


@pytest.fixture
def ocp() -> Iterator[FakeKube]:
    with fake_kube(openshift=True) as api:
        api.add_standard_roles()
        yield api


def run(api: FakeKube, tmp_path: Path, *args: str) -> Run:
    kc = tmp_path / "kubeconfig"
    if not kc.exists():
        api.kubeconfig(kc)
    result = doctor_in_process(*args, "--no-probe", "-o", "json", kubeconfig=kc)
    assert result.code in (0, 1), result
    assert result.report["cluster"]["openshift"] is True
    return result


def replace(api: FakeKube, obj: Obj) -> None:
    meta = obj["metadata"]
    api.remove(obj["kind"], meta.get("namespace"), meta["name"])
    api.add(obj)


def names(found: list[Obj]) -> set[str]:
    return {f["object"]["name"] for f in found}


# --- cross-project pulls (SubjectAccessReview) -----------------------------------------------------------------

def test_cross_project_pull_asks_one_review_per_service_account_and_project(ocp: FakeKube, tmp_path: Path) -> None:
    other = f"{INTERNAL}/b/app:1"
    ocp.add_all(base_cluster(pullers=False))
    ocp.add(image_pullers("a"))  # a's own images are pullable; b grants nothing to a
    ocp.add_all(provisioned_sa("builder", "a", suffix="q9z8w"))
    ocp.add_all([pod(f"web-{i}", "a", other) for i in range(4)])
    ocp.add_all([pod("build-0", "a", other, sa="builder"), pod("build-1", "a", f"{INTERNAL}/b/app:2", sa="builder"),
                 pod("own-0", "a", f"{INTERNAL}/a/own:1")])

    denied = run(ocp, tmp_path, "-n", "a")
    found = denied.of("cross-project-pull-denied")
    assert names(found) == {"web-0", "web-1", "web-2", "web-3", "build-0", "build-1"}
    for f in found:
        assert f["severity"] == "error" and f["object"]["kind"] == "Pod" and f["container"] == "app"
        assert "project b" in f["message"] and "imagestreams/layers" in f["message"]
        sa = "builder" if f["object"]["name"].startswith("build") else "default"
        assert f["fix"]["command"] == f"kubectl pullsecret fix grant --from-namespace a --sa {sa} -n b"
    sars = [r for r in ocp.requests if r.path == SAR_PATH]
    # (a, default, b), (a, builder, b), (a, default, a): one each, however many pods share them.
    assert len(sars) == 3 and {r.method for r in sars} == {"POST"}

    # Grant one service account: only the other's pods stay denied.
    ocp.add(role_binding("builder-pulls", "b", "system:image-puller", [service_account("builder", "a")]))
    ocp.clear_log()
    partly = run(ocp, tmp_path, "-n", "a")
    assert names(partly.of("cross-project-pull-denied")) == {"web-0", "web-1", "web-2", "web-3"}
    assert len([r for r in ocp.requests if r.path == SAR_PATH]) == 3

    # Grant every service account of a: no finding.
    ocp.add(role_binding("a-pulls", "b", "system:image-puller", [{"kind": "Group", "name": "system:serviceaccounts:a",
                                                                   "apiGroup": "rbac.authorization.k8s.io"}]))
    allowed = run(ocp, tmp_path, "-n", "a")
    assert allowed.of("cross-project-pull-denied") == []
    assert not allowed.of("permission-denied")


# --- internal registry state --------------------------------------------------------------------------------------

def test_internal_registry_disabled_by_capability_or_removed(ocp: FakeKube, tmp_path: Path) -> None:
    ocp.add_all(base_cluster())
    ocp.add_all([pod("web-0", "a", f"{INTERNAL}/a/web:1"), pod("ext-0", "a", "quay.io/acme/ext:1")])

    assert run(ocp, tmp_path, "-n", "a").of("internal-registry-disabled") == []

    # Known but not enabled: the capability is off.
    replace(ocp, cluster_version(enabled=["Build", "Console"], known=["Build", "Console", "ImageRegistry"]))
    off = run(ocp, tmp_path, "-n", "a").of("internal-registry-disabled")
    assert names(off) == {"web-0"}
    assert "ImageRegistry capability is disabled" in off[0]["message"]
    assert any("additionalEnabledCapabilities" in step for step in off[0]["fix"]["equivalent"])

    # Before 4.14 ImageRegistry was no capability: absent from both lists means installed.
    replace(ocp, cluster_version(enabled=["Build", "Console"], known=["Build", "Console"]))
    assert run(ocp, tmp_path, "-n", "a").of("internal-registry-disabled") == []

    # The operator reports Removed.
    replace(ocp, registry_operator(removed=True))
    removed = run(ocp, tmp_path, "-n", "a").of("internal-registry-disabled")
    assert names(removed) == {"web-0"}
    assert "Removed" in removed[0]["message"]
    assert any("managementState" in step for step in removed[0]["fix"]["equivalent"])


# --- the global pull secret ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("gps", "says"), [
    (None, "does not exist"),
    (global_pull_secret(raw='{"auths": {"quay.io": '), "does not decode"),
    (global_pull_secret(raw='{"quay.io": {"auth": "dTpw"}}'), "lacks auths"),
    (global_pull_secret({}), "empty `auths`"),
], ids=["missing", "malformed", "no-auths", "empty-auths"])
def test_global_pull_secret_invalid(ocp: FakeKube, tmp_path: Path, gps: Obj | None, says: str) -> None:
    objs = [o for o in base_cluster() if o["metadata"].get("namespace") != "openshift-config"]
    ocp.add_all(objs)
    if gps is not None:
        ocp.add(gps)
    ocp.add(pod("web-0", "a", "quay.io/acme/web:1"))
    result = run(ocp, tmp_path, "-n", "a")
    [found] = result.of("global-pull-secret-invalid")
    assert found["severity"] == "error"
    assert found["object"] == {"kind": "Secret", "namespace": "openshift-config", "name": "pull-secret"}
    assert says in found["message"], found["message"]
    assert result.of("global-pull-secret-telemetry-missing") == []  # not judged on an invalid secret
    # The named get was made, not a list of openshift-config's secrets.
    assert any(r.path == "/api/v1/namespaces/openshift-config/secrets/pull-secret" for r in ocp.requests)
    assert not any(r.path == "/api/v1/namespaces/openshift-config/secrets" for r in ocp.requests)


def test_global_pull_secret_without_telemetry_entry(ocp: FakeKube, tmp_path: Path) -> None:
    ocp.add_all(base_cluster(gps=global_pull_secret({"quay.io": auth("u", "p"), "registry.redhat.io": auth("v", "q")})))
    ocp.add(pod("web-0", "a", "quay.io/acme/web:1"))
    result = run(ocp, tmp_path, "-n", "a")
    [found] = result.of("global-pull-secret-telemetry-missing")
    assert found["severity"] == "info" and "cloud.openshift.com" in found["message"]
    assert result.of("global-pull-secret-invalid") == []
    # The default secret has the entry: silent.
    replace(ocp, global_pull_secret())
    assert run(ocp, tmp_path, "-n", "a").of("global-pull-secret-telemetry-missing") == []


def test_global_pull_secret_is_the_node_credential(ocp: FakeKube, tmp_path: Path) -> None:
    """An image on registry.redhat.io with no pod or SA secret for it: the nodes' credentials (the
    global pull secret) cover it, so no no-matching-credential; without that entry there is one."""
    image = "registry.redhat.io/ubi9/ubi:9.4"
    ocp.add_all(base_cluster())
    ocp.add(pod("ubi-0", "a", image))
    covered = run(ocp, tmp_path, "-n", "a")
    assert [f for f in covered.of("no-matching-credential") if f["object"]["name"] == "ubi-0"] == []
    [entry] = [i for i in covered.report["images"] if i["image"] == image]
    assert [(c["source"], c["key"], c["username"]) for c in entry["credentials"]] == [
        ("global", "registry.redhat.io", "user-registry.redhat.io")]

    replace(ocp, global_pull_secret({"cloud.openshift.com": auth("t", "t"), "quay.io": auth("u", "p")}))
    missing = run(ocp, tmp_path, "-n", "a")
    [found] = [f for f in missing.of("no-matching-credential") if f["object"]["name"] == "ubi-0"]
    assert "global (" in found["message"]  # searched the global pull secret too


# --- MachineConfigPool rollout -------------------------------------------------------------------------------

def test_rollout_pending(ocp: FakeKube, tmp_path: Path) -> None:
    ocp.add_all(base_cluster())
    ocp.add(pod("web-0", "a", "quay.io/acme/web:1"))
    assert run(ocp, tmp_path, "-n", "a").of("global-pull-secret-rollout-pending") == []
    replace(ocp, machine_config_pool("worker", rendered="rendered-worker-2", at="rendered-worker-1", updated=1))
    [found] = run(ocp, tmp_path, "-n", "a").of("global-pull-secret-rollout-pending")
    assert found["object"] == {"kind": "MachineConfigPool", "namespace": None, "name": "worker"}
    assert found["severity"] == "warning"
    assert "rendered-worker-2" in found["message"] and "1 of 3" in found["message"]


# --- mirrors ---------------------------------------------------------------------------------------------------

def test_mirror_credentials_by_pull_kind(ocp: FakeKube, tmp_path: Path) -> None:
    """IDMS and ICSP mirrors serve digest pulls, ITMS mirrors tag pulls; a mirror on another domain
    needs a credential in the global pull secret."""
    ocp.add_all(base_cluster())
    ocp.add_all([
        mirror_set("ImageDigestMirrorSet", "acme-digests", "quay.io/acme", ["mirror-d.corp.example/acme"]),
        mirror_set("ImageTagMirrorSet", "partner-tags", "registry.partner.example", ["mirror-t.corp.example/partner"]),
        mirror_set("ImageContentSourcePolicy", "legacy", "registry.legacy.example/team", ["mirror-i.corp.example/team"]),
        pod("idms-digest", "a", f"quay.io/acme/app@{DIGEST}"),
        pod("idms-tag", "a", "quay.io/acme/app:1"),
        pod("itms-tag", "a", "registry.partner.example/feeds/quotes:2"),
        pod("itms-digest", "a", f"registry.partner.example/feeds/quotes@{DIGEST}"),
        pod("icsp-digest", "a", f"registry.legacy.example/team/tool@{DIGEST}"),
        pod("icsp-tag", "a", "registry.legacy.example/team/tool:3"),
    ])
    found = run(ocp, tmp_path, "-n", "a").of("mirror-credential-missing")
    assert names(found) == {"idms-digest", "itms-tag", "icsp-digest"}
    by = {f["object"]["name"]: f for f in found}
    assert all(f["severity"] == "error" for f in found)
    assert "mirror-d.corp.example/acme/app" in by["idms-digest"]["message"]
    assert "ImageDigestMirrorSet/acme-digests" in by["idms-digest"]["message"]
    assert "ImageTagMirrorSet/partner-tags" in by["itms-tag"]["message"]
    assert "ImageContentSourcePolicy/legacy" in by["icsp-digest"]["message"]

    # Credentials for the mirrors in the global pull secret: silent.
    gps = global_pull_secret({"cloud.openshift.com": auth("t", "t"), "quay.io": auth("u", "p"),
                              "mirror-d.corp.example": auth("m", "d"), "mirror-t.corp.example": auth("m", "t"),
                              "mirror-i.corp.example": auth("m", "i")})
    replace(ocp, gps)
    assert run(ocp, tmp_path, "-n", "a").of("mirror-credential-missing") == []


# --- image.config registrySources -------------------------------------------------------------------------------

def test_registry_blocked_and_not_allowed(ocp: FakeKube, tmp_path: Path) -> None:
    ocp.add_all(base_cluster())
    ocp.add_all([pod("hub-0", "a", "docker.io/library/redis:7"), pod("quay-0", "a", "quay.io/acme/web:1"),
                 pod("ghcr-0", "a", "ghcr.io/acme/tool:1")])
    assert run(ocp, tmp_path, "-n", "a").of("registry-blocked") == []

    replace(ocp, image_config(blocked=["docker.io"]))
    [blocked] = run(ocp, tmp_path, "-n", "a").of("registry-blocked")
    assert blocked["object"]["name"] == "hub-0" and blocked["severity"] == "error"
    assert "blockedRegistries" in blocked["message"]

    replace(ocp, image_config(allowed=["quay.io", INTERNAL]))
    found = run(ocp, tmp_path, "-n", "a").of("registry-blocked")
    assert names(found) == {"hub-0", "ghcr-0"}
    assert all("allowedRegistries" in f["message"] for f in found)


# --- service account provisioning ----------------------------------------------------------------------------

def test_sa_not_provisioned_bound_token_style(ocp: FakeKube, tmp_path: Path) -> None:
    """4.16+: `<sa>-dockercfg-xxxxx` starts as `.dockercfg: {}` without the binding annotation."""
    ocp.add_all(base_cluster())
    pending = "worker-dockercfg-p4n9d"
    ocp.add_all([
        sa_obj("worker", "a", pull=[pending], mount=[pending],
               annotations={"openshift.io/internal-registry-pull-secret-ref": pending}),
        dockercfg_secret("worker", "a", filled=False, bound=False, suffix="p4n9d"),
        pod("worker-0", "a", f"{INTERNAL}/a/worker:1", sa="worker"),
        pod("web-0", "a", f"{INTERNAL}/a/web:1"),
    ])
    result = run(ocp, tmp_path, "-n", "a")
    [found] = result.of("sa-not-provisioned")
    assert found["object"] == {"kind": "ServiceAccount", "namespace": "a", "name": "worker"}
    assert found["severity"] == "error"
    assert pending in found["message"] and "not bound yet" in found["message"]


# --- the kubelet's own words ----------------------------------------------------------------------------------

def test_pull_error_observed_from_waiting_message_and_event(ocp: FakeKube, tmp_path: Path) -> None:
    ocp.add_all(base_cluster())
    ocp.add_all([
        pod("waiting-0", "a", "quay.io/acme/web:1",
            waiting=("ErrImagePull", "unauthorized: authentication required")),
        pod("evented-0", "a", "quay.io/acme/gone:9", waiting=("ImagePullBackOff", 'Back-off pulling image "x"')),
        event("evented-0.1", "a", "evented-0", "Failed",
              'Failed to pull image "quay.io/acme/gone:9": rpc error: code = NotFound desc = manifest unknown'),
        pod("fine-0", "a", "quay.io/acme/fine:1"),
    ])
    found = {f["object"]["name"]: f for f in run(ocp, tmp_path, "-n", "a").of("pull-error-observed")}
    assert set(found) == {"waiting-0", "evented-0"}
    assert found["waiting-0"]["container"] == "app" and "auth-required" in found["waiting-0"]["message"]
    # The event is more specific than the back-off message, and wins.
    assert "not-found" in found["evented-0"]["message"] and "manifest unknown" in found["evented-0"]["message"]
    assert any(r.path == "/api/v1/namespaces/a/events" for r in ocp.requests)


# --- plain Kubernetes --------------------------------------------------------------------------------------------

def test_not_openshift_makes_no_openshift_reads_and_stays_silent(tmp_path: Path) -> None:
    with fake_kube(openshift=False) as api:
        api.add_all([namespace("a"), sa_obj("default", "a"),
                     # An OpenShift-looking secret and a broken "global pull secret" in a plain cluster.
                     global_pull_secret(raw="not json"),
                     pull_secret("regcred", "a", {"quay.io": auth("u", "p")}),
                     pod("web-0", "a", f"{INTERNAL}/b/web:1", pull=["regcred"]),
                     pod("hub-0", "a", "docker.io/library/redis:7", pull=["regcred"])])
        kc = api.kubeconfig(tmp_path / "kubeconfig")
        result = doctor("-n", "a", "--no-probe", "-o", "json", kubeconfig=kc)
        paths = [r.path for r in api.requests]
    assert result.code in (0, 1), result
    assert result.report["cluster"]["openshift"] is False
    assert not [p for p in paths if any(m in p for m in OPENSHIFT_PATH_MARKERS)], paths
    assert not [r for r in api.requests if r.method != "GET"]
    assert not [f for f in result.findings if f["check"] in OPENSHIFT_CHECKS]
    assert not result.of("permission-denied")


def test_internal_registry_hosts_come_from_image_config(ocp: FakeKube, tmp_path: Path) -> None:
    """image.config status names the internal registry's host names (internal and routes): images on
    any of them are internal-registry pulls, asked about once per (service account, project)."""
    ocp.add_all([o for o in base_cluster(pullers=False) if o["kind"] != "Image"])
    ocp.add(image_pullers("a"))
    config = image_config()
    config["status"] = {"internalRegistryHostname": "registry.internal.example:5000",
                        "externalRegistryHostnames": ["default-route-openshift-image-registry.apps.example"]}
    ocp.add(config)
    ocp.add_all([pod("int-0", "a", "registry.internal.example:5000/b/app:1"),
                 pod("route-0", "a", "default-route-openshift-image-registry.apps.example/b/app:1"),
                 pod("elsewhere-0", "a", "registry.example/b/app:1")])
    result = run(ocp, tmp_path, "-n", "a")
    assert names(result.of("cross-project-pull-denied")) == {"int-0", "route-0"}
    assert len([r for r in ocp.requests if r.path == SAR_PATH]) == 1
