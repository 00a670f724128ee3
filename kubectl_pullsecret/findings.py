"""Findings and the report: the data every renderer and the exit code work from."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any


class Severity(IntEnum):
    OK = 0
    INFO = 1
    WARNING = 2
    ERROR = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Severity:
        return cls[text.upper()]


@dataclass(frozen=True, order=True)
class ObjectRef:
    kind: str
    namespace: str | None
    name: str | None

    def to_dict(self) -> dict[str, str | None]:
        return {"kind": self.kind, "namespace": self.namespace, "name": self.name}

    @property
    def short(self) -> str:
        """kind/name as kubectl prints it, e.g. pod/web-1."""
        return f"{self.kind.lower()}/{self.name}" if self.name else self.kind.lower()


@dataclass(frozen=True)
class Fix:
    command: str | None  # the `kubectl pullsecret fix ...` command, when one exists
    equivalent: tuple[str, ...] = ()  # the oc/kubectl commands it stands for

    def to_dict(self) -> dict[str, Any]:
        return {"command": self.command, "equivalent": list(self.equivalent)}


@dataclass(frozen=True)
class Finding:
    check: str
    severity: Severity
    object: ObjectRef
    message: str
    container: str | None = None
    image: str | None = None
    fix: Fix | None = None

    def sort_key(self) -> tuple[Any, ...]:
        return (-self.severity, self.object.namespace or "", self.object.kind, self.object.name or "",
                self.container or "", self.check, self.image or "", self.message)

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "severity": self.severity.label,
            "object": self.object.to_dict(),
            "container": self.container,
            "image": self.image,
            "message": self.message,
            "fix": self.fix.to_dict() if self.fix else None,
        }


@dataclass(frozen=True)
class ImageReport:
    image: str
    reference: dict[str, str | None] | None
    used_by: tuple[dict[str, str | None], ...]
    credentials: tuple[dict[str, str], ...]
    probe: dict[str, Any] | None = None
    node_probes: tuple[dict[str, Any], ...] = ()  # --from-nodes: one per node, vantage node/<name>
    # Why `credentials` is empty when it is not a plain anonymous pull (human formats
    # only: the JSON document stays exactly as SPEC.md shows it).
    remark: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "image": self.image,
            "reference": self.reference,
            "usedBy": list(self.used_by),
            "credentials": list(self.credentials),
            "probe": self.probe,
            **({"nodeProbes": list(self.node_probes)} if self.node_probes else {}),
        }


@dataclass(frozen=True)
class Report:
    findings: tuple[Finding, ...]  # problems, sorted; no OK entries
    passed: tuple[Finding, ...]  # OK entries (shown by -o wide)
    images: tuple[ImageReport, ...]
    cluster: dict[str, Any] | None = None
    diagnosed: bool = True  # False: the subjects themselves could not be read (exit 3)
    notes: tuple[str, ...] = field(default=())  # run notes for stderr (skipped files, ...)
    logins: tuple[dict[str, Any], ...] = field(default=())  # secret/NAME targets: one login probe per entry
    nodes: tuple[dict[str, Any], ...] | None = None  # --from-nodes: one entry per node (None: not asked for)

    def summary(self) -> dict[str, int]:
        counts = {s.label: 0 for s in (Severity.ERROR, Severity.WARNING, Severity.INFO)}
        for f in self.findings:
            counts[f.severity.label] += 1
        counts["ok"] = len(self.passed)
        return counts

    def to_dict(self) -> dict[str, Any]:
        return {
            "apiVersion": "kubectl-pullsecret/v1",
            "kind": "DoctorReport",
            "cluster": self.cluster,
            "findings": [f.to_dict() for f in self.findings],
            "images": [i.to_dict() for i in self.images],
            "logins": list(self.logins),
            **({"nodes": list(self.nodes)} if self.nodes is not None else {}),
            "summary": self.summary(),
        }

    def worst(self) -> Severity:
        return max((f.severity for f in self.findings), default=Severity.OK)
