"""The harness's own authorization server: just enough to mint the access tokens masks-client checks.

masks-client is resource-side only, so the harness needs an AS to issue its tokens. This one is not judged
(the runs are `--actor RS`), but it must be correct, or the resource cases would rest on a broken setup:

- metadata (RFC 8414 and OpenID discovery, one document): the issuer, the token endpoint, the JWKS URI and
  the proof algorithms the token endpoint verifies. masks-client reads `jwks_uri` from
  /.well-known/openid-configuration (masks/flows.py discovery()); the suite tries RFC 8414's path first.
- GET /jwks: the public key that signs the access tokens (a new P-256 key at every start).
- POST /token: client_credentials for `conformance-client`, client_secret_basic (RFC 6749 §2.3.1, §4.4).
  With a DPoP header it verifies the proof as RFC 9449 §4.3 says (one header; a compact JWS in base64url
  without padding; typ dpop+jwt; an asymmetric alg it lists, with a public jwk of the matching type and
  curve, RSA at least 2048 bits (RFC 7518 §3.3); the signature by that jwk; htm POST; htu this endpoint,
  query and fragment ignored; iat within 300 s before and 60 s after now; a jti it has not seen before)
  and issues a token bound to the RFC 7638 thumbprint of the proof's key (`cnf.jkt`, RFC 9449 §6.1) with
  token_type DPoP (§5). Without a DPoP header it issues an unbound Bearer token, as §5 allows.

The tokens are what masks-client verifies (masks/verifier.py _Verifying._verify): JWTs typed at+jwt
(RFC 9068), ES256, with the `kid` of the JWKS key, `iss`, `aud` (the resource URL), `exp`, `jti`, `iat`,
`sub`, `client_id`, `scope`. Every answer carries Cache-Control: no-store (RFC 6749 §5.1).

env: DPOP_CLIENT_SECRET (required: conformance-client's secret), AS_PORT, RS_PORT, WATCH_PID (common.py)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import re
import secrets
import sys
import threading
import time
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import jwt
from common import (
    AS_PORT,
    CLIENT_ID,
    HOST,
    ISSUER,
    RESOURCE,
    SCOPE,
    TOKEN_ENDPOINT,
    exit_with_watched_process,
    listening_socket,
)
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, get_default_algorithms

# the proof algorithms verified here: every one the suite can sign with and PyJWT verifies (Ed25519 and Ed448
# under EdDSA); listed in the metadata, so the suite can bind tokens to keys of each kind and see which ones
# masks-client takes (its own list is in its WWW-Authenticate challenge)
PROOF_ALGS: dict[str, tuple[str, tuple[str, ...]]] = {
    # alg: (JWK kty, allowed crv values; none for RSA)
    "ES256": ("EC", ("P-256",)),
    "ES384": ("EC", ("P-384",)),
    "ES512": ("EC", ("P-521",)),
    "PS256": ("RSA", ()),
    "RS256": ("RSA", ()),
    "EdDSA": ("OKP", ("Ed25519", "Ed448")),
}
PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
THUMBPRINT_MEMBERS = {"EC": ("crv", "kty", "x", "y"), "RSA": ("e", "kty", "n"), "OKP": ("crv", "kty", "x")}
MIN_RSA_BITS = 2048  # RFC 7518 §3.3 and §3.5: "A key of size 2048 bits or larger MUST be used"
IAT_PAST_S = 300  # how old a proof may be (§4.3 check 11: "within an acceptable window")
IAT_FUTURE_S = 60  # how far ahead a client's clock may run
TOKEN_TTL_S = 600
SEGMENT = re.compile(r"[A-Za-z0-9_-]+")  # base64url without padding (RFC 7515 §2)
ALGORITHMS = get_default_algorithms()

CLIENT_SECRET = os.environ.get("DPOP_CLIENT_SECRET", "")
if not CLIENT_SECRET:
    sys.exit("as.py: set DPOP_CLIENT_SECRET (the secret of conformance-client)")

# the key that signs the access tokens: new at every start, published at /jwks for masks-client
SIGNING_KEY = ec.generate_private_key(ec.SECP256R1())
SIGNING_KID = "access-tokens-" + secrets.token_hex(4)
PUBLIC_JWK = {
    **json.loads(ECAlgorithm.to_jwk(SIGNING_KEY.public_key())),
    "kid": SIGNING_KID,
    "use": "sig",
    "alg": "ES256",
}

METADATA: dict[str, Any] = {
    "issuer": ISSUER,
    "token_endpoint": TOKEN_ENDPOINT,
    "jwks_uri": f"{ISSUER}/jwks",
    "grant_types_supported": ["client_credentials"],
    "response_types_supported": [],  # no authorization endpoint: client_credentials only
    "token_endpoint_auth_methods_supported": ["client_secret_basic"],
    "scopes_supported": [SCOPE],
    "dpop_signing_alg_values_supported": list(PROOF_ALGS),
}


class OAuthError(Exception):
    """An error answer of the token endpoint (RFC 6749 §5.2; invalid_dpop_proof: RFC 9449 §5)."""

    def __init__(self, status: int, code: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.code = code
        self.description = description


def _proof_error(description: str) -> OAuthError:
    return OAuthError(400, "invalid_dpop_proof", description)


class SeenJtis:
    """The jti of every proof accepted within the iat window: a proof is used once (RFC 9449 §11.1)."""

    def __init__(self) -> None:
        self._until: dict[str, float] = {}
        self._lock = threading.Lock()

    def first(self, jti: str, now: float) -> bool:
        """True the first time `jti` is seen (and remember it for as long as its proof could be accepted)."""
        with self._lock:
            self._until = {held: until for held, until in self._until.items() if until > now}
            if jti in self._until:
                return False
            self._until[jti] = now + IAT_PAST_S + IAT_FUTURE_S
            return True


SEEN = SeenJtis()


def _b64url(segment: str) -> bytes:
    """Strict base64url (RFC 7515 §2): the URL-safe alphabet only, no padding, no stray characters."""
    if not SEGMENT.fullmatch(segment) or len(segment) % 4 == 1:
        raise _proof_error("the proof is not a compact JWS in base64url without padding")
    try:
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError) as error:
        raise _proof_error("the proof is not a compact JWS in base64url without padding") from error


def _json_object(segment: str, what: str) -> dict[str, Any]:
    try:
        found = json.loads(_b64url(segment))
    except ValueError as error:
        raise _proof_error(f"the proof's {what} is not JSON") from error
    if not isinstance(found, dict):
        raise _proof_error(f"the proof's {what} is not a JSON object")
    return found


def thumbprint(jwk: Mapping[str, Any]) -> str:
    """The RFC 7638 JWK SHA-256 thumbprint: the required members, in lexicographic order, no white space."""
    names = THUMBPRINT_MEMBERS[str(jwk["kty"])]
    members = {name: jwk[name] for name in names}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()


def _normalised(url: str) -> str | None:
    """scheme://host[:port]/path of an http(s) URL, scheme and host in lower case, the default port dropped,
    query and fragment ignored (RFC 9449 §4.3 check 9); None for anything else (userinfo, a backslash)."""
    if "\\" in url:
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname or "@" in parts.netloc:
        return None
    host = parts.hostname.lower()
    if port is not None and port != {"http": 80, "https": 443}[scheme]:
        host = f"{host}:{port}"
    return f"{scheme}://{host}{parts.path or '/'}"


def verify_proof(values: list[str], now: float) -> str:
    """Check the DPoP header(s) of a token request as RFC 9449 §4.3 says; the proof key's thumbprint."""
    if len(values) != 1:  # check 1: not more than one DPoP HTTP request header field
        raise _proof_error("a token request carries exactly one DPoP header")
    segments = values[0].split(".")
    if len(segments) != 3:  # check 2: a well-formed JWT (JWS compact serialization)
        raise _proof_error("the proof is not a compact JWS (three segments)")
    header = _json_object(segments[0], "header")
    claims = _json_object(segments[1], "payload")
    signature = _b64url(segments[2]) if segments[2] else b""
    if header.get("typ") != "dpop+jwt":  # check 4
        raise _proof_error("the proof's typ is not dpop+jwt")
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in PROOF_ALGS:  # check 5: asymmetric, supported
        raise _proof_error(f"alg {alg!r} is not one this server accepts ({', '.join(PROOF_ALGS)})")
    if "crit" in header:  # RFC 7515 §4.1.11: no extension is understood here
        raise _proof_error("the proof names critical header parameters this server does not understand")
    jwk = header.get("jwk")
    kty, curves = PROOF_ALGS[alg]
    if not isinstance(jwk, dict) or jwk.get("kty") != kty or (curves and jwk.get("crv") not in curves):
        raise _proof_error(f"the proof's jwk is not a {kty} key for {alg}")  # check 5 and 7
    if PRIVATE_MEMBERS & set(jwk):  # check 7: no private key
        raise _proof_error("the proof's jwk carries private key members")
    if any(not isinstance(jwk.get(name), str) or not jwk.get(name) for name in THUMBPRINT_MEMBERS[kty]):
        raise _proof_error("the proof's jwk lacks a member of its key")
    try:
        public_key = jwt.PyJWK(jwk, algorithm=alg).key
    except (jwt.PyJWTError, ValueError, TypeError) as error:
        raise _proof_error("the proof's jwk is not a valid public key") from error
    if isinstance(public_key, rsa.RSAPublicKey) and public_key.key_size < MIN_RSA_BITS:
        raise _proof_error(f"RSA keys under {MIN_RSA_BITS} bits are not accepted (RFC 7518 §3.3)")
    signing_input = f"{segments[0]}.{segments[1]}".encode()
    if not signature or not ALGORITHMS[alg].verify(signing_input, public_key, signature):  # check 6
        raise _proof_error("the proof's signature does not verify with its jwk")
    if claims.get("htm") != "POST":  # check 8
        raise _proof_error("htm is not POST")
    htu = claims.get("htu")
    if not isinstance(htu, str) or _normalised(htu) != _normalised(TOKEN_ENDPOINT):  # check 9
        raise _proof_error(f"htu is not {TOKEN_ENDPOINT}")
    iat = claims.get("iat")
    if isinstance(iat, bool) or not isinstance(iat, (int, float)):  # check 11
        raise _proof_error("iat is not a number")
    if not now - IAT_PAST_S <= iat <= now + IAT_FUTURE_S:
        raise _proof_error("iat is outside the acceptable window")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti or len(jti) > 512:
        raise _proof_error("jti is not a string")
    if not SEEN.first(jti, now):  # check 12 of the first draft, §11.1: each jti once
        raise _proof_error("this proof's jti was used before")
    return thumbprint(jwk)


