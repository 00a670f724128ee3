"""The resource types the fake API server knows: names, scope, verbs, short names, subresources."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

STANDARD_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
CREATE_ONLY = ("create",)


@dataclass(frozen=True)
class Resource:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    verbs: tuple[str, ...] = STANDARD_VERBS
    categories: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()
    openshift: bool = False
    #: served from a CustomResourceDefinition: list items keep kind/apiVersion, no strategic merge patch
    crd: bool = False
    #: where objects of this resource live in the store (events.k8s.io events share core events)
    storage: tuple[str, str] | None = None
    singular: str = field(default="")

    @property
    def singular_name(self) -> str:
        return self.singular or self.kind.lower()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_version(self) -> str:
        return self.api_version

    @property
    def list_kind(self) -> str:
        return self.kind + "List"

    @property
    def key(self) -> tuple[str, str]:
        """(group, plural): the store bucket."""
        return self.storage or (self.group, self.plural)

    @property
    def qualified(self) -> str:
        """How error messages name the resource: "pods", "deployments.apps"."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def stored(self) -> bool:
        return "get" in self.verbs


def _r(group: str, version: str, plural: str, kind: str, namespaced: bool = True, **kw: object) -> Resource:
    return Resource(group, version, plural, kind, namespaced, **kw)  # type: ignore[arg-type]


ALL = ("all",)
STATUS = ("status",)

RESOURCES: tuple[Resource, ...] = (
    _r("", "v1", "pods", "Pod", short_names=("po",), categories=ALL,
       subresources=("status", "log", "exec", "eviction", "ephemeralcontainers")),
    _r("", "v1", "serviceaccounts", "ServiceAccount", short_names=("sa",), subresources=("token",)),
    _r("", "v1", "secrets", "Secret"),
    _r("", "v1", "configmaps", "ConfigMap", short_names=("cm",)),
    _r("", "v1", "events", "Event", short_names=("ev",)),
    _r("", "v1", "namespaces", "Namespace", namespaced=False, short_names=("ns",),
       verbs=("create", "delete", "get", "list", "patch", "update", "watch"), subresources=("status", "finalize")),
    _r("", "v1", "nodes", "Node", namespaced=False, short_names=("no",), subresources=("status", "proxy")),
    _r("apps", "v1", "deployments", "Deployment", short_names=("deploy",), categories=ALL,
       subresources=("status", "scale")),
    _r("apps", "v1", "statefulsets", "StatefulSet", short_names=("sts",), categories=ALL,
       subresources=("status", "scale")),
    _r("apps", "v1", "daemonsets", "DaemonSet", short_names=("ds",), categories=ALL, subresources=STATUS),
    _r("apps", "v1", "replicasets", "ReplicaSet", short_names=("rs",), categories=ALL,
       subresources=("status", "scale")),
    _r("", "v1", "replicationcontrollers", "ReplicationController", short_names=("rc",), categories=ALL,
       subresources=("status", "scale")),
    _r("batch", "v1", "jobs", "Job", categories=ALL, subresources=STATUS),
    _r("batch", "v1", "cronjobs", "CronJob", short_names=("cj",), categories=ALL, subresources=STATUS),
    _r("rbac.authorization.k8s.io", "v1", "roles", "Role"),
    _r("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding"),
    _r("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", namespaced=False),
    _r("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", namespaced=False),
    _r("authorization.k8s.io", "v1", "subjectaccessreviews", "SubjectAccessReview", namespaced=False,
       verbs=CREATE_ONLY),
    _r("authorization.k8s.io", "v1", "selfsubjectaccessreviews", "SelfSubjectAccessReview", namespaced=False,
       verbs=CREATE_ONLY),
    _r("authorization.k8s.io", "v1", "localsubjectaccessreviews", "LocalSubjectAccessReview", verbs=CREATE_ONLY),
    _r("authorization.k8s.io", "v1", "selfsubjectrulesreviews", "SelfSubjectRulesReview", namespaced=False,
       verbs=CREATE_ONLY),
    _r("events.k8s.io", "v1", "events", "Event", short_names=("ev",), storage=("", "events")),
    # OpenShift
    _r("apps.openshift.io", "v1", "deploymentconfigs", "DeploymentConfig", short_names=("dc",), categories=ALL,
       subresources=("status", "scale", "instantiate", "log", "rollback"), openshift=True),
    _r("image.openshift.io", "v1", "imagestreams", "ImageStream", short_names=("is",),
       subresources=("status", "layers", "secrets"), openshift=True),
    _r("config.openshift.io", "v1", "clusterversions", "ClusterVersion", namespaced=False, subresources=STATUS,
       openshift=True, crd=True),
    _r("config.openshift.io", "v1", "clusteroperators", "ClusterOperator", namespaced=False, short_names=("co",),
       subresources=STATUS, openshift=True, crd=True),
    _r("config.openshift.io", "v1", "images", "Image", namespaced=False, subresources=STATUS, openshift=True, crd=True),
    _r("config.openshift.io", "v1", "imagedigestmirrorsets", "ImageDigestMirrorSet", namespaced=False,
       short_names=("idms",), subresources=STATUS, openshift=True, crd=True),
    _r("config.openshift.io", "v1", "imagetagmirrorsets", "ImageTagMirrorSet", namespaced=False,
       short_names=("itms",), subresources=STATUS, openshift=True, crd=True),
    _r("operator.openshift.io", "v1alpha1", "imagecontentsourcepolicies", "ImageContentSourcePolicy",
       namespaced=False, openshift=True, crd=True),
    _r("machineconfiguration.openshift.io", "v1", "machineconfigpools", "MachineConfigPool", namespaced=False,
       short_names=("mcp",), subresources=STATUS, openshift=True, crd=True),
)

#: group -> preferred version order (first is preferred)
GROUP_ORDER = ("", "apps", "events.k8s.io", "authorization.k8s.io", "rbac.authorization.k8s.io", "batch",
               "apps.openshift.io", "config.openshift.io", "image.openshift.io", "machineconfiguration.openshift.io",
               "operator.openshift.io")


class Catalog:
    """The resources served (OpenShift groups only when asked for)."""

    def __init__(self, openshift: bool) -> None:
        self.openshift = openshift
        self.resources = tuple(r for r in RESOURCES if openshift or not r.openshift)
        self._by_path = {(r.group, r.version, r.plural): r for r in self.resources}
        self._by_kind: dict[tuple[str, str], Resource] = {}
        for r in self.resources:
            # the first registration of a kind wins (core events before events.k8s.io)
            self._by_kind.setdefault((r.group, r.kind), r)

    def lookup(self, group: str, version: str, plural: str) -> Resource | None:
        return self._by_path.get((group, version, plural))

    def by_api_version(self, api_version: str, kind: str) -> Resource | None:
        group = api_version.rpartition("/")[0] if "/" in api_version else ""
        return self._by_kind.get((group, kind))

    def by_kind(self, kind: str) -> Resource | None:
        """Any group: first resource with that kind (for convenience APIs)."""
        for r in self.resources:
            if r.kind == kind or r.plural == kind or r.kind.lower() == kind.lower():
                return r
        return None

    def groups(self) -> list[str]:
        present = {r.group for r in self.resources}
        return [g for g in GROUP_ORDER if g in present]

    def versions(self, group: str) -> list[str]:
        seen: list[str] = []
        for r in self.resources:
            if r.group == group and r.version not in seen:
                seen.append(r.version)
        return seen

    def in_group_version(self, group: str, version: str) -> Iterable[Resource]:
        return [r for r in self.resources if r.group == group and r.version == version]
