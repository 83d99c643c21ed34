"""Case declarations: every conformance case states its id, title, section, level and actor here.

    @case("rs-key-swap", "Resource refuses a perfect proof signed by a key the token is not bound to",
          section="4.3", level=Level.MUST, actor="RS", requirement="R-4.3-12b")
    def test_rejects_proof_signed_by_other_key(dpop, note): ...

The decorator is the one place a case's requirement is declared; results.json, the HTML report and
the kill matrix read it from there.
"""

from __future__ import annotations

import importlib.util
import inspect
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

from conformance.judge.endpoints import actors
from conformance.judge.faults import fault
from conformance.judge.verdicts import Level

__all__ = [
    "CASES",
    "PROFILES",
    "CaseInfo",
    "case",
    "case_info",
    "case_param",
    "load_cases",
    "render_document",
    "render_markdown",
]

F = TypeVar("F", bound=Callable[..., Any])

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
    fault: str = ""  # for a case that sends a proof with a fault: its id in conformance/judge/faults.py
    # cases that read or change state the server keeps between requests (its nonces, its replay cache, a
    # measured window, a refresh chain) name a lane: a lane's cases run one after another, in their order,
    # never two at once (conformance/run/scheduler.py); "" runs beside any other case
    lane: str = ""

    @property
    def rfc_url(self) -> str:
        """Link to the RFC 9449 section the case comes from."""
        return f"{RFC_BASE}#section-{self.section}"


CASES: dict[str, CaseInfo] = {}


def _register(info: CaseInfo) -> CaseInfo:
    if info.profile not in PROFILES:
        raise ValueError(f"case {info.id}: profile must be one of {PROFILES}, not {info.profile!r}")
    if info.actor not in actors():
        raise ValueError(f"case {info.id}: actor must be one of {actors()}, not {info.actor!r}")
    known = CASES.get(info.id)
    if known is not None and known != info:
        raise ValueError(f"case id {info.id!r} is declared twice")
    CASES[info.id] = info
    return info


def _level_and_requirement(
    case_id: str, level: Level | None, requirement: str | None, fault_id: str
) -> tuple[Level, str]:
    """A case's level, decided in one place: its fault's, for a case that sends a fault (conformance/judge/faults.py),
    else the one it declares; its requirement: the one it declares, else its fault's."""
    if fault_id:
        if level is not None:
            raise ValueError(f"case {case_id}: its fault {fault_id} gives its level; declare none")
        found = fault(fault_id)
        return found.level, requirement or found.requirement
    if level is None or not requirement:
        raise ValueError(f"case {case_id}: a case without a fault declares its level and its requirement")
    return Level(level), requirement


def case(
    case_id: str,
    title: str,
    *,
    section: str,
    actor: str,
    level: Level | None = None,
    requirement: str | None = None,
    profile: str = "rfc9449",
    fault: str = "",
    lane: str = "",
) -> Callable[[F], F]:
    """Declare a conformance case; adds the `dpop_case` marker carrying its CaseInfo.

    A case that sends a proof with a fault names it (`fault`) and takes its level from it, and its requirement
    unless it names another; any other case declares both.
    """
    decided, required = _level_and_requirement(case_id, level, requirement, fault)

    def decorate(fn: F) -> F:
        doc = inspect.getdoc(fn) or ""
        info = _register(CaseInfo(case_id, title, section, decided, actor, required, doc, profile, fault, lane))
        marked: F = pytest.mark.dpop_case(info)(fn)
        return marked

    return decorate


def case_param(
    case_id: str,
    title: str,
    *values: Any,
    section: str,
    actor: str,
    doc: str,
    level: Level | None = None,
    requirement: str | None = None,
    profile: str = "rfc9449",
    fault: str = "",
    lane: str = "",
) -> Any:
    """Declare one case of a table-driven family: a `pytest.param` carrying its own CaseInfo.

    `doc` is the case's "Sends / Expects" text; the param's id is the case id. A case that sends a proof
    with a fault names it (`fault`), and takes its level from it, and its requirement unless it names another
    (conformance/judge/faults.py); any other case declares both.
    """
    decided, required = _level_and_requirement(case_id, level, requirement, fault)
    info = _register(CaseInfo(case_id, title, section, decided, actor, required, doc, profile, fault, lane))
    return pytest.param(*values, id=case_id, marks=pytest.mark.dpop_case(info))


def case_info(item: pytest.Item) -> CaseInfo | None:
    """The CaseInfo a pytest item was declared with (its `dpop_case` marker), or None for another test."""
    marker = item.get_closest_marker("dpop_case")
    return marker.args[0] if marker else None


def load_cases(directory: Path) -> dict[str, CaseInfo]:
    """Import every case module of `directory` (each declaration registers itself) and return the catalog."""
    for path in sorted(directory.glob("test_*.py")):
        name = f"_dpop_cases_{path.stem}"
        if name in sys.modules:
            continue
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses defined in a case module look their module up
        spec.loader.exec_module(module)
    return dict(CASES)


