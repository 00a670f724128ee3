"""Kubeconfig handling as kubectl does it: merged KUBECONFIG lists, --context, the context's
namespace, -n over it; and one clear line (exit 3) for a missing or broken kubeconfig, exit 2
for --kubeconfig with -f."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.fakekube import FakeKube
from tests.integration.live_helpers import (
    EXAMPLES,
    Run,
    assert_one_line_error,
    doctor,
    example_objects,
    fake_kube,
    namespace,
    pod,
    service_account,
)

TOKEN = "kubeconfig-token-0b9d8e7f"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FakeKube, Path]]:
    """shop (the example) and `other` (one pod); a kubeconfig with contexts main (namespace shop),
    other (namespace other) and bare (no namespace)."""
    with fake_kube(openshift=False) as api:
        api.add_all(example_objects("shop"))
        api.add_all([namespace("other"), service_account("default", "other"),
                     pod("lonely-0", "other", "quay.io/acme/lonely:1"),
                     namespace("default"), service_account("default", "default"),
                     pod("dflt-0", "default", "quay.io/acme/dflt:1")])
        api.add_user("dev", TOKEN, groups=("system:masters",))
        base = api.kubeconfig(tmp_path_factory.mktemp("kc") / "base", user="dev")
        config = yaml.safe_load(base.read_text())
        ctx = config["contexts"][0]["context"]
        config["contexts"] = [{"name": "main", "context": {**ctx, "namespace": "shop"}},
                              {"name": "other", "context": {**ctx, "namespace": "other"}},
                              {"name": "bare", "context": dict(ctx)}]
        config["current-context"] = "main"
        path = base.with_name("kubeconfig")
        path.write_text(yaml.safe_dump(config))
        yield api, path


@pytest.fixture
def api(cluster: tuple[FakeKube, Path]) -> FakeKube:
    cluster[0].clear_log()
    return cluster[0]


def pod_namespaces(api: FakeKube) -> list[str]:
    return [r.path.split("/")[4] for r in api.requests if r.path.endswith("/pods")]


def names(run: Run) -> set[str]:
    return {f["object"]["name"] for f in run.findings}


def test_merged_kubeconfig_list(cluster: tuple[FakeKube, Path], api: FakeKube, tmp_path: Path) -> None:
    """Cluster and user in one file, contexts and current-context in the other."""
    config = yaml.safe_load(cluster[1].read_text())
    first, second = tmp_path / "credentials.yaml", tmp_path / "contexts.yaml"
    first.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "Config", "clusters": config["clusters"],
                                     "users": config["users"]}))
    second.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "Config", "contexts": config["contexts"],
                                      "current-context": "other"}))
    run = doctor("--no-probe", "-o", "json", env={"KUBECONFIG": os.pathsep.join([str(first), str(second)])})
    assert run.code in (0, 1), run
    assert run.report["cluster"] == {"context": "other", "server": api.url, "openshift": False}
    assert pod_namespaces(api) == ["other"]
    assert "lonely-0" in names(run)


def test_merged_kubeconfig_list_first_current_context_wins(cluster: tuple[FakeKube, Path], api: FakeKube,
                                                           tmp_path: Path) -> None:
    """As kubectl: of a KUBECONFIG list, the first file that sets current-context wins
    (the kubernetes client's merger would take the last one)."""
    config = yaml.safe_load(cluster[1].read_text())
    first, second = tmp_path / "a.yaml", tmp_path / "b.yaml"
    first.write_text(yaml.safe_dump({**config, "current-context": "other"}))
    second.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "Config", "contexts": config["contexts"],
                                      "current-context": config["current-context"]}))
    assert config["current-context"] != "other"
    run = doctor("--no-probe", "-o", "json", env={"KUBECONFIG": os.pathsep.join([str(first), str(second)])})
    assert run.code in (0, 1), run
    assert run.report["cluster"]["context"] == "other"
    assert pod_namespaces(api) == ["other"]


