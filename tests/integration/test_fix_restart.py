"""`fix restart KIND/NAME` against tests/fakekube: pods created before their service account
gained a pull secret are recreated (DOMAIN.md §2: admission copies the SA's pull secrets only
at pod creation), and nothing is written when every pod already has them (SPEC: idempotent).

FakeKube has no controllers: where a test needs pods replaced after a restart, it plays the
controller itself (simulate_rollout, or a thread for --wait)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.fakekube import FakeKube
from tests.integration.fix_helpers import fix, writes
from tests.integration.live_helpers import auth, fake_kube, namespace, pod, pull_secret, service_account

NS = "shop"
IMAGE = "quay.io/acme/web:1.2"
OLD = "2026-10-01T00:00:00Z"  # before the SA gained "extra"
ANNOTATION = "kubectl.kubernetes.io/restartedAt"

Obj = dict[str, Any]


# --- a cluster -------------------------------------------------------------------------------------------------

def owner(obj: Obj) -> list[Obj]:
    m = obj["metadata"]
    return [{"apiVersion": obj["apiVersion"], "kind": obj["kind"], "name": m["name"], "uid": m["uid"],
             "controller": True, "blockOwnerDeletion": True}]


def template(labels: dict[str, str], pull: Sequence[str] = ()) -> Obj:
    spec: Obj = {"serviceAccountName": "default", "containers": [{"name": "app", "image": IMAGE}]}
    if pull:
        spec["imagePullSecrets"] = [{"name": n} for n in pull]
    return {"metadata": {"labels": dict(labels)}, "spec": spec}


def workload(kind: str, name: str, *, pull: Sequence[str] = (), api_version: str = "apps/v1", **spec: Any) -> Obj:
    labels = {"app": name}
    return {"apiVersion": api_version, "kind": kind, "metadata": {"name": name, "namespace": NS},
            "spec": {"selector": {"matchLabels": labels}, "template": template(labels, pull), **spec}}


def add_pod(api: FakeKube, name: str, parent: Obj | None, pull: Sequence[str], *, app: str = "web",
            created: str = OLD) -> Obj:
    """A pod as admission left it: `pull` is what it got (from the SA, at its creation)."""
    obj = pod(name, NS, IMAGE, pull=pull, labels={"app": app}, created=created)
    if parent is not None:
        obj["metadata"]["ownerReferences"] = owner(parent)
    return api.add(obj)


def base(api: FakeKube, sa_pull: Sequence[str] = ("regcred", "extra")) -> None:
    api.add(namespace(NS))
    api.add(service_account("default", NS, pull=sa_pull))
    for name in ("regcred", "extra", "own"):
        api.add(pull_secret(name, NS, {"quay.io": auth(f"bot-{name}", f"pw-{name}")}))


def deployment(api: FakeKube, *, pods: int = 2, pull: Sequence[str] = ("regcred",), template_pull: Sequence[str] = (),
               **spec: Any) -> tuple[Obj, Obj]:
    """Deployment web -> ReplicaSet web-5d8f -> pods web-5d8f-0.. carrying `pull`."""
    dep = api.add(workload("Deployment", "web", pull=template_pull, replicas=pods, **spec))
    rs_obj = workload("ReplicaSet", "web-5d8f", pull=template_pull, replicas=pods)
    rs_obj["spec"]["selector"]["matchLabels"]["app"] = "web"
    rs_obj["spec"]["template"]["metadata"]["labels"]["app"] = "web"
    rs_obj["metadata"]["ownerReferences"] = owner(dep)
    rs = api.add(rs_obj)
    for i in range(pods):
        add_pod(api, f"web-5d8f-{i}", rs, pull)
    return dep, rs


def simulate_rollout(api: FakeKube, dep: Obj, pods: int = 2) -> None:
    """What the Deployment controller does after a restart: a new ReplicaSet whose pods,
    created now, got the SA's current pull secrets from admission; the old pods gone."""
    for p in api.list_objects("Pod", NS):
        api.remove("Pod", NS, p["metadata"]["name"])
    rs_obj = workload("ReplicaSet", "web-77c9", replicas=pods)
    rs_obj["spec"]["selector"]["matchLabels"]["app"] = "web"
    rs_obj["metadata"]["ownerReferences"] = owner(dep)
    rs = api.add(rs_obj)
    sa = api.get_object("ServiceAccount", NS, "default")
    assert sa is not None
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    for i in range(pods):
        add_pod(api, f"web-77c9-{i}", rs, [r["name"] for r in sa["imagePullSecrets"]], created=now)


