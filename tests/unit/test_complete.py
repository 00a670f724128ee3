"""kubectl_complete-pullsecret, pure part: words -> candidates and directive (no cluster)."""

from __future__ import annotations

import io
import subprocess
import sys
import time
from collections.abc import Iterable
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from kubectl_pullsecret import checks, cli
from kubectl_pullsecret import complete as comp
from kubectl_pullsecret.complete import (
    CONTEXTS,
    DEFAULT,
    FILTER_DIRS,
    NO_FILE_COMP,
    NO_SPACE,
    Candidate,
    Completion,
    Source,
    complete,
    finish,
    parse_words,
    render,
)

REPO = Path(__file__).resolve().parents[2]
KINDS = {"pod/", "deployment/", "statefulset/", "daemonset/", "replicaset/", "replicationcontroller/", "job/",
         "cronjob/", "deploymentconfig/", "sa/", "secret/"}
RESTART_KINDS = KINDS - {"sa/", "secret/"}
CHECK_IDS = list(checks.CHECKS)


def answer(*words: str, names: Iterable[str] = ()) -> tuple[set[str], int]:
    got, directive = finish(complete(words), names)
    return {c.value for c in got}, directive


def flags_of(command: str) -> set[str]:
    """Every option string of a command's parser (what flag completion must offer)."""
    _, commands = cli.build_parser()
    return {s for a in commands[command]._actions for s in a.option_strings}


# --- commands ----------------------------------------------------------------------------------

def test_first_word_is_a_command_with_a_description() -> None:
    got, directive = finish(complete([""]))
    assert {c.value for c in got} == {"doctor", "fix", "version"}
    assert directive == NO_FILE_COMP
    assert all(c.description and "\t" not in c.description for c in got)
    assert answer("d") == ({"doctor"}, NO_FILE_COMP)
    assert answer("x") == (set(), NO_FILE_COMP)


def test_no_words_at_all_is_the_first_word() -> None:
    assert answer() == ({"doctor", "fix", "version"}, NO_FILE_COMP)


def test_top_level_flags() -> None:
    assert answer("-") == ({"-h", "--help", "--version"}, NO_FILE_COMP)
    assert answer("--v") == ({"--version"}, NO_FILE_COMP)


def test_after_fix_its_sub_words_and_target_kinds() -> None:
    got, directive = answer("fix", "")
    assert got == {"link", "create", "grant", "global", "restart"} | KINDS
    assert directive == NO_FILE_COMP | NO_SPACE  # kind/ prefixes continue the word
    # Only a sub-word left: a space after it.
    assert answer("fix", "l") == ({"link"}, NO_FILE_COMP)
    assert answer("fix", "res") == ({"restart"}, NO_FILE_COMP)
    assert answer("fix", "re") == ({"restart", "replicaset/", "replicationcontroller/"}, NO_FILE_COMP | NO_SPACE)


def test_fix_sub_words_only_right_after_fix() -> None:
    """`fix -n x link` is fix TARGET (cli._command_words): no sub-words there."""
    got, _ = answer("fix", "-n", "x", "")
    assert got == KINDS


def test_fix_global_takes_set_or_remove() -> None:
    got, _ = finish(complete(["fix", "global", ""]))
    assert {c.value for c in got} == {"set", "remove"}
    assert all(c.description for c in got)
    assert answer("fix", "global", "bogus", "") == (set(), NO_FILE_COMP)
    assert answer("fix", "global", "set", "--reg") == ({"--registry", "--registry-ca-file"}, NO_FILE_COMP)


def test_unknown_command_completes_nothing() -> None:
    assert answer("nope", "") == (set(), NO_FILE_COMP)
    assert answer("version", "") == (set(), NO_FILE_COMP)


def test_command_descriptions_come_from_the_help() -> None:
    _, commands = cli.build_parser()
    got = comp._command_descriptions(commands)
    assert got["doctor"] == "which credentials the kubelet will try for each image, and what is wrong"
    assert got["fix link"] == "add a pull secret to a service account"
    assert got["fix global"] == "add, replace or remove an entry of OpenShift's global pull secret"
    assert got["version"] == "print the version"
    assert got["fix global remove"] == "Remove REGISTRY's entry from openshift-config/pull-secret"


# --- flags --------------------------------------------------------------------------------------

@pytest.mark.parametrize("command", ["doctor", "version", "fix", "fix link", "fix create", "fix grant",
                                     "fix global set", "fix global remove", "fix restart"])
