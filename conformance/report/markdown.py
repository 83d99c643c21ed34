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
from conformance.report.results import exit_status
from conformance.report.terminal import verdict_line

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


def _verdict(results: Mapping[str, Any], counts: dict[str, int], *, strict: bool) -> tuple[int, str]:
    """The exit status and the verdict words, from the same functions as the terminal's verdict line."""
    baseline = results.get("baseline")
    shape: dict[str, Any] = {
        "summary": counts,
        "cases": _dicts(results.get("cases")),
        "preflight": _dict(results.get("preflight")),
    }
    if isinstance(baseline, dict):
        shape["baseline"] = {k: _count(baseline.get(k)) for k in ("new", "still_failing", "fixed", "new_cases")}
    line = verdict_line(shape, strict=strict)
    return exit_status(shape, strict=strict), line.split(" — ", 1)[-1]


def _head(results: Mapping[str, Any], counts: dict[str, int], *, strict: bool) -> list[str]:
    status, verdict = _verdict(results, counts, strict=strict)
    target = _dict(results.get("target"))
    suite = _dict(results.get("suite"))
    name = _text(target.get("name") or "target", 120)
    lines = [f"### {_ICONS.get(status, '❔')} DPoP conformance: {name} — {_text(verdict)}", ""]
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
    bold = {"failed", "error"} | ({"warning"} if strict else set())
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
    b = {k: _count(baseline.get(k)) for k in ("new", "still_failing", "fixed", "new_cases")}
    line = (
        f"Against the baseline {file}: **{b['new']} new failure{'s' if b['new'] != 1 else ''}**, "
        f"{b['still_failing']} still failing, {b['fixed']} fixed"
    )
    if b["new_cases"]:
        line += f", {b['new_cases']} failing new case(s) the baseline did not have (they do not gate)"
    lines = [line + ".", ""]
    if baseline.get("other_version"):
        lines += [
            f"The baseline was made by dpop-conformance {_text(baseline.get('suite_version', '?'), 40)}: "
            "refresh it deliberately with `--write-baseline` once the new cases are understood.",
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


def _new_failures(cases: list[dict[str, Any]]) -> list[str]:
    new = [c for c in cases if c.get("outcome") == "failed" and c.get("baseline") == "new"]
    if not new:
        return []
    rows = [
        [
            _case_id(c.get("id", "")),
            _text(c.get("level", ""), 20),
            _text(c.get("section", ""), 20),
            _text(c.get("title", "")),
            _text(_got(c.get("message"))),
        ]
        for c in new[:ROWS]
    ]
    return [
        "#### New failures against the baseline",
        "",
        *_table(("case", "level", "section", "title", "got"), rows, len(new), "new failures"),
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


def render_summary(results: Mapping[str, Any], *, strict: bool = False) -> str:
    """The Markdown summary of one run's results.json (`strict`: SHOULD violations fail, as --fail-on should)."""
    summary = _dict(results.get("summary"))
    counts = {o: _count(summary.get(o)) for o in OUTCOMES}
    cases = _dicts(results.get("cases"))
    marks = {str(c.get("id")): str(c["baseline"]) for c in cases if c.get("baseline")}
    lines = [
        *_head(results, counts, strict=strict),
        *_baseline(results),
        *_setup(results),
        *_new_failures(cases),
        *_findings(results, marks),
        *_causes(results),
        *_fixed(cases),
        *_warnings(results),
    ]
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines) + "\n"