def render_markdown(cases: dict[str, CaseInfo]) -> str:
    """The catalog as a Markdown document: one table per profile, ordered by section then id."""
    lines = [
        "# The cases",
        "",
        "Generated by `dpop-conformance list --format markdown`. Each case checks one requirement of RFC 9449",
        "(the id in the requirement catalog is in the last column); its level decides the verdict when it is",
        "violated: MUST → failed, SHOULD → warning, MAY → info.",
    ]
    titles = {
        "rfc9449": "RFC 9449 (always run)",
        "fapi2": "Profile fapi2 (--profile fapi2)",
        "browser": "Profile browser (--profile browser)",
    }
    for profile in PROFILES:
        rows = [c for c in cases.values() if c.profile == profile]
        if not rows:
            continue
        rows.sort(key=lambda c: ([int(p) if p.isdigit() else 0 for p in c.section.split(".")], c.id))
        lines += [
            "",
            f"## {titles[profile]}: {len(rows)} cases",
            "",
            "| id | title | section | level | actor | requirement |",
            "|---|---|---|---|---|---|",
        ]
        lines += [
            f"| `{c.id}` | {c.title} | [{c.section}]({c.rfc_url}) | {c.level.value} | {c.actor} | {c.requirement} |"
            for c in rows
        ]
    return "\n".join(lines) + "\n"


def render_document(cases: dict[str, CaseInfo]) -> str:
    """docs/cases.md: the catalog, the levels and what decides them, the requirements' words, then the fault table
    with the cases that send each fault."""
    from conformance.judge.faults import render_fault_table
    from conformance.judge.levels import render_levels

    by_fault: dict[str, dict[str, list[str]]] = {}  # fault -> case id without its actor -> actors
    for c in sorted(cases.values(), key=lambda c: c.id):
        if c.fault:
            actor, _, rest = c.id.partition("-")
            by_fault.setdefault(c.fault, {}).setdefault(rest, []).append(actor)
    fixed = {f: [f"{'/'.join(actors)}-{rest}" for rest, actors in ids.items()] for f, ids in by_fault.items()}
    return "\n".join(
        (
            render_markdown(cases),
            render_levels(),
            render_requirements(cases),
            render_fault_table(fixed),
            render_client_checks(),
        )
    )


def render_client_checks() -> str:
    """The client checks (issue 30): each check, its level, and the RFC sentence whose keyword gives it."""
    from conformance.judge.client_checks import CHECKS
    from conformance.judge.requirements import REQUIREMENTS
    from conformance.judge.verdicts import outcome_for_level

    lines = [
        "## Client checks (`dpop-conformance client`)",
        "",
        "The checks on a DPoP client, judged on every request it sends to the suite's own authorization server and",
        "resource server (conformance/judge/client_checks.py). The level comes from the quoted sentence's keyword,",
        "as for the cases: MUST (or the protocol's own definitions) → failed, SHOULD → warning, MAY or no keyword →",
        "info. An observation records what the client chose where the RFC leaves it the choice: info at most.",
        "",
        "| check | what it checks | level | requirement |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| `{c.id}` | {c.title} | {c.level.value} → {outcome_for_level(c.level).value} | {c.requirement} "
        f"({REQUIREMENTS[c.requirement].source}) |"
        for c in CHECKS.values()
    ]
    for c in CHECKS.values():
        req = REQUIREMENTS[c.requirement]
        keyword = {"none": "no BCP 14 keyword", "defined": "defined by the protocol, no BCP 14 keyword"}.get(
            req.keyword, req.keyword
        )
        kind = ", an observation" if c.observation else ""
        lines += ["", f"### `{c.id}`: {c.level.value}{kind}", "", f"{req.id}, {req.source} ({keyword}):", ""]
        lines += [f"> {req.quote}"]
    return "\n".join(lines) + "\n"


def render_requirements(cases: dict[str, CaseInfo]) -> str:
    """The requirements the cases check, each with the sentence that says it and the cases that check it."""
    from conformance.judge.requirements import REQUIREMENTS

    by_requirement: dict[str, list[CaseInfo]] = {}
    for c in sorted(cases.values(), key=lambda c: c.id):
        by_requirement.setdefault(c.requirement, []).append(c)
    lines = [
        "## Requirements and the words that make them",
        "",
        "Each requirement the cases check, with the sentence of the RFC (or profile) that states it. The level of",
        "a case comes from that sentence's BCP 14 keyword (RFC 2119, RFC 8174: only upper-case words count): a",
        'sentence without one gives at most info, unless it defines the protocol\'s own messages ("defined"):',
        "a server that departs from those breaks the exchange, and the positive-path case says so at MUST.",
    ]
    for req_id in sorted(by_requirement, key=_requirement_order):
        req = REQUIREMENTS[req_id]
        ids = ", ".join(f"`{c.id}` ({c.level.value})" for c in by_requirement[req_id])
        keyword = {
            "none": "no BCP 14 keyword",
            "defined": "defined by the protocol, no BCP 14 keyword",
            "shall": "shall: a requirement",
        }.get(req.keyword, req.keyword)
        lines += ["", f"### {req_id}: {req.source} ({keyword})", "", f"> {req.quote}", "", f"Cases: {ids}"]
    return "\n".join(lines) + "\n"


def _requirement_order(req_id: str) -> tuple[int, list[int], str]:
    """R- ids in section order, then the other sources' ids by name."""
    if not req_id.startswith("R-"):
        return (1, [], req_id)
    numbers = [int(part) for part in re.findall(r"\d+", req_id)]
    return (0, numbers, req_id)
