"""Configuration of the reference server."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from conformance.reference.defects import validate_defects, validate_leniencies

__all__ = ["NONCE_MODES", "ServerSettings"]

# Which side demands server-provided nonces (RFC 9449 §8 for the AS, §9 for the RS).
NONCE_MODES: tuple[str, ...] = ("none", "as", "rs", "both")

_ALLOWED_ALGS = frozenset({"ES256", "ES384", "ES512", "RS256", "PS256", "EdDSA"})


@dataclass(frozen=True)
class ServerSettings:
    """Everything that varies between reference-server instances.

    `defects` may be given as any iterable of names; it is stored as a frozenset.
    """

    nonce: str = "none"
    defects: frozenset[str] = frozenset()
    leniencies: frozenset[str] = frozenset()  # see LENIENCIES: legal, lenient behaviour of real libraries
    client_id: str = "conformance-client"
    client_secret: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    public_client_id: str = "conformance-spa"
    redirect_uri: str = "http://127.0.0.1:8765/callback"
    jwt_client_id: str = "conformance-jwt-client"
    jwt_client_jwks: tuple[dict[str, Any], ...] = ()
    signing_algs: tuple[str, ...] = ("ES256", "ES384", "ES512", "RS256", "PS256", "EdDSA")
    iat_past: int = 60
    iat_future: int = 10
    nonce_lifetime: int = 300
    access_token_ttl: int = 300
    replay_cache_size: int = 100_000
    scope: str = "read"
    par: bool = True  # a pushed authorization request endpoint (RFC 9126), in the metadata and at /par
    # a rate limiter in front of it: every Nth request is answered 429 with Retry-After, before the server
    # sees it (0: none). A rate limit is no defect: a client waits and sends again.
    throttle_every: int = 0
    throttle_retry_after: int = 1

    def __post_init__(self) -> None:
        if self.nonce not in NONCE_MODES:
            raise ValueError(f"unknown nonce mode {self.nonce!r}; expected one of {', '.join(NONCE_MODES)}")
        # Frozen dataclass: normalising a field needs object.__setattr__.
        object.__setattr__(self, "defects", validate_defects(self.defects))
        object.__setattr__(self, "leniencies", validate_leniencies(self.leniencies))
        object.__setattr__(self, "signing_algs", tuple(self.signing_algs))
        object.__setattr__(self, "jwt_client_jwks", tuple(self.jwt_client_jwks))
        if not self.signing_algs:
            raise ValueError("signing_algs must not be empty")
        unknown = [alg for alg in self.signing_algs if alg not in _ALLOWED_ALGS]
        if unknown:
            raise ValueError(
                f"unsupported signing alg(s) {', '.join(map(repr, unknown))}; "
                f"supported: {', '.join(sorted(_ALLOWED_ALGS))}"
            )
        ids = [self.client_id, self.public_client_id, self.jwt_client_id]
        if any(not value for value in ids) or len(set(ids)) != len(ids):
            raise ValueError("client_id, public_client_id and jwt_client_id must be distinct and non-empty")
        if not self.client_secret:
            raise ValueError("client_secret must not be empty")
        for name in ("iat_past", "iat_future"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0")
        if self.throttle_every < 0 or self.throttle_retry_after < 0:
            raise ValueError("throttle_every and throttle_retry_after must be >= 0")
        for name in ("nonce_lifetime", "access_token_ttl", "replay_cache_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1")
        if not self.scope.split():
            raise ValueError("scope must name at least one scope value")
        for jwk in self.jwt_client_jwks:
            if not isinstance(jwk, dict) or jwk.get("kty") not in ("EC", "RSA", "OKP"):
                raise ValueError("jwt_client_jwks entries must be public EC, RSA or OKP JWKs")

    @property
    def switches(self) -> frozenset[str]:
        """Defects and leniencies together: the checks consult one set (their names never collide)."""
        return self.defects | self.leniencies

    @property
    def rs_algs(self) -> tuple[str, ...]:
        """The proof algorithms the resource advertises (algs) and accepts: the AS's, RS256 left out while others
        remain (a resource may accept less than its AS: rs-proof-alg-not-advertised has something to send)."""
        kept = tuple(alg for alg in self.signing_algs if alg != "RS256")
        return kept or self.signing_algs

    def demands_nonce(self, side: str) -> bool:
        """True when `side` ("as" or "rs") is configured to demand server-provided nonces."""
        return self.nonce in (side, "both")
