"""pytest-html's page (`--pytest-html`), with the suite's outcomes: what the plugin's pytest-html hooks render.

The hooks stay in conformance/run/plugin.py (pytest calls only a registered plugin's hooks); what they put
on the page is made here, from the results.json document and each case's report properties. report.html
(conformance/report/html.py) is the suite's own page; this one keeps pytest-html's layout.
"""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import quote

from conformance.judge.catalog import CaseInfo
from conformance.judge.verdicts import OUTCOME_MEANINGS, Outcome
from conformance.printable import html_text
from conformance.report.verdict import run_verdict

__all__ = ["evidence_block", "summary_html", "table_header", "table_row"]


def evidence_block(info: CaseInfo, outcome: Outcome, message: str, evidence: str) -> str:
    """The extra HTML under a case's row: its declaration, outcome, message and folded evidence."""
    doc = html.escape(info.doc)
    return (
        f'<div class="dpop-evidence"><p><b>{html.escape(info.id)}</b> — {html.escape(info.title)} '
        f'(<a href="{info.rfc_url}">RFC 9449 §{html.escape(info.section)}</a>, {info.level.value}, '
        f"{info.actor}): <b>{outcome.value}</b></p><pre>{doc}</pre>"
        + (f"<pre>{html.escape(message)}</pre>" if message else "")
        + (
            f"<details><summary>requests and responses</summary><pre>{html.escape(evidence)}</pre></details>"
            if evidence
            else ""
        )
        + "</div>"
    )


def summary_html(results: dict[str, Any]) -> list[str]:
    """The report's summary block, from the results.json document."""
    esc = html_text
    counts = results["summary"]
    target = results["target"]
    verdict = run_verdict(results)  # report.html's verdict, word for word
    parts = [
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<div class="dpop-summary">',
        f"<p><b>Target</b> {esc(str(target.get('name')))} — token endpoint {esc(str(target.get('token_endpoint')))}, "
        f"resource {esc(str(target.get('resource_url')))}<br><b>Suite</b> dpop-conformance "
        f"{esc(results['suite']['version'])} — started {esc(results['started_at'])}, {results['duration_s']} s"
        + (f" — fuzz seed {esc(str(results['fuzz'].get('seed')))}" if results.get("fuzz", {}).get("seed") else "")
        + "</p>",
        f'<div class="dpop-verdict {verdict.css}">{esc(verdict.sentence())}</div>',
        '<p class="dpop-counts">'
        + "".join(f'<span class="dpop-outcome dpop-{o}">{counts.get(o, 0)} {o}</span>' for o in counts)
        + "</p>",
    ]
    if results.get("warnings"):
        parts.append('<ul class="dpop-run-warnings">')
        parts.extend(f"<li><b>Warning</b> {esc(w)}</li>" for w in results["warnings"])
        parts.append("</ul>")
    if "baseline" in results:
        b = results["baseline"]
        parts.append(
            f"<p>Against the baseline {esc(b['file'])}: {b['new']} new failure(s), {b['still_failing']} "
            f"still failing, {b['fixed']} fixed.</p>"
        )
    preflight = results.get("preflight", {})
    if preflight.get("ok") is False:
        parts.append(
            f'<div class="dpop-setup"><b>The setup failed before any case:</b> {esc(str(preflight.get("cause")))}'
            f"<br>sent: {esc(str(preflight.get('sent')))}<br>got: {esc(str(preflight.get('got')))}"
            f"<br><b>fix:</b> {esc(str(preflight.get('fix')))}</div>"
        )
    if results.get("causes"):
        parts.append('<ul class="dpop-causes">')
        parts.extend(
            f"<li><b>{g['count']} case{'s' if g['count'] != 1 else ''} could not be judged:</b> {esc(g['cause'])}</li>"
            for g in results["causes"]
        )
        parts.append("</ul>")
    notable = [c for c in results["cases"] if c["outcome"] in ("failed", "warning")]
    if notable:
        parts.append('<ol class="dpop-failures">')
        for c in notable:
            mark = f" ({esc(c['baseline'])})" if c.get("baseline") else ""
            parts.append(
                f'<li><span class="dpop-outcome dpop-{esc(c["outcome"])}">{esc(c["outcome"])}</span> '
                f'<a href="{esc(c["rfc_url"])}">§{esc(c["section"])}</a> '
                f'<a href="#{esc(quote(c.get("nodeid", ""), safe=":/[]-_."))}"><b>{esc(c["id"])}</b></a>{mark}: '
                f"{esc(c['title'])}<pre>{esc(c['message'])}</pre></li>"
            )
        parts.append("</ol>")
    parts.append(
        '<p class="dpop-legend">'
        + "".join(
            f'<span><span class="dpop-outcome dpop-{o.value}">{o.value}</span> {esc(meaning)}</span>'
            for o, meaning in OUTCOME_MEANINGS.items()
        )
        + "</p></div>"
    )
    return parts


def table_header(cells: list[str]) -> None:
    """The suite's columns in the results table's header: case, section, level, actor, outcome."""
    cells.insert(1, "<th>Case</th>")
    cells.insert(2, "<th>Section</th>")
    cells.insert(3, "<th>Level</th>")
    cells.insert(4, "<th>Actor</th>")
    cells.insert(5, "<th>Outcome</th>")


def table_row(props: dict[str, str], cells: list[str]) -> None:
    """A case's row: its id, section (linked), level, actor and the suite's outcome, from its properties."""
    section = html.escape(props.get("section", ""))
    link = f'<a href="https://www.rfc-editor.org/rfc/rfc9449#section-{section}">§{section}</a>' if section else ""
    cells.insert(1, f"<td>{html.escape(props.get('case', ''))}</td>")
    cells.insert(2, f"<td>{link}</td>")
    cells.insert(3, f"<td>{html.escape(props.get('level', ''))}</td>")
    cells.insert(4, f"<td>{html.escape(props.get('actor', ''))}</td>")
    outcome = html.escape(props.get("outcome", ""))
    mark = f" ({html.escape(props['baseline'])})" if props.get("baseline") else ""
    cells.insert(5, f'<td><span class="dpop-outcome dpop-{outcome}">{outcome}</span>{mark}</td>')
    if outcome and cells and "col-result" in cells[0]:
        # pytest-html names pytest's outcome ("Passed" for a warning): the suite's outcome instead
        cells[0] = f'<td class="col-result">{outcome.capitalize()}</td>'
