"""OpenShift cluster checks: the internal registry, cross-project pulls, the global pull
secret and its rollout, mirror credentials, and image.config registry policy.

Every check reads the snapshot only (DESIGN.md): SubjectAccessReview answers arrive in
`snapshot.access`, asked by the live source for the triples `access_questions` lists.
`probe_trust` gives the probe layer the nodes' registry trust (insecureRegistries,
additionalTrustedCA). On a cluster that is not OpenShift every check yields nothing.

Upstream rules implemented here:
- cluster-image-registry-operator: with managementState Removed the operator reports
  conditions with reason `Removed` and message "The registry is removed".
- machine-config-operator (containerruntimeconfig helpers): blockedRegistries go to
  registries.conf (`blocked`) and policy.json (`reject`); allowedRegistries make
  policy.json reject by default and accept the listed scopes; a blocked entry covering
  the release payload repository is not enforced; mirrorSourcePolicy
  NeverContactSource marks the source `blocked` in registries.conf.
- containers/image sysregistriesv2: the registries.conf entry with the longest matching
  prefix decides (FindRegistry); its mirrors are tried in order, limited to digest
  pulls (IDMS, ICSP) or tag pulls (ITMS), then the source itself unless blocked; a
  mirror reference is the mirror location + the rest of the name after the prefix.
- containers/image docker_image_src.go: the credential the kubelet hands over "must not
  blindly" go to a mirror whose domain differs from the image's; that mirror gets the
  node file's credential (the global pull secret) by containers/image rules.
- containers/image signature policy (policy.json scopes): the image's name, then each
  parent namespace up to host[:port], then `*.domain` wildcards of the host without port.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from kubectl_pullsecret import keyring, reference
from kubectl_pullsecret.checks.base import REGISTRY, Context, finding, for_container, q
from kubectl_pullsecret.checks.needs import SINGLETONS
from kubectl_pullsecret.checks.registry import update_credential_fix
from kubectl_pullsecret.findings import Finding, Fix, ObjectRef, Severity
from kubectl_pullsecret.probe_model import TELEMETRY_HOSTS
from kubectl_pullsecret.reference import Reference, strip_port
from kubectl_pullsecret.resolve import DOCKERCONFIGJSON, GLOBAL_PULL_SECRET, Resolution, SecretState
from kubectl_pullsecret.snapshot import Obj, Snapshot, meta

GLOBAL_REF = ObjectRef("Secret", *GLOBAL_PULL_SECRET)
TELEMETRY_HOST = "cloud.openshift.com"  # one of TELEMETRY_HOSTS, named in messages
CONSOLE_PULL_SECRET = "https://console.redhat.com/openshift/install/pull-secret"
_DOWNLOAD = f"# download the cluster's pull secret from {CONSOLE_PULL_SECRET} as pull-secret.json"
MIRROR_KINDS = {  # kind -> (spec list field, the pulls its mirrors serve)
    "ImageDigestMirrorSet": ("imageDigestMirrors", "digest"),
    "ImageTagMirrorSet": ("imageTagMirrors", "tag"),
    "ImageContentSourcePolicy": ("repositoryDigestMirrors", "digest"),
}


# --- reading cluster objects -------------------------------------------------------

def _dig(obj: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def _strings(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str) and v] if isinstance(value, list) else []


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        return int(value) if isinstance(value, (int, str)) else None
    except ValueError:
        return None


def _singleton(snapshot: Snapshot, kind: str) -> Obj | None:
    return snapshot.get(kind, None, SINGLETONS[kind])


def image_config(snapshot: Snapshot) -> Obj | None:
    """image.config.openshift.io/cluster (cluster-scoped, always named `cluster`)."""
    return _singleton(snapshot, "Image")


def _cluster_version(snapshot: Snapshot) -> Obj | None:
    return _singleton(snapshot, "ClusterVersion")


def _registry_operator(snapshot: Snapshot) -> Obj | None:
    """The image-registry ClusterOperator."""
    return _singleton(snapshot, "ClusterOperator")


# --- probe trust -----------------------------------------------------------------

def probe_trust(snapshot: Snapshot) -> tuple[frozenset[str], str]:
    """What the nodes trust, for the probe layer to trust the same:
    (insecure registry hosts, PEM text of the additional trusted CAs).

    Hosts come from image.config spec.registrySources.insecureRegistries, lowercased,
    with any /path cut (the probe is per host; the nodes scope it to the path). Entries
    `*.example.com` are kept as written: they mean any subdomain (see
    `reference.host_in_scopes`). The PEM text is every data value containing a certificate of the
    openshift-config ConfigMap named by spec.additionalTrustedCA.name, in key order; a
    key `host..port` means the CA is for host:port (the nodes install it for that
    registry only; the probe adds it to its bundle for every host).
    """
    config = image_config(snapshot)
    hosts = {entry.split("/", 1)[0].lower()
             for entry in _strings(_dig(config, "spec", "registrySources", "insecureRegistries"))}
    pem: list[str] = []
    name = _dig(config, "spec", "additionalTrustedCA", "name")
    configmap = snapshot.get("ConfigMap", "openshift-config", name) if isinstance(name, str) and name else None
    data = (configmap or {}).get("data")
    if isinstance(data, dict):
        for key in sorted(data):
            value = data[key]
            if isinstance(value, str) and "BEGIN CERTIFICATE" in value:
                pem.append(value if value.endswith("\n") else value + "\n")
    return frozenset(h for h in hosts if h), "".join(pem)


# --- internal registry -------------------------------------------------------------

def registry_disabled(snapshot: Snapshot) -> str | None:
    """Why the internal registry is off, or None: the ImageRegistry capability is known
    to the cluster but not enabled, or the image-registry operator reports Removed."""
    off = _registry_off(snapshot)
    return off[1] if off is not None else None


def _registry_off(snapshot: Snapshot) -> tuple[str, str] | None:
    """("capability" | "removed", why) when the internal registry is off."""
    cv = _cluster_version(snapshot)
    caps = _dig(cv, "status", "capabilities")
    enabled = _dig(caps, "enabledCapabilities")
    known = _dig(caps, "knownCapabilities")
    # Before 4.14 ImageRegistry was no capability: it is absent from enabledCapabilities
    # there, with the registry installed. knownCapabilities tells the two apart.
    if isinstance(enabled, list) and "ImageRegistry" not in enabled and (
            not isinstance(known, list) or "ImageRegistry" in known):
        return "capability", ("the ImageRegistry capability is disabled (clusterversion "
                              "status.capabilities.enabledCapabilities)")
    operator = _registry_operator(snapshot)
    for cond in _dig(operator, "status", "conditions") or []:
        if not isinstance(cond, dict):
            continue
        message = str(cond.get("message") or "")
        if cond.get("reason") == "Removed" or "registry is removed" in message.lower():
            said = f": \"{message}\"" if message else ""
            return "removed", f"the image-registry cluster operator reports it Removed (managementState Removed{said})"
    return None


def registry_state_known(snapshot: Snapshot) -> bool:
    """The input shows whether the internal registry is on (ClusterVersion or the
    image-registry ClusterOperator is in it)."""
    return (_cluster_version(snapshot) is not None
            or _registry_operator(snapshot) is not None)


def internal_resolutions(ctx: Context) -> list[Resolution]:
    """Containers whose image is on the internal registry (OpenShift only)."""
    if not ctx.openshift:
        return []
    return [r for r in ctx.resolutions if r.reference is not None and r.reference.registry in ctx.internal_registries]


def _enable_registry_fix(snapshot: Snapshot, cause: str) -> Fix:
    if cause == "capability":
        cv = _cluster_version(snapshot)
        spec = (cv or {}).get("spec")
        if isinstance(spec, dict):
            have = _strings(_dig(spec, "capabilities", "additionalEnabledCapabilities"))
            patch = json.dumps({"spec": {"capabilities": {"additionalEnabledCapabilities": [*have, "ImageRegistry"]}}})
            enable = (f"oc patch clusterversion/version --type=merge -p {q(patch)}   # a capability cannot be "
                      "disabled again")
        else:
            enable = ("oc edit clusterversion/version   # add ImageRegistry to spec.capabilities."
                      "additionalEnabledCapabilities (a capability cannot be disabled again)")
        steps = [enable]
    else:
        patch = json.dumps({"spec": {"managementState": "Managed"}})
        steps = [f"oc patch configs.imageregistry.operator.openshift.io/cluster --type=merge -p {q(patch)}   "
                 "# it also needs spec.storage configured"]
    steps.append("# or: push the image to an external registry and point the workload at it")
    return Fix(None, tuple(steps))


def check_internal_registry_disabled(ctx: Context) -> Iterator[Finding]:
    """OpenShift: an image uses the internal registry, but the ImageRegistry capability is disabled or the registry Removed."""
    found = internal_resolutions(ctx)
    off = _registry_off(ctx.snapshot) if found else None
    if off is None:
        return
    cause, why = off
    fix = _enable_registry_fix(ctx.snapshot, cause)
    for res in found:
        assert res.reference is not None
        msg = (f"{res.reference.name} is on the internal registry, but {why}. No registry serves it, so the image "
               "cannot be pulled; and OpenShift generates no <sa>-dockercfg-* pull secrets for the internal registry "
               "(those made earlier were deleted). Enable the registry, or use an external registry.")
        yield for_container("internal-registry-disabled", Severity.ERROR, res, msg, fix)


# --- cross-project pulls -----------------------------------------------------------

def image_project(ref: Reference) -> str | None:
    """The project (namespace) of an internal-registry image: the first path component."""
    project, sep, _ = ref.repository.partition("/")
    return project if sep and project else None


def _asks(res: Resolution, internal: frozenset[str], snapshot: Snapshot | None) -> tuple[str, str, str] | None:
    ref = res.reference
    if ref is None or ref.registry not in internal:
        return None
    project = image_project(ref)
    if project is None:
        return None
    s = res.subject
    ns = s.ref.namespace or "default"
    if s.ref.kind == "Image" and snapshot is not None and snapshot.get("ServiceAccount", ns, s.sa_name) is None:
        return None  # --image with an SA that does not exist: no pod could be created with it
    return ns, s.sa_name, project


def access_questions(resolutions: Iterable[Resolution], internal_registries: Iterable[str],
                     snapshot: Snapshot | None = None) -> set[tuple[str, str, str]]:
    """(service-account namespace, service-account name, image project) triples that need
    a SubjectAccessReview (`get imagestreams/layers` in group image.openshift.io, in the
    project): one per pod or template container whose image is on an internal registry
    host, same-namespace images included (a namespace whose system:image-pullers binding
    was deleted fails too). `--image` subjects are left out when `snapshot` shows their
    service account does not exist. The caller decides whether the cluster is OpenShift."""
    internal = frozenset(internal_registries)
    return {ask for res in resolutions if (ask := _asks(res, internal, snapshot)) is not None}


def asked_resolutions(ctx: Context) -> list[Resolution]:
    """Internal-registry containers whose SubjectAccessReview has an answer."""
    return [r for r in internal_resolutions(ctx)
            if (key := _asks(r, ctx.internal_registries, ctx.snapshot)) is not None
            and ctx.snapshot.access.get(key) is not None]


def grant_fix(sa_ns: str, sa_name: str, project: str) -> Fix:
    """Let a service account pull from a project's image streams (system:image-puller)."""
    return Fix(f"kubectl pullsecret fix grant --from-namespace {q(sa_ns)} --sa {q(sa_name)} -n {q(project)}",
               (f"oc policy add-role-to-user system:image-puller {q(f'system:serviceaccount:{sa_ns}:{sa_name}')} "
                f"-n {q(project)}",
                f"oc policy add-role-to-group system:image-puller {q(f'system:serviceaccounts:{sa_ns}')} "
                f"-n {q(project)}   # alternative: every service account of {sa_ns}"))


