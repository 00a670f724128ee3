"""fix restart's pure planning (kubectl_pullsecret/fixes/restart.py): which pods a restart
helps (DOMAIN.md §2: admission copies the SA's pull secrets into a pod only at its creation
and only when the pod lists none), whether a restart is already under way, selectors, and
the edits the apply layer runs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from kubectl_pullsecret.errors import FixError
from kubectl_pullsecret.fixes.model import DELETE
from kubectl_pullsecret.fixes.restart import (
    BARE_CONFIRM,
    RESTARTED_AT,
    Stale,
    Workload,
    dc_of,
    delete_edit,
    deployment_pending,
    label_selector,
    overriding,
    owned_by,
    plan_changes,
    restart_edit,
    restart_pending,
    stale_pods,
)
from kubectl_pullsecret.resolve import parse_selector, selector_matches

Obj = dict[str, Any]
SA = {"default": ("regcred", "extra")}


def pod(name: str, pull: Sequence[str] = (), *, sa: str | None = None, uid: str | None = None,
        created: str = "2026-10-01T00:00:00Z", phase: str = "Running", terminating: bool = False,
        owner: tuple[str, str] | None = None, annotations: dict[str, str] | None = None) -> Obj:
    spec: Obj = {"containers": [{"name": "app", "image": "quay.io/acme/web:1"}]}
    if sa:
        spec["serviceAccountName"] = sa
    if pull:
        spec["imagePullSecrets"] = [{"name": n} for n in pull]
    m: Obj = {"name": name, "namespace": "shop", "uid": uid or f"uid-{name}", "creationTimestamp": created}
    if terminating:
        m["deletionTimestamp"] = "2026-11-01T00:00:00Z"
    if owner:
        m["ownerReferences"] = [{"kind": owner[0], "name": owner[1], "controller": True}]
    if annotations:
        m["annotations"] = annotations
    return {"kind": "Pod", "metadata": m, "spec": spec, "status": {"phase": phase}}


def names(stale: Sequence[Stale]) -> list[str]:
    return [s.name for s in stale]


# --- which pods ------------------------------------------------------------------------------------------------

def test_pod_lacking_a_name_the_sa_lists_now_is_stale() -> None:
    (s,) = stale_pods([pod("a", ["regcred"])], SA, ())
    assert (s.name, s.uid, s.sa, s.has, s.lacks) == ("a", "uid-a", "default", ("regcred",), ("extra",))


def test_pods_carrying_every_sa_name_are_not_stale() -> None:
    pods = [pod("a", ["regcred", "extra"]), pod("b", ["extra", "regcred"]), pod("c", ["regcred", "extra", "old"])]
    assert stale_pods(pods, SA, ()) == []


def test_pod_with_none_lacks_all_of_them() -> None:
    (s,) = stale_pods([pod("a")], SA, ())
    assert s.lacks == ("regcred", "extra")


def test_template_listing_its_own_means_no_pod_is_stale() -> None:
    """Admission adds nothing to a pod that lists its own: a restart brings the SA's none."""
    assert stale_pods([pod("a", ["own"]), pod("b")], SA, ("own",)) == []


def test_terminating_and_finished_pods_do_not_count() -> None:
    pods = [pod("gone", terminating=True), pod("done", phase="Succeeded"), pod("failed", phase="Failed"),
            pod("pending", phase="Pending")]
    assert names(stale_pods(pods, SA, ())) == ["pending"]


def test_absent_secrets_are_no_reason() -> None:
    pods = [pod("a", ["regcred"]), pod("b")]
    assert [s.lacks for s in stale_pods(pods, SA, (), absent={"extra"})] == [("regcred",)]


def test_each_pod_is_compared_with_its_own_service_account() -> None:
    sas = {"default": ("regcred",), "builder": ("regcred", "extra"), "deprecated": ("x",)}
    legacy = pod("c")
    legacy["spec"]["serviceAccount"] = "deprecated"  # the deprecated field still names the SA
    pods = [pod("a", ["regcred"]), pod("b", ["regcred"], sa="builder"), legacy]
    assert [(s.name, s.sa, s.lacks) for s in stale_pods(pods, sas, ())] == [("b", "builder", ("extra",)),
                                                                              ("c", "deprecated", ("x",))]


def test_missing_service_account_lists_nothing() -> None:
    assert stale_pods([pod("a", sa="ghost")], SA, ()) == []


def test_bare_pod_with_only_sa_names_took_them_from_the_sa() -> None:
    assert names(stale_pods([pod("a", ["regcred"])], SA, None)) == ["a"]
    assert names(stale_pods([pod("b")], SA, None)) == ["b"]


def test_bare_pod_listing_other_names_lists_its_own() -> None:
    assert stale_pods([pod("a", ["own"])], SA, None) == []
    assert overriding(("own",), SA["default"], bare=True) == ("regcred", "extra")
    assert overriding(("regcred",), SA["default"], bare=True) == ()


