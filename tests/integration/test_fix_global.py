"""`fix global set|remove` against an OpenShift FakeKube (and, for verification, the real
docker-registry with htpasswd): byte-for-byte merges, refusals, confirmation, backups,
dry runs, concurrent writers, and the MachineConfigPool rollout that follows a write."""

from __future__ import annotations

import base64
import json
import stat
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from kubectl_pullsecret import redact
from tests.fakekube import FakeKube
from tests.integration.fix_helpers import fix, writes
from tests.integration.live_helpers import (
    Run,
    b64,
    fake_kube,
    global_pull_secret,
    machine_config_pool,
)
from tests.integration.registry_env import ALICE, RegistryEnv

SECRET_PATH = "/api/v1/namespaces/openshift-config/secrets/pull-secret"
USER, PASSWORD = "bob", "n3w-Pa55word-x9"
NEW_AUTH = b64(f"{USER}:{PASSWORD}")
REG = "reg.example.com:5000"
CLOUD, QUAY, RH = b64("cloud-user:cloud-pw-7781"), b64("quay-user:quay-pw-5521"), b64("rh-user:rh-pw-9034")
CLOUD_M = f'"cloud.openshift.com" : {{"auth":"{CLOUD}" , "email":"ops@example.com"}}'
QUAY_M = f'"quay.io":{{ "auth":"{QUAY}"  }}'
RH_M = f'"registry.redhat.io":{{"auth":"{RH}","note":"caf\\u00e9 \\ud83d\\ude00"}}'
# Deliberately odd: spaces around ':' and ',', tabs, a CRLF, unicode escapes, other top-level keys.
ODD = ('{ "credHelpers" : {"gcr.io":"gcloud"},\n'
       '\t"auths":{\n'
       f'  {CLOUD_M},\n'
       f'{QUAY_M},\r\n'
       f'    {RH_M}\n'
       '  } ,"x":[1, 2.50e0, null]}\n')
SECRETS = (PASSWORD, NEW_AUTH, f"{USER}:{PASSWORD}", CLOUD, QUAY, RH, "cloud-pw-7781", "quay-pw-5521", "rh-pw-9034",
           ALICE[1], b64(f"{ALICE[0]}:{ALICE[1]}"), b64(ODD))
YES_SET = ("set", "--registry", REG, "--username", USER, "--password-stdin", "--no-verify", "--yes", "--wait", "0")


@pytest.fixture
def api() -> Iterator[FakeKube]:
    with fake_kube(openshift=True) as server:
        yield server


def odd_secret(raw: str = ODD) -> dict[str, Any]:
    return global_pull_secret(raw=raw)


def run(api: FakeKube, tmp_path: Path, *args: str | Path, stdin: str = "", tty: bool = False) -> Run:
    """`fix global ARGS` with backups in tmp_path; asserts no secret value reached the output."""
    kubeconfig = tmp_path / "kubeconfig"
    if not kubeconfig.exists():
        api.kubeconfig(kubeconfig)
    result = fix("global", *args, "--backup-dir", tmp_path / "backups", kubeconfig=kubeconfig, stdin=stdin, tty=tty)
    for value in SECRETS:
        assert value not in result.out and value not in result.err, (value, result.out, result.err)
    return result


def stored(api: FakeKube) -> str:
    obj = api.get_object("Secret", "openshift-config", "pull-secret")
    assert obj is not None
    return base64.b64decode(obj["data"][".dockerconfigjson"]).decode()


def puts(api: FakeKube) -> list[tuple[str, str, dict[str, Any]]]:
    return [w for w in writes(api) if w[1] == SECRET_PATH]


# --- merges, byte for byte ---------------------------------------------------------------------------------

