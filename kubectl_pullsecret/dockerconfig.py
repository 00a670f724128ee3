"""Docker credential files: `.dockerconfigjson` (config.json) and legacy `.dockercfg`.

Parsing follows what the kubelet does (pkg/credentialprovider config.go): Go's
encoding/json semantics (field names matched case-insensitively, last duplicate wins,
`null` leaves the zero value, a wrong JSON type is an error), `auth` decoded as
base64 padded or unpadded and split at the first `:`, overriding `username`/`password`.
Any decoding error makes the kubelet reject the whole secret, so errors are collected
precisely (which key, what is wrong) without ever quoting a secret value.

What containers/image (CRI-O, podman, skopeo) would read from the same entry is kept
beside it: it reads only `auth` (strict padded base64) and `identitytoken`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from kubectl_pullsecret import redact

Format = Literal["dockerconfigjson", "dockercfg"]

KEY_FOR_FORMAT: dict[Format, str] = {
    "dockerconfigjson": ".dockerconfigjson",
    "dockercfg": ".dockercfg",
}
TYPE_FOR_FORMAT: dict[Format, str] = {
    "dockerconfigjson": "kubernetes.io/dockerconfigjson",
    "dockercfg": "kubernetes.io/dockercfg",
}
PULL_SECRET_TYPES = frozenset(TYPE_FOR_FORMAT.values())
PULL_SECRET_KEYS = frozenset(KEY_FOR_FORMAT.values())
FORMAT_FOR_TYPE: dict[str, Format] = {t: f for f, t in TYPE_FOR_FORMAT.items()}
TYPE_FOR_KEY: dict[str, str] = {KEY_FOR_FORMAT[f]: t for f, t in TYPE_FOR_FORMAT.items()}


def fingerprint(username: str, password: str) -> str:
    """First 8 hex chars of sha256("username:password"): recognisable, not reversible."""
    return hashlib.sha256(f"{username}:{password}".encode()).hexdigest()[:8]


def content_digest(config: DockerConfig, nonce: str) -> str:
    """A digest of what a credential file gives the kubelet (every entry's key and
    credential, in a canonical order), keyed with a per-run nonce: two files compare
    equal when they hold the same credentials however they are formatted, and the
    digest is worthless outside the run that made it (no offline guessing)."""
    canonical = json.dumps(sorted([e.key, e.username, e.password, e.identitytoken] for e in config.entries),
                           separators=(",", ":"))
    return "hmac-sha256:" + hmac.new(nonce.encode(), canonical.encode(), hashlib.sha256).hexdigest()[:16]


@dataclass(frozen=True)
class CimageView:
    """What containers/image reads from an entry (pkg/docker/config decodeDockerAuth)."""

    usable: bool  # yields a username+password or an identity token
    error: str | None  # strict base64 failure: c/image fails the lookup
    note: str | None  # why it yields nothing, when it does not


@dataclass(frozen=True)
class Entry:
    """One `auths` entry, decoded the kubelet's way."""

    key: str  # exactly as written in the file
    username: str
    password: str = field(repr=False)
    email: str
    has_auth: bool  # a non-empty `auth` field (it overrides username/password)
    has_identitytoken: bool
    identitytoken: str = field(repr=False, default="")
    errors: tuple[str, ...] = ()  # kubelet decoding errors for this entry
    cimage: CimageView = CimageView(True, None, None)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.username, self.password)

    @property
    def who(self) -> str:
        """"user NAME, fingerprint F": how an entry is named in output (never its secret)."""
        return f"user {self.username or '-'}, fingerprint {self.fingerprint}"

    @property
    def has_credentials(self) -> bool:
        return bool(self.username or self.password)


