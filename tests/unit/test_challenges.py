"""Tests for kubectl_pullsecret.challenges (WWW-Authenticate parsing, RFC 7235 / RFC 9110 §11).

Header values are those real registries send (Docker Hub, Quay, GHCR, registry.redhat.io,
the OpenShift internal registry, distribution's htpasswd and token auth) plus the grammar
corners and garbage a tolerant client has to survive.  Every case asserts the exact result.
"""

from __future__ import annotations

import itertools
import random

import pytest

from kubectl_pullsecret.challenges import MAX_CHALLENGES, MAX_PARAMS, Challenge, parse_challenges, preferred

DOCKER_HUB = 'Bearer realm="https://auth.docker.io/token",service="registry.docker.io"'
DOCKER_HUB_INSUFFICIENT = ('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
                           'scope="repository:samalba/my-app:pull,push",error="insufficient_scope"')
QUAY = 'Bearer realm="https://quay.io/v2/auth",service="quay.io"'
GHCR = 'Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:octo/app:pull"'
REDHAT = 'Bearer realm="https://registry.redhat.io/auth/realms/rhcc/protocol/redhat-docker-v2/auth",service="docker-registry"'
OPENSHIFT_BASIC = "Basic realm=openshift"
OPENSHIFT_TOKEN_URL = "https://image-registry.openshift-image-registry.svc:5000/openshift/token"
OPENSHIFT_BEARER = f'Bearer realm="{OPENSHIFT_TOKEN_URL}"'
HTPASSWD = 'Basic realm="basic-realm"'

HUB_PARAMS = {"realm": "https://auth.docker.io/token", "service": "registry.docker.io"}


def bearer(**params: str) -> Challenge:
    return Challenge("bearer", params)


def basic(**params: str) -> Challenge:
    return Challenge("basic", params)