def test_set_adds_an_entry_and_keeps_every_other_byte(api: FakeKube, tmp_path: Path) -> None:
    before = api.add(odd_secret())
    r = run(api, tmp_path, *YES_SET, stdin=PASSWORD + "\n")
    assert r.code == 0, r.out + r.err
    new_member = f'"{REG}":{{"auth":"{NEW_AUTH}"}}'
    # Appended after the last member, with the separator the document uses between its last two members.
    assert stored(api) == ODD.replace(RH_M, RH_M + ",\r\n    " + new_member)
    for member in (CLOUD_M, QUAY_M, RH_M, '{ "credHelpers" : {"gcr.io":"gcloud"},\n\t"auths":{\n',
                   '  } ,"x":[1, 2.50e0, null]}\n'):
        assert member in stored(api)
    after = api.get_object("Secret", "openshift-config", "pull-secret")
    assert after is not None and after["metadata"]["uid"] == before["metadata"]["uid"]
    assert after["type"] == "kubernetes.io/dockerconfigjson" and list(after["data"]) == [".dockerconfigjson"]
    assert [m for m, _, _ in writes(api)] == ["PUT"]
    assert "updated: secret/pull-secret -n openshift-config" in r.out
    assert "oc registry login --registry=reg.example.com:5000 --auth-basic='bob:<password>'" in r.out
    assert "oc set data secret/pull-secret -n openshift-config --from-file=.dockerconfigjson=pull-secret.json" in r.out


def test_set_replaces_an_entry_in_place(api: FakeKube, tmp_path: Path) -> None:
    api.add(odd_secret())
    r = run(api, tmp_path, "set", "--registry", "quay.io", "--username", USER, "--password-stdin", "--no-verify",
            "--yes", "--wait", "0", stdin=PASSWORD)
    assert r.code == 0, r.out + r.err
    assert stored(api) == ODD.replace(QUAY_M, f'"quay.io":{{"auth":"{NEW_AUTH}"}}')


def test_remove_deletes_the_member_and_its_comma(api: FakeKube, tmp_path: Path) -> None:
    api.add(odd_secret())
    r = run(api, tmp_path, "remove", "--registry", "quay.io", "--yes", "--wait", "0")
    assert r.code == 0, r.out + r.err
    assert stored(api) == ODD.replace(",\n" + QUAY_M, "")
    assert "jq 'del(.auths[\"quay.io\"])' pull-secret.json > pull-secret.new.json" in r.out


def test_a_second_identical_run_writes_nothing(api: FakeKube, tmp_path: Path) -> None:
    api.add(odd_secret())
    assert run(api, tmp_path, *YES_SET, stdin=PASSWORD).code == 0
    first = stored(api)
    api.clear_log()
    again = run(api, tmp_path, *YES_SET[:-3], "--wait", "0", stdin=PASSWORD)  # no --yes needed: nothing to confirm
    assert again.code == 0, again.out + again.err
    assert writes(api) == [] and stored(api) == first
    assert "already holds this credential" in again.out and "unchanged" in again.out
    gone = run(api, tmp_path, "remove", "--registry", "not-there.example.com")
    assert gone.code == 0 and writes(api) == [] and stored(api) == first
    assert len(list((tmp_path / "backups").iterdir())) == 1  # only the first run's


def test_setting_an_equivalent_existing_entry_writes_nothing(api: FakeKube, tmp_path: Path) -> None:
    """`auth` plus an email (what oc create secret docker-registry writes) is the same credential."""
    api.add(global_pull_secret({REG: {"auth": NEW_AUTH, "email": "bob@example.com"}}))
    api.clear_log()
    r = run(api, tmp_path, *YES_SET, stdin=PASSWORD)
    assert r.code == 0 and writes(api) == []
    # A different password is a change.
    changed = run(api, tmp_path, *YES_SET, stdin=PASSWORD + "-2")
    assert changed.code == 0 and len(puts(api)) == 1
    assert json.loads(stored(api))["auths"][REG] == {"auth": b64(f"{USER}:{PASSWORD}-2")}


# --- dry runs, output, backups -----------------------------------------------------------------------------------

