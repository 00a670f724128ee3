"""What doctor asks the API server: paginated lists (limit/continue), a number of requests that
does not grow with the pods, cluster-wide lists for -A and namespaced ones for -n, and only the
kinds the selected checks need."""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubectl_pullsecret.kube import PAGE_SIZE, Cluster, ClusterOptions
from tests.fakekube import FakeKube
from tests.integration.live_helpers import (
    INTERNAL,
    OPENSHIFT_PATH_MARKERS,
    SAR_PATH,
    cluster_version,
    doctor,
    doctor_in_process,
    event,
    fake_kube,
    global_pull_secret,
    image_config,
    machine_config_pool,
    mirror_set,
    namespace,
    openshift_cluster,
    pod,
    registry_operator,
    service_account,
    start_doctor,
)

GPS_PATH = "/api/v1/namespaces/openshift-config/secrets/pull-secret"
EVENTS = "events"
MCP = "/apis/machineconfiguration.openshift.io/v1/machineconfigpools"
MIRRORS = ("/apis/config.openshift.io/v1/imagedigestmirrorsets", "/apis/config.openshift.io/v1/imagetagmirrorsets",
           "/apis/operator.openshift.io/v1alpha1/imagecontentsourcepolicies")
CV = "/apis/config.openshift.io/v1/clusterversions/version"
CO = "/apis/config.openshift.io/v1/clusteroperators/image-registry"
IMAGE = "/apis/config.openshift.io/v1/images/cluster"


def pods(ns: str, start: int, count: int) -> list[dict[str, object]]:
    return [pod(f"p-{i:05d}", ns, f"quay.io/acme/app{i % 7}:1") for i in range(start, start + count)]


def paths(api: FakeKube) -> Counter[tuple[str, str]]:
    return Counter((r.method, r.path) for r in api.requests)


def test_pods_are_paged_and_requests_do_not_grow_with_pods(tmp_path: Path) -> None:
    with fake_kube(openshift=False) as api:
        api.add_all([namespace("big"), service_account("default", "big"), *pods("big", 0, 100)])
        kc = api.kubeconfig(tmp_path / "kc")
        small = doctor("-n", "big", "--no-probe", "-o", "json", kubeconfig=kc)
        assert small.code in (0, 1), small
        few = paths(api)
        api.clear_log()
        api.add_all(pods("big", 100, 1100))
        large = doctor("-n", "big", "--no-probe", "-o", "json", kubeconfig=kc)
        assert large.code in (0, 1), large
        many = paths(api)
        pod_pages = [r for r in api.requests if r.path == "/api/v1/namespaces/big/pods"]
    assert len({f["object"]["name"] for f in large.findings if f["object"]["kind"] == "Pod"}) == 1200
    assert len(pod_pages) == math.ceil(1200 / PAGE_SIZE) == 3
    assert [r.query.get("limit") for r in pod_pages] == [str(PAGE_SIZE)] * 3
    assert "continue" not in pod_pages[0].query and all(r.query.get("continue") for r in pod_pages[1:])
    # The only difference: two more pages of the same pod list.
    assert many - few == Counter({("GET", "/api/v1/namespaces/big/pods"): 2}) and not few - many
    assert sum(many.values()) == sum(few.values()) + 2 < 20
    # -n: namespaced lists only (discovery aside), never one request per pod.
    assert all(p.startswith("/api/v1/namespaces/big/") or p.startswith("/apis/") and "/namespaces/big/" in p
               for _, p in many if p != "/apis"), many
    assert not [p for _, p in many if "/pods/" in p]


def test_all_namespaces_uses_cluster_wide_lists(tmp_path: Path) -> None:
    with fake_kube(openshift=True) as api:
        objs = []
        for n, ns in enumerate(("n1", "n2", "n3")):
            objs += [namespace(ns), service_account("default", ns), *pods(ns, n * 400, 400)]
        openshift_cluster(api, [*objs, global_pull_secret(), cluster_version(), registry_operator(removed=False),
                                image_config()])
        kc = api.kubeconfig(tmp_path / "kc")
        result = doctor_in_process("-A", "--no-probe", "-o", "json", "--checks", "pull-secret-missing", kubeconfig=kc)
        assert result.code == 0, result
        requested = paths(api)
        pod_pages = [r for r in api.requests if r.path == "/api/v1/pods"]
    assert len(pod_pages) == 3
    lists = [p for _, p in requested if p not in ("/apis", GPS_PATH, IMAGE)]
    assert lists and not [p for p in lists if "/namespaces/" in p], requested
    assert {"/api/v1/pods", "/api/v1/serviceaccounts", "/api/v1/secrets", "/apis/apps/v1/deployments",
            "/apis/apps.openshift.io/v1/deploymentconfigs"} <= set(lists)
    # The global pull secret is among the cluster-wide secrets: no separate get.
    assert ("GET", GPS_PATH) not in requested


