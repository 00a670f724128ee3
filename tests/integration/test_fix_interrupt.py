"""Ctrl-C while `fix global set` follows the MachineConfigPool rollout: exit 130, and the
user is told the secret was written and where its backup is (the write is not undone)."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.integration.live_helpers import REPO, auth, fake_kube, global_pull_secret
from tests.integration.test_fix_global import _pools, mco


def test_interrupt_while_following_the_rollout(tmp_path: Path) -> None:
    with fake_kube(openshift=True) as api:
        api.add(global_pull_secret({"quay.io": auth("old", "old-pass-1")}))
        _pools(api, ("worker", 3))
        api.before("PUT", r"secrets/pull-secret$", mco(api, ("worker",)))  # renders, never updates a machine
        kc = api.kubeconfig(tmp_path / "kubeconfig")
        argv = [sys.executable, "-m", "kubectl_pullsecret", "fix", "global", "set", "--registry", "quay.io",
                "--username", "new", "--password-stdin", "--no-verify", "--yes", "--wait", "60s",
                "--backup-dir", str(tmp_path / "backups"), "--kubeconfig", str(kc)]
        proc = subprocess.Popen(argv, cwd=REPO, env=dict(os.environ), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        assert proc.stdin is not None and proc.stderr is not None
        proc.stdin.write("n3w-pass-2\n")
        proc.stdin.close()
        seen: list[str] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            seen.append(line)
            if "machines updated" in line or not line:
                break
        assert any("following the MachineConfigPool rollout" in s for s in seen), seen
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)
        assert proc.stdout is not None
        out = proc.stdout.read()
        err = "".join(seen) + proc.stderr.read()
        assert proc.returncode == 130, (out, err)
        assert time.monotonic() - started < 5
        assert "interrupted while following the rollout: the pull secret was written" in err
        assert "backup of the previous content: " in err
        assert "Traceback" not in err
        backups = list((tmp_path / "backups").iterdir())
        assert len(backups) == 1 and backups[0].name in err
        assert json.loads(backups[0].read_text())["auths"]["quay.io"]["auth"] == base64.b64encode(
            b"old:old-pass-1").decode()
        for text in (out, err):
            assert "n3w-pass-2" not in text and "old-pass-1" not in text
