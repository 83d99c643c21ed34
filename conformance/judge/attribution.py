"""A refusal counts only when the case caused it.

Two devices keep every pass attributable to the change a case made:

- `attributed` sends the altered request again, with fresh controls and a fresh grant, while its answer
  names another cause than that change (conformance/judge/answers.py: a lost or used grant, a rate limit, an
  overloaded gateway, a nonce challenge the request could not answer). When every attempt is refused for a
  rate limit, an overloaded gateway or a nonce, the case cannot tell whether the server checks what it
  changed, and says so (`CouldNotJudge`), never passes. When every attempt, each with a fresh grant, is
  refused as if the grant were gone while the controls' fresh grants work, the change is what the attempts
  share: the refusal is the server's answer to it in vague words, and counts (unconfirmed, below).
- `unconfirmed` notes that a pass rests on a refusal that names no DPoP error code: the refusal may have
  come from something else the server does under load (a store that loses codes while other requests are
  in flight). The scheduler (conformance/run/scheduler.py) collects these notes per case with `recording`,
  and runs such a case again alone before its pass counts.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from typing import TypeVar, cast

from conformance.client.evidence import Exchange
from conformance.client.flow import Sent
from conformance.judge.answers import OVERLOADED, another_cause
from conformance.judge.verdicts import CouldNotJudge

__all__ = ["ATTEMPTS", "attributed", "recording", "unconfirmed"]

#: how many times an altered request is sent while its answers name another cause than the case's change
ATTEMPTS = 3
#: the pause before sending again after an overloaded answer (429, 502-504) the transport did not wait out
_PAUSE_S = 1.0

_notes = threading.local()
T = TypeVar("T")


@contextlib.contextmanager
def recording() -> Iterator[list[str]]:
    """The unconfirmed passes noted while the block runs in this thread (one case runs in one thread)."""
    previous = getattr(_notes, "reasons", None)
    reasons: list[str] = []
    _notes.reasons = reasons
    try:
        yield reasons
    finally:
        _notes.reasons = previous


def unconfirmed(reason: str) -> None:
    """Note that the case's pass rests on a refusal that does not name its cause (no DPoP error code)."""
    reasons = getattr(_notes, "reasons", None)
    if reasons is not None:
        reasons.append(reason)


def attributed(
    send: Callable[[], T],
    *,
    what: str,
    answered_nonce: bool = True,
    altered: Callable[[T], Sent] = lambda result: cast(Sent, result),
) -> T:
    """What `send()` returns, sent again while the answer to its altered request names another cause than the
    case's change; CouldNotJudge when all ATTEMPTS did.

    `send` must make everything it needs afresh (a new authorization code, a new refresh token, new
    controls): the point of sending again is that the other cause (a lost code, a rate limit) passes. It
    returns the altered request as sent, or something `altered` finds it in.
    """
    tried: list[Exchange] = []
    cause = ""
    fix = ""
    kinds: set[str] = set()
    for attempt in range(ATTEMPTS):
        result = send()
        sent = altered(result)
        found = another_cause(sent.final, answered_nonce=answered_nonce)
        if found is None:
            return result
        cause, fix = str(found), found.fix
        kinds.add(found.kind)
        tried += sent.exchanges
        if attempt + 1 < ATTEMPTS and (sent.final.status or 0) in OVERLOADED:
            time.sleep(_PAUSE_S)
    if kinds == {"grant"}:
        # a store that loses one grant in five loses three in a row once in 125 runs; a server that words its
        # answer to the change vaguely does it every time: the refusal stands, confirmed alone when concurrent
        unconfirmed(f"{what}: refused {ATTEMPTS} times, each with a fresh grant, as if the grant were gone ({cause})")
        return result
    raise CouldNotJudge(
        f"{what}: refused {ATTEMPTS} times for another cause than the case's change ({cause}), each between "
        "valid requests: whether the server checks the change cannot be told from these answers. Run the case "
        "alone (--concurrency 1), or against a server that is not under load",
        exchanges=tried[-2 * ATTEMPTS :],
        cause=f"the answers name another cause than the cases' changes: {cause.split(':', 1)[0]}",
        fix=fix,
    )