@pytest.fixture
def api() -> Iterator[FakeKube]:
    with fake_kube() as fake:
        yield fake


@pytest.fixture
def kc(api: FakeKube, tmp_path: Path) -> Path:
    return api.kubeconfig(tmp_path / "kubeconfig", namespace=NS)


def restart(kc: Path, *args: str, stdin: str = "", tty: bool = False) -> Any:
    return fix("restart", *args, "--no-probe", kubeconfig=kc, stdin=stdin, tty=tty)


def annotation(api: FakeKube, kind: str = "Deployment", name: str = "web") -> str | None:
    obj = api.get_object(kind, NS, name)
    assert obj is not None
    value = ((obj["spec"]["template"].get("metadata") or {}).get("annotations") or {}).get(ANNOTATION)
    return str(value) if value is not None else None


def flat(text: str) -> str:
    """The output with its wrapped lines joined (phrases may be cut at any space)."""
    return " ".join(text.split())


def pod_names(api: FakeKube) -> set[str]:
    return {p["metadata"]["name"] for p in api.list_objects("Pod", NS)}


# --- Deployments -----------------------------------------------------------------------------------------------

def test_deployment_restart_then_nothing_once_the_pods_carry_the_secrets(api: FakeKube, kc: Path) -> None:
    base(api)
    dep, _ = deployment(api)
    api.clear_log()
    before = datetime.now(UTC).replace(microsecond=0)
    run = restart(kc, "deployment/web")
    assert run.code == 0, run
    assert writes(api) == [("PUT", f"/apis/apps/v1/namespaces/{NS}/deployments/web", {})], run
    stamp = annotation(api)
    assert stamp is not None
    assert datetime.fromisoformat(stamp.replace("Z", "+00:00")) >= before
    assert "updated: deployment/web" in flat(run.out) and "lacking extra" in flat(run.out), run
    assert f"equivalent: oc rollout restart deployment/web -n {NS}" in run.out, run
    assert f"kubectl rollout status deployment/web -n {NS}" in flat(run.out), run  # how to follow, without --wait
    assert "Re-check (deployment/web" in run.out, run
    stored = api.get_object("Deployment", NS, "web")
    assert stored is not None and stored["spec"]["replicas"] == 2 and stored["spec"]["template"]["spec"] == \
        dep["spec"]["template"]["spec"]

    simulate_rollout(api, dep)
    api.clear_log()
    again = restart(kc, "deployment/web")
    assert again.code == 0, again
    assert writes(api) == [], again
    assert ("nothing to do: every pod of deployment/web already carries serviceaccount/default's pull secrets "
            "(regcred, extra)") in flat(again.out), again
    assert annotation(api) == stamp


def test_second_run_while_the_rollout_is_under_way_writes_nothing(api: FakeKube, kc: Path) -> None:
    """Decision: the restart requested by the first run (restartedAt later than every stale pod)
    replaces those pods; a second run before the controller did so must not start yet another
    rollout of the same template (SPEC: a second run writes nothing)."""
    base(api)
    deployment(api)
    assert restart(kc, "deployment/web").code == 0
    stamp = annotation(api)
    api.clear_log()
    run = restart(kc, "deployment/web")
    assert run.code == 0, run
    assert writes(api) == [], run
    assert f"was requested at {stamp}" in flat(run.out), run
    assert annotation(api) == stamp


def test_an_older_restart_does_not_count_for_pods_created_after_it(api: FakeKube, kc: Path) -> None:
    """restartedAt from before the pods were created (an earlier restart, before the SA changed):
    those pods are not being replaced, so a restart is requested."""
    base(api)
    spec_template = template({"app": "web"})
    spec_template["metadata"]["annotations"] = {ANNOTATION: "2026-09-01T00:00:00Z"}
    dep, _ = deployment(api, template=spec_template)
    api.clear_log()
    run = restart(kc, "deployment/web")
    assert run.code == 0, run
    assert [w[0] for w in writes(api)] == ["PUT"], run
    assert annotation(api) != "2026-09-01T00:00:00Z"