def authenticated_client(authorization: str) -> str:
    """The client id of a valid client_secret_basic Authorization header (RFC 6749 §2.3.1)."""
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() != "basic" or not credentials:
        raise OAuthError(401, "invalid_client", "client_secret_basic is required")
    try:
        client_id, sep, secret = base64.b64decode(credentials.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError) as error:
        raise OAuthError(401, "invalid_client", "the Basic credentials are not base64") from error
    client_id, secret = unquote(client_id), unquote(secret)  # form-urlencoded before base64 (§2.3.1)
    if not sep or client_id != CLIENT_ID or not hmac.compare_digest(secret.encode(), CLIENT_SECRET.encode()):
        raise OAuthError(401, "invalid_client", "unknown client or wrong secret")
    return client_id


def token_response(form: dict[str, str], authorization: str, dpop: list[str]) -> dict[str, Any]:
    """The token endpoint's 200 answer for a client_credentials request, or OAuthError."""
    client_id = authenticated_client(authorization)
    if form.get("client_id", client_id) != client_id:
        raise OAuthError(400, "invalid_request", "client_id differs from the authenticated client")
    if form.get("grant_type") != "client_credentials":
        raise OAuthError(400, "unsupported_grant_type", "only client_credentials is supported")
    if form.get("scope", SCOPE).split() not in ([SCOPE], []):
        raise OAuthError(400, "invalid_scope", f"the only scope is {SCOPE}")
    now = time.time()
    jkt = verify_proof(dpop, now) if dpop else None
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "sub": client_id,
        "aud": RESOURCE,
        "client_id": client_id,
        "scope": SCOPE,
        "iat": int(now),
        "exp": int(now) + TOKEN_TTL_S,
        "jti": secrets.token_urlsafe(16),
    }
    if jkt:
        claims["cnf"] = {"jkt": jkt}
    token = jwt.encode(claims, SIGNING_KEY, algorithm="ES256", headers={"typ": "at+jwt", "kid": SIGNING_KID})
    return {"access_token": token, "token_type": "DPoP" if jkt else "Bearer", "expires_in": TOKEN_TTL_S, "scope": SCOPE}


