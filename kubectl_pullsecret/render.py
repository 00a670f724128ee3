"""Rendering reports: table (default), wide, json, yaml, markdown. Decides nothing.

Every string leaves through `redact.scrub`, so a secret value can never be printed
even if a message were to carry one by mistake.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable, Sequence

from tabulate import tabulate

from kubectl_pullsecret import redact
from kubectl_pullsecret.findings import Finding, ImageReport, Report
from kubectl_pullsecret.fixes.model import FixResult, Outcome

WIDTH = 100
FORMATS = ("table", "wide", "json", "yaml", "markdown")


def _cell(text: str | None) -> str:
    return text if text else "-"


def _fit(rows: list[list[str]], headers: list[str], shrinkable: Sequence[int], width: int = WIDTH) -> list[list[str]]:
    """Truncate the shrinkable columns (widest first) until the plain table fits."""
    sep = 2

    def widths() -> list[int]:
        return [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]

    while True:
        w = widths()
        total = sum(w) + sep * (len(w) - 1)
        if total <= width:
            return rows
        col = max(shrinkable, key=lambda i: w[i])
        limit = max(w[col] - (total - width), len(headers[col]), 8)
        if limit >= w[col]:
            return rows  # cannot shrink further
        rows = [[(c if i != col or len(c) <= limit else c[: limit - 1] + "…") for i, c in enumerate(r)]
                for r in rows]


def _plain(headers: list[str], rows: list[list[str]]) -> str:
    """kubectl-style columns: left-aligned, two spaces apart, no trailing blanks."""
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip()
                     for line in [headers, *rows])


def _finding_rows(findings: Sequence[Finding]) -> tuple[list[str], list[list[str]]]:
    headers = ["#", "SEVERITY", "CHECK", "NAMESPACE", "OBJECT", "CONTAINER"]
    rows = [[str(i), f.severity.label, f.check, _cell(f.object.namespace), f.object.short, _cell(f.container)]
            for i, f in enumerate(findings, 1)]
    return headers, rows


def _summary_line(report: Report) -> str:
    s = report.summary()
    parts = [f"{s['error']} error{'s' if s['error'] != 1 else ''}",
             f"{s['warning']} warning{'s' if s['warning'] != 1 else ''}",
             f"{s['info']} info", f"{s['ok']} passed"]
    return "Summary: " + ", ".join(parts) + "."


def _wrap(text: str, indent: str, first: str | None = None) -> list[str]:
    """Wrapped to WIDTH; `first` is the first line's indent (default: `indent`)."""
    return textwrap.wrap(text, width=WIDTH, initial_indent=indent if first is None else first,
                         subsequent_indent=indent, break_long_words=True, break_on_hyphens=False) or [indent.rstrip()]


def _details(findings: Sequence[Finding]) -> list[str]:
    lines: list[str] = []
    for i, f in enumerate(findings, 1):
        where = f"{f.object.namespace + ' ' if f.object.namespace else ''}{f.object.short}"
        if f.container:
            where += f" container {f.container}"
        lines.append("")
        lines.extend(_wrap(f"[{i}] {f.severity.label} {f.check}: {where}", ""))
        if f.image:
            lines.extend(_wrap(f"image: {f.image}", "    "))
        lines.extend(_wrap(f.message, "    "))
        if f.fix:
            # Commands are not wrapped: they must stay copy-pasteable.
            if f.fix.command:
                lines.append(f"    fix: {f.fix.command}")
            for k, cmd in enumerate(f.fix.equivalent):
                label = "or:  " if f.fix.command and k == 0 else ("fix: " if k == 0 else "     ")
                lines.append(f"    {label}{cmd}")
    return lines


