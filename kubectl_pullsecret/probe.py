"""Probe scheduling: for each image, the credentials the kubelet tries, in its order,
against the real registry; each distinct (registry, repository, reference, credential)
probed once per run, concurrently, on a bounded pool.

kubelet kuberuntime_image.go PullImage: every matched credential is tried in turn and
the first success wins; any error moves on to the next; anonymous only when nothing
matched. An entry with no username/password is sent as an empty login (anonymous).
"""

from __future__ import annotations

import functools
import logging
import math
import queue
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from kubectl_pullsecret import keyring, redact
from kubectl_pullsecret.dockerconfig import Entry
from kubectl_pullsecret.registry import Client, Login, Result, Settings, _Memo
from kubectl_pullsecret.resolve import Resolution

log = logging.getLogger(__name__)

POOL_SIZE = 16  # concurrent probes (distinct registries are probed side by side)
TELEMETRY_HOSTS = frozenset({"cloud.openshift.com"})  # in every global pull secret; not a registry
_T = TypeVar("_T")


def cluster_internal(host: str) -> bool:
    """A Service address (`*.svc`, `*.svc.cluster.local`): only the nodes can reach it."""
    name = host.rsplit(":", 1)[0].lower() if not host.startswith("[") else host
    return name.endswith(".svc") or name.endswith(".cluster.local")


@dataclass(frozen=True)
class ChainSpec:
    """One image as one set of pods pull it: the logins in kubelet order."""

    registry: str
    repository: str
    ref: str  # tag, or the digest when there is one (the digest is what is pulled)
    logins: tuple[tuple[int | None, Login], ...]  # (credential index or None for anonymous, login)


@dataclass(frozen=True)
class Attempt:
    credential: int | None
    result: Result


@dataclass(frozen=True)
class ImageProbe:
    """The probe of one image with its credential chain: the last attempt decides,
    unless an earlier one succeeded (the kubelet stops at the first success)."""

    outcome: str
    registry: str
    detail: str
    credential: int | None = None
    attempts: tuple[Attempt, ...] = ()
    vantage: str = "local"

    @property
    def final(self) -> Result | None:
        return self.attempts[-1].result if self.attempts else None

    def to_dict(self) -> dict[str, Any]:
        final = self.final
        out: dict[str, Any] = {
            "outcome": self.outcome,
            "registry": self.registry,
            "authServer": final.auth_server if final else None,
            "credential": self.credential,
            "httpStatus": final.http_status if final else None,
            "digest": final.digest if final else None,
            "elapsedMs": sum(a.result.elapsed_ms for a in self.attempts),
            "vantage": self.vantage,
            "detail": self.detail,
        }
        if len(self.attempts) > 1:
            out["attempts"] = [{"credential": a.credential, "outcome": a.result.outcome,
                                "httpStatus": a.result.http_status, "detail": a.result.detail} for a in self.attempts]
        limits = next((a.result.rate_limit for a in reversed(self.attempts) if a.result.rate_limit), None)
        if limits:
            out["rateLimit"] = dict(limits)
        return out


def skipped(registry: str, why: str) -> ImageProbe:
    return ImageProbe("skipped", registry, why)


