"""Which credentials a pull uses: the kubelet's rules and containers/image's rules.

Kubelet (pkg/credentialprovider keyring.go, secrets/secrets.go):
- all of a pod's pull secrets are merged into one keyring; the node's keyring
  (/var/lib/kubelet/config.json; the global pull secret on OpenShift) is a second one;
  a lookup asks the pod keyring first, then the node keyring, and tries every match;
- a key is normalised by adding `https://` when it has no scheme, parsing it as a URL
  and cutting a leading `/v1/` or `/v2/` from the path; key = host[:port][path];
- a key matches an image when ports are equal, the host has as many labels as the
  image's, each label matches as a glob (Go filepath.Match), and the key's path is a
  plain string prefix of the image's path;
- keys are de-duplicated and tried in reverse lexicographic order;
- a Docker Hub image falls back to the `index.docker.io` key only when nothing in
  that keyring matched.

containers/image (pkg/docker/config/config.go): exact keys walking up the path, then
keys with a scheme cut to their host; `docker.io`/`registry-1.docker.io` mean
`index.docker.io`; no wildcards; one entry, no retry.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from kubectl_pullsecret.dockerconfig import DockerConfig, Entry
from kubectl_pullsecret.reference import DEFAULT_DOMAIN, DOCKER_HUB_HOSTS, strip_port

DEFAULT_REGISTRY_HOST = "index.docker.io"

# Registries whose credentials the kubelet usually gets from a credential-provider
# plugin (kubelet --image-credential-provider-config; tried after pod secrets and the
# node keyring). A cluster can have one configured without any trace in the objects
# doctor reads. Patterns follow the providers' default matchImages.
CREDENTIAL_PROVIDERS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^\d{12}\.dkr\.ecr(-fips)?\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$"), "ecr-credential-provider (EKS)"),
    (re.compile(r"^([a-z0-9-]+\.)?gcr\.io$|^[a-z0-9-]+-docker\.pkg\.dev$"), "gcp-credential-provider (GKE)"),
    (re.compile(r"^[a-z0-9]+\.azurecr\.(io|cn|de|us)$"), "acr-credential-provider (AKS)"),
)


@dataclass(frozen=True)
class Source:
    """A credential source in kubelet terms."""

    name: str  # "secret/<ns>/<name>", "global", "file:<path>"
    config: DockerConfig
    node: bool = False  # node keyring (global pull secret / --authfile), not a pod secret


@dataclass(frozen=True)
class Credential:
    """One credential the kubelet will try, in order."""

    source: str
    entry: Entry
    key: str  # the normalised key that matched
    fallback: bool = False  # matched through the Docker Hub index.docker.io fallback

    def to_dict(self) -> dict[str, str]:
        return {
            "source": self.source,
            "key": self.entry.key,
            "username": self.entry.username,
            "fingerprint": self.entry.fingerprint,
        }


@dataclass(frozen=True)
class _Url:
    host: str  # host[:port] as written
    path: str  # decoded path


@lru_cache(maxsize=16384)
def _parse_url(text: str) -> _Url | None:
    """Go url.Parse, as far as the keyring depends on it: authority up to the first
    '/', '?' or '#'; a non-numeric port or a bad %-escape is an error (None)."""
    if re.search(r"[\x00-\x1f\x7f]", text):
        return None  # Go net/url: invalid control character in URL
    scheme, sep, rest = text.partition("://")
    if not sep:
        return None
    m = re.match(r"([^/?#]*)([^?#]*)", rest)
    assert m is not None
    authority, raw_path = m.group(1), m.group(2)
    if "@" in authority:
        authority = authority.rsplit("@", 1)[1]
    if re.search(r"[\s\x00-\x1f\x7f<>\"{}|\\^`]", authority):
        return None  # Go: invalid character in host name
    if authority.startswith("["):
        close = authority.find("]")
        if close < 0:
            return None
        port_part = authority[close + 1:]
        if port_part and not re.fullmatch(r":\d*", port_part):
            return None
    elif ":" in authority:
        port = authority.rsplit(":", 1)[1]
        if not re.fullmatch(r"\d*", port):
            return None
    if re.search(r"%(?![0-9A-Fa-f]{2})", raw_path) or re.search(r"%(?![0-9A-Fa-f]{2})", authority):
        return None
    try:
        path = urllib.parse.unquote(raw_path, errors="strict")
    except UnicodeDecodeError:
        return None
    return _Url(authority, path)


@lru_cache(maxsize=4096)
def normalize_key(raw: str) -> str | None:
    """kubelet BasicDockerKeyring.Add: the key a config entry is indexed under, or
    None when the kubelet would skip the entry as unparseable."""
    value = raw if raw.startswith(("https://", "http://")) else "https://" + raw
    url = _parse_url(value)
    if url is None:
        return None
    path = url.path
    if path.startswith(("/v2/", "/v1/")):
        path = path[3:]
    if path and path != "/":
        return url.host + path
    return url.host


def _split_host(host: str) -> tuple[list[str], str]:
    """kubelet SplitURL: net.SplitHostPort, else the whole host with no port."""
    if host.startswith("["):
        close = host.find("]")
        rest = host[close + 1:]
        if rest.startswith(":") and ":" not in rest[1:]:
            return host[1:close].split("."), rest[1:]
        return host.split("."), ""
    if host.count(":") == 1:
        name, port = host.split(":")
        return name.split("."), port
    return host.split("."), ""


@lru_cache(maxsize=1024)
def _glob_regex(pattern: str) -> re.Pattern[str] | None:
    """Go path/filepath.Match syntax ('*', '?', '[...]', '[^...]', '\\' escapes),
    compiled; None for a malformed pattern (Go returns ErrBadPattern: no match)."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "\\":
            i += 1
            if i >= n:
                return None
            out.append(re.escape(pattern[i]))
        elif c == "[":
            i += 1
            negate = i < n and pattern[i] == "^"
            if negate:
                i += 1
            ranges: list[str] = []
            first = True
            while True:
                if i >= n:
                    return None
                if pattern[i] == "]" and not first:
                    break
                first = False
                lo, i = _class_char(pattern, i)
                if lo is None:
                    return None
                if i < n and pattern[i] == "-":
                    hi, i = _class_char(pattern, i + 1)
                    if hi is None or hi < lo:
                        return None
                    ranges.append(f"{re.escape(lo)}-{re.escape(hi)}")
                else:
                    ranges.append(re.escape(lo))
            out.append(("[^/" if negate else "[") + "".join(ranges) + "]")
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out), re.DOTALL)


