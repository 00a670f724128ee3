"""Live parity: the examples loaded into a fake API server give the same report as `-f example`,
except for what only a live cluster can tell (asserted explicitly)."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.fakekube import FakeKube
from tests.integration.live_helpers import (
    EXAMPLES,
    INTERNAL,
    SAR_PATH,
    Run,
    canonical,
    doctor,
    doctor_in_process,
    example_objects,
    fake_kube,
    finding_key,
    global_pull_secret,
    openshift_cluster,
)


@pytest.fixture
def kube(tmp_path: Path) -> Iterator[FakeKube]:
    with fake_kube(openshift=True) as api:
        yield api


@functools.cache
def offline(name: str, *args: str) -> Run:
    """The offline report of an example (in-process: offline mode is what tests/golden covers;
    here it is only the reference)."""
    run = doctor_in_process("-f", EXAMPLES / name, *args, "--no-probe", "-o", "json")
    assert run.code in (0, 1), run
    assert run.report["cluster"] is None
    return run


def live(api: FakeKube, tmp_path: Path, *args: str) -> Run:
    kc = api.kubeconfig(tmp_path / "kubeconfig")
    run = doctor(*args, "--no-probe", "-o", "json", kubeconfig=kc)
    assert run.code in (0, 1), run
    assert "Traceback" not in run.err
    return run


def assert_cluster(run: Run, api: FakeKube, openshift: bool) -> None:
    assert run.report["cluster"] == {"context": "fake", "server": api.url, "openshift": openshift}


def test_shop_live_equals_offline(tmp_path: Path) -> None:
    with fake_kube(openshift=False) as api:
        api.add_all(example_objects("shop"))
        got = live(api, tmp_path, "-n", "shop")
        assert_cluster(got, api, openshift=False)
        requested = [r.path for r in api.requests]
    want = offline("shop", "-n", "shop")
    assert got.findings, "the example has findings"
    assert canonical(got.findings) == canonical(want.findings)
    assert got.report["images"] == want.report["images"]
    assert got.report["summary"] == want.report["summary"]
    assert got.code == want.code == 1
    # Not OpenShift: none of its reads were made.
    assert not [p for p in requested if "openshift" in p or "subjectaccessreviews" in p], requested


def test_openshift_project_live_adds_only_the_missing_global_pull_secret(kube: FakeKube, tmp_path: Path) -> None:
    """The example has no openshift-config/pull-secret: offline that is unknown, live it is
    known to be absent. With the projects' system:image-pullers bindings every SAR allows."""
    openshift_cluster(kube, example_objects("openshift-project"))
    got = live(kube, tmp_path, "-n", "payments")
    assert_cluster(got, kube, openshift=True)
    want = offline("openshift-project", "-n", "payments")
    extra = [f for f in got.findings if canonical([f])[0] not in set(canonical(want.findings))]
    assert [finding_key(f) for f in extra] == [
        ("global-pull-secret-invalid", "error", "Secret", "openshift-config", "pull-secret", None)]
    assert "does not exist" in extra[0]["message"]
    assert canonical(f for f in got.findings if f not in extra) == canonical(want.findings)
    assert not got.of("cross-project-pull-denied")
    sars = [r for r in kube.requests if r.path == SAR_PATH]
    assert len(sars) == 2 and all(r.method == "POST" and r.status == 201 for r in sars)  # default, deployer


def test_openshift_project_without_image_pullers_binding(kube: FakeKube, tmp_path: Path) -> None:
    """Without the system:image-pullers RoleBinding the SARs deny: each internal-registry container
    gets cross-project-pull-denied (its own project), asked once per (service account, project)."""
    openshift_cluster(kube, example_objects("openshift-project"), pullers=False)
    got = live(kube, tmp_path, "-n", "payments")
    want = offline("openshift-project", "-n", "payments")
    assert got.key_set() - want.key_set() == {
        ("global-pull-secret-invalid", "error", "Secret", "openshift-config", "pull-secret", None),
        ("cross-project-pull-denied", "error", "Pod", "payments", "ledger", "ledger"),
        ("cross-project-pull-denied", "error", "DeploymentConfig", "payments", "gateway", "gateway"),
        ("cross-project-pull-denied", "error", "Deployment", "payments", "reports", "reports"),
    }
    assert want.key_set() <= got.key_set()
    for f in got.of("cross-project-pull-denied"):
        assert "system:image-pullers" in f["message"] and "own project" in f["message"]
        assert f["fix"]["command"].startswith("kubectl pullsecret fix grant --from-namespace payments --sa ")
    sars = [r for r in kube.requests if r.path == SAR_PATH]
    assert len(sars) == 2  # (default, payments) for ledger and gateway, (deployer, payments) for reports


def test_openshift_project_with_a_global_pull_secret_on_both_sides(kube: FakeKube, tmp_path: Path) -> None:
    """Give offline the same global pull secret the cluster has: the reports are identical."""
    gps = global_pull_secret()
    openshift_cluster(kube, [*example_objects("openshift-project"), gps])
    got = live(kube, tmp_path, "-n", "payments")
    extra = tmp_path / "pull-secret.yaml"
    extra.write_text(yaml.safe_dump(gps))
    want = doctor("-f", EXAMPLES / "openshift-project", "-f", extra, "-n", "payments", "--no-probe", "-o", "json")
    assert canonical(got.findings) == canonical(want.findings)
    assert got.report["images"] == want.report["images"]
    # The global pull secret feeds the node credentials: every search names its entries.
    searched = got.of("no-matching-credential")
    assert len(searched) == 4
    assert all("global (cloud.openshift.com, quay.io, registry.connect.redhat.com, registry.redhat.io)"
               in f["message"] for f in searched), searched
    assert not got.of("global-pull-secret-invalid")


