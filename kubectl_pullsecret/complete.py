"""Shell completion: `kubectl_complete-pullsecret`, run by kubectl (>= 1.26) to complete
`kubectl pullsecret ...`.

kubectl finds this program on PATH next to `kubectl-pullsecret` and runs it with the
words after `pullsecret`, the last one being the word under the cursor (possibly "").
It answers in cobra's `__complete` protocol: one candidate per line (`value<TAB>
description`), then `:<directive>`.

Everything is derived from the real argparse parsers of cli.py (commands, flags, which
flags take a value, choices, help), the check catalogue (--checks/--skip) and the
target parser of resolve.py (KIND/ prefixes). Names (namespaces, pods, service
accounts, secrets, workloads, nodes) come from the cluster through kube.Cluster, read
under a short deadline; any failure means no candidates, never an error or a traceback.

Fast by design: `kubernetes` is imported only when cluster names are needed, the check
catalogue only for --checks/--skip.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from kubectl_pullsecret import cli

# cobra's ShellCompDirective bits.
DEFAULT = 0  # the shell may complete file names
ERROR = 1
NO_SPACE = 2
NO_FILE_COMP = 4
FILTER_FILE_EXT = 8
FILTER_DIRS = 16
KEEP_ORDER = 32

CONTEXTS = "contexts"  # a Source kind: context names of the kubeconfig, not a cluster read
DEBUG_ENV = "KUBECTL_PULLSECRET_COMPLETE_DEBUG"
TIMEOUT_ENV = "KUBECTL_PULLSECRET_COMPLETE_TIMEOUT"
DEADLINE = 4.0  # seconds for a whole cluster lookup (connect, auth plugin, every page)
REQUEST_TIMEOUT = 3.0  # per API request

# Value flags whose values are names read from the cluster or the kubeconfig, by dest;
# metavar NS (namespaces), PATH/FILE (files) and DIR (directories) are recognised as such.
_NAME_SOURCES = {"context": CONTEXTS, "sa": "ServiceAccount", "link": "ServiceAccount", "node": "Node"}
_FILE_METAVARS = frozenset({"PATH", "FILE"})


@dataclass(frozen=True)
class Candidate:
    value: str
    description: str = ""
    no_space: bool = False  # the word goes on (pod/, a check list): no space after it


@dataclass(frozen=True)
class Source:
    """Names to read: a kube.RESOURCES kind (or CONTEXTS), where, and with which kubeconfig."""

    kind: str
    namespace: str | None = None  # None: the context's namespace, else default
    all_namespaces: bool = False
    kubeconfig: str | None = None
    context: str | None = None
    files: tuple[str, ...] = ()  # doctor -f: names from these files, not from the cluster


@dataclass
class Completion:
    """What to answer: static candidates, and maybe names to read (each as prefix + name)."""

    word: str  # what a candidate must start with
    candidates: list[Candidate] = field(default_factory=list)
    directive: int = NO_FILE_COMP
    source: Source | None = None
    prefix: str = ""
    exclude: frozenset[str] = frozenset()
    no_space: bool = False  # for the names read from the source


# --- the parsers, as data -------------------------------------------------------------

def _short(text: str | None) -> str:
    """A help text's gist, for the description column: its first sentence, without the
    parenthesised or semicolon-separated details."""
    if not text or text == argparse.SUPPRESS:
        return ""
    text = " ".join(text.replace("%%", "%").split())
    while True:  # parenthesised details go, innermost first
        shorter = re.sub(r" ?\([^()]*\)", "", text)
        if shorter == text:
            break
        text = shorter
    text = re.split(r"(?<=[a-z0-9])\. ", text, maxsplit=1)[0]
    return text.split("; ", 1)[0].rstrip(" .:;,")


def _takes(action: argparse.Action) -> str:
    """'none', 'one' or 'optional': whether a flag takes a value."""
    if action.nargs == 0:
        return "none"
    if action.nargs == "?":
        return "optional"
    return "one"


def _repeatable(action: argparse.Action) -> bool:
    return isinstance(action, (argparse._AppendAction, argparse._CountAction, argparse._ExtendAction))


def _flags(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in parser._actions if a.option_strings and a.help != argparse.SUPPRESS]


def _positionals(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in parser._actions
            if not a.option_strings and not isinstance(a, argparse._SubParsersAction)]


def _find_flag(parser: argparse.ArgumentParser, name: str) -> argparse.Action | None:
    """The action of an option string, or of a unique abbreviation of a long one (argparse
    accepts those)."""
    exact = parser._option_string_actions.get(name)
    if exact is not None:
        return exact
    if not name.startswith("--") or not parser.allow_abbrev:
        return None
    found = {id(a): a for s, a in parser._option_string_actions.items() if s.startswith("--") and s.startswith(name)}
    return next(iter(found.values())) if len(found) == 1 else None


def _command_descriptions(commands: dict[str, argparse.ArgumentParser]) -> dict[str, str]:
    """One line per command word sequence ("doctor", "fix link", "fix global"), from the
    `commands:` section of the top-level help; a command missing there gets the first
    sentence of its parser's description."""
    keys = [tuple(k.split()) for k in commands]
    prefixes = {k[:i] for k in keys for i in range(1, len(k) + 1)}
    out: dict[str, str] = {}
    section = cli.DESCRIPTION.split("commands:\n", 1)[-1].split("\n\n", 1)[0]
    for line in section.splitlines():
        tokens = line.split()
        n = 0
        while n < len(tokens) and tuple(tokens[:n + 1]) in prefixes:
            n += 1
        if n == 0:
            continue
        rest = tokens[n:]
        while rest and ("|" in rest[0] or not any(c.islower() for c in rest[0])):
            rest = rest[1:]  # the usage part: [TARGET ...], SECRET, KIND/NAME, set|remove
        out.setdefault(" ".join(tokens[:n]), _short(" ".join(rest)))
    for key, parser in commands.items():
        out.setdefault(key, _short(parser.description))
    return out


