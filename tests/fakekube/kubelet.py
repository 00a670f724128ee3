"""A simulated kubelet: runs "node probe" pods of the fake API server as local processes.

    with FakeKube() as fake:
        kubelet = fake.kubelet()                                   # one per FakeKube; FakeKube.stop() stops it
        kubelet.add_node("node-a", root=tmp_path / "node-a", labels={"node-role.kubernetes.io/worker": ""})
        kubelet.add_node("node-b", root=..., start_delay=0.5)       # waits before starting containers
        kubelet.add_node("node-c", root=..., stuck_reason="ImagePullBackOff")  # the container never starts

Pods labelled app.kubernetes.io/name=pullsecret-node-probe whose spec.nodeName is a simulated node are run
once each (per uid), concurrently, each in its own thread:

- on pick-up: phase Pending, startTime, container waiting ContainerCreating; then `start_delay`;
- a node with `stuck_reason`: the container waits with that reason ('Back-off pulling image "<image>"') forever;
- volumes are materialised in a per-pod temp dir: configMap (data and base64 binaryData, or `items`), secret
  (base64 data, or `items`), emptyDir, hostPath as `root + hostPath.path` (type File/Directory/Socket/...
  checked: a failed check, or a missing configMap/secret/key, leaves the pod Pending/ContainerCreating with a
  FailedMount Warning event, as the real kubelet reports it);
- the first container's `command + args` run with subprocess (argv[0] python3/python -> `python`, by default
  sys.executable), with every argument (and `--flag=value` value, and literal env value) that is a mountPath or
  under one rewritten to the local path. An argument that is a parent of mountPaths (`--host /host` with mounts
  /host/etc and /host/var/lib/kubelet/config.json) is rewritten to the node root when every mount under it is
  a hostPath at the same relative path, else to a per-pod root of symlinks. Env: the literal `value`s, PATH,
  HOME (the pod dir), HOSTNAME (the node: hostNetwork), proxy variables of the test process. cwd: the pod dir.
  stdout and stderr, combined, are the pod's log;
- `spec.activeDeadlineSeconds` (counted from startTime, read again while the pod lives, so a patch applies)
  fails the pod with reason DeadlineExceeded, killing its processes if they run;
- exit: Succeeded (0) or Failed, container terminated {exitCode, reason Completed|Error}; an exec failure
  is terminated {exitCode 128, reason StartError};
- a deleted pod's processes are killed at once (the whole process group) and its status is never written again.

Status writes go through the store (watchers get MODIFIED events). GET pods/NAME/log answers the log
(`container`, `tailLines`, `limitBytes`, `follow` honoured), or 400 'container "probe" in pod "NAME" is waiting
to start: REASON' before the container started. Pods the sim does not run keep the default (an empty 200).
"""

from __future__ import annotations

import base64
import binascii
import bisect
import contextlib
import hashlib
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .api import ApiError, Request, Response
from .store import Entry, now_rfc3339

if TYPE_CHECKING:
    from .server import FakeKube

Obj = dict[str, Any]