CASES = [
    # --- real registries -----------------------------------------------------------------------
    pytest.param([DOCKER_HUB], [bearer(**HUB_PARAMS)], id="docker-hub"),
    pytest.param([DOCKER_HUB_INSUFFICIENT],
                 [bearer(**HUB_PARAMS, scope="repository:samalba/my-app:pull,push", error="insufficient_scope")],
                 id="docker-hub-insufficient-scope-comma-in-quoted-scope"),
    pytest.param(['Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
                  'scope="repository:library/nginx:pull repository:library/redis:pull"'],
                 [bearer(**HUB_PARAMS, scope="repository:library/nginx:pull repository:library/redis:pull")],
                 id="docker-hub-space-separated-scopes"),
    pytest.param([QUAY], [bearer(realm="https://quay.io/v2/auth", service="quay.io")], id="quay"),
    pytest.param([GHCR], [bearer(realm="https://ghcr.io/token", service="ghcr.io", scope="repository:octo/app:pull")],
                 id="ghcr"),
    pytest.param([REDHAT], [bearer(realm="https://registry.redhat.io/auth/realms/rhcc/protocol/redhat-docker-v2/auth",
                                   service="docker-registry")], id="registry-redhat-io"),
    pytest.param([OPENSHIFT_BASIC], [basic(realm="openshift")], id="openshift-basic-unquoted"),
    pytest.param([OPENSHIFT_BEARER], [bearer(realm=OPENSHIFT_TOKEN_URL)], id="openshift-bearer"),
    pytest.param([f"Bearer realm={OPENSHIFT_TOKEN_URL}"], [bearer(realm=OPENSHIFT_TOKEN_URL)],
                 id="openshift-bearer-unquoted-url"),
    pytest.param(['Basic realm=openshift,error="access denied"'], [basic(realm="openshift", error="access denied")],
                 id="openshift-access-denied"),
    pytest.param([HTPASSWD], [basic(realm="basic-realm")], id="distribution-htpasswd"),
    pytest.param(['Basic realm="https://123456789012.dkr.ecr.us-east-1.amazonaws.com/",service="ecr.amazonaws.com"'],
                 [basic(realm="https://123456789012.dkr.ecr.us-east-1.amazonaws.com/", service="ecr.amazonaws.com")],
                 id="ecr-style"),
    pytest.param(['Bearer realm="https://harbor.example.com/service/token",service="harbor-registry"'],
                 [bearer(realm="https://harbor.example.com/service/token", service="harbor-registry")], id="harbor-style"),
    # --- several challenges / lines ----------------------------------------------------------------
    pytest.param([HTPASSWD, DOCKER_HUB], [basic(realm="basic-realm"), bearer(**HUB_PARAMS)], id="two-lines"),
    pytest.param([f"{HTPASSWD}, {DOCKER_HUB}"], [basic(realm="basic-realm"), bearer(**HUB_PARAMS)],
                 id="basic-then-bearer-one-line"),
    pytest.param([f"{DOCKER_HUB}, {HTPASSWD}"], [bearer(**HUB_PARAMS), basic(realm="basic-realm")],
                 id="bearer-then-basic-one-line"),
    pytest.param([f"{OPENSHIFT_BASIC}, {OPENSHIFT_BEARER}"], [basic(realm="openshift"), bearer(realm=OPENSHIFT_TOKEN_URL)],
                 id="openshift-unquoted-basic-then-bearer"),
    pytest.param(['Basic realm="x",Bearer realm="y"'], [basic(realm="x"), bearer(realm="y")], id="no-space-after-comma"),
    pytest.param(['Negotiate, Basic realm="x"'], [Challenge("negotiate", {}), basic(realm="x")], id="lone-scheme-first"),
    pytest.param(['Basic realm="x", Negotiate'], [basic(realm="x"), Challenge("negotiate", {})], id="lone-scheme-last"),
    pytest.param(["Negotiate, NTLM"], [Challenge("negotiate", {}), Challenge("ntlm", {})], id="two-lone-schemes"),
    pytest.param(["Basic", 'realm="x"'], [basic(realm="x")], id="params-on-next-line-join-previous-challenge"),
    # --- case, whitespace, escapes -----------------------------------------------------------------
    pytest.param(['BEARER Realm="https://r",SERVICE="Svc"'], [bearer(realm="https://r", service="Svc")], id="upper-case"),
    pytest.param(["bAsIc REALM=OpenShift"], [basic(realm="OpenShift")], id="mixed-case-values-keep-case"),
    pytest.param(['Bearer   realm = "x" ,  service= "y" , scope ="z"'], [bearer(realm="x", service="y", scope="z")],
                 id="bws-around-equals-and-commas"),
    pytest.param(['\tBearer\trealm\t=\t"x"\t,\tservice=y\t'], [bearer(realm="x", service="y")], id="tabs"),
    pytest.param([' , ,, Bearer realm="x",, ,service="y" ,, '], [bearer(realm="x", service="y")], id="empty-list-elements"),
    pytest.param([r'Basic realm="say \"hi\""'], [basic(realm='say "hi"')], id="escaped-quote"),
    pytest.param([r'Basic realm="back\\slash"'], [basic(realm="back\\slash")], id="escaped-backslash"),
    pytest.param([r'Basic realm="\a\b\,c"'], [basic(realm="ab,c")], id="escaped-ordinary-chars"),
    pytest.param([r'Basic realm="a\"b,c\\", Bearer realm=y'], [basic(realm='a"b,c\\'), bearer(realm="y")],
                 id="escapes-then-next-challenge"),
    pytest.param(['Bearer realm="", service=""'], [bearer(realm="", service="")], id="empty-quoted-values"),
    pytest.param(["Bearer realm=a=b==, service=s"], [bearer(realm="a=b==", service="s")], id="unquoted-value-with-equals"),
    pytest.param(['Bearer realm="x", realm="y", REALM="z"'], [bearer(realm="x")], id="duplicate-params-keep-first"),
    pytest.param(['Bearer realm="ünïcödé"'], [bearer(realm="ünïcödé")], id="non-ascii-quoted-value"),
    # --- token68 -------------------------------------------------------------------------------
    pytest.param(["Negotiate YWJj=="], [Challenge("negotiate", {}, "YWJj==")], id="token68"),
    pytest.param(["NTLM TlRMTVNTUAABAAAAB4IIAAAAAAAAAAAAAAAAAAAAAAA="],
                 [Challenge("ntlm", {}, "TlRMTVNTUAABAAAAB4IIAAAAAAAAAAAAAAAAAAAAAAA=")], id="token68-ntlm"),
    pytest.param(["Negotiate a/b+c-d._~ "], [Challenge("negotiate", {}, "a/b+c-d._~")], id="token68-all-chars"),
    pytest.param(['Negotiate YWJj==, Basic realm="x"'], [Challenge("negotiate", {}, "YWJj=="), basic(realm="x")],
                 id="token68-then-challenge"),
    pytest.param(["Negotiate YWJj==, realm=x"], [Challenge("negotiate", {}, "YWJj==")], id="param-after-token68-dropped"),
    pytest.param(["Basic realm="], [Challenge("basic", {}, "realm=")], id="name-equals-alone-is-token68"),
    pytest.param(["Bearer realm=,service=x"], [bearer(realm="", service="x")], id="name-equals-then-params-is-empty-value"),
    # --- garbage ---------------------------------------------------------------------------------
    pytest.param([""], [], id="empty-string"),
    pytest.param([], [], id="no-lines"),
    pytest.param([",,, ,\t,"], [], id="only-commas"),
    pytest.param(["="], [], id="stray-equals"),
    pytest.param(['=x, "quoted", =, Basic realm=y'], [basic(realm="y")], id="garbage-elements-skipped"),
    pytest.param(['"'], [], id="lone-quote"),
    pytest.param(['Bearer realm="unterminated, service="x"'], [bearer(realm='unterminated, service=')],
                 id="unterminated-quote-takes-rest-of-line"),
    pytest.param(['Bearer realm="x\\'], [bearer(realm="x")], id="unterminated-quote-with-trailing-backslash"),
    pytest.param(['Bearer realm="a', "Basic realm=b"], [bearer(realm="a"), basic(realm="b")],
                 id="unterminated-quote-stops-at-end-of-line"),
    pytest.param(['realm="orphan", Basic realm=y'], [basic(realm="y")], id="param-without-challenge-dropped"),
    pytest.param(['Bearer realm="x" junk "a,b", service=y'], [bearer(realm="x", service="y")],
                 id="trailing-junk-skipped-quotes-respected"),
    pytest.param(["Basic realm=x foo bar, Bearer realm=y"], [basic(realm="x"), bearer(realm="y")],
                 id="trailing-bare-words-skipped"),
    pytest.param(['Bearer "realm"="x", Basic realm=y'], [Challenge("bearer", {}), basic(realm="y")],
                 id="quoted-param-name"),
    pytest.param(["Bäsic realm=x, Basic realm=y"], [basic(realm="y")], id="non-ascii-scheme"),
    pytest.param(["€€€, ✓=✓"], [], id="non-ascii-only"),
    pytest.param(["Basic/x realm=y, Bearer realm=z"], [bearer(realm="z")], id="scheme-with-separator-char"),
    pytest.param(["Basic\x00 realm=x, Bearer\x7f, Basic realm=y"], [basic(realm="y")], id="control-chars"),
    pytest.param(["Bearer foo bar baz, Basic realm=y"], [Challenge("bearer", {}), basic(realm="y")],
                 id="scheme-followed-by-words"),
    pytest.param(["Bearer , = , realm=x"], [bearer(realm="x")], id="stray-equals-between-params"),
]


