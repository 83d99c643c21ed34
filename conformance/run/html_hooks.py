"""pytest-html's page (`run --pytest-html`): its title, summary, columns, and each case's evidence in its row.

The suite's own page is report.html (run/report_files.py); these hooks only act when pytest-html writes one.
"""

from __future__ import annotations

from typing import Any

import pytest

from conformance.judge.catalog import CaseInfo
from conformance.judge.verdicts import Outcome
from conformance.report.pytest_html import evidence_block, summary_html, table_header, table_row
from conformance.run.case_report import case_report_of

__all__ = [
    "add_html_evidence",
    "pytest_html_report_title",
    "pytest_html_results_summary",
    "pytest_html_results_table_header",
    "pytest_html_results_table_row",
]


def add_html_evidence(report: pytest.TestReport, info: CaseInfo, outcome: Outcome, message: str, evidence: str) -> None:
    """The case's verdict and evidence as an extra of its pytest-html row."""
    try:
        from pytest_html import extras as html_extras
    except ImportError:  # pragma: no cover - pytest-html is a dependency, but the plugin works without it
        return
    extras = list(getattr(report, "extras", []))
    extras.append(html_extras.html(evidence_block(info, outcome, message, evidence)))
    report.extras = extras  # type: ignore[attr-defined]  # pytest-html reads this attribute


@pytest.hookimpl(optionalhook=True)  # pytest-html's hooks: only with --html
def pytest_html_report_title(report: Any) -> None:
    """The page's title."""
    report.title = "DPoP conformance (RFC 9449)"


@pytest.hookimpl(optionalhook=True)  # pytest-html's hooks: only with --html
def pytest_html_results_summary(
    prefix: list[str], summary: list[str], postfix: list[str], session: pytest.Session
) -> None:
    """Summary first: target, suite version, date, counts per outcome, the verdict, the failures, a legend."""
    from conformance.run.collector import ResultsCollector

    collector = session.config.pluginmanager.get_plugin("dpop-results")
    if not isinstance(collector, ResultsCollector):
        return
    prefix.extend(summary_html(collector.writer.as_dict()))


@pytest.hookimpl(optionalhook=True)  # pytest-html's hooks: only with --html
def pytest_html_results_table_header(cells: list[str]) -> None:
    """The suite's columns: id, section, level, actor, outcome."""
    table_header(cells)


@pytest.hookimpl(optionalhook=True)  # pytest-html's hooks: only with --html
def pytest_html_results_table_row(report: pytest.TestReport, cells: list[str]) -> None:
    """A case's row, from its report (empty cells for a phase that judged nothing)."""
    case = case_report_of(report)
    table_row(
        {}
        if case is None
        else {
            "case": case.id,
            "section": case.section,
            "level": case.level,
            "actor": case.actor,
            "outcome": case.outcome,
            "baseline": case.baseline,
        },
        cells,
    )
