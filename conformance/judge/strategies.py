"""Hypothesis strategies of malformed DPoP proofs, grouped by the part of the proof they corrupt.

Each strategy draws a `Change` (conformance/judge/faults.py, the vocabulary the fixed cases name theirs in): a
parameterised change that turns a valid proof draft into a proof with one fault of the fault table, which gives
the requirement it breaks and the level at which accepting it is judged, the same as for a fixed case with that
fault. The change is
applied at send time to a fresh valid draft (fresh jti, iat and nonce), so only the corruption differs
from a valid proof.

Values the RFC leaves open (a `typ` of `DPOP+JWT`, extra `jwk` members, a lower-case `htm`'s cousins, an
`htu` that is another spelling of the request URI) are never generated. Lenient encodings (padding,
foreign characters, the standard alphabet, an odd `jwk` member) are generated, as faults of their own
level: a warning.

`coverage(part)` gives one deterministic example of every fault a part's strategy can draw (known attacks
among them), which every fuzz case sends before Hypothesis explores: so every kind of fault is tried in
every run, whatever the seed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from hypothesis import strategies as st

from conformance.client.keys import generate_key
from conformance.client.proof import (
    ProofDraft,
    insert_character,
    odd_jwk,
    padded,
    sign_until,
    standard_alphabet,
)
from conformance.client.uri import equivalent
from conformance.jose import REQUIRED_THUMBPRINT_MEMBERS, access_token_hash, b64url_decode, b64url_encode
from conformance.judge.faults import Change, fault
from conformance.judge.mutations import mutation

__all__ = ["PARTS", "corruptions", "coverage"]

PARTS = ("structure", "header", "claims", "signature")
_SEGMENTS = ("header", "payload", "signature")
#: characters outside the base64url alphabet (and not "." or ","): a decoder that skips them reads the same
#: bytes. "=" is not among them: Node's decoder stops at it, which changes the bytes.
FOREIGN_CHARACTERS = "+/*~%!$"
_KTY_OF = {
    "ES256": "EC",
    "ES384": "EC",
    "ES512": "EC",
    "RS256": "RSA",
    "PS256": "RSA",
    "EdDSA": "OKP",
    "Ed25519": "OKP",
    "Ed448": "OKP",
}


def _c(part: str, fault_id: str, description: str, apply: Callable[[ProofDraft], str], *key: Any) -> Change:
    """A drawn change of the fuzz case of `part`, named by its fault; `key` are the parameters it was made with."""
    return Change(fault_id, fault(fault_id), description, apply, part, (fault_id, description, *key))


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


def _segment_count(n: int) -> Change:
    def apply(d: ProofDraft) -> str:
        return ".".join((d.sign().split(".") * 3)[:n])

    if n == 0:
        return _c("structure", "empty-value", "an empty DPoP value (0 segments)", apply, n)
    return _c("structure", "not-a-jws", f"{n} segments instead of 3", apply, n)


def _foreign_character(segment: int, position: int, char: str) -> Change:
    return _c(
        "structure",
        "b64-foreign-characters",
        f"{char!r} inserted in the {_SEGMENTS[segment]} segment (at {position} modulo its length)",
        lambda d: insert_character(d.sign(), segment, position, char),
        segment,
        position,
        char,
    )


def _padding(segment: int, pad: str) -> Change:
    def apply(d: ProofDraft) -> str:
        parts = d.sign().split(".")
        parts[segment] += pad
        return ".".join(parts)

    return _c("structure", "b64-padding", f"{pad!r} appended to the {_SEGMENTS[segment]} segment", apply, segment)


def _correct_padding() -> Change:
    return _c(
        "structure",
        "b64-padding",
        "every segment padded with = to a multiple of 4 characters",
        lambda d: padded(sign_until(d, lambda c: any(len(p) % 4 for p in c.split(".")))),
    )


def _signature_padding() -> Change:
    """The coverage example: the signature padded where its length calls for it (ES256, RS256, PS256, Ed25519),
    else every segment that does. Whether the header and payload need padding depends on the key and the URL's
    length, and libraries that allow padding often allow it on the signature only (PyJWT), so the signature first
    keeps the verdict the same on every port; every segment padded is among the drawn examples."""

    def apply(d: ProofDraft) -> str:
        compact = d.sign()
        if len(compact.split(".")[2]) % 4:
            return padded(compact, (2,))
        return padded(sign_until(d, lambda c: any(len(p) % 4 for p in c.split("."))))

    return _c(
        "structure", "b64-padding", "the signature segment (else every segment) padded with = to a multiple of 4", apply
    )


def _standard_alphabet(segments: tuple[int, ...]) -> Change:
    # JSON text encodes to - and _ only around a few characters (> ? ~), so the header and payload seldom
    # have one to translate: the signature, whose bytes are random, always does after a re-signing or two
    def apply(d: ProofDraft) -> str:
        compact = sign_until(d, lambda c: any(ch in c.split(".")[2] for ch in "-_"))
        for segment in {*segments, 2}:
            compact = standard_alphabet(compact, segment)
        return compact

    names = " and ".join(_SEGMENTS[i] for i in sorted({*segments, 2}))
    return _c(
        "structure",
        "b64-standard-alphabet",
        f"the {names} in the standard alphabet (+ and / for - and _)",
        apply,
        segments,
    )


def _not_json(which: str, raw: bytes) -> Change:
    def apply(d: ProofDraft) -> str:
        head, payload, _ = d.sign().split(".")
        if which == "header":
            head = b64url_encode(raw)
        else:
            payload = b64url_encode(raw)
        signing_input = f"{head}.{payload}"
        return f"{signing_input}.{b64url_encode(d.key.sign(signing_input.encode('ascii')))}"

    return _c("structure", "segment-not-json", f"a {which} of bytes {raw[:24]!r} (not JSON)", apply, which, raw)


def _not_object(which: str, value: Any) -> Change:
    text = json.dumps(value)
    inner = _not_json(which, text.encode())
    return _c("structure", "segment-not-object", f"a {which} that is JSON but not an object: {text[:30]}", inner.apply)


def _duplicate(which: str) -> Change:
    def apply(d: ProofDraft) -> str:
        header = json.dumps(d.header, separators=(",", ":"))
        payload = json.dumps(d.claims, separators=(",", ":"))
        if which == "header":  # the lexically last typ wins (RFC 7515 §4), and it is wrong
            header = header[:-1] + ',"typ":"JWT"}'
        else:  # the lexically last htm wins (RFC 7519 §4), and it is wrong
            payload = payload[:-1] + ',"htm":"TRACE"}'
        return d.sign_raw(header, payload)

    member = "typ" if which == "header" else "htm"
    return _c("structure", "duplicate-member", f"a duplicate {member} in the {which}, the last one wrong", apply)


def _nested(depth: int) -> Change:
    value: Any = "GET"
    for _ in range(depth):
        value = [value]
    what = f"htm nested {depth} lists deep"
    return _c("structure", "htm-not-a-string", what, lambda d: d.with_claims(htm=value).sign())


def _huge_htu(size: int) -> Change:
    return _c(
        "structure",
        "htu-mismatch",
        f"an htu {size + 1} characters longer than the request's",
        lambda d: d.with_claims(htu=str(d.claims["htu"]) + "/" + "a" * size).sign(),
    )


def _non_utf8(which: str) -> Change:
    return _not_json(which, b'\xff\xfe{"typ":\xc3\x28}')


def _is_json_object(raw: bytes) -> bool:
    try:
        return isinstance(json.loads(raw), dict)
    except (ValueError, UnicodeDecodeError):
        return False


def _structure() -> st.SearchStrategy[Change]:
    return st.one_of(
        st.sampled_from([0, 1, 2, 4, 5, 6]).map(_segment_count),
        st.builds(_foreign_character, st.integers(0, 2), st.integers(0, 400), st.sampled_from(FOREIGN_CHARACTERS)),
        st.builds(_padding, st.integers(0, 2), st.sampled_from(["=", "=="])),
        st.just(_correct_padding()),
        st.sampled_from([(2,), (0, 2), (1, 2), (0, 1, 2)]).map(_standard_alphabet),
        st.builds(
            _not_json,
            st.sampled_from(["header", "payload"]),
            st.binary(min_size=1, max_size=40).filter(lambda b: not _is_json_object(b)),
        ),
        st.builds(_not_object, st.sampled_from(["header", "payload"]), NON_OBJECT_JSON),
        st.sampled_from(["header", "payload"]).map(_duplicate),
        st.integers(2, 200).map(_nested),
        # up to ~6,000 characters: the proof stays under the 8 KiB that many servers allow a header line (nginx;
        # Node allows 16 KiB for them all), so the server's JOSE code sees it rather than its HTTP parser
        st.integers(1, 6000).map(_huge_htu),
        st.sampled_from(["header", "payload"]).map(_non_utf8),
    )


def _structure_coverage() -> list[Change]:
    return [
        _segment_count(0),
        _segment_count(2),
        _foreign_character(2, 40, "*"),
        _signature_padding(),
        _standard_alphabet((2,)),
        _not_json("header", b"not json"),
        _not_object("payload", [1, 2]),
        _duplicate("header"),
    ]


# --- header -------------------------------------------------------------------------------------------


def _non_ascii(value: Any, prefix: str) -> str | None:
    """The fault of a text outside ASCII (`prefix`-not-ascii, or -not-latin1 beyond Latin-1), else None."""
    if not isinstance(value, str) or value.isascii():
        return None
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        return f"{prefix}-not-latin1"
    return f"{prefix}-not-ascii"


def _typ(value: Any) -> Change:
    fault_id = _non_ascii(value, "typ") or "typ-wrong"
    return _c("header", fault_id, f"typ {value!r}", lambda d: d.with_header(typ=value).sign(), repr(value))


def _typ_missing() -> Change:
    return _c("header", "typ-wrong", "no typ", lambda d: d.without_header("typ").sign())


def _alg(value: Any, own: str) -> Change:
    """alg set to `value` with the signature of the key's own algorithm left as it is."""
    if _non_ascii(value, "alg"):
        fault_id = _non_ascii(value, "alg") or ""
    elif isinstance(value, str) and value.lower() == "none":
        fault_id = "alg-none"
    elif isinstance(value, str) and value.upper().startswith("HS"):
        fault_id = "alg-symmetric"
    elif isinstance(value, str) and value.lower() == own.lower():
        fault_id = "alg-case"  # the key's own algorithm, spelt in another case: the same signature
    else:
        fault_id = "alg-not-accepted"
    return _c(
        "header",
        fault_id,
        f"alg {value!r} ({own} signature unchanged)",
        lambda d: d.with_header(alg=value).sign(),
        repr(value),
    )


