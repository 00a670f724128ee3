"""fakekube: an in-process fake Kubernetes API server for tests and benchmarks.

Faithful enough that the real `kubernetes` Python client and the real `kubectl` work against it through a
generated kubeconfig (HTTPS with its own CA, bearer tokens, RBAC, discovery, tables, patches, paging).

    from tests.fakekube import FakeKube
    with FakeKube(openshift=False) as api:
        api.add_all(objs)
        kubeconfig = api.kubeconfig(tmp_path / "kubeconfig", user="admin", namespace="shop")

Modules: server (HTTP, FakeKube, faults, request log), api (verbs and routing), store (objects and
resourceVersions), resources (the served types), discovery, tables, selectors, patch, rbac, objects
(defaulting/validation/conversion), pki. `python -m tests.fakekube --help` runs it in its own process.
"""

from __future__ import annotations

from .api import ForbidRule, User
from .rbac import cluster_role_binding, group, role_binding, service_account, standard_cluster_roles, user
from .server import ADMIN_TOKEN, ADMIN_USER, FakeKube, FaultRule, RequestRecord, load_objects

__all__ = [
    "ADMIN_TOKEN", "ADMIN_USER", "FakeKube", "FaultRule", "ForbidRule", "RequestRecord", "User",
    "cluster_role_binding", "group", "load_objects", "role_binding", "service_account", "standard_cluster_roles", "user",
]
