"""Real DPoP client libraries held to their expectations: targets/clients/*/ (issue 30, item 5).

The form checks always run (every harness.toml follows targets/clients/README.md, every expectation names a real
scenario and check, with its reason, source and RFC sentence). The outcome runs install each library and run its
command in every scenario its capabilities allow; they are a step of their own (`DPOP_VENDORS=1 pytest
tests/test_client_vendors.py`), skipped without DPOP_VENDORS=1, saying so. With it, a failed install is a failure,
not a skip. A pair that starts passing is as much news as one that stops: both are differences.
"""

from __future__ import annotations

import os
from dataclasses import replace

import pytest
from client_vendor_harness import (
    CAPABILITIES,
    EXPECTED_OUTCOMES,
    Expected,
    Harness,
    HarnessError,
    differences,
    discover,
    install,
    load_expectations,
    run,
)

from conformance.judge.client_checks import CHECKS, CheckResult
from conformance.judge.verdicts import Outcome
from conformance.reference.judging import SCENARIOS
from conformance.run.client_runner import ClientRun, ScenarioRun

HARNESSES = discover()
NAMES = [h.name for h in HARNESSES]


def _why_not_runnable() -> str | None:
    if os.environ.get("DPOP_VENDORS") != "1":
        return "the client vendor runs are a step of their own: DPOP_VENDORS=1 pytest tests/test_client_vendors.py"
    return None


def test_there_are_client_harnesses() -> None:
    assert HARNESSES, "targets/clients/ holds no harness.toml"


@pytest.mark.parametrize("harness", HARNESSES, ids=NAMES)
def test_the_harness_follows_the_contract(harness: Harness) -> None:
    assert harness.title.split()[-1][0].isdigit(), f"title {harness.title!r} is '<library> <version>'"
    assert set(harness.capabilities) <= set(CAPABILITIES)
    for name in ("install.sh", "run.sh", "README.md", "expectations.toml"):
        assert (harness.folder / name).is_file(), f"{harness.folder.name}/{name} is missing"
    assert harness.folder.name in harness.command, "the command runs the harness's own script"
    pins = [harness.folder / "requirements.txt", harness.folder / "package-lock.json"]
    assert any(p.is_file() for p in pins), "the library's pins: requirements.txt or package-lock.json"
    requirements = harness.folder / "requirements.txt"
    if requirements.is_file():
        lines = [ln.split("#")[0].strip() for ln in requirements.read_text(encoding="utf-8").splitlines()]
        unpinned = [ln for ln in lines if ln and "==" not in ln]
        assert not unpinned, f"every package pinned with ==: {unpinned}"


@pytest.mark.parametrize("harness", HARNESSES, ids=NAMES)
def test_every_expectation_names_a_real_scenario_and_check(harness: Harness) -> None:
    expectations = load_expectations(harness)  # raises HarnessError naming every problem
    runnable = set(harness.scenarios())
    for e in expectations:
        assert e.table == "all" or e.table in runnable
        assert e.check in CHECKS and e.outcome in EXPECTED_OUTCOMES
        assert e.reason.strip() and e.source.strip() and e.rfc.strip()


def _fake_harness(capabilities: tuple[str, ...] = ()) -> Harness:
    from pathlib import Path

    return Harness("fake", Path("/nonexistent"), "fake 1.0", "https://example.com", "a fake", "true", capabilities)


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ('[nowhere.typ]\noutcome="failed"\nreason="r"\nsource="s"\nrfc="x"\n', "neither 'all' nor a scenario"),
        ('[all.no-such-check]\noutcome="failed"\nreason="r"\nsource="s"\nrfc="x"\n', "is not a check"),
        ('[all.typ]\noutcome="passed"\nreason="r"\nsource="s"\nrfc="x"\n', "is not one of"),
        ('[all.typ]\noutcome="failed"\nreason="r"\n', "missing"),
        ('[all.typ]\noutcome="failed"\nreason=""\nsource="s"\nrfc="x"\n', "non-empty"),
        ('[refresh.typ]\noutcome="failed"\nreason="r"\nsource="s"\nrfc="x"\n', "capabilities do not run"),
        (
            '[all.typ]\noutcome="failed"\nreason="r"\nsource="s"\nrfc="x"\n'
            '[no-nonces.typ]\noutcome="failed"\nreason="r"\nsource="s"\nrfc="x"\n',
            "also in [all]",
        ),
    ],
)
def test_a_malformed_expectation_is_refused_saying_why(text: str, complaint: str) -> None:
    with pytest.raises(HarnessError, match=complaint.replace("[", r"\[").replace("]", r"\]")):
        load_expectations(_fake_harness(), text)