# --- targets (resolve.py parses them) ----------------------------------------------------

def _kind_aliases() -> dict[str, list[str]]:
    """Kind -> its accepted spellings, the documented one (cli's TARGET list) first."""
    from kubectl_pullsecret.resolve import KIND_ALIASES

    documented = re.findall(r"\b([a-z]+)/NAME\b", cli.DESCRIPTION)
    by_kind: dict[str, list[str]] = {}
    for alias, kind in KIND_ALIASES.items():
        by_kind.setdefault(kind, []).append(alias)
    # A stable sort: the documented spelling first, the others in resolve.py's order.
    return {kind: sorted(aliases, key=lambda a: a not in documented) for kind, aliases in by_kind.items()}


def _target_kinds(metavar: str | None) -> tuple[str, ...]:
    from kubectl_pullsecret.resolve import KIND_ALIASES, WORKLOAD_KINDS

    if metavar == "KIND/NAME":  # fix restart: a pod or a workload
        return ("Pod", *WORKLOAD_KINDS)
    return tuple(dict.fromkeys(KIND_ALIASES.values()))


def target_completion(word: str, kinds: Sequence[str], given: Iterable[str], ctx: Source) -> Completion:
    """KIND/ prefixes (no space after them), or, after KIND/, the names of that kind."""
    from kubectl_pullsecret.resolve import KIND_ALIASES

    if "/" not in word:
        aliases = _kind_aliases()
        out: list[Candidate] = []
        for kind in kinds:
            spellings = aliases.get(kind, [])
            match = next((a for a in spellings if a.startswith(word)), None)  # the documented one first
            if match is not None:
                out.append(Candidate(f"{match}/", kind, no_space=True))
        return Completion(word, out)
    kind_text = word.split("/", 1)[0]
    named = KIND_ALIASES.get(kind_text.split(".", 1)[0].lower())
    if named is None or named not in kinds:
        return Completion(word)
    return Completion(word, source=_at(ctx, named), prefix=f"{kind_text}/", exclude=frozenset(given))


