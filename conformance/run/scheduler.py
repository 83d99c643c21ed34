"""Cases side by side: up to N requests in flight, with the verdicts of a serial run.

Against a server 50 ms away a serial run waits for each of its ~800 requests in turn, while the longest
chain of requests that must follow one another is a few dozen. pytest, though, runs one item at a time,
and its set-up state is not safe to drive from several threads. So the cases' bodies run ahead, in a pool
of N threads, and pytest keeps its own protocol: when it calls the first case of a stretch,
`Scheduler.result_for` runs that case and every later one that can run ahead (a case of the suite, on the
same target, taking only `dpop`, `note`, `measure` and its own parameters; no fuzz case), each recording
into a lane of its own (conformance/client/transport.py); pytest then reaches each case in turn and is handed
what was recorded for it.

What keeps the verdicts exact:

- A case that reads or changes state the server keeps (nonces, the replay cache, a measured window, a
  refresh chain) names a lane in its declaration (`case(..., lane=...)`): the cases of one lane run one
  after another, in their order, never two at once.
- Only a pass (or a skip before any request: the case does not apply to the target file) is taken from a
  case that ran beside others, and only a pass that rests on refusals naming their cause: a pass that
  rests on a refusal without a DPoP error code (conformance/judge/attribution.py) may owe it to the load
  (a store that loses codes while other requests are in flight), and is confirmed alone. For any other
  outcome the case is run again, alone, when pytest reaches it and the cases still running have ended, and
  that run decides. No failure, warning or error is ever reached while other requests were in flight; a
  case whose outcome changed on its own is reported (the target keeps state the suite does not know of, or
  rations what it gives one client at a time).
- The transport's limits (deadline, --max-requests, --max-rps) hold across the threads, a login or a
  rotating refresh token serves one request at a time (session.py), and a watchdog that cuts a late
  exchange cuts only its own connection.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import CancelledError, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pytest

from conformance.client.transport import Lane
from conformance.judge.attribution import recording
from conformance.judge.catalog import case_info
from conformance.judge.verdicts import NotApplicable

__all__ = ["Ahead", "Scheduler", "can_run_ahead"]

# the fixtures a case may take and still run ahead: the plugin's own, whose values the scheduler makes
_OWN_FIXTURES = frozenset({"dpop", "note", "measure", "_dpop_case_log"})


@dataclass
class Ahead:
    """What one case did when it ran ahead: its outcome (the exception it raised, if any) and records."""

    lane: Lane
    notes: list[str] = field(default_factory=list)
    measurements: dict[str, Any] = field(default_factory=dict)
    exception: BaseException | None = None
    duration_s: float = 0.0
    # the refusals without a DPoP error code the case's pass rests on (conformance/judge/attribution.py)
    unconfirmed: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """True when the case raised nothing."""
        return self.exception is None

    @property
    def taken(self) -> bool:
        """True for an outcome taken from a concurrent run: a pass that rests on attributable refusals only,
        or a skip before any request (the target file says the case does not apply); any other is run again
        alone."""
        if self.passed:
            return not self.unconfirmed
        return isinstance(self.exception, pytest.skip.Exception) and not self.lane.sent


def _params(item: pytest.Item) -> dict[str, Any]:
    callspec = getattr(item, "callspec", None)
    return dict(callspec.params) if callspec is not None else {}


def can_run_ahead(item: pytest.Item) -> bool:
    """True for a case the scheduler can run itself: its arguments are the plugin's fixtures and its params."""
    if not isinstance(item, pytest.Function) or case_info(item) is None:
        return False
    if getattr(item.obj, "is_hypothesis_test", False):
        return False  # a fuzz case draws its examples under Hypothesis's own control, one at a time
    params = _params(item)
    # `request` is there for the plugin's autouse fixture; a case that asks for it itself cannot run ahead
    arguments_known = all(name in _OWN_FIXTURES or name in params for name in item._fixtureinfo.argnames)
    fixtures_known = all(name in _OWN_FIXTURES or name in params or name == "request" for name in item.fixturenames)
    return arguments_known and fixtures_known


class _Stretch:
    """The cases of one stretch, running in the background: each one's record as soon as it has one."""

    def __init__(self, items: list[pytest.Function], session: Any, concurrency: int) -> None:
        self.session = session
        self.nodeids = {item.nodeid for item in items}
        self._records: dict[str, Ahead] = {}
        self._ready = {item.nodeid: threading.Event() for item in items}
        self._stop = threading.Event()
        self._finished = False
        lanes: dict[str, list[pytest.Function]] = {}
        jobs: list[list[pytest.Function]] = []
        for item in items:
            info = case_info(item)
            if info is not None and info.lane:
                if info.lane not in lanes:
                    lanes[info.lane] = []
                    jobs.append(lanes[info.lane])
                lanes[info.lane].append(item)
            else:
                jobs.append([item])
        # The longest chains first, so the stretch ends about when its longest lane does. Among single cases,
        # a case of its own often sends a sequence (near misses, every algorithm) while one of a table-driven
        # family sends one altered request between controls: the families come last and fill the tail.
        family = Counter(item.originalname for item in items)
        jobs.sort(key=lambda job: (-len(job), family[job[0].originalname]))
        # more threads than requests in flight: the transport holds the in-flight limit per server, and a
        # thread that signs, generates a key or waits between requests must not leave a slot idle
        session.client.transport.max_in_flight = concurrency
        self._pool = ThreadPoolExecutor(max_workers=2 * concurrency, thread_name_prefix="dpop-case")
        self._futures = [self._pool.submit(self._run_job, job) for job in jobs]

    def record(self, nodeid: str) -> Ahead | None:
        """The record of a case, once it has run (None: the stretch was stopped before it ran)."""
        _wait_for(self._ready[nodeid])
        return self._records.pop(nodeid, None)

    def finish(self, *, stop: bool = False) -> None:
        """Wait until no case of the stretch runs any more (`stop`: start no other, and send nothing more)."""
        if self._finished:
            return
        self._finished = True
        if stop:
            self._stop.set()
            for future in self._futures:
                future.cancel()
            self.session.client.transport.stop_sending("the run was stopped")
        for future in self._futures:
            while True:
                try:
                    future.result(timeout=0.5)  # in steps, so Ctrl-C reaches the main thread
                    break
                except TimeoutError:
                    continue
                except CancelledError:
                    break
        self._pool.shutdown(wait=True)
        for event in self._ready.values():
            event.set()

    def _run_job(self, job: list[pytest.Function]) -> None:
        try:
            for item in job:
                if self._stop.is_set():
                    return
                self._records[item.nodeid] = _run_one(item, self.session)
                self._ready[item.nodeid].set()
        finally:
            for item in job:  # a fault of the scheduler itself leaves no case waited for in vain
                self._ready[item.nodeid].set()


