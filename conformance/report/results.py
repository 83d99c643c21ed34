"""results.json: the published, machine-readable outcome of a run (its shape is documented in the README).

    {"suite": {...}, "target": {...}, "started_at": ..., "duration_s": ..., "summary": {...}, "cases": [...]}

New keys may be added in later versions; existing keys keep their meaning.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from conformance import __version__
from conformance.judge.verdicts import Outcome
from conformance.printable import printable
from conformance.report.baseline import FIXED, NEW, NEW_CASE, STILL_FAILING, Baseline
from conformance.report.findings import finding_groups

__all__ = ["CaseRecord", "ResultsWriter", "exit_status", "load_results"]

SCHEMA_VERSION = 1


@dataclass
class CaseRecord:
    """One case's entry in results.json."""

    id: str
    title: str
    section: str
    level: str
    actor: str
    outcome: str
    message: str
    duration_s: float
    requirement: str = ""
    rfc_url: str = ""
    nodeid: str = ""
    baseline: str = ""  # against --baseline: "new", "still failing", "new case", "fixed", or ""
    measurements: dict[str, Any] = field(default_factory=dict)  # values the RFC leaves open, as measured
    # what the case shares with the others of its cause: for an error "... answered 401 invalid_client", for a
    # finding the cause its violation named ("... answers invalid_dpop_proof with HTTP 401, not 400"), or ""
    cause: str = ""
    fix: str = ""  # for a finding whose violation said what to change


@dataclass
class ResultsWriter:
    """Collects case records during a run and writes results.json at the end."""

    target: dict[str, Any]
    fuzz: dict[str, Any] = field(default_factory=dict)
    baseline: Baseline | None = None
    requests: dict[str, int] = field(default_factory=dict)  # requests sent per host (host:port)
    warnings: list[str] = field(default_factory=list)  # about the run itself (plain HTTP, TLS not verified)
    # rate limits met: 429/503 with Retry-After, each request sent again after the wait (never judged)
    throttled: dict[str, Any] = field(default_factory=lambda: {"count": 0, "waited_s": 0.0})
    # cases side by side (conformance/run/scheduler.py): the limit, the cases that ran beside others, those run
    # again alone because that outcome was not a pass, and those whose outcome then changed
    concurrency: dict[str, Any] = field(
        default_factory=lambda: {"limit": 1, "ahead": 0, "again_alone": 0, "confirmed_alone": 0, "changed_alone": []}
    )
    waiting_s: float = 0.0  # time spent waiting for the target's answers (the rest is the suite's own)
    preflight: dict[str, Any] = field(default_factory=dict)  # the setup failure, when the happy path failed
    started: float = field(default_factory=time.time)
    records: dict[str, CaseRecord] = field(default_factory=dict)

    def record(self, rec: CaseRecord) -> None:
        """Add or update the record of a case (a later phase can turn a pass into an error)."""
        self.records[rec.nodeid or rec.id] = rec

    def as_dict(self) -> dict[str, Any]:
        """The results.json document."""
        summary = {o.value: 0 for o in Outcome if o is not Outcome.PASSED}
        summary = {Outcome.PASSED.value: 0, **summary}
        for rec in self.records.values():
            summary[rec.outcome] = summary.get(rec.outcome, 0) + 1
        cases = [asdict(r) for r in self.records.values()]
        baseline = None
        if self.baseline is not None:
            marks = [r.baseline for r in self.records.values()]
            baseline = {
                **self.baseline.describe(),
                "new": marks.count(NEW),
                "still_failing": marks.count(STILL_FAILING),
                "new_cases": marks.count(NEW_CASE),
                "fixed": marks.count(FIXED),
            }
            if self.baseline.other_version(__version__):
                baseline["other_version"] = True
        document: dict[str, Any] = _escaped(
            {
                "schema_version": SCHEMA_VERSION,
                "suite": {"name": "dpop-conformance", "version": __version__},
                "target": self.target,
                "started_at": datetime.fromtimestamp(self.started, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "duration_s": round(time.time() - self.started, 3),
                "summary": summary,
                "fuzz": self.fuzz,
                **({"baseline": baseline} if baseline else {}),
                "requests": dict(sorted(self.requests.items())),
                "timing": {"waiting_s": round(self.waiting_s, 3)},
                "throttled": dict(self.throttled),
                "concurrency": dict(self.concurrency),
                "warnings": list(self.warnings),
                "preflight": self.preflight or {"ok": True},
                "findings": finding_groups(cases),
                "causes": self.causes(),
                "cases": cases,
            }
        )
        return document

    def causes(self) -> list[dict[str, Any]]:
        """The cases that could not be judged, grouped by cause, most cases first."""
        groups: dict[str, list[str]] = {}
        for rec in self.records.values():
            if rec.outcome == Outcome.ERROR.value:
                groups.setdefault(rec.cause or rec.message.splitlines()[0][:200], []).append(rec.id)
        return [
            {"cause": cause, "count": len(ids), "cases": ids}
            for cause, ids in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))
        ]

    def write(self, path: str | Path) -> Path:
        """Write results.json (creating its folder)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.as_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        return path


def _escaped(value: Any) -> Any:
    """Every string with its control characters shown as escapes: results.json carries the target's text,
    and whatever prints it (jq on a terminal, a CI log) must not obey a sequence hidden in it."""
    if isinstance(value, str):
        return printable(value, lines=True)
    if isinstance(value, dict):
        return {printable(str(k)): _escaped(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_escaped(v) for v in value]
    return value


def load_results(path: str | Path) -> dict[str, Any]:
    """Read a results.json file."""
    data: dict[str, Any] = json.loads(Path(path).read_text(encoding="utf-8"))
    return data


def exit_status(results: Mapping[str, Any], *, strict: bool = False) -> int:
    """0 all judged and no MUST failed; 1 a MUST failed (or a SHOULD, with strict); 3 nothing or not all judged.

    With a baseline (results["baseline"]), only failures that are new against it count. Status 2 (usage
    or configuration error) is decided before a run starts, by the CLI.
    """
    summary = results.get("summary", {})
    judged = sum(summary.get(o, 0) for o in ("passed", "failed", "warning", "info"))
    failed = summary.get("failed", 0)
    if "baseline" in results:
        failed = sum(1 for c in results.get("cases", []) if c.get("outcome") == "failed" and c.get("baseline") == "new")
    if failed:
        return 1
    if summary.get("error", 0) or judged == 0:
        return 3
    if strict and summary.get("warning", 0):
        return 1
    return 0
