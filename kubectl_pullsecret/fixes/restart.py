"""`fix restart KIND/NAME`: recreate pods so that ServiceAccount admission gives them
their service account's current imagePullSecrets (DOMAIN.md §2: admission copies the
SA's pull secrets into a pod only when the pod is created, and only when it lists none).

What is restarted, as `oc` would do it:
- Deployment, StatefulSet, DaemonSet: `oc rollout restart` (the pod template gets the
  annotation kubectl.kubernetes.io/restartedAt), applied directly. A StatefulSet or
  DaemonSet with updateStrategy OnDelete replaces no pod on a template change: its stale
  pods are deleted instead, and it recreates them.
- DeploymentConfig: `oc rollout latest` (a DeploymentRequest POSTed to `instantiate`).
- ReplicaSet without a Deployment, ReplicationController without a DeploymentConfig, Job:
  the stale pods are deleted (their controller recreates them), directly. A Job is never
  traced up to its CronJob; a CronJob means the stale pods of its active Jobs.
- A bare pod: deleted only after y/N on a terminal or --yes: nothing recreates it.
- `pod/NAME` and a ReplicaSet/ReplicationController target act on the top controller
  (ReplicaSet -> Deployment, ReplicationController -> DeploymentConfig).

Decisions:
- Only pods that need it count: live pods of the workload (listed by its selector, kept
  only when their controller chain leads to it) whose pull secrets came from the SA and
  that lack a name the SA lists now. None: nothing is written (the SPEC's idempotence),
  and that includes a workload with no pod (a pod created later gets the SA's secrets
  anyway; restarting nothing only churns a rollout).
- A pod template listing its own imagePullSecrets gets none of the SA's, restarted or
  not (pod-overrides-sa-secrets): nothing is written, the template patch is shown.
- SA pull secrets that do not exist in the namespace are no reason to restart (as for
  doctor's pod-predates-sa-secrets): a warning says to create them first.
- A restart already requested after the stale pods were created (the template's
  restartedAt is later than every stale pod; a DeploymentConfig's latestVersion is
  beyond their ReplicationController, which has not failed) is not requested again: a
  second run while the first rollout is under way writes nothing and says so. Writing
  again would start yet another rollout of the same template for nothing.
- --wait polls the pods (every min(2 s, wait/20), at least 0.1 s) until no pod of the
  plan remains, no live pod lacks the SA's secrets, and there are as many live pods as
  before; on timeout the fix counts as unfinished (exit 1).
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kubectl_pullsecret.checks.base import join_names
from kubectl_pullsecret.errors import FixError, UsageError
from kubectl_pullsecret.findings import Finding
from kubectl_pullsecret.fixes import apply as applying
from kubectl_pullsecret.fixes.model import DELETE, Change, Edit, FixResult, Obj
from kubectl_pullsecret.fixes.session import Session
from kubectl_pullsecret.kube import Cluster
from kubectl_pullsecret.resolve import (
    WORKLOAD_KINDS,
    Scope,
    Target,
    _controller_of,
    pod_sa_name,
    pod_spec,
    sa_pull_secrets,
)
from kubectl_pullsecret.snapshot import meta, rfc3339, timestamp

RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
# What the DeploymentConfig controller puts on its ReplicationControllers and their pods.
DC_NAME = "openshift.io/deployment-config.name"
DC_LATEST_VERSION = "openshift.io/deployment-config.latest-version"
DC_PHASE = "openshift.io/deployment.phase"  # on the ReplicationController: New, Pending, Running, Complete, Failed
# What decides whether the recreated pods can pull: the credential checks on the template.
RECHECKS = ("no-matching-credential", "pull-secret-missing", "pull-secret-wrong-type", "pull-secret-malformed",
            "pod-overrides-sa-secrets")
PREDATES = "pod-predates-sa-secrets"
ROLLOUT_KINDS = ("Deployment", "StatefulSet", "DaemonSet")
_PARENTS = {"ReplicaSet": "Deployment", "ReplicationController": "DeploymentConfig"}
BARE_CONFIRM = "nothing recreates a bare pod: re-create it from its manifest afterwards"


# --- pure planning ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Stale:
    """A live pod that lacks some of its service account's current pull secrets."""

    name: str
    uid: str | None
    sa: str
    has: tuple[str, ...]
    lacks: tuple[str, ...]
    created: str | None = None  # creationTimestamp
    controller: str | None = None  # name of its controller (ReplicaSet, ReplicationController, Job)
    version: int | None = None  # a DeploymentConfig's pod: the deployment (latestVersion) it belongs to