def plan_image(res: Resolution) -> ChainSpec | ImageProbe | None:
    """What to probe for one container: its chain, a skipped probe (and why), or
    None when there is no valid reference."""
    ref = res.reference
    if ref is None:
        return None
    if res.keyring_error:
        return skipped(ref.registry, "a pull secret of the pod is malformed: the kubelet fails the pull before it "
                                     "contacts the registry")
    unknown = [s.name for s in res.secrets if s.unknown]
    if unknown:
        return skipped(ref.registry, f"the credentials are unknown: {', '.join(unknown)} not in the input (or "
                                     "without data)")
    if cluster_internal(ref.registry):
        return skipped(ref.registry, f"{ref.registry} is a cluster-internal service address, reachable only from "
                                     "the cluster's nodes and pods")
    logins: list[tuple[int | None, Login]] = []
    for i, cred in enumerate(res.credentials):
        if cred.entry.has_credentials:
            redact.register(cred.entry.password)
            logins.append((i, Login(cred.entry.username, cred.entry.password)))
        else:
            logins.append((None, Login()))  # the kubelet sends an empty login: anonymous
    if not logins:
        logins.append((None, Login()))
    # Identical logins tried twice give the same answer: keep the first of each.
    seen: set[tuple[str, str, str]] = set()
    unique = []
    for index, login in logins:
        if login.identity() not in seen:
            seen.add(login.identity())
            unique.append((index, login))
    return ChainSpec(ref.registry, ref.repository, ref.digest or ref.tag or "latest", tuple(unique))


@dataclass(frozen=True)
class LoginSpec:
    registry: str
    login: Login


@dataclass(frozen=True)
class LoginPlan:
    """One entry of a secret named as a target: what gets logged in to, or why not."""

    source: str  # secret/<ns>/<name>
    entry: Entry
    registry: str | None
    spec: LoginSpec | None
    skip: str | None = None

    def to_dict(self, result: Result | None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "secret": self.source, "key": self.entry.key, "username": self.entry.username,
            "fingerprint": self.entry.fingerprint, "registry": self.registry,
        }
        if result is None:
            out.update({"outcome": "skipped", "authServer": None, "httpStatus": None, "elapsedMs": 0,
                        "vantage": "local", "detail": self.skip or "not probed"})
        else:
            out.update({"outcome": result.outcome, "authServer": result.auth_server, "httpStatus": result.http_status,
                        "elapsedMs": result.elapsed_ms, "vantage": "local", "detail": result.detail})
        return out


def plan_login(source: str, entry: Entry) -> LoginPlan:
    """`docker login` for one entry: the registry its key names, with the credential
    the entry holds (username/password; else its identity token, as podman would)."""
    key = keyring.normalize_key(entry.key)
    if key is None:
        return LoginPlan(source, entry, None, None, "the key is not a valid registry address")
    host = key.split("/", 1)[0]
    if any(c in host for c in "*?["):
        return LoginPlan(source, entry, host, None, "a wildcard key names no single registry to log in to")
    if host in TELEMETRY_HOSTS:
        return LoginPlan(source, entry, host, None, f"{host} is the Telemetry endpoint, not a registry")
    if entry.errors:
        return LoginPlan(source, entry, host, None, "the entry is malformed (see pull-secret-malformed)")
    if cluster_internal(host):
        return LoginPlan(source, entry, host, None, "a cluster-internal service address: reachable only from the "
                         "cluster's nodes and pods")
    registry = "docker.io" if host == keyring.DEFAULT_REGISTRY_HOST else host
    if entry.has_credentials:
        login = Login(entry.username, entry.password)
    elif entry.identitytoken:
        login = Login(identitytoken=entry.identitytoken)
    else:
        return LoginPlan(source, entry, registry, None, "the entry holds no username, password or identity token")
    redact.register(login.password, login.identitytoken)
    return LoginPlan(source, entry, registry, LoginSpec(registry, login))


