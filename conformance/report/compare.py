"""`dpop-conformance compare`: several targets' results.json side by side, as one HTML page or Markdown.

One column per target, one row per case, rows grouped under their RFC section; each cell is the case's
outcome, coloured, and links to that target's report. The page shows first where the targets differ: a
grid of every case per target side by side, then the cases whose outcomes differ, then the values the RFC
leaves open as small charts (nonces demanded, replays refused, algorithms accepted, the iat window), and
every case folded below. Markdown is the same matrix as text. Results of different suite versions or case
sets still compare: a case a target did not run says so.
"""

from __future__ import annotations

import html
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conformance.judge.verdicts import OUTCOME_MEANINGS, Outcome
from conformance.printable import html_text, markdown_cell
from conformance.report.grid import COLOURS, measurement_charts, outcome_grid, section_key
from conformance.report.html import case_anchor
from conformance.report.results import load_results

__all__ = ["Run", "load_runs", "render_html", "render_markdown"]

NOT_RUN = "not run"
RFC = "https://www.rfc-editor.org/rfc/rfc9449#section-"


@dataclass
class Run:
    """One target's results."""

    name: str
    path: Path
    results: dict[str, Any]

    @property
    def outcomes(self) -> dict[str, str]:
        return {c["id"]: c["outcome"] for c in self.results.get("cases", [])}

    @property
    def report(self) -> Path | None:
        candidate = self.path.parent / "report.html"
        return candidate if candidate.exists() else None


class CompareError(ValueError):
    """A results file cannot be compared; the message names it and why."""


def load_runs(paths: list[str]) -> list[Run]:
    """Load results.json files, giving each target a unique column name."""
    runs: list[Run] = []
    seen: dict[str, int] = {}
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            path = path / "results.json"
        try:
            results = load_results(path)
        except OSError as exc:
            raise CompareError(f"{raw}: cannot read it ({exc.strerror or exc})") from None
        except ValueError as exc:
            raise CompareError(f"{raw}: not a results.json ({exc})") from None
        if not isinstance(results, dict) or not isinstance(results.get("cases"), list):
            raise CompareError(f"{raw}: not a results.json written by dpop-conformance (no cases)")
        name = str(results.get("target", {}).get("name") or path.parent.name)
        seen[name] = seen.get(name, 0) + 1
        runs.append(Run(name if seen[name] == 1 else f"{name} ({seen[name]})", path, results))
    if not runs:
        raise CompareError("give at least one results.json")
    return runs


def _catalog(runs: list[Run]) -> dict[str, dict[str, Any]]:
    cases: dict[str, dict[str, Any]] = {}
    for run in runs:
        for case in run.results["cases"]:
            cases.setdefault(case["id"], case)
    return dict(sorted(cases.items(), key=lambda kv: (section_key(str(kv[1].get("section", ""))), kv[0])))


def measured(run: Run) -> dict[str, str]:
    """Values the RFC leaves open, as this run observed them."""
    out = run.outcomes
    by_id = {c["id"]: c for c in run.results["cases"]}

    def demanded(case_id: str) -> str:
        outcome = out.get(case_id)
        if outcome is None:
            return NOT_RUN
        return "no" if outcome == "skipped" else "yes" if outcome in ("passed", "warning", "failed") else outcome

    def replay(case_id: str) -> str:
        outcome = out.get(case_id)
        return {"passed": "refused", "warning": "accepted", "skipped": "n/a"}.get(outcome or "", outcome or NOT_RUN)

    def algs(case_id: str) -> str:
        accepted = (by_id.get(case_id, {}).get("measurements") or {}).get("algs_accepted")
        if not isinstance(accepted, list):
            return out.get(case_id) or NOT_RUN
        # the suite's own algorithm names, but results.json is a file anyone can hand over: shown bounded
        return ", ".join(str(a)[:16] for a in accepted[:16]) or "none"

    def window(case_id: str) -> str:
        values = by_id.get(case_id, {}).get("measurements") or {}
        if not values:
            return out.get(case_id) or NOT_RUN
        return f"{values.get('iat_past_s', '?')} s past … {values.get('iat_future_s', '?')} s future"

    return {
        "nonce demanded at the AS": demanded("as-nonce-challenge"),
        "nonce demanded at the resource": demanded("rs-nonce-challenge"),
        "replayed proof at the AS": replay("as-replay-identical"),
        "replayed proof at the resource": replay("rs-replay-identical"),
        "algorithms accepted at the AS": algs("as-advertised-algs-accepted"),
        "algorithms accepted at the resource": algs("rs-advertised-algs-accepted"),
        "iat window at the AS": window("as-iat-window"),
        "iat window at the resource": window("rs-iat-window"),
    }