def _alg_none(value: str = "none") -> Change:
    def apply(d: ProofDraft) -> str:
        return d.sign_none(value)

    return _c("header", "alg-none", f"alg {value!r}, empty signature (CVE-2015-2951)", apply, value)


def _hmac_with_public_key(name: str) -> Change:
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[name]

    def apply(d: ProofDraft) -> str:
        secret = json.dumps(d.key.public_jwk(), separators=(",", ":"), sort_keys=True).encode()
        head = d.with_header(alg=name).signing_input()
        return f"{head}.{b64url_encode(hmac.new(secret, head.encode('ascii'), digest).digest())}"

    return _c("header", "alg-symmetric", f"{name} keyed by the public jwk (key confusion)", apply)


def _jwk_private() -> Change:
    return _c("header", "jwk-private", "the private key members in the jwk", mutation("jwk-private").apply)


def _jwk_odd(member: str, value: Any) -> Change:
    """kty or crv of the jwk replaced, the key material left as it is: a library that ignores it verifies."""

    def apply(d: ProofDraft) -> str:
        jwk = odd_jwk(d.header["jwk"]) if member == "e" else {**d.header["jwk"], member: value}
        return d.with_header(jwk=jwk).sign()

    text = "e with a leading zero octet" if member == "e" else f"{member} set to {value!r}"
    return _c("header", "jwk-odd-member", f"jwk {text} (the key material unchanged)", apply, member, repr(value))


