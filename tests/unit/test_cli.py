"""The command line: exit codes, error lines, flags, report shape.

Each behaviour that matters to a caller (exit code, one `error:` line) is checked both
in-process (`cli.main`) and in a fresh `python -m kubectl_pullsecret` subprocess.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from kubectl_pullsecret import __version__, checks
from kubectl_pullsecret.cli import main

REPO = Path(__file__).resolve().parents[2]

# Two pods in `shop` whose pull secrets do not exist; another secret in `shop` makes
# the namespace's secrets "covered", so they are reported missing (error), not
# "not in the input" (info).
TWO_PODS = """
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Pod
  metadata: {name: web-1, namespace: shop, uid: u1, creationTimestamp: '2026-01-01T00:00:00Z', labels: {app: web}}
  spec:
    imagePullSecrets: [{name: regcred}]
    containers: [{name: web, image: quay.io/acme/web:1.2}]
- apiVersion: v1
  kind: Pod
  metadata: {name: api-1, namespace: shop, uid: u2, creationTimestamp: '2026-01-01T00:00:00Z', labels: {app: api}}
  spec:
    imagePullSecrets: [{name: apicred}]
    containers: [{name: api, image: quay.io/acme/api:1.0}]
- apiVersion: v1
  kind: Secret
  metadata: {name: quay-pull, namespace: shop}
  type: kubernetes.io/dockerconfigjson
  data: {.dockerconfigjson: eyJhdXRocyI6IHsicXVheS5pbyI6IHsiYXV0aCI6ICJZbTlpT25CMyJ9fX0=}
"""

# No pull secrets at all: the image is pulled anonymously (a warning with probes off).
WARN_ONLY = """
apiVersion: v1
kind: Pod
metadata: {name: web-1, namespace: shop, uid: u1, creationTimestamp: '2026-01-01T00:00:00Z'}
spec:
  containers: [{name: web, image: quay.io/acme/web:1.2}]
"""

# A pod whose pull secret exists, is well-formed and matches its registry.
# .dockerconfigjson = {"auths": {"quay.io": {"auth": "Ym9iOnB3"}}} (bob:pw)
CLEAN = """
apiVersion: v1
kind: Pod
metadata: {name: web-1, namespace: shop, uid: u1, creationTimestamp: '2026-01-01T00:00:00Z'}
spec:
  imagePullSecrets: [{name: quay-pull}]
  containers: [{name: web, image: quay.io/acme/web:1.2}]
