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


# Tests that take the longest go first: with pytest-xdist, a long test started last keeps one worker busy
# while the other has nothing left to do (a kill-matrix batch takes about a minute).
_LONGEST_FIRST = (
    "test_kill_matrix.py::test_defects_are_caught_by_their_cases",
    "test_vendors.py::test_vendor_outcomes_equal_the_expectations",
    "test_fuzz_verdicts.py::test_every_fuzz_only_defect",
    "test_fuzz_verdicts.py::test_a_lenient_server",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        return next((i for i, name in enumerate(_LONGEST_FIRST) if name in item.nodeid), len(_LONGEST_FIRST))

    items.sort(key=rank)  # stable: the rest keep their order


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--screenshots",
        action="store_true",
        help="tests/test_report_pages.py: save PNGs of report.html and the compare page into docs/screenshots/",
    )
