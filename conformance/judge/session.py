"""The run's shared state, as cases see it: the target's endpoints, the grants and tokens, the controls, and
calls to the resource.

One `DPoPSession` exists per pytest session (per xdist worker). It composes one object per job:
`discovery` (where the endpoints are, conformance/judge/discovery.py), `grants` (token requests, the public
client, PAR and the bound tokens, conformance/judge/grants.py) and `controls` (the valid requests around the
altered ones, and the accepted ones kept for replays, conformance/judge/controls.py). What cases use most is
here as a method of its own. When a prerequisite cannot be had (no resource server configured, no token
obtainable) it raises `NotApplicable` or `CouldNotJudge`, so the case ends `skipped` or `error`, never `failed`.

`client` and `target` are the run layer's (transport limits, evidence, the results' target); cases ask the
session, and the judge's modules, instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from conformance.client.evidence import Exchange, Redactor
from conformance.client.flow import DPoPClient, Sent
from conformance.client.keys import generate_key
from conformance.client.request import Request
from conformance.client.target import Target
from conformance.client.transport import tls_verification
from conformance.judge.checks import flow_failed
from conformance.judge.controls import Controls
from conformance.judge.discovery import Discovery
from conformance.judge.grants import BoundToken, Grants, TokenView
from conformance.judge.verdicts import NotApplicable

__all__ = ["CONFIGURATION_ERRORS", "BoundToken", "DPoPSession", "TokenView", "flow_failed"]

# Token errors that say the target file is wrong rather than the server's DPoP handling.
CONFIGURATION_ERRORS = {
    "invalid_client",
    "unauthorized_client",
    "invalid_scope",
    "unsupported_grant_type",
    "invalid_grant",
    "access_denied",
}


class DPoPSession:
    """What every case shares within one run."""

    def __init__(self, target: Target, *, redactor: Redactor | None = None) -> None:
        self.target = target
        self.redactor = redactor or Redactor()
        for value, label in target.secrets():
            self.redactor.add(value, label)
        self.client = DPoPClient(
            timeout=target.timeout, redactor=self.redactor, verify=tls_verification(target.ca_file, target.insecure)
        )
        self.key = generate_key(target.dpop_alg)
        self.discovery = Discovery(target, self.client)
        self.grants = Grants(target, self.client, self.discovery, self.key, self.redactor)
        self.controls = Controls(self.client.transport)

    def close(self) -> None:
        """Release the HTTP connections."""
        self.client.close()

    def endpoint_summary(self) -> dict[str, str | None]:
        """The endpoints in use, configured or discovered (None where there is none), for results.json."""
        return self.discovery.summary()

    @property
    def iat_max_age(self) -> int:
        """The policy limit on a proof's age the target file sets (iat_max_age), in seconds."""
        return self.target.iat_max_age

    def send_plain(
        self, label: str, method: str, url: str, headers: Sequence[tuple[str, str]], body: str | None = None
    ) -> Exchange:
        """One request outside any flow and without a proof (a CORS preflight, a token where RFC 6750 also puts
        one), as given; its exchange."""
        return self.client.exchange(label, method, url, headers, body)

    @property
    def metadata(self) -> dict[str, Any] | None:
        """The AS metadata when the target names an issuer (fetched once), else None."""
        return self.discovery.metadata

    # --- the authorization server ----------------------------------------------------------------
    def require_authorization_server(self) -> None:
        """NotApplicable when the target has no authorization server (an RS-only target)."""
        self.grants.require_authorization_server()

    def request_token(self, request: Request | None = None) -> Sent:
        """One token request with the configured client and grant, and the request's proof (the session key's
        unless the request names another key, or none)."""
        return self.grants.request_token(request or Request(label="token request"))

    def bound_token(self) -> BoundToken:
        """A DPoP-bound access token for the session key (obtained once, renewed when half-expired)."""
        return self.grants.bound_token()

    # --- the resource -----------------------------------------------------------------------------
    def require_resource(self) -> tuple[str, str, str | None]:
        """(url, method, body) of the resource, or NotApplicable when the target has none."""
        rs = self.target.resource_server
        if rs is None:
            raise NotApplicable("the target file has no [resource_server]: resource-server cases do not apply")
        return rs.url, rs.method, rs.body

    def call_resource(self, token: str, request: Request) -> Sent:
        """Call the configured resource (or the request's `url`) with `token` and the request's proof, from the
        request's key (no proof without one: the resource endpoint settles the key, conformance/judge/endpoints.py)."""
        configured, method, body = self.require_resource()
        return self.client.resource_request(request.url or configured, token, request, method=method, body=body)
