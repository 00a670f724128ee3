"""The only layer of `fix` that writes: read, edit, write with the resourceVersion
read, and on a conflict read again and edit again (DOMAIN.md §7)."""

from __future__ import annotations

import base64
import binascii
import contextlib
import copy
import json
import logging
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kubectl_pullsecret import dockerconfig, redact
from kubectl_pullsecret.errors import FixError
from kubectl_pullsecret.fixes.model import DELETE, Change, Obj, Outcome
from kubectl_pullsecret.kube import RESOURCES, Cluster, can_i_hint
from kubectl_pullsecret.snapshot import meta

log = logging.getLogger(__name__)

MAX_CONFLICTS = 5  # re-reads after a 409 before giving up
DEFAULT_BACKUP_DIR = "~/.kube/pullsecret-backups"


def register_secrets(obj: Mapping[str, Any] | None) -> None:
    """Every data value of a Secret goes to the redactor before anything can print it."""
    if not obj or obj.get("kind") != "Secret":
        return
    for key in ("data", "stringData"):
        values = obj.get(key)
        if not isinstance(values, dict):
            continue
        for value in values.values():
            if not isinstance(value, str):
                continue
            redact.register(value)
            raw: bytes = value.encode()
            if key == "data":
                with contextlib.suppress(binascii.Error, ValueError):
                    raw = base64.b64decode(value, validate=True)
                    redact.register(raw)
            # The passwords, auth strings and tokens inside a docker config, one by one.
            with contextlib.suppress(ValueError):
                dockerconfig.parse(raw, dockerconfig.detect_format(raw))


def redacted(obj: Obj) -> Obj:
    """The object for printing: Secret values replaced by their size (and the
    last-applied annotation, which holds them too, dropped)."""
    if obj.get("kind") != "Secret":
        return obj
    out = copy.deepcopy(obj)
    for key in ("data", "stringData"):
        values = out.get(key)
        if isinstance(values, dict):
            out[key] = {k: f"<redacted: {_size(v, key == 'data')} bytes>" for k, v in values.items()}
    annotations = meta(out).get("annotations")
    if isinstance(annotations, dict) and "kubectl.kubernetes.io/last-applied-configuration" in annotations:
        annotations["kubectl.kubernetes.io/last-applied-configuration"] = redact.MASK
    return out


def _size(value: Any, encoded: bool) -> int:
    if not isinstance(value, str):
        return 0
    if encoded:
        try:
            return len(base64.b64decode(value, validate=True))
        except (binascii.Error, ValueError):
            return len(value)
    return len(value.encode())


def write_backup(obj: Obj, backup_dir: str) -> str:
    """Keep the content about to be replaced: for a pull secret the decoded
    .dockerconfigjson/.dockercfg (what `oc set data --from-file` restores), else the
    whole object as JSON. Mode 0600 in a 0700 directory; one new file per change."""
    directory = Path(os.path.expanduser(backup_dir))
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise FixError(f"--backup-dir {backup_dir}: {exc.strerror}; nothing was written") from None
    m = meta(obj)
    data: dict[str, Any] = obj["data"] if isinstance(obj.get("data"), dict) else {}
    key = next((k for k in dockerconfig.KEY_FOR_FORMAT.values() if isinstance(data.get(k), str)), None)
    content: bytes
    if key is not None:
        try:
            content = base64.b64decode(data[key], validate=True)
        except (binascii.Error, ValueError):
            content = data[key].encode()
        suffix = "json"
    else:
        content = json.dumps(obj, indent=2).encode() + b"\n"
        suffix = "object.json"
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    base = f"{m.get('namespace') or 'cluster'}.{m.get('name')}.rv{m.get('resourceVersion') or '0'}.{stamp}"
    for n in range(100):
        path = directory / (f"{base}.{suffix}" if n == 0 else f"{base}-{n}.{suffix}")
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue
        except OSError as exc:
            raise FixError(f"cannot write a backup in {directory}: {exc.strerror}; nothing was written") from None
        with os.fdopen(fd, "wb") as fh:
            fh.write(content)
        return str(path)
    raise FixError(f"cannot write a backup in {directory}: too many backups this second")