---
apiVersion: v1
kind: Secret
metadata: {name: quay-pull, namespace: shop}
type: kubernetes.io/dockerconfigjson
data: {.dockerconfigjson: eyJhdXRocyI6IHsicXVheS5pbyI6IHsiYXV0aCI6ICJZbTlpT25CMyJ9fX0=}
"""

MALFORMED = "apiVersion: v1\nkind: Pod\nmetadata: {name: web-1\n  namespace: [shop\n"


@dataclass(frozen=True)
class Result:
    rc: int
    out: str
    err: str


Runner = Callable[..., Result]


def _subprocess(args: list[str], stdin: str) -> Result:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [env.get("PYTHONPATH")])])
    proc = subprocess.run([sys.executable, "-m", "kubectl_pullsecret", *args], cwd=REPO, env=env, input=stdin,
                          capture_output=True, text=True, timeout=60, check=False)
    return Result(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def run_main(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Runner:
    """cli.main in this process."""

    def run(*args: str, stdin: str = "") -> Result:
        capsys.readouterr()
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        try:
            rc = main(list(args))
        except SystemExit as exc:  # argparse's --help
            rc = exc.code if isinstance(exc.code, int) else 1
        captured = capsys.readouterr()
        return Result(rc, captured.out, captured.err)

    return run


@pytest.fixture(params=["in-process", "subprocess"])
def cli(request: pytest.FixtureRequest, run_main: Runner) -> Runner:
    """Both ways of running the command."""
    if request.param == "in-process":
        return run_main
    return lambda *args, stdin="": _subprocess(list(args), stdin)


@pytest.fixture
def inputs(write, tmp_path: Path) -> dict[str, str]:
    return {
        "two_pods": str(write("two-pods.yaml", TWO_PODS)),
        "warn_only": str(write("warn-only.yaml", WARN_ONLY)),
        "clean": str(write("clean.yaml", CLEAN)),
        "malformed": str(write("malformed.yaml", MALFORMED)),
        "missing": str(tmp_path / "no-such-dir" / "dump.yaml"),
    }


def expand(args: list[str], inputs: dict[str, str]) -> list[str]:
    return [a.format(**inputs) for a in args]


def report(result: Result) -> dict:
    doc = json.loads(result.out)
    assert isinstance(doc, dict)
    return doc


def checks_of(doc: dict) -> set[str]:
    return {f["check"] for f in doc["findings"]}


def assert_one_error_line(result: Result) -> str:
    assert "Traceback" not in result.err
    lines = result.err.splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith("error: ")
    return lines[0]


# --- exit codes ----------------------------------------------------------------

def test_exit_0_for_clean_input(cli, inputs):
    result = cli("doctor", "-f", inputs["clean"], "--no-probe", "-o", "json")
    assert result.rc == 0, result.err
    doc = report(result)
    assert doc["findings"] == []
    assert doc["summary"]["ok"] > 0
    assert result.err == ""


def test_exit_1_when_errors_are_found(cli, inputs):
    result = cli("doctor", "-f", inputs["two_pods"], "--no-probe", "-o", "json")
    assert result.rc == 1, result.err
    doc = report(result)
    assert doc["summary"]["error"] == 2
    assert {(f["check"], f["object"]["name"]) for f in doc["findings"] if f["severity"] == "error"} == {
        ("pull-secret-missing", "web-1"), ("pull-secret-missing", "api-1")}
    assert "Traceback" not in result.err


def test_fail_on_never_exits_0_despite_errors(cli, inputs):
    result = cli("doctor", "-f", inputs["two_pods"], "--no-probe", "--fail-on", "never", "-o", "json")
    assert result.rc == 0
    assert report(result)["summary"]["error"] == 2


def test_fail_on_warning_with_only_warnings(cli, inputs):
    default = cli("doctor", "-f", inputs["warn_only"], "--no-probe", "-o", "json")
    summary = report(default)["summary"]
    assert (summary["error"], summary["warning"]) == (0, 1)  # the premise
    assert default.rc == 0
    strict = cli("doctor", "-f", inputs["warn_only"], "--no-probe", "--fail-on", "warning", "-o", "json")
    assert strict.rc == 1


def test_fail_on_warning_with_clean_input_exits_0(run_main, inputs):
    assert run_main("doctor", "-f", inputs["clean"], "--no-probe", "--fail-on", "warning").rc == 0


USAGE_ERRORS = {
    "unknown-flag": (["doctor", "-f", "{two_pods}", "--bogus"], "--bogus"),
    "unknown-top-level-flag": (["--bogus"], "--bogus"),
    "unknown-command": (["frobnicate"], "expected doctor, fix or version"),
    "unknown-check-id": (["doctor", "-f", "{two_pods}", "--checks", "pull-secret-missing,no-such-check"],
                         "no-such-check"),
    "unknown-skip-id": (["doctor", "-f", "{two_pods}", "--skip", "no-such-check"], "no-such-check"),
    "bad-target-kind": (["doctor", "-f", "{two_pods}", "frob/x"], "frob/x"),
    "bad-target-shape": (["doctor", "-f", "{two_pods}", "pod/"], "pod/"),
    "target-not-found": (["doctor", "-f", "{two_pods}", "pod/nope"], "pod/nope"),
    "missing-f-path": (["doctor", "-f", "{missing}"], "{missing}"),
    "bad-output": (["doctor", "-f", "{two_pods}", "-o", "xml"], "xml"),
    "bad-fail-on": (["doctor", "-f", "{two_pods}", "--fail-on", "sometimes"], "sometimes"),
    "bad-selector": (["doctor", "-f", "{two_pods}", "-l", "app in web"], "app in web"),
    "bad-verbosity": (["doctor", "-f", "{two_pods}", "-v", "loud"], "loud"),
}


@pytest.mark.parametrize(("args", "mentions"), USAGE_ERRORS.values(), ids=USAGE_ERRORS.keys())
def test_usage_errors_exit_2_with_one_error_line(cli, inputs, args, mentions):
    result = cli(*expand(args, inputs))
    assert result.rc == 2, result
    line = assert_one_error_line(result)
    assert mentions.format(**inputs) in line
    assert result.out == ""


SOURCE_ERRORS = {
    "malformed-explicit-file": (["doctor", "-f", "{malformed}"], ""),
    "malformed-stdin": (["doctor", "-f", "-"], MALFORMED),
    "no-f-no-kubeconfig": (["doctor"], ""),
    "kubeconfig-missing": (["doctor", "--kubeconfig", "{missing}"], ""),
}


@pytest.mark.parametrize(("args", "stdin"), SOURCE_ERRORS.values(), ids=SOURCE_ERRORS.keys())
def test_source_errors_exit_3_with_one_error_line(cli, inputs, args, stdin):
    result = cli(*expand(args, inputs), "--no-probe", stdin=stdin)
    assert result.rc == 3, result
    assert_one_error_line(result)
    assert result.out == ""


def test_malformed_file_error_names_file_and_line(cli, inputs):
    line = assert_one_error_line(cli("doctor", "-f", inputs["malformed"], "--no-probe"))
    assert inputs["malformed"] in line
    assert re.search(r"\bline \d+", line)


def test_no_f_error_says_how_to_give_input(run_main):
    line = assert_one_error_line(run_main("doctor", "--no-probe"))
    assert "-f" in line


def test_stdin_dash(cli):
    result = cli("doctor", "-f", "-", "--no-probe", "-o", "json", stdin=TWO_PODS)
    assert result.rc == 1
    assert checks_of(report(result)) >= {"pull-secret-missing"}


def test_malformed_file_in_a_directory_is_a_note_not_an_error(run_main, write, tmp_path):
    write("dump/pods.yaml", TWO_PODS)
    bad = write("dump/zz-broken.yaml", MALFORMED)
    result = run_main("doctor", "-f", str(tmp_path / "dump"), "--no-probe", "-o", "json")
    assert result.rc == 1
    assert report(result)["summary"]["error"] == 2
    notes = [line for line in result.err.splitlines() if line.startswith("note: ")]
    assert len(notes) == 1 and str(bad) in notes[0]
    assert "error:" not in result.err


# --- checks selection ------------------------------------------------------------

def test_list_checks_lists_every_check_id(cli):
    result = cli("doctor", "--list-checks")
    assert result.rc == 0
    listed = {line.split()[0] for line in result.out.splitlines()[1:] if line and not line[0].isspace()}
    assert listed == set(checks.CHECKS)
    assert listed <= set(checks.CATALOGUE)
    assert result.out.splitlines()[0].split()[:2] == ["ID", "SEVERITY"]


@pytest.mark.parametrize(("flags", "present", "absent"), [
    (["--checks", "pull-secret-missing"], {"pull-secret-missing"}, {"no-matching-credential"}),
    (["--checks", "no-matching-credential"], {"no-matching-credential"}, {"pull-secret-missing"}),
    (["--checks", "pull-secret-missing,no-matching-credential"], {"pull-secret-missing", "no-matching-credential"},
     set()),
    (["--skip", "pull-secret-missing"], {"no-matching-credential"}, {"pull-secret-missing"}),
    (["--skip", "pull-secret-missing,no-matching-credential"], set(), {"pull-secret-missing", "no-matching-credential"}),
    (["--checks", "pull-secret-missing", "--skip", "pull-secret-missing"], set(),
     {"pull-secret-missing", "no-matching-credential"}),
])
def test_checks_and_skip_filter_findings(run_main, inputs, flags, present, absent):
    everything = checks_of(report(run_main("doctor", "-f", inputs["two_pods"], "--no-probe", "-o", "json")))
    assert everything >= {"pull-secret-missing", "no-matching-credential"}  # the premise
    doc = report(run_main("doctor", "-f", inputs["two_pods"], "--no-probe", "-o", "json", *flags))
    assert checks_of(doc) == present
    assert not checks_of(doc) & absent


def test_skipping_the_only_error_changes_the_exit_code(cli, inputs):
    result = cli("doctor", "-f", inputs["two_pods"], "--no-probe", "--skip", "pull-secret-missing")
    assert result.rc == 0


# --- report ----------------------------------------------------------------------

def test_json_report_shape(run_main, inputs):
    result = run_main("doctor", "-f", inputs["two_pods"], "--no-probe", "-o", "json")
    doc = report(result)
    assert doc["apiVersion"] == "kubectl-pullsecret/v1"
    assert doc["kind"] == "DoctorReport"
    assert doc["cluster"] is None
    assert set(doc["summary"]) == {"error", "warning", "info", "ok"}
    for severity in ("error", "warning", "info"):
        assert doc["summary"][severity] == sum(f["severity"] == severity for f in doc["findings"])
    assert doc["findings"]
    for finding in doc["findings"]:
        assert set(finding) == {"check", "severity", "object", "container", "image", "message", "fix"}
        assert finding["check"] in checks.CATALOGUE
        assert finding["severity"] in {"error", "warning", "info"}
        assert set(finding["object"]) == {"kind", "namespace", "name"}
    assert {i["image"] for i in doc["images"]} == {"quay.io/acme/web:1.2", "quay.io/acme/api:1.0"}
    for image in doc["images"]:
        assert set(image) == {"image", "reference", "usedBy", "credentials", "probe"}


def test_yaml_report_is_the_json_document(run_main, inputs):
    as_json = run_main("doctor", "-f", inputs["two_pods"], "--no-probe", "-o", "json")
    as_yaml = run_main("doctor", "-f", inputs["two_pods"], "--no-probe", "-o", "yaml")
    assert as_json.rc == as_yaml.rc == 1
    assert yaml.safe_load(as_yaml.out) == json.loads(as_json.out)


@pytest.mark.parametrize("fmt", ["table", "wide", "markdown"])
def test_human_formats(run_main, inputs, fmt):
    result = run_main("doctor", "-f", inputs["two_pods"], "--no-probe", "-o", fmt)
    assert result.rc == 1
    assert "pull-secret-missing" in result.out
    assert "web-1" in result.out and "api-1" in result.out


@pytest.mark.parametrize("fmt", ["table", "wide", "json", "yaml", "markdown"])
def test_no_secret_value_in_any_output(run_main, write, fmt):
    password = "Sup3r-S3cret-Pw"
    auth = "Ym9iOlN1cDNyLVMzY3JldC1Qdw=="  # bob:Sup3r-S3cret-Pw
    # 'quay.io:443' never matches quay.io/acme/web, so findings talk about this entry.
    config = {"auths": {"quay.io:443": {"auth": auth, "username": "bob", "password": password}}}
    docs = [
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-1", "namespace": "shop", "uid": "u1"},
         "spec": {"imagePullSecrets": [{"name": "quay-pull"}],
                  "containers": [{"name": "web", "image": "quay.io/acme/web:1.2"}]}},
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "quay-pull", "namespace": "shop"},
         "type": "kubernetes.io/dockerconfigjson", "stringData": {".dockerconfigjson": json.dumps(config)}},
    ]
    path = write("leak.yaml", yaml.safe_dump_all(docs))
    result = run_main("doctor", "-f", str(path), "--no-probe", "-o", fmt, "-v", "9")
    assert result.rc in (0, 1), result.err
    assert "Traceback" not in result.err
    assert "bob" in result.out  # the secret was read: usernames are shown
    for text in (password, auth, auth.rstrip("=")):
        assert text not in result.out
        assert text not in result.err


# --- flags and targets -------------------------------------------------------------

def test_flags_after_targets(cli, inputs):
    result = cli("doctor", "pod/web-1", "-f", inputs["two_pods"], "-n", "shop", "--no-probe", "-o", "json")
    assert result.rc == 1, result.err
    doc = report(result)
    assert {f["object"]["name"] for f in doc["findings"]} == {"web-1"}
    assert "pull-secret-missing" in checks_of(doc)


def test_several_targets(run_main, inputs):
    result = run_main("doctor", "pod/web-1", "po/api-1", "-f", inputs["two_pods"], "-n", "shop", "--no-probe",
                      "-o", "json")
    assert {f["object"]["name"] for f in report(result)["findings"]} == {"web-1", "api-1"}


def test_targets_interleaved_with_flags(run_main, inputs):
    result = run_main("doctor", "pod/web-1", "-n", "shop", "pod/api-1", "-f", inputs["two_pods"], "--no-probe",
                      "-o", "json")
    assert result.rc == 1, result.err
    assert {f["object"]["name"] for f in report(result)["findings"]} == {"web-1", "api-1"}


def test_selector_limits_the_pods(run_main, inputs):
    result = run_main("doctor", "-f", inputs["two_pods"], "-l", "app=web", "--no-probe", "-o", "json")
    assert {f["object"]["name"] for f in report(result)["findings"]} == {"web-1"}
    result = run_main("doctor", "-f", inputs["two_pods"], "-l", "app notin (web,api)", "--no-probe", "-o", "json")
    assert report(result)["findings"] == []
    assert result.rc == 0


def test_namespace_limits_the_pods(run_main, inputs):
    result = run_main("doctor", "-f", inputs["two_pods"], "-n", "billing", "--no-probe", "-o", "json")
    assert result.rc == 0
    assert report(result)["findings"] == []


def test_objects_without_namespace_are_in_default(run_main, write):
    no_ns = CLEAN.replace(", namespace: shop", "").replace("namespace: shop", "")
    assert "shop" not in no_ns
    path = write("no-namespace.yaml", no_ns)
    result = run_main("doctor", "-f", str(path), "--no-probe", "-o", "json")
    assert report(result)["findings"] == []


@pytest.mark.parametrize("example", ["shop", "openshift-project", "must-gather"])
def test_examples_load_without_errors(run_main, example):
    result = run_main("doctor", "-f", str(REPO / "examples" / example), "--no-probe", "-o", "json")
    assert result.rc in (0, 1)
    assert "error:" not in result.err
    assert report(result)["kind"] == "DoctorReport"


# --- version and help --------------------------------------------------------------

@pytest.mark.parametrize("args", [["version"], ["--version"]])
def test_version(cli, args):
    result = cli(*args)
    assert result.rc == 0
    assert re.fullmatch(rf"kubectl-pullsecret v{re.escape(__version__)} \(python \d+\.\d+\.\d+\)\n", result.out)
    assert result.err == ""


def test_no_arguments_prints_help(cli):
    result = cli()
    assert result.rc == 0
    assert result.out.startswith("usage: kubectl pullsecret")
    assert "doctor" in result.out and "version" in result.out
    assert result.err == ""


@pytest.mark.parametrize(("args", "mentions"), [(["--help"], "COMMAND"), (["doctor", "--help"], "--fail-on"),
                                                (["doctor", "-h"], "--list-checks")])
def test_help(cli, args, mentions):
    result = cli(*args)
    assert result.rc == 0
    assert result.out.startswith("usage: kubectl pullsecret")
    assert mentions in result.out


IMPORT_PROBE = """
import json, runpy, sys
sys.argv = ["kubectl-pullsecret", *json.loads(sys.argv[1])]
try:
    runpy.run_module("kubectl_pullsecret", run_name="__main__", alter_sys=True)
    code = "no SystemExit"
