"""The pure parts of `fix create` and `fix grant`: the secret built from flags (byte
parity with kubectl), the source rules, the edits and plans, key warnings, and which
RoleBindings already grant system:image-puller."""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import shutil
import subprocess
import termios
import threading
from typing import Any

import pytest

from kubectl_pullsecret.errors import FixError, UsageError
from kubectl_pullsecret.fixes import create, grant
from kubectl_pullsecret.fixes.model import DELETE

NS = "shop"
RBAC = "rbac.authorization.k8s.io"


def b64(data: str | bytes) -> str:
    return base64.b64encode(data.encode() if isinstance(data, str) else data).decode()


def secret(stype: str, data: dict[str, str], **extra: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "regcred", "namespace": NS,
                                                              "resourceVersion": "7"},
            "type": stype, "data": {k: b64(v) for k, v in data.items()}, **extra}


def file_source(text: str) -> create.Source:
    raw = text.encode()
    fmt = create.dockerconfig.detect_format(raw)
    return create.Source(fmt, raw, create.dockerconfig.parse(raw, fmt), "config.json")


JSON_TYPE = "kubernetes.io/dockerconfigjson"
ONE_ENTRY = json.dumps({"auths": {"quay.io": {"auth": b64("u:p")}}})
CFG_TYPE = "kubernetes.io/dockercfg"


# --- the content built from flags -------------------------------------------------------------------------------

@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
@pytest.mark.parametrize("password, email", [("p&w:x<y>", "bob@example.com"), ("plain-pw", None),
                                             ("ünïcödé\u2028pw", None)])
def test_same_bytes_as_kubectl_create_secret_docker_registry(password: str, email: str | None,
                                                             tmp_path: Any) -> None:
    argv = ["kubectl", "create", "secret", "docker-registry", "regcred", "--docker-server=quay.io:8443",
            "--docker-username=bob", f"--docker-password={password}", "--dry-run=client", "-o", "json"]
    if email:
        argv.append(f"--docker-email={email}")
    env = {**os.environ, "KUBECONFIG": str(tmp_path / "none"), "HOME": str(tmp_path)}
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=30, check=True)
    theirs = base64.b64decode(json.loads(proc.stdout)["data"][".dockerconfigjson"])
    mine = create.from_flags("quay.io:8443", "bob", password, email)
    assert mine.content == theirs
    assert mine.type == JSON_TYPE and mine.key == ".dockerconfigjson"


def test_flags_entry_decodes_as_given() -> None:
    source = create.from_flags("quay.io", "bob", "s3cr:et", None)
    doc = json.loads(source.content)
    assert doc == {"auths": {"quay.io": {"username": "bob", "password": "s3cr:et", "auth": b64("bob:s3cr:et")}}}
    (entry,) = source.config.entries
    assert (entry.username, entry.password) == ("bob", "s3cr:et")


def args(**kw: Any) -> argparse.Namespace:
    base: dict[str, Any] = {"from_file": None, "docker_server": None, "docker_username": None,
                            "docker_password": None, "docker_password_stdin": False, "docker_email": None}
    base.update(kw)
    return argparse.Namespace(**base)


@pytest.mark.parametrize("stdin, password", [("pw\n", "pw"), ("pw\r\n", "pw"), ("pw\n\n", "pw\n"), ("p w ", "p w ")])
def test_password_stdin_loses_one_trailing_newline(stdin: str, password: str) -> None:
    source = create.read_source(args(docker_server="quay.io", docker_username="u", docker_password_stdin=True),
                                io.StringIO(stdin))
    assert source.config.entries[0].password == password


@pytest.mark.parametrize("kw, says", [
    ({}, "no credentials given"),
    ({"from_file": "x", "docker_email": "e"}, "not both"),
    ({"docker_server": "quay.io", "docker_password": "p"}, "--docker-username required"),
    ({"docker_server": "quay.io", "docker_username": "u", "docker_password_stdin": True}, "holds no password"),
    ({"docker_server": "quay.io", "docker_username": "u", "docker_password": ""}, "is empty"),
])
def test_source_rules(kw: dict[str, Any], says: str) -> None:
    with pytest.raises(UsageError, match=says):
        create.read_source(args(**kw), io.StringIO("\n"))


# --- key warnings -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("server, says", [
    ("quay.io", None),
    ("docker.io", None),
    ("https://index.docker.io/v1/", None),
    ("*.example.com", None),
    ("registry.example.com:5000", None),
    ("registry-1.docker.io", "never matches registry-1.docker.io"),
    ("https://registry-1.docker.io/v2/", "never matches registry-1.docker.io"),
    ("quay.io/acme", "has a path"),
    ("quay.io:abc", "the kubelet can parse: it ignores the entry"),
    ("Quay.io", "would not use it for images of Quay.io"),  # image names are lowercase
])
def test_key_warnings_from_flags(server: str, says: str | None) -> None:
    warnings = create.key_warnings(create.from_flags(server, "u", "pw", None))
    if says is None:
        assert warnings == []
    else:
        assert len(warnings) == 1 and says in warnings[0]


