"""The checks of this version, run end to end through doctor on inline offline input.

Every table row asserts the check id, severity, object, a key phrase of the message
and, where the check has one, the shape of its fix. Domain facts are from
../shared/DOMAIN.md (§2 kubelet keyring, §3 containers/image, §5 failure messages,
§6 OpenShift) and the check catalogue in ../shared/SPEC.md.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import pytest
from helpers_k8s import (
    BINDING_ANNOTATION,
    INTERNAL,
    NS,
    T0,
    T1,
    TOKEN_SA_ANNOTATION,
    Obj,
    auth,
    b64,
    checks_of,
    cluster_version,
    deployment_with_pods,
    dockercfg_secret,
    event,
    one,
    only,
    openshift_namespace,
    openshift_sa,
    pod,
    pull_secret,
    raw_secret,
    run_doctor,
    sa,
    secret,
    snapshot,
    waiting,
    workload,
)

from kubectl_pullsecret import checks, reference
from kubectl_pullsecret.checks.base import Context
from kubectl_pullsecret.checks.credentials import key_mismatch
from kubectl_pullsecret.checks.events import classify
from kubectl_pullsecret.errors import UsageError
from kubectl_pullsecret.findings import Finding, ObjectRef, Severity
from kubectl_pullsecret.resolve import Resolver, node_credentials, select

QUAY = "quay.io/acme/web:1.2"
GOOD = pull_secret("good", {"quay.io": auth("robot", "good-pass-1")})
FILLER = pull_secret("filler", {"ghcr.io": auth("gh", "filler-pass")})  # makes the namespace's secrets "listed"


def ref(kind: str, name: str, ns: str | None = NS) -> ObjectRef:
    return ObjectRef(kind, ns, name)


def image_creds(report: Any, image: str) -> list[list[dict[str, str]]]:
    return [list(i.credentials) for i in report.images if i.image == image]


# --- pull-secret-missing -------------------------------------------------------------

MISSING = [
    # The SA references it; a workload template inherits it through admission.
    pytest.param([sa(pull=["regcred"]), FILLER, workload("Deployment", "web")],
                 [ref("ServiceAccount", "default")], "service account default", "quay.io", id="sa-reference"),
    pytest.param([sa(), FILLER, workload("Deployment", "web", pull=["regcred"])],
                 [ref("Deployment", "web")], "deployment web", "quay.io", id="workload-own-reference"),
    pytest.param([sa(), FILLER, pod(pull=["regcred"])], [ref("Pod", "web-1")], "pod web-1", "quay.io",
                 id="bare-pod-own-reference"),
    # A created pod carrying the SA's secret, whose owner template lists none: admission
    # injected it, so the SA is the one to blame (and to fix), not the pod.
    pytest.param([sa(pull=["regcred"]), FILLER, *deployment_with_pods("web", 1, pod_pull=["regcred"])],
                 [ref("ServiceAccount", "default")], "service account default", "quay.io", id="created-pod-injected"),
    # The registry in the fix is that of an image left without credentials.
    pytest.param([sa(), GOOD, pod(image=[QUAY, "ghcr.io/acme/side:2"], pull=["good", "regcred"])],
                 [ref("Pod", "web-1")], "pod web-1", "ghcr.io", id="registry-of-image-lacking-credentials"),
    pytest.param([sa(), FILLER, pod(image="nginx", pull=["regcred"])], [ref("Pod", "web-1")], "pod web-1",
                 "docker.io", id="docker-hub-image"),
]


@pytest.mark.parametrize(("objs", "objects", "holder", "registry"), MISSING)
def test_pull_secret_missing(tmp_path: Path, objs: list[Obj], objects: list[ObjectRef], holder: str,
                             registry: str) -> None:
    report = run_doctor(tmp_path, objs)
    found = only(report, "pull-secret-missing")
    assert [f.object for f in found] == objects
    for f in found:
        assert f.severity is Severity.ERROR
        assert f"'regcred' is referenced by {holder} but does not exist in namespace {NS}" in f.message
        assert "FailedToRetrieveImagePullSecret" in f.message
        assert f.fix is not None
        assert f.fix.command == (f"kubectl pullsecret fix create regcred --docker-server {registry} "
                                 f"--docker-username USER --docker-password-stdin -n {NS}")
        assert f.fix.equivalent[0].startswith(f"oc create secret docker-registry regcred --docker-server={registry} ")
    assert "pull-secret-data-unavailable" not in checks_of(report)


def test_pull_secret_missing_not_blamed_on_injected_pod(tmp_path: Path) -> None:
    report = run_doctor(tmp_path, [sa(pull=["regcred"]), FILLER, *deployment_with_pods("web", 2, pod_pull=["regcred"])])
    assert all(f.object.kind == "ServiceAccount" for f in only(report, "pull-secret-missing"))
    assert len(only(report, "pull-secret-missing")) == 1


def test_secret_absent_when_namespace_has_no_secrets_in_input(tmp_path: Path) -> None:
    report = run_doctor(tmp_path, [sa(), pod(pull=["regcred"])])
    assert "pull-secret-missing" not in checks_of(report)
    f = one(report, "pull-secret-data-unavailable")
    assert (f.severity, f.object) == (Severity.INFO, ref("Secret", "regcred"))
    assert f"no secrets of namespace {NS} were given" in f.message
    assert f"oc get secret regcred -n {NS} -o yaml" in f.message
    assert f.fix is None


# --- pull-secret-wrong-type ----------------------------------------------------------

DCJ = b64(json.dumps({"auths": {"quay.io": auth()}}))
DCFG = b64(json.dumps({"quay.io": auth()}))

WRONG_TYPE = [
    pytest.param(secret("reg", type="Opaque", data={".dockerconfigjson": DCJ}),
                 "is of type Opaque; the kubelet only reads", id="opaque-with-dockerconfigjson"),
    pytest.param(secret("reg", data={".dockercfg": DCFG}),
                 "but its data key is .dockercfg (type and key must agree)", id="dockerconfigjson-type-dockercfg-key"),
    pytest.param(dockercfg_secret("reg", {"auths": {"quay.io": auth()}}),
                 "has an `auths` wrapper: that is the .dockerconfigjson format", id="dockercfg-with-auths-wrapper"),
    pytest.param(raw_secret("reg", ".dockerconfigjson", json.dumps({"quay.io": auth()})),
                 "has no `auths` object: the kubelet finds no credentials in it (it looks like the legacy .dockercfg",
                 id="dockerconfigjson-without-auths"),
    pytest.param(pull_secret("reg", {"quay.io": auth()}), None, id="negative-dockerconfigjson"),
    pytest.param(dockercfg_secret("reg", {"quay.io": auth()}), None, id="negative-dockercfg"),
]


@pytest.mark.parametrize(("secret_obj", "phrase"), WRONG_TYPE)
def test_pull_secret_wrong_type(tmp_path: Path, secret_obj: Obj, phrase: str | None) -> None:
    report = run_doctor(tmp_path, [sa(pull=["reg"]), secret_obj, workload("Deployment", "web")])
    found = only(report, "pull-secret-wrong-type")
    if phrase is None:
        assert found == []
        assert image_creds(report, QUAY)[0][0]["source"] == f"secret/{NS}/reg"
        return
    [f] = found
    assert (f.severity, f.object, f.container) == (Severity.ERROR, ref("Secret", "reg"), None)
    assert phrase in f.message
    assert "Referenced by serviceaccount/default" in f.message
    assert f.fix is not None and f.fix.command is not None
    assert f.fix.command == f"kubectl pullsecret fix create reg --from-file PATH --overwrite --link default -n {NS}"
    assert f.fix.equivalent[0] == f"oc delete secret reg -n {NS}"
    assert f.fix.equivalent[-1] == f"oc secrets link default reg --for=pull -n {NS}"
    # The kubelet ignores the secret: nothing from it is tried.
    assert image_creds(report, QUAY) == [[]]


def test_opaque_secret_fix_names_the_type_its_key_needs(tmp_path: Path) -> None:
    report = run_doctor(tmp_path, [sa(), secret("reg", type="Opaque", data={".dockercfg": DCFG}), pod(pull=["reg"])])
    f = one(report, "pull-secret-wrong-type")
    assert "it holds a .dockercfg key, so it must be re-created with type kubernetes.io/dockercfg" in f.message


# --- pull-secret-malformed -----------------------------------------------------------

MALFORMED = [
    pytest.param(pull_secret("bad", {"quay.io": {"auth": "!!not*base64-Zm9v"}}),
                 'entry "quay.io": `auth` is not valid base64', "!!not*base64-Zm9v", id="auth-bad-base64"),
    pytest.param(pull_secret("bad", {"quay.io": {"auth": b64("robot-without-colon-pw")}}),
                 'entry "quay.io": `auth` must be base64 of username:password', "robot-without-colon-pw",
                 id="auth-without-colon"),
    pytest.param(raw_secret("bad", ".dockerconfigjson", '{"auths": {"quay.io": {"password": "hunter2-xyz"'),
                 "not valid JSON", "hunter2-xyz", id="invalid-json"),
    pytest.param(pull_secret("bad", {"quay.io": {"username": 42, "password": "hunter2-xyz"}}),
                 'entry "quay.io": `username` must be a string, not number', "hunter2-xyz", id="username-wrong-type"),
]


@pytest.mark.parametrize(("bad", "phrase", "secret_text"), MALFORMED)
def test_pull_secret_malformed(tmp_path: Path, bad: Obj, phrase: str, secret_text: str) -> None:
    # The pod also has a secret that matches: a malformed one still fails every pull.
    report = run_doctor(tmp_path, [sa(), GOOD, bad, pod(image=[QUAY, "nginx"], pull=["good", "bad"])])
    f = one(report, "pull-secret-malformed")
    assert (f.severity, f.object) == (Severity.ERROR, ref("Secret", "bad"))
    assert phrase in f.message
    assert "fails every image pull of the pods that use it, even of public images" in f.message
    assert "Referenced by pod/web-1" in f.message
    for leaked in (secret_text, bad["data"][".dockerconfigjson"]):
        assert leaked not in f.message
    assert f.fix is not None and f.fix.command == f"kubectl pullsecret fix create bad --from-file PATH --overwrite -n {NS}"
    assert image_creds(report, QUAY) == [[]]
    assert image_creds(report, "nginx") == [[]]
    # The kubelet does not pull anonymously either: the no-credential checks stay quiet.
    assert not checks_of(report) & {"no-matching-credential", "dockerhub-anonymous", "crio-kubelet-disagree"}


def test_malformed_authfile_is_a_file_finding(tmp_path: Path) -> None:
    authfile = tmp_path / "config.json"
    authfile.write_text(json.dumps({"auths": {"quay.io": {"auth": b64("no-colon-here")}}}))
    report = run_doctor(tmp_path, [sa(), pod()], authfile=str(authfile))
    f = one(report, "pull-secret-malformed")
    assert (f.severity, f.object) == (Severity.ERROR, ObjectRef("File", None, str(authfile)))
    assert f"Credential file {authfile}:" in f.message
    assert "has no node credentials at all" in f.message
    assert b64("no-colon-here") not in f.message
    assert image_creds(report, QUAY) == [[]]


# --- pull-secret-data-unavailable ----------------------------------------------------

UNAVAILABLE = [
    pytest.param(secret("reg", data={".dockerconfigjson": ""}), "has no readable .dockerconfigjson value", id="empty-value"),
    pytest.param(secret("reg", no_data=True), "has no data in the input", id="no-data"),
    pytest.param(secret("reg", data={}), "has no data in the input", id="empty-data"),
    pytest.param(secret("reg", data={".dockerconfigjson": "<redacted>"}), "absent, empty or redacted", id="redacted"),
    pytest.param(dockercfg_secret("reg", {"quay.io": auth()}), None, id="negative-readable"),
]


@pytest.mark.parametrize(("secret_obj", "phrase"), UNAVAILABLE)
def test_pull_secret_data_unavailable(tmp_path: Path, secret_obj: Obj, phrase: str | None) -> None:
    report = run_doctor(tmp_path, [sa(), secret_obj, pod(pull=["reg"])])
    found = only(report, "pull-secret-data-unavailable")
    if phrase is None:
        assert found == []
        return
    [f] = found
    assert (f.severity, f.object, f.fix) == (Severity.INFO, ref("Secret", "reg"), None)
    assert phrase in f.message
    assert "its credentials are not checked" in f.message
    # Skipped, not failed.
    assert not checks_of(report) & {"pull-secret-wrong-type", "pull-secret-malformed", "no-matching-credential"}


# --- no-matching-credential ----------------------------------------------------------

def test_no_matching_credential(tmp_path: Path) -> None:
    # The pod's secret is its SA's (admission copied it), so the fix links the new one to the SA.
    report = run_doctor(tmp_path, [sa(pull=["filler"]), FILLER, pod(pull=["filler"])])
    f = one(report, "no-matching-credential")
    assert (f.severity, f.object, f.container, f.image) == (Severity.WARNING, ref("Pod", "web-1"), "web", QUAY)
    assert "No credential matches quay.io/acme/web" in f.message
    assert "probes are off" in f.message
    assert f"Searched: secret/{NS}/filler (ghcr.io)" in f.message
    assert f.fix is not None
    assert f.fix.command == (f"kubectl pullsecret fix create quay-io-pull --docker-server quay.io --docker-username USER "
                             f"--docker-password-stdin --link default -n {NS}")
    assert f"oc secrets link default quay-io-pull --for=pull -n {NS}" in f.fix.equivalent


@pytest.mark.parametrize(("subject", "patch"), [
    pytest.param(pod(pull=["filler"]), None, id="bare-pod"),
    pytest.param(workload("Deployment", "web", pull=["filler"]), "kubectl patch deployment web", id="deployment"),
])
def test_credential_fix_for_pods_listing_their_own_secrets(tmp_path: Path, subject: Obj, patch: str | None) -> None:
    """Pods that list their own pull secrets never get the SA's: no --link, the secret goes in the template."""
    report = run_doctor(tmp_path, [sa(), FILLER, subject])
    f = one(report, "no-matching-credential")
    assert f.fix is not None and f.fix.command is not None
    assert "--link" not in f.fix.command
    assert not any("oc secrets link" in c for c in f.fix.equivalent)
    last = f.fix.equivalent[-1]
    if patch is None:
        assert last == "# add quay-io-pull to the pod manifest's imagePullSecrets and re-create the pod"
    else:
        assert last.startswith(patch) and '"path": "/spec/template/spec/imagePullSecrets/-"' in last
        assert '"value": {"name": "quay-io-pull"}' in last