def _attempt_outcome(img: ImageReport, n: int) -> str:
    """What the probe got with credential n (the kubelet stops at the first success)."""
    if not img.probe:
        return "-"
    attempts = img.probe.get("attempts") or [{"credential": img.probe.get("credential"),
                                              "outcome": img.probe.get("outcome")}]
    for a in attempts:
        if a.get("credential") == n:
            return str(a.get("outcome"))
    if img.probe.get("outcome") == "skipped":
        return "skipped"
    tried = [a.get("credential") for a in attempts if a.get("credential") is not None]
    return "(not tried)" if tried and max(tried) < n else "(same login)"


def _image_rows(images: Sequence[ImageReport]) -> tuple[list[str], list[list[str]]]:
    headers = ["IMAGE", "#", "SOURCE", "KEY", "USER", "FINGERPRINT", "PROBE", "USED BY"]
    rows: list[list[str]] = []
    for img in images:
        users = ", ".join(f"{u['namespace']}/{str(u['kind']).lower()}/{u['name']}" for u in img.used_by[:2])
        if len(img.used_by) > 2:
            users += f" +{len(img.used_by) - 2}"
        probe = str(img.probe["outcome"]) if img.probe else "-"
        if not img.credentials:
            rows.append([img.image, "-", f"({img.remark or 'anonymous'})", "-", "-", "-", probe, users])
        for n, c in enumerate(img.credentials):
            rows.append([img.image if n == 0 else "", str(n), c["source"], c["key"], c["username"] or "-",
                         c["fingerprint"], _attempt_outcome(img, n), users if n == 0 else ""])
    return headers, rows


def _login_rows(report: Report) -> tuple[list[str], list[list[str]]]:
    headers = ["SECRET", "KEY", "USER", "FINGERPRINT", "AUTH SERVER", "LOGIN"]
    rows = [[str(x["secret"]), str(x["key"]), str(x["username"] or "-"), str(x["fingerprint"]),
             str(x["authServer"] or "-"), str(x["outcome"])] for x in report.logins]
    return headers, rows


def _login_lines(report: Report) -> list[str]:
    if not report.logins:
        return []
    headers, rows = _login_rows(report)
    lines = ["", "Login with every entry of the secret(s):", _plain(headers, rows)]
    for x in report.logins:
        if x["outcome"] in ("ok", "skipped"):
            lines.extend(_wrap(f"{x['key']}: {x['outcome']}: {x['detail']}", "    "))
    return lines


def _node_rows(report: Report) -> tuple[list[str], list[list[str]]]:
    """--from-nodes: per node, how its probe pod went and what its probes got."""
    headers = ["NODE", "PROBE POD", "PROBES", "DETAIL"]
    outcomes: dict[str, dict[str, int]] = {}
    for img in report.images:
        for p in img.node_probes:
            counts = outcomes.setdefault(str(p["vantage"]).removeprefix("node/"), {})
            counts[str(p["outcome"])] = counts.get(str(p["outcome"]), 0) + 1
    rows = []
    for node in report.nodes or ():
        name = str(node["name"])
        counts = outcomes.get(name, {})
        probes = ", ".join(f"{n} {o}" for o, n in sorted(counts.items())) if node["status"] == "ok" else "-"
        rows.append([name, str(node["status"]), probes or "-", str(node.get("detail") or "")])
    return headers, rows


