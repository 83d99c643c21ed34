"""`dpop-conformance compare`: several targets' results.json side by side, as one HTML page or Markdown.

One column per target, one row per case, rows grouped under their RFC section; each cell is the case's
outcome, coloured, and links to that target's report. The page says first who passed: a verdict line per
target, the run's own verdict (report/verdict.py, coloured as on report.html) with its counts. Then where
the targets differ: a grid of every case per target side by side; the cases whose outcomes really differ
(one passed, another failed or warned...), MUST before SHOULD before MAY; apart from them, the cases that
differ only in what applies (skipped or not run at some target, the same outcome at the others), which are
not counted as differences; the values the RFC leaves open as small charts (nonces demanded, replays
refused, algorithms accepted, the iat window); and every case folded below. Markdown is the same in text.
Results of different suite versions or case sets still compare: a case a target did not run says so.
`verdict_table` is the same verdicts as plain lines, for the terminal after a run over several targets.
"""

from __future__ import annotations

import html
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conformance.judge.verdicts import OUTCOME_MEANINGS, Level, Outcome
from conformance.printable import html_text, markdown_cell, printable
from conformance.report.grid import COLOURS, measurement_charts, outcome_grid, section_key
from conformance.report.html import case_anchor
from conformance.report.results import load_results
from conformance.report.verdict import Verdict, run_verdict

__all__ = [
    "APPLIES",
    "DIFFERS",
    "SAME",
    "CompareError",
    "Run",
    "difference",
    "load_runs",
    "render_html",
    "render_markdown",
    "verdict_table",
]

NOT_RUN = "not run"
RFC = "https://www.rfc-editor.org/rfc/rfc9449#section-"

#: how a case's outcomes at the targets differ (`difference`)
SAME, APPLIES, DIFFERS = "same", "applies", "differs"
# outcomes that say the case did not apply to a target, or was not run there: nothing about its behaviour
_NOT_APPLIED = frozenset({Outcome.SKIPPED.value, NOT_RUN})
# the rows of the differences: MUST first, a level the suite does not know last
_LEVEL_ORDER = {level.value: n for n, level in enumerate((Level.MUST, Level.SHOULD, Level.MAY))}


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

    @property
    def verdict(self) -> Verdict:
        """The run's verdict, decided from its results.json as every other output decides it."""
        return run_verdict(self.results)


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
        # accepted is a warning in results of older suites, info since replay protection is a MAY (§11.1)
        said = {"passed": "refused", "warning": "accepted", "info": "accepted", "skipped": "n/a"}
        return said.get(outcome or "", outcome or NOT_RUN)

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


def difference(outcomes: Iterable[str]) -> str:
    """How one case's outcomes at the targets differ: SAME, APPLIES or DIFFERS.

    APPLIES: the targets differ only in what applies to them. At some the case was skipped (not applicable)
    or not run (another suite version or selection), and every other target has the same outcome: passed
    against skipped, info against skipped. That says nothing about how the targets behave where the case
    applies, so it is no difference. DIFFERS: two targets have different outcomes of their own (passed
    against failed or warning, warning against error...).
    """
    seen = set(outcomes)
    if len(seen) <= 1:
        return SAME
    return APPLIES if len(seen - _NOT_APPLIED) <= 1 else DIFFERS