def _class_char(pattern: str, i: int) -> tuple[str | None, int]:
    n = len(pattern)
    if i >= n or pattern[i] in "-]":
        return None, i
    if pattern[i] == "\\":
        i += 1
        if i >= n:
            return None, i
    return pattern[i], i + 1


def _label_match(glob: str, target: str) -> bool:
    rx = _glob_regex(glob)
    return rx is not None and rx.fullmatch(target) is not None


@lru_cache(maxsize=65536)  # a cluster has few keys and few image names, many pods
def url_match(glob: str, target: str) -> bool:
    """kubelet URLsMatchStr(glob, target): both are schemeless (host[:port][/path])."""
    g = _parse_url("https://" + glob)
    t = _parse_url("https://" + target)
    if g is None or t is None:
        return False
    g_parts, g_port = _split_host(g.host)
    t_parts, t_port = _split_host(t.host)
    if g_port != t_port or len(g_parts) != len(t_parts):
        return False
    if not t.path.startswith(g.path):
        return False
    # Go checks every label and stops at the first mismatch or malformed pattern.
    return all(_label_match(gp, tp) for gp, tp in zip(g_parts, t_parts, strict=True))


def is_default_registry_match(image: str) -> bool:
    """kubelet isDefaultRegistryMatch: is this image name a Docker Hub one?"""
    parts = image.split("/", 1)
    if not parts[0]:
        return False
    if len(parts) == 1:
        return True
    if parts[0] in ("docker.io", "index.docker.io"):
        return True
    return not any(c in parts[0] for c in ".:")


class Keyring:
    """kubelet BasicDockerKeyring: one or more configs merged into one index."""

    def __init__(self, sources: Iterable[Source]) -> None:
        self._creds: dict[str, list[tuple[str, Entry]]] = {}
        for source in sources:
            for entry in source.config.entries:
                key = normalize_key(entry.key)
                if key is None:
                    continue  # kubelet: "Entry %q in dockercfg invalid, ignoring"
                self._creds.setdefault(key, []).append((source.name, entry))
        self.index: list[str] = sorted(self._creds, reverse=True)

    def lookup(self, image: str) -> list[Credential]:
        """Every credential whose key matches `image` (a normalised name such as
        docker.io/library/nginx), in kubelet try order."""
        out = [
            Credential(src, entry, key)
            for key in self.index
            if url_match(key, image)
            for src, entry in self._creds[key]
        ]
        if not out and is_default_registry_match(image):
            out = [Credential(src, entry, DEFAULT_REGISTRY_HOST, fallback=True)
                   for src, entry in self._creds.get(DEFAULT_REGISTRY_HOST, [])]
        return out