NO_MATCH_NEGATIVE = [
    pytest.param([sa(), FILLER, pod(image="nginx", pull=["filler"])], {"dockerhub-anonymous"}, id="docker-hub-image"),
    pytest.param([sa(), pod(pull=["reg"])], {"pull-secret-data-unavailable"}, id="secret-not-in-input"),
    pytest.param([sa(), secret("reg", data={".dockerconfigjson": "<redacted>"}), pod(pull=["reg"])],
                 {"pull-secret-data-unavailable"}, id="secret-data-redacted"),
    pytest.param([sa(), GOOD, pod(pull=["good"])], set(), id="credential-matches"),
    pytest.param([sa(pull=["good"]), GOOD, workload("Deployment", "web")], set(), id="template-inherits-sa-credential"),
]


@pytest.mark.parametrize(("objs", "instead"), NO_MATCH_NEGATIVE)
def test_no_matching_credential_not_raised(tmp_path: Path, objs: list[Obj], instead: set[str]) -> None:
    report = run_doctor(tmp_path, objs)
    assert "no-matching-credential" not in checks_of(report)
    assert checks_of(report) == instead


@pytest.mark.parametrize(("image", "check"), [
    pytest.param("quay.io/acme/web:1.2", "no-matching-credential", id="quay"),
    pytest.param("nginx:1.27", "dockerhub-anonymous", id="docker-hub"),
])
@pytest.mark.parametrize("entry", [
    pytest.param({"identitytoken": "tok-3nTr0py-value"}, id="identitytoken-only"),
    pytest.param({"email": "ops@example.com"}, id="empty-entry"),
])
def test_match_without_username_or_password_is_anonymous(tmp_path: Path, image: str, check: str,
                                                          entry: dict[str, str]) -> None:
    """keyring.go matches the key, but the kubelet reads no identitytoken: an empty login."""
    key = "docker.io" if check == "dockerhub-anonymous" else "quay.io"
    report = run_doctor(tmp_path, [sa(), pull_secret("tok", {key: entry}), pod(image=image, pull=["tok"])])
    f = one(report, check)
    assert f"secret/{NS}/tok key '{key}'" in f.message
    assert "have no username or password" in f.message
    assert report.images[0].credentials  # still listed: it is what the kubelet tries


