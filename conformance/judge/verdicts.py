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
    "NotApplicable",
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
    Outcome.PASSED: "the target did what the RFC requires",
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

    `cause` says what the server does, in words about this case ("POST https://as.example/token accepts a
    token request carrying a proof with typ JWT"), and `fix` what to change there ("refuse such requests
    (§4.3 check 4: typ is dpop+jwt)"). Both are required: every raise site writes them where it knows them,
    and results.json carries them for each case (cases[].cause, cases[].fix).

    `shared` True says the cause is worded the same for every case it happens to ("POST
    https://as.example/token answers invalid_dpop_proof with HTTP 401, not 400"): a report groups findings by
    it, so one wrong status code is one finding, not thirty-five. Otherwise findings group by the likely cause
    the case's id points to (conformance/report/hints.py), or the case stands alone with its own cause.

    `level` defaults to the case's declared level; a case lowers it for a softer part of a check
    (a missing SHOULD-level `error` code after a correct rejection, say). It never raises it: the
    outcome is that of the lower of the two (a SHOULD part of a MAY case is info). `own_level` True keeps
    `level` whatever the case's level is: a finding that is not about the case's own requirement (a server
    error where a refusal was due is a warning in a MAY case too). `hint` replaces the case's likely cause
    in its message when the violation says what happened better (a refusal that came as a 500 is no sign
    that a check is missing).
    """

    def __init__(
        self,
        message: str,
        *,
        cause: str,
        fix: str,
        level: Level | None = None,
        exchanges: Sequence[Exchange] = (),
        shared: bool = False,
        own_level: bool = False,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.cause = cause
        self.fix = fix
        self.level = level
        self.exchanges = list(exchanges)
        self.shared = shared
        self.own_level = own_level and level is not None
        self.hint = hint


class NotApplicable(Exception):
    """The case does not apply to this target (the message says why): skipped, never a verdict.

    The judge raises it where the target file or the target's answers show the case has nothing to judge (no
    [public_client], no PAR endpoint, no nonce ever provided); the run layer turns it into pytest's skip.
    """


class Observation(Exception):
    """Behaviour the RFC leaves open (or a requirement that cannot be observed here), recorded as info."""


class CouldNotJudge(Exception):
    """The case could not be judged: the target did not answer, or a control request failed.

    `cause` is what went wrong in words that are the same for every case it happens to, so that a run
    can say "153 cases could not be judged: POST .../token answered 401 invalid_client" in one line, and
    `fix` what the user changes so that the case can be judged: the target file, the client's registration,
    the server's availability, or the server's answer to a valid request (which another case judges).
    """

    def __init__(self, message: str, *, cause: str, fix: str, exchanges: Sequence[Exchange] = ()) -> None:
        super().__init__(message)
        self.cause = cause
        self.fix = fix
        self.exchanges = list(exchanges)


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
    if isinstance(exc, NotApplicable):
        return Outcome.SKIPPED, str(exc)
    if isinstance(exc, CouldNotJudge | FlowError):
        return Outcome.ERROR, str(exc)
    if isinstance(exc, AssertionError):
        return outcome_for_level(level), str(exc)
    return Outcome.ERROR, f"the case could not run: {exception_text(exc)}"
