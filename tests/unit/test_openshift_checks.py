"""OpenShift cluster checks (checks/openshift.py) on inline snapshots.

Domain facts from ../shared/DOMAIN.md §3 (containers/image), §6 (OpenShift) and the
upstream sources named in the module: the image-registry operator's Removed
conditions, the Machine Config Operator's registries.conf/policy.json rendering,
containers/image mirror and policy-scope rules. Every check is also shown silent when
all is fine and when the cluster is not OpenShift.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
from collections.abc import Iterable, Sequence
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import pytest
from helpers_k8s import (
    INTERNAL,
    NS,
    Obj,
    auth,
    b64,
    cluster_version,
    openshift_namespace,
    pod,
    pull_secret,
    raw_secret,
    sa,
    secret,
    snapshot,
    workload,
)

from kubectl_pullsecret import checks, reference
from kubectl_pullsecret.checks import openshift
from kubectl_pullsecret.checks.base import Context, internal_registries
from kubectl_pullsecret.cli import main
from kubectl_pullsecret.findings import Finding, ObjectRef, Severity
from kubectl_pullsecret.resolve import Resolver, node_credentials, resolve_all, select
from kubectl_pullsecret.snapshot import Denied

DIGEST = "sha256:" + "a" * 64
GLOBAL = ObjectRef("Secret", "openshift-config", "pull-secret")
CONSOLE = "https://console.redhat.com/openshift/install/pull-secret"
GOOD_GLOBAL = {"cloud.openshift.com": auth("telemetry", "cloud-pass"), "quay.io": auth("qu", "quay-pass"),
               "registry.redhat.io": auth("rh", "rh-pass")}
CA = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


# --- builders ------------------------------------------------------------------------

def global_secret(auths: dict[str, Any] | None = None) -> Obj:
    return pull_secret("pull-secret", GOOD_GLOBAL if auths is None else auths, ns="openshift-config")


def other_config_secret() -> Obj:
    """Another openshift-config secret: the namespace's secrets count as listed."""
    return secret("etcd-client", type="kubernetes.io/tls", data={"tls.crt": b64("x")}, ns="openshift-config")


def mirror_set(name: str, source: str, mirrors: Sequence[str], *, kind: str = "ImageDigestMirrorSet",
               policy: str | None = None) -> Obj:
    list_field = {"ImageDigestMirrorSet": "imageDigestMirrors", "ImageTagMirrorSet": "imageTagMirrors",
                  "ImageContentSourcePolicy": "repositoryDigestMirrors"}[kind]
    item: dict[str, Any] = {"source": source, "mirrors": list(mirrors)}
    if policy:
        item["mirrorSourcePolicy"] = policy
    group = "operator.openshift.io/v1alpha1" if kind == "ImageContentSourcePolicy" else "config.openshift.io/v1"
    return {"apiVersion": group, "kind": kind, "metadata": {"name": name}, "spec": {list_field: [item]}}


def image_config(*, blocked: Sequence[str] = (), allowed: Sequence[str] = (), insecure: Sequence[str] = (),
                 ca: str | None = None) -> Obj:
    sources: dict[str, Any] = {}
    if blocked:
        sources["blockedRegistries"] = list(blocked)
    if allowed:
        sources["allowedRegistries"] = list(allowed)
    if insecure:
        sources["insecureRegistries"] = list(insecure)
    spec: dict[str, Any] = {"registrySources": sources}
    if ca:
        spec["additionalTrustedCA"] = {"name": ca}
    return {"apiVersion": "config.openshift.io/v1", "kind": "Image", "metadata": {"name": "cluster"}, "spec": spec,
            "status": {"internalRegistryHostname": INTERNAL}}


def pool(name: str, *, spec: str = "rendered-1", status: str | None = "rendered-1", machines: int = 3,
         updated: int = 3, degraded: int = 0, paused: bool = False) -> Obj:
    st: dict[str, Any] = {"machineCount": machines, "updatedMachineCount": updated, "degradedMachineCount": degraded}
    if status is not None:
        st["configuration"] = {"name": status}
    sp: dict[str, Any] = {"configuration": {"name": spec}}
    if paused:
        sp["paused"] = True
    return {"apiVersion": "machineconfiguration.openshift.io/v1", "kind": "MachineConfigPool",
            "metadata": {"name": name}, "spec": sp, "status": st}


def registry_operator(reason: str = "Removed", message: str = "The registry is removed") -> Obj:
    return {"apiVersion": "config.openshift.io/v1", "kind": "ClusterOperator", "metadata": {"name": "image-registry"},
            "status": {"conditions": [{"type": "Available", "status": "True", "reason": reason, "message": message},
                                      {"type": "Degraded", "status": "False", "reason": reason, "message": message}]}}


def context(objs: Iterable[Obj], *, access: dict[tuple[str, str, str], bool | None] | None = None,
            denied: Sequence[Denied] = (), openshift_flag: bool | None = None, images: Sequence[str] = (),
            image_sa: str = "default", authfile: tuple[str, bytes] | None = None) -> Context:
    snap = snapshot(objs)
    changes: dict[str, Any] = {}
    if access is not None:
        changes["access"] = access
    if denied:
        changes["denied"] = tuple(denied)
    if openshift_flag is not None:
        changes["cluster"] = {"openshift": openshift_flag}
    if changes:
        snap = dataclasses.replace(snap, **changes)
    scope = select(snap, [], [NS] if images else None, None, images, image_sa)
    node = node_credentials(snap, authfile)
    resolver = Resolver(snap, node)
    return Context(snap, scope, resolver, node, tuple(resolve_all(resolver, scope.subjects)),
                   internal_registries=internal_registries(snap))


def run(ctx: Context, check_id: str) -> list[Finding]:
    found = list(checks.CHECKS[check_id].run(ctx))
    assert all(f.check == check_id for f in found)
    return found


def passed(ctx: Context, check_id: str) -> list[tuple[ObjectRef, str | None]]:
    _, ok = checks.run(ctx, [check_id])
    return [(f.object, f.container) for f in ok]


def one(ctx: Context, check_id: str) -> Finding:
    found = run(ctx, check_id)
    assert len(found) == 1, [f.to_dict() for f in found]
    return found[0]


OPENSHIFT_CHECKS = ["internal-registry-disabled", "cross-project-pull-denied", "registry-blocked",
                    "mirror-credential-missing", "global-pull-secret-invalid", "global-pull-secret-telemetry-missing",
                    "global-pull-secret-rollout-pending"]


