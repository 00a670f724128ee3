"""Registry v2 client: one probe is the auth flow a container runtime follows for one
image and one credential, ending in one of SPEC.md's probe outcomes.

Flow (DOMAIN.md §4; distribution docs/spec/auth/token.md and api.md, containerd
remotes/docker/auth, containers/image docker_client.go):
  1. GET /v2/ without credentials: 200 open, 401 challenges, 404 not a registry.
  2. Bearer: GET realm?service=&scope=repository:<repo>:pull with Basic credentials
     (OAuth2 POST for an identity token); Basic: the credentials go on the manifest request.
  3. HEAD /v2/<repo>/manifests/<ref> with the full Accept list; GET to read the error
     body of a 4xx, or when HEAD is not allowed.

This is the only module (with probe.py, which schedules it) that talks to registries.
Secrets are never logged or put into a result: tokens received are registered with the
redactor, error bodies are cut down to one sanitised line.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
import os
import re
import socket
import ssl
import threading
import time
import urllib.parse
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from kubectl_pullsecret import redact
from kubectl_pullsecret.challenges import Challenge, parse_challenges, preferred
from kubectl_pullsecret.dockerconfig import encode_auth
from kubectl_pullsecret.probe_model import Login, Result, api_host
from kubectl_pullsecret.redact import scrub as _scrub_at_capture
from kubectl_pullsecret.reference import host_in_scopes, strip_port

log = logging.getLogger(__name__)

# containerd/CRI-O ask for every manifest type they can pull (DOMAIN.md §4.5).
MANIFEST_ACCEPT = ", ".join((
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "*/*",
))
USER_AGENT = "kubectl-pullsecret"
BODY_CAP = 256 * 1024  # error and token bodies; a manifest is never read whole by HEAD
MAX_REDIRECTS = 5


@dataclass(frozen=True)
class Settings:
    timeout: float = 10.0  # seconds, per request, whole answer included (SPEC --probe-timeout)
    insecure: frozenset[str] = frozenset()  # hosts (host or host:port): plain http allowed, no TLS verification
    ca_file: str | None = None  # extra CA bundle, on top of the system's
    ca_data: str = ""  # extra PEM certificates (OpenShift's additionalTrustedCA)
    body_cap: int = BODY_CAP
    # A node's trust (nodeprobe.py): its CA bundle in place of this machine's store, and
    # per-registry CAs (certs.d/<host[:port]>/*.crt), trusted for every request of a probe
    # of that registry only (its token server's too), as by containers/image and containerd,
    # which build one HTTP client per registry from its certs.d directory.
    system_cas: str | None = None
    host_cas: tuple[tuple[str, str], ...] = ()  # (host[:port], PEM text)


def probe_settings(timeout: float, insecure_registries: Iterable[str], ca_file: str | None,
                   cluster_trust: tuple[frozenset[str], str] = (frozenset(), "")) -> Settings:
    """The flags (--probe-timeout, --insecure-registry, --registry-ca-file) plus what the
    cluster's nodes trust (OpenShift image.config: insecure hosts, additional CA PEMs)."""
    insecure, ca_data = cluster_trust
    return Settings(timeout=timeout, insecure=frozenset(h.lower() for h in insecure_registries) | insecure,
                    ca_file=ca_file, ca_data=ca_data)


class _Fail(Exception):
    """A classified failure inside the flow; becomes a Result."""

    def __init__(self, outcome: str, detail: str, status: int | None = None,
                 rate_limit: Mapping[str, Any] | None = None, error: str | None = None) -> None:
        super().__init__(detail)
        self.outcome, self.detail, self.status, self.rate_limit = outcome, detail, status, rate_limit
        self.error = error  # the transport error's class (ConnectionError, SSLError, ...) when there was one


@dataclass(frozen=True)
class Response:
    status: int
    headers: Mapping[str, str]  # case-insensitive, repeated headers joined (requests)
    www_authenticate: tuple[str, ...]  # every WWW-Authenticate line, as sent (not joined)
    body: bytes  # at most body_cap bytes
    auth_withheld_by: str | None = None  # the host a redirect led to, when Authorization was not sent there


# --- transport: a hard deadline per request ----------------------------------------
# requests' timeout bounds each socket operation, not the whole answer: a server that
# drips one byte per second would hold a probe forever. Each request therefore runs
# under a watchdog that shuts its connection's socket down at the deadline.

_tracking = threading.local()


def _track(conn: HTTPConnection) -> None:
    holder = getattr(_tracking, "holder", None)
    if holder is not None:
        holder.append(conn)


class _TrackedHTTPConnection(HTTPConnection):
    def connect(self) -> None:
        _track(self)
        super().connect()

    def request(self, *args: Any, **kwargs: Any) -> None:
        _track(self)
        super().request(*args, **kwargs)


class _TrackedHTTPSConnection(_TrackedHTTPConnection, HTTPSConnection):
    """MRO: the tracking methods first, then HTTPSConnection's (TLS) connect."""


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _TrackedHTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _TrackedHTTPSConnection


