"""`fix link SECRET [--sa NAME] [--for pull|mount|pull,mount]`: add a secret to a
service account, as `oc secrets link` does, but for pulls by default."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from kubectl_pullsecret.dockerconfig import FORMAT_FOR_TYPE, KEY_FOR_FORMAT, PULL_SECRET_TYPES
from kubectl_pullsecret.errors import FixError, UsageError
from kubectl_pullsecret.findings import Finding
from kubectl_pullsecret.fixes.model import Change, Edit, FixResult, Obj
from kubectl_pullsecret.fixes.session import Session
from kubectl_pullsecret.resolve import Scope

FIELDS = {"pull": "imagePullSecrets", "mount": "secrets"}
# What proves a link worked: the SA's secrets are usable, and its pods carry them.
RECHECKS = ("pull-secret-missing", "pull-secret-wrong-type", "pull-secret-malformed", "pod-predates-sa-secrets")


def parse_for(text: str) -> tuple[str, ...]:
    """`pull`, `mount`, `pull,mount` -> the SA fields to add the secret to."""
    words = [w.strip() for w in text.split(",") if w.strip()]
    if not words or any(w not in FIELDS for w in words):
        raise UsageError(f"--for {text!r}: expected pull, mount or pull,mount")
    return tuple(FIELDS[w] for w in dict.fromkeys(words))


def link_edit(namespace: str, sa_name: str, secret: str, fields: Sequence[str]) -> Edit:
    """Append {"name": secret} to each field of the SA, keeping every entry already
    there (and any added meanwhile: the edit runs on the object as read, DOMAIN.md §7)."""
    def edit(sa: Obj | None) -> Obj | None:
        if sa is None:
            raise FixError(f"serviceaccount/{sa_name} not found in namespace {namespace}")
        for field in fields:
            refs = sa.get(field)
            refs = refs if isinstance(refs, list) else []
            if not any(isinstance(r, dict) and r.get("name") == secret for r in refs):
                sa[field] = [*refs, {"name": secret}]
        return sa
    return edit


def plan(namespace: str, sa_name: str, secret: str, fields: Sequence[str]) -> Change:
    words = ",".join(w for w, f in FIELDS.items() if f in fields)
    return Change("ServiceAccount", namespace, sa_name,
                  f"link secret/{secret} to serviceaccount/{sa_name} for {words} ({', '.join(fields)})",
                  link_edit(namespace, sa_name, secret, fields),
                  (f"oc secrets link {sa_name} {secret} --for={words} -n {namespace}",))


def secret_warning(secret: Obj | None, namespace: str, name: str, fields: Sequence[str]) -> str | None:
    """What is wrong with linking this secret for pulls (the link is still made, as oc does)."""
    if secret is None:
        return (f"secret/{name} does not exist in namespace {namespace}: the link is made, but the kubelet "
                "finds nothing to use until it is created (kubectl pullsecret fix create)")
    if "imagePullSecrets" not in fields:
        return None
    stype = secret.get("type")
    if stype not in PULL_SECRET_TYPES:
        return (f"secret/{name} is of type {stype or 'Opaque'}: the kubelet ignores it as a pull secret; it must "
                f"be kubernetes.io/dockerconfigjson (or kubernetes.io/dockercfg)")
    key = KEY_FOR_FORMAT[FORMAT_FOR_TYPE[stype]]
    if not isinstance((secret.get("data") or {}).get(key), str):
        return f"secret/{name} has type {stype} but no {key} key: the kubelet fails with it"
    return None


def relevant(sa_name: str, secret: str) -> Callable[[Finding, Scope], bool]:
    def keep(f: Finding, scope: Scope) -> bool:
        if f.object.kind == "ServiceAccount":
            return f.object.name == sa_name
        if f.object.kind == "Secret":
            return f.object.name == secret
        users = {(s.ref.kind, s.ref.name) for s in scope.subjects if s.sa_name == sa_name}
        return (f.object.kind, f.object.name) in users
    return keep


def run(session: Session, secret: str, sa_name: str, for_: str) -> FixResult:
    fields = parse_for(for_)
    ns = session.namespace
    result = FixResult(f"link secret/{secret} to serviceaccount/{sa_name} in namespace {ns}", session.opts.dry_run)
    warning = secret_warning(session.cluster.read("Secret", ns, secret), ns, secret, fields)
    if warning:
        result.warnings.append(warning)
    session.apply_all(result, [plan(ns, sa_name, secret, fields)])
    recheck(session, result, sa_name, secret)
    return result


def recheck(session: Session, result: FixResult, sa_name: str, secret: str) -> None:
    """The SA's own pull secrets (a target run), and the pods that use it (a namespace run)."""
    session.recheck(result, [([f"sa/{sa_name}"], RECHECKS[:3]), ([], RECHECKS[3:])],
                    keep=relevant(sa_name, secret), probe=False,
                    scope_text=f"serviceaccount/{sa_name} and its pods in namespace {session.namespace}")