def is_live(pod: Obj) -> bool:
    """Not terminating and not finished: a pod whose pulls are still to come (or repeated)."""
    if meta(pod).get("deletionTimestamp"):
        return False
    status = pod.get("status")
    return not (isinstance(status, dict) and status.get("phase") in ("Succeeded", "Failed"))


def _spec(obj: Obj) -> Mapping[str, Any]:
    spec = obj.get("spec")
    return spec if isinstance(spec, dict) else {}


def stale_pods(pods: Sequence[Obj], sa_secrets: Mapping[str, Sequence[str]],
               template_secrets: Sequence[str] | None, absent: Collection[str] = ()) -> list[Stale]:
    """The pods a restart would help: live, their pull secrets came from their SA
    (`sa_secrets`: SA name -> the names it lists now), and the SA now lists a name the
    pod lacks (names in `absent`, secrets that do not exist, are no reason).

    `template_secrets`: what the workload's pod template lists itself. Non-empty: its
    pods get none of the SA's, restarted or not, so none is stale. None for a bare pod
    (no template): its secrets came from the SA if it has none or only names the SA
    lists (the guess doctor makes)."""
    if template_secrets:
        return []
    out: list[Stale] = []
    for pod in pods:
        if not is_live(pod):
            continue
        spec = _spec(pod)
        sa = pod_sa_name(spec)
        has = sa_pull_secrets(spec)
        wanted = tuple(sa_secrets.get(sa, ()))
        if template_secrets is None and has and not set(has) <= set(wanted):
            continue  # a bare pod listing its own: see overriding()
        lacks = tuple(n for n in wanted if n not in has and n not in absent)
        if lacks:
            m = meta(pod)
            owner = _controller_of(pod)
            dc = dc_of(pod)
            out.append(Stale(str(m.get("name") or ""), str(m["uid"]) if m.get("uid") else None, sa, has, lacks,
                             str(m["creationTimestamp"]) if m.get("creationTimestamp") else None,
                             owner[1] if owner else None, dc[1] if dc else None))
    return out


def overriding(own: Sequence[str], wanted: Sequence[str], bare: bool = False) -> tuple[str, ...]:
    """The SA's pull secrets a pod spec shuts out by listing its own (pod-overrides-sa-secrets).
    For a bare pod, own names that are all the SA's are taken as injected by admission."""
    if not own or (bare and set(own) <= set(wanted)):
        return ()
    return tuple(n for n in wanted if n not in own)


def restart_pending(stale: Sequence[Stale], restarted_at: Any) -> bool:
    """A rollout restart requested after every stale pod was created: it replaces them."""
    requested = timestamp(restarted_at)
    if requested is None or not stale:
        return False
    for s in stale:
        created = timestamp(s.created)
        if created is None or created >= requested:
            return False
    return True


def dc_of(pod: Obj) -> tuple[str, int | None] | None:
    """(DeploymentConfig, deployment version) of a pod made by a DeploymentConfig's
    ReplicationController `<dc>-<version>`: from the pod's annotations, else the name."""
    owner = _controller_of(pod)
    if owner is None or owner[0] != "ReplicationController":
        return None
    annotations = meta(pod).get("annotations") or {}
    name, _, suffix = owner[1].rpartition("-")
    version = _int(annotations.get(DC_LATEST_VERSION))
    if isinstance(annotations.get(DC_NAME), str):
        return annotations[DC_NAME], version if version is not None else _int(suffix)
    return (name, _int(suffix)) if name and suffix.isdigit() else None


