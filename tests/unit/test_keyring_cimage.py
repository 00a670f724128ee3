"""What containers/image (CRI-O, podman, skopeo) reads: kubectl_pullsecret.keyring.cimage_lookup.

Ported from containers/image pkg/docker/config/config_test.go (TestGetAuth,
TestGetAuthFromLegacyFile, TestAuthKeyLookupOrder) with its testdata/*.json files,
and from the behaviour of pkg/docker/config/config.go findCredentialsInFile,
authKeyLookupOrder, normalizeAuthFileKey and decodeDockerAuth.

Upstream's GetCredentials(sys, key) takes a registry, a namespace or a repository;
GetCredentialsForRef passes ref.Name(), the normalised name (`docker.io/library/busybox`).
cimage_lookup(config, image, legacy) is findCredentialsInFile for one file; rows with
normalised image names that upstream does not have are marked "ADDED".
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from kubectl_pullsecret import dockerconfig
from kubectl_pullsecret.keyring import cimage_lookup


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# containers/image pkg/docker/config/testdata/*.json, verbatim.
TESTDATA: dict[str, dict[str, Any]] = {
    "abnormal.json": {"auths": {
        "example.org": {"auth": "ZXhhbXBsZTpvcmc="},
        "https://index.docker.io/v1": {"auth": "aW5kZXg6ZG9ja2VyLmlv"},
        "https://127.0.0.1:5000": {"auth": "MTI3LjA6MC4xLTUwMDA="},
        "http://localhost": {"auth": "bG9jYWw6aG9zdA=="},
        "https://localhost:5001": {"auth": "bG9jYWw6aG9zdC01MDAx"},
        "localhost:5000": {"auth": "bG9jYWw6aG9zdC01MDAw"},
    }},
    "empty.json": {},
    "example.json": {"auths": {"example.org": {"auth": "ZXhhbXBsZTpvcmc="}}},
    "example_identitytoken.json": {"auths": {"example.org": {
        "auth": "MDAwMDAwMDAtMDAwMC0wMDAwLTAwMDAtMDAwMDAwMDAwMDAwOg==",
        "identitytoken": "some very long identity token",
    }}},
    "full.json": {"auths": {
        "example.org": {"auth": "ZXhhbXBsZTpvcmc="},
        "index.docker.io": {"auth": "aW5kZXg6ZG9ja2VyLmlv"},
        "docker.io": {"auth": "ZG9ja2VyOmlv"},
        "localhost": {"auth": "bG9jYWw6aG9zdA=="},
        "localhost:5000": {"auth": "bG9jYWw6aG9zdC01MDAw"},
        "10.10.30.45": {"auth": "MTAuMTA6MzAuNDU="},
        "10.10.30.45:5000": {"auth": "MTAuMTA6MzAuNDUtNTAwMA=="},
        "https://normalize.example.org/v1": {"auth": "bm9ybWFsaXplOmV4YW1wbGU="},
    }},
    "legacy.json": {
        "http://index.docker.io/v1": {"auth": "ZG9ja2VyOmlvLWxlZ2FjeQ=="},
        "https://localhost/v1": {"auth": "bG9jYWw6aG9zdC1sZWdhY3k="},
    },
    "refpath.json": {"auths": {
        "example.org/repo": {"auth": "ZXhhbXBsZTpvcmc="},
        "example.org": {"auth": "bG9jYWw6aG9zdA=="},
        "docker.io/vendor": {"auth": "Zmlyc3Q6bGV2ZWw="},
        "docker.io": {"auth": "dG9wOmxldmVs"},
        "docker.io/library/busybox": {"auth": "bGlicmFyeTpidXN5Ym94"},
        "docker.io/library": {"auth": "bGlicmFyeTpvdGhlcg=="},
    }},
}


def load(name: str, legacy: bool = False) -> dockerconfig.DockerConfig:
    return dockerconfig.parse(json.dumps(TESTDATA[name]), "dockercfg" if legacy else "dockerconfigjson")


def config_of(auths: dict[str, Any] | str) -> dockerconfig.DockerConfig:
    text = auths if isinstance(auths, str) else json.dumps({"auths": auths})
    return dockerconfig.parse(text, "dockerconfigjson")


# containers/image pkg/docker/config/config_test.go: TestGetAuth. Rows that need no
# file ("no auth config"), a SystemContext ("use system context") or registries.conf
# credential helpers are not about file lookup and are left out.
# Columns: testdata file, key, expected (entry key read, username, password) or None.
GET_AUTH = [
    pytest.param("example.json", "", None, id="empty hostname"),
    pytest.param("example.json", "example.org", ("example.org", "example", "org"), id="match one"),
    pytest.param("example.json", "registry.example.org", None, id="match none"),
    pytest.param("full.json", "docker.io", ("docker.io", "docker", "io"), id="match docker.io"),
    pytest.param("abnormal.json", "docker.io", ("https://index.docker.io/v1", "index", "docker.io"),
                 id="match docker.io normalized"),
    pytest.param("full.json", "normalize.example.org",
                 ("https://normalize.example.org/v1", "normalize", "example"), id="normalize registry"),
    pytest.param("full.json", "localhost", ("localhost", "local", "host"), id="match localhost"),
    pytest.param("full.json", "10.10.30.45:5000", ("10.10.30.45:5000", "10.10", "30.45-5000"), id="match ip"),
    pytest.param("abnormal.json", "localhost:5000", ("localhost:5000", "local", "host-5000"), id="match port"),
    pytest.param("empty.json", "localhost:5000", None, id="match none (empty.json)"),
    pytest.param("refpath.json", "example.org/repo/image", ("example.org/repo", "example", "org"),
                 id="match ref image"),
    pytest.param("refpath.json", "example.org/repo", ("example.org/repo", "example", "org"), id="match ref repo"),
    pytest.param("refpath.json", "example.org/image", ("example.org", "local", "host"), id="match ref host"),
    pytest.param("refpath.json", "docker.io/library/busybox", ("docker.io/library/busybox", "library", "busybox"),
                 id="docker.io library repo match"),
    pytest.param("refpath.json", "docker.io/library/notbusybox", ("docker.io/library", "library", "other"),
                 id="docker.io library namespace match"),
    pytest.param("refpath.json", "docker.io/vendor/product", ("docker.io/vendor", "first", "level"),
                 id="docker.io vendor repo match"),
    pytest.param("refpath.json", "docker.io/vendor", ("docker.io/vendor", "first", "level"),
                 id="docker.io vendor namespace match"),
    pytest.param("refpath.json", "docker.io/other-vendor/other-product", ("docker.io", "top", "level"),
                 id="docker.io host-only match"),
    # ADDED: normalised image names, as GetCredentialsForRef passes them
    pytest.param("full.json", "docker.io/library/busybox", ("docker.io", "docker", "io"),
                 id="ADDED full.json docker.io/library/busybox"),
    pytest.param("abnormal.json", "docker.io/library/busybox", ("https://index.docker.io/v1", "index", "docker.io"),
                 id="ADDED abnormal.json docker.io/library/busybox"),
    pytest.param("abnormal.json", "localhost/app", ("http://localhost", "local", "host"),
                 id="ADDED scheme key cut to its host"),
    pytest.param("abnormal.json", "127.0.0.1:5000/ns/app", ("https://127.0.0.1:5000", "127.0", "0.1-5000"),
                 id="ADDED https key with port"),
    pytest.param("abnormal.json", "localhost:5001/app", ("https://localhost:5001", "local", "host-5001"),
                 id="ADDED https key with other port"),
    pytest.param("full.json", "10.10.30.45/app", ("10.10.30.45", "10.10", "30.45"), id="ADDED ip without port"),
    pytest.param("full.json", "normalize.example.org/v1/app", ("https://normalize.example.org/v1", "normalize",
                                                                "example"), id="ADDED scheme and /v1 path cut"),
    pytest.param("example.json", "sub.example.org/app", None, id="ADDED no wildcard or suffix match"),
    pytest.param("refpath.json", "example.org/repository", ("example.org", "local", "host"),
                 id="ADDED namespaces are whole path components"),
]


@pytest.mark.parametrize(("name", "key", "expected"), GET_AUTH)
def test_get_auth(name: str, key: str, expected: tuple[str, str, str] | None) -> None:
    result = cimage_lookup(load(name), key)
    if expected is None:
        assert result.entry is None
        assert result.credentials is False
        return
    assert result.entry is not None
    assert (result.entry.key, result.entry.username, result.entry.password) == expected
    assert result.credentials is True
    assert result.error is None


def test_get_auth_identity_token() -> None:
    """containers/image config_test.go TestGetAuth "identity token": the auth decodes to
    "00000000-0000-0000-0000-000000000000:" and the identity token is returned with it."""
    result = cimage_lookup(load("example_identitytoken.json"), "example.org")
    assert result.entry is not None
    assert result.entry.username == "00000000-0000-0000-0000-000000000000"
    assert result.entry.password == ""
    assert result.entry.identitytoken == "some very long identity token"
    assert result.credentials is True


def test_get_auth_several_normalised_candidates() -> None:
    """ADDED: config.go findCredentialsInFile ranges over a Go map when normalising
    (`for k, v := range fileContents.AuthConfigs`), so with two keys normalising to
    index.docker.io either may be read; registry-1.docker.io has no exact key in full.json."""
    result = cimage_lookup(load("full.json"), "registry-1.docker.io/library/busybox")
    assert result.entry is not None
    assert (result.entry.key, result.entry.username) in {("index.docker.io", "index"), ("docker.io", "docker")}
    assert sorted(c.key for c in result.candidates) == ["docker.io", "index.docker.io"]


def test_get_auth_single_normalised_candidate() -> None:
    """ADDED: one key normalising to the registry is not ambiguous."""
    result = cimage_lookup(load("abnormal.json"), "docker.io/library/busybox")
    assert result.entry is not None
    assert result.entry.key == "https://index.docker.io/v1"
    assert result.candidates == ()


# containers/image pkg/docker/config/config_test.go: TestGetAuthFromLegacyFile (legacy.json
# as ~/.dockercfg); then ADDED rows.
LEGACY = [
    pytest.param("localhost", ("https://localhost/v1", "local", "host-legacy"), id="ignore schema and path"),
    pytest.param("docker.io", ("http://index.docker.io/v1", "docker", "io-legacy"), id="normalize registry"),
    # ADDED
    pytest.param("localhost/ns/app", ("https://localhost/v1", "local", "host-legacy"), id="ADDED namespaced name"),
    pytest.param("docker.io/library/busybox", ("http://index.docker.io/v1", "docker", "io-legacy"),
                 id="ADDED docker.io/library/busybox"),
    pytest.param("localhost:5000/app", None, id="ADDED port must match"),
]


@pytest.mark.parametrize(("key", "expected"), LEGACY)
def test_get_auth_from_legacy_file(key: str, expected: tuple[str, str, str] | None) -> None:
    result = cimage_lookup(load("legacy.json", legacy=True), key, legacy=True)
    if expected is None:
        assert result.entry is None
        return
    assert result.entry is not None
    assert (result.entry.key, result.entry.username, result.entry.password) == expected
    assert result.credentials is True


# ADDED, from config.go authKeyLookupOrder (legacy: the registry only) and
# normalizeAuthFileKey (legacy keys, and keys with a scheme, are cut at the first '/').
# Columns: entries, image, legacy, expected entry key or None.
LEGACY_VS_CURRENT = [
    pytest.param({"quay.io/team": {"auth": b64("t:pw")}}, "quay.io/other/app", True, "quay.io/team",
                 id="legacy: a namespaced key is cut to its host"),
    pytest.param({"quay.io/team": {"auth": b64("t:pw")}}, "quay.io/other/app", False, None,
                 id="current: a namespaced key without scheme is exact only"),
    pytest.param({"quay.io/team": {"auth": b64("t:pw")}}, "quay.io/team/app", True, "quay.io/team",
                 id="legacy: found through normalisation, not exact lookup"),
    pytest.param({"https://quay.io/team": {"auth": b64("t:pw")}}, "quay.io/other/app", False,
                 "https://quay.io/team", id="current: a key with scheme is cut to its host"),
    pytest.param({"registry-1.docker.io": {"auth": b64("t:pw")}}, "docker.io/library/busybox", False,
                 "registry-1.docker.io", id="current: registry-1.docker.io means docker.io"),
    pytest.param({"docker.io/library": {"auth": b64("t:pw")}}, "docker.io/library/busybox", True, "docker.io/library",
                 id="legacy: docker.io/library is cut to docker.io"),
]


@pytest.mark.parametrize(("entries", "image", "legacy", "expected"), LEGACY_VS_CURRENT)
def test_legacy_vs_current_keys(entries: dict[str, Any], image: str, legacy: bool, expected: str | None) -> None:
    fmt: dockerconfig.Format = "dockercfg" if legacy else "dockerconfigjson"
    doc = entries if legacy else {"auths": entries}
    result = cimage_lookup(dockerconfig.parse(json.dumps(doc), fmt), image, legacy=legacy)
    assert (result.entry.key if result.entry else None) == expected


# containers/image pkg/docker/config/config_test.go: TestAuthKeyLookupOrder. Each
# expected sequence is checked position by position: a config holding the keys from
# position i on must be read at key i (the best remaining match). In the legacy format
# only the registry is looked up exactly.
AUTH_KEY_LOOKUP_ORDER = {
    "a top-level repo": ("quay.io/image", ["quay.io/image", "quay.io"]),
    "a second-level repo": ("quay.io/user/image", ["quay.io/user/image", "quay.io/user", "quay.io"]),
    "a deeply-nested repo": ("quay.io/a/b/c/d/image", [
        "quay.io/a/b/c/d/image", "quay.io/a/b/c/d", "quay.io/a/b/c", "quay.io/a/b", "quay.io/a", "quay.io"]),
    "docker.io library repo": ("docker.io/library/busybox",
                               ["docker.io/library/busybox", "docker.io/library", "docker.io"]),
    "docker.io non-library repo": ("docker.io/vendor/busybox",
                                   ["docker.io/vendor/busybox", "docker.io/vendor", "docker.io"]),
}


@pytest.mark.parametrize(("image", "keys", "position"), [
    pytest.param(image, keys, i, id=f"{name}-{i}")
    for name, (image, keys) in AUTH_KEY_LOOKUP_ORDER.items()
    for i in range(len(keys))
])
def test_auth_key_lookup_order(image: str, keys: list[str], position: int) -> None:
    # Reverse file order, so that reading in file order would pick the wrong one.
    auths = {k: {"auth": b64(f"user{j}:pw{j}")} for j, k in reversed(list(enumerate(keys))) if j >= position}
    result = cimage_lookup(config_of(auths), image)
    assert result.entry is not None
    assert result.entry.key == keys[position]
    assert result.entry.username == f"user{position}"


@pytest.mark.parametrize(("image", "keys"), list(AUTH_KEY_LOOKUP_ORDER.values()),
                         ids=list(AUTH_KEY_LOOKUP_ORDER))
def test_auth_key_lookup_order_legacy(image: str, keys: list[str]) -> None:
    registry = image.split("/", 1)[0]
    doc = {k: {"auth": b64(f"user{j}:pw{j}")} for j, k in enumerate(keys)}
    result = cimage_lookup(dockerconfig.parse(json.dumps(doc), "dockercfg"), image, legacy=True)
    assert result.entry is not None
    assert result.entry.key == registry


def test_first_existing_key_wins_without_retry() -> None:
    """config.go findCredentialsInFile: `if val, exists := fileContents.AuthConfigs[key];
    exists { return decodeDockerAuth(path.path, key, val) }` - the first existing key is
    returned even when it yields nothing; the registry key is not tried next."""
    auths = {"quay.io/team": {"auth": b64("no-colon-here")}, "quay.io": {"auth": b64("user:pw")}}
    result = cimage_lookup(config_of(auths), "quay.io/team/app")
    assert result.entry is not None
    assert result.entry.key == "quay.io/team"
    assert result.credentials is False
    assert result.error is None


# --- decodeDockerAuth -----------------------------------------------------------


# ADDED, from config.go decodeDockerAuth: `auth` decoded with base64.StdEncoding
# (padding required, trailing bits ignored, '\r' '\n' skipped), split at the first ':'
# (missing ':' skips the entry silently, `{}` is a credential-helper marker), password
# trimmed of NULs; username/password fields are not read. Columns: entry, credentials,
# error expected.
DECODE_DOCKER_AUTH = [
    pytest.param({"auth": b64("user:pass")}, True, False, id="user:pass"),
    pytest.param({"auth": b64("user:pa:ss")}, True, False, id="split at the first colon"),
    pytest.param({"auth": b64("user:pass\x00\x00")}, True, False, id="password trimmed of NULs"),
    pytest.param({"auth": b64("no-colon-here")}, False, False, id="missing colon: skipped, no error"),
    pytest.param({"auth": ""}, False, False, id="empty auth: credential-helper marker"),
    pytest.param({}, False, False, id="empty entry"),
    pytest.param({"auth": b64(":")}, False, False, id="colon only: empty DockerAuthConfig"),
    pytest.param({"username": "user", "password": "pass"}, False, False, id="username/password fields are ignored"),
    pytest.param({"auth": "pants"}, False, True, id="bad base64"),
    pytest.param({"auth": "Zm9vOmJhcg"}, False, True, id="unpadded: StdEncoding needs padding"),
    pytest.param({"auth": "Zm9vOmJhcg==="}, False, True, id="too much padding"),
    pytest.param({"auth": "Zm9vOmJhch=="}, True, False, id="non-zero trailing bits are ignored"),
    pytest.param({"auth": b64("user:"), "identitytoken": "tok-123456"}, True, False, id="identity token"),
    pytest.param({"auth": b64(":"), "identitytoken": "tok-123456"}, True, False, id="identity token, empty user"),
    pytest.param({"AUTH": b64("user:pass")}, True, False, id="field names are case-insensitive"),
    pytest.param({"auth": base64.encodebytes(("u" * 40 + ":" + "p" * 40).encode()).decode()}, True, False,
                 id="line-wrapped base64"),
    pytest.param({"auth": "Zm9vOmJhcg==\r\n"}, True, False, id="trailing CRLF"),
    pytest.param({"identitytoken": "tok-123456"}, False, False, id="identity token without auth"),
    pytest.param({"auth": b64("no-colon-here"), "identitytoken": "tok-123456"}, False, False,
                 id="identity token, auth without colon"),
    pytest.param({"auth": "pants", "identitytoken": "tok-123456"}, False, True,
                 id="identity token, bad base64"),
    pytest.param({"auth": b64("user:")}, True, False, id="empty password"),
    pytest.param({"auth": b64(":pass")}, True, False, id="empty username"),
    pytest.param(None, False, False, id="null entry"),
]


@pytest.mark.parametrize(("entry", "credentials", "error"), DECODE_DOCKER_AUTH)
def test_decode_docker_auth(entry: dict[str, Any] | None, credentials: bool, error: bool) -> None:
    result = cimage_lookup(config_of({"registry.example.com": entry}), "registry.example.com/ns/app")
    assert result.entry is not None
    assert result.credentials is credentials
    assert (result.error is not None) is error
    if result.error is not None:
        assert result.error == result.entry.cimage.error


# ADDED: the same entry read by the kubelet and by containers/image. Columns: auth,
# kubelet decodes it, containers/image decodes it.
KUBELET_VS_CIMAGE = [
    pytest.param("Zm9vOmJhcg==", True, True, id="padded"),
    pytest.param("Zm9vOmJhcg", True, False, id="unpadded: kubelet RawStdEncoding, c/image StdEncoding"),
    pytest.param("Zm9vOm\nJhcg==\n", True, True, id="newlines"),
    pytest.param("pants", False, False, id="not base64"),
]


@pytest.mark.parametrize(("auth", "kubelet", "cimage"), KUBELET_VS_CIMAGE)
def test_kubelet_vs_cimage_decoding(auth: str, kubelet: bool, cimage: bool) -> None:
    config = config_of({"registry.example.com": {"auth": auth}})
    assert (config.entries[0].errors == ()) is kubelet
    if kubelet:
        assert (config.entries[0].username, config.entries[0].password) == ("foo", "bar")
    assert cimage_lookup(config, "registry.example.com/app").credentials is cimage


# ADDED, from config.go dockerConfigFile/dockerAuthConfig and authPath.parse: the whole
# file is json.Unmarshal-ed into {auths: map[string]{auth string, identitytoken string},
# credHelpers: map[string]string}; any type error fails the lookup ("unmarshaling JSON at
# ..."), including a field the kubelet does not read.
WRONG_TYPES = [
    pytest.param('{"auths": {"registry.example.com": {"auth": 5}}}', id="auth is a number"),
    pytest.param('{"auths": {"registry.example.com": {"auth": "dTpw", "identitytoken": 5}}}',
                 id="identitytoken is a number"),
    pytest.param('{"auths": {"registry.example.com": "dTpw"}}', id="entry is a string"),
]


@pytest.mark.parametrize("text", WRONG_TYPES)
def test_wrong_json_type_fails_cimage(text: str) -> None:
    result = cimage_lookup(config_of(text), "registry.example.com/app")
    assert result.error is not None
    assert result.credentials is False


def test_cred_helper_in_file_wins_over_auths() -> None:
    text = json.dumps({"auths": {"registry.example.com": {"auth": b64("user:pass")}},
                       "credHelpers": {"registry.example.com": "secretservice"}})
    result = cimage_lookup(config_of(text), "registry.example.com/app")
    assert result.entry is None


def test_cred_helper_for_another_registry_is_ignored() -> None:
    """config.go findCredentialsInFile consults CredHelpers[registry] only."""
    text = json.dumps({"auths": {"registry.example.com": {"auth": b64("user:pass")}},
                       "credHelpers": {"other.example.com": "secretservice"}})
    result = cimage_lookup(config_of(text), "registry.example.com/app")
    assert result.entry is not None
    assert result.credentials is True