@pytest.mark.parametrize(("obj", "restart"), [
    pytest.param(pod(image=f"{INTERNAL}/{NS}/app:1"), f"kubectl pullsecret fix restart pod/web-1 -n {NS}", id="pod"),
    pytest.param(workload("Deployment", "web", f"{INTERNAL}/{NS}/app:1"), None, id="template"),
])
def test_no_matching_credential_internal_registry_has_no_create_fix(tmp_path: Path, obj: Obj, restart: str | None) -> None:
    report = run_doctor(tmp_path, [openshift_sa(), FILLER, obj])
    f = one(report, "no-matching-credential")
    assert "Internal registry credentials come from service account default's default-dockercfg-* pull secret" in f.message
    assert (f.fix.command if f.fix else None) == restart
    assert not any("create secret" in c for c in (f.fix.equivalent if f.fix else ()))


# --- credential-key-mismatch ---------------------------------------------------------

KEY_MISMATCH = [
    pytest.param("registry.example.com:5000", "registry.example.com/team/app", "registry.example.com",
                 "the key has port 5000 but the image has no port", id="port-in-key-only"),
    pytest.param("registry.example.com", "registry.example.com:5000/team/app", "registry.example.com:5000",
                 "the key has no port but the image has port 5000", id="port-in-image-only"),
    pytest.param("registry.example.com:5000", "registry.example.com:5001/app", "registry.example.com:5001",
                 "port 5000 but the image has port 5001", id="ports-differ"),
    pytest.param("registry-1.docker.io", "nginx", "docker.io", "registry-1.docker.io is not a key the kubelet uses",
                 id="registry-1.docker.io"),
    pytest.param("https://registry-1.docker.io/v2/", "acme/app", "docker.io", "registry-1.docker.io is not a key",
                 id="registry-1.docker.io-url"),
    pytest.param("hub.docker.com", "docker.io/library/nginx", "docker.io", "hub.docker.com is not a key", id="hub.docker.com"),
    pytest.param("Quay.io", "quay.io/acme/web", "quay.io", "host names are compared case-sensitively", id="host-case"),
    pytest.param("Quay.io/acme", "quay.io/acme/web", "quay.io/acme", "host names are compared case-sensitively",
                 id="host-case-with-path"),
    pytest.param("quay.io/ACME", "quay.io/acme/web", "quay.io/acme", "paths are compared case-sensitively", id="path-case"),
    pytest.param("quay.io/acme/web:1.2", "quay.io/acme/web:1.2", "quay.io/acme/web", "the key includes a tag or digest",
                 id="tag-in-key"),
    pytest.param("quay.io/acme/web@sha256:" + "a" * 64, "quay.io/acme/web", "quay.io/acme/web",
                 "the key includes a tag or digest", id="digest-in-key"),
    pytest.param("https://quay.io/v2", "quay.io/acme/web", "quay.io", "the path /v2 is not cut as /v1/ or /v2/ would be",
                 id="v2-without-slash"),
    pytest.param("https://quay.io/v1", "quay.io/acme/web", "quay.io", "the path /v1 is not cut", id="v1-without-slash"),
    pytest.param("*.example.com", "a.b.example.com/app", "a.b.example.com",
                 "a wildcard matches exactly one label, and *.example.com has 3 labels while a.b.example.com has 4",
                 id="wildcard-too-shallow"),
    pytest.param("*.example.com", "example.com/app", "example.com", "has 3 labels while example.com has 2",
                 id="wildcard-on-apex"),
    pytest.param(" quay.io", "quay.io/acme/web", "quay.io", "leading or trailing whitespace", id="leading-space"),
    pytest.param("quay.io\n", "quay.io/acme/web", "quay.io", "leading or trailing whitespace", id="trailing-newline"),
    pytest.param("quay.io:http", "quay.io/acme/web", "quay.io", "cannot parse it as a URL", id="unparseable-port"),
    # Negatives: keys that match, keys for other registries, another repository on the host.
    pytest.param("quay.io", "quay.io/acme/web", None, None, id="neg-host"),
    pytest.param("https://quay.io/v2/acme", "quay.io/acme/web", None, None, id="neg-v2-path"),
    pytest.param("quay.io/acme", "quay.io/acme/web", None, None, id="neg-path-prefix"),
    pytest.param("*.example.com", "a.example.com/app", None, None, id="neg-wildcard-one-label"),
    pytest.param("registry.example.com:5000", "registry.example.com:5000/app", None, None, id="neg-port"),
    pytest.param("docker.io", "nginx", None, None, id="neg-docker.io"),
    pytest.param("https://index.docker.io/v1/", "nginx", None, None, id="neg-index-v1"),
    pytest.param("ghcr.io", "quay.io/acme/web", None, None, id="neg-other-registry"),
    pytest.param("registry-1.docker.io", "quay.io/acme/web", None, None, id="neg-hub-key-non-hub-image"),
    pytest.param("quay.io/other", "quay.io/acme/web", None, None, id="neg-other-repository"),
    pytest.param("quay.io/acme-corp", "quay.io/acme/web", None, None, id="neg-sibling-repository"),
    pytest.param("*.example.com", "example.org/app", None, None, id="neg-wildcard-other-domain"),
    # DOMAIN.md §2: Docker Hub images fall back to the exact key index.docker.io only; a
    # path under it has three labels against docker.io's two and never matches.
    pytest.param("index.docker.io/library", "nginx", "docker.io/library", "index.docker.io",
                 id="index.docker.io-with-path"),
]


