"""Waits until every server answers HTTP: `python ready.py TIMEOUT_S PID=URL...`.

Exits 0 once each URL gave an HTTP answer (any status: the resource answers 401 without a token), 1 naming
the silent ones when a server's process ended or the time ran out. Standard library only.
"""

from __future__ import annotations

import os
import sys
import time
import urllib.error
import urllib.request


def alive(pid: int) -> bool:
    """The process exists and has not ended (an ended one not yet reaped, a zombie, has)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            text = stat.read()
        return text[text.rindex(")") + 2] not in "ZX"
    except OSError:
        pass  # no /proc (not Linux), or the process is gone: ask the kernel
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def answers(url: str) -> bool:
    """True when an HTTP answer, of any status, comes back within 2 s."""
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except urllib.error.HTTPError:
        return True  # an answer all the same
    except (urllib.error.URLError, OSError):
        return False


def main(argv: list[str]) -> int:
    """Poll every PID=URL until all answer (0) or one's process ends or the time runs out (1)."""
    if len(argv) < 2:
        print("usage: ready.py TIMEOUT_S PID=URL...", file=sys.stderr)
        return 2
    deadline = time.monotonic() + float(argv[0])
    pending = {url: int(pid) for pid, _, url in (target.partition("=") for target in argv[1:])}
    while pending:
        for url, pid in list(pending.items()):
            if not alive(pid):
                print(f"ready.py: the server for {url} (pid {pid}) has exited", file=sys.stderr)
                return 1
            if answers(url):
                del pending[url]
        if not pending:
            break
        if time.monotonic() > deadline:
            print(f"ready.py: no answer within {argv[0]} s from {', '.join(pending)}", file=sys.stderr)
            return 1
        time.sleep(0.1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