def test_context_namespace_and_overrides(cluster: tuple[FakeKube, Path], api: FakeKube) -> None:
    kc = cluster[1]
    current = doctor("--no-probe", "-o", "json", kubeconfig=kc)
    assert current.report["cluster"]["context"] == "main"
    assert pod_namespaces(api) == ["shop"]
    api.clear_log()
    other = doctor("--context", "other", "--no-probe", "-o", "json", kubeconfig=kc)
    assert other.report["cluster"]["context"] == "other"
    assert pod_namespaces(api) == ["other"] and "lonely-0" in names(other)
    api.clear_log()
    bare = doctor("--context", "bare", "--no-probe", "-o", "json", kubeconfig=kc)
    assert pod_namespaces(api) == ["default"] and "dflt-0" in names(bare)
    api.clear_log()
    override = doctor("--context", "other", "-n", "shop", "--no-probe", "-o", "json", kubeconfig=kc)
    assert pod_namespaces(api) == ["shop"]
    assert override.report["cluster"]["context"] == "other"
    assert {f["object"]["namespace"] for f in override.findings} == {"shop"}


def test_unknown_context(cluster: tuple[FakeKube, Path]) -> None:
    run = doctor("--context", "nope", "--no-probe", kubeconfig=cluster[1])
    assert_one_line_error(run, "nope", secrets=(TOKEN,))


def test_missing_kubeconfig_file(tmp_path: Path) -> None:
    missing = tmp_path / "not-there.yaml"
    run = doctor("--no-probe", kubeconfig=missing)
    assert_one_line_error(run, str(missing), "no such file")


def test_no_kubeconfig_at_all(tmp_path: Path) -> None:
    run = doctor("--no-probe", env={"KUBECONFIG": str(tmp_path / "absent")})
    assert_one_line_error(run, "no cluster configured", "-f")


@pytest.mark.parametrize("text", [
    pytest.param("apiVersion: v1\nclusters: [ {name: x, cluster: {server: https://127.0.0.1:1}\n", id="broken-yaml"),
    pytest.param("apiVersion: v1\nkind: Config\ncurrent-context: gone\ncontexts: []\nclusters: []\nusers: []\n",
                 id="dangling-current-context"),
    pytest.param("just a string\n", id="not-a-mapping"),
])
def test_malformed_kubeconfig(tmp_path: Path, text: str) -> None:
    kc = tmp_path / "kubeconfig"
    kc.write_text(text)
    run = doctor("--no-probe", kubeconfig=kc)
    assert_one_line_error(run, "kubeconfig")


@pytest.mark.parametrize("flag", [["--kubeconfig", "KC"], ["--context", "main"]])
def test_cluster_flags_with_files_are_a_usage_error(cluster: tuple[FakeKube, Path], api: FakeKube,
                                                    flag: list[str]) -> None:
    args = [str(cluster[1]) if a == "KC" else a for a in flag]
    run = doctor("-f", EXAMPLES / "shop", *args, "--no-probe")
    assert run.code == 2, run
    assert run.out == "" and len(run.err.splitlines()) == 1 and "-f" in run.err
    assert api.requests == []


@pytest.mark.parametrize("extra, from_cluster", [([], False), (["--sa", "builder"], True),
                                                 (["-n", "shop", "--sa", "builder"], True)],
                         ids=["authfile-only", "sa", "namespace-and-sa"])
def test_image_with_authfile_reads_the_cluster_only_when_asked(cluster: tuple[FakeKube, Path], api: FakeKube,
                                                               tmp_path: Path, extra: list[str],
                                                               from_cluster: bool) -> None:
    """--image --authfile needs no cluster; -n or --sa ask for a service account's pull secrets,
    so the current context (KUBECONFIG) is read then, as kubectl would, not silently ignored."""
    authfile = tmp_path / "config.json"
    authfile.write_text('{"auths": {"registry.example.com": {"auth": "dTpw"}}}')
    run = doctor("--image", "ghcr.io/acme/tool:1", "--authfile", authfile, "--no-probe", "-o", "json", *extra,
                 env={"KUBECONFIG": str(cluster[1])})
    assert run.code in (0, 1), run
    sources = {c["source"] for i in run.report["images"] for c in i["credentials"]}
    assert ("secret/shop/ghcr-creds" in sources) == from_cluster, sources
    assert bool(api.requests) == from_cluster