@pytest.mark.parametrize(("raw_key", "image", "better", "why"), KEY_MISMATCH)
def test_key_mismatch(raw_key: str, image: str, better: str | None, why: str | None) -> None:
    hit = key_mismatch(raw_key, reference.parse(image))
    if better is None:
        assert hit is None
        return
    assert hit is not None
    assert why is not None and why in hit[0]
    assert hit[1] == better


def test_key_mismatch_end_to_end(tmp_path: Path) -> None:
    report = run_doctor(tmp_path, [sa(pull=["reg"]), pull_secret("reg", {"quay.io:443": auth("robot")}),
                                   pod(pull=["reg"])])
    f = one(report, "credential-key-mismatch")
    assert (f.severity, f.object, f.container, f.image) == (Severity.WARNING, ref("Pod", "web-1"), "web", QUAY)
    assert f"secret/{NS}/reg has an entry keyed 'quay.io:443' (user robot" in f.message
    assert "ports must be equal. Key it as 'quay.io'." in f.message
    assert f.fix is not None
    assert f.fix.command == (f"kubectl pullsecret fix create quay-io-pull --docker-server quay.io --docker-username robot "
                             f"--docker-password-stdin --link default -n {NS}")


@pytest.mark.parametrize(("secrets", "blamed"), [
    pytest.param([pull_secret("reg", {"quay.io:443": auth(), "quay.io": auth()})], [], id="same-source-matches"),
    pytest.param([pull_secret("a", {"quay.io": auth()}), pull_secret("reg", {"Quay.io": auth()})], ["reg"],
                 id="other-source-matches"),
    pytest.param([pull_secret("reg", {"Quay.io": auth()}), pull_secret("a", {"quay.io/acme": auth()})], ["reg"],
                 id="other-source-matches-by-path"),
])
def test_key_mismatch_only_for_sources_without_a_match(tmp_path: Path, secrets: list[Obj], blamed: list[str]) -> None:
    names = [s["metadata"]["name"] for s in secrets]
    report = run_doctor(tmp_path, [sa(), *secrets, pod(pull=names)])
    found = only(report, "credential-key-mismatch")
    assert [f.message.split(" ", 1)[0] for f in found] == [f"secret/{NS}/{n}" for n in blamed]


def test_key_mismatch_in_node_file_has_no_secret_fix(tmp_path: Path) -> None:
    authfile = tmp_path / "config.json"
    authfile.write_text(json.dumps({"auths": {"quay.io:443": auth()}}))
    report = run_doctor(tmp_path, [sa(), pod()], authfile=str(authfile))
    f = one(report, "credential-key-mismatch")
    assert f.message.startswith(f"file:{authfile} has an entry keyed 'quay.io:443'")
    assert f.fix is None


# --- crio-kubelet-disagree -----------------------------------------------------------

CRIO = [
    pytest.param({"*.example.com": auth()}, "registry.example.com/app:1",
                 ["the kubelet tries entry '*.example.com'", "containers/image finds no entry (it does not expand wildcards)"],
                 id="wildcard"),
    pytest.param({"https://quay.io/acme": auth()}, "quay.io/other/app:1",
                 ["the kubelet matches no entry", "containers/image uses entry 'https://quay.io/acme'"],
                 id="scheme-key-with-path"),
    pytest.param({"quay.io": {"username": "bob", "password": "pw-only-123"}}, QUAY,
                 ["the kubelet tries entry 'quay.io' (user bob", "containers/image finds entry 'quay.io' (user bob",
                  "but uses no credential from it (no `auth` field"], id="username-password-only"),
    # containers/image decodeDockerAuth returns nothing when `auth` has no ':' (here: is
    # empty), dropping the identity token with it; the kubelet ignores identitytoken and
    # tries the entry with an empty username/password.
    pytest.param({"quay.io": {"identitytoken": "refresh-token-abc"}}, QUAY,
                 ["the kubelet tries entry 'quay.io' (user -", "containers/image finds entry 'quay.io'",
                  "but uses no credential from it", "identitytoken"], id="identitytoken-only"),
    pytest.param({"https://index.docker.io/v1/": auth("hubuser"), "registry-1.docker.io": auth("otheruser")}, "nginx",
                 ["picks any one of 'https://index.docker.io/v1/', 'registry-1.docker.io'",
                  "the user varies between hubuser, otheruser"], id="two-docker-hub-aliases"),
    pytest.param({"quay.io": auth()}, QUAY, None, id="negative-plain-host-key"),
    pytest.param({"quay.io/acme": auth()}, QUAY, None, id="negative-exact-path-key"),
]


@pytest.mark.parametrize(("auths", "image", "phrases"), CRIO)
def test_crio_kubelet_disagree(tmp_path: Path, auths: dict[str, Any], image: str, phrases: list[str] | None) -> None:
    report = run_doctor(tmp_path, [sa(), pull_secret("reg", auths), pod(image=image, pull=["reg"])])
    found = only(report, "crio-kubelet-disagree")
    if phrases is None:
        assert found == []
        return
    [f] = found
    assert (f.severity, f.object, f.container, f.image, f.fix) == (Severity.WARNING, ref("Pod", "web-1"), "web", image,
                                                                   None)
    assert f.message.startswith(f"For {reference.parse(image).name} in secret/{NS}/reg, ")
    for phrase in phrases:
        assert phrase in f.message
    assert "podman or skopeo using this secret's content" in f.message


def test_crio_kubelet_disagree_node_file(tmp_path: Path) -> None:
    authfile = tmp_path / "config.json"
    authfile.write_text(json.dumps({"auths": {"*.example.com": auth()}}))
    report = run_doctor(tmp_path, [sa(), pod(image="registry.example.com/app:1")], authfile=str(authfile))
    f = one(report, "crio-kubelet-disagree")
    assert f"in file:{authfile}" in f.message
    assert "CRI-O reads the node file itself" in f.message


