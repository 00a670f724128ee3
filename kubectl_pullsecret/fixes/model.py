"""Plain data of the fix layer: changes (planned), outcomes (applied), results."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kubectl_pullsecret.findings import Report

Obj = dict[str, Any]


class _Delete:
    """The edit's answer meaning: delete the object (with uid/resourceVersion preconditions)."""

    def __repr__(self) -> str:
        return "DELETE"


DELETE = _Delete()
# current object (a private deep copy; None when absent) -> desired object, None for
# "must not exist / nothing to create", or DELETE. Returning an object equal to the
# current one means: nothing to do. Raising FixError refuses the change.
Edit = Callable[[Obj | None], "Obj | None | _Delete"]


@dataclass(frozen=True)
class Change:
    kind: str  # a kube.RESOURCES kind
    namespace: str | None
    name: str
    summary: str  # what it does, one line, no secret values
    edit: Edit | None  # None for a request that is not an edit (subresource_post)
    equivalent: tuple[str, ...] = ()  # the oc/kubectl commands it stands for
    confirm: str | None = None  # why it asks y/N first (global pull secret, bare pod); None: applies directly
    backup: bool = False  # keep the current content in --backup-dir before writing
    subresource_post: str | None = None  # a POST to this subresource instead of an edit (DC instantiate) ...
    post_body: Obj | None = None  # ... with this body

    @property
    def ref(self) -> str:
        where = f" -n {self.namespace}" if self.namespace else ""
        return f"{self.kind.lower()}/{self.name}{where}"


@dataclass(frozen=True)
class Outcome:
    change: Change
    action: str  # created | updated | deleted | unchanged | requested | refused | failed
    obj: Obj | None = None  # as written or as it would be written (dry run); None when deleted/unchanged
    detail: str = ""  # conflicts retried, backup path, server's reason


@dataclass
class Step:
    """fix TARGET: one fix doctor suggested, and what became of it."""

    command: str  # kubectl pullsecret fix ...
    status: str  # applied | unchanged | declined | planned | needs-input | failed | manual
    findings: tuple[str, ...]  # "error no-matching-credential pod/web-1 (shop)" lines it answers
    detail: str = ""
    outcomes: list[Outcome] = field(default_factory=list)


@dataclass
class FixResult:
    """What a fix command did: printed by render.render_fix, mapped to an exit code by cli."""

    title: str  # "fix link regcred to serviceaccount/default -n shop"
    dry_run: str = "none"
    outcomes: list[Outcome] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    planned_only: bool = False  # needed confirmation and did not get it: nothing written
    recheck: Report | None = None
    recheck_scope: str = ""
    remaining: int = 0  # findings the re-check still has (problem not solved)
    failed: bool = False
    steps: list[Step] = field(default_factory=list)  # fix TARGET: each offered fix and what became of it

    @property
    def changed(self) -> bool:
        return any(o.action in ("created", "updated", "deleted", "requested") for o in self.outcomes)
