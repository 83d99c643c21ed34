"""Resource server: the authgent SDK's two resource-side calls, `verify_token` and `verify_dpop_proof`, on HTTP.

The SDK (authgent 0.3.4) ships no DPoP middleware (authgent/middleware/fastapi.py reads `DPoP <token>` as a
bearer token and never looks at a proof), so this is the smallest program that puts those two calls in front
of one resource, GET or POST /resource:

- the access token: `authgent.verify_token(token, issuer, audience)` (signature by the issuer's JWKS, exp,
  iss, aud). The audience is the issuer's URL, the `aud` authgent-server gives every token requested without
  a `resource` (authgent_server/services/token_service.py `"aud": resource or self._settings.server_url`).
- the proof: `authgent.verify_dpop_proof(identity, proof, method, url)` (typ, jwk, signature, htm, htu, iat,
  and the jwk's thumbprint against the token's cnf.jkt). `url` is the request URL without its query, built
  the way authgent-server's own token endpoint builds it (endpoints/token.py: `str(request.url).split("?")[0]`).

What the glue decides is only what those calls cannot see, the HTTP around them, each as RFC 9449 §7 and
RFC 6750 say:
- which credentials the request carries: exactly one Authorization line `scheme 1*SP token68` (RFC 9110
  §11.4; the scheme in any case), or one access_token in the query or a form body (RFC 6750 §2.2, §2.3);
  more than one method is 400 invalid_request (RFC 6750 §3.1); no credentials is 401 with a DPoP and a Bearer
  challenge and no error (RFC 6750 §3.1, RFC 9449 §7.1);
- that a DPoP request carries exactly one DPoP header line (§4.3 check 1: the SDK takes one proof string);
- that a DPoP-bound token (cnf) is not accepted as a Bearer token (§7.2);
- the answers: the SDK's errors become 401 challenges, InvalidTokenError as invalid_token and DPoPError as
  invalid_dpop_proof (§7.1), with algs="ES256", the one algorithm both SDK and server take.

The SDK has no nonce and no jti replay cache; the glue adds neither. Any other exception of the SDK is left to
Starlette (a 500), never hidden.

env: AS_PORT, RS_PORT, WATCH_PID (see common.py)
"""

from __future__ import annotations

import re
import sys
from typing import Any
from urllib.parse import parse_qs

import uvicorn
from authgent import DPoPError, InvalidTokenError, verify_dpop_proof, verify_token
from authgent.models import AgentIdentity
from common import HOST, ISSUER, RESOURCE, RS_PORT, exit_with_watched_process, listen
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

# RFC 9110 §11.4: credentials = auth-scheme [ 1*SP ( token68 / ... ) ]; the scheme is a token
CREDENTIALS = re.compile(r"([!#$%&'*+.^_`|~0-9A-Za-z-]+) +([A-Za-z0-9._~+/-]+=*)")
SCHEMES = ("dpop", "bearer")  # compared case-insensitively (RFC 9110 §11.1)
ALGS = "ES256"  # the only alg of authgent/dpop.py verify_dpop_proof (and of the server's metadata)
MAX_FORM_BYTES = 65536


def quoted(value: str) -> str:
    """An auth-param value as a quoted-string (RFC 9110 §5.6.4)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def challenge(scheme: str, error: str | None = None, description: str | None = None) -> str:
    """A WWW-Authenticate challenge; the DPoP one names the algorithms (RFC 9449 §7.1)."""
    params = []
    if error:
        params.append(f"error={quoted(error)}")
    if description:
        params.append(f"error_description={quoted(description)}")
    if scheme == "DPoP":
        params.append(f"algs={quoted(ALGS)}")
    return f"{scheme} {', '.join(params)}" if params else scheme


def deny(status: int, www_authenticate: str, error: str | None = None) -> Response:
    """An error answer: the challenge, the error code in the body too, never cached."""
    return JSONResponse(
        {"error": error} if error else {},
        status_code=status,
        headers={"WWW-Authenticate": www_authenticate, "Cache-Control": "no-store"},
    )


def invalid_request(description: str) -> Response:
    """400 invalid_request: the request's credentials are malformed or come by more than one method."""
    return deny(400, challenge("DPoP", "invalid_request", description), "invalid_request")


