"""Shared pieces of the live-source tests (tests/integration/test_live_*.py): doctor run as
a subprocess against tests/fakekube, the repository's examples loaded into a fake cluster,
and small object builders.

Every run passes --kubeconfig (or sets KUBECONFIG itself): tests/conftest.py points
KUBECONFIG at a missing file so that nothing reaches a real cluster.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from kubectl_pullsecret.kube import RESOURCES
from kubectl_pullsecret.snapshot import expand
from tests.fakekube import FakeKube, group, role_binding

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
BIN = REPO / "bin"
KUBECTL = shutil.which("kubectl")
INTERNAL = "image-registry.openshift-image-registry.svc:5000"
SAR_PATH = "/apis/authorization.k8s.io/v1/subjectaccessreviews"
DOCKERCONFIGJSON = "kubernetes.io/dockerconfigjson"
DOCKERCFG = "kubernetes.io/dockercfg"
# Paths of the reads only OpenShift has (and the global pull secret, a named get).
OPENSHIFT_PATH_MARKERS = ("openshift.io", "/namespaces/openshift-config/", "subjectaccessreviews")

Obj = dict[str, Any]


# --- running doctor -----------------------------------------------------------------------------------------

@dataclass
class Run:
    code: int
    out: str
    err: str
    elapsed: float
    args: tuple[str, ...] = ()

    @property
    def report(self) -> Obj:
        try:
            doc: Obj = json.loads(self.out)
        except ValueError as exc:  # pragma: no cover - shown on failure only
            raise AssertionError(f"not JSON (exit {self.code}): {self.out[:500]!r} / stderr {self.err[:1500]!r}") from exc
        return doc

    @property
    def findings(self) -> list[Obj]:
        found: list[Obj] = self.report["findings"]
        return found

    def of(self, check: str) -> list[Obj]:
        return [f for f in self.findings if f["check"] == check]

    def denied(self) -> dict[tuple[str, str | None, str | None], Obj]:
        """permission-denied findings by (kind, namespace, name) of the unreadable object."""
        return {(f["object"]["kind"], f["object"]["namespace"], f["object"]["name"]): f
                for f in self.of("permission-denied")}

    def key_set(self, check: str | None = None) -> set[tuple[Any, ...]]:
        return {finding_key(f) for f in self.findings if check is None or f["check"] == check}

    def __str__(self) -> str:  # what pytest shows in an assertion message
        return f"exit {self.code} in {self.elapsed:.2f}s\nstdout: {self.out[:3000]}\nstderr: {self.err[:3000]}"


def doctor(*args: str | Path, kubeconfig: str | Path | None = None, env: Mapping[str, str] | None = None,
           timeout: float = 60) -> Run:
    """`python -m kubectl_pullsecret doctor ARGS` from the repository root."""
    argv = [sys.executable, "-m", "kubectl_pullsecret", "doctor", *map(str, args)]
    if kubeconfig is not None:
        argv += ["--kubeconfig", str(kubeconfig)]
    full_env = dict(os.environ)
    full_env.update(env or {})
    started = time.perf_counter()
    proc = subprocess.run(argv, cwd=REPO, env=full_env, capture_output=True, text=True, timeout=timeout, check=False)
    return Run(proc.returncode, proc.stdout, proc.stderr, time.perf_counter() - started, tuple(argv[4:]))


def doctor_in_process(*args: str | Path, kubeconfig: str | Path | None = None) -> Run:
    """The same as `doctor()`, in this process (no interpreter start-up and imports: ~10x
    faster), for tests that run doctor many times against changing cluster state."""
    from kubectl_pullsecret.cli import main

    argv = ["doctor", *map(str, args)]
    if kubeconfig is not None:
        argv += ["--kubeconfig", str(kubeconfig)]
    out, err = io.StringIO(), io.StringIO()
    started = time.perf_counter()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(argv)
    return Run(code, out.getvalue(), err.getvalue(), time.perf_counter() - started, tuple(argv[1:]))


def kubectl_env(tmp_path: Path) -> dict[str, str]:
    """Environment for the real kubectl: bin/ first on PATH (the plugin), `python3` being this
    interpreter (the plugin's shebang), no real kubeconfig."""
    assert KUBECTL is not None
    shims = tmp_path / "shims"
    shims.mkdir(exist_ok=True)
    python3 = shims / "python3"
    python3.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    python3.chmod(0o755)
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = dict(os.environ)
    env.update({"PATH": os.pathsep.join([str(BIN), str(shims), str(Path(KUBECTL).parent)]),
                "PYTHONPATH": str(REPO), "HOME": str(home), "KUBECONFIG": str(home / "no-kubeconfig")})
    return env


def kubectl(tmp_path: Path, *args: str | Path, timeout: float = 60) -> Run:
    assert KUBECTL is not None
    started = time.perf_counter()
    proc = subprocess.run([KUBECTL, *map(str, args)], env=kubectl_env(tmp_path), cwd=tmp_path, capture_output=True,
                          text=True, timeout=timeout, check=False)
    return Run(proc.returncode, proc.stdout, proc.stderr, time.perf_counter() - started, tuple(map(str, args)))


def finding_key(f: Obj) -> tuple[Any, ...]:
    o = f["object"]
    return (f["check"], f["severity"], o["kind"], o["namespace"], o["name"], f.get("container"))


def canonical(findings: Iterable[Obj]) -> list[str]:
    """Whole findings (message and fix included) as sortable strings, for exact comparisons."""
    return sorted(json.dumps(f, sort_keys=True) for f in findings)


def assert_one_line_error(run: Run, *needles: str, secrets: Sequence[str] = ()) -> str:
    """Exit 3, nothing on stdout, exactly one line on stderr (`error: ...`) containing every
    needle (case-insensitive), no traceback, none of `secrets`."""
    assert run.code == 3, run
    assert "Traceback" not in run.err, run
    lines = run.err.splitlines()
    assert len(lines) == 1, run
    line = lines[0]
    assert line.startswith("error: "), run
    assert "internal error" not in line, run
    for needle in needles:
        assert needle.lower() in line.lower(), (needle, line)
    for secret in secrets:
        assert secret not in run.err and secret not in run.out, secret
    return line


@contextlib.contextmanager
def fake_kube(openshift: bool = False) -> Iterator[FakeKube]:
    """A started FakeKube, stopped in a background thread afterwards: stop() waits for the
    server loop's 0.1 s poll, which over dozens of servers adds up, and nothing here needs
    the port closed at once. (Where a test needs a stopped server, it calls stop() itself.)"""
    api = FakeKube(openshift=openshift).start()
    try:
        yield api
    finally:
        threading.Thread(target=api.stop, name="fakekube-stop").start()


# --- the examples as a live cluster ---------------------------------------------------------------------------

def example_objects(name: str) -> list[Obj]:
    """The objects of examples/<name>, as a dump has them, with apiVersion added where the dump
    lacks it (typed lists from the raw API, a must-gather)."""
    out: list[Obj] = []
    root = EXAMPLES / name
    files = sorted(p for p in root.rglob("*") if p.suffix in (".yaml", ".yml", ".json"))
    for path in files:
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            for obj in expand(doc):
                obj = dict(obj)
                if obj["kind"] in RESOURCES:
                    obj.setdefault("apiVersion", RESOURCES[obj["kind"]].api_version)
                out.append(obj)
    return out


def namespaces_of(objs: Iterable[Obj]) -> set[str]:
    return {str(o["metadata"]["namespace"]) for o in objs if (o.get("metadata") or {}).get("namespace")}


def image_pullers(namespace: str) -> Obj:
    """What every OpenShift project has: RoleBinding system:image-pullers of ClusterRole
    system:image-puller to group system:serviceaccounts:<ns>."""
    return role_binding("system:image-pullers", namespace, "system:image-puller",
                        [group(f"system:serviceaccounts:{namespace}")])


def openshift_cluster(api: FakeKube, objs: Sequence[Obj], *, pullers: bool = True) -> None:
    """Load a dump into an OpenShift FakeKube with what a real cluster also has: the standard
    ClusterRoles (system:image-puller among them) and, per namespace, system:image-pullers."""
    api.add_all(objs)
    api.add_standard_roles()
    if pullers:
        for ns in sorted(namespaces_of(objs)):
            api.add(image_pullers(ns))


# --- object builders -------------------------------------------------------------------------------------------

def b64(data: str | bytes) -> str:
    return base64.b64encode(data.encode() if isinstance(data, str) else data).decode()


def auth(user: str, password: str) -> Obj:
    return {"auth": b64(f"{user}:{password}")}


def namespace(name: str) -> Obj:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def service_account(name: str, ns: str, pull: Sequence[str] = (), mount: Sequence[str] = (),
                    annotations: Mapping[str, str] | None = None) -> Obj:
    obj: Obj = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": ns}}
    if annotations:
        obj["metadata"]["annotations"] = dict(annotations)
    if pull:
        obj["imagePullSecrets"] = [{"name": n} for n in pull]
    if mount:
        obj["secrets"] = [{"name": n} for n in mount]
    return obj


def pull_secret(name: str, ns: str, auths: Mapping[str, Obj], *, raw: str | None = None,
                annotations: Mapping[str, str] | None = None) -> Obj:
    """A kubernetes.io/dockerconfigjson secret ({"auths": auths}, or `raw` as the JSON text)."""
    text = raw if raw is not None else json.dumps({"auths": dict(auths)})
    obj: Obj = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": ns},
                "type": DOCKERCONFIGJSON, "data": {".dockerconfigjson": b64(text)}}
    if annotations:
        obj["metadata"]["annotations"] = dict(annotations)
    return obj


