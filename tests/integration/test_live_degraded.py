"""A read that keeps failing (5xx after every retry) on something the run can do
without degrades to a finding naming the skipped checks; on the pods themselves it is
exit 3 with one line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fakekube import FakeKube
from tests.integration.live_helpers import example_objects

REPO = Path(__file__).resolve().parents[2]
EVENTS = "/api/v1/namespaces/shop/events"


def doctor(kubeconfig: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kubectl_pullsecret", "doctor", "--kubeconfig", str(kubeconfig),
                           "--no-probe", *args], cwd=REPO, capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture
def shop(tmp_path: Path):
    with FakeKube() as api:
        api.add_all(example_objects("shop"))
        yield api, api.kubeconfig(tmp_path / "kc", namespace="shop")


def test_events_failing_after_retries_is_a_finding_and_the_rest_runs(shop):
    api, kc = shop
    healthy = json.loads(doctor(kc, "-o", "json").stdout)
    api.fault(path=f"{EVENTS}$", status=503, retry_after=0)  # Retry-After: 0 keeps the test fast
    proc = doctor(kc, "-o", "json")
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    failed = [f for f in report["findings"] if f["check"] == "permission-denied"]
    assert len(failed) == 1
    f = failed[0]
    assert f["object"] == {"kind": "Event", "namespace": "shop", "name": None}
    assert "HTTP 503" in f["message"] and "after retries" in f["message"]
    assert "pull-error-observed" in f["message"]
    # The containers' waiting messages still count; the events' reasons are gone.
    def observed(r):
        return [x["message"] for x in r["findings"] if x["check"] == "pull-error-observed"]
    assert observed(report) and len(observed(report)) < len(observed(healthy))
    assert not any("FailedToRetrieveImagePullSecret" in m for m in observed(report))
    assert any("FailedToRetrieveImagePullSecret" in m for m in observed(healthy))
    # Everything else is as on a healthy server.
    def others(r):
        return sorted(json.dumps(x, sort_keys=True) for x in r["findings"]
                      if x["check"] not in ("permission-denied", "pull-error-observed"))
    assert others(report) == others(healthy)
    assert [r.status for r in api.requests if r.path == EVENTS][-5:] == [503] * 5  # retried, then given up


def test_pods_failing_after_retries_is_exit_3_with_one_line(shop):
    api, kc = shop
    api.fault(path=r"/api/v1/namespaces/shop/pods$", status=503, retry_after=0)
    proc = doctor(kc)
    assert proc.returncode == 3
    assert proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: cannot read pods in namespace shop")
