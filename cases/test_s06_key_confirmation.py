"""RFC 9449 §6 Public Key Confirmation: the access token is bound to the proof's key (`cnf.jkt`)."""

from __future__ import annotations

from typing import Any

import pytest

from conformance.client.evidence import Exchange
from conformance.client.keys import KEY_TYPES, DPoPKey, generate_key, key_for, kty_of
from conformance.client.proof import ProofDraft
from conformance.client.request import Request
from conformance.jose import peek_claims
from conformance.judge.catalog import case, case_param
from conformance.judge.checks import answer, refusal_note, violation, where
from conformance.judge.endpoints import RESOURCE
from conformance.judge.key_binding import (
    OPTIONAL_MEMBER_SETS,
    advertised_algs,
    alg_of_type,
    other_key_like,
    signed_with_jwk,
    with_members,
)
from conformance.judge.negatives import accepted, refused
from conformance.judge.session import DPoPSession
from conformance.judge.verdicts import CouldNotJudge, Level, Observation

#: what to change when cnf.jkt is not the key's thumbprint
THUMBPRINT_FIX = (
    "set cnf.jkt to the RFC 7638 thumbprint of the proof's jwk: SHA-256 over its required members in lexicographic "
    "order, base64url without padding (§6.1)"
)
#: what to change when introspection does not show a fresh token
INTROSPECTION_FIX = (
    "check [authorization_server] introspection_endpoint in the target file, and that the [client] may introspect "
    "the AS's access tokens (RFC 7662)"
)
#: what a proof from another key than the bound one breaks at the resource
BINDING_RULE = "§6 and §4.3 check 12: the proof's public key matches the one the access token is bound to"


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
    token or in the introspection response: "The value of the jkt member MUST be the base64url encoding
    ... of the JWK SHA-256 Thumbprint ... of the DPoP public key" (§6.1). Info when neither shows the
    token's content, or when it shows no jkt at all: "Other methods of associating a public key with an
    access token are possible" (§6), and the resource-server key-swap cases judge the binding itself.
    """
    sent = dpop.request_token()
    tokens = dpop.grants.tokens_or_error(sent)
    expected = dpop.key.thumbprint()
    claims, source, exchanges = _visible_claims(dpop, tokens.access_token, sent.exchanges)
    final = exchanges[-1]
    cnf = claims.get("cnf")
    jkt = _jkt_or_observation(cnf, source, tokens.token_type)
    if jkt != expected:
        got = f"cnf={cnf!r}" if cnf is not None else "no cnf claim"
        raise violation(
            f"a token request with a proof whose jwk has thumbprint {expected}",
            f"cnf.jkt = {expected} in {source}; found {got}",
            final,
            cause=f"{where(sent.final)} issues a token whose cnf.jkt is {jkt!r}, not the RFC 7638 thumbprint of the "
            "proof's key",
            fix=THUMBPRINT_FIX,
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

    sent = dpop.request_token(
        Request(label="token request, jwk with kid, use and alg", key=key, mutate=with_extra_members)
    )
    tokens = dpop.grants.tokens_or_error(sent)
    claims, source, exchanges = _visible_claims(dpop, tokens.access_token, sent.exchanges)
    jkt = _jkt_or_observation(claims.get("cnf"), source, tokens.token_type)
    if jkt != key.thumbprint():
        raise violation(
            "a token request whose proof jwk carries kid, use and alg",
            f"cnf.jkt = {key.thumbprint()} (RFC 7638 over the required members only) in {source}; found {jkt!r}",
            exchanges[-1],
            cause=f"{where(sent.final)} issues cnf.jkt {jkt!r} for a jwk that carries kid, use and alg: not its "
            "RFC 7638 thumbprint",
            fix="compute the thumbprint over the key type's required members only, whatever else the jwk carries "
            "(RFC 7638 §3.2)",
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
    Expects: active true, token_type, if present, "DPoP" (§6.2: "If the token_type member is included in
    the introspection response, it MUST contain the value DPoP"), and a cnf.jkt, if present, equal to the
    proof key's thumbprint (§6.1 MUST); no cnf.jkt at all is info. Skipped without an introspection
    endpoint.
    """
    dpop.require_authorization_server()
    if not dpop.discovery.introspection_endpoint:
        pytest.skip("the target has no introspection endpoint (configured or in the metadata)")
    sent = dpop.request_token()
    tokens = dpop.grants.tokens_or_error(sent)
    introspection = dpop.grants.introspect(tokens.access_token)
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
            cause=f"{where(introspection)} does not answer active for a fresh access token ({answer(introspection)})",
            fix=INTROSPECTION_FIX,
        )
    cnf = body.get("cnf")
    jkt = cnf.get("jkt") if isinstance(cnf, dict) else None
    what = "an introspection request for a fresh DPoP-bound access token"
    token_type = body.get("token_type")
    if token_type is not None and str(token_type).lower() != "dpop":
        raise violation(
            what,
            f'token_type "DPoP" when present; found {token_type!r}',
            introspection,
            cause=f"{where(introspection)} gives token_type {token_type!r} for a DPoP-bound access token",
            fix='give token_type "DPoP" (or none) in the introspection response of a DPoP-bound token (§6.2)',
        )
    if jkt is None:
        raise Observation(
            f"the introspection response shows no cnf.jkt (cnf={cnf!r}); §6.2 conveys the hash with the same cnf "
            "content but states it without a BCP 14 keyword, so its absence is recorded"
        )
    if jkt != dpop.key.thumbprint():
        raise violation(
            what,
            f"cnf.jkt = {dpop.key.thumbprint()}; found cnf={cnf!r}",
            introspection,
            cause=f"{where(introspection)} gives cnf.jkt {jkt!r}, not the thumbprint of the key the token is bound to",
            fix=THUMBPRINT_FIX + "; introspection shows the same cnf (§6.2)",
        )
    note("introspection: active, cnf.jkt matches" + (f", token_type {token_type}" if token_type else ""))


