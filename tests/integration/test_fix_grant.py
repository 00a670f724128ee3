"""`fix grant` against tests/fakekube, whose SubjectAccessReviews are answered from the
stored RBAC objects (the ClusterRole system:image-puller of add_standard_roles())."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubectl_pullsecret.kube import Cluster, ClusterOptions
from tests.fakekube import FakeKube, group, role_binding, user
from tests.fakekube import service_account as sa_subject
from tests.integration.fix_helpers import fix, writes
from tests.integration.live_helpers import (
    INTERNAL,
    Run,
    doctor_in_process,
    fake_kube,
    global_pull_secret,
    image_config,
    namespace,
    openshift_cluster,
    pod,
    service_account,
)

RBAC = "rbac.authorization.k8s.io"
BINDINGS = f"/apis/{RBAC}/v1/namespaces/b/rolebindings"
SA_BUILDER = {"kind": "ServiceAccount", "name": "builder", "namespace": "a"}
GROUP_A = {"kind": "Group", "apiGroup": RBAC, "name": "system:serviceaccounts:a"}


def cluster_objects() -> list[dict[str, Any]]:
    """Project a pulls images of project b from the internal registry: web-0 as default, build-0 as builder."""
    return [namespace("a"), namespace("b"), service_account("default", "a"), service_account("builder", "a"),
            service_account("default", "b"),
            pod("web-0", "a", f"{INTERNAL}/b/app:1"), pod("build-0", "a", f"{INTERNAL}/b/app:2", sa="builder"),
            pod("own-0", "a", f"{INTERNAL}/a/own:1"), image_config(), global_pull_secret()]


@pytest.fixture
def ocp() -> Iterator[FakeKube]:
    with fake_kube(openshift=True) as api:
        openshift_cluster(api, cluster_objects())  # standard roles, system:image-pullers in a and b
        yield api


@pytest.fixture
def kc(ocp: FakeKube, tmp_path: Path) -> Path:
    return ocp.kubeconfig(tmp_path / "kubeconfig", namespace="b")


def grant(kc: Path, *args: str) -> Run:
    return fix("grant", "--from-namespace", "a", *args, kubeconfig=kc)


def may_pull(kc: Path, sa: str) -> bool:
    """A real SubjectAccessReview through the API, as the registry asks it."""
    answer = Cluster.connect(ClusterOptions(str(kc))).may_pull("a", sa, "b")
    assert isinstance(answer, bool), answer
    return answer


def denied_pods(kc: Path) -> set[str]:
    run = doctor_in_process("-n", "a", "--no-probe", "-o", "json", "--checks", "cross-project-pull-denied",
                            kubeconfig=kc)
    assert run.code in (0, 1), run
    return {f["object"]["name"] for f in run.of("cross-project-pull-denied")}


def binding(api: FakeKube, name: str = "system:image-puller") -> dict[str, Any] | None:
    return api.get_object("RoleBinding", "b", name)


def test_grant_one_service_account(ocp: FakeKube, kc: Path) -> None:
    assert not may_pull(kc, "builder") and not may_pull(kc, "default")
    assert denied_pods(kc) == {"web-0", "build-0"}
    ocp.clear_log()
    run = grant(kc, "--sa", "builder")
    assert run.code == 0, run
    assert [(m, p) for m, p, _ in writes(ocp)] == [("POST", BINDINGS)]
    rb = binding(ocp)
    assert rb is not None
    assert rb["roleRef"] == {"apiGroup": RBAC, "kind": "ClusterRole", "name": "system:image-puller"}
    assert rb["subjects"] == [SA_BUILDER]
    assert "oc policy add-role-to-user system:image-puller system:serviceaccount:a:builder -n b" in run.out
    assert "warning:" not in run.out
    assert "may get imagestreams/layers in b (pull allowed)" in " ".join(run.out.split())
    # The re-check is about builder: web-0 (default) is still denied, and not this fix's business.
    assert "Re-check (pods of namespace a pulling from project b)" in run.out and "No problems found." in run.out
    assert may_pull(kc, "builder") and not may_pull(kc, "default")
    assert denied_pods(kc) == {"web-0"}


def test_grant_every_service_account(ocp: FakeKube, kc: Path) -> None:
    run = grant(kc, "--all-service-accounts")
    assert run.code == 0, run
    rb = binding(ocp)
    assert rb is not None and rb["subjects"] == [GROUP_A]
    assert "oc policy add-role-to-group system:image-puller system:serviceaccounts:a -n b" in run.out
    assert may_pull(kc, "builder") and may_pull(kc, "default")
    assert denied_pods(kc) == set()


def test_recheck_reports_what_remains_for_the_granted_account(ocp: FakeKube, kc: Path) -> None:
    """The doctor re-check is real: with a binding that names the role but the role gone,
    the grant is written, the review still says no, and the pod's finding is shown (exit 1)."""
    ocp.remove("ClusterRole", None, "system:image-puller")
    run = grant(kc, "--sa", "builder")
    assert run.code == 1, run
    assert binding(ocp) is not None
    assert "ClusterRole system:image-puller does not exist" in " ".join(run.out.split())
    assert "cross-project-pull-denied" in run.out and "build-0" in run.out and "web-0" not in run.out
    assert "still may not get imagestreams/layers" in " ".join(run.out.split())


