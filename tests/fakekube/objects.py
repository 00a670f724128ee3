"""What the API server does to an object on its way in: defaulting, Secret stringData folding, validation
(the 422 "is invalid" answers a client can meet), and the events.k8s.io/v1 <-> v1 Event conversion."""

from __future__ import annotations

import base64
import binascii
import copy
import json
import re
from dataclasses import dataclass
from typing import Any

Obj = dict[str, Any]

_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DATA_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
_PATH_SEGMENT_NAMES = {"roles", "clusterroles", "rolebindings", "clusterrolebindings"}  # names may contain ':'
_DNS_LABEL_NAMES = {"namespaces"}


@dataclass(frozen=True)
class Cause:
    field: str
    reason: str  # FieldValueRequired, FieldValueInvalid, FieldValueForbidden, ...
    message: str

    def text(self) -> str:
        return f"{self.field}: {self.message}"


class Invalid(Exception):
    """422: `<Kind> "<name>" is invalid: ...`."""

    def __init__(self, causes: list[Cause]) -> None:
        super().__init__("; ".join(c.text() for c in causes))
        self.causes = causes


class BadRequest(Exception):
    """400 with this message."""


def required(field: str) -> Cause:
    return Cause(field, "FieldValueRequired", "Required value")


def invalid(field: str, value: Any, detail: str) -> Cause:
    shown = value if isinstance(value, str) else json.dumps(value)
    return Cause(field, "FieldValueInvalid", f"Invalid value: \"{shown}\": {detail}" if isinstance(value, str)
                 else f"Invalid value: {shown}: {detail}")


def forbidden(field: str, detail: str) -> Cause:
    return Cause(field, "FieldValueForbidden", f"Forbidden: {detail}")


def invalid_message(kind: str, name: str, causes: list[Cause]) -> str:
    if len(causes) == 1:
        return f"{kind} \"{name}\" is invalid: {causes[0].text()}"
    return f"{kind} \"{name}\" is invalid: [{', '.join(c.text() for c in causes)}]"


# -- on the way in -----------------------------------------------------------------------------------------

def prepare(plural: str, group: str, obj: Obj) -> None:
    """Conversion and defaulting done before validation (mutates obj)."""
    if group == "" and plural == "secrets":
        string_data = obj.pop("stringData", None)
        if isinstance(string_data, dict):
            data = obj.setdefault("data", {}) or {}
            obj["data"] = data
            for k, v in string_data.items():
                data[k] = base64.b64encode(str(v).encode()).decode()
        obj.setdefault("type", "Opaque")
        for key, value in (obj.get("data") or {}).items():
            if not isinstance(value, str):
                raise BadRequest(f"Secret in version \"v1\" cannot be handled as a Secret: json: cannot unmarshal "
                                 f"{type(value).__name__} into Go struct field Secret.data of type []uint8 (key {key})")
            try:
                base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError) as e:
                raise BadRequest(f"Secret in version \"v1\" cannot be handled as a Secret: illegal base64 data "
                                 f"at input byte {_bad_byte(value)}") from e
    if group == "" and plural == "pods":
        spec = obj.setdefault("spec", {})
        if isinstance(spec, dict):
            _default_pod_spec(spec)
        status = obj.setdefault("status", {})
        if isinstance(status, dict):
            status.setdefault("phase", "Pending")
    if group == "" and plural == "namespaces":
        obj.setdefault("spec", {"finalizers": ["kubernetes"]})
        obj.setdefault("status", {"phase": "Active"})


def _default_pod_spec(spec: Obj) -> Obj:
    spec.setdefault("serviceAccountName", "default")
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    return spec


def _bad_byte(value: str) -> int:
    for i, c in enumerate(value):
        if not (c.isalnum() or c in "+/="):
            return i
    return len(value)


def _decoded(obj: Obj, key: str) -> bytes | None:
    value = (obj.get("data") or {}).get(key)
    if value is None:
        return None
    return base64.b64decode(value)


