"""Through the real kubectl: `kubectl pullsecret doctor` (bin/ on PATH) against the fake API
server gives what the direct run gives, and kubectl itself sees the pods doctor reports."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakekube import FakeKube
from tests.integration.live_helpers import KUBECTL, canonical, doctor, example_objects, fake_kube, kubectl

pytestmark = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not on PATH")


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FakeKube, Path]]:
    with fake_kube(openshift=False) as api:
        api.add_all(example_objects("shop"))
        yield api, api.kubeconfig(tmp_path_factory.mktemp("kubectl") / "kubeconfig")


def test_kubectl_plugin_gives_the_direct_report(shop: tuple[FakeKube, Path], tmp_path: Path) -> None:
    api, kc = shop
    via = kubectl(tmp_path, "pullsecret", "doctor", "-n", "shop", "--kubeconfig", kc, "--no-probe", "-o", "json")
    direct = doctor("-n", "shop", "--no-probe", "-o", "json", kubeconfig=kc)
    assert via.code == direct.code == 1, via
    assert "Traceback" not in via.err
    assert via.report["cluster"] == direct.report["cluster"] == {"context": "fake", "server": api.url,
                                                                  "openshift": False}
    assert canonical(via.findings) == canonical(direct.findings)
    assert via.report["images"] == direct.report["images"]
    table = kubectl(tmp_path, "pullsecret", "doctor", "-n", "shop", "--kubeconfig", kc, "--no-probe")
    assert table.code == 1
    for f in direct.findings:
        assert f["check"] in table.out


def test_kubectl_sees_the_pods_doctor_reports(shop: tuple[FakeKube, Path], tmp_path: Path) -> None:
    """Fidelity glue: the fake server answers kubectl and doctor alike."""
    _, kc = shop
    got = kubectl(tmp_path, "--kubeconfig", kc, "get", "pods", "-n", "shop", "-o", "json")
    assert got.code == 0, got
    pods = {p["metadata"]["name"]: {c["name"]: c["image"] for c in p["spec"]["containers"]}
            for p in json.loads(got.out)["items"]}
    assert pods
    report = doctor("-n", "shop", "--no-probe", "-o", "json", kubeconfig=kc).report
    seen: dict[str, dict[str, str]] = {}
    for image in report["images"]:
        for use in image["usedBy"]:
            if use["kind"] == "Pod":
                seen.setdefault(use["name"], {})[use["container"]] = image["image"]
    assert seen == pods


def test_kubectl_passes_exit_3_and_the_error_line_through(tmp_path: Path) -> None:
    with FakeKube(openshift=False) as api:
        kc = api.kubeconfig(tmp_path / "kubeconfig")
    # stopped: nothing listens there any more
    run = kubectl(tmp_path, "pullsecret", "doctor", "--kubeconfig", kc, "--no-probe")
    assert run.code == 3, run
    assert run.out == ""
    lines = run.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cannot reach the cluster at https://127.0.0.1:"), run