def deployment_pending(stale: Sequence[Stale], latest: Any, latest_phase: str | None) -> bool:
    """A DeploymentConfig deployment (`latest`) newer than every stale pod's is under way:
    its ReplicationController is not yet created (phase None) or has not failed."""
    if not isinstance(latest, int) or not stale or latest_phase == "Failed":
        return False
    return all(s.version is not None and s.version < latest for s in stale)


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def label_selector(selector: Any) -> str:
    """A LabelSelector (matchLabels/matchExpressions), or the plain map of a
    ReplicationController/DeploymentConfig, as a labelSelector query. "" (every pod of the
    namespace, filtered by owner afterwards) when it cannot be expressed."""
    if not isinstance(selector, dict):
        return ""
    if "matchLabels" not in selector and "matchExpressions" not in selector:
        labels: Any = selector
        expressions: Any = []
    else:
        labels = selector.get("matchLabels") or {}
        expressions = selector.get("matchExpressions") or []
    parts = [f"{k}={v}" for k, v in labels.items()] if isinstance(labels, dict) else []
    for e in expressions if isinstance(expressions, list) else []:
        if not isinstance(e, dict) or not isinstance(e.get("key"), str):
            return ""
        key, op = e["key"], e.get("operator")
        values = ",".join(str(v) for v in e.get("values") or [])
        if op == "In":
            parts.append(f"{key} in ({values})")
        elif op == "NotIn":
            parts.append(f"{key} notin ({values})")
        elif op == "Exists":
            parts.append(key)
        elif op == "DoesNotExist":
            parts.append(f"!{key}")
        else:
            return ""
    return ",".join(parts)


def owned_by(obj: Obj, kind: str, name: str, uid: str | None = None) -> bool:
    """Is `obj`'s controller kind/name (and that very object, when both know its uid)?"""
    for owner in meta(obj).get("ownerReferences") or []:
        if isinstance(owner, dict) and owner.get("controller"):
            return (owner.get("kind") == kind and owner.get("name") == name
                    and not (uid and owner.get("uid") and owner["uid"] != uid))
    return False


def restart_edit(kind: str, namespace: str, name: str, stamp: str) -> Edit:
    """`kubectl rollout restart`: stamp the pod template, keeping everything else (a
    concurrent change is kept: the edit runs on the object as read, and again after a 409)."""
    def edit(obj: Obj | None) -> Obj:
        if obj is None:
            raise FixError(f"{kind.lower()}/{name} not found in namespace {namespace}")
        spec = obj.setdefault("spec", {})
        template = spec.setdefault("template", {}) if isinstance(spec, dict) else None
        md = template.setdefault("metadata", {}) if isinstance(template, dict) else None
        if not isinstance(md, dict):
            raise FixError(f"{kind.lower()}/{name} has no pod template to restart")
        annotations = md.get("annotations")
        md["annotations"] = {**(annotations if isinstance(annotations, dict) else {}), RESTARTED_AT: stamp}
        return obj
    return edit


def delete_edit(uid: str | None) -> Edit:
    """Delete the pod planned (by uid): a pod recreated meanwhile under the same name, or
    one already terminating, is left alone."""
    def edit(pod: Obj | None) -> Obj | None | Any:
        if pod is None:
            return None
        m = meta(pod)
        if (uid and m.get("uid") != uid) or m.get("deletionTimestamp"):
            return pod
        return DELETE
    return edit


# --- the workload and its pods (reads) -------------------------------------------------------------------------

