"""The node probe program on a node: the runtime's proxy from its systemd drop-ins
(Environment= and EnvironmentFile=), an unknown CA bundle, certs.d trust for a whole
probe (token server included), the result document scrubbed before it is encoded, and
the certifi stub's bundle named before requests is imported. TLS cases run against real
TLS servers (fakeregistry.py) with certificates from the test PKI (registry_env.py)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kubectl_pullsecret import nodeprobe, redact
from kubectl_pullsecret.probe_model import Result
from tests.integration.fakeregistry import FakeRegistry, Reply, Request, Response, bearer_challenge
from tests.integration.registry_env import Pki, make_pki

DIGEST = "sha256:" + "d" * 64
DROPINS = "/etc/systemd/system/crio.service.d"


def _write(root: Path, path: str, text: str) -> None:
    target = root / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)


def _proxy(root: Path) -> dict[str, str]:
    return nodeprobe.runtime_proxy(nodeprobe.Host(str(root)))


# --- the runtime's proxy ----------------------------------------------------------------


def test_environment_file_optional_or_not(tmp_path: Path) -> None:
    _write(tmp_path, f"{DROPINS}/10-proxy.conf", "[Service]\nEnvironmentFile=-/etc/proxy/optional.env\n"
                                                 "EnvironmentFile=/etc/proxy/required.env\n")
    _write(tmp_path, "/etc/proxy/optional.env", "HTTP_PROXY=http://optional:1\n")
    _write(tmp_path, "/etc/proxy/required.env", "HTTPS_PROXY=http://required:2\n")
    assert _proxy(tmp_path) == {"HTTP_PROXY": "http://optional:1", "HTTPS_PROXY": "http://required:2"}
    host = nodeprobe.Host(str(tmp_path))
    nodeprobe.runtime_proxy(host)
    assert {"/etc/proxy/optional.env", "/etc/proxy/required.env"} <= set(host.read)


@pytest.mark.parametrize("spec", ["-/etc/mco/proxy.env", "/etc/mco/proxy.env", "/run/proxy.env", "-/run/proxy.env",
                                  "relative/proxy.env", "-"])
def test_environment_file_missing_or_out_of_reach_adds_nothing(tmp_path: Path, spec: str) -> None:
    """A file that is absent, or outside /etc (not mounted in the pod: absent too), or not
    absolute (systemd refuses it) leaves the Environment= values as they are."""
    _write(tmp_path, f"{DROPINS}/10-proxy.conf",
           f"[Service]\nEnvironment=HTTPS_PROXY=http://env:1\nEnvironmentFile={spec}\n")
    assert _proxy(tmp_path) == {"HTTPS_PROXY": "http://env:1"}


def test_override_order(tmp_path: Path) -> None:
    """systemd: drop-ins in lexical order; Environment= in order, then EnvironmentFile=s in
    order, which override them whatever file they come from; an empty one resets."""
    _write(tmp_path, f"{DROPINS}/10-a.conf", "[Service]\nEnvironmentFile=/etc/proxy/a.env\n"
                                             "Environment=HTTP_PROXY=http://env-a:1 NO_PROXY=.a\n")
    _write(tmp_path, f"{DROPINS}/20-b.conf", "[Service]\nEnvironment=HTTPS_PROXY=http://env-b:2 HTTP_PROXY=http://env-b:2\n"
                                             "EnvironmentFile=/etc/proxy/b.env\n")
    _write(tmp_path, f"{DROPINS}/05-ignored.txt", "[Service]\nEnvironment=NO_PROXY=never\n")
    _write(tmp_path, "/etc/proxy/a.env", "HTTPS_PROXY=http://file-a:3\nNO_PROXY=.file-a\n")
    _write(tmp_path, "/etc/proxy/b.env", "NO_PROXY=.file-b\n")
    assert _proxy(tmp_path) == {"HTTPS_PROXY": "http://file-a:3",  # a file beats a later Environment=
                                "HTTP_PROXY": "http://env-b:2",  # the later Environment= wins
                                "NO_PROXY": ".file-b"}  # the later file wins
    _write(tmp_path, f"{DROPINS}/30-reset.conf", "[Service]\nEnvironmentFile=\nEnvironment=\n"
                                                 "Environment=NO_PROXY=.reset\n")
    assert _proxy(tmp_path) == {"NO_PROXY": ".reset"}


def test_upper_case_wins_and_an_empty_value_unsets(tmp_path: Path) -> None:
    _write(tmp_path, f"{DROPINS}/10.conf", "[Service]\nEnvironment=https_proxy=http://lower:1 "
                                           "HTTPS_PROXY=http://upper:2 http_proxy=http://lower:3\n"
                                           "Environment=NO_PROXY=x\nEnvironment=NO_PROXY=\n")
    assert _proxy(tmp_path) == {"HTTPS_PROXY": "http://upper:2", "HTTP_PROXY": "http://lower:3"}


def test_environment_percent_escaping_and_quotes(tmp_path: Path) -> None:
    """`%%` in a unit file is systemd's escape for `%`: the runtime sees `%25`, the proxy
    gets the password percent-decoded; both forms are scrubbed."""
    _write(tmp_path, f"{DROPINS}/10.conf",
           '[Service]\nEnvironment="HTTPS_PROXY=http://u:pct%%25pw%%40x-91@proxy:3128" NO_PROXY=a\\ b\n')
    found = _proxy(tmp_path)
    assert found == {"HTTPS_PROXY": "http://u:pct%25pw%40x-91@proxy:3128", "NO_PROXY": "a b"}
    assert redact.scrub("pct%25pw%40x-91 / pct%pw@x-91") == f"{redact.MASK} / {redact.MASK}"
    assert nodeprobe._shown_proxy(found["HTTPS_PROXY"]) == "http://proxy:3128"


def test_environment_file_syntax() -> None:
    text = ("# comment\n; another\n  \n"
            "HTTPS_PROXY = 'http://single:1'  \n"
            'HTTP_PROXY="http://dq:2/\\"x\\"\\$y\\z"\n'
            "NO_PROXY=.a,.b   \n"
            "export FTP_PROXY=ignored\n"
            "CONT=one\\\ntwo\n"
            "JOINED='a'\"b\"c\n"
            "RAW=a'b'\"c\" d\\ \n"
            "no equals sign\n"
            "# comment \\\nstill=comment\n"
            "CRLF=x\r\n"
            "1BAD=x\n"
            "LAST=unterminated 'quote")
    assert nodeprobe._env_file_assignments(text) == [
        ("HTTPS_PROXY", "http://single:1"), ("HTTP_PROXY", 'http://dq:2/"x"$y\\z'), ("NO_PROXY", ".a,.b"),
        ("CONT", "onetwo"), ("JOINED", "abc"), ("RAW", "a'b'\"c\" d "), ("CRLF", "x"),
        ("LAST", "unterminated 'quote")]


def test_environment_file_wildcard(tmp_path: Path) -> None:
    _write(tmp_path, f"{DROPINS}/10.conf", "[Service]\nEnvironmentFile=-/etc/proxy.d/*.env\n")
    _write(tmp_path, "/etc/proxy.d/20-b.env", "HTTPS_PROXY=http://b:2\n")
    _write(tmp_path, "/etc/proxy.d/10-a.env", "HTTPS_PROXY=http://a:1\nNO_PROXY=.a\n")
    _write(tmp_path, "/etc/proxy.d/30-c.txt", "HTTPS_PROXY=http://c:3\n")
    assert _proxy(tmp_path) == {"HTTPS_PROXY": "http://b:2", "NO_PROXY": ".a"}


def test_settings_outside_service_are_ignored(tmp_path: Path) -> None:
    _write(tmp_path, f"{DROPINS}/10.conf", "[Unit]\nEnvironment=HTTPS_PROXY=http://unit:1\n[Service]\n"
                                           "# Environment=HTTPS_PROXY=http://commented:2\n"
                                           "Environment=HTTP_PROXY=http://long:3 \\\n  NO_PROXY=.svc\n")
    assert _proxy(tmp_path) == {"HTTP_PROXY": "http://long:3", "NO_PROXY": ".svc"}


# --- an unknown CA bundle -----------------------------------------------------------------


def _tls_error(detail: str) -> Result:
    return Result("tls-error", "reg.example", detail, None, None, None, None, "ping", None)


def test_unknown_trust_turns_only_verification_failures_into_skipped() -> None:
    reason = "none of /etc/a, /etc/b is readable on the node"
    failed = _tls_error("TLS certificate of reg.example is not trusted here (unable to get local issuer "
                        "certificate); pass --registry-ca-file with its CA, or --insecure-registry for a test registry")
    out = nodeprobe.unknown_trust(failed, reason)
    assert out.outcome == "skipped" and out.stage == "ping" and out.registry == "reg.example"
    assert "CA bundle could not be read" in out.detail and "/etc/a, /etc/b" in out.detail
    for detail in ("reg.example does not speak TLS on this port (a plain-http registry?); declare it",
                   "reg.example closed the connection during the TLS handshake",
                   "TLS handshake with reg.example failed (SSLV3_ALERT_HANDSHAKE_FAILURE)",
                   "the token realm http://x/ is not trusted here (http): credentials not sent"):
        assert nodeprobe.unknown_trust(_tls_error(detail), reason).outcome == "tls-error"
    ok = Result("ok", "reg.example", "TLS certificate of x is not trusted here (", None, None, 200, None, "manifest")
    assert nodeprobe.unknown_trust(ok, reason) is ok


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def environ() -> Iterator[None]:
    """probe_node sets the runtime's proxy variables and PULLSECRET_CA_BUNDLE: undone here."""
    saved = dict(os.environ)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _open_registry(req: Request) -> Reply:
    if req.path == "/v2/":
        return Response(200, [("Docker-Distribution-API-Version", "registry/2.0")], b"{}")
    return Response(200, [("Docker-Content-Digest", DIGEST), ("Content-Type", "application/vnd.oci.image.manifest.v1+json")])


