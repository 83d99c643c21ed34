"""The end of a run on the terminal: the verdict, then one line per finding, errors collapsed by cause.

Read from results.json, so the terminal never says anything the contract does not. Proportional: one cause
is one line with a count, whatever the number of cases it explains; the details stay in the report.
"""

from __future__ import annotations

from typing import Any

from conformance.report.results import exit_status

__all__ = ["coloured", "summary_lines", "use_colour", "verdict_line"]

FINDINGS_SHOWN = 12  # causes of findings before "... and N more"
IDS_LINES = 3  # lines of case ids under a cause
CAUSES_SHOWN = 5  # error causes before "... and N more causes"
WIDTH = 118  # a line's length at most (a cut line ends with …)


def _cut(text: str, width: int = WIDTH) -> str:
    text = " ".join(text.splitlines())  # one line, its indentation kept
    return text if len(text) <= width else text[: width - 1] + "…"


def verdict_line(results: dict[str, Any], *, strict: bool = False) -> str:
    """The counts and the verdict in one line."""
    status = exit_status(results, strict=strict)
    summary = results["summary"]
    counts = ", ".join(f"{summary.get(k, 0)} {k}" for k in ("passed", "failed", "warning", "info", "skipped", "error"))
    baseline = results.get("baseline", {})
    if results.get("preflight", {}).get("ok") is False:
        verdict = "nothing judged: the setup failed (see below)"
    elif status == 0 and baseline.get("still_failing"):
        verdict = f"no new MUST failure ({baseline['still_failing']} known failure(s) still failing)"
    elif status == 0:
        verdict = "conformant to every MUST"
    elif status == 1 and baseline:
        verdict = f"{baseline['new']} MUST failure(s) new against the baseline"
    elif status == 1 and summary.get("failed"):
        verdict = f"{summary['failed']} MUST failure(s)"
    elif status == 1:
        verdict = f"{summary.get('warning', 0)} SHOULD violation(s), failing because of --strict"
    else:
        verdict = "some cases could not be judged (their causes are below)"
    return f"{counts} — {verdict}"


def _ids(group: dict[str, Any], results: dict[str, Any]) -> list[str]:
    """The ids of a finding's cases, packed into a few lines (baseline marks beside them)."""
    marks = {c["id"]: c.get("baseline") for c in results.get("cases", []) if c.get("baseline")}
    ids = [f"{i} ({marks[i]})" if i in marks else str(i) for i in group["cases"]]
    lines: list[str] = []
    line = ""
    for n, case_id in enumerate(ids):
        piece = case_id if not line else f"{line}, {case_id}"
        if len(piece) + 11 > WIDTH:
            if len(lines) == IDS_LINES - 1:
                lines.append(f"{line}, … and {len(ids) - n} more")
                line = ""
                break
            lines.append(line + ",")
            piece = case_id
        line = piece
    if line:
        lines.append(line)
    return ["           " + text for text in lines]


def summary_lines(results: dict[str, Any], *, strict: bool = False) -> list[str]:
    """The verdict, the setup failure or the findings (one line each), and the error causes (one line each)."""
    lines = [verdict_line(results, strict=strict)]
    preflight = results.get("preflight", {})
    if preflight.get("ok") is False:
        lines.append(_cut(f"setup failed: {preflight.get('cause', '')}"))
        for key in ("sent", "got", "fix"):
            if preflight.get(key):
                lines.append(_cut(f"  {key}: {preflight[key]}"))
        return lines
    groups = results.get("findings", [])
    for group in groups[:FINDINGS_SHOWN]:
        count = int(group["count"])
        lines.append(_cut(f"  {group['outcome']:<8} {count} case{'s' if count != 1 else ''}: {group['cause']}"))
        lines.extend(_ids(group, results))
    if len(groups) > FINDINGS_SHOWN:
        rest = sum(int(g["count"]) for g in groups[FINDINGS_SHOWN:])
        lines.append(f"  … and {rest} more findings of {len(groups) - FINDINGS_SHOWN} other causes (report.html)")
    causes = results.get("causes", [])
    for group in causes[:CAUSES_SHOWN]:
        count = group["count"]
        lines.append(_cut(f"  {count} case{'s' if count != 1 else ''} could not be judged: {group['cause']}"))
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
