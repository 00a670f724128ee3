#!/usr/bin/env python3
"""Registry probe concurrency and request dedupe: `doctor` against N slow local registries.

Scenario: N fake registries on 127.0.0.1 (one port each, threaded, HTTP/1.1 keep-alive),
every one answering each request after sleeping L seconds:
  GET /v2/                          200, Docker-Distribution-API-Version: registry/2.0, body {}
  HEAD|GET /v2/<repo>/manifests/<t> 200, Docker-Content-Digest, a Docker v2 manifest media type

--scheme https (the default) serves every registry over TLS: the integration tests' throwaway
CA and server certificate (tests/integration/registry_env.py; IP SANs 127.0.0.1 to 127.0.0.3)
are made once per bench run, and doctor runs
with `--registry-ca-file CA` and no --insecure-registry, as against a real registry. --scheme
http serves plain HTTP and declares every registry with --insecure-registry; doctor then tries
https first on each and falls back to http, one more round trip per registry that real (https)
registries do not cost.

--auth (a comma-separated list; one table each):
  none    /v2/ answers 200; the manifest needs no credential.
  basic   /v2/ answers 401 `WWW-Authenticate: Basic realm="bench"`; the manifest request needs
          the registry's `Authorization: Basic` (the pods' kubernetes.io/dockerconfigjson pull
          secret holds one credential per registry).
  bearer  /v2/ (and an unauthorised manifest request) answers 401 `WWW-Authenticate: Bearer
          realm="https://127.0.0.2:TPORT/token",service="bench"`. One shared token server on
          127.0.0.2 (latency L per request too, same scheme and CA) answers
          GET /token?service=bench&scope=repository:<repo>:pull with the registry's Basic
          credential by {"token": "<random>", "expires_in": 300}; every registry accepts
          `Authorization: Bearer <any token the token server issued>` on the manifest request.

P pods in one namespace are spread round-robin over the N registries, M distinct images per
registry (127.0.0.1:PORT/bench/app<i>:1.0), so many pods share each image. For each case the
script runs, as a subprocess, from the repository root:

    python -m kubectl_pullsecret doctor -f DIR -o json -v 1 --registry-ca-file CA            (https)
    python -m kubectl_pullsecret doctor -f DIR -o json -v 1 --insecure-registry 127.0.0.1:PORT ...  (http)

--runs times (the median is reported), checks that every image's probe outcome is `ok` (it
exits non-zero otherwise), then runs `doctor --no-probe` once on the largest input of each table.

Usage (repository root, venv active):

    python bench/probes.py [--scheme https|http] [--auth none,basic,bearer] [--registries 1,4,8,16,16x2]
                           [--pods 200] [--images-per-registry 1] [--latency 0.2] [--runs 3]
                           [--order interleaved|grouped] [--probe-timeout S] [--json]

A case `N` in --registries uses --images-per-registry images per registry; `NxM` uses M. The
default run is --scheme https, one table per auth mode (none, basic, bearer), each with N = 1,
4, 8, 16 at one image per registry (N <= doctor's pool of 16 threads: one wave of chains) and
N = 16 at two images per registry (32 chains: two waves). It takes about a minute.

--order grouped puts the pods of one registry next to each other instead of round-robin (doctor
round-robins its chains over the registries anyway).

Columns:
  N registries     registries in the case (one server each)
  images/registry  M: distinct images per registry
  pods             pods in the input
  distinct images  entries in doctor's JSON `images` (one per image: all pods share the secrets),
                   i.e. the image chains doctor probes
  HTTP requests    HTTP requests the registries received, all together (median of the runs)
  token requests   requests the token server received (bearer only; not in HTTP requests)
  connections      TCP connections the registries and the token server accepted (with https, one TLS
                   handshake each; the handshake is not delayed by L; with http, the https attempts
                   below included). Doctor keeps one session per probe thread, so each thread opens
                   its own connection to each host it talks to.
  https attempts   (--scheme http only) connections that opened with a TLS ClientHello: doctor tries
                   https first on an --insecure-registry host and falls back to http. The server
                   answers such a connection like a plain-HTTP server does (400, close) after sleeping
                   L too: a failed https attempt costs one round trip.
  peak in-flight   most requests (token requests and https attempts included) in progress at once
  probe phase s    from doctor's `probed ... in X ms` log line (-v 1)
  k×L s            the sequential requests of one image chain × L. k = 2 for open and Basic registries
                   (/v2/ ping, then the manifest HEAD: Basic sends the credential on the manifest
                   request itself) and k = 3 for Bearer (ping, token, manifest). This is the floor with
                   unbounded concurrency (and, with --scheme http, plain http known up front).
  probe/(k×L)      probe phase / (k × L): 1.0 is perfect overlap.
  pool floor s     the same floor with doctor's pool (read from probe.py) and its round-robin order:
                   a chain whose registry's /v2/ ping is already cached costs (k - 1) × L, one that
                   waits for the ping in flight starts when it lands. Equal to k×L for one wave; for
                   16x2 it is 3 L (none/basic) and 5 L (bearer). With --scheme http the https attempt
                   of each ping is counted here (2 L per ping).
  serial s         (HTTP requests + token requests + https attempts) × L: one request at a time
  whole run s      wall time of the doctor subprocess (median), start-up included

The bar and what the bench holds doctor to. SPEC's bar, "N distinct registries each answering
with latency L, N up to the pool size: probe phase <= 1.5 L", cannot be met as written when L
is per request: one probe needs k sequential requests (k = 2 open/Basic: the /v2/ ping, then the
manifest; k = 3 Bearer: plus the token), each of which waits L, so even infinitely parallel
probing takes k × L > 1.5 L. The bench therefore reports probe phase / (k × L), and the target
we hold ourselves to is probe phase <= 1.5 × k × L, i.e. probe/(k×L) <= 1.5, for N up to the pool
size with one image per registry (one wave). Rows with more chains than the pool (16x2) are to
be compared with the pool floor instead.

--json prints {"scheme", "latency", "runs", "order", "poolSize", "tables": [{"auth",
"noProbeWholeS", "rows": [...]}]}; a row adds doctor_requests (doctor's own count from the log
line: HTTP requests, token requests and https attempts), chains (image chains probed) and the
per-run probe and whole times.
"""