def test_existing_binding_keeps_its_other_subjects(ocp: FakeKube, kc: Path) -> None:
    others = [user("alice"), sa_subject("robot", "c")]
    ocp.add(role_binding("system:image-puller", "b", "system:image-puller", others))
    ocp.clear_log()
    run = grant(kc, "--sa", "builder")
    assert run.code == 0, run
    assert [m for m, _, _ in writes(ocp)] == ["PUT"]
    rb = binding(ocp)
    assert rb is not None and rb["subjects"] == [*others, SA_BUILDER]
    assert "updated: rolebinding/system:image-puller -n b" in run.out
    assert "kubectl create rolebinding" not in run.out  # nothing created


@pytest.mark.parametrize("subjects, args", [
    ([group("system:serviceaccounts:a")], ("--sa", "builder")),
    ([group("system:serviceaccounts")], ("--sa", "builder")),
    ([sa_subject("builder", "a")], ("--sa", "builder")),
    ([group("system:serviceaccounts:a")], ("--all-service-accounts",)),
])
def test_a_covering_binding_is_reused(ocp: FakeKube, kc: Path, subjects: list[dict[str, Any]],
                                      args: tuple[str, ...]) -> None:
    ocp.add(role_binding("a-pullers", "b", "system:image-puller", subjects))
    ocp.clear_log()
    run = grant(kc, *args)
    assert run.code == 0, run
    assert writes(ocp) == []
    assert "rolebinding/a-pullers in namespace b already grants" in " ".join(run.out.split())
    assert binding(ocp) is None


def test_a_binding_of_another_role_does_not_count(ocp: FakeKube, kc: Path) -> None:
    ocp.add(role_binding("a-viewers", "b", "view", [group("system:serviceaccounts:a")]))
    run = grant(kc, "--sa", "builder")
    assert run.code == 0, run
    rb = binding(ocp)
    assert rb is not None and rb["subjects"] == [SA_BUILDER]


def test_a_taken_name_with_another_role_gets_another_name(ocp: FakeKube, kc: Path) -> None:
    ocp.add(role_binding("system:image-puller", "b", "view", [user("alice")]))
    before = binding(ocp)
    run = grant(kc, "--sa", "builder")
    assert run.code == 0, run
    assert binding(ocp) == before  # roleRef is immutable: left alone
    other = binding(ocp, "system:image-puller-a")
    assert other is not None and other["subjects"] == [SA_BUILDER]
    assert other["roleRef"]["name"] == "system:image-puller"
    assert may_pull(kc, "builder")


def test_second_run_writes_nothing(ocp: FakeKube, kc: Path) -> None:
    assert grant(kc, "--sa", "builder").code == 0
    ocp.clear_log()
    again = grant(kc, "--sa", "builder")
    assert again.code == 0, again
    assert writes(ocp) == []
    assert "nothing to do" in again.out and "already grants" in again.out


def test_concurrent_change_to_the_binding_is_kept(ocp: FakeKube, kc: Path) -> None:
    ocp.add(role_binding("system:image-puller", "b", "system:image-puller", [user("alice")]))

    def someone_adds_bob() -> None:
        rb = binding(ocp)
        assert rb is not None
        rb["subjects"].append(user("bob"))
        ocp.add(rb)

    ocp.before("PUT", r"/rolebindings/system:image-puller$", someone_adds_bob)
    ocp.clear_log()
    run = grant(kc, "--sa", "builder")
    assert run.code == 0, run
    assert [r.status for r in ocp.requests if r.method == "PUT"] == [409, 200]
    rb = binding(ocp)
    assert rb is not None and rb["subjects"] == [user("alice"), user("bob"), SA_BUILDER]


