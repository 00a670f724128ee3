"""`fix global set --registry R --username U (--password-stdin)` and `fix global remove
--registry R`: one entry of OpenShift's global pull secret `openshift-config/pull-secret`
(DOMAIN.md §6), the product document's procedure done safely:

    oc get secret/pull-secret -n openshift-config \\
        --template='{{index .data ".dockerconfigjson" | base64decode}}' > pull-secret.json
    oc registry login --registry=R --auth-basic=USER:PASSWORD --to=pull-secret.json
    oc set data secret/pull-secret -n openshift-config --from-file=.dockerconfigjson=pull-secret.json

- the document is edited as text (splice.py): every other entry, and every byte outside
  `auths`, stays exactly as it was; the result is parsed again and refused unless it is
  valid and differs from the original in that one entry only;
- a secret that is itself malformed is refused (a merge into it could only guess);
- `set` logs in with the new credential first (fixes/verify.py): a rejected credential
  writes nothing;
- the write asks y/N (every node's pull secret changes), keeps a 0600 backup of the
  previous content, uses the resourceVersion it read (a concurrent change is re-read and
  the edit re-run on it), then follows the MachineConfigPool rollout that carries the
  secret to the nodes' /var/lib/kubelet/config.json.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import dataclasses
import json
import re
import time
from dataclasses import dataclass
from typing import Any

from kubectl_pullsecret import dockerconfig, keyring, redact
from kubectl_pullsecret.checks.base import q
from kubectl_pullsecret.checks.openshift import GLOBAL_REF, TELEMETRY_HOST, rollout_state
from kubectl_pullsecret.errors import FixError, UsageError
from kubectl_pullsecret.findings import Finding, Severity
from kubectl_pullsecret.fixes import prompt, splice
from kubectl_pullsecret.fixes.model import Change, Edit, FixResult, Obj
from kubectl_pullsecret.fixes.session import Session
from kubectl_pullsecret.probe_model import TELEMETRY_HOSTS
from kubectl_pullsecret.reference import DOCKER_HUB_HOSTS, strip_port
from kubectl_pullsecret.resolve import DOCKERCONFIGJSON, GLOBAL_PULL_SECRET, Scope
from kubectl_pullsecret.snapshot import meta

NAMESPACE, NAME = GLOBAL_PULL_SECRET
DATA_KEY = dockerconfig.KEY_FOR_FORMAT["dockerconfigjson"]
REF = f"secret/{NAME} -n {NAMESPACE}"
CONFIRM = "changes the pull secret of every node in the cluster"
RECHECKS = ("global-pull-secret-invalid", "global-pull-secret-telemetry-missing", "global-pull-secret-rollout-pending")
ROLLOUT_CHECK = "global-pull-secret-rollout-pending"
DEFAULT_WAIT = 600.0  # seconds: --wait unset
MAX_GRACE = 60.0  # seconds the Machine Config Operator gets to render a new configuration
FOLLOW = "oc get mcp -w"
_GET = (f"oc get secret/{NAME} -n {NAMESPACE} --template='{{{{index .data \"{DATA_KEY}\" | base64decode}}}}' "
        "> pull-secret.json")

# host[:port][/path]: DNS labels (a '*' allowed: the kubelet matches labels as globs) or a
# bracketed IPv6 address; an optional http(s):// in front (as `docker login` writes keys).
_LABEL = r"(?:[A-Za-z0-9*](?:[A-Za-z0-9*-]*[A-Za-z0-9*])?)"
_REGISTRY = re.compile(
    r"(?P<scheme>https?://)?"
    r"(?P<host>" + _LABEL + r"(?:\." + _LABEL + r")*|\[[0-9A-Fa-f:.]+\])"
    r"(?P<port>:[0-9]{1,5})?"
    r"(?P<path>(?:/[A-Za-z0-9._-]+)*/?)",
    re.ASCII)


# --- the registry argument -------------------------------------------------------------

def check_registry(registry: str) -> list[str]:
    """Usage error unless REGISTRY is a registry host[:port][/path]; else the warnings
    about how the kubelet and containers/image will read the key as written."""
    m = _REGISTRY.fullmatch(registry)
    port = m.group("port") if m else None
    if m is None or (port is not None and not 0 < int(port[1:]) < 65536):
        raise UsageError(f"--registry {registry!r}: expected a registry host[:port], optionally with a /path "
                         "(quay.io, registry.example.com:5000, quay.io/team)")
    key = keyring.normalize_key(registry)
    if key is None:
        raise UsageError(f"--registry {registry!r}: the kubelet cannot parse it as a registry address")
    warnings: list[str] = []
    host = key.split("/", 1)[0]
    sample = keyring.sample_image(key)
    never = not keyring.key_matches(registry, sample)
    # What to write instead: image names spell registries (and paths) in lowercase.
    better = "docker.io" if never and strip_port(host).lower() in DOCKER_HUB_HOSTS else key.lower()
    if key != registry:
        # The kubelet adds https://, cuts /v1/ or /v2/ and a bare '/'; containers/image
        # reads a key with a scheme only by its host (path dropped) after every exact key,
        # and a schemeless key only when it equals the image's name or a parent of it.
        how = ("reads it only by its host, after any exact key for the image" if m.group("scheme")
               else "never matches it to an image")
        warnings.append(f"--registry {registry}: the kubelet reads this key as {key}, but containers/image (CRI-O, "
                        f"which reads the nodes' pull secret itself for mirrors) {how}; write it as "
                        f"--registry {better}")
    if "*" in host:
        warnings.append(f"--registry {registry}: the kubelet matches '*' in a host label, but containers/image "
                        "(CRI-O, mirrors) has no wildcards and never uses this entry; the credential cannot be "
                        "verified either (no single registry to log in to)")
    if never:
        warnings.append(f"--registry {registry}: the kubelet never matches this key to images on that registry "
                        f"(such as {sample}): use --registry {better}")
    return warnings


def same_registry(config: dockerconfig.DockerConfig, registry: str) -> list[str]:
    """Other keys of the config that name the same registry as REGISTRY (spelled otherwise)."""
    key = keyring.normalize_key(registry)
    return [e.key for e in config.entries if e.key != registry and keyring.normalize_key(e.key) == key]


def is_telemetry(registry: str) -> bool:
    key = keyring.normalize_key(registry) or registry
    return key.split("/", 1)[0].lower() in TELEMETRY_HOSTS


# --- the current secret ----------------------------------------------------------------

@dataclass(frozen=True)
class Current:
    """The global pull secret as read, validated for an edit of `registry`'s entry."""

    text: str  # the decoded .dockerconfigjson
    config: dockerconfig.DockerConfig
    entry: dockerconfig.Entry | None  # REGISTRY's entry (exact key), if any