def test_overriding_template() -> None:
    assert overriding(("own",), ("regcred", "own")) == ("regcred",)
    assert overriding(("regcred",), ("regcred",)) == ()
    assert overriding((), ("regcred",)) == ()
    # A template naming an SA secret itself still lists its own: the SA's others are shut out.
    assert overriding(("regcred",), ("regcred", "extra")) == ("extra",)


def test_stale_records_creation_controller_and_dc_version() -> None:
    p = pod("web-3-x", ["regcred"], owner=("ReplicationController", "web-3"),
            annotations={"openshift.io/deployment-config.name": "web",
                         "openshift.io/deployment-config.latest-version": "3"})
    (s,) = stale_pods([p], SA, ())
    assert (s.created, s.controller, s.version) == ("2026-10-01T00:00:00Z", "web-3", 3)


# --- a restart already under way -------------------------------------------------------------------------------

def stale(created: str | None, version: int | None = None) -> Stale:
    return Stale("p", "u", "default", (), ("extra",), created, None, version)


@pytest.mark.parametrize(("restarted", "created", "pending"), [
    ("2026-11-01T00:00:00Z", ["2026-10-01T00:00:00Z", "2026-10-31T23:59:59Z"], True),
    ("2026-11-01T00:00:00Z", ["2026-10-01T00:00:00Z", "2026-11-01T00:00:00Z"], False),  # same second: not proven
    ("2026-11-01T00:00:00Z", ["2026-10-01T00:00:00Z", "2026-11-02T00:00:00Z"], False),  # a pod after it
    ("2026-11-01T01:00:00+01:00", ["2026-10-31T23:30:00Z"], True),  # kubectl writes local time with an offset
    ("2026-11-01T01:00:00+01:00", ["2026-11-01T00:30:00Z"], False),
    (None, ["2026-10-01T00:00:00Z"], False),
    ("yesterday", ["2026-10-01T00:00:00Z"], False),
    ("2026-11-01T00:00:00Z", [None], False),  # unknown creation: restart again rather than guess
    ("2026-11-01T00:00:00Z", [], False),
])
def test_restart_pending(restarted: str | None, created: list[str | None], pending: bool) -> None:
    assert restart_pending([stale(c) for c in created], restarted) is pending


@pytest.mark.parametrize(("versions", "latest", "phase", "pending"), [
    ([3, 3], 4, None, True),  # #4 not created yet
    ([3], 4, "Running", True),
    ([3], 4, "Complete", True),
    ([3], 4, "Failed", False),  # #4 failed: the old pods stay; deploy again
    ([4], 4, "Complete", False),  # the stale pods are the latest deployment's
    ([3, None], 4, None, False),
    ([3], None, None, False),
])
def test_deployment_pending(versions: list[int | None], latest: int | None, phase: str | None,
                            pending: bool) -> None:
    assert deployment_pending([stale("2026-10-01T00:00:00Z", v) for v in versions], latest, phase) is pending


def test_dc_of() -> None:
    rc = ("ReplicationController", "web-3")
    assert dc_of(pod("a", owner=rc, annotations={"openshift.io/deployment-config.name": "web"})) == ("web", 3)
    assert dc_of(pod("a", owner=rc)) == ("web", 3)  # no annotations: the ReplicationController's name
    assert dc_of(pod("a", owner=("ReplicationController", "plain"))) is None
    assert dc_of(pod("a", owner=("ReplicaSet", "web-3"))) is None
    assert dc_of(pod("a")) is None


# --- selectors and owners ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(("selector", "expected"), [
    ({"matchLabels": {"app": "web", "tier": "fe"}}, "app=web,tier=fe"),
    ({"matchLabels": {"app": "web"},
      "matchExpressions": [{"key": "env", "operator": "In", "values": ["a", "b"]},
                           {"key": "canary", "operator": "NotIn", "values": ["true"]},
                           {"key": "team", "operator": "Exists"},
                           {"key": "legacy", "operator": "DoesNotExist"}]},
     "app=web,env in (a,b),canary notin (true),team,!legacy"),
    ({"app": "web", "deploymentconfig": "web"}, "app=web,deploymentconfig=web"),  # RC / DC: a plain map
    ({"matchExpressions": [{"key": "x", "operator": "Gt", "values": ["1"]}]}, ""),  # not expressible: all
    (None, ""),
    ({}, ""),
])
def test_label_selector(selector: Any, expected: str) -> None:
    assert label_selector(selector) == expected


