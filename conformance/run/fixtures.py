"""The fixtures the cases use: `dpop` (the run's DPoPSession), `note` and `measure`, and each case's own log."""

from __future__ import annotations

import contextlib
import time
import tomllib
from collections.abc import Iterator
from typing import Any

import pytest

from conformance.client.evidence import Redactor
from conformance.client.target import parse_target
from conformance.judge.preflight import SetupFailure, preflight
from conformance.judge.session import DPoPSession
from conformance.run.stash import (
    MEASURE_KEY,
    NOTE_KEY,
    PREFLIGHT_KEY,
    REDACTOR_KEY,
    SCHEDULER_KEY,
    SESSION_KEY,
    TARGET_KEY,
)

__all__ = ["dpop", "dpop_case_log", "measure", "note"]


@pytest.fixture(scope="session")
def dpop(request: pytest.FixtureRequest) -> Iterator[DPoPSession]:
    """The run's DPoPSession (target, client, key, endpoints, bound token).

    A plugin may parametrize it (indirectly, at session scope) with reference-server settings, or with a
    callable that returns a context manager yielding a Target: each case then runs once per parameter, in
    one pytest session. The project's kill matrix runs dozens of defect switches that way, without a
    process for each.
    """
    config = request.config
    param = getattr(request, "param", None)
    failed = config.stash.get(PREFLIGHT_KEY, None)
    if failed is not None and param is None:
        raise failed.could_not_judge()  # pytest sets a failed session fixture up again for each case
    with contextlib.ExitStack() as stack:
        target = config.stash.get(TARGET_KEY, None) if param is None else None
        if callable(param):
            target = stack.enter_context(param())
        if target is None:
            from conformance.reference import RunningServer, ServerSettings  # only needed without a target file

            settings = param or ServerSettings(
                nonce=config.getoption("dpop_reference_nonce"),
                defects=frozenset(config.getoption("dpop_reference_defect")),
                leniencies=frozenset(config.getoption("dpop_reference_leniency")),
            )
            assert isinstance(settings, ServerSettings), "parametrize dpop with ServerSettings or a target factory"
            server = stack.enter_context(RunningServer(settings))
            target = parse_target(tomllib.loads(server.target_toml()), source="embedded reference server")
        if param is not None:  # each parameter's secrets are its own (a redactor's cost grows with them)
            config.stash[REDACTOR_KEY] = Redactor()
        session = DPoPSession(target, redactor=config.stash[REDACTOR_KEY])
        stack.callback(session.close)
        # first (callbacks run last to first): no case may still be running when the connections close
        stack.callback(config.stash[SCHEDULER_KEY].finish, stop=True)
        deadline = config.getoption("dpop_deadline")
        session.client.transport.deadline = time.monotonic() + deadline if deadline else None
        session.client.transport.max_requests = config.getoption("dpop_max_requests")
        session.client.transport.max_rps = config.getoption("dpop_max_rps")
        config.stash[SESSION_KEY] = session
        try:
            preflight(session)
        except SetupFailure as failure:
            config.stash[PREFLIGHT_KEY] = failure
            raise failure.could_not_judge() from None
        yield session


@pytest.fixture(autouse=True, name="_dpop_case_log")
def dpop_case_log(request: pytest.FixtureRequest) -> Iterator[None]:
    """Give each case its own exchange log (attached to the report as evidence)."""
    session = request.config.stash.get(SESSION_KEY, None)
    if session is not None:
        session.client.log = []
    request.node.stash[NOTE_KEY] = []
    yield


@pytest.fixture
def measure(request: pytest.FixtureRequest) -> Any:
    """`measure(name, value)` records a value the RFC leaves open (shown in results.json and compare)."""
    values = request.node.stash.setdefault(MEASURE_KEY, {})
    return values.__setitem__


@pytest.fixture
def note(request: pytest.FixtureRequest) -> Any:
    """`note("...")` records what a passing case observed; it becomes the case's message."""
    notes = request.node.stash[NOTE_KEY]
    return notes.append