class _Adapter(HTTPAdapter):
    def __init__(self, ssl_context: ssl.SSLContext | None) -> None:
        self._ssl_context = ssl_context
        super().__init__(pool_connections=4, pool_maxsize=4, max_retries=0)

    def cert_verify(self, conn: Any, url: str, verify: bool | str, cert: Any) -> None:
        # requests points every new connection at certifi's bundle, which urllib3 then
        # loads into our shared context again (~50 ms each): the context already trusts it.
        super().cert_verify(conn, url, verify, cert)  # type: ignore[no-untyped-call]
        if self._ssl_context is not None:
            conn.ca_certs = None
            conn.ca_cert_dir = None

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any) -> None:
        if self._ssl_context is not None:
            pool_kwargs["ssl_context"] = self._ssl_context
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}


def _shutdown(conns: list[HTTPConnection]) -> None:
    for conn in list(conns):
        sock = getattr(conn, "sock", None)
        if sock is None:
            continue
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def _one_line(text: str, limit: int = 160) -> str:
    """A server-supplied text made safe to show: printable, one line, bounded, and
    scrubbed at capture (a hostile registry may echo the credentials it was sent)."""
    text = _scrub_at_capture(re.sub(r"[\x00-\x1f\x7f]+", " ", text)).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _host_of(url: str) -> str:
    return urllib.parse.urlsplit(url).netloc.lower()


def _is_ip(hostname: str) -> bool:
    try:
        ipaddress.ip_address(hostname.strip("[]"))
    except ValueError:
        return False
    return True


# The detail of a tls-error whose certificate did not verify against the trust in use
# (not a protocol failure): what a node probe with an unknown CA bundle cannot conclude.
_UNTRUSTED = re.compile(r"TLS certificate of (\S+) is not trusted here \(")


def untrusted_certificate(detail: str) -> str | None:
    """The host whose certificate failed verification, when `detail` (a tls-error's)
    says so; None for any other failure (no TLS spoken, handshake failed, plain http)."""
    m = _UNTRUSTED.match(detail)
    return m.group(1) if m else None


def _network_failure(exc: Exception, url: str, timeout: float) -> _Fail:
    """Map a transport exception to unreachable / tls-error, in words a user acts on."""
    host = _host_of(url)
    text = str(exc)
    if isinstance(exc, requests.exceptions.SSLError):
        if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
            why = re.search(r"certificate verify failed: ([^()'\"]+)", text)
            reason = why.group(1).strip() if why else "certificate verify failed"
            return _Fail("tls-error", f"TLS certificate of {host} is not trusted here ({reason}); "
                                      "pass --registry-ca-file with its CA, or --insecure-registry for a test registry")
        if "WRONG_VERSION_NUMBER" in text or "wrong version number" in text or "record layer" in text:
            return _Fail("tls-error", f"{host} does not speak TLS on this port (a plain-http registry?); "
                                      "declare it with --insecure-registry if that is intended")
        if "EOF" in text or "UNEXPECTED_EOF" in text:
            return _Fail("tls-error", f"{host} closed the connection during the TLS handshake (a plain-http registry, "
                                      "or a proxy in the way?); declare a plain-http registry with --insecure-registry")
        reason = re.search(r"\[SSL: ([A-Z_]+)\]", text)
        return _Fail("tls-error", f"TLS handshake with {host} failed ({reason.group(1) if reason else 'SSL error'})")
    if isinstance(exc, requests.exceptions.ConnectTimeout | requests.exceptions.ReadTimeout):
        return _Fail("unreachable", f"{host} did not answer within {timeout:g}s")
    if isinstance(exc, requests.exceptions.ProxyError):
        return _Fail("unreachable", f"the proxy refused or failed the connection to {host}")
    if isinstance(exc, requests.exceptions.ConnectionError):
        if "Name or service not known" in text or "nodename nor servname" in text or "NameResolutionError" in text \
                or "Temporary failure in name resolution" in text or "No address associated" in text:
            return _Fail("unreachable", f"cannot resolve {strip_port(host)} (DNS)")
        if "Connection refused" in text:
            return _Fail("unreachable", f"connection to {host} refused")
        if "Connection reset" in text or "RemoteDisconnected" in text or "BadStatusLine" in text:
            return _Fail("unreachable", f"{host} closed the connection without a valid HTTP answer")
        if "Network is unreachable" in text or "No route to host" in text:
            return _Fail("unreachable", f"no network route to {host}")
        return _Fail("unreachable", f"cannot connect to {host}: {_one_line(text, 120)}")
    return _Fail("unreachable", f"request to {host} failed: {type(exc).__name__}")


def _timed_out(host: str, url: str, timeout: float, answered: bool) -> _Fail:
    if answered:
        return _Fail("unreachable", f"{host} did not send a complete answer within {timeout:g}s", error="Timeout")
    hint = (" (a plain-http registry on an https request does that: declare it with --insecure-registry)"
            if url.startswith("https://") else "")
    return _Fail("unreachable", f"{host} did not answer within {timeout:g}s{hint}", error="Timeout")