@dataclass
class Workload:
    kind: str
    name: str
    obj: Obj
    how: str  # rollout | instantiate | delete | bare | foreign
    via: str | None = None  # how a pod/ReplicaSet target led here
    foreign: str | None = None  # the controller of a pod this tool does not know

    @property
    def ref(self) -> str:
        return f"{self.kind.lower()}/{self.name}"

    @property
    def template(self) -> Mapping[str, Any]:
        """The pod spec new pods are made from (a bare pod's own spec)."""
        return pod_spec(self.kind, self.obj)


def find_workload(cluster: Cluster, namespace: str, target: Target) -> Workload:
    kind, name = target.kind, target.name
    obj = cluster.read(kind, namespace, name)
    if obj is None:
        raise FixError(f"{kind.lower()}/{name} not found in namespace {namespace}")
    via: str | None = None
    if kind == "Pod":
        owner = _controller_of(obj)
        if owner is None:
            return Workload("Pod", name, obj, "bare")
        o_kind, o_name = owner
        if o_kind not in WORKLOAD_KINDS:
            return Workload("Pod", name, obj, "foreign", foreign=f"{o_kind.lower()}/{o_name}")
        parent = cluster.read(o_kind, namespace, o_name)
        if parent is None:
            # Its controller is gone (the garbage collector will delete it): nothing recreates it.
            return Workload("Pod", name, obj, "bare",
                            via=f"pod/{name}'s controller {o_kind.lower()}/{o_name} no longer exists")
        via = f"pod/{name} belongs to {o_kind.lower()}/{o_name}"
        kind, name, obj = o_kind, o_name, parent
    if kind in _PARENTS:
        owner = _controller_of(obj)
        if owner is not None and owner[0] == _PARENTS[kind]:
            parent = cluster.read(owner[0], namespace, owner[1])
            if parent is not None:
                step = f"{kind.lower()}/{name} belongs to {owner[0].lower()}/{owner[1]}"
                via = f"{via}, which belongs to {owner[0].lower()}/{owner[1]}" if via else step
                kind, name, obj = owner[0], owner[1], parent
    if via:
        via += f": restarting {kind.lower()}/{name}"
    if kind in ROLLOUT_KINDS:
        strategy = (_spec(obj).get("updateStrategy") or {}) if kind != "Deployment" else {}
        how = "delete" if isinstance(strategy, dict) and strategy.get("type") == "OnDelete" else "rollout"
    elif kind == "DeploymentConfig":
        how = "instantiate"
    else:
        how = "delete"
    return Workload(kind, name, obj, how, via)


def pods_of(cluster: Cluster, namespace: str, w: Workload) -> list[Obj]:
    """The workload's pods: listed by its selector, kept when their controller chain leads to it."""
    if w.kind == "Pod":
        current = cluster.read("Pod", namespace, w.name)
        same = current is not None and meta(current).get("uid") == meta(w.obj).get("uid")
        return [current] if same and current is not None else []
    uid = meta(w.obj).get("uid")
    spec = _spec(w.obj)
    selector = label_selector(spec.get("selector"))
    if w.kind == "DeploymentConfig":
        # Its pods by the DeploymentConfig controller's annotations (the ReplicationControllers need no read).
        pods = cluster.read_list("Pod", namespace, selector)
        return [p for p in pods if (dc_of(p) or ("",))[0] == w.name]
    middle = {"Deployment": "ReplicaSet", "CronJob": "Job"}.get(w.kind)
    if middle is None:
        pods = cluster.read_list("Pod", namespace, selector)
        return [p for p in pods if owned_by(p, w.kind, w.name, uid)]
    if w.kind == "CronJob":
        # Job pods are labelled job-name; the CronJob's own selector is its jobs', not theirs.
        controllers = {str(meta(j).get("name")): j for j in cluster.read_list("Job", namespace)
                       if owned_by(j, w.kind, w.name, uid) and _active_job(j)}
        pods = []
        for job_name, job in controllers.items():
            listed = cluster.read_list("Pod", namespace, label_selector(_spec(job).get("selector")))
            pods.extend(p for p in listed if owned_by(p, "Job", job_name, meta(job).get("uid")))
        return pods
    # Listed whole, not by the selector: only pods are bound to match it.
    controllers = {str(meta(c).get("name")): c for c in cluster.read_list(middle, namespace)
                   if owned_by(c, w.kind, w.name, uid)}
    pods = [p for p in cluster.read_list("Pod", namespace, selector)
            if any(owned_by(p, middle, n, meta(c).get("uid")) for n, c in controllers.items())]
    return pods


