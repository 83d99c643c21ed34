"""The harness's own authorization server: tiny, correct, and never judged (the runs are --actor RS).

axa-fr-oidc validates tokens on the resource side only, so something has to issue them. This server does
exactly what the library fetches and what the suite's client needs, and nothing else:

    GET  /.well-known/openid-configuration   the discovery document the library reads (issuer, token_endpoint,
                                             jwks_uri); the same at /.well-known/oauth-authorization-server,
                                             which the suite tries first (RFC 8414)
    GET  /jwks                               the RSA key that signs the access tokens (the library's find_jwk
                                             reads kty, kid, n and e)
    POST /token                              client_credentials for conformance-client, client_secret_basic;
                                             with a DPoP proof it verifies the proof (RFC 9449 §4.3) and issues
                                             a JWT access token bound to the proof key's RFC 7638 thumbprint
                                             (cnf.jkt, token_type DPoP); without one, an unbound Bearer token
                                             (§5 lets an AS issue those)

The proof checks use `cryptography` directly (not jwskate, which the library uses), so the tokens the resource
sees never depend on the library under test: typ dpop+jwt, an asymmetric alg this server lists, a public jwk
of the alg's key type (RSA of 2048 bits or more), the signature with that jwk, jti a string seen once, htm
POST, htu the token endpoint (RFC 3986 §6.2.2-6.2.3 normalisation, query and fragment ignored), iat at most
300 s old and 60 s ahead. No nonces (§8 makes them optional for an AS).

env: DPOP_CLIENT_SECRET (required: conformance-client's secret), AS_PORT, RS_PORT, WATCH_PID (see common.py)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import os
import re
import threading
import time
import uuid
from typing import Any
from urllib.parse import parse_qsl, unquote_plus, urlsplit

from common import AS_PORT, ISSUER, JWKS_URI, RESOURCE, TOKEN_ENDPOINT, Handler, log, serve
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

NAME = "as_server"
CLIENT_ID = "conformance-client"
SCOPE = "read"
TOKEN_LIFETIME = 3600  # s: one run of the suite, with margin
IAT_PAST = 300  # s: the oldest proof accepted
IAT_FUTURE = 60  # s: clock skew ahead

# the algorithms this server verifies (all the suite can sign with), by key type
EC_ALGS = {
    "ES256": ("P-256", hashes.SHA256, 32),
    "ES384": ("P-384", hashes.SHA384, 48),
    "ES512": ("P-521", hashes.SHA512, 66),
}
EC_CURVES: dict[str, ec.EllipticCurve] = {"P-256": ec.SECP256R1(), "P-384": ec.SECP384R1(), "P-521": ec.SECP521R1()}
RSA_ALGS = ("RS256", "PS256")
OKP_ALGS = {"EdDSA": ("Ed25519", "Ed448"), "Ed25519": ("Ed25519",), "Ed448": ("Ed448",)}
ALGS = [*EC_ALGS, *RSA_ALGS, *OKP_ALGS]
PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}
B64U = re.compile(r"[A-Za-z0-9_-]*")


class ProofError(Exception):
    """A DPoP proof this server refuses (400 invalid_dpop_proof), with the reason in its description."""


# --- the key that signs access tokens: new at every start; the resource fetches it from jwks_uri --------------
_SIGNING_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
_KID = "access-tokens-" + uuid.uuid4().hex[:8]


def b64u_encode(data: bytes) -> str:
    """Base64url without padding (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64u_decode(text: str, what: str) -> bytes:
    """Strict base64url (RFC 7515 §2): the URL-safe alphabet only, no padding, no other characters."""
    if not B64U.fullmatch(text) or len(text) % 4 == 1:
        raise ProofError(f"{what} is not base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as err:
        raise ProofError(f"{what} is not base64url") from err


def _int(value: int) -> str:
    return b64u_encode(value.to_bytes((value.bit_length() + 7) // 8, "big"))


def public_jwk() -> dict[str, str]:
    """The access-token signing key as a public JWK."""
    numbers = _SIGNING_KEY.public_key().public_numbers()
    return {"kty": "RSA", "kid": _KID, "use": "sig", "alg": "RS256", "n": _int(numbers.n), "e": _int(numbers.e)}


def json_object(data: bytes, what: str) -> dict[str, Any]:
    """A JSON object with no duplicate member names (RFC 7515 §5.2, RFC 7519 §7.2)."""

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        names = [name for name, _ in pairs]
        if len(names) != len(set(names)):
            raise ProofError(f"{what} has duplicate member names")
        return dict(pairs)

    try:
        value = json.loads(data.decode("utf-8"), object_pairs_hook=no_duplicates)
    except (UnicodeDecodeError, ValueError) as err:
        raise ProofError(f"{what} is not JSON") from err
    if not isinstance(value, dict):
        raise ProofError(f"{what} is not a JSON object")
    return value


def thumbprint(jwk: dict[str, Any]) -> str:
    """The RFC 7638 thumbprint (SHA-256) of a public JWK: its required members, sorted, no white space."""
    required = {"EC": ("crv", "kty", "x", "y"), "RSA": ("e", "kty", "n"), "OKP": ("crv", "kty", "x")}[jwk["kty"]]
    canonical = json.dumps({name: jwk[name] for name in required}, separators=(",", ":"), sort_keys=True)
    return b64u_encode(hashlib.sha256(canonical.encode("utf-8")).digest())


def _member(jwk: dict[str, Any], name: str) -> bytes:
    value = jwk.get(name)
    if not isinstance(value, str):
        raise ProofError(f"the jwk has no {name}")
    return b64u_decode(value, f"the jwk's {name}")


def verify_signature(alg: str, jwk: dict[str, Any], signed: bytes, signature: bytes) -> None:
    """Verify `signature` over `signed` with the public key `jwk` under `alg`; ProofError when it fails."""
    kty = jwk.get("kty")
    try:
        if alg in EC_ALGS:
            crv, digest, size = EC_ALGS[alg]
            if kty != "EC" or jwk.get("crv") != crv:
                raise ProofError(f"{alg} needs an EC key on {crv}")
            x, y = _member(jwk, "x"), _member(jwk, "y")
            if len(x) != size or len(y) != size or len(signature) != 2 * size:
                raise ProofError("the EC key or the signature has the wrong length")
            key = ec.EllipticCurvePublicNumbers(
                int.from_bytes(x, "big"), int.from_bytes(y, "big"), EC_CURVES[crv]
            ).public_key()
            der = encode_dss_signature(int.from_bytes(signature[:size], "big"), int.from_bytes(signature[size:], "big"))
            key.verify(der, signed, ec.ECDSA(digest()))
        elif alg in RSA_ALGS:
            if kty != "RSA":
                raise ProofError(f"{alg} needs an RSA key")
            n = int.from_bytes(_member(jwk, "n"), "big")
            e = int.from_bytes(_member(jwk, "e"), "big")
            if n.bit_length() < 2048:
                raise ProofError("the RSA key is smaller than 2048 bits (RFC 7518 §3.3)")
            rsa_key = rsa.RSAPublicNumbers(e, n).public_key()
            if alg == "RS256":
                rsa_key.verify(signature, signed, padding.PKCS1v15(), hashes.SHA256())
            else:
                pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)  # RFC 7518 §3.5
                rsa_key.verify(signature, signed, pss, hashes.SHA256())
        elif alg in OKP_ALGS:
            okp_crv = jwk.get("crv")
            if kty != "OKP" or okp_crv not in OKP_ALGS[alg]:
                raise ProofError(f"{alg} needs an OKP key on {' or '.join(OKP_ALGS[alg])}")
            x = _member(jwk, "x")
            okp = ed25519.Ed25519PublicKey if okp_crv == "Ed25519" else ed448.Ed448PublicKey
            okp.from_public_bytes(x).verify(signature, signed)
        else:
            raise ProofError(f"alg {alg!r} is not one of {' '.join(ALGS)}")
    except InvalidSignature as err:
        raise ProofError("the signature does not verify with the jwk") from err
    except ValueError as err:  # a point not on the curve, a malformed key
        raise ProofError(f"the jwk is not a valid public key ({err})") from err


def normalised(url: str) -> tuple[str, str, int | None, str] | None:
    """Scheme, host, port and path of `url` after RFC 3986 §6.2.2-6.2.3 normalisation (None: not comparable).

    The query and the fragment are left out (§4.3 check 9 compares without them); a URL with userinfo is
    another URL than the endpoint's, so it is not comparable.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.username is not None or parts.password is not None or not parts.hostname:
        return None
    scheme = parts.scheme.lower()
    port = port if port is not None else {"http": 80, "https": 443}.get(scheme)
    # decode percent-encoded unreserved characters (RFC 3986 §2.3); anything else stays as it is
    path = re.sub(
        r"%([0-9A-Fa-f]{2})",
        lambda m: chr(int(m[1], 16)) if re.fullmatch(r"[A-Za-z0-9._~-]", chr(int(m[1], 16))) else m[0].upper(),
        parts.path or "/",
    )
    return scheme, parts.hostname.lower(), port, path


_SEEN_JTI: dict[str, float] = {}
_SEEN_LOCK = threading.Lock()


def check_proof(proof: str) -> str:
    """Verify a DPoP proof for this token endpoint (RFC 9449 §4.3); the key's thumbprint, or ProofError."""
    parts = proof.split(".")
    if len(parts) != 3:
        raise ProofError("the proof is not a JWS in compact serialisation")
    header = json_object(b64u_decode(parts[0], "the header"), "the header")
    claims = json_object(b64u_decode(parts[1], "the payload"), "the payload")
    signature = b64u_decode(parts[2], "the signature")
    if header.get("typ") != "dpop+jwt":
        raise ProofError("typ is not dpop+jwt")
    if "crit" in header:
        raise ProofError("crit names extensions this server does not understand")
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in ALGS:
        raise ProofError(f"alg is not one of {' '.join(ALGS)}")
    jwk = header.get("jwk")
    if not isinstance(jwk, dict) or jwk.get("kty") not in ("EC", "RSA", "OKP"):
        raise ProofError("the jwk header is not a public EC, RSA or OKP key")
    if PRIVATE_MEMBERS & set(jwk):
        raise ProofError("the jwk carries private key members")
    verify_signature(alg, jwk, f"{parts[0]}.{parts[1]}".encode("ascii"), signature)

    jti, htm, htu, iat = claims.get("jti"), claims.get("htm"), claims.get("htu"), claims.get("iat")
    if not isinstance(jti, str) or not jti:
        raise ProofError("jti is not a non-empty string")
    if htm != "POST":
        raise ProofError("htm is not POST")
    if not isinstance(htu, str) or normalised(htu) is None or normalised(htu) != normalised(TOKEN_ENDPOINT):
        raise ProofError(f"htu is not {TOKEN_ENDPOINT}")
    if isinstance(iat, bool) or not isinstance(iat, (int, float)) or not math.isfinite(iat):
        raise ProofError("iat is not a number")
    now = time.time()
    if iat < now - IAT_PAST or iat > now + IAT_FUTURE:
        raise ProofError(f"iat is not within {IAT_PAST} s before and {IAT_FUTURE} s after now")
    with _SEEN_LOCK:
        for seen, until in list(_SEEN_JTI.items()):
            if until < now:
                del _SEEN_JTI[seen]
        if jti in _SEEN_JTI:
            raise ProofError("jti was used before")
        _SEEN_JTI[jti] = now + IAT_PAST + IAT_FUTURE
    return thumbprint(jwk)


def access_token(jkt: str | None) -> str:
    """A JWT access token for the resource (RS256, RFC 9068 shape), bound to `jkt` when given (cnf.jkt)."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "sub": CLIENT_ID,
        "aud": RESOURCE,
        "client_id": CLIENT_ID,
        "scope": SCOPE,
        "iat": now,
        "exp": now + TOKEN_LIFETIME,
        "jti": str(uuid.uuid4()),
    }
    if jkt is not None:
        claims["cnf"] = {"jkt": jkt}
    header = {"alg": "RS256", "typ": "at+jwt", "kid": _KID}
    signed = ".".join(b64u_encode(json.dumps(p, separators=(",", ":")).encode()) for p in (header, claims))
    signature = _SIGNING_KEY.sign(signed.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
    return f"{signed}.{b64u_encode(signature)}"


def client_authenticated(authorization: str | None, secret: str) -> bool:
    """client_secret_basic (RFC 6749 §2.3.1): id and secret form-urlencoded, then HTTP Basic."""
    if not authorization or authorization[:6].lower() != "basic ":
        return False
    try:
        decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return False
    client_id, sep, client_secret = decoded.partition(":")
    if not sep:
        return False
    return hmac.compare_digest(unquote_plus(client_id), CLIENT_ID) and hmac.compare_digest(
        unquote_plus(client_secret).encode(), secret.encode()
    )


METADATA = {
    "issuer": ISSUER,
    "token_endpoint": TOKEN_ENDPOINT,
    "jwks_uri": JWKS_URI,
    "grant_types_supported": ["client_credentials"],
    "token_endpoint_auth_methods_supported": ["client_secret_basic"],
    "dpop_signing_alg_values_supported": ALGS,
    # no authorization endpoint: no response type is supported (RFC 8414 §2 asks for the list)
    "response_types_supported": [],
}


class AuthorizationServer(Handler):
    """Discovery, JWKS and the token endpoint."""

    secret = ""

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path in ("/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"):
            self.send(200, METADATA)
        elif path == "/jwks":
            self.send(200, {"keys": [public_jwk()]})
        else:
            self.send(404, {"message": "not found"})

    def _error(self, status: int, error: str, description: str, headers: list[tuple[str, str]] | None = None) -> None:
        self.send(
            status,
            {"error": error, "error_description": description},
            [("Cache-Control", "no-store"), *(headers or [])],
        )

    def do_POST(self) -> None:
        if urlsplit(self.path).path != "/token":
            self.send(404, {"message": "not found"})
            return
        body = self.read_body()
        if body is None:
            self._error(400, "invalid_request", "the body is missing its length or is too large")
            return
        if not client_authenticated(self.headers.get("Authorization"), self.secret):
            challenge = [("WWW-Authenticate", 'Basic realm="token"')]
            self._error(401, "invalid_client", "client authentication failed", challenge)
            return
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if content_type != "application/x-www-form-urlencoded":
            self._error(400, "invalid_request", "the body is not application/x-www-form-urlencoded")
            return
        try:
            pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(body))
        except (UnicodeDecodeError, ValueError):
            self._error(400, "invalid_request", "the body is not form-urlencoded")
            return
        names = [name for name, _ in pairs]
        if len(names) != len(set(names)):
            self._error(400, "invalid_request", "a parameter is given more than once (RFC 6749 §3.2)")
            return
        form = dict(pairs)
        if form.get("grant_type") != "client_credentials":
            self._error(400, "unsupported_grant_type", "only client_credentials is supported")
            return
        if not set(form.get("scope", SCOPE).split()) <= {SCOPE}:
            self._error(400, "invalid_scope", f"the only scope is {SCOPE}")
            return
        proofs = self.headers.get_all("DPoP") or []
        if len(proofs) > 1:
            self._error(400, "invalid_dpop_proof", "more than one DPoP header field (RFC 9449 §4.3 check 1)")
            return
        jkt = None
        if proofs:
            try:
                jkt = check_proof(proofs[0])
            except ProofError as err:
                log(NAME, f"refused a proof: {err}")
                self._error(400, "invalid_dpop_proof", str(err))
                return
        self.send(
            200,
            {
                "access_token": access_token(jkt),
                "token_type": "DPoP" if jkt else "Bearer",
                "expires_in": TOKEN_LIFETIME,
                "scope": SCOPE,
            },
            [("Cache-Control", "no-store"), ("Pragma", "no-cache")],
        )


def main() -> None:
    """Serve the authorization server on 127.0.0.1:AS_PORT."""
    secret = os.environ.get("DPOP_CLIENT_SECRET", "")
    if not secret:
        raise SystemExit("as_server.py: set DPOP_CLIENT_SECRET (the secret of conformance-client)")
    AuthorizationServer.secret = secret
    log(NAME, f"{ISSUER}: client_credentials for {CLIENT_ID}, tokens for {RESOURCE}, proofs in {' '.join(ALGS)}")
    serve(NAME, AS_PORT, AuthorizationServer)


if __name__ == "__main__":
    main()
