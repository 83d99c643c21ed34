"""pydpop 0.2.1 on HTTP: GET /resource behind pydpop.integrations.starlette.DPoPMiddleware (what the runs
judge, `--actor RS`), and the small authorization server that mints its tokens, served on 127.0.0.1 by one
uvicorn process.

pydpop judges every DPoP proof the resource receives: DPoPMiddleware reads the DPoP and Authorization
fields, builds htm/htu, calls verify_proof() (signature, typ, alg, jwk, htm, htu, iat, jti replay, nonce,
ath) and answers every failure itself. What this file adds is what the library leaves to its caller:

- the resource (RS): the endpoint behind the middleware does what the middleware's docstring leaves to
  it: it checks the access token the AS issued and compares its cnf.jkt with the thumbprint the
  middleware found (`scope["dpop"]["jwk_thumbprint"]`). It reads the token exactly as the middleware
  does, so it never accepts a token whose ath the middleware did not compare.
- the authorization server (AS), never judged: RFC 8414 metadata, client_secret_basic authentication of
  one confidential client, the client_credentials grant, and a JWT access token bound to the proof's key
  (cnf.jkt = the RFC 7638 thumbprint that verify_proof() returns, replay store on, no nonces), token_type
  DPoP, Cache-Control: no-store. pydpop has no token endpoint of its own: an AS-side verdict would judge
  this file's token binding, error answers and nonce protocol, not pydpop, so the runs are `--actor RS`.

There is no authorization endpoint, PAR, refresh token, introspection or public client (AS features,
and the AS is not judged).

usage: python glue.py CONFIGURATION   (required | nonces)
env:   AS_PORT, RS_PORT (required), DPOP_CLIENT_SECRET (required), WATCH_PID (optional: exit once that
       process is gone)
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass
from types import FrameType
from typing import Any
from urllib.parse import parse_qs, unquote_plus

import uvicorn

# pydpop ships no type information (no py.typed)
from pydpop import (  # type: ignore[import-untyped]
    COMPOSITE_ALGS,
    DPoPError,
    MemoryJtiStore,
    mldsa_available,
    verify_proof,
)
from pydpop.integrations.starlette import DPoPMiddleware  # type: ignore[import-untyped]
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

HOST = "127.0.0.1"
CLIENT_ID = "conformance-client"
TOKEN_LIFETIME_S = 3600
FORM = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class Configuration:
    """The DPoPMiddleware options one configuration sets."""

    nonces: bool  # DPoPMiddleware(expected_nonce=N, challenge_nonce=N): demand a server nonce and supply it


# Every DPoPMiddleware option that changes DPoP behaviour (pydpop/integrations/starlette.py __init__):
# - expected_nonce / challenge_nonce: nonces off (the default) or on. They are one mode: expected_nonce
#   alone demands a nonce no answer ever supplies (no client can pass), challenge_nonce alone supplies a
#   nonce that is never checked; so both are set to the same value, or neither.
# - jti_store: always a replay store (`jti_store or MemoryJtiStore()`): none is not an option, and the
#   only store pydpop ships is the default's MemoryJtiStore, so it is left at the default.
# - clock_skew: the iat window (default 60 s), a number rather than a mode: left at the default.
# DPoP is always required (a request without a DPoP field gets 401): there is no optional mode.
CONFIGURATIONS = {
    "required": Configuration(nonces=False),
    "nonces": Configuration(nonces=True),
}


def say(message: str) -> None:
    """One line on stderr (servers.log): what start.sh's caller reads when the servers do not come up."""
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def b64url(data: bytes) -> str:
    """base64url without padding (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Strict base64url: only the URL-safe alphabet, no padding (for the glue's own tokens only)."""
    if not text or any(c not in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" for c in text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class AccessTokens:
    """JWT access tokens (RFC 9068) signed with HS256 under a key that lives only in this process: the AS
    and the resource share the process, so the resource needs no JWKS or introspection to check them."""

    def __init__(self, issuer: str, audience: str) -> None:
        self.issuer = issuer
        self.audience = audience
        self._key = secrets.token_bytes(32)

    def _mac(self, signing_input: bytes) -> bytes:
        return hmac.new(self._key, signing_input, hashlib.sha256).digest()

    def issue(self, client_id: str, jkt: str) -> str:
        """A token for client_id bound to the key whose RFC 7638 thumbprint is jkt (RFC 9449 §6.1)."""
        now = int(time.time())
        header = {"alg": "HS256", "typ": "at+jwt"}
        claims = {
            "iss": self.issuer,
            "sub": client_id,
            "client_id": client_id,
            "aud": self.audience,
            "iat": now,
            "exp": now + TOKEN_LIFETIME_S,
            "jti": secrets.token_urlsafe(16),
            "cnf": {"jkt": jkt},
        }
        signing_input = ".".join(b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims))
        return f"{signing_input}.{b64url(self._mac(signing_input.encode('ascii')))}"

    def claims(self, token: str) -> dict[str, Any] | None:
        """The claims of a token this process issued that is still valid for this resource, else None."""
        parts = token.split(".")
        if len(parts) != 3:
            return None
        try:
            signature = b64url_decode(parts[2])
            signing_input = f"{parts[0]}.{parts[1]}".encode("ascii")
        except (ValueError, UnicodeEncodeError):
            return None
        if not hmac.compare_digest(signature, self._mac(signing_input)):
            return None
        claims: dict[str, Any] = json.loads(b64url_decode(parts[1]))  # ours: signed, so well-formed
        if claims.get("iss") != self.issuer or claims.get("aud") != self.audience:
            return None
        if not isinstance(claims.get("exp"), int) or claims["exp"] <= time.time():
            return None
        return claims


