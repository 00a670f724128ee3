"""What every check receives, and the helpers that build findings and fix commands."""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from kubectl_pullsecret.dockerconfig import TYPE_FOR_KEY
from kubectl_pullsecret.findings import Finding, Fix, ObjectRef, Severity
from kubectl_pullsecret.probe_model import ImageProbe, LoginPlan, NodeRun, Result
from kubectl_pullsecret.resolve import (
    GLOBAL_PULL_SECRET,
    NodeCredentials,
    Resolution,
    Resolver,
    Scope,
    Subject,
)
from kubectl_pullsecret.snapshot import Snapshot

DEFAULT_INTERNAL_REGISTRY = "image-registry.openshift-image-registry.svc:5000"
# What a suggested command holds where only the user knows the value (fix TARGET asks
# for them, or leaves the fix to the user).
USER, REGISTRY, PATH = "USER", "REGISTRY", "PATH"
PLACEHOLDERS = frozenset({USER, REGISTRY, PATH})


@dataclass(frozen=True)
class Context:
    snapshot: Snapshot
    scope: Scope
    resolver: Resolver
    node: NodeCredentials
    resolutions: tuple[Resolution, ...]
    probe: bool = False  # registry probes ran (they decide anonymous-vs-denied)
    image_probes: dict[int, ImageProbe] = field(default_factory=dict)  # id(resolution) -> its probe
    logins: tuple[tuple[LoginPlan, Result | None], ...] = ()  # secret/NAME targets: one per entry
    nodes: NodeRun | None = None  # --from-nodes: what the probe pods brought back
    internal_registries: frozenset[str] = field(default_factory=lambda: frozenset({DEFAULT_INTERNAL_REGISTRY}))
    selected: tuple[str, ...] = ()  # the check ids this run runs
    memo: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)  # per-run derived data

    @property
    def openshift(self) -> bool:
        return self.snapshot.openshift

    @property
    def node_unknown(self) -> bool:
        """The nodes' credentials could not be read (live, the global pull secret refused)."""
        if self.node.origin is not None and self.node.origin.startswith("file:"):
            return False
        return self.snapshot.is_denied("Secret", *GLOBAL_PULL_SECRET) is not None

    def probe_of(self, res: Resolution) -> ImageProbe | None:
        return self.image_probes.get(id(res))

    def node_probes_of(self, res: Resolution) -> tuple[ImageProbe, ...]:
        return self.nodes.probes.get(id(res), ()) if self.nodes is not None else ()

    def resolutions_of(self, subject: Subject) -> tuple[Resolution, ...]:
        """The subject's containers, in order (grouped once per run: a scan of every
        resolution per subject would be quadratic in the pod count)."""
        by_subject: dict[int, tuple[Resolution, ...]] | None = self.memo.get("resolutions_by_subject")
        if by_subject is None:
            groups: dict[int, list[Resolution]] = {}
            for res in self.resolutions:
                groups.setdefault(id(res.subject), []).append(res)
            by_subject = {key: tuple(group) for key, group in groups.items()}
            self.memo["resolutions_by_subject"] = by_subject
        return by_subject.get(id(subject), ())


def internal_registries(snapshot: Snapshot) -> frozenset[str]:
    """OpenShift internal registry hosts: image.config.openshift.io/cluster status,
    plus the default service name."""
    hosts = {DEFAULT_INTERNAL_REGISTRY}
    for image_config in snapshot.of("Image"):
        status = image_config.get("status") or {}
        if isinstance(status.get("internalRegistryHostname"), str):
            hosts.add(status["internalRegistryHostname"])
        for h in status.get("externalRegistryHostnames") or []:
            if isinstance(h, str):
                hosts.add(h)
    return frozenset(hosts)


def q(text: str) -> str:
    """Shell-quote for a copy-paste command line."""
    return shlex.quote(text)


def ns_flag(namespace: str | None) -> str:
    return f" -n {q(namespace)}" if namespace else ""


def finding(check: str, severity: Severity, obj: ObjectRef, message: str, *,
            container: str | None = None, image: str | None = None, fix: Fix | None = None) -> Finding:
    return Finding(check, severity, obj, message, container, image, fix)


def for_container(check: str, severity: Severity, res: Resolution, message: str, fix: Fix | None = None) -> Finding:
    return Finding(check, severity, res.subject.ref, message, res.container.name or None,
                   res.container.image or None, fix)


# --- fix commands ------------------------------------------------------------

