"""The end of a run on the terminal: the verdict, then one line per finding, errors collapsed by cause.

Read from results.json, so the terminal never says anything the contract does not. Proportional: one cause
is one line with a count, whatever the number of cases it explains; the details stay in the report.
"""

from __future__ import annotations

from typing import Any

from conformance.results import exit_status

__all__ = ["summary_lines", "verdict_line"]

FINDINGS_SHOWN = 25  # finding lines before "... and N more"
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
    findings = [c for c in results.get("cases", []) if c.get("outcome") in ("failed", "warning")]
    findings.sort(key=lambda c: (c["outcome"] != "failed", c["id"]))
    for case in findings[:FINDINGS_SHOWN]:
        mark = f" ({case['baseline']})" if case.get("baseline") else ""
        lines.append(_cut(f"  {case['outcome']:<8} {case['id']}{mark}: {case.get('title', '')}"))
    if len(findings) > FINDINGS_SHOWN:
        lines.append(f"  … and {len(findings) - FINDINGS_SHOWN} more findings (report.html, results.json)")
    causes = results.get("causes", [])
    for group in causes[:CAUSES_SHOWN]:
        count = group["count"]
        lines.append(_cut(f"  {count} case{'s' if count != 1 else ''} could not be judged: {group['cause']}"))
    if len(causes) > CAUSES_SHOWN:
        rest = sum(g["count"] for g in causes[CAUSES_SHOWN:])
        lines.append(f"  … and {rest} more cases of {len(causes) - CAUSES_SHOWN} other causes (results.json causes)")
    return lines
