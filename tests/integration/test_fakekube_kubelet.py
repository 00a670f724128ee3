"""The simulated kubelet of tests/fakekube: node-probe pods run end to end through the real `kubernetes` client."""

from __future__ import annotations

import base64
import io
import json
import os
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes import watch as k8s_watch
from kubernetes.client.exceptions import ApiException

from tests.fakekube import FakeKube, SimKubelet, role_binding, user

Obj = dict[str, Any]
T = TypeVar("T")
NS = "probes"
LABEL = "app.kubernetes.io/name=pullsecret-node-probe"
IMAGE = "registry.access.redhat.com/ubi9/python-312:latest"
WAIT = 15.0  # generous: a loaded 2-core machine


def wait_for(what: str, fn: Callable[[], T | None], timeout: float = WAIT) -> T:
    """Poll fn until it returns something truthy; fail with `what` after timeout."""
    end = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > end:
            pytest.fail(f"timed out waiting for {what} (last: {value!r})")
        time.sleep(0.02)


# -- objects ---------------------------------------------------------------------------------------------

def labels(run: str) -> Obj:
    return {"app.kubernetes.io/name": "pullsecret-node-probe", "app.kubernetes.io/managed-by": "kubectl-pullsecret",
            "pullsecret.kubectl.io/run": run}


def probe_pod(name: str, node: str, command: list[str], *, volumes: list[Obj] | None = None,
              mounts: list[Obj] | None = None, deadline: int = 150, run: str = "r1") -> Obj:
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": NS, "labels": labels(run)},
        "spec": {"nodeName": node, "hostNetwork": True, "dnsPolicy": "Default", "restartPolicy": "Never",
                 "activeDeadlineSeconds": deadline, "tolerations": [{"operator": "Exists"}],
                 "containers": [{"name": "probe", "image": IMAGE, "command": command,
                                 "env": [{"name": "PYTHONDONTWRITEBYTECODE", "value": "1"}],
                                 "volumeMounts": mounts or []}],
                 "volumes": volumes or []},
    }


def code_volume(cm: str = "code") -> Obj:
    return {"name": "code", "configMap": {"name": cm}}


def host_volume(name: str, path: str, kind: str) -> Obj:
    return {"name": name, "hostPath": {"path": path, "type": kind}}


def mount(name: str, path: str) -> Obj:
    return {"name": name, "mountPath": path, "readOnly": True}


def py(script: str) -> list[str]:
    return ["python3", "-c", script]


# -- fixtures --------------------------------------------------------------------------------------------

