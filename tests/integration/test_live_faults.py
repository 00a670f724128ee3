"""Transport faults: retries (429 with Retry-After, 5xx, connection resets), and one clear line
with exit 3 when the cluster cannot be read (5xx that do not heal, unreachable, 401, timeout,
untrusted certificate), never with a traceback or the token.

The scenarios are slow by nature (backoff, Retry-After, timeouts), so every doctor run of this
module starts at once, each against its own fake API server, and the tests read the results."""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from kubectl_pullsecret.kube import MAX_ATTEMPTS
from tests.fakekube import FakeKube
from tests.integration.live_helpers import (
    Pending,
    Run,
    assert_one_line_error,
    canonical,
    doctor_in_process,
    example_objects,
    start_doctor,
)
from tests.integration.registry_env import Pki

TOKEN = "kube-bearer-token-5e1f0c2a9d"  # must never be printed
WRONG_TOKEN = "expired-bearer-token-77aa31"
PODS = "/api/v1/namespaces/shop/pods"


@dataclass
class Scenario:
    api: FakeKube | None
    pending: Pending

    @property
    def run(self) -> Run:
        return self.pending.result()

    def statuses(self, path: str = PODS) -> list[int]:
        assert self.api is not None
        return [r.status for r in self.api.requests if r.path == path]


def _cluster() -> FakeKube:
    api = FakeKube(openshift=False).start()
    api.add_all(example_objects("shop"))
    api.add_user("ops", TOKEN, groups=("system:masters",))
    return api


@pytest.fixture(scope="module")
def scenarios(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Iterator[dict[str, Scenario]]:
    tmp = tmp_path_factory.mktemp("faults")
    env = {"KUBECONFIG": str(tmp / "no-such-kubeconfig")}
    servers: list[FakeKube] = []
    out: dict[str, Scenario] = {}

    def start(name: str, setup: str | None = None, *extra: str, kc_text: str | None = None,
              running: bool = True) -> None:
        api = _cluster()
        servers.append(api)
        kc = api.kubeconfig(tmp / f"{name}.kubeconfig", user="ops", namespace="shop")
        if kc_text is not None:
            kc.write_text(kc_text.replace("@URL@", api.url).replace("@CA@", _ca_data(kc)))
        if setup == "429":
            api.fault(path=f"{PODS}$", status=429, retry_after=1, times=2)
        elif setup == "500-once":
            api.fault(path=f"{PODS}$", status=500, times=1)
        elif setup == "reset-once":
            api.fault(path=f"{PODS}$", reset=True, times=1)
        elif setup == "500-forever":
            api.fault(path=f"{PODS}$", status=500)
        elif setup == "slow":
            api.fault(path=f"{PODS}$", delay=5)
        if not running:
            api.stop()
        out[name] = Scenario(api, start_doctor("--no-probe", "-o", "json", "-v", "6", *extra, kubeconfig=kc, env=env))

    start("baseline")
    for setup in ("429", "500-once", "reset-once", "500-forever"):
        start(setup, setup)
    start("timeout", "slow", "--request-timeout", "1s")
    start("unreachable", running=False)
    start("wrong-token", kc_text=_kubeconfig_text(WRONG_TOKEN, ca="@CA@"))
    start("untrusted", kc_text=_kubeconfig_text(TOKEN, ca=base64.b64encode(Path(pki.ca_file).read_bytes()).decode()))
    try:
        yield out
    finally:
        for scenario in out.values():
            scenario.pending.result()
        for api in servers:
            threading.Thread(target=api.stop, name="fakekube-stop").start()  # see live_helpers.fake_kube


def _ca_data(kc: Path) -> str:
    return str(yaml.safe_load(kc.read_text())["clusters"][0]["cluster"]["certificate-authority-data"])


def _kubeconfig_text(token: str, ca: str) -> str:
    return yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "fake",
        "clusters": [{"name": "fakekube", "cluster": {"server": "@URL@", "certificate-authority-data": ca}}],
        "users": [{"name": "ops", "user": {"token": token}}],
        "contexts": [{"name": "fake", "context": {"cluster": "fakekube", "user": "ops", "namespace": "shop"}}],
    })


def _same_report(run: Run, baseline: Run) -> None:
    assert run.code == baseline.code == 1, run
    assert canonical(run.findings) == canonical(baseline.findings)
    assert run.report["images"] == baseline.report["images"]


def _no_secrets(run: Run) -> None:
    for token in (TOKEN, WRONG_TOKEN):
        assert token not in run.out and token not in run.err
    assert "Traceback" not in run.err


def test_baseline(scenarios: dict[str, Scenario]) -> None:
    s = scenarios["baseline"]
    run = s.run
    assert run.code == 1 and run.findings, run
    assert s.statuses() == [200]
    _no_secrets(run)
    # -v 6 logs every HTTP request (SPEC), one line each.
    assert s.api is not None
    served = [r for r in s.api.requests]
    logged = [line for line in run.err.splitlines() if f" {s.api.url}/" in line and " -> " in line]
    assert len(logged) == len(served) > 5, (logged, served)
    for r in served:
        assert any(f"{r.method} {s.api.url}{r.path}" in line for line in logged), r.path


