"""The snapshot: every object the checks may look at, loaded once, as plain dicts.

Offline loading (`-f`) reads YAML/JSON files, multi-document YAML, `List` objects
(what `kubectl get -o yaml` prints) and typed lists (`PodList` from the raw API),
directories recursively (a must-gather tree works), and `-` for stdin.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from kubectl_pullsecret.errors import SourceError, UsageError

Obj = dict[str, Any]

SUFFIXES = (".yaml", ".yml", ".json")
OPENSHIFT_CLUSTER_KINDS = ("Image", "ClusterVersion", "ClusterOperator", "MachineConfigPool",
                           "ImageDigestMirrorSet", "ImageTagMirrorSet", "ImageContentSourcePolicy")
CLUSTER_SCOPED = frozenset({"Namespace", *OPENSHIFT_CLUSTER_KINDS})
# Kinds the checks use; everything else in a dump is ignored.
KINDS = frozenset({
    "Pod", "ServiceAccount", "Secret", "Event", "Namespace", "ConfigMap",
    "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob",
    "DeploymentConfig", "ReplicationController",
    *OPENSHIFT_CLUSTER_KINDS,
})


@dataclass(frozen=True)
class Denied:
    """A read that failed: refused (403) or failing after retries (5xx): what, and the
    server's reason."""

    kind: str
    namespace: str | None  # None: the cluster-wide list (or a cluster-scoped kind)
    name: str | None  # None: the list
    reason: str
    status: int = 403
    verb: str | None = None  # set for a refused write (create, delete); None: a read (get/list)


@dataclass(frozen=True)
class Snapshot:
    """Objects by kind. `covered` records (kind, namespace) pairs whose full list is
    known, so "absent" can be told from "not in the input"."""

    objects: Mapping[str, tuple[Obj, ...]]
    offline: bool = True
    inputs: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    cluster: Mapping[str, Any] | None = None
    covered: frozenset[tuple[str, str]] = frozenset()
    # Live only: reads refused with 403, and SubjectAccessReview answers for
    # (service-account namespace, service-account name, image project) -> allowed,
    # None when the review itself could not be made.
    denied: tuple[Denied, ...] = ()
    access: Mapping[tuple[str, str, str], bool | None] = field(default_factory=dict)
    # (kind, namespace, name) -> object; built from `objects`, never passed in (so a
    # `dataclasses.replace` copy gets its own).
    _index: dict[tuple[str, str, str], Obj] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index: dict[tuple[str, str, str], Obj] = {}
        for kind, items in self.objects.items():
            for obj in items:
                meta = obj.get("metadata") or {}
                index[(kind, meta.get("namespace") or "", meta.get("name") or "")] = obj
        object.__setattr__(self, "_index", index)

    def get(self, kind: str, namespace: str | None, name: str) -> Obj | None:
        return self._index.get((kind, namespace or "", name))

    def of(self, kind: str) -> list[Obj]:
        return list(self.objects.get(kind, ()))

    def covers(self, kind: str, namespace: str) -> bool:
        """Is the list of `kind` in `namespace` complete in this snapshot?"""
        return (kind, namespace) in self.covered or (kind, "*") in self.covered

    def counts(self) -> str:
        """`N objects (n Kind, ...)`, for the logs."""
        kinds = ", ".join(f"{len(v)} {k}" for k, v in sorted(self.objects.items()))
        return f"{sum(len(v) for v in self.objects.values())} objects ({kinds})"

    def namespaces(self) -> list[str]:
        found = {ns for (_, ns, _) in self._index if ns}
        return sorted(found)

    def is_denied(self, kind: str, namespace: str | None, name: str | None = None) -> Denied | None:
        """The failed read that hides `kind` objects of `namespace` (with `name`: that
        object, refused by name or with its list), if any."""
        for d in self.denied:
            if d.kind == kind and d.namespace in (None, namespace) and d.name in (None, name):
                return d
        return None

    @cached_property
    def openshift(self) -> bool:
        """OpenShift: from API discovery when live; offline, as far as the objects tell."""
        if self.cluster is not None and "openshift" in self.cluster:
            return bool(self.cluster["openshift"])
        for kind in ("DeploymentConfig", *OPENSHIFT_CLUSTER_KINDS):
            if self.objects.get(kind):
                return True
        for sa in self.objects.get("ServiceAccount", ()):
            if "openshift.io/internal-registry-pull-secret-ref" in ((sa.get("metadata") or {}).get("annotations") or {}):
                return True
        for secret in self.objects.get("Secret", ()):
            annotations = (secret.get("metadata") or {}).get("annotations") or {}
            if any(a.startswith("openshift.io/") for a in annotations):
                return True
        for ns in self.objects.get("Namespace", ()):
            annotations = (ns.get("metadata") or {}).get("annotations") or {}
            if any(a.startswith("openshift.io/") for a in annotations):
                return True
        return False


