"""Pure parts of the probe layer: what gets probed for a container or a secret entry,
rate-limit and error-body parsing, delegated-auth detection, the bounded pool."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from kubectl_pullsecret import dockerconfig, probe_model, registry
from kubectl_pullsecret.checks.registry import delegated_host
from kubectl_pullsecret.probe import _run_pool
from kubectl_pullsecret.probe_model import ChainSpec, ImageProbe, Login, Result, cluster_internal, plan_image, plan_login
from kubectl_pullsecret.resolve import Resolver, Target, node_credentials, resolve_all, select
from kubectl_pullsecret.snapshot import load_files
from tests.unit.helpers_k8s import auth, pod, pull_secret, raw_secret


def _resolutions(tmp_path: Any, *objects: dict[str, Any], authfile: bytes | None = None) -> list[Any]:
    import yaml

    path = tmp_path / "in.yaml"
    path.write_text(yaml.safe_dump_all(objects))
    snap = load_files([str(path)])
    scope = select(snap, [Target.parse("pod/p")], ["ns"], None)
    node = node_credentials(snap, ("node.json", authfile) if authfile else None)
    return resolve_all(Resolver(snap, node), scope.subjects)


def test_plan_follows_kubelet_order_and_drops_repeated_logins(tmp_path: Any) -> None:
    a = pull_secret("a", {"quay.io/acme": auth("robot", "pw-one")}, ns="ns")
    b = pull_secret("b", {"quay.io": auth("robot", "pw-two")}, ns="ns")
    c = pull_secret("c", {"quay.io": auth("robot", "pw-one")}, ns="ns")
    [res] = _resolutions(tmp_path, a, b, c, pod("p", "quay.io/acme/web@sha256:" + "1" * 64, ns="ns",
                                                pull=["c", "b", "a"]))
    spec = plan_image(res)
    assert isinstance(spec, ChainSpec)
    assert (spec.registry, spec.repository, spec.ref) == ("quay.io", "acme/web", "sha256:" + "1" * 64)
    # kubelet order: keys reverse-lexicographic (a's quay.io/acme first), then quay.io's
    # entries in pod secret order (c, b); c repeats a's login, so it is not tried again.
    assert [c.source for c in res.credentials] == ["secret/ns/a", "secret/ns/c", "secret/ns/b"]
    assert [(i, lg.username, lg.password) for i, lg in spec.logins] == [(0, "robot", "pw-one"), (2, "robot", "pw-two")]


def test_plan_anonymous_and_empty_logins(tmp_path: Any) -> None:
    [res] = _resolutions(tmp_path, pod("p", "quay.io/acme/web:1", ns="ns", pull=[]))
    spec = plan_image(res)
    assert isinstance(spec, ChainSpec) and spec.logins == ((None, Login()),) and spec.ref == "1"
    only_token = pull_secret("t", {"quay.io": {"identitytoken": "tok-abcdef"}}, ns="ns")
    [res] = _resolutions(tmp_path, only_token, pod("p", "quay.io/acme/web", ns="ns", pull=["t"]))
    spec = plan_image(res)
    # The kubelet ignores identitytoken: it sends an empty login.
    assert isinstance(spec, ChainSpec) and spec.logins == ((None, Login()),) and spec.ref == "latest"


@pytest.mark.parametrize(("objects", "says"), [
    ([raw_secret("bad", ".dockerconfigjson", "{not json", ns="ns"),
      pod("p", "quay.io/a/b", ns="ns", pull=["bad"])], "malformed"),
    ([{"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockerconfigjson",
       "metadata": {"name": "hidden", "namespace": "ns"}},
      pod("p", "quay.io/a/b", ns="ns", pull=["hidden"])], "unknown"),
    ([pod("p", "image-registry.openshift-image-registry.svc:5000/ns/app:1", ns="ns", pull=[])], "cluster-internal"),
])
def test_plan_skips(tmp_path: Any, objects: list[dict[str, Any]], says: str) -> None:
    [res] = _resolutions(tmp_path, *objects)
    planned = plan_image(res)
    assert isinstance(planned, ImageProbe) and planned.outcome == "skipped" and says in planned.detail


def test_no_plan_for_an_invalid_reference(tmp_path: Any) -> None:
    [res] = _resolutions(tmp_path, pod("p", "UPPER/Case:x", ns="ns", pull=[]))
    assert plan_image(res) is None


def _entry(key: str, **fields: str) -> dockerconfig.Entry:
    import base64
    import json

    cfg = dockerconfig.parse(json.dumps({"auths": {key: fields}}).encode(), "dockerconfigjson", "test")
    if "auth" in fields:
        fields["auth"] = base64.b64encode(fields["auth"].encode()).decode()
        cfg = dockerconfig.parse(json.dumps({"auths": {key: fields}}).encode(), "dockerconfigjson", "test")
    return cfg.entries[0]


@pytest.mark.parametrize(("key", "fields", "registry_name", "skip"), [
    ("quay.io", {"auth": "u:p-secret"}, "quay.io", None),
    ("https://index.docker.io/v1/", {"auth": "u:p-secret"}, "docker.io", None),
    ("registry.example.com:5000/team", {"auth": "u:p-secret"}, "registry.example.com:5000", None),
    ("quay.io", {"identitytoken": "idt-secret"}, "quay.io", None),
    ("*.example.com", {"auth": "u:p-secret"}, "*.example.com", "wildcard"),
    ("cloud.openshift.com", {"auth": "u:p-secret"}, "cloud.openshift.com", "Telemetry"),
    ("quay.io", {"email": "x@example.com"}, "quay.io", "no username"),
    ("image-registry.openshift-image-registry.svc:5000", {"auth": "u:p-secret"},
     "image-registry.openshift-image-registry.svc:5000", "cluster-internal"),
    ("quay.io", {"auth": "no-colon"}, "quay.io", "malformed"),
])
def test_plan_login(key: str, fields: dict[str, str], registry_name: str, skip: str | None) -> None:
    plan = plan_login("secret/ns/s", _entry(key, **fields))
    assert plan.registry == registry_name
    if skip is None:
        assert plan.spec is not None and plan.skip is None and plan.spec.registry == registry_name
    else:
        assert plan.spec is None and plan.skip is not None and skip in plan.skip


@pytest.mark.parametrize(("host", "internal"), [
    ("image-registry.openshift-image-registry.svc:5000", True), ("registry.ns.svc.cluster.local", True),
    ("quay.io", False), ("svc.example.com", False), ("127.0.0.1:5000", False),
])
def test_cluster_internal(host: str, internal: bool) -> None:
    assert cluster_internal(host) is internal


@pytest.mark.parametrize(("headers", "expected"), [
    ({"ratelimit-limit": "100;w=21600", "ratelimit-remaining": "76;w=21600"},
     {"limit": 100, "remaining": 76, "windowSeconds": 21600}),
    ({"retry-after": "120"}, {"retryAfter": 120}),
    ({"retry-after": "Wed, 21 Oct 2026 07:28:00 GMT"}, {"retryAfter": "Wed, 21 Oct 2026 07:28:00 GMT"}),
    ({"ratelimit-remaining": "garbage"}, None),
    ({}, None),
])
def test_rate_limit_headers(headers: dict[str, str], expected: dict[str, Any] | None) -> None:
    assert registry._rate_limit(headers) == expected


@pytest.mark.parametrize(("body", "expected"), [
    (b'{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"x"}}]}',
     ("MANIFEST_UNKNOWN", "manifest unknown")),
    (b'{"details":"incorrect username or password"}', (None, "incorrect username or password")),
    (b'{"error":"invalid_grant","error_description":"bad refresh token"}', ("invalid_grant", "bad refresh token")),
    (b'{"errors":"not a list"}', (None, "")),
    (b"<html>oops</html>", (None, "")),
    (b'["a"]', (None, "")),
    (b"", (None, "")),
    (b'{"errors":[{"code":"DENIED","message":"line\\nbreak\\u001b[31m' + b"x" * 400 + b'"}]}', ("DENIED", None)),
])
def test_error_bodies(body: bytes, expected: tuple[str | None, str | None]) -> None:
    code, message = registry._errors(body)
    assert code == expected[0]
    if expected[1] is None:  # hostile: one bounded printable line
        assert len(message) <= 160 and "\n" not in message and "\x1b" not in message
    else:
        assert message == expected[1]


def _result(auth_server: str | None, realm: str | None) -> Result:
    return Result("ok", "x", "d", auth_server=auth_server, realm=realm)


@pytest.mark.parametrize(("registry_name", "auth_server", "delegated"), [
    ("quay.io", "quay.io", None),
    ("registry.example.com:5000", "registry.example.com", None),  # same host, other port
    ("private.example.com", "sso.example.com", "sso.example.com"),
    ("127.0.0.1:5000", "127.0.0.2:5001", "127.0.0.2:5001"),
    ("docker.io", "auth.docker.io", None),  # Docker Hub's own pair: the runtime handles it
])
def test_delegated_host(registry_name: str, auth_server: str, delegated: str | None) -> None:
    assert delegated_host(registry_name, _result(auth_server, f"https://{auth_server}/token")) == delegated
    assert delegated_host(registry_name, _result(auth_server, None)) is None  # Basic: no realm


def test_pool_runs_in_parallel_and_abandons_what_overruns() -> None:
    release = threading.Event()
    started = time.monotonic()

    def slow(i: int) -> int:
        time.sleep(0.3)
        return i

    results = _run_pool([lambda i=i: slow(i) for i in range(8)], 8, 5.0)  # type: ignore[misc]
    assert results == list(range(8))
    assert time.monotonic() - started < 1.5  # not 8 × 0.3 s
    results = _run_pool([lambda: 1, release.wait], 2, 0.3)  # type: ignore[list-item]
    assert results == [1, None]  # the stuck task is abandoned, not waited for
    release.set()


def test_pool_reraises_task_errors() -> None:
    def boom() -> int:
        raise ValueError("bug")

    with pytest.raises(ValueError, match="bug"):
        _run_pool([boom], 2, 1.0)


def test_memo_computes_once_for_concurrent_callers() -> None:
    memo = registry.Memo()
    calls: list[int] = []
    gate = threading.Barrier(6)

    def compute() -> str:
        calls.append(1)
        time.sleep(0.05)
        return "v"

    def caller() -> str:
        gate.wait()
        return str(memo.get("k", compute))

    assert _run_pool([caller] * 6, 6, 5.0) == ["v"] * 6
    assert len(calls) == 1


@pytest.mark.parametrize(("name", "host"), [
    ("docker.io", "registry-1.docker.io"), ("index.docker.io", "registry-1.docker.io"),
    ("registry-1.docker.io", "registry-1.docker.io"), ("quay.io", "quay.io"), ("localhost:5000", "localhost:5000"),
])
def test_api_host(name: str, host: str) -> None:
    """Docker Hub's API is not on docker.io (DOMAIN.md §1)."""
    assert probe_model.api_host(name) == host


@pytest.mark.parametrize(("status", "code", "message", "text"), [
    (401, "UNAUTHORIZED", "authentication required", "HTTP 401, UNAUTHORIZED: authentication required"),
    (404, None, "", "HTTP 404"),
    (403, None, "nope", "HTTP 403, nope"),
    (429, "TOOMANYREQUESTS", "", "HTTP 429, TOOMANYREQUESTS"),
])
def test_status_text(status: int, code: str | None, message: str, text: str) -> None:
    assert registry._status(status, code, message) == text