def render_table(report: Report, wide: bool = False) -> str:
    lines: list[str] = []
    shown = list(report.findings) + (list(report.passed) if wide else [])
    if report.findings:
        headers, rows = _finding_rows(shown)
        if not wide:
            rows = _fit(rows, headers, shrinkable=[3, 4, 5])
        lines.append(_plain(headers, rows))
        lines.extend(_details(report.findings))
    else:
        lines.append("No problems found.")
        if wide and report.passed:
            headers, rows = _finding_rows(report.passed)
            lines.append(_plain(headers, rows))
    lines.extend(_login_lines(report))
    if report.nodes is not None:
        headers, rows = _node_rows(report)
        lines.append("")
        lines.append("Probes from the nodes (--from-nodes):")
        lines.append(_plain(headers[:3], [r[:3] for r in rows]) if rows else "(no node probed)")
        for r in rows:
            if r[3]:
                lines.extend(_wrap(f"{r[0]}: {r[3]}", "    ", first="  "))
    if wide:
        headers, rows = _image_rows(report.images)
        lines.append("")
        lines.append("Credentials per image, in the order the kubelet tries them:")
        lines.append(_plain(headers, rows) if rows else "(no images)")
    lines.append("")
    lines.append(_summary_line(report))
    for note in report.notes:
        lines.extend(_wrap(f"Note: {note}", "      ", first=""))
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(report: Report) -> str:
    out = ["# kubectl-pullsecret doctor report", "", f"**{_summary_line(report)}**", ""]
    out += [f"> Note: {_md(note)}" for note in report.notes] + ([""] if report.notes else [])
    if report.findings:
        headers, rows = _finding_rows(report.findings)
        out.append(tabulate([[_md(c) for c in r] for r in rows], headers=headers, tablefmt="github",
                            disable_numparse=True))
        out += ["", "## Findings"]
        for i, f in enumerate(report.findings, 1):
            where = f"`{f.object.namespace + '/' if f.object.namespace else ''}{f.object.short}`"
            if f.container:
                where += f" (container `{f.container}`)"
            out += ["", f"### {i}. {f.severity.label}: `{f.check}` — {where}", ""]
            if f.image:
                out += [f"Image: `{f.image}`", ""]
            out.append(f.message)
            if f.fix:
                out += ["", "```sh"]
                if f.fix.command:
                    out.append(f.fix.command)
                if f.fix.equivalent:
                    if f.fix.command:
                        out.append("# equivalent:")
                    out.extend(f.fix.equivalent)
                out.append("```")
    else:
        out.append("No problems found.")
    out += ["", "## Images", ""]
    if report.images:
        rows = []
        for img in report.images:
            creds = "<br>".join(f"{n}. `{c['source']}` key `{c['key']}` user `{c['username'] or '-'}` "
                                f"fp `{c['fingerprint']}`" for n, c in enumerate(img.credentials)) or (
                                    img.remark or "anonymous")
            used = "<br>".join(f"{u['namespace']}/{str(u['kind']).lower()}/{u['name']}" for u in img.used_by)
            probe = str(img.probe["outcome"]) if img.probe else "-"
            if img.probe and img.probe.get("authServer"):
                probe += f" (auth: {img.probe['authServer']})"
            rows.append([f"`{_md(img.image)}`", _md(used), _md(creds), _md(probe)])
        out.append(tabulate(rows, headers=["Image", "Used by", "Credentials (kubelet order)", "Probe"],
                            tablefmt="github", disable_numparse=True))
    else:
        out.append("(no images)")
    if report.nodes is not None:
        headers, rows = _node_rows(report)
        out += ["", "## Probes from the nodes", ""]
        out.append(tabulate([[_md(c) for c in r] for r in rows], headers=headers, tablefmt="github",
                            disable_numparse=True) if rows else "(no node probed)")
    if report.logins:
        headers, rows = _login_rows(report)
        out += ["", "## Logins", ""]
        out.append(tabulate([[_md(c) for c in r] + [_md(str(x["detail"]))] for r, x in zip(rows, report.logins,
                                                                                             strict=True)],
                            headers=headers + ["DETAIL"], tablefmt="github", disable_numparse=True))
    return "\n".join(out) + "\n"


def render_json(report: Report) -> str:
    return json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n"


def render_yaml(report: Report) -> str:
    import yaml

    return str(yaml.safe_dump(report.to_dict(), sort_keys=False, allow_unicode=True, width=WIDTH))


RENDERERS: dict[str, Callable[[Report], str]] = {
    "table": render_table,
    "wide": lambda r: render_table(r, wide=True),
    "json": render_json,
    "yaml": render_yaml,
    "markdown": render_markdown,
}


def render(report: Report, fmt: str) -> str:
    return redact.scrub(RENDERERS[fmt](report))


