"""Pull secret checks: existence, type, format, and data availability."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from kubectl_pullsecret.checks.base import (
    REGISTRY,
    Context,
    create_secret_fix,
    finding,
    join_names,
    recreate_from_file_fix,
)
from kubectl_pullsecret.findings import Finding, ObjectRef, Severity
from kubectl_pullsecret.resolve import SecretState, sa_pull_secrets


@dataclass
class _Use:
    """Who references a secret, and which registries they would need it for."""

    referrers: list[ObjectRef] = field(default_factory=list)
    link_sa: dict[ObjectRef, str | None] = field(default_factory=dict)
    registries: list[str] = field(default_factory=list)


def secret_uses(ctx: Context) -> dict[tuple[str, str], _Use]:
    """Every pull-secret reference in scope, attributed to whoever holds it: the SA
    when admission copied it into the pod, else the pod or workload itself."""
    if "secret_uses" not in ctx.memo:
        ctx.memo["secret_uses"] = _secret_uses(ctx)
    uses: dict[tuple[str, str], _Use] = ctx.memo["secret_uses"]
    return uses


def _secret_uses(ctx: Context) -> dict[tuple[str, str], _Use]:
    uses: dict[tuple[str, str], _Use] = {}

    def add(ns: str, name: str, ref: ObjectRef, link_sa: str | None) -> _Use:
        use = uses.setdefault((ns, name), _Use())
        if ref not in use.link_sa:
            use.referrers.append(ref)
            use.link_sa[ref] = link_sa
        return use

    for ns, sa_name in ctx.scope.service_accounts:
        sa = ctx.snapshot.get("ServiceAccount", ns, sa_name)
        for name in sa_pull_secrets(sa):
            add(ns, name, ObjectRef("ServiceAccount", ns, sa_name), sa_name)
    for s in ctx.scope.subjects:
        ns = s.ref.namespace or "default"
        injected = s.pull_secrets_from_sa
        sa_names = set(sa_pull_secrets(ctx.snapshot.get("ServiceAccount", ns, s.sa_name)))
        for name in s.pull_secrets:
            # The SA holds the reference only while it still lists the name; a pod keeps
            # what admission copied even after the SA dropped it.
            from_sa = injected and name in sa_names
            ref = ObjectRef("ServiceAccount", ns, s.sa_name) if from_sa else s.ref
            add(ns, name, ref, s.sa_name if from_sa else None)
    # Registries the subjects' images reach without a credential: what a missing secret was for.
    for res in ctx.resolutions:
        if res.reference is None or res.credentials:
            continue
        ns = res.subject.ref.namespace or "default"
        for name in res.subject.pull_secrets:
            use = uses[(ns, name)]
            if res.reference.registry not in use.registries:
                use.registries.append(res.reference.registry)
    for ns, name in ctx.scope.secrets:
        add(ns, name, ObjectRef("Secret", ns, name), None)
    return uses


def _state(ctx: Context, key: tuple[str, str]) -> SecretState:
    return ctx.resolver.secret(*key)


def _referrers_text(use: _Use) -> str:
    refs = [r for r in use.referrers if r.kind != "Secret"]
    if not refs:
        return ""
    shown = join_names(r.short for r in refs[:3])
    more = f" and {len(refs) - 3} more" if len(refs) > 3 else ""
    return f" Referenced by {shown}{more}."


def check_missing(ctx: Context) -> Iterator[Finding]:
    """A pod or service account references a pull secret that does not exist."""
    for key, use in secret_uses(ctx).items():
        state = _state(ctx, key)
        if state.status != "missing":
            continue
        ns, name = key
        registry = use.registries[0] if use.registries else REGISTRY
        for ref in use.referrers:
            if ref.kind == "Secret":
                continue
            holder = "service account" if ref.kind == "ServiceAccount" else ref.kind.lower()
            msg = (f"Pull secret {name!r} is referenced by {holder} {ref.name} but does not exist in namespace "
                   f"{ns}. The kubelet skips it (event FailedToRetrieveImagePullSecret) and pulls with the "
                   "remaining credentials, anonymously if none match.")
            # Already referenced: creating the secret is enough, no link needed.
            yield finding("pull-secret-missing", Severity.ERROR, ref, msg,
                          fix=create_secret_fix(ns, name, registry, None, None))


def check_wrong_type(ctx: Context) -> Iterator[Finding]:
    """A referenced secret is not of a pull-secret type, or its type and data key disagree: the kubelet ignores it."""
    for key, use in secret_uses(ctx).items():
        state = _state(ctx, key)
        if state.status != "wrong-type":
            continue
        ns, name = key
        link = next((sa for sa in use.link_sa.values() if sa), None)
        data_key = state.data_key or ".dockerconfigjson"
        msg = f"Secret {name} {state.problem}.{_referrers_text(use)}"
        yield finding("pull-secret-wrong-type", Severity.ERROR, ObjectRef("Secret", ns, name), msg,
                      fix=recreate_from_file_fix(ns, name, data_key, link))


def check_malformed(ctx: Context) -> Iterator[Finding]:
    """A pull secret's data does not decode (base64, JSON, `auth`): the kubelet fails every pull of the pods using it."""
    for key, use in secret_uses(ctx).items():
        state = _state(ctx, key)
        if state.status != "malformed":
            continue
        ns, name = key
        link = next((sa for sa in use.link_sa.values() if sa), None)
        msg = (f"Secret {name} key {state.data_key}: {state.problem}. The kubelet cannot decode it and fails "
               f"every image pull of the pods that use it, even of public images.{_referrers_text(use)}")
        yield finding("pull-secret-malformed", Severity.ERROR, ObjectRef("Secret", ns, name), msg,
                      fix=recreate_from_file_fix(ns, name, state.data_key or ".dockerconfigjson", link))
    node = ctx.node
    if node.origin and node.origin.startswith("file:") and node.config is not None and node.config.all_errors():
        path = node.origin[5:]
        yield finding("pull-secret-malformed", Severity.ERROR, ObjectRef("File", None, path),
                      f"Credential file {path}: {node.problem}. A node whose /var/lib/kubelet/config.json is "
                      "like this has no node credentials at all (the kubelet logs the error and goes on).")


def check_data_unavailable(ctx: Context) -> Iterator[Finding]:
    """Offline input lacks a pull secret or its data, so the credential checks for it are skipped."""
    for key, use in secret_uses(ctx).items():
        state = _state(ctx, key)
        ns, name = key
        if ctx.snapshot.is_denied("Secret", ns):
            continue  # a live read was refused: permission-denied says so
        if state.status == "unavailable":
            msg = (f"Secret {name} {state.problem}; its credentials are not checked.{_referrers_text(use)} "
                   f"Add it with: oc get secret {name} -n {ns} -o yaml")
        elif state.status == "absent-from-input":
            msg = (f"Secret {name} is not in the input (no secrets of namespace {ns} were given), so whether it "
                   f"exists and what it holds is not checked.{_referrers_text(use)} "
                   f"Add it with: oc get secret {name} -n {ns} -o yaml")
        else:
            continue
        yield finding("pull-secret-data-unavailable", Severity.INFO, ObjectRef("Secret", ns, name), msg)