def _at(ctx: Source, kind: str) -> Source:
    return Source(kind, ctx.namespace, ctx.all_namespaces, ctx.kubeconfig, ctx.context, ctx.files)


# --- check ids (--checks, --skip) ----------------------------------------------------------

def check_ids() -> list[tuple[str, str]]:
    """(id, description) of every check, as `doctor --list-checks` lists them."""
    from kubectl_pullsecret import checks

    return [(cid, c.description) for cid, c in checks.CHECKS.items()]


def comma_list_completion(value: str, items: Sequence[tuple[str, str]]) -> Completion:
    """`a,b,c<TAB>`: the item being typed is the part after the last comma; candidates
    carry what is before it, and leave out the items already in the list."""
    head, _, _ = value.rpartition(",")
    head = f"{head}," if "," in value else ""
    listed = {p.strip() for p in head.split(",") if p.strip()}
    return Completion(value, [Candidate(head + item, _short(desc), no_space=True)
                              for item, desc in items if item not in listed])


# --- the words before the one being completed ----------------------------------------------

@dataclass
class Parsed:
    """What the words after the command words say: flags given (their values), positionals."""

    values: dict[str, str] = field(default_factory=dict)  # dest -> last value
    lists: dict[str, list[str]] = field(default_factory=dict)  # dest -> every value (repeatable flags)
    seen: list[argparse.Action] = field(default_factory=list)
    positionals: list[str] = field(default_factory=list)
    pending: argparse.Action | None = None  # the last word is a flag waiting for its value
    pending_optional: bool = False
    after_dashes: bool = False

    def given(self, action: argparse.Action) -> bool:
        return any(a is action for a in self.seen)


def parse_words(parser: argparse.ArgumentParser, words: Sequence[str]) -> Parsed:
    """Read flags the way argparse does: `--flag value`, `--flag=value`, unique
    abbreviations, `-nVALUE`, `-n=VALUE`, bundled short flags (`-Ay`), `--` ending flags."""
    state = Parsed()
    i = 0

    def note(action: argparse.Action, value: str | None) -> None:
        state.seen.append(action)
        if value is not None:
            state.values[action.dest] = value
            state.lists.setdefault(action.dest, []).append(value)
        elif action.nargs == 0 and action.const is not None:
            state.values[action.dest] = str(action.const)

    while i < len(words):
        word = words[i]
        i += 1
        state.pending = None
        if state.after_dashes or word == "-" or not word.startswith("-") or _negative_number(word):
            state.positionals.append(word)
            continue
        if word == "--":
            state.after_dashes = True
            continue
        action: argparse.Action | None
        if word.startswith("--"):
            name, eq, value = word.partition("=")
            action = _find_flag(parser, name)
            if action is not None and eq:
                note(action, value)
                continue
        else:
            action = parser._option_string_actions.get(word[:2])
            rest = word[2:]
            if action is not None and rest.startswith("="):  # -n=VALUE
                note(action, rest[1:])
                continue
            while action is not None and rest:
                if _takes(action) != "none":  # -nVALUE
                    note(action, rest)
                    action = None
                    break
                note(action, None)  # -Ay: bundled flags without values
                action, rest = parser._option_string_actions.get("-" + rest[0]), rest[1:]
        if action is None:
            continue
        takes = _takes(action)
        if takes == "none":
            note(action, None)
        elif i < len(words) and (takes == "one" or not words[i].startswith("-")):
            note(action, words[i])
            i += 1
        else:
            note(action, None)
            state.pending, state.pending_optional = action, takes == "optional"
    return state


def _negative_number(word: str) -> bool:
    return re.fullmatch(r"-\d+(\.\d*)?", word) is not None


# --- completing ---------------------------------------------------------------------------

