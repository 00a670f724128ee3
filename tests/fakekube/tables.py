"""Server-side printing: the meta.k8s.io/v1 Table kubectl asks for (`Accept: ...;as=Table;v=v1;g=meta.k8s.io`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import Any

Obj = dict[str, Any]
Column = tuple[str, str, int, Callable[[Obj], Any]]  # name, type, priority, cell


def human_duration(seconds: float) -> str:
    """Like k8s.io/apimachinery/pkg/util/duration.HumanDuration."""
    s = int(seconds)
    if s < 0:
        s = 0
    if s < 120:
        return f"{s}s"
    m = s // 60
    if m < 10:
        return f"{m}m{s % 60}s" if s % 60 else f"{m}m"
    if m < 180:
        return f"{m}m"
    h = s // 3600
    if h < 8:
        return f"{h}h{m % 60}m" if m % 60 else f"{h}h"
    if h < 48:
        return f"{h}h"
    d = h // 24
    if h < 24 * 8:
        return f"{d}d{h % 24}h" if h % 24 else f"{d}d"
    if d < 365 * 2:
        return f"{d}d"
    y = d // 365
    if d < 365 * 8:
        return f"{y}y{d % 365}d" if d % 365 else f"{y}y"
    return f"{y}y"


def _age(obj: Obj) -> str:
    stamp = (obj.get("metadata") or {}).get("creationTimestamp")
    if not stamp:
        return "<unknown>"
    try:
        created = dt.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    except ValueError:
        return "<unknown>"
    return human_duration((dt.datetime.now(dt.UTC) - created).total_seconds())


def _name(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("name", ""))


def _pod_status(pod: Obj) -> str:
    meta = pod.get("metadata") or {}
    status = pod.get("status") or {}
    reason = status.get("reason") or status.get("phase") or "Unknown"
    for cs in status.get("initContainerStatuses") or []:
        state = cs.get("state") or {}
        if (state.get("terminated") or {}).get("exitCode", 0) == 0 and "terminated" in state:
            continue
        waiting = state.get("waiting") or {}
        if waiting.get("reason") and waiting["reason"] != "PodInitializing":
            return "Init:" + str(waiting["reason"])
    for cs in reversed(status.get("containerStatuses") or []):
        state = cs.get("state") or {}
        if (state.get("waiting") or {}).get("reason"):
            reason = state["waiting"]["reason"]
        elif (state.get("terminated") or {}).get("reason"):
            reason = state["terminated"]["reason"]
    if meta.get("deletionTimestamp"):
        reason = "Terminating"
    return str(reason)


def _ready(pod: Obj) -> str:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    total = len((pod.get("spec") or {}).get("containers") or [])
    return f"{sum(1 for c in statuses if c.get('ready'))}/{total}"


def _restarts(pod: Obj) -> int:
    return sum(int(c.get("restartCount", 0)) for c in (pod.get("status") or {}).get("containerStatuses") or [])


def _get(*path: str, default: Any = "<none>") -> Callable[[Obj], Any]:
    def cell(obj: Obj) -> Any:
        cur: Any = obj
        for p in path:
            cur = cur.get(p) if isinstance(cur, dict) else None
        return default if cur in (None, "") else cur
    return cell


def _last_seen(event: Obj) -> str:
    """lastTimestamp, else eventTime (micro-time, truncated to seconds), else creationTimestamp."""
    event_time = str(event.get("eventTime") or "")
    stamp = (event.get("lastTimestamp") or (event_time[:19] + "Z" if event_time else "")
             or (event.get("metadata") or {}).get("creationTimestamp"))
    return _age({"metadata": {"creationTimestamp": stamp}})


NAME: Column = ("Name", "string", 0, _name)
AGE: Column = ("Age", "string", 0, _age)

COLUMNS: dict[tuple[str, str], list[Column]] = {
    ("", "pods"): [NAME, ("Ready", "string", 0, _ready), ("Status", "string", 0, _pod_status),
                   ("Restarts", "string", 0, lambda p: str(_restarts(p))), AGE,
                   ("IP", "string", 1, _get("status", "podIP")), ("Node", "string", 1, _get("spec", "nodeName")),
                   ("Nominated Node", "string", 1, _get("status", "nominatedNodeName")),
                   ("Readiness Gates", "string", 1, lambda p: "<none>")],
    ("", "secrets"): [NAME, ("Type", "string", 0, _get("type", default="Opaque")),
                      ("Data", "string", 0, lambda s: len(s.get("data") or {})), AGE],
    ("", "serviceaccounts"): [NAME, ("Secrets", "string", 0, lambda s: len(s.get("secrets") or [])), AGE],
    ("", "configmaps"): [NAME, ("Data", "string", 0,
                                lambda c: len(c.get("data") or {}) + len(c.get("binaryData") or {})), AGE],
    ("", "namespaces"): [NAME, ("Status", "string", 0, _get("status", "phase", default="Active")), AGE],
    ("", "events"): [("Last Seen", "string", 0, _last_seen),
                     ("Type", "string", 0, _get("type")), ("Reason", "string", 0, _get("reason")),
                     ("Object", "string", 0, lambda e: f"{(e.get('involvedObject') or {}).get('kind', '').lower()}/"
                                                       f"{(e.get('involvedObject') or {}).get('name', '')}"),
                     ("Message", "string", 0, _get("message"))],
    ("apps", "deployments"): [NAME, ("Ready", "string", 0, lambda d: f"{_get('status', 'readyReplicas', default=0)(d)}/"
                                                                    f"{_get('spec', 'replicas', default=1)(d)}"),
                              ("Up-to-date", "integer", 0, _get("status", "updatedReplicas", default=0)),
                              ("Available", "integer", 0, _get("status", "availableReplicas", default=0)), AGE],
    ("rbac.authorization.k8s.io", "rolebindings"): [NAME, ("Role", "string", 0, lambda b: (
        f"{(b.get('roleRef') or {}).get('kind')}/{(b.get('roleRef') or {}).get('name')}")), AGE],
    ("rbac.authorization.k8s.io", "clusterrolebindings"): [NAME, ("Role", "string", 0, lambda b: (
        f"{(b.get('roleRef') or {}).get('kind')}/{(b.get('roleRef') or {}).get('name')}")), AGE],
}


def _partial(obj: Obj) -> Obj:
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj.get("metadata") or {}}


def table(bucket: tuple[str, str], objects: Iterable[Obj], list_meta: Obj, include_object: str = "Metadata") -> Obj:
    columns = COLUMNS.get(bucket, [NAME, AGE])
    rows: list[Obj] = []
    for obj in objects:
        row: Obj = {"cells": [cell(obj) for _, _, _, cell in columns]}
        if include_object == "Object":
            row["object"] = obj
        elif include_object != "None":
            row["object"] = _partial(obj)
        rows.append(row)
    return {
        "kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": list_meta,
        "columnDefinitions": [{"name": name, "type": typ, "format": "name" if name == "Name" else "",
                               "description": name, "priority": priority} for name, typ, priority, _ in columns],
        "rows": rows,
    }
