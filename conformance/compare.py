"""`dpop-conformance compare`: several targets' results.json side by side, as one HTML page or Markdown.

One column per target, one row per case, rows grouped by RFC section; each cell is the case's outcome,
coloured, and links to that target's report. A header row per target gives its counts. Values the RFC
leaves open are shown as measured (nonces demanded, replays refused, algorithms accepted, the iat
window). Results of different suite versions or case sets still compare: a case a target did not run
says so.
"""

from __future__ import annotations

import html
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conformance.printable import html_text, markdown_cell
from conformance.results import load_results
from conformance.verdicts import OUTCOME_MEANINGS, Outcome

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


def _section_key(section: str) -> list[int]:
    return [int(p) if p.isdigit() else 0 for p in section.split(".")]


def _catalog(runs: list[Run]) -> dict[str, dict[str, Any]]:
    cases: dict[str, dict[str, Any]] = {}
    for run in runs:
        for case in run.results["cases"]:
            cases.setdefault(case["id"], case)
    return dict(sorted(cases.items(), key=lambda kv: (_section_key(str(kv[1].get("section", ""))), kv[0])))


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
    """One self-contained page: the matrix, a filter for rows that differ, links to each report."""
    esc = html_text
    head = "".join(f"<th>{esc(run.name)}<br><small>{esc(_counts_text(run))}</small></th>" for run in runs)
    rows: list[str] = []
    for label in measured(runs[0]):
        values = "".join(f"<td>{esc(measured(run)[label])}</td>" for run in runs)
        rows.append(f"<tr class='measured'><td colspan='3'><i>{esc(label)}</i></td>{values}</tr>")
    section = None
    for case_id, case in _catalog(runs).items():
        if case.get("section") != section:
            section = case.get("section")
            rows.append(f"<tr class='section'><th colspan='{3 + len(runs)}'>§{esc(str(section))}</th></tr>")
        cells = []
        for run in runs:
            outcome = run.outcomes.get(case_id, NOT_RUN)
            css = outcome.replace(" ", "-")
            label = esc(outcome)
            if run.report is not None and outcome != NOT_RUN:
                href = os.path.relpath(run.report, output.parent)
                label = f"<a href='{esc(href)}'>{label}</a>"
            cells.append(f"<td class='cell {css}' title='{esc(case.get('title', ''))}'>{label}</td>")
        differs = " differs" if _differs(case_id, runs) else ""
        rows.append(
            f"<tr class='case{differs}'><td><code>{esc(case_id)}</code></td>"
            f"<td><a href='{RFC}{esc(str(section))}'>§{esc(str(section))}</a></td><td>{esc(str(case.get('level')))}"
            f"</td>{''.join(cells)}</tr>"
        )
    legend = "".join(f"<span class='cell {o.value}'>{o.value}</span> {esc(m)}<br>" for o, m in OUTCOME_MEANINGS.items())
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>DPoP conformance: {esc(", ".join(r.name for r in runs))}</title>
<style>
body {{ font-family: Helvetica, Arial, sans-serif; margin: 1em; }}
table {{ border-collapse: collapse; }} td, th {{ border: 1px solid #ddd; padding: .25em .5em; text-align: left; }}
tr.section th {{ background: #f1f3f4; }} tr.measured td {{ background: #fafafa; }}
.cell {{ font-weight: bold; white-space: nowrap; }} .cell a {{ color: inherit; }}
.passed {{ background: #e3f4e1; color: #1e5b17; }} .failed {{ background: #d93025; color: #fff; }}
.warning {{ background: #f6b73c; }} .info {{ background: #d2e3fc; }} .skipped {{ background: #e8eaed; }}
.error {{ background: #8e24aa; color: #fff; }} .not-run {{ color: #888; font-weight: normal; }}
body.only-differences tr.case:not(.differs) {{ display: none; }}
.wrap {{ overflow-x: auto; }}
</style></head><body>
<h1>DPoP conformance (RFC 9449): {len(runs)} target{"s" if len(runs) != 1 else ""}</h1>
<p><label><input type="checkbox" onchange="document.body.classList.toggle('only-differences', this.checked)">
Show only the cases where the targets differ</label></p>
{_version_note(runs, markdown=False)}
<div class="wrap"><table><thead><tr><th>case</th><th>section</th><th>level</th>{head}</tr></thead>
<tbody>{"".join(rows)}</tbody></table></div>
<p>{legend}</p>
</body></html>
"""
