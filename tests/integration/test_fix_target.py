"""`fix [TARGET]`: doctor's fixes offered in dependency order, y/N on a terminal, --yes,
plan only otherwise; the commands applied are exactly the ones doctor prints."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakekube import FakeKube
from tests.integration.fix_helpers import fix, writes
from tests.integration.live_helpers import auth, doctor_in_process, fake_kube, namespace, pull_secret, service_account

NS = "shop"
LINK = "kubectl pullsecret fix link regcred --sa default -n shop"
CREATE = ("kubectl pullsecret fix create registry-example-com-pull --docker-server registry.example.com "
          "--docker-username USER --docker-password-stdin --link default -n shop")


def deployment(name: str, image: str, sa: str = "default") -> dict[str, object]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": NS},
            "spec": {"selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"serviceAccountName": sa,
                                           "containers": [{"name": name, "image": image}]}}}}


def shop(*extra: dict[str, object]) -> list[dict[str, object]]:
    """Namespace shop: its default SA, pull secret regcred (quay.io) and deployment web, plus `extra`."""
    return [namespace(NS), service_account("default", NS),
            pull_secret("regcred", NS, {"quay.io": auth("bot", "quay-s3cret")}),
            deployment("web", "quay.io/acme/web:1"), *extra]


@pytest.fixture
def api() -> Iterator[FakeKube]:
    with fake_kube() as server:
        server.add_all(shop(deployment("api", "registry.example.com/acme/api:2")))
        yield server


@pytest.fixture
def kc(api: FakeKube, tmp_path: Path) -> Path:
    return api.kubeconfig(tmp_path / "kubeconfig", namespace=NS)


def sa_pull(api: FakeKube) -> list[str]:
    obj = api.get_object("ServiceAccount", NS, "default")
    assert obj is not None
    return [r["name"] for r in obj.get("imagePullSecrets") or []]


def test_without_a_terminal_or_yes_only_the_plan_is_printed(api: FakeKube, kc: Path) -> None:
    api.clear_log()
    run = fix("--no-probe", kubeconfig=kc)
    assert run.code == 1, run
    assert writes(api) == []
    lines = run.out.splitlines()
    assert lines[0] == "fix every pod in namespace shop"
    assert lines[1] == f"[1] needs your input: {CREATE}"  # create comes before link
    assert lines[2] == "    for: warning no-matching-credential deployment/api container api (shop)"
    assert lines[3] == "    run it yourself: it needs the username, the password"
    assert lines[4] == f"[2] planned (not applied): {LINK}"
    assert "run again with --yes" in run.out


def test_the_commands_are_the_ones_doctor_prints(api: FakeKube, kc: Path) -> None:
    report = doctor_in_process("--no-probe", "-o", "json", "-n", NS, kubeconfig=kc).report
    suggested = {f["fix"]["command"] for f in report["findings"] if f["fix"] and f["fix"]["command"]}
    assert suggested == {LINK, CREATE}


def test_yes_applies_what_needs_no_input_and_rechecks(api: FakeKube, kc: Path) -> None:
    api.clear_log()
    run = fix("--no-probe", "--yes", kubeconfig=kc)
    assert sa_pull(api) == ["regcred"]
    assert writes(api) == [("PUT", f"/api/v1/namespaces/{NS}/serviceaccounts/default", {})]
    assert f"[2] applied: {LINK}" in run.out
    assert "updated: serviceaccount/default -n shop" in run.out
    assert "Re-check (every pod in namespace shop):" in run.out
    recheck = run.out.split("Re-check")[1]
    assert "deployment/web" not in recheck  # fixed
    assert "deployment/api" in recheck  # the create needs a password: still there
    assert run.code == 1, run  # the create needs the user's password: its problem remains


def test_second_run_has_nothing_to_write(api: FakeKube, kc: Path) -> None:
    assert fix("--no-probe", "--yes", kubeconfig=kc).code == 1  # deployment/api needs a password
    api.clear_log()
    run = fix("--no-probe", "--yes", "deployment/web", kubeconfig=kc)
    assert run.code == 0, run
    assert writes(api) == []
    assert "nothing to do" in run.out


def test_a_target_limits_the_offers(api: FakeKube, kc: Path) -> None:
    run = fix("--no-probe", "deployment/api", kubeconfig=kc)
    assert LINK not in run.out and CREATE in run.out


def test_terminal_answers_decide_each_fix(api: FakeKube, kc: Path) -> None:
    api.clear_log()
    run = fix("--no-probe", "deployment/web", kubeconfig=kc, tty=True, stdin="n\n")
    assert run.code == 1, run  # declined: the problem remains
    assert writes(api) == [] and sa_pull(api) == []
    assert f"[1] declined: {LINK}" in run.out
    assert "Apply this fix? [y/N]" in run.err and "for: warning no-matching-credential deployment/web" in run.err
    run = fix("--no-probe", "deployment/web", kubeconfig=kc, tty=True, stdin="y\n")
    assert run.code == 0, run
    assert sa_pull(api) == ["regcred"]
    assert f"[1] applied: {LINK}" in run.out


def test_dry_run_writes_nothing(api: FakeKube, kc: Path) -> None:
    api.clear_log()
    run = fix("--no-probe", "--dry-run=server", "--yes", kubeconfig=kc)
    assert run.code == 0, run
    assert [w[2] for w in writes(api)] == [{"dryRun": "All"}]
    assert sa_pull(api) == []
    assert "would be updated: serviceaccount/default" in run.out


def test_unreadable_pods_are_exit_3(api: FakeKube, kc: Path) -> None:
    api.forbid("pods", NS, "list")
    api.forbid("deployments", NS, "list")
    run = fix("--no-probe", "--yes", kubeconfig=kc)
    assert run.code == 3, run
    assert run.err.count("\n") == 1 and "nothing was diagnosed" in run.err


@pytest.mark.parametrize("extra", [["-o", "yaml"], ["-o", "json"], ["-v", "9"], []], ids=lambda e: " ".join(e) or "plain")
def test_no_secret_value_in_any_output(api: FakeKube, kc: Path, extra: list[str]) -> None:
    run = fix("--no-probe", "--yes", *extra, kubeconfig=kc)
    assert run.code in (0, 1) and "error:" not in run.err, run
    assert writes(api), "each format sees the fixes applied"
    for text in (run.out, run.err):
        assert "quay-s3cret" not in text and "Ym90OnF1YXktczNjcmV0" not in text