def check_cross_project(ctx: Context) -> Iterator[Finding]:
    """OpenShift: a SubjectAccessReview says the SA may not get imagestreams/layers in the image's project."""
    for res in internal_resolutions(ctx):
        key = _asks(res, ctx.internal_registries, ctx.snapshot)
        if key is None or ctx.snapshot.access.get(key) is not False:
            continue  # allowed, unknown (None), or not asked (offline)
        sa_ns, sa_name, project = key
        assert res.reference is not None
        who = f"system:serviceaccount:{sa_ns}:{sa_name}"
        msg = (f"Service account {sa_ns}/{sa_name} may not pull {res.reference.name}: a SubjectAccessReview for {who} "
               f"says it lacks `get` on `imagestreams/layers` (group image.openshift.io) in project {project}, which "
               "the internal registry requires for a pull (the role system:image-puller grants it). The registry "
               "refuses the pull (\"authentication required\" / \"not authorized\").")
        if project == sa_ns:
            msg += (f" This is the service account's own project: each project normally grants it to its service accounts "
                    f"through the RoleBinding system:image-pullers (group system:serviceaccounts:{sa_ns}), which has been "
                    "deleted or changed.")
        yield for_container("cross-project-pull-denied", Severity.ERROR, res, msg, grant_fix(sa_ns, sa_name, project))