def _jwk_other_key(member: str, value: Any) -> Change:
    """A member of the key material replaced: the jwk names another key (or none), which did not sign."""

    def apply(d: ProofDraft) -> str:
        return d.with_header(jwk={**d.header["jwk"], member: value}).sign()

    return _c("header", "jwk-other-key", f"jwk {member} set to {value!r}", apply, member, repr(value))


def _jwk_not_object(value: Any) -> Change:
    return _c(
        "header",
        "jwk-missing",
        f"jwk {value!r} (not an object)",
        lambda d: d.with_header(jwk=value).sign(),
        repr(value),
    )


def _key_reference(member: str, value: Any) -> Change:
    return _c(
        "header",
        "jwk-missing",
        f"no jwk, {member} {value!r} instead",
        lambda d: d.without_header("jwk").with_header(**{member: value}).sign(),
        member,
        repr(value),
    )


def _crit(name: str) -> Change:
    return _c(
        "header",
        "crit-unknown",
        f"crit [{name!r}] (an extension the server cannot know)",
        lambda d: d.with_header(crit=[name], **{name: True}).sign(),
        name,
    )


def _crit_with_garbage_signature() -> Change:
    def apply(d: ProofDraft) -> str:
        head = d.with_header(crit=["x-dpop-conformance"], **{"x-dpop-conformance": True}).signing_input()
        return f"{head}.{b64url_encode(bytes(range(64)))}"

    return _c("header", "crit-unknown", "a crit member and a signature that verifies nothing", apply)


