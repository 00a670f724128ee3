"""The HTTPS server and the `FakeKube` test API: users, fault injection, request log, kubeconfig."""

from __future__ import annotations

import base64
import contextlib
import json
import re
import socket
import ssl
import struct
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml

from . import objects, rbac
from .api import ApiError, ApiHandler, ForbidRule, Request, Response, User, status_obj
from .kubelet import SimKubelet
from .pki import server_pki
from .resources import Catalog, Resource
from .store import Entry, Store, dumps

Obj = dict[str, Any]

ADMIN_USER = "admin"
ADMIN_TOKEN = "admin-token"
_STATUS_REASONS = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 405: "MethodNotAllowed",
                   409: "Conflict", 410: "Expired", 415: "UnsupportedMediaType", 422: "Invalid",
                   429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable", 504: "Timeout"}
_STATUS_MESSAGES = {429: "Too many requests, please try again later.",
                    500: "an error on the server (\"\") has prevented the request from succeeding",
                    503: "the server is currently unable to handle the request", 504: "the server was unable to return "
                    "a response in the time allotted, but may still be processing the request"}


@dataclass(frozen=True)
class RequestRecord:
    method: str
    path: str
    query: dict[str, str]
    user: str | None
    status: int  # 0: connection reset by a fault
    elapsed: float
    accept: str = ""
    content_type: str = ""


@dataclass
class FaultRule:
    """One injected fault. Matches on method, URL path (regex search) and user; `times` None = forever."""

    method: str | None = None
    path: str | None = None
    user: str | None = None
    status: int | None = None
    retry_after: int | None = None
    delay: float | None = None
    reset: bool = False
    times: int | None = None
    body: Any = None
    query: Mapping[str, str] | None = None  # parameter -> regex its value must match (re.search)
    hits: int = 0
    _regex: re.Pattern[str] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self._regex = re.compile(self.path) if self.path else None

    def matches(self, method: str, path: str, user: str | None, query: Mapping[str, str] | None = None) -> bool:
        if self.method is not None and self.method.upper() != method:
            return False
        if self._regex is not None and not self._regex.search(path):
            return False
        if self.query is not None:
            given = query or {}
            if any(k not in given or not re.search(v, given[k]) for k, v in self.query.items()):
                return False
        if self.user is not None and self.user != user:
            return False
        return self.times is None or self.hits < self.times

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.hits >= self.times


