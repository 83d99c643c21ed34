"""JWS signature verification against a JWK, and ES256 signing for the server's own tokens.

The reference server verifies signatures with `cryptography` directly rather than through a JOSE
library, so that every rule of RFC 7518 it enforces (raw r||s length, curve per alg, RSA key size,
PSS salt length) is visible here and cannot be relaxed by a library default.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from conformance.jose import JOSEError, b64url_decode, b64url_encode

__all__ = [
    "PRIVATE_MEMBERS",
    "SignatureError",
    "alg_fits_key",
    "ec_public_jwk",
    "key_algorithm",
    "key_as_the_alg_reads_it",
    "sign_es256",
    "verify_signature",
]

# JWK members that only a private (or symmetric) key carries (RFC 7518 §6.2.2, §6.3.2, §6.4.1).
PRIVATE_MEMBERS: frozenset[str] = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})

# alg → (JWK crv, curve, hash, coordinate / half-signature size in bytes), RFC 7518 §3.4.
_EC_ALGS: dict[str, tuple[str, ec.EllipticCurve, hashes.HashAlgorithm, int]] = {
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
    crv, curve, digest, size = _EC_ALGS[alg]
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
    if alg in _EC_ALGS:
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
    if alg in _EC_ALGS:
        return kty == "EC" and crv == _EC_ALGS[alg][0]
    if alg in ("RS256", "PS256"):
        return kty == "RSA"
    if alg == "EdDSA":
        return kty == "OKP" and crv == "Ed25519"
    return False


def key_algorithm(jwk: dict[str, Any]) -> str | None:
    """The algorithm a key is normally used with, or None (only the `alg-policy` defect asks this).

    EC P-256/P-384/P-521 → ES256/ES384/ES512, RSA → RS256, OKP Ed25519 → EdDSA.
    """
    kty, crv = jwk.get("kty"), jwk.get("crv")
    if kty == "EC":
        return next((alg for alg, spec in _EC_ALGS.items() if spec[0] == crv), None)
    if kty == "RSA":
        return "RS256"
    if kty == "OKP" and crv == "Ed25519":
        return "EdDSA"
    return None


def key_as_the_alg_reads_it(jwk: dict[str, Any], alg: str) -> dict[str, Any]:
    """The `jwk-odd-member` leniency: the key a library builds from the material alone, the alg naming its kind.

    kty and crv come from the algorithm (ES256 → EC P-256, EdDSA → OKP Ed25519, RS256 → RSA) whatever the
    jwk says, and RSA's e and n lose leading zero octets, as a library reading them as integers does.
    """
    if alg in _EC_ALGS:
        return {**jwk, "kty": "EC", "crv": _EC_ALGS[alg][0]}
    if alg == "EdDSA":
        return {**jwk, "kty": "OKP", "crv": "Ed25519"}
    if alg in ("RS256", "PS256"):
        fixed = {**jwk, "kty": "RSA"}
        for name in ("e", "n"):
            value = jwk.get(name)
            if isinstance(value, str):
                with contextlib.suppress(JOSEError):
                    fixed[name] = b64url_encode(b64url_decode(value).lstrip(b"\x00") or b"\x00")
        return fixed
    return jwk


def sign_es256(private_key: ec.EllipticCurvePrivateKey, signing_input: bytes) -> bytes:
    """Sign with ES256 and return the JWS form of the signature (raw 32-byte r || 32-byte s)."""
    r, s = decode_dss_signature(private_key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def ec_public_jwk(private_key: ec.EllipticCurvePrivateKey) -> dict[str, str]:
    """The public JWK (kty, crv, x, y) of a P-256 private key."""
    numbers = private_key.public_key().public_numbers()
    return {
        "kty": "EC",
        "crv": "P-256",
        "x": b64url_encode(numbers.x.to_bytes(32, "big")),
        "y": b64url_encode(numbers.y.to_bytes(32, "big")),
    }