def test_every_pod_current_writes_nothing(api: FakeKube, kc: Path) -> None:
    base(api)
    deployment(api, pull=("regcred", "extra"))
    api.clear_log()
    run = restart(kc, "deploy/web")
    assert run.code == 0, run
    assert writes(api) == [], run
    assert "already carries serviceaccount/default's pull secrets" in flat(run.out), run
    assert annotation(api) is None


def test_pod_with_more_than_the_sa_lists_is_current(api: FakeKube, kc: Path) -> None:
    """The SA dropped a name since: the pod still carries every name the SA lists now."""
    base(api, sa_pull=("regcred",))
    deployment(api, pull=("regcred", "extra"))
    api.clear_log()
    run = restart(kc, "deployment/web")
    assert run.code == 0 and writes(api) == [], run


def test_template_with_its_own_pull_secrets_is_not_restarted(api: FakeKube, kc: Path) -> None:
    base(api)
    deployment(api, pull=("own",), template_pull=("own",))
    api.clear_log()
    run = restart(kc, "deployment/web")
    assert writes(api) == [], run
    text = flat(run.out)
    assert "lists its own imagePullSecrets (own)" in text and "pod-overrides-sa-secrets" in text, run
    assert "kubectl patch deployment web -n shop --type=json" in text, run  # what to do instead
    # The re-check still finds the override: the problem the restart was for remains.
    assert run.code == 1, run
    assert annotation(api) is None


def test_zero_pods_is_nothing_to_restart(api: FakeKube, kc: Path) -> None:
    base(api)
    api.add(workload("Deployment", "web", replicas=0))
    api.clear_log()
    run = restart(kc, "deployment/web")
    assert run.code == 0, run
    assert writes(api) == [], run
    assert "deployment/web has no running pod" in flat(run.out), run


def test_a_missing_sa_secret_is_no_reason_to_restart(api: FakeKube, kc: Path) -> None:
    base(api, sa_pull=("regcred", "not-created-yet"))
    deployment(api)
    api.clear_log()
    run = restart(kc, "deployment/web")
    assert writes(api) == [], run
    assert "not-created-yet (listed by the service account) does not exist" in flat(run.out), run


def test_pods_of_another_deployment_with_matching_labels_do_not_count(api: FakeKube, kc: Path) -> None:
    """Selected by labels but controlled by someone else: not this workload's pods."""
    base(api)
    deployment(api, pull=("regcred", "extra"))
    other = api.add(workload("ReplicaSet", "stray"))
    add_pod(api, "stray-0", other, ["regcred"])  # app=web too, stale, but not web's
    api.clear_log()
    run = restart(kc, "deployment/web")
    assert run.code == 0 and writes(api) == [], run


def test_pod_target_restarts_its_deployment(api: FakeKube, kc: Path) -> None:
    base(api)
    deployment(api)
    api.clear_log()
    run = restart(kc, "pod/web-5d8f-1")
    assert run.code == 0, run
    assert writes(api) == [("PUT", f"/apis/apps/v1/namespaces/{NS}/deployments/web", {})], run
    assert "belongs to replicaset/web-5d8f, which belongs to deployment/web" in flat(run.out), run
    assert annotation(api) is not None
    assert pod_names(api) == {"web-5d8f-0", "web-5d8f-1"}  # no pod deleted


def test_concurrent_change_is_kept_with_the_annotation(api: FakeKube, kc: Path) -> None:
    base(api)
    deployment(api)

    def scale_and_label() -> None:  # another client, between the fix's read and its write
        obj = api.get_object("Deployment", NS, "web")
        assert obj is not None
        obj["spec"]["replicas"] = 5
        obj["metadata"].setdefault("labels", {})["team"] = "payments"
        api.add(obj)

    api.before("PUT", r"/deployments/web$", scale_and_label)
    api.clear_log()
    run = restart(kc, "deployment/web")
    assert run.code == 0, run
    stored = api.get_object("Deployment", NS, "web")
    assert stored is not None
    assert stored["spec"]["replicas"] == 5 and stored["metadata"]["labels"] == {"team": "payments"}
    assert annotation(api) is not None
    puts = [r for r in api.requests if r.method == "PUT"]
    assert [r.status for r in puts] == [409, 200], run
    assert "re-read and re-applied after 1 concurrent change" in flat(run.out), run