def test_429_with_retry_after_is_retried_after_waiting(scenarios: dict[str, Scenario]) -> None:
    s = scenarios["429"]
    _same_report(s.run, scenarios["baseline"].run)
    assert s.statuses() == [429, 429, 200]
    assert s.run.elapsed >= 1.9, s.run.elapsed  # Retry-After: 1, twice
    assert "429, retrying in 1.0 s" in s.run.err  # -v 6 says so
    _no_secrets(s.run)


def test_500_once_is_retried(scenarios: dict[str, Scenario]) -> None:
    s = scenarios["500-once"]
    _same_report(s.run, scenarios["baseline"].run)
    assert s.statuses() == [500, 200]


def test_connection_reset_once_is_retried(scenarios: dict[str, Scenario]) -> None:
    s = scenarios["reset-once"]
    _same_report(s.run, scenarios["baseline"].run)
    assert s.statuses() == [0, 200]  # 0: the fake server reset the connection


def test_500_forever_exits_3_with_one_line(scenarios: dict[str, Scenario]) -> None:
    s = scenarios["500-forever"]
    run = s.run
    assert run.out == ""
    lines = [line for line in run.err.splitlines() if not line.startswith(("DEBUG ", "INFO "))]
    assert len(lines) == 1 and lines[0].startswith("error: "), run
    assert "cannot read pods in namespace shop" in lines[0] and s.api is not None and s.api.url in lines[0]
    assert run.code == 3
    assert s.statuses() == [500] * MAX_ATTEMPTS
    _no_secrets(run)


def _error_line(run: Run) -> str:
    lines = [line for line in run.err.splitlines() if not line.startswith(("DEBUG ", "INFO "))]
    assert len(lines) == 1, run
    return lines[0]


def test_unreachable_server(scenarios: dict[str, Scenario]) -> None:
    run = scenarios["unreachable"].run
    line = _error_line(run)
    assert run.code == 3 and run.out == "" and line.startswith("error: cannot reach the cluster at https://127.0.0.1:")
    assert "connection refused" in line
    _no_secrets(run)


def test_wrong_token_is_refused(scenarios: dict[str, Scenario]) -> None:
    s = scenarios["wrong-token"]
    line = _error_line(s.run)
    assert s.run.code == 3 and s.run.out == ""
    assert "refused the credentials" in line and "401" in line
    assert s.statuses("/apis") == [401]  # not retried
    _no_secrets(s.run)


def test_untrusted_certificate(scenarios: dict[str, Scenario]) -> None:
    s = scenarios["untrusted"]
    line = _error_line(s.run)
    assert s.run.code == 3 and s.run.out == ""
    assert "TLS" in line and "certificate" in line
    assert s.statuses("/apis") == []  # the handshake failed: no request reached the server
    _no_secrets(s.run)


def test_request_timeout_exits_3(scenarios: dict[str, Scenario]) -> None:
    run = scenarios["timeout"].run
    line = _error_line(run)
    assert run.code == 3 and run.out == ""
    assert "timed out" in line
    _no_secrets(run)


def test_request_timeout_gives_up_within_a_few_seconds(scenarios: dict[str, Scenario]) -> None:
    """--request-timeout bounds the request: one timeout is the end (no retries with backoff).
    Measured against the baseline run, which started at the same moment on the same machine
    (the server holds the pod list 5 s: waiting it out would take baseline + 5 s). No absolute
    bound: eleven runs start at once, and on a loaded machine the baseline alone took 6 s."""
    run, baseline = scenarios["timeout"].run, scenarios["baseline"].run
    assert run.code == 3
    assert run.elapsed < baseline.elapsed + 2.0, (run.elapsed, baseline.elapsed)
    assert scenarios["timeout"].statuses() in ([], [200])  # asked once (logged when the server gave up waiting)


def test_no_traceback_and_one_error_line_for_every_failure(scenarios: dict[str, Scenario]) -> None:
    for name in ("500-forever", "timeout", "unreachable", "wrong-token", "untrusted"):
        run = scenarios[name].run
        # Without -v the same runs print just the error line (checked on the -v 6 output).
        assert _error_line(run).startswith("error: "), name
        assert "internal error" not in run.err, name


def test_one_line_without_verbosity(tmp_path: Path) -> None:
    """Exactly one stderr line when no logs are asked for."""
    api = _cluster()
    kc = api.kubeconfig(tmp_path / "kc", user="ops")
    api.stop()
    run = start_doctor("-n", "shop", "--no-probe", kubeconfig=kc, env={"KUBECONFIG": str(tmp_path / "none")}).result()
    assert_one_line_error(run, "cannot reach the cluster", "connection refused", secrets=(TOKEN,))


@pytest.mark.parametrize("value", ["abc", "-1s", "10x"])
def test_bad_request_timeout_is_a_usage_error(value: str) -> None:
    run = doctor_in_process("-n", "shop", "--no-probe", "--request-timeout", value, "--kubeconfig", "/nonexistent")
    assert run.code == 2, run
    assert run.out == "" and len(run.err.splitlines()) == 1 and "--request-timeout" in run.err