def _rate_limit(headers: Mapping[str, str]) -> dict[str, Any] | None:
    """Docker Hub's ratelimit-limit/remaining ("100;w=21600") and Retry-After."""
    out: dict[str, Any] = {}
    for name, key in (("ratelimit-limit", "limit"), ("ratelimit-remaining", "remaining")):
        value = headers.get(name)
        if value:
            m = re.match(r"\s*(\d+)", value)
            if m:
                out[key] = int(m.group(1))
            w = re.search(r"w=(\d+)", value)
            if w:
                out["windowSeconds"] = int(w.group(1))
    retry = headers.get("retry-after")
    if retry:
        retry = retry.strip()
        out["retryAfter"] = int(retry) if retry.isdigit() else _one_line(retry, 40)
    return out or None


def _errors(body: bytes) -> tuple[str | None, str]:
    """The registry's {"errors":[{"code","message"}]}, or a token server's
    {"details"} / {"error", "error_description"}: (first code, one line)."""
    try:
        doc = json.loads(body.decode("utf-8", "replace")) if body else None
    except ValueError:
        return None, ""
    if not isinstance(doc, dict):
        return None, ""
    errors = doc.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        code = errors[0].get("code")
        message = errors[0].get("message")
        return (str(code) if isinstance(code, str) else None,
                _one_line(str(message)) if isinstance(message, str) else "")
    for key in ("details", "error_description", "error", "message"):
        if isinstance(doc.get(key), str):
            code = doc.get("error") if isinstance(doc.get("error"), str) else None
            return (code, _one_line(doc[key]))
    return None, ""


def _status(status: int, code: str | None, message: str) -> str:
    """"HTTP 401, UNAUTHORIZED: authentication required" (server text sanitised)."""
    out = f"HTTP {status}"
    if code:
        out += f", {_one_line(code, 40)}"
    if message:
        out += f"{':' if code else ','} {message}"
    return out


def _basic(login: Login) -> str:
    value = encode_auth(login.username, login.password)
    redact.register(value)
    return f"Basic {value}"