# --- dockerhub-anonymous -------------------------------------------------------------

@pytest.mark.parametrize("image", ["nginx", "docker.io/library/nginx", "library/nginx", "index.docker.io/library/nginx:1"])
def test_dockerhub_anonymous(tmp_path: Path, image: str) -> None:
    report = run_doctor(tmp_path, [sa(pull=["good"]), GOOD, pod(image=image, pull=["good"])])
    f = one(report, "dockerhub-anonymous")
    assert (f.severity, f.object, f.container, f.image) == (Severity.WARNING, ref("Pod", "web-1"), "web", image)
    assert "docker.io/library/nginx comes from Docker Hub and no credential matches it" in f.message
    assert "rate-limits anonymous pulls" in f.message
    assert f.fix is not None and f.fix.command == (
        f"kubectl pullsecret fix create dockerhub-pull --docker-server docker.io --docker-username USER "
        f"--docker-password-stdin --link default -n {NS}")
    assert "no-matching-credential" not in checks_of(report)


@pytest.mark.parametrize("key", ["docker.io", "https://index.docker.io/v1/", "index.docker.io", "docker.io/library"])
def test_dockerhub_with_credential_is_not_anonymous(tmp_path: Path, key: str) -> None:
    report = run_doctor(tmp_path, [sa(), pull_secret("hub", {key: auth("hubuser")}), pod(image="nginx", pull=["hub"])])
    assert "dockerhub-anonymous" not in checks_of(report)
    assert [c["key"] for c in image_creds(report, "nginx")[0]] == [key]


# --- image-reference-invalid ---------------------------------------------------------

@pytest.mark.parametrize(("image", "phrase"), [
    pytest.param("quay.io/Acme/web:1", "repository name (Acme/web) must be lowercase", id="uppercase-repository"),
    pytest.param("", "The container has no image.", id="empty"),
    pytest.param("nginx@sha256:" + "a" * 40, "invalid checksum digest length", id="digest-length"),
    pytest.param("nginx@sha256:" + "A" * 64, "invalid checksum digest format", id="digest-uppercase-hex"),
    pytest.param("quay.io/acme/web:-bad", "invalid reference format", id="bad-tag"),
])
def test_image_reference_invalid(tmp_path: Path, image: str, phrase: str) -> None:
    report = run_doctor(tmp_path, [sa(), GOOD, pod(image=[QUAY, image], pull=["good"])])
    f = one(report, "image-reference-invalid")
    assert (f.severity, f.object, f.container) == (Severity.ERROR, ref("Pod", "web-1"), "c1")
    assert phrase in f.message
    assert "InvalidImageName" in f.message
    assert f.fix is None
    # No other per-container check talks about an image that does not parse.
    assert {g.container for g in report.findings if g.check != "image-reference-invalid"} <= {"web"}


# --- pod-predates-sa-secrets ---------------------------------------------------------

def test_pod_predates_sa_secret_with_timestamps(tmp_path: Path) -> None:
    report = run_doctor(tmp_path, [sa(pull=["regcred"]), pull_secret("regcred", {"quay.io": auth()}, created=T1), pod()])
    f = one(report, "pod-predates-sa-secrets")
    assert (f.severity, f.object, f.container) == (Severity.WARNING, ref("Pod", "web-1"), None)
    assert "Service account default now lists pull secret(s) regcred that this pod does not have" in f.message
    assert ("(regcred was created 2026-01-10T12:00:00+00:00, after the pod at 2026-01-10T10:00:00+00:00); "
            "it has none.") in f.message
    assert "Caution" not in f.message
    assert f.fix is not None and f.fix.command == f"kubectl pullsecret fix restart pod/web-1 -n {NS}"


def test_pod_predates_compares_a_time_written_without_offset_as_utc(tmp_path: Path) -> None:
    # A hand-written manifest may carry "2026-01-10T10:00:00" (no Z): taken as UTC, not a crash.
    report = run_doctor(tmp_path, [sa(pull=["regcred"]), pull_secret("regcred", {"quay.io": auth()}, created=T1),
                                   pod(created=T0.rstrip("Z"))])
    f = one(report, "pod-predates-sa-secrets")
    assert "(regcred was created 2026-01-10T12:00:00+00:00, after the pod at 2026-01-10T10:00:00+00:00)" in f.message


PREDATES = [
    pytest.param([sa(pull=["a", "b"]), pull_secret("a", {"ghcr.io": auth()}), pull_secret("b", {"quay.io": auth()}),
                  pod(pull=["a"])], "pull secret(s) b that this pod does not have; it has a.", id="subset-injected"),
    pytest.param([sa(pull=["regcred"]), pull_secret("regcred", {"quay.io": auth()}, created=T0), pod(created=T1)],
                 "pull secret(s) regcred that this pod does not have; it has none.", id="secret-older-no-timestamps"),
    pytest.param([sa(pull=["regcred"]), pull_secret("regcred", {"quay.io": auth()}), pod(created=None, uid="u-1")],
                 "pull secret(s) regcred that this pod does not have; it has none.", id="created-by-uid"),
    pytest.param([sa(pull=["regcred"]), pull_secret("regcred", {"quay.io": auth()}), workload("Deployment", "web")],
                 None, id="neg-template-not-created"),
    pytest.param([sa(pull=["regcred"]), pull_secret("regcred", {"quay.io": auth()}), pod(created=None)],
                 None, id="neg-manifest-not-created"),
    pytest.param([sa(pull=["regcred"]), pull_secret("regcred", {"quay.io": auth()}), pull_secret("vendor", {}),
                  *deployment_with_pods("web", 1, pull=["vendor"])], None, id="neg-own-list-overrides"),
    pytest.param([sa(pull=["regcred"]), FILLER, pod()], None, id="neg-sa-secret-missing"),
    pytest.param([sa(pull=["regcred"]), pull_secret("regcred", {"quay.io": auth()}), pod(pull=["regcred"])],
                 None, id="neg-pod-has-it"),
]


@pytest.mark.parametrize(("objs", "phrase"), PREDATES)
def test_pod_predates_sa_secrets(tmp_path: Path, objs: list[Obj], phrase: str | None) -> None:
    report = run_doctor(tmp_path, objs)
    found = only(report, "pod-predates-sa-secrets")
    if phrase is None:
        assert found == []
        return
    [f] = found
    assert (f.severity, f.object) == (Severity.WARNING, ref("Pod", "web-1"))
    assert phrase in f.message
    assert "was created" not in f.message or "after the pod" in f.message


def test_pod_predates_cautions_about_a_malformed_secret(tmp_path: Path) -> None:
    bad = pull_secret("regcred", {"quay.io": {"auth": b64("nocolon")}})
    report = run_doctor(tmp_path, [sa(pull=["regcred"]), bad, pod()])
    f = one(report, "pod-predates-sa-secrets")
    assert "Caution: regcred is malformed, and a recreated pod fails every pull until it is fixed" in f.message
    assert one(report, "pull-secret-malformed").object == ref("Secret", "regcred")