def validate(plural: str, group: str, obj: Obj, old: Obj | None) -> list[Cause]:
    """Validation errors (empty list: valid). `old` is the stored object on update."""
    causes: list[Cause] = []
    meta = obj.get("metadata") or {}
    name = meta.get("name", "")
    if not name:
        causes.append(Cause("metadata.name", "FieldValueRequired", "Required value: name or generateName is required"))
    elif plural in _DNS_LABEL_NAMES:
        if not _LABEL.match(name) or len(name) > 63:
            causes.append(invalid("metadata.name", name, "a lowercase RFC 1123 label must consist of lower case "
                                  "alphanumeric characters or '-', and must start and end with an alphanumeric character"))
    elif plural in _PATH_SEGMENT_NAMES:
        if name in (".", "..") or "/" in name or "%" in name:
            causes.append(invalid("metadata.name", name, "may not contain '/' or '%'"))
    elif not _SUBDOMAIN.match(name) or len(name) > 253:
        causes.append(invalid("metadata.name", name, "a lowercase RFC 1123 subdomain must consist of lower case "
                              "alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character "
                              "(e.g. 'example.com', regex used for validation is "
                              "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"))
    if old is not None:
        old_meta = old.get("metadata") or {}
        if meta.get("uid") and meta.get("uid") != old_meta.get("uid"):
            causes.append(invalid("metadata.uid", meta.get("uid"), "field is immutable"))
    if group == "" and plural == "secrets":
        causes += _validate_secret(obj, old)
    elif group == "" and plural == "pods":
        causes += _validate_pod(obj, old)
    elif group == "rbac.authorization.k8s.io" and plural in ("rolebindings", "clusterrolebindings"):
        causes += _validate_binding(obj, old)
    elif group == "rbac.authorization.k8s.io" and plural in ("roles", "clusterroles"):
        for i, rule in enumerate(obj.get("rules") or []):
            if not rule.get("verbs"):
                causes.append(required(f"rules[{i}].verbs"))
    elif group == "" and plural == "serviceaccounts":
        for field in ("secrets", "imagePullSecrets"):
            value = obj.get(field)
            if value is not None and not isinstance(value, list):
                raise BadRequest(f"ServiceAccount in version \"v1\" cannot be handled as a ServiceAccount: json: cannot "
                                 f"unmarshal {_go_type(value)} into Go struct field ServiceAccount.{field} of type "
                                 f"[]v1.{'ObjectReference' if field == 'secrets' else 'LocalObjectReference'}")
            for ref in value or []:
                name = ref.get("name") if isinstance(ref, dict) else ref
                if not isinstance(ref, dict) or (name is not None and not isinstance(name, str)):
                    raise BadRequest(f"ServiceAccount in version \"v1\" cannot be handled as a ServiceAccount: json: "
                                     f"cannot unmarshal {_go_type(name)} into Go struct field "
                                     f"{'ObjectReference' if field == 'secrets' else 'LocalObjectReference'}.{field}.name "
                                     "of type string")
    return causes


