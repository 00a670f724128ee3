"""The live read plan (pure): which lists and gets a run makes, and the durations."""

from __future__ import annotations

import pytest

from kubectl_pullsecret.checks import CATALOGUE, needs
from kubectl_pullsecret.errors import UsageError
from kubectl_pullsecret.kube import RESOURCES, Read, parse_duration
from kubectl_pullsecret.live import Scope, plan_reads, trusted_ca_read
from kubectl_pullsecret.resolve import Target

ALL = list(CATALOGUE)


def kinds(reads: list[Read]) -> set[tuple[str, str | None, str | None]]:
    return {(r.kind, r.namespace, r.name) for r in reads}


@pytest.mark.parametrize(("text", "seconds"), [
    ("0", None), ("0s", None), ("5", 5.0), ("1.5", 1.5), ("30s", 30.0), ("1m30s", 90.0), ("500ms", 0.5),
    ("2h", 7200.0), ("1h1m1s", 3661.0), ("250us", 0.00025),
])
def test_request_timeout_durations(text: str, seconds: float | None) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["-1", "abc", "1x", "nan", "inf", "", "s", "1s2", "1 s"])
def test_request_timeout_rejects(text: str) -> None:
    with pytest.raises(UsageError, match="--request-timeout"):
        parse_duration(text)


def test_all_namespaces_is_one_cluster_wide_list_per_kind() -> None:
    reads = plan_reads(Scope(None), ALL, openshift=False)
    listed = [r for r in reads if r.name is None]
    assert all(r.namespace is None for r in listed)
    assert len({r.kind for r in listed}) == len(listed)  # never one read per namespace or pod
    assert {"Pod", "ServiceAccount", "Secret", "Event", "Deployment", "ReplicaSet"} <= {r.kind for r in listed}
    assert not any(r.kind in ("DeploymentConfig", "Image", "MachineConfigPool") for r in reads)
    assert [r.kind for r in reads if r.primary] == ["Pod"]


def test_namespace_scope_lists_in_the_namespace_and_openshift_adds_cluster_config() -> None:
    reads = plan_reads(Scope(("shop",), selector="app=web"), ALL, openshift=True)
    got = kinds(reads)
    assert ("Pod", "shop", None) in got and ("Secret", "shop", None) in got
    pods = next(r for r in reads if r.kind == "Pod")
    assert pods.label_selector == "app=web" and pods.primary
    # Workloads are listed whole: the selector picks pods, owners are traced.
    assert next(r for r in reads if r.kind == "ReplicaSet").label_selector is None
    assert {("Secret", "openshift-config", "pull-secret"), ("Image", None, "cluster"),
            ("ClusterVersion", None, "version"), ("ClusterOperator", None, "image-registry"),
            ("MachineConfigPool", None, None), ("ImageDigestMirrorSet", None, None),
            ("ImageTagMirrorSet", None, None), ("ImageContentSourcePolicy", None, None),
            ("DeploymentConfig", "shop", None)} <= got
    events = next(r for r in reads if r.kind == "Event")
    assert events.field_selector == "involvedObject.kind=Pod"


def test_only_what_the_selected_checks_need() -> None:
    got = kinds(plan_reads(Scope(("shop",)), ["pull-secret-missing"], openshift=True))
    assert not any(k in ("Event", "MachineConfigPool", "ImageDigestMirrorSet", "ClusterVersion") for k, _, _ in got)
    assert ("Secret", "openshift-config", "pull-secret") in got  # the nodes' credentials
    got = kinds(plan_reads(Scope(("shop",)), ["global-pull-secret-rollout-pending"], openshift=True))
    assert ("MachineConfigPool", None, None) in got and ("Event", "shop", None) not in got


def test_global_pull_secret_comes_with_the_secret_list_when_listed_anyway() -> None:
    for scope in (Scope(None), Scope(("openshift-config",))):
        reads = plan_reads(scope, ALL, openshift=True)
        assert not any(r.name == "pull-secret" for r in reads)


def test_targets_are_read_by_name_and_are_primary() -> None:
    scope = Scope(("shop",), (Target("Deployment", "web"), Target("Secret", "regcred")))
    reads = plan_reads(scope, ALL, openshift=False)
    dep = [r for r in reads if r.kind == "Deployment"]
    assert len(dep) == 1 and dep[0].field_selector == "metadata.name=web" and dep[0].primary
    assert not any(r.kind == "Pod" for r in reads)
    assert next(r for r in reads if r.kind == "Secret").primary


def test_image_runs_read_service_accounts_and_secrets_only() -> None:
    reads = plan_reads(Scope(("shop",), images=True), ALL, openshift=False)
    assert {r.kind for r in reads} == {"ServiceAccount", "Secret"}


def test_trusted_ca_follow_up() -> None:
    cfg = {"kind": "Image", "spec": {"additionalTrustedCA": {"name": "registry-cas"}}}
    assert kinds(trusted_ca_read(cfg)) == {("ConfigMap", "openshift-config", "registry-cas")}
    assert trusted_ca_read({"kind": "Image", "spec": {}}) == []
    assert trusted_ca_read({"kind": "ClusterVersion"}) == []


def test_every_planned_kind_has_a_resource() -> None:
    for openshift in (False, True):
        for r in plan_reads(Scope(None), ALL, openshift):
            assert r.kind in RESOURCES


@pytest.mark.parametrize(("kind", "expect", "not_expect"), [
    ("Event", ["pull-error-observed"], ["no-matching-credential", "global-pull-secret-rollout-pending"]),
    ("Secret", ["pull-secret-malformed", "no-matching-credential"], ["pull-error-observed"]),
    ("MachineConfigPool", ["global-pull-secret-rollout-pending"], ["pull-secret-missing"]),
    ("SubjectAccessReview", ["cross-project-pull-denied"], ["pull-secret-missing"]),
    (needs.GLOBAL_PULL_SECRET, ["global-pull-secret-invalid", "no-matching-credential"], ["pull-error-observed"]),
])
def test_denied_kind_names_its_checks(kind: str, expect: list[str], not_expect: list[str]) -> None:
    users = needs.users_of(kind, ALL)
    assert set(expect) <= set(users)
    assert not set(not_expect) & set(users)
    assert "permission-denied" not in users


def test_image_config_denial_names_only_what_it_decides() -> None:
    users = set(needs.users_of(needs.IMAGE_CONFIG, ALL))
    assert {"registry-blocked", "cross-project-pull-denied", "internal-registry-disabled"} <= users
    assert not {"pull-secret-malformed", "pull-secret-missing", "global-pull-secret-invalid"} & users


def test_pod_denial_spares_the_cluster_level_checks() -> None:
    users = set(needs.users_of("Pod", ALL))
    assert {"pull-secret-missing", "pull-error-observed", "no-matching-credential"} <= users
    assert not {"global-pull-secret-invalid", "global-pull-secret-rollout-pending", "permission-denied"} & users
