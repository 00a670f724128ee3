"""The check catalogue (ids are stable, SPEC.md) and the checks this version runs."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from kubectl_pullsecret.checks import (
    access,
    credentials,
    events,
    nodecreds,
    openshift,
    registry,
    secrets,
    serviceaccounts,
)
from kubectl_pullsecret.checks.base import Context
from kubectl_pullsecret.findings import Finding, ObjectRef, Severity
from kubectl_pullsecret.resolve import Resolution

# Every id of the contract, with its default severity and one line. Ids whose check
# needs registry probes, a live cluster or node probes are listed but not in CHECKS.
CATALOGUE: dict[str, tuple[str, str]] = {
    "image-reference-invalid": ("error", "the image string does not parse"),
    "pull-secret-missing": ("error", "pod or SA references a secret absent from the namespace"),
    "pull-secret-wrong-type": ("error", "referenced secret is not a pull-secret type, or type and data key "
                               "disagree: the kubelet ignores it"),
    "pull-secret-malformed": ("error", "bad base64/JSON/auth field: the kubelet fails every pull of the pod"),
    "pull-secret-data-unavailable": ("info", "offline input without the secret or its data"),
    "no-matching-credential": ("error", "no credential matches the image's registry/path"),
    "credential-key-mismatch": ("warning", "an entry is meant for this registry but keyed so it never matches"),
    "crio-kubelet-disagree": ("warning", "an entry matches differently under kubelet and containers/image rules"),
    "registry-credential-rejected": ("error", "probe outcome credential-rejected"),
    "registry-access-denied": ("error", "probe outcome access-denied"),
    "registry-auth-required": ("error", "probe outcome auth-required"),
    "image-not-found": ("error", "probe outcome manifest-unknown"),
    "registry-unreachable": ("error", "probe outcome unreachable, or not-a-registry (something else answers)"),
    "registry-tls-untrusted": ("error", "probe outcome tls-error"),
    "registry-rate-limited": ("warning", "429 or ratelimit-remaining: 0"),
    "delegated-auth-unpaired": ("warning", "token realm on another host and no credential for it"),
    "dockerhub-anonymous": ("warning", "a Docker Hub image pulled without credentials"),
    "pod-predates-sa-secrets": ("warning", "the SA's pull secrets changed after the pod was created"),
    "pod-overrides-sa-secrets": ("warning", "the pod lists its own pull secrets, so the SA's are not merged"),
    "sa-not-provisioned": ("error", "OpenShift: the SA has no populated <sa>-dockercfg-* pull secret yet"),
    "internal-registry-disabled": ("error", "an image uses the internal registry but the capability is disabled"),
    "cross-project-pull-denied": ("error", "the SA may not get imagestreams/layers in the image's project"),
    "global-pull-secret-invalid": ("error", "openshift-config/pull-secret missing, malformed, or lacking auths"),
    "global-pull-secret-telemetry-missing": ("info", "no cloud.openshift.com entry (Telemetry off)"),
    "global-pull-secret-rollout-pending": ("warning", "MachineConfigPools have not rolled out the pull secret"),
    "mirror-credential-missing": ("error", "an IDMS/ITMS/ICSP mirror has no credential in the global pull secret"),
    "registry-blocked": ("error", "image.config.openshift.io blocks (or does not allow) the registry"),
    "node-credentials-stale": ("warning", "a node's kubelet config.json differs from the global pull secret"),
    "permission-denied": ("info", "the user may not read something doctor needs"),
    "pull-error-observed": ("info", "the kubelet's own waiting message/event, classified"),
}

Scope = Callable[[Context], Iterable[tuple[ObjectRef, str | None]]]


def _containers(ctx: Context) -> Iterable[tuple[ObjectRef, str | None]]:
    return _of(ctx.resolutions)


def _subjects(ctx: Context) -> Iterable[tuple[ObjectRef, str | None]]:
    return [(s.ref, None) for s in ctx.scope.subjects if s.ref.kind != "Image"]


def _pods(ctx: Context) -> Iterable[tuple[ObjectRef, str | None]]:
    return [(s.ref, None) for s in ctx.scope.subjects if s.created]


def _service_accounts(ctx: Context) -> Iterable[tuple[ObjectRef, str | None]]:
    if not ctx.openshift:
        return []
    return [(ObjectRef("ServiceAccount", ns, n), None) for ns, n in ctx.scope.service_accounts
            if ctx.snapshot.get("ServiceAccount", ns, n) is not None]


def _probed(ctx: Context) -> Iterable[tuple[ObjectRef, str | None]]:
    """Containers whose image was probed, and secret targets with a probed entry."""
    return ([(r.subject.ref, r.container.name or None) for r, _ in registry.probed(ctx)]
            + [(registry.secret_ref(plan.source), None) for plan, _ in registry.probed_logins(ctx)])


def _secrets(ctx: Context) -> Iterable[tuple[ObjectRef, str | None]]:
    return [(ObjectRef("Secret", ns, n), None) for ns, n in secrets.secret_uses(ctx)]


def _referrers(ctx: Context) -> Iterable[tuple[ObjectRef, str | None]]:
    seen = {r for use in secrets.secret_uses(ctx).values() for r in use.referrers if r.kind != "Secret"}
    return [(r, None) for r in sorted(seen)]


def _of(resolutions: Iterable[Resolution]) -> list[tuple[ObjectRef, str | None]]:
    return [(r.subject.ref, r.container.name or None) for r in resolutions]


def _internal_images(ctx: Context) -> Iterable[tuple[ObjectRef, str | None]]:
    return _of(openshift.internal_resolutions(ctx)) if openshift.registry_state_known(ctx.snapshot) else []


def _access_answered(ctx: Context) -> Iterable[tuple[ObjectRef, str | None]]:
    return _of(openshift.asked_resolutions(ctx))


def _mirrored(ctx: Context) -> Iterable[tuple[ObjectRef, str | None]]:
    return _of(openshift.mirrored_resolutions(ctx))


def _registry_policy(ctx: Context) -> Iterable[tuple[ObjectRef, str | None]]:
    return _of(openshift.policy_resolutions(ctx))


def _global_pull_secret(ctx: Context) -> Iterable[tuple[ObjectRef, str | None]]:
    return [(openshift.GLOBAL_REF, None)] if openshift.global_state(ctx) is not None else []


def _valid_global_pull_secret(ctx: Context) -> Iterable[tuple[ObjectRef, str | None]]:
    return [(openshift.GLOBAL_REF, None)] if openshift.global_valid(ctx) else []


def _machine_config_pools(ctx: Context) -> Iterable[tuple[ObjectRef, str | None]]:
    return [(openshift.pool_ref(p), None) for p in openshift.pools(ctx)]


def _nodes_compared(ctx: Context) -> Iterable[tuple[ObjectRef, str | None]]:
    return [(ObjectRef("Node", None, n.node), None) for n in nodecreds.compared_nodes(ctx)]


def _nothing(ctx: Context) -> Iterable[tuple[ObjectRef, str | None]]:
    return []


@dataclass(frozen=True)
class Check:
    id: str
    run: Callable[[Context], Iterable[Finding]]
    scope: Scope  # the objects it examines: those without a finding count as passed

    @property
    def severity(self) -> str:
        return CATALOGUE[self.id][0]

    @property
    def description(self) -> str:
        return (self.run.__doc__ or "").strip().splitlines()[0]


# The checks this version runs, in report order. An explicit literal, no discovery.
CHECKS: dict[str, Check] = {c.id: c for c in (
    Check("image-reference-invalid", credentials.check_reference, _containers),
    Check("pull-secret-missing", secrets.check_missing, _referrers),
    Check("pull-secret-wrong-type", secrets.check_wrong_type, _secrets),
    Check("pull-secret-malformed", secrets.check_malformed, _secrets),
    Check("pull-secret-data-unavailable", secrets.check_data_unavailable, _secrets),
    Check("no-matching-credential", credentials.check_no_match, _containers),
    Check("credential-key-mismatch", credentials.check_key_mismatch, _containers),
    Check("crio-kubelet-disagree", credentials.check_crio_disagree, _containers),
    Check("dockerhub-anonymous", credentials.check_dockerhub_anonymous, _containers),
    Check("registry-credential-rejected", registry.check_credential_rejected, _probed),
    Check("registry-access-denied", registry.check_access_denied, _probed),
    Check("registry-auth-required", registry.check_auth_required, _probed),
    Check("image-not-found", registry.check_image_not_found, _probed),
    Check("registry-unreachable", registry.check_unreachable, _probed),
    Check("registry-tls-untrusted", registry.check_tls, _probed),
    Check("registry-rate-limited", registry.check_rate_limited, _probed),
    Check("delegated-auth-unpaired", registry.check_delegated_auth, _probed),
    Check("pod-predates-sa-secrets", serviceaccounts.check_predates, _pods),
    Check("pod-overrides-sa-secrets", serviceaccounts.check_overrides, _subjects),
    Check("sa-not-provisioned", serviceaccounts.check_sa_provisioned, _service_accounts),
    Check("internal-registry-disabled", openshift.check_internal_registry_disabled, _internal_images),
    Check("cross-project-pull-denied", openshift.check_cross_project, _access_answered),
    Check("registry-blocked", openshift.check_registry_blocked, _registry_policy),
    Check("mirror-credential-missing", openshift.check_mirror_credentials, _mirrored),
    Check("global-pull-secret-invalid", openshift.check_global_invalid, _global_pull_secret),
    Check("global-pull-secret-telemetry-missing", openshift.check_telemetry, _valid_global_pull_secret),
    Check("global-pull-secret-rollout-pending", openshift.check_rollout, _machine_config_pools),
    Check("node-credentials-stale", nodecreds.check_node_credentials_stale, _nodes_compared),
    Check("pull-error-observed", events.check_pull_errors, _pods),
    Check("permission-denied", access.check_permission_denied, _nothing),
)}


def run(ctx: Context, selected: Iterable[str]) -> tuple[list[Finding], list[Finding]]:
    """Run the selected checks: (findings, passed)."""
    found: list[Finding] = []
    passed: list[Finding] = []
    for check_id in selected:
        check = CHECKS[check_id]
        results = list(check.run(ctx))
        found.extend(results)
        hit = {(f.object, f.container) for f in results} | {(f.object, None) for f in results}
        for obj, container in dict.fromkeys(check.scope(ctx)):
            if (obj, container) not in hit:
                passed.append(Finding(check.id, Severity.OK, obj, "passed", container))
    return collapse_replicas(ctx, found), passed


def collapse_replicas(ctx: Context, found: list[Finding]) -> list[Finding]:
    """Pods of one workload that share a finding are reported once, with a count."""
    owners = {s.ref: s.owner for s in ctx.scope.subjects if s.owner is not None}
    groups: dict[tuple[object, ...], list[Finding]] = {}
    for f in found:
        owner = owners.get(f.object)
        key: tuple[object, ...] = (f.check, f.severity, owner or f.object, f.container, f.image, f.message, f.fix)
        groups.setdefault(key, []).append(f)
    out = []
    for group in groups.values():
        first = group[0]
        owner = owners.get(first.object)
        if len(group) > 1 and owner is not None:
            first = Finding(first.check, first.severity, first.object,
                            f"{first.message} (Same for {len(group)} pods of {owner.short}.)",
                            first.container, first.image, first.fix)
        out.append(first)
    return sorted(out, key=Finding.sort_key)