def _differs(case_id: str, runs: list[Run]) -> bool:
    return len({run.outcomes.get(case_id, NOT_RUN) for run in runs}) > 1


def render_markdown(runs: list[Run], *, only_differences: bool = False) -> str:
    """The comparison as a Markdown table (for an issue or a README)."""
    # every cell is escaped: names, ids and values come from results.json files, which anyone can hand over
    cell = markdown_cell
    names = [cell(run.name) for run in runs]
    lines = ["| case | section | level | " + " | ".join(names) + " |", "|---|---|---|" + "---|" * len(runs)]
    lines.append("| **counts** | | | " + " | ".join(cell(_counts_text(run)) for run in runs) + " |")
    for label in measured(runs[0]):
        lines.append(f"| *{label}* | | | " + " | ".join(cell(measured(run)[label]) for run in runs) + " |")
    for case_id, case in _catalog(runs).items():
        if only_differences and not _differs(case_id, runs):
            continue
        cells = [cell(run.outcomes.get(case_id, NOT_RUN)) for run in runs]
        section = str(case.get("section"))
        shown_id = f"`{case_id}`" if re.fullmatch(r"[a-z0-9-]{1,80}", case_id) else cell(case_id)
        link = f"[{cell(section)}]({RFC}{section})" if re.fullmatch(r"[0-9.]{1,12}", section) else cell(section)
        lines.append(
            f"| {shown_id} | {link} | {cell(str(case.get('level')))} | "
            + " | ".join(f"**{c}**" if c in ("failed", "error") else c for c in cells)
            + " |"
        )
    return "\n".join(lines) + "\n" + _version_note(runs, markdown=True)


def _counts_text(run: Run) -> str:
    summary = run.results.get("summary", {})
    return ", ".join(f"{summary.get(o.value, 0)} {o.value}" for o in Outcome if summary.get(o.value))


def _version_note(runs: list[Run], *, markdown: bool) -> str:
    versions = sorted({str(run.results.get("suite", {}).get("version", "?")) for run in runs})
    if len(versions) == 1:
        return ""
    text = (
        f"Results from dpop-conformance {', '.join(versions)}: a case a target's version did not have, or did "
        f"not run, is marked \u201c{NOT_RUN}\u201d."
    )
    return f"\n{text}\n" if markdown else f"<p class='note'>{html.escape(text)}</p>"


def render_html(runs: list[Run], output: Path) -> str:
    """One self-contained page written to `output`: the cases where the targets differ first, then all.

    Title and version note; a grid of every case per target, side by side, captioned with its counts; the
    cases that differ, under their RFC sections; the measured values as small charts; every case, folded
    (open when none differs); the legend. No script: the fold is a `<details>`, the tables scroll inside
    their frame with the header row and the case column held in place.
    """
    esc = html_text
    targets = [_Target.of(run, output) for run in runs]
    catalog = _catalog(runs)
    differing = {i: c for i, c in catalog.items() if len({t.outcome(i) for t in targets}) > 1}
    names = ", ".join(t.name for t in targets)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>DPoP conformance: {esc(names)}</title>
