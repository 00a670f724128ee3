"""Tests for kubectl_pullsecret.reference.

Most vectors are ported from github.com/distribution/reference (v0.6.0):
reference_test.go (TestReferenceParse) and normalize_test.go
(TestValidateReferenceName, TestValidateRemoteName, TestParseRepositoryInfo,
TestParseReferenceWithTagAndDigest, TestParseAnyReference,
TestNormalizedSplitHostname, TestParseDockerRef).

Our ``parse`` is ``ParseNormalizedNamed`` + ``TagNameOnly`` (the kubelet's
``parsers.ParseImageName``), whereas TestReferenceParse exercises the
non-normalised ``Parse``.  Vectors from there are adapted to what the normalised
parser returns; each adapted vector says so in a comment ("ADAPTED").
"""

from __future__ import annotations

import dataclasses

import pytest

from kubectl_pullsecret.reference import InvalidReference, Reference, parse

F32 = "f" * 32
F34 = "f" * 34
F64 = "f" * 64
F128 = "f" * 128
SHA256_F = "sha256:" + F64
SHA512_F = "sha512:" + F128
HEX64 = "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a"
REDIS_DIGEST = "sha256:dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c"
BUSYBOX_DIGEST = (
    "sha256:86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa"
)
BUSYBOX_DIGEST2 = (
    "sha256:e6693c20186f837fc393390135d8a598a96a833917917789d63766cab6c59582"
)
LONG_NAMESPACE = (
    "this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255_"
    "this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255_"
    "this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255_"
    "this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255"
)