# --- catalogue ---------------------------------------------------------------------

@pytest.mark.parametrize("check_id", OPENSHIFT_CHECKS)
def test_registered_with_catalogue_severity_and_one_line_description(check_id: str) -> None:
    check = checks.CHECKS[check_id]
    assert check.severity == checks.CATALOGUE[check_id][0]
    assert check.description and "\n" not in check.description
    assert check.description.startswith("OpenShift:")


# --- not OpenShift / all fine --------------------------------------------------------

def broken_everything(check_id: str) -> list[Obj]:
    """Input that breaks `check_id` (an invalid global pull secret hides a missing
    telemetry entry, so that one pair differs)."""
    telemetry = check_id == "global-pull-secret-telemetry-missing"
    return [
        cluster_version(enabled=("Console",)),
        registry_operator(),
        image_config(blocked=["quay.io"]),
        mirror_set("mirrors", "quay.io/acme", ["mirror.corp.example/acme"], policy="NeverContactSource"),
        pool("worker", spec="rendered-2", status="rendered-1", updated=1),
        global_secret({"quay.io": auth("q", "quay-pass")} if telemetry else {}),
        other_config_secret(),
        sa(), pod("web-1", [f"{INTERNAL}/other/app:1", f"quay.io/acme/web@{DIGEST}", "quay.io/acme/tagged:1"]),
    ]


@pytest.mark.parametrize("check_id", OPENSHIFT_CHECKS)
def test_every_check_silent_when_not_openshift(check_id: str) -> None:
    ctx = context(broken_everything(check_id), access={(NS, "default", "other"): False}, openshift_flag=False)
    assert not ctx.openshift
    assert run(ctx, check_id) == []
    assert passed(ctx, check_id) == []


@pytest.mark.parametrize("check_id", OPENSHIFT_CHECKS)
def test_every_check_fires_on_the_same_input_on_openshift(check_id: str) -> None:
    """The negative test above is meaningful: the same objects break every check on OpenShift."""
    ctx = context(broken_everything(check_id), access={(NS, "default", "other"): False}, openshift_flag=True)
    assert run(ctx, check_id)


HEALTHY = [
    cluster_version(), image_config(allowed=["quay.io", INTERNAL, "registry.redhat.io"]),
    mirror_set("mirrors", "quay.io/acme", ["mirror.corp.example/acme"]),
    pool("master"), pool("worker"),
    global_secret({**GOOD_GLOBAL, "mirror.corp.example": auth("mirror", "mirror-pass")}),
    openshift_namespace(), sa(), pod("web-1", [f"{INTERNAL}/{NS}/app:1", f"quay.io/acme/web@{DIGEST}"]),
]


@pytest.mark.parametrize("check_id", OPENSHIFT_CHECKS)
def test_every_check_silent_and_passing_when_all_is_fine(check_id: str) -> None:
    ctx = context(HEALTHY, access={(NS, "default", NS): True})
    assert ctx.openshift
    assert run(ctx, check_id) == []
    assert passed(ctx, check_id), "the check examined something and passed it"


# --- internal-registry-disabled ------------------------------------------------------

INTERNAL_POD = pod("web-1", f"{INTERNAL}/{NS}/app:1")


def test_registry_capability_disabled() -> None:
    cv = cluster_version(enabled=("Console", "Build"))
    cv["spec"] = {"capabilities": {"baselineCapabilitySet": "None", "additionalEnabledCapabilities": ["Console"]}}
    f = one(context([cv, openshift_namespace(), sa(), INTERNAL_POD]), "internal-registry-disabled")
    assert (f.severity, f.object, f.container) == (Severity.ERROR, ObjectRef("Pod", NS, "web-1"), "web")
    assert "ImageRegistry capability is disabled" in f.message
    assert "cannot be pulled" in f.message and "no <sa>-dockercfg-* pull secrets" in f.message
    assert "were deleted" in f.message
    assert f.fix is not None and f.fix.command is None
    patch = json.dumps({"spec": {"capabilities": {"additionalEnabledCapabilities": ["Console", "ImageRegistry"]}}})
    assert f.fix.equivalent[0].startswith(f"oc patch clusterversion/version --type=merge -p '{patch}'")
    assert "external registry" in f.fix.equivalent[-1]


def test_registry_capability_disabled_without_spec_asks_for_an_edit() -> None:
    f = one(context([cluster_version(enabled=("Console",)), sa(), INTERNAL_POD]), "internal-registry-disabled")
    assert f.fix is not None and f.fix.equivalent[0].startswith("oc edit clusterversion/version")
    assert "additionalEnabledCapabilities" in f.fix.equivalent[0]


@pytest.mark.parametrize(("reason", "message"), [
    ("Removed", "The registry is removed"),
    ("Removed", ""),
    ("AsExpected", "The registry is removed"),  # message alone (an operator version with another reason)
])
def test_registry_operator_removed(reason: str, message: str) -> None:
    f = one(context([cluster_version(), registry_operator(reason, message), openshift_namespace(), sa(),
                     INTERNAL_POD]), "internal-registry-disabled")
    assert "reports it Removed" in f.message
    assert f.fix is not None
    assert f.fix.equivalent[0].startswith(
        "oc patch configs.imageregistry.operator.openshift.io/cluster --type=merge -p "
        "'{\"spec\": {\"managementState\": \"Managed\"}}'")


@pytest.mark.parametrize("objs", [
    pytest.param([cluster_version()], id="capability-enabled"),
    pytest.param([registry_operator("Ready", "The registry is ready")], id="operator-ready"),
    pytest.param([registry_operator("DeletingDeployment", "The deployment is being removed")], id="progressing-text"),
    # Before 4.14 ImageRegistry was no capability: absent from both lists, registry installed.
    pytest.param([{**cluster_version(enabled=("Console",)), "status": {"capabilities": {
        "enabledCapabilities": ["Console"], "knownCapabilities": ["Console", "Insights"]}}}], id="pre-4.14"),
])
def test_registry_on(objs: list[Obj]) -> None:
    ctx = context([*objs, openshift_namespace(), sa(), INTERNAL_POD])
    assert run(ctx, "internal-registry-disabled") == []
    assert passed(ctx, "internal-registry-disabled") == [(ObjectRef("Pod", NS, "web-1"), "web")]


