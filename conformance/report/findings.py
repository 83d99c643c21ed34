"""Findings grouped by likely cause, worst first: what a reader fixes, rather than what each case saw.

A server that answers every refused proof with 401 where 400 belongs warns in thirty-five cases; they are
one finding with one fix. A case's cause is, in this order: the cause its violation named (the same words
for every case it happens to, conformance/judge/checks.py), the likely cause its id points to
(conformance/report/hints.py: every htu case that fails because htu is compared as a raw string), or,
failing both, the case on its own. Failures come before warnings; within each, the groups explaining the
most cases first. Errors are grouped by cause already (results.json `causes`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from conformance.report.hints import hint_for

__all__ = ["finding_groups", "message_part"]

_ORDER = {"failed": 0, "warning": 1}


def message_part(message: str, label: str) -> str:
    """The text of the line of a Sent / Expected / Got / Reproduce message that starts with `label:`."""
    prefix = label + ":"
    for line in message.splitlines():
        if line.startswith(prefix):
            return line[len(prefix) :].strip()
    return ""


def finding_groups(cases: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The failed and warning cases grouped by cause: one entry per (outcome, cause), worst and largest first.

    Each entry: outcome, cause, fix (may be ""), count, cases (ids), and evidence: the first case's id,
    what it got and the curl command that reproduces it.
    """
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for case in cases:
        outcome = str(case.get("outcome"))
        if outcome not in _ORDER:
            continue
        case_id = str(case.get("id"))
        hint = hint_for(case_id)
        cause = str(case.get("cause") or "") or hint or str(case.get("title") or case_id)
        fix = str(case.get("fix") or "") or ("" if cause == hint else hint or "")
        group = groups.get((outcome, cause))
        if group is None:
            message = str(case.get("message") or "")
            group = groups[(outcome, cause)] = {
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
        group["count"] += 1
        group["cases"].append(case_id)
    return sorted(groups.values(), key=lambda g: (_ORDER[g["outcome"]], -g["count"], g["cause"]))
