"""The files a run writes at its end, from the one results model: results.json, then report.html."""

from __future__ import annotations

from pathlib import Path

from conformance.report.results import ResultsWriter

__all__ = ["write_reports"]


def write_reports(writer: ResultsWriter, details: dict[str, dict[str, str]], results: str, report: str | None) -> None:
    """Write results.json to `results`, and report.html to `report` when one is asked for.

    `details`: each case's doc and evidence by case id, which report.html shows beyond results.json.
    """
    writer.write(results)
    if report:
        from conformance.report.html import render_report  # the page's renderer, only when a page is asked for

        page = Path(report)
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(render_report(writer.as_dict(), details), encoding="utf-8")
