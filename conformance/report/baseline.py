"""A run judged against an earlier, accepted one (`--baseline`): which failures are new, known, fixed, or of new cases.

A baseline is a small file of its own (`--write-baseline FILE`), made to be committed and reviewed as a diff:

    {
     "format": "dpop-conformance baseline",
     "format_version": 1,
     "suite_version": "0.2.0",
     "target": {"name": "staging", "endpoints": {"token_endpoint": "https://...", ...}},
     "selection": {"actors": ["AS"], "sections": [], ..., "markers": "not fuzz", "profiles": ["rfc9449"]},
     "options": {"fuzz": {...}, "reference": {...}},
     "cases": {
      "as-dpop-jkt-exact": "passed",
      ...
     }
    }

Keys sorted, one case per line, no timings, nonces, dates or absolute paths: two runs of an unchanged target write
the same bytes. Against it, each failing (or, with `--fail-on should`, warning) case of a run is

- "new": the baseline had the case and it was not failing there (or there is no baseline file yet and the
  user said `--baseline-missing ok`). It gates.
- "still failing" / "still warning": it failed (or warned) in the baseline too. Reported, not gating.
- "not in baseline": the baseline's suite version had the case, but its selection left it out (a baseline of
  `--actor AS` lacks every RS case). Judged as if there were no baseline: it gates. A narrower baseline never
  hides a failure.
- "new case": the baseline's suite version did not have the case (conformance/judge/releases.py). A suite
  upgrade that adds cases must not turn a gate red by itself; the run says so, and the user refreshes the
  baseline deliberately.

and a case that failed or warned in the baseline but now passes is "fixed".

The results.json of a run (the format before 0.2.0) is still read as a baseline, with a note; it records no
selection, so every case it lacks that its suite version had is "not in baseline".
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conformance.judge.releases import cases_in

if TYPE_CHECKING:  # pragma: no cover
    from conformance.client.target import Target

__all__ = [
    "FIXED",
    "FORMAT",
    "NEW",
    "NEW_CASE",
    "NOT_IN_BASELINE",
    "STILL_FAILING",
    "STILL_WARNING",
    "Baseline",
    "BaselineError",
    "baseline_document",
    "client_identity",
    "identity_difference",
    "load_baseline",
    "selection_difference",
    "target_identity",
    "write_baseline",
]

NEW, STILL_FAILING, STILL_WARNING, FIXED = "new", "still failing", "still warning", "fixed"
NEW_CASE, NOT_IN_BASELINE = "new case", "not in baseline"
FORMAT = "dpop-conformance baseline"
FORMAT_VERSION = 1
#: the outcomes a baseline can know as accepted: a failure, and (for --fail-on should) a warning
_BAD = ("failed", "warning")
#: the selection's keys, in the order a message names them
SELECTION_KEYS = (
    "cases",
    "exclude",
    "sections",
    "actors",
    "levels",
    "markers",
    "keywords",
    "profiles",
    "scenarios",  # a client run's (dpop-conformance client --scenario)
)


class BaselineError(ValueError):
    """The baseline cannot be used; the message is one line naming the file and the fix."""


@dataclass(frozen=True)
class Baseline:
    """The outcomes of the accepted run, by case id, and what that run was of."""

    file: str
    outcomes: dict[str, str] = field(default_factory=dict)
    suite_version: str | None = None
    target: dict[str, Any] | None = None  # the identity: name, and endpoints or embedded
    selection: dict[str, Any] | None = None  # None: a results.json baseline, which did not record it
    options: dict[str, Any] = field(default_factory=dict)
    legacy: bool = False  # read from a results.json (the format before 0.2.0)
    started_at: str | None = None  # a legacy baseline's date (a baseline file has none, by design)
    missing: bool = False  # no file yet, and --baseline-missing ok: every failure is new

    def mark(self, case_id: str, outcome: str) -> str:
        """The case's mark against the baseline (module docstring), or "" (nothing to say)."""
        before = self.outcomes.get(case_id)
        if outcome in _BAD:
            if self.missing:
                return NEW
            if before is None:
                return NEW_CASE if self.is_new_case(case_id) else NOT_IN_BASELINE
            if before == "failed":
                return STILL_FAILING if outcome == "failed" else STILL_WARNING
            if before == "warning":
                return STILL_WARNING if outcome == "warning" else NEW
            return NEW
        return FIXED if before in _BAD and outcome in ("passed", "info") else ""

    def is_new_case(self, case_id: str) -> bool:
        """Whether the baseline's suite version did not have the case: only then is its absence no hole."""
        if self.suite_version is None or (self.target or {}).get("client") is not None:
            # a client's checks are judged against the client's own baseline: the released case lists are the
            # server's, so a client check they lack is no new case (it gates as not in baseline)
            return False
        known = cases_in(self.suite_version)
        return known is not None and case_id not in known

    def other_version(self, version: str) -> bool:
        """Whether the baseline was made by another suite version than `version`."""
        return not self.missing and self.suite_version is not None and self.suite_version != version

    def unknown_version(self) -> bool:
        """A suite version this one has no case list of (a later one): every case it lacks then gates."""
        return not self.missing and (self.suite_version is None or cases_in(self.suite_version) is None)

    def describe(self) -> dict[str, Any]:
        """What results.json says of the baseline itself (beside its counts)."""
        return {
            "file": self.file,
            "format": "results.json" if self.legacy else "baseline",
            **({"missing": True} if self.missing else {}),
            **({"suite_version": self.suite_version} if self.suite_version else {}),
            **({"started_at": self.started_at} if self.started_at else {}),
            **({"selection": self.selection} if self.selection is not None else {}),
            **({"target": self.target} if self.target else {}),
        }


