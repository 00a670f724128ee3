"""The pure parts of `fix`: edits, ordering of fix TARGET's offers, command parsing,
redaction of printed objects, backups."""

from __future__ import annotations

import base64
import copy
import json
import os
import stat
from pathlib import Path

import pytest

from kubectl_pullsecret.errors import FixError, UsageError
from kubectl_pullsecret.findings import Finding, Fix, ObjectRef, Report, Severity
from kubectl_pullsecret.fixes import link, target
from kubectl_pullsecret.fixes.apply import redacted, write_backup


def sa(**fields: object) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": "ns",
                                                                     "resourceVersion": "7"}, **fields}


@pytest.mark.parametrize(("text", "fields"), [
    ("pull", ("imagePullSecrets",)),
    ("mount", ("secrets",)),
    ("pull,mount", ("imagePullSecrets", "secrets")),
    ("mount, pull", ("secrets", "imagePullSecrets")),
    ("pull,pull", ("imagePullSecrets",)),
])
def test_parse_for(text: str, fields: tuple[str, ...]) -> None:
    assert link.parse_for(text) == fields


@pytest.mark.parametrize("text", ["", ",", "push", "pull,push", "PULL"])
def test_parse_for_rejects(text: str) -> None:
    with pytest.raises(UsageError):
        link.parse_for(text)


@pytest.mark.parametrize(("before", "fields", "after"), [
    ({}, ("imagePullSecrets",), {"imagePullSecrets": [{"name": "s"}]}),
    ({"imagePullSecrets": [{"name": "a"}]}, ("imagePullSecrets",),
     {"imagePullSecrets": [{"name": "a"}, {"name": "s"}]}),
    ({"imagePullSecrets": [{"name": "s"}, {"name": "a"}]}, ("imagePullSecrets",),
     {"imagePullSecrets": [{"name": "s"}, {"name": "a"}]}),
    ({"imagePullSecrets": None}, ("imagePullSecrets",), {"imagePullSecrets": [{"name": "s"}]}),
    ({"secrets": [{"name": "t"}]}, ("imagePullSecrets", "secrets"),
     {"secrets": [{"name": "t"}, {"name": "s"}], "imagePullSecrets": [{"name": "s"}]}),
])
def test_link_edit_appends_once_and_keeps_the_rest(before: dict[str, object], fields: tuple[str, ...],
                                                   after: dict[str, object]) -> None:
    edit = link.link_edit("ns", "default", "s", fields)
    current = sa(**before)
    result = edit(copy.deepcopy(current))
    assert result == sa(**after)
    assert edit(copy.deepcopy(result)) == result  # idempotent: a second edit changes nothing


def test_link_edit_refuses_a_missing_service_account() -> None:
    with pytest.raises(FixError, match="serviceaccount/default not found in namespace ns"):
        link.link_edit("ns", "default", "s", ("imagePullSecrets",))(None)


def _secret(stype: str, data: dict[str, str]) -> dict[str, object]:
    return {"kind": "Secret", "metadata": {"name": "s"}, "type": stype, "data": data}


@pytest.mark.parametrize(("secret", "fields", "needle"), [
    (None, ("imagePullSecrets",), "does not exist"),
    (None, ("secrets",), "does not exist"),
    (_secret("Opaque", {"x": "eA=="}), ("imagePullSecrets",), "of type Opaque"),
    (_secret("kubernetes.io/dockerconfigjson", {".dockercfg": "e30="}), ("imagePullSecrets",),
     "no .dockerconfigjson key"),
    (_secret("kubernetes.io/dockercfg", {".dockerconfigjson": "e30="}), ("imagePullSecrets",), "no .dockercfg key"),
    (_secret("kubernetes.io/dockerconfigjson", {".dockerconfigjson": "e30="}), ("imagePullSecrets",), None),
    (_secret("Opaque", {"x": "eA=="}), ("secrets",), None),  # any secret may be mounted
])
def test_secret_warning(secret: dict[str, object] | None, fields: tuple[str, ...], needle: str | None) -> None:
    warning = link.secret_warning(secret, "ns", "s", fields)
    if needle is None:
        assert warning is None
    else:
        assert warning is not None and needle in warning


def _finding(check: str, command: str | None, severity: Severity = Severity.ERROR, name: str = "web",
             equivalent: tuple[str, ...] = ()) -> Finding:
    return Finding(check, severity, ObjectRef("Pod", "shop", name), "msg", fix=Fix(command, equivalent))


