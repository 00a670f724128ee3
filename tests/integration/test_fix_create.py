"""`fix create` against tests/fakekube, with the credentials verified against the real
docker-registry of registry_env (htpasswd auth, TLS from the test CA: --registry-ca-file)."""

from __future__ import annotations

import base64
import json
import logging
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.fakekube import FakeKube
from tests.integration.fix_helpers import fix, writes
from tests.integration.live_helpers import (
    DOCKERCFG,
    DOCKERCONFIGJSON,
    Run,
    auth,
    b64,
    fake_kube,
    namespace,
    pod,
    pull_secret,
    service_account,
)
from tests.integration.registry_env import ALICE, RegistryEnv

NS = "shop"
CLOSED = "127.0.0.1:9"  # nothing listens there: any login attempt is "unreachable"


@pytest.fixture
def api() -> Iterator[FakeKube]:
    with fake_kube() as server:
        server.add_all([namespace(NS), service_account("default", NS), service_account("builder", NS, pull=["old"]),
                        pull_secret("old", NS, {"quay.io": auth("old-bot", "old-pw-1")})])
        yield server


@pytest.fixture
def kc(api: FakeKube, tmp_path: Path) -> Path:
    return api.kubeconfig(tmp_path / "kubeconfig", namespace=NS)


@pytest.fixture
def backups(tmp_path: Path) -> Path:
    return tmp_path / "backups"


@pytest.fixture(autouse=True)
def _quiet_logging() -> Iterator[None]:
    """-v N installs a handler on the package logger: undo it after each test."""
    logger = logging.getLogger("kubectl_pullsecret")
    handlers, level = list(logger.handlers), logger.level
    yield
    logger.handlers[:] = handlers
    logger.setLevel(level)


def create(kc: Path, backups: Path, *args: str | Path, stdin: str = "") -> Run:
    return fix("create", *args, "--backup-dir", backups, kubeconfig=kc, stdin=stdin)


def flags(server: str, user: str = ALICE[0]) -> tuple[str, ...]:
    return ("--docker-server", server, "--docker-username", user, "--docker-password-stdin")


def stored(api: FakeKube, name: str = "regcred") -> dict[str, Any] | None:
    return api.get_object("Secret", NS, name)


def content(secret: dict[str, Any]) -> bytes:
    key = ".dockerconfigjson" if secret["type"] == DOCKERCONFIGJSON else ".dockercfg"
    return base64.b64decode(secret["data"][key])


def assert_no_secret(run: Run, *secrets: str) -> None:
    for s in secrets:
        assert s not in run.out and s not in run.err, (s, run)


def pulls(api: FakeKube, sa: str) -> list[str]:
    obj = api.get_object("ServiceAccount", NS, sa)
    assert obj is not None
    return [r["name"] for r in obj.get("imagePullSecrets") or []]


# --- from flags, verified against the real registry --------------------------------------------------------------

def test_right_password_creates_the_secret_kubectl_would(api: FakeKube, kc: Path, backups: Path,
                                                         registry_env: RegistryEnv) -> None:
    host = registry_env.basic
    run = create(kc, backups, "regcred", *flags(host), "--docker-email", "a@example.com",
                 "--registry-ca-file", registry_env.ca_file, stdin=ALICE[1] + "\n")
    assert run.code == 0, run
    secret = stored(api)
    assert secret is not None and secret["type"] == DOCKERCONFIGJSON
    assert set(secret["data"]) == {".dockerconfigjson"}
    token = b64(f"{ALICE[0]}:{ALICE[1]}")
    # What `kubectl create secret docker-registry` stores: compact JSON, this field order.
    assert content(secret) == json.dumps({"auths": {host: {"username": ALICE[0], "password": ALICE[1],
                                                           "email": "a@example.com", "auth": token}}},
                                         separators=(",", ":")).encode()
    assert f"verified: {host} (user alice" in run.out
    assert "oc create secret docker-registry regcred" in run.out and "--docker-password=PASSWORD" in run.out
    # Re-check: the login with the stored secret works, nothing remains.
    assert "Re-check (secret/regcred (login probes)" in run.out and "No problems found." in run.out
    assert f"secret/{NS}/regcred" in run.out and "accepted the username/password" in run.out
    assert [(m, p) for m, p, _ in writes(api)] == [("POST", f"/api/v1/namespaces/{NS}/secrets")]
    assert_no_secret(run, ALICE[1], token)