def test_dry_run_client_sends_no_write(api: FakeKube, tmp_path: Path) -> None:
    api.add(odd_secret())
    api.clear_log()
    r = run(api, tmp_path, *YES_SET[:-3], "--dry-run=client", "-o", "yaml", stdin=PASSWORD)
    assert r.code == 0, r.out + r.err
    assert writes(api) == [] and stored(api) == ODD
    assert "would be updated" in r.err  # with -o, the human text goes to stderr
    assert "kind: Secret" in r.out and "<redacted:" in r.out
    assert not (tmp_path / "backups").exists()


def test_dry_run_server_sends_the_put_with_dry_run_all(api: FakeKube, tmp_path: Path) -> None:
    api.add(odd_secret())
    api.clear_log()
    r = run(api, tmp_path, *YES_SET[:-3], "--dry-run=server", stdin=PASSWORD)
    assert r.code == 0, r.out + r.err
    assert writes(api) == [("PUT", SECRET_PATH, {"dryRun": "All"})]
    assert stored(api) == ODD
    assert not (tmp_path / "backups").exists()


def test_backup_holds_the_previous_content_mode_0600(api: FakeKube, tmp_path: Path) -> None:
    api.add(odd_secret())
    r = run(api, tmp_path, "remove", "--registry", "registry.redhat.io", "--yes", "--wait", "0")
    assert r.code == 0, r.out + r.err
    [backup] = (tmp_path / "backups").iterdir()
    assert backup.read_bytes() == ODD.encode()
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "backups").stat().st_mode) == 0o700
    assert str(backup) in "".join(r.out.split())  # printed (wrapped to the terminal width)


# --- refusals -------------------------------------------------------------------------------------------------

def _with_data(value: str, stype: str = "kubernetes.io/dockerconfigjson") -> dict[str, Any]:
    obj = global_pull_secret({})
    obj["data"] = {".dockerconfigjson": value}
    obj["type"] = stype
    return obj


@pytest.mark.parametrize("secret,needle", [
    (_with_data("%%%not*base64"), "not valid base64"),
    (_with_data(b64('{"auths": {"quay.io": ')), "not valid JSON"),
    (_with_data(b64(f'{{"quay.io": {{"auth": "{QUAY}"}}}}')), "no `auths` object"),
    (_with_data(b64(f'{{"auths": {{"{REG}": {{"auth": "{QUAY}"}}, "{REG}": {{"auth": "{RH}"}}}}}}')),
     "appears 2 times"),
    (_with_data(b64(f'{{"auths": {{"quay.io": {{"auth": "{b64("no-colon-here")}"}}}}}}')), "no ':' found"),
    (_with_data(b64(f'{{"auths": {{"quay.io": {{"auth": "{QUAY}"}}}}}}'), "Opaque"), "is of type Opaque"),
    (None, "not found: is this OpenShift?"),
], ids=["bad-base64", "not-json", "no-auths", "duplicate-key", "other-entry-malformed", "wrong-type", "absent"])
def test_a_malformed_or_absent_secret_is_refused(api: FakeKube, tmp_path: Path, secret: dict[str, Any] | None,
                                                 needle: str) -> None:
    if secret is not None:
        api.add(secret)
    api.clear_log()
    r = run(api, tmp_path, *YES_SET, stdin=PASSWORD)
    assert r.code == 1, r.out + r.err
    assert needle in r.err and "error:" in r.err
    assert writes(api) == []
    assert not (tmp_path / "backups").exists()


def test_only_the_target_entry_may_be_malformed(api: FakeKube, tmp_path: Path) -> None:
    """The kubelet rejects the whole secret over one bad entry: replacing (or removing) that entry is the fix."""
    bad = b64("no-colon-here")
    api.add(global_pull_secret({REG: {"auth": bad}, "quay.io": {"auth": QUAY}}))
    r = run(api, tmp_path, *YES_SET, stdin=PASSWORD)
    assert r.code == 0, r.out + r.err
    assert stored(api) == json.dumps({"auths": {REG: {"auth": NEW_AUTH}, "quay.io": {"auth": QUAY}}}).replace(
        f'"{REG}": {{"auth": "{NEW_AUTH}"}}', f'"{REG}": {{"auth":"{NEW_AUTH}"}}')