class _Reset(Exception):
    pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fakekube"
    sys_version = ""
    timeout = 300
    server: _HttpServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        return

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        self._serve()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET  # noqa: N815

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0] or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _serve(self) -> None:
        fake = self.server.fake
        start = time.perf_counter()
        split = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(split.path)  # clients escape ':' in names (system:image-pullers)
        query = {k: v[-1] for k, v in urllib.parse.parse_qs(split.query, keep_blank_values=True).items()}
        user: User | None = None
        recorded = False

        def record(status: int) -> None:
            # logged before the answer is written, so a client that has its answer finds the record
            nonlocal recorded
            if not recorded:
                recorded = True
                fake._record(RequestRecord(self.command, path, query, user.name if user else None, status,
                                           time.perf_counter() - start, self.headers.get("Accept", ""),
                                           self.headers.get("Content-Type", "")))

        def reply(response: Response) -> None:
            record(response.status)
            self._send(response)

        try:
            body = self._read_body()
            user = fake._authenticate(self.headers.get("Authorization", ""))
            if path == "/fakekube/requests":  # debug endpoint: not authenticated, not logged
                recorded = True
                self._send(Response(200, dumps(fake._log_summary())))
                return
            if user is not None:
                user = fake._impersonate(user, self.headers)
            fake._run_hooks(self.command, path)
            rule = fake._take_fault(self.command, path, user.name if user else None, query)
            if rule is not None:
                if rule.delay:
                    time.sleep(rule.delay)
                if rule.reset:
                    raise _Reset()
                if rule.status:
                    reply(fake._fault_response(rule))
                    return
            if user is None:
                reply(_status_response(ApiError(401, "Unauthorized", "Unauthorized")))
                return
            req = Request(self.command, path, query, {k.lower(): v for k, v in self.headers.items()}, body, user)
            try:
                response = fake._api.handle(req)
            except ApiError as e:
                response = _status_response(e)
            reply(response)
        except ApiError as e:
            reply(_status_response(e))
        except _Reset:
            record(0)
            self._reset()
        except (ConnectionError, ssl.SSLError, TimeoutError, OSError):
            self.close_connection = True
        except Exception as e:  # noqa: BLE001 - never let a handler thread die on bad input
            try:
                reply(_status_response(ApiError(500, "InternalError", f"Internal error occurred: {type(e).__name__}: {e}")))
            except OSError:
                self.close_connection = True
        finally:
            record(500)

    def _reset(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            raw = self.connection
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            if isinstance(raw, ssl.SSLSocket):
                # close the TCP socket underneath without a TLS close_notify: the client sees a reset
                fd = raw.detach()
                socket.socket(fileno=fd).close()
            else:
                raw.close()

    def _send(self, response: Response) -> None:
        if response.stream is None:
            self._send_once(response)
            return
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Cache-Control", "no-cache, private")
        for k, v in response.headers.items():
            self.send_header(k, v)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            for chunk in response.stream:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
        finally:
            self.close_connection = True

    def _send_once(self, response: Response) -> None:
        """Status line, headers and body in one write: a small header segment followed by the body would
        otherwise wait for the client's delayed ACK (Nagle), ~40 ms per response."""
        phrase = self.responses.get(response.status, ("",))[0]
        lines = [f"{self.protocol_version} {response.status} {phrase}", f"Server: {self.server_version}",
                 f"Date: {self.date_time_string()}", f"Content-Type: {response.content_type}",
                 "Cache-Control: no-cache, private", "Audit-Id: 00000000-0000-0000-0000-000000000000",
                 *(f"{k}: {v}" for k, v in response.headers.items()), f"Content-Length: {len(response.body)}"]
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.wfile.write(head if self.command == "HEAD" else head + response.body)


def _status_response(error: ApiError) -> Response:
    headers: dict[str, str] = {}
    return Response(error.code, dumps(error.status()), "application/json", headers)


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], fake: FakeKube, context: ssl.SSLContext) -> None:
        self.fake = fake
        self.context = context
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            request.settimeout(10)
            tls = self.context.wrap_socket(request, server_side=True)
            tls.settimeout(None)
        except (OSError, ssl.SSLError):
            with contextlib.suppress(OSError):
                request.close()
            return
        with self.connections_lock:
            self.connections.add(tls)
        try:
            super().process_request_thread(tls, client_address)
        finally:
            with self.connections_lock:
                self.connections.discard(tls)

    def close_connections(self) -> None:
        with self.connections_lock:
            conns = list(self.connections)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                conn.close()


