"""One thread per process that cuts exchanges whose time is up.

httpx's timeout bounds each read, not an exchange: a server that sends one byte every second would hold a
request for ever. Each exchange registers a deadline here; when it passes before the exchange finished, the
watchdog calls the exchange's cut function (the transport shuts its sockets down, which wakes the blocked
read at once).

Why one thread and not a timer per request: a thread started and joined for every request cost the project's
tests a third more CPU time (594 s → 966 s on CI). This thread sleeps until the earliest deadline it knows of
and is woken only when a new deadline is earlier than that, so a run of thousands of requests wakes it about
once per timeout.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import threading
import time
from collections.abc import Callable

__all__ = ["Watch", "watch"]

_IDLE_WAKE_S = 1.0  # with nothing to watch the thread looks again after this long, then sleeps for good
_IDLE_ROUNDS = 30

_condition = threading.Condition()
_active: dict[int, Watch] = {}
_wake_at = math.inf  # when the thread will look next (monotonic seconds); inf: only when notified
_thread: threading.Thread | None = None
_ids = itertools.count()


class Watch:
    """One exchange under watch: `finish()` when it is done; `cut` says whether its time ran out first."""

    def __init__(self, deadline: float, on_cut: Callable[[], None]) -> None:
        self.deadline = deadline
        self.cut = False
        self._on_cut = on_cut
        self._id = next(_ids)

    def finish(self) -> None:
        """The exchange is over: no cut after this."""
        with _condition:
            _active.pop(self._id, None)


def watch(seconds: float, on_cut: Callable[[], None]) -> Watch:
    """Call `on_cut` (from the watchdog thread) unless the returned Watch is finished within `seconds`."""
    global _thread, _wake_at
    w = Watch(time.monotonic() + seconds, on_cut)
    with _condition:
        _active[w._id] = w
        if _thread is None:
            _thread = threading.Thread(target=_run, name="conformance-watchdog", daemon=True)
            _thread.start()
        if w.deadline < _wake_at:
            _wake_at = w.deadline  # also read by a thread about to wait, which this notify would miss
            _condition.notify()
    return w


def _run() -> None:
    global _wake_at
    idle = 0
    while True:
        with _condition:
            now = time.monotonic()
            due = [w for w in _active.values() if w.deadline <= now]
            for w in due:
                del _active[w._id]
                w.cut = True
            if _active:
                idle = 0
                _wake_at = min(w.deadline for w in _active.values())
            else:
                idle += 1
                _wake_at = now + _IDLE_WAKE_S if idle <= _IDLE_ROUNDS else math.inf
        # outside the lock: a cut may take a moment, and the exchanges must be able to finish meanwhile
        for w in due:
            # a failed cut must not stop the watchdog: the exchange then ends at its read timeout
            with contextlib.suppress(Exception):
                w._on_cut()
        with _condition:
            wait = _wake_at - time.monotonic()
            if wait > 0:
                _condition.wait(None if math.isinf(wait) else wait)
