#!/usr/bin/env python3
"""Scale: `doctor -A --no-probe` against `kubectl get pods,serviceaccounts,secrets -A -o json`
on the same fake API server (tests/fakekube, in its own process) loaded with a large cluster.

SPEC quality bar, 20,000 pods in 2,000 namespaces: doctor's wall time <= 0.5x and peak
memory <= 1.0x kubectl's. Requests must not grow with the pod count beyond pagination:
the run is repeated on a cluster a tenth the size and the request counts compared.

Usage: python bench/scale.py [--pods 20000] [--namespaces 2000] [--runs 3]
(from the repository root; needs kubectl on PATH and the package's dependencies)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


class Server:
    """tests/fakekube in its own process, serving one loaded cluster."""

    def __init__(self, objects_file: Path, kubeconfig: Path) -> None:
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.fakekube", "--load", str(objects_file), "--kubeconfig", str(kubeconfig)],
            cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().split()
        if not line or line[0] != "ready":
            raise SystemExit("the fake API server did not start")
        self.url = line[1]
        self._ctx = ssl.create_default_context()
        self._ctx.check_hostname = False
        self._ctx.verify_mode = ssl.CERT_NONE

    def request_count(self) -> int:
        with urllib.request.urlopen(self.url + "/fakekube/requests", context=self._ctx) as resp:  # noqa: S310
            data: dict[str, Any] = json.load(resp)
        return int(data["count"])

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def measure(cmd: list[str], server: Server, env: dict[str, str]) -> tuple[float, float, int, int]:
    """(wall seconds, peak RSS MiB, requests, exit code) of one run."""
    before = server.request_count()
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    requests = server.request_count() - before  # (the count endpoint is not logged)
    return wall, usage.ru_maxrss / 1024, requests, proc.returncode


def run_size(pods: int, namespaces: int, runs: int, workdir: Path) -> dict[str, dict[str, float]]:
    # Generated in a child process: a forked child starts with its parent's resident
    # pages, and ru_maxrss would count a big parent's memory against the commands.
    data = workdir / f"cluster-{pods}.json"
    subprocess.run([sys.executable, str(Path(__file__).resolve().parent / "cluster.py"), "--pods", str(pods),
                    "--namespaces", str(namespaces), "--out", str(data)], check=True)
    kubeconfig = workdir / f"kubeconfig-{pods}"
    server = Server(data, kubeconfig)
    env = dict(os.environ, KUBECONFIG=str(kubeconfig), PYTHONPATH=str(ROOT))
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # measure as installed: bytecode cached
    # kubectl caches discovery under ~/.kube/cache: a private HOME per size keeps runs equal.
    env["HOME"] = str(workdir / f"home-{pods}")
    cases = {
        "kubectl get pods,serviceaccounts,secrets -A -o json":
            ["kubectl", "get", "pods,serviceaccounts,secrets", "-A", "-o", "json"],
        "kubectl-pullsecret doctor -A --no-probe":
            [sys.executable, "-m", "kubectl_pullsecret", "doctor", "-A", "--no-probe"],
        "kubectl-pullsecret doctor -A --no-probe -o json":
            [sys.executable, "-m", "kubectl_pullsecret", "doctor", "-A", "--no-probe", "-o", "json"],
    }
    results: dict[str, dict[str, float]] = {}
    try:
        for name, cmd in cases.items():
            measure(cmd, server, env)  # warm-up: page cache, kubectl discovery cache, bytecode
            samples = [measure(cmd, server, env) for _ in range(runs)]
            results[name] = {
                "wall": statistics.median(s[0] for s in samples),
                "rss": max(s[1] for s in samples),
                "requests": samples[-1][2],
                "rc": samples[-1][3],
            }
    finally:
        server.close()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pods", type=int, default=20000)
    parser.add_argument("--namespaces", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if shutil.which("kubectl") is None:
        raise SystemExit("kubectl is not on PATH")
    sizes = [(args.pods // 10, max(args.namespaces // 10, 1)), (args.pods, args.namespaces)]
    with tempfile.TemporaryDirectory(prefix="pullsecret-scale-") as tmp:
        by_size = {pods: run_size(pods, ns, args.runs, Path(tmp)) for pods, ns in sizes}
    for (pods, ns) in sizes:
        print(f"\n{pods} pods in {ns} namespaces (median of {args.runs}; peak RSS is the max)")
        print(f"{'command':52} {'wall s':>7} {'peak MiB':>9} {'requests':>9} {'exit':>5}")
        for name, r in by_size[pods].items():
            print(f"{name:52} {r['wall']:7.2f} {r['rss']:9.0f} {r['requests']:9.0f} {r['rc']:5.0f}")
    big = by_size[args.pods]
    kubectl = big["kubectl get pods,serviceaccounts,secrets -A -o json"]
    doctor = big["kubectl-pullsecret doctor -A --no-probe"]
    print(f"\ndoctor / kubectl at {args.pods} pods: wall {doctor['wall'] / kubectl['wall']:.2f} (target <= 0.50), "
          f"peak memory {doctor['rss'] / kubectl['rss']:.2f} (target <= 1.00)")
    small = by_size[args.pods // 10]["kubectl-pullsecret doctor -A --no-probe"]
    print(f"doctor requests: {small['requests']:.0f} at {args.pods // 10} pods, {doctor['requests']:.0f} at "
          f"{args.pods} pods (10x the pods: only more pages of the same lists, {500} objects per page)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
