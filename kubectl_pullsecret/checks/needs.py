"""What each check reads, so a live run fetches exactly those kinds (DESIGN.md: the
loader fetches what the selected checks declare, concurrently, once).

Every check that looks at pods, templates or credentials needs the core kinds (the
subjects, their service accounts and secrets); the extra kinds are listed here. On
OpenShift the global pull secret (the nodes' credentials) and image.config (the
internal registry's host names) feed every credential check.
"""

from __future__ import annotations

from collections.abc import Iterable

CORE = ("Pod", "ServiceAccount", "Secret")
GLOBAL_PULL_SECRET = "Secret:openshift-config/pull-secret"  # a named read, not a kind
IMAGE_CONFIG = "Image"
SAR = "SubjectAccessReview"  # not a read: a review per (service account, project)
# OpenShift's singletons: the one object of each kind the checks read, by name.
SINGLETONS = {"Image": "cluster", "ClusterVersion": "version", "ClusterOperator": "image-registry"}

# check id -> what it reads besides the core kinds (OpenShift-only kinds are read only
# when discovery finds OpenShift).
EXTRA: dict[str, tuple[str, ...]] = {
    "pull-error-observed": ("Event",),
    "sa-not-provisioned": ("ClusterVersion", "ClusterOperator"),
    "internal-registry-disabled": ("ClusterVersion", "ClusterOperator"),
    "cross-project-pull-denied": (SAR,),
    "global-pull-secret-rollout-pending": ("MachineConfigPool",),
    "mirror-credential-missing": ("ImageDigestMirrorSet", "ImageTagMirrorSet", "ImageContentSourcePolicy"),
    # The release payload (ClusterVersion) is exempt from blocks; mirrors decide NeverContactSource.
    "registry-blocked": ("ClusterVersion", "ImageDigestMirrorSet", "ImageTagMirrorSet", "ImageContentSourcePolicy"),
}
# Checks that read nothing of the pods' credentials (everything else does).
NO_CREDENTIALS = frozenset({"pull-error-observed", "global-pull-secret-rollout-pending", "permission-denied"})
# Checks about the cluster, not about pods.
CLUSTER_LEVEL = frozenset({"global-pull-secret-invalid", "global-pull-secret-telemetry-missing",
                           "global-pull-secret-rollout-pending", "permission-denied"})
# What image.config.openshift.io/cluster decides: the internal registry's host names,
# the registry policy, and the trust the probes use.
IMAGE_CONFIG_USERS = frozenset({"no-matching-credential", "pod-overrides-sa-secrets", "internal-registry-disabled",
                                "cross-project-pull-denied", "registry-blocked", "registry-tls-untrusted",
                                "registry-unreachable"})


def kinds_for(selected: Iterable[str]) -> set[str]:
    """Every kind (and named read) the selected checks need."""
    wanted = set(CORE) | {GLOBAL_PULL_SECRET, IMAGE_CONFIG}
    for check_id in selected:
        wanted.update(EXTRA.get(check_id, ()))
    return wanted


def users_of(kind: str, selected: Iterable[str]) -> list[str]:
    """The selected checks that an unreadable `kind` leaves skipped or incomplete."""
    out = []
    for check_id in selected:
        if kind in EXTRA.get(check_id, ()):
            hit = True
        elif kind in ("Pod", "ServiceAccount"):
            hit = check_id not in CLUSTER_LEVEL
        elif kind == "Secret":
            hit = check_id not in CLUSTER_LEVEL and check_id not in NO_CREDENTIALS
        elif kind == GLOBAL_PULL_SECRET:
            hit = check_id not in NO_CREDENTIALS
        elif kind == IMAGE_CONFIG:
            hit = check_id in IMAGE_CONFIG_USERS
        else:
            hit = False
        if hit:
            out.append(check_id)
    return out