@pytest.mark.parametrize("args,stdin,needle", [
    (("set", "--registry", "not a registry", "--username", USER, "--password-stdin"), PASSWORD, "--registry"),
    (("set", "--registry", "ftp://quay.io", "--username", USER, "--password-stdin"), PASSWORD, "--registry"),
    (("remove", "--registry", "quay.io:99999"), "", "--registry"),
    (("set", "--registry", REG, "--username", "a:b", "--password-stdin"), PASSWORD, "--username"),
    (("set", "--registry", REG, "--username", USER, "--password-stdin"), "", "stdin is empty"),
    (("set", "--registry", REG, "--username", USER, "--password-stdin"), "\n", "stdin is empty"),
    (("set", "--registry", REG, "--username", USER), PASSWORD, "--password-stdin"),  # not a terminal
], ids=["spaces", "scheme", "port", "colon-user", "empty-stdin", "newline-only", "no-password"])
def test_usage_errors_exit_2_before_any_write(api: FakeKube, tmp_path: Path, args: tuple[str, ...], stdin: str,
                                              needle: str) -> None:
    api.add(odd_secret())
    api.clear_log()
    r = run(api, tmp_path, *args, "--yes", stdin=stdin)
    assert r.code == 2, r.out + r.err
    assert needle in r.err
    assert writes(api) == []


def test_no_password_without_a_terminal_does_not_contact_the_cluster(api: FakeKube, tmp_path: Path) -> None:
    api.add(odd_secret())
    api.clear_log()
    r = run(api, tmp_path, "set", "--registry", REG, "--username", USER, "--yes")
    assert r.code == 2 and api.requests == []


def test_a_key_the_kubelet_never_matches_is_warned_about(api: FakeKube, tmp_path: Path) -> None:
    api.add(odd_secret())
    hub = run(api, tmp_path, "set", "--registry", "registry-1.docker.io", "--username", USER, "--password-stdin",
              "--no-verify", "--yes", "--wait", "0", stdin=PASSWORD)
    assert hub.code == 0
    text = " ".join(hub.out.split())
    assert "never matches this key to images on that registry" in text and "use --registry docker.io" in text
    scheme = run(api, tmp_path, "set", "--registry", "https://quay.io/v1/", "--username", USER, "--password-stdin",
                 "--no-verify", "--yes", "--wait", "0", stdin=PASSWORD)
    text = " ".join(scheme.out.split())
    assert "reads this key as quay.io" in text and "write it as --registry quay.io" in text
    assert "the entry 'quay.io' names the same registry" in text
    plain = run(api, tmp_path, *YES_SET, stdin=PASSWORD)
    assert "warning:" not in plain.out


@pytest.mark.parametrize("registry,warned", [
    ("quay.io", ()),
    ("reg.example.com:5000/team", ()),
    ("127.0.0.1:5000", ()),
    ("[::1]:5000", ()),
    ("docker.io", ()),
    ("index.docker.io", ()),  # the kubelet's Docker Hub fallback key
    ("docker.io/acme", ()),  # Docker Hub images under acme/
    ("registry-1.docker.io", ("never matches this key", "use --registry docker.io")),
    ("https://quay.io", ("reads this key as quay.io", "only by its host", "write it as --registry quay.io")),
    ("quay.io/v2/", ("reads this key as quay.io", "never matches it to an image")),
    ("Quay.io", ("never matches this key to images on that registry (such as quay.io/app)", "use --registry quay.io")),
    ("*.example.com", ("has no wildcards",)),
])
def test_registry_warnings_follow_the_kubelet_and_containers_image(registry: str, warned: tuple[str, ...]) -> None:
    from kubectl_pullsecret.fixes.globalps import check_registry

    text = " ".join(check_registry(registry))
    assert all(w in text for w in warned), text
    assert bool(text) == bool(warned), text


# --- confirmation ----------------------------------------------------------------------------------------------