def _job(images: list[str], sources: list[dict[str, str]] | None = None) -> dict[str, Any]:
    return {"version": 1, "nonce": "n", "timeout": 5, "sources": sources or [],
            "images": [{"image": image, "sources": list(range(len(sources or [])))} for image in images],
            "nodes": {"n1": list(range(len(images)))}}


def _outcomes(doc: dict[str, Any]) -> list[tuple[str, str]]:
    return [(img["attempts"][-1]["outcome"], img["attempts"][-1]["detail"]) for img in doc["images"]]


def test_unknown_bundle_skips_what_it_cannot_verify(pki: Pki, tmp_path: Path, environ: None) -> None:
    """No readable bundle (openSUSE's is a link out of /etc): a certificate that does not
    verify is `skipped`, one a certs.d CA signs verifies, a protocol failure stands."""
    root = tmp_path / "root"
    (root / "etc/ssl").mkdir(parents=True)
    os.symlink("/var/lib/ca-certificates/ca-bundle.pem", root / "etc/ssl/ca-bundle.pem")
    with FakeRegistry(_open_registry, cert_file=pki.server_cert, key_file=pki.server_key) as unknown, \
            FakeRegistry(_open_registry, host="127.0.0.2", cert_file=pki.server_cert, key_file=pki.server_key) as pinned, \
            FakeRegistry(_open_registry, host="127.0.0.3", cert_file=pki.untrusted_cert,
                         key_file=pki.untrusted_key) as foreign, \
            FakeRegistry(_open_registry, host="127.0.0.3") as plain:
        _write(root, f"/etc/containers/certs.d/{pinned.address}/ca.crt", Path(pki.ca_file).read_text())
        doc = nodeprobe.probe_node(_job([f"{r.address}/acme/web:1" for r in (unknown, pinned, foreign, plain)]),
                                   "n1", nodeprobe.Host(str(root)))
    assert doc["trust"]["caBundle"] is None and "is a link to /var/lib" in doc["trust"]["caBundleReason"]
    [u, p, f, h] = _outcomes(doc)
    assert u[0] == "skipped" and "CA bundle could not be read" in u[1] and "/etc/ssl/ca-bundle.pem" in u[1], u
    assert p[0] == "ok", p
    assert f[0] == "skipped", f
    assert h[0] == "tls-error" and ("does not speak TLS" in h[1] or "during the TLS handshake" in h[1]), h
    assert "PULLSECRET_CA_BUNDLE" not in os.environ


