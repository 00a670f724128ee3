"""What the user may not read: each refused read, and the checks it leaves blind."""

from __future__ import annotations

from collections.abc import Iterator

from kubectl_pullsecret.checks import needs
from kubectl_pullsecret.checks.base import Context, finding
from kubectl_pullsecret.findings import Finding, Fix, ObjectRef, Severity
from kubectl_pullsecret.kube import RESOURCES, SAR
from kubectl_pullsecret.resolve import GLOBAL_PULL_SECRET


def check_permission_denied(ctx: Context) -> Iterator[Finding]:
    """The user may not read something doctor needs; the checks depending on it are skipped."""
    for d in ctx.snapshot.denied:
        res = SAR if d.kind == "SubjectAccessReview" else RESOURCES[d.kind]
        resource = res.qualified
        if (d.namespace, d.name) == GLOBAL_PULL_SECRET and d.kind == "Secret":
            what = "the global pull secret openshift-config/pull-secret (the nodes' credentials)"
            kind_key = needs.GLOBAL_PULL_SECRET
        elif d.name is not None:
            what = f"{d.kind} {d.namespace + '/' if d.namespace else ''}{d.name}"
            kind_key = d.kind
        elif d.kind == "SubjectAccessReview":
            what = "SubjectAccessReviews (who may pull from which project)"
            kind_key = d.kind
        else:
            where = f" in namespace {d.namespace}" if d.namespace else (" in any namespace" if res.namespaced
                                                                         else "")
            what = f"{resource}{where}"
            kind_key = d.kind
        skipped = needs.users_of(kind_key, ctx.selected)
        verb = "create" if d.kind == "SubjectAccessReview" else ("get" if d.name else "list")
        ns = f" -n {d.namespace}" if d.namespace else (" -A" if res.namespaced and d.name is None else "")
        effect = (f" Skipped or incomplete: {', '.join(skipped)}." if skipped else "")
        if kind_key == needs.GLOBAL_PULL_SECRET:
            effect += (" Without it the node credentials are unknown, so an image that only the global pull secret "
                       "covers may be reported as having no credential.")
        elif d.kind == "Secret":
            effect += " The pods' pull secrets cannot be decoded, so their credentials are not checked."
        if d.status == 403:
            msg = f"You may not {verb} {what} ({d.reason}).{effect} Ask for read access, or run as a cluster reader."
        else:
            msg = (f"The API server failed to {verb} {what} (HTTP {d.status}: {d.reason}), even after retries."
                   f"{effect} Run again later.")
        yield finding("permission-denied", Severity.INFO, ObjectRef(d.kind, d.namespace, d.name), msg,
                      fix=Fix(None, (f"oc auth can-i {verb} {resource}{ns}",)))
    for d in ctx.nodes.denied if ctx.nodes is not None else ():
        # --from-nodes: the probe pods (or their namespace, inputs, the node list) were refused.
        res = RESOURCES[d.kind]
        verb = d.verb or ("get" if d.name else "list")
        ns = f" -n {d.namespace}" if d.namespace else ""
        msg = (f"Node probes (--from-nodes) were not run: {d.reason}. The registry checks use this machine's "
               "probes only. The probe pods need the host network and host paths: on OpenShift the privileged SCC, "
               "elsewhere a namespace whose Pod Security level is privileged.")
        yield finding("permission-denied", Severity.INFO, ObjectRef(d.kind, d.namespace, d.name), msg,
                      fix=Fix(None, (f"oc auth can-i {verb} {res.qualified}{ns}",)))

