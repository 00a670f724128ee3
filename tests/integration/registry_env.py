"""A real registry environment for the integration tests: Debian's docker-registry (distribution 2.8).

``start_registry_env()`` builds, in a fresh temporary directory:

* a test CA and one server certificate (IP SANs 127.0.0.1/.2/.3, DNS ``localhost``) used by every server,
  plus an unrelated "untrusted" CA and a certificate with the same SANs signed by it;
* ``basic``: docker-registry over TLS with htpasswd auth (realm ``basic-realm``);
* ``token``: docker-registry over TLS with delegated token auth whose realm is the token server below;
* ``token_server``: an in-process HTTPS token server on 127.0.0.2 that issues ES256 JWTs the registry verifies;
* ``open``: docker-registry over TLS with no auth at all;
* a tiny real image pushed through the registry HTTP API into each registry (see ``DIGEST_KEYS``).

The certificates come from ``make_pki()`` (a ``Pki``), which can also be made once and shared (conftest does).

Everything is torn down by ``RegistryEnv.stop()``; the registry processes are also killed at interpreter
exit and (through ``setpriv --pdeathsig``) when the Python process dies.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import datetime as dt
import gzip
import hashlib
import http.server
import io
import ipaddress
import json
import os
import secrets
import shutil
import socket
import ssl
import subprocess
import tarfile
import tempfile
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import bcrypt
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

REGISTRY_BIN = "/usr/bin/docker-registry"

BASIC_REALM = "basic-realm"
TOKEN_SERVICE = "token-registry"
TOKEN_ISSUER = "test-token-issuer"
TOKEN_LIFETIME = 300

ALICE = ("alice", "alice-pw-8f2k")
BOB = ("bob", "bob-pw-71qq")
PUSHER = ("pusher", "pusher-pw-5d0e")
ALICE_REFRESH_TOKEN = "alice-refresh-tok-3c9d"

#: token server accounts (username -> password)
TOKEN_USERS: dict[str, str] = dict([ALICE, BOB, PUSHER])
#: htpasswd accounts of the basic registry (bob is deliberately *not* one of them)
BASIC_USERS: dict[str, str] = dict([ALICE, PUSHER])
#: refresh token -> user, for grant_type=refresh_token
REFRESH_TOKENS: dict[str, str] = {ALICE_REFRESH_TOKEN: ALICE[0]}
#: token server ACL: user (None = anonymous) -> [(repository name prefix, allowed actions)]
ACL: dict[str | None, list[tuple[str, frozenset[str]]]] = {
    None: [("public/", frozenset({"pull"}))],
    "alice": [("acme/", frozenset({"pull"})), ("public/", frozenset({"pull"}))],
    "bob": [("other/", frozenset({"pull"}))],
    "pusher": [("", frozenset({"pull", "push", "delete", "*"}))],
}

MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"
CONFIG_V1 = "application/vnd.docker.container.image.v1+json"
LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"

#: images the fixture pushes: (registry name, repository, tag). The digest key is "<registry>/<repo>:<tag>".
IMAGES: tuple[tuple[str, str, str], ...] = (
    ("basic", "acme/web", "1.0"),
    ("token", "acme/web", "1.0"),
    ("token", "public/hello", "1.0"),
    ("token", "other/tool", "2.0"),
    ("open", "acme/web", "1.0"),
)
DIGEST_KEYS: tuple[str, ...] = tuple(f"{reg}/{repo}:{tag}" for reg, repo, tag in IMAGES)

_READY_TIMEOUT = 20.0


class RegistryEnvError(RuntimeError):
    """The environment could not be built (missing binary, a server that does not come up, a failed push)."""


# --------------------------------------------------------------------------------------------------------------
# certificates


@dataclass(frozen=True)
class _KeyPair:
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def key_pem(self) -> bytes:
        return self.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption())


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "kubectl-pullsecret tests"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _validity(builder: x509.CertificateBuilder) -> x509.CertificateBuilder:
    now = dt.datetime.now(dt.UTC)
    return builder.not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=2))


def _make_ca(cn: str) -> _KeyPair:
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(_name(cn)).public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                            content_commitment=False, key_encipherment=False, data_encipherment=False,
                                            key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False))
    return _KeyPair(key, _validity(builder).sign(key, hashes.SHA256()))


def _issue(ca: _KeyPair, cn: str, *, server: bool) -> _KeyPair:
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(ca.cert.subject).public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False))
    if server:
        sans: list[x509.GeneralName] = [x509.DNSName("localhost")]
        sans += [x509.IPAddress(ipaddress.ip_address(f"127.0.0.{i}")) for i in (1, 2, 3)]
        builder = (builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
                   .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False))
    return _KeyPair(key, _validity(builder).sign(ca.key, hashes.SHA256()))


def _write(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)


@dataclass(frozen=True)
class Pki:
    """PEM files of the test PKI. Every server certificate has SANs 127.0.0.1, 127.0.0.2, 127.0.0.3, localhost."""

    directory: str
    ca_file: str            # the test CA
    server_cert: str        # signed by the test CA
    server_key: str
    untrusted_ca_file: str  # an unrelated CA ...
    untrusted_cert: str     # ... and a server certificate it signed: fails verification against ca_file
    untrusted_key: str
    token_signing_cert: str  # token signing certificate (signed by the test CA; the token registry's rootcertbundle)
    signer: TokenSigner = field(repr=False)


def make_pki(directory: str | Path) -> Pki:
    """Create the test CA, server, untrusted and token-signing certificates in ``directory`` (must exist)."""
    certs = Path(directory)
    ca = _make_ca("registry-env test CA")
    server = _issue(ca, "registry-env server", server=True)
    signing = _issue(ca, "registry-env token signer", server=False)
    untrusted_ca = _make_ca("registry-env UNTRUSTED CA")
    untrusted = _issue(untrusted_ca, "registry-env untrusted server", server=True)
    return Pki(
        directory=str(certs),
        ca_file=_write(certs / "ca.pem", ca.cert_pem()),
        server_cert=_write(certs / "server.pem", server.cert_pem()),
        server_key=_write(certs / "server-key.pem", server.key_pem()),
        untrusted_ca_file=_write(certs / "untrusted-ca.pem", untrusted_ca.cert_pem()),
        untrusted_cert=_write(certs / "untrusted.pem", untrusted.cert_pem()),
        untrusted_key=_write(certs / "untrusted-key.pem", untrusted.key_pem()),
        token_signing_cert=_write(certs / "token-signing.pem", signing.cert_pem()),
        signer=TokenSigner(signing),
    )


# --------------------------------------------------------------------------------------------------------------
# JWTs


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class TokenSigner:
    """Signs ES256 JWTs in the form docker-registry 2.8 accepts (x5c header with the signing certificate)."""

    def __init__(self, pair: _KeyPair) -> None:
        self._key = pair.key
        self._x5c = [base64.b64encode(pair.cert.public_bytes(serialization.Encoding.DER)).decode("ascii")]

    def mint(self, subject: str, access: Sequence[Mapping[str, Any]], *, lifetime: int = TOKEN_LIFETIME,
             audience: Any = TOKEN_SERVICE, issuer: str = TOKEN_ISSUER, claims: Mapping[str, Any] | None = None,
             header: Mapping[str, Any] | None = None) -> str:
        """A signed token. ``claims``/``header`` entries override or extend the defaults (a None value removes one)."""
        now = int(time.time())
        body: dict[str, Any] = {"iss": issuer, "sub": subject, "aud": audience, "exp": now + lifetime, "nbf": now - 5,
                                "iat": now, "jti": uuid.uuid4().hex, "access": [dict(a) for a in access]}
        head: dict[str, Any] = {"typ": "JWT", "alg": "ES256", "x5c": self._x5c}
        for target, extra in ((body, claims), (head, header)):
            for key, value in (extra or {}).items():
                if value is None:
                    target.pop(key, None)
                else:
                    target[key] = value
        signing_input = f"{_b64url(json.dumps(head).encode())}.{_b64url(json.dumps(body).encode())}"
        der = self._key.sign(signing_input.encode("ascii"), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)  # JWS wants the raw fixed-size r||s form, not DER
        return f"{signing_input}.{_b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


# --------------------------------------------------------------------------------------------------------------
# token server


class TokenRequest(NamedTuple):
    """One request the token server answered (recorded before the answer is written)."""

    method: str
    path: str                   # path without the query string, e.g. "/token"
    query: dict[str, str]       # query parameters; a repeated parameter's values are joined with " "
    username: str | None        # Basic auth user, or the form's username (POST); None when anonymous
    grant_type: str | None      # POST form grant_type; None for GET
    form: dict[str, str]        # POST form fields (empty for GET)
    scopes: tuple[str, ...]     # every requested scope (query and form, space-separated entries split)
    status: int                 # the HTTP status answered (0 when the connection was closed without one)


class TokenLog:
    """Thread-safe record of the token server's requests."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[TokenRequest] = []

    def append(self, entry: TokenRequest) -> None:
        with self._lock:
            self._entries.append(entry)

    def entries(self) -> list[TokenRequest]:
        with self._lock:
            return list(self._entries)

    def reset(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def __iter__(self) -> Iterator[TokenRequest]:
        return iter(self.entries())


def parse_scope(scope: str) -> tuple[str, str, list[str]] | None:
    """"repository:acme/web:pull,push" -> ("repository", "acme/web", ["pull", "push"]); None if malformed."""
    head, sep, actions = scope.rpartition(":")
    kind, sep2, name = head.partition(":")
    if not sep or not sep2 or not kind or not name:
        return None
    return kind, name, [a for a in actions.split(",") if a]


def grant(user: str | None, scopes: Sequence[str]) -> list[dict[str, Any]]:
    """The ``access`` claim for ``user`` (None = anonymous): the requested actions the ACL allows, nothing else.
    Repositories the user may do nothing with are left out, so a denied request yields ``[]``."""
    granted: dict[tuple[str, str], list[str]] = {}
    for scope in scopes:
        parsed = parse_scope(scope)
        if parsed is None:
            continue
        kind, name, actions = parsed
        if kind == "repository":
            allowed: frozenset[str] = frozenset().union(*[acts for prefix, acts in ACL.get(user, [])
                                                          if name.startswith(prefix)])
        elif kind == "registry" and name == "catalog" and user == "pusher":
            allowed = frozenset({"*"})
        else:
            allowed = frozenset()
        got = granted.setdefault((kind, name), [])
        got += [a for a in actions if a in allowed and a not in got]
    return [{"type": kind, "name": name, "actions": acts} for (kind, name), acts in granted.items() if acts]


class _TokenHTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: TokenServer


class _TokenHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _TokenHTTPServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        self.server.owner.write_log(f"{self.address_string()} {format % args}")

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._serve("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._serve("POST")

    def _serve(self, method: str) -> None:
        owner = self.server.owner
        split = urllib.parse.urlsplit(self.path)
        pairs = urllib.parse.parse_qsl(split.query, keep_blank_values=True)
        query: dict[str, str] = {}
        for key, value in pairs:
            query[key] = f"{query[key]} {value}" if key in query else value
        form: dict[str, str] = {}
        if method == "POST":
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode("utf-8", "replace") if length else ""
            form = dict(urllib.parse.parse_qsl(raw, keep_blank_values=True))
        scopes = tuple(s for k, v in pairs if k == "scope" for s in v.split())
        scopes += tuple(form.get("scope", "").split())
        basic = self._basic_auth()
        username = basic[0] if basic else (form.get("username") or None)
        grant_type = form.get("grant_type") if method == "POST" else None

        def answer(status: int, payload: Any | bytes, content_type: str = "application/json") -> None:
            owner.log.append(TokenRequest(method, split.path, query, username, grant_type, form, scopes, status))
            body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        failure = owner.failure
        if isinstance(failure, str):  # "close"
            owner.log.append(TokenRequest(method, split.path, query, username, grant_type, form, scopes, 0))
            self.close_connection = True
            return
        if failure is not None:
            answer(failure[0], failure[1], failure[2])
            return
        if split.path != "/token":
            answer(404, {"details": "not found"})
            return
        service = form.get("service") if method == "POST" else query.get("service")
        if service and service != TOKEN_SERVICE:
            answer(400, {"details": f"unknown service {service!r}"})
            return
        now = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
        if method == "GET":
            if self.headers.get("Authorization") and basic is None:
                answer(401, {"details": "invalid username/password"})
                return
            user: str | None = None
            if basic is not None:
                if TOKEN_USERS.get(basic[0]) != basic[1]:
                    answer(401, {"details": "invalid username/password"})
                    return
                user = basic[0]
            token = owner.signer.mint(user or "", grant(user, scopes))
            out: dict[str, Any] = {"token": token, "access_token": token, "expires_in": TOKEN_LIFETIME, "issued_at": now}
            if query.get("offline_token") == "true" and user is not None:
                refresh = next((t for t, u in REFRESH_TOKENS.items() if u == user), None)
                if refresh:
                    out["refresh_token"] = refresh
            answer(200, out)
            return
        # POST: OAuth2 (https://docs.docker.com/registry/spec/auth/oauth/)
        if grant_type == "password":
            name, password = form.get("username", ""), form.get("password", "")
            if not name or TOKEN_USERS.get(name) != password:
                answer(401, {"error": "invalid_grant"})
                return
            user = name
        elif grant_type == "refresh_token":
            found = REFRESH_TOKENS.get(form.get("refresh_token", ""))
            if found is None:
                answer(401, {"error": "invalid_grant"})
                return
            user = found
        else:
            answer(400, {"error": "unsupported_grant_type"})
            return
        access = grant(user, scopes)
        token = owner.signer.mint(user, access)
        out = {"access_token": token, "expires_in": TOKEN_LIFETIME, "issued_at": now,
               "scope": " ".join(f"{a['type']}:{a['name']}:{','.join(a['actions'])}" for a in access)}
        if grant_type == "refresh_token":
            out["refresh_token"] = form["refresh_token"]
        elif form.get("access_type") == "offline":
            refresh = next((t for t, u in REFRESH_TOKENS.items() if u == user), None)
            if refresh:
                out["refresh_token"] = refresh
        answer(200, out)

    def _basic_auth(self) -> tuple[str, str] | None:
        header = self.headers.get("Authorization") or ""
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            user, sep, password = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        return (user, password) if sep else None


class TokenServer:
    """The in-process HTTPS token server (see the module docstring); ``failure`` switches live on this object."""

    def __init__(self, host: str, cert_file: str, key_file: str, signer: TokenSigner, log_file: Path) -> None:
        self.signer = signer
        self.log = TokenLog()
        self.log_file = str(log_file)
        self.failure: tuple[int, bytes, str] | str | None = None
        self._log_lock = threading.Lock()
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_file, key_file)
        self._httpd = _TokenHTTPServer((host, 0), _TokenHandler)
        self._httpd.owner = self
        # the handshake happens in the per-connection thread, not in the accept loop
        self._httpd.socket = context.wrap_socket(self._httpd.socket, server_side=True, do_handshake_on_connect=False)
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="token-server", daemon=True)
        self._thread.start()

    @property
    def address(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"{host!s}:{port}"

    def fail_with(self, status: int = 500, body: bytes = b'{"details":"token server unavailable"}',
                  content_type: str = "application/json") -> None:
        """Every request (any path) is answered with this status and body until ``recover()``."""
        self.failure = (status, body, content_type)

    def fail_by_closing(self) -> None:
        """Every request is read and the connection closed without an answer until ``recover()``."""
        self.failure = "close"

    def recover(self) -> None:
        self.failure = None

    @contextlib.contextmanager
    def failing(self, status: int = 500) -> Iterator[None]:
        self.fail_with(status)
        try:
            yield
        finally:
            self.recover()

    def write_log(self, line: str) -> None:
        with self._log_lock, open(self.log_file, "a", encoding="utf-8") as fh:
            fh.write(f"{dt.datetime.now(dt.UTC).isoformat()} {line}\n")

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


# --------------------------------------------------------------------------------------------------------------
# registry processes

_LIVE: set[subprocess.Popen[bytes]] = set()
_LIVE_LOCK = threading.Lock()


def _kill_all() -> None:
    with _LIVE_LOCK:
        procs = list(_LIVE)
        _LIVE.clear()
    for proc in procs:
        _terminate(proc)


atexit.register(_kill_all)


def _terminate(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def tail(path: str | Path, lines: int = 30) -> str:
    try:
        return "\n".join(Path(path).read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError as exc:
        return f"(cannot read {path}: {exc})"


class _Registry:
    def __init__(self, name: str, workdir: Path, auth: dict[str, Any] | None, cert_file: str, key_file: str) -> None:
        self.name = name
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.dir = workdir / name
        (self.dir / "storage").mkdir(parents=True)
        self.log_file = self.dir / "registry.log"
        config: dict[str, Any] = {
            "version": 0.1,
            "log": {"level": "info", "formatter": "text", "fields": {"service": f"registry-{name}"}},
            "storage": {"filesystem": {"rootdirectory": str(self.dir / "storage")}, "delete": {"enabled": True},
                        "maintenance": {"uploadpurging": {"enabled": False}}},
            "http": {"addr": self.address, "secret": secrets.token_hex(16),
                     "tls": {"certificate": cert_file, "key": key_file},
                     "headers": {"X-Content-Type-Options": ["nosniff"]}},
        }
        if auth is not None:
            config["auth"] = auth
        self.config_file = self.dir / "config.yml"
        self.config_file.write_text(json.dumps(config, indent=2), encoding="utf-8")  # JSON is YAML
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        argv = [REGISTRY_BIN, "serve", str(self.config_file)]
        setpriv = shutil.which("setpriv")
        if setpriv:  # the registry dies with this process even if atexit never runs (SIGKILL)
            argv = [setpriv, "--pdeathsig", "KILL", "--", *argv]
        with open(self.log_file, "ab") as log:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                         cwd=self.dir, env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})
        with _LIVE_LOCK:
            _LIVE.add(self.proc)

    def wait_ready(self, ca_file: str, deadline: float) -> None:
        assert self.proc is not None
        last = "no attempt"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RegistryEnvError(f"docker-registry '{self.name}' exited with {self.proc.returncode} before it "
                                       f"answered; last log lines of {self.log_file}:\n{tail(self.log_file)}")
            try:
                resp = requests.get(f"https://{self.address}/v2/", verify=ca_file, timeout=1)
                if resp.status_code in (200, 401):
                    return
                last = f"HTTP {resp.status_code}"
            except requests.RequestException as exc:
                last = repr(exc)
            time.sleep(0.05)
        raise RegistryEnvError(f"docker-registry '{self.name}' on {self.address} did not answer /v2/ in "
                               f"{_READY_TIMEOUT:.0f}s (last: {last}); last log lines of {self.log_file}:\n"
                               f"{tail(self.log_file)}")

    def stop(self) -> None:
        if self.proc is not None:
            _terminate(self.proc)
            with _LIVE_LOCK:
                _LIVE.discard(self.proc)


# --------------------------------------------------------------------------------------------------------------
# image push through the registry HTTP API


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _image(label: str) -> tuple[bytes, bytes, bytes]:
    """(config, gzip layer, manifest) of a tiny single-layer image whose content depends on ``label``."""
    content = f"hello from {label}\n".encode()
    tar_buf = io.BytesIO()
    with tarfile.open(fileobj=tar_buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        info = tarfile.TarInfo("hello.txt")
        info.size, info.mtime, info.mode = len(content), 0, 0o644
        tar.addfile(info, io.BytesIO(content))
    layer_tar = tar_buf.getvalue()
    layer = gzip.compress(layer_tar, mtime=0)
    config = json.dumps({
        "architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
        "config": {"Cmd": ["/hello.txt"], "Labels": {"org.example.image": label}},
        "rootfs": {"type": "layers", "diff_ids": [_sha256(layer_tar)]},
        "history": [{"created": "2024-01-01T00:00:00Z", "created_by": "registry_env"}],
    }, sort_keys=True).encode()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": MANIFEST_V2,
        "config": {"mediaType": CONFIG_V1, "size": len(config), "digest": _sha256(config)},
        "layers": [{"mediaType": LAYER_GZIP, "size": len(layer), "digest": _sha256(layer)}],
    }, indent=3).encode()
    return config, layer, manifest


