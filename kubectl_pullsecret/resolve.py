"""From a snapshot and targets to what each container will pull with (pure).

A *subject* is anything that pulls images: a pod, a workload's pod template (so a
workload is diagnosed before any pod exists), or an `--image` given on the command
line. For each container it resolves the image reference and the credentials the
kubelet will try, in order.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Any

from kubectl_pullsecret import dockerconfig, keyring, reference
from kubectl_pullsecret.errors import UsageError
from kubectl_pullsecret.findings import ObjectRef
from kubectl_pullsecret.snapshot import Obj, Snapshot, meta, secret_value

DOCKERCONFIGJSON = dockerconfig.TYPE_FOR_FORMAT["dockerconfigjson"]
DOCKERCFG = dockerconfig.TYPE_FOR_FORMAT["dockercfg"]
GLOBAL_PULL_SECRET = ("openshift-config", "pull-secret")

KIND_ALIASES: dict[str, str] = {}
for _kind, _aliases in {
    "Pod": ("pod", "pods", "po"),
    "Deployment": ("deployment", "deployments", "deploy"),
    "StatefulSet": ("statefulset", "statefulsets", "sts"),
    "DaemonSet": ("daemonset", "daemonsets", "ds"),
    "ReplicaSet": ("replicaset", "replicasets", "rs"),
    "ReplicationController": ("replicationcontroller", "replicationcontrollers", "rc"),
    "Job": ("job", "jobs"),
    "CronJob": ("cronjob", "cronjobs", "cj"),
    "DeploymentConfig": ("deploymentconfig", "deploymentconfigs", "dc"),
    "ServiceAccount": ("serviceaccount", "serviceaccounts", "sa"),
    "Secret": ("secret", "secrets"),
}.items():
    for _n in _aliases:
        KIND_ALIASES[_n] = _kind

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController",
                  "Job", "CronJob", "DeploymentConfig")
# Workloads created by another workload; diagnosed through their owner.
_CHILD_KINDS = {"ReplicaSet": "Deployment", "ReplicationController": "DeploymentConfig", "Job": "CronJob"}


@dataclass(frozen=True)
class Target:
    kind: str
    name: str

    @classmethod
    def parse(cls, text: str) -> Target:
        kind, sep, name = text.partition("/")
        canonical = KIND_ALIASES.get(kind.split(".", 1)[0].lower())
        if not sep or not name or canonical is None or "/" in name:
            raise UsageError(
                f"target {text!r}: expected KIND/NAME with KIND one of pod, deployment, statefulset, daemonset, "
                "replicaset, job, cronjob, deploymentconfig, serviceaccount (sa), secret")
        return cls(canonical, name)


# --- label selectors ---------------------------------------------------------

# `in`/`notin` need whitespace before them, else "kin (a)" would read as "k in (a)".
_SET_RE = re.compile(r"^\s*(!?)\s*([\w./-]+)(?:\s+(in|notin)\s*\(([^)]*)\)|\s*(==|=|!=)\s*([\w./-]*))?\s*$")


def parse_selector(text: str) -> list[tuple[str, str, frozenset[str]]]:
    """kubectl label selector syntax: k=v, k==v, k!=v, k, !k, k in (a,b), k notin (a)."""
    requirements: list[tuple[str, str, frozenset[str]]] = []
    parts = re.split(r",(?![^(]*\))", text) if text.strip() else []
    for part in parts:
        m = _SET_RE.match(part)
        if not m:
            raise UsageError(f"-l {text!r}: cannot parse requirement {part.strip()!r}")
        bang, key, set_op, values, op, value = m.groups()
        if bang:
            if set_op or op:
                raise UsageError(f"-l {text!r}: '!' takes a key only")
            requirements.append((key, "!exists", frozenset()))
        elif set_op:
            requirements.append((key, set_op, frozenset(v.strip() for v in values.split(",") if v.strip())))
        elif op:
            requirements.append((key, "!=" if op == "!=" else "=", frozenset({value})))
        else:
            requirements.append((key, "exists", frozenset()))
    return requirements


def selector_matches(requirements: Sequence[tuple[str, str, frozenset[str]]], labels: Mapping[str, Any]) -> bool:
    for key, op, values in requirements:
        present = key in labels
        value = str(labels.get(key)) if present else None
        ok = {
            "exists": present,
            "!exists": not present,
            "=": present and value in values,
            "in": present and value in values,
            "!=": not present or value not in values,
            "notin": not present or value not in values,
        }[op]
        if not ok:
            return False
    return True


# --- subjects ----------------------------------------------------------------

@dataclass(frozen=True)
class Container:
    name: str
    image: str
    init: bool = False


@dataclass(frozen=True)
class Subject:
    ref: ObjectRef
    obj: Obj
    spec: Mapping[str, Any]
    sa_name: str
    containers: tuple[Container, ...]
    own_pull_secrets: tuple[str, ...]  # listed in the pod spec / template
    pull_secrets: tuple[str, ...]  # what the kubelet uses (after SA admission, for templates)
    # pull_secrets came from the SA through admission (not listed by the user): known
    # for templates; for an existing pod read off its owner's template when the input
    # has it, else guessed (all of them are the SA's).
    pull_secrets_from_sa: bool
    created: bool  # an existing pod (admission already ran); False for templates
    owner: ObjectRef | None = None  # the workload to restart, for pods


def pod_spec(kind: str, obj: Obj) -> Mapping[str, Any]:
    """A pod's spec, or the pod template's spec of a workload (a CronJob's job template's)."""
    spec = obj.get("spec") or {}
    if kind == "Pod":
        return spec if isinstance(spec, dict) else {}
    if kind == "CronJob":
        spec = ((spec.get("jobTemplate") or {}).get("spec") or {})
    template = (spec.get("template") or {}) if isinstance(spec, dict) else {}
    inner = template.get("spec") if isinstance(template, dict) else None
    return inner if isinstance(inner, dict) else {}


def _names(refs: Any) -> tuple[str, ...]:
    if not isinstance(refs, list):
        return ()
    return tuple(r["name"] for r in refs if isinstance(r, dict) and isinstance(r.get("name"), str) and r["name"])


def sa_pull_secrets(obj: Mapping[str, Any] | None) -> tuple[str, ...]:
    """The imagePullSecrets names a service account (or a pod spec) lists."""
    return _names((obj or {}).get("imagePullSecrets"))


def pod_sa_name(spec: Mapping[str, Any]) -> str:
    return str(spec.get("serviceAccountName") or spec.get("serviceAccount") or "default")


def _controller_of(obj: Obj) -> tuple[str, str] | None:
    for owner in meta(obj).get("ownerReferences") or []:
        if isinstance(owner, dict) and owner.get("controller") and owner.get("kind") and owner.get("name"):
            return str(owner["kind"]), str(owner["name"])
    return None


def top_owner(snapshot: Snapshot, kind: str, namespace: str, obj: Obj,
              _seen: frozenset[tuple[str, str]] = frozenset()) -> ObjectRef | None:
    """The workload a restart acts on: Deployment over ReplicaSet, CronJob over Job,
    DeploymentConfig over ReplicationController. A ReplicaSet missing from the input
    is traced to its Deployment by the pod-template-hash suffix. Ownership cycles (a
    hand-edited dump) stop at the first repeat."""
    owner = _controller_of(obj)
    if owner is None or owner in _seen:
        return None
    o_kind, o_name = owner
    parent = snapshot.get(o_kind, namespace, o_name)
    if parent is not None:
        return (top_owner(snapshot, o_kind, namespace, parent, _seen | {owner})
                or ObjectRef(o_kind, namespace, o_name))
    if o_kind == "ReplicaSet":
        pod_hash = (meta(obj).get("labels") or {}).get("pod-template-hash")
        if pod_hash and o_name.endswith("-" + str(pod_hash)):
            return ObjectRef("Deployment", namespace, o_name[: -len(str(pod_hash)) - 1])
    return ObjectRef(o_kind, namespace, o_name)


def make_subject(snapshot: Snapshot, kind: str, obj: Obj) -> Subject:
    m = meta(obj)
    namespace = str(m.get("namespace") or "default")
    spec = pod_spec(kind, obj)
    sa_name = pod_sa_name(spec)
    containers = tuple(
        Container(str(c.get("name") or f"#{i}"), c["image"] if isinstance(c.get("image"), str) else "", init)
        for init, key in ((True, "initContainers"), (False, "containers"))
        for i, c in enumerate(spec.get(key) or [])
        if isinstance(c, dict)
    )
    own = _names(spec.get("imagePullSecrets"))
    created = kind == "Pod" and bool(m.get("creationTimestamp") or m.get("uid"))
    pulls, from_sa = own, False
    if created:
        from_sa = _injected(snapshot, namespace, obj, sa_name, own)
    elif not own:
        # ServiceAccount admission (plugin/pkg/admission/serviceaccount): a pod that
        # lists no pull secrets gets its SA's, once, at creation.
        sa_secrets = sa_pull_secrets(snapshot.get("ServiceAccount", namespace, sa_name))
        if sa_secrets:
            pulls, from_sa = sa_secrets, True
    return Subject(
        ref=ObjectRef(kind, namespace, str(m.get("name") or "")),
        obj=obj,
        spec=spec,
        sa_name=sa_name,
        containers=containers,
        own_pull_secrets=own,
        pull_secrets=pulls,
        pull_secrets_from_sa=from_sa,
        created=created,
        owner=top_owner(snapshot, kind, namespace, obj) if kind == "Pod" else None,
    )


def image_subject(image: str, namespace: str, sa_name: str, snapshot: Snapshot) -> Subject:
    """`--image REF`: a pod that would be created now in `namespace` with SA `sa_name`."""
    sa_secrets = sa_pull_secrets(snapshot.get("ServiceAccount", namespace, sa_name))
    return Subject(
        ref=ObjectRef("Image", namespace, image),
        obj={},
        spec={},
        sa_name=sa_name,
        containers=(Container("", image),),
        own_pull_secrets=(),
        pull_secrets=sa_secrets,
        pull_secrets_from_sa=bool(sa_secrets),
        created=False,
    )


@dataclass(frozen=True)
class Scope:
    """What a doctor run looks at."""

    subjects: tuple[Subject, ...]
    service_accounts: tuple[tuple[str, str], ...]  # (namespace, name), sorted
    secrets: tuple[tuple[str, str], ...]  # secrets named as targets


def select(snapshot: Snapshot, targets: Sequence[Target], namespaces: Sequence[str] | None,
           selector: str | None, images: Sequence[str] = (), image_sa: str = "default") -> Scope:
    """Resolve targets to subjects. `namespaces` None means every namespace."""
    requirements = parse_selector(selector) if selector else []

    def in_scope(obj: Obj) -> bool:
        ns = str(meta(obj).get("namespace") or "default")
        if namespaces is not None and ns not in namespaces:
            return False
        return selector_matches(requirements, meta(obj).get("labels") or {})

    subjects: list[Subject] = []
    sas: set[tuple[str, str]] = set()
    secrets: set[tuple[str, str]] = set()
    if targets:
        target_ns = list(namespaces) if namespaces is not None else snapshot.namespaces() or ["default"]
        for target in targets:
            hits = [(ns, snapshot.get(target.kind, ns, target.name)) for ns in target_ns]
            found = [(ns, o) for ns, o in hits if o is not None]
            if not found:
                where = f"namespace {target_ns[0]}" if len(target_ns) == 1 else "the input"
                raise UsageError(f"{target.kind.lower()}/{target.name} not found in {where}")
            for ns, obj in found:
                if target.kind == "ServiceAccount":
                    sas.add((ns, target.name))
                elif target.kind == "Secret":
                    secrets.add((ns, target.name))
                else:
                    subjects.append(make_subject(snapshot, target.kind, obj))
    elif not images:
        pods = [p for p in snapshot.of("Pod") if in_scope(p)]
        subjects.extend(make_subject(snapshot, "Pod", p) for p in pods)
        # Workloads whose pods are not in the input (not created yet, or not dumped)
        # are diagnosed by their template.
        with_pods = {(s.owner.kind, s.owner.namespace, s.owner.name) for s in subjects if s.owner}
        for kind in WORKLOAD_KINDS:
            for obj in snapshot.of(kind):
                if not in_scope(obj):
                    continue
                ns = str(meta(obj).get("namespace") or "default")
                if kind in _CHILD_KINDS and _controller_of(obj):
                    continue
                if (kind, ns, str(meta(obj).get("name"))) in with_pods:
                    continue
                subjects.append(make_subject(snapshot, kind, obj))
    for image in images:
        for ns in (namespaces or ["default"]):
            subjects.append(image_subject(image, ns, image_sa, snapshot))
    for s in subjects:
        if s.ref.kind != "Image" or snapshot.get("ServiceAccount", s.ref.namespace, s.sa_name):
            sas.add((s.ref.namespace or "default", s.sa_name))
    subjects.sort(key=lambda s: (s.ref.namespace or "", s.ref.kind, s.ref.name or ""))
    return Scope(tuple(subjects), tuple(sorted(sas)), tuple(sorted(secrets)))


# --- pull secrets ------------------------------------------------------------

@dataclass(frozen=True)
class SecretState:
    """A referenced pull secret as the kubelet will see it.

    status: ok | missing | absent-from-input | wrong-type | malformed | unavailable
    """

    namespace: str
    name: str
    status: str
    obj: Obj | None = None
    config: dockerconfig.DockerConfig | None = None
    # wrong-type / malformed / unavailable: what is wrong, one safe phrase ("is of type
    # Opaque"), and (wrong-type) what the kubelet does about it.
    cause: str = ""
    effect: str = ""
    data_key: str | None = None

    @property
    def problem(self) -> str:
        """The cause and its effect, one safe sentence."""
        return f"{self.cause}; {self.effect}" if self.effect else self.cause

    @property
    def source_name(self) -> str:
        return f"secret/{self.namespace}/{self.name}"

    @property
    def usable(self) -> bool:
        return self.status == "ok" and self.config is not None

    @property
    def unknown(self) -> bool:
        """The input does not tell what the secret holds (offline dumps)."""
        return self.status in ("unavailable", "absent-from-input")


_IGNORED = "the kubelet silently ignores it"


def read_secret(snapshot: Snapshot, namespace: str, name: str) -> SecretState:
    obj = snapshot.get("Secret", namespace, name)
    if obj is None:
        if snapshot.covers("Secret", namespace):
            return SecretState(namespace, name, "missing")
        return SecretState(namespace, name, "absent-from-input")
    stype = str(obj.get("type") or "Opaque")
    data = obj.get("data")
    keys = set(data) if isinstance(data, dict) else set()
    # secrets.go MakeDockerKeyring: only these two types, each with its own data key.
    fmt = dockerconfig.FORMAT_FOR_TYPE.get(stype)
    if fmt is None:
        held = sorted(keys & set(dockerconfig.TYPE_FOR_KEY))
        hint = (f"; it holds a {held[0]} key, so it must be re-created with type {dockerconfig.TYPE_FOR_KEY[held[0]]}"
                if held else "")
        return SecretState(namespace, name, "wrong-type", obj, cause=f"is of type {stype}", effect=(
            f"the kubelet only reads {DOCKERCONFIGJSON} and {DOCKERCFG} secrets and silently ignores this one{hint}"))
    key = dockerconfig.KEY_FOR_FORMAT[fmt]
    if key not in keys:
        other = sorted((keys & set(dockerconfig.TYPE_FOR_KEY)) - {key})
        if not keys and snapshot.offline:
            return SecretState(namespace, name, "unavailable", obj, cause="has no data in the input", data_key=key)
        detail = (f"but its data key is {other[0]} (type and key must agree)" if other
                  else f"but has no {key} key")
        return SecretState(namespace, name, "wrong-type", obj, data_key=key, cause=f"is of type {stype} {detail}",
                           effect=_IGNORED)
    raw = secret_value(obj, key)
    if raw is None:
        if snapshot.offline:
            return SecretState(namespace, name, "unavailable", obj, data_key=key,
                               cause=f"has no readable {key} value in the input (absent, empty or redacted)")
        return SecretState(namespace, name, "wrong-type", obj, data_key=key,
                           cause=f"has an empty {key} value", effect=_IGNORED)
    config = dockerconfig.parse(raw, fmt, where="")
    if config.all_errors():
        return SecretState(namespace, name, "malformed", obj, config, data_key=key,
                           cause="; ".join(config.all_errors()))
    if config.shape_error:
        return SecretState(namespace, name, "wrong-type", obj, config, data_key=key,
                           cause=f"{key} {config.shape_error}")
    return SecretState(namespace, name, "ok", obj, config, data_key=key)


# --- resolution ----------------------------------------------------------------

@dataclass(frozen=True)
class NodeCredentials:
    """The node keyring: --authfile, else the global pull secret when in the input."""

    sources: tuple[keyring.Source, ...]
    origin: str | None  # "file:<path>", "global" or None
    problem: str | None = None  # set when the node file cannot be parsed (kubelet ignores it)
    config: dockerconfig.DockerConfig | None = None


def node_credentials(snapshot: Snapshot, authfile: tuple[str, bytes] | None) -> NodeCredentials:
    if authfile is not None:
        path, data = authfile
        fmt = dockerconfig.detect_format(data)
        config = dockerconfig.parse(data, fmt)
        origin = f"file:{path}"
    else:
        state = read_secret(snapshot, *GLOBAL_PULL_SECRET)
        if state.config is None:
            return NodeCredentials((), None)
        config, origin = state.config, "global"
    problem = "; ".join(config.all_errors()) or config.shape_error
    if config.all_errors():
        # The kubelet logs a node config it cannot decode and uses no node credentials.
        return NodeCredentials((), origin, problem, config)
    return NodeCredentials((keyring.Source(origin, config, node=True),), origin, problem, config)


@dataclass(frozen=True)
class Resolution:
    subject: Subject
    container: Container
    reference: reference.Reference | None
    reference_error: str | None
    secrets: tuple[SecretState, ...]  # the subject's pull secrets, in order
    credentials: tuple[keyring.Credential, ...]  # kubelet try order
    keyring_error: bool  # a pod secret fails to decode: the kubelet fails the pull
    pod_sources: tuple[keyring.Source, ...] = field(default=())


@dataclass
class Resolver:
    snapshot: Snapshot
    node: NodeCredentials
    _secrets: dict[tuple[str, str], SecretState] = field(default_factory=dict)
    _keyrings: dict[tuple[str, tuple[str, ...]], tuple[
        tuple[SecretState, ...], tuple[keyring.Source, ...], keyring.Keyring,
        dict[str, tuple[keyring.Credential, ...]]]] = field(default_factory=dict)

    @cached_property
    def node_keyring(self) -> keyring.Keyring:
        """The nodes' keyring, built once for every lookup."""
        return keyring.Keyring(self.node.sources)

    def secret(self, namespace: str, name: str) -> SecretState:
        key = (namespace, name)
        if key not in self._secrets:
            self._secrets[key] = read_secret(self.snapshot, namespace, name)
        return self._secrets[key]

    def resolve(self, subject: Subject) -> list[Resolution]:
        ns = subject.ref.namespace or "default"
        # Pods of one workload share their pull secrets and images: keyrings and lookups
        # are built once per (namespace, pull secrets), not once per pod.
        key = (ns, subject.pull_secrets)
        if key not in self._keyrings:
            states = tuple(self.secret(ns, n) for n in subject.pull_secrets)
            pod_sources = tuple(keyring.Source(s.source_name, s.config) for s in states if s.usable and s.config)
            self._keyrings[key] = (states, pod_sources, keyring.Keyring(pod_sources), {})
        states, pod_sources, pod_keyring, lookups = self._keyrings[key]
        keyring_error = any(s.status == "malformed" for s in states)
        out: list[Resolution] = []
        for c in subject.containers:
            ref, err = _parse_image(c.image)
            creds: tuple[keyring.Credential, ...] = ()
            if ref is not None and not keyring_error:
                if ref.name not in lookups:
                    lookups[ref.name] = tuple(keyring.union_lookup([pod_keyring, self.node_keyring], ref.name))
                creds = lookups[ref.name]
            out.append(Resolution(subject, c, ref, err, states, creds, keyring_error, pod_sources))
        return out


@lru_cache(maxsize=8192)
def _parse_image(image: str) -> tuple[reference.Reference | None, str | None]:
    try:
        return reference.parse(image), None
    except reference.InvalidReference as exc:
        return None, str(exc)


def resolve_all(resolver: Resolver, subjects: Iterable[Subject]) -> list[Resolution]:
    return [r for s in subjects for r in resolver.resolve(s)]


def _injected(snapshot: Snapshot, namespace: str, pod: Obj, sa_name: str, pulls: tuple[str, ...]) -> bool:
    """Did an existing pod's pull secrets come from its SA through admission? Read off
    its owner's template when the input has it, else guessed: all of them are the SA's."""
    if not pulls:
        return False
    owner = _controller_of(pod)
    if owner is not None:
        parent = snapshot.get(owner[0], namespace, owner[1])
        if parent is not None:
            return not _names(pod_spec(owner[0], parent).get("imagePullSecrets"))
    sa = snapshot.get("ServiceAccount", namespace, sa_name)
    return sa is not None and set(pulls) <= set(sa_pull_secrets(sa))