@pytest.mark.parametrize(("lines", "expected"), CASES)
def test_parse_challenges(lines: list[str], expected: list[Challenge]) -> None:
    assert parse_challenges(lines) == expected


def test_a_single_string_is_one_line() -> None:
    assert parse_challenges(DOCKER_HUB) == [bearer(**HUB_PARAMS)]


def test_non_string_lines_are_ignored() -> None:
    assert parse_challenges([None, b"Basic realm=x", HTPASSWD]) == [basic(realm="basic-realm")]  # type: ignore[list-item]


def test_accepts_any_iterable() -> None:
    assert parse_challenges(iter([HTPASSWD, QUAY])) == [basic(realm="basic-realm"),
                                                        bearer(realm="https://quay.io/v2/auth", service="quay.io")]


# --- several field lines mean the same as the lines joined with ", " (RFC 9110 §5.3) ------------------

JOINABLE_LINES = [
    DOCKER_HUB, DOCKER_HUB_INSUFFICIENT, QUAY, GHCR, REDHAT, OPENSHIFT_BASIC, OPENSHIFT_BEARER, HTPASSWD,
    f"Bearer realm={OPENSHIFT_TOKEN_URL}", 'Basic realm=openshift,error="access denied"', "Negotiate", "Negotiate YWJj==",
    "Basic realm=", 'realm="x"', "service=y", "", " , ", "=", "Bearer foo bar", 'Basic realm="x" junk', r'Basic realm="a\"b"',
    "Negotiate abc=", "Bäsic realm=x", "Bearer realm=x ",
]