def test_every_flag_of_the_parser_is_offered(command: str) -> None:
    got, directive = answer(*command.split(), "-")
    assert got == flags_of(command)
    assert directive == NO_FILE_COMP
    assert answer(*command.split(), "--")[0] == {f for f in flags_of(command) if f.startswith("--")}


def test_doctor_flags_include_the_known_ones() -> None:
    got, _ = answer("doctor", "-")
    assert {"-o", "--output", "--fail-on", "--checks", "--skip", "--list-checks", "-n", "--namespace", "-A",
            "--context", "--kubeconfig", "-f", "--filename", "--from-nodes", "--node", "-y", "--yes"} <= got


def test_flags_have_descriptions_from_their_help() -> None:
    got, _ = finish(complete(["doctor", "--"]))
    described = {c.value: c.description for c in got}
    assert described["--kubeconfig"] == "kubeconfig file"
    assert described["--output"] == "table|wide|json|yaml|markdown"  # no help: its choices
    assert described["--request-timeout"] == "per API request: seconds or a duration"
    assert described["--filename"] == "offline mode: YAML/JSON file, directory or - for stdin"


def test_given_flags_are_not_offered_again_unless_repeatable() -> None:
    got, _ = answer("doctor", "-o", "json", "--namespace", "x", "--image", "a", "-f", "b", "-")
    assert not {"-o", "--output", "-n", "--namespace"} & got
    assert {"--image", "-f", "--filename", "--insecure-registry", "--node"} <= got


def test_mutually_exclusive_flags_drop_each_other() -> None:
    assert "--all-service-accounts" in answer("fix", "grant", "--")[0]
    got, _ = answer("fix", "grant", "--sa", "x", "--")
    assert "--all-service-accounts" not in got and "--sa" not in got
    assert "--sa" not in answer("fix", "grant", "--all-service-accounts", "--")[0]


def test_flag_abbreviation_counts_as_given() -> None:
    got, _ = answer("doctor", "--names", "x", "--")
    assert "--namespace" not in got


# --- flag values --------------------------------------------------------------------------------

def test_output_choices() -> None:
    assert answer("doctor", "-o", "") == ({"table", "wide", "json", "yaml", "markdown"}, NO_FILE_COMP)
    assert answer("doctor", "--output", "j") == ({"json"}, NO_FILE_COMP)
    assert answer("fix", "-o", "") == ({"yaml", "json"}, NO_FILE_COMP)
    assert answer("doctor", "--fail-on", "") == ({"error", "warning", "never"}, NO_FILE_COMP)
    assert answer("fix", "link", "--for", "") == ({"pull", "mount", "pull,mount"}, NO_FILE_COMP)


def test_flag_equals_value_completes_the_value_only() -> None:
    """cobra's convention: for `--flag=val` the program answers values; the shell scripts put
    `--flag=` back (zsh -P, fish's prefix, bash's = word break)."""
    assert answer("doctor", "--output=") == ({"table", "wide", "json", "yaml", "markdown"}, NO_FILE_COMP)
    assert answer("doctor", "--output=y") == ({"yaml"}, NO_FILE_COMP)
    assert answer("doctor", "--out=y") == ({"yaml"}, NO_FILE_COMP)  # abbreviation
    assert answer("doctor", "-o=w") == ({"wide"}, NO_FILE_COMP)
    assert answer("fix", "--dry-run=") == ({"none", "client", "server"}, NO_FILE_COMP)
    assert answer("doctor", "--kubeconfig=") == (set(), DEFAULT)
    assert answer("doctor", "--yes=") == (set(), NO_FILE_COMP)
    assert answer("doctor", "--nope=x") == (set(), NO_FILE_COMP)


def test_attached_short_flag_value() -> None:
    assert answer("doctor", "-oj") == ({"-ojson"}, NO_FILE_COMP)
    c = complete(["doctor", "-nsh"])
    assert c.source is not None and c.source.kind == "Namespace"
    assert answer("doctor", "-nsh", names=["shop", "other"]) == ({"-nshop"}, NO_FILE_COMP)


def test_optional_value_flag() -> None:
    """--dry-run takes an optional value: after it a value (argparse would take the next word),
    or another flag."""
    assert answer("fix", "--dry-run", "") == ({"none", "client", "server"}, NO_FILE_COMP)
    got, _ = answer("fix", "--dry-run", "--y")
    assert got == {"--yes"}
    assert answer("fix", "--dry-run", "server", "")[0] == KINDS  # value taken: targets again
    assert answer("fix", "--dry-run", "-y", "")[0] == KINDS