PROBE_LABEL = "app.kubernetes.io/name"
PROBE_VALUE = "pullsecret-node-probe"
RUNTIME_VERSION = "cri-o://1.31.0"
KUBELET_VERSION = "v1.31.0"
_PODS = ("", "pods")
_POLL = 0.05
_PROXY_VARS = ("HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "https_proxy", "http_proxy", "no_proxy")
_DEADLINE_MESSAGE = "Pod was active on the node longer than the specified deadline"


@dataclass(frozen=True)
class SimNode:
    name: str
    root: Path
    ip: str
    start_delay: float = 0.0
    stuck_reason: str | None = None


class _MountError(Exception):
    def __init__(self, volume: str, message: str) -> None:
        super().__init__(message)
        self.volume = volume
        self.message = message


@dataclass
class _Run:
    """One pod the sim took on."""

    uid: str
    namespace: str
    name: str
    node: SimNode
    container: str
    image: str
    picked: float  # time.monotonic() at pick-up (startTime)
    start_time: str
    lock: threading.Lock = field(default_factory=threading.Lock)
    cond: threading.Condition = field(default_factory=threading.Condition)  # log appends and state changes
    gone: threading.Event = field(default_factory=threading.Event)  # deleted, or the sim stopped
    log: bytearray = field(default_factory=bytearray)
    waiting: str = "ContainerCreating"
    waiting_message: str | None = None
    started: bool = False  # the container started (its log can be read)
    finished: bool = False  # terminal (Succeeded/Failed) or abandoned
    proc: subprocess.Popen[bytes] | None = None
    pod_dir: Path | None = None
    thread: threading.Thread | None = None
    thread_done: bool = False
    cleaned: bool = False


class SimKubelet:
    """The simulated kubelet of one FakeKube (made by `FakeKube.kubelet()`)."""

    def __init__(self, fake: FakeKube) -> None:
        self._fake = fake
        self._store = fake.store
        #: the interpreter that runs a container's python3/python (the product's probe)
        self.python = sys.executable
        self._lock = threading.Lock()
        self._nodes: dict[str, SimNode] = {}
        self._runs: dict[str, _Run] = {}  # uid -> run
        self._order: list[tuple[str, str]] = []
        self._stopping = threading.Event()
        self._rescan_due = threading.Event()
        self._watcher: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------------------
    def start(self) -> SimKubelet:
        """Start watching the store (idempotent; again after stop())."""
        with self._lock:
            if self._watcher is not None and self._watcher.is_alive():
                return self
            self._stopping.clear()
            self._fake._api.pod_log = self._serve_log
            self._watcher = threading.Thread(target=self._watch, name="simkubelet", daemon=True)
            self._watcher.start()
        return self

    def stop(self) -> None:
        """Kill every pod's processes, stop watching, remove the pods' temp dirs. Statuses are left as they are."""
        self._stopping.set()
        with self._lock:
            watcher, self._watcher = self._watcher, None
            runs = list(self._runs.values())
        for run in runs:
            self._abandon(run)
        if watcher is not None:
            watcher.join(timeout=5)
        for run in runs:
            if run.thread is not None:
                run.thread.join(timeout=5)
            self._cleanup(run)

    # -- nodes -----------------------------------------------------------------------------------------
    def add_node(self, name: str, root: str | Path, *, labels: Mapping[str, str] | None = None,
                 taints: Sequence[Obj] | None = None, start_delay: float = 0.0, stuck_reason: str | None = None) -> Obj:
        """Store a v1 Node (Ready, cri-o, kubelet v1.31.0) and simulate it: `root` is its filesystem root
        (hostPath volumes resolve under it). Returns the stored Node."""
        with self._lock:
            if name in self._nodes:
                raise ValueError(f"node {name!r} is already simulated")
            ip = f"10.0.0.{len(self._nodes) + 10}"
            self._nodes[name] = SimNode(name, Path(root), ip, float(start_delay), stuck_reason)
        node_labels = {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
                       "beta.kubernetes.io/os": "linux", "beta.kubernetes.io/arch": "amd64", **dict(labels or {})}
        now = now_rfc3339()
        spec: Obj = {"taints": [dict(t) for t in taints]} if taints else {}
        digest = hashlib.sha256(name.encode()).hexdigest()
        node: Obj = {
            "apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": node_labels}, "spec": spec,
            "status": {
                "addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": name}],
                "conditions": [
                    {"type": t, "status": "False", "reason": r, "message": m, "lastHeartbeatTime": now,
                     "lastTransitionTime": now} for t, r, m in (
                        ("MemoryPressure", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
                        ("DiskPressure", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                        ("PIDPressure", "KubeletHasSufficientPID", "kubelet has sufficient PID available"))
                ] + [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready "
                      "status", "lastHeartbeatTime": now, "lastTransitionTime": now}],
                "nodeInfo": {"architecture": "amd64", "bootID": str(uuid.UUID(digest[:32])),
                             "containerRuntimeVersion": RUNTIME_VERSION, "kernelVersion": "5.14.0-427.el9.x86_64",
                             "kubeProxyVersion": KUBELET_VERSION, "kubeletVersion": KUBELET_VERSION,
                             "machineID": digest[32:64], "operatingSystem": "linux",
                             "osImage": "Red Hat Enterprise Linux CoreOS 418.94 (Plow)",
                             "systemUUID": str(uuid.UUID(digest[:32]))},
            },
        }
        stored = self._fake.add(node)
        self._rescan_due.set()  # pods already bound to this node
        with self._store.changed:
            self._store.changed.notify_all()
        return stored

    @property
    def nodes(self) -> list[str]:
        with self._lock:
            return list(self._nodes)

    # -- inspection ------------------------------------------------------------------------------------
    @property
    def runs(self) -> list[tuple[str, str]]:
        """(node, pod name) of every pod the sim took on, in pick-up order (stuck and mount-failed ones included)."""
        with self._lock:
            return list(self._order)

    def running(self) -> list[str]:
        """Names of the pods whose container process is alive."""
        with self._lock:
            runs = list(self._runs.values())
        return [r.name for r in runs if r.proc is not None and r.proc.returncode is None and not r.finished]

    def log(self, namespace: str, name: str) -> bytes | None:
        """The log of the newest run of that pod (None: the sim never took it on)."""
        with self._lock:
            found = [r for r in self._runs.values() if r.namespace == namespace and r.name == name]
        if not found:
            return None
        with found[-1].cond:
            return bytes(found[-1].log)

    # -- watching the store ----------------------------------------------------------------------------
    def _watch(self) -> None:
        store = self._store
        seen = -1
        while not self._stopping.is_set():
            with store.changed:
                if store.resource_version == seen and not self._rescan_due.is_set():
                    store.changed.wait(_POLL)
                rv = store.resource_version
                if rv == seen and not self._rescan_due.is_set():
                    continue
                events = store.events
                i = bisect.bisect_right(events, seen, key=lambda e: e.rv)
                rescan = seen < 0 or self._rescan_due.is_set() or (i == 0 and (not events or events[0].rv > seen + 1))
                self._rescan_due.clear()
                pending = [] if rescan else events[i:]
                seen = rv
            if self._stopping.is_set():
                return
            if rescan:
                self._rescan()
                continue
            for ev in pending:
                if ev.bucket != _PODS:
                    continue
                if ev.type == "DELETED":
                    self._deleted(str(ev.entry.obj["metadata"].get("uid") or ""))
                else:
                    self._consider(ev.entry)

    def _rescan(self) -> None:
        live: set[str] = set()
        for entry in self._store.scan(_PODS, None):
            live.add(str(entry.obj["metadata"].get("uid") or ""))
            self._consider(entry)
        with self._lock:
            vanished = [uid for uid in self._runs if uid not in live]
        for uid in vanished:
            self._deleted(uid)

    def _consider(self, entry: Entry) -> None:
        obj = entry.obj
        meta = obj.get("metadata") or {}
        if (meta.get("labels") or {}).get(PROBE_LABEL) != PROBE_VALUE:
            return
        spec = obj.get("spec") or {}
        uid = str(meta.get("uid") or "")
        containers = spec.get("containers") or []
        with self._lock:
            node = self._nodes.get(str(spec.get("nodeName") or ""))
            if node is None or uid in self._runs or self._stopping.is_set() or not containers:
                return
            first = containers[0]
            run = _Run(uid, str(meta.get("namespace") or ""), str(meta.get("name") or ""), node,
                       str(first.get("name") or ""), str(first.get("image") or ""), time.monotonic(), now_rfc3339())
            self._runs[uid] = run
            self._order.append((node.name, run.name))
            run.thread = threading.Thread(target=self._run, args=(run,), name=f"simkubelet-{run.name}", daemon=True)
            run.thread.start()

    def _deleted(self, uid: str) -> None:
        with self._lock:
            run = self._runs.get(uid)
        if run is None or run.gone.is_set():
            return
        self._abandon(run)
        with run.lock:
            idle = run.thread_done
        if idle:
            self._cleanup(run)

    def _abandon(self, run: _Run) -> None:
        """The pod is gone (or the sim stops): kill its processes; its status is never written again."""
        with run.lock:
            run.gone.set()
            proc = run.proc
        if proc is not None and proc.returncode is None:  # else its runner reaped it (and kills what it left)
            _kill_group(proc)
        with run.cond:
            run.finished = True
            run.cond.notify_all()

    def _cleanup(self, run: _Run) -> None:
        with run.lock:
            if run.cleaned or run.pod_dir is None:
                return
            run.cleaned = True
            pod_dir = run.pod_dir
        shutil.rmtree(pod_dir, ignore_errors=True)

    # -- one pod ---------------------------------------------------------------------------------------
    def _pod(self, run: _Run) -> Obj | None:
        entry = self._store.get(_PODS, run.namespace, run.name)
        if entry is None or entry.obj["metadata"].get("uid") != run.uid:
            return None
        return entry.obj

    def _deadline(self, run: _Run) -> float | None:
        pod = self._pod(run)
        seconds = ((pod or {}).get("spec") or {}).get("activeDeadlineSeconds")
        if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or seconds <= 0:
            return None
        return run.picked + float(seconds)

    def _write_status(self, run: _Run, status: Obj) -> bool:
        """Replace the pod's status, unless the pod is gone (deleted, replaced, or the sim stops)."""
        with self._store.lock:
            if run.gone.is_set():
                return False
            entry = self._store.get(_PODS, run.namespace, run.name)
            if entry is None or entry.obj["metadata"].get("uid") != run.uid:
                return False
            obj = entry.copy()
            before = {c.get("type"): c for c in (obj.get("status") or {}).get("conditions") or []
                      if isinstance(c, dict)}
            for c in status.get("conditions") or []:  # a condition that did not change keeps its transition time
                old = before.get(c["type"])
                if old is not None and old.get("status") == c["status"] and old.get("lastTransitionTime"):
                    c["lastTransitionTime"] = old["lastTransitionTime"]
            obj["status"] = status
            self._store.put(_PODS, obj, typed=True)
        return True

    def _status(self, run: _Run, phase: str, state: Obj, *, ready: bool = False, started: bool = False,
                reason: str | None = None, message: str | None = None) -> Obj:
        ip = run.node.ip
        cs: Obj = {"name": run.container, "image": run.image, "imageID": "", "ready": ready, "started": started,
                   "restartCount": 0, "state": state, "lastState": {}}
        if started or "terminated" in state:
            cs["imageID"] = _image_id(run.image)
            cs["containerID"] = "cri-o://" + hashlib.sha256(run.uid.encode()).hexdigest()
        now = now_rfc3339()
        done = phase in ("Succeeded", "Failed")
        ready_reason = "PodCompleted" if done else "ContainersNotReady"

        def cond(kind: str, ok: bool, why: str | None = None) -> Obj:
            c: Obj = {"type": kind, "status": "True" if ok else "False", "lastProbeTime": None,
                      "lastTransitionTime": now}
            if not ok and why:
                c["reason"] = why
            return c

        status: Obj = {"phase": phase}
        if reason:
            status["reason"] = reason
        if message:
            status["message"] = message
        status.update({
            "conditions": [cond("PodReadyToStartContainers", started or done), cond("Initialized", True),
                           cond("Ready", ready, ready_reason), cond("ContainersReady", ready, ready_reason),
                           cond("PodScheduled", True)],
            "hostIP": ip, "hostIPs": [{"ip": ip}], "podIP": ip, "podIPs": [{"ip": ip}],
            "startTime": run.start_time, "containerStatuses": [cs], "qosClass": "BestEffort"})
        return status

    def _waiting(self, run: _Run, reason: str, message: str | None = None, *, phase: str = "Pending",
                 pod_reason: str | None = None, pod_message: str | None = None) -> bool:
        waiting: Obj = {"reason": reason}
        if message:
            waiting["message"] = message
        with run.cond:
            run.waiting, run.waiting_message = reason, message
            run.cond.notify_all()
        return self._write_status(run, self._status(run, phase, {"waiting": waiting}, reason=pod_reason,
                                                    message=pod_message))

    def _sleep(self, run: _Run, seconds: float | None) -> str:
        """Wait `seconds` (None: forever): "gone", "deadline" or "done"."""
        end = None if seconds is None else time.monotonic() + seconds
        while True:
            if run.gone.is_set() or self._stopping.is_set():
                return "gone"
            now = time.monotonic()
            deadline = self._deadline(run)
            if deadline is not None and now >= deadline:
                return "deadline"
            if end is not None and now >= end:
                return "done"
            limit = min(x for x in (end, deadline, now + 0.5) if x is not None)
            run.gone.wait(max(0.0, min(limit - now, 0.5)))

    def _run(self, run: _Run) -> None:
        try:
            self._run_pod(run)
        finally:
            with run.cond:
                run.finished = True
                run.cond.notify_all()
            with run.lock:  # with _deleted(): whichever of the two comes last removes the pod's dir
                run.thread_done = True
                gone = run.gone.is_set()
            if gone or self._stopping.is_set():
                self._cleanup(run)

    def _run_pod(self, run: _Run) -> None:
        if not self._waiting(run, "ContainerCreating"):
            return
        outcome = self._sleep(run, run.node.start_delay) if run.node.start_delay > 0 else "done"
        if outcome == "done" and run.node.stuck_reason:
            if not self._waiting(run, run.node.stuck_reason, f'Back-off pulling image "{run.image}"'):
                return
            outcome = self._sleep(run, None)
        if outcome == "done":
            pod = self._pod(run)
            if pod is None:
                return
            try:
                try:
                    mounts, rootfs, host_mounts = self._materialise(run, pod)
                except OSError as e:
                    raise _MountError(_volume_of(e), f"{type(e).__name__}: {e}") from e
            except _MountError as e:
                self._event(run, "FailedMount", f'MountVolume.SetUp failed for volume "{e.volume}" : {e.message}')
                outcome = self._sleep(run, None)
            else:
                self._container(run, pod, mounts, rootfs, host_mounts)
                return
        if outcome == "deadline":
            self._waiting(run, run.waiting, run.waiting_message, phase="Failed", pod_reason="DeadlineExceeded",
                          pod_message=_DEADLINE_MESSAGE)

    def _container(self, run: _Run, pod: Obj, mounts: dict[str, Path], rootfs: Path,
                   host_mounts: dict[str, str]) -> None:
        container: Obj = ((pod.get("spec") or {}).get("containers") or [{}])[0]
        assert run.pod_dir is not None
        rewrite = _Rewriter(mounts, rootfs, host_mounts, run.node.root)
        argv = [str(a) for a in (container.get("command") or []) + (container.get("args") or [])]
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(run.pod_dir), "HOSTNAME": run.node.name}
        for var in _PROXY_VARS:
            if var in os.environ:
                env[var] = os.environ[var]
        for item in container.get("env") or []:
            if isinstance(item, dict) and item.get("name") and "valueFrom" not in item:
                env[str(item["name"])] = rewrite.value(str(item.get("value") or ""))
        cwd = str(run.pod_dir)
        if container.get("workingDir"):
            mapped = rewrite.value(str(container["workingDir"]))
            cwd = mapped if mapped != container["workingDir"] else cwd
        started_at = now_rfc3339()
        error: str | None = None
        if not argv:
            error = "no command specified (the simulated kubelet cannot run an image's entrypoint)"
        else:
            if re.fullmatch(r"python(3(\.\d+)?)?", Path(argv[0]).name):
                argv[0] = self.python
            argv = [argv[0]] + [rewrite.arg(a) for a in argv[1:]]
            # Running first (as the brief orders it): whoever sees the process alive sees the pod Running
            if not self._write_status(run, self._status(run, "Running", {"running": {"startedAt": started_at}},
                                                        ready=True, started=True)):
                return
            with run.cond:
                run.started = True
                run.cond.notify_all()
            with run.lock:
                if run.gone.is_set() or self._stopping.is_set():
                    return
                try:
                    run.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                                stderr=subprocess.STDOUT, env=env, cwd=cwd, start_new_session=True)
                except OSError as e:
                    error = f"failed to create containerd task: exec: {argv[0]!r}: {e.strerror or e}"
        if error is not None:
            with run.cond:
                run.started = True
                run.cond.notify_all()
            term: Obj = {"exitCode": 128, "reason": "StartError", "message": error, "startedAt": "1970-01-01T00:00:00Z",
                         "finishedAt": now_rfc3339()}
            self._write_status(run, self._status(run, "Failed", {"terminated": term}))
            return
        proc = run.proc
        assert proc is not None and proc.stdout is not None
        reader = threading.Thread(target=_pump, args=(proc.stdout, run), name=f"simkubelet-log-{run.name}", daemon=True)
        reader.start()
        deadline_hit = False
        while True:
            if run.gone.is_set() or self._stopping.is_set():
                _kill_group(proc)
                proc.wait()
                reader.join(timeout=2)
                return
            try:
                proc.wait(timeout=_POLL)
                break
            except subprocess.TimeoutExpired:
                pass
            deadline = self._deadline(run)
            if deadline is not None and time.monotonic() >= deadline:
                _kill_group(proc)
                proc.wait()
                deadline_hit = True
                break
        _kill_group(proc)  # what the main process left behind dies with the container
        reader.join(timeout=5)
        code = proc.returncode if proc.returncode >= 0 else 128 - proc.returncode
        term = {"exitCode": code, "reason": "Completed" if code == 0 else "Error", "startedAt": started_at,
                "finishedAt": now_rfc3339(), "containerID": "cri-o://" + hashlib.sha256(run.uid.encode()).hexdigest()}
        if deadline_hit:
            status = self._status(run, "Failed", {"terminated": term}, started=False, reason="DeadlineExceeded",
                                  message=_DEADLINE_MESSAGE)
        else:
            status = self._status(run, "Succeeded" if code == 0 else "Failed", {"terminated": term})
        self._write_status(run, status)

    # -- volumes ---------------------------------------------------------------------------------------
    def _materialise(self, run: _Run, pod: Obj) -> tuple[dict[str, Path], Path, dict[str, str]]:
        """mountPath -> local path, the pod's root of symlinks, and mountPath -> hostPath for hostPath mounts."""
        spec = pod.get("spec") or {}
        pod_dir = Path(tempfile.mkdtemp(prefix=f"simkubelet-{run.name}-"))
        with run.lock:
            run.pod_dir = pod_dir
        volumes: dict[str, Path] = {}
        host_paths: dict[str, str] = {}
        for vol in spec.get("volumes") or []:
            name = str(vol.get("name") or "")
            local = pod_dir / "volumes" / name
            if isinstance(vol.get("configMap"), dict):
                self._projection(run, name, local, vol["configMap"], "configmaps", str(vol["configMap"].get("name")))
            elif isinstance(vol.get("secret"), dict):
                self._projection(run, name, local, vol["secret"], "secrets", str(vol["secret"].get("secretName")))
            elif isinstance(vol.get("hostPath"), dict):
                host = str(vol["hostPath"].get("path") or "/")
                host = host.rstrip("/") or "/"
                local = run.node.root / host.lstrip("/")
                _check_host_path(name, host, local, str(vol["hostPath"].get("type") or ""))
                host_paths[name] = host
            else:  # emptyDir and anything not modelled: an empty directory
                local.mkdir(parents=True, exist_ok=True)
            volumes[name] = local
        mounts: dict[str, Path] = {}
        host_mounts: dict[str, str] = {}
        container = (spec.get("containers") or [{}])[0]
        rootfs = pod_dir / "rootfs"
        rootfs.mkdir()
        for m in container.get("volumeMounts") or []:
            mount_path = str(m.get("mountPath") or "").rstrip("/") or "/"
            vol_name = str(m.get("name") or "")
            if vol_name not in volumes or not mount_path.startswith("/"):
                continue
            local = volumes[vol_name]
            sub = str(m.get("subPath") or "").strip("/")
            if sub:
                local = local / sub
            mounts[mount_path] = local
            if vol_name in host_paths and not sub:
                host_mounts[mount_path] = host_paths[vol_name]
            if mount_path != "/":
                link = rootfs / mount_path.lstrip("/")
                link.parent.mkdir(parents=True, exist_ok=True)
                with contextlib.suppress(OSError):
                    link.symlink_to(local)
        return mounts, rootfs, host_mounts

    def _projection(self, run: _Run, volume: str, local: Path, source: Obj, plural: str, name: str) -> None:
        optional = bool(source.get("optional"))
        entry = self._store.get(("", plural), run.namespace, name)
        local.mkdir(parents=True, exist_ok=True)
        what = "configmap" if plural == "configmaps" else "secret"
        if entry is None:
            if optional:
                return
            raise _MountError(volume, f'{what} "{name}" not found')
        files: dict[str, bytes] = {}
        try:
            if plural == "configmaps":
                files.update({k: str(v).encode() for k, v in (entry.obj.get("data") or {}).items()})
                files.update({k: base64.b64decode(v) for k, v in (entry.obj.get("binaryData") or {}).items()})
            else:
                files.update({k: base64.b64decode(v) for k, v in (entry.obj.get("data") or {}).items()})
        except (binascii.Error, ValueError) as e:
            raise _MountError(volume, f"{what} {name!r} holds data that is not base64: {e}") from e
        default_mode = source.get("defaultMode")
        mode = int(default_mode) if isinstance(default_mode, int) else 0o644
        items = source.get("items")
        chosen: list[tuple[str, str, int]] = []
        if items:
            for item in items:
                key = str(item.get("key") or "")
                if key not in files:
                    if optional:
                        continue
                    raise _MountError(volume, f"configmap references non-existent config key: {key}"
                                      if plural == "configmaps" else f"references non-existent secret key: {key}")
                item_mode = item.get("mode")
                chosen.append((key, str(item.get("path") or key), int(item_mode) if isinstance(item_mode, int) else mode))
        else:
            chosen = [(k, k, mode) for k in files]
        for key, rel, file_mode in chosen:
            target = local / rel
            if rel.startswith("/") or ".." in Path(rel).parts:
                raise _MountError(volume, f"invalid path {rel!r} for key {key}")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(files[key])
            target.chmod(file_mode & 0o777)

    def _event(self, run: _Run, reason: str, message: str) -> None:
        if run.gone.is_set() or self._pod(run) is None:
            return
        now = now_rfc3339()
        self._fake.add({
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": f"{run.name}.{uuid.uuid4().hex[:16]}", "namespace": run.namespace},
            "involvedObject": {"kind": "Pod", "namespace": run.namespace, "name": run.name, "uid": run.uid,
                               "apiVersion": "v1"},
            "reason": reason, "message": message, "type": "Warning", "count": 1,
            "source": {"component": "kubelet", "host": run.node.name}, "firstTimestamp": now, "lastTimestamp": now,
            "reportingComponent": "kubelet", "reportingInstance": run.node.name})

    # -- GET pods/NAME/log -----------------------------------------------------------------------------
    def _serve_log(self, req: Request, entry: Entry) -> Response | None:
        uid = str(entry.obj["metadata"].get("uid") or "")
        with self._lock:
            run = self._runs.get(uid)
        if run is None:
            return None
        name = run.name
        container = req.query.get("container") or run.container
        names = [str(c.get("name")) for c in (entry.obj.get("spec") or {}).get("containers") or []]
        if container != run.container:
            if container in names:
                raise ApiError(400, "BadRequest", f'container "{container}" in pod "{name}" is waiting to start: '
                               "ContainerCreating")
            raise ApiError(400, "BadRequest", f"container {container} is not valid for pod {name}")
        if req.query.get("previous") in ("true", "1"):
            raise ApiError(400, "BadRequest", f'previous terminated container "{container}" in pod "{name}" not found')
        with run.cond:
            if not run.started:
                raise ApiError(400, "BadRequest", f'container "{container}" in pod "{name}" is waiting to start: '
                               f"{run.waiting}")
            data = bytes(run.log)
            offset = len(data)
        try:
            tail = int(req.query["tailLines"]) if req.query.get("tailLines") else None
            limit = int(req.query["limitBytes"]) if req.query.get("limitBytes") else None
        except ValueError as e:
            raise ApiError(400, "BadRequest", f"invalid log options: {e}") from e
        if tail is not None and tail >= 0:
            lines = data.splitlines(keepends=True)
            data = b"".join(lines[max(0, len(lines) - tail):]) if tail else b""
        if req.query.get("follow") in ("true", "1"):
            return Response(200, content_type="text/plain", stream=self._follow(run, data, offset, limit))
        if limit is not None and limit > 0:
            data = data[:limit]
        return Response(200, data, "text/plain")

    def _follow(self, run: _Run, first: bytes, offset: int, limit: int | None) -> Iterator[bytes]:
        sent = 0

        def capped(chunk: bytes) -> bytes:
            nonlocal sent
            if limit is not None and limit > 0:
                chunk = chunk[:max(0, limit - sent)]
            sent += len(chunk)
            return chunk

        if first:
            yield capped(first)
        stopping = self._fake._api.stopping
        while not stopping.is_set() and not (limit is not None and 0 < limit <= sent):
            with run.cond:
                if len(run.log) == offset and not run.finished:
                    run.cond.wait(0.5)
                chunk = bytes(run.log[offset:])
                offset += len(chunk)
                done = run.finished
            if chunk:
                out = capped(chunk)
                if out:
                    yield out
            elif done:
                return


