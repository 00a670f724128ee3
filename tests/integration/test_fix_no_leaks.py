"""No fix command prints a password, `auth` value, identity token or a secret's data, in
any output format, dry run or verbosity — checked with the redactor switched OFF, so it
is the code that never formats them, not the scrubber that catches them."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubectl_pullsecret import redact
from tests.fakekube import FakeKube
from tests.integration.fix_helpers import fix
from tests.integration.live_helpers import (
    auth,
    fake_kube,
    global_pull_secret,
    namespace,
    openshift_cluster,
    pod,
    pull_secret,
    service_account,
)

NS = "shop"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


FILE_CONFIG = json.dumps({"auths": {"ghcr.io": {"auth": b64("filebot:f1le-pass")},
                                    "id.example": {"identitytoken": "id-t0ken-value"}}})
SECRETS = ["quay-s3cret", "N3w-pass", "f1le-pass", "id-t0ken-value", "gl0bal-pass", "pw-registry.redhat.io",
           b64("bot:quay-s3cret"), b64("newbot:N3w-pass"), b64("filebot:f1le-pass"), b64("gbot:gl0bal-pass"),
           b64(FILE_CONFIG)]
FORMATS = (["--dry-run=client"], ["--dry-run=client", "-o", "yaml"], ["--dry-run=server", "-o", "json"],
           ["-o", "json", "-v", "9"], ["-o", "yaml"], [])


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[FakeKube, Path]]:
    with fake_kube(openshift=True) as api:
        openshift_cluster(api, [namespace(NS), namespace("base"), service_account("default", NS),
                                pull_secret("regcred", NS, {"quay.io": auth("bot", "quay-s3cret")}),
                                pod("debug", NS, "quay.io/acme/debug:1", created="2026-10-01T00:00:00Z"),
                                global_pull_secret()])
        yield api, api.kubeconfig(tmp_path / "kubeconfig", namespace=NS)


def test_no_fix_command_prints_a_secret(cluster: tuple[FakeKube, Path], tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    api, kc = cluster
    config = tmp_path / "config.json"
    config.write_text(FILE_CONFIG)
    common = ["--backup-dir", str(tmp_path / "backups"), "--no-probe"]
    commands: list[tuple[list[str], str]] = [
        (["link", "regcred"], ""),
        (["create", "newsec", "--docker-server", "quay.io", "--docker-username", "newbot", "--docker-password-stdin",
          "--link", "default"], "N3w-pass\n"),
        (["create", "filesec", "--from-file", str(config)], ""),
        (["create", "filesec", "--from-file", str(config), "--overwrite"], ""),
        (["grant", "--from-namespace", NS, "--sa", "default", "-n", "base"], ""),
        (["global", "set", "--registry", "quay.io", "--username", "gbot", "--password-stdin", "--yes", "--wait", "0"],
         "gl0bal-pass\n"),
        (["global", "remove", "--registry", "registry.redhat.io", "--yes", "--wait", "0"], ""),
        (["restart", "pod/debug", "--yes"], ""),
        (["--yes"], ""),
    ]
    monkeypatch.setattr(redact, "scrub", lambda text: text)
    runs = 0
    for args, stdin in commands:
        for fmt in FORMATS:
            run = fix(*args, *common, *fmt, kubeconfig=kc, stdin=stdin)
            runs += 1
            assert run.code in (0, 1), run
            assert "Traceback" not in run.err
            for text in (run.out, run.err):
                for secret in SECRETS:
                    assert secret not in text, (args, fmt, secret)
    assert runs == len(commands) * len(FORMATS)
    # The sweep wrote for real (not only dry runs): the values exist in the cluster.
    stored = api.get_object("Secret", NS, "newsec")
    assert stored is not None and b64("newbot:N3w-pass") in base64.b64decode(stored["data"][".dockerconfigjson"]).decode()
    global_secret = api.get_object("Secret", "openshift-config", "pull-secret")
    assert global_secret is not None
    text = base64.b64decode(global_secret["data"][".dockerconfigjson"]).decode()
    assert b64("gbot:gl0bal-pass") in text and "registry.redhat.io" not in text
