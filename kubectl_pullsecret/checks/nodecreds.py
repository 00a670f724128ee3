"""What the nodes hold (--from-nodes): each node's /var/lib/kubelet/config.json against
the credentials the cluster's objects say the nodes have (OpenShift's global pull
secret, which the Machine Config Operator writes to that file; or --authfile)."""

from __future__ import annotations

from collections.abc import Iterator

from kubectl_pullsecret.checks.base import Context, finding
from kubectl_pullsecret.dockerconfig import content_digest
from kubectl_pullsecret.findings import Finding, Fix, ObjectRef, Severity
from kubectl_pullsecret.probe_model import NodeResult
from kubectl_pullsecret.resolve import GLOBAL_PULL_SECRET


def compared_nodes(ctx: Context) -> list[NodeResult]:
    """Nodes whose config.json came back, when there is something to compare it with."""
    if ctx.nodes is None or ctx.node.config is None or ctx.node.origin is None:
        return []
    return [n for n in ctx.nodes.results if n.status == "ok" and n.config is not None]


def _reference(origin: str) -> str:
    if origin == "global":
        return f"the global pull secret {GLOBAL_PULL_SECRET[0]}/{GLOBAL_PULL_SECRET[1]}"
    return f"--authfile {origin.removeprefix('file:')}"


def differences(expected: dict[str, str], actual: dict[str, str]) -> list[str]:
    """Per registry key: missing on the node, only on the node, or another credential
    (told by fingerprints, never by content)."""
    out = [f"{key} is missing" for key in sorted(expected) if key not in actual]
    out += [f"{key} is only on the node" for key in sorted(actual) if key not in expected]
    out += [f"{key} has another credential (fingerprint {actual[key]} on the node, {expected[key]} expected)"
            for key in sorted(expected) if key in actual and actual[key] != expected[key]]
    return out


def check_node_credentials_stale(ctx: Context) -> Iterator[Finding]:
    """--from-nodes: a node's /var/lib/kubelet/config.json differs from the global pull secret."""
    config, origin = ctx.node.config, ctx.node.origin
    if config is None or origin is None or ctx.nodes is None:
        return
    expected_digest = content_digest(config, ctx.nodes.nonce)
    expected = {e.key: e.fingerprint for e in config.entries}
    reference = _reference(origin)
    for node in compared_nodes(ctx):
        info = node.config or {}
        if not info.get("present"):
            problem = "has no /var/lib/kubelet/config.json: the kubelet there pulls with the pods' secrets only"
        elif info.get("error"):
            problem = (f"has a /var/lib/kubelet/config.json the kubelet cannot use ({info['error']}): it pulls "
                       "with the pods' secrets only")
        elif info.get("digest") == expected_digest:
            continue
        else:
            actual = {str(e.get("key")): str(e.get("fingerprint")) for e in info.get("entries") or []
                      if isinstance(e, dict)}
            changes = differences(expected, actual) or ["the same keys and credentials, other fields differ"]
            problem = f"differs from {reference}: {'; '.join(changes)}"
        cause = ("The Machine Config Operator has not finished writing the current pull secret there (see "
                 "global-pull-secret-rollout-pending), or the file was changed on the node by hand."
                 if origin == "global" else "Install the same file on every node (or fix --authfile).")
        msg = f"Node {node.node}'s /var/lib/kubelet/config.json {problem}. {cause}"
        fix = Fix(None, ("oc get machineconfigpools",
                         f"oc get node {node.node} -o jsonpath='{{.metadata.annotations}}'   # current vs desired "
                         "machineconfiguration.openshift.io/ config")) if origin == "global" else None
        yield finding("node-credentials-stale", Severity.WARNING, ObjectRef("Node", None, node.node), msg, fix=fix)