class _Rewriter:
    """Container paths in arguments and env values -> local paths."""

    def __init__(self, mounts: dict[str, Path], rootfs: Path, host_mounts: dict[str, str], node_root: Path) -> None:
        self.mounts = sorted(mounts.items(), key=lambda kv: len(kv[0]), reverse=True)
        self.rootfs = rootfs
        self.host_mounts = host_mounts
        self.node_root = node_root

    def value(self, value: str) -> str:
        for mount_path, local in self.mounts:
            if value == mount_path:
                return str(local)
            prefix = mount_path.rstrip("/") + "/"
            if value.startswith(prefix):
                return str(local / value[len(prefix):])
        return value

    def arg(self, arg: str) -> str:
        if arg.startswith("--") and "=" in arg:
            flag, _, value = arg.partition("=")
            return f"{flag}={self.arg(value)}"
        if not arg.startswith("/"):
            return arg
        mapped = self.value(arg)
        if mapped != arg:
            return mapped
        parent = arg.rstrip("/")
        under = [mp for mp, _ in self.mounts if mp.startswith(parent + "/")]
        if not under:
            return arg
        # the parent of mounts: the node root itself when every mount under it is the same path of the host
        if all(self.host_mounts.get(mp) == mp[len(parent):] for mp in under):
            return str(self.node_root)
        return str(self.rootfs / parent.lstrip("/")) if parent else str(self.rootfs)


