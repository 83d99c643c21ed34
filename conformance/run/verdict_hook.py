"""The verdict of each case, in place of pytest's: its outcome, message, cause and fix, and what pytest and
junit.xml count it as (a failure exactly when it gates).

Every phase report of a case gets a `CaseReport` (run/case_report.py), which the results collector reads, and
the `dpop_*` properties junit.xml carries.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

from conformance.client.evidence import render_exchanges
from conformance.client.flow import FlowError
from conformance.judge.catalog import CaseInfo, case_info
from conformance.judge.session import flow_failed
from conformance.judge.verdicts import Outcome, exception_text, verdict_of
from conformance.printable import printable
from conformance.report.baseline import NEW_CASE, STILL_WARNING
from conformance.report.hints import hint_for
from conformance.report.junit import skip_reason
from conformance.report.verdict import gates
from conformance.run.calling import schedule_mark
from conformance.run.case_report import JUNIT_PREFIX, CaseReport, attach, case_report_of
from conformance.run.configure import fail_on_option
from conformance.run.html_hooks import add_html_evidence
from conformance.run.stash import (
    AHEAD_KEY,
    BASELINE_KEY,
    CASE_KEY,
    MEASURE_KEY,
    NOTE_KEY,
    PREFLIGHT_KEY,
    REDACTOR_KEY,
    SESSION_KEY,
)

__all__ = [
    "UNEXPECTED",
    "pytest_report_teststatus",
    "pytest_runtest_makereport",
    "pytest_runtest_makereport_verdict",
]

#: the outcomes whose case records its cause and fix (results.json cases[].cause, cases[].fix)
_EXPLAINED = (Outcome.FAILED, Outcome.WARNING, Outcome.ERROR)
#: the start of the cause of a case that stopped on something other than a verdict (a bug, most likely)
UNEXPECTED = "the case stopped on an unexpected error"
_UNEXPECTED_FIX = (
    "run the case alone (dpop-conformance run -- -k <its id>) to see the whole error; where the target is not at "
    "fault, report it to dpop-conformance"
)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> pytest.TestReport | None:
    """A case's failing phase gets its report without pytest's traceback, which the verdict replaces anyway.

    pytest formats the traceback of every failure (0.1 s each, even with --tb=line); a target that fails
    a hundred cases, or a kill-matrix batch, paid seconds for text nobody reads.
    """
    excinfo = call.excinfo
    if case_info(item) is None or excinfo is None or not isinstance(excinfo.value, Exception):
        return None  # pytest's own report (KeyboardInterrupt and pytest.exit are BaseExceptions)
    if isinstance(excinfo.value, pytest.skip.Exception):
        return None
    sections = [(f"Captured {key} {when}", content) for when, key, content in item._report_sections]
    return pytest.TestReport(
        item.nodeid,
        item.location,
        {name: 1 for name in item.keywords},
        "failed",
        exception_text(excinfo.value),
        "setup" if call.when == "collect" else call.when,
        sections,
        call.duration,
        call.start,
        call.stop,
        user_properties=item.user_properties,
    )


@pytest.hookimpl(wrapper=True, specname="pytest_runtest_makereport")
def pytest_runtest_makereport_verdict(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    """Every phase report of a case: its verdict (outcome, message, evidence) in place of pytest's."""
    report: pytest.TestReport = yield
    info = case_info(item)
    if info is None or (report.when == "setup" and report.passed):
        return report
    if report.when == "teardown" and report.passed:
        judged = item.stash.get(CASE_KEY, None)
        if judged is not None:  # the teardown report carries the case's properties too (pytest-html's row)
            attach(report, judged)
        return report
    outcome, message = _judge(report, call, info, item.stash.get(NOTE_KEY, []))
    exc = call.excinfo.value if call.excinfo else None
    message = _message(item, exc, info, outcome, message)
    mark = _baseline_mark(item.config, info.id, outcome)
    _as_pytest_sees_it(report, item, outcome, message, mark)
    case = _case_report(item, info, exc, outcome, message, mark)
    # On the item too: junit.xml writes the properties of the teardown report, which copies the item's.
    item.user_properties = [
        *(p for p in item.user_properties if not str(p[0]).startswith(JUNIT_PREFIX)),
        *case.junit_properties(),
    ]
    report.user_properties = list(item.user_properties)
    attach(report, case)
    item.stash[CASE_KEY] = case
    ahead = item.stash.get(AHEAD_KEY, None)
    if ahead is not None and report.when == "call":
        report.duration += ahead.duration_s  # the case's time when it ran, beside others
    add_html_evidence(report, info, outcome, message, case.evidence)
    return report