@pytest.mark.parametrize(("first", "second"), list(itertools.product(JOINABLE_LINES, repeat=2)))
def test_lines_equal_joined_line(first: str, second: str) -> None:
    # requests/urllib3 join repeated header fields with ", ".
    assert parse_challenges([first, second]) == parse_challenges([f"{first}, {second}"])


def test_unterminated_quote_is_the_one_exception_to_joining() -> None:
    # Separately the quote ends with its line; joined it swallows the next line.
    assert parse_challenges(['Basic realm="a', "Bearer realm=b"]) == [basic(realm="a"), bearer(realm="b")]
    assert parse_challenges(['Basic realm="a, Bearer realm=b']) == [basic(realm="a, Bearer realm=b")]


def test_random_quote_free_lines_join_equal_and_never_raise() -> None:
    rng = random.Random(7235)
    alphabet = ["Basic", "Bearer", "realm", "x", "=", "==", ",", " ", "\t", "\\", "/", ":", "é", "\x00", "Negotiate", "a1"]
    for _ in range(2000):
        lines = ["".join(rng.choice(alphabet) for _ in range(rng.randrange(12))) for _ in range(rng.randrange(1, 4))]
        separate = parse_challenges(lines)
        assert separate == parse_challenges([", ".join(lines)]), lines
        assert all(c.scheme == c.scheme.lower() and all(k == k.lower() for k in c.params) for c in separate)
        assert all(not (c.params and c.token68) for c in separate)


def test_random_garbage_never_raises() -> None:
    rng = random.Random(9110)
    alphabet = ['"', "\\", ",", "=", " ", "\t", "Bearer", "realm", "x", "é", "\n", "\x00", "/", "'"]
    for _ in range(3000):
        line = "".join(rng.choice(alphabet) for _ in range(rng.randrange(20)))
        result = parse_challenges([line])
        assert isinstance(result, list)
        assert all(isinstance(c, Challenge) for c in result)


# --- limits and hostile input ------------------------------------------------------------------

HALF_MB = 500_000


