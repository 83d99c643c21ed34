"""DPoP proof JWTs (RFC 9449 §4.2): one builder of valid proofs, and the operations mutations use.

A `ProofDraft` is an unsigned proof: header, claims and the key that will sign it. Every negative case
starts from `new_proof(...)` and changes one thing, either before signing (`with_claims`,
`without_header`, `with_jwk_of`, ...) or after (`flip_signature_byte`, `replace_payload`, ...), so the
difference from a valid proof is always exactly the named mutation.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from conformance.client.keys import DPoPKey
from conformance.jose import access_token_hash, b64url_decode, b64url_encode, json_b64

__all__ = [
    "DPOP_TYP",
    "ProofDraft",
    "empty_signature",
    "flip_signature_byte",
    "htu_for",
    "insert_character",
    "new_jti",
    "new_proof",
    "odd_jwk",
    "padded",
    "replace_payload",
    "sign_until",
    "standard_alphabet",
]

DPOP_TYP = "dpop+jwt"
_DEFAULT_PORTS = {"http": 80, "https": 443}


def new_jti() -> str:
    """A fresh `jti`: 128 random bits, base64url (RFC 9449 §4.2 asks for at least 96)."""
    return b64url_encode(secrets.token_bytes(16))


def htu_for(url: str) -> str:
    """The `htu` for a request URL: no query, no fragment, lower-case scheme and host, no default port."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:  # an IPv6 literal keeps its brackets
        host = f"[{host}]"
    netloc = host if parts.port in (None, _DEFAULT_PORTS.get(scheme)) else f"{host}:{parts.port}"
    return urlunsplit((scheme, netloc, parts.path or "/", "", ""))


@dataclass(frozen=True)
class ProofDraft:
    """An unsigned DPoP proof: JOSE header, claims, and the key that signs it."""

    key: DPoPKey
    header: dict[str, Any] = field(default_factory=dict)
    claims: dict[str, Any] = field(default_factory=dict)
    # the access token the proof is for (RS requests), so `ath` mutations can hash it differently
    access_token: str | None = field(default=None, repr=False)

    # --- changes before signing -------------------------------------------------------------
    def with_header(self, **members: Any) -> ProofDraft:
        """A copy with header members set or replaced."""
        return replace(self, header={**self.header, **members})

    def without_header(self, *names: str) -> ProofDraft:
        """A copy with header members removed."""
        return replace(self, header={k: v for k, v in self.header.items() if k not in names})

    def with_claims(self, **claims: Any) -> ProofDraft:
        """A copy with claims set or replaced."""
        return replace(self, claims={**self.claims, **claims})

    def without_claims(self, *names: str) -> ProofDraft:
        """A copy with claims removed."""
        return replace(self, claims={k: v for k, v in self.claims.items() if k not in names})

    def with_jwk_of(self, other: DPoPKey) -> ProofDraft:
        """A copy whose `jwk` header names another key, while this draft's key still signs it."""
        return self.with_header(jwk=other.public_jwk())

    def with_private_jwk(self) -> ProofDraft:
        """A copy whose `jwk` header carries the private key members too (forbidden by §4.2)."""
        return self.with_header(jwk=self.key.private_jwk())

    # --- signing ---------------------------------------------------------------------------
    def signing_input(self) -> str:
        """`base64url(header).base64url(claims)`, the bytes a JWS signature covers."""
        return f"{json_b64(self.header)}.{json_b64(self.claims)}"

    def sign(self) -> str:
        """Sign with the draft's key as `alg` requires; returns the compact JWS."""
        head = self.signing_input()
        return f"{head}.{b64url_encode(self.key.sign(head.encode('ascii')))}"

    def sign_der(self) -> str:
        """Sign with a DER-encoded ECDSA signature instead of raw r‖s (invalid per RFC 7518 §3.4)."""
        head = self.signing_input()
        return f"{head}.{b64url_encode(self.key.sign(head.encode('ascii'), der=True))}"

    def sign_none(self, alg: str = "none") -> str:
        """Set `alg: none` (or another spelling of it, `alg`) and send an empty signature (forbidden by §4.3 and
        §11.6)."""
        head = self.with_header(alg=alg).signing_input()
        return f"{head}."

    def sign_raw(self, header_json: str, payload_json: str) -> str:
        """Sign exactly these JSON texts with the draft's key (what a dict cannot hold: duplicate members, a
        number written another way)."""
        head = f"{b64url_encode(header_json.encode())}.{b64url_encode(payload_json.encode())}"
        return f"{head}.{b64url_encode(self.key.sign(head.encode('ascii')))}"

    def sign_hs256_with_oct_jwk(self) -> str:
        """Sign with HMAC-SHA256 under a fresh secret that the `jwk` header (kty oct) discloses."""
        secret = secrets.token_bytes(32)
        draft = self.with_header(alg="HS256", jwk={"kty": "oct", "k": b64url_encode(secret)})
        head = draft.signing_input()
        mac = hmac.new(secret, head.encode("ascii"), hashlib.sha256).digest()
        return f"{head}.{b64url_encode(mac)}"