def complete(words: Sequence[str]) -> Completion:
    """The answer for `kubectl pullsecret WORDS`, the last word being completed (pure:
    names from the cluster are left to `lookup`, as `Completion.source`)."""
    *done, word = list(words) or [""]
    top, commands = cli.build_parser()
    keys = [tuple(k.split()) for k in commands]
    n = 0
    while n < len(done) and any(k[:n + 1] == tuple(done[:n + 1]) for k in keys):
        n += 1
    longest = max((k for k in keys if k == tuple(done[:len(k)])), key=len, default=None)
    following = [k[n] for k in keys if len(k) > n and k[:n] == tuple(done[:n])]
    descriptions = _command_descriptions(commands)
    if n == len(done) and following:
        # More command words may follow: the next one (with the command's own completion,
        # if these words are a command already: `fix` takes targets too).
        words_here = [Candidate(w, descriptions.get(" ".join([*done, w]), "")) for w in dict.fromkeys(following)]
        if longest is None or len(longest) < n:
            if not done and word.startswith("-"):
                return _flag_completion(top, Parsed(), word)
            return Completion(word, words_here)
        own = _command_completion(" ".join(done), commands[" ".join(done)], [], word)
        if word.startswith("-"):
            return own
        own.candidates[:0] = words_here
        return own
    if longest is None or len(longest) < n:
        return Completion(word)  # an unknown command, or `fix global` without set|remove
    command = " ".join(longest)
    return _command_completion(command, commands[command], done[len(longest):], word)


def _command_completion(command: str, parser: argparse.ArgumentParser, rest: Sequence[str], word: str) -> Completion:
    state = parse_words(parser, rest)
    ctx = Source("", state.values.get("namespace"), "all_namespaces" in state.values, state.values.get("kubeconfig"),
                 state.values.get("context"), tuple(state.lists.get("filename", ())))
    if state.pending is not None and not (state.pending_optional and word.startswith("-")):
        return value_completion(command, state.pending, word, state, ctx)
    if word.startswith("-") and not state.after_dashes:
        if "=" in word:
            name, _, value = word.partition("=")
            action = _find_flag(parser, name)
            if action is None or _takes(action) == "none":
                return Completion(value)
            # cobra's convention: only the value; the shell scripts put `--flag=` back.
            return value_completion(command, action, value, state, ctx)
        if not word.startswith("--") and len(word) > 2:
            action = parser._option_string_actions.get(word[:2])
            if action is not None and _takes(action) != "none":
                got = value_completion(command, action, word[2:], state, ctx)
                return _prefixed(got, word[:2])
        return _flag_completion(parser, state, word)
    return positional_completion(command, parser, state, word, ctx)


def _prefixed(got: Completion, prefix: str) -> Completion:
    """`-nsh<TAB>`: the value completion with the flag in front of every candidate."""
    return Completion(prefix + got.word, [Candidate(prefix + c.value, c.description, c.no_space)
                                          for c in got.candidates], got.directive, got.source,
                      prefix + got.prefix, frozenset(prefix + e for e in got.exclude), got.no_space)


def _flag_completion(parser: argparse.ArgumentParser, state: Parsed, word: str) -> Completion:
    """Every flag of the command not given yet (unless repeatable), nor excluded by one given."""
    excluded: set[int] = set()
    for group in parser._mutually_exclusive_groups:
        if any(state.given(a) for a in group._group_actions):
            excluded.update(id(a) for a in group._group_actions)
    out: list[Candidate] = []
    for action in _flags(parser):
        if (state.given(action) and not _repeatable(action)) or (id(action) in excluded and not state.given(action)):
            continue
        description = _short(action.help) or ("|".join(map(str, action.choices)) if action.choices else "")
        out.extend(Candidate(s, description) for s in action.option_strings)
    return Completion(word, out)