def key_matches(key: str, image: str) -> bool:
    """Would the kubelet use an entry keyed `key` for `image` (a normalised name)? Keyring.lookup's
    rule for a single key: a URL match, else the index.docker.io fallback for Docker Hub."""
    norm = normalize_key(key)
    if norm is None:
        return False
    return url_match(norm, image) or (norm == DEFAULT_REGISTRY_HOST and is_default_registry_match(image))


def sample_image(key: str) -> str:
    """An image, spelled as a pod spells it, that a normalised key is meant for: under the
    key's path (`quay.io/team` -> quay.io/team/app), on Docker Hub an official image
    (docker.io/library/busybox). Hosts lowercased and '*' made a letter, as image names are."""
    host, _, path = key.partition("/")
    path = path.strip("/")
    if strip_port(host).lower() in DOCKER_HUB_HOSTS:
        return f"{DEFAULT_DOMAIN}/{path}/app" if path else f"{DEFAULT_DOMAIN}/library/busybox"
    host = host.lower().replace("*", "a")
    return f"{host}/{path}/app" if path else f"{host}/app"


def union_lookup(keyrings: Sequence[Keyring], image: str) -> list[Credential]:
    """kubelet UnionDockerKeyring.Lookup: every keyring's matches, in keyring order."""
    return [c for kr in keyrings for c in kr.lookup(image)]


def kubelet_lookup(pod_sources: Sequence[Source], node_sources: Sequence[Source], image: str) -> list[Credential]:
    """kubelet UnionDockerKeyring{pod secrets keyring, node keyring}.Lookup(image)."""
    return union_lookup([Keyring(pod_sources), Keyring(node_sources)], image)


@dataclass(frozen=True)
class CimageResult:
    entry: Entry | None  # the entry containers/image reads (None: nothing found)
    credentials: bool  # whether that entry yields a usable credential
    error: str | None = None
    # Several keys normalise to the registry: Go iterates a map, so any of them may win.
    candidates: tuple[Entry, ...] = ()
    helper: bool = False  # a credHelpers entry for the registry takes precedence over `auths`


def _cimage_normalize_registry(registry: str) -> str:
    if registry in ("registry-1.docker.io", "docker.io"):
        return DEFAULT_REGISTRY_HOST
    return registry


def cimage_lookup(config: DockerConfig, image: str, legacy: bool = False) -> CimageResult:
    """containers/image findCredentialsInFile for the image name `image` (normalised,
    e.g. docker.io/library/nginx). `legacy` is the .dockercfg format."""
    registry = image.split("/", 1)[0]
    if config.cimage_error:
        return CimageResult(None, False, f"the file does not decode: {config.cimage_error}")
    if registry in config.cred_helpers:
        # findCredentialsInFile asks credHelpers[registry] before reading any `auths` entry.
        return CimageResult(None, False, helper=True)
    entries = {e.key: e for e in config.entries}
    if legacy:
        keys = [registry]
    else:
        keys = []
        name = image
        while True:
            keys.append(name)
            if "/" not in name:
                break
            name = name.rsplit("/", 1)[0]
    for key in keys:
        if key in entries:
            return _cimage_result(entries[key])
    wanted = _cimage_normalize_registry(registry)
    hits = []
    for entry in config.entries:
        stripped = entry.key.removeprefix("http://").removeprefix("https://")
        if legacy or stripped != entry.key:
            stripped = stripped.split("/", 1)[0]
        if _cimage_normalize_registry(stripped) == wanted:
            hits.append(entry)
    if hits:
        return _cimage_result(hits[0], tuple(hits) if len(hits) > 1 else ())
    return CimageResult(None, False)


def _cimage_result(entry: Entry, candidates: tuple[Entry, ...] = ()) -> CimageResult:
    return CimageResult(entry, entry.cimage.usable, entry.cimage.error, candidates)


def credential_provider(registry: str) -> str | None:
    """The kubelet credential-provider plugin that usually serves this registry, if any."""
    host = strip_port(registry).lower()
    for pattern, name in CREDENTIAL_PROVIDERS:
        if pattern.match(host):
            return name
    return None