def new_proof(
    key: DPoPKey,
    method: str,
    url: str,
    *,
    nonce: str | None = None,
    access_token: str | None = None,
    iat: int | None = None,
) -> ProofDraft:
    """Build a valid proof for one request: `typ`, `alg`, public `jwk`; `jti`, `htm`, `htu`, `iat`.

    `nonce` is added when the server supplied one, and `ath` when an access token is presented.
    """
    claims: dict[str, Any] = {
        "jti": new_jti(),
        "htm": method,
        "htu": htu_for(url),
        "iat": int(time.time()) if iat is None else iat,
    }
    if nonce is not None:
        claims["nonce"] = nonce
    if access_token is not None:
        claims["ath"] = access_token_hash(access_token)
    header = {"typ": DPOP_TYP, "alg": key.alg, "jwk": key.public_jwk()}
    return ProofDraft(key=key, header=header, claims=claims, access_token=access_token)


# --- changes after signing (on the compact serialisation) --------------------------------------


def flip_signature_byte(compact: str, index: int = 0) -> str:
    """Flip the bits of one signature byte, so the signature no longer verifies."""
    head, _, sig = compact.rpartition(".")
    raw = bytearray(b64url_decode(sig))
    raw[index % len(raw)] ^= 0xFF
    return f"{head}.{b64url_encode(bytes(raw))}"


def empty_signature(compact: str) -> str:
    """Drop the signature bytes but keep three segments."""
    head, _, _ = compact.rpartition(".")
    return f"{head}."


def replace_payload(compact: str, claims: dict[str, Any]) -> str:
    """Swap in another payload after signing, keeping the original header and signature."""
    header, _, rest = compact.partition(".")
    _, _, sig = rest.partition(".")
    return f"{header}.{json_b64(claims)}.{sig}"


# --- lenient encodings: not well-formed, but the same decoded proof (conformance/judge/faults.py) -----------------


def sign_until(draft: ProofDraft, wanted: Callable[[str], bool], tries: int = 16) -> str:
    """Sign `draft`, re-signing with another `jti` until the compact proof satisfies `wanted`.

    A lenient encoding can only be written where the canonical text allows it (padding where a segment's
    length is not a multiple of 4, `+` where a segment has a `-`): a new jti, one character longer each
    time, gives another payload (of another length) and another signature.
    """
    compact = draft.sign()
    for extra in range(tries):
        if wanted(compact):
            return compact
        draft = draft.with_claims(jti=new_jti() + "x" * (extra % 3))
        compact = draft.sign()
    raise ValueError("no proof of the wanted shape after re-signing (the key's signatures never allow it)")


def padded(compact: str, segments: tuple[int, ...] = (0, 1, 2)) -> str:
    """The proof with `=` padding on each of `segments` whose length calls for it (RFC 4648 §4)."""
    parts = compact.split(".")
    for i in segments:
        parts[i] += "=" * (-len(parts[i]) % 4)
    return ".".join(parts)


def insert_character(compact: str, segment: int, position: int, char: str) -> str:
    """The proof with `char` inserted into one segment at `position` (taken modulo the segment's length + 1)."""
    parts = compact.split(".")
    text = parts[segment]
    i = position % (len(text) + 1)
    parts[segment] = text[:i] + char + text[i:]
    return ".".join(parts)


def standard_alphabet(compact: str, segment: int) -> str:
    """The proof with one segment in the standard base64 alphabet (+ and / for - and _): the same bytes."""
    parts = compact.split(".")
    parts[segment] = parts[segment].replace("-", "+").replace("_", "/")
    return ".".join(parts)


def odd_jwk(jwk: dict[str, Any], value: Any = None) -> dict[str, Any]:
    """The same public key, written oddly: EC and OKP with `crv` set to `value`; RSA with a leading zero in `e`.

    A JOSE library that infers the curve from the algorithm, or reads `e` as an integer, builds the very
    key the holder signed with.
    """
    if jwk.get("kty") == "RSA":
        return {**jwk, "e": b64url_encode(b"\x00" + b64url_decode(str(jwk["e"])))}
    return {**jwk, "crv": value}
