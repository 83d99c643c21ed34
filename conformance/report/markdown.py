"""One run's results as Markdown: a CI step summary or a pull-request comment (`dpop-conformance summary`).

Read from results.json alone, so it says nothing the contract does not: the verdict first (one heading
line), the six counts, the baseline's counts, the setup failure when the happy path failed, the failures
new against the baseline, the findings grouped by cause (results.json `findings`), the cases that could
not be judged grouped by cause (`causes`), and the run's own warnings. Bounded: GitHub keeps at most
1 MiB of a step's summary and results.json may hold megabytes, so long lists end with "… and N more"
and long texts are cut; report.html has the rest. Every string that comes from the results file (and so
perhaps from the target) goes through markdown_cell: one line, control characters shown as escapes, no
span, link, HTML or table cell opened or closed by it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from conformance.printable import markdown_cell
from conformance.report.verdict import run_verdict

__all__ = ["render_summary"]

OUTCOMES = ("passed", "failed", "warning", "info", "skipped", "error")
ROWS = 25  # rows of a table before "… and N more"
IDS = 10  # case ids in one cell before "… and N more"
TEXT = 300  # characters of a cause, a fix, a title or an answer in one cell
_ICONS = {0: "✅", 1: "❌", 3: "⚠️"}
_PLAIN_ID = re.compile(r"[a-z0-9-]{1,80}")


def _text(value: object, limit: int = TEXT) -> str:
    """A results string as Markdown: escaped, on one line, cut to `limit` characters."""
    text = markdown_cell(str(value))
    return text if len(text) <= limit else text[: limit - 1].rstrip("\\") + "…"


def _case_id(value: object) -> str:
    """A case id in a code span when it is a plain one (as the catalog's are), escaped text otherwise."""
    text = str(value)
    return f"`{text}`" if _PLAIN_ID.fullmatch(text) else _text(text, 120)


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _dicts(value: object) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _more(total: int, shown: int, what: str) -> str:
    return f"… and {total - shown} more {what}" if total > shown else ""


def _ids(ids: object, marks: Mapping[str, str]) -> str:
    listed = [str(i) for i in ids] if isinstance(ids, list) else []
    shown = [_case_id(i) + (f" ({_text(marks[i], 40)})" if i in marks else "") for i in listed[:IDS]]
    more = _more(len(listed), IDS, "")
    return ", ".join(shown + ([more.rstrip()] if more else []))


def _table(header: Iterable[str], rows: list[list[str]], total: int, what: str) -> list[str]:
    header = list(header)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines.extend("| " + " | ".join(cell or " " for cell in row) + " |" for row in rows)
    more = _more(total, len(rows), what)
    return [*lines, *([f"\n{more} (report.html has them all)"] if more else [])]


def _head(results: Mapping[str, Any], counts: dict[str, int]) -> list[str]:
    verdict = run_verdict(results)
    target = _dict(results.get("target"))
    suite = _dict(results.get("suite"))
    name = _text(target.get("name") or "target", 120)
    lines = [f"### {_ICONS.get(verdict.status, '❔')} DPoP conformance: {name} — {_text(verdict.text)}", ""]
    meta = [f"dpop-conformance {_text(suite.get('version', '?'), 40)}"]
    if results.get("started_at"):
        meta.append(f"started {_text(results['started_at'], 40)}")
    if isinstance(results.get("duration_s"), int | float):
        meta.append(f"{results['duration_s']:.1f} s")
    fuzz = _dict(results.get("fuzz"))
    if fuzz.get("profile"):
        meta.append(f"fuzz profile {_text(fuzz['profile'], 40)}")
    if fuzz.get("seed") is not None:
        meta.append(f"fuzz seed {_text(fuzz['seed'], 40)} (replay with --fuzz-seed {_text(fuzz['seed'], 40)})")
    requests = _dict(results.get("requests"))
    if requests:
        meta.append("requests sent: " + _text(", ".join(f"{n} to {host}" for host, n in requests.items())))
    lines += [" · ".join(meta), ""]
    lines += ["| " + " | ".join(OUTCOMES) + " |", "|" + "---:|" * len(OUTCOMES)]
    bold = {"failed", "error"} | ({"warning"} if verdict.fail_on == "should" else set())
    cells = [f"**{counts[o]}**" if counts[o] and o in bold else str(counts[o]) for o in OUTCOMES]
    lines += ["| " + " | ".join(cells) + " |", ""]
    return lines


def _baseline(results: Mapping[str, Any]) -> list[str]:
    baseline = results.get("baseline")
    if not isinstance(baseline, dict):
        return []
    file = _text(baseline.get("file", "?"), 200)
    if baseline.get("missing"):
        return [
            f"The baseline {file} does not exist yet: every failure counts as new "
            "(`--write-baseline FILE` records this run as one).",
            "",
        ]
    b = {
        k: _count(baseline.get(k))
        for k in ("new", "new_warnings", "still_failing", "still_warning", "fixed", "new_cases", "not_in_baseline")
    }
    parts = [f"**{b['new']} new failure{'s' if b['new'] != 1 else ''}**"]
    if b["new_warnings"] or run_verdict(results).fail_on == "should":
        parts.append(f"{b['new_warnings']} new warning{'s' if b['new_warnings'] != 1 else ''}")
    parts.append(f"{b['still_failing']} still failing")
    if b["still_warning"]:
        parts.append(f"{b['still_warning']} still warning")
    parts.append(f"{b['fixed']} fixed")
    if b["not_in_baseline"]:
        parts.append(f"{b['not_in_baseline']} failing case(s) its selection left out (they gate)")
    if b["new_cases"]:
        parts.append(f"{b['new_cases']} failing new case(s) its suite version did not have (they do not gate)")
    lines = [f"Against the baseline {file}: {', '.join(parts)}.", ""]
    if baseline.get("selection_difference"):
        lines += [
            f"The baseline was recorded with another selection ({_text(baseline['selection_difference'])}): "
            "the cases it has no outcome for are judged as without a baseline.",
            "",
        ]
    if baseline.get("format") == "results.json":
        lines += [
            "The baseline is a results.json (read in this version only): record a baseline file with "
            "`--write-baseline`.",
            "",
        ]
    if baseline.get("other_version"):
        lines += [
            f"The baseline was made by dpop-conformance {_text(baseline.get('suite_version', '?'), 40)}: "
            "refresh it deliberately with `--write-baseline` once the new cases are understood (CHANGELOG.md "
            "lists them).",
            "",
        ]
    return lines


def _setup(results: Mapping[str, Any]) -> list[str]:
    preflight = results.get("preflight")
    if not isinstance(preflight, dict) or preflight.get("ok") is not False:
        return []
    lines = [f"**The setup failed, so no case was judged:** {_text(preflight.get('cause', ''))}", ""]
    lines += [f"- {key}: {_text(preflight[key])}" for key in ("sent", "got", "fix") if preflight.get(key)]
    return [*lines, ""]


def _got(message: object) -> str:
    """What the case got, from its message's "Got:" line (indented or not), or ""."""
    for line in str(message or "").splitlines():
        if line.lstrip().startswith("Got:"):
            return line.lstrip()[len("Got:") :].strip()
    return ""


def _gating(results: Mapping[str, Any], cases: list[dict[str, Any]]) -> list[str]:
    """The cases that turn the gate red (report/verdict.py), each with what it got."""
    verdict = run_verdict(results)
    by_id = {str(c.get("id")): c for c in cases}
    gating = [by_id[i] for i in verdict.gating if i in by_id]
    if not gating:
        return []
    rows = [
        [
            _case_id(c.get("id", "")),
            _text(c.get("level", ""), 20),
            _text(c.get("section", ""), 20),
            _text(c.get("title", "")),
            _text(_got(c.get("message"))),
        ]
        for c in gating[:ROWS]
    ]
    heading = "What fails the gate (new against the baseline)" if verdict.baseline else "What fails the gate"
    return [
        f"#### {heading}",
        "",
        *_table(("case", "level", "section", "title", "got"), rows, len(gating), "cases"),
        "",
    ]


def _findings(results: Mapping[str, Any], marks: Mapping[str, str]) -> list[str]:
    groups = _dicts(results.get("findings"))
    if not groups:
        return []
    fixes = any(g.get("fix") for g in groups[:ROWS])  # a column of its own only when a finding has one
    rows = [
        [
            _text(g.get("outcome", ""), 20),
            _text(_count(g.get("count")), 20),
            _text(g.get("cause", "")),
            *([_text(g.get("fix", ""))] if fixes else []),
            _ids(g.get("cases"), marks),
        ]
        for g in groups[:ROWS]
    ]
    header = ("outcome", "cases", "cause", *(["fix"] if fixes else []), "case ids")
    return ["#### Findings by cause", "", *_table(header, rows, len(groups), "causes of findings"), ""]


def _causes(results: Mapping[str, Any]) -> list[str]:
    groups = _dicts(results.get("causes"))
    if not groups:
        return []
    rows = [[_text(_count(g.get("count")), 20), _text(g.get("cause", "")), _ids(g.get("cases"), {})] for g in groups]
    return [
        "#### Could not be judged, by cause",
        "",
        *_table(("cases", "cause", "case ids"), rows[:ROWS], len(groups), "causes"),
        "",
    ]


def _fixed(cases: list[dict[str, Any]]) -> list[str]:
    fixed = [str(c.get("id", "")) for c in cases if c.get("baseline") == "fixed"]
    return [f"Fixed since the baseline: {_ids(fixed, {})}.", ""] if fixed else []


def _warnings(results: Mapping[str, Any]) -> list[str]:
    warnings = results.get("warnings")
    if not isinstance(warnings, list) or not warnings:
        return []
    shown = [f"- warning: {_text(w)}" for w in warnings[:ROWS]]
    more = _more(len(warnings), ROWS, "warnings")
    return [*shown, *([f"- {more}"] if more else []), ""]


def render_summary(results: Mapping[str, Any], *, fail_on: str | None = None) -> str:
    """The Markdown summary of one run's results.json: its verdict is the run's (report/verdict.py), or, with
    `fail_on`, the verdict of the same cases under another gate (must or should)."""
    if fail_on is not None:
        results = {**results, "gate": {**_dict(results.get("gate")), "fail_on": fail_on}}
    summary = _dict(results.get("summary"))
    counts = {o: _count(summary.get(o)) for o in OUTCOMES}
    cases = _dicts(results.get("cases"))
    marks = {str(c.get("id")): str(c["baseline"]) for c in cases if c.get("baseline")}
    lines = [
        *_head(results, counts),
        *_baseline(results),
        *_setup(results),
        *_gating(results, cases),
        *_findings(results, marks),
        *_causes(results),
        *_fixed(cases),
        *_warnings(results),
    ]
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines) + "\n"
