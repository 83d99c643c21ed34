"""Lists from the target, bounded before they drive requests or messages.

A server decides how long its lists are: `dpop_signing_alg_values_supported` with "ES256" three thousand
times, or one algorithm name of 180 KB, must not become three thousand requests or a quadratic scan.
`distinct` keeps the strings of a list once each, in order, at most `limit` of them and each at most
`longest` characters long (longer ones are no algorithm name: dropped).
"""

from __future__ import annotations

from typing import Any

__all__ = ["distinct"]


def distinct(values: Any, *, limit: int = 32, longest: int = 64) -> list[str] | None:
    """The distinct short strings of `values` (None when it is not a list), at most `limit` of them."""
    if not isinstance(values, list):
        return None
    kept: dict[str, None] = {}
    for value in values:
        if isinstance(value, str) and len(value) <= longest:
            kept.setdefault(value, None)
            if len(kept) >= limit:
                break
    return list(kept)