@pytest.fixture
def fake() -> Iterator[FakeKube]:
    with FakeKube() as api:
        api.add({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
        api.add({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": NS}})
        yield api


@pytest.fixture
def node_root(tmp_path: Path) -> Path:
    root = tmp_path / "node-a"
    (root / "etc/containers/certs.d/reg.example:5000").mkdir(parents=True)
    (root / "etc/hello").write_text("hello from node-a\n")
    (root / "etc/containers/certs.d/reg.example:5000/ca.crt").write_text("CA PEM\n")
    (root / "var/lib/kubelet").mkdir(parents=True)
    (root / "var/lib/kubelet/config.json").write_text('{"auths": {"reg.example:5000": {}}}')
    (root / "out").mkdir()
    return root


@pytest.fixture
def kubelet(fake: FakeKube, node_root: Path, tmp_path: Path) -> SimKubelet:
    sim = fake.kubelet()
    sim.add_node("node-a", root=node_root, labels={"node-role.kubernetes.io/worker": ""})
    (tmp_path / "node-d/etc").mkdir(parents=True)  # no /var/lib/kubelet/config.json
    sim.add_node("node-d", root=tmp_path / "node-d")
    return sim


@pytest.fixture
def v1(fake: FakeKube, tmp_path: Path) -> Iterator[k8s.CoreV1Api]:
    api_client = k8s_config.new_client_from_config(config_file=str(fake.kubeconfig(tmp_path / "kubeconfig")))
    try:
        yield k8s.CoreV1Api(api_client)
    finally:
        api_client.close()


def create(v1: k8s.CoreV1Api, obj: Obj) -> None:
    kind = obj["kind"]
    if kind == "Pod":
        v1.create_namespaced_pod(NS, obj)
    elif kind == "ConfigMap":
        v1.create_namespaced_config_map(NS, obj)
    elif kind == "Secret":
        v1.create_namespaced_secret(NS, obj)
    else:
        raise AssertionError(kind)


def pod_status(v1: k8s.CoreV1Api, name: str) -> Obj:
    out: Obj = v1.api_client.sanitize_for_serialization(v1.read_namespaced_pod(name, NS)).get("status") or {}
    return out


def finished(v1: k8s.CoreV1Api, name: str) -> Obj | None:
    status = pod_status(v1, name)
    return status if status.get("phase") in ("Succeeded", "Failed") else None


def log_error(v1: k8s.CoreV1Api, name: str) -> tuple[int, str]:
    with pytest.raises(ApiException) as e:
        v1.read_namespaced_pod_log(name, NS)
    return int(e.value.status), str(json.loads(e.value.body)["message"])


def configmap(name: str, data: dict[str, str] | None = None, binary: dict[str, bytes] | None = None) -> Obj:
    obj: Obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": NS}}
    if data:
        obj["data"] = data
    if binary:
        obj["binaryData"] = {k: base64.b64encode(v).decode() for k, v in binary.items()}
    return obj


def secret(name: str, data: dict[str, bytes]) -> Obj:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": NS}, "type": "Opaque",
            "data": {k: base64.b64encode(v).decode() for k, v in data.items()}}


X_PY = """\
import os, sys
sys.stdout.reconfigure(line_buffering=True)  # stdout is a pipe, as in a container: flush so the order is kept
for path in sys.argv[1:]:
    with open(path) as f:
        print(path.rsplit("/", 1)[-1] + ": " + f.read().strip())
print("to stderr", file=sys.stderr, flush=True)
print("cwd-is-home", os.getcwd() == os.environ["HOME"], os.environ.get("PYTHONDONTWRITEBYTECODE"))
"""


# -- tests -----------------------------------------------------------------------------------------------

def test_pod_runs_with_volumes_and_its_log_is_served(fake: FakeKube, kubelet: SimKubelet, v1: k8s.CoreV1Api) -> None:
    create(v1, configmap("code", data={"x.py": X_PY}))
    create(v1, secret("creds", {"s.txt": b"s3cret"}))
    volumes = [code_volume(), {"name": "sec", "secret": {"secretName": "creds"}}, host_volume("etc", "/etc", "Directory")]
    mounts = [mount("code", "/opt/code"), mount("sec", "/run/secret"), mount("etc", "/host/etc")]
    create(v1, probe_pod("p-ok", "node-a", ["python3", "/opt/code/x.py", "/host/etc/hello", "/run/secret/s.txt"],
                         volumes=volumes, mounts=mounts))
    status = wait_for("p-ok to finish", lambda: finished(v1, "p-ok"))
    assert status["phase"] == "Succeeded"
    assert status["startTime"]
    cs = status["containerStatuses"][0]
    assert cs["name"] == "probe" and cs["image"] == IMAGE and cs["ready"] is False
    term = cs["state"]["terminated"]
    assert term["exitCode"] == 0 and term["reason"] == "Completed" and term["startedAt"] and term["finishedAt"]
    log = v1.read_namespaced_pod_log("p-ok", NS)
    assert log.splitlines() == ["hello: hello from node-a", "s.txt: s3cret", "to stderr", "cwd-is-home True 1"]
    assert kubelet.runs == [("node-a", "p-ok")]
    assert kubelet.running() == []
    logged = [r for r in fake.requests if r.path == f"/api/v1/namespaces/{NS}/pods/p-ok/log"]
    assert [(r.method, r.user, r.status) for r in logged] == [("GET", "admin", 200)]


def test_contract_pod_runs_a_zipapp_with_host_root(kubelet: SimKubelet, v1: k8s.CoreV1Api, node_root: Path) -> None:
    """The product's pod shape: probe.pyz from binaryData (items), job.json from a secret (items), --host /host
    with only /host/etc and /host/var/lib/kubelet/config.json mounted."""
    main = """\
import json, os, sys
args = dict(zip(sys.argv[2::2], sys.argv[3::2]))
job = json.load(open(args["--job"]))
host = args["--host"]
print("node", args["--node"], "job", job["id"], "argv1", sys.argv[1])
print(open(os.path.join(host, "var/lib/kubelet/config.json")).read())
print(sorted(os.listdir(os.path.join(host, "etc/containers/certs.d"))))
"""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("__main__.py", main)
    create(v1, configmap("pullsecret-probe-r1", data={"README": "not mounted"}, binary={"probe.pyz": buf.getvalue()}))
    create(v1, secret("pullsecret-probe-r1", {"job.json": b'{"id": "job-1"}', "other": b"x"}))
    volumes = [{"name": "code", "configMap": {"name": "pullsecret-probe-r1", "items": [{"key": "probe.pyz",
                                                                                        "path": "probe.pyz"}]}},
               {"name": "job", "secret": {"secretName": "pullsecret-probe-r1",
                                          "items": [{"key": "job.json", "path": "job.json"}]}},
               host_volume("kubelet-config", "/var/lib/kubelet/config.json", "File"),
               host_volume("host-etc", "/etc", "Directory")]
    mounts = [mount("code", "/opt/pullsecret"), mount("job", "/run/pullsecret"),
              mount("kubelet-config", "/host/var/lib/kubelet/config.json"), mount("host-etc", "/host/etc")]
    command = ["python3", "/opt/pullsecret/probe.pyz", "node-probe", "--job", "/run/pullsecret/job.json",
               "--node", "node-a", "--host", "/host"]
    create(v1, probe_pod("pullsecret-probe-r1-0", "node-a", command, volumes=volumes, mounts=mounts))
    status = wait_for("the probe to finish", lambda: finished(v1, "pullsecret-probe-r1-0"))
    log = v1.read_namespaced_pod_log("pullsecret-probe-r1-0", NS)
    assert status["phase"] == "Succeeded", log
    assert log.splitlines() == ["node node-a job job-1 argv1 node-probe", '{"auths": {"reg.example:5000": {}}}',
                                "['reg.example:5000']"]


def test_failing_command_fails_with_its_exit_code(kubelet: SimKubelet, v1: k8s.CoreV1Api) -> None:
    create(v1, probe_pod("p-fail", "node-a", py("import sys; print('boom'); sys.exit(3)")))
    status = wait_for("p-fail to finish", lambda: finished(v1, "p-fail"))
    assert status["phase"] == "Failed"
    term = status["containerStatuses"][0]["state"]["terminated"]
    assert (term["exitCode"], term["reason"]) == (3, "Error")
    assert v1.read_namespaced_pod_log("p-fail", NS) == "boom\n"
    create(v1, probe_pod("p-noexec", "node-a", ["/no/such/binary"]))
    status = wait_for("p-noexec to finish", lambda: finished(v1, "p-noexec"))
    term = status["containerStatuses"][0]["state"]["terminated"]
    assert (status["phase"], term["exitCode"], term["reason"]) == ("Failed", 128, "StartError")


def test_stuck_node_keeps_the_container_waiting(fake: FakeKube, kubelet: SimKubelet, v1: k8s.CoreV1Api,
                                                tmp_path: Path) -> None:
    kubelet.add_node("node-c", root=tmp_path / "node-c", stuck_reason="ImagePullBackOff")
    create(v1, probe_pod("p-stuck", "node-c", py("print('never')")))

    def stuck() -> Obj | None:
        cs = (pod_status(v1, "p-stuck").get("containerStatuses") or [{}])[0]
        return cs if (cs.get("state") or {}).get("waiting", {}).get("reason") == "ImagePullBackOff" else None

    cs = wait_for("ImagePullBackOff", stuck)
    assert cs["state"]["waiting"]["message"] == f'Back-off pulling image "{IMAGE}"'
    assert pod_status(v1, "p-stuck")["phase"] == "Pending"
    assert log_error(v1, "p-stuck") == (400, 'container "probe" in pod "p-stuck" is waiting to start: ImagePullBackOff')
    assert kubelet.runs == [("node-c", "p-stuck")] and kubelet.running() == []
    assert fake.requests[-1].status == 400
    with pytest.raises(ApiException) as e:
        v1.read_namespaced_pod_log("nope", NS)
    assert e.value.status == 404


def test_missing_file_host_path_leaves_the_pod_creating(kubelet: SimKubelet, v1: k8s.CoreV1Api) -> None:
    volumes = [host_volume("kubelet-config", "/var/lib/kubelet/config.json", "File")]
    create(v1, probe_pod("p-mount", "node-d", py("print('never')"), volumes=volumes,
                         mounts=[mount("kubelet-config", "/host/var/lib/kubelet/config.json")]))

    def failed_mount() -> list[Any]:
        return list(v1.list_namespaced_event(NS, field_selector="involvedObject.name=p-mount").items)

    events = wait_for("a FailedMount event", failed_mount)
    ev = events[0]
    assert (ev.reason, ev.type, ev.involved_object.kind, ev.involved_object.namespace) == (
        "FailedMount", "Warning", "Pod", NS)
    assert ev.involved_object.uid == v1.read_namespaced_pod("p-mount", NS).metadata.uid
    assert ev.message == ('MountVolume.SetUp failed for volume "kubelet-config" : hostPath type check failed: '
                          "/var/lib/kubelet/config.json is not a file")
    status = pod_status(v1, "p-mount")
    assert status["phase"] == "Pending"
    assert status["containerStatuses"][0]["state"]["waiting"]["reason"] == "ContainerCreating"
    assert log_error(v1, "p-mount") == (400, 'container "probe" in pod "p-mount" is waiting to start: ContainerCreating')


def test_active_deadline_kills_the_process(kubelet: SimKubelet, v1: k8s.CoreV1Api) -> None:
    create(v1, probe_pod("p-slow", "node-a", py("import time; print('sleeping', flush=True); time.sleep(60)"),
                         deadline=1))
    wait_for("p-slow to run", lambda: "p-slow" in kubelet.running())
    status = wait_for("the deadline", lambda: finished(v1, "p-slow"))
    assert (status["phase"], status["reason"]) == ("Failed", "DeadlineExceeded")
    assert status["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 137
    assert kubelet.running() == []
    assert v1.read_namespaced_pod_log("p-slow", NS) == "sleeping\n"


def test_deleting_a_running_pod_kills_it(fake: FakeKube, kubelet: SimKubelet, v1: k8s.CoreV1Api,
                                         node_root: Path) -> None:
    script = ("import os, sys, time; d = sys.argv[1]; open(d + '/started', 'w').write(f'{os.getpid()} {os.getcwd()}');"
              "time.sleep(2.0); open(d + '/after', 'w').write('x')")
    create(v1, probe_pod("p-del", "node-a", ["python3", "-c", script, "/data"],
                         volumes=[host_volume("out", "/out", "Directory")], mounts=[{"name": "out", "mountPath": "/data"}]))
    started = node_root / "out/started"
    wait_for("the started file", lambda: started.exists() and started.read_text())
    pid_text, cwd = started.read_text().split(" ", 1)
    t0 = time.monotonic()
    v1.delete_namespaced_pod("p-del", NS)
    wait_for("the process to die", lambda: "p-del" not in kubelet.running())
    assert time.monotonic() - t0 < 1.5  # the process sleeps 2 s: killed well before that (~0.2 s when idle)

    def dead() -> bool:
        try:
            os.kill(int(pid_text), 0)
        except ProcessLookupError:
            return True
        return False

    wait_for("the pid to be gone", dead)
    wait_for("the pod dir to be removed", lambda: not Path(cwd).exists())
    # when the process would have written its second file, nothing was written and the pod stays deleted
    wait_for("2.5 s after the delete", lambda: time.monotonic() - t0 > 2.5)
    assert not (node_root / "out/after").exists()
    assert fake.get_object("Pod", NS, "p-del") is None


def test_watch_sees_added_then_modified_up_to_succeeded(fake: FakeKube, kubelet: SimKubelet,
                                                        v1: k8s.CoreV1Api) -> None:
    seen: list[tuple[str, str, int]] = []
    done = threading.Event()

    def watch() -> None:
        w = k8s_watch.Watch()
        for ev in w.stream(v1.list_namespaced_pod, NS, label_selector=LABEL + ",pullsecret.kubectl.io/run=w1",
                           timeout_seconds=int(WAIT)):
            pod = ev["object"]
            seen.append((ev["type"], pod.status.phase if pod.status else "", int(pod.metadata.resource_version)))
            if pod.status and pod.status.phase in ("Succeeded", "Failed"):
                w.stop()
        done.set()

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    wait_for("the watch request", lambda: any(r.query.get("watch") == "true" for r in fake.requests))
    create(v1, probe_pod("p-watch", "node-a", py("print('hi')"), run="w1"))
    create(v1, probe_pod("p-other", "node-a", py("print('other')"), run="w2"))  # not selected
    assert done.wait(WAIT), seen
    types = [t for t, _, _ in seen]
    phases = [p for _, p, _ in seen]
    assert types[0] == "ADDED" and set(types[1:]) == {"MODIFIED"}, seen
    assert phases[0] == "Pending" and "Running" in phases and phases[-1] == "Succeeded", seen
    rvs = [rv for _, _, rv in seen]
    assert rvs == sorted(rvs) and len(set(rvs)) == len(rvs)


def test_start_delay_delays_running(kubelet: SimKubelet, v1: k8s.CoreV1Api, tmp_path: Path) -> None:
    kubelet.add_node("node-b", root=tmp_path / "node-b", start_delay=1.0)
    t0 = time.monotonic()
    create(v1, probe_pod("p-late", "node-b", py("print('late')")))
    phases: list[str] = []

    def running() -> bool:
        phases.append(pod_status(v1, "p-late").get("phase") or "")
        return phases[-1] != "Pending"

    wait_for("p-late to leave Pending", running)
    assert time.monotonic() - t0 >= 1.0
    assert "Pending" in phases  # seen waiting first
    status = wait_for("p-late to finish", lambda: finished(v1, "p-late"))
    assert status["phase"] == "Succeeded"
    assert v1.read_namespaced_pod_log("p-late", NS) == "late\n"


def test_pods_run_concurrently(kubelet: SimKubelet, v1: k8s.CoreV1Api, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    gate.mkdir()
    for n in "xyz":
        kubelet.add_node(f"node-{n}", root=gate)
    script = ("import os, sys, time\nwhile not os.path.exists(sys.argv[1] + '/go'): time.sleep(0.02)\n"
              "print('released')")
    for n in "xyz":
        create(v1, probe_pod(f"p-{n}", f"node-{n}", ["python3", "-c", script, "/gate"],
                             volumes=[host_volume("gate", "/", "Directory")], mounts=[mount("gate", "/gate")]))
    wait_for("three processes at once", lambda: sorted(kubelet.running()) == ["p-x", "p-y", "p-z"])
    assert sorted(kubelet.runs) == [("node-x", "p-x"), ("node-y", "p-y"), ("node-z", "p-z")]
    (gate / "go").write_text("")
    for n in "xyz":
        assert wait_for(f"p-{n}", lambda n=n: finished(v1, f"p-{n}"))["phase"] == "Succeeded"  # type: ignore[misc]
        assert v1.read_namespaced_pod_log(f"p-{n}", NS) == "released\n"


def test_pod_log_needs_rbac_on_the_subresource(fake: FakeKube, kubelet: SimKubelet, v1: k8s.CoreV1Api,
                                               tmp_path: Path) -> None:
    create(v1, probe_pod("p-rbac", "node-a", py("print('secret output')")))
    wait_for("p-rbac to finish", lambda: finished(v1, "p-rbac"))
    fake.add({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
              "metadata": {"name": "pods-only", "namespace": NS},
              "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]})
    fake.add(role_binding("bob-pods", NS, "pods-only", [user("bob")], role_kind="Role"))
    fake.add_user("bob", "bob-token")
    bob = k8s_config.new_client_from_config(config_file=str(fake.kubeconfig(tmp_path / "bob", user="bob")))
    try:
        with pytest.raises(ApiException) as e:
            k8s.CoreV1Api(bob).read_namespaced_pod_log("p-rbac", NS)
        assert e.value.status == 403
        assert 'cannot get resource "pods/log"' in json.loads(e.value.body)["message"]
        assert fake.requests[-1].user == "bob" and fake.requests[-1].status == 403
    finally:
        bob.close()


def test_unhandled_pods_keep_the_default_log(fake: FakeKube, kubelet: SimKubelet, v1: k8s.CoreV1Api) -> None:
    plain = probe_pod("p-plain", "node-a", py("print('x')"))
    plain["metadata"]["labels"] = {"app": "other"}
    create(v1, plain)
    create(v1, probe_pod("p-elsewhere", "node-unknown", py("print('x')")))
    create(v1, probe_pod("p-seen", "node-a", py("print('x')")))
    wait_for("p-seen to finish", lambda: finished(v1, "p-seen"))
    assert kubelet.runs == [("node-a", "p-seen")]
    assert v1.read_namespaced_pod_log("p-plain", NS) == ""
    assert v1.read_namespaced_pod_log("p-elsewhere", NS) == ""
    assert pod_status(v1, "p-plain")["phase"] == "Pending"


def test_stopping_fakekube_kills_the_pods(tmp_path: Path) -> None:
    fake = FakeKube().start()
    try:
        fake.add({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
        kubelet = fake.kubelet()
        assert fake.kubelet() is kubelet
        kubelet.add_node("node-a", root=tmp_path)
        fake.add(probe_pod("p-long", "node-a", py("import time; time.sleep(60)")))
        wait_for("p-long to run", lambda: kubelet.running() == ["p-long"])
    finally:
        fake.stop()
    assert kubelet.running() == []
    assert fake.get_object("Pod", NS, "p-long")["status"]["phase"] == "Running"  # type: ignore[index]


def test_log_follow_and_tail_lines(kubelet: SimKubelet, v1: k8s.CoreV1Api, node_root: Path) -> None:
    script = ("import os, sys, time\nprint('one', flush=True)\nwhile not os.path.exists(sys.argv[1] + '/go'): "
              "time.sleep(0.02)\nprint('two')\nprint('three')")
    create(v1, probe_pod("p-follow", "node-a", ["python3", "-c", script, "/data"],
                         volumes=[host_volume("out", "/out", "Directory")], mounts=[mount("out", "/data")]))
    wait_for("the first line", lambda: kubelet.log(NS, "p-follow") == b"one\n")
    stream = v1.read_namespaced_pod_log("p-follow", NS, follow=True, _preload_content=False)
    try:
        assert stream.read(4) == b"one\n"  # answered while the container runs
        (node_root / "out/go").write_text("")
        assert stream.read() == b"two\nthree\n"  # and the stream ends when it exits
    finally:
        stream.release_conn()
    assert wait_for("p-follow to finish", lambda: finished(v1, "p-follow"))["phase"] == "Succeeded"
    assert v1.read_namespaced_pod_log("p-follow", NS, tail_lines=2) == "two\nthree\n"
    assert v1.read_namespaced_pod_log("p-follow", NS, limit_bytes=5) == "one\nt"
