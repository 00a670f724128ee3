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
import json
from dataclasses import dataclass, field
from typing import Any, Literal

from kubectl_pullsecret import redact

Format = Literal["dockerconfigjson", "dockercfg"]

KEY_FOR_FORMAT: dict[str, str] = {
    "dockerconfigjson": ".dockerconfigjson",
    "dockercfg": ".dockercfg",
}
TYPE_FOR_FORMAT: dict[str, str] = {
    "dockerconfigjson": "kubernetes.io/dockerconfigjson",
    "dockercfg": "kubernetes.io/dockercfg",
}


def fingerprint(username: str, password: str) -> str:
    """First 8 hex chars of sha256("username:password"): recognisable, not reversible."""
    return hashlib.sha256(f"{username}:{password}".encode()).hexdigest()[:8]


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


def _loads(data: bytes | str) -> Any:
    def bad_constant(name: str) -> Any:
        raise ValueError(f"invalid JSON value {name}")

    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    return json.loads(text, object_pairs_hook=_Pairs, parse_constant=bad_constant)


def _go_fields(obj: _Pairs, names: tuple[str, ...]) -> dict[str, Any]:
    """Map JSON keys onto Go struct fields: exact or case-insensitive match, later
    keys overwrite earlier ones (encoding/json decodes keys in document order)."""
    out: dict[str, Any] = {}
    lowered = {n.lower(): n for n in names}
    for key, value in obj:
        name = key if key in names else lowered.get(key.lower())
        if name is not None:
            out[name] = value
    return out


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
    """containers/image decodeDockerAuth: strict padded base64, missing ':' skips the
    entry silently (an empty `auth` is a credential-helper marker)."""
    if identitytoken:
        return CimageView(True, None, None)
    if not auth:
        return CimageView(False, None, "no `auth` field (containers/image ignores username/password)")
    try:
        decoded = base64.b64decode(auth, validate=True)
    except (ValueError, binascii.Error):
        return CimageView(False, "`auth` is not strict padded base64", None)
    user, sep, password = decoded.decode("utf-8", "replace").partition(":")
    if not sep:
        return CimageView(False, None, "`auth` has no ':'")
    if not (user and password.strip("\x00")):
        return CimageView(False, None, "empty username or password")
    return CimageView(True, None, None)


def _parse_entry(key: str, raw: Any, where: str) -> Entry:
    label = f"{where}entry {json.dumps(key)}"
    if raw is None:
        return Entry(key, "", "", "", False, False)
    if not isinstance(raw, _Pairs):
        return Entry(key, "", "", "", False, False,
                     errors=(f"{label}: must be an object, not {_json_type(raw)}",))
    fields = _go_fields(raw, ("username", "password", "email", "auth", "identitytoken"))
    errors: list[str] = []
    values: dict[str, str] = {}
    for name in ("username", "password", "email", "auth"):
        value = fields.get(name)
        if value is None:
            values[name] = ""
        elif isinstance(value, str):
            values[name] = value
        else:
            values[name] = ""
            errors.append(f"{label}: `{name}` must be a string, not {_json_type(value)}")
    token_raw = fields.get("identitytoken")
    # The kubelet's struct has no identitytoken field: a wrong type there is ignored.
    identitytoken = token_raw if isinstance(token_raw, str) else ""
    redact.register(values["password"], values["auth"], identitytoken)
    username, password = values["username"], values["password"]
    if values["auth"]:
        try:
            username, password = decode_auth_field(values["auth"])
            redact.register(password)
        except ValueError as exc:
            errors.append(f"{label}: {exc}")
    return Entry(
        key=key,
        username=username,
        password=password,
        email=values["email"],
        has_auth=bool(values["auth"]),
        has_identitytoken=bool(identitytoken),
        identitytoken=identitytoken,
        errors=tuple(errors),
        cimage=_cimage_view(values["auth"], identitytoken),
    )


def parse(data: bytes | str, fmt: Format, where: str = "") -> DockerConfig:
    """Parse a credential file of the given format. Never raises on bad content:
    problems land in `errors` (fatal to the kubelet) or `notes` (harmless).
    `where` prefixes messages, e.g. 'secret shop/regcred key .dockerconfigjson: '."""
    redact.register(data)
    try:
        doc = _loads(data)
    except ValueError as exc:
        msg = str(exc).split(":")[0] if isinstance(exc, json.JSONDecodeError) else str(exc)
        pos = f" (line {exc.lineno}, column {exc.colno})" if isinstance(exc, json.JSONDecodeError) else ""
        return DockerConfig(fmt, (), errors=(f"{where}not valid JSON: {msg}{pos}",))
    if not isinstance(doc, _Pairs):
        return DockerConfig(fmt, (), errors=(f"{where}must be a JSON object, not {_json_type(doc)}",))

    notes: list[str] = []
    helpers: list[str] = []
    if fmt == "dockerconfigjson":
        fields = _go_fields(doc, ("auths", "credHelpers", "credsStore"))
        auths = fields.get("auths")
        if isinstance(fields.get("credHelpers"), _Pairs):
            helpers = [k for k, _ in fields["credHelpers"]]
            notes.append(f"{where}`credHelpers` ({', '.join(helpers)}) are not used by the kubelet")
        if fields.get("credsStore"):
            notes.append(f"{where}`credsStore` is not used by the kubelet")
        if auths is None:
            keys = [k for k, _ in doc]
            if "auths" not in {k.lower() for k in keys}:
                hint = ""
                if keys and all("." in k or ":" in k or k == "localhost" for k in keys):
                    hint = " (it looks like the legacy .dockercfg format, which has no `auths` wrapper)"
                return DockerConfig(
                    fmt, (), shape_error=f"{where}has no `auths` object: the kubelet finds no credentials in it{hint}",
                    notes=tuple(notes), cred_helpers=tuple(helpers))
            return DockerConfig(fmt, (), notes=tuple(notes), cred_helpers=tuple(helpers))
        if not isinstance(auths, _Pairs):
            return DockerConfig(fmt, (), errors=(f"{where}`auths` must be an object, not {_json_type(auths)}",))
        pairs: list[tuple[str, Any]] = list(auths)
    else:
        pairs = list(doc)
        if any(k.lower() == "auths" and isinstance(v, _Pairs) for k, v in pairs):
            return DockerConfig(fmt, (), shape_error=(
                f"{where}has an `auths` wrapper: that is the .dockerconfigjson format; "
                "under the .dockercfg key the kubelet reads it as a registry named \"auths\""))

    # Go maps keep the last of duplicate keys.
    last: dict[str, Any] = {}
    for key, value in pairs:
        last[key] = value
    entries = tuple(_parse_entry(key, value, where) for key, value in last.items())
    return DockerConfig(fmt, entries, notes=tuple(notes), cred_helpers=tuple(helpers))


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