def _run_of(outcomes: dict[tuple[str, str], Outcome]) -> ClientRun:
    """A synthetic run: every check of the named scenarios passed, but the outcomes given."""
    scenarios = sorted({s for s, _ in outcomes}, key=[x.id for x in SCENARIOS].index)
    runs = []
    for sid in scenarios:
        results = {}
        for check in CHECKS:
            outcome = outcomes.get((sid, check), Outcome.PASSED)
            results[check] = CheckResult(check, outcome, f"the suite's message for {check} in {sid}")
        runs.append(ScenarioRun(sid, 0, "", 0.1, (), results, ""))
    return ClientRun(tuple(runs))


def test_a_wrong_expectation_is_reported_readably() -> None:
    expected = Expected("all", "htu", "failed", "the library puts the query in htu", "lib.py:1 f()", "RFC 9449 §4.2")
    run_ = _run_of(
        {
            ("no-nonces", "htu"): Outcome.PASSED,  # [all] says failed: a difference
            ("as-nonce", "htu"): Outcome.FAILED,  # as expected
            ("as-nonce", "nonce"): Outcome.WARNING,  # not listed: a difference
            ("rs-nonce", "htu"): Outcome.SKIPPED,  # [all] holds only where judged
        }
    )
    lines = differences([expected], run_)
    assert len(lines) == 2, lines
    first, second = lines
    assert first.startswith("no-nonces.htu: expected failed ([all.htu]), got passed")
    assert "expected because: the library puts the query in htu" in first
    assert "the suite says: the suite's message for htu in no-nonces" in first
    assert second.startswith("as-nonce.nonce: expected passed or skipped, got warning")
    assert "the suite says: the suite's message for nonce in as-nonce" in second


def test_an_expectation_for_a_scenario_that_did_not_run_or_a_check_never_judged_is_a_difference() -> None:
    run_ = _run_of({("no-nonces", "typ"): Outcome.PASSED, ("no-nonces", "ath"): Outcome.SKIPPED})
    stale = [
        Expected("as-nonce", "typ", "failed", "r", "s", "x"),
        Expected("all", "ath", "warning", "r", "s", "x"),
    ]
    lines = differences(stale, run_)
    assert any("scenario as-nonce did not run" in ln for ln in lines)
    assert any("ath was judged in no scenario" in ln for ln in lines)
    # the same expectation held where it applies is no difference
    held = differences(
        [replace(stale[0], table="no-nonces", outcome="failed")], _run_of({("no-nonces", "typ"): Outcome.FAILED})
    )
    assert held == []


@pytest.mark.slow
@pytest.mark.skipif(_why_not_runnable() is not None, reason=_why_not_runnable() or "")
@pytest.mark.parametrize("harness", HARNESSES, ids=NAMES)
def test_the_client_library_gets_exactly_its_expected_outcomes(harness: Harness) -> None:
    expectations = load_expectations(harness)
    install(harness)
    run_ = run(harness)
    assert [s.scenario for s in run_.scenarios] == harness.scenarios()
    lines = differences(expectations, run_)
    assert not lines, f"{harness.title}: {len(lines)} differences from expectations.toml:\n" + "\n".join(lines)


def test_docs_vendors_md_shows_every_client_expectation() -> None:
    """docs/vendors.md's Clients section (python tests/vendor_matrix.py) shows every client harness, and every
    expectation of each, with its outcome, its reason and its source (the runs hold the outcomes)."""
    from vendor_matrix import PAGE, client_anchor

    from conformance.printable import markdown_cell

    page = PAGE.read_text(encoding="utf-8")
    assert "## Clients" in page, "docs/vendors.md has no Clients section: run python tests/vendor_matrix.py"
    for harness in HARNESSES:
        assert f'id="client-{harness.name}"' in page and harness.title in page, (
            f"docs/vendors.md does not show {harness.title}: run python tests/vendor_matrix.py"
        )
        for e in load_expectations(harness):
            heading = f'id="{client_anchor(harness.name, e.table, e.check)}"></a>`{e.table}` · `{e.check}`: {e.outcome}'
            assert heading in page, (
                f"docs/vendors.md has no {e.outcome} [{e.table}.{e.check}] for {harness.name}: "
                "run python tests/vendor_matrix.py"
            )
            assert markdown_cell(e.reason)[:200] in page and markdown_cell(e.source)[:200] in page, (
                f"docs/vendors.md does not give the reason and source of [{e.table}.{e.check}] for {harness.name}"
            )