def test_file_and_directory_flags() -> None:
    for words in (["doctor", "--kubeconfig"], ["doctor", "-f"], ["doctor", "--filename"], ["doctor", "--authfile"],
                  ["doctor", "--registry-ca-file"], ["fix", "create", "x", "--from-file"], ["fix", "--kubeconfig"]):
        assert answer(*words, "") == (set(), DEFAULT), words
    assert answer("fix", "--backup-dir", "") == (set(), FILTER_DIRS)
    assert answer("fix", "link", "--backup-dir", "/tm") == (set(), FILTER_DIRS)


def test_other_value_flags_complete_nothing_and_no_files() -> None:
    for flag in ("--image", "-l", "--request-timeout", "-v", "--probe-timeout", "--node-selector", "--max-parallel"):
        c = complete(["doctor", flag, ""])
        assert c.source is None and finish(c) == ([], NO_FILE_COMP), flag
    assert answer("fix", "global", "set", "--registry", "") == (set(), NO_FILE_COMP)


@pytest.mark.parametrize(("words", "kind"), [
    (["doctor", "-n", ""], "Namespace"),
    (["doctor", "--namespace", "s"], "Namespace"),
    (["doctor", "--probe-namespace", ""], "Namespace"),
    (["fix", "grant", "--from-namespace", ""], "Namespace"),
    (["doctor", "--sa", ""], "ServiceAccount"),
    (["fix", "link", "x", "--sa", ""], "ServiceAccount"),
    (["fix", "create", "x", "--link", ""], "ServiceAccount"),
    (["doctor", "--node", ""], "Node"),
    (["doctor", "--context", ""], CONTEXTS),
    (["fix", "--context", ""], CONTEXTS),
])
def test_name_flags_ask_for_names(words: list[str], kind: str) -> None:
    c = complete(words)
    assert c.source is not None and c.source.kind == kind
    assert c.directive == NO_FILE_COMP


def test_names_are_filtered_by_the_word() -> None:
    assert answer("doctor", "-n", "s", names=["shop", "staging", "other"]) == ({"shop", "staging"}, NO_FILE_COMP)


# --- --checks / --skip -----------------------------------------------------------------------------

def test_check_ids_are_the_ones_list_checks_prints() -> None:
    assert [cid for cid, _ in comp.check_ids()] == CHECK_IDS
    assert len(CHECK_IDS) > 20


def test_checks_first_id() -> None:
    got, directive = answer("doctor", "--checks", "")
    assert got == set(CHECK_IDS)
    assert directive == NO_FILE_COMP | NO_SPACE
    assert answer("doctor", "--skip", "pull-secret-m") == ({"pull-secret-missing", "pull-secret-malformed"},
                                                           NO_FILE_COMP | NO_SPACE)


def test_checks_after_a_comma() -> None:
    got, directive = answer("doctor", "--checks", "pull-secret-missing,")
    assert got == {f"pull-secret-missing,{cid}" for cid in CHECK_IDS if cid != "pull-secret-missing"}
    assert directive == NO_FILE_COMP | NO_SPACE
    got, _ = answer("doctor", "--skip", "a,pull-secret-missing,pull-secret-m")
    assert got == {"a,pull-secret-missing,pull-secret-malformed"}
    assert answer("doctor", "--checks=image-reference-invalid,no-m") == (
        {"image-reference-invalid,no-matching-credential"}, NO_FILE_COMP | NO_SPACE)


def test_check_descriptions() -> None:
    got, _ = finish(complete(["doctor", "--checks", "a,pull-secret-missing"]))
    assert [c.value for c in got] == ["a,pull-secret-missing"]
    assert got[0].description == checks.CHECKS["pull-secret-missing"].description.rstrip(".")


# --- targets ---------------------------------------------------------------------------------------

def test_target_kinds_are_prefixes_without_a_space() -> None:
    assert answer("doctor", "") == (KINDS, NO_FILE_COMP | NO_SPACE)
    assert answer("doctor", "s") == ({"statefulset/", "sa/", "secret/"}, NO_FILE_COMP | NO_SPACE)
    assert answer("doctor", "d") == ({"daemonset/", "deployment/", "deploymentconfig/"}, NO_FILE_COMP | NO_SPACE)


def test_other_spellings_of_a_kind_when_typed() -> None:
    assert answer("doctor", "serviceacc")[0] == {"serviceaccount/"}
    assert answer("doctor", "po")[0] == {"pod/"}
    assert answer("doctor", "pods")[0] == {"pods/"}
    assert answer("doctor", "rs")[0] == {"rs/"}
    assert answer("doctor", "dc")[0] == {"dc/"}
    assert answer("doctor", "x")[0] == set()


