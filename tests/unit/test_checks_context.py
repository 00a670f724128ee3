"""Context's per-run groupings the checks share."""

from __future__ import annotations

from helpers_k8s import pod, sa, snapshot, workload

from kubectl_pullsecret.checks.base import Context
from kubectl_pullsecret.resolve import Resolver, image_subject, node_credentials, resolve_all, select


def test_resolutions_of_groups_each_subjects_containers_in_order() -> None:
    snap = snapshot([sa(), pod("a", ["quay.io/acme/a:1", "quay.io/acme/b:1"]),
                     workload("Deployment", "web", "quay.io/acme/web:1")])
    scope = select(snap, [], None, None)
    node = node_credentials(snap, None)
    resolver = Resolver(snap, node)
    resolutions = tuple(resolve_all(resolver, scope.subjects))
    ctx = Context(snap, scope, resolver, node, resolutions)
    for subject in scope.subjects:
        assert ctx.resolutions_of(subject) == tuple(r for r in resolutions if r.subject is subject)
    assert [r.container.image for r in ctx.resolutions_of(scope.subjects[1])] == [
        "quay.io/acme/a:1", "quay.io/acme/b:1"]
    # A subject the run did not resolve has none (by identity, not equality).
    assert ctx.resolutions_of(image_subject("quay.io/acme/x:1", "shop", "default", snap)) == ()