def test_without_a_terminal_or_yes_only_the_plan_is_printed(api: FakeKube, tmp_path: Path) -> None:
    api.add(odd_secret())
    api.clear_log()
    r = run(api, tmp_path, "remove", "--registry", "quay.io")
    assert r.code == 1
    assert "not applied: secret/pull-secret" in r.out and "needs confirmation" in r.out
    assert writes(api) == [] and stored(api) == ODD


def test_a_terminal_answer_decides(api: FakeKube, tmp_path: Path) -> None:
    api.add(odd_secret())
    api.clear_log()
    no = run(api, tmp_path, "remove", "--registry", "quay.io", stdin="n\n", tty=True)
    assert no.code == 1 and writes(api) == [] and "answered no" in no.out
    assert "changes the pull secret of every node in the cluster). Apply? [y/N]" in no.err
    yes = run(api, tmp_path, "remove", "--registry", "quay.io", "--wait", "0", stdin="y\n", tty=True)
    assert yes.code == 0, yes.out + yes.err
    assert [m for m, _, _ in writes(api)] == ["PUT"] and '"quay.io"' not in stored(api)


def test_the_password_prompt_on_a_terminal_then_the_question(api: FakeKube, tmp_path: Path) -> None:
    api.add(odd_secret())
    r = run(api, tmp_path, "set", "--registry", REG, "--username", USER, "--no-verify", "--wait", "0",
            stdin=f"{PASSWORD}\ny\n", tty=True)
    assert r.code == 0, r.out + r.err
    assert f"Password for {USER} at {REG}: " in r.err and "Apply? [y/N]" in r.err
    assert json.loads(stored(api))["auths"][REG] == {"auth": NEW_AUTH}


def test_password_stdin_needs_yes_and_says_so(api: FakeKube, tmp_path: Path) -> None:
    api.add(odd_secret())
    api.clear_log()
    r = run(api, tmp_path, "set", "--registry", REG, "--username", USER, "--password-stdin", "--no-verify",
            stdin=PASSWORD + "\n", tty=True)
    assert r.code == 1 and writes(api) == []
    assert "add --yes to apply" in " ".join(r.out.split())
    assert "[y/N]" not in r.err  # no question that stdin could not answer


def test_removing_telemetry_warns_and_asks_with_the_reason(api: FakeKube, tmp_path: Path) -> None:
    api.add(odd_secret())
    r = run(api, tmp_path, "remove", "--registry", "cloud.openshift.com", "--wait", "0", stdin="y\n", tty=True)
    assert r.code == 0, r.out + r.err
    assert "removing cloud.openshift.com stops Telemetry" in " ".join(r.out.split())
    assert "and stops Telemetry reporting). Apply? [y/N]" in r.err
    assert "cloud.openshift.com" not in stored(api)
    assert "global-pull-secret-telemetry-missing" in r.out  # the re-check (info: exit 0)
    other = run(api, tmp_path, "remove", "--registry", "quay.io", "--yes", "--wait", "0")
    assert "stops Telemetry" not in " ".join(other.out.split())


# --- verification against a real registry ------------------------------------------------------------------

def test_a_wrong_password_is_refused_before_anything_is_written(api: FakeKube, tmp_path: Path,
                                                                registry_env: RegistryEnv) -> None:
    api.add(odd_secret())
    api.clear_log()
    args = ("set", "--registry", registry_env.basic, "--username", ALICE[0], "--password-stdin", "--yes",
            "--wait", "0", "--registry-ca-file", registry_env.ca_file)
    wrong = run(api, tmp_path, *args, stdin="not-alices-password")
    assert wrong.code == 1, wrong.out + wrong.err
    assert "nothing was written" in wrong.err and "not-alices-password" not in wrong.err
    assert writes(api) == [] and stored(api) == ODD
    right = run(api, tmp_path, *args, stdin=ALICE[1] + "\n")
    assert right.code == 0, right.out + right.err
    assert f"verified: {registry_env.basic} accepted user alice" in " ".join(right.out.split())
    assert json.loads(stored(api))["auths"][registry_env.basic] == {"auth": b64(f"{ALICE[0]}:{ALICE[1]}")}