# --- certs.d trust for the whole probe of a registry ------------------------------------


def test_certs_d_trust_covers_the_token_server(pki: Pki, tmp_path: Path, environ: None) -> None:
    """containers/image and containerd use one client per registry, built from its certs.d
    directory, for its token server too: a registry on 127.0.0.1 whose realm is on
    127.0.0.3, both with certificates of a CA only the registry's certs.d has, is ok. A
    registry without that entry (insecure, so it gets as far as the token) is not trusted
    by the same token server."""
    token = "tok-certs-d-5521"
    user, password = "robot", "certs-d-pw-19"
    token_requests: list[Request] = []

    def token_server(req: Request) -> Reply:
        token_requests.append(req)
        return Response.json(200, {"token": token})

    with FakeRegistry(token_server, host="127.0.0.3", cert_file=pki.server_cert, key_file=pki.server_key) as auth:
        realm = f"{auth.url}/token"

        def registry(req: Request) -> Reply:
            if req.header("Authorization") != f"Bearer {token}":
                return Response(401, [bearer_challenge(realm, "reg"), ("Docker-Distribution-API-Version", "registry/2.0")])
            return _open_registry(req)

        with FakeRegistry(registry, cert_file=pki.server_cert, key_file=pki.server_key) as reg, \
                FakeRegistry(registry, host="127.0.0.2", cert_file=pki.server_cert, key_file=pki.server_key) as other:
            root = tmp_path / "root"
            # The node trusts some CA, not the test CA, except through certs.d/<registry>/.
            _write(root, "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", Path(pki.untrusted_ca_file).read_text())
            _write(root, f"/etc/containers/certs.d/{reg.address}/ca.crt", Path(pki.ca_file).read_text())
            _write(root, "/etc/containers/registries.conf",
                   f'[[registry]]\nlocation = "{other.address}"\ninsecure = true\n')
            config = json.dumps({"auths": {reg.address: {"auth": base64.b64encode(f"{user}:{password}".encode())
                                                         .decode()}}})
            sources = [{"name": "secret/ns/regcred", "format": "dockerconfigjson",
                        "data": base64.b64encode(config.encode()).decode()}]
            doc = nodeprobe.probe_node(_job([f"{reg.address}/acme/web:1", f"{other.address}/acme/web:1"], sources),
                                       "n1", nodeprobe.Host(str(root)))
    [ok, refused] = doc["images"]
    assert ok["attempts"][-1]["outcome"] == "ok", ok
    assert ok["attempts"][-1]["authServer"] == auth.address
    assert refused["attempts"][-1]["outcome"] == "tls-error", refused
    assert f"TLS certificate of {auth.address} is not trusted" in refused["attempts"][-1]["detail"]
    expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    assert [r.header("Authorization") for r in token_requests] == [expected]
    assert doc["trust"]["caBundle"] == "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem"
    assert os.environ["PULLSECRET_CA_BUNDLE"] == str(root / "etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem")