def test_a_files_path_key_is_taken_as_deliberate() -> None:
    source = file_source(json.dumps({"auths": {"quay.io/acme": {"auth": b64("u:p")}, "docker.io/acme": {"auth": b64("u:p")},
                                               "registry-1.docker.io": {"auth": b64("u:p")}}}))
    (warning,) = create.key_warnings(source)
    assert "registry-1.docker.io" in warning and warning.startswith("entry ")


# --- the edits ------------------------------------------------------------------------------------------------------

def test_upsert_creates_only_name_namespace_type_and_data() -> None:
    source = create.from_flags("quay.io", "bob", "pw", None)
    made = create.upsert_edit(NS, "regcred", source, overwrite=False)(None)
    assert made == {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "regcred", "namespace": NS},
                    "type": JSON_TYPE, "data": {".dockerconfigjson": b64(source.content)}}


def test_upsert_of_the_same_content_changes_nothing() -> None:
    source = create.from_flags("quay.io", "bob", "pw", None)
    current = secret(JSON_TYPE, {".dockerconfigjson": source.content.decode()})
    assert create.upsert_edit(NS, "regcred", source, overwrite=False)(json.loads(json.dumps(current))) == current


def test_upsert_of_other_content_refuses_without_overwrite() -> None:
    source = create.from_flags("quay.io", "bob", "new-pw", None)
    current = secret(JSON_TYPE, {".dockerconfigjson": create.from_flags("quay.io", "bob", "old", None).content.decode()})
    with pytest.raises(FixError, match="--overwrite"):
        create.upsert_edit(NS, "regcred", source, overwrite=False)(current)


def test_upsert_with_overwrite_replaces_the_key_only() -> None:
    source = create.from_flags("quay.io", "bob", "new-pw", None)
    current = secret(JSON_TYPE, {".dockerconfigjson": "{}", "note": "keep"}, stringData={"x": "y"})
    out = create.upsert_edit(NS, "regcred", source, overwrite=True)(current)
    assert isinstance(out, dict)
    assert out["data"] == {".dockerconfigjson": b64(source.content), "note": b64("keep")}
    assert "stringData" not in out and out["metadata"]["resourceVersion"] == "7"


def test_upsert_refuses_a_type_that_changed_meanwhile() -> None:
    source = create.from_flags("quay.io", "bob", "pw", None)
    with pytest.raises(FixError, match="replaced meanwhile"):
        create.upsert_edit(NS, "regcred", source, overwrite=True)(secret(CFG_TYPE, {".dockercfg": "{}"}))


def test_delete_edit_only_when_it_must_be_recreated() -> None:
    source = create.from_flags("quay.io", "bob", "pw", None)
    delete = create.delete_edit(source)
    assert delete(None) is None
    assert delete(secret(CFG_TYPE, {".dockercfg": "{}"})) is DELETE
    assert delete(secret(JSON_TYPE, {".dockerconfigjson": "{}"}, immutable=True)) is DELETE
    same_type = secret(JSON_TYPE, {".dockerconfigjson": "{}"})
    assert delete(same_type) == same_type


def test_go_spelling_of_the_same_entry_is_the_same() -> None:
    source = create.from_flags("quay.io", "bob", "p&w", None)
    python_spelling = json.dumps({"auths": {"quay.io": {"username": "bob", "password": "p&w", "auth": b64("bob:p&w")}}})
    assert source.same_as(secret(JSON_TYPE, {".dockerconfigjson": python_spelling}))
    assert not source.same_as(secret(CFG_TYPE, {".dockercfg": python_spelling}))
    # A file is compared byte for byte: the same entries re-indented are other content.
    one = file_source(ONE_ENTRY)
    assert not one.same_as(secret(JSON_TYPE, {".dockerconfigjson": ONE_ENTRY.replace(" ", "")}))


def test_plan_of_a_type_change() -> None:
    source = file_source(ONE_ENTRY)
    existing = secret(CFG_TYPE, {".dockercfg": "{}"})
    delete, upsert, link = create.plan(NS, "regcred", source, existing, True, "builder")
    assert (delete.kind, delete.backup, upsert.backup) == ("Secret", True, True)
    assert delete.equivalent == ("oc delete secret regcred -n shop",)
    assert upsert.equivalent == ("oc create secret generic regcred --from-file=.dockerconfigjson=config.json "
                                 "--type=kubernetes.io/dockerconfigjson -n shop",)
    assert link.kind == "ServiceAccount" and link.name == "builder"
    assert link.edit({"imagePullSecrets": [{"name": "a"}]}) == {"imagePullSecrets": [{"name": "a"}, {"name": "regcred"}]}
    assert create.plan(NS, "regcred", source, None, False, None)[0].equivalent == upsert.equivalent
    same_type = secret(JSON_TYPE, {".dockerconfigjson": "{}"})
    (update,) = create.plan(NS, "regcred", source, same_type, True, None)
    assert update.equivalent == ("oc set data secret/regcred --from-file=.dockerconfigjson=config.json -n shop",)


