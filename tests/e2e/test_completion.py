"""The real kubectl completes `kubectl pullsecret ...` through kubectl_complete-pullsecret
(kubectl >= 1.26 plugin completion): `kubectl __complete pullsecret WORDS` runs the program
found on PATH and passes its cobra-protocol answer through. Names come from the fake API
server of tests/fakekube, through the kubeconfig of the current context."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubectl_pullsecret import checks, cli
from kubectl_pullsecret.snapshot import load_files
from tests.fakekube import FakeKube
from tests.integration.live_helpers import (
    KUBECTL,
    fake_kube,
    namespace,
    pod,
    pull_secret,
    service_account,
)

REPO = Path(__file__).resolve().parents[2]
BIN = REPO / "bin"
KINDS = {"pod/", "deployment/", "statefulset/", "daemonset/", "replicaset/", "replicationcontroller/", "job/",
         "cronjob/", "deploymentconfig/", "sa/", "secret/"}

pytestmark = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not on PATH")


@dataclass
class Answer:
    candidates: set[str]
    directive: int
    described: dict[str, str]
    err: str
    elapsed: float

    def __str__(self) -> str:
        return f"{sorted(self.candidates)} :{self.directive} in {self.elapsed:.2f}s\nstderr: {self.err[:2000]}"


def deployment(name: str, ns: str) -> dict[str, Any]:
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": ns},
            "spec": {"selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "app", "image": "quay.io/acme/web:1"}]}}}}


@pytest.fixture(scope="module")
def plugin_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding the two programs kubectl looks for (links to the checkout's
    launchers) and `python3` being this interpreter (their shebang)."""
    d = tmp_path_factory.mktemp("plugins")
    for name in ("kubectl-pullsecret", "kubectl_complete-pullsecret"):
        (d / name).symlink_to(BIN / name)
    python3 = d / "python3"
    python3.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    python3.chmod(0o755)
    return d


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FakeKube, Path]]:
    """Namespaces shop (the current context's) and other; a second context other-ctx whose
    namespace is other, in a second kubeconfig file of the KUBECONFIG list."""
    d = tmp_path_factory.mktemp("kube")
    with fake_kube() as api:
        api.add_all([
            namespace("shop"), namespace("other"),
            pod("web-1", "shop", "quay.io/acme/web:1"), pod("web-2", "shop", "quay.io/acme/web:1"),
            pod("api-1", "shop", "quay.io/acme/api:1"), pod("db-1", "other", "quay.io/acme/db:1"),
            service_account("default", "shop"), service_account("builder", "shop", pull=["regcred"]),
            service_account("default", "other"), service_account("deployer", "other"),
            pull_secret("regcred", "shop", {}), pull_secret("mirror-cred", "shop", {}),
            pull_secret("other-cred", "other", {}),
            deployment("web", "shop"), deployment("api", "shop"), deployment("db", "other"),
        ])
        api.add_user("nobody", "nobody-token")
        first = api.kubeconfig(d / "first", namespace="shop", context="fake")
        second = api.kubeconfig(d / "second", namespace="other", context="other-ctx")
        # Both files name a current context: the first file's wins, as for kubectl (the
        # kubernetes client's merger alone would take the last one's).
        assert yaml.safe_load(second.read_text())["current-context"] == "other-ctx"
        api.kubeconfig(d / "nobody", user="nobody", namespace="shop", context="nobody")
        yield api, Path(f"{first}{os.pathsep}{second}")


