"""The resource server: masks-client's own ASGI middleware (masks.asgi.Middleware with masks.AsyncVerifier)
in front of GET /resource, served by uvicorn.

The middleware alone judges every request: it reads the Authorization and DPoP headers, verifies the access
token against the issuer's JWKS and, for a token bound to a key, the proof (masks/verifier.py), and answers
401 (with its WWW-Authenticate challenges) or 503 itself. What this file adds decides nothing:

- the issuer, found with masks-client's own discovery (masks.discover: /.well-known/openid-configuration),
  retried while as.py starts;
- the audience, the resource URL the AS puts in `aud`;
- the configuration (MASKS_CONFIGURATION): `default` builds the AsyncVerifier with its defaults, `public-url`
  passes public_url, the origin the resource is reached at, the one option of the verifier that changes
  how a proof is checked (the URL htu is compared with: masks/verifier.py _Verifying._target);
- the app behind the middleware, which answers 200 with a little JSON once the middleware let a request
  through (404 for other paths);
- uvicorn with proxy_headers off: nothing stands in front of this server, and uvicorn's default trusts
  X-Forwarded-Proto and X-Forwarded-For from 127.0.0.1, which is where the suite connects from, so it would
  rewrite the request's scheme on the suite's word before masks-client saw it. h11 is named (uvicorn's pure
  Python HTTP/1.1 parser, the only one installed), so the parsing never depends on what else is installed.

env: MASKS_CONFIGURATION (default | public-url), START_TIMEOUT, AS_PORT, RS_PORT, WATCH_PID (common.py)
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import httpx
import uvicorn
from common import HOST, ISSUER, RESOURCE, RS_PORT, exit_with_watched_process, listening_socket
from masks import AsyncVerifier, Claims, Issuer, MasksError, discover
from masks.asgi import CLAIMS, Middleware

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

CONFIGURATIONS = ("default", "public-url")
PUBLIC_URL = f"http://{HOST}:{RS_PORT}"  # the origin of RESOURCE: where the suite reaches the resource


def discovered_issuer(timeout_s: float) -> Issuer:
    """The issuer's metadata by masks-client's discovery, tried again until as.py answers or time runs out."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return discover(ISSUER)
        except (MasksError, httpx.HTTPError) as error:
            if time.monotonic() > deadline:
                sys.exit(f"rs.py: no metadata from {ISSUER} within {timeout_s:g} s: {error}")
            time.sleep(0.2)


async def resource(scope: Scope, receive: Receive, send: Send) -> None:
    """The protected resource, reached only through the middleware: the token's subject, as JSON."""
    if scope["type"] != "http":
        return
    claims: Claims = scope[CLAIMS]
    if scope.get("path") == "/resource":
        status, body = 200, {"resource": "protected", "method": scope.get("method"), "sub": claims.subject}
    else:
        status, body = 404, {"error": "not_found"}
    data = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})


def main() -> None:
    """Discover the issuer, build the verifier for the configuration, serve on RS_PORT."""
    configuration = os.environ.get("MASKS_CONFIGURATION", "default")
    if configuration not in CONFIGURATIONS:
        sys.exit(f"rs.py: MASKS_CONFIGURATION must be one of {', '.join(CONFIGURATIONS)}, got {configuration!r}")
    exit_with_watched_process("rs.py")
    sock = listening_socket("rs.py", RS_PORT)  # before discovery: a taken port is known at once
    issuer = discovered_issuer(float(os.environ.get("START_TIMEOUT", "30")))
    public_url = PUBLIC_URL if configuration == "public-url" else None
    verifier = AsyncVerifier(issuer, RESOURCE, public_url=public_url)
    config = uvicorn.Config(
        Middleware(resource, verifier),
        http="h11",
        proxy_headers=False,
        lifespan="off",
        log_level="info",
    )
    print(
        f"rs.py: {RESOURCE} (issuer {ISSUER}), configuration {configuration}: public_url {public_url}",
        file=sys.stderr,
        flush=True,
    )
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
