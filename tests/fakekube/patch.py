"""The three PATCH flavours the API server accepts for built-in types.

- JSON merge patch (RFC 7386): maps merge, null deletes, lists are replaced.
- JSON patch (RFC 6902): add/remove/replace/move/copy/test; a failed `test` is an error.
- Strategic merge patch: like merge patch, but lists whose Go field has a patchMergeKey merge element by
  element (PodSpec.containers by name, ServiceAccount.secrets by name, ...), with the `$patch`,
  `$setElementOrder/`, `$deleteFromPrimitiveList/` and `$retainKeys` directives. Lists without a merge key
  are replaced — notably ServiceAccount.imagePullSecrets, which has none upstream.
"""

from __future__ import annotations

import copy
from typing import Any

Path = tuple[str, ...]


class PatchError(ValueError):
    """The patch cannot be applied (answered with 422), or does not parse (400 when `bad_request`)."""

    def __init__(self, message: str, *, bad_request: bool = False) -> None:
        super().__init__(message)
        self.bad_request = bad_request


# -- JSON merge patch --------------------------------------------------------------------------------------

def merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# -- JSON patch --------------------------------------------------------------------------------------------

def _pointer(path: Any) -> list[str]:
    if not isinstance(path, str):
        raise PatchError("path is not a string", bad_request=True)
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError(f"JSON pointer must be empty or start with a \"/\": {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _container(doc: Any, parts: list[str], op: str, path: str) -> tuple[Any, str]:
    cur = doc
    for p in parts[:-1]:
        if isinstance(cur, dict) and p in cur:
            cur = cur[p]
        elif isinstance(cur, list) and p.isdigit() and int(p) < len(cur):
            cur = cur[int(p)]
        else:
            raise PatchError(f"{op} operation does not apply: doc is missing path: \"{path}\": missing value")
    return cur, parts[-1]


def _get(doc: Any, path: str, op: str) -> Any:
    parts = _pointer(path)
    if not parts:
        return doc
    parent, last = _container(doc, parts, op, path)
    if isinstance(parent, dict) and last in parent:
        return parent[last]
    if isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
        return parent[int(last)]
    raise PatchError(f"{op} operation does not apply: doc is missing path: \"{path}\": missing value")


def _remove(doc: Any, path: str, op: str = "remove") -> Any:
    parts = _pointer(path)
    if not parts:
        raise PatchError(f"{op} operation does not apply: cannot remove the whole document")
    parent, last = _container(doc, parts, op, path)
    if isinstance(parent, dict) and last in parent:
        return parent.pop(last)
    if isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
        return parent.pop(int(last))
    raise PatchError(f"{op} operation does not apply: doc is missing path: \"{path}\": missing value")


def _add(doc: Any, path: str, value: Any, op: str = "add") -> Any:
    parts = _pointer(path)
    if not parts:
        return value
    parent, last = _container(doc, parts, op, path)
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        if last == "-":
            parent.append(value)
        elif last.isdigit() and int(last) <= len(parent):
            parent.insert(int(last), value)
        else:
            raise PatchError(f"{op} operation does not apply: doc is missing path: \"{path}\": invalid index")
    else:
        raise PatchError(f"{op} operation does not apply: doc is missing path: \"{path}\": missing value")
    return doc


def _str(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise PatchError(f"operation has no string \"{what}\"", bad_request=True)
    return value


def json_patch(doc: Any, ops: Any) -> Any:
    if not isinstance(ops, list):
        raise PatchError("json: cannot unmarshal object into Go value of type jsonpatch.Patch", bad_request=True)
    doc = copy.deepcopy(doc)
    for op in ops:
        if not isinstance(op, dict) or "op" not in op:
            raise PatchError("Unexpected kind: <nil>", bad_request=True)
        name = op["op"]
        path = _str(op.get("path"), "path")
        if name == "add":
            doc = _add(doc, path, copy.deepcopy(op.get("value")))
        elif name == "remove":
            _remove(doc, path)
        elif name == "replace":
            _get(doc, path, "replace")
            parts = _pointer(path)
            if not parts:
                doc = copy.deepcopy(op.get("value"))
            else:
                parent, last = _container(doc, parts, "replace", path)
                if isinstance(parent, list):
                    parent[int(last)] = copy.deepcopy(op.get("value"))
                else:
                    parent[last] = copy.deepcopy(op.get("value"))
        elif name == "move":
            value = _remove(doc, _str(op.get("from"), "from"), "move")
            doc = _add(doc, path, value, "move")
        elif name == "copy":
            value = copy.deepcopy(_get(doc, _str(op.get("from"), "from"), "copy"))
            doc = _add(doc, path, value, "copy")
        elif name == "test":
            try:
                current = _get(doc, path, "test")
            except PatchError:
                raise PatchError(f"testing value {path} failed: test failed") from None
            if current != op.get("value"):
                raise PatchError(f"testing value {path} failed: test failed")
        else:
            raise PatchError(f"Unexpected kind: {name}", bad_request=True)
    return doc


# -- strategic merge patch ---------------------------------------------------------------------------------

_CONTAINER_KEYS: dict[Path, str] = {
    ("env",): "name", ("ports",): "containerPort", ("volumeMounts",): "mountPath", ("volumeDevices",): "devicePath",
    ("resizePolicy",): "resourceName",
}
_POD_SPEC_KEYS: dict[Path, str] = {
    ("imagePullSecrets",): "name", ("volumes",): "name", ("hostAliases",): "ip", ("resourceClaims",): "name",
    ("schedulingGates",): "name", ("topologySpreadConstraints",): "topologyKey",
}
for _c in ("containers", "initContainers", "ephemeralContainers"):
    _POD_SPEC_KEYS[(_c,)] = "name"
    for _sub, _k in _CONTAINER_KEYS.items():
        _POD_SPEC_KEYS[(_c, *_sub)] = _k

#: where the PodSpec sits in each kind that carries one
POD_SPEC_AT: dict[str, Path] = {
    "Pod": ("spec",), "PodTemplate": ("template", "spec"),
    "Deployment": ("spec", "template", "spec"), "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"), "ReplicaSet": ("spec", "template", "spec"),
    "ReplicationController": ("spec", "template", "spec"), "Job": ("spec", "template", "spec"),
    "DeploymentConfig": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
_KIND_KEYS: dict[str, dict[Path, str]] = {
    # ServiceAccount.secrets merges by name; ServiceAccount.imagePullSecrets has no merge key (replaced)
    "ServiceAccount": {("secrets",): "name"},
    "Pod": {("status", "conditions"): "type", ("status", "containerStatuses"): "name"},
    "Node": {("status", "conditions"): "type", ("status", "addresses"): "type"},
}
_SET_LISTS: set[Path] = {("metadata", "finalizers")}  # primitive lists with patchStrategy merge


def merge_key(kind: str, path: Path) -> str | None:
    """The patchMergeKey of the list at `path` (field names from the object root, list indices dropped)."""
    if path == ("metadata", "ownerReferences"):
        return "uid"
    if len(path) >= 3 and path[-3:-1] == ("metadata", "ownerReferences"):
        return None
    at = POD_SPEC_AT.get(kind)
    if at is not None and path[: len(at)] == at:
        rest = path[len(at):]
        if rest in _POD_SPEC_KEYS:
            return _POD_SPEC_KEYS[rest]
    if len(path) >= 2 and path[-2:] == ("metadata", "ownerReferences"):
        return "uid"
    return _KIND_KEYS.get(kind, {}).get(path)


def strategic_merge_patch(kind: str, original: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        raise PatchError("strategic merge patch must be a JSON object", bad_request=True)
    return _smp_map(kind, copy.deepcopy(original) if isinstance(original, dict) else {}, patch, ())


def _smp_map(kind: str, orig: dict[str, Any], patch: dict[str, Any], path: Path) -> Any:
    directive = patch.get("$patch")
    if directive == "replace":
        return {k: v for k, v in patch.items() if k != "$patch"}
    if directive == "delete":
        return None
    if directive is not None:
        raise PatchError(f"Unknown patch type: {directive} in map: {patch}")
    orders: dict[str, list[Any]] = {}
    retain = patch.get("$retainKeys")
    for key, value in patch.items():
        if key in ("$patch", "$retainKeys"):
            continue
        if key.startswith("$setElementOrder/"):
            if isinstance(value, list):
                orders[key.split("/", 1)[1]] = value
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            if isinstance(orig.get(field), list) and isinstance(value, list):
                orig[field] = [v for v in orig[field] if v not in value]
            continue
        child = path + (key,)
        if value is None:
            orig.pop(key, None)
        elif isinstance(value, dict) and isinstance(orig.get(key), dict):
            merged = _smp_map(kind, orig[key], value, child)
            if merged is None:
                orig.pop(key, None)
            else:
                orig[key] = merged
        elif isinstance(value, dict):
            merged = _smp_map(kind, {}, value, child)
            if merged is not None:
                orig[key] = merged
        elif isinstance(value, list):
            orig[key] = _smp_list(kind, orig.get(key), value, child)
        else:
            orig[key] = copy.deepcopy(value)
    for field, order in orders.items():
        if isinstance(orig.get(field), list):
            orig[field] = _apply_order(kind, orig[field], order, path + (field,))
    if isinstance(retain, list):
        for key in list(orig):
            if key not in retain:
                del orig[key]
    return orig


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if not k.startswith("$")}
    return copy.deepcopy(value)


def _smp_list(kind: str, orig: Any, patch: list[Any], path: Path) -> list[Any]:
    current = list(orig) if isinstance(orig, list) else []
    if any(isinstance(p, dict) and p.get("$patch") == "replace" and len(p) == 1 for p in patch):
        return [_strip(p) for p in patch if not (isinstance(p, dict) and p.get("$patch") == "replace")]
    key = merge_key(kind, path)
    if key is None:
        if path in _SET_LISTS:
            return current + [copy.deepcopy(v) for v in patch if v not in current]
        return [_strip(p) for p in patch]
    for item in patch:
        if not isinstance(item, dict):
            raise PatchError(f"cannot merge a non-map element into the list {'.'.join(path)} (merge key {key})")
        if key not in item:
            raise PatchError(f"map: {item} does not contain declared merge key: {key}")
        index = next((i for i, c in enumerate(current) if isinstance(c, dict) and c.get(key) == item[key]), None)
        if item.get("$patch") == "delete":
            if index is not None:
                current.pop(index)
            continue
        if index is None:
            current.append(_strip(item))
        else:
            current[index] = _smp_map(kind, copy.deepcopy(current[index]), item, path)
    return current


def _apply_order(kind: str, items: list[Any], order: list[Any], path: Path) -> list[Any]:
    key = merge_key(kind, path)
    if key is None:
        rank = {repr(v): i for i, v in enumerate(order)}
        return sorted(items, key=lambda v: rank.get(repr(v), len(rank)))
    rank = {repr(o.get(key)): i for i, o in enumerate(order) if isinstance(o, dict)}
    return sorted(items, key=lambda v: rank.get(repr(v.get(key)) if isinstance(v, dict) else "", len(rank)))
