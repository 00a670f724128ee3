"""`doctor --from-nodes`: run the registry probes on the nodes themselves.

The kubelet pulls from the node: its DNS, proxy, CA trust and
/var/lib/kubelet/config.json are what count. For each selected node this creates one
short-lived probe pod, pinned to the node (spec.nodeName), on the node's network, with
the node's config.json and /etc mounted read-only, tolerating every taint. The pod runs
this package itself (nodeprobe.py), shipped as a zip in a ConfigMap and started with the
probe image's python3: the same probe code as a local probe, so the outcomes mean the
same, and no image of ours has to be built, mirrored or kept in step with the plugin.
Each node's job travels in a Secret of its own (never a ConfigMap, env or args),
holding only the pod-secret entries its images match; what the node itself holds
never leaves it except as outcomes, fingerprints and a digest keyed with a per-run
nonce.

API traffic is proportional to the nodes, not to time: one watch follows every probe
pod; per node a Secret and a pod created, one log read, both deleted (plus up to three
event lists for a pod that does not start). Objects are labelled, recorded before they
are created, and always deleted (also on Ctrl-C and on timeout; activeDeadlineSeconds
stops a pod should this process die); objects an interrupted earlier run left behind
are deleted once their declared lifetime is over.
"""

from __future__ import annotations

import base64
import contextlib
import email.utils
import importlib.resources
import importlib.util
import io
import json
import logging
import queue
import re
import secrets
import signal
import threading
import time
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import cache
from importlib.resources.abc import Traversable
from typing import TYPE_CHECKING, Any

from kubectl_pullsecret import __version__, nodeprobe
from kubectl_pullsecret.errors import PullsecretError
from kubectl_pullsecret.kube import RESOURCES, Answer, Cluster, can_i_hint
from kubectl_pullsecret.probe_model import Attempt, ImageProbe, NodeResult, NodeRun, Result, result_from_dict
from kubectl_pullsecret.resolve import Resolution
from kubectl_pullsecret.snapshot import Denied, Obj, rfc3339, timestamp

if TYPE_CHECKING:
    from kubectl_pullsecret.progress import Show

log = logging.getLogger(__name__)

PROBE_IMAGE = "registry.access.redhat.com/ubi9/python-312:latest"
NAMESPACE = "kubectl-pullsecret-probe"
MAX_PARALLEL = 4
NODE_TIMEOUT = 120.0  # seconds per node, pod creation to result: the first run on a node pulls the image
APP_LABEL = ("app.kubernetes.io/name", "pullsecret-node-probe")
MANAGED_LABEL = ("app.kubernetes.io/managed-by", "kubectl-pullsecret")
RUN_LABEL = "pullsecret.kubectl.io/run"
EXPIRES = "pullsecret.kubectl.io/expires"  # when the run that made an object will have deleted it
CONTAINER = "probe"
CONFIG_VOLUME = "kubelet-config"
SA_WAIT_ATTEMPTS = 20  # x 0.5 s: the new namespace's default service account
# Seconds after creation at which a pod that has not started has its events read (a
# failed mount shows only there): a few reads per such pod, not one per second.
MOUNT_CHECKS = (5.0, 15.0, 45.0)
CODE_PATH, JOB_PATH, HOST_ROOT = "/opt/pullsecret", "/run/pullsecret", "/host"
LOG_LIMIT = 4 << 20
REQUEST_TIMEOUT = 20.0  # seconds per API request of the node phase, unless --request-timeout says
TERMINATING_WAIT = 90.0  # seconds to wait for a probe namespace still being deleted
RESYNC = 15.0  # seconds without a watch event before the run's pods are listed once
POLL = 2.0  # the same while the watch fails (refused, broken): then the run polls
# Waiting reasons after which the container will not start by itself in time.
HOPELESS = frozenset({"ErrImagePull", "ImagePullBackOff", "ErrImageNeverPull", "InvalidImageName",
                      "CreateContainerConfigError", "CreateContainerError", "RunContainerError"})
BUNDLED = ("requests", "urllib3", "idna")  # pure Python; certifi is replaced by a stub (below)
CERTIFI_STUB = '''"""Stub: a node probe builds every TLS context from the node's own trust
(registry.Settings.system_cas); requests only needs where() to name a readable CA bundle
(2.32.0 to 2.32.4 load it when imported): the node's (nodeprobe sets PULLSECRET_CA_BUNDLE),
else the probe image's."""
import os

_CANDIDATES = ("/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/certs/ca-certificates.crt", "/etc/ssl/cert.pem")


def where():
    given = os.environ.get("PULLSECRET_CA_BUNDLE")
    if given and os.path.isfile(given):
        return given
    return next((p for p in _CANDIDATES if os.path.isfile(p)), os.devnull)
'''
ZIP_MAIN = '''import sys
import warnings

if sys.version_info < (3, 11):
    sys.exit("the node probe needs python3 >= 3.11; the probe image has %d.%d" % sys.version_info[:2])

# requests warns once that it has no charset detector: it needs none here.
warnings.filterwarnings("ignore", message="Unable to find acceptable character detection")
from kubectl_pullsecret.nodeprobe import main  # noqa: E402

if sys.argv[1:2] != ["node-probe"]:
    sys.exit("usage: probe.pyz node-probe --job PATH --node NAME [--host ROOT]")
sys.exit(main(sys.argv[2:]))
'''


@dataclass(frozen=True)
class NodeOptions:
    nodes: tuple[str, ...] = ()  # --node
    node_selector: str | None = None
    image: str = PROBE_IMAGE
    namespace: str = NAMESPACE
    max_parallel: int = MAX_PARALLEL
    node_timeout: float = NODE_TIMEOUT
    probe_timeout: float = 10.0
    # Asked once, with the statement of what will be created; None: --yes was given.
    confirm: Callable[[str], bool] | None = None
    say: Callable[[str], None] = field(default=lambda text: None)  # the statement, with --yes (stderr)
    progress: Show | None = None  # the progress line (stderr on a terminal)


