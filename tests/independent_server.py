"""A second DPoP authorization server and resource server, written independently of conformance/reference/.

It exists to show that the suite's cases catch realistic bugs on a server that was not written to fit them.
Everything here was written from the RFCs: RFC 9449 (§4.3 proof checks, §5 token requests, §6 `cnf.jkt`,
§7 resource access, §10 `dpop_jkt`), RFC 7638 (JWK thumbprints), RFC 7515/7518/8037 (JWS with ES256, ES384,
ES512, RS256, PS256 and EdDSA/Ed25519), RFC 6749 and RFC 7636 (the grants, PKCE), RFC 6750 (Bearer
challenges), RFC 7662 (introspection) and RFC 8414 (metadata). It imports nothing from the suite: only the
standard library (`http.server`, one thread per connection) and `cryptography`.

The style differs from the reference server on purpose: no web framework, a routing table of plain methods
over a small request/response pair, proofs checked by one function that raises on the first fault, and the
state (codes, refresh tokens, the `jti` cache) in dictionaries guarded by locks.

`IndependentServer(defects=...)` switches on defects (see `DEFECTS`), each breaking exactly one behaviour in
the way a real server might get it wrong.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import json
import math
import re
import secrets
import socketserver
import string
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, unquote_plus, urlencode

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

__all__ = [
    "DEFECTS",
    "PROOF_ALGS",
    "REDIRECT_URI",
    "IndependentServer",
    "jwk_thumbprint",
    "normalise_uri",
]

#: the proof algorithms this server accepts, advertises in its metadata and lists in `algs`
PROOF_ALGS: tuple[str, ...] = ("ES256", "RS256", "PS256", "EdDSA")

#: the public client's one registered redirect URI (never requested: the suite takes the code from it)
REDIRECT_URI = "http://127.0.0.1:8765/callback"

#: each defect switch, with the one behaviour it breaks
DEFECTS: dict[str, str] = {
    "key-binding-ec-only": "the resource compares the proof key's thumbprint with cnf.jkt only for EC proof keys",
    "bearer-query": "the resource takes an access_token query parameter (RFC 6750 §2.3) and checks no DPoP proof",
    "refresh-unbound-after-second": "the refresh token issued by the public client's second refresh is unbound",
    "dpop-jkt-no-proof": "a code authorized with dpop_jkt is redeemed without a proof, for an unbound token",
    "replay-forgets": "the jti cache forgets a proof after 2 seconds",
    "replay-keyed-with-query": "the jti cache is keyed by the request URI with its query",
    "iat-window-30min": "proofs up to 30 minutes old are accepted",
    "ath-skip-lowercase-scheme": "the resource skips the ath check under the scheme spelt 'dpop'",
    "refuses-fractional-iat": "a proof whose iat has a fraction of a second (a valid NumericDate) is refused",
    "ath-case-insensitive": "ath is compared with the token's hash without regard to case",
    "htu-same-origin": "htu is only checked to name this server (scheme, host and port), not the endpoint",
    "rsa-1024-bits": "RSA proof keys of 1024 bits and more are accepted (and tokens bound to them)",
    "replay-crash": "the jti cache raises an error no handler catches on a jti it has seen: a replay gets a 500",
    "htu-from-host-header": "the URI htu is compared with is built from the request's Host header, not the base URL",
    "first-authorization-line-checked": (
        "under two Authorization lines the proof is checked against the first only when it is DPoP, and access "
        "granted with the token of the last DPoP line"
    ),
    "thumbprint-by-kid": "a proof key's thumbprint is remembered by its jwk's kid, and given to later keys of that kid",
    "jti-array-crash": (
        "the jti cache is keyed by the jti as it came, before its type is checked: an array or object jti gets a 500"
    ),
}

IAT_PAST_S = 60  # how old a proof may be
IAT_FUTURE_S = 10  # how far ahead of our clock a client's may be
ACCESS_TOKEN_LIFETIME_S = 300
CODE_LIFETIME_S = 60
MAX_BODY_BYTES = 64 * 1024
MAX_PROOF_CHARS = 16 * 1024
ALLOWED_SCOPES = frozenset({"read"})

# --- base64url and JSON, strictly (RFC 7515 §2: no padding, no other characters) -------------------------

_B64URL = re.compile(r"[A-Za-z0-9_-]*")


class ProofError(Exception):
    """A DPoP proof failed one of the checks of RFC 9449 §4.3; the message says which (no secrets in it)."""


class ReplayedJti(Exception):
    """A jti seen before, as the replay-crash defect reports it: no ProofError, so no handler refuses with it."""


def b64url_encode(raw: bytes) -> str:
    """base64url without padding (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Decode base64url strictly: only the URL-safe alphabet, no padding, and the canonical spelling.

    The last check refuses spellings whose unused trailing bits are set: they decode to the same bytes as
    the canonical one, and a strict decoder has one spelling per value.
    """
    if not _B64URL.fullmatch(text) or len(text) % 4 == 1:
        raise ValueError("not base64url")
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if b64url_encode(raw) != text:
        raise ValueError("not the canonical base64url spelling")
    return raw


def _no_duplicate_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # RFC 7515 §4 lets a parser refuse duplicate member names: we do, so no two parsers can disagree
    result: dict[str, Any] = {}
    for name, value in pairs:
        if name in result:
            raise ValueError(f"duplicate member {name!r}")
        result[name] = value
    return result


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # Python's json would read NaN and Infinity otherwise


def json_object(raw: bytes) -> dict[str, Any]:
    """Parse UTF-8 JSON text that must be an object; ValueError otherwise (duplicates and NaN included)."""
    try:
        value = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicate_members, parse_constant=_no_constants)
    except (UnicodeDecodeError, RecursionError) as exc:
        raise ValueError(str(exc)) from None
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value


def _is_number(value: Any) -> bool:
    # a NumericDate is a JSON number (RFC 7519 §2); Python's bool is an int, and is no number here
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


# --- JWKs: thumbprints (RFC 7638) and public keys (RFC 7518 §6, RFC 8037) ---------------------------------

_THUMBPRINT_MEMBERS = {"EC": ("crv", "kty", "x", "y"), "RSA": ("e", "kty", "n"), "OKP": ("crv", "kty", "x")}
_PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")


@dataclass(frozen=True)
class _AlgSpec:
    kty: str
    crv: str | None = None
    coordinate_size: int = 0  # octets of an EC coordinate, and of r and of s
    curve: ec.EllipticCurve | None = None
    digest: hashes.HashAlgorithm | None = None


_ALGS: dict[str, _AlgSpec] = {
    "ES256": _AlgSpec("EC", "P-256", 32, ec.SECP256R1(), hashes.SHA256()),
    "ES384": _AlgSpec("EC", "P-384", 48, ec.SECP384R1(), hashes.SHA384()),
    "ES512": _AlgSpec("EC", "P-521", 66, ec.SECP521R1(), hashes.SHA512()),
    "RS256": _AlgSpec("RSA", digest=hashes.SHA256()),
    "PS256": _AlgSpec("RSA", digest=hashes.SHA256()),
    "EdDSA": _AlgSpec("OKP", "Ed25519"),
}

PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey


def jwk_thumbprint(jwk: dict[str, Any]) -> str:
    """The RFC 7638 SHA-256 thumbprint: the required members only, sorted, no whitespace, base64url."""
    members = _THUMBPRINT_MEMBERS[jwk["kty"]]
    canonical = json.dumps({m: jwk[m] for m in members}, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return b64url_encode(hashlib.sha256(canonical.encode("utf-8")).digest())


def _octets(jwk: dict[str, Any], member: str) -> bytes:
    value = jwk.get(member)
    if not isinstance(value, str):
        raise ProofError(f"the jwk member {member} is missing or not a string")
    try:
        return b64url_decode(value)
    except ValueError:
        raise ProofError(f"the jwk member {member} is not base64url") from None


def _unsigned(jwk: dict[str, Any], member: str) -> int:
    # base64urlUInt (RFC 7518 §2): "the minimum number of octets needed to represent the value"
    raw = _octets(jwk, member)
    if not raw or raw[0] == 0:
        raise ProofError(f"the jwk member {member} is not a minimal unsigned integer")
    return int.from_bytes(raw, "big")


def public_key_of(jwk: dict[str, Any], alg: str, *, min_rsa_bits: int = 2048) -> PublicKey:
    """The public key a proof's `jwk` names, checked to fit `alg`; ProofError when it does not.

    `min_rsa_bits` is 2048 (RFC 7518 §3.3) but for the `rsa-1024-bits` defect."""
    kty = jwk.get("kty")
    if not isinstance(kty, str):
        raise ProofError("the jwk has no kty")
    if any(member in jwk for member in _PRIVATE_MEMBERS):
        raise ProofError("the jwk carries private key material")  # RFC 9449 §4.3 check 7
    spec = _ALGS[alg]
    if kty != spec.kty:
        raise ProofError(f"alg {alg} does not fit the jwk's key type")
    if spec.kty == "EC":
        assert spec.curve is not None
        if jwk.get("crv") != spec.crv:
            raise ProofError(f"alg {alg} needs a key on {spec.crv}")
        x, y = _octets(jwk, "x"), _octets(jwk, "y")
        # RFC 7518 §6.2.1.2: a coordinate is the full size of the curve's coordinates
        if len(x) != spec.coordinate_size or len(y) != spec.coordinate_size:
            raise ProofError("an EC coordinate of the jwk has the wrong length")
        numbers = ec.EllipticCurvePublicNumbers(int.from_bytes(x, "big"), int.from_bytes(y, "big"), spec.curve)
        try:
            return numbers.public_key()
        except ValueError:
            raise ProofError("the jwk's point is not on the curve") from None
    if spec.kty == "RSA":
        n, e = _unsigned(jwk, "n"), _unsigned(jwk, "e")
        # 2048 bits at least (RFC 7518 §3.3); a bound above keeps a huge modulus from costing us time
        if not min_rsa_bits <= n.bit_length() <= 8192 or n % 2 == 0:
            raise ProofError(f"the RSA modulus is not an odd number of {min_rsa_bits} to 8192 bits")
        if e < 3 or e % 2 == 0 or e.bit_length() > 64:
            raise ProofError("the RSA exponent is not an odd number from 3 to 2^64")
        try:
            return rsa.RSAPublicNumbers(e, n).public_key()
        except ValueError:
            raise ProofError("the RSA key is not usable") from None
    if jwk.get("crv") != "Ed25519":
        raise ProofError("EdDSA needs an Ed25519 key")
    x = _octets(jwk, "x")
    if len(x) != 32:
        raise ProofError("an Ed25519 key is 32 octets")
    try:
        return ed25519.Ed25519PublicKey.from_public_bytes(x)
    except ValueError:
        raise ProofError("the Ed25519 key is not usable") from None


def signature_verifies(alg: str, key: PublicKey, signing_input: bytes, signature: bytes) -> bool:
    """Verify a JWS signature over the exact bytes received (RFC 7515 §5.2); ECDSA is raw r‖s, never DER."""
    spec = _ALGS[alg]
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            assert spec.digest is not None
            size = spec.coordinate_size
            if len(signature) != 2 * size:  # RFC 7518 §3.4: exactly r‖s, so a DER encoding is refused
                return False
            r, s = int.from_bytes(signature[:size], "big"), int.from_bytes(signature[size:], "big")
            if r == 0 or s == 0:  # the all-zero "psychic signature" (CVE-2022-21449)
                return False
            key.verify(encode_dss_signature(r, s), signing_input, ec.ECDSA(spec.digest))
        elif isinstance(key, rsa.RSAPublicKey):
            assert spec.digest is not None
            if len(signature) != (key.key_size + 7) // 8:
                return False
            if alg == "PS256":  # RFC 7518 §3.5: MGF1 with SHA-256, a salt as long as the hash
                scheme: padding.AsymmetricPadding = padding.PSS(padding.MGF1(hashes.SHA256()), 32)
            else:
                scheme = padding.PKCS1v15()
            key.verify(signature, signing_input, scheme, spec.digest)
        else:
            if len(signature) != 64:
                return False
            key.verify(signature, signing_input)
    except InvalidSignature:
        return False
    return True


# --- htu: RFC 3986 §6.2.2 (syntax-based) and §6.2.3 (scheme-based) normalisation ---------------------------

_URI = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://([^/?#]*)([^?#]*)(?:\?[^#]*)?(?:#.*)?", re.DOTALL)
_PERCENT = re.compile(r"%([0-9A-Fa-f]{2})")
_UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _normalise_percent(text: str) -> str:
    def one(match: re.Match[str]) -> str:
        char = chr(int(match.group(1), 16))
        return char if char in _UNRESERVED else "%" + match.group(1).upper()

    return _PERCENT.sub(one, text)


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 §5.2.4, step by step on the input buffer."""
    rest, output = path, []
    while rest:
        if rest.startswith("../"):
            rest = rest[3:]
        elif rest.startswith("./") or rest.startswith("/./"):
            rest = rest[2:]
        elif rest == "/.":
            rest = "/"
        elif rest.startswith("/../") or rest == "/..":
            rest = "/" + rest[4:]
            if output:
                output.pop()
        elif rest in (".", ".."):
            rest = ""
        else:
            end = rest.find("/", 1)
            segment = rest if end == -1 else rest[:end]
            output.append(segment)
            rest = rest[len(segment) :]
    return "".join(output)


def normalise_uri(uri: str) -> str | None:
    """The URI without query and fragment, normalised for comparison; None when it is no absolute URI.

    Scheme and host in lower case, the default port dropped, percent-encoded unreserved characters
    decoded (other escapes in upper case), dot segments removed, an empty path made "/". A URI with
    userinfo, or with a port that is not a number, is refused: no request URI of this server has them.
    """
    match = _URI.fullmatch(uri)
    if match is None:
        return None
    scheme, authority, path = match.group(1).lower(), match.group(2), match.group(3)
    if "@" in authority:
        return None
    if authority.startswith("["):
        host, bracket, port = authority.partition("]")
        host += bracket
        if port and not port.startswith(":"):
            return None
        port = port[1:]
    else:
        host, _, port = authority.partition(":")
    if port and not (port.isascii() and port.isdigit()):
        return None
    host = _normalise_percent(host)
    host = _PERCENT.sub(lambda m: m.group(0).upper(), host.lower())
    if not host:
        return None
    port_text = "" if not port or int(port) == _DEFAULT_PORTS.get(scheme) else f":{int(port)}"
    path = _remove_dot_segments(_normalise_percent(path)) or "/"
    return f"{scheme}://{host}{port_text}{path}"


# --- proofs -------------------------------------------------------------------------------------------

_COMPACT = re.compile(r"([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)")


@dataclass(frozen=True)
class Proof:
    """What a verified proof tells: its key's thumbprint and type, and its jti."""

    jkt: str
    kty: str
    jti: str


def access_token_hash(token: str) -> str:
    """The `ath` of an access token: base64url(SHA-256(ASCII(token))) (RFC 9449 §4.2)."""
    return b64url_encode(hashlib.sha256(token.encode("ascii")).digest())


def check_proof(
    field_lines: list[str],
    *,
    method: str,
    uri: str,
    now: float,
    max_age: float,
    expected_ath: str | None = None,
    integer_iat_only: bool = False,
    defects: frozenset[str] = frozenset(),
    thumbprint: Callable[[dict[str, Any]], str] = jwk_thumbprint,
    record_jti: Callable[[Any], None] | None = None,
) -> Proof:
    """Check the DPoP header field lines of a request against RFC 9449 §4.3; ProofError on the first fault.

    `uri` is the normalised URI of the request, built from the server's own base URL (never from Host or
    forwarding headers, but for the htu-from-host-header defect). `expected_ath` is the hash of the access
    token presented at the resource. `defects` switches on the proof-checking defects (ath-case-insensitive,
    htu-same-origin, rsa-1024-bits). `thumbprint` gives the proof key's thumbprint (the application's, which
    the thumbprint-by-kid defect changes). `record_jti`, when given, is called with the jti as it came once
    the signature verifies, before the claims are checked (the jti-array-crash defect); without it the
    caller records the returned proof's jti.
    """
    if len(field_lines) != 1:  # check 1
        raise ProofError("more than one DPoP header field")
    value = field_lines[0].strip(" \t")
    if len(value) > MAX_PROOF_CHARS:
        raise ProofError("the proof is too long")
    compact = _COMPACT.fullmatch(value)  # check 2 (a comma-joined pair of proofs fails here too)
    if compact is None:
        raise ProofError("the DPoP header is not one compact JWS of three base64url segments")
    encoded_header, encoded_claims, encoded_signature = compact.groups()
    try:
        header = json_object(b64url_decode(encoded_header))
        claims = json_object(b64url_decode(encoded_claims))
        signature = b64url_decode(encoded_signature)
    except ValueError:
        raise ProofError("the proof is not a well-formed JWT (base64url JSON objects)") from None
    if header.get("typ") != "dpop+jwt":  # check 4
        raise ProofError("typ is not dpop+jwt")
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in PROOF_ALGS:  # check 5: never none, never a MAC
        raise ProofError("alg is not one of " + " ".join(PROOF_ALGS))
    if "crit" in header:  # RFC 7515 §4.1.11: we understand no extension, so any crit is refused
        raise ProofError("crit names an extension this server does not understand")
    jwk = header.get("jwk")
    if not isinstance(jwk, dict):
        raise ProofError("the jwk header is missing")
    key = public_key_of(jwk, alg, min_rsa_bits=1024 if "rsa-1024-bits" in defects else 2048)  # check 7, alg fit
    if not signature_verifies(alg, key, f"{encoded_header}.{encoded_claims}".encode("ascii"), signature):
        raise ProofError("the signature does not verify with the jwk")  # check 6
    if record_jti is not None:
        record_jti(claims.get("jti"))  # the defect: any JSON value, before check 3 says it must be a string
    jti = claims.get("jti")  # check 3
    if not isinstance(jti, str) or not jti:
        raise ProofError("jti is missing or not a non-empty string")
    if not isinstance(claims.get("htm"), str) or claims["htm"] != method:  # check 8: methods are case-sensitive
        raise ProofError("htm does not match the request method")
    htu = claims.get("htu")
    if not isinstance(htu, str) or not _same_uri(normalise_uri(htu), uri, origin_only="htu-same-origin" in defects):
        raise ProofError("htu does not match the request URI")  # check 9
    iat = claims.get("iat")  # check 11
    if not _is_number(iat):
        raise ProofError("iat is missing or not a NumericDate")
    if integer_iat_only and iat != math.floor(iat):  # the defect: a fraction, which RFC 7519 §2 allows
        raise ProofError("iat is not a whole number of seconds")
    if iat < now - max_age or iat > now + IAT_FUTURE_S:
        raise ProofError("iat is outside the accepted window")
    if "exp" in claims and not (_is_number(claims["exp"]) and claims["exp"] >= now):
        raise ProofError("the proof has expired (exp)")
    if "nbf" in claims and not (_is_number(claims["nbf"]) and claims["nbf"] <= now + IAT_FUTURE_S):
        raise ProofError("the proof is not valid yet (nbf)")
    if expected_ath is not None:  # check 12
        ath = claims.get("ath")
        if isinstance(ath, str) and "ath-case-insensitive" in defects:
            ath, expected_ath = ath.lower(), expected_ath.lower()  # the defect: base64url is case-sensitive
        if not isinstance(ath, str) or not hmac.compare_digest(ath.encode("utf-8", "replace"), expected_ath.encode()):
            raise ProofError("ath does not match the access token")
    return Proof(thumbprint(jwk), jwk["kty"], jti)


def _same_uri(htu: str | None, uri: str, *, origin_only: bool) -> bool:
    """Whether the normalised htu names the request URI (with `origin_only`, the defect: the same server)."""
    if htu is None:
        return False
    if origin_only:
        return htu.split("/", 3)[:3] == uri.split("/", 3)[:3]
    return htu == uri


class ReplayCache:
    """The `jti` values seen, per request URI, for as long as their proofs could be accepted (RFC 9449 §11.1).

    Only a hash of each `jti` is kept (but for the jti-array-crash defect), so a huge one costs nothing;
    check-and-insert is one locked step, so two concurrent requests with one proof cannot both pass.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._expiry: dict[tuple[Any, str], float] = {}  # (SHA-256 of the jti, or the jti itself; URI)
        self._next_sweep = 0.0

    def first_use(self, jti: str, uri: str, now: float, keep_for: float) -> bool:
        """Record the jti for the URI; False when it was already recorded and has not expired."""
        return self._record((hashlib.sha256(jti.encode("utf-8", "surrogatepass")).digest(), uri), now, keep_for)

    def first_use_as_is(self, jti: Any, uri: str, now: float, keep_for: float) -> bool:
        """first_use keyed by the jti claim's value itself, whatever its JSON type (the jti-array-crash defect).

        A string, a number, null or a boolean makes a key; an array or an object (a Python list or dict) is
        unhashable and raises TypeError, which nothing catches.
        """
        return self._record((jti, uri), now, keep_for)

    def _record(self, key: tuple[Any, str], now: float, keep_for: float) -> bool:
        with self._lock:
            if now >= self._next_sweep:
                self._expiry = {k: t for k, t in self._expiry.items() if t > now}
                self._next_sweep = now + 5
            if self._expiry.get(key, 0.0) > now:
                return False
            self._expiry[key] = now + keep_for
            return True


# --- HTTP plumbing -------------------------------------------------------------------------------------


@dataclass
class _Request:
    method: str
    path: str
    query: str
    headers: Message
    body: bytes

    def lines(self, name: str) -> list[str]:
        return list(self.headers.get_all(name) or [])


@dataclass
class _Response:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)


def _json_response(status: int, value: Any, *headers: tuple[str, str]) -> _Response:
    body = json.dumps(value, separators=(",", ":")).encode()
    return _Response(status, body, [("Content-Type", "application/json"), *headers])


def _header_safe(text: str) -> str:
    # an auth-param quoted-string must not hold quotes or backslashes, and a header only ASCII here
    return "".join(c for c in text if c.isascii() and c.isprintable() and c not in '"\\')


class _OAuthError(Exception):
    """An RFC 6749 §5.2 error answer of the token, authorization or introspection endpoint."""

    def __init__(self, status: int, error: str, description: str, *headers: tuple[str, str]) -> None:
        super().__init__(description)
        self.status, self.error, self.description, self.headers = status, error, description, headers

    def response(self) -> _Response:
        body = {"error": self.error, "error_description": self.description}
        return _json_response(self.status, body, ("Cache-Control", "no-store"), *self.headers)


def _form(request: _Request) -> dict[str, str]:
    """An application/x-www-form-urlencoded body; a parameter given twice is refused (RFC 6749 §3.1)."""
    content_type = request.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise _OAuthError(400, "invalid_request", "the body must be application/x-www-form-urlencoded")
    try:
        pairs = parse_qsl(request.body.decode("ascii"), keep_blank_values=True, strict_parsing=bool(request.body))
    except (UnicodeDecodeError, ValueError):
        raise _OAuthError(400, "invalid_request", "the body is not a form") from None
    return _unique(pairs)


def _unique(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    params: dict[str, str] = {}
    for name, value in pairs:
        if name in params:
            raise _OAuthError(400, "invalid_request", f"the parameter {_header_safe(name)[:40]} is given twice")
        params[name] = value
    return params


def _scope(requested: str | None) -> str:
    if requested is None:
        return "read"
    scopes = requested.split(" ")
    if not requested or not set(scopes) <= ALLOWED_SCOPES:
        raise _OAuthError(400, "invalid_scope", "only the scope read is available")
    return " ".join(sorted(set(scopes)))


_CREDENTIALS = re.compile(r"([!#$%&'*+.^_`|~0-9A-Za-z-]+) +([A-Za-z0-9._~+/-]+=*) *")
_PKCE_VALUE = re.compile(r"[A-Za-z0-9._~-]{43,128}")
_THUMBPRINT = re.compile(r"[A-Za-z0-9_-]{43}")


@dataclass
class _Code:
    client_id: str
    redirect_uri: str
    challenge: str
    scope: str
    dpop_jkt: str | None
    expires_at: float


@dataclass
class _Refresh:
    client_id: str
    scope: str
    jkt: str | None  # None: not bound to a key (only the defects issue such refresh tokens)
    generation: int  # 0 from the code, n from the n-th refresh


# --- the application ------------------------------------------------------------------------------------


class _Application:
    """The AS and the RS: routes, client registry, stores and DPoP checks."""

    def __init__(
        self, base_url: str, defects: frozenset[str], clients: dict[str, str | None], public_client_id: str
    ) -> None:
        self.base_url = base_url
        self.defects = defects
        self.clients = clients  # id -> secret (None: a public client)
        self.public_client_id = public_client_id
        self.signing_key = ec.generate_private_key(ec.SECP256R1())
        self.kid = b64url_encode(secrets.token_bytes(8))
        self.replay = ReplayCache()
        self.lock = threading.Lock()
        self.thumbprints_by_kid: dict[str, str] = {}  # only the thumbprint-by-kid defect fills it
        self.codes: dict[str, _Code] = {}
        self.refresh_tokens: dict[bytes, _Refresh] = {}  # by SHA-256 of the token: the store holds no token
        self.routes: dict[str, dict[str, Callable[[_Request], _Response]]] = {
            "/.well-known/oauth-authorization-server": {"GET": self.metadata},
            "/jwks": {"GET": self.jwks},
            "/authorize": {"GET": self.authorize},
            "/token": {"POST": self.token},
            "/introspect": {"POST": self.introspect},
            "/resource": {"GET": self.resource, "POST": self.resource},
        }

    def url(self, path: str) -> str:
        """The absolute URL of one of our paths, from the configured base URL."""
        return self.base_url + path

    def handle(self, request: _Request) -> _Response:
        """Route one request."""
        methods = self.routes.get(request.path)
        if methods is None:
            return _json_response(404, {"error": "not_found"})
        handler = methods.get(request.method)
        if handler is None:
            return _json_response(405, {"error": "method_not_allowed"}, ("Allow", ", ".join(methods)))
        return handler(request)

    # --- DPoP -----------------------------------------------------------------------------------------
    @property
    def max_age(self) -> float:
        """How old a proof may be, in seconds."""
        return 30 * 60 if "iat-window-30min" in self.defects else IAT_PAST_S

    def verify_proof(self, request: _Request, path: str, *, expected_ath: str | None = None) -> Proof:
        """Check the request's proof for `path` and record its jti; ProofError when refused."""
        uri = self.request_uri(request, path)
        now = time.time()
        record_early: Callable[[Any], None] | None = None
        if "jti-array-crash" in self.defects:
            # the defect: the jti is recorded as soon as the signature shows the proof genuine, as it came
            record_early = functools.partial(self.check_replay, uri=uri, query=request.query, now=now)
        proof = check_proof(
            request.lines("DPoP"),
            method=request.method,
            uri=uri,
            now=now,
            max_age=self.max_age,
            expected_ath=expected_ath,
            integer_iat_only="refuses-fractional-iat" in self.defects,
            defects=self.defects,
            thumbprint=self.thumbprint,
            record_jti=record_early,
        )
        if record_early is None:
            self.check_replay(proof.jti, uri, request.query, now)
        return proof

    def request_uri(self, request: _Request, path: str) -> str:
        """The normalised URI a proof's htu must name: our base URL and `path` (RFC 9449 §4.3 check 9).

        Never the Host header, which the client writes, but for the htu-from-host-header defect."""
        host = request.headers.get("Host")
        if "htu-from-host-header" in self.defects and host:
            # the defect: the URI as HTTP builds it from Host (RFC 9110 §7.2), which the client wrote
            scheme = self.base_url.partition(":")[0]
            uri = normalise_uri(f"{scheme}://{host.strip()}{path}")
            if uri is None:
                raise ProofError("the Host header names no host")
            return uri
        uri = normalise_uri(self.url(path))
        assert uri is not None
        return uri

    def thumbprint(self, jwk: dict[str, Any]) -> str:
        """The RFC 7638 thumbprint of a proof's jwk (with thumbprint-by-kid, the one first seen under its kid)."""
        kid = jwk.get("kid")
        if "thumbprint-by-kid" not in self.defects or not isinstance(kid, str):
            return jwk_thumbprint(jwk)
        with self.lock:
            # the defect: "a kid names one key", so a key's hash is worked out once per kid; a later key that
            # reuses the kid gets the first key's thumbprint, at the token endpoint and at the resource
            return self.thumbprints_by_kid.setdefault(kid, jwk_thumbprint(jwk))

    def check_replay(self, jti: Any, uri: str, query: str, now: float) -> None:
        """Refuse a jti already used for this URI; remember it for as long as its proof could be accepted."""
        if "replay-keyed-with-query" in self.defects and query:
            uri = f"{uri}?{query}"  # the defect: the full request target, so another query is another URI
        keep_for = 2.0 if "replay-forgets" in self.defects else self.max_age + IAT_FUTURE_S + 1
        if "jti-array-crash" in self.defects:
            first = self.replay.first_use_as_is(jti, uri, now, keep_for)  # the defect: no hash, no type check
        else:
            first = self.replay.first_use(jti, uri, now, keep_for)
        if not first:
            if "replay-crash" in self.defects:
                # the defect: the cache's own error, for a handler nobody wrote; it is no ProofError, so it
                # escapes every `except ProofError` and the request ends in a 500 instead of a refusal
                raise ReplayedJti("the proof's jti was used before")
            raise ProofError("the proof's jti was used before")

    # --- access tokens (JWTs signed with our ES256 key) -----------------------------------------------
    def issue_access_token(self, subject: str, client_id: str, scope: str, jkt: str | None) -> str:
        """A JWT access token; bound to the proof key by cnf.jkt when `jkt` is given (RFC 9449 §6.1)."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.base_url,
            "sub": subject,
            "client_id": client_id,
            "scope": scope,
            "iat": now,
            "exp": now + ACCESS_TOKEN_LIFETIME_S,
            "jti": b64url_encode(secrets.token_bytes(16)),
        }
        if jkt is not None:
            claims["cnf"] = {"jkt": jkt}
        header = {"alg": "ES256", "typ": "at+jwt", "kid": self.kid}
        signing_input = f"{b64url_encode(json.dumps(header).encode())}.{b64url_encode(json.dumps(claims).encode())}"
        r, s = decode_dss_signature(self.signing_key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
        return f"{signing_input}.{b64url_encode(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"

    def read_access_token(self, token: str) -> dict[str, Any] | None:
        """The claims of one of our unexpired access tokens, or None."""
        parts = token.split(".")
        if len(parts) != 3:
            return None
        try:
            header, claims = json_object(b64url_decode(parts[0])), json_object(b64url_decode(parts[1]))
            signature = b64url_decode(parts[2])
        except ValueError:
            return None
        if header.get("alg") != "ES256" or header.get("kid") != self.kid or len(signature) != 64:
            return None
        r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        try:
            self.signing_key.public_key().verify(
                encode_dss_signature(r, s), f"{parts[0]}.{parts[1]}".encode(), ec.ECDSA(hashes.SHA256())
            )
        except (InvalidSignature, ValueError):
            return None
        if claims.get("iss") != self.base_url or not _is_number(claims.get("exp")) or claims["exp"] <= time.time():
            return None
        return claims

    @staticmethod
    def bound_jkt(claims: dict[str, Any]) -> str | None:
        """cnf.jkt of a token's claims, if it is bound."""
        cnf = claims.get("cnf")
        jkt = cnf.get("jkt") if isinstance(cnf, dict) else None
        return jkt if isinstance(jkt, str) else None

    # --- the authorization server ---------------------------------------------------------------------
    def metadata(self, request: _Request) -> _Response:
        """RFC 8414 metadata, with dpop_signing_alg_values_supported (RFC 9449 §5.1)."""
        return _json_response(
            200,
            {
                "issuer": self.base_url,
                "authorization_endpoint": self.url("/authorize"),
                "token_endpoint": self.url("/token"),
                "introspection_endpoint": self.url("/introspect"),
                "jwks_uri": self.url("/jwks"),
                "response_types_supported": ["code"],
                "grant_types_supported": ["authorization_code", "client_credentials", "refresh_token"],
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic", "none"],
                "introspection_endpoint_auth_methods_supported": ["client_secret_basic"],
                "scopes_supported": sorted(ALLOWED_SCOPES),
                "dpop_signing_alg_values_supported": list(PROOF_ALGS),
            },
        )

    def jwks(self, request: _Request) -> _Response:
        """The public key our access tokens are signed with."""
        numbers = self.signing_key.public_key().public_numbers()
        jwk = {
            "kty": "EC",
            "crv": "P-256",
            "x": b64url_encode(numbers.x.to_bytes(32, "big")),
            "y": b64url_encode(numbers.y.to_bytes(32, "big")),
            "kid": self.kid,
            "use": "sig",
            "alg": "ES256",
        }
        return _json_response(200, {"keys": [jwk]})

    def authorize(self, request: _Request) -> _Response:
        """The authorization endpoint: checks the request, approves at once, redirects with the code."""
        try:
            params = _unique(parse_qsl(request.query, keep_blank_values=True))
        except _OAuthError as exc:
            return exc.response()
        # without a known client and its exact redirect URI, nothing may be redirected (RFC 6749 §4.1.2.1)
        if params.get("client_id") != self.public_client_id:
            return _OAuthError(400, "invalid_request", "unknown client_id").response()
        if params.get("redirect_uri") != REDIRECT_URI:
            return _OAuthError(400, "invalid_request", "redirect_uri is not the registered one").response()

        def back(**values: str) -> _Response:
            if "state" in params:
                values["state"] = params["state"]
            values["iss"] = self.base_url  # RFC 9207
            return _Response(
                302, b"", [("Location", f"{REDIRECT_URI}?{urlencode(values)}"), ("Cache-Control", "no-store")]
            )

        if params.get("response_type") != "code":
            return back(error="unsupported_response_type")
        challenge = params.get("code_challenge", "")
        if params.get("code_challenge_method") != "S256" or not _THUMBPRINT.fullmatch(challenge):
            return back(error="invalid_request", error_description="PKCE with S256 is required")
        dpop_jkt = params.get("dpop_jkt")
        if dpop_jkt is not None and not _THUMBPRINT.fullmatch(dpop_jkt):
            return back(error="invalid_request", error_description="dpop_jkt is not a JWK SHA-256 thumbprint")
        try:
            scope = _scope(params.get("scope"))
        except _OAuthError:
            return back(error="invalid_scope")
        code = secrets.token_urlsafe(32)
        entry = _Code(self.public_client_id, REDIRECT_URI, challenge, scope, dpop_jkt, time.time() + CODE_LIFETIME_S)
        with self.lock:
            self.codes = {c: e for c, e in self.codes.items() if e.expires_at > time.time()}
            self.codes[code] = entry
        return back(code=code)

    def authenticate(self, request: _Request, form: dict[str, str]) -> str:
        """The client of a token or introspection request: Basic for the confidential one, client_id alone
        for the public one (RFC 6749 §2.3.1, §3.2.1)."""
        authorization = request.lines("Authorization")
        challenge = ("WWW-Authenticate", 'Basic realm="independent"')
        if "client_secret" in form or len(authorization) > 1:
            raise _OAuthError(401, "invalid_client", "use client_secret_basic", challenge)
        if authorization:
            scheme, _, encoded = authorization[0].partition(" ")
            try:
                if scheme.lower() != "basic":
                    raise ValueError(scheme)
                pair = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
            except (ValueError, binascii.Error):
                raise _OAuthError(401, "invalid_client", "malformed Basic credentials", challenge) from None
            raw_id, _, raw_secret = pair.partition(":")
            client_id, secret = unquote_plus(raw_id), unquote_plus(raw_secret)
            expected = self.clients.get(client_id)
            if expected is None or not hmac.compare_digest(secret.encode(), expected.encode()):
                raise _OAuthError(401, "invalid_client", "client authentication failed", challenge)
            if form.get("client_id", client_id) != client_id:
                raise _OAuthError(400, "invalid_request", "client_id does not match the authenticated client")
            return client_id
        client_id = form.get("client_id", "")
        if client_id not in self.clients or self.clients[client_id] is not None:
            raise _OAuthError(401, "invalid_client", "client authentication failed", challenge)
        return client_id

    def token(self, request: _Request) -> _Response:
        """The token endpoint (RFC 6749 §3.2) with DPoP (RFC 9449 §5)."""
        try:
            form = _form(request)
            client_id = self.authenticate(request, form)
            public = self.clients[client_id] is None
            grant_type = form.get("grant_type")
            allowed = ("authorization_code", "refresh_token") if public else ("client_credentials",)
            if grant_type not in ("authorization_code", "refresh_token", "client_credentials"):
                raise _OAuthError(400, "unsupported_grant_type", "unknown grant_type")
            if grant_type not in allowed:
                raise _OAuthError(400, "unauthorized_client", "this client may not use this grant")
            jkt = self.token_proof(request, form, grant_type)
            if grant_type == "client_credentials":
                body = self.grant_client_credentials(client_id, form, jkt)
            elif grant_type == "authorization_code":
                body = self.grant_code(client_id, form, jkt)
            else:
                body = self.grant_refresh(client_id, form, jkt)
        except _OAuthError as exc:
            return exc.response()
        return _json_response(200, body, ("Cache-Control", "no-store"), ("Pragma", "no-cache"))

    def token_proof(self, request: _Request, form: dict[str, str], grant_type: str) -> str | None:
        """The thumbprint of the token request's proof; every request needs exactly one valid proof."""
        if not request.lines("DPoP"):
            if "dpop-jkt-no-proof" in self.defects and grant_type == "authorization_code":
                # the defect: "this code is already bound by dpop_jkt", so the missing proof is let through
                with self.lock:
                    code = self.codes.get(form.get("code", ""))
                if code is not None and code.dpop_jkt is not None:
                    return None
            raise _OAuthError(400, "invalid_request", "a DPoP proof is required")
        try:
            return self.verify_proof(request, "/token").jkt
        except ProofError as exc:
            raise _OAuthError(400, "invalid_dpop_proof", str(exc)) from None

    def tokens(self, subject: str, client_id: str, scope: str, jkt: str | None) -> dict[str, Any]:
        """The token response members for an access token bound to `jkt` (or unbound: Bearer)."""
        return {
            "access_token": self.issue_access_token(subject, client_id, scope, jkt),
            "token_type": "DPoP" if jkt is not None else "Bearer",
            "expires_in": ACCESS_TOKEN_LIFETIME_S,
            "scope": scope,
        }

    def new_refresh_token(self, grant: _Refresh) -> str:
        """Store a refresh token's grant (by its hash) and return the token."""
        token = secrets.token_urlsafe(32)
        with self.lock:
            self.refresh_tokens[hashlib.sha256(token.encode()).digest()] = grant
        return token

    def grant_client_credentials(self, client_id: str, form: dict[str, str], jkt: str | None) -> dict[str, Any]:
        """RFC 6749 §4.4."""
        return self.tokens(client_id, client_id, _scope(form.get("scope")), jkt)

    def grant_code(self, client_id: str, form: dict[str, str], jkt: str | None) -> dict[str, Any]:
        """RFC 6749 §4.1.3 with PKCE (RFC 7636 §4.6) and dpop_jkt (RFC 9449 §10)."""
        with self.lock:  # a code is used once, whatever the outcome
            code = self.codes.pop(form.get("code", ""), None)
        if code is None or code.expires_at <= time.time() or code.client_id != client_id:
            raise _OAuthError(400, "invalid_grant", "unknown, used or expired code")
        if form.get("redirect_uri") != code.redirect_uri:
            raise _OAuthError(400, "invalid_grant", "redirect_uri differs from the authorization request's")
        verifier = form.get("code_verifier", "")
        computed = b64url_encode(hashlib.sha256(verifier.encode("ascii", "replace")).digest())
        if not _PKCE_VALUE.fullmatch(verifier) or not hmac.compare_digest(computed, code.challenge):
            raise _OAuthError(400, "invalid_grant", "the code_verifier does not match")
        if jkt is None:  # only the dpop-jkt-no-proof defect gets here: an unbound token, and no refresh token
            return self.tokens("user-1", client_id, code.scope, None)
        if code.dpop_jkt is not None and not hmac.compare_digest(code.dpop_jkt, jkt):
            raise _OAuthError(400, "invalid_grant", "the proof's key is not the one dpop_jkt named")
        body = self.tokens("user-1", client_id, code.scope, jkt)
        # RFC 9449 §5: a public client's refresh token is bound to the proof key
        body["refresh_token"] = self.new_refresh_token(_Refresh(client_id, code.scope, jkt, 0))
        return body

    def grant_refresh(self, client_id: str, form: dict[str, str], jkt: str | None) -> dict[str, Any]:
        """RFC 6749 §6, the binding validated (RFC 9449 §5); the refresh token rotates."""
        digest = hashlib.sha256(form.get("refresh_token", "").encode("utf-8", "replace")).digest()
        with self.lock:
            grant = self.refresh_tokens.get(digest)
            if grant is None or grant.client_id != client_id:
                raise _OAuthError(400, "invalid_grant", "unknown or used refresh token")
            if grant.jkt is not None and (jkt is None or not hmac.compare_digest(grant.jkt, jkt)):
                raise _OAuthError(400, "invalid_grant", "the refresh token is bound to another key")
            del self.refresh_tokens[digest]  # rotation: the presented token dies
        generation = grant.generation + 1
        new_jkt = grant.jkt
        if "refresh-unbound-after-second" in self.defects and generation >= 2:
            new_jkt = None  # the defect: the binding is not carried over from the second refresh on
        body = self.tokens("user-1", client_id, grant.scope, grant.jkt)
        body["refresh_token"] = self.new_refresh_token(_Refresh(client_id, grant.scope, new_jkt, generation))
        return body

    def introspect(self, request: _Request) -> _Response:
        """RFC 7662 introspection for the confidential client, with cnf.jkt (RFC 9449 §6.2)."""
        try:
            form = _form(request)
            client_id = self.authenticate(request, form)
            if self.clients[client_id] is None:
                raise _OAuthError(401, "invalid_client", "introspection needs a confidential client")
        except _OAuthError as exc:
            return exc.response()
        claims = self.read_access_token(form.get("token", ""))
        if claims is None:
            return _json_response(200, {"active": False}, ("Cache-Control", "no-store"))
        jkt = self.bound_jkt(claims)
        answer = {"active": True, "token_type": "DPoP" if jkt else "Bearer"}
        answer.update(
            {k: claims[k] for k in ("iss", "sub", "client_id", "scope", "iat", "exp", "jti", "cnf") if k in claims}
        )
        return _json_response(200, answer, ("Cache-Control", "no-store"))

    # --- the resource server --------------------------------------------------------------------------
    def challenge(
        self, status: int, error: str | None = None, description: str = "", *, bearer: bool = False
    ) -> _Response:
        """A refusal with a DPoP challenge (RFC 9449 §7.1), error only when credentials were presented."""
        algs = f'algs="{" ".join(PROOF_ALGS)}"'
        headers = [("Cache-Control", "no-store")]
        if error is None:
            headers.append(("WWW-Authenticate", f"DPoP {algs}"))
            return _json_response(status, {"message": "authentication required"}, *headers)
        params = f'error="{error}", error_description="{_header_safe(description)}"'
        if bearer:  # the token came as Bearer: that challenge carries the error (RFC 9449 §7.2)
            headers += [("WWW-Authenticate", f"Bearer {params}"), ("WWW-Authenticate", f"DPoP {algs}")]
        else:
            headers.append(("WWW-Authenticate", f"DPoP {params}, {algs}"))
        return _json_response(status, {"error": error, "error_description": description}, *headers)

    def granted(self, request: _Request, claims: dict[str, Any]) -> _Response:
        """The protected resource itself."""
        body = {"resource": "independent", "method": request.method, "client_id": claims.get("client_id")}
        return _json_response(200, body, ("Cache-Control", "no-store"))

    def resource(self, request: _Request) -> _Response:
        """The protected resource: `Authorization: DPoP <token>` and a proof with ath (RFC 9449 §7)."""
        authorization = request.lines("Authorization")  # never Proxy-Authorization (§7.1)
        if not authorization:
            if "bearer-query" in self.defects:
                # the defect: RFC 6750 §2.3's query parameter, read as a bearer-only library would
                query = dict(parse_qsl(request.query, keep_blank_values=True))
                claims = self.read_access_token(query.get("access_token", ""))
                if claims is not None:
                    return self.granted(request, claims)
            return self.challenge(401)
        if len(authorization) > 1 and "first-authorization-line-checked" in self.defects:
            return self.first_line_checked(request, authorization)
        if len(authorization) > 1 or self.token_elsewhere(request):  # RFC 6750 §3.1, RFC 9449 figure 19
            return self.challenge(400, "invalid_request", "Multiple methods used to include access token")
        credentials = _CREDENTIALS.fullmatch(authorization[0])
        if credentials is None:
            return self.challenge(400, "invalid_request", "malformed Authorization header")
        scheme, token = credentials.groups()
        if scheme.lower() == "bearer":
            return self.bearer(request, token)
        if scheme.lower() != "dpop":
            return self.challenge(401)  # a scheme we do not support: as if no credentials were sent
        checked = self.dpop_checked(request, scheme, token)
        return checked if isinstance(checked, _Response) else self.granted(request, checked)

    def dpop_checked(self, request: _Request, scheme: str, token: str) -> dict[str, Any] | _Response:
        """The claims of a DPoP-bound token whose proof passes every check (§7.1), or the refusal."""
        claims = self.read_access_token(token)
        if claims is None:
            return self.challenge(401, "invalid_token", "the access token is not valid")
        jkt = self.bound_jkt(claims)
        if jkt is None:
            return self.challenge(401, "invalid_token", "the access token is not DPoP-bound")
        if not request.lines("DPoP"):
            return self.challenge(401, "invalid_dpop_proof", "a DPoP proof is required")
        skip_ath = "ath-skip-lowercase-scheme" in self.defects and scheme == "dpop"
        try:
            proof = self.verify_proof(request, "/resource", expected_ath=None if skip_ath else access_token_hash(token))
        except ProofError as exc:
            return self.challenge(401, "invalid_dpop_proof", str(exc))
        compare = proof.kty == "EC" or "key-binding-ec-only" not in self.defects
        if compare and not hmac.compare_digest(proof.jkt, jkt):  # §4.3 check 12, §6
            return self.challenge(401, "invalid_token", "Invalid DPoP key binding")
        return claims

    def first_line_checked(self, request: _Request, lines: list[str]) -> _Response:
        """The first-authorization-line-checked defect: two layers, each reading its own Authorization line.

        The checking layer reads the first line as `headers["Authorization"]` would, and checks it only when
        it says DPoP (a Bearer line is "someone else's"); the application then takes the token of the last
        DPoP line, trusting that what it holds was checked. Two lines are not refused as RFC 6750 §3.1 asks.
        """
        first = _CREDENTIALS.fullmatch(lines[0])
        if first is not None and first.group(1).lower() == "dpop":
            checked = self.dpop_checked(request, *first.groups())
            if isinstance(checked, _Response):
                return checked
        for line in reversed(lines):
            credentials = _CREDENTIALS.fullmatch(line)
            if credentials is not None and credentials.group(1).lower() == "dpop":
                claims = self.read_access_token(credentials.group(2))
                if claims is None:
                    return self.challenge(401, "invalid_token", "the access token is not valid")
                return self.granted(request, claims)
        return self.challenge(401)

    @staticmethod
    def token_elsewhere(request: _Request) -> bool:
        """True when the request also carries an access_token in its query or form body (RFC 6750 §2.2, §2.3).

        We take tokens from neither, but a client sending one beside the Authorization header uses more than
        one method, which RFC 6750 §3.1 answers with invalid_request.
        """
        if any(name == "access_token" for name, _ in parse_qsl(request.query, keep_blank_values=True)):
            return True
        content_type = request.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
        if content_type != "application/x-www-form-urlencoded" or not request.body:
            return False
        body = request.body.decode("latin-1")
        return any(name == "access_token" for name, _ in parse_qsl(body, keep_blank_values=True))

    def bearer(self, request: _Request, token: str) -> _Response:
        """The Bearer scheme: a DPoP-bound token is refused (RFC 9449 §7.2)."""
        claims = self.read_access_token(token)
        if claims is None:
            return self.challenge(401, "invalid_token", "the access token is not valid", bearer=True)
        if self.bound_jkt(claims) is not None:
            return self.challenge(401, "invalid_token", "a DPoP-bound token sent as a Bearer token", bearer=True)
        return self.granted(request, claims)  # an unbound token (only the defects issue them)


# --- the server -----------------------------------------------------------------------------------------


class _FramingError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


_CONTENT_LENGTH = re.compile(r"[0-9]{1,12}")


class _Handler(BaseHTTPRequestHandler):
    """One connection: HTTP/1.1 keep-alive, every answer with its Content-Length."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # TCP_NODELAY: the suite sends hundreds of small requests
    timeout = 15  # an idle kept-alive connection gives its thread back
    server_version = "independent-dpop/1"
    sys_version = ""
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the suite's evidence is the log."""

    def _serve(self) -> None:
        try:
            request = self._read()
        except _FramingError as exc:
            self.close_connection = True
            self._write(_json_response(exc.status, {"error": "invalid_request", "error_description": str(exc)}))
            return
        try:
            response = self.server.app.handle(request)
        except Exception:  # a bug of ours: a 500, which the suite reports, rather than a dropped connection
            response = _json_response(500, {"error": "server_error"})
        self._write(response)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve  # noqa: N815 (http.server)

    def _read(self) -> _Request:
        target = self.path.partition("#")[0]
        absolute = re.match(r"[A-Za-z][A-Za-z0-9+.-]*://[^/?]*", target)
        if absolute:  # RFC 9112 §3.2.2: accepted, but only its path and query are used, never its host
            target = target[absolute.end() :] or "/"
            target = target if target.startswith("/") else "/" + target
        if not target.startswith("/"):
            raise _FramingError(400, "the request target is neither origin-form nor absolute-form")
        path, _, query = target.partition("?")
        if self.headers.get_all("Transfer-Encoding"):
            raise _FramingError(411, "send a Content-Length")
        lengths = {value.strip() for value in self.headers.get_all("Content-Length") or []}
        if len(lengths) > 1 or not all(_CONTENT_LENGTH.fullmatch(v) for v in lengths):
            raise _FramingError(400, "malformed Content-Length")
        length = int(lengths.pop()) if lengths else 0
        if length > MAX_BODY_BYTES:
            # read a body of up to 1 MiB before answering, so the client sees the 413 rather than a reset
            if length <= 1024 * 1024:
                self.rfile.read(length)
            raise _FramingError(413, "the body is too large")
        body = self.rfile.read(length) if length else b""
        if len(body) != length:
            raise _FramingError(400, "the body ended early")
        return _Request(self.command, path, query, self.headers, body)

    def _write(self, response: _Response) -> None:
        self.send_response(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128
    app: _Application

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet: a client that hangs up mid-request is no error of ours, and our bugs answer 500 already."""

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks up the host's FQDN, which can take seconds without DNS: skip it
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = "127.0.0.1", self.server_address[1]


class IndependentServer:
    """The independent AS + RS on 127.0.0.1 (a free port), in a thread of this process."""

    CLIENT_ID = "independent-client"
    PUBLIC_CLIENT_ID = "independent-spa"

    def __init__(self, defects: frozenset[str] = frozenset()) -> None:
        unknown = set(defects) - DEFECTS.keys()
        if unknown:
            raise ValueError(f"unknown defects: {', '.join(sorted(unknown))}; known: {', '.join(DEFECTS)}")
        self.defects = frozenset(defects)
        self.client_secret = secrets.token_urlsafe(24)
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """http://127.0.0.1:PORT (the server must be started)."""
        if self._httpd is None:
            raise RuntimeError("the server is not started")
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    @property
    def app(self) -> _Application:
        """The running application (for tests that look at its state)."""
        if self._httpd is None:
            raise RuntimeError("the server is not started")
        return self._httpd.app

    def start(self) -> IndependentServer:
        """Bind a free port and serve in a daemon thread."""
        if self._httpd is not None:
            return self
        httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd = httpd
        clients: dict[str, str | None] = {self.CLIENT_ID: self.client_secret, self.PUBLIC_CLIENT_ID: None}
        httpd.app = _Application(self.base_url, self.defects, clients, self.PUBLIC_CLIENT_ID)
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.1}, name="independent-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the listening socket."""
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd, self._thread = None, None

    def __enter__(self) -> IndependentServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def target_toml(self, name: str = "independent") -> str:
        """A target file for the suite (README "Target files"), the client secret written in."""
        base = self.base_url
        return (
            f'name = "{name}"\n'
            "\n[authorization_server]\n"
            f'issuer = "{base}"\n'
            f'token_endpoint = "{base}/token"\n'
            f'authorization_endpoint = "{base}/authorize"\n'
            f'introspection_endpoint = "{base}/introspect"\n'
            "\n[resource_server]\n"
            f'url = "{base}/resource"\n'
            "\n[client]\n"
            f'id = "{self.CLIENT_ID}"\n'
            f'secret = "{self.client_secret}"\n'
            'auth_method = "client_secret_basic"\n'
            'grant_type = "client_credentials"\n'
            'scope = "read"\n'
            "\n[public_client]\n"
            f'id = "{self.PUBLIC_CLIENT_ID}"\n'
            f'redirect_uri = "{REDIRECT_URI}"\n'
            'login = "auto"\n'
            'scope = "read"\n'
        )
