"""RFC 9449 §4.3 after a cache is primed: a check a server short-cuts with what it remembers still holds.

Servers remember things between requests: a key's thumbprint by its `kid`, a proof they verified by its
`jti`, a nonce a verified proof carried. Probed only with values the server has never seen, a check that a
cache short-cuts looks sound. Each case here first sends a legitimate request that primes the cache with a
`kid`, a `jti` or a nonce, then an altered request that reuses it, between valid requests (controls).
"""

from __future__ import annotations

import secrets
from typing import Any

import pytest

from conformance.client.keys import generate_key
from conformance.client.proof import flip_signature_byte
from conformance.client.request import ProofMutation, Request
from conformance.jose import peek_claims
from conformance.judge.catalog import case, case_param
from conformance.judge.checks import prerequisite_failed, refusal_note, token_issued, violation, where
from conformance.judge.endpoints import RESOURCE, TOKEN, Endpoint
from conformance.judge.negatives import between_controls, refused, send_once
from conformance.judge.session import DPoPSession
from conformance.judge.verdicts import Level, Observation


def _with_kid(kid: str) -> ProofMutation:
    return lambda d: d.with_header(jwk={**d.header["jwk"], "kid": kid}).sign()


def _primed_kid() -> str:
    return f"dpop-conformance-{secrets.token_urlsafe(8)}"


@case(
    "rs-primed-kid-key-swap",
    "Resource refuses a proof from another key whose jwk reuses the kid of the bound key's proof it accepted",
    section="4.3",
    level=Level.MUST,
    actor="RS",
    requirement="R-4.3-12b",
)
def test_resource_binding_holds_for_a_kid_it_has_seen(dpop: DPoPSession, note: Any) -> None:
    """Sends: a valid resource request whose proof's jwk (the bound key A) carries a kid K, which primes a cache
    of thumbprints by kid; then the token with a valid proof from key B whose jwk carries the same kid K.
    Expects: a refusal of the second: the key of the proof must be the one the token is bound to (§4.3 check 12,
    §6), and a kid names nothing (RFC 7638 thumbprints leave it out). Skipped where the resource refuses a
    jwk with a kid at all (rs-jwk-optional-members-accepted judges that).
    """
    bound = dpop.bound_token()
    resource = RESOURCE.holding(bound)
    kid = _primed_kid()
    resource.control(dpop, "before")
    primed = resource.send(dpop, Request(label=f"valid request, kid {kid}", mutate=_with_kid(kid)))
    if not primed.final.ok:
        pytest.skip(f"the resource refuses a proof whose jwk carries a kid ({primed.final.as_cause()})")
    what = f"the token bound to key A with a valid proof from key B whose jwk reuses A's kid {kid}"
    other = generate_key(bound.key.alg)
    rule = "§4.3 check 12 and §6: the proof's key is the bound one, its RFC 7638 thumbprint (a kid names nothing)"
    note(refusal_note(refused(dpop, resource, Request(label=what, key=other, mutate=_with_kid(kid)), rule=rule)))


@case(
    "as-primed-kid-binding",
    "Token endpoint binds a token to the proof's key, not to the key it saw before under the same kid",
    section="6.1",
    level=Level.MUST,
    actor="AS",
    requirement="R-6.1-1",
)
def test_token_endpoint_binds_the_key_not_a_kid_it_has_seen(dpop: DPoPSession, note: Any) -> None:
    """Sends: a token request whose proof's jwk (key A) carries a kid K, which primes a cache of thumbprints by
    kid; then a token request with a valid proof from key B whose jwk carries the same kid K.
    Expects: the second token bound to B (cnf.jkt = B's RFC 7638 thumbprint, §6.1), seen in a JWT access token
    or by introspection; a refusal of B is recorded as info. Skipped where the binding is not visible, or where
    the AS refuses a jwk with a kid.
    """
    dpop.require_authorization_server()
    kid = _primed_kid()
    first, second = generate_key(dpop.key.alg), generate_key(dpop.key.alg)
    primed = dpop.request_token(Request(label=f"token request, key A with kid {kid}", key=first, mutate=_with_kid(kid)))
    if not token_issued(primed.final):
        pytest.skip(f"the authorization server refuses a proof whose jwk carries a kid ({primed.final.as_cause()})")
    what = f"a token request with a valid proof from key B whose jwk reuses key A's kid {kid}"
    sent = between_controls(dpop, TOKEN, Request(label=what, key=second, mutate=_with_kid(kid)))
    if not token_issued(sent.final):
        raise Observation(f"{what}: no token ({sent.final.as_cause()}); nothing was bound to another key")
    view = dpop.grants.token_view(dpop.grants.tokens_or_error(sent).access_token)
    if view.claims is None:
        pytest.skip(f"the token's binding is not visible ({view.source})")
    cnf = view.claims.get("cnf")
    jkt = cnf.get("jkt") if isinstance(cnf, dict) else None
    if jkt != second.thumbprint():
        bound_to = "key A's thumbprint (the kid's first key)" if jkt == first.thumbprint() else repr(jkt)
        raise violation(
            what,
            f"the token bound to key B (cnf.jkt = {second.thumbprint()}, §6.1); it is bound to {bound_to}",
            sent.final,
            cause=f"{where(sent.final)} binds the token to {bound_to}, not to the key of the proof it was issued for",
            fix="bind each token to the RFC 7638 thumbprint of its own proof's jwk (§6.1), never to a key looked up "
            "by kid",
            exchanges=[*primed.exchanges, *sent.exchanges],
        )
    note("bound to the proof's key, whatever kid another key had used")