# --- a concurrent writer ------------------------------------------------------------------------------------------

def test_a_concurrent_change_is_kept(api: FakeKube, tmp_path: Path) -> None:
    api.add(odd_secret())
    other = f'"mirror.example.com":{{"auth":"{QUAY}"}}'

    def someone_else_adds_an_entry() -> None:
        obj = api.get_object("Secret", "openshift-config", "pull-secret")
        assert obj is not None
        obj["data"][".dockerconfigjson"] = b64(stored(api).replace(CLOUD_M, f"{other},{CLOUD_M}"))
        api.add(obj)

    api.before("PUT", r"secrets/pull-secret$", someone_else_adds_an_entry)
    api.clear_log()
    r = run(api, tmp_path, *YES_SET, stdin=PASSWORD)
    assert r.code == 0, r.out + r.err
    final = stored(api)
    assert other in final and f'"{REG}":{{"auth":"{NEW_AUTH}"}}' in final
    assert final == ODD.replace(CLOUD_M, f"{other},{CLOUD_M}").replace(
        RH_M, RH_M + f',\r\n    "{REG}":{{"auth":"{NEW_AUTH}"}}')
    assert len(puts(api)) == 2  # the first answered 409
    assert "re-read and re-applied after 1 concurrent change" in " ".join(r.out.split())


# --- MachineConfigPool rollout ------------------------------------------------------------------------------------

def _pool(api: FakeKube, name: str) -> dict[str, Any]:
    obj = api.get_object("MachineConfigPool", None, name)
    assert obj is not None
    return obj


def mco(api: FakeKube, names: tuple[str, ...], *, finish: tuple[str, ...] = (), step: float = 0.12,
        ) -> Callable[[], None]:
    """The Machine Config Operator: renders a new config for every pool in `names` at once
    (just before the pull secret's PUT is handled), then, in a thread, updates the machines
    of the pools in `finish` one by one."""
    def render() -> None:
        for name in names:
            pool = _pool(api, name)
            pool["spec"]["configuration"]["name"] = f"rendered-{name}-new"
            pool["status"]["updatedMachineCount"] = 0
            api.add(pool)
        threading.Thread(target=update, daemon=True).start()

    def update() -> None:
        for name in finish:
            pool = _pool(api, name)
            for n in range(1, pool["status"]["machineCount"] + 1):
                time.sleep(step)
                pool = _pool(api, name)
                pool["status"]["updatedMachineCount"] = n
                if n == pool["status"]["machineCount"]:
                    pool["status"]["configuration"]["name"] = pool["spec"]["configuration"]["name"]
                api.add(pool)
    return render


def _pools(api: FakeKube, *specs: tuple[str, int], paused: tuple[str, ...] = ()) -> None:
    for name, machines in specs:
        pool = machine_config_pool(name, rendered=f"rendered-{name}-old", at=f"rendered-{name}-old",
                                   machines=machines, updated=machines)
        pool["spec"]["paused"] = name in paused
        api.add(pool)


def test_the_rollout_is_followed_until_every_pool_is_done(api: FakeKube, tmp_path: Path) -> None:
    api.add(odd_secret())
    _pools(api, ("master", 3), ("worker", 2))
    api.before("PUT", r"secrets/pull-secret$", mco(api, ("master", "worker"), finish=("master", "worker")))
    r = run(api, tmp_path, *YES_SET[:-2], "--wait", "5s", stdin=PASSWORD)
    assert r.code == 0, r.out + r.err
    assert "worker: 1/2 machines updated to rendered-worker-new" in r.err
    assert "master: 3/3 machines updated to rendered-master-new: done" in r.err
    assert "worker: 2/2 machines updated to rendered-worker-new: done" in r.err
    assert "MachineConfigPool rollout finished" in r.out
    assert "global-pull-secret-rollout-pending" not in r.out


