"""Hypothesis strategies of malformed DPoP proofs, grouped by the part of the proof they corrupt.

Each strategy draws a `Corruption`: a named, parameterised change that turns a valid proof draft into a
proof that MUST be refused, and the catalog requirement it breaks. The change is applied at send time
to a fresh valid draft (fresh jti, iat and nonce), so only the corruption differs from a valid proof.
Values the RFC leaves open (a `typ` of `DPOP+JWT`, extra `jwk` members, a lower-case `htm`) are never
generated: every drawn proof is one a conformant server refuses.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from hypothesis import strategies as st

from conformance.jose import access_token_hash, b64url_decode, b64url_encode
from conformance.keys import generate_key
from conformance.proof import ProofDraft

__all__ = ["ATTACK_PACK", "PARTS", "Corruption", "corruptions"]


@dataclass(frozen=True)
class Corruption:
    """One drawn change to a valid proof, the part it corrupts and the requirement it breaks."""

    part: str  # structure | header | claims | signature
    requirement: str
    description: str
    apply: Callable[[ProofDraft], str]
    # True when the change only makes the proof stale: a server may take freshness from its nonce instead
    stale_only: bool = False

    def __repr__(self) -> str:  # what Hypothesis prints for the minimal example
        return f"<{self.part}: {self.description} ({self.requirement})>"


def _segments(compact: str) -> list[str]:
    return compact.split(".")


def _signed_raw(draft: ProofDraft, header_json: str, payload_json: str) -> str:
    """Sign exactly these JSON texts (for duplicate members, which a dict cannot hold)."""
    head = f"{b64url_encode(header_json.encode())}.{b64url_encode(payload_json.encode())}"
    return f"{head}.{b64url_encode(draft.key.sign(head.encode('ascii')))}"


NON_OBJECT_JSON = st.one_of(
    st.integers(), st.text(max_size=8), st.booleans(), st.none(), st.lists(st.integers(), max_size=3)
)
WRONG_TYPES = st.one_of(
    st.integers(-(2**40), 2**40),
    st.booleans(),
    st.none(),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.floats(allow_nan=False),
)


# --- structure --------------------------------------------------------------------------------------


def _structure() -> st.SearchStrategy[Corruption]:
    def segment_count(n: int) -> Corruption:
        def apply(d: ProofDraft) -> str:
            parts = _segments(d.sign())
            return ".".join((parts * 3)[:n])

        return Corruption("structure", "R-4.3-2", f"{n} segments instead of 3", apply)

    def bad_char(segment: int, position: int, char: str) -> Corruption:
        def apply(d: ProofDraft) -> str:
            parts = _segments(d.sign())
            text = parts[segment]
            i = position % (len(text) + 1)
            parts[segment] = text[:i] + char + text[i:]
            return ".".join(parts)

        names = ("header", "payload", "signature")
        return Corruption("structure", "R-4.3-2", f"{char!r} inserted in the {names[segment]} segment", apply)

    def padding(segment: int, pad: str) -> Corruption:
        def apply(d: ProofDraft) -> str:
            parts = _segments(d.sign())
            parts[segment] += pad
            return ".".join(parts)

        return Corruption("structure", "R-4.3-2", f"base64 padding {pad!r} on segment {segment + 1}", apply)

    def not_json(which: str, raw: bytes) -> Corruption:
        def apply(d: ProofDraft) -> str:
            head, payload, _ = d.sign().split(".")
            if which == "header":
                head = b64url_encode(raw)
            else:
                payload = b64url_encode(raw)
            signing_input = f"{head}.{payload}"
            return f"{signing_input}.{b64url_encode(d.key.sign(signing_input.encode('ascii')))}"

        return Corruption("structure", "R-4.3-2", f"a {which} of bytes {raw[:24]!r} (not a JSON object)", apply)

    def not_object(which: str, value: Any) -> Corruption:
        text = json.dumps(value)
        return replace(
            not_json(which, text.encode()), description=f"a {which} that is JSON but not an object: {text[:30]}"
        )

    def duplicate(which: str) -> Corruption:
        def apply(d: ProofDraft) -> str:
            header = json.dumps(d.header, separators=(",", ":"))
            payload = json.dumps(d.claims, separators=(",", ":"))
            if which == "header":  # the lexically last typ wins (RFC 7515 §4), and it is wrong
                header = header[:-1] + ',"typ":"JWT"}'
            else:  # the lexically last htm wins (RFC 7519 §4), and it is wrong
                payload = payload[:-1] + ',"htm":"TRACE"}'
            return _signed_raw(d, header, payload)

        member = "typ" if which == "header" else "htm"
        return Corruption("structure", "R-4.3-2", f"a duplicate {member} in the {which}, the last one wrong", apply)

    def nested(depth: int) -> Corruption:
        value: Any = "GET"
        for _ in range(depth):
            value = [value]
        return Corruption(
            "structure", "R-4.3-3", f"htm nested {depth} lists deep", lambda d: d.with_claims(htm=value).sign()
        )

    def huge_htu(size: int) -> Corruption:
        return Corruption(
            "structure",
            "R-4.3-9",
            f"an htu {size} characters longer than the request's",
            lambda d: d.with_claims(htu=str(d.claims["htu"]) + "/" + "a" * size).sign(),
        )

    def non_utf8(which: str) -> Corruption:
        return not_json(which, b'\xff\xfe{"typ":\xc3\x28}')

    return st.one_of(
        st.sampled_from([0, 1, 2, 4, 5, 6]).map(segment_count),
        st.builds(bad_char, st.integers(0, 2), st.integers(0, 400), st.sampled_from(list("+/=*~%!"))),
        st.builds(padding, st.integers(0, 1), st.sampled_from(["=", "=="])),
        st.builds(
            not_json,
            st.sampled_from(["header", "payload"]),
            st.binary(min_size=1, max_size=40).filter(lambda b: not _is_json_object(b)),
        ),
        st.builds(not_object, st.sampled_from(["header", "payload"]), NON_OBJECT_JSON),
        st.sampled_from(["header", "payload"]).map(duplicate),
        st.integers(2, 200).map(nested),
        st.integers(1, 20000).map(huge_htu),
        st.sampled_from(["header", "payload"]).map(non_utf8),
    )


def _is_json_object(raw: bytes) -> bool:
    try:
        return isinstance(json.loads(raw), dict)
    except (ValueError, UnicodeDecodeError):
        return False


# --- header -------------------------------------------------------------------------------------------


def _header() -> st.SearchStrategy[Corruption]:
    def typ(value: Any) -> Corruption:
        return Corruption("header", "R-4.3-4", f"typ {value!r}", lambda d: d.with_header(typ=value).sign())

    def typ_missing() -> Corruption:
        return Corruption("header", "R-4.3-4", "no typ", lambda d: d.without_header("typ").sign())

    def alg(value: Any) -> Corruption:
        return Corruption(
            "header", "R-4.3-5", f"alg {value!r} (signature unchanged)", lambda d: d.with_header(alg=value).sign()
        )

    def alg_none() -> Corruption:
        return Corruption("header", "R-4.3-5", "alg none, empty signature", lambda d: d.sign_none())

    def hmac_with_public_key(name: str) -> Corruption:
        digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[name]

        def apply(d: ProofDraft) -> str:
            secret = json.dumps(d.key.public_jwk(), separators=(",", ":"), sort_keys=True).encode()
            head = d.with_header(alg=name).signing_input()
            return f"{head}.{b64url_encode(hmac.new(secret, head.encode('ascii'), digest).digest())}"

        return Corruption("header", "R-4.3-5", f"{name} keyed by the public jwk (key confusion)", apply)

    def jwk_private() -> Corruption:
        return Corruption("header", "R-4.3-7", "the private d in the jwk", lambda d: d.with_private_jwk().sign())

    def jwk_replaced(member: str, value: Any) -> Corruption:
        def apply(d: ProofDraft) -> str:
            return d.with_header(jwk={**d.header["jwk"], member: value}).sign()

        return Corruption("header", "R-4.3-6", f"jwk {member} set to {value!r}", apply)

    def jwk_not_object(value: Any) -> Corruption:
        return Corruption(
            "header", "R-4.3-7", f"jwk {value!r} (not an object)", lambda d: d.with_header(jwk=value).sign()
        )

    def key_reference(member: str, value: Any) -> Corruption:
        return Corruption(
            "header",
            "R-4.3-7",
            f"no jwk, {member} {value!r} instead",
            lambda d: d.without_header("jwk").with_header(**{member: value}).sign(),
        )

    def crit(name: str) -> Corruption:
        return Corruption(
            "header",
            "R-4.3-2",
            f"crit [{name!r}] (an extension the server cannot know)",
            lambda d: d.with_header(crit=[name], **{name: True}).sign(),
        )

    def b64_false() -> Corruption:
        return Corruption(
            "header",
            "R-4.3-2",
            "b64 false with crit [b64] (RFC 7797 unencoded payload)",
            lambda d: d.with_header(b64=False, crit=["b64"]).sign(),
        )

    typ_values = st.one_of(
        st.text(max_size=16).filter(lambda t: t.lower() not in ("dpop+jwt", "application/dpop+jwt")),
        st.sampled_from(["JWT", "at+jwt", "jwt", "dpop", "dpop+jws", "dpop+jwt ", " dpop+jwt"]),
        WRONG_TYPES,
    )
    alg_values = st.one_of(
        st.sampled_from(["es256", "ES256K", "ES384", "ES512", "RS256", "PS256", "EdDSA", "Ed25519", "HS256", ""]),
        st.text(min_size=1, max_size=10),
        WRONG_TYPES,
    ).filter(lambda a: a != "ES256")
    return st.one_of(
        typ_values.map(typ),
        st.just(typ_missing()),
        alg_values.map(alg),
        st.just(alg_none()),
        st.sampled_from(["HS256", "HS384", "HS512"]).map(hmac_with_public_key),
        st.just(jwk_private()),
        st.builds(
            jwk_replaced,
            st.sampled_from(["kty", "crv"]),
            st.one_of(st.sampled_from(["oct", "RSA", "OKP", "XYZ", "P-384", "P-521", "secp256k1", ""]), WRONG_TYPES),
        ),
        st.builds(
            jwk_replaced,
            st.sampled_from(["x", "y"]),
            st.one_of(st.text(max_size=50).filter(lambda t: len(t) < 40), WRONG_TYPES),
        ),
        st.one_of(st.text(max_size=10), WRONG_TYPES.filter(lambda v: not isinstance(v, dict))).map(jwk_not_object),
        st.builds(
            key_reference,
            st.sampled_from(["kid", "jku", "x5u", "x5c"]),
            st.one_of(st.text(max_size=30), st.lists(st.text(max_size=10), max_size=2)),
        ),
        st.sampled_from(["exp", "x-dpop", "urn:example:ext"]).map(crit),
        st.just(b64_false()),
    )


# --- claims -------------------------------------------------------------------------------------------


def _claims(*, with_token: bool) -> st.SearchStrategy[Corruption]:
    required = ["jti", "htm", "htu", "iat"] + (["ath"] if with_token else [])

    def missing(name: str) -> Corruption:
        return Corruption("claims", "R-4.3-3", f"no {name}", lambda d: d.without_claims(name).sign())

    def wrong_type(name: str, value: Any) -> Corruption:
        return Corruption(
            "claims", "R-4.3-3", f"{name} of the wrong type: {value!r}", lambda d: d.with_claims(**{name: value}).sign()
        )

    def empty(name: str) -> Corruption:
        return Corruption("claims", "R-4.3-3", f"{name} empty", lambda d: d.with_claims(**{name: ""}).sign())

    def htm_other(value: str) -> Corruption:
        # The drawn name can be the request's own method (POST at the token endpoint, or the resource's
        # configured method): that is no corruption, so the name gets an "S" then, as htu_off does with "~".
        def apply(d: ProofDraft) -> str:
            return d.with_claims(htm=value if value != d.claims["htm"] else value + "S").sign()

        return Corruption("claims", "R-4.3-8", f"htm {value!r} (+'S' if that is the request's method)", apply)

    def htu_off(position: int, char: str) -> Corruption:
        def apply(d: ProofDraft) -> str:
            htu = str(d.claims["htu"])
            start = htu.index("//") + 2
            i = start + position % (len(htu) - start)
            changed = htu[:i] + char + htu[i + 1 :]
            if changed.lower() == htu.lower():
                changed = htu[:i] + "~" + htu[i + 1 :] if htu[i] != "~" else htu[:i] + "q" + htu[i + 1 :]
            return d.with_claims(htu=changed).sign()

        return Corruption("claims", "R-4.3-9", f"htu with character {position} changed to {char!r}", apply)

    def iat_far(offset: int) -> Corruption:
        return Corruption(
            "claims",
            "R-4.3-11",
            f"iat {offset:+d} s from now",
            lambda d: d.with_claims(iat=int(time.time()) + offset).sign(),
            stale_only=True,
        )

    def iat_numeric_string() -> Corruption:
        return Corruption(
            "claims", "R-4.3-3", "iat as a string of digits", lambda d: d.with_claims(iat=str(d.claims["iat"])).sign()
        )

    def ath_off(position: int) -> Corruption:
        def apply(d: ProofDraft) -> str:
            ath = access_token_hash(d.access_token or "")
            i = position % (len(ath) - 1)  # not the last character: it may only carry padding bits
            return d.with_claims(ath=ath[:i] + ("A" if ath[i] != "A" else "B") + ath[i + 1 :]).sign()

        return Corruption("claims", "R-4.3-12a", f"ath with character {position} changed", apply)

    strategies = [
        st.sampled_from(required).map(missing),
        st.builds(
            wrong_type, st.sampled_from(["jti", "htm", "htu"]), WRONG_TYPES.filter(lambda v: not isinstance(v, str))
        ),
        st.builds(
            wrong_type,
            st.just("iat"),
            st.one_of(
                st.booleans(),
                st.none(),
                st.text(max_size=5).filter(lambda t: not t.strip().isdigit()),
                st.lists(st.integers(), max_size=2),
            ),
        ),
        st.just(iat_numeric_string()),
        st.sampled_from(["jti", "htm", "htu"]).map(empty),
        st.one_of(
            st.sampled_from(["PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "CONNECT", "GETX", "POSTS"]),
            st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=12),
        ).map(htm_other),
        st.builds(htu_off, st.integers(0, 200), st.sampled_from(list("xyz09/-_.:"))),
        st.one_of(st.integers(-(10**9), -3600), st.integers(3600, 10**9)).map(iat_far),
    ]
    if with_token:
        strategies += [
            st.integers(0, 41).map(ath_off),
            st.builds(wrong_type, st.just("ath"), WRONG_TYPES.filter(lambda v: not isinstance(v, str))),
            st.just("ath").map(empty),
        ]
    return st.one_of(*strategies)


# --- signature ---------------------------------------------------------------------------------------


def _signature() -> st.SearchStrategy[Corruption]:
    def replaced(name: str, make: Callable[[bytes], bytes]) -> Corruption:
        def apply(d: ProofDraft) -> str:
            head, _, sig = d.sign().rpartition(".")
            return f"{head}.{b64url_encode(make(b64url_decode(sig)))}"

        return Corruption("signature", "R-4.3-6", name, apply)

    def truncated(n: int) -> Corruption:
        return replaced(f"signature with its last {n} bytes cut", lambda s: s[:-n] if n < len(s) else b"")

    def extended(extra: bytes) -> Corruption:
        return replaced(f"signature with {len(extra)} bytes appended", lambda s: s + extra)

    def flipped(index: int, mask: int) -> Corruption:
        def flip(s: bytes) -> bytes:
            raw = bytearray(s)
            raw[index % len(raw)] ^= mask
            return bytes(raw)

        return replaced(f"signature byte {index} xor {mask:#04x}", flip)

    def other_key() -> Corruption:
        return Corruption(
            "signature",
            "R-4.3-6",
            "signed by another key than the jwk's",
            lambda d: d.with_jwk_of(generate_key(d.key.alg)).sign(),
        )

    def der() -> Corruption:
        def apply(d: ProofDraft) -> str:
            if not d.key.alg.startswith("ES"):  # only ECDSA has a DER form; break other signatures plainly
                head, _, sig = d.sign().rpartition(".")
                return f"{head}.{b64url_encode(bytes(b ^ 0x5A for b in b64url_decode(sig)))}"
            return d.sign_der()

        return Corruption("signature", "R-4.3-6", "ECDSA signature DER-encoded", apply)

    def signed_over_other_payload(claim: str) -> Corruption:
        def apply(d: ProofDraft) -> str:
            sig = d.with_claims(**{claim: "tampered"}).sign().rpartition(".")[2]
            return f"{d.signing_input()}.{sig}"

        return Corruption("signature", "R-4.3-6", f"the signature of a proof with another {claim}", apply)

    return st.one_of(
        st.just(replaced("empty signature", lambda s: b"")),
        st.just(replaced("all-zero signature (psychic signature, CVE-2022-21449)", lambda s: bytes(len(s)))),
        st.integers(1, 64).map(truncated),
        st.binary(min_size=1, max_size=16).map(extended),
        st.builds(flipped, st.integers(0, 511), st.integers(1, 255)),
        st.just(other_key()),
        st.just(der()),
        st.sampled_from(["jti", "htu"]).map(signed_over_other_payload),
    )


PARTS = ("structure", "header", "claims", "signature")


def corruptions(part: str, *, with_token: bool) -> st.SearchStrategy[Corruption]:
    """Malformed proofs that corrupt `part`; `with_token` adds ath corruptions (resource requests)."""
    if part == "structure":
        return _structure()
    if part == "header":
        return _header()
    if part == "claims":
        return _claims(with_token=with_token)
    if part == "signature":
        return _signature()
    raise ValueError(f"unknown part {part!r}; parts: {', '.join(PARTS)}")


def _attack(part: str, requirement: str, description: str, apply: Callable[[ProofDraft], str]) -> Corruption:
    return Corruption(part, requirement, description, apply)


def _zero_signature(d: ProofDraft) -> str:
    head, _, sig = d.sign().rpartition(".")
    return f"{head}.{b64url_encode(bytes(len(b64url_decode(sig))))}"


def _crit_with_garbage_signature(d: ProofDraft) -> str:
    head = d.with_header(crit=["x-dpop-conformance"], **{"x-dpop-conformance": True}).signing_input()
    return f"{head}.{b64url_encode(bytes(range(64)))}"


#: Known attacks tried first by every fuzz case of their part (as explicit examples), before random ones.
ATTACK_PACK: dict[str, list[Corruption]] = {
    "structure": [],
    "header": [
        _attack("header", "R-4.3-5", "alg none, empty signature (CVE-2015-2951)", lambda d: d.sign_none()),
        _attack("header", "R-4.3-2", "crit member and a signature that verifies nothing", _crit_with_garbage_signature),
    ],
    "claims": [
        _attack(
            "claims", "R-4.3-3", "iat as a string of digits", lambda d: d.with_claims(iat=str(d.claims["iat"])).sign()
        ),
    ],
    "signature": [
        _attack(
            "signature", "R-4.3-6", "empty signature (CVE-2020-28042)", lambda d: f"{d.sign().rpartition('.')[0]}."
        ),
        _attack("signature", "R-4.3-6", "all-zero signature (psychic signature, CVE-2022-21449)", _zero_signature),
    ],
}