# --- what to probe where ------------------------------------------------------------

@dataclass(frozen=True)
class Job:
    """Per node, its own job file (it holds pull-secret data: it goes into that node's
    Secret only), and where each container's answer will be."""

    per_node: Mapping[str, dict[str, Any]]
    assignments: Mapping[int, tuple[tuple[str, int], ...]]  # id(resolution) -> (node, image id in its job)

    @property
    def sources(self) -> int:
        """Distinct pull secrets whose entries travel (to one node or more)."""
        return len({s["name"] for doc in self.per_node.values() for s in doc["sources"]})


def make_job(wanted: Sequence[tuple[Resolution, Sequence[str]]], probe_timeout: float, nonce: str) -> Job:
    """Each node gets only what its probes need: the images assigned to it and, of the
    pods' pull secrets, only the entries the kubelet matches to those images (as
    doctor resolved them: the same keys, in the same secrets, so the node's lookup finds
    the same candidates in the same order). A node never receives a credential for an
    image it does not probe, nor another namespace's secret it has no pod for."""
    entries: dict[str, dict[str, dict[str, tuple[str, str]]]] = {}  # node -> source -> key -> login
    images: dict[str, dict[tuple[Any, ...], int]] = {}
    image_docs: dict[str, list[dict[str, Any]]] = {}
    assignments: dict[int, tuple[tuple[str, int], ...]] = {}
    for res, nodes in wanted:
        pod_sources = {s.name for s in res.pod_sources}
        creds = [c for c in res.credentials if c.source in pod_sources]
        names = tuple(dict.fromkeys(c.source for c in creds))
        key = (res.container.image, tuple((c.source, c.entry.key) for c in creds))
        placed: list[tuple[str, int]] = []
        for node in nodes:
            for c in creds:
                entries.setdefault(node, {}).setdefault(c.source, {})[c.entry.key] = (c.entry.username,
                                                                                      c.entry.password)
            on_node = images.setdefault(node, {})
            if key not in on_node:
                on_node[key] = len(image_docs.setdefault(node, []))
                image_docs[node].append({"image": res.container.image, "sources": list(names)})
            placed.append((node, on_node[key]))
        assignments[id(res)] = tuple(placed)
    per_node: dict[str, dict[str, Any]] = {}
    for node, docs in image_docs.items():
        sources = entries.get(node, {})
        order = list(sources)
        per_node[node] = {
            "version": nodeprobe.FORMAT_VERSION, "nonce": nonce, "timeout": probe_timeout,
            "sources": [{"name": name, "format": "dockerconfigjson", "data": base64.b64encode(json.dumps(
                {"auths": {k: {"username": u, "password": p} for k, (u, p) in sources[name].items()}}).encode()
            ).decode()} for name in order],
            "images": [{"image": d["image"], "sources": [order.index(n) for n in d["sources"]]} for d in docs],
            "nodes": {node: list(range(len(docs)))},
        }
    return Job(per_node, assignments)


# --- the program the pods run ---------------------------------------------------------