# --- the global pull secret --------------------------------------------------------

def global_state(ctx: Context) -> SecretState | None:
    """The global pull secret as the checks judge it; None when the input cannot tell
    (not OpenShift, not in the input, data redacted, or the read was refused)."""
    if not ctx.openshift or ctx.snapshot.is_denied("Secret", *GLOBAL_PULL_SECRET):
        return None
    state = ctx.resolver.secret(*GLOBAL_PULL_SECRET)
    return None if state.unknown else state


def _global_problem(state: SecretState) -> tuple[str, str] | None:
    """(what is wrong, how to fix it: "create" | "replace" | "recreate" | "merge"), or None."""
    if state.status == "missing":
        return "does not exist", "create"
    stype = str((state.obj or {}).get("type") or "Opaque")
    if state.status == "malformed":
        return f"does not decode: {state.cause}", "replace"
    if state.status == "wrong-type":
        if stype != DOCKERCONFIGJSON:
            return f"is of type {stype}; it must be {DOCKERCONFIGJSON} with a .dockerconfigjson key", "recreate"
        if state.config is not None and state.config.shape_error:
            return f"lacks auths: its .dockerconfigjson {state.config.shape_error}", "merge"
        return state.cause, "replace"
    if state.config is not None and not state.config.entries:
        return "has an empty `auths` map", "merge"
    return None


