"""The pytest process the CLI runs the cases in, and the signals that must reach it.

The child runs in a session of its own, so that the CLI decides what reaches it: SIGINT (Ctrl-C) and SIGTERM
(a cancelled CI job, `docker stop`, a container's PID 1) sent to the CLI are forwarded to the child's whole
process group (pytest-xdist's workers included), and the CLI waits for it to end. Nothing keeps sending requests
to the target after the CLI is gone. A child that has not ended `GRACE_S` after the signal, or a second signal,
is killed. A CLI killed outright (SIGKILL, which no process can catch) leaves the child to notice by itself: the
plugin's parent watch (plugin.py, --dpop-parent-pid) stops it within half a second.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

__all__ = ["GRACE_S", "ChildEnd", "run_child"]

GRACE_S = 15.0  # after a forwarded signal: how long pytest may take to stop before it is killed
_POLL_S = 0.25  # how often the CLI looks whether the child ended (a signal's handler runs between looks)
_FORWARDED = (signal.SIGINT, signal.SIGTERM)


@dataclass(frozen=True)
class ChildEnd:
    """How the child ended: its exit status, and the signal the CLI received (and forwarded), if one was."""

    code: int
    interrupted_by: int | None = None

    @property
    def interrupted(self) -> bool:
        return self.interrupted_by is not None

    @property
    def cli_status(self) -> int:
        """The CLI's exit status for an interrupted run: 128 + the signal, as a shell reports it."""
        return 128 + int(self.interrupted_by or 0)


def _signal_group(process: subprocess.Popen[bytes], signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signum)


@contextlib.contextmanager
def _forwarding(process: subprocess.Popen[bytes], received: list[int]) -> Iterator[None]:
    """While the child runs: SIGINT and SIGTERM go to its process group; a second one kills it."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set handlers; the CLI always runs there
        return

    def forward(signum: int, _frame: FrameType | None) -> None:
        if received:
            _signal_group(process, signal.SIGKILL)
            return
        received.append(signum)
        _signal_group(process, signum)

    previous = {sig: signal.signal(sig, forward) for sig in _FORWARDED}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run_child(
    args: Sequence[str], *, cwd: Path, env: Mapping[str, str], quiet: bool = False, grace_s: float = GRACE_S
) -> ChildEnd:
    """Run `args` in a session of its own, forwarding SIGINT and SIGTERM to it, and wait for it to end."""
    received: list[int] = []
    process = subprocess.Popen(
        list(args),
        cwd=cwd,
        env=dict(env),
        stdout=subprocess.DEVNULL if quiet else None,
        start_new_session=True,
    )
    with _forwarding(process, received):
        kill_at: float | None = None
        while True:
            try:
                code = process.wait(timeout=_POLL_S)
                break
            except subprocess.TimeoutExpired:
                if received and kill_at is None:
                    kill_at = time.monotonic() + grace_s
                if kill_at is not None and time.monotonic() > kill_at:
                    _signal_group(process, signal.SIGKILL)  # it did not stop in time after the signal
                    kill_at = math.inf
    # the group may hold a worker that outlived its parent: nothing of the run may keep sending
    if received:
        _signal_group(process, signal.SIGKILL)
    return ChildEnd(code, received[0] if received else None)