@dataclass(frozen=True)
class DockerConfig:
    format: Format
    entries: tuple[Entry, ...]  # in file order
    errors: tuple[str, ...] = ()  # kubelet-fatal errors (whole config rejected)
    # Parses, but in a shape the kubelet finds no credentials in (format mix-up).
    shape_error: str | None = None
    notes: tuple[str, ...] = ()  # harmless oddities worth telling (credHelpers, no auths, ...)
    cred_helpers: tuple[str, ...] = ()
    # A JSON type error that makes containers/image reject the whole file.
    cimage_error: str | None = None

    @property
    def valid(self) -> bool:
        return not self.errors and all(not e.errors for e in self.entries)

    def all_errors(self) -> list[str]:
        out = list(self.errors)
        for e in self.entries:
            out.extend(e.errors)
        return out


class _Pairs(list[tuple[str, Any]]):
    """A JSON object kept as ordered pairs, so duplicates and order survive."""


_SURROGATE = re.compile("[\ud800-\udfff]")


def _go_string(value: Any) -> Any:
    """Go's decoder turns an unpaired \\uD800 escape into U+FFFD; Python keeps it."""
    return _SURROGATE.sub("\ufffd", value) if isinstance(value, str) else value


def _loads(data: bytes | str) -> Any:
    def bad_constant(name: str) -> Any:
        raise ValueError(f"invalid JSON value {name}")

    def pairs(items: list[tuple[str, Any]]) -> _Pairs:
        return _Pairs((_go_string(k), _go_string(v)) for k, v in items)

    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    return _go_string(json.loads(text, object_pairs_hook=pairs, parse_constant=bad_constant))


def _go_fields(obj: _Pairs, names: tuple[str, ...]) -> dict[str, list[Any]]:
    """Map JSON keys onto Go struct fields, every occurrence in document order: an exact
    name, else a case-insensitive one (encoding/json folds with Unicode simple folding)."""
    out: dict[str, list[Any]] = {}
    folded = {n.casefold(): n for n in names}
    for key, value in obj:
        name = key if key in names else folded.get(key.casefold())
        if name is not None:
            out.setdefault(name, []).append(value)
    return out


def _go_str_field(values: list[Any], label: str, name: str, errors: list[str]) -> str:
    """A Go string field: the last non-null occurrence wins (null leaves the value as it
    was), and a wrong JSON type in any occurrence is an error."""
    result = ""
    for value in values:
        if value is None:
            continue
        if isinstance(value, str):
            result = value
        else:
            errors.append(f"{label}: `{name}` must be a string, not {_json_type(value)}")
    return result


def _json_type(value: Any) -> str:
    if isinstance(value, _Pairs):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return "string"


def encode_auth(username: str, password: str) -> str:
    """An `auth` value (and an HTTP Basic credential): base64 of username:password."""
    return base64.b64encode(f"{username}:{password}".encode()).decode()


def decode_auth_field(value: str) -> tuple[str, str]:
    """kubelet decodeDockerConfigFieldAuth: padded data with StdEncoding, unpadded
    with RawStdEncoding; then split at the first ':'. Raises ValueError (safe text)."""
    stripped = value.replace("\r", "").replace("\n", "")
    try:
        if value.strip().endswith("="):
            if len(stripped) % 4:
                raise ValueError("bad padding")
            decoded = base64.b64decode(stripped, validate=True)
        else:
            if "=" in stripped or len(stripped) % 4 == 1:
                raise ValueError("bad length")
            decoded = base64.b64decode(stripped + "=" * (-len(stripped) % 4), validate=True)
    except (ValueError, binascii.Error):
        raise ValueError("`auth` is not valid base64") from None
    text = decoded.decode("utf-8", "replace")
    if ":" not in text:
        raise ValueError("`auth` must be base64 of username:password (no ':' found)")
    user, password = text.split(":", 1)
    return user, password


