"""DPoP proof verification (RFC 9449 §4.3), shared by the token endpoint and the protected resource.

Every numbered check below is guarded by the defect switch that breaks it, so a defect changes
exactly one behaviour. Replay protection runs last, after every check passed: a proof rejected for
another reason (for instance a missing nonce) must not burn its jti.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from conformance.jose import (
    DecodedJWS,
    JOSEError,
    access_token_hash,
    b64url_decode,
    b64url_encode,
    decode_jws,
    thumbprint,
)
from conformance.reference.keys import (
    PRIVATE_MEMBERS,
    SignatureError,
    alg_fits_key,
    key_algorithm,
    key_as_the_alg_reads_it,
    verify_signature,
)
from conformance.reference.nonces import NonceVerdict
from conformance.reference.replay import ReplayCache, ReplayResult
from conformance.reference.settings import ServerSettings
from conformance.reference.urls import normalize_url, strip_query_and_fragment, whatwg_url

__all__ = [
    "INVALID_PROOF",
    "USE_NONCE",
    "ProofError",
    "ProofMemo",
    "VerifiedProof",
    "unverified_jkt",
    "verify_proof",
]

INVALID_PROOF = "invalid_dpop_proof"
USE_NONCE = "use_dpop_nonce"

_TYP = "dpop+jwt"
_MAX_JTI = 512
WIDE_IAT_PAST = 1800  # `iat-window-wide`: 30 minutes
_REQUIRED_CLAIMS = ("jti", "htm", "htu", "iat")
_KEY_TYPES = frozenset({"EC", "RSA", "OKP"})
# What the `unknown-members` defect still accepts: the members RFC 9449 §4.2 defines.
_KNOWN_HEADER = frozenset({"typ", "alg", "jwk"})
_KNOWN_CLAIMS = frozenset({"jti", "htm", "htu", "iat", "nonce", "ath"})


class ProofError(Exception):
    """A proof was refused. `error` is "invalid_dpop_proof" or "use_dpop_nonce".

    `status` overrides the HTTP status the caller would normally use (only the `malformed-500`
    defect sets it).
    """

    def __init__(self, error: str, description: str, status: int | None = None) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.status = status


@dataclass(frozen=True)
class VerifiedProof:
    """A proof that passed every check.

    `jwk` and `jkt` are None only under the `jwk-optional` defect, for a proof without a jwk header.
    """

    header: dict[str, Any]
    claims: dict[str, Any]
    jwk: dict[str, Any] | None
    jkt: str | None
    htu: str


@dataclass
class ProofMemo:
    """What a server remembers of the proofs it verified, for the defects that short-cut a check with it.

    A clean server remembers nothing here (its replay cache is ReplayCache): each field serves one defect,
    `jkt-cache-by-kid`, `jti-verified-cache` and `nonce-verified-cache`.
    """

    jkt_by_kid: dict[str, str] = field(default_factory=dict)
    verified_by_jti: dict[str, VerifiedProof] = field(default_factory=dict)
    verified_nonces: set[str] = field(default_factory=set)


def _crash(description: str) -> ProofError:
    """A failure the server did not handle: what a real server answers with a 500 (the `*-500` defects)."""
    return ProofError(INVALID_PROOF, description, 500)


def _invalid(description: str) -> ProofError:
    return ProofError(INVALID_PROOF, description)


def _compact_from_json(value: str) -> str | None:
    """The compact form of a one-signature JWS JSON serialization (RFC 7515 §7.2), or None.

    Only the `jws-json` defect uses this: a JWT, and so a DPoP proof, is always compact (RFC 7519 §1).
    An unprotected `header` member is dropped, as the compact form has no place for it.
    """
    try:
        document = json.loads(value)
    except (ValueError, RecursionError):
        return None
    if not isinstance(document, dict):
        return None
    entry: Any = document
    if "signatures" in document:
        signatures = document["signatures"]
        # General syntax: exactly one signature, and no flattened members beside it.
        if not isinstance(signatures, list) or len(signatures) != 1 or "signature" in document:
            return None
        entry = signatures[0]
        if not isinstance(entry, dict):
            return None
    protected, payload, signature = entry.get("protected"), document.get("payload"), entry.get("signature")
    if not (isinstance(protected, str) and isinstance(payload, str) and isinstance(signature, str)):
        return None
    return f"{protected}.{payload}.{signature}"


def _single_value(values: list[str], defects: frozenset[str]) -> str:
    """Check 1: exactly one DPoP header field line, carrying one value."""
    if not values:
        raise _invalid("DPoP proof required")
    if len(values) > 1 and "multiple-proofs" not in defects:
        raise _invalid("more than one DPoP header")
    value = values[0].strip()
    if "jws-json" in defects and value.startswith("{"):
        compact = _compact_from_json(value)
        if compact is not None:
            return compact
    # A comma means several field lines were combined into one (RFC 9110 §5.3).
    if "," in value:
        if "multiple-proofs" not in defects:
            raise _invalid("more than one DPoP proof in the DPoP header")
        value = value.split(",", 1)[0].strip()
    return value


_B64URL_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
_B64_LENIENCIES = frozenset({"b64-padding", "b64-foreign-characters", "b64-standard-alphabet"})


def _lenient_segment(text: str, switches: frozenset[str]) -> str:
    """A segment as a lenient decoder reads it: the standard alphabet mapped, foreign characters and padding dropped."""
    if "b64-standard-alphabet" in switches:
        text = text.replace("+", "-").replace("/", "_")
    if "b64-foreign-characters" in switches:
        text = "".join(c for c in text if c in _B64URL_ALPHABET or c == "=")
    if "b64-padding" in switches:
        text = text.rstrip("=")
    return text


def _decode_leniently(value: str, switches: frozenset[str]) -> DecodedJWS:
    """As a JOSE library that decodes leniently and then verifies the canonical re-encoding (jwcrypto does)."""
    parts = value.split(".")
    if len(parts) != 3:
        raise JOSEError(f"a compact JWS has 3 segments, this value has {len(parts)}")
    raw = [b64url_decode(_lenient_segment(part, switches)) for part in parts]
    canonical = ".".join(b64url_encode(segment) for segment in raw)
    decoded = decode_jws(canonical)
    return DecodedJWS(value, decoded.header, decoded.payload, decoded.signature, decoded.signing_input)


def _parse(value: str, defects: frozenset[str]) -> DecodedJWS:
    """Check 2: a compact JWS with JSON-object header and payload."""
    try:
        if defects & _B64_LENIENCIES:
            return _decode_leniently(value, defects)
        return decode_jws(value)
    except (ValueError, RecursionError) as exc:  # JOSEError, oversized integers, deep nesting
        detail = str(exc) if isinstance(exc, JOSEError) else "not a well-formed JWS"
        raise ProofError(
            INVALID_PROOF, f"malformed DPoP proof: {detail}", 500 if "malformed-500" in defects else None
        ) from exc


def _iat_number(value: Any, defects: frozenset[str]) -> float | None:
    """The iat claim as a finite number, or None when its type is wrong."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and ("claim-types" in defects or "iat-numeric-string" in defects):
        try:
            value = float(value)
        except ValueError:
            return None
    if isinstance(value, int):
        # Huge integers are still numbers, just far outside any window; float() would overflow.
        return float(value) if abs(value) < 2**63 else math.copysign(math.inf, value)
    if isinstance(value, float) and math.isfinite(value):
        return value
    return None


