"""The single-file build (packaging/build.py) and the krew archives, built as a release
would build them and run the way users run them: a stock python3 >= 3.11 with no
site-packages (`python3 -I`), from an empty directory with an empty HOME, through the
real kubectl, offline and against the fake API server.

The build downloads pinned wheels from the package index (kept in
$PULLSECRET_WHEEL_CACHE, default ~/.cache/kubectl-pullsecret-build)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from kubectl_pullsecret import __version__
from tests.integration.live_helpers import KUBECTL, example_objects, fake_kube

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "packaging"))
import build  # noqa: E402  (packaging/build.py)

# A stock interpreter: Debian's python3 when it is new enough, else this one (always -I).
STOCK = next((p for p in ("/usr/bin/python3",) if os.path.exists(p) and subprocess.run(
    [p, "-c", "import sys; raise SystemExit(sys.version_info < (3, 11))"], check=False).returncode == 0),
    sys.executable)
HOST = build.host_platform()
pytestmark = pytest.mark.skipif(HOST is None, reason="no single-file build for this machine")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every platform's single file and krew archive, and the manifest they need."""
    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run([sys.executable, str(REPO / "packaging" / "build.py"), "--krew", "--out", str(out),
                           "--manifest", str(out / "pullsecret.yaml")], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.fixture
def clean(tmp_path: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    """An empty working directory and a minimal environment with an empty HOME."""
    work, home = tmp_path / "work", tmp_path / "home"
    work.mkdir()
    home.mkdir()
    yield work, {"PATH": f"{Path(STOCK).parent}:/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8",
                 "TMPDIR": str(tmp_path)}


def run(single: Path, *args: str | Path, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([STOCK, "-I", str(single), *map(str, args)], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120, check=False)


def installed(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """The same command from the installed package (the test environment)."""
    return subprocess.run([sys.executable, "-m", "kubectl_pullsecret", *map(str, args)], cwd=REPO,
                          capture_output=True, text=True, timeout=120, check=False)


def test_build_is_reproducible_and_the_committed_manifest_matches(built: Path) -> None:
    committed = (REPO / "packaging" / "krew" / "pullsecret.yaml").read_text()
    assert (built / "pullsecret.yaml").read_text() == committed, (
        "packaging/krew/pullsecret.yaml is stale: run `python packaging/build.py --krew` and commit it")
    # A second build of the host platform gives the same bytes.
    again = build.zipapp(HOST, Path(os.environ.get("PULLSECRET_WHEEL_CACHE",  # type: ignore[arg-type]
                                                   Path.home() / ".cache" / "kubectl-pullsecret-build")))
    assert hashlib.sha256(again).hexdigest() == hashlib.sha256((built / build.NAME).read_bytes()).hexdigest()


def test_version_and_offline_doctor_from_a_clean_directory(built: Path, clean: tuple[Path, dict[str, str]]) -> None:
    work, env = clean
    single = built / build.NAME
    got = run(single, "version", cwd=work, env=env)
    assert got.returncode == 0 and got.stdout.startswith(f"kubectl-pullsecret v{__version__} (python 3."), got
    got = run(single, "doctor", "-f", REPO / "examples" / "shop", "--no-probe", "-o", "json", cwd=work, env=env)
    want = installed("doctor", "-f", REPO / "examples" / "shop", "--no-probe", "-o", "json")
    assert got.returncode == want.returncode == 1, got.stderr
    assert got.stdout == want.stdout and json.loads(got.stdout)["findings"]
    # Offline unpacks the core group only (no kubernetes, no compiled code), and writes
    # nothing else anywhere.
    cache = Path(env["HOME"]) / ".cache" / "kubectl-pullsecret"
    assert [p.name.split("-")[0] for p in cache.iterdir()] == ["core"]
    assert list(work.iterdir()) == [] and [p.name for p in Path(env["HOME"]).iterdir()] == [".cache"]
    # Executable as it is (shebang `#!/usr/bin/env python3`).
    direct = subprocess.run([str(single), "version"], cwd=work, env=env, capture_output=True, text=True, check=False)
    assert direct.returncode == 0 and f"kubectl-pullsecret v{__version__}" in direct.stdout, direct


def test_live_doctor_unpacks_the_compiled_part_once(built: Path, clean: tuple[Path, dict[str, str]]) -> None:
    work, env = clean
    single = built / build.NAME
    with fake_kube(openshift=False) as api:
        api.add_all(example_objects("shop"))
        kc = api.kubeconfig(work.parent / "kubeconfig")
        got = run(single, "doctor", "-n", "shop", "--no-probe", "-o", "json", "--kubeconfig", kc, cwd=work, env=env)
        want = installed("doctor", "-n", "shop", "--no-probe", "-o", "json", "--kubeconfig", kc)
        assert got.returncode == want.returncode == 1, got.stderr
        assert json.loads(got.stdout) == json.loads(want.stdout)
        cache = Path(env["HOME"]) / ".cache" / "kubectl-pullsecret"
        assert sorted(p.name.split("-")[0] for p in cache.iterdir()) == ["core", "live"]
        [unpacked] = cache.glob("live-*")
        assert stat.S_IMODE(cache.stat().st_mode) == 0o700
        assert (next(cache.glob("core-*")) / "kubectl_pullsecret" / "__pycache__").is_dir()
        libs = sorted(p.name for p in (unpacked / "pydantic_core").iterdir() if p.suffix == ".so")
        assert len(libs) == 1, libs  # this interpreter's only
        assert (unpacked / "kubernetes" / "client" / "__init__.py").is_file()
        # Python cached the bytecode of what it imported from there (the point of unpacking).
        assert list((unpacked / "kubernetes" / "client" / "models").glob("__pycache__/*.pyc"))
        before = {p: p.stat().st_mtime_ns for p in unpacked.rglob("*")}
        again = run(single, "doctor", "-n", "shop", "--no-probe", "-o", "json", "--kubeconfig", kc, cwd=work, env=env)
        assert again.stdout == got.stdout
        assert len(list(cache.iterdir())) == 2
        assert {p: p.stat().st_mtime_ns for p in unpacked.rglob("*")} == before  # reused, not rewritten


def test_live_doctor_without_a_writable_cache(built: Path, clean: tuple[Path, dict[str, str]]) -> None:
    """No usable cache (a read-only HOME in a container; here a cache path under a file,
    which no user, root included, can create): the core imported from the zip itself, the
    live group unpacked to a private temporary directory, removed at exit."""
    work, env = clean
    scratch = work.parent / "scratch"
    scratch.mkdir()
    env = {**env, "TMPDIR": str(scratch), "XDG_CACHE_HOME": "/dev/null/cache"}
    with fake_kube(openshift=False) as api:
        api.add_all(example_objects("shop"))
        kc = api.kubeconfig(work.parent / "kubeconfig")
        got = run(built / build.NAME, "doctor", "-n", "shop", "--no-probe", "-o", "json", "--kubeconfig", kc,
                  cwd=work, env=env)
        want = installed("doctor", "-n", "shop", "--no-probe", "-o", "json", "--kubeconfig", kc)
    assert got.returncode == 1, got.stderr
    assert json.loads(got.stdout) == json.loads(want.stdout)
    assert list(scratch.iterdir()) == []  # the per-run directory is gone
    assert list(Path(env["HOME"]).iterdir()) == []  # and nothing went to HOME


def test_cache_owned_by_someone_else_is_not_used(built: Path, clean: tuple[Path, dict[str, str]]) -> None:
    """A cache directory others may write to (a planted library) is never imported from."""
    work, env = clean
    cache = Path(env["HOME"]) / ".cache" / "kubectl-pullsecret"
    cache.mkdir(parents=True)
    cache.chmod(0o777)
    scratch = work.parent / "scratch"
    scratch.mkdir()
    with fake_kube(openshift=False) as api:
        api.add_all(example_objects("shop"))
        kc = api.kubeconfig(work.parent / "kubeconfig")
        got = run(built / build.NAME, "doctor", "-n", "shop", "--no-probe", "-o", "json", "--kubeconfig", kc,
                  cwd=work, env={**env, "TMPDIR": str(scratch)})
    assert got.returncode == 1, got.stderr
    assert list(cache.iterdir()) == []  # not used
    assert list(scratch.iterdir()) == []  # the per-run directory is gone


def test_other_platform_file_is_a_one_line_error_live_and_works_offline(
        built: Path, clean: tuple[Path, dict[str, str]]) -> None:
    work, env = clean
    other = next(k for k in build.PLATFORMS if k != HOST.key)  # type: ignore[union-attr]
    single = built / f"{build.NAME}-{other}"
    offline = run(single, "doctor", "-f", REPO / "examples" / "shop", "--no-probe", cwd=work, env=env)
    assert offline.returncode == 1 and "Summary:" in offline.stdout
    with fake_kube(openshift=False) as api:
        kc = api.kubeconfig(work.parent / "kubeconfig")
        got = run(single, "doctor", "-n", "shop", "--kubeconfig", kc, cwd=work, env=env)
    assert got.returncode == 3, got
    assert got.stderr.count("\n") == 1 and "Traceback" not in got.stderr
    assert got.stderr.startswith("error: cannot load the kubernetes client: this kubectl-pullsecret file has no "
                                 "pydantic_core for this python3"), got.stderr


def test_node_probe_bundle_from_the_single_file_is_the_installed_one(built: Path, tmp_path: Path) -> None:
    """--from-nodes ships the plugin's own code to the nodes: from the single file (a zip)
    it must ship the same files as from an installed package."""
    from kubectl_pullsecret import nodes

    out = tmp_path / "bundle.zip"
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from kubectl_pullsecret import nodes; "
            "open(sys.argv[2], 'wb').write(nodes.bundle())")
    proc = subprocess.run([STOCK, "-I", "-c", code, f"{built / build.NAME}/_lazy/core", str(out)], capture_output=True,
                          text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    with zipfile.ZipFile(out) as got, zipfile.ZipFile(__import__("io").BytesIO(nodes.bundle())) as want:
        names = sorted(got.namelist())
        assert names == sorted(want.namelist())
        assert {n for n in names if n.startswith("kubectl_pullsecret/")} >= {"kubectl_pullsecret/nodeprobe.py"}
        for name in names:
            assert got.read(name) == want.read(name), name


@pytest.mark.skipif(KUBECTL is None, reason="kubectl is not on PATH")
def test_krew_archive_installs_and_runs_through_kubectl(built: Path, tmp_path: Path) -> None:
    """As krew installs it: unpack the archive whose sha256 the manifest names, apply the
    manifest's `files`, put `bin` on PATH as kubectl-pullsecret, run `kubectl pullsecret`."""
    manifest = yaml.safe_load((built / "pullsecret.yaml").read_text())
    [platform] = [p for p in manifest["spec"]["platforms"]
                  if p["selector"]["matchLabels"] == {"os": HOST.os, "arch": HOST.arch}]  # type: ignore[union-attr]
    archive = built / platform["uri"].rsplit("/", 1)[1]
    assert hashlib.sha256(archive.read_bytes()).hexdigest() == platform["sha256"]
    unpacked, store, bindir = tmp_path / "unpacked", tmp_path / "store", tmp_path / "bin"
    for d in (unpacked, store, bindir):
        d.mkdir()
    with tarfile.open(archive) as tar:
        tar.extractall(unpacked, filter="data")
    for op in platform["files"]:
        shutil.copy2(unpacked / op["from"], store / op["from"])
    (bindir / "kubectl-pullsecret").symlink_to(store / platform["bin"])
    (bindir / "kubectl_complete-pullsecret").symlink_to(store / "kubectl_complete-pullsecret")
    python_dir = tmp_path / "python"
    python_dir.mkdir()
    (python_dir / "python3").symlink_to(STOCK)
    env = {"PATH": f"{bindir}:{python_dir}:{Path(str(KUBECTL)).parent}:/usr/bin:/bin", "HOME": str(tmp_path),
           "KUBECONFIG": str(tmp_path / "none")}
    got = subprocess.run([str(KUBECTL), "pullsecret", "version"], env=env, capture_output=True, text=True,
                         timeout=60, check=False)
    assert got.returncode == 0 and f"kubectl-pullsecret v{__version__}" in got.stdout, got
    got = subprocess.run([str(KUBECTL), "pullsecret", "doctor", "-f", str(REPO / "examples" / "shop"),
                          "--no-probe", "-o", "json"], env=env, capture_output=True, text=True, timeout=60,
                         check=False)
    assert got.returncode == 1 and json.loads(got.stdout)["findings"], got.stderr
    # Completion through the archive's kubectl_complete-pullsecret (linked next to the plugin).
    got = subprocess.run([str(KUBECTL), "__complete", "pullsecret", "doc"], env=env, capture_output=True, text=True,
                         timeout=60, check=False)
    assert got.stdout.splitlines()[-1] == ":4" and [c.split("\t")[0] for c in got.stdout.splitlines()[:-1]] == [
        "doctor"], got
    got = subprocess.run([str(KUBECTL), "__complete", "pullsecret", "doctor", "-o", ""], env=env,
                         capture_output=True, text=True, timeout=60, check=False)
    assert {c.split("\t")[0] for c in got.stdout.splitlines()[:-1]} == {"table", "wide", "json", "yaml", "markdown"}


def test_archives_hold_the_files_the_manifest_installs(built: Path) -> None:
    manifest = yaml.safe_load((built / "pullsecret.yaml").read_text())
    for platform in manifest["spec"]["platforms"]:
        labels = platform["selector"]["matchLabels"]
        archive = built / platform["uri"].rsplit("/", 1)[1]
        assert hashlib.sha256(archive.read_bytes()).hexdigest() == platform["sha256"]
        with tarfile.open(archive) as tar:
            members = {m.name: m for m in tar.getmembers()}
            assert set(members) == {op["from"] for op in platform["files"]} == {
                build.NAME, build.COMPLETE, "LICENSE"}
            assert platform["bin"] in members and members[platform["bin"]].mode & 0o111
            assert all(m.isfile() and m.uid == 0 and m.mtime == build.TAR_MTIME for m in members.values())
            single = tar.extractfile(build.NAME).read()  # type: ignore[union-attr]
        key = f"{labels['os']}-{labels['arch']}"
        assert single == (built / f"{build.NAME}-{key}").read_bytes()
        assert single.startswith(b"#!/usr/bin/env python3\n")
        with zipfile.ZipFile(__import__("io").BytesIO(single)) as zf:
            names = zf.namelist()
            assert "__main__.py" in names and "_lazy/core/kubectl_pullsecret/cli.py" in names
            assert not [n for n in names if n.endswith((".so", ".pyd")) and not n.startswith("_lazy/live/")]
            assert not [n for n in names if "kubernetes/aio/" in n or "aiohttp/" in n]
            # What offline runs and probes import is the core group; what only a live cluster needs, the live one.
            assert {"_lazy/core/yaml/__init__.py", "_lazy/core/requests/__init__.py",
                    "_lazy/core/tabulate/__init__.py"} <= set(names)
            assert {"_lazy/live/kubernetes/client/__init__.py", "_lazy/live/pydantic/__init__.py"} <= set(names)
            assert not [n for n in names if not n.startswith("_lazy/") and n.endswith(".py")
                        and n not in ("__main__.py", "_pullsecret_lazy.py")]
            libs = sorted(n for n in names if n.startswith("_lazy/live/pydantic_core/") and n.endswith(".so"))
            tags = {"linux-amd64": "x86_64-linux-gnu.so", "linux-arm64": "aarch64-linux-gnu.so",
                    "darwin-amd64": "darwin.so", "darwin-arm64": "darwin.so"}
            # One library per supported CPython version, all for this platform.
            assert [n.split(".cpython-")[1].split("-")[0] for n in libs] == [
                p.replace(".", "") for p in build.PYTHONS], libs
            assert all(n.endswith(tags[key]) for n in libs), libs
            index = [line for group in ("core", "live") for line in zf.read(f"_lazy/{group}/INDEX").decode().splitlines()]
            assert {line.split("  ", 1)[1] for line in index} == {n for n in names if n.startswith("_lazy/")} - {
                "_lazy/core/INDEX", "_lazy/live/INDEX"}
            for line in index:
                digest, name = line.split("  ", 1)
                assert hashlib.sha256(zf.read(name)).hexdigest() == digest