@pytest.fixture(scope="module")
def small_openshift(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FakeKube, Path]]:
    with fake_kube(openshift=True) as api:
        openshift_cluster(api, [
            namespace("a"), service_account("default", "a"), global_pull_secret(),
            cluster_version(enabled=["Build"], known=["Build", "ImageRegistry"]),
            registry_operator(removed=False), image_config(),
            machine_config_pool("worker", rendered="r-2", at="r-1", updated=1),
            mirror_set("ImageDigestMirrorSet", "m", "quay.io/acme", ["mirror.example/acme"]),
            pod("web-0", "a", f"{INTERNAL}/b/web:1", waiting=("ErrImagePull", "unauthorized")),
            event("web-0.1", "a", "web-0", "Failed", "Failed to pull image: manifest unknown"),
            pod("mirrored-0", "a", "quay.io/acme/app@sha256:" + "5e" * 32, pull=["no-such-secret"]),
        ])
        yield api, api.kubeconfig(tmp_path_factory.mktemp("req") / "kc")


@pytest.mark.parametrize(("checks", "read", "not_read"), [
    ("pull-error-observed", ["/api/v1/namespaces/a/events"], [MCP, *MIRRORS, CV, CO, SAR_PATH]),
    ("pull-secret-missing", ["/api/v1/namespaces/a/pods", GPS_PATH, IMAGE],
     ["/api/v1/namespaces/a/events", MCP, *MIRRORS, CV, CO, SAR_PATH]),
    ("global-pull-secret-rollout-pending", [MCP], ["/api/v1/namespaces/a/events", *MIRRORS, CV, CO, SAR_PATH]),
    ("mirror-credential-missing", list(MIRRORS), [MCP, CV, CO, SAR_PATH, "/api/v1/namespaces/a/events"]),
    ("internal-registry-disabled", [CV, CO], [MCP, *MIRRORS, SAR_PATH]),
    ("cross-project-pull-denied", [SAR_PATH], [MCP, *MIRRORS, CV, CO, "/api/v1/namespaces/a/events"]),
])
def test_only_the_kinds_the_selected_checks_need(small_openshift: tuple[FakeKube, Path], checks: str,
                                                  read: list[str], not_read: list[str]) -> None:
    api, kc = small_openshift
    api.clear_log()
    result = doctor_in_process("-n", "a", "--no-probe", "-o", "json", "--checks", checks, kubeconfig=kc)
    assert result.code in (0, 1), result
    assert result.of(checks), f"{checks} should find something here"
    requested = {r.path for r in api.requests}
    assert set(read) <= requested, requested
    assert not requested & set(not_read), requested & set(not_read)


def test_every_read_once_with_all_checks(small_openshift: tuple[FakeKube, Path]) -> None:
    api, kc = small_openshift
    api.clear_log()
    result = doctor_in_process("-n", "a", "--no-probe", "-o", "json", kubeconfig=kc)
    assert result.code == 1, result
    requested = paths(api)
    assert {p for _, p in requested} >= {"/api/v1/namespaces/a/events", MCP, *MIRRORS, CV, CO, IMAGE, GPS_PATH,
                                         SAR_PATH}
    assert all(n == 1 for n in requested.values()), requested
    assert [m for m, _ in requested if m != "GET"] == ["POST"]  # the one SAR


def test_plain_kubernetes_reads_no_openshift_kind_whatever_the_checks(tmp_path: Path) -> None:
    with fake_kube(openshift=False) as api:
        api.add_all([namespace("a"), service_account("default", "a"), pod("web-0", "a", f"{INTERNAL}/b/web:1")])
        kc = api.kubeconfig(tmp_path / "kc")
        result = doctor_in_process("-n", "a", "--no-probe", "-o", "json", "--checks",
                                   "global-pull-secret-rollout-pending,mirror-credential-missing,"
                                   "cross-project-pull-denied,internal-registry-disabled,registry-blocked,"
                                   "global-pull-secret-invalid", kubeconfig=kc)
        requested = [r.path for r in api.requests]
    assert result.code == 0 and result.findings == [], result
    assert not [p for p in requested if any(m in p for m in OPENSHIFT_PATH_MARKERS)], requested


