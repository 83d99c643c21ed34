"""What a JUnit consumer sees of a case under --baseline: a failure the baseline already had is reported as
skipped ("known failure since ..."), so a CI test tab does not turn red while the gate (the exit status) is
green; a new failure stays a JUnit failure. results.json and report.html keep the case a failure, marked
"still failing", and junit.xml keeps its properties (dpop_outcome is "failed").

Checked with pytest's own junitxml (xunit1 and xunit2), the JUnit readers that GitHub's test-reporter
actions and GitLab's `artifacts:reports:junit` use: both show a <skipped> test case as skipped, with its
message.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["known_failure_reason"]


def known_failure_reason(baseline_file: str | Path, started_at: object = None) -> str:
    """The skip reason of a known failure: the baseline's file name and when that run started."""
    since = f"{Path(baseline_file).name}, {started_at}" if isinstance(started_at, str) and started_at else ""
    return f"known failure since the baseline ({since or Path(baseline_file).name}); still failing"