# (input, registry, repository, tag, digest)
VALID: list[tuple[str, str, str, str | None, str | None]] = [
    # --- reference_test.go TestReferenceParse (valid rows) ---
    # ADAPTED: no "/" so Docker Hub official image (upstream Parse: domain "").
    ("test_com", "docker.io", "library/test_com", "latest", None),
    # ADAPTED: single element, so "test.com" is the repository and "tag" the tag.
    ("test.com:tag", "docker.io", "library/test.com", "tag", None),
    # ADAPTED: single element, so ":5000" is a tag, not a port.
    ("test.com:5000", "docker.io", "library/test.com", "5000", None),
    ("test.com/repo:tag", "test.com", "repo", "tag", None),
    # ADAPTED: TagNameOnly adds "latest".
    ("test:5000/repo", "test:5000", "repo", "latest", None),
    ("test:5000/repo:tag", "test:5000", "repo", "tag", None),
    ("test:5000/repo@" + SHA256_F, "test:5000", "repo", None, SHA256_F),
    ("test:5000/repo:tag@" + SHA256_F, "test:5000", "repo", "tag", SHA256_F),
    # ADAPTED: upstream has this under a FIXME (expected to fail some day);
    # splitDockerDomain takes an uppercase first element as a domain.
    ("Uppercase/lowercase:tag", "Uppercase", "lowercase", "tag", None),
    # ADAPTED: Docker Hub official image; tags may be uppercase.
    ("lowercase:Uppercase", "docker.io", "library/lowercase", "Uppercase", None),
    # ADAPTED: upstream Parse has domain "a"; normalised, "a" is a Docker Hub
    # namespace.  The path is exactly 255 characters, the maximum.
    (
        "a/" * 127 + "a:tag-puts-this-over-max",
        "docker.io",
        "a/" * 127 + "a",
        "tag-puts-this-over-max",
        None,
    ),
    (
        "sub-dom1.foo.com/bar/baz/quux",
        "sub-dom1.foo.com",
        "bar/baz/quux",
        "latest",
        None,
    ),
    (
        "sub-dom1.foo.com/bar/baz/quux:some-long-tag",
        "sub-dom1.foo.com",
        "bar/baz/quux",
        "some-long-tag",
        None,
    ),
    (
        "b.gcr.io/test.example.com/my-app:test.example.com",
        "b.gcr.io",
        "test.example.com/my-app",
        "test.example.com",
        None,
    ),
    ("xn--n3h.com/myimage:xn--n3h.com", "xn--n3h.com", "myimage", "xn--n3h.com", None),
    (
        "xn--7o8h.com/myimage:xn--7o8h.com@" + SHA256_F,
        "xn--7o8h.com",
        "myimage",
        "xn--7o8h.com",
        SHA256_F,
    ),
    # ADAPTED: single element.
    ("foo_bar.com:8080", "docker.io", "library/foo_bar.com", "8080", None),
    # ADAPTED: upstream Parse has domain "foo"; normalised it is a namespace.
    ("foo/foo_bar.com:8080", "docker.io", "foo/foo_bar.com", "8080", None),
    # ADAPTED: single element IPv4 is an official-image name, ":5000" a tag.
    ("192.168.1.1", "docker.io", "library/192.168.1.1", "latest", None),
    ("192.168.1.1:tag", "docker.io", "library/192.168.1.1", "tag", None),
    ("192.168.1.1:5000", "docker.io", "library/192.168.1.1", "5000", None),
    ("192.168.1.1/repo", "192.168.1.1", "repo", "latest", None),
    ("192.168.1.1:5000/repo", "192.168.1.1:5000", "repo", "latest", None),
    ("192.168.1.1:5000/repo:5050", "192.168.1.1:5000", "repo", "5050", None),
    ("[2001:db8::1]/repo", "[2001:db8::1]", "repo", "latest", None),
    ("[2001:db8:1:2:3:4:5:6]/repo:tag", "[2001:db8:1:2:3:4:5:6]", "repo", "tag", None),
    ("[2001:db8::1]:5000/repo", "[2001:db8::1]:5000", "repo", "latest", None),
    ("[2001:db8::1]:5000/repo:tag", "[2001:db8::1]:5000", "repo", "tag", None),
    (
        "[2001:db8::1]:5000/repo@" + SHA256_F,
        "[2001:db8::1]:5000",
        "repo",
        None,
        SHA256_F,
    ),
    (
        "[2001:db8::1]:5000/repo:tag@" + SHA256_F,
        "[2001:db8::1]:5000",
        "repo",
        "tag",
        SHA256_F,
    ),
    ("[2001:db8::]:5000/repo", "[2001:db8::]:5000", "repo", "latest", None),
    ("[::1]:5000/repo", "[::1]:5000", "repo", "latest", None),
    # The 255 limit is on the path only, not the domain (reference.go, v0.6.0+).
    ("example.com/" + "a" * 255 + ":tag", "example.com", "a" * 255, "tag", None),
    # ADAPTED: upstream expects ErrDigestUnsupported only because its test
    # binary does not link crypto/sha512; the kubelet does, so sha512 is valid.
    ("validname@" + SHA512_F, "docker.io", "library/validname", None, SHA512_F),
    # --- normalize_test.go TestValidateReferenceName (valid names) ---
    ("docker/docker", "docker.io", "docker/docker", "latest", None),
    ("library/debian", "docker.io", "library/debian", "latest", None),
    ("debian", "docker.io", "library/debian", "latest", None),
    ("localhost/library/debian", "localhost", "library/debian", "latest", None),
    ("localhost/debian", "localhost", "debian", "latest", None),
    ("LOCALDOMAIN/library/debian", "LOCALDOMAIN", "library/debian", "latest", None),
    ("LOCALDOMAIN/debian", "LOCALDOMAIN", "debian", "latest", None),
    ("docker.io/docker/docker", "docker.io", "docker/docker", "latest", None),
    ("docker.io/library/debian", "docker.io", "library/debian", "latest", None),
    ("docker.io/debian", "docker.io", "library/debian", "latest", None),
    ("index.docker.io/docker/docker", "docker.io", "docker/docker", "latest", None),
    ("index.docker.io/library/debian", "docker.io", "library/debian", "latest", None),
    ("index.docker.io/debian", "docker.io", "library/debian", "latest", None),
    ("127.0.0.1:5000/docker/docker", "127.0.0.1:5000", "docker/docker", "latest", None),
    (
        "127.0.0.1:5000/library/debian",
        "127.0.0.1:5000",
        "library/debian",
        "latest",
        None,
    ),
    ("127.0.0.1:5000/debian", "127.0.0.1:5000", "debian", "latest", None),
    ("192.168.0.1", "docker.io", "library/192.168.0.1", "latest", None),
    # Surprising but upstream: with no "/", ":80" is a tag, not a port.
    ("192.168.0.1:80", "docker.io", "library/192.168.0.1", "80", None),
    ("192.168.0.1:8/debian", "192.168.0.1:8", "debian", "latest", None),
    ("192.168.0.2:25000/debian", "192.168.0.2:25000", "debian", "latest", None),
    (
        "thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev",
        "docker.io",
        "library/thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev",
        "latest",
        None,
    ),
    ("[fc00::1]:5000/docker", "[fc00::1]:5000", "docker", "latest", None),
    ("[fc00::1]:5000/docker/docker", "[fc00::1]:5000", "docker/docker", "latest", None),
    (
        "[fc00:1:2:3:4:5:6:7]:5000/library/debian",
        "[fc00:1:2:3:4:5:6:7]:5000",
        "library/debian",
        "latest",
        None,
    ),
    # A 64-hex name is fine once a domain disambiguates it.
    ("docker.io/" + HEX64, "docker.io", "library/" + HEX64, "latest", None),
    ("Docker/docker", "Docker", "docker", "latest", None),
    ("DOCKER/docker", "DOCKER", "docker", "latest", None),
    # --- normalize_test.go TestValidateRemoteName (valid names) ---
    ("docker-rules/docker", "docker.io", "docker-rules/docker", "latest", None),
    ("docker---rules/docker", "docker.io", "docker---rules/docker", "latest", None),
    ("doc/docker", "docker.io", "doc/docker", "latest", None),
    ("d/docker", "docker.io", "d/docker", "latest", None),
    ("jess/t", "docker.io", "jess/t", "latest", None),
    ("dock__er/docker", "docker.io", "dock__er/docker", "latest", None),
    # --- normalize_test.go TestParseRepositoryInfo (every spelling of each row) ---
    ("localhost/fooo", "localhost", "fooo", "latest", None),
    ("localhost/fooo/bar", "localhost", "fooo/bar", "latest", None),
    ("LOCALDOMAIN/fooo", "LOCALDOMAIN", "fooo", "latest", None),
    ("LOCALDOMAIN/fooo/bar", "LOCALDOMAIN", "fooo/bar", "latest", None),
    ("fooo/bar", "docker.io", "fooo/bar", "latest", None),
    ("docker.io/fooo/bar", "docker.io", "fooo/bar", "latest", None),
    ("index.docker.io/fooo/bar", "docker.io", "fooo/bar", "latest", None),
    ("ubuntu", "docker.io", "library/ubuntu", "latest", None),
    ("docker.io/library/ubuntu", "docker.io", "library/ubuntu", "latest", None),
    ("library/ubuntu", "docker.io", "library/ubuntu", "latest", None),
    ("nonlibrary/ubuntu", "docker.io", "nonlibrary/ubuntu", "latest", None),
    ("other/library", "docker.io", "other/library", "latest", None),
    (
        "127.0.0.1:8000/private/moonbase",
        "127.0.0.1:8000",
        "private/moonbase",
        "latest",
        None,
    ),
    ("127.0.0.1:8000/privatebase", "127.0.0.1:8000", "privatebase", "latest", None),
    ("example.com/private/moonbase", "example.com", "private/moonbase", "latest", None),
    ("example.com/privatebase", "example.com", "privatebase", "latest", None),
    (
        "example.com:8000/private/moonbase",
        "example.com:8000",
        "private/moonbase",
        "latest",
        None,
    ),
    (
        "example.com:8000/privatebasee",
        "example.com:8000",
        "privatebasee",
        "latest",
        None,
    ),
    ("ubuntu-12.04-base", "docker.io", "library/ubuntu-12.04-base", "latest", None),
    (
        "index.docker.io/library/ubuntu-12.04-base",
        "docker.io",
        "library/ubuntu-12.04-base",
        "latest",
        None,
    ),
    ("foo", "docker.io", "library/foo", "latest", None),
    ("docker.io/foo", "docker.io", "library/foo", "latest", None),
    ("library/foo/bar", "docker.io", "library/foo/bar", "latest", None),
    ("store/foo/bar", "docker.io", "store/foo/bar", "latest", None),
    ("Foo/bar", "Foo", "bar", "latest", None),
    ("FOO/bar", "FOO", "bar", "latest", None),
    # --- normalize_test.go TestParseReferenceWithTagAndDigest ---
    (
        "busybox:latest@" + BUSYBOX_DIGEST,
        "docker.io",
        "library/busybox",
        "latest",
        BUSYBOX_DIGEST,
    ),
    # --- normalize_test.go TestParseAnyReference (named rows) ---
    ("redis:latest", "docker.io", "library/redis", "latest", None),
    ("redis@" + REDIS_DIGEST, "docker.io", "library/redis", None, REDIS_DIGEST),
    (
        "docker.io/library/redis@" + REDIS_DIGEST,
        "docker.io",
        "library/redis",
        None,
        REDIS_DIGEST,
    ),
    ("dmcgowan/myapp", "docker.io", "dmcgowan/myapp", "latest", None),
    (
        "dmcgowan/myapp@" + REDIS_DIGEST,
        "docker.io",
        "dmcgowan/myapp",
        None,
        REDIS_DIGEST,
    ),
    # 63 hex characters is not an identifier, so it is a plain name.
    (HEX64[:-1], "docker.io", "library/" + HEX64[:-1], "latest", None),
    ("dbcc1", "docker.io", "library/dbcc1", "latest", None),
    # --- normalize_test.go TestNormalizedSplitHostname ---
    ("test.com/foo", "test.com", "foo", "latest", None),
    ("test_com/foo", "docker.io", "test_com/foo", "latest", None),
    ("docker/migrator", "docker.io", "docker/migrator", "latest", None),
    ("test.com:8080/foo", "test.com:8080", "foo", "latest", None),
    ("test-com:8080/foo", "test-com:8080", "foo", "latest", None),
    ("xn--n3h.com:18080/foo", "xn--n3h.com:18080", "foo", "latest", None),
    ("docker.io/library/foo/bar", "docker.io", "library/foo/bar", "latest", None),
    # --- normalize_test.go TestParseDockerRef ---
    (
        "busybox@" + BUSYBOX_DIGEST2,
        "docker.io",
        "library/busybox",
        None,
        BUSYBOX_DIGEST2,
    ),
    ("docker.io/busybox:latest", "docker.io", "library/busybox", "latest", None),
    ("gcr.io/library/busybox", "gcr.io", "library/busybox", "latest", None),
    # ADAPTED: ParseDockerRef drops the tag when a digest is present;
    # ParseNormalizedNamed + TagNameOnly (the kubelet) keeps both.
    (
        "gcr.io/library/busybox:latest@" + BUSYBOX_DIGEST2,
        "gcr.io",
        "library/busybox",
        "latest",
        BUSYBOX_DIGEST2,
    ),
    # --- further edge cases (behaviour checked against upstream Go) ---
    # A bare "localhost[:port]" without "/" is an official image (normalize.go FIXME).
    ("localhost", "docker.io", "library/localhost", "latest", None),
    ("localhost:5000", "docker.io", "library/localhost", "5000", None),
    ("localhost:5000/app", "localhost:5000", "app", "latest", None),
    # Only the exact lowercase legacy domain is canonicalised; others keep their case.
    ("INDEX.DOCKER.IO/foo", "INDEX.DOCKER.IO", "foo", "latest", None),
    ("quay.io/acme/web:v1.2.3", "quay.io", "acme/web", "v1.2.3", None),
    ("registry.k8s.io/pause:3.9", "registry.k8s.io", "pause", "3.9", None),
    ("a.b/c__d/e---f/g.h_i", "a.b", "c__d/e---f/g.h_i", "latest", None),
    # Tags: first char is [A-Za-z0-9_], at most 128 characters.
    ("nginx:_x", "docker.io", "library/nginx", "_x", None),
    ("nginx:" + "t" * 128, "docker.io", "library/nginx", "t" * 128, None),
    # "library/" counts towards the 255 path limit: 8 + 247 = 255.
    ("a" * 247, "docker.io", "library/" + "a" * 247, "latest", None),
    # sha384 is in go-digest v1.0.0's table and linked into the kubelet.
    (
        "nginx@sha384:" + "e" * 96,
        "docker.io",
        "library/nginx",
        None,
        "sha384:" + "e" * 96,
    ),
    # A first element with "." is taken as a domain by splitDockerDomain, but
    # "foo_bar.com" is not a valid domain; Parse then matches the whole name as
    # a domain-less path, so the registry is empty (Go: Domain() == "").
    ("foo_bar.com/x", "", "foo_bar.com/x", "latest", None),
]

