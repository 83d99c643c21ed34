"""Named mutations: each turns a valid proof draft into a signed proof that differs in one way.

Mutations are grouped by the part of the proof they act on (header, claims, signature). A negative case
names its mutation; the name, what it does and the catalog requirement it breaks appear in the report.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass

from conformance.jose import b64url_encode
from conformance.keys import generate_key
from conformance.proof import ProofDraft, empty_signature, flip_signature_byte, replace_payload

__all__ = ["MUTATIONS", "Mutation", "mutation"]


@dataclass(frozen=True)
class Mutation:
    """One named change to a valid proof, and the catalog requirement it makes the proof break."""

    name: str
    part: str  # "header" | "claims" | "signature"
    requirement: str
    description: str  # a noun phrase: "a proof with <description>"
    apply: Callable[[ProofDraft], str]

    def __call__(self, draft: ProofDraft) -> str:
        """Apply the mutation and return the signed (or deliberately mis-signed) compact proof."""
        return self.apply(draft)


MUTATIONS: dict[str, Mutation] = {}


def _register(
    name: str, part: str, requirement: str, description: str
) -> Callable[[Callable[[ProofDraft], str]], Callable[[ProofDraft], str]]:
    def decorate(fn: Callable[[ProofDraft], str]) -> Callable[[ProofDraft], str]:
        if name in MUTATIONS:  # pragma: no cover - a programming error caught at import
            raise ValueError(f"mutation {name!r} registered twice")
        MUTATIONS[name] = Mutation(name, part, requirement, description, fn)
        return fn

    return decorate


def mutation(name: str) -> Mutation:
    """Look a mutation up by name."""
    try:
        return MUTATIONS[name]
    except KeyError:
        raise KeyError(f"unknown mutation {name!r}; known: {', '.join(sorted(MUTATIONS))}") from None


def _shifted_last_char(value: str) -> str:
    """The same string with its last character replaced by another base64url character."""
    last = value[-1:]
    return value[:-1] + ("A" if last != "A" else "B")


# --- header ---------------------------------------------------------------------------------


@_register("typ-jwt", "header", "R-4.3-4", "typ JWT instead of dpop+jwt")
def _typ_jwt(d: ProofDraft) -> str:
    return d.with_header(typ="JWT").sign()


@_register("typ-at-jwt", "header", "R-4.3-4", "typ at+jwt (an access token's type)")
def _typ_at_jwt(d: ProofDraft) -> str:
    return d.with_header(typ="at+jwt").sign()


@_register("typ-missing", "header", "R-4.3-4", "no typ header")
def _typ_missing(d: ProofDraft) -> str:
    return d.without_header("typ").sign()


@_register("alg-none", "header", "R-4.3-5", "alg none and an empty signature")
def _alg_none(d: ProofDraft) -> str:
    return d.sign_none()


@_register("alg-hs256-oct-jwk", "header", "R-4.3-5", "alg HS256, keyed by a secret disclosed as an oct jwk")
def _alg_hs256(d: ProofDraft) -> str:
    return d.sign_hs256_with_oct_jwk()


@_register("alg-unknown", "header", "R-4.3-5", "the unregistered alg ES999")
def _alg_unknown(d: ProofDraft) -> str:
    return d.with_header(alg="ES999").sign()


@_register("jwk-private", "header", "R-4.3-7", "the private key members in its jwk")
def _jwk_private(d: ProofDraft) -> str:
    return d.with_private_jwk().sign()


@_register("jwk-missing-kid", "header", "R-4.3-7", "no jwk, only a kid naming the key")
def _jwk_kid(d: ProofDraft) -> str:
    return d.without_header("jwk").with_header(kid="dpop-key-1").sign()


# --- claims ---------------------------------------------------------------------------------


@_register("htm-wrong", "claims", "R-4.3-8", "an htm naming another method than the request's")
def _htm_wrong(d: ProofDraft) -> str:
    return d.with_claims(htm="POST" if d.claims.get("htm") != "POST" else "PUT").sign()


@_register("htu-other-path", "claims", "R-4.3-9", "an htu naming another path on the same host")
def _htu_other_path(d: ProofDraft) -> str:
    return d.with_claims(htu=str(d.claims["htu"]).rstrip("/") + "-other").sign()


@_register("iat-hour-past", "claims", "R-4.3-11", "an iat one hour in the past")
def _iat_past(d: ProofDraft) -> str:
    return d.with_claims(iat=int(time.time()) - 3600).sign()


@_register("iat-hour-future", "claims", "R-4.3-11", "an iat one hour in the future")
def _iat_future(d: ProofDraft) -> str:
    return d.with_claims(iat=int(time.time()) + 3600).sign()


@_register("ath-other-token", "claims", "R-4.3-12a", "an ath that hashes another access token")
def _ath_other(d: ProofDraft) -> str:
    other = hashlib.sha256(b"not-the-access-token").digest()
    return d.with_claims(ath=b64url_encode(other)).sign()


@_register("ath-missing", "claims", "R-4.3-12a", "no ath claim")
def _ath_missing(d: ProofDraft) -> str:
    return d.without_claims("ath").sign()


@_register("nonce-bogus", "claims", "R-4.3-10", "a nonce the server never issued")
def _nonce_bogus(d: ProofDraft) -> str:
    return d.with_claims(nonce="bogus-nonce-never-issued").sign()


@_register("nonce-one-char-changed", "claims", "R-4.3-10", "the server's nonce with its last character changed")
def _nonce_changed(d: ProofDraft) -> str:
    return d.with_claims(nonce=_shifted_last_char(str(d.claims.get("nonce", "n")))).sign()


# --- signature ------------------------------------------------------------------------------


@_register("signature-flipped-byte", "signature", "R-4.3-6", "one signature byte flipped")
def _sig_flip(d: ProofDraft) -> str:
    return flip_signature_byte(d.sign())


@_register("signature-empty", "signature", "R-4.3-6", "an empty signature segment")
def _sig_empty(d: ProofDraft) -> str:
    return empty_signature(d.sign())


@_register("payload-edited-after-signing", "signature", "R-4.3-6", "its jti changed after signing")
def _payload_edited(d: ProofDraft) -> str:
    return replace_payload(d.sign(), dict(d.claims, jti=str(d.claims.get("jti", "")) + "x"))


@_register("signed-by-other-key", "signature", "R-4.3-6", "a signature by key A while its jwk names key B")
def _sig_other_key(d: ProofDraft) -> str:
    return d.with_jwk_of(generate_key(d.key.alg)).sign()


@_register("ecdsa-der", "signature", "R-4.3-6", "a DER-encoded ECDSA signature instead of raw r‖s")
def _ecdsa_der(d: ProofDraft) -> str:
    return d.sign_der()