@pytest.mark.parametrize("with_rs", [True, False], ids=["through-replicaset", "replicaset-absent"])
def test_pod_predates_fix_restarts_the_deployment(tmp_path: Path, with_rs: bool) -> None:
    objs = [sa(pull=["regcred"]), pull_secret("regcred", {"quay.io": auth()}),
            *deployment_with_pods("web", 1, with_rs=with_rs)]
    report = run_doctor(tmp_path, objs)
    f = one(report, "pod-predates-sa-secrets")
    assert f.object == ref("Pod", "web-5d8f7c9b4-p0")
    assert f.fix is not None
    assert f.fix.command == f"kubectl pullsecret fix restart deployment/web -n {NS}"
    assert f.fix.equivalent == (f"oc rollout restart deployment/web -n {NS}",)


# --- pod-overrides-sa-secrets --------------------------------------------------------

def _patch_ops(command: str) -> list[dict[str, Any]]:
    ops: list[dict[str, Any]] = json.loads(shlex.split(command)[-1])
    return ops


OVERRIDES = [
    pytest.param([sa(pull=["regcred"]), pull_secret("regcred", {}), pull_secret("vendor", {"quay.io": auth()}),
                  workload("Deployment", "web", pull=["vendor"])],
                 ref("Deployment", "web"), "deployment web", "/spec/template/spec/imagePullSecrets/-", id="deployment"),
    pytest.param([sa(pull=["regcred"]), pull_secret("regcred", {}), pull_secret("vendor", {"quay.io": auth()}),
                  workload("CronJob", "nightly", pull=["vendor"])],
                 ref("CronJob", "nightly"), "cronjob nightly", "/spec/jobTemplate/spec/template/spec/imagePullSecrets/-",
                 id="cronjob"),
    # A created pod whose owner template lists secrets: the fix patches the Deployment.
    pytest.param([sa(pull=["regcred"]), pull_secret("regcred", {}), pull_secret("vendor", {"quay.io": auth()}),
                  *deployment_with_pods("web", 1, pull=["vendor"])],
                 ref("Pod", "web-5d8f7c9b4-p0"), "deployment web", "/spec/template/spec/imagePullSecrets/-",
                 id="pod-of-deployment"),
]


@pytest.mark.parametrize(("objs", "obj", "target", "path"), OVERRIDES)
def test_pod_overrides_sa_secrets(tmp_path: Path, objs: list[Obj], obj: ObjectRef, target: str, path: str) -> None:
    report = run_doctor(tmp_path, objs)
    f = one(report, "pod-overrides-sa-secrets")
    assert (f.severity, f.object) == (Severity.WARNING, obj)
    assert ("lists its own imagePullSecrets (vendor), so the admission plugin does not add service account "
            "default's (regcred).") in f.message
    assert f.fix is not None and f.fix.command is None
    [patch] = f.fix.equivalent
    assert patch.startswith(f"kubectl patch {target} -n {NS} --type=json -p ")
    assert _patch_ops(patch) == [{"op": "add", "path": path, "value": {"name": "regcred"}}]


def test_pod_overrides_breaks_internal_registry_on_openshift(tmp_path: Path) -> None:
    dockercfg = dockercfg_secret("default-dockercfg-abcde", {INTERNAL: auth("<token>", "jwt-abc")},
                                 annotations={TOKEN_SA_ANNOTATION: "default", BINDING_ANNOTATION: "bound"})
    objs = [openshift_sa(), dockercfg, pull_secret("vendor", {"registry.vendor.example": auth()}),
            workload("Deployment", "web", [f"{INTERNAL}/{NS}/web:1", "registry.vendor.example/tool:2"], pull=["vendor"])]
    report = run_doctor(tmp_path, objs)
    f = one(report, "pod-overrides-sa-secrets")
    assert (f.severity, f.object) == (Severity.ERROR, ref("Deployment", "web"))
    assert (f"That leaves {INTERNAL}/{NS}/web:1 on the internal registry with no credential: add "
            "default-dockercfg-abcde to the pod's imagePullSecrets.") in f.message
    assert f.fix is not None and f.fix.command is None
    assert [_patch_ops(c) for c in f.fix.equivalent] == [
        [{"op": "add", "path": "/spec/template/spec/imagePullSecrets/-", "value": {"name": "default-dockercfg-abcde"}}]]


@pytest.mark.parametrize(("objs", "warnings"), [
    pytest.param([sa(pull=["vendor"]), pull_secret("vendor", {}), workload("Deployment", "web", pull=["vendor"])], 0,
                 id="same-as-sa"),
    pytest.param([sa(), pull_secret("vendor", {}), workload("Deployment", "web", pull=["vendor"])], 0, id="sa-has-none"),
    pytest.param([sa(pull=["regcred"]), pull_secret("regcred", {}), workload("Deployment", "web")], 0, id="lists-none"),
    pytest.param([sa(pull=["regcred"]), pull_secret("regcred", {}), pod(pull=["regcred"])], 0, id="pod-injected"),
    # Only the dockercfg is excluded but no internal-registry image: a warning, not an error.
    pytest.param([openshift_sa(), pull_secret("default-dockercfg-abcde", {}), pull_secret("vendor", {"quay.io": auth()}),
                  workload("Deployment", "web", pull=["vendor"])], 1, id="openshift-no-internal-image"),
])
def test_pod_overrides_not_an_error(tmp_path: Path, objs: list[Obj], warnings: int) -> None:
    found = only(run_doctor(tmp_path, objs), "pod-overrides-sa-secrets")
    assert [f.severity for f in found] == [Severity.WARNING] * warnings


# --- sa-not-provisioned --------------------------------------------------------------

FILLED = {INTERNAL: auth("<token>", "jwt-abc")}
BOUND = {TOKEN_SA_ANNOTATION: "builder", BINDING_ANNOTATION: "bound"}

