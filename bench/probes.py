#!/usr/bin/env python3
"""Registry probe concurrency and request dedupe: `doctor` against N slow local registries.

Scenario: N plain-HTTP registries on 127.0.0.1 (one port each, threaded, HTTP/1.1
keep-alive), every one answering each request after sleeping L seconds:
  GET /v2/                          200, Docker-Distribution-API-Version: registry/2.0, body {}
  HEAD|GET /v2/<repo>/manifests/<t> 200, Docker-Content-Digest, a Docker v2 manifest media type
With --auth basic, /v2/ answers 401 `WWW-Authenticate: Basic realm="bench"` and the manifest
request needs the right `Authorization: Basic` (the pods' kubernetes.io/dockerconfigjson pull
secret holds one credential per registry).

P pods in one namespace are spread round-robin over the N registries, M distinct images per
registry (127.0.0.1:PORT/bench/app<i>:1.0), so many pods share each image. For each N the
script runs, as a subprocess, from the repository root:

    python -m kubectl_pullsecret doctor -f DIR -o json -v 1 --insecure-registry 127.0.0.1:PORT ...

--runs times (the median is reported), checks that every image's probe outcome is `ok` (it
exits non-zero otherwise), then runs `doctor --no-probe` once on the largest input.

Usage (repository root, venv active; the default run takes well under a minute):

    python bench/probes.py [--registries 1,4,8,16] [--pods 200] [--images-per-registry 2]
                           [--latency 0.2] [--runs 3] [--auth none|basic] [--order interleaved|grouped]
                           [--probe-timeout S] [--json]

--order grouped puts the pods (hence the image chains doctor queues) of one registry next to
each other instead of round-robin; with more chains than pool threads it changes the waves.

Columns:
  N registries     registries in the run (one server each)
  pods             pods in the input
  distinct images  entries in doctor's JSON `images` (one per image: all pods share the secrets)
  HTTP requests    HTTP requests the servers received, all servers together (median of the runs)
  TLS attempts     connections that opened with a TLS ClientHello: doctor tries https first on an
                   --insecure-registry host and falls back to http. The server answers such a
                   connection like a plain-HTTP server does (400, close) after sleeping L too: a
                   failed https attempt costs one round trip.
  peak in-flight   most requests (TLS attempts included) in progress at once on all servers
  probe phase s    from doctor's `probed ... in X ms` log line (-v 1)
  ideal s          sequential requests of one image chain x L: /v2/ ping (cached per registry,
                   but the first chain of a registry waits for it), then the manifest HEAD = 2 for
                   open and Basic registries alike (Basic sends the credential on the manifest
                   request itself; only a Bearer registry adds a token request). The pool size
                   and the https attempt are not counted: this is the floor with unbounded
                   concurrency and plain http known up front.
  serial s         (HTTP requests + TLS attempts) x L: what one-request-at-a-time probing takes
  probe/ideal ratio  probe phase / ideal (1.0 = perfect overlap)
  whole run s      wall time of the doctor subprocess (median), start-up included
--json adds doctor_requests (doctor's own count from the log line: HTTP requests + TLS
attempts) and chains (image chains probed), and the per-run probe and whole times.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
NAMESPACE = "bench"
SECRET = "bench-pull"
DIGEST = "sha256:" + "ab" * 32
MANIFEST = json.dumps({
    "schemaVersion": 2,
    "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
    "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 2, "digest": DIGEST},
    "layers": [],
}).encode()
PROBED = re.compile(r"probed (\d+) image chain\(s\) and (\d+) login\(s\) with (\d+) HTTP request\(s\) in (\d+) ms")
MANIFEST_PATH = re.compile(r"^/v2/(.+)/manifests/([^/]+)$")


class Stats:
    """Request counters shared by every server (thread-safe)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.by_port: dict[int, dict[str, int]] = {}
            self.in_flight = 0
            self.peak = 0

    def begin(self, port: int, kind: str) -> None:
        with self.lock:
            counts = self.by_port.setdefault(port, {})
            counts[kind] = counts.get(kind, 0) + 1
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)

    def end(self) -> None:
        with self.lock:
            self.in_flight -= 1

    def total(self, *kinds: str) -> int:
        with self.lock:
            return sum(c.get(k, 0) for c in self.by_port.values() for k in kinds)