def test_label_selector_selects_what_the_selector_means() -> None:
    query = label_selector({"matchLabels": {"app": "web"},
                            "matchExpressions": [{"key": "env", "operator": "In", "values": ["a", "b"]},
                                                 {"key": "legacy", "operator": "DoesNotExist"}]})
    requirements = parse_selector(query)
    assert selector_matches(requirements, {"app": "web", "env": "b"})
    assert not selector_matches(requirements, {"app": "web", "env": "c"})
    assert not selector_matches(requirements, {"app": "web", "env": "a", "legacy": "1"})
    assert not selector_matches(requirements, {"env": "a"})


def test_owned_by_checks_the_controller_and_its_uid() -> None:
    p = pod("a")
    p["metadata"]["ownerReferences"] = [{"kind": "ReplicaSet", "name": "web-1", "uid": "u1", "controller": False},
                                        {"kind": "ReplicaSet", "name": "web-2", "uid": "u2", "controller": True}]
    assert owned_by(p, "ReplicaSet", "web-2", "u2")
    assert owned_by(p, "ReplicaSet", "web-2")
    assert not owned_by(p, "ReplicaSet", "web-2", "other-uid")  # a namesake recreated since
    assert not owned_by(p, "ReplicaSet", "web-1")  # not the controller
    assert not owned_by(pod("bare"), "ReplicaSet", "web-2")


# --- edits and changes ------------------------------------------------------------------------------------------

def test_restart_edit_stamps_the_template_and_keeps_the_rest() -> None:
    dep: Obj = {"kind": "Deployment", "metadata": {"name": "web", "resourceVersion": "7"},
                "spec": {"replicas": 5, "template": {"metadata": {"labels": {"app": "web"},
                                                                   "annotations": {"team": "payments"}},
                                                      "spec": {"containers": []}}}}
    out = restart_edit("Deployment", "shop", "web", "2026-11-28T10:00:00Z")(dep)
    assert out["spec"]["template"]["metadata"]["annotations"] == {"team": "payments",
                                                                  RESTARTED_AT: "2026-11-28T10:00:00Z"}
    assert out["spec"]["replicas"] == 5 and out["spec"]["template"]["metadata"]["labels"] == {"app": "web"}
    bare_template: Obj = {"kind": "Deployment", "metadata": {"name": "web"}, "spec": {"template": {"spec": {}}}}
    stamped = restart_edit("Deployment", "shop", "web", "T")(bare_template)
    assert stamped["spec"]["template"]["metadata"]["annotations"] == {RESTARTED_AT: "T"}


def test_restart_edit_of_a_vanished_workload_refuses() -> None:
    with pytest.raises(FixError, match="deployment/web not found in namespace shop"):
        restart_edit("Deployment", "shop", "web", "T")(None)


def test_delete_edit_deletes_only_the_planned_pod() -> None:
    edit = delete_edit("uid-a")
    assert edit(pod("a", uid="uid-a")) is DELETE
    recreated = pod("a", uid="uid-new")
    assert edit(recreated) == recreated  # same name, another pod: left alone
    terminating = pod("a", uid="uid-a", terminating=True)
    assert edit(terminating) == terminating
    assert edit(None) is None


def workload(kind: str, how: str, name: str = "web") -> Workload:
    return Workload(kind, name, {"kind": kind, "metadata": {"name": name}, "spec": {}}, how)


def test_plan_rollout_is_one_change_applied_directly() -> None:
    (change,) = plan_changes(workload("Deployment", "rollout"), "shop", [stale("2026-10-01T00:00:00Z")] * 2, "T")
    assert (change.kind, change.name, change.confirm, change.subresource_post) == ("Deployment", "web", None, None)
    assert change.equivalent == ("oc rollout restart deployment/web -n shop",)
    assert "2 pod(s) lacking extra" in change.summary


def test_plan_deploymentconfig_posts_instantiate() -> None:
    (change,) = plan_changes(workload("DeploymentConfig", "instantiate"), "shop", [stale(None)], "T")
    assert change.subresource_post == "instantiate" and change.equivalent == ("oc rollout latest dc/web -n shop",)


def test_plan_deletes_one_pod_per_change_with_its_uid() -> None:
    pods = [Stale("web-a", "ua", "default", (), ("extra",), None, "web"),
            Stale("web-b", "ub", "default", (), ("extra",), None, "web")]
    changes = plan_changes(workload("ReplicaSet", "delete"), "shop", pods, "T")
    assert [(c.kind, c.name, c.confirm) for c in changes] == [("Pod", "web-a", None), ("Pod", "web-b", None)]
    assert changes[0].equivalent == ("oc delete pod web-a -n shop",)
    assert changes[0].edit(pod("web-a", uid="ua")) is DELETE
    assert changes[0].edit(pod("web-a", uid="ub")) is not DELETE


def test_plan_bare_pod_asks_first() -> None:
    (change,) = plan_changes(workload("Pod", "bare", "debug"), "shop",
                             [Stale("debug", "u", "default", (), ("extra",))], "T")
    assert change.confirm == BARE_CONFIRM