SA_PROVISIONED = [
    pytest.param([openshift_namespace(), sa("builder"), FILLER], Severity.ERROR,
                 "has no builder-dockercfg-* pull secret yet", id="no-dockercfg-secret"),
    pytest.param([openshift_sa("builder"), dockercfg_secret("builder-dockercfg-abcde", {}, annotations=BOUND)],
                 Severity.ERROR, "has pull secret builder-dockercfg-abcde, but it is still empty (.dockercfg is {})",
                 id="4.16-empty"),
    pytest.param([openshift_sa("builder"),
                  dockercfg_secret("builder-dockercfg-abcde", {}, annotations={TOKEN_SA_ANNOTATION: "builder"})],
                 Severity.ERROR, "its token is not bound yet", id="4.16-unbound-empty"),
    pytest.param([openshift_sa("builder"),
                  dockercfg_secret("builder-dockercfg-abcde", FILLED, annotations={TOKEN_SA_ANNOTATION: "builder"})],
                 Severity.ERROR, f"builder-dockercfg-abcde, but its token is not bound yet (no {BINDING_ANNOTATION} annotation)",
                 id="4.16-unbound"),
    pytest.param([openshift_sa("builder"), FILLER], Severity.ERROR,
                 "references pull secret builder-dockercfg-abcde, which does not exist yet", id="secret-missing"),
    pytest.param([openshift_sa("builder"), dockercfg_secret("builder-dockercfg-abcde", FILLED, annotations=BOUND)],
                 None, None, id="bound-and-filled"),
    pytest.param([openshift_sa("builder"), dockercfg_secret(
        "builder-dockercfg-abcde", FILLED, annotations={TOKEN_SA_ANNOTATION: "builder", BINDING_ANNOTATION: "legacy"})],
                 None, None, id="binding-legacy"),
    pytest.param([openshift_sa("builder"), secret("builder-token-x1y2z", type="kubernetes.io/service-account-token"),
                  dockercfg_secret("builder-dockercfg-abcde", FILLED,
                                   annotations={"openshift.io/token-secret.name": "builder-token-x1y2z"})],
                 None, None, id="legacy-shape"),
    pytest.param([openshift_sa("builder"), dockercfg_secret(
        "builder-dockercfg-abcde", FILLED, annotations={"openshift.io/token-secret.name": "builder-token-x1y2z"})],
                 Severity.ERROR, "the token secret it was made from (builder-token-x1y2z) is missing",
                 id="legacy-token-missing"),
    pytest.param([cluster_version(["Console", "Build"]), sa("builder"), FILLER], Severity.INFO,
                 "The ImageRegistry capability is disabled", id="capability-disabled"),
    pytest.param([cluster_version(["ImageRegistry"]), sa("builder"), FILLER], Severity.ERROR,
                 "has no builder-dockercfg-* pull secret yet", id="capability-enabled"),
    pytest.param([sa("builder"), FILLER], None, None, id="plain-kubernetes"),
]


@pytest.mark.parametrize(("objs", "severity", "phrase"), SA_PROVISIONED)
def test_sa_not_provisioned(tmp_path: Path, objs: list[Obj], severity: Severity | None, phrase: str | None) -> None:
    report = run_doctor(tmp_path, objs, targets=["sa/builder"])
    found = only(report, "sa-not-provisioned")
    if severity is None:
        assert found == []
        return
    [f] = found
    assert (f.severity, f.object, f.fix) == (severity, ref("ServiceAccount", "builder"), None)
    assert f.message.startswith("Service account builder ")
    assert phrase is not None and phrase in f.message


def test_sa_not_provisioned_scope_is_the_sas_of_the_subjects(tmp_path: Path) -> None:
    objs = [openshift_namespace(), sa("builder"), sa("other"), FILLER, workload("Deployment", "web", sa_name="builder")]
    report = run_doctor(tmp_path, objs)
    assert [f.object for f in only(report, "sa-not-provisioned")] == [ref("ServiceAccount", "builder")]


# --- pull-error-observed -------------------------------------------------------------

CLASSIFY = [
    ("FailedToRetrieveImagePullSecret",
     'Unable to retrieve some image pull secrets (regcred); attempting to pull the image may not succeed.', "missing-secret"),
    ("ErrImageNeverPull", 'Container image "quay.io/acme/web:1.2" is not present with pull policy of Never', "never-pull"),
    ("InvalidImageName", 'Failed to apply default image tag "quay.io/Acme/web": couldn\'t parse image name '
     '"quay.io/Acme/web": invalid reference format: repository name must be lowercase', "invalid-name"),
    ("Failed", "Failed to pull image: unable to parse auth field, must be formatted as base64(username:password)",
     "pull-secret-undecodable"),
    ("Failed", "Failed to pull image: illegal base64 data at input byte 4", "pull-secret-undecodable"),
    ("Failed", 'Failed to pull image "quay.io/acme/web:1.2": unable to retrieve auth token: invalid username/password: '
     'unauthorized: Incorrect username or password', "bad-credentials"),
    ("Failed", 'Failed to pull image "nginx": toomanyrequests: You have reached your pull rate limit.', "rate-limited"),
    ("Failed", 'Failed to pull image "acme/private": pull access denied, repository does not exist or may require '
     "authorization: server message: insufficient_scope: authorization failed", "access-denied"),
    ("Failed", "Error response from daemon: denied: requested access to the resource is denied", "access-denied"),
    ("Failed", 'Failed to pull image "quay.io/acme/web:1.2": unauthorized: authentication required', "auth-required"),
    ("Failed", 'Failed to pull image "r.example.com/a:1": tls: failed to verify certificate: x509: certificate signed by '
     "unknown authority", "tls"),
    ("Failed", 'Source image rejected: Running image docker://quay.io/acme/web:1.2 is rejected by policy.', "policy"),
    ("Failed", 'Failed to pull image "evil.example.com/a:1": registry evil.example.com is blocked in '
     "/etc/containers/registries.conf", "policy"),
    ("Failed", 'Failed to pull image "acme/arm:1": no image found in manifest list for architecture amd64, variant "", '
     "OS linux", "platform"),
    ("Failed", 'Failed to pull image "quay.io/acme/web:9.9": reading manifest 9.9 in quay.io/acme/web: manifest unknown',
     "not-found"),
    ("Failed", 'failed to resolve reference "quay.io/acme/web:9.9": quay.io/acme/web:9.9: not found', "not-found"),
    ("Failed", 'Failed to pull image "quay.io/acme/web:1.2": dial tcp: lookup quay.io on 10.0.0.10:53: no such host',
     "network"),
    ("Failed", "pinging container registry r.example.com: Get \"https://r.example.com/v2/\": dial tcp 10.1.2.3:443: "
     "i/o timeout", "network"),
    ("Failed", 'Get "https://r.example.com/v2/": dial tcp 10.1.2.3:443: connect: connection refused', "network"),
    ("BackOff", 'Back-off pulling image "quay.io/acme/web:1.2"', "back-off"),
    ("ImagePullBackOff", "", "back-off"),
    ("Failed", "Error: something entirely different happened", "other"),
]


@pytest.mark.parametrize(("reason", "message", "category"), [
    *[pytest.param(r, m, c, id=f"{c}-{i}") for i, (r, m, c) in enumerate(CLASSIFY)],
    # A digit run in the image tag or digest is not an HTTP status.
    pytest.param("Failed", 'Failed to pull image "quay.io/acme/web:2401": dial tcp: lookup quay.io: no such host',
                 "network", id="network-tag-contains-401"),
])
def test_classify(reason: str, message: str, category: str) -> None:
    got, meaning = classify(reason, message)
    assert got == category
    assert meaning