# --- grant: which bindings already grant it -------------------------------------------------------------------------

def rb(name: str, subjects: list[dict[str, Any]], role: str = "system:image-puller", kind: str = "ClusterRole",
       ns: str = "b") -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": ns}, "roleRef": {"apiGroup": RBAC, "kind": kind, "name": role},
            "subjects": subjects}


SA = {"kind": "ServiceAccount", "name": "builder", "namespace": "a"}


@pytest.mark.parametrize("binding, sa, covered", [
    (rb("x", [SA]), "builder", True),
    (rb("x", [SA]), None, False),  # one SA does not cover them all
    (rb("x", [{"kind": "ServiceAccount", "name": "builder"}], ns="a"), "builder", True),  # namespace defaulted
    (rb("x", [{"kind": "ServiceAccount", "name": "builder"}]), "builder", False),  # ... to the binding's (b)
    (rb("x", [{"kind": "ServiceAccount", "name": "other", "namespace": "a"}]), "builder", False),
    (rb("x", [{"kind": "Group", "name": "system:serviceaccounts:a"}]), "builder", True),
    (rb("x", [{"kind": "Group", "name": "system:serviceaccounts:a"}]), None, True),
    (rb("x", [{"kind": "Group", "name": "system:serviceaccounts"}]), None, True),
    (rb("x", [{"kind": "Group", "name": "system:authenticated"}]), "builder", True),
    (rb("x", [{"kind": "Group", "name": "system:serviceaccounts:c"}]), "builder", False),
    (rb("x", [{"kind": "User", "name": "system:serviceaccount:a:builder"}]), "builder", True),
    (rb("x", [SA], role="view"), "builder", False),
    (rb("x", [SA], kind="Role"), "builder", False),
])
def test_covers(binding: dict[str, Any], sa: str | None, covered: bool) -> None:
    assert grant.covers(binding, "a", sa) is covered


def test_binding_name_avoids_a_name_bound_to_another_role() -> None:
    assert grant.binding_name([], "a") == "system:image-puller"
    assert grant.binding_name([rb("system:image-puller", [])], "a") == "system:image-puller"
    taken = [rb("system:image-puller", [], role="view")]
    assert grant.binding_name(taken, "a") == "system:image-puller-a"
    taken.append(rb("system:image-puller-a", [], role="edit"))
    assert grant.binding_name(taken, "a") == "system:image-puller-a-2"


def test_grant_edit_appends_and_refuses_a_replaced_role() -> None:
    edit = grant.grant_edit("b", "system:image-puller", "a", "builder")
    alice = {"kind": "User", "apiGroup": RBAC, "name": "alice"}
    out = edit(rb("system:image-puller", [alice]))
    assert isinstance(out, dict) and out["subjects"] == [alice, SA]
    assert edit(out) == out  # idempotent
    made = edit(None)
    assert isinstance(made, dict) and made["subjects"] == [SA] and made["kind"] == "RoleBinding"
    assert made["roleRef"] == {"apiGroup": RBAC, "kind": "ClusterRole", "name": "system:image-puller"}
    with pytest.raises(FixError, match="replaced meanwhile"):
        edit(rb("system:image-puller", [alice], role="view"))


def test_grant_plan_reuses_a_covering_binding() -> None:
    change, existing = grant.plan("b", [rb("pullers", [{"kind": "Group", "name": "system:serviceaccounts:a"}])],
                                  "a", "builder")
    assert change is None and existing == "pullers"
    change, existing = grant.plan("b", [], "a", None)
    assert existing is None and change is not None
    assert change.equivalent == ("oc policy add-role-to-group system:image-puller system:serviceaccounts:a -n b",
                                 "kubectl create rolebinding system:image-puller --clusterrole=system:image-puller "
                                 "--group=system:serviceaccounts:a -n b")


class _Prompt(io.StringIO):
    """stderr that records when the prompt was written."""

    def __init__(self) -> None:
        super().__init__()
        self.asked = threading.Event()

    def flush(self) -> None:
        super().flush()
        if "Password: " in self.getvalue():
            self.asked.set()


def test_password_on_a_terminal_is_typed_without_echo() -> None:
    master, slave = os.openpty()
    stdin = os.fdopen(slave, "r", encoding="utf-8", closefd=True)
    prompt = _Prompt()
    got: list[str] = []
    reader = threading.Thread(target=lambda: got.append(create.read_password(stdin, prompt)))
    try:
        reader.start()
        assert prompt.asked.wait(10)
        os.write(master, b"typed-pw-4711\n")
        reader.join(10)
        assert got == ["typed-pw-4711"]
        os.set_blocking(master, False)
        try:
            echoed = os.read(master, 1024)
        except BlockingIOError:
            echoed = b""
        assert b"typed-pw-4711" not in echoed
        assert termios.tcgetattr(stdin.fileno())[3] & termios.ECHO  # echo is back on afterwards
    finally:
        stdin.close()
        os.close(master)
