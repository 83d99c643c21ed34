"""How a case's body is called: its recorded pass when it ran ahead, beside others (run/scheduler.py), or pytest's
own call; and the judge's NotApplicable as pytest's skip."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

from conformance.judge.catalog import CaseInfo
from conformance.judge.session import DPoPSession
from conformance.judge.verdicts import NotApplicable, Outcome, verdict_of
from conformance.run.scheduler import as_skip
from conformance.run.stash import AHEAD_KEY, MEASURE_KEY, NOTE_KEY, SCHEDULER_KEY

__all__ = ["pytest_pyfunc_call", "pytest_pyfunc_call_not_applicable", "schedule_mark"]


@pytest.hookimpl(wrapper=True, specname="pytest_pyfunc_call")
def pytest_pyfunc_call_not_applicable(pyfuncitem: pytest.Function) -> Generator[None, Any, Any]:
    """A case that raised the judge's NotApplicable is skipped, with its reason (the judge knows no pytest)."""
    try:
        return (yield)
    except NotApplicable as exc:
        raise as_skip(exc) from None


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """A case that ran ahead, beside others (conformance/run/scheduler.py), and passed: its recorded pass.

    The first case of a stretch runs the stretch; a case whose concurrent outcome was not a pass runs
    now, alone, as pytest would run it.
    """
    scheduler = pyfuncitem.config.stash.get(SCHEDULER_KEY, None)
    session = pyfuncitem.funcargs.get("dpop")
    if scheduler is None or not isinstance(session, DPoPSession):
        return None

    ahead = scheduler.result_for(pyfuncitem, session)
    if ahead is None:
        return None
    pyfuncitem.stash[NOTE_KEY].extend(ahead.notes)
    pyfuncitem.stash.setdefault(MEASURE_KEY, {}).update(ahead.measurements)
    session.client.transport.absorb(ahead.lane)
    pyfuncitem.stash[AHEAD_KEY] = ahead
    if ahead.exception is not None:
        raise ahead.exception  # a skip (Ahead.taken)
    return True


def schedule_mark(item: pytest.Item, info: CaseInfo) -> str:
    """How the case ran: "ahead" (beside others, passed), "again:<outcome>" (run again alone after that
    outcome beside others), "confirm:passed" (run again alone to confirm a pass that rested on a refusal
    naming no DPoP error), or "" (alone)."""
    if AHEAD_KEY in item.stash:
        return "ahead"
    scheduler = item.config.stash.get(SCHEDULER_KEY, None)
    first = scheduler.first_try(item.nodeid) if scheduler else None
    if first is None:
        return ""
    if first.exception is None:  # a pass resting on a refusal that names no DPoP error: confirmed alone
        return f"confirm:{Outcome.PASSED.value}"
    if isinstance(first.exception, pytest.skip.Exception):
        return f"again:{Outcome.SKIPPED.value}"
    return f"again:{verdict_of(first.exception, info.level)[0].value}"