def _by_level(cases: Mapping[str, Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    """`cases` (in section order) ordered by level first: MUST, SHOULD, MAY, then any other."""
    ordered = sorted(cases.items(), key=lambda kv: _LEVEL_ORDER.get(str(kv[1].get("level")), len(_LEVEL_ORDER)))
    return dict(ordered)  # sorted() is stable: the section order holds within a level


def _kinds(catalog: Mapping[str, Any], outcomes: Sequence[Mapping[str, str]]) -> dict[str, str]:
    """Each case's `difference` across the targets (a case a target's results lack is NOT_RUN there)."""
    return {case_id: difference(out.get(case_id, NOT_RUN) for out in outcomes) for case_id in catalog}


def _summary_text(kinds: Mapping[str, str], targets: int, link: Callable[[str, str], str]) -> str:
    """The one line under the verdicts: how many cases differ, and how many differ only in what applies.

    `link(anchor, text)` makes the counts links on the HTML page; Markdown gives them as they are.
    """
    total = len(kinds)
    counted = Counter(kinds.values())
    differing, applying = counted[DIFFERS], counted[APPLIES]
    if targets == 1:
        return f"One target: nothing to compare; its {total} cases are below."
    if not differing and not applying:
        return f"No case differs: the {targets} targets have the same outcome in all {total} cases."
    more = " more" if differing else ""
    apart = (
        link("applies", f"{applying}{more} case{'s' if applying != 1 else ''}")
        + f" {'differs' if applying == 1 else 'differ'} only in what applies (skipped or not run at some target)"
    )
    if not differing:
        return f"No case differs between the {targets} targets where it applies to them; {apart}."
    line = (
        link("differ", f"{differing} of {total} case{'s' if total != 1 else ''}")
        + f" {'differs' if differing == 1 else 'differ'} between the {targets} targets"
    )
    return f"{line}; {apart}." if applying else f"{line}."


# the summary's marks of a verdict (report/markdown.py), by exit status
_MARKDOWN_MARKS = {0: "\u2705", 1: "\u274c", 3: "\u26a0\ufe0f"}
_MARKDOWN_UNKNOWN = "\u2754"
_MARKDOWN_GROUPS = {
    DIFFERS: "where the targets differ",
    APPLIES: "differ only in what applies",
    SAME: "the same at every target",
}


def render_markdown(runs: list[Run], *, only_differences: bool = False) -> str:
    """The comparison in Markdown (for an issue or a README): a verdict line per target, then one table.

    The table's rows: the counts, the measured values (in italics), then the cases in three groups, each
    under a bold row: where the targets differ (MUST first), where they differ only in what applies, and
    (unless `only_differences`) the cases with the same outcome everywhere.
    """
    # every cell is escaped: names, ids and values come from results.json files, which anyone can hand over
    cell = markdown_cell
    catalog = _catalog(runs)
    outcomes = [run.outcomes for run in runs]
    kinds = _kinds(catalog, outcomes)
    lines = [_markdown_verdict(run) for run in runs]
    lines += ["", _summary_text(kinds, len(runs), lambda _anchor, text: text), ""]
    names = [cell(run.name) for run in runs]
    lines += ["| case | section | level | " + " | ".join(names) + " |", "|---|---|---|" + "---|" * len(runs)]
    lines.append("| **counts** | | | " + " | ".join(cell(_counts_text(run)) for run in runs) + " |")
    values = [measured(run) for run in runs]
    for label in values[0]:
        lines.append(f"| *{label}* | | | " + " | ".join(cell(value[label]) for value in values) + " |")
    for kind, heading in _MARKDOWN_GROUPS.items():
        if only_differences and kind == SAME:
            continue
        group: Mapping[str, Mapping[str, Any]] = {i: c for i, c in catalog.items() if kinds[i] == kind}
        if kind != SAME:
            group = _by_level(group)
        if group:
            lines.append(f"| **{heading} ({len(group)})** | | |" + " |" * len(runs))
        for case_id, case in group.items():
            lines.append(_markdown_row(case_id, case, [out.get(case_id, NOT_RUN) for out in outcomes]))
    return "\n".join(lines) + "\n" + _version_note(runs, markdown=True)


def _markdown_verdict(run: Run) -> str:
    """A target's verdict line: its mark, name, verdict sentence and counts."""
    verdict = run.verdict
    mark = _MARKDOWN_MARKS.get(verdict.status, _MARKDOWN_UNKNOWN)
    counts = _counts_text(run) or "no cases"
    return f"- {mark} **{markdown_cell(run.name)}**: {markdown_cell(verdict.sentence())} ({markdown_cell(counts)})"


def _markdown_row(case_id: str, case: Mapping[str, Any], outcomes: list[str]) -> str:
    cell = markdown_cell
    section = str(case.get("section"))
    shown_id = f"`{case_id}`" if re.fullmatch(r"[a-z0-9-]{1,80}", case_id) else cell(case_id)
    link = f"[{cell(section)}]({RFC}{section})" if re.fullmatch(r"[0-9.]{1,12}", section) else cell(section)
    cells = [f"**{cell(o)}**" if o in ("failed", "error") else cell(o) for o in outcomes]
    return f"| {shown_id} | {link} | {cell(str(case.get('level')))} | " + " | ".join(cells) + " |"


def _counts_text(run: Run) -> str:
    summary = run.results.get("summary")
    if not isinstance(summary, Mapping):
        return ""
    return ", ".join(f"{summary.get(o.value, 0)} {o.value}" for o in Outcome if summary.get(o.value))


NAME_WIDTH = 24  # characters of a target's name in the terminal table before it is cut


def verdict_table(runs: Sequence[Run], width: int = 100) -> list[str]:
    """The targets' verdicts as plain text for the terminal, one line per target, in the order given.

    Each line: the target's name, its verdict word (passed, failed, not-judged), the verdict sentence
    (report/verdict.py, as every output words it) and its counts; the columns aligned. A line longer than
    `width` loses the end of its counts first, then, only when even the sentence does not fit, its end.
    No colour: `terminal.coloured(line, run.verdict.status, colour=...)` adds it. Names come from target
    files and the counts from results.json: both are shown escaped, never obeyed.
    """
    if not runs:
        return []
    verdicts = [run.verdict for run in runs]
    names = [printable(run.name) for run in runs]
    name_width = min(max(len(name) for name in names), NAME_WIDTH)
    word_width = max(len(verdict.result) for verdict in verdicts)
    lines = []
    for run, name, verdict in zip(runs, names, verdicts, strict=True):
        shown = name if len(name) <= name_width else name[: name_width - 1] + "\u2026"
        counts = printable(_counts_text(run)) or "no cases"
        lines.append(_fit(f"{shown:<{name_width}}  {verdict.result:<{word_width}}  {verdict.text}", counts, width))
    return lines


COUNTS_SHOWN_AT_LEAST = 8  # characters of the counts worth showing cut; fewer, and they are left out


def _fit(line: str, counts: str, width: int) -> str:
    """`line (counts)` in `width` characters: the counts cut first, since the verdict is what the line says."""
    whole = f"{line} ({counts})"
    if len(whole) <= width:
        return whole
    room = width - len(line) - len(" ()")
    if room >= COUNTS_SHOWN_AT_LEAST:
        return f"{line} ({counts[: room - 1]}\u2026)"
    return line if len(line) <= width else line[: max(width - 1, 0)] + "\u2026"


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
    """One self-contained page written to `output`: who passed, then where the targets differ, then all.

    Title; a verdict line per target (its run's verdict and counts, coloured as on report.html, its name
    linking to its report); the version note; how many cases differ; a grid of every case per target, side
    by side, captioned with its counts; the cases that differ, MUST first, under their RFC sections; the
    cases that differ only in what applies, apart; the measured values as small charts; every case, folded
    (open when nothing is shown above it); the legend. No script: the fold is a `<details>`, the tables
    scroll inside their frame with the header row and the case column held in place.
    """
    esc = html_text
    targets = [_Target.of(run, output) for run in runs]
    catalog = _catalog(runs)
    kinds = _kinds(catalog, [t.outcomes for t in targets])
    differing = _by_level({i: c for i, c in catalog.items() if kinds[i] == DIFFERS})
    applying = _by_level({i: c for i, c in catalog.items() if kinds[i] == APPLIES})
    names = ", ".join(t.name for t in targets)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>DPoP conformance: {esc(names)}</title>
<style>{_CSS}</style></head><body>
<h1>DPoP conformance (RFC 9449): {len(runs)} target{"s" if len(runs) != 1 else ""}</h1>
{_verdicts(targets)}
{_version_note(runs, markdown=False)}
<p class="summary" id="summary">{_summary_text(kinds, len(runs), _anchor)}</p>
{_grids(runs, targets)}
{_differences(differing, targets, kinds)}
{_applicability(applying, targets, kinds)}
{_measured_table(runs, targets)}
{_all_cases(catalog, targets, kinds)}
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
/* a verdict line per target: report.html's verdict colours, with their meaning (ok: exit 0, bad: 1,
   unjudged: 3), so a target reads the same here as on its own report */
.verdicts{list-style:none;padding:0;margin:.8em 0}
.verdict{font-weight:600;padding:.4em .8em;border-radius:6px;margin:.3em 0;display:flex;flex-wrap:wrap;
 gap:.2em .6em;align-items:baseline}
.verdict.ok{background:#e6f4ea;color:#137333}.verdict.bad{background:#fce8e6;color:#a50e0e}
.verdict.unjudged{background:#f3e8fd;color:#681da8}
.verdict .who a{color:inherit}.verdict .says{flex:1 1 16em}
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
/* grey, not red: a case skipped or not run at one target is no difference in behaviour */
tr.applies th.case,.applies-mark{box-shadow:inset 4px 0 #9aa0a6}
.differs-mark,.applies-mark{padding-left:.7em;font-weight:normal}
tbody tr.level th{background:#e8eaed;font-weight:700}
tbody tr.level td{background:#e8eaed}
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
    verdict: Verdict

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
            verdict=run.verdict,
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


def _anchor(anchor: str, text: str) -> str:
    """A link to a part of the page (the summary's counts); `text` is the suite's own words."""
    return f'<a href="#{anchor}">{text}</a>'


def _verdicts(targets: list[_Target]) -> str:
    """A line per target: its name (linking to its report), its run's verdict sentence, and its counts.

    The sentence and the colour are `run_verdict`'s, as on that target's report.html: this page words none.
    """
    items = "".join(
        f'<li class="verdict {t.verdict.css}" data-status="{t.verdict.status}" data-result="{t.verdict.result}">'
        f'<span class="who">{_target_name(t)}:</span> <span class="says">{html_text(t.verdict.sentence())}</span>'
        f"{_counts(t)}</li>"
        for t in targets
    )
    return f'<ul class="verdicts" id="verdicts" aria-label="the verdict of each target">{items}</ul>'


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


def _cases_word(n: int) -> str:
    return f"{n} case{'s' if n != 1 else ''}"


def _differences(differing: Mapping[str, Mapping[str, Any]], targets: list[_Target], kinds: Mapping[str, str]) -> str:
    """The cases whose outcomes really differ, MUST first, each level under a heading row."""
    if not differing:
        return ""
    return f'<h2 id="differ">Where the targets differ ({_cases_word(len(differing))})</h2>' + _matrix(
        differing, targets, titles=True, kinds=kinds, by_level=True
    )


def _applicability(applying: Mapping[str, Mapping[str, Any]], targets: list[_Target], kinds: Mapping[str, str]) -> str:
    """The cases that differ only in what applies, apart from the differences and not counted with them."""
    if not applying:
        return ""
    return (
        f'<h2 id="applies">Where they differ only in what applies ({_cases_word(len(applying))})</h2>'
        '<p class="note">At some target the case was skipped (it does not apply there: its report says why) or '
        "not run; every other target has the same outcome. Not counted as a difference.</p>"
        + _matrix(applying, targets, titles=True, kinds=kinds, by_level=True)
    )


def _all_cases(catalog: Mapping[str, Mapping[str, Any]], targets: list[_Target], kinds: Mapping[str, str]) -> str:
    """Every case, folded under a `<details>` (no script needed); open when no case differs at all."""
    shown_above = any(kind != SAME for kind in kinds.values())
    return (
        f'<details id="all"{"" if shown_above else " open"}><summary>All {_cases_word(len(catalog))}</summary>'
        f"{_matrix(catalog, targets, titles=False, kinds=kinds, by_level=False)}</details>"
    )


def _matrix(
    cases: Mapping[str, Mapping[str, Any]],
    targets: list[_Target],
    *,
    titles: bool,
    kinds: Mapping[str, str],
    by_level: bool,
) -> str:
    """A table of `cases` (in their order) by target: a heading row per RFC section, and per level first
    when `by_level`; a row that differs has the red bar, one that differs only in what applies a grey one."""
    head = "".join(f'<th scope="col">{_target_name(t)}<br>{_counts(t)}</th>' for t in targets)
    per_level = Counter(str(case.get("level", "")) for case in cases.values()) if by_level else Counter[str]()
    bodies: list[str] = []
    rows: list[str] = []
    level_now: str | None = None
    section_now: str | None = None
    for case_id, case in cases.items():
        level = str(case.get("level", "")) if by_level else ""
        section = str(case.get("section", ""))
        if level != level_now or section != section_now:
            if rows:
                bodies.append(f"<tbody>{''.join(rows)}</tbody>")
            rows = [_level_row(level, per_level[level], len(targets))] if by_level and level != level_now else []
            rows.append(_section_row(section, len(targets)))
            level_now, section_now = level, section
        kind = kinds.get(case_id, SAME)
        css = f' class="{kind}"' if kind != SAME else ""
        cells = "".join(_outcome_cell(t, case_id) for t in targets)
        rows.append(f"<tr{css}>{_case_cell(case_id, case, title=titles)}{cells}</tr>")
    if rows:
        bodies.append(f"<tbody>{''.join(rows)}</tbody>")
    return (
        f'<div class="wrap"><table><thead><tr><th scope="col" class="case">case</th>{head}</tr></thead>'
        f"{''.join(bodies)}</table></div>"
    )


def _level_row(level: str, count: int, columns: int) -> str:
    shown = html_text(level or "no level")
    return (
        f'<tr class="level"><th scope="rowgroup" class="case">{shown} '
        f'<span class="level">{_cases_word(count)}</span></th><td colspan="{columns}"></td></tr>'
    )


def _target_name(target: _Target) -> str:
    name = html_text(target.name)
    return f'<a href="{html_text(target.report)}">{name}</a>' if target.report is not None else name


def _section_row(section: str, columns: int) -> str:
    shown = html_text(f"§{section}" if section else "no section")
    if re.fullmatch(r"[0-9.]{1,12}", section):
        shown = f'<a href="{RFC}{section}">{shown}</a>'
    return f'<tr class="section"><th scope="rowgroup" class="case">{shown}</th><td colspan="{columns}"></td></tr>'


def _case_cell(case_id: str, case: Mapping[str, Any], *, title: bool) -> str:
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
    applies = (
        '<li><span class="n applies-mark">case</span> a grey bar: the targets differ only in what applies (skipped '
        "or not run at some, the same outcome at the others)</li>"
    )
    return f'<h2 id="legend">Legend</h2><ul class="legend">{items}{differs}{applies}</ul>'