def current(obj: Obj | None, registry: str) -> Current:
    """Refuses (FixError) a secret that cannot be merged into: absent, of another type, not
    base64, not UTF-8 JSON, without `auths`, REGISTRY's key more than once, or another
    entry that does not decode (the kubelet rejects the whole secret then: a merge would
    keep it broken). Only REGISTRY's own entry may be malformed: set replaces it, remove
    drops it."""
    if obj is None:
        raise FixError(f"{REF} not found: is this OpenShift? (every OpenShift 4 cluster has it; a HyperShift hosted "
                       "cluster uses kube-system/additional-pull-secret instead)")
    stype = obj.get("type") or "Opaque"
    if stype != DOCKERCONFIGJSON:
        raise FixError(f"{REF} is of type {stype}, not {DOCKERCONFIGJSON}: refusing to merge into it; a secret's "
                       "type cannot be changed: recreate it (kubectl pullsecret doctor shows how)")
    data = obj.get("data")
    value = data.get(DATA_KEY) if isinstance(data, dict) else None
    if not isinstance(value, str):
        raise FixError(f"{REF} has no {DATA_KEY} key: refusing to merge into it")
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise FixError(f"{REF}: its {DATA_KEY} is not valid base64: refusing to merge into it") from None
    redact.register(raw)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise FixError(f"{REF}: its {DATA_KEY} is not UTF-8 text: refusing to merge into it") from None
    config = dockerconfig.parse(raw, "dockerconfigjson")
    problem = (config.errors[0] if config.errors else config.shape_error
               or next((err for e in config.entries if e.key != registry for err in e.errors), None))
    hint = "fix or replace it first (kubectl pullsecret doctor shows how)"
    if problem is None:
        try:
            found = splice.parse(text).auths.find(registry)
            if len(found) > 1:
                problem = f"the key {json.dumps(registry)} appears {len(found)} times in `auths` (the last one wins)"
                hint = "remove the duplicates by hand first"
        except splice.SpliceError as exc:
            problem = str(exc)
    if problem is not None:
        raise FixError(f"{REF} is malformed: its {DATA_KEY}: {problem}. Refusing to merge into it; {hint}")
    entry = next((e for e in config.entries if e.key == registry), None)
    return Current(text, config, entry)


