"""Registry checks as pure functions: a Context built the way doctor builds it, with the
probe results given as data (the network part is tested in tests/integration)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from helpers_k8s import NS, pod, snapshot

from kubectl_pullsecret import keyring
from kubectl_pullsecret.checks import credentials, registry
from kubectl_pullsecret.checks.base import Context
from kubectl_pullsecret.dockerconfig import Entry
from kubectl_pullsecret.findings import Severity
from kubectl_pullsecret.probe_model import Attempt, ImageProbe, Result, plan_login
from kubectl_pullsecret.resolve import Resolver, node_credentials, resolve_all, select


def _context(image: str, outcome: str) -> Context:
    snap = snapshot([pod("web-1", image, pull=[])])
    scope = select(snap, [], [NS], None)
    node = node_credentials(snap, None)
    resolver = Resolver(snap, node)
    resolutions = tuple(resolve_all(resolver, scope.subjects))
    [res] = resolutions
    assert res.reference is not None
    result = Result(outcome, res.reference.registry, "refused anonymous access (HTTP 401)", stage="manifest",
                    http_status=401)
    probe = ImageProbe((Attempt(None, result),))
    return Context(snap, scope, resolver, node, resolutions, probe=True, image_probes={id(res): probe})


@pytest.mark.parametrize(("registry_host", "provider"), [
    ("123456789012.dkr.ecr.eu-west-1.amazonaws.com", "ecr-credential-provider (EKS)"),
    ("123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com", "ecr-credential-provider (EKS)"),
    ("123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn", "ecr-credential-provider (EKS)"),
    ("gcr.io", "gcp-credential-provider (GKE)"),
    ("eu.gcr.io", "gcp-credential-provider (GKE)"),
    ("europe-west1-docker.pkg.dev", "gcp-credential-provider (GKE)"),
    ("myregistry.azurecr.io", "acr-credential-provider (AKS)"),
    ("quay.io", None),
    ("ecr.example.com", None),
    ("12345.dkr.ecr.eu-west-1.amazonaws.com", None),  # not a 12-digit account
    ("gcr.io.evil.example", None),
])
def test_credential_provider(registry_host: str, provider: str | None) -> None:
    assert keyring.credential_provider(registry_host) == provider


def test_auth_required_on_a_provider_registry_is_a_warning_that_says_why() -> None:
    ctx = _context("123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/app:1", "auth-required")
    [f] = registry.check_auth_required(ctx)
    assert f.severity == Severity.WARNING and "ecr-credential-provider (EKS)" in f.message
    [g] = credentials.check_no_match(ctx)
    assert g.severity == Severity.WARNING and "ecr-credential-provider" in g.message


def test_auth_required_elsewhere_is_an_error() -> None:
    ctx = _context("registry.example.com/team/app:1", "auth-required")
    [f] = registry.check_auth_required(ctx)
    assert f.severity == Severity.ERROR and "credential provider" not in f.message
    [g] = credentials.check_no_match(ctx)
    assert g.severity == Severity.ERROR


@pytest.mark.parametrize(("outcome", "severity"), [("ok", Severity.INFO), ("manifest-unknown", Severity.INFO),
                                                    ("unreachable", Severity.WARNING),
                                                    ("auth-required", Severity.ERROR)])
def test_no_matching_credential_follows_the_anonymous_probe(outcome: str, severity: Severity) -> None:
    ctx = _context("registry.example.com/team/app:1", outcome)
    [g] = credentials.check_no_match(ctx)
    assert g.severity == severity


@pytest.mark.parametrize(("stage", "detail", "says"), [
    ("ping", "registry.example.com answers HTTP but not the registry API: GET /v2/ returned 404 (text/html)",
     "Something other than a registry answers at registry.example.com"),
    ("token", "the token server auth.example.com answered 200 without a token (not JSON, or no token/access_token "
              "field)", "does not answer as a token server"),
    ("manifest", "registry.example.com answered a manifest request with HTTP 418", "answers /v2/ as a registry"),
])
def test_not_a_registry_is_reported_as_unreachable(stage: str, detail: str, says: str) -> None:
    """Probe outcome not-a-registry has no id of its own: the registry API is not
    reachable at that address (registry-unreachable), with what answered instead."""
    ctx = _context("registry.example.com/team/app:1", "ok")
    [res] = ctx.resolutions
    result = Result("not-a-registry", "registry.example.com", detail, auth_server="auth.example.com"
                    if stage == "token" else None, http_status=404, stage=stage)
    ctx = replace(ctx, image_probes={id(res): ImageProbe((Attempt(None, result),))})
    [f] = registry.check_unreachable(ctx)
    assert f.check == "registry-unreachable" and f.severity == Severity.ERROR and f.fix is None
    assert f.object == res.subject.ref and f.container == res.container.name
    assert f.message.startswith(detail + ". ") and says in f.message and registry.VANTAGE_NOTE in f.message
    entry = Entry("registry.example.com", "bob", "s3cret-pass", "", True, False)
    plan = plan_login("secret/ns/regcred", entry)
    ctx = replace(ctx, image_probes={}, logins=((plan, result),))
    [g] = registry.check_unreachable(ctx)
    assert g.check == "registry-unreachable" and g.severity == Severity.ERROR
    assert g.object.kind == "Secret" and g.object.name == "regcred"
    assert g.message.startswith("Entry 'registry.example.com' of secret/ns/regcred (user bob") and detail in g.message