def _global_fix(ctx: Context, how: str) -> Fix:
    ns, name = GLOBAL_PULL_SECRET
    create = (f"oc create secret generic {name} -n {ns} --type={DOCKERCONFIGJSON} "
              "--from-file=.dockerconfigjson=pull-secret.json")
    if how == "merge":
        # `fix global set` keeps every other entry and refuses a malformed secret: here it parses.
        return update_credential_fix(ctx, "global", REGISTRY, "")
    if how == "create":
        return Fix(None, (_DOWNLOAD, create))
    if how == "recreate":  # the type of a secret cannot be changed
        return Fix(None, (_DOWNLOAD, f"oc delete secret {name} -n {ns}", create))
    return Fix(None, (_DOWNLOAD, f"oc set data secret/{name} -n {ns} --from-file=.dockerconfigjson=pull-secret.json"))


def check_global_invalid(ctx: Context) -> Iterator[Finding]:
    """OpenShift: openshift-config/pull-secret is missing, malformed, of the wrong type, or lacks auths."""
    state = global_state(ctx)
    problem = _global_problem(state) if state is not None else None
    if problem is None:
        return
    what, how = problem
    msg = (f"The global pull secret openshift-config/pull-secret {what}. The Machine Config Operator writes it to "
           "every node's /var/lib/kubelet/config.json, so the nodes' kubelet and CRI-O would use no cluster-wide "
           "credentials: images from registries that need them (quay.io and registry.redhat.io for the release and "
           "operators, mirrors) fail to pull.")
    if how in ("replace", "recreate"):
        msg += " `kubectl pullsecret fix global` refuses to merge into a secret it cannot read: replace it whole."
    yield finding("global-pull-secret-invalid", Severity.ERROR, GLOBAL_REF, msg, fix=_global_fix(ctx, how))


def global_valid(ctx: Context) -> bool:
    state = global_state(ctx)
    return state is not None and _global_problem(state) is None


def check_telemetry(ctx: Context) -> Iterator[Finding]:
    """OpenShift: the global pull secret has no cloud.openshift.com entry, so Telemetry is off (not a pull problem)."""
    state = global_state(ctx)
    if state is None or _global_problem(state) is not None or state.config is None:
        return
    hosts = {(keyring.normalize_key(e.key) or e.key).split("/", 1)[0].lower() for e in state.config.entries}
    if hosts & TELEMETRY_HOSTS:
        return
    msg = (f"The global pull secret has no {TELEMETRY_HOST} entry, so the cluster does not report Telemetry (and "
           f"Insights) to Red Hat. This does not affect image pulls: {TELEMETRY_HOST} is not a registry. If it was "
           f"not meant to be off, add the {TELEMETRY_HOST} entry of the pull secret from {CONSOLE_PULL_SECRET} "
           f"(kubectl pullsecret fix global set --registry {TELEMETRY_HOST} ...).")
    yield finding("global-pull-secret-telemetry-missing", Severity.INFO, GLOBAL_REF, msg)


# --- MachineConfigPool rollout -----------------------------------------------------