def _judge(
    report: pytest.TestReport, call: pytest.CallInfo[None], info: CaseInfo, notes: list[str]
) -> tuple[Outcome, str]:
    excinfo = call.excinfo
    if report.skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        return Outcome.SKIPPED, reason.removeprefix("Skipped: ")
    if excinfo is None:
        return Outcome.PASSED, "; ".join(notes)
    exc = excinfo.value
    if report.when != "call":
        return Outcome.ERROR, f"could not set the case up: {exception_text(exc)}"
    return verdict_of(exc, info.level)


def _message(item: pytest.Item, exc: BaseException | None, info: CaseInfo, outcome: Outcome, message: str) -> str:
    """The verdict's message with its likely cause, redacted and safe to print."""
    hint = _likely_cause(exc, info.id, outcome)
    if hint:
        message = f"{message}\nLikely cause: {hint}"
    # redacted, then with every control character shown as an escape: the message reaches the terminal,
    # junit.xml, the HTML report and results.json, and the target's text in it must steer none of them
    return printable(item.config.stash[REDACTOR_KEY].redact(message), lines=True)


def _as_pytest_sees_it(report: pytest.TestReport, item: pytest.Item, outcome: Outcome, message: str, mark: str) -> None:
    """pytest's outcome of the phase: to pytest and junit.xml, a case is a failure exactly when it gates
    (report/verdict.py), or an error."""
    if outcome is Outcome.ERROR or gates(outcome.value, mark, fail_on_option(item.config)):
        report.outcome = "failed"
        report.longrepr = message
        if outcome is Outcome.ERROR and report.when == "call":
            # junit.xml (and pytest's summary) count a failure outside the call phase as an error: that
            # keeps their counts equal to results.json's (could-not-judge is not a conformance failure)
            report.when = "setup"
    elif outcome is Outcome.FAILED or (outcome is Outcome.WARNING and mark in (STILL_WARNING, NEW_CASE)):
        # a failure the baseline knows (or a case its suite did not have) does not gate: no red test to a
        # JUnit consumer while the gate is green; results.json and the report keep it a failure (report/junit.py)
        report.outcome = "skipped"
        report.longrepr = (
            str(item.path),
            item.location[1] or 0,
            skip_reason(item.config.stash[BASELINE_KEY], mark, outcome.value),
        )
    elif outcome in (Outcome.WARNING, Outcome.INFO):
        report.outcome = "passed"
        report.longrepr = None