HTTP_KINDS = ("ping", "manifest-head", "manifest-get", "other")


class Registry(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, latency: float, auth: str, stats: Stats) -> None:
        self.latency, self.auth, self.stats = latency, auth, stats
        self.username, self.password = "bench", f"bench-{os.getpid()}"
        super().__init__(("127.0.0.1", 0), Handler)
        self.port = self.server_address[1]
        self.password += f"-{self.port}"
        self.expected = "Basic " + base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        self.thread = threading.Thread(target=self.serve_forever, name=f"registry-{self.port}", daemon=True)
        self.thread.start()

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Registry

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's signature
        pass

    def handle(self) -> None:
        # A TLS ClientHello (doctor's https attempt on an insecure host) starts with 0x16.
        # Answer it as a plain-HTTP server would, after the same latency, and close.
        try:
            first = self.connection.recv(1, socket.MSG_PEEK)
        except OSError:
            return
        if first == b"\x16":
            self.server.stats.begin(self.server.port, "tls")
            try:
                time.sleep(self.server.latency)
                body = b"Client sent an HTTPS request to a plain-HTTP server.\n"
                self.connection.sendall(b"HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\n"
                                        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
            except OSError:
                pass
            finally:
                self.server.stats.end()
            self.close_connection = True
            return
        if first:
            super().handle()

    def _send(self, status: int, headers: dict[str, str], body: bytes, head: bool = False) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _unauthorized(self, head: bool) -> None:
        body = json.dumps({"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]}).encode()
        self._send(401, {"WWW-Authenticate": 'Basic realm="bench"', "Content-Type": "application/json",
                         "Docker-Distribution-API-Version": "registry/2.0"}, body, head)

    def _serve(self, head: bool) -> None:
        path = self.path.split("?", 1)[0]
        match = MANIFEST_PATH.match(path)
        kind = "ping" if path == "/v2/" else ("manifest-head" if head else "manifest-get") if match else "other"
        stats = self.server.stats
        stats.begin(self.server.port, kind)
        try:
            time.sleep(self.server.latency)
            authorized = self.headers.get("Authorization") == self.server.expected
            if self.server.auth == "basic" and kind != "other" and not authorized:
                self._unauthorized(head)
            elif kind == "ping":
                self._send(200, {"Docker-Distribution-API-Version": "registry/2.0",
                                 "Content-Type": "application/json"}, b"{}", head)
            elif kind.startswith("manifest"):
                self._send(200, {"Docker-Content-Digest": DIGEST, "Docker-Distribution-API-Version": "registry/2.0",
                                 "Content-Type": "application/vnd.docker.distribution.manifest.v2+json"}, MANIFEST, head)
            else:
                self._send(404, {"Content-Type": "application/json"},
                           b'{"errors":[{"code":"NOT_FOUND","message":"not found"}]}', head)
        finally:
            stats.end()

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._serve(head=False)

    def do_HEAD(self) -> None:  # noqa: N802 - http.server's naming
        self._serve(head=True)


def write_input(directory: Path, registries: list[Registry], pods: int, per_registry: int, auth: str,
                order: str = "interleaved") -> int:
    """The YAML input; returns the number of distinct images it names. `interleaved`: pod i
    pulls from registry i mod N; `grouped`: the pods of one registry are adjacent."""
    items: list[dict[str, Any]] = [{
        "apiVersion": "v1", "kind": "ServiceAccount",
        "metadata": {"name": "default", "namespace": NAMESPACE, "creationTimestamp": "2026-01-01T00:00:00Z"},
    }]
    pull_secrets: list[dict[str, str]] = []
    if auth == "basic":
        auths = {r.host: {"username": r.username, "password": r.password,
                          "auth": base64.b64encode(f"{r.username}:{r.password}".encode()).decode()}
                 for r in registries}
        config = base64.b64encode(json.dumps({"auths": auths}).encode()).decode()
        items.append({
            "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockerconfigjson",
            "metadata": {"name": SECRET, "namespace": NAMESPACE, "creationTimestamp": "2026-01-01T00:00:00Z"},
            "data": {".dockerconfigjson": config},
        })
        pull_secrets = [{"name": SECRET}]
    images: set[str] = set()
    n = len(registries)
    for i in range(pods):
        if order == "grouped":
            chain = i * n * per_registry // pods
            registry, app = registries[(chain // per_registry) % n], chain % per_registry
        else:
            registry, app = registries[i % n], (i // n) % per_registry
        image = f"{registry.host}/bench/app{app}:1.0"
        images.add(image)
        items.append({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"app-{i:05d}", "namespace": NAMESPACE, "creationTimestamp": "2026-01-01T00:00:00Z"},
            "spec": {"serviceAccountName": "default", "containers": [{"name": "app", "image": image}],
                     "imagePullSecrets": pull_secrets},
        })
    # JSON is YAML, and much faster to write than yaml.dump for a few hundred objects.
    (directory / "objects.yaml").write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}, indent=1))
    return len(images)


def doctor(directory: Path, registries: list[Registry], probe: bool, probe_timeout: float | None) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "kubectl_pullsecret", "doctor", "-f", str(directory), "-o", "json", "-v", "1"]
    for r in registries:
        cmd += ["--insecure-registry", r.host]
    if probe_timeout is not None:
        cmd += ["--probe-timeout", str(probe_timeout)]
    if not probe:
        cmd.append("--no-probe")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if proc.returncode not in (0, 1):  # 1: findings at or above --fail-on, still a full report
        raise SystemExit(f"doctor exited {proc.returncode}:\n{proc.stderr}")
    report = json.loads(proc.stdout)
    out: dict[str, Any] = {"wall": wall, "report": report, "stderr": proc.stderr}
    if probe:
        m = PROBED.search(proc.stderr)
        if m is None:
            raise SystemExit(f"no 'probed ... in X ms' line on doctor's stderr:\n{proc.stderr}")
        out["chains"], out["logins"], out["doctor_requests"] = int(m.group(1)), int(m.group(2)), int(m.group(3))
        out["probe"] = int(m.group(4)) / 1000
    return out


@dataclass
class Row:
    registries: int
    pods: int
    images: int
    requests: int
    tls_attempts: int
    doctor_requests: int
    peak_in_flight: int
    chains: int
    probe_s: float
    ideal_s: float
    serial_s: float
    ratio: float
    whole_s: float
    probe_runs: list[float]
    whole_runs: list[float]


def check_outcomes(report: dict[str, Any], expected_images: int) -> None:
    images = report.get("images") or []
    bad = [(i.get("image"), (i.get("probe") or {}).get("outcome"), (i.get("probe") or {}).get("detail"))
           for i in images if (i.get("probe") or {}).get("outcome") != "ok"]
    if bad or len(images) != expected_images:
        lines = "\n".join(f"  {image}: {outcome}: {detail}" for image, outcome, detail in bad)
        raise SystemExit(f"FAIL: {len(images)} image(s) in the report (expected {expected_images}), "
                         f"{len(bad)} not ok:\n{lines}")


def bench(n: int, servers: list[Registry], stats: Stats, args: argparse.Namespace, work: Path) -> tuple[Row, Path]:
    registries = servers[:n]
    directory = work / f"n{n}"
    directory.mkdir()
    distinct = write_input(directory, registries, args.pods, args.images_per_registry, args.auth, args.order)
    runs = []
    for _ in range(args.runs):
        stats.reset()
        result = doctor(directory, registries, True, args.probe_timeout)
        check_outcomes(result["report"], distinct)
        result["requests"] = stats.total(*HTTP_KINDS)
        result["tls"] = stats.total("tls")
        result["peak"] = stats.peak
        runs.append(result)
    median = statistics.median
    requests = int(median(r["requests"] for r in runs))
    tls = int(median(r["tls"] for r in runs))
    ideal = 2 * args.latency
    probe_s = median(r["probe"] for r in runs)
    row = Row(
        registries=n, pods=args.pods, images=len(runs[0]["report"]["images"]), requests=requests, tls_attempts=tls,
        doctor_requests=int(median(r["doctor_requests"] for r in runs)), peak_in_flight=max(r["peak"] for r in runs),
        chains=runs[0]["chains"], probe_s=probe_s, ideal_s=ideal, serial_s=(requests + tls) * args.latency,
        ratio=probe_s / ideal if ideal else float("nan"), whole_s=median(r["wall"] for r in runs),
        probe_runs=[r["probe"] for r in runs], whole_runs=[r["wall"] for r in runs],
    )
    return row, directory


def pool_size() -> str:
    """POOL_SIZE as kubectl_pullsecret/probe.py sets it (read, not imported: the bench stays light)."""
    text = (ROOT / "kubectl_pullsecret" / "probe.py").read_text()
    m = re.search(r"^POOL_SIZE = (\d+)", text, re.M)
    return m.group(1) if m else "?"


def table(rows: list[Row], baseline: float | None, args: argparse.Namespace) -> str:
    head = ["N registries", "pods", "distinct images", "HTTP requests", "TLS attempts", "peak in-flight",
            "probe phase s", "ideal s", "serial s", "probe/ideal ratio", "whole run s"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---:" for _ in head) + "|"]
    for r in rows:
        cells = [r.registries, r.pods, r.images, r.requests, r.tls_attempts, r.peak_in_flight, f"{r.probe_s:.3f}",
                 f"{r.ideal_s:.3f}", f"{r.serial_s:.3f}", f"{r.ratio:.2f}", f"{r.whole_s:.3f}"]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    lines.append("")
    lines.append(f"auth {args.auth}, {args.order} pods, latency {args.latency:g} s per request, "
                 f"{args.images_per_registry} image(s) per registry, median of {args.runs} run(s); "
                 f"doctor's probe pool: {pool_size()} threads")
    if baseline is not None:
        lines.append(f"doctor --no-probe on the {rows[-1].registries}-registry input: {baseline:.3f} s (whole run)")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--registries", default="1,4,8,16", help="comma-separated registry counts (default 1,4,8,16)")
    parser.add_argument("--pods", type=int, default=200)
    parser.add_argument("--images-per-registry", type=int, default=2)
    parser.add_argument("--latency", type=float, default=0.2, help="seconds each server sleeps per request")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--auth", choices=["none", "basic"], default="none")
    parser.add_argument("--order", choices=["interleaved", "grouped"], default="interleaved",
                        help="pod order in the input: round-robin over the registries, or one registry's pods together")
    parser.add_argument("--probe-timeout", type=float, default=None, help="passed to doctor (default: doctor's, 10 s)")
    parser.add_argument("--json", action="store_true", help="machine output instead of the Markdown table")
    args = parser.parse_args()
    counts = [int(x) for x in args.registries.split(",") if x.strip()]
    if not counts or min(counts) < 1 or args.pods < 1 or args.images_per_registry < 1 or args.runs < 1:
        parser.error("registry counts, --pods, --images-per-registry and --runs must be positive")
    stats = Stats()
    servers = [Registry(args.latency, args.auth, stats) for _ in range(max(counts))]
    rows: list[Row] = []
    baseline: float | None = None
    try:
        with tempfile.TemporaryDirectory(prefix="pullsecret-bench-") as tmp:
            last: Path | None = None
            for n in counts:
                row, last = bench(n, servers, stats, args, Path(tmp))
                rows.append(row)
                if not args.json:
                    print(f"N={n}: probe phase runs {', '.join(f'{t:.3f}' for t in row.probe_runs)} s", file=sys.stderr)
            if last is not None:
                stats.reset()
                baseline = doctor(last, servers[:counts[-1]], False, args.probe_timeout)["wall"]
                if stats.total(*HTTP_KINDS, "tls"):
                    raise SystemExit("FAIL: doctor --no-probe sent requests to the registries")
    finally:
        for s in servers:
            s.stop()
    if args.json:
        json.dump({"auth": args.auth, "latency": args.latency, "imagesPerRegistry": args.images_per_registry,
                   "order": args.order, "runs": args.runs, "noProbeWholeS": baseline, "rows": [asdict(r) for r in rows]},
                  sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(table(rows, baseline, args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
