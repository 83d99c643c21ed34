"""The valid requests around every altered one, and the accepted ones kept for the replay cases.

Every negative group sends a valid request (a control) before and after its altered request, so a server that
refuses everything (or revokes the token meanwhile) cannot make a negative case pass. The control that closed
the previous group is this group's "before" when nothing was sent since: sending another proves nothing more,
and the controls were a third of a run's requests. The requests the controls had accepted are kept (one a
second, per place) for the cases that replay a proof seconds old: an old proof costs them no wait.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from conformance.client.flow import Sent
from conformance.client.transport import Transport

__all__ = ["Controls"]

#: where a control was sent: the endpoint's key ("token", "resource", "par") and, at the resource, the token
Place = tuple[str, str]


class Controls:
    """Vouched controls per thread and place, and the accepted valid requests per place."""

    #: accepted controls kept per place, one per second at most
    KEPT = 32

    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        # where a control just succeeded, with the number of requests the thread had sent by then
        self._vouched: dict[tuple[int, str, str], tuple[int, Sent]] = {}  # by thread (Transport.mark)
        self._accepted: dict[Place, list[tuple[float, Sent]]] = {}
        self._lock = threading.Lock()

    def controlled(self, place: Place, when: str, send: Callable[[str], Sent]) -> Sent:
        """A control that must succeed at `place`, sent by `send(when)`, unless the last request was one."""
        # per thread: a case running concurrently reuses the control its own thread sent last, when that
        # thread sent nothing since (the others' requests are other cases', and none of them changes state)
        thread, sent_so_far = self.transport.mark()
        with self._lock:
            vouched = self._vouched.get((thread, *place))
        if when == "before" and vouched is not None and vouched[0] == sent_so_far:
            return vouched[1]
        sent = send(when)
        with self._lock:
            self._vouched[(thread, *place)] = (self.transport.mark()[1], sent)
        return sent

    def remember_accepted(self, place: Place, sent: Sent) -> None:
        """Keep a valid request a control had accepted (one a second: 32 entries span half a minute or more)."""
        with self._lock:
            kept = self._accepted.setdefault(place, [])
            now = time.monotonic()
            if kept and now - kept[-1][0] < 1.0:
                return
            kept.append((now, sent))
            del kept[: -self.KEPT]

    def accepted_since(self, place: Place, *, at_least: float, at_most: float) -> tuple[float, Sent] | None:
        """A valid request a control had accepted at `place` between `at_least` and `at_most` seconds ago, the
        youngest, with its age in seconds.

        Each is handed out once: a cache that forgets stores a replayed proof again, and the next case's replay
        of it would then be refused for the suite's own replay, not for the server's memory (cases that ran
        close together, as concurrent ones do, would otherwise find the same youngest control).
        """
        now = time.monotonic()
        with self._lock:
            kept = self._accepted.get(place, [])
            fitting = [i for i, (at, _) in enumerate(kept) if at_least <= now - at <= at_most]
            if not fitting:
                return None
            at, sent = kept.pop(fitting[-1])
        return now - at, sent

    def accepted_age(self, place: Place) -> float | None:
        """Seconds since a control last had a valid request accepted at `place` (None: none so far)."""
        with self._lock:
            kept = self._accepted.get(place)
            return time.monotonic() - kept[-1][0] if kept else None