def _active_job(job: Obj) -> bool:
    status = job.get("status")
    conditions = status.get("conditions") if isinstance(status, dict) else None
    return not any(isinstance(c, dict) and c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
                   for c in conditions or [])


# --- the command -----------------------------------------------------------------------------------------------

def _sa_text(sa: str, wanted: Sequence[str]) -> str:
    return f"serviceaccount/{sa}'s pull secrets ({join_names(wanted)})" if wanted else f"serviceaccount/{sa}'s pull secrets"


@dataclass
class _Plan:
    """What run() found, for the changes, the wait and the re-check."""

    w: Workload
    namespace: str
    wanted: dict[str, tuple[str, ...]]
    template_secrets: tuple[str, ...] | None
    absent: frozenset[str]
    before: int  # live pods before the fix
    planned_uids: frozenset[str]  # the stale pods: gone when the restart is done


def run(session: Session, target_text: str) -> FixResult:
    target = Target.parse(target_text)
    if target.kind not in ("Pod", *WORKLOAD_KINDS):
        raise UsageError(f"fix restart {target_text}: expected pod/NAME or a workload (deployment, statefulset, "
                         "daemonset, replicaset, replicationcontroller, job, cronjob, deploymentconfig)")
    ns = session.namespace
    cluster = session.cluster
    w = find_workload(cluster, ns, target)
    result = FixResult(f"fix restart {w.ref} in namespace {ns}", session.opts.dry_run)
    if w.via:
        result.notes.append(w.via)
    live = [p for p in pods_of(cluster, ns, w) if is_live(p)]
    template_sa = pod_sa_name(w.template)
    wanted: dict[str, tuple[str, ...]] = {}
    for sa_name in dict.fromkeys([template_sa, *(pod_sa_name(_spec(p)) for p in live)]):
        sa = cluster.read("ServiceAccount", ns, sa_name)
        if sa is None:
            result.warnings.append(f"serviceaccount/{sa_name} does not exist in namespace {ns}: pods using it cannot "
                                   "be created")
        wanted[sa_name] = sa_pull_secrets(sa)
    sa_text = _sa_text(template_sa, wanted[template_sa])
    bare = w.how in ("bare", "foreign")
    own = sa_pull_secrets(w.template)
    excluded = overriding(own, wanted[template_sa], bare)
    if excluded:
        _overrides(result, w, ns, own, template_sa, excluded)
        _recheck(session, result, w, None)
        return result
    template_secrets = None if bare else own
    if not live:
        what = (f"{w.ref} has no active Job" if w.kind == "CronJob" else f"{w.ref} has no running pod")
        later = "the next scheduled Job's pods get" if w.kind == "CronJob" else "pods created from now on get"
        result.notes.append(f"nothing to do: {what}, so there is nothing to restart; {later} {sa_text} when they "
                            "are created")
        _recheck(session, result, w, None)
        return result
    lacking = {n for s in stale_pods(live, wanted, template_secrets) for n in s.lacks}
    absent = frozenset(n for n in sorted(lacking) if _absent(cluster, ns, n))
    if absent:
        result.warnings.append(
            f"secret {join_names(sorted(absent))} (listed by the service account) does not exist in namespace {ns}: a "
            "restart would only give the pods a reference to nothing; create it first (kubectl pullsecret fix "
            "create), then restart")
    stale = stale_pods(live, wanted, template_secrets, absent)
    if not stale:
        if all(not v for v in wanted.values()):
            result.notes.append(f"nothing to do: serviceaccount/{template_sa} lists no pull secrets, so a restart "
                                "brings none")
        else:
            who = f"pod/{w.name}" if bare else f"every pod of {w.ref}"
            carries = "carries" if bare else "already carries"
            result.notes.append(f"nothing to do: {who} {carries} {sa_text}")
        _recheck(session, result, w, None)
        return result
    plan = _Plan(w, ns, wanted, template_secrets, absent, len(live),
                 frozenset(s.uid for s in stale if s.uid))
    if _already_requested(session, result, w, ns, stale):
        # Nothing to write; with --wait, follow the rollout already under way.
        followed = (_wait(session, result, plan, session.opts.wait)
                    if session.opts.wait and session.opts.dry_run == "none" else None)
        timed_out = result.remaining > 0
        _recheck(session, result, w, followed)
        if timed_out:
            result.remaining = max(result.remaining, 1)
        return result
    _warn_rollout(result, w, ns)
    if w.how == "bare":
        result.warnings.append(f"pod/{w.name} has no controller: {BARE_CONFIRM}; it is deleted only after y on a "
                               "terminal, or with --yes")
    elif w.how == "foreign":
        result.warnings.append(f"pod/{w.name} is controlled by {w.foreign}, which this tool does not know: make sure "
                               "it recreates the pod; it is deleted only after y on a terminal, or with --yes")
    changes = plan_changes(w, ns, stale, rfc3339(datetime.now(UTC)))
    session.apply_all(result, changes)
    final: list[Obj] | None = None
    if result.changed and not result.failed and session.opts.dry_run == "none":
        if w.how in ("bare", "foreign"):
            result.notes.append(f"re-create pod/{w.name} from its manifest (kubectl apply -f ...): it gets "
                                f"{sa_text} if the manifest lists no imagePullSecrets")
        elif session.opts.wait:
            final = _wait(session, result, plan, session.opts.wait)
        else:
            result.notes.append(f"the pods are replaced by the controller, not at once: follow with "
                                f"`{_follow(w, ns)}` (or run with --wait 5m)")
    timed_out = result.remaining > 0
    _recheck(session, result, w, final, deleted=result.changed and w.how in ("bare", "foreign"))
    if timed_out:
        result.remaining = max(result.remaining, 1)
    return result