class FakeKube:
    """An in-process Kubernetes API server over HTTPS on 127.0.0.1.

    >>> with FakeKube() as api:
    ...     api.add({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}})
    ...     api.kubeconfig(tmp / "kubeconfig")
    """

    def __init__(self, openshift: bool = False, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.openshift = openshift
        self.catalog = Catalog(openshift)
        self.store = Store()
        self._pki = server_pki()
        self._host, self._port = host, port
        self._api = ApiHandler(self.store, self.catalog, lambda: f"{self._host}:{self.port}")
        self._users: dict[str, User] = {}
        self._faults: list[FaultRule] = []
        self._hooks: list[list[Any]] = []  # [method, path regex, action, times left]
        self._lock = threading.Lock()
        self._log: list[RequestRecord] = []
        self._server: _HttpServer | None = None
        self._thread: threading.Thread | None = None
        self._kubelet: SimKubelet | None = None
        self.add_user(ADMIN_USER, ADMIN_TOKEN, groups=(rbac.MASTERS,))

    # -- lifecycle -------------------------------------------------------------------------------------
    def start(self) -> FakeKube:
        """Start serving (again, on the same port, after stop())."""
        if self._server is None:
            self._api.stopping.clear()
            self._server = _HttpServer((self._host, self._port), self, self._pki.server_context())
            self._port = int(self._server.server_address[1])
            self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                            name="fakekube", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving (and the simulated kubelet, if any: its pods' processes are killed)."""
        if self._kubelet is not None:
            self._kubelet.stop()
        if self._server is not None:
            self._api.stopping.set()
            self._server.shutdown()
            self._server.close_connections()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeKube:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def kubelet(self) -> SimKubelet:
        """The simulated kubelet (kubelet.py), started if it is not running; one per FakeKube. It runs the
        node-probe pods bound to the nodes added with `kubelet.add_node(...)`."""
        with self._lock:
            if self._kubelet is None:
                self._kubelet = SimKubelet(self)
            kubelet = self._kubelet
        return kubelet.start()

    @property
    def port(self) -> int:
        """The port (kept after stop(), so a kubeconfig can point at a server that went away)."""
        if not self._port:
            raise RuntimeError("FakeKube is not started")
        return self._port

    @property
    def url(self) -> str:
        return f"https://{self._host}:{self.port}"

    @property
    def ca_file(self) -> str:
        return str(self._pki.ca_file)

    # -- objects ---------------------------------------------------------------------------------------
    def _resource_for(self, obj: Obj) -> Resource:
        kind, api_version = obj.get("kind"), obj.get("apiVersion")
        if not kind or not api_version:
            raise ValueError(f"object needs kind and apiVersion: {str(obj)[:200]}")
        res = self.catalog.by_api_version(str(api_version), str(kind))
        if res is None:
            raise ValueError(f"unknown kind {api_version}/{kind} (openshift={self.openshift})")
        return res

    def add(self, obj: Obj) -> Obj:
        """Store an object as given (no validation or admission); fills uid, resourceVersion, creationTimestamp.
        Returns the stored object (a copy). A `List` adds its items (and returns the List)."""
        entry = self._add(obj)
        return obj if entry is None else entry.copy()

    def _add(self, obj: Obj) -> Entry | None:
        if obj.get("kind") == "List" or (str(obj.get("kind", "")).endswith("List") and "items" in obj):
            for item in obj.get("items") or []:
                self._add(item)
            return None
        res = self._resource_for(obj)
        stored = dict(obj)
        meta = stored["metadata"] = dict(stored.get("metadata") or {})
        if not meta.get("name"):
            raise ValueError(f"{res.kind} without metadata.name")
        if res.namespaced and not meta.get("namespace"):
            raise ValueError(f"{res.kind} {meta['name']!r} is namespaced: metadata.namespace is required")
        if not res.namespaced:
            meta.pop("namespace", None)
        meta.pop("resourceVersion", None)
        if res.storage is not None:
            stored = self._api._from_view(res, stored)
            res = self._api._stored_res(res)
        if res.group == "" and res.plural == "secrets" and ("stringData" in stored or "type" not in stored):
            stored = json.loads(dumps(stored))
            objects.prepare("secrets", "", stored)
        return self.store.put(res.key, stored, typed=not res.crd, owned=False)

    def add_all(self, objs: Iterable[Obj]) -> None:
        for obj in objs:
            self._add(obj)

    def remove(self, kind: str, namespace: str | None, name: str) -> bool:
        res = self._kind(kind)
        return self.store.delete(res.key, namespace or "", name) is not None

    def _kind(self, kind: str) -> Resource:
        res = self.catalog.by_kind(kind)
        if res is None:
            raise ValueError(f"unknown kind {kind!r}")
        return res

    def get_object(self, kind: str, namespace: str | None, name: str) -> Obj | None:
        """The stored object (a copy) by kind ("Pod", "pods", "ServiceAccount", ...), or None."""
        res = self._kind(kind)
        entry = self.store.get(res.key, namespace or "" if res.namespaced else "", name)
        return None if entry is None else entry.copy()

    def list_objects(self, kind: str, namespace: str | None = None) -> list[Obj]:
        res = self._kind(kind)
        return [e.copy() for e in self.store.scan(res.key, namespace)]

    def add_standard_roles(self) -> None:
        """Add the ClusterRoles view, edit, admin, cluster-admin and system:image-puller."""
        self.add_all(rbac.standard_cluster_roles())

    @property
    def strict_namespaces(self) -> bool:
        """When True, creating an object in a namespace that is not stored answers 404 (NamespaceLifecycle)."""
        return self._api.strict_namespaces

    @strict_namespaces.setter
    def strict_namespaces(self, value: bool) -> None:
        self._api.strict_namespaces = value

    # -- users -----------------------------------------------------------------------------------------
    def add_user(self, name: str, token: str, groups: Sequence[str] = ()) -> None:
        """A bearer-token user; "system:authenticated" is added to its groups as the real authenticator does."""
        all_groups = tuple(groups) + (("system:authenticated",) if "system:authenticated" not in groups else ())
        with self._lock:
            self._users[token] = User(name, all_groups)

    def add_service_account_user(self, namespace: str, name: str, token: str) -> str:
        """The user a service account token authenticates as; returns the user name."""
        user = f"system:serviceaccount:{namespace}:{name}"
        self.add_user(user, token, ("system:serviceaccounts", f"system:serviceaccounts:{namespace}"))
        return user

    def _authenticate(self, header: str) -> User | None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        return self._users.get(token.strip())

    def _impersonate(self, user: User, headers: Any) -> User:
        """Impersonate-User / Impersonate-Group (kubectl --as/--as-group): allowed with the impersonate verb."""
        target = headers.get("Impersonate-User")
        groups = list(headers.get_all("Impersonate-Group") or [])
        if not target and not groups:
            return user
        if not target:
            raise ApiError(500, "InternalError", "Internal error occurred: requested [{Kind: Group ...}] without "
                           "impersonating a user")
        checks: list[rbac.Attributes] = []
        sa = target.split(":")
        if len(sa) == 4 and sa[:2] == ["system", "serviceaccount"]:
            checks.append(rbac.Attributes(user.name, user.groups, "impersonate", sa[2], "", "serviceaccounts", "",
                                          sa[3]))
            groups += ["system:serviceaccounts", f"system:serviceaccounts:{sa[2]}"]
        else:
            checks.append(rbac.Attributes(user.name, user.groups, "impersonate", "", "", "users", "", target))
        checks += [rbac.Attributes(user.name, user.groups, "impersonate", "", "", "groups", "", g)
                   for g in headers.get_all("Impersonate-Group") or []]
        for attrs in checks:
            if not rbac.authorize(self.store, attrs)[0]:
                raise ApiError(403, "Forbidden", rbac.forbidden_message(attrs),
                               {"name": attrs.name, "kind": attrs.resource})
        if "system:authenticated" not in groups:
            groups.append("system:authenticated")
        return User(target, tuple(groups))

    def kubeconfig(self, path: str | Path, user: str = ADMIN_USER, namespace: str | None = None,
                   context: str = "fake") -> Path:
        """Write a kubeconfig for `user` (name of a user added with add_user) and return its path."""
        with self._lock:
            token = next((t for t, u in self._users.items() if u.name == user), None)
        if token is None:
            raise ValueError(f"no user {user!r}")
        ctx: Obj = {"cluster": "fakekube", "user": user}
        if namespace:
            ctx["namespace"] = namespace
        config = {
            "apiVersion": "v1", "kind": "Config", "current-context": context, "preferences": {},
            "clusters": [{"name": "fakekube", "cluster": {
                "server": self.url, "certificate-authority-data": base64.b64encode(self._pki.ca_pem).decode()}}],
            "users": [{"name": user, "user": {"token": token}}],
            "contexts": [{"name": context, "context": ctx}],
        }
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(yaml.safe_dump(config, sort_keys=False))
        out.chmod(0o600)
        return out

    # -- faults ----------------------------------------------------------------------------------------
    def fault(self, method: str | None = None, path: str | None = None, user: str | None = None,
              status: int | None = None, retry_after: int | None = None, delay: float | None = None,
              reset: bool = False, times: int | None = None, body: Any = None, *,
              query: Mapping[str, str] | None = None) -> FaultRule:
        """Inject a fault for matching requests (method, regex on the URL path, user, and query parameters whose
        values match regexes): delay (seconds, then served normally unless status/reset), an error status (a
        Status body, or `body`; Retry-After header when retry_after), or a connection reset. The first matching
        rule that is not exhausted applies; `times` None = forever."""
        rule = FaultRule(method, path, user, status, retry_after, delay, reset, times, body, query)
        with self._lock:
            self._faults.append(rule)
        return rule

    def forbid(self, resource: str, namespace: str | None = None, verb: str | None = None, *,
               user: str | None = None, times: int | None = None) -> ForbidRule:
        """403 (the real message) for that resource (plural), in that namespace (None: everywhere, cluster-wide
        requests included), for that verb (None: all) — whatever RBAC says, even for admin."""
        rule = ForbidRule(resource, namespace, verb, user, times)
        with self._api.forbid_lock:
            self._api.forbids.append(rule)
        return rule

    def before(self, method: str, path: str, action: Callable[[], None], times: int = 1) -> None:
        """Run `action` (a concurrent writer: another client, a controller) just before the server
        handles the next `times` requests matching method and the path regex: what lands between a
        client's read and its write."""
        with self._lock:
            self._hooks.append([method.upper(), re.compile(path), action, times])

    def _run_hooks(self, method: str, path: str) -> None:
        with self._lock:
            due = [h for h in self._hooks if h[3] > 0 and h[0] == method and h[1].search(path)]
            for h in due:
                h[3] -= 1
        for h in due:
            h[2]()

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()
            self._hooks.clear()
        with self._api.forbid_lock:
            self._api.forbids.clear()

    def compact(self) -> None:
        """Like an etcd compaction: continue tokens and watch resourceVersions issued so far answer 410 Expired."""
        with self.store.lock:
            self.store.compacted_rv = self.store._next_rv()

    def _take_fault(self, method: str, path: str, user: str | None,
                    query: Mapping[str, str] | None = None) -> FaultRule | None:
        with self._lock:
            for rule in self._faults:
                if rule.matches(method, path, user, query):
                    rule.hits += 1
                    return rule
        return None

    def _fault_response(self, rule: FaultRule) -> Response:
        code = int(rule.status or 500)
        headers: dict[str, str] = {}
        if rule.retry_after is not None:
            headers["Retry-After"] = str(rule.retry_after)
        if rule.body is not None:
            payload = rule.body if isinstance(rule.body, bytes) else (
                rule.body.encode() if isinstance(rule.body, str) else dumps(rule.body))
            ctype = "application/json" if not isinstance(rule.body, (bytes, str)) else "text/plain; charset=utf-8"
            return Response(code, payload, ctype, headers)
        details: Obj | None = {"retryAfterSeconds": rule.retry_after} if rule.retry_after is not None else None
        status = status_obj(code, _STATUS_REASONS.get(code, "Unknown"),
                            _STATUS_MESSAGES.get(code, f"injected fault {code}"), details)
        return Response(code, dumps(status), "application/json", headers)

    # -- request log -----------------------------------------------------------------------------------
    def _record(self, record: RequestRecord) -> None:
        with self._lock:
            self._log.append(record)

    @property
    def requests(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._log)

    def clear_log(self) -> None:
        with self._lock:
            self._log.clear()

    def _log_summary(self) -> Obj:
        with self._lock:
            log = list(self._log)
        by: dict[str, int] = {}
        for r in log:
            key = f"{r.method} {r.path}"
            by[key] = by.get(key, 0) + 1
        return {"count": len(log), "requests": by}


def load_objects(path: str | Path) -> list[Obj]:
    """Objects from a JSON file: a list, a `List` object, or a single object."""
    data = json.loads(Path(path).read_bytes())
    if isinstance(data, list):
        return data
    if isinstance(data, dict) and isinstance(data.get("items"), list):
        items: list[Obj] = data["items"]
        return items
    return [data]
