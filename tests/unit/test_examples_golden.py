"""Golden outputs: the table, wide, Markdown and JSON reports of every bundled example, byte for byte.

Regenerate after an intended change with: UPDATE_GOLDEN=1 pytest tests/unit/test_examples_golden.py
and review the diff like code.
"""

from __future__ import annotations

import io
import json
import os
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from kubectl_pullsecret.cli import main

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden"

CASES = {
    "shop": ["doctor", "-f", "examples/shop"],
    "openshift-project": ["doctor", "-f", "examples/openshift-project"],
    "must-gather": ["doctor", "-f", "examples/must-gather"],
    "authfile": ["doctor", "--authfile", "examples/authfile/config.json", "--image", "nginx:1.27",
                 "--image", "quay.io/acme/web:1.2", "--image", "registry.corp.example.com/team/app:3",
                 "--image", "quay.io:443/acme/web:1.2"],
}
EXPECTED_EXIT = {"shop": 1, "openshift-project": 1, "must-gather": 1, "authfile": 0}


def run(args: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        with redirect_stdout(out), redirect_stderr(err):
            code = main(args + ["--no-probe"])
    finally:
        os.chdir(cwd)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("fmt", ["table", "wide", "markdown", "json"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_golden(case: str, fmt: str) -> None:
    code, out, err = run(CASES[case] + ["-o", fmt])
    assert code == EXPECTED_EXIT[case], err
    path = GOLDEN / f"{case}.{ {'json': 'json', 'markdown': 'md', 'table': 'table.txt', 'wide': 'wide.txt'}[fmt]}"
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(out)
    assert path.exists(), f"missing golden file {path}: run with UPDATE_GOLDEN=1"
    assert out == path.read_text()


@pytest.mark.parametrize("case", sorted(CASES))
def test_table_fits_100_columns(case: str) -> None:
    """Every line but copy-paste commands fits a 100-column terminal."""
    _, out, _ = run(CASES[case])
    for line in out.splitlines():
        stripped = line.strip()
        if stripped.startswith(("fix:", "or:", "oc ", "kubectl ")):
            continue
        assert len(line) <= 100, line


@pytest.mark.parametrize("case", sorted(CASES))
def test_json_matches_the_contract(case: str) -> None:
    _, out, _ = run(CASES[case] + ["-o", "json"])
    doc = json.loads(out)
    # SPEC's document plus `logins` (secret/NAME targets' login probes; empty here).
    assert list(doc) == ["apiVersion", "kind", "cluster", "findings", "images", "logins", "summary"]
    assert doc["logins"] == []
    assert doc["apiVersion"] == "kubectl-pullsecret/v1" and doc["kind"] == "DoctorReport"
    assert doc["cluster"] is None
    for f in doc["findings"]:
        assert list(f) == ["check", "severity", "object", "container", "image", "message", "fix"]
        assert f["severity"] in ("error", "warning", "info")
        assert set(f["object"]) == {"kind", "namespace", "name"}
        if f["fix"] is not None:
            assert set(f["fix"]) == {"command", "equivalent"}
            assert f["fix"]["command"] is None or f["fix"]["command"].startswith("kubectl pullsecret fix ")
    for img in doc["images"]:
        assert list(img) == ["image", "reference", "usedBy", "credentials", "probe"]
        assert img["probe"] is None  # --no-probe
        for c in img["credentials"]:
            assert list(c) == ["source", "key", "username", "fingerprint"]
            assert len(c["fingerprint"]) == 8
    counts = {s: sum(1 for f in doc["findings"] if f["severity"] == s) for s in ("error", "warning", "info")}
    assert {k: doc["summary"][k] for k in counts} == counts
    assert doc["summary"]["ok"] > 0