def plan_changes(w: Workload, ns: str, stale: Sequence[Stale], stamp: str) -> list[Change]:
    """The writes: one rollout restart, one instantiate, or one DELETE per stale pod."""
    lacks = join_names(list(dict.fromkeys(n for s in stale for n in s.lacks)))
    flag = f" -n {shlex.quote(ns)}"
    if w.how == "rollout":
        return [Change(w.kind, ns, w.name,
                       f"rollout restart ({RESTARTED_AT}={stamp}): {len(stale)} pod(s) lacking {lacks} are replaced",
                       restart_edit(w.kind, ns, w.name, stamp),
                       (f"oc rollout restart {w.kind.lower()}/{w.name}{flag}",))]
    if w.how == "instantiate":
        return [Change(w.kind, ns, w.name,
                       f"rollout latest: a new deployment replaces {len(stale)} pod(s) lacking {lacks}",
                       None, (f"oc rollout latest dc/{w.name}{flag}",), subresource_post="instantiate",
                       post_body=instantiate_request(w.name))]
    changes = []
    for s in stale:
        if w.how == "bare":
            summary, confirm = f"delete bare pod {s.name} (lacks {join_names(s.lacks)})", BARE_CONFIRM
        elif w.how == "foreign":
            summary = f"delete pod {s.name} (lacks {join_names(s.lacks)})"
            confirm = (f"its controller {w.foreign} is not one this tool knows: make sure it recreates the pod")
        else:
            by = f"{'job' if w.kind == 'CronJob' else w.kind.lower()}/{s.controller or w.name}"
            summary, confirm = f"delete pod {s.name} (lacks {join_names(s.lacks)}; {by} recreates it)", None
        changes.append(Change("Pod", ns, s.name, summary, delete_edit(s.uid),
                              (f"oc delete pod {shlex.quote(s.name)}{flag}",), confirm=confirm))
    return changes


