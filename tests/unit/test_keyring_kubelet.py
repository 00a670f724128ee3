"""The kubelet's credential lookup: kubectl_pullsecret.keyring against upstream tables.

Ported from kubernetes/kubernetes:
- pkg/credentialprovider/keyring_test.go (TestURLsMatch, TestDockerKeyringForGlob,
  TestKeyringMiss, TestKeyringMissWithDockerHubCredentials,
  TestKeyringHitWith{Unqualified,UnqualifiedLibrary,Qualified}DockerHub,
  TestIsDefaultRegistryMatch, TestDockerKeyringLookup, TestIssue3797);
- pkg/credentialprovider/secrets/secrets_test.go (Test_MakeDockerKeyring).

Upstream feeds BasicDockerKeyring.Lookup whatever string the test chooses (`foo`,
`google/docker-registry`); the kubelet itself passes the name from
parsers.ParseImageName (`docker.io/library/nginx`). Upstream inputs are kept as they
are; rows with normalised names are added and marked "ADDED".
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from kubectl_pullsecret import dockerconfig, reference
from kubectl_pullsecret.keyring import (
    Credential,
    Keyring,
    Source,
    is_default_registry_match,
    key_matches,
    kubelet_lookup,
    normalize_key,
    url_match,
)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def cfg(entries: dict[str, Any], fmt: dockerconfig.Format = "dockercfg") -> dockerconfig.DockerConfig:
    doc = {"auths": entries} if fmt == "dockerconfigjson" else entries
    config = dockerconfig.parse(json.dumps(doc), fmt)
    assert config.valid, config.all_errors()
    return config


def entry(user: str, password: str, email: str = "") -> dict[str, str]:
    return {"username": user, "password": password, "email": email}


def found(creds: list[Credential]) -> list[tuple[str, str, str]]:
    return [(c.entry.username, c.entry.password, c.entry.email) for c in creds]


# --- URLsMatchStr -------------------------------------------------------------

# kubernetes/kubernetes pkg/credentialprovider/keyring_test.go: TestURLsMatch (every row).
URLS_MATCH = [
    # match when there is no path component
    ("*.kubernetes.io", "prefix.kubernetes.io", True),
    ("prefix.*.io", "prefix.kubernetes.io", True),
    ("prefix.kubernetes.*", "prefix.kubernetes.io", True),
    ("*-good.kubernetes.io", "prefix-good.kubernetes.io", True),
    # match with path components
    ("*.kubernetes.io/blah", "prefix.kubernetes.io/blah", True),
    ("prefix.*.io/foo", "prefix.kubernetes.io/foo/bar", True),
    # match with path components and ports
    ("*.kubernetes.io:1111/blah", "prefix.kubernetes.io:1111/blah", True),
    ("prefix.*.io:1111/foo", "prefix.kubernetes.io:1111/foo/bar", True),
    # no match when number of parts mismatch
    ("*.kubernetes.io", "kubernetes.io", False),
    ("*.*.kubernetes.io", "prefix.kubernetes.io", False),
    ("*.*.kubernetes.io", "kubernetes.io", False),
    ("*kubernetes.io", "a.kubernetes.io", False),
    # match when number of parts match
    ("*kubernetes.io", "kubernetes.io", True),
    ("*.*.*.kubernetes.io", "a.b.c.kubernetes.io", True),
    # no match when some parts mismatch
    ("kubernetes.io", "kubernetes.com", False),
    ("k*.io", "quay.io", False),
    # no match when ports mismatch
    ("*.kubernetes.io:1234/blah", "prefix.kubernetes.io:1111/blah", False),
    ("prefix.*.io/foo", "prefix.kubernetes.io:1111/foo/bar", False),
]


@pytest.mark.parametrize(("glob", "target", "expected"), URLS_MATCH,
                         ids=[f"{g}~{t}" for g, t, _ in URLS_MATCH])
def test_urls_match(glob: str, target: str, expected: bool) -> None:
    assert url_match(glob, target) is expected


# ADDED, from keyring.go URLsMatch/SplitURL (net.SplitHostPort, filepath.Match per
# label, strings.HasPrefix on the path) and Go path/filepath.Match syntax.
URLS_MATCH_ADDED = [
    # '?' starts the query in url.Parse, so "?.io" is a glob with an empty host
    ("?.io", "a.io", False),
    # '^' is an invalid host character for url.Parse: a negated class can't be written
    ("reg[^a].io", "regb.io", False),
    # malformed pattern (filepath.ErrBadPattern; "invalid IP-literal" since Go 1.24.8)
    ("reg[.io", "reg[.io", False),
    ("*", "localhost", True),
    ("*", "quay.io", False),
    ("Quay.io", "quay.io", False),  # filepath.Match is case-sensitive
    ("quay.io:443", "quay.io/ns/app", False),
    ("quay.io", "quay.io:443/ns/app", False),
    ("quay.io:", "quay.io/ns/app", True),  # SplitHostPort("quay.io:") gives an empty port
    ("[::1]:5000", "[::1]:5000/ns/app", True),
    ("[::1]:5000", "[::1]:5001/ns/app", False),
    ("quay.io/team", "quay.io/teammate/app", True),  # a plain string prefix, not a path prefix
    ("quay.io/team/", "quay.io/team", False),
    ("docker.io", "docker.io/library/nginx", True),
    ("index.docker.io", "docker.io/library/nginx", False),
    ("*.docker.io", "docker.io/library/nginx", False),
]


@pytest.mark.parametrize(("glob", "target", "expected"), URLS_MATCH_ADDED,
                         ids=[f"{g}~{t}" for g, t, _ in URLS_MATCH_ADDED])
def test_urls_match_added(glob: str, target: str, expected: bool) -> None:
    assert url_match(glob, target) is expected


# --- BasicDockerKeyring.Add key normalisation -----------------------------------

# ADDED, from keyring.go BasicDockerKeyring.Add: "https://" is prepended unless the key
# has an http(s) scheme, url.Parse errors skip the entry, a leading /v1/ or /v2/ is cut,
# key = parsed.Host [+ effectivePath when it is neither "" nor "/"].
NORMALIZE_KEY = [
    ("quay.io", "quay.io"),
    ("https://quay.io", "quay.io"),
    ("http://quay.io", "quay.io"),
    ("https://index.docker.io/v1/", "index.docker.io"),
    ("index.docker.io/v1/", "index.docker.io"),
    ("https://quay.io/v2/", "quay.io"),
    ("https://quay.io/v1/ns/app", "quay.io/ns/app"),
    ("https://quay.io/v1", "quay.io/v1"),  # no trailing slash: not the /v1/ prefix
    ("quay.io/", "quay.io"),
    ("quay.io/ns", "quay.io/ns"),
    ("quay.io/ns/", "quay.io/ns/"),
    ("quay.io:5000", "quay.io:5000"),
    ("quay.io:5000/ns", "quay.io:5000/ns"),
    ("quay.io?x=1", "quay.io"),
    ("quay.io#frag", "quay.io"),
    ("user:pw@quay.io/ns", "quay.io/ns"),
    ("quay.io/a%2Fb", "quay.io/a/b"),  # url.URL.Path is decoded
    ("[::1]:5000", "[::1]:5000"),
    ("*.example.com", "*.example.com"),
    ("quay.io:abc", None),  # invalid port
    ("quay.io/%zz", None),  # invalid escape
    ("my registry.io", None),  # invalid character " " in host name
    ("quay.io\n", None),  # net/url: invalid control character in URL
    ("quay.io/ns\t", None),  # ... anywhere in the URL, the path too
]


@pytest.mark.parametrize(("raw", "expected"), [
    pytest.param(raw, expected, id=repr(raw))
    for raw, expected in NORMALIZE_KEY
])
def test_normalize_key(raw: str, expected: str | None) -> None:
    assert normalize_key(raw) == expected


def test_unparseable_key_is_skipped_not_fatal() -> None:
    """keyring.go Add: `Entry %q in dockercfg invalid (%v), ignoring` then continue."""
    ring = Keyring([Source("s", cfg({"quay.io:abc": entry("bad", "pw-bad"), "quay.io": entry("good", "pw-good")}))])
    assert ring.index == ["quay.io"]
    assert found(ring.lookup("quay.io/ns/app")) == [("good", "pw-good", "")]


# --- Lookup against one keyring -------------------------------------------------

FOO = ("foo", "bar", "foo@bar.baz")


def glob_keyring(glob: str) -> Keyring:
    """The per-row keyring of TestDockerKeyringForGlob / TestKeyringMiss: a legacy
    .dockercfg document with one entry holding email and auth."""
    doc = json.dumps({glob: {"email": "foo@bar.baz", "auth": b64("foo:bar")}})
    config = dockerconfig.parse(doc, "dockercfg")
    assert config.valid, config.all_errors()
    return Keyring([Source("secret/default/regcred", config)])


# kubernetes/kubernetes pkg/credentialprovider/keyring_test.go: TestDockerKeyringForGlob.
# Upstream looks up targetURL + "/foo/bar" and checks the first credential.
DOCKER_KEYRING_FOR_GLOB = [
    ("https://hello.kubernetes.io", "hello.kubernetes.io"),
    ("https://*.docker.io", "prefix.docker.io"),
    ("https://prefix.*.io", "prefix.docker.io"),
    ("https://prefix.docker.*", "prefix.docker.io"),
    ("https://*.docker.io/path", "prefix.docker.io/path"),
    ("https://prefix.*.io/path", "prefix.docker.io/path/subpath"),
    ("https://prefix.docker.*/path", "prefix.docker.io/path"),
    ("https://*.docker.io:8888", "prefix.docker.io:8888"),
    ("https://prefix.*.io:8888", "prefix.docker.io:8888"),
    ("https://prefix.docker.*:8888", "prefix.docker.io:8888"),
    ("https://*.docker.io/path:1111", "prefix.docker.io/path:1111"),
    ("https://*.docker.io/v1/", "prefix.docker.io/path:1111"),
    ("https://*.docker.io/v2/", "prefix.docker.io/path:1111"),
    ("https://prefix.docker.*/path:1111", "prefix.docker.io/path:1111"),
    ("prefix.docker.io:1111", "prefix.docker.io:1111/path"),
    ("*.docker.io:1111", "prefix.docker.io:1111/path"),
]


@pytest.mark.parametrize(("glob", "target"), DOCKER_KEYRING_FOR_GLOB,
                         ids=[f"{g}~{t}" for g, t in DOCKER_KEYRING_FOR_GLOB])
def test_docker_keyring_for_glob(glob: str, target: str) -> None:
    creds = glob_keyring(glob).lookup(target + "/foo/bar")
    assert creds, f"no credential for {target}"
    assert found(creds)[0] == FOO


# kubernetes/kubernetes pkg/credentialprovider/keyring_test.go: TestKeyringMiss.
KEYRING_MISS = [
    ("https://hello.kubernetes.io", "world.mesos.org/foo/bar"),
    ("https://*.docker.com", "prefix.docker.io"),
    ("https://suffix.*.io", "prefix.docker.io"),
    ("https://prefix.docker.c*", "prefix.docker.io"),
    ("https://prefix.*.io/path:1111", "prefix.docker.io/path/subpath:1111"),
    ("suffix.*.io", "prefix.docker.io"),
]


@pytest.mark.parametrize(("glob", "target"), KEYRING_MISS, ids=[f"{g}~{t}" for g, t in KEYRING_MISS])
def test_keyring_miss(glob: str, target: str) -> None:
    assert glob_keyring(glob).lookup(target + "/foo/bar") == []


# kubernetes/kubernetes pkg/credentialprovider/keyring_test.go:
# TestKeyringMissWithDockerHubCredentials, TestKeyringHitWithUnqualifiedDockerHub,
# TestKeyringHitWithUnqualifiedLibraryDockerHub, TestKeyringHitWithQualifiedDockerHub.
# The keyring holds one entry under "https://" + defaultRegistryKey ("index.docker.io/v1/").
# Columns: image, number of credentials (upstream: "> 1" / "> 2" is an error), via the
# isDefaultRegistryMatch fallback.
DOCKER_HUB = [
    pytest.param("world.mesos.org/foo/bar", 0, False, id="MissWithDockerHubCredentials"),
    pytest.param("google/docker-registry", 1, True, id="HitWithUnqualifiedDockerHub"),
    pytest.param("jenkins", 1, True, id="HitWithUnqualifiedLibraryDockerHub"),
    # upstream: url + "/google/docker-registry" with url = "index.docker.io/v1/"
    pytest.param("index.docker.io/v1//google/docker-registry", 1, False, id="HitWithQualifiedDockerHub"),
    # ADDED: the normalised names the kubelet really looks up
    pytest.param("docker.io/library/nginx", 1, True, id="ADDED-docker.io/library/nginx"),
    pytest.param("docker.io/google/docker-registry", 1, True, id="ADDED-docker.io/google/docker-registry"),
    pytest.param("index.docker.io/library/nginx", 1, False, id="ADDED-index.docker.io/library/nginx"),
    pytest.param("registry-1.docker.io/library/nginx", 0, False, id="ADDED-registry-1.docker.io"),
    pytest.param("quay.io/library/nginx", 0, False, id="ADDED-quay.io"),
    pytest.param("localhost:5000/library/nginx", 0, False, id="ADDED-localhost:5000"),
]


@pytest.mark.parametrize(("image", "count", "fallback"), DOCKER_HUB)
def test_docker_hub_credentials(image: str, count: int, fallback: bool) -> None:
    creds = glob_keyring("https://index.docker.io/v1/").lookup(image)
    assert len(creds) == count
    for cred in creds:
        assert (cred.entry.username, cred.entry.password, cred.entry.email) == FOO
        assert cred.fallback is fallback
        assert cred.key == "index.docker.io"


# kubernetes/kubernetes pkg/credentialprovider/keyring_test.go: TestIsDefaultRegistryMatch
# (first 8 rows); then ADDED rows.
DEFAULT_REGISTRY_MATCH = [
    ("foo/bar", True),
    ("docker.io/foo/bar", True),
    ("index.docker.io/foo/bar", True),
    ("foo", True),
    ("", False),
    ("registry.tld/foo/bar", False),
    ("registry:5000/foo/bar", False),
    ("myhostdocker.io/foo/bar", False),
    # ADDED
    ("docker.io/library/nginx", True),
    ("docker.io", True),  # a single component is always Docker Hub
    ("localhost/foo", True),  # no '.' or ':' in the first component
    ("localhost:5000/foo", False),
    ("registry-1.docker.io/library/nginx", False),
    ("/foo", False),
]


@pytest.mark.parametrize(("image", "expected"), DEFAULT_REGISTRY_MATCH,
                         ids=[repr(i) for i, _ in DEFAULT_REGISTRY_MATCH])
def test_is_default_registry_match(image: str, expected: bool) -> None:
    assert is_default_registry_match(image) is expected


ADA = ("ada", "smash", "ada@example.com")
GRACE = ("grace", "squash", "grace@example.com")


# kubernetes/kubernetes pkg/credentialprovider/keyring_test.go: TestDockerKeyringLookup
# (keys bar.example.com/pong -> grace and bar.example.com -> ada); then ADDED rows.
DOCKER_KEYRING_LOOKUP = [
    pytest.param("bar.example.com", [ADA], id="direct match"),
    pytest.param("bar.example.com/pong", [GRACE, ADA], id="direct match deeper than other possible matches"),
    pytest.param("bar.example.com/ping", [ADA], id="no direct match, deeper path ignored"),
    pytest.param("bar.example.com/pongz", [GRACE, ADA], id="match first part of path token"),
    pytest.param("bar.example.com/pong/pang", [GRACE, ADA], id="match regardless of sub-path"),
    pytest.param("example.com", [], id="no host match 1"),
    pytest.param("foo.example.com", [], id="no host match 2"),
    # ADDED
    pytest.param("bar.example.com:5000/pong/app", [], id="ADDED port differs"),
    pytest.param("bar.example.com/pong/app", [GRACE, ADA], id="ADDED normalised name"),
]


@pytest.mark.parametrize(("image", "expected"), DOCKER_KEYRING_LOOKUP)
def test_docker_keyring_lookup(image: str, expected: list[tuple[str, str, str]]) -> None:
    config = cfg({"bar.example.com/pong": entry(*GRACE), "bar.example.com": entry(*ADA)})
    assert found(Keyring([Source("s", config)]).lookup(image)) == expected


# kubernetes/kubernetes pkg/credentialprovider/keyring_test.go: TestIssue3797 (key
# "https://quay.io/v1/" matches images under quay.io); then ADDED rows.
REX = ("rex", "tiny arms", "rex@example.com")
ISSUE_3797 = [
    pytest.param("quay.io", [REX], id="direct match"),
    pytest.param("quay.io/foo", [REX], id="partial match 1"),
    pytest.param("quay.io/foo/bar", [REX], id="partial match 2"),
    # ADDED
    pytest.param("quay.io/coreos/etcd", [REX], id="ADDED normalised name"),
    pytest.param("quay.io:443/coreos/etcd", [], id="ADDED explicit port"),
    pytest.param("quay.iox/coreos/etcd", [], id="ADDED longer host"),
]


@pytest.mark.parametrize(("image", "expected"), ISSUE_3797)
def test_issue_3797(image: str, expected: list[tuple[str, str, str]]) -> None:
    ring = Keyring([Source("s", cfg({"https://quay.io/v1/": entry(*REX)}))])
    assert found(ring.lookup(image)) == expected


# ADDED, from keyring.go Add/Lookup: the index is de-duplicated and reverse-sorted
# ("credentials for quay.io/coreos should match before quay.io"), every matching key is
# tried, and the index.docker.io fallback is used only when nothing else matched.
# Columns: entries of one config, image, expected (username, ...) in order.
LOOKUP_ORDER = [
    pytest.param({"quay.io": entry("host", "pw1"), "quay.io/coreos": entry("ns", "pw2")},
                 "quay.io/coreos/etcd", ["ns", "host"], id="namespace before host"),
    pytest.param({"quay.io/coreos": entry("ns", "pw2"), "quay.io": entry("host", "pw1")},
                 "quay.io/coreos/etcd", ["ns", "host"], id="file order irrelevant"),
    pytest.param({"*.example.com": entry("glob", "pw1"), "a.example.com": entry("exact", "pw2")},
                 "a.example.com/app", ["exact", "glob"], id="reverse lexicographic: 'a' > '*'"),
    pytest.param({"example.com:5000": entry("port", "pw1"), "example.com": entry("noport", "pw2")},
                 "example.com:5000/app", ["port"], id="port must be equal"),
    pytest.param({"docker.io": entry("hub", "pw1"), "https://index.docker.io/v1/": entry("index", "pw2")},
                 "docker.io/library/nginx", ["hub"], id="no fallback when a key matched"),
    pytest.param({"https://index.docker.io/v1/": entry("index", "pw2"), "registry-1.docker.io": entry("r1", "pw3")},
                 "docker.io/library/nginx", ["index"], id="fallback to index.docker.io only"),
    pytest.param({"docker.io": entry("hub", "pw1"), "docker.io/library": entry("lib", "pw2")},
                 "docker.io/library/nginx", ["lib", "hub"], id="docker.io namespace before host"),
    pytest.param({"quay.io/team": entry("team", "pw1"), "quay.io/teammate": entry("mate", "pw2")},
                 "quay.io/teammate/app", ["mate", "team"], id="string prefix matches both"),
]


@pytest.mark.parametrize(("entries", "image", "expected"), LOOKUP_ORDER)
def test_lookup_order(entries: dict[str, Any], image: str, expected: list[str]) -> None:
    creds = Keyring([Source("s", cfg(entries))]).lookup(image)
    assert [c.entry.username for c in creds] == expected


def test_same_normalised_key_keeps_every_credential_in_add_order() -> None:
    """keyring.go Add: `dk.creds[key] = append(dk.creds[key], ...)`, index de-duplicated."""
    ring = Keyring([
        Source("secret/ns/first", cfg({"https://quay.io/v1/": entry("first", "pw1")})),
        Source("secret/ns/second", cfg({"quay.io": entry("second", "pw2")}, "dockerconfigjson")),
    ])
    assert ring.index == ["quay.io"]
    creds = ring.lookup("quay.io/ns/app")
    assert [(c.source, c.entry.username, c.key) for c in creds] == [
        ("secret/ns/first", "first", "quay.io"), ("secret/ns/second", "second", "quay.io")]


# ADDED: the kubelet path. kuberuntime passes parsers.ParseImageName(image) to the
# keyring; reference.parse is that function here. Columns: entries, pod image, usernames.
KUBELET_IMAGE_PATH = [
    pytest.param({"docker.io": entry("hub", "pw")}, "nginx", ["hub"], id="nginx via docker.io"),
    pytest.param({"https://index.docker.io/v1/": entry("idx", "pw")}, "nginx:1.25", ["idx"], id="nginx via fallback"),
    pytest.param({"index.docker.io": entry("idx", "pw")}, "bitnami/redis", ["idx"], id="user repo via fallback"),
    pytest.param({"docker.io/bitnami": entry("ns", "pw")}, "bitnami/redis", ["ns"], id="docker.io namespace key"),
    pytest.param({"docker.io/library": entry("lib", "pw")}, "nginx", ["lib"], id="library namespace key"),
    pytest.param({"bitnami": entry("x", "pw")}, "bitnami/redis", [], id="bare namespace is not a host"),
    pytest.param({"localhost:5000": entry("loc", "pw")}, "localhost:5000/app", ["loc"], id="host with port"),
    pytest.param({"localhost:5000": entry("loc", "pw")}, "localhost:5000", [],
                 id="no slash: docker.io/library/localhost with tag 5000"),
    pytest.param({"quay.io/org": entry("org", "pw")}, "quay.io/org/app@sha256:" + "a" * 64, ["org"], id="digest"),
]


@pytest.mark.parametrize(("entries", "image", "expected"), KUBELET_IMAGE_PATH)
def test_kubelet_image_path(entries: dict[str, Any], image: str, expected: list[str]) -> None:
    name = reference.parse(image).name
    creds = Keyring([Source("s", cfg(entries, "dockerconfigjson"))]).lookup(name)
    assert [c.entry.username for c in creds] == expected


# --- UnionDockerKeyring: pod secrets, then the node ------------------------------

# ADDED, from keyring.go UnionDockerKeyring.Lookup (each keyring in turn, results
# appended) and secrets.go MakeDockerKeyring (all pull secrets Add-ed into ONE
# BasicDockerKeyring, then {that, defaultKeyring}). Columns: pod secrets (each a
# dict of entries), node entries, image, expected (source, username, fallback).
UNION = [
    pytest.param([{"quay.io": entry("pod", "pw1")}], {"quay.io": entry("node", "pw2")}, "quay.io/ns/app",
                 [("secret/ns/s0", "pod", False), ("global", "node", False)], id="pod first, then node"),
    pytest.param([], {"quay.io": entry("node", "pw2")}, "quay.io/ns/app",
                 [("global", "node", False)], id="no pull secrets"),
    pytest.param([{"other.io": entry("pod", "pw1")}], {"quay.io": entry("node", "pw2")}, "quay.io/ns/app",
                 [("global", "node", False)], id="pod secret does not match"),
    pytest.param([{"quay.io": entry("a", "pw1")}, {"quay.io": entry("b", "pw2")}], {}, "quay.io/ns/app",
                 [("secret/ns/s0", "a", False), ("secret/ns/s1", "b", False)], id="two secrets, same key"),
    pytest.param([{"quay.io": entry("a", "pw1")}, {"quay.io/ns": entry("b", "pw2")}], {}, "quay.io/ns/app",
                 [("secret/ns/s1", "b", False), ("secret/ns/s0", "a", False)],
                 id="secrets are merged: key order beats secret order"),
    pytest.param([{"https://index.docker.io/v1/": entry("pod", "pw1")}], {"docker.io": entry("node", "pw2")},
                 "docker.io/library/nginx", [("secret/ns/s0", "pod", True), ("global", "node", False)],
                 id="fallback is per keyring (pod)"),
    pytest.param([{"docker.io": entry("pod", "pw1")}], {"index.docker.io": entry("node", "pw2")},
                 "docker.io/library/nginx", [("secret/ns/s0", "pod", False), ("global", "node", True)],
                 id="fallback is per keyring (node)"),
    pytest.param([{"quay.io": entry("pod", "pw1")}, {"https://index.docker.io/v1/": entry("hub", "pw3")}], {},
                 "docker.io/library/nginx", [("secret/ns/s1", "hub", True)], id="fallback across merged secrets"),
]


@pytest.mark.parametrize(("pod", "node", "image", "expected"), UNION)
def test_kubelet_lookup_union(pod: list[dict[str, Any]], node: dict[str, Any], image: str,
                              expected: list[tuple[str, str, bool]]) -> None:
    pod_sources = [Source(f"secret/ns/s{i}", cfg(e, "dockerconfigjson")) for i, e in enumerate(pod)]
    node_sources = [Source("global", cfg(node, "dockerconfigjson"), node=True)] if node else []
    creds = kubelet_lookup(pod_sources, node_sources, image)
    assert [(c.source, c.entry.username, c.fallback) for c in creds] == expected


# --- MakeDockerKeyring: which secrets count --------------------------------------

JSON_TYPE, CFG_TYPE = "kubernetes.io/dockerconfigjson", "kubernetes.io/dockercfg"
AUTH_JSON = '{"auths": {"test.registry.io": {"auth": "dXNlcjpwYXNzd29yZA=="}}}'
AUTH_CFG = '{"test.registry.io": {"auth": "dXNlcjpwYXNzd29yZA=="}}'
USERPASS_JSON = '{"auths": {"test.registry.io": {"username": "user", "password": "password"}}}'
USERPASS_CFG = '{"test.registry.io": {"username": "user", "password": "password"}}'
OTHER_CFG = '{"test.registry.io": {"username": "other", "password": "password"}}'
USER = ("user", "password")
DEFAULT = ("default-user", "default-password")


def pull_secrets_keyring(secrets: list[tuple[str, dict[str, str]]]) -> list[Source]:
    """secrets.go secretsToTrackedDockerConfigs: a secret counts when its type is
    dockerconfigjson and it has a non-empty .dockerconfigjson, or its type is
    dockercfg and it has a non-empty .dockercfg. dockerconfig.TYPE_FOR_FORMAT and
    KEY_FOR_FORMAT say which type goes with which key."""
    sources = []
    for i, (stype, data) in enumerate(secrets):
        formats: tuple[dockerconfig.Format, ...] = ("dockerconfigjson", "dockercfg")
        for fmt in formats:
            raw = data.get(dockerconfig.KEY_FOR_FORMAT[fmt])
            if stype == dockerconfig.TYPE_FOR_FORMAT[fmt] and raw:
                sources.append(Source(f"secret/ns/s{i}", dockerconfig.parse(raw, fmt)))
                break
    return sources


# kubernetes/kubernetes pkg/credentialprovider/secrets/secrets_test.go: Test_MakeDockerKeyring.
# The default keyring (upstream a FakeKeyring that always answers default-user) is a
# node config holding default-user for test.registry.io. Columns: pull secrets as
# (type, data), default keyring present, expected (username, password) in order.
# Upstream's `found: false` for "no pull secrets but has default keyring" is the
# FakeKeyring's own ok=false; the credentials it returns are the ones checked here.
MAKE_DOCKER_KEYRING = [
    pytest.param([(JSON_TYPE, {".dockerconfigjson": AUTH_JSON})], False, [USER],
                 id="with .dockerconfigjson and auth field"),
    pytest.param([(CFG_TYPE, {".dockercfg": AUTH_CFG})], False, [USER],
                 id="with .dockerconfig and auth field"),
    pytest.param([(JSON_TYPE, {".dockerconfigjson": USERPASS_JSON})], False, [USER],
                 id="with .dockerconfigjson and username/password fields"),
    pytest.param([(CFG_TYPE, {".dockercfg": USERPASS_CFG})], False, [USER],
                 id="with .dockerconfig and username/password fields"),
    pytest.param([(CFG_TYPE, {".dockerconfigjson": AUTH_JSON})], False, [],
                 id="with .dockerconfigjson but with wrong Secret Type"),
    pytest.param([(JSON_TYPE, {".dockercfg": AUTH_CFG})], False, [],
                 id="with .dockerconfig but with wrong Secret Type"),
    pytest.param([(JSON_TYPE, {".dockerconfigjson": AUTH_JSON.replace("test.registry.io", "foobar.io")})], True,
                 [DEFAULT], id="with not matching .dockerconfigjson and default keyring"),
    pytest.param([(CFG_TYPE, {".dockercfg": AUTH_CFG.replace("test.registry.io", "foobar.io")})], True,
                 [DEFAULT], id="with not matching .dockerconfig and default keyring"),
    pytest.param([], True, [DEFAULT], id="with no pull secrets but has default keyring"),
    pytest.param([(JSON_TYPE, {".dockerconfigjson": AUTH_JSON})], True, [USER, DEFAULT],
                 id="with pull secrets and has default keyring"),
    # ADDED
    pytest.param([("Opaque", {".dockerconfigjson": AUTH_JSON})], False, [], id="ADDED Opaque type"),
    pytest.param([(JSON_TYPE, {".dockerconfigjson": ""})], True, [DEFAULT], id="ADDED empty value"),
    pytest.param([(JSON_TYPE, {".dockerconfigjson": AUTH_JSON, ".dockercfg": OTHER_CFG})],
                 False, [USER], id="ADDED both keys, dockerconfigjson type"),
    pytest.param([(CFG_TYPE, {".dockerconfigjson": AUTH_JSON, ".dockercfg": OTHER_CFG})],
                 False, [("other", "password")], id="ADDED both keys, dockercfg type"),
]


@pytest.mark.parametrize(("secrets", "default", "expected"), MAKE_DOCKER_KEYRING)
def test_make_docker_keyring(secrets: list[tuple[str, dict[str, str]]], default: bool,
                             expected: list[tuple[str, str]]) -> None:
    node = [Source("global", cfg({"test.registry.io": entry(*DEFAULT)}), node=True)] if default else []
    creds = kubelet_lookup(pull_secrets_keyring(secrets), node, "test.registry.io")
    assert [(c.entry.username, c.entry.password) for c in creds] == expected


# kubernetes/kubernetes pkg/credentialprovider/secrets/secrets.go secretsToTrackedDockerConfigs:
# the type and data key constants the project uses must be the upstream v1 ones.
@pytest.mark.parametrize(("fmt", "stype", "key"), [
    ("dockerconfigjson", "kubernetes.io/dockerconfigjson", ".dockerconfigjson"),
    ("dockercfg", "kubernetes.io/dockercfg", ".dockercfg"),
], ids=["dockerconfigjson", "dockercfg"])
def test_secret_type_and_key_constants(fmt: str, stype: str, key: str) -> None:
    assert dockerconfig.TYPE_FOR_FORMAT[fmt] == stype
    assert dockerconfig.KEY_FOR_FORMAT[fmt] == key


@pytest.mark.parametrize(("key", "image", "matches"), [
    ("quay.io", "quay.io/acme/web", True),
    ("https://quay.io/v2/", "quay.io/acme/web", True),
    ("quay.io:443", "quay.io/acme/web", False),
    ("quay.io/other", "quay.io/acme/web", False),
    ("*.example.com", "r.example.com/a/b", True),
    ("registry-1.docker.io", "docker.io/library/busybox", False),
    ("docker.io", "docker.io/library/busybox", True),
    ("index.docker.io", "docker.io/library/busybox", True),  # the Docker Hub fallback key
    ("index.docker.io/team", "docker.io/library/busybox", False),
    ("quay.io:99999", "quay.io/acme/web", False),  # not a URL the kubelet can parse
])
def test_key_matches_is_lookup_for_one_key(key: str, image: str, matches: bool) -> None:
    assert key_matches(key, image) is matches
    config = dockerconfig.parse(json.dumps({"auths": {key: {"auth": "dTpw"}}}), "dockerconfigjson")
    assert bool(Keyring([Source("s", config)]).lookup(image)) is matches
