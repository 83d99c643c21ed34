"""The reference server's keys: the verification it uses (from conformance.jose), ES256 signing for its own tokens.

Signatures are verified with `cryptography` directly rather than through a JOSE library, so that every rule of
RFC 7518 the server enforces (raw r||s length, curve per alg, RSA key size, PSS salt length) is visible and cannot
be relaxed by a library default. The verifier lives in conformance.jose since the judging of a client's proofs uses
the very same one; it is re-exported here for the server's modules.
"""

from __future__ import annotations

import contextlib
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from conformance.jose import (
    EC_ALGS,
    PRIVATE_MEMBERS,
    JOSEError,
    SignatureError,
    alg_fits_key,
    b64url_decode,
    b64url_encode,
    verify_signature,
)

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


def key_algorithm(jwk: dict[str, Any]) -> str | None:
    """The algorithm a key is normally used with, or None (only the `alg-policy` defect asks this).

    EC P-256/P-384/P-521 → ES256/ES384/ES512, RSA → RS256, OKP Ed25519 → EdDSA.
    """
    kty, crv = jwk.get("kty"), jwk.get("crv")
    if kty == "EC":
        return next((alg for alg, spec in EC_ALGS.items() if spec[0] == crv), None)
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
    if alg in EC_ALGS:
        return {**jwk, "kty": "EC", "crv": EC_ALGS[alg][0]}
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
