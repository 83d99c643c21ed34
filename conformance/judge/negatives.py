"""Negative and variant requests with their controls, at the token endpoint and at the resource.

Each helper sends a valid request (control), the altered one, and a valid request again: if either
control is refused, the case cannot be judged (`CouldNotJudge`), so a server that refuses everything
cannot make a negative case pass, nor one that breaks after the altered request. An altered request whose
answer names another cause than the change (a lost grant, a rate limit) is sent again with fresh controls
(conformance/judge/attribution.py), so no verdict rests on it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence

import pytest

from conformance.client.evidence import Exchange
from conformance.client.flow import AuthorizationRequest, ProofMutation, Sent
from conformance.client.keys import DPoPKey
from conformance.client.proof import ProofDraft
from conformance.judge.attribution import attributed
from conformance.judge.checks import (
    accepted_cause,
    expect_accepted,
    expect_refused_at_as,
    expect_refused_at_rs,
    prerequisite_failed,
    token_issued,
    violation,
    where,
)
from conformance.judge.session import BoundToken, DPoPSession

__all__ = [
    "AS_REFUSALS",
    "RS_REFUSALS",
    "accepted_at_as",
    "accepted_at_rs",
    "control_at",
    "par_endpoint",
    "push",
    "refused_at_as",
    "refused_at_par",
    "refused_at_rs",
    "refused_sent_at_par",
    "send_once",
    "sent_at_as",
    "sent_at_par",
    "sent_at_rs",
]

#: error codes the catalog accepts for a refused proof at the token endpoint (Amb-6, Amb-17, Amb-18)
AS_REFUSALS = frozenset({"invalid_dpop_proof", "invalid_request", "use_dpop_nonce"})
#: error codes the catalog accepts for a refused proof at the resource (Amb-8, Amb-17, Amb-18, R-7-1)
RS_REFUSALS = frozenset({"invalid_dpop_proof", "invalid_token", "invalid_request", "use_dpop_nonce"})


def send_once(
    dpop: DPoPSession,
    actor: str,
    *,
    label: str,
    mutate: ProofMutation | None = None,
    use_known_nonce: bool = True,
    retry_on_nonce: bool = True,
) -> Sent:
    """One request (altered by `mutate`) to the actor's endpoint ("AS": token, "RS": resource), no controls."""
    if actor == "AS":
        return dpop.request_token(
            mutate=mutate, use_known_nonce=use_known_nonce, retry_on_nonce=retry_on_nonce, label=label
        )
    bound = dpop.bound_token()
    return dpop.call_resource(
        bound.access_token,
        bound.key,
        mutate=mutate,
        use_known_nonce=use_known_nonce,
        retry_on_nonce=retry_on_nonce,
        label=label,
    )


def control_at(dpop: DPoPSession, actor: str, when: str) -> None:
    """The valid request that must succeed at the actor's endpoint (see DPoPSession.control)."""
    if actor == "AS":
        dpop.token_control(when)
    else:
        dpop.control(dpop.bound_token(), when)


def sent_at_as(
    dpop: DPoPSession,
    *,
    label: str,
    key: DPoPKey | None = None,
    without_proof: bool = False,
    mutate: ProofMutation | None = None,
    proofs: Callable[[ProofDraft], list[str]] | None = None,
    extra_headers: Sequence[tuple[str, str]] = (),
) -> Sent:
    """Control, the altered token request, control; returns the altered request as sent."""

    def send() -> Sent:
        dpop.token_control("before")
        sent = dpop.request_token(
            key, without_proof=without_proof, mutate=mutate, proofs=proofs, extra_headers=extra_headers, label=label
        )
        dpop.token_control("after")
        return sent

    return attributed(send, what=label)


def sent_at_rs(
    dpop: DPoPSession,
    *,
    label: str,
    key: DPoPKey | None = None,
    without_proof: bool = False,
    mutate: ProofMutation | None = None,
    proofs: Callable[[ProofDraft], list[str]] | None = None,
    scheme: str = "DPoP",
    extra_headers: Sequence[tuple[str, str]] = (),
    url: str | None = None,
    token: str | None = None,
    bound: BoundToken | None = None,
) -> Sent:
    """Control, the altered resource request (with the bound token), control; returns the altered one.

    `bound` is the token (and key) of the controls and of the altered request; the session's by default.
    """
    bound = bound or dpop.bound_token()

    def send() -> Sent:
        dpop.control(bound, "before")
        sent = dpop.call_resource(
            token or bound.access_token,
            None if without_proof else (key or bound.key),
            mutate=mutate,
            proofs=proofs,
            scheme=scheme,
            extra_headers=extra_headers,
            url=url,
            label=label,
        )
        dpop.control(bound, "after")
        return sent

    return attributed(send, what=label)


def refused_at_as(
    dpop: DPoPSession, *, what: str, rule: str, errors: Collection[str] = AS_REFUSALS, **request: object
) -> Exchange:
    """The altered token request must be refused (see `expect_refused_at_as`); `rule` is what it breaks."""
    sent = sent_at_as(dpop, label=what, **request)  # type: ignore[arg-type]
    return expect_refused_at_as(sent, what=what, rule=rule, errors=errors)


