"""Where a case sends its request, and how that place answers: one value per endpoint, registered once.

An `Endpoint` is the token endpoint, the resource or the PAR endpoint as the judge sees it: its key ("token",
"resource", "par"), whose requirement it is (its actor in results.json, "AS" or "RS"), its case-id prefix, its
words for messages, how a refusal there should look (its `RefusalPolicy`, conformance/judge/refusal.py), what
"accepted" means there (a token issued, a 2xx, a request_uri), and how a request, or a control, is sent there.
Everything that differs between the three is an attribute or a method here, so no module branches on an
endpoint's name: a new endpoint is one more instance and one `register` call, and a new actor comes with it.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

from conformance.client.flow import Sent
from conformance.client.request import Request
from conformance.client.target import Target
from conformance.judge.checks import prerequisite_failed, token_issued
from conformance.judge.refusal import PAR_REFUSALS, RESOURCE_REFUSALS, TOKEN_REFUSALS, RefusalPolicy
from conformance.judge.session import BoundToken, DPoPSession

__all__ = [
    "ENDPOINTS",
    "PAR",
    "RESOURCE",
    "TOKEN",
    "Endpoint",
    "ResourceEndpoint",
    "actors",
    "endpoint_of_case",
    "register",
    "request_uri_of",
]

#: why a refused control stops a case: the refusal of its altered request would prove nothing
_CONSEQUENCE = ", so a refusal of the altered request proves nothing"


@dataclass(frozen=True)
class Endpoint(ABC):
    """One place a case sends to, with everything that differs between places as a named attribute."""

    key: str  # "token", "resource", "par": how the judge keys its controls and the registry
    actor: str  # whose requirement it is, for results.json and --actor: "AS" or "RS"
    prefix: str  # the case-id prefix of the cases sent here: "as", "rs", "par"
    who: str  # the place, capitalised, for case titles: "Token endpoint"
    request: str  # one request to it, for messages: "a token request"
    sends_token: bool  # whether a request there carries an access token (its proof an ath)
    noun: str  # the request without article, for nonce messages: "token request"
    server: str  # the server that answers there, for skip reasons: "authorization server"
    requires: str  # what the target needs besides the endpoint's server, for docstrings ("" for nothing more)
    typical_refusal: str  # for docstrings: "400 with error invalid_dpop_proof"
    refusal: RefusalPolicy  # statuses, where the error code is read, the legal codes, how a departure is graded
    granted: str  # what "accepted" looks like there, as an expectation: "HTTP 200 with an access_token"
    not_granted: str  # what a 2xx that is no acceptance lacks: "but no access_token"
    granted_fix: str  # what to change when a 2xx there is not an acceptance
    nonce_status: int  # the status of a use_dpop_nonce challenge there (§8: 400 at the AS, §9: 401 at the RS)
    nonce_rule: str  # the rules that say so
    plan_where: str  # where its cases run, for the plan of a run (`dpop-conformance check`): "the resource"
    #: whether the controls' accepted requests are kept for the replay cases (conformance/judge/controls.py)
    keeps_accepted: ClassVar[bool] = True

    @abstractmethod
    def require(self, dpop: DPoPSession) -> None:
        """NotApplicable when the target has no such endpoint (the target file, or its metadata, says so)."""

    @abstractmethod
    def missing_from(self, target: Target) -> str | None:
        """Why the target file leaves no such place to send to, before anything is sent; None when it has one."""

    @abstractmethod
    def url(self, dpop: DPoPSession) -> str:
        """The URL a request goes to (the nonce the client keeps is this URL's)."""

    @abstractmethod
    def method(self, dpop: DPoPSession) -> str:
        """The HTTP method a request here uses."""

    @abstractmethod
    def send(self, dpop: DPoPSession, request: Request) -> Sent:
        """Send one request here as planned, with what this place always sends (a grant, the bound token)."""

    @abstractmethod
    def accepted(self, sent: Sent) -> bool:
        """Whether the request was granted what it asked for (not only answered 2xx)."""

    @abstractmethod
    def place(self, dpop: DPoPSession) -> tuple[str, str]:
        """Where the controls here are kept apart from others: the key and, at the resource, the token."""

    def known_nonce(self, dpop: DPoPSession) -> str | None:
        """The nonce the server here handed out last, if any."""
        return dpop.client.nonce_for(self.actor, self.url(dpop))

    def control(self, dpop: DPoPSession, when: str) -> Sent:
        """A valid request here that must be accepted; CouldNotJudge when it is not.

        Every negative case sends one before and one after its altered request (`when` says which), so a server
        that refuses everything, or breaks after the altered request, cannot make it pass. The one before is the
        previous case's closing control when nothing was sent since (conformance/judge/controls.py).
        """
        place = self.place(dpop)

        def send(when: str) -> Sent:
            sent = self.send_control(dpop, when)
            if not self.accepted(sent):
                raise prerequisite_failed(self.control_what(when), sent, consequence=_CONSEQUENCE)
            if self.keeps_accepted:
                dpop.controls.remember_accepted(place, sent)
            return sent

        return dpop.controls.controlled(place, when, send)

    @abstractmethod
    def send_control(self, dpop: DPoPSession, when: str) -> Sent:
        """Send the valid request a control is (not judged here)."""

    @abstractmethod
    def control_what(self, when: str) -> str:
        """The control, named in the message of a refused one."""


@dataclass(frozen=True)
class _TokenEndpoint(Endpoint):
    """The token endpoint, with the configured client's grant and credentials."""

    def require(self, dpop: DPoPSession) -> None:
        dpop.require_authorization_server()

    def missing_from(self, target: Target) -> str | None:
        if target.authorization_server is None or target.client is None:
            return "the target file has no [authorization_server] (an RS-only target)"
        return None

    def url(self, dpop: DPoPSession) -> str:
        return dpop.discovery.token_endpoint

    def method(self, dpop: DPoPSession) -> str:
        return "POST"

    def send(self, dpop: DPoPSession, request: Request) -> Sent:
        return dpop.request_token(request)

    def accepted(self, sent: Sent) -> bool:
        return token_issued(sent.final)

    def place(self, dpop: DPoPSession) -> tuple[str, str]:
        return (self.key, "")

    def send_control(self, dpop: DPoPSession, when: str) -> Sent:
        return dpop.request_token(Request(label=f"control: valid token request {when}"))

    def control_what(self, when: str) -> str:
        return f"the control token request {when} the altered one"


@dataclass(frozen=True)
class ResourceEndpoint(Endpoint):
    """The configured resource, with the session key's bound token, or the one it holds (`holding`).

    A request's own `token` replaces the bound token in that request only; the controls keep theirs.
    """

    bound: BoundToken | None = None  # the token (and key) of every request here; None: the session key's

    def holding(self, bound: BoundToken) -> ResourceEndpoint:
        """The resource with `bound` as the token (and key) of its requests and controls."""
        return dataclasses.replace(self, bound=bound)

    def _bound(self, dpop: DPoPSession) -> BoundToken:
        return self.bound or dpop.bound_token()

    def require(self, dpop: DPoPSession) -> None:
        dpop.require_resource()

    def missing_from(self, target: Target) -> str | None:
        if target.resource_server is None:
            return "the target file has no [resource_server] (an AS-only target)"
        return None

    def url(self, dpop: DPoPSession) -> str:
        return dpop.require_resource()[0]

    def method(self, dpop: DPoPSession) -> str:
        return dpop.require_resource()[1]

    def send(self, dpop: DPoPSession, request: Request) -> Sent:
        bound = self._bound(dpop)
        return dpop.call_resource(request.token or bound.access_token, request.with_key(bound.key))

    def accepted(self, sent: Sent) -> bool:
        return sent.final.ok

    def place(self, dpop: DPoPSession) -> tuple[str, str]:
        # a control vouches for the token it carried: another token (renewed at half its lifetime) needs its own
        return (self.key, self._bound(dpop).access_token)

    def send_control(self, dpop: DPoPSession, when: str) -> Sent:
        return self.send(dpop, Request(label=f"control: valid request {when}"))

    def control_what(self, when: str) -> str:
        return f"the control request {when} the altered one"


@dataclass(frozen=True)
class _ParEndpoint(Endpoint):
    """The pushed authorization request endpoint (RFC 9126), with the [public_client]."""

    keeps_accepted: ClassVar[bool] = False  # no case replays a pushed authorization request's proof

    def require(self, dpop: DPoPSession) -> None:
        dpop.grants.par_endpoint()

    def missing_from(self, target: Target) -> str | None:
        if target.authorization_server is None or target.client is None:
            return "the target file has no [authorization_server] (an RS-only target)"
        return None

    def url(self, dpop: DPoPSession) -> str:
        return dpop.grants.par_endpoint()

    def method(self, dpop: DPoPSession) -> str:
        return "POST"

    def send(self, dpop: DPoPSession, request: Request) -> Sent:
        return dpop.grants.push(request)[0]

    def accepted(self, sent: Sent) -> bool:
        return request_uri_of(sent) is not None

    def place(self, dpop: DPoPSession) -> tuple[str, str]:
        return (self.key, "")

    def send_control(self, dpop: DPoPSession, when: str) -> Sent:
        return self.send(dpop, Request(label=f"control: valid pushed authorization request {when}"))

    def control_what(self, when: str) -> str:
        return f"the control pushed authorization request {when} the altered one"


def request_uri_of(sent: Sent) -> str | None:
    """The request_uri of a successful PAR response (201, or 200 from lenient servers), else None."""
    value = sent.final.json_object().get("request_uri")
    return value if sent.final.status in (200, 201) and isinstance(value, str) else None


TOKEN: Endpoint = _TokenEndpoint(
    key="token",
    actor="AS",
    prefix="as",
    who="Token endpoint",
    request="a token request",
    sends_token=False,
    noun="token request",
    server="authorization server",
    requires="",
    typical_refusal="400 with error invalid_dpop_proof",
    refusal=TOKEN_REFUSALS,
    granted="HTTP 200 with an access_token",
    not_granted="but no access_token",
    granted_fix="answer a granted token request with a token response: access_token and token_type (RFC 6749 §5.1)",
    nonce_status=400,
    nonce_rule="§8, RFC 6749 §5.2",
    plan_where="the authorization server",
)
RESOURCE = ResourceEndpoint(
    key="resource",
    actor="RS",
    prefix="rs",
    who="Resource",
    request="a resource request with the DPoP-bound token",
    sends_token=True,
    noun="resource request",
    server="resource",
    requires="",
    typical_refusal="401 with a DPoP challenge, error invalid_dpop_proof",
    refusal=RESOURCE_REFUSALS,
    granted="a 2xx answer",
    not_granted="",
    granted_fix="answer a request the resource grants with a 2xx",
    nonce_status=401,
    nonce_rule="§9",
    plan_where="the resource",
)
PAR: Endpoint = _ParEndpoint(
    key="par",
    actor="AS",
    prefix="par",
    who="PAR endpoint",
    request="a pushed authorization request",
    sends_token=False,
    noun="pushed authorization request",
    server="authorization server",
    requires="a [public_client] and a PAR endpoint",
    typical_refusal="400 with error invalid_dpop_proof (§10.1: checked as at the token endpoint)",
    refusal=PAR_REFUSALS,
    granted="HTTP 201 with a request_uri",
    not_granted="but no request_uri",
    granted_fix="answer a pushed authorization request it grants with HTTP 201 and a request_uri (RFC 9126 §2.2)",
    nonce_status=400,
    nonce_rule="§8, RFC 6749 §5.2",
    plan_where="the PAR endpoint",
)

#: every endpoint a case can send to, by key
ENDPOINTS: dict[str, Endpoint] = {}


def register(found: Endpoint) -> Endpoint:
    """Add an endpoint to the registry (its key and its case-id prefix must be new); the actor set follows from the
    registry."""
    if found.key in ENDPOINTS or any(known.prefix == found.prefix for known in ENDPOINTS.values()):
        raise ValueError(f"endpoint {found.key!r} (prefix {found.prefix!r}) is registered already")
    ENDPOINTS[found.key] = found
    return found


for _endpoint in (TOKEN, RESOURCE, PAR):
    register(_endpoint)


def actors() -> tuple[str, ...]:
    """Whose requirements the cases judge, from the registered endpoints, in registration order: ("AS", "RS")."""
    return tuple(dict.fromkeys(found.actor for found in ENDPOINTS.values()))


def endpoint_of_case(case_id: str) -> Endpoint:
    """The endpoint a case sends to, by its id's prefix ("rs-proof-typ-jwt": the resource)."""
    prefix = case_id.split("-", 1)[0]
    found = [candidate for candidate in ENDPOINTS.values() if candidate.prefix == prefix]
    if not found:
        raise ValueError(f"case id {case_id!r} starts with no registered endpoint's prefix")
    return found[0]
