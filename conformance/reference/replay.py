"""Bounded, thread-safe cache of seen DPoP proof identifiers (RFC 9449 §11.1)."""

from __future__ import annotations

import enum
import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

__all__ = ["ReplayCache", "ReplayResult"]


class ReplayResult(enum.Enum):
    """Outcome of ReplayCache.add."""

    ADDED = "added"
    REPLAYED = "replayed"
    FULL = "full"


class ReplayCache:
    """Remembers (jti, htu) pairs for as long as a proof carrying them could still be accepted.

    Every entry lives for the same `ttl`, so insertion order is also expiry order and purging only
    ever looks at the oldest entries. When the cache is full of live entries it refuses new ones
    rather than evicting: evicting a live entry would re-open a replay window for it.
    """

    def __init__(self, max_entries: int, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be >= 1")
        self._max_entries = max_entries
        self._ttl = ttl
        self._clock = clock
        self._entries: OrderedDict[bytes, float] = OrderedDict()
        # One lock around check-and-insert: the same proof sent concurrently is accepted once.
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    @staticmethod
    def key(jti: str, htu: str) -> bytes:
        """The stored key: a fixed-size hash, so large jti values cost no extra memory (§11.1)."""
        return hashlib.sha256(f"{len(jti)}:{jti}|{htu}".encode("utf-8", "surrogatepass")).digest()

    def add(self, jti: str, htu: str) -> ReplayResult:
        """Record (jti, htu) unless it was seen before or the cache is full of live entries."""
        key = self.key(jti, htu)
        with self._lock:
            now = self._clock()
            self._purge(now)
            if key in self._entries:
                return ReplayResult.REPLAYED
            if len(self._entries) >= self._max_entries:
                return ReplayResult.FULL
            self._entries[key] = now + self._ttl
            return ReplayResult.ADDED

    def _purge(self, now: float) -> None:
        while self._entries:
            oldest_key, expires = next(iter(self._entries.items()))
            if expires > now:
                break
            del self._entries[oldest_key]