def _cimage_view(auth: str, identitytoken: str) -> CimageView:
    """containers/image decodeDockerAuth: `auth` decoded with StdEncoding (padding
    required, CR/LF skipped) and split at the first ':'; no ':' (an empty `auth`
    included) yields nothing, dropping any identitytoken with it."""
    try:
        decoded = base64.b64decode(auth.replace("\r", "").replace("\n", ""), validate=True)
    except (ValueError, binascii.Error):
        return CimageView(False, "`auth` is not padded base64", None)
    user, sep, password = decoded.decode("utf-8", "replace").partition(":")
    if not sep:
        note = ("no `auth` field (containers/image reads only `auth` and `identitytoken`, not username/password)"
                if not auth else "`auth` has no ':'")
        if identitytoken:
            note += "; the identitytoken is dropped with it"
        return CimageView(False, None, note)
    if not (user or password.strip("\x00") or identitytoken):
        return CimageView(False, None, "empty username and password")
    return CimageView(True, None, None)


_EMPTY_CIMAGE = CimageView(False, None, "empty entry")


def _parse_entry(key: str, occurrences: list[Any], where: str) -> tuple[Entry, str | None]:
    """One `auths` key. Go decodes every occurrence of a duplicated key (the last one is
    kept, an error in any one fails the whole config). Also returns the type error that
    makes containers/image reject the whole file, if any."""
    label = f"{where}entry {json.dumps(key)}"
    errors: list[str] = []
    cimage_error: str | None = None
    entry = Entry(key, "", "", "", False, False, cimage=_EMPTY_CIMAGE)
    for raw in occurrences:
        if raw is None:
            entry = Entry(key, "", "", "", False, False, cimage=_EMPTY_CIMAGE)
            continue
        if not isinstance(raw, _Pairs):
            errors.append(f"{label}: must be an object, not {_json_type(raw)}")
            cimage_error = cimage_error or f"entry {json.dumps(key)} is not an object"
            continue
        fields = _go_fields(raw, ("username", "password", "email", "auth", "identitytoken"))
        values = {name: _go_str_field(fields.get(name, []), label, name, errors)
                  for name in ("username", "password", "email", "auth")}
        # The kubelet's struct has no identitytoken field; containers/image's does.
        tokens = fields.get("identitytoken", [])
        identitytoken = next((t for t in reversed(tokens) if isinstance(t, str)), "")
        if any(t is not None and not isinstance(t, str) for t in tokens):
            cimage_error = cimage_error or f"entry {json.dumps(key)}: `identitytoken` is not a string"
        if any(a is not None and not isinstance(a, str) for a in fields.get("auth", [])):
            cimage_error = cimage_error or f"entry {json.dumps(key)}: `auth` is not a string"
        redact.register(values["password"], values["auth"], identitytoken)
        username, password = values["username"], values["password"]
        if values["auth"]:
            try:
                username, password = decode_auth_field(values["auth"])
                redact.register(password)
            except ValueError as exc:
                errors.append(f"{label}: {exc}")
        entry = Entry(
            key=key,
            username=username,
            password=password,
            email=values["email"],
            has_auth=bool(values["auth"]),
            has_identitytoken=bool(identitytoken),
            identitytoken=identitytoken,
            cimage=_cimage_view(values["auth"], identitytoken),
        )
    if errors:
        entry = Entry(entry.key, entry.username, entry.password, entry.email, entry.has_auth,
                      entry.has_identitytoken, entry.identitytoken, tuple(errors), entry.cimage)
    return entry, cimage_error


def _entries(pairs: list[tuple[str, Any]], where: str) -> tuple[tuple[Entry, ...], str | None]:
    grouped: dict[str, list[Any]] = {}
    for key, value in pairs:
        grouped.setdefault(key, []).append(value)
    entries, cimage_error = [], None
    for key, values in grouped.items():
        entry, err = _parse_entry(key, values, where)
        entries.append(entry)
        cimage_error = cimage_error or err
    return tuple(entries), cimage_error