def test_paused_deployment_is_restarted_with_a_warning(api: FakeKube, kc: Path) -> None:
    base(api)
    deployment(api, paused=True)
    run = restart(kc, "deployment/web")
    assert run.code == 0, run
    assert annotation(api) is not None
    assert f"oc rollout resume deployment/web -n {NS}" in flat(run.out), run


@pytest.mark.parametrize("mode", ["client", "server"])
def test_dry_run_stores_nothing(api: FakeKube, kc: Path, mode: str) -> None:
    base(api)
    deployment(api)
    api.clear_log()
    run = restart(kc, "deployment/web", f"--dry-run={mode}", "-o", "yaml")
    assert run.code == 0, run
    assert annotation(api) is None
    sent = writes(api)
    assert sent == ([] if mode == "client" else
                    [("PUT", f"/apis/apps/v1/namespaces/{NS}/deployments/web", {"dryRun": "All"})]), run
    doc = yaml.safe_load(run.out)
    (item,) = doc["items"]
    assert item["kind"] == "Deployment" and ANNOTATION in item["spec"]["template"]["metadata"]["annotations"]
    assert "would be updated: deployment/web" in run.err, run
    assert "Re-check" not in run.err, run  # nothing changed: nothing to re-check


def test_forbidden_update_is_one_line_naming_can_i(api: FakeKube, kc: Path) -> None:
    base(api)
    deployment(api)
    api.forbid("deployments", verb="update")
    run = restart(kc, "deployment/web")
    assert run.code == 1, run
    assert annotation(api) is None
    lines = [line for line in (run.out + run.err).splitlines() if "oc auth can-i" in line]
    assert len(lines) == 1, run
    assert f"oc auth can-i update deployments.apps -n {NS}" in lines[0], run
    assert "Traceback" not in run.err


# --- --wait --------------------------------------------------------------------------------------------------

def test_wait_follows_the_rollout_until_every_pod_has_the_secrets(api: FakeKube, kc: Path) -> None:
    base(api)
    dep, _ = deployment(api)
    done = threading.Event()

    def controller() -> None:  # replaces the pods some time after the template changed
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and annotation(api) is None:
            time.sleep(0.05)
        time.sleep(0.5)
        simulate_rollout(api, dep)
        done.set()

    thread = threading.Thread(target=controller, daemon=True)
    thread.start()
    started = time.monotonic()
    run = restart(kc, "deployment/web", "--wait", "20s")
    thread.join(5)
    assert done.is_set()
    assert run.code == 0, run
    assert time.monotonic() - started < 15
    progress = [line for line in run.err.splitlines() if line.startswith("waiting for deployment/web")]
    assert len(progress) >= 2, run  # before and after the controller's replacement
    assert "2 of 2 pod(s) still to replace" in progress[0] and "0 of 2 pod(s) still to replace" in progress[-1]
    assert "every pod of deployment/web now carries" in flat(run.out), run
    assert "and its pods" in flat(run.out), run  # the re-check covered the new pods too


def test_wait_times_out_without_a_controller(api: FakeKube, kc: Path) -> None:
    base(api)
    deployment(api)
    started = time.monotonic()
    run = restart(kc, "deployment/web", "--wait", "1s")
    assert run.code == 1, run
    assert 1.0 <= time.monotonic() - started < 10
    assert "gave up waiting after 1s" in flat(run.out), run
    assert annotation(api) is not None  # the restart itself was written


def test_wait_zero_does_not_wait(api: FakeKube, kc: Path) -> None:
    base(api)
    deployment(api)
    run = restart(kc, "deployment/web", "--wait", "0")
    assert run.code == 0, run
    assert "waiting for" not in run.err and "kubectl rollout status deployment/web" in flat(run.out), run


