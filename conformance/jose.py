"""JOSE primitives the suite computes itself: base64url, RFC 7638 thumbprints, `ath`, JWS parsing.

These are pure functions, unit-tested against the RFC vectors (RFC 7638 §3.1, RFC 9449 figures 4, 9,
13 and 14, RFC 8037 appendix A.3). The suite computes them itself rather than trusting a library, so a
thumbprint bug in a dependency cannot hide a binding bug in a server.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

__all__ = [
    "REQUIRED_THUMBPRINT_MEMBERS",
    "DecodedJWS",
    "JOSEError",
    "access_token_hash",
    "b64url_decode",
    "b64url_encode",
    "decode_jws",
    "json_b64",
    "peek_claims",
    "thumbprint",
]

# RFC 7638 §3.2 (and RFC 8037 §2 for OKP): the members that enter the thumbprint, per key type.
REQUIRED_THUMBPRINT_MEMBERS: dict[str, tuple[str, ...]] = {
    "EC": ("crv", "kty", "x", "y"),
    "RSA": ("e", "kty", "n"),
    "oct": ("k", "kty"),
    "OKP": ("crv", "kty", "x"),
}


class JOSEError(ValueError):
    """A value is not well-formed JOSE (bad base64url, not JSON, unknown key type)."""


def b64url_encode(data: bytes) -> str:
    """Encode bytes as base64url without padding (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Decode unpadded base64url, strictly: padding and characters outside the alphabet are errors."""
    if not _B64URL.fullmatch(text):
        raise JOSEError("not base64url: contains characters outside [A-Za-z0-9_-]")
    if len(text) % 4 == 1:
        raise JOSEError("not base64url: impossible length")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:  # pragma: no cover - alphabet check above catches these
        raise JOSEError(f"not base64url: {exc}") from exc


_B64URL = re.compile(r"[A-Za-z0-9_-]*")


def json_b64(value: Any) -> str:
    """Serialise a JSON value compactly and base64url-encode it, as JWS headers and payloads are."""
    return b64url_encode(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


def thumbprint(jwk: dict[str, Any]) -> str:
    """Return the RFC 7638 SHA-256 JWK thumbprint, base64url without padding.

    Only the required members of the key type enter the hash, in lexicographic order, with no
    white space: extra members such as `kid`, `use` or `alg` never change the result.
    """
    kty = jwk.get("kty")
    if not isinstance(kty, str) or kty not in REQUIRED_THUMBPRINT_MEMBERS:
        raise JOSEError(f"cannot compute a thumbprint for kty={kty!r}")
    members = REQUIRED_THUMBPRINT_MEMBERS[kty]
    missing = [m for m in members if not isinstance(jwk.get(m), str)]
    if missing:
        raise JOSEError(f"{kty} key lacks required member(s) {', '.join(missing)}")
    canonical = json.dumps({m: jwk[m] for m in members}, separators=(",", ":"), sort_keys=True)
    return b64url_encode(hashlib.sha256(canonical.encode("utf-8")).digest())


def access_token_hash(access_token: str) -> str:
    """Return the `ath` value: base64url(SHA-256(ASCII(access_token))), unpadded (RFC 9449 §4.2)."""
    return b64url_encode(hashlib.sha256(access_token.encode("ascii")).digest())


@dataclass(frozen=True)
class DecodedJWS:
    """A compact JWS split into its parts; header and payload decoded when they are JSON objects."""

    raw: str
    header: dict[str, Any]
    payload: dict[str, Any]
    signature: bytes
    signing_input: bytes


def decode_jws(compact: str) -> DecodedJWS:
    """Split and decode a compact JWS without verifying it.

    Raises JOSEError naming what is malformed: segment count, base64url, JSON, or a non-object.
    """
    parts = compact.split(".")
    if len(parts) != 3:
        raise JOSEError(f"a compact JWS has 3 segments, this value has {len(parts)}")
    decoded: list[dict[str, Any]] = []
    for name, part in zip(("header", "payload"), parts[:2], strict=False):
        try:
            value = json.loads(b64url_decode(part).decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise JOSEError(f"the {name} is not UTF-8 JSON") from exc
        if not isinstance(value, dict):
            raise JOSEError(f"the {name} is JSON but not an object")
        decoded.append(value)
    signature = b64url_decode(parts[2])
    return DecodedJWS(
        raw=compact,
        header=decoded[0],
        payload=decoded[1],
        signature=signature,
        signing_input=f"{parts[0]}.{parts[1]}".encode("ascii"),
    )


def peek_claims(token: str) -> dict[str, Any] | None:
    """The payload of a JWT without verifying it, or None when the token is not a decodable JWS."""
    try:
        return decode_jws(token).payload
    except JOSEError:
        return None