def test_pull_error_observed_per_container(tmp_path: Path) -> None:
    status = {"containerStatuses": [
        waiting("web", "ImagePullBackOff", f'Back-off pulling image "{QUAY}"'),
        waiting("c1", "ErrImagePull", "ghcr.io/acme/side:2: not found")]}
    objs = [sa(), GOOD, pod(image=[QUAY, "ghcr.io/acme/side:2"], pull=["good"], status=status),
            event("web-1", "Failed", f'Failed to pull image "{QUAY}": unauthorized: authentication required',
                  field_path="spec.containers{web}"),
            event("web-1", "BackOff", f'Back-off pulling image "{QUAY}"', field_path="spec.containers{web}"),
            event("web-1", "FailedToRetrieveImagePullSecret",
                  "Unable to retrieve some image pull secrets (old); attempting to pull the image may not succeed."),
            event("web-1", "Scheduled", "Successfully assigned shop/web-1 to worker-1"),
            event("other-pod", "Failed", "Failed to pull image: unauthorized")]
    report = run_doctor(tmp_path, objs)
    found = only(report, "pull-error-observed")
    assert [(f.container, f.image) for f in found] == [(None, None), ("c1", "ghcr.io/acme/side:2"), ("web", QUAY)]
    by = {f.container: f for f in found}
    assert all(f.severity is Severity.INFO and f.object == ref("Pod", "web-1") for f in found)
    assert by["web"].message.startswith("The kubelet reported BackOff/Failed/ImagePullBackOff (auth-required: ")
    assert 'It said: "Failed to pull image "quay.io/acme/web:1.2": unauthorized: authentication required"' in by["web"].message
    assert by["c1"].message.startswith("The kubelet reported ErrImagePull (not-found: ")
    assert by[None].message.startswith("The kubelet reported FailedToRetrieveImagePullSecret (missing-secret: ")


def test_pull_error_observed_init_container_event(tmp_path: Path) -> None:
    objs = [sa(), GOOD, pod(pull=["good"], init=["busybox:1.36"]),
            event("web-1", "Failed", 'Failed to pull image "busybox:1.36": toomanyrequests: rate limit',
                  field_path="spec.initContainers{init0}")]
    f = one(run_doctor(tmp_path, objs), "pull-error-observed")
    assert (f.container, f.image) == ("init0", "busybox:1.36")
    assert "(rate-limited: " in f.message


def test_pull_error_observed_only_for_created_pods(tmp_path: Path) -> None:
    objs = [sa(), GOOD, pod(pull=["good"], status={"containerStatuses": [waiting("web", "ErrImagePull", "x")]}),
            workload("Deployment", "api", pull=["good"])]
    report = run_doctor(tmp_path, objs)
    assert [f.object for f in only(report, "pull-error-observed")] == [ref("Pod", "web-1")]
    passed = {(p.object, p.container) for p in report.passed if p.check == "pull-error-observed"}
    assert passed == set()  # templates are not in its scope, and the pod has a finding


# --- collapse_replicas ---------------------------------------------------------------

def test_collapse_replicas(tmp_path: Path) -> None:
    report = run_doctor(tmp_path, [sa(), FILLER, *deployment_with_pods("web", 3, pull=["filler"])])
    f = one(report, "no-matching-credential")
    assert f.message.endswith("(Same for 3 pods of deployment/web.)")
    assert f.object.kind == "Pod" and f.object.name is not None and f.object.name.startswith("web-5d8f7c9b4-p")


def test_collapse_replicas_keeps_bare_pods_apart(tmp_path: Path) -> None:
    report = run_doctor(tmp_path, [sa(), FILLER, pod("a", pull=["filler"]), pod("b", pull=["filler"])])
    found = only(report, "no-matching-credential")
    assert [f.object.name for f in found] == ["a", "b"]
    assert not any("Same for" in f.message for f in found)


def test_collapse_replicas_unit() -> None:
    snap = snapshot(deployment_with_pods("web", 2))
    scope = select(snap, [], None, None)
    node = node_credentials(snap, None)
    ctx = Context(snap, scope, Resolver(snap, node), node, ())
    pods = [s.ref for s in scope.subjects]
    same = [Finding("x", Severity.WARNING, p, "m", "web") for p in pods]
    other = Finding("x", Severity.WARNING, pods[0], "different", "web")
    out = checks.collapse_replicas(ctx, [*same, other])
    assert [f.message for f in out] == ["different", "m (Same for 2 pods of deployment/web.)"]


# --- --checks / --skip / passed ------------------------------------------------------

def test_checks_selects_only_those(tmp_path: Path) -> None:
    objs = [sa(), FILLER, pod(image=["nginx", QUAY], pull=["filler", "regcred"])]
    assert {"dockerhub-anonymous", "no-matching-credential", "pull-secret-missing"} <= checks_of(run_doctor(tmp_path, objs))
    report = run_doctor(tmp_path, objs, checks=["dockerhub-anonymous"])
    assert checks_of(report) == {"dockerhub-anonymous"}
    assert {p.check for p in report.passed} <= {"dockerhub-anonymous"}
    report = run_doctor(tmp_path, objs, skip=["dockerhub-anonymous", "pull-secret-missing"])
    assert "dockerhub-anonymous" not in checks_of(report) and "pull-secret-missing" not in checks_of(report)
    assert "no-matching-credential" in checks_of(report)
    report = run_doctor(tmp_path, objs, checks=["dockerhub-anonymous", "no-matching-credential"],
                        skip=["no-matching-credential"])
    assert checks_of(report) == {"dockerhub-anonymous"}


@pytest.mark.parametrize("opts", [{"checks": ["no-such-check"]}, {"skip": ["no-such-check"]}])
def test_unknown_check_id_is_a_usage_error(tmp_path: Path, opts: dict[str, list[str]]) -> None:
    with pytest.raises(UsageError, match="unknown check id 'no-such-check'"):
        run_doctor(tmp_path, [sa(), pod()], **opts)


def test_passed_lists_examined_objects_without_findings(tmp_path: Path) -> None:
    objs = [sa(), GOOD, pod(image=[QUAY, "nginx"], pull=["good"])]
    report = run_doctor(tmp_path, objs)
    assert checks_of(report) == {"dockerhub-anonymous"}
    passed = {(p.check, p.object, p.container) for p in report.passed}
    assert all(p.severity is Severity.OK and p.message == "passed" for p in report.passed)
    web = ref("Pod", "web-1")
    assert {("no-matching-credential", web, "web"), ("no-matching-credential", web, "c1"),
            ("dockerhub-anonymous", web, "web"), ("image-reference-invalid", web, "c1"),
            ("pull-secret-missing", web, None), ("pull-secret-malformed", ref("Secret", "good"), None),
            ("pod-predates-sa-secrets", web, None), ("pull-error-observed", web, None)} <= passed
    assert ("dockerhub-anonymous", web, "c1") not in passed
    assert report.summary()["ok"] == len(report.passed)
    # sa-not-provisioned examines only OpenShift service accounts.
    assert not any(p.check == "sa-not-provisioned" for p in report.passed)


def test_every_check_is_catalogued_with_its_default_severity() -> None:
    for check_id, check in checks.CHECKS.items():
        assert check_id in checks.CATALOGUE
        assert check.description
    assert checks.CATALOGUE["pull-secret-data-unavailable"][0] == "info"
    assert checks.CATALOGUE["pull-error-observed"][0] == "info"
