"""Through the real kubectl: `kubectl pullsecret fix ...` (bin/ on PATH) writes what the
direct run writes, and kubectl itself sees the result."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.fix_helpers import writes
from tests.integration.live_helpers import KUBECTL, auth, fake_kube, kubectl, namespace, pull_secret, service_account

pytestmark = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not on PATH")


def test_kubectl_runs_fix_link_and_sees_the_link(tmp_path: Path) -> None:
    with fake_kube() as api:
        api.add_all([namespace("shop"), service_account("default", "shop", pull=["a"]),
                     pull_secret("a", "shop", {"a.example": auth("a", "a-password")}),
                     pull_secret("regcred", "shop", {"quay.io": auth("bot", "b0t-password")})])
        kc = api.kubeconfig(tmp_path / "kubeconfig")
        api.clear_log()
        run = kubectl(tmp_path, "pullsecret", "fix", "link", "regcred", "-n", "shop", "--kubeconfig", kc)
        assert run.code == 0, run
        assert "updated: serviceaccount/default -n shop" in run.out
        assert [w[0] for w in writes(api)] == ["PUT"]
        got = kubectl(tmp_path, "--kubeconfig", kc, "get", "sa", "default", "-n", "shop", "-o", "json")
        assert [r["name"] for r in json.loads(got.out)["imagePullSecrets"]] == ["a", "regcred"]
        again = kubectl(tmp_path, "pullsecret", "fix", "link", "regcred", "-n", "shop", "--kubeconfig", kc,
                        "-o", "yaml")
        assert again.code == 0, again
        assert "unchanged: serviceaccount/default" in again.err
        assert again.out.startswith("apiVersion: v1\nkind: List\nitems: []")
        for text in (run.out, run.err, again.out, again.err):
            assert "b0t-password" not in text and "a-password" not in text


def test_kubectl_passes_usage_errors_through(tmp_path: Path) -> None:
    run = kubectl(tmp_path, "pullsecret", "fix", "global")
    assert run.code == 2, run
    assert run.err.strip() == ("error: fix global: expected set or remove (see 'kubectl pullsecret fix global set "
                               "--help')")
