"""packaging/krew/pullsecret.yaml against krew's manifest rules (krew's
internal/index/validation: ValidatePlugin, validatePlatform, validateSelector; the
installer's `files`/`bin` semantics; krew-index's review rules), without a build.
tests/integration/test_singlefile.py rebuilds the archives and checks their contents
and sha256 against this file."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubectl_pullsecret import __version__

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = ROOT / "packaging" / "krew" / "pullsecret.yaml"
sys.path.insert(0, str(ROOT / "packaging"))
import build  # noqa: E402

SEMVER = re.compile(r"^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$")
WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}


def violations(name: str, doc: Any) -> list[str]:
    """krew's structural rules, as messages (empty: valid)."""
    out = []
    if doc.get("apiVersion") != "krew.googlecontainertools.github.com/v1alpha2":
        out.append("apiVersion")
    if doc.get("kind") != "Plugin":
        out.append("kind")
    if not re.fullmatch(r"[\w-]+", name) or name.upper() in WINDOWS_RESERVED:
        out.append("unsafe plugin name")
    if (doc.get("metadata") or {}).get("name") != name:
        out.append("metadata.name must equal the file name")
    spec = doc.get("spec") or {}
    short = spec.get("shortDescription") or ""
    if not short or "\n" in short or "\r" in short:
        out.append("shortDescription: one non-empty line")
    if not SEMVER.match(str(spec.get("version") or "")):
        out.append("version: semver with a leading v")
    platforms = spec.get("platforms") or []
    if not platforms:
        out.append("no platforms")
    for i, p in enumerate(platforms):
        if not p.get("uri"):
            out.append(f"platforms[{i}].uri")
        if not re.fullmatch(r"[a-f0-9]{64}", str(p.get("sha256") or "")):
            out.append(f"platforms[{i}].sha256")
        if not p.get("bin"):
            out.append(f"platforms[{i}].bin")
        files = p.get("files")
        if files is not None and (not files or any(not f.get("from") or not f.get("to") for f in files)):
            out.append(f"platforms[{i}].files")
        sel = p.get("selector")
        if not sel or not (sel.get("matchLabels") or sel.get("matchExpressions")):
            out.append(f"platforms[{i}].selector empty")
        else:
            keys = list(sel.get("matchLabels") or {}) + [e.get("key") for e in sel.get("matchExpressions") or []]
            if any(k not in ("os", "arch") for k in keys):
                out.append(f"platforms[{i}].selector key")
    return out


@pytest.fixture(scope="module")
def manifest() -> Any:
    return yaml.safe_load(MANIFEST.read_text())


def test_manifest_passes_krew_validation(manifest: Any) -> None:
    assert violations(MANIFEST.stem, manifest) == []


@pytest.mark.parametrize("mutate, problem", [
    (lambda d: d.update(apiVersion="krew.googlecontainertools.github.com/v1alpha1"), "apiVersion"),
    (lambda d: d["metadata"].update(name="pull-secret"), "metadata.name must equal the file name"),
    (lambda d: d["spec"].update(version="0.1.0"), "version: semver with a leading v"),
    (lambda d: d["spec"].update(shortDescription="two\nlines"), "shortDescription: one non-empty line"),
    (lambda d: d["spec"]["platforms"][0].update(sha256="ABC"), "platforms[0].sha256"),
    (lambda d: d["spec"]["platforms"][0]["selector"]["matchLabels"].update(distro="debian"),
     "platforms[0].selector key"),
    (lambda d: d["spec"]["platforms"][1].update(files=[]), "platforms[1].files"),
])
def test_the_validator_catches_what_krew_rejects(manifest: Any, mutate: Any, problem: str) -> None:
    doc = yaml.safe_load(MANIFEST.read_text())
    mutate(doc)
    assert problem in violations(MANIFEST.stem, doc)


def test_platforms_version_and_install_layout(manifest: Any) -> None:
    spec = manifest["spec"]
    assert spec["version"] == f"v{__version__}"
    assert len(spec["shortDescription"]) <= 50  # krew-index's review limit
    assert spec["homepage"].startswith("https://")
    seen = set()
    for p in spec["platforms"]:
        labels = p["selector"]["matchLabels"]
        key = f"{labels['os']}-{labels['arch']}"
        assert key in build.PLATFORMS and key not in seen  # one entry per os/arch, none overlapping
        seen.add(key)
        archive = build.archive_name(__version__, build.PLATFORMS[key])
        assert p["uri"] == f"{build.HOMEPAGE}/releases/download/v{__version__}/{archive}"
        # krew copies `files` (from: archive path, to: install dir) and links `bin`, which
        # must be one of the installed files; no path may leave the install directory.
        installed = {f["from"] for f in p["files"] if f["to"] == "."}
        assert p["bin"] in installed and p["bin"] == "kubectl-pullsecret"
        assert {"LICENSE", "kubectl_complete-pullsecret"} <= installed
        assert not [f for f in p["files"] if ".." in f["from"].split("/") or f["to"].startswith("/")]
    assert seen == set(build.PLATFORMS)
    # Windows is not offered: krew needs a .exe bin there, and a zipapp is not one.
    assert "windows" not in {p["selector"]["matchLabels"]["os"] for p in spec["platforms"]}
    assert "Apache License" in (ROOT / "LICENSE").read_text()[:200]  # what pyproject.toml declares