def _case_report(
    item: pytest.Item, info: CaseInfo, exc: BaseException | None, outcome: Outcome, message: str, mark: str
) -> CaseReport:
    """The phase's CaseReport: the verdict, with the exchanges and requests the case spent."""
    redactor = item.config.stash[REDACTOR_KEY]
    session = item.config.stash.get(SESSION_KEY, None)
    exchanges = list(session.client.log) if session else []
    # requests that really went out during this case, per origin (the log keeps only a fuzz case's last example)
    sent_by_case, waited = session.client.transport.tally() if session else ({}, 0.0)
    throttled = session.client.transport.throttle_tally() if session else (0, 0.0)
    for extra in getattr(exc, "exchanges", []) or []:
        if extra not in exchanges:
            exchanges.insert(0, extra)
    cause, fix, shared = _cause(exc, outcome)
    preflight = item.config.stash.get(PREFLIGHT_KEY, None)
    return CaseReport(
        id=info.id,
        title=info.title,
        section=info.section,
        level=info.level.value,
        actor=info.actor,
        requirement=info.requirement,
        outcome=outcome.value,
        message=message,
        baseline=mark,
        cause=printable(redactor.redact(cause)),
        fix=printable(redactor.redact(fix)),
        shared_cause=shared,
        measurements=item.stash.get(MEASURE_KEY, {}),
        preflight=preflight.as_dict() if preflight is not None else {},
        requests=sent_by_case,
        waited_s=waited,
        throttled=(throttled[0], round(throttled[1], 3)),
        schedule=schedule_mark(item, info),
        doc=info.doc,
        evidence=printable(render_exchanges(exchanges, redactor), lines=True) if exchanges else "",
    )


def _cause(exc: BaseException | None, outcome: Outcome) -> tuple[str, str, bool]:
    """A failed, warning or error case's own cause and fix, and whether the cause is shared by other cases.

    The verdicts carry them (Violation, CouldNotJudge: written where the check is); a flow step a case did
    not catch says what its answer was (session.flow_failed). Anything else is no verdict but a case that
    stopped (an assertion of its own, a bug), and says so. Passed, info and skipped cases leave them empty.
    """
    if outcome not in _EXPLAINED:
        return "", "", False
    cause, fix = getattr(exc, "cause", None), getattr(exc, "fix", None)
    if isinstance(cause, str) and cause and isinstance(fix, str) and fix:
        return cause, fix, bool(getattr(exc, "shared", False))
    if isinstance(exc, FlowError):
        failed = flow_failed("a step of the DPoP flow failed", exc, fix=_UNEXPECTED_FIX)
        return failed.cause, failed.fix, False
    what = exception_text(exc).splitlines()[0][:200] if exc is not None else f"no exception, outcome {outcome}"
    return f"{UNEXPECTED}: {what}", _UNEXPECTED_FIX, False


def _likely_cause(exc: BaseException | None, case_id: str, outcome: Outcome) -> str:
    """The "Likely cause" line of a failed or warning case's message, or "".

    The violation's own hint where it knows better (a refusal that came as a 500 is no missing check); none
    where its cause is shared by other cases (a wrong status code: the likely cause of the case's id would
    blame a check the server made); else the hint its id points to (report/hints.py), with its fix.
    """
    if outcome not in (Outcome.FAILED, Outcome.WARNING):
        return ""
    own = getattr(exc, "hint", None)
    if isinstance(own, str) and own:
        return own
    if getattr(exc, "shared", False):
        return ""
    hint = hint_for(case_id)
    return str(hint) if hint else ""


def _baseline_mark(config: pytest.Config, case_id: str, outcome: Outcome) -> str:
    """The case's mark against the --dpop-baseline (report/baseline.py), or "" without one."""
    baseline = config.stash.get(BASELINE_KEY, None)
    return "" if baseline is None else baseline.mark(case_id, outcome.value)


def pytest_report_teststatus(
    report: pytest.TestReport | pytest.CollectReport, config: pytest.Config
) -> tuple[str, str, str] | None:
    """The suite's outcome on pytest's status line: W (warning), i (info), k and w (known failure, warning), E."""
    case = case_report_of(report)
    if report.when != "call" or case is None:  # setup and teardown reports carry the same case: count it once
        return None
    outcome = case.outcome
    if outcome == "failed" and report.skipped:
        return "known failure", "k", "KNOWN FAILURE"
    if outcome == "warning" and report.skipped:
        return "known warning", "w", "KNOWN WARNING"
    if outcome == "warning" and report.passed:
        return "warning", "W", "WARNING"
    if outcome == "info" and report.passed:
        return "info", "i", "INFO"
    if outcome == "error":
        return "error", "E", "ERROR"
    return None