def _check_claims(claims: dict[str, Any], access_token: str | None, defects: frozenset[str]) -> None:
    """Check 3: required claims are present and of the right JSON type."""
    if "missing-claims" not in defects:
        for name in _REQUIRED_CLAIMS:
            if name not in claims:
                raise _invalid(f"missing claim {name}")
    if "jti" in claims:
        jti = claims["jti"]
        if isinstance(jti, str):
            if not jti or len(jti) > _MAX_JTI:
                raise _invalid(f"jti must be a non-empty string of at most {_MAX_JTI} characters")
        elif not defects & {"claim-types", "jti-any-type"}:
            raise _invalid("jti must be a string")
    for name in ("htm", "htu"):
        if name in claims and not isinstance(claims[name], str):
            raise _invalid(f"{name} must be a string")
    if "iat" in claims and _iat_number(claims["iat"], defects) is None:
        raise _invalid("iat must be a JSON number")
    if "iat-integer-only" in defects and "iat" in claims and not isinstance(claims["iat"], int):
        raise _invalid("iat must be an integer")  # the bug: NumericDate allows fractions (RFC 7519 §2)
    if access_token is not None and "ath" not in defects and not isinstance(claims.get("ath"), str):
        raise _invalid("missing claim ath")


def _check_members(header: dict[str, Any], claims: dict[str, Any], defects: frozenset[str]) -> None:
    """Only under `unknown-members`: refuse members RFC 7519 §4 says to ignore when not understood."""
    if "unknown-members" not in defects:
        return
    extra_header = sorted(set(header) - _KNOWN_HEADER)
    if extra_header:
        raise _invalid(f"unknown proof header member {extra_header[0]}")
    extra_claims = sorted(set(claims) - _KNOWN_CLAIMS)
    if extra_claims:
        raise _invalid(f"unknown proof claim {extra_claims[0]}")