def test_wrong_password_writes_nothing(api: FakeKube, kc: Path, backups: Path, registry_env: RegistryEnv) -> None:
    api.clear_log()
    run = create(kc, backups, "regcred", *flags(registry_env.basic), "--registry-ca-file", registry_env.ca_file,
                 stdin="not-alices-password\n")
    assert run.code == 1, run
    assert writes(api) == []
    assert stored(api) is None
    assert run.out == ""
    lines = run.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "rejected" in lines[0], run
    assert "nothing was written" in lines[0] and "alice" in lines[0]
    assert_no_secret(run, "not-alices-password", b64("alice:not-alices-password"))


def test_unreachable_registry_refused_unless_no_verify(api: FakeKube, kc: Path, backups: Path) -> None:
    refused = create(kc, backups, "regcred", *flags(CLOSED), stdin="pw-1234\n")
    assert refused.code == 1 and "could not be verified" in refused.err and "--no-verify" in refused.err, refused
    assert writes(api) == [] and stored(api) is None

    # --no-verify: written untried (no login now, none in the re-check either, or it would fail).
    untried = create(kc, backups, "regcred", *flags(CLOSED), "--no-verify", stdin="pw-1234\n")
    assert untried.code == 0, untried
    assert "not verified (--no-verify)" in untried.out
    assert "unreachable" not in untried.out
    secret = stored(api)
    assert secret is not None and json.loads(content(secret))["auths"][CLOSED]["username"] == "alice"


def test_second_identical_run_writes_nothing(api: FakeKube, kc: Path, backups: Path, registry_env: RegistryEnv) -> None:
    args = ("regcred", *flags(registry_env.basic), "--registry-ca-file", registry_env.ca_file)
    assert create(kc, backups, *args, stdin=ALICE[1]).code == 0
    before = stored(api)
    api.clear_log()
    again = create(kc, backups, *args, stdin=ALICE[1] + "\n")
    assert again.code == 0, again
    assert writes(api) == []
    assert stored(api) == before
    assert "unchanged: secret/regcred" in again.out and "already holds exactly this content" in again.out
    assert not backups.exists()  # nothing replaced, nothing backed up


def test_a_secret_kubectl_made_counts_as_the_same(api: FakeKube, kc: Path, backups: Path) -> None:
    """Same entry, other JSON spelling (Go's encoder escapes &): nothing to do, not a conflict."""
    password = "p&ss<word>"
    go_json = ('{"auths":{"quay.io":{"username":"bot","password":"p\\u0026ss\\u003cword\\u003e","auth":"'
               + b64(f"bot:{password}") + '"}}}')
    api.add(pull_secret("regcred", NS, {}, raw=go_json))
    api.clear_log()
    run = create(kc, backups, "regcred", *flags("quay.io", "bot"), "--no-verify", stdin=password)
    assert run.code == 0, run
    assert writes(api) == []


# --- from a file ------------------------------------------------------------------------------------------------

def test_from_file_config_json_stored_byte_for_byte_and_verified(api: FakeKube, kc: Path, backups: Path,
                                                                  registry_env: RegistryEnv, tmp_path: Path) -> None:
    entry = json.dumps(auth(*ALICE))
    raw = f'{{\n  "auths": {{\n    "{registry_env.basic}": {entry}\n  }},\n  "credHelpers": {{"gcr.io": "gcloud"}}\n}}\n'.encode()
    path = tmp_path / "config.json"
    path.write_bytes(raw)
    run = create(kc, backups, "regcred", "--from-file", path, "--registry-ca-file", registry_env.ca_file)
    assert run.code == 0, run
    secret = stored(api)
    assert secret is not None and secret["type"] == DOCKERCONFIGJSON and content(secret) == raw
    assert "verified:" in run.out and "credHelpers" in run.out  # the parser's note is passed on
    assert f"--from-file=.dockerconfigjson={path} --type=kubernetes.io/dockerconfigjson" in run.out
    assert_no_secret(run, ALICE[1], auth(*ALICE)["auth"])


