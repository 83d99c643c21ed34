"""A run judged against an earlier one (`--baseline`): which failures are new, known, fixed, or of new cases.

A baseline is the results.json of a run the user accepted. Against it, each failing case is

- "new": the baseline had the case and it did not fail there (or there is no baseline file yet and the
  user said `--baseline-missing ok`: then every failure is new). A new failure makes the gate red.
- "still failing": it failed in the baseline too. Reported, not gating.
- "new case": the baseline has no such case, because the suite (or the selection) that made it had none.
  A suite upgrade that adds cases must not turn a gate red by itself; the run says so and the user
  refreshes the baseline deliberately (`--write-baseline`).

and a case that failed in the baseline but no longer fails is "fixed".
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "FIXED",
    "NEW",
    "NEW_CASE",
    "STILL_FAILING",
    "Baseline",
    "BaselineError",
    "load_baseline",
    "write_baseline",
]

NEW, STILL_FAILING, FIXED, NEW_CASE = "new", "still failing", "fixed", "new case"


class BaselineError(ValueError):
    """The baseline cannot be used; the message is one line naming the file and the fix."""


@dataclass(frozen=True)
class Baseline:
    """The outcomes of the accepted run, by case id."""

    file: str
    outcomes: dict[str, str] = field(default_factory=dict)
    started_at: str | None = None
    suite_version: str | None = None
    missing: bool = False  # no file yet, and --baseline-missing ok: every failure is new

    def mark(self, case_id: str, outcome: str) -> str:
        """new / still failing / new case / fixed, or "" (a pass, or a case that did not fail either time)."""
        before = self.outcomes.get(case_id)
        if outcome == "failed":
            if self.missing:
                return NEW
            if before is None:
                return NEW_CASE
            return STILL_FAILING if before == "failed" else NEW
        return FIXED if before == "failed" else ""

    def other_version(self, version: str) -> bool:
        """Whether the baseline was made by another suite version than `version`."""
        return not self.missing and self.suite_version is not None and self.suite_version != version

    def describe(self) -> dict[str, Any]:
        """What results.json says of the baseline itself (beside its counts)."""
        return {
            "file": self.file,
            **({"missing": True} if self.missing else {}),
            **({"suite_version": self.suite_version} if self.suite_version else {}),
            **({"started_at": self.started_at} if self.started_at else {}),
        }


def load_baseline(path: str | Path, *, missing_ok: bool = False) -> Baseline:
    """Read the results.json at `path` as a baseline.

    A missing file is an error unless `missing_ok` (the first run of a new gate): then every failure is new.
    """
    shown = str(path)
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        if missing_ok:
            return Baseline(file=shown, missing=True)
        raise BaselineError(
            f"--baseline {shown}: no such file; give the results.json of an earlier run, or for a gate's first "
            "run add --baseline-missing ok (every failure counts as new) and --write-baseline to record one"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BaselineError(f"--baseline {shown}: cannot read it ({getattr(exc, 'strerror', None) or exc})") from None
    except ValueError as exc:
        raise BaselineError(f"--baseline {shown}: not JSON ({exc}); give the results.json of an earlier run") from None
    except RecursionError:
        raise BaselineError(f"--baseline {shown}: JSON nested too deeply to be a results.json") from None
    cases = data.get("cases") if isinstance(data, dict) else None
    if not isinstance(cases, list) or not all(
        isinstance(c, dict) and isinstance(c.get("id"), str) and isinstance(c.get("outcome"), str) for c in cases
    ):
        raise BaselineError(f"--baseline {shown}: not a results.json (no list of cases with id and outcome)")
    assert isinstance(data, dict)  # for the type checker: cases came out of a dict
    suite = data.get("suite")
    version = suite.get("version") if isinstance(suite, dict) else None
    started = data.get("started_at")
    return Baseline(
        file=shown,
        outcomes={c["id"]: c["outcome"] for c in cases},
        started_at=started if isinstance(started, str) else None,
        suite_version=str(version) if isinstance(version, str | int | float) else None,
    )


def write_baseline(results_file: Path, destination: Path) -> None:
    """Record a run's results.json as the next baseline, atomically (a reader never sees half a file)."""
    text = results_file.read_text(encoding="utf-8")
    destination.parent.mkdir(parents=True, exist_ok=True)
    handle, scratch = tempfile.mkstemp(prefix=".baseline-", dir=destination.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(scratch, destination)
    except BaseException:
        Path(scratch).unlink(missing_ok=True)
        raise