def test_registry_disabled_ignores_external_images_and_unknown_state() -> None:
    ctx = context([cluster_version(enabled=()), sa(), pod("web-1", "quay.io/acme/web:1")])
    assert run(ctx, "internal-registry-disabled") == []
    # Nothing in the input tells whether the registry is on: nothing passes either.
    ctx = context([openshift_namespace(), sa(), INTERNAL_POD])
    assert run(ctx, "internal-registry-disabled") == [] and passed(ctx, "internal-registry-disabled") == []


def test_registry_disabled_text_for_other_checks() -> None:
    assert openshift.registry_disabled(snapshot([cluster_version()])) is None
    assert "capability" in (openshift.registry_disabled(snapshot([cluster_version(enabled=())])) or "")


# --- cross-project-pull-denied -----------------------------------------------------

CROSS = [openshift_namespace(), sa("builder"), pod("web-1", f"{INTERNAL}/shared/base:1", sa_name="builder")]


def test_cross_project_denied() -> None:
    f = one(context(CROSS, access={(NS, "builder", "shared"): False}), "cross-project-pull-denied")
    assert (f.severity, f.object, f.container, f.image) == (
        Severity.ERROR, ObjectRef("Pod", NS, "web-1"), "web", f"{INTERNAL}/shared/base:1")
    assert f"Service account {NS}/builder" in f.message and "project shared" in f.message
    assert "`get` on `imagestreams/layers` (group image.openshift.io)" in f.message
    assert "system:image-pullers" not in f.message
    assert f.fix is not None
    assert f.fix.command == f"kubectl pullsecret fix grant --from-namespace {NS} --sa builder -n shared"
    assert f.fix.equivalent[0] == (f"oc policy add-role-to-user system:image-puller "
                                   f"system:serviceaccount:{NS}:builder -n shared")
    assert f.fix.equivalent[1].startswith(
        f"oc policy add-role-to-group system:image-puller system:serviceaccounts:{NS} -n shared")


def test_cross_project_same_namespace_names_the_default_binding() -> None:
    ctx = context([openshift_namespace(), sa(), INTERNAL_POD], access={(NS, "default", NS): False})
    f = one(ctx, "cross-project-pull-denied")
    assert "RoleBinding system:image-pullers" in f.message and f"system:serviceaccounts:{NS}" in f.message


@pytest.mark.parametrize("access", [
    pytest.param({(NS, "builder", "shared"): True}, id="allowed"),
    pytest.param({(NS, "builder", "shared"): None}, id="review-failed"),
    pytest.param({}, id="not-asked"),
    pytest.param({(NS, "default", "shared"): False}, id="another-sa-denied"),
])
def test_cross_project_silent(access: dict[tuple[str, str, str], bool | None]) -> None:
    ctx = context(CROSS, access=access)
    assert run(ctx, "cross-project-pull-denied") == []
    answered = access.get((NS, "builder", "shared")) is not None
    assert passed(ctx, "cross-project-pull-denied") == ([(ObjectRef("Pod", NS, "web-1"), "web")] if answered else [])


def test_access_questions() -> None:
    objs = [openshift_namespace(), sa(), sa("builder"),
            pod("web-1", [f"{INTERNAL}/shared/base:1", f"{INTERNAL}/{NS}/app:1", "quay.io/acme/web:1"]),
            workload("Deployment", "api", f"{INTERNAL}/tools/api:2", sa_name="builder"),
            pod("odd", f"{INTERNAL}/single:1")]  # no project component: nothing to ask
    ctx = context(objs)
    expected = {(NS, "default", "shared"), (NS, "default", NS), (NS, "builder", "tools")}
    assert openshift.access_questions(ctx.resolutions, ctx.internal_registries) == expected
    assert openshift.access_questions(ctx.resolutions, ctx.internal_registries, ctx.snapshot) == expected
    assert openshift.access_questions(ctx.resolutions, ["other.registry:5000"]) == set()


def test_access_questions_for_image_subjects() -> None:
    image = f"{INTERNAL}/shared/base:1"
    with_sa = context([openshift_namespace(), sa("builder")], images=[image], image_sa="builder")
    assert openshift.access_questions(with_sa.resolutions, with_sa.internal_registries,
                                       with_sa.snapshot) == {(NS, "builder", "shared")}
    without = context([openshift_namespace(), sa()], images=[image], image_sa="ghost")
    assert openshift.access_questions(without.resolutions, without.internal_registries, without.snapshot) == set()
    # From resolutions alone the SA cannot be looked up: asked anyway.
    assert openshift.access_questions(without.resolutions, without.internal_registries) == {(NS, "ghost", "shared")}


# --- global-pull-secret-invalid ------------------------------------------------------

