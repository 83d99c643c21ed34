"""Named mutations: each turns a valid proof draft into a signed proof that differs in one way.

Each mutation names the fault it introduces (conformance/judge/faults.py), which gives its part, the catalog
requirement it breaks and the level at which accepting it is judged, the same as for a fuzzed proof with
that fault. A negative case names its mutation; the name, what it does and the requirement appear in the
report. A mutation without a fault makes a proof that is still valid (unknown members, to be ignored).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import SplitResult, urlsplit, urlunsplit

from conformance.client.keys import DPoPKey, generate_key
from conformance.client.proof import (
    ProofDraft,
    empty_signature,
    flip_signature_byte,
    insert_character,
    odd_jwk,
    padded,
    replace_payload,
    sign_until,
    standard_alphabet,
)
from conformance.client.uri import equivalent
from conformance.jose import access_token_hash, b64url_encode, json_b64
from conformance.judge.faults import Change, fault

__all__ = ["MUTATIONS", "mutation"]


#: the changes the fixed cases name, by name
MUTATIONS: dict[str, Change] = {}


def _register(
    name: str, fault_id: str | None, description: str, *, requirement_if_valid: str = ""
) -> Callable[[Callable[[ProofDraft], str]], Callable[[ProofDraft], str]]:
    def decorate(fn: Callable[[ProofDraft], str]) -> Callable[[ProofDraft], str]:
        if name in MUTATIONS:  # pragma: no cover - a programming error caught at import
            raise ValueError(f"mutation {name!r} registered twice")
        chosen = fault(fault_id) if fault_id else None
        part = chosen.part if chosen else "header"  # a valid variant changes members of the header or claims
        MUTATIONS[name] = Change(name, chosen, description, fn, part, (name,), requirement_if_valid)
        return fn

    return decorate


def mutation(name: str) -> Change:
    """The change a fixed case names (MUTATIONS), by its name."""
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


@_register("typ-jwt", "typ-wrong", "typ JWT instead of dpop+jwt")
def _typ_jwt(d: ProofDraft) -> str:
    return d.with_header(typ="JWT").sign()


@_register("typ-at-jwt", "typ-wrong", "typ at+jwt (an access token's type)")
def _typ_at_jwt(d: ProofDraft) -> str:
    return d.with_header(typ="at+jwt").sign()


@_register("typ-missing", "typ-wrong", "no typ header")
def _typ_missing(d: ProofDraft) -> str:
    return d.without_header("typ").sign()


@_register("alg-none", "alg-none", "alg none and an empty signature")
def _alg_none(d: ProofDraft) -> str:
    return d.sign_none()


@_register("alg-hs256-oct-jwk", "alg-symmetric", "alg HS256, keyed by a secret disclosed as an oct jwk")
def _alg_hs256(d: ProofDraft) -> str:
    return d.sign_hs256_with_oct_jwk()


@_register("alg-unknown", "alg-not-accepted", "the unregistered alg ES999")
def _alg_unknown(d: ProofDraft) -> str:
    return d.with_header(alg="ES999").sign()


@_register(
    "alg-non-latin1",
    "alg-not-latin1",
    "alg \u0415S256, its E a Cyrillic capital IE (outside Latin-1: a header that echoes it cannot be sent)",
)
def _alg_non_latin1(d: ProofDraft) -> str:
    return d.with_header(alg="\u0415S256").sign()


@_register("b64-false", "b64-unencoded", "b64 false with crit [b64] (RFC 7797's unencoded payload option)")
def _b64_false(d: ProofDraft) -> str:
    # the payload segment stays base64url and the signature covers it as sent: what RFC 7797 signs with b64 false
    return d.with_header(b64=False, crit=["b64"]).sign()


@_register("jwk-private", "jwk-private", "the private key members in its jwk")
def _jwk_private(d: ProofDraft) -> str:
    return d.with_private_jwk().sign()


@_register("jwk-missing-kid", "jwk-missing", "no jwk, only a kid naming the key")
def _jwk_kid(d: ProofDraft) -> str:
    return d.without_header("jwk").with_header(kid="dpop-key-1").sign()


# --- claims ---------------------------------------------------------------------------------


@_register("htm-wrong", "htm-mismatch", "an htm naming another method than the request's")
def _htm_wrong(d: ProofDraft) -> str:
    return d.with_claims(htm="POST" if d.claims.get("htm") != "POST" else "PUT").sign()


@_register("htu-other-path", "htu-mismatch", "an htu naming another path on the same host")
def _htu_other_path(d: ProofDraft) -> str:
    return d.with_claims(htu=str(d.claims["htu"]).rstrip("/") + "-other").sign()


@_register("iat-hour-past", "iat-outside-window", "an iat one hour in the past")
def _iat_past(d: ProofDraft) -> str:
    return d.with_claims(iat=int(time.time()) - 3600).sign()


@_register("iat-hour-future", "iat-outside-window", "an iat one hour in the future")
def _iat_future(d: ProofDraft) -> str:
    return d.with_claims(iat=int(time.time()) + 3600).sign()


@_register("ath-other-token", "ath-wrong", "an ath that hashes another access token")
def _ath_other(d: ProofDraft) -> str:
    other = hashlib.sha256(b"not-the-access-token").digest()
    return d.with_claims(ath=b64url_encode(other)).sign()


@_register("ath-missing", "ath-wrong", "no ath claim")
def _ath_missing(d: ProofDraft) -> str:
    return d.without_claims("ath").sign()


@_register("nonce-bogus", "nonce-wrong", "a nonce the server never issued")
def _nonce_bogus(d: ProofDraft) -> str:
    return d.with_claims(nonce="bogus-nonce-never-issued").sign()


@_register("nonce-one-char-changed", "nonce-wrong", "the server's nonce with one character changed")
def _nonce_changed(d: ProofDraft) -> str:
    return d.with_claims(nonce=_one_char_changed(str(d.claims.get("nonce", "n")))).sign()


# --- signature ------------------------------------------------------------------------------


@_register("signature-flipped-byte", "signature-altered", "one signature byte flipped")
def _sig_flip(d: ProofDraft) -> str:
    return flip_signature_byte(d.sign())


@_register("signature-empty", "signature-empty", "an empty signature segment")
def _sig_empty(d: ProofDraft) -> str:
    return empty_signature(d.sign())


@_register("payload-edited-after-signing", "signature-altered", "its jti changed after signing")
def _payload_edited(d: ProofDraft) -> str:
    return replace_payload(d.sign(), dict(d.claims, jti=str(d.claims.get("jti", "")) + "x"))


@_register("signed-by-other-key", "signature-other-key", "a signature by key A while its jwk names key B")
def _sig_other_key(d: ProofDraft) -> str:
    return d.with_jwk_of(generate_key(d.key.alg)).sign()


@_register("ecdsa-der", "signature-der", "a DER-encoded ECDSA signature instead of raw r‖s")
def _ecdsa_der(d: ProofDraft) -> str:
    return d.sign_der()


# --- not a JWT (§4.3 check 2) -----------------------------------------------------------------


@_register("not-jwt-garbage", "not-a-jws", "a value that is not a JWT at all (abc)")
def _garbage(d: ProofDraft) -> str:
    return "abc"


@_register("not-jwt-two-segments", "not-a-jws", "only two segments (header.payload)")
def _two_segments(d: ProofDraft) -> str:
    return d.signing_input()


@_register("not-jwt-jwe", "not-a-jws", "five segments, shaped as a JWE")
def _jwe(d: ProofDraft) -> str:
    header = json_b64({"alg": "RSA-OAEP-256", "enc": "A256GCM", "typ": "dpop+jwt"})
    parts = [b64url_encode(secrets.token_bytes(n)) for n in (256, 12, 64, 16)]
    return ".".join([header, *parts])


@_register("not-jwt-jws-json", "not-a-jws", "the JWS JSON serialization instead of the compact one")
def _jws_json(d: ProofDraft) -> str:
    protected, payload, signature = d.sign().split(".")
    return json.dumps({"protected": protected, "payload": payload, "signature": signature}, separators=(",", ":"))


@_register("not-jwt-empty", "empty-value", "an empty value")
def _empty(d: ProofDraft) -> str:
    return ""


@_register("not-jwt-base64", "not-base64url", "standard base64 characters (+ and /) in its segments")
def _bad_base64(d: ProofDraft) -> str:
    compact = d.sign()
    head, _, sig = compact.rpartition(".")
    return f"{head}.+/{sig[2:]}"


@_register("not-jwt-header-not-json", "segment-not-json", "a header segment that is not JSON")
def _header_not_json(d: ProofDraft) -> str:
    _, payload, sig = d.sign().split(".")
    return f"{b64url_encode(b'not json')}.{payload}.{sig}"


# --- more header mutations ----------------------------------------------------------------------


@_register("alg-key-mismatch", "alg-not-accepted", "alg ES384 while the key and signature are ES256")
def _alg_mismatch(d: ProofDraft) -> str:
    return d.with_header(alg="ES384" if d.key.alg != "ES384" else "ES256").sign()


@_register("jwk-missing-jku", "jwk-missing", "no jwk, only a jku URL naming a key set")
def _jwk_jku(d: ProofDraft) -> str:
    return d.without_header("jwk").with_header(jku="https://127.0.0.1:9/jwks.json").sign()


@_register("jwk-missing-x5c", "jwk-missing", "no jwk, only an x5c certificate holding the key")
def _jwk_x5c(d: ProofDraft) -> str:
    return d.without_header("jwk").with_header(x5c=[self_signed_certificate(d.key)]).sign()


@_register(
    "unknown-members",
    None,
    "an unknown header member and an unknown claim (to be ignored)",
    requirement_if_valid="R-4.3-3",
)
def _unknown_members(d: ProofDraft) -> str:
    return d.with_header(**{"x-conformance": "ignore-me"}).with_claims(**{"x-conformance": "ignore-me"}).sign()


# --- more claim mutations -----------------------------------------------------------------------


def _drop(claim: str) -> Callable[[ProofDraft], str]:
    return lambda d: d.without_claims(claim).sign()


for _claim in ("jti", "htm", "htu", "iat"):
    _register(f"{_claim}-missing", "claim-missing", f"no {_claim} claim")(_drop(_claim))


@_register("iat-string", "iat-wrong-type", "iat as a string of digits instead of a number")
def _iat_string(d: ProofDraft) -> str:
    return d.with_claims(iat=str(d.claims.get("iat", int(time.time())))).sign()


@_register("jti-number", "jti-wrong-type", "jti as a number instead of a string")
def _jti_number(d: ProofDraft) -> str:
    return d.with_claims(jti=secrets.randbelow(2**53)).sign()


@_register("htm-lowercase", "htm-case", "the request's method in lower case as htm")
def _htm_lower(d: ProofDraft) -> str:
    return d.with_claims(htm=str(d.claims.get("htm", "GET")).lower()).sign()


def _htu_parts(d: ProofDraft) -> SplitResult:
    return urlsplit(str(d.claims["htu"]))


@_register("htu-other-host", "htu-mismatch", "an htu naming another host")
def _htu_host(d: ProofDraft) -> str:
    parts = _htu_parts(d)
    port = f":{parts.port}" if parts.port else ""
    return d.with_claims(htu=urlunsplit((parts.scheme, f"other.example{port}", parts.path, "", ""))).sign()


@_register("htu-other-port", "htu-mismatch", "an htu naming another port")
def _htu_port(d: ProofDraft) -> str:
    parts = _htu_parts(d)
    default = 443 if parts.scheme == "https" else 80
    port = (parts.port or default) + 1
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    return d.with_claims(htu=urlunsplit((parts.scheme, f"{host}:{port}", parts.path, "", ""))).sign()


@_register("htu-other-scheme", "htu-mismatch", "an htu with the other scheme (http and https swapped)")
def _htu_scheme(d: ProofDraft) -> str:
    parts = _htu_parts(d)
    scheme = "http" if parts.scheme == "https" else "https"
    return d.with_claims(htu=urlunsplit((scheme, parts.netloc, parts.path, "", ""))).sign()


@_register("htu-path-case", "htu-mismatch", "an htu whose path is in upper case (paths are case-sensitive)")
def _htu_path_case(d: ProofDraft) -> str:
    parts = _htu_parts(d)
    htu = urlunsplit((parts.scheme, parts.netloc, parts.path.upper(), "", ""))
    if equivalent(htu, str(d.claims["htu"])):  # a path without letters, or only percent-escapes in it
        htu = urlunsplit((parts.scheme, parts.netloc, parts.path + "X", "", ""))
    return d.with_claims(htu=htu).sign()


# htu values a parser confuses, sent as written (urllib's urlunsplit would normalise them away)


def _authority(d: ProofDraft) -> tuple[str, str, str]:
    parts = _htu_parts(d)
    return parts.scheme, parts.netloc, parts.path or "/"


@_register("htu-userinfo", "htu-mismatch", "an htu with userinfo before the request's host (attacker@host)")
def _htu_userinfo(d: ProofDraft) -> str:
    # RFC 3986 and WHATWG both read another URI (one with userinfo, or a username): a comparison of host and path
    # alone takes it
    scheme, netloc, path = _authority(d)
    return d.with_claims(htu=f"{scheme}://attacker@{netloc}{path}").sign()


@_register(
    "htu-backslash-authority",
    "htu-mismatch",
    "an htu of the form scheme://attacker.example\\@host/path (another host to a WHATWG parser, none to RFC 3986)",
)
def _htu_backslash_authority(d: ProofDraft) -> str:
    # WHATWG: host attacker.example, path /@host/path; RFC 3986: no URI (a backslash); Python's urlsplit: the
    # request's host with userinfo "attacker.example\": a server that compares what urlsplit reads takes it
    scheme, netloc, path = _authority(d)
    return d.with_claims(htu=f"{scheme}://attacker.example\\@{netloc}{path}").sign()


@_register("htu-backslash-path", "htu-backslash", "an htu with a backslash for the slash before its path")
def _htu_backslash_path(d: ProofDraft) -> str:
    scheme, netloc, path = _authority(d)
    return d.with_claims(htu=f"{scheme}://{netloc}\\{path[1:]}").sign()


def _token_of(d: ProofDraft) -> str:
    if d.access_token is None:
        raise ValueError("this mutation needs a proof made for an access token (an RS request)")
    return d.access_token


@_register("ath-hex", "ath-wrong", "an ath in hex instead of base64url")
def _ath_hex(d: ProofDraft) -> str:
    return d.with_claims(ath=hashlib.sha256(_token_of(d).encode("ascii")).hexdigest()).sign()


@_register("ath-padded", "ath-padded", "an ath with base64 = padding")
def _ath_padded(d: ProofDraft) -> str:
    return d.with_claims(ath=access_token_hash(_token_of(d)) + "=").sign()


@_register("ath-dpop-prefix", "ath-wrong", 'an ath computed over "DPoP " + the token')
def _ath_prefix(d: ProofDraft) -> str:
    return d.with_claims(ath=access_token_hash("DPoP " + _token_of(d))).sign()


# --- lenient encodings: not well-formed, yet the valid proof once decoded (faults.py: lenient) ----------------


@_register(
    "b64-padded",
    "b64-padding",
    "base64 = padding on its signature segment, or on its payload where the signature needs none (the same bytes "
    "once decoded)",
)
def _b64_padded(d: ProofDraft) -> str:
    # The signature first: a server that verifies over the text as received (most do) then still sees the
    # signing input the key holder signed, so this finds a decoder's leniency in the same place on every key
    # whose signature length is not a multiple of 3 bytes (ES256, RS256, PS256, EdDSA); ES384 and ES512 pad
    # the payload, whose length a longer jti changes.
    compact = d.sign()
    if len(compact.split(".")[2]) % 4:
        return padded(compact, (2,))
    return padded(sign_until(d, lambda c: len(c.split(".")[1]) % 4 != 0), (1,))


@_register(
    "b64-foreign-characters",
    "b64-foreign-characters",
    "a character outside base64url (*) inside its signature segment (a decoder that skips it reads the same bytes)",
)
def _b64_foreign(d: ProofDraft) -> str:
    compact = d.sign()
    return insert_character(compact, 2, len(compact.split(".")[2]) // 2, "*")


@_register(
    "b64-standard-alphabet",
    "b64-standard-alphabet",
    "its signature segment in the standard base64 alphabet (+ and / for - and _; the same bytes)",
)
def _b64_standard(d: ProofDraft) -> str:
    return standard_alphabet(sign_until(d, lambda c: any(ch in c.split(".")[2] for ch in "-_")), 2)


@_register(
    "jwk-odd-member",
    "jwk-odd-member",
    "the holder's key written oddly in its jwk (EC and OKP: crv null; RSA: a leading zero octet in e)",
)
def _jwk_odd(d: ProofDraft) -> str:
    return d.with_header(jwk=odd_jwk(d.header["jwk"])).sign()


# --- times (RFC 7519 §4.1.4 to §4.1.6) ---------------------------------------------------------------


@_register("exp-past", "exp-passed", "an exp an hour in the past (its iat now)")
def _exp_past(d: ProofDraft) -> str:
    return d.with_claims(exp=int(time.time()) - 3600).sign()


@_register("nbf-future", "nbf-future", "an nbf an hour in the future (its iat now)")
def _nbf_future(d: ProofDraft) -> str:
    return d.with_claims(nbf=int(time.time()) + 3600).sign()


@_register(
    "iat-fraction",
    None,
    "an iat with a fraction of a second (a NumericDate may have one, RFC 7519 §2)",
    requirement_if_valid="R-4.3-3",
)
def _iat_fraction(d: ProofDraft) -> str:
    return d.with_claims(iat=round(time.time() - 0.5, 3)).sign()


@_register(
    "iat-exponent",
    None,
    "an iat written in exponent notation, 1.7e9 style (the same JSON number, RFC 8259 §6)",
    requirement_if_valid="R-4.3-3",
)
def _iat_exponent(d: ProofDraft) -> str:
    iat = int(time.time())
    digits = str(iat)
    written = f"{digits[0]}.{digits[1:].rstrip('0') or '0'}E{len(digits) - 1}"  # 1764625812 -> 1.764625812E9
    payload = json.dumps({**d.claims, "iat": 0}, separators=(",", ":")).replace('"iat":0', f'"iat":{written}', 1)
    return d.sign_raw(json.dumps(d.header, separators=(",", ":")), payload)


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