def holds(entry: dockerconfig.Entry | None, username: str, password: str) -> bool:
    """The entry already gives exactly this credential, to the kubelet and to
    containers/image alike (an `auth` both read, nothing else that would win)."""
    return (entry is not None and not entry.errors and entry.has_auth and entry.cimage.usable
            and not entry.has_identitytoken and entry.username == username and entry.password == password)


# --- the edit --------------------------------------------------------------------------

def validate(before: str, after: str, registry: str, expect: tuple[str, str] | None) -> None:
    """Refuse (FixError) a result that is not a valid docker config with REGISTRY's entry
    as intended (`expect` (user, password), or None: absent) and every other entry and
    byte outside `auths` unchanged."""
    config = dockerconfig.parse(after, "dockerconfigjson")
    problem = (config.errors[0] if config.errors else config.shape_error
               or next((err for e in config.entries for err in e.errors), None))
    entry = next((e for e in config.entries if e.key == registry), None)
    if problem is None and expect is None and entry is not None:
        problem = "the entry is still there"
    if problem is None and expect is not None and (entry is None or (entry.username, entry.password) != expect):
        problem = "the entry does not hold the new credential"
    if problem is None:
        problem = splice.unchanged_elsewhere(before, after, registry)
    if problem is not None:
        raise FixError(f"{REF}: the edited {DATA_KEY} would be wrong ({problem}): nothing was written")


def global_edit(registry: str, username: str | None, password: str | None) -> Edit:
    """set (username and password given) or remove REGISTRY's entry; run on the secret as
    read, again after a conflict (so an entry added meanwhile is kept)."""
    def edit(obj: Obj | None) -> Obj | None:
        now = current(obj, registry)
        assert obj is not None
        try:
            if username is not None and password is not None:
                if holds(now.entry, username, password):
                    return obj
                auth = dockerconfig.encode_auth(username, password)
                text = splice.set_member(now.text, registry, {"auth": auth})
                expect: tuple[str, str] | None = (username, password)
            else:
                text = splice.remove_member(now.text, registry)
                expect = None
        except splice.SpliceError as exc:
            raise FixError(f"{REF}: {exc}: nothing was written") from None
        if text == now.text:
            return obj
        validate(now.text, text, registry, expect)
        obj["data"][DATA_KEY] = base64.b64encode(text.encode()).decode()
        return obj
    return edit


