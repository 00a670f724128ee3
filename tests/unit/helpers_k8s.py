"""Small builders of Kubernetes objects (plain dicts) for the check and resolve tests,
and a one-call way to run doctor on them offline."""

from __future__ import annotations

import base64
import io
import itertools
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import yaml

from kubectl_pullsecret import doctor
from kubectl_pullsecret.findings import Finding, Report
from kubectl_pullsecret.snapshot import Snapshot, load_files

Obj = dict[str, Any]
NS = "shop"
T0 = "2026-01-10T10:00:00Z"  # pods are created at T0 unless told otherwise
T1 = "2026-01-10T12:00:00Z"
INTERNAL = "image-registry.openshift-image-registry.svc:5000"
REF_ANNOTATION = "openshift.io/internal-registry-pull-secret-ref"
TOKEN_SA_ANNOTATION = "openshift.io/internal-registry-auth-token.service-account"
BINDING_ANNOTATION = "openshift.io/internal-registry-auth-token.binding"


def b64(data: str | bytes) -> str:
    return base64.b64encode(data.encode() if isinstance(data, str) else data).decode()


def auth(user: str = "bob", password: str = "s3cret-pass") -> dict[str, str]:
    """A config entry with an `auth` field (what both the kubelet and CRI-O read)."""
    return {"auth": b64(f"{user}:{password}")}


def _meta(name: str, ns: str | None, *, created: str | None = None, uid: str | None = None,
          labels: dict[str, str] | None = None, annotations: dict[str, str] | None = None,
          owner: tuple[str, str] | None = None) -> dict[str, Any]:
    m: dict[str, Any] = {"name": name}
    if ns is not None:
        m["namespace"] = ns
    if created:
        m["creationTimestamp"] = created
    if uid:
        m["uid"] = uid
    if labels:
        m["labels"] = labels
    if annotations:
        m["annotations"] = annotations
    if owner:
        m["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": owner[0], "name": owner[1],
                                 "uid": f"uid-{owner[1]}", "controller": True}]
    return m


def secret(name: str, *, type: str = "kubernetes.io/dockerconfigjson", data: dict[str, str] | None = None,
           ns: str = NS, created: str | None = None, annotations: dict[str, str] | None = None,
           no_data: bool = False) -> Obj:
    """A Secret with `data` given as already base64-encoded values."""
    obj: Obj = {"apiVersion": "v1", "kind": "Secret", "type": type,
                "metadata": _meta(name, ns, created=created, annotations=annotations)}
    if not no_data:
        obj["data"] = data or {}
    return obj


def pull_secret(name: str, auths: dict[str, Any], *, ns: str = NS, created: str | None = None) -> Obj:
    """kubernetes.io/dockerconfigjson with {"auths": auths}."""
    return secret(name, data={".dockerconfigjson": b64(json.dumps({"auths": auths}))}, ns=ns, created=created)


def dockercfg_secret(name: str, entries: dict[str, Any] | str, *, ns: str = NS, created: str | None = None,
                     annotations: dict[str, str] | None = None) -> Obj:
    """kubernetes.io/dockercfg; entries is the document (a dict, or raw text)."""
    text = entries if isinstance(entries, str) else json.dumps(entries)
    return secret(name, type="kubernetes.io/dockercfg", data={".dockercfg": b64(text)}, ns=ns, created=created,
                  annotations=annotations)


def raw_secret(name: str, key: str, text: str, *, type: str = "kubernetes.io/dockerconfigjson", ns: str = NS) -> Obj:
    """A secret whose one data key holds `text` verbatim (base64-encoded here)."""
    return secret(name, type=type, data={key: b64(text)}, ns=ns)


def sa(name: str = "default", pull: Sequence[str] = (), *, ns: str = NS,
       annotations: dict[str, str] | None = None) -> Obj:
    obj: Obj = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta(name, ns, annotations=annotations)}
    if pull:
        obj["imagePullSecrets"] = [{"name": n} for n in pull]
    return obj


def openshift_sa(name: str = "default", extra_pull: Sequence[str] = (), *, ns: str = NS,
                 dockercfg: str | None = None) -> Obj:
    """An OpenShift SA with its <sa>-dockercfg-* secret linked and annotated."""
    dockercfg = dockercfg or f"{name}-dockercfg-abcde"
    return sa(name, [dockercfg, *extra_pull], ns=ns, annotations={REF_ANNOTATION: dockercfg})


def pod_spec(image: str | Sequence[str] = "quay.io/acme/web:1.2", *, pull: Sequence[str] | None = None,
             sa_name: str | None = None, init: Sequence[str] = ()) -> dict[str, Any]:
    images = [image] if isinstance(image, str) else list(image)
    spec: dict[str, Any] = {"containers": [{"name": "web" if i == 0 else f"c{i}", "image": im}
                                           for i, im in enumerate(images)]}
    if init:
        spec["initContainers"] = [{"name": f"init{i}", "image": im} for i, im in enumerate(init)]
    if sa_name is not None:
        spec["serviceAccountName"] = sa_name
    if pull is not None:
        spec["imagePullSecrets"] = [{"name": n} for n in pull]
    return spec


