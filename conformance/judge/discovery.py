"""Where the target's endpoints are: configured in the target file, or discovered from the issuer's metadata.

The metadata is fetched once (RFC 8414, falling back to OpenID discovery) under a lock: cases that start together
ask for it together. An endpoint the metadata puts on another origin than the issuer's, and than those the
target file allows, is never used: credentials go only where the target file said (RFC 8414 §3.3 is why the
metadata's issuer must be the one asked for).
"""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import urlsplit

from conformance.client.evidence import Exchange
from conformance.client.flow import DPoPClient, FlowError
from conformance.client.origins import foreign, foreign_endpoints, issuer_mismatch
from conformance.client.target import Target
from conformance.judge.verdicts import CouldNotJudge

__all__ = ["Discovery"]


class Discovery:
    """The target's endpoints, and its metadata when it names an issuer."""

    def __init__(self, target: Target, client: DPoPClient) -> None:
        self.target = target
        self.client = client
        self._metadata: dict[str, Any] | None = None
        self._error: str | None = None
        self._exchanges: list[Exchange] = []
        self._issuer_mismatch: str | None = None
        self._lock = threading.Lock()

    @property
    def issuer(self) -> str | None:
        """The issuer the target file names, if any."""
        server = self.target.authorization_server
        return server.issuer if server else None

    @property
    def metadata(self) -> dict[str, Any] | None:
        """The AS metadata when the target names an issuer (fetched once), else None."""
        issuer = self.issuer
        if issuer and self._metadata is None and self._error is None:
            with self._lock:
                if self._metadata is None and self._error is None:
                    self._fetch(issuer)
        return self._metadata

    def _fetch(self, issuer: str) -> None:
        try:
            metadata = self.client.discover(issuer)
        except FlowError as exc:
            self._error = str(exc)
            self._exchanges = exc.exchanges
            return
        # RFC 8414 §3.3: the issuer in the metadata must be identical to the one it was fetched for, or an
        # attacker's metadata could name endpoints that collect the client's credentials
        self._issuer_mismatch = issuer_mismatch(issuer, metadata)
        if self._issuer_mismatch:
            self._error = self._issuer_mismatch
            return
        self._metadata = metadata

    @property
    def issuer_mismatch(self) -> str | None:
        """Why the metadata was refused for naming another issuer (RFC 8414 §3.3), if it was."""
        _ = self.metadata
        return self._issuer_mismatch

    @property
    def error(self) -> str | None:
        """Why the metadata could not be read, if it could not."""
        return self._error

    @property
    def exchanges(self) -> list[Exchange]:
        """The metadata requests that failed, as evidence."""
        return self._exchanges

    def metadata_exchange(self) -> Exchange:
        """A fresh metadata request (for evidence in a case that judges the metadata)."""
        issuer = self.issuer
        assert issuer, "metadata_exchange() needs an issuer"
        parts = urlsplit(issuer)
        url = f"{parts.scheme}://{parts.netloc}/.well-known/oauth-authorization-server{parts.path.rstrip('/')}"
        return self.client.exchange("authorization server metadata", "GET", url, [("Accept", "application/json")])

    def endpoint(self, name: str) -> str | None:
        """The endpoint `name` (token_endpoint, par_endpoint, ...): configured, else discovered on an allowed
        origin, else None."""
        server = self.target.authorization_server
        configured = getattr(server, name, None) if server else None
        if configured:
            return str(configured)
        discovered = (self.metadata or {}).get(name)
        if not isinstance(discovered, str):
            return None
        if self.foreign_origin(discovered):
            return None  # credentials go only where the target file said (see foreign_endpoints)
        return discovered

    def foreign_origin(self, url: str) -> bool:
        """True for a URL on another origin than the issuer's and than those the target file allows."""
        server = self.target.authorization_server
        return bool(server and server.issuer and foreign(url, server.issuer, server.allowed_origins))

    def foreign_endpoints(self) -> dict[str, str]:
        """The discovered endpoints left unused: on an origin the target file did not allow, and not configured."""
        server = self.target.authorization_server
        if server is None or not server.issuer or self.metadata is None:
            return {}
        found = foreign_endpoints(self.metadata, server.issuer, server.allowed_origins)
        configured = {"pushed_authorization_request_endpoint": "par_endpoint"}
        return {name: url for name, url in found.items() if not getattr(server, configured.get(name, name), None)}

    def summary(self) -> dict[str, str | None]:
        """The endpoints in use, configured or discovered (None where there is none), for results.json."""
        rs = self.target.resource_server
        return {"token_endpoint": self.endpoint("token_endpoint"), "resource_url": rs.url if rs else None}

    @property
    def token_endpoint(self) -> str:
        """The token endpoint URL; CouldNotJudge when neither configured nor discoverable."""
        url = self.endpoint("token_endpoint")
        if not url:
            raise CouldNotJudge(
                "no token endpoint: the target file gives none and discovery did not yield one"
                + (f" ({self._error})" if self._error else ""),
                exchanges=self._exchanges,
                cause="no token endpoint: the target file gives none and discovery did not yield one",
                fix="give [authorization_server] token_endpoint in the target file, or an issuer whose metadata "
                "lists it",
            )
        return url

    @property
    def authorization_endpoint(self) -> str:
        """The authorization endpoint URL (for authorization_code)."""
        url = self.endpoint("authorization_endpoint")
        if not url:
            raise CouldNotJudge(
                "no authorization endpoint configured or discoverable",
                cause="no authorization endpoint: the target file gives none and discovery did not yield one",
                fix="give [authorization_server] authorization_endpoint in the target file (the authorization_code "
                "grant and [public_client] log in there)",
            )
        return url

    @property
    def introspection_endpoint(self) -> str | None:
        """The introspection endpoint URL, if the target has one."""
        return self.endpoint("introspection_endpoint")

    @property
    def par_endpoint(self) -> str | None:
        """The pushed authorization request endpoint, configured or discovered, if any."""
        return self.endpoint("par_endpoint") or self.endpoint("pushed_authorization_request_endpoint")