def _check_typ(header: dict[str, Any], defects: frozenset[str]) -> None:
    """Check 4: explicit typing (§11.5)."""
    if "typ" not in defects and header.get("typ") != _TYP:
        raise _invalid("typ must be dpop+jwt")
    # RFC 7515 §4.1.11: extensions we do not understand must make the JWS invalid
    # (`crit-skips-signature` lets them through, and then skips the signature: see _check_signature).
    if "b64-unencoded" in defects and header.get("crit") == ["b64"] and header.get("b64") is False:
        return  # RFC 7797, known: the signature covers the payload segment as it came (decode_jws verifies so)
    if "crit" in header and "crit-skips-signature" not in defects:
        raise _invalid("crit header parameter is not supported")


def _check_alg(header: dict[str, Any], settings: ServerSettings, *, at_resource: bool) -> str:
    """Check 5: an asymmetric alg this server accepts; never none nor a MAC (§11.6)."""
    alg = header.get("alg")
    defects = settings.switches
    if not isinstance(alg, str):
        raise _invalid("alg must be a string")
    eddsa_defect = "rs-alg-eddsa-rejected" if at_resource else "as-alg-eddsa-rejected"
    if alg == "EdDSA" and eddsa_defect in defects:
        # Still advertised in the metadata and the algs challenge parameter.
        raise _invalid("alg EdDSA is not accepted")
    accepted = settings.rs_algs if at_resource and "rs-algs-unenforced" not in defects else settings.signing_algs
    if alg in accepted:
        return alg
    if alg == "none" and "alg-none" in defects:
        return alg
    if alg == "HS256" and "alg-hs256" in defects:
        return alg
    # `alg-policy`: no allow-list at all; _check_signature falls back to the key's own algorithm.
    if "alg-policy" in defects and alg != "none" and not alg.upper().startswith("HS"):
        return alg
    raise _invalid(f"alg {alg} is not accepted")


def _check_jwk(header: dict[str, Any], alg: str, defects: frozenset[str]) -> dict[str, Any] | None:
    """Check 7: a public key in the jwk header; kid, jku, x5c or x5u do not replace it.

    Returns None only under `jwk-optional`, for a proof without a jwk header.
    """
    if "jwk" not in header:
        if "jwk-optional" in defects:
            return None
        raise _invalid("proof header has no jwk")
    jwk: dict[str, Any] = header["jwk"] if isinstance(header["jwk"], dict) else {}
    if not isinstance(header["jwk"], dict):
        raise _invalid("jwk must be a JSON object")
    if "jwk-odd-member" in defects:
        jwk = key_as_the_alg_reads_it(jwk, alg)
    symmetric = alg == "HS256" and "alg-hs256" in defects
    kty = jwk.get("kty")
    # isinstance first: kty may be any JSON value, and a list or object is unhashable.
    if not isinstance(kty, str) or (kty not in _KEY_TYPES and not (symmetric and kty == "oct")):
        raise _invalid("jwk kty must be EC, RSA or OKP")
    private = PRIVATE_MEMBERS.intersection(jwk) - ({"k"} if symmetric else set())
    if private and "jwk-private" not in defects:
        raise _invalid("jwk contains private key members")
    try:
        thumbprint(jwk)
    except JOSEError as exc:
        raise _invalid(f"jwk is not usable: {exc}") from exc
    return jwk


