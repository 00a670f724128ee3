"""Live source: kubeconfig, raw paginated reads, SubjectAccessReviews.

The `kubernetes` package loads the kubeconfig (merged KUBECONFIG lists, contexts,
exec/OIDC auth plugins, client certificates, proxies) or the in-cluster config and
carries the HTTPS requests. Responses are read as raw JSON, never through the
client's models: a list of 20,000 pods is a few pages of `json.loads`, and the
typed client cannot even read some real objects (events.k8s.io events with a null
`eventTime`, kubernetes-client/python#1616).

This is the only module that talks to the Kubernetes API. Every answer becomes
data: objects, a `Denied` read (403, or failing after retries), or a `SourceError`
when the cluster cannot be read at all (exit code 3).
"""

from __future__ import annotations

import builtins
import json
import logging
import math
import os
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

from kubectl_pullsecret.dockerconfig import PULL_SECRET_KEYS, PULL_SECRET_TYPES
from kubectl_pullsecret.errors import FixError, SourceError, UsageError
from kubectl_pullsecret.snapshot import Denied, Obj

log = logging.getLogger(__name__)

PAGE_SIZE = 500  # what kubectl uses (--chunk-size)
MAX_ATTEMPTS = 5  # per request: 429, 5xx and broken connections are retried
MAX_RETRY_AFTER = 30.0  # seconds; a larger Retry-After is capped
READERS = 8  # reads in flight at once
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
SA_NAMESPACE_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"
NOT_SERVED = "not served by this cluster"


@dataclass(frozen=True)
class Resource:
    group: str
    version: str
    plural: str
    namespaced: bool = True

    def path(self, namespace: str | None = None, name: str | None = None) -> str:
        base = f"/api/{self.version}" if not self.group else f"/apis/{self.group}/{self.version}"
        if namespace is not None and self.namespaced:
            base += f"/namespaces/{quote(namespace, safe='')}"
        base += f"/{self.plural}"
        return base + (f"/{quote(name, safe='')}" if name is not None else "")

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self) -> str:
        """`secrets`, `clusterversions.config.openshift.io`: as `oc auth can-i` takes it."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def describe(self, namespace: str | None, name: str | None = None) -> str:
        """`secrets in namespace shop`, `secrets openshift-config/pull-secret`, `clusterversions...`."""
        if name is not None:
            where = f"{namespace}/" if namespace and self.namespaced else ""
            return f"{self.qualified} {where}{name}"
        if not self.namespaced:
            return self.qualified
        return f"{self.qualified} in namespace {namespace}" if namespace else f"{self.qualified} in every namespace"


RESOURCES: dict[str, Resource] = {
    "Pod": Resource("", "v1", "pods"),
    "ServiceAccount": Resource("", "v1", "serviceaccounts"),
    "Secret": Resource("", "v1", "secrets"),
    "ConfigMap": Resource("", "v1", "configmaps"),
    "Event": Resource("", "v1", "events"),
    "Namespace": Resource("", "v1", "namespaces", namespaced=False),
    "Node": Resource("", "v1", "nodes", namespaced=False),
    "Deployment": Resource("apps", "v1", "deployments"),
    "StatefulSet": Resource("apps", "v1", "statefulsets"),
    "DaemonSet": Resource("apps", "v1", "daemonsets"),
    "ReplicaSet": Resource("apps", "v1", "replicasets"),
    "Job": Resource("batch", "v1", "jobs"),
    "CronJob": Resource("batch", "v1", "cronjobs"),
    "ReplicationController": Resource("", "v1", "replicationcontrollers"),
    "DeploymentConfig": Resource("apps.openshift.io", "v1", "deploymentconfigs"),
    "Image": Resource("config.openshift.io", "v1", "images", namespaced=False),
    "ClusterVersion": Resource("config.openshift.io", "v1", "clusterversions", namespaced=False),
    "ClusterOperator": Resource("config.openshift.io", "v1", "clusteroperators", namespaced=False),
    "ImageDigestMirrorSet": Resource("config.openshift.io", "v1", "imagedigestmirrorsets", namespaced=False),
    "ImageTagMirrorSet": Resource("config.openshift.io", "v1", "imagetagmirrorsets", namespaced=False),
    "ImageContentSourcePolicy": Resource("operator.openshift.io", "v1alpha1", "imagecontentsourcepolicies",
                                         namespaced=False),
    "MachineConfigPool": Resource("machineconfiguration.openshift.io", "v1", "machineconfigpools", namespaced=False),
    "RoleBinding": Resource("rbac.authorization.k8s.io", "v1", "rolebindings"),
    "ClusterRole": Resource("rbac.authorization.k8s.io", "v1", "clusterroles", namespaced=False),
}
SAR = Resource("authorization.k8s.io", "v1", "subjectaccessreviews", namespaced=False)
# API groups whose presence in discovery means OpenShift.
OPENSHIFT_GROUPS = frozenset({"config.openshift.io", "apps.openshift.io", "image.openshift.io",
                              "project.openshift.io"})


# --- durations (--request-timeout) -------------------------------------------

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNIT = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str, flag: str = "--request-timeout") -> float | None:
    """kubectl's --request-timeout: a bare number of seconds or a Go duration
    (`30s`, `1m30s`, `500ms`); 0 means no timeout (None)."""
    text = text.strip()
    try:
        seconds = float(text)
        numeric = math.isfinite(seconds)
    except ValueError:
        numeric = False
    if not numeric:
        pos, seconds = 0, 0.0
        for m in _DURATION.finditer(text):
            if m.start() != pos:
                break
            seconds += float(m.group(1)) * _UNIT[m.group(2)]
            pos = m.end()
        if pos != len(text) or not text:
            raise UsageError(f"{flag} {text!r}: expected seconds or a duration such as 30s, 1m, 500ms")
    if seconds < 0:
        raise UsageError(f"{flag} {text!r}: must not be negative")
    return seconds or None


# --- connection ----------------------------------------------------------------

@dataclass(frozen=True)
class ClusterOptions:
    kubeconfig: str | None = None
    context: str | None = None
    request_timeout: float | None = None


@dataclass
class Answer:
    status: int
    body: bytes
    headers: Mapping[str, str]

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def reason(self) -> str:
        """The server's Status message, one line, or the HTTP status."""
        doc = self.json()
        if isinstance(doc, dict) and isinstance(doc.get("message"), str) and doc["message"].strip():
            return " ".join(doc["message"].split())[:300]
        return f"HTTP {self.status}"


