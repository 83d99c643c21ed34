"""RFC 9449 §7 Protected Resource Access: the DPoP scheme with a proof works; Bearer downgrade does not."""

from __future__ import annotations

from typing import Any

from conformance.catalog import case
from conformance.checks import expect_refused_at_rs, expect_resource_accepts
from conformance.session import DPoPSession
from conformance.verdicts import Level


@case(
    "rs-accepts-dpop-request",
    "Resource accepts Authorization: DPoP with a proof carrying ath",
    section="7.1",
    level=Level.MUST,
    actor="RS",
    requirement="R-7-1",
)
def test_accepts_dpop_token_with_valid_proof(dpop: DPoPSession, note: Any) -> None:
    """Sends: the resource request with `Authorization: DPoP <token>` and a fresh proof whose htm, htu
    and ath (base64url SHA-256 of the token) match, retrying once with the server's nonce if asked.
    Expects: a 2xx answer. A refusal with error invalid_token is not judged (error): the resource may
    not accept this AS's tokens at all (audience, RFC 8707 `resource`), which is configuration.
    """
    bound = dpop.bound_token()
    sent = dpop.call_resource(bound.access_token, bound.key)
    expect_resource_accepts(sent, what="a resource request with a DPoP-bound token and a valid proof")
    note(f"HTTP {sent.final.status}" + (" after one nonce challenge" if sent.challenged else ""))


@case(
    "rs-bearer-downgrade",
    "Resource refuses a DPoP-bound token sent as a Bearer token",
    section="7.2",
    level=Level.MUST,
    actor="RS",
    requirement="R-7.2-1",
)
def test_rejects_dpop_bound_token_sent_as_bearer(dpop: DPoPSession, note: Any) -> None:
    """Sends: a valid request (control), then the DPoP-bound token as `Authorization: Bearer <token>`
    with no proof, then the valid request again (control).
    Expects: a refusal. A resource supporting both schemes "MUST reject a DPoP-bound access token
    received as a bearer token" (§7.2), typically 401 with `Bearer error="invalid_token"`; one that
    supports only DPoP refuses Bearer as an unsupported method, for which RFC 6750 §3.1 says no error
    code SHOULD be given, so a refusal without `error` passes too. Access granted fails either way.
    """
    bound = dpop.bound_token()
    dpop.control(bound, "before")
    sent = dpop.call_resource(bound.access_token, None, scheme="Bearer", label="DPoP-bound token as Bearer")
    dpop.control(bound, "after")
    final = expect_refused_at_rs(
        sent,
        what="the DPoP-bound token as a Bearer token, without a proof",
        errors={"invalid_token", "invalid_request", "invalid_dpop_proof"},
        error_required=False,
    )
    note(f"refused with HTTP {final.status}")