@pytest.mark.parametrize(("objs", "phrase", "how"), [
    pytest.param([other_config_secret()], "does not exist", "create", id="missing"),
    pytest.param([secret("pull-secret", type="Opaque", data={".dockerconfigjson": b64(json.dumps(
        {"auths": GOOD_GLOBAL}))}, ns="openshift-config")],
        "is of type Opaque; it must be kubernetes.io/dockerconfigjson", "recreate", id="wrong-type"),
    # The type is right, the key is not: the cause alone, without what the kubelet does about it.
    pytest.param([secret("pull-secret", data={".dockercfg": b64(json.dumps(GOOD_GLOBAL))}, ns="openshift-config")],
                 "is of type kubernetes.io/dockerconfigjson but its data key is .dockercfg (type and key must "
                 "agree). The Machine Config Operator", "replace", id="wrong-key"),
    pytest.param([raw_secret("pull-secret", ".dockerconfigjson", "{not json", ns="openshift-config")],
                 "does not decode: not valid JSON", "replace", id="malformed-json"),
    pytest.param([raw_secret("pull-secret", ".dockerconfigjson", json.dumps(
        {"auths": {"quay.io": {"auth": "!!!"}}}), ns="openshift-config")],
        "does not decode", "replace", id="bad-auth-field"),
    pytest.param([raw_secret("pull-secret", ".dockerconfigjson", json.dumps(GOOD_GLOBAL), ns="openshift-config")],
                 "lacks auths: its .dockerconfigjson has no `auths` object", "merge", id="no-auths-wrapper"),
    pytest.param([global_secret({})], "has an empty `auths` map", "merge", id="empty-auths"),
    pytest.param([raw_secret("pull-secret", ".dockerconfigjson", '{"auths": null}', ns="openshift-config")],
                 "has an empty `auths` map", "merge", id="null-auths"),
])
def test_global_pull_secret_invalid(objs: list[Obj], phrase: str, how: str) -> None:
    f = one(context([openshift_namespace(), *objs]), "global-pull-secret-invalid")
    assert (f.severity, f.object, f.container, f.image) == (Severity.ERROR, GLOBAL, None, None)
    assert f"openshift-config/pull-secret {phrase}" in f.message
    assert "/var/lib/kubelet/config.json" in f.message and "no cluster-wide credentials" in f.message
    assert f.fix is not None
    if how == "merge":
        # The same procedure registry.py builds for a rejected global credential.
        assert f.fix.command == "kubectl pullsecret fix global set --registry REGISTRY --username USER --password-stdin"
        assert f.fix.equivalent[1] == ("oc registry login --registry=REGISTRY --auth-basic=USER:PASSWORD "
                                       "--to=pull-secret.json")
        assert f.fix.equivalent[2] == ("oc set data secret/pull-secret -n openshift-config "
                                       "--from-file=.dockerconfigjson=pull-secret.json")
        return
    assert f.fix.command is None  # `fix global` refuses to merge into what it cannot read
    assert CONSOLE in f.fix.equivalent[0]
    last = f.fix.equivalent[-1]
    if how == "replace":
        assert "refuses to merge" in f.message
        assert last == "oc set data secret/pull-secret -n openshift-config --from-file=.dockerconfigjson=pull-secret.json"
    else:
        assert last == ("oc create secret generic pull-secret -n openshift-config "
                        "--type=kubernetes.io/dockerconfigjson --from-file=.dockerconfigjson=pull-secret.json")
        assert ("oc delete secret pull-secret -n openshift-config" in f.fix.equivalent) == (how == "recreate")


@pytest.mark.parametrize(("objs", "denied"), [
    pytest.param([global_secret(), other_config_secret()], (), id="valid"),
    pytest.param([sa()], (), id="not-in-input"),  # openshift-config secrets were not dumped
    pytest.param([secret("pull-secret", ns="openshift-config", no_data=True), other_config_secret()], (),
                 id="data-redacted"),
    # Refused reads (live): an absent secret is not "missing" then.
    pytest.param([other_config_secret()], (Denied("Secret", "openshift-config", "pull-secret", "forbidden"),),
                 id="get-denied"),
    pytest.param([other_config_secret()], (Denied("Secret", "openshift-config", None, "forbidden"),),
                 id="list-denied"),
    pytest.param([other_config_secret()], (Denied("Secret", None, None, "forbidden"),), id="cluster-list-denied"),
])
def test_global_pull_secret_not_reported(objs: list[Obj], denied: tuple[Denied, ...]) -> None:
    ctx = context([openshift_namespace(), *objs], denied=denied)
    assert run(ctx, "global-pull-secret-invalid") == []
    assert run(ctx, "global-pull-secret-telemetry-missing") == []
    valid = objs[:1] == [global_secret()]
    assert passed(ctx, "global-pull-secret-invalid") == ([(GLOBAL, None)] if valid else [])


# --- global-pull-secret-telemetry-missing --------------------------------------------

def test_telemetry_missing() -> None:
    auths = {k: v for k, v in GOOD_GLOBAL.items() if k != "cloud.openshift.com"}
    f = one(context([openshift_namespace(), global_secret(auths)]), "global-pull-secret-telemetry-missing")
    assert (f.severity, f.object, f.fix) == (Severity.INFO, GLOBAL, None)
    assert "no cloud.openshift.com entry" in f.message and "Telemetry" in f.message
    assert "does not affect image pulls" in f.message
    # An invalid secret is global-pull-secret-invalid's, not this one's.
    assert run(context([openshift_namespace(), global_secret({})]), "global-pull-secret-telemetry-missing") == []


@pytest.mark.parametrize("key", ["cloud.openshift.com", "https://cloud.openshift.com/v1/", "cloud.openshift.com/x"])
def test_telemetry_present(key: str) -> None:
    ctx = context([openshift_namespace(), global_secret({key: auth("t", "p"), "quay.io": auth("q", "p")})])
    assert run(ctx, "global-pull-secret-telemetry-missing") == []
    assert passed(ctx, "global-pull-secret-telemetry-missing") == [(GLOBAL, None)]


# --- global-pull-secret-rollout-pending --------------------------------------------

@pytest.mark.parametrize(("mcp", "phrases"), [
    pytest.param(pool("worker", spec="rendered-worker-2", status="rendered-worker-1", updated=1),
                 ["rendering rendered-worker-2, nodes at rendered-worker-1", "1 of 3 machines updated"],
                 id="rendering"),
    pytest.param(pool("worker", updated=2), ["2 of 3 machines updated"], id="counts"),
    pytest.param(pool("infra", updated=2, degraded=1), ["2 of 3 machines updated", "1 degraded"], id="degraded"),
    pytest.param(pool("worker", spec="rendered-2", status=None), ["nodes at (none yet)"], id="no-status-yet"),
    pytest.param(pool("worker", updated=0, paused=True), ["paused: it does not roll out until unpaused"],
                 id="paused"),
])
def test_rollout_pending(mcp: Obj, phrases: list[str]) -> None:
    name = mcp["metadata"]["name"]
    ctx = context([mcp, pool("master" if name != "master" else "other")])
    f = one(ctx, "global-pull-secret-rollout-pending")
    assert (f.severity, f.object) == (Severity.WARNING, ObjectRef("MachineConfigPool", None, name))
    for phrase in phrases:
        assert phrase in f.message
    assert "reaches a node's /var/lib/kubelet/config.json only when its pool finishes" in f.message
    assert f.fix is not None and f.fix.command is None
    assert f.fix.equivalent[:2] == ("oc get mcp", "oc wait mcp --all --for=condition=Updated --timeout=30m")
    assert any(s.startswith(f"oc describe mcp {name}") for s in f.fix.equivalent) == ("degraded" in f.message)
    assert any("paused" in s for s in f.fix.equivalent) == ("paused" in f.message)
    other = "other" if name == "master" else "master"
    assert passed(ctx, "global-pull-secret-rollout-pending") == [(ObjectRef("MachineConfigPool", None, other), None)]