from __future__ import annotations

import argparse
import base64
import functools
import heapq
import json
import os
import re
import secrets
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.integration.registry_env import Pki

ROOT = Path(__file__).resolve().parents[1]
NAMESPACE = "bench"
SECRET = "bench-pull"
SERVICE = "bench"
DIGEST = "sha256:" + "ab" * 32
MANIFEST = json.dumps({
    "schemaVersion": 2,
    "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
    "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 2, "digest": DIGEST},
    "layers": [],
}).encode()
PROBED = re.compile(r"probed (\d+) image chain\(s\) and (\d+) login\(s\) with (\d+) HTTP request\(s\) in (\d+) ms")
MANIFEST_PATH = re.compile(r"^/v2/(.+)/manifests/([^/]+)$")
SCOPE = re.compile(r"^repository:([^:]+):pull$")
AUTH_MODES = ("none", "basic", "bearer")
STEPS = {"none": 2, "basic": 2, "bearer": 3}  # k: sequential requests of one image chain


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

    def _add(self, port: int, kind: str) -> None:
        """Count one `kind` on `port`; the caller holds the lock."""
        counts = self.by_port.setdefault(port, {})
        counts[kind] = counts.get(kind, 0) + 1

    def count(self, port: int, kind: str) -> None:
        with self.lock:
            self._add(port, kind)

    def begin(self, port: int, kind: str) -> None:
        with self.lock:
            self._add(port, kind)
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)

    def end(self) -> None:
        with self.lock:
            self.in_flight -= 1

    def total(self, *kinds: str) -> int:
        with self.lock:
            return sum(c.get(k, 0) for c in self.by_port.values() for k in kinds)


HTTP_KINDS = ("ping", "manifest-head", "manifest-get", "other")
ALL_KINDS = (*HTTP_KINDS, "token", "tls", "handshake-failed")  # everything but "conn"