def _jkt_or_observation(cnf: Any, source: str, token_type: str) -> Any:
    """The cnf.jkt to judge; Observation when there is none: the binding may be kept otherwise (§6)."""
    jkt = cnf.get("jkt") if isinstance(cnf, dict) else None
    if jkt is None:
        raise Observation(
            f"{source} carries no cnf.jkt (cnf={cnf!r}, token_type {token_type!r}): the AS may bind the token by "
            "other means (§6), or issue it unbound (§5 MAY); the resource-server key-swap cases judge the binding"
        )
    return jkt


def _visible_claims(
    dpop: DPoPSession, token: str, exchanges: list[Exchange]
) -> tuple[dict[str, Any], str, list[Exchange]]:
    """The token's claims (JWT or introspection); Observation when they cannot be seen."""
    view = dpop.grants.token_view(token)
    seen = [*exchanges, *([view.introspection] if view.introspection else [])]
    if view.introspection_failed:
        raise CouldNotJudge(view.source, exchanges=seen, cause=view.source, fix=INTROSPECTION_FIX)
    if view.claims is None:
        raise Observation(
            f"{view.source}, so its binding cannot be seen (add introspection_endpoint to [authorization_server])"
        )
    return view.claims, view.source, seen


# --- the binding for every key type, and jwk members that must not stand for the key (§6, §4.3 check 12) ----

_RS_BINDING = (
    '"Resource servers supporting DPoP MUST ensure that the public key from the DPoP proof matches the one '
    'bound to the access token" (§6)'
)


def _swap_params() -> list[Any]:
    return [
        case_param(
            case_id,
            f"Resource refuses a proof from another {kty} key than the {kty} key the token is bound to",
            kty,
            section="6",
            level=Level.MUST,
            actor="RS",
            requirement="R-6-1",
            doc=f"Sends: a token request with a proof from {kty} key A (an algorithm of that type the AS "
            f"advertises), then resource requests with that token: a valid one from A (control), then one "
            f"valid in every way (htm, htu, ath) but signed by another {kty} key B, with B in its jwk.\n"
            f"Expects: a refusal: {_RS_BINDING}, whatever the key type; a server that compares only EC keys "
            f"lets the swap through. Skipped when the AS advertises (or binds) no {kty} algorithm, or the "
            f"resource's challenge lists algs and none of type {kty}.",
        )
        for case_id, kty in (("rs-key-swap-rsa", "RSA"), ("rs-key-swap-okp", "OKP"))
    ]


