"""`fix [TARGET]` end to end: a fix uncovers the next (linking a secret leaves a pod
created before the link to be recreated), the user types what a fix needs on a
terminal, and a second run has nothing left to do."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakekube import FakeKube
from tests.integration.fix_helpers import fix, writes
from tests.integration.live_helpers import fake_kube, pod
from tests.integration.test_fix_target import NS, deployment, shop

LINK = "kubectl pullsecret fix link regcred --sa default -n shop"
RESTART = "kubectl pullsecret fix restart pod/debug -n shop"


@pytest.fixture
def api() -> Iterator[FakeKube]:
    with fake_kube() as server:
        server.add_all(shop(pod("debug", NS, "quay.io/acme/debug:1", created="2026-10-01T00:00:00Z")))
        yield server


@pytest.fixture
def kc(api: FakeKube, tmp_path: Path) -> Path:
    return api.kubeconfig(tmp_path / "kubeconfig", namespace=NS)


def test_yes_links_then_recreates_the_pod_the_link_leaves_behind(api: FakeKube, kc: Path) -> None:
    api.clear_log()
    run = fix("--no-probe", "--yes", kubeconfig=kc)
    assert run.code == 0, run
    assert [(m, p) for m, p, _ in writes(api)] == [
        ("PUT", f"/api/v1/namespaces/{NS}/serviceaccounts/default"),
        ("DELETE", f"/api/v1/namespaces/{NS}/pods/debug")]
    assert f"[1] applied: {LINK}" in run.out
    assert "for: warning no-matching-credential deployment/web container web (shop)" in run.out
    assert "for: warning no-matching-credential pod/debug container app (shop)" in run.out
    assert f"[2] applied: {RESTART}" in run.out  # offered in the second round
    assert "for: warning pod-predates-sa-secrets pod/debug (shop)" in run.out
    assert api.get_object("Pod", NS, "debug") is None
    assert "No problems found." in run.out.split("Re-check")[1]
    api.clear_log()
    again = fix("--no-probe", "--yes", kubeconfig=kc)
    assert again.code == 0, again
    assert writes(api) == [] and "nothing to do" in again.out


def test_terminal_answers_each_round(api: FakeKube, kc: Path) -> None:
    run = fix("--no-probe", kubeconfig=kc, tty=True, stdin="y\nn\n")
    assert run.code == 1, run  # the restart was declined: the pod still lacks the secret
    assert f"[1] applied: {LINK}" in run.out and f"[2] declined: {RESTART}" in run.out
    assert api.get_object("Pod", NS, "debug") is not None  # the bare pod was not deleted
    assert run.err.count("Apply this fix? [y/N]") == 2


def test_a_fix_that_needs_a_password_asks_for_it_on_a_terminal(api: FakeKube, kc: Path) -> None:
    api.add(deployment("api", "registry.example.com/acme/api:2"))
    run = fix("--no-probe", "deployment/api", kubeconfig=kc, tty=True, stdin="y\nrobot\npa55-w0rd\n")
    assert run.code == 0, run
    assert "username for registry.example.com: " in run.err
    assert "password for robot at registry.example.com: " in run.err
    secret = api.get_object("Secret", NS, "registry-example-com-pull")
    assert secret is not None and secret["type"] == "kubernetes.io/dockerconfigjson"
    doc = json.loads(base64.b64decode(secret["data"][".dockerconfigjson"]))
    assert doc["auths"]["registry.example.com"]["username"] == "robot"
    sa = api.get_object("ServiceAccount", NS, "default")
    assert sa is not None and {"name": "registry-example-com-pull"} in sa["imagePullSecrets"]
    for text in (run.out, run.err):
        assert "pa55-w0rd" not in text and base64.b64encode(b"robot:pa55-w0rd").decode() not in text


def test_without_a_terminal_a_fix_that_needs_a_password_is_left_to_the_user(api: FakeKube, kc: Path) -> None:
    api.add(deployment("api", "registry.example.com/acme/api:2"))
    api.clear_log()
    run = fix("--no-probe", "--yes", "deployment/api", kubeconfig=kc)
    assert writes(api) == []
    assert "[1] needs your input: kubectl pullsecret fix create registry-example-com-pull" in run.out
    assert "run it yourself: it needs the username, the password" in run.out
    assert run.code == 1, run  # the problem remains until the user runs it


# --- a Deployment whose pods predate their SA's pull secret -----------------------------------------------------

def test_restart_of_a_deployment_then_wait_for_its_controller(tmp_path: Path) -> None:
    import threading
    import time

    from tests.integration import test_fix_restart as r

    with fake_kube() as api:
        r.base(api)  # SA default lists regcred and extra; the pods only have regcred
        dep, _ = r.deployment(api, pods=2)
        kc = api.kubeconfig(tmp_path / "kubeconfig", namespace=r.NS)
        api.clear_log()
        run = fix("--no-probe", "--yes", kubeconfig=kc)
        restart = "kubectl pullsecret fix restart deployment/web -n shop"
        assert f"[1] applied: {restart}" in run.out, run
        assert "for: warning pod-predates-sa-secrets pod/web-5d8f-0 (shop)" in run.out
        assert [(m, p) for m, p, _ in writes(api)] == [("PUT", "/apis/apps/v1/namespaces/shop/deployments/web")]
        # No controller has replaced the pods yet: the problem is still there, and the note says why.
        assert run.code == 1, run
        assert "run again with --wait 5m" in " ".join(run.out.split())

        def controller() -> None:
            time.sleep(0.5)
            r.simulate_rollout(api, dep)

        # The restart is under way: a second run writes nothing, and with --wait follows it.
        thread = threading.Thread(target=controller)
        thread.start()
        api.clear_log()
        waited = fix("--no-probe", "--yes", "--wait", "20s", kubeconfig=kc)
        thread.join()
        assert waited.code == 0, waited
        assert writes(api) == []
        assert "every pod of deployment/web now carries its service account's pull secrets" in " ".join(
            waited.out.split())
