"""Every case that did not pass says why and what to change: the check the kill matrix and the cause tests share.

A failed, warning or error case in results.json carries its own cause (what the server does) and fix (what to
change), written by the check that decided it; a finding carries the cause and fix of its group. Neither is
ever empty, the title, or the other; and no case may have stopped on something other than a verdict (the
plugin's cause for that starts with conformance.run.verdict_hook.UNEXPECTED).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from conformance.run.verdict_hook import UNEXPECTED

#: the outcomes whose cases must carry a cause and a fix
EXPLAINED = ("failed", "warning", "error")


def unexplained(results: Mapping[str, Any]) -> list[str]:
    """What in a results.json lacks a real cause or fix: one line per problem, [] when there is none."""
    problems = []
    titles = {str(case.get("title", "")) for case in results.get("cases", [])}
    for case in results.get("cases", []):
        if case.get("outcome") not in EXPLAINED:
            continue
        where = f"case {case.get('id')} ({case.get('outcome')})"
        cause, fix = str(case.get("cause", "")), str(case.get("fix", ""))
        if not cause.strip() or not fix.strip():
            problems.append(f"{where}: cause {cause!r}, fix {fix!r}")
        elif cause == case.get("title") or cause == fix:
            problems.append(f"{where}: the cause is its title or its fix: {cause!r}")
        elif cause.startswith(UNEXPECTED):
            problems.append(f"{where}: no verdict explained it: {cause}")
    for group in results.get("findings", []):
        where = f"finding {group.get('cause')!r} ({group.get('count')} cases)"
        cause, fix = str(group.get("cause", "")), str(group.get("fix", ""))
        if not cause.strip() or not fix.strip():
            problems.append(f"{where}: cause {cause!r}, fix {fix!r}")
        elif cause in titles or cause == fix:
            problems.append(f"{where}: the cause is a title or its fix")
    return problems
