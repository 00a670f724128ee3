#!/usr/bin/env python3
"""Checks at scale: pod-overrides-sa-secrets (and the whole check run) on an
OpenShift-like offline snapshot of N bare pods that list their own pull secrets,
leaving out their service account's <sa>-dockercfg-* secret, each pulling one image
from the internal registry and one from an external registry.

The per-subject work of the checks must stay linear in the pod count.

Usage: PYTHONPATH=. python bench/checks_scale.py [--pods 1000 4000] [--runs 3]
(from the repository root)
"""

from __future__ import annotations

import argparse
import base64
import json
import time
from typing import Any

from kubectl_pullsecret import checks
from kubectl_pullsecret.checks.base import Context, internal_registries
from kubectl_pullsecret.checks.serviceaccounts import check_overrides
from kubectl_pullsecret.resolve import Resolver, node_credentials, resolve_all, select
from kubectl_pullsecret.snapshot import Snapshot

NS = "shop"
INTERNAL = "image-registry.openshift-image-registry.svc:5000"
T0 = "2024-01-01T00:00:00Z"


def _secret(name: str, auths: dict[str, Any], annotations: dict[str, str] | None = None) -> dict[str, Any]:
    data = base64.b64encode(json.dumps({"auths": auths}).encode()).decode()
    return {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockerconfigjson",
            "metadata": {"name": name, "namespace": NS, "annotations": annotations or {}},
            "data": {".dockerconfigjson": data}}


def _auth(user: str, password: str) -> dict[str, str]:
    return {"auth": base64.b64encode(f"{user}:{password}".encode()).decode()}


def build(pods: int) -> Snapshot:
    objs: list[dict[str, Any]] = [
        {"kind": "ServiceAccount", "metadata": {
            "name": "default", "namespace": NS,
            "annotations": {"openshift.io/internal-registry-pull-secret-ref": "default-dockercfg-abcde"}},
         "imagePullSecrets": [{"name": "default-dockercfg-abcde"}]},
        _secret("default-dockercfg-abcde", {INTERNAL: _auth("<token>", "jwt-abc")},
                {"openshift.io/internal-registry-auth-token.service-account": "default",
                 "openshift.io/internal-registry-auth-token.binding": "bound"}),
        _secret("vendor", {"registry.vendor.example": _auth("bob", "s3cret-pass")}),
    ]
    for i in range(pods):
        objs.append({"kind": "Pod", "metadata": {"name": f"web-{i}", "namespace": NS, "uid": f"uid-{i}",
                                                 "creationTimestamp": T0},
                     "spec": {"serviceAccountName": "default", "imagePullSecrets": [{"name": "vendor"}],
                              "containers": [{"name": "web", "image": f"{INTERNAL}/{NS}/web:{i}"},
                                             {"name": "tool", "image": "registry.vendor.example/tool:2"}]}})
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for o in objs:
        by_kind.setdefault(o["kind"], []).append(o)
    return Snapshot(objects={k: tuple(v) for k, v in by_kind.items()}, offline=True,
                    covered=frozenset({("Secret", NS), ("ServiceAccount", NS), ("Pod", NS)}))


def context(snapshot: Snapshot) -> Context:
    scope = select(snapshot, [], None, None)
    node = node_credentials(snapshot, None)
    resolver = Resolver(snapshot, node)
    resolutions = tuple(resolve_all(resolver, scope.subjects))
    return Context(snapshot, scope, resolver, node, resolutions,
                   internal_registries=internal_registries(snapshot), selected=tuple(checks.CHECKS))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, nargs="+", default=[1000, 4000])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    for n in args.pods:
        snapshot = build(n)
        overrides, whole = [], []
        for _ in range(args.runs):
            ctx = context(snapshot)
            start = time.perf_counter()
            found = list(check_overrides(ctx))
            overrides.append(time.perf_counter() - start)
            assert len(found) == n and all(f.severity.label == "error" for f in found), found[:1]
            ctx = context(snapshot)
            start = time.perf_counter()
            checks.run(ctx, list(checks.CHECKS))
            whole.append(time.perf_counter() - start)
        print(f"{n:6d} pods: check_overrides {min(overrides):.3f} s, all checks {min(whole):.3f} s "
              f"(best of {args.runs})")


if __name__ == "__main__":
    main()