def test_rollout_done_even_when_degraded_count_is_a_string() -> None:
    mcp = pool("worker")
    mcp["status"].update({"machineCount": "3", "updatedMachineCount": "3"})
    assert run(context([mcp]), "global-pull-secret-rollout-pending") == []


# --- mirror matching -----------------------------------------------------------------

@pytest.mark.parametrize(("source", "name", "rest"), [
    ("quay.io", "quay.io/acme/web", "/acme/web"),
    ("quay.io/acme", "quay.io/acme/web", "/web"),
    ("quay.io/acme/web", "quay.io/acme/web", ""),
    ("quay.io/acme", "quay.io/acme-2/web", None),  # path-component boundary, not a string prefix
    ("quay.io/acme/web", "quay.io/acme", None),
    ("quay.io", "quay.io:443/acme/web", None),  # upstream's "example.com matches example.com:5000" is not relied on
    ("registry:5000", "registry:5000/x", "/x"),
    ("*.example.com", "a.example.com/team/app", "/team/app"),
    ("*.example.com", "a.b.example.com/team/app", "/team/app"),
    ("*.example.com", "example.com/team/app", None),  # the bare domain is not a subdomain
    ("*.example.com", "a.example.com.evil.io/x", None),
    ("*.example.com", "a.example.community/x", None),
    ("*.example.com", "quay.io/a.example.com/x", None),  # only in the host
    ("*.example.com", "a.example.com:5000/x", ":5000/x"),  # sysregistriesv2 keeps the port in the rest
    ("docker.io/library", "docker.io/library/nginx", "/nginx"),
])
def test_source_remainder(source: str, name: str, rest: str | None) -> None:
    assert openshift.source_remainder(source, name) == rest


def rules(*objs: Obj) -> list[openshift.MirrorRule]:
    return openshift.mirror_rules(snapshot(objs))


@pytest.mark.parametrize(("objs", "image", "mirrored", "source"), [
    # IDMS and ICSP serve digest pulls, ITMS tag pulls.
    ([mirror_set("d", "quay.io/acme", ["m.example/acme"])], f"quay.io/acme/web@{DIGEST}", ["m.example/acme/web"],
     "quay.io/acme"),
    ([mirror_set("d", "quay.io/acme", ["m.example/acme"])], "quay.io/acme/web:1", [], "quay.io/acme"),
    ([mirror_set("t", "quay.io/acme", ["m.example/acme"], kind="ImageTagMirrorSet")], "quay.io/acme/web:1",
     ["m.example/acme/web"], "quay.io/acme"),
    ([mirror_set("t", "quay.io/acme", ["m.example/acme"], kind="ImageTagMirrorSet")], f"quay.io/acme/web@{DIGEST}",
     [], "quay.io/acme"),
    ([mirror_set("c", "quay.io/acme", ["m.example/acme"], kind="ImageContentSourcePolicy")],
     f"quay.io/acme/web@{DIGEST}", ["m.example/acme/web"], "quay.io/acme"),
    # Both tag and digest: the digest is pulled.
    ([mirror_set("d", "quay.io/acme", ["m.example/acme"])], f"quay.io/acme/web:1@{DIGEST}",
     ["m.example/acme/web"], "quay.io/acme"),
    # The longest source wins alone; sets naming the same source merge, first listed first, no repeats.
    ([mirror_set("wide", "quay.io", ["wide.example"]), mirror_set("narrow", "quay.io/acme", ["n1.example/x"]),
      mirror_set("narrow2", "quay.io/acme", ["n2.example", "n1.example/x"])],
     f"quay.io/acme/web@{DIGEST}", ["n1.example/x/web", "n2.example/web"], "quay.io/acme"),
    ([mirror_set("wide", "quay.io", ["wide.example"]), mirror_set("narrow", "quay.io/acme", ["n1.example/x"])],
     f"quay.io/other/web@{DIGEST}", ["wide.example/other/web"], "quay.io"),
    # A mirror equal to the source is the source itself, tried last anyway.
    ([mirror_set("d", "quay.io/acme", ["quay.io/acme", "m.example/acme"])], f"quay.io/acme/web@{DIGEST}",
     ["m.example/acme/web"], "quay.io/acme"),
    ([mirror_set("w", "*.corp.example", ["mirror.example/corp"])], f"a.corp.example/team/app@{DIGEST}",
     ["mirror.example/corp/team/app"], "*.corp.example"),
    ([mirror_set("d", "registry.redhat.io", ["m.example/rh"])], f"nginx@{DIGEST}", None, None),
    ([mirror_set("d", "docker.io", ["m.example/hub"])], f"nginx@{DIGEST}", ["m.example/hub/library/nginx"],
     "docker.io"),
])
def test_mirror_plan(objs: list[Obj], image: str, mirrored: list[str] | None, source: str | None) -> None:
    plan = openshift.mirror_plan(rules(*objs), reference.parse(image))
    if mirrored is None:
        assert plan is None
        return
    assert plan is not None
    assert plan.source == source
    assert [m for _, m, _ in plan.mirrors] == mirrored


# --- mirror-credential-missing -------------------------------------------------------

MIRRORED_POD = pod("web-1", f"quay.io/acme/web@{DIGEST}", pull=["quay-pull"])
QUAY_PULL = pull_secret("quay-pull", {"quay.io": auth("robot", "quay-robot-pass")})


def mirror_ctx(global_auths: dict[str, Any], *sets: Obj, extra: Sequence[Obj] = ()) -> Context:
    return context([openshift_namespace(), sa(), QUAY_PULL, MIRRORED_POD, global_secret(global_auths), *sets, *extra])


def test_mirror_without_credential() -> None:
    ctx = mirror_ctx(GOOD_GLOBAL, mirror_set("acme-mirror", "quay.io/acme", ["mirror.corp.example:8443/acme"]))
    f = one(ctx, "mirror-credential-missing")
    assert (f.severity, f.object, f.container) == (Severity.ERROR, ObjectRef("Pod", NS, "web-1"), "web")
    assert "ImageDigestMirrorSet/acme-mirror" in f.message
    assert "mirror.corp.example:8443/acme/web (no entry for it)" in f.message
    assert "never the pod's pull secrets" in f.message
    assert "anonymous pulls" in f.message  # it may be fine: not known offline
    assert "falls back to quay.io/acme itself" in f.message
    assert f.fix is not None
    assert f.fix.command == ("kubectl pullsecret fix global set --registry mirror.corp.example:8443 "
                             "--username USER --password-stdin")
    assert "oc registry login --registry=mirror.corp.example:8443" in f.fix.equivalent[1]


