"""Access tokens (JWT, RFC 9068 style, DPoP-bound via cnf.jkt) and the AS's short-lived stores."""

from __future__ import annotations

import math
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from cryptography.hazmat.primitives.asymmetric import ec

from conformance.jose import JOSEError, b64url_encode, decode_jws, json_b64, thumbprint
from conformance.reference.keys import SignatureError, ec_public_jwk, sign_es256, verify_signature

__all__ = [
    "AuthorizationCode",
    "BoundedStore",
    "PendingAuthorization",
    "RefreshGrant",
    "TokenError",
    "TokenIssuer",
]

_AT_TYP = "at+jwt"

T = TypeVar("T")


class TokenError(ValueError):
    """An access token is not one this server issued, or it has expired."""


class TokenIssuer:
    """Holds the AS signing key (ES256, generated per process) and issues / verifies access tokens."""

    def __init__(self, issuer: str, ttl: int, clock: Callable[[], float] = time.time) -> None:
        self.issuer = issuer
        self.ttl = ttl
        self._clock = clock
        self._private_key = ec.generate_private_key(ec.SECP256R1())
        public = ec_public_jwk(self._private_key)
        self.kid = thumbprint(public)
        self.public_jwk: dict[str, str] = {**public, "kid": self.kid, "use": "sig", "alg": "ES256"}

    def jwks(self) -> dict[str, Any]:
        """The JWK Set document served at /jwks."""
        return {"keys": [dict(self.public_jwk)]}

    def issue(self, *, sub: str, client_id: str, scope: str, jkt: str | None) -> tuple[str, dict[str, Any]]:
        """Sign a new access token; returns (token, claims). `jkt` None issues an unbound token."""
        now = int(self._clock())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": sub,
            "client_id": client_id,
            "scope": scope,
            "iat": now,
            "exp": now + self.ttl,
            "jti": secrets.token_urlsafe(16),
        }
        if jkt is not None:
            claims["cnf"] = {"jkt": jkt}
        header = {"typ": _AT_TYP, "alg": "ES256", "kid": self.kid}
        signing_input = f"{json_b64(header)}.{json_b64(claims)}"
        signature = sign_es256(self._private_key, signing_input.encode("ascii"))
        return f"{signing_input}.{b64url_encode(signature)}", claims

    def verify(self, token: str) -> dict[str, Any]:
        """Return the claims of a token this server issued and that has not expired.

        Raises TokenError with a short description otherwise.
        """
        try:
            jws = decode_jws(token)
        except (ValueError, RecursionError) as exc:
            detail = str(exc) if isinstance(exc, JOSEError) else "not a well-formed JWT"
            raise TokenError(f"malformed access token: {detail}") from exc
        header, claims = jws.header, jws.payload
        if header.get("typ") != _AT_TYP or header.get("alg") != "ES256" or header.get("kid") != self.kid:
            raise TokenError("access token was not issued by this server")
        try:
            verify_signature("ES256", self.public_jwk, jws.signing_input, jws.signature)
        except SignatureError as exc:
            raise TokenError("access token signature is invalid") from exc
        if claims.get("iss") != self.issuer:
            raise TokenError("access token was not issued by this server")
        exp = claims.get("exp")
        if not isinstance(exp, int) or isinstance(exp, bool) or exp <= math.floor(self._clock()):
            raise TokenError("access token expired")
        return claims


@dataclass(frozen=True)
class PendingAuthorization:
    """A validated authorization request waiting for the (automatic) consent hop."""

    client_id: str
    redirect_uri: str
    code_challenge: str
    scope: str
    state: str | None
    dpop_jkt: str | None


@dataclass(frozen=True)
class AuthorizationCode:
    """What an authorization code stands for, checked again when it is redeemed."""

    client_id: str
    redirect_uri: str
    code_challenge: str
    scope: str
    dpop_jkt: str | None
    sub: str


@dataclass(frozen=True)
class RefreshGrant:
    """What a refresh token stands for. `jkt` is set for public clients only (RFC 9449 §5)."""

    client_id: str
    scope: str
    sub: str
    jkt: str | None
    generation: int = 0  # 0 from a code, then one more per refresh


class BoundedStore(Generic[T]):
    """Opaque random handles → values, each living `ttl` seconds, at most `capacity` entries.

    All entries share one ttl, so insertion order is expiry order. When full of live entries the
    oldest is dropped: for codes and refresh tokens that only invalidates a stale grant, which is
    preferable to unbounded memory on a test server anybody on the host can call.
    """

    def __init__(self, ttl: float, capacity: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl
        self._capacity = capacity
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, T]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def _purge(self, now: float) -> None:
        while self._entries:
            key, (expires, _) = next(iter(self._entries.items()))
            if expires > now:
                break
            del self._entries[key]

    def put(self, value: T) -> str:
        """Store `value` under a new unguessable handle and return the handle."""
        handle = secrets.token_urlsafe(32)
        with self._lock:
            now = self._clock()
            self._purge(now)
            while len(self._entries) >= self._capacity:
                self._entries.popitem(last=False)
            self._entries[handle] = (now + self._ttl, value)
        return handle

    def get(self, handle: str) -> T | None:
        """The live value stored under `handle`, or None."""
        with self._lock:
            self._purge(self._clock())
            entry = self._entries.get(handle)
            return None if entry is None else entry[1]

    def pop(self, handle: str) -> T | None:
        """Remove and return the live value under `handle` (single use), or None."""
        with self._lock:
            self._purge(self._clock())
            entry = self._entries.pop(handle, None)
            return None if entry is None else entry[1]
