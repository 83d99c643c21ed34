"""results.json: the published, machine-readable outcome of a run (its shape is documented in the README).

    {"suite": {...}, "target": {...}, "started_at": ..., "duration_s": ..., "summary": {...}, "cases": [...]}

New keys may be added in later versions; existing keys keep their meaning.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from conformance import __version__
from conformance.judge.verdicts import Outcome
from conformance.printable import printable
from conformance.report.baseline import (
    FIXED,
    NEW,
    NEW_CASE,
    NOT_IN_BASELINE,
    STILL_FAILING,
    STILL_WARNING,
    Baseline,
    selection_difference,
)
from conformance.report.findings import finding_groups
from conformance.report.verdict import run_verdict

__all__ = ["CaseRecord", "ResultsWriter", "exit_status", "load_results"]

SCHEMA_VERSION = 3


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
    # against --baseline (report/baseline.py): "new", "still failing", "still warning", "not in baseline",
    # "new case", "fixed", or ""
    baseline: str = ""
    measurements: dict[str, Any] = field(default_factory=dict)  # values the RFC leaves open, as measured
    # every failed, warning and error case: what its server does ("POST .../token accepts a token request carrying
    # a proof with typ JWT ...", for an error "... answered 401 invalid_client") and what to change, both written
    # where its check is (conformance/judge/); "" for passed, info and skipped cases
    cause: str = ""
    fix: str = ""
    # True when `cause` is worded the same for every case it happens to (a wrong status code, a 5xx): findings
    # group by it rather than by the likely cause of the case's id (report/findings.py)
    shared_cause: bool = False


@dataclass
class ResultsWriter:
    """Collects case records during a run and writes results.json at the end."""

    target: dict[str, Any]
    fuzz: dict[str, Any] = field(default_factory=dict)
    baseline: Baseline | None = None
    fail_on: str = "must"  # what the gate counts: must, or should (--fail-on should, --strict)
    selection: dict[str, Any] | None = None  # the cases chosen (report/baseline.py SELECTION_KEYS)
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
            outcomes = {r.id: r.outcome for r in self.records.values()}
            baseline = {
                **self.baseline.describe(),
                "new": sum(1 for r in self.records.values() if r.baseline == NEW and r.outcome == "failed"),
                "new_warnings": sum(1 for r in self.records.values() if r.baseline == NEW and r.outcome == "warning"),
                "still_failing": marks.count(STILL_FAILING),
                "still_warning": marks.count(STILL_WARNING),
                # failed cases only, as "new": what gates, or would gate without the suite upgrade
                "new_cases": sum(1 for r in self.records.values() if r.baseline == NEW_CASE and r.outcome == "failed"),
                "not_in_baseline": sum(
                    1 for r in self.records.values() if r.baseline == NOT_IN_BASELINE and r.outcome == "failed"
                ),
                "fixed": marks.count(FIXED),
                # every case of this run the baseline has no outcome for, whatever its outcome now
                "unrecorded": sum(1 for case_id in outcomes if case_id not in self.baseline.outcomes)
                if not self.baseline.missing
                else 0,
            }
            if self.baseline.other_version(__version__):
                baseline["other_version"] = True
            if self.baseline.unknown_version() and not self.baseline.missing:
                baseline["unknown_version"] = True
            if self.selection is not None:
                difference = selection_difference(self.baseline, self.selection)
                if difference:
                    baseline["selection_difference"] = difference
        document: dict[str, Any] = _escaped(
            {
                "schema_version": SCHEMA_VERSION,
                "suite": {"name": "dpop-conformance", "version": __version__},
                "target": self.target,
                "started_at": datetime.fromtimestamp(self.started, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "duration_s": round(time.time() - self.started, 3),
                "summary": summary,
                "fuzz": self.fuzz,
                "selection": dict(self.selection or {}),
                "gate": {"fail_on": self.fail_on},
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
        document["verdict"] = run_verdict(document).as_dict()
        return document

    def causes(self) -> list[dict[str, Any]]:
        """The cases that could not be judged, grouped by cause, most cases first; each group with the fix its
        cases give most often (they were written where each case stopped)."""
        groups: dict[str, list[CaseRecord]] = {}
        for rec in self.records.values():
            if rec.outcome == Outcome.ERROR.value:
                groups.setdefault(rec.cause or rec.message.splitlines()[0][:200], []).append(rec)
        found = []
        for cause, recs in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0])):
            fixes = Counter(r.fix for r in recs if r.fix)
            fix = min(fixes, key=lambda f: (-fixes[f], f)) if fixes else ""
            found.append({"cause": cause, "fix": fix, "count": len(recs), "cases": [r.id for r in recs]})
        return found

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


def exit_status(results: Mapping[str, Any]) -> int:
    """0, 1 or 3: the exit status of the run results.json describes (report/verdict.py decides it).

    Status 2 (a usage or configuration error) is decided before a run starts, by the CLI.
    """
    return run_verdict(results).status
