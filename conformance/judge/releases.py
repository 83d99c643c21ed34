"""The case ids (and levels) each released version of the suite had (conformance/judge/released/<version>.txt).

A baseline records the suite version that made it. A case it lacks is then one of two things: a case that
version did not have (a "new case": a suite upgrade must not turn a gate red by itself), or a case that version
had but the baseline's selection left out (`--actor AS`, `-m "not fuzz"`): judged as if there were no baseline,
so a narrower baseline can never hide a failure. These lists tell the two apart. The list of the version being
developed is the catalog itself; tests/test_releases.py keeps it and the CHANGELOG in step with the cases.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

__all__ = ["RELEASED", "cases_in", "known_versions", "levels_in"]

RELEASED = Path(__file__).resolve().parent / "released"


def known_versions() -> list[str]:
    """The versions with a list, oldest first."""
    names = [p.stem for p in RELEASED.glob("*.txt")]
    return sorted(names, key=lambda v: tuple(int(n) if n.isdigit() else 0 for n in v.split(".")))


@cache
def levels_in(version: str) -> dict[str, str] | None:
    """Each case id of `version` with its level (MUST, SHOULD, MAY), or None when the suite does not know that
    version (a later one, or one never released). One line per case: "<id> <level>"."""
    if not version or any(c in version for c in "/\\") or version.startswith("."):
        return None
    path = RELEASED / f"{version}.txt"
    if not path.is_file():
        return None
    found: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            case_id, _, level = line.strip().partition(" ")
            found[case_id] = level.strip()
    return found


def cases_in(version: str) -> frozenset[str] | None:
    """The case ids of `version`, or None when the suite does not know that version."""
    levels = levels_in(version)
    return None if levels is None else frozenset(levels)
