"""`fix create SECRET`: create a pull secret from a docker config file or from
`--docker-*` flags, after a login with its credentials (`--no-verify` skips it), as
`oc create secret docker-registry` / `oc create secret generic --type=...` would;
`--link SA` links it for pulls in the same run, as `oc secrets link --for=pull`.

An existing secret with exactly this content is left alone (nothing written); one
with other content is replaced only with `--overwrite`, its previous content backed
up first. A secret's type is immutable: a type change is a delete (guarded by the
uid and resourceVersion read) followed by a create.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TextIO

from kubectl_pullsecret import dockerconfig, keyring, redact
from kubectl_pullsecret.dockerconfig import KEY_FOR_FORMAT, TYPE_FOR_FORMAT, DockerConfig, Format
from kubectl_pullsecret.errors import FixError, UsageError
from kubectl_pullsecret.findings import Finding, ObjectRef, Severity
from kubectl_pullsecret.fixes import link, prompt
from kubectl_pullsecret.fixes.model import DELETE, Change, Edit, FixResult, Obj, Outcome, _Delete
from kubectl_pullsecret.fixes.session import Session
from kubectl_pullsecret.reference import DEFAULT_DOMAIN, DOCKER_HUB_HOSTS, strip_port
from kubectl_pullsecret.resolve import Scope

MAX_SECRET_BYTES = 1 << 20  # the API server's limit for a Secret's data
SECRET_CHECKS = ("pull-secret-wrong-type", "pull-secret-malformed")
# The checks that judge a secret's entries by a login (registry.py's login findings).
LOGIN_CHECKS = ("registry-credential-rejected", "registry-unreachable", "registry-tls-untrusted",
                "registry-rate-limited", "delegated-auth-unpaired")
# Warnings that do not mean the credential fails: not counted as "remaining".
HARMLESS_WARNINGS = frozenset({"registry-rate-limited", "delegated-auth-unpaired"})
DOCKER_FLAGS = ("docker_server", "docker_username", "docker_password", "docker_email")
GO_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


@dataclass(frozen=True)
class Source:
    """The content to store, and how to say where it came from."""

    format: Format
    content: bytes  # exactly what goes under the data key
    config: DockerConfig
    path: str | None  # --from-file PATH (None: built from the --docker-* flags)
    server: str | None = None
    username: str | None = None
    email: str | None = None

    @property
    def type(self) -> str:
        return TYPE_FOR_FORMAT[self.format]

    @property
    def key(self) -> str:
        return KEY_FOR_FORMAT[self.format]

    def describe(self) -> str:
        entries = ", ".join(f"{e.key} ({e.who})" for e in self.config.entries)
        return f"{self.type}, {len(self.config.entries)} entr{'y' if len(self.config.entries) == 1 else 'ies'}: " \
               f"{entries}"

    def same_as(self, secret: Obj) -> bool:
        """The secret already holds this content under this type (nothing to write)."""
        if secret.get("type") != self.type:
            return False
        stored = _stored(secret, self.key)
        if stored is None:
            return False
        if stored == self.content:
            return True
        if self.path is not None:
            return False  # a file is stored byte for byte
        # Built from flags: the same single entry, whatever the JSON spelling (kubectl's
        # Go encoder escapes <, > and & where json.dumps does not).
        other = dockerconfig.parse(stored, self.format)
        if not other.valid or other.shape_error or len(other.entries) != 1:
            return False
        mine, theirs = self.config.entries[0], other.entries[0]
        return (theirs.key, theirs.username, theirs.password, theirs.email) == (
            mine.key, mine.username, mine.password, mine.email)


def _stored(secret: Obj, key: str) -> bytes | None:
    data = secret.get("data")
    value = data.get(key) if isinstance(data, dict) else None
    if not isinstance(value, str):
        return None
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None


# --- the source: a file, or the --docker-* flags ------------------------------------------

def read_source(args: argparse.Namespace, stdin: TextIO | None, prompt_out: TextIO | None = None) -> Source:
    """Exactly one source, or UsageError (exit 2) with one line."""
    flags = [f"--{name.replace('_', '-')}" for name in DOCKER_FLAGS if getattr(args, name, None) is not None]
    if getattr(args, "docker_password_stdin", False):
        flags.append("--docker-password-stdin")
    if args.from_file is not None and flags:
        raise UsageError(f"give the credentials either with --from-file or with the --docker-* flags, not both "
                         f"(got --from-file and {', '.join(flags)})")
    if args.from_file is not None:
        return _from_file(args.from_file, stdin)
    if not flags:
        raise UsageError("no credentials given: use --from-file PATH (config.json or .dockercfg; - for stdin), or "
                         "--docker-server, --docker-username and --docker-password-stdin")
    missing = [f for f, v in (("--docker-server", args.docker_server), ("--docker-username", args.docker_username))
               if not v]
    if missing:
        raise UsageError(f"{' and '.join(missing)} required with the --docker-* flags")
    if args.docker_password_stdin and args.docker_password is not None:
        raise UsageError("give the password once: --docker-password-stdin or --docker-password, not both")
    if args.docker_password_stdin:
        password = read_password(stdin, prompt_out)
    elif args.docker_password is not None:
        password = args.docker_password
        redact.register(password)
        if not password:
            raise UsageError("--docker-password is empty")
    else:
        raise UsageError("no password given: use --docker-password-stdin (or --docker-password)")
    return from_flags(args.docker_server, args.docker_username, password, args.docker_email)


def from_flags(server: str, username: str, password: str, email: str | None) -> Source:
    """What `kubectl create secret docker-registry` stores, byte for byte (Go's json.Marshal:
    compact, fields username, password, email, auth, empty ones omitted, <>& escaped)."""
    token = dockerconfig.encode_auth(username, password)
    redact.register(password, token, f"{username}:{password}")
    entry: dict[str, str] = {"username": username, "password": password}
    if email:
        entry["email"] = email
    entry["auth"] = token
    text = json.dumps({"auths": {server: entry}}, separators=(",", ":"), ensure_ascii=False)
    for char, escaped in GO_ESCAPES.items():  # Go's json.Marshal escapes these (HTML safety)
        text = text.replace(char, escaped)
    try:
        content = text.encode("utf-8")
    except UnicodeEncodeError:
        raise UsageError("--docker-server/--docker-username/--docker-email/the password: not valid UTF-8") from None
    config = dockerconfig.parse(content, "dockerconfigjson")
    if not config.valid or len(config.entries) != 1:  # pragma: no cover - built above
        raise UsageError("--docker-server/--docker-username: cannot build a valid docker config from them")
    return Source("dockerconfigjson", content, config, None, server, username, email)


def _from_file(path: str, stdin: TextIO | None) -> Source:
    where = "standard input" if path == "-" else path
    if path == "-":
        if stdin is None:
            raise UsageError("--from-file -: no standard input")
        buffer = getattr(stdin, "buffer", None)
        raw = buffer.read() if buffer is not None else stdin.read().encode("utf-8")
    else:
        try:
            with open(path, "rb") as fh:
                raw = fh.read(MAX_SECRET_BYTES + 1)
        except OSError as exc:
            raise UsageError(f"--from-file {path}: {exc.strerror or type(exc).__name__}") from None
    if len(raw) > MAX_SECRET_BYTES:
        raise UsageError(f"--from-file {where}: larger than 1 MiB, the limit of a Secret")
    redact.register(raw)
    fmt = dockerconfig.detect_format(raw)
    config = dockerconfig.parse(raw, fmt)
    errors = config.all_errors()
    if errors:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise UsageError(f"--from-file {where}: {errors[0]}{more}: the kubelet would reject it; nothing was written")
    if config.shape_error:
        raise UsageError(f"--from-file {where}: {config.shape_error}; nothing was written")
    if not config.entries:
        raise UsageError(f"--from-file {where}: holds no registry entry; nothing was written")
    return Source(fmt, raw, config, path)


def read_password(stdin: TextIO | None, prompt_out: TextIO | None) -> str:
    """All of stdin, one trailing newline removed (`docker login --password-stdin`). On a
    terminal: one line, typed without echo."""
    if stdin is None or not stdin.isatty():
        return prompt.read_piped(stdin, "--docker-password-stdin", "standard input holds no password")
    text = prompt.ask(stdin, prompt_out, "Password: ", hidden=True)
    if not text:
        raise UsageError("--docker-password-stdin: standard input holds no password")
    return text


def key_warnings(source: Source) -> list[str]:
    """Entries keyed so that the kubelet never uses them for the registry they name."""
    out = []
    for entry in source.config.entries:
        key = keyring.normalize_key(entry.key)
        flag = "--docker-server" if source.path is None else "entry"
        if key is None:
            out.append(f"{flag} {entry.key!r} is not a registry address the kubelet can parse: it ignores the entry")
            continue
        host, _, path = key.partition("/")
        if any(c in host for c in "*?["):
            continue  # a wildcard is deliberate
        registry = DEFAULT_DOMAIN if strip_port(host).lower() in DOCKER_HUB_HOSTS else host
        if source.path is None and path and host != "registry-1.docker.io":
            # From the flags an entry is meant for the whole registry.
            out.append(f"--docker-server {entry.key!r} has a path: the kubelet uses it only for images under "
                       f"{key}/, not for the rest of {host} (--docker-server {host} covers them all)")
            continue
        # A file's path keys may be deliberate: judged by an image under the path.
        if keyring.key_matches(entry.key, keyring.sample_image(key)):
            continue
        if host == "registry-1.docker.io":
            out.append(f"{flag} {entry.key!r}: the kubelet never matches registry-1.docker.io (Docker Hub's API "
                       "host) to an image; key it docker.io (or https://index.docker.io/v1/)")
        else:
            out.append(f"{flag} {entry.key!r}: the kubelet would not use it for images of {registry}")
    return out


# --- the plan ---------------------------------------------------------------------------------

def new_secret(namespace: str, name: str, source: Source) -> Obj:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": namespace},
            "type": source.type, "data": {source.key: base64.b64encode(source.content).decode()}}


def must_recreate(secret: Obj, source: Source) -> bool:
    """The secret cannot be updated in place: another type, or immutable."""
    return secret.get("type") != source.type or secret.get("immutable") is True


def upsert_edit(namespace: str, name: str, source: Source, overwrite: bool) -> Edit:
    """Absent: create it. Same content: nothing. Other content: refuse, unless --overwrite
    (then its data key replaced, other keys kept; a type change is delete_edit's job)."""
    def edit(secret: Obj | None) -> Obj | None:
        if secret is None:
            return new_secret(namespace, name, source)
        if source.same_as(secret):
            return secret
        if not overwrite:
            raise FixError(refusal(namespace, name, secret, source))
        if must_recreate(secret, source):
            raise FixError(f"secret/{name} in namespace {namespace} was replaced meanwhile by one of type "
                           f"{secret.get('type') or 'Opaque'}; nothing more was written: run the fix again")
        data = secret.get("data")
        secret["data"] = {**(data if isinstance(data, dict) else {}),
                          source.key: base64.b64encode(source.content).decode()}
        secret.pop("stringData", None)
        return secret
    return edit


def delete_edit(source: Source) -> Edit:
    """Delete the secret when it must be recreated (type change, immutable); the delete
    carries the uid and resourceVersion read, so a secret changed meanwhile is not lost."""
    def edit(secret: Obj | None) -> Obj | None | _Delete:
        if secret is None or source.same_as(secret) or not must_recreate(secret, source):
            return secret
        return DELETE
    return edit


def refusal(namespace: str, name: str, secret: Obj, source: Source) -> str:
    stype = secret.get("type") or "Opaque"
    what = "other content" if stype == source.type else f"type {stype} (this one is {source.type})"
    return (f"secret/{name} already exists in namespace {namespace} with {what}: nothing was written; run again "
            "with --overwrite to replace it (its previous content is backed up first)")


def _create_equivalent(namespace: str, name: str, source: Source) -> str:
    ns = f" -n {shlex.quote(namespace)}"
    if source.path is None:
        assert source.server is not None and source.username is not None
        email = f" --docker-email={shlex.quote(source.email)}" if source.email else ""
        return (f"oc create secret docker-registry {shlex.quote(name)} --docker-server={shlex.quote(source.server)} "
                f"--docker-username={shlex.quote(source.username)} --docker-password=PASSWORD{email}{ns}")
    path = "PATH" if source.path == "-" else shlex.quote(source.path)
    return f"oc create secret generic {shlex.quote(name)} --from-file={source.key}={path} --type={source.type}{ns}"


def _update_equivalent(namespace: str, name: str, source: Source) -> str:
    ns = f" -n {shlex.quote(namespace)}"
    if source.path is None:
        return f"{_create_equivalent(namespace, name, source)} --dry-run=client -o yaml | oc replace -f -"
    path = "PATH" if source.path == "-" else shlex.quote(source.path)
    return f"oc set data secret/{shlex.quote(name)} --from-file={source.key}={path}{ns}"


def plan(namespace: str, name: str, source: Source, existing: Obj | None, overwrite: bool,
         link_sa: str | None) -> list[Change]:
    """The changes, in order: [delete (type change)], create/update, [link]."""
    changes: list[Change] = []
    recreate = existing is not None and not source.same_as(existing) and must_recreate(existing, source)
    if recreate:
        assert existing is not None
        why = (f"type {existing.get('type') or 'Opaque'} cannot be changed" if existing.get("type") != source.type
               else "it is immutable")
        changes.append(Change("Secret", namespace, name, f"delete secret {name} to recreate it ({why})",
                              delete_edit(source), (f"oc delete secret {shlex.quote(name)} -n "
                                                    f"{shlex.quote(namespace)}",), backup=True))
    updating = existing is not None and not recreate
    equivalent = _update_equivalent(namespace, name, source) if updating else _create_equivalent(
        namespace, name, source)
    changes.append(Change("Secret", namespace, name, f"pull secret {name}: {source.describe()}",
                          upsert_edit(namespace, name, source, overwrite), (equivalent,), backup=True))
    if link_sa:
        changes.append(link.plan(namespace, link_sa, name, ("imagePullSecrets",)))
    return changes


# --- the command --------------------------------------------------------------------------------

def run(session: Session, args: argparse.Namespace) -> FixResult:
    name: str = args.secret
    link_sa: str | None = args.link
    if not name:
        raise UsageError("fix create: SECRET must not be empty")
    if link_sa is not None and not link_sa:
        raise UsageError("--link: give a service account name")
    source = read_source(args, session.stdin, session.prompt_out)
    ns = session.namespace
    title = f"create pull secret {name} in namespace {ns}"
    result = FixResult(title + (f" and link it to serviceaccount/{link_sa} for pulls" if link_sa else ""),
                       session.opts.dry_run)
    result.warnings.extend(key_warnings(source))
    result.notes.extend(source.config.notes)

    existing = session.cluster.read("Secret", ns, name)
    if existing is not None and not source.same_as(existing) and not args.overwrite:
        raise FixError(refusal(ns, name, existing, source))
    if link_sa and session.cluster.read("ServiceAccount", ns, link_sa) is None:
        raise FixError(f"--link: serviceaccount/{link_sa} not found in namespace {ns}; nothing was written")

    same = existing is not None and source.same_as(existing)
    if same:
        again = ("the re-check below logs in with it"
                 if not args.no_verify and session.opts.probe and session.opts.dry_run == "none" else "not verified")
        result.notes.append(f"secret/{name} already holds exactly this content ({again})")
    elif args.no_verify or not session.opts.probe:
        flag = "--no-verify" if args.no_verify else "--no-probe"
        result.notes.append(f"credentials not verified ({flag}): written untried")
    else:
        _verify(session, result, source, ns, name)

    changes = plan(ns, name, source, existing, args.overwrite, link_sa)
    recreate = existing is not None and not same and must_recreate(existing, source)
    if session.opts.dry_run != "none" and recreate:
        # The server cannot dry-run "delete, then create": the old secret still exists.
        if session.apply_all(result, changes[:1]):
            try:
                result.outcomes.append(_dry_create(session, changes[1], new_secret(ns, name, source)))
            except FixError as exc:
                result.outcomes.append(Outcome(changes[1], "failed", None, str(exc)))
                result.failed = True
            else:
                session.apply_all(result, changes[2:])
    else:
        session.apply_all(result, changes)
    recheck(session, result, name, link_sa, probe=not args.no_verify)
    return result


def _verify(session: Session, result: FixResult, source: Source, namespace: str, name: str) -> None:
    from kubectl_pullsecret.fixes.verify import verify

    for login, outcome in verify(session, source.config, f"secret/{namespace}/{name}"):
        who = f"{login.entry.key} ({login.entry.who})"
        if outcome is None:
            result.notes.append(f"not verified: {who}: {login.skip or 'not probed'}")
            continue
        by = f", checked by {outcome.auth_server}" if outcome.auth_server and outcome.auth_server != \
            outcome.registry else ""
        result.notes.append(f"verified: {who} logged in to {outcome.registry}{by}")


def _dry_create(session: Session, change: Change, obj: Obj) -> Outcome:
    """The create after a (dry-run) delete: with --dry-run=server it is sent with
    dryRun=All for validation, and an AlreadyExists answer (the old secret is still
    there) counts as accepted; with client, nothing is sent."""
    if session.opts.dry_run == "client":
        return Outcome(change, "created", obj)
    answer = session.cluster.write("POST", "Secret", change.namespace, None, obj, dry_run=True)
    if answer.status in (200, 201, 202):
        doc = answer.json()
        return Outcome(change, "created", doc if isinstance(doc, dict) and doc.get("kind") == "Secret" else obj)
    if answer.status == 409:
        return Outcome(change, "created", obj, "validated by the server (dryRun=All) up to the name being taken: "
                                               "a dry run does not really delete the old secret")
    raise FixError(f"{change.ref}: the server refused to create it: {answer.reason()}")


def recheck(session: Session, result: FixResult, name: str, link_sa: str | None, probe: bool) -> None:
    """The secret's own checks and a login with each entry (unless --no-verify/--no-probe);
    with --link also the service account and its pods, as `fix link` re-checks them."""
    ns = session.namespace
    target = ObjectRef("Secret", ns, name)
    related = link.relevant(link_sa, name) if link_sa else None

    def keep(f: Finding, scope: Scope) -> bool:
        return (f.object == target or f.check == "permission-denied"
                or (related is not None and related(f, scope)))

    scope_text = f"secret/{name}" + (" (login probes)" if probe and session.opts.probe else "")
    runs: list[tuple[Sequence[str], Sequence[str]]] = [([f"secret/{name}"], SECRET_CHECKS + LOGIN_CHECKS)]
    if link_sa:
        runs += [([f"sa/{link_sa}"], link.RECHECKS[:3]), ([], link.RECHECKS[3:])]
        scope_text += f", serviceaccount/{link_sa} and its pods"
    report = session.recheck(result, runs, keep=keep, probe=[probe] + [False] * (len(runs) - 1),
                             scope_text=f"{scope_text} in namespace {ns}")
    if report is not None:
        result.remaining = remaining(report.findings)


def remaining(findings: Sequence[Finding]) -> int:
    """Findings that mean the secret (or the link) does not work yet."""
    return sum(1 for f in findings if f.severity >= Severity.ERROR
               or (f.severity >= Severity.WARNING and f.check not in HARMLESS_WARNINGS))
