"""Service account checks: admission timing, overrides, OpenShift provisioning."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime

from kubectl_pullsecret.checks.base import (
    Context,
    add_pull_secret_patches,
    finding,
    join_names,
    patch_target,
    restart_fix,
)
from kubectl_pullsecret.checks.openshift import registry_disabled
from kubectl_pullsecret.findings import Finding, Fix, ObjectRef, Severity
from kubectl_pullsecret.resolve import Subject, sa_pull_secrets
from kubectl_pullsecret.snapshot import Obj, meta, secret_value, timestamp

REF_ANNOTATION = "openshift.io/internal-registry-pull-secret-ref"
TOKEN_SA_ANNOTATION = "openshift.io/internal-registry-auth-token.service-account"
BINDING_ANNOTATION = "openshift.io/internal-registry-auth-token.binding"
LEGACY_TOKEN_ANNOTATION = "openshift.io/token-secret.name"


def _time(obj: Obj | None) -> datetime | None:
    return timestamp(meta(obj or {}).get("creationTimestamp"))


def _is_dockercfg_name(sa: str, name: str) -> bool:
    return re.fullmatch(rf"{re.escape(sa)}-dockercfg-[a-z0-9]+", name) is not None


def check_predates(ctx: Context) -> Iterator[Finding]:
    """The SA's pull secrets changed after the pod was created; the pod must be recreated to get them."""
    for s in ctx.scope.subjects:
        if not s.created:
            continue
        sa = ctx.snapshot.get("ServiceAccount", s.ref.namespace, s.sa_name)
        if sa is None:
            continue
        if s.pull_secrets and not s.pull_secrets_from_sa:
            continue  # the pod lists its own: pod-overrides-sa-secrets covers it
        # Secrets that do not exist would not help a recreated pod: pull-secret-missing covers them.
        missing = [n for n in sa_pull_secrets(sa) if n not in s.pull_secrets
                   and ctx.resolver.secret(s.ref.namespace or "default", n).status != "missing"]
        if not missing:
            continue
        pod_time = _time(s.obj)
        later = []
        for name in missing:
            t = _time(ctx.snapshot.get("Secret", s.ref.namespace, name))
            if pod_time and t and t > pod_time:
                later.append(f"{name} was created {t.isoformat()}")
        evidence = f" ({'; '.join(later)}, after the pod at {pod_time.isoformat()})" if later and pod_time else ""
        broken = [n for n in missing if ctx.resolver.secret(s.ref.namespace or "default", n).status == "malformed"]
        caution = (f" Caution: {join_names(broken)} is malformed, and a recreated pod fails every pull until it is "
                   "fixed (pull-secret-malformed)." if broken else "")
        has = f"it has {join_names(s.pull_secrets)}" if s.pull_secrets else "it has none"
        msg = (f"Service account {s.sa_name} now lists pull secret(s) {join_names(missing)} that this pod does "
               f"not have{evidence}; {has}. The admission plugin copies an SA's pull secrets into a pod only when "
               "the pod is created, so this pod never uses them until it is recreated." + caution)
        yield finding("pod-predates-sa-secrets", Severity.WARNING, s.ref, msg, fix=restart_fix(s))


def _uses_internal_registry(ctx: Context, s: Subject) -> list[str]:
    return [res.container.image for res in ctx.resolutions_of(s)
            if res.reference is not None and res.reference.registry in ctx.internal_registries
            and not res.credentials]


def check_overrides(ctx: Context) -> Iterator[Finding]:
    """The pod lists its own pull secrets, so the SA's (including OpenShift's internal-registry dockercfg) are not added."""
    for s in ctx.scope.subjects:
        if not s.own_pull_secrets or s.ref.kind == "Image" or s.pull_secrets_from_sa:
            continue
        sa = ctx.snapshot.get("ServiceAccount", s.ref.namespace, s.sa_name)
        excluded = [n for n in sa_pull_secrets(sa) if n not in s.own_pull_secrets]
        if not excluded:
            continue
        dockercfg = [n for n in excluded if _is_dockercfg_name(s.sa_name, n)]
        broken = _uses_internal_registry(ctx, s) if dockercfg else []
        severity = Severity.ERROR if broken else Severity.WARNING
        msg = (f"The pod spec lists its own imagePullSecrets ({join_names(s.own_pull_secrets)}), so the admission "
               f"plugin does not add service account {s.sa_name}'s ({join_names(excluded)}).")
        if broken:
            msg += (f" That leaves {join_names(broken)} on the internal registry with no credential: add "
                    f"{dockercfg[0]} to the pod's imagePullSecrets.")
        # A pod's imagePullSecrets cannot be changed: patch the template of its owner.
        target = patch_target(s)
        fix = Fix(None, add_pull_secret_patches(target, excluded)) if target is not None else None
        yield finding("pod-overrides-sa-secrets", severity, s.ref, msg, fix=fix)