def push_image(session: requests.Session, registry: str, repo: str, tag: str, label: str) -> str:
    """Push a tiny image (monolithic blob uploads, then a schema2 manifest); returns Docker-Content-Digest."""
    base = f"https://{registry}"
    config, layer, manifest = _image(label)
    for blob in (config, layer):
        digest = _sha256(blob)
        start = session.post(f"{base}/v2/{repo}/blobs/uploads/", timeout=10)
        if start.status_code != 202:
            raise RegistryEnvError(f"push {registry}/{repo}: POST blobs/uploads/ -> {start.status_code} {start.text}")
        location = urllib.parse.urljoin(base, start.headers["Location"])
        location += ("&" if "?" in location else "?") + urllib.parse.urlencode({"digest": digest})
        put = session.put(location, data=blob, headers={"Content-Type": "application/octet-stream"}, timeout=10)
        if put.status_code != 201:
            raise RegistryEnvError(f"push {registry}/{repo}: PUT blob {digest} -> {put.status_code} {put.text}")
    resp = session.put(f"{base}/v2/{repo}/manifests/{tag}", data=manifest, headers={"Content-Type": MANIFEST_V2},
                       timeout=10)
    if resp.status_code != 201:
        raise RegistryEnvError(f"push {registry}/{repo}:{tag}: PUT manifest -> {resp.status_code} {resp.text}")
    digest = resp.headers.get("Docker-Content-Digest", "")
    if digest != _sha256(manifest):
        raise RegistryEnvError(f"push {registry}/{repo}:{tag}: registry digest {digest!r} != {_sha256(manifest)}")
    return digest