@pytest.mark.parametrize("dry_run", ["client", "server"])
def test_dry_run_stores_nothing(ocp: FakeKube, kc: Path, dry_run: str) -> None:
    ocp.clear_log()
    run = grant(kc, "--sa", "builder", f"--dry-run={dry_run}")
    assert run.code == 0, run
    sent = writes(ocp)
    assert [m for m, _, _ in sent] == ([] if dry_run == "client" else ["POST"])
    assert all(q.get("dryRun") == "All" for _, _, q in sent)
    assert binding(ocp) is None and not may_pull(kc, "builder")
    assert "would be created: rolebinding/system:image-puller" in run.out


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_output_prints_the_binding(ocp: FakeKube, kc: Path, fmt: str) -> None:
    run = grant(kc, "--all-service-accounts", "-o", fmt)
    assert run.code == 0, run
    doc = json.loads(run.out) if fmt == "json" else yaml.safe_load(run.out)
    (item,) = doc["items"]
    assert item["kind"] == "RoleBinding" and item["metadata"]["name"] == "system:image-puller"
    assert item["metadata"]["namespace"] == "b" and item["subjects"] == [GROUP_A]
    assert "created: rolebinding/system:image-puller" in run.err


def test_not_openshift_warns_but_grants(tmp_path: Path) -> None:
    with fake_kube(openshift=False) as api:
        api.add_standard_roles()
        api.add_all([namespace("a"), namespace("b")])
        kc = api.kubeconfig(tmp_path / "kubeconfig", namespace="b")
        run = grant(kc, "--sa", "builder")
        assert run.code == 0, run
        assert "this cluster is not OpenShift" in run.out
        assert "serviceaccount a/builder does not exist (yet)" in run.out
        assert "Re-check" not in run.out  # no doctor run: no internal registry
        assert binding(api) is not None and may_pull(kc, "builder")


def test_missing_cluster_role_warns(tmp_path: Path) -> None:
    with fake_kube(openshift=False) as api:
        kc = api.kubeconfig(tmp_path / "kubeconfig", namespace="b")
        run = grant(kc, "--all-service-accounts")
        assert "ClusterRole system:image-puller does not exist" in " ".join(run.out.split())
        assert binding(api) is not None
        assert run.code == 1, run  # the review still says no


def _user_with(api: FakeKube, tmp_path: Path, *bindings: dict[str, Any]) -> Path:
    api.add_user("dev", "dev-token")
    api.add_all(bindings)
    return api.kubeconfig(tmp_path / "dev-kubeconfig", user="dev", namespace="b")


def test_a_user_who_may_not_read_rolebindings(ocp: FakeKube, tmp_path: Path) -> None:
    kc = _user_with(ocp, tmp_path, role_binding("dev-edit", "b", "edit", [user("dev")]))
    ocp.clear_log()
    run = grant(kc, "--sa", "builder")
    assert run.code == 1, run
    lines = run.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), run
    assert f"oc auth can-i list rolebindings.{RBAC} -n b" in lines[0]
    assert writes(ocp) == []


def test_a_user_who_may_not_create_rolebindings(ocp: FakeKube, tmp_path: Path) -> None:
    reader = {"apiVersion": f"{RBAC}/v1", "kind": "Role", "metadata": {"name": "rb-reader", "namespace": "b"},
              "rules": [{"apiGroups": [RBAC], "resources": ["rolebindings"], "verbs": ["get", "list"]}]}
    kc = _user_with(ocp, tmp_path, reader, role_binding("dev-edit", "b", "edit", [user("dev")]),
                    role_binding("dev-read", "b", "rb-reader", [user("dev")], role_kind="Role"))
    run = grant(kc, "--sa", "builder")
    assert run.code == 1, run
    assert "FAILED: rolebinding/system:image-puller -n b" in run.out
    assert f"(check with: oc auth can-i create rolebindings.{RBAC} -n b)" in " ".join(run.out.split())
    assert binding(ocp) is None
    assert "Re-check" not in run.out
