"""`fix [TARGET ...]`: run doctor on the target and offer each finding's fix, in
dependency order (create, link, grant, global, restart), y/N each on a terminal,
all with --yes, only the plan otherwise. The fixes are the very commands doctor
prints: each is parsed with the CLI's own parser and run by its own module, so what
is shown is what is applied.

A fix can uncover the next one (linking a secret leaves the existing pods to be
recreated): after applying, doctor runs again and new fixes are offered, for a few
rounds at most."""

from __future__ import annotations

import argparse
import shlex
from collections.abc import Sequence
from dataclasses import replace

from kubectl_pullsecret.checks.base import PLACEHOLDERS
from kubectl_pullsecret.errors import FixError, PullsecretError, SourceError, UsageError
from kubectl_pullsecret.findings import Finding, Report, Severity
from kubectl_pullsecret.fixes import prompt
from kubectl_pullsecret.fixes.model import FixResult, Step
from kubectl_pullsecret.fixes.session import Session

ORDER = {"create": 0, "link": 1, "grant": 2, "global": 3, "restart": 4}
MAX_ROUNDS = 3


def _doctor(session: Session, args: argparse.Namespace) -> Report:
    from kubectl_pullsecret import doctor

    report = doctor.run(session.opts.doctor_options(targets=args.targets, namespace=session.opts.namespace,
                                                    all_namespaces=args.all_namespaces, selector=args.selector))
    if not report.diagnosed:
        raise SourceError("the pods (or targets) could not be read, so nothing was diagnosed: run doctor to see "
                          "the permission-denied findings")
    return report


def _line(f: Finding) -> str:
    where = f" ({f.object.namespace})" if f.object.namespace else ""
    container = f" container {f.container}" if f.container else ""
    return f"{f.severity.label} {f.check} {f.object.short}{container}{where}"


def offers(report: Report, seen: set[str]) -> tuple[list[tuple[str, list[Finding]]], list[tuple[str, list[Finding]]]]:
    """New fix commands in dependency order with the findings they answer, and the
    manual fixes (no command: the first equivalent step)."""
    commands: dict[str, list[Finding]] = {}
    manual: dict[str, list[Finding]] = {}
    for f in report.findings:
        if f.fix is None:
            continue
        if f.fix.command:
            if f.fix.command not in seen:
                commands.setdefault(f.fix.command, []).append(f)
        elif f.fix.equivalent and f.severity >= Severity.WARNING:
            key = "\n".join(f.fix.equivalent)
            if key not in seen:
                manual.setdefault(key, []).append(f)
    order = {c: i for i, c in enumerate(commands)}
    ranked = sorted(commands.items(), key=lambda kv: (ORDER.get(_verb(kv[0]), 9), order[kv[0]]))
    return ranked, list(manual.items())


def _verb(command: str) -> str:
    words = command.split()
    return words[3] if len(words) > 3 and words[:3] == ["kubectl", "pullsecret", "fix"] else ""


def parse(command: str) -> argparse.Namespace:
    """A `kubectl pullsecret fix ...` line as the CLI would parse it."""
    from kubectl_pullsecret import cli

    words = shlex.split(command)
    if words[:3] != ["kubectl", "pullsecret", "fix"]:
        raise UsageError(f"not a fix command: {command}")
    _, parsers = cli.build_parser()
    found = cli._command_words(words[2:], parsers)
    if found is None or found[0] == "fix":
        raise UsageError(f"not a fix command: {command}")
    args = parsers[found[0]].parse_intermixed_args(found[1])
    args.command = found[0]
    return args


def _missing_input(args: argparse.Namespace) -> list[str]:
    """What the user must supply before this fix can run."""
    need: list[str] = []
    if args.command == "fix create":
        if args.from_file in PLACEHOLDERS:
            need.append("the credential file (--from-file)")
        if args.docker_server in PLACEHOLDERS:
            need.append("the registry (--docker-server)")
        if args.docker_username in PLACEHOLDERS:
            need.append("the username")
        if args.docker_password_stdin:
            need.append("the password")
    elif args.command == "fix global set":
        if args.username in PLACEHOLDERS:
            need.append("the username")
        need.append("the password")
    return need


def _ask(session: Session, question: str, secret: bool) -> str:
    return prompt.ask(session.stdin, session.prompt_out, question, hidden=secret)