def parse(data: bytes | str, fmt: Format, where: str = "") -> DockerConfig:
    """Parse a credential file of the given format. Never raises on bad content:
    problems land in `errors` (fatal to the kubelet), `shape_error` (the kubelet finds
    nothing in it) or `notes` (harmless). `where` prefixes messages."""
    redact.register(data)
    try:
        doc = _loads(data)
    except ValueError as exc:
        msg = str(exc).split(":")[0] if isinstance(exc, json.JSONDecodeError) else str(exc)
        pos = f" (line {exc.lineno}, column {exc.colno})" if isinstance(exc, json.JSONDecodeError) else ""
        return DockerConfig(fmt, (), errors=(f"{where}not valid JSON: {msg}{pos}",))
    if doc is None:
        # Go: unmarshalling null is a no-op, not an error; the config is just empty.
        return DockerConfig(fmt, (), shape_error=f"{where}is JSON null: the kubelet finds no credentials in it")
    if not isinstance(doc, _Pairs):
        return DockerConfig(fmt, (), errors=(f"{where}must be a JSON object, not {_json_type(doc)}",))

    notes: list[str] = []
    helpers: list[str] = []
    errors: list[str] = []
    if fmt == "dockerconfigjson":
        fields = _go_fields(doc, ("auths", "HttpHeaders", "credHelpers", "credsStore"))
        for headers in fields.get("HttpHeaders", []):
            if headers is not None and not (isinstance(headers, _Pairs)
                                            and all(v is None or isinstance(v, str) for _, v in headers)):
                errors.append(f"{where}`HttpHeaders` must be an object of strings")
        helper_maps = [h for h in fields.get("credHelpers", []) if isinstance(h, _Pairs)]
        if helper_maps:
            helpers = list(dict.fromkeys(k for h in helper_maps for k, _ in h))
            notes.append(f"{where}`credHelpers` ({', '.join(helpers)}) are not used by the kubelet")
        if any(fields.get("credsStore", [])):
            notes.append(f"{where}`credsStore` is not used by the kubelet")
        if "auths" not in fields:
            keys = [k for k, _ in doc]
            hint = ""
            if keys and all("." in k or ":" in k or k == "localhost" for k in keys):
                hint = " (it looks like the legacy .dockercfg format, which has no `auths` wrapper)"
            return DockerConfig(
                fmt, (), errors=tuple(errors),
                shape_error=f"{where}has no `auths` object: the kubelet finds no credentials in it{hint}",
                notes=tuple(notes), cred_helpers=tuple(helpers))
        # Go decodes a repeated `auths` into the same map (merging); null resets it.
        pairs: list[tuple[str, Any]] = []
        for auths in fields["auths"]:
            if auths is None:
                pairs = []
            elif isinstance(auths, _Pairs):
                pairs.extend(auths)
            else:
                errors.append(f"{where}`auths` must be an object, not {_json_type(auths)}")
    else:
        pairs = list(doc)
        if any(k.casefold() == "auths" and isinstance(v, _Pairs) for k, v in pairs):
            return DockerConfig(fmt, (), shape_error=(
                f"{where}has an `auths` wrapper: that is the .dockerconfigjson format; "
                "under the .dockercfg key the kubelet reads it as a registry named \"auths\""))

    entries, cimage_error = _entries(pairs, where)
    return DockerConfig(fmt, entries, errors=tuple(errors), notes=tuple(notes), cred_helpers=tuple(helpers),
                        cimage_error=cimage_error)


def detect_format(data: bytes | str) -> Format:
    """config.json has a top-level `auths` (or credHelpers/credsStore); else .dockercfg."""
    try:
        doc = _loads(data)
    except ValueError:
        return "dockerconfigjson"
    if isinstance(doc, _Pairs):
        keys = {k.lower() for k, _ in doc}
        if keys & {"auths", "credhelpers", "credsstore"} or not keys:
            return "dockerconfigjson"
        return "dockercfg"
    return "dockerconfigjson"