# (input, fragment expected in str(exc))
INVALID: list[tuple[str, str]] = [
    # --- reference_test.go TestReferenceParse (error rows) ---
    # ADAPTED: upstream Parse says ErrNameEmpty; ParseNormalizedNamed first
    # turns "" into "docker.io/library/", which is a format error.
    ("", "invalid reference format"),
    (":justtag", "invalid reference format"),
    ("@" + SHA256_F, "invalid reference format"),
    ("repo@sha256:" + F34, "invalid checksum digest length"),
    ("validname@invaliddigest:" + F64, "unsupported digest algorithm"),
    # ADAPTED: ParseNormalizedNamed's own lowercase check reports it.
    ("Uppercase:tag", "must be lowercase"),
    ("test:5000/Uppercase/lowercase:tag", "must be lowercase"),
    # ADAPTED: "domain" is not a domain, so the path is "domain/" + 256 chars.
    ("domain/" + "a" * 256 + ":tag", "must not be more than 255 characters"),
    ("aa/asdf$$^/aa", "invalid reference format"),
    ("[2001:db8::1]", "invalid reference format"),
    ("[2001:db8::1]:5000", "invalid reference format"),
    ("[2001:db8::1]:tag", "invalid reference format"),
    ("[fe80::1%eth0]:5000/repo", "invalid reference format"),
    ("[fe80::1%@invalidzone]:5000/repo", "invalid reference format"),
    # --- normalize_test.go TestValidateReferenceName (invalid names) ---
    ("https://github.com/docker/docker", "invalid reference format"),
    ("docker/Docker", "must be lowercase"),
    ("-docker", "invalid reference format"),
    ("-docker/docker", "invalid reference format"),
    ("-docker.io/docker/docker", "invalid reference format"),
    ("docker///docker", "invalid reference format"),
    ("docker.io/docker/Docker", "must be lowercase"),
    ("docker.io/docker///docker", "invalid reference format"),
    ("[fc00::1]", "invalid reference format"),
    ("[fc00::1]:5000", "invalid reference format"),
    ("fc00::1:5000/debian", "invalid reference format"),
    ("[fe80::1%eth0]:5000/debian", "invalid reference format"),
    ("[2001:db8:3:4::192.0.2.33]:5000/debian", "invalid reference format"),
    (HEX64, "cannot specify 64-byte hexadecimal strings"),
    # --- normalize_test.go TestValidateRemoteName (invalid names) ---
    ("docker-/docker", "invalid reference format"),
    ("-docker-/docker", "invalid reference format"),
    ("____/____", "invalid reference format"),
    ("_docker/_docker", "invalid reference format"),
    ("dock..er/docker", "invalid reference format"),
    ("dock_.er/docker", "invalid reference format"),
    ("dock-.er/docker", "invalid reference format"),
    ("docker/", "invalid reference format"),
    (LONG_NAMESPACE + "/docker", "must not be more than 255 characters"),
    # --- normalize_test.go TestInvalidReferenceComponents ---
    ("-foo", "invalid reference format"),
    # --- further edge cases (behaviour checked against upstream Go) ---
    ("nginx:", "invalid reference format"),
    ("nginx@", "invalid reference format"),
    ("nginx:-x", "invalid reference format"),
    ("nginx:.x", "invalid reference format"),
    ("nginx:" + "t" * 129, "invalid reference format"),
    ("nginx\n", "invalid reference format"),
    (" nginx", "invalid reference format"),
    ("/nginx", "invalid reference format"),
    ("ngïnx", "invalid reference format"),
    # Tags are ASCII-only: Go's \w is [0-9A-Za-z_], not Unicode word characters.
    ("nginx:tág", "invalid reference format"),
    ("nginx:\u0661", "invalid reference format"),
    ("Nginx", "repository name (library/Nginx) must be lowercase"),
    ("quay.io/Acme/web", "repository name (Acme/web) must be lowercase"),
    # Parse-level uppercase check: "Foo_Bar" is taken as a domain (uppercase) but
    # is not a valid one, and lowercased the whole string is a valid path.
    ("Foo_Bar/x", "invalid reference format: repository name must be lowercase"),
    ("foo_bar.com/X", "repository name (X) must be lowercase"),
    # 8 + 248 = 256 characters of path.
    ("a" * 248, "must not be more than 255 characters"),
    ("localhost:port/app", "invalid reference format"),
    ("a.b/c:tag:tag", "invalid reference format"),
    ("a.b/c@" + SHA256_F + ":x", "invalid reference format"),
    # digestPat wants at least 32 hex characters.
    ("nginx@sha256:" + "f" * 31, "invalid reference format"),
    # go-digest: lowercase hex only, and exact length per algorithm.
    ("nginx@sha256:" + "F" * 64, "invalid checksum digest format"),
    ("nginx@sha256:" + "f" * 63, "invalid checksum digest length"),
    ("nginx@sha256:" + "f" * 65, "invalid checksum digest length"),
    ("nginx@sha512:" + F64, "invalid checksum digest length"),
    # Unknown but well-formed algorithm vs. malformed one (go-digest Validate).
    ("nginx@md5:" + F32, "unsupported digest algorithm"),
    ("nginx@sha256+b64:" + F64, "unsupported digest algorithm"),
    ("a.b/nginx:v1@Sha256:" + F64, "invalid checksum digest format"),
    # Uppercase before the first ":" of the remainder trips the normalize.go check.
    ("nginx@SHA256:" + F64, "must be lowercase"),
]