def global_pull_secret(auths: Mapping[str, Obj] | None = None, *, raw: str | None = None) -> Obj:
    """openshift-config/pull-secret; by default the usual four entries."""
    if auths is None and raw is None:
        auths = {h: auth(f"user-{h}", f"pw-{h}") for h in ("cloud.openshift.com", "quay.io",
                                                            "registry.connect.redhat.com", "registry.redhat.io")}
    return pull_secret("pull-secret", "openshift-config", auths or {}, raw=raw)


def pod(name: str, ns: str, image: str, *, sa: str = "default", pull: Sequence[str] = (),
        waiting: tuple[str, str] | None = None, container: str = "app", labels: Mapping[str, str] | None = None,
        created: str = "2026-11-01T00:00:00Z") -> Obj:
    spec: Obj = {"serviceAccountName": sa, "nodeName": "worker-1", "containers": [{"name": container, "image": image}]}
    if pull:
        spec["imagePullSecrets"] = [{"name": n} for n in pull]
    if waiting is not None:
        state: Obj = {"waiting": {"reason": waiting[0], "message": waiting[1]}}
    else:
        state = {"running": {"startedAt": created}}
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": ns, "labels": dict(labels or {}), "creationTimestamp": created},
            "spec": spec,
            "status": {"phase": "Pending" if waiting else "Running",
                       "containerStatuses": [{"name": container, "image": image, "imageID": "", "ready": not waiting,
                                              "restartCount": 0, "state": state}]}}


