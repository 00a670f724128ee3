"""Label selectors (the full set-based grammar) and field selectors (per-kind field sets), as the API server parses them."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Obj = dict[str, Any]


class SelectorError(ValueError):
    """The selector does not parse, or names a field the resource does not support (answered with 400)."""


# -- label selectors ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!", "gt", "lt"
    values: tuple[str, ...] = ()

    def matches(self, labels: dict[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.op == "exists":
            return present
        if self.op == "!":
            return not present
        if self.op in ("=", "in"):
            return present and value in self.values
        if self.op in ("!=", "notin"):
            return not present or value not in self.values
        if not present:
            return False
        try:
            number = int(str(value))
        except ValueError:
            return False
        bound = int(self.values[0])
        return number > bound if self.op == "gt" else number < bound


_TOKEN = re.compile(r"\s*(==|!=|=|\(|\)|,|!|>|<|[^\s=!(),<>]+)")
_KEY = re.compile(r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
                  r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")


def _tokens(text: str) -> list[str]:
    out: list[str] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise SelectorError(f"unable to parse requirement: unexpected character at {pos} in {text!r}")
        out.append(m.group(1))
        pos = m.end()
    return out


def parse_labels(text: str) -> list[Requirement]:
    """Parse a label selector; empty means everything."""
    toks = _tokens(text)
    reqs: list[Requirement] = []
    i = 0

    def need(cond: bool, msg: str) -> None:
        if not cond:
            raise SelectorError(f"unable to parse requirement: {msg}")

    def check_key(key: str) -> str:
        need(bool(_KEY.match(key)) and len(key) <= 317, f"invalid label key {key!r}")
        return key

    def check_value(value: str) -> str:
        need(bool(_VALUE.match(value)), f"invalid label value: {value!r}: a valid label must be an empty string or "
             "consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character")
        return value

    while i < len(toks):
        if toks[i] == "!":
            need(i + 1 < len(toks), "found '', expected: identifier")
            reqs.append(Requirement(check_key(toks[i + 1]), "!"))
            i += 2
        else:
            key = check_key(toks[i])
            i += 1
            op = toks[i] if i < len(toks) else ","
            if op == ",":
                reqs.append(Requirement(key, "exists"))
            elif op in ("=", "==", "!="):
                i += 1
                value = toks[i] if i < len(toks) and toks[i] != "," else ""
                if value:
                    i += 1
                reqs.append(Requirement(key, "!=" if op == "!=" else "=", (check_value(value),)))
            elif op in (">", "<"):
                i += 1
                need(i < len(toks) and toks[i].lstrip("-").isdigit(), "for 'Gt', 'Lt' operators, the value must be an integer")
                reqs.append(Requirement(key, "gt" if op == ">" else "lt", (toks[i],)))
                i += 1
            elif op in ("in", "notin"):
                i += 1
                need(i < len(toks) and toks[i] == "(", f"found '{toks[i] if i < len(toks) else ''}', expected: '('")
                i += 1
                values: list[str] = []
                while True:
                    need(i < len(toks), "found '', expected: ',', ')' or identifier")
                    t = toks[i]
                    if t == ")":
                        i += 1
                        break
                    if t == ",":
                        if not values or toks[i - 1] in (",", "("):
                            values.append("")
                        i += 1
                        if i < len(toks) and toks[i] == ")":
                            values.append("")
                        continue
                    values.append(check_value(t))
                    i += 1
                need(bool(values), "for 'in', 'notin' operators, values set can't be empty")
                reqs.append(Requirement(key, op, tuple(values)))
            else:
                raise SelectorError(f"unable to parse requirement: found '{op}', expected: in, notin, =, ==, !=, gt, lt")
        if i < len(toks):
            need(toks[i] == ",", f"found '{toks[i]}', expected: ','")
            i += 1
            need(i < len(toks), "found '', expected: !, identifier, or 'end of string'")
    return reqs


def label_matcher(text: str) -> Callable[[Obj], bool] | None:
    reqs = parse_labels(text)
    if not reqs:
        return None

    def match(obj: Obj) -> bool:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        return all(r.matches(labels) for r in reqs)

    return match


# -- field selectors ---------------------------------------------------------------------------------------

def _path(*parts: str, default: str = "") -> Callable[[Obj], str]:
    def get(obj: Obj) -> str:
        cur: Any = obj
        for p in parts:
            if not isinstance(cur, dict):
                return default
            cur = cur.get(p)
        if cur is None:
            return default
        if isinstance(cur, bool):
            return "true" if cur else "false"
        return str(cur)
    return get


_COMMON = {"metadata.name": _path("metadata", "name"), "metadata.namespace": _path("metadata", "namespace")}
_EVENT = {
    "involvedObject.kind": _path("involvedObject", "kind"),
    "involvedObject.namespace": _path("involvedObject", "namespace"),
    "involvedObject.name": _path("involvedObject", "name"),
    "involvedObject.uid": _path("involvedObject", "uid"),
    "involvedObject.apiVersion": _path("involvedObject", "apiVersion"),
    "involvedObject.resourceVersion": _path("involvedObject", "resourceVersion"),
    "involvedObject.fieldPath": _path("involvedObject", "fieldPath"),
    "reason": _path("reason"),
    "reportingComponent": _path("reportingComponent"),
    "source": _path("source", "component"),
    "type": _path("type"),
}

FIELDS: dict[tuple[str, str], dict[str, Callable[[Obj], str]]] = {
    ("", "pods"): {
        "spec.nodeName": _path("spec", "nodeName"),
        "spec.restartPolicy": _path("spec", "restartPolicy"),
        "spec.schedulerName": _path("spec", "schedulerName"),
        "spec.serviceAccountName": _path("spec", "serviceAccountName"),
        "spec.hostNetwork": _path("spec", "hostNetwork", default="false"),
        "status.phase": _path("status", "phase"),
        "status.podIP": _path("status", "podIP"),
        "status.nominatedNodeName": _path("status", "nominatedNodeName"),
    },
    ("", "secrets"): {"type": _path("type")},
    ("", "events"): _EVENT,
    ("", "namespaces"): {"status.phase": _path("status", "phase")},
    ("", "nodes"): {"spec.unschedulable": _path("spec", "unschedulable", default="false")},
    ("apps", "replicasets"): {"status.replicas": _path("status", "replicas")},
    ("batch", "jobs"): {"status.successful": _path("status", "successful")},
}


def _split_unescaped(text: str, sep: str) -> list[str]:
    parts: list[str] = []
    cur: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            cur.append(text[i: i + 2])
            i += 2
            continue
        if c == sep:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    parts.append("".join(cur))
    return parts


def _unescape(value: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(value):
        if value[i] == "\\":
            if i + 1 >= len(value) or value[i + 1] not in "\\,=":
                raise SelectorError(f"invalid field selector: invalid escape sequence in {value!r}")
            out.append(value[i + 1])
            i += 2
        else:
            out.append(value[i])
            i += 1
    return "".join(out)


def parse_fields(text: str) -> list[tuple[str, str, str]]:
    """[(field, op, value)] with op "=" or "!="."""
    terms: list[tuple[str, str, str]] = []
    if not text.strip():
        return terms
    for part in _split_unescaped(text, ","):
        m = re.match(r"^([^=!]*?)(==|!=|=)(.*)$", part)
        if m is None:
            raise SelectorError(f"invalid selector: '{text}'; can't understand '{part}'")
        field, op, value = m.group(1).strip(), m.group(2), m.group(3)
        terms.append((field, "!=" if op == "!=" else "=", _unescape(value)))
    return terms


def field_matcher(text: str, bucket: tuple[str, str], not_found: Callable[[str], str]) -> Callable[[Obj], bool] | None:
    """A predicate for the field selector; `not_found(field)` gives the error message for an unsupported field."""
    terms = parse_fields(text)
    if not terms:
        return None
    supported = {**_COMMON, **FIELDS.get(bucket, {})}
    getters: list[tuple[Callable[[Obj], str], str, str]] = []
    for field, op, value in terms:
        getter = supported.get(field)
        if getter is None:
            raise SelectorError(not_found(field))
        getters.append((getter, op, value))

    def match(obj: Obj) -> bool:
        return all((getter(obj) == value) == (op == "=") for getter, op, value in getters)

    return match
