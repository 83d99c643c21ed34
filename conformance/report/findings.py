"""Findings grouped by likely cause, worst first: what a reader fixes, rather than what each case saw.

A server that answers every refused proof with 401 where 400 belongs warns in thirty-five cases; they are
one finding with one fix. Every failed and warning case carries its own cause and fix (what its server did,
what to change there: results.json cases[].cause and cases[].fix, written where its check is). It is grouped,
in this order, by: its own cause, when its violation said that cause is worded the same for every case it
happens to (a status code, a server error: cases[].shared_cause); else the likely cause its id points to
(conformance/report/hints.py: every htu case that fails because htu is compared as a raw string); else its own
cause, alone. A finding's cause and fix are therefore always both there, and never a case's title. Failures
come before warnings; within each, the groups explaining the most cases first. Errors are grouped by cause
already (results.json `causes`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from conformance.report.hints import hint_for

__all__ = ["finding_groups", "grouping_cause", "message_part"]

_ORDER = {"failed": 0, "warning": 1}


def message_part(message: str, label: str) -> str:
    """The text of the line of a Sent / Expected / Got / Reproduce message that starts with `label:`."""
    prefix = label + ":"
    for line in message.splitlines():
        if line.startswith(prefix):
            return line[len(prefix) :].strip()
    return ""


def grouping_cause(case: Mapping[str, Any]) -> tuple[str, str]:
    """The cause and fix a failed or warning case is grouped by (see the module's docstring).

    A record without a cause of its own (written by an older suite) falls back on its likely cause, then on
    saying that none was recorded: never on its title, which says what was checked, not what went wrong.
    """
    case_id = str(case.get("id"))
    cause, fix = str(case.get("cause") or ""), str(case.get("fix") or "")
    if cause and case.get("shared_cause"):
        return cause, fix or _NO_FIX
    hint = hint_for(case_id)
    if hint is not None:
        return hint.cause, hint.fix
    if cause:
        return cause, fix or _NO_FIX
    return f"{case_id} did not pass, and no cause was recorded", _NO_FIX


#: what a finding says when no fix was recorded (only records of an older suite lack one)
_NO_FIX = "see the case's message (what was sent, expected and got)"


def finding_groups(cases: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The failed and warning cases grouped by cause: one entry per (outcome, cause), worst and largest first.

    Each entry: outcome, cause, fix (the one most of its cases name; the first, on a tie), count, cases (ids),
    and evidence: the first case's id, what it got and the curl command that reproduces it.
    """
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    fixes: dict[tuple[str, str], Counter[str]] = {}
    for case in cases:
        outcome = str(case.get("outcome"))
        if outcome not in _ORDER:
            continue
        case_id = str(case.get("id"))
        cause, fix = grouping_cause(case)
        key = (outcome, cause)
        group = groups.get(key)
        if group is None:
            message = str(case.get("message") or "")
            group = groups[key] = {
                "outcome": outcome,
                "cause": cause,
                "fix": fix,
                "count": 0,
                "cases": [],
                "evidence": {
                    "case": case_id,
                    "got": message_part(message, "Got"),
                    "curl": message_part(message, "Reproduce"),
                },
            }
            fixes[key] = Counter()
        fixes[key][fix] += 1
        group["count"] += 1
        group["cases"].append(case_id)
    for key, group in groups.items():
        # cases of one shared cause may word their fix for their own request; the finding says the commonest
        group["fix"] = fixes[key].most_common(1)[0][0]
    return sorted(groups.values(), key=lambda g: (_ORDER[g["outcome"]], -g["count"], g["cause"]))