@cache
def bundle() -> bytes:
    """This package plus the pure-Python libraries its probes import, as one zip that
    `python3 probe.pyz node-probe …` runs (zipimport: nothing is unpacked or written).
    The files are read through importlib.resources, so a plugin that itself runs from a
    zip (the single-file build) bundles the same files as an installed one."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("__main__.py", ZIP_MAIN)
        zf.writestr("certifi/__init__.py", CERTIFI_STUB)
        for package in ("kubectl_pullsecret", *BUNDLED):
            if importlib.util.find_spec(package) is None:
                raise RuntimeError(f"cannot bundle {package}: not installed")
            for arc, data in _package_sources(importlib.resources.files(package), package):
                zf.writestr(arc, data)
    return buf.getvalue()


def _package_sources(folder: Traversable, arc: str) -> Iterator[tuple[str, bytes]]:
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.is_dir():
            if entry.name not in ("__pycache__", "tests", "emscripten", "fixes"):
                yield from _package_sources(entry, f"{arc}/{entry.name}")
        elif entry.name.endswith(".py"):
            yield f"{arc}/{entry.name}", entry.read_bytes()


# --- Kubernetes objects -----------------------------------------------------------------

def _labels(run: str | None = None) -> dict[str, str]:
    labels = dict([APP_LABEL, MANAGED_LABEL])
    if run:
        labels[RUN_LABEL] = run
    return labels


def _meta(name: str, namespace: str, run: str, expires: str) -> Obj:
    return {"name": name, "namespace": namespace, "labels": _labels(run), "annotations": {EXPIRES: expires}}


def namespace_object(name: str) -> Obj:
    """The probe namespace: Pod Security `privileged` (the pods use the host's network
    and paths), no project node selector (it would contradict nodeName), as `oc debug
    node` makes its namespaces."""
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {
        "name": name,
        "labels": {MANAGED_LABEL[0]: MANAGED_LABEL[1],
                   "pod-security.kubernetes.io/enforce": "privileged",
                   "pod-security.kubernetes.io/audit": "privileged",
                   "pod-security.kubernetes.io/warn": "privileged",
                   "security.openshift.io/scc.podSecurityLabelSync": "false"},
        "annotations": {"openshift.io/node-selector": "", "scheduler.alpha.kubernetes.io/node-selector": "",
                        "openshift.io/description": "kubectl pullsecret doctor --from-nodes probe pods"}}}


def pod_object(name: str, namespace: str, run: str, node: str, image: str, timeout: float, expires: str,
               kubelet_config: bool = True) -> Obj:
    """One probe pod. `kubelet_config` False: without the config.json mount (for a node
    that has no such file: a hostPath of type File would keep the pod from starting, and
    any other type could make the runtime create the path on the node)."""
    meta = _meta(name, namespace, run, expires)
    meta["annotations"]["pullsecret.kubectl.io/node"] = node
    volumes: list[tuple[str, str, Obj]] = [  # name, mount path, source
        ("code", CODE_PATH, {"configMap": {"name": name_of(run)}}),
        ("job", JOB_PATH, {"secret": {"secretName": name}}),  # this node's job only
        *([(CONFIG_VOLUME, f"{HOST_ROOT}{nodeprobe.KUBELET_CONFIG}",
            {"hostPath": {"path": nodeprobe.KUBELET_CONFIG, "type": "File"}})] if kubelet_config else []),
        ("host-etc", f"{HOST_ROOT}/etc", {"hostPath": {"path": "/etc", "type": "Directory"}}),
    ]
    pod: Obj = {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": {
        "nodeName": node,  # no scheduler: cordoned and tainted nodes too
        "hostNetwork": True,  # the node's routes and firewall
        "dnsPolicy": "Default",  # the node's resolv.conf, as the runtime resolves (not cluster DNS)
        "restartPolicy": "Never",
        "activeDeadlineSeconds": int(timeout) + 30,  # the kubelet stops it even if this process dies
        "terminationGracePeriodSeconds": 1,
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "tolerations": [{"operator": "Exists"}],
        "containers": [{
            "name": CONTAINER,
            "image": image,
            "imagePullPolicy": "IfNotPresent",
            "command": ["python3", f"{CODE_PATH}/probe.pyz", "node-probe", "--job", f"{JOB_PATH}/job.json",
                        "--node", node, "--host", HOST_ROOT],
            "env": [{"name": "PYTHONDONTWRITEBYTECODE", "value": "1"}],
            "resources": {"requests": {"cpu": "10m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}},
            "securityContext": {
                "runAsUser": 0,  # /var/lib/kubelet/config.json is root's, mode 0600
                "allowPrivilegeEscalation": False,
                "readOnlyRootFilesystem": True,
                "capabilities": {"drop": ["ALL"]},
                "seLinuxOptions": {"type": "spc_t"},  # SELinux lets container_t read no host file
            },
            "volumeMounts": [{"name": v, "mountPath": path, "readOnly": True} for v, path, _ in volumes],
        }],
        "volumes": [{"name": v, **source} for v, _, source in volumes],
    }}
    return pod


def name_of(run: str) -> str:
    return f"pullsecret-probe-{run}"


def statement(opts: NodeOptions, nodes: Sequence[str], secrets_count: int, bundle_size: int) -> str:
    """What will be created, with which privileges: said before anything is."""
    import textwrap

    shown = ", ".join(nodes[:10]) + (f" and {len(nodes) - 10} more" if len(nodes) > 10 else "")
    paragraphs = [
        (f"doctor --from-nodes will create, in namespace {opts.namespace} (created if missing, and then deleted "
         "again):", "", ""),
        (f"- a ConfigMap with this program (kubectl-pullsecret v{__version__}, {bundle_size // 1024} KiB);",
         "  ", "    "),
        (f"- per node a Secret with its job: of the {secrets_count} pull secret(s) involved, only the entries the "
         "kubelet would try for the images of that node;", "  ", "    "),
        (f"- {len(nodes)} pod(s), one per node ({shown}), at most {opts.max_parallel} at a time, each deleted "
         f"after at most {opts.node_timeout:.0f}s: image {opts.image}, running as root with the node's network "
         "(hostNetwork), reading the node's /var/lib/kubelet/config.json and /etc read-only, tolerating every "
         "taint.", "  ", "    "),
        ("It needs: create and delete of pods, configmaps and secrets there (and of the namespace), watch and "
         "log of pods, and the admission of such pods (OpenShift: the privileged SCC; Pod Security: level "
         "privileged). Credentials read on the nodes never leave them: only outcomes, fingerprints and a keyed "
         "digest come back.", "", ""),
    ]
    return "\n".join(textwrap.fill(text, 100, initial_indent=first, subsequent_indent=rest)
                     for text, first, rest in paragraphs)


# --- the run -------------------------------------------------------------------------

class _Denied(Exception):
    def __init__(self, denied: Denied) -> None:
        super().__init__(denied.reason)
        self.denied = denied


@dataclass
class _Pod:
    node: str
    name: str
    started: float
    deadline: float
    obj: Obj | None = None  # the latest state the watch delivered
    mount_checks: int = 0  # how many of MOUNT_CHECKS were made
    kubelet_config: bool = True


class Runner:
    """One --from-nodes run against one cluster."""

    def __init__(self, cluster: Cluster, opts: NodeOptions) -> None:
        self.cluster = cluster
        self.opts = opts
        self.run_id = secrets.token_hex(4)
        self.nonce = secrets.token_hex(16)
        self.namespace = opts.namespace
        self.created_namespace = False
        self.created: list[tuple[str, str]] = []  # (kind, name) in the namespace, to delete
        self.events: queue.SimpleQueue[Obj] = queue.SimpleQueue()
        self.stop = threading.Event()
        self.watch_failing = threading.Event()
        self.results: dict[str, NodeResult] = {}
        self.notes: list[str] = []
        self.denied: list[Denied] = []
        self.offset: float | None = None  # server clock minus this machine's, seconds

    # -- API helpers --
    def _call(self, method: str, kind: str, name: str | None, body: Any = None, namespaced: bool = True,
              query: Mapping[str, str] | None = None, subresource: str | None = None) -> Answer:
        """Every API request of the run goes through here."""
        res = RESOURCES[kind]
        path = res.path(self.namespace if namespaced else None, name) + (f"/{subresource}" if subresource else "")
        # Every request of the node phase is bounded: the cleanup must not hang on an API
        # that stopped answering (Ctrl-C is ignored while it runs).
        answer = self.cluster.request(method, path, query, body, timeout=self.cluster.timeout or REQUEST_TIMEOUT)
        self._clock(answer)
        return answer

    def _clock(self, answer: Answer) -> None:
        """The server's clock (its Date header): expiry annotations are written and judged
        by it, so two users' clocks never have to agree."""
        date = answer.headers.get("Date") or answer.headers.get("date")
        if date and self.offset is None:
            with contextlib.suppress(TypeError, ValueError, IndexError):
                self.offset = email.utils.parsedate_to_datetime(date).timestamp() - time.time()

    def now(self) -> datetime:
        return datetime.fromtimestamp(time.time() + (self.offset or 0.0), UTC)

    def _refused(self, answer: Answer, verb: str, kind: str, name: str | None) -> _Denied:
        res = RESOURCES[kind]
        ns = self.namespace if res.namespaced else None
        hint = can_i_hint(verb, res, ns, answer.status)
        return _Denied(Denied(kind, ns, name, f"cannot {verb} {res.describe(ns, name)}: {answer.reason()}{hint}",
                              answer.status, verb))

    # -- phases --
    def select_nodes(self, scheduled: Sequence[str], explicit: bool) -> tuple[list[str], dict[str, str]]:
        """The nodes to probe (--node-selector's, --node's, else those the pods are
        `scheduled` on), and those skipped with why (not found, not Ready). The node list
        is read once; when it may not be read, named nodes are probed unchecked."""
        selector = self.opts.node_selector
        named = list(self.opts.nodes) if explicit else sorted(set(scheduled))
        if selector is None and not named:
            return [], {}
        listed = self.cluster.list("Node", None, selector)
        if isinstance(listed, Denied):
            if selector is not None:
                res = RESOURCES["Node"]
                hint = can_i_hint("list", res, None, listed.status)
                raise _Denied(replace(listed, reason=f"cannot list {res.describe(None)}: {listed.reason}{hint}"))
            log.info("cannot list nodes (%s): probing the named nodes unchecked", listed.reason)
        nodes = {str((n.get("metadata") or {}).get("name")): n for n in listed} if isinstance(listed, list) else {}
        if selector is not None:
            wanted = sorted(nodes)
            if not wanted:
                self.notes.append(f"--node-selector {selector}: no node matches")
        else:
            wanted = named
        skip: dict[str, str] = {}
        for name in wanted:
            if nodes and name not in nodes:
                skip[name] = "no such node"
            elif name in nodes and not _ready(nodes[name]):
                skip[name] = "the node is not Ready: its kubelet would not start the probe pod"
        return [n for n in wanted if n not in skip], skip

    def ensure_namespace(self) -> None:
        answer = self._call("GET", "Namespace", self.namespace, namespaced=False)
        if answer.status == 200:
            doc = answer.json() or {}
            labels = (doc.get("metadata") or {}).get("labels") or {}
            # Left by an interrupted run of ours: ours to remove at the end.
            self.created_namespace = labels.get(MANAGED_LABEL[0]) == MANAGED_LABEL[1]
            if (doc.get("status") or {}).get("phase") != "Terminating":
                return
            self.created_namespace = False
            # An earlier run's namespace is still being deleted (that takes a while on a real
            # cluster): wait for it to go, then make it again.
            self.opts.say(f"waiting for namespace {self.namespace} (being deleted) to go ...")
            deadline = time.monotonic() + TERMINATING_WAIT
            while answer.status == 200:
                if time.monotonic() > deadline:
                    raise _Denied(Denied("Namespace", None, self.namespace,
                                         f"cannot create pods in namespace {self.namespace}: it is still being "
                                         f"deleted after {TERMINATING_WAIT:.0f}s; try again later or use "
                                         "--probe-namespace", 409, "create"))
                time.sleep(2.0)
                answer = self._call("GET", "Namespace", self.namespace, namespaced=False)
                if answer.status == 200 and ((answer.json() or {}).get("status") or {}).get("phase") != "Terminating":
                    return  # made again meanwhile (another run): use it, and leave it to that run
        if answer.status not in (404, 403):
            raise self._refused(answer, "get", "Namespace", self.namespace)
        created = self._call("POST", "Namespace", None, namespace_object(self.namespace), namespaced=False)
        if created.status in (200, 201):
            self.created_namespace = True
            return
        if created.status == 409:
            return  # created meanwhile (or we may create but not get): use it
        raise self._refused(created, "create", "Namespace", self.namespace)

    def clean_leftovers(self) -> None:
        """Objects an earlier, interrupted run left (their declared lifetime is over)."""
        now = self.now()
        selector = f"{MANAGED_LABEL[0]}={MANAGED_LABEL[1]},{APP_LABEL[0]}={APP_LABEL[1]}"
        for kind in ("Pod", "Secret", "ConfigMap"):
            answer = self._call("GET", kind, None, query={"labelSelector": selector})
            if answer.status != 200:
                continue
            for item in (answer.json() or {}).get("items") or []:
                meta = item.get("metadata") or {} if isinstance(item, dict) else {}
                expires = timestamp((meta.get("annotations") or {}).get(EXPIRES))
                if expires is None or expires < now:
                    log.info("deleting %s %s/%s left by an earlier run", kind, self.namespace, meta.get("name"))
                    self._delete(kind, str(meta.get("name")))

    def _delete(self, kind: str, name: str) -> None:
        body = {"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0,
                "propagationPolicy": "Background"}
        answer = self._call("DELETE", kind, name, body)
        if answer.status in (200, 202, 404):
            with contextlib.suppress(ValueError):
                self.created.remove((kind, name))  # gone: nothing left to clean up
        else:
            log.warning("could not delete %s %s/%s: %s", kind, self.namespace, name, answer.reason())
            self.notes.append(f"could not delete {kind} {self.namespace}/{name}: {answer.reason()}; delete it with "
                              f"kubectl delete {kind.lower()} {name} -n {self.namespace}")

    def _create(self, kind: str, body: Obj) -> Answer:
        """Create one object of this run. It is recorded for the cleanup before the request
        (a Ctrl-C or a lost answer must not leave it behind), and a 409 on our randomly
        named object means a retried request that had already gone through."""
        name = str(body["metadata"]["name"])
        self.created.append((kind, name))
        answer = self._call("POST", kind, None, body)
        if answer.status == 409:
            return Answer(201, answer.body, answer.headers)
        if answer.status not in (200, 201):
            with contextlib.suppress(ValueError):
                self.created.remove((kind, name))
        return answer

    def _delete_pod(self, name: str) -> None:
        """A probe pod and its Secret."""
        self._delete("Pod", name)
        self._delete("Secret", name)

    def create_code(self, expires: str) -> None:
        name = name_of(self.run_id)
        code = base64.b64encode(bundle()).decode()
        cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta(name, self.namespace, self.run_id, expires),
              "binaryData": {"probe.pyz": code}}
        answer = self._create("ConfigMap", cm)
        if answer.status not in (200, 201):
            raise self._refused(answer, "create", "ConfigMap", name)

    def _watch(self) -> None:
        """Follow the run's pods (one long request, renewed when the server ends it)."""
        selector = f"{RUN_LABEL}={self.run_id}"
        version = "0"
        failures = 0
        while not self.stop.is_set():
            got_any = False
            for event in self.cluster.watch("Pod", self.namespace, selector, version, 60):
                if self.stop.is_set():
                    return
                if event.get("type") == "ERROR":
                    status = event.get("object") or {}
                    if status.get("code") == 410:
                        version = "0"  # expired: start again (replays the current pods as ADDED)
                    else:
                        failures += 1
                        self.watch_failing.set()
                        log.info("pod watch: %s", status.get("message"))
                    continue
                got_any = True
                failures = 0
                self.watch_failing.clear()
                obj = event.get("object") or {}
                version = str((obj.get("metadata") or {}).get("resourceVersion") or version)
                self.events.put(event)
            if not got_any and failures:
                time.sleep(min(5.0, 0.5 * failures))
            if failures > 20:
                return  # the run polls instead

    def run(self, job: Job, nodes: Sequence[str]) -> None:
        expires_at = self.now() + timedelta(
            seconds=self.opts.node_timeout * (len(nodes) / max(1, self.opts.max_parallel) + 1) + 120)
        expires = rfc3339(expires_at)
        self.create_code(expires)
        watcher = threading.Thread(target=self._watch, name="node-probe-watch", daemon=True)
        watcher.start()
        waiting = list(nodes)
        active: dict[str, _Pod] = {}
        index = 0
        total = len(nodes)
        quiet_since = time.monotonic()
        while waiting or active:
            while waiting and len(active) < self.opts.max_parallel:
                node = waiting.pop(0)
                index += 1
                name = f"{name_of(self.run_id)}-{index}"
                answer = self._create_pod(name, node, expires, job.per_node[node])
                now = time.monotonic()
                if answer.status in (200, 201):
                    active[name] = _Pod(node, name, now, now + self.opts.node_timeout)
                    continue
                if answer.status == 403:
                    denied = self._refused(answer, "create", _kind_of(answer), None)
                    for n in [node, *waiting]:
                        self.results[n] = NodeResult(n, "not-run", "probe pods may not be created: see "
                                                     "permission-denied")
                    waiting.clear()
                    if not active:
                        raise denied
                    self.denied.append(denied.denied)
                    break
                self.results[node] = NodeResult(node, "failed", f"the probe pod was refused: {answer.reason()}")
            if not active:
                break
            next_deadline = min(p.deadline for p in active.values())
            try:
                event = self.events.get(timeout=max(0.05, min(1.0, next_deadline - time.monotonic())))
            except queue.Empty:
                event = None
            if event is not None:
                quiet_since = time.monotonic()
                self._on_event(event, active)
            elif time.monotonic() - quiet_since > (POLL if self.watch_failing.is_set() else RESYNC):
                # A watch that fell silent (a proxy dropping the stream) must not turn every
                # probe into a timeout: one list catches up.
                quiet_since = time.monotonic()
                for obj in self._list_run_pods():
                    self._on_event({"type": "MODIFIED", "object": obj}, active)
            for pod in [p for p in active.values() if p.mount_checks < len(MOUNT_CHECKS) and p.kubelet_config
                        and _not_started(p) and time.monotonic() - p.started >= MOUNT_CHECKS[p.mount_checks]]:
                self._check_mounts(pod, active, expires, job.per_node[pod.node])
            for pod in [p for p in active.values() if time.monotonic() >= p.deadline]:
                self._timed_out(pod)
                del active[pod.name]
            if self.opts.progress is not None:
                self.opts.progress(f"probing from the nodes: {len(self.results)}/{total} done, {len(active)} running",
                                   final=len(self.results) == total)

    def _create_pod(self, name: str, node: str, expires: str, job: Mapping[str, Any],
                    kubelet_config: bool = True) -> Answer:
        """The node's Secret (its job: only its own credentials), then its pod."""
        job_bytes = json.dumps(job, separators=(",", ":")).encode()
        secret = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                  "metadata": _meta(name, self.namespace, self.run_id, expires),
                  "data": {"job.json": base64.b64encode(job_bytes).decode()}}
        answer = self._create("Secret", secret)
        if answer.status not in (200, 201):
            return answer
        body = pod_object(name, self.namespace, self.run_id, node, self.opts.image, self.opts.node_timeout, expires,
                          kubelet_config)
        for _ in range(SA_WAIT_ATTEMPTS):
            answer = self._create("Pod", body)
            # A namespace created a moment ago has no "default" service account until its
            # controller makes one, and admission refuses pods until then.
            if not (answer.status == 403 and "error looking up service account" in answer.reason()):
                break
            time.sleep(0.5)
        if answer.status not in (200, 201):
            self._delete("Secret", name)
        return answer

    def _check_mounts(self, pod: _Pod, active: dict[str, _Pod], expires: str, job: Mapping[str, Any]) -> None:
        """A pod still not started at one of MOUNT_CHECKS: read its events. A node without
        /var/lib/kubelet/config.json (the kubelet uses none then) gets a pod without that
        mount, in the same time budget."""
        pod.mount_checks += 1
        events = self._events(pod.name)
        failed = [e for e in events if e.get("reason") == "FailedMount"
                  and f'"{CONFIG_VOLUME}"' in str(e.get("message") or "")]
        if not failed or not pod.kubelet_config:
            return
        log.info("node %s has no %s: probing without it", pod.node, nodeprobe.KUBELET_CONFIG)
        self._delete_pod(pod.name)
        del active[pod.name]
        name = f"{pod.name}-n"
        answer = self._create_pod(name, pod.node, expires, job, kubelet_config=False)
        if answer.status in (200, 201):
            active[name] = _Pod(pod.node, name, pod.started, pod.deadline, kubelet_config=False)
        else:
            self.results[pod.node] = NodeResult(pod.node, "failed", f"the probe pod was refused: {answer.reason()}",
                                                name, _ms(pod.started))

    def _list_run_pods(self) -> list[Obj]:
        answer = self._call("GET", "Pod", None, query={"labelSelector": f"{RUN_LABEL}={self.run_id}"})
        items = (answer.json() or {}).get("items") if answer.status == 200 else None
        return [i for i in items or [] if isinstance(i, dict)]

    def _on_event(self, event: Obj, active: dict[str, _Pod]) -> None:
        if event.get("type") == "ERROR":
            self.notes.append(f"following the probe pods failed: {(event.get('object') or {}).get('message')}")
            return
        obj = event.get("object") or {}
        name = str((obj.get("metadata") or {}).get("name"))
        pod = active.get(name)
        if pod is None:
            return
        pod.obj = obj
        if event.get("type") == "DELETED":
            self.results[pod.node] = NodeResult(pod.node, "failed", "the probe pod was deleted by someone else",
                                                pod.name, _ms(pod.started))
            del active[name]
            return
        status = obj.get("status") or {}
        phase = status.get("phase")
        if phase in ("Succeeded", "Failed"):
            self.results[pod.node] = self._collect(pod, phase, status)
            self._delete_pod(pod.name)
            del active[name]
            return
        waiting = _waiting(status)
        if waiting is not None and waiting[0] in HOPELESS:
            self.results[pod.node] = NodeResult(pod.node, "failed", _start_failure(self.opts.image, *waiting),
                                                pod.name, _ms(pod.started))
            self._delete_pod(pod.name)
            del active[name]

    def _collect(self, pod: _Pod, phase: str, status: Obj) -> NodeResult:
        answer = self._call("GET", "Pod", pod.name, query={"container": CONTAINER, "limitBytes": str(LOG_LIMIT)},
                            subresource="log")
        elapsed = _ms(pod.started)
        if answer.status != 200:
            return NodeResult(pod.node, "failed", f"the probe's output could not be read: {answer.reason()}"
                              + can_i_hint("get", RESOURCES["Pod"], self.namespace, answer.status, "log"),
                              pod.name, elapsed)
        text = answer.body.decode("utf-8", "replace")
        line = next((ln for ln in reversed(text.splitlines()) if ln.startswith(nodeprobe.MARKER)), None)
        if line is None:
            terminated = _terminated(status) or {}
            why = f" (exit code {terminated.get('exitCode')}, {terminated.get('reason')})" if terminated else ""
            # The runtime's own words when the command could not start, else the log's last line.
            said = str(terminated.get("message") or "") if terminated.get("reason") == "StartError" else text
            last = _clean(" ".join(said.strip().splitlines()[-1:])[:300])
            return NodeResult(pod.node, "failed", f"the probe pod ended {phase}{why} without a result"
                              + (f": {last}" if last else "") + _python_hint(said, terminated), pod.name, elapsed)
        try:
            doc = json.loads(line[len(nodeprobe.MARKER):])
        except ValueError:
            return NodeResult(pod.node, "failed", "the probe's result is not valid JSON", pod.name, elapsed)
        return parse_result(pod.node, pod.name, elapsed, doc)

    def _timed_out(self, pod: _Pod) -> None:
        status = (pod.obj or {}).get("status") or {}
        waiting = _waiting(status)
        why = f"{waiting[0]}: {waiting[1]}" if waiting else f"phase {status.get('phase') or 'Pending'}"
        if not waiting or waiting[0] == "ContainerCreating":
            event = self._last_event(pod.name)
            if event:
                why = event
        self.results[pod.node] = NodeResult(
            pod.node, "timeout", f"no result within --node-timeout {self.opts.node_timeout:.0f}s ({why})",
            pod.name, _ms(pod.started))
        self._delete_pod(pod.name)

    def _events(self, pod_name: str) -> list[Obj]:
        answer = self._call("GET", "Event", None, query={"fieldSelector": f"involvedObject.name={pod_name}"})
        if answer.status != 200:
            return []
        return [e for e in (answer.json() or {}).get("items") or [] if isinstance(e, dict)]

    def _last_event(self, pod_name: str) -> str | None:
        items = self._events(pod_name)
        warnings = [e for e in items if e.get("type") == "Warning"] or items
        if not warnings:
            return None
        last = warnings[-1]
        return f"{last.get('reason')}: {' '.join(str(last.get('message') or '').split())[:300]}"

    def _in_use(self) -> bool:
        """Does another run (a colleague's, started meanwhile) still have objects in the
        namespace? Then it stays: deleting it would delete their probe pods."""
        selector = f"{APP_LABEL[0]}={APP_LABEL[1]}"
        for kind in ("Pod", "ConfigMap"):
            answer = self._call("GET", kind, None, query={"labelSelector": selector, "limit": "1"})
            if answer.status != 200 or (answer.json() or {}).get("items"):
                return True
        return False

    def cleanup(self) -> None:
        """Delete everything this run created, whatever happened (further Ctrl-Cs are
        ignored meanwhile; every request is bounded). If the API cannot be reached any
        more, stop and say what to delete."""
        self.stop.set()
        try:
            for kind, name in reversed(list(self.created)):
                self._delete(kind, name)
            if self.created_namespace and not self._in_use():
                answer = self._call("DELETE", "Namespace", self.namespace, namespaced=False)
                if answer.status not in (200, 202, 404):
                    self.notes.append(f"could not delete namespace {self.namespace}: {answer.reason()}")
        except PullsecretError as exc:
            note = (f"cleanup stopped, the cluster cannot be reached ({exc}); delete what is left with: "
                    f"kubectl delete pods,secrets,configmaps -n {self.namespace} -l {RUN_LABEL}={self.run_id}")
            self.notes.append(note)
            self.opts.say(f"warning: {note}")  # also when interrupted: the report may never be printed
        self.created.clear()


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """A second Ctrl-C must not stop the cleanup half way (pods would stay behind)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _kind_of(answer: Answer) -> str:
    """The kind a refused create was about (Status details.kind: pods, secrets)."""
    doc = answer.json()
    details = doc.get("details") if isinstance(doc, dict) else None
    kind = details.get("kind") if isinstance(details, dict) else None
    return {"secrets": "Secret", "pods": "Pod"}.get(str(kind), "Pod")


def _ready(node: Obj) -> bool:
    for cond in (node.get("status") or {}).get("conditions") or []:
        if isinstance(cond, dict) and cond.get("type") == "Ready":
            return cond.get("status") == "True"
    return True  # no condition reported: let the pod tell


def _waiting(status: Obj) -> tuple[str, str] | None:
    for cs in status.get("containerStatuses") or []:
        waiting = ((cs or {}).get("state") or {}).get("waiting") if isinstance(cs, dict) else None
        if isinstance(waiting, dict) and waiting.get("reason"):
            return str(waiting["reason"]), " ".join(str(waiting.get("message") or "").split())[:300]
    return None


def _not_started(pod: _Pod) -> bool:
    """Still waiting for its container (as far as the watch has told)."""
    status = (pod.obj or {}).get("status") or {}
    if status.get("phase") not in (None, "Pending"):
        return False
    waiting = _waiting(status)
    return waiting is None or waiting[0] == "ContainerCreating"


def _terminated(status: Obj) -> Obj | None:
    for cs in status.get("containerStatuses") or []:
        term = ((cs or {}).get("state") or {}).get("terminated") if isinstance(cs, dict) else None
        if isinstance(term, dict):
            return term
    return None


def _start_failure(image: str, reason: str, message: str) -> str:
    text = f"the probe pod did not start: {reason}" + (f": {message}" if message else "")
    if reason in ("ErrImagePull", "ImagePullBackOff"):
        text += (f". The node cannot pull the probe image {image} itself (a pull problem of its own: mirror it, or "
                 "pass --probe-image with an image the nodes can pull that has python3 >= 3.11)")
    return text


def _python_hint(text: str, terminated: Obj) -> str:
    if terminated.get("reason") in ("StartError", "ContainerCannotRun") or "executable file not found" in text:
        return " (the probe image must have python3 >= 3.11 on its PATH: see --probe-image)"
    if "needs python3 >= 3.11" in text or "SyntaxError" in text:
        return " (the probe image's python3 is older than 3.11: see --probe-image)"
    return ""


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
_HOST = re.compile(r"^[A-Za-z0-9.\-]+(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$")


def _clean(value: Any, depth: int = 0) -> Any:
    """A node's document made safe to print: no control characters (no terminal escape
    sequences, no forged lines), strings and lists bounded, nesting bounded."""
    if depth > 8:
        return None
    if isinstance(value, str):
        return _CONTROL.sub(" ", value)[:2000]
    if isinstance(value, list):
        return [_clean(v, depth + 1) for v in value[:1000]]
    if isinstance(value, dict):
        return {str(k)[:200]: _clean(v, depth + 1) for k, v in list(value.items())[:200]}
    if isinstance(value, bool | int | float) or value is None:
        return value
    return None


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def parse_result(node: str, pod: str | None, elapsed: int, doc: Any) -> NodeResult:
    """A node's result document, checked and cleaned (it comes from a pod: never trusted
    blindly; anything of the wrong shape is dropped, not followed)."""
    doc = _clean(doc)
    version = doc.get("version") if isinstance(doc, dict) else None
    if not isinstance(doc, dict) or type(version) is not int or version != nodeprobe.FORMAT_VERSION:
        return NodeResult(node, "failed", "the probe's result has an unknown format", pod, elapsed)
    if doc.get("error"):
        return NodeResult(node, "failed", f"the probe failed on the node: {str(doc['error'])[:300]}", pod, elapsed)
    images: dict[int, Mapping[str, Any]] = {}
    for item in _list(doc.get("images")):
        if isinstance(item, dict) and isinstance(item.get("id"), int) and not isinstance(item.get("id"), bool):
            images[item["id"]] = {"credentials": [c for c in _list(item.get("credentials")) if isinstance(c, dict)],
                                  "attempts": [a for a in _list(item.get("attempts")) if isinstance(a, dict)]}
    raw_config = doc.get("config")
    config: dict[str, Any] | None = None
    if isinstance(raw_config, dict):
        config = {"present": raw_config.get("present") is True,
                  "digest": raw_config.get("digest") if isinstance(raw_config.get("digest"), str) else None,
                  "error": raw_config.get("error") if isinstance(raw_config.get("error"), str) else None,
                  "entries": [{"key": e["key"], "fingerprint": e["fingerprint"]}
                              for e in _list(raw_config.get("entries")) if isinstance(e, dict)
                              and isinstance(e.get("key"), str) and isinstance(e.get("fingerprint"), str)]}
    trust = doc.get("trust") if isinstance(doc.get("trust"), dict) else None
    return NodeResult(node, "ok", "", pod, elapsed, config, trust, images)


def to_probe(res: Resolution, node: NodeResult, item: Mapping[str, Any] | None) -> ImageProbe:
    """A node's answer for one container as an ImageProbe (vantage node/<name>), its
    credential indexes mapped onto the container's own list where the node used one of
    those credentials (same source kind, key and fingerprint). The registry is the one
    that was asked about, whatever the node says; an auth server must look like a host."""
    vantage = f"node/{node.node}"
    registry = res.reference.registry if res.reference else ""
    if node.status != "ok" or item is None:
        why = node.detail if node.status != "ok" else "the node returned no result for this image"
        return ImageProbe((Attempt(None, Result("skipped", registry, f"not probed from node {node.node}: {why}")),),
                          vantage=vantage)
    creds = _list(item.get("credentials"))
    attempts: list[Attempt] = []
    for raw in _list(item.get("attempts")):
        try:
            result = result_from_dict(raw)
        except (ValueError, TypeError, AttributeError) as exc:
            result = Result("skipped", registry, f"the node's answer is malformed: {exc}"[:300])
        auth = result.auth_server if result.auth_server and _HOST.match(result.auth_server) else None
        result = replace(result, registry=registry, auth_server=auth)
        index = raw.get("credential") if isinstance(raw, dict) else None
        local: int | None = None
        node_entry: tuple[str, str] | None = None
        if isinstance(index, int) and not isinstance(index, bool) and 0 <= index < len(creds):
            used = creds[index]
            local = _local_index(res, used)
            if local is None:
                node_entry = (str(used.get("key")), str(used.get("fingerprint")))
        attempts.append(Attempt(local, result, node_entry))
    if not attempts:
        attempts.append(Attempt(None, Result("skipped", registry, "the node returned no attempt")))
    return ImageProbe(tuple(attempts), vantage=vantage)


def _local_index(res: Resolution, used: Mapping[str, Any]) -> int | None:
    node_source = used.get("source") == "node"
    for i, cred in enumerate(res.credentials):
        same_source = (cred.source == used.get("source")) or (node_source and not cred.source.startswith("secret/"))
        if same_source and cred.entry.key == used.get("key") and cred.entry.fingerprint == used.get("fingerprint"):
            return i
    return None


def node_of(resolutions: Sequence[Resolution]) -> dict[int, str]:
    """id(resolution) -> the node its pod is scheduled on (pods only, scheduled only)."""
    out: dict[int, str] = {}
    for res in resolutions:
        node = res.subject.spec.get("nodeName") if res.subject.ref.kind == "Pod" else None
        if isinstance(node, str) and node:
            out[id(res)] = node
    return out


def run_nodes(cluster: Cluster, opts: NodeOptions, wanted: Sequence[Resolution]) -> NodeRun:
    """The whole node phase. `wanted`: the containers worth probing from nodes."""
    runner = Runner(cluster, opts)
    started_requests = cluster.request_count
    results: dict[str, NodeResult] = {}

    def outcome(probes: Mapping[int, tuple[ImageProbe, ...]] | None = None) -> NodeRun:
        return NodeRun(tuple(results[n] for n in sorted(results)), probes or {}, tuple(runner.denied),
                       tuple(runner.notes), runner.nonce, cluster.request_count - started_requests)

    explicit = bool(opts.nodes) or opts.node_selector is not None
    scheduled = node_of(wanted)
    try:
        nodes, skipped = runner.select_nodes(list(scheduled.values()), explicit)
    except _Denied as exc:
        runner.denied.append(exc.denied)
        runner.notes.append("node probes not run: the nodes could not be listed")
        return outcome()
    if not explicit and len(scheduled) < len(wanted):
        runner.notes.append(f"{len(wanted) - len(scheduled)} container(s) are not on a node (templates or pending "
                            "pods): not probed from nodes; use --node or --node-selector")
    chosen = set(nodes)
    assignment = [(r, list(nodes) if explicit else [scheduled[id(r)]]) for r in wanted
                  if explicit or scheduled.get(id(r)) in chosen]
    results.update({n: NodeResult(n, "not-run", why) for n, why in skipped.items()})
    if not nodes or not assignment:
        if not wanted:
            runner.notes.append("no image to probe from the nodes")
        return outcome()
    job = make_job(assignment, opts.probe_timeout, runner.nonce)
    text = statement(opts, nodes, job.sources, len(bundle()))
    if opts.confirm is None:
        opts.say(text)
    elif not opts.confirm(text):
        runner.notes.append("node probes declined: nothing was created")
        results.update({n: NodeResult(n, "not-run", "declined at the prompt") for n in nodes})
        return outcome()
    try:
        runner.ensure_namespace()
        runner.clean_leftovers()
        runner.run(job, nodes)
    except _Denied as exc:
        runner.denied.append(exc.denied)
        runner.notes.append("node probes not run: " + exc.denied.reason)
    except PullsecretError as exc:
        # The cluster went away mid-run: what came back so far is kept.
        runner.notes.append(f"node probes stopped: {exc}")
    finally:
        with _sigint_ignored():
            runner.cleanup()
    results.update(runner.results)
    for n in nodes:
        results.setdefault(n, NodeResult(n, "not-run", "not reached"))
    probes = {id(res): tuple(to_probe(res, results[n], results[n].images.get(image_id))
                             for n, image_id in job.assignments[id(res)]) for res, _ in assignment}
    return outcome(probes)