@pytest.mark.parametrize("kty", _swap_params())
def test_key_swap_is_refused_for_every_key_type(dpop: DPoPSession, note: Any, kty: str) -> None:
    bound = dpop.grants.bound_token_for(key_for(alg_of_type(dpop, kty, at_resource=True)))
    other = other_key_like(bound.key)
    what = f"the token bound to {kty} key A with a valid {bound.key.alg} proof from {kty} key B"
    note(refusal_note(refused(dpop, RESOURCE.holding(bound), Request(label=what, key=other), rule=BINDING_RULE)))


@case(
    "rs-key-swap-other-type",
    "Resource refuses a proof from a key of another type than the bound key",
    section="6",
    level=Level.MUST,
    actor="RS",
    requirement="R-6-1",
)
def test_key_swap_to_another_key_type_is_refused(dpop: DPoPSession, note: Any) -> None:
    """Sends: the session's token (bound to its key A) with a proof valid in every way but signed by a key
    of each other type the AS advertises (an RSA key, an OKP key when A is EC), that key in its jwk.
    Expects: a refusal of each: the proof key must be the bound key (§6 MUST); a resource that compares
    the binding only for the bound key's type, or only for EC keys, lets another type through. Skipped
    when the AS advertises no other key type the suite can sign with.
    """
    dpop.require_authorization_server()
    bound = dpop.bound_token()
    own = kty_of(bound.key.alg)
    advertised = advertised_algs(dpop)
    others = [
        next(a for a in KEY_TYPES[kty] if advertised is None or a in advertised)
        for kty in KEY_TYPES
        if kty != own and any(advertised is None or a in advertised for a in KEY_TYPES[kty])
    ]
    if not others:
        pytest.skip(f"the authorization server advertises no key type other than {own} ({advertised})")
    for alg in others:
        what = f"the token bound to {own} key A with a valid proof from an {kty_of(alg)} key ({alg})"
        final = refused(dpop, RESOURCE.holding(bound), Request(label=what, key=key_for(alg)), rule=BINDING_RULE)
        note(f"{kty_of(alg)}: {refusal_note(final)}")


@case(
    "rs-key-swap-kid-of-bound-key",
    "Resource refuses a proof from another key whose jwk names the bound key by kid",
    section="6",
    level=Level.MUST,
    actor="RS",
    requirement="R-6-1",
)
def test_kid_naming_the_bound_key_is_no_key(dpop: DPoPSession, note: Any) -> None:
    """Sends: the token bound to key A with a proof valid in every way but signed by key B, whose jwk
    carries B's key with kid set to cnf.jkt (A's thumbprint), and then with kid, use and alg all as a
    client would set them for A.
    Expects: a refusal of each: the binding compares "the public key from the DPoP proof" (§6 MUST), the
    RFC 7638 thumbprint of its required members; a kid is a hint, never the key.
    """
    bound = dpop.bound_token()
    other = other_key_like(bound.key)
    variants = {
        "kid = the bound key's thumbprint (cnf.jkt)": with_members(other, ("kid",), kid=bound.key.thumbprint()),
        "kid, use and alg of the bound key": with_members(
            other, ("kid", "use", "alg"), kid=bound.key.thumbprint(), alg=bound.key.alg
        ),
    }
    for text, jwk in variants.items():
        what = f"the token bound to key A with a valid proof signed by key B, its jwk B's key with {text}"
        rule = BINDING_RULE + ": the RFC 7638 thumbprint of the proof's jwk, which leaves kid out"
        final = refused(
            dpop, RESOURCE.holding(bound), Request(label=what, key=other, mutate=signed_with_jwk(jwk)), rule=rule
        )
        note(f"{text}: {refusal_note(final)}")


