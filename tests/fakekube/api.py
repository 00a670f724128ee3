"""The API semantics, independent of HTTP: routing, authorization, verbs, lists, patches, reviews, watch.

`ApiHandler.handle(Request) -> Response` is called by the HTTP layer (server.py) for every authenticated
request. Errors are raised as `ApiError` and rendered as `Status` objects shaped like the real server's.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import secrets as pysecrets
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml

from . import discovery, objects, openapi, patch, protobuf, rbac, tables
from .resources import Catalog, Resource
from .selectors import SelectorError, field_matcher, label_matcher
from .store import Entry, Store, dumps, now_rfc3339

Obj = dict[str, Any]
JSON = "application/json"
PROTOBUF = "application/vnd.kubernetes.protobuf"
_REVIEWS = ("subjectaccessreviews", "selfsubjectaccessreviews", "localsubjectaccessreviews", "selfsubjectrulesreviews")
_PATCH_TYPES = {
    "application/json-patch+json": "json",
    "application/merge-patch+json": "merge",
    "application/strategic-merge-patch+json": "strategic",
    "application/apply-patch+yaml": "apply",
    "application/apply-patch+cbor": "apply-cbor",
}


@dataclass(frozen=True)
class User:
    name: str
    groups: tuple[str, ...]


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes
    user: User


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str = JSON
    headers: dict[str, str] = field(default_factory=dict)
    stream: Iterator[bytes] | None = None  # watch: chunks written with chunked transfer encoding


class ApiError(Exception):
    def __init__(self, code: int, reason: str, message: str, details: Obj | None = None, *,
                 metadata: Obj | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.metadata = metadata

    def status(self) -> Obj:
        return status_obj(self.code, self.reason, self.message, self.details, self.metadata)


def status_obj(code: int, reason: str, message: str, details: Obj | None = None, metadata: Obj | None = None) -> Obj:
    out: Obj = {"kind": "Status", "apiVersion": "v1", "metadata": metadata or {},
                "status": "Failure" if code >= 400 else "Success", "message": message, "reason": reason}
    if details is not None:
        out["details"] = details
    out["code"] = code
    return out


def _details(res: Resource, name: str = "") -> Obj:
    d: Obj = {}
    if name:
        d["name"] = name
    if res.group:
        d["group"] = res.group
    d["kind"] = res.plural
    return d


def not_found(res: Resource, name: str) -> ApiError:
    return ApiError(404, "NotFound", f"{res.qualified} \"{name}\" not found", _details(res, name))


def conflict(res: Resource, name: str, why: str = "the object has been modified; please apply your changes to the "
                                                  "latest version and try again") -> ApiError:
    return ApiError(409, "Conflict", f"Operation cannot be fulfilled on {res.qualified} \"{name}\": {why}",
                    _details(res, name))


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def invalid_error(res: Resource, name: str, causes: list[objects.Cause]) -> ApiError:
    kind = res.kind if not res.group else f"{res.kind}.{res.group}"
    details = _details(res, name)
    details["kind"] = res.kind
    details["causes"] = [{"reason": c.reason, "message": c.message, "field": c.field} for c in causes]
    return ApiError(422, "Invalid", objects.invalid_message(kind, name, causes), details)


NOT_FOUND_PATH = ApiError(404, "NotFound", "the server could not find the requested resource", {})


@dataclass(frozen=True)
class Target:
    res: Resource
    namespace: str
    name: str
    subresource: str


@dataclass
class ForbidRule:
    resource: str
    namespace: str | None = None
    verb: str | None = None
    user: str | None = None
    times: int | None = None
    hits: int = 0

    def matches(self, attrs: rbac.Attributes) -> bool:
        if not attrs.resource_request or attrs.resource != self.resource:
            return False
        if self.verb is not None and attrs.verb != self.verb:
            return False
        if self.user is not None and attrs.user != self.user:
            return False
        return self.namespace is None or attrs.namespace == self.namespace


def _encode_continue(rv: int, key: tuple[str, str]) -> str:
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": f"{key[0]}/{key[1]}\x00"}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_continue(token: str) -> tuple[int, tuple[str, str]]:
    try:
        raw = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        ns, _, name = str(raw["start"]).rstrip("\x00").partition("/")
        return int(raw["rv"]), (ns, name)
    except (ValueError, KeyError, TypeError, binascii.Error) as e:
        raise bad_request(f"continue key is not valid: {e}") from e


def _wants(accept: str, marker: str) -> bool:
    return any(marker in part for part in accept.split(","))


def _media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


class ApiHandler:
    def __init__(self, store: Store, catalog: Catalog, server_address: Callable[[], str]) -> None:
        self.store = store
        self.catalog = catalog
        self.server_address = server_address
        self.forbids: list[ForbidRule] = []
        self.forbid_lock = threading.Lock()
        self.strict_namespaces = False
        self.stopping = threading.Event()
        #: GET pods/NAME/log, after authorization and the 404 check: a Response (or ApiError), or None for the
        #: default (an empty 200). Set by the simulated kubelet (kubelet.py) for the pods it runs.
        self.pod_log: Callable[[Request, Entry], Response | None] | None = None

    # -- entry point -----------------------------------------------------------------------------------
    def handle(self, req: Request) -> Response:
        if req.path in ("/version", "/version/"):
            return self._json(200, discovery.VERSION)
        if req.path in ("/healthz", "/livez", "/readyz"):
            return Response(200, b"ok", "text/plain; charset=utf-8")
        parts = [p for p in req.path.split("/") if p]
        if not parts or parts[0] not in ("api", "apis", "openapi"):
            raise ApiError(404, "NotFound", "the server could not find the requested resource", {})
        if parts[0] == "openapi":
            return self._openapi(req, parts)
        target = self._resolve(parts)
        if target is None:
            return self._discovery(req, parts)
        return self._resource(req, target)

    def _json(self, code: int, obj: Any, content_type: str = JSON) -> Response:
        return Response(code, dumps(obj), content_type)

    # -- discovery -------------------------------------------------------------------------------------
    def _discovery(self, req: Request, parts: list[str]) -> Response:
        if req.method != "GET":
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource",
                           {})
        self._authorize(req, rbac.Attributes(req.user.name, req.user.groups, "get", path=req.path,
                                             resource_request=False))
        accept = req.headers.get("accept", "")
        if len(parts) == 1:
            for kind, version in ((discovery.AGGREGATED_TYPE, "apidiscovery.k8s.io/v2"),
                                  (discovery.AGGREGATED_TYPE_BETA, "apidiscovery.k8s.io/v2beta1")):
                if _wants(accept, "as=APIGroupDiscoveryList") and _wants(accept, version.replace("apidiscovery.k8s.io/",
                                                                                                 "v=")):
                    return self._json(200, discovery.aggregated(self.catalog, parts[0] == "api", version), kind)
            if parts[0] == "api":
                return self._json(200, discovery.api_versions(self.server_address()))
            return self._json(200, discovery.api_group_list(self.catalog))
        if parts[0] == "api" and len(parts) == 2:
            doc = discovery.api_resource_list(self.catalog, "", parts[1])
        elif parts[0] == "apis" and len(parts) == 2:
            doc = discovery.api_group(self.catalog, parts[1])
        elif parts[0] == "apis" and len(parts) == 3:
            doc = discovery.api_resource_list(self.catalog, parts[1], parts[2])
        else:
            doc = None
        if doc is None:
            raise NOT_FOUND_PATH
        return self._json(200, doc)

    def _openapi(self, req: Request, parts: list[str]) -> Response:
        self._authorize(req, rbac.Attributes(req.user.name, req.user.groups, "get", path=req.path,
                                             resource_request=False))
        doc: Obj | None = None
        if parts[1:] == ["v3"]:
            doc = openapi.root(self.catalog)
        elif len(parts) >= 4 and parts[1] == "v3" and parts[2] == "api":
            doc = openapi.group_version(self.catalog, "", parts[3])
        elif len(parts) >= 5 and parts[1] == "v3" and parts[2] == "apis":
            doc = openapi.group_version(self.catalog, parts[3], parts[4])
        if doc is None:
            raise NOT_FOUND_PATH
        return self._json(200, doc)

    def _resolve(self, parts: list[str]) -> Target | None:
        """The resource a URL path names, None for discovery paths; 404 for unknown paths."""
        if parts[0] == "api":
            if len(parts) <= 2:
                return None
            group, version, rest = "", parts[1], parts[2:]
        else:
            if len(parts) <= 3:
                return None
            group, version, rest = parts[1], parts[2], parts[3:]
        if not self.catalog.versions(group) or version not in self.catalog.versions(group):
            raise NOT_FOUND_PATH
        namespace = ""
        if rest[0] == "namespaces" and len(rest) >= 3 and self.catalog.lookup(group, version, rest[2]) is not None:
            namespace, rest = rest[1], rest[2:]
        res = self.catalog.lookup(group, version, rest[0])
        if res is None or len(rest) > 3:
            raise NOT_FOUND_PATH
        name = rest[1] if len(rest) > 1 else ""
        sub = rest[2] if len(rest) > 2 else ""
        if namespace and not res.namespaced:
            raise NOT_FOUND_PATH
        if res.namespaced and name and not namespace:
            raise NOT_FOUND_PATH
        if sub and sub not in res.subresources:
            raise NOT_FOUND_PATH
        return Target(res, namespace, name, sub)

    # -- authorization ---------------------------------------------------------------------------------
    def _authorize(self, req: Request, attrs: rbac.Attributes) -> None:
        with self.forbid_lock:
            for rule in self.forbids:
                if rule.matches(attrs) and (rule.times is None or rule.hits < rule.times):
                    rule.hits += 1
                    raise self._forbidden(attrs)
        allowed, _ = rbac.authorize(self.store, attrs)
        if not allowed:
            raise self._forbidden(attrs)

    @staticmethod
    def _forbidden(attrs: rbac.Attributes) -> ApiError:
        details: Obj = {}
        if attrs.name:
            details["name"] = attrs.name
        if attrs.api_group:
            details["group"] = attrs.api_group
        if attrs.resource:
            details["kind"] = attrs.resource
        return ApiError(403, "Forbidden", rbac.forbidden_message(attrs), details)

    # -- resources -------------------------------------------------------------------------------------
    def _verb(self, req: Request, t: Target) -> str:
        m = req.method
        if m == "GET":
            if t.name:
                return "get"
            return "watch" if req.query.get("watch") in ("true", "1") else "list"
        if m == "POST":
            return "create"
        if m == "PUT":
            return "update"
        if m == "PATCH":
            return "patch"
        if m == "DELETE":
            return "delete" if t.name else "deletecollection"
        raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource", {})

    def _resource(self, req: Request, t: Target) -> Response:
        verb = self._verb(req, t)
        res = t.res
        if (verb == "create" and t.name and not t.subresource) or (verb in ("update", "patch") and not t.name):
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource", {})
        if t.subresource:
            allowed_verbs = dict((s, v) for s, (v, _) in discovery._SUBRESOURCES.items()).get(t.subresource, ("get",))
        else:
            allowed_verbs = res.verbs
        if verb not in allowed_verbs and not (verb == "watch" and "list" in allowed_verbs):
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource",
                           {"group": res.group, "kind": res.plural} if res.group else {"kind": res.plural})
        namespace = t.namespace or (t.name if res.plural == "namespaces" and res.group == "" else "")
        attrs = rbac.Attributes(req.user.name, req.user.groups, verb, namespace, res.group, res.plural,
                                t.subresource, t.name)
        self._authorize(req, attrs)
        if res.plural in _REVIEWS and res.group == "authorization.k8s.io":
            return self._review(req, t)
        if t.subresource and t.subresource != "status":
            return self._other_subresource(req, t, verb)
        dry_run = req.query.get("dryRun") == "All"
        if "dryRun" in req.query and req.query["dryRun"] not in ("All", ""):
            raise bad_request(f"Invalid dry run value: {req.query['dryRun']!r}; supported values: All")
        if verb == "get":
            return self._get(req, t)
        if verb in ("list",):
            return self._list(req, t)
        if verb == "watch":
            return self._watch(req, t)
        if verb == "create":
            return self._create(req, t, dry_run)
        if verb == "update":
            return self._update(req, t, dry_run)
        if verb == "patch":
            return self._patch(req, t, dry_run)
        if verb == "delete":
            return self._delete(req, t, dry_run)
        return self._delete_collection(req, t, dry_run)

    # views: events.k8s.io/v1 is a view of core events
    @staticmethod
    def _to_view(res: Resource, obj: Obj) -> Obj:
        if res.group == "events.k8s.io":
            return objects.event_to_events_v1(obj)
        return obj

    @staticmethod
    def _from_view(res: Resource, obj: Obj) -> Obj:
        if res.group == "events.k8s.io":
            return objects.event_to_core(obj)
        return obj

    def _entry_bytes(self, res: Resource, entry: Entry, full: bool) -> bytes:
        if res.storage is None:
            return entry.full() if full else entry.raw
        view = self._to_view(res, entry.obj)
        if not full:
            view = {k: v for k, v in view.items() if k not in ("kind", "apiVersion")}
        return dumps(view)

    def _stored_res(self, res: Resource) -> Resource:
        if res.storage is None:
            return res
        found = self.catalog.lookup(res.storage[0], "v1", res.storage[1])
        assert found is not None
        return found

    def _existing(self, t: Target) -> Entry:
        entry = self.store.get(t.res.key, t.namespace, t.name)
        if entry is None:
            raise not_found(t.res, t.name)
        return entry

    def _get(self, req: Request, t: Target) -> Response:
        entry = self._existing(t)
        if _wants(req.headers.get("accept", ""), "as=Table"):
            doc = tables.table(t.res.key, [entry.obj], {"resourceVersion": entry.obj["metadata"]["resourceVersion"]},
                               req.query.get("includeObject", "Metadata"))
            return self._json(200, doc, "application/json;as=Table;v=v1;g=meta.k8s.io")
        return Response(200, self._entry_bytes(t.res, entry, True))

    def _matchers(self, req: Request, res: Resource) -> tuple[Callable[[Obj], bool] | None, Callable[[Obj], bool] | None]:
        ls = req.query.get("labelSelector", "")
        fs = req.query.get("fieldSelector", "")
        gv = f"{res.group}/{res.version}"

        def unsupported(field_name: str) -> str:
            return (f"Unable to find \"{gv}, Resource={res.plural}\" that match label selector \"{ls}\", field "
                    f"selector \"{fs}\": field label not supported: {field_name}")

        try:
            return label_matcher(ls), field_matcher(fs, res.key, unsupported)
        except SelectorError as e:
            raise bad_request(str(e)) from e

    def _list(self, req: Request, t: Target) -> Response:
        res = t.res
        lm, fm = self._matchers(req, res)
        try:
            limit = int(req.query.get("limit") or 0)
        except ValueError as e:
            raise bad_request(f"limit: Invalid value: {req.query.get('limit')!r}: must be an integer") from e
        token = req.query.get("continue")
        after: tuple[str, str] | None = None
        rv = self.store.resource_version
        if token:
            rv, after = _decode_continue(token)
            if rv < self.store.compacted_rv:
                fresh = _encode_continue(self.store.resource_version, after)
                raise ApiError(410, "Expired", "The provided continue parameter is too old to display a consistent "
                               "list result. You can start a new list without the continue parameter, or use the "
                               "continue token in this response to retrieve the remainder of the results. Continuing "
                               "with the provided token results in an inconsistent list - objects that were created, "
                               "modified, or deleted between the time the first chunk was returned and now may show up "
                               "in the list.", metadata={"continue": fresh})
        ns = t.namespace or None
        items: list[Entry] = []
        more = False
        for entry in self.store.scan(res.key, ns, after):
            obj = entry.obj
            if lm is not None and not lm(obj):
                continue
            if fm is not None and not fm(obj):
                continue
            if limit > 0 and len(items) >= limit:
                more = True
                break
            items.append(entry)
        meta: Obj = {"resourceVersion": str(rv)}
        if more and items:
            meta["continue"] = _encode_continue(rv, items[-1].key)
            if lm is None and fm is None:
                meta["remainingItemCount"] = self.store.count(res.key, ns, items[-1].key)
        if _wants(req.headers.get("accept", ""), "as=Table"):
            doc = tables.table(res.key, [e.obj for e in items], meta,
                               req.query.get("includeObject", "Metadata"))
            return self._json(200, doc, "application/json;as=Table;v=v1;g=meta.k8s.io")
        head = (b'{"kind":' + dumps(res.list_kind) + b',"apiVersion":' + dumps(res.api_version) + b',"metadata":'
                + dumps(meta) + b',"items":[')
        return Response(200, head + b",".join(self._entry_bytes(res, e, not e.typed) for e in items) + b"]}")

    # -- writes ----------------------------------------------------------------------------------------
    def _body(self, req: Request) -> Obj:
        ctype = _media_type(req.headers.get("content-type", JSON))
        if ctype == PROTOBUF:
            try:
                return protobuf.decode(req.body)
            except (protobuf.ProtobufError, UnicodeDecodeError, KeyError) as e:
                raise ApiError(415, "UnsupportedMediaType", f"the body of the request was in an unknown format - "
                               f"accepted media types include: application/json, application/yaml ({e})", {}) from e
        if ctype not in (JSON, "application/yaml", "*/*", ""):
            raise ApiError(415, "UnsupportedMediaType", "the body of the request was in an unknown format - accepted "
                           "media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf",
                           {})
        try:
            body = _json_or_yaml(req.body) if ctype == "application/yaml" else json.loads(req.body or b"null")
        except (ValueError, ApiError) as e:
            raise bad_request(f"Object 'Kind' is missing in '{req.body[:200].decode('utf-8', 'replace')}'"
                              if not req.body else f"couldn't get version/kind; json parse error: {e}") from e
        if not isinstance(body, dict):
            raise bad_request("Object 'Kind' is missing in 'null'" if body is None else
                              f"couldn't get version/kind; json parse error: json: cannot unmarshal "
                              f"{type(body).__name__} into Go value of type struct")
        return body

    def _check_type(self, res: Resource, obj: Obj) -> None:
        kind, api_version = obj.get("kind"), obj.get("apiVersion")
        if kind and kind != res.kind or api_version and api_version != res.api_version:
            raise bad_request(f"the API version in the data ({api_version}) does not match the expected API version "
                              f"({res.api_version})" if api_version != res.api_version else
                              f"{kind} in version \"{res.version}\" cannot be handled as a {res.kind}: kind mismatch")
        obj["kind"], obj["apiVersion"] = res.kind, res.api_version

    def _admit(self, t: Target, obj: Obj, old: Obj | None, user: User) -> Obj:
        """Conversion, defaulting, validation; returns the object in storage form (core events for events.k8s.io)."""
        stored = self._stored_res(t.res)
        obj = self._from_view(t.res, obj)
        obj["kind"], obj["apiVersion"] = stored.kind, stored.api_version
        try:
            objects.prepare(stored.plural, stored.group, obj)
            causes = objects.validate(stored.plural, stored.group, obj, old)
        except objects.BadRequest as e:
            raise bad_request(str(e)) from e
        if causes:
            raise invalid_error(t.res, obj["metadata"].get("name", ""), causes)
        if stored.group == rbac.RBAC and stored.plural in ("rolebindings", "clusterrolebindings"):
            self._check_escalation(t, obj, user)
        if "spec" in obj and stored.kind not in ("Pod", "Namespace", "Node"):
            meta = obj["metadata"]
            if old is None:
                meta["generation"] = 1
            else:
                generation = int((old.get("metadata") or {}).get("generation") or 1)
                meta["generation"] = generation + 1 if obj.get("spec") != old.get("spec") else generation
        return obj

    def _check_escalation(self, t: Target, obj: Obj, user: User) -> None:
        if rbac.MASTERS in user.groups:
            return
        ref = obj.get("roleRef") or {}
        ns = t.namespace
        bind = rbac.Attributes(user.name, user.groups, "bind", ns, rbac.RBAC,
                               "clusterroles" if ref.get("kind") == "ClusterRole" else "roles", "", ref.get("name", ""))
        if rbac.authorize(self.store, bind)[0]:
            return
        if ref.get("kind") == "ClusterRole":
            role = self.store.get((rbac.RBAC, "clusterroles"), "", ref.get("name", ""))
        else:
            role = self.store.get((rbac.RBAC, "roles"), ns, ref.get("name", ""))
        if role is None:
            kind = "clusterroles" if ref.get("kind") == "ClusterRole" else "roles"
            raise ApiError(404, "NotFound", f"{kind}.rbac.authorization.k8s.io \"{ref.get('name')}\" not found",
                           {"name": ref.get("name"), "group": rbac.RBAC, "kind": kind})
        missing: list[str] = []
        for rule in role.obj.get("rules") or []:
            for group in rule.get("apiGroups") or [""]:
                for resource in rule.get("resources") or []:
                    base, _, sub = resource.partition("/")
                    for verb in rule.get("verbs") or []:
                        for name in rule.get("resourceNames") or [""]:
                            attrs = rbac.Attributes(user.name, user.groups, verb, ns, group, base, sub, name)
                            if not rbac.authorize(self.store, attrs)[0]:
                                missing.append(f"{{APIGroups:[\"{group}\"], Resources:[\"{resource}\"], "
                                               f"Verbs:[\"{verb}\"]}}")
        if missing:
            groups = ",".join(f'"{g}"' for g in user.groups)
            raise ApiError(403, "Forbidden", f"{t.res.qualified} \"{obj['metadata']['name']}\" is forbidden: user "
                           f"\"{user.name}\" (groups=[{groups}]) is attempting to grant RBAC permissions not currently "
                           f"held:\n" + "\n".join(missing), _details(t.res, obj["metadata"]["name"]))

    def _check_namespace(self, t: Target) -> None:
        if self.strict_namespaces and t.res.namespaced and self.store.get(("", "namespaces"), "", t.namespace) is None:
            raise ApiError(404, "NotFound", f"namespaces \"{t.namespace}\" not found",
                           {"name": t.namespace, "kind": "namespaces"})

    def _create(self, req: Request, t: Target, dry_run: bool) -> Response:
        obj = self._body(req)
        res = t.res
        self._check_type(res, obj)
        meta = obj.get("metadata")
        if not isinstance(meta, dict):
            meta = obj["metadata"] = {}
        if res.namespaced:
            if meta.get("namespace") and meta["namespace"] != t.namespace:
                raise bad_request("the namespace of the provided object does not match the namespace sent on the request")
            meta["namespace"] = t.namespace
        else:
            meta.pop("namespace", None)
        if meta.get("resourceVersion"):
            raise ApiError(500, "InternalError", "Internal error occurred: resourceVersion should not be set on "
                           "objects to be created", {"causes": [{"message": "resourceVersion should not be set on "
                                                                 "objects to be created"}]})
        if not meta.get("name") and meta.get("generateName"):
            alphabet = "bcdfghjklmnpqrstvwxz2456789"
            meta["name"] = meta["generateName"] + "".join(pysecrets.choice(alphabet) for _ in range(5))
        for key in ("uid", "creationTimestamp", "deletionTimestamp", "selfLink", "managedFields"):
            meta.pop(key, None)
        self._check_namespace(t)
        stored = self._admit(t, obj, None, req.user)
        name = stored["metadata"]["name"]
        if res.group == "" and res.plural == "pods":
            self._service_account_admission(stored)
        if self.store.get(res.key, t.namespace, name) is not None:
            raise ApiError(409, "AlreadyExists", f"{res.qualified} \"{name}\" already exists", _details(res, name))
        if dry_run:
            stored["metadata"].setdefault("uid", str(uuid.uuid4()))
            stored["metadata"]["creationTimestamp"] = now_rfc3339()
            return self._json(201, self._to_view(res, stored))
        with self.store.lock:
            if self.store.get(res.key, t.namespace, name) is not None:
                raise ApiError(409, "AlreadyExists", f"{res.qualified} \"{name}\" already exists", _details(res, name))
            entry = self.store.put(res.key, stored, typed=not res.crd)
            if res.group == "" and res.plural == "namespaces" and self.store.get(("", "serviceaccounts"), name,
                                                                                 "default") is None:
                # the service account controller gives every new namespace its "default" account
                self.store.put(("", "serviceaccounts"), {"kind": "ServiceAccount", "apiVersion": "v1",
                                                         "metadata": {"name": "default", "namespace": name}})
        return Response(201, self._entry_bytes(res, entry, True))

    def _service_account_admission(self, pod: Obj) -> None:
        """The ServiceAccount admission plugin: the pod's account must exist, and a pod without
        imagePullSecrets gets the account's."""
        spec = pod.get("spec") or {}
        meta = pod["metadata"]
        sa_name = spec.get("serviceAccountName") or "default"
        sa = self.store.get(("", "serviceaccounts"), meta["namespace"], sa_name)
        if sa is None:
            raise ApiError(403, "Forbidden", f"pods \"{meta['name']}\" is forbidden: error looking up service account "
                           f"{meta['namespace']}/{sa_name}: serviceaccount \"{sa_name}\" not found",
                           {"name": meta["name"], "kind": "pods"})
        if not spec.get("imagePullSecrets") and sa.obj.get("imagePullSecrets"):
            spec["imagePullSecrets"] = [{"name": r.get("name", "")} for r in sa.obj["imagePullSecrets"]]

    def _store_update(self, t: Target, old: Entry, new: Obj, expected_rv: str | None, dry_run: bool,
                      user: User, *, retry_on_change: bool = False) -> Response:
        res = t.res
        name = t.name
        meta = new.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise bad_request("metadata must be an object")
        if meta.get("name", name) != name:
            raise bad_request(f"the name of the object ({meta.get('name')}) does not match the name on the URL ({name})")
        if res.namespaced:
            if meta.get("namespace") and meta["namespace"] != t.namespace:
                raise bad_request("the namespace of the provided object does not match the namespace sent on the request")
            meta["namespace"] = t.namespace
        meta["name"] = name
        old_meta = old.obj["metadata"]
        meta["uid"] = meta.get("uid") or old_meta.get("uid")
        meta["creationTimestamp"] = old_meta.get("creationTimestamp")
        stored_view = self._to_view(res, old.obj)
        if "status" in res.subresources:
            if t.subresource == "status":
                status = new.get("status")
                new = copy.deepcopy(stored_view)
                new["metadata"]["resourceVersion"] = meta.get("resourceVersion")
                if status is None:
                    new.pop("status", None)
                else:
                    new["status"] = status
            elif "status" in stored_view:
                new["status"] = copy.deepcopy(stored_view["status"])
            else:
                new.pop("status", None)
        stored = self._admit(t, new, old.obj, user)
        with self.store.lock:
            current = self.store.get(res.key, t.namespace, name)
            if current is None:
                raise not_found(res, name)
            if expected_rv and expected_rv != current.obj["metadata"]["resourceVersion"]:
                raise conflict(res, name)
            if current is not old and retry_on_change:
                # someone wrote in between our read and now: a real server retries the patch internally
                raise _Retry()
            if dry_run:
                stored["metadata"]["resourceVersion"] = current.obj["metadata"]["resourceVersion"]
                return self._json(200, self._to_view(res, stored))
            if _same(stored, current.obj):
                return Response(200, self._entry_bytes(res, current, True))
            entry = self.store.put(res.key, stored, typed=not res.crd)
        return Response(200, self._entry_bytes(res, entry, True))

    def _update(self, req: Request, t: Target, dry_run: bool) -> Response:
        obj = self._body(req)
        self._check_type(t.res, obj)
        old = self._existing(t)
        rv = (obj.get("metadata") or {}).get("resourceVersion") or None
        return self._store_update(t, old, obj, rv, dry_run, req.user)

    def _patch(self, req: Request, t: Target, dry_run: bool) -> Response:
        ctype = _media_type(req.headers.get("content-type", ""))
        kind = _PATCH_TYPES.get(ctype)
        accepted = ("application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
                    + ("" if t.res.crd else ", application/strategic-merge-patch+json"))
        if kind is None or (kind == "strategic" and t.res.crd) or kind == "apply-cbor":
            raise ApiError(415, "UnsupportedMediaType", f"the body of the request was in an unknown format - accepted "
                           f"media types include: {accepted}", {})
        if kind == "apply":
            return self._apply(req, t, dry_run)
        try:
            body = json.loads(req.body or b"null")
        except ValueError as e:
            raise bad_request(f"error decoding patch: {e}") from e
        for _attempt in range(5):
            old = self._existing(t)
            current = copy.deepcopy(self._to_view(t.res, old.obj))
            try:
                if kind == "json":
                    patched = patch.json_patch(current, body)
                elif kind == "merge":
                    if not isinstance(body, dict):
                        raise patch.PatchError("merge patch must be a JSON object", bad_request=True)
                    patched = patch.merge_patch(current, body)
                else:
                    patched = patch.strategic_merge_patch(t.res.kind, current, body)
            except patch.PatchError as e:
                if e.bad_request:
                    raise bad_request(str(e)) from e
                raise ApiError(422, "Invalid", "the server rejected our request due to an error in our request",
                               {"causes": [{"reason": "UnexpectedServerResponse", "message": str(e)}]}) from e
            if not isinstance(patched, dict):
                raise bad_request("patch produced a non-object")
            old_rv = old.obj["metadata"]["resourceVersion"]
            new_rv = (patched.get("metadata") or {}).get("resourceVersion")
            if new_rv and new_rv != old_rv:
                raise conflict(t.res, t.name)
            patched["kind"], patched["apiVersion"] = t.res.kind, t.res.api_version
            try:
                return self._store_update(t, old, patched, None, dry_run, req.user, retry_on_change=True)
            except _Retry:
                continue
        raise conflict(t.res, t.name)

    def _apply(self, req: Request, t: Target, dry_run: bool) -> Response:
        """Server-side apply, approximated: fieldManager required; creates, or merges like a strategic merge patch
        (field ownership and removal of fields a manager no longer sets are not modelled)."""
        if not req.query.get("fieldManager"):
            raise ApiError(422, "Invalid", "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: "
                           "is required for apply patch", {"causes": [{"reason": "FieldValueRequired",
                                                                       "message": "Required value: is required for apply patch",
                                                                       "field": "fieldManager"}]})
        body = _json_or_yaml(req.body)
        if not isinstance(body, dict):
            raise bad_request("apply patch must be an object")
        self._check_type(t.res, body)
        entry = self.store.get(t.res.key, t.namespace, t.name)
        if entry is None:
            body.setdefault("metadata", {})["name"] = t.name
            req2 = Request("POST", req.path, req.query, {**req.headers, "content-type": JSON}, dumps(body), req.user)
            return self._create(req2, Target(t.res, t.namespace, "", ""), dry_run)
        current = copy.deepcopy(self._to_view(t.res, entry.obj))
        patched = patch.merge_patch(current, body) if t.res.crd else patch.strategic_merge_patch(t.res.kind, current, body)
        rv = (body.get("metadata") or {}).get("resourceVersion")
        patched["metadata"]["resourceVersion"] = entry.obj["metadata"]["resourceVersion"]
        try:
            return self._store_update(t, entry, patched, rv, dry_run, req.user, retry_on_change=True)
        except _Retry:
            return self._apply(req, t, dry_run)

    def _delete(self, req: Request, t: Target, dry_run: bool) -> Response:
        old = self._existing(t)
        opts: Obj = {}
        if req.body.strip():
            try:
                loaded = json.loads(req.body)
            except ValueError as e:
                raise bad_request(f"error decoding DeleteOptions: {e}") from e
            opts = loaded if isinstance(loaded, dict) else {}
        pre = opts.get("preconditions") or {}
        meta = old.obj["metadata"]
        if pre.get("uid") and pre["uid"] != meta.get("uid"):
            raise conflict(t.res, t.name, f"Precondition failed: UID in precondition: {pre['uid']}, UID in object "
                                          f"meta: {meta.get('uid')}")
        if pre.get("resourceVersion") and pre["resourceVersion"] != meta.get("resourceVersion"):
            raise conflict(t.res, t.name, f"Precondition failed: ResourceVersion in precondition: "
                                          f"{pre['resourceVersion']}, ResourceVersion in object meta: "
                                          f"{meta.get('resourceVersion')}")
        gone: Entry | None = old if dry_run else self.store.delete(t.res.key, t.namespace, t.name)
        if gone is None:
            raise not_found(t.res, t.name)
        if t.res.kind in ("Pod", "Namespace") or t.res.crd:
            return Response(200, self._entry_bytes(t.res, gone, True))
        details = _details(t.res, t.name)
        details["uid"] = meta.get("uid")
        return self._json(200, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                                "details": details})

    def _delete_collection(self, req: Request, t: Target, dry_run: bool) -> Response:
        lm, fm = self._matchers(req, t.res)
        victims = [e for e in self.store.scan(t.res.key, t.namespace or None)
                   if (lm is None or lm(e.obj)) and (fm is None or fm(e.obj))]
        if not dry_run:
            for e in victims:
                self.store.delete(t.res.key, e.key[0], e.key[1])
        meta = {"resourceVersion": str(self.store.resource_version)}
        head = (b'{"kind":' + dumps(t.res.list_kind) + b',"apiVersion":' + dumps(t.res.api_version) + b',"metadata":'
                + dumps(meta) + b',"items":[')
        return Response(200, head + b",".join(self._entry_bytes(t.res, e, not e.typed) for e in victims) + b"]}")

    # -- subresources ----------------------------------------------------------------------------------
    def _other_subresource(self, req: Request, t: Target, verb: str) -> Response:
        entry = self._existing(t)
        if t.res.plural == "imagestreams" and t.subresource == "layers":
            return self._json(200, {"kind": "ImageStreamLayers", "apiVersion": "image.openshift.io/v1",
                                    "metadata": entry.obj["metadata"], "blobs": {}, "images": {}})
        if t.res.plural == "pods" and t.subresource == "log":
            served = self.pod_log(req, entry) if self.pod_log is not None else None
            return served if served is not None else Response(200, b"", "text/plain")
        if t.res.plural == "serviceaccounts" and t.subresource == "token":
            body = self._body(req)
            exp = int((body.get("spec") or {}).get("expirationSeconds") or 3600)
            return self._json(201, {"kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
                                    "metadata": {"name": t.name, "namespace": t.namespace},
                                    "spec": body.get("spec") or {},
                                    "status": {"token": "fake." + pysecrets.token_urlsafe(24),
                                               "expirationTimestamp": time.strftime(
                                                   "%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + exp))}})
        if t.res.plural == "deploymentconfigs" and t.subresource == "instantiate":
            # `oc rollout latest`: a DeploymentRequest with latest=true bumps status.latestVersion (the
            # DeploymentConfig controller, not modelled, would then create the next ReplicationController).
            body = self._body(req)
            if body.get("name") != t.name:
                raise bad_request(f"DeploymentRequest name {body.get('name')!r} does not match {t.name!r}")
            obj = entry.copy()
            if body.get("latest"):
                status = obj.setdefault("status", {})
                status["latestVersion"] = int(status.get("latestVersion") or 0) + 1
            if req.query.get("dryRun") == "All":
                return self._json(201, obj)
            return Response(201, self._entry_bytes(t.res, self.store.put(t.res.key, obj, typed=not t.res.crd), True))
        raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource", {})

    def _review(self, req: Request, t: Target) -> Response:
        body = self._body(req)
        res = t.res
        self._check_type(res, body)
        spec = body.get("spec") or {}
        if res.plural == "selfsubjectrulesreviews":
            rules = rbac.rules_for(self.store, req.user.name, req.user.groups, str(spec.get("namespace") or ""))
            return self._json(201, {"kind": res.kind, "apiVersion": res.api_version,
                                    "metadata": {"creationTimestamp": None}, "spec": spec, "status": {
                                        "resourceRules": [r for r in rules if "nonResourceURLs" not in r],
                                        "nonResourceRules": [r for r in rules if "nonResourceURLs" in r],
                                        "incomplete": False}})
        ra = spec.get("resourceAttributes")
        nra = spec.get("nonResourceAttributes")
        name = f"{res.kind}.authorization.k8s.io"
        causes: list[objects.Cause] = []
        if (ra is None) == (nra is None):
            causes.append(objects.invalid("spec.resourceAttributes", "null" if ra is None else ra,
                                          "exactly one of nonResourceAttributes or resourceAttributes must be specified"))
        if res.plural == "selfsubjectaccessreviews":
            user, groups = req.user.name, req.user.groups
        else:
            user, groups = spec.get("user") or "", tuple(spec.get("groups") or ())
            if not user and not groups:
                causes.append(objects.invalid("spec.user", "", "at least one of user or group must be specified"))
        if res.plural == "localsubjectaccessreviews" and isinstance(ra, dict) and ra.get("namespace") != t.namespace:
            causes.append(objects.invalid("spec.resourceAttributes.namespace", ra.get("namespace") or "",
                                          "must match metadata.namespace"))
        if causes:
            raise ApiError(422, "Invalid", objects.invalid_message(name, "", causes),
                           {"group": "authorization.k8s.io", "kind": res.kind,
                            "causes": [{"reason": c.reason, "message": c.message, "field": c.field} for c in causes]})
        if isinstance(ra, dict):
            attrs = rbac.Attributes(user, groups, ra.get("verb") or "", ra.get("namespace") or "", ra.get("group") or "",
                                    ra.get("resource") or "", ra.get("subresource") or "", ra.get("name") or "")
        else:
            n = nra if isinstance(nra, dict) else {}
            attrs = rbac.Attributes(user, groups, n.get("verb") or "", path=n.get("path") or "", resource_request=False)
        allowed, reason = rbac.authorize(self.store, attrs)
        status: Obj = {"allowed": allowed}
        if reason:
            status["reason"] = reason
        meta = body.get("metadata") or {}
        meta["creationTimestamp"] = None
        out = {"kind": res.kind, "apiVersion": res.api_version, "metadata": meta, "spec": spec, "status": status}
        if res.plural == "selfsubjectaccessreviews":
            out["spec"] = {k: v for k, v in spec.items() if k in ("resourceAttributes", "nonResourceAttributes")}
        return self._json(201, out)

    # -- watch -----------------------------------------------------------------------------------------
    def _watch(self, req: Request, t: Target) -> Response:
        res = t.res
        lm, fm = self._matchers(req, res)
        try:
            timeout = float(req.query.get("timeoutSeconds") or 1800)
        except ValueError as e:
            raise bad_request("timeoutSeconds must be a number") from e
        since = req.query.get("resourceVersion") or ""
        ns = t.namespace or None

        def wanted(entry: Entry) -> bool:
            if ns is not None and entry.key[0] != ns:
                return False
            return (lm is None or lm(entry.obj)) and (fm is None or fm(entry.obj))

        as_table = _wants(req.headers.get("accept", ""), "as=Table")
        first = [True]

        def line(kind: str, entry: Entry) -> bytes:
            if as_table:
                doc = tables.table(res.key, [entry.obj],
                                   {"resourceVersion": entry.obj["metadata"]["resourceVersion"]},
                                   req.query.get("includeObject", "Metadata"))
                if not first[0]:
                    doc["columnDefinitions"] = []  # as upstream: columns only in the first event
                first[0] = False
                payload = dumps(doc)
            else:
                payload = self._entry_bytes(res, entry, True)
            return b'{"type":"' + kind.encode() + b'","object":' + payload + b"}\n"

        with self.store.lock:
            start_rv = self.store.resource_version
            initial = [e for e in self.store.scan(res.key, ns) if wanted(e)] if since in ("", "0") else []
            if since not in ("", "0"):
                try:
                    start_rv = int(since)
                except ValueError as e:
                    raise bad_request(f"invalid resource version: {since}") from e
                oldest = self.store.events[0].rv if self.store.events else self.store.resource_version + 1
                oldest = max(oldest, self.store.compacted_rv + 1)
                if start_rv < oldest - 1 and start_rv < self.store.resource_version:
                    gone = status_obj(410, "Expired", f"too old resource version: {start_rv} ({oldest - 1})")
                    initial_bytes = b'{"type":"ERROR","object":' + dumps(gone) + b"}\n"
                    return Response(200, content_type=JSON, stream=iter([initial_bytes]))

        def stream() -> Iterator[bytes]:
            for e in initial:
                yield line("ADDED", e)
            seen = start_rv
            deadline = time.monotonic() + timeout
            while not self.stopping.is_set():
                with self.store.changed:
                    pending = [ev for ev in self.store.events if ev.rv > seen]
                    if not pending:
                        remaining = deadline - time.monotonic()
                        if remaining <= 0:
                            return
                        self.store.changed.wait(min(remaining, 0.5))
                        continue
                for ev in pending:
                    seen = ev.rv
                    if ev.bucket == res.key and wanted(ev.entry):
                        yield line(ev.type, ev.entry)
                if time.monotonic() > deadline:
                    return

        return Response(200, content_type=JSON, stream=stream())


def _json_or_yaml(raw: bytes) -> Any:
    """kubectl sends JSON even where YAML is accepted; parse JSON first (YAML 1.1 would turn `y` into true)."""
    try:
        return json.loads(raw)
    except ValueError:
        pass
    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError as e:
        raise bad_request(f"error decoding YAML: {e}") from e


class _Retry(Exception):
    """The object changed between read and write of an unconditional update: redo it (as the server does)."""


def _same(a: Obj, b: Obj) -> bool:
    """Equal apart from resourceVersion (a no-op write does not bump it, as upstream)."""
    ma, mb = dict(a.get("metadata") or {}), dict(b.get("metadata") or {})
    ma.pop("resourceVersion", None)
    mb.pop("resourceVersion", None)
    return ma == mb and {k: v for k, v in a.items() if k != "metadata"} == {k: v for k, v in b.items() if k != "metadata"}
