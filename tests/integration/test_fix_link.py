"""`fix link` against the fake API server: the SA read-modify-write, idempotence, the
concurrent-change guarantee, dry runs, refusals and the re-check."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakekube import FakeKube
from tests.integration.fix_helpers import fix, writes
from tests.integration.live_helpers import auth, fake_kube, namespace, pull_secret, service_account

NS = "shop"
SA_PATH = f"/api/v1/namespaces/{NS}/serviceaccounts/default"


@pytest.fixture
def api() -> Iterator[FakeKube]:
    with fake_kube() as server:
        server.add_all([namespace(NS), service_account("default", NS, pull=["old"], mount=["token"]),
                        pull_secret("old", NS, {"old.example": auth("o", "old-password")}),
                        pull_secret("regcred", NS, {"quay.io": auth("bot", "s3cret-pass")})])
        yield server


@pytest.fixture
def kc(api: FakeKube, tmp_path: Path) -> Path:
    return api.kubeconfig(tmp_path / "kubeconfig", namespace=NS)


def sa(api: FakeKube) -> dict[str, object]:
    obj = api.get_object("ServiceAccount", NS, "default")
    assert obj is not None
    return obj


def names(obj: dict[str, object], field: str) -> list[str]:
    refs = obj.get(field) or []
    assert isinstance(refs, list)
    return [r["name"] for r in refs]


def test_links_for_pull_keeping_existing_entries(api: FakeKube, kc: Path) -> None:
    api.clear_log()
    run = fix("link", "regcred", kubeconfig=kc)
    assert run.code == 0, run
    assert names(sa(api), "imagePullSecrets") == ["old", "regcred"]
    assert names(sa(api), "secrets") == ["token"]  # --for pull does not touch the mount list
    assert writes(api) == [("PUT", SA_PATH, {})]
    assert "updated: serviceaccount/default -n shop" in run.out
    assert "equivalent: oc secrets link default regcred --for=pull -n shop" in run.out
    assert "Re-check" in run.out and "No problems found." in run.out


def test_second_run_writes_nothing(api: FakeKube, kc: Path) -> None:
    assert fix("link", "regcred", kubeconfig=kc).code == 0
    api.clear_log()
    run = fix("link", "regcred", kubeconfig=kc)
    assert run.code == 0, run
    assert writes(api) == []
    assert "unchanged: serviceaccount/default" in run.out
    assert names(sa(api), "imagePullSecrets") == ["old", "regcred"]


@pytest.mark.parametrize(("for_", "pull", "mount"), [
    ("mount", ["old"], ["token", "regcred"]),
    ("pull,mount", ["old", "regcred"], ["token", "regcred"]),
    ("mount,pull,mount", ["old", "regcred"], ["token", "regcred"]),
])
def test_for_mount_and_both(api: FakeKube, kc: Path, for_: str, pull: list[str], mount: list[str]) -> None:
    run = fix("link", "regcred", "--for", for_, kubeconfig=kc)
    assert run.code == 0, run
    assert names(sa(api), "imagePullSecrets") == pull
    assert names(sa(api), "secrets") == mount


def test_bad_for_is_a_usage_error(api: FakeKube, kc: Path) -> None:
    api.clear_log()
    run = fix("link", "regcred", "--for", "pull,push", kubeconfig=kc)
    assert run.code == 2, run
    assert run.err.count("\n") == 1 and "--for 'pull,push'" in run.err
    assert writes(api) == []


def test_other_service_account_and_flags_after_words(api: FakeKube, kc: Path) -> None:
    api.add(service_account("builder", NS))
    run = fix("link", "--sa", "builder", "regcred", "-n", NS, kubeconfig=kc)
    assert run.code == 0, run
    builder = api.get_object("ServiceAccount", NS, "builder")
    assert builder is not None and names(builder, "imagePullSecrets") == ["regcred"]
    assert names(sa(api), "imagePullSecrets") == ["old"]


def test_missing_secret_is_linked_with_a_warning_and_the_recheck_fails(api: FakeKube, kc: Path) -> None:
    run = fix("link", "not-yet", kubeconfig=kc)
    assert run.code == 1, run
    assert "warning: secret/not-yet does not exist in namespace shop" in run.out
    assert names(sa(api), "imagePullSecrets") == ["old", "not-yet"]
    assert "pull-secret-missing" in run.out  # the re-check says what is still wrong


def test_wrong_type_secret_warns(api: FakeKube, kc: Path) -> None:
    api.add({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "opaque", "namespace": NS},
             "type": "Opaque", "data": {"token": "c2VjcmV0LXZhbHVl"}})
    run = fix("link", "opaque", kubeconfig=kc)
    assert "secret/opaque is of type Opaque: the kubelet ignores it" in run.out
    assert run.code == 1, run  # pull-secret-wrong-type in the re-check
    assert "pull-secret-wrong-type" in run.out


def test_missing_service_account_is_refused_without_a_write(api: FakeKube, kc: Path) -> None:
    api.clear_log()
    run = fix("link", "regcred", "--sa", "ghost", kubeconfig=kc)
    assert run.code == 1, run
    assert "serviceaccount/ghost not found in namespace shop" in run.out
    assert writes(api) == []


def test_a_concurrent_change_between_read_and_write_is_kept(api: FakeKube, kc: Path) -> None:
    def controller() -> None:  # e.g. OpenShift adding the SA's dockercfg secret meanwhile
        obj = sa(api)
        obj["imagePullSecrets"] = [*obj["imagePullSecrets"], {"name": "default-dockercfg-x7k2p"}]  # type: ignore[list-item]
        api.add(obj)

    api.add(pull_secret("default-dockercfg-x7k2p", NS, {"image-registry.example:5000": auth("sa", "sa-token")}))
    api.before("PUT", "serviceaccounts/default$", controller)
    api.clear_log()
    run = fix("link", "regcred", kubeconfig=kc)
    assert run.code == 0, run
    assert names(sa(api), "imagePullSecrets") == ["old", "default-dockercfg-x7k2p", "regcred"]
    assert "re-read and re-applied after 1 concurrent change(s)" in run.out
    statuses = [r.status for r in api.requests if r.method == "PUT"]
    assert statuses == [409, 200]


def test_a_service_account_that_keeps_changing_is_not_overwritten(api: FakeKube, kc: Path) -> None:
    count = 0

    def busy() -> None:
        nonlocal count
        count += 1
        obj = sa(api)
        obj["imagePullSecrets"] = [*obj["imagePullSecrets"], {"name": f"other-{count}"}]  # type: ignore[list-item]
        api.add(obj)

    api.before("PUT", "serviceaccounts/default$", busy, times=100)
    run = fix("link", "regcred", kubeconfig=kc)
    assert run.code == 1, run
    assert "kept changing while being written (5 conflicts)" in run.out
    assert names(sa(api), "imagePullSecrets") == ["old"] + [f"other-{i}" for i in range(1, 6)]


def test_dry_run_client_sends_no_write_and_shows_the_object(api: FakeKube, kc: Path) -> None:
    api.clear_log()
    run = fix("link", "regcred", "--dry-run=client", "-o", "json", kubeconfig=kc)
    assert run.code == 0, run
    assert writes(api) == []
    assert names(sa(api), "imagePullSecrets") == ["old"]
    doc = json.loads(run.out)
    assert doc["kind"] == "List"
    assert [names(o, "imagePullSecrets") for o in doc["items"]] == [["old", "regcred"]]
    assert "would be updated" in run.err and "dry run: client" in run.err
    assert "Re-check" not in run.err  # nothing was applied, so nothing is re-checked


def test_dry_run_server_sends_dry_run_all(api: FakeKube, kc: Path) -> None:
    api.clear_log()
    run = fix("link", "regcred", "--dry-run=server", "-o", "yaml", kubeconfig=kc)
    assert run.code == 0, run
    assert writes(api) == [("PUT", SA_PATH, {"dryRun": "All"})]
    assert names(sa(api), "imagePullSecrets") == ["old"]
    assert "- name: regcred" in run.out


def test_forbidden_update_is_one_clear_line(api: FakeKube, kc: Path) -> None:
    api.forbid("serviceaccounts", NS, "update")
    run = fix("link", "regcred", kubeconfig=kc)
    assert run.code == 1, run
    assert "FAILED: serviceaccount/default -n shop" in run.out
    assert "oc auth can-i update serviceaccounts -n shop" in run.out
    assert names(sa(api), "imagePullSecrets") == ["old"]


def test_pods_created_before_the_link_keep_the_exit_code_at_one(api: FakeKube, kc: Path) -> None:
    api.add({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-1", "namespace": NS},
             "spec": {"serviceAccountName": "default", "containers": [{"name": "web", "image": "quay.io/acme/web:1"}]}})
    run = fix("link", "regcred", kubeconfig=kc)
    assert run.code == 1, run
    assert "pod-predates-sa-secrets" in run.out and "pod/web-1" in run.out
    assert "kubectl pullsecret fix restart pod/web-1 -n shop" in run.out


@pytest.mark.parametrize("extra", [[], ["-o", "yaml"], ["-o", "json"], ["--dry-run=client", "-o", "yaml"], ["-v", "9"]],
                         ids=lambda e: " ".join(e) or "plain")
def test_no_secret_value_in_any_output(api: FakeKube, kc: Path, extra: list[str]) -> None:
    run = fix("link", "regcred", "--for", "pull,mount", *extra, kubeconfig=kc)
    assert run.code in (0, 1) and "error:" not in run.err, run
    assert bool(writes(api)) == ("--dry-run=client" not in extra)  # each format sees a real (or planned) write
    for text in (run.out, run.err):
        for secret in ("s3cret-pass", "old-password", "Ym90OnMzY3JldC1wYXNz"):
            assert secret not in text, (extra, text)


def test_offline_files_and_cluster_flags_are_usage_errors(kc: Path) -> None:
    run = fix("link", "regcred", "-f", "examples/shop", kubeconfig=kc)
    assert run.code == 2 and "fix writes to the cluster" in run.err
    run = fix("link", "regcred", "-A", kubeconfig=kc)
    assert run.code == 2 and "-A and -l apply to 'fix TARGET' only" in run.err


def test_unreachable_cluster_is_exit_3(tmp_path: Path) -> None:
    api = FakeKube().start()
    kc = api.kubeconfig(tmp_path / "kc", namespace=NS)
    api.stop()
    run = fix("link", "regcred", "--request-timeout", "2s", kubeconfig=kc)
    assert run.code == 3, run
    assert run.err.startswith("error: cannot reach the cluster") and run.err.count("\n") == 1


def test_dry_run_client_without_output_flag_prints_the_plan_and_the_objects(api: FakeKube, kc: Path) -> None:
    api.clear_log()
    run = fix("link", "regcred", "--dry-run=client", kubeconfig=kc)
    assert run.code == 0, run
    assert writes(api) == []
    plan, objects = run.out.split("Objects as they would be written (secret values redacted):\n")
    assert "would be updated: serviceaccount/default -n shop" in plan
    assert objects.startswith("apiVersion: v1\nkind: List\nitems:\n- kind: ServiceAccount\n")
    assert "- name: regcred" in objects
