"""Try credentials against their registries before they are written (`fix create`,
`fix global set`): the same login probe doctor runs for `secret/NAME` targets, trusting
what doctor's probes trust (the flags, and on OpenShift what image.config makes the
nodes trust)."""

from __future__ import annotations

from collections.abc import Sequence

from kubectl_pullsecret.dockerconfig import DockerConfig
from kubectl_pullsecret.errors import FixError
from kubectl_pullsecret.fixes.session import Session
from kubectl_pullsecret.probe_model import LoginPlan, Result, plan_login

# Outcomes that prove the credential wrong: nothing is written.
REFUSE = frozenset({"credential-rejected"})


def cluster_trust(session: Session) -> tuple[frozenset[str], str]:
    """On OpenShift, image.config's insecure registries and additional trusted CAs (as
    doctor reads them); nothing elsewhere, or when they cannot be read."""
    from kubectl_pullsecret.checks.openshift import probe_trust
    from kubectl_pullsecret.kube import Read, load
    from kubectl_pullsecret.live import trusted_ca_read
    from kubectl_pullsecret.snapshot import Snapshot

    if not session.cluster.discover_openshift():
        return frozenset(), ""
    read = load(session.cluster, [Read("Image", None, "cluster")], then=trusted_ca_read)
    return probe_trust(Snapshot({kind: tuple(items) for kind, items in read.objects.items()}, offline=False))


def verify(session: Session, config: DockerConfig, source: str,
           only: Sequence[str] | None = None) -> list[tuple[LoginPlan, Result | None]]:
    """Log in with each entry (or the entries keyed `only`). Raises FixError, naming
    the entry and `--no-verify`, when a registry rejects a credential or cannot be
    reached; entries that cannot be tried (wildcards, Telemetry) are returned unprobed."""
    from kubectl_pullsecret.probe import Prober
    from kubectl_pullsecret.registry import probe_settings

    entries = [e for e in config.entries if only is None or e.key in only]
    plans = [plan_login(source, e) for e in entries]
    opts = session.opts
    prober = Prober(probe_settings(opts.probe_timeout, opts.insecure_registries, opts.registry_ca_file,
                                   cluster_trust(session)))
    results = prober.probe_logins(p.spec for p in plans if p.spec is not None)
    out = [(p, results[p.spec] if p.spec is not None else None) for p in plans]
    for plan, result in out:
        if result is None or result.outcome == "ok":
            continue
        who = f"{plan.entry.key} ({plan.entry.who})"
        if result.outcome in REFUSE:
            raise FixError(f"{who}: {result.detail}; nothing was written")
        raise FixError(f"{who}: could not be verified: {result.outcome}: {result.detail}; nothing was written "
                       "(--no-verify writes it untried, for a registry only the nodes can reach)")
    return out