class Cluster:
    """One cluster connection: the loaded kubeconfig context and a pooled client."""

    def __init__(self, api_client: Any, context: str | None, server: str, namespace: str | None,
                 timeout: float | None) -> None:
        self.api = api_client
        self.context = context
        self.server = server
        self.namespace = namespace  # the context's namespace, if it sets one
        self.timeout = timeout
        self.request_count = 0
        self._lock = threading.Lock()

    @classmethod
    def connect(cls, opts: ClusterOptions) -> Cluster:
        """Load the kubeconfig (or the in-cluster config) as kubectl would."""
        import yaml

        try:
            from kubernetes.client import ApiClient, Configuration
            from kubernetes.config.config_exception import ConfigException
        except ImportError as exc:  # the single file without its compiled part for this python3
            raise SourceError(f"cannot load the kubernetes client: {_one_line(exc)}") from None

        configuration = Configuration()
        context_name: str | None = None
        namespace: str | None = None
        paths = opts.kubeconfig or os.environ.get("KUBECONFIG") or os.path.expanduser("~/.kube/config")
        if opts.kubeconfig and not os.path.exists(os.path.expanduser(opts.kubeconfig)):
            raise SourceError(f"--kubeconfig {opts.kubeconfig}: no such file")
        existing = [p for p in paths.split(os.pathsep) if p and os.path.exists(os.path.expanduser(p))]
        try:
            if existing:
                from kubernetes.config.kube_config import KubeConfigLoader, KubeConfigMerger

                merged = KubeConfigMerger(os.pathsep.join(existing))  # type: ignore[no-untyped-call]
                if merged.config is None:
                    raise SourceError(f"kubeconfig {paths}: no configuration found")
                # kubectl: the first file that sets current-context wins (the client's
                # merger lets the last one win).
                first = next((c["current-context"] for c in (merged.config_files[p] for p in merged.paths)
                              if isinstance(c, dict) and c.get("current-context")), None)
                if first is not None and hasattr(merged.config, "value"):
                    merged.config.value["current-context"] = first
                loader = KubeConfigLoader(  # type: ignore[no-untyped-call]
                    config_dict=merged.config, active_context=opts.context, config_base_path=None)
                loader.load_and_set(configuration)  # type: ignore[no-untyped-call]
                current = loader.current_context
                context_name = str(current["name"])
                ctx = current["context"]
                # A plain dict for one file, a ConfigNode for a merged list.
                raw = ctx.value if hasattr(ctx, "value") else ctx
                namespace = raw.get("namespace") if isinstance(raw, dict) else None
            elif opts.context is None and os.environ.get("KUBERNETES_SERVICE_HOST"):
                from kubernetes.config.incluster_config import load_incluster_config

                load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
                try:
                    with open(SA_NAMESPACE_FILE, encoding="utf-8") as fh:
                        namespace = fh.read().strip() or None
                except OSError:
                    namespace = None
            else:
                raise SourceError("no cluster configured: no kubeconfig at " + paths
                                  + " (set KUBECONFIG or --kubeconfig, log in with oc login), and not running in "
                                  "a pod; or give the objects with -f FILE|DIR|-")
        except ConfigException as exc:
            raise SourceError(f"kubeconfig: {_one_line(exc)}") from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" (line {mark.line + 1})" if mark is not None else ""
            problem = getattr(exc, "problem", None) or "not valid YAML"
            raise SourceError(f"kubeconfig {paths}: not valid YAML: {problem}{where}") from None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            # Broken YAML, a missing certificate file, a failing exec plugin.
            raise SourceError(f"kubeconfig: {type(exc).__name__}: {_one_line(exc)}") from None
        configuration.retries = False  # we retry ourselves (below), with Retry-After
        configuration.connection_pool_maxsize = READERS + 2
        return cls(ApiClient(configuration), context_name, str(configuration.host), namespace, opts.request_timeout)

    # -- transport -------------------------------------------------------------

    def request(self, method: str, path: str, query: Mapping[str, str] | None = None, body: Any = None,
                timeout: float | None = None) -> Answer:
        """One API request, retried on 429/5xx/broken connections with backoff
        (Retry-After honoured, capped). Unreachable or unauthenticated: SourceError."""
        import urllib3
        from kubernetes.client.exceptions import ApiException

        url = self.server.rstrip("/") + path + (("?" + urlencode(query)) if query else "")
        headers = {"Accept": "application/json", "User-Agent": "kubectl-pullsecret"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        delay = 0.5
        for attempt in range(1, MAX_ATTEMPTS + 1):
            with self._lock:
                self.request_count += 1
            started = time.perf_counter()
            try:
                # The client adds the Authorization header (and refreshes exec/OIDC tokens).
                method_, full, hdrs, body_, _ = self.api.param_serialize(
                    method, path, query_params=list((query or {}).items()), header_params=headers,
                    body=body, auth_settings=["BearerToken"])
                response = self.api.call_api(method_, full, hdrs, body_, _request_timeout=timeout or self.timeout)
                data = response.read()
                answer = Answer(response.status, data or b"", dict(response.getheaders() or {}))
            except (urllib3.exceptions.ProtocolError, urllib3.exceptions.ReadTimeoutError,
                    urllib3.exceptions.ConnectTimeoutError, urllib3.exceptions.NewConnectionError,
                    urllib3.exceptions.MaxRetryError, urllib3.exceptions.SSLError, ApiException,
                    ConnectionError, TimeoutError, OSError) as exc:
                problem = _transport_problem(exc)
                log.debug("%s %s: %s (attempt %d)", method, url, problem, attempt)
                # A refused connection, DNS failure or TLS failure will not heal in seconds.
                if attempt == MAX_ATTEMPTS or not _transient(exc):
                    raise SourceError(f"cannot reach the cluster at {self.server}"
                                      f"{self._context_note()}: {problem}") from None
                time.sleep(_jitter(delay))
                delay *= 2
                continue
            log.debug("%s %s -> %d in %.0f ms", method, url, answer.status, (time.perf_counter() - started) * 1000)
            if answer.status == 401:
                raise SourceError(f"the cluster at {self.server}{self._context_note()} refused the credentials "
                                  f"(401 Unauthorized: {answer.reason()}); log in again (oc login, or refresh the "
                                  "kubeconfig token)")
            if answer.status in RETRY_STATUSES and attempt < MAX_ATTEMPTS:
                wait = _retry_after(answer.headers.get("Retry-After")) if answer.status in (429, 503) else None
                log.info("%s %s: %d, retrying in %.1f s", method, path, answer.status, wait or delay)
                time.sleep(wait if wait is not None else _jitter(delay))
                delay *= 2
                continue
            return answer
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def _context_note(self) -> str:
        return f" (context {self.context})" if self.context else ""

    def watch(self, kind: str, namespace: str | None, label_selector: str, resource_version: str,
              timeout: int) -> Iterable[Obj]:
        """One watch request: its events ({"type", "object"}) as the server sends them,
        until it ends the stream (after `timeout` seconds at the latest). A refused or
        failed watch yields one {"type": "ERROR"} event with the server's status."""
        import urllib3

        res = RESOURCES[kind]
        query = {"watch": "true", "labelSelector": label_selector, "resourceVersion": resource_version,
                 "timeoutSeconds": str(timeout), "allowWatchBookmarks": "false"}
        with self._lock:
            self.request_count += 1
        try:
            method, full, headers, body, _ = self.api.param_serialize(
                "GET", res.path(namespace), query_params=list(query.items()),
                header_params={"Accept": "application/json", "User-Agent": "kubectl-pullsecret"},
                auth_settings=["BearerToken"])
            response = self.api.call_api(method, full, headers, body, _request_timeout=(10.0, timeout + 10.0))
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            yield {"type": "ERROR", "object": {"code": 0, "message": _transport_problem(exc)}}
            return
        raw = response.response
        try:
            if response.status != 200:
                yield {"type": "ERROR", "object": Answer(response.status, response.read() or b"", {}).json()
                       or {"code": response.status, "message": f"HTTP {response.status}"}}
                return
            pending = b""
            for chunk in raw.stream(65536, decode_content=True):
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    if line.strip():
                        event = json.loads(line)
                        if isinstance(event, dict):
                            yield event
        except (urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
            yield {"type": "ERROR", "object": {"code": 0, "message": _transport_problem(exc)}}
        finally:
            raw.release_conn()

    # -- reads -------------------------------------------------------------------

    def discover_openshift(self) -> bool:
        """OpenShift from API discovery: its API groups are served."""
        answer = self.request("GET", "/apis")
        if answer.status != 200:
            raise SourceError(f"cannot read API discovery from {self.server}{self._context_note()}: "
                              f"{answer.reason()}")
        doc = answer.json()
        groups = {g.get("name") for g in (doc or {}).get("groups") or [] if isinstance(g, dict)}
        return bool(groups & OPENSHIFT_GROUPS)

    def list(self, kind: str, namespace: str | None, label_selector: str | None = None,
             field_selector: str | None = None) -> builtins.list[Obj] | Denied:
        """Every object of a kind (in a namespace, or all), page by page."""
        res = RESOURCES[kind]
        listed = self._paged(res, namespace, label_selector, field_selector, SourceError,
                             lambda item: _trim(item, kind, res))
        return self._refusal(listed, kind, namespace, None) if isinstance(listed, Answer) else listed

    def get(self, kind: str, namespace: str | None, name: str) -> Obj | Denied | None:
        res = RESOURCES[kind]
        got = self._object(res, namespace, name, SourceError)
        if isinstance(got, Answer):
            return self._refusal(got, kind, namespace, name)
        return _trim(got, kind, res) if got is not None else None

    def _paged(self, res: Resource, namespace: str | None, label_selector: str | None,
               field_selector: str | None, bad: Callable[[str], Exception],
               keep: Callable[[Obj], Obj]) -> builtins.list[Obj] | Answer:
        """Every item of a list, fetched PAGE_SIZE at a time (each kept through `keep` as
        its page arrives), or the first answer that is not 200. A continue token that
        expired (410: the list took longer than etcd keeps it) starts the list over once,
        as client-go's pager does. An answer that is not a list raises `bad`."""
        query: dict[str, str] = {"limit": str(PAGE_SIZE)}
        if label_selector:
            query["labelSelector"] = label_selector
        if field_selector:
            query["fieldSelector"] = field_selector
        path = res.path(namespace)
        items: builtins.list[Obj] = []
        restarted = False
        while True:
            answer = self.request("GET", path, query)
            if answer.status == 410 and "continue" in query and not restarted:
                items, restarted = [], True
                query.pop("continue")
                continue
            if answer.status != 200:
                return answer
            doc = answer.json()
            if not isinstance(doc, dict) or not isinstance(doc.get("items"), list):
                raise bad(f"{res.describe(namespace)}: the server's answer is not a list")
            items.extend(keep(item) for item in doc["items"] if isinstance(item, dict))
            token = (doc.get("metadata") or {}).get("continue")
            if not token:
                return items
            query["continue"] = token

    def _object(self, res: Resource, namespace: str | None, name: str,
                bad: Callable[[str], Exception]) -> Obj | Answer | None:
        """One object by name: None when absent (404), the answer when refused or
        failing. An answer that is not an object raises `bad`."""
        answer = self.request("GET", res.path(namespace, name))
        if answer.status == 404:
            return None
        if answer.status != 200:
            return answer
        doc = answer.json()
        if not isinstance(doc, dict):
            raise bad(f"{res.describe(namespace, name)}: the server's answer is not an object")
        return doc

    # -- whole objects, for writing back (fixes/) -----------------------------------

    def read(self, kind: str, namespace: str | None, name: str) -> Obj | None:
        """The object exactly as stored (never trimmed: it is written back), None if absent."""
        res = RESOURCES[kind]
        got = self._object(res, namespace, name, FixError)
        if isinstance(got, Answer):
            raise FixError(f"cannot read {res.describe(namespace, name)}: {got.reason()}"
                           + can_i_hint("get", res, namespace, got.status))
        return got

    def read_list(self, kind: str, namespace: str | None, label_selector: str | None = None) -> builtins.list[Obj]:
        """Every object of a kind, untrimmed (small lists only: the pods of one workload)."""
        res = RESOURCES[kind]
        listed = self._paged(res, namespace, label_selector, None, FixError, lambda item: item)
        if isinstance(listed, Answer):
            raise FixError(f"cannot list {res.describe(namespace)}: {listed.reason()}"
                           + can_i_hint("list", res, namespace, listed.status))
        return listed

    def write(self, method: str, kind: str, namespace: str | None, name: str | None, body: Any,
              dry_run: bool = False, subresource: str | None = None) -> Answer:
        """One write (POST/PUT/DELETE); `dry_run` sends dryRun=All (validated and admitted, not stored)."""
        res = RESOURCES[kind]
        path = res.path(namespace, name) + (f"/{subresource}" if subresource else "")
        return self.request(method, path, {"dryRun": "All"} if dry_run else None, body)

    def _refusal(self, answer: Answer, kind: str, namespace: str | None, name: str | None) -> Denied:
        """A read that did not succeed: refused (403), not served (404 on a list), or
        failing after the retries (5xx, or another error status)."""
        res = RESOURCES[kind]
        ns = namespace if res.namespaced else None
        if answer.status == 404 and name is None:
            # The API itself is not served (an OpenShift kind on an older cluster, a
            # disabled capability): nothing to read, which is not a permission problem.
            return Denied(kind, ns, None, NOT_SERVED, 404)
        return Denied(kind, ns, name, answer.reason(), answer.status)

    def failure(self, denied: Denied) -> SourceError:
        """The exit-3 error for a read that the run cannot do without."""
        res = RESOURCES.get(denied.kind)
        what = res.describe(denied.namespace, denied.name) if res else denied.kind
        return SourceError(f"cannot read {what} from {self.server}{self._context_note()}: {denied.reason}")

    def may_pull(self, sa_namespace: str, sa_name: str, project: str) -> bool | Denied:
        """SubjectAccessReview: may the SA `get imagestreams/layers` in `project`?
        (What the internal registry asks before serving a pull, DOMAIN.md §6.)"""
        review = {
            "apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
            "spec": {
                "user": f"system:serviceaccount:{sa_namespace}:{sa_name}",
                "groups": ["system:serviceaccounts", f"system:serviceaccounts:{sa_namespace}",
                           "system:authenticated"],
                "resourceAttributes": {"namespace": project, "verb": "get", "group": "image.openshift.io",
                                       "resource": "imagestreams", "subresource": "layers"},
            },
        }
        answer = self.request("POST", SAR.path(), body=review)
        if answer.status not in (200, 201):
            return Denied("SubjectAccessReview", None, None, answer.reason(), answer.status)
        doc = answer.json()
        status = (doc or {}).get("status") if isinstance(doc, dict) else None
        return bool(isinstance(status, dict) and status.get("allowed") is True)


def can_i_hint(verb: str, res: Resource, namespace: str | None, status: int, subresource: str | None = None) -> str:
    """For a 403: how to check the permission ('' for any other status)."""
    if status != 403:
        return ""
    ns = f" -n {namespace}" if namespace and res.namespaced else ""
    sub = f"/{subresource}" if subresource else ""
    return f" (check with: oc auth can-i {verb} {res.qualified}{sub}{ns})"


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300] or type(exc).__name__


def _cause(exc: BaseException) -> BaseException:
    """The error behind urllib3's MaxRetryError wrapper."""
    import urllib3

    while isinstance(exc, urllib3.exceptions.MaxRetryError) and exc.reason is not None:
        exc = exc.reason
    return exc


def _transport_problem(exc: BaseException) -> str:
    """A short cause for an exception from urllib3/ssl/socket."""
    text = _one_line(_cause(exc))
    lowered = text.lower()
    for needle, say in (("certificate verify failed", "TLS certificate not trusted"),
                        ("connection refused", "connection refused"),
                        ("name or service not known", "host name not found (DNS)"),
                        ("nodename nor servname", "host name not found (DNS)"),
                        ("temporary failure in name resolution", "host name not found (DNS)"),
                        ("timed out", "timed out"),
                        ("connection reset", "connection reset"),
                        ("remote end closed", "connection closed by the server")):
        if needle in lowered:
            return say
    return text


def _transient(exc: BaseException) -> bool:
    """Worth retrying: a connection dropped or reset mid-way (a restarting API server,
    a load balancer closing an idle connection). Not a refused connection, DNS or TLS
    failure, and not a timeout: --request-timeout is the user's bound per request."""
    import urllib3

    exc = _cause(exc)
    if isinstance(exc, (urllib3.exceptions.NewConnectionError, urllib3.exceptions.SSLError,
                        urllib3.exceptions.TimeoutError)):
        return False
    return isinstance(exc, (urllib3.exceptions.ProtocolError, ConnectionResetError, ConnectionAbortedError,
                            BrokenPipeError))


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return min(max(float(value), 0.0), MAX_RETRY_AFTER)
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff


def _jitter(delay: float) -> float:
    return delay * (0.8 + 0.4 * random.random())  # noqa: S311 - backoff spread, not security


# --- what to keep of each object -------------------------------------------------

_POD_SPEC_KEYS = ("serviceAccountName", "serviceAccount", "containers", "initContainers", "ephemeralContainers",
                  "imagePullSecrets", "nodeName")
_CONTAINER_KEYS = ("name", "image", "imagePullPolicy")


def _trim_spec(spec: Any) -> Any:
    if not isinstance(spec, dict):
        return spec
    out = {k: spec[k] for k in _POD_SPEC_KEYS if k in spec}
    for key in ("containers", "initContainers", "ephemeralContainers"):
        if isinstance(out.get(key), list):
            out[key] = [{k: c[k] for k in _CONTAINER_KEYS if k in c} if isinstance(c, dict) else c
                        for c in out[key]]
    return out


def _trim(obj: Obj, kind: str, res: Resource) -> Obj:
    """Keep what the checks read. List items come without kind/apiVersion; managedFields
    and, for pods, volumes, env, probes and resources are dropped: on a big cluster they
    are most of the bytes and none of the diagnosis."""
    obj.setdefault("kind", kind)
    obj.setdefault("apiVersion", res.api_version)
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        meta.pop("managedFields", None)
    if kind == "Pod":
        obj["spec"] = _trim_spec(obj.get("spec"))
        status = obj.get("status")
        if isinstance(status, dict):
            obj["status"] = {k: status[k] for k in ("phase", "containerStatuses", "initContainerStatuses")
                             if k in status}
    elif kind == "Secret" and obj.get("type") not in PULL_SECRET_TYPES:
        # Only pull-secret data is ever decoded; other secrets (tokens, TLS keys) keep
        # their key names (a wrong-type check reads them) and lose their values.
        data = obj.get("data")
        if isinstance(data, dict):
            obj["data"] = {k: (v if k in PULL_SECRET_KEYS else "") for k, v in data.items()}
    return obj


# --- the read plan ---------------------------------------------------------------

@dataclass(frozen=True)
class Read:
    """One read of the plan: a list (name None) or a get."""

    kind: str
    namespace: str | None  # None: cluster-wide list / cluster-scoped kind
    name: str | None = None
    label_selector: str | None = None
    field_selector: str | None = None
    primary: bool = False  # the subjects themselves: unreadable means nothing is diagnosed


@dataclass
class LoadResult:
    objects: dict[str, list[Obj]] = field(default_factory=dict)
    covered: set[tuple[str, str]] = field(default_factory=set)
    denied: list[Denied] = field(default_factory=list)
    primary_denied: bool = False


def load(cluster: Cluster, reads: Sequence[Read], then: Callable[[Obj], Iterable[Read]] | None = None,
         progress: Callable[[int, int, LoadResult], None] | None = None) -> LoadResult:
    """Run the reads concurrently. `then` maps an object read by a get to follow-up
    reads (the additionalTrustedCA ConfigMap named by image.config). `progress` is
    told (reads done, reads planned, the result so far) after each read."""
    result = LoadResult()
    lock = threading.Lock()
    counts = [0, len(reads)]  # done, planned

    def run(read: Read) -> list[Read]:
        if read.name is None:
            got: Any = cluster.list(read.kind, read.namespace, read.label_selector, read.field_selector)
        else:
            got = cluster.get(read.kind, read.namespace, read.name)
        follow: list[Read] = []
        if isinstance(got, Denied) and read.primary and got.status == 400 and read.label_selector:
            raise UsageError(f"-l {read.label_selector!r}: the API server rejected it: {got.reason}")
        if isinstance(got, Denied) and read.primary and got.status != 403:
            # The subjects themselves failed to load (not a refusal): nothing to diagnose.
            raise cluster.failure(got)
        with lock:
            if isinstance(got, Denied):
                if got.reason != NOT_SERVED:
                    result.denied.append(got)
                    result.primary_denied |= read.primary
                elif read.kind not in result.objects:
                    result.objects[read.kind] = []
            elif got is None:
                # A get that found nothing: that object is known to be absent, which
                # is what "missing" means (the global pull secret).
                result.covered.add((read.kind, read.namespace or "*"))
            elif isinstance(got, list):
                result.objects.setdefault(read.kind, []).extend(got)
                if not read.label_selector and not read.field_selector:
                    result.covered.add((read.kind, read.namespace or "*"))
            else:
                result.objects.setdefault(read.kind, []).append(got)
                if then is not None:
                    follow = list(then(got))
            counts[0] += 1
            counts[1] += len(follow)
            if progress is not None:
                progress(counts[0], counts[1], result)
        return follow

    pending = list(reads)
    with ThreadPoolExecutor(max_workers=READERS, thread_name_prefix="kube-read") as pool:
        while pending:
            batches = list(pool.map(run, pending))
            pending = [r for batch in batches for r in batch]
    return result


def review_access(cluster: Cluster, questions: Iterable[tuple[str, str, str]]) -> tuple[
        dict[tuple[str, str, str], bool | None], Denied | None]:
    """SubjectAccessReviews for (sa namespace, sa name, project), concurrently."""
    asked = sorted(set(questions))
    answers: dict[tuple[str, str, str], bool | None] = {}
    denied: Denied | None = None
    if not asked:
        return answers, None
    # The first review alone: a user who may not create reviews is told once, not
    # once per question.
    first = cluster.may_pull(*asked[0])
    if isinstance(first, Denied):
        return dict.fromkeys(asked), first
    answers[asked[0]] = first
    with ThreadPoolExecutor(max_workers=READERS, thread_name_prefix="kube-sar") as pool:
        for question, got in zip(asked[1:], pool.map(lambda q: cluster.may_pull(*q), asked[1:]), strict=True):
            if isinstance(got, Denied):
                denied, answers[question] = got, None
            else:
                answers[question] = got
    return answers, denied