def _check_signature(proof: DecodedJWS, alg: str, jwk: dict[str, Any] | None, defects: frozenset[str]) -> None:
    """Check 6: the signature verifies with the jwk, whose type fits the alg."""
    if "signature" in defects or jwk is None:
        # jwk is None only under `jwk-optional`: there is no key to verify with.
        return
    if "crit-skips-signature" in defects and "crit" in proof.header:
        return  # the bug: a "critical extension" branch that never reaches the verification below
    if "empty-signature" in defects and not proof.signature:
        return  # the bug: an empty signature segment read as "nothing to check"
    if "zero-signature" in defects and alg.startswith("ES") and proof.signature and not any(proof.signature):
        return  # CVE-2022-21449 ("psychic signatures"): r = s = 0 passes a verifier that skips the range check
    if alg == "none":
        # Reachable only under `alg-none`, which still insists on the empty signature of RFC 7519 §6.
        if proof.signature:
            raise _invalid("alg none requires an empty signature")
        return
    if "alg-policy" in defects and alg != "HS256" and not alg_fits_key(alg, jwk):
        # The lenient-library bug: trust the key, not the header, to say how it signs.
        own = key_algorithm(jwk)
        if own is None:
            raise _invalid(f"alg {alg} does not fit the jwk")
        alg = own
    try:
        verify_signature(alg, jwk, proof.signing_input, proof.signature, small_rsa="rsa-small-keys" in defects)
    except SignatureError as exc:
        raise _invalid(f"invalid proof signature: {exc}") from exc


def _check_htm(claims: dict[str, Any], method: str, defects: frozenset[str]) -> None:
    """Check 8: htm equals the request method; methods are case-sensitive (RFC 9110 §9.1)."""
    if "htm" in defects or "htm" not in claims:
        return
    htm: str = claims["htm"]
    matches = htm.upper() == method.upper() if "htm-case" in defects else htm == method
    if not matches:
        raise _invalid("htm does not match the request method")


def _urllib_parts(url: str) -> tuple[str, str | None, int | None, str]:
    """What urllib reads in a URL: scheme, host (userinfo left out), port, path. ValueError when it cannot."""
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme.lower())
    return parts.scheme.lower(), parts.hostname, port, parts.path or "/"


def _htu_matches(htu: str, url: str, defects: frozenset[str]) -> bool:
    if "htu-prefix" in defects:  # the bug: the request URL must only start with htu
        ours, theirs = normalize_url(url), normalize_url(htu)
        return ours is not None and theirs is not None and ours.startswith(theirs.rstrip("/"))
    if "htu-hostname-only" in defects:  # the bug: what urllib reads, userinfo and all, is compared piecewise
        try:
            return _urllib_parts(htu) == _urllib_parts(strip_query_and_fragment(url))
        except ValueError:
            return False
    if "htu-whatwg" in defects:
        htu, url = whatwg_url(htu), whatwg_url(url)
    if "htu-normalization" in defects:
        return strip_query_and_fragment(htu) == strip_query_and_fragment(url)
    keep_query = "htu-query" in defects
    ours = normalize_url(url, keep_query=keep_query)
    theirs = normalize_url(htu, keep_query=keep_query)
    return ours is not None and ours == theirs