def test_expired_continue_token_restarts_the_list(tmp_path: Path) -> None:
    """A continue token that expired mid-list (410, etcd compaction) restarts the list once, as
    client-go's pager does; nothing is lost or doubled."""
    with fake_kube(openshift=False) as api:
        api.add_all([namespace("big"), service_account("default", "big"), *pods("big", 0, 1200)])
        kc = api.kubeconfig(tmp_path / "kc")
        # Page 2 waits a second before the server reads its token; the store is compacted meanwhile.
        api.fault(path="/namespaces/big/pods$", query={"continue": "."}, delay=1.0, times=1)
        pending = start_doctor("-n", "big", "--no-probe", "-o", "json", "--checks", "pull-secret-missing,"
                               "no-matching-credential", kubeconfig=kc, env={"KUBECONFIG": str(tmp_path / "none")})
        deadline = time.monotonic() + 30
        while not any(r.path == "/api/v1/namespaces/big/pods" for r in api.requests):
            assert time.monotonic() < deadline and pending.proc.poll() is None, pending.result()
            time.sleep(0.02)
        api.compact()
        result = pending.result()
        statuses = [(r.status, "continue" in r.query) for r in api.requests if r.path == "/api/v1/namespaces/big/pods"]
    assert result.code in (0, 1), result
    assert statuses == [(200, False), (410, True), (200, False), (200, True), (200, True)]
    pods_seen = [u["name"] for i in result.report["images"] for u in i["usedBy"] if u["kind"] == "Pod"]
    assert len(pods_seen) == len(set(pods_seen)) == 1200


def test_fix_reads_restart_a_list_whose_continue_token_expired(tmp_path: Path) -> None:
    """The untrimmed lists the fixes read (read_list) page like doctor's: an expired continue
    token restarts the list once, and nothing is lost or doubled."""
    with fake_kube(openshift=False) as api:
        api.add_all([namespace("big"), *pods("big", 0, 1200)])
        cluster = Cluster.connect(ClusterOptions(str(api.kubeconfig(tmp_path / "kc"))))
        pages = 0

        def compact_before_page_two() -> None:
            nonlocal pages
            pages += 1
            if pages == 2:
                api.compact()

        api.before("GET", "/namespaces/big/pods$", compact_before_page_two, times=2)
        listed = cluster.read_list("Pod", "big")
        statuses = [(r.status, "continue" in r.query) for r in api.requests if r.path == "/api/v1/namespaces/big/pods"]
    assert statuses == [(200, False), (410, True), (200, False), (200, True), (200, True)]
    names = [p["metadata"]["name"] for p in listed]
    assert names == sorted(set(names)) and len(names) == 1200


def test_label_selector_applies_to_pods_only(tmp_path: Path) -> None:
    with fake_kube(openshift=False) as api:
        api.add_all([namespace("a"), service_account("default", "a"),
                     pod("web-0", "a", "quay.io/acme/web:1", labels={"app": "web"}),
                     pod("db-0", "a", "quay.io/acme/db:1", labels={"app": "db"})])
        kc = api.kubeconfig(tmp_path / "kc")
        result = doctor_in_process("-n", "a", "-l", "app=web", "--no-probe", "-o", "json", kubeconfig=kc)
        lists = {r.path.rsplit("/", 1)[-1]: r.query for r in api.requests if r.path != "/apis"}
    assert result.code in (0, 1), result
    assert [u["name"] for i in result.report["images"] for u in i["usedBy"]] == ["web-0"]
    assert lists["pods"].get("labelSelector") == "app=web"
    assert all("labelSelector" not in q for kind, q in lists.items() if kind != "pods")


def test_a_label_selector_the_server_rejects_is_a_usage_error(tmp_path: Path) -> None:
    """The API server is the judge of -l (it knows operators the offline parser does not):
    its 400 is exit 2 with one line, as offline, not "cannot read pods" (exit 3)."""
    with fake_kube(openshift=False) as api:
        api.add_all([namespace("a"), service_account("default", "a"), pod("web-0", "a", "quay.io/acme/web:1")])
        kc = api.kubeconfig(tmp_path / "kc")
        result = doctor_in_process("-n", "a", "-l", "app in (", "--no-probe", kubeconfig=kc)
    assert result.code == 2, result
    assert result.err.startswith("error: -l 'app in (': the API server rejected it") and result.err.count("\n") == 1
    assert result.out == ""


def test_a_kind_the_cluster_does_not_serve_is_no_permission_problem(tmp_path: Path) -> None:
    """ImageContentSourcePolicy gone (404 on the list, as on a cluster without the API): silently
    absent; the other mirror sets still count."""
    with fake_kube(openshift=True) as api:
        openshift_cluster(api, [namespace("a"), service_account("default", "a"), global_pull_secret(),
                                mirror_set("ImageDigestMirrorSet", "m", "quay.io/acme", ["mirror.example/acme"]),
                                pod("app-0", "a", "quay.io/acme/app@sha256:" + "5e" * 32)])
        api.fault(path="/imagecontentsourcepolicies$", status=404)
        kc = api.kubeconfig(tmp_path / "kc")
        result = doctor_in_process("-n", "a", "--no-probe", "-o", "json", kubeconfig=kc)
    assert result.code == 1, result
    assert result.of("permission-denied") == []
    assert [f["object"]["name"] for f in result.of("mirror-credential-missing")] == ["app-0"]