def _b64_false() -> Change:
    # the payload segment stays base64url, and the signature covers it as sent: what RFC 7797 signs with b64 false
    return _c(
        "header",
        "b64-unencoded",
        "b64 false with crit [b64] (RFC 7797's unencoded payload, which a JWT MUST NOT use)",
        lambda d: d.with_header(b64=False, crit=["b64"]).sign(),
    )


#: alg and typ values outside ASCII: a server that copies them into a header of its answer (an error description
#: in WWW-Authenticate) fails on the ones outside Latin-1, which HTTP field values cannot carry
NON_ASCII_ALGS = ("ES256\u00e9", "\u0415S256")  # é (Latin-1), and a Cyrillic capital IE for the E (not Latin-1)
NON_ASCII_TYPS = ("dpop+jwt\u00e9", "dpop+\u0458wt")  # é, and a Cyrillic je for the j


def _material(alg: str) -> list[str]:
    """The members that carry the key itself (they enter its thumbprint), for a key of `alg`."""
    kty = _KTY_OF.get(alg, "EC")
    return [m for m in REQUIRED_THUMBPRINT_MEMBERS[kty] if m not in ("kty", "crv")]


def _open_typ(value: Any) -> bool:
    """A typ the RFC leaves open (its case, the application/ prefix, RFC 7515 §4.1.9): not a fault."""
    return isinstance(value, str) and value.strip().lower() in ("dpop+jwt", "application/dpop+jwt")