def _go_type(value: Any) -> str:
    """How encoding/json names a JSON value's type in unmarshal errors."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object" if isinstance(value, dict) else "null"


def _validate_secret(obj: Obj, old: Obj | None) -> list[Cause]:
    causes: list[Cause] = []
    typ = obj.get("type") or "Opaque"
    for key in obj.get("data") or {}:
        if not _DATA_KEY.match(key):
            causes.append(invalid(f"data[{key}]", key, "a valid config key must consist of alphanumeric characters, "
                                  "'-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for "
                                  "validation is '[-._a-zA-Z0-9]+')"))
    if typ in ("kubernetes.io/dockercfg", "kubernetes.io/dockerconfigjson"):
        key = ".dockercfg" if typ == "kubernetes.io/dockercfg" else ".dockerconfigjson"
        raw = _decoded(obj, key)
        if raw is None:
            causes.append(required(f"data[{key}]"))
        else:
            try:
                json.loads(raw)
            except ValueError as e:
                causes.append(invalid(f"data[{key}]", "<secret contents redacted>", _json_error(e)))
    elif typ == "kubernetes.io/service-account-token":
        if not (obj.get("metadata", {}).get("annotations") or {}).get("kubernetes.io/service-account.name"):
            causes.append(required("metadata.annotations[kubernetes.io/service-account.name]"))
    elif typ == "kubernetes.io/tls":
        for key in ("tls.crt", "tls.key"):
            if key not in (obj.get("data") or {}):
                causes.append(required(f"data[{key}]"))
    elif typ == "kubernetes.io/basic-auth":
        data = obj.get("data") or {}
        if "username" not in data and "password" not in data:
            causes.append(required("data[username]"))
    if old is not None:
        old_type = old.get("type") or "Opaque"
        if typ != old_type:
            causes.append(invalid("type", typ, "field is immutable"))
        if old.get("immutable") and (obj.get("data") != old.get("data")):
            causes.append(forbidden("data", "field is immutable when `immutable` is set"))
    return causes


def _json_error(e: ValueError) -> str:
    text = str(e)
    m = re.match(r"Expecting value: line \d+ column \d+ \(char (\d+)\)", text)
    if m:
        return "invalid character looking for beginning of value"
    return text


_POD_MUTABLE = ("activeDeadlineSeconds", "tolerations", "terminationGracePeriodSeconds")


def _without_images(spec: Obj) -> Obj:
    spec = _default_pod_spec(copy.deepcopy(spec))
    for field in ("containers", "initContainers"):
        for c in spec.get(field) or []:
            if isinstance(c, dict):
                c.pop("image", None)
    for field in _POD_MUTABLE:
        spec.pop(field, None)
    return spec


def _validate_pod(obj: Obj, old: Obj | None) -> list[Cause]:
    causes: list[Cause] = []
    spec = obj.get("spec") or {}
    containers = spec.get("containers")
    if not containers:
        causes.append(required("spec.containers"))
    for field in ("containers", "initContainers"):
        for i, c in enumerate(spec.get(field) or []):
            if not isinstance(c, dict):
                continue
            if not c.get("name"):
                causes.append(required(f"spec.{field}[{i}].name"))
            if not c.get("image") and old is None:
                causes.append(required(f"spec.{field}[{i}].image"))
    if old is not None and _without_images(spec) != _without_images(old.get("spec") or {}):
        causes.append(forbidden("spec", "pod updates may not change fields other than `spec.containers[*].image`,"
                                "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` "
                                "(only additions to existing tolerations),`spec.terminationGracePeriodSeconds` "
                                "(allow it to be set to 1 if it was previously negative)"))
    return causes


def _validate_binding(obj: Obj, old: Obj | None) -> list[Cause]:
    causes: list[Cause] = []
    ref = obj.get("roleRef") or {}
    if not ref.get("kind"):
        causes.append(Cause("roleRef.kind", "FieldValueNotSupported", "Unsupported value: \"\": supported values: "
                            "\"ClusterRole\"" + (", \"Role\"" if obj.get("kind") == "RoleBinding" else "")))
    if not ref.get("name"):
        causes.append(required("roleRef.name"))
    for i, s in enumerate(obj.get("subjects") or []):
        if not s.get("name"):
            causes.append(required(f"subjects[{i}].name"))
        if s.get("kind") not in ("User", "Group", "ServiceAccount"):
            causes.append(Cause(f"subjects[{i}].kind", "FieldValueNotSupported",
                                f"Unsupported value: \"{s.get('kind', '')}\": supported values: \"ServiceAccount\", "
                                "\"User\", \"Group\""))
        if s.get("kind") == "ServiceAccount" and obj.get("kind") == "ClusterRoleBinding" and not s.get("namespace"):
            causes.append(required(f"subjects[{i}].namespace"))
    if old is not None and (old.get("roleRef") or {}) != ref:
        causes.append(invalid("roleRef", ref, "cannot change roleRef"))
    return causes


# -- events.k8s.io/v1 <-> v1 -------------------------------------------------------------------------------

_EV_PAIRS = (("regarding", "involvedObject"), ("note", "message"), ("reportingController", "reportingComponent"),
             ("deprecatedSource", "source"), ("deprecatedFirstTimestamp", "firstTimestamp"),
             ("deprecatedLastTimestamp", "lastTimestamp"), ("deprecatedCount", "count"))
_EV_SAME = ("metadata", "eventTime", "series", "reportingInstance", "action", "reason", "related", "type")


def event_to_events_v1(core: Obj) -> Obj:
    out: Obj = {"kind": "Event", "apiVersion": "events.k8s.io/v1", "metadata": core.get("metadata") or {},
                "eventTime": core.get("eventTime")}  # eventTime is not omitempty: null when unset (as upstream)
    for field in _EV_SAME[2:]:
        if core.get(field) not in (None, "", {}):
            out[field] = core[field]
    for new, old in _EV_PAIRS:
        if core.get(old) not in (None, "", {}, 0):
            out[new] = core[old]
    if "series" in core and isinstance(core["series"], dict):
        out["series"] = {k: v for k, v in core["series"].items() if k in ("count", "lastObservedTime")}
    return out


def event_to_core(ev: Obj) -> Obj:
    out: Obj = {"kind": "Event", "apiVersion": "v1", "metadata": ev.get("metadata") or {}}
    for field in _EV_SAME[1:]:
        if ev.get(field) is not None:
            out[field] = ev[field]
    for new, old in _EV_PAIRS:
        if ev.get(new) is not None:
            out[old] = ev[new]
    out.setdefault("involvedObject", {})
    return out