def plan(registry: str, username: str | None, password: str | None, fingerprint: str = "") -> Change:
    new = "pull-secret.json"
    if username is not None:
        summary = (f"set the entry for {registry} (user {username}, fingerprint {fingerprint}) in the global pull "
                   "secret; every other entry kept as it is")
        login = f"oc registry login --registry={q(registry)} --auth-basic={q(username + ':<password>')} --to={new}"
        steps: tuple[str, ...] = (_GET, login)
        confirm = CONFIRM
    else:
        summary = f"remove the entry for {registry} from the global pull secret; every other entry kept as it is"
        new = "pull-secret.new.json"
        steps = (_GET, f"jq {q('del(.auths[' + json.dumps(registry) + '])')} pull-secret.json > {new}")
        confirm = CONFIRM + (", and stops Telemetry reporting" if is_telemetry(registry) else "")
    steps += (f"oc set data secret/{NAME} -n {NAMESPACE} --from-file={DATA_KEY}={new}",)
    return Change("Secret", NAMESPACE, NAME, summary, global_edit(registry, username, password), steps,
                  confirm=confirm, backup=True)


# --- the password ----------------------------------------------------------------------

def read_password(session: Session, args: argparse.Namespace) -> str:
    """--password-stdin: all of stdin, one trailing newline cut. Else, on a terminal, a
    prompt that does not echo. Else a usage error (before anything is read or written)."""
    if args.password_stdin:
        return prompt.read_piped(session.stdin, "--password-stdin", "stdin is empty: pipe the password (or token) in")
    if not session.interactive or session.stdin is None or session.prompt_out is None:
        raise UsageError("fix global set needs the password: pipe it with --password-stdin (or run on a terminal "
                         "to be asked)")  # pragma: no cover - run() refuses this before reading the cluster
    text = prompt.ask(session.stdin, session.prompt_out, f"Password for {args.username} at {args.registry}: ",
                      hidden=True)
    if not text:
        raise UsageError("no password given")
    return text


# --- the MachineConfigPool rollout -----------------------------------------------------

@dataclass(frozen=True)
class Pool:
    name: str
    spec: str | None  # spec.configuration.name: the rendered config it is to run
    paused: bool
    pending: str | None  # checks.openshift.rollout_state: None when finished
    updated: str  # "1/3"

    @classmethod
    def of(cls, obj: Obj) -> Pool:
        spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
        status = obj.get("status") if isinstance(obj.get("status"), dict) else {}
        assert isinstance(spec, dict) and isinstance(status, dict)
        config = spec.get("configuration")
        name = config.get("name") if isinstance(config, dict) else None
        return cls(str(meta(obj).get("name") or ""), name if isinstance(name, str) else None,
                   spec.get("paused") is True, rollout_state(obj),
                   f"{status.get('updatedMachineCount', '?')}/{status.get('machineCount', '?')}")


def paused_warning(name: str) -> str:
    return (f"MachineConfigPool {name} is paused: its nodes keep the previous pull secret until it is unpaused "
            f"(oc patch mcp {q(name)} --type=merge -p '{{\"spec\":{{\"paused\":false}}}}')")


def read_pools(session: Session) -> dict[str, Pool]:
    return {p.name: p for p in map(Pool.of, session.cluster.read_list("MachineConfigPool", None))}


@dataclass
class Rollout:
    outcome: str  # done | timeout | not-followed | unknown
    paused: set[str] = dataclasses.field(default_factory=set)