class Handler(BaseHTTPRequestHandler):
    """GET the metadata and the JWKS, POST /token; 404 for anything else."""

    protocol_version = "HTTP/1.1"  # keep-alive, so every answer carries Content-Length
    server_version = "masks-client-harness-as"

    def _send_json(self, status: int, body: Any, headers: Mapping[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Pragma", "no-cache")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # the name http.server calls
        path = urlsplit(self.path).path
        if path in ("/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"):
            self._send_json(200, METADATA)
        elif path == "/jwks":
            self._send_json(200, {"keys": [PUBLIC_JWK]})
        else:
            self._send_json(404, {"error": "not_found"})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace") if 0 < length <= 65536 else ""
        if urlsplit(self.path).path != "/token":
            self._send_json(404, {"error": "not_found"})
            return
        try:
            if not self.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
                raise OAuthError(400, "invalid_request", "the body is not application/x-www-form-urlencoded")
            parsed = parse_qs(body, keep_blank_values=True)
            if any(len(values) > 1 for values in parsed.values()):  # RFC 6749 §3.2: each parameter once
                raise OAuthError(400, "invalid_request", "a parameter is repeated")
            form = {name: values[0] for name, values in parsed.items()}
            answer = token_response(form, self.headers.get("Authorization", ""), self.headers.get_all("DPoP") or [])
        except OAuthError as error:
            challenge = {"WWW-Authenticate": 'Basic realm="token"'} if error.status == 401 else None
            self._send_json(error.status, {"error": error.code, "error_description": error.description}, challenge)
            return
        self._send_json(200, answer)

    def log_message(self, format: str, *args: Any) -> None:  # http.server's signature
        """One line per request on stderr (as.log), without the client address (always loopback)."""
        sys.stderr.write(f"as.py: {format % args}\n")


def main() -> None:
    """Serve on AS_PORT until stopped (SIGTERM from stop.sh) or until WATCH_PID's process is gone."""
    exit_with_watched_process("as.py")
    sock = listening_socket("as.py", AS_PORT)
    server = ThreadingHTTPServer((HOST, AS_PORT), Handler, bind_and_activate=False)
    server.socket.close()
    server.socket = sock  # the socket bound by listening_socket (its error names a taken port)
    server.daemon_threads = True
    print(f"as.py: {ISSUER}: client_credentials for {CLIENT_ID}, tokens for {RESOURCE}", file=sys.stderr, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