def run(plugins: Path, kubeconfig: Path | str, *words: str, extra_env: dict[str, str] | None = None) -> Answer:
    """`kubectl __complete pullsecret WORDS` with the plugins first on PATH: the candidates
    (descriptions apart) and the directive line of its stdout."""
    assert KUBECTL is not None
    home = plugins.parent / "home"
    home.mkdir(exist_ok=True)
    env = dict(os.environ)
    env.pop("KUBECTL_PULLSECRET_COMPLETE_DEBUG", None)
    env.update({"PATH": os.pathsep.join([str(plugins), str(Path(KUBECTL).parent), "/usr/bin", "/bin"]),
                "PYTHONPATH": str(REPO), "HOME": str(home), "KUBECONFIG": str(kubeconfig)})
    env.update(extra_env or {})
    started = time.perf_counter()
    proc = subprocess.run([KUBECTL, "__complete", "pullsecret", *words], env=env, capture_output=True, text=True,
                          timeout=60, check=False)
    elapsed = time.perf_counter() - started
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines and lines[-1].startswith(":"), proc.stdout
    described = dict((line.split("\t", 1) + [""])[:2] for line in lines[:-1])
    return Answer(set(described), int(lines[-1][1:]), described, proc.stderr, elapsed)


def parser_flags(command: str) -> set[str]:
    _, commands = cli.build_parser()
    return {s for a in commands[command]._actions for s in a.option_strings}


# --- static: commands, flags, values ------------------------------------------------------------------

def test_plugin_completion_program_is_used(plugin_path: Path, tmp_path: Path) -> None:
    got = run(plugin_path, tmp_path / "none", "")
    assert got.candidates == {"doctor", "fix", "version"}, got
    assert got.directive == 4
    assert got.described["doctor"].startswith("which credentials the kubelet will try")
    assert "Completion ended with directive: ShellCompDirectiveNoFileComp" in got.err


def test_fix_sub_words(plugin_path: Path, tmp_path: Path) -> None:
    got = run(plugin_path, tmp_path / "none", "fix", "")
    assert got.candidates == {"link", "create", "grant", "global", "restart"} | KINDS, got
    assert got.directive == 6
    got = run(plugin_path, tmp_path / "none", "fix", "global", "")
    assert (got.candidates, got.directive) == ({"set", "remove"}, 4), got


def test_doctor_flags(plugin_path: Path, tmp_path: Path) -> None:
    got = run(plugin_path, tmp_path / "none", "doctor", "--")
    assert got.candidates == {f for f in parser_flags("doctor") if f.startswith("--")}, got
    assert {"--fail-on", "--checks", "--skip", "--from-nodes", "--namespace", "--output"} <= got.candidates
    assert got.directive == 4
    assert got.described["--kubeconfig"] == "kubeconfig file"
    got = run(plugin_path, tmp_path / "none", "doctor", "-o", "json", "-n", "x", "-")
    assert not {"-o", "--output", "-n", "--namespace"} & got.candidates
    assert {"-A", "-f", "--filename", "--fail-on"} <= got.candidates


def test_output_values(plugin_path: Path, tmp_path: Path) -> None:
    for words in (("doctor", "-o", ""), ("doctor", "--output", ""), ("doctor", "--output=")):
        got = run(plugin_path, tmp_path / "none", *words)
        assert (got.candidates, got.directive) == ({"table", "wide", "json", "yaml", "markdown"}, 4), (words, got)
    got = run(plugin_path, tmp_path / "none", "fix", "link", "x", "-o", "")
    assert (got.candidates, got.directive) == ({"yaml", "json"}, 4), got
    got = run(plugin_path, tmp_path / "none", "fix", "--dry-run", "")
    assert got.candidates == {"none", "client", "server"}, got


def test_check_id_lists(plugin_path: Path, tmp_path: Path) -> None:
    ids = list(checks.CHECKS)
    got = run(plugin_path, tmp_path / "none", "doctor", "--checks", "a,")
    assert got.candidates == {f"a,{i}" for i in ids}, got
    assert got.directive == 6
    got = run(plugin_path, tmp_path / "none", "doctor", "--skip", "pull-secret-missing,pull-secret-")
    assert got.candidates == {f"pull-secret-missing,{i}" for i in ids
                              if i.startswith("pull-secret-") and i != "pull-secret-missing"}, got


def test_file_flags_leave_it_to_the_shell(plugin_path: Path, tmp_path: Path) -> None:
    got = run(plugin_path, tmp_path / "none", "doctor", "-f", "")
    assert (got.candidates, got.directive) == (set(), 0), got
    assert "ShellCompDirectiveDefault" in got.err
    got = run(plugin_path, tmp_path / "none", "fix", "--backup-dir", "")
    assert (got.candidates, got.directive) == (set(), 16), got