def event(name: str, ns: str, pod_name: str, reason: str, message: str, container: str = "app") -> Obj:
    return {"apiVersion": "v1", "kind": "Event", "metadata": {"name": name, "namespace": ns},
            "involvedObject": {"apiVersion": "v1", "kind": "Pod", "name": pod_name, "namespace": ns,
                               "fieldPath": f"spec.containers{{{container}}}"},
            "reason": reason, "message": message, "type": "Warning", "count": 3,
            "firstTimestamp": "2026-11-01T00:01:00Z", "lastTimestamp": "2026-11-01T00:05:00Z",
            "source": {"component": "kubelet", "host": "worker-1"}}


def cluster_version(enabled: Sequence[str] | None = ("ImageRegistry", "Build", "Console"),
                    known: Sequence[str] | None = ("ImageRegistry", "Build", "Console")) -> Obj:
    caps: Obj = {}
    if enabled is not None:
        caps["enabledCapabilities"] = list(enabled)
    if known is not None:
        caps["knownCapabilities"] = list(known)
    return {"apiVersion": "config.openshift.io/v1", "kind": "ClusterVersion", "metadata": {"name": "version"},
            "spec": {"channel": "stable-4.18"},
            "status": {"desired": {"version": "4.18.9",
                                   "image": "quay.io/openshift-release-dev/ocp-release@sha256:" + "ab" * 32},
                       "capabilities": caps}}