def _wait_for(event: threading.Event) -> None:
    while not event.wait(0.5):  # in steps, so Ctrl-C reaches the main thread
        pass


def as_skip(exc: BaseException) -> BaseException:
    """The judge's NotApplicable as pytest's skip (the judge knows no pytest); any other exception as it is."""
    if isinstance(exc, NotApplicable):
        try:
            pytest.skip(str(exc))
        except pytest.skip.Exception as skipped:
            return skipped
    return exc


def _run_one(item: pytest.Function, session: Any) -> Ahead:
    """Run one case's body in this thread, in a lane of its own, with the values its fixtures would have."""
    ahead = Ahead(Lane())
    params = _params(item)
    values: dict[str, Any] = {
        "dpop": session,
        "note": ahead.notes.append,
        "measure": ahead.measurements.__setitem__,
    }
    arguments = {name: values[name] if name in values else params[name] for name in item._fixtureinfo.argnames}
    start = time.perf_counter()
    with session.client.transport.in_lane(ahead.lane), recording() as unconfirmed:
        try:
            item.obj(**arguments)
        except BaseException as exc:  # skip and fail are BaseExceptions: every one is an outcome here
            ahead.exception = as_skip(exc)
    ahead.unconfirmed = unconfirmed
    ahead.duration_s = time.perf_counter() - start
    return ahead


class Scheduler:
    """Runs the cases ahead of pytest, `concurrency` at a time, and hands each its recorded outcome.

    A stretch runs in the background while pytest reports the cases that are done, in its order.
    """

    def __init__(self, concurrency: int) -> None:
        self.concurrency = concurrency
        self._stretch: _Stretch | None = None
        self._reached: set[str] = set()  # nodeids pytest has reached (never run ahead again)
        self._first: dict[str, Ahead] = {}  # nodeid -> its concurrent run, when it is run again alone

    def result_for(self, item: pytest.Function, session: Any) -> Ahead | None:
        """What `item` did when it ran ahead, starting its stretch if it has none yet.

        None: pytest runs the case itself: it cannot run ahead, or its concurrent outcome was not a pass
        and it runs again, alone, once the stretch is over. Otherwise the plugin gives the record (a pass,
        or a skip before any request) to pytest's item.
        """
        if self.concurrency <= 1:
            return None
        if not can_run_ahead(item) or item.nodeid in self._reached:
            self.finish()  # a case pytest runs itself runs alone too: after the running stretch has ended
            return None
        self._reached.add(item.nodeid)
        stretch = self._stretch
        if stretch is None or item.nodeid not in stretch.nodeids or stretch.session is not session:
            # another target's stretch (the kill matrix's next server): what it left unrecorded runs as pytest
            # reaches it, and its session, torn down, sends nothing more
            self.finish(stop=stretch is not None and stretch.session is not session)
            stretch = self._stretch = _Stretch(self._stretch_of(item), session, self.concurrency)
        try:
            ahead = stretch.record(item.nodeid)
        except BaseException:
            self.finish(stop=True)  # Ctrl-C: the cases still running send nothing more
            raise
        if ahead is None or not ahead.taken:
            self.finish()  # alone means alone: after the stretch's last request
            if ahead is not None:
                self._first[item.nodeid] = ahead
                # its requests went out and count; its evidence and outcome are those of the run alone
                session.client.transport.absorb(ahead.lane, evidence=False)
            return None
        return ahead

    def finish(self, *, stop: bool = False) -> None:
        """Wait for the running stretch to end (`stop`: end it now); the plugin calls this before teardown."""
        if self._stretch is not None:
            self._stretch.finish(stop=stop)  # its records stay, for the cases pytest has yet to reach

    def first_try(self, nodeid: str) -> Ahead | None:
        """The concurrent run of a case that was run again alone (its outcome was not a pass), if it was."""
        return self._first.get(nodeid)

    def _stretch_of(self, first: pytest.Function) -> list[pytest.Function]:
        """`first` and the later items of the session that can run ahead on the same target."""
        items = first.session.items
        start = items.index(first)
        target = _params(first).get("dpop")
        stretch: list[pytest.Function] = []
        for item in items[start:]:
            if _params(item).get("dpop") is not target:
                break  # another target (the kill matrix's parameters): its session fixture is not set up yet
            fresh = item is first or item.nodeid not in self._reached
            if isinstance(item, pytest.Function) and fresh and can_run_ahead(item):
                stretch.append(item)
        return stretch