def test_from_file_legacy_dockercfg_gets_its_type(api: FakeKube, kc: Path, backups: Path, tmp_path: Path) -> None:
    raw = json.dumps({"registry.example.com": {**auth("bot", "legacy-pw-1"), "email": "x@example.com"}}).encode()
    path = tmp_path / ".dockercfg"
    path.write_bytes(raw)
    run = create(kc, backups, "legacy", "--from-file", path, "--no-verify")
    assert run.code == 0, run
    secret = stored(api, "legacy")
    assert secret is not None and secret["type"] == DOCKERCFG and set(secret["data"]) == {".dockercfg"}
    assert content(secret) == raw
    assert "--type=kubernetes.io/dockercfg" in run.out


def test_from_stdin(api: FakeKube, kc: Path, backups: Path) -> None:
    text = json.dumps({"auths": {"quay.io": auth("bot", "stdin-pw-77")}}, indent=4) + "\n"
    run = create(kc, backups, "regcred", "--from-file", "-", "--no-probe", stdin=text)
    assert run.code == 0, run
    secret = stored(api)
    assert secret is not None and content(secret) == text.encode()
    assert "not verified (--no-probe)" in run.out


@pytest.mark.parametrize("raw, says", [
    ('{"auths": {"quay.io": {"auth": "!!!not base64"}}}', "not valid base64"),
    ('{"auths": {"quay.io": {"auth": "' + b64("no-colon-here") + '"}}}', "no ':'"),
    ('{"auths": ', "not valid JSON"),
    ('{"credHelpers": {"quay.io": "x"}}', "no `auths`"),
    ('{"auths": {}}', "no registry entry"),
    ('[1, 2]', "must be a JSON object"),
])
def test_malformed_file_is_a_usage_error(api: FakeKube, kc: Path, backups: Path, tmp_path: Path,
                                         raw: str, says: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(raw)
    api.clear_log()
    run = create(kc, backups, "regcred", "--from-file", path, "--no-verify")
    assert run.code == 2, run
    assert says in run.err and len(run.err.splitlines()) == 1, run
    assert writes(api) == []
    assert "no-colon-here" not in run.err


def test_unreadable_file_is_a_usage_error(kc: Path, backups: Path, tmp_path: Path) -> None:
    run = create(kc, backups, "regcred", "--from-file", tmp_path / "missing.json")
    assert run.code == 2 and "missing.json" in run.err and "No such file" in run.err, run


@pytest.mark.parametrize("args, stdin, says", [
    (("--from-file", "x.json", "--docker-server", "quay.io"), "", "not both"),
    ((), "", "no credentials given"),
    (("--docker-server", "quay.io", "--docker-password-stdin"), "pw", "--docker-username"),
    (("--docker-username", "bot", "--docker-password", "pw12"), "", "--docker-server"),
    (("--docker-server", "quay.io", "--docker-username", "bot"), "", "no password"),
    (("--docker-server", "quay.io", "--docker-username", "bot", "--docker-password-stdin", "--docker-password", "p"),
     "pw", "not both"),
    (("--docker-server", "quay.io", "--docker-username", "bot", "--docker-password-stdin"), "\n", "no password"),
    (("--from-file", "-", "--docker-password-stdin"), "{}", "not both"),
])
def test_source_flags_are_checked(api: FakeKube, kc: Path, backups: Path, args: tuple[str, ...], stdin: str,
                                  says: str) -> None:
    api.clear_log()
    run = create(kc, backups, "regcred", *args, stdin=stdin)
    assert run.code == 2, run
    assert says in run.err and len(run.err.splitlines()) == 1, run
    assert writes(api) == []


def test_key_warnings(kc: Path, backups: Path) -> None:
    hub = create(kc, backups, "hub", *flags("registry-1.docker.io"), "--no-verify", "--dry-run=client", stdin="pw-1")
    assert hub.code == 0, hub
    assert "warning: --docker-server 'registry-1.docker.io'" in hub.out and "key it docker.io" in hub.out
    path = create(kc, backups, "q", *flags("https://quay.io/acme"), "--no-verify", "--dry-run=client", stdin="pw-1")
    assert "has a path" in path.out and "--docker-server quay.io" in " ".join(path.out.split())
    plain = create(kc, backups, "q", *flags("https://index.docker.io/v1/"), "--no-verify", "--dry-run=client",
                   stdin="pw-1")
    assert "warning:" not in plain.out, plain


# --- an existing secret ----------------------------------------------------------------------------------------

def test_other_content_needs_overwrite_and_is_backed_up(api: FakeKube, kc: Path, backups: Path,
                                                        registry_env: RegistryEnv) -> None:
    old = pull_secret("regcred", NS, {registry_env.basic: auth("alice", "old-pw-000")})
    old["data"]["keep.txt"] = b64("unrelated")
    api.add(old)
    previous = base64.b64decode(old["data"][".dockerconfigjson"])
    args = ("regcred", *flags(registry_env.basic), "--registry-ca-file", registry_env.ca_file)
    api.clear_log()
    refused = create(kc, backups, *args, stdin=ALICE[1])
    assert refused.code == 1 and "--overwrite" in refused.err and len(refused.err.splitlines()) == 1, refused
    assert writes(api) == [] and not backups.exists()

    replaced = create(kc, backups, *args, "--overwrite", stdin=ALICE[1])
    assert replaced.code == 0, replaced
    secret = stored(api)
    assert secret is not None and json.loads(content(secret))["auths"][registry_env.basic]["password"] == ALICE[1]
    assert base64.b64decode(secret["data"]["keep.txt"]) == b"unrelated"  # other keys kept
    assert [m for m, _, _ in writes(api)] == ["PUT"]
    files = list(backups.iterdir())
    assert len(files) == 1 and files[0].read_bytes() == previous
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
    assert str(files[0]) in "".join(replaced.out.split())  # the path is printed (wrapped)
    assert "oc set data" not in replaced.out  # from flags: create | replace
    assert "--dry-run=client -o yaml | oc replace -f -" in replaced.out
    assert_no_secret(replaced, "old-pw-000", ALICE[1])


def test_type_change_is_delete_then_create(api: FakeKube, kc: Path, backups: Path, tmp_path: Path) -> None:
    legacy = json.dumps({"quay.io": auth("bot", "legacy-pw-42")}).encode()
    api.add({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "regcred", "namespace": NS},
             "type": DOCKERCFG, "data": {".dockercfg": b64(legacy)}})
    new = json.dumps({"auths": {"quay.io": auth("bot", "new-pw-43")}}).encode()
    path = tmp_path / "config.json"
    path.write_bytes(new)
    api.clear_log()
    refused = create(kc, backups, "regcred", "--from-file", path, "--no-verify")
    assert refused.code == 1 and "type kubernetes.io/dockercfg" in refused.err and "--overwrite" in refused.err
    assert writes(api) == []

    run = create(kc, backups, "regcred", "--from-file", path, "--no-verify", "--overwrite")
    assert run.code == 0, run
    assert [m for m, _, _ in writes(api)] == ["DELETE", "POST"]
    secret = stored(api)
    assert secret is not None and secret["type"] == DOCKERCONFIGJSON and content(secret) == new
    (backup,) = backups.iterdir()
    assert backup.read_bytes() == legacy and stat.S_IMODE(backup.stat().st_mode) == 0o600
    assert "oc delete secret regcred -n shop" in run.out
    assert "deleted: secret/regcred" in run.out and "created: secret/regcred" in run.out


