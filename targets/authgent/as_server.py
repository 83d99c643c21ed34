"""Authorization server: authgent-server as its own CLI starts it, on loopback, with two clients provisioned.

`authgent-server run` (authgent_server/cli.py run()) is `uvicorn.run("authgent_server.app:create_app",
factory=True, host=..., port=...)` after writing a .env; this script serves the same app the same way, on
127.0.0.1 (on a socket it binds first, common.py listen()), after
setting the deployment settings in the environment (authgent reads AUTHGENT_* variables, config.py) and
writing the clients into a new database. It decides nothing about DPoP: every proof is judged by
authgent_server/endpoints/token.py and services/dpop_service.py.

Settings (AUTHGENT_*):
    SERVER_URL        http://127.0.0.1:AS_PORT, the issuer (discovery, iss, aud of the tokens)
    HOST, PORT        127.0.0.1 and AS_PORT: authgent only logs them (app.py lifespan)
    DATABASE_URL      SQLite in DPOP_RUN_DIR/authgent.db, new at every start (authgent's default backend)
    SECRET_KEY        new at every start (authgent derives the DPoP nonce key and the key encrypting the
                      signing key from it, config.py); the signing key is made by the app at startup
    TOKEN_RATE_LIMIT  raised from 100 to 1,000,000 a minute: a run sends some 400 token requests from one
                      address, and authgent's per-address limit (middleware/rate_limit.py) would answer 429
                      after the first 100; it has nothing to do with DPoP
    CONSENT_MODE      auto_approve (the default, spelled out): GET /authorize redirects with a code at once,
                      so the suite's `login = "auto"` completes the public client's login
    REQUIRE_DPOP      left to start.sh: the configuration (true: DPoP and server nonces at the token endpoint)

Clients (authgent has no CLI command that registers a client with a given secret, and its /register endpoint
makes up the secret, so they are written into the database through authgent's own model, OAuthClient):
    conformance-client  confidential: client_secret_basic or _post with DPOP_CLIENT_SECRET, client_credentials.
                        The secret is stored as authgent stores it, a bcrypt hash (client_service.py
                        _hash_secret), at cost 4 instead of 12: the check runs on every token request, in the
                        event loop, and at cost 12 a run would spend a minute in bcrypt. DPoP is unaffected.
    conformance-spa     public (token_endpoint_auth_method none): authorization_code + PKCE, refresh_token,
                        redirect URI http://127.0.0.1:8765/callback (never requested: the suite reads the code
                        from the redirect)

env: DPOP_CLIENT_SECRET (required), DPOP_RUN_DIR (required), AS_PORT, WATCH_PID (see common.py)
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
from pathlib import Path

from common import AS_PORT, HOST, ISSUER, exit_with_watched_process, listen

CONFIDENTIAL_CLIENT = "conformance-client"
PUBLIC_CLIENT = "conformance-spa"
REDIRECT_URI = "http://127.0.0.1:8765/callback"
SCOPE = "read"
SECRET_HASH_COST = 4  # bcrypt's lowest cost; authgent registers clients at 12 (see the docstring)


def configure(run_dir: Path) -> str:
    """Sets the AUTHGENT_* deployment settings (before authgent reads them); returns the database URL."""
    database = run_dir / "authgent.db"
    for stale in (database, run_dir / "authgent.db-journal"):
        stale.unlink(missing_ok=True)  # every start begins with no codes, tokens or keys of a previous one
    database_url = f"sqlite+aiosqlite:///{database}"
    os.environ["AUTHGENT_SERVER_URL"] = ISSUER
    os.environ["AUTHGENT_HOST"] = HOST  # only logged by authgent (app.py lifespan); uvicorn.run below binds
    os.environ["AUTHGENT_PORT"] = str(AS_PORT)
    os.environ["AUTHGENT_DATABASE_URL"] = database_url
    os.environ["AUTHGENT_SECRET_KEY"] = secrets.token_hex(32)
    os.environ["AUTHGENT_TOKEN_RATE_LIMIT"] = "1000000"
    os.environ["AUTHGENT_CONSENT_MODE"] = "auto_approve"
    return database_url


async def provision(database_url: str, client_secret: str) -> None:
    """Creates authgent's tables and writes the two clients, with authgent's models (the app's own startup
    creates the signing key afterwards: app.py lifespan)."""
    import bcrypt
    from authgent_server.models import Base, OAuthClient
    from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        async with AsyncSession(engine) as session:
            session.add_all(
                [
                    OAuthClient(
                        client_id=CONFIDENTIAL_CLIENT,
                        client_secret_hash=bcrypt.hashpw(
                            client_secret.encode(), bcrypt.gensalt(rounds=SECRET_HASH_COST)
                        ).decode(),
                        client_name="dpop-conformance confidential client",
                        grant_types=["client_credentials"],
                        redirect_uris=[],
                        scope=SCOPE,
                        token_endpoint_auth_method="client_secret_basic",
                    ),
                    OAuthClient(
                        client_id=PUBLIC_CLIENT,
                        # the column is NOT NULL; a public client never presents a secret, so this one is a
                        # hash of random bytes nobody knows
                        client_secret_hash=bcrypt.hashpw(
                            secrets.token_bytes(32).hex().encode(), bcrypt.gensalt(rounds=SECRET_HASH_COST)
                        ).decode(),
                        client_name="dpop-conformance public client",
                        grant_types=["authorization_code", "refresh_token"],
                        redirect_uris=[REDIRECT_URI],
                        scope=SCOPE,
                        token_endpoint_auth_method="none",
                    ),
                ]
            )
            await session.commit()
    finally:
        await engine.dispose()


def main() -> int:
    """Configures, provisions, then serves authgent-server until SIGTERM (or WATCH_PID's end)."""
    client_secret = os.environ.get("DPOP_CLIENT_SECRET", "")
    run_dir = os.environ.get("DPOP_RUN_DIR", "")
    if not client_secret or not run_dir:
        print("as_server.py: set DPOP_CLIENT_SECRET and DPOP_RUN_DIR", file=sys.stderr)
        return 2
    sock = listen("as_server.py", AS_PORT)  # first: a port taken fails before anything is set up
    exit_with_watched_process("as_server.py")
    database_url = configure(Path(run_dir))
    asyncio.run(provision(database_url, client_secret))

    import uvicorn

    require = os.environ.get("AUTHGENT_REQUIRE_DPOP", "false")
    print(f"as_server.py: authgent-server on {ISSUER}, AUTHGENT_REQUIRE_DPOP={require}", flush=True)
    # what authgent_server/cli.py run() does (uvicorn.run builds this Config and Server), uvicorn's other
    # settings left at their defaults; only the socket is the one bound above
    config = uvicorn.Config("authgent_server.app:create_app", factory=True, host=HOST, port=AS_PORT)
    uvicorn.Server(config).run(sockets=[sock])
    return 0


if __name__ == "__main__":
    sys.exit(main())