def registry_operator(removed: bool) -> Obj:
    if removed:
        conditions = [{"type": "Available", "status": "True", "reason": "Removed",
                       "message": "Available: The registry is removed"},
                      {"type": "Degraded", "status": "False", "reason": "Removed", "message": ""}]
    else:
        conditions = [{"type": "Available", "status": "True", "reason": "Ready",
                       "message": "Available: The registry is ready"}]
    return {"apiVersion": "config.openshift.io/v1", "kind": "ClusterOperator", "metadata": {"name": "image-registry"},
            "status": {"conditions": conditions}}


def image_config(*, blocked: Sequence[str] = (), allowed: Sequence[str] = ()) -> Obj:
    sources: Obj = {}
    if blocked:
        sources["blockedRegistries"] = list(blocked)
    if allowed:
        sources["allowedRegistries"] = list(allowed)
    return {"apiVersion": "config.openshift.io/v1", "kind": "Image", "metadata": {"name": "cluster"},
            "spec": {"registrySources": sources} if sources else {},
            "status": {"internalRegistryHostname": INTERNAL}}


def machine_config_pool(name: str, *, rendered: str, at: str, machines: int = 3, updated: int = 3) -> Obj:
    return {"apiVersion": "machineconfiguration.openshift.io/v1", "kind": "MachineConfigPool",
            "metadata": {"name": name},
            "spec": {"configuration": {"name": rendered}},
            "status": {"configuration": {"name": at}, "machineCount": machines, "updatedMachineCount": updated,
                       "readyMachineCount": updated, "degradedMachineCount": 0}}


def mirror_set(kind: str, name: str, source: str, mirrors: Sequence[str]) -> Obj:
    field, api_version = {"ImageDigestMirrorSet": ("imageDigestMirrors", "config.openshift.io/v1"),
                          "ImageTagMirrorSet": ("imageTagMirrors", "config.openshift.io/v1"),
                          "ImageContentSourcePolicy": ("repositoryDigestMirrors", "operator.openshift.io/v1alpha1"),
                          }[kind]
    return {"apiVersion": api_version, "kind": kind, "metadata": {"name": name},
            "spec": {field: [{"source": source, "mirrors": list(mirrors)}]}}


class Pending:
    """A doctor subprocess started in the background, so that slow scenarios run side by side.
    A thread collects its output and the moment it ended; `.result()` waits for it."""

    def __init__(self, argv: Sequence[str], env: Mapping[str, str]) -> None:
        self.args = tuple(argv[4:])
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(list(argv), cwd=REPO, env=dict(env), stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self._out = self._err = ""
        self._ended = self.started
        self._thread = threading.Thread(target=self._collect, daemon=True)
        self._thread.start()

    def _collect(self) -> None:
        self._out, self._err = self.proc.communicate()
        self._ended = time.perf_counter()

    def result(self, timeout: float = 90) -> Run:
        self._thread.join(timeout)
        if self._thread.is_alive():
            self.proc.kill()
            self._thread.join()
        return Run(self.proc.returncode, self._out, self._err, self._ended - self.started, self.args)


def start_doctor(*args: str | Path, kubeconfig: str | Path | None = None,
                 env: Mapping[str, str] | None = None) -> Pending:
    """`doctor` like `doctor()`, without waiting for it."""
    argv = [sys.executable, "-m", "kubectl_pullsecret", "doctor", *map(str, args)]
    if kubeconfig is not None:
        argv += ["--kubeconfig", str(kubeconfig)]
    full_env = dict(os.environ)
    full_env.update(env or {})
    return Pending(argv, full_env)