def oauth_error(status: int, error: str, description: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """An RFC 6749 §5.2 error response, never cached."""
    return JSONResponse(
        {"error": error, "error_description": description},
        status_code=status,
        headers={"Cache-Control": "no-store", **(headers or {})},
    )


def authenticated_client(authorization: str | None, secret: str) -> str | None:
    """client_secret_basic (RFC 6749 §2.3.1): the client id when Basic credentials name our client and
    its secret, else None. Id and secret are form-urlencoded inside the Basic credentials."""
    if authorization is None:
        return None
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, colon, client_secret = decoded.partition(":")
    if not colon:
        return None
    client_id, client_secret = unquote_plus(client_id), unquote_plus(client_secret)
    id_ok = hmac.compare_digest(client_id.encode(), CLIENT_ID.encode())
    secret_ok = hmac.compare_digest(client_secret.encode(), secret.encode())
    return client_id if id_ok and secret_ok else None


def authorization_server(tokens: AccessTokens, token_url: str, secret: str) -> Starlette:
    """The token endpoint and its metadata: the harness's own AS, never judged (the runs are --actor RS).
    It checks the proof with verify_proof() and a replay store, and demands no nonce in any configuration."""
    jti_store = MemoryJtiStore()
    # advertise exactly what pydpop verifies, at the resource too: the suite reads this list to choose the
    # algorithms of its resource cases. ES256, and the composite algorithms when the installed
    # `cryptography` can verify ML-DSA (pydpop/verifier.py verify_proof(), the alg check at :89-91)
    algs = ["ES256", *(COMPOSITE_ALGS if mldsa_available() else ())]

    async def metadata(request: Request) -> Response:
        """RFC 8414 metadata. No authorization endpoint, so no response type (an empty list)."""
        return JSONResponse(
            {
                "issuer": tokens.issuer,
                "token_endpoint": token_url,
                "token_endpoint_auth_methods_supported": ["client_secret_basic"],
                "grant_types_supported": ["client_credentials"],
                "response_types_supported": [],
                "dpop_signing_alg_values_supported": algs,
            }
        )

    async def token(request: Request) -> Response:
        """POST /token: client_credentials for the confidential client, DPoP-bound tokens only."""
        client_id = authenticated_client(request.headers.get("authorization"), secret)
        if client_id is None:
            challenge = {"WWW-Authenticate": 'Basic realm="pydpop-harness"'}
            return oauth_error(401, "invalid_client", "client authentication failed", challenge)
        media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if media_type != FORM:
            return oauth_error(400, "invalid_request", f"the request body must be {FORM}")
        try:
            form = parse_qs((await request.body()).decode("utf-8"), keep_blank_values=True, strict_parsing=False)
        except UnicodeDecodeError:
            return oauth_error(400, "invalid_request", "the request body is not UTF-8")
        if any(len(values) > 1 for values in form.values()):
            return oauth_error(400, "invalid_request", "a parameter is repeated (RFC 6749 §3.2)")
        if form.get("grant_type", [""])[0] != "client_credentials":
            return oauth_error(400, "unsupported_grant_type", "only client_credentials is offered")
        # Every DPoP field line, combined as RFC 9110 §5.3 defines (joined with ", "): verify_proof() takes
        # one string, and is handed whatever the request carried, so it alone refuses two proofs or none.
        proof = ", ".join(request.headers.getlist("dpop"))
        try:
            bound = verify_proof(proof=proof, htm=request.method, htu=token_url, jti_store=jti_store)
        except DPoPError as exc:
            return oauth_error(400, "invalid_dpop_proof", str(exc))
        except (TypeError, ValueError) as exc:
            # verify_proof() lets a few malformed proofs escape as these (a jti that is a list, an htu that
            # urlsplit cannot parse): this AS is not judged, but it answers them as the refusals they are
            return oauth_error(400, "invalid_dpop_proof", f"malformed DPoP proof: {exc}")
        access_token = tokens.issue(client_id, bound["jwk_thumbprint"])
        return JSONResponse(
            {"access_token": access_token, "token_type": "DPoP", "expires_in": TOKEN_LIFETIME_S},
            headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
        )

    return Starlette(
        routes=[
            Route("/.well-known/oauth-authorization-server", metadata, methods=["GET"]),
            Route("/token", token, methods=["POST"]),
        ]
    )


def resource_server(tokens: AccessTokens, nonce: str | None) -> DPoPMiddleware:
    """GET /resource behind DPoPMiddleware (with nonce, its expected_nonce and challenge_nonce); the endpoint
    checks the token and its cnf.jkt."""

    def challenge(error: str | None = None, description: str | None = None) -> Response:
        """401 with a DPoP challenge (RFC 9449 §7.1); no error code when no credentials came (RFC 6750 §3.1)."""
        value = "DPoP" if error is None else f'DPoP error="{error}", error_description="{description}"'
        return JSONResponse(
            {"error": error} if error else {},
            status_code=401,
            headers={"WWW-Authenticate": value, "Cache-Control": "no-store"},
        )

    async def resource(request: Request) -> Response:
        """GET /resource: reached only once DPoPMiddleware has accepted the proof (scope["dpop"])."""
        # The token the middleware bound ath to, read exactly as it reads it (pydpop/integrations/
        # starlette.py DPoPMiddleware.__call__: one dict of the header lines, the last line of a name
        # winning, then `auth[5:] if auth.startswith("DPoP ") else None`). Reading it any other way would
        # check a token whose ath the middleware never compared, or refuse one it did: the glue's verdict.
        headers = {k.decode().lower(): v.decode() for k, v in request.scope["headers"]}
        if "authorization" not in headers:
            return challenge()
        auth = headers["authorization"]
        token = auth[5:] if auth.startswith("DPoP ") else None
        if token is None:
            return challenge("invalid_token", "no DPoP access token in Authorization")
        claims = tokens.claims(token)
        if claims is None:
            return challenge("invalid_token", "the access token is not valid here")
        # the docstring of DPoPMiddleware: compare scope["dpop"]["jwk_thumbprint"] against cnf.jkt
        if claims.get("cnf", {}).get("jkt") != request.scope["dpop"]["jwk_thumbprint"]:
            return challenge("invalid_token", "the proof's key is not the key the token is bound to")
        return JSONResponse({"resource": "protected", "client_id": claims["client_id"]})

    app = Starlette(routes=[Route("/resource", resource, methods=["GET"])])
    return DPoPMiddleware(app, expected_nonce=nonce, challenge_nonce=nonce)


class Server(uvicorn.Server):
    """A uvicorn server that leaves signals to main(): two servers share this process and its handlers."""

    def capture_signals(self) -> Any:  # uvicorn's would take SIGTERM for one server only
        return _NoSignals()


class _NoSignals:
    """A context manager that does nothing (what capture_signals returns instead of uvicorn's)."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def listening_socket(port: int) -> socket.socket:
    """A socket bound to 127.0.0.1:port, or exit 1 saying "address already in use" (start.sh's caller
    then tries other ports)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((HOST, port))
    except OSError as exc:
        reason = exc.strerror.lower() if exc.strerror else str(exc)
        say(f"glue.py: cannot listen on {HOST}:{port}: {reason}")
        sys.exit(1)
    sock.listen(128)
    sock.setblocking(False)
    return sock


def watch(pid: int, servers: list[Server]) -> None:
    """Stop the servers once process pid is gone (checked every second), so none outlives its caller."""
    while True:
        time.sleep(1)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        except PermissionError:
            continue  # exists, owned by someone else
    say(f"glue.py: process {pid} is gone; stopping")
    for server in servers:
        server.should_exit = True


def main() -> None:
    """Start the AS on AS_PORT and the resource on RS_PORT in the configuration named by argv[1]."""
    if len(sys.argv) != 2 or sys.argv[1] not in CONFIGURATIONS:
        say(f"usage: glue.py {{{'|'.join(CONFIGURATIONS)}}}")
        sys.exit(2)
    config = CONFIGURATIONS[sys.argv[1]]
    secret = os.environ.get("DPOP_CLIENT_SECRET", "")
    if not secret:
        say("glue.py: set DPOP_CLIENT_SECRET (the secret of conformance-client)")
        sys.exit(2)
    as_port, rs_port = int(os.environ["AS_PORT"]), int(os.environ["RS_PORT"])
    issuer = f"http://{HOST}:{as_port}"
    resource_url = f"http://{HOST}:{rs_port}/resource"
    tokens = AccessTokens(issuer, resource_url)
    # DPoPMiddleware's nonce options take one fixed value: new at every start, used for the server's lifetime
    rs_nonce = secrets.token_urlsafe(24) if config.nonces else None

    sockets = [listening_socket(as_port), listening_socket(rs_port)]
    apps: list[Any] = [
        authorization_server(tokens, f"{issuer}/token", secret),
        resource_server(tokens, rs_nonce),
    ]
    # proxy_headers=False: nothing sits in front of these servers, so X-Forwarded-* are not theirs to trust
    servers = [
        Server(uvicorn.Config(app, lifespan="off", proxy_headers=False, server_header=False, log_level="info"))
        for app in apps
    ]

    def stop(sig: int, frame: FrameType | None) -> None:
        for server in servers:
            server.should_exit = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    watched = os.environ.get("WATCH_PID")
    if watched:
        threading.Thread(target=watch, args=(int(watched), servers), daemon=True).start()

    async def serve() -> None:
        await asyncio.gather(*(server.serve(sockets=[sock]) for server, sock in zip(servers, sockets, strict=True)))

    asyncio.run(serve())


if __name__ == "__main__":
    main()