def test_kinds_come_from_the_target_parser() -> None:
    from kubectl_pullsecret.resolve import KIND_ALIASES

    assert {p.rstrip("/") for p in KINDS} <= set(KIND_ALIASES)
    assert {KIND_ALIASES[p.rstrip("/")] for p in KINDS} == set(KIND_ALIASES.values())


def test_restart_kinds() -> None:
    assert answer("fix", "restart", "") == (RESTART_KINDS, NO_FILE_COMP | NO_SPACE)
    assert answer("fix", "restart", "x/y", "") == (set(), NO_FILE_COMP)  # one KIND/NAME only
    assert complete(["fix", "restart", "sa/"]).source is None


@pytest.mark.parametrize(("word", "kind"), [("pod/", "Pod"), ("po/w", "Pod"), ("sa/", "ServiceAccount"),
                                            ("serviceaccount/", "ServiceAccount"), ("secret/", "Secret"),
                                            ("deployment/", "Deployment"), ("deploy.apps/", "Deployment"),
                                            ("cronjob/", "CronJob"), ("dc/", "DeploymentConfig"), ("Pod/", "Pod")])
def test_after_kind_slash_names_of_that_kind(word: str, kind: str) -> None:
    c = complete(["doctor", word])
    assert c.source is not None and c.source.kind == kind
    assert c.prefix == word.split("/")[0] + "/"
    got, directive = finish(c, ["web", "api"])
    assert {g.value for g in got} == {n for n in (c.prefix + "web", c.prefix + "api") if n.startswith(word)}
    assert directive == NO_FILE_COMP


def test_unknown_kind_completes_nothing() -> None:
    c = complete(["doctor", "service/"])
    assert c.source is None and finish(c) == ([], NO_FILE_COMP)


def test_given_targets_are_not_offered_again() -> None:
    c = complete(["doctor", "pod/web", "-o", "json", "pod/"])
    assert answer("doctor", "pod/web", "-o", "json", "pod/", names=["web", "api"]) == ({"pod/api"}, NO_FILE_COMP)
    assert c.exclude == {"pod/web"}


def test_after_double_dash_everything_is_a_target() -> None:
    assert answer("doctor", "--", "-")[0] == set()
    assert answer("doctor", "--", "")[0] == KINDS


def test_link_and_create_secrets() -> None:
    c = complete(["fix", "link", ""])
    assert c.source is not None and c.source.kind == "Secret"
    assert complete(["fix", "link", "regcred", ""]).source is None  # one SECRET
    assert complete(["fix", "create", ""]).source is None  # a new name
    c = complete(["fix", "create", "--overwrite", ""])
    assert c.source is not None and c.source.kind == "Secret"


# --- where names come from -----------------------------------------------------------------------

def test_cluster_flags_before_the_word_choose_the_source() -> None:
    c = complete(["doctor", "--kubeconfig", "/k", "--context=ctx", "-n", "shop", "pod/"])
    assert c.source == Source("Pod", "shop", False, "/k", "ctx")
    c = complete(["doctor", "-A", "sa/"])
    assert c.source == Source("ServiceAccount", None, True)
    c = complete(["doctor", "-Ay", "sa/"])  # bundled
    assert c.source is not None and c.source.all_namespaces
    c = complete(["doctor", "-nshop", "--kubeconfig=/k", "secret/"])
    assert c.source == Source("Secret", "shop", False, "/k")
    c = complete(["doctor", "-n=shop", "secret/"])
    assert c.source is not None and c.source.namespace == "shop"
    c = complete(["doctor", "-f", "a.yaml", "--filename=b", "pod/"])
    assert c.source is not None and c.source.files == ("a.yaml", "b")


def test_grant_sa_is_of_the_from_namespace() -> None:
    c = complete(["fix", "grant", "-n", "images", "--from-namespace", "apps", "--sa", ""])
    assert c.source is not None and (c.source.kind, c.source.namespace) == ("ServiceAccount", "apps")
    c = complete(["fix", "grant", "-n", "images", "--sa", ""])
    assert c.source is not None and c.source.namespace == "images"


def test_parse_words() -> None:
    _, commands = cli.build_parser()
    state = parse_words(commands["doctor"], ["pod/a", "-n", "x", "--image=i", "--image", "j", "-Av", "3", "pod/b"])
    assert state.positionals == ["pod/a", "pod/b"]
    assert state.values["namespace"] == "x" and state.values["verbosity"] == "3"
    assert state.lists["image"] == ["i", "j"]
    assert "all_namespaces" in state.values
    assert state.pending is None
    state = parse_words(commands["doctor"], ["--context"])
    assert state.pending is not None and state.pending.dest == "context"


