"""No secret ever leaves a live run: passwords, tokens, `auth` values and identity tokens from the
cluster's secrets, and the kubeconfig's bearer token, appear in no output format, not even at -v 9,
including for malformed secrets whose broken text surrounds a password."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest

from tests.integration.live_helpers import (
    DOCKERCFG,
    INTERNAL,
    Run,
    b64,
    fake_kube,
    global_pull_secret,
    namespace,
    openshift_cluster,
    pod,
    pull_secret,
    service_account,
    start_doctor,
)

FORMATS = ("table", "wide", "json", "yaml", "markdown")
BEARER = "sha256~kubeconfig-bearer-LEAKCHECK-a1b2c3"
PASSWORDS = {
    "quay": "LEAK-quay-pw-71d3",
    "field": "LEAK-field-pw-8e2a",
    "dockercfg": "LEAK-dockercfg-pw-44c0",
    "global": "LEAK-global-pw-0f9e",
    "truncated": "LEAK-truncated-pw-5b6c",
    "nocolon": "LEAK-nocolon-value-9a8b",
    "badb64": "LEAK-not-base64-3c2d!!",
    "sa-token": "LEAK-sa-jwt-eyJhbGciOi-77",
    "internal": "LEAK-internal-jwt-6161",
}
IDENTITY = "LEAK-identity-token-2e4f"
REGISTRY_TOKEN = "LEAK-registry-token-d00d"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def forbidden_strings() -> list[str]:
    """Every secret, its base64 forms, and the `auth` values built from it."""
    out = [BEARER, IDENTITY, REGISTRY_TOKEN]
    for user, pw in [("bob", PASSWORDS["quay"]), ("field-user", PASSWORDS["field"]), ("cfg", PASSWORDS["dockercfg"]),
                     ("gps", PASSWORDS["global"]), ("t", PASSWORDS["truncated"]), ("<token>", PASSWORDS["internal"])]:
        out += [pw, b64(f"{user}:{pw}"), b64(pw)]
    out += [PASSWORDS["nocolon"], b64(PASSWORDS["nocolon"]), PASSWORDS["badb64"], PASSWORDS["sa-token"],
            b64(PASSWORDS["sa-token"])]
    return out


def leaky_objects(host: str) -> list[dict[str, object]]:
    ns = "vault"

    def raw(name: str, text: str, typ: str = "kubernetes.io/dockerconfigjson",
            key: str = ".dockerconfigjson") -> dict[str, object]:
        return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": ns}, "type": typ,
                "data": {key: b64(text)}}

    truncated = json.dumps({"auths": {host: {"username": "t", "password": PASSWORDS["truncated"],
                                             "auth": b64(f"t:{PASSWORDS['truncated']}")}}})[:-3]
    return [
        namespace(ns),
        service_account("default", ns, pull=["fields"]),
        pull_secret("good", ns, {host: {"auth": b64(f"bob:{PASSWORDS['quay']}"), "email": "bob@example.com"}}),
        pull_secret("fields", ns, {f"{host}/fields": {"username": "field-user", "password": PASSWORDS["field"]},
                                   f"{host}/idt": {"identitytoken": IDENTITY},
                                   f"{host}/rt": {"registrytoken": REGISTRY_TOKEN}}),
        raw("cfg", json.dumps({f"https://{host}": {"auth": b64(f"cfg:{PASSWORDS['dockercfg']}")}}), DOCKERCFG,
            ".dockercfg"),
        # Malformed: truncated JSON right after a password, an auth without a colon, an auth not in base64.
        raw("truncated", truncated),
        pull_secret("nocolon", ns, {host: {"auth": b64(PASSWORDS["nocolon"])}}),
        pull_secret("badb64", ns, {host: {"auth": PASSWORDS["badb64"]}}),
        # Not a pull secret, referenced as one (wrong type): its token must not show either.
        raw("sa-token", PASSWORDS["sa-token"], "kubernetes.io/service-account-token", "token"),
        {"apiVersion": "v1", "kind": "Secret",
         "metadata": {"name": "default-dockercfg-abcde", "namespace": ns,
                      "annotations": {"openshift.io/internal-registry-auth-token.service-account": "default",
                                      "openshift.io/internal-registry-auth-token.binding": "bound"}},
         "type": DOCKERCFG, "data": {".dockercfg": b64(json.dumps({INTERNAL: {"auth": b64(
             f"<token>:{PASSWORDS['internal']}")}}))}},
        global_pull_secret({"cloud.openshift.com": {"auth": b64(f"gps:{PASSWORDS['global']}")},
                            host: {"auth": b64(f"gps:{PASSWORDS['global']}")}}),
        pod("good-0", ns, f"{host}/acme/app:1", pull=["good", "cfg"]),
        pod("fields-0", ns, f"{host}/fields/app:1", pull=["fields"]),
        pod("idt-0", ns, f"{host}/idt/app:1", pull=["fields"]),
        pod("broken-0", ns, f"{host}/acme/app:2", pull=["truncated", "nocolon", "badb64", "sa-token"],
            waiting=("ErrImagePull", "must be formatted as base64(username:password)")),
        pod("internal-0", ns, f"{INTERNAL}/vault/app:1", pull=["default-dockercfg-abcde"]),
        pod("global-0", ns, f"{host}/global/app:1"),
    ]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Run]]:
    tmp = tmp_path_factory.mktemp("leak")
    host = f"127.0.0.1:{closed_port()}"  # probes fail fast: connection refused
    with fake_kube(openshift=True) as api:
        openshift_cluster(api, leaky_objects(host))
        api.add_user("leaky", BEARER, groups=("system:masters",))
        kc = api.kubeconfig(tmp / "kubeconfig", user="leaky", namespace="vault")
        env = {"KUBECONFIG": str(tmp / "none")}
        pending = {fmt: start_doctor("--no-probe", "-o", fmt, "-v", "9", kubeconfig=kc, env=env) for fmt in FORMATS}
        # With probes (login probes of every secret named as a target too), refused at once.
        pending["probed"] = start_doctor("-o", "wide", "-v", "9", "--probe-timeout", "2", "secret/good",
                                         "secret/fields", "secret/cfg", "secret/truncated", "secret/nocolon",
                                         "secret/badb64", "pod/broken-0", "pod/good-0", kubeconfig=kc, env=env)
        pending["probed-json"] = start_doctor("-o", "json", "--probe-timeout", "2", kubeconfig=kc, env=env)
        yield {name: p.result() for name, p in pending.items()}


@pytest.mark.parametrize("name", [*FORMATS, "probed", "probed-json"])
def test_no_secret_in_any_output(runs: dict[str, Run], name: str) -> None:
    run = runs[name]
    assert run.code == 1, run
    assert "Traceback" not in run.err and "internal error" not in run.err
    assert run.out.strip()
    if name not in ("json", "probed-json", "yaml"):
        assert "DEBUG" in run.err or "INFO" in run.err  # -v 9 did log
    leaked = [s for s in forbidden_strings() if s in run.out or s in run.err]
    assert leaked == [], leaked
    assert "LEAK" not in run.out + run.err  # nor any piece of them


def test_the_report_still_names_the_problems(runs: dict[str, Run]) -> None:
    """Redaction is not silence: the malformed secrets are reported, usernames shown."""
    doc = json.loads(runs["json"].out)
    malformed = {f["object"]["name"] for f in doc["findings"] if f["check"] == "pull-secret-malformed"}
    assert {"truncated", "nocolon", "badb64"} <= malformed
    assert any(f["check"] == "pull-secret-wrong-type" and f["object"]["name"] == "sa-token" for f in doc["findings"])
    users = {c["username"] for i in doc["images"] for c in i["credentials"]}
    assert {"bob", "field-user", "cfg"} <= users
    assert all(len(c["fingerprint"]) == 8 for i in doc["images"] for c in i["credentials"])