def test_type_change_delete_is_guarded_against_a_concurrent_change(api: FakeKube, kc: Path, backups: Path,
                                                                   tmp_path: Path) -> None:
    """The delete carries the resourceVersion read: a change made in between makes it fail
    (409), the secret is read again and backed up again before it goes."""
    legacy = json.dumps({"quay.io": auth("bot", "legacy-pw-42")}).encode()
    api.add({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "regcred", "namespace": NS},
             "type": DOCKERCFG, "data": {".dockercfg": b64(legacy)}})
    meanwhile = json.dumps({"quay.io": auth("bot", "meanwhile-pw-44")}).encode()

    def someone_edits() -> None:
        obj = api.get_object("Secret", NS, "regcred")
        assert obj is not None
        obj["data"][".dockercfg"] = b64(meanwhile)
        api.add(obj)

    api.before("DELETE", r"/secrets/regcred$", someone_edits)
    path = tmp_path / "config.json"
    path.write_bytes(json.dumps({"auths": {"quay.io": auth("bot", "new-pw-43")}}).encode())
    api.clear_log()
    run = create(kc, backups, "regcred", "--from-file", path, "--no-verify", "--overwrite")
    assert run.code == 0, run
    deletes = [r.status for r in api.requests if r.method == "DELETE"]
    assert deletes == [409, 200]
    assert sorted(p.read_bytes() for p in backups.iterdir()) == sorted([legacy, meanwhile])
    secret = stored(api)
    assert secret is not None and secret["type"] == DOCKERCONFIGJSON


