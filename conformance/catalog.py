"""Case declarations: every conformance case states its id, title, section, level and actor here.

    @case("rs-ath-mismatch", "Resource refuses a proof whose ath is another token's", section="4.3",
          level=Level.MUST, actor="RS", requirement="R-4.3-12a")
    def test_rejects_proof_with_ath_of_another_token(dpop): ...

The decorator is the one place a case's requirement is declared; results.json, the HTML report and
the kill matrix read it from there.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest

from conformance.verdicts import Level

__all__ = ["CASES", "CaseInfo", "case"]

F = TypeVar("F", bound=Callable[..., Any])

ACTORS = ("AS", "RS")
RFC_BASE = "https://www.rfc-editor.org/rfc/rfc9449"


@dataclass(frozen=True)
class CaseInfo:
    """What a case checks and where the RFC says so."""

    id: str
    title: str
    section: str
    level: Level
    actor: str
    requirement: str
    doc: str = ""

    @property
    def rfc_url(self) -> str:
        """Link to the RFC 9449 section the case comes from."""
        return f"{RFC_BASE}#section-{self.section}"


CASES: dict[str, CaseInfo] = {}


def case(case_id: str, title: str, *, section: str, level: Level, actor: str, requirement: str) -> Callable[[F], F]:
    """Declare a conformance case; adds the `dpop_case` marker carrying its CaseInfo."""
    if actor not in ACTORS:
        raise ValueError(f"case {case_id}: actor must be one of {ACTORS}, not {actor!r}")

    def decorate(fn: F) -> F:
        info = CaseInfo(case_id, title, section, Level(level), actor, requirement, inspect.getdoc(fn) or "")
        known = CASES.get(case_id)
        if known is not None and known != info:
            raise ValueError(f"case id {case_id!r} is declared twice")
        CASES[case_id] = info
        marked: F = pytest.mark.dpop_case(info)(fn)
        return marked

    return decorate
