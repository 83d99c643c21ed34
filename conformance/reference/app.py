"""The reference server's Starlette application: AS and RS routes, CORS."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from starlette.applications import Starlette
from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from conformance.reference.authorization import AuthorizationServer
from conformance.reference.context import ServerContext
from conformance.reference.resource import ResourceServer
from conformance.reference.settings import ServerSettings

__all__ = ["CloseConnection", "create_app"]

_ALLOW_HEADERS = "Authorization, DPoP, Content-Type"
# `cors-headers`: the classic omission that makes browsers refuse to send the DPoP header at all.
_ALLOW_HEADERS_NO_DPOP = "Authorization, Content-Type"
_EXPOSE_HEADERS = "WWW-Authenticate, DPoP-Nonce"
#: `lossy-store`: how long each request waits on its (simulated) store before it is handled
_STORE_LATENCY_S = 0.005


class _ExposeHeaders:
    """Lets browser clients read WWW-Authenticate and DPoP-Nonce (RFC 9449 §7.1, §8).

    Pure ASGI rather than BaseHTTPMiddleware, which would buffer every response in another task.
    """

    def __init__(self, app: ASGIApp, *, expose: bool = True) -> None:
        self.app = app
        # False under `cors-expose`: scripts then cannot read the nonce or the challenge.
        self.expose = expose

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or "origin" not in Headers(scope=scope):
            await self.app(scope, receive, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["Access-Control-Allow-Origin"] = "*"
                if self.expose:
                    headers["Access-Control-Expose-Headers"] = _EXPOSE_HEADERS
            await send(message)

        await self.app(scope, receive, send_with_cors)


class CloseConnection(Exception):
    """Raised after an error response is sent, under `close-after-error`: uvicorn then drops the connection.

    An ASGI app cannot close its connection; an exception after the whole response is the one way to make
    uvicorn do it (without a Connection: close header, which would warn the client). server.py keeps it out
    of the logs.
    """


class _CloseAfterError:
    """The `close-after-error` leniency: the connection ends after every response of status 400 or more."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 0

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        await self.app(scope, receive, watch)
        if status >= 400:
            raise CloseConnection(f"closing the connection after HTTP {status}")


class _InFlight:
    """Counts the requests being answered (ServerContext.in_flight), for the `lossy-store` leniency.

    Each token request first waits a few milliseconds, as one that awaits its store's database does: the
    handlers here never wait, so without it two requests would hardly ever be answered at the same time.
    """

    def __init__(self, app: ASGIApp, context: ServerContext) -> None:
        self.app, self.context = app, context

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.context.in_flight += 1
        try:
            if scope.get("path") == "/token":  # the only endpoint that looks codes and refresh tokens up
                await asyncio.sleep(_STORE_LATENCY_S)
            await self.app(scope, receive, send)
        finally:
            self.context.in_flight -= 1


class _Throttle:
    """A rate limiter in front of the server: every `every`th request gets 429 with Retry-After, unseen by it."""

    def __init__(self, app: ASGIApp, every: int, retry_after: int) -> None:
        self.app, self.every, self.retry_after = app, every, retry_after
        self.count = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.count += 1
        if self.count % self.every:
            await self.app(scope, receive, send)
            return
        response = JSONResponse(
            {"error": "slow_down", "error_description": "rate limit"},
            status_code=429,
            headers={"Retry-After": str(self.retry_after)},
        )
        await response(scope, receive, send)


def _preflight(methods: str, defects: frozenset[str]) -> Callable[[Request], Awaitable[Response]]:
    allow_headers = _ALLOW_HEADERS_NO_DPOP if "cors-headers" in defects else _ALLOW_HEADERS

    async def preflight(request: Request) -> Response:
        # No cookies are ever used, so "*" is safe: credentials travel in explicit headers only.
        return Response(
            status_code=204,
            headers={
                "Access-Control-Allow-Origin": "*",
                "Access-Control-Allow-Methods": methods,
                "Access-Control-Allow-Headers": allow_headers,
                "Access-Control-Max-Age": "600",
            },
        )

    return preflight


def create_app(settings: ServerSettings, base_url: str) -> Starlette:
    """Build the reference AS + RS for `settings`, reachable at `base_url` (its issuer).

    `base_url` is also the only source of the server's own URL for htu checks: request headers
    such as Host or X-Forwarded-Host are never consulted (unless a defect says so).
    """
    ctx = ServerContext(settings=settings, base_url=base_url)
    defects = settings.defects
    authz = AuthorizationServer(ctx)
    rs = ResourceServer(ctx)
    routes = [
        Route("/.well-known/oauth-authorization-server", authz.metadata, methods=["GET"]),
        Route("/.well-known/openid-configuration", authz.metadata, methods=["GET"]),
        Route("/jwks", authz.jwks, methods=["GET"]),
        Route("/authorize", authz.authorize, methods=["GET"]),
        Route("/authorize/consent", authz.consent, methods=["GET"]),
        Route("/token", authz.token, methods=["POST"]),
        Route("/token", _preflight("POST, OPTIONS", defects), methods=["OPTIONS"]),
        Route("/introspect", authz.introspect, methods=["POST"]),
        Route("/resource", rs.resource, methods=["GET", "POST"]),
        Route("/resource", _preflight("GET, POST, OPTIONS", defects), methods=["OPTIONS"]),
    ]
    if settings.par:
        routes += [
            Route("/par", authz.par, methods=["POST"]),
            Route("/par", _preflight("POST, OPTIONS", defects), methods=["OPTIONS"]),
        ]
    middleware = [Middleware(_ExposeHeaders, expose="cors-expose" not in defects)]
    if "close-after-error" in settings.leniencies:
        middleware.insert(0, Middleware(_CloseAfterError))
    if "lossy-store" in settings.leniencies:
        middleware.insert(0, Middleware(_InFlight, context=ctx))
    if settings.throttle_every:
        middleware.insert(
            0, Middleware(_Throttle, every=settings.throttle_every, retry_after=settings.throttle_retry_after)
        )
    app = Starlette(routes=routes, middleware=middleware)
    app.state.context = ctx
    return app