# --- deleting pods ---------------------------------------------------------------------------------------------

def bare(api: FakeKube) -> Obj:
    base(api)
    return add_pod(api, "debug", None, ["regcred"])


def deletes(api: FakeKube) -> list[str]:
    return [p for m, p, _ in writes(api) if m == "DELETE"]


def test_bare_pod_without_tty_or_yes_prints_the_plan_and_exits_1(api: FakeKube, kc: Path) -> None:
    bare(api)
    api.clear_log()
    run = restart(kc, "pod/debug")
    assert run.code == 1, run
    assert deletes(api) == [], run
    assert "not applied: pod/debug" in flat(run.out) and "nothing recreates a bare pod" in flat(run.out), run
    assert "debug" in pod_names(api)


def test_bare_pod_with_yes_is_deleted_with_its_uid(api: FakeKube, kc: Path) -> None:
    bare(api)
    api.clear_log()
    run = restart(kc, "pod/debug", "--yes")
    assert run.code == 0, run
    assert deletes(api) == [f"/api/v1/namespaces/{NS}/pods/debug"], run
    assert "debug" not in pod_names(api)
    assert "re-create pod/debug from its manifest" in flat(run.out), run
    assert "Re-check (serviceaccount/default" in run.out, run


def test_bare_pod_recreated_meanwhile_is_not_deleted(api: FakeKube, kc: Path) -> None:
    """The DELETE carries the planned pod's uid: a pod re-created under that name in between
    (another uid) is answered 409 and, re-read, left alone."""
    bare(api)

    def recreate() -> None:
        api.remove("Pod", NS, "debug")
        add_pod(api, "debug", None, ["regcred", "extra"])

    api.before("DELETE", r"/pods/debug$", recreate)
    api.clear_log()
    run = restart(kc, "pod/debug", "--yes")
    assert [r.status for r in api.requests if r.method == "DELETE"] == [409], run
    survivor = api.get_object("Pod", NS, "debug")
    assert survivor is not None and len(survivor["spec"]["imagePullSecrets"]) == 2
    assert "unchanged: pod/debug" in flat(run.out), run


@pytest.mark.parametrize(("answer", "gone"), [("n\n", False), ("y\n", True)])
def test_bare_pod_on_a_terminal_asks(api: FakeKube, kc: Path, answer: str, gone: bool) -> None:
    bare(api)
    api.clear_log()
    run = restart(kc, "pod/debug", stdin=answer, tty=True)
    assert "[y/N]" in run.err, run
    assert ("debug" not in pod_names(api)) is gone
    assert (deletes(api) != []) is gone
    assert run.code == (0 if gone else 1), run


def test_bare_pod_already_current_is_nothing_to_do(api: FakeKube, kc: Path) -> None:
    base(api)
    add_pod(api, "debug", None, ["regcred", "extra"])
    api.clear_log()
    run = restart(kc, "pod/debug")
    assert run.code == 0 and writes(api) == [], run
    assert "pod/debug carries serviceaccount/default's pull secrets" in flat(run.out), run


def test_replicaset_without_deployment_deletes_only_its_stale_pods(api: FakeKube, kc: Path) -> None:
    base(api)
    rs = api.add(workload("ReplicaSet", "web", replicas=3))
    add_pod(api, "web-a", rs, ["regcred"])
    add_pod(api, "web-b", rs, ["regcred"])
    add_pod(api, "web-c", rs, ["regcred", "extra"])
    api.clear_log()
    run = restart(kc, "rs/web")
    assert run.code == 0, run
    assert sorted(deletes(api)) == [f"/api/v1/namespaces/{NS}/pods/web-a", f"/api/v1/namespaces/{NS}/pods/web-b"]
    assert pod_names(api) == {"web-c"}
    assert f"equivalent: oc delete pod web-a -n {NS}" in run.out, run
    assert not [w for w in writes(api) if "replicasets" in w[1]]


