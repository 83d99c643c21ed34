"""The end of a run on the terminal: the verdict, then each finding with its fix, errors collapsed by cause.

Read from results.json, so the terminal never says anything the contract does not. Proportional: a cause is
a few lines (its count and cause, its fix, the ids of its cases) whatever the number of cases it explains;
the details stay in the report. Lines fill the width the caller gives (the CLI: the terminal's, at least WIDTH
columns, as in a CI log) and wrap: a cause that runs long is cut after CAUSE_LINES lines, a fix never is.
"""

from __future__ import annotations

import textwrap
from collections import Counter
from typing import Any

from conformance.report.verdict import run_verdict

__all__ = ["WIDTH", "coloured", "summary_lines", "use_colour", "verdict_line"]

FINDINGS_SHOWN = 12  # causes of findings before "... and N more"
IDS_LINES = 3  # lines of case ids under a cause
CAUSES_SHOWN = 5  # error causes before "... and N more causes"
CAUSE_LINES = 2  # lines a cause may take before it is cut (a cut line ends with …); a fix is never cut
WIDTH = 100  # columns when the caller gives none (the CLI passes the terminal's, at least this many: a CI log)
MIN_WIDTH = 60  # the narrowest a summary is laid out, however narrow the width asked for
_INDENT = " " * 11  # under a finding's cause: past "  failed   "


def _wrapped(text: str, width: int, first: str, rest: str, *, most: int | None = None) -> list[str]:
    """`text` on lines of at most `width` columns, the first starting with `first`, the others with `rest`.

    Nothing is dropped unless `most` is given: then the lines past it are, and the last one kept ends with …
    """
    text = " ".join(text.split())  # one paragraph: the target's line breaks and runs of spaces are not layout
    lines = textwrap.wrap(text, width, initial_indent=first, subsequent_indent=rest, break_on_hyphens=False) or [
        first.rstrip()
    ]
    if most is not None and len(lines) > most:
        lines = lines[:most]
        lines[-1] = _cut(lines[-1] + " …", width)
    return lines


def _cut(text: str, width: int = WIDTH) -> str:
    text = " ".join(text.splitlines())  # one line, its indentation kept
    return text if len(text) <= width else text[: width - 1] + "…"


def verdict_line(results: dict[str, Any]) -> str:
    """The counts and the verdict (report/verdict.py) in one line."""
    summary = results["summary"]
    counts = ", ".join(f"{summary.get(k, 0)} {k}" for k in ("passed", "failed", "warning", "info", "skipped", "error"))
    return f"{counts} — {run_verdict(results).text}"


def _ids(group: dict[str, Any], results: dict[str, Any], width: int = WIDTH) -> list[str]:
    """The ids of a finding's cases, packed into at most IDS_LINES lines (baseline marks beside them)."""
    marks = {c["id"]: c.get("baseline") for c in results.get("cases", []) if c.get("baseline")}
    ids = [f"{i} ({marks[i]})" if i in marks else str(i) for i in group["cases"]]
    room = width - len(_INDENT)
    rows: list[list[str]] = [[]]
    for case_id in ids:
        if rows[-1] and len(", ".join([*rows[-1], case_id])) + 1 > room:  # + 1: the comma that ends a full row
            rows.append([])
        rows[-1].append(case_id)
    if len(rows) > IDS_LINES:
        hidden = sum(len(row) for row in rows[IDS_LINES:])
        rows = rows[:IDS_LINES]
        last = rows[-1]
        while last and len(", ".join([*last, f"… and {hidden} more"])) > room:
            last.pop()
            hidden += 1
        last.append(f"… and {hidden} more")
    lines = [", ".join(row) + "," for row in rows[:-1]] + [", ".join(rows[-1])]
    return [_INDENT + text for text in lines if text]


def _error_fix(group: dict[str, Any], results: dict[str, Any]) -> str:
    """The fix of a cause of errors: the group's own, else the one most of its cases name (results.json cases)."""
    if group.get("fix"):
        return str(group["fix"])
    ids = set(group.get("cases", []))
    fixes = Counter(str(c["fix"]) for c in results.get("cases", []) if c.get("id") in ids and c.get("fix"))
    return fixes.most_common(1)[0][0] if fixes else ""


def summary_lines(results: dict[str, Any], *, width: int = WIDTH) -> list[str]:
    """The verdict, the setup failure or the findings, and the error causes, in lines of at most `width`
    columns (the verdict line aside): each cause with its fix on lines of its own, wrapped, never cut."""
    width = max(width, MIN_WIDTH)
    lines = [verdict_line(results)]
    preflight = results.get("preflight", {})
    if preflight.get("ok") is False:
        lines += _wrapped(f"setup failed: {preflight.get('cause', '')}", width, "", "  ", most=CAUSE_LINES)
        for key in ("sent", "got"):
            if preflight.get(key):
                lines += _wrapped(str(preflight[key]), width, f"  {key}: ", "    ", most=CAUSE_LINES)
        if preflight.get("fix"):
            lines += _wrapped(str(preflight["fix"]), width, "  fix: ", "       ")
        return lines
    groups = results.get("findings", [])
    for group in groups[:FINDINGS_SHOWN]:
        count = int(group["count"])
        head = f"  {group['outcome']:<8} {count} case{'s' if count != 1 else ''}: "
        lines += _wrapped(str(group["cause"]), width, head, _INDENT, most=CAUSE_LINES)
        if group.get("fix"):
            lines += _wrapped(str(group["fix"]), width, f"{_INDENT}fix: ", _INDENT + "     ")
        lines.extend(_ids(group, results, width))
    if len(groups) > FINDINGS_SHOWN:
        rest = sum(int(g["count"]) for g in groups[FINDINGS_SHOWN:])
        lines.append(f"  … and {rest} more findings of {len(groups) - FINDINGS_SHOWN} other causes (report.html)")
    causes = results.get("causes", [])
    for group in causes[:CAUSES_SHOWN]:
        count = group["count"]
        head = f"  {count} case{'s' if count != 1 else ''} could not be judged: "
        lines += _wrapped(str(group["cause"]), width, head, "    ", most=CAUSE_LINES)
        fix = _error_fix(group, results)
        if fix:
            lines += _wrapped(fix, width, "    fix: ", "         ")
    if len(causes) > CAUSES_SHOWN:
        rest = sum(g["count"] for g in causes[CAUSES_SHOWN:])
        lines.append(f"  … and {rest} more cases of {len(causes) - CAUSES_SHOWN} other causes (results.json causes)")
    return lines


_VERDICT_COLOURS = {0: "32", 1: "31", 3: "35"}  # green, red, magenta (nothing or not all judged)


def use_colour(choice: str, *, tty: bool, environ: dict[str, str]) -> bool:
    """--color auto|always|never; auto means a terminal and no NO_COLOR (https://no-color.org)."""
    if choice == "always":
        return True
    if choice == "never":
        return False
    return tty and not environ.get("NO_COLOR") and environ.get("TERM") != "dumb"


def coloured(line: str, status: int, *, colour: bool) -> str:
    """The verdict line in the colour of the exit status (when colour is on; the line is the suite's own)."""
    code = _VERDICT_COLOURS.get(status)
    return f"\x1b[1;{code}m{line}\x1b[0m" if colour and code else line
