"""What a JUnit consumer sees of a case under --baseline: a failure the baseline already had is reported as
skipped ("known failure since ..."), so a CI test tab does not turn red while the gate (the exit status) is
green; a new failure stays a JUnit failure. A failing case the baseline did not have ("new case": the
suite that made the baseline had no such case) does not gate either, and is skipped with its own reason.
results.json and report.html keep the case a failure, marked "still failing" or "new case", and junit.xml
keeps its properties (dpop_outcome is "failed").

Checked with pytest's own junitxml (xunit1 and xunit2), the JUnit readers that GitHub's test-reporter
actions and GitLab's `artifacts:reports:junit` use: both show a <skipped> test case as skipped, with its
message.
"""

from __future__ import annotations

from pathlib import Path

from conformance.report.baseline import NEW_CASE, Baseline

__all__ = ["known_failure_reason", "new_case_reason", "skip_reason"]


def known_failure_reason(baseline_file: str | Path, started_at: object = None, *, outcome: str = "failed") -> str:
    """The skip reason of a known failure (or warning): the baseline's file name, and for a results.json
    baseline when that run started (a baseline file records no date: it is the same bytes every run)."""
    since = f"{Path(baseline_file).name}, {started_at}" if isinstance(started_at, str) and started_at else ""
    what, still = ("failure", "still failing") if outcome == "failed" else ("warning", "still warning")
    return f"known {what} since the baseline ({since or Path(baseline_file).name}); {still}"


def new_case_reason(baseline: Baseline) -> str:
    """The skip reason of a failing case the baseline's suite version did not have."""
    made_by = f"dpop-conformance {baseline.suite_version}" if baseline.suite_version else "an earlier run"
    return (
        f"new case: failing, and the baseline ({Path(baseline.file).name}, made by {made_by}) has no such case; "
        "not gating until the baseline is refreshed (--write-baseline)"
    )


def skip_reason(baseline: Baseline, mark: str, outcome: str) -> str:
    """Why a non-gating failure is a skipped test to a JUnit consumer (mark: still failing/warning, new case)."""
    if mark == NEW_CASE:
        return new_case_reason(baseline)
    return known_failure_reason(baseline.file, baseline.started_at, outcome=outcome)