@pytest.mark.parametrize(
    ("text", "registry", "repository", "tag", "digest"),
    [pytest.param(*row, id=row[0][:80]) for row in VALID],
)
def test_parse_valid(
    text: str, registry: str, repository: str, tag: str | None, digest: str | None
) -> None:
    ref = parse(text)
    assert ref.original == text
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == (
        registry,
        repository,
        tag,
        digest,
    )


@pytest.mark.parametrize(
    ("text", "fragment"),
    [pytest.param(*row, id=repr(row[0][:80])) for row in INVALID],
)
def test_parse_invalid(text: str, fragment: str) -> None:
    with pytest.raises(InvalidReference) as info:
        parse(text)
    message = str(info.value)
    assert fragment in message
    assert "\n" not in message
    assert info.value.reference == text


@pytest.mark.parametrize("row", VALID, ids=[row[0][:80] for row in VALID])
def test_str_round_trips(row: tuple[str, str, str, str | None, str | None]) -> None:
    ref = parse(row[0])
    again = parse(str(ref))
    assert again == ref
    assert str(again) == str(ref)


def test_invalid_reference_is_value_error() -> None:
    with pytest.raises(ValueError, match="invalid reference format"):
        parse("-foo")


def test_uppercase_messages_match_upstream() -> None:
    # normalize.go ParseNormalizedNamed message (names the offending remote).
    with pytest.raises(InvalidReference) as info:
        parse("docker/Docker")
    assert str(info.value) == (
        "invalid reference format: repository name (docker/Docker) must be lowercase"
    )
    # reference.go Parse ErrNameContainsUppercase, with the format prefix.
    with pytest.raises(InvalidReference) as info:
        parse("Foo_Bar/x")
    assert (
        str(info.value) == "invalid reference format: repository name must be lowercase"
    )