@pytest.mark.parametrize(("line", "expected"), [
    pytest.param("Bearer " + "x=y," * (HALF_MB // 4), [bearer(x="y")], id="duplicate-params"),
    pytest.param("Bearer " + 'a="\\x",' * (HALF_MB // 7), [bearer(a="x")], id="duplicate-escaped-params"),
    pytest.param('Bearer realm="' + '\\"' * (HALF_MB // 2), [bearer(realm='"' * (HALF_MB // 2))], id="escape-run"),
    pytest.param("Basic realm=" + "a" * HALF_MB, [basic(realm="a" * HALF_MB)], id="long-bare-value"),
    pytest.param("Negotiate " + "A" * HALF_MB + "==", [Challenge("negotiate", {}, "A" * HALF_MB + "==")], id="long-token68"),
    pytest.param("Negotiate " + "A" * HALF_MB + " x", [Challenge("negotiate", {})], id="long-not-quite-token68"),
    pytest.param('"' * HALF_MB, [], id="quotes"),
    pytest.param("\\" * HALF_MB, [], id="backslashes"),
    pytest.param("=" * HALF_MB, [], id="equals"),
    pytest.param("," * HALF_MB, [], id="commas"),
    pytest.param(" " * HALF_MB, [], id="spaces"),
    pytest.param("é" * HALF_MB, [], id="non-ascii"),
    pytest.param('=",' * (HALF_MB // 3 + 1), [], id="equals-quote-comma"),
    pytest.param("a " * (HALF_MB // 2), [Challenge("a", {})], id="words"),
])
def test_hostile_half_megabyte_line(line: str, expected: list[Challenge]) -> None:
    # Linear-time parsing keeps each of these far below a second; assert the result, not the timing.
    assert len(line) >= HALF_MB
    assert parse_challenges([line]) == expected


def test_challenge_count_is_capped() -> None:
    line = "B a=b, " * (HALF_MB // 7 + 1)
    assert parse_challenges([line]) == [Challenge("b", {"a": "b"})] * MAX_CHALLENGES
    assert parse_challenges(["a, " * (HALF_MB // 3)]) == [Challenge("a", {})] * MAX_CHALLENGES


def test_challenge_cap_spans_lines() -> None:
    assert parse_challenges([HTPASSWD] * 1000) == [basic(realm="basic-realm")] * MAX_CHALLENGES


def test_params_of_the_last_kept_challenge_still_attach() -> None:
    line = "x, " * (MAX_CHALLENGES - 1) + "Bearer realm=r, service=s, Basic realm=dropped"
    result = parse_challenges([line])
    assert len(result) == MAX_CHALLENGES
    assert result[-1] == bearer(realm="r", service="s")


def test_param_count_is_capped() -> None:
    names = [f"p{i}" for i in range(HALF_MB // 8)]
    line = "Bearer " + ",".join(f"{n}=v" for n in names) + ", Basic realm=after"
    assert parse_challenges([line]) == [bearer(**dict.fromkeys(names[:MAX_PARAMS], "v")), basic(realm="after")]


# --- preferred ------------------------------------------------------------------------------------

NEGOTIATE = Challenge("negotiate", {}, "YWJj")


@pytest.mark.parametrize(("challenges", "expected"), [
    pytest.param([], None, id="none"),
    pytest.param([NEGOTIATE], None, id="neither"),
    pytest.param([basic(realm="x")], basic(realm="x"), id="basic-only"),
    pytest.param([bearer(realm="y")], bearer(realm="y"), id="bearer-only"),
    pytest.param([basic(realm="x"), bearer(realm="y")], bearer(realm="y"), id="bearer-beats-earlier-basic"),
    pytest.param([bearer(realm="y"), basic(realm="x")], bearer(realm="y"), id="bearer-beats-later-basic"),
    pytest.param([NEGOTIATE, basic(realm="x")], basic(realm="x"), id="basic-beats-unknown"),
    pytest.param([bearer(realm="1"), bearer(realm="2")], bearer(realm="1"), id="first-bearer-wins"),
    pytest.param([Challenge("Bearer", {"realm": "hand-made"})], Challenge("Bearer", {"realm": "hand-made"}),
                 id="hand-built-mixed-case-scheme"),
])
def test_preferred(challenges: list[Challenge], expected: Challenge | None) -> None:
    assert preferred(challenges) == expected


def test_preferred_on_parsed_headers() -> None:
    assert preferred(parse_challenges([f"{HTPASSWD}, {DOCKER_HUB}"])) == bearer(**HUB_PARAMS)
    assert preferred(parse_challenges([OPENSHIFT_BASIC])) == basic(realm="openshift")
    assert preferred(parse_challenges(["Negotiate YWJj=="])) is None


def test_challenge_is_frozen_and_hashable() -> None:
    c = bearer(realm="x")
    with pytest.raises(AttributeError):
        c.scheme = "basic"  # type: ignore[misc]
    assert {c, bearer(realm="x")} == {c}