def load_baseline(path: str | Path, *, missing_ok: bool = False) -> Baseline:
    """Read the baseline file at `path` (or, for one more version, an earlier run's results.json).

    A missing file is an error unless `missing_ok` (the first run of a new gate): then every failure is new.
    """
    shown = str(path)
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        if missing_ok:
            return Baseline(file=shown, missing=True)
        raise BaselineError(
            f"--baseline {shown}: no such file; record one with --write-baseline {shown}, or for a gate's first "
            "run add --baseline-missing ok (every failure counts as new)"
        ) from None
    except IsADirectoryError:
        raise BaselineError(
            f"--baseline {shown}: a folder; give the baseline file written by --write-baseline"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BaselineError(f"--baseline {shown}: cannot read it ({getattr(exc, 'strerror', None) or exc})") from None
    except ValueError as exc:
        raise BaselineError(f"--baseline {shown}: not JSON ({exc}); give a file written by --write-baseline") from None
    except RecursionError:
        raise BaselineError(f"--baseline {shown}: JSON nested too deeply to be a baseline") from None
    if isinstance(data, dict) and data.get("format") == FORMAT:
        return _from_baseline(shown, data)
    if isinstance(data, dict) and isinstance(data.get("cases"), list):
        return _from_results(shown, data)
    raise BaselineError(
        f'--baseline {shown}: not a baseline file (no "format": "{FORMAT}"); write one with --write-baseline'
    )


def _strings(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def _from_baseline(shown: str, data: dict[str, Any]) -> Baseline:
    version = data.get("format_version")
    if version != FORMAT_VERSION:
        raise BaselineError(
            f"--baseline {shown}: baseline format {version!r}, this suite reads {FORMAT_VERSION}; record it again "
            "with --write-baseline"
        )
    cases = data.get("cases")
    if not isinstance(cases, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in cases.items()):
        raise BaselineError(f'--baseline {shown}: its "cases" is not an object of case id to outcome')
    suite = data.get("suite_version")
    target = data.get("target")
    selection = data.get("selection")
    options = data.get("options")
    return Baseline(
        file=shown,
        outcomes=dict(cases),
        suite_version=suite if isinstance(suite, str) else None,
        target=target if isinstance(target, dict) else None,
        selection=selection if isinstance(selection, dict) else {},
        options=options if isinstance(options, dict) else {},
    )


def _from_results(shown: str, data: dict[str, Any]) -> Baseline:
    cases = data["cases"]
    if not all(
        isinstance(c, dict) and isinstance(c.get("id"), str) and isinstance(c.get("outcome"), str) for c in cases
    ):
        raise BaselineError(f"--baseline {shown}: not a results.json (no list of cases with id and outcome)")
    suite = data.get("suite")
    version = suite.get("version") if isinstance(suite, dict) else None
    started = data.get("started_at")
    target = data.get("target")
    return Baseline(
        file=shown,
        outcomes={c["id"]: c["outcome"] for c in cases},
        suite_version=str(version) if isinstance(version, str | int | float) else None,
        target=_legacy_identity(target) if isinstance(target, dict) else None,
        selection=None,
        legacy=True,
        started_at=started if isinstance(started, str) else None,
    )


def _legacy_identity(target: dict[str, Any]) -> dict[str, Any]:
    """A results.json's target as an identity: its name (its endpoints were those of the moment: not compared)."""
    return {"name": str(target.get("name", "")), "legacy": True}


def client_identity(name: str, command: str, capabilities: list[str]) -> dict[str, Any]:
    """A client's identity for a baseline: its name, command and declared capabilities (the judging servers'
    ports change every run, so they are no part of it)."""
    return {"name": name, "client": {"command": command, "capabilities": sorted(capabilities)}}


def target_identity(target: Target, *, embedded: bool = False) -> dict[str, Any]:
    """The identity a baseline records: the target's name, and the URLs its file names (or, for the embedded
    reference server, `embedded`: its port changes every run)."""
    if embedded:
        return {"name": target.name, "embedded": True}
    return {"name": target.name, "endpoints": dict(sorted(target.urls()))}


def identity_difference(baseline: Mapping[str, Any] | None, run: Mapping[str, Any]) -> str | None:
    """How the baseline's target differs from the run's, in a phrase, or None when it is the same target.

    Identity is the target's name and the endpoints its file names; the embedded reference server is one
    target whatever its port. A baseline that records no identity (hand-made) is not refused here.
    """
    if not baseline:
        return None
    if baseline.get("name") != run.get("name"):
        return f"it was recorded for target {baseline.get('name')!r}, and this run is of {run.get('name')!r}"
    if baseline.get("legacy"):
        return None
    if (baseline.get("client") is None) != (run.get("client") is None):
        which = "a client" if baseline.get("client") is not None else "a server"
        return f"it was recorded for {which}, and this run is not of one"
    if baseline.get("client") is not None:
        before_client, now_client = baseline.get("client") or {}, run.get("client") or {}
        for key in ("command", "capabilities"):
            if before_client.get(key) != now_client.get(key):
                return f"its client {key} is {before_client.get(key)!r}, and this run's is {now_client.get(key)!r}"
        return None
    if bool(baseline.get("embedded")) != bool(run.get("embedded")):
        which = "the embedded reference server" if baseline.get("embedded") else "a target file"
        return f"it was recorded against {which}, and this run is not"
    before, now = baseline.get("endpoints") or {}, run.get("endpoints") or {}
    for key in sorted(set(before) | set(now)):
        if before.get(key) != now.get(key):
            return f"its {key} is {before.get(key) or 'not set'}, and this run's is {now.get(key) or 'not set'}"
    return None


def selection_difference(baseline: Baseline, run: Mapping[str, Any]) -> str | None:
    """How the baseline's selection differs from the run's, in a phrase ("--actor AS; -m not fuzz"), or None."""
    if baseline.selection is None or baseline.missing:
        return None
    parts = []
    for key in SELECTION_KEYS:
        before, now = baseline.selection.get(key), run.get(key)
        if (before or None) != (now or None):
            parts.append(f"{key} {_shown(before)} (this run: {_shown(now)})")
    return "; ".join(parts) or None


def _shown(value: object) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "all"
    return str(value) if value else "none"


def baseline_document(results: Mapping[str, Any]) -> dict[str, Any]:
    """The baseline file of a run, from its results.json: the identity, selection, options and outcomes only."""
    suite = results.get("suite") if isinstance(results.get("suite"), Mapping) else {}
    assert isinstance(suite, Mapping)
    target = results.get("target") if isinstance(results.get("target"), Mapping) else {}
    assert isinstance(target, Mapping)
    identity = target.get("identity")
    if not isinstance(identity, Mapping):
        identity = {"name": target.get("name")}
    fuzz = results.get("fuzz") if isinstance(results.get("fuzz"), Mapping) else {}
    assert isinstance(fuzz, Mapping)
    options: dict[str, Any] = {
        "fuzz": {
            "examples_per_case": fuzz.get("examples_per_case"),
            "seed": fuzz.get("seed"),  # None: derandomised, the same examples every run
        }
    }
    reference = target.get("reference")
    if isinstance(reference, Mapping):
        options["reference"] = dict(reference)
    cases = {str(c.get("id")): str(c.get("outcome")) for c in results.get("cases") or [] if isinstance(c, Mapping)}
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "suite_version": str(suite.get("version", "")),
        "target": dict(identity),
        "selection": dict(results.get("selection") or {}),
        "options": options,
        "cases": dict(sorted(cases.items())),
    }


def write_baseline(results: Mapping[str, Any], destination: Path) -> int:
    """Write the run's baseline file atomically (a reader never sees half a file); the number of cases in it."""
    document = baseline_document(results)
    text = json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    destination.parent.mkdir(parents=True, exist_ok=True)
    handle, scratch = tempfile.mkstemp(prefix=".baseline-", dir=destination.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(scratch, destination)
    except BaseException:
        Path(scratch).unlink(missing_ok=True)
        raise
    return len(document["cases"])
