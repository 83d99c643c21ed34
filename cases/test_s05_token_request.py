"""RFC 9449 §5 DPoP Access Token Request: the token endpoint accepts a proof and says the token is DPoP."""

from __future__ import annotations

from typing import Any

from conformance.catalog import case
from conformance.checks import violation
from conformance.jose import peek_claims
from conformance.session import CONFIGURATION_ERRORS, DPoPSession
from conformance.verdicts import CouldNotJudge, Level, Observation


@case(
    "as-proof-accepted",
    "Token endpoint accepts a valid DPoP proof",
    section="5",
    level=Level.MUST,
    actor="AS",
    requirement="R-5-1",
)
def test_token_endpoint_accepts_valid_proof(dpop: DPoPSession, note: Any) -> None:
    """Sends: a token request with the configured grant and a fresh, valid proof (retrying once with the
    server's nonce if it asks for one).
    Expects: HTTP 200 with an access_token.
    """
    sent = dpop.request_token()
    final = sent.final
    if final.error:
        raise CouldNotJudge(f"the token endpoint did not answer: {final.error}", exchanges=sent.exchanges)
    error = final.json_object().get("error")
    if final.status in (400, 401) and error in CONFIGURATION_ERRORS:
        raise CouldNotJudge(
            f"the token request was refused with error={error}: check the [client] section of the "
            "target file (id, secret, auth_method, grant_type, scope)",
            exchanges=sent.exchanges,
        )
    if final.status != 200 or not isinstance(final.json_object().get("access_token"), str):
        raise violation(
            "a token request with a valid DPoP proof", "HTTP 200 with an access_token", final, exchanges=sent.exchanges
        )
    if sent.challenged:
        note("accepted after one nonce challenge")
    elif "nonce" in (peek_claims(sent.exchanges[0].proofs[0]) or {}):
        note("accepted; the proof carried the nonce the server had supplied earlier in the run")
    else:
        note("accepted on the first try, without a nonce")


@case(
    "as-token-type-dpop",
    "Token response says token_type DPoP",
    section="5",
    level=Level.MUST,
    actor="AS",
    requirement="R-5-2",
)
def test_token_response_says_token_type_dpop(dpop: DPoPSession, note: Any) -> None:
    """Sends: a token request with a valid proof.
    Expects: token_type "DPoP" in the response, compared case-insensitively (RFC 6749 §5.1). An AS may
    issue an unbound token with token_type Bearer instead (§5 MAY): that is recorded as info when the
    token visibly carries no binding.
    """
    sent = dpop.request_token()
    tokens = dpop.tokens_or_error(sent)
    if tokens.token_type.lower() == "dpop":
        note(f"token_type is {tokens.token_type!r}")
        return
    bound = _visible_binding(dpop, tokens.access_token)
    if bound is False:
        raise Observation(
            f"token_type is {tokens.token_type!r} and the token carries no cnf: the AS issued an unbound "
            "token, which §5 allows (MAY)"
        )
    raise violation(
        "a token request with a valid DPoP proof",
        'token_type "DPoP" for a DPoP-bound token',
        sent.final,
        exchanges=sent.exchanges,
    )


def _visible_binding(dpop: DPoPSession, token: str) -> bool | None:
    """True/False when the token's cnf can be seen (JWT or introspection), None when it cannot."""
    claims = peek_claims(token)
    if claims is not None:
        return "cnf" in claims
    introspection = dpop.introspect(token)
    if introspection is not None and introspection.ok:
        return "cnf" in introspection.json_object()
    return None
