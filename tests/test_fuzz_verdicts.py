"""Fuzz verdicts a release can be gated on: no false failure on a lenient server, every seed; no masking.

The fuzz cases run here in this process, through the very function the case module calls
(`conformance.judge.fuzzing.fuzz_case`, judged by `conformance.judge.fuzzing.verdict` and `verdicts.verdict_of`, as the
plugin does), against a real reference server on loopback in a process of its own: that makes the seed
matrix affordable (a `dpop-conformance run` per seed would cost a second of start-up each).
tests/test_kill_matrix.py runs the same cases through the command line, with seed 1.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from kill_matrix import KILLS, LENIENT_WARNINGS, Kill

from conformance.client.target import load_target, parse_target
from conformance.judge.endpoints import RESOURCE, TOKEN
from conformance.judge.faults import Change, fault
from conformance.judge.fuzzing import FuzzRun, accepted_finding, fuzz_case, server_error_finding, verdict
from conformance.judge.session import DPoPSession
from conformance.judge.strategies import PARTS
from conformance.judge.verdicts import Level, Outcome, verdict_of
from conformance.reference import ALL_LENIENCIES, RunningServer, ServerSettings
from conformance.reference.process import reference_server

# runs the suite against servers many times: left out by `pytest -m "not slow"` (the inner loop)
pytestmark = pytest.mark.slow

SEEDS = (None, 1, 2, 3)  # None: the default, derandomised run
EXAMPLES = 40  # the default profile (quick)
FUZZ_CASES = [(f"{e.prefix}-fuzz-{p}-refused", e, (p,)) for e in (TOKEN, RESOURCE) for p in PARTS] + [
    (f"{e.prefix}-fuzz-no-server-error", e, PARTS) for e in (TOKEN, RESOURCE)
]
LENIENT_FUZZ = {c for cases in LENIENT_WARNINGS.values() for c in cases.split() if "-fuzz-" in c}
_SEVERITY = ["failed", "error", "warning", "info", "passed"]


def session_for(server: RunningServer) -> DPoPSession:
    import tomllib

    return DPoPSession(parse_target(tomllib.loads(server.target_toml()), source="reference"))


def outcomes(dpop: DPoPSession, seed: int | None, only: set[str] | None = None) -> dict[str, str]:
    """The outcome of every fuzz case (or of those in `only`), as the plugin would judge it."""
    found: dict[str, str] = {}
    for case_id, endpoint, parts in FUZZ_CASES:
        if only is not None and case_id not in only:
            continue
        judge = server_error_finding if case_id.endswith("no-server-error") else accepted_finding
        declared = Level.SHOULD if case_id.endswith("no-server-error") else Level.MUST
        try:
            run = fuzz_case(dpop, endpoint, parts, judge, examples=EXAMPLES, seed=seed)
            verdict(run, what="fuzzed proofs", replay="(a test)")
            found[case_id] = Outcome.PASSED.value
        except Exception as exc:  # the verdict, or could-not-judge: as the plugin reads it
            found[case_id] = verdict_of(exc, declared)[0].value
    return found


@pytest.fixture(scope="module")
def lenient_server(request: pytest.FixtureRequest) -> Iterator[Path]:
    """The reference server with every leniency of real JOSE libraries switched on: its target file."""
    with reference_server(request.param, leniencies=list(ALL_LENIENCIES)) as config:
        yield config


#: each nonce mode with two of the seeds, every seed in two modes: what a nonce mode changes (the requests
#: around each example) and what a seed changes (the examples) are independent, so the pairs cover both
#: without all sixteen combinations
LENIENT_RUNS = [("none", None), ("none", 1), ("as", 2), ("as", 3), ("rs", None), ("rs", 3), ("both", 1), ("both", 2)]


@pytest.mark.parametrize(
    ("lenient_server", "seed"),
    LENIENT_RUNS,
    indirect=["lenient_server"],
    ids=[f"{m}-seed-{s}" for m, s in LENIENT_RUNS],
)
def test_a_lenient_server_gets_no_failure_and_no_error_from_any_seed(lenient_server: Path, seed: int | None) -> None:
    """Every leniency on, any nonce mode, any seed or none: only the leniencies' own warnings."""
    dpop = DPoPSession(load_target(lenient_server))
    try:
        got = outcomes(dpop, seed)
    finally:
        dpop.close()
    assert {c: o for c, o in got.items() if o != "passed"} == dict.fromkeys(LENIENT_FUZZ, "warning")


FUZZ_KILLS = [k for k in KILLS if k.fuzz]


def _expected_with_every_leniency(kill: Kill) -> dict[str, str]:
    """The entry's own outcomes, and the leniencies' warnings where the defect gives nothing worse."""
    expected = {case: outcome for case, outcome in kill.expected.items()}
    for case in LENIENT_FUZZ:
        if _SEVERITY.index(expected.get(case, "passed")) > _SEVERITY.index("warning"):
            expected[case] = "warning"
    return expected


@pytest.mark.parametrize("kill", FUZZ_KILLS, ids=[k.defects for k in FUZZ_KILLS])
def test_every_fuzz_only_defect_is_caught_with_every_seed_and_every_leniency(kill: Kill) -> None:
    """No masking: a leniency's warning never hides the defect's finding, for each of 3 seeds (and none).

    The cases the entry names are run (the command-line kill matrix shows, with seed 1, that no other
    case notices the defect).
    """
    expected = {case: outcome for case, outcome in _expected_with_every_leniency(kill).items() if case in kill.expected}
    # a warning can hide no warning: where the defect's findings are warnings (server errors), two seeds show it
    seeds = SEEDS if "failed" in expected.values() else SEEDS[:2]
    with reference_server(kill.nonce, defects=kill.defects.split(), leniencies=list(ALL_LENIENCIES)) as config:
        dpop = DPoPSession(load_target(config))
        try:
            for seed in seeds:
                assert outcomes(dpop, seed, only=set(expected)) == expected, f"{kill.defects}, seed {seed}"
        finally:
            dpop.close()


def test_the_default_run_sends_the_same_examples_and_finds_the_same(tmp_path: object) -> None:
    """Derandomised: two runs without a seed draw the same corruptions and report the same findings."""
    settings = ServerSettings(nonce="none", defects=frozenset({"typ"}), leniencies=frozenset({"b64-padding"}))
    with RunningServer(settings) as server:
        dpop = session_for(server)
        try:
            runs = [fuzz_case(dpop, TOKEN, PARTS, accepted_finding, examples=EXAMPLES) for _ in range(2)]
        finally:
            dpop.close()
    first, second = ({f: r.findings[f].corruption.description for f in r.findings} for r in runs)
    assert first == second and {"typ-wrong", "b64-padding", "duplicate-member"} <= set(first)
    assert runs[0].sent == runs[1].sent


def test_an_example_drawn_again_is_answered_from_its_first_observation() -> None:
    """A replay cache refuses the second copy of a corrupt jti: the first answer counts, nothing is sent twice."""
    with RunningServer(ServerSettings(leniencies=frozenset({"jti-any-type"}))) as server:
        dpop = session_for(server)
        try:
            run = FuzzRun(dpop, TOKEN, accepted_finding)
            same_jti = Change(
                "jti-wrong-type",
                fault("jti-wrong-type"),
                "jti 7",
                lambda d: d.with_claims(jti=7).sign(),
                "claims",
                ("t",),
            )
            first = run.observe(same_jti)
            again = run.observe(same_jti)
        finally:
            dpop.close()
    assert first is not None and again is first and run.sent == 1 and run.repeated == 1