class _BearerAuth(requests.auth.AuthBase):
    def __init__(self, token: str) -> None:
        self.token = token

    def __call__(self, req: requests.PreparedRequest) -> requests.PreparedRequest:
        req.headers["Authorization"] = f"Bearer {self.token}"
        return req


# --------------------------------------------------------------------------------------------------------------
# the environment


@dataclass(frozen=True)
class RegistryEnv:
    """Addresses are "HOST:PORT" (no scheme); every server speaks HTTPS with a certificate from ``ca_file``."""

    ca_file: str                # PEM of the test CA that signed every server certificate
    basic: str                  # docker-registry, htpasswd auth (realm "basic-realm"), users BASIC_USERS
    token: str                  # docker-registry, token auth: realm token_realm, service TOKEN_SERVICE
    token_server: str           # "127.0.0.2:PORT", the realm's host
    open: str                   # docker-registry without auth
    token_realm: str            # "https://127.0.0.2:PORT/token"
    digests: dict[str, str]     # DIGEST_KEYS -> "sha256:..." as answered in Docker-Content-Digest
    token_log: TokenLog         # .entries() -> list[TokenRequest], .reset()
    token_control: TokenServer  # .fail_with(status), .fail_by_closing(), .recover(), .failing(status)
    server_cert: str            # CA-signed server certificate/key (SANs 127.0.0.1-3, localhost), e.g. for fakes
    server_key: str
    untrusted_ca_file: str      # an unrelated CA ...
    untrusted_cert: str         # ... and a server certificate/key it signed (same SANs): fails against ca_file
    untrusted_key: str
    workdir: str                # the temporary directory holding everything (removed by stop())
    logs: dict[str, str]        # "basic" | "token" | "open" | "token_server" -> log file path
    pki: Pki = field(repr=False)
    _stop: Callable[[], None] = field(repr=False, compare=False)

    def url(self, name: str) -> str:
        """url("basic") -> "https://127.0.0.1:PORT"."""
        return f"https://{getattr(self, name)}"

    def mint_token(self, subject: str, access: Sequence[Mapping[str, Any]], **kwargs: Any) -> str:
        """A token for the token registry, bypassing the token server (see TokenSigner.mint for kwargs)."""
        return self.pki.signer.mint(subject, access, **kwargs)

    def log_tail(self, name: str, lines: int = 30) -> str:
        return tail(self.logs[name], lines)

    def stop(self) -> None:
        self._stop()


