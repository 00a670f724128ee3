"""Discovery documents: /version, legacy /api and /apis trees, and aggregated discovery (apidiscovery.k8s.io/v2)."""

from __future__ import annotations

import hashlib
from typing import Any

from .resources import Catalog, Resource

Obj = dict[str, Any]
AGGREGATED_TYPE = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
AGGREGATED_TYPE_BETA = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"

VERSION: Obj = {
    "major": "1", "minor": "32", "gitVersion": "v1.32.0-fakekube", "gitCommit": "0" * 40, "gitTreeState": "clean",
    "buildDate": "2024-12-11T00:00:00Z", "goVersion": "go1.23.4", "compiler": "gc", "platform": "linux/amd64",
}

#: subresource -> (verbs, (group, version, kind) of what it serves or None for the parent's kind)
_SUBRESOURCES: dict[str, tuple[tuple[str, ...], tuple[str, str, str] | None]] = {
    "status": (("get", "patch", "update"), None),
    "scale": (("get", "patch", "update"), ("autoscaling", "v1", "Scale")),
    "log": (("get",), None),
    "exec": (("create", "get"), ("", "v1", "PodExecOptions")),
    "eviction": (("create",), ("policy", "v1", "Eviction")),
    "ephemeralcontainers": (("get", "patch", "update"), None),
    "token": (("create",), ("authentication.k8s.io", "v1", "TokenRequest")),
    "finalize": (("update",), None),
    "proxy": (("create", "delete", "get", "patch", "update"), ("", "v1", "NodeProxyOptions")),
    "layers": (("get",), ("image.openshift.io", "v1", "ImageStreamLayers")),
    "secrets": (("get",), ("", "v1", "SecretList")),
    "instantiate": (("create",), ("apps.openshift.io", "v1", "DeploymentRequest")),
    "rollback": (("create",), ("apps.openshift.io", "v1", "DeploymentConfigRollback")),
}


def _hash(r: Resource) -> str:
    return hashlib.sha256(f"{r.group}/{r.version}/{r.kind}".encode()).hexdigest()[:12]


def api_versions(server_address: str) -> Obj:
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]}


def _group(catalog: Catalog, group: str) -> Obj:
    versions = [{"groupVersion": f"{group}/{v}", "version": v} for v in catalog.versions(group)]
    return {"name": group, "versions": versions, "preferredVersion": versions[0]}


def api_group_list(catalog: Catalog) -> Obj:
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [_group(catalog, g) for g in catalog.groups() if g]}


def api_group(catalog: Catalog, group: str) -> Obj | None:
    if group not in catalog.groups() or not group:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group(catalog, group)}


def api_resource_list(catalog: Catalog, group: str, version: str) -> Obj | None:
    resources = list(catalog.in_group_version(group, version))
    if not resources:
        return None
    out: list[Obj] = []
    for r in resources:
        entry: Obj = {"name": r.plural, "singularName": r.singular_name, "namespaced": r.namespaced, "kind": r.kind,
                      "verbs": list(r.verbs)}
        if r.short_names:
            entry["shortNames"] = list(r.short_names)
        if r.categories:
            entry["categories"] = list(r.categories)
        if "get" in r.verbs:
            entry["storageVersionHash"] = _hash(r)
        out.append(entry)
        for sub in r.subresources:
            verbs, served = _SUBRESOURCES.get(sub, (("get",), None))
            sub_entry: Obj = {"name": f"{r.plural}/{sub}", "singularName": "", "namespaced": r.namespaced,
                              "kind": served[2] if served else r.kind, "verbs": list(verbs)}
            if served:
                sub_entry["group"], sub_entry["version"] = served[0], served[1]
            out.append(sub_entry)
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": f"{group}/{version}" if group else version,
            "resources": out}


def aggregated(catalog: Catalog, legacy: bool, api_version: str = "apidiscovery.k8s.io/v2") -> Obj:
    """APIGroupDiscoveryList for /api (legacy=True: the core group) or /apis (every named group)."""
    items: list[Obj] = []
    for group in catalog.groups():
        if (group == "") != legacy:
            continue
        versions: list[Obj] = []
        for version in catalog.versions(group):
            resources: list[Obj] = []
            for r in catalog.in_group_version(group, version):
                entry: Obj = {"resource": r.plural,
                              "responseKind": {"group": r.group, "version": r.version, "kind": r.kind},
                              "scope": "Namespaced" if r.namespaced else "Cluster",
                              "singularResource": r.singular_name, "verbs": list(r.verbs)}
                if r.short_names:
                    entry["shortNames"] = list(r.short_names)
                if r.categories:
                    entry["categories"] = list(r.categories)
                subs: list[Obj] = []
                for sub in r.subresources:
                    verbs, served = _SUBRESOURCES.get(sub, (("get",), None))
                    g, v, k = served if served else (r.group, r.version, r.kind)
                    subs.append({"subresource": sub, "responseKind": {"group": g, "version": v, "kind": k},
                                 "verbs": list(verbs)})
                if subs:
                    entry["subresources"] = subs
                resources.append(entry)
            versions.append({"version": version, "resources": resources, "freshness": "Current"})
        metadata: Obj = {"creationTimestamp": None}
        if group:
            metadata["name"] = group
        items.append({"metadata": metadata, "versions": versions})
    return {"kind": "APIGroupDiscoveryList", "apiVersion": api_version, "metadata": {}, "items": items}