def test_replicaset_deletion_wait_needs_the_replacements(api: FakeKube, kc: Path) -> None:
    """Deleting is not the end: --wait also waits for as many live pods as before."""
    base(api)
    rs = api.add(workload("ReplicaSet", "web", replicas=1))
    add_pod(api, "web-a", rs, ["regcred"])

    def controller() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and "web-a" in pod_names(api):
            time.sleep(0.05)
        time.sleep(0.4)
        add_pod(api, "web-z", rs, ["regcred", "extra"], created=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))

    thread = threading.Thread(target=controller, daemon=True)
    thread.start()
    run = restart(kc, "replicaset/web", "--wait", "20s")
    thread.join(5)
    assert run.code == 0, run
    assert "0/1 live pod(s)" in run.err and "1/1 live pod(s)" in run.err, run


def test_job_pods_are_deleted_not_the_cronjob(api: FakeKube, kc: Path) -> None:
    base(api)
    cron = api.add({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "nightly", "namespace": NS},
                    "spec": {"schedule": "0 1 * * *", "jobTemplate": {"spec": {"template": template({})}}}})
    job_obj = {"apiVersion": "batch/v1", "kind": "Job",
               "metadata": {"name": "nightly-1", "namespace": NS, "ownerReferences": owner(cron)},
               "spec": {"selector": {"matchLabels": {"job-name": "nightly-1"}},
                        "template": template({"job-name": "nightly-1"})}}
    job = api.add(job_obj)
    p = pod("nightly-1-x", NS, IMAGE, pull=["regcred"], labels={"job-name": "nightly-1"}, created=OLD)
    p["metadata"]["ownerReferences"] = owner(job)
    api.add(p)
    api.clear_log()
    run = restart(kc, "pod/nightly-1-x")
    assert run.code == 0, run
    assert deletes(api) == [f"/api/v1/namespaces/{NS}/pods/nightly-1-x"], run
    assert "restarting job/nightly-1" in flat(run.out), run
    assert annotation(api, "Job", "nightly-1") is None


def test_cronjob_without_active_job_is_nothing_to_do(api: FakeKube, kc: Path) -> None:
    base(api)
    api.add({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "nightly", "namespace": NS},
             "spec": {"schedule": "0 1 * * *", "jobTemplate": {"spec": {"template": template({})}}}})
    api.clear_log()
    run = restart(kc, "cronjob/nightly")
    assert run.code == 0 and writes(api) == [], run
    assert "the next scheduled Job's pods get serviceaccount/default's pull secrets" in flat(run.out)


def test_statefulset_on_delete_deletes_its_pods(api: FakeKube, kc: Path) -> None:
    """updateStrategy OnDelete: a template change replaces no pod, so the pods are deleted."""
    base(api)
    sts = api.add(workload("StatefulSet", "db", replicas=1, updateStrategy={"type": "OnDelete"}))
    add_pod(api, "db-0", sts, ["regcred"], app="db")
    api.clear_log()
    run = restart(kc, "sts/db")
    assert run.code == 0, run
    assert deletes(api) == [f"/api/v1/namespaces/{NS}/pods/db-0"] and annotation(api, "StatefulSet", "db") is None


# --- DeploymentConfig (OpenShift) -----------------------------------------------------------------------------