def start_registry_env(pki: Pki | None = None, base_dir: str | Path | None = None) -> RegistryEnv:
    """Build and start everything (well under a second here); call ``.stop()`` on the result when done.

    ``pki``: reuse certificates made by ``make_pki`` (e.g. a session's); by default a new PKI is made in the
    environment's temporary directory. ``base_dir``: where the temporary directory goes (default: $TMPDIR).
    """
    if not os.access(REGISTRY_BIN, os.X_OK):
        raise RegistryEnvError(f"{REGISTRY_BIN} is missing: the registry integration tests need the Debian package "
                               "'docker-registry' (distribution 2.8), which .ci/run installs "
                               "(apt-get install docker-registry)")
    work = Path(tempfile.mkdtemp(prefix="registry-env-", dir=base_dir))
    registries: list[_Registry] = []
    token_server: TokenServer | None = None

    stopped = threading.Event()

    def stop(remove: bool = True) -> None:
        if stopped.is_set():
            return
        stopped.set()
        atexit.unregister(stop)
        for reg in registries:
            reg.stop()
        if token_server is not None:
            token_server.stop()
        if remove:
            shutil.rmtree(work, ignore_errors=True)

    atexit.register(stop)  # an env nobody stopped is still torn down (processes killed, directory removed)
    try:
        if pki is None:
            (work / "certs").mkdir()
            pki = make_pki(work / "certs")
        ca_file, server_cert, server_key = pki.ca_file, pki.server_cert, pki.server_key
        htpasswd = work / "htpasswd"
        htpasswd.write_text("".join(f"{user}:{bcrypt.hashpw(pw.encode(), bcrypt.gensalt(rounds=4)).decode()}\n"
                                    for user, pw in BASIC_USERS.items()), encoding="utf-8")

        signer = pki.signer
        token_server = TokenServer("127.0.0.2", server_cert, server_key, signer, work / "token-server.log")
        realm = f"https://{token_server.address}/token"
        basic = _Registry("basic", work, {"htpasswd": {"realm": BASIC_REALM, "path": str(htpasswd)}}, server_cert, server_key)
        token = _Registry("token", work, {"token": {"realm": realm, "service": TOKEN_SERVICE, "issuer": TOKEN_ISSUER,
                                                    "rootcertbundle": pki.token_signing_cert}}, server_cert, server_key)
        open_ = _Registry("open", work, None, server_cert, server_key)
        registries += [basic, token, open_]
        for reg in registries:
            reg.start()
        deadline = time.monotonic() + _READY_TIMEOUT
        for reg in registries:
            reg.wait_ready(ca_file, deadline)
        ready = requests.get(realm, verify=ca_file, timeout=5)
        if ready.status_code != 200:
            raise RegistryEnvError(f"token server {realm} answered {ready.status_code}: {ready.text}")

        by_name = {reg.name: reg for reg in registries}
        digests: dict[str, str] = {}
        for reg_name, repo, tag in IMAGES:
            with requests.Session() as session:
                # without trust_env=False, REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE silently override session.verify
                session.trust_env = False
                session.verify = ca_file
                if reg_name == "basic":
                    session.auth = PUSHER
                elif reg_name == "token":
                    session.auth = _BearerAuth(signer.mint(PUSHER[0], [{"type": "repository", "name": repo,
                                                                         "actions": ["pull", "push"]}]))
                key = f"{reg_name}/{repo}:{tag}"
                digests[key] = push_image(session, by_name[reg_name].address, repo, tag, label=key)
        token_server.log.reset()
        return RegistryEnv(
            ca_file=ca_file, basic=basic.address, token=token.address, token_server=token_server.address,
            open=open_.address, token_realm=realm, digests=digests, token_log=token_server.log,
            token_control=token_server, server_cert=server_cert, server_key=server_key,
            untrusted_ca_file=pki.untrusted_ca_file, untrusted_cert=pki.untrusted_cert, untrusted_key=pki.untrusted_key,
            workdir=str(work), logs={**{r.name: str(r.log_file) for r in registries}, "token_server": token_server.log_file},
            pki=pki, _stop=stop,
        )
    except BaseException as exc:
        stop(remove=False)  # keep the logs and configs for a post-mortem
        if isinstance(exc, RegistryEnvError):
            raise RegistryEnvError(f"{exc}\n(kept {work} for inspection)") from exc
        raise
