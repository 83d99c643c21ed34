"""RFC 9449 §6 Public Key Confirmation: the access token is bound to the proof's key (`cnf.jkt`)."""

from __future__ import annotations

from typing import Any

import pytest

from conformance.catalog import case
from conformance.checks import violation
from conformance.evidence import Exchange
from conformance.jose import peek_claims
from conformance.keys import generate_key
from conformance.proof import ProofDraft
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
    claims, source, exchanges = _visible_claims(dpop, tokens.access_token, sent.exchanges)
    final = exchanges[-1]
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


@case(
    "as-jkt-ignores-extra-jwk-members",
    "cnf.jkt is the canonical thumbprint even when the proof's jwk has extra members",
    section="6.1",
    level=Level.MUST,
    actor="AS",
    requirement="R-6.1-1",
)
def test_thumbprint_ignores_extra_jwk_members(dpop: DPoPSession, note: Any) -> None:
    """Sends: a token request whose proof's jwk also carries kid, use and alg (the proof is valid).
    Expects: cnf.jkt equal to the RFC 7638 thumbprint, which covers only the key type's required
    members (RFC 7638 §3.2), in the JWT access token or by introspection.
    """
    key = generate_key(dpop.key.alg)

    def with_extra_members(draft: ProofDraft) -> str:
        return draft.with_header(jwk={**key.public_jwk(), "kid": "dpop-key", "use": "sig", "alg": key.alg}).sign()

    sent = dpop.request_token(key, mutate=with_extra_members, label="token request, jwk with kid, use and alg")
    tokens = dpop.tokens_or_error(sent)
    claims, source, exchanges = _visible_claims(dpop, tokens.access_token, sent.exchanges)
    jkt = (claims.get("cnf") or {}).get("jkt") if isinstance(claims.get("cnf"), dict) else None
    if jkt != key.thumbprint():
        raise violation(
            "a token request whose proof jwk carries kid, use and alg",
            f"cnf.jkt = {key.thumbprint()} (RFC 7638 over the required members only) in {source}; found {jkt!r}",
            exchanges[-1],
            exchanges=exchanges,
        )
    note(f"cnf.jkt in {source} is the canonical thumbprint")


@case(
    "as-introspection-cnf",
    "Introspection shows cnf.jkt and token_type DPoP",
    section="6.2",
    level=Level.MUST,
    actor="AS",
    requirement="R-6.2-1",
)
def test_introspection_shows_the_binding(dpop: DPoPSession, note: Any) -> None:
    """Sends: a token request with a valid proof, then an introspection request (RFC 7662) for the
    access token, authenticated as the [client], without a DPoP proof (§6.2).
    Expects: active true, cnf.jkt equal to the proof key's thumbprint, and token_type, if present,
    "DPoP" (§6.2: it "MUST contain the value DPoP"). Skipped without an introspection endpoint.
    """
    dpop.require_authorization_server()
    if not dpop.introspection_endpoint:
        pytest.skip("the target has no introspection endpoint (configured or in the metadata)")
    sent = dpop.request_token()
    tokens = dpop.tokens_or_error(sent)
    introspection = dpop.introspect(tokens.access_token)
    assert introspection is not None
    body = introspection.json_object()
    structured = peek_claims(tokens.access_token) is not None
    if structured and (body.get("error") == "unsupported_token_type" or body.get("active") is False):
        # Some ASs introspect only opaque tokens (RFC 7662 §2.2: unsupported_token_type); the binding of a
        # JWT access token is judged from the token itself (as-token-bound-to-key).
        pytest.skip(f"the AS does not introspect its JWT access tokens ({introspection.summary()})")
    if not introspection.ok or body.get("active") is not True:
        raise CouldNotJudge(
            f"introspection of a fresh access token did not answer active: {introspection.summary()}",
            exchanges=[*sent.exchanges, introspection],
        )
    cnf = body.get("cnf")
    jkt = cnf.get("jkt") if isinstance(cnf, dict) else None
    what = "an introspection request for a fresh DPoP-bound access token"
    if jkt != dpop.key.thumbprint():
        raise violation(what, f"cnf.jkt = {dpop.key.thumbprint()}; found cnf={cnf!r}", introspection)
    token_type = body.get("token_type")
    if token_type is not None and str(token_type).lower() != "dpop":
        raise violation(what, f'token_type "DPoP" when present; found {token_type!r}', introspection)
    note("introspection: active, cnf.jkt matches" + (f", token_type {token_type}" if token_type else ""))


def _visible_claims(
    dpop: DPoPSession, token: str, exchanges: list[Exchange]
) -> tuple[dict[str, Any], str, list[Exchange]]:
    """The token's claims (JWT or introspection); Observation when they cannot be seen."""
    view = dpop.token_view(token)
    seen = [*exchanges, *([view.introspection] if view.introspection else [])]
    if view.introspection_failed:
        raise CouldNotJudge(view.source, exchanges=seen)
    if view.claims is None:
        raise Observation(
            f"{view.source}, so its binding cannot be seen (add introspection_endpoint to [authorization_server])"
        )
    return view.claims, view.source, seen
