"""Negative and variant requests with their controls, at the token endpoint and at the resource.

Each helper sends a valid request (control), the altered one, and a valid request again: if either
control is refused, the case cannot be judged (`CouldNotJudge`), so a server that refuses everything
cannot make a negative case pass, nor one that breaks after the altered request.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence

from conformance.checks import expect_accepted, expect_refused_at_as, expect_refused_at_rs, violation
from conformance.evidence import Exchange
from conformance.flow import ProofMutation, Sent
from conformance.keys import DPoPKey
from conformance.proof import ProofDraft
from conformance.session import DPoPSession
from conformance.verdicts import CouldNotJudge

__all__ = [
    "AS_REFUSALS",
    "RS_REFUSALS",
    "accepted_at_as",
    "accepted_at_rs",
    "refused_at_as",
    "refused_at_rs",
    "sent_at_as",
    "sent_at_rs",
]

#: error codes the catalog accepts for a refused proof at the token endpoint (Amb-6, Amb-17, Amb-18)
AS_REFUSALS = frozenset({"invalid_dpop_proof", "invalid_request", "use_dpop_nonce"})
#: error codes the catalog accepts for a refused proof at the resource (Amb-8, Amb-17, Amb-18, R-7-1)
RS_REFUSALS = frozenset({"invalid_dpop_proof", "invalid_token", "invalid_request", "use_dpop_nonce"})


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
    dpop.token_control("before")
    sent = dpop.request_token(
        key, without_proof=without_proof, mutate=mutate, proofs=proofs, extra_headers=extra_headers, label=label
    )
    dpop.token_control("after")
    return sent


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
) -> Sent:
    """Control, the altered resource request (with the bound token), control; returns the altered one."""
    bound = dpop.bound_token()
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


def refused_at_as(
    dpop: DPoPSession, *, what: str, errors: Collection[str] = AS_REFUSALS, **request: object
) -> Exchange:
    """The altered token request must be refused (see `expect_refused_at_as`)."""
    sent = sent_at_as(dpop, label=what, **request)  # type: ignore[arg-type]
    return expect_refused_at_as(sent, what=what, errors=errors)


def refused_at_rs(
    dpop: DPoPSession,
    *,
    what: str,
    errors: Collection[str] = RS_REFUSALS,
    error_required: bool = True,
    **request: object,
) -> Exchange:
    """The altered resource request must be refused (see `expect_refused_at_rs`)."""
    sent = sent_at_rs(dpop, label=what, **request)  # type: ignore[arg-type]
    return expect_refused_at_rs(sent, what=what, errors=errors, error_required=error_required)


def accepted_at_as(dpop: DPoPSession, *, what: str, **request: object) -> Exchange:
    """The variant token request must succeed (HTTP 200 with an access_token)."""
    sent = sent_at_as(dpop, label=what, **request)  # type: ignore[arg-type]
    final = sent.final
    if final.error:
        raise CouldNotJudge(f"{what}: the target did not answer ({final.error})", exchanges=sent.exchanges)
    if final.status != 200 or not isinstance(final.json_object().get("access_token"), str):
        raise violation(what, "HTTP 200 with an access_token", final, exchanges=sent.exchanges)
    return final


def accepted_at_rs(dpop: DPoPSession, *, what: str, **request: object) -> Exchange:
    """The variant resource request must succeed (2xx)."""
    sent = sent_at_rs(dpop, label=what, **request)  # type: ignore[arg-type]
    return expect_accepted(sent, what=what)
