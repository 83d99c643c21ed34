"""A case's report, as one typed object: what the verdict hook found, carried to the results collector.

The verdict hook (run/verdict_hook.py) puts a `CaseReport` on each phase report of a case that it judged; the
collector (run/collector.py) turns it into the case's results.json record. Between an xdist worker and the
controller it travels as a plain dict (`pytest_report_to_serializable`), and is a `CaseReport` again on the
other side. junit.xml gets its `dpop_*` properties from it (`junit_properties`), the same strings as ever.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

import pytest

from conformance.report.results import CaseRecord

__all__ = [
    "JUNIT_PREFIX",
    "CaseReport",
    "attach",
    "case_report_of",
    "pytest_report_from_serializable",
    "pytest_report_to_serializable",
]

JUNIT_PREFIX = "dpop_"  # prefix of the user properties a case's report adds (junit.xml's properties)
_ATTRIBUTE = "dpop_case"  # the report attribute that carries it


@dataclass(frozen=True)
class CaseReport:
    """Everything one judged phase of a case says: the case, its verdict, and what the run spent on it."""

    id: str
    title: str
    section: str
    level: str
    actor: str
    requirement: str
    outcome: str
    message: str
    baseline: str = ""  # the mark against --dpop-baseline, or ""
    cause: str = ""
    fix: str = ""
    shared_cause: bool = False
    measurements: dict[str, Any] = field(default_factory=dict)
    preflight: dict[str, Any] = field(default_factory=dict)  # the setup failure, when the happy path failed
    requests: dict[str, int] = field(default_factory=dict)  # requests sent during the case, per origin
    waited_s: float = 0.0  # time spent waiting for the target's answers
    throttled: tuple[int, float] = (0, 0.0)  # rate limits met: how often, and the seconds waited
    schedule: str = ""  # how it ran: "ahead", "again:<outcome>", "confirm:passed", or "" (alone)
    doc: str = ""  # the case's docstring, for report.html
    evidence: str = ""  # the exchanges, rendered and redacted, for report.html

    def record(self, nodeid: str, duration_s: float) -> CaseRecord:
        """The case's results.json record."""
        return CaseRecord(
            id=self.id,
            title=self.title,
            section=self.section,
            level=self.level,
            actor=self.actor,
            outcome=self.outcome,
            message=self.message,
            duration_s=round(duration_s, 4),
            requirement=self.requirement,
            rfc_url=f"https://www.rfc-editor.org/rfc/rfc9449#section-{self.section}",
            nodeid=nodeid,
            baseline=self.baseline,
            measurements=dict(self.measurements),
            cause=self.cause,
            fix=self.fix,
            shared_cause=self.shared_cause,
        )

    def junit_properties(self) -> list[tuple[str, str]]:
        """The case's `dpop_*` user properties, which pytest writes into junit.xml (CI test tabs read them)."""
        return [
            (f"{JUNIT_PREFIX}{name}", value)
            for name, value in (
                ("case", self.id),
                ("title", self.title),
                ("section", self.section),
                ("level", self.level),
                ("actor", self.actor),
                ("requirement", self.requirement),
                ("outcome", self.outcome),
                ("message", self.message),
                ("baseline", self.baseline),
                ("fix", self.fix),
                ("measurements", json.dumps(self.measurements)),
                ("cause", self.cause),
                ("shared_cause", "true" if self.shared_cause else ""),
                ("preflight", json.dumps(self.preflight)),
                ("requests", json.dumps(self.requests)),
                ("waited", f"{self.waited_s:.6f}"),
                ("throttled", json.dumps(list(self.throttled))),
                ("schedule", self.schedule),
            )
        ]

    def as_json(self) -> dict[str, Any]:
        """The report as plain data (for xdist, which sends reports between processes)."""
        return {**dataclasses.asdict(self), "throttled": list(self.throttled)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CaseReport:
        """The report again, from `as_json`."""
        count, waited = data.get("throttled") or (0, 0.0)
        return cls(**{**data, "throttled": (int(count), float(waited))})


def case_report_of(report: pytest.TestReport | pytest.CollectReport) -> CaseReport | None:
    """The case's report a phase report carries, or None (not a case, or a phase nothing was judged in)."""
    found = getattr(report, _ATTRIBUTE, None)
    return found if isinstance(found, CaseReport) else None


def attach(report: pytest.TestReport, case: CaseReport) -> None:
    """Put the case's report on a phase report."""
    setattr(report, _ATTRIBUTE, case)


@pytest.hookimpl(wrapper=True)
def pytest_report_to_serializable(report: pytest.TestReport) -> Generator[None, Any, Any]:
    """An xdist worker's report, with its CaseReport as plain data."""
    data = yield
    if isinstance(data, dict) and isinstance(data.get(_ATTRIBUTE), CaseReport):
        data[_ATTRIBUTE] = data[_ATTRIBUTE].as_json()
    return data


@pytest.hookimpl(wrapper=True)
def pytest_report_from_serializable(data: dict[str, Any]) -> Generator[None, Any, Any]:
    """A worker's report on the xdist controller, with its CaseReport typed again."""
    report = yield
    carried = getattr(report, _ATTRIBUTE, None)
    if isinstance(carried, dict):
        setattr(report, _ATTRIBUTE, CaseReport.from_json(carried))
    return report