def apply(cluster: Cluster, change: Change, dry_run: str = "none", backup_dir: str = DEFAULT_BACKUP_DIR) -> Outcome:
    """Apply one change: `dry_run` none (write), client (nothing sent but the reads)
    or server (the write sent with dryRun=All)."""
    if change.subresource_post is not None:
        return post(cluster, change, dry_run)
    assert change.edit is not None
    res = RESOURCES[change.kind]
    conflicts = 0
    backups: list[str] = []

    def detail() -> str:
        said = [f"backup of the previous content: {path}" for path in backups]
        if conflicts:
            said.append(f"re-read and re-applied after {conflicts} concurrent change(s)")
        return "; ".join(said)

    while True:
        current = cluster.read(change.kind, change.namespace, change.name)
        register_secrets(current)
        desired = change.edit(copy.deepcopy(current))
        if isinstance(desired, dict):
            register_secrets(desired)
        if desired is DELETE and current is None:
            return Outcome(change, "unchanged", None, "already gone")
        if desired == current or (desired is None and current is None):
            return Outcome(change, "unchanged", current, detail())
        if desired is None:
            raise FixError(f"{change.ref}: the plan has no object to write")  # pragma: no cover - plan bug
        action = "deleted" if desired is DELETE else "created" if current is None else "updated"
        if dry_run == "client":
            return Outcome(change, action, desired if isinstance(desired, dict) else None, detail())
        if change.backup and current is not None and dry_run == "none":
            backups.append(write_backup(current, backup_dir))
        method = "DELETE" if desired is DELETE else "POST" if current is None else "PUT"
        if desired is DELETE:
            assert current is not None
            m = meta(current)
            body: Any = {"kind": "DeleteOptions", "apiVersion": "v1",
                         "preconditions": {"uid": m.get("uid"), "resourceVersion": m.get("resourceVersion")}}
        else:
            assert isinstance(desired, dict)
            body = desired
            if current is None:
                body.setdefault("metadata", {}).pop("resourceVersion", None)
            else:
                # The resourceVersion read stays in the object: the server answers 409 if
                # anyone wrote in between, and the edit is then re-run on their version.
                body.setdefault("metadata", {})["resourceVersion"] = meta(current).get("resourceVersion")
        answer = cluster.write(method, change.kind, change.namespace, None if method == "POST" else change.name,
                               body, dry_run == "server")
        if answer.status == 404 and method == "DELETE":
            return Outcome(change, "unchanged", None, "already gone")
        if answer.status == 409:
            # Changed (or created) by someone else since the read: read again, edit again.
            conflicts += 1
            log.info("%s: changed meanwhile (%s); reading it again", change.ref, answer.reason())
            if conflicts >= MAX_CONFLICTS:
                raise FixError(f"{change.ref} kept changing while being written ({conflicts} conflicts): "
                               "nothing was overwritten; run the fix again")
            continue
        if answer.status not in (200, 201, 202):
            verb = {"DELETE": "delete", "POST": "create", "PUT": "update"}[method]
            raise FixError(f"{change.ref}: the server refused to {verb} it: {answer.reason()}"
                           + can_i_hint(verb, res, change.namespace, answer.status))
        doc = answer.json()
        written = doc if isinstance(doc, dict) and doc.get("kind") not in (None, "Status") else None
        register_secrets(written)
        return Outcome(change, action, written or (desired if isinstance(desired, dict) else None), detail())


def post(cluster: Cluster, change: Change, dry_run: str = "none") -> Outcome:
    """A request that is not an edit (a DeploymentConfig instantiate): sent once."""
    body = change.post_body or {}
    if dry_run == "client":
        return Outcome(change, "requested", body)
    answer = cluster.write("POST", change.kind, change.namespace, change.name, body, dry_run == "server",
                           subresource=change.subresource_post)
    if answer.status not in (200, 201, 202):
        raise FixError(f"{change.ref}: the server refused the request: {answer.reason()}"
                       + can_i_hint("create", RESOURCES[change.kind], change.namespace, answer.status,
                                    change.subresource_post))
    return Outcome(change, "requested", body)
