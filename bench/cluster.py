"""A synthetic large cluster for the scale benchmark: realistic pods (owner references,
managedFields, env, probes, statuses), service accounts and secrets in proportion.

Per namespace: a Deployment's ReplicaSet owning the pods, 3 service accounts (default,
builder, deployer, as OpenShift creates) each with a dockercfg pull secret and a token
secret, and one hand-made `regcred` dockerconfigjson secret linked to `default`.
"""

from __future__ import annotations

import base64
import json
from typing import Any

SAS = ("default", "builder", "deployer")


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _managed_fields(manager: str) -> list[dict[str, Any]]:
    return [{"manager": manager, "operation": "Update", "apiVersion": "v1", "time": "2026-11-01T10:00:00Z",
             "fieldsType": "FieldsV1",
             "fieldsV1": {"f:metadata": {"f:labels": {".": {}, "f:app": {}, "f:pod-template-hash": {}},
                                         "f:ownerReferences": {".": {}, 'k:{"uid":"x"}': {}}},
                          "f:spec": {"f:containers": {'k:{"name":"app"}': {
                              ".": {}, "f:env": {".": {}}, "f:image": {}, "f:imagePullPolicy": {}, "f:name": {},
                              "f:ports": {".": {}}, "f:resources": {".": {}}, "f:volumeMounts": {".": {}}}},
                              "f:dnsPolicy": {}, "f:restartPolicy": {}, "f:schedulerName": {}}}}]


def pod(ns: str, i: int, image: str) -> dict[str, Any]:
    rs = f"app-{ns}-7d9f8c6b5"
    name = f"{rs}-{i:05d}"
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": name, "namespace": ns, "uid": f"uid-{ns}-{i}", "resourceVersion": str(1000 + i),
            "creationTimestamp": "2026-11-01T10:00:00Z", "generateName": rs + "-",
            "labels": {"app": "web", "pod-template-hash": "7d9f8c6b5"},
            "annotations": {"openshift.io/scc": "restricted-v2", "k8s.v1.cni.cncf.io/network-status": "[]"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": rs, "uid": f"rs-{ns}",
                                 "controller": True, "blockOwnerDeletion": True}],
            "managedFields": _managed_fields("kube-controller-manager"),
        },
        "spec": {
            "serviceAccountName": "default", "serviceAccount": "default", "nodeName": f"worker-{i % 50}",
            "imagePullSecrets": [{"name": "default-dockercfg-abcde"}, {"name": "regcred"}],
            "containers": [{
                "name": "app", "image": image, "imagePullPolicy": "IfNotPresent",
                "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                "env": [{"name": f"VAR_{k}", "value": f"value-{k}"} for k in range(8)],
                "resources": {"limits": {"cpu": "500m", "memory": "512Mi"},
                              "requests": {"cpu": "100m", "memory": "128Mi"}},
                "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 10},
                "volumeMounts": [{"name": "kube-api-access", "mountPath": "/var/run/secrets/kubernetes.io/sa",
                                  "readOnly": True}],
                "terminationMessagePath": "/dev/termination-log",
            }],
            "volumes": [{"name": "kube-api-access", "projected": {"sources": [
                {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}}]}}],
            "restartPolicy": "Always", "dnsPolicy": "ClusterFirst", "schedulerName": "default-scheduler",
            "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
                             "tolerationSeconds": 300}],
        },
        "status": {
            "phase": "Running", "hostIP": "10.0.0.1", "podIP": f"10.128.{i % 250}.{i % 200}",
            "startTime": "2026-11-01T10:00:01Z",
            "conditions": [{"type": t, "status": "True", "lastTransitionTime": "2026-11-01T10:00:05Z"}
                           for t in ("Initialized", "Ready", "ContainersReady", "PodScheduled")],
            "containerStatuses": [{"name": "app", "ready": True, "restartCount": 0, "image": image,
                                   "imageID": image.split(":")[0] + "@sha256:" + "ab" * 32,
                                   "containerID": "cri-o://" + "cd" * 32,
                                   "state": {"running": {"startedAt": "2026-11-01T10:00:04Z"}}}],
        },
    }


def namespace_objects(ns: str, pods: int, start: int) -> list[dict[str, Any]]:
    objs: list[dict[str, Any]] = []
    images = ("quay.io/acme/web:1.2", "registry.example.com/team/api:2.0", "docker.io/library/nginx:1.25")
    for i in range(pods):
        objs.append(pod(ns, start + i, images[(start + i) % len(images)]))
    for sa in SAS:
        pull = f"{sa}-dockercfg-abcde"
        token = f"{sa}-token-fghij"
        objs.append({"apiVersion": "v1", "kind": "ServiceAccount",
                     "metadata": {"name": sa, "namespace": ns, "uid": f"sa-{ns}-{sa}",
                                  "creationTimestamp": "2026-10-01T10:00:00Z",
                                  "annotations": {"openshift.io/internal-registry-pull-secret-ref": pull}},
                     "imagePullSecrets": [{"name": pull}] + ([{"name": "regcred"}] if sa == "default" else []),
                     "secrets": [{"name": pull}]})
        cfg = {"image-registry.openshift-image-registry.svc:5000": {"username": "<token>", "password": "x" * 600,
                                                                     "auth": _b64("<token>:" + "x" * 600)}}
        objs.append({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockercfg",
                     "metadata": {"name": pull, "namespace": ns, "creationTimestamp": "2026-10-01T10:00:00Z",
                                  "annotations": {"openshift.io/internal-registry-auth-token.binding": "bound",
                                                  "openshift.io/internal-registry-auth-token.service-account": sa}},
                     "data": {".dockercfg": _b64(json.dumps(cfg))}})
        objs.append({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/service-account-token",
                     "metadata": {"name": token, "namespace": ns, "creationTimestamp": "2026-10-01T10:00:00Z",
                                  "annotations": {"kubernetes.io/service-account.name": sa}},
                     "data": {"token": _b64("t" * 900), "ca.crt": _b64("c" * 1200), "namespace": _b64(ns)}})
    regcred = {"auths": {"quay.io": {"auth": _b64("acme+robot:" + "p" * 32)},
                         "registry.example.com": {"auth": _b64("svc:" + "q" * 24)}}}
    objs.append({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockerconfigjson",
                 "metadata": {"name": "regcred", "namespace": ns, "creationTimestamp": "2026-10-01T10:00:00Z"},
                 "data": {".dockerconfigjson": _b64(json.dumps(regcred))}})
    return objs


def make_cluster(pods: int, namespaces: int) -> list[dict[str, Any]]:
    """`pods` pods spread evenly over `namespaces` namespaces."""
    objs: list[dict[str, Any]] = []
    per, extra = divmod(pods, namespaces)
    start = 0
    for n in range(namespaces):
        count = per + (1 if n < extra else 0)
        ns = f"ns-{n:05d}"
        objs.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "uid": f"ns-{n}"}})
        objs.extend(namespace_objects(ns, count, start))
        start += count
    return objs


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="write a synthetic cluster as one JSON List")
    parser.add_argument("--pods", type=int, required=True)
    parser.add_argument("--namespaces", type=int, required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    with open(args.out, "w", encoding="utf-8") as fh:
        json.dump({"apiVersion": "v1", "kind": "List", "items": make_cluster(args.pods, args.namespaces)}, fh)