def instantiate_request(name: str) -> Obj:
    return {"kind": "DeploymentRequest", "apiVersion": "apps.openshift.io/v1", "name": name, "latest": True,
            "force": True}


def _absent(cluster: Cluster, ns: str, name: str) -> bool:
    try:
        secret = cluster.read("Secret", ns, name)
    except FixError:
        return False  # unreadable: cannot tell, so it is not held against the restart
    applying.register_secrets(secret)
    return secret is None


def _overrides(result: FixResult, w: Workload, ns: str, own: Sequence[str], sa: str, excluded: Sequence[str]) -> None:
    where = f"pod/{w.name}'s spec" if w.how in ("bare", "foreign") else f"{w.ref}'s pod template"
    result.warnings.append(
        f"{where} lists its own imagePullSecrets ({join_names(own)}), so admission does not add serviceaccount/{sa}'s "
        f"({join_names(excluded)}) and a restart brings none of them (pod-overrides-sa-secrets): nothing was written")
    if w.how in ("bare", "foreign"):
        result.notes.append(f"add {join_names(excluded)} to the pod manifest's imagePullSecrets and re-create the pod")
        return
    from kubectl_pullsecret.checks.base import add_pull_secret_patches
    from kubectl_pullsecret.findings import ObjectRef

    result.notes.append("add them to the template instead (the pods are then replaced by that change): "
                        + "; ".join(add_pull_secret_patches(ObjectRef(w.kind, ns, w.name), excluded)))


def _already_requested(session: Session, result: FixResult, w: Workload, ns: str, stale: Sequence[Stale]) -> bool:
    if w.how == "rollout":
        restarted = (((_spec(w.obj).get("template") or {}).get("metadata") or {}).get("annotations") or {}).get(
            RESTARTED_AT)
        if restart_pending(stale, restarted):
            result.notes.append(
                f"nothing to do: a restart of {w.ref} was requested at {restarted}, after its {len(stale)} pod(s) "
                f"lacking the service account's pull secrets were created, and replaces them: follow with "
                f"`{_follow(w, ns)}`")
            _warn_rollout(result, w, ns)
            return True
    if w.how == "instantiate":
        latest = (w.obj.get("status") or {}).get("latestVersion")
        phase: str | None = None
        if isinstance(latest, int):
            try:
                rc = session.cluster.read("ReplicationController", ns, f"{w.name}-{latest}")
            except FixError:
                rc = None  # unreadable: taken as not created yet
            phase = (meta(rc).get("annotations") or {}).get(DC_PHASE) if rc else None
        if deployment_pending(stale, latest, phase):
            result.notes.append(
                f"nothing to do: deployment #{latest} of {w.ref} is newer than its {len(stale)} pod(s) lacking the "
                f"service account's pull secrets and replaces them: follow with `{_follow(w, ns)}`")
            return True
    return False


def _warn_rollout(result: FixResult, w: Workload, ns: str) -> None:
    spec = _spec(w.obj)
    flag = f" -n {shlex.quote(ns)}"
    if w.kind in ("Deployment", "DeploymentConfig") and spec.get("paused"):
        short = "dc" if w.kind == "DeploymentConfig" else "deployment"
        result.warnings.append(f"{w.ref} is paused: no pod is replaced until `oc rollout resume {short}/{w.name}{flag}`")
    if w.kind == "StatefulSet" and w.how == "rollout":
        partition = _int(((spec.get("updateStrategy") or {}).get("rollingUpdate") or {}).get("partition"))
        if partition:
            result.warnings.append(f"{w.ref} has partition {partition}: its pods with an ordinal below {partition} "
                                   "are not replaced by a rollout")