def render_check_list(rows: Sequence[tuple[str, str, str]]) -> str:
    return tabulate(list(rows), headers=["ID", "SEVERITY", "DESCRIPTION"], tablefmt="plain",
                    maxcolwidths=[None, None, 56]) + "\n"


# --- fix ---------------------------------------------------------------------------

_ACTION_LABEL = {"created": "created", "updated": "updated", "deleted": "deleted", "unchanged": "unchanged",
                 "requested": "requested", "refused": "not applied", "failed": "FAILED"}


def _outcome_lines(result: FixResult, outcomes: Sequence[Outcome], indent: str = "") -> list[str]:
    lines: list[str] = []
    for o in outcomes:
        label = _ACTION_LABEL.get(o.action, o.action)
        if result.dry_run != "none" and o.action in ("created", "updated", "deleted", "requested"):
            label = f"would be {label}"
        lines.extend(_wrap(f"{label}: {o.change.ref}: {o.change.summary}", indent + "    ", first=indent))
        if o.detail:
            lines.extend(_wrap(o.detail, indent + "    ", first=indent + "  "))
        if o.action != "unchanged":
            lines.extend(f"{indent}  equivalent: {eq}" for eq in o.change.equivalent)
    return lines


_STEP_LABEL = {"applied": "applied", "unchanged": "nothing to change", "declined": "declined",
               "planned": "planned (not applied)", "needs-input": "needs your input", "failed": "FAILED",
               "manual": "by hand", "dry-run": "dry run"}


def render_fix(result: FixResult, with_objects: bool = False) -> str:
    """What a fix did (or would do), the equivalent commands and the re-check; with
    `with_objects`, then the objects it writes (or would), as `-o yaml` prints them."""
    lines: list[str] = []
    dry = f" (dry run: {result.dry_run}, nothing is stored)" if result.dry_run != "none" else ""
    lines.append(f"{result.title}{dry}")
    for w in result.warnings:
        lines.extend(_wrap(f"warning: {w}", "  "))
    if result.steps:
        for i, step in enumerate(result.steps, 1):
            lines.append(f"[{i}] {_STEP_LABEL.get(step.status, step.status)}: {step.command}")
            lines.extend(f"    for: {f}" for f in step.findings)
            if step.detail:
                lines.extend(_wrap(step.detail, "      ", first="    "))
            lines.extend(_outcome_lines(result, step.outcomes, "    "))
    else:
        lines.extend(_outcome_lines(result, result.outcomes))
    if not (result.outcomes or result.steps or result.failed
            or any(n.startswith("nothing to do") for n in result.notes)):
        lines.append("nothing to do")
    for note in result.notes:
        lines.extend(_wrap(f"note: {note}", "  "))
    if result.recheck is not None:
        lines.append("")
        lines.append(f"Re-check ({result.recheck_scope or 'the fix target'}):")
        lines.append(render_table(result.recheck).rstrip("\n"))
    if result.planned_only:
        lines.append("")
        lines.append("Nothing was written for the fixes marked 'not applied' or 'planned': run again with --yes, or "
                     "on a terminal to answer y.")
    text = "\n".join(lines) + "\n"
    if with_objects and _written(result):
        text += "\nObjects as they would be written (secret values redacted):\n" + render_fix_objects(result, "yaml")
    return redact.scrub(text)


def _written(result: FixResult) -> list[Outcome]:
    """The outcomes whose object is (or would be) written: what -o yaml|json prints."""
    return [o for o in result.outcomes if o.obj is not None and o.action in ("created", "updated", "refused", "requested")]


def render_fix_objects(result: FixResult, fmt: str) -> str:
    """-o yaml|json: the objects as written (or as they would be), secret values redacted."""
    from kubectl_pullsecret.fixes.apply import redacted

    items = [redacted(o.obj) for o in _written(result) if o.obj is not None]
    doc = {"apiVersion": "v1", "kind": "List", "items": items}
    if fmt == "json":
        return redact.scrub(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    import yaml

    return redact.scrub(str(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=WIDTH)))