def _check_htu(claims: dict[str, Any], url: str, defects: frozenset[str]) -> str:
    """Check 9: htu equals the request URL, ignoring query and fragment. Returns the replay key URL."""
    htu = claims.get("htu")
    if not isinstance(htu, str):
        return ""  # only reachable under `missing-claims`
    if "odd-values-500" in defects:
        try:
            urlsplit(htu).port  # noqa: B018 - the bug: an unguarded parse, raising on a port or host it cannot read
        except ValueError as exc:
            raise _crash(f"unhandled {exc}") from exc
    if "htu" not in defects and not _htu_matches(htu, url, defects):
        raise _invalid("htu does not match the request URL")
    return normalize_url(htu) or htu


def _check_nonce(claims: dict[str, Any], nonce_check: Callable[[str | None], NonceVerdict] | None) -> None:
    """Check 10: the nonce claim carries a nonce this side issued (§8, §9)."""
    if nonce_check is None:
        return
    nonce = claims.get("nonce")
    verdict = nonce_check(nonce) if nonce is None or isinstance(nonce, str) else NonceVerdict.INVALID
    if verdict is NonceVerdict.MISSING:
        raise ProofError(USE_NONCE, "DPoP proof requires a server-provided nonce")
    if verdict is NonceVerdict.INVALID:
        raise ProofError(USE_NONCE, "DPoP nonce is invalid or expired")


def _check_iat(claims: dict[str, Any], settings: ServerSettings, now: float) -> None:
    """Check 11: the proof was created within the accepted window (§11.1)."""
    if "iat" in settings.switches or "iat" not in claims:
        return
    iat = _iat_number(claims["iat"], settings.switches)
    if iat is None:  # pragma: no cover - rejected by check 3
        raise _invalid("iat must be a JSON number")
    if "iat-no-future" in settings.switches and iat >= math.floor(now) + 1:
        raise _invalid("proof iat is in the future")
    past = WIDE_IAT_PAST if "iat-window-wide" in settings.switches else settings.iat_past
    if iat < now - past:
        raise _invalid("proof iat is too far in the past")
    if iat > now + settings.iat_future:
        raise _invalid("proof iat is too far in the future")


def _check_exp_nbf(claims: dict[str, Any], settings: ServerSettings, now: float) -> None:
    """RFC 7519 §4.1.4 and §4.1.5: a proof that carries exp or nbf is valid only between them."""
    if "exp-nbf-ignored" in settings.switches:
        return
    if "exp" in claims:
        exp = _number(claims["exp"])
        if exp is None or exp <= now:
            raise _invalid("proof exp is in the past (or not a NumericDate)")
    if "nbf" in claims:
        nbf = _number(claims["nbf"])
        if nbf is None or nbf > now + settings.iat_future:
            raise _invalid("proof nbf is in the future (or not a NumericDate)")


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) and abs(value) < 2**63 else None


def _check_ath(claims: dict[str, Any], access_token: str | None, defects: frozenset[str]) -> None:
    """Check 12 (first half): ath is the hash of the presented access token (§4.2)."""
    if access_token is None or "ath" in defects:
        return
    try:
        if "ath-hex" in defects:
            expected = hashlib.sha256(access_token.encode("ascii")).hexdigest()
        else:
            expected = access_token_hash(access_token)
    except UnicodeEncodeError as exc:
        raise _invalid("ath does not match the access token") from exc
    ath = claims.get("ath")
    if "ath-prefix" in defects and isinstance(ath, str) and len(ath) >= 20:
        ath, expected = ath[:20], expected[:20]  # the bug: a prefix compare
    if ath != expected:
        raise _invalid("ath does not match the access token")


def _check_replay(claims: dict[str, Any], htu: str, replay: ReplayCache | None, defects: frozenset[str]) -> None:
    if "replay" in defects or "jti" not in claims or replay is None:
        return
    jti = claims["jti"]
    # Under `claim-types` jti can be any JSON value; its JSON text then serves as the identifier.
    key = jti if isinstance(jti, str) else json.dumps(jti, sort_keys=True)
    result = replay.add(key, htu)
    if result is ReplayResult.REPLAYED and "replay-500" in defects:
        raise _crash("jti already used, raised where nothing catches it")
    if result is ReplayResult.REPLAYED:
        raise _invalid("jti already used")
    if result is ReplayResult.FULL:
        raise _invalid("replay cache full, retry later")


