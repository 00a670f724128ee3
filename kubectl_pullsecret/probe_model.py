"""What a registry probe is, as plain data, and what to probe (pure; no network):
the credential chain for a container in kubelet order, the login for a secret entry,
and the result types. probe.py and registry.py do the network part; the checks and
renderers only need this module, so `--no-probe` runs never import `requests`.

kubelet kuberuntime_image.go PullImage: every matched credential is tried in turn and
the first success wins; any error moves on to the next; anonymous only when nothing
matched. An entry with no username/password is sent as an empty login (anonymous).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kubectl_pullsecret import keyring
from kubectl_pullsecret.dockerconfig import Entry
from kubectl_pullsecret.reference import DOCKER_HUB_HOSTS, Reference, strip_port
from kubectl_pullsecret.resolve import Resolution
from kubectl_pullsecret.snapshot import Denied

OUTCOMES = ("ok", "credential-rejected", "access-denied", "manifest-unknown", "auth-required", "unreachable",
            "tls-error", "rate-limited", "not-a-registry", "skipped")
DOCKER_HUB_API = "registry-1.docker.io"
TELEMETRY_HOSTS = frozenset({"cloud.openshift.com"})  # in every global pull secret; not a registry


@dataclass(frozen=True)
class Login:
    """What the runtime sends: username/password (kubelet), or an identity token
    (containers/image only). All empty: anonymous."""

    username: str = ""
    password: str = field(default="", repr=False)
    identitytoken: str = field(default="", repr=False)

    @property
    def anonymous(self) -> bool:
        return not (self.username or self.password or self.identitytoken)

    @property
    def uses_identitytoken(self) -> bool:
        return bool(self.identitytoken) and not (self.username or self.password)


@dataclass(frozen=True)
class Result:
    """One probe: what happened, where, and why (never a secret)."""

    outcome: str
    registry: str  # the host[:port] the image names (docker.io for Docker Hub)
    detail: str
    auth_server: str | None = None  # host that checked the credentials (realm host for Bearer)
    realm: str | None = None  # the Bearer realm URL, when there is one
    http_status: int | None = None
    digest: str | None = None
    stage: str = "ping"  # ping | token | manifest | login
    rate_limit: Mapping[str, Any] | None = None
    elapsed_ms: int = 0


def result_to_dict(result: Result) -> dict[str, Any]:
    """A Result as plain JSON (a node probe sends its results back this way)."""
    return {"outcome": result.outcome, "registry": result.registry, "detail": result.detail,
            "authServer": result.auth_server, "realm": result.realm, "httpStatus": result.http_status,
            "digest": result.digest, "stage": result.stage,
            "rateLimit": dict(result.rate_limit) if result.rate_limit else None, "elapsedMs": result.elapsed_ms}


def result_from_dict(doc: Mapping[str, Any]) -> Result:
    """The inverse of result_to_dict, for a document from a node (checked, never trusted
    blindly: an unknown outcome is an error, wrong types are dropped)."""
    outcome = doc.get("outcome")
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown probe outcome {outcome!r}")

    def text(key: str) -> str | None:
        value = doc.get(key)
        return value[:2000] if isinstance(value, str) else None

    status = doc.get("httpStatus")
    elapsed = doc.get("elapsedMs")
    limits = doc.get("rateLimit")
    return Result(str(outcome), text("registry") or "", text("detail") or "", auth_server=text("authServer"),
                  realm=text("realm"), http_status=status if isinstance(status, int) else None,
                  digest=text("digest"), stage=text("stage") or "ping",
                  rate_limit=limits if isinstance(limits, dict) else None,
                  elapsed_ms=elapsed if isinstance(elapsed, int) else 0)


def api_host(registry: str) -> str:
    """Where the registry API lives: Docker Hub's is registry-1.docker.io."""
    return DOCKER_HUB_API if registry in DOCKER_HUB_HOSTS else registry


def cluster_internal(host: str) -> bool:
    """A Service address (`*.svc`, `*.svc.cluster.local`): only the nodes can reach it."""
    name = strip_port(host).lower()
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
    # A node probe that used a credential of the node's own config.json which is not in
    # the report's list (the node differs from the global pull secret): (key, fingerprint).
    node_entry: tuple[str, str] | None = None