# --- the result line ----------------------------------------------------------------------


def test_result_is_scrubbed_before_it_is_encoded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """json.dumps writes `"` as \\" and é as \\u00e9: a scrub of the encoded text alone
    would miss such a password echoed into a detail."""
    password = 'pa"ss\\wörd-é-7731'
    assert password not in json.dumps(password)

    def probe_node(job: dict[str, Any], node: str, host: nodeprobe.Host) -> dict[str, Any]:
        redact.register(password)
        return {"version": 1, "node": node, "images": [{"id": 0, "attempts": [
            {"outcome": "credential-rejected", "detail": f"the server said: bad password {password}"}]}],
            "nested": [[{password: password}]]}

    monkeypatch.setattr(nodeprobe, "probe_node", probe_node)
    (tmp_path / "job.json").write_text(json.dumps({"version": 1}))
    assert nodeprobe.main(["--job", str(tmp_path / "job.json"), "--node", "n1", "--host", str(tmp_path)]) == 0
    line = capsys.readouterr().out
    doc = json.loads(line.split(nodeprobe.MARKER, 1)[1])
    assert doc["images"][0]["attempts"][0]["detail"] == f"the server said: bad password {redact.MASK}"
    assert doc["nested"] == [[{redact.MASK: redact.MASK}]]
    assert password not in line and json.dumps(password)[1:-1] not in line and "7731" not in line


def test_ca_bundle_is_named_before_requests_is_imported(tmp_path: Path) -> None:
    """requests 2.32.0 to 2.32.4 load certifi.where() when imported; the bundle's certifi
    stub reads PULLSECRET_CA_BUNDLE: it must be set by then."""
    root = tmp_path / "root"
    _write(root, "/etc/ssl/certs/ca-certificates.crt", "-----BEGIN CERTIFICATE-----\n")
    (tmp_path / "job.json").write_text(json.dumps(_job([])))
    spy = f"""
import importlib.abc, os, sys
seen = []
class Spy(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "requests" and not seen:
            seen.append(os.environ.get("PULLSECRET_CA_BUNDLE"))
        return None
sys.meta_path.insert(0, Spy())
from kubectl_pullsecret import nodeprobe
assert "requests" not in sys.modules
nodeprobe.main(["--job", {str(tmp_path / "job.json")!r}, "--node", "n1", "--host", {str(root)!r}])
print("SEEN", seen)
"""
    env = {k: v for k, v in os.environ.items() if k != "PULLSECRET_CA_BUNDLE"}
    env["PYTHONPATH"] = str(Path(nodeprobe.__file__).resolve().parent.parent)
    run = subprocess.run([sys.executable, "-c", spy], capture_output=True, text=True, timeout=60, env=env)
    assert run.returncode == 0, run.stderr
    assert f"SEEN [{str(root / 'etc/ssl/certs/ca-certificates.crt')!r}]" in run.stdout, run.stdout