def _header(alg: str) -> st.SearchStrategy[Change]:
    typ_values = st.one_of(
        st.text(max_size=16),
        st.sampled_from(["JWT", "at+jwt", "jwt", "dpop", "dpop+jws", "jwt+dpop"]),
        WRONG_TYPES,
    ).filter(lambda v: not _open_typ(v))
    alg_values = st.one_of(
        st.sampled_from(
            ["es256", "ES256K", "ES384", "ES512", "RS256", "PS256", "EdDSA", "Ed25519", "HS256", "", "None"]
        ),
        st.text(min_size=1, max_size=10),
        WRONG_TYPES,
    ).filter(lambda a: a != alg)
    odd_member = ["e"] if _KTY_OF.get(alg) == "RSA" else ["kty", "crv"]
    return st.one_of(
        typ_values.map(_typ),
        st.just(_typ_missing()),
        alg_values.map(lambda v: _alg(v, alg)),
        st.sampled_from(["none", "None", "NONE"]).map(_alg_none),
        st.sampled_from(["HS256", "HS384", "HS512"]).map(_hmac_with_public_key),
        st.just(_jwk_private()),
        st.builds(
            _jwk_odd,
            st.sampled_from(odd_member),
            st.one_of(st.sampled_from(["oct", "RSA", "OKP", "XYZ", "P-384", "P-521", "secp256k1", ""]), WRONG_TYPES),
        ),
        st.builds(
            _jwk_other_key,
            st.sampled_from(_material(alg)),
            st.one_of(st.text(max_size=50).filter(lambda t: len(t) < 40), WRONG_TYPES),
        ),
        st.one_of(st.text(max_size=10), WRONG_TYPES.filter(lambda v: not isinstance(v, dict))).map(_jwk_not_object),
        st.builds(
            _key_reference,
            st.sampled_from(["kid", "jku", "x5u", "x5c"]),
            st.one_of(st.text(max_size=30), st.lists(st.text(max_size=10), max_size=2)),
        ),
        st.sampled_from(["exp", "x-dpop", "urn:example:ext"]).map(_crit),
        st.just(_b64_false()),
        st.sampled_from(NON_ASCII_ALGS).map(lambda v: _alg(v, alg)),
        st.sampled_from(NON_ASCII_TYPS).map(_typ),
    )


def _header_coverage(alg: str) -> list[Change]:
    odd = _jwk_odd("e", None) if _KTY_OF.get(alg) == "RSA" else _jwk_odd("crv", None)
    return [
        _alg_none(),
        _crit_with_garbage_signature(),
        _typ("JWT"),
        _hmac_with_public_key("HS256"),
        _alg("ES999", alg),
        _alg(alg.lower(), alg),
        _jwk_private(),
        _key_reference("kid", "dpop-key-1"),
        _jwk_other_key(_material(alg)[0], "AAAA"),
        odd,
        _b64_false(),
        *(_alg(value, alg) for value in NON_ASCII_ALGS),
        *(_typ(value) for value in NON_ASCII_TYPS),
    ]


# --- claims -------------------------------------------------------------------------------------------


def _missing(name: str) -> Change:
    fault_id = "ath-wrong" if name == "ath" else "claim-missing"
    return _c("claims", fault_id, f"no {name}", lambda d: d.without_claims(name).sign(), name)


# (an iat of another type than a number names no time at all: iat-not-a-number; a string of digits still does,
# and is drawn apart, as iat-wrong-type)
_TYPE_FAULTS = {
    "jti": "jti-wrong-type",
    "iat": "iat-not-a-number",
    "htm": "htm-not-a-string",
    "htu": "htu-not-a-string",
}


def _wrong_type(name: str, value: Any) -> Change:
    fault_id = _TYPE_FAULTS.get(name, "ath-wrong")
    if name == "jti" and isinstance(value, list | dict):  # the shapes a jti cache that hashes jti.encode() fails on
        fault_id = "jti-array" if isinstance(value, list) else "jti-object"
    return _c(
        "claims",
        fault_id,
        f"{name} of the wrong type: {value!r}",
        lambda d: d.with_claims(**{name: value}).sign(),
        name,
        repr(value),
    )