except SystemExit as exc:
    code = exc.code
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("kubernetes", "requests"))
ran = "kubectl_pullsecret.cli" in sys.modules
print("\\nPROBE " + json.dumps({"code": code, "heavy": heavy, "ran": ran}))
"""


def _imports(args: list[str]) -> tuple[dict[str, object], str]:
    """Run the CLI in a fresh interpreter: (what it imported and returned, its stdout)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [env.get("PYTHONPATH")])])
    proc = subprocess.run([sys.executable, "-c", IMPORT_PROBE, json.dumps(args)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    result: dict[str, object] = json.loads(proc.stdout.splitlines()[-1].removeprefix("PROBE "))
    return result, proc.stdout


@pytest.mark.parametrize("args", [["--help"], ["version"], ["--version"]])
def test_help_and_version_import_neither_kubernetes_nor_requests(args):
    probe, stdout = _imports(args)
    assert probe["ran"] is True
    assert probe["code"] == 0
    assert "kubectl-pullsecret" in stdout or "usage:" in stdout
    assert probe["heavy"] == []


def test_no_probe_runs_do_not_import_requests():
    """--no-probe is the fast path (goldens, CI, offline triage): no HTTP stack loaded."""
    probe, _ = _imports(["doctor", "-f", "examples/shop", "--no-probe"])
    assert probe["code"] == 1 and probe["heavy"] == []
    # ...while a probing run does load it (the test above would pass vacuously otherwise).
    probe, _ = _imports(["doctor", "--image", "quay.io/a/b", "--authfile", "examples/authfile/config.json",
                         "--probe-timeout", "1"])
    assert "requests" in probe["heavy"]