<style>{_CSS}</style></head><body>
<h1>DPoP conformance (RFC 9449): {len(runs)} target{"s" if len(runs) != 1 else ""}</h1>
<p class="meta">{esc(names)}</p>
{_version_note(runs, markdown=False)}
<p class="summary" id="summary">{_summary_line(len(differing), len(catalog), len(runs))}</p>
{_grids(runs, targets)}
{_differences(differing, targets)}
{_measured_table(runs, targets)}
{_all_cases(catalog, targets, differing=set(differing))}
{_legend()}
</body></html>
"""


# --- the HTML page, piece by piece ------------------------------------------------------------------

TITLE_LIMIT = 240  # characters of a case's title or message in a tooltip: results.json may hold megabytes

_CSS = """
*{box-sizing:border-box}
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#202124;margin:0;
 padding:0 12px 40px;max-width:1320px;margin-inline:auto;overflow-wrap:anywhere}
h1{font-size:1.4em;margin:.8em 0 .2em}h2{font-size:1.15em;margin:1.4em 0 .5em;border-bottom:1px solid #dadce0}
.meta,.note{color:#5f6368;font-size:.9em;margin:.2em 0}
.summary{font-size:1.1em;font-weight:600;margin:.8em 0}
code{font:12.5px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.grids{display:flex;flex-wrap:wrap;gap:12px 24px;align-items:flex-start}
.grids figure{flex:1 1 300px;max-width:460px;min-width:0;margin:0}
.grids figcaption{font-size:.9em;margin-top:.3em}.grids figcaption b{display:block}
.counts{display:inline-flex;flex-wrap:wrap;gap:2px 4px}
.n{display:inline-block;border-radius:3px;padding:0 .4em;font-size:.8em;font-weight:600;white-space:nowrap}
/* the tables scroll inside their frame, never the page: a phone shows three targets without widening it */
.wrap{overflow:auto;width:fit-content;max-width:100%;max-height:80vh;border:1px solid #dadce0;border-radius:4px;
 margin:.4em 0}
table{border-collapse:separate;border-spacing:0;font-size:.9em}
th,td{border-right:1px solid #e8eaed;border-bottom:1px solid #e8eaed;padding:.2em .45em;text-align:left;
 vertical-align:top;background:#fff}
thead th{position:sticky;top:0;z-index:2;background:#f8f9fa;font-weight:600;min-width:7em;
 border-bottom:1px solid #bdc1c6}
thead th a{color:inherit}
th.case{position:sticky;left:0;z-index:1;font-weight:normal;min-width:min(14em,45vw)}
thead th.case{z-index:3}
th.case code{overflow-wrap:anywhere}
th.case .level{font-size:.75em;color:#5f6368;margin-left:.3em}
th.case .title{display:block;font-size:.8em;color:#5f6368;max-width:26em}
tr.differs th.case,.differs-mark{box-shadow:inset 4px 0 #d93025}
.differs-mark{padding-left:.7em;font-weight:normal}
tbody tr.section th{background:#f1f3f4;font-weight:600}
tbody tr.section td{background:#f1f3f4}
.cell{font-weight:600;white-space:nowrap}.cell a{color:inherit;text-decoration:none}
.cell a:hover,.cell a:focus{text-decoration:underline}
/* one size for every target's chart, whatever its column's width: the charts compare by eye */
.measured td{min-width:240px}.measured td svg{display:block;width:240px}
.dpop-chip{display:inline-block;border-radius:10px;padding:0 .5em;margin:1px;font-size:.8em}
.dpop-chart-label{font-size:.8em;color:#3c4043}
details#all{margin:1.4em 0}details#all>summary{cursor:pointer;font-size:1.15em;font-weight:600}
.legend{font-size:.85em;color:#3c4043;padding:0;list-style:none}.legend li{margin:.2em 0}
"""
# the outcome colours are the grid's, so a cell of the table and a cell of the grid look alike
_CSS += "".join(
    f".{o.replace(' ', '-')}{{background:{c};color:{'#fff' if o in ('failed', 'error') else '#202124'}}}"
    for o, c in COLOURS.items()
)
# after the colours: a case a target did not run is white, and its word grey, not shouted
_CSS += ".not-run{color:#80868b;font-weight:normal;font-style:italic}"


@dataclass
class _Target:
    """What the page needs of one run, computed once (a Run's properties rebuild their answer each time)."""

    name: str
    outcomes: dict[str, str]
    cases: dict[str, dict[str, Any]]
    summary: dict[str, Any]
    report: str | None  # report.html, relative to the page

    @classmethod
    def of(cls, run: Run, output: Path) -> _Target:
        report = run.report
        summary = run.results.get("summary")
        return cls(
            name=run.name,
            outcomes=run.outcomes,
            cases={c["id"]: c for c in run.results["cases"]},
            summary=summary if isinstance(summary, dict) else {},
            report=os.path.relpath(report, output.parent) if report is not None else None,
        )

    def outcome(self, case_id: str) -> str:
        return self.outcomes.get(case_id, NOT_RUN)

    def link(self, case_id: str) -> str | None:
        return f"{self.report}#{case_anchor(case_id)}" if self.report is not None else None


def _bounded(value: Any, limit: int = TITLE_LIMIT) -> str:
    text = str(value or "")
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _css(outcome: str) -> str:
    return html_text(outcome.replace(" ", "-"))


def _counts(target: _Target) -> str:
    """The target's counts, as its results.json summary gives them (the outcomes it has, in their order)."""
    shown = [
        f'<span class="n {o.value}" data-outcome="{o.value}" data-count="{html_text(str(n))}">'
        f"{html_text(str(n))} {o.value}</span>"
        for o in Outcome
        if (n := target.summary.get(o.value))
    ]
    return f'<span class="counts" data-target="{html_text(target.name)}">{"".join(shown) or "no cases"}</span>'


def _summary_line(differing: int, total: int, targets: int) -> str:
    if targets == 1:
        return f"One target: nothing to compare; its {total} cases are below."
    if not differing:
        return f"No case differs: the {targets} targets have the same outcome in all {total} cases."
    return (
        f'<a href="#differ">{differing} of {total} case{"s" if total != 1 else ""}</a> '
        f"{'differs' if differing == 1 else 'differ'} between the {targets} targets."
    )


def _grids(runs: list[Run], targets: list[_Target]) -> str:
    """A grid of every case per target, side by side (stacked on a phone), each cell linking to its report."""
    figures = []
    for run, target in zip(runs, targets, strict=True):
        grid = outcome_grid(
            run.results["cases"],
            href=_grid_link(target),
            label=f"{target.name}: every case by RFC section and actor",
        )
        figures.append(
            f"<figure>{grid}<figcaption><b>{_target_name(target)}</b>{_counts(target)}</figcaption></figure>"
        )
    return f'<div class="grids">{"".join(figures)}</div>'


def _grid_link(target: _Target) -> Callable[[Mapping[str, Any]], str | None]:
    """A grid cell's link: the case on this target's report, or none when there is no report beside it."""

    def link(case: Mapping[str, Any]) -> str | None:
        return target.link(str(case.get("id")))

    return link


def _differences(differing: dict[str, dict[str, Any]], targets: list[_Target]) -> str:
    if not differing:
        return ""
    return (
        f'<h2 id="differ">Where the targets differ ({len(differing)} case{"s" if len(differing) != 1 else ""})</h2>'
        + _matrix(differing, targets, titles=True, differing=set(differing))
    )


def _all_cases(catalog: dict[str, dict[str, Any]], targets: list[_Target], *, differing: set[str]) -> str:
    """Every case, folded under a `<details>` (no script needed); open when there is no difference to show."""
    count = f"{len(catalog)} case{'s' if len(catalog) != 1 else ''}"
    return (
        f'<details id="all"{"" if differing else " open"}><summary>All {count}</summary>'
        f"{_matrix(catalog, targets, titles=False, differing=differing)}</details>"
    )


def _matrix(cases: dict[str, dict[str, Any]], targets: list[_Target], *, titles: bool, differing: set[str]) -> str:
    """A table of `cases` (in section order) by target, a heading row per RFC section."""
    head = "".join(f'<th scope="col">{_target_name(t)}<br>{_counts(t)}</th>' for t in targets)
    bodies: list[str] = []
    rows: list[str] = []
    section: str | None = None
    for case_id, case in cases.items():
        if str(case.get("section", "")) != section:
            if rows:
                bodies.append(f"<tbody>{''.join(rows)}</tbody>")
            section = str(case.get("section", ""))
            rows = [_section_row(section, len(targets))]
        css = ' class="differs"' if case_id in differing else ""
        cells = "".join(_outcome_cell(t, case_id) for t in targets)
        rows.append(f"<tr{css}>{_case_cell(case_id, case, title=titles)}{cells}</tr>")
    if rows:
        bodies.append(f"<tbody>{''.join(rows)}</tbody>")
    return (
        f'<div class="wrap"><table><thead><tr><th scope="col" class="case">case</th>{head}</tr></thead>'
        f"{''.join(bodies)}</table></div>"
    )


def _target_name(target: _Target) -> str:
    name = html_text(target.name)
    return f'<a href="{html_text(target.report)}">{name}</a>' if target.report is not None else name


def _section_row(section: str, columns: int) -> str:
    shown = html_text(f"§{section}" if section else "no section")
    if re.fullmatch(r"[0-9.]{1,12}", section):
        shown = f'<a href="{RFC}{section}">{shown}</a>'
    return f'<tr class="section"><th scope="rowgroup" class="case">{shown}</th><td colspan="{columns}"></td></tr>'


def _case_cell(case_id: str, case: dict[str, Any], *, title: bool) -> str:
    esc = html_text
    level = f'<span class="level">{esc(str(case.get("level", "")))}</span>'
    text = esc(_bounded(case.get("title")))
    shown = f'<span class="title">{text}</span>' if title and text else ""
    return f'<th scope="row" class="case" title="{text}"><code>{esc(case_id)}</code>{level}{shown}</th>'


def _outcome_cell(target: _Target, case_id: str) -> str:
    outcome = target.outcome(case_id)
    label = html_text(outcome)
    link = target.link(case_id) if outcome != NOT_RUN else None
    if link is not None:
        label = f'<a href="{html_text(link)}">{label}</a>'
    message = html_text(_bounded(target.cases.get(case_id, {}).get("message")))
    tip = f' title="{message}"' if message else ""
    return f'<td class="cell {_css(outcome)}" data-outcome="{html_text(outcome)}"{tip}>{label}</td>'


# what measurement_charts does not draw, but a reader comparing targets asks: does it refuse a replay?
_MEASURED_AS_TEXT = ("replayed proof at the AS", "replayed proof at the resource")
_NOT_MEASURED = '<span class="not-run">not measured</span>'


def _measured_table(runs: list[Run], targets: list[_Target]) -> str:
    """The values the RFC leaves open, a row per value, a column per target: charts where there are some."""
    charts = [dict(measurement_charts(run.results["cases"])) for run in runs]
    labels = list(dict.fromkeys(label for chart in charts for label in chart))
    rows = [
        f'<tr><th scope="row" class="case">{html_text(label)}</th>'
        + "".join(f"<td>{chart.get(label) or _NOT_MEASURED}</td>" for chart in charts)
        + "</tr>"
        for label in labels
    ]
    texts = [measured(run) for run in runs]
    rows += [
        f'<tr><th scope="row" class="case">{html_text(label)}</th>'
        + "".join(f"<td>{html_text(text[label])}</td>" for text in texts)
        + "</tr>"
        for label in _MEASURED_AS_TEXT
    ]
    head = "".join(f'<th scope="col">{_target_name(t)}</th>' for t in targets)
    return (
        '<h2 id="measured">Measured values</h2><div class="wrap"><table class="measured"><thead><tr>'
        f'<th scope="col" class="case">value</th>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>'
    )


def _legend() -> str:
    meanings = [(o.value, m) for o, m in OUTCOME_MEANINGS.items()]
    meanings.append((NOT_RUN, "the target's results have no such case (another suite version or selection)"))
    items = "".join(f'<li><span class="n {_css(o)}">{html_text(o)}</span> {html_text(m)}</li>' for o, m in meanings)
    differs = '<li><span class="n differs-mark">case</span> a red bar: the targets differ in this case</li>'
    return f'<h2 id="legend">Legend</h2><ul class="legend">{items}{differs}</ul>'