def test_wait_0_does_not_wait_and_a_pending_rollout_is_not_a_failure(api: FakeKube, tmp_path: Path) -> None:
    api.add(odd_secret())
    _pools(api, ("worker", 3))
    api.before("PUT", r"secrets/pull-secret$", mco(api, ("worker",)))  # renders; never updates a machine
    r = run(api, tmp_path, *YES_SET, stdin=PASSWORD)
    assert r.code == 0, r.out + r.err
    text = " ".join(r.out.split())
    assert "not following the MachineConfigPool rollout (--wait 0)" in text and "oc get mcp -w" in text
    assert "global-pull-secret-rollout-pending" in r.out  # the re-check sees it ...
    assert "as expected with --wait 0" in text  # ... and does not count it
    assert "machines updated" not in r.err


def test_a_rollout_that_does_not_finish_in_time_is_exit_1(api: FakeKube, tmp_path: Path) -> None:
    api.add(odd_secret())
    _pools(api, ("worker", 3))
    api.before("PUT", r"secrets/pull-secret$", mco(api, ("worker",)))
    r = run(api, tmp_path, *YES_SET[:-2], "--wait", "1s", stdin=PASSWORD)
    assert r.code == 1, r.out + r.err
    assert "did not finish within 1.0s (worker:" in " ".join(r.out.split())
    assert "worker: 0/3 machines updated to rendered-worker-new" in r.err
    assert r.elapsed >= 1
    assert json.loads(stored(api))["auths"][REG] == {"auth": NEW_AUTH}  # written all the same


def test_a_pool_that_never_moves_is_taken_as_done_after_a_grace_period(api: FakeKube, tmp_path: Path) -> None:
    api.add(odd_secret())
    _pools(api, ("worker", 2))  # no MCO: the pool stays on its (finished) configuration
    r = run(api, tmp_path, *YES_SET[:-2], "--wait", "1.5s", stdin=PASSWORD)
    assert r.code == 0, r.out + r.err
    assert "worker: waiting for a new rendered configuration (at rendered-worker-old)" in r.err
    assert "did not move to a new rendered configuration within 0.5s" in " ".join(r.out.split())
    assert "did not finish" not in r.out


def test_a_paused_pool_is_warned_about_and_not_waited_for(api: FakeKube, tmp_path: Path) -> None:
    api.add(odd_secret())
    _pools(api, ("worker", 2), ("infra", 2), paused=("infra",))
    api.before("PUT", r"secrets/pull-secret$", mco(api, ("worker", "infra"), finish=("worker",)))
    r = run(api, tmp_path, *YES_SET[:-2], "--wait", "5s", stdin=PASSWORD)
    text = " ".join(r.out.split())
    assert "MachineConfigPool infra is paused" in text and "oc patch mcp infra" in text
    assert "infra: paused" in r.err and "worker: 2/2 machines updated to rendered-worker-new: done" in r.err
    assert "rollout finished" in text and "not waited for, paused: infra" in text  # not the 5 s timeout
    assert r.code == 1  # infra's nodes keep the old pull secret: the re-check still finds it pending
    assert "global-pull-secret-rollout-pending" in r.out


# --- nothing secret in any output ---------------------------------------------------------------------------------

@pytest.mark.parametrize("extra", [("-o", "yaml"), ("-o", "json"), ("-v", "9"), ("--dry-run=server", "-o", "json")],
                         ids=["yaml", "json", "v9", "server-json"])
def test_no_secret_value_in_any_output_even_unscrubbed(api: FakeKube, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      extra: tuple[str, ...]) -> None:
    """The scrubber is a second line of defence: with it off, nothing secret is printed either."""
    monkeypatch.setattr(redact, "scrub", lambda text: text)
    api.add(odd_secret())
    r = run(api, tmp_path, *YES_SET, *extra, stdin=PASSWORD + "\n")
    assert r.code == 0, r.out + r.err
    if "-o" in extra:
        assert "pull-secret" in r.out and "<redacted:" in r.out
    removed = run(api, tmp_path, "remove", "--registry", "quay.io", "--yes", "--wait", "0", *extra)
    assert removed.code == 0