# --- --link ----------------------------------------------------------------------------------------------------

def test_link_keeps_the_existing_pull_secrets(api: FakeKube, kc: Path, backups: Path) -> None:
    api.add(pod("web-0", NS, "quay.io/acme/web:1", sa="builder", pull=["old"]))
    run = create(kc, backups, "regcred", *flags("quay.io", "bot"), "--no-verify", "--link", "builder", stdin="pw-99")
    assert pulls(api, "builder") == ["old", "regcred"]
    assert "oc secrets link builder regcred --for=pull -n shop" in run.out
    assert "serviceaccount/builder and its pods" in run.out
    # web-0 was created before the link: it must be recreated, which the re-check says (exit 1).
    assert "pod-predates-sa-secrets" in run.out and run.code == 1, run

    api.remove("Pod", NS, "web-0")
    api.clear_log()
    again = create(kc, backups, "regcred", *flags("quay.io", "bot"), "--no-verify", "--link", "builder",
                   stdin="pw-99")
    assert again.code == 0, again.out
    assert writes(api) == []


def test_link_preserves_a_concurrent_change_to_the_service_account(api: FakeKube, kc: Path, backups: Path) -> None:
    def someone_links() -> None:
        sa = api.get_object("ServiceAccount", NS, "builder")
        assert sa is not None
        sa["imagePullSecrets"] = [*sa.get("imagePullSecrets", []), {"name": "intruder"}]
        api.add(sa)

    api.add(pull_secret("intruder", NS, {"quay.io": auth("intruder", "intruder-pw-1")}))
    api.before("PUT", r"/serviceaccounts/builder$", someone_links)
    api.clear_log()
    run = create(kc, backups, "regcred", *flags("quay.io", "bot"), "--no-verify", "--link", "builder", stdin="pw-99")
    assert run.code == 0, run
    assert pulls(api, "builder") == ["old", "intruder", "regcred"]
    assert [r.status for r in api.requests if r.method == "PUT"] == [409, 200]
    assert "re-read and re-applied" in run.out


def test_link_to_a_missing_service_account_writes_nothing(api: FakeKube, kc: Path, backups: Path) -> None:
    api.clear_log()
    run = create(kc, backups, "regcred", *flags("quay.io", "bot"), "--no-verify", "--link", "nobody", stdin="pw-99")
    assert run.code == 1 and "serviceaccount/nobody not found" in run.err, run
    assert writes(api) == [] and stored(api) is None


# --- dry runs and -o ---------------------------------------------------------------------------------------------

def test_dry_run_client_sends_no_write(api: FakeKube, kc: Path, backups: Path) -> None:
    api.clear_log()
    run = create(kc, backups, "regcred", *flags("quay.io", "bot"), "--no-verify", "--link", "builder",
                 "--dry-run=client", stdin="pw-99")
    assert run.code == 0, run
    assert writes(api) == []
    assert stored(api) is None and pulls(api, "builder") == ["old"]
    assert "would be created: secret/regcred" in run.out and "would be updated: serviceaccount/builder" in run.out
    assert "Re-check" not in run.out