async def other_tokens(request: Request) -> list[str]:
    """Access tokens sent by RFC 6750's other methods: the access_token query parameter (§2.3) and a member of
    a form-encoded POST body (§2.2)."""
    found = request.query_params.getlist("access_token")
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if request.method == "POST" and content_type == "application/x-www-form-urlencoded":
        body = await request.body()
        if len(body) <= MAX_FORM_BYTES:
            found += parse_qs(body.decode("utf-8", errors="replace")).get("access_token", [])
    return found


def several_methods(line: str) -> bool:
    """One Authorization line carrying more than one credential (a comma, or two scheme names)."""
    words = [w.lower() for w in re.split(r"[\s,]+", line) if w]
    return "," in line or sum(w in SCHEMES for w in words) > 1


async def bearer(request: Request, token: str) -> Response:
    """A Bearer token: verified by the SDK; a DPoP-bound one is refused (RFC 9449 §7.2)."""
    try:
        identity = await verify_token(token, ISSUER, audience=ISSUER)
    except InvalidTokenError as exc:
        return deny(401, f"{challenge('Bearer', 'invalid_token', exc.message)}, {challenge('DPoP')}", "invalid_token")
    if "cnf" in identity.claims.raw:
        description = "DPoP-bound token presented as a bearer token"
        return deny(401, f"{challenge('Bearer', 'invalid_token', description)}, {challenge('DPoP')}", "invalid_token")
    return granted(request, identity)


async def dpop(request: Request, token: str) -> Response:
    """A DPoP token and its proof: both judged by the SDK."""
    try:
        identity = await verify_token(token, ISSUER, audience=ISSUER)
    except InvalidTokenError as exc:
        return deny(401, challenge("DPoP", "invalid_token", exc.message), "invalid_token")
    proofs = request.headers.getlist("dpop")
    if len(proofs) != 1:
        description = "DPoP proof required" if not proofs else "more than one DPoP header field"
        return deny(401, challenge("DPoP", "invalid_dpop_proof", description), "invalid_dpop_proof")
    url = str(request.url).split("?")[0]
    try:
        verify_dpop_proof(identity, proofs[0], request.method, url)
    except DPoPError as exc:
        return deny(401, challenge("DPoP", "invalid_dpop_proof", exc.message), "invalid_dpop_proof")
    return granted(request, identity)


def granted(request: Request, identity: AgentIdentity) -> Response:
    """The protected resource."""
    body: dict[str, Any] = {
        "resource": "protected",
        "method": request.method,
        "client_id": identity.client_id,
        "sub": identity.subject,
    }
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


async def resource(request: Request) -> Response:
    """GET/POST /resource: finds the one credential of the request and hands it to the SDK."""
    lines = request.headers.getlist("authorization")
    others = await other_tokens(request)
    if others and (lines or len(others) > 1):
        return invalid_request("Multiple methods used to include access token")
    if others:
        return await bearer(request, others[0])
    if len(lines) > 1 or (lines and several_methods(lines[0])):
        return invalid_request("Multiple methods used to include access token")
    if not lines:
        return deny(401, f"{challenge('DPoP')}, Bearer")
    match = CREDENTIALS.fullmatch(lines[0].strip())
    if match is None:
        return invalid_request("Malformed Authorization header")
    scheme, token = match.group(1).lower(), match.group(2)
    if scheme == "bearer":
        return await bearer(request, token)
    if scheme == "dpop":
        return await dpop(request, token)
    return deny(401, f"{challenge('DPoP')}, Bearer")  # a scheme this resource does not take: no credentials


app = Starlette(routes=[Route("/resource", resource, methods=["GET", "POST"])])


def main() -> int:
    """Serves the resource until SIGTERM (or WATCH_PID's end)."""
    sock = listen("rs_server.py", RS_PORT)
    exit_with_watched_process("rs_server.py")
    print(f"rs_server.py: {RESOURCE} (tokens of {ISSUER}), authgent SDK verify_token + verify_dpop_proof", flush=True)
    uvicorn.Server(uvicorn.Config(app, host=HOST, port=RS_PORT)).run(sockets=[sock])
    return 0


if __name__ == "__main__":
    sys.exit(main())
