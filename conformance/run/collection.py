"""Which collected cases run: the profiles asked for, and the selectors (--dpop-case, --dpop-section, ...)."""

from __future__ import annotations

from typing import Any

import pytest

from conformance.judge.catalog import case_info
from conformance.run.selection import Selection, SelectionError

__all__ = ["pytest_collection_modifyitems", "selection_of", "selection_record"]


def selection_of(config: pytest.Config) -> Selection:
    """The case selectors given (--dpop-case and the rest)."""
    return Selection.of(
        config.getoption("dpop_case"),
        config.getoption("dpop_exclude"),
        config.getoption("dpop_section"),
        config.getoption("dpop_actor"),
        config.getoption("dpop_level"),
    )


def _profiles(config: pytest.Config) -> set[str]:
    """The profiles whose cases run: rfc9449 always, and those asked for."""
    return {"rfc9449", *config.getoption("dpop_profile")}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect the cases of profiles that were not asked for (rfc9449 cases always run), and the cases the
    selectors (--dpop-case, --dpop-section, ...) leave out."""
    wanted = _profiles(config)
    selection = selection_of(config)
    if selection:
        try:
            selection.check(info for item in items if (info := case_info(item)) is not None)
        except SelectionError as exc:
            raise pytest.UsageError(str(exc)) from None
    keep: list[pytest.Item] = []
    drop: list[pytest.Item] = []
    for item in items:
        info = case_info(item)
        left_out = info is not None and (info.profile not in wanted or not selection.selects(info))
        (drop if left_out else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def selection_record(config: pytest.Config) -> dict[str, Any]:
    """What chose the cases, as a baseline records it: the selectors, pytest's -m and -k, and the profiles."""
    selection = selection_of(config)
    return {
        "cases": list(selection.cases),
        "exclude": list(selection.exclude),
        "sections": list(selection.sections),
        "actors": list(selection.actors),
        "levels": list(selection.levels),
        "markers": str(config.getoption("markexpr", "") or ""),
        "keywords": str(config.getoption("keyword", "") or ""),
        "profiles": sorted(_profiles(config)),
    }