def test_identifier_message_names_input() -> None:
    with pytest.raises(InvalidReference) as info:
        parse(HEX64)
    assert str(info.value) == (
        f"invalid repository name ({HEX64}), cannot specify 64-byte hexadecimal strings"
    )


def test_identifier_with_tag_is_a_name() -> None:
    # Only the bare 64-hex string is refused; with a tag it is an ordinary name.
    ref = parse(HEX64 + ":v1")
    assert (ref.registry, ref.repository, ref.tag) == (
        "docker.io",
        "library/" + HEX64,
        "v1",
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("nginx", "docker.io/library/nginx:latest"),
        ("index.docker.io/acme/web:1", "docker.io/acme/web:1"),
        ("quay.io/acme/web@" + SHA256_F, "quay.io/acme/web@" + SHA256_F),
        (
            "busybox:latest@" + BUSYBOX_DIGEST,
            "docker.io/library/busybox:latest@" + BUSYBOX_DIGEST,
        ),
        ("[::1]:5000/repo", "[::1]:5000/repo:latest"),
        ("foo_bar.com/x", "foo_bar.com/x:latest"),
    ],
)
def test_str_is_canonical(text: str, expected: str) -> None:
    assert str(parse(text)) == expected


@pytest.mark.parametrize(
    ("text", "name", "host", "hub"),
    [
        ("nginx", "docker.io/library/nginx", "docker.io", True),
        ("index.docker.io/acme/web", "docker.io/acme/web", "docker.io", True),
        ("quay.io/acme/web:v1", "quay.io/acme/web", "quay.io", False),
        ("localhost:5000/app", "localhost:5000/app", "localhost", False),
        (
            "127.0.0.1:8000/private/moonbase",
            "127.0.0.1:8000/private/moonbase",
            "127.0.0.1",
            False,
        ),
        ("[::1]:5000/repo", "[::1]:5000/repo", "[::1]", False),
        ("[2001:db8::1]/repo", "[2001:db8::1]/repo", "[2001:db8::1]", False),
        ("DOCKER.IO/foo", "DOCKER.IO/foo", "DOCKER.IO", False),
        ("foo_bar.com/x", "foo_bar.com/x", "", False),
    ],
)
def test_name_host_and_docker_hub(text: str, name: str, host: str, hub: bool) -> None:
    ref = parse(text)
    assert ref.name == name
    assert ref.host == host
    assert ref.is_docker_hub is hub


