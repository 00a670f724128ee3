"""Repository gates run with the tests: lint, strict typing, and README/CI agreement."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _tool(name: str) -> list[str]:
    exe = Path(sys.executable).with_name(name)
    if exe.exists():
        return [str(exe)]
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed (pip install -e '.[test]')")
    return [found]


def test_ruff_is_clean() -> None:
    proc = subprocess.run(_tool("ruff") + ["check", "kubectl_pullsecret", "tests", "bench"], cwd=ROOT,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_mypy_strict_is_clean() -> None:
    proc = subprocess.run(_tool("mypy") + ["--strict", "kubectl_pullsecret"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_ci_runs_the_readme_test_command() -> None:
    """.ci/run must call the test command the README's quick start shows."""
    readme = (ROOT / "README.md").read_text()
    quick = re.search(r"# 2\. install the test dependencies and run every test\n(.+)\n", readme)
    assert quick, "README quick start lost its second command"
    command = quick.group(1)
    ci = (ROOT / ".ci" / "run").read_text()
    install = re.search(r"pip install -e '\.\[test\]'", command)
    assert install and "-e '.[test]'" in ci
    test_cmd = command.rsplit("&&", 1)[1].strip()
    assert test_cmd == "python -m pytest"
    assert re.search(rf"^{re.escape(test_cmd)}$", ci, re.M), ".ci/run does not run the README's test command"