def test_offers_in_dependency_order_deduplicated() -> None:
    restart = "kubectl pullsecret fix restart deployment/web -n shop"
    link_cmd = "kubectl pullsecret fix link regcred --sa default -n shop"
    create = ("kubectl pullsecret fix create quay-io-pull --docker-server quay.io --docker-username USER "
              "--docker-password-stdin --link default -n shop")
    grant = "kubectl pullsecret fix grant --from-namespace shop --sa default -n base"
    report = Report((_finding("pod-predates-sa-secrets", restart, Severity.WARNING),
                     _finding("no-matching-credential", link_cmd),
                     _finding("pod-predates-sa-secrets", restart, Severity.WARNING, name="web-2"),
                     _finding("cross-project-pull-denied", grant),
                     _finding("no-matching-credential", create),
                     _finding("pod-overrides-sa-secrets", None, Severity.WARNING, equivalent=("kubectl patch x",)),
                     _finding("permission-denied", None, Severity.INFO, equivalent=("oc auth can-i list pods",))),
                    (), ())
    ranked, manual = target.offers(report, set())
    assert [c for c, _ in ranked] == [create, link_cmd, grant, restart]
    assert [len(f) for _, f in ranked] == [1, 1, 1, 2]
    assert [k for k, _ in manual] == ["kubectl patch x"]  # info-level manual steps are not offered
    ranked, _ = target.offers(report, {create, link_cmd})
    assert [c for c, _ in ranked] == [grant, restart]


@pytest.mark.parametrize(("command", "verb", "need"), [
    ("kubectl pullsecret fix link regcred --sa default -n shop", "fix link", []),
    ("kubectl pullsecret fix restart pod/web -n shop", "fix restart", []),
    ("kubectl pullsecret fix create q --docker-server quay.io --docker-username USER --docker-password-stdin -n s",
     "fix create", ["the username", "the password"]),
    ("kubectl pullsecret fix create q --docker-server quay.io --docker-username bot --docker-password-stdin",
     "fix create", ["the password"]),
    ("kubectl pullsecret fix create q --from-file PATH --link default -n s", "fix create",
     ["the credential file (--from-file)"]),
    ("kubectl pullsecret fix create q --docker-server REGISTRY --docker-username USER --docker-password-stdin",
     "fix create", ["the registry (--docker-server)", "the username", "the password"]),
    ("kubectl pullsecret fix global set --registry quay.io --username bot --password-stdin", "fix global set",
     ["the password"]),
    ("kubectl pullsecret fix grant --from-namespace 'a b' --sa default -n base", "fix grant", []),
])
def test_parse_doctor_commands(command: str, verb: str, need: list[str]) -> None:
    args = target.parse(command)
    assert args.command == verb
    assert target._missing_input(args) == need


@pytest.mark.parametrize("command", ["kubectl pullsecret doctor", "oc secrets link a b",
                                     "kubectl pullsecret fix deployment/web"])
def test_parse_refuses_other_commands(command: str) -> None:
    with pytest.raises(UsageError):
        target.parse(command)


def test_redacted_hides_secret_values_only() -> None:
    raw = json.dumps({"auths": {"quay.io": {"auth": base64.b64encode(b"u:p").decode()}}}).encode()
    secret = {"kind": "Secret", "metadata": {"name": "s", "annotations": {
        "kubectl.kubernetes.io/last-applied-configuration": "{...data...}", "other": "kept"}},
        "type": "kubernetes.io/dockerconfigjson", "data": {".dockerconfigjson": base64.b64encode(raw).decode()},
        "stringData": {"x": "abc"}}
    out = redacted(secret)
    assert out["data"] == {".dockerconfigjson": f"<redacted: {len(raw)} bytes>"}
    assert out["stringData"] == {"x": "<redacted: 3 bytes>"}
    annotations = out["metadata"]["annotations"]
    assert annotations["other"] == "kept" and "data" not in annotations[
        "kubectl.kubernetes.io/last-applied-configuration"]
    assert secret["stringData"] == {"x": "abc"}  # the original is untouched
    other = sa(imagePullSecrets=[{"name": "a"}])
    assert redacted(other) is other


def test_backup_is_0600_in_a_0700_directory_and_holds_the_decoded_content(tmp_path: Path) -> None:
    content = b'{"auths":{"quay.io":{"auth":"dTpw"}}}\n'
    secret = {"kind": "Secret", "metadata": {"name": "pull-secret", "namespace": "openshift-config",
                                             "resourceVersion": "42"},
              "data": {".dockerconfigjson": base64.b64encode(content).decode()}}
    directory = tmp_path / "backups"
    first = Path(write_backup(secret, str(directory)))
    second = Path(write_backup(secret, str(directory)))
    assert first != second  # one file per change, never overwritten
    assert first.read_bytes() == content == second.read_bytes()
    assert stat.S_IMODE(os.stat(first).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
    assert first.name.startswith("openshift-config.pull-secret.rv42.")
    other = Path(write_backup(sa(), str(directory)))
    assert json.loads(other.read_text())["kind"] == "ServiceAccount"


def test_backup_directory_that_cannot_be_made_is_a_fix_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(FixError, match="nothing was written"):
        write_backup(sa(), str(blocker / "sub"))