def pools(ctx: Context) -> list[Obj]:
    return ctx.snapshot.of("MachineConfigPool") if ctx.openshift else []


def pool_ref(pool: Obj) -> ObjectRef:
    return ObjectRef("MachineConfigPool", None, str(meta(pool).get("name") or ""))


def rollout_state(pool: Obj) -> str | None:
    """Why a pool has not finished rolling out its configuration, or None when it has
    (or its status does not say)."""
    spec_name = _dig(pool, "spec", "configuration", "name")
    raw = pool.get("status")
    status: dict[str, Any] = raw if isinstance(raw, dict) else {}
    status_name = _dig(status, "configuration", "name")
    machines = _int(status.get("machineCount"))
    updated = _int(status.get("updatedMachineCount"))
    degraded = _int(status.get("degradedMachineCount")) or 0
    parts = []
    if isinstance(spec_name, str) and spec_name and status_name != spec_name:
        parts.append(f"rendering {spec_name}, nodes at {status_name or '(none yet)'}")
    if machines is not None and updated is not None and updated != machines:
        parts.append(f"{updated} of {machines} machines updated")
    if not parts:
        return None
    if degraded > 0:
        parts.append(f"{degraded} degraded")
    if _dig(pool, "spec", "paused") is True:
        parts.append("paused: it does not roll out until unpaused")
    return "; ".join(parts)


def check_rollout(ctx: Context) -> Iterator[Finding]:
    """OpenShift: a MachineConfigPool has not finished rolling out, so its nodes may hold an older global pull secret."""
    for pool in pools(ctx):
        state = rollout_state(pool)
        if state is None:
            continue
        ref = pool_ref(pool)
        name = ref.name or ""
        msg = (f"MachineConfigPool {name} has not finished rolling out ({state}). A change to the global pull secret "
               "reaches a node's /var/lib/kubelet/config.json only when its pool finishes: until then nodes not yet "
               "updated pull with the previous credentials.")
        steps = ["oc get mcp", "oc wait mcp --all --for=condition=Updated --timeout=30m"]
        if "degraded" in state:
            steps.append(f"oc describe mcp {q(name)}   # the degraded nodes' reason")
        if "paused" in state:
            steps.append(f"oc patch mcp {q(name)} --type=merge -p '{{\"spec\":{{\"paused\":false}}}}'")
        yield finding("global-pull-secret-rollout-pending", Severity.WARNING, ref, msg, fix=Fix(None, tuple(steps)))


# --- mirrors ---------------------------------------------------------------------

@dataclass(frozen=True)
class MirrorRule:
    """One source of an IDMS/ITMS/ICSP with its mirrors."""

    kind: str
    name: str
    source: str
    mirrors: tuple[str, ...]
    pulls: str  # "digest" or "tag": the pulls these mirrors serve
    never_contact_source: bool

    @property
    def owner(self) -> str:
        return f"{self.kind}/{self.name}"


@dataclass(frozen=True)
class MirrorPlan:
    """How CRI-O pulls one image through mirrors: the registries.conf entry that applies."""

    source: str
    rules: tuple[MirrorRule, ...]  # the rules of that source (every set that lists it)
    mirrors: tuple[tuple[str, str, MirrorRule], ...]  # (mirror, mirrored name, rule) tried in order
    never_contact_source: bool


def mirror_rules(snapshot: Snapshot) -> list[MirrorRule]:
    out = []
    for kind, (list_field, pulls) in MIRROR_KINDS.items():
        for obj in snapshot.of(kind):
            for item in _dig(obj, "spec", list_field) or []:
                source = item.get("source") if isinstance(item, dict) else None
                if not isinstance(source, str) or not source:
                    continue
                out.append(MirrorRule(kind, str(meta(obj).get("name") or ""), source,
                                      tuple(dict.fromkeys(_strings(item.get("mirrors")))), pulls,
                                      item.get("mirrorSourcePolicy") == "NeverContactSource"))
    return out


