"""What every fix command shares: flags, the cluster connection, confirmation, the
apply loop over planned changes and the re-check through doctor."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TextIO

from kubectl_pullsecret.errors import FixError
from kubectl_pullsecret.findings import Finding, Report, Severity
from kubectl_pullsecret.fixes import apply as applying
from kubectl_pullsecret.fixes.model import Change, FixResult, Outcome
from kubectl_pullsecret.kube import Cluster, ClusterOptions
from kubectl_pullsecret.resolve import Scope

if TYPE_CHECKING:
    from kubectl_pullsecret import doctor

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FixOptions:
    namespace: str | None = None
    kubeconfig: str | None = None
    context: str | None = None
    request_timeout: float | None = None
    dry_run: str = "none"  # none | client | server
    yes: bool = False
    backup_dir: str = applying.DEFAULT_BACKUP_DIR
    wait: float | None = None  # seconds; None: the command's default; 0: do not wait
    probe: bool = True  # registry traffic (verification, re-check)
    probe_timeout: float = 10.0
    insecure_registries: Sequence[str] = ()
    registry_ca_file: str | None = None

    def doctor_options(self, **run: Any) -> doctor.Options:
        """doctor's options for a run on the same cluster, with the same probe settings;
        `run` says what to diagnose (targets, namespace, checks, ...)."""
        from kubectl_pullsecret import doctor

        run.setdefault("probe", self.probe)
        return doctor.Options(**run, probe_timeout=self.probe_timeout,
                              insecure_registries=self.insecure_registries, registry_ca_file=self.registry_ca_file,
                              kubeconfig=self.kubeconfig, context=self.context, request_timeout=self.request_timeout)


@dataclass
class Session:
    opts: FixOptions
    stdin: TextIO | None = None
    prompt_out: TextIO | None = None  # where y/N questions go (stderr)
    interactive: bool = False  # stdin and stderr are a terminal
    recheck_off: bool = False  # `fix TARGET` re-checks once, at the end, not after each fix
    _cluster: Cluster | None = field(default=None, repr=False)

    @property
    def cluster(self) -> Cluster:
        if self._cluster is None:
            o = self.opts
            self._cluster = Cluster.connect(ClusterOptions(o.kubeconfig, o.context, o.request_timeout))
        return self._cluster

    @property
    def namespace(self) -> str:
        return self.opts.namespace or self.cluster.namespace or "default"

    def confirm(self, question: str) -> bool:
        """--yes, else y/N on a terminal; without a terminal: no (the plan is printed, nothing written)."""
        if self.opts.yes:
            return True
        if self.opts.dry_run != "none":
            return True  # nothing is written: show what would be
        if not self.interactive or self.stdin is None or self.prompt_out is None:
            return False
        self.prompt_out.write(f"{question} [y/N] ")
        self.prompt_out.flush()
        answer = self.stdin.readline()
        return answer.strip().lower() in ("y", "yes")

    def apply_all(self, result: FixResult, changes: Sequence[Change]) -> bool:
        """Apply changes in order, asking first where a change says so (and only when
        it would change something). False when one failed or was not confirmed."""
        for change in changes:
            try:
                if change.confirm and not (self.opts.yes or self.opts.dry_run != "none"):
                    # What would be written: the edit run on the object as it is now.
                    would = applying.apply(self.cluster, change, "client", self.opts.backup_dir)
                    if would.action == "unchanged":
                        result.outcomes.append(would)
                        continue
                    if not self.confirm(f"{change.summary} ({change.confirm}). Apply?"):
                        result.planned_only = True
                        why = ("not applied: answered no" if self.interactive
                               else "not applied: needs confirmation (--yes, or y on a terminal)")
                        result.outcomes.append(Outcome(change, "refused", would.obj, why))
                        continue
                result.outcomes.append(applying.apply(self.cluster, change, self.opts.dry_run, self.opts.backup_dir))
            except FixError as exc:
                result.outcomes.append(Outcome(change, "failed", None, str(exc)))
                result.failed = True
                return False
        return not result.planned_only

    def recheck(self, result: FixResult, runs: Sequence[tuple[Sequence[str], Sequence[str]]],
                keep: Callable[[Finding, Scope], bool] | None = None, namespace: str | None = None,
                probe: bool | Sequence[bool] = True, scope_text: str = "") -> Report | None:
        """Run doctor's checks again on the fix's target, after a real apply only: one
        doctor run per (targets, checks), merged into one report; `probe` for all runs
        or per run. `keep` picks the findings that mean "the problem remains"."""
        if self.opts.dry_run != "none" or result.failed or result.planned_only or self.recheck_off:
            return None
        from kubectl_pullsecret import doctor

        probes = [probe] * len(runs) if isinstance(probe, bool) else list(probe)
        found: dict[tuple[object, ...], Finding] = {}
        reports: list[Report] = []
        for (targets, checks), probing in zip(runs, probes, strict=True):
            report, scope = doctor.diagnose(self.opts.doctor_options(
                targets=targets, namespace=namespace or self.namespace, checks=checks,
                probe=probing and self.opts.probe))
            for f in report.findings:
                if keep is None or keep(f, scope):
                    found.setdefault(f.sort_key(), f)
            reports.append(report)
        kept = tuple(sorted(found.values(), key=Finding.sort_key))
        # Run notes ("no pods in namespace ...") are about the re-check's own scope: noise here.
        merged = Report(kept, tuple(p for r in reports for p in r.passed), tuple(i for r in reports for i in r.images),
                        reports[0].cluster, all(r.diagnosed for r in reports), (),
                        tuple(login for r in reports for login in r.logins))
        result.recheck = merged
        result.recheck_scope = scope_text
        result.remaining = sum(1 for f in kept if f.severity >= Severity.WARNING)
        return merged