def _jti_number() -> Change:
    # a new number each time: a replay cache remembers a jti across requests (and across runs, within its
    # window), and would refuse a fixed one the second time as a replay, hiding the finding
    return _c("claims", "jti-wrong-type", "jti as a number (a new one each time)", mutation("jti-number").apply)


def _empty(name: str) -> Change:
    # an empty jti is no fault of the server's: the claim is there, and its uniqueness is the client's duty
    fault_id = {"htm": "htm-mismatch", "htu": "htu-mismatch", "ath": "ath-wrong"}[name]
    return _c("claims", fault_id, f"{name} empty", lambda d: d.with_claims(**{name: ""}).sign(), name)


def _htm_other(value: str) -> Change:
    # The drawn name can be the request's own method (POST at the token endpoint, or the resource's
    # configured method): that is no corruption, so the name gets an "S" then, as htu_off does with "~".
    def apply(d: ProofDraft) -> str:
        return d.with_claims(htm=value if value != d.claims["htm"] else value + "S").sign()

    return _c("claims", "htm-mismatch", f"htm {value!r} (+'S' if that is the request's method)", apply, value)


def _htm_lower() -> Change:
    return _c("claims", "htm-case", "the request's method in lower case as htm", mutation("htm-lowercase").apply)


def _htu_off(position: int, char: str) -> Change:
    def apply(d: ProofDraft) -> str:
        htu = str(d.claims["htu"])
        start = htu.index("//") + 2
        i = start + position % (len(htu) - start)
        for replacement in (char, "~", "q"):
            changed = htu[:i] + replacement + htu[i + 1 :]
            # a near miss must name another resource under every normalisation a server may apply
            # (RFC 3986 §6.2.2/§6.2.3, WHATWG URL parsing): 127.0x0.1 is 127.0.0.1 to a Node server
            if changed != htu and not equivalent(changed, htu):
                return d.with_claims(htu=changed).sign()
        return d.with_claims(htu=htu.rstrip("/") + "/other").sign()

    return _c(
        "claims",
        "htu-mismatch",
        f"htu with character {position} changed to {char!r} (or another, where that spelling names the same URI)",
        apply,
        position,
        char,
    )


def _htu_port(port: int) -> Change:
    """An htu whose port is out of range (a URL parser that raises on it, unguarded, fails the request)."""

    def apply(d: ProofDraft) -> str:
        parts = urlsplit(str(d.claims["htu"]))
        host = parts.hostname or ""
        host = f"[{host}]" if ":" in host else host
        return d.with_claims(htu=urlunsplit((parts.scheme, f"{host}:{port}", parts.path, "", ""))).sign()

    return _c("claims", "htu-port-out-of-range", f"htu with the out-of-range port {port}", apply, port)


def _htu_authority(authority: str) -> Change:
    """An htu whose authority is no valid host (an unclosed or misused IPv6 bracket): no URI, or another one."""

    def apply(d: ProofDraft) -> str:
        parts = urlsplit(str(d.claims["htu"]))
        return d.with_claims(htu=f"{parts.scheme}://{authority}{parts.path}").sign()

    return _c("claims", "htu-host-malformed", f"htu with the malformed host {authority!r}", apply, authority)


def _htu_truncated(cut: int) -> Change:
    """The htu with its last characters cut: a prefix of the request URI, which a startswith comparison takes."""

    def apply(d: ProofDraft) -> str:
        htu = str(d.claims["htu"])
        start = htu.index("//") + 3  # keep the scheme and one character of the host
        for n in range(min(cut, len(htu) - start), len(htu) - start + 1):
            shorter = htu[: len(htu) - n]
            if not equivalent(shorter, htu):  # "http://h/" cut to "http://h" is the same URI: cut more
                return d.with_claims(htu=shorter).sign()
        return d.with_claims(htu=htu + "-other").sign()

    what = f"htu with its last {cut} character(s) cut (a prefix of the request URI)"
    return _c("claims", "htu-truncated", what, apply, cut)