def source_remainder(source: str, name: str) -> str | None:
    """registries.conf prefix matching of a mirror source against an image name
    (registry/repository): the rest of the name after the matched prefix ("" or
    "/..."), or None when it does not match. A source is host[:port][/path], matched on
    path-component boundaries; `*.domain` matches any subdomain of domain, and the rest
    is then everything after the host's domain part (sysregistriesv2
    refMatchingSubdomainPrefix). containers/image also lets `example.com` match
    `example.com:5000`, calling that unintended ("DON'T RELY ON THE CURRENT BEHAVIOR"):
    not mirrored here."""
    if source.startswith("*."):
        suffix = source[1:]
        idx = name.find(suffix)
        if idx <= 0 or "/" in name[:idx]:
            return None
        after = idx + len(suffix)
        if after < len(name) and name[after] not in ":/@":
            return None
        return name[after:]
    if name == source:
        return ""
    if name.startswith(source + "/"):
        return name[len(source):]
    return None


def mirror_plan(rules: Iterable[MirrorRule], ref: Reference) -> MirrorPlan | None:
    """The mirrors CRI-O tries for `ref`, or None when no mirror source covers it."""
    matches = [(r, rem) for r in rules if (rem := source_remainder(r.source, ref.name)) is not None]
    if not matches:
        return None
    # FindRegistry: the longest prefix wins (the first of equal length); every set
    # naming that exact source is merged into its one registries.conf entry.
    source = max(matches, key=lambda m: len(m[0].source))[0].source
    entry = [(r, rem) for r, rem in matches if r.source == source]
    pulls = "digest" if ref.digest is not None else "tag"
    mirrors: dict[str, tuple[str, str, MirrorRule]] = {}
    for rule, rem in entry:
        if rule.pulls != pulls:
            continue
        for mirror in rule.mirrors:
            if mirror != source and mirror not in mirrors:
                mirrors[mirror] = (mirror, mirror + rem, rule)
    return MirrorPlan(source, tuple(r for r, _ in entry), tuple(mirrors.values()),
                      any(r.never_contact_source for r, _ in entry))


def plan_of(ctx: Context, res: Resolution) -> MirrorPlan | None:
    """The mirror plan of a container's image (memoised per image), or None."""
    if not ctx.openshift or res.reference is None:
        return None
    plans: dict[Reference, MirrorPlan | None] = ctx.memo.setdefault("mirror_plans", {})
    if res.reference not in plans:
        rules = _rules(ctx)
        plans[res.reference] = mirror_plan(rules, res.reference) if rules else None
    return plans[res.reference]


def _rules(ctx: Context) -> list[MirrorRule]:
    """The cluster's mirror rules, read once per run."""
    if "mirror_rules" not in ctx.memo:
        ctx.memo["mirror_rules"] = mirror_rules(ctx.snapshot)
    rules: list[MirrorRule] = ctx.memo["mirror_rules"]
    return rules


def source_never_contacted(ctx: Context, res: Resolution) -> bool:
    """CRI-O pulls this image only from mirrors (NeverContactSource): the source
    registry's credentials do not matter, the mirrors' do."""
    plan = plan_of(ctx, res)
    return plan is not None and plan.never_contact_source and bool(plan.mirrors)


def mirrored_resolutions(ctx: Context) -> list[Resolution]:
    """Containers whose image CRI-O pulls through at least one mirror, when the node
    credentials are known (without them there is nothing to check)."""
    if ctx.node.config is None:
        return []
    return [r for r in ctx.resolutions if (p := plan_of(ctx, r)) is not None and p.mirrors]


def _mirror_credential_gap(ctx: Context, res: Resolution, mirror: str, mirrored: str) -> str | None:
    """Why CRI-O has no credential for a mirror, or None when it has one."""
    assert res.reference is not None and ctx.node.config is not None
    if mirrored.split("/", 1)[0] == res.reference.registry and res.credentials:
        return None  # same domain: the credential the kubelet chose is sent to the mirror too
    config = ctx.node.config
    found = keyring.cimage_lookup(config, mirrored, legacy=config.format == "dockercfg")
    if found.credentials:
        return None
    if found.helper:
        return "the node file names a credential helper for it, which the node does not have"
    if found.error:
        return f"containers/image cannot read the node file: {found.error}"
    if found.entry is not None:
        reason = found.entry.cimage.error or found.entry.cimage.note or "it yields no credential"
        return f"its entry {found.entry.key!r} gives containers/image no credential ({reason})"
    kubelet = ctx.resolver.node_keyring.lookup(mirrored)
    if kubelet:
        return (f"only entry {kubelet[0].entry.key!r} matches it, under kubelet rules; containers/image (CRI-O) "
                "does not expand wildcards or path prefixes that way")
    return "no entry for it"


