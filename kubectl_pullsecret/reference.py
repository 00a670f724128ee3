"""Container image reference parsing, mirroring ``github.com/distribution/reference``.

The kubelet turns ``pod.spec.containers[*].image`` into a registry/repository pair
with ``parsers.ParseImageName``, which is ``reference.ParseNormalizedNamed``
followed by ``reference.TagNameOnly``.  :func:`parse` re-implements exactly that
behaviour (grammar from ``regexp.go``/``reference.go``, normalisation from
``normalize.go``, digest validation from ``github.com/opencontainers/go-digest``
v1.0.0, the version pinned by distribution/reference's ``go.mod``).

Upstream behaviour that may look surprising but is deliberately mirrored:

* A name without any ``/`` is *always* a Docker Hub official image, even when it
  looks like a host: ``localhost:5000`` is ``docker.io/library/localhost`` with
  tag ``5000`` (normalize.go splitDockerDomain, "Fast-path for single element").
* A first component with an uppercase letter is taken as a domain
  (``Foo/bar`` -> registry ``Foo``), and domains keep their case.
* The 255-character limit applies to the repository *path* only, not the domain
  (reference.go ``RepositoryNameTotalLengthMax``, since distribution/reference
  v0.6.0); for Docker Hub official images the path includes ``library/``.
* If splitDockerDomain picks a first component (it contains ``.``) that is not a
  valid domain but *is* a valid path component (e.g. ``foo_bar.com/x``),
  ``Parse`` matches the whole string as a domain-less path.  The result then has
  an empty registry and ``name`` is just the path, as Go's ``Named.Name()``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

__all__ = [
    "DEFAULT_DOMAIN",
    "DEFAULT_TAG",
    "LEGACY_DEFAULT_DOMAIN",
    "OFFICIAL_REPO_PREFIX",
    "REPOSITORY_NAME_TOTAL_LENGTH_MAX",
    "InvalidReference",
    "Reference",
    "parse",
]

# --- constants (normalize.go / reference.go) --------------------------------

#: normalize.go defaultDomain
DEFAULT_DOMAIN: Final = "docker.io"
#: normalize.go legacyDefaultDomain, canonicalised to DEFAULT_DOMAIN
LEGACY_DEFAULT_DOMAIN: Final = "index.docker.io"
#: Every name Docker Hub goes by in a credential key or an image: the two domains, and the
#: API host the v2 client talks to (registry-1.docker.io).
DOCKER_HUB_HOSTS: Final = frozenset({DEFAULT_DOMAIN, LEGACY_DEFAULT_DOMAIN, "registry-1.docker.io"})
#: normalize.go officialRepoPrefix
OFFICIAL_REPO_PREFIX: Final = "library/"
#: normalize.go defaultTag (TagNameOnly)
DEFAULT_TAG: Final = "latest"
#: reference.go RepositoryNameTotalLengthMax (checked against the path only)
REPOSITORY_NAME_TOTAL_LENGTH_MAX: Final = 255
#: regexp.go localhost: always a domain when it is the first path element
_LOCALHOST: Final = "localhost"

# --- error messages (verbatim upstream strings unless noted) ----------------

# reference.go ErrReferenceInvalidFormat
_ERR_INVALID_FORMAT: Final = "invalid reference format"
# reference.go ErrNameContainsUppercase ("repository name must be lowercase"),
# prefixed here so that the message says what kind of error it is.
_ERR_NAME_CONTAINS_UPPERCASE: Final = (
    "invalid reference format: repository name must be lowercase"
)
# reference.go ErrNameTooLong
_ERR_NAME_TOO_LONG: Final = (
    "repository name must not be more than "
    f"{REPOSITORY_NAME_TOTAL_LENGTH_MAX} characters"
)
# go-digest digest.go ErrDigestInvalidFormat, ErrDigestInvalidLength,
# ErrDigestUnsupported
_ERR_DIGEST_INVALID_FORMAT: Final = "invalid checksum digest format"
_ERR_DIGEST_INVALID_LENGTH: Final = "invalid checksum digest length"
_ERR_DIGEST_UNSUPPORTED: Final = "unsupported digest algorithm"

# --- grammar (regexp.go) ----------------------------------------------------
# Patterns are compiled with re.ASCII so that \w means [A-Za-z0-9_] as in Go's
# RE2, and matched with fullmatch() (Go's `$` never matches before a trailing
# newline, Python's does).  Go's regexp uses leftmost-first ("Perl") submatch
# semantics, the same capture choice Python's backtracking engine makes.

# regexp.go alphanumeric: lowercase letters and digits only
_ALPHANUMERIC: Final = r"[a-z0-9]+"
# regexp.go separator: one period, one or two underscores, or any number of dashes
_SEPARATOR: Final = r"(?:[._]|__|[-]+)"
# regexp.go pathComponent
_PATH_COMPONENT: Final = _ALPHANUMERIC + r"(?:" + _SEPARATOR + _ALPHANUMERIC + r")*"
# regexp.go remoteName: path components separated by "/"
_REMOTE_NAME: Final = _PATH_COMPONENT + r"(?:/" + _PATH_COMPONENT + r")*"
# regexp.go domainNameComponent (uppercase allowed here, unlike the path)
_DOMAIN_NAME_COMPONENT: Final = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
# regexp.go domainName
_DOMAIN_NAME: Final = _DOMAIN_NAME_COMPONENT + r"(?:\." + _DOMAIN_NAME_COMPONENT + r")*"
# regexp.go ipv6address: bracketed, no zone identifiers, no IPv4-mapped forms
_IPV6_ADDRESS: Final = r"\[(?:[a-fA-F0-9:]+)\]"
# regexp.go host / optionalPort / domainAndPort
_HOST: Final = r"(?:" + _DOMAIN_NAME + r"|" + _IPV6_ADDRESS + r")"
_DOMAIN_AND_PORT: Final = _HOST + r"(?::[0-9]+)?"
# regexp.go namePat: optional domain then remote name
_NAME: Final = r"(?:" + _DOMAIN_AND_PORT + r"/)?" + _REMOTE_NAME
# regexp.go tag
_TAG: Final = r"[\w][\w.-]{0,127}"
# regexp.go digestPat ([[:xdigit:]] spelled out)
_DIGEST: Final = (
    r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9a-fA-F]{32,}"
)

# regexp.go referencePat: capture(name) [":" capture(tag)] ["@" capture(digest)]
_REFERENCE_RE: Final = re.compile(
    r"(" + _NAME + r")(?::(" + _TAG + r"))?(?:@(" + _DIGEST + r"))?", re.ASCII
)
# regexp.go anchoredNamePat: [capture(domainAndPort) "/"] capture(remoteName)
_ANCHORED_NAME_RE: Final = re.compile(
    r"(?:(" + _DOMAIN_AND_PORT + r")/)?(" + _REMOTE_NAME + r")", re.ASCII
)
# regexp.go identifier: a bare 64-hex string (rejected by ParseNormalizedNamed)
_ANCHORED_IDENTIFIER_RE: Final = re.compile(r"[a-f0-9]{64}", re.ASCII)

# go-digest digest.go DigestRegexpAnchored: used to tell "unsupported algorithm"
# from "invalid format" for algorithms that are not available.
_GO_DIGEST_RE: Final = re.compile(
    r"[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+", re.ASCII
)

# go-digest v1.0.0 algorithm.go: the algorithm table holds sha256, sha384 and
# sha512 (hex length = 2 * hash size, lowercase hex only).  Available() also
# needs the Go hash to be linked into the binary; crypto/sha256 and
# crypto/sha512 (which provides sha384 too) are always linked into the kubelet
# via crypto/tls, so all three are accepted.
_DIGEST_HEX_LENGTHS: Final[dict[str, int]] = {"sha256": 64, "sha384": 96, "sha512": 128}
_LOWER_HEX_RE: Final = re.compile(r"[a-f0-9]+", re.ASCII)


class InvalidReference(ValueError):
    """Raised by :func:`parse` for a string that is not a valid image reference.

    ``str(exc)`` is a one-line human-readable reason (the upstream Go error
    message); ``exc.reference`` is the offending input, if known.
    """

    def __init__(self, message: str, reference: str | None = None) -> None:
        super().__init__(message)
        self.reference = reference


def strip_port(registry: str) -> str:
    """``host[:port]`` without its ``:port``; IPv6 literals keep their brackets."""
    if registry.startswith("["):
        end = registry.find("]")
        return registry if end < 0 else registry[: end + 1]
    return registry.partition(":")[0]


def host_in_scopes(host: str, entries: Iterable[str]) -> bool:
    """Is registry `host` (host[:port]) covered by host entries as registries.conf and
    OpenShift's registrySources write them: an exact host[:port], a bare host (any
    port), or `*.domain` (any subdomain)?"""
    host = host.lower()
    bare = strip_port(host)
    return any(entry in (host, bare) or (entry.startswith("*.") and bare.endswith(entry[1:])) for entry in entries)


@dataclass(frozen=True)
class Reference:
    """A parsed, normalised image reference.

    The result of ``ParseNormalizedNamed`` followed by ``TagNameOnly``.

    Equality and hashing ignore :attr:`original`: ``nginx`` and
    ``docker.io/library/nginx:latest`` are equal references.
    """

    original: str = field(compare=False)
    registry: str
    repository: str
    tag: str | None
    digest: str | None

    @property
    def name(self) -> str:
        """``registry/repository``: the name the kubelet keyring looks up.

        Like Go's ``repository.Name()``, this is just the repository when the
        registry is empty (see the module docstring).
        """
        if not self.registry:
            return self.repository
        return f"{self.registry}/{self.repository}"

    @property
    def host(self) -> str:
        """The registry without its ``:port``; IPv6 literals keep their brackets."""
        return strip_port(self.registry)

    @property
    def is_docker_hub(self) -> bool:
        """True when the registry is Docker Hub (``docker.io``, after normalisation)."""
        return self.registry == DEFAULT_DOMAIN

    def to_dict(self) -> dict[str, str | None]:
        return {
            "registry": self.registry,
            "repository": self.repository,
            "tag": self.tag,
            "digest": self.digest,
        }

    def __str__(self) -> str:
        """Canonical form ``name[:tag][@digest]`` (Go's ``String()``)."""
        out = self.name
        if self.tag is not None:
            out += ":" + self.tag
        if self.digest is not None:
            out += "@" + self.digest
        return out


def _split_docker_domain(name: str) -> tuple[str, str]:
    """normalize.go splitDockerDomain: pick the domain and the remainder.

    Operates on the full input (tag and digest included); the remainder keeps them.
    """
    maybe_domain, sep, maybe_remote = name.partition("/")
    if not sep:
        # Single element ("familiar" name): always a Docker Hub official image,
        # even "localhost" or "example.com:5000" (upstream FIXME).
        return DEFAULT_DOMAIN, OFFICIAL_REPO_PREFIX + name

    if maybe_domain == _LOCALHOST:
        # localhost is a reserved namespace and always a domain.
        domain, remote = maybe_domain, maybe_remote
    elif maybe_domain == LEGACY_DEFAULT_DOMAIN:
        # Canonicalise the legacy "Docker Index" domain.
        domain, remote = DEFAULT_DOMAIN, maybe_remote
    elif "." in maybe_domain or ":" in maybe_domain:
        # Likely a hostname, IP address, or host:port.
        domain, remote = maybe_domain, maybe_remote
    elif maybe_domain.lower() != maybe_domain:
        # Uppercase namespaces are not allowed, so it must be a domain.
        domain, remote = maybe_domain, maybe_remote
    else:
        domain, remote = DEFAULT_DOMAIN, name

    if domain == DEFAULT_DOMAIN and "/" not in remote:
        # "docker.io/ubuntu[:tag]" -> "docker.io/library/ubuntu[:tag]"
        remote = OFFICIAL_REPO_PREFIX + remote
    return domain, remote


def _validate_digest(digest: str, original: str) -> None:
    """go-digest v1.0.0 ``Digest.Validate``, as reference.go Parse calls it."""
    # The digest matched digestPat, so it has exactly one ":" and a non-empty hex part.
    algorithm, _, encoded = digest.partition(":")
    expected_length = _DIGEST_HEX_LENGTHS.get(algorithm)
    if expected_length is None:
        # Algorithm not available: format error if it isn't even digest-shaped.
        if _GO_DIGEST_RE.fullmatch(digest) is None:
            raise InvalidReference(_ERR_DIGEST_INVALID_FORMAT, original)
        raise InvalidReference(_ERR_DIGEST_UNSUPPORTED, original)
    # algorithm.go Algorithm.Validate: length first, then lowercase hex.
    if len(encoded) != expected_length:
        raise InvalidReference(_ERR_DIGEST_INVALID_LENGTH, original)
    if _LOWER_HEX_RE.fullmatch(encoded) is None:
        raise InvalidReference(_ERR_DIGEST_INVALID_FORMAT, original)


def _parse_canonical(s: str, original: str) -> tuple[str, str, str | None, str | None]:
    """reference.go Parse, on the "domain/remainder" built by ParseNormalizedNamed."""
    if s == "":
        # reference.go ErrNameEmpty (unreachable from parse(): a domain is always
        # prepended)
        raise InvalidReference(
            "repository name must have at least one component", original
        )

    match = _REFERENCE_RE.fullmatch(s)
    if match is None:
        lowered = s.lower()
        if lowered != s and _REFERENCE_RE.fullmatch(lowered) is not None:
            # Succeeds when lower-cased: the repository name has uppercase letters.
            raise InvalidReference(_ERR_NAME_CONTAINS_UPPERCASE, original)
        raise InvalidReference(_ERR_INVALID_FORMAT, original)

    name, tag, digest = match.group(1), match.group(2), match.group(3)

    name_match = _ANCHORED_NAME_RE.fullmatch(name)
    if name_match is not None:
        domain = name_match.group(1) or ""
        path = name_match.group(2)
    else:  # pragma: no cover - name always matches anchoredNamePat (same grammar)
        domain, path = "", name

    # reference.go: the length limit applies to the path, not the domain (v0.6.0+).
    if len(path) > REPOSITORY_NAME_TOTAL_LENGTH_MAX:
        raise InvalidReference(_ERR_NAME_TOO_LONG, original)

    if digest is not None:
        _validate_digest(digest, original)

    return domain, path, tag, digest


def parse(s: str) -> Reference:
    """Parse an image reference as the kubelet does.

    ``ParseNormalizedNamed(s)`` then ``TagNameOnly``: adds ``docker.io`` and
    ``library/`` where upstream does, and tag ``latest`` when neither a tag nor a
    digest is given.  Raises :class:`InvalidReference` for anything upstream
    rejects.
    """
    # normalize.go ParseNormalizedNamed: a bare 64-hex identifier is ambiguous.
    if _ANCHORED_IDENTIFIER_RE.fullmatch(s) is not None:
        raise InvalidReference(
            f"invalid repository name ({s}), "
            "cannot specify 64-byte hexadecimal strings",
            s,
        )

    domain, remainder = _split_docker_domain(s)

    # normalize.go ParseNormalizedNamed: everything before the first ":" of the
    # remainder (the remote name, plus any "@digest-algorithm") must be lowercase.
    remote = remainder.partition(":")[0]
    if remote.lower() != remote:
        raise InvalidReference(
            f"invalid reference format: repository name ({remote}) must be lowercase", s
        )

    registry, repository, tag, digest = _parse_canonical(domain + "/" + remainder, s)

    # normalize.go TagNameOnly: default tag only when there is neither tag nor digest.
    if tag is None and digest is None:
        tag = DEFAULT_TAG

    return Reference(
        original=s,
        registry=registry,
        repository=repository,
        tag=tag,
        digest=digest,
    )
