"""No fix command prints a password, `auth` value, identity token or a secret's data, in
any output format, dry run or verbosity — checked with the redactor switched OFF, so it
is the code that never formats them, not the scrubber that catches them."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from kubectl_pullsecret import redact
from tests.fakekube import FakeKube
from tests.integration.fix_helpers import fix, writes
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
FILE_CONFIG_2 = FILE_CONFIG.replace(b64("filebot:f1le-pass"), b64("filebot:f1le-pass-2"))
SECRETS = ["quay-s3cret", "N3w-pass", "f1le-pass", "id-t0ken-value", "gl0bal-pass", "pw-registry.redhat.io",
           b64("bot:quay-s3cret"), b64("newbot:N3w-pass"), b64("filebot:f1le-pass"), b64("gbot:gl0bal-pass"),
           b64(FILE_CONFIG), "f1le-pass-2", b64("filebot:f1le-pass-2"),
           "gh-s3cret", b64("ghbot:gh-s3cret")]
FORMATS = (["--dry-run=client"], ["--dry-run=client", "-o", "yaml"], ["--dry-run=server", "-o", "json"],
           ["-o", "json", "-v", "9"], ["-o", "yaml"], [])


@contextmanager
def cluster(tmp_path: Path, image: str = "quay.io/acme/debug:1") -> Iterator[tuple[FakeKube, Path]]:
    with fake_kube(openshift=True) as api:
        openshift_cluster(api, [namespace(NS), namespace("base"), service_account("default", NS),
                                pull_secret("regcred", NS, {"quay.io": auth("bot", "quay-s3cret")}),
                                pull_secret("ghcr-creds", NS, {"ghcr.io": auth("ghbot", "gh-s3cret")}),
                                pod("debug", NS, image, created="2026-10-01T00:00:00Z"),
                                global_pull_secret()])
        yield api, api.kubeconfig(tmp_path / "kubeconfig", namespace=NS)


def sweep(api: FakeKube, kc: Path, commands: list[tuple[list[str], str]], fmt: list[str]) -> None:
    """Each command once in this format, on a cluster where it has something to write; the
    command must have written (or sent for a server dry run), and printed no secret. (A
    restart after a dry-run link has nothing to do: the pod lacks nothing the SA lists.)"""
    for args, stdin in commands:
        quiet = args[0] == "restart" and any(f.startswith("--dry-run") for f in fmt)
        api.clear_log()
        run = fix(*args, *fmt, kubeconfig=kc, stdin=stdin)
        assert run.code in (0, 1) and "error:" not in run.err and "Traceback" not in run.err, (args, fmt, run)
        sent = writes(api)
        if "--dry-run=client" in fmt:
            assert sent == [], (args, fmt, sent)
        elif not quiet:
            assert sent, (args, fmt, "nothing was written: the sweep would not see the written objects")
            assert all(q.get("dryRun") == "All" for _, _, q in sent) == ("--dry-run=server" in fmt), (args, fmt, sent)
        for text in (run.out, run.err):
            for secret in SECRETS:
                assert secret not in text, (args, fmt, secret)


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: " ".join(f) or "plain")
def test_no_fix_command_prints_a_secret(tmp_path: Path, fmt: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    config, replacement = tmp_path / "config.json", tmp_path / "config2.json"
    config.write_text(FILE_CONFIG)
    replacement.write_text(FILE_CONFIG_2)
    common = ["--backup-dir", str(tmp_path / "backups"), "--no-probe"]
    commands: list[tuple[list[str], str]] = [
        (["link", "regcred", *common], ""),
        (["create", "newsec", "--docker-server", "quay.io", "--docker-username", "newbot", "--docker-password-stdin",
          "--link", "default", *common], "N3w-pass\n"),
        (["create", "filesec", "--from-file", str(config), *common], ""),
        (["grant", "--from-namespace", NS, "--sa", "default", "-n", "base", *common], ""),
        (["global", "set", "--registry", "quay.io", "--username", "gbot", "--password-stdin", "--yes", "--wait", "0",
          *common], "gl0bal-pass\n"),
        (["global", "remove", "--registry", "registry.redhat.io", "--yes", "--wait", "0", *common], ""),
        (["restart", "pod/debug", "--yes", *common], ""),
    ]
    if "--dry-run=client" not in fmt and "--dry-run=server" not in fmt:
        # Replacing needs the secret created above (a dry run created nothing).
        commands.insert(3, (["create", "filesec", "--from-file", str(replacement), "--overwrite", *common], ""))
    monkeypatch.setattr(redact, "scrub", lambda text: text)
    with cluster(tmp_path / "a") as (api, kc):
        sweep(api, kc, commands, fmt)
        if not fmt or fmt == ["-o", "yaml"]:
            # The sweep wrote for real: the values exist in the cluster.
            stored = api.get_object("Secret", NS, "newsec")
            assert stored is not None
            assert b64("newbot:N3w-pass") in base64.b64decode(stored["data"][".dockerconfigjson"]).decode()
            global_secret = api.get_object("Secret", "openshift-config", "pull-secret")
            assert global_secret is not None
            text = base64.b64decode(global_secret["data"][".dockerconfigjson"]).decode()
            assert b64("gbot:gl0bal-pass") in text and "registry.redhat.io" not in text
    # fix TARGET on a cluster of its own, where doctor has fixes to offer: the ghcr.io image's
    # credential is in ghcr-creds, which the SA does not list (link, then restart).
    with cluster(tmp_path / "b", "ghcr.io/acme/debug:1") as (api, kc):
        sweep(api, kc, [(["--yes", *common], "")], fmt)