def verify_proof(
    values: list[str],
    *,
    method: str,
    url: str,
    settings: ServerSettings,
    nonce_check: Callable[[str | None], NonceVerdict] | None,
    access_token: str | None,
    replay: ReplayCache | None,
    now: float | None = None,
    check_ath: bool = True,
    memo: ProofMemo | None = None,
) -> VerifiedProof:
    """Run the RFC 9449 §4.3 checks on the DPoP header values of one request.

    `url` is the request URL as the server sees it (with its query, which is ignored unless the
    `htu-query` defect is on); `nonce_check` is None when this side demands no nonce;
    `access_token` is given at the resource server only. Raises ProofError on the first failure.
    Key binding (cnf.jkt) is the caller's job, because its error code differs. `replay` None skips the
    replay check, and `check_ath` False the ath check (defects of the callers: replay-par, replay-refresh,
    ath-lowercase-scheme). `memo` is what the server remembers for the defects that short-cut a check.
    """
    defects = settings.switches
    now = time.time() if now is None else now
    memo = memo or ProofMemo()
    proof = _parse(_single_value(values, defects), defects)
    header, claims = proof.header, proof.payload
    jti = claims.get("jti")
    if "odd-values-500" in defects and isinstance(jti, list | dict):
        raise _crash("unhandled: the replay cache hashes jti.encode() before the claim types are checked")
    if "jti-verified-cache" in defects and isinstance(jti, str) and jti in memo.verified_by_jti:
        return memo.verified_by_jti[jti]  # the bug: a verdict memoised by jti, for any proof carrying it
    _check_members(header, claims, defects)
    _check_claims(claims, access_token, defects)
    _check_typ(header, defects)
    alg = _check_alg(header, settings, at_resource=access_token is not None)
    jwk = _check_jwk(header, alg, defects)
    nonce = claims.get("nonce")
    if not ("nonce-verified-cache" in defects and isinstance(nonce, str) and nonce in memo.verified_nonces):
        _check_signature(proof, alg, jwk, defects)
    _check_htm(claims, method, defects)
    htu = _check_htu(claims, url, defects)
    _check_nonce(claims, nonce_check)
    _check_iat(claims, settings, now)
    _check_exp_nbf(claims, settings, now)
    if check_ath:
        _check_ath(claims, access_token, defects)
    if "replay-with-query" in defects and "?" in url:
        htu += "?" + url.split("?", 1)[1]  # the bug: the replay cache keys on the URL with its query
    _check_replay(claims, htu, replay, defects)
    jkt = None
    if jwk is not None:
        jkt = thumbprint(jwk)
        kid = jwk.get("kid")
        if "jkt-cache-by-kid" in defects and isinstance(kid, str):
            jkt = memo.jkt_by_kid.setdefault(kid, jkt)  # the bug: the thumbprint of the kid's first key, for good
    verified = VerifiedProof(header=header, claims=claims, jwk=jwk, jkt=jkt, htu=htu)
    if "jti-verified-cache" in defects and isinstance(jti, str):
        memo.verified_by_jti[jti] = verified
    if "nonce-verified-cache" in defects and isinstance(nonce, str):
        memo.verified_nonces.add(nonce)
    return verified


def unverified_jkt(values: list[str]) -> str:
    """The thumbprint of the jwk in the first DPoP value, checking nothing else (`par-proof` defect).

    Raises ProofError when no key can be read at all: there would be nothing to bind.
    """
    try:
        jwk = decode_jws(values[0].strip()).header.get("jwk") if values else None
        if isinstance(jwk, dict):
            return thumbprint(jwk)
    except (ValueError, RecursionError):
        pass
    raise _invalid("DPoP proof carries no usable jwk")
