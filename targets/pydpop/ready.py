"""Waits until every server answers HTTP: `python ready.py TIMEOUT_S PID URL...`.

Exits 0 once each URL gave an HTTP answer (any status), 1 (naming the silent ones) when the servers' process
PID has ended or the time ran out. Standard library only.
"""

from __future__ import annotations

import sys
import time
import urllib.error
import urllib.request
from pathlib import Path


def alive(pid: int) -> bool:
    """The process runs (one that ended but is not reaped yet, a zombie, does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] not in "ZX"


def answers(url: str) -> bool:
    """Whether url gives an HTTP answer, whatever its status."""
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except urllib.error.HTTPError:
        return True  # a 401 from the resource is an answer
    except OSError:
        return False  # not listening yet


def main() -> int:
    timeout_s, pid, urls = float(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
    deadline = time.monotonic() + timeout_s
    pending = list(urls)
    while pending:
        if not alive(pid):
            sys.stderr.write(f"ready.py: the servers' process {pid} has exited" + "\n")
            return 1
        pending = [url for url in pending if not answers(url)]
        if pending and time.monotonic() > deadline:
            sys.stderr.write(f"ready.py: no answer within {timeout_s:g} s from {', '.join(pending)}" + "\n")
            return 1
        time.sleep(0.1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