def test_must_gather_live_equals_offline_but_for_the_empty_secret(kube: FakeKube, tmp_path: Path) -> None:
    """A must-gather's empty secret value reads as "redacted" offline (data unavailable); on the
    cluster the value really is empty, so the kubelet ignores the secret and pulls anonymously."""
    openshift_cluster(kube, example_objects("must-gather"))
    got = live(kube, tmp_path, "-A")
    assert_cluster(got, kube, openshift=True)
    want = offline("must-gather", "-A")
    unavailable = ("pull-secret-data-unavailable", "info", "Secret", "data", "analytics-pull", None)
    assert unavailable in want.key_set()
    assert got.key_set() - want.key_set() == {
        ("pull-secret-wrong-type", "error", "Secret", "data", "analytics-pull", None),
        ("dockerhub-anonymous", "warning", "Pod", "data", "analytics-0", "analytics"),
    }
    assert want.key_set() - got.key_set() == {unavailable}
    changed = {"analytics-pull", "analytics-0"}
    assert canonical(f for f in got.findings if f["object"]["name"] not in changed) == canonical(
        f for f in want.findings if f["object"]["name"] not in changed)
    # -A reads cluster-wide lists.
    pods = [r.path for r in kube.requests if r.path.endswith("/pods")]
    assert pods == ["/api/v1/pods"]


def test_openshift_cluster_live_equals_offline(kube: FakeKube, tmp_path: Path) -> None:
    openshift_cluster(kube, example_objects("openshift-cluster"))
    got = live(kube, tmp_path, "-A")
    assert_cluster(got, kube, openshift=True)
    want = offline("openshift-cluster", "-A")
    assert canonical(got.findings) == canonical(want.findings)
    assert got.report["images"] == want.report["images"]
    # One more passed check live: cross-project-pull-denied for web-0 (a SAR answered it).
    assert got.report["summary"] == {**want.report["summary"], "ok": want.report["summary"]["ok"] + 1}
    assert {f["check"] for f in got.findings} >= {"registry-blocked", "mirror-credential-missing",
                                                  "global-pull-secret-rollout-pending"}
    # The internal-registry pod web-0 was asked about; allowed by store's system:image-pullers.
    assert len([r for r in kube.requests if r.path == SAR_PATH]) == 1


def test_openshift_cluster_without_image_pullers_binding(kube: FakeKube, tmp_path: Path) -> None:
    openshift_cluster(kube, example_objects("openshift-cluster"), pullers=False)
    got = live(kube, tmp_path, "-A")
    want = offline("openshift-cluster", "-A")
    assert got.key_set() - want.key_set() == {("cross-project-pull-denied", "error", "Pod", "store", "web-0", "web")}
    assert want.key_set() <= got.key_set()


@pytest.fixture(scope="module")
def target_clusters(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, tuple[FakeKube, Path, Path]]]:
    """shop on plain Kubernetes; openshift-project on OpenShift with a global pull secret (also
    written to a file for the offline side). name -> (api, kubeconfig, extra offline file)."""
    tmp = tmp_path_factory.mktemp("targets")
    gps = tmp / "pull-secret.yaml"
    gps.write_text(yaml.safe_dump(global_pull_secret()))
    none = tmp / "empty.yaml"
    none.write_text("")
    with fake_kube(openshift=False) as shop, fake_kube(openshift=True) as payments:
        shop.add_all(example_objects("shop"))
        openshift_cluster(payments, [*example_objects("openshift-project"), global_pull_secret()])
        yield {"shop": (shop, shop.kubeconfig(tmp / "shop"), none),
               "openshift-project": (payments, payments.kubeconfig(tmp / "payments"), gps)}


@pytest.mark.parametrize(("example", "ns", "targets"), [
    ("shop", "shop", ["deployment/web"]),
    ("shop", "shop", ["pod/cache", "deployment/api"]),
    ("shop", "shop", ["sa/builder"]),
    ("shop", "shop", ["secret/api-creds"]),
    ("shop", "shop", ["replicaset/web-7c9d8f6b5"]),
    ("shop", "shop", ["-l", "app=web"]),
    ("shop", "shop", ["--image", "quay.io/acme/web:1.2", "--sa", "builder"]),
    ("openshift-project", "payments", ["deploymentconfig/gateway"]),
    ("openshift-project", "payments", ["deployment/reports", "sa/deployer"]),
    ("openshift-project", "payments", ["--image", f"{INTERNAL}/payments/ledger:4.2"]),
])
def test_targets_live_equal_offline(target_clusters: dict[str, tuple[FakeKube, Path, Path]], example: str, ns: str,
                                    targets: list[str]) -> None:
    """Targets read only what they name (field selectors); the diagnosis matches offline."""
    api, kc, extra = target_clusters[example]
    api.clear_log()
    got = doctor_in_process("-n", ns, *targets, "--no-probe", "-o", "json", kubeconfig=kc)
    want = doctor_in_process("-f", EXAMPLES / example, "-f", extra, "-n", ns, *targets, "--no-probe", "-o", "json")
    assert got.code == want.code, (got, want)
    assert canonical(got.findings) == canonical(want.findings)
    assert got.report["images"] == want.report["images"]
    named = [t.split("/", 1) for t in targets if "/" in t and not t.startswith(("quay.io", INTERNAL))]
    selectors = {r.query.get("fieldSelector") for r in api.requests if r.query.get("fieldSelector")}
    for kind, name in named:
        if kind not in ("sa", "secret"):
            assert f"metadata.name={name}" in selectors, selectors
    if "--image" in targets:
        assert not [r for r in api.requests if r.path.endswith("/pods")]