def pod(name: str = "web-1", image: str | Sequence[str] = "quay.io/acme/web:1.2", *, ns: str = NS,
        pull: Sequence[str] | None = None, sa_name: str | None = None, created: str | None = T0,
        uid: str | None = None, owner: tuple[str, str] | None = None, labels: dict[str, str] | None = None,
        init: Sequence[str] = (), status: dict[str, Any] | None = None) -> Obj:
    """A Pod; `created=None` (and no uid) makes it a manifest that was never created."""
    obj: Obj = {"apiVersion": "v1", "kind": "Pod",
                "metadata": _meta(name, ns, created=created, uid=uid, labels=labels, owner=owner),
                "spec": pod_spec(image, pull=pull, sa_name=sa_name, init=init)}
    if status is not None:
        obj["status"] = status
    return obj


def workload(kind: str, name: str, image: str | Sequence[str] = "quay.io/acme/web:1.2", *, ns: str = NS,
             pull: Sequence[str] | None = None, sa_name: str | None = None, owner: tuple[str, str] | None = None,
             labels: dict[str, str] | None = None) -> Obj:
    template = {"metadata": {"labels": {"app": name}}, "spec": pod_spec(image, pull=pull, sa_name=sa_name)}
    spec: dict[str, Any] = {"jobTemplate": {"spec": {"template": template}}} if kind == "CronJob" else {
        "template": template}
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": _meta(name, ns, created=T0, labels=labels, owner=owner),
            "spec": spec}


def deployment_with_pods(name: str, n: int, image: str = "quay.io/acme/web:1.2", *, pull: Sequence[str] | None = None,
                         pod_pull: Sequence[str] | None = None, with_rs: bool = True, ns: str = NS) -> list[Obj]:
    """Deployment -> ReplicaSet NAME-5d8f7c9b4 -> n pods (pod-template-hash labelled).
    `pull` is the template's list; `pod_pull` what the pods carry (default: `pull`)."""
    pod_hash = "5d8f7c9b4"
    rs_name = f"{name}-{pod_hash}"
    objs = [workload("Deployment", name, image, pull=pull, ns=ns)]
    if with_rs:
        objs.append(workload("ReplicaSet", rs_name, image, pull=pull, ns=ns, owner=("Deployment", name)))
    for i in range(n):
        objs.append(pod(f"{rs_name}-p{i}", image, ns=ns, pull=pod_pull if pod_pull is not None else pull,
                        owner=("ReplicaSet", rs_name), labels={"app": name, "pod-template-hash": pod_hash}))
    return objs


_EVENT_IDS = itertools.count()


def event(pod_name: str, reason: str, message: str, *, field_path: str | None = None, ns: str = NS,
          name: str | None = None) -> Obj:
    involved: dict[str, Any] = {"kind": "Pod", "namespace": ns, "name": pod_name}
    if field_path:
        involved["fieldPath"] = field_path
    return {"apiVersion": "v1", "kind": "Event", "type": "Warning", "reason": reason, "message": message,
            "metadata": _meta(name or f"{pod_name}.{next(_EVENT_IDS):04d}", ns),
            "involvedObject": involved}


def waiting(container: str, reason: str, message: str = "") -> dict[str, Any]:
    return {"name": container, "state": {"waiting": {"reason": reason, "message": message}}}


def cluster_version(enabled: Sequence[str] = ("ImageRegistry",)) -> Obj:
    return {"apiVersion": "config.openshift.io/v1", "kind": "ClusterVersion", "metadata": {"name": "version"},
            "status": {"capabilities": {"enabledCapabilities": list(enabled)}}}


def openshift_namespace(ns: str = NS) -> Obj:
    """A Namespace as OpenShift annotates it: enough for the snapshot to tell OpenShift."""
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": _meta(ns, None, annotations={"openshift.io/sa.scc.mcs": "s0:c1,c2"})}


def dump(objs: Iterable[Obj]) -> str:
    return yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": list(objs)}, sort_keys=False)


def snapshot(objs: Iterable[Obj]) -> Snapshot:
    """An offline snapshot, loaded exactly as `-f -` would load it."""
    return load_files(["-"], stdin=io.StringIO(dump(objs)))


def run_doctor(tmp_path: Path, objs: Iterable[Obj], **options: Any) -> Report:
    path = tmp_path / "input.yaml"
    path.write_text(dump(objs), encoding="utf-8")
    return doctor.run(doctor.Options(files=[str(path)], probe=False, **options))


def only(report: Report, check: str) -> list[Finding]:
    return [f for f in report.findings if f.check == check]


def one(report: Report, check: str) -> Finding:
    found = only(report, check)
    assert len(found) == 1, [f.to_dict() for f in report.findings]
    return found[0]


def checks_of(report: Report) -> set[str]:
    return {f.check for f in report.findings}