def check_mirror_credentials(ctx: Context) -> Iterator[Finding]:
    """OpenShift: an IDMS/ITMS/ICSP mirror for the image has no credential in the global pull secret."""
    node_name = ("the global pull secret" if ctx.node.origin == "global" else
                 f"{ctx.node.origin} (--authfile)" if ctx.node.origin else "the node file")
    for res in mirrored_resolutions(ctx):
        plan = plan_of(ctx, res)
        assert plan is not None and res.reference is not None
        gaps = [(mirror, mirrored, rule, why) for mirror, mirrored, rule in plan.mirrors
                if (why := _mirror_credential_gap(ctx, res, mirror, mirrored)) is not None]
        if not gaps:
            continue
        some_work = len(gaps) < len(plan.mirrors)
        owners = ", ".join(dict.fromkeys(r.owner for _, _, r, _ in gaps))
        listed = "; ".join(f"{mirrored} ({why})" for _, mirrored, _, why in gaps)
        pulls = "digest" if res.reference.digest is not None else "tag"
        msg = (f"{res.reference.name} is pulled by {pulls} through the mirrors of {plan.source} ({owners}). CRI-O "
               f"gives a mirror on another domain than {res.reference.registry} the node's credential from "
               f"/var/lib/kubelet/config.json ({node_name}), never the pod's pull secrets; these mirrors have none "
               f"there: {listed}. That is fine only if the mirror allows anonymous pulls (not known without a probe "
               "from a node).")
        if some_work:
            msg += " A later mirror has a credential, so the pull can still succeed through it."
        elif plan.never_contact_source:
            msg += (f" mirrorSourcePolicy NeverContactSource: CRI-O never tries {plan.source} itself, so the pull "
                    "fails unless a mirror lets it in.")
        else:
            msg += (f" When every mirror fails, CRI-O falls back to {plan.source} itself, which works only if the "
                    "nodes can reach it.")
        host = gaps[0][1].split("/", 1)[0]
        fix = update_credential_fix(ctx, "global", host, "")
        yield for_container("mirror-credential-missing", Severity.WARNING if some_work else Severity.ERROR, res, msg,
                            fix)


# --- registry policy (image.config registrySources) ------------------------------

@lru_cache(maxsize=8192)  # asked once per registrySources entry and container
def policy_scopes(ref: Reference) -> tuple[str, ...]:
    """containers/image policy.json scopes for a docker reference, most specific first:
    the identity (name:tag or name@digest), the name, each parent namespace down to
    host[:port], then `*.domain` for each parent domain of the host without port
    (docker/policyconfiguration DockerReferenceNamespaces)."""
    identity = f"{ref.name}@{ref.digest}" if ref.digest else f"{ref.name}:{ref.tag}"
    scopes = [identity]
    name = ref.name
    while True:
        scopes.append(name)
        if "/" not in name:
            break
        name = name.rsplit("/", 1)[0]
    host = strip_port(ref.registry)
    while "." in host:
        host = host.split(".", 1)[1]
        scopes.append("*." + host)
    return tuple(scopes)


def scope_matches(entry: str, ref: Reference) -> bool:
    """Does a registrySources entry (host[:port][/path], or `*.domain`) cover the image?"""
    return entry in policy_scopes(ref)


def _payload(snapshot: Snapshot) -> Reference | None:
    image = _dig(_cluster_version(snapshot), "status", "desired", "image")
    if not isinstance(image, str):
        return None
    try:
        return reference.parse(image)
    except reference.InvalidReference:
        return None


def _payload_exempt(ctx: Context, entry: str, ref: Reference) -> bool:
    """MCO getValidBlockedAndAllowedRegistries: a blocked entry covering the release
    payload repository is dropped (an error on the MCO) unless the payload has a mirror,
    and the payload repository itself stays allowed."""
    if "payload" not in ctx.memo:
        ctx.memo["payload"] = _payload(ctx.snapshot)
    payload: Reference | None = ctx.memo["payload"]
    if payload is None or not scope_matches(entry, payload):
        return False
    if ref.name == payload.name or ref.name.startswith(payload.name + "/"):
        return True
    plan = mirror_plan(_rules(ctx), payload)
    return plan is None or not plan.mirrors


def _sources(ctx: Context) -> tuple[list[str], list[str]]:
    sources = _dig(image_config(ctx.snapshot), "spec", "registrySources")
    return _strings(_dig(sources, "blockedRegistries")), _strings(_dig(sources, "allowedRegistries"))


def _json_patch(ops: list[dict[str, Any]]) -> str:
    return f"oc patch image.config.openshift.io/cluster --type=json -p {q(json.dumps(ops))}"


