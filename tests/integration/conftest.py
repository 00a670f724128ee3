"""Fixtures for the registry integration tests (see registry_env.py and fakeregistry.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import pytest

from tests.integration.fakeregistry import FakeRegistry, FakeRegistryFactory, Handler, Reply
from tests.integration.registry_env import Pki, RegistryEnv, TokenLog, TokenServer, make_pki, start_registry_env


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """The session's test PKI (CA, server and untrusted certificates, token signer)."""
    directory: Path = tmp_path_factory.mktemp("pki")
    return make_pki(directory)


@pytest.fixture(scope="session")
def registry_env(pki: Pki) -> Iterator[RegistryEnv]:
    """The real docker-registry trio and token server, started once per session."""
    env = start_registry_env(pki)
    try:
        yield env
    finally:
        env.stop()


@pytest.fixture
def token_control(registry_env: RegistryEnv) -> Iterator[TokenServer]:
    """The token server's switches; any failure mode a test set is undone at the end of the test."""
    registry_env.token_control.recover()
    try:
        yield registry_env.token_control
    finally:
        registry_env.token_control.recover()


@pytest.fixture
def token_log(registry_env: RegistryEnv, token_control: TokenServer) -> TokenLog:
    """The token server's request log, emptied before the test (and the server healthy)."""
    registry_env.token_log.reset()
    return registry_env.token_log


@pytest.fixture
def fake_registry(pki: Pki) -> Iterator[FakeRegistryFactory]:
    """fake_registry(handler, host="127.0.0.1", tls="ca"|"untrusted"|"none") -> a started FakeRegistry,
    stopped at the end of the test. "ca": certificate from the session CA (pki.ca_file / registry_env.ca_file)."""
    made: list[FakeRegistry] = []

    def make(handler: Handler | Reply, *, host: str = "127.0.0.1", tls: Literal["ca", "untrusted", "none"] = "ca",
             port: int = 0) -> FakeRegistry:
        cert, key = {"ca": (pki.server_cert, pki.server_key), "untrusted": (pki.untrusted_cert, pki.untrusted_key),
                     "none": (None, None)}[tls]
        fake = FakeRegistry(handler, host=host, port=port, cert_file=cert, key_file=key)
        made.append(fake)
        return fake

    try:
        yield make
    finally:
        for fake in made:
            fake.stop()