def test_deploymentconfig_rollout_latest(tmp_path: Path) -> None:
    """FakeKube serves no ReplicationControllers: the pod carries what the DeploymentConfig
    controller puts on its pods (owner web-3, the config's name and version annotations)."""
    with fake_kube(openshift=True) as api:
        base(api)
        api.add({"apiVersion": "apps.openshift.io/v1", "kind": "DeploymentConfig",
                 "metadata": {"name": "web", "namespace": NS},
                 "spec": {"replicas": 1, "selector": {"app": "web"}, "template": template({"app": "web"})},
                 "status": {"latestVersion": 3}})
        p = pod("web-3-abcde", NS, IMAGE, pull=["regcred"], labels={"app": "web"}, created=OLD)
        p["metadata"]["annotations"] = {"openshift.io/deployment-config.name": "web",
                                        "openshift.io/deployment-config.latest-version": "3"}
        p["metadata"]["ownerReferences"] = [{"apiVersion": "v1", "kind": "ReplicationController", "name": "web-3",
                                             "uid": "rc-uid", "controller": True}]
        api.add(p)
        kc = api.kubeconfig(tmp_path / "kc", namespace=NS)
        api.clear_log()
        run = restart(kc, "dc/web")
        assert run.code == 0, run
        assert writes(api) == [("POST", f"/apis/apps.openshift.io/v1/namespaces/{NS}/deploymentconfigs/web/instantiate",
                                {})], run
        stored = api.get_object("DeploymentConfig", NS, "web")
        assert stored is not None and stored["status"]["latestVersion"] == 4
        assert f"equivalent: oc rollout latest dc/web -n {NS}" in run.out, run
        assert f"oc rollout status dc/web -n {NS}" in flat(run.out), run
        # Deployment #4 is under way (its ReplicationController not yet created): not requested again.
        api.clear_log()
        again = restart(kc, "deploymentconfig/web")
        assert again.code == 0 and writes(api) == [], again
        assert "deployment #4 of deploymentconfig/web" in flat(again.out), again
        # --dry-run=server sends the request with dryRun=All; nothing is stored.
        api.remove("Pod", NS, "web-3-abcde")
        p["metadata"]["annotations"]["openshift.io/deployment-config.latest-version"] = "4"
        p["metadata"]["ownerReferences"][0]["name"] = "web-4"
        p["metadata"]["creationTimestamp"] = OLD
        api.add(p)
        api.clear_log()
        dry = restart(kc, "dc/web", "--dry-run=server")
        assert dry.code == 0, dry
        assert writes(api) == [("POST", f"/apis/apps.openshift.io/v1/namespaces/{NS}/deploymentconfigs/web/instantiate",
                                {"dryRun": "All"})], dry
        stored = api.get_object("DeploymentConfig", NS, "web")
        assert stored is not None and stored["status"]["latestVersion"] == 4


def test_pod_of_a_deploymentconfig_restarts_the_config_through_its_replication_controller(tmp_path: Path) -> None:
    """pod/NAME -> ReplicationController web-3 (a real object now) -> DeploymentConfig web:
    `oc rollout latest`; and a ReplicationController named directly resolves the same way."""
    with fake_kube(openshift=True) as api:
        base(api)
        dc = api.add({"apiVersion": "apps.openshift.io/v1", "kind": "DeploymentConfig",
                      "metadata": {"name": "web", "namespace": NS},
                      "spec": {"replicas": 1, "selector": {"app": "web"}, "template": template({"app": "web"})},
                      "status": {"latestVersion": 3}})
        rc = api.add({"apiVersion": "v1", "kind": "ReplicationController",
                      "metadata": {"name": "web-3", "namespace": NS, "ownerReferences": owner(dc),
                                   "annotations": {"openshift.io/deployment-config.name": "web",
                                                   "openshift.io/deployment-config.latest-version": "3",
                                                   "openshift.io/deployment.phase": "Complete"}},
                      "spec": {"replicas": 1, "selector": {"app": "web", "deployment": "web-3"},
                               "template": template({"app": "web", "deployment": "web-3"})}})
        p = pod("web-3-abcde", NS, IMAGE, pull=["regcred"], labels={"app": "web", "deployment": "web-3"},
                created=OLD)
        p["metadata"]["annotations"] = {"openshift.io/deployment-config.name": "web",
                                        "openshift.io/deployment-config.latest-version": "3"}
        p["metadata"]["ownerReferences"] = owner(rc)
        api.add(p)
        kc = api.kubeconfig(tmp_path / "kc", namespace=NS)
        for target in ("pod/web-3-abcde", "replicationcontroller/web-3"):
            api.clear_log()
            run = restart(kc, target, "--dry-run=server")
            assert run.code == 0, (target, run)
            assert writes(api) == [("POST", f"/apis/apps.openshift.io/v1/namespaces/{NS}/deploymentconfigs/web/"
                                            "instantiate", {"dryRun": "All"})], (target, run)
            assert "deploymentconfig/web" in run.out
        api.clear_log()
        run = restart(kc, "pod/web-3-abcde")
        assert run.code == 0, run
        stored = api.get_object("DeploymentConfig", NS, "web")
        assert stored is not None and stored["status"]["latestVersion"] == 4
