"""What a user with little access gets: permission-denied findings for each refused read (naming
the checks it leaves blind), the checks that still work, and exit 3 when the pods themselves
cannot be read."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakekube import FakeKube, role_binding, user
from tests.integration.fakeregistry import FakeRegistryFactory, Response
from tests.integration.live_helpers import (
    SAR_PATH,
    Run,
    doctor,
    doctor_in_process,
    example_objects,
    fake_kube,
    finding_key,
    global_pull_secret,
    namespace,
    openshift_cluster,
    pod,
    service_account,
)
from tests.integration.registry_env import Pki

VIEWER, VIEWER_TOKEN = "viewer", "viewer-token-4242"
CLUSTER_READS = {("ClusterVersion", None, "version"), ("ClusterOperator", None, "image-registry"),
                 ("Image", None, "cluster"), ("MachineConfigPool", None, None), ("ImageDigestMirrorSet", None, None),
                 ("ImageTagMirrorSet", None, None), ("ImageContentSourcePolicy", None, None),
                 ("SubjectAccessReview", None, None)}


@pytest.fixture(scope="module")
def payments(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FakeKube, Path, Path]]:
    """examples/openshift-project on an OpenShift cluster with a global pull secret; `viewer` has
    only the `view` ClusterRole, bound in payments (view grants nothing on secrets).
    Yields (api, admin kubeconfig, viewer kubeconfig)."""
    tmp = tmp_path_factory.mktemp("rbac")
    with fake_kube(openshift=True) as api:
        openshift_cluster(api, [*example_objects("openshift-project"), global_pull_secret()])
        api.add_user(VIEWER, VIEWER_TOKEN)
        api.add(role_binding("viewer-view", "payments", "view", [user(VIEWER)]))
        yield api, api.kubeconfig(tmp / "admin"), api.kubeconfig(tmp / "viewer", user=VIEWER)


@pytest.fixture
def kube(payments: tuple[FakeKube, Path, Path]) -> Iterator[tuple[FakeKube, Path, Path]]:
    api = payments[0]
    api.clear_faults()
    api.clear_log()
    yield payments
    api.clear_faults()


def live(kc: Path, *args: str) -> Run:
    return doctor(*args, "--no-probe", "-o", "json", kubeconfig=kc)


def live_in_process(kc: Path, *args: str) -> Run:
    return doctor_in_process(*args, "--no-probe", "-o", "json", kubeconfig=kc)


def test_view_user_in_one_namespace(kube: tuple[FakeKube, Path, Path]) -> None:
    api, admin_kc, viewer_kc = kube
    admin = live(admin_kc, "-n", "payments")
    result = live(viewer_kc, "-n", "payments")
    assert result.code == 1, result  # findings, not "nothing diagnosed"
    assert "Traceback" not in result.err
    denied = result.denied()
    assert set(denied) == {("Secret", "payments", None), ("Secret", "openshift-config", "pull-secret"),
                           *CLUSTER_READS}
    secrets = denied[("Secret", "payments", None)]
    assert secrets["object"] == {"kind": "Secret", "namespace": "payments", "name": None}
    assert secrets["severity"] == "info"
    assert "list secrets in namespace payments" in secrets["message"]
    assert "Skipped or incomplete:" in secrets["message"]
    for skipped in ("pull-secret-missing", "pull-secret-malformed", "no-matching-credential", "sa-not-provisioned"):
        assert skipped in secrets["message"]
    assert secrets["fix"]["equivalent"] == ["oc auth can-i list secrets -n payments"]
    gps = denied[("Secret", "openshift-config", "pull-secret")]
    assert "global pull secret" in gps["message"] and "no-matching-credential" in gps["message"]
    assert "cross-project-pull-denied" in denied[("SubjectAccessReview", None, None)]["message"]
    assert "global-pull-secret-rollout-pending" in denied[("MachineConfigPool", None, None)]["message"]
    assert "mirror-credential-missing" in denied[("ImageDigestMirrorSet", None, None)]["message"]

    # Unreadable secrets are neither "missing" nor "data unavailable".
    assert not result.of("pull-secret-missing") and not result.of("pull-secret-data-unavailable")
    assert not result.of("global-pull-secret-invalid") and not result.of("global-pull-secret-telemetry-missing")
    # What needs no secret is still diagnosed, as for the admin.
    kept = ("pod-overrides-sa-secrets", "pull-error-observed", "pod-predates-sa-secrets")
    for check in kept:
        assert result.key_set(check) == admin.key_set(check) != set(), check
    [nomatch] = [f for f in result.of("no-matching-credential") if f["object"]["name"] == "ledger"]
    assert nomatch["severity"] == "warning"
    assert "could not be read" in nomatch["message"]
    # Reads the viewer may make were made in the namespace, and the refused ones were not retried.
    mine = [r for r in api.requests if r.user == VIEWER]
    assert {(r.path, r.status) for r in mine if r.path.endswith("/secrets")} == {
        ("/api/v1/namespaces/payments/secrets", 403)}
    refused = [r.path for r in mine if r.status == 403 and r.path != SAR_PATH]
    assert len(refused) == len(set(refused)) == len(denied) - 1  # each read once; SARs below


def test_view_user_with_all_namespaces_is_refused_the_pods(kube: tuple[FakeKube, Path, Path]) -> None:
    api, _, viewer_kc = kube
    result = live(viewer_kc, "-A")
    assert result.code == 3, result
    assert "Traceback" not in result.err
    # One error line (machine formats put the report's notes on stderr before it).
    *notes, error = result.err.splitlines()
    assert error.startswith("error: ") and "nothing was diagnosed" in error, result
    assert all(n.startswith("note: ") for n in notes), result
    # The report is still printed: it says what was refused.
    pods = result.denied()[("Pod", None, None)]
    assert "list pods in any namespace" in pods["message"]
    assert pods["fix"]["equivalent"] == ["oc auth can-i list pods -A"]
    assert ("Secret", None, None) in result.denied()
    assert [f for f in result.findings if f["check"] != "permission-denied"] == []
    assert any(r.path == "/api/v1/pods" and r.status == 403 for r in api.requests)


def test_subject_access_review_forbidden(kube: tuple[FakeKube, Path, Path]) -> None:
    """Without the image-pullers binding the SARs would deny; when SAR creation itself is refused
    the check is skipped (permission-denied), never guessed."""
    api, admin_kc, _ = kube
    api.remove("RoleBinding", "payments", "system:image-pullers")
    try:
        api.forbid("subjectaccessreviews")
        result = live_in_process(admin_kc, "-n", "payments")
        assert result.code == 1, result
        [sar] = result.of("permission-denied")
        assert sar["object"] == {"kind": "SubjectAccessReview", "namespace": None, "name": None}
        assert "create SubjectAccessReviews" in sar["message"] and "cross-project-pull-denied" in sar["message"]
        assert sar["fix"]["equivalent"] == ["oc auth can-i create subjectaccessreviews.authorization.k8s.io"]
        assert result.of("cross-project-pull-denied") == []
        assert [r.status for r in api.requests if r.path == SAR_PATH] == [403]  # told once, not per question

        api.clear_faults()
        allowed = live_in_process(admin_kc, "-n", "payments")
        assert len(allowed.of("cross-project-pull-denied")) == 3  # the same run, SARs answered
    finally:
        api.add(role_binding("system:image-pullers", "payments", "system:image-puller",
                             [{"kind": "Group", "name": "system:serviceaccounts:payments",
                               "apiGroup": "rbac.authorization.k8s.io"}]))


def test_events_forbidden(kube: tuple[FakeKube, Path, Path]) -> None:
    api, admin_kc, _ = kube
    full = live_in_process(admin_kc, "-n", "payments")
    api.forbid("events", "payments")
    result = live_in_process(admin_kc, "-n", "payments")
    assert result.code == full.code == 1, result
    [events] = result.of("permission-denied")
    assert events["object"] == {"kind": "Event", "namespace": "payments", "name": None}
    assert "list events in namespace payments" in events["message"]
    assert "Skipped or incomplete: pull-error-observed." in events["message"]
    # Everything else is intact; the kubelet's waiting message still shows for ledger.
    rest = [json.dumps(f, sort_keys=True) for f in result.findings if f["check"] not in ("permission-denied",
                                                                                          "pull-error-observed")]
    assert sorted(rest) == sorted(json.dumps(f, sort_keys=True) for f in full.findings
                                  if f["check"] != "pull-error-observed")
    [observed] = result.of("pull-error-observed")
    assert observed["object"]["name"] == "ledger" and "Back-off pulling image" in observed["message"]
    assert "authentication required" not in observed["message"]  # that came from the (unread) event
    [before] = full.of("pull-error-observed")
    assert "authentication required" in before["message"]


def test_unreadable_global_pull_secret_turns_an_auth_required_error_into_a_warning(
        tmp_path: Path, pki: Pki, fake_registry: FakeRegistryFactory) -> None:
    """A registry refusing anonymous pulls: no credential anywhere is an error, unless the nodes'
    credentials (the global pull secret) could not be read, which may hold one."""
    registry = fake_registry(Response(401, [("WWW-Authenticate", 'Basic realm="registry"'),
                                            ("Content-Type", "application/json")], b'{"errors": []}'))
    image = f"{registry.address}/acme/app:1"
    with fake_kube(openshift=True) as api:
        openshift_cluster(api, [namespace("shop"), service_account("default", "shop"), global_pull_secret(),
                                pod("app-0", "shop", image)])
        api.add_user(VIEWER, VIEWER_TOKEN)
        api.add(role_binding("viewer-edit", "shop", "edit", [user(VIEWER)]))  # secrets in shop, nothing else
        common = ("-n", "shop", "-o", "json", "--registry-ca-file", pki.ca_file, "--probe-timeout", "5",
                  "--checks", "no-matching-credential,permission-denied")
        admin = doctor(*common, kubeconfig=api.kubeconfig(tmp_path / "admin"))
        viewer = doctor(*common, kubeconfig=api.kubeconfig(tmp_path / "viewer", user=VIEWER))
    [entry] = admin.report["images"]
    assert entry["probe"]["outcome"] == "auth-required", entry
    [err] = admin.of("no-matching-credential")
    assert err["severity"] == "error" and admin.code == 1
    [warn] = viewer.of("no-matching-credential")
    assert warn["severity"] == "warning"
    assert "could not be read" in warn["message"]
    assert ("permission-denied", "info", "Secret", "openshift-config", "pull-secret", None) in viewer.key_set()
    assert finding_key(err)[2:] == finding_key(warn)[2:]
