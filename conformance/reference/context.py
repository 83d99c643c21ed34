"""State shared by the endpoints of one reference-server instance."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import Response

from conformance.reference.nonces import NonceService, NonceVerdict
from conformance.reference.replay import ReplayCache
from conformance.reference.settings import ServerSettings
from conformance.reference.tokens import (
    AuthorizationCode,
    BoundedStore,
    PendingAuthorization,
    RefreshGrant,
    TokenIssuer,
)
from conformance.reference.urls import server_url
from conformance.reference.verify import ProofMemo

__all__ = ["PAR_TTL", "ServerContext"]

# Extra lifetime of replay entries beyond the iat window, for clock rounding between the checks.
_REPLAY_MARGIN = 5
# Authorization codes live at most 60 s (FAPI 2.0); pending consent hops likewise.
_CODE_TTL = 60
# Pushed authorization requests (RFC 9126): the request_uri lifetime announced as expires_in.
PAR_TTL = 60
_REFRESH_TTL = 24 * 3600
_STORE_CAPACITY = 10_000
# private_key_jwt assertions: exp may be at most this far ahead, and their jti is kept as long.
ASSERTION_MAX_LIFETIME = 3600


@dataclass
class ServerContext:
    """Settings, keys, caches and stores of one app; built once by create_app."""

    settings: ServerSettings
    base_url: str
    issuer: TokenIssuer = field(init=False)
    nonces: NonceService = field(init=False)
    replay: ReplayCache = field(init=False)
    assertion_replay: ReplayCache = field(init=False)
    pending: BoundedStore[PendingAuthorization] = field(init=False)
    pushed: BoundedStore[PendingAuthorization] = field(init=False)
    codes: BoundedStore[AuthorizationCode] = field(init=False)
    refresh_tokens: BoundedStore[RefreshGrant] = field(init=False)
    # what the defects that short-cut a check remember of verified proofs (empty on a clean server)
    memo: ProofMemo = field(init=False, default_factory=ProofMemo)
    # requests being answered now, and those answered while others were (the `lossy-store` leniency)
    in_flight: int = field(init=False, default=0)
    _crowded: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        settings = self.settings
        self.base_url = self.base_url.rstrip("/")
        self.issuer = TokenIssuer(self.base_url, settings.access_token_ttl)
        self.nonces = NonceService(settings.nonce_lifetime, settings.defects)
        past = 1800 if "iat-window-wide" in settings.defects else settings.iat_past
        ttl = 2 if "replay-forgets" in settings.defects else past + settings.iat_future + _REPLAY_MARGIN
        self.replay = ReplayCache(settings.replay_cache_size, ttl)
        self.assertion_replay = ReplayCache(_STORE_CAPACITY, ASSERTION_MAX_LIFETIME + _REPLAY_MARGIN)
        self.pending = BoundedStore(_CODE_TTL, _STORE_CAPACITY)
        self.pushed = BoundedStore(PAR_TTL, _STORE_CAPACITY)
        self.codes = BoundedStore(_CODE_TTL, _STORE_CAPACITY)
        self.refresh_tokens = BoundedStore(_REFRESH_TTL, _STORE_CAPACITY)

    @property
    def defects(self) -> frozenset[str]:
        """The active defect and leniency switches."""
        return self.settings.switches

    def endpoint(self, path: str) -> str:
        """Absolute URL of one of this server's endpoints."""
        return self.base_url + path

    @property
    def algs(self) -> str:
        """The resource's `algs` challenge parameter: the proof algorithms it accepts."""
        return " ".join(self.settings.rs_algs)

    def request_url(self, request: Request) -> str:
        """The request URL this server compares htu with: configured base URL + raw request path."""
        raw_path = request.scope.get("raw_path")
        path = raw_path.decode("latin-1") if isinstance(raw_path, bytes) else request.url.path
        query = request.scope.get("query_string", b"").decode("latin-1")
        return server_url(self.base_url, path, query, request.headers, self.defects)

    def lost(self) -> bool:
        """`lossy-store`: whether this lookup of a code or refresh token loses it (one in five while more than one
        request is in flight, as a store under concurrent load that real servers have)."""
        if "lossy-store" not in self.defects or self.in_flight <= 1:
            return False
        self._crowded += 1
        return self._crowded % 5 == 0

    def nonce_check(self, side: str) -> Callable[[str | None], NonceVerdict] | None:
        """The nonce check for proofs sent to `side` ("as" or "rs"), or None when none is demanded."""
        if not self.settings.demands_nonce(side) or "nonce-optional" in self.defects:
            return None
        return self.nonces.checker(side)

    def add_fresh_nonce(self, response: Response, side: str) -> None:
        """§8.2 / §9: hand out a fresh nonce on successful responses when `side` uses nonces."""
        if self.settings.demands_nonce(side):
            response.headers["DPoP-Nonce"] = self.nonces.issue(side, on_success=True)
