"""RFC 9449 §6 Public Key Confirmation: the access token is bound to the proof's key (`cnf.jkt`)."""

from __future__ import annotations

from typing import Any

from conformance.catalog import case
from conformance.checks import violation
from conformance.jose import peek_claims
from conformance.session import DPoPSession
from conformance.verdicts import CouldNotJudge, Level, Observation


@case(
    "as-token-bound-to-key",
    "Access token is bound to the proof key (cnf.jkt)",
    section="6",
    level=Level.MUST,
    actor="AS",
    requirement="R-6.1-1",
)
def test_access_token_is_bound_to_proof_key(dpop: DPoPSession, note: Any) -> None:
    """Sends: a token request with a valid proof; then, for an opaque token, an introspection request.
    Expects: cnf.jkt equal to the RFC 7638 SHA-256 thumbprint of the proof's jwk, in the JWT access
    token (§6.1) or in the introspection response (§6.2). Info when neither shows the token's content.
    """
    sent = dpop.request_token()
    tokens = dpop.tokens_or_error(sent)
    expected = dpop.key.thumbprint()
    claims = peek_claims(tokens.access_token)
    source, final, exchanges = "the JWT access token", sent.final, list(sent.exchanges)
    if claims is None:
        introspection = dpop.introspect(tokens.access_token)
        if introspection is None:
            raise Observation(
                "the access token is opaque and the target names no introspection endpoint, so its "
                "binding cannot be seen (add introspection_endpoint to [authorization_server])"
            )
        exchanges.append(introspection)
        if not introspection.ok or introspection.json_object().get("active") is not True:
            raise CouldNotJudge(
                f"introspection of the fresh access token failed: {introspection.summary()}", exchanges=exchanges
            )
        claims, source, final = introspection.json_object(), "the introspection response", introspection
    cnf = claims.get("cnf")
    jkt = cnf.get("jkt") if isinstance(cnf, dict) else None
    if jkt != expected:
        got = f"cnf={cnf!r}" if cnf is not None else "no cnf claim"
        raise violation(
            f"a token request with a proof whose jwk has thumbprint {expected}",
            f"cnf.jkt = {expected} in {source}; found {got}",
            final,
            exchanges=exchanges,
        )
    note(f"cnf.jkt in {source} equals the RFC 7638 thumbprint {expected}")
