"""`fix grant --from-namespace A (--sa NAME | --all-service-accounts)` in project B:
let A's service accounts pull B's images from OpenShift's internal registry, which asks
for `get imagestreams/layers` in B (DOMAIN.md §6): a RoleBinding in B of the ClusterRole
system:image-puller, as `oc policy add-role-to-user|add-role-to-group` makes.

A binding that already grants it is reused (nothing written); otherwise the subject is
appended to the RoleBinding `system:image-puller` (every other subject kept, those
added meanwhile too), created when absent. A roleRef is immutable: when that name binds
another role, `system:image-puller-<A>` is used instead.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable

from kubectl_pullsecret.errors import FixError, UsageError
from kubectl_pullsecret.findings import Finding
from kubectl_pullsecret.fixes.model import Change, Edit, FixResult, Obj
from kubectl_pullsecret.fixes.session import Session
from kubectl_pullsecret.resolve import Scope
from kubectl_pullsecret.snapshot import Denied

RBAC = "rbac.authorization.k8s.io"
ROLE = "system:image-puller"
ROLE_REF = {"apiGroup": RBAC, "kind": "ClusterRole", "name": ROLE}
BINDING = "system:image-puller"  # oc policy's name for a new binding of the role
RECHECK = ("cross-project-pull-denied", "permission-denied")


def subject_for(from_ns: str, sa: str | None) -> Obj:
    if sa is not None:
        return {"kind": "ServiceAccount", "name": sa, "namespace": from_ns}
    return {"kind": "Group", "apiGroup": RBAC, "name": f"system:serviceaccounts:{from_ns}"}


def describe(from_ns: str, sa: str | None) -> str:
    if sa is not None:
        return f"serviceaccount {from_ns}/{sa}"
    return f"every service account of {from_ns} (group system:serviceaccounts:{from_ns})"


def grants_role(binding: Obj) -> bool:
    ref = binding.get("roleRef")
    return isinstance(ref, dict) and ref.get("kind") == "ClusterRole" and ref.get("name") == ROLE


def covers(binding: Obj, from_ns: str, sa: str | None) -> bool:
    """The binding gives system:image-puller to the subject, directly or through a group
    the subject is in (a service account is in system:serviceaccounts,
    system:serviceaccounts:<ns> and system:authenticated)."""
    if not grants_role(binding):
        return False
    binding_ns = (binding.get("metadata") or {}).get("namespace") or ""
    groups = {f"system:serviceaccounts:{from_ns}", "system:serviceaccounts", "system:authenticated"}
    for s in binding.get("subjects") or []:
        if not isinstance(s, dict):
            continue
        kind, name = s.get("kind"), s.get("name")
        if kind == "Group" and name in groups:
            return True
        if sa is None:
            continue
        if kind == "ServiceAccount" and name == sa and (s.get("namespace") or binding_ns) == from_ns:
            return True
        if kind == "User" and name == f"system:serviceaccount:{from_ns}:{sa}":
            return True
    return False


def binding_name(bindings: list[Obj], from_ns: str) -> str:
    """`system:image-puller` unless that name binds another role (roleRef is immutable):
    then `system:image-puller-<A>`, numbered if that is taken too."""
    by_name = {(b.get("metadata") or {}).get("name"): b for b in bindings}
    for candidate in (BINDING, f"{BINDING}-{from_ns}", *(f"{BINDING}-{from_ns}-{n}" for n in range(2, 100))):
        existing = by_name.get(candidate)
        if existing is None or grants_role(existing):
            return candidate
    raise FixError(f"no free RoleBinding name for {ROLE} in this project: remove one of the {BINDING}-{from_ns}-N "
                   "bindings that bind another role")


def grant_edit(project: str, name: str, from_ns: str, sa: str | None) -> Edit:
    """Create the binding, or append the subject to it, keeping every other subject."""
    subject = subject_for(from_ns, sa)

    def edit(binding: Obj | None) -> Obj | None:
        if binding is None:
            return {"apiVersion": f"{RBAC}/v1", "kind": "RoleBinding",
                    "metadata": {"name": name, "namespace": project},
                    "roleRef": dict(ROLE_REF), "subjects": [subject]}
        if not grants_role(binding):
            ref = binding.get("roleRef") or {}
            raise FixError(f"rolebinding/{name} in namespace {project} binds {ref.get('kind')} {ref.get('name')} "
                           f"now, not {ROLE} (it was replaced meanwhile); nothing was written: run the fix again")
        if covers(binding, from_ns, sa):
            return binding
        subjects = binding.get("subjects")
        binding["subjects"] = [*(subjects if isinstance(subjects, list) else []), subject]
        return binding
    return edit


def equivalents(project: str, name: str, from_ns: str, sa: str | None, creating: bool) -> tuple[str, ...]:
    ns = f" -n {shlex.quote(project)}"
    if sa is not None:
        out = [f"oc policy add-role-to-user {ROLE} {shlex.quote(f'system:serviceaccount:{from_ns}:{sa}')}{ns}"]
        who = f"--serviceaccount={shlex.quote(f'{from_ns}:{sa}')}"
    else:
        out = [f"oc policy add-role-to-group {ROLE} {shlex.quote(f'system:serviceaccounts:{from_ns}')}{ns}"]
        who = f"--group={shlex.quote(f'system:serviceaccounts:{from_ns}')}"
    if creating:
        out.append(f"kubectl create rolebinding {shlex.quote(name)} --clusterrole={ROLE} {who}{ns}")
    return tuple(out)


def plan(project: str, bindings: list[Obj], from_ns: str, sa: str | None) -> tuple[Change | None, str | None]:
    """(the change, None), or (None, the name of a binding that already grants it)."""
    for b in sorted(bindings, key=lambda b: str((b.get("metadata") or {}).get("name"))):
        if covers(b, from_ns, sa):
            return None, str((b.get("metadata") or {}).get("name"))
    name = binding_name(bindings, from_ns)
    creating = not any((b.get("metadata") or {}).get("name") == name for b in bindings)
    what = f"bind ClusterRole {ROLE} to {describe(from_ns, sa)}" + ("" if creating else " (other subjects kept)")
    change = Change("RoleBinding", project, name, what,
                    grant_edit(project, name, from_ns, sa), equivalents(project, name, from_ns, sa, creating))
    return change, None


def run(session: Session, from_ns: str, sa: str | None, all_service_accounts: bool) -> FixResult:
    if not from_ns:
        raise UsageError("--from-namespace must not be empty")
    if sa is not None and not sa:
        raise UsageError("--sa must not be empty")
    if (sa is None) == (not all_service_accounts):
        raise UsageError("give one of --sa NAME or --all-service-accounts")
    project = session.namespace
    result = FixResult(f"grant {ROLE} in project {project} to {describe(from_ns, sa)}", session.opts.dry_run)
    cluster = session.cluster
    openshift = cluster.discover_openshift()
    if not openshift:
        result.warnings.append(f"this cluster is not OpenShift: {ROLE} only matters for OpenShift's internal image "
                               "registry, which checks it before serving a pull; the binding is made anyway")
    role = cluster.get("ClusterRole", None, ROLE)
    if role is None:
        result.warnings.append(f"ClusterRole {ROLE} does not exist: the binding grants nothing until it does "
                               "(OpenShift creates it; on another cluster create it with get on "
                               "imagestreams/layers in group image.openshift.io)")
    elif isinstance(role, Denied):
        result.notes.append(f"could not read ClusterRole {ROLE} ({role.reason}): assumed present")
    if sa is not None and cluster.get("ServiceAccount", from_ns, sa) is None:
        result.warnings.append(f"serviceaccount {from_ns}/{sa} does not exist (yet): the grant takes effect for "
                               "it once it does")
    bindings = cluster.read_list("RoleBinding", project)
    change, existing = plan(project, bindings, from_ns, sa)
    if change is None:
        result.notes.append(f"rolebinding/{existing} in namespace {project} already grants {ROLE} to "
                            f"{describe(from_ns, sa)}")
    else:
        session.apply_all(result, [change])
    recheck(session, result, project, from_ns, sa, openshift)
    return result


def recheck(session: Session, result: FixResult, project: str, from_ns: str, sa: str | None,
            openshift: bool) -> None:
    """What the registry asks (a SubjectAccessReview), and on OpenShift doctor's
    cross-project-pull-denied for A's pods pulling from B."""
    if session.opts.dry_run != "none" or result.failed or result.planned_only:
        return
    if openshift:
        session.recheck(result, [([], RECHECK)], keep=_relevant(project, sa), namespace=from_ns, probe=False,
                        scope_text=f"pods of namespace {from_ns} pulling from project {project}")
    who = sa or "default"
    answer = session.cluster.may_pull(from_ns, who, project)
    if isinstance(answer, Denied):
        result.notes.append(f"could not ask whether {from_ns}/{who} may pull from {project}: SubjectAccessReview "
                            f"refused ({answer.reason})")
    elif answer:
        result.notes.append(f"SubjectAccessReview: system:serviceaccount:{from_ns}:{who} may get imagestreams/layers "
                            f"in {project} (pull allowed)")
    else:
        result.notes.append(f"SubjectAccessReview: system:serviceaccount:{from_ns}:{who} still may not get "
                            f"imagestreams/layers in {project}")
        result.remaining += 1


def _relevant(project: str, sa: str | None) -> Callable[[Finding, Scope], bool]:
    def keep(f: Finding, scope: Scope) -> bool:
        if f.check == "permission-denied":
            return True
        if f.check != "cross-project-pull-denied" or f.image is None or image_project(f.image) != project:
            return False
        if sa is None:
            return True
        return any(s.ref == f.object and s.sa_name == sa for s in scope.subjects)
    return keep


def image_project(image: str) -> str | None:
    from kubectl_pullsecret import reference
    from kubectl_pullsecret.checks import openshift

    try:
        return openshift.image_project(reference.parse(image))
    except ValueError:
        return None