def test_mirror_never_contact_source_says_so() -> None:
    ctx = mirror_ctx(GOOD_GLOBAL, mirror_set("acme", "quay.io/acme", ["mirror.corp.example/acme"],
                                             policy="NeverContactSource"))
    f = one(ctx, "mirror-credential-missing")
    assert "NeverContactSource" in f.message and "never tries quay.io/acme itself" in f.message


@pytest.mark.parametrize(("key", "why"), [
    ("*.corp.example", "only entry '*.corp.example' matches it, under kubelet rules"),
    ("mirror.corp.example/other", "no entry for it"),
])
def test_mirror_entry_only_kubelet_matches(key: str, why: str) -> None:
    ctx = mirror_ctx({**GOOD_GLOBAL, key: auth("m", "mirror-pass")},
                     mirror_set("acme", "quay.io/acme", ["mirror.corp.example/acme"]))
    assert why in one(ctx, "mirror-credential-missing").message


def test_mirror_entry_containers_image_cannot_use() -> None:
    """containers/image reads only `auth`/`identitytoken`, not bare username/password."""
    ctx = mirror_ctx({**GOOD_GLOBAL, "mirror.corp.example": {"username": "m", "password": "mirror-pass"}},
                     mirror_set("acme", "quay.io/acme", ["mirror.corp.example/acme"]))
    f = one(ctx, "mirror-credential-missing")
    assert "its entry 'mirror.corp.example' gives containers/image no credential" in f.message


def test_some_mirrors_with_credentials_is_a_warning() -> None:
    ctx = mirror_ctx({**GOOD_GLOBAL, "m2.corp.example": auth("m", "mirror-pass")},
                     mirror_set("acme", "quay.io/acme", ["m1.corp.example/acme", "m2.corp.example/acme"]))
    f = one(ctx, "mirror-credential-missing")
    assert f.severity is Severity.WARNING
    assert "m1.corp.example/acme/web" in f.message and "m2.corp" not in f.message.split("none there:")[1].split(".")[0]
    assert "A later mirror has a credential" in f.message


@pytest.mark.parametrize("ctx_objs", [
    # the mirror has a credential (host key, path key walked up, legacy https:// key)
    pytest.param(({"mirror.corp.example": auth("m", "p")},), id="host-key"),
    pytest.param(({"mirror.corp.example/acme": auth("m", "p")},), id="path-key"),
    pytest.param(({"https://mirror.corp.example/v2/": auth("m", "p")},), id="legacy-url-key"),
])
def test_mirror_with_credential(ctx_objs: tuple[dict[str, Any]]) -> None:
    ctx = mirror_ctx({**GOOD_GLOBAL, **ctx_objs[0]}, mirror_set("acme", "quay.io/acme", ["mirror.corp.example/acme"]))
    assert run(ctx, "mirror-credential-missing") == []
    assert passed(ctx, "mirror-credential-missing") == [(ObjectRef("Pod", NS, "web-1"), "web")]


def test_mirror_on_the_same_domain_uses_the_pods_credential() -> None:
    ctx = mirror_ctx(GOOD_GLOBAL, mirror_set("acme", "quay.io/acme", ["quay.io/acme-mirror"]))
    assert run(ctx, "mirror-credential-missing") == []


def test_mirror_not_used_or_node_credentials_unknown() -> None:
    # A tag pull under a digest mirror set: the mirror is not tried.
    tag_pod = pod("web-1", "quay.io/acme/web:1", pull=["quay-pull"])
    ctx = context([openshift_namespace(), sa(), QUAY_PULL, tag_pod, global_secret(),
                   mirror_set("acme", "quay.io/acme", ["mirror.corp.example/acme"])])
    assert run(ctx, "mirror-credential-missing") == [] and passed(ctx, "mirror-credential-missing") == []
    # The global pull secret is not in the input: nothing can be told.
    ctx = context([openshift_namespace(), sa(), QUAY_PULL, MIRRORED_POD,
                   mirror_set("acme", "quay.io/acme", ["mirror.corp.example/acme"])])
    assert run(ctx, "mirror-credential-missing") == [] and passed(ctx, "mirror-credential-missing") == []


def test_mirror_credentials_from_authfile() -> None:
    """--authfile stands for the node file, so it is what mirrors are checked against."""
    data = json.dumps({"auths": {"mirror.corp.example": auth("m", "p")}}).encode()
    objs = [openshift_namespace(), sa(), QUAY_PULL, MIRRORED_POD,
            mirror_set("acme", "quay.io/acme", ["mirror.corp.example/acme", "other.corp.example/acme"])]
    f = one(context(objs, authfile=("/tmp/config.json", data)), "mirror-credential-missing")
    assert "file:/tmp/config.json (--authfile)" in f.message and "other.corp.example/acme/web" in f.message


# --- registry-blocked ----------------------------------------------------------------

@pytest.mark.parametrize(("entry", "image", "covered"), [
    ("quay.io", "quay.io/acme/web:1", True),
    ("quay.io/acme", "quay.io/acme/web:1", True),
    ("quay.io/acme/web", "quay.io/acme/web:1", True),
    ("quay.io/acme/web:1", "quay.io/acme/web:1", True),  # the identity itself is a scope
    ("quay.io/acme/web:2", "quay.io/acme/web:1", False),
    ("quay.io/acme", "quay.io/acme-2/web:1", False),  # path-component boundary
    ("quay.io/ac", "quay.io/acme/web:1", False),
    ("quay.io", "quay.io:443/acme/web:1", False),  # ports must be equal
    ("registry:5000", "registry:5000/team/app:1", True),
    ("*.example.com", "a.example.com/team/app:1", True),
    ("*.example.com", "a.b.example.com/team/app:1", True),
    ("*.example.com", "a.example.com:5000/team/app:1", True),  # wildcards ignore the port
    ("*.example.com", "example.com/team/app:1", False),
    ("*.b.example.com", "a.example.com/team/app:1", False),
    ("docker.io", "nginx", True),
    ("docker.io/library", "nginx:1.27", True),
    ("index.docker.io", "nginx", False),
])
def test_scope_matches(entry: str, image: str, covered: bool) -> None:
    assert openshift.scope_matches(entry, reference.parse(image)) is covered