@case(
    "rs-jwk-optional-members-accepted",
    "Resource accepts a proof from the bound key whose jwk carries optional members (kid, use, alg, key_ops)",
    section="6",
    level=Level.MUST,
    actor="RS",
    requirement="R-6-1",
)
def test_optional_jwk_members_do_not_change_the_key(dpop: DPoPSession, note: Any) -> None:
    """Sends: the session's token with valid proofs from the bound key whose jwk also carries kid, use and
    alg, then kid, key_ops and alg (RFC 7517 §4.3: use and key_ops "SHOULD NOT be used together").
    Expects: a 2xx answer to each: the thumbprint covers "only the required members of a key's
    representation" (RFC 7638 §3.2), so optional members leave the key, and its binding, as they were;
    a resource that hashes the jwk as received refuses the bound key.
    """
    bound = dpop.bound_token()
    for names in OPTIONAL_MEMBER_SETS:
        jwk = with_members(bound.key, names)
        what = f"a valid request whose proof's jwk (the bound key) also carries {', '.join(names)}"
        rule = "RFC 7638 §3.2: the thumbprint covers only the required members, so optional ones leave the key as is"
        final = accepted(dpop, RESOURCE.holding(bound), Request(label=what, mutate=signed_with_jwk(jwk)), rule=rule)
        note(f"{', '.join(names)}: accepted with HTTP {final.status}")


@case(
    "as-jkt-every-key-type",
    "cnf.jkt is the RFC 7638 thumbprint for every key type, whatever optional members the jwk carries",
    section="6.1",
    level=Level.MUST,
    actor="AS",
    requirement="R-6.1-1",
)
def test_thumbprint_for_every_key_type(dpop: DPoPSession, note: Any) -> None:
    """Sends: for each key type (EC, RSA, OKP) with an algorithm the AS advertises, token requests whose
    proof's jwk also carries kid, use and alg, then kid, key_ops and alg.
    Expects: cnf.jkt equal to the RFC 7638 thumbprint each time: "The value of the jkt member MUST be the
    base64url encoding ... of the JWK SHA-256 Thumbprint" (§6.1), which uses only the required members of
    the key type (RFC 7638 §3.2: crv, kty, x, y for EC; e, kty, n for RSA; crv, kty, x for OKP). Info
    when neither the JWT nor introspection shows the token's content, or it shows no jkt.
    """
    dpop.require_authorization_server()
    advertised = advertised_algs(dpop)
    checked, refused = [], []
    for kty, algs in KEY_TYPES.items():
        alg = next((a for a in algs if advertised is None or a in advertised), None)
        if alg is None:
            continue
        if _jkt_is_canonical(dpop, key_for(alg)):
            checked.append(kty)
        else:
            refused.append(alg)
    if refused:
        note(f"not judged (the AS refused the proof; as-advertised-algs-accepted judges that): {', '.join(refused)}")
    if not checked:
        pytest.skip("the authorization server bound no token to a key of any type the suite can sign with")
    note(f"cnf.jkt is the canonical thumbprint for {', '.join(checked)} keys with optional jwk members")


def _jkt_is_canonical(dpop: DPoPSession, key: DPoPKey) -> bool:
    """Token requests with optional jwk members; False when the AS refuses the proof as a proof."""
    for names in OPTIONAL_MEMBER_SETS:
        label = f"token request, {key.alg} proof whose jwk carries {', '.join(names)}"
        sent = dpop.request_token(Request(label=label, key=key, mutate=signed_with_jwk(with_members(key, names))))
        if sent.final.status == 400 and sent.final.json_object().get("error") == "invalid_dpop_proof":
            return False
        tokens = dpop.grants.tokens_or_error(sent)
        claims, source, exchanges = _visible_claims(dpop, tokens.access_token, sent.exchanges)
        jkt = _jkt_or_observation(claims.get("cnf"), source, tokens.token_type)
        if jkt != key.thumbprint():
            kty = kty_of(key.alg)
            raise violation(
                f"a token request whose {key.alg} proof's jwk carries {', '.join(names)}",
                f"cnf.jkt = {key.thumbprint()} (RFC 7638, the {kty} required members only) in {source}; found {jkt!r}",
                exchanges[-1],
                cause=f"{where(sent.final)} issues cnf.jkt {jkt!r} for an {kty} key whose jwk carries "
                f"{', '.join(names)}: not its RFC 7638 thumbprint",
                fix=f"compute the thumbprint over the {kty} key's required members only (RFC 7638 §3.2: crv, kty, "
                "x, y for EC; e, kty, n for RSA; crv, kty, x for OKP)",
                exchanges=exchanges,
            )
    return True