@dataclass
class Prober:
    """One per run. Results are shared by every pod, container and secret entry."""

    settings: Settings
    pool_size: int = POOL_SIZE
    client: Client = field(init=False)
    _attempts: _Memo = field(default_factory=_Memo)

    def __post_init__(self) -> None:
        self.client = Client(self.settings)

    def _attempt(self, spec: ChainSpec, login: Login) -> Result:
        key = (spec.registry, spec.repository, spec.ref, login.identity())
        result: Result = self._attempts.get(
            key, lambda: self.client.probe_image(spec.registry, spec.repository, spec.ref, login))
        return result

    def _chain(self, spec: ChainSpec) -> ImageProbe:
        attempts: list[Attempt] = []
        for index, login in spec.logins:
            result = self._attempt(spec, login)
            attempts.append(Attempt(index, result))
            if result.outcome == "ok":
                break
        last = attempts[-1]
        return ImageProbe(last.result.outcome, spec.registry, last.result.detail, last.credential, tuple(attempts))

    def _budget(self, longest: int, count: int) -> float:
        # Every request is bounded by the timeout; this guard only catches what no socket
        # timeout covers (a resolver that never answers). A chain makes at most ~5
        # requests per credential (ping over two schemes, token, HEAD, GET).
        waves = math.ceil(count / max(1, self.pool_size))
        return self.settings.timeout * (5 * max(1, longest) + 2) * max(1, waves) + 1.0

    def probe_images(self, specs: Iterable[ChainSpec]) -> dict[ChainSpec, ImageProbe]:
        unique = _round_robin(list(dict.fromkeys(specs)))
        longest = max((len(s.logins) for s in unique), default=1)
        tasks: list[Callable[[], ImageProbe]] = [functools.partial(self._chain, s) for s in unique]
        results = _run_pool(tasks, self.pool_size, self._budget(longest, len(unique)))
        out: dict[ChainSpec, ImageProbe] = {}
        for spec, result in zip(unique, results, strict=True):
            out[spec] = result if result is not None else ImageProbe(
                "unreachable", spec.registry, f"no answer from {spec.registry} within the probe budget (DNS or "
                "connection stuck)")
        return out

    def probe_logins(self, specs: Iterable[LoginSpec]) -> dict[LoginSpec, Result]:
        unique = list(dict.fromkeys(specs))
        tasks: list[Callable[[], Result]] = [functools.partial(self.client.probe_login, s.registry, s.login)
                                             for s in unique]
        results = _run_pool(tasks, self.pool_size, self._budget(1, len(unique)))
        return {spec: r if r is not None else Result("unreachable", spec.registry, "no answer within the probe budget")
                for spec, r in zip(unique, results, strict=True)}


def _round_robin(specs: list[ChainSpec]) -> list[ChainSpec]:
    """Interleave registries: the first wave of the pool then covers as many distinct
    registries as it can (a thread waiting for another's ping of the same registry
    holds a pool slot without doing anything)."""
    by_registry: dict[str, list[ChainSpec]] = {}
    for spec in specs:
        by_registry.setdefault(spec.registry, []).append(spec)
    out: list[ChainSpec] = []
    queues = list(by_registry.values())
    for i in range(max((len(q) for q in queues), default=0)):
        out.extend(q[i] for q in queues if i < len(q))
    return out


def _run_pool(tasks: Sequence[Callable[[], _T]], size: int, budget: float) -> list[_T | None]:
    """Run tasks on at most `size` daemon threads; wait at most `budget` seconds. A task
    still running then is abandoned (None): daemon threads never hold the process."""
    if not tasks:
        return []
    results: list[_T | None] = [None] * len(tasks)
    errors: list[BaseException] = []
    work: queue.SimpleQueue[int] = queue.SimpleQueue()
    for i in range(len(tasks)):
        work.put(i)
    remaining = [len(tasks)]
    done = threading.Condition()

    def worker() -> None:
        while True:
            try:
                i = work.get_nowait()
            except queue.Empty:
                return
            try:
                results[i] = tasks[i]()
            except BaseException as exc:  # noqa: BLE001 - re-raised on the calling thread
                errors.append(exc)
            with done:
                remaining[0] -= 1
                done.notify_all()

    for n in range(min(size, len(tasks))):
        threading.Thread(target=worker, name=f"probe-{n}", daemon=True).start()
    deadline = time.monotonic() + budget
    with done:
        while remaining[0] > 0:
            left = deadline - time.monotonic()
            if left <= 0:
                log.warning("%d probe(s) did not finish within %.0fs; reported as unreachable", remaining[0], budget)
                break
            done.wait(left)
    if errors:
        raise errors[0]
    return list(results)