def follow_rollout(session: Session, result: FixResult, before: dict[str, Pool]) -> Rollout:
    """Until every pool has moved to a new rendered configuration and updated all its
    machines (DOMAIN.md §6), or --wait passes. A pool that has not moved after a grace
    period but is finished is taken as done (the Machine Config Operator had nothing new
    to render for it); a paused pool never updates and is not waited for."""
    wait = session.opts.wait if session.opts.wait is not None else DEFAULT_WAIT
    paused = {p.name for p in before.values() if p.paused}
    if wait <= 0:
        result.notes.append(f"not following the MachineConfigPool rollout (--wait 0): a node uses the new pull secret "
                            f"once its pool has updated it; follow it with: {FOLLOW}")
        return Rollout("not-followed", paused)
    out = session.prompt_out
    interval = max(0.1, min(5.0, wait / 50))
    grace = min(MAX_GRACE, wait / 3)
    started = time.monotonic()
    shown: dict[str, str] = {}
    _say(out, f"following the MachineConfigPool rollout (up to {_secs(wait)}; {FOLLOW} shows it too)")
    try:
        while True:
            try:
                pools = read_pools(session)
            except FixError as exc:
                result.warnings.append(f"cannot follow the MachineConfigPool rollout: {exc}; follow it with: {FOLLOW}")
                return Rollout("unknown", paused)
            elapsed = time.monotonic() - started
            waiting: list[str] = []
            unmoved: list[str] = []
            for name, pool in sorted(pools.items()):
                old = before.get(name)
                moved = old is None or pool.spec != old.spec
                if pool.paused:
                    line = f"{name}: paused ({pool.updated} machines updated): not waited for"
                    if name not in paused:
                        paused.add(name)
                        result.warnings.append(paused_warning(name))
                elif not moved and elapsed < grace:
                    line = f"{name}: waiting for a new rendered configuration (at {pool.spec})"
                    waiting.append(name)
                elif pool.pending is not None:
                    line = f"{name}: {pool.updated} machines updated to {pool.spec}"
                    waiting.append(name)
                else:
                    line = f"{name}: {pool.updated} machines updated to {pool.spec}: done"
                    if not moved:
                        unmoved.append(name)
                if shown.get(name) != line:
                    shown[name] = line
                    _say(out, line)
            if not waiting:
                if not pools:
                    result.notes.append("no MachineConfigPools to follow: how the nodes get the new pull secret is "
                                        "not visible here")
                    return Rollout("unknown", paused)
                done = [n for n in sorted(pools) if n not in paused]
                text = f"MachineConfigPool rollout finished after {_secs(elapsed)} ({', '.join(done) or 'no pool'})"
                if paused:
                    text += f"; not waited for, paused: {', '.join(sorted(paused))}"
                if unmoved:
                    text += (f"; {', '.join(unmoved)} did not move to a new rendered configuration within "
                             f"{_secs(grace)} and, being fully updated, is taken as done (check with: oc get mcp)")
                result.notes.append(text)
                return Rollout("done", paused)
            if elapsed >= wait:
                state = "; ".join(f"{n}: {pools[n].pending or 'no new rendered configuration yet'}" for n in waiting)
                result.notes.append(f"the MachineConfigPool rollout did not finish within {_secs(wait)} ({state}); it "
                                    f"goes on in the cluster: follow it with {FOLLOW}, or run again with a longer "
                                    "--wait")
                return Rollout("timeout", paused)
            time.sleep(min(interval, max(0.0, wait - elapsed)))
    except KeyboardInterrupt:
        backup = "; ".join(o.detail for o in result.outcomes if o.detail)
        _say(out, f"interrupted while following the rollout: the pull secret was written ({backup or 'no backup'}); "
                  f"follow the rollout with {FOLLOW}")
        raise


def _say(out: Any, line: str) -> None:
    if out is not None:
        out.write(line + "\n")
        out.flush()


def _secs(seconds: float) -> str:
    if seconds >= 120:
        return f"{seconds / 60:.0f}m"
    return f"{seconds:.1f}s" if seconds < 10 else f"{seconds:.0f}s"


# --- the command -----------------------------------------------------------------------

def relevant(f: Finding, _scope: Scope) -> bool:
    return f.object == GLOBAL_REF or f.object.kind == "MachineConfigPool"