@dataclass(frozen=True)
class ImageProbe:
    """The probe of one image with its credential chain, attempt by attempt: the last
    attempt decides (the chain stops at the first success, as the kubelet does). A probe
    not made is one attempt without a credential, outcome `skipped` (or `unreachable`
    when the probe budget ran out)."""

    attempts: tuple[Attempt, ...]  # at least one
    vantage: str = "local"  # or node/<name>
    # Findings only: the nodes that got this same answer (one finding names them all).
    nodes: tuple[str, ...] = ()

    @property
    def final(self) -> Result:
        return self.attempts[-1].result

    @property
    def outcome(self) -> str:
        return self.final.outcome

    @property
    def registry(self) -> str:
        return self.final.registry

    @property
    def detail(self) -> str:
        return self.final.detail

    @property
    def credential(self) -> int | None:
        """The index of the credential tried last (None: anonymous, or a node-only credential)."""
        return self.attempts[-1].credential

    @property
    def anonymous(self) -> bool:
        """The last attempt sent no credential (not even one of the node's own)."""
        return self.attempts[-1].credential is None and self.attempts[-1].node_entry is None

    def to_dict(self) -> dict[str, Any]:
        final = self.final
        out: dict[str, Any] = {
            "outcome": self.outcome,
            "registry": self.registry,
            "authServer": final.auth_server,
            "credential": self.credential,
            "httpStatus": final.http_status,
            "digest": final.digest,
            "elapsedMs": sum(a.result.elapsed_ms for a in self.attempts),
            "vantage": self.vantage,
            "detail": self.detail,
        }
        if self.attempts[-1].node_entry is not None:
            key, fp = self.attempts[-1].node_entry
            out["nodeCredential"] = {"key": key, "fingerprint": fp}
        if len(self.attempts) > 1:
            out["attempts"] = [{"credential": a.credential, "outcome": a.result.outcome,
                                "httpStatus": a.result.http_status, "detail": a.result.detail} for a in self.attempts]
        limits = next((a.result.rate_limit for a in reversed(self.attempts) if a.result.rate_limit), None)
        if limits:
            out["rateLimit"] = dict(limits)
        return out


def skipped(registry: str, why: str) -> ImageProbe:
    return ImageProbe((Attempt(None, Result("skipped", registry, why)),))


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
    return chain_spec(ref, res.credentials)


def chain_spec(ref: Reference, credentials: Sequence[keyring.Credential]) -> ChainSpec:
    """The logins the kubelet sends for `ref`, in order. Login -> the index of its first
    credential; identical logins tried again give the same answer, so each is probed
    once. No username/password: the kubelet sends an empty login (anonymous)."""
    logins: dict[Login, int | None] = {}
    for i, cred in enumerate(credentials):
        login = Login(cred.entry.username, cred.entry.password) if cred.entry.has_credentials else Login()
        logins.setdefault(login, None if login.anonymous else i)
    chain = tuple((index, login) for login, index in logins.items()) or ((None, Login()),)
    pulled = ref.digest or ref.tag
    assert pulled is not None  # reference.parse sets the default tag when there is no digest
    return ChainSpec(ref.registry, ref.repository, pulled, chain)


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
    return LoginPlan(source, entry, registry, LoginSpec(registry, login))


@dataclass(frozen=True)
class NodeResult:
    """What one node's probe pod brought back, or why it brought nothing."""

    node: str
    status: str  # ok | failed | timeout | not-run
    detail: str = ""
    pod: str | None = None
    elapsed_ms: int = 0
    config: Mapping[str, Any] | None = None  # present, digest, entries [{key, fingerprint}], error
    trust: Mapping[str, Any] | None = None
    images: Mapping[int, Mapping[str, Any]] = field(default_factory=dict)  # job image id -> result

    def to_dict(self) -> dict[str, Any]:
        config = dict(self.config) if self.config is not None else None
        return {"name": self.node, "status": self.status, "pod": self.pod, "elapsedMs": self.elapsed_ms,
                "detail": self.detail or None,
                "kubeletConfig": ({"present": config.get("present"), "digest": config.get("digest"),
                                   "error": config.get("error")} if config else None),
                "trust": dict(self.trust) if self.trust is not None else None}


@dataclass(frozen=True)
class NodeRun:
    """The node phase's outcome: per node, per container, and what stopped it."""

    results: tuple[NodeResult, ...] = ()
    probes: Mapping[int, tuple[ImageProbe, ...]] = field(default_factory=dict)  # id(resolution) -> node probes
    denied: tuple[Denied, ...] = ()
    notes: tuple[str, ...] = ()
    nonce: str = ""
    requests: int = 0
