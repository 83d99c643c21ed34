"""JOSE primitives the suite computes itself: base64url, RFC 7638 thumbprints, `ath`, JWS parsing.

These are pure functions, unit-tested against the RFC vectors (RFC 7638 §3.1, RFC 9449 figures 4, 9,
13 and 14, RFC 8037 appendix A.3). The suite computes them itself rather than trusting a library, so a
thumbprint bug in a dependency cannot hide a binding bug in a server.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

__all__ = [
    "EC_ALGS",
    "PRIVATE_MEMBERS",
    "REQUIRED_THUMBPRINT_MEMBERS",
    "DecodedJWS",
    "JOSEError",
    "SignatureError",
    "access_token_hash",
    "alg_fits_key",
    "b64url_decode",
    "b64url_encode",
    "decode_jws",
    "json_b64",
    "peek_claims",
    "thumbprint",
    "verify_signature",
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


# Signature verification: shared by the reference server (which refuses a proof that fails it) and the judging
# of a client's proofs (which reports it), so the two can never disagree on what verifies.

# JWK members that only a private (or symmetric) key carries (RFC 7518 §6.2.2, §6.3.2, §6.4.1).
PRIVATE_MEMBERS: frozenset[str] = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})

#: alg → (JWK crv, curve, hash, coordinate / half-signature size in bytes), RFC 7518 §3.4.
EC_ALGS: dict[str, tuple[str, ec.EllipticCurve, hashes.HashAlgorithm, int]] = {
    "ES256": ("P-256", ec.SECP256R1(), hashes.SHA256(), 32),
    "ES384": ("P-384", ec.SECP384R1(), hashes.SHA384(), 48),
    "ES512": ("P-521", ec.SECP521R1(), hashes.SHA512(), 66),
}

# RFC 7518 §3.3 and §3.5: "A key of size 2048 bits or larger MUST be used with these algorithms."
_MIN_RSA_BITS = 2048


class SignatureError(ValueError):
    """The signature does not verify, or the key cannot be used with the algorithm."""


def _member(jwk: dict[str, Any], name: str, size: int | None = None) -> bytes:
    value = jwk.get(name)
    if not isinstance(value, str) or not value:
        raise SignatureError(f"jwk member {name!r} is missing or not a string")
    try:
        raw = b64url_decode(value)
    except JOSEError as exc:
        raise SignatureError(f"jwk member {name!r} is not base64url") from exc
    if size is not None and len(raw) != size:
        raise SignatureError(f"jwk member {name!r} must be {size} bytes, got {len(raw)}")
    return raw


def _require_kty(jwk: dict[str, Any], alg: str, kty: str, crv: str | None = None) -> None:
    if jwk.get("kty") != kty or (crv is not None and jwk.get("crv") != crv):
        wanted = f"{kty} {crv}" if crv else kty
        raise SignatureError(f"alg {alg} requires an {wanted} key")


def _verify_ec(alg: str, jwk: dict[str, Any], signing_input: bytes, signature: bytes) -> None:
    crv, curve, digest, size = EC_ALGS[alg]
    _require_kty(jwk, alg, "EC", crv)
    x = int.from_bytes(_member(jwk, "x", size), "big")
    y = int.from_bytes(_member(jwk, "y", size), "big")
    try:
        key = ec.EllipticCurvePublicNumbers(x, y, curve).public_key()
    except ValueError as exc:
        raise SignatureError("jwk is not a point on its curve") from exc
    # JWS carries ECDSA signatures as fixed-length r||s (RFC 7518 §3.4), never DER.
    if len(signature) != 2 * size:
        raise SignatureError(f"{alg} signature must be {2 * size} bytes (r||s), got {len(signature)}")
    r = int.from_bytes(signature[:size], "big")
    s = int.from_bytes(signature[size:], "big")
    try:
        key.verify(encode_dss_signature(r, s), signing_input, ec.ECDSA(digest))
    except InvalidSignature as exc:
        raise SignatureError("signature does not verify") from exc


def _verify_rsa(
    alg: str, jwk: dict[str, Any], signing_input: bytes, signature: bytes, *, small_rsa: bool = False
) -> None:
    _require_kty(jwk, alg, "RSA")
    n = int.from_bytes(_member(jwk, "n"), "big")
    e = int.from_bytes(_member(jwk, "e"), "big")
    try:
        key = rsa.RSAPublicNumbers(e, n).public_key()
    except ValueError as exc:
        raise SignatureError("jwk is not a valid RSA public key") from exc
    if key.key_size < _MIN_RSA_BITS and not small_rsa:
        raise SignatureError(f"RSA keys must have at least {_MIN_RSA_BITS} bits")
    # RS256 is PKCS #1 v1.5; PS256 is PSS with MGF1-SHA256 and a salt as long as the hash (RFC 7518 §3.5).
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    pad: padding.AsymmetricPadding = padding.PKCS1v15() if alg == "RS256" else pss
    try:
        key.verify(signature, signing_input, pad, hashes.SHA256())
    except InvalidSignature as exc:
        raise SignatureError("signature does not verify") from exc


def _verify_eddsa(alg: str, jwk: dict[str, Any], signing_input: bytes, signature: bytes) -> None:
    _require_kty(jwk, alg, "OKP", "Ed25519")
    x = _member(jwk, "x", 32)
    try:
        key = Ed25519PublicKey.from_public_bytes(x)
    except ValueError as exc:
        raise SignatureError("jwk is not a valid Ed25519 public key") from exc
    try:
        key.verify(signature, signing_input)
    except InvalidSignature as exc:
        raise SignatureError("signature does not verify") from exc


def _verify_hs256(alg: str, jwk: dict[str, Any], signing_input: bytes, signature: bytes) -> None:
    # Only reachable under the `alg-hs256` defect: a symmetric "proof" proves nothing.
    _require_kty(jwk, alg, "oct")
    expected = hmac.new(_member(jwk, "k"), signing_input, hashlib.sha256).digest()
    if not hmac.compare_digest(expected, signature):
        raise SignatureError("signature does not verify")


def verify_signature(
    alg: str, jwk: dict[str, Any], signing_input: bytes, signature: bytes, *, small_rsa: bool = False
) -> None:
    """Verify a JWS signature made with `alg` by the key `jwk`; raise SignatureError otherwise.

    Supports ES256/ES384/ES512, RS256, PS256 (salt length 32), EdDSA (Ed25519 only) and HS256. The
    key type and curve must fit the algorithm. `small_rsa` (the `rsa-small-keys` defect) lets RSA keys
    under 2048 bits through.
    """
    if alg in EC_ALGS:
        _verify_ec(alg, jwk, signing_input, signature)
    elif alg in ("RS256", "PS256"):
        _verify_rsa(alg, jwk, signing_input, signature, small_rsa=small_rsa)
    elif alg == "EdDSA":
        _verify_eddsa(alg, jwk, signing_input, signature)
    elif alg == "HS256":
        _verify_hs256(alg, jwk, signing_input, signature)
    else:
        raise SignatureError(f"alg {alg} is not supported")


def alg_fits_key(alg: str, jwk: dict[str, Any]) -> bool:
    """True when verify_signature supports `alg` and the key type (and curve) of `jwk` fit it."""
    kty, crv = jwk.get("kty"), jwk.get("crv")
    if alg in EC_ALGS:
        return kty == "EC" and crv == EC_ALGS[alg][0]
    if alg in ("RS256", "PS256"):
        return kty == "RSA"
    if alg == "EdDSA":
        return kty == "OKP" and crv == "Ed25519"
    return False