def run(session: Session, args: argparse.Namespace) -> FixResult:
    registry: str = args.registry
    setting = args.command == "fix global set"
    warnings = check_registry(registry)
    username: str | None = None
    if setting:
        username = args.username
        if not username or ":" in username:
            raise UsageError(f"--username {username!r}: must be non-empty and without ':' (the kubelet splits "
                             "user:password at the first ':')")
        if not args.password_stdin and not session.interactive:
            raise UsageError("fix global set needs the password: pipe it with --password-stdin (or run on a "
                             "terminal to be asked)")
    verb = "set" if setting else "remove"
    result = FixResult(f"fix global {verb} {registry} in the global pull secret ({REF})", session.opts.dry_run)
    result.warnings.extend(warnings)

    now = current(session.cluster.read("Secret", NAMESPACE, NAME), registry)
    for other in same_registry(now.config, registry):
        result.warnings.append(f"the entry {other!r} names the same registry as {registry!r}: the kubelet tries "
                               f"both; containers/image (CRI-O, mirrors) prefers the one without a scheme or path"
                               + ("" if setting else f"; to remove it: --registry {other}"))
    password: str | None = None
    fingerprint = ""
    if setting:
        assert username is not None
        password = read_password(session, args)
        redact.register(password, f"{username}:{password}",
                        dockerconfig.encode_auth(username, password))
        fingerprint = dockerconfig.fingerprint(username, password)
        if holds(now.entry, username, password):
            result.notes.append(f"{registry} already holds this credential (user {username}, fingerprint "
                                f"{fingerprint}): nothing to verify or write")
        else:
            _verify(session, result, registry, username, password, args.no_verify)
    elif now.entry is not None and is_telemetry(registry):
        result.warnings.append(f"removing {TELEMETRY_HOST} stops Telemetry: the cluster no longer reports its health "
                               "and usage to Red Hat (Telemetry, Insights, and the support it informs); image pulls "
                               "are not affected")
    change = plan(registry, username, password, fingerprint)

    pools: dict[str, Pool] = {}  # as before the write: a pool has rolled it out once it moves on from these
    with contextlib.suppress(FixError):  # no pools readable: nothing to follow
        pools = read_pools(session)
    applier = session
    if setting and args.password_stdin and not session.opts.yes:
        # stdin held the password: no answer to a y/N question can come from it.
        applier = dataclasses.replace(session, interactive=False)
    applier.apply_all(result, [change])
    if result.planned_only and applier is not session:
        result.notes.append("--password-stdin reads the password from stdin, so there is no y/N question to answer: "
                            "add --yes to apply")
    if any(o.action not in ("unchanged", "failed") for o in result.outcomes):
        result.warnings.extend(paused_warning(p.name) for p in pools.values() if p.paused)
    written = session.opts.dry_run == "none" and any(o.action == "updated" for o in result.outcomes)
    rollout = follow_rollout(session, result, pools) if written else Rollout("unknown")

    session.recheck(result, [([], RECHECKS)], keep=relevant, namespace=NAMESPACE, probe=False,
                    scope_text="the global pull secret")
    if result.recheck is not None:
        pending = [f for f in result.recheck.findings if f.check == ROLLOUT_CHECK and f.severity >= Severity.WARNING
                   and f.object.name not in rollout.paused]
        if rollout.outcome == "not-followed" and pending:
            # Expected right after the write: not a failure of the fix.
            result.remaining -= len(pending)
            result.notes.append(f"{len(pending)} MachineConfigPool(s) still rolling out, as expected with --wait 0: "
                                "not counted as a remaining problem")
    if rollout.outcome == "timeout":
        result.remaining = max(result.remaining, 1)
    return result


def _verify(session: Session, result: FixResult, registry: str, username: str, password: str,
            no_verify: bool) -> None:
    """Log in with the new credential (unless --no-verify / --no-probe). Raises FixError
    when the registry rejects it or cannot be reached: nothing is written."""
    from kubectl_pullsecret.fixes.verify import verify

    fingerprint = dockerconfig.fingerprint(username, password)
    if no_verify or not session.opts.probe:
        flag = "--no-verify" if no_verify else "--no-probe"
        result.notes.append(f"the credential for {registry} was not verified ({flag})")
        return
    auth = dockerconfig.encode_auth(username, password)
    config = dockerconfig.parse(json.dumps({"auths": {registry: {"auth": auth}}}), "dockerconfigjson")
    outcomes = verify(session, config, f"secret/{NAMESPACE}/{NAME}")
    for login, answer in outcomes:
        if answer is None:
            result.notes.append(f"the credential for {registry} was not verified: {login.skip or 'not probed'}")
        else:
            result.notes.append(f"verified: {login.registry} accepted user {username} (fingerprint {fingerprint})")