def _supply(session: Session, args: argparse.Namespace, need: Sequence[str]) -> bool:
    """On a terminal, ask for the username and password a fix needs; False when the fix
    needs something that cannot be asked (a file, a registry)."""
    if not session.interactive or any(n.startswith(("the credential file", "the registry")) for n in need):
        return False
    if args.command == "fix create":
        if args.docker_username in PLACEHOLDERS:
            args.docker_username = _ask(session, f"username for {args.docker_server}: ", False)
        args.docker_password = _ask(session, f"password for {args.docker_username} at {args.docker_server}: ", True)
        args.docker_password_stdin = False
        return bool(args.docker_username and args.docker_password)
    if args.username in PLACEHOLDERS:
        args.username = _ask(session, f"username for {args.registry}: ", False)
    args.password_stdin = False  # fix global set asks for it on the terminal, unechoed
    return bool(args.username)


def _apply(session: Session, args: argparse.Namespace, step: Step, result: FixResult) -> None:
    from kubectl_pullsecret.fixes import commands

    # The user said yes to this fix: the fix's own y/N (a bare pod, the global secret) is answered.
    sub = Session(replace(session.opts, namespace=args.namespace or session.opts.namespace, yes=True),
                  session.stdin, session.prompt_out, session.interactive, recheck_off=True,
                  _cluster=session._cluster)
    try:
        done = commands.run(sub, args)
    except (FixError, UsageError) as exc:
        step.status, step.detail = "failed", str(exc)
        result.failed = True
        return
    step.outcomes = done.outcomes
    result.outcomes.extend(done.outcomes)
    result.warnings.extend(done.warnings)
    result.notes.extend(done.notes)
    if done.failed:
        step.status = "failed"
        step.detail = next((o.detail for o in done.outcomes if o.action == "failed"), "")
        result.failed = True
    elif session.opts.dry_run != "none":
        step.status = "dry-run"
    else:
        step.status = "applied" if done.changed else "unchanged"


def run(session: Session, args: argparse.Namespace) -> FixResult:
    o = session.opts
    what = " ".join(args.targets) or "every pod"
    where = "every namespace" if args.all_namespaces else f"namespace {session.namespace}"
    result = FixResult(f"fix {what} in {where}", o.dry_run)
    seen: set[str] = set()
    report = _doctor(session, args)
    fresh: Report | None = None  # a diagnosis made after the last fix applied
    attempted: set[str] = set()
    for _ in range(MAX_ROUNDS):
        ranked, manual = offers(report, seen)
        for key, found in manual:
            seen.add(key)
            result.steps.append(Step(key.split("\n")[0], "manual", tuple(_line(f) for f in found),
                                     "no fix command: do it by hand" + (
                                         f" ({len(key.splitlines())} steps)" if "\n" in key else "")))
        if not ranked:
            break
        applied = False
        for command, found in ranked:
            seen.add(command)
            step = Step(command, "planned", tuple(_line(f) for f in found))
            result.steps.append(step)
            try:
                args_ = parse(command)
            except PullsecretError as exc:
                step.status, step.detail = "failed", f"cannot run it: {exc}"
                continue
            need = _missing_input(args_)
            left_to_user = f"run it yourself: it needs {', '.join(need)}"
            if need and (o.dry_run != "none" or not session.interactive):
                step.status, step.detail = "needs-input", left_to_user
                continue
            question = f"\n{command}\n  for: " + "\n       ".join(step.findings) + "\nApply this fix?"
            if not session.confirm(question):
                step.status = "declined" if session.interactive else "planned"
                if not session.interactive:
                    result.planned_only = True
                continue
            if need and not _supply(session, args_, need):
                step.status, step.detail = "needs-input", left_to_user
                continue
            attempted.add(command)
            fresh = None
            _apply(session, args_, step, result)
            applied = applied or step.status == "applied"
            if result.failed:
                break
        if result.failed or not applied or o.dry_run != "none":
            break
        report = fresh = _doctor(session, args)
    # A fix declined, or left to the user (it needs a password, a file), leaves its problem in place.
    if o.dry_run == "none":
        result.remaining += sum(1 for step in result.steps if step.status in ("needs-input", "declined"))
    if attempted and o.dry_run == "none" and not result.failed:
        final = fresh or _doctor(session, args)  # the last round's diagnosis, when nothing was applied since
        result.recheck = final
        result.recheck_scope = f"{what} in {where}"
        result.remaining += sum(1 for f in final.findings if f.severity >= Severity.ERROR
                               or (f.severity >= Severity.WARNING and f.fix is not None
                                   and f.fix.command in attempted))
    restarted = any(s.status == "applied" and _verb(s.command) == "restart" for s in result.steps)
    if restarted and result.remaining and o.wait is None:
        result.notes.append("pods of a restarted workload are replaced by its controller over the next minutes: "
                            "until then the re-check still finds them; run again with --wait 5m to wait for them")
    return result