def test_contexts_from_the_kubeconfig_list(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a = tmp_path / "a"
    b = tmp_path / "b"
    a.write_text("contexts:\n- name: one\n  context: {cluster: c}\n- name: two\n")
    b.write_text("contexts:\n- name: two\n- name: three\n")
    monkeypatch.setenv("KUBECONFIG", f"{a}:{tmp_path / 'missing'}:{b}")
    assert comp.kubeconfig_contexts(None) == ["one", "two", "three"]
    assert comp.kubeconfig_contexts(str(b)) == ["two", "three"]
    assert comp.lookup(Source(CONTEXTS)) == ["one", "two", "three"]
    (tmp_path / "empty").write_text("")
    assert comp.kubeconfig_contexts(str(tmp_path / "empty")) == []


def test_names_from_offline_files(tmp_path: Path) -> None:
    (tmp_path / "objs.yaml").write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: shop}\nspec: {containers: []}\n---\n"
        "apiVersion: v1\nkind: Pod\nmetadata: {name: db, namespace: other}\nspec: {containers: []}\n")
    f = str(tmp_path / "objs.yaml")
    assert comp.lookup(Source("Pod", files=(f,))) == ["db", "web"]
    assert comp.lookup(Source("Pod", "shop", files=(f,))) == ["web"]
    assert comp.lookup(Source("Pod", files=("-",))) == []


# --- lookups: deadline and failures ----------------------------------------------------------------

def test_lookup_gives_up_at_the_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    def slow(source: Source, timeout: float) -> list[str]:
        time.sleep(5)
        return ["late"]

    monkeypatch.setattr(comp, "cluster_names", slow)
    started = time.perf_counter()
    with pytest.raises(TimeoutError):
        comp.lookup(Source("Pod"), deadline=0.2)
    assert time.perf_counter() - started < 1


def test_lookup_passes_errors_on(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(source: Source, timeout: float) -> list[str]:
        raise PermissionError("forbidden")

    monkeypatch.setattr(comp, "cluster_names", broken)
    with pytest.raises(PermissionError):
        comp.lookup(Source("Pod"))


def run_main(*words: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = comp.main(list(words))
    return code, out.getvalue(), err.getvalue()


def test_main_without_a_kubeconfig_answers_only_the_directive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(comp.DEBUG_ENV, raising=False)
    assert run_main("doctor", "pod/") == (0, ":4\n", "")
    assert run_main("doctor", "-n", "") == (0, ":4\n", "")


def test_main_debug_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(comp.DEBUG_ENV, "1")
    code, out, err = run_main("doctor", "pod/")
    assert (code, out) == (0, ":4\n")
    assert len(err.splitlines()) == 1 and err.startswith("kubectl_complete-pullsecret: SourceError: ")


def test_main_never_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(words: object) -> Completion:
        raise RuntimeError("bug")

    monkeypatch.delenv(comp.DEBUG_ENV, raising=False)
    monkeypatch.setattr(comp, "complete", boom)
    assert run_main("doctor", "") == (0, ":4\n", "")


def test_main_output_format() -> None:
    code, out, _ = run_main("doctor", "--fail-on", "")
    assert code == 0
    assert out == "error\nwarning\nnever\n:4\n"
    code, out, _ = run_main("")
    assert out.splitlines()[-1] == ":4"
    assert all(line.count("\t") == 1 for line in out.splitlines()[:-1])


def test_render() -> None:
    assert render([Candidate("a", "first\tone"), Candidate("b")], 6) == "a\tfirst one\nb\n:6\n"
    assert render([], 0) == ":0\n"


def test_flag_completion_does_not_import_kubernetes() -> None:
    code = ("import sys; from kubectl_pullsecret import complete as c; c.main(['doctor', '-n', 'x', '--']); "
            "c.main(['doctor', 'p']); c.main(['fix', '']); assert 'kubernetes' not in sys.modules, 'kubernetes imported'; "
            "c.main(['doctor', '--checks', '']); assert 'kubernetes' not in sys.modules")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60,
                          check=False)
    assert proc.returncode == 0, proc.stderr


def test_script_entry_point_is_declared() -> None:
    text = (REPO / "pyproject.toml").read_text()
    assert '"kubectl_complete-pullsecret" = "kubectl_pullsecret.complete:main"' in text
    launcher = REPO / "bin" / "kubectl_complete-pullsecret"
    assert launcher.is_file() and launcher.stat().st_mode & 0o111