MALFORMED_AUTHORITIES = ("[::1", "[127.0.0.1]", "[::1]]", "[v7.host]")


def _iat_far(offset: int) -> Change:
    return _c(
        "claims",
        "iat-outside-window",
        f"iat {offset:+d} s from now",
        lambda d: d.with_claims(iat=int(time.time()) + offset).sign(),
        offset,
    )


def _iat_numeric_string() -> Change:
    return _c(
        "claims",
        "iat-wrong-type",
        "iat as a string of digits",
        mutation("iat-string").apply,
    )


def _ath_off(position: int) -> Change:
    def apply(d: ProofDraft) -> str:
        ath = access_token_hash(d.access_token or "")
        i = position % (len(ath) - 1)  # not the last character: it may only carry padding bits
        return d.with_claims(ath=ath[:i] + ("A" if ath[i] != "A" else "B") + ath[i + 1 :]).sign()

    return _c("claims", "ath-wrong", f"ath with character {position} changed", apply, position)


def _claims(*, with_token: bool) -> st.SearchStrategy[Change]:
    required = ["jti", "htm", "htu", "iat"] + (["ath"] if with_token else [])
    strategies = [
        st.sampled_from(required).map(_missing),
        st.builds(
            _wrong_type, st.sampled_from(["jti", "htm", "htu"]), WRONG_TYPES.filter(lambda v: not isinstance(v, str))
        ),
        st.builds(
            _wrong_type,
            st.just("iat"),
            st.one_of(
                st.booleans(),
                st.none(),
                st.text(max_size=5).filter(lambda t: not t.strip().isdigit()),
                st.lists(st.integers(), max_size=2),
            ),
        ),
        st.just(_iat_numeric_string()),
        st.sampled_from(["htm", "htu"]).map(_empty),
        st.one_of(
            st.sampled_from(["PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "CONNECT", "GETX", "POSTS"]),
            st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=12),
        ).map(_htm_other),
        st.just(_htm_lower()),
        st.builds(_htu_off, st.integers(0, 200), st.sampled_from(list("xyz09/-_.:"))),
        st.sampled_from([65536, 99999, 2**31, 10**12]).map(_htu_port),
        st.sampled_from(MALFORMED_AUTHORITIES).map(_htu_authority),
        st.integers(1, 40).map(_htu_truncated),
        st.builds(_wrong_type, st.just("jti"), st.sampled_from([["a", "b"], {"a": 1}, [], {}])),
        st.one_of(st.integers(-(10**9), -3600), st.integers(3600, 10**9)).map(_iat_far),
    ]
    if with_token:
        strategies += [
            st.integers(0, 41).map(_ath_off),
            st.builds(_wrong_type, st.just("ath"), WRONG_TYPES.filter(lambda v: not isinstance(v, str))),
            st.just("ath").map(_empty),
        ]
    return st.one_of(*strategies)


def _claims_coverage(*, with_token: bool) -> list[Change]:
    found = [
        _iat_numeric_string(),
        _missing("jti"),
        _jti_number(),
        _htm_other("PUT"),
        _htm_lower(),
        _htu_off(0, "x"),
        _iat_far(-3600),
        _wrong_type("htm", 405),
        _wrong_type("htu", ["http://dpop-conformance.example/"]),
        _wrong_type("jti", ["dpop", "conformance"]),
        _wrong_type("jti", {"dpop": "conformance"}),
        _htu_port(99999),
        _htu_authority("[::1"),
        _htu_truncated(1),
    ]
    return found + ([_ath_off(20)] if with_token else [])


# --- signature ---------------------------------------------------------------------------------------


def _replaced(fault_id: str, name: str, make: Callable[[bytes], bytes], *key: Any) -> Change:
    def apply(d: ProofDraft) -> str:
        head, _, sig = d.sign().rpartition(".")
        return f"{head}.{b64url_encode(make(b64url_decode(sig)))}"

    return _c("signature", fault_id, name, apply, *key)


def _empty_signature() -> Change:
    return _replaced("signature-empty", "empty signature (CVE-2020-28042)", lambda s: b"")


def _zero_signature() -> Change:
    return _replaced(
        "signature-zero", "all-zero signature (psychic signature, CVE-2022-21449)", lambda s: bytes(len(s))
    )


def _truncated(n: int) -> Change:
    return _replaced(
        "signature-altered", f"signature with its last {n} bytes cut", lambda s: s[:-n] if n < len(s) else b"", n
    )


def _extended(extra: bytes) -> Change:
    return _replaced("signature-altered", f"signature with {len(extra)} bytes appended", lambda s: s + extra, extra)


def _flipped(index: int, mask: int) -> Change:
    def flip(s: bytes) -> bytes:
        raw = bytearray(s)
        raw[index % len(raw)] ^= mask
        return bytes(raw)

    return _replaced("signature-altered", f"signature byte {index} xor {mask:#04x}", flip, index, mask)


def _other_key() -> Change:
    return _c(
        "signature",
        "signature-other-key",
        "signed by another key than the jwk's",
        lambda d: d.with_jwk_of(generate_key(d.key.alg)).sign(),
    )


def _der() -> Change:
    def apply(d: ProofDraft) -> str:
        if not d.key.alg.startswith("ES"):  # only ECDSA has a DER form; break other signatures plainly
            head, _, sig = d.sign().rpartition(".")
            return f"{head}.{b64url_encode(bytes(b ^ 0x5A for b in b64url_decode(sig)))}"
        return mutation("ecdsa-der").apply(d)

    return _c("signature", "signature-der", "ECDSA signature DER-encoded", apply)


def _signed_over_other_payload(claim: str) -> Change:
    def apply(d: ProofDraft) -> str:
        sig = d.with_claims(**{claim: "tampered"}).sign().rpartition(".")[2]
        return f"{d.signing_input()}.{sig}"

    return _c("signature", "signature-altered", f"the signature of a proof with another {claim}", apply, claim)


def _signature() -> st.SearchStrategy[Change]:
    return st.one_of(
        st.just(_empty_signature()),
        st.just(_zero_signature()),
        st.integers(1, 64).map(_truncated),
        st.binary(min_size=1, max_size=16).map(_extended),
        st.builds(_flipped, st.integers(0, 511), st.integers(1, 255)),
        st.just(_other_key()),
        st.just(_der()),
        st.sampled_from(["jti", "htu"]).map(_signed_over_other_payload),
    )


def _signature_coverage() -> list[Change]:
    return [_empty_signature(), _zero_signature(), _flipped(0, 0xFF), _other_key(), _der()]


# --- by part ---------------------------------------------------------------------------------------------


def corruptions(part: str, *, with_token: bool, alg: str = "ES256") -> st.SearchStrategy[Change]:
    """Malformed proofs that corrupt `part`; `with_token` adds ath corruptions (resource requests).

    `alg` is the algorithm of the key that signs the proofs: its own name (in another case) and its key
    members are what the header strategies must tell apart from other values.
    """
    if part == "structure":
        return _structure()
    if part == "header":
        return _header(alg)
    if part == "claims":
        return _claims(with_token=with_token)
    if part == "signature":
        return _signature()
    raise ValueError(f"unknown part {part!r}; parts: {', '.join(PARTS)}")


def coverage(part: str, *, with_token: bool, alg: str = "ES256") -> list[Change]:
    """One deterministic corruption per fault the part's strategy draws, known attacks first."""
    if part == "structure":
        return _structure_coverage()
    if part == "header":
        return _header_coverage(alg)
    if part == "claims":
        return _claims_coverage(with_token=with_token)
    if part == "signature":
        return _signature_coverage()
    raise ValueError(f"unknown part {part!r}; parts: {', '.join(PARTS)}")
