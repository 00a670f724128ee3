"""Parsing credential files: kubectl_pullsecret.dockerconfig (and redact) against upstream.

Ported from kubernetes/kubernetes pkg/credentialprovider/config_test.go
(TestDockerConfigJsonJSONDecode, TestDockerConfigJSONDecode,
TestDockerConfigEntryJSONDecode, TestDecodeDockerConfigFieldAuth,
TestReadDockerConfigFileFromBytes, TestReadDockerConfigJSONFileFromBytes). Rows marked
"ADDED" come from the decoding code itself: config.go (DockerConfigJSON{Auths,
HTTPHeaders}, DockerConfigEntry.UnmarshalJSON, decodeDockerConfigFieldAuth) and Go's
encoding/json, which it relies on.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest

from kubectl_pullsecret import dockerconfig, redact
from kubectl_pullsecret.dockerconfig import decode_auth_field, detect_format, fingerprint, parse

Row = tuple[str, str, str, str]  # key, username, password, email


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def rows(config: dockerconfig.DockerConfig) -> list[Row]:
    return [(e.key, e.username, e.password, e.email) for e in config.entries]


def wrap(fmt: str, entries: dict[str, Any]) -> str:
    return json.dumps({"auths": entries} if fmt == "dockerconfigjson" else entries)


BOTH_FORMATS = pytest.mark.parametrize("fmt", ["dockerconfigjson", "dockercfg"])


# --- whole documents --------------------------------------------------------------

FOO_BAR = ("http://foo.example.com", "foo", "bar", "foo@example.com")
BAR_BAZ = ("http://bar.example.com", "bar", "baz", "bar@example.com")

# kubernetes/kubernetes pkg/credentialprovider/config_test.go: TestDockerConfigJsonJSONDecode,
# TestDockerConfigJSONDecode, TestReadDockerConfigFileFromBytes,
# TestReadDockerConfigJSONFileFromBytes. Columns: format, document, entries (None: error).
DOCUMENTS = [
    pytest.param("dockerconfigjson",
                 '{"auths": {"http://foo.example.com":{"username": "foo", "password": "bar", "email": '
                 '"foo@example.com"}, "http://bar.example.com":{"username": "bar", "password": "baz", '
                 '"email": "bar@example.com"}}}', [FOO_BAR, BAR_BAZ], id="TestDockerConfigJsonJSONDecode"),
    pytest.param("dockercfg",
                 '{"http://foo.example.com":{"username": "foo", "password": "bar", "email": "foo@example.com"}, '
                 '"http://bar.example.com":{"username": "bar", "password": "baz", "email": "bar@example.com"}}',
                 [FOO_BAR, BAR_BAZ], id="TestDockerConfigJSONDecode"),
    pytest.param("dockercfg",
                 '{"http://foo.example.com":{"username": "foo", "password": "bar", "email": "foo@example.com"}}',
                 [FOO_BAR], id="TestReadDockerConfigFileFromBytes valid"),
    pytest.param("dockercfg",
                 '{"http://foo.example.com":{"username": "foo", "password": "bar", "email": "foo@example.com"',
                 None, id="TestReadDockerConfigFileFromBytes invalid"),
    pytest.param("dockerconfigjson",
                 '{"auths": {"http://foo.example.com":{"username": "foo", "password": "bar", "email": '
                 '"foo@example.com"}, "http://bar.example.com":{"username": "bar", "password": "baz", '
                 '"email": "bar@example.com"}}}', [FOO_BAR, BAR_BAZ], id="TestReadDockerConfigJSONFileFromBytes valid"),
    pytest.param("dockerconfigjson",
                 '{"auths": {"http://foo.example.com":{"username": "foo", "password": "bar", "email": '
                 '"foo@example.com"}, "http://bar.example.com":{"username": "bar", "password": "baz", '
                 '"email": "bar@example.com"', None, id="TestReadDockerConfigJSONFileFromBytes invalid"),
    # TestReadDockerConfigFile's document (auth decodes to "foo:bar\n")
    pytest.param("dockerconfigjson",
                 '{ "auths": { "http://foo.example.com":{"auth":"Zm9vOmJhcgo=","email":"foo@example.com"}}}',
                 [("http://foo.example.com", "foo", "bar\n", "foo@example.com")], id="TestReadDockerConfigFile"),
]


@pytest.mark.parametrize(("fmt", "text", "expected"), DOCUMENTS)
def test_documents(fmt: dockerconfig.Format, text: str, expected: list[Row] | None) -> None:
    config = parse(text, fmt)
    assert config.format == fmt
    if expected is None:
        assert config.errors
        assert config.entries == ()
        return
    assert config.all_errors() == []
    assert config.valid
    assert sorted(rows(config)) == sorted(expected)


# kubernetes/kubernetes pkg/credentialprovider/config_test.go: TestDockerConfigEntryJSONDecode,
# each entry parsed in both formats; then ADDED rows. Columns: entry JSON,
# (username, password, email), decoding fails.
ENTRY_DECODE = [
    pytest.param('{"username": "foo", "password": "bar", "email": "foo@example.com"}',
                 ("foo", "bar", "foo@example.com"), False, id="simple case, just decode the fields"),
    pytest.param('{"auth": "Zm9vOmJhcg==", "email": "foo@example.com"}',
                 ("foo", "bar", "foo@example.com"), False, id="auth field decodes to username & password"),
    pytest.param('{"username": "foo", "password": "bar", "auth": "cGluZzpwb25n", "email": "foo@example.com"}',
                 ("ping", "pong", "foo@example.com"), False, id="auth field overrides username & password"),
    pytest.param('{"auth": "pants", "email": "foo@example.com"}', (None, None, "foo@example.com"), True,
                 id="poorly-formatted auth causes failure"),
    pytest.param('{"email": false}', ("", "", ""), True, id="invalid JSON causes failure"),
    # ADDED
    pytest.param('{"username": "foo", "password": "bar", "auth": ""}', ("foo", "bar", ""), False,
                 id="ADDED empty auth leaves username & password"),
    pytest.param('{"username": "foo", "password": "bar", "auth": null}', ("foo", "bar", ""), False,
                 id="ADDED null auth leaves username & password"),
    pytest.param('{"auth": "Zm9vOmJhcg"}', ("foo", "bar", ""), False, id="ADDED unpadded auth"),
    pytest.param('{"auth": "dXNlcjpwYTpzcw=="}', ("user", "pa:ss", ""), False, id="ADDED split at the first colon"),
    pytest.param('{"auth": "dXNlcjo="}', ("user", "", ""), False, id="ADDED empty password"),
    pytest.param('{"auth": "Og=="}', ("", "", ""), False, id="ADDED colon only"),
    pytest.param('{"auth": "cGFudHM="}', (None, None, ""), True, id="ADDED no colon"),
    pytest.param("{}", ("", "", ""), False, id="ADDED empty entry"),
    pytest.param('{"identitytoken": "tok-123"}', ("", "", ""), False, id="ADDED identitytoken alone"),
    pytest.param('{"username": 5}', (None, None, ""), True, id="ADDED username is a number"),
    pytest.param('{"password": true}', (None, None, ""), True, id="ADDED password is a bool"),
    pytest.param('{"auth": {}}', (None, None, ""), True, id="ADDED auth is an object"),
    pytest.param('{"auth": ["Zm9vOmJhcg=="]}', (None, None, ""), True, id="ADDED auth is an array"),
]


@BOTH_FORMATS
@pytest.mark.parametrize(("entry", "expected", "fail"), ENTRY_DECODE)
def test_entry_decode(fmt: dockerconfig.Format, entry: str, expected: tuple[str | None, str | None, str],
                      fail: bool) -> None:
    text = f'{{"auths": {{"registry.example.com": {entry}}}}}' if fmt == "dockerconfigjson" \
        else f'{{"registry.example.com": {entry}}}'
    config = parse(text, fmt)
    assert config.errors == ()
    (e,) = config.entries
    assert e.key == "registry.example.com"
    assert bool(e.errors) is fail
    assert config.valid is not fail
    user, password, email = expected
    assert e.email == email
    if user is not None:
        assert (e.username, e.password) == (user, password)


# --- decodeDockerConfigFieldAuth ----------------------------------------------------

# kubernetes/kubernetes pkg/credentialprovider/config_test.go: TestDecodeDockerConfigFieldAuth;
# then ADDED rows from config.go decodeDockerConfigFieldAuth (StdEncoding when
# strings.TrimSpace(field) ends with '=', else RawStdEncoding; Go's base64 skips '\r'
# and '\n'; strings.SplitN(decoded, ":", 2)). Columns: input, (username, password) or None.
DECODE_FIELD_AUTH = [
    pytest.param("Zm9vOmJhcg==", ("foo", "bar"), id="auth field decodes to username & password"),
    pytest.param("Zm9vOmJhcg", ("foo", "bar"), id="field not well padded"),
    pytest.param("Zm9vOm\nJhcg==\n", ("foo", "bar"), id="with new line characters"),
    pytest.param(b64("foo:bar"), ("foo", "bar"), id="standard encoding (with padding)"),
    pytest.param(base64.b64encode(b"foo:bar").decode().rstrip("="), ("foo", "bar"),
                 id="raw encoding (without padding)"),
    pytest.param("Zm9vOmJhcg==", ("foo", "bar"), id="encodeDockerConfigFieldAuth (standard encoding)"),
    pytest.param("cGFudHM=", None, id="good base64 data, but no colon"),
    pytest.param("Zm9vOmJhcg== ", None, id="only new line characters are ignored"),
    pytest.param("pants", None, id="bad base64 data"),
    # ADDED
    pytest.param("Zm9vOmJh\r\ncg==", ("foo", "bar"), id="ADDED CRLF inside"),
    pytest.param("Zm9vOmJhcg\n", ("foo", "bar"), id="ADDED unpadded with trailing newline"),
    pytest.param("Zm9vOmJhcg=\n=", ("foo", "bar"), id="ADDED newline inside the padding"),
    pytest.param("Zm9vOmJhcg=", None, id="ADDED short padding"),
    pytest.param("Zm9vOmJhcg===", None, id="ADDED extra padding"),
    pytest.param("Zm9vOmJhcg==Zm9v", None, id="ADDED data after padding"),
    pytest.param("Zm9vOmJhc", None, id="ADDED impossible length (4n+1)"),
    pytest.param(" Zm9vOmJhcg==", None, id="ADDED leading space"),
    pytest.param("Zm9vOmJhcg==\t", None, id="ADDED trailing tab"),
    pytest.param("Zm9vOmJhch==", ("foo", "bar"), id="ADDED non-zero trailing bits ignored (not Strict)"),
    pytest.param("Zm9v_mJhcg==", None, id="ADDED URL alphabet rejected"),
    pytest.param(b64("user:pa:ss"), ("user", "pa:ss"), id="ADDED split at the first colon"),
    pytest.param(b64("user:"), ("user", ""), id="ADDED empty password"),
    pytest.param(b64(":"), ("", ""), id="ADDED colon only"),
    pytest.param(b64("üser:pässword"), ("üser", "pässword"), id="ADDED UTF-8"),
    pytest.param("", None, id="ADDED empty (UnmarshalJSON never calls it for an empty auth)"),
]


@pytest.mark.parametrize(("field", "expected"), DECODE_FIELD_AUTH)
def test_decode_docker_config_field_auth(field: str, expected: tuple[str, str] | None) -> None:
    if expected is None:
        with pytest.raises(ValueError):
            decode_auth_field(field)
    else:
        assert decode_auth_field(field) == expected


# --- Go encoding/json semantics --------------------------------------------------

# ADDED, from Go encoding/json as config.go uses it: struct fields match JSON keys
# case-insensitively, a later duplicate overwrites an earlier one, null leaves the zero
# value, unknown fields are ignored, a wrong JSON type is an UnmarshalTypeError (the
# kubelet then rejects the secret), invalid UTF-8 becomes U+FFFD. Columns: format,
# document, entries (sorted) or None for "the kubelet rejects it".
GO_JSON = [
    pytest.param("dockerconfigjson", '{"auths": {"r.io": {"USERNAME": "u", "Password": "p", "eMail": "e"}}}',
                 [("r.io", "u", "p", "e")], id="field names are case-insensitive"),
    pytest.param("dockercfg", '{"r.io": {"Auth": "dTpw"}}', [("r.io", "u", "p", "")],
                 id="auth field name is case-insensitive"),
    pytest.param("dockerconfigjson", '{"AUTHS": {"r.io": {"username": "u", "password": "p"}}}',
                 [("r.io", "u", "p", "")], id="auths wrapper is case-insensitive"),
    pytest.param("dockerconfigjson", '{"auths": {"r.io": {"username": "a", "USERNAME": "b", "password": "p"}}}',
                 [("r.io", "b", "p", "")], id="later duplicate field wins"),
    pytest.param("dockerconfigjson",
                 '{"auths": {"r.io": {"username": "a", "password": "p1"}, "r.io": {"username": "b"}}}',
                 [("r.io", "b", "", "")], id="later duplicate entry wins whole"),
    pytest.param("dockercfg", '{"r.io": {"username": "a"}, "R.io": {"username": "b"}}',
                 [("R.io", "b", "", ""), ("r.io", "a", "", "")], id="registry keys are case-sensitive"),
    pytest.param("dockerconfigjson", '{"auths": {"r.io": {"username": null, "password": "p", "email": null}}}',
                 [("r.io", "", "p", "")], id="null fields"),
    pytest.param("dockerconfigjson", '{"auths": {"r.io": null}}', [("r.io", "", "", "")], id="null entry"),
    pytest.param("dockercfg", '{"r.io": null}', [("r.io", "", "", "")], id="null entry (dockercfg)"),
    pytest.param("dockerconfigjson", '{"auths": null}', [], id="null auths"),
    pytest.param("dockerconfigjson", '{"auths": {}}', [], id="empty auths"),
    pytest.param("dockerconfigjson",
                 '{"auths": {"r.io": {"username": "u", "password": "p", "serveraddress": 5, "registrytoken": []}}}',
                 [("r.io", "u", "p", "")], id="unknown entry fields are ignored"),
    pytest.param("dockerconfigjson", '{"auths": {"r.io": {"username": "u", "identitytoken": 5}}}',
                 [("r.io", "u", "", "")], id="identitytoken is not a kubelet field"),
    pytest.param("dockerconfigjson", '{"auths": {}, "credsStore": 5, "credHelpers": [], "other": {}}', [],
                 id="unknown top-level fields are ignored"),
    pytest.param("dockerconfigjson", '{"auths": {"r.io": {"password": "\\u00fc\\u00df"}}}',
                 [("r.io", "", "üß", "")], id="escaped unicode"),
    pytest.param("dockerconfigjson", '{"auths": {"r.io": {"username": 5}}}', None, id="username is a number"),
    pytest.param("dockerconfigjson", '{"auths": {"r.io": {"email": false}}}', None, id="email is a bool"),
    pytest.param("dockerconfigjson", '{"auths": {"r.io": "u:p"}}', None, id="entry is a string"),
    pytest.param("dockercfg", '{"r.io": ["u", "p"]}', None, id="entry is an array"),
    pytest.param("dockercfg", '{"r.io": 5}', None, id="entry is a number"),
    pytest.param("dockerconfigjson", '{"auths": []}', None, id="auths is an array"),
    pytest.param("dockerconfigjson", '{"auths": "r.io"}', None, id="auths is a string"),
    pytest.param("dockerconfigjson", "[]", None, id="document is an array"),
    pytest.param("dockercfg", '"r.io"', None, id="document is a string"),
    pytest.param("dockercfg", "5", None, id="document is a number"),
    pytest.param("dockerconfigjson", "", None, id="empty document"),
    pytest.param("dockerconfigjson", '{"auths": {}} x', None, id="trailing data"),
    pytest.param("dockerconfigjson", '{"auths": {"r.io": {"password": NaN}}}', None, id="NaN is not JSON"),
    pytest.param("dockerconfigjson", '{"auths": {"r.io": {"password": "a\tb"}}}', None,
                 id="raw control character in a string"),
    pytest.param("dockerconfigjson", "{'auths': {}}", None, id="single quotes"),
]


@pytest.mark.parametrize(("fmt", "text", "expected"), GO_JSON)
def test_go_json_semantics(fmt: dockerconfig.Format, text: str, expected: list[Row] | None) -> None:
    config = parse(text, fmt)
    if expected is None:
        assert config.all_errors()
        assert not config.valid
    else:
        assert config.all_errors() == []
        assert sorted(rows(config)) == sorted(expected)


def test_invalid_utf8_becomes_replacement_character() -> None:
    """Go encoding/json decode.go unquoteBytes: "Coerce to well-formed UTF-8"."""
    config = parse(b'{"auths": {"r.io": {"username": "u", "password": "p\xffq"}}}', "dockerconfigjson")
    assert config.valid
    assert config.entries[0].password == "p\ufffdq"



# ADDED, Go encoding/json corners (decode.go, fold.go): null is a no-op, every duplicate is
# decoded (an error in any fails), repeated maps merge, HttpHeaders is typed, fields fold.
# Columns: format, document, expected entries or None for "the kubelet rejects it".
GO_JSON_DEVIATIONS = [
    pytest.param("dockerconfigjson", "null", [], id="null document"),
    pytest.param("dockercfg", "null", [], id="null document (dockercfg)"),
    pytest.param("dockerconfigjson", '{"auths": {"r.io": {"auth": "!!"}, "r.io": {"auth": "dTpw"}}}', None,
                 id="duplicate entry, the first one fails to decode"),
    pytest.param("dockerconfigjson", '{"auths": {"r.io": {"auth": 5, "auth": "dTpw"}}}', None,
                 id="duplicate field, the first one has a wrong type"),
    pytest.param("dockerconfigjson", '{"auths": "x", "auths": {"r.io": {"auth": "dTpw"}}}', None,
                 id="duplicate auths, the first one has a wrong type"),
    pytest.param("dockerconfigjson", '{"auths": {"a.io": {"auth": "dTpw"}}, "Auths": {"b.io": {"auth": "dTpw"}}}',
                 [("a.io", "u", "p", ""), ("b.io", "u", "p", "")], id="duplicate auths objects are merged"),
    pytest.param("dockerconfigjson", '{"auths": {"r.io": {"auth": "dTpw"}}, "HttpHeaders": {"X-Meta": 5}}', None,
                 id="HttpHeaders value is a number"),
    pytest.param("dockerconfigjson", '{"auths": {"r.io": {"auth": "dTpw"}}, "httpheaders": "x"}', None,
                 id="HttpHeaders is a string"),
    pytest.param("dockerconfigjson", '{"auths": {"r.io": {"u\u017fername": "u", "pa\u017f\u017fword": "p"}}}',
                 [("r.io", "u", "p", "")], id="Unicode case folding of field names"),
]


@pytest.mark.parametrize(("fmt", "text", "expected"), GO_JSON_DEVIATIONS)
def test_go_json_deviations(fmt: dockerconfig.Format, text: str, expected: list[Row] | None) -> None:
    config = parse(text, fmt)
    if expected is None:
        assert config.all_errors()
    else:
        assert config.all_errors() == []
        assert sorted(rows(config)) == sorted(expected)


def test_lone_surrogate_becomes_replacement_character() -> None:
    config = parse('{"auths": {"r.io": {"username": "u", "password": "p\\ud800"}}}', "dockerconfigjson")
    entry = config.entries[0]
    assert entry.password == "p\ufffd"
    assert entry.fingerprint == fingerprint("u", "p\ufffd")


# --- auth overrides username/password -----------------------------------------------

# kubernetes/kubernetes pkg/credentialprovider/config.go DockerConfigEntry.UnmarshalJSON:
# username/password/email are copied, then a non-empty auth replaces username and
# password (config_test.go TestDockerConfigEntryJSONDecode "auth field overrides
# username & password"). Columns: entry, username, password, has_auth.
AUTH_OVERRIDES = [
    pytest.param({"username": "foo", "password": "bar", "auth": b64("ping:pong")}, "ping", "pong", True,
                 id="auth wins"),
    pytest.param({"auth": b64("ping:pong"), "username": "foo", "password": "bar"}, "ping", "pong", True,
                 id="auth wins regardless of field order"),
    pytest.param({"username": "foo", "auth": b64("ping:pong")}, "ping", "pong", True, id="auth wins over username"),
    pytest.param({"username": "foo", "password": "bar", "auth": ""}, "foo", "bar", False, id="empty auth"),
    pytest.param({"username": "foo", "password": "bar", "auth": b64(":")}, "", "", True,
                 id="auth with empty parts still wins"),
]


@BOTH_FORMATS
@pytest.mark.parametrize(("entry", "username", "password", "has_auth"), AUTH_OVERRIDES)
def test_auth_overrides_username_password(fmt: dockerconfig.Format, entry: dict[str, str], username: str,
                                          password: str, has_auth: bool) -> None:
    (e,) = parse(wrap(fmt, {"r.io": entry}), fmt).entries
    assert (e.username, e.password, e.has_auth) == (username, password, has_auth)
    assert e.fingerprint == fingerprint(username, password)


# --- errors name the entry and never a secret ---------------------------------------

WHERE = "secret shop/regcred key .dockerconfigjson: "

# ADDED: every error is prefixed with `where`, names the entry key when it is about an
# entry, and contains no password, auth or identitytoken value (raw or decoded).
# Columns: format, document, entry key named in the error (or None), secret values.
SAFE_ERRORS = [
    pytest.param("dockerconfigjson", {"auths": {"r.example.com": {"auth": "hunter2-not-base64!!"}}},
                 "r.example.com", ["hunter2-not-base64!!"], id="auth is not base64"),
    pytest.param("dockerconfigjson", {"auths": {"r.example.com": {"auth": b64("hunter2-no-colon")}}},
                 "r.example.com", [b64("hunter2-no-colon"), "hunter2-no-colon"], id="auth has no colon"),
    pytest.param("dockercfg", {"r.example.com": {"username": 5, "password": "hunter2-password"}},
                 "r.example.com", ["hunter2-password"], id="username has a wrong type"),
    pytest.param("dockercfg", {"r.example.com": {"email": [], "auth": b64("u:hunter2-in-auth")}},
                 "r.example.com", [b64("u:hunter2-in-auth"), "hunter2-in-auth"], id="email has a wrong type"),
    pytest.param("dockerconfigjson",
                 {"auths": {"r.example.com": {"password": "hunter2-pw", "auth": ["x"], "identitytoken": "tok-hunter2"}}},
                 "r.example.com", ["hunter2-pw", "tok-hunter2"], id="auth has a wrong type"),
    pytest.param("dockerconfigjson", {"auths": {"r.example.com": "hunter2-entry-string"}},
                 "r.example.com", ["hunter2-entry-string"], id="entry is a string"),
    pytest.param("dockerconfigjson", {"auths": {"ok.example.com": {"password": "hunter2-other"},
                                                "r.example.com": {"auth": "!!"}}},
                 "r.example.com", ["hunter2-other"], id="another entry's password"),
    pytest.param("dockerconfigjson", {"auths": "hunter2-auths-string"}, None, ["hunter2-auths-string"],
                 id="auths is a string"),
    pytest.param("dockerconfigjson", '{"auths": {"r.example.com": {"password": "hunter2-truncated',
                 None, ["hunter2-truncated"], id="truncated JSON inside a password"),
    pytest.param("dockerconfigjson", '{"auths": {"r.example.com": {"password": "hunter2\tcontrol"}}}',
                 None, ["hunter2"], id="control character inside a password"),
    pytest.param("dockercfg", '{"r.example.com": {"password": "hunter2-dup", "password": hunter2}}',
                 None, ["hunter2-dup", "hunter2"], id="bare word after a password"),
]


@pytest.mark.parametrize(("fmt", "doc", "key", "secrets"), SAFE_ERRORS)
def test_errors_name_the_entry_and_hide_secrets(fmt: dockerconfig.Format, doc: Any, key: str | None,
                                                secrets: list[str]) -> None:
    text = doc if isinstance(doc, str) else json.dumps(doc)
    config = parse(text, fmt, where=WHERE)
    errors = config.all_errors()
    assert errors
    for message in errors:
        assert message.startswith(WHERE)
        for secret in secrets:
            assert secret not in message
    if key is not None:
        assert any(json.dumps(key) in message for message in errors)
    # repr() of the parsed config (entries included) must not show secrets either
    for secret in secrets:
        assert secret not in repr(config)


# --- shape errors ---------------------------------------------------------------

# ADDED: a document the kubelet decodes without error but finds no credentials in,
# because the format is mixed up (config.go DockerConfigJSON needs `auths`; a
# .dockercfg is the map itself). Columns: format, document, shape error expected,
# text the shape error mentions, number of entries.
SHAPE = [
    pytest.param("dockerconfigjson", {"r.io": {"auth": "dTpw"}}, True, ".dockercfg", 0,
                 id="dockercfg content under .dockerconfigjson"),
    pytest.param("dockerconfigjson", {"https://index.docker.io/v1/": {"auth": "dTpw"}, "localhost": {}}, True,
                 ".dockercfg", 0, id="dockercfg content with localhost"),
    pytest.param("dockerconfigjson", {}, True, "auths", 0, id="empty document"),
    pytest.param("dockerconfigjson", {"credHelpers": {"r.io": "ecr-login"}}, True, "auths", 0,
                 id="only credHelpers"),
    pytest.param("dockerconfigjson", {"auths": {}}, False, None, 0, id="empty auths"),
    pytest.param("dockerconfigjson", {"auths": None}, False, None, 0, id="null auths"),
    pytest.param("dockerconfigjson", {"Auths": {"r.io": {"auth": "dTpw"}}}, False, None, 1, id="Auths"),
    pytest.param("dockercfg", {"auths": {"r.io": {"auth": "dTpw"}}}, True, ".dockerconfigjson", 0,
                 id="dockerconfigjson content under .dockercfg"),
    pytest.param("dockercfg", {"auths": None}, False, None, 1, id="a registry named auths, null"),
    pytest.param("dockercfg", {"r.io": {"auth": "dTpw"}}, False, None, 1, id="dockercfg"),
    pytest.param("dockercfg", {}, False, None, 0, id="empty dockercfg"),
]


@pytest.mark.parametrize(("fmt", "doc", "shape", "mentions", "count"), SHAPE)
def test_shape_error(fmt: dockerconfig.Format, doc: dict[str, Any], shape: bool, mentions: str | None,
                     count: int) -> None:
    config = parse(json.dumps(doc), fmt, where=WHERE)
    assert config.errors == ()
    assert (config.shape_error is not None) is shape
    if config.shape_error is not None:
        assert config.shape_error.startswith(WHERE)
        assert mentions is not None and mentions in config.shape_error
    assert len(config.entries) == count


# ADDED: credHelpers/credsStore are docker CLI fields the kubelet's DockerConfigJSON has
# no field for. Columns: document, cred_helpers, note substrings.
HELPERS = [
    pytest.param({"auths": {}, "credHelpers": {"a.io": "ecr-login", "b.io": "gcr"}}, ("a.io", "b.io"),
                 ["credHelpers", "a.io", "b.io"], id="credHelpers"),
    pytest.param({"auths": {}, "credsStore": "desktop"}, (), ["credsStore"], id="credsStore"),
    pytest.param({"auths": {}, "credsStore": ""}, (), [], id="empty credsStore"),
    pytest.param({"auths": {}}, (), [], id="neither"),
]


@pytest.mark.parametrize(("doc", "helpers", "notes"), HELPERS)
def test_cred_helpers_and_store(doc: dict[str, Any], helpers: tuple[str, ...], notes: list[str]) -> None:
    config = parse(json.dumps(doc), "dockerconfigjson")
    assert config.cred_helpers == helpers
    text = " ".join(config.notes)
    for note in notes:
        assert note in text
    if not notes:
        assert config.notes == ()


# --- fingerprint ------------------------------------------------------------------

# ADDED: fingerprint = sha256("username:password").hexdigest()[:8] (values precomputed).
FINGERPRINTS = [
    ("user", "password", "c91b1d6a"),
    ("foo", "bar", "a765a8be"),
    ("ping", "pong", "866a2418"),
    ("", "", "e7ac0786"),
    ("alice", "s3cr3t:with:colons", "a26a42e7"),
    ("bob", "ümläut", "38e9ab2d"),
]


@pytest.mark.parametrize(("username", "password", "expected"), FINGERPRINTS,
                         ids=[f"{u}:{p}" for u, p, _ in FINGERPRINTS])
def test_fingerprint(username: str, password: str, expected: str) -> None:
    assert fingerprint(username, password) == expected


@pytest.mark.parametrize(("entry", "expected"), [
    pytest.param({"auth": b64("foo:bar")}, "a765a8be", id="from auth"),
    pytest.param({"username": "foo", "password": "bar"}, "a765a8be", id="from fields"),
    pytest.param({"username": "x", "password": "y", "auth": b64("ping:pong")}, "866a2418", id="auth wins"),
])
def test_entry_fingerprint(entry: dict[str, str], expected: str) -> None:
    (e,) = parse(json.dumps({"auths": {"r.io": entry}}), "dockerconfigjson").entries
    assert e.fingerprint == expected


# --- redact --------------------------------------------------------------------------

@pytest.fixture
def clean_redact() -> Iterator[None]:
    redact.clear()
    yield
    redact.clear()


# ADDED: parse registers every secret it sees; redact.scrub then masks them in any text.
# Columns: entry, values that must be masked, values that must survive.
REDACT = [
    pytest.param({"username": "alice-user", "password": "s3cr3t-password"}, ["s3cr3t-password"], ["alice-user"],
                 id="password"),
    pytest.param({"auth": b64("alice-user:auth-password")}, [b64("alice-user:auth-password"), "auth-password"],
                 ["alice-user"], id="auth and its decoded password"),
    pytest.param({"auth": b64("alice-user:p1"), "identitytoken": "tok-abcdef"}, ["tok-abcdef"], ["alice-user"],
                 id="identity token"),
    pytest.param({"username": "alice-user", "password": "  spaced-password  "}, ["spaced-password"], [],
                 id="password with surrounding spaces"),
    pytest.param({"username": "alice-user", "password": "abc"}, [], ["abc"],
                 id="values shorter than MIN_LEN are not scrubbed"),
    pytest.param({"auth": "not-base64-but-secret!!"}, ["not-base64-but-secret!!"], [], id="undecodable auth"),
]


@pytest.mark.parametrize(("entry", "masked", "kept"), REDACT)
@pytest.mark.usefixtures("clean_redact")
def test_scrub_after_parse(entry: dict[str, str], masked: list[str], kept: list[str]) -> None:
    parse(json.dumps({"auths": {"r.io": entry}}), "dockerconfigjson")
    for value in masked:
        out = redact.scrub(f"before {value} after")
        assert value not in out
        assert out == f"before {redact.MASK} after"
    for value in kept:
        assert redact.scrub(f"before {value} after") == f"before {value} after"


@pytest.mark.usefixtures("clean_redact")
def test_scrub_masks_the_raw_document() -> None:
    text = json.dumps({"auths": {"r.io": {"auth": b64("u:document-password")}}})
    parse(text, "dockerconfigjson")
    assert redact.scrub(f"data: {text}") == f"data: {redact.MASK}"


@pytest.mark.usefixtures("clean_redact")
def test_scrub_masks_secrets_of_invalid_documents() -> None:
    text = '{"auths": {"r.io": {"password": "truncated-secret'
    config = parse(text, "dockerconfigjson")
    assert config.errors
    assert redact.scrub(text) == redact.MASK


# --- detect_format ---------------------------------------------------------------

# ADDED: config.json has `auths` (or credHelpers/credsStore); otherwise .dockercfg.
DETECT = [
    ('{"auths": {}}', "dockerconfigjson"),
    ('{"AUTHS": {}}', "dockerconfigjson"),
    ('{"credHelpers": {"r.io": "x"}}', "dockerconfigjson"),
    ('{"credsStore": "desktop"}', "dockerconfigjson"),
    ("{}", "dockerconfigjson"),
    ('{"r.io": {"auth": "dTpw"}}', "dockercfg"),
    ('{"https://index.docker.io/v1/": {}}', "dockercfg"),
    ("not json", "dockerconfigjson"),
    ("[]", "dockerconfigjson"),
]


@pytest.mark.parametrize(("text", "expected"), DETECT, ids=[t for t, _ in DETECT])
def test_detect_format(text: str, expected: str) -> None:
    assert detect_format(text) == expected
    assert detect_format(text.encode()) == expected