def test_to_dict_has_exactly_the_four_keys() -> None:
    assert parse("quay.io/acme/web@" + SHA256_F).to_dict() == {
        "registry": "quay.io",
        "repository": "acme/web",
        "tag": None,
        "digest": SHA256_F,
    }
    assert parse("nginx").to_dict() == {
        "registry": "docker.io",
        "repository": "library/nginx",
        "tag": "latest",
        "digest": None,
    }


def test_reference_is_frozen() -> None:
    ref = parse("nginx")
    with pytest.raises(dataclasses.FrozenInstanceError):
        ref.tag = "other"  # type: ignore[misc]


def test_equality_ignores_original_spelling() -> None:
    a = parse("nginx")
    b = parse("index.docker.io/library/nginx:latest")
    assert a.original != b.original
    assert a == b
    assert hash(a) == hash(b)
    assert parse("nginx") != parse("nginx:1")
    assert isinstance(a, Reference)


def test_constructed_reference() -> None:
    ref = Reference(
        original="x",
        registry="r.example:443",
        repository="a/b",
        tag=None,
        digest=SHA256_F,
    )
    assert str(ref) == "r.example:443/a/b@" + SHA256_F
    assert ref.host == "r.example"
    assert not ref.is_docker_hub


def test_case_count() -> None:
    # Guards against a table being emptied by accident.
    assert len(VALID) + len(INVALID) >= 80
