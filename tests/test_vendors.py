"""The suite against real DPoP implementations nobody on the team wrote: every harness of targets/ (targets/README.md),
in every configuration, held to its expectations.

For each harness and configuration, `start.sh` starts it on free loopback ports, the whole suite runs against it
with fuzz seed 1, then the fuzz cases again with seed 2, `stop.sh` stops it (always), and the outcomes must equal
the harness's expectations.toml exactly, for both seeds: a case that starts passing is as much news as one that
stops. A departure names the case, the old and the new outcome, the expectation's reason and what the suite saw.

The runs are a step of their own in .ci/run (`DPOP_VENDORS=1 pytest -n auto tests/test_vendors.py`), outside the
README's test command and its time budget: without DPOP_VENDORS=1 they are skipped, saying so. With it, every
harness must be installed (.ci/run runs each install.sh first: nothing is downloaded while the tests run) and
Node.js must be there for the oidc-provider stack; a missing one is a failure, not a skip. What needs no running
server (the expectations' form, that they name real cases, that a wrong one is reported readably) always runs.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from vendor_harness import (
    FINDINGS,
    SEEDS,
    Expectation,
    Harness,
    StartFailure,
    differences,
    discover,
    install,
    load_expectations,
    run_suite,
    running,
)

from conformance.judge.catalog import load_cases
from conformance.report.verdict import run_verdict
from conformance.run.cases_folder import locate_cases

HARNESSES = discover()
RUNS = [(h, configuration) for h in HARNESSES for configuration in h.configurations]


def why_not_runnable() -> str | None:
    """Why the vendor runs are left out here, or None (DPOP_VENDORS=1: they run)."""
    if os.environ.get("DPOP_VENDORS") != "1":
        return "the vendor matrix is a step of its own (.ci/run): DPOP_VENDORS=1 pytest tests/test_vendors.py runs it"
    return None


def test_there_are_five_implementations_each_with_a_configuration() -> None:
    assert len(HARNESSES) >= 5, [h.name for h in HARNESSES]
    assert all(h.configurations for h in HARNESSES)


@pytest.mark.parametrize("harness", HARNESSES, ids=[h.name for h in HARNESSES])
def test_expectations_name_existing_cases_of_the_runs_side_with_their_source(harness: Harness) -> None:
    """Every listed case exists, is one the harness's runs judge (an RS-only harness lists no AS case), and a
    finding (failed, warning, info) cites the implementation's source and the RFC (load_expectations checks
    that every entry has a reason, a source and an rfc at all)."""
    catalog = load_cases(locate_cases())
    for configuration, expected in load_expectations(harness).items():
        unknown = sorted(case_id for case_id in expected if case_id not in catalog)
        assert not unknown, (
            f"{harness.expectations_file.name} ({configuration}) names cases the suite does not have: {unknown}"
        )
        if harness.actor != "both":
            other = sorted(c for c in expected if catalog[c].actor != harness.actor)
            assert not other, f"{harness.name} runs --actor {harness.actor}, yet lists {other} ({configuration})"
        for case_id, entry in expected.items():
            if entry.outcome in FINDINGS:
                assert "§" in entry.rfc or "RFC" in entry.rfc, f"{entry.where(harness, case_id)}: rfc cites no RFC"


def test_a_wrong_expectation_fails_with_the_case_both_outcomes_and_the_reason() -> None:
    """What a departure from the expectations reads like (the same function judges the real runs)."""
    harness = HARNESSES[0]
    expected = {
        "rs-proof-htm-lowercase": Expectation(
            "warning", "compares htm case-insensitively", "lib/x.js:1 f()", "RFC 9110 §9.1", "all"
        ),
    }
    cases = [
        {"id": "rs-proof-htm-lowercase", "outcome": "passed", "cause": "", "message": ""},
        {
            "id": "rs-proof-typ-jwt",
            "outcome": "failed",
            "cause": "GET http://127.0.0.1:1/resource accepts a proof with typ JWT (HTTP 200)",
            "message": "",
        },
    ]
    lines = differences(harness, expected, cases)
    text = "\n".join(lines)
    assert "rs-proof-htm-lowercase: expected warning, got passed" in text
    where = harness.expectations_file.relative_to(Path(__file__).resolve().parent.parent)
    assert f"{where} [all.rs-proof-htm-lowercase] says: compares htm case-insensitively" in text
    assert "rs-proof-typ-jwt: expected passed, got failed" in text and "so expected to pass" in text
    assert "the suite said: GET http://127.0.0.1:1/resource accepts a proof with typ JWT" in text


@pytest.mark.slow
@pytest.mark.skipif(why_not_runnable() is not None, reason=why_not_runnable() or "")
@pytest.mark.parametrize(("harness", "configuration"), RUNS, ids=[f"{h.name}-{c}" for h, c in RUNS])
def test_vendor_outcomes_equal_the_expectations(harness: Harness, configuration: str, tmp_path: Path) -> None:
    """Starts the harness in the configuration, runs the suite (fuzz seed 1, then the fuzz cases with seed 2),
    compares."""
    try:
        install(harness)  # a no-op: .ci/run installed it (the first install would download)
    except Exception as exc:  # a missing tool (Node.js, npm) or install failure: a failure here, not a skip
        pytest.fail(f"DPOP_VENDORS=1 asks for the vendor runs, but {exc}", pytrace=False)
    expected = load_expectations(harness)[configuration]
    try:
        with running(harness, configuration, tmp_path / "run") as stack:
            done, results = run_suite(stack, tmp_path / "report", SEEDS[0])
            fuzz_done, fuzz_results = run_suite(stack, tmp_path / "report-seed-2", SEEDS[1], "-m", "fuzz")
    except StartFailure as exc:
        pytest.fail(str(exc), pytrace=False)
    cases = results["cases"]
    assert len(cases) > 50, f"only {len(cases)} cases ran:\n{done.stdout[-3000:]}\n{done.stderr}"
    for seed, report, run_cases, only_fuzz in (
        (SEEDS[0], "report", cases, False),
        (SEEDS[1], "report-seed-2", fuzz_results["cases"], True),
    ):
        diff = differences(harness, expected, run_cases, only_fuzz=only_fuzz)
        assert not diff, (
            f"{harness.name} ({configuration}), fuzz seed {seed}: outcomes differ from its expectations "
            f"(report: {tmp_path / report / 'report.html'}, server logs: {tmp_path / 'run'}):\n" + "\n".join(diff)
        )
    assert done.returncode == run_verdict(results).status, done.stdout[-3000:] + done.stderr
    assert fuzz_done.returncode == run_verdict(fuzz_results).status, fuzz_done.stdout[-3000:] + fuzz_done.stderr


def test_docs_vendors_md_shows_every_expectation() -> None:
    """docs/vendors.md (python tests/vendor_matrix.py) is the matrix of these harnesses: each one, each of its
    configurations, and every case each lists, with its outcome, is on the page (the runs hold the outcomes)."""
    page = (Path(__file__).resolve().parent.parent / "docs" / "vendors.md").read_text(encoding="utf-8")
    for harness in HARNESSES:
        assert harness.title in page, (
            f"docs/vendors.md does not name {harness.title}: run python tests/vendor_matrix.py"
        )
        for configuration, expected in load_expectations(harness).items():
            anchor = f"{harness.name}-{configuration}"
            assert anchor in page, f"docs/vendors.md has no {anchor}: run python tests/vendor_matrix.py"
            for case_id, entry in expected.items():
                if entry.outcome in FINDINGS:
                    assert f'id="{harness.name}-{case_id}"' in page, (
                        f"docs/vendors.md has no report of {case_id} for {harness.name}: "
                        "run python tests/vendor_matrix.py"
                    )


def test_the_matrix_command_refuses_an_unknown_harness() -> None:
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve().parent / "vendor_matrix.py"), "--only", "nope"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "no harness named 'nope'" in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
