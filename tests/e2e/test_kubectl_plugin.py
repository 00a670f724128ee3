"""The real kubectl discovers bin/kubectl-pullsecret on PATH and runs it as `kubectl pullsecret`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kubectl_pullsecret import __version__

REPO = Path(__file__).resolve().parents[2]
BIN = REPO / "bin"
PLUGIN = BIN / "kubectl-pullsecret"
KUBECTL = shutil.which("kubectl")

pytestmark = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not on PATH")


@pytest.fixture
def kubectl(tmp_path: Path):
    """Run kubectl with bin/ first on PATH, no real kubeconfig, and `python3` being this interpreter
    (the shim's `#!/usr/bin/env python3` must find one with the runtime dependencies)."""
    assert KUBECTL is not None
    shims = tmp_path / "shims"
    shims.mkdir()
    python3 = shims / "python3"
    python3.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    python3.chmod(0o755)
    home = tmp_path / "home"
    home.mkdir()
    env = dict(os.environ)
    env.update({
        "PATH": os.pathsep.join([str(BIN), str(shims), str(Path(KUBECTL).parent)]),
        "PYTHONPATH": str(REPO),
        "HOME": str(home),
        "KUBECONFIG": str(home / "kubeconfig"),
    })

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([KUBECTL, *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60,
                              check=False)

    return run


def test_plugin_file_is_executable():
    assert PLUGIN.is_file()
    assert os.access(PLUGIN, os.X_OK)


def test_plugin_list_finds_the_plugin(kubectl):
    result = kubectl("plugin", "list")
    assert result.returncode == 0, result.stderr
    listed = [line.strip() for line in result.stdout.splitlines() if line.strip().endswith("/kubectl-pullsecret")]
    assert listed and listed[0] == str(PLUGIN)
    assert "warning" not in result.stderr.lower()


def test_kubectl_pullsecret_version(kubectl):
    result = kubectl("pullsecret", "version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"kubectl-pullsecret v{__version__} ")
    assert result.stderr == ""


def test_kubectl_pullsecret_doctor_offline_example(kubectl):
    result = kubectl("pullsecret", "doctor", "-f", str(REPO / "examples" / "shop"), "--no-probe", "-o", "json")
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    report = json.loads(result.stdout)
    assert report["apiVersion"] == "kubectl-pullsecret/v1"
    assert report["kind"] == "DoctorReport"
    assert report["cluster"] is None
    assert report["findings"]
    assert report["summary"]["error"] >= 1
    assert {f["object"]["namespace"] for f in report["findings"]} == {"shop"}


def test_kubectl_pullsecret_doctor_help(kubectl):
    result = kubectl("pullsecret", "doctor", "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: kubectl pullsecret doctor")
    assert "--fail-on" in result.stdout


def test_kubectl_pullsecret_usage_error_exit_code(kubectl):
    result = kubectl("pullsecret", "doctor", "--no-such-flag")
    assert result.returncode == 2
    assert result.stderr.startswith("error: ")
    assert "Traceback" not in result.stderr
