"""A minimal OpenAPI v3 tree (/openapi/v3 and /openapi/v3/<api|apis/g>/<v>), enough for kubectl.

kubectl 1.32 `apply`/`create` with the default `--validate=strict` asks OpenAPI v3 whether the PATCH
operation of the object's GVK takes the `fieldValidation` query parameter; if it does, validation is left
to the server (`?fieldValidation=Strict`), otherwise kubectl falls back to client-side validation with the
OpenAPI v2 document, which fails when /openapi/v2 is missing. The PATCH operations here declare the
parameters but no request body, so `kubectl apply` computes its strategic merge patch from its compiled-in
types (for built-in kinds) and a JSON merge patch for the others (CRDs), as it does without a schema.
Object schemas are not served (`kubectl explain` does not work).
"""

from __future__ import annotations

import hashlib
from typing import Any

from .resources import Catalog, Resource

Obj = dict[str, Any]

_QUERY = ("dryRun", "fieldManager", "fieldValidation", "force", "pretty")


def _prefix(group: str, version: str) -> str:
    return f"api/{version}" if not group else f"apis/{group}/{version}"


def root(catalog: Catalog) -> Obj:
    paths: Obj = {}
    for group in catalog.groups():
        for version in catalog.versions(group):
            prefix = _prefix(group, version)
            digest = hashlib.sha256(prefix.encode()).hexdigest()[:32].upper()
            paths[prefix] = {"serverRelativeURL": f"/openapi/v3/{prefix}?hash={digest}"}
    return {"paths": paths}


def _param(name: str) -> Obj:
    return {"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": True}}


def _operation(r: Resource, action: str, query: tuple[str, ...]) -> Obj:
    return {
        "tags": [f"{r.group or 'core'}_{r.version}"],
        "operationId": f"{action}{r.kind}",
        "parameters": [_param(q) for q in query],
        "responses": {"200": {"description": "OK"}},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": {"group": r.group, "version": r.version, "kind": r.kind},
    }


def group_version(catalog: Catalog, group: str, version: str) -> Obj | None:
    resources = list(catalog.in_group_version(group, version))
    if not resources:
        return None
    paths: Obj = {}
    base = "/" + _prefix(group, version)
    for r in resources:
        collection = f"{base}/namespaces/{{namespace}}/{r.plural}" if r.namespaced else f"{base}/{r.plural}"
        if "create" in r.verbs:
            paths[collection] = {"post": _operation(r, "post", ("dryRun", "fieldManager", "fieldValidation", "pretty"))}
        if "get" in r.verbs:
            paths.setdefault(collection, {})["get"] = _operation(r, "list", ("labelSelector", "fieldSelector", "limit",
                                                                              "continue"))
            paths[f"{collection}/{{name}}"] = {
                "get": _operation(r, "get", ("pretty",)),
                "put": _operation(r, "put", ("dryRun", "fieldManager", "fieldValidation", "pretty")),
                "patch": _operation(r, "patch", _QUERY),
                "delete": _operation(r, "delete", ("dryRun", "pretty")),
            }
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.32.0"}, "paths": paths,
            "components": {"schemas": {}}}