def blocked_ctx(config: Obj, *images: str, extra: Sequence[Obj] = ()) -> Context:
    return context([openshift_namespace(), sa(), config, pod("web-1", list(images)), *extra])


def test_registry_blocked() -> None:
    ctx = blocked_ctx(image_config(blocked=["docker.io", "quay.io/bad"]), "quay.io/bad/web:1", "quay.io/good/web:1")
    f = one(ctx, "registry-blocked")
    assert (f.severity, f.object, f.container, f.image) == (Severity.ERROR, ObjectRef("Pod", NS, "web-1"), "web",
                                                            "quay.io/bad/web:1")
    assert "blockedRegistries lists 'quay.io/bad'" in f.message
    assert "is blocked in /etc/containers/registries.conf" in f.message and "rejected by policy" in f.message
    assert f.fix is not None and f.fix.command is None
    ops = [{"op": "test", "path": "/spec/registrySources/blockedRegistries/1", "value": "quay.io/bad"},
           {"op": "remove", "path": "/spec/registrySources/blockedRegistries/1"}]
    assert f.fix.equivalent[0] == f"oc patch image.config.openshift.io/cluster --type=json -p '{json.dumps(ops)}'"
    assert sorted(passed(ctx, "registry-blocked")) == [(ObjectRef("Pod", NS, "web-1"), "c1")]


def test_registry_not_allowed() -> None:
    ctx = blocked_ctx(image_config(allowed=["quay.io/acme", "*.corp.example", INTERNAL]), "quay.io/other/web:1",
                      "quay.io/acme/web:1", "reg.corp.example:8443/x/y:1", f"{INTERNAL}/{NS}/app:1")
    f = one(ctx, "registry-blocked")
    assert f.image == "quay.io/other/web:1"
    assert "quay.io is not allowed" in f.message and "allowedRegistries (quay.io/acme, *.corp.example" in f.message
    assert "Running image docker://quay.io/other/web:1 is rejected by policy" in f.message
    ops = [{"op": "add", "path": "/spec/registrySources/allowedRegistries/-", "value": "quay.io"}]
    assert f.fix is not None
    assert f.fix.equivalent[0] == f"oc patch image.config.openshift.io/cluster --type=json -p '{json.dumps(ops)}'"


def test_allowed_registries_leave_out_the_internal_registry_too() -> None:
    ctx = blocked_ctx(image_config(allowed=["quay.io"]), f"{INTERNAL}/{NS}/app:1")
    assert f"{INTERNAL} is not allowed" in one(ctx, "registry-blocked").message


def test_blocked_with_mirrors_is_still_rejected_by_policy() -> None:
    """MCO writes blockedRegistries to policy.json too, which judges the image's own name."""
    ctx = blocked_ctx(image_config(blocked=["quay.io"]), f"quay.io/acme/web@{DIGEST}",
                      extra=[mirror_set("acme", "quay.io/acme", ["mirror.corp.example/acme"])])
    assert "blockedRegistries lists 'quay.io'" in one(ctx, "registry-blocked").message


def payload_cv(image: str) -> Obj:
    cv = cluster_version()
    cv["status"]["desired"] = {"image": image}
    return cv


PAYLOAD = f"quay.io/openshift-release-dev/ocp-release@{DIGEST}"


@pytest.mark.parametrize(("extra", "image", "blocked"), [
    # A block covering the payload repository is dropped by MCO when the payload has no mirror ...
    ([payload_cv(PAYLOAD)], "quay.io/acme/web:1", False),
    ([payload_cv(PAYLOAD)], PAYLOAD, False),
    # ... and with a payload mirror it holds, except for the payload repository itself.
    ([payload_cv(PAYLOAD), mirror_set("rel", "quay.io/openshift-release-dev", ["m.example/rel"])],
     "quay.io/acme/web:1", True),
    ([payload_cv(PAYLOAD), mirror_set("rel", "quay.io/openshift-release-dev", ["m.example/rel"])], PAYLOAD, False),
    ([payload_cv(f"registry.example/ocp/release@{DIGEST}")], "quay.io/acme/web:1", True),
    ([], "quay.io/acme/web:1", True),
])
def test_blocked_payload_registry(extra: list[Obj], image: str, blocked: bool) -> None:
    ctx = blocked_ctx(image_config(blocked=["quay.io"]), image, extra=extra)
    assert bool(run(ctx, "registry-blocked")) is blocked


@pytest.mark.parametrize(("set_kind", "image", "phrase"), [
    ("ImageDigestMirrorSet", "quay.io/acme/web:1", "pulled by tag"),
    ("ImageTagMirrorSet", f"quay.io/acme/web@{DIGEST}", "pulled by digest"),
])
def test_never_contact_source_without_a_mirror_for_the_pull(set_kind: str, image: str, phrase: str) -> None:
    ctx = context([openshift_namespace(), sa(), pod("web-1", image),
                   mirror_set("acme", "quay.io/acme", ["mirror.corp.example/acme"], kind=set_kind,
                              policy="NeverContactSource")])
    f = one(ctx, "registry-blocked")
    assert phrase in f.message and f"{set_kind}/acme sets mirrorSourcePolicy NeverContactSource" in f.message
    assert "registry quay.io/acme is blocked" in f.message
    assert f.fix is not None and f.fix.equivalent[-1] == f"oc edit {set_kind.lower()}/acme"
    assert "AllowContactSource" in f.fix.equivalent[0]


def test_registry_policy_silent() -> None:
    # No registrySources at all: nothing is examined.
    ctx = blocked_ctx(image_config(insecure=["quay.io"]), "quay.io/acme/web:1")
    assert run(ctx, "registry-blocked") == [] and passed(ctx, "registry-blocked") == []
    # NeverContactSource with a mirror for the pull: the mirror serves it.
    ctx = context([openshift_namespace(), sa(), pod("web-1", f"quay.io/acme/web@{DIGEST}"),
                   mirror_set("acme", "quay.io/acme", ["mirror.corp.example/acme"], policy="NeverContactSource")])
    assert run(ctx, "registry-blocked") == []


# --- probe_trust ---------------------------------------------------------------------

