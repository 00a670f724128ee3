"""No output, in any format or log level, contains a password, token, `auth` value or
raw secret data: a sweep over every example and every output format."""

from __future__ import annotations

import base64
import binascii
import io
import json
import os
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
import yaml

from kubectl_pullsecret import redact
from kubectl_pullsecret.cli import main

ROOT = Path(__file__).resolve().parents[2]
FORMATS = ["table", "wide", "json", "yaml", "markdown"]


def _walk_json(value: object) -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(v, str):
                yield str(k), v
            else:
                yield from _walk_json(v)


def _b64(text: str) -> bytes | None:
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None


def secret_values() -> set[str]:
    """Every secret string in the examples: raw data, passwords, auth values and the
    passwords inside them, identity tokens."""
    found: set[str] = set()

    def from_config(raw: str) -> None:
        try:
            doc = json.loads(raw)
        except ValueError:
            return
        auths = doc.get("auths", doc) if isinstance(doc, dict) else {}
        for _, entry in auths.items() if isinstance(auths, dict) else []:
            for field, value in _walk_json({"e": entry}) if isinstance(entry, dict) else []:
                if field in ("password", "auth", "identitytoken", "registrytoken") and value:
                    found.add(value)
                    if field == "auth":
                        decoded = _b64(value)
                        if decoded and b":" in decoded:
                            found.add(decoded.split(b":", 1)[1].decode())

    for path in ROOT.joinpath("examples").rglob("*"):
        if path.suffix in (".yaml", ".yml"):
            for doc in yaml.safe_load_all(path.read_text()):
                items = doc.get("items", [doc]) if isinstance(doc, dict) else []
                for item in items:
                    if isinstance(item, dict) and isinstance(item.get("data"), dict) and (
                            item.get("kind") in (None, "Secret")):
                        for value in item["data"].values():
                            if value:
                                found.add(value)
                                decoded = _b64(value)
                                if decoded:
                                    from_config(decoded.decode("utf-8", "replace"))
        elif path.suffix == ".json":
            from_config(path.read_text())
    return {v for v in found if len(v) >= 6}


SECRETS = secret_values()

RUNS = {
    "shop": ["doctor", "-f", "examples/shop"],
    "openshift-project": ["doctor", "-f", "examples/openshift-project"],
    "must-gather": ["doctor", "-f", "examples/must-gather"],
    "authfile": ["doctor", "--authfile", "examples/authfile/config.json", "--image", "nginx",
                 "--image", "quay.io/acme/web:1.2", "--image", "registry.corp.example.com/x:1"],
    "secret-target": ["doctor", "-f", "examples/must-gather", "-n", "data", "secret/etl-pull"],
}


def test_the_sweep_has_secrets_to_look_for() -> None:
    # Guards the sweep itself: it must know the example passwords.
    assert "Api-S3cret-Pw!" in SECRETS
    assert "ghp_FAKEt0kenForExamples0000000001" in SECRETS
    assert "C0rp-Pull-Passw0rd" in SECRETS
    assert len(SECRETS) > 20


@pytest.mark.parametrize("scrubber", ["on", "off"])
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("run", sorted(RUNS))
def test_no_secret_in_any_output(run: str, fmt: str, scrubber: str, monkeypatch: pytest.MonkeyPatch) -> None:
    redact.clear()  # prove the code does not depend on an earlier run's registrations
    if scrubber == "off":
        # The scrubber is a safety net: the messages themselves must not carry secrets.
        monkeypatch.setattr(redact, "scrub", lambda text: text)
    out, err = io.StringIO(), io.StringIO()
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        with redirect_stdout(out), redirect_stderr(err):
            main(RUNS[run] + ["-o", fmt, "-v", "9"])
    finally:
        os.chdir(cwd)
    text = out.getvalue() + err.getvalue()
    assert out.getvalue(), err.getvalue()
    leaked = sorted(s for s in SECRETS if s in text)
    assert not leaked, f"{len(leaked)} secret value(s) in {run} -o {fmt}"


def test_scrubber_masks_what_a_message_might_carry() -> None:
    """The last line of defence: even a message built with a secret in it is masked."""
    from kubectl_pullsecret import dockerconfig

    redact.clear()
    auth = base64.b64encode(b"bob:Sup3r-Secret-Value").decode()
    dockerconfig.parse(json.dumps({"auths": {"quay.io": {"auth": auth}}}), "dockerconfigjson")
    text = redact.scrub(f"oops: password Sup3r-Secret-Value and auth {auth}")
    assert "Sup3r-Secret-Value" not in text and auth not in text
    assert text.count(redact.MASK) == 2