def refused_at_rs(
    dpop: DPoPSession,
    *,
    what: str,
    rule: str,
    errors: Collection[str] = RS_REFUSALS,
    error_required: bool = True,
    **request: object,
) -> Exchange:
    """The altered resource request must be refused (see `expect_refused_at_rs`); `rule` is what it breaks."""
    sent = sent_at_rs(dpop, label=what, **request)  # type: ignore[arg-type]
    return expect_refused_at_rs(sent, what=what, rule=rule, errors=errors, error_required=error_required)


def accepted_at_as(dpop: DPoPSession, *, what: str, rule: str, **request: object) -> Exchange:
    """The variant token request must succeed (HTTP 200 with an access_token); see `expect_accepted`. `rule`
    says why it must."""
    sent = sent_at_as(dpop, label=what, **request)  # type: ignore[arg-type]
    final = expect_accepted(sent, what=what, rule=rule, expected="HTTP 200 with an access_token")
    if not token_issued(final):
        raise violation(
            what,
            "HTTP 200 with an access_token",
            final,
            cause=f"{where(final)} answers {what} with HTTP {final.status} but no access_token",
            fix="answer a granted token request with a token response: access_token and token_type (RFC 6749 §5.1)",
            exchanges=sent.exchanges,
        )
    return final


def accepted_at_rs(dpop: DPoPSession, *, what: str, rule: str, **request: object) -> Exchange:
    """The variant resource request must succeed (2xx); `rule` says why it must."""
    sent = sent_at_rs(dpop, label=what, **request)  # type: ignore[arg-type]
    return expect_accepted(sent, what=what, rule=rule)


# --- the PAR endpoint (RFC 9126, RFC 9449 §10.1), with the [public_client] ----------------------------------


def par_endpoint(dpop: DPoPSession) -> str:
    """The PAR endpoint; skip the case without a [public_client] or without a PAR endpoint."""
    dpop.require_public_client()
    endpoint = dpop.par_endpoint
    if not endpoint:
        pytest.skip("the target has no PAR endpoint (par_endpoint, or pushed_authorization_request_endpoint)")
    return endpoint


def push(
    dpop: DPoPSession,
    key: DPoPKey | None = None,
    *,
    label: str,
    dpop_jkt: str | None = None,
    mutate: ProofMutation | None = None,
    proofs: Callable[[ProofDraft], list[str]] | None = None,
    without_proof: bool = False,
) -> tuple[Sent, AuthorizationRequest]:
    """One pushed authorization request of the [public_client], with a proof from `key` (or the session key;
    none with `without_proof`)."""
    pc = dpop.require_public_client()
    request = dpop.client.authorization_request(pc.id, pc.redirect_uri, scope=pc.scope, dpop_jkt=dpop_jkt)
    sent = dpop.client.form_post(
        par_endpoint(dpop),
        request.params,
        dpop.public_auth,
        None if without_proof else key or dpop.key,
        mutate=mutate,
        proofs=proofs,
        label=label,
    )
    return sent, request


def request_uri_of(sent: Sent) -> str | None:
    """The request_uri of a successful PAR response (201, or 200 from lenient servers), else None."""
    value = sent.final.json_object().get("request_uri")
    return value if sent.final.status in (200, 201) and isinstance(value, str) else None


def par_control(dpop: DPoPSession, when: str) -> Sent:
    """A valid pushed authorization request that must succeed (see DPoPSession.control)."""

    def send_control(when: str) -> Sent:
        sent, _ = push(dpop, label=f"control: valid pushed authorization request {when}")
        if request_uri_of(sent) is None:
            raise prerequisite_failed(
                f"the control pushed authorization request {when} the altered one",
                sent,
                consequence=", so a refusal of the altered request proves nothing",
            )
        return sent

    return dpop.controlled(("PAR", ""), when, send_control)


def sent_at_par(
    dpop: DPoPSession,
    *,
    label: str,
    key: DPoPKey | None = None,
    mutate: ProofMutation | None = None,
    proofs: Callable[[ProofDraft], list[str]] | None = None,
) -> Sent:
    """Control, the altered pushed authorization request, control; returns the altered one."""

    def send() -> Sent:
        par_control(dpop, "before")
        sent, _ = push(dpop, key, label=label, mutate=mutate, proofs=proofs)
        par_control(dpop, "after")
        return sent

    return attributed(send, what=label)


def refused_at_par(
    dpop: DPoPSession, *, what: str, rule: str, errors: Collection[str] = AS_REFUSALS, **request: object
) -> Exchange:
    """The altered pushed authorization request must be refused (judged as at the token endpoint)."""
    sent = sent_at_par(dpop, label=what, **request)  # type: ignore[arg-type]
    return refused_sent_at_par(sent, what=what, rule=rule, errors=errors)


def refused_sent_at_par(sent: Sent, *, what: str, rule: str, errors: Collection[str] = AS_REFUSALS) -> Exchange:
    """A pushed authorization request, already sent, must have been refused (judged as at the token endpoint)."""
    if request_uri_of(sent) is not None:
        cause, fix = accepted_cause(sent.final, what, rule)
        raise violation(
            what,
            "a refusal: HTTP 400 with error invalid_dpop_proof",
            sent.final,
            cause=cause,
            fix=fix,
            exchanges=sent.exchanges,
        )
    return expect_refused_at_as(sent, what=what, rule=rule, errors=errors)