def restart_fix(subject: Subject) -> Fix | None:
    """Recreate the pods of a subject so admission injects the SA's pull secrets again."""
    ref = subject.ref
    target = subject.owner or ref
    ns = ns_flag(target.namespace)
    if target.kind == "Pod":
        return Fix(f"kubectl pullsecret fix restart pod/{target.name}{ns}",
                   (f"oc delete pod {q(target.name or '')}{ns}   # a bare pod is not recreated: re-apply its manifest",))
    if target.kind in ("Deployment", "StatefulSet", "DaemonSet"):
        equivalent = f"oc rollout restart {target.kind.lower()}/{target.name}{ns}"
    elif target.kind == "DeploymentConfig":
        equivalent = f"oc rollout latest dc/{target.name}{ns}"
    else:
        equivalent = f"oc delete pod -l <{target.kind.lower()} selector>{ns}"
    return Fix(f"kubectl pullsecret fix restart {target.kind.lower()}/{target.name}{ns}", (equivalent,))


def create_secret_fix(namespace: str, secret: str, registry: str, username: str | None,
                      link_sa: str | None, restart: Subject | None = None) -> Fix:
    """Create a docker-registry pull secret (and link it to the SA for pulls)."""
    ns = ns_flag(namespace)
    user = q(username) if username else USER
    command = (f"kubectl pullsecret fix create {q(secret)} --docker-server {q(registry)} "
               f"--docker-username {user} --docker-password-stdin")
    if link_sa:
        command += f" --link {q(link_sa)}"
    command += ns
    equivalent = [f"oc create secret docker-registry {q(secret)} --docker-server={q(registry)} "
                  f"--docker-username={user} --docker-password=PASSWORD --docker-email=EMAIL{ns}"]
    if link_sa:
        equivalent.append(f"oc secrets link {q(link_sa)} {q(secret)} --for=pull{ns}")
    if restart is not None and restart.created:
        r = restart_fix(restart)
        if r is not None:
            equivalent.extend(r.equivalent)
    return Fix(command, tuple(equivalent))


def patch_target(subject: Subject) -> ObjectRef | None:
    """Where a pod's imagePullSecrets can be changed: a pod's are immutable, so its
    owner's template (None for a bare pod); a workload's own template."""
    if subject.ref.kind == "Pod":
        return subject.owner if subject.owner is not None and subject.owner.kind != "Pod" else None
    return subject.ref if subject.ref.kind != "Image" else None


def add_pull_secret_patches(target: ObjectRef, names: Iterable[str]) -> tuple[str, ...]:
    """JSON patches appending pull secrets to a workload template (the list is kept)."""
    ns = ns_flag(target.namespace)
    path = ("/spec/jobTemplate/spec/template/spec/imagePullSecrets/-" if target.kind == "CronJob"
            else "/spec/template/spec/imagePullSecrets/-")
    return tuple(f"kubectl patch {target.kind.lower()} {q(target.name or '')}{ns} --type=json -p "
                 + q(json.dumps([{"op": "add", "path": path, "value": {"name": n}}])) for n in names)


def uses_own_pull_secrets(subject: Subject) -> bool:
    """The pods list their own pull secrets: the SA's are never added to them."""
    return bool(subject.own_pull_secrets) and not subject.pull_secrets_from_sa


def template_steps(subject: Subject, secret: str) -> tuple[str, ...]:
    """How a secret gets into pods that list their own pull secrets: the owner's template
    patched, or (a bare pod) the manifest edited."""
    target = patch_target(subject)
    return (add_pull_secret_patches(target, [secret]) if target is not None
            else (f"# add {secret} to the pod manifest's imagePullSecrets and re-create the pod",))


def credential_fix(subject: Subject, secret: str, registry: str, username: str | None) -> Fix:
    """Create a pull secret for a subject and make its pods use it: link it to the SA,
    unless the pods list their own pull secrets (then the SA's are never added, and the
    secret must go into the template)."""
    ns = subject.ref.namespace or "default"
    if uses_own_pull_secrets(subject):
        base = create_secret_fix(ns, secret, registry, username, None)
        return Fix(base.command, base.equivalent + template_steps(subject, secret))
    return create_secret_fix(ns, secret, registry, username, subject.sa_name, restart=subject)


def recreate_from_file_fix(namespace: str, secret: str, fmt_key: str, link_sa: str | None) -> Fix:
    """Replace a pull secret from a credential file (type is immutable: delete + create)."""
    ns = ns_flag(namespace)
    stype = TYPE_FOR_KEY[fmt_key]
    # --overwrite: the secret exists (wrong type or malformed); fix create keeps a backup.
    command = f"kubectl pullsecret fix create {q(secret)} --from-file {PATH} --overwrite"
    if link_sa:
        command += f" --link {q(link_sa)}"
    command += ns
    equivalent = [
        f"oc delete secret {q(secret)}{ns}",
        f"oc create secret generic {q(secret)} --from-file={fmt_key}=PATH --type={stype}{ns}",
    ]
    if link_sa:
        equivalent.append(f"oc secrets link {q(link_sa)} {q(secret)} --for=pull{ns}")
    return Fix(command, tuple(equivalent))


def join_names(names: Iterable[str]) -> str:
    return ", ".join(names)
