"""Where the conformance cases are: the folder the CLI runs pytest on, and the catalog is loaded from."""

from __future__ import annotations

from pathlib import Path

__all__ = ["locate_cases"]


def locate_cases() -> Path:
    """The folder of conformance cases: shipped inside the package, or `cases/` of a source checkout."""
    here = Path(__file__).resolve().parent.parent  # the package: conformance/run/ is one level down
    for candidate in (here / "cases", here.parent / "cases"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("the conformance cases are missing from this installation; reinstall dpop-conformance")
