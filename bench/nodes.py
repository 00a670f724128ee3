#!/usr/bin/env python3
"""`doctor --from-nodes` fan-out: wall time against --max-parallel, and API requests
against the node count.

Scenario: fakekube (OpenShift) with N simulated nodes (tests/fakekube/kubelet.py: each
probe pod's command really runs on this machine, its volumes mapped, the node's "host"
paths from a per-node directory), one pod per node pulling 127.0.0.1:PORT/acme/web:1.0
from the real docker-registry (Debian package; htpasswd auth) with one pull secret, and
every node trusting the registry's CA through /etc/docker/certs.d/<host:port>/ca.crt.
Each simulated kubelet waits --start-delay seconds before starting a container (what a
real kubelet spends creating the sandbox and starting the container; the probe image is
taken as already present on the nodes).

For each case the script runs, as a subprocess, from the repository root:

    python -m kubectl_pullsecret doctor --kubeconfig KC -n bench --from-nodes --yes \
        --max-parallel P --registry-ca-file CA -o json

checks that every node reports status ok and every node probe is `ok` (exit non-zero
otherwise), and counts the API requests fakekube received during the run, split into
the node phase (requests to the probe namespace, to nodes, and the namespace itself)
and the rest (doctor's own reads).

Usage (repository root, venv active):

    python bench/nodes.py [--nodes 50] [--parallel 1,2,5,10,25,50] [--scale 10,25,50]
                          [--scale-parallel 10] [--start-delay 1.0] [--json]

Two tables: wall time versus --max-parallel at --nodes nodes, and requests versus the
node count (--scale) at --scale-parallel. It takes about five minutes by default.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fakekube import FakeKube  # noqa: E402
from tests.integration.registry_env import ALICE, make_pki, start_registry_env  # noqa: E402

NS = "bench"
PROBE_NS = "kubectl-pullsecret-probe"


def _auth(user: str, password: str) -> dict[str, str]:
    return {"auth": base64.b64encode(f"{user}:{password}".encode()).decode()}


def _secret(name: str, ns: str, auths: dict[str, Any]) -> dict[str, Any]:
    data = base64.b64encode(json.dumps({"auths": auths}).encode()).decode()
    return {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockerconfigjson",
            "metadata": {"name": name, "namespace": ns}, "data": {".dockerconfigjson": data}}


def _case(tmp: Path, registry: str, ca_file: str, nodes: int, parallel: int, delay: float) -> dict[str, Any]:
    ca = Path(ca_file).read_text()
    global_auths = {"quay.io": _auth("bot", "bench-pw")}
    case_dir = Path(tempfile.mkdtemp(prefix=f"{nodes}-{parallel}-", dir=tmp))
    with FakeKube(openshift=True) as api:
        api.add_all([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}},
                     {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": NS}},
                     _secret("regcred", NS, {registry: _auth(*ALICE)}),
                     _secret("pull-secret", "openshift-config", global_auths)])
        kubelet = api.kubelet()
        for i in range(nodes):
            name = f"node-{i:03d}"
            root = case_dir / name
            (root / "var/lib/kubelet").mkdir(parents=True)
            (root / "var/lib/kubelet/config.json").write_text(json.dumps({"auths": global_auths}))
            (root / "etc/docker/certs.d" / registry).mkdir(parents=True)
            (root / "etc/docker/certs.d" / registry / "ca.crt").write_text(ca)
            kubelet.add_node(name, root=root, start_delay=delay)
            api.add({"apiVersion": "v1", "kind": "Pod",
                     "metadata": {"name": f"web-{i:03d}", "namespace": NS, "uid": f"u{i}",
                                  "creationTimestamp": "2026-11-01T00:00:00Z"},
                     "spec": {"nodeName": name, "imagePullSecrets": [{"name": "regcred"}],
                              "containers": [{"name": "web", "image": f"{registry}/acme/web:1.0"}]},
                     "status": {"phase": "Running"}})
        kc = api.kubeconfig(case_dir / "kubeconfig", namespace=NS)
        api.clear_log()
        started = time.perf_counter()
        run = subprocess.run([sys.executable, "-m", "kubectl_pullsecret", "doctor", "--kubeconfig", str(kc),
                              "--from-nodes", "--yes", "--max-parallel", str(parallel), "--registry-ca-file",
                              ca_file, "--node-timeout", "300", "-o", "json"],
                             cwd=ROOT, capture_output=True, text=True, timeout=1800)
        wall = time.perf_counter() - started
        requests = api.requests
        if run.returncode not in (0, 1):
            raise SystemExit(f"doctor failed ({run.returncode}): {run.stderr[-2000:]}")
        doc = json.loads(run.stdout)
        bad = [n for n in doc["nodes"] if n["status"] != "ok"]
        outcomes = {p["outcome"] for i in doc["images"] for p in i.get("nodeProbes", [])}
        if bad or outcomes != {"ok"} or len(doc["nodes"]) != nodes:
            raise SystemExit(f"unexpected result: bad nodes {bad[:3]}, outcomes {outcomes}")
        node_phase = [r for r in requests if f"/namespaces/{PROBE_NS}" in r.path or r.path.startswith("/api/v1/nodes")
                      or (r.method == "POST" and r.path == "/api/v1/namespaces")]
        pods = sum(1 for r in node_phase if r.method == "POST" and r.path.endswith("/pods"))
        result = {"nodes": nodes, "parallel": parallel, "wall_s": round(wall, 2), "requests": len(requests),
                  "node_phase_requests": len(node_phase), "pods_created": pods,
                  "per_node": round(len(node_phase) / nodes, 2),
                  "watches": sum(1 for r in node_phase if r.query.get("watch") == "true")}
        print(f"  {result}", file=sys.stderr)
        return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=50)
    parser.add_argument("--parallel", default="1,2,5,10,25,50")
    parser.add_argument("--scale", default="10,25,50")
    parser.add_argument("--scale-parallel", type=int, default=10)
    parser.add_argument("--start-delay", type=float, default=1.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        (tmp / "pki").mkdir()
        env = start_registry_env(make_pki(tmp / "pki"))
        try:
            by_parallel = [_case(tmp, env.basic, env.ca_file, args.nodes, int(p), args.start_delay)
                           for p in args.parallel.split(",")]
            by_nodes = [_case(tmp, env.basic, env.ca_file, int(n), args.scale_parallel, args.start_delay)
                        for n in args.scale.split(",")]
        finally:
            env.stop()
    if args.json:
        print(json.dumps({"by_parallel": by_parallel, "by_nodes": by_nodes}, indent=2))
        return 0
    print(f"{args.nodes} nodes, start delay {args.start_delay:g}s per pod; wall time versus --max-parallel\n")
    print("| --max-parallel | wall (s) | API requests (node phase) | per node | watch requests |")
    print("|---:|---:|---:|---:|---:|")
    for c in by_parallel:
        print(f"| {c['parallel']} | {c['wall_s']} | {c['node_phase_requests']} | {c['per_node']} | {c['watches']} |")
    print(f"\n--max-parallel {args.scale_parallel}; API requests versus nodes\n")
    print("| nodes | wall (s) | API requests (node phase) | per node | all requests of the run |")
    print("|---:|---:|---:|---:|---:|")
    for c in by_nodes:
        print(f"| {c['nodes']} | {c['wall_s']} | {c['node_phase_requests']} | {c['per_node']} | {c['requests']} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
