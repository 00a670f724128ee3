"""Live snapshot: which reads a doctor run needs (pure), and running them.

The plan depends only on the targets, the namespaces, the selected checks and
whether the cluster is OpenShift, so it is tested without a cluster. Reads are
O(kinds × pages): one list per kind (cluster-wide for -A, per namespace otherwise),
never one request per pod.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from kubectl_pullsecret.checks import needs
from kubectl_pullsecret.kube import Cluster, LoadResult, Read, load, review_access
from kubectl_pullsecret.resolve import GLOBAL_PULL_SECRET, WORKLOAD_KINDS, Target
from kubectl_pullsecret.snapshot import OPENSHIFT_CLUSTER_KINDS, Denied, Obj, Snapshot

if TYPE_CHECKING:
    from kubectl_pullsecret.progress import Show

log = logging.getLogger(__name__)

OPENSHIFT_ONLY = frozenset({"DeploymentConfig", *OPENSHIFT_CLUSTER_KINDS, needs.GLOBAL_PULL_SECRET, needs.SAR})
LISTED = tuple(k for k in OPENSHIFT_CLUSTER_KINDS if k not in needs.SINGLETONS)


@dataclass(frozen=True)
class Scope:
    namespaces: tuple[str, ...] | None  # None: every namespace (-A)
    targets: tuple[Target, ...] = ()
    selector: str | None = None
    images: bool = False  # --image runs: the SA and its secrets, no pods


def plan_reads(scope: Scope, selected: Iterable[str], openshift: bool) -> list[Read]:
    """The reads a run needs, in no particular order (they run concurrently)."""
    wanted = needs.kinds_for(selected)
    if not openshift:
        wanted -= OPENSHIFT_ONLY
    where: Sequence[str | None] = scope.namespaces if scope.namespaces is not None else (None,)
    reads: list[Read] = []
    subject_kinds = {t.kind for t in scope.targets if t.kind not in ("ServiceAccount", "Secret")}
    for ns in where:
        if scope.targets:
            for target in scope.targets:
                if target.kind in ("ServiceAccount", "Secret"):
                    continue  # covered by the lists below
                reads.append(Read(target.kind, ns, field_selector=f"metadata.name={target.name}", primary=True))
        elif not scope.images:
            reads.append(Read("Pod", ns, label_selector=scope.selector, primary=True))
        if not scope.images:
            # Owners: a pod's template tells whether its pull secrets came from the SA,
            # and restarts act on the top workload. Templates of workloads without pods
            # are diagnosed too, as offline. Listed whole: the selector applies to pods.
            for kind in WORKLOAD_KINDS:
                if (kind in ("DeploymentConfig", "ReplicationController") and not openshift) or kind in subject_kinds:
                    continue
                reads.append(Read(kind, ns))
        reads.append(Read("ServiceAccount", ns, primary=any(t.kind == "ServiceAccount" for t in scope.targets)))
        reads.append(Read("Secret", ns, primary=any(t.kind == "Secret" for t in scope.targets)))
        if "Event" in wanted and not scope.images:
            reads.append(Read("Event", ns, field_selector="involvedObject.kind=Pod"))
    if needs.GLOBAL_PULL_SECRET in wanted and not _lists_secrets_of(where, GLOBAL_PULL_SECRET[0]):
        reads.append(Read("Secret", GLOBAL_PULL_SECRET[0], GLOBAL_PULL_SECRET[1]))
    for kind, name in needs.SINGLETONS.items():
        if kind in wanted:
            reads.append(Read(kind, None, name))
    reads.extend(Read(kind, None) for kind in LISTED if kind in wanted)
    return reads


def _lists_secrets_of(where: Sequence[str | None], namespace: str) -> bool:
    return None in where or namespace in where


def trusted_ca_read(image_config: Obj) -> list[Read]:
    """image.config's additionalTrustedCA names a ConfigMap in openshift-config."""
    if image_config.get("kind") != "Image":
        return []
    name = ((image_config.get("spec") or {}).get("additionalTrustedCA") or {}).get("name")
    return [Read("ConfigMap", "openshift-config", name)] if isinstance(name, str) and name else []


@dataclass(frozen=True)
class Live:
    cluster: Cluster
    snapshot: Snapshot
    primary_denied: bool  # the subjects themselves were refused: nothing diagnosed


def load_snapshot(cluster: Cluster, scope_of: Scope, selected: Sequence[str], probe: bool,
                  progress: Show | None = None) -> Live:
    started = time.perf_counter()
    openshift = cluster.discover_openshift()
    reads = plan_reads(scope_of, selected, openshift)

    def loaded(done: int, planned: int, so_far: LoadResult) -> None:
        assert progress is not None
        objects = sum(len(items) for items in so_far.objects.values())
        progress(f"reading the cluster: {done}/{planned} reads, {len(so_far.objects)} kinds loaded, "
                 f"{objects:,} objects", final=done == planned)

    result: LoadResult = load(cluster, reads, then=trusted_ca_read if probe else None,
                              progress=loaded if progress is not None else None)
    objects = {kind: tuple(sorted(items, key=_key)) for kind, items in result.objects.items()}
    snapshot = Snapshot(
        objects=objects,
        offline=False,
        inputs=(cluster.server,),
        cluster={"context": cluster.context, "server": cluster.server, "openshift": openshift},
        covered=frozenset(result.covered),
        denied=tuple(sorted(result.denied, key=lambda d: (d.kind, d.namespace or "", d.name or ""))),
    )
    log.info("read %s with %d API request(s) in %.0f ms", snapshot.counts(), cluster.request_count,
             (time.perf_counter() - started) * 1000)
    return Live(cluster, snapshot, result.primary_denied)


def _key(obj: Obj) -> tuple[str, str]:
    m = obj.get("metadata") or {}
    return (str(m.get("namespace") or ""), str(m.get("name") or ""))


def with_access(live: Live, questions: Iterable[tuple[str, str, str]]) -> Snapshot:
    """Answer the SubjectAccessReviews the cross-project check needs."""
    answers, denied = review_access(live.cluster, questions)
    if not answers:
        return live.snapshot
    extra: tuple[Denied, ...] = (denied,) if denied is not None else ()
    return replace(live.snapshot, access=answers, denied=live.snapshot.denied + extra)
