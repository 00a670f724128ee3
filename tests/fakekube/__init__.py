"""fakekube: an in-process fake Kubernetes API server for tests and benchmarks.

Faithful enough that the real `kubernetes` Python client and the real `kubectl` (1.32) work against it
through a generated kubeconfig: HTTPS with its own CA (made once per process), bearer tokens, RBAC from
the stored roles and bindings, discovery (legacy and aggregated), server-side tables, OpenAPI v3 stubs,
get/list/watch/create/update/patch/delete, selectors, paging, dry-run, reviews, protobuf request bodies.

    from tests.fakekube import FakeKube
    with FakeKube(openshift=False) as api:
        api.add_all(objs)                        # dicts as the API returns them (or a List)
        api.add_standard_roles()                 # view, edit, admin, cluster-admin, system:image-puller
        api.add_user("alice", "alice-token", groups=())
        path = api.kubeconfig(tmp_path / "kubeconfig", user="alice", namespace="shop")
        api.fault(method="GET", path=r"/secrets$", status=429, retry_after=1, times=1)
        api.forbid("secrets", namespace="shop")
        api.requests                             # [RequestRecord(method, path, query, user, status, elapsed, ...)]
        kubelet = api.kubelet()                  # SimKubelet: runs node-probe pods as local processes (kubelet.py)
        kubelet.add_node("node-a", root=tmp_path / "node-a", labels={...}, taints=[...],
                         start_delay=0.0, stuck_reason=None)  # stores the Node; hostPath volumes under root
        kubelet.runs, kubelet.running(), kubelet.log(ns, name), kubelet.stop()

Beyond the brief's API: `get_object` / `list_objects` / `remove` (kind as "Pod", "pods" or "ServiceAccount"),
`add_standard_roles`, `add_service_account_user(ns, name, token)`, `compact()` (continue tokens and watch
resourceVersions issued so far answer 410 Expired), `strict_namespaces` (creating in a namespace that is not
stored answers 404), `fault(..., query={"continue": "."})`, `forbid(..., user=, times=)`, `stop()` then
`start()` again on the same port. The built-in user "admin" (token "admin-token") is in system:masters.

What the server does on writes (API only; `add()` stores objects as given): Secret stringData folded into
data and dockercfg/dockerconfigjson/tls/basic-auth/SA-token validation, Pod spec immutability and
ServiceAccount admission (the account must exist; its imagePullSecrets are copied to a pod without any),
RoleBinding roleRef immutability and RBAC escalation checks, a "default" ServiceAccount for a namespace
created through the API, generation bumps, status kept out of main-resource writes, optimistic
concurrency (409), `dryRun=All`, impersonation headers (kubectl --as).

The simulated kubelet (`api.kubelet()`, stopped by `stop()`) runs pods labelled
app.kubernetes.io/name=pullsecret-node-probe bound to its nodes: volumes (configMap, secret, hostPath, emptyDir)
materialised in a temp dir, the container's command run with subprocess (python3 -> sys.executable, mount paths
in arguments rewritten), status Pending -> Running -> Succeeded/Failed written through the store (watchers see
it), activeDeadlineSeconds, FailedMount events, and GET pods/NAME/log answering the process's output.

Not modelled: controllers (no Deployment -> ReplicaSet -> Pod, no OpenShift dockercfg provisioning),
garbage collection and namespace termination, field ownership in server-side apply (applied like a
strategic merge patch), object schemas (no unknown-field rejection; no `kubectl explain`), protobuf
responses (JSON is always answered; clients accept it), CBOR, gzip, HTTP/2.

Modules: server (HTTP, FakeKube, faults, request log), api (routing and verbs), store (objects and
resourceVersions), kubelet (the simulated kubelet), resources (the served types), discovery, openapi, tables,
selectors, patch, rbac, objects (defaulting/validation/conversion), protobuf, pki. `python -m tests.fakekube --help` runs it in
its own process (see __main__.py).
"""

from __future__ import annotations

from .api import ForbidRule, User
from .kubelet import SimKubelet
from .rbac import cluster_role_binding, group, role_binding, service_account, standard_cluster_roles, user
from .server import ADMIN_TOKEN, ADMIN_USER, FakeKube, FaultRule, RequestRecord, load_objects

__all__ = [
    "ADMIN_TOKEN", "ADMIN_USER", "FakeKube", "FaultRule", "ForbidRule", "RequestRecord", "SimKubelet", "User",
    "cluster_role_binding", "group", "load_objects", "role_binding", "service_account", "standard_cluster_roles", "user",
]
