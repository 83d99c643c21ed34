"""Named mutations: each turns a valid proof draft into a signed proof that differs in one way.

Mutations are grouped by the part of the proof they act on (header, claims, signature). A negative case
names its mutation; the name, what it does and the catalog requirement it breaks appear in the report.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import SplitResult, urlsplit, urlunsplit

from conformance.jose import access_token_hash, b64url_encode, json_b64
from conformance.keys import DPoPKey, generate_key
from conformance.proof import ProofDraft, empty_signature, flip_signature_byte, replace_payload

__all__ = ["MUTATIONS", "Mutation", "mutation"]


@dataclass(frozen=True)
class Mutation:
    """One named change to a valid proof, and the catalog requirement it makes the proof break."""

    name: str
    part: str  # "structure" | "header" | "claims" | "signature"
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


def _one_char_changed(value: str) -> str:
    """The same string with its middle character replaced by another base64url character.

    Not the last one: in base64url the last character may carry only padding bits, so changing it can
    leave the decoded bytes as they were.
    """
    i = len(value) // 2
    return value[:i] + ("A" if value[i : i + 1] != "A" else "B") + value[i + 1 :]


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


@_register("nonce-one-char-changed", "claims", "R-4.3-10", "the server's nonce with one character changed")
def _nonce_changed(d: ProofDraft) -> str:
    return d.with_claims(nonce=_one_char_changed(str(d.claims.get("nonce", "n")))).sign()


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


# --- not a JWT (§4.3 check 2) -----------------------------------------------------------------


@_register("not-jwt-garbage", "structure", "R-4.3-2", "a value that is not a JWT at all (abc)")
def _garbage(d: ProofDraft) -> str:
    return "abc"


@_register("not-jwt-two-segments", "structure", "R-4.3-2", "only two segments (header.payload)")
def _two_segments(d: ProofDraft) -> str:
    return d.signing_input()


@_register("not-jwt-jwe", "structure", "R-4.3-2", "five segments, shaped as a JWE")
def _jwe(d: ProofDraft) -> str:
    header = json_b64({"alg": "RSA-OAEP-256", "enc": "A256GCM", "typ": "dpop+jwt"})
    parts = [b64url_encode(secrets.token_bytes(n)) for n in (256, 12, 64, 16)]
    return ".".join([header, *parts])


@_register("not-jwt-jws-json", "structure", "R-4.3-2", "the JWS JSON serialization instead of the compact one")
def _jws_json(d: ProofDraft) -> str:
    protected, payload, signature = d.sign().split(".")
    return json.dumps({"protected": protected, "payload": payload, "signature": signature}, separators=(",", ":"))


@_register("not-jwt-empty", "structure", "R-4.3-2", "an empty value")
def _empty(d: ProofDraft) -> str:
    return ""


@_register("not-jwt-base64", "structure", "R-4.3-2", "standard base64 characters (+ and /) in its segments")
def _bad_base64(d: ProofDraft) -> str:
    compact = d.sign()
    head, _, sig = compact.rpartition(".")
    return f"{head}.+/{sig[2:]}"


@_register("not-jwt-header-not-json", "structure", "R-4.3-2", "a header segment that is not JSON")
def _header_not_json(d: ProofDraft) -> str:
    _, payload, sig = d.sign().split(".")
    return f"{b64url_encode(b'not json')}.{payload}.{sig}"


# --- more header mutations ----------------------------------------------------------------------


@_register("alg-key-mismatch", "header", "R-4.3-5", "alg ES384 while the key and signature are ES256")
def _alg_mismatch(d: ProofDraft) -> str:
    return d.with_header(alg="ES384" if d.key.alg != "ES384" else "ES256").sign()


@_register("jwk-missing-jku", "header", "R-4.3-7", "no jwk, only a jku URL naming a key set")
def _jwk_jku(d: ProofDraft) -> str:
    return d.without_header("jwk").with_header(jku="https://127.0.0.1:9/jwks.json").sign()


@_register("jwk-missing-x5c", "header", "R-4.3-7", "no jwk, only an x5c certificate holding the key")
def _jwk_x5c(d: ProofDraft) -> str:
    return d.without_header("jwk").with_header(x5c=[self_signed_certificate(d.key)]).sign()


@_register("unknown-members", "header", "R-4.3-3", "an unknown header member and an unknown claim (to be ignored)")
def _unknown_members(d: ProofDraft) -> str:
    return d.with_header(**{"x-conformance": "ignore-me"}).with_claims(**{"x-conformance": "ignore-me"}).sign()


# --- more claim mutations -----------------------------------------------------------------------


def _drop(claim: str) -> Callable[[ProofDraft], str]:
    return lambda d: d.without_claims(claim).sign()


for _claim in ("jti", "htm", "htu", "iat"):
    _register(f"{_claim}-missing", "claims", "R-4.3-3", f"no {_claim} claim")(_drop(_claim))


@_register("iat-string", "claims", "R-4.3-3", "iat as a string of digits instead of a number")
def _iat_string(d: ProofDraft) -> str:
    return d.with_claims(iat=str(d.claims.get("iat", int(time.time())))).sign()


@_register("jti-number", "claims", "R-4.3-3", "jti as a number instead of a string")
def _jti_number(d: ProofDraft) -> str:
    return d.with_claims(jti=secrets.randbelow(2**53)).sign()


@_register("htm-lowercase", "claims", "R-4.3-8", "the request's method in lower case as htm")
def _htm_lower(d: ProofDraft) -> str:
    return d.with_claims(htm=str(d.claims.get("htm", "GET")).lower()).sign()


def _htu_parts(d: ProofDraft) -> SplitResult:
    return urlsplit(str(d.claims["htu"]))


@_register("htu-other-host", "claims", "R-4.3-9", "an htu naming another host")
def _htu_host(d: ProofDraft) -> str:
    parts = _htu_parts(d)
    port = f":{parts.port}" if parts.port else ""
    return d.with_claims(htu=urlunsplit((parts.scheme, f"other.example{port}", parts.path, "", ""))).sign()


@_register("htu-other-port", "claims", "R-4.3-9", "an htu naming another port")
def _htu_port(d: ProofDraft) -> str:
    parts = _htu_parts(d)
    default = 443 if parts.scheme == "https" else 80
    port = (parts.port or default) + 1
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    return d.with_claims(htu=urlunsplit((parts.scheme, f"{host}:{port}", parts.path, "", ""))).sign()


@_register("htu-other-scheme", "claims", "R-4.3-9", "an htu with the other scheme (http and https swapped)")
def _htu_scheme(d: ProofDraft) -> str:
    parts = _htu_parts(d)
    scheme = "http" if parts.scheme == "https" else "https"
    return d.with_claims(htu=urlunsplit((scheme, parts.netloc, parts.path, "", ""))).sign()


@_register("htu-path-case", "claims", "R-4.3-9", "an htu whose path is in upper case (paths are case-sensitive)")
def _htu_path_case(d: ProofDraft) -> str:
    parts = _htu_parts(d)
    path = parts.path.upper() if parts.path.upper() != parts.path else parts.path + "X"
    return d.with_claims(htu=urlunsplit((parts.scheme, parts.netloc, path, "", ""))).sign()


def _token_of(d: ProofDraft) -> str:
    if d.access_token is None:
        raise ValueError("this mutation needs a proof made for an access token (an RS request)")
    return d.access_token


@_register("ath-hex", "claims", "R-4.3-12a", "an ath in hex instead of base64url")
def _ath_hex(d: ProofDraft) -> str:
    return d.with_claims(ath=hashlib.sha256(_token_of(d).encode("ascii")).hexdigest()).sign()


@_register("ath-padded", "claims", "R-4.3-12a", "an ath with base64 = padding")
def _ath_padded(d: ProofDraft) -> str:
    return d.with_claims(ath=access_token_hash(_token_of(d)) + "=").sign()


@_register("ath-dpop-prefix", "claims", "R-4.3-12a", 'an ath computed over "DPoP " + the token')
def _ath_prefix(d: ProofDraft) -> str:
    return d.with_claims(ath=access_token_hash("DPoP " + _token_of(d))).sign()


def self_signed_certificate(key: DPoPKey) -> str:
    """A base64 (not base64url) DER self-signed certificate for `key`, as an x5c entry carries it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID

    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dpop-conformance")])
    now = datetime.now(UTC)
    digest = None if key.alg == "EdDSA" else hashes.SHA256()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.private_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(hours=1))
        .sign(key.private_key, digest)
    )
    return base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode("ascii")
