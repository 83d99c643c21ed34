"""Negative and variant requests with their controls, at any endpoint (conformance/judge/endpoints.py).

`between_controls` sends a valid request (a control), the planned one, and a valid request again: if either
control is refused, the case cannot be judged (`CouldNotJudge`), so a server that refuses everything cannot
make a negative case pass, nor one that breaks after the altered request. A planned request whose answer
names another cause than the change (a lost grant, a rate limit) is sent again with fresh controls
(conformance/judge/attribution.py), so no verdict rests on it. `refused` and `accepted` judge what came back,
through the endpoint's refusal policy and its meaning of "accepted".
"""

from __future__ import annotations

from collections.abc import Collection

from conformance.client.evidence import Exchange
from conformance.client.flow import Sent
from conformance.client.request import Request
from conformance.judge.attribution import attributed
from conformance.judge.checks import expect_accepted, violation, where
from conformance.judge.endpoints import Endpoint
from conformance.judge.refusal import expect_refused
from conformance.judge.session import DPoPSession

__all__ = ["accepted", "between_controls", "refused", "send_once"]


def send_once(dpop: DPoPSession, endpoint: Endpoint, request: Request) -> Sent:
    """One request to the endpoint as planned, without controls."""
    return endpoint.send(dpop, request)


def between_controls(dpop: DPoPSession, endpoint: Endpoint, request: Request) -> Sent:
    """Control, the planned request, control; returns the planned request as sent."""

    def send() -> Sent:
        endpoint.control(dpop, "before")
        sent = endpoint.send(dpop, request)
        endpoint.control(dpop, "after")
        return sent

    return attributed(send, what=request.label)


def refused(
    dpop: DPoPSession,
    endpoint: Endpoint,
    request: Request,
    *,
    rule: str,
    errors: Collection[str] | None = None,
    error_required: bool = True,
) -> Exchange:
    """The planned request, sent between controls, must be refused as the endpoint refuses (`expect_refused`).

    The request's label names it as sent ("a token request carrying a proof with typ JWT"); `rule` is what it
    breaks; `errors` the codes that count (the endpoint's legal ones by default).
    """
    sent = between_controls(dpop, endpoint, request)
    return expect_refused(
        sent, endpoint.refusal, what=request.label, rule=rule, errors=errors, error_required=error_required
    )


def accepted(dpop: DPoPSession, endpoint: Endpoint, request: Request, *, rule: str) -> Exchange:
    """The variant request, sent between controls, must be granted (what "accepted" means at the endpoint: a
    token issued, a 2xx, a request_uri); `rule` says why it must."""
    what = request.label
    sent = between_controls(dpop, endpoint, request)
    final = expect_accepted(sent, what=what, rule=rule, expected=endpoint.granted)
    if not endpoint.accepted(sent):
        raise violation(
            what,
            endpoint.granted,
            final,
            cause=f"{where(final)} answers {what} with HTTP {final.status} {endpoint.not_granted}",
            fix=endpoint.granted_fix,
            exchanges=sent.exchanges,
        )
    return final