def test_dry_run_server_sends_dry_run_all_and_stores_nothing(api: FakeKube, kc: Path, backups: Path) -> None:
    api.clear_log()
    run = create(kc, backups, "regcred", *flags("quay.io", "bot"), "--no-verify", "--link", "builder",
                 "--dry-run=server", stdin="pw-99")
    assert run.code == 0, run
    sent = writes(api)
    assert [m for m, _, _ in sent] == ["POST", "PUT"]
    assert all(q.get("dryRun") == "All" for _, _, q in sent)
    assert stored(api) is None and pulls(api, "builder") == ["old"]


@pytest.mark.parametrize("dry_run", ["client", "server"])
def test_dry_run_of_a_type_change(api: FakeKube, kc: Path, backups: Path, tmp_path: Path, dry_run: str) -> None:
    old = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "regcred", "namespace": NS},
           "type": DOCKERCFG, "data": {".dockercfg": b64(json.dumps({"quay.io": auth("bot", "legacy-pw-42")}))}}
    api.add(old)
    before = stored(api)
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"auths": {"quay.io": auth("bot", "new-pw-43")}}))
    api.clear_log()
    run = create(kc, backups, "regcred", "--from-file", path, "--no-verify", "--overwrite", f"--dry-run={dry_run}")
    assert run.code == 0, run
    assert "would be deleted: secret/regcred" in run.out and "would be created: secret/regcred" in run.out
    sent = writes(api)
    assert all(q.get("dryRun") == "All" for _, _, q in sent)
    assert [m for m, _, _ in sent] == ([] if dry_run == "client" else ["DELETE", "POST"])
    assert stored(api) == before and not backups.exists()
    assert ("validated by the server (dryRun=All)" in run.out) is (dry_run == "server")


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_output_prints_the_objects_redacted(api: FakeKube, kc: Path, backups: Path, fmt: str) -> None:
    password = "out-pw-31337"
    run = create(kc, backups, "regcred", *flags("quay.io", "bot"), "--no-verify", "--link", "builder", "-o", fmt,
                 stdin=password)
    assert run.code == 0, run
    doc = json.loads(run.out) if fmt == "json" else yaml.safe_load(run.out)
    kinds = [i["kind"] for i in doc["items"]]
    assert kinds == ["Secret", "ServiceAccount"]
    secret = doc["items"][0]
    assert secret["type"] == DOCKERCONFIGJSON and secret["metadata"]["name"] == "regcred"
    assert secret["data"][".dockerconfigjson"].startswith("<redacted: ")
    assert doc["items"][1]["imagePullSecrets"] == [{"name": "old"}, {"name": "regcred"}]
    assert "created: secret/regcred" in run.err  # the human account goes to stderr
    stored_secret = stored(api)
    assert stored_secret is not None
    assert_no_secret(run, password, b64(f"bot:{password}"), stored_secret["data"][".dockerconfigjson"])


def test_no_secret_at_verbosity_9(api: FakeKube, kc: Path, backups: Path, registry_env: RegistryEnv) -> None:
    token = b64(f"{ALICE[0]}:{ALICE[1]}")
    ok = create(kc, backups, "regcred", "--docker-server", registry_env.basic, "--docker-username", ALICE[0],
                "--docker-password", ALICE[1], "--registry-ca-file", registry_env.ca_file, "-v", "9", "-o", "json")
    assert ok.code == 0, ok
    assert "GET " in ok.err or "POST " in ok.err  # -v 9 logs the requests
    secret = stored(api)
    assert secret is not None
    assert_no_secret(ok, ALICE[1], token, secret["data"][".dockerconfigjson"])

    bad = create(kc, backups, "other", *flags(registry_env.basic), "--registry-ca-file", registry_env.ca_file,
                 "-v", "9", stdin="wrong-pw-5150\n")
    assert bad.code == 1, bad
    assert_no_secret(bad, "wrong-pw-5150", b64(f"{ALICE[0]}:wrong-pw-5150"))


def test_password_stdin_strips_one_newline_only(api: FakeKube, kc: Path, backups: Path) -> None:
    run = create(kc, backups, "regcred", *flags("quay.io", "bot"), "--no-verify", stdin="pw-with-space \n\n")
    assert run.code == 0, run
    secret = stored(api)
    assert secret is not None
    assert json.loads(content(secret))["auths"]["quay.io"]["password"] == "pw-with-space \n"