def _follow(w: Workload, ns: str) -> str:
    flag = f" -n {shlex.quote(ns)}"
    if w.how == "rollout":
        return f"kubectl rollout status {w.kind.lower()}/{w.name}{flag}"
    if w.how == "instantiate":
        return f"oc rollout status dc/{w.name}{flag}"
    selector = label_selector(_spec(w.obj).get("selector")) if w.kind != "CronJob" else ""
    return f"kubectl get pods{flag}" + (f" -l {shlex.quote(selector)}" if selector else "") + " -w"


def _wait(session: Session, result: FixResult, plan: _Plan, timeout: float) -> list[Obj] | None:
    """Poll until the plan's pods are gone, no live pod lacks the SA's pull secrets and
    there are as many live pods as before. The pods at the end, None on timeout."""
    w, ns = plan.w, plan.namespace
    interval = max(0.1, min(2.0, timeout / 20))
    started = time.monotonic()
    out = session.prompt_out
    last: tuple[int, int, int] | None = None
    while True:
        try:
            pods = pods_of(session.cluster, ns, w)
        except FixError as exc:
            result.notes.append(f"stopped waiting: {exc}; follow with `{_follow(w, ns)}`")
            result.remaining = 1
            return None
        live = [p for p in pods if is_live(p)]
        stale = stale_pods(live, plan.wanted, plan.template_secrets, plan.absent)
        left = [p for p in pods if meta(p).get("uid") in plan.planned_uids]
        elapsed = time.monotonic() - started
        state = (len(left), len(stale), len(live))
        if out is not None and state != last:
            out.write(f"waiting for {w.ref}: {len(left)} of {len(plan.planned_uids)} pod(s) still to replace, "
                      f"{len(live) - len(stale)}/{plan.before} live pod(s) with the pull secrets ({elapsed:.0f}s)\n")
            out.flush()
            last = state
        if not left and not stale and len(live) >= plan.before:
            result.notes.append(f"every pod of {w.ref} now carries its service account's pull secrets "
                                f"(after {elapsed:.0f}s)")
            return live
        if elapsed >= timeout:
            result.notes.append(
                f"gave up waiting after {timeout:g}s: {len(left)} pod(s) still to replace, {len(stale)} live pod(s) "
                f"without the pull secrets, {len(live)}/{plan.before} live pod(s); follow with `{_follow(w, ns)}`")
            result.remaining = 1
            return None
        time.sleep(min(interval, max(0.0, timeout - elapsed)) or interval)


def _recheck(session: Session, result: FixResult, w: Workload, final: list[Obj] | None,
             deleted: bool = False) -> None:
    """The credential checks on what the new pods are made from; after a finished --wait,
    also pod-predates-sa-secrets on the workload's pods as they are now."""
    ns = session.namespace
    bare = w.how in ("bare", "foreign")
    sa = pod_sa_name(w.template)
    if bare and deleted:
        # The pod is gone: what a re-created one would get is its service account's secrets.
        runs: list[tuple[Sequence[str], Sequence[str]]] = [([f"sa/{sa}"], RECHECKS[1:4])]
        scope = f"serviceaccount/{sa} in namespace {ns}"
    else:
        runs = [([w.ref], RECHECKS)]
        scope = f"{w.ref} in namespace {ns}"
    names = {str(meta(p).get("name")) for p in final or []}
    if final is not None:
        runs.append(([], (PREDATES,)))
        scope += " and its pods"

    def keep(f: Finding, _scope: Scope) -> bool:
        return f.check != PREDATES or (f.object.kind == "Pod" and f.object.name in names)

    session.recheck(result, runs, keep=keep, scope_text=scope)

