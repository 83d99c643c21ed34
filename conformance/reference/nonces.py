"""Stateless server-provided nonces (RFC 9449 §8 and §9).

A nonce is base64url(issue time as 8-byte big-endian || 8 random bytes || HMAC-SHA256(secret, scope ||
time || random)[:16]). The scope ("as" or "rs") enters the MAC, so a nonce issued by one side is refused by
the other; the time lets any nonce be checked without server state; the random part makes every nonce
distinct and unpredictable (§8: "Nonce values MUST be unpredictable"). base64url text is 1*NQCHAR (§8.1).
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
import struct
import time
from collections.abc import Callable

from conformance.jose import JOSEError, b64url_decode, b64url_encode

__all__ = ["NonceService", "NonceVerdict"]

_MAC_BYTES = 16
_HEAD_BYTES = 8 + 8  # issue time, then random bytes
# Inserted into AS nonces under the `nonce-syntax` defect: both characters are outside NQCHAR.
_BAD_SYNTAX = ' "'
# Under `nonce-200-unusable`, nonces handed out on 2xx responses are MACed with this suffix on their
# scope, so check() (which never adds it) refuses them while challenge nonces keep working.
_UNUSABLE_SUFFIX = b"/2xx"


class NonceVerdict(enum.Enum):
    """Result of checking a proof's nonce claim."""

    OK = "ok"
    MISSING = "missing"
    INVALID = "invalid"


class NonceService:
    """Issues and checks nonces for the "as" and "rs" scopes, honouring the nonce defect switches."""

    def __init__(
        self,
        lifetime: int,
        defects: frozenset[str] = frozenset(),
        *,
        secret: bytes | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._lifetime = lifetime
        self._defects = defects
        self._secret = secret if secret is not None else secrets.token_bytes(32)
        self._clock = clock

    def _mac_scope(self, scope: str) -> bytes:
        # `nonce-cross-server`: one shared scope, so either side accepts the other's nonces.
        return b"shared" if "nonce-cross-server" in self._defects else scope.encode("ascii")

    def _mac(self, scope: str, head: bytes, suffix: bytes = b"") -> bytes:
        message = self._mac_scope(scope) + suffix + head
        return hmac.new(self._secret, message, hashlib.sha256).digest()[:_MAC_BYTES]

    def issue(self, scope: str, *, on_success: bool = False) -> str:
        """Return a fresh nonce for `scope` ("as" or "rs").

        `on_success` marks a nonce handed out on a 2xx response rather than in a use_dpop_nonce
        challenge; only the `nonce-200-unusable` defect treats the two differently.
        """
        head = struct.pack(">Q", int(self._clock())) + secrets.token_bytes(8)
        suffix = _UNUSABLE_SUFFIX if on_success and "nonce-200-unusable" in self._defects else b""
        value = b64url_encode(head + self._mac(scope, head, suffix))
        if scope == "as" and "nonce-syntax" in self._defects:
            return value[:8] + _BAD_SYNTAX + value[8:]
        return value

    def check(self, scope: str, value: str | None) -> NonceVerdict:
        """Check the nonce claim of a proof sent to the `scope` side."""
        if value is None or value == "":
            return NonceVerdict.MISSING
        if "nonce-rejects-own" in self._defects:
            return NonceVerdict.INVALID
        if "nonce-value" in self._defects:
            return NonceVerdict.OK
        if scope == "as" and "nonce-syntax" in self._defects:
            # The server must still accept its own (malformed) nonces, or the defect would break
            # more than the syntax.
            value = value.replace(_BAD_SYNTAX, "", 1)
        try:
            raw = b64url_decode(value)
        except JOSEError:
            return NonceVerdict.INVALID
        if b64url_encode(raw) != value:
            # a non-canonical spelling (other padding bits in the last character) is not the nonce we issued
            return NonceVerdict.INVALID
        if len(raw) != _HEAD_BYTES + _MAC_BYTES:
            return NonceVerdict.INVALID
        head, mac = raw[:_HEAD_BYTES], raw[_HEAD_BYTES:]
        # `nonce-mac-unchecked`: the bug of a server that reads a nonce's time and never checks its MAC
        if not hmac.compare_digest(mac, self._mac(scope, head)) and "nonce-mac-unchecked" not in self._defects:
            return NonceVerdict.INVALID
        age = self._clock() - struct.unpack(">Q", head[:8])[0]
        # A small negative age only comes from rounding; the issue time is our own clock.
        if age < -1 or age > self._lifetime:
            return NonceVerdict.INVALID
        return NonceVerdict.OK

    def checker(self, scope: str) -> Callable[[str | None], NonceVerdict]:
        """A one-argument check bound to `scope`, as verify_proof expects it."""
        return lambda value: self.check(scope, value)