def _policy_problem(ctx: Context, ref: Reference, blocked: list[str],
                    allowed: list[str]) -> tuple[str, Fix] | None:
    rollout = "# the Machine Config Operator then rolls the change out to every node (oc get mcp)"
    if blocked:
        hit = next(((i, e) for i, e in enumerate(blocked) if scope_matches(e, ref)), None)
        if hit is not None and not _payload_exempt(ctx, hit[1], ref):
            i, entry = hit
            msg = (f"{ref.name} is blocked: image.config.openshift.io/cluster spec.registrySources.blockedRegistries "
                   f"lists {entry!r}. The Machine Config Operator writes it to every node's "
                   "/etc/containers/registries.conf and policy.json, so CRI-O refuses the pull (\"registry "
                   f"{entry} is blocked in /etc/containers/registries.conf\" or \"Source image rejected: Running "
                   f"image docker://{ref} is rejected by policy\"), whatever the credentials.")
            path = f"/spec/registrySources/blockedRegistries/{i}"
            fix = Fix(None, (_json_patch([{"op": "test", "path": path, "value": entry},
                                          {"op": "remove", "path": path}]), rollout))
            return msg, fix
    elif allowed and not any(scope_matches(e, ref) for e in allowed):
        msg = (f"{ref.registry} is not allowed: image.config.openshift.io/cluster spec.registrySources."
               f"allowedRegistries ({', '.join(allowed)}) covers no scope of {ref.name}, and every other registry is "
               "rejected by the nodes' /etc/containers/policy.json, so CRI-O refuses the pull (\"Source image "
               f"rejected: Running image docker://{ref} is rejected by policy\"), whatever the credentials.")
        fix = Fix(None, (_json_patch([{"op": "add", "path": "/spec/registrySources/allowedRegistries/-",
                                       "value": ref.registry}]), rollout))
        return msg, fix
    return None


def _never_contact_problem(ctx: Context, res: Resolution) -> tuple[str, Fix] | None:
    """NeverContactSource blocks the source for every pull, but a set's mirrors serve
    only digest (IDMS/ICSP) or tag (ITMS) pulls: the other kind has nowhere to go."""
    plan = plan_of(ctx, res)
    if plan is None or not plan.never_contact_source or plan.mirrors:
        return None
    assert res.reference is not None
    pulls = "digest" if res.reference.digest is not None else "tag"
    other = "tag" if pulls == "digest" else "digest"
    owners = ", ".join(dict.fromkeys(r.owner for r in plan.rules if r.never_contact_source))
    msg = (f"{res.reference.name} is pulled by {pulls}, and {owners} sets mirrorSourcePolicy NeverContactSource for "
           f"{plan.source}: the nodes' registries.conf blocks {plan.source}, and its mirrors serve only {other} "
           f"pulls. CRI-O has nowhere to pull from (\"registry {plan.source} is blocked in "
           "/etc/containers/registries.conf\").")
    first = next(r for r in plan.rules if r.never_contact_source)
    instead = ("pull by digest (image: NAME@sha256:...), add an ImageTagMirrorSet for " if pulls == "tag"
               else "add an ImageDigestMirrorSet for ") + plan.source
    steps = (f"# {instead}, or set mirrorSourcePolicy: AllowContactSource:",
             f"oc edit {first.kind.lower()}/{q(first.name)}")
    return msg, Fix(None, steps)


def policy_resolutions(ctx: Context) -> list[Resolution]:
    """Containers a registry policy applies to: every image when registrySources blocks
    or allows registries, and images under a NeverContactSource mirror source."""
    if not ctx.openshift:
        return []
    blocked, allowed = _sources(ctx)
    return [r for r in ctx.resolutions if r.reference is not None and (
        blocked or allowed or ((p := plan_of(ctx, r)) is not None and p.never_contact_source))]


def check_registry_blocked(ctx: Context) -> Iterator[Finding]:
    """OpenShift: image.config.openshift.io blocks (or does not allow) the image's registry, so CRI-O refuses the pull."""
    blocked, allowed = _sources(ctx) if ctx.openshift else ([], [])
    for res in policy_resolutions(ctx):
        assert res.reference is not None
        problem = _policy_problem(ctx, res.reference, blocked, allowed) or _never_contact_problem(ctx, res)
        if problem is not None:
            yield for_container("registry-blocked", Severity.ERROR, res, *problem)

