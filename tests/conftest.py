"""Fixtures of the project's own tests: real reference servers on loopback (never HTTP mocks)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from conformance.keys import DPoPKey, generate_key
from conformance.reference import RunningServer, ServerSettings


@pytest.fixture(scope="session")
def jwt_client_key() -> DPoPKey:
    """The private_key_jwt client's key; the reference server knows its public half."""
    return generate_key("ES256")


@pytest.fixture(scope="module", params=["none", "both"])
def server(request: pytest.FixtureRequest, jwt_client_key: DPoPKey) -> Iterator[RunningServer]:
    """A clean reference server, without and with nonces at both the AS and the RS."""
    settings = ServerSettings(nonce=request.param, jwt_client_jwks=(jwt_client_key.public_jwk(),))
    with RunningServer(settings) as running:
        yield running
