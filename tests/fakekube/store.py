"""Object storage: one bucket per resource, a global resourceVersion, JSON bytes made at write time.

Every stored object is kept twice: as a dict (for selectors, patches, RBAC) and as its compact JSON
bytes, so a list page is a byte join. Callers get copies; the stored dicts are never handed out.
"""

from __future__ import annotations

import bisect
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

Obj = dict[str, Any]
Key = tuple[str, str]  # (namespace, name); namespace "" for cluster-scoped objects
BucketKey = tuple[str, str]  # (group, plural)


_ENCODER = json.JSONEncoder(separators=(",", ":"))


def dumps(obj: Any) -> bytes:
    return _ENCODER.encode(obj).encode()


def now_rfc3339() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class Entry:
    """One stored object. `raw` is its JSON as a list item: typed (built-in) resources omit kind and
    apiVersion there, as the real server's typed lists do; `full()` is the object as a GET returns it."""

    __slots__ = ("key", "obj", "raw", "typed")

    def __init__(self, key: Key, obj: Obj, raw: bytes, typed: bool) -> None:
        self.key = key
        self.obj = obj
        self.raw = raw
        self.typed = typed

    def full(self) -> bytes:
        if not self.typed:
            return self.raw
        head = b'{"kind":' + dumps(self.obj.get("kind", "")) + b',"apiVersion":' + dumps(self.obj.get("apiVersion", ""))
        return head + (b"," + self.raw[1:] if len(self.raw) > 2 else b"}")

    def copy(self) -> Obj:
        out: Obj = json.loads(self.full())
        return out


def _ordered(obj: Obj) -> Obj:
    """kind, apiVersion, metadata first (as the API server writes them)."""
    out: Obj = {}
    for k in ("kind", "apiVersion", "metadata"):
        if k in obj:
            out[k] = obj[k]
    for k, v in obj.items():
        if k not in out:
            out[k] = v
    return out


def serialise(obj: Obj, typed: bool) -> bytes:
    if typed:
        return dumps({k: v for k, v in obj.items() if k not in ("kind", "apiVersion")})
    return dumps(obj)


class Bucket:
    def __init__(self) -> None:
        self.items: dict[Key, Entry] = {}
        self._sorted: list[Key] | None = []

    def sorted_keys(self) -> list[Key]:
        if self._sorted is None:
            self._sorted = sorted(self.items)
        return self._sorted

    def put(self, entry: Entry) -> None:
        if entry.key not in self.items:
            self._sorted = None
        self.items[entry.key] = entry

    def remove(self, key: Key) -> Entry | None:
        entry = self.items.pop(key, None)
        if entry is not None:
            self._sorted = None
        return entry


@dataclass
class WatchEvent:
    rv: int
    type: str  # ADDED, MODIFIED, DELETED
    bucket: BucketKey
    entry: Entry


class Store:
    """Thread-safe object store. Writes take the lock; reads of one entry are atomic (entries are replaced)."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self._rv = 1000
        #: continue tokens and watches from before this resourceVersion answer 410 Expired (etcd compaction)
        self.compacted_rv = 0
        self._buckets: dict[BucketKey, Bucket] = {}
        self.events: list[WatchEvent] = []  # for watch; bounded
        self._max_events = 5000

    # -- resourceVersion -------------------------------------------------------------------------------
    @property
    def resource_version(self) -> int:
        return self._rv

    def _next_rv(self) -> int:
        self._rv += 1
        return self._rv

    # -- buckets ---------------------------------------------------------------------------------------
    def bucket(self, bucket: BucketKey) -> Bucket:
        found = self._buckets.get(bucket)
        if found is None:
            with self.lock:
                found = self._buckets.setdefault(bucket, Bucket())
        return found

    def get(self, bucket: BucketKey, namespace: str, name: str) -> Entry | None:
        return self.bucket(bucket).items.get((namespace, name))

    def put(self, bucket: BucketKey, obj: Obj, *, typed: bool = True, owned: bool = True,
            event: str | None = None) -> Entry:
        """Store obj (already validated) with a new resourceVersion; fills uid and creationTimestamp if absent.
        owned: the store keeps obj itself (callers must not touch it afterwards); else it stores a copy made
        from the serialised bytes (cheaper than a deep copy, and never aliases the caller's dicts)."""
        obj = _ordered(obj)
        meta = obj["metadata"] = dict(obj.get("metadata") or {})
        if not meta.get("uid"):
            meta["uid"] = str(uuid.uuid4())
        if not meta.get("creationTimestamp"):
            meta["creationTimestamp"] = now_rfc3339()
        with self.lock:
            meta["resourceVersion"] = str(self._next_rv())
            key = (meta.get("namespace") or "", meta["name"])
            raw = serialise(obj, typed)
            if not owned:
                fresh: Obj = json.loads(raw)
                if typed:
                    fresh = {"kind": obj.get("kind"), "apiVersion": obj.get("apiVersion"), **fresh}
                obj = fresh
            entry = Entry(key, obj, raw, typed)
            b = self.bucket(bucket)
            existed = key in b.items
            b.put(entry)
            self._record(event or ("MODIFIED" if existed else "ADDED"), bucket, entry)
        return entry

    def delete(self, bucket: BucketKey, namespace: str, name: str) -> Entry | None:
        with self.lock:
            entry = self.bucket(bucket).remove((namespace, name))
            if entry is not None:
                # a delete is a write: it has its own resourceVersion, as in etcd
                obj = entry.copy()
                obj["metadata"]["resourceVersion"] = str(self._next_rv())
                gone = Entry(entry.key, obj, serialise(obj, entry.typed), entry.typed)
                self._record("DELETED", bucket, gone)
                return gone
        return None

    def _record(self, kind: str, bucket: BucketKey, entry: Entry) -> None:
        self.events.append(WatchEvent(self._rv, kind, bucket, entry))
        if len(self.events) > self._max_events:
            del self.events[: len(self.events) - self._max_events]
        self.changed.notify_all()

    # -- listing ---------------------------------------------------------------------------------------
    def scan(self, bucket: BucketKey, namespace: str | None, after: Key | None = None) -> Iterator[Entry]:
        """Entries sorted by (namespace, name), in one namespace or all, strictly after `after`."""
        with self.lock:
            b = self.bucket(bucket)
            keys = b.sorted_keys()
            items = b.items
        lo, hi = _span(keys, namespace, after)
        for i in range(lo, hi):
            entry = items.get(keys[i])
            if entry is not None:
                yield entry

    def count(self, bucket: BucketKey, namespace: str | None, after: Key | None = None) -> int:
        with self.lock:
            keys = self.bucket(bucket).sorted_keys()
        lo, hi = _span(keys, namespace, after)
        return max(0, hi - lo)

    def all(self, bucket: BucketKey, predicate: Callable[[Obj], bool] | None = None) -> list[Entry]:
        return [e for e in self.scan(bucket, None) if predicate is None or predicate(e.obj)]


def _span(keys: list[Key], namespace: str | None, after: Key | None) -> tuple[int, int]:
    """The index range of sorted (namespace, name) keys in `namespace` (all when None),
    starting after the key `after` (a continue token's position)."""
    if namespace is None:
        lo, hi = 0, len(keys)
    else:
        lo = bisect.bisect_left(keys, (namespace, ""))
        hi = bisect.bisect_left(keys, (namespace + "\x00", ""))
    if after is not None:
        lo = max(lo, bisect.bisect_right(keys, after))
    return lo, hi