def _volume_of(error: OSError) -> str:
    """The volume whose local path an OSError names (best effort: the message wants a volume name)."""
    parts = Path(str(error.filename or "")).parts
    return parts[parts.index("volumes") + 1] if "volumes" in parts[:-1] else "?"


def _check_host_path(volume: str, host: str, local: Path, kind: str) -> None:
    def fail(what: str) -> _MountError:
        return _MountError(volume, f"hostPath type check failed: {host} is not {what}")

    try:
        mode = local.stat().st_mode
    except OSError:
        mode = None
    if kind == "File":
        if mode is None or not stat.S_ISREG(mode):
            raise fail("a file")
    elif kind == "Directory":
        if mode is None or not stat.S_ISDIR(mode):
            raise fail("a directory")
    elif kind == "Socket":
        if mode is None or not stat.S_ISSOCK(mode):
            raise fail("a socket file")
    elif kind == "CharDevice":
        if mode is None or not stat.S_ISCHR(mode):
            raise fail("a character device")
    elif kind == "BlockDevice":
        if mode is None or not stat.S_ISBLK(mode):
            raise fail("a block device")
    elif kind == "FileOrCreate":
        if mode is None:
            local.parent.mkdir(parents=True, exist_ok=True)
            local.touch()
        elif not stat.S_ISREG(mode):
            raise fail("a file")
    elif kind in ("DirectoryOrCreate", ""):
        if mode is None:
            local.mkdir(parents=True, exist_ok=True)
        elif kind and not stat.S_ISDIR(mode):
            raise fail("a directory")


def _pump(stream: Any, run: _Run) -> None:
    try:
        while True:
            chunk = stream.read1(65536)
            if not chunk:
                return
            with run.cond:
                run.log += chunk
                run.cond.notify_all()
    except (OSError, ValueError):
        return
    finally:
        with contextlib.suppress(OSError):
            stream.close()


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the process's group (its session: start_new_session). Called by the pod's runner right after
    reaping the leader too, for what it left behind, as a container's processes die with it."""
    if proc.returncode is not None:
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGKILL)
        return
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        with contextlib.suppress(OSError):
            proc.kill()


def _image_id(image: str) -> str:
    repo = image.rsplit("@", 1)[0]
    last = repo.rsplit("/", 1)[-1]
    if ":" in last:
        repo = repo[: len(repo) - len(last)] + last.split(":", 1)[0]
    return f"{repo}@sha256:{hashlib.sha256(image.encode()).hexdigest()}"
