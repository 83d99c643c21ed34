"""How many requests the run keeps in flight at once (--concurrency): the default and its bounds.

Apart from the scheduler (conformance/run/scheduler.py) so the CLI can check the option without importing pytest.
"""

from __future__ import annotations

__all__ = ["DEFAULT_CONCURRENCY", "MAX_CONCURRENCY", "concurrency_problem"]

#: requests in flight at once by default. benchmarks/latency.py at a 50 ms round trip, fixed catalog (about
#: 790 requests): 1 → 43 s, 4 → 12.9 s, 8 → 7.4 s. Eight is what brings the catalog within 8 s of a distant
#: server; it is what many HTTP clients keep open per host, and --max-rps still caps the rate
DEFAULT_CONCURRENCY = 8
MAX_CONCURRENCY = 32


def concurrency_problem(value: int) -> str | None:
    """Why `value` is no --concurrency, in one line; None when it is one."""
    if value < 1 or value > MAX_CONCURRENCY:
        return (
            f"--concurrency must be between 1 (serial) and {MAX_CONCURRENCY}, not {value}: "
            f"it is the number of requests in flight at once (default {DEFAULT_CONCURRENCY})"
        )
    return None