def make_pki(directory: Path) -> Pki:
    """The integration tests' throwaway PKI: a CA, and a server certificate for 127.0.0.1-3."""
    if str(ROOT) not in sys.path:  # run as `python bench/probes.py`: the repository root is not on the path
        sys.path.insert(0, str(ROOT))
    from tests.integration.registry_env import make_pki as make_test_pki

    return make_test_pki(directory)


class Tokens:
    """What the token server and the Bearer registries share: the Basic credentials the
    token server accepts, and the tokens it issued (any of them opens any registry)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.credentials: set[str] = set()
        self.issued: set[str] = set()

    def accept(self, authorization: str) -> None:
        with self.lock:
            self.credentials.add(authorization)

    def issue(self, authorization: str | None) -> str | None:
        with self.lock:
            if authorization not in self.credentials:
                return None
            token = secrets.token_urlsafe(24)
            self.issued.add(token)
            return token

    def valid(self, authorization: str | None) -> bool:
        if not authorization or not authorization.startswith("Bearer "):
            return False
        with self.lock:
            return authorization[len("Bearer "):] in self.issued


class Server(ThreadingHTTPServer):
    """A fake registry (role "registry") or the shared token server (role "token")."""

    daemon_threads = True
    request_queue_size = 128

    def __init__(self, role: str, address: str, latency: float, auth: str, stats: Stats, tls: ssl.SSLContext | None,
                 tokens: Tokens, realm: str = "") -> None:
        self.role, self.latency, self.auth, self.stats, self.tls = role, latency, auth, stats, tls
        self.tokens, self.realm = tokens, realm
        self.username, self.password = "bench", f"bench-{os.getpid()}"
        super().__init__((address, 0), Handler)
        self.port = self.server_address[1]
        self.password += f"-{self.port}"
        self.expected = "Basic " + base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        self.thread = threading.Thread(target=self.serve_forever, name=f"{role}-{self.port}", daemon=True)
        self.thread.start()

    def get_request(self) -> tuple[Any, Any]:
        sock, addr = super().get_request()
        if self.tls is not None:
            # The handshake runs on the connection's own thread (Handler.handle), not here.
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr

    @property
    def host(self) -> str:
        return f"{self.server_address[0]}:{self.port}"

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's signature
        pass

    def handle(self) -> None:
        self.server.stats.count(self.server.port, "conn")
        if self.server.tls is not None:
            try:
                self.connection.settimeout(10)
                self.connection.do_handshake()
                self.connection.settimeout(None)
            except (OSError, ssl.SSLError):
                self.server.stats.count(self.server.port, "handshake-failed")
                self.close_connection = True
                return
            super().handle()
            return
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

    def _unauthorized(self, head: bool, repository: str | None) -> None:
        if self.server.auth == "bearer":
            challenge = f'Bearer realm="{self.server.realm}",service="{SERVICE}"'
            if repository:
                challenge += f',scope="repository:{repository}:pull"'
        else:
            challenge = 'Basic realm="bench"'
        body = json.dumps({"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]}).encode()
        self._send(401, {"WWW-Authenticate": challenge, "Content-Type": "application/json",
                         "Docker-Distribution-API-Version": "registry/2.0"}, body, head)

    def _token(self, head: bool) -> None:
        parts = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(parts.query)
        scope = query.get("scope", [""])
        if parts.path != "/token" or head:
            self._send(404, {"Content-Type": "application/json"}, b'{"details":"not found"}', head)
        elif query.get("service") != [SERVICE] or len(scope) != 1 or not SCOPE.match(scope[0]):
            self._send(400, {"Content-Type": "application/json"}, b'{"details":"bad service or scope"}')
        else:
            token = self.server.tokens.issue(self.headers.get("Authorization"))
            if token is None:
                self._send(401, {"Content-Type": "application/json", "WWW-Authenticate": 'Basic realm="bench-token"'},
                           b'{"details":"incorrect username or password"}')
            else:
                self._send(200, {"Content-Type": "application/json"},
                           json.dumps({"token": token, "expires_in": 300}).encode())

    def _serve(self, head: bool) -> None:
        server, stats = self.server, self.server.stats
        if server.role == "token":
            stats.begin(server.port, "token")
            try:
                time.sleep(server.latency)
                self._token(head)
            finally:
                stats.end()
            return
        path = self.path.split("?", 1)[0]
        match = MANIFEST_PATH.match(path)
        kind = "ping" if path == "/v2/" else ("manifest-head" if head else "manifest-get") if match else "other"
        stats.begin(server.port, kind)
        try:
            time.sleep(server.latency)
            authorization = self.headers.get("Authorization")
            if server.auth == "bearer":
                authorized = server.tokens.valid(authorization)
            else:
                authorized = server.auth == "none" or authorization == server.expected
            if kind != "other" and not authorized:
                self._unauthorized(head, match.group(1) if match else None)
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


@dataclass
class Fleet:
    """The servers of one auth mode: registries on 127.0.0.1, the token server on 127.0.0.2."""

    auth: str
    scheme: str
    registries: list[Server]
    token: Server | None

    def stop(self) -> None:
        for s in [*self.registries, *([self.token] if self.token else [])]:
            s.stop()


def start_fleet(count: int, auth: str, scheme: str, latency: float, stats: Stats, pki: Pki | None) -> Fleet:
    tls: ssl.SSLContext | None = None
    if scheme == "https":
        assert pki is not None
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(pki.server_cert, pki.server_key)
    tokens = Tokens()
    token = Server("token", "127.0.0.2", latency, auth, stats, tls, tokens) if auth == "bearer" else None
    realm = f"{scheme}://{token.host}/token" if token else ""
    registries = [Server("registry", "127.0.0.1", latency, auth, stats, tls, tokens, realm) for _ in range(count)]
    for r in registries:
        tokens.accept(r.expected)
    return Fleet(auth, scheme, registries, token)


def write_input(directory: Path, registries: list[Server], pods: int, per_registry: int, auth: str,
                order: str = "interleaved") -> int:
    """The YAML input; returns the number of distinct images it names. `interleaved`: pod i
    pulls from registry i mod N; `grouped`: the pods of one registry are adjacent."""
    items: list[dict[str, Any]] = [{
        "apiVersion": "v1", "kind": "ServiceAccount",
        "metadata": {"name": "default", "namespace": NAMESPACE, "creationTimestamp": "2026-01-01T00:00:00Z"},
    }]
    pull_secrets: list[dict[str, str]] = []
    if auth != "none":
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


def doctor(directory: Path, fleet: Fleet, n: int, pki: Pki | None, probe: bool,
           probe_timeout: float | None) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "kubectl_pullsecret", "doctor", "-f", str(directory), "-o", "json", "-v", "1"]
    if fleet.scheme == "https":
        assert pki is not None
        cmd += ["--registry-ca-file", str(pki.ca_file)]
    else:
        # The token host too: doctor sends credentials over plain http only to a declared host.
        for s in [*fleet.registries[:n], *([fleet.token] if fleet.token else [])]:
            cmd += ["--insecure-registry", s.host]
    if probe_timeout is not None:
        cmd += ["--probe-timeout", str(probe_timeout)]
    if not probe:
        cmd.append("--no-probe")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    # The servers are local: never through a proxy the environment may name.
    env["no_proxy"] = env["NO_PROXY"] = ",".join(filter(None, [os.environ.get("no_proxy") or os.environ.get("NO_PROXY"),
                                                               "127.0.0.1", "127.0.0.2"]))
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
    images_per_registry: int
    pods: int
    images: int
    requests: int
    token_requests: int
    connections: int
    tls_attempts: int
    doctor_requests: int
    peak_in_flight: int
    chains: int
    k: int
    probe_s: float
    kl_s: float
    ratio: float
    pool_floor_s: float
    serial_s: float
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


@functools.cache
def pool_size() -> int | None:
    """POOL_SIZE as kubectl_pullsecret/probe.py sets it (read once, not imported: the bench stays light)."""
    text = (ROOT / "kubectl_pullsecret" / "probe.py").read_text()
    m = re.search(r"^POOL_SIZE = (\d+)", text, re.M)
    return int(m.group(1)) if m else None


def pool_floor(n: int, chains: int, k: int, latency: float, pool: int, ping_trips: int) -> float:
    """The probe phase with `pool` threads taking the chains in probe.py's round-robin order
    (app0 of every registry, then app1, ...): the first chain of a registry pings (ping_trips
    round trips), the others wait for that ping if it is in flight; then k - 1 requests each."""
    order = [r for _ in range(-(-chains // n)) for r in range(n)][:chains]
    free = [0.0] * max(1, min(pool, chains))
    ping_done: dict[int, float] = {}
    end = 0.0
    for r in order:
        start = heapq.heappop(free)
        if r not in ping_done:
            ping_done[r] = start + ping_trips * latency
        t = max(start, ping_done[r]) + (k - 1) * latency
        heapq.heappush(free, t)
        end = max(end, t)
    return end


def bench(n: int, per_registry: int, fleet: Fleet, stats: Stats, pki: Pki | None, args: argparse.Namespace,
          work: Path) -> tuple[Row, Path]:
    registries = fleet.registries[:n]
    directory = work / f"{fleet.auth}-n{n}x{per_registry}"
    directory.mkdir()
    distinct = write_input(directory, registries, args.pods, per_registry, fleet.auth, args.order)
    runs = []
    for _ in range(args.runs):
        stats.reset()
        result = doctor(directory, fleet, n, pki, True, args.probe_timeout)
        check_outcomes(result["report"], distinct)
        result["requests"] = stats.total(*HTTP_KINDS)
        result["token"] = stats.total("token")
        result["conn"] = stats.total("conn")
        result["tls"] = stats.total("tls")
        result["peak"] = stats.peak
        runs.append(result)
    median = statistics.median
    requests, tokens = int(median(r["requests"] for r in runs)), int(median(r["token"] for r in runs))
    tls = int(median(r["tls"] for r in runs))
    k = STEPS[fleet.auth]
    kl = k * args.latency
    probe_s = median(r["probe"] for r in runs)
    row = Row(
        registries=n, images_per_registry=per_registry, pods=args.pods, images=len(runs[0]["report"]["images"]),
        requests=requests, token_requests=tokens, connections=int(median(r["conn"] for r in runs)), tls_attempts=tls,
        doctor_requests=int(median(r["doctor_requests"] for r in runs)), peak_in_flight=max(r["peak"] for r in runs),
        chains=runs[0]["chains"], k=k, probe_s=probe_s, kl_s=kl, ratio=probe_s / kl if kl else float("nan"),
        pool_floor_s=pool_floor(n, distinct, k, args.latency, pool_size() or 16, 2 if fleet.scheme == "http" else 1),
        serial_s=(requests + tokens + tls) * args.latency, whole_s=median(r["wall"] for r in runs),
        probe_runs=[r["probe"] for r in runs], whole_runs=[r["wall"] for r in runs],
    )
    return row, directory


def table(auth: str, rows: list[Row], baseline: float | None, args: argparse.Namespace) -> str:
    https = args.scheme == "https"
    head = ["N registries", "images/registry", "pods", "distinct images", "HTTP requests", "token requests", "connections"]
    head += [] if https else ["https attempts"]
    head += ["peak in-flight", "probe phase s", "k×L s", "probe/(k×L)", "pool floor s", "serial s", "whole run s"]
    k = STEPS[auth]
    lines = [f"### {args.scheme}, auth {auth} (k = {k})", "",
             "| " + " | ".join(head) + " |", "|" + "|".join("---:" for _ in head) + "|"]
    for r in rows:
        cells: list[Any] = [r.registries, r.images_per_registry, r.pods, r.images, r.requests, r.token_requests,
                            r.connections]
        cells += [] if https else [r.tls_attempts]
        cells += [r.peak_in_flight, f"{r.probe_s:.3f}", f"{r.kl_s:.3f}", f"{r.ratio:.2f}", f"{r.pool_floor_s:.3f}",
                  f"{r.serial_s:.3f}", f"{r.whole_s:.3f}"]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    lines.append("")
    lines.append(f"{args.scheme}, auth {auth}, {args.order} pods, latency {args.latency:g} s per request, "
                 f"median of {args.runs} run(s); doctor's probe pool: {pool_size() or '?'} threads; "
                 f"target for one wave: probe/(k×L) <= 1.5")
    if baseline is not None:
        last = rows[-1]
        lines.append(f"doctor --no-probe on the {last.registries}x{last.images_per_registry} input: "
                     f"{baseline:.3f} s (whole run)")
    return "\n".join(lines) + "\n"


def parse_cases(text: str, default_per_registry: int) -> list[tuple[int, int]]:
    cases = []
    for item in text.split(","):
        item = item.strip().lower()
        if not item:
            continue
        n, _, m = item.partition("x")
        cases.append((int(n), int(m) if m else default_per_registry))
    return cases


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scheme", choices=["https", "http"], default="https",
                        help="https: TLS with a throwaway CA passed as --registry-ca-file; http: --insecure-registry")
    parser.add_argument("--auth", default=",".join(AUTH_MODES),
                        help="comma-separated auth modes, one table each: none, basic, bearer (default all three)")
    parser.add_argument("--registries", default="1,4,8,16,16x2",
                        help="comma-separated cases: N registries, or NxM with M images per registry (default 1,4,8,16,16x2)")
    parser.add_argument("--pods", type=int, default=200)
    parser.add_argument("--images-per-registry", type=int, default=1, help="M for a case given as plain N (default 1)")
    parser.add_argument("--latency", type=float, default=0.2, help="seconds each server sleeps per request")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--order", choices=["interleaved", "grouped"], default="interleaved",
                        help="pod order in the input: round-robin over the registries, or one registry's pods together")
    parser.add_argument("--probe-timeout", type=float, default=None, help="passed to doctor (default: doctor's, 10 s)")
    parser.add_argument("--json", action="store_true", help="machine output instead of the Markdown tables")
    args = parser.parse_args()
    try:
        cases = parse_cases(args.registries, args.images_per_registry)
    except ValueError:
        parser.error(f"--registries: not a list of N or NxM: {args.registries!r}")
    auths = [a.strip() for a in args.auth.split(",") if a.strip()]
    if not auths or any(a not in AUTH_MODES for a in auths):
        parser.error(f"--auth: a comma-separated list of {', '.join(AUTH_MODES)}")
    if not cases or min(min(c) for c in cases) < 1 or args.pods < 1 or args.images_per_registry < 1 or args.runs < 1:
        parser.error("registry counts, images per registry, --pods and --runs must be positive")
    stats = Stats()
    tables: list[tuple[str, list[Row], float | None]] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="pullsecret-bench-") as tmp:
        pki = make_pki(Path(tmp)) if args.scheme == "https" else None
        for auth in auths:
            fleet = start_fleet(max(n for n, _ in cases), auth, args.scheme, args.latency, stats, pki)
            rows: list[Row] = []
            baseline: float | None = None
            try:
                last: Path | None = None
                for n, per_registry in cases:
                    row, last = bench(n, per_registry, fleet, stats, pki, args, Path(tmp))
                    rows.append(row)
                    if not args.json:
                        print(f"{auth} N={n}x{per_registry}: probe phase runs "
                              f"{', '.join(f'{t:.3f}' for t in row.probe_runs)} s", file=sys.stderr)
                if last is not None:
                    stats.reset()
                    baseline = doctor(last, fleet, cases[-1][0], pki, False, args.probe_timeout)["wall"]
                    if stats.total(*ALL_KINDS):
                        raise SystemExit("FAIL: doctor --no-probe sent requests to the registries")
            finally:
                fleet.stop()
            tables.append((auth, rows, baseline))
    elapsed = time.perf_counter() - started
    if args.json:
        json.dump({"scheme": args.scheme, "latency": args.latency, "order": args.order, "runs": args.runs,
                   "poolSize": pool_size(), "benchWallS": elapsed,
                   "tables": [{"auth": auth, "noProbeWholeS": baseline, "rows": [asdict(r) for r in rows]}
                              for auth, rows, baseline in tables]},
                  sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write("\n".join(table(auth, rows, baseline, args) for auth, rows, baseline in tables))
        print(f"bench wall time: {elapsed:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