def _provisioning_problem(ctx: Context, ns: str, sa_name: str, sa: Obj) -> str | None:
    annotations = meta(sa).get("annotations") or {}
    name = annotations.get(REF_ANNOTATION)
    candidates = [name] if isinstance(name, str) and name else []
    candidates += [n for n in sa_pull_secrets(sa) if _is_dockercfg_name(sa_name, n) and n not in candidates]
    if not candidates:
        return (f"has no {sa_name}-dockercfg-* pull secret yet (no {REF_ANNOTATION} annotation and none in "
                "imagePullSecrets)")
    secret_name = candidates[0]
    secret = ctx.snapshot.get("Secret", ns, secret_name)
    if secret is None:
        if ctx.snapshot.covers("Secret", ns):
            return f"references pull secret {secret_name}, which does not exist yet"
        return None  # not in the input: pull-secret-data-unavailable tells
    s_ann = meta(secret).get("annotations") or {}
    raw = secret_value(secret, ".dockercfg")
    empty = raw is not None and raw.strip() in (b"{}", b"")
    if TOKEN_SA_ANNOTATION in s_ann:  # 4.16+: bound service account token
        if s_ann.get(BINDING_ANNOTATION) not in ("bound", "legacy"):
            return (f"has pull secret {secret_name}, but its token is not bound yet (no {BINDING_ANNOTATION} "
                    "annotation)")
        if empty:
            return f"has pull secret {secret_name}, but it is still empty (.dockercfg is {{}})"
        return None
    if empty:
        return f"has pull secret {secret_name}, but it is still empty (.dockercfg is {{}})"
    if LEGACY_TOKEN_ANNOTATION in s_ann:
        token = ctx.snapshot.get("Secret", ns, str(s_ann[LEGACY_TOKEN_ANNOTATION]))
        if token is None and ctx.snapshot.covers("Secret", ns):
            return (f"has pull secret {secret_name}, but the token secret it was made from "
                    f"({s_ann[LEGACY_TOKEN_ANNOTATION]}) is missing")
    return None


def check_sa_provisioned(ctx: Context) -> Iterator[Finding]:
    """OpenShift: the service account has no populated <sa>-dockercfg-* pull secret yet."""
    if not ctx.openshift:
        return
    disabled = registry_disabled(ctx.snapshot) is not None
    for ns, sa_name in ctx.scope.service_accounts:
        sa = ctx.snapshot.get("ServiceAccount", ns, sa_name)
        if sa is None:
            continue
        problem = _provisioning_problem(ctx, ns, sa_name, sa)
        if problem is None:
            continue
        if disabled:
            msg = (f"Service account {sa_name} {problem}. The ImageRegistry capability is disabled or the registry "
                   "is Removed, so OpenShift creates no dockercfg pull secrets: this is expected, and pods pulling "
                   "from the internal registry need another credential.")
            yield finding("sa-not-provisioned", Severity.INFO, ObjectRef("ServiceAccount", ns, sa_name), msg)
            continue
        msg = (f"Service account {sa_name} {problem}. The openshift-controller-manager has not provisioned it: pods "
               "created now cannot pull from the internal registry, and pods created before it completes keep "
               f"lacking the secret until recreated. Wait for it: when done, the {sa_name}-dockercfg-* secret holds "
               f"one entry per internal registry host and (4.16+) carries {BINDING_ANNOTATION}: bound. If it "
               "does not come, check oc get clusteroperator openshift-controller-manager.")
        yield finding("sa-not-provisioned", Severity.ERROR, ObjectRef("ServiceAccount", ns, sa_name), msg)