def meta(obj: Obj) -> Mapping[str, Any]:
    m = obj.get("metadata")
    return m if isinstance(m, dict) else {}


def timestamp(text: Any) -> datetime | None:
    """An RFC 3339 time as the API server writes it (metadata.creationTimestamp, the
    restartedAt annotation), always timezone-aware: one written without an offset (a
    hand-made manifest) is taken as UTC, so any two can be compared. None if not a time."""
    if not isinstance(text, str) or not text:
        return None
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


def rfc3339(when: datetime) -> str:
    """A time as the API server writes it (seconds, UTC, `Z`): what `timestamp` reads."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _resource_version(obj: Obj) -> int:
    try:
        return int(meta(obj).get("resourceVersion") or 0)
    except (TypeError, ValueError):
        return 0


def _normalise_event(obj: Obj) -> Obj:
    """events.k8s.io/v1 Events use `regarding`/`note`; fold them into the core shape."""
    if "regarding" in obj and "involvedObject" not in obj:
        obj = dict(obj)
        obj["involvedObject"] = obj.get("regarding") or {}
        obj.setdefault("message", obj.get("note") or "")
        obj.setdefault("lastTimestamp", obj.get("eventTime") or obj.get("deprecatedLastTimestamp"))
        obj.setdefault("count", (obj.get("series") or {}).get("count") or obj.get("deprecatedCount") or 1)
    return obj


def _apply_string_data(obj: Obj) -> Obj:
    """A hand-written Secret may use stringData; the API server would merge it into data."""
    string_data = obj.get("stringData")
    if not isinstance(string_data, dict):
        return obj
    obj = dict(obj)
    data = dict(obj.get("data") or {})
    for key, value in string_data.items():
        data[key] = base64.b64encode(str(value).encode()).decode()
    obj["data"] = data
    del obj["stringData"]
    return obj


# --- object shapes ---------------------------------------------------------------
# The fields the checks read, with the types the API server guarantees. Input that a
# real cluster could not have produced (a hand-edited dump) is reported and skipped
# instead of failing deep inside a check. `None` (YAML null) is always allowed.
# A dict is a nested shape; [X] a list of X; (T, ...) any of these types; {str: T} a map.
_STR, _INT, _BOOL = str, (int, str), bool
_REFS = [{"name": _STR}]
_META = {"name": _STR, "namespace": _STR, "uid": _STR, "creationTimestamp": _STR, "resourceVersion": _INT,
         "labels": {str: _STR}, "annotations": {str: _STR},
         "ownerReferences": [{"kind": _STR, "name": _STR, "controller": _BOOL}]}
_CONTAINERS = [{"name": _STR, "image": _STR}]
_POD_SPEC = {"serviceAccountName": _STR, "serviceAccount": _STR, "containers": _CONTAINERS,
             "initContainers": _CONTAINERS, "imagePullSecrets": _REFS}
_STATUSES = [{"name": _STR, "state": {"waiting": {"reason": _STR, "message": _STR}}}]
_TEMPLATE = {"metadata": _META, "spec": _POD_SPEC}
_WORKLOAD = {"metadata": _META, "spec": {"template": _TEMPLATE}}
SHAPES: dict[str, Any] = {
    "Pod": {"metadata": _META, "spec": _POD_SPEC,
            "status": {"containerStatuses": _STATUSES, "initContainerStatuses": _STATUSES}},
    "ServiceAccount": {"metadata": _META, "imagePullSecrets": _REFS, "secrets": _REFS},
    "Secret": {"metadata": _META, "type": _STR, "data": {str: _STR}, "stringData": {str: (str, int, float, bool)}},
    "Event": {"metadata": _META, "reason": _STR, "message": _STR, "note": _STR,
              "involvedObject": {"kind": _STR, "name": _STR, "namespace": _STR, "fieldPath": _STR},
              "regarding": {"kind": _STR, "name": _STR, "namespace": _STR, "fieldPath": _STR},
              "series": {"count": _INT}, "count": _INT},
    "Namespace": {"metadata": _META},
    "CronJob": {"metadata": _META, "spec": {"jobTemplate": {"spec": {"template": _TEMPLATE}}}},
    "Image": {"metadata": _META,
              "spec": {"registrySources": {"allowedRegistries": [_STR], "blockedRegistries": [_STR],
                                           "insecureRegistries": [_STR]},
                       "additionalTrustedCA": {"name": _STR}},
              "status": {"internalRegistryHostname": _STR, "externalRegistryHostnames": [_STR]}},
    "ClusterVersion": {"metadata": _META,
                       "spec": {"capabilities": {"additionalEnabledCapabilities": [_STR]}},
                       "status": {"capabilities": {"enabledCapabilities": [_STR], "knownCapabilities": [_STR]},
                                  "desired": {"image": _STR}}},
    "ClusterOperator": {"metadata": _META, "status": {"conditions": [{"type": _STR, "status": _STR, "reason": _STR,
                                                                       "message": _STR}]}},
    "ConfigMap": {"metadata": _META, "data": {str: _STR}},
    "MachineConfigPool": {"metadata": _META, "spec": {"configuration": {"name": _STR}, "paused": _BOOL},
                          "status": {"configuration": {"name": _STR}, "machineCount": _INT,
                                     "updatedMachineCount": _INT, "degradedMachineCount": _INT}},
    "ImageDigestMirrorSet": {"metadata": _META, "spec": {"imageDigestMirrors": [{"source": _STR, "mirrors": [_STR],
                                                                                 "mirrorSourcePolicy": _STR}]}},
    "ImageTagMirrorSet": {"metadata": _META, "spec": {"imageTagMirrors": [{"source": _STR, "mirrors": [_STR],
                                                                           "mirrorSourcePolicy": _STR}]}},
    "ImageContentSourcePolicy": {"metadata": _META, "spec": {"repositoryDigestMirrors": [{"source": _STR,
                                                                                           "mirrors": [_STR]}]}},
    **{k: _WORKLOAD for k in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job",
                              "DeploymentConfig", "ReplicationController")},
}


def _type_name(shape: Any) -> str:
    if isinstance(shape, dict):
        return "a map" if str in shape else "an object"
    if isinstance(shape, list):
        return "a list"
    types = shape if isinstance(shape, tuple) else (shape,)
    names = {str: "a string", int: "a number", float: "a number", bool: "a boolean"}
    return " or ".join(dict.fromkeys(names[t] for t in types))


def shape_problem(value: Any, shape: Any, path: str = "") -> str | None:
    """The first place where `value` does not have `shape`, as 'path must be ...'."""
    if value is None:
        return None
    where = path or "the object"
    if isinstance(shape, dict):
        if not isinstance(value, dict):
            return f"{where} must be {_type_name(shape)}"
        if str in shape:
            for k, v in value.items():
                if not isinstance(k, str):
                    return f"{where} keys must be strings"
                problem = shape_problem(v, shape[str], f"{path}.{k}" if path else k)
                if problem:
                    return problem
            return None
        for key, sub in shape.items():
            problem = shape_problem(value.get(key), sub, f"{path}.{key}" if path else key)
            if problem:
                return problem
        return None
    if isinstance(shape, list):
        if not isinstance(value, list):
            return f"{where} must be a list"
        for i, item in enumerate(value):
            problem = shape_problem(item, shape[0], f"{where}[{i}]")
            if problem:
                return problem
        return None
    types = shape if isinstance(shape, tuple) else (shape,)
    if not isinstance(value, types) or (bool not in types and isinstance(value, bool)):
        return f"{where} must be {_type_name(shape)}"
    return None


def expand(doc: Any) -> Iterator[Obj]:
    """Objects in one YAML/JSON document: a single object, a `List`, or a typed list."""
    if not isinstance(doc, dict):
        return
    kind = doc.get("kind")
    items = doc.get("items")
    if isinstance(kind, str) and kind.endswith("List") and isinstance(items, list):
        item_kind = kind[:-4] if kind != "List" else None
        for item in items:
            if isinstance(item, dict):
                if item_kind and "kind" not in item:
                    item = {**item, "kind": item_kind}
                yield from expand(item)
        return
    if isinstance(kind, str) and "metadata" in doc:
        yield doc


def _parse_text(text: str, name: str) -> list[Any]:
    if name.endswith(".json"):
        try:
            return [json.loads(text)]
        except (ValueError, RecursionError):
            pass  # not strict JSON: YAML is a superset, let it report the error
    # Imported here: the node probe program (nodeprobe.py) imports this module without
    # PyYAML, which its bundle does not carry.
    import yaml

    # The C loader is ~10x faster on large dumps.
    loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return list(yaml.load_all(text, Loader=loader))
    except RecursionError:
        raise SourceError(f"{name}: nested too deeply to be a Kubernetes object") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        if isinstance(exc, yaml.reader.ReaderError):
            # Bad characters (a pasted escape sequence, a UTF-16 file) carry a position only.
            line = text.count("\n", 0, exc.position) + 1
            hint = " (is the file UTF-16? save it as UTF-8)" if "\x00" in text else ""
            problem, where = f"unacceptable character #x{exc.character:04x}{hint}", f" (line {line})"
        raise SourceError(f"{name}: not valid YAML or JSON: {problem}{where}") from None


def _files(path: str) -> Iterator[tuple[str, bool]]:
    """(file, explicit) pairs: explicit files fail hard, files found in a walk warn."""
    if os.path.isdir(path):
        for root, dirs, files in os.walk(path):
            dirs.sort()
            for f in sorted(files):
                if f.endswith(SUFFIXES):
                    yield os.path.join(root, f), False
    elif os.path.exists(path):
        yield path, True
    else:
        raise UsageError(f"-f {path}: no such file or directory")


def load_files(paths: Iterable[str], stdin: Any = None) -> Snapshot:
    """Build an offline snapshot from -f arguments."""
    found: dict[tuple[str, str, str], Obj] = {}
    inputs: list[str] = []
    warnings: list[str] = []

    def add(doc_objs: Iterable[Obj], source: str) -> None:
        for obj in doc_objs:
            kind = obj.get("kind")
            if kind not in KINDS:
                continue
            problem = shape_problem(obj, SHAPES[kind]) or (None if isinstance(obj.get("metadata"), dict)
                                                           else "metadata must be an object")
            if problem:
                m = meta(obj)
                name = "/".join(str(m[k]) for k in ("namespace", "name") if m.get(k)) or "(unnamed)"
                warnings.append(f"skipped {kind} {name} in {source}: {problem} (not what the API server returns)")
                continue
            if kind == "Event":
                obj = _normalise_event(obj)
            elif kind == "Secret":
                obj = _apply_string_data(obj)
            m = meta(obj)
            if kind not in CLUSTER_SCOPED and not m.get("namespace"):
                # A manifest without a namespace lands in the default namespace, as with
                # `kubectl apply` (offline there is no kubeconfig context to take it from).
                obj = {**obj, "metadata": {**m, "namespace": "default"}}
                m = obj["metadata"]
            key = (kind, str(m.get("namespace") or ""), str(m.get("name") or ""))
            old = found.get(key)
            if old is None or _resource_version(obj) >= _resource_version(old):
                found[key] = obj

    for path in paths:
        if path == "-":
            text = (stdin or sys.stdin).read()
            inputs.append("-")
            for doc in _parse_text(text, "<stdin>"):
                add(expand(doc), "<stdin>")
            continue
        for file, explicit in _files(path):
            try:
                with open(file, encoding="utf-8", errors="replace") as fh:
                    text = fh.read()
                docs = _parse_text(text, file)
            except SourceError as exc:
                if explicit:
                    raise
                warnings.append(f"skipped {exc}")
                continue
            except OSError as exc:
                if explicit:
                    raise SourceError(f"{file}: {exc.strerror}") from None
                warnings.append(f"skipped {file}: {exc.strerror}")
                continue
            inputs.append(file)
            for doc in docs:
                add(expand(doc), file)

    by_kind: dict[str, list[Obj]] = {}
    for (kind, _, _), obj in sorted(found.items()):
        by_kind.setdefault(kind, []).append(obj)
    # In a dump, a namespace's list of a kind counts as complete once any object of
    # that kind from the namespace is present.
    covered = frozenset((kind, str(meta(o).get("namespace") or "")) for kind, objs in by_kind.items() for o in objs)
    return Snapshot(
        objects={k: tuple(v) for k, v in by_kind.items()},
        offline=True,
        inputs=tuple(inputs),
        warnings=tuple(warnings),
        covered=covered,
    )


# --- secret data -----------------------------------------------------------

REDACTION_MARKERS = frozenset({"", "redacted", "<redacted>", "***", "xxx", "xxxxx", "<hidden>", "hidden"})


def secret_value(secret: Obj, key: str) -> bytes | None:
    """Decoded `data[key]`, or None when absent, empty, redacted or not base64."""
    data = secret.get("data")
    if not isinstance(data, dict):
        return None
    raw = data.get(key)
    if not isinstance(raw, str) or raw.strip().lower() in REDACTION_MARKERS:
        return None
    try:
        return base64.b64decode(raw.replace("\n", ""), validate=True)
    except (ValueError, binascii.Error):
        return None