# --- a jti or a nonce a verified proof carried ---------------------------------------------------------------


def _signature_flipped(**claims: Any) -> ProofMutation:
    return lambda d: flip_signature_byte(d.with_claims(**claims).sign())


def _primed_params(what: str, cases: tuple[tuple[str, Endpoint], ...]) -> list[Any]:
    texts = {
        "jti": (
            "a proof with a broken signature that reuses the jti of a proof it accepted",
            "a valid request, then one whose proof reuses that proof's jti (a new iat) with one signature byte flipped",
            "Expects: a refusal of the second: its signature does not verify (§4.3 check 6), and it replays a jti "
            "(§11.1); a server that remembers verified proofs by jti must not hand the old verdict to a new proof.",
        ),
        "nonce": (
            "a proof with a broken signature that carries the nonce of a proof it accepted",
            "a valid request carrying the server's current nonce, then one whose proof carries the same nonce with "
            "one signature byte flipped",
            "Expects: a refusal of the second: its signature does not verify (§4.3 check 6); a nonce the server "
            "issued vouches for freshness (§8), never for a signature. Skipped where the server demands no nonce.",
        ),
    }
    title, sends, expects = texts[what]
    return [
        case_param(
            case_id,
            f"{endpoint.who} refuses {title}",
            endpoint,
            section="4.3",
            level=Level.MUST,
            actor=endpoint.actor,
            requirement="R-4.3-6",
            doc=f"Sends: {endpoint.request}: {sends}, between valid requests.\n{expects}",
        )
        for case_id, endpoint in cases
    ]


def _prime(dpop: DPoPSession, endpoint: Endpoint, label: str) -> dict[str, Any]:
    """A valid request at the endpoint: the claims of the proof it accepted."""
    sent = send_once(dpop, endpoint, Request(label=label))
    if not endpoint.accepted(sent) or not sent.final.proofs:
        raise prerequisite_failed(f"the priming request ({label})", sent)
    return peek_claims(sent.final.proofs[0]) or {}


#: what a proof with a broken signature breaks, whatever the server remembers of an earlier one
SIGNATURE_RULE = "§4.3 check 6: the signature verifies, for every proof, whatever a cache remembers"


@pytest.mark.parametrize(
    "endpoint", _primed_params("jti", (("as-primed-jti-signature", TOKEN), ("rs-primed-jti-signature", RESOURCE)))
)
def test_a_jti_it_has_seen_does_not_vouch_for_a_proof(dpop: DPoPSession, note: Any, endpoint: Endpoint) -> None:
    endpoint.require(dpop)
    jti = _prime(dpop, endpoint, "valid request (primes the jti)").get("jti")
    what = f"a proof reusing the jti {jti!r} of a proof just accepted, with one signature byte flipped"
    request = Request(label=what, mutate=_signature_flipped(jti=jti))
    note(refusal_note(refused(dpop, endpoint, request, rule=SIGNATURE_RULE)))


@pytest.mark.parametrize(
    "endpoint",
    _primed_params("nonce", (("as-primed-nonce-signature", TOKEN), ("rs-primed-nonce-signature", RESOURCE))),
)
def test_a_nonce_it_has_seen_does_not_vouch_for_a_proof(dpop: DPoPSession, note: Any, endpoint: Endpoint) -> None:
    endpoint.require(dpop)
    nonce = _prime(dpop, endpoint, "valid request (primes the nonce)").get("nonce")
    if not isinstance(nonce, str):
        pytest.skip("the server demands no nonce here: there is no nonce to prime a cache with")
    what = "a proof carrying the nonce of a proof just accepted, with one signature byte flipped"
    request = Request(label=what, mutate=_signature_flipped(nonce=nonce))
    note(refusal_note(refused(dpop, endpoint, request, rule=SIGNATURE_RULE)))