# --- names from the cluster ----------------------------------------------------------------------------

def test_pod_names_of_the_current_context(plugin_path: Path, cluster: tuple[FakeKube, Path]) -> None:
    _, kc = cluster
    got = run(plugin_path, kc, "doctor", "pod/")
    assert (got.candidates, got.directive) == ({"pod/web-1", "pod/web-2", "pod/api-1"}, 4), got
    got = run(plugin_path, kc, "doctor", "po/w")
    assert got.candidates == {"po/web-1", "po/web-2"}, got
    got = run(plugin_path, kc, "doctor", "pod/web-1", "pod/")
    assert got.candidates == {"pod/web-2", "pod/api-1"}, got


def test_service_account_and_secret_names(plugin_path: Path, cluster: tuple[FakeKube, Path]) -> None:
    _, kc = cluster
    assert run(plugin_path, kc, "doctor", "sa/").candidates == {"sa/default", "sa/builder"}
    assert run(plugin_path, kc, "fix", "serviceaccount/b").candidates == {"serviceaccount/builder"}
    assert run(plugin_path, kc, "doctor", "secret/").candidates == {"secret/regcred", "secret/mirror-cred"}
    assert run(plugin_path, kc, "doctor", "--sa", "").candidates == {"default", "builder"}
    assert run(plugin_path, kc, "fix", "link", "").candidates == {"regcred", "mirror-cred"}
    assert run(plugin_path, kc, "fix", "link", "regcred", "--sa", "b").candidates == {"builder"}
    assert run(plugin_path, kc, "fix", "create", "x", "--link", "").candidates == {"default", "builder"}


def test_workload_names(plugin_path: Path, cluster: tuple[FakeKube, Path]) -> None:
    _, kc = cluster
    assert run(plugin_path, kc, "doctor", "deployment/").candidates == {"deployment/web", "deployment/api"}
    assert run(plugin_path, kc, "fix", "restart", "deploy/a").candidates == {"deploy/api"}
    # Not served by a plain Kubernetes API server: nothing.
    got = run(plugin_path, kc, "doctor", "deploymentconfig/")
    assert (got.candidates, got.directive) == (set(), 4), got


def test_namespace_flag_switches_namespaces(plugin_path: Path, cluster: tuple[FakeKube, Path]) -> None:
    _, kc = cluster
    assert run(plugin_path, kc, "doctor", "-n", "other", "pod/").candidates == {"pod/db-1"}
    assert run(plugin_path, kc, "doctor", "--namespace=other", "sa/").candidates == {"sa/default", "sa/deployer"}
    assert run(plugin_path, kc, "fix", "link", "-nother", "").candidates == {"other-cred"}
    assert run(plugin_path, kc, "doctor", "-A", "pod/").candidates == {"pod/web-1", "pod/web-2", "pod/api-1",
                                                                       "pod/db-1"}
    got = run(plugin_path, kc, "fix", "grant", "-n", "shop", "--from-namespace", "other", "--sa", "")
    assert got.candidates == {"default", "deployer"}, got


def test_namespace_names(plugin_path: Path, cluster: tuple[FakeKube, Path]) -> None:
    api, kc = cluster
    every = {o["metadata"]["name"] for o in api.list_objects("Namespace")}
    assert {"shop", "other"} <= every
    got = run(plugin_path, kc, "doctor", "-n", "")
    assert (got.candidates, got.directive) == (every, 4), got
    got = run(plugin_path, kc, "doctor", "--namespace=sh")
    assert got.candidates == {n for n in every if n.startswith("sh")}, got


def test_context_names_and_switching(plugin_path: Path, cluster: tuple[FakeKube, Path]) -> None:
    _, kc = cluster
    got = run(plugin_path, kc, "doctor", "--context", "")
    assert (got.candidates, got.directive) == ({"fake", "other-ctx"}, 4), got
    # other-ctx's namespace is other.
    assert run(plugin_path, kc, "doctor", "--context", "other-ctx", "pod/").candidates == {"pod/db-1"}
    first = str(kc).split(os.pathsep)[0]
    got = run(plugin_path, kc, "doctor", "--kubeconfig", first, "--context", "")
    assert got.candidates == {"fake"}, got


