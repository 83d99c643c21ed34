"""Verdicts: the six outcomes of a case and the exceptions cases raise to reach them.

The RFC's level decides the outcome of a violated requirement: MUST → `failed`, SHOULD → `warning`,
MAY or left open → `info`. A case that could not judge (target unreachable, its control request
failed) ends in `error`; a case that does not apply to the target is `skipped`, with the reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from conformance.client.evidence import Exchange

__all__ = [
    "CouldNotJudge",
    "Level",
    "Observation",
    "Outcome",
    "Violation",
    "exception_text",
    "lower_level",
    "outcome_for_level",
    "verdict_of",
]


class Outcome(StrEnum):
    """What results.json, the report and the exit status say about one case."""

    PASSED = "passed"
    FAILED = "failed"
    WARNING = "warning"
    INFO = "info"
    SKIPPED = "skipped"
    ERROR = "error"


class Level(StrEnum):
    """The requirement level (BCP 14) of what a case checks."""

    MUST = "MUST"
    SHOULD = "SHOULD"
    MAY = "MAY"


OUTCOME_MEANINGS: dict[Outcome, str] = {
    Outcome.PASSED: "the server did what the RFC requires",
    Outcome.FAILED: "a MUST of the RFC is violated",
    Outcome.WARNING: "a SHOULD of the RFC is violated; still conformant",
    Outcome.INFO: "behaviour the RFC leaves open, recorded",
    Outcome.SKIPPED: "not applicable to this target (the reason says why)",
    Outcome.ERROR: "the case could not be judged (target unreachable, a control or the happy path failed)",
}


_RANK = {Level.MAY: 0, Level.SHOULD: 1, Level.MUST: 2}


def lower_level(a: Level, b: Level) -> Level:
    """The weaker of two levels: a softer part of a check never judges more harshly than its case."""
    return a if _RANK[a] <= _RANK[b] else b


def outcome_for_level(level: Level) -> Outcome:
    """The outcome of a violated requirement of that level."""
    return {Level.MUST: Outcome.FAILED, Level.SHOULD: Outcome.WARNING, Level.MAY: Outcome.INFO}[level]


class Violation(AssertionError):
    """The target did not do what the requirement says.

    `level` defaults to the case's declared level; a case lowers it for a softer part of a check
    (a missing SHOULD-level `error` code after a correct rejection, say). It never raises it: the
    outcome is that of the lower of the two (a SHOULD part of a MAY case is info).

    `cause` names what the violation shares with others of its kind in words that are the same for every
    case it happens to ("POST https://as.example/token answers invalid_dpop_proof with HTTP 401, not 400"),
    and `fix` what to change: a report groups findings by cause, so one wrong status code is one finding,
    not thirty-five. Without a cause, the case's likely cause (conformance/report/hints.py) groups it.

    `own_level` True keeps `level` whatever the case's level is: a finding that is not about the case's own
    requirement (a server error where a refusal was due is a warning in a MAY case too). `hint` replaces the
    case's likely cause when the violation says what happened better (a refusal that came as a 500 is no
    sign that a check is missing).
    """

    def __init__(
        self,
        message: str,
        *,
        level: Level | None = None,
        exchanges: Sequence[Exchange] = (),
        cause: str | None = None,
        fix: str | None = None,
        own_level: bool = False,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.level = level
        self.exchanges = list(exchanges)
        self.cause = cause
        self.fix = fix
        self.own_level = own_level and level is not None
        self.hint = hint


class Observation(Exception):
    """Behaviour the RFC leaves open (or a requirement that cannot be observed here), recorded as info."""


class CouldNotJudge(Exception):
    """The case could not be judged: the target did not answer, or a control request failed.

    `cause` is what went wrong in words that are the same for every case it happens to, so that a run
    can say "153 cases could not be judged: POST .../token answered 401 invalid_client" in one line. By
    default it is what the last exchange got (Exchange.as_cause), or the message's first line.
    """

    def __init__(self, message: str, *, exchanges: Sequence[Exchange] = (), cause: str | None = None) -> None:
        super().__init__(message)
        self.exchanges = list(exchanges)
        if cause is None:
            from conformance.judge.setup_problems import setup_problem  # (it reads exchanges, as this module does)

            last = self.exchanges[-1] if self.exchanges else None
            problem = setup_problem(last, control=True) if last is not None else None
            if problem is not None:
                cause = problem.cause
            elif last is not None and not last.ok:
                cause = last.as_cause()
            else:
                cause = message.strip().splitlines()[0][:200]
        self.cause = cause


def exception_text(exc: BaseException) -> str:
    """An exception as one line: its type, and its message when it has one."""
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def verdict_of(exc: BaseException, level: Level) -> tuple[Outcome, str]:
    """The outcome and message of a case that raised `exc`; `level` is the case's declared level."""
    from conformance.client.flow import FlowError  # the client's own error: the flow could not be carried out

    if isinstance(exc, Violation):
        if exc.level is not None and exc.own_level:
            return outcome_for_level(exc.level), str(exc)
        return outcome_for_level(lower_level(exc.level, level) if exc.level else level), str(exc)
    if isinstance(exc, Observation):
        return Outcome.INFO, str(exc)
    if isinstance(exc, CouldNotJudge | FlowError):
        return Outcome.ERROR, str(exc)
    if isinstance(exc, AssertionError):
        return outcome_for_level(level), str(exc)
    return Outcome.ERROR, f"the case could not run: {exception_text(exc)}"