def value_completion(command: str, action: argparse.Action, value: str, state: Parsed, ctx: Source) -> Completion:
    """The value of a flag: its choices, check ids, file or directory names, or names from
    the cluster or kubeconfig; no candidates otherwise."""
    metavar = action.metavar if isinstance(action.metavar, str) else None
    if action.choices:
        return Completion(value, [Candidate(str(c)) for c in action.choices])
    if metavar and "|" in metavar:  # --for pull|mount|pull,mount
        return Completion(value, [Candidate(c) for c in metavar.split("|")])
    if metavar and metavar.endswith(",..."):  # --checks, --skip: comma-separated check ids
        return comma_list_completion(value, check_ids() if metavar.startswith("ID") else [])
    if metavar in _FILE_METAVARS:
        return Completion(value, directive=DEFAULT)
    if metavar == "DIR":
        return Completion(value, directive=FILTER_DIRS)
    kind = "Namespace" if metavar == "NS" else _NAME_SOURCES.get(action.dest)
    if kind is None:
        return Completion(value)
    if kind == "ServiceAccount" and command == "fix grant" and state.values.get("from_namespace"):
        ctx = Source("", state.values["from_namespace"], False, ctx.kubeconfig, ctx.context, ctx.files)
    return Completion(value, source=_at(ctx, kind))


def positional_completion(command: str, parser: argparse.ArgumentParser, state: Parsed, word: str,
                          ctx: Source) -> Completion:
    """TARGETs (KIND/NAME), fix link's SECRET, fix restart's KIND/NAME."""
    slots: list[argparse.Action] = []
    for action in _positionals(parser):
        if action.nargs in ("*", "+", argparse.REMAINDER):
            slots.extend([action] * (len(state.positionals) + 1))
            break
        slots.extend([action] * (action.nargs if isinstance(action.nargs, int) else 1))
    index = len(state.positionals)
    if index >= len(slots):
        return Completion(word)
    action = slots[index]
    metavar = action.metavar if isinstance(action.metavar, str) else None
    if metavar in ("TARGET", "KIND/NAME"):
        return target_completion(word, _target_kinds(metavar), state.positionals, ctx)
    if metavar == "SECRET":
        # fix create names a new secret: existing ones only make sense with --overwrite.
        if command == "fix create" and "overwrite" not in {a.dest for a in state.seen}:
            return Completion(word)
        return Completion(word, source=_at(ctx, "Secret"))
    return Completion(word)


# --- names from the cluster and the kubeconfig ---------------------------------------------

def kubeconfig_contexts(kubeconfig: str | None) -> list[str]:
    """Context names of the kubeconfig (--kubeconfig, else the $KUBECONFIG list, else
    ~/.kube/config), merged in file order as kubectl does."""
    import yaml

    paths = kubeconfig or os.environ.get("KUBECONFIG") or os.path.expanduser("~/.kube/config")
    names: list[str] = []
    for path in (paths.split(os.pathsep) if not kubeconfig else [kubeconfig]):
        path = os.path.expanduser(path)
        if not path or not os.path.isfile(path):
            continue
        with open(path, encoding="utf-8") as fh:
            doc = yaml.safe_load(fh)
        for ctx in (doc or {}).get("contexts") or [] if isinstance(doc, dict) else []:
            if isinstance(ctx, dict) and isinstance(ctx.get("name"), str) and ctx["name"] not in names:
                names.append(ctx["name"])
    return names


def cluster_names(source: Source, timeout: float) -> list[str]:
    """Names of the objects of source.kind, read with kube.Cluster (per-request timeout)."""
    from kubectl_pullsecret.kube import RESOURCES, Cluster, ClusterOptions
    from kubectl_pullsecret.snapshot import Denied

    cluster = Cluster.connect(ClusterOptions(source.kubeconfig, source.context, timeout))
    res = RESOURCES[source.kind]
    namespace = None
    if res.namespaced and not source.all_namespaces:
        namespace = source.namespace or cluster.namespace or "default"
    got = cluster.list(source.kind, namespace)
    if isinstance(got, Denied):
        raise PermissionError(f"cannot list {res.describe(namespace)}: {got.reason}")
    names = (str((obj.get("metadata") or {}).get("name") or "") for obj in got)
    return sorted({n for n in names if n})