@dataclass
class Memo:
    """Compute-once cells shared by the probe threads: the first caller computes,
    the others wait for its value (no thread waits on a queued task, so no deadlock)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    cells: dict[Any, tuple[threading.Event, list[Any]]] = field(default_factory=dict)

    def get(self, key: Any, compute: Callable[[], Any]) -> Any:
        with self.lock:
            cell = self.cells.get(key)
            owner = cell is None
            if cell is None:
                cell = (threading.Event(), [])
                self.cells[key] = cell
        event, box = cell
        if owner:
            try:
                box.append(compute())
            except BaseException as exc:  # noqa: BLE001 - handed to every waiter, then re-raised
                box.append(exc)
            finally:
                event.set()
        else:
            event.wait()
        value = box[0]
        if isinstance(value, BaseException):
            raise value
        return value


@dataclass(frozen=True)
class _Ping:
    base: str  # scheme://host
    challenge: Challenge | None  # None (and no fail): open, or no challenge to follow
    fail: _Fail | None = None


class Client:
    """One per run: sessions per thread, and the ping/token caches every probe shares."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._local = threading.local()
        self._pings = Memo()
        self._tokens = Memo()
        self._dns = Memo()
        self._count_lock = threading.Lock()
        self.request_count = 0  # every HTTP request of the run (redirect hops and failed attempts included)
        self._contexts: dict[tuple[bool, tuple[str, ...]], ssl.SSLContext] = {}
        self._context_lock = threading.Lock()
        # The certs.d entries trusted by the probe running on this thread (see _run).
        self._probing = threading.local()
        # Unverified TLS is what --insecure-registry asks for: no urllib3 warning per request.
        # Installed once, here: the filter list is process-wide, so changing it around each
        # request (catch_warnings) races between the probe threads.
        warnings.filterwarnings("ignore", category=urllib3.exceptions.InsecureRequestWarning)

    def _ssl_context(self, insecure: bool, trust: tuple[str, ...] = ()) -> ssl.SSLContext:
        """One TLS context per run and trust (loading a CA bundle costs ~50 ms of CPU;
        urllib3 would do it per connection). Trust: the system's CAs (requests' certifi
        bundle when the system has none), REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE,
        --registry-ca-file; on a node, its bundle and the certs.d CAs of the `trust`
        entries (the registry being probed) instead."""
        with self._context_lock:
            ctx = self._contexts.get((insecure, trust))
            if ctx is not None:
                return ctx
            if insecure:
                # Nothing is verified: no CA store to load.
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            elif self.settings.system_cas is not None:
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies, checks host names
                with contextlib.suppress(OSError, ssl.SSLError):
                    ctx.load_verify_locations(self.settings.system_cas)
            else:
                ctx = self._local_context()
            if not insecure:
                pems = [self.settings.ca_data] + [pem for h, pem in self.settings.host_cas if h in trust]
                for pem in filter(None, pems):
                    try:
                        ctx.load_verify_locations(cadata=pem)
                    except (ssl.SSLError, ValueError):
                        log.warning("a configured CA certificate could not be loaded; it is not trusted")
            self._contexts[(insecure, trust)] = ctx
            return ctx

    def _local_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context()  # the system's trust store (as kubectl, oc, skopeo)
        loaded = {os.path.realpath(p) for p in (ssl.get_default_verify_paths().cafile,) if p}
        bundles = [os.environ[v] for v in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE") if os.environ.get(v)]
        if not ctx.cert_store_stats().get("x509_ca"):
            try:  # no system store (some macOS or container Pythons): requests' bundle
                import certifi

                bundles.append(certifi.where())
            except ImportError:
                pass
        for bundle in bundles:
            if os.path.realpath(bundle) in loaded:
                continue  # parsing a bundle costs ~50 ms: never twice
            loaded.add(os.path.realpath(bundle))
            with contextlib.suppress(OSError, ssl.SSLError):
                ctx.load_verify_locations(bundle)
        if self.settings.ca_file:
            ctx.load_verify_locations(self.settings.ca_file)
        return ctx

    # -- plumbing ------------------------------------------------------------------

    def insecure(self, host: str) -> bool:
        return host_in_scopes(host, self.settings.insecure)

    def _trust_of(self, registry: str) -> tuple[str, ...]:
        """The certs.d entries (a node's) that a probe of `registry` trusts: its API host's
        (api_host) and the registry's own name (containers/image reads certs.d/docker.io
        for Docker Hub). Empty for a local probe."""
        names = {registry.lower(), api_host(registry).lower()}
        return tuple(h for h, _ in self.settings.host_cas if h in names)

    def _current_trust(self, host: str) -> tuple[str, ...]:
        """The certs.d entries a request to `host` made now trusts: the probed registry's
        for every request of a probe (its token server's and redirects' too, as the
        runtime's one client per registry does); the host's own outside a probe."""
        trust: tuple[str, ...] | None = getattr(self._probing, "trust", None)
        if trust is None:
            trust = tuple(h for h, _ in self.settings.host_cas if h == host)
        return trust

    def _session(self, insecure: bool, host: str) -> requests.Session:
        # A registry with CAs of its own (a node's certs.d) gets sessions of its own.
        trust = () if insecure else self._current_trust(host)
        name = f"{'insecure' if insecure else 'secure'}/{','.join(trust)}"
        session: requests.Session | None = getattr(self._local, name, None)
        if session is None:
            session = requests.Session()
            # The environment is read by hand: proxies yes (per request, NO_PROXY honoured),
            # but never ~/.netrc credentials, and CA bundles go into our one context.
            session.trust_env = False
            session.headers["User-Agent"] = USER_AGENT
            # Ask for uncompressed bodies (a server that compresses anyway is decoded by
            # urllib3 ≥ 2.6, which bounds decompression per read: no gzip bomb).
            session.headers["Accept-Encoding"] = "identity"
            adapter = _Adapter(self._ssl_context(insecure, trust))
            session.mount("https://", adapter)
            session.mount("http://", adapter)
            setattr(self._local, name, session)
        return session

    def _resolve(self, hostname: str) -> _Fail | None:
        """The first lookup of a host, bounded by the timeout: no socket timeout covers
        the resolver, and a machine whose DNS server does not answer would otherwise wait
        its resolver's own timeouts, per host."""
        box: list[BaseException | None] = []

        def lookup() -> None:
            try:
                socket.getaddrinfo(hostname, None)
                box.append(None)
            except OSError as exc:
                box.append(exc)

        worker = threading.Thread(target=lookup, name=f"dns-{hostname}", daemon=True)
        worker.start()
        worker.join(self.settings.timeout)
        if not box:
            return _Fail("unreachable", f"the DNS lookup of {hostname} did not answer within {self.settings.timeout:g}s",
                         error="Timeout")
        if isinstance(box[0], socket.gaierror):
            return _Fail("unreachable", f"cannot resolve {hostname} (DNS)", error="gaierror")
        return None  # resolved (or an error the connection itself will report)

    def _send_once(self, method: str, url: str, headers: Mapping[str, str], data: Mapping[str, str] | None) -> Response:
        """One HTTP request, no redirect followed. Every attempt is counted and logged at
        DEBUG (method, URL without its query, status or error, time), answered or not:
        a DNS, connect, TLS or timeout failure too, and the https try before a plain-http
        fallback."""
        with self._count_lock:
            self.request_count += 1
        started = time.perf_counter()
        shown = url.split("?", 1)[0]
        try:
            resp = self._exchange(method, url, headers, data)
        except _Fail as fail:
            log.debug("HTTP %s %s -> %s: %s (%.0f ms)", method, shown, fail.error or fail.outcome, fail.detail,
                      (time.perf_counter() - started) * 1000)
            raise
        except Exception as exc:
            log.debug("HTTP %s %s -> %s (%.0f ms)", method, shown, type(exc).__name__,
                      (time.perf_counter() - started) * 1000)
            raise
        log.debug("HTTP %s %s -> %d (%.0f ms)", method, shown, resp.status, (time.perf_counter() - started) * 1000)
        return resp

    def _exchange(self, method: str, url: str, headers: Mapping[str, str], data: Mapping[str, str] | None) -> Response:
        """The request itself, under its deadline: a Response, or a classified _Fail."""
        host = _host_of(url)
        insecure = self.insecure(host)
        timeout = self.settings.timeout
        proxies = requests.utils.get_environ_proxies(url)
        hostname = (urllib.parse.urlsplit(url).hostname or "").lower()
        if not proxies and hostname and not _is_ip(hostname):  # through a proxy, the proxy resolves
            failed: _Fail | None = self._dns.get(hostname, lambda: self._resolve(hostname))
            if failed is not None:
                raise failed
        holder: list[HTTPConnection] = []
        fired = threading.Event()

        def expire() -> None:
            fired.set()
            _shutdown(holder)

        timer = threading.Timer(timeout, expire)
        timer.daemon = True
        _tracking.holder = holder
        timer.start()
        try:
            resp = self._session(insecure, host).request(
                method, url, headers=dict(headers), data=data, stream=True, allow_redirects=False,
                timeout=(timeout, timeout), verify=not insecure, proxies=proxies)
            try:
                body = bytearray()
                if method != "HEAD":
                    for chunk in resp.raw.stream(16384, decode_content=True):
                        body += chunk
                        if len(body) > self.settings.body_cap:
                            del body[self.settings.body_cap:]
                            break
                www_authenticate = tuple(resp.raw.headers.getlist("www-authenticate"))
            finally:
                resp.close()
        except Exception as exc:
            if fired.is_set():
                raise _timed_out(host, url, timeout, answered="resp" in locals()) from None
            if isinstance(exc, requests.exceptions.RequestException):
                fail = _network_failure(exc, url, timeout)
                fail.error = type(exc).__name__
                raise fail from None
            if isinstance(exc, urllib3.exceptions.HTTPError | OSError | ValueError):
                raise _Fail("unreachable", f"{host} sent a broken HTTP answer ({type(exc).__name__})",
                            error=type(exc).__name__) from None
            raise
        finally:
            timer.cancel()
            _tracking.holder = None
        if fired.is_set():
            raise _timed_out(host, url, timeout, answered=True)
        return Response(resp.status_code, resp.headers, www_authenticate, bytes(body))

    def send(self, method: str, url: str, headers: Mapping[str, str] | None = None,
             data: Mapping[str, str] | None = None, authorization: str | None = None,
             http_auth_ok: bool = False, secret_data: Mapping[str, str] | None = None) -> Response:
        """One logical request, redirects followed by hand. Its credential, `authorization`
        (the Authorization header) or `secret_data` (form fields that are credentials, such
        as an OAuth2 refresh token), goes only to the host it was meant for, and never over
        plain http to a host not declared insecure: elsewhere the request goes without it,
        and the answer names that host (auth_withheld_by). A 301/302 turns a POST, a 303
        any method but HEAD, into a GET without body (RFC 9110 §15.4, Fetch)."""
        origin = _host_of(url)
        has_credential = bool(authorization or secret_data)
        for _ in range(MAX_REDIRECTS + 1):
            host = _host_of(url)
            scheme = urllib.parse.urlsplit(url).scheme
            trusted = host == origin and (scheme == "https" or self.insecure(origin) or http_auth_ok)
            hdrs = dict(headers or {})
            body = dict(data) if data is not None else None
            if trusted and authorization:
                hdrs["Authorization"] = authorization
            if trusted and secret_data:
                body = {**(body or {}), **secret_data}
            withheld = host if has_credential and not trusted else None
            resp = self._send_once(method, url, hdrs, body)
            if resp.status not in (301, 302, 303, 307, 308) or "location" not in resp.headers:
                return replace(resp, auth_withheld_by=withheld) if withheld else resp
            target = urllib.parse.urljoin(url, resp.headers["location"])
            if urllib.parse.urlsplit(target).scheme not in ("http", "https"):
                raise _Fail("not-a-registry", f"{host} redirected to a non-http location", resp.status)
            if urllib.parse.urlsplit(target).scheme == "http" and not self.insecure(_host_of(target)):
                raise _Fail("tls-error", f"{host} redirected to plain http ({_host_of(target)}); not followed "
                                         "(declare it with --insecure-registry if that is intended)", resp.status)
            if (resp.status in (301, 302) and method == "POST") or (resp.status == 303 and method != "HEAD"):
                method, data, secret_data = "GET", None, None
                headers = {k: v for k, v in (headers or {}).items() if k.lower() != "content-type"}
            url = target
        raise _Fail("not-a-registry", f"more than {MAX_REDIRECTS} redirects from {origin}")

    # -- flow steps ------------------------------------------------------------------

    def ping(self, host: str) -> _Ping:
        # Per trust too: registries sharing an API host may have different certs.d entries.
        result: _Ping = self._pings.get((host, self._current_trust(host)), lambda: self._ping(host))
        return result

    def _ping(self, host: str) -> _Ping:
        schemes = ["https", "http"] if self.insecure(host) else ["https"]
        last: _Fail | None = None
        for scheme in schemes:
            base = f"{scheme}://{host}"
            try:
                resp = self.send("GET", f"{base}/v2/")
            except _Fail as fail:
                last = fail
                continue
            return self._read_ping(base, resp)
        assert last is not None
        return _Ping(f"{schemes[0]}://{host}", None, last)

    def _read_ping(self, base: str, resp: Response) -> _Ping:
        host = _host_of(base)
        if resp.status == 401:
            challenge = _challenge_of(resp)
            if challenge is None:
                return _Ping(base, None, _Fail(
                    "not-a-registry", f"{host} answered /v2/ with 401 but no Basic or Bearer challenge", 401))
            return _Ping(base, challenge)
        if resp.status == 429:
            return _Ping(base, None, _Fail("rate-limited", f"{host} is rate-limiting requests (HTTP 429)", 429,
                                                  rate_limit=_rate_limit(resp.headers)))
        if resp.status == 404:
            kind = resp.headers.get("content-type", "no content type").split(";")[0]
            return _Ping(base, None, _Fail("not-a-registry", f"{host} answers HTTP but not the registry API: GET /v2/ "
                                                  f"returned 404 ({_one_line(kind, 40)})", 404))
        if resp.status >= 500:
            return _Ping(base, None, _Fail("unreachable", f"{host} answered /v2/ with a server error "
                                                  f"(HTTP {resp.status})", resp.status))
        if 200 <= resp.status < 300:
            api = resp.headers.get("docker-distribution-api-version", "")
            if not api.startswith("registry/2") and not _json_object(resp.body):
                kind = resp.headers.get("content-type", "no content type").split(";")[0]
                return _Ping(base, None, _Fail(
                    "not-a-registry", f"{host} answers HTTP but not the registry API: GET /v2/ returned "
                    f"{resp.status} ({_one_line(kind, 40)}) without a Docker-Distribution-API-Version header or a "
                    "JSON body", resp.status))
            return _Ping(base, None)
        # Other 4xx: no challenge to follow; the manifest request decides (containerd
        # does not ping at all).
        return _Ping(base, None)

    def token(self, registry: str, challenge: Challenge, login: Login, scope: str | None) -> str:
        """A token for the challenge. Cached per (realm, service, scope, credential, whether
        the registry is declared insecure: that decides if a plain-http realm gets the
        credential, and the certs.d trust of the probe) for the run."""
        realm = challenge.params.get("realm", "")
        service = challenge.params.get("service")
        key = (realm, service, scope, login, self.insecure(registry), self._current_trust(_host_of(realm)))
        result: str = self._tokens.get(key, lambda: self._token(registry, realm, service, login, scope))
        return result

    def _token(self, registry: str, realm: str, service: str | None, login: Login, scope: str | None) -> str:
        parts = urllib.parse.urlsplit(realm)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise _Fail("not-a-registry", f"{registry} sent a Bearer challenge with no usable realm "
                                          f"({_one_line(realm, 80) or 'empty'})")
        realm_host = parts.netloc.lower()
        # Credentials go over plain http only to a realm whose host, or whose registry, is
        # declared insecure; send() is told the same, so the two agree (otherwise a 401 to
        # a request that carried no credential would read as "rejected").
        http_ok = self.insecure(realm_host) or self.insecure(registry)
        if parts.scheme == "http" and not login.anonymous and not http_ok:
            raise _Fail("tls-error", f"the token realm {_one_line(realm, 100)} is plain http: credentials not sent "
                                     f"(declare --insecure-registry {realm_host} if that is intended)")
        params: dict[str, str] = {}
        if service:  # omitted when the challenge has none (distribution token.md)
            params["service"] = service
        if scope:
            params["scope"] = scope
        if login.uses_identitytoken:
            # OAuth2 (distribution docs/spec/auth/oauth.md): refresh-token grant.
            form = {"grant_type": "refresh_token", "client_id": USER_AGENT, **params}
            resp = self.send("POST", realm, headers={"Content-Type": "application/x-www-form-urlencoded"}, data=form,
                             secret_data={"refresh_token": login.identitytoken}, http_auth_ok=http_ok)
        else:
            sep = "&" if parts.query else "?"
            url = realm + (sep + urllib.parse.urlencode(params) if params else "")
            resp = self.send("GET", url, authorization=None if login.anonymous else _basic(login), http_auth_ok=http_ok)
        code, message = _errors(resp.body)
        said = f": {message}" if message else ""
        what = "identity token" if login.uses_identitytoken else "username/password"
        refused = resp.status in (401, 403) or (resp.status == 400 and login.uses_identitytoken)
        if refused and resp.auth_withheld_by:
            # Go's client re-posts a body on a 307/308 to any host: no claim about the runtime there.
            runtime = "" if login.uses_identitytoken else " (nor does the runtime forward it)"
            raise _Fail("credential-rejected", f"the token realm {realm_host} redirected to "
                        f"{resp.auth_withheld_by}, which refused the request (HTTP {resp.status}){said}: the "
                        f"{what} is not forwarded to another host{runtime}", resp.status)
        if resp.status in (401, 403):
            if login.anonymous:
                raise _Fail("auth-required", f"the token server {realm_host} refused an anonymous token "
                                             f"(HTTP {resp.status}){said}", resp.status)
            raise _Fail("credential-rejected", f"the token server {realm_host} rejected the {what} "
                                               f"(HTTP {resp.status}){said}", resp.status)
        if resp.status == 400 and login.uses_identitytoken:
            raise _Fail("credential-rejected", f"the token server {realm_host} rejected the identity token "
                                               f"(HTTP 400){said}", resp.status)
        if resp.status == 429:
            raise _Fail("rate-limited", f"the token server {realm_host} is rate-limiting (HTTP 429)", 429,
                        rate_limit=_rate_limit(resp.headers))
        if resp.status >= 500:
            raise _Fail("unreachable", f"the token server {realm_host} failed (HTTP {resp.status}){said}",
                        resp.status)
        if resp.status != 200:
            raise _Fail("not-a-registry", f"the token realm {realm_host} answered HTTP {resp.status}{said}",
                        resp.status)
        try:
            doc = json.loads(resp.body.decode("utf-8", "replace"))
        except ValueError:
            doc = None
        token: str | None = None
        if isinstance(doc, dict):
            # Both may be present; access_token is the OAuth2 name (token.md: prefer it).
            for name in ("access_token", "token"):
                value = doc.get(name)
                if isinstance(value, str) and value:
                    token = value
                    break
        if token is None:
            raise _Fail("not-a-registry", f"the token server {realm_host} answered 200 without a token "
                                          "(not JSON, or no token/access_token field)", 200)
        redact.register(token)
        return token

    def manifest(self, base: str, repository: str, ref: str, authorization: str | None) -> Response:
        url = f"{base}/v2/{repository}/manifests/{ref}"
        headers = {"Accept": MANIFEST_ACCEPT}
        resp = self.send("HEAD", url, headers=headers, authorization=authorization)
        if 400 <= resp.status < 500 and resp.status != 429:
            # HEAD has no body: GET to read the error code (and when HEAD is not allowed: 405).
            resp = self.send("GET", url, headers=headers, authorization=authorization)
        return resp

    # -- probes ---------------------------------------------------------------------

    def probe_image(self, registry: str, repository: str, ref: str, login: Login) -> Result:
        """The pull of one image with one credential, up to the manifest."""
        return self._run(registry, lambda host, state: self._probe_image(registry, host, repository, ref, login, state))

    def _run(self, registry: str, flow: Callable[[str, dict[str, Any]], Result]) -> Result:
        """Run one flow against the registry's API host: its Result, or its classified
        failure with how far it got (stage, auth server, realm); timed. Every request of
        the flow, to whichever host, trusts the registry's certs.d CAs (on a node)."""
        started = time.perf_counter()
        state: dict[str, Any] = {"stage": "ping", "auth_server": None, "realm": None}
        outer = getattr(self._probing, "trust", None)
        self._probing.trust = self._trust_of(registry)
        try:
            result = flow(api_host(registry), state)
        except _Fail as fail:
            result = Result(fail.outcome, registry, fail.detail, state["auth_server"], state["realm"], fail.status,
                            None, state["stage"], fail.rate_limit)
        finally:
            self._probing.trust = outer
        return replace(result, elapsed_ms=int((time.perf_counter() - started) * 1000))

    def _authorize(self, registry: str, base: str, challenge: Challenge | None, login: Login, scope: str | None,
                   state: dict[str, Any]) -> str | None:
        """The Authorization value the runtime sends after this challenge (None: nothing)."""
        if challenge is None:
            state["auth_server"] = None
            return None
        if challenge.scheme == "bearer":
            state["realm"] = challenge.params.get("realm")
            state["auth_server"] = _host_of(state["realm"] or "") or None
            state["stage"] = "token"
            return f"Bearer {self.token(registry, challenge, login, scope)}"
        state["auth_server"] = _host_of(base)
        return None if login.anonymous or login.uses_identitytoken else _basic(login)

    def _probe_image(self, registry: str, host: str, repository: str, ref: str, login: Login,
                     state: dict[str, Any]) -> Result:
        ping = self.ping(host)
        if ping.fail is not None:
            raise ping.fail
        scope = f"repository:{repository}:pull"
        challenge = ping.challenge
        authorization = self._authorize(registry, ping.base, challenge, login, scope, state)
        state["stage"] = "manifest"
        resp = self.manifest(ping.base, repository, ref, authorization)
        if resp.status == 401 and challenge is None:
            # /v2/ was open but this repository is not: follow the manifest's own
            # challenge, as containerd does (it never pings).
            challenge = _challenge_of(resp)
            authorization = self._authorize(registry, ping.base, challenge, login, scope, state)
            state["stage"] = "manifest"
            if authorization is not None:
                resp = self.manifest(ping.base, repository, ref, authorization)
        limits = _rate_limit(resp.headers)
        code, message = _errors(resp.body)
        st = _status(resp.status, code, message)
        by_digest = ":" in ref  # "algorithm:hex" (sha256, sha384, sha512); a tag has no ':'
        name = f"{registry}/{repository}{'@' if by_digest else ':'}{ref}"
        basic = challenge is not None and challenge.scheme == "basic"
        common = {"auth_server": state["auth_server"], "realm": state["realm"], "http_status": resp.status,
                  "stage": "manifest", "rate_limit": limits}
        if resp.status == 200:
            digest = resp.headers.get("docker-content-digest")
            if by_digest and digest and digest != ref:
                return Result("manifest-unknown", registry, f"{name}: the registry returned a different digest ({digest})",
                              digest=digest, **common)
            how = "anonymously" if authorization is None else "with the credential"
            return Result("ok", registry, f"manifest of {name} found {how}", digest=digest, **common)
        if resp.status == 429:
            return Result("rate-limited", registry, f"{registry} is rate-limiting pulls ({st})", **common)
        if resp.status in (401, 403):
            if login.anonymous:
                return Result("auth-required", registry, f"{registry} refused anonymous access to {repository} "
                                                      f"({st})", **common)
            if authorization is None:
                return Result("auth-required", registry, f"{registry} refused {repository} ({st}) without a Basic or "
                                                      "Bearer challenge to log in with", **common)
            if basic and resp.status == 401 and code not in ("DENIED",):
                return Result("credential-rejected", registry, f"{registry} rejected the username/password "
                                                            f"({st})", **common)
            return Result("access-denied", registry,
                          f"{registry} refused {repository} to the logged-in account ({st})",
                          **common)
        if resp.status == 404:
            if code == "NAME_UNKNOWN":
                what = f"repository {repository} does not exist on {registry}"
            else:
                what = f"{'digest' if by_digest else 'tag'} {ref} does not exist in {registry}/{repository}"
            return Result("manifest-unknown", registry, f"{what} ({st})", **common)
        if resp.status >= 500:
            return Result("unreachable", registry, f"{registry} failed the manifest request ({st})",
                          **common)
        return Result("not-a-registry", registry, f"{registry} answered a manifest request with {st}",
                      **common)

    def probe_login(self, registry: str, login: Login) -> Result:
        """A `docker login`: the credential alone, no image (secret/NAME targets)."""
        return self._run(registry, lambda host, state: self._probe_login(registry, host, login, state))

    def _probe_login(self, registry: str, host: str, login: Login, state: dict[str, Any]) -> Result:
        ping = self.ping(host)
        if ping.fail is not None:
            raise ping.fail
        if ping.challenge is None:
            return Result("ok", registry, f"{registry} needs no login (anonymous access to /v2/): the credential was "
                          "not checked", stage="login", http_status=200)
        authorization = self._authorize(registry, ping.base, ping.challenge, login, None, state)
        common: dict[str, Any] = {"auth_server": state["auth_server"], "realm": state["realm"], "stage": "login"}
        if ping.challenge.scheme == "bearer":
            return Result("ok", registry, f"the token server {state['auth_server']} accepted the credential",
                          http_status=200, **common)
        state["stage"] = "login"
        if login.uses_identitytoken:
            return Result("skipped", registry, f"{registry} uses Basic auth: an identity token cannot be used there",
                          **common)
        resp = self.send("GET", f"{ping.base}/v2/", authorization=authorization)
        code, message = _errors(resp.body)
        st = _status(resp.status, code, message)
        if 200 <= resp.status < 300:
            return Result("ok", registry, f"{registry} accepted the username/password", http_status=resp.status,
                          **common)
        if resp.status in (401, 403):
            return Result("credential-rejected", registry, f"{registry} rejected the username/password ({st})",
                          http_status=resp.status, **common)
        if resp.status == 429:
            return Result("rate-limited", registry, f"{registry} is rate-limiting (HTTP 429)", http_status=429,
                          rate_limit=_rate_limit(resp.headers), **common)
        return Result("unreachable", registry, f"{registry} answered the login with {st}", http_status=resp.status,
                      **common)


def _challenge_of(resp: Response) -> Challenge | None:
    """The challenge the runtime answers: from every WWW-Authenticate line as sent."""
    return preferred(parse_challenges(resp.www_authenticate))


def _json_object(body: bytes) -> bool:
    try:
        return isinstance(json.loads(body.decode("utf-8", "replace")), dict)
    except ValueError:
        return False
