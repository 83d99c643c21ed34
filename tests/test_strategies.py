"""The fault table and the strategies that draw from it, checked against the reference server's verifier.

Every corruption of a fault that means something else must be refused by the strict verifier; every
corruption of a lenient fault must be accepted by a verifier with exactly that leniency, which shows that
it decodes to the valid proof (so accepting it is lenient parsing, and no false failure); near misses of
htu must be refused under WHATWG parsing too. One level per fault: the fixed cases take theirs from it.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from conformance.client.keys import SUPPORTED_ALGS, generate_key
from conformance.client.proof import new_proof
from conformance.client.uri import equivalent
from conformance.judge.catalog import CASES, load_cases
from conformance.judge.faults import FAULTS, Change
from conformance.judge.mutations import MUTATIONS
from conformance.judge.strategies import PARTS, corruptions, coverage
from conformance.reference.replay import ReplayCache
from conformance.reference.settings import ServerSettings
from conformance.reference.verify import ProofError, verify_proof
from conformance.run.cases_folder import locate_cases

URL = "https://server.example.com/token"
TOKEN = "an-access-token-for-the-resource"
# lenient faults that the reference server can show to decode to the valid proof (leniency of that name)
SHOWN_BY = {
    f: f for f in ("b64-padding", "b64-foreign-characters", "b64-standard-alphabet", "jwk-odd-member", "b64-unencoded")
}


def _verify(proof: str, leniencies: frozenset[str], with_token: bool) -> bool:
    settings = ServerSettings(leniencies=leniencies)
    try:
        verify_proof(
            [proof],
            method="POST",
            url=URL,
            settings=settings,
            nonce_check=None,
            access_token=TOKEN if with_token else None,
            replay=ReplayCache(100, 60),
        )
    except ProofError:
        return False
    return True


def _judge(corruption: Change, alg: str, with_token: bool) -> None:
    key = generate_key(alg) if alg not in _KEYS else _KEYS[alg]
    proof = corruption.apply(new_proof(key, "POST", URL, access_token=TOKEN if with_token else None))
    fault = corruption.breaks
    if not fault.lenient:
        assert not _verify(proof, frozenset(), with_token), f"{alg}: the strict verifier accepts {corruption!r}"
        return
    # the reference server verifies only the algorithms it signs with (not Ed25519 or Ed448 by those names), and
    # its resource not RS256
    reference = ServerSettings()
    if fault.id in SHOWN_BY and alg in (reference.rs_algs if with_token else reference.signing_algs):
        leniency = frozenset({SHOWN_BY[fault.id]})
        assert _verify(proof, leniency, with_token), f"{alg}: {corruption!r} does not decode to the valid proof"


_KEYS = {alg: generate_key(alg) for alg in SUPPORTED_ALGS}


@pytest.mark.parametrize("alg", SUPPORTED_ALGS)
@pytest.mark.parametrize("part", PARTS)
@pytest.mark.parametrize("with_token", [False, True], ids=["token-endpoint", "resource"])
def test_every_coverage_example_has_its_fault(alg: str, part: str, with_token: bool) -> None:
    examples = coverage(part, with_token=with_token, alg=alg)
    assert len({c.fault_id for c in examples}) == len(examples), "one example per fault"
    for corruption in examples:
        _judge(corruption, alg, with_token)


@pytest.mark.parametrize("alg", ["ES256", "RS256", "EdDSA"])
@pytest.mark.parametrize("part", PARTS)
def test_every_drawn_corruption_has_its_fault(alg: str, part: str) -> None:
    @settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.filter_too_much])
    @given(corruption=corruptions(part, with_token=True, alg=alg))
    def check(corruption: Change) -> None:
        _judge(corruption, alg, with_token=True)

    check()


def test_every_fault_the_strategies_name_is_in_the_table() -> None:
    named = {c.fault_id for part in PARTS for alg in SUPPORTED_ALGS for c in coverage(part, with_token=True, alg=alg)}
    assert named <= set(FAULTS)
    assert {m.fault.id for m in MUTATIONS.values() if m.fault} <= set(FAULTS)


def test_a_fixed_case_has_the_level_of_its_fault() -> None:
    """One fault, one level: as-proof-jti-number is a SHOULD because jti-wrong-type is, and so on."""
    load_cases(locate_cases())
    checked = 0
    for info in CASES.values():
        if info.fault:
            assert info.level == FAULTS[info.fault].level, info.id
            checked += 1
    for name, mutation in MUTATIONS.items():  # and each §4.3 case names the fault of its mutation
        for prefix in ("as", "rs", "par"):
            info = CASES.get(f"{prefix}-proof-{name}")
            if info is not None and mutation.fault is not None:
                assert (info.fault, info.requirement) == (mutation.fault.id, mutation.fault.requirement), info.id
    assert checked > 130


def test_lenient_faults_are_warnings() -> None:
    assert {f.id for f in FAULTS.values() if f.lenient} >= set(SHOWN_BY)
    # the lenient faults no strategy draws, each shown by a fixed case against its leniency (tests/kill_matrix.py)
    assert {f.id for f in FAULTS.values() if f.lenient} - set(SHOWN_BY) == {
        "alg-case",
        "ath-padded",
        "htu-backslash",
        "authorization-trailing-text",
        "authorization-tab",
    }
    assert all(f.level.value == "SHOULD" for f in FAULTS.values() if f.lenient)


@pytest.mark.parametrize(
    ("spelling", "same_as"),
    [
        ("http://127.0x0.1:8080/token", "WHATWG"),
        ("http://0x7f.1:8080/token", "WHATWG"),
        ("http://2130706433:8080/token", "WHATWG"),
        ("http://127.0.0.1.:8080/token", "WHATWG"),
        ("http://0177.0.0.1:8080/token", "WHATWG"),
        ("HTTP://127.0.0.1:8080/t%6Fken", "RFC 3986"),
        ("http://127.0.0.1:8080/a/../token", "RFC 3986"),
        ("http://127.0.0.1:8080/token?x=1", "exact"),
        ("http://127.0.0.2:8080/token", None),
        ("http://127.0.0.1:8081/token", None),
        ("http://127.0.0.1:8080/Token", None),
        ("http://127.0.0.1:8080//token", None),
        ("https://127.0.0.1:8080/token", None),
    ],
)
def test_htu_spellings_that_name_the_same_resource(spelling: str, same_as: str | None) -> None:
    assert equivalent(spelling, "http://127.0.0.1:8080/token") == same_as


def test_no_htu_near_miss_names_the_request_uri() -> None:
    """htu near misses on an IPv4 literal host stay misses under WHATWG parsing (127.0x0.1 is 127.0.0.1)."""
    key = _KEYS["ES256"]
    url = "http://127.0.0.1:41234/token"

    @settings(max_examples=400, deadline=None, database=None)
    @given(corruption=corruptions("claims", with_token=False))
    def check(corruption: Any) -> None:
        if corruption.fault_id != "htu-mismatch" or "character" not in corruption.description:
            return
        from conformance.jose import decode_jws

        htu = decode_jws(corruption.apply(new_proof(key, "POST", url))).payload["htu"]
        assert not equivalent(htu, url), htu

    check()