def file_names(source: Source) -> list[str]:
    """Names of the objects of source.kind in doctor's -f input (stdin is not read)."""
    from kubectl_pullsecret.snapshot import load_files

    paths = [p for p in source.files if p != "-"]
    if not paths:
        return []
    snapshot = load_files(paths)
    names = (((obj.get("metadata") or {}).get("namespace"), (obj.get("metadata") or {}).get("name"))
             for obj in snapshot.of(source.kind))
    return sorted({str(n) for ns, n in names if n and (source.namespace is None or ns in (None, source.namespace))})


def lookup(source: Source, deadline: float = DEADLINE) -> list[str]:
    """The names a Source stands for, within `deadline` seconds overall (the read runs in
    a daemon thread that is abandoned when late). Raises on any failure."""
    if source.kind == CONTEXTS:
        return kubeconfig_contexts(source.kubeconfig)
    box: dict[str, list[str]] = {}
    failed: list[BaseException] = []

    def run() -> None:
        import warnings

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # urllib3's InsecureRequestWarning and the like
                if source.files:
                    box["names"] = file_names(source)
                else:
                    box["names"] = cluster_names(source, min(REQUEST_TIMEOUT, deadline))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller, never raised in this thread
            failed.append(exc)

    worker = threading.Thread(target=run, name="complete-lookup", daemon=True)
    worker.start()
    worker.join(deadline)
    if failed:
        error = failed[0]
        raise error if isinstance(error, Exception) else RuntimeError(repr(error))
    if "names" not in box:
        raise TimeoutError(f"no answer within {deadline:g} s")
    return box["names"]


# --- the answer --------------------------------------------------------------------------

def finish(completion: Completion, names: Iterable[str] = ()) -> tuple[list[Candidate], int]:
    """The candidates that start with the word (the names with their prefix added, the
    excluded left out, duplicates dropped) and the directive (NoSpace when one of them
    continues the word)."""
    everything = list(completion.candidates)
    everything += [Candidate(completion.prefix + n, "", completion.no_space) for n in names]
    out: list[Candidate] = []
    seen: set[str] = set()
    for c in everything:
        if c.value.startswith(completion.word) and c.value not in completion.exclude and c.value not in seen:
            seen.add(c.value)
            out.append(c)
    directive = completion.directive
    if any(c.no_space for c in out):
        directive |= NO_SPACE
    return out, directive


def render(candidates: Iterable[Candidate], directive: int) -> str:
    lines = []
    for c in candidates:
        value = " ".join(c.value.split("\n"))
        description = " ".join(c.description.split())
        lines.append(f"{value}\t{description}" if description else value)
    lines.append(f":{directive}")
    return "\n".join(lines) + "\n"


def _deadline() -> float:
    try:
        value = float(os.environ.get(TIMEOUT_ENV, DEADLINE))
    except ValueError:
        return DEADLINE
    return min(max(value, 0.1), 5.0)


def main(argv: Sequence[str] | None = None) -> int:
    """`kubectl_complete-pullsecret WORD... CURRENT`: always exit 0; on any failure only
    `:4` (no candidates, no file names); a one-line reason on stderr with
    KUBECTL_PULLSECRET_COMPLETE_DEBUG set."""
    words = list(sys.argv[1:] if argv is None else argv)
    try:
        completion = complete(words)
        names = lookup(completion.source, _deadline()) if completion.source is not None else []
        text = render(*finish(completion, names))
    except Exception as exc:  # noqa: BLE001 - completion never fails loudly
        if os.environ.get(DEBUG_ENV):
            from kubectl_pullsecret import redact

            sys.stderr.write(redact.scrub(f"kubectl_complete-pullsecret: {type(exc).__name__}: "
                                          f"{' '.join(str(exc).split())[:300]}") + "\n")
        text = render([], NO_FILE_COMP)
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except (BrokenPipeError, OSError):
        pass
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