def test_probe_trust() -> None:
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "registry-cas", "namespace": "openshift-config"},
          "data": {"registry.corp.example..8443": CA.rstrip("\n"), "a.example": CA, "notes": "not a certificate"}}
    snap = snapshot([image_config(insecure=["Plain.Example:5000", "lab.example/team", "*.test.example"],
                                  ca="registry-cas"), cm])
    hosts, pem = openshift.probe_trust(snap)
    assert hosts == frozenset({"plain.example:5000", "lab.example", "*.test.example"})
    assert pem == CA + CA and pem.count("BEGIN CERTIFICATE") == 2


@pytest.mark.parametrize("objs", [
    pytest.param([], id="no-image-config"),
    pytest.param([image_config(ca="missing-cm")], id="configmap-absent"),
    pytest.param([image_config(), {"apiVersion": "v1", "kind": "ConfigMap",
                                   "metadata": {"name": "registry-cas", "namespace": "other"}, "data": {"x": CA}}],
                 id="not-named"),
])
def test_probe_trust_empty(objs: list[Obj]) -> None:
    assert openshift.probe_trust(snapshot(objs)) == (frozenset(), "")


@pytest.mark.parametrize(("host", "covered"), [
    ("plain.example:5000", True), ("plain.example:5001", False), ("lab.example", True), ("lab.example:443", True),
    ("a.test.example", True), ("a.b.test.example:5000", True), ("test.example", False), ("other.example", False),
    ("LAB.example", True),
])
def test_host_in_scopes(host: str, covered: bool) -> None:
    assert reference.host_in_scopes(host, {"plain.example:5000", "lab.example", "*.test.example"}) is covered


# --- the bundled example (golden) --------------------------------------------------
# Kept here rather than in test_examples_golden.CASES only to stay within this
# module's files; the shape is the same (regenerate with UPDATE_GOLDEN=1, review the diff).

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ["doctor", "-f", "examples/openshift-cluster", "--no-probe"]
SUFFIX = {"table": "table.txt", "wide": "wide.txt", "markdown": "md", "json": "json"}


def run_cli(args: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        with redirect_stdout(out), redirect_stderr(err):
            code = main(args)
    finally:
        os.chdir(cwd)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("fmt", sorted(SUFFIX))
def test_openshift_cluster_example_golden(fmt: str) -> None:
    code, out, err = run_cli([*EXAMPLE, "-o", fmt])
    assert code == 1, err
    path = ROOT / "tests" / "golden" / f"openshift-cluster.{SUFFIX[fmt]}"
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(out)
    assert path.exists(), f"missing golden file {path}: run with UPDATE_GOLDEN=1"
    assert out == path.read_text()


def test_openshift_cluster_example_shows_each_cluster_check() -> None:
    _, out, _ = run_cli([*EXAMPLE, "-o", "json"])
    doc = json.loads(out)
    found = {(f["check"], f["object"]["name"]) for f in doc["findings"]}
    assert {("registry-blocked", "cache-0"), ("registry-blocked", "partner-0"),
            ("mirror-credential-missing", "checkout-6b9f4d7c5-k2x8p"),
            ("global-pull-secret-rollout-pending", "worker")} <= found
    for line in run_cli(EXAMPLE)[1].splitlines():
        if not line.strip().startswith(("fix:", "or:", "oc ", "kubectl ", "#")):
            assert len(line) <= 100, line


@pytest.mark.parametrize(("policy", "reported"), [(None, True), ("NeverContactSource", False)])
def test_no_matching_credential_is_moot_when_only_mirrors_are_contacted(policy: str | None, reported: bool) -> None:
    """With NeverContactSource CRI-O never asks the source registry: its missing
    credential is no finding (the mirror's credential is mirror-credential-missing's)."""
    bare = pod("web-1", f"quay.io/acme/web@{DIGEST}")
    ctx = context([openshift_namespace(), sa(), bare,
                   global_secret({"cloud.openshift.com": auth("t", "cloud-pass"),
                                  "mirror.corp.example": auth("m", "mirror-pass")}),
                   mirror_set("acme", "quay.io/acme", ["mirror.corp.example/acme"], policy=policy)])
    assert bool(run(ctx, "no-matching-credential")) is reported
    assert run(ctx, "mirror-credential-missing") == []


def test_never_contacted_source_is_not_probed(tmp_path) -> None:
    """The nodes never contact a NeverContactSource source: probing it from here would
    report on a registry the pull never uses."""
    from helpers_k8s import dump

    from kubectl_pullsecret import doctor

    objs = [openshift_namespace(), sa(), pod("web-1", f"source.invalid/acme/web@{DIGEST}"),
            mirror_set("acme", "source.invalid/acme", ["mirror.invalid/acme"], policy="NeverContactSource")]
    path = tmp_path / "in.yaml"
    path.write_text(dump(objs), encoding="utf-8")
    report = doctor.run(doctor.Options(files=[str(path)], probe=True, probe_timeout=2))
    [image] = report.images
    assert image.probe is not None and image.probe["outcome"] == "skipped"
    assert "only from mirrors of source.invalid/acme" in image.probe["detail"]


def test_probes_and_checks_read_the_mirror_rules_once(tmp_path, monkeypatch) -> None:
    """The probe plan and the checks share one memo: the mirror rules are read, and each
    image's mirror plan made, once per run."""
    from helpers_k8s import dump

    from kubectl_pullsecret import doctor

    calls = {"rules": 0, "plans": 0}
    rules, plan = openshift.mirror_rules, openshift.mirror_plan

    def counted_rules(snapshot):
        calls["rules"] += 1
        return rules(snapshot)

    def counted_plan(found, ref):
        calls["plans"] += 1
        return plan(found, ref)

    monkeypatch.setattr(openshift, "mirror_rules", counted_rules)
    monkeypatch.setattr(openshift, "mirror_plan", counted_plan)
    objs = [openshift_namespace(), sa(), pod("web-1", f"source.invalid/acme/web@{DIGEST}"),
            mirror_set("acme", "source.invalid/acme", ["mirror.invalid/acme"], policy="NeverContactSource")]
    path = tmp_path / "in.yaml"
    path.write_text(dump(objs), encoding="utf-8")
    report = doctor.run(doctor.Options(files=[str(path)], probe=True, probe_timeout=2))
    assert [i.probe["outcome"] for i in report.images if i.probe is not None] == ["skipped"]
    assert calls == {"rules": 1, "plans": 1}