def test_node_names(plugin_path: Path, cluster: tuple[FakeKube, Path]) -> None:
    api, kc = cluster
    api.add({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "worker-1"}})
    try:
        assert run(plugin_path, kc, "doctor", "--from-nodes", "--node", "").candidates == {"worker-1"}
    finally:
        api.remove("Node", None, "worker-1")


def test_offline_files_give_the_names(plugin_path: Path, tmp_path: Path) -> None:
    shop = REPO / "examples" / "shop"
    pods = {f"pod/{p['metadata']['name']}" for p in load_files([str(shop)]).of("Pod")}
    assert pods
    got = run(plugin_path, tmp_path / "none", "doctor", "-f", str(shop), "pod/")
    assert (got.candidates, got.directive) == (pods, 4), got


# --- failures: no candidates, quickly, quietly ----------------------------------------------------------

def test_forbidden_gives_nothing(plugin_path: Path, cluster: tuple[FakeKube, Path]) -> None:
    _, kc = cluster
    nobody = Path(str(kc).split(os.pathsep)[0]).with_name("nobody")
    got = run(plugin_path, nobody, "doctor", "pod/")
    assert (got.candidates, got.directive) == (set(), 4), got
    got = run(plugin_path, nobody, "doctor", "pod/", extra_env={"KUBECTL_PULLSECRET_COMPLETE_DEBUG": "1"})
    assert got.candidates == set()
    assert "kubectl_complete-pullsecret: PermissionError: cannot list pods in namespace shop" in got.err, got


def test_unreachable_server_gives_just_the_directive_quickly(plugin_path: Path, tmp_path: Path) -> None:
    with FakeKube(openshift=False) as api:
        kc = api.kubeconfig(tmp_path / "kubeconfig", namespace="shop")
    # stopped: nothing listens there any more
    got = run(plugin_path, kc, "doctor", "pod/")
    assert (got.candidates, got.directive) == (set(), 4), got
    assert got.elapsed < 3, got
    lines = [line for line in got.err.splitlines() if not line.startswith("[Debug]")]
    assert lines == ["Completion ended with directive: ShellCompDirectiveNoFileComp"], got


def test_slow_server_is_given_up_on(plugin_path: Path, tmp_path: Path) -> None:
    with fake_kube() as api:
        api.add(pod("web-1", "default", "x"))
        api.fault(method="GET", path=r"/pods$", delay=10)
        kc = api.kubeconfig(tmp_path / "kubeconfig")
        got = run(plugin_path, kc, "doctor", "pod/", extra_env={"KUBECTL_PULLSECRET_COMPLETE_TIMEOUT": "1"})
    assert (got.candidates, got.directive) == (set(), 4), got
    assert got.elapsed < 4, got


def test_kubeconfig_without_a_cluster(plugin_path: Path, tmp_path: Path) -> None:
    kc = tmp_path / "kubeconfig"
    kc.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "Config", "current-context": "lost",
                                  "contexts": [{"name": "lost", "context": {"cluster": "gone", "user": "me"}}],
                                  "users": [{"name": "me", "user": {"token": "t"}}], "clusters": []}))
    got = run(plugin_path, kc, "doctor", "pod/")
    assert (got.candidates, got.directive) == (set(), 4), got
    got = run(plugin_path, kc, "doctor", "-n", "")
    assert (got.candidates, got.directive) == (set(), 4), got
    # The contexts are still there to choose from.
    assert run(plugin_path, kc, "doctor", "--context", "").candidates == {"lost"}
    # And no kubeconfig at all.
    got = run(plugin_path, tmp_path / "missing", "doctor", "sa/")
    assert (got.candidates, got.directive) == (set(), 4), got
    assert run(plugin_path, tmp_path / "missing", "doctor", "--context", "").candidates == set()
