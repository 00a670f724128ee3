"""Registry checks as pure functions: a Context built the way doctor builds it, with the
probe results given as data (the network part is tested in tests/integration)."""

from __future__ import annotations

import pytest
from helpers_k8s import NS, pod, snapshot

from kubectl_pullsecret import keyring
from kubectl_pullsecret.checks import credentials, registry
from kubectl_pullsecret.checks.base import Context
from kubectl_pullsecret.findings import Severity
from kubectl_pullsecret.probe_model import Attempt, ImageProbe, Result
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
