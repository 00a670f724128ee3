"""What the kubelet itself said: container waiting states and pod events, classified."""

from __future__ import annotations

import re
from collections.abc import Iterator

from kubectl_pullsecret.checks.base import Context, finding
from kubectl_pullsecret.findings import Finding, Severity
from kubectl_pullsecret.snapshot import Obj, meta

PULL_REASONS = frozenset({"ErrImagePull", "ImagePullBackOff", "ErrImageNeverPull", "InvalidImageName",
                          "RegistryUnavailable", "ImageInspectError"})
EVENT_REASONS = frozenset({"Failed", "BackOff", "FailedToRetrieveImagePullSecret", "ErrImageNeverPull",
                           "InspectFailed"}) | PULL_REASONS

# (category, what it means, needles) — first hit wins, so specific before generic.
# Sources: kubelet images/image_manager.go, CRI-O and containerd pull errors, registry error codes.
CLASSES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("missing-secret", "a referenced pull secret could not be read",
     ("unable to retrieve some image pull secrets", "failedtoretrieveimagepullsecret")),
    ("never-pull", "imagePullPolicy is Never and the image is not on the node (or, with "
     "KubeletEnsureSecretPulledImages, the pod's credentials were not verified for it)",
     ("errimageneverpull", "is not present with pull policy of never", "pull policy of never")),
    ("invalid-name", "the image reference does not parse", ("invalidimagename", "invalid reference format",
                                                            "couldn't parse image")),
    ("pull-secret-undecodable", "a pull secret of the pod does not decode, so the kubelet fails the pull "
     "(see pull-secret-malformed)",
     ("must be formatted as base64(username:password)", "illegal base64 data", "cannot unmarshal",
      "unexpected end of json input", "failed to decode secret")),
    ("bad-credentials", "the registry or its token server rejected the username/password",
     ("invalid username/password", "incorrect username or password", "unable to retrieve auth token",
      "authentication failed", "invalid credentials")),
    ("rate-limited", "the registry rate-limited the pull (Docker Hub: toomanyrequests)",
     ("toomanyrequests", "too many requests", "rate limit")),
    ("access-denied", "authenticated or anonymous access was refused: no permission, or the repository does "
     "not exist (registries do not tell which)",
     ("requested access to the resource is denied", "pull access denied", "insufficient_scope",
      "denied:", "403 forbidden", "access denied")),
    ("auth-required", "the registry requires credentials and none (or none valid) were sent",
     ("unauthorized", "authentication required")),
    ("tls", "the node does not trust the registry's certificate",
     ("x509:", "certificate signed by unknown authority", "tls: failed to verify certificate",
      "certificate is not valid", "tls: ")),
    ("policy", "OpenShift/CRI-O registry policy blocks the image",
     ("is blocked in /etc/containers/registries.conf", "rejected by policy", "not allowed by policy",
      "is blocked")),
    ("platform", "the image has no variant for the node's platform",
     ("no image found in manifest list for architecture", "no matching manifest for")),
    ("not-found", "the tag or digest does not exist in an accessible repository",
     ("manifest unknown", "name unknown", "not found", "manifest_unknown")),
    ("network", "the node could not reach the registry (DNS, proxy, firewall): its network can differ from "
     "this machine's",
     ("no such host", "i/o timeout", "connection refused", "network is unreachable", "connection reset",
      "dial tcp", "context deadline exceeded", "registryunavailable", "server misbehaving")),
    ("back-off", "an earlier pull failed and the kubelet waits before retrying; the failure itself is in the "
     "pod's events", ("back-off pulling image", "imagepullbackoff")),
)

_CONTAINER_IN_FIELD = re.compile(r"spec\.(?:initContainers|containers|ephemeralContainers)\{([^}]*)\}")
MAX_QUOTE = 300


def classify(reason: str, message: str) -> tuple[str, str]:
    """Map a kubelet waiting reason/message or event to (category, meaning)."""
    text = f"{reason} {message}".lower()
    for category, meaning, needles in CLASSES:
        if any(n in text for n in needles):
            return category, meaning
    return "other", "not a recognised pull failure"


def _quote(message: str) -> str:
    message = " ".join(message.split())
    return message if len(message) <= MAX_QUOTE else message[: MAX_QUOTE - 1] + "…"


def _observations(pod: Obj, events: list[Obj]) -> dict[str | None, list[tuple[str, str]]]:
    """(reason, message) pairs by container name (None: the pod as a whole)."""
    out: dict[str | None, list[tuple[str, str]]] = {}
    status = pod.get("status") or {}
    for key in ("initContainerStatuses", "containerStatuses"):
        for cs in status.get(key) or []:
            waiting = ((cs or {}).get("state") or {}).get("waiting") or {}
            reason = str(waiting.get("reason") or "")
            if reason in PULL_REASONS:
                out.setdefault(str(cs.get("name")), []).append((reason, str(waiting.get("message") or "")))
    for ev in events:
        reason = str(ev.get("reason") or "")
        message = str(ev.get("message") or "")
        if reason not in EVENT_REASONS:
            continue
        if reason in ("Failed", "BackOff") and not re.search(r"pull|image", message, re.I):
            continue
        m = _CONTAINER_IN_FIELD.search(str((ev.get("involvedObject") or {}).get("fieldPath") or ""))
        out.setdefault(m.group(1) if m else None, []).append((reason, message))
    return out


def check_pull_errors(ctx: Context) -> Iterator[Finding]:
    """The kubelet's own waiting message or events for the container, classified, shown next to the diagnosis."""
    events_by_pod: dict[tuple[str, str], list[Obj]] = {}
    for ev in ctx.snapshot.of("Event"):
        inv = ev.get("involvedObject") or {}
        if inv.get("kind") == "Pod":
            ns = str(inv.get("namespace") or meta(ev).get("namespace") or "")
            events_by_pod.setdefault((ns, str(inv.get("name"))), []).append(ev)
    for s in ctx.scope.subjects:
        if not s.created:
            continue
        observed = _observations(s.obj, events_by_pod.get((s.ref.namespace or "", s.ref.name or ""), []))
        images = {c.name: c.image for c in s.containers}
        for container, pairs in sorted(observed.items(), key=lambda kv: kv[0] or ""):
            # The most specific observation: an event/message that classifies, longest message first.
            ranked = sorted(pairs, key=lambda p: (classify(*p)[0] == "other", -len(p[1])))
            reason, message = ranked[0]
            category, meaning = classify(reason, message)
            reasons = sorted({r for r, _ in pairs})
            quoted = f' It said: "{_quote(message)}"' if message else ""
            msg = f"The kubelet reported {'/'.join(reasons)} ({category}: {meaning}).{quoted}"
            yield finding("pull-error-observed", Severity.INFO, s.ref, msg, container=container,
                          image=images.get(container or "") or None)
