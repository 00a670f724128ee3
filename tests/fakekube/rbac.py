"""RBAC evaluated from the stored Role/RoleBinding/ClusterRole/ClusterRoleBinding objects, and the standard roles.

`authorize()` answers like the RBAC authorizer: allowed with the reason naming the binding, or denied.
`forbidden_message()` builds the real 403 text. `standard_cluster_roles()` returns close approximations of
the bootstrap ClusterRoles `view`, `edit`, `admin`, `cluster-admin` and `system:image-puller` (as on
OpenShift), for tests to add; as upstream, `view` grants nothing on secrets.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .store import Store

Obj = dict[str, Any]
RBAC = "rbac.authorization.k8s.io"
MASTERS = "system:masters"


@dataclass(frozen=True)
class Attributes:
    user: str
    groups: tuple[str, ...] = ()
    verb: str = "get"
    namespace: str = ""
    api_group: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""
    path: str = ""  # non-resource requests
    resource_request: bool = True
    extra: tuple[str, ...] = field(default=())


def _subject_matches(subject: Obj, attrs: Attributes, binding_namespace: str) -> bool:
    kind = subject.get("kind")
    name = subject.get("name", "")
    if kind == "User":
        return bool(name) and name == attrs.user
    if kind == "Group":
        return name in attrs.groups
    if kind == "ServiceAccount":
        ns = subject.get("namespace") or binding_namespace
        return attrs.user == f"system:serviceaccount:{ns}:{name}"
    return False


def _has(values: Iterable[str] | None, wanted: str) -> bool:
    values = list(values or ())
    return "*" in values or wanted in values


def rule_allows(rule: Obj, attrs: Attributes) -> bool:
    if not _has(rule.get("verbs"), attrs.verb):
        return False
    if not attrs.resource_request:
        urls = rule.get("nonResourceURLs") or []
        return any(u == "*" or u == attrs.path or (u.endswith("*") and attrs.path.startswith(u[:-1])) for u in urls)
    if not _has(rule.get("apiGroups"), attrs.api_group):
        return False
    resources = rule.get("resources") or []
    combined = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
    if not ("*" in resources or combined in resources
            or (attrs.subresource and f"*/{attrs.subresource}" in resources)):
        return False
    names = rule.get("resourceNames") or []
    return not names or attrs.name in names


def _role_rules(store: Store, ref: Obj, namespace: str) -> tuple[list[Obj], str]:
    kind = ref.get("kind", "")
    name = ref.get("name", "")
    if kind == "ClusterRole":
        entry = store.get((RBAC, "clusterroles"), "", name)
    elif kind == "Role":
        entry = store.get((RBAC, "roles"), namespace, name)
    else:
        return [], kind
    if entry is None:
        return [], kind
    return list(entry.obj.get("rules") or []), kind


def authorize(store: Store, attrs: Attributes) -> tuple[bool, str]:
    """(allowed, reason) as the RBAC authorizer would answer."""
    if MASTERS in attrs.groups:
        return True, ""
    public = not attrs.resource_request and (attrs.path in _PUBLIC_PATHS or attrs.path.startswith(_PUBLIC_PREFIXES))
    if public and ("system:authenticated" in attrs.groups or "system:unauthenticated" in attrs.groups):
        return True, "RBAC: allowed by ClusterRoleBinding \"system:discovery\" of ClusterRole \"system:discovery\""
    if (attrs.resource_request and attrs.api_group == "authorization.k8s.io" and attrs.verb == "create"
            and attrs.resource in ("selfsubjectaccessreviews", "selfsubjectrulesreviews")
            and "system:authenticated" in attrs.groups):
        return True, "RBAC: allowed by ClusterRoleBinding \"system:basic-user\" of ClusterRole \"system:basic-user\""
    for binding in store.all((RBAC, "clusterrolebindings")):
        obj = binding.obj
        if any(_subject_matches(s, attrs, "") for s in obj.get("subjects") or []):
            rules, _ = _role_rules(store, obj.get("roleRef") or {}, "")
            if any(rule_allows(r, attrs) for r in rules):
                subject = next(s for s in obj["subjects"] if _subject_matches(s, attrs, ""))
                return True, (f"RBAC: allowed by ClusterRoleBinding \"{obj['metadata']['name']}\" of ClusterRole "
                              f"\"{obj['roleRef'].get('name')}\" to {_describe(subject)}")
    if attrs.namespace and attrs.resource_request:
        for binding in store.scan((RBAC, "rolebindings"), attrs.namespace):
            obj = binding.obj
            subjects = [s for s in obj.get("subjects") or [] if _subject_matches(s, attrs, attrs.namespace)]
            if not subjects:
                continue
            ref = obj.get("roleRef") or {}
            rules, kind = _role_rules(store, ref, attrs.namespace)
            if any(rule_allows(r, attrs) for r in rules):
                return True, (f"RBAC: allowed by RoleBinding \"{obj['metadata']['name']}/{attrs.namespace}\" of "
                              f"{kind} \"{ref.get('name')}\" to {_describe(subjects[0])}")
    return False, ""


def rules_for(store: Store, user_name: str, groups: Sequence[str], namespace: str) -> list[Obj]:
    """Every rule granted to the user in the namespace (cluster-wide bindings included), for
    SelfSubjectRulesReview."""
    attrs = Attributes(user_name, tuple(groups), namespace=namespace)
    if MASTERS in groups:
        return [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}, {"verbs": ["*"], "nonResourceURLs": ["*"]}]
    rules: list[Obj] = [{"verbs": ["create"], "apiGroups": ["authorization.k8s.io"],
                         "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"]},
                        {"verbs": ["get"], "nonResourceURLs": sorted(_PUBLIC_PATHS)}]
    for binding in store.all((RBAC, "clusterrolebindings")):
        if any(_subject_matches(s, attrs, "") for s in binding.obj.get("subjects") or []):
            rules += _role_rules(store, binding.obj.get("roleRef") or {}, "")[0]
    if namespace:
        for binding in store.scan((RBAC, "rolebindings"), namespace):
            if any(_subject_matches(s, attrs, namespace) for s in binding.obj.get("subjects") or []):
                rules += _role_rules(store, binding.obj.get("roleRef") or {}, namespace)[0]
    return rules


def _describe(subject: Obj) -> str:
    if subject.get("kind") == "ServiceAccount":
        return f"ServiceAccount \"{subject.get('name')}/{subject.get('namespace', '')}\""
    return f"{subject.get('kind')} \"{subject.get('name')}\""


_PUBLIC_PATHS = {"/api", "/apis", "/version", "/healthz", "/livez", "/readyz", "/openapi/v2", "/openapi/v3"}
_PUBLIC_PREFIXES = ("/api/", "/apis/", "/openapi/")


def forbidden_message(attrs: Attributes) -> str:
    """The 403 text, e.g.
    `pods is forbidden: User "alice" cannot list resource "pods" in API group "" in the namespace "shop"`."""
    if not attrs.resource_request:
        return f"forbidden: User \"{attrs.user}\" cannot {attrs.verb} path \"{attrs.path}\""
    qualified = f"{attrs.resource}.{attrs.api_group}" if attrs.api_group else attrs.resource
    what = f"{qualified} \"{attrs.name}\"" if attrs.name else qualified
    combined = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
    scope = f"in the namespace \"{attrs.namespace}\"" if attrs.namespace else "at the cluster scope"
    return (f"{what} is forbidden: User \"{attrs.user}\" cannot {attrs.verb} resource \"{combined}\" "
            f"in API group \"{attrs.api_group}\" {scope}")


# -- standard roles ----------------------------------------------------------------------------------------

READ = ["get", "list", "watch"]
WRITE = ["create", "delete", "deletecollection", "patch", "update"]

_VIEW_RULES: list[Obj] = [
    {"apiGroups": [""], "resources": ["configmaps", "endpoints", "persistentvolumeclaims", "persistentvolumeclaims/status",
                                     "pods", "replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts",
                                     "services", "services/status"], "verbs": READ},
    {"apiGroups": [""], "resources": ["bindings", "events", "limitranges", "namespaces/status", "pods/log", "pods/status",
                                     "replicationcontrollers/status", "resourcequotas", "resourcequotas/status"],
     "verbs": READ},
    {"apiGroups": [""], "resources": ["namespaces"], "verbs": READ},
    {"apiGroups": ["apps"], "resources": ["controllerrevisions", "daemonsets", "daemonsets/status", "deployments",
                                         "deployments/scale", "deployments/status", "replicasets", "replicasets/scale",
                                         "replicasets/status", "statefulsets", "statefulsets/scale",
                                         "statefulsets/status"], "verbs": READ},
    {"apiGroups": ["batch"], "resources": ["cronjobs", "cronjobs/status", "jobs", "jobs/status"], "verbs": READ},
    {"apiGroups": ["events.k8s.io"], "resources": ["events"], "verbs": READ},
    {"apiGroups": ["", "apps.openshift.io"], "resources": ["deploymentconfigs", "deploymentconfigs/scale",
                                                           "deploymentconfigs/status"], "verbs": READ},
    {"apiGroups": ["", "image.openshift.io"], "resources": ["imagestreams", "imagestreams/status", "imagestreamtags",
                                                        "imagestreamimages"], "verbs": READ},
]

_EDIT_EXTRA: list[Obj] = [
    {"apiGroups": [""], "resources": ["pods/attach", "pods/exec", "pods/portforward", "pods/proxy", "secrets",
                                     "services/proxy"], "verbs": READ},
    {"apiGroups": [""], "resources": ["serviceaccounts"], "verbs": ["impersonate"]},
    {"apiGroups": [""], "resources": ["pods", "pods/attach", "pods/exec", "pods/portforward", "pods/proxy"],
     "verbs": ["create", "delete", "deletecollection", "patch", "update"]},
    {"apiGroups": [""], "resources": ["serviceaccounts/token"], "verbs": ["create"]},
    {"apiGroups": [""], "resources": ["configmaps", "events", "persistentvolumeclaims", "replicationcontrollers",
                                     "replicationcontrollers/scale", "secrets", "serviceaccounts", "services",
                                     "services/proxy"], "verbs": WRITE},
    {"apiGroups": ["apps"], "resources": ["daemonsets", "deployments", "deployments/rollback", "deployments/scale",
                                         "replicasets", "replicasets/scale", "statefulsets", "statefulsets/scale"],
     "verbs": WRITE},
    {"apiGroups": ["batch"], "resources": ["cronjobs", "jobs"], "verbs": WRITE},
    {"apiGroups": ["", "apps.openshift.io"], "resources": ["deploymentconfigs", "deploymentconfigs/scale",
                                                           "deploymentconfigs/instantiate", "deploymentconfigs/rollback"],
     "verbs": WRITE},
    {"apiGroups": ["", "image.openshift.io"], "resources": ["imagestreams", "imagestreamtags", "imagestreamimports"],
     "verbs": WRITE},
    # OpenShift's roles name both the legacy "" group and image.openshift.io
    {"apiGroups": ["", "image.openshift.io"], "resources": ["imagestreams/layers"], "verbs": ["get", "update"]},
    {"apiGroups": ["", "image.openshift.io"], "resources": ["imagestreams/secrets"], "verbs": ["get"]},
]

_ADMIN_EXTRA: list[Obj] = [
    {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["rolebindings", "roles"], "verbs": READ + WRITE},
    {"apiGroups": ["authorization.k8s.io"], "resources": ["localsubjectaccessreviews"], "verbs": ["create"]},
]


def _cluster_role(name: str, rules: Sequence[Obj], *, aggregate_to: str | None = None) -> Obj:
    labels = {"kubernetes.io/bootstrapping": "rbac-defaults"}
    if aggregate_to:
        labels[f"rbac.authorization.k8s.io/aggregate-to-{aggregate_to}"] = "true"
    return {"apiVersion": f"{RBAC}/v1", "kind": "ClusterRole",
            "metadata": {"name": name, "labels": labels,
                         "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"}},
            "rules": [dict(r) for r in rules]}


def standard_cluster_roles() -> list[Obj]:
    """ClusterRoles view, edit, admin, cluster-admin and system:image-puller (aggregations already folded in)."""
    view = list(_VIEW_RULES)
    edit = view + _EDIT_EXTRA
    admin = edit + _ADMIN_EXTRA
    return [
        _cluster_role("cluster-admin", [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
                                        {"nonResourceURLs": ["*"], "verbs": ["*"]}]),
        _cluster_role("admin", admin),
        _cluster_role("edit", edit),
        _cluster_role("view", view),
        _cluster_role("system:image-puller", [{"apiGroups": ["", "image.openshift.io"],
                                               "resources": ["imagestreams/layers"], "verbs": ["get"]}]),
    ]


def role_binding(name: str, namespace: str, role: str, subjects: Sequence[Obj], *, role_kind: str = "ClusterRole") -> Obj:
    """A RoleBinding object (helper for tests)."""
    return {"apiVersion": f"{RBAC}/v1", "kind": "RoleBinding", "metadata": {"name": name, "namespace": namespace},
            "roleRef": {"apiGroup": RBAC, "kind": role_kind, "name": role}, "subjects": [dict(s) for s in subjects]}


def cluster_role_binding(name: str, role: str, subjects: Sequence[Obj]) -> Obj:
    return {"apiVersion": f"{RBAC}/v1", "kind": "ClusterRoleBinding", "metadata": {"name": name},
            "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": role}, "subjects": [dict(s) for s in subjects]}


def user(name: str) -> Obj:
    return {"kind": "User", "apiGroup": RBAC, "name": name}


def group(name: str) -> Obj:
    return {"kind": "Group", "apiGroup": RBAC, "name": name}


def service_account(name: str, namespace: str) -> Obj:
    return {"kind": "ServiceAccount", "name": name, "namespace": namespace}
