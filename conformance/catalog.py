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

__all__ = ["CASES", "PROFILES", "CaseInfo", "case", "case_param"]

F = TypeVar("F", bound=Callable[..., Any])

ACTORS = ("AS", "RS")
#: rfc9449: RFC 9449 itself (always run); fapi2: the FAPI 2.0 Security Profile's DPoP rules; browser: CORS
#: readiness for browser clients
PROFILES = ("rfc9449", "fapi2", "browser")
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
    profile: str = "rfc9449"  # the profile whose selection runs the case (rfc9449 cases always run)

    @property
    def rfc_url(self) -> str:
        """Link to the RFC 9449 section the case comes from."""
        return f"{RFC_BASE}#section-{self.section}"


CASES: dict[str, CaseInfo] = {}


def _register(info: CaseInfo) -> CaseInfo:
    if info.profile not in PROFILES:
        raise ValueError(f"case {info.id}: profile must be one of {PROFILES}, not {info.profile!r}")
    if info.actor not in ACTORS:
        raise ValueError(f"case {info.id}: actor must be one of {ACTORS}, not {info.actor!r}")
    known = CASES.get(info.id)
    if known is not None and known != info:
        raise ValueError(f"case id {info.id!r} is declared twice")
    CASES[info.id] = info
    return info


def case(
    case_id: str,
    title: str,
    *,
    section: str,
    level: Level,
    actor: str,
    requirement: str,
    profile: str = "rfc9449",
) -> Callable[[F], F]:
    """Declare a conformance case; adds the `dpop_case` marker carrying its CaseInfo."""

    def decorate(fn: F) -> F:
        doc = inspect.getdoc(fn) or ""
        info = _register(CaseInfo(case_id, title, section, Level(level), actor, requirement, doc, profile))
        marked: F = pytest.mark.dpop_case(info)(fn)
        return marked

    return decorate


def case_param(
    case_id: str,
    title: str,
    *values: Any,
    section: str,
    level: Level,
    actor: str,
    requirement: str,
    doc: str,
    profile: str = "rfc9449",
) -> Any:
    """Declare one case of a table-driven family: a `pytest.param` carrying its own CaseInfo.

    `doc` is the case's "Sends / Expects" text; the param's id is the case id.
    """
    info = _register(CaseInfo(case_id, title, section, Level(level), actor, requirement, doc, profile))
    return pytest.param(*values, id=case_id, marks=pytest.mark.dpop_case(info))
